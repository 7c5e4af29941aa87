"""In-memory adapters: a thread-safe store for demos, tests and small embedded uses.

Transactions are serialized: a unit of work holds the store's lock from ``__enter__`` to
``__exit__``, so it sees no one else's uncommitted changes and no one sees its own
(serializable isolation). Keep units of work short: hash passwords *before* entering one, as
:class:`~practiceid.AccountService` does. Changes are applied to the store as they are made and
undone on rollback, so a refused ``add`` or ``update`` leaves everything as it was.

>>> from practiceid.testing import sample_user
>>> store = InMemoryStore()
>>> with store.unit_of_work() as uow:
...     uow.users.add(sample_user())
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     len(uow.users.list())
1
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType, TracebackType
from typing import Protocol, Self, TypeVar

import attrs

from practiceid.audit import AuditEvent, AuditRecord, ChainHead, audit_key, chain_of, seal
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
    EstablishmentNotFound,
    FactorNotFound,
    KeyPairNotFound,
    LicenseNotFound,
    MembershipNotFound,
    MessageNotFound,
    OnboardingNotFound,
    OrganisationNotFound,
    PermissionDenied,
    PracticeIdError,
    PractitionerNotFound,
    StaleRecord,
    StaleUser,
    UnitOfWorkError,
    UserNotFound,
)
from practiceid.establishment_profiles import EstablishmentProfile
from practiceid.establishments import (
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
)
from practiceid.factors import Factor, FactorGuard, FactorId, FactorRequirement
from practiceid.invitations import Onboarding, TermsOfUse
from practiceid.keypairs import KeyPair
from practiceid.licenses import License, LicenseStatus
from practiceid.memberships import Membership, MembershipStatus
from practiceid.outbox import Message, MessageId, MessageStatus
from practiceid.policies import initials as initials_policy
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.ports.audit import KeyProvider
from practiceid.ports.authorization import Permission
from practiceid.practitioners import Practitioner
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "InMemoryAuditLog",
    "InMemoryClinicLoginRepository",
    "InMemoryDeviceSessionRepository",
    "InMemoryEstablishmentProfileRepository",
    "InMemoryEstablishmentRepository",
    "InMemoryFactorGuardRepository",
    "InMemoryFactorRepository",
    "InMemoryFactorRequirementRepository",
    "InMemoryKeyPairRepository",
    "InMemoryLicenseRepository",
    "InMemoryMemberCredentialRepository",
    "InMemoryMembershipRepository",
    "InMemoryOnboardingRepository",
    "InMemoryOrganisationRepository",
    "InMemoryOutboxRepository",
    "InMemoryPinGuardRepository",
    "InMemoryPractitionerRepository",
    "InMemoryStore",
    "InMemoryTermsRepository",
    "InMemoryUnitOfWork",
    "InMemoryUserRepository",
    "StaticAuthorizer",
]


class InMemoryStore:
    """Holds the records shared by every unit of work made from it. Thread-safe."""

    def __init__(self, *, keys: KeyProvider | None = None) -> None:
        """Make an empty store.

        ``keys``: the provider of the audit chain's key (purpose ``"audit"``); without one
        the chain is a plain SHA-256 chain (see :mod:`practiceid.audit`).
        """
        self._lock = threading.RLock()
        self._keys = keys
        self._audit: dict[str, list[AuditRecord]] = {}
        self._clinic_logins: dict[UserId, ClinicLogin] = {}
        self._credentials: dict[tuple[EstablishmentId, UserId], MemberCredential] = {}
        self._pins: dict[tuple[EstablishmentId, bytes], UserId] = {}
        self._device_sessions: dict[DeviceSessionId, DeviceSession] = {}
        self._device_tokens: dict[bytes, DeviceSessionId] = {}
        self._pin_guards: dict[EstablishmentId, PinGuard] = {}
        self._key_pairs: dict[UserId, KeyPair] = {}
        self._factors: dict[FactorId, Factor] = {}
        self._factor_guards: dict[UserId, FactorGuard] = {}
        self._factor_requirements: dict[EstablishmentId, FactorRequirement] = {}
        self._users: dict[UserId, User] = {}
        self._by_login: dict[str, UserId] = {}
        self._by_email: dict[str, UserId] = {}
        self._organisations: dict[OrganisationId, Organisation] = {}
        self._establishments: dict[EstablishmentId, Establishment] = {}
        self._memberships: dict[tuple[EstablishmentId, UserId], Membership] = {}
        self._memberships_by_user: dict[UserId, set[EstablishmentId]] = {}
        self._initials: dict[tuple[EstablishmentId, str], UserId] = {}
        self._practitioners: dict[UserId, Practitioner] = {}
        self._identity_keys: dict[tuple[str, str], UserId] = {}
        self._profiles: dict[EstablishmentId, EstablishmentProfile] = {}
        self._onboardings: dict[UserId, Onboarding] = {}
        self._by_token: dict[bytes, UserId] = {}
        self._terms: dict[str, TermsOfUse] = {}
        self._messages: dict[MessageId, Message] = {}
        self._message_keys: dict[str, MessageId] = {}
        self._licenses: dict[tuple[EstablishmentId, UserId], License] = {}
        # Invoice numbers ever reserved: number -> (establishment, issued at).
        self._invoices: dict[str, tuple[EstablishmentId, datetime]] = {}

    def unit_of_work(self) -> InMemoryUnitOfWork:
        """Return a new unit of work over this store (a :data:`UnitOfWorkFactory`)."""
        return InMemoryUnitOfWork(self)


class InMemoryUserRepository:
    """The :class:`~practiceid.ports.UserRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _store(self) -> InMemoryStore:
        return self._uow._active_store()  # noqa: SLF001 - the pair is one adapter

    def add(self, user: User) -> None:
        """Store a new user; raise DuplicateUserId, DuplicateLogin or DuplicateEmail."""
        store = self._store()
        if user.id in store._users:  # noqa: SLF001
            raise DuplicateUserId(user_id=user.id)
        _check_free(store, user)
        _put(store, user)
        self._uow._record(lambda: _remove(store, user))  # noqa: SLF001

    def get(self, user_id: UserId) -> User:
        """Return the user; raise UserNotFound."""
        try:
            return self._store()._users[user_id]  # noqa: SLF001
        except (KeyError, TypeError):  # an unhashable id names nobody
            raise UserNotFound(user_id=user_id) from None

    def find_by_login(self, login: Login) -> User | None:
        """Return the user with this login key, if any."""
        store = self._store()
        user_id = store._by_login.get(login.key)  # noqa: SLF001
        return None if user_id is None else store._users[user_id]  # noqa: SLF001

    def find_by_email(self, email: EmailAddress) -> User | None:
        """Return the user with this e-mail key, if any."""
        store = self._store()
        user_id = store._by_email.get(email.key)  # noqa: SLF001
        return None if user_id is None else store._users[user_id]  # noqa: SLF001

    def update(self, user: User) -> User:
        """Replace the stored user if its version matches; return it with version + 1."""
        store = self._store()
        current = self.get(user.id)
        if current.version != user.version:
            raise StaleUser(user_id=user.id, expected=user.version, stored=current.version)
        _check_free(store, user)
        stored = attrs.evolve(user, version=user.version + 1)
        _remove(store, current)
        _put(store, stored)

        def undo() -> None:
            _remove(store, stored)
            _put(store, current)

        self._uow._record(undo)  # noqa: SLF001
        return stored

    def list(self, *, status: UserStatus | None = None) -> Sequence[User]:
        """Return the users (with this status), ordered by login key."""
        users = self._store()._users.values()  # noqa: SLF001
        chosen = [u for u in users if status is None or u.status is status]
        return sorted(chosen, key=lambda u: u.login.key)


def _check_free(store: InMemoryStore, user: User) -> None:
    owner = store._by_login.get(user.login.key)  # noqa: SLF001
    if owner is not None and owner != user.id:
        raise DuplicateLogin(login=user.login.display)
    owner = store._by_email.get(user.email.key)  # noqa: SLF001
    if owner is not None and owner != user.id:
        raise DuplicateEmail(email=user.email.address)


def _put(store: InMemoryStore, user: User) -> None:
    store._users[user.id] = user  # noqa: SLF001
    store._by_login[user.login.key] = user.id  # noqa: SLF001
    store._by_email[user.email.key] = user.id  # noqa: SLF001


def _remove(store: InMemoryStore, user: User) -> None:
    del store._users[user.id]  # noqa: SLF001
    del store._by_login[user.login.key]  # noqa: SLF001
    del store._by_email[user.email.key]  # noqa: SLF001


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


_K = TypeVar("_K")
_V = TypeVar("_V", bound=_Versioned)
_T = TypeVar("_T")


def _replace(
    uow: InMemoryUnitOfWork,
    table: dict[_K, _V],
    key: _K,
    value: _V,
    *,
    entity: str,
    not_found: Callable[..., PracticeIdError],
    id_params: Mapping[str, object],
) -> _V:
    """Store ``value`` under ``key`` if the stored version matches; return it, version + 1."""
    current = table.get(key)
    if current is None:
        raise not_found(**id_params)
    if current.version != value.version:
        record_id = "/".join(str(v) for v in id_params.values())
        raise StaleRecord(
            entity=entity,
            id=record_id,
            **id_params,
            expected=value.version,
            stored=current.version,
        )
    stored = attrs.evolve(value, version=value.version + 1)  # type: ignore[misc]
    table[key] = stored

    def undo() -> None:
        table[key] = current

    uow._record(undo)  # noqa: SLF001
    return stored


def _insert(uow: InMemoryUnitOfWork, table: dict[_K, _T], key: _K, value: _T) -> None:
    table[key] = value

    def undo() -> None:
        del table[key]

    uow._record(undo)  # noqa: SLF001


class InMemoryOrganisationRepository:
    """The :class:`~practiceid.ports.OrganisationRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[OrganisationId, Organisation]:
        return self._uow._active_store()._organisations  # noqa: SLF001

    def add(self, organisation: Organisation) -> None:
        """Store a new organisation; raise DuplicateRecord when the id is taken."""
        table = self._table()
        if organisation.id in table:
            raise DuplicateRecord(entity="organisation", id=organisation.id)
        _insert(self._uow, table, organisation.id, organisation)

    def get(self, organisation_id: OrganisationId) -> Organisation:
        """Return the organisation; raise OrganisationNotFound."""
        try:
            return self._table()[organisation_id]
        except (KeyError, TypeError):
            raise OrganisationNotFound(organisation_id=organisation_id) from None

    def update(self, organisation: Organisation) -> Organisation:
        """Replace the stored organisation if its version matches; return it, version + 1."""
        return _replace(
            self._uow,
            self._table(),
            organisation.id,
            organisation,
            entity="organisation",
            not_found=OrganisationNotFound,
            id_params={"organisation_id": organisation.id},
        )

    def list(self, *, owner: UserId | None = None) -> Sequence[Organisation]:
        """Return the organisations (this user owns), ordered by id."""
        chosen = [o for o in self._table().values() if owner is None or owner in o.owners]
        return sorted(chosen, key=lambda o: o.id)


