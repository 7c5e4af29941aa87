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
import inspect
import struct
import threading
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any, Generic, TypeVar, cast

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from hypothesis.strategies import SearchStrategy

from practiceid.adapters.keys import StaticKeyProvider
from practiceid.adapters.memory import InMemoryStore
from practiceid.audit import (
    AUDIT_KEY_PURPOSE,
    GENESIS,
    PLATFORM_CHAIN,
    AuditEvent,
    AuditRecord,
    ChainProblem,
    ChainVerification,
    DetailValue,
    Outcome,
    chain_of,
    key_lookup,
    verify_chain,
)
from practiceid.devices import (
    ClinicLogin,
    DeviceSession,
    DeviceSessionId,
    DeviceState,
    MemberCredential,
    PinGuard,
)
from practiceid.errors import (
    ClinicLoginNotFound,
    DeviceSessionInvalid,
    DuplicateEmail,
    DuplicateIdentifier,
    DuplicateInitials,
    DuplicateLogin,
    DuplicateMembership,
    DuplicateRecord,
    DuplicateUserId,
    EmailRejected,
    EstablishmentNotFound,
    FactorNotFound,
    KeyPairNotFound,
    LicenseNotFound,
    LoginRejected,
    MembershipNotFound,
    MessageNotFound,
    NotFound,
    OnboardingNotFound,
    OrganisationNotFound,
    PasswordMismatch,
    PermissionDenied,
    PracticeIdError,
    PractitionerNotFound,
    StaleRecord,
    StaleUser,
    UnitOfWorkError,
    UnknownKey,
    UnsupportedPasswordHash,
    UserNotFound,
)
from practiceid.establishment_profiles import EstablishmentProfile
from practiceid.establishments import (
    ROLE_TEMPLATES,
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
from practiceid.factors import Factor, FactorGuard, FactorId, FactorKind, FactorRequirement
from practiceid.hashing import Argon2idHasher, Argon2idParameters
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    TermsOfUse,
)
from practiceid.keypairs import KeyAlgorithm, KeyPair, KeyPairStatus
from practiceid.licenses import License, LicenseKind, LicenseRequest, LicenseStatus
from practiceid.memberships import Delegation, Membership, MembershipStatus
from practiceid.outbox import Message, MessageId, MessageStatus
from practiceid.permissions import Feature
from practiceid.policies import initials as initials_policy
from practiceid.policies.contact import Address, AddressKind
from practiceid.policies.email import EmailAddress, EmailPolicy
from practiceid.policies.identifiers import adeli, bce, finess, iban, inami, niss, rpps
from practiceid.policies.identifiers._common import luhn_check_digit
from practiceid.policies.identifiers.adeli import AdeliNumber
from practiceid.policies.identifiers.bce import BceNumber
from practiceid.policies.identifiers.finess import FinessKind
from practiceid.policies.identifiers.iban import BelgianIban
from practiceid.policies.identifiers.niss import NissNumber
from practiceid.policies.identifiers.rpps import RppsNumber
from practiceid.policies.login import Login, LoginPolicy
from practiceid.policies.logo import MAX_BYTES, MAX_SIDE, parse_logo
from practiceid.policies.professions import Profession
from practiceid.ports.audit import KeyProvider
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.devices import DeviceUnitOfWork, DeviceUnitOfWorkFactory
from practiceid.ports.establishments import AccessUnitOfWork, AccessUnitOfWorkFactory
from practiceid.ports.factors import FactorUnitOfWork, FactorUnitOfWorkFactory
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.licenses import LicenseUnitOfWork, LicenseUnitOfWorkFactory
from practiceid.ports.onboarding import OnboardingUnitOfWork, OnboardingUnitOfWorkFactory
from practiceid.ports.users import UnitOfWork, UnitOfWorkFactory
from practiceid.practitioners import (
    BillingData,
    EdmgRegistration,
    EHealthCertificate,
    HubRegion,
    Mutuality,
    Practitioner,
    PractitionerSettings,
)
from practiceid.testing import sample_inami, sample_jpeg, sample_png, sample_user
from practiceid.users import AccountKind, User, UserId, UserStatus, clean_profile

__all__ = [
    "AccessRepositoriesContract",
    "AuditLogContract",
    "AuthorizerContract",
    "ClockContract",
    "DeviceRepositoriesContract",
    "FactorRepositoriesContract",
    "LicenseRepositoriesContract",
    "OnboardingRepositoriesContract",
    "PasswordHasherContract",
    "ProfileRepositoriesContract",
    "UserRepositoryContract",
]

_THREADS = 16
_W = TypeVar("_W")
_T = TypeVar("_T")
_U = TypeVar("_U", bound=UnitOfWork)


