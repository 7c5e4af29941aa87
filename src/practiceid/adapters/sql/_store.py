"""The SQL store, its unit of work and its repositories (SQLAlchemy Core).

One unit of work is one database transaction on one pooled connection. Every write runs in
a ``SAVEPOINT``: a refused write is rolled back to it and the unit of work goes on, as the
ports require (PostgreSQL aborts the whole transaction on a failed statement otherwise).
Uniqueness is checked by the database's unique indexes, atomically with the write; when one
is violated, the adapter looks the keys up again, in the order the error contract gives, to
raise the right coded error. Driver exceptions never leave this module.

The worker queries, the onboarding and license sweeps (``claim_due``) and the outbox's
``claim``, read a partial index in order and lock what they take with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so that concurrent workers share the work instead of waiting for each other. Where
the ports order by an id, PostgreSQL compares ids with the ``"C"`` collation: code point order,
as Python's and SQLite's, whatever the database's default collation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from practiceid.adapters.sql import _codec as codec
from practiceid.adapters.sql import _schema as schema
from practiceid.audit import GENESIS, AuditEvent, AuditRecord, ChainHead, audit_key, chain_of, seal
from practiceid.devices import (
    ClinicLogin,
    DeviceSession,
    DeviceSessionId,
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
    PracticeIdError,
    PractitionerNotFound,
    StaleRecord,
    StaleUser,
    StorageError,
    StorageUnavailable,
    TransactionConflict,
    UnitOfWorkError,
    UnknownReference,
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
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.practitioners import Practitioner
from practiceid.users import User, UserId, UserStatus

if TYPE_CHECKING:
    from practiceid.adapters.sql import SqlStore

__all__ = [
    "SqlAuditLog",
    "SqlClinicLoginRepository",
    "SqlDeviceSessionRepository",
    "SqlEstablishmentProfileRepository",
    "SqlEstablishmentRepository",
    "SqlFactorGuardRepository",
    "SqlFactorRepository",
    "SqlFactorRequirementRepository",
    "SqlKeyPairRepository",
    "SqlLicenseRepository",
    "SqlMemberCredentialRepository",
    "SqlMembershipRepository",
    "SqlOnboardingRepository",
    "SqlOrganisationRepository",
    "SqlOutboxRepository",
    "SqlPinGuardRepository",
    "SqlPractitionerRepository",
    "SqlTermsRepository",
    "SqlUnitOfWork",
    "SqlUserRepository",
]

_T = TypeVar("_T")

# SQLSTATEs (PostgreSQL) after which running the unit of work again may succeed:
# serialization failure, deadlock.
_RETRYABLE: Final = frozenset({"40001", "40P01"})
# SQLSTATE classes (and codes) of a connection that failed, a server going away, a lock not
# granted in time, resources exhausted.
_UNAVAILABLE: Final = ("08", "53", "57", "55P03")
# SQLite result codes of the same kind (the driver's ``sqlite_errorname``).
_SQLITE_UNAVAILABLE: Final = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL"}
)


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def translate(
    error: sa_exc.SQLAlchemyError, *, entity: str | None = None, record_id: object = None
) -> PracticeIdError:
    """Return the coded error for a driver failure that is not a constraint violation.

    Only the driver exception's class name and its SQLSTATE are kept: driver messages may
    quote stored values.
    """
    original = getattr(error, "orig", None) or error
    params: dict[str, object] = {"driver_error": type(original).__name__}
    state = _sqlstate(error) if isinstance(error, sa_exc.DBAPIError) else None
    sqlite_name = getattr(original, "sqlite_errorname", None)
    if state is not None:
        params["sqlstate"] = state
    if state in _RETRYABLE:
        where = {} if entity is None else {"entity": entity, "id": record_id}
        return TransactionConflict(**where, **params)
    unavailable = (
        isinstance(error, sa_exc.InterfaceError | sa_exc.TimeoutError)
        or (state is not None and state.startswith(_UNAVAILABLE))
        or sqlite_name in _SQLITE_UNAVAILABLE
        # A connection that could not be made has neither code.
        or (isinstance(error, sa_exc.OperationalError) and state is None and sqlite_name is None)
    )
    return StorageUnavailable(**params) if unavailable else StorageError(**params)


def _text_id(value: object) -> bool:
    """Whether ``value`` can name a stored record: ids are text without NUL characters."""
    return isinstance(value, str) and "\x00" not in value


class SqlUnitOfWork:
    """A transaction over an :class:`~practiceid.adapters.sql.SqlStore`.

    Implements :class:`~practiceid.ports.LicenseUnitOfWork` (and so
    :class:`~practiceid.ports.OnboardingUnitOfWork` and
    :class:`~practiceid.ports.AccessUnitOfWork`), :class:`~practiceid.ports.DeviceUnitOfWork`
    and :class:`~practiceid.ports.FactorUnitOfWork`. ``commit`` keeps the unit of work open:
    later changes go into a new transaction.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._connection: sa.Connection | None = None
        self._locked = False
        self.users = SqlUserRepository(self)
        self.organisations = SqlOrganisationRepository(self)
        self.establishments = SqlEstablishmentRepository(self)
        self.memberships = SqlMembershipRepository(self)
        self.practitioners = SqlPractitionerRepository(self)
        self.establishment_profiles = SqlEstablishmentProfileRepository(self)
        self.onboardings = SqlOnboardingRepository(self)
        self.terms = SqlTermsRepository(self)
        self.outbox = SqlOutboxRepository(self)
        self.licenses = SqlLicenseRepository(self)
        self.audit = SqlAuditLog(self)
        self.clinic_logins = SqlClinicLoginRepository(self)
        self.member_credentials = SqlMemberCredentialRepository(self)
        self.device_sessions = SqlDeviceSessionRepository(self)
        self.pin_guards = SqlPinGuardRepository(self)
        self.key_pairs = SqlKeyPairRepository(self)
        self.factors = SqlFactorRepository(self)
        self.factor_guards = SqlFactorGuardRepository(self)
        self.factor_requirements = SqlFactorRequirementRepository(self)

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise UnitOfWorkError("this unit of work is already open")
        lock = self._store._serial_lock  # noqa: SLF001 - the pair is one adapter
        if lock is not None:
            lock.acquire()
            self._locked = True
        try:
            self._connection = self._store.engine.connect()
        except sa_exc.SQLAlchemyError as error:
            self._release()
            raise translate(error) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        try:
            if connection is not None:
                # Closing returns the connection to the pool, which rolls back what is open;
                # a connection that is already broken is discarded by the pool.
                connection.close()
        except sa_exc.SQLAlchemyError:  # pragma: no cover - a lost connection is discarded
            pass
        finally:
            self._connection = None
            self._release()

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            lock = self._store._serial_lock  # noqa: SLF001
            assert lock is not None  # noqa: S101 - _locked is only set with a lock
            lock.release()

    def active(self) -> sa.Connection:
        """The open connection; raise UnitOfWorkError outside the ``with`` block."""
        if self._connection is None:
            raise UnitOfWorkError
        return self._connection

    def commit(self) -> None:
        """Make every change so far durable and visible to other units of work."""
        connection = self.active()
        try:
            connection.commit()
        except sa_exc.SQLAlchemyError as error:
            self._rollback_quietly(connection)
            raise translate(error) from None

    def rollback(self) -> None:
        """Discard every change not yet committed."""
        connection = self.active()
        try:
            connection.rollback()
        except sa_exc.SQLAlchemyError as error:
            raise translate(error) from None

    @staticmethod
    def _rollback_quietly(connection: sa.Connection) -> None:
        with contextlib.suppress(sa_exc.SQLAlchemyError):
            connection.rollback()

    # -- statement helpers used by the repositories ------------------------------------

    def read(self, run: Callable[[sa.Connection], _T]) -> _T:
        """Run a read; translate driver failures."""
        connection = self.active()
        try:
            return run(connection)
        except sa_exc.SQLAlchemyError as error:
            raise translate(error) from None

    def write(
        self,
        run: Callable[[sa.Connection], _T],
        *,
        conflict: Callable[[], PracticeIdError],
        entity: str,
        record_id: object,
    ) -> _T:
        """Run a write in a savepoint; on a constraint violation raise ``conflict()``.

        ``conflict`` runs after the savepoint was rolled back, so it may read: it looks up
        which key is taken. A foreign-key violation it cannot explain is an
        :class:`~practiceid.errors.UnknownReference`.
        """
        connection = self.active()
        try:
            with connection.begin_nested():
                return run(connection)
        except sa_exc.IntegrityError as error:
            state = _sqlstate(error)
            if state in _RETRYABLE:
                raise translate(error, entity=entity, record_id=record_id) from None
            try:
                found = conflict()
            except sa_exc.SQLAlchemyError as lookup_error:
                raise translate(lookup_error, entity=entity, record_id=record_id) from None
            raise found from None
        except sa_exc.SQLAlchemyError as error:
            raise translate(error, entity=entity, record_id=record_id) from None


def _unknown_reference(entity: str, record_id: object) -> UnknownReference:
    return UnknownReference(entity=entity, id=record_id)


def _stored_version(
    connection: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool]
) -> int | None:
    version = connection.execute(sa.select(table.c.version).where(where)).scalar_one_or_none()
    return None if version is None else int(version)


