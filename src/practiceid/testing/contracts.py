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

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

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
    DuplicateIdentifier,
    DuplicateInitials,
    DuplicateLogin,
    DuplicateMembership,
    DuplicateRecord,
    DuplicateUserId,
    EstablishmentNotFound,
    MembershipNotFound,
    OrganisationNotFound,
    PasswordMismatch,
    PermissionDenied,
    PracticeIdError,
    PractitionerNotFound,
    StaleRecord,
    StaleUser,
    UnitOfWorkError,
    UnsupportedPasswordHash,
    UserNotFound,
)
from practiceid.establishment_profiles import EstablishmentProfile
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
from practiceid.policies.contact import Address, AddressKind
from practiceid.policies.email import EmailAddress
from practiceid.policies.identifiers import adeli, bce, finess, iban, inami, niss, rpps
from practiceid.policies.identifiers._common import luhn_check_digit
from practiceid.policies.identifiers.adeli import AdeliNumber
from practiceid.policies.identifiers.bce import BceNumber
from practiceid.policies.identifiers.iban import BelgianIban
from practiceid.policies.identifiers.niss import NissNumber
from practiceid.policies.identifiers.rpps import RppsNumber
from practiceid.policies.login import Login
from practiceid.policies.logo import parse_logo
from practiceid.policies.professions import Profession
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.establishments import AccessUnitOfWorkFactory
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.users import UnitOfWorkFactory
from practiceid.practitioners import (
    BillingData,
    EdmgRegistration,
    EHealthCertificate,
    HubRegion,
    Mutuality,
    Practitioner,
    PractitionerSettings,
)
from practiceid.testing import sample_inami, sample_png, sample_user
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "AccessRepositoriesContract",
    "AuthorizerContract",
    "ClockContract",
    "PasswordHasherContract",
    "ProfileRepositoriesContract",
    "UserRepositoryContract",
]

_THREADS = 16
_W = TypeVar("_W")


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
        winners, _refusals = _one_winner(results, User, DuplicateEmail)
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

_Record = User | Organisation | Establishment | Membership | Practitioner | EstablishmentProfile


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


def _one_winner(
    results: list[object], winner: type[_W], loser: type[PracticeIdError]
) -> tuple[list[_W], list[PracticeIdError]]:
    """Assert that exactly one of the racing threads won and every other one was refused."""
    winners = [r for r in results if isinstance(r, winner)]
    refusals = [r for r in results if isinstance(r, loser)]
    assert len(winners) == 1, results
    assert len(refusals) == _THREADS - 1, results
    return winners, refusals


def _race_in_threads(attempt: Callable[[int, threading.Barrier], object]) -> list[object]:
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