class InMemoryEstablishmentRepository:
    """The :class:`~practiceid.ports.EstablishmentRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[EstablishmentId, Establishment]:
        return self._uow._active_store()._establishments  # noqa: SLF001

    def add(self, establishment: Establishment) -> None:
        """Store a new establishment; raise DuplicateRecord when the id is taken."""
        table = self._table()
        if establishment.id in table:
            raise DuplicateRecord(entity="establishment", id=establishment.id)
        _insert(self._uow, table, establishment.id, establishment)

    def get(self, establishment_id: EstablishmentId) -> Establishment:
        """Return the establishment; raise EstablishmentNotFound."""
        try:
            return self._table()[establishment_id]
        except (KeyError, TypeError):
            raise EstablishmentNotFound(establishment_id=establishment_id) from None

    def update(self, establishment: Establishment) -> Establishment:
        """Replace the stored establishment if its version matches; return it, version + 1."""
        return _replace(
            self._uow,
            self._table(),
            establishment.id,
            establishment,
            entity="establishment",
            not_found=EstablishmentNotFound,
            id_params={"establishment_id": establishment.id},
        )

    def list(self, *, organisation_id: OrganisationId | None = None) -> Sequence[Establishment]:
        """Return the establishments (of this organisation), ordered by id."""
        chosen = [
            e
            for e in self._table().values()
            if organisation_id is None or e.organisation_id == organisation_id
        ]
        return sorted(chosen, key=lambda e: e.id)


class InMemoryMembershipRepository:
    """The :class:`~practiceid.ports.MembershipRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def add(self, membership: Membership) -> None:
        """Store a new membership; raise DuplicateMembership when the pair exists."""
        store = self._uow._active_store()  # noqa: SLF001
        key = membership.key
        if key in store._memberships:  # noqa: SLF001
            raise DuplicateMembership(
                entity="membership",
                id=f"{membership.establishment_id}/{membership.user_id}",
                establishment_id=membership.establishment_id,
                user_id=membership.user_id,
            )
        _claim_initials(self._uow, membership, previous=None)
        _insert(self._uow, store._memberships, key, membership)  # noqa: SLF001
        by_user = store._memberships_by_user.setdefault(membership.user_id, set())  # noqa: SLF001
        by_user.add(membership.establishment_id)
        self._uow._record(lambda: by_user.discard(membership.establishment_id))  # noqa: SLF001

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> Membership | None:
        """Return the membership of the pair, if any."""
        memberships = self._uow._active_store()._memberships  # noqa: SLF001
        try:
            return memberships.get((establishment_id, user_id))
        except TypeError:  # an unhashable id names nobody
            return None

    def get(self, establishment_id: EstablishmentId, user_id: UserId) -> Membership:
        """Return the membership of the pair; raise MembershipNotFound."""
        membership = self.find(establishment_id, user_id)
        if membership is None:
            raise MembershipNotFound(establishment_id=establishment_id, user_id=user_id)
        return membership

    def update(self, membership: Membership) -> Membership:
        """Replace the stored membership if its version matches; return it, version + 1."""
        previous = self.find(membership.establishment_id, membership.user_id)
        if previous is not None and previous.version == membership.version:
            # Missing and stale records are refused first, as for users.
            _claim_initials(self._uow, membership, previous=previous, apply=False)
        stored = _replace(
            self._uow,
            self._uow._active_store()._memberships,  # noqa: SLF001
            membership.key,
            membership,
            entity="membership",
            not_found=MembershipNotFound,
            id_params={
                "establishment_id": membership.establishment_id,
                "user_id": membership.user_id,
            },
        )
        _claim_initials(self._uow, membership, previous=previous)
        return stored

    def list_for_user(self, user_id: UserId) -> Sequence[Membership]:
        """Return the user's memberships, ordered by establishment id."""
        store = self._uow._active_store()  # noqa: SLF001
        try:
            establishments = sorted(store._memberships_by_user.get(user_id, ()))  # noqa: SLF001
        except TypeError:  # an unhashable id names nobody
            return []
        return [store._memberships[(e, user_id)] for e in establishments]  # noqa: SLF001

    def list_for_establishment(
        self, establishment_id: EstablishmentId, *, status: MembershipStatus | None = None
    ) -> Sequence[Membership]:
        """Return the establishment's memberships (with this status), ordered by user id."""
        memberships = self._uow._active_store()._memberships.values()  # noqa: SLF001
        chosen = [
            m
            for m in memberships
            if m.establishment_id == establishment_id and (status is None or m.status is status)
        ]
        return sorted(chosen, key=lambda m: m.user_id)


def _claim_initials(
    uow: InMemoryUnitOfWork,
    membership: Membership,
    *,
    previous: Membership | None,
    apply: bool = True,
) -> None:
    """Index the membership's initials; raise DuplicateInitials if someone else has them.

    With ``apply=False`` only check, so that a write checked first and refused later (stale)
    leaves the index untouched.
    """
    index = uow._active_store()._initials  # noqa: SLF001
    old = (
        (previous.establishment_id, initials_policy.key(previous.initials))
        if previous is not None and previous.initials
        else None
    )
    new = (
        (membership.establishment_id, initials_policy.key(membership.initials))
        if membership.initials
        else None
    )
    if old == new:
        return
    if new is not None and index.get(new, membership.user_id) != membership.user_id:
        raise DuplicateInitials(
            entity="membership",
            id=f"{membership.establishment_id}/{membership.user_id}",
            establishment_id=membership.establishment_id,
            initials=membership.initials,
        )
    if not apply:
        return
    if old is not None:
        del index[old]
    if new is not None:
        index[new] = membership.user_id

    def undo() -> None:
        if new is not None:
            del index[new]
        if old is not None:
            index[old] = membership.user_id

    uow._record(undo)  # noqa: SLF001


def _claim_identity_keys(
    uow: InMemoryUnitOfWork,
    practitioner: Practitioner,
    *,
    previous: Practitioner | None,
    apply: bool = True,
) -> None:
    """Index the practitioner's identity keys; raise DuplicateIdentifier on a clash."""
    index = uow._active_store()._identity_keys  # noqa: SLF001
    old = previous.identity_keys if previous is not None else frozenset()
    new = practitioner.identity_keys
    for kind, value in sorted(new - old):
        if index.get((kind, value), practitioner.user_id) != practitioner.user_id:
            raise DuplicateIdentifier(entity="practitioner", id=practitioner.user_id, kind=kind)
    if not apply:
        return
    for pair in old - new:
        del index[pair]
    for pair in new - old:
        index[pair] = practitioner.user_id

    def undo() -> None:
        for pair in new - old:
            del index[pair]
        for pair in old - new:
            index[pair] = practitioner.user_id

    uow._record(undo)  # noqa: SLF001


class InMemoryPractitionerRepository:
    """The :class:`~practiceid.ports.PractitionerRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[UserId, Practitioner]:
        return self._uow._active_store()._practitioners  # noqa: SLF001

    def add(self, practitioner: Practitioner) -> None:
        """Store new practitioner data; raise DuplicateRecord or DuplicateIdentifier."""
        table = self._table()
        if practitioner.user_id in table:
            raise DuplicateRecord(entity="practitioner", id=practitioner.user_id)
        _claim_identity_keys(self._uow, practitioner, previous=None)
        _insert(self._uow, table, practitioner.user_id, practitioner)

    def find(self, user_id: UserId) -> Practitioner | None:
        """Return the user's practitioner data, if any."""
        try:
            return self._table().get(user_id)
        except TypeError:  # an unhashable id names nobody
            return None

    def get(self, user_id: UserId) -> Practitioner:
        """Return the user's practitioner data; raise PractitionerNotFound."""
        found = self.find(user_id)
        if found is None:
            raise PractitionerNotFound(user_id=user_id)
        return found

    def update(self, practitioner: Practitioner) -> Practitioner:
        """Replace the stored data if its version matches; return it, version + 1."""
        previous = self.find(practitioner.user_id)
        if previous is not None and previous.version == practitioner.version:
            # Missing and stale records are refused first, as for users.
            _claim_identity_keys(self._uow, practitioner, previous=previous, apply=False)
        stored = _replace(
            self._uow,
            self._table(),
            practitioner.user_id,
            practitioner,
            entity="practitioner",
            not_found=PractitionerNotFound,
            id_params={"user_id": practitioner.user_id},
        )
        _claim_identity_keys(self._uow, practitioner, previous=previous)
        return stored