def _exists(connection: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> bool:
    return (
        connection.execute(sa.select(sa.literal(1)).select_from(table).where(where)).first()
        is not None
    )


# The look-ups of every log-in, built once: SQLAlchemy then reuses their compiled form.
_USER_BY_ID: Final = sa.select(schema.users).where(schema.users.c.id == sa.bindparam("value"))
_USER_BY_LOGIN_KEY: Final = sa.select(schema.users).where(
    schema.users.c.login_key == sa.bindparam("value")
)
_USER_BY_EMAIL_KEY: Final = sa.select(schema.users).where(
    schema.users.c.email_key == sa.bindparam("value")
)

# -- users --------------------------------------------------------------------------------------


class SqlUserRepository:
    """The :class:`~practiceid.ports.UserRepository` of a :class:`SqlUnitOfWork`."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def _conflict(self, user: User, *, new: bool) -> PracticeIdError:
        """Which of the user's keys is taken by another user, in the contract's order."""
        connection = self._uow.active()
        users = schema.users
        if new and _exists(connection, users, users.c.id == user.id):
            return DuplicateUserId(user_id=user.id)
        others = users.c.id != user.id
        if _exists(connection, users, sa.and_(users.c.login_key == user.login.key, others)):
            return DuplicateLogin(login=user.login.display)
        if _exists(connection, users, sa.and_(users.c.email_key == user.email.key, others)):
            return DuplicateEmail(email=user.email.address)
        return DuplicateRecord(entity="user", id=user.id)  # pragma: no cover - a vanished row

    def add(self, user: User) -> None:
        """Store a new user; raise DuplicateUserId, DuplicateLogin or DuplicateEmail."""
        values = codec.user_values(user, version=user.version)
        self._uow.write(
            lambda c: c.execute(schema.users.insert(), values),
            conflict=lambda: self._conflict(user, new=True),
            entity="user",
            record_id=user.id,
        )

    def _one(self, query: sa.Select[tuple[object, ...]], value: str) -> User | None:
        row = self._uow.read(lambda c: c.execute(query, {"value": value}).mappings().first())
        return None if row is None else codec.user_from(row)

    def get(self, user_id: UserId) -> User:
        """Return the user; raise UserNotFound."""
        found = self._one(_USER_BY_ID, user_id) if _text_id(user_id) else None
        if found is None:
            raise UserNotFound(user_id=user_id)
        return found

    def find_by_login(self, login: Login) -> User | None:
        """Return the user with this login key, if any."""
        return self._one(_USER_BY_LOGIN_KEY, login.key)

    def find_by_email(self, email: EmailAddress) -> User | None:
        """Return the user with this e-mail key, if any."""
        return self._one(_USER_BY_EMAIL_KEY, email.key)

    def update(self, user: User) -> User:
        """Replace the stored user if its version matches; return it with version + 1."""
        users = schema.users
        _update_versioned(
            self._uow,
            users,
            users.c.id == user.id,
            codec.user_values(user, version=user.version + 1),
            expected=user.version,
            entity="user",
            record_id=user.id,
            conflict=lambda: self._conflict(user, new=False),
            not_found=UserNotFound,
            id_params={"user_id": user.id},
            stale=lambda stored: StaleUser(user_id=user.id, expected=user.version, stored=stored),
        )
        return attrs.evolve(user, version=user.version + 1)

    def list(self, *, status: UserStatus | None = None) -> Sequence[User]:
        """Return the users (with this status), ordered by login key."""
        query = sa.select(schema.users)
        if status is not None:
            query = query.where(schema.users.c.status == UserStatus(status).value)
        rows = self._uow.read(lambda c: c.execute(query).mappings().all())
        return sorted((codec.user_from(row) for row in rows), key=lambda u: u.login.key)


# -- organisations ------------------------------------------------------------------------------


class SqlOrganisationRepository:
    """The :class:`~practiceid.ports.OrganisationRepository` of a :class:`SqlUnitOfWork`."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def _write_owners(self, connection: sa.Connection, organisation: Organisation) -> None:
        owners = schema.organisation_owners
        connection.execute(owners.delete().where(owners.c.organisation_id == organisation.id))
        if organisation.owners:
            connection.execute(
                owners.insert(),
                [
                    {"organisation_id": organisation.id, "user_id": owner}
                    for owner in sorted(organisation.owners)
                ],
            )

    def add(self, organisation: Organisation) -> None:
        """Store a new organisation; raise DuplicateRecord when the id is taken."""
        table = schema.organisations

        def run(connection: sa.Connection) -> None:
            connection.execute(
                table.insert(),
                codec.organisation_values(organisation, version=organisation.version),
            )
            self._write_owners(connection, organisation)

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, table, table.c.id == organisation.id)):
                return DuplicateRecord(entity="organisation", id=organisation.id)
            return _unknown_reference("organisation", organisation.id)

        self._uow.write(run, conflict=conflict, entity="organisation", record_id=organisation.id)

    def _rows_to_organisations(
        self, connection: sa.Connection, rows: Sequence[sa.RowMapping]
    ) -> list[Organisation]:
        if not rows:
            return []
        owners = schema.organisation_owners
        ids = [row["id"] for row in rows]
        by_organisation: dict[str, list[str]] = {i: [] for i in ids}
        for organisation_id, user_id in connection.execute(
            sa.select(owners.c.organisation_id, owners.c.user_id).where(
                owners.c.organisation_id.in_(ids)
            )
        ):
            by_organisation[organisation_id].append(user_id)
        return [codec.organisation_from(row, by_organisation[row["id"]]) for row in rows]

    def get(self, organisation_id: OrganisationId) -> Organisation:
        """Return the organisation; raise OrganisationNotFound."""
        found: list[Organisation] = []
        if _text_id(organisation_id):
            table = schema.organisations
            found = self._uow.read(
                lambda c: self._rows_to_organisations(
                    c,
                    c.execute(sa.select(table).where(table.c.id == organisation_id))
                    .mappings()
                    .all(),
                )
            )
        if not found:
            raise OrganisationNotFound(organisation_id=organisation_id)
        return found[0]

    def update(self, organisation: Organisation) -> Organisation:
        """Replace the stored organisation if its version matches; return it, version + 1."""
        table = schema.organisations
        _update_versioned(
            self._uow,
            table,
            table.c.id == organisation.id,
            codec.organisation_values(organisation, version=organisation.version + 1),
            expected=organisation.version,
            entity="organisation",
            record_id=organisation.id,
            conflict=lambda: _unknown_reference("organisation", organisation.id),
            not_found=OrganisationNotFound,
            id_params={"organisation_id": organisation.id},
            then=lambda c: self._write_owners(c, organisation),
        )
        return attrs.evolve(organisation, version=organisation.version + 1)

    def list(self, *, owner: UserId | None = None) -> Sequence[Organisation]:
        """Return the organisations (this user owns), ordered by id."""
        table = schema.organisations
        owners = schema.organisation_owners
        query = sa.select(table)
        if owner is not None:
            if not _text_id(owner):
                return []
            query = query.where(
                table.c.id.in_(sa.select(owners.c.organisation_id).where(owners.c.user_id == owner))
            )
        found = self._uow.read(
            lambda c: self._rows_to_organisations(c, c.execute(query).mappings().all())
        )
        return sorted(found, key=lambda o: o.id)


def _update_versioned(
    uow: SqlUnitOfWork,
    table: sa.Table,
    this: sa.ColumnElement[bool],
    values: dict[str, object],
    *,
    expected: int,
    entity: str,
    record_id: str,
    conflict: Callable[[], PracticeIdError],
    not_found: Callable[..., PracticeIdError],
    id_params: Mapping[str, object],
    stale: Callable[[int], PracticeIdError] | None = None,
    then: Callable[[sa.Connection], None] | None = None,
) -> None:
    """Write ``values`` over the row ``this`` if its version is still ``expected``.

    ``then`` writes what goes with the row (owners, identity keys) in the same savepoint.
    An update that matches no row raises ``not_found(**id_params)`` when the row is missing
    and ``stale(stored_version)`` otherwise (a :class:`StaleRecord` with ``entity``, ``id``,
    ``id_params``, ``expected`` and ``stored`` by default, as the in-memory store's): the
    missing and the stale are refused before any duplicate key, whatever the value carries.
    """

    def run(connection: sa.Connection) -> int:
        updated = connection.execute(
            table.update().where(this, table.c.version == expected).values(values)
        ).rowcount
        if updated and then is not None:
            then(connection)
        return int(updated)

    if uow.write(run, conflict=conflict, entity=entity, record_id=record_id):
        return
    stored = uow.read(lambda c: _stored_version(c, table, this))
    if stored is None:
        raise not_found(**id_params)
    if stale is not None:
        raise stale(stored)
    raise StaleRecord(entity=entity, id=record_id, **id_params, expected=expected, stored=stored)


# -- establishments -----------------------------------------------------------------------------