class _AccessStoreContract:
    """What the access and profile contracts share: the factory fixture and storing helpers."""

    def make_unit_of_work_factory(self) -> AccessUnitOfWorkFactory:
        """Return a factory of access units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> AccessUnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

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
                elif isinstance(record, Membership):
                    uow.memberships.add(record)
                elif isinstance(record, Practitioner):
                    uow.practitioners.add(record)
                else:
                    uow.establishment_profiles.add(record)
            uow.commit()

    def _practice(self, factory: AccessUnitOfWorkFactory, *members: User) -> Establishment:
        """Store an owner, the organisation, the establishment :data:`_EST` and ``members``."""
        owner = sample_user(id=UserId("owner"))
        establishment = _establishment()
        self._add(factory, owner, _organisation(owner=owner.id), establishment, *members)
        return establishment


class AccessRepositoriesContract(_AccessStoreContract):
    """The organisation, establishment and membership repositories of an access unit of work.

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.AccessUnitOfWork` over one fresh, empty store. The suite stores
    the users, organisation and establishment a record refers to before the record itself, so
    an adapter may enforce foreign keys.
    """

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _race(attempt: Callable[[int, threading.Barrier], object]) -> list[object]:
        """Run ``attempt`` in 16 threads; return what each returned or raised."""
        return _race_in_threads(attempt)

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
        winners, _refusals = _one_winner(results, Membership, DuplicateMembership)
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
        winners, _refusals = _one_winner(results, Establishment, StaleRecord)
        assert winners[0].version == 1
        with uow_factory() as uow:
            assert uow.establishments.get(_EST) == winners[0]


_PROFILED = datetime(2026, 2, 2, 14, 45, 30, 250000, tzinfo=UTC)
_ANNEX = EstablishmentId("est-annexe")


def _luhn(head: str) -> str:
    return head + luhn_check_digit(head)


def _rpps(seed: int) -> RppsNumber:
    """A made-up RPPS number (11 digits, Luhn), one per ``seed``."""
    return rpps.parse(_luhn(f"10{seed:08d}"))


def _adeli(seed: int) -> AdeliNumber:
    """A made-up ADELI number (Paris, general practitioner, Luhn), one per ``seed``."""
    return adeli.parse(_luhn(f"7510{seed:04d}"))


def _niss(seed: int) -> NissNumber:
    """A made-up BIS number (month + 40: outside the national register), one per ``seed``."""
    body = f"9041{seed % 28 + 1:02d}{seed // 28 % 997 + 1:03d}"
    return niss.parse(body + f"{97 - int(body) % 97:02d}")


def _iban(seed: int) -> BelgianIban:
    """A made-up Belgian IBAN at bank code 320 (a BIC is known for it), one per ``seed``."""
    head = f"320{seed:07d}"
    national = head + f"{int(head) % 97 or 97:02d}"
    check = 98 - int(national + "111400") % 97  # ISO 7064 over the national part + "BE00"
    return iban.parse(f"BE{check:02d}{national}")


def _bce(seed: int) -> BceNumber:
    """A made-up BCE/KBO enterprise number, one per ``seed`` (from 1)."""
    head = f"0{seed:07d}"
    return bce.parse(head + f"{97 - int(head) % 97:02d}")


def _same_person(number: str, competence: str) -> str:
    """The INAMI number of the same person (first eight digits) with another competence code."""
    return number[:8] + competence


def _practitioner(user_id: UserId, inami_number: str | None = None) -> Practitioner:
    """A Belgian general practitioner with this INAMI number (a fresh made-up one by default)."""
    return Practitioner(
        user_id=user_id,
        profession=Profession.GENERAL_PRACTITIONER,
        country="BE",
        created_at=_OPENED,
        inami=inami.parse(inami_number or sample_inami()),
    )


def _holder(user_id: UserId, seed: int) -> Practitioner:
    """A practitioner holding a number of every kind: INAMI, NISS, RPPS and ADELI."""
    return attrs.evolve(
        _practitioner(user_id), niss=_niss(seed), rpps=_rpps(seed), adeli=_adeli(seed)
    )


_SHARED_NUMBERS = ("inami", "inami_person_key", "rpps", "adeli", "niss")


def _with_number_of(taker: Practitioner, holder: Practitioner, shared: str) -> Practitioner:
    """``taker`` given the number of ``holder`` that ``shared`` names.

    ``inami_person_key`` is the holder's INAMI number with another competence code: the same
    person, so the same identity key (B2).
    """
    if shared == "inami_person_key":
        assert holder.inami is not None
        return attrs.evolve(taker, inami=inami.parse(_same_person(holder.inami.number, "005")))
    if shared == "inami":
        return attrs.evolve(taker, inami=holder.inami)
    if shared == "rpps":
        return attrs.evolve(taker, rpps=holder.rpps)
    if shared == "adeli":
        return attrs.evolve(taker, adeli=holder.adeli)
    return attrs.evolve(taker, niss=holder.niss)


def _kind(shared: str) -> str:
    return "inami" if shared.startswith("inami") else shared


def _address(**overrides: object) -> Address:
    """A made-up workplace in Namur, reachable by e-mail and phone (B1, C7)."""
    values: dict[str, object] = {
        "kind": AddressKind.WORKPLACE,
        "street": "Rue des Tilleuls 12",
        "postal_code": "5000",
        "city": "Namur",
        "country": "BE",
        "email": EmailAddress("accueil@cabinet-exemple.be"),
        "phone": "+3281223344",
    }
    values.update(overrides)
    return Address(**values)  # type: ignore[arg-type]


def _profile(establishment_id: EstablishmentId = _EST) -> EstablishmentProfile:
    """A profile with an address only: no numbers, no logo, no trainee account."""
    return EstablishmentProfile(
        establishment_id=establishment_id, address=_address(), updated_at=_OPENED
    )


class ProfileRepositoriesContract(_AccessStoreContract):
    """Practitioners, establishment profiles and unique initials (A7, B1-B6, C7).

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.AccessUnitOfWork` over one fresh, empty store, as for
    :class:`AccessRepositoriesContract`. The suite checks the error contracts of
    :class:`~practiceid.ports.PractitionerRepository` (identity keys unique across
    practitioners, B2, B3), :class:`~practiceid.ports.EstablishmentProfileRepository` (C7) and
    the initials rule of :class:`~practiceid.ports.MembershipRepository` (A7). It stores the
    users and establishment a record refers to before the record itself, so an adapter may
    enforce foreign keys. Every number in it is made up.
    """

    # -- helpers --------------------------------------------------------------------------

    def _people(self, factory: AccessUnitOfWorkFactory, count: int) -> list[User]:
        """Store the practice and ``count`` users; return the users."""
        users = [sample_user() for _ in range(count)]
        self._practice(factory, *users)
        return users

    @staticmethod
    def _race(attempt: Callable[[int, threading.Barrier], object]) -> list[object]:
        """Run ``attempt`` in 16 threads; return what each returned or raised."""
        return _race_in_threads(attempt)

    # -- practitioners: add and read (B1-B6) ----------------------------------------------

    def test_added_practitioner_reads_back_equal_through_get_and_find(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        practitioner = _practitioner(user.id)
        self._add(uow_factory, practitioner)
        with uow_factory() as uow:
            assert uow.practitioners.get(user.id) == practitioner
            assert uow.practitioners.find(user.id) == practitioner

    def test_every_practitioner_field_round_trips_exactly(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        number = sample_inami("005")
        brussels = timezone(timedelta(hours=1))
        certificate = EHealthCertificate(
            serial_number="5f3c0a91d2e4b7c8",
            issuer="CN=Sample eHealth CA, O=Exemple, C=BE",
            not_before=datetime(2025, 11, 3, 8, 0, tzinfo=UTC),
            not_after=datetime(2028, 11, 3, 8, 0, tzinfo=UTC),
            sha256=hashlib.sha256(b"made-up certificate").hexdigest(),
            registered_at=datetime(2026, 1, 6, 10, 30, 5, 654321, tzinfo=brussels),
            holder_nihii=number,
            fetch_messages=True,
        )
        accounts = {mutuality: _iban(seed) for seed, mutuality in enumerate(Mutuality, 1)}
        edmg = EdmgRegistration(registered_at=_PROFILED, accounts=accounts)
        practitioner = Practitioner(
            user_id=user.id,
            profession=Profession.GENERAL_PRACTITIONER,
            country="BE",
            created_at=datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC),
            inami=inami.parse(number),
            niss=_niss(1),
            rpps=_rpps(1),
            adeli=_adeli(1),
            addresses=[
                _address(street="Chaussée de l'Épine 7", city="Liège", postal_code="4000"),
                _address(kind=AddressKind.HOME, email=None, phone=None),
                _address(
                    kind=AddressKind.BILLING,
                    street="12 rue de l'Exemple",
                    postal_code="75008",
                    city="Paris",
                    country="FR",
                    email=EmailAddress("Compta.Cabinet@Exemple-Sante.fr"),
                    phone="+33155501234",
                ),
            ],
            settings=PractitionerSettings(
                hub_region=HubRegion.WALLONIA, ehealth=certificate, edmg=edmg
            ),
            billing=BillingData(
                company_name="SRL Cabinet Médical Dr Exemple & Associés",
                enterprise_number=_bce(1),
                conventioned=True,
                iban=_iban(99),
            ),
        )
        self._add(uow_factory, practitioner)
        with uow_factory() as uow:
            stored = uow.practitioners.get(user.id)
        assert stored == practitioner
        assert stored.identifiers == practitioner.identifiers
        assert stored.identity_keys == practitioner.identity_keys
        assert stored.requires_supervisor is True  # the competence code survived (B4)
        assert stored.addresses == practitioner.addresses  # every address, in order
        assert [a.kind for a in stored.addresses] == [
            AddressKind.WORKPLACE,
            AddressKind.HOME,
            AddressKind.BILLING,
        ]
        assert stored.addresses[2].email == EmailAddress("Compta.Cabinet@Exemple-Sante.fr")
        assert stored.addresses[2].email.address == "Compta.Cabinet@Exemple-Sante.fr"
        assert stored.settings.hub_region is HubRegion.WALLONIA
        assert stored.settings.ehealth == certificate
        assert stored.settings.ehealth.registered_at.tzinfo is not None
        assert stored.settings.edmg is not None
        assert dict(stored.settings.edmg.accounts) == accounts
        assert list(stored.settings.edmg.accounts) == list(Mutuality)
        assert stored.settings.edmg.same_account is False
        assert stored.billing == practitioner.billing
        assert stored.billing.bic == "BBRUBEBB"  # derived again from the IBAN (B6)
        assert stored.created_at == practitioner.created_at
        assert stored.created_at.tzinfo is not None

    def test_unknown_practitioner_is_found_as_none_and_get_raises_practitioner_not_found(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        holder, stranger = self._people(uow_factory, 2)
        self._add(uow_factory, _practitioner(holder.id))
        with uow_factory() as uow:
            assert uow.practitioners.find(stranger.id) is None
            with pytest.raises(PractitionerNotFound) as raised:
                uow.practitioners.get(stranger.id)
        assert raised.value.code == "practitioner.not_found"
        assert raised.value.params["user_id"] == stranger.id

    def test_ids_of_odd_types_name_no_practitioner_and_no_profile(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._add(uow_factory, _practitioner(user.id), _profile())
        odd: list[object] = [None, [user.id], {"id": user.id}, 42]
        with uow_factory() as uow:
            for value in odd:
                assert uow.practitioners.find(value) is None  # type: ignore[arg-type]
                with pytest.raises(PractitionerNotFound):
                    uow.practitioners.get(value)  # type: ignore[arg-type]
                assert uow.establishment_profiles.find(value) is None  # type: ignore[arg-type]

    def test_practitioners_without_numbers_never_clash(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        secretary, assistant = self._people(uow_factory, 2)
        first = attrs.evolve(
            _practitioner(secretary.id), profession=Profession.SECRETARY, inami=None
        )
        second = attrs.evolve(
            _practitioner(assistant.id), profession=Profession.ASSISTANT, inami=None
        )
        self._add(uow_factory, first, second)
        with uow_factory() as uow:
            assert uow.practitioners.get(secretary.id) == first
            assert uow.practitioners.update(second).version == 1

    # -- practitioners: one per user ------------------------------------------------------

    def test_second_practitioner_data_of_a_user_raises_duplicate_record_for_practitioner(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        first = _practitioner(user.id)
        self._add(uow_factory, first)
        with uow_factory() as uow:
            with pytest.raises(DuplicateRecord) as raised:
                uow.practitioners.add(attrs.evolve(_holder(user.id, 1), country="FR"))
            uow.commit()
        assert not isinstance(raised.value, DuplicateIdentifier)
        assert raised.value.code == "record.duplicate"
        assert raised.value.params["entity"] == "practitioner"
        assert raised.value.params["id"] == user.id
        with uow_factory() as uow:
            assert uow.practitioners.get(user.id) == first

    # -- practitioners: numbers unique across practitioners (B2, B3) ----------------------

    @pytest.mark.parametrize("shared", _SHARED_NUMBERS)
    def test_another_practitioners_number_raises_duplicate_identifier_on_add(
        self, uow_factory: AccessUnitOfWorkFactory, shared: str
    ) -> None:
        first, second = self._people(uow_factory, 2)
        holder = _holder(first.id, 1)
        self._add(uow_factory, holder)
        newcomer = _with_number_of(_practitioner(second.id), holder, shared)
        with uow_factory() as uow, pytest.raises(DuplicateIdentifier) as raised:
            uow.practitioners.add(newcomer)
        assert raised.value.code == "practitioner.duplicate_identifier"
        assert isinstance(raised.value, DuplicateRecord)
        assert raised.value.params["entity"] == "practitioner"
        assert raised.value.params["kind"] == _kind(shared)

    @pytest.mark.parametrize("shared", _SHARED_NUMBERS)
    def test_another_practitioners_number_raises_duplicate_identifier_on_update(
        self, uow_factory: AccessUnitOfWorkFactory, shared: str
    ) -> None:
        first, second = self._people(uow_factory, 2)
        holder, other = _holder(first.id, 1), _holder(second.id, 2)
        self._add(uow_factory, holder, other)
        with uow_factory() as uow:
            with pytest.raises(DuplicateIdentifier) as raised:
                uow.practitioners.update(_with_number_of(other, holder, shared))
            uow.commit()
        assert raised.value.params["entity"] == "practitioner"
        assert raised.value.params["kind"] == _kind(shared)
        with uow_factory() as uow:
            assert uow.practitioners.get(first.id) == holder
            assert uow.practitioners.get(second.id) == other

    def test_a_practitioner_may_update_keeping_their_own_numbers(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        trainee = attrs.evolve(_holder(user.id, 1), inami=inami.parse(sample_inami("005")))
        self._add(uow_factory, trainee)
        assert trainee.inami is not None
        # Recognised as a GP: same person key, new competence code (B2, B4).
        recognised = attrs.evolve(
            trainee, inami=inami.parse(_same_person(trainee.inami.number, "003"))
        )
        with uow_factory() as uow:
            first = uow.practitioners.update(recognised)
            second = uow.practitioners.update(attrs.evolve(first, country="FR"))
            uow.commit()
        assert first == attrs.evolve(recognised, version=1)
        assert second.version == 2
        with uow_factory() as uow:
            stored = uow.practitioners.get(user.id)
        assert stored == second
        assert stored.identity_keys == trainee.identity_keys
        assert stored.requires_supervisor is False

    def test_numbers_freed_by_an_update_can_be_taken_by_another_practitioner(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        holder = _holder(first.id, 1)
        self._add(uow_factory, holder)
        # A mistyped INAMI number corrected, and the French numbers dropped.
        corrected = attrs.evolve(holder, inami=inami.parse(sample_inami()), rpps=None, adeli=None)
        with uow_factory() as uow:
            uow.practitioners.update(corrected)
            uow.commit()
        assert holder.inami is not None
        newcomer = attrs.evolve(
            _practitioner(second.id, _same_person(holder.inami.number, "005")),
            rpps=holder.rpps,
            adeli=holder.adeli,
        )
        self._add(uow_factory, newcomer)
        with uow_factory() as uow:
            assert uow.practitioners.get(second.id) == newcomer
            assert uow.practitioners.get(first.id) == attrs.evolve(corrected, version=1)

    # -- practitioners: update ------------------------------------------------------------

    def test_practitioner_update_returns_and_stores_the_next_version(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        practitioner = _practitioner(user.id)
        self._add(uow_factory, practitioner)
        changed = attrs.evolve(practitioner, billing=BillingData(conventioned=True, iban=_iban(1)))
        with uow_factory() as uow:
            stored = uow.practitioners.update(changed)
            uow.commit()
        assert stored == attrs.evolve(changed, version=1)
        with uow_factory() as uow:
            second = uow.practitioners.update(attrs.evolve(stored, addresses=[_address()]))
            uow.commit()
        assert second.version == 2
        with uow_factory() as uow:
            assert uow.practitioners.get(user.id) == second

    def test_stale_practitioner_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        practitioner = _practitioner(user.id)
        self._add(uow_factory, practitioner)
        with uow_factory() as uow:
            current = uow.practitioners.update(attrs.evolve(practitioner, niss=_niss(1)))
            uow.commit()
        with uow_factory() as uow:
            with pytest.raises(StaleRecord) as raised:
                uow.practitioners.update(attrs.evolve(practitioner, rpps=_rpps(1)))
            uow.commit()
        assert raised.value.code == "record.stale"
        assert raised.value.params["entity"] == "practitioner"
        assert raised.value.params["id"] == user.id
        assert (raised.value.params["expected"], raised.value.params["stored"]) == (0, 1)
        with uow_factory() as uow:
            assert uow.practitioners.get(user.id) == current

    def test_update_of_an_unknown_practitioner_raises_not_found_and_claims_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        ghost, newcomer = self._people(uow_factory, 2)
        unknown = _holder(ghost.id, 1)
        with uow_factory() as uow:
            with pytest.raises(PractitionerNotFound) as raised:
                uow.practitioners.update(unknown)
            uow.commit()
        assert raised.value.params["user_id"] == ghost.id
        taking = attrs.evolve(unknown, user_id=newcomer.id)  # every number of the refused one
        self._add(uow_factory, taking)
        with uow_factory() as uow:
            assert uow.practitioners.find(ghost.id) is None
            assert uow.practitioners.get(newcomer.id) == taking

    def test_refused_practitioner_writes_change_nothing_even_after_a_commit(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second, third = self._people(uow_factory, 3)
        holder, other = _holder(first.id, 1), _holder(second.id, 2)
        self._add(uow_factory, holder, other)
        # Each refused value also carries fresh numbers, which must not stay claimed.
        refused_add = attrs.evolve(_holder(third.id, 3), niss=holder.niss)
        refused_update = attrs.evolve(other, rpps=_rpps(4), adeli=holder.adeli)
        stale = attrs.evolve(other, version=7, niss=_niss(5))
        second_data = _holder(first.id, 6)  # the user already has practitioner data
        with uow_factory() as uow:
            with pytest.raises(DuplicateIdentifier):
                uow.practitioners.add(refused_add)
            with pytest.raises(DuplicateRecord):
                uow.practitioners.add(second_data)
            with pytest.raises(DuplicateIdentifier):
                uow.practitioners.update(refused_update)
            with pytest.raises(StaleRecord):
                uow.practitioners.update(stale)
            assert uow.practitioners.find(third.id) is None
            uow.commit()
        with uow_factory() as uow:
            assert uow.practitioners.find(third.id) is None
            assert uow.practitioners.get(first.id) == holder
            assert uow.practitioners.get(second.id) == other
            # The numbers the refused writes tried to take or drop are still held ...
            with pytest.raises(DuplicateIdentifier) as raised:
                uow.practitioners.add(attrs.evolve(_practitioner(third.id), rpps=other.rpps))
            assert raised.value.params["kind"] == "rpps"
        # ... and the fresh ones they carried are free.
        free = attrs.evolve(
            second_data, user_id=third.id, niss=_niss(5), rpps=_rpps(4), adeli=_adeli(3)
        )
        self._add(uow_factory, free)
        with uow_factory() as uow:
            assert uow.practitioners.get(third.id) == free

    # -- practitioners: transactions ------------------------------------------------------

    def test_leaving_without_commit_discards_practitioner_changes_and_frees_numbers(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second, third = self._people(uow_factory, 3)
        holder = _holder(first.id, 1)
        self._add(uow_factory, holder)
        added = _holder(second.id, 2)
        with uow_factory() as uow:
            uow.practitioners.add(added)
            uow.practitioners.update(attrs.evolve(holder, niss=_niss(3), rpps=None))
        with uow_factory() as uow:
            assert uow.practitioners.find(second.id) is None
            assert uow.practitioners.get(first.id) == holder
            with pytest.raises(DuplicateIdentifier):  # the update's release was undone
                uow.practitioners.add(attrs.evolve(_practitioner(third.id), rpps=holder.rpps))
        taking = attrs.evolve(added, user_id=third.id, niss=_niss(3))
        self._add(uow_factory, taking)  # the undone add's and update's numbers are free
        with uow_factory() as uow:
            assert uow.practitioners.get(third.id) == taking

    def test_rollback_discards_practitioner_changes_made_since_the_last_commit(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        kept, dropped = self._people(uow_factory, 2)
        practitioner, dropped_data = _practitioner(kept.id), _holder(dropped.id, 1)
        with uow_factory() as uow:
            uow.practitioners.add(practitioner)
            uow.commit()
            uow.practitioners.add(dropped_data)
            uow.practitioners.update(attrs.evolve(practitioner, niss=_niss(2)))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.practitioners.get(kept.id) == practitioner
            assert uow.practitioners.find(dropped.id) is None
        # The numbers the undone add and update took are free again.
        owner_data = attrs.evolve(_practitioner(UserId("owner")), niss=_niss(2))
        self._add(uow_factory, dropped_data, owner_data)

    # -- establishment profiles (C7) ------------------------------------------------------

    def test_added_establishment_profile_reads_back_equal_and_an_unknown_one_is_none(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        annex = _establishment(_ANNEX, name="Annexe des Tilleuls")
        profile = _profile()
        self._add(uow_factory, annex, profile)
        with uow_factory() as uow:
            assert uow.establishment_profiles.find(_EST) == profile
            assert uow.establishment_profiles.find(_ANNEX) is None
            assert uow.establishment_profiles.find(EstablishmentId("est-nowhere")) is None

    def test_logo_bytes_numbers_and_trainee_account_round_trip_exactly(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        image = sample_png(width=480, height=160)
        profile = attrs.evolve(
            _profile(),
            address=_address(street="Place de l'Ange 3", phone="+3281223345"),
            updated_at=_PROFILED,
            inami=inami.parse(sample_inami("000", profession="7")),
            finess=finess.parse(_luhn("75000001")),
            enterprise_number=_bce(2),
            logo=parse_logo(image),
            trainee_account=_iban(7),
        )
        self._add(uow_factory, profile)
        with uow_factory() as uow:
            stored = uow.establishment_profiles.find(_EST)
        assert stored == profile
        assert stored.logo is not None
        assert stored.logo.data == image  # byte for byte
        assert (stored.logo.media_type, stored.logo.width, stored.logo.height) == (
            "image/png",
            480,
            160,
        )
        assert stored.logo.sha256 == hashlib.sha256(image).hexdigest()
        assert stored.trainee_account == _iban(7)
        assert stored.trainee_account is not None
        assert stored.trainee_account.bic == "BBRUBEBB"
        assert stored.updated_at == _PROFILED
        assert stored.updated_at.tzinfo is not None
        name = "Cabinet des Tilleuls"
        assert stored.report_header(name) == profile.report_header(name)

    def test_second_profile_of_an_establishment_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        profile = _profile()
        self._add(uow_factory, profile)
        with uow_factory() as uow:
            with pytest.raises(DuplicateRecord) as raised:
                uow.establishment_profiles.add(
                    attrs.evolve(_profile(), logo=parse_logo(sample_png()))
                )
            uow.commit()
        assert raised.value.code == "record.duplicate"
        assert raised.value.params["entity"] == "establishment_profile"
        assert raised.value.params["id"] == _EST
        with uow_factory() as uow:
            assert uow.establishment_profiles.find(_EST) == profile

    def test_establishment_profile_update_returns_and_stores_the_next_version(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        profile = _profile()
        self._add(uow_factory, profile)
        changed = attrs.evolve(profile, logo=parse_logo(sample_png()), updated_at=_PROFILED)
        with uow_factory() as uow:
            stored = uow.establishment_profiles.update(changed)
            uow.commit()
        assert stored == attrs.evolve(changed, version=1)
        with uow_factory() as uow:
            second = uow.establishment_profiles.update(attrs.evolve(stored, logo=None))
            uow.commit()
        assert second.version == 2
        with uow_factory() as uow:
            assert uow.establishment_profiles.find(_EST) == second

    def test_stale_establishment_profile_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        profile = _profile()
        self._add(uow_factory, profile)
        with uow_factory() as uow:
            current = uow.establishment_profiles.update(
                attrs.evolve(profile, trainee_account=_iban(1))
            )
            uow.commit()
        with uow_factory() as uow:
            with pytest.raises(StaleRecord) as raised:
                uow.establishment_profiles.update(attrs.evolve(profile, enterprise_number=_bce(1)))
            uow.commit()
        assert raised.value.code == "record.stale"
        assert raised.value.params["entity"] == "establishment_profile"
        assert raised.value.params["id"] == _EST
        assert (raised.value.params["expected"], raised.value.params["stored"]) == (0, 1)
        with uow_factory() as uow:
            assert uow.establishment_profiles.find(_EST) == current

    def test_update_of_an_establishment_without_a_profile_raises_establishment_not_found(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        with uow_factory() as uow:
            with pytest.raises(EstablishmentNotFound) as raised:
                uow.establishment_profiles.update(_profile())
            with pytest.raises(EstablishmentNotFound):
                uow.establishment_profiles.update(_profile(EstablishmentId("est-nowhere")))
            uow.commit()
        assert raised.value.params["establishment_id"] == _EST
        with uow_factory() as uow:
            assert uow.establishment_profiles.find(_EST) is None

    def test_leaving_without_commit_discards_establishment_profile_changes(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        self._practice(uow_factory)
        annex = _establishment(_ANNEX, name="Annexe des Tilleuls")
        profile = _profile()
        self._add(uow_factory, annex, profile)
        with uow_factory() as uow:
            uow.establishment_profiles.add(_profile(_ANNEX))
            uow.establishment_profiles.update(attrs.evolve(profile, logo=parse_logo(sample_png())))
        with uow_factory() as uow:
            assert uow.establishment_profiles.find(_ANNEX) is None
            assert uow.establishment_profiles.find(_EST) == profile

    def test_profile_repositories_outside_their_unit_of_work_raise(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        uow = uow_factory()
        calls: list[Callable[[], object]] = [
            lambda: uow.practitioners.find(user.id),
            lambda: uow.practitioners.get(user.id),
            lambda: uow.establishment_profiles.find(_EST),
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in [
            *calls,
            lambda: uow.practitioners.add(_practitioner(user.id)),
            lambda: uow.practitioners.update(_practitioner(user.id)),
            lambda: uow.establishment_profiles.add(_profile()),
            lambda: uow.establishment_profiles.update(_profile()),
        ]:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow_factory() as fresh:
            assert fresh.practitioners.find(user.id) is None
            assert fresh.establishment_profiles.find(_EST) is None

    # -- memberships: initials unique in an establishment (A7) ----------------------------

    def test_membership_initials_and_supervisor_are_stored_as_given(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        trainee, supervisor = self._people(uow_factory, 2)
        membership = _membership(trainee.id, _EST, "trainee").with_initials("ÉdB")
        membership = membership.with_supervisor(supervisor.id)  # B4
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            stored = uow.memberships.get(_EST, trainee.id)
        assert stored == membership
        assert (stored.initials, stored.supervisor) == ("ÉdB", supervisor.id)

    def test_same_initials_in_another_case_raise_duplicate_initials_on_add(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        self._add(uow_factory, _membership(first.id).with_initials("JD"))
        for initials in ("JD", "jd", "Jd", "ＪＤ"):
            with uow_factory() as uow, pytest.raises(DuplicateInitials) as raised:
                uow.memberships.add(_membership(second.id).with_initials(initials))
            assert raised.value.code == "membership.duplicate_initials"
            assert isinstance(raised.value, DuplicateRecord)
            assert raised.value.params["entity"] == "membership"
            assert raised.value.params["establishment_id"] == _EST
            assert raised.value.params["initials"] == initials

    def test_taking_another_members_initials_by_update_raises_duplicate_initials(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        taken, other = _membership(first.id).with_initials("JD"), _membership(second.id)
        self._add(uow_factory, taken, other.with_initials("AB"))
        with uow_factory() as uow:
            stored = uow.memberships.get(_EST, second.id)
            with pytest.raises(DuplicateInitials) as raised:
                uow.memberships.update(stored.with_initials("jd"))
            uow.commit()
        assert raised.value.params["establishment_id"] == _EST
        assert raised.value.params["initials"] == "jd"
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, first.id) == taken
            assert uow.memberships.get(_EST, second.id) == stored

    def test_a_deactivated_member_keeps_their_initials(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        # Memberships are never removed (A6): records still name a former member by initials.
        former, newcomer = self._people(uow_factory, 2)
        membership = _membership(former.id).with_initials("MV")
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            uow.memberships.update(membership.deactivate())
            uow.commit()
        with uow_factory() as uow, pytest.raises(DuplicateInitials):
            uow.memberships.add(_membership(newcomer.id).with_initials("mv"))

    def test_same_initials_in_another_establishment_are_accepted(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        annex = _establishment(_ANNEX, name="Annexe des Tilleuls")
        here = _membership(first.id).with_initials("JD")
        there = _membership(second.id, _ANNEX).with_initials("jd")
        self._add(uow_factory, annex, here, there, _membership(first.id, _ANNEX))
        with uow_factory() as uow:
            moved = uow.memberships.update(
                uow.memberships.get(_ANNEX, first.id).with_initials("AB")
            )
            uow.commit()
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, first.id) == here
            assert uow.memberships.get(_ANNEX, second.id) == there
            assert uow.memberships.get(_ANNEX, first.id) == moved

    def test_empty_initials_never_clash(self, uow_factory: AccessUnitOfWorkFactory) -> None:
        users = self._people(uow_factory, 3)
        memberships = [_membership(u.id) for u in users]  # initials "" (before A7 existed)
        self._add(uow_factory, *memberships)
        with uow_factory() as uow:
            first = uow.memberships.update(memberships[0].with_initials("JD"))
            uow.memberships.update(first.with_initials(""))
            uow.memberships.update(memberships[1].with_roles([RoleId("secretary")]))
            uow.commit()
        with uow_factory() as uow:
            assert [m.initials for m in uow.memberships.list_for_establishment(_EST)] == [""] * 3

    def test_initials_released_by_an_update_can_be_taken_by_another_member(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        membership = _membership(first.id).with_initials("JD")
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            uow.memberships.update(membership.with_initials("JDu"))
            uow.commit()
        taker = _membership(second.id).with_initials("jd")
        self._add(uow_factory, taker)
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, second.id) == taker
            with pytest.raises(DuplicateInitials):  # the new initials are held
                uow.memberships.update(taker.with_initials("JDU"))

    def test_a_member_keeps_their_own_initials_when_updating_other_fields(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        member, supervisor = self._people(uow_factory, 2)
        membership = _membership(member.id, _EST, "trainee").with_initials("JD")
        self._add(uow_factory, membership)
        with uow_factory() as uow:
            first = uow.memberships.update(membership.with_supervisor(supervisor.id))
            second = uow.memberships.update(first.with_initials("Jd"))  # the same key
            third = uow.memberships.update(second.deactivate())
            uow.commit()
        assert third == attrs.evolve(
            membership,
            supervisor=supervisor.id,
            initials="Jd",
            status=MembershipStatus.DEACTIVATED,
            version=3,
        )
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, member.id) == third

    def test_refused_initials_writes_change_nothing_even_after_a_commit(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second, third = self._people(uow_factory, 3)
        holder = _membership(first.id).with_initials("JD")
        other = _membership(second.id).with_initials("AB")
        self._add(uow_factory, holder, other)
        with uow_factory() as uow:
            with pytest.raises(DuplicateInitials):
                uow.memberships.add(_membership(third.id).with_initials("jd"))
            with pytest.raises(DuplicateInitials):
                uow.memberships.update(other.with_initials("JD"))
            with pytest.raises(StaleRecord):
                uow.memberships.update(attrs.evolve(other, initials="XY", version=4))
            uow.commit()
        with uow_factory() as uow:
            assert uow.memberships.find(_EST, third.id) is None
            assert uow.memberships.list_for_user(third.id) == []
            assert uow.memberships.list_for_establishment(_EST) == sorted(
                [holder, other], key=lambda m: m.user_id
            )
            with pytest.raises(DuplicateInitials):  # not released by the refused update
                uow.memberships.add(_membership(third.id).with_initials("ab"))
        taker = _membership(third.id).with_initials("xy")  # not taken by the stale update
        self._add(uow_factory, taker)
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, third.id) == taker

    def test_rolled_back_initials_are_free_again_and_released_ones_held_again(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        first, second, third = self._people(uow_factory, 3)
        holder = _membership(first.id).with_initials("AB")
        self._add(uow_factory, holder)
        with uow_factory() as uow:
            uow.memberships.add(_membership(second.id).with_initials("JD"))
            uow.memberships.update(holder.with_initials("XY"))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.memberships.get(_EST, first.id) == holder
            with pytest.raises(DuplicateInitials):
                uow.memberships.add(_membership(third.id).with_initials("ab"))
        self._add(
            uow_factory,
            _membership(second.id).with_initials("jd"),
            _membership(third.id).with_initials("xy"),
        )
        with uow_factory() as uow:
            assert len(uow.memberships.list_for_establishment(_EST)) == 3

    # -- concurrency (A7: two administrators at once; B2: one INAMI person) ---------------

    def test_sixteen_concurrent_adds_of_the_same_initials_have_exactly_one_winner(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, _THREADS)

        def attempt(i: int, barrier: threading.Barrier) -> object:
            membership = _membership(users[i].id).with_initials("JD" if i % 2 else "jd")
            barrier.wait()
            with uow_factory() as uow:
                uow.memberships.add(membership)
                uow.commit()
            return membership

        results = self._race(attempt)
        winners, _refusals = _one_winner(results, Membership, DuplicateInitials)
        with uow_factory() as uow:
            assert uow.memberships.list_for_establishment(_EST) == winners

    def test_sixteen_concurrent_adds_of_one_inami_person_have_exactly_one_winner(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, _THREADS)
        number = sample_inami("005")

        def attempt(i: int, barrier: threading.Barrier) -> object:
            competence = "003" if i % 2 else "005"  # one person, trainee or recognised
            practitioner = _practitioner(users[i].id, _same_person(number, competence))
            barrier.wait()
            with uow_factory() as uow:
                uow.practitioners.add(practitioner)
                uow.commit()
            return practitioner

        results = self._race(attempt)
        winners, refusals = _one_winner(results, Practitioner, DuplicateIdentifier)
        assert {r.params["kind"] for r in refusals} == {"inami"}
        with uow_factory() as uow:
            stored = [uow.practitioners.find(u.id) for u in users]
        assert [p for p in stored if p is not None] == winners


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