class UserRepositoryContract:
    """The :class:`~practiceid.ports.UserRepository` and unit-of-work contract (A1, A2, A6).

    ``login_policy`` is the policy the host's services use (the default one unless set):
    the suite stores the longest logins it accepts.
    """

    login_policy = LoginPolicy()

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

    def test_users_with_the_longest_accepted_values_round_trip_field_by_field(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        # The policies count code points of the NFKC form (logins), UTF-8 bytes (e-mail
        # addresses) and code points (names): columns must hold the longest of each. The
        # bold login's display form has twice the code points the login policy counts: 508
        # (1,524 UTF-8 bytes) for the default 254.
        first_name, last_name, job_title = clean_profile(
            first_name=_long_text("Zoë-Åsa Ωμέγα Жанна 王秀英 𠀋 👩‍⚕️ "),
            last_name=_long_text("O'Neil-محمد-כהן-अर्जुन-Nguyễn-"),
            job_title=_long_text("Médecin généraliste · طبيب عام · 全科医生 · 🩺 · "),
        )
        assert len(first_name) == len(last_name) == len(job_title) == 100
        ascii_email, unicode_email = _longest_emails()
        latin = sample_user(
            login=_longest_login(self.login_policy, "dr.Élodie-Lefèvre_Ørsted+ẞ'"),
            email=ascii_email,
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            created_at=datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=_NEWFOUNDLAND),
            status=UserStatus.DEACTIVATED,
            password_hash=_long_password_hash(),
        )
        bold = sample_user(
            login=_longest_login(self.login_policy, _BOLD_ACCENTED),
            email=unicode_email,
            first_name=last_name,
            last_name=first_name,
            job_title=job_title,
            created_at=datetime(2026, 3, 29, 2, 0, 0, 1, tzinfo=UTC),
            password_hash=_long_password_hash(),
        )
        assert len(bold.login.display) == 2 * self.login_policy.max_length
        self._add(uow_factory, latin, bold)
        with uow_factory() as uow:
            for user in (latin, bold):
                _assert_same(uow.users.get(user.id), user, "get")
                _assert_same(uow.users.find_by_login(Login(user.login.key)), user, "by login")
                _assert_same(
                    uow.users.find_by_email(EmailAddress(user.email.key)), user, "by e-mail"
                )
            by_key = sorted([latin, bold], key=lambda u: u.login.key)
            _assert_same(list(uow.users.list()), by_key, "list")

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

    # -- against a model and against the in-memory store -----------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        _run_against_memory(_UsersAgreeWithMemory, self.make_unit_of_work_factory)

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
    product: ProductKind = ProductKind.GENERAL_PRACTICE,
) -> Establishment:
    return Establishment.open(
        establishment_id,
        organisation_id=organisation_id,
        name=name,
        product=product,
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


def _add_record(uow: AccessUnitOfWork, record: _Record) -> None:
    """Add ``record`` through the repository of its kind."""
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


def _attempt(call: Callable[[], _T]) -> _T | PracticeIdError:
    """Return what ``call`` returns, or the practiceid error it raises."""
    try:
        return call()
    except PracticeIdError as error:
        return error


def _assert_same(actual: object, expected: object, where: str = "value") -> None:
    """Assert that ``actual`` has every field of ``expected``, of the same types.

    ``==`` on practiceid's values ignores some fields: a login's display form, an e-mail
    address as typed, an IBAN's BIC, an identifier's notices or verified key. This compares
    them too, recursively, and the types of the values (a ``Permission``, not its code).
    Datetimes compare as instants and must be timezone-aware: an adapter may give them back
    in UTC, or in the offset they were stored with.
    """
    if actual is expected:
        return
    if isinstance(expected, datetime):
        assert isinstance(actual, datetime), f"{where}: {actual!r} is not a datetime"
        assert actual.utcoffset() is not None, f"{where}: {actual!r} came back naive"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
        return
    assert type(actual) is type(expected), (
        f"{where}: a {type(actual).__name__} ({actual!r}) instead of a "
        f"{type(expected).__name__} ({expected!r})"
    )
    kind = type(expected)
    if attrs.has(kind):
        for field in attrs.fields(kind):
            if not field.name.startswith("_"):  # private caches, derived from the fields
                name = field.name
                _assert_same(getattr(actual, name), getattr(expected, name), f"{where}.{name}")
    elif isinstance(expected, Mapping):
        assert isinstance(actual, Mapping)
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key, value in expected.items():
            _assert_same(actual[key], value, f"{where}[{key!r}]")
    elif isinstance(expected, tuple | list):
        assert isinstance(actual, tuple | list)
        assert len(actual) == len(expected), f"{where}: {len(actual)} items, not {len(expected)}"
        for i, (item, wanted) in enumerate(zip(actual, expected, strict=True)):
            _assert_same(item, wanted, f"{where}[{i}]")
    elif isinstance(expected, frozenset | set):
        assert isinstance(actual, frozenset | set)
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
        stored = {item: item for item in actual}
        for wanted in expected:
            _assert_same(stored[wanted], wanted, f"{where}{{{wanted!r}}}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _assert_agree(actual: object, expected: object, operation: str) -> None:
    """Assert that the adapter's outcome of ``operation`` is the in-memory store's.

    Either the same value (:func:`_assert_same`), or the same error with the same code and
    params. Every param counts, those the documentation does not list too (``StaleRecord``
    also names the parts of the id: ``organisation_id``, ``establishment_id``,
    ``user_id``): a host written against one store must read the same refusal from another.
    Where several refusals apply, the adapter gives the in-memory store's: the id before
    the login, the login before the e-mail address; the (establishment, user) pair before
    the initials; a user's practitioner record before their numbers, and the first kind in
    alphabetical order among the numbers others hold; on update, a missing record, then a
    stale version, then a uniqueness conflict, as for users.
    """
    if isinstance(actual, PracticeIdError) or isinstance(expected, PracticeIdError):
        shown = f"{operation}: the adapter gave {actual!r}, the in-memory store {expected!r}"
        assert type(actual) is type(expected), shown
        assert isinstance(actual, PracticeIdError), shown
        assert isinstance(expected, PracticeIdError), shown
        assert actual.code == expected.code, shown
        assert dict(actual.params) == dict(expected.params), shown
        return
    _assert_same(actual, expected, operation)


def _race_in_threads(
    attempt: Callable[[int, threading.Barrier], object], count: int = _THREADS
) -> list[object]:
    """Run ``attempt`` in ``count`` threads (16); return what each returned or raised."""
    barrier = threading.Barrier(count, timeout=_BARRIER_TIMEOUT)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = attempt(i, barrier)
        except Exception as error:  # noqa: BLE001 - the test inspects what was raised
            results[i] = error

    running = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in running:
        thread.start()
    for thread in running:
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
                _add_record(uow, record)
            uow.commit()

    def _practice(self, factory: AccessUnitOfWorkFactory, *members: User) -> Establishment:
        """Store an owner, the organisation, the establishment :data:`_EST` and ``members``."""
        owner = sample_user(id=UserId("owner"))
        establishment = _establishment()
        self._add(factory, owner, _organisation(owner=owner.id), establishment, *members)
        return establishment

    def _people(self, factory: AccessUnitOfWorkFactory, count: int) -> list[User]:
        """Store the practice and ``count`` users; return the users."""
        users = [sample_user() for _ in range(count)]
        self._practice(factory, *users)
        return users


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

    def test_organisation_with_many_owners_and_the_longest_unicode_name_round_trips(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owners = [sample_user() for _ in range(12)]
        organisation = Organisation.found(
            OrganisationId("org-saint-eloi"),
            name=_long_text("Groupe médical Saint-Éloi · Ωμέγα · 王秀英 · 👩‍⚕️ · "),
            owner=owners[0].id,
            created_at=datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=_BRUSSELS_SUMMER),
        ).with_owners(owner.id for owner in owners)
        assert len(organisation.name) == 100
        self._add(uow_factory, *owners, organisation)
        with uow_factory() as uow:
            _assert_same(uow.organisations.get(organisation.id), organisation, "get")
            _assert_same(list(uow.organisations.list()), [organisation], "list")
            for owner in owners:
                listed = list(uow.organisations.list(owner=owner.id))
                _assert_same(listed, [organisation], f"list(owner={owner.id})")

    def test_establishment_with_every_role_and_the_longest_unicode_names_round_trips(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner = sample_user()
        organisation = _organisation(owner=owner.id)
        establishment = _fullest_establishment(organisation.id)
        assert len(establishment.name) == 100
        assert frozenset().union(*(r.permissions for r in establishment.roles)) == set(Permission)
        others = [_establishment(EstablishmentId(f"est-{p.value}"), product=p) for p in ProductKind]
        self._add(uow_factory, owner, organisation, establishment, *others)
        everything = sorted([establishment, *others], key=lambda e: e.id)
        with uow_factory() as uow:
            stored = uow.establishments.get(establishment.id)
            _assert_same(stored, establishment, "get")
            _assert_same(list(uow.establishments.list()), everything, "list")
            listed = list(uow.establishments.list(organisation_id=organisation.id))
            _assert_same(listed, everything, "list(organisation_id)")
        assert [r.id for r in stored.roles] == [r.id for r in establishment.roles]  # in order
        assert stored.role(RoleId("observer")).permissions == frozenset()

    def test_membership_with_every_field_at_its_fullest_round_trips(
        self, uow_factory: AccessUnitOfWorkFactory
    ) -> None:
        owner, member, supervisor, *physicians = [sample_user() for _ in range(7)]
        organisation = _organisation(owner=owner.id)
        establishment = _fullest_establishment(organisation.id)
        initials, problems = initials_policy.clean("ÉØ𝐉Ω.王ß2")
        assert not problems
        assert len(initials) == initials_policy.MAX_LENGTH
        membership = Membership(
            user_id=member.id,
            establishment_id=establishment.id,
            created_at=datetime(2028, 2, 29, 23, 59, 59, 999999, tzinfo=_KATHMANDU),
            roles=[role.id for role in establishment.roles],
            status=MembershipStatus.DEACTIVATED,
            departments=[department.id for department in establishment.departments],
            delegations=[
                Delegation(physician.id, inherit_features=n % 2 == 0)
                for n, physician in enumerate(physicians)
            ],
            features=[*Feature, _LONGEST_FEATURE, *(f"labs.orders_{n}" for n in range(12))],
            created_account=True,
            initials=initials,
            supervisor=supervisor.id,
        )
        users = [owner, member, supervisor, *physicians]
        self._add(uow_factory, *users, organisation, establishment, membership)
        with uow_factory() as uow:
            key = (establishment.id, member.id)
            _assert_same(uow.memberships.get(*key), membership, "get")
            _assert_same(uow.memberships.find(*key), membership, "find")
            _assert_same(list(uow.memberships.list_for_user(member.id)), [membership], "for user")
            gone = uow.memberships.list_for_establishment(
                establishment.id, status=MembershipStatus.DEACTIVATED
            )
            _assert_same(list(gone), [membership], "deactivated members")

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

    # -- against the in-memory store -------------------------------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        _run_against_memory(_AccessAgreesWithMemory, self.make_unit_of_work_factory)

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


def _iban(seed: int, bank: str = "320") -> BelgianIban:
    """A made-up Belgian IBAN, one per ``seed``, at bank code 320 (a BIC is known for it).

    At bank code 999 no BIC is known: the IBAN carries ``bic=None`` and a notice.
    """
    head = f"{bank}{seed:07d}"
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


# -- the fullest values the library accepts ----------------------------------------------------

_BRUSSELS_SUMMER = timezone(timedelta(hours=2))
_NEWFOUNDLAND = timezone(timedelta(hours=-2, minutes=-30))
_KATHMANDU = timezone(timedelta(hours=5, minutes=45))
# A bold letter and an accent: two code points, one character of the NFKC form that the login
# policy counts. The longest login made of them holds twice as many code points as the limit.
_BOLD_ACCENTED = ("𝐄\u0301", "𝐨\u0302", "𝐢\u0308", "𝐞\u0301", "𝐧\u0303", "𝐚\u0300")
# Four dotted words of 40 characters: the longest feature code.
_LONGEST_FEATURE = ".".join(word.ljust(40, "_") for word in ("hospital", "records", "send", "x9"))


def _long_text(pattern: str, length: int = 100) -> str:
    """``pattern`` repeated to ``length`` code points (100: the most a name holds).

    Ends on a letter, not on a space that trimming would remove.
    """
    text = (pattern * length)[:length]
    if text[-1].isspace():
        text = text[:-1] + "é"
    assert unicodedata.is_normalized("NFC", text)
    return text


def _longest_login(policy: LoginPolicy, characters: Sequence[str]) -> Login:
    """The longest login ``policy`` accepts, cycling through ``characters``.

    Each item is one character of the NFKC form, which the policy counts.
    """
    text = "".join(characters[i % len(characters)] for i in range(policy.max_length))
    with pytest.raises(LoginRejected):
        policy.parse(text + characters[0])
    return policy.parse(text)


def _longest_email(local_part: str, *labels: str) -> EmailAddress:
    """The address, which the e-mail policy accepts, but not with one more ``a`` in it."""
    policy = EmailPolicy()
    address = f"{local_part}@{'.'.join(labels)}"
    with pytest.raises(EmailRejected):
        policy.parse(f"{local_part}@{'.'.join(labels[:-2])}.{labels[-2]}a.{labels[-1]}")
    email = policy.parse(address)
    assert email.address == address  # already in its normal form
    return email


def _longest_emails() -> tuple[EmailAddress, EmailAddress]:
    """Two addresses of the longest the e-mail policy accepts (254 UTF-8 bytes).

    One of 254 ASCII characters, 64 of them before the ``@`` (the most there); one with
    Latin, Greek, Han and an emoji before the ``@`` and an internationalized domain, whose
    IDNA form makes it 254 bytes long.
    """
    local_part = ("Dr.Elodie.Lefevre-Orsted+cabinet." * 2)[:64]
    ascii_address = _longest_email(local_part, "a" * 63, "b" * 63, "c" * 58, "be")
    unicode_part = ".".join(["Élodie", "Ωμέγα", "王秀英", "😀"] * 3 + ["Élodie"])
    unicode_address = _longest_email(unicode_part, "exämple-cabinet", "a" * 63, "a" * 54, "be")
    return ascii_address, unicode_address


def _long_password_hash() -> str:
    """A real Argon2id PHC string of 798 characters: a 64-byte salt and a 512-byte hash."""
    parameters = Argon2idParameters(
        memory_cost=64, iterations=1, lanes=1, salt_length=64, hash_length=512
    )
    hasher = Argon2idHasher(parameters, unsafe_allow_weak_parameters_for_tests=True)
    return hasher.hash("Vrai-Cheval-Agrafe-42")


def _fullest_establishment(organisation_id: OrganisationId) -> Establishment:
    """An establishment with every template role, custom roles and departments, long names.

    Every template role of every product (a dental centre's, and the veterinary nurse), a
    custom role holding every permission, one holding none; departments with every
    :class:`~practiceid.permissions.Feature` and more, the longest feature code among them.
    Names have 100 characters, the most, in several scripts.
    """
    establishment = Establishment.open(
        EstablishmentId("est-saint-eloi"),
        organisation_id=organisation_id,
        name=_long_text("Maison médicale d'Écaussinnes · Ωμέγα · 王秀英 · 🩺 · "),
        product=ProductKind.DENTAL,
        created_at=datetime(2025, 10, 26, 2, 30, 0, 500001, tzinfo=_KATHMANDU),
    )
    for product in ProductKind:
        for template in ROLE_TEMPLATES[product]:
            if establishment.find_role(RoleId(template.key)) is None:
                establishment = establishment.with_role(template.role())
    for role in (
        Role.custom(
            _long_text("Coordinatrice de soins · Ωμέγα · 王秀英 · 🩺 · "),
            list(Permission),
            role_id=RoleId("coordinator"),
        ),
        Role.custom("Observatrice", [], role_id=RoleId("observer")),
        Role.custom("Kinésithérapeute", [Permission.AGENDA_VIEW], role_id=RoleId("physio")),
    ):
        establishment = establishment.with_role(role)
    features = [*Feature, _LONGEST_FEATURE, *(f"labs.orders_{n}" for n in range(12))]
    for department in (
        Department.create(
            _long_text("Pédiatrie et néonatologie · Παιδιατρική · 小儿科 · 👶 · "),
            features,
            department_id=DepartmentId("paediatrics"),
        ),
        Department.create("Accueil", department_id=DepartmentId("desk")),
        Department.create("Cardiologie", ["ehr.integration"], department_id=DepartmentId("cardio")),
    ):
        establishment = establishment.with_department(department)
    return establishment


def _largest_png() -> bytes:
    """A PNG at the logo policy's limits: ``MAX_SIDE`` pixels square, ``MAX_BYTES`` long.

    :func:`~practiceid.testing.sample_png` compresses to a few kilobytes at that size: a
    private ancillary chunk (``prVt``, which PNG readers skip) of every byte value fills it.
    """
    image = sample_png(MAX_SIDE, MAX_SIDE)
    head, end = image[:-12], image[-12:]  # IEND: length, type and CRC, no data
    room = MAX_BYTES - len(image) - 12  # the new chunk's length, type and CRC
    data = (bytes(range(256)) * (room // 256 + 1))[:room]
    chunk = struct.pack(">I", room) + b"prVt" + data + struct.pack(">I", zlib.crc32(b"prVt" + data))
    return head + chunk + end


def _inami_of_modulus_89(competence: str) -> str:
    """A made-up INAMI number whose check digits follow modulus 89 only, not 97."""
    for _ in range(100):
        number = sample_inami(competence, modulus=89)
        if inami.parse(number).modulus == 89:
            return number
    raise AssertionError("no INAMI number of modulus 89 in a hundred tries")


# -- the adapter against the in-memory store ---------------------------------------------------

_USER_IDS = tuple(UserId(f"user-{name}") for name in ("anna", "bert", "chloe", "dirk"))
# Five login keys and five e-mail keys for four ids, most also in another case or width.
_MORE_LOGINS = (*_LOGINS, "delta", "Échos", "ÉCHOS")
_MORE_EMAILS = (*_EMAILS, "d@cabinet.be", "é@cabinet.be", "É@CABINET.BE")
_ORGANISATION_IDS = (OrganisationId("org-nord"), OrganisationId("org-sud"))
_ESTABLISHMENT_IDS = tuple(EstablishmentId(f"est-{name}") for name in ("ans", "bree", "ciney"))
_INITIALS = ("", "JD", "jd", "ＪＤ", "AB", "ab", "ÉdB")
_TEMPLATE_ROLES = (RoleId("physician"), RoleId("secretary"), RoleId("trainee"))
_DEPARTMENTS = (
    Department.create("Cardiologie", ["ehr.integration"], department_id=DepartmentId("cardio")),
    Department.create("Accueil", department_id=DepartmentId("desk")),
)
_CUSTOM_ROLES = (
    Role.custom("Coordinatrice", [Permission.USERS_VIEW], role_id=RoleId("coordinator")),
    Role.custom("Kinésithérapeute", [Permission.AGENDA_VIEW], role_id=RoleId("physio")),
)
_NISS_NUMBERS = (None, _niss(1), _niss(2))
_RPPS_NUMBERS = (None, _rpps(1), _rpps(2))
_ADELI_NUMBERS = (None, _adeli(1))
# Indexes into the pools of numbers above; no number is likelier than any one number.
_OTHER_NUMBERS = st.tuples(
    st.sampled_from((0, 0, 1, 2)), st.sampled_from((0, 0, 1, 2)), st.sampled_from((0, 0, 1))
)
_SOME_HASH = "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"
# Mostly the version read; sometimes a stale one, or one from the future.
_VERSION_SHIFTS = st.sampled_from((0, 0, 0, -1, 1))
# Updates mostly target a stored record, adds a free id; sometimes the one drawn is kept.
_ANY_RECORD = st.sampled_from((False, False, False, True))
_DIFFERENTIAL_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,  # shrinking one disagreement is slow enough
)


def _shifted(version: int, shift: int) -> int:
    """``version + shift``, never negative: a stale version of version 0 is one ahead."""
    return version + shift if version + shift >= 0 else version + 1


def _target(wanted: _T, stored: Sequence[_T], *, any_record: bool) -> _T:
    """What an update writes to: ``wanted`` if stored or asked for, else a stored record."""
    if any_record:
        return wanted
    chosen = _pick(wanted, stored)
    return wanted if chosen is None else chosen


def _spread(wanted: object, choices: Sequence[_T]) -> _T:
    """One of ``choices``, chosen by ``wanted``: the same one on every run."""
    return choices[zlib.crc32(repr(wanted).encode()) % len(choices)]


def _free(wanted: _T, stored: Sequence[_T], pool: Sequence[_T], *, any_record: bool) -> _T:
    """What an add writes: ``wanted`` if free or asked for, else a free id of ``pool``."""
    free = [other for other in pool if other not in stored]
    if any_record or wanted not in stored or not free:
        return wanted
    return _spread(wanted, free)


def _pick(
    wanted: _T,
    stored: Sequence[_T],
    *,
    taken: Sequence[_T] = (),
    any_record: bool = True,
) -> _T | None:
    """A stored record for a new one to point at: ``wanted`` if stored, else another one.

    A record only points at stored records (an SQL adapter may enforce foreign keys). Unless
    ``any_record``, one that is not ``taken`` is preferred (a user who is not yet a member,
    an establishment without a profile), so that adds are not all duplicates. ``None``
    when nothing is stored.
    """
    if not stored:
        return None
    chosen = wanted if wanted in stored else _spread(wanted, stored)
    free = [other for other in stored if other not in taken]
    if any_record or chosen not in taken or not free:
        return chosen
    return _spread(wanted, free)


_OPERATION = "_differential_operation"


def _operation(
    *, weight: int = 1, **arguments: SearchStrategy[Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a method of a differential machine as an operation, drawn with ``arguments``.

    A machine has one rule, ``step``, that runs one operation drawn from all of them
    (:func:`_operations`): Hypothesis would otherwise enable a random subset of the rules
    in each example, and most of 25 examples would make no progress (memberships without
    users, rollbacks without writes).
    """

    def mark(method: Callable[..., None]) -> Callable[..., None]:
        setattr(method, _OPERATION, (weight, arguments))
        return method

    return mark


def _operations(machine: type) -> SearchStrategy[tuple[str, dict[str, Any]]]:
    """One of the operations of ``machine``, as its name and arguments."""
    choices: list[SearchStrategy[tuple[str, dict[str, Any]]]] = []
    for name, member in sorted(inspect.getmembers(machine), key=lambda pair: pair[0]):
        marked = getattr(member, _OPERATION, None)
        if marked is not None:
            weight, arguments = marked
            choices += [st.tuples(st.just(name), st.fixed_dictionaries(arguments))] * weight
    return st.one_of(choices)


class _AgreesWithMemory(RuleBasedStateMachine, Generic[_U]):
    """Users written to an adapter and to the in-memory store by the same random operations.

    Each operation runs in the open unit of work of both stores (one is opened when none
    is), and their outcomes must agree (:func:`_assert_agree`). A unit of work holds several
    operations and ends with a commit, a rollback, or by leaving its block without either,
    with or without an exception, so mixes of accepted, refused and undone writes are
    compared. Pools of ids, logins and e-mail addresses are small: collisions are frequent.
    Reads (``get``, ``find``, lists with their filters) are operations too, and after every
    step both stores list the same records, inside the open unit of work if there is one.
    """

    make_factory: Callable[[], Callable[[], _U]]  # set by _run_against_memory

    def __init__(self) -> None:
        super().__init__()
        self.factory = self.make_factory()
        self.reference_factory = cast("Callable[[], _U]", InMemoryStore().unit_of_work)
        self.open: tuple[ExitStack, _U, _U] | None = None

    # -- running an operation in both stores ------------------------------------------------

    def _pair(self) -> tuple[_U, _U]:
        """The open units of work (the adapter's, the in-memory store's); open them if none."""
        if self.open is None:
            stack = ExitStack()
            adapter = cast("_U", stack.enter_context(self.factory()))
            reference = cast("_U", stack.enter_context(self.reference_factory()))
            self.open = (stack, adapter, reference)
        return self.open[1], self.open[2]

    def _both(self, operation: str, call: Callable[[_U], object]) -> None:
        """Run ``call`` in both open units of work; assert that the outcomes agree."""
        adapter, reference = self._pair()
        expected = _attempt(partial(call, reference))
        actual = _attempt(partial(call, adapter))
        _assert_agree(actual, expected, operation)

    def _stored(self, read: Callable[[_U], _T]) -> _T | None:
        """What ``read`` finds in the in-memory store's open unit of work, or ``None``."""
        try:
            return read(self._pair()[1])
        except NotFound:
            return None

    def _user_ids(self) -> list[UserId]:
        return [user.id for user in self._pair()[1].users.list()]

    def _run(self, operation: tuple[str, dict[str, Any]]) -> None:
        name, arguments = operation
        getattr(self, name)(**arguments)

    def _leave(self, error: Exception | None) -> None:
        assert self.open is not None
        stack = self.open[0]
        self.open = None
        if error is None:
            stack.close()
        else:
            stack.__exit__(type(error), error, error.__traceback__)

    def teardown(self) -> None:
        if self.open is not None:
            self._leave(None)

    # -- units of work ----------------------------------------------------------------------

    @_operation(
        weight=3,  # a unit of work holds a few operations, not dozens
        how=st.sampled_from(("commit", "commit and leave", "rollback", "leave", "raise")),
    )
    def finish(self, *, how: str) -> None:
        """Commit or roll back (the unit of work stays open), or leave the block."""
        self._pair()  # an empty unit of work, when none is open
        if how.startswith("commit"):
            self._both("commit()", lambda uow: uow.commit())
        elif how == "rollback":
            self._both("rollback()", lambda uow: uow.rollback())
        if how in {"commit and leave", "leave"}:
            self._leave(None)
        elif how == "raise":
            self._leave(RuntimeError("raised inside the block"))

    # -- users ------------------------------------------------------------------------------

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        login=st.sampled_from(_MORE_LOGINS),
        email=st.sampled_from(_MORE_EMAILS),
        status=st.sampled_from(UserStatus),
        hashed=st.booleans(),
        any_record=_ANY_RECORD,
    )
    def add_user(
        self,
        *,
        user_id: UserId,
        login: str,
        email: str,
        status: UserStatus,
        hashed: bool,
        any_record: bool,
    ) -> None:
        user_id = _free(user_id, self._user_ids(), _USER_IDS, any_record=any_record)
        user = sample_user(
            id=user_id,
            login=Login(login),
            email=EmailAddress(email),
            status=status,
            password_hash=_SOME_HASH if hashed else None,
        )
        self._both(f"users.add({user!r})", lambda uow: uow.users.add(user))

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        login=st.none() | st.sampled_from(_MORE_LOGINS),
        email=st.none() | st.sampled_from(_MORE_EMAILS),
        status=st.none() | st.sampled_from(UserStatus),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_user(
        self,
        *,
        user_id: UserId,
        login: str | None,
        email: str | None,
        status: UserStatus | None,
        shift: int,
        any_record: bool,
    ) -> None:
        user_id = _target(user_id, self._user_ids(), any_record=any_record)
        current = self._stored(lambda uow: uow.users.get(user_id)) or sample_user(id=user_id)
        changed = attrs.evolve(
            current,
            login=current.login if login is None else Login(login),
            email=current.email if email is None else EmailAddress(email),
            status=current.status if status is None else status,
            version=_shifted(current.version, shift),
        )
        self._both(f"users.update({changed!r})", lambda uow: uow.users.update(changed))

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        login=st.sampled_from(_MORE_LOGINS),
        email=st.sampled_from(_MORE_EMAILS),
        status=st.none() | st.sampled_from(UserStatus),
    )
    def read_users(
        self, *, user_id: UserId, login: str, email: str, status: UserStatus | None
    ) -> None:
        self._both(f"users.get({user_id})", lambda uow: uow.users.get(user_id))
        self._both(
            f"users.find_by_login({login})", lambda uow: uow.users.find_by_login(Login(login))
        )
        self._both(
            f"users.find_by_email({email})",
            lambda uow: uow.users.find_by_email(EmailAddress(email)),
        )
        self._both(f"users.list(status={status})", lambda uow: list(uow.users.list(status=status)))

    # -- what both stores hold --------------------------------------------------------------

    @invariant()
    def both_stores_hold_the_same_records(self) -> None:
        if self.open is not None:
            self._compare_contents(self.open[1], self.open[2])
            return
        with self.factory() as adapter, self.reference_factory() as reference:
            self._compare_contents(adapter, reference)

    def _compare_contents(self, adapter: _U, reference: _U) -> None:
        expected = self._contents(reference)
        actual = self._contents(adapter)
        for read, outcome in expected.items():
            _assert_agree(actual[read], outcome, read)

    def _contents(self, uow: _U) -> dict[str, object]:
        """Every record of the store, by the read that gave it."""
        return {"users.list()": list(uow.users.list())}


class _UsersAgreeWithMemory(_AgreesWithMemory[UnitOfWork]):
    """The user repository of an adapter against the in-memory store's."""

    @rule(operation=st.deferred(lambda: _operations(_UsersAgreeWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)


class _AccessAgreesWithMemory(_AgreesWithMemory[AccessUnitOfWork]):
    """Every repository of an access unit of work against the in-memory store's.

    Records are added after those they point at (users, organisation and establishment
    before a membership; a user before their practitioner data; an establishment before its
    profile; owners, delegates and supervisors among stored users): an operation that would
    point at a missing record points at a stored one instead, or is skipped. Numbers come
    from small pools too: two INAMI persons (one of them also as a trainee, ``…005``), two
    NISS, two RPPS and one ADELI number.
    """

    def __init__(self) -> None:
        super().__init__()
        first, second = sample_inami("003"), sample_inami("003")
        self.inami_numbers = (None, first, _same_person(first, "005"), second)
        self.profile_changes: tuple[dict[str, Any], ...] = (
            {},
            {
                "logo": parse_logo(sample_png()),
                "trainee_account": _iban(1),
                "enterprise_number": _bce(1),
                "updated_at": _PROFILED,
            },
            {
                "logo": parse_logo(sample_jpeg()),
                "inami": inami.parse(sample_inami("000", profession="7")),
                "finess": finess.parse(_luhn("75000001"), kind=FinessKind.EG),
            },
        )

    def _establishment_ids(self) -> list[EstablishmentId]:
        return [e.id for e in self._pair()[1].establishments.list()]

    def _add(self, record: _Record) -> None:
        self._both(f"add({record!r})", lambda uow: _add_record(uow, record))

    @rule(operation=st.deferred(lambda: _operations(_AccessAgreesWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)

    @initialize(seeded=st.sampled_from((False, True, True, True)))
    def seed(self, *, seeded: bool) -> None:
        """Sometimes start from a stored practice, so that updates and collisions come sooner."""
        if not seeded:
            return
        anna, bert, chloe, _dirk = _USER_IDS
        logins = ("ALPHA", "Bravo", "ｃｈａｒｌｉｅ", "delta")  # display forms, not keys
        emails = ("A@Cabinet.BE", "b@cabinet.be", "C@CABINET.be", "d@cabinet.be")
        for user_id, login, email in zip(_USER_IDS, logins, emails, strict=True):
            self._add(sample_user(id=user_id, login=Login(login), email=EmailAddress(email)))
        ans, ciney = _ESTABLISHMENT_IDS[0], _ESTABLISHMENT_IDS[2]
        self._add(_organisation(_ORGANISATION_IDS[0], owner=anna))
        self._add(_establishment(ciney, organisation_id=_ORGANISATION_IDS[0]))
        self._add(_establishment(ans, organisation_id=_ORGANISATION_IDS[0]))
        self._add(_membership(anna, ciney))
        self._add(_membership(anna, ans).with_initials("JD"))
        self._add(_membership(bert, ans, "secretary").with_initials("ＡＢ"))  # full width
        self._add(_membership(chloe, ans, "trainee"))
        self._add(self._practitioner(anna, 1, (0, 0, 1)))
        self._add(self._practitioner(bert, 0, (1, 1, 0)))
        self._add(_profile(ans))
        self.finish(how="commit and leave")

    # -- organisations and establishments ---------------------------------------------------

    @_operation(
        organisation_id=st.sampled_from(_ORGANISATION_IDS),
        owners=st.frozensets(st.sampled_from(_USER_IDS), max_size=2),
        name=st.sampled_from(("Groupe des Tilleuls", "Groupe du Sud")),
    )
    def add_organisation(
        self, *, organisation_id: OrganisationId, owners: frozenset[UserId], name: str
    ) -> None:
        stored = owners & frozenset(self._user_ids())
        self._add(Organisation(id=organisation_id, name=name, owners=stored, created_at=_OPENED))

    @_operation(
        organisation_id=st.sampled_from(_ORGANISATION_IDS),
        owners=st.frozensets(st.sampled_from(_USER_IDS), max_size=2),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_organisation(
        self,
        *,
        organisation_id: OrganisationId,
        owners: frozenset[UserId],
        shift: int,
        any_record: bool,
    ) -> None:
        stored = [o.id for o in self._pair()[1].organisations.list()]
        organisation_id = _target(organisation_id, stored, any_record=any_record)
        current = self._stored(lambda uow: uow.organisations.get(organisation_id))
        if current is None:  # unknown: refused
            current = Organisation(
                id=organisation_id, name="Groupe inconnu", owners=(), created_at=_OPENED
            )
        changed = attrs.evolve(
            current,
            owners=owners & frozenset(self._user_ids()),
            version=_shifted(current.version, shift),
        )
        self._both(
            f"organisations.update({changed!r})", lambda uow: uow.organisations.update(changed)
        )

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        organisation_id=st.sampled_from(_ORGANISATION_IDS),
        product=st.sampled_from(ProductKind),
        department=st.none() | st.sampled_from(_DEPARTMENTS),
    )
    def add_establishment(
        self,
        *,
        establishment_id: EstablishmentId,
        organisation_id: OrganisationId,
        product: ProductKind,
        department: Department | None,
    ) -> None:
        stored = [o.id for o in self._pair()[1].organisations.list()]
        chosen = _pick(organisation_id, stored)
        if chosen is None:
            return
        establishment = _establishment(establishment_id, organisation_id=chosen, product=product)
        if department is not None:
            establishment = establishment.with_department(department)
        self._add(establishment)

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        change=st.none() | st.sampled_from(_DEPARTMENTS) | st.sampled_from(_CUSTOM_ROLES),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_establishment(
        self,
        *,
        establishment_id: EstablishmentId,
        change: Department | Role | None,
        shift: int,
        any_record: bool,
    ) -> None:
        establishment_id = _target(
            establishment_id, self._establishment_ids(), any_record=any_record
        )
        current = self._stored(lambda uow: uow.establishments.get(establishment_id))
        changed = current or _establishment(establishment_id)  # unknown: refused
        if isinstance(change, Department):
            changed = changed.with_department(change)
        elif isinstance(change, Role):
            changed = changed.with_role(change)
        changed = attrs.evolve(changed, version=_shifted(changed.version, shift))
        self._both(
            f"establishments.update({changed!r})",
            lambda uow: uow.establishments.update(changed),
        )

    # -- memberships ------------------------------------------------------------------------

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        user_id=st.sampled_from(_USER_IDS),
        roles=st.frozensets(st.sampled_from(_TEMPLATE_ROLES), max_size=2),
        initials=st.sampled_from(_INITIALS),
        status=st.sampled_from(MembershipStatus),
        created_account=st.booleans(),
        delegate=st.none() | st.sampled_from(_USER_IDS),
        supervisor=st.none() | st.sampled_from(_USER_IDS),
        any_record=_ANY_RECORD,
    )
    def add_membership(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        roles: frozenset[RoleId],
        initials: str,
        status: MembershipStatus,
        created_account: bool,
        delegate: UserId | None,
        supervisor: UserId | None,
        any_record: bool,
    ) -> None:
        users = self._user_ids()
        chosen_establishment = _pick(establishment_id, self._establishment_ids())
        if chosen_establishment is None:
            return
        members = self._pair()[1].memberships.list_for_establishment(chosen_establishment)
        taken = [m.user_id for m in members]
        chosen_user = _pick(user_id, users, taken=taken, any_record=any_record)
        if chosen_user is None:
            return
        delegations = (
            [Delegation(delegate, inherit_features=created_account)]
            if delegate is not None and delegate in users
            else []
        )
        membership = attrs.evolve(
            _membership(chosen_user, chosen_establishment, *roles),
            initials=initials,
            status=status,
            created_account=created_account,
            delegations=delegations,
            supervisor=supervisor if supervisor in users else None,
        )
        self._add(membership)

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        user_id=st.sampled_from(_USER_IDS),
        initials=st.sampled_from((None, *_INITIALS)),
        roles=st.none() | st.frozensets(st.sampled_from(_TEMPLATE_ROLES), max_size=2),
        status=st.none() | st.sampled_from(MembershipStatus),
        supervisor=st.none() | st.sampled_from(_USER_IDS),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_membership(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        initials: str | None,
        roles: frozenset[RoleId] | None,
        status: MembershipStatus | None,
        supervisor: UserId | None,
        shift: int,
        any_record: bool,
    ) -> None:
        reference = self._pair()[1]
        stored = [
            m.key
            for e in self._establishment_ids()
            for m in reference.memberships.list_for_establishment(e)
        ]
        establishment_id, user_id = _target(
            (establishment_id, user_id), stored, any_record=any_record
        )
        current = self._stored(lambda uow: uow.memberships.get(establishment_id, user_id))
        changed = current or _membership(user_id, establishment_id)  # unknown: refused
        changed = attrs.evolve(
            changed,
            initials=changed.initials if initials is None else initials,
            roles=changed.roles if roles is None else roles,
            status=changed.status if status is None else status,
            supervisor=supervisor if supervisor in self._user_ids() else changed.supervisor,
            version=_shifted(changed.version, shift),
        )
        self._both(f"memberships.update({changed!r})", lambda uow: uow.memberships.update(changed))

    # -- practitioners and establishment profiles -------------------------------------------

    def _practitioner(
        self, user_id: UserId, inami_index: int, others: tuple[int, int, int]
    ) -> Practitioner:
        number = self.inami_numbers[inami_index]
        return Practitioner(
            user_id=user_id,
            profession=Profession.GENERAL_PRACTITIONER,
            country="BE",
            created_at=_OPENED,
            inami=None if number is None else inami.parse(number),
            niss=_NISS_NUMBERS[others[0]],
            rpps=_RPPS_NUMBERS[others[1]],
            adeli=_ADELI_NUMBERS[others[2]],
        )

    def _practitioner_ids(self) -> list[UserId]:
        reference = self._pair()[1]
        return [u for u in self._user_ids() if reference.practitioners.find(u) is not None]

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        inami_index=st.integers(0, 3),
        others=_OTHER_NUMBERS,
        any_record=_ANY_RECORD,
    )
    def add_practitioner(
        self, *, user_id: UserId, inami_index: int, others: tuple[int, int, int], any_record: bool
    ) -> None:
        taken = self._practitioner_ids()
        chosen = _pick(user_id, self._user_ids(), taken=taken, any_record=any_record)
        if chosen is not None:
            self._add(self._practitioner(chosen, inami_index, others))

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        inami_index=st.integers(0, 3),
        others=_OTHER_NUMBERS,
        country=st.sampled_from(("BE", "FR")),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_practitioner(
        self,
        *,
        user_id: UserId,
        inami_index: int,
        others: tuple[int, int, int],
        country: str,
        shift: int,
        any_record: bool,
    ) -> None:
        user_id = _target(user_id, self._practitioner_ids(), any_record=any_record)
        current = self._stored(lambda uow: uow.practitioners.get(user_id))
        version = 0 if current is None else current.version  # unknown: refused
        numbers = self._practitioner(user_id, inami_index, others)
        base = current or numbers
        changed = attrs.evolve(
            base,
            inami=numbers.inami,
            niss=numbers.niss,
            rpps=numbers.rpps,
            adeli=numbers.adeli,
            country=country,
            version=_shifted(version, shift),
        )
        self._both(
            f"practitioners.update({changed!r})", lambda uow: uow.practitioners.update(changed)
        )

    def _profile_ids(self) -> list[EstablishmentId]:
        reference = self._pair()[1]
        return [e for e in self._establishment_ids() if reference.establishment_profiles.find(e)]

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        variant=st.integers(0, 2),
        any_record=_ANY_RECORD,
    )
    def add_establishment_profile(
        self, *, establishment_id: EstablishmentId, variant: int, any_record: bool
    ) -> None:
        chosen = _pick(
            establishment_id,
            self._establishment_ids(),
            taken=self._profile_ids(),
            any_record=any_record,
        )
        if chosen is not None:
            self._add(attrs.evolve(_profile(chosen), **self.profile_changes[variant]))

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        variant=st.integers(0, 2),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_establishment_profile(
        self, *, establishment_id: EstablishmentId, variant: int, shift: int, any_record: bool
    ) -> None:
        establishment_id = _target(establishment_id, self._profile_ids(), any_record=any_record)
        current = self._stored(lambda uow: uow.establishment_profiles.find(establishment_id))
        changed = attrs.evolve(
            current or _profile(establishment_id),  # unknown: refused
            **self.profile_changes[variant],
        )
        changed = attrs.evolve(changed, version=_shifted(changed.version, shift))
        self._both(
            f"establishment_profiles.update({changed!r})",
            lambda uow: uow.establishment_profiles.update(changed),
        )

    # -- what both stores hold --------------------------------------------------------------

    @_operation(
        organisation_id=st.sampled_from(_ORGANISATION_IDS),
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        user_id=st.sampled_from(_USER_IDS),
    )
    def read_records(
        self,
        *,
        organisation_id: OrganisationId,
        establishment_id: EstablishmentId,
        user_id: UserId,
    ) -> None:
        self._both(
            f"organisations.get({organisation_id})",
            lambda uow: uow.organisations.get(organisation_id),
        )
        self._both(
            f"organisations.list(owner={user_id})",
            lambda uow: list(uow.organisations.list(owner=user_id)),
        )
        self._both(
            f"establishments.get({establishment_id})",
            lambda uow: uow.establishments.get(establishment_id),
        )
        self._both(
            f"establishments.list(organisation_id={organisation_id})",
            lambda uow: list(uow.establishments.list(organisation_id=organisation_id)),
        )
        self._both(f"practitioners.get({user_id})", lambda uow: uow.practitioners.get(user_id))

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        user_id=st.sampled_from(_USER_IDS),
        status=st.none() | st.sampled_from(MembershipStatus),
    )
    def read_memberships(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        status: MembershipStatus | None,
    ) -> None:
        pair = f"{establishment_id}, {user_id}"
        self._both(
            f"memberships.get({pair})", lambda uow: uow.memberships.get(establishment_id, user_id)
        )
        self._both(
            f"memberships.find({pair})",
            lambda uow: uow.memberships.find(establishment_id, user_id),
        )
        self._both(
            f"memberships.list_for_establishment({establishment_id}, status={status})",
            lambda uow: list(
                uow.memberships.list_for_establishment(establishment_id, status=status)
            ),
        )

    # -- what both stores hold --------------------------------------------------------------

    def _contents(self, uow: AccessUnitOfWork) -> dict[str, object]:
        found = super()._contents(uow)
        found["organisations.list()"] = list(uow.organisations.list())
        found["establishments.list()"] = list(uow.establishments.list())
        for establishment_id in _ESTABLISHMENT_IDS:
            found[f"memberships.list_for_establishment({establishment_id})"] = list(
                uow.memberships.list_for_establishment(establishment_id)
            )
            found[f"establishment_profiles.find({establishment_id})"] = (
                uow.establishment_profiles.find(establishment_id)
            )
        for user_id in _USER_IDS:
            found[f"memberships.list_for_user({user_id})"] = list(
                uow.memberships.list_for_user(user_id)
            )
            found[f"practitioners.find({user_id})"] = uow.practitioners.find(user_id)
        return found


def _run_against_memory(
    machine: type[_AgreesWithMemory[_U]], make_factory: Callable[[], Callable[[], _U]]
) -> None:
    """Run ``machine`` with a fresh store of ``make_factory`` for each example."""
    configured = type(machine.__name__, (machine,), {"make_factory": staticmethod(make_factory)})
    run_state_machine_as_test(configured, settings=_DIFFERENTIAL_SETTINGS)


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
        number = _inami_of_modulus_89("005")  # parse must find the modulus again
        brussels = timezone(timedelta(hours=1))
        certificate = EHealthCertificate(
            serial_number="5f3c0a91d2e4b7c8",
            issuer="CN=Autorité de certification d'essai — Ωμέγα, O=Exemple, C=BE",
            not_before=datetime(2025, 11, 3, 8, 0, tzinfo=UTC),
            not_after=datetime(2028, 11, 3, 8, 0, tzinfo=UTC),
            sha256=hashlib.sha256(b"made-up certificate").hexdigest(),
            registered_at=datetime(2026, 1, 6, 10, 30, 5, 654321, tzinfo=brussels),
            holder_nihii=number,
            fetch_messages=True,
        )
        accounts = {mutuality: _iban(seed) for seed, mutuality in enumerate(Mutuality, 1)}
        accounts[Mutuality.HR_RAIL] = _iban(7, bank="999")  # no BIC known: a notice
        edmg = EdmgRegistration(registered_at=_PROFILED, accounts=accounts)
        unicode_email = EmailPolicy().parse("Secrétariat.Ωμέγα@exämple-cabinet.be")
        addresses = [
            _address(
                kind=kind,
                street=_long_text("Chaussée de l'Épine 7 · Οδός Αθηνάς · 王府井大街 · 🏥 · ", 200),
                city=_long_text("Liège-Écaussinnes · Αθήνα · 北京 · "),
                postal_code="4000",
                email=unicode_email,
            )
            for kind in AddressKind
        ]
        addresses += [
            _address(
                kind=kind,
                street="12 rue de l'Exemple",
                postal_code="75008",
                city="Paris",
                country="FR",
                email=EmailAddress("Compta.Cabinet@Exemple-Sante.fr"),
                phone="+33155501234",
            )
            for kind in AddressKind
        ]
        addresses.append(_address(kind=AddressKind.HOME, email=None, phone=None))
        practitioner = Practitioner(
            user_id=user.id,
            profession=Profession.GENERAL_PRACTITIONER,
            country="BE",
            created_at=datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=_NEWFOUNDLAND),
            inami=inami.parse(number),
            niss=_niss(1),
            rpps=rpps.parse(_luhn("2000000001")),  # an unusual first digit: a notice
            adeli=_adeli(1),
            addresses=addresses,
            settings=PractitionerSettings(
                hub_region=HubRegion.WALLONIA, ehealth=certificate, edmg=edmg
            ),
            billing=BillingData(
                company_name=_long_text(
                    "SRL Cabinet Médical Dr Exemple & Associés · Ωμέγα · 王秀英 · ", 200
                ),
                enterprise_number=_bce(1),
                conventioned=True,
                iban=_iban(99),
            ),
        )
        self._add(uow_factory, practitioner)
        with uow_factory() as uow:
            stored = uow.practitioners.get(user.id)
            _assert_same(uow.practitioners.find(user.id), practitioner, "find")
        _assert_same(stored, practitioner, "get")
        assert stored == practitioner
        assert stored.identifiers == practitioner.identifiers
        assert stored.identity_keys == practitioner.identity_keys
        assert stored.requires_supervisor is True  # the competence code survived (B4)
        assert stored.inami is not None
        assert stored.inami.modulus == 89
        assert stored.rpps is not None
        assert [n.code for n in stored.rpps.notices] == ["rpps.unusual_first_digit"]
        assert stored.addresses == practitioner.addresses  # every address, in order
        assert [a.kind for a in stored.addresses] == [*AddressKind, *AddressKind, AddressKind.HOME]
        assert stored.addresses[0].email is not None
        assert stored.addresses[0].email.address == "Secrétariat.Ωμέγα@exämple-cabinet.be"
        assert stored.settings.hub_region is HubRegion.WALLONIA
        assert stored.settings.ehealth == certificate
        assert stored.settings.ehealth.registered_at.tzinfo is not None
        assert stored.settings.edmg is not None
        assert dict(stored.settings.edmg.accounts) == accounts
        assert list(stored.settings.edmg.accounts) == list(Mutuality)
        assert stored.settings.edmg.same_account is False
        assert stored.settings.edmg.accounts[Mutuality.HR_RAIL].bic is None
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
        image = _largest_png()  # the largest logo accepted: 2048 pixels square, 512 KiB
        assert len(image) == MAX_BYTES
        updated = datetime(2026, 10, 25, 2, 30, 0, 123456, tzinfo=_BRUSSELS_SUMMER)
        profile = attrs.evolve(
            _profile(),
            address=_address(
                street=_long_text("Place de l'Ange 3 · Πλατεία Αγγέλου · 天使广场 · 🏥 · ", 200),
                city=_long_text("Namur-Jambes · Ναμούρ · 那慕尔 · "),
                phone="+3281223345",
                email=EmailPolicy().parse("Accueil.Ωμέγα@exämple-cabinet.be"),
            ),
            updated_at=updated,
            inami=inami.parse(sample_inami("000", profession="7")),
            # A Corsican number: its key cannot be checked, and parse says so again.
            finess=finess.parse("2A0000001", kind=FinessKind.EJ),
            enterprise_number=_bce(2),
            logo=parse_logo(image),
            trainee_account=_iban(7),
        )
        self._add(uow_factory, profile)
        with uow_factory() as uow:
            stored = uow.establishment_profiles.find(_EST)
        _assert_same(stored, profile, "find")
        assert stored == profile
        assert stored is not None
        assert stored.logo is not None
        assert stored.logo.data == image  # byte for byte
        assert (stored.logo.media_type, stored.logo.width, stored.logo.height) == (
            "image/png",
            MAX_SIDE,
            MAX_SIDE,
        )
        assert stored.logo.sha256 == hashlib.sha256(image).hexdigest()
        assert stored.finess is not None
        assert (stored.finess.kind, stored.finess.key_verified) == (FinessKind.EJ, False)
        assert stored.trainee_account == _iban(7)
        assert stored.trainee_account is not None
        assert stored.trainee_account.bic == "BBRUBEBB"
        assert stored.updated_at == updated
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


# -- onboarding: records, terms of use, the outbox (D1, D2) ------------------------------------

_SENT = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
_LEASE = timedelta(minutes=5)
# The longest locale the onboarding service accepts ([a-z]{2,3}(-[A-Z]{2})?) and the longest
# terms version it publishes (64 of letters, digits, ".", "_", ":" and "-").
_LONGEST_LOCALE = "fil-PH"
_LONGEST_TERMS_VERSION = ("v2026.03_rev:a-" * 5)[:64]
_FAR = datetime(2100, 1, 1, tzinfo=UTC)
_DISPATCHERS = 8
_BACKLOG = 200

_OnboardingRecord = _Record | Onboarding | TermsOfUse | Message


def _digest(label: str) -> bytes:
    """A made-up link digest (32 bytes, as SHA-256 gives), one per ``label``."""
    return hashlib.sha256(f"practiceid-contract:{label}".encode()).digest()


def _invited(user_id: UserId, *, sent: datetime = _SENT, **overrides: object) -> Onboarding:
    """A first invitation to ``user_id`` into :data:`_EST` sent at ``sent``; due in 3 days."""
    record = Onboarding.invite(
        user_id,
        _EST,
        mode=OnboardingMode.INVITATION,
        email_key=f"{user_id}@cabinet-exemple.be",
        now=sent,
        expires_at=sent + timedelta(days=14),
        due_at=sent + timedelta(days=3),
    )
    return attrs.evolve(record, **overrides)  # type: ignore[arg-type]


def _message(message_id: str, **overrides: object) -> Message:
    """A pending invitation e-mail due at :data:`_SENT`, with an idempotency key of its own."""
    values: dict[str, object] = {
        "id": MessageId(message_id),
        "kind": MessageKind.INVITATION,
        "recipient": "dr.dupont@cabinet-exemple.be",
        "locale": "fr-BE",
        "idempotency_key": f"contract:{message_id}",
        "created_at": _SENT,
        "next_attempt_at": _SENT,
        "params": {"establishment": "Cabinet des Tilleuls"},
        "link_round": 1,
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


def _add_onboarding_record(uow: OnboardingUnitOfWork, record: _OnboardingRecord) -> None:
    """Add ``record`` through the repository of its kind."""
    if isinstance(record, Onboarding):
        uow.onboardings.add(record)
    elif isinstance(record, TermsOfUse):
        uow.terms.publish(record)
    elif isinstance(record, Message):
        uow.outbox.add(record)
    else:
        _add_record(uow, record)


def _canonical(value: _T) -> _T:
    """``value`` with the params of its messages in key order, which stores need not keep.

    A template looks its parameters up by name; PostgreSQL's ``jsonb`` orders the keys of a
    document its own way.
    """
    if isinstance(value, Message):
        return cast("_T", attrs.evolve(value, params=dict(sorted(value.params.items()))))
    if isinstance(value, list | tuple):
        return cast("_T", type(value)(_canonical(item) for item in value))
    return value


def _assert_same_records(actual: object, expected: object, where: str = "value") -> None:
    """:func:`_assert_same`, whatever the order of the messages' params."""
    _assert_same(_canonical(actual), _canonical(expected), where)


def _refusal(
    raised: pytest.ExceptionInfo[PracticeIdError],
) -> tuple[type[PracticeIdError], str, dict[str, object]]:
    """The type, code and params of a refusal: what a host reads from it."""
    return type(raised.value), raised.value.code, dict(raised.value.params)


def _fullest_onboardings(users: Sequence[User], inviter: UserId) -> list[Onboarding]:
    """One record per status and mode (15 users), every field set.

    Datetimes have microseconds and are given in offsets that are not whole hours; records
    hold from none to 32 link digests (the most live links a round keeps), among them one of
    zero bytes and one of 0xFF bytes; the longest locale and terms version; e-mail keys of
    254 bytes, ASCII or not.
    """
    emails = _longest_emails()
    zones = (UTC, _NEWFOUNDLAND, _KATHMANDU, _BRUSSELS_SUMMER)
    resumes = (None, *OnboardingStatus)
    combinations = [(s, m) for s in OnboardingStatus for m in OnboardingMode]
    assert len(users) >= len(combinations)
    records = []
    for n, ((status, mode), user) in enumerate(zip(combinations, users, strict=False)):
        zone = zones[n % len(zones)]
        created = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC).astimezone(zone)
        created += timedelta(minutes=n, microseconds=n)
        digests = tuple(_digest(f"{user.id}:{k}") for k in range(8 * (n % 5)))
        if n == 1:
            digests = (bytes(32), b"\xff" * 32, *digests[2:])
        records.append(
            Onboarding(
                user_id=user.id,
                establishment_id=_EST,
                mode=mode,
                status=status,
                created_at=created,
                sent_at=created + timedelta(seconds=1, microseconds=1),
                expires_at=(created + timedelta(days=14)).astimezone(zones[(n + 1) % 4]),
                due_at=created + timedelta(days=3, microseconds=3),
                invited_by=inviter,
                locale=_LONGEST_LOCALE,
                round=1000 + n,
                reminders_sent=n % 6,
                token_digests=digests,
                email_key=emails[n % 2].key,
                sends=tuple(created + timedelta(hours=k, microseconds=k) for k in range(n % 6)),
                resume=resumes[n % len(resumes)],
                accepted_at=created + timedelta(days=1, microseconds=7),
                signed_in_at=(created + timedelta(days=2, microseconds=11)).astimezone(zone),
                activated_at=created + timedelta(days=2, seconds=1),
                terms_version=_LONGEST_TERMS_VERSION,
                terms_accepted_at=created + timedelta(days=2, microseconds=13),
                password_change_required=n % 2 == 0,
                version=n,
            )
        )
    return records


def _sparest_onboardings(legacy: UserId, accepted: UserId) -> list[Onboarding]:
    """Records with every optional field empty.

    One made for an account that predates onboarding (no establishment: ``""``), and one
    whose administrator set the password.
    """
    return [
        Onboarding(
            user_id=legacy,
            establishment_id=EstablishmentId(""),
            mode=OnboardingMode.ADMINISTRATOR,
            status=OnboardingStatus.ACTIVE,
            created_at=_SENT,
            locale="en",
        ),
        Onboarding.with_password(
            accepted, _EST, mode=OnboardingMode.ADMINISTRATOR, now=_SENT, locale="nl-BE"
        ),
    ]


def _fullest_messages(about: UserId) -> list[Message]:
    """A message of every kind, in every status, every field set, Unicode params.

    Half are about ``about``, half about nobody; link rounds are None, 1 and large;
    recipients are addresses of 254 bytes, ASCII or not.
    """
    emails = _longest_emails()
    zones = (UTC, _KATHMANDU, _NEWFOUNDLAND)
    statuses = list(MessageStatus)
    rounds = (None, 1, 2_000_000_000)
    messages = []
    for n, kind in enumerate(MessageKind):
        zone = zones[n % len(zones)]
        created = datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC).astimezone(zone)
        created += timedelta(seconds=n, microseconds=n)
        params = {
            "establishment": _long_text("Maison médicale d'Écaussinnes · Ωμέγα · 王秀英 · 🩺 · "),
            "expires_at": (created + timedelta(days=14)).isoformat(),
            "prénom_名": "Zoë 👩‍⚕️ O'Neil-محمد",
            "empty": "",
        }
        messages.append(
            Message(
                id=MessageId(f"message-{n:02d}-{'é' * n}"),
                kind=kind,
                recipient=emails[n % 2].address,
                locale=_LONGEST_LOCALE if n % 2 else "fr-BE",
                idempotency_key=f"onboarding:{about}:v{n}:{kind}:{'ü' * 40}",
                created_at=created,
                next_attempt_at=created + timedelta(minutes=n, microseconds=1),
                params=dict(list(params.items())[: 1 + n % 4]),
                user_id=about if n % 2 == 0 else None,
                link_round=rounds[n % len(rounds)],
                status=statuses[n % len(statuses)],
                attempts=n,
                claimed_until=(created + timedelta(minutes=5)).astimezone(zones[(n + 1) % 3]),
                sent_at=created + timedelta(minutes=1, microseconds=999),
                last_error=_long_text("ConnectionRefusedError · délai dépassé · 超时 · ", 200),
                version=n,
            )
        )
    return messages


class OnboardingRepositoriesContract(_AccessStoreContract):
    """Onboarding records, terms of use and the outbox of an onboarding unit of work (D1, D2).

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.OnboardingUnitOfWork` over one fresh, empty store. The suite
    checks the error contracts of :class:`~practiceid.ports.OnboardingRepository`,
    :class:`~practiceid.ports.TermsRepository` and :class:`~practiceid.ports.OutboxRepository`:
    every field round-trips; refusals carry their exact params and leave the unit of work
    usable; a record is found by any of its live link digests and by no other; due records
    and messages are claimed in order, each by exactly one of several concurrent sweeps or
    dispatchers; and random operations agree with the in-memory store. It stores the users
    and establishment a record refers to before the record itself, so an adapter may enforce
    foreign keys. The order of a message's ``params`` is not compared.
    """

    def make_unit_of_work_factory(self) -> OnboardingUnitOfWorkFactory:
        """Return a factory of onboarding units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> OnboardingUnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _store(factory: OnboardingUnitOfWorkFactory, *records: _OnboardingRecord) -> None:
        """Store ``records``, in order, in one committed unit of work."""
        with factory() as uow:
            for record in records:
                _add_onboarding_record(uow, record)
            uow.commit()

    def _named(self, factory: OnboardingUnitOfWorkFactory, *names: str) -> list[User]:
        """Store the practice and one user per name, with ids ``user-<name>``."""
        users = [sample_user(id=UserId(f"user-{name}")) for name in names]
        self._practice(factory, *users)
        return users

    @staticmethod
    def _race(
        attempt: Callable[[int, threading.Barrier], object], count: int = _THREADS
    ) -> list[object]:
        """Run ``attempt`` in ``count`` threads (16); return what each returned or raised."""
        return _race_in_threads(attempt, count)

    # -- onboarding records: add and read (D1, D2) ----------------------------------------

    def test_added_onboarding_reads_back_equal_through_get_find_and_its_digests(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        record = _invited(user.id, token_digests=(_digest("first"), _digest("second")))
        self._store(uow_factory, record)
        with uow_factory() as uow:
            assert uow.onboardings.get(user.id) == record
            assert uow.onboardings.find(user.id) == record
            assert uow.onboardings.find_by_token(_digest("first")) == record
            assert uow.onboardings.find_by_token(_digest("second")) == record

    def test_every_onboarding_field_round_trips_exactly_in_every_status_and_mode(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        inviter, *users = self._people(uow_factory, 18)
        records = [
            *_fullest_onboardings(users[:15], inviter.id),
            *_sparest_onboardings(users[15].id, users[16].id),
        ]
        assert {(r.status, r.mode) for r in records} >= {
            (s, m) for s in OnboardingStatus for m in OnboardingMode
        }
        self._store(uow_factory, *records)
        with uow_factory() as uow:
            for record in records:
                where = f"{record.status}/{record.mode}"
                _assert_same(uow.onboardings.get(record.user_id), record, f"get {where}")
                _assert_same(uow.onboardings.find(record.user_id), record, f"find {where}")
                for n, digest in enumerate(record.token_digests):
                    found = uow.onboardings.find_by_token(digest)
                    _assert_same(found, record, f"find_by_token {where} #{n}")

    def test_onboarding_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        inviter, user = self._people(uow_factory, 2)
        record = _invited(user.id, token_digests=(_digest("old"),))
        self._store(uow_factory, record)
        fullest = attrs.evolve(_fullest_onboardings([user] * 15, inviter.id)[9], version=0)
        with uow_factory() as uow:
            stored = uow.onboardings.update(fullest)
            uow.commit()
        _assert_same(stored, attrs.evolve(fullest, version=1), "update")
        with uow_factory() as uow:
            _assert_same(uow.onboardings.get(user.id), stored, "get after update")
            # Emptied again: fields set to None and empty tuples are stored so.
            sparest = attrs.evolve(_sparest_onboardings(user.id, user.id)[0], version=1)
            emptied = uow.onboardings.update(sparest)
            uow.commit()
        _assert_same(emptied, attrs.evolve(sparest, version=2), "second update")
        with uow_factory() as uow:
            _assert_same(uow.onboardings.get(user.id), emptied, "get after second update")
            for digest in (_digest("old"), *fullest.token_digests):
                assert uow.onboardings.find_by_token(digest) is None

    # -- onboarding records: refusals -----------------------------------------------------

    def test_a_second_onboarding_of_a_user_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        first = _invited(user.id, token_digests=(_digest("first"),))
        self._store(uow_factory, first)
        with uow_factory() as uow:
            with pytest.raises(DuplicateRecord) as raised:
                uow.onboardings.add(
                    _invited(user.id, locale="nl-BE", token_digests=(_digest("second"),))
                )
            uow.commit()
        assert _refusal(raised) == (
            DuplicateRecord,
            "record.duplicate",
            {"entity": "onboarding", "id": user.id},
        )
        with uow_factory() as uow:
            assert uow.onboardings.get(user.id) == first
            assert uow.onboardings.find_by_token(_digest("first")) == first
            assert uow.onboardings.find_by_token(_digest("second")) is None

    def test_a_second_onboarding_within_one_unit_of_work_is_refused(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        first = _invited(user.id)
        with uow_factory() as uow:
            uow.onboardings.add(first)
            with pytest.raises(DuplicateRecord) as raised:
                uow.onboardings.add(_invited(user.id, round=2))
            uow.commit()
        assert dict(raised.value.params) == {"entity": "onboarding", "id": user.id}
        with uow_factory() as uow:
            assert uow.onboardings.get(user.id) == first

    def test_unknown_onboarding_is_found_as_none_and_get_and_update_raise_not_found(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        with uow_factory() as uow:
            assert uow.onboardings.find(user.id) is None
            assert uow.onboardings.find(UserId("nobody")) is None
            with pytest.raises(OnboardingNotFound) as raised:
                uow.onboardings.get(UserId("nobody"))
            assert _refusal(raised) == (
                OnboardingNotFound,
                "onboarding.not_found",
                {"user_id": "nobody"},
            )
            with pytest.raises(OnboardingNotFound) as raised:
                uow.onboardings.update(_invited(user.id))
            assert _refusal(raised) == (
                OnboardingNotFound,
                "onboarding.not_found",
                {"user_id": user.id},
            )
            uow.commit()
        with uow_factory() as uow:
            assert uow.onboardings.find(user.id) is None

    def test_an_id_that_is_not_text_finds_no_onboarding(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._store(uow_factory, _invited(user.id))
        with uow_factory() as uow:
            for wrong in (None, 42, [user.id]):
                assert uow.onboardings.find(cast("UserId", wrong)) is None
                with pytest.raises(OnboardingNotFound):
                    uow.onboardings.get(cast("UserId", wrong))

    def test_stale_onboarding_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        record = _invited(user.id, token_digests=(_digest("kept"),))
        self._store(uow_factory, record)
        with uow_factory() as uow:
            current = uow.onboardings.update(attrs.evolve(record, reminders_sent=1))
            uow.commit()
        for version, stored in ((0, 1), (5, 1)):
            with uow_factory() as uow:
                with pytest.raises(StaleRecord) as raised:
                    uow.onboardings.update(
                        attrs.evolve(record, token_digests=(_digest("new"),), version=version)
                    )
                uow.commit()
            assert _refusal(raised) == (
                StaleRecord,
                "record.stale",
                {
                    "entity": "onboarding",
                    "id": user.id,
                    "user_id": user.id,
                    "expected": version,
                    "stored": stored,
                },
            )
        with uow_factory() as uow:
            assert uow.onboardings.get(user.id) == current
            assert uow.onboardings.find_by_token(_digest("kept")) == current
            assert uow.onboardings.find_by_token(_digest("new")) is None

    # -- onboarding records: links (D2) ---------------------------------------------------

    def test_find_by_token_finds_each_record_by_any_of_its_digests_and_by_no_other(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 3)
        records = [
            _invited(u.id, token_digests=tuple(_digest(f"{u.id}:{k}") for k in range(n)))
            for n, u in enumerate(users)
        ]
        self._store(uow_factory, *records)
        with uow_factory() as uow:
            for record in records:
                for digest in record.token_digests:
                    assert uow.onboardings.find_by_token(digest) == record
            assert uow.onboardings.find_by_token(_digest(f"{users[1].id}:1")) is None

    def test_a_digest_an_update_removes_no_longer_finds_and_one_it_adds_does(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        a, b, c, d = (_digest(x) for x in "abcd")
        record = _invited(user.id, token_digests=(a, b, c))
        self._store(uow_factory, record)
        with uow_factory() as uow:
            minted = uow.onboardings.update(attrs.evolve(record, token_digests=(b, c, d)))
            assert uow.onboardings.find_by_token(a) is None  # in the same unit of work
            assert uow.onboardings.find_by_token(d) == minted
            uow.commit()
        with uow_factory() as uow:
            assert uow.onboardings.find_by_token(a) is None
            for digest in (b, c, d):
                assert uow.onboardings.find_by_token(digest) == minted
            assert uow.onboardings.get(user.id).token_digests == (b, c, d)  # in order
            accepted = uow.onboardings.update(
                attrs.evolve(minted, status=OnboardingStatus.ACCEPTED, token_digests=())
            )
            uow.commit()
        with uow_factory() as uow:
            for digest in (a, b, c, d):
                assert uow.onboardings.find_by_token(digest) is None
            assert uow.onboardings.get(user.id) == accepted

    def test_rolled_back_digest_changes_are_undone(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        a, b, c = (_digest(x) for x in "abc")
        record = _invited(first.id, token_digests=(a, b))
        self._store(uow_factory, record)
        with uow_factory() as uow:
            uow.onboardings.update(attrs.evolve(record, token_digests=(c,)))
            uow.onboardings.add(_invited(second.id, token_digests=(_digest("second"),)))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.onboardings.find_by_token(a) == record
            assert uow.onboardings.find_by_token(b) == record
            assert uow.onboardings.find_by_token(c) is None
            assert uow.onboardings.find_by_token(_digest("second")) is None

    def test_an_unknown_digest_finds_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        digest = _digest("live")
        self._store(uow_factory, _invited(user.id, token_digests=(digest,)))
        with uow_factory() as uow:
            for unknown in (
                _digest("unknown"),
                bytes(32),
                b"",
                digest[:31],
                digest + b"\x00",
            ):
                assert uow.onboardings.find_by_token(unknown) is None, unknown

    def test_find_by_token_of_something_that_is_not_bytes_finds_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        digest = _digest("live")
        self._store(uow_factory, _invited(user.id, token_digests=(digest,)))
        with uow_factory() as uow:
            for wrong in (
                digest.hex(),
                digest.decode("latin-1"),
                "",
                None,
                0,
                3.5,
                [digest],
                {"digest": digest},
            ):
                assert uow.onboardings.find_by_token(cast("bytes", wrong)) is None, wrong
            assert uow.onboardings.find_by_token(digest) is not None  # still usable

    # -- onboarding records: the sweep (D2) -----------------------------------------------

    def test_claim_due_returns_due_records_earliest_first_ties_by_user_id(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        now = _SENT
        hour = timedelta(hours=1)
        due_at = {
            "f": now + 2 * hour,  # later
            "b": now,  # exactly now: due
            "d": (now - hour).astimezone(_KATHMANDU),  # the same instant as "a", in Kathmandu
            "a": now - hour,
            "c": None,  # nothing scheduled
            "e": now + timedelta(microseconds=1),  # just after now
            "g": now - timedelta(days=30),
        }
        users = self._named(uow_factory, *due_at)
        records = {u.id: _invited(u.id, due_at=due_at[u.id[5:]]) for u in users}
        self._store(uow_factory, *records.values())
        expected = [records[UserId(f"user-{c}")] for c in "gadb"]
        with uow_factory() as uow:
            _assert_same(list(uow.onboardings.claim_due(now=now, limit=10)), expected, "all")
        with uow_factory() as uow:
            _assert_same(list(uow.onboardings.claim_due(now=now, limit=2)), expected[:2], "2")
        with uow_factory() as uow:
            assert list(uow.onboardings.claim_due(now=now, limit=0)) == []
            assert list(uow.onboardings.claim_due(now=now - 31 * timedelta(days=1), limit=5)) == []
            later = list(uow.onboardings.claim_due(now=_FAR, limit=10))
        assert [r.user_id for r in later] == [f"user-{c}" for c in "gadbef"]

    def test_claim_due_never_returns_records_without_due_at(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 3)
        records = [
            _invited(users[0].id, due_at=None),
            attrs.evolve(_invited(users[1].id, due_at=None), status=OnboardingStatus.ACCEPTED),
            _sparest_onboardings(users[2].id, users[2].id)[0],
        ]
        self._store(uow_factory, *records)
        with uow_factory() as uow:
            assert list(uow.onboardings.claim_due(now=_FAR, limit=10)) == []

    def test_claim_due_with_a_limit_below_one_returns_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._store(uow_factory, _invited(user.id, due_at=_SENT))
        with uow_factory() as uow:
            assert list(uow.onboardings.claim_due(now=_FAR, limit=0)) == []
            assert list(uow.onboardings.claim_due(now=_FAR, limit=-1)) == []

    def test_a_record_whose_due_at_the_sweep_cleared_is_not_due_any_more(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        records = [_invited(first.id, due_at=_SENT), _invited(second.id, due_at=_SENT)]
        self._store(uow_factory, *records)
        with uow_factory() as uow:
            (due, other) = uow.onboardings.claim_due(now=_SENT, limit=10)
            uow.onboardings.update(attrs.evolve(due, due_at=None))
            assert list(uow.onboardings.claim_due(now=_SENT, limit=10)) == [other]
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.onboardings.claim_due(now=_FAR, limit=10)) == [other]

    # -- terms of use (D2) ----------------------------------------------------------------

    def test_published_terms_read_back_through_current_and_list_oldest_first(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow:
            assert uow.terms.current() is None
            assert list(uow.terms.list()) == []
        march = TermsOfUse(datetime(2026, 3, 1, 8, 0, 0, 1, tzinfo=_BRUSSELS_SUMMER), "2026-03")
        january = TermsOfUse(datetime(2026, 1, 1, 8, 0, tzinfo=UTC), "2026-01")
        july = TermsOfUse(datetime(2026, 7, 1, 8, 0, 0, 999999, tzinfo=_NEWFOUNDLAND), "2026-07")
        self._store(uow_factory, march, january)
        with uow_factory() as uow:
            _assert_same(uow.terms.current(), march, "current")
            _assert_same(list(uow.terms.list()), [january, march], "list")
        self._store(uow_factory, july)
        with uow_factory() as uow:
            _assert_same(uow.terms.current(), july, "current")
            _assert_same(list(uow.terms.list()), [january, march, july], "list")

    def test_the_longest_terms_version_round_trips(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        published = datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=_KATHMANDU)
        terms = TermsOfUse(published, _LONGEST_TERMS_VERSION)
        assert len(terms.version) == 64
        self._store(uow_factory, terms)
        with uow_factory() as uow:
            _assert_same(uow.terms.current(), terms, "current")
            _assert_same(list(uow.terms.list()), [terms], "list")

    def test_publishing_a_version_again_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first = TermsOfUse(_SENT, "2026-03")
        self._store(uow_factory, first)
        for again in (first, TermsOfUse(_SENT + timedelta(days=1), "2026-03")):
            with uow_factory() as uow:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.terms.publish(again)
                uow.commit()
            assert _refusal(raised) == (
                DuplicateRecord,
                "record.duplicate",
                {"entity": "terms", "id": "2026-03"},
            )
        with uow_factory() as uow:
            uow.terms.publish(TermsOfUse(_SENT, "2026-04"))
            with pytest.raises(DuplicateRecord):
                uow.terms.publish(TermsOfUse(_FAR, "2026-04"))
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.terms.list()) == [first, TermsOfUse(_SENT, "2026-04")]

    def test_current_terms_are_the_latest_published_then_the_greatest_version(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        earlier = TermsOfUse(_SENT - timedelta(days=1), "v9")
        tied = [
            TermsOfUse(_SENT, "2026-04"),
            TermsOfUse(_SENT.astimezone(_NEWFOUNDLAND), "2026-05"),  # the same instant
            TermsOfUse(_SENT.astimezone(_KATHMANDU), "2026-03"),
        ]
        self._store(uow_factory, *tied, earlier)
        with uow_factory() as uow:
            _assert_same(uow.terms.current(), tied[1], "current")
            listed = list(uow.terms.list())
        assert [t.version for t in listed] == ["v9", "2026-03", "2026-04", "2026-05"]

    # -- the outbox (D2) ------------------------------------------------------------------

    def test_every_message_field_round_trips_exactly_for_every_kind_and_status(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        messages = _fullest_messages(user.id)
        self._store(uow_factory, *messages)
        by_creation = sorted(messages, key=lambda m: (m.created_at, m.id))
        with uow_factory() as uow:
            for message in messages:
                _assert_same_records(uow.outbox.get(message.id), message, f"get {message.kind}")
            _assert_same_records(list(uow.outbox.list()), by_creation, "list")
            for status in MessageStatus:
                listed = list(uow.outbox.list(status=status))
                wanted = [m for m in by_creation if m.status is status]
                _assert_same_records(listed, wanted, f"list(status={status})")
            about = [m for m in by_creation if m.user_id == user.id]
            _assert_same_records(list(uow.outbox.list(user_id=user.id)), about, "list(user_id)")

    def test_message_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        message = _message("msg-1", user_id=user.id)
        self._store(uow_factory, message)
        fullest = _fullest_messages(user.id)[4]
        changed = attrs.evolve(fullest, id=message.id, idempotency_key=message.idempotency_key)
        changed = attrs.evolve(changed, version=0)
        with uow_factory() as uow:
            stored = uow.outbox.update(changed)
            uow.commit()
        _assert_same_records(stored, attrs.evolve(changed, version=1), "update")
        with uow_factory() as uow:
            _assert_same_records(uow.outbox.get(message.id), stored, "get after update")
            emptied = uow.outbox.update(attrs.evolve(message, params={}, version=1))
            uow.commit()
        _assert_same_records(emptied, attrs.evolve(message, params={}, version=2), "emptied")
        with uow_factory() as uow:
            _assert_same_records(uow.outbox.get(message.id), emptied, "get after emptying")

    def test_a_reused_idempotency_key_raises_duplicate_record_whatever_the_status(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        stored = [
            _message(f"msg-{status}", user_id=user.id, status=status) for status in MessageStatus
        ]
        self._store(uow_factory, *stored)
        for message in stored:
            again = _message("msg-again", idempotency_key=message.idempotency_key, user_id=user.id)
            with uow_factory() as uow:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.outbox.add(again)
                uow.commit()
            assert _refusal(raised) == (
                DuplicateRecord,
                "record.duplicate",
                {"entity": "message", "id": message.idempotency_key},
            )
        with uow_factory() as uow:
            by_id = sorted(stored, key=lambda m: m.id)  # created together: ordered by id
            _assert_same_records(list(uow.outbox.list()), by_id, "list")
            with pytest.raises(MessageNotFound):
                uow.outbox.get(MessageId("msg-again"))

    def test_a_reused_idempotency_key_within_one_unit_of_work_is_refused(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first = _message("msg-1", idempotency_key="onboarding:user-1:v0:invitation")
        with uow_factory() as uow:
            uow.outbox.add(first)
            with pytest.raises(DuplicateRecord) as raised:
                uow.outbox.add(_message("msg-2", idempotency_key=first.idempotency_key))
            uow.commit()
        assert dict(raised.value.params) == {"entity": "message", "id": first.idempotency_key}
        with uow_factory() as uow:
            assert list(uow.outbox.list()) == [first]

    def test_a_reused_message_id_raises_duplicate_record_the_key_named_first(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first = _message("msg-1")
        self._store(uow_factory, first)
        with uow_factory() as uow:
            with pytest.raises(DuplicateRecord) as raised:
                uow.outbox.add(_message("msg-1", idempotency_key="contract:another"))
            assert dict(raised.value.params) == {"entity": "message", "id": "msg-1"}
            with pytest.raises(DuplicateRecord) as raised:
                uow.outbox.add(_message("msg-1", recipient="autre@cabinet-exemple.be"))
            assert dict(raised.value.params) == {"entity": "message", "id": "contract:msg-1"}
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.outbox.list()) == [first]

    def test_unknown_message_raises_message_not_found_on_get_and_update(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        self._store(uow_factory, _message("msg-1"))
        with uow_factory() as uow:
            with pytest.raises(MessageNotFound) as raised:
                uow.outbox.get(MessageId("msg-nowhere"))
            assert _refusal(raised) == (
                MessageNotFound,
                "outbox.message_not_found",
                {"message_id": "msg-nowhere"},
            )
            with pytest.raises(MessageNotFound) as raised:
                uow.outbox.update(_message("msg-2"))
            assert dict(raised.value.params) == {"message_id": "msg-2"}
            for wrong in (None, 42, ["msg-1"]):
                with pytest.raises(MessageNotFound):
                    uow.outbox.get(cast("MessageId", wrong))
            uow.commit()
        with uow_factory() as uow:
            assert [m.id for m in uow.outbox.list()] == ["msg-1"]

    def test_stale_message_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        message = _message("msg-1")
        self._store(uow_factory, message)
        with uow_factory() as uow:
            (claimed,) = uow.outbox.claim(now=_SENT, limit=10, lease=_LEASE)
            uow.commit()
        with uow_factory() as uow:
            with pytest.raises(StaleRecord) as raised:
                uow.outbox.update(attrs.evolve(message, status=MessageStatus.SENT))
            uow.commit()
        assert _refusal(raised) == (
            StaleRecord,
            "record.stale",
            {
                "entity": "message",
                "id": "msg-1",
                "message_id": "msg-1",
                "expected": 0,
                "stored": 1,
            },
        )
        with uow_factory() as uow:
            assert uow.outbox.get(message.id) == claimed

    def test_claim_takes_due_pending_messages_by_next_attempt_then_id_up_to_the_limit(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        now = _SENT
        hour = timedelta(hours=1)
        messages = [
            _message("msg-e", next_attempt_at=now - 2 * hour),
            _message("msg-b", next_attempt_at=now),  # exactly now: due
            _message("msg-c", next_attempt_at=(now - hour).astimezone(_NEWFOUNDLAND)),
            _message("msg-a", next_attempt_at=now - hour),  # the same instant as msg-c
            _message("msg-d", next_attempt_at=now + timedelta(microseconds=1)),  # not yet
        ]
        self._store(uow_factory, *messages)
        by_id = {m.id: m for m in messages}
        with uow_factory() as uow:
            first = list(uow.outbox.claim(now=now, limit=3, lease=_LEASE))
            uow.commit()
        expected = [
            attrs.evolve(by_id[MessageId(i)], claimed_until=now + _LEASE, attempts=1, version=1)
            for i in ("msg-e", "msg-a", "msg-c")
        ]
        _assert_same_records(first, expected, "first claim")
        with uow_factory() as uow:
            for message in first:  # claim returns what it stored
                _assert_same_records(uow.outbox.get(message.id), message, "get")
            second = list(uow.outbox.claim(now=now, limit=3, lease=_LEASE))
            assert list(uow.outbox.claim(now=now, limit=3, lease=_LEASE)) == []
            uow.commit()
        assert [m.id for m in second] == ["msg-b"]
        with uow_factory() as uow:
            assert _canonical(uow.outbox.get(MessageId("msg-d"))) == _canonical(
                by_id[MessageId("msg-d")]
            )

    def test_claim_skips_messages_that_are_sent_failed_or_cancelled(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        done = [
            _message(f"msg-{status}", status=status)
            for status in MessageStatus
            if status is not MessageStatus.PENDING
        ]
        self._store(uow_factory, *done)
        with uow_factory() as uow:
            assert list(uow.outbox.claim(now=_FAR, limit=10, lease=_LEASE)) == []
            uow.commit()
        with uow_factory() as uow:
            by_id = sorted(done, key=lambda m: m.id)  # created together: ordered by id
            _assert_same_records(list(uow.outbox.list()), by_id, "list")

    def test_a_claimed_message_is_claimed_again_only_once_its_lease_is_over(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        message = _message("msg-1", next_attempt_at=_SENT)
        self._store(uow_factory, message)
        with uow_factory() as uow:
            (first,) = uow.outbox.claim(now=_SENT, limit=10, lease=_LEASE)
            uow.commit()
        assert (first.claimed_until, first.attempts, first.version) == (_SENT + _LEASE, 1, 1)
        just_before = _SENT + _LEASE - timedelta(microseconds=1)
        with uow_factory() as uow:
            assert list(uow.outbox.claim(now=just_before, limit=10, lease=_LEASE)) == []
            uow.commit()
        with uow_factory() as uow:
            (second,) = uow.outbox.claim(now=_SENT + _LEASE, limit=10, lease=2 * _LEASE)
            uow.commit()
        assert (second.claimed_until, second.attempts, second.version) == (
            _SENT + 3 * _LEASE,
            2,
            2,
        )
        with uow_factory() as uow:
            _assert_same_records(uow.outbox.get(message.id), second, "get")

    def test_a_stored_claim_is_respected_until_it_is_over(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        held = _message("msg-held", claimed_until=_SENT + timedelta(minutes=1), attempts=3)
        over = _message("msg-over", claimed_until=_SENT, attempts=3)
        self._store(uow_factory, held, over)
        with uow_factory() as uow:
            claimed = list(uow.outbox.claim(now=_SENT, limit=10, lease=_LEASE))
            uow.commit()
        _assert_same_records(
            claimed,
            [attrs.evolve(over, claimed_until=_SENT + _LEASE, attempts=4, version=1)],
            "claim",
        )

    def test_claim_with_a_limit_below_one_takes_nothing(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        message = _message("msg-1")
        self._store(uow_factory, message)
        with uow_factory() as uow:
            assert list(uow.outbox.claim(now=_FAR, limit=0, lease=_LEASE)) == []
            assert list(uow.outbox.claim(now=_FAR, limit=-1, lease=_LEASE)) == []
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.get(message.id) == message

    def test_messages_list_filters_by_status_and_user_ordered_by_creation_then_id(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        early = _SENT - timedelta(hours=1)
        messages = [
            _message("msg-c", user_id=anna.id, created_at=early),
            _message("msg-a", user_id=bert.id, created_at=_SENT, status=MessageStatus.SENT),
            _message("msg-b", user_id=anna.id, created_at=_SENT.astimezone(_KATHMANDU)),
            _message("msg-d", user_id=None, created_at=early, status=MessageStatus.FAILED),
            _message("msg-e", user_id=anna.id, created_at=_SENT, status=MessageStatus.SENT),
        ]
        self._store(uow_factory, *messages)

        def ids(listed: Sequence[Message]) -> list[str]:
            return [m.id for m in listed]

        with uow_factory() as uow:
            _assert_same_records(
                list(uow.outbox.list()),
                sorted(messages, key=lambda m: (m.created_at, m.id)),
                "list",
            )
            assert ids(uow.outbox.list()) == ["msg-c", "msg-d", "msg-a", "msg-b", "msg-e"]
            assert ids(uow.outbox.list(status=MessageStatus.PENDING)) == ["msg-c", "msg-b"]
            assert ids(uow.outbox.list(user_id=anna.id)) == ["msg-c", "msg-b", "msg-e"]
            sent_to_anna = uow.outbox.list(status=MessageStatus.SENT, user_id=anna.id)
            assert ids(sent_to_anna) == ["msg-e"]
            assert ids(uow.outbox.list(status=MessageStatus.CANCELLED)) == []
            assert ids(uow.outbox.list(user_id=UserId("nobody"))) == []

    # -- transactions ---------------------------------------------------------------------

    def test_leaving_without_commit_discards_onboardings_terms_and_messages(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        with uow_factory() as uow:
            uow.onboardings.add(_invited(user.id, token_digests=(_digest("a"),)))
            uow.terms.publish(TermsOfUse(_SENT, "2026-03"))
            uow.outbox.add(_message("msg-1", user_id=user.id))
        self._assert_empty(uow_factory, user.id)

    def test_an_exception_inside_the_block_rolls_back_onboarding_changes(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        class Boom(Exception):
            pass

        (user,) = self._people(uow_factory, 1)
        with pytest.raises(Boom), uow_factory() as uow:
            uow.onboardings.add(_invited(user.id, token_digests=(_digest("a"),)))
            uow.terms.publish(TermsOfUse(_SENT, "2026-03"))
            uow.outbox.add(_message("msg-1", user_id=user.id))
            raise Boom
        self._assert_empty(uow_factory, user.id)

    def _assert_empty(self, factory: OnboardingUnitOfWorkFactory, user_id: UserId) -> None:
        with factory() as uow:
            assert uow.onboardings.find(user_id) is None
            assert uow.onboardings.find_by_token(_digest("a")) is None
            assert list(uow.onboardings.claim_due(now=_FAR, limit=10)) == []
            assert uow.terms.current() is None
            assert list(uow.terms.list()) == []
            assert list(uow.outbox.list()) == []
            assert list(uow.outbox.claim(now=_FAR, limit=10, lease=_LEASE)) == []
            with pytest.raises(MessageNotFound):
                uow.outbox.get(MessageId("msg-1"))

    def test_rollback_discards_onboarding_changes_made_since_the_last_commit(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        record = _invited(first.id, token_digests=(_digest("a"),))
        terms = TermsOfUse(_SENT, "2026-03")
        message = _message("msg-1", user_id=first.id)
        with uow_factory() as uow:
            uow.onboardings.add(record)
            uow.terms.publish(terms)
            uow.outbox.add(message)
            uow.commit()
            uow.onboardings.update(attrs.evolve(record, token_digests=(_digest("b"),)))
            uow.onboardings.add(_invited(second.id))
            uow.terms.publish(TermsOfUse(_FAR, "2026-04"))
            uow.outbox.claim(now=_FAR, limit=10, lease=_LEASE)
            uow.outbox.add(_message("msg-2"))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.onboardings.get(first.id) == record
            assert uow.onboardings.find_by_token(_digest("a")) == record
            assert uow.onboardings.find_by_token(_digest("b")) is None
            assert uow.onboardings.find(second.id) is None
            assert list(uow.terms.list()) == [terms]
            assert list(uow.outbox.list()) == [message]

    def test_refused_writes_leave_the_unit_of_work_usable(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        record = _invited(first.id, token_digests=(_digest("a"),))
        terms = TermsOfUse(_SENT, "2026-03")
        message = _message("msg-1", user_id=first.id)
        self._store(uow_factory, record, terms, message)
        with uow_factory() as uow:
            refusals: list[tuple[type[PracticeIdError], Callable[[], object]]] = [
                (DuplicateRecord, lambda: uow.onboardings.add(_invited(first.id))),
                (OnboardingNotFound, lambda: uow.onboardings.update(_invited(second.id))),
                (StaleRecord, lambda: uow.onboardings.update(attrs.evolve(record, version=3))),
                (DuplicateRecord, lambda: uow.terms.publish(TermsOfUse(_FAR, "2026-03"))),
                (
                    DuplicateRecord,
                    lambda: uow.outbox.add(
                        _message("msg-2", idempotency_key=message.idempotency_key)
                    ),
                ),
                (MessageNotFound, lambda: uow.outbox.update(_message("msg-3"))),
                (StaleRecord, lambda: uow.outbox.update(attrs.evolve(message, version=2))),
            ]
            for refused, call in refusals:
                with pytest.raises(refused):
                    call()
            added = _invited(second.id, token_digests=(_digest("b"),))
            uow.onboardings.add(added)
            updated = uow.onboardings.update(attrs.evolve(record, reminders_sent=1))
            later = TermsOfUse(_SENT + timedelta(days=1), "2026-04")
            uow.terms.publish(later)
            fresh = _message("msg-2", user_id=second.id, next_attempt_at=_FAR)
            uow.outbox.add(fresh)
            (claimed,) = uow.outbox.claim(now=_SENT, limit=10, lease=_LEASE)
            uow.commit()
        with uow_factory() as uow:
            assert uow.onboardings.get(first.id) == updated
            assert uow.onboardings.get(second.id) == added
            assert uow.onboardings.find_by_token(_digest("b")) == added
            assert list(uow.terms.list()) == [terms, later]
            assert list(uow.outbox.list()) == [claimed, fresh]

    def test_onboarding_repositories_outside_their_unit_of_work_raise(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        uow = uow_factory()
        calls: list[Callable[[], object]] = [
            lambda: uow.onboardings.find(user.id),
            lambda: uow.onboardings.get(user.id),
            lambda: uow.onboardings.find_by_token(_digest("a")),
            lambda: uow.onboardings.claim_due(now=_FAR, limit=10),
            lambda: uow.onboardings.add(_invited(user.id)),
            lambda: uow.onboardings.update(_invited(user.id)),
            uow.terms.current,
            uow.terms.list,
            lambda: uow.terms.publish(TermsOfUse(_SENT, "2026-03")),
            lambda: uow.outbox.add(_message("msg-1")),
            lambda: uow.outbox.get(MessageId("msg-1")),
            lambda: uow.outbox.update(_message("msg-1")),
            uow.outbox.list,
            lambda: uow.outbox.claim(now=_FAR, limit=10, lease=_LEASE),
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow_factory() as fresh:
            assert fresh.onboardings.find(user.id) is None
            assert fresh.terms.current() is None
            assert list(fresh.outbox.list()) == []

    # -- against the in-memory store -------------------------------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        _run_against_memory(_OnboardingAgreesWithMemory, self.make_unit_of_work_factory)

    # -- concurrency (D2: concurrent services, sweeps and dispatchers) ---------------------

    def test_sixteen_concurrent_adds_of_one_idempotency_key_store_exactly_one_message(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        key = f"onboarding:{user.id}:v0:invitation"

        def attempt(i: int, barrier: threading.Barrier) -> object:
            message = _message(f"msg-{i:02d}", idempotency_key=key, user_id=user.id)
            barrier.wait()
            with uow_factory() as uow:
                uow.outbox.add(message)
                uow.commit()
            return message

        results = self._race(attempt)
        winners, refusals = _one_winner(results, Message, DuplicateRecord)
        assert {type(r) for r in refusals} == {DuplicateRecord}
        assert all(dict(r.params) == {"entity": "message", "id": key} for r in refusals)
        with uow_factory() as uow:
            assert list(uow.outbox.list()) == winners

    def test_sixteen_concurrent_first_onboardings_of_one_user_have_exactly_one_winner(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)

        def attempt(i: int, barrier: threading.Barrier) -> object:
            record = _invited(user.id, token_digests=(_digest(f"link-{i}"),))
            barrier.wait()
            with uow_factory() as uow:
                uow.onboardings.add(record)
                uow.commit()
            return record

        results = self._race(attempt)
        winners, refusals = _one_winner(results, Onboarding, DuplicateRecord)
        assert {type(r) for r in refusals} == {DuplicateRecord}
        with uow_factory() as uow:
            assert uow.onboardings.get(user.id) == winners[0]
            found = [uow.onboardings.find_by_token(_digest(f"link-{i}")) for i in range(_THREADS)]
        assert [f for f in found if f is not None] == winners

    def test_sixteen_concurrent_publications_of_one_version_have_exactly_one_winner(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        def attempt(i: int, barrier: threading.Barrier) -> object:
            terms = TermsOfUse(_SENT + timedelta(seconds=i), "2026-03")
            barrier.wait()
            with uow_factory() as uow:
                uow.terms.publish(terms)
                uow.commit()
            return terms

        results = self._race(attempt)
        winners, _refusals = _one_winner(results, TermsOfUse, DuplicateRecord)
        with uow_factory() as uow:
            assert list(uow.terms.list()) == winners

    def test_sixteen_concurrent_updates_of_one_onboarding_have_exactly_one_winner(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._store(uow_factory, _invited(user.id))

        def attempt(i: int, barrier: threading.Barrier) -> object:
            # Read and write in two units of work: see the access contract's race.
            with uow_factory() as uow:
                read = uow.onboardings.get(user.id)
            barrier.wait()
            minted = attrs.evolve(read, token_digests=(_digest(f"link-{i}"),))
            with uow_factory() as uow:
                stored = uow.onboardings.update(minted)
                uow.commit()
            return stored

        results = self._race(attempt)
        winners, _refusals = _one_winner(results, Onboarding, StaleRecord)
        assert winners[0].version == 1
        with uow_factory() as uow:
            assert uow.onboardings.get(user.id) == winners[0]
            found = [uow.onboardings.find_by_token(_digest(f"link-{i}")) for i in range(_THREADS)]
        assert [f for f in found if f is not None] == winners

    def test_sixteen_concurrent_updates_of_one_message_have_exactly_one_winner(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        self._store(uow_factory, _message("msg-1"))

        def attempt(i: int, barrier: threading.Barrier) -> object:
            with uow_factory() as uow:
                read = uow.outbox.get(MessageId("msg-1"))
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.outbox.update(attrs.evolve(read, last_error=f"attempt {i}"))
                uow.commit()
            return stored

        results = self._race(attempt)
        winners, _refusals = _one_winner(results, Message, StaleRecord)
        with uow_factory() as uow:
            assert uow.outbox.get(MessageId("msg-1")) == winners[0]

    def test_eight_concurrent_dispatchers_claim_each_of_two_hundred_messages_exactly_once(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        messages = [
            _message(
                f"msg-{n:03d}",
                user_id=user.id,
                next_attempt_at=_SENT - timedelta(seconds=n % 7),
            )
            for n in range(_BACKLOG)
        ]
        self._store(uow_factory, *messages)
        now = _SENT + timedelta(minutes=1)

        def dispatch(_i: int, barrier: threading.Barrier) -> object:
            claimed: list[MessageId] = []
            barrier.wait()
            for _ in range(_BACKLOG):  # more would claim some message twice
                with uow_factory() as uow:
                    batch = uow.outbox.claim(now=now, limit=7, lease=_LEASE)
                    uow.commit()
                if not batch:
                    break
                claimed += [m.id for m in batch]
            return claimed

        results = self._race(dispatch, _DISPATCHERS)
        assert not [r for r in results if not isinstance(r, list)], results
        claims = Counter(i for ids in cast("list[list[MessageId]]", results) for i in ids)
        assert sorted(claims) == sorted(m.id for m in messages)
        twice = sorted(i for i, n in claims.items() if n > 1)
        assert twice == [], f"claimed more than once: {twice}"
        with uow_factory() as uow:
            stored = list(uow.outbox.list())
        assert {(m.attempts, m.version, m.claimed_until) for m in stored} == {(1, 1, now + _LEASE)}

    def test_eight_concurrent_sweeps_process_each_of_two_hundred_due_records_exactly_once(
        self, uow_factory: OnboardingUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, _BACKLOG)
        records = [
            _invited(u.id, due_at=_SENT - timedelta(seconds=n % 7)) for n, u in enumerate(users)
        ]
        self._store(uow_factory, *records)

        def sweep(_i: int, barrier: threading.Barrier) -> object:
            processed: list[UserId] = []
            barrier.wait()
            for _ in range(_BACKLOG):  # more would process some record twice
                with uow_factory() as uow:
                    due = uow.onboardings.claim_due(now=_SENT, limit=7)
                    for record in due:  # the sweep's pattern: nothing due after it
                        uow.onboardings.update(attrs.evolve(record, due_at=None))
                    uow.commit()
                if not due:
                    break
                processed += [r.user_id for r in due]
            return processed

        results = self._race(sweep, _DISPATCHERS)
        assert not [r for r in results if not isinstance(r, list)], results
        sweeps = Counter(i for ids in cast("list[list[UserId]]", results) for i in ids)
        assert sorted(sweeps) == sorted(u.id for u in users)
        twice = sorted(i for i, n in sweeps.items() if n > 1)
        assert twice == [], f"processed more than once: {twice}"
        with uow_factory() as uow:
            assert list(uow.onboardings.claim_due(now=_FAR, limit=10)) == []
            stored = [uow.onboardings.get(u.id) for u in users]
        assert {(r.version, r.due_at) for r in stored} == {(1, None)}


# The pools of the differential machine: few values, so that collisions and ties are common.
_MACHINE_TIMES = tuple(_SENT + timedelta(hours=h) for h in range(4))
_MACHINE_DUE = st.sampled_from((None, *_MACHINE_TIMES[:3]))
_MACHINE_NOW = st.sampled_from((_SENT - timedelta(hours=1), *_MACHINE_TIMES))
_MACHINE_LIMITS = st.sampled_from((0, 1, 2, 3, 10))
_MACHINE_LEASES = st.sampled_from((timedelta(hours=1), timedelta(hours=2)))
_MACHINE_CREATED = (_SENT - timedelta(hours=1), _SENT, _SENT.astimezone(_KATHMANDU))
_MESSAGE_IDS = tuple(MessageId(f"msg-{name}") for name in ("a", "b", "c", "d", "e"))
_MESSAGE_KEYS = tuple(f"onboarding:key-{n}" for n in range(1, 6))
_MESSAGE_PARAMS: tuple[dict[str, str], ...] = (
    {},
    {"establishment": "Cabinet des Tilleuls"},
    {"expires_at": _SENT.isoformat(), "établissement": "Hôpital Ωμέγα 🩺"},
)
_TERMS_VERSIONS = ("2025-12", "2026-01", "2026-03", "v10", "v9")
_TERMS_TIMES = (_SENT - timedelta(days=1), _SENT, _SENT.astimezone(_NEWFOUNDLAND))
_LINK_INDEXES = st.lists(st.integers(0, 2), unique=True, max_size=3)
_ERRORS = ("", "TimeoutError", "round_over")


def _machine_digest(user_id: UserId, index: int) -> bytes:
    """One of the three link digests a user's record may hold in the machine."""
    return _digest(f"{user_id}:{index}")


# What find_by_token is asked: a digest of the pool, or something else.
_TOKEN_QUERIES: SearchStrategy[object] = st.one_of(
    st.builds(_machine_digest, st.sampled_from(_USER_IDS), st.integers(0, 2)),
    st.sampled_from((b"", bytes(32), _machine_digest(_USER_IDS[0], 0).hex(), "", None, 42)),
)


class _OnboardingAgreesWithMemory(_AgreesWithMemory[OnboardingUnitOfWork]):
    """Users, onboarding records, terms and the outbox against the in-memory store's.

    Records point at stored users; each user's record holds some of three link digests of
    its own (digests never collide). Sweeps clear ``due_at`` of what ``claim_due`` returned,
    in the same unit of work. Ids, keys, versions and times come from small pools, so that
    duplicates, stale versions and ties in the orders are frequent.
    """

    def _both(self, operation: str, call: Callable[[OnboardingUnitOfWork], object]) -> None:
        super()._both(operation, lambda uow: _canonical(call(uow)))

    def _add(self, record: _OnboardingRecord) -> None:
        self._both(f"add({record!r})", lambda uow: _add_onboarding_record(uow, record))

    def _onboarded(self) -> list[UserId]:
        reference = self._pair()[1]
        return [u for u in self._user_ids() if reference.onboardings.find(u) is not None]

    def _message_ids(self) -> list[MessageId]:
        return [m.id for m in self._pair()[1].outbox.list()]

    @rule(operation=st.deferred(lambda: _operations(_OnboardingAgreesWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)

    @initialize(seeded=st.sampled_from((False, True, True, True)))
    def seed(self, *, seeded: bool) -> None:
        """An establishment; sometimes users with records, terms and messages too."""
        organisation = Organisation(
            id=_ORGANISATION_IDS[0], name="Groupe des Tilleuls", owners=(), created_at=_OPENED
        )
        self._add(organisation)
        self._add(_establishment(_EST, organisation_id=organisation.id))
        if seeded:
            anna, bert, chloe, _dirk = _USER_IDS
            for user_id in _USER_IDS:
                self._add(sample_user(id=user_id))
            digests = (_machine_digest(anna, 1), _machine_digest(anna, 0))
            self._add(_invited(anna, due_at=_MACHINE_TIMES[0], token_digests=digests))
            self._add(
                _invited(
                    bert,
                    due_at=_MACHINE_TIMES[1],
                    token_digests=(_machine_digest(bert, 2),),
                    invited_by=anna,
                )
            )
            self._add(attrs.evolve(_invited(chloe, due_at=None), status=OnboardingStatus.ACCEPTED))
            self._add(TermsOfUse(_TERMS_TIMES[1], _TERMS_VERSIONS[1]))
            self._add(_message(_MESSAGE_IDS[0], idempotency_key=_MESSAGE_KEYS[0], user_id=anna))
            self._add(
                _message(
                    _MESSAGE_IDS[1],
                    idempotency_key=_MESSAGE_KEYS[1],
                    next_attempt_at=_MACHINE_TIMES[1],
                    kind=MessageKind.INVITATION_EXPIRED,
                    link_round=None,
                )
            )
        self.finish(how="commit and leave")

    # -- onboarding records -----------------------------------------------------------------

    @_operation(
        weight=2,
        user_id=st.sampled_from(_USER_IDS),
        status=st.sampled_from(OnboardingStatus),
        mode=st.sampled_from(OnboardingMode),
        due=_MACHINE_DUE,
        links=_LINK_INDEXES,
        invited_by=st.none() | st.sampled_from(_USER_IDS),
        legacy=st.booleans(),
        any_record=_ANY_RECORD,
    )
    def add_onboarding(
        self,
        *,
        user_id: UserId,
        status: OnboardingStatus,
        mode: OnboardingMode,
        due: datetime | None,
        links: list[int],
        invited_by: UserId | None,
        legacy: bool,
        any_record: bool,
    ) -> None:
        users = self._user_ids()
        chosen = _pick(user_id, users, taken=self._onboarded(), any_record=any_record)
        if chosen is None:
            return
        record = _invited(
            chosen,
            establishment_id=EstablishmentId("") if legacy else _EST,
            status=status,
            mode=mode,
            due_at=due,
            token_digests=tuple(_machine_digest(chosen, i) for i in links),
            invited_by=invited_by if invited_by in users else None,
        )
        self._add(record)

    @_operation(
        weight=2,
        user_id=st.sampled_from(_USER_IDS),
        status=st.none() | st.sampled_from(OnboardingStatus),
        due=_MACHINE_DUE,
        links=st.none() | _LINK_INDEXES,
        terms=st.none() | st.sampled_from(_TERMS_VERSIONS),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_onboarding(
        self,
        *,
        user_id: UserId,
        status: OnboardingStatus | None,
        due: datetime | None,
        links: list[int] | None,
        terms: str | None,
        shift: int,
        any_record: bool,
    ) -> None:
        user_id = _target(user_id, self._onboarded(), any_record=any_record)
        current = self._stored(lambda uow: uow.onboardings.get(user_id)) or _invited(user_id)
        changed = attrs.evolve(
            current,
            status=current.status if status is None else status,
            resume=current.status if status is OnboardingStatus.DEACTIVATED else None,
            due_at=due,
            reminders_sent=current.reminders_sent + 1,
            token_digests=(
                current.token_digests
                if links is None
                else tuple(_machine_digest(user_id, i) for i in links)
            ),
            terms_version=current.terms_version if terms is None else terms,
            terms_accepted_at=current.terms_accepted_at if terms is None else _SENT,
            version=_shifted(current.version, shift),
        )
        self._update_onboarding(changed)

    def _update_onboarding(self, changed: Onboarding) -> None:
        links = [d.hex()[:8] for d in changed.token_digests]
        self._both(
            f"onboardings.update({changed!r}, links {links})",
            lambda uow: uow.onboardings.update(changed),
        )

    @_operation(now=_MACHINE_NOW, limit=_MACHINE_LIMITS)
    def sweep(self, *, now: datetime, limit: int) -> None:
        """Claim the due records, then clear their ``due_at`` in the same unit of work."""
        self._both(
            f"onboardings.claim_due(now={now}, limit={limit})",
            lambda uow: list(uow.onboardings.claim_due(now=now, limit=limit)),
        )
        for record in self._pair()[1].onboardings.claim_due(now=now, limit=limit):
            self._update_onboarding(attrs.evolve(record, due_at=None))

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        token=_TOKEN_QUERIES,
        now=_MACHINE_NOW,
        limit=_MACHINE_LIMITS,
    )
    def read_onboardings(
        self, *, user_id: UserId, token: object, now: datetime, limit: int
    ) -> None:
        self._both(f"onboardings.get({user_id})", lambda uow: uow.onboardings.get(user_id))
        self._both(f"onboardings.find({user_id})", lambda uow: uow.onboardings.find(user_id))
        self._both(
            f"onboardings.find_by_token({token!r})",
            lambda uow: uow.onboardings.find_by_token(cast("bytes", token)),
        )
        self._both(
            f"onboardings.claim_due(now={now}, limit={limit})",
            lambda uow: list(uow.onboardings.claim_due(now=now, limit=limit)),
        )

    # -- terms of use -----------------------------------------------------------------------

    @_operation(version=st.sampled_from(_TERMS_VERSIONS), when=st.sampled_from(_TERMS_TIMES))
    def publish_terms(self, *, version: str, when: datetime) -> None:
        self._add(TermsOfUse(when, version))

    @_operation()
    def read_terms(self) -> None:
        self._both("terms.current()", lambda uow: uow.terms.current())
        self._both("terms.list()", lambda uow: list(uow.terms.list()))

    # -- the outbox -------------------------------------------------------------------------

    @_operation(
        weight=2,
        message_id=st.sampled_from(_MESSAGE_IDS),
        key=st.sampled_from(_MESSAGE_KEYS),
        user_id=st.none() | st.sampled_from(_USER_IDS),
        kind=st.sampled_from(MessageKind),
        status=st.sampled_from(MessageStatus),
        created=st.sampled_from(_MACHINE_CREATED),
        next_attempt=st.sampled_from(_MACHINE_TIMES[:3]),
        claimed_until=st.none() | st.sampled_from(_MACHINE_TIMES),
        params=st.sampled_from(_MESSAGE_PARAMS),
        any_record=_ANY_RECORD,
    )
    def add_message(
        self,
        *,
        message_id: MessageId,
        key: str,
        user_id: UserId | None,
        kind: MessageKind,
        status: MessageStatus,
        created: datetime,
        next_attempt: datetime,
        claimed_until: datetime | None,
        params: dict[str, str],
        any_record: bool,
    ) -> None:
        stored = self._pair()[1].outbox.list()
        message = _message(
            _free(message_id, [m.id for m in stored], _MESSAGE_IDS, any_record=any_record),
            idempotency_key=_free(
                key, [m.idempotency_key for m in stored], _MESSAGE_KEYS, any_record=any_record
            ),
            user_id=user_id if user_id in self._user_ids() else None,
            kind=kind,
            status=status,
            created_at=created,
            next_attempt_at=next_attempt,
            claimed_until=claimed_until,
            params=params,
            link_round=1 if kind.carries_link else None,
        )
        self._add(message)

    @_operation(
        message_id=st.sampled_from(_MESSAGE_IDS),
        status=st.none() | st.sampled_from(MessageStatus),
        next_attempt=st.none() | st.sampled_from(_MACHINE_TIMES),
        release=st.booleans(),
        error=st.sampled_from(_ERRORS),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_message(
        self,
        *,
        message_id: MessageId,
        status: MessageStatus | None,
        next_attempt: datetime | None,
        release: bool,
        error: str,
        shift: int,
        any_record: bool,
    ) -> None:
        message_id = _target(message_id, self._message_ids(), any_record=any_record)
        current = self._stored(lambda uow: uow.outbox.get(message_id)) or _message(message_id)
        changed = attrs.evolve(
            current,
            status=current.status if status is None else status,
            next_attempt_at=current.next_attempt_at if next_attempt is None else next_attempt,
            claimed_until=None if release else current.claimed_until,
            sent_at=_SENT if status is MessageStatus.SENT else current.sent_at,
            last_error=error,
            version=_shifted(current.version, shift),
        )
        self._both(f"outbox.update({changed!r})", lambda uow: uow.outbox.update(changed))

    @_operation(weight=2, now=_MACHINE_NOW, limit=_MACHINE_LIMITS, lease=_MACHINE_LEASES)
    def claim_messages(self, *, now: datetime, limit: int, lease: timedelta) -> None:
        self._both(
            f"outbox.claim(now={now}, limit={limit}, lease={lease})",
            lambda uow: list(uow.outbox.claim(now=now, limit=limit, lease=lease)),
        )

    @_operation(
        message_id=st.sampled_from(_MESSAGE_IDS),
        status=st.none() | st.sampled_from(MessageStatus),
        user_id=st.none() | st.sampled_from(_USER_IDS),
    )
    def read_messages(
        self, *, message_id: MessageId, status: MessageStatus | None, user_id: UserId | None
    ) -> None:
        self._both(f"outbox.get({message_id})", lambda uow: uow.outbox.get(message_id))
        self._both(
            f"outbox.list(status={status}, user_id={user_id})",
            lambda uow: list(uow.outbox.list(status=status, user_id=user_id)),
        )

    # -- what both stores hold --------------------------------------------------------------

    def _contents(self, uow: OnboardingUnitOfWork) -> dict[str, object]:
        found = super()._contents(uow)
        for user_id in _USER_IDS:
            found[f"onboardings.find({user_id})"] = uow.onboardings.find(user_id)
            for index in range(3):
                found[f"onboardings.find_by_token({user_id}, link {index})"] = (
                    uow.onboardings.find_by_token(_machine_digest(user_id, index))
                )
        found["onboardings.claim_due(every record)"] = list(
            uow.onboardings.claim_due(now=_FAR, limit=100)
        )
        found["terms.current()"] = uow.terms.current()
        found["terms.list()"] = list(uow.terms.list())
        found["outbox.list()"] = list(uow.outbox.list())
        return {read: _canonical(outcome) for read, outcome in found.items()}


# -- licenses (E1-E4) ---------------------------------------------------------------------------

_LICENSED = datetime(2026, 3, 2, 8, 30, 15, 250001, tzinfo=UTC)
_PROVISIONAL_DAYS = timedelta(days=45)
_INVOICE = "F-2026/00042"
# The longest invoice number LicenseService.invoice accepts: 64 of letters, digits, ".", "_",
# "/" and "-".
_LONGEST_INVOICE = ("F-2026/00042_rev.B-" * 4)[:64]
# Amounts as prices give them, to the cent; the store must give back the same digits.
_AMOUNTS = (
    Decimal("0.00"),
    Decimal("0.01"),
    Decimal("35.10"),
    Decimal("420.00"),
    Decimal("99999.99"),
    Decimal("1234567890123.45"),
)
_STORED_LICENSE_STATUSES = (
    LicenseStatus.PROVISIONAL,
    LicenseStatus.REQUESTED,
    LicenseStatus.INVOICED,
    LicenseStatus.PAID,
    LicenseStatus.ACTIVE,
    LicenseStatus.EXPIRING,
    LicenseStatus.EXPIRED,
)
# Ids whose code point order is not the order of a locale's collation.
_ZEBRA = EstablishmentId("est-Zèbre")

_LicenseRecord = _OnboardingRecord | License


def _license_id(establishment_id: object, user_id: object) -> str:
    return f"{establishment_id}/{user_id}"


def _asked(user_id: UserId, **overrides: object) -> LicenseRequest:
    """A request for a year of ``user_id``'s physician license, made at :data:`_LICENSED`."""
    values: dict[str, object] = {
        "requested_at": _LICENSED,
        "requested_by": user_id,
        "kind": LicenseKind.PHYSICIAN,
        "months": 12,
        "first_name": "Camille",
        "last_name": "Exemple",
        "identifier_kind": "inami",
        "identifier": "10000097003",
        "practice": "Cabinet des Tilleuls",
        "bill_to": user_id,
    }
    values.update(overrides)
    return LicenseRequest(**values)  # type: ignore[arg-type]


def _seat(
    user_id: UserId, establishment_id: EstablishmentId = _EST, **overrides: object
) -> License:
    """A provisional physician license made at :data:`_LICENSED`; due at its first notice."""
    until = _LICENSED + _PROVISIONAL_DAYS
    values: dict[str, object] = {
        "establishment_id": establishment_id,
        "user_id": user_id,
        "kind": LicenseKind.PHYSICIAN,
        "status": LicenseStatus.PROVISIONAL,
        "created_at": _LICENSED,
        "valid_from": _LICENSED,
        "valid_until": until,
        "provisional_until": until,
        "due_at": until - timedelta(days=30),
    }
    values.update(overrides)
    return License(**values)  # type: ignore[arg-type]


def _invoiced(
    user_id: UserId, invoice: str = _INVOICE, establishment_id: EstablishmentId = _EST
) -> License:
    """``user_id``'s license, requested and then invoiced on ``invoice``."""
    pending = _asked(
        user_id,
        invoice_number=invoice,
        invoiced_at=_LICENSED + timedelta(days=1),
        amount=Decimal("420.00"),
        currency="EUR",
    )
    return _seat(
        user_id,
        establishment_id,
        status=LicenseStatus.INVOICED,
        pending=pending,
        resume=LicenseStatus.PROVISIONAL,
    )


def _add_license_record(uow: LicenseUnitOfWork, record: _LicenseRecord) -> None:
    """Add ``record`` through the repository of its kind."""
    if isinstance(record, License):
        uow.licenses.add(record)
    else:
        _add_onboarding_record(uow, record)


def _fullest_request(user_id: UserId, n: int, zone: timezone) -> LicenseRequest:
    """A request with every field set: Unicode names of 100 characters, the longest invoice."""
    asked = (_LICENSED - timedelta(days=40, microseconds=n)).astimezone(zone)
    return LicenseRequest(
        requested_at=asked,
        requested_by=UserId(f"desk-{'é' * n}"),
        kind=(LicenseKind.LOCUM, LicenseKind.PHYSICIAN)[n % 2],
        months=(1, 12, 36)[n % 3],
        first_name=_long_text("Zoë Ἑλένη 王秀英 👩‍⚕️ "),
        last_name=_long_text("Van den Broeck-Núñez O'Neil محمد "),
        identifier_kind=("inami", "rpps")[n % 2],
        identifier=(sample_inami("005"), _rpps(n).number)[n % 2],
        practice=_long_text("Maison médicale d'Écaussinnes · Ωμέγα · 🩺 · "),
        bill_to=UserId(f"supervisor-{'ü' * n}") if n % 2 else user_id,
        invoice_number=_LONGEST_INVOICE if n % 2 else f"{_INVOICE}-{n}",
        invoiced_at=(asked + timedelta(days=1, microseconds=1)).astimezone(_KATHMANDU),
        amount=_AMOUNTS[n % len(_AMOUNTS)],
        currency=("EUR", "CHF", "GBP")[n % 3],
        paid_at=asked + timedelta(days=2, microseconds=3),
        activation_due_at=(asked + timedelta(days=33)).astimezone(_NEWFOUNDLAND),
        late_reported_at=asked + timedelta(days=33, seconds=1),
        activated_at=asked + timedelta(days=34, microseconds=999999),
    )


def _fullest_licenses(users: Sequence[User]) -> list[License]:
    """One license per kind and stored status (21 users), every field set.

    Datetimes have microseconds and are given in offsets that are not whole hours; both
    requests are full (:func:`_fullest_request`), amounts from zero to thirteen digits.
    """
    zones = (UTC, _NEWFOUNDLAND, _KATHMANDU, _BRUSSELS_SUMMER)
    combinations = [(k, s) for k in LicenseKind for s in _STORED_LICENSE_STATUSES]
    assert len(users) >= len(combinations)
    seats = []
    for n, ((kind, status), user) in enumerate(zip(combinations, users, strict=False)):
        zone = zones[n % len(zones)]
        created = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC).astimezone(zone)
        created += timedelta(minutes=n, microseconds=n)
        seats.append(
            License(
                establishment_id=_EST,
                user_id=user.id,
                kind=kind,
                status=status,
                created_at=created,
                valid_from=created + timedelta(microseconds=1),
                valid_until=(created + timedelta(days=365, hours=1)).astimezone(zones[n % 3]),
                provisional_until=created + _PROVISIONAL_DAYS,
                notices_sent=n % 6,
                lapsed_at=created + timedelta(days=366, microseconds=7),
                pending=_fullest_request(user.id, n, zone),
                activation=_fullest_request(user.id, n + 1, zones[(n + 1) % 4]),
                resume=_STORED_LICENSE_STATUSES[n % 7],
                due_at=(created + timedelta(days=335, microseconds=5)).astimezone(_KATHMANDU),
                version=n,
            )
        )
    return seats


def _sparest_licenses(user_id: UserId, other: UserId) -> list[License]:
    """Licenses with every optional field empty: a free one, and one just requested."""
    return [
        License(
            establishment_id=_EST,
            user_id=user_id,
            kind=LicenseKind.STAFF,
            status=LicenseStatus.ACTIVE,
            created_at=_LICENSED,
        ),
        _seat(other, status=LicenseStatus.REQUESTED, pending=_asked(other), due_at=None),
    ]


_INVOICE_DESKS = 8
"""How many desks reserve one invoice number at once in the contract's race."""


def _amounts(seat: License | None) -> list[str | None]:
    """The amounts a license holds, as text: the digits an invoice prints."""
    if seat is None:
        return []
    requests = (seat.pending, seat.activation)
    return [None if r is None or r.amount is None else str(r.amount) for r in requests]


class LicenseRepositoriesContract(_AccessStoreContract):
    """The license repository of a license unit of work (E1-E4).

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.LicenseUnitOfWork` over one fresh, empty store. The suite checks
    the error contract of :class:`~practiceid.ports.LicenseRepository`: every field of a
    license and of its requests round-trips, amounts with the same digits; refusals carry
    their exact params and leave the unit of work usable; lists are in code point order of
    (establishment, user); ``with_invoice`` finds the licenses whose pending or last
    activation is on that very invoice, each once; an invoice number is reserved once,
    ever, in any establishment, and of several concurrent reservations exactly one commits;
    due licenses are claimed earliest first, each by exactly one of several concurrent
    sweeps; and random operations agree with the in-memory store. It stores the users and
    establishments a license refers to before the license, so an adapter may enforce
    foreign keys.
    """

    def make_unit_of_work_factory(self) -> LicenseUnitOfWorkFactory:
        """Return a factory of license units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> LicenseUnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _store(factory: LicenseUnitOfWorkFactory, *records: _LicenseRecord) -> None:
        """Store ``records``, in order, in one committed unit of work."""
        with factory() as uow:
            for record in records:
                _add_license_record(uow, record)
            uow.commit()

    def _named(self, factory: LicenseUnitOfWorkFactory, *names: str) -> list[User]:
        """Store the practice, :data:`_ANNEX`, :data:`_ZEBRA` and a user ``user-<name>`` each."""
        users = [sample_user(id=UserId(f"user-{name}")) for name in names]
        self._practice(factory, *users)
        self._store(factory, _establishment(_ANNEX), _establishment(_ZEBRA))
        return users

    @staticmethod
    def _race(
        attempt: Callable[[int, threading.Barrier], object], count: int = _THREADS
    ) -> list[object]:
        """Run ``attempt`` in ``count`` threads (16); return what each returned or raised."""
        return _race_in_threads(attempt, count)

    # -- add and read ---------------------------------------------------------------------

    def test_added_license_reads_back_equal_through_get_find_and_the_lists(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        seat = _invoiced(user.id)
        self._store(uow_factory, seat)
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == seat
            assert uow.licenses.find(_EST, user.id) == seat
            assert list(uow.licenses.list_for_establishment(_EST)) == [seat]
            assert list(uow.licenses.list_for_user(user.id)) == [seat]
            assert list(uow.licenses.with_invoice(_INVOICE)) == [seat]
            assert list(uow.licenses.with_status(LicenseStatus.INVOICED)) == [seat]

    def test_every_license_field_round_trips_exactly_in_every_status_and_kind(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 23)
        seats = [*_fullest_licenses(users[:21]), *_sparest_licenses(users[21].id, users[22].id)]
        assert {(s.kind, s.status) for s in seats} >= {
            (k, s) for k in LicenseKind for s in _STORED_LICENSE_STATUSES
        }
        self._store(uow_factory, *seats)
        with uow_factory() as uow:
            for seat in seats:
                where = f"{seat.kind}/{seat.status}"
                got = uow.licenses.get(seat.establishment_id, seat.user_id)
                _assert_same(got, seat, f"get {where}")
                _assert_same(uow.licenses.find(*seat.key), seat, f"find {where}")
                assert _amounts(got) == _amounts(seat), where  # "420.00", not 420
            listed = list(uow.licenses.list_for_establishment(_EST))
            claimed = list(uow.licenses.claim_due(now=_FAR, limit=100))
        _assert_same(listed, sorted(seats, key=lambda s: s.key), "list_for_establishment")
        assert [_amounts(s) for s in listed] == [
            _amounts(s) for s in sorted(seats, key=lambda s: s.key)
        ]
        assert sorted(s.key for s in claimed) == sorted(s.key for s in seats[:21])

    def test_license_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        seat = _seat(user.id)
        self._store(uow_factory, seat)
        fullest = attrs.evolve(_fullest_licenses([user] * 21)[17], version=0)
        with uow_factory() as uow:
            stored = uow.licenses.update(fullest)
            uow.commit()
        _assert_same(stored, attrs.evolve(fullest, version=1), "update")
        with uow_factory() as uow:
            got = uow.licenses.get(_EST, user.id)
            _assert_same(got, stored, "get after update")
            assert _amounts(got) == _amounts(fullest)
            # Emptied again: fields set to None are stored so.
            sparest = attrs.evolve(_sparest_licenses(user.id, user.id)[0], version=1)
            emptied = uow.licenses.update(sparest)
            uow.commit()
        _assert_same(emptied, attrs.evolve(sparest, version=2), "second update")
        with uow_factory() as uow:
            _assert_same(uow.licenses.get(_EST, user.id), emptied, "get after second update")
            assert fullest.pending is not None
            assert fullest.pending.invoice_number is not None
            assert list(uow.licenses.with_invoice(fullest.pending.invoice_number)) == []
            assert list(uow.licenses.claim_due(now=_FAR, limit=10)) == []

    # -- refusals -------------------------------------------------------------------------

    def test_a_second_license_of_a_member_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        first = _seat(user.id)
        self._store(uow_factory, first)
        for second in (_invoiced(user.id), _sparest_licenses(user.id, user.id)[0]):
            with uow_factory() as uow:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.licenses.add(second)
                uow.commit()
            assert _refusal(raised) == (
                DuplicateRecord,
                "record.duplicate",
                {
                    "entity": "license",
                    "id": _license_id(_EST, user.id),
                    "establishment_id": _EST,
                    "user_id": user.id,
                },
            )
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == first
            assert list(uow.licenses.with_invoice(_INVOICE)) == []
            assert list(uow.licenses.with_status(LicenseStatus.INVOICED)) == []

    def test_a_second_license_within_one_unit_of_work_is_refused(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        first = _seat(user.id)
        with uow_factory() as uow:
            uow.licenses.add(first)
            with pytest.raises(DuplicateRecord) as raised:
                uow.licenses.add(_seat(user.id, kind=LicenseKind.LOCUM))
            uow.commit()
        assert raised.value.params["id"] == _license_id(_EST, user.id)
        with uow_factory() as uow:
            assert list(uow.licenses.list_for_user(user.id)) == [first]

    def test_one_member_may_hold_a_license_in_several_establishments(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._named(uow_factory, "anna")
        seats = [_seat(user.id, e) for e in (_EST, _ANNEX, _ZEBRA)]
        self._store(uow_factory, *seats)
        with uow_factory() as uow:
            for seat in seats:
                assert uow.licenses.get(*seat.key) == seat
            assert list(uow.licenses.list_for_user(user.id)) == sorted(seats, key=lambda s: s.key)

    def test_unknown_license_is_found_as_none_and_get_and_update_raise_license_not_found(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        self._store(uow_factory, _seat(first.id))
        with uow_factory() as uow:
            for establishment_id, user_id in (
                (_EST, second.id),  # a member without one
                (_ANNEX, first.id),  # a license elsewhere
                (EstablishmentId("nowhere"), UserId("nobody")),
            ):
                assert uow.licenses.find(establishment_id, user_id) is None
                with pytest.raises(LicenseNotFound) as raised:
                    uow.licenses.get(establishment_id, user_id)
                assert _refusal(raised) == (
                    LicenseNotFound,
                    "license.not_found",
                    {"establishment_id": establishment_id, "user_id": user_id},
                )
            with pytest.raises(LicenseNotFound) as raised:
                uow.licenses.update(_seat(second.id))
            assert _refusal(raised) == (
                LicenseNotFound,
                "license.not_found",
                {"establishment_id": _EST, "user_id": second.id},
            )
            uow.commit()
        with uow_factory() as uow:
            assert uow.licenses.find(_EST, second.id) is None

    def test_ids_that_are_not_text_find_no_license(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._store(uow_factory, _invoiced(user.id))
        with uow_factory() as uow:
            for wrong in (42, 3.5, (_EST,)):
                establishment_id = cast("EstablishmentId", wrong)
                user_id = cast("UserId", wrong)
                assert uow.licenses.find(establishment_id, user.id) is None
                assert uow.licenses.find(_EST, user_id) is None
                with pytest.raises(LicenseNotFound):
                    uow.licenses.get(_EST, user_id)
                assert list(uow.licenses.list_for_establishment(establishment_id)) == []
                assert list(uow.licenses.list_for_user(user_id)) == []
                assert list(uow.licenses.with_invoice(cast("str", wrong))) == []
            assert uow.licenses.find(_EST, user.id) is not None  # still usable

    def test_an_invoice_number_that_is_not_text_finds_no_license(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        requested = _seat(second.id, status=LicenseStatus.REQUESTED, pending=_asked(second.id))
        assert requested.pending is not None
        assert requested.pending.invoice_number is None  # not invoiced: no number
        self._store(uow_factory, _invoiced(first.id), requested)
        with uow_factory() as uow:
            for wrong in (None, [_INVOICE], (_INVOICE,), {_INVOICE}, 42):
                assert list(uow.licenses.with_invoice(cast("str", wrong))) == [], wrong
            assert [s.user_id for s in uow.licenses.with_invoice(_INVOICE)] == [first.id]

    def test_stale_license_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        seat = _seat(user.id)
        self._store(uow_factory, seat)
        with uow_factory() as uow:
            current = uow.licenses.update(attrs.evolve(seat, notices_sent=1))
            uow.commit()
        for version in (0, 5):
            with uow_factory() as uow:
                with pytest.raises(StaleRecord) as raised:
                    uow.licenses.update(attrs.evolve(_invoiced(user.id), version=version))
                uow.commit()
            assert _refusal(raised) == (
                StaleRecord,
                "record.stale",
                {
                    "entity": "license",
                    "id": _license_id(_EST, user.id),
                    "establishment_id": _EST,
                    "user_id": user.id,
                    "expected": version,
                    "stored": 1,
                },
            )
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == current
            assert list(uow.licenses.with_invoice(_INVOICE)) == []

    # -- lists and the desk's queries (E2) ------------------------------------------------

    def test_lists_are_ordered_by_establishment_then_user_in_code_point_order(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        # Code point order: "B" < "Z" < "a" < "é"; "est-Zèbre" < "est-annexe" < "est-tilleuls".
        users = self._named(uow_factory, "é", "a", "Z", "B")
        seats = [_seat(u.id, e) for u in users for e in (_EST, _ZEBRA, _ANNEX)]
        self._store(uow_factory, *seats)
        ids = [UserId(f"user-{c}") for c in "BZaé"]
        with uow_factory() as uow:
            for establishment_id in (_EST, _ANNEX, _ZEBRA):
                listed = uow.licenses.list_for_establishment(establishment_id)
                assert [s.user_id for s in listed] == ids
                assert {s.establishment_id for s in listed} == {establishment_id}
            for user_id in ids:
                listed = uow.licenses.list_for_user(user_id)
                assert [s.establishment_id for s in listed] == [_ZEBRA, _ANNEX, _EST]
            listed = uow.licenses.with_status(LicenseStatus.PROVISIONAL)
            assert [s.key for s in listed] == [(e, u) for e in (_ZEBRA, _ANNEX, _EST) for u in ids]
            assert list(uow.licenses.list_for_establishment(EstablishmentId("nowhere"))) == []
            assert list(uow.licenses.list_for_user(UserId("nobody"))) == []

    def test_with_invoice_finds_the_licenses_pending_or_activated_on_that_invoice_only(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        names = ("anna", "bert", "chloe", "dirk", "emma", "fanny", "gaspard")
        anna, bert, chloe, dirk, emma, fanny, gaspard = self._named(uow_factory, *names)
        invoiced = _invoiced(chloe.id)
        assert invoiced.pending is not None
        paid_on = attrs.evolve(invoiced.pending, paid_at=_LICENSED + timedelta(days=2))
        renewal = _invoiced(fanny.id, f"{_INVOICE}-2027")
        on_invoice = [
            _invoiced(bert.id),
            _invoiced(anna.id, establishment_id=_ANNEX),
            attrs.evolve(invoiced, status=LicenseStatus.PAID, pending=paid_on),
            # Activated from this invoice: its last activation is on it.
            _seat(
                emma.id,
                status=LicenseStatus.ACTIVE,
                activation=_asked(emma.id, invoice_number=_INVOICE),
            ),
            # A renewal on the next invoice, activated from this one.
            attrs.evolve(renewal, activation=_asked(fanny.id, invoice_number=_INVOICE)),
            # Both on this invoice (a store must not return it twice).
            attrs.evolve(
                _invoiced(gaspard.id, establishment_id=_ZEBRA),
                activation=_asked(gaspard.id, invoice_number=_INVOICE),
            ),
        ]
        others = [
            _invoiced(dirk.id, _INVOICE.lower()),  # another invoice: numbers are exact
            _seat(anna.id, status=LicenseStatus.REQUESTED, pending=_asked(anna.id)),
            _seat(
                bert.id,
                _ANNEX,
                status=LicenseStatus.ACTIVE,
                activation=_asked(bert.id, invoice_number=_INVOICE.lower()),
            ),
        ]
        self._store(uow_factory, *on_invoice, *others)
        with uow_factory() as uow:
            found = list(uow.licenses.with_invoice(_INVOICE))
            _assert_same(found, sorted(on_invoice, key=lambda s: s.key), "with_invoice")
            assert list(uow.licenses.with_invoice(_INVOICE.lower())) == [others[2], others[0]]
            assert list(uow.licenses.with_invoice(f"{_INVOICE}-2027")) == [on_invoice[4]]
            for unknown in (_INVOICE + " ", "F-2026/0004", "", _LONGEST_INVOICE):
                assert list(uow.licenses.with_invoice(unknown)) == [], unknown

    def test_with_status_finds_the_licenses_stored_with_that_status(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 23)
        seats = [*_fullest_licenses(users[:21]), *_sparest_licenses(users[21].id, users[22].id)]
        self._store(uow_factory, *seats)
        with uow_factory() as uow:
            for status in LicenseStatus:
                wanted = sorted((s for s in seats if s.status is status), key=lambda s: s.key)
                found = list(uow.licenses.with_status(status))
                _assert_same(found, wanted, f"with_status({status})")

    def test_an_updated_license_moves_between_the_queries(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        requested = _seat(user.id, status=LicenseStatus.REQUESTED, pending=_asked(user.id))
        self._store(uow_factory, requested)
        with uow_factory() as uow:
            invoiced = uow.licenses.update(attrs.evolve(_invoiced(user.id), version=0))
            assert list(uow.licenses.with_invoice(_INVOICE)) == [invoiced]  # in the same uow
            assert list(uow.licenses.with_status(LicenseStatus.REQUESTED)) == []
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.licenses.with_status(LicenseStatus.INVOICED)) == [invoiced]
            assert invoiced.pending is not None
            active = uow.licenses.update(
                attrs.evolve(
                    invoiced,
                    status=LicenseStatus.ACTIVE,
                    pending=None,
                    activation=invoiced.pending,
                    due_at=None,
                )
            )
            uow.commit()
        with uow_factory() as uow:
            # Activated from the invoice: found by it still, through its last activation.
            assert list(uow.licenses.with_invoice(_INVOICE)) == [active]
            assert list(uow.licenses.with_status(LicenseStatus.INVOICED)) == []
            assert list(uow.licenses.with_status(LicenseStatus.ACTIVE)) == [active]
            uow.licenses.update(attrs.evolve(active, activation=None))
            assert list(uow.licenses.with_invoice(_INVOICE)) == []

    # -- the sweep (E1, E2) -----------------------------------------------------------------

    def test_claim_due_returns_due_licenses_earliest_first_ties_by_establishment_then_user(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        now = _LICENSED
        hour = timedelta(hours=1)
        due_at = {
            "f": now + 2 * hour,  # later
            "b": now,  # exactly now: due
            "d": (now - hour).astimezone(_KATHMANDU),  # the same instant as "a", in Kathmandu
            "a": now - hour,
            "c": None,  # nothing scheduled
            "e": now + timedelta(microseconds=1),  # just after now
            "g": now - timedelta(days=30),
        }
        users = self._named(uow_factory, *due_at)
        seats = {u.id: _seat(u.id, due_at=due_at[u.id[5:]]) for u in users}
        # Ties across establishments: "est-Zèbre" before "est-annexe" before "est-tilleuls".
        anna = UserId("user-a")
        elsewhere = [
            _seat(anna, _ANNEX, due_at=now - hour),
            _seat(anna, _ZEBRA, due_at=(now - hour).astimezone(_NEWFOUNDLAND)),
        ]
        self._store(uow_factory, *seats.values(), *elsewhere)
        expected = [
            seats[UserId("user-g")],
            elsewhere[1],
            elsewhere[0],
            seats[anna],
            seats[UserId("user-d")],
            seats[UserId("user-b")],
        ]
        with uow_factory() as uow:
            _assert_same(list(uow.licenses.claim_due(now=now, limit=10)), expected, "all")
        with uow_factory() as uow:
            _assert_same(list(uow.licenses.claim_due(now=now, limit=3)), expected[:3], "3")
        with uow_factory() as uow:
            assert list(uow.licenses.claim_due(now=now - timedelta(days=31), limit=5)) == []
            later = list(uow.licenses.claim_due(now=_FAR, limit=10))
        assert [s.user_id[5:] for s in later] == list("gaaadbef")

    def test_claim_due_never_returns_licenses_without_due_at(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 3)
        seats = [
            _seat(users[0].id, due_at=None),
            *_sparest_licenses(users[1].id, users[2].id),
        ]
        self._store(uow_factory, *seats)
        with uow_factory() as uow:
            assert list(uow.licenses.claim_due(now=_FAR, limit=10)) == []

    def test_claim_due_with_a_limit_below_one_returns_nothing(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._store(uow_factory, _seat(user.id, due_at=_LICENSED))
        with uow_factory() as uow:
            assert list(uow.licenses.claim_due(now=_FAR, limit=0)) == []
            assert list(uow.licenses.claim_due(now=_FAR, limit=-1)) == []
            assert len(uow.licenses.claim_due(now=_FAR, limit=1)) == 1

    def test_a_license_whose_due_at_the_sweep_cleared_is_not_due_any_more(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        seats = [_seat(first.id, due_at=_LICENSED), _seat(second.id, due_at=_LICENSED)]
        self._store(uow_factory, *seats)
        with uow_factory() as uow:
            (due, other) = uow.licenses.claim_due(now=_LICENSED, limit=10)
            uow.licenses.update(attrs.evolve(due, due_at=None))
            assert list(uow.licenses.claim_due(now=_LICENSED, limit=10)) == [other]
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.licenses.claim_due(now=_FAR, limit=10)) == [other]

    # -- invoice numbers (E2: each given once, ever) ---------------------------------------

    @staticmethod
    def _taken(number: str) -> dict[str, object]:
        """The params of the refusal of an invoice number reserved before."""
        return {"entity": "invoice", "id": number, "invoice_number": number}

    @staticmethod
    def _reserve(
        factory: LicenseUnitOfWorkFactory, number: str, establishment_id: EstablishmentId = _EST
    ) -> None:
        """Reserve ``number`` in one committed unit of work."""
        with factory() as uow:
            uow.licenses.reserve_invoice(
                number, establishment_id=establishment_id, issued_at=_LICENSED
            )
            uow.commit()

    def _assert_reserved(self, factory: LicenseUnitOfWorkFactory, *numbers: str) -> None:
        """Assert that each of ``numbers`` is refused now, with its exact params."""
        with factory() as uow:
            for number in numbers:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.licenses.reserve_invoice(number, establishment_id=_EST, issued_at=_FAR)
                assert _refusal(raised) == (
                    DuplicateRecord,
                    "record.duplicate",
                    self._taken(number),
                )

    def test_a_reserved_invoice_number_is_refused_again_in_every_establishment(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)  # the practice, _ANNEX and _ZEBRA
        self._reserve(uow_factory, _INVOICE)
        for establishment_id in (_EST, _ANNEX, _ZEBRA):
            with uow_factory() as uow:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.licenses.reserve_invoice(
                        _INVOICE,
                        establishment_id=establishment_id,
                        issued_at=_LICENSED + timedelta(days=1),
                    )
                uow.commit()
            assert _refusal(raised) == (DuplicateRecord, "record.duplicate", self._taken(_INVOICE))
        # Numbers are exact: these differ from it, and each is reserved once.
        others = (_INVOICE.lower(), f"{_INVOICE}-2027", _INVOICE + " ", "F-2026/0004")
        with uow_factory() as uow:
            for number in (*others, _LONGEST_INVOICE):
                uow.licenses.reserve_invoice(number, establishment_id=_ANNEX, issued_at=_LICENSED)
            with pytest.raises(DuplicateRecord) as raised:  # within one unit of work too
                uow.licenses.reserve_invoice(
                    _LONGEST_INVOICE, establishment_id=_ZEBRA, issued_at=_LICENSED
                )
            uow.commit()
        assert _refusal(raised)[2] == self._taken(_LONGEST_INVOICE)
        self._assert_reserved(uow_factory, _INVOICE, *others, _LONGEST_INVOICE)

    def test_a_rolled_back_invoice_reservation_frees_its_number(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        class Boom(Exception):
            pass

        self._people(uow_factory, 0)
        first, second, third = _INVOICE, f"{_INVOICE}-B", f"{_INVOICE}-C"
        with uow_factory() as uow:
            uow.licenses.reserve_invoice(first, establishment_id=_EST, issued_at=_LICENSED)
            uow.rollback()
            uow.licenses.reserve_invoice(first, establishment_id=_EST, issued_at=_FAR)  # free
            uow.commit()
            uow.licenses.reserve_invoice(second, establishment_id=_EST, issued_at=_LICENSED)
        with pytest.raises(Boom), uow_factory() as uow:
            uow.licenses.reserve_invoice(third, establishment_id=_EST, issued_at=_LICENSED)
            raise Boom
        # Left without commit, or by an exception: both numbers are free.
        self._reserve(uow_factory, second)
        self._reserve(uow_factory, third)
        self._assert_reserved(uow_factory, first, second, third)

    def test_a_refused_invoice_reservation_leaves_the_unit_of_work_usable(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._reserve(uow_factory, _INVOICE)
        before, after = f"{_INVOICE}-B", f"{_INVOICE}-C"
        with uow_factory() as uow:
            uow.licenses.reserve_invoice(before, establishment_id=_EST, issued_at=_LICENSED)
            for taken in (_INVOICE, before):
                with pytest.raises(DuplicateRecord):
                    uow.licenses.reserve_invoice(taken, establishment_id=_EST, issued_at=_FAR)
            added = _invoiced(user.id)
            uow.licenses.add(added)
            uow.licenses.reserve_invoice(after, establishment_id=_EST, issued_at=_LICENSED)
            uow.commit()
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == added
            assert list(uow.licenses.with_invoice(_INVOICE)) == [added]
        self._assert_reserved(uow_factory, _INVOICE, before, after)

    # -- transactions ---------------------------------------------------------------------

    def _assert_no_license(self, factory: LicenseUnitOfWorkFactory, *users: User) -> None:
        with factory() as uow:
            for user in users:
                assert uow.licenses.find(_EST, user.id) is None
                assert list(uow.licenses.list_for_user(user.id)) == []
            assert list(uow.licenses.list_for_establishment(_EST)) == []
            assert list(uow.licenses.with_invoice(_INVOICE)) == []
            assert list(uow.licenses.with_status(LicenseStatus.INVOICED)) == []
            assert list(uow.licenses.claim_due(now=_FAR, limit=10)) == []

    def test_leaving_without_commit_discards_license_adds(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        with uow_factory() as uow:
            uow.licenses.add(_invoiced(first.id))
            uow.licenses.add(_seat(second.id))
        self._assert_no_license(uow_factory, first, second)

    def test_an_exception_inside_the_block_rolls_back_license_changes(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        class Boom(Exception):
            pass

        (user,) = self._people(uow_factory, 1)
        with pytest.raises(Boom), uow_factory() as uow:
            uow.licenses.add(_invoiced(user.id))
            raise Boom
        self._assert_no_license(uow_factory, user)

    def test_rollback_discards_license_changes_made_since_the_last_commit(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        seat = _seat(first.id)
        with uow_factory() as uow:
            uow.licenses.add(seat)
            uow.commit()
            uow.licenses.update(attrs.evolve(_invoiced(first.id), version=0))
            uow.licenses.add(_invoiced(second.id))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, first.id) == seat
            assert uow.licenses.find(_EST, second.id) is None
            assert list(uow.licenses.with_invoice(_INVOICE)) == []
            assert list(uow.licenses.list_for_establishment(_EST)) == [seat]

    def test_leaving_without_commit_discards_license_updates(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        seat = _seat(user.id)
        self._store(uow_factory, seat)
        with uow_factory() as uow:
            uow.licenses.update(attrs.evolve(_invoiced(user.id), due_at=None))
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == seat
            assert list(uow.licenses.with_invoice(_INVOICE)) == []
            assert list(uow.licenses.claim_due(now=_FAR, limit=10)) == [seat]

    def test_a_rolled_back_license_can_be_added_again(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        with uow_factory() as uow:
            uow.licenses.add(_seat(user.id))
            uow.rollback()
            again = _seat(user.id, kind=LicenseKind.LOCUM)
            uow.licenses.add(again)
            uow.commit()
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == again

    def test_refused_license_writes_leave_the_unit_of_work_usable(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        seat = _seat(first.id)
        self._store(uow_factory, seat)
        with uow_factory() as uow:
            refusals: list[tuple[type[PracticeIdError], Callable[[], object]]] = [
                (DuplicateRecord, lambda: uow.licenses.add(_invoiced(first.id))),
                (LicenseNotFound, lambda: uow.licenses.update(_seat(second.id))),
                (StaleRecord, lambda: uow.licenses.update(attrs.evolve(seat, version=3))),
                (LicenseNotFound, lambda: uow.licenses.get(_ANNEX, first.id)),
            ]
            for refused, call in refusals:
                with pytest.raises(refused):
                    call()
            added = _invoiced(second.id)
            uow.licenses.add(added)
            updated = uow.licenses.update(attrs.evolve(seat, notices_sent=1))
            uow.commit()
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, first.id) == updated
            assert uow.licenses.get(_EST, second.id) == added
            assert list(uow.licenses.with_invoice(_INVOICE)) == [added]

    def test_license_repository_outside_its_unit_of_work_raises(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        uow = uow_factory()
        calls: list[Callable[[], object]] = [
            lambda: uow.licenses.add(_seat(user.id)),
            lambda: uow.licenses.get(_EST, user.id),
            lambda: uow.licenses.find(_EST, user.id),
            lambda: uow.licenses.update(_seat(user.id)),
            lambda: uow.licenses.list_for_establishment(_EST),
            lambda: uow.licenses.list_for_user(user.id),
            lambda: uow.licenses.with_invoice(_INVOICE),
            lambda: uow.licenses.with_status(LicenseStatus.PROVISIONAL),
            lambda: uow.licenses.claim_due(now=_FAR, limit=10),
            lambda: uow.licenses.reserve_invoice(
                _INVOICE, establishment_id=_EST, issued_at=_LICENSED
            ),
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow_factory() as fresh:
            assert fresh.licenses.find(_EST, user.id) is None

    # -- against the in-memory store -------------------------------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        _run_against_memory(_LicenseAgreesWithMemory, self.make_unit_of_work_factory)

    # -- concurrency (E1: one license per member; the sweep from several workers) ----------

    def test_sixteen_concurrent_first_licenses_of_one_member_have_exactly_one_winner(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)

        def attempt(i: int, barrier: threading.Barrier) -> object:
            seat = _seat(user.id, kind=(LicenseKind.PHYSICIAN, LicenseKind.LOCUM)[i % 2])
            seat = attrs.evolve(seat, notices_sent=i)
            barrier.wait()
            with uow_factory() as uow:
                uow.licenses.add(seat)
                uow.commit()
            return seat

        results = self._race(attempt)
        winners, refusals = _one_winner(results, License, DuplicateRecord)
        assert {type(r) for r in refusals} == {DuplicateRecord}
        assert all(
            dict(r.params)
            == {
                "entity": "license",
                "id": _license_id(_EST, user.id),
                "establishment_id": _EST,
                "user_id": user.id,
            }
            for r in refusals
        )
        with uow_factory() as uow:
            assert list(uow.licenses.list_for_establishment(_EST)) == winners
            assert list(uow.licenses.list_for_user(user.id)) == winners

    def test_sixteen_concurrent_updates_of_one_license_have_exactly_one_winner(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        self._store(uow_factory, _seat(user.id))

        def attempt(i: int, barrier: threading.Barrier) -> object:
            # Read and write in two units of work: see the access contract's race.
            with uow_factory() as uow:
                read = uow.licenses.get(_EST, user.id)
            barrier.wait()
            invoiced = attrs.evolve(_invoiced(user.id, f"F-2026/{i:05d}"), version=read.version)
            with uow_factory() as uow:
                stored = uow.licenses.update(invoiced)
                uow.commit()
            return stored

        results = self._race(attempt)
        winners, _refusals = _one_winner(results, License, StaleRecord)
        assert winners[0].version == 1
        with uow_factory() as uow:
            assert uow.licenses.get(_EST, user.id) == winners[0]
            found = [uow.licenses.with_invoice(f"F-2026/{i:05d}") for i in range(_THREADS)]
        assert [s for on_invoice in found for s in on_invoice] == winners

    def test_eight_concurrent_reservations_of_one_invoice_number_have_exactly_one_winner(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)  # two desks may give one number in two establishments
        places = (_EST, _ANNEX, _ZEBRA)

        def attempt(i: int, barrier: threading.Barrier) -> object:
            barrier.wait()
            with uow_factory() as uow:
                uow.licenses.reserve_invoice(
                    _INVOICE,
                    establishment_id=places[i % len(places)],
                    issued_at=_LICENSED + timedelta(seconds=i),
                )
                uow.commit()
            return places[i % len(places)]

        results = self._race(attempt, _INVOICE_DESKS)
        winners = [r for r in results if isinstance(r, str)]
        refusals = [r for r in results if isinstance(r, DuplicateRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _INVOICE_DESKS - 1, results
        assert all(dict(r.params) == self._taken(_INVOICE) for r in refusals), refusals
        self._assert_reserved(uow_factory, _INVOICE)

    def test_eight_concurrent_sweeps_process_each_of_two_hundred_due_licenses_exactly_once(
        self, uow_factory: LicenseUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, _BACKLOG)
        self._store(uow_factory, _establishment(_ANNEX))
        seats = [
            _seat(u.id, (_EST, _ANNEX)[n % 2], due_at=_LICENSED - timedelta(seconds=n % 7))
            for n, u in enumerate(users)
        ]
        self._store(uow_factory, *seats)

        def sweep(_i: int, barrier: threading.Barrier) -> object:
            processed: list[tuple[EstablishmentId, UserId]] = []
            barrier.wait()
            for _ in range(_BACKLOG):  # more would process some license twice
                with uow_factory() as uow:
                    due = uow.licenses.claim_due(now=_LICENSED, limit=7)
                    for seat in due:  # the sweep's pattern: nothing due after it
                        uow.licenses.update(attrs.evolve(seat, due_at=None))
                    uow.commit()
                if not due:
                    break
                processed += [s.key for s in due]
            return processed

        results = self._race(sweep, _DISPATCHERS)
        assert not [r for r in results if not isinstance(r, list)], results
        keys = cast("list[list[tuple[EstablishmentId, UserId]]]", results)
        sweeps = Counter(key for processed in keys for key in processed)
        assert sorted(sweeps) == sorted(s.key for s in seats)
        twice = sorted(key for key, n in sweeps.items() if n > 1)
        assert twice == [], f"processed more than once: {twice}"
        with uow_factory() as uow:
            assert list(uow.licenses.claim_due(now=_FAR, limit=10)) == []
            stored = [uow.licenses.get(*s.key) for s in seats]
        assert {(s.version, s.due_at) for s in stored} == {(1, None)}


# The pools of the license machine: few values, so that collisions and ties are common.
_LICENSE_ESTABLISHMENTS = (_ESTABLISHMENT_IDS[0], _ESTABLISHMENT_IDS[2])
_MACHINE_INVOICES = ("F-2026/001", "f-2026/001", "F-2026/002")
_INVOICE_CHANGES = st.sampled_from(("keep", "clear", *_MACHINE_INVOICES))


def _machine_license(
    establishment_id: EstablishmentId,
    user_id: UserId,
    *,
    kind: LicenseKind,
    status: LicenseStatus,
    due: datetime | None,
    invoice: str | None,
) -> License:
    """A license of the machine: pending on ``invoice``, if any; activated from the first."""
    pending = None
    if invoice is not None or status in {LicenseStatus.REQUESTED, LicenseStatus.PAID}:
        pending = _asked(user_id, invoice_number=invoice, amount=_AMOUNTS[2], currency="EUR")
    activated = status in {LicenseStatus.ACTIVE, LicenseStatus.EXPIRING, LicenseStatus.EXPIRED}
    activation = _asked(user_id, invoice_number=_MACHINE_INVOICES[0]) if activated else None
    return _seat(
        user_id,
        establishment_id,
        kind=kind,
        status=status,
        due_at=due,
        pending=pending,
        activation=activation,
    )


class _LicenseAgreesWithMemory(_AgreesWithMemory[LicenseUnitOfWork]):
    """Users and licenses against the in-memory store's.

    Licenses point at stored users and at one of two establishments; some are pending on
    one of three invoice numbers (two differ only by case), the active ones were activated
    from the first. Sweeps clear ``due_at`` of what ``claim_due`` returned, in the same unit
    of work. The same three numbers are reserved too: refused once reserved, free again
    after a rollback. Ids, statuses, times and versions come from small pools, so that duplicates,
    stale versions and ties in the orders are frequent.
    """

    def _add(self, record: _LicenseRecord) -> None:
        self._both(f"add({record!r})", lambda uow: _add_license_record(uow, record))

    def _licensed(self) -> list[tuple[EstablishmentId, UserId]]:
        reference = self._pair()[1]
        return [
            seat.key
            for establishment_id in _LICENSE_ESTABLISHMENTS
            for seat in reference.licenses.list_for_establishment(establishment_id)
        ]

    @rule(operation=st.deferred(lambda: _operations(_LicenseAgreesWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)

    @initialize(seeded=st.sampled_from((False, True, True, True)))
    def seed(self, *, seeded: bool) -> None:
        """Two establishments; sometimes users with licenses too."""
        organisation = Organisation(
            id=_ORGANISATION_IDS[0], name="Groupe des Tilleuls", owners=(), created_at=_OPENED
        )
        self._add(organisation)
        for establishment_id in _LICENSE_ESTABLISHMENTS:
            self._add(_establishment(establishment_id, organisation_id=organisation.id))
        if seeded:
            anna, bert, chloe, _dirk = _USER_IDS
            ans, ciney = _LICENSE_ESTABLISHMENTS
            for user_id in _USER_IDS:
                self._add(sample_user(id=user_id))
            seats = (
                (ans, anna, LicenseStatus.INVOICED, _MACHINE_TIMES[0], _MACHINE_INVOICES[0]),
                (ciney, anna, LicenseStatus.ACTIVE, _MACHINE_TIMES[1], None),
                (ans, bert, LicenseStatus.INVOICED, _MACHINE_TIMES[0], _MACHINE_INVOICES[1]),
                (ans, chloe, LicenseStatus.PROVISIONAL, None, None),
            )
            for establishment_id, user_id, status, due, invoice in seats:
                self._add(
                    _machine_license(
                        establishment_id,
                        user_id,
                        kind=LicenseKind.PHYSICIAN,
                        status=status,
                        due=due,
                        invoice=invoice,
                    )
                )
        self.finish(how="commit and leave")

    @_operation(
        weight=3,
        establishment_id=st.sampled_from(_LICENSE_ESTABLISHMENTS),
        user_id=st.sampled_from(_USER_IDS),
        kind=st.sampled_from(LicenseKind),
        status=st.sampled_from(_STORED_LICENSE_STATUSES),
        due=_MACHINE_DUE,
        invoice=st.none() | st.sampled_from(_MACHINE_INVOICES),
        any_record=_ANY_RECORD,
    )
    def add_license(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        kind: LicenseKind,
        status: LicenseStatus,
        due: datetime | None,
        invoice: str | None,
        any_record: bool,
    ) -> None:
        taken = [u for e, u in self._licensed() if e == establishment_id]
        chosen = _pick(user_id, self._user_ids(), taken=taken, any_record=any_record)
        if chosen is None:
            return
        self._add(
            _machine_license(
                establishment_id, chosen, kind=kind, status=status, due=due, invoice=invoice
            )
        )

    @_operation(
        weight=2,
        establishment_id=st.sampled_from(_LICENSE_ESTABLISHMENTS),
        user_id=st.sampled_from(_USER_IDS),
        status=st.none() | st.sampled_from(_STORED_LICENSE_STATUSES),
        due=_MACHINE_DUE,
        invoice=_INVOICE_CHANGES,
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_license(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        status: LicenseStatus | None,
        due: datetime | None,
        invoice: str,
        shift: int,
        any_record: bool,
    ) -> None:
        establishment_id, user_id = _target(
            (establishment_id, user_id), self._licensed(), any_record=any_record
        )
        current = self._stored(lambda uow: uow.licenses.get(establishment_id, user_id))
        current = current or _seat(user_id, establishment_id)  # unknown: refused
        pending = current.pending
        if invoice == "clear":
            pending = None
        elif invoice != "keep":
            pending = attrs.evolve(pending or _asked(user_id), invoice_number=invoice)
        changed = attrs.evolve(
            current,
            status=current.status if status is None else status,
            due_at=due,
            pending=pending,
            notices_sent=current.notices_sent + 1,
            version=_shifted(current.version, shift),
        )
        self._update_license(changed)

    def _update_license(self, changed: License) -> None:
        self._both(f"licenses.update({changed!r})", lambda uow: uow.licenses.update(changed))

    @_operation(
        establishment_id=st.sampled_from(_LICENSE_ESTABLISHMENTS),
        invoice=st.sampled_from(_MACHINE_INVOICES),
        now=_MACHINE_NOW,
    )
    def reserve_invoice(
        self, *, establishment_id: EstablishmentId, invoice: str, now: datetime
    ) -> None:
        """Reserve a number: refused once it was reserved and committed, or in this unit."""
        self._both(
            f"licenses.reserve_invoice({invoice}, establishment_id={establishment_id})",
            lambda uow: uow.licenses.reserve_invoice(
                invoice, establishment_id=establishment_id, issued_at=now
            ),
        )

    @_operation(now=_MACHINE_NOW, limit=_MACHINE_LIMITS)
    def sweep(self, *, now: datetime, limit: int) -> None:
        """Claim the due licenses, then clear their ``due_at`` in the same unit of work."""
        self._both(
            f"licenses.claim_due(now={now}, limit={limit})",
            lambda uow: list(uow.licenses.claim_due(now=now, limit=limit)),
        )
        for seat in self._pair()[1].licenses.claim_due(now=now, limit=limit):
            self._update_license(attrs.evolve(seat, due_at=None))

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        user_id=st.sampled_from(_USER_IDS),
        invoice=st.sampled_from(_MACHINE_INVOICES),
        status=st.sampled_from(LicenseStatus),
        now=_MACHINE_NOW,
        limit=_MACHINE_LIMITS,
    )
    def read_licenses(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        invoice: str,
        status: LicenseStatus,
        now: datetime,
        limit: int,
    ) -> None:
        key = f"{establishment_id}, {user_id}"
        self._both(f"licenses.get({key})", lambda uow: uow.licenses.get(establishment_id, user_id))
        self._both(
            f"licenses.find({key})", lambda uow: uow.licenses.find(establishment_id, user_id)
        )
        self._both(
            f"licenses.list_for_establishment({establishment_id})",
            lambda uow: list(uow.licenses.list_for_establishment(establishment_id)),
        )
        self._both(
            f"licenses.list_for_user({user_id})",
            lambda uow: list(uow.licenses.list_for_user(user_id)),
        )
        self._both(
            f"licenses.with_invoice({invoice})",
            lambda uow: list(uow.licenses.with_invoice(invoice)),
        )
        self._both(
            f"licenses.with_status({status})", lambda uow: list(uow.licenses.with_status(status))
        )
        self._both(
            f"licenses.claim_due(now={now}, limit={limit})",
            lambda uow: list(uow.licenses.claim_due(now=now, limit=limit)),
        )

    def _contents(self, uow: LicenseUnitOfWork) -> dict[str, object]:
        found = super()._contents(uow)
        for establishment_id in _LICENSE_ESTABLISHMENTS:
            found[f"licenses.list_for_establishment({establishment_id})"] = list(
                uow.licenses.list_for_establishment(establishment_id)
            )
        for user_id in _USER_IDS:
            found[f"licenses.list_for_user({user_id})"] = list(uow.licenses.list_for_user(user_id))
        for invoice in _MACHINE_INVOICES:
            found[f"licenses.with_invoice({invoice})"] = list(uow.licenses.with_invoice(invoice))
        for status in _STORED_LICENSE_STATUSES:
            found[f"licenses.with_status({status})"] = list(uow.licenses.with_status(status))
        found["licenses.claim_due(every license)"] = list(
            uow.licenses.claim_due(now=_FAR, limit=100)
        )
        return found


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


# -- the audit trail (F3) -----------------------------------------------------------------------

_AUDITED = datetime(2027, 3, 1, 8, 30, 0, 250001, tzinfo=UTC)
_AUDIT_THREADS = 8
_AUDIT_CHAINS = (PLATFORM_CHAIN, "est-ans", "est-bree")
_AUDIT_ACTORS = (None, UserId("user-anna"), UserId("user-bert"))
_AUDIT_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Text the event's columns hold: any character but NUL (PostgreSQL's text cannot hold it)
# and lone surrogates (not UTF-8, so no digest covers them). Details are JSON text: a NUL
# there is escaped, and allowed.
_AUDIT_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
_AUDIT_TEXT = st.text(_AUDIT_CHARACTERS, max_size=24)
_AUDIT_DETAIL_TEXT = st.text(st.characters(codec="utf-8"), max_size=24)
_AUDIT_DETAIL_VALUES: SearchStrategy[DetailValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    _AUDIT_DETAIL_TEXT,
)
_AUDIT_ZONES = (UTC, _BRUSSELS_SUMMER, _NEWFOUNDLAND, _KATHMANDU)


def _audit_event(n: int, establishment_id: str | None = _EST, **overrides: object) -> AuditEvent:
    """The ``n``-th test event: in ``establishment_id``'s chain, ``n`` seconds after a time."""
    fields: dict[str, Any] = {
        "action": f"contract.step-{n}",
        "at": _AUDITED + timedelta(seconds=n),
        "establishment_id": None if establishment_id is None else EstablishmentId(establishment_id),
        "actor": UserId(f"user-{n % 3}"),
        "target_type": "user",
        "target_id": f"user-{n % 5}",
        "details": {"n": n},
    }
    fields.update(overrides)
    return AuditEvent(**fields)


def _fullest_audit_events() -> list[AuditEvent]:
    """Events with every field set, at its longest or oddest, and one with none set."""
    details: dict[str, DetailValue] = {
        "text": "ünïcødé 𝐄\u0301 — 中文 😴",
        "empty": "",
        "quotes": "\"\\'\n\t",
        "nul": "a\x00b",
        "longest": "é" * 500,
        "count": 42,
        "zero": 0,
        "negative": -7,
        "beyond 64 bits": 2**70,
        "yes": True,
        "no": False,
        "nothing": None,
        "": "an empty name",
    }
    fullest = AuditEvent(
        action="prescription.signée",
        at=datetime(2027, 3, 1, 14, 15, 16, 123457, tzinfo=_KATHMANDU),
        outcome=Outcome.REFUSED,
        code="license.expired",
        establishment_id=EstablishmentId("cabinet-été-Ω"),
        actor=UserId("u-Élodie-𝐄\u0301"),
        account_id=UserId("clinic-login-Ω"),
        device_session_id="ds-" + "x" * 64,
        on_behalf_of=UserId("u-dr-Núñez"),
        target_type="membership",
        target_id=_long_text("cabinet-été-Ω/u-Élodie ", 200),
        peer_address="2001:db8::1",
        request_id="req-4bf92f3577b34da6a3ce929d0e0e4736",
        details=details,
    )
    return [
        fullest,
        attrs.evolve(fullest, at=datetime(1970, 1, 1, tzinfo=UTC), outcome=Outcome.SUCCEEDED),
        attrs.evolve(fullest, at=datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=_NEWFOUNDLAND)),
        AuditEvent(action="x", at=_AUDITED),  # the platform chain, every field empty
        AuditEvent(action="x", at=_AUDITED, establishment_id=EstablishmentId("cabinet-été-Ω")),
    ]


def _detail_types(record: AuditRecord) -> list[tuple[str, str]]:
    """The type of each detail: ``True`` must not come back as ``1``, nor ``1`` as ``True``."""
    return [(name, type(value).__name__) for name, value in record.event.details]


@st.composite
def _audit_events(draw: st.DrawFn) -> AuditEvent:
    """Any event of a few chains, with text and details of every kind."""
    optional = st.none() | _AUDIT_TEXT
    return AuditEvent(
        action=draw(_AUDIT_TEXT),
        at=draw(
            st.datetimes(
                min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds of aware datetimes
                max_value=datetime(2200, 1, 1),  # noqa: DTZ001
                timezones=st.sampled_from(_AUDIT_ZONES),
            )
        ),
        outcome=draw(st.sampled_from(Outcome)),
        code=draw(_AUDIT_TEXT),
        establishment_id=draw(st.sampled_from((None, _EST, EstablishmentId("cabinet-été-Ω")))),
        actor=draw(optional.map(lambda v: None if v is None else UserId(v))),
        account_id=draw(optional.map(lambda v: None if v is None else UserId(v))),
        device_session_id=draw(optional),
        on_behalf_of=draw(optional.map(lambda v: None if v is None else UserId(v))),
        target_type=draw(_AUDIT_TEXT),
        target_id=draw(_AUDIT_TEXT),
        peer_address=draw(optional),
        request_id=draw(_AUDIT_TEXT),
        details=draw(st.dictionaries(_AUDIT_DETAIL_TEXT, _AUDIT_DETAIL_VALUES, max_size=5)),
    )


class _RotatingAuditKeys:
    """A :class:`~practiceid.ports.KeyProvider` whose current audit key a test changes."""

    def __init__(self) -> None:
        self.secrets = {"2027-01": bytes(range(32)), "2027-02": bytes(range(32, 64))}
        self.current_id = "2027-01"

    def current(self, purpose: str) -> tuple[str, bytes]:
        if purpose != AUDIT_KEY_PURPOSE:
            raise UnknownKey(purpose=purpose, key_id=None)
        return self.current_id, self.secrets[self.current_id]

    def key(self, purpose: str, key_id: str) -> bytes:
        if purpose != AUDIT_KEY_PURPOSE or key_id not in self.secrets:
            raise UnknownKey(purpose=purpose, key_id=key_id)
        return self.secrets[key_id]


class AuditLogContract:
    """The :class:`~practiceid.ports.AuditLog` of a unit of work (F3).

    Implement ``make_unit_of_work_factory(keys)`` returning a factory of units of work over
    one fresh, empty store whose audit log seals with ``keys`` (a
    :class:`~practiceid.ports.KeyProvider`, or ``None`` for a plain SHA-256 chain). The
    suite checks that positions run 1, 2, 3, … in each chain, chains being independent;
    that every field of a record comes back exactly (text of any script, details of every
    kind, instants to the microsecond, the digests); that a rollback takes the record and
    the head back; ``records`` paging by ``after`` and ``limit``, ``head`` and ``chains``
    (code point order); that the stored chains verify with
    :func:`~practiceid.audit.verify_chain`, keyed or not, across a key rotation; that eight
    units of work appending to one chain at once take positions 1 to 8 and leave an intact
    chain; and that random operations agree with the in-memory store, digests included.

    Event text is any text without NUL characters (PostgreSQL's text cannot hold them) or
    lone surrogates (no UTF-8 digest covers them); details may hold NUL characters.
    """

    def make_unit_of_work_factory(self, keys: KeyProvider | None) -> UnitOfWorkFactory:
        """Return a factory of units of work over a fresh, empty store sealing with ``keys``."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        """A fresh store with a plain (unkeyed) chain."""
        return self.make_unit_of_work_factory(None)

    @pytest.fixture(params=["plain", "keyed"])
    def keys(self, request: pytest.FixtureRequest) -> KeyProvider | None:
        """No key (a plain SHA-256 chain), then a generated audit key."""
        if request.param == "plain":
            return None
        return StaticKeyProvider.generate(AUDIT_KEY_PURPOSE)

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _append(factory: UnitOfWorkFactory, *events: AuditEvent) -> list[AuditRecord]:
        """Append ``events``, in order, in one committed unit of work; return the records."""
        with factory() as uow:
            records = [uow.audit.append(event) for event in events]
            uow.commit()
        return records

    @staticmethod
    def _chain(factory: UnitOfWorkFactory, chain: str) -> list[AuditRecord]:
        with factory() as uow:
            return list(uow.audit.records(chain))

    @staticmethod
    def _verified(
        records: Sequence[AuditRecord], chain: str, keys: KeyProvider | None
    ) -> ChainVerification:
        return verify_chain(records, chain=chain, key=key_lookup(keys))

    # -- positions and chains -------------------------------------------------------------

    def test_appends_take_positions_one_to_n_each_linked_to_the_one_before(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        appended = self._append(uow_factory, *(_audit_event(n) for n in range(3)))
        appended += self._append(uow_factory, _audit_event(3), _audit_event(4))
        appended += self._append(uow_factory, _audit_event(5))

        assert [r.seq for r in appended] == [1, 2, 3, 4, 5, 6]
        assert all(r.chain == _EST for r in appended)
        assert [r.previous for r in appended] == [GENESIS, *(r.digest for r in appended[:-1])]
        assert len({r.digest for r in appended}) == 6
        stored = self._chain(uow_factory, _EST)
        _assert_same(stored, appended, "records")
        with uow_factory() as uow:
            assert uow.audit.head(_EST) == appended[-1].head
            assert list(uow.audit.chains()) == [_EST]

    def test_chains_are_independent_each_from_position_one(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        where = [_EST, None, _ANNEX, _EST, None, _EST, _ANNEX]
        appended = self._append(
            uow_factory, *(_audit_event(n, est) for n, est in enumerate(where[:4]))
        )
        appended += self._append(
            uow_factory, *(_audit_event(n + 4, est) for n, est in enumerate(where[4:]))
        )

        assert [(r.chain, r.seq) for r in appended] == [
            (_EST, 1),
            (PLATFORM_CHAIN, 1),
            (_ANNEX, 1),
            (_EST, 2),
            (PLATFORM_CHAIN, 2),
            (_EST, 3),
            (_ANNEX, 2),
        ]
        with uow_factory() as uow:
            assert list(uow.audit.chains()) == sorted([PLATFORM_CHAIN, _EST, _ANNEX])
            for chain in (PLATFORM_CHAIN, _EST, _ANNEX):
                mine = [r for r in appended if r.chain == chain]
                _assert_same(list(uow.audit.records(chain)), mine, f"records({chain!r})")
                assert uow.audit.head(chain) == mine[-1].head
                assert mine[0].previous == GENESIS
                assert verify_chain(mine, chain=chain).intact

    def test_every_field_round_trips_exactly(self, keys: KeyProvider | None) -> None:
        factory = self.make_unit_of_work_factory(keys)
        events = _fullest_audit_events()
        appended = self._append(factory, *events)
        key_id = "" if keys is None else keys.current(AUDIT_KEY_PURPOSE)[0]

        for chain in {r.chain for r in appended}:
            mine = [r for r in appended if r.chain == chain]
            stored = self._chain(factory, chain)
            _assert_same(stored, mine, f"records({chain!r})")
            assert [_detail_types(r) for r in stored] == [_detail_types(r) for r in mine]
            assert all(r.key_id == key_id for r in stored)
            assert all(r.event.at.utcoffset() == timedelta(0) for r in stored)
            assert self._verified(stored, chain, keys).intact
        for record, event in zip(appended, events, strict=True):
            _assert_same(record.event, event, "the sealed event")
        # The dates came back to the microsecond, in UTC.
        assert self._chain(factory, "cabinet-été-Ω")[0].event.at == datetime(
            2027, 3, 1, 8, 30, 16, 123457, tzinfo=UTC
        )

    def test_random_events_round_trip_exactly(self, keys: KeyProvider | None) -> None:
        factory = self.make_unit_of_work_factory(keys)

        @_AUDIT_SETTINGS
        @given(events=st.lists(_audit_events(), min_size=1, max_size=4))
        def round_trip(events: list[AuditEvent]) -> None:
            with factory() as uow:
                heads = {chain_of(e): uow.audit.head(chain_of(e)) for e in events}
                appended = [uow.audit.append(event) for event in events]
                uow.commit()
            for chain, head in heads.items():
                mine = [r for r in appended if r.chain == chain]
                after = 0 if head is None else head.seq
                assert [r.seq for r in mine] == list(range(after + 1, after + 1 + len(mine)))
                with factory() as uow:
                    stored = list(uow.audit.records(chain, after=after))
                _assert_same(stored, mine, f"records({chain!r})")
                assert [_detail_types(r) for r in stored] == [_detail_types(r) for r in mine]

        round_trip()
        for chain in (PLATFORM_CHAIN, _EST, "cabinet-été-Ω"):
            stored = self._chain(factory, chain)
            assert self._verified(stored, chain, keys).intact

    # -- units of work --------------------------------------------------------------------

    def test_a_rollback_takes_back_the_record_and_the_head(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        committed = self._append(uow_factory, _audit_event(0), _audit_event(1))
        with uow_factory() as uow:
            added = [uow.audit.append(_audit_event(n)) for n in (2, 3)]
            assert [r.seq for r in uow.audit.records(_EST)] == [1, 2, 3, 4]
            assert uow.audit.head(_EST) == added[-1].head
            uow.rollback()
            _assert_same(list(uow.audit.records(_EST)), committed, "after rollback")
            assert uow.audit.head(_EST) == committed[-1].head
            # The position is free again, after the committed head.
            again = uow.audit.append(_audit_event(4))
            assert (again.seq, again.previous) == (3, committed[-1].digest)
            uow.audit.append(_audit_event(5, None))  # a new chain, left without commit
        with pytest.raises(RuntimeError), uow_factory() as uow:
            uow.audit.append(_audit_event(6, _ANNEX))
            raise RuntimeError
        with uow_factory() as uow:
            _assert_same(list(uow.audit.records(_EST)), committed, "after leaving")
            assert uow.audit.head(_EST) == committed[-1].head
            for chain in (PLATFORM_CHAIN, _ANNEX):
                assert list(uow.audit.records(chain)) == []
                assert uow.audit.head(chain) is None
            assert list(uow.audit.chains()) == [_EST]
        later = self._append(uow_factory, _audit_event(7), _audit_event(8, _ANNEX))
        assert [(r.chain, r.seq) for r in later] == [(_EST, 3), (_ANNEX, 1)]
        stored = self._chain(uow_factory, _EST)
        assert verify_chain(stored, chain=_EST, anchor=later[0].head).intact

    def test_a_commit_keeps_the_unit_of_work_open_for_more_appends(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow:
            first = uow.audit.append(_audit_event(0))
            uow.commit()
            second = uow.audit.append(_audit_event(1))
            uow.rollback()
            third = uow.audit.append(_audit_event(2))
            uow.commit()
        assert [r.seq for r in (first, second, third)] == [1, 2, 2]
        _assert_same(self._chain(uow_factory, _EST), [first, third], "records")

    def test_the_audit_log_outside_its_unit_of_work_raises(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        uow = uow_factory()
        calls: list[Callable[[], object]] = [
            lambda: uow.audit.append(_audit_event(0)),
            lambda: uow.audit.records(_EST),
            lambda: uow.audit.head(_EST),
            uow.audit.chains,
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()

    # -- reads ----------------------------------------------------------------------------

    def test_an_empty_store_has_no_chain_no_head_and_no_records(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        with uow_factory() as uow:
            assert list(uow.audit.chains()) == []
            for chain in (PLATFORM_CHAIN, _EST, "unknown"):
                assert uow.audit.head(chain) is None
                assert list(uow.audit.records(chain)) == []
                assert list(uow.audit.records(chain, after=3, limit=2)) == []

    def test_records_pages_by_position_after_and_limit(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        appended = self._append(uow_factory, *(_audit_event(n) for n in range(7)))
        self._append(uow_factory, _audit_event(7, _ANNEX))
        with uow_factory() as uow:
            for after in (-1, 0, 1, 3, 6, 7, 10, 2**62):
                for limit in (None, -1, 0, 1, 2, 3, 7, 100, 2**62):
                    expected = [r for r in appended if r.seq > after]
                    if limit is not None:
                        expected = expected[: max(limit, 0)]
                    got = list(uow.audit.records(_EST, after=after, limit=limit))
                    _assert_same(got, expected, f"records(after={after}, limit={limit})")
            paged: list[AuditRecord] = []
            while page := list(
                uow.audit.records(_EST, after=paged[-1].seq if paged else 0, limit=3)
            ):
                paged += page
        _assert_same(paged, appended, "every page")

    def test_chains_are_listed_once_each_in_code_point_order(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        names = ["est-9", "Zèbre", "est-10", "ébène", "alpha", "est-10", "ＡＢＣ", "Alpha"]
        self._append(uow_factory, *(_audit_event(n, name) for n, name in enumerate(names)))
        self._append(uow_factory, _audit_event(9, None))
        with uow_factory() as uow:
            assert list(uow.audit.chains()) == sorted({*names, PLATFORM_CHAIN})
            assert uow.audit.chains()[0] == PLATFORM_CHAIN
            assert [r.seq for r in uow.audit.records("est-10")] == [1, 2]

    # -- verification -----------------------------------------------------------------------

    def test_the_stored_chains_verify_keyed_or_not(self, keys: KeyProvider | None) -> None:
        factory = self.make_unit_of_work_factory(keys)
        for batch in range(4):
            self._append(
                factory,
                *(_audit_event(10 * batch + n, (_EST, None)[n % 2]) for n in range(5)),
            )
        with factory() as uow:
            for chain, count in ((_EST, 12), (PLATFORM_CHAIN, 8)):
                stored = list(uow.audit.records(chain))
                head = uow.audit.head(chain)
                verified = verify_chain(stored, chain=chain, key=key_lookup(keys), anchor=head)
                assert verified.intact, verified
                assert (verified.checked, verified.head) == (count, head)
                if keys is None:
                    assert {r.key_id for r in stored} == {""}
                else:
                    # A keyed chain cannot be checked without its key.
                    assert {r.key_id for r in stored} == {keys.current(AUDIT_KEY_PURPOSE)[0]}
                    unkeyed = verify_chain(stored, chain=chain)
                    assert (unkeyed.broken_at, unkeyed.problem) == (1, ChainProblem.UNKNOWN_KEY)

    def test_new_records_use_the_current_key_and_older_ones_still_verify(self) -> None:
        keys = _RotatingAuditKeys()
        factory = self.make_unit_of_work_factory(keys)
        self._append(factory, _audit_event(0), _audit_event(1))
        keys.current_id = "2027-02"
        self._append(factory, _audit_event(2))
        stored = self._chain(factory, _EST)
        assert [r.key_id for r in stored] == ["2027-01", "2027-01", "2027-02"]
        assert verify_chain(stored, chain=_EST, key=key_lookup(keys)).intact
        del keys.secrets["2027-01"]
        retired = verify_chain(stored, chain=_EST, key=key_lookup(keys))
        assert (retired.broken_at, retired.problem) == (1, ChainProblem.UNKNOWN_KEY)

    # -- concurrency ------------------------------------------------------------------------

    def test_eight_concurrent_appends_to_one_chain_take_positions_one_to_eight(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        def attempt(i: int, barrier: threading.Barrier) -> object:
            event = _audit_event(i, actor=UserId(f"user-thread-{i}"))
            barrier.wait()
            with uow_factory() as uow:
                record = uow.audit.append(event)
                uow.commit()
            return record

        # A new chain (its head is made by one of them), then the same chain again.
        for round_ in (1, 2):
            results = _race_in_threads(attempt, _AUDIT_THREADS)
            assert all(isinstance(r, AuditRecord) for r in results), results
            records = sorted(cast("list[AuditRecord]", results), key=lambda r: r.seq)
            first = (round_ - 1) * _AUDIT_THREADS + 1
            assert [r.seq for r in records] == list(range(first, first + _AUDIT_THREADS))
            stored = self._chain(uow_factory, _EST)
            _assert_same(stored[first - 1 :], records, "the racers' records")
            verified = verify_chain(stored, chain=_EST)
            assert verified.intact, verified
            assert verified.checked == round_ * _AUDIT_THREADS

    def test_concurrent_appends_to_several_chains_each_take_their_own_positions(
        self, uow_factory: UnitOfWorkFactory
    ) -> None:
        chains = [_EST, _ANNEX, None, "est-ciney"]

        def attempt(i: int, barrier: threading.Barrier) -> object:
            events = [_audit_event(10 * i + n, chains[i % 4]) for n in range(3)]
            barrier.wait()
            with uow_factory() as uow:
                records = [uow.audit.append(event) for event in events]
                uow.commit()
            return records

        results = _race_in_threads(attempt, _AUDIT_THREADS)
        assert all(isinstance(r, list) for r in results), results
        with uow_factory() as uow:
            assert list(uow.audit.chains()) == sorted(chain_of(_audit_event(0, c)) for c in chains)
            for chain in uow.audit.chains():
                stored = list(uow.audit.records(chain))
                assert [r.seq for r in stored] == [1, 2, 3, 4, 5, 6]
                assert verify_chain(stored, chain=chain).intact
                # Each unit of work's three records are consecutive: it held the head.
                by_thread = [int(r.event.action.rsplit("-", 1)[1]) // 10 for r in stored]
                assert by_thread[:3] == [by_thread[0]] * 3
                assert by_thread[3:] == [by_thread[3]] * 3

    # -- against the in-memory store -------------------------------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        keys = StaticKeyProvider.generate(AUDIT_KEY_PURPOSE)
        configured = type(
            _AuditAgreesWithMemory.__name__,
            (_AuditAgreesWithMemory,),
            {
                "make_factory": staticmethod(partial(self.make_unit_of_work_factory, keys)),
                "keys": keys,
            },
        )
        run_state_machine_as_test(configured, settings=_DIFFERENTIAL_SETTINGS)


class _AuditAgreesWithMemory(_AgreesWithMemory[UnitOfWork]):
    """The audit log of an adapter against the in-memory store's, under the same key.

    Appends to a few chains, reads with every ``after`` and ``limit``, mixed with users'
    writes in the same units of work, which end in commits, rollbacks and exceptions. Seals
    are deterministic: the records must agree to the digest.
    """

    keys: KeyProvider  # set by the contract's test

    def __init__(self) -> None:
        super().__init__()
        self.reference_factory = InMemoryStore(keys=self.keys).unit_of_work
        self.appended = 0

    @rule(operation=st.deferred(lambda: _operations(_AuditAgreesWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)

    @_operation(
        weight=4,
        chain=st.sampled_from(_AUDIT_CHAINS),
        actor=st.sampled_from(_AUDIT_ACTORS),
        outcome=st.sampled_from(Outcome),
        detail=_AUDIT_DETAIL_VALUES,
    )
    def append(
        self, *, chain: str, actor: UserId | None, outcome: Outcome, detail: DetailValue
    ) -> None:
        self.appended += 1
        event = _audit_event(
            self.appended,
            chain or None,
            actor=actor,
            outcome=outcome,
            details={"value": detail},
        )
        self._both(f"audit.append({event!r})", lambda uow: uow.audit.append(event))

    @_operation(
        chain=st.sampled_from(_AUDIT_CHAINS),
        after=st.integers(-1, 6),
        limit=st.none() | st.integers(-1, 4),
    )
    def read_audit(self, *, chain: str, after: int, limit: int | None) -> None:
        self._both(
            f"audit.records({chain!r}, after={after}, limit={limit})",
            lambda uow: list(uow.audit.records(chain, after=after, limit=limit)),
        )
        self._both(f"audit.head({chain!r})", lambda uow: uow.audit.head(chain))

    def _contents(self, uow: UnitOfWork) -> dict[str, object]:
        found = super()._contents(uow)
        found["audit.chains()"] = list(uow.audit.chains())
        for chain in _AUDIT_CHAINS:
            found[f"audit.records({chain!r})"] = list(uow.audit.records(chain))
            found[f"audit.head({chain!r})"] = uow.audit.head(chain)
        return found


# -- shared clinic devices (F1-F4) ----------------------------------------------------------------

_DEVICED = datetime(2027, 4, 6, 7, 45, 30, 123457, tzinfo=UTC)
_DEVICE_THREADS = 8
_PIN_KEY = "pin-2027-04"
_OLD_PIN_KEY = "pin-2027-01"
# As a practice declares them: a lone address, a host inside its network, both families.
_NETWORKS = ("198.51.100.77/26", "10.0.0.7", "2001:db8:0:1::/64", "192.0.2.0/24", "::1")
_ODD_DIGESTS = (bytes(range(32)), b"\x00" * 32, b"\xff" * 32, b"\x00" * 31 + b"\x01")

_DeviceRecord = _Record | ClinicLogin | MemberCredential | DeviceSession | PinGuard


def _pin(label: object) -> bytes:
    """A made-up PIN digest (32 bytes, as HMAC-SHA-256 gives), one per ``label``."""
    return hashlib.sha256(f"practiceid-contract:pin:{label}".encode()).digest()


def _token(label: object) -> bytes:
    """A made-up device token digest (32 bytes, as SHA-256 gives), one per ``label``."""
    return hashlib.sha256(f"practiceid-contract:device:{label}".encode()).digest()


def _clinic_login(
    user_id: UserId, establishment_id: EstablishmentId = _EST, **overrides: object
) -> ClinicLogin:
    """``user_id``'s clinic login in ``establishment_id``, made by ``owner`` at a time."""
    values: dict[str, object] = {
        "user_id": user_id,
        "establishment_id": establishment_id,
        "created_at": _DEVICED,
        "created_by": UserId("owner"),
    }
    values.update(overrides)
    return ClinicLogin(**values)  # type: ignore[arg-type]


def _credential(
    user_id: UserId,
    establishment_id: EstablishmentId = _EST,
    pin: object = None,
    **overrides: object,
) -> MemberCredential:
    """``user_id``'s credential in ``establishment_id``: the PIN labelled ``pin``, if any."""
    credential = MemberCredential(establishment_id, user_id)
    if pin is not None:
        credential = credential.with_pin(_pin(pin), _PIN_KEY, _DEVICED)
    return attrs.evolve(credential, **overrides)  # type: ignore[arg-type]


def _device_session(
    session_id: str,
    account_id: UserId,
    establishment_id: EstablishmentId = _EST,
    **overrides: object,
) -> DeviceSession:
    """A locked session ``session_id`` opened by ``account_id``; its token named after it."""
    values: dict[str, object] = {
        "id": DeviceSessionId(session_id),
        "establishment_id": establishment_id,
        "account_id": account_id,
        "token_digest": _token(session_id),
        "opened_at": _DEVICED,
        "expires_at": _DEVICED + timedelta(hours=12),
        "last_activity_at": _DEVICED,
    }
    values.update(overrides)
    return DeviceSession(**values)  # type: ignore[arg-type]


def _add_device_record(uow: DeviceUnitOfWork, record: _DeviceRecord) -> None:
    """Add ``record`` through the repository of its kind (a guard is saved)."""
    if isinstance(record, ClinicLogin):
        uow.clinic_logins.add(record)
    elif isinstance(record, MemberCredential):
        uow.member_credentials.add(record)
    elif isinstance(record, DeviceSession):
        uow.device_sessions.add(record)
    elif isinstance(record, PinGuard):
        uow.pin_guards.save(record)
    else:
        _add_record(uow, record)


def _fullest_clinic_logins(first: UserId, second: UserId) -> list[ClinicLogin]:
    """A clinic login with every field set (networks of both families), one with defaults."""
    return [
        ClinicLogin(
            user_id=first,
            establishment_id=_EST,
            created_at=datetime(2027, 3, 28, 0, 59, 59, 999999, tzinfo=UTC).astimezone(_KATHMANDU),
            created_by=UserId("u-Élodie-𝐄\u0301"),
            remote_access=False,
            networks=_NETWORKS,
            version=7,
        ),
        ClinicLogin(
            user_id=second,
            establishment_id=_EST,
            created_at=_DEVICED.astimezone(_NEWFOUNDLAND),
            created_by=first,
        ),
    ]


def _fullest_credentials(users: Sequence[User]) -> list[MemberCredential]:
    """Credentials with every field set, digests of odd bytes; then one without a PIN."""
    zones = (UTC, _NEWFOUNDLAND, _KATHMANDU, _BRUSSELS_SUMMER)
    credentials = []
    for n, user in enumerate(users[:-1]):
        issued = (_DEVICED - timedelta(days=n, microseconds=n)).astimezone(zones[n % 4])
        credentials.append(
            MemberCredential(
                establishment_id=_EST,
                user_id=user.id,
                pin_digest=_ODD_DIGESTS[n % len(_ODD_DIGESTS)] if n < 4 else _pin(n),
                pin_key_id=(_PIN_KEY, _OLD_PIN_KEY, "k" * 64, "clé-ü-Ω")[n % 4],
                pin_issued_at=issued,
                misses=n % 5,
                blocked_at=(issued + timedelta(minutes=1, microseconds=1)) if n % 2 else None,
                remote_access=bool(n % 2),
                version=n,
            )
        )
    credentials.append(MemberCredential(_EST, users[-1].id, remote_access=True, version=2))
    return credentials


def _fullest_sessions(account: UserId, members: Sequence[UserId]) -> list[DeviceSession]:
    """A session in each state with every field it may hold set, instants in odd offsets."""
    opened = datetime(2027, 3, 28, 0, 59, 59, 999999, tzinfo=UTC).astimezone(_NEWFOUNDLAND)
    return [
        DeviceSession(
            id=DeviceSessionId(f"ds-{state.value}-{'x' * 40}"),
            establishment_id=_EST,
            account_id=account if n % 2 else members[n],
            token_digest=_ODD_DIGESTS[n],
            opened_at=opened + timedelta(microseconds=n),
            expires_at=(opened + timedelta(hours=12, microseconds=1)).astimezone(_KATHMANDU),
            last_activity_at=opened + timedelta(minutes=n, microseconds=999999),
            state=state,
            member=members[n] if state is DeviceState.UNLOCKED else None,
            unlocked_at=opened + timedelta(seconds=1) if state is DeviceState.UNLOCKED else None,
            misses=n,
            remote=bool(n % 2 == 0),
            peer_address=("2001:db8::1", "::ffff:192.0.2.7", None, "192.0.2.254")[n],
            version=3 * n,
        )
        for n, state in enumerate(DeviceState)
    ]


class DeviceRepositoriesContract(_AccessStoreContract):
    """The shared devices' repositories of a device unit of work (F1-F4), and users' kinds.

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.DeviceUnitOfWork` over one fresh, empty store. The suite
    checks the error contracts of :class:`~practiceid.ports.ClinicLoginRepository`,
    :class:`~practiceid.ports.MemberCredentialRepository`,
    :class:`~practiceid.ports.DeviceSessionRepository` and
    :class:`~practiceid.ports.PinGuardRepository`: every field round-trips (digests of any
    bytes, instants to the microsecond, a user's :class:`~practiceid.AccountKind`); refusals
    carry their exact params (a PIN's never names its digest) and leave the unit of work
    usable; lists are in code point order; ``find_by_pin`` and ``find_by_token`` find by
    the digest only; ``key_ids`` names the keys of the PINs held; rollbacks free PINs again;
    of eight units of work giving one PIN to eight members at once exactly one commits, and
    of eight first misses exactly one, the others refused as stale and none lost when run
    again; and random operations agree with the in-memory store. It stores the users and
    establishments a record refers to before the record, so an adapter may enforce foreign
    keys.
    """

    def make_unit_of_work_factory(self) -> DeviceUnitOfWorkFactory:
        """Return a factory of device units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> DeviceUnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _store(factory: DeviceUnitOfWorkFactory, *records: _DeviceRecord) -> None:
        """Store ``records``, in order, in one committed unit of work."""
        with factory() as uow:
            for record in records:
                _add_device_record(uow, record)
            uow.commit()

    def _named(self, factory: DeviceUnitOfWorkFactory, *names: str) -> list[User]:
        """Store the practice, :data:`_ANNEX`, :data:`_ZEBRA` and a user ``user-<name>`` each.

        ``clinic`` names a clinic account.
        """
        users = [
            sample_user(
                id=UserId(f"user-{name}"),
                kind=AccountKind.CLINIC if name.startswith("clinic") else AccountKind.PERSON,
            )
            for name in names
        ]
        self._practice(factory, *users)
        self._store(factory, _establishment(_ANNEX), _establishment(_ZEBRA))
        return users

    @staticmethod
    def _pin_taken(establishment_id: EstablishmentId = _EST) -> dict[str, object]:
        return {"entity": "pin", "id": establishment_id, "establishment_id": establishment_id}

    @staticmethod
    def _credential_params(credential: MemberCredential) -> dict[str, object]:
        return {
            "entity": "member_credential",
            "id": f"{credential.establishment_id}/{credential.user_id}",
            "establishment_id": credential.establishment_id,
            "user_id": credential.user_id,
        }

    # -- users' kinds ---------------------------------------------------------------------

    def test_a_users_kind_round_trips_through_every_look_up_and_update(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        person = sample_user()
        clinic = sample_user(kind=AccountKind.CLINIC, login=Login("Accueil-Tilleuls"))
        self._add(uow_factory, person, clinic)
        with uow_factory() as uow:
            for user in (person, clinic):
                _assert_same(uow.users.get(user.id), user, f"get {user.kind}")
                _assert_same(uow.users.find_by_login(user.login), user, "find_by_login")
                _assert_same(uow.users.find_by_email(user.email), user, "find_by_email")
            listed = list(uow.users.list())
            _assert_same(listed, sorted([person, clinic], key=lambda u: u.login.key), "list")
            stored = uow.users.update(attrs.evolve(person, kind=AccountKind.CLINIC))
            back = uow.users.update(attrs.evolve(clinic, kind=AccountKind.PERSON))
            uow.commit()
        with uow_factory() as uow:
            _assert_same(uow.users.get(person.id), stored, "get after update")
            _assert_same(uow.users.get(clinic.id), back, "get after second update")
        assert (stored.kind, back.kind) == (AccountKind.CLINIC, AccountKind.PERSON)

    # -- clinic logins (F1) ---------------------------------------------------------------

    def test_every_clinic_login_field_round_trips_through_get_find_and_the_list(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        first, second = self._named(uow_factory, "clinic-a", "clinic-b")
        logins = _fullest_clinic_logins(first.id, second.id)
        assert logins[0].networks == (
            "10.0.0.7/32",
            "192.0.2.0/24",
            "198.51.100.64/26",
            "::1/128",
            "2001:db8:0:1::/64",
        )
        self._store(uow_factory, *logins)
        with uow_factory() as uow:
            for login in logins:
                _assert_same(uow.clinic_logins.get(login.user_id), login, "get")
                _assert_same(uow.clinic_logins.find(login.user_id), login, "find")
            _assert_same(list(uow.clinic_logins.list_for_establishment(_EST)), logins, "list")
            assert list(uow.clinic_logins.list_for_establishment(_ANNEX)) == []
        assert logins[0].allows_from("10.0.0.7")
        assert not logins[0].allows_from("10.0.0.8")

    def test_clinic_login_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        first, second = self._named(uow_factory, "clinic-a", "clinic-b")
        fullest, sparest = _fullest_clinic_logins(first.id, second.id)
        self._store(uow_factory, attrs.evolve(fullest, version=0))
        with uow_factory() as uow:
            moved = attrs.evolve(
                sparest, user_id=first.id, establishment_id=_ZEBRA, networks=("::/0",)
            )
            stored = uow.clinic_logins.update(moved)
            uow.commit()
        _assert_same(stored, attrs.evolve(moved, version=1), "update")
        with uow_factory() as uow:
            _assert_same(uow.clinic_logins.get(first.id), stored, "get after update")
            assert list(uow.clinic_logins.list_for_establishment(_EST)) == []
            assert list(uow.clinic_logins.list_for_establishment(_ZEBRA)) == [stored]
            again = uow.clinic_logins.update(attrs.evolve(fullest, version=1))
            uow.commit()
        with uow_factory() as uow:
            _assert_same(uow.clinic_logins.get(first.id), again, "get after second update")
        assert again.version == 2

    def test_a_second_clinic_login_of_an_account_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (clinic,) = self._named(uow_factory, "clinic")
        first = _clinic_login(clinic.id)
        self._store(uow_factory, first)
        with uow_factory() as uow:
            for second in (first, _clinic_login(clinic.id, _ANNEX, remote_access=False)):
                with pytest.raises(DuplicateRecord) as raised:
                    uow.clinic_logins.add(second)
                assert _refusal(raised) == (
                    DuplicateRecord,
                    "record.duplicate",
                    {"entity": "clinic_login", "id": clinic.id},
                )
            uow.commit()
        with uow_factory() as uow:
            assert uow.clinic_logins.get(clinic.id) == first
            assert list(uow.clinic_logins.list_for_establishment(_ANNEX)) == []
            # Within one unit of work too.
            (other,) = [sample_user(kind=AccountKind.CLINIC)]
            uow.users.add(other)
            uow.clinic_logins.add(_clinic_login(other.id))
            with pytest.raises(DuplicateRecord):
                uow.clinic_logins.add(_clinic_login(other.id, _ZEBRA))
            uow.commit()
        with uow_factory() as uow:
            assert [c.user_id for c in uow.clinic_logins.list_for_establishment(_EST)] == sorted(
                [clinic.id, other.id]
            )
            assert list(uow.clinic_logins.list_for_establishment(_ZEBRA)) == []

    def test_unknown_clinic_login_is_none_and_get_and_update_raise_clinic_login_not_found(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (clinic,) = self._named(uow_factory, "clinic")
        with uow_factory() as uow:
            assert uow.clinic_logins.find(clinic.id) is None
            calls: list[Callable[[], object]] = [
                lambda: uow.clinic_logins.get(clinic.id),
                lambda: uow.clinic_logins.update(_clinic_login(clinic.id)),
            ]
            for call in calls:
                with pytest.raises(ClinicLoginNotFound) as raised:
                    call()
                assert _refusal(raised) == (
                    ClinicLoginNotFound,
                    "clinic_login.not_found",
                    {"user_id": clinic.id},
                )
            for odd in (None, 42, ("user", "clinic"), "user-clinic\x00"):
                assert uow.clinic_logins.find(cast("UserId", odd)) is None
                assert list(uow.clinic_logins.list_for_establishment(cast("Any", odd))) == []
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.clinic_logins.list_for_establishment(_EST)) == []

    def test_stale_clinic_login_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (clinic,) = self._named(uow_factory, "clinic")
        first = _clinic_login(clinic.id)
        self._store(uow_factory, first)
        with uow_factory() as uow:
            current = uow.clinic_logins.update(attrs.evolve(first, remote_access=False))
            uow.commit()
        for version in (0, 2, 9):
            with uow_factory() as uow:
                with pytest.raises(StaleRecord) as raised:
                    uow.clinic_logins.update(
                        attrs.evolve(current, networks=("192.0.2.0/24",), version=version)
                    )
                uow.commit()
            assert _refusal(raised) == (
                StaleRecord,
                "record.stale",
                {
                    "entity": "clinic_login",
                    "id": clinic.id,
                    "user_id": clinic.id,
                    "expected": version,
                    "stored": 1,
                },
            )
        with uow_factory() as uow:
            assert uow.clinic_logins.get(clinic.id) == current

    def test_clinic_logins_are_listed_by_user_id_in_code_point_order(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        names = ("clinic-b", "clinic-Z", "clinic-é", "clinic-a", "clinic-10", "clinic-9")
        users = self._named(uow_factory, *names)
        self._store(
            uow_factory,
            *(_clinic_login(u.id, (_EST, _ZEBRA)[n % 2]) for n, u in enumerate(users)),
        )
        with uow_factory() as uow:
            for place in (_EST, _ZEBRA):
                listed = [c.user_id for c in uow.clinic_logins.list_for_establishment(place)]
                chosen = [u.id for n, u in enumerate(users) if (_EST, _ZEBRA)[n % 2] == place]
                assert listed == sorted(chosen), place

    # -- members' credentials (F2, F4) ----------------------------------------------------

    def test_every_credential_field_round_trips_through_every_look_up(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 7)
        credentials = _fullest_credentials(users)
        self._store(uow_factory, *credentials)
        with uow_factory() as uow:
            for credential in credentials:
                where = f"{credential.user_id}"
                found = uow.member_credentials.find(_EST, credential.user_id)
                _assert_same(found, credential, f"find {where}")
                if credential.pin_digest is not None:
                    by_pin = uow.member_credentials.find_by_pin(_EST, credential.pin_digest)
                    _assert_same(by_pin, credential, f"find_by_pin {where}")
                _assert_same(
                    list(uow.member_credentials.list_for_user(credential.user_id)),
                    [credential],
                    f"list_for_user {where}",
                )
            _assert_same(
                list(uow.member_credentials.list_for_establishment(_EST)),
                sorted(credentials, key=lambda c: c.user_id),
                "list_for_establishment",
            )
            assert list(uow.member_credentials.key_ids(_EST)) == sorted(
                {_PIN_KEY, _OLD_PIN_KEY, "k" * 64, "clé-ü-Ω"}
            )

    def test_credential_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 7)
        member = users[1].id
        self._store(uow_factory, _credential(member))
        fullest = attrs.evolve(_fullest_credentials(users)[1], version=0)
        with uow_factory() as uow:
            stored = uow.member_credentials.update(fullest)
            uow.commit()
        _assert_same(stored, attrs.evolve(fullest, version=1), "update")
        with uow_factory() as uow:
            _assert_same(uow.member_credentials.find(_EST, member), stored, "find after update")
            assert fullest.pin_digest is not None
            found = uow.member_credentials.find_by_pin(_EST, fullest.pin_digest)
            _assert_same(found, stored, "find_by_pin after update")
            revoked = uow.member_credentials.update(stored.revoked())
            uow.commit()
        _assert_same(revoked, attrs.evolve(stored.revoked(), version=2), "revoked")
        with uow_factory() as uow:
            _assert_same(uow.member_credentials.find(_EST, member), revoked, "find revoked")
            assert uow.member_credentials.find_by_pin(_EST, fullest.pin_digest) is None
            assert list(uow.member_credentials.key_ids(_EST)) == []

    def test_a_second_credential_of_a_member_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (user,) = self._people(uow_factory, 1)
        first = _credential(user.id, pin=1)
        self._store(uow_factory, first)
        with uow_factory() as uow:
            # The member's credential is named before the PIN, even their own PIN.
            for second in (first, _credential(user.id, pin=2), _credential(user.id)):
                with pytest.raises(DuplicateRecord) as raised:
                    uow.member_credentials.add(second)
                assert _refusal(raised) == (
                    DuplicateRecord,
                    "record.duplicate",
                    self._credential_params(first),
                )
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.member_credentials.list_for_user(user.id)) == [first]
            assert uow.member_credentials.find_by_pin(_EST, _pin(2)) is None

    def test_a_pin_another_member_holds_is_refused_on_add_and_update_without_its_digest(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        holder, adder, updater = self._named(uow_factory, "holder", "adder", "updater")
        held = _credential(holder.id, pin="held")
        before = _credential(updater.id, pin="own", remote_access=True)
        self._store(uow_factory, held, before)
        with uow_factory() as uow:
            refusals = []
            with pytest.raises(DuplicateRecord) as added:
                uow.member_credentials.add(_credential(adder.id, pin="held"))
            refusals.append(added)
            with pytest.raises(DuplicateRecord) as updated:
                uow.member_credentials.update(before.with_pin(_pin("held"), _OLD_PIN_KEY, _DEVICED))
            refusals.append(updated)
            blocked = uow.member_credentials.update(
                attrs.evolve(held, misses=5, blocked_at=_DEVICED)
            )
            with pytest.raises(DuplicateRecord) as still:  # a blocked PIN is still held
                uow.member_credentials.add(_credential(adder.id, pin="held"))
            refusals.append(still)
            uow.commit()
        for raised in refusals:
            assert _refusal(raised) == (DuplicateRecord, "record.duplicate", self._pin_taken())
            shown = f"{raised.value!r} {raised.value} {raised.value.params}"
            assert _pin("held").hex() not in shown
            assert repr(_pin("held")) not in shown
        with uow_factory() as uow:
            assert uow.member_credentials.find_by_pin(_EST, _pin("held")) == blocked
            assert uow.member_credentials.find(_EST, adder.id) is None
            assert uow.member_credentials.find(_EST, updater.id) == before
            # The same PIN in another establishment is another member's to hold.
            elsewhere = _credential(adder.id, _ANNEX, pin="held")
            uow.member_credentials.add(elsewhere)
            uow.commit()
        with uow_factory() as uow:
            assert uow.member_credentials.find_by_pin(_ANNEX, _pin("held")) == elsewhere
            assert uow.member_credentials.find_by_pin(_EST, _pin("held")) == blocked

    def test_a_member_keeps_their_pin_through_other_changes_and_frees_it_by_changing_it(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        first, second = self._people(uow_factory, 2)
        credential = _credential(first.id, pin=1)
        self._store(uow_factory, credential)
        with uow_factory() as uow:
            kept = uow.member_credentials.update(
                attrs.evolve(credential, misses=2, remote_access=True)
            )
            rotated = uow.member_credentials.update(kept.with_pin(_pin(2), _PIN_KEY, _DEVICED))
            uow.member_credentials.add(_credential(second.id, pin=1))  # freed: taken again
            uow.commit()
        with uow_factory() as uow:
            assert uow.member_credentials.find_by_pin(_EST, _pin(2)) == rotated
            found = uow.member_credentials.find_by_pin(_EST, _pin(1))
            assert found is not None
            assert found.user_id == second.id
            with pytest.raises(DuplicateRecord) as raised:
                uow.member_credentials.update(rotated.with_pin(_pin(1), _PIN_KEY, _DEVICED))
            assert _refusal(raised)[2] == self._pin_taken()

    def test_credentials_without_a_pin_never_clash_and_a_revoked_pin_is_free(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        users = self._people(uow_factory, 4)
        self._store(uow_factory, *(_credential(u.id) for u in users[:3]))
        self._store(uow_factory, _credential(users[3].id, pin="freed"))
        with uow_factory() as uow:
            stored = uow.member_credentials.find(_EST, users[3].id)
            assert stored is not None
            uow.member_credentials.update(stored.revoked())
            other = uow.member_credentials.find(_EST, users[0].id)
            assert other is not None
            taken = uow.member_credentials.update(other.with_pin(_pin("freed"), _PIN_KEY, _DEVICED))
            uow.commit()
        with uow_factory() as uow:
            assert uow.member_credentials.find_by_pin(_EST, _pin("freed")) == taken
            without = [
                c.user_id
                for c in uow.member_credentials.list_for_establishment(_EST)
                if c.pin_digest is None
            ]
        assert without == sorted(u.id for u in users[1:])

    def test_update_refuses_a_missing_then_a_stale_credential_then_a_taken_pin(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        holder, member, stranger = self._people(uow_factory, 3)
        self._store(uow_factory, _credential(holder.id, pin="held"), _credential(member.id))
        with uow_factory() as uow:
            stored = uow.member_credentials.update(_credential(member.id, remote_access=True))
            uow.commit()
        taking = _credential(member.id, pin="held", remote_access=True)
        missing = _credential(stranger.id, pin="held")
        with uow_factory() as uow:
            # No NotFound for credentials: a missing one is a DuplicateRecord, named first.
            with pytest.raises(DuplicateRecord) as raised:
                uow.member_credentials.update(missing)
            assert _refusal(raised) == (
                DuplicateRecord,
                "record.duplicate",
                self._credential_params(missing),
            )
            with pytest.raises(DuplicateRecord) as raised:
                uow.member_credentials.update(_credential(member.id, _ANNEX))
            assert _refusal(raised)[2] == self._credential_params(_credential(member.id, _ANNEX))
            for version in (0, 2):
                with pytest.raises(StaleRecord) as stale:
                    uow.member_credentials.update(attrs.evolve(taking, version=version))
                assert _refusal(stale) == (
                    StaleRecord,
                    "record.stale",
                    {
                        **self._credential_params(taking),
                        "entity": "member_credential",
                        "expected": version,
                        "stored": 1,
                    },
                )
            with pytest.raises(DuplicateRecord) as raised:
                uow.member_credentials.update(attrs.evolve(taking, version=1))
            assert _refusal(raised)[2] == self._pin_taken()
            uow.commit()
        with uow_factory() as uow:
            assert uow.member_credentials.find(_EST, member.id) == stored
            assert uow.member_credentials.find(_EST, stranger.id) is None

    def test_find_by_pin_finds_each_member_by_their_digest_in_their_establishment_only(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        first, second = self._named(uow_factory, "anna", "bert")
        credentials = [
            _credential(first.id, pin=1),
            _credential(second.id, pin=2),
            _credential(first.id, _ANNEX, pin=2),
            _credential(second.id, _ZEBRA),
        ]
        self._store(uow_factory, *credentials)
        with uow_factory() as uow:
            assert uow.member_credentials.find_by_pin(_EST, _pin(1)) == credentials[0]
            assert uow.member_credentials.find_by_pin(_EST, _pin(2)) == credentials[1]
            assert uow.member_credentials.find_by_pin(_ANNEX, _pin(2)) == credentials[2]
            for place, digest in ((_ANNEX, _pin(1)), (_ZEBRA, _pin(1)), (_EST, _pin(3))):
                assert uow.member_credentials.find_by_pin(place, digest) is None
            # Only the very digest: not a prefix, not its text, not another type.
            odd: list[object] = [
                _pin(1)[:31],
                _pin(1) + b"\x00",
                _pin(1).hex(),
                bytearray(_pin(1)),
                None,
                b"",
            ]
            for value in odd:
                assert uow.member_credentials.find_by_pin(_EST, cast("bytes", value)) is None
            assert uow.member_credentials.find_by_pin(cast("Any", None), _pin(1)) is None

    def test_key_ids_name_the_keys_of_the_pins_held_in_the_establishment_sorted(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        users = self._named(uow_factory, "a", "b", "c", "d", "e")
        newer, older = _PIN_KEY, _OLD_PIN_KEY
        self._store(
            uow_factory,
            _credential(users[0].id, pin=1, pin_key_id=newer),
            _credential(users[1].id, pin=2, pin_key_id=older),
            _credential(users[2].id, pin=3, pin_key_id=newer, blocked_at=_DEVICED),
            # Without a PIN, a key id names nothing in use.
            _credential(users[3].id, pin_key_id="pin-2026-12"),
            _credential(users[4].id, _ANNEX, pin=4, pin_key_id="pin-annexe"),
        )
        with uow_factory() as uow:
            assert list(uow.member_credentials.key_ids(_EST)) == [older, newer]
            assert list(uow.member_credentials.key_ids(_ANNEX)) == ["pin-annexe"]
            assert list(uow.member_credentials.key_ids(_ZEBRA)) == []
            rotated = uow.member_credentials.find(_EST, users[1].id)
            assert rotated is not None
            uow.member_credentials.update(rotated.with_pin(_pin(5), newer, _DEVICED))
            assert list(uow.member_credentials.key_ids(_EST)) == [newer]
            uow.rollback()
            assert list(uow.member_credentials.key_ids(_EST)) == [older, newer]

    def test_credentials_are_listed_by_establishment_then_user_in_code_point_order(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        users = self._named(uow_factory, "b", "Z", "é", "a", "10", "9")
        places = (_EST, _ZEBRA, _ANNEX)
        credentials = [
            _credential(u.id, places[(n + k) % 3], pin=f"{n}-{k}")
            for n, u in enumerate(users)
            for k in range(2)
        ]
        self._store(uow_factory, *reversed(credentials))
        with uow_factory() as uow:
            for user in users:
                listed = list(uow.member_credentials.list_for_user(user.id))
                mine = [c for c in credentials if c.user_id == user.id]
                assert listed == sorted(mine, key=lambda c: c.establishment_id), user.id
            for place in places:
                listed = list(uow.member_credentials.list_for_establishment(place))
                mine = [c for c in credentials if c.establishment_id == place]
                assert listed == sorted(mine, key=lambda c: c.user_id), place

    # -- device sessions (F1, F3) ---------------------------------------------------------

    def test_every_device_session_field_round_trips_in_every_state(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, *members = self._named(uow_factory, "clinic", "a", "b", "c", "d")
        sessions = _fullest_sessions(clinic.id, [m.id for m in members])
        sparest = _device_session("ds-sparest", clinic.id)
        self._store(uow_factory, *sessions, sparest)
        with uow_factory() as uow:
            for session in (*sessions, sparest):
                where = f"{session.state}"
                _assert_same(uow.device_sessions.find(session.id), session, f"find {where}")
                found = uow.device_sessions.find_by_token(session.token_digest)
                _assert_same(found, session, f"find_by_token {where}")
            listed = list(uow.device_sessions.list_for_establishment(_EST))
        opened = [s for s in (*sessions, sparest) if s.state is not DeviceState.CLOSED]
        _assert_same(listed, sorted(opened, key=lambda s: s.id), "list_for_establishment")

    def test_device_session_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, member = self._named(uow_factory, "clinic", "member")
        session = _device_session("ds-1", clinic.id)
        self._store(uow_factory, session)
        later = (_DEVICED + timedelta(minutes=3, microseconds=1)).astimezone(_KATHMANDU)
        with uow_factory() as uow:
            unlocked = uow.device_sessions.update(session.unlock(member.id, later))
            uow.commit()
        _assert_same(unlocked, attrs.evolve(session.unlock(member.id, later), version=1), "unlock")
        with uow_factory() as uow:
            _assert_same(uow.device_sessions.find(session.id), unlocked, "find after unlock")
            missed = uow.device_sessions.update(unlocked.missed(later, attempts=2))
            closed = uow.device_sessions.update(
                attrs.evolve(missed.close(later), peer_address="2001:db8::2", remote=True)
            )
            uow.commit()
        assert (missed.state, missed.member, missed.misses) == (DeviceState.LOCKED, None, 1)
        with uow_factory() as uow:
            _assert_same(uow.device_sessions.find_by_token(_token("ds-1")), closed, "closed")
            assert list(uow.device_sessions.list_for_establishment(_EST)) == []
        assert closed.version == 3

    def test_a_taken_session_id_or_token_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (clinic,) = self._named(uow_factory, "clinic")
        first = _device_session("ds-1", clinic.id)
        self._store(uow_factory, first)
        with uow_factory() as uow:
            uow.device_sessions.add(_device_session("ds-2", clinic.id, _ANNEX))
            taken = [
                _device_session("ds-1", clinic.id, token_digest=_token("other")),
                _device_session("ds-3", clinic.id, _ZEBRA, token_digest=first.token_digest),
                _device_session("ds-4", clinic.id, token_digest=_token("ds-2")),
            ]
            for session in taken:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.device_sessions.add(session)
                assert _refusal(raised) == (
                    DuplicateRecord,
                    "record.duplicate",
                    {"entity": "device_session", "id": session.id},
                )
            uow.commit()
        with uow_factory() as uow:
            assert uow.device_sessions.find(first.id) == first
            assert uow.device_sessions.find_by_token(_token("other")) is None
            for session_id in ("ds-3", "ds-4"):
                assert uow.device_sessions.find(DeviceSessionId(session_id)) is None
            assert list(uow.device_sessions.list_for_establishment(_ZEBRA)) == []
            assert [s.id for s in uow.device_sessions.list_for_establishment(_ANNEX)] == ["ds-2"]

    def test_update_of_an_unknown_or_stale_session_is_refused_and_changes_nothing(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, member = self._named(uow_factory, "clinic", "member")
        session = _device_session("ds-1", clinic.id)
        self._store(uow_factory, session)
        with uow_factory() as uow:
            stored = uow.device_sessions.update(session.touched(_DEVICED + timedelta(seconds=1)))
            uow.commit()
        with uow_factory() as uow:
            unknown = _device_session("ds-unknown", clinic.id)
            with pytest.raises(DeviceSessionInvalid) as raised:
                uow.device_sessions.update(unknown)
            assert _refusal(raised) == (
                DeviceSessionInvalid,
                "device.session_invalid",
                {"device_session_id": "ds-unknown"},
            )
            for version in (0, 2, 7):
                with pytest.raises(StaleRecord) as stale:
                    uow.device_sessions.update(
                        attrs.evolve(session.unlock(member.id, _DEVICED), version=version)
                    )
                assert _refusal(stale) == (
                    StaleRecord,
                    "record.stale",
                    {
                        "entity": "device_session",
                        "id": "ds-1",
                        "device_session_id": "ds-1",
                        "expected": version,
                        "stored": 1,
                    },
                )
            uow.commit()
        with uow_factory() as uow:
            assert uow.device_sessions.find(session.id) == stored
            assert uow.device_sessions.find(unknown.id) is None

    def test_find_by_token_finds_a_session_by_its_very_digest_whatever_its_state(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (clinic,) = self._named(uow_factory, "clinic")
        sessions = [
            _device_session(f"ds-{n}", clinic.id, place, state=state)
            for n, (place, state) in enumerate(
                (
                    (_EST, DeviceState.LOCKED),
                    (_ANNEX, DeviceState.CLOSED),
                    (_EST, DeviceState.CREDENTIAL_REQUIRED),
                )
            )
        ]
        self._store(uow_factory, *sessions)
        with uow_factory() as uow:
            for session in sessions:
                assert uow.device_sessions.find_by_token(session.token_digest) == session
            odd: list[object] = [
                _token("ds-0")[:31],
                _token("ds-0") + b"\x00",
                _token("ds-0").hex(),
                bytearray(_token("ds-0")),
                None,
                b"",
                _token("ds-9"),
            ]
            for value in odd:
                assert uow.device_sessions.find_by_token(cast("bytes", value)) is None
            for session_id in (None, 42, "ds-0\x00", "DS-0"):
                assert uow.device_sessions.find(cast("DeviceSessionId", session_id)) is None

    def test_open_sessions_are_listed_by_id_in_code_point_order(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        (clinic,) = self._named(uow_factory, "clinic")
        ids = ("ds-b", "ds-Z", "ds-é", "ds-a", "ds-10", "ds-9", "ds-closed")
        states = (*DeviceState, DeviceState.LOCKED, DeviceState.UNLOCKED, DeviceState.CLOSED)
        sessions = [
            _device_session(session_id, clinic.id, (_EST, _ZEBRA)[n % 2], state=states[n])
            for n, session_id in enumerate(ids)
        ]
        self._store(uow_factory, *sessions)
        with uow_factory() as uow:
            for place in (_EST, _ZEBRA):
                listed = list(uow.device_sessions.list_for_establishment(place))
                wanted = [
                    s
                    for s in sessions
                    if s.establishment_id == place and s.state is not DeviceState.CLOSED
                ]
                assert listed == sorted(wanted, key=lambda s: s.id), place
            assert list(uow.device_sessions.list_for_establishment(_ANNEX)) == []
            assert list(uow.device_sessions.list_for_establishment(cast("Any", None))) == []

    # -- PIN guards (F2) ------------------------------------------------------------------

    def test_a_pin_guard_is_stored_new_at_version_zero_then_replaced_keeping_its_misses(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)
        misses = (
            _DEVICED.astimezone(_NEWFOUNDLAND),
            (_DEVICED + timedelta(microseconds=1)).astimezone(_KATHMANDU),
            _DEVICED + timedelta(minutes=59, seconds=59, microseconds=999999),
        )
        with uow_factory() as uow:
            assert uow.pin_guards.find(_EST) is None
            first = uow.pin_guards.save(PinGuard(_EST, misses[:1]))
            uow.commit()
        _assert_same(first, PinGuard(_EST, misses[:1], version=1), "first save")
        with uow_factory() as uow:
            _assert_same(uow.pin_guards.find(_EST), first, "find")
            second = uow.pin_guards.save(attrs.evolve(first, misses=misses))
            annex = uow.pin_guards.save(PinGuard(_ANNEX))  # no misses: an empty budget
            uow.commit()
        with uow_factory() as uow:
            stored = uow.pin_guards.find(_EST)
            _assert_same(stored, PinGuard(_EST, misses, version=2), "find after second save")
            assert stored is not None
            assert all(miss.utcoffset() is not None for miss in stored.misses)
            _assert_same(uow.pin_guards.find(_ANNEX), annex, "empty guard")
            assert uow.pin_guards.find(_ZEBRA) is None
            assert uow.pin_guards.find(cast("EstablishmentId", None)) is None
            emptied = uow.pin_guards.save(attrs.evolve(second, misses=()))
            uow.commit()
        with uow_factory() as uow:
            _assert_same(uow.pin_guards.find(_EST), emptied, "emptied")
        assert emptied.version == 3

    def test_a_stale_pin_guard_is_refused_and_changes_nothing(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)
        stored = self._save_guard(uow_factory, PinGuard(_EST, (_DEVICED,)))
        attempts = [
            (_EST, 0, 1),  # a second "first" miss: someone got there first
            (_EST, 2, 1),
            (_EST, 7, 1),
            (_ANNEX, 1, None),  # a guard said to be stored that is not
        ]
        with uow_factory() as uow:
            for place, version, found in attempts:
                guard = PinGuard(place, (_DEVICED + timedelta(seconds=1),), version=version)
                with pytest.raises(StaleRecord) as raised:
                    uow.pin_guards.save(guard)
                assert _refusal(raised) == (
                    StaleRecord,
                    "record.stale",
                    {"entity": "pin_guard", "id": place, "expected": version, "stored": found},
                )
            uow.commit()
        with uow_factory() as uow:
            assert uow.pin_guards.find(_EST) == stored
            assert uow.pin_guards.find(_ANNEX) is None

    @staticmethod
    def _save_guard(factory: DeviceUnitOfWorkFactory, guard: PinGuard) -> PinGuard:
        with factory() as uow:
            stored = uow.pin_guards.save(guard)
            uow.commit()
        return stored

    # -- transactions ---------------------------------------------------------------------

    def _device_writes(self, uow: DeviceUnitOfWork, clinic: UserId, member: UserId) -> None:
        """One write of each kind, all about :data:`_EST`."""
        uow.clinic_logins.add(_clinic_login(clinic))
        uow.member_credentials.add(_credential(member, pin="written"))
        uow.device_sessions.add(_device_session("ds-written", clinic))
        uow.pin_guards.save(PinGuard(_EST, (_DEVICED,)))

    def _assert_no_device_record(
        self, factory: DeviceUnitOfWorkFactory, clinic: UserId, member: UserId
    ) -> None:
        with factory() as uow:
            assert uow.clinic_logins.find(clinic) is None
            assert list(uow.clinic_logins.list_for_establishment(_EST)) == []
            assert uow.member_credentials.find(_EST, member) is None
            assert uow.member_credentials.find_by_pin(_EST, _pin("written")) is None
            assert list(uow.member_credentials.list_for_user(member)) == []
            assert list(uow.member_credentials.key_ids(_EST)) == []
            assert uow.device_sessions.find(DeviceSessionId("ds-written")) is None
            assert uow.device_sessions.find_by_token(_token("ds-written")) is None
            assert list(uow.device_sessions.list_for_establishment(_EST)) == []
            assert uow.pin_guards.find(_EST) is None

    def test_leaving_without_commit_or_by_an_exception_discards_device_writes(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        class Boom(Exception):
            pass

        clinic, member = self._named(uow_factory, "clinic", "member")
        with uow_factory() as uow:
            self._device_writes(uow, clinic.id, member.id)
        self._assert_no_device_record(uow_factory, clinic.id, member.id)
        with pytest.raises(Boom), uow_factory() as uow:
            self._device_writes(uow, clinic.id, member.id)
            raise Boom
        self._assert_no_device_record(uow_factory, clinic.id, member.id)
        with uow_factory() as uow:  # all of them were free again
            self._device_writes(uow, clinic.id, member.id)
            uow.commit()
        with uow_factory() as uow:
            assert uow.clinic_logins.find(clinic.id) is not None
            assert uow.member_credentials.find_by_pin(_EST, _pin("written")) is not None

    def test_rollback_discards_device_changes_made_since_the_last_commit(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, member, other = self._named(uow_factory, "clinic", "member", "other")
        with uow_factory() as uow:
            self._device_writes(uow, clinic.id, member.id)
            uow.commit()
            login = uow.clinic_logins.get(clinic.id)
            credential = uow.member_credentials.find(_EST, member.id)
            session = uow.device_sessions.find(DeviceSessionId("ds-written"))
            guard = uow.pin_guards.find(_EST)
            assert credential is not None
            assert session is not None
            assert guard is not None
            uow.clinic_logins.update(attrs.evolve(login, remote_access=False))
            uow.member_credentials.update(credential.with_pin(_pin("new"), _PIN_KEY, _DEVICED))
            uow.member_credentials.add(_credential(other.id, pin="written"))  # freed above
            uow.device_sessions.update(session.close(_DEVICED))
            uow.device_sessions.add(_device_session("ds-rolled-back", clinic.id))
            uow.pin_guards.save(attrs.evolve(guard, misses=()))
            uow.pin_guards.save(PinGuard(_ANNEX, (_DEVICED,)))
            uow.users.update(attrs.evolve(other, kind=AccountKind.CLINIC))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.clinic_logins.get(clinic.id) == login
            assert uow.member_credentials.find_by_pin(_EST, _pin("written")) == credential
            assert uow.member_credentials.find_by_pin(_EST, _pin("new")) is None
            assert uow.member_credentials.find(_EST, other.id) is None
            assert list(uow.device_sessions.list_for_establishment(_EST)) == [session]
            assert uow.device_sessions.find(DeviceSessionId("ds-rolled-back")) is None
            assert uow.pin_guards.find(_EST) == guard
            assert uow.pin_guards.find(_ANNEX) is None
            assert uow.users.get(other.id).kind is AccountKind.PERSON

    def test_refused_device_writes_leave_the_unit_of_work_usable(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, member, other = self._named(uow_factory, "clinic", "member", "other")
        with uow_factory() as uow:
            self._device_writes(uow, clinic.id, member.id)
            uow.commit()
        with uow_factory() as uow:
            refusals: list[tuple[type[PracticeIdError], Callable[[], object]]] = [
                (DuplicateRecord, lambda: uow.clinic_logins.add(_clinic_login(clinic.id))),
                (ClinicLoginNotFound, lambda: uow.clinic_logins.update(_clinic_login(other.id))),
                (
                    DuplicateRecord,
                    lambda: uow.member_credentials.add(_credential(other.id, pin="written")),
                ),
                (DuplicateRecord, lambda: uow.member_credentials.update(_credential(other.id))),
                (
                    StaleRecord,
                    lambda: uow.member_credentials.update(_credential(member.id, version=5)),
                ),
                (
                    DuplicateRecord,
                    lambda: uow.device_sessions.add(_device_session("ds-written", clinic.id)),
                ),
                (
                    DeviceSessionInvalid,
                    lambda: uow.device_sessions.update(_device_session("ds-none", clinic.id)),
                ),
                (StaleRecord, lambda: uow.pin_guards.save(PinGuard(_EST))),
            ]
            for refused, call in refusals:
                with pytest.raises(refused):
                    call()
            added = _credential(other.id, pin="other")
            uow.member_credentials.add(added)
            uow.device_sessions.add(_device_session("ds-after", clinic.id))
            guard = uow.pin_guards.save(PinGuard(_ANNEX, (_DEVICED,)))
            uow.commit()
        with uow_factory() as uow:
            assert uow.member_credentials.find_by_pin(_EST, _pin("other")) == added
            assert uow.device_sessions.find(DeviceSessionId("ds-after")) is not None
            assert uow.pin_guards.find(_ANNEX) == guard

    def test_device_repositories_outside_their_unit_of_work_raise(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, member = self._named(uow_factory, "clinic", "member")
        uow = uow_factory()
        session = _device_session("ds-1", clinic.id)
        calls: list[Callable[[], object]] = [
            lambda: uow.clinic_logins.add(_clinic_login(clinic.id)),
            lambda: uow.clinic_logins.get(clinic.id),
            lambda: uow.clinic_logins.find(clinic.id),
            lambda: uow.clinic_logins.update(_clinic_login(clinic.id)),
            lambda: uow.clinic_logins.list_for_establishment(_EST),
            lambda: uow.member_credentials.add(_credential(member.id, pin=1)),
            lambda: uow.member_credentials.find(_EST, member.id),
            lambda: uow.member_credentials.find_by_pin(_EST, _pin(1)),
            lambda: uow.member_credentials.update(_credential(member.id, pin=1)),
            lambda: uow.member_credentials.list_for_user(member.id),
            lambda: uow.member_credentials.list_for_establishment(_EST),
            lambda: uow.member_credentials.key_ids(_EST),
            lambda: uow.device_sessions.add(session),
            lambda: uow.device_sessions.find(session.id),
            lambda: uow.device_sessions.find_by_token(session.token_digest),
            lambda: uow.device_sessions.update(session),
            lambda: uow.device_sessions.list_for_establishment(_EST),
            lambda: uow.pin_guards.find(_EST),
            lambda: uow.pin_guards.save(PinGuard(_EST)),
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        self._assert_no_device_record(uow_factory, clinic.id, member.id)

    # -- against the in-memory store -------------------------------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        _run_against_memory(_DeviceAgreesWithMemory, self.make_unit_of_work_factory)

    # -- concurrency (F2: one PIN per member; no wrong PIN lost) ---------------------------

    def test_eight_concurrent_issues_of_one_pin_to_eight_members_have_exactly_one_winner(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        members = self._people(uow_factory, 2 * _DEVICE_THREADS)
        new, held = members[:_DEVICE_THREADS], members[_DEVICE_THREADS:]
        # The second round's members hold a credential without a PIN: issuing updates it.
        self._store(uow_factory, *(_credential(m.id, remote_access=True) for m in held))

        def first_issue(i: int, barrier: threading.Barrier) -> object:
            credential = _credential(new[i].id, pin="shared", misses=i)
            barrier.wait()
            with uow_factory() as uow:
                uow.member_credentials.add(credential)
                uow.commit()
            return credential

        def reissue(i: int, barrier: threading.Barrier) -> object:
            with uow_factory() as uow:
                read = uow.member_credentials.find(_EST, held[i].id)
            assert read is not None
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.member_credentials.update(
                    read.with_pin(_pin("again"), _PIN_KEY, _DEVICED + timedelta(seconds=i))
                )
                uow.commit()
            return stored

        for attempt, digest in ((first_issue, _pin("shared")), (reissue, _pin("again"))):
            results = _race_in_threads(attempt, _DEVICE_THREADS)
            winners = [r for r in results if isinstance(r, MemberCredential)]
            refusals = [r for r in results if isinstance(r, DuplicateRecord)]
            assert len(winners) == 1, results
            assert len(refusals) == _DEVICE_THREADS - 1, results
            assert all(dict(r.params) == self._pin_taken() for r in refusals), refusals
            with uow_factory() as uow:
                assert uow.member_credentials.find_by_pin(_EST, digest) == winners[0]
                holders = [
                    c
                    for c in uow.member_credentials.list_for_establishment(_EST)
                    if c.pin_digest == digest
                ]
            assert holders == winners
        with uow_factory() as uow:
            assert len(uow.member_credentials.list_for_establishment(_EST)) == 1 + len(held)

    def test_eight_concurrent_first_misses_have_one_winner_and_retried_misses_are_all_kept(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)

        def first_miss(i: int, barrier: threading.Barrier) -> object:
            with uow_factory() as uow:
                assert uow.pin_guards.find(_EST) is None
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.pin_guards.save(PinGuard(_EST, (_DEVICED + timedelta(seconds=i),)))
                uow.commit()
            return stored

        results = _race_in_threads(first_miss, _DEVICE_THREADS)
        winners = [r for r in results if isinstance(r, PinGuard)]
        refusals = [r for r in results if isinstance(r, StaleRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _DEVICE_THREADS - 1, results
        assert all(
            dict(r.params) == {"entity": "pin_guard", "id": _EST, "expected": 0, "stored": 1}
            for r in refusals
        ), refusals
        with uow_factory() as uow:
            assert uow.pin_guards.find(_EST) == winners[0]

        def retried_miss(i: int, barrier: threading.Barrier) -> object:
            # The service's pattern: read, add the miss, save; run again when refused.
            miss = _DEVICED + timedelta(minutes=1, microseconds=i)
            barrier.wait()
            for _ in range(500):
                try:
                    with uow_factory() as uow:
                        guard = uow.pin_guards.find(_EST) or PinGuard(_EST)
                        saved = uow.pin_guards.save(
                            attrs.evolve(guard, misses=(*guard.misses, miss))
                        )
                        uow.commit()
                except StaleRecord:
                    continue
                return saved
            raise AssertionError("a miss was never saved")  # pragma: no cover

        results = _race_in_threads(retried_miss, _DEVICE_THREADS)
        assert all(isinstance(r, PinGuard) for r in results), results
        with uow_factory() as uow:
            stored = uow.pin_guards.find(_EST)
        assert stored is not None
        assert stored.version == 1 + _DEVICE_THREADS
        assert sorted(stored.misses) == sorted(
            [
                *winners[0].misses,
                *(_DEVICED + timedelta(minutes=1, microseconds=i) for i in range(_DEVICE_THREADS)),
            ]
        )

    def test_eight_concurrent_updates_of_one_device_session_have_exactly_one_winner(
        self, uow_factory: DeviceUnitOfWorkFactory
    ) -> None:
        clinic, *members = self._named(uow_factory, "clinic", *(str(i) for i in range(8)))
        self._store(uow_factory, _device_session("ds-1", clinic.id))

        def unlock(i: int, barrier: threading.Barrier) -> object:
            with uow_factory() as uow:
                read = uow.device_sessions.find(DeviceSessionId("ds-1"))
            assert read is not None
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.device_sessions.update(read.unlock(members[i].id, _DEVICED))
                uow.commit()
            return stored

        results = _race_in_threads(unlock, _DEVICE_THREADS)
        winners = [r for r in results if isinstance(r, DeviceSession)]
        refusals = [r for r in results if isinstance(r, StaleRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _DEVICE_THREADS - 1, results
        assert winners[0].version == 1
        with uow_factory() as uow:
            assert uow.device_sessions.find_by_token(_token("ds-1")) == winners[0]


# The pools of the device machine: few values, so that collisions and ties are common.
_DEVICE_ESTABLISHMENTS = (_ESTABLISHMENT_IDS[0], _ESTABLISHMENT_IDS[2])
_SESSION_IDS = tuple(DeviceSessionId(f"ds-{name}") for name in ("a", "B", "c", "é"))
_TOKEN_LABELS = ("t1", "t2", "t3")
_PIN_LABELS = ("p1", "p2", "p3")
_PIN_KEYS = (_OLD_PIN_KEY, _PIN_KEY)
_DEVICE_TIMES = tuple(
    (_DEVICED + timedelta(minutes=m, microseconds=m)).astimezone(zone)
    for m, zone in enumerate((UTC, _KATHMANDU, _NEWFOUNDLAND))
)
_NETWORK_CHOICES = ((), ("192.0.2.0/24",), ("10.0.0.7", "2001:db8::/32"))


class _DeviceAgreesWithMemory(_AgreesWithMemory[DeviceUnitOfWork]):
    """Users and the device repositories against the in-memory store's.

    Two establishments; clinic logins, credentials and sessions point at stored users. PINs
    come from three digests and tokens from three, so that clashes are frequent; credentials
    get PINs, lose them, miss and are blocked; sessions are unlocked, locked, missed, closed;
    guards are saved at the version read or a stale one. Users change kind too.
    """

    def _add(self, record: _DeviceRecord) -> None:
        self._both(f"add({record!r})", lambda uow: _add_device_record(uow, record))

    def _reference(self) -> DeviceUnitOfWork:
        return self._pair()[1]

    def _clinic_logins(self) -> list[UserId]:
        reference = self._reference()
        return [
            c.user_id
            for establishment_id in _DEVICE_ESTABLISHMENTS
            for c in reference.clinic_logins.list_for_establishment(establishment_id)
        ]

    def _credentials(self) -> list[tuple[EstablishmentId, UserId]]:
        reference = self._reference()
        return [
            (c.establishment_id, c.user_id)
            for establishment_id in _DEVICE_ESTABLISHMENTS
            for c in reference.member_credentials.list_for_establishment(establishment_id)
        ]

    def _sessions(self) -> list[DeviceSessionId]:
        reference = self._reference()
        return [s for s in _SESSION_IDS if reference.device_sessions.find(s) is not None]

    @rule(operation=st.deferred(lambda: _operations(_DeviceAgreesWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)

    @initialize(seeded=st.sampled_from((False, True, True, True)))
    def seed(self, *, seeded: bool) -> None:
        """Two establishments; sometimes users, a clinic login, PINs and sessions too."""
        organisation = Organisation(
            id=_ORGANISATION_IDS[0], name="Groupe des Tilleuls", owners=(), created_at=_OPENED
        )
        self._add(organisation)
        for establishment_id in _DEVICE_ESTABLISHMENTS:
            self._add(_establishment(establishment_id, organisation_id=organisation.id))
        if seeded:
            anna, bert, chloe, dirk = _USER_IDS
            ans, ciney = _DEVICE_ESTABLISHMENTS
            for user_id in _USER_IDS:
                kind = AccountKind.CLINIC if user_id == dirk else AccountKind.PERSON
                self._add(sample_user(id=user_id, kind=kind))
            self._add(_clinic_login(dirk, ans, networks=_NETWORK_CHOICES[1]))
            self._add(_credential(anna, ans, pin=_PIN_LABELS[0]))
            self._add(_credential(bert, ans, pin=_PIN_LABELS[1], pin_key_id=_OLD_PIN_KEY))
            self._add(_credential(chloe, ans))
            self._add(_credential(anna, ciney, pin=_PIN_LABELS[1]))
            self._add(_device_session(_SESSION_IDS[0], dirk, ans, token_digest=_token("t1")))
            self._add(
                _device_session(_SESSION_IDS[1], anna, ciney, token_digest=_token("t2")).unlock(
                    anna, _DEVICE_TIMES[1]
                )
            )
            self._add(PinGuard(ans, _DEVICE_TIMES[:2]))
        self.finish(how="commit and leave")

    # -- users' kinds -----------------------------------------------------------------------

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        kind=st.sampled_from(AccountKind),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def change_kind(
        self, *, user_id: UserId, kind: AccountKind, shift: int, any_record: bool
    ) -> None:
        user_id = _target(user_id, self._user_ids(), any_record=any_record)
        current = self._stored(lambda uow: uow.users.get(user_id)) or sample_user(id=user_id)
        changed = attrs.evolve(current, kind=kind, version=_shifted(current.version, shift))
        self._both(f"users.update({changed!r})", lambda uow: uow.users.update(changed))

    # -- clinic logins ----------------------------------------------------------------------

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        establishment_id=st.sampled_from(_DEVICE_ESTABLISHMENTS),
        remote_access=st.booleans(),
        networks=st.sampled_from(_NETWORK_CHOICES),
        any_record=_ANY_RECORD,
    )
    def add_clinic_login(
        self,
        *,
        user_id: UserId,
        establishment_id: EstablishmentId,
        remote_access: bool,
        networks: tuple[str, ...],
        any_record: bool,
    ) -> None:
        chosen = _pick(
            user_id, self._user_ids(), taken=self._clinic_logins(), any_record=any_record
        )
        if chosen is None:
            return
        self._add(
            _clinic_login(chosen, establishment_id, remote_access=remote_access, networks=networks)
        )

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        establishment_id=st.sampled_from(_DEVICE_ESTABLISHMENTS),
        remote_access=st.booleans(),
        networks=st.sampled_from(_NETWORK_CHOICES),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_clinic_login(
        self,
        *,
        user_id: UserId,
        establishment_id: EstablishmentId,
        remote_access: bool,
        networks: tuple[str, ...],
        shift: int,
        any_record: bool,
    ) -> None:
        user_id = _target(user_id, self._clinic_logins(), any_record=any_record)
        current = self._stored(lambda uow: uow.clinic_logins.get(user_id))
        current = current or _clinic_login(user_id)  # unknown: refused
        changed = attrs.evolve(
            current,
            establishment_id=establishment_id,
            remote_access=remote_access,
            networks=networks,
            version=_shifted(current.version, shift),
        )
        self._both(
            f"clinic_logins.update({changed!r})", lambda uow: uow.clinic_logins.update(changed)
        )

    # -- credentials ------------------------------------------------------------------------

    @_operation(
        weight=2,
        establishment_id=st.sampled_from(_DEVICE_ESTABLISHMENTS),
        user_id=st.sampled_from(_USER_IDS),
        pin=st.none() | st.sampled_from(_PIN_LABELS),
        key_id=st.sampled_from(_PIN_KEYS),
        remote_access=st.booleans(),
        any_record=_ANY_RECORD,
    )
    def add_credential(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        pin: str | None,
        key_id: str,
        remote_access: bool,
        any_record: bool,
    ) -> None:
        taken = [u for e, u in self._credentials() if e == establishment_id]
        chosen = _pick(user_id, self._user_ids(), taken=taken, any_record=any_record)
        if chosen is None:
            return
        credential = _credential(chosen, establishment_id, pin, remote_access=remote_access)
        if pin is not None:
            credential = attrs.evolve(credential, pin_key_id=key_id)
        self._add(credential)

    @_operation(
        weight=3,
        establishment_id=st.sampled_from(_DEVICE_ESTABLISHMENTS),
        user_id=st.sampled_from(_USER_IDS),
        change=st.sampled_from(("issue", "revoke", "miss", "block", "remote")),
        pin=st.sampled_from(_PIN_LABELS),
        key_id=st.sampled_from(_PIN_KEYS),
        when=st.sampled_from(_DEVICE_TIMES),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_credential(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        change: str,
        pin: str,
        key_id: str,
        when: datetime,
        shift: int,
        any_record: bool,
    ) -> None:
        establishment_id, user_id = _target(
            (establishment_id, user_id), self._credentials(), any_record=any_record
        )
        current = self._reference().member_credentials.find(establishment_id, user_id)
        current = current or _credential(user_id, establishment_id)  # unknown: refused
        if change == "issue":
            changed = current.with_pin(_pin(pin), key_id, when)
        elif change == "revoke":
            changed = current.revoked()
        elif change == "miss":
            changed = attrs.evolve(current, misses=current.misses + 1)
        elif change == "block":
            changed = attrs.evolve(current, misses=current.misses + 1, blocked_at=when)
        else:
            changed = attrs.evolve(current, remote_access=not current.remote_access)
        changed = attrs.evolve(changed, version=_shifted(current.version, shift))
        self._both(
            f"member_credentials.update({changed!r}, pin={changed.pin_digest!r})",
            lambda uow: uow.member_credentials.update(changed),
        )

    # -- device sessions --------------------------------------------------------------------

    @_operation(
        weight=2,
        session_id=st.sampled_from(_SESSION_IDS),
        establishment_id=st.sampled_from(_DEVICE_ESTABLISHMENTS),
        account_id=st.sampled_from(_USER_IDS),
        token=st.sampled_from(_TOKEN_LABELS),
        state=st.sampled_from(DeviceState),
        when=st.sampled_from(_DEVICE_TIMES),
        any_record=_ANY_RECORD,
    )
    def add_session(
        self,
        *,
        session_id: DeviceSessionId,
        establishment_id: EstablishmentId,
        account_id: UserId,
        token: str,
        state: DeviceState,
        when: datetime,
        any_record: bool,
    ) -> None:
        account = _pick(account_id, self._user_ids())
        if account is None:
            return
        session_id = _free(session_id, self._sessions(), _SESSION_IDS, any_record=any_record)
        self._add(
            _device_session(
                session_id,
                account,
                establishment_id,
                token_digest=_token(token),
                opened_at=when,
                last_activity_at=when,
                state=state,
                peer_address=None if state is DeviceState.LOCKED else "192.0.2.7",
            )
        )

    @_operation(
        weight=3,
        session_id=st.sampled_from(_SESSION_IDS),
        change=st.sampled_from(("unlock", "lock", "miss", "reopen", "close", "touch")),
        member=st.sampled_from(_USER_IDS),
        when=st.sampled_from(_DEVICE_TIMES),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_session(
        self,
        *,
        session_id: DeviceSessionId,
        change: str,
        member: UserId,
        when: datetime,
        shift: int,
        any_record: bool,
    ) -> None:
        session_id = _target(session_id, self._sessions(), any_record=any_record)
        current = self._reference().device_sessions.find(session_id)
        current = current or _device_session(session_id, member)  # unknown: refused
        changes: dict[str, Callable[[], DeviceSession]] = {
            "unlock": lambda: current.unlock(member, when),
            "lock": lambda: current.lock(when),
            "miss": lambda: current.missed(when, attempts=2),
            "reopen": lambda: current.reopened(when),
            "close": lambda: current.close(when),
            "touch": lambda: current.touched(when),
        }
        changed = attrs.evolve(changes[change](), version=_shifted(current.version, shift))
        self._both(
            f"device_sessions.update({changed!r})",
            lambda uow: uow.device_sessions.update(changed),
        )

    # -- PIN guards -------------------------------------------------------------------------

    @_operation(
        weight=2,
        establishment_id=st.sampled_from(_DEVICE_ESTABLISHMENTS),
        when=st.sampled_from(_DEVICE_TIMES),
        forget=st.booleans(),
        shift=_VERSION_SHIFTS,
    )
    def save_guard(
        self, *, establishment_id: EstablishmentId, when: datetime, forget: bool, shift: int
    ) -> None:
        current = self._reference().pin_guards.find(establishment_id) or PinGuard(establishment_id)
        misses = (*current.misses[1:], when) if forget else (*current.misses, when)
        changed = attrs.evolve(current, misses=misses, version=_shifted(current.version, shift))
        self._both(f"pin_guards.save({changed!r})", lambda uow: uow.pin_guards.save(changed))

    # -- reads ------------------------------------------------------------------------------

    @_operation(
        establishment_id=st.sampled_from(_ESTABLISHMENT_IDS),
        user_id=st.sampled_from(_USER_IDS),
        session_id=st.sampled_from(_SESSION_IDS),
        pin=st.sampled_from(_PIN_LABELS),
        token=st.sampled_from(_TOKEN_LABELS),
    )
    def read_devices(
        self,
        *,
        establishment_id: EstablishmentId,
        user_id: UserId,
        session_id: DeviceSessionId,
        pin: str,
        token: str,
    ) -> None:
        key = f"{establishment_id}, {user_id}"
        reads: dict[str, Callable[[DeviceUnitOfWork], object]] = {
            f"clinic_logins.get({user_id})": lambda uow: uow.clinic_logins.get(user_id),
            f"clinic_logins.find({user_id})": lambda uow: uow.clinic_logins.find(user_id),
            f"member_credentials.find({key})": lambda uow: uow.member_credentials.find(
                establishment_id, user_id
            ),
            f"member_credentials.find_by_pin({establishment_id}, {pin})": (
                lambda uow: uow.member_credentials.find_by_pin(establishment_id, _pin(pin))
            ),
            f"member_credentials.list_for_user({user_id})": (
                lambda uow: list(uow.member_credentials.list_for_user(user_id))
            ),
            f"member_credentials.key_ids({establishment_id})": (
                lambda uow: list(uow.member_credentials.key_ids(establishment_id))
            ),
            f"device_sessions.find({session_id})": lambda uow: uow.device_sessions.find(session_id),
            f"device_sessions.find_by_token({token})": (
                lambda uow: uow.device_sessions.find_by_token(_token(token))
            ),
            f"device_sessions.list_for_establishment({establishment_id})": (
                lambda uow: list(uow.device_sessions.list_for_establishment(establishment_id))
            ),
            f"pin_guards.find({establishment_id})": lambda uow: uow.pin_guards.find(
                establishment_id
            ),
        }
        for operation, read in reads.items():
            self._both(operation, read)

    def _contents(self, uow: DeviceUnitOfWork) -> dict[str, object]:
        found = super()._contents(uow)
        for establishment_id in _DEVICE_ESTABLISHMENTS:
            found[f"clinic_logins.list_for_establishment({establishment_id})"] = list(
                uow.clinic_logins.list_for_establishment(establishment_id)
            )
            found[f"member_credentials.list_for_establishment({establishment_id})"] = list(
                uow.member_credentials.list_for_establishment(establishment_id)
            )
            found[f"member_credentials.key_ids({establishment_id})"] = list(
                uow.member_credentials.key_ids(establishment_id)
            )
            found[f"device_sessions.list_for_establishment({establishment_id})"] = list(
                uow.device_sessions.list_for_establishment(establishment_id)
            )
            found[f"pin_guards.find({establishment_id})"] = uow.pin_guards.find(establishment_id)
            for label in _PIN_LABELS:
                found[f"member_credentials.find_by_pin({establishment_id}, {label})"] = (
                    uow.member_credentials.find_by_pin(establishment_id, _pin(label))
                )
        for session_id in _SESSION_IDS:
            found[f"device_sessions.find({session_id})"] = uow.device_sessions.find(session_id)
        for label in _TOKEN_LABELS:
            found[f"device_sessions.find_by_token({label})"] = uow.device_sessions.find_by_token(
                _token(label)
            )
        return found


# -- personal key pairs (D3) and second factors (F5) ----------------------------------------------

_FACTORED = datetime(2027, 5, 3, 8, 15, 45, 654321, tzinfo=UTC)
_FACTOR_THREADS = 8
_TOTP_KEY = "totp-2027-05"
_OLD_TOTP_KEY = "totp-2026-11"
# The DER header of an X25519 SubjectPublicKeyInfo: the key's 32 bytes follow it.
_X25519_SPKI = bytes.fromhex("302a300506032b656e032100")
_RECOVERY_CODES = 10  # as many as a user is given at once

_FactorRecord = _Record | KeyPair | Factor | FactorGuard | FactorRequirement


def _public_key(label: object) -> bytes:
    """A made-up X25519 public key's SPKI DER (44 bytes), one per ``label``."""
    return _X25519_SPKI + hashlib.sha256(f"practiceid-contract:key:{label}".encode()).digest()


def _key_pair(user_id: UserId, label: object = None, **overrides: object) -> KeyPair:
    """``user_id``'s first key pair, generated by them: the key labelled ``label``."""
    public_key = _public_key(user_id if label is None else label)
    values: dict[str, object] = {
        "user_id": user_id,
        "public_key": public_key,
        "fingerprint": hashlib.sha256(public_key).hexdigest(),
        "generated_at": _FACTORED,
        "generated_by": user_id,
    }
    values.update(overrides)
    return KeyPair(**values)  # type: ignore[arg-type]


def _recovery(label: object) -> bytes:
    """A made-up recovery code's digest (32 bytes, as SHA-256 gives), one per ``label``."""
    return hashlib.sha256(f"practiceid-contract:recovery:{label}".encode()).digest()


def _sealed(label: object) -> bytes:
    """A made-up sealed TOTP secret: nonce (12 bytes), ciphertext (20) and tag (16)."""
    return hashlib.sha512(f"practiceid-contract:totp:{label}".encode()).digest()[:48]


def _factor(
    factor_id: str,
    user_id: UserId,
    kind: FactorKind = FactorKind.TOTP,
    **overrides: object,
) -> Factor:
    """``user_id``'s factor ``factor_id`` of ``kind``, holding what that kind holds.

    A TOTP factor is pending (no first code yet); recovery codes are ten; a network factor
    was set by support.
    """
    values: dict[str, object] = {
        "id": FactorId(factor_id),
        "user_id": user_id,
        "kind": kind,
        "name": f"{kind.value} {factor_id}",
        "created_at": _FACTORED,
        "created_by": user_id,
    }
    if kind is FactorKind.TOTP:
        values.update(key_id=_TOTP_KEY, secret=_sealed(factor_id))
    elif kind is FactorKind.RECOVERY_CODES:
        codes = tuple(_recovery(f"{factor_id}-{n}") for n in range(_RECOVERY_CODES))
        values.update(confirmed_at=_FACTORED, digests=codes)
    else:
        values.update(
            confirmed_at=_FACTORED, networks=("192.0.2.0/24",), created_by=UserId("support")
        )
    values.update(overrides)
    return Factor(**values)  # type: ignore[arg-type]


def _requirement(
    establishment_id: EstablishmentId = _EST, *, required: bool = True, **overrides: object
) -> FactorRequirement:
    """``establishment_id`` requiring (or not) a second factor, as its owner set it."""
    values: dict[str, object] = {
        "establishment_id": establishment_id,
        "required": required,
        "changed_at": _FACTORED,
        "changed_by": UserId("owner"),
    }
    values.update(overrides)
    return FactorRequirement(**values)  # type: ignore[arg-type]


def _add_factor_record(uow: FactorUnitOfWork, record: _FactorRecord) -> object:
    """Add ``record`` through the repository of its kind (guards and requirements are saved)."""
    if isinstance(record, KeyPair):
        return uow.key_pairs.add(record)
    if isinstance(record, Factor):
        return uow.factors.add(record)
    if isinstance(record, FactorGuard):
        return uow.factor_guards.save(record)
    if isinstance(record, FactorRequirement):
        return uow.factor_requirements.save(record)
    _add_record(uow, record)
    return None


def _fullest_key_pairs(users: Sequence[UserId]) -> list[KeyPair]:
    """Three users' key pairs: every field set (a later generation), retired, and defaults."""
    confirmed = datetime(2027, 3, 28, 0, 59, 59, 999999, tzinfo=UTC)
    replaced = _public_key("replaced")
    return [
        KeyPair(
            user_id=users[0],
            public_key=_X25519_SPKI + b"\x00" * 32,
            fingerprint=hashlib.sha256(_X25519_SPKI + b"\x00" * 32).hexdigest(),
            generated_at=(confirmed - timedelta(days=400, microseconds=1)).astimezone(_KATHMANDU),
            generated_by=UserId("u-Élodie-𝐄\u0301"),
            algorithm=KeyAlgorithm.X25519,
            status=KeyPairStatus.BACKUP_CONFIRMED,
            confirmed_at=confirmed.astimezone(_NEWFOUNDLAND),
            generation=3,
            version=7,
        ),
        KeyPair(
            user_id=users[1],
            public_key=replaced,
            fingerprint=hashlib.sha256(replaced).hexdigest(),
            generated_at=_FACTORED.astimezone(_BRUSSELS_SUMMER),
            generated_by=UserId("owner"),
            status=KeyPairStatus.RETIRED,
            confirmed_at=_FACTORED + timedelta(microseconds=1),
            generation=2,
            version=1,
        ),
        _key_pair(users[2]),
    ]


def _fullest_factors(user_id: UserId) -> list[Factor]:
    """A user's factors of every kind and state, every field set where it can be.

    A TOTP factor confirmed and used at a step past 2**40, one pending, one with defaults
    only; recovery codes ten, some of odd bytes, and none left; networks as support typed
    them, in their order.
    """
    created = datetime(2027, 3, 28, 0, 59, 59, 999999, tzinfo=UTC)
    return [
        Factor(
            id=FactorId(f"factor-totp-{'x' * 40}"),
            user_id=user_id,
            kind=FactorKind.TOTP,
            name="Téléphone d'Élodie 📱 — \u00e9\u0301",
            created_at=created.astimezone(_KATHMANDU),
            created_by=UserId("u-Élodie-𝐄\u0301"),
            confirmed_at=(created + timedelta(seconds=30)).astimezone(_NEWFOUNDLAND),
            last_used_at=(created + timedelta(days=40, microseconds=1)).astimezone(
                _BRUSSELS_SUMMER
            ),
            key_id="k" * 64,
            secret=bytes(range(256)),
            last_step=2**40 + 1,
            version=5,
        ),
        _factor("factor-pending", user_id, secret=b"\x00" * 48, key_id=_OLD_TOTP_KEY),
        Factor(
            id=FactorId("factor-bare"),
            user_id=user_id,
            kind=FactorKind.TOTP,
            name="",
            created_at=created,
            created_by=user_id,
        ),
        _factor(
            "factor-codes",
            user_id,
            FactorKind.RECOVERY_CODES,
            digests=(*_ODD_DIGESTS, *(_recovery(n) for n in range(_RECOVERY_CODES - 4))),
            created_at=created + timedelta(microseconds=1),
            last_used_at=created + timedelta(hours=1),
            version=2,
        ),
        _factor(
            "factor-codes-spent",
            user_id,
            FactorKind.RECOVERY_CODES,
            digests=(),
            created_at=created.astimezone(_NEWFOUNDLAND),  # the same instant as the first
        ),
        _factor(
            "factor-network",
            user_id,
            FactorKind.NETWORK,
            networks=_NETWORKS,
            created_at=created - timedelta(days=1),
        ),
    ]


def _listed(factors: Sequence[Factor]) -> list[Factor]:
    """``factors`` in the order ``list_for_user`` gives: by creation instant, then id."""
    return sorted(factors, key=lambda f: (f.created_at, f.id))


class FactorRepositoriesContract(_AccessStoreContract):
    """The key pair and second-factor repositories of a factor unit of work (D3, F5).

    Implement ``make_unit_of_work_factory`` returning a factory of
    :class:`~practiceid.ports.FactorUnitOfWork` over one fresh, empty store. The suite
    checks the error contracts of :class:`~practiceid.ports.KeyPairRepository`,
    :class:`~practiceid.ports.FactorRepository`,
    :class:`~practiceid.ports.FactorGuardRepository` and
    :class:`~practiceid.ports.FactorRequirementRepository`: every field round-trips (public
    keys, sealed secrets and digests byte for byte, empty ones and ten digests included;
    networks as given, in order; instants aware, to the microsecond); ``add`` returns the
    value as given and ``update`` and ``save`` the stored one at the next version; refusals
    carry their exact params and leave the unit of work usable; ``remove`` deletes;
    ``list_for_user`` is ordered by creation instant, then id in code point order;
    ``required_among`` names, sorted, those that require a second factor; rollbacks undo
    every write, a removal too; of eight units of work adding one user's first key pair at
    once exactly one commits (the others refused with DuplicateRecord), of eight first wrong
    codes exactly one (the others stale, and none lost when run again), of eight uses of
    one TOTP factor exactly one (a code is never accepted twice); and random operations
    agree with the in-memory store. It stores the users and establishments a record refers
    to before the record, so an adapter may enforce foreign keys.
    """

    def make_unit_of_work_factory(self) -> FactorUnitOfWorkFactory:
        """Return a factory of factor units of work over a fresh, empty store."""
        raise NotImplementedError

    @pytest.fixture
    def uow_factory(self) -> FactorUnitOfWorkFactory:
        """The factory under test, fresh for each test."""
        return self.make_unit_of_work_factory()

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _store(factory: FactorUnitOfWorkFactory, *records: _FactorRecord) -> None:
        """Store ``records``, in order, in one committed unit of work."""
        with factory() as uow:
            for record in records:
                _add_factor_record(uow, record)
            uow.commit()

    def _named(self, factory: FactorUnitOfWorkFactory, *names: str) -> list[User]:
        """Store the practice, :data:`_ANNEX`, :data:`_ZEBRA` and a user ``user-<name>`` each."""
        users = [sample_user(id=UserId(f"user-{name}")) for name in names]
        self._practice(factory, *users)
        self._store(factory, _establishment(_ANNEX), _establishment(_ZEBRA))
        return users

    # -- key pairs (D3) ---------------------------------------------------------------------

    def test_every_key_pair_field_round_trips_through_add_get_and_find(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        users = self._named(uow_factory, "anna", "bert", "chloe")
        key_pairs = _fullest_key_pairs([u.id for u in users])
        with uow_factory() as uow:
            for key_pair in key_pairs:
                assert uow.key_pairs.add(key_pair) is key_pair  # stored as given
            uow.commit()
        with uow_factory() as uow:
            for key_pair in key_pairs:
                _assert_same(uow.key_pairs.get(key_pair.user_id), key_pair, "get")
                _assert_same(uow.key_pairs.find(key_pair.user_id), key_pair, "find")

    def test_key_pair_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        first = _key_pair(anna.id)
        self._store(uow_factory, first)
        later = _FACTORED + timedelta(days=1, microseconds=1)
        with uow_factory() as uow:
            confirmed = uow.key_pairs.update(first.confirm(later.astimezone(_KATHMANDU)))
            uow.commit()
        _assert_same(confirmed, attrs.evolve(first.confirm(later), version=1), "confirmed")
        with uow_factory() as uow:
            _assert_same(uow.key_pairs.get(anna.id), confirmed, "get after confirm")
            retired = uow.key_pairs.update(confirmed.retire())
            replacement = _public_key("second")
            second = uow.key_pairs.update(
                retired.succeed(
                    replacement,
                    hashlib.sha256(replacement).hexdigest(),
                    now=later + timedelta(hours=1),
                    by=UserId("owner"),
                )
            )
            uow.commit()
        with uow_factory() as uow:
            stored = uow.key_pairs.get(anna.id)
        _assert_same(stored, second, "get after succeed")
        assert (retired.status, retired.version) == (KeyPairStatus.RETIRED, 2)
        assert (stored.status, stored.confirmed_at, stored.generation, stored.version) == (
            KeyPairStatus.GENERATED,
            None,
            2,
            3,
        )
        assert stored.public_key == replacement
        assert stored.generated_by == UserId("owner")

    def test_a_second_key_pair_of_a_user_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        first = _key_pair(anna.id)
        self._store(uow_factory, first)
        with uow_factory() as uow:
            for second in (first, _key_pair(anna.id, "other", generation=2)):
                with pytest.raises(DuplicateRecord) as raised:
                    uow.key_pairs.add(second)
                assert _refusal(raised) == (
                    DuplicateRecord,
                    "record.duplicate",
                    {"entity": "key_pair", "id": anna.id, "user_id": anna.id},
                )
            # Within one unit of work too.
            uow.key_pairs.add(_key_pair(bert.id))
            with pytest.raises(DuplicateRecord):
                uow.key_pairs.add(_key_pair(bert.id, "other"))
            uow.commit()
        with uow_factory() as uow:
            assert uow.key_pairs.get(anna.id) == first
            assert uow.key_pairs.get(bert.id) == _key_pair(bert.id)

    def test_unknown_key_pair_is_none_and_get_and_update_raise_key_pair_not_found(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        with uow_factory() as uow:
            assert uow.key_pairs.find(anna.id) is None
            calls: list[Callable[[], object]] = [
                lambda: uow.key_pairs.get(anna.id),
                lambda: uow.key_pairs.update(_key_pair(anna.id)),
                lambda: uow.key_pairs.update(_key_pair(anna.id, version=3)),
            ]
            for call in calls:
                with pytest.raises(KeyPairNotFound) as raised:
                    call()
                assert _refusal(raised) == (
                    KeyPairNotFound,
                    "key_pair.not_found",
                    {"user_id": anna.id},
                )
            for odd in (None, 42, ("user", "anna"), "user-anna\x00"):
                assert uow.key_pairs.find(cast("UserId", odd)) is None
            uow.commit()
        with uow_factory() as uow:
            assert uow.key_pairs.find(anna.id) is None

    def test_stale_key_pair_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        self._store(uow_factory, _key_pair(anna.id))
        with uow_factory() as uow:
            current = uow.key_pairs.update(_key_pair(anna.id).confirm(_FACTORED))
            uow.commit()
        for version in (0, 2, 9):
            with uow_factory() as uow:
                with pytest.raises(StaleRecord) as raised:
                    uow.key_pairs.update(attrs.evolve(current.retire(), version=version))
                uow.commit()
            assert _refusal(raised) == (
                StaleRecord,
                "record.stale",
                {
                    "entity": "key_pair",
                    "id": anna.id,
                    "user_id": anna.id,
                    "expected": version,
                    "stored": 1,
                },
            )
        with uow_factory() as uow:
            assert uow.key_pairs.get(anna.id) == current

    # -- factors (F5) -------------------------------------------------------------------------

    def test_every_factor_field_round_trips_through_add_get_find_and_the_list(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        factors = _fullest_factors(anna.id)
        with uow_factory() as uow:
            for factor in factors:
                assert uow.factors.add(factor) is factor  # stored as given
            uow.commit()
        with uow_factory() as uow:
            for factor in factors:
                _assert_same(uow.factors.get(factor.id), factor, "get")
                _assert_same(uow.factors.find(factor.id), factor, "find")
            _assert_same(list(uow.factors.list_for_user(anna.id)), _listed(factors), "list")

    def test_factor_update_stores_every_field_and_returns_the_next_version(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        totp = _factor("f-totp", anna.id)
        codes = _factor("f-codes", anna.id, FactorKind.RECOVERY_CODES)
        self._store(uow_factory, totp, codes)
        later = (_FACTORED + timedelta(minutes=1, microseconds=1)).astimezone(_NEWFOUNDLAND)
        with uow_factory() as uow:
            confirmed = uow.factors.update(
                attrs.evolve(totp.used(later, step=59_000_000), confirmed_at=later, name="Pixel")
            )
            spent = uow.factors.update(codes.used(later, digest=codes.digests[3]))
            uow.commit()
        assert confirmed.version == spent.version == 1
        assert spent.codes_left == _RECOVERY_CODES - 1
        with uow_factory() as uow:
            _assert_same(uow.factors.get(totp.id), confirmed, "get after update")
            _assert_same(uow.factors.get(codes.id), spent, "get after a code spent")
            # Every field may change: kind, owner, secret, key, lists emptied or filled.
            moved = attrs.evolve(
                confirmed,
                user_id=bert.id,
                kind=FactorKind.NETWORK,
                created_at=_FACTORED.astimezone(_KATHMANDU),
                created_by=UserId("support"),
                confirmed_at=None,
                last_used_at=None,
                key_id=None,
                secret=b"",
                last_step=-1,
                digests=(b"\x00" * 32,),
                networks=("::/0", "10.0.0.7"),
            )
            again = uow.factors.update(moved)
            emptied = uow.factors.update(attrs.evolve(spent, digests=()))
            uow.commit()
        _assert_same(again, attrs.evolve(moved, version=2), "second update")
        with uow_factory() as uow:
            _assert_same(uow.factors.get(totp.id), again, "get after second update")
            _assert_same(uow.factors.get(codes.id), emptied, "get after the codes ran out")
            assert list(uow.factors.list_for_user(anna.id)) == [emptied]
            assert list(uow.factors.list_for_user(bert.id)) == [again]

    def test_a_taken_factor_id_raises_duplicate_record_and_changes_nothing(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        first = _factor("f-1", anna.id)
        self._store(uow_factory, first)
        with uow_factory() as uow:
            taken = (first, _factor("f-1", bert.id, FactorKind.NETWORK))
            for second in taken:
                with pytest.raises(DuplicateRecord) as raised:
                    uow.factors.add(second)
                assert _refusal(raised) == (
                    DuplicateRecord,
                    "record.duplicate",
                    {"entity": "factor", "id": "f-1"},
                )
            uow.factors.add(_factor("f-2", bert.id))
            with pytest.raises(DuplicateRecord):  # within one unit of work too
                uow.factors.add(_factor("f-2", anna.id))
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.factors.list_for_user(anna.id)) == [first]
            assert list(uow.factors.list_for_user(bert.id)) == [_factor("f-2", bert.id)]

    def test_unknown_factor_is_none_and_get_update_and_remove_raise_factor_not_found(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        with uow_factory() as uow:
            assert uow.factors.find(FactorId("f-none")) is None
            calls: list[Callable[[], object]] = [
                lambda: uow.factors.get(FactorId("f-none")),
                lambda: uow.factors.update(_factor("f-none", anna.id)),
                lambda: uow.factors.update(_factor("f-none", anna.id, version=4)),
                lambda: uow.factors.remove(FactorId("f-none")),
            ]
            for call in calls:
                with pytest.raises(FactorNotFound) as raised:
                    call()
                assert _refusal(raised) == (
                    FactorNotFound,
                    "factor.not_found",
                    {"factor_id": "f-none"},
                )
            for odd in (None, 42, ("f", "none"), "f-none\x00"):
                assert uow.factors.find(cast("FactorId", odd)) is None
                assert list(uow.factors.list_for_user(cast("UserId", odd))) == []
                with pytest.raises(FactorNotFound):
                    uow.factors.remove(cast("FactorId", odd))
            assert list(uow.factors.list_for_user(anna.id)) == []
            uow.commit()
        with uow_factory() as uow:
            assert uow.factors.find(FactorId("f-none")) is None

    def test_stale_factor_update_raises_stale_record_and_changes_nothing(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        self._store(uow_factory, _factor("f-1", anna.id))
        with uow_factory() as uow:
            current = uow.factors.update(_factor("f-1", anna.id, confirmed_at=_FACTORED))
            uow.commit()
        for version in (0, 2, 9):
            with uow_factory() as uow:
                with pytest.raises(StaleRecord) as raised:
                    uow.factors.update(
                        attrs.evolve(current.used(_FACTORED, step=7), version=version)
                    )
                uow.commit()
            assert _refusal(raised) == (
                StaleRecord,
                "record.stale",
                {
                    "entity": "factor",
                    "id": "f-1",
                    "factor_id": "f-1",
                    "expected": version,
                    "stored": 1,
                },
            )
        with uow_factory() as uow:
            assert uow.factors.get(FactorId("f-1")) == current

    def test_remove_deletes_the_factor_only_and_frees_its_id(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        kept = _factor("f-kept", anna.id, FactorKind.RECOVERY_CODES)
        removed = _factor("f-removed", anna.id)
        other = _factor("f-other", bert.id)
        self._store(uow_factory, kept, removed, other)
        with uow_factory() as uow:
            uow.factors.remove(removed.id)
            assert uow.factors.find(removed.id) is None
            with pytest.raises(FactorNotFound):  # removed already, within the unit of work
                uow.factors.remove(removed.id)
            uow.commit()
        with uow_factory() as uow:
            assert uow.factors.find(removed.id) is None
            assert list(uow.factors.list_for_user(anna.id)) == [kept]
            assert list(uow.factors.list_for_user(bert.id)) == [other]
            with pytest.raises(FactorNotFound) as raised:
                uow.factors.remove(removed.id)
            assert _refusal(raised) == (
                FactorNotFound,
                "factor.not_found",
                {"factor_id": "f-removed"},
            )
            with pytest.raises(FactorNotFound):
                uow.factors.update(attrs.evolve(removed, name="back"))
            again = _factor("f-removed", bert.id, FactorKind.NETWORK)
            assert uow.factors.add(again) is again  # the id is free again
            uow.commit()
        with uow_factory() as uow:
            assert uow.factors.get(removed.id) == again

    def test_factors_are_listed_by_creation_instant_then_id_in_code_point_order(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        # Three ties at one instant written in three offsets, and ids out of every order.
        same = (_FACTORED, _FACTORED.astimezone(_KATHMANDU), _FACTORED.astimezone(_NEWFOUNDLAND))
        factors = [
            _factor(factor_id, anna.id, created_at=created)
            for factor_id, created in [
                ("f-b", same[0]),
                ("f-Z", same[1]),
                ("f-é", same[2]),
                ("f-a", _FACTORED + timedelta(microseconds=1)),
                ("f-10", _FACTORED - timedelta(microseconds=1)),
                ("f-9", same[0]),
                ("f-0", (_FACTORED + timedelta(days=1)).astimezone(_KATHMANDU)),
            ]
        ]
        others = [_factor(f"f-bert-{n}", bert.id, created_at=same[n]) for n in range(2)]
        self._store(uow_factory, *factors[3:], *others, *factors[:3])
        with uow_factory() as uow:
            listed = [f.id for f in uow.factors.list_for_user(anna.id)]
            assert [f.id for f in uow.factors.list_for_user(bert.id)] == ["f-bert-0", "f-bert-1"]
            pending = _factor("f-pending", anna.id, created_at=_FACTORED)  # pending ones too
            uow.factors.add(pending)
            assert pending.confirmed_at is None
            assert pending.id in [f.id for f in uow.factors.list_for_user(anna.id)]
        assert listed == ["f-10", "f-9", "f-Z", "f-b", "f-é", "f-a", "f-0"]

    def test_secrets_public_keys_and_digests_round_trip_byte_for_byte(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        public_keys = (b"", b"\x00" * 44, bytes(range(256)), _public_key("odd") + b"\xff")
        users = self._named(uow_factory, *(f"key-{n}" for n in range(len(public_keys))))
        secrets = (b"", b"\x00", b"\x00" * 48, bytes(range(256)), b"\xff" * 4096)
        digest_sets: tuple[tuple[bytes, ...], ...] = (
            (),
            (b"\x00" * 32,),
            tuple(_recovery(n) for n in range(_RECOVERY_CODES)),
            _ODD_DIGESTS,
            (_ODD_DIGESTS[0], _ODD_DIGESTS[0]),  # kept as given, twice
        )
        owner = users[0].id
        key_pairs = [
            _key_pair(u.id, public_key=key, fingerprint=hashlib.sha256(key).hexdigest())
            for u, key in zip(users, public_keys, strict=True)
        ]
        factors = [
            _factor(f"f-secret-{n}", owner, secret=secret) for n, secret in enumerate(secrets)
        ] + [
            _factor(f"f-codes-{n}", owner, FactorKind.RECOVERY_CODES, digests=digests)
            for n, digests in enumerate(digest_sets)
        ]
        self._store(uow_factory, *key_pairs, *factors)
        with uow_factory() as uow:
            for key_pair in key_pairs:
                stored = uow.key_pairs.get(key_pair.user_id)
                _assert_same(stored, key_pair, f"key pair {key_pair.public_key!r}")
                assert type(stored.public_key) is bytes
            for factor in factors:
                found = uow.factors.get(factor.id)
                _assert_same(found, factor, f"factor {factor.id}")
                assert type(found.secret) is bytes
                assert type(found.digests) is tuple
                assert all(type(digest) is bytes for digest in found.digests)
            _assert_same(list(uow.factors.list_for_user(owner)), _listed(factors), "list")
            ten = uow.factors.get(FactorId("f-codes-2"))
        assert ten.codes_left == _RECOVERY_CODES

    def test_networks_round_trip_as_given_in_their_order(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        choices: tuple[tuple[str, ...], ...] = (
            (),
            ("10.0.0.7",),
            _NETWORKS,
            tuple(reversed(_NETWORKS)),
            ("2001:db8::/32", "2001:DB8::/32", "192.0.2.0/24", "192.0.2.0/24"),
            ("fe80::1%eth0/128", "0.0.0.0/0", "::/0", '"quoted"\\, [] {}'),
        )
        factors = [
            _factor(f"f-net-{n}", anna.id, FactorKind.NETWORK, networks=networks)
            for n, networks in enumerate(choices)
        ]
        self._store(uow_factory, *factors)
        with uow_factory() as uow:
            for factor in factors:
                _assert_same(uow.factors.get(factor.id).networks, factor.networks, factor.id)
            updated = uow.factors.update(attrs.evolve(factors[0], networks=_NETWORKS[::2]))
            uow.commit()
        with uow_factory() as uow:
            assert uow.factors.get(factors[0].id).networks == updated.networks == _NETWORKS[::2]

    def test_instants_round_trip_aware_to_the_microsecond_whatever_their_offset(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        instants = [
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=_KATHMANDU),
            datetime(2027, 3, 28, 0, 59, 59, 1, tzinfo=UTC).astimezone(_BRUSSELS_SUMMER),
            (_FACTORED + timedelta(microseconds=1)).astimezone(_NEWFOUNDLAND),
            datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ]
        first, second, third, fourth = instants
        key_pair = _key_pair(anna.id, generated_at=first, confirmed_at=second)
        factor = _factor(
            "f-times", anna.id, created_at=second, confirmed_at=third, last_used_at=fourth
        )
        guard = FactorGuard(anna.id, tuple(instants))
        requirement = _requirement(changed_at=third)
        with uow_factory() as uow:
            uow.key_pairs.add(key_pair)
            uow.factors.add(factor)
            stored_guard = uow.factor_guards.save(guard)
            stored_requirement = uow.factor_requirements.save(requirement)
            uow.commit()
        with uow_factory() as uow:
            read = [
                uow.key_pairs.get(anna.id),
                uow.factors.get(factor.id),
                uow.factor_guards.find(anna.id),
                uow.factor_requirements.find(_EST),
            ]
        expected = [key_pair, factor, stored_guard, stored_requirement]
        for found, wanted in zip(read, expected, strict=True):
            _assert_same(found, wanted, type(wanted).__name__)  # aware, the same instants
        assert stored_guard == attrs.evolve(guard, version=1)
        assert stored_requirement == attrs.evolve(requirement, version=1)

    # -- guards and requirements (F5) -------------------------------------------------------

    def test_a_factor_guard_is_stored_new_at_version_zero_then_replaced_keeping_its_misses(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert, chloe = self._named(uow_factory, "anna", "bert", "chloe")
        misses = (
            _FACTORED.astimezone(_NEWFOUNDLAND),
            (_FACTORED + timedelta(microseconds=1)).astimezone(_KATHMANDU),
            _FACTORED + timedelta(minutes=14, seconds=59, microseconds=999999),
        )
        with uow_factory() as uow:
            assert uow.factor_guards.find(anna.id) is None
            first = uow.factor_guards.save(FactorGuard(anna.id, misses[:1]))
            uow.commit()
        _assert_same(first, FactorGuard(anna.id, misses[:1], version=1), "first save")
        with uow_factory() as uow:
            _assert_same(uow.factor_guards.find(anna.id), first, "find")
            second = uow.factor_guards.save(attrs.evolve(first, misses=misses))
            empty = uow.factor_guards.save(FactorGuard(bert.id))  # no misses: an empty budget
            uow.commit()
        with uow_factory() as uow:
            stored = uow.factor_guards.find(anna.id)
            _assert_same(stored, FactorGuard(anna.id, misses, version=2), "find after save")
            assert stored == second
            _assert_same(uow.factor_guards.find(bert.id), empty, "empty guard")
            assert uow.factor_guards.find(chloe.id) is None
            for odd in (None, 42, ("user", "anna"), "user-anna\x00"):
                assert uow.factor_guards.find(cast("UserId", odd)) is None
            emptied = uow.factor_guards.save(attrs.evolve(second, misses=()))
            uow.commit()
        with uow_factory() as uow:
            _assert_same(uow.factor_guards.find(anna.id), emptied, "emptied")
        assert emptied.version == 3

    def test_a_stale_factor_guard_is_refused_and_changes_nothing(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        with uow_factory() as uow:
            stored = uow.factor_guards.save(FactorGuard(anna.id, (_FACTORED,)))
            uow.commit()
        attempts = [
            (anna.id, 0, 1),  # a second "first" miss: someone got there first
            (anna.id, 2, 1),
            (anna.id, 7, 1),
            (bert.id, 1, None),  # a guard said to be stored that is not
        ]
        with uow_factory() as uow:
            for user_id, version, found in attempts:
                guard = FactorGuard(user_id, (_FACTORED + timedelta(seconds=1),), version=version)
                with pytest.raises(StaleRecord) as raised:
                    uow.factor_guards.save(guard)
                assert _refusal(raised) == (
                    StaleRecord,
                    "record.stale",
                    {"entity": "factor_guard", "id": user_id, "expected": version, "stored": found},
                )
            uow.commit()
        with uow_factory() as uow:
            assert uow.factor_guards.find(anna.id) == stored
            assert uow.factor_guards.find(bert.id) is None

    def test_a_factor_requirement_is_stored_new_at_version_zero_then_replaced(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)
        with uow_factory() as uow:
            assert uow.factor_requirements.find(_EST) is None
            first = uow.factor_requirements.save(_requirement())
            uow.commit()
        _assert_same(first, _requirement(version=1), "first save")
        later = (_FACTORED + timedelta(days=3, microseconds=3)).astimezone(_KATHMANDU)
        with uow_factory() as uow:
            _assert_same(uow.factor_requirements.find(_EST), first, "find")
            lifted = uow.factor_requirements.save(
                attrs.evolve(first, required=False, changed_at=later, changed_by=UserId("u-é"))
            )
            annex = uow.factor_requirements.save(_requirement(_ANNEX, required=False))
            uow.commit()
        with uow_factory() as uow:
            _assert_same(
                uow.factor_requirements.find(_EST),
                _requirement(required=False, changed_at=later, changed_by="u-é", version=2),
                "find after save",
            )
            assert uow.factor_requirements.find(_EST) == lifted
            _assert_same(uow.factor_requirements.find(_ANNEX), annex, "annex")
            assert uow.factor_requirements.find(_ZEBRA) is None
            for odd in (None, 42, ("est", "x"), "est-tilleuls\x00"):
                assert uow.factor_requirements.find(cast("EstablishmentId", odd)) is None

    def test_a_stale_factor_requirement_is_refused_and_changes_nothing(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)
        with uow_factory() as uow:
            stored = uow.factor_requirements.save(_requirement())
            uow.commit()
        attempts = [(_EST, 0, 1), (_EST, 2, 1), (_EST, 7, 1), (_ANNEX, 1, None)]
        with uow_factory() as uow:
            for establishment_id, version, found in attempts:
                with pytest.raises(StaleRecord) as raised:
                    uow.factor_requirements.save(
                        _requirement(establishment_id, required=False, version=version)
                    )
                assert _refusal(raised) == (
                    StaleRecord,
                    "record.stale",
                    {
                        "entity": "factor_requirement",
                        "id": establishment_id,
                        "expected": version,
                        "stored": found,
                    },
                )
            uow.commit()
        with uow_factory() as uow:
            assert uow.factor_requirements.find(_EST) == stored
            assert uow.factor_requirements.find(_ANNEX) is None

    def test_required_among_names_sorted_the_establishments_that_require_a_second_factor(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        self._named(uow_factory)
        lifted = EstablishmentId("est-lifted")
        never = EstablishmentId("est-never")
        self._store(uow_factory, _establishment(lifted), _establishment(never))
        self._store(
            uow_factory,
            _requirement(_EST),
            _requirement(_ZEBRA),
            _requirement(_ANNEX),
            _requirement(lifted),
        )
        with uow_factory() as uow:
            current = uow.factor_requirements.find(lifted)
            assert current is not None
            uow.factor_requirements.save(attrs.evolve(current, required=False))
            uow.commit()
        with uow_factory() as uow:
            required = uow.factor_requirements.required_among
            everything = [_EST, lifted, _ANNEX, never, _ZEBRA, EstablishmentId("est-unknown")]
            assert list(required(everything)) == [_ZEBRA, _ANNEX, _EST]  # code point order
            assert list(required([_EST, _EST, _ZEBRA, _EST])) == [_ZEBRA, _EST]
            assert list(required([lifted, never])) == []
            assert list(required([])) == []
            assert list(required([_ANNEX])) == [_ANNEX]
            odd = cast("list[EstablishmentId]", [None, "est-tilleuls\x00", _ANNEX])
            assert list(required(odd)) == [_ANNEX]

    # -- transactions -----------------------------------------------------------------------

    @staticmethod
    def _factor_writes(uow: FactorUnitOfWork, user_id: UserId) -> None:
        """One write of each kind: about ``user_id`` and :data:`_EST`."""
        uow.key_pairs.add(_key_pair(user_id))
        uow.factors.add(_factor("f-written", user_id))
        uow.factors.add(_factor("f-codes", user_id, FactorKind.RECOVERY_CODES))
        uow.factor_guards.save(FactorGuard(user_id, (_FACTORED,)))
        uow.factor_requirements.save(_requirement())

    @staticmethod
    def _assert_no_factor_record(factory: FactorUnitOfWorkFactory, user_id: UserId) -> None:
        with factory() as uow:
            assert uow.key_pairs.find(user_id) is None
            assert uow.factors.find(FactorId("f-written")) is None
            assert uow.factors.find(FactorId("f-codes")) is None
            assert list(uow.factors.list_for_user(user_id)) == []
            assert uow.factor_guards.find(user_id) is None
            assert uow.factor_requirements.find(_EST) is None
            assert list(uow.factor_requirements.required_among([_EST])) == []

    def test_leaving_without_commit_or_by_an_exception_discards_factor_writes(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        class Boom(Exception):
            pass

        (anna,) = self._named(uow_factory, "anna")
        with uow_factory() as uow:
            self._factor_writes(uow, anna.id)
        self._assert_no_factor_record(uow_factory, anna.id)
        with pytest.raises(Boom), uow_factory() as uow:
            self._factor_writes(uow, anna.id)
            raise Boom
        self._assert_no_factor_record(uow_factory, anna.id)
        with uow_factory() as uow:  # every key was free again
            self._factor_writes(uow, anna.id)
            uow.commit()
        with uow_factory() as uow:
            assert uow.key_pairs.find(anna.id) == _key_pair(anna.id)
            assert len(uow.factors.list_for_user(anna.id)) == 2
            assert list(uow.factor_requirements.required_among([_EST])) == [_EST]

    def test_rollback_discards_factor_changes_made_since_the_last_commit(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        with uow_factory() as uow:
            self._factor_writes(uow, anna.id)
            uow.commit()
            key_pair = uow.key_pairs.get(anna.id)
            totp = uow.factors.get(FactorId("f-written"))
            codes = uow.factors.get(FactorId("f-codes"))
            guard = uow.factor_guards.find(anna.id)
            requirement = uow.factor_requirements.find(_EST)
            assert guard is not None
            assert requirement is not None
            uow.key_pairs.update(key_pair.confirm(_FACTORED))
            uow.key_pairs.add(_key_pair(bert.id))
            uow.factors.update(totp.used(_FACTORED, step=42))
            uow.factors.remove(codes.id)
            uow.factors.add(_factor("f-rolled-back", bert.id))
            uow.factor_guards.save(attrs.evolve(guard, misses=()))
            uow.factor_guards.save(FactorGuard(bert.id, (_FACTORED,)))
            uow.factor_requirements.save(attrs.evolve(requirement, required=False))
            uow.factor_requirements.save(_requirement(_ANNEX))
            uow.rollback()
            uow.commit()
        with uow_factory() as uow:
            assert uow.key_pairs.get(anna.id) == key_pair
            assert uow.key_pairs.find(bert.id) is None
            assert list(uow.factors.list_for_user(anna.id)) == _listed([totp, codes])
            _assert_same(uow.factors.get(codes.id), codes, "removed, then rolled back")
            assert list(uow.factors.list_for_user(bert.id)) == []
            assert uow.factor_guards.find(anna.id) == guard
            assert uow.factor_guards.find(bert.id) is None
            assert uow.factor_requirements.find(_EST) == requirement
            assert uow.factor_requirements.find(_ANNEX) is None
            assert list(uow.factor_requirements.required_among([_EST, _ANNEX])) == [_EST]

    def test_refused_factor_writes_leave_the_unit_of_work_usable(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        anna, bert = self._named(uow_factory, "anna", "bert")
        with uow_factory() as uow:
            self._factor_writes(uow, anna.id)
            uow.commit()
        with uow_factory() as uow:
            refusals: list[tuple[type[PracticeIdError], Callable[[], object]]] = [
                (DuplicateRecord, lambda: uow.key_pairs.add(_key_pair(anna.id, "again"))),
                (KeyPairNotFound, lambda: uow.key_pairs.update(_key_pair(bert.id))),
                (StaleRecord, lambda: uow.key_pairs.update(_key_pair(anna.id, version=5))),
                (DuplicateRecord, lambda: uow.factors.add(_factor("f-written", bert.id))),
                (FactorNotFound, lambda: uow.factors.update(_factor("f-none", anna.id))),
                (StaleRecord, lambda: uow.factors.update(_factor("f-written", anna.id, version=5))),
                (FactorNotFound, lambda: uow.factors.remove(FactorId("f-none"))),
                (StaleRecord, lambda: uow.factor_guards.save(FactorGuard(anna.id))),
                (StaleRecord, lambda: uow.factor_requirements.save(_requirement())),
            ]
            for refused, call in refusals:
                with pytest.raises(refused):
                    call()
            added = uow.key_pairs.add(_key_pair(bert.id))
            factor = uow.factors.add(_factor("f-after", bert.id))
            uow.factors.remove(FactorId("f-codes"))
            guard = uow.factor_guards.save(FactorGuard(bert.id, (_FACTORED,)))
            requirement = uow.factor_requirements.save(_requirement(_ANNEX))
            uow.commit()
        with uow_factory() as uow:
            assert uow.key_pairs.find(bert.id) == added
            assert list(uow.factors.list_for_user(bert.id)) == [factor]
            assert uow.factors.find(FactorId("f-codes")) is None
            assert uow.factor_guards.find(bert.id) == guard
            assert uow.factor_requirements.find(_ANNEX) == requirement

    def test_factor_repositories_outside_their_unit_of_work_raise(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        uow = uow_factory()
        factor = _factor("f-written", anna.id)
        calls: list[Callable[[], object]] = [
            lambda: uow.key_pairs.add(_key_pair(anna.id)),
            lambda: uow.key_pairs.get(anna.id),
            lambda: uow.key_pairs.find(anna.id),
            lambda: uow.key_pairs.update(_key_pair(anna.id)),
            lambda: uow.factors.add(factor),
            lambda: uow.factors.get(factor.id),
            lambda: uow.factors.find(factor.id),
            lambda: uow.factors.update(factor),
            lambda: uow.factors.remove(factor.id),
            lambda: uow.factors.list_for_user(anna.id),
            lambda: uow.factor_guards.find(anna.id),
            lambda: uow.factor_guards.save(FactorGuard(anna.id)),
            lambda: uow.factor_requirements.find(_EST),
            lambda: uow.factor_requirements.save(_requirement()),
            lambda: uow.factor_requirements.required_among([_EST]),
            lambda: uow.factor_requirements.required_among([]),
        ]
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        with uow:
            pass
        for call in calls:
            with pytest.raises(UnitOfWorkError):
                call()
        self._assert_no_factor_record(uow_factory, anna.id)

    # -- against the in-memory store -------------------------------------------------------

    def test_agrees_with_the_in_memory_store_under_random_operations(self) -> None:
        _run_against_memory(_FactorAgreesWithMemory, self.make_unit_of_work_factory)

    # -- concurrency (D3: one key per user; F5: no wrong code lost, no code used twice) -----

    def test_eight_concurrent_first_key_pairs_of_one_user_have_exactly_one_winner(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")

        def generate(i: int, barrier: threading.Barrier) -> object:
            key_pair = _key_pair(anna.id, f"race-{i}")
            with uow_factory() as uow:
                assert uow.key_pairs.find(anna.id) is None
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.key_pairs.add(key_pair)
                uow.commit()
            return stored

        results = _race_in_threads(generate, _FACTOR_THREADS)
        winners = [r for r in results if isinstance(r, KeyPair)]
        refusals = [r for r in results if isinstance(r, DuplicateRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _FACTOR_THREADS - 1, results
        assert all(
            dict(r.params) == {"entity": "key_pair", "id": anna.id, "user_id": anna.id}
            for r in refusals
        ), refusals
        with uow_factory() as uow:
            assert uow.key_pairs.get(anna.id) == winners[0]

    def test_eight_concurrent_first_wrong_codes_have_one_winner_and_retried_ones_are_all_kept(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")

        def first_miss(i: int, barrier: threading.Barrier) -> object:
            with uow_factory() as uow:
                assert uow.factor_guards.find(anna.id) is None
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.factor_guards.save(
                    FactorGuard(anna.id, (_FACTORED + timedelta(seconds=i),))
                )
                uow.commit()
            return stored

        results = _race_in_threads(first_miss, _FACTOR_THREADS)
        winners = [r for r in results if isinstance(r, FactorGuard)]
        refusals = [r for r in results if isinstance(r, StaleRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _FACTOR_THREADS - 1, results
        assert all(
            dict(r.params) == {"entity": "factor_guard", "id": anna.id, "expected": 0, "stored": 1}
            for r in refusals
        ), refusals
        with uow_factory() as uow:
            assert uow.factor_guards.find(anna.id) == winners[0]

        def retried_miss(i: int, barrier: threading.Barrier) -> object:
            # The service's pattern: read, add the miss, save; run again when refused.
            miss = _FACTORED + timedelta(minutes=1, microseconds=i)
            barrier.wait()
            for _ in range(500):
                try:
                    with uow_factory() as uow:
                        guard = uow.factor_guards.find(anna.id) or FactorGuard(anna.id)
                        saved = uow.factor_guards.save(
                            attrs.evolve(guard, misses=(*guard.misses, miss))
                        )
                        uow.commit()
                except StaleRecord:
                    continue
                return saved
            raise AssertionError("a wrong code was never saved")  # pragma: no cover

        results = _race_in_threads(retried_miss, _FACTOR_THREADS)
        assert all(isinstance(r, FactorGuard) for r in results), results
        with uow_factory() as uow:
            stored = uow.factor_guards.find(anna.id)
        assert stored is not None
        assert stored.version == 1 + _FACTOR_THREADS
        assert sorted(stored.misses) == sorted(
            [
                *winners[0].misses,
                *(_FACTORED + timedelta(minutes=1, microseconds=i) for i in range(_FACTOR_THREADS)),
            ]
        )

    def test_eight_concurrent_uses_of_one_totp_factor_have_exactly_one_winner(
        self, uow_factory: FactorUnitOfWorkFactory
    ) -> None:
        (anna,) = self._named(uow_factory, "anna")
        self._store(uow_factory, _factor("f-totp", anna.id, confirmed_at=_FACTORED))

        def use(i: int, barrier: threading.Barrier) -> object:
            with uow_factory() as uow:
                read = uow.factors.get(FactorId("f-totp"))
            barrier.wait()
            with uow_factory() as uow:
                stored = uow.factors.update(read.used(_FACTORED, step=1000 + i))
                uow.commit()
            return stored

        results = _race_in_threads(use, _FACTOR_THREADS)
        winners = [r for r in results if isinstance(r, Factor)]
        refusals = [r for r in results if isinstance(r, StaleRecord)]
        assert len(winners) == 1, results
        assert len(refusals) == _FACTOR_THREADS - 1, results
        assert winners[0].version == 1
        with uow_factory() as uow:
            assert uow.factors.get(FactorId("f-totp")) == winners[0]


# The pools of the factor machine: few values, so that collisions and ties are common.
_FACTOR_ESTABLISHMENTS = (_ESTABLISHMENT_IDS[0], _ESTABLISHMENT_IDS[2])
_FACTOR_IDS = tuple(FactorId(f"f-{name}") for name in ("a", "B", "c", "é"))
_KEY_LABELS = ("k1", "k2", "k3")
# Two offsets of one instant: ties in the list's order are broken by the id.
_FACTOR_TIMES = (
    _FACTORED,
    _FACTORED.astimezone(_KATHMANDU),
    (_FACTORED + timedelta(microseconds=1)).astimezone(_NEWFOUNDLAND),
    _FACTORED + timedelta(minutes=1),
)
_FACTOR_NAMES = ("Téléphone", "YubiKey 5 📱", "")


class _FactorAgreesWithMemory(_AgreesWithMemory[FactorUnitOfWork]):
    """Users, key pairs, factors, guards and requirements against the in-memory store's.

    Two establishments; key pairs, factors and guards point at stored users. Key pairs are
    confirmed, retired and replaced; factors of every kind are renamed, confirmed, used
    (a step, a recovery code), moved to other networks and removed; guards and requirements
    are saved at the version read or a stale one.
    """

    def __init__(self) -> None:
        super().__init__()
        memory: FactorUnitOfWorkFactory = InMemoryStore().unit_of_work  # checked by mypy
        self.reference_factory = memory

    def _add(self, record: _FactorRecord) -> None:
        self._both(f"add({record!r})", lambda uow: _add_factor_record(uow, record))

    def _reference(self) -> FactorUnitOfWork:
        return self._pair()[1]

    def _key_pair_users(self) -> list[UserId]:
        reference = self._reference()
        return [u for u in self._user_ids() if reference.key_pairs.find(u) is not None]

    def _factor_ids(self) -> list[FactorId]:
        reference = self._reference()
        return [f for f in _FACTOR_IDS if reference.factors.find(f) is not None]

    @rule(operation=st.deferred(lambda: _operations(_FactorAgreesWithMemory)))
    def step(self, operation: tuple[str, dict[str, Any]]) -> None:
        self._run(operation)

    @initialize(seeded=st.sampled_from((False, True, True, True)))
    def seed(self, *, seeded: bool) -> None:
        """Two establishments; sometimes users, a key pair, factors, a guard, a requirement."""
        organisation = Organisation(
            id=_ORGANISATION_IDS[0], name="Groupe des Tilleuls", owners=(), created_at=_OPENED
        )
        self._add(organisation)
        for establishment_id in _FACTOR_ESTABLISHMENTS:
            self._add(_establishment(establishment_id, organisation_id=organisation.id))
        if seeded:
            anna, bert, _, _ = _USER_IDS
            for user_id in _USER_IDS:
                self._add(sample_user(id=user_id))
            self._add(_key_pair(anna, _KEY_LABELS[0]))
            self._add(_factor(_FACTOR_IDS[0], anna, confirmed_at=_FACTOR_TIMES[0]))
            self._add(
                _factor(
                    _FACTOR_IDS[1], anna, FactorKind.RECOVERY_CODES, created_at=_FACTOR_TIMES[1]
                )
            )
            self._add(_factor(_FACTOR_IDS[2], bert, FactorKind.NETWORK))
            self._add(FactorGuard(anna, _FACTOR_TIMES[:2]))
            self._add(_requirement(_FACTOR_ESTABLISHMENTS[0]))
        self.finish(how="commit and leave")

    # -- key pairs ---------------------------------------------------------------------------

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        label=st.sampled_from(_KEY_LABELS),
        any_record=_ANY_RECORD,
    )
    def add_key_pair(self, *, user_id: UserId, label: str, any_record: bool) -> None:
        chosen = _pick(
            user_id, self._user_ids(), taken=self._key_pair_users(), any_record=any_record
        )
        if chosen is None:
            return
        self._add(_key_pair(chosen, label))

    @_operation(
        weight=2,
        user_id=st.sampled_from(_USER_IDS),
        change=st.sampled_from(("confirm", "retire", "succeed")),
        label=st.sampled_from(_KEY_LABELS),
        when=st.sampled_from(_FACTOR_TIMES),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_key_pair(
        self,
        *,
        user_id: UserId,
        change: str,
        label: str,
        when: datetime,
        shift: int,
        any_record: bool,
    ) -> None:
        user_id = _target(user_id, self._key_pair_users(), any_record=any_record)
        current = self._reference().key_pairs.find(user_id) or _key_pair(user_id)  # unknown
        if change == "confirm":
            changed = current.confirm(when)
        elif change == "retire":
            changed = current.retire()
        else:
            replacement = _public_key(label)
            changed = current.succeed(
                replacement, hashlib.sha256(replacement).hexdigest(), now=when, by=_USER_IDS[0]
            )
        changed = attrs.evolve(changed, version=_shifted(current.version, shift))
        self._both(f"key_pairs.update({changed!r})", lambda uow: uow.key_pairs.update(changed))

    # -- factors ------------------------------------------------------------------------------

    @_operation(
        weight=2,
        factor_id=st.sampled_from(_FACTOR_IDS),
        user_id=st.sampled_from(_USER_IDS),
        kind=st.sampled_from(FactorKind),
        when=st.sampled_from(_FACTOR_TIMES),
        any_record=_ANY_RECORD,
    )
    def add_factor(
        self,
        *,
        factor_id: FactorId,
        user_id: UserId,
        kind: FactorKind,
        when: datetime,
        any_record: bool,
    ) -> None:
        owner = _pick(user_id, self._user_ids())
        if owner is None:
            return
        factor_id = _free(factor_id, self._factor_ids(), _FACTOR_IDS, any_record=any_record)
        self._add(_factor(factor_id, owner, kind, created_at=when))

    @_operation(
        weight=3,
        factor_id=st.sampled_from(_FACTOR_IDS),
        change=st.sampled_from(("rename", "confirm", "step", "code", "networks")),
        name=st.sampled_from(_FACTOR_NAMES),
        step=st.integers(-1, 3),
        code=st.integers(0, _RECOVERY_CODES),
        networks=st.sampled_from(_NETWORK_CHOICES),
        when=st.sampled_from(_FACTOR_TIMES),
        shift=_VERSION_SHIFTS,
        any_record=_ANY_RECORD,
    )
    def update_factor(
        self,
        *,
        factor_id: FactorId,
        change: str,
        name: str,
        step: int,
        code: int,
        networks: tuple[str, ...],
        when: datetime,
        shift: int,
        any_record: bool,
    ) -> None:
        factor_id = _target(factor_id, self._factor_ids(), any_record=any_record)
        current = self._reference().factors.find(factor_id)
        current = current or _factor(factor_id, _USER_IDS[0])  # unknown: refused
        if change == "rename":
            changed = attrs.evolve(current, name=name)
        elif change == "confirm":
            changed = attrs.evolve(current, confirmed_at=when)
        elif change == "step":
            changed = current.used(when, step=step)
        elif change == "code":
            spent = current.digests[code] if code < len(current.digests) else _recovery("none")
            changed = current.used(when, digest=spent)
        else:
            changed = attrs.evolve(current, networks=networks)
        changed = attrs.evolve(changed, version=_shifted(current.version, shift))
        self._both(
            f"factors.update({changed!r}, digests={changed.digests!r})",
            lambda uow: uow.factors.update(changed),
        )

    @_operation(factor_id=st.sampled_from(_FACTOR_IDS), any_record=_ANY_RECORD)
    def remove_factor(self, *, factor_id: FactorId, any_record: bool) -> None:
        factor_id = _target(factor_id, self._factor_ids(), any_record=any_record)
        self._both(f"factors.remove({factor_id})", lambda uow: uow.factors.remove(factor_id))

    # -- guards and requirements ---------------------------------------------------------------

    @_operation(
        weight=2,
        user_id=st.sampled_from(_USER_IDS),
        when=st.sampled_from(_FACTOR_TIMES),
        forget=st.booleans(),
        shift=_VERSION_SHIFTS,
    )
    def save_factor_guard(
        self, *, user_id: UserId, when: datetime, forget: bool, shift: int
    ) -> None:
        owner = _pick(user_id, self._user_ids())
        if owner is None:
            return
        current = self._reference().factor_guards.find(owner) or FactorGuard(owner)
        misses = (*current.misses[1:], when) if forget else (*current.misses, when)
        changed = attrs.evolve(current, misses=misses, version=_shifted(current.version, shift))
        self._both(f"factor_guards.save({changed!r})", lambda uow: uow.factor_guards.save(changed))

    @_operation(
        establishment_id=st.sampled_from(_FACTOR_ESTABLISHMENTS),
        required=st.booleans(),
        when=st.sampled_from(_FACTOR_TIMES),
        shift=_VERSION_SHIFTS,
    )
    def save_requirement(
        self, *, establishment_id: EstablishmentId, required: bool, when: datetime, shift: int
    ) -> None:
        reference = self._reference()
        current = reference.factor_requirements.find(establishment_id)
        current = current or _requirement(establishment_id)
        changed = attrs.evolve(
            current,
            required=required,
            changed_at=when,
            version=_shifted(current.version, shift),
        )
        self._both(
            f"factor_requirements.save({changed!r})",
            lambda uow: uow.factor_requirements.save(changed),
        )

    # -- reads ----------------------------------------------------------------------------------

    @_operation(
        user_id=st.sampled_from(_USER_IDS),
        factor_id=st.sampled_from(_FACTOR_IDS),
        establishment_ids=st.lists(st.sampled_from(_ESTABLISHMENT_IDS), max_size=4),
    )
    def read_factors(
        self,
        *,
        user_id: UserId,
        factor_id: FactorId,
        establishment_ids: list[EstablishmentId],
    ) -> None:
        reads: dict[str, Callable[[FactorUnitOfWork], object]] = {
            f"key_pairs.get({user_id})": lambda uow: uow.key_pairs.get(user_id),
            f"key_pairs.find({user_id})": lambda uow: uow.key_pairs.find(user_id),
            f"factors.get({factor_id})": lambda uow: uow.factors.get(factor_id),
            f"factors.find({factor_id})": lambda uow: uow.factors.find(factor_id),
            f"factors.list_for_user({user_id})": (
                lambda uow: list(uow.factors.list_for_user(user_id))
            ),
            f"factor_guards.find({user_id})": lambda uow: uow.factor_guards.find(user_id),
            f"factor_requirements.required_among({establishment_ids})": (
                lambda uow: list(uow.factor_requirements.required_among(establishment_ids))
            ),
        }
        for operation, read in reads.items():
            self._both(operation, read)

    def _contents(self, uow: FactorUnitOfWork) -> dict[str, object]:
        found = super()._contents(uow)
        for user_id in _USER_IDS:
            found[f"key_pairs.find({user_id})"] = uow.key_pairs.find(user_id)
            found[f"factors.list_for_user({user_id})"] = list(uow.factors.list_for_user(user_id))
            found[f"factor_guards.find({user_id})"] = uow.factor_guards.find(user_id)
        for factor_id in _FACTOR_IDS:
            found[f"factors.find({factor_id})"] = uow.factors.find(factor_id)
        for establishment_id in _ESTABLISHMENT_IDS:
            found[f"factor_requirements.find({establishment_id})"] = uow.factor_requirements.find(
                establishment_id
            )
        found["factor_requirements.required_among(all)"] = list(
            uow.factor_requirements.required_among(_ESTABLISHMENT_IDS)
        )
        return found