class SqlEstablishmentRepository:
    """The :class:`~practiceid.ports.EstablishmentRepository` of a :class:`SqlUnitOfWork`."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, establishment: Establishment) -> None:
        """Store a new establishment; raise DuplicateRecord when the id is taken."""
        table = schema.establishments
        values = codec.establishment_values(establishment, version=establishment.version)

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, table, table.c.id == establishment.id)):
                return DuplicateRecord(entity="establishment", id=establishment.id)
            return _unknown_reference("establishment", establishment.id)

        self._uow.write(
            lambda c: c.execute(table.insert(), values),
            conflict=conflict,
            entity="establishment",
            record_id=establishment.id,
        )

    def get(self, establishment_id: EstablishmentId) -> Establishment:
        """Return the establishment; raise EstablishmentNotFound."""
        table = schema.establishments
        row = (
            self._uow.read(
                lambda c: (
                    c.execute(sa.select(table).where(table.c.id == establishment_id))
                    .mappings()
                    .first()
                )
            )
            if _text_id(establishment_id)
            else None
        )
        if row is None:
            raise EstablishmentNotFound(establishment_id=establishment_id)
        return codec.establishment_from(row)

    def update(self, establishment: Establishment) -> Establishment:
        """Replace the stored establishment if its version matches; return it, version + 1."""
        table = schema.establishments
        _update_versioned(
            self._uow,
            table,
            table.c.id == establishment.id,
            codec.establishment_values(establishment, version=establishment.version + 1),
            expected=establishment.version,
            entity="establishment",
            record_id=establishment.id,
            conflict=lambda: _unknown_reference("establishment", establishment.id),
            not_found=EstablishmentNotFound,
            id_params={"establishment_id": establishment.id},
        )
        return attrs.evolve(establishment, version=establishment.version + 1)

    def list(self, *, organisation_id: OrganisationId | None = None) -> Sequence[Establishment]:
        """Return the establishments (of this organisation), ordered by id."""
        table = schema.establishments
        query = sa.select(table)
        if organisation_id is not None:
            if not _text_id(organisation_id):
                return []
            query = query.where(table.c.organisation_id == organisation_id)
        rows = self._uow.read(lambda c: c.execute(query).mappings().all())
        return sorted((codec.establishment_from(row) for row in rows), key=lambda e: e.id)


# -- memberships --------------------------------------------------------------------------------


def _membership_id(membership: Membership) -> str:
    return f"{membership.establishment_id}/{membership.user_id}"


class SqlMembershipRepository:
    """The :class:`~practiceid.ports.MembershipRepository` of a :class:`SqlUnitOfWork`."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    @staticmethod
    def _pair(establishment_id: object, user_id: object) -> sa.ColumnElement[bool]:
        table = schema.memberships
        return sa.and_(table.c.establishment_id == establishment_id, table.c.user_id == user_id)

    def _conflict(self, membership: Membership, *, new: bool) -> PracticeIdError:
        table = schema.memberships
        pair = self._pair(membership.establishment_id, membership.user_id)
        if new and self._uow.read(lambda c: _exists(c, table, pair)):
            return DuplicateMembership(
                entity="membership",
                id=_membership_id(membership),
                establishment_id=membership.establishment_id,
                user_id=membership.user_id,
            )
        values = codec.membership_values(membership, version=0)
        clash = sa.and_(
            table.c.establishment_id == membership.establishment_id,
            table.c.initials_key == values["initials_key"],
            table.c.user_id != membership.user_id,
        )
        if values["initials_key"] is not None and self._uow.read(
            lambda c: _exists(c, table, clash)
        ):
            return DuplicateInitials(
                entity="membership",
                id=_membership_id(membership),
                establishment_id=membership.establishment_id,
                initials=membership.initials,
            )
        return _unknown_reference("membership", _membership_id(membership))

    def add(self, membership: Membership) -> None:
        """Store a new membership; raise DuplicateMembership or DuplicateInitials."""
        values = codec.membership_values(membership, version=membership.version)
        self._uow.write(
            lambda c: c.execute(schema.memberships.insert(), values),
            conflict=lambda: self._conflict(membership, new=True),
            entity="membership",
            record_id=_membership_id(membership),
        )

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> Membership | None:
        """Return the membership of the pair, if any."""
        if not (_text_id(establishment_id) and _text_id(user_id)):
            return None
        table = schema.memberships
        row = self._uow.read(
            lambda c: (
                c.execute(sa.select(table).where(self._pair(establishment_id, user_id)))
                .mappings()
                .first()
            )
        )
        return None if row is None else codec.membership_from(row)

    def get(self, establishment_id: EstablishmentId, user_id: UserId) -> Membership:
        """Return the membership of the pair; raise MembershipNotFound."""
        membership = self.find(establishment_id, user_id)
        if membership is None:
            raise MembershipNotFound(establishment_id=establishment_id, user_id=user_id)
        return membership

    def update(self, membership: Membership) -> Membership:
        """Replace the stored membership if its version matches; return it, version + 1."""
        pair = {"establishment_id": membership.establishment_id, "user_id": membership.user_id}
        _update_versioned(
            self._uow,
            schema.memberships,
            self._pair(membership.establishment_id, membership.user_id),
            codec.membership_values(membership, version=membership.version + 1),
            expected=membership.version,
            entity="membership",
            record_id=_membership_id(membership),
            conflict=lambda: self._conflict(membership, new=False),
            not_found=MembershipNotFound,
            id_params=pair,
        )
        return attrs.evolve(membership, version=membership.version + 1)

    def list_for_user(self, user_id: UserId) -> Sequence[Membership]:
        """Return the user's memberships, ordered by establishment id."""
        if not _text_id(user_id):
            return []
        table = schema.memberships
        rows = self._uow.read(
            lambda c: c.execute(sa.select(table).where(table.c.user_id == user_id)).mappings().all()
        )
        return sorted(
            (codec.membership_from(row) for row in rows), key=lambda m: m.establishment_id
        )

    def list_for_establishment(
        self, establishment_id: EstablishmentId, *, status: MembershipStatus | None = None
    ) -> Sequence[Membership]:
        """Return the establishment's memberships (with this status), ordered by user id."""
        if not _text_id(establishment_id):
            return []
        table = schema.memberships
        query = sa.select(table).where(table.c.establishment_id == establishment_id)
        if status is not None:
            query = query.where(table.c.status == MembershipStatus(status).value)
        rows = self._uow.read(lambda c: c.execute(query).mappings().all())
        return sorted((codec.membership_from(row) for row in rows), key=lambda m: m.user_id)


# -- practitioners ------------------------------------------------------------------------------


class SqlPractitionerRepository:
    """The :class:`~practiceid.ports.PractitionerRepository` of a :class:`SqlUnitOfWork`.

    Identity keys live in ``practiceid_identity_keys``, whose primary key ``(kind, key)``
    makes a number held by two practitioners impossible (B2, B3).
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def _clash(self, practitioner: Practitioner) -> str | None:
        """The first kind, in sorted order, of a key another practitioner holds."""
        keys = schema.identity_keys
        wanted = sorted(practitioner.identity_keys)
        if not wanted:
            return None
        held = self._uow.read(
            lambda c: c.execute(
                sa.select(keys.c.kind, keys.c.key).where(
                    sa.tuple_(keys.c.kind, keys.c.key).in_(wanted),
                    keys.c.user_id != practitioner.user_id,
                )
            ).all()
        )
        taken = {(kind, key) for kind, key in held}
        return next((kind for kind, key in wanted if (kind, key) in taken), None)

    def _conflict(self, practitioner: Practitioner, *, new: bool) -> PracticeIdError:
        table = schema.practitioners
        if new and self._uow.read(
            lambda c: _exists(c, table, table.c.user_id == practitioner.user_id)
        ):
            return DuplicateRecord(entity="practitioner", id=practitioner.user_id)
        kind = self._clash(practitioner)
        if kind is not None:
            return DuplicateIdentifier(entity="practitioner", id=practitioner.user_id, kind=kind)
        return _unknown_reference("practitioner", practitioner.user_id)

    @staticmethod
    def _write_keys(
        connection: sa.Connection,
        practitioner: Practitioner,
        *,
        drop: Iterable[tuple[str, str]],
        add: Iterable[tuple[str, str]],
    ) -> None:
        keys = schema.identity_keys
        for kind, key in sorted(drop):
            connection.execute(
                keys.delete().where(
                    keys.c.kind == kind,
                    keys.c.key == key,
                    keys.c.user_id == practitioner.user_id,
                )
            )
        added = [
            {"kind": kind, "key": key, "user_id": practitioner.user_id} for kind, key in sorted(add)
        ]
        if added:
            connection.execute(keys.insert(), added)

    def add(self, practitioner: Practitioner) -> None:
        """Store new practitioner data; raise DuplicateRecord or DuplicateIdentifier."""
        values = codec.practitioner_values(practitioner, version=practitioner.version)

        def run(connection: sa.Connection) -> None:
            connection.execute(schema.practitioners.insert(), values)
            self._write_keys(connection, practitioner, drop=(), add=practitioner.identity_keys)

        self._uow.write(
            run,
            conflict=lambda: self._conflict(practitioner, new=True),
            entity="practitioner",
            record_id=practitioner.user_id,
        )

    def find(self, user_id: UserId) -> Practitioner | None:
        """Return the user's practitioner data, if any."""
        if not _text_id(user_id):
            return None
        table = schema.practitioners
        row = self._uow.read(
            lambda c: (
                c.execute(sa.select(table).where(table.c.user_id == user_id)).mappings().first()
            )
        )
        return None if row is None else codec.practitioner_from(row)

    def get(self, user_id: UserId) -> Practitioner:
        """Return the user's practitioner data; raise PractitionerNotFound."""
        found = self.find(user_id)
        if found is None:
            raise PractitionerNotFound(user_id=user_id)
        return found

    def update(self, practitioner: Practitioner) -> Practitioner:
        """Replace the stored data if its version matches; return it, version + 1."""
        table = schema.practitioners
        keys = schema.identity_keys

        def rewrite_keys(connection: sa.Connection) -> None:
            held = {
                (kind, key)
                for kind, key in connection.execute(
                    sa.select(keys.c.kind, keys.c.key).where(keys.c.user_id == practitioner.user_id)
                )
            }
            wanted = practitioner.identity_keys
            self._write_keys(connection, practitioner, drop=held - wanted, add=wanted - held)

        _update_versioned(
            self._uow,
            table,
            table.c.user_id == practitioner.user_id,
            codec.practitioner_values(practitioner, version=practitioner.version + 1),
            expected=practitioner.version,
            entity="practitioner",
            record_id=practitioner.user_id,
            conflict=lambda: self._conflict(practitioner, new=False),
            not_found=PractitionerNotFound,
            id_params={"user_id": practitioner.user_id},
            then=rewrite_keys,
        )
        return attrs.evolve(practitioner, version=practitioner.version + 1)


# -- establishment profiles ---------------------------------------------------------------------


class SqlEstablishmentProfileRepository:
    """The :class:`~practiceid.ports.EstablishmentProfileRepository` of a unit of work."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, profile: EstablishmentProfile) -> None:
        """Store the first profile of an establishment; raise DuplicateRecord."""
        table = schema.establishment_profiles
        this = table.c.establishment_id == profile.establishment_id
        values = codec.profile_values(profile, version=profile.version)

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, table, this)):
                return DuplicateRecord(entity="establishment_profile", id=profile.establishment_id)
            return _unknown_reference("establishment_profile", profile.establishment_id)

        self._uow.write(
            lambda c: c.execute(table.insert(), values),
            conflict=conflict,
            entity="establishment_profile",
            record_id=profile.establishment_id,
        )

    def find(self, establishment_id: EstablishmentId) -> EstablishmentProfile | None:
        """Return the establishment's profile, if any."""
        if not _text_id(establishment_id):
            return None
        table = schema.establishment_profiles
        row = self._uow.read(
            lambda c: (
                c.execute(sa.select(table).where(table.c.establishment_id == establishment_id))
                .mappings()
                .first()
            )
        )
        return None if row is None else codec.profile_from(row)

    def update(self, profile: EstablishmentProfile) -> EstablishmentProfile:
        """Replace the stored profile if its version matches; return it, version + 1."""
        table = schema.establishment_profiles
        _update_versioned(
            self._uow,
            table,
            table.c.establishment_id == profile.establishment_id,
            codec.profile_values(profile, version=profile.version + 1),
            expected=profile.version,
            entity="establishment_profile",
            record_id=profile.establishment_id,
            conflict=lambda: _unknown_reference("establishment_profile", profile.establishment_id),
            not_found=EstablishmentNotFound,
            id_params={"establishment_id": profile.establishment_id},
        )
        return attrs.evolve(profile, version=profile.version + 1)


# -- onboarding (D1, D2) ------------------------------------------------------------------------