class InMemoryEstablishmentProfileRepository:
    """The :class:`~practiceid.ports.EstablishmentProfileRepository` of an in-memory store."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[EstablishmentId, EstablishmentProfile]:
        return self._uow._active_store()._profiles  # noqa: SLF001

    def add(self, profile: EstablishmentProfile) -> None:
        """Store the first profile of an establishment; raise DuplicateRecord."""
        table = self._table()
        if profile.establishment_id in table:
            raise DuplicateRecord(entity="establishment_profile", id=profile.establishment_id)
        _insert(self._uow, table, profile.establishment_id, profile)

    def find(self, establishment_id: EstablishmentId) -> EstablishmentProfile | None:
        """Return the establishment's profile, if any."""
        try:
            return self._table().get(establishment_id)
        except TypeError:  # an unhashable id names nothing
            return None

    def update(self, profile: EstablishmentProfile) -> EstablishmentProfile:
        """Replace the stored profile if its version matches; return it, version + 1."""
        return _replace(
            self._uow,
            self._table(),
            profile.establishment_id,
            profile,
            entity="establishment_profile",
            not_found=EstablishmentNotFound,
            id_params={"establishment_id": profile.establishment_id},
        )


class InMemoryOnboardingRepository:
    """The :class:`~practiceid.ports.OnboardingRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _store(self) -> InMemoryStore:
        return self._uow._active_store()  # noqa: SLF001

    def add(self, onboarding: Onboarding) -> None:
        """Store a user's first record; raise DuplicateRecord."""
        store = self._store()
        if onboarding.user_id in store._onboardings:  # noqa: SLF001
            raise DuplicateRecord(entity="onboarding", id=onboarding.user_id)
        _insert(self._uow, store._onboardings, onboarding.user_id, onboarding)  # noqa: SLF001
        self._index(store, previous=None, current=onboarding)

    def get(self, user_id: UserId) -> Onboarding:
        """Return the user's record; raise OnboardingNotFound."""
        found = self.find(user_id)
        if found is None:
            raise OnboardingNotFound(user_id=user_id)
        return found

    def find(self, user_id: UserId) -> Onboarding | None:
        """Return the user's record, if any."""
        try:
            return self._store()._onboardings.get(user_id)  # noqa: SLF001
        except TypeError:  # an unhashable id names nobody
            return None

    def find_by_token(self, digest: bytes) -> Onboarding | None:
        """Return the record holding this link digest, if any."""
        store = self._store()
        try:
            user_id = store._by_token.get(digest)  # noqa: SLF001
        except TypeError:
            return None
        return None if user_id is None else store._onboardings[user_id]  # noqa: SLF001

    def update(self, onboarding: Onboarding) -> Onboarding:
        """Replace the stored record if its version matches; return it, version + 1."""
        store = self._store()
        previous = self.find(onboarding.user_id)
        stored = _replace(
            self._uow,
            store._onboardings,  # noqa: SLF001
            onboarding.user_id,
            onboarding,
            entity="onboarding",
            not_found=OnboardingNotFound,
            id_params={"user_id": onboarding.user_id},
        )
        self._index(store, previous=previous, current=stored)
        return stored

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[Onboarding]:
        """Return up to ``limit`` records due at ``now``, earliest first (a scan: for tests)."""
        due = [
            o
            for o in self._store()._onboardings.values()  # noqa: SLF001
            if o.due_at is not None and o.due_at <= now
        ]
        due.sort(key=lambda o: (o.due_at, o.user_id))
        return due[: max(limit, 0)]

    def _index(
        self, store: InMemoryStore, *, previous: Onboarding | None, current: Onboarding
    ) -> None:
        index = store._by_token  # noqa: SLF001
        old = set() if previous is None else set(previous.token_digests)
        new = set(current.token_digests)
        for digest in old - new:
            del index[digest]
        for digest in new - old:
            index[digest] = current.user_id

        def undo() -> None:
            for digest in new - old:
                del index[digest]
            for digest in old - new:
                index[digest] = current.user_id

        self._uow._record(undo)  # noqa: SLF001


