"""The SQL adapter: every repository port on SQLite or PostgreSQL, with SQLAlchemy Core.

Install it with ``pip install 'practiceid[sql]'``. SQLite (a file, or memory) is the
embedded default; PostgreSQL (psycopg 3) is for hosts that run several application servers
on one database. Entities are never mapped by an ORM: the adapter writes and reads rows and
hands back frozen values, like every other adapter.

>>> store = SqlStore.from_url("sqlite://")  # in memory; "sqlite:///practice.db" for a file
>>> store.create_schema()
>>> from practiceid.testing import sample_user
>>> with store.unit_of_work() as uow:
...     uow.users.add(sample_user())
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     len(uow.users.list())
1
>>> store.close()

Transactions. On SQLite a unit of work starts with ``BEGIN IMMEDIATE``: units of work take
turns on the database file (across threads and processes), which makes them serializable,
and readers outside practiceid are never blocked (write-ahead log). On PostgreSQL a unit of
work is a ``READ COMMITTED`` transaction: uniqueness is enforced by unique indexes, and
every ``update`` is conditional on the version that was read (``WHERE version = :read``), so
a concurrent change is refused as stale instead of being overwritten. Deadlocks and
serialization failures become :class:`~practiceid.errors.TransactionConflict`, which the
services run again like any other stale record. An audit append (:class:`SqlAuditLog`) locks
its chain's head row until the unit of work ends (``SELECT … FOR UPDATE``), so that appends
to one establishment's chain take turns and appends to other chains do not wait; on SQLite
the units of work already take turns.

Schema. :meth:`SqlStore.create_schema` creates the tables of a new database;
:meth:`SqlStore.upgrade_schema` brings an older one to this version (Alembic migrations
shipped in the package, tracked in the ``practiceid_schema_version`` table); and
:meth:`SqlStore.check_schema` tells at start-up whether the database is the one this version
expects. See ``docs/sql.md``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

from practiceid.adapters.sql._schema import METADATA, PREFIX
from practiceid.adapters.sql._store import (
    SqlAuditLog,
    SqlClinicLoginRepository,
    SqlDeviceSessionRepository,
    SqlEstablishmentProfileRepository,
    SqlEstablishmentRepository,
    SqlFactorGuardRepository,
    SqlFactorRepository,
    SqlFactorRequirementRepository,
    SqlKeyPairRepository,
    SqlLicenseRepository,
    SqlMemberCredentialRepository,
    SqlMembershipRepository,
    SqlOnboardingRepository,
    SqlOrganisationRepository,
    SqlOutboxRepository,
    SqlPinGuardRepository,
    SqlPractitionerRepository,
    SqlTermsRepository,
    SqlUnitOfWork,
    SqlUserRepository,
    translate,
)
from practiceid.errors import InvalidConfiguration, SchemaMismatch

if TYPE_CHECKING:
    from practiceid.ports import LicenseUnitOfWorkFactory
    from practiceid.ports.audit import KeyProvider
    from practiceid.ports.devices import DeviceUnitOfWorkFactory
    from practiceid.ports.factors import FactorUnitOfWorkFactory

__all__ = [
    "SCHEMA_REVISION",
    "VERSION_TABLE",
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
    "SqlStore",
    "SqlTermsRepository",
    "SqlUnitOfWork",
    "SqlUserRepository",
    "create_engine",
]

MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE: Final = f"{PREFIX}schema_version"
"""The table in which the schema revision is kept (Alembic's version table, renamed)."""

SQLITE_BUSY_TIMEOUT: Final = 30.0
"""Seconds a unit of work waits for another one to finish with a SQLite file."""


def _script() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


SCHEMA_REVISION: Final[str] = str(_script().get_current_head())
"""The schema revision this version of practiceid reads and writes."""


# -- engines --------------------------------------------------------------------------------


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401 - DB-API
    # The driver must not open transactions by itself: the "begin" hook below does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode")
        (mode,) = cursor.fetchone()
        if mode != "memory":  # a file: readers never wait for the writer
            cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # Take the write lock at the start: units of work are serialized, and no transaction
    # ever fails half-way for wanting to write after reading.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


_MAX_NAME: Final = 63  # PostgreSQL's identifier length
# The schema each engine made by create_engine keeps practiceid's tables in (PostgreSQL).
_SCHEMAS: Final[weakref.WeakKeyDictionary[sa.Engine, str]] = weakref.WeakKeyDictionary()


def _checked_schema(schema: object) -> str:
    # An identifier only: it is quoted into DDL and into the search path.
    if not isinstance(schema, str) or not schema.isidentifier() or len(schema) > _MAX_NAME:
        raise InvalidConfiguration(
            "the schema must be an identifier of at most 63 characters", option="schema"
        )
    return schema


def _postgres_search_path(schema: str) -> Callable[[Any, object], None]:
    def connect(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401 - DB-API
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f'SET search_path TO "{schema}"')
        finally:
            cursor.close()
        dbapi_connection.commit()

    return connect


def create_engine(
    url: str | sa.URL,
    *,
    schema: str | None = None,
    **options: Any,  # noqa: ANN401 - sqlalchemy.create_engine's options
) -> sa.Engine:
    """Return an engine set up for practiceid: SQLite or PostgreSQL.

    ``postgresql://`` URLs use psycopg 3. ``schema`` (PostgreSQL only) puts practiceid's
    tables in their own schema, through the connections' ``search_path``. ``options`` go to
    :func:`sqlalchemy.create_engine` (pool sizes, ``echo``…).

    Raises:
        InvalidConfiguration: not a database URL, another database or driver, a driver that
            is not installed, or a schema name that is not an identifier.
    """
    try:
        parsed = sa.make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # a port that is not a number: ValueError
        raise InvalidConfiguration("not a database URL", option="url") from None
    try:
        return _engine(parsed, schema, options)
    except (sa_exc.ArgumentError, ImportError) as error:
        raise InvalidConfiguration(
            "the database driver is not supported or not installed",
            option="url",
            driver=parsed.drivername,
            driver_error=type(error).__name__,
        ) from None


def _engine(parsed: sa.URL, schema: str | None, options: dict[str, Any]) -> sa.Engine:
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise InvalidConfiguration("SQLite has no schemas", option="schema")
        in_memory = parsed.database in (None, "", ":memory:")
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        connect_args.update(options.pop("connect_args", {}))
        if in_memory:
            options.setdefault("poolclass", StaticPool)
        engine = sa.create_engine(parsed, connect_args=connect_args, **options)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.drivername != "postgresql+psycopg":
            raise InvalidConfiguration(
                "practiceid uses psycopg 3 for PostgreSQL", option="url", driver=parsed.drivername
            )
        if schema is not None:
            schema = _checked_schema(schema)
        options.setdefault("isolation_level", "READ COMMITTED")
        options.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(parsed, **options)
        if schema is not None:
            event.listen(engine, "connect", _postgres_search_path(schema))
            _SCHEMAS[engine] = schema
        return engine
    raise InvalidConfiguration(
        "practiceid's SQL adapter supports SQLite and PostgreSQL", option="url", backend=backend
    )


# -- the store --------------------------------------------------------------------------------


class SqlStore:
    """The database practiceid's units of work run on.

    Build it with :meth:`from_url`, or from an engine made by :func:`create_engine` (share
    that engine with the host's own code if it likes). ``unit_of_work`` is the factory the
    services take: ``AccountService(unit_of_work=store.unit_of_work, …)``. The PostgreSQL
    schema, if any, is the one the engine was made with. ``keys`` provides the audit chain's
    key (purpose ``"audit"``); without one the chain is a plain SHA-256 chain (see
    :mod:`practiceid.audit`).

    Raises:
        InvalidConfiguration: a SQLite engine not made by :func:`create_engine`, whose
            transactions would not be serialized.
    """

    def __init__(self, engine: sa.Engine, *, keys: KeyProvider | None = None) -> None:
        if engine.dialect.name == "sqlite" and not event.contains(engine, "begin", _sqlite_begin):
            raise InvalidConfiguration(
                "make SQLite engines with practiceid.adapters.sql.create_engine",
                option="engine",
            )
        self.engine = engine
        self.schema: str | None = _SCHEMAS.get(engine)
        """The PostgreSQL schema holding practiceid's tables (``None``: the search path's)."""
        # An in-memory SQLite database is one connection: units of work take turns on it.
        self._serial_lock = threading.Lock() if isinstance(engine.pool, StaticPool) else None
        self._keys = keys

    @classmethod
    def from_url(
        cls,
        url: str | sa.URL,
        *,
        schema: str | None = None,
        keys: KeyProvider | None = None,
        **options: Any,  # noqa: ANN401 - sqlalchemy.create_engine's options
    ) -> SqlStore:
        """Return a store on the database at ``url`` (see :func:`create_engine`)."""
        return cls(create_engine(url, schema=schema, **options), keys=keys)

    def unit_of_work(self) -> SqlUnitOfWork:
        """Return a new unit of work (a :data:`~practiceid.ports.LicenseUnitOfWorkFactory`)."""
        return SqlUnitOfWork(self)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------

    def _connect(self) -> sa.Connection:
        try:
            return self.engine.connect()
        except sa_exc.SQLAlchemyError as error:
            raise translate(error) from None

    def _ensure_schema(self, connection: sa.Connection) -> None:
        if self.schema is not None:  # an identifier: checked by create_engine
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @staticmethod
    def _revision(connection: sa.Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    def schema_revision(self) -> str | None:
        """Return the database's schema revision, or ``None`` before any practiceid schema."""
        with self._connect() as connection:
            try:
                return self._revision(connection)
            except sa_exc.SQLAlchemyError as error:
                raise translate(error) from None

    def check_schema(self) -> None:
        """Raise :class:`~practiceid.errors.SchemaMismatch` unless the schema is current.

        Call it when the host starts, before serving requests.
        """
        found = self.schema_revision()
        if found != SCHEMA_REVISION:
            raise SchemaMismatch(found=found, expected=SCHEMA_REVISION)

    def create_schema(self) -> None:
        """Create practiceid's tables in a new database, at :data:`SCHEMA_REVISION`.

        Does nothing when the schema is already current. Tables of the host are left alone.

        Raises:
            SchemaMismatch: the database has an older (or newer) practiceid schema: use
                :meth:`upgrade_schema`; or tables with practiceid's names but no revision
                (``tables``), which it will not take over.
        """
        with self._connect() as connection:
            try:
                self._ensure_schema(connection)
                found = self._revision(connection)
                existing = sorted(
                    set(sa.inspect(connection).get_table_names()) & set(METADATA.tables)
                )
                if found is None and existing:
                    # Tables with practiceid's names but no revision: not ours to take over.
                    raise SchemaMismatch(found=None, expected=SCHEMA_REVISION, tables=existing)
                if found is None:
                    METADATA.create_all(connection, checkfirst=False)
                    context = MigrationContext.configure(
                        connection, opts={"version_table": VERSION_TABLE}
                    )
                    context.stamp(_script(), SCHEMA_REVISION)
                connection.commit()
            except sa_exc.SQLAlchemyError as error:
                raise translate(error) from None
        if found not in (None, SCHEMA_REVISION):
            raise SchemaMismatch(found=found, expected=SCHEMA_REVISION)

    def upgrade_schema(self, revision: str = "head") -> None:
        """Run the migrations from the database's revision up to ``revision`` (the newest).

        A new database gets every migration, in order; an up-to-date one is left as it is.
        The whole upgrade is one transaction on SQLite and PostgreSQL, whose DDL is
        transactional: it succeeds entirely or changes nothing.

        Raises:
            SchemaMismatch: the database has a revision this version does not know (it was
                upgraded by a newer practiceid).
            InvalidConfiguration: ``revision`` is neither ``"head"`` nor a revision of this
                version.
        """
        script = _script()
        known = {s.revision for s in script.walk_revisions()}
        if revision != "head" and revision not in known:
            raise InvalidConfiguration(
                "not a schema revision of this version", option="revision", known=sorted(known)
            )
        with self._connect() as connection:
            found = None
            try:
                self._ensure_schema(connection)
                found = self._revision(connection)
                if found is not None and found not in known:
                    raise SchemaMismatch(found=found, expected=SCHEMA_REVISION)
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
            except sa_exc.SQLAlchemyError as error:
                raise translate(error) from None


if TYPE_CHECKING:

    def _takes_every_service(store: SqlStore) -> LicenseUnitOfWorkFactory:
        """``store.unit_of_work`` is what every service takes (checked by mypy, never run)."""
        return store.unit_of_work

    def _takes_the_device_service(store: SqlStore) -> DeviceUnitOfWorkFactory:
        """``store.unit_of_work`` is what the device service takes (checked by mypy too)."""
        return store.unit_of_work

    def _takes_the_factor_services(store: SqlStore) -> FactorUnitOfWorkFactory:
        """``store.unit_of_work`` is what the key pair and factor services take (mypy too)."""
        return store.unit_of_work