def _postgres(connection: sa.Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _in_code_point_order(
    connection: sa.Connection, column: sa.ColumnElement[str]
) -> sa.ColumnElement[str]:
    """``column`` for ``ORDER BY`` in Python's order: SQLite's is already; PostgreSQL's "C"."""
    return column.collate("C") if _postgres(connection) else column


_LINK: Final = "link_digest"
_onboardings: Final = schema.onboardings
_links: Final = schema.onboarding_links
_held: Final = _links.alias("held")

# A record and its live links in one statement: one row per link (one row without links),
# the links in their order. Built once, like the users' look-ups.
_ONBOARDING_BY_USER: Final = (
    sa.select(_onboardings, _links.c.digest.label(_LINK))
    .select_from(_onboardings.outerjoin(_links, _links.c.user_id == _onboardings.c.user_id))
    .where(_onboardings.c.user_id == sa.bindparam("value"))
    .order_by(_links.c.position)
)
# The link's primary key, its record's, then the record's links (the index on user_id).
_ONBOARDING_BY_LINK: Final = (
    sa.select(_onboardings, _links.c.digest.label(_LINK))
    .select_from(
        _held.join(_onboardings, _onboardings.c.user_id == _held.c.user_id).join(
            _links, _links.c.user_id == _onboardings.c.user_id
        )
    )
    .where(_held.c.digest == sa.bindparam("value"))
    .order_by(_links.c.position)
)


def _onboardings_from(rows: Iterable[sa.RowMapping]) -> list[Onboarding]:
    """The records of rows holding a record each (with ``link_digest`` if it has links)."""
    grouped: dict[str, tuple[sa.RowMapping, list[bytes]]] = {}
    for row in rows:
        _, digests = grouped.setdefault(row["user_id"], (row, []))
        if row[_LINK] is not None:
            digests.append(row[_LINK])
    return [codec.onboarding_from(row, digests) for row, digests in grouped.values()]


class SqlOnboardingRepository:
    """The :class:`~practiceid.ports.OnboardingRepository` of a :class:`SqlUnitOfWork`.

    A record's live links are rows of ``practiceid_onboarding_links``, primary key the
    digest, with their place in ``token_digests``: ``find_by_token`` is a primary-key
    look-up, and a digest can't be held by two records. Writing a record with a digest that
    another record holds (or holding one digest twice) raises
    :class:`~practiceid.errors.DuplicateRecord` with ``entity="onboarding_link"``; the port
    says it never happens (256-bit tokens do not collide).
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def _conflict(self, onboarding: Onboarding, *, new: bool) -> PracticeIdError:
        this = _onboardings.c.user_id == onboarding.user_id
        if new and self._uow.read(lambda c: _exists(c, _onboardings, this)):
            return DuplicateRecord(entity="onboarding", id=onboarding.user_id)
        digests = list(onboarding.token_digests)
        clash = sa.and_(_links.c.digest.in_(digests), _links.c.user_id != onboarding.user_id)
        if len(digests) > len(set(digests)) or self._uow.read(lambda c: _exists(c, _links, clash)):
            return _duplicate_link(onboarding)
        return _unknown_reference("onboarding", onboarding.user_id)

    @staticmethod
    def _write_links(connection: sa.Connection, onboarding: Onboarding, *, new: bool) -> None:
        """Make the stored links those of ``onboarding``: drop and add the difference.

        Positions only need to grow along ``token_digests``. Minting keeps the newest links
        in order and appends one, so the kept rows stay as they are and the new ones go after
        them; any other order is written out again.
        """
        digests = onboarding.token_digests
        if len(set(digests)) < len(digests):
            raise _duplicate_link(onboarding)  # rolls the savepoint back
        mine = _links.c.user_id == onboarding.user_id
        held: dict[bytes, int] = {}
        if not new:
            if not digests:
                connection.execute(_links.delete().where(mine))
                return
            held = {
                bytes(digest): position
                for digest, position in connection.execute(
                    sa.select(_links.c.digest, _links.c.position).where(mine)
                )
            }
        gone = [digest for digest in held if digest not in digests]
        if gone:
            connection.execute(_links.delete().where(mine, _links.c.digest.in_(gone)))
        kept = [digest for digest in digests if digest in held]
        start = max((held[digest] for digest in kept), default=-1) + 1
        places = [held[digest] for digest in kept]
        if digests[: len(kept)] != tuple(kept) or places != sorted(places):
            start = 0  # not kept links then new ones, in order: number them all again
            for position, digest in enumerate(digests):
                if digest in held and held[digest] != position:
                    connection.execute(
                        _links.update().where(_links.c.digest == digest).values(position=position)
                    )
        added = [
            {"digest": digest, "user_id": onboarding.user_id, "position": start + n}
            for n, digest in enumerate(digests)
            if digest not in held
        ]
        if added:
            connection.execute(_links.insert(), added)

    def add(self, onboarding: Onboarding) -> None:
        """Store a user's first record; raise DuplicateRecord."""
        values = codec.onboarding_values(onboarding, version=onboarding.version)

        def run(connection: sa.Connection) -> None:
            connection.execute(_onboardings.insert(), values)
            self._write_links(connection, onboarding, new=True)

        self._uow.write(
            run,
            conflict=lambda: self._conflict(onboarding, new=True),
            entity="onboarding",
            record_id=onboarding.user_id,
        )

    def _one(self, query: sa.Select[tuple[object, ...]], value: object) -> Onboarding | None:
        rows = self._uow.read(lambda c: c.execute(query, {"value": value}).mappings().all())
        found = _onboardings_from(rows)
        return found[0] if found else None

    def get(self, user_id: UserId) -> Onboarding:
        """Return the user's record; raise OnboardingNotFound."""
        found = self.find(user_id)
        if found is None:
            raise OnboardingNotFound(user_id=user_id)
        return found

    def find(self, user_id: UserId) -> Onboarding | None:
        """Return the user's record, if any."""
        return self._one(_ONBOARDING_BY_USER, user_id) if _text_id(user_id) else None

    def find_by_token(self, digest: bytes) -> Onboarding | None:
        """Return the record holding this link digest, if any: a primary-key look-up."""
        return self._one(_ONBOARDING_BY_LINK, digest) if _digest(digest) else None

    def update(self, onboarding: Onboarding) -> Onboarding:
        """Replace the stored record if its version matches; return it, version + 1."""
        _update_versioned(
            self._uow,
            _onboardings,
            _onboardings.c.user_id == onboarding.user_id,
            codec.onboarding_values(onboarding, version=onboarding.version + 1),
            expected=onboarding.version,
            entity="onboarding",
            record_id=onboarding.user_id,
            conflict=lambda: self._conflict(onboarding, new=False),
            not_found=OnboardingNotFound,
            id_params={"user_id": onboarding.user_id},
            then=lambda c: self._write_links(c, onboarding, new=False),
        )
        return attrs.evolve(onboarding, version=onboarding.version + 1)

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[Onboarding]:
        """Return and hold up to ``limit`` records due at ``now``, earliest ``due_at`` first.

        A range of the partial index on ``(due_at, user_id)``; on PostgreSQL the rows are
        locked, and rows another unit of work holds are skipped.
        """
        if limit <= 0:
            return []

        def run(connection: sa.Connection) -> list[Onboarding]:
            query = (
                sa.select(_onboardings)
                .where(_onboardings.c.due_at <= now)
                .order_by(
                    _onboardings.c.due_at,
                    _in_code_point_order(connection, _onboardings.c.user_id),
                )
                .limit(limit)
            )
            if _postgres(connection):
                query = query.with_for_update(skip_locked=True)
            rows = connection.execute(query).mappings().all()
            if not rows:
                return []
            digests: dict[str, list[bytes]] = {row["user_id"]: [] for row in rows}
            for user_id, digest in connection.execute(
                sa.select(_links.c.user_id, _links.c.digest)
                .where(_links.c.user_id.in_(list(digests)))
                .order_by(_links.c.user_id, _links.c.position)
            ):
                digests[user_id].append(digest)
            return [codec.onboarding_from(row, digests[row["user_id"]]) for row in rows]

        return self._uow.read(run)


def _digest(value: object) -> bool:
    """Whether ``value`` can be a stored link digest: bytes, as the in-memory index keys."""
    return isinstance(value, bytes)


def _duplicate_link(onboarding: Onboarding) -> DuplicateRecord:
    return DuplicateRecord(entity="onboarding_link", id=onboarding.user_id)


class SqlTermsRepository:
    """The :class:`~practiceid.ports.TermsRepository` of a :class:`SqlUnitOfWork`."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def publish(self, terms: TermsOfUse) -> None:
        """Store a new version; raise DuplicateRecord when it was published before."""
        table = schema.terms

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, table, table.c.version == terms.version)):
                return DuplicateRecord(entity="terms", id=terms.version)
            return _unknown_reference("terms", terms.version)  # pragma: no cover - no key else

        self._uow.write(
            lambda c: c.execute(table.insert(), codec.terms_values(terms)),
            conflict=conflict,
            entity="terms",
            record_id=terms.version,
        )

    def current(self) -> TermsOfUse | None:
        """Return the version published last (ties: the greatest version), if any."""
        table = schema.terms

        def run(connection: sa.Connection) -> sa.RowMapping | None:
            version = _in_code_point_order(connection, table.c.version)
            query = sa.select(table).order_by(table.c.published_at.desc(), version.desc()).limit(1)
            return connection.execute(query).mappings().first()

        row = self._uow.read(run)
        return None if row is None else codec.terms_from(row)

    def list(self) -> Sequence[TermsOfUse]:
        """Return every version, oldest first."""
        rows = self._uow.read(lambda c: c.execute(sa.select(schema.terms)).mappings().all())
        return sorted(codec.terms_from(row) for row in rows)


class SqlOutboxRepository:
    """The :class:`~practiceid.ports.OutboxRepository` of a :class:`SqlUnitOfWork`.

    The idempotency key is a unique index: of two units of work writing the same change at
    once, one waits for the other and then gets :class:`~practiceid.errors.DuplicateRecord`.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, message: Message) -> None:
        """Store a new message; raise DuplicateRecord when its idempotency key is taken."""
        table = schema.outbox
        values = codec.message_values(message, version=message.version)

        def conflict() -> PracticeIdError:
            key = table.c.idempotency_key == message.idempotency_key
            if self._uow.read(lambda c: _exists(c, table, key)):
                return DuplicateRecord(entity="message", id=message.idempotency_key)
            if self._uow.read(lambda c: _exists(c, table, table.c.id == message.id)):
                return DuplicateRecord(entity="message", id=message.id)
            return _unknown_reference("message", message.id)  # pragma: no cover - no key else

        self._uow.write(
            lambda c: c.execute(table.insert(), values),
            conflict=conflict,
            entity="message",
            record_id=message.id,
        )

    def get(self, message_id: MessageId) -> Message:
        """Return the message; raise MessageNotFound."""
        table = schema.outbox
        row = (
            self._uow.read(
                lambda c: (
                    c.execute(sa.select(table).where(table.c.id == message_id)).mappings().first()
                )
            )
            if _text_id(message_id)
            else None
        )
        if row is None:
            raise MessageNotFound(message_id=message_id)
        return codec.message_from(row)

    def update(self, message: Message) -> Message:
        """Replace the stored message if its version matches; return it, version + 1.

        The idempotency key never changes: a message carrying another one than the stored
        message's is refused with DuplicateRecord, after a missing message and before a
        stale one, as in the in-memory store.
        """
        table = schema.outbox
        this = table.c.id == message.id
        values = codec.message_values(message, version=message.version + 1)

        def run(connection: sa.Connection) -> int:
            matched = table.update().where(
                this,
                table.c.version == message.version,
                table.c.idempotency_key == message.idempotency_key,
            )
            return int(connection.execute(matched.values(values)).rowcount)

        if self._uow.write(
            run,
            conflict=lambda: _unknown_reference("message", message.id),
            entity="message",
            record_id=message.id,
        ):
            return attrs.evolve(message, version=message.version + 1)
        stored = self._uow.read(
            lambda c: c.execute(
                sa.select(table.c.version, table.c.idempotency_key).where(this)
            ).first()
        )
        if stored is None:
            raise MessageNotFound(message_id=message.id)
        version, key = stored
        if key != message.idempotency_key:
            raise DuplicateRecord(entity="message", id=message.idempotency_key)
        raise StaleRecord(
            entity="message",
            id=message.id,
            message_id=message.id,
            expected=message.version,
            stored=int(version),
        )

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[Message]:
        """Claim up to ``limit`` due, unclaimed pending messages for ``lease``.

        One ``UPDATE … WHERE id IN (SELECT … LIMIT) RETURNING …``: the inner query is a range
        of the partial index on pending messages' ``(next_attempt_at, id)``, and on
        PostgreSQL it locks what it takes and skips what another unit of work is claiming.
        """
        if limit <= 0:
            return []
        table = schema.outbox

        def run(connection: sa.Connection) -> list[Message]:
            due = (
                sa.select(table.c.id)
                .where(
                    # Literally the partial index's WHERE: SQLite matches it by its text.
                    sa.text(schema.PENDING_MESSAGES),
                    table.c.next_attempt_at <= now,
                    sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until <= now),
                )
                .order_by(table.c.next_attempt_at, _in_code_point_order(connection, table.c.id))
                .limit(limit)
            )
            if _postgres(connection):
                due = due.with_for_update(skip_locked=True)
            claim = table.update().values(
                claimed_until=now + lease,
                attempts=table.c.attempts + 1,
                version=table.c.version + 1,
            )
            if connection.dialect.update_returning:
                rows = connection.execute(
                    claim.where(table.c.id.in_(due.scalar_subquery())).returning(*table.c)
                ).mappings()
            else:  # SQLite before 3.35: take, write, read back (units of work take turns)
                ids = list(connection.execute(due).scalars())
                if not ids:
                    return []
                connection.execute(claim.where(table.c.id.in_(ids)))
                rows = connection.execute(sa.select(table).where(table.c.id.in_(ids))).mappings()
            return [codec.message_from(row) for row in rows]

        messages = self._uow.write(
            run,
            conflict=lambda: _unknown_reference("message", None),
            entity="message",
            record_id=None,
        )
        return sorted(messages, key=lambda m: (m.next_attempt_at, m.id))

    def list(
        self, *, status: MessageStatus | None = None, user_id: UserId | None = None
    ) -> Sequence[Message]:
        """Return the messages (with this status, about this user), by creation then id."""
        table = schema.outbox
        query = sa.select(table)
        if status is not None:
            query = query.where(table.c.status == MessageStatus(status).value)
        if user_id is not None:
            if not _text_id(user_id):
                return []
            query = query.where(table.c.user_id == user_id)
        rows = self._uow.read(lambda c: c.execute(query).mappings().all())
        return sorted((codec.message_from(row) for row in rows), key=lambda m: (m.created_at, m.id))