class InMemoryTermsRepository:
    """The :class:`~practiceid.ports.TermsRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[str, TermsOfUse]:
        return self._uow._active_store()._terms  # noqa: SLF001

    def publish(self, terms: TermsOfUse) -> None:
        """Store a new version; raise DuplicateRecord when it was published before."""
        table = self._table()
        if terms.version in table:
            raise DuplicateRecord(entity="terms", id=terms.version)
        table[terms.version] = terms

        def undo() -> None:
            del table[terms.version]

        self._uow._record(undo)  # noqa: SLF001

    def current(self) -> TermsOfUse | None:
        """Return the version published last (ties: the greatest version), if any."""
        return max(self._table().values(), default=None)

    def list(self) -> Sequence[TermsOfUse]:
        """Return every version, oldest first."""
        return sorted(self._table().values())


class InMemoryOutboxRepository:
    """The :class:`~practiceid.ports.OutboxRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _store(self) -> InMemoryStore:
        return self._uow._active_store()  # noqa: SLF001

    def add(self, message: Message) -> None:
        """Store a new message; raise DuplicateRecord when its idempotency key is taken."""
        store = self._store()
        keys = store._message_keys  # noqa: SLF001
        if message.idempotency_key in keys:
            raise DuplicateRecord(entity="message", id=message.idempotency_key)
        if message.id in store._messages:  # noqa: SLF001
            raise DuplicateRecord(entity="message", id=message.id)
        _insert(self._uow, store._messages, message.id, message)  # noqa: SLF001
        keys[message.idempotency_key] = message.id

        def undo() -> None:
            del keys[message.idempotency_key]

        self._uow._record(undo)  # noqa: SLF001

    def get(self, message_id: MessageId) -> Message:
        """Return the message; raise MessageNotFound."""
        try:
            return self._store()._messages[message_id]  # noqa: SLF001
        except (KeyError, TypeError):
            raise MessageNotFound(message_id=message_id) from None

    def update(self, message: Message) -> Message:
        """Replace the stored message if its version matches; return it, version + 1."""
        store = self._store()
        current = store._messages.get(message.id)  # noqa: SLF001
        if current is not None and current.idempotency_key != message.idempotency_key:
            raise DuplicateRecord(entity="message", id=message.idempotency_key)
        return _replace(
            self._uow,
            store._messages,  # noqa: SLF001
            message.id,
            message,
            entity="message",
            not_found=MessageNotFound,
            id_params={"message_id": message.id},
        )

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[Message]:
        """Claim up to ``limit`` due, unclaimed pending messages for ``lease``."""
        store = self._store()
        due = [
            m
            for m in store._messages.values()  # noqa: SLF001
            if m.status is MessageStatus.PENDING
            and m.next_attempt_at <= now
            and (m.claimed_until is None or m.claimed_until <= now)
        ]
        due.sort(key=lambda m: (m.next_attempt_at, m.id))
        return [
            self.update(attrs.evolve(m, claimed_until=now + lease, attempts=m.attempts + 1))
            for m in due[: max(limit, 0)]
        ]

    def list(
        self, *, status: MessageStatus | None = None, user_id: UserId | None = None
    ) -> Sequence[Message]:
        """Return the messages (with this status, about this user), by creation then id."""
        chosen = [
            m
            for m in self._store()._messages.values()  # noqa: SLF001
            if (status is None or m.status is status) and (user_id is None or m.user_id == user_id)
        ]
        return sorted(chosen, key=lambda m: (m.created_at, m.id))


class InMemoryLicenseRepository:
    """The :class:`~practiceid.ports.LicenseRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[tuple[EstablishmentId, UserId], License]:
        return self._uow._active_store()._licenses  # noqa: SLF001

    def add(self, seat: License) -> None:
        """Store a member's first license; raise DuplicateRecord."""
        table = self._table()
        if seat.key in table:
            raise DuplicateRecord(
                entity="license",
                id=f"{seat.establishment_id}/{seat.user_id}",
                establishment_id=seat.establishment_id,
                user_id=seat.user_id,
            )
        _insert(self._uow, table, seat.key, seat)

    def get(self, establishment_id: EstablishmentId, user_id: UserId) -> License:
        """Return the member's license; raise LicenseNotFound."""
        found = self.find(establishment_id, user_id)
        if found is None:
            raise LicenseNotFound(establishment_id=establishment_id, user_id=user_id)
        return found

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> License | None:
        """Return the member's license, if any."""
        try:
            return self._table().get((establishment_id, user_id))
        except TypeError:  # an unhashable id names nobody
            return None

    def update(self, seat: License) -> License:
        """Replace the stored license if its version matches; return it, version + 1."""
        return _replace(
            self._uow,
            self._table(),
            seat.key,
            seat,
            entity="license",
            not_found=LicenseNotFound,
            id_params={"establishment_id": seat.establishment_id, "user_id": seat.user_id},
        )

    def _sorted(self, chosen: Iterable[License]) -> Sequence[License]:
        return sorted(chosen, key=lambda seat: seat.key)

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[License]:
        """Return the establishment's licenses."""
        return self._sorted(
            lic for lic in self._table().values() if lic.establishment_id == establishment_id
        )

    def list_for_user(self, user_id: UserId) -> Sequence[License]:
        """Return the user's licenses."""
        return self._sorted(lic for lic in self._table().values() if lic.user_id == user_id)

    def with_invoice(self, invoice_number: str) -> Sequence[License]:
        """Return the licenses whose pending or last activation is on this invoice."""
        table = self._table()
        wanted: object = invoice_number  # typed, but a host may pass anything
        if not isinstance(wanted, str):  # no number (None) is no invoice; a list names none
            return []
        return self._sorted(
            lic
            for lic in table.values()
            if wanted in {r.invoice_number for r in (lic.pending, lic.activation) if r is not None}
        )

    def with_status(self, status: LicenseStatus) -> Sequence[License]:
        """Return the licenses stored with this status."""
        return self._sorted(lic for lic in self._table().values() if lic.status is status)

    def reserve_invoice(
        self, invoice_number: str, *, establishment_id: EstablishmentId, issued_at: datetime
    ) -> None:
        """Store ``invoice_number`` as used for good; raise DuplicateRecord if it was."""
        invoices = self._uow._active_store()._invoices  # noqa: SLF001
        if invoice_number in invoices:
            raise DuplicateRecord(
                entity="invoice", id=invoice_number, invoice_number=invoice_number
            )
        _insert(self._uow, invoices, invoice_number, (establishment_id, issued_at))

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[License]:
        """Return up to ``limit`` licenses due at ``now``, earliest first (a scan: for tests)."""
        due = [
            lic for lic in self._table().values() if lic.due_at is not None and lic.due_at <= now
        ]
        due.sort(key=lambda lic: (lic.due_at, lic.key))
        return due[: max(limit, 0)]


