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
    DuplicateMembership,
    DuplicateRecord,
    DuplicateUserId,
    EstablishmentNotFound,
    MembershipNotFound,
    OrganisationNotFound,
    PasswordMismatch,
    PermissionDenied,
    StaleRecord,
    StaleUser,
    UnitOfWorkError,
    UnsupportedPasswordHash,
    UserNotFound,
)
from practiceid.establishments import (
    Department,
    DepartmentId,
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
    Role,
    RoleId,
)
from practiceid.memberships import Delegation, Membership, MembershipStatus
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.establishments import AccessUnitOfWorkFactory
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.users import UnitOfWorkFactory
from practiceid.testing import sample_user
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "AccessRepositoriesContract",
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


_OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_ORG = OrganisationId("org-tilleuls")
_OTHER_ORG = OrganisationId("org-sud")
_EST = EstablishmentId("est-tilleuls")
_BARRIER_TIMEOUT = 60.0

_Record = User | Organisation | Establishment | Membership


def _organisation(
    organisation_id: OrganisationId = _ORG, *, owner: UserId, name: str = "Groupe des Tilleuls"
) -> Organisation:
    return Organisation.found(organisation_id, name=name, owner=owner, created_at=_OPENED)


def _establishment(
    establishment_id: EstablishmentId = _EST,
    *,
    organisation_id: OrganisationId = _ORG,
    name: str = "Cabinet des Tilleuls",
) -> Establishment:
    return Establishment.open(
        establishment_id,
        organisation_id=organisation_id,
        name=name,
        product=ProductKind.GENERAL_PRACTICE,
        created_at=_OPENED,
    )


def _membership(
    user_id: UserId, establishment_id: EstablishmentId = _EST, *roles: str
) -> Membership:
    return Membership.join(
        user_id,
        establishment_id,
        roles=[RoleId(r) for r in roles or ("physician",)],
        created_at=_OPENED,
    )