# -- licenses (E1-E4) ---------------------------------------------------------------------------

_licenses: Final = schema.licenses
# A member's license: a primary-key look-up, built once like the users' look-ups.
_LICENSE_BY_KEY: Final = sa.select(_licenses).where(
    _licenses.c.establishment_id == sa.bindparam("establishment_id"),
    _licenses.c.user_id == sa.bindparam("user_id"),
)


_invoices: Final = schema.license_invoices


def _license_id(seat: License) -> str:
    return f"{seat.establishment_id}/{seat.user_id}"


class SqlLicenseRepository:
    """The :class:`~practiceid.ports.LicenseRepository` of a :class:`SqlUnitOfWork`.

    One row per (establishment, user), referencing both. ``with_invoice`` reads the indexes
    on the requests' invoice numbers, ``with_status`` the one on the status, and
    ``claim_due`` a range of the partial index on ``(due_at, establishment_id, user_id)``,
    locking what it takes on PostgreSQL (``FOR UPDATE SKIP LOCKED``), as the onboarding
    sweep does. ``reserve_invoice`` inserts into ``practiceid_license_invoices``, whose
    primary key is the number: of two concurrent reservations, the second waits for the
    first to end and then violates the key (or goes on, if the first rolled back).
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    @staticmethod
    def _pair(establishment_id: object, user_id: object) -> sa.ColumnElement[bool]:
        return sa.and_(
            _licenses.c.establishment_id == establishment_id, _licenses.c.user_id == user_id
        )

    def _conflict(self, seat: License) -> PracticeIdError:
        pair = self._pair(seat.establishment_id, seat.user_id)
        if self._uow.read(lambda c: _exists(c, _licenses, pair)):
            return DuplicateRecord(
                entity="license",
                id=_license_id(seat),
                establishment_id=seat.establishment_id,
                user_id=seat.user_id,
            )
        return _unknown_reference("license", _license_id(seat))

    def add(self, seat: License) -> None:
        """Store a member's first license; raise DuplicateRecord."""
        values = codec.license_values(seat, version=seat.version)
        self._uow.write(
            lambda c: c.execute(_licenses.insert(), values),
            conflict=lambda: self._conflict(seat),
            entity="license",
            record_id=_license_id(seat),
        )

    def get(self, establishment_id: EstablishmentId, user_id: UserId) -> License:
        """Return the member's license; raise LicenseNotFound."""
        found = self.find(establishment_id, user_id)
        if found is None:
            raise LicenseNotFound(establishment_id=establishment_id, user_id=user_id)
        return found

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> License | None:
        """Return the member's license, if any."""
        if not (_text_id(establishment_id) and _text_id(user_id)):
            return None
        key = {"establishment_id": establishment_id, "user_id": user_id}
        row = self._uow.read(lambda c: c.execute(_LICENSE_BY_KEY, key).mappings().first())
        return None if row is None else codec.license_from(row)

    def update(self, seat: License) -> License:
        """Replace the stored license if its version matches; return it, version + 1."""
        _update_versioned(
            self._uow,
            _licenses,
            self._pair(seat.establishment_id, seat.user_id),
            codec.license_values(seat, version=seat.version + 1),
            expected=seat.version,
            entity="license",
            record_id=_license_id(seat),
            conflict=lambda: _unknown_reference("license", _license_id(seat)),
            not_found=LicenseNotFound,
            id_params={"establishment_id": seat.establishment_id, "user_id": seat.user_id},
        )
        return attrs.evolve(seat, version=seat.version + 1)

    def _listed(self, where: sa.ColumnElement[bool]) -> Sequence[License]:
        """The licenses ``where`` selects, by (establishment, user) in code point order."""
        rows = self._uow.read(
            lambda c: c.execute(sa.select(_licenses).where(where)).mappings().all()
        )
        return sorted((codec.license_from(row) for row in rows), key=lambda seat: seat.key)

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[License]:
        """Return the establishment's licenses: a range of the primary key."""
        if not _text_id(establishment_id):
            return []
        return self._listed(_licenses.c.establishment_id == establishment_id)

    def list_for_user(self, user_id: UserId) -> Sequence[License]:
        """Return the user's licenses, in every establishment (the index on user_id)."""
        if not _text_id(user_id):
            return []
        return self._listed(_licenses.c.user_id == user_id)

    def with_invoice(self, invoice_number: str) -> Sequence[License]:
        """Return the licenses whose pending or last activation is on this invoice.

        Either invoice number column, each indexed: the two ranges are read and joined
        (PostgreSQL's ``BitmapOr``, SQLite's ``MULTI-INDEX OR``).
        """
        if not _text_id(invoice_number):
            return []
        return self._listed(
            sa.or_(
                _licenses.c.pending_invoice_number == invoice_number,
                _licenses.c.activation_invoice_number == invoice_number,
            )
        )

    def reserve_invoice(
        self, invoice_number: str, *, establishment_id: EstablishmentId, issued_at: datetime
    ) -> None:
        """Store ``invoice_number`` as used for good; raise DuplicateRecord if it was."""
        values = {
            "invoice_number": invoice_number,
            "establishment_id": establishment_id,
            "issued_at": issued_at,
        }

        def conflict() -> PracticeIdError:
            taken = _invoices.c.invoice_number == invoice_number
            if self._uow.read(lambda c: _exists(c, _invoices, taken)):
                return DuplicateRecord(
                    entity="invoice", id=invoice_number, invoice_number=invoice_number
                )
            return _unknown_reference("invoice", invoice_number)  # an unknown establishment

        self._uow.write(
            lambda c: c.execute(_invoices.insert(), values),
            conflict=conflict,
            entity="invoice",
            record_id=invoice_number,
        )

    def with_status(self, status: LicenseStatus) -> Sequence[License]:
        """Return the licenses stored with this status (an index)."""
        wanted: object = status  # typed, but a host may pass anything
        if not isinstance(wanted, LicenseStatus):  # as the in-memory store: members only
            return []
        return self._listed(_licenses.c.status == wanted.value)

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[License]:
        """Return and hold up to ``limit`` licenses due at ``now``, earliest ``due_at`` first.

        A range of the partial index on ``(due_at, establishment_id, user_id)``, ties in
        code point order; on PostgreSQL the rows are locked, and rows another unit of work
        holds are skipped.
        """
        if limit <= 0:
            return []

        def run(connection: sa.Connection) -> list[License]:
            query = (
                sa.select(_licenses)
                .where(_licenses.c.due_at <= now)
                .order_by(
                    _licenses.c.due_at,
                    _in_code_point_order(connection, _licenses.c.establishment_id),
                    _in_code_point_order(connection, _licenses.c.user_id),
                )
                .limit(limit)
            )
            if _postgres(connection):
                query = query.with_for_update(skip_locked=True)
            return [codec.license_from(row) for row in connection.execute(query).mappings()]

        return self._uow.read(run)


# -- the audit trail (F3) -----------------------------------------------------------------------

_audit: Final = schema.audit_records
_heads: Final = schema.audit_heads
_MAX_SEQ: Final = 2**63 - 1  # BIGINT
_EMPTY_HEAD: Final = {"seq": 0, "digest": GENESIS}

