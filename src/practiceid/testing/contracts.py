"""Contract suites: the behaviour every adapter of a port must show. Imports pytest.

Subclass a contract in your own test suite, in a class whose name starts with ``Test``, and
implement its factory; pytest then runs every contract test against your adapter (call
``pytest.register_assert_rewrite("practiceid.testing.contracts")`` in your ``conftest.py``
for detailed assertion messages)::

    from practiceid.testing.contracts import UserRepositoryContract


    class TestMyUserRepository(UserRepositoryContract):
        def make_unit_of_work_factory(self):
            return MyStore(fresh_database()).unit_of_work

Each call of ``make_unit_of_work_factory`` must return a callable that makes units of work
over one *empty* store of its own (a new in-memory store, a truncated schema, …). The
contract classes' names do not start with ``Test``, so pytest does not collect them on
their own. Changes to the suites are announced in ``CHANGELOG.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from practiceid.errors import (
    DuplicateEmail,
    DuplicateLogin,
    DuplicateUserId,
    PasswordMismatch,
    PermissionDenied,
    StaleUser,
    UnitOfWorkError,
    UnsupportedPasswordHash,
    UserNotFound,
)
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.users import UnitOfWorkFactory
from practiceid.testing import sample_user
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "AuthorizerContract",
    "ClockContract",
    "PasswordHasherContract",
    "UserRepositoryContract",
]

_THREADS = 16


class UserRepositoryContract:
    """The :class:`~practiceid.ports.UserRepository` and unit-of-work contract (A1, A2, A6)."""

    def make_unit_of_work_factory(self) -> UnitOfWorkFactory:
        """Return a factory of units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _add(factory: UnitOfWorkFactory, *users: User) -> None:
        with factory() as uow:
            for user in users:
                uow.users.add(user)
            uow.commit()

    @staticmethod
    def _all(factory: UnitOfWorkFactory) -> list[User]:
        with factory() as uow:
            return list(uow.users.list())

    # -- add and read ---------------------------------------------------------------------

    def test_added_user_reads_back_equal_by_id_login_and_email(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = sample_user(password_hash="$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA")
        self._add(uow_factory, user)
        with uow_factory() as uow:
            assert uow.users.get(user.id) == user
            assert uow.users.find_by_login(Login(user.login.display.upper())) == user
            assert uow.users.find_by_email(EmailAddress(user.email.address.upper())) == user

    def test_stored_user_keeps_display_forms_hash_and_aware_creation_time(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        created = datetime(2026, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)
        user = sample_user(
            login=Login("Dr.Édith-O'Neil"),
            email=EmailAddress("Edith.ONeil@Cabinet-Exemple.be"),
            first_name="Édith",
            last_name="O'Neil",
            job_title="Dentiste",
            created_at=created,
            password_hash="$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
        )
        self._add(uow_factory, user)
        with uow_factory() as uow:
            stored = uow.users.get(user.id)
        assert stored.login.display == "Dr.Édith-O'Neil"
        assert stored.email.address == "Edith.ONeil@Cabinet-Exemple.be"
        assert (stored.first_name, stored.last_name, stored.job_title) == (
            "Édith",
            "O'Neil",
            "Dentiste",
        )
        assert stored.password_hash == user.password_hash
        assert stored.created_at == created
        assert stored.created_at.tzinfo is not None

    def test_unknown_id_raises_user_not_found(self, uow_factory: UnitOfWorkFactory) -> None:
        with uow_factory() as uow, pytest.raises(UserNotFound):
            uow.users.get(UserId("nobody"))

    def test_unknown_login_and_email_find_nothing(self, uow_factory: UnitOfWorkFactory) -> None:
        with uow_factory() as uow:
            assert uow.users.find_by_login(Login("nobody")) is None
            assert uow.users.find_by_email(EmailAddress("nobody@cabinet-exemple.be")) is None

    # -- uniqueness (A1, A2) --------------------------------------------------------------

    def test_same_login_in_another_case_raises_duplicate_login(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        first = sample_user(login=Login("dr.dupont"))
        self._add(uow_factory, first)
        with uow_factory() as uow, pytest.raises(DuplicateLogin) as raised:
            uow.users.add(sample_user(login=Login("DR.DUPONT")))
        assert raised.value.code == "user.duplicate_login"

    def test_same_email_in_another_case_raises_duplicate_email(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        self._add(uow_factory, sample_user(email=EmailAddress("dr.dupont@cabinet.be")))
        with uow_factory() as uow, pytest.raises(DuplicateEmail) as raised:
            uow.users.add(sample_user(email=EmailAddress("Dr.Dupont@Cabinet.BE")))
        assert raised.value.code == "user.duplicate_email"

    def test_login_collision_is_reported_before_email_collision(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        first = sample_user()
        self._add(uow_factory, first)
        with uow_factory() as uow, pytest.raises(DuplicateLogin):
            uow.users.add(sample_user(login=first.login, email=first.email))

    def test_same_id_raises_duplicate_user_id(self, uow_factory: UnitOfWorkFactory) -> None:
        first = sample_user()
        self._add(uow_factory, first)
        with uow_factory() as uow, pytest.raises(DuplicateUserId):
            uow.users.add(sample_user(id=first.id))

    def test_duplicate_within_one_unit_of_work_is_refused(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow:
            uow.users.add(sample_user(login=Login("same")))
            with pytest.raises(DuplicateLogin):
                uow.users.add(sample_user(login=Login("SAME")))

    def test_refused_add_leaves_stored_users_unchanged(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        first = sample_user()
        self._add(uow_factory, first)
        with uow_factory() as uow:
            with pytest.raises(DuplicateEmail):
                uow.users.add(sample_user(email=first.email))
            uow.commit()
        assert self._all(uow_factory) == [first]

    # -- transactions ---------------------------------------------------------------------

    def test_leaving_without_commit_discards_the_add(self, uow_factory: UnitOfWorkFactory) -> None:
        with uow_factory() as uow:
            uow.users.add(sample_user())
        assert self._all(uow_factory) == []

    def test_rollback_discards_changes_made_since_the_last_commit(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        kept, dropped = sample_user(), sample_user()
        with uow_factory() as uow:
            uow.users.add(kept)
            uow.commit()
            uow.users.add(dropped)
            uow.users.update(kept.deactivate())
            uow.rollback()
        assert self._all(uow_factory) == [kept]

    def test_an_exception_inside_the_block_rolls_back(self, uow_factory: UnitOfWorkFactory) -> None:
        class Boom(Exception):
            pass

        with pytest.raises(Boom), uow_factory() as uow:
            uow.users.add(sample_user())
            raise Boom
        assert self._all(uow_factory) == []

    def test_repository_outside_its_unit_of_work_raises(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        uow = uow_factory()
        with pytest.raises(UnitOfWorkError):
            uow.users.list()
        with uow:
            pass
        with pytest.raises(UnitOfWorkError):
            uow.users.add(sample_user())

    # -- update ---------------------------------------------------------------------------

    def test_update_returns_the_stored_user_with_the_next_version(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = sample_user()
        self._add(uow_factory, user)
        with uow_factory() as uow:
            stored = uow.users.update(user.deactivate())
            uow.commit()
        assert stored == attrs.evolve(user, status=UserStatus.DEACTIVATED, version=1)
        with uow_factory() as uow:
            assert uow.users.get(user.id) == stored

    def test_update_from_a_stale_read_raises_stale_user(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = sample_user()
        self._add(uow_factory, user)
        with uow_factory() as uow:
            uow.users.update(user.deactivate())
            uow.commit()
        with uow_factory() as uow, pytest.raises(StaleUser):
            uow.users.update(user.with_login(Login("someone.else")))

    def test_update_of_an_unknown_user_raises_user_not_found(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow, pytest.raises(UserNotFound):
            uow.users.update(sample_user())

    def test_update_to_a_taken_login_or_email_is_refused_and_changes_nothing(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        first, second = sample_user(), sample_user()
        self._add(uow_factory, first, second)
        with uow_factory() as uow:
            with pytest.raises(DuplicateLogin):
                uow.users.update(second.with_login(Login(first.login.display.upper())))
            with pytest.raises(DuplicateEmail):
                uow.users.update(second.with_email(first.email))
            uow.commit()
        assert sorted(self._all(uow_factory), key=lambda u: u.id) == sorted(
            [first, second], key=lambda u: u.id
        )

    def test_update_keeping_own_login_in_another_case_is_allowed(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = sample_user(login=Login("dr.dupont"))
        self._add(uow_factory, user)
        with uow_factory() as uow:
            stored = uow.users.update(user.with_login(Login("Dr.Dupont")))
            uow.commit()
        assert stored.login.display == "Dr.Dupont"

    def test_an_old_login_and_email_are_free_once_changed(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        user = sample_user()
        self._add(uow_factory, user)
        with uow_factory() as uow:
            uow.users.update(
                user.with_login(Login("renamed")).with_email(
                    EmailAddress("renamed@cabinet-exemple.be")
                )
            )
            uow.commit()
        newcomer = sample_user(login=user.login, email=user.email)
        self._add(uow_factory, newcomer)
        with uow_factory() as uow:
            assert uow.users.find_by_login(user.login) == newcomer

    # -- listing (D2 will filter by status) ------------------------------------------------

    def test_list_filters_by_status_and_orders_by_login_key(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        b = sample_user(login=Login("Bravo"))
        a = sample_user(login=Login("alpha"))
        c = sample_user(login=Login("charlie"), status=UserStatus.DEACTIVATED)
        self._add(uow_factory, b, c, a)
        with uow_factory() as uow:
            assert [u.login.display for u in uow.users.list()] == ["alpha", "Bravo", "charlie"]
            assert uow.users.list(status=UserStatus.DEACTIVATED) == [c]
            assert uow.users.list(status=UserStatus.ACTIVE) == [a, b]

    # -- concurrency (A2: two admins at once) ----------------------------------------------

    def _race(self, factory: UnitOfWorkFactory, make: Callable[[int], User]) -> list[object]:
        barrier = threading.Barrier(_THREADS)
        results: list[object] = [None] * _THREADS

        def attempt(i: int) -> None:
            user = make(i)
            barrier.wait()
            try:
                with factory() as uow:
                    uow.users.add(user)
                    uow.commit()
            except Exception as error:  # noqa: BLE001 - the test inspects what was raised
                results[i] = error
            else:
                results[i] = user

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def test_sixteen_concurrent_adds_of_one_email_have_exactly_one_winner(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        results = self._race(
            uow_factory,
            lambda i: sample_user(
                email=EmailAddress("Dr.Dupont@Cabinet.be" if i % 2 else "dr.dupont@cabinet.BE")
            ),
        )
        winners = [r for r in results if isinstance(r, User)]
        refusals = [r for r in results if isinstance(r, DuplicateEmail)]
        assert len(winners) == 1
        assert len(refusals) == _THREADS - 1
        assert self._all(uow_factory) == winners

    def test_sixteen_concurrent_adds_of_one_login_have_exactly_one_winner(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        results = self._race(
            uow_factory, lambda i: sample_user(login=Login("dr.martin" if i % 2 else "DR.MARTIN"))
        )
        assert sum(isinstance(r, User) for r in results) == 1
        assert sum(isinstance(r, DuplicateLogin) for r in results) == _THREADS - 1

    # -- against a model ------------------------------------------------------------------

    def test_behaves_like_a_dictionary_under_random_operations(self) -> None:
        machine = _user_repository_machine(self.make_unit_of_work_factory)
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


_LOGINS = ("alpha", "ALPHA", "bravo", "Bravo", "charlie", "ｃｈａｒｌｉｅ")
_EMAILS = ("a@cabinet.be", "A@Cabinet.BE", "b@cabinet.be", "c@cabinet.be", "C@CABINET.be")


def _user_repository_machine(
    make_factory: Callable[[], UnitOfWorkFactory],
) -> type[RuleBasedStateMachine]:
    """A state machine that checks a repository against a dict, one fresh store per run."""

    class UserRepositoryMachine(RuleBasedStateMachine):
        ids = Bundle("ids")

        def __init__(self) -> None:
            super().__init__()
            self.factory = make_factory()
            self.model: dict[UserId, User] = {}
            self.counter = 0

        def _key_owner(self, user: User) -> type[Exception] | None:
            for other in self.model.values():
                if other.id != user.id and other.login == user.login:
                    return DuplicateLogin
            for other in self.model.values():
                if other.id != user.id and other.email == user.email:
                    return DuplicateEmail
            return None

        @rule(
            target=ids,
            login=st.sampled_from(_LOGINS),
            email=st.sampled_from(_EMAILS),
            commit=st.booleans(),
        )
        def add(self, login: str, email: str, *, commit: bool) -> UserId:
            self.counter += 1
            user = sample_user(
                id=UserId(f"m-{self.counter}"),
                login=Login(login),
                email=EmailAddress(email),
            )
            expected = self._key_owner(user)
            with self.factory() as uow:
                if expected is None:
                    uow.users.add(user)
                    if commit:
                        uow.commit()
                        self.model[user.id] = user
                else:
                    with pytest.raises(expected):
                        uow.users.add(user)
            return user.id

        @rule(
            user_id=ids,
            login=st.sampled_from(_LOGINS),
            email=st.sampled_from(_EMAILS),
            deactivate=st.booleans(),
        )
        def update(self, user_id: UserId, login: str, email: str, *, deactivate: bool) -> None:
            current = self.model.get(user_id)
            with self.factory() as uow:
                if current is None:
                    with pytest.raises(UserNotFound):
                        uow.users.get(user_id)
                    return
                changed = current.with_login(Login(login)).with_email(EmailAddress(email))
                if deactivate:
                    changed = changed.deactivate()
                expected = self._key_owner(changed)
                if expected is None:
                    stored = uow.users.update(changed)
                    uow.commit()
                    assert stored == attrs.evolve(changed, version=current.version + 1)
                    self.model[user_id] = stored
                else:
                    with pytest.raises(expected):
                        uow.users.update(changed)

        @rule(user_id=ids)
        def stale_update_is_refused(self, user_id: UserId) -> None:
            current = self.model.get(user_id)
            if current is None or current.version == 0:
                return
            stale = attrs.evolve(current, version=current.version - 1)
            with self.factory() as uow, pytest.raises(StaleUser):
                uow.users.update(stale)

        @invariant()
        def store_matches_model(self) -> None:
            with self.factory() as uow:
                stored = {u.id: u for u in uow.users.list()}
                assert stored == self.model
                for user in self.model.values():
                    assert uow.users.find_by_login(user.login) == user
                    assert uow.users.find_by_email(user.email) == user

    return UserRepositoryMachine


class PasswordHasherContract:
    """The :class:`~practiceid.ports.PasswordHasher` contract, for a host's own hasher.

    Implement ``make_hasher`` (cheap parameters are fine) and, if your format cannot be
    confused with it, leave ``foreign_hash`` as an Argon2i string.
    """

    foreign_hash = "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"

    def make_hasher(self) -> PasswordHasher:
        """Return the hasher under test."""
        raise NotImplementedError

    @pytest.fixture
    def hasher(self) -> PasswordHasher:
        """The hasher under test."""
        return self.make_hasher()

    def test_a_fresh_hash_verifies_and_needs_no_rehash(self, hasher: PasswordHasher) -> None:
        stored = hasher.hash("Vrai-Cheval-Agrafe-42")
        assert hasher.recognizes(stored)
        # A hasher that returns True/False instead of raising would be ignored by callers.
        assert hasher.verify(stored, "Vrai-Cheval-Agrafe-42") is None  # type: ignore[func-returns-value]
        assert hasher.needs_rehash(stored) is False

    def test_a_wrong_password_raises_password_mismatch(self, hasher: PasswordHasher) -> None:
        stored = hasher.hash("Vrai-Cheval-Agrafe-42")
        for wrong in ("Vrai-Cheval-Agrafe-43", "vrai-cheval-agrafe-42", "", "Vrai-Cheval"):
            with pytest.raises(PasswordMismatch):
                hasher.verify(stored, wrong)

    def test_hashes_are_salted(self, hasher: PasswordHasher) -> None:
        assert hasher.hash("Vrai-Cheval-Agrafe-42") != hasher.hash("Vrai-Cheval-Agrafe-42")

    def test_the_stored_hash_never_contains_the_password(self, hasher: PasswordHasher) -> None:
        assert "Agrafe" not in hasher.hash("Vrai-Cheval-Agrafe-42")

    def test_a_foreign_format_raises_unsupported_password_hash(
        self, hasher: PasswordHasher
    ) -> None:
        assert hasher.recognizes(self.foreign_hash) is False
        with pytest.raises(UnsupportedPasswordHash):
            hasher.verify(self.foreign_hash, "Vrai-Cheval-Agrafe-42")
        with pytest.raises(UnsupportedPasswordHash):
            hasher.needs_rehash(self.foreign_hash)

    def test_non_ascii_passwords_round_trip(self, hasher: PasswordHasher) -> None:
        for password in ("Café-été-٣-€", "中文密码很长很长", "😴 emoji pass 😴"):
            hasher.verify(hasher.hash(password), password)

    def test_errors_never_carry_the_password(self, hasher: PasswordHasher) -> None:
        stored = hasher.hash("Vrai-Cheval-Agrafe-42")
        with pytest.raises(PasswordMismatch) as raised:
            hasher.verify(stored, "Secret-Guess-99")
        assert "Secret-Guess" not in repr(raised.value.to_dict()) + str(raised.value)


class ClockContract:
    """The :class:`~practiceid.ports.Clock` contract: aware datetimes that never go back."""

    def make_clock(self) -> Clock:
        """Return the clock under test."""
        raise NotImplementedError

    def test_now_is_timezone_aware_and_does_not_go_back(self) -> None:
        clock = self.make_clock()
        first = clock.now()
        second = clock.now()
        assert first.tzinfo is not None
        assert first.utcoffset() is not None
        assert second >= first


class AuthorizerContract:
    """The :class:`~practiceid.ports.Authorizer` contract.

    Implement ``make_authorizer`` returning an authorizer in which ``actor`` holds exactly
    ``permissions`` over every user, and nobody else holds anything.
    """

    actor = UserId("contract-actor")
    stranger = UserId("contract-stranger")
    target = UserId("contract-target")

    def make_authorizer(self, actor: UserId, permissions: frozenset[Permission]) -> Authorizer:
        """Return an authorizer granting ``permissions`` to ``actor`` only."""
        raise NotImplementedError

    def test_a_granted_permission_returns_none(self) -> None:
        authorizer = self.make_authorizer(self.actor, frozenset({Permission.CHANGE_EMAIL}))
        decision = authorizer.require(self.actor, Permission.CHANGE_EMAIL, target=self.target)  # type: ignore[func-returns-value]
        assert decision is None  # a bool here would be ignored by every caller

    def test_a_missing_permission_raises_with_its_code(self) -> None:
        authorizer = self.make_authorizer(self.actor, frozenset({Permission.CHANGE_LOGIN}))
        with pytest.raises(PermissionDenied) as raised:
            authorizer.require(self.actor, Permission.CHANGE_EMAIL, target=self.target)
        assert raised.value.params["permission"] == Permission.CHANGE_EMAIL.value

    def test_someone_elses_grant_does_not_count(self) -> None:
        authorizer = self.make_authorizer(self.actor, frozenset(Permission))
        with pytest.raises(PermissionDenied):
            authorizer.require(self.stranger, Permission.CHANGE_EMAIL, target=self.target)