class AccessRepositoriesContract:
    """The organisation, establishment and membership repositories of an access unit of work.

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.AccessUnitOfWork` over one fresh, empty store. The suite stores
    the users, organisation and establishment a record refers to before the record itself, so
    an adapter may enforce foreign keys.
    """

    def make_unit_of_work_factory(self) -> AccessUnitOfWorkFactory:
        """Return a factory of access units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> AccessUnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _add(factory: AccessUnitOfWorkFactory, *records: _Record) -> None:
        """Store ``records``, in order, in one committed unit of work."""
        with factory() as uow:
            for record in records:
                if isinstance(record, User):
                    uow.users.add(record)
                elif isinstance(record, Organisation):
                    uow.organisations.add(record)
                elif isinstance(record, Establishment):
                    uow.establishments.add(record)
                else:
                    uow.memberships.add(record)
            uow.commit()

    def _practice(self, factory: AccessUnitOfWorkFactory, *members: User) -> Establishment:
        """Store an owner, the organisation, the establishment :data:`_EST` and ``members``."""
        owner = sample_user(id=UserId("owner"))
        establishment = _establishment()
        self._add(factory, owner, _organisation(owner=owner.id), establishment, *members)
        return establishment

    @staticmethod
    def _race(attempt: Callable[[int, threading.Barrier], object]) -> list[object]:
        """Run ``attempt`` in 16 threads; return what each returned or raised."""
        barrier = threading.Barrier(_THREADS, timeout=_BARRIER_TIMEOUT)
        results: list[object] = [None] * _THREADS

        def run(i: int) -> None:
            try:
                results[i] = attempt(i, barrier)
            except Exception as error:  # noqa: BLE001 - the test inspects what was raised
                results[i] = error

        threads = [threading.Thread(target=run, args=(i,)) for i in range(_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    # -- add and read ---------------------------------------------------------------------

    def test_added_organisation_reads_back_equal(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner, co_owner = sample_user(), sample_user()
        organisation = _organisation(owner=owner.id, name="Groupe médical Saint-Éloi")
        organisation = organisation.with_owners({owner.id, co_owner.id})
        self._add(uow_factory, owner, co_owner, organisation)
        with uow_factory() as uow:
            stored = uow.organisations.get(organisation.id)
        assert stored == organisation
        assert stored.owners == {owner.id, co_owner.id}
        assert stored.created_at == _OPENED
        assert stored.created_at.tzinfo is not None

    def test_added_establishment_reads_back_equal_with_its_roles_and_departments(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner = sample_user()
        coordinator = Role.custom(
            "Coordinatrice de soins",
            [Permission.USERS_VIEW, Permission.AGENDA_MANAGE],
            role_id=RoleId("coordinator"),
        )
        paediatrics = Department.create(
            "Pédiatrie", ["ehr.integration", "dmp.send"], department_id=DepartmentId("paediatrics")
        )
        establishment = (
            _establishment(name="Maison médicale d'Écaussinnes")
            .with_role(coordinator)
            .with_department(paediatrics)
            .with_department(Department.create("Accueil", department_id=DepartmentId("desk")))
        )
        self._add(uow_factory, owner, _organisation(owner=owner.id), establishment)
        with uow_factory() as uow:
            stored = uow.establishments.get(establishment.id)
        assert stored == establishment
        assert stored.roles == establishment.roles  # every template and custom role, in order
        assert stored.role(RoleId("coordinator")) == coordinator
        assert stored.role(RoleId("administrator")).administrator is True
        assert [d.id for d in stored.departments] == ["paediatrics", "desk"]
        assert stored.department(DepartmentId("paediatrics")).features == {
            "ehr.integration",
            "dmp.send",
        }
        assert stored.created_at.tzinfo is not None

    def test_added_membership_reads_back_equal_through_get_and_find(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        secretary, physician = sample_user(), sample_user()
        establishment = self._practice(uow_factory, secretary, physician)
        establishment = establishment.with_department(
            Department.create("Cardiologie", department_id=DepartmentId("cardio"))
        )
        with uow_factory() as uow:
            uow.establishments.update(establishment)
            uow.commit()
        membership = (
            _membership(secretary.id, establishment.id, "secretary", "trainee")
            .with_departments([DepartmentId("cardio")])
            .with_delegations([Delegation(physician.id, inherit_features=False)])
            .with_features(["labs.orders"])
        )
        membership = attrs.evolve(membership, created_account=True)
        self._add(uow_factory, _membership(physician.id), membership)
        with uow_factory() as uow:
            assert uow.memberships.get(establishment.id, secretary.id) == membership
            assert uow.memberships.find(establishment.id, secretary.id) == membership

    def test_unknown_membership_is_found_as_none_and_get_raises_membership_not_found(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member, stranger = sample_user(), sample_user()
        self._practice(uow_factory, member, stranger)
        self._add(uow_factory, _membership(member.id))
        with uow_factory() as uow:
            assert uow.memberships.find(_EST, stranger.id) is None
            assert uow.memberships.find(EstablishmentId("est-nowhere"), member.id) is None
            with pytest.raises(MembershipNotFound) as raised:
                uow.memberships.get(_EST, stranger.id)
        assert raised.value.code == "membership.not_found"
        assert raised.value.params["establishment_id"] == _EST
        assert raised.value.params["user_id"] == stranger.id

    def test_unknown_organisation_and_establishment_ids_raise_their_not_found(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow:
            with pytest.raises(OrganisationNotFound):
                uow.organisations.get(OrganisationId("org-nowhere"))
            with pytest.raises(EstablishmentNotFound):
                uow.establishments.get(EstablishmentId("est-nowhere"))

    # -- uniqueness -----------------------------------------------------------------------

    def test_taken_organisation_id_raises_duplicate_record_for_organisation(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner = sample_user()
        self._add(uow_factory, owner, _organisation(owner=owner.id))
        with uow_factory() as uow, pytest.raises(DuplicateRecord) as raised:
            uow.organisations.add(_organisation(owner=owner.id, name="Autre groupe"))
        assert raised.value.code == "record.duplicate"
        assert raised.value.params["entity"] == "organisation"
        assert raised.value.params["id"] == _ORG

    def test_taken_establishment_id_raises_duplicate_record_for_establishment(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        with uow_factory() as uow, pytest.raises(DuplicateRecord) as raised:
            uow.establishments.add(_establishment(name="Autre cabinet"))
        assert raised.value.code == "record.duplicate"
        assert raised.value.params["entity"] == "establishment"
        assert raised.value.params["id"] == _EST

    def test_second_membership_of_a_pair_raises_duplicate_membership_active_or_not(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        first = _membership(member.id, _EST, "physician")
        self._add(uow_factory, first)
        with uow_factory() as uow, pytest.raises(DuplicateMembership) as raised:
            uow.memberships.add(_membership(member.id, _EST, "secretary"))
        assert raised.value.code == "membership.duplicate"
        assert isinstance(raised.value, DuplicateRecord)
        with uow_factory() as uow:
            uow.memberships.update(first.deactivate())
            uow.commit()
        with uow_factory() as uow, pytest.raises(DuplicateMembership):
            uow.memberships.add(_membership(member.id, _EST, "secretary"))

    def test_duplicate_membership_within_one_unit_of_work_is_refused(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        with uow_factory() as uow:
            uow.memberships.add(_membership(member.id))
            with pytest.raises(DuplicateMembership):
                uow.memberships.add(_membership(member.id, _EST, "trainee"))

    def test_one_user_may_be_a_member_of_several_establishments(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        second = _establishment(EstablishmentId("est-annexe"), name="Annexe des Tilleuls")
        self._add(uow_factory, second, _membership(member.id), _membership(member.id, second.id))
        with uow_factory() as uow:
            assert len(uow.memberships.list_for_user(member.id)) == 2

    def test_refused_adds_leave_every_stored_record_unchanged(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        establishment = self._practice(uow_factory, member)
        membership = _membership(member.id)
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            organisation = uow.organisations.get(_ORG)
            with pytest.raises(DuplicateRecord):
                uow.organisations.add(_organisation(owner=member.id, name="Autre groupe"))
            with pytest.raises(DuplicateRecord):
                uow.establishments.add(_establishment(name="Autre cabinet"))
            with pytest.raises(DuplicateMembership):
                uow.memberships.add(_membership(member.id, _EST, "secretary"))
            uow.commit()
        with uow_factory() as uow:
            assert uow.organisations.get(_ORG) == organisation
            assert uow.establishments.list() == [establishment]
            assert uow.memberships.list_for_establishment(_EST) == [membership]
            assert uow.memberships.list_for_user(member.id) == [membership]

    # -- update ---------------------------------------------------------------------------

    def test_organisation_update_returns_and_stores_the_next_version(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner, co_owner = sample_user(), sample_user()
        organisation = _organisation(owner=owner.id)
        self._add(uow_factory, owner, co_owner, organisation)
        with uow_factory() as uow:
            stored = uow.organisations.update(organisation.with_owners({owner.id, co_owner.id}))
            uow.commit()
        assert stored == attrs.evolve(organisation, owners={owner.id, co_owner.id}, version=1)
        with uow_factory() as uow:
            assert uow.organisations.get(_ORG) == stored

    def test_establishment_update_returns_and_stores_the_next_version(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        establishment = self._practice(uow_factory)
        changed = establishment.with_role(
            Role.custom("Kinésithérapeute", [Permission.AGENDA_VIEW], role_id=RoleId("physio"))
        )
        with uow_factory() as uow:
            stored = uow.establishments.update(changed)
            uow.commit()
        assert stored == attrs.evolve(changed, version=1)
        with uow_factory() as uow:
            assert uow.establishments.get(_EST) == stored
            assert uow.establishments.get(_EST).role(RoleId("physio")).name == "Kinésithérapeute"

    def test_membership_update_returns_and_stores_the_next_version(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        membership = _membership(member.id)
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            stored = uow.memberships.update(membership.with_roles([RoleId("secretary")]))
            uow.commit()
        assert stored == attrs.evolve(membership, roles={RoleId("secretary")}, version=1)
        with uow_factory() as uow:
            second = uow.memberships.update(stored.deactivate())
            uow.commit()
        assert second.version == 2
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, member.id) == second
            assert uow.memberships.get(_EST, member.id).status is MembershipStatus.DEACTIVATED

    def test_stale_organisation_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner, co_owner = sample_user(), sample_user()
        organisation = _organisation(owner=owner.id)
        self._add(uow_factory, owner, co_owner, organisation)
        with uow_factory() as uow:
            current = uow.organisations.update(organisation.with_owners({co_owner.id}))
            uow.commit()
        with uow_factory() as uow:
            with pytest.raises(StaleRecord) as raised:
                uow.organisations.update(organisation.with_owners({owner.id, co_owner.id}))
            uow.commit()
        assert raised.value.code == "record.stale"
        assert raised.value.params["entity"] == "organisation"
        assert (raised.value.params["expected"], raised.value.params["stored"]) == (0, 1)
        with uow_factory() as uow:
            assert uow.organisations.get(_ORG) == current

    def test_stale_establishment_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        establishment = self._practice(uow_factory)
        with uow_factory() as uow:
            current = uow.establishments.update(
                establishment.with_department(
                    Department.create("Gériatrie", department_id=DepartmentId("geriatrics"))
                )
            )
            uow.commit()
        with uow_factory() as uow:
            with pytest.raises(StaleRecord) as raised:
                uow.establishments.update(
                    establishment.with_department(
                        Department.create("Urgences", department_id=DepartmentId("emergency"))
                    )
                )
            uow.commit()
        assert raised.value.params["entity"] == "establishment"
        assert (raised.value.params["expected"], raised.value.params["stored"]) == (0, 1)
        with uow_factory() as uow:
            assert uow.establishments.get(_EST) == current

    def test_stale_membership_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        membership = _membership(member.id)
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            current = uow.memberships.update(membership.deactivate())
            uow.commit()
        with uow_factory() as uow:
            with pytest.raises(StaleRecord) as raised:
                uow.memberships.update(membership.with_roles([RoleId("administrator")]))
            uow.commit()
        assert raised.value.params["entity"] == "membership"
        assert (raised.value.params["expected"], raised.value.params["stored"]) == (0, 1)
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, member.id) == current

    def test_updating_an_unchanged_establishment_still_bumps_its_version(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        # Services store an establishment unchanged to serialize changes to its administrators.
        establishment = self._practice(uow_factory)
        with uow_factory() as uow:
            first = uow.establishments.update(establishment)
            uow.commit()
        assert first == attrs.evolve(establishment, version=1)
        with uow_factory() as uow:
            assert uow.establishments.get(_EST).version == 1
            with pytest.raises(StaleRecord):
                uow.establishments.update(establishment)
        with uow_factory() as uow:
            assert uow.establishments.update(first).version == 2
            uow.commit()
        with uow_factory() as uow:
            assert uow.establishments.get(_EST).version == 2

    def test_update_of_an_unknown_record_raises_its_not_found(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        with uow_factory() as uow:
            with pytest.raises(OrganisationNotFound):
                uow.organisations.update(
                    _organisation(OrganisationId("org-nowhere"), owner=member.id)
                )
            with pytest.raises(EstablishmentNotFound):
                uow.establishments.update(_establishment(EstablishmentId("est-nowhere")))
            with pytest.raises(MembershipNotFound):
                uow.memberships.update(_membership(member.id))
            uow.commit()
        with uow_factory() as uow:
            assert [e.id for e in uow.establishments.list()] == [_EST]
            assert uow.memberships.find(_EST, member.id) is None

    # -- listing --------------------------------------------------------------------------

    def test_establishments_list_filters_by_organisation_and_orders_by_id(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner = sample_user()
        south = _organisation(_OTHER_ORG, owner=owner.id, name="Groupe du Sud")
        charlie = _establishment(EstablishmentId("est-charlie"), name="Charlie")
        alpha = _establishment(EstablishmentId("est-alpha"), organisation_id=_OTHER_ORG)
        bravo = _establishment(EstablishmentId("est-bravo"), name="Bravo")
        self._add(uow_factory, owner, _organisation(owner=owner.id), south, charlie, alpha, bravo)
        with uow_factory() as uow:
            assert uow.establishments.list() == [alpha, bravo, charlie]
            assert uow.establishments.list(organisation_id=_ORG) == [bravo, charlie]
            assert uow.establishments.list(organisation_id=_OTHER_ORG) == [alpha]
            assert uow.establishments.list(organisation_id=OrganisationId("org-nowhere")) == []

    def test_organisations_list_filters_by_owner_and_orders_by_id(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner, partner = sample_user(), sample_user()
        south = _organisation(_OTHER_ORG, owner=owner.id, name="Groupe du Sud")
        north = _organisation(owner=partner.id)
        north = attrs.evolve(north, owners=frozenset({owner.id, partner.id}))
        self._add(uow_factory, owner, partner, south, north)
        with uow_factory() as uow:
            listed = uow.organisations.list()
            assert listed == sorted([south, north], key=lambda o: o.id)
            assert uow.organisations.list(owner=owner.id) == listed
            assert uow.organisations.list(owner=partner.id) == [north]
            assert uow.organisations.list(owner=UserId("nobody")) == []

    def test_memberships_of_a_user_list_every_status_ordered_by_establishment_id(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member, colleague = sample_user(), sample_user()
        self._practice(uow_factory, member, colleague)
        ids = [EstablishmentId(e) for e in ("est-c", "est-a", "est-b")]
        self._add(
            uow_factory,
            *(_establishment(e, name=f"Cabinet {e}") for e in ids),
            _membership(member.id, ids[0]),
            _membership(member.id, ids[1]).deactivate(),
            _membership(member.id, ids[2], "secretary"),
            _membership(colleague.id, ids[1]),
        )
        with uow_factory() as uow:
            listed = uow.memberships.list_for_user(member.id)
            assert [m.establishment_id for m in listed] == ["est-a", "est-b", "est-c"]
            assert [m.status for m in listed] == [
                MembershipStatus.DEACTIVATED,
                MembershipStatus.ACTIVE,
                MembershipStatus.ACTIVE,
            ]
            assert uow.memberships.list_for_user(UserId("nobody")) == []

    def test_members_of_an_establishment_are_ordered_by_user_id_and_filter_by_status(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        charlie = sample_user(id=UserId("member-charlie"))
        alpha = sample_user(id=UserId("member-alpha"))
        bravo = sample_user(id=UserId("member-bravo"))
        self._practice(uow_factory, charlie, alpha, bravo)
        elsewhere = _establishment(EstablishmentId("est-elsewhere"), name="Ailleurs")
        c, a = _membership(charlie.id), _membership(alpha.id, _EST, "secretary")
        b = _membership(bravo.id).deactivate()
        self._add(uow_factory, elsewhere, c, a, b, _membership(alpha.id, elsewhere.id))
        with uow_factory() as uow:
            assert uow.memberships.list_for_establishment(_EST) == [a, b, c]
            active = uow.memberships.list_for_establishment(_EST, status=MembershipStatus.ACTIVE)
            assert active == [a, c]
            gone = uow.memberships.list_for_establishment(_EST, status=MembershipStatus.DEACTIVATED)
            assert gone == [b]
            assert uow.memberships.list_for_establishment(EstablishmentId("est-nowhere")) == []

    # -- transactions ---------------------------------------------------------------------

    def test_leaving_without_commit_discards_adds_in_every_repository(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        with uow_factory() as uow:
            uow.users.add(member)
            uow.organisations.add(_organisation(owner=member.id))
            uow.establishments.add(_establishment())
            uow.memberships.add(_membership(member.id))
        with uow_factory() as uow:
            assert uow.users.list() == []
            with pytest.raises(OrganisationNotFound):
                uow.organisations.get(_ORG)
            assert uow.establishments.list() == []
            assert uow.memberships.find(_EST, member.id) is None
            assert uow.memberships.list_for_user(member.id) == []
            assert uow.memberships.list_for_establishment(_EST) == []

    def test_leaving_without_commit_discards_updates_in_every_repository(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        establishment = self._practice(uow_factory, member)
        membership = _membership(member.id)
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            organisation = uow.organisations.get(_ORG)
            uow.users.update(member.deactivate())
            uow.organisations.update(organisation.with_owners({member.id}))
            uow.establishments.update(
                establishment.with_role(Role.custom("Stagiaire", [Permission.AGENDA_VIEW]))
            )
            uow.memberships.update(membership.deactivate())
        with uow_factory() as uow:
            assert uow.users.get(member.id) == member
            assert uow.organisations.get(_ORG) == organisation
            assert uow.establishments.get(_EST) == establishment
            assert uow.memberships.get(_EST, member.id) == membership
            active = uow.memberships.list_for_establishment(_EST, status=MembershipStatus.ACTIVE)
            assert active == [membership]

    def test_rollback_discards_access_changes_made_since_the_last_commit(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        kept, dropped = sample_user(), sample_user()
        establishment = self._practice(uow_factory, kept, dropped)
        with uow_factory() as uow:
            uow.memberships.add(_membership(kept.id))
            uow.commit()
            uow.memberships.add(_membership(dropped.id))
            uow.establishments.update(establishment)
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.memberships.list_for_establishment(_EST) == [_membership(kept.id)]
            assert uow.establishments.get(_EST) == establishment

    def test_an_exception_inside_the_block_rolls_back_every_repository(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        class Boom(Exception):
            pass

        member = sample_user()
        with pytest.raises(Boom), uow_factory() as uow:
            uow.users.add(member)
            uow.organisations.add(_organisation(owner=member.id))
            uow.establishments.add(_establishment())
            uow.memberships.add(_membership(member.id))
            raise Boom
        with uow_factory() as uow:
            assert uow.users.list() == []
            assert uow.establishments.list() == []
            assert uow.memberships.list_for_user(member.id) == []

    def test_a_rolled_back_membership_can_be_added_again(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        with uow_factory() as uow:
            uow.memberships.add(_membership(member.id, _EST, "trainee"))
        self._add(uow_factory, _membership(member.id))
        with uow_factory() as uow:
            assert uow.memberships.list_for_user(member.id) == [_membership(member.id)]

    def test_access_repositories_outside_their_unit_of_work_raise(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        uow = uow_factory()
        calls: list[Callable[[], object]] = [
            lambda: uow.organisations.get(_ORG),
            lambda: uow.establishments.get(_EST),
            lambda: uow.establishments.list(organisation_id=_ORG),
            lambda: uow.memberships.find(_EST, member.id),
            lambda: uow.memberships.list_for_user(member.id),
            lambda: uow.memberships.list_for_establishment(_EST),
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in [
            *calls,
            lambda: uow.organisations.add(_organisation(OrganisationId("org-x"), owner=member.id)),
            lambda: uow.establishments.add(_establishment(EstablishmentId("est-x"))),
            lambda: uow.memberships.add(_membership(member.id)),
        ]:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow_factory() as fresh:
            assert fresh.memberships.find(_EST, member.id) is None
            assert [e.id for e in fresh.establishments.list()] == [_EST]

    # -- concurrency (C1: one membership per pair; C3: administrators serialized) ----------

    def test_sixteen_concurrent_adds_of_one_membership_have_exactly_one_winner(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member = sample_user()
        self._practice(uow_factory, member)
        roles = ("physician", "secretary", "trainee", "user_manager")

        def attempt(i: int, barrier: threading.Barrier) -> object:
            membership = _membership(member.id, _EST, roles[i % len(roles)])
            barrier.wait()
            with uow_factory() as uow:
                uow.memberships.add(membership)
                uow.commit()
            return membership

        results = self._race(attempt)
        winners = [r for r in results if isinstance(r, Membership)]
        refusals = [r for r in results if isinstance(r, DuplicateMembership)]
        assert len(winners) == 1, results
        assert len(refusals) == _THREADS - 1, results
        with uow_factory() as uow:
            assert uow.memberships.list_for_establishment(_EST) == winners
            assert uow.memberships.list_for_user(member.id) == winners

    def test_sixteen_concurrent_updates_from_one_read_have_exactly_one_winner(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)

        def attempt(i: int, barrier: threading.Barrier) -> object:
            # Read in one unit of work and write in another: a store whose units of work are
            # serialized (the in-memory one) would deadlock on a barrier inside one.
            with uow_factory() as uow:
                read = uow.establishments.get(_EST)
            barrier.wait()
            department = Department.create(
                f"Service {i}", department_id=DepartmentId(f"service-{i}")
            )
            with uow_factory() as uow:
                stored = uow.establishments.update(read.with_department(department))
                uow.commit()
            return stored

        results = self._race(attempt)
        winners = [r for r in results if isinstance(r, Establishment)]
        refusals = [r for r in results if isinstance(r, StaleRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _THREADS - 1, results
        assert winners[0].version == 1
        with uow_factory() as uow:
            assert uow.establishments.get(_EST) == winners[0]


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