# The chain's head row, locked until the unit of work ends (FOR UPDATE is PostgreSQL's: SQLite
# compiles it away, its units of work being serialized). Built once, like the users' look-ups.
_HEAD_FOR_UPDATE: Final = (
    sa.select(_heads.c.seq, _heads.c.digest)
    .where(_heads.c.chain == sa.bindparam("chain"))
    .with_for_update()
)
_HEAD: Final = sa.select(_heads.c.seq, _heads.c.digest).where(
    _heads.c.chain == sa.bindparam("chain")
)
_MOVE_HEAD: Final = (
    _heads.update()
    .where(_heads.c.chain == sa.bindparam("head_chain"))
    .values(seq=sa.bindparam("new_seq"), digest=sa.bindparam("new_digest"))
)


def _new_head(connection: sa.Connection, chain: str) -> sa.Executable:
    """``INSERT`` of an empty chain's head that does nothing if another one made it first."""
    values = {"chain": chain, **_EMPTY_HEAD}
    if _postgres(connection):
        return postgresql.insert(_heads).values(values).on_conflict_do_nothing()
    return sqlite.insert(_heads).values(values).on_conflict_do_nothing()


def _lock_head(connection: sa.Connection, chain: str) -> ChainHead | None:
    """Return the chain's head (``None``: empty), its row locked until the transaction ends.

    A chain's first append makes the row (position 0) first: ``INSERT … ON CONFLICT DO
    NOTHING`` waits for a concurrent first append to end and then does nothing, so that the
    ``SELECT … FOR UPDATE`` that follows always finds the row, and reads it once the append
    holding it has ended (READ COMMITTED reads the newest committed version of a locked row).
    """
    row = connection.execute(_HEAD_FOR_UPDATE, {"chain": chain}).first()
    if row is None:
        connection.execute(_new_head(connection, chain))
        row = connection.execute(_HEAD_FOR_UPDATE, {"chain": chain}).one()
    seq, digest = int(row[0]), bytes(row[1])
    return None if seq == 0 else ChainHead(chain, seq, digest)