class InMemoryClinicLoginRepository:
    """The :class:`~practiceid.ports.ClinicLoginRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[UserId, ClinicLogin]:
        return self._uow._active_store()._clinic_logins  # noqa: SLF001

    def add(self, clinic_login: ClinicLogin) -> None:
        """Store a new clinic login; raise DuplicateRecord when the account is one."""
        table = self._table()
        if clinic_login.user_id in table:
            raise DuplicateRecord(entity="clinic_login", id=clinic_login.user_id)
        _insert(self._uow, table, clinic_login.user_id, clinic_login)

    def get(self, user_id: UserId) -> ClinicLogin:
        """Return the clinic login; raise ClinicLoginNotFound."""
        found = self.find(user_id)
        if found is None:
            raise ClinicLoginNotFound(user_id=user_id)
        return found

    def find(self, user_id: UserId) -> ClinicLogin | None:
        """Return the clinic login whose account this is, if any."""
        try:
            return self._table().get(user_id)
        except TypeError:  # an unhashable id names nobody
            return None

    def update(self, clinic_login: ClinicLogin) -> ClinicLogin:
        """Replace the stored clinic login if its version matches."""
        return _replace(
            self._uow,
            self._table(),
            clinic_login.user_id,
            clinic_login,
            entity="clinic_login",
            not_found=ClinicLoginNotFound,
            id_params={"user_id": clinic_login.user_id},
        )

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[ClinicLogin]:
        """Return the establishment's clinic logins, by user id."""
        return sorted(
            (c for c in self._table().values() if c.establishment_id == establishment_id),
            key=lambda c: c.user_id,
        )