class SqlAuditLog:
    """The :class:`~practiceid.ports.AuditLog` of a :class:`SqlUnitOfWork`.

    Records are rows of ``practiceid_audit_records``, primary key ``(chain, seq)``; each
    chain's head (last position and digest) is a row of ``practiceid_audit_heads``. An
    append locks its chain's head row (``SELECT … FOR UPDATE`` on PostgreSQL, making it
    first if the chain is new), seals the event after it, inserts the record and moves the
    head: appends to one chain take turns, each waiting for the previous one's unit of work
    to end, and appends to other chains do not wait. On SQLite every unit of work already
    holds the database's write lock from its start, so appends are serialized with
    everything else. The head row stays locked until the unit of work ends: append the
    event last, just before committing, so that others wait as little as possible.

    ``head`` and ``chains`` read the head rows; ``records`` a range of the primary key.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` after its chain's head and store it; return the record."""
        key_id, key = audit_key(self._uow._store._keys)  # noqa: SLF001 - one adapter
        chain = chain_of(event)
        sealed: list[AuditRecord] = []

        def run(connection: sa.Connection) -> AuditRecord:
            record = seal(_lock_head(connection, chain), event, key_id=key_id, key=key)
            sealed.append(record)
            connection.execute(_audit.insert(), codec.audit_record_values(record))
            moved = {"head_chain": chain, "new_seq": record.seq, "new_digest": record.digest}
            connection.execute(_MOVE_HEAD, moved)
            return record

        def conflict() -> PracticeIdError:
            seq = sealed[-1].seq if sealed else 0
            taken = sa.and_(_audit.c.chain == chain, _audit.c.seq == seq)
            if self._uow.read(lambda c: _exists(c, _audit, taken)):
                # The position after the head is taken: the head row was changed or removed
                # behind the adapter's back. Nothing is written; verify the chain.
                return DuplicateRecord(
                    entity="audit_record", id=f"{chain}/{seq}", chain=chain, seq=seq
                )
            # A column the event left empty that cannot be (a host's None for a text).
            return StorageError(entity="audit_record", id=chain)

        return self._uow.write(run, conflict=conflict, entity="audit_record", record_id=chain)

    def records(
        self, chain: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[AuditRecord]:
        """Return the chain's records after position ``after``, in order."""
        if not _text_id(chain) or after >= _MAX_SEQ or (limit is not None and limit <= 0):
            return []
        query = (
            sa.select(_audit)
            .where(_audit.c.chain == chain, _audit.c.seq > max(after, 0))
            .order_by(_audit.c.seq)
        )
        if limit is not None:
            query = query.limit(min(limit, _MAX_SEQ))

        def run(connection: sa.Connection) -> list[AuditRecord]:
            return [codec.audit_record_from(row) for row in connection.execute(query).mappings()]

        try:
            return self._uow.read(run)
        except (ValueError, TypeError):  # a row edited into something unreadable (a date)
            raise StorageError(entity="audit_record", id=chain) from None

    def head(self, chain: str) -> ChainHead | None:
        """Return the chain's head (its head row), ``None`` for an empty chain."""
        if not _text_id(chain):
            return None
        row = self._uow.read(lambda c: c.execute(_HEAD, {"chain": chain}).first())
        if row is None or int(row[0]) == 0:
            return None
        return ChainHead(chain, int(row[0]), bytes(row[1]))

    def chains(self) -> Sequence[str]:
        """Return every chain holding a record, sorted in code point order."""
        query = sa.select(_heads.c.chain).where(_heads.c.seq > 0)
        return sorted(self._uow.read(lambda c: list(c.execute(query).scalars())))


# -- shared clinic devices (F1-F4) ----------------------------------------------------------------

_clinic_logins: Final = schema.clinic_logins
_credentials: Final = schema.member_credentials
_sessions: Final = schema.device_sessions
_guards: Final = schema.pin_guards

# The look-ups of every device request and PIN entered, built once like the users' look-ups:
# a primary key, and the unique indexes on the token's and the PIN's digests.
_CLINIC_LOGIN_BY_USER: Final = sa.select(_clinic_logins).where(
    _clinic_logins.c.user_id == sa.bindparam("user_id")
)
_CREDENTIAL_BY_KEY: Final = sa.select(_credentials).where(
    _credentials.c.establishment_id == sa.bindparam("establishment_id"),
    _credentials.c.user_id == sa.bindparam("user_id"),
)
_CREDENTIAL_BY_PIN: Final = sa.select(_credentials).where(
    _credentials.c.establishment_id == sa.bindparam("establishment_id"),
    _credentials.c.pin_digest == sa.bindparam("pin_digest"),
)
_SESSION_BY_ID: Final = sa.select(_sessions).where(_sessions.c.id == sa.bindparam("id"))
_SESSION_BY_TOKEN: Final = sa.select(_sessions).where(
    _sessions.c.token_digest == sa.bindparam("token_digest")
)
_GUARD_BY_ESTABLISHMENT: Final = sa.select(_guards).where(
    _guards.c.establishment_id == sa.bindparam("establishment_id")
)


class SqlClinicLoginRepository:
    """The :class:`~practiceid.ports.ClinicLoginRepository` of a :class:`SqlUnitOfWork`.

    One row per clinic account (primary key its user id, referencing the user), naming its
    establishment (indexed); the premises' networks are JSON text.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, clinic_login: ClinicLogin) -> None:
        """Store a new clinic login; raise DuplicateRecord when the account is one."""
        values = codec.clinic_login_values(clinic_login, version=clinic_login.version)
        this = _clinic_logins.c.user_id == clinic_login.user_id

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, _clinic_logins, this)):
                return DuplicateRecord(entity="clinic_login", id=clinic_login.user_id)
            return _unknown_reference("clinic_login", clinic_login.user_id)

        self._uow.write(
            lambda c: c.execute(_clinic_logins.insert(), values),
            conflict=conflict,
            entity="clinic_login",
            record_id=clinic_login.user_id,
        )

    def get(self, user_id: UserId) -> ClinicLogin:
        """Return the clinic login; raise ClinicLoginNotFound."""
        found = self.find(user_id)
        if found is None:
            raise ClinicLoginNotFound(user_id=user_id)
        return found

    def find(self, user_id: UserId) -> ClinicLogin | None:
        """Return the clinic login whose account this is, if any: a primary-key look-up."""
        if not _text_id(user_id):
            return None
        key = {"user_id": user_id}
        row = self._uow.read(lambda c: c.execute(_CLINIC_LOGIN_BY_USER, key).mappings().first())
        return None if row is None else codec.clinic_login_from(row)

    def update(self, clinic_login: ClinicLogin) -> ClinicLogin:
        """Replace the stored clinic login if its version matches; return it, version + 1."""
        _update_versioned(
            self._uow,
            _clinic_logins,
            _clinic_logins.c.user_id == clinic_login.user_id,
            codec.clinic_login_values(clinic_login, version=clinic_login.version + 1),
            expected=clinic_login.version,
            entity="clinic_login",
            record_id=clinic_login.user_id,
            conflict=lambda: _unknown_reference("clinic_login", clinic_login.user_id),
            not_found=ClinicLoginNotFound,
            id_params={"user_id": clinic_login.user_id},
        )
        return attrs.evolve(clinic_login, version=clinic_login.version + 1)

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[ClinicLogin]:
        """Return the establishment's clinic logins (the index), by user id."""
        if not _text_id(establishment_id):
            return []
        query = sa.select(_clinic_logins).where(
            _clinic_logins.c.establishment_id == establishment_id
        )
        rows = self._uow.read(lambda c: c.execute(query).mappings().all())
        return sorted((codec.clinic_login_from(row) for row in rows), key=lambda c: c.user_id)


def _credential_id(credential: MemberCredential) -> str:
    return f"{credential.establishment_id}/{credential.user_id}"


def _duplicate_credential(credential: MemberCredential) -> DuplicateRecord:
    return DuplicateRecord(
        entity="member_credential",
        id=_credential_id(credential),
        establishment_id=credential.establishment_id,
        user_id=credential.user_id,
    )


class SqlMemberCredentialRepository:
    """The :class:`~practiceid.ports.MemberCredentialRepository` of a :class:`SqlUnitOfWork`.

    One row per (establishment, member), referencing both. The unique index on
    ``(establishment_id, pin_digest)`` is what keeps one PIN to one member: of two units of
    work giving one digest to two members at once, the second waits for the first to end
    and then violates the index (or goes on, if the first rolled back). The same index finds
    an entered PIN's holder. Revoked PINs are ``NULL``, which never clash.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    @staticmethod
    def _pair(establishment_id: object, user_id: object) -> sa.ColumnElement[bool]:
        return sa.and_(
            _credentials.c.establishment_id == establishment_id,
            _credentials.c.user_id == user_id,
        )

    def _conflict(self, credential: MemberCredential, *, new: bool) -> PracticeIdError:
        """Which key is taken, in the contract's order: the member's, then the PIN."""
        pair = self._pair(credential.establishment_id, credential.user_id)
        if new and self._uow.read(lambda c: _exists(c, _credentials, pair)):
            return _duplicate_credential(credential)
        if credential.pin_digest is not None:
            held = sa.and_(
                _credentials.c.establishment_id == credential.establishment_id,
                _credentials.c.pin_digest == credential.pin_digest,
                _credentials.c.user_id != credential.user_id,
            )
            if self._uow.read(lambda c: _exists(c, _credentials, held)):
                # Never the digest: knowing it is a step towards the PIN.
                return DuplicateRecord(
                    entity="pin",
                    id=credential.establishment_id,
                    establishment_id=credential.establishment_id,
                )
        return _unknown_reference("member_credential", _credential_id(credential))

    def add(self, credential: MemberCredential) -> None:
        """Store a member's first credential; raise DuplicateRecord for it or its PIN."""
        values = codec.member_credential_values(credential, version=credential.version)
        self._uow.write(
            lambda c: c.execute(_credentials.insert(), values),
            conflict=lambda: self._conflict(credential, new=True),
            entity="member_credential",
            record_id=_credential_id(credential),
        )

    def _one(
        self, query: sa.Select[tuple[object, ...]], key: dict[str, object]
    ) -> MemberCredential | None:
        row = self._uow.read(lambda c: c.execute(query, key).mappings().first())
        return None if row is None else codec.member_credential_from(row)

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> MemberCredential | None:
        """Return the member's credential, if any: a primary-key look-up."""
        if not (_text_id(establishment_id) and _text_id(user_id)):
            return None
        key: dict[str, object] = {"establishment_id": establishment_id, "user_id": user_id}
        return self._one(_CREDENTIAL_BY_KEY, key)

    def find_by_pin(
        self, establishment_id: EstablishmentId, pin_digest: bytes
    ) -> MemberCredential | None:
        """Return the credential holding this PIN digest in the establishment: one look-up."""
        if not (_text_id(establishment_id) and _digest(pin_digest)):
            return None
        key: dict[str, object] = {"establishment_id": establishment_id, "pin_digest": pin_digest}
        return self._one(_CREDENTIAL_BY_PIN, key)

    def update(self, credential: MemberCredential) -> MemberCredential:
        """Replace the stored credential if its version matches and its PIN is free.

        A missing credential is refused first (DuplicateRecord, as the port says), then a
        stale one, then a PIN another member holds.
        """
        _update_versioned(
            self._uow,
            _credentials,
            self._pair(credential.establishment_id, credential.user_id),
            codec.member_credential_values(credential, version=credential.version + 1),
            expected=credential.version,
            entity="member_credential",
            record_id=_credential_id(credential),
            conflict=lambda: self._conflict(credential, new=False),
            not_found=lambda **_: _duplicate_credential(credential),
            id_params={
                "establishment_id": credential.establishment_id,
                "user_id": credential.user_id,
            },
        )
        return attrs.evolve(credential, version=credential.version + 1)

    def _listed(self, where: sa.ColumnElement[bool]) -> Sequence[MemberCredential]:
        """The credentials ``where`` selects, by (establishment, user) in code point order."""
        rows = self._uow.read(
            lambda c: c.execute(sa.select(_credentials).where(where)).mappings().all()
        )
        return sorted(
            (codec.member_credential_from(row) for row in rows),
            key=lambda c: (c.establishment_id, c.user_id),
        )

    def list_for_user(self, user_id: UserId) -> Sequence[MemberCredential]:
        """Return the user's credentials, in every establishment (the index on user_id)."""
        if not _text_id(user_id):
            return []
        return self._listed(_credentials.c.user_id == user_id)

    def list_for_establishment(
        self, establishment_id: EstablishmentId
    ) -> Sequence[MemberCredential]:
        """Return the establishment's credentials: a range of the primary key."""
        if not _text_id(establishment_id):
            return []
        return self._listed(_credentials.c.establishment_id == establishment_id)

    def key_ids(self, establishment_id: EstablishmentId) -> Sequence[str]:
        """Return the key ids of the establishment's PIN digests, sorted (code point order)."""
        if not _text_id(establishment_id):
            return []
        query = (
            sa.select(_credentials.c.pin_key_id)
            .where(
                _credentials.c.establishment_id == establishment_id,
                _credentials.c.pin_digest.is_not(None),
            )
            .distinct()
        )
        return sorted(self._uow.read(lambda c: list(c.execute(query).scalars())))


class SqlDeviceSessionRepository:
    """The :class:`~practiceid.ports.DeviceSessionRepository` of a :class:`SqlUnitOfWork`.

    One row per session, referencing its establishment and account. ``find_by_token`` reads
    the unique index on the token's digest; ``list_for_establishment`` the partial index on
    ``(establishment_id, id)`` of the sessions not closed, so that closed sessions, which
    pile up, cost it nothing. A session's token never changes: an ``update`` carrying
    another digest than the stored one is refused with DuplicateRecord, after a missing
    session and before a stale one, as in the in-memory store.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, session: DeviceSession) -> None:
        """Store a new session; raise DuplicateRecord for a taken id or token."""
        values = codec.device_session_values(session, version=session.version)

        def conflict() -> PracticeIdError:
            taken = sa.or_(
                _sessions.c.id == session.id, _sessions.c.token_digest == session.token_digest
            )
            if self._uow.read(lambda c: _exists(c, _sessions, taken)):
                return DuplicateRecord(entity="device_session", id=session.id)
            return _unknown_reference("device_session", session.id)

        self._uow.write(
            lambda c: c.execute(_sessions.insert(), values),
            conflict=conflict,
            entity="device_session",
            record_id=session.id,
        )

    def _one(
        self, query: sa.Select[tuple[object, ...]], key: dict[str, object]
    ) -> DeviceSession | None:
        row = self._uow.read(lambda c: c.execute(query, key).mappings().first())
        return None if row is None else codec.device_session_from(row)

    def find(self, session_id: DeviceSessionId) -> DeviceSession | None:
        """Return the session, if any: a primary-key look-up."""
        return self._one(_SESSION_BY_ID, {"id": session_id}) if _text_id(session_id) else None

    def find_by_token(self, token_digest: bytes) -> DeviceSession | None:
        """Return the session whose token has this digest, if any: one unique-index look-up."""
        if not _digest(token_digest):
            return None
        return self._one(_SESSION_BY_TOKEN, {"token_digest": token_digest})

    def update(self, session: DeviceSession) -> DeviceSession:
        """Replace the stored session if its version matches; return it, version + 1."""
        this = _sessions.c.id == session.id
        values = codec.device_session_values(session, version=session.version + 1)

        def run(connection: sa.Connection) -> int:
            matched = _sessions.update().where(
                this,
                _sessions.c.version == session.version,
                _sessions.c.token_digest == session.token_digest,
            )
            return int(connection.execute(matched.values(values)).rowcount)

        if self._uow.write(
            run,
            conflict=lambda: _unknown_reference("device_session", session.id),
            entity="device_session",
            record_id=session.id,
        ):
            return attrs.evolve(session, version=session.version + 1)
        stored = self._uow.read(
            lambda c: c.execute(
                sa.select(_sessions.c.version, _sessions.c.token_digest).where(this)
            ).first()
        )
        if stored is None:
            raise DeviceSessionInvalid(device_session_id=session.id)
        version, token_digest = stored
        if bytes(token_digest) != session.token_digest:
            raise DuplicateRecord(entity="device_session", id=session.id)  # tokens never change
        raise StaleRecord(
            entity="device_session",
            id=session.id,
            device_session_id=session.id,
            expected=session.version,
            stored=int(version),
        )

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[DeviceSession]:
        """Return the establishment's sessions not closed (the partial index), by id."""
        if not _text_id(establishment_id):
            return []
        query = sa.select(_sessions).where(
            # Literally the partial index's WHERE: SQLite matches it by its text.
            sa.text(schema.OPEN_SESSIONS),
            _sessions.c.establishment_id == establishment_id,
        )
        rows = self._uow.read(lambda c: c.execute(query).mappings().all())
        return sorted((codec.device_session_from(row) for row in rows), key=lambda s: s.id)


class SqlPinGuardRepository:
    """The :class:`~practiceid.ports.PinGuardRepository` of a :class:`SqlUnitOfWork`.

    One row per establishment that had a wrong PIN, referencing it; the misses are JSON
    text. A guard at version 0 is inserted with ``ON CONFLICT DO NOTHING``: of two first
    misses at once, the second waits for the first's unit of work to end and then inserts
    nothing, and is refused as stale. Later saves are ``UPDATE … WHERE version = :read``.
    Either way concurrent misses are never lost: the refused one is run again.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def find(self, establishment_id: EstablishmentId) -> PinGuard | None:
        """Return the establishment's guard, if any: a primary-key look-up."""
        if not _text_id(establishment_id):
            return None
        key = {"establishment_id": establishment_id}
        row = self._uow.read(lambda c: c.execute(_GUARD_BY_ESTABLISHMENT, key).mappings().first())
        return None if row is None else codec.pin_guard_from(row)

    def save(self, guard: PinGuard) -> PinGuard:
        """Store the guard, new at version 0, refusing a stale one; return it, version + 1."""
        _save_versioned(
            self._uow,
            _guards,
            _guards.c.establishment_id == guard.establishment_id,
            codec.pin_guard_values(guard, version=guard.version + 1),
            expected=guard.version,
            entity="pin_guard",
            record_id=guard.establishment_id,
        )
        return attrs.evolve(guard, version=guard.version + 1)


def _save_versioned(
    uow: SqlUnitOfWork,
    table: sa.Table,
    this: sa.ColumnElement[bool],
    values: dict[str, object],
    *,
    expected: int,
    entity: str,
    record_id: str,
) -> None:
    """Insert ``values`` as a new row when ``expected`` is 0, else write them over ``this``.

    The insert is ``ON CONFLICT DO NOTHING``: of two first saves at once, the second waits
    for the first's unit of work to end and then inserts nothing. The update is ``UPDATE …
    WHERE version = :expected``. Either way, a row not written is a
    :class:`~practiceid.errors.StaleRecord` (``entity``, ``id``, ``expected``, ``stored``):
    the refused save is run again, and no change is lost.
    """

    def run(connection: sa.Connection) -> int:
        if expected == 0:
            insert = postgresql.insert(table) if _postgres(connection) else sqlite.insert(table)
            # INSERT's row count is kept only when asked for (UPDATE's always is).
            written = connection.execute(
                insert.values(values)
                .on_conflict_do_nothing()
                .execution_options(preserve_rowcount=True)
            )
        else:
            written = connection.execute(
                table.update().where(this, table.c.version == expected).values(values)
            )
        return int(written.rowcount)

    if uow.write(
        run,
        conflict=lambda: _unknown_reference(entity, record_id),
        entity=entity,
        record_id=record_id,
    ):
        return
    stored = uow.read(lambda c: _stored_version(c, table, this))
    raise StaleRecord(entity=entity, id=record_id, expected=expected, stored=stored)


# -- personal key pairs (D3) and second factors (F5) --------------------------------------------

_key_pairs: Final = schema.key_pairs
_factors: Final = schema.factors
_factor_guards: Final = schema.factor_guards
_requirements: Final = schema.factor_requirements
# Establishments asked about at once by ``required_among``: far below every driver's limit
# on a statement's parameters.
_REQUIRED_BATCH: Final = 500

# The look-ups of every sign-in, built once like the users' look-ups: primary keys, and the
# index on a factor's user.
_KEY_PAIR_BY_USER: Final = sa.select(_key_pairs).where(
    _key_pairs.c.user_id == sa.bindparam("user_id")
)
_FACTOR_BY_ID: Final = sa.select(_factors).where(_factors.c.id == sa.bindparam("id"))
_FACTORS_BY_USER: Final = sa.select(_factors).where(_factors.c.user_id == sa.bindparam("user_id"))
_FACTOR_GUARD_BY_USER: Final = sa.select(_factor_guards).where(
    _factor_guards.c.user_id == sa.bindparam("user_id")
)
_REQUIREMENT_BY_ESTABLISHMENT: Final = sa.select(_requirements).where(
    _requirements.c.establishment_id == sa.bindparam("establishment_id")
)
_REQUIRED_AMONG: Final = sa.select(_requirements.c.establishment_id).where(
    _requirements.c.establishment_id.in_(sa.bindparam("establishment_ids", expanding=True)),
    _requirements.c.required.is_(sa.true()),
)


class SqlKeyPairRepository:
    """The :class:`~practiceid.ports.KeyPairRepository` of a :class:`SqlUnitOfWork`.

    One row per user holding a key pair (primary key the user id, referencing the user): the
    public key's DER and its fingerprint, never a private key. Of two units of work adding a
    user's first key pair at once, the second waits for the first to end and then violates
    the primary key: one key is stored, the other refused with DuplicateRecord.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, key_pair: KeyPair) -> KeyPair:
        """Store the user's first key pair; raise DuplicateRecord when they have one."""
        values = codec.key_pair_values(key_pair, version=key_pair.version)
        this = _key_pairs.c.user_id == key_pair.user_id

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, _key_pairs, this)):
                return DuplicateRecord(
                    entity="key_pair", id=key_pair.user_id, user_id=key_pair.user_id
                )
            return _unknown_reference("key_pair", key_pair.user_id)

        self._uow.write(
            lambda c: c.execute(_key_pairs.insert(), values),
            conflict=conflict,
            entity="key_pair",
            record_id=key_pair.user_id,
        )
        return key_pair

    def get(self, user_id: UserId) -> KeyPair:
        """Return the user's key pair; raise KeyPairNotFound."""
        found = self.find(user_id)
        if found is None:
            raise KeyPairNotFound(user_id=user_id)
        return found

    def find(self, user_id: UserId) -> KeyPair | None:
        """Return the user's key pair, if any: a primary-key look-up."""
        if not _text_id(user_id):
            return None
        key = {"user_id": user_id}
        row = self._uow.read(lambda c: c.execute(_KEY_PAIR_BY_USER, key).mappings().first())
        return None if row is None else codec.key_pair_from(row)

    def update(self, key_pair: KeyPair) -> KeyPair:
        """Replace the stored key pair if its version matches; return it, version + 1."""
        _update_versioned(
            self._uow,
            _key_pairs,
            _key_pairs.c.user_id == key_pair.user_id,
            codec.key_pair_values(key_pair, version=key_pair.version + 1),
            expected=key_pair.version,
            entity="key_pair",
            record_id=key_pair.user_id,
            conflict=lambda: _unknown_reference("key_pair", key_pair.user_id),
            not_found=KeyPairNotFound,
            id_params={"user_id": key_pair.user_id},
        )
        return attrs.evolve(key_pair, version=key_pair.version + 1)


class SqlFactorRepository:
    """The :class:`~practiceid.ports.FactorRepository` of a :class:`SqlUnitOfWork`.

    One row per factor (primary key its id), referencing its user (indexed, for
    ``list_for_user``). A TOTP factor's sealed secret is bytes; recovery codes' digests are
    JSON text of hex, in order; networks JSON text, in order.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def add(self, factor: Factor) -> Factor:
        """Store a new factor; raise DuplicateRecord for a taken id."""
        values = codec.factor_values(factor, version=factor.version)
        this = _factors.c.id == factor.id

        def conflict() -> PracticeIdError:
            if self._uow.read(lambda c: _exists(c, _factors, this)):
                return DuplicateRecord(entity="factor", id=factor.id)
            return _unknown_reference("factor", factor.id)

        self._uow.write(
            lambda c: c.execute(_factors.insert(), values),
            conflict=conflict,
            entity="factor",
            record_id=factor.id,
        )
        return factor

    def get(self, factor_id: FactorId) -> Factor:
        """Return the factor; raise FactorNotFound."""
        found = self.find(factor_id)
        if found is None:
            raise FactorNotFound(factor_id=factor_id)
        return found

    def find(self, factor_id: FactorId) -> Factor | None:
        """Return the factor with this id, if any: a primary-key look-up."""
        if not _text_id(factor_id):
            return None
        key = {"id": factor_id}
        row = self._uow.read(lambda c: c.execute(_FACTOR_BY_ID, key).mappings().first())
        return None if row is None else codec.factor_from(row)

    def update(self, factor: Factor) -> Factor:
        """Replace the stored factor if its version matches; return it, version + 1."""
        _update_versioned(
            self._uow,
            _factors,
            _factors.c.id == factor.id,
            codec.factor_values(factor, version=factor.version + 1),
            expected=factor.version,
            entity="factor",
            record_id=factor.id,
            conflict=lambda: _unknown_reference("factor", factor.id),
            not_found=FactorNotFound,
            id_params={"factor_id": factor.id},
        )
        return attrs.evolve(factor, version=factor.version + 1)

    def remove(self, factor_id: FactorId) -> None:
        """Delete the factor; raise FactorNotFound."""
        removed = 0
        if _text_id(factor_id):
            delete = _factors.delete().where(_factors.c.id == factor_id)
            removed = self._uow.write(
                lambda c: int(c.execute(delete).rowcount),
                conflict=lambda: _unknown_reference("factor", factor_id),
                entity="factor",
                record_id=factor_id,
            )
        if not removed:
            raise FactorNotFound(factor_id=factor_id)

    def list_for_user(self, user_id: UserId) -> Sequence[Factor]:
        """Return the user's factors (the index on user_id) by creation time, then id."""
        if not _text_id(user_id):
            return []
        key = {"user_id": user_id}
        rows = self._uow.read(lambda c: c.execute(_FACTORS_BY_USER, key).mappings().all())
        # Sorted here: instants compare as instants, ids in code point order, as in Python.
        return sorted((codec.factor_from(row) for row in rows), key=lambda f: (f.created_at, f.id))


class SqlFactorGuardRepository:
    """The :class:`~practiceid.ports.FactorGuardRepository` of a :class:`SqlUnitOfWork`.

    One row per user who entered a wrong code, referencing the user; the misses are JSON
    text. Saved as PIN guards are (:class:`SqlPinGuardRepository`): a first save is
    ``INSERT … ON CONFLICT DO NOTHING``, later ones ``UPDATE … WHERE version = :read``, and
    either refused as stale when another unit of work got there first.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def find(self, user_id: UserId) -> FactorGuard | None:
        """Return the user's guard, if any: a primary-key look-up."""
        if not _text_id(user_id):
            return None
        key = {"user_id": user_id}
        row = self._uow.read(lambda c: c.execute(_FACTOR_GUARD_BY_USER, key).mappings().first())
        return None if row is None else codec.factor_guard_from(row)

    def save(self, guard: FactorGuard) -> FactorGuard:
        """Store the guard, new at version 0, refusing a stale one; return it, version + 1."""
        _save_versioned(
            self._uow,
            _factor_guards,
            _factor_guards.c.user_id == guard.user_id,
            codec.factor_guard_values(guard, version=guard.version + 1),
            expected=guard.version,
            entity="factor_guard",
            record_id=guard.user_id,
        )
        return attrs.evolve(guard, version=guard.version + 1)


class SqlFactorRequirementRepository:
    """The :class:`~practiceid.ports.FactorRequirementRepository` of a :class:`SqlUnitOfWork`.

    One row per establishment that set its requirement, referencing it; saved as guards are
    (:class:`SqlFactorGuardRepository`). ``required_among`` reads the primary key.
    """

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def find(self, establishment_id: EstablishmentId) -> FactorRequirement | None:
        """Return the establishment's requirement, if any: a primary-key look-up."""
        if not _text_id(establishment_id):
            return None
        key = {"establishment_id": establishment_id}
        row = self._uow.read(
            lambda c: c.execute(_REQUIREMENT_BY_ESTABLISHMENT, key).mappings().first()
        )
        return None if row is None else codec.factor_requirement_from(row)

    def save(self, requirement: FactorRequirement) -> FactorRequirement:
        """Store the requirement, new at version 0, refusing a stale one."""
        _save_versioned(
            self._uow,
            _requirements,
            _requirements.c.establishment_id == requirement.establishment_id,
            codec.factor_requirement_values(requirement, version=requirement.version + 1),
            expected=requirement.version,
            entity="factor_requirement",
            record_id=requirement.establishment_id,
        )
        return attrs.evolve(requirement, version=requirement.version + 1)

    def required_among(
        self, establishment_ids: Sequence[EstablishmentId]
    ) -> Sequence[EstablishmentId]:
        """Return those of ``establishment_ids`` that require a second factor, sorted."""
        asked = sorted({e for e in establishment_ids if _text_id(e)})

        def run(connection: sa.Connection) -> list[str]:
            found: list[str] = []
            for start in range(0, len(asked), _REQUIRED_BATCH):
                batch = {"establishment_ids": asked[start : start + _REQUIRED_BATCH]}
                found += connection.execute(_REQUIRED_AMONG, batch).scalars()
            return found

        # Read even when nothing is asked: outside its unit of work, it raises.
        return sorted(EstablishmentId(e) for e in self._uow.read(run))