class InMemoryMemberCredentialRepository:
    """The :class:`~practiceid.ports.MemberCredentialRepository` of an in-memory store."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[tuple[EstablishmentId, UserId], MemberCredential]:
        return self._uow._active_store()._credentials  # noqa: SLF001

    def _pins(self) -> dict[tuple[EstablishmentId, bytes], UserId]:
        return self._uow._active_store()._pins  # noqa: SLF001

    def _claim_pin(self, credential: MemberCredential, before: MemberCredential | None) -> None:
        pins = self._pins()
        old = None if before is None or before.pin_digest is None else before.pin_digest
        new = credential.pin_digest
        if new == old:
            return
        if new is not None:
            holder = pins.get((credential.establishment_id, new))
            if holder is not None and holder != credential.user_id:
                raise DuplicateRecord(
                    entity="pin",
                    id=credential.establishment_id,
                    establishment_id=credential.establishment_id,
                )
            pins[credential.establishment_id, new] = credential.user_id
        if old is not None:
            del pins[credential.establishment_id, old]

        def undo() -> None:
            if new is not None:
                del pins[credential.establishment_id, new]
            if old is not None:
                pins[credential.establishment_id, old] = credential.user_id

        self._uow._record(undo)  # noqa: SLF001

    def add(self, credential: MemberCredential) -> None:
        """Store a member's first credential; raise DuplicateRecord for it or its PIN."""
        table = self._table()
        key = (credential.establishment_id, credential.user_id)
        if key in table:
            raise DuplicateRecord(
                entity="member_credential",
                id=f"{credential.establishment_id}/{credential.user_id}",
                establishment_id=credential.establishment_id,
                user_id=credential.user_id,
            )
        self._claim_pin(credential, None)
        _insert(self._uow, table, key, credential)

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> MemberCredential | None:
        """Return the member's credential, if any."""
        try:
            return self._table().get((establishment_id, user_id))
        except TypeError:  # an unhashable id names nobody
            return None

    def find_by_pin(
        self, establishment_id: EstablishmentId, pin_digest: bytes
    ) -> MemberCredential | None:
        """Return the credential holding this PIN digest in the establishment, if any."""
        try:
            holder = self._pins().get((establishment_id, pin_digest))
        except TypeError:
            return None
        return None if holder is None else self._table()[establishment_id, holder]

    def update(self, credential: MemberCredential) -> MemberCredential:
        """Replace the stored credential if its version matches and its PIN is free."""
        key = (credential.establishment_id, credential.user_id)
        current = self.find(*key)
        if current is None:
            raise DuplicateRecord(
                entity="member_credential",
                id=f"{credential.establishment_id}/{credential.user_id}",
                establishment_id=credential.establishment_id,
                user_id=credential.user_id,
            )
        if current.version != credential.version:
            raise StaleRecord(
                entity="member_credential",
                id=f"{credential.establishment_id}/{credential.user_id}",
                establishment_id=credential.establishment_id,
                user_id=credential.user_id,
                expected=credential.version,
                stored=current.version,
            )
        self._claim_pin(credential, current)
        return _replace(
            self._uow,
            self._table(),
            key,
            credential,
            entity="member_credential",
            not_found=DuplicateRecord,
            id_params={
                "establishment_id": credential.establishment_id,
                "user_id": credential.user_id,
            },
        )

    def list_for_user(self, user_id: UserId) -> Sequence[MemberCredential]:
        """Return the user's credentials, by establishment."""
        return sorted(
            (c for c in self._table().values() if c.user_id == user_id),
            key=lambda c: (c.establishment_id, c.user_id),
        )

    def list_for_establishment(
        self, establishment_id: EstablishmentId
    ) -> Sequence[MemberCredential]:
        """Return the establishment's credentials, by user id."""
        return sorted(
            (c for c in self._table().values() if c.establishment_id == establishment_id),
            key=lambda c: (c.establishment_id, c.user_id),
        )

    def key_ids(self, establishment_id: EstablishmentId) -> Sequence[str]:
        """Return the PIN key ids in use in the establishment, sorted."""
        return sorted(
            {
                c.pin_key_id
                for c in self._table().values()
                if c.establishment_id == establishment_id and c.pin_digest is not None
            }
        )


class InMemoryDeviceSessionRepository:
    """The :class:`~practiceid.ports.DeviceSessionRepository` of an in-memory store."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[DeviceSessionId, DeviceSession]:
        return self._uow._active_store()._device_sessions  # noqa: SLF001

    def _tokens(self) -> dict[bytes, DeviceSessionId]:
        return self._uow._active_store()._device_tokens  # noqa: SLF001

    def add(self, session: DeviceSession) -> None:
        """Store a new session; raise DuplicateRecord for a taken id or token."""
        table = self._table()
        tokens = self._tokens()
        if session.id in table or session.token_digest in tokens:
            raise DuplicateRecord(entity="device_session", id=session.id)
        _insert(self._uow, table, session.id, session)
        _insert(self._uow, tokens, session.token_digest, session.id)

    def find(self, session_id: DeviceSessionId) -> DeviceSession | None:
        """Return the session, if any."""
        try:
            return self._table().get(session_id)
        except TypeError:
            return None

    def find_by_token(self, token_digest: bytes) -> DeviceSession | None:
        """Return the session whose token has this digest, if any."""
        try:
            found = self._tokens().get(token_digest)
        except TypeError:
            return None
        return None if found is None else self._table()[found]

    def update(self, session: DeviceSession) -> DeviceSession:
        """Replace the stored session if its version matches."""
        current = self.find(session.id)
        if current is not None and session.token_digest != current.token_digest:
            raise DuplicateRecord(entity="device_session", id=session.id)  # tokens never change
        return _replace(
            self._uow,
            self._table(),
            session.id,
            session,
            entity="device_session",
            not_found=DeviceSessionInvalid,
            id_params={"device_session_id": session.id},
        )

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[DeviceSession]:
        """Return the establishment's sessions not closed, by id."""
        return sorted(
            (
                s
                for s in self._table().values()
                if s.establishment_id == establishment_id and s.state is not DeviceState.CLOSED
            ),
            key=lambda s: s.id,
        )


class InMemoryPinGuardRepository:
    """The :class:`~practiceid.ports.PinGuardRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[EstablishmentId, PinGuard]:
        return self._uow._active_store()._pin_guards  # noqa: SLF001

    def find(self, establishment_id: EstablishmentId) -> PinGuard | None:
        """Return the establishment's guard, if any."""
        try:
            return self._table().get(establishment_id)
        except TypeError:
            return None

    def save(self, guard: PinGuard) -> PinGuard:
        """Store the guard, new at version 0, refusing a stale one."""
        table = self._table()
        current = table.get(guard.establishment_id)
        # Stored guards have versions from 1: version 0 means "new", so two first misses race.
        if (0 if current is None else current.version) != guard.version:
            raise StaleRecord(
                entity="pin_guard",
                id=guard.establishment_id,
                expected=guard.version,
                stored=None if current is None else current.version,
            )
        stored = attrs.evolve(guard, version=guard.version + 1)
        table[guard.establishment_id] = stored

        def undo() -> None:
            if current is None:
                del table[guard.establishment_id]
            else:
                table[guard.establishment_id] = current

        self._uow._record(undo)  # noqa: SLF001
        return stored


class InMemoryKeyPairRepository:
    """The :class:`~practiceid.ports.KeyPairRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[UserId, KeyPair]:
        return self._uow._active_store()._key_pairs  # noqa: SLF001

    def add(self, key_pair: KeyPair) -> KeyPair:
        """Store the user's first key pair; raise DuplicateRecord when they have one."""
        table = self._table()
        if key_pair.user_id in table:
            raise DuplicateRecord(entity="key_pair", id=key_pair.user_id, user_id=key_pair.user_id)
        _insert(self._uow, table, key_pair.user_id, key_pair)
        return key_pair

    def get(self, user_id: UserId) -> KeyPair:
        """Return the user's key pair; raise KeyPairNotFound."""
        found = self.find(user_id)
        if found is None:
            raise KeyPairNotFound(user_id=user_id)
        return found

    def find(self, user_id: UserId) -> KeyPair | None:
        """Return the user's key pair, if any."""
        try:
            return self._table().get(user_id)
        except TypeError:
            return None

    def update(self, key_pair: KeyPair) -> KeyPair:
        """Replace the stored key pair if its version matches."""
        return _replace(
            self._uow,
            self._table(),
            key_pair.user_id,
            key_pair,
            entity="key_pair",
            not_found=KeyPairNotFound,
            id_params={"user_id": key_pair.user_id},
        )


class InMemoryFactorRepository:
    """The :class:`~practiceid.ports.FactorRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[FactorId, Factor]:
        return self._uow._active_store()._factors  # noqa: SLF001

    def add(self, factor: Factor) -> Factor:
        """Store a new factor; raise DuplicateRecord for a taken id."""
        table = self._table()
        if factor.id in table:
            raise DuplicateRecord(entity="factor", id=factor.id)
        _insert(self._uow, table, factor.id, factor)
        return factor

    def get(self, factor_id: FactorId) -> Factor:
        """Return the factor; raise FactorNotFound."""
        found = self.find(factor_id)
        if found is None:
            raise FactorNotFound(factor_id=factor_id)
        return found

    def find(self, factor_id: FactorId) -> Factor | None:
        """Return the factor with this id, if any."""
        try:
            return self._table().get(factor_id)
        except TypeError:
            return None

    def update(self, factor: Factor) -> Factor:
        """Replace the stored factor if its version matches."""
        return _replace(
            self._uow,
            self._table(),
            factor.id,
            factor,
            entity="factor",
            not_found=FactorNotFound,
            id_params={"factor_id": factor.id},
        )

    def remove(self, factor_id: FactorId) -> None:
        """Delete the factor; raise FactorNotFound."""
        table = self._table()
        current = self.get(factor_id)
        del table[factor_id]

        def undo() -> None:
            table[factor_id] = current

        self._uow._record(undo)  # noqa: SLF001

    def list_for_user(self, user_id: UserId) -> Sequence[Factor]:
        """Return the user's factors by creation time, then id."""
        return sorted(
            (f for f in self._table().values() if f.user_id == user_id),
            key=lambda f: (f.created_at, f.id),
        )


def _save_versioned(
    uow: InMemoryUnitOfWork, table: dict[_K, _V], key: _K, value: _V, *, entity: str
) -> _V:
    """Store ``value`` new at version 0, or over the same version; return it, version + 1."""
    current = table.get(key)
    if (0 if current is None else current.version) != value.version:
        raise StaleRecord(
            entity=entity,
            id=str(key),
            expected=value.version,
            stored=None if current is None else current.version,
        )
    stored = attrs.evolve(value, version=value.version + 1)  # type: ignore[misc]
    table[key] = stored

    def undo() -> None:
        if current is None:
            del table[key]
        else:
            table[key] = current

    uow._record(undo)  # noqa: SLF001
    return stored


class InMemoryFactorGuardRepository:
    """The :class:`~practiceid.ports.FactorGuardRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[UserId, FactorGuard]:
        return self._uow._active_store()._factor_guards  # noqa: SLF001

    def find(self, user_id: UserId) -> FactorGuard | None:
        """Return the user's guard, if any."""
        try:
            return self._table().get(user_id)
        except TypeError:
            return None

    def save(self, guard: FactorGuard) -> FactorGuard:
        """Store the guard, new at version 0, refusing a stale one."""
        return _save_versioned(
            self._uow, self._table(), guard.user_id, guard, entity="factor_guard"
        )


class InMemoryFactorRequirementRepository:
    """The :class:`~practiceid.ports.FactorRequirementRepository` in memory."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _table(self) -> dict[EstablishmentId, FactorRequirement]:
        return self._uow._active_store()._factor_requirements  # noqa: SLF001

    def find(self, establishment_id: EstablishmentId) -> FactorRequirement | None:
        """Return the establishment's requirement, if any."""
        try:
            return self._table().get(establishment_id)
        except TypeError:
            return None

    def save(self, requirement: FactorRequirement) -> FactorRequirement:
        """Store the requirement, new at version 0, refusing a stale one."""
        return _save_versioned(
            self._uow,
            self._table(),
            requirement.establishment_id,
            requirement,
            entity="factor_requirement",
        )

    def required_among(
        self, establishment_ids: Sequence[EstablishmentId]
    ) -> Sequence[EstablishmentId]:
        """Return those of ``establishment_ids`` that require a second factor, sorted."""
        table = self._table()
        required = set()
        for establishment_id in establishment_ids:
            try:
                found = table.get(establishment_id)
            except TypeError:  # an unhashable id names no establishment
                continue
            if found is not None and found.required:
                required.add(establishment_id)
        return sorted(required)


class InMemoryAuditLog:
    """The :class:`~practiceid.ports.AuditLog` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` after its chain's head and store it until rolled back."""
        store = self._uow._active_store()  # noqa: SLF001
        chain = chain_of(event)
        records = store._audit.setdefault(chain, [])  # noqa: SLF001
        key_id, key = audit_key(store._keys)  # noqa: SLF001
        record = seal(records[-1].head if records else None, event, key_id=key_id, key=key)
        records.append(record)

        def undo() -> None:
            records.pop()
            if not records:
                del store._audit[chain]  # noqa: SLF001

        self._uow._record(undo)  # noqa: SLF001
        return record

    def records(
        self, chain: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[AuditRecord]:
        """Return the chain's records after position ``after``, in order."""
        records = self._uow._active_store()._audit.get(chain, [])  # noqa: SLF001
        start = max(after, 0)
        chosen = records[start:] if limit is None else records[start : start + max(limit, 0)]
        return list(chosen)

    def head(self, chain: str) -> ChainHead | None:
        """Return the chain's last record's head, if any."""
        records = self._uow._active_store()._audit.get(chain)  # noqa: SLF001
        return records[-1].head if records else None

    def chains(self) -> Sequence[str]:
        """Return every chain holding a record, sorted."""
        return sorted(self._uow._active_store()._audit)  # noqa: SLF001


class InMemoryUnitOfWork:
    """A serialized transaction over an :class:`InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._active = False
        self._undo: list[Callable[[], None]] = []  # newest last
        self.users = InMemoryUserRepository(self)
        self.organisations = InMemoryOrganisationRepository(self)
        self.establishments = InMemoryEstablishmentRepository(self)
        self.memberships = InMemoryMembershipRepository(self)
        self.practitioners = InMemoryPractitionerRepository(self)
        self.establishment_profiles = InMemoryEstablishmentProfileRepository(self)
        self.onboardings = InMemoryOnboardingRepository(self)
        self.terms = InMemoryTermsRepository(self)
        self.outbox = InMemoryOutboxRepository(self)
        self.licenses = InMemoryLicenseRepository(self)
        self.audit = InMemoryAuditLog(self)
        self.clinic_logins = InMemoryClinicLoginRepository(self)
        self.member_credentials = InMemoryMemberCredentialRepository(self)
        self.device_sessions = InMemoryDeviceSessionRepository(self)
        self.pin_guards = InMemoryPinGuardRepository(self)
        self.key_pairs = InMemoryKeyPairRepository(self)
        self.factors = InMemoryFactorRepository(self)
        self.factor_guards = InMemoryFactorGuardRepository(self)
        self.factor_requirements = InMemoryFactorRequirementRepository(self)

    def __enter__(self) -> Self:
        if self._active:
            raise UnitOfWorkError("this unit of work is already open")
        self._store._lock.acquire()  # noqa: SLF001
        self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._active = False
            self._store._lock.release()  # noqa: SLF001

    def _active_store(self) -> InMemoryStore:
        if not self._active:
            raise UnitOfWorkError
        return self._store

    def _record(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def commit(self) -> None:
        """Keep every change made so far."""
        self._active_store()
        self._undo.clear()

    def rollback(self) -> None:
        """Undo every change not yet committed, newest first."""
        self._active_store()
        while self._undo:
            self._undo.pop()()


def _freeze_grants(
    grants: Mapping[UserId, Collection[Permission]],
) -> Mapping[UserId, frozenset[Permission]]:
    return MappingProxyType({actor: frozenset(perms) for actor, perms in grants.items()})


@attrs.frozen
class StaticAuthorizer:
    """An :class:`~practiceid.ports.Authorizer` from a fixed table of grants.

    ``grants`` maps an actor to the permissions they hold over every user; ``self_service``
    lists permissions everyone holds over their own account. Until the role model lands this
    is how a host says who is support (A5).

    >>> from practiceid.ports import Permission
    >>> support = UserId("support")
    >>> authorizer = StaticAuthorizer({support: {Permission.CHANGE_EMAIL}})
    >>> authorizer.require(support, Permission.CHANGE_EMAIL, target=UserId("u1"))
    >>> authorizer.require(UserId("u1"), Permission.CHANGE_EMAIL, target=UserId("u1"))
    Traceback (most recent call last):
    ...
    practiceid.errors.PermissionDenied: not allowed
    """

    grants: Mapping[UserId, frozenset[Permission]] = attrs.field(
        factory=dict, converter=_freeze_grants
    )
    self_service: frozenset[Permission] = attrs.field(
        default=frozenset({Permission.CHANGE_LOGIN}), converter=frozenset
    )

    def require(
        self, actor: UserId, permission: Permission, *, target: UserId | None = None
    ) -> None:
        """Return if allowed; raise PermissionDenied otherwise."""
        if permission in self.grants.get(actor, frozenset()):
            return
        if target is not None and target == actor and permission in self.self_service:
            return
        raise PermissionDenied(permission=str(permission), actor=actor)
