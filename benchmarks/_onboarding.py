"""Section 11: invitations and onboarding on a SQLite file and on PostgreSQL (issue 7).

Each size in ``PRACTICEID_BENCH_ONBOARDING_SIZES`` (10 000, 100 000 and 1 000 000 by default)
has tables of its own (a SQLite file, a PostgreSQL schema) holding that many invited accounts:
a ``practiceid_users`` row and a ``practiceid_onboardings`` row each, and the live links of
those still invited. The rows are made by the adapter's codec (``user_values``,
``onboarding_values``) from realistic records, bound as the dialect's own bind processors
bind them, and loaded in batches of ``BATCH`` (SQLite: ``executemany`` in one transaction a
batch; PostgreSQL: ``COPY``), the secondary indexes dropped before and built after, from
the adapter's definitions (see :class:`Loader`); then what would happen by itself after such
a load: a WAL checkpoint (SQLite), ``VACUUM ANALYZE`` (PostgreSQL's autovacuum). The 1 000 000
rows are made once, for every table. ``PRACTICEID_BENCH_ONBOARDING_DUE`` of them (1 % by default)
are due at ``NOW``, spread uniformly through the table; the rest: 15 % invited with their next
reminder or deadline later, 5 % expired, 20 % accepted, 57 % active and 2 % deactivated
(``due_at`` NULL for all but the invited).

a) The sweep: ``OnboardingService.run_due(NOW)`` once on every table, through the service
   (default settings, 500 records a unit of work): total time, records per second, the
   outbox rows it wrote, and how many statements it sent per record.
b) A sweep with nothing due, on every table, all sizes and both databases timed round-robin:
   before the sweep (``now`` just before the first ``due_at``), and again after it, at the
   same ``now`` (the next run of the job: idempotent, it changes nothing). The yardstick, in
   the same rounds, is the same claim done without the index, what a hand-written job
   without one would cost: the statement the adapter sends, captured as it sends it, through
   the DB-API driver, with and without the index (SQLite ``NOT INDEXED``; PostgreSQL with
   ``enable_indexscan``, ``enable_indexonlyscan`` and ``enable_bitmapscan`` off). The query
   plans are printed.
c) The dispatcher: ``Dispatcher.run_until_idle()`` with a notifier that does nothing,
   delivering the messages the sweep of a) wrote on the largest table (10 000 by default):
   messages per second, statements and commits per message, next to what one commit costs
   on its own (the disk's flush). Reminders carry a link: each mints a token (a unit of work
   of its own) before it is sent. The plan of the dispatcher's claim is printed.
d) Invitation links on the largest table: ``OnboardingService.open(token)`` for a valid link
   and for unknown, used (accepted), expired (not yet swept) and revoked (re-sent) links,
   ``PRACTICEID_BENCH_ONBOARDING_LINKS`` of each (200), made through the services. The docs
   say the four refusals cost the same: the slowest / fastest ratio is printed. The yardstick is
   Django's ``PasswordResetTokenGenerator.check_token``, valid and wrong tokens: alone (it
   reads nothing, as its tokens are stateless HMACs), and as its password-reset view runs
   it, after ``User.objects.get(pk=...)`` on the same database.

Configuration (environment):

* ``PRACTICEID_BENCH_POSTGRES_URL``, else ``PRACTICEID_TEST_POSTGRES_URL``: the PostgreSQL
  server; unset, the PostgreSQL half is skipped (the reason is printed). Everything goes into
  schemas of its own, ``practiceid_bench_onb_<random>_<size>`` (and ``…_django``), dropped at
  the end.
* ``PRACTICEID_BENCH_ONBOARDING_SIZES``: comma-separated table sizes, e.g. ``10000,100000``
  for a quick run; ``PRACTICEID_BENCH_ONBOARDING_DUE``: the fraction due (``0.01`` or
  ``1%``); ``PRACTICEID_BENCH_ONBOARDING_LINKS``: links per case in d) (200).
* SQLite files go to a temporary directory (``TMPDIR``), removed at the end.

The section runs in a process of its own (``python -m benchmarks._onboarding``;
``bench_onboarding`` starts it), as section 10 does: Django is configured here with
databases, and the main process configures it without any.

Timing: b) and d) time every call on its own with ``perf_counter_ns``, gc off during a round,
the clock's overhead subtracted, ``ROUNDS`` rounds, cases compared together round-robin
(:func:`benchmarks._timing.run`). a) and c) change what they touch, so they run once, whole.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import math
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

import practiceid
from benchmarks import _quiet, _report, _section, _timing
from benchmarks._sql import DOMAINS, FIRST_NAMES, LAST_NAMES, POSTGRES_ENVS, Person, person
from practiceid.adapters import StaticAuthorizer
from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql._codec import onboarding_values, user_values
from practiceid.adapters.sql._schema import (
    DUE_INDEX,
    PENDING_INDEX,
    UtcDateTime,
    onboarding_links,
    onboardings,
    outbox,
    users,
)
from practiceid.establishments import EstablishmentId, OrganisationId, ProductKind
from practiceid.invitations import Onboarding, OnboardingMode, OnboardingStatus, new_token
from practiceid.outbox import Delivery, MessageStatus
from practiceid.policies.email import EmailAddress
from practiceid.policies.invitation import InvitationSettings
from practiceid.policies.login import Login
from practiceid.testing import ManualClock, fast_hasher, sample_user
from practiceid.users import User, UserId, UserStatus, new_user_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SIZES_ENV: Final = "PRACTICEID_BENCH_ONBOARDING_SIZES"
DUE_ENV: Final = "PRACTICEID_BENCH_ONBOARDING_DUE"
LINKS_ENV: Final = "PRACTICEID_BENCH_ONBOARDING_LINKS"
DEFAULT_SIZES: Final = (10_000, 100_000, 1_000_000)
DEFAULT_DUE: Final = 0.01
DEFAULT_LINKS: Final = 200

ROUNDS: Final = 5  # b) and d): rounds, round-robin
BATCH: Final = 50_000  # rows per transaction when loading
SEED: Final = 20_260_601

NOW: Final = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # when a) sweeps
DUE_SPREAD: Final = timedelta(days=2)  # due records fell due in the 2 days before NOW
QUIET: Final = NOW - DUE_SPREAD - timedelta(minutes=1)  # b), before a): nothing due yet
SET_UP_AT: Final = NOW - timedelta(days=400)  # the practice's own creation
LINKS_AT: Final = NOW + timedelta(days=30)  # d): the links' rounds start here
LINK_PEOPLE: Final = 2 * 10**9  # d): people invited through the service, never bulk-loaded

PASSWORD: Final = "Vrai-Cheval-Agrafe-42"
SQLITE: Final = "SQLite file"
POSTGRES: Final = "PostgreSQL"
OWNER: Final = UserId("bench-owner")
ORGANISATION: Final = OrganisationId("bench-organisation")
ESTABLISHMENT: Final = EstablishmentId("bench-hospital")
DJANGO_HASHER: Final = "django.contrib.auth.hashers.MD5PasswordHasher"

SETTINGS: Final = InvitationSettings()  # what the service runs with: 3, 7, 12 days; 14
# The mix of records that are not due, in parts of 99 (the 1 % due make up the hundredth).
MIX: Final = (
    (OnboardingStatus.INVITED, 15),
    (OnboardingStatus.EXPIRED, 5),
    (OnboardingStatus.ACCEPTED, 20),
    (OnboardingStatus.ACTIVE, 57),
    (OnboardingStatus.DEACTIVATED, 2),
)
BUCKETS: Final = tuple(status for status, parts in MIX for _ in range(parts))


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: which table sizes, how many due, how many links, which PostgreSQL."""

    sizes: tuple[int, ...]
    due: float
    links: int
    postgres_url: str | None
    postgres_from: str  # the variable that gave the URL, or why there is none


def _ints(name: str, default: Sequence[int]) -> tuple[int, ...]:
    raw = os.environ.get(name, "").replace("_", "").strip()
    if not raw:
        return tuple(default)
    try:
        values = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: expected comma-separated numbers") from None
    if not values or values[0] < 1:
        raise SystemExit(f"{name}={raw!r}: expected positive numbers")
    return values


def _fraction(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r}: expected a fraction (0.01) or a percentage") from None
    if not 0 <= value < 1:
        raise SystemExit(f"{name}={raw!r}: expected a fraction from 0 to 1")
    return value


def read_config() -> Config:
    """Read the environment (see the module's docstring)."""
    sizes = _ints(SIZES_ENV, DEFAULT_SIZES)
    due = _fraction(DUE_ENV, DEFAULT_DUE)
    (links, *_) = _ints(LINKS_ENV, (DEFAULT_LINKS,))
    for name in POSTGRES_ENVS:
        if url := os.environ.get(name, "").strip():
            return Config(sizes, due, links, url, name)
    reason = f"neither {' nor '.join(POSTGRES_ENVS)} is set"
    return Config(sizes, due, links, None, reason)


# -- the practice, through the services -------------------------------------------------------


class NoOpNotifier:
    """Accepts every delivery and does nothing: c) measures the dispatcher and the outbox."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, _delivery: Delivery) -> None:
        self.calls += 1


@dataclass
class Practice:
    """One table size on one database: the store and the services on it."""

    size: int
    store: SqlStore
    clock: ManualClock
    access: practiceid.AccessService
    onboarding: practiceid.OnboardingService

    def dispatcher(self, notifier: Any) -> practiceid.Dispatcher:  # noqa: ANN401 - a Notifier
        return practiceid.Dispatcher(
            unit_of_work=self.store.unit_of_work, notifier=notifier, clock=self.clock
        )


def open_practice(size: int, store: SqlStore) -> Practice:
    """Create the schema, the owner, the organisation and the hospital, through the services.

    The ids are the same on every table, so that one set of bulk rows names them all.
    """
    store.create_schema()
    clock = ManualClock()
    clock.set(SET_UP_AT)
    access = practiceid.AccessService(unit_of_work=store.unit_of_work, clock=clock)
    accounts = practiceid.AccountService(
        unit_of_work=store.unit_of_work,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=StaticAuthorizer(),
    )
    owner = sample_user(id=OWNER, first_name="Olivia", last_name="Proprio", created_at=SET_UP_AT)
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.commit()
    access.found_organisation(owner=OWNER, name="Groupe de l'Exemple", organisation_id=ORGANISATION)
    access.open_establishment(
        actor=OWNER,
        organisation_id=ORGANISATION,
        name="Hôpital de l'Exemple",
        product=ProductKind.HOSPITAL,
        establishment_id=ESTABLISHMENT,
    )
    service = practiceid.OnboardingService(
        unit_of_work=store.unit_of_work, access=access, accounts=accounts, clock=clock
    )
    return Practice(size, store, clock, access, service)


# -- databases --------------------------------------------------------------------------------


@dataclass
class Backend:
    """One database server: a practice per table size, and plain DB-API connections."""

    name: str
    explain: str  # the statement prefix that prints a query plan
    driver: Callable[[SqlStore], Any]  # an autocommit DB-API connection to a store's tables
    scan: Callable[[Any, str], str]  # disables the index on a connection; returns the SQL
    practices: dict[int, Practice] = field(default_factory=dict)

    @property
    def largest(self) -> Practice:
        return self.practices[max(self.practices)]


@dataclass
class Setup:
    """Everything the section made, so that :func:`teardown` can remove it."""

    config: Config
    directory: Path
    schema: str  # PostgreSQL: one schema per size, <schema>_<size>; Django's, <schema>_django
    schemas: list[str]
    backends: list[Backend]


def _sqlite_driver(store: SqlStore) -> Any:  # noqa: ANN401 - a DB-API connection
    database = store.engine.url.database
    assert database is not None  # noqa: S101 - the bench's stores are files
    return sqlite3.connect(database, isolation_level=None)


_FROM_ONBOARDINGS: Final = re.compile(rf"\bFROM {onboardings.name}\b")


def _sqlite_scan(_connection: Any, statement: str) -> str:  # noqa: ANN401
    """The same statement, told not to use any index of the table (``NOT INDEXED``)."""
    scan, found = _FROM_ONBOARDINGS.subn(f"FROM {onboardings.name} NOT INDEXED", statement, 1)
    if not found:
        raise SystemExit(f"onboarding benchmark: no FROM {onboardings.name} in {statement!r}")
    return scan


def _postgres_scan(connection: Any, statement: str) -> str:  # noqa: ANN401
    """The same statement, on a connection whose planner may use no index."""
    for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
        connection.execute(f"SET {setting} = off")
    return statement


def setup(config: Config) -> Setup:
    """Create the SQLite files and PostgreSQL schemas, each with its practice."""
    made = Setup(
        config=config,
        directory=Path(tempfile.mkdtemp(prefix="practiceid-bench-onboarding-")),
        schema=f"practiceid_bench_onb_{uuid.uuid4().hex[:12]}",
        schemas=[],
        backends=[],
    )
    try:
        sqlite = Backend(SQLITE, "EXPLAIN QUERY PLAN", _sqlite_driver, _sqlite_scan)
        made.backends.append(sqlite)
        for size in config.sizes:
            store = SqlStore.from_url(f"sqlite:///{made.directory / f'onboarding-{size}.db'}")
            sqlite.practices[size] = open_practice(size, store)
        if config.postgres_url is not None:
            postgres = Backend(
                POSTGRES, "EXPLAIN", _section.postgres_driver(config.postgres_url), _postgres_scan
            )
            made.backends.append(postgres)
            for size in config.sizes:
                schema = f"{made.schema}_{size}"
                made.schemas.append(schema)
                store = SqlStore.from_url(config.postgres_url, schema=schema)
                postgres.practices[size] = open_practice(size, store)
        _configure_django(made)
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to see
            teardown(made)
        raise
    return made


def teardown(made: Setup) -> None:
    """Close every connection, drop the PostgreSQL schemas, remove the SQLite files."""
    with contextlib.suppress(ImportError):
        from django.db import connections  # noqa: PLC0415

        with contextlib.suppress(Exception):
            connections.close_all()
    for backend in made.backends:
        for practice in backend.practices.values():
            practice.store.close()
    if made.schemas and made.config.postgres_url is not None:
        with SqlStore.from_url(made.config.postgres_url) as admin, admin.engine.begin() as c:
            for schema in made.schemas:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for path in sorted(made.directory.iterdir()):
        path.unlink()
    made.directory.rmdir()


# -- Django, the yardstick of d) --------------------------------------------------------------


def _configure_django(made: Setup) -> None:
    import django  # noqa: PLC0415 - configured here, in this process only
    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415

    databases: dict[str, dict[str, Any]] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(made.directory / "django.db"),
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL"},
        }
    }
    url = made.config.postgres_url
    if url is not None:
        parsed = sa.make_url(url)
        schema = f"{made.schema}_django"
        made.schemas.append(schema)
        with SqlStore.from_url(url) as admin, admin.engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        databases["postgres"] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.database or "",
            "USER": parsed.username or "",
            "PASSWORD": parsed.password or "",
            "HOST": parsed.host or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": {"options": f"-c search_path={schema}"},
        }
    settings.configure(
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        DATABASES=databases,
        PASSWORD_HASHERS=[DJANGO_HASHER],
        SECRET_KEY=f"bench-{uuid.uuid4().hex}",
        USE_TZ=True,
    )
    django.setup()
    for alias in databases:
        call_command("migrate", database=alias, verbosity=0, interactive=False)


def _django_alias(backend: Backend) -> str:
    return "postgres" if backend.name == POSTGRES else "default"


# -- the rows ---------------------------------------------------------------------------------


@dataclass
class Chunk:
    """The codec's rows for records ``first`` to ``first + len(users) - 1``."""

    first: int
    users: list[dict[str, object]]
    onboardings: list[dict[str, object]]
    links: list[list[dict[str, object]]]  # per record, its live links' rows

    def cut(self, size: int) -> tuple[list[Any], list[Any], list[Any]]:
        """The rows of the records below ``size`` (every table holds a prefix of them)."""
        count = max(min(size - self.first, len(self.users)), 0)
        links = [row for rows in self.links[:count] for row in rows]
        return self.users[:count], self.onboardings[:count], links


@functools.cache
def _names(combination: int) -> tuple[str, str, str]:
    """The login's stem and the names ``person`` gives every index with this combination."""
    who = person(combination)
    return who.login.rsplit(".", 1)[0], who.first_name, who.last_name


def bulk_person(index: int) -> Person:
    """``person(index)``, its names' ASCII forms made once (loading makes a million)."""
    stem, first, last = _names(index % (len(FIRST_NAMES) * len(LAST_NAMES)))
    return Person(
        login=f"{stem}.{index}",
        email=f"{stem}.{index}@{DOMAINS[index % len(DOMAINS)]}",
        first_name=first,
        last_name=last,
    )


class Records:
    """Makes record ``index`` after record ``index - 1``: one random sequence for all sizes."""

    def __init__(self, due: float, password_hash: str) -> None:
        if any(bulk_person(i) != person(i) for i in (0, 1, 11, 12, 143, 144, 999_999)):
            raise SystemExit("onboarding benchmark: bulk_person differs from person")
        self.rng = random.Random(SEED)
        self.due = due
        self.password_hash = password_hash
        self.due_made = 0

    def is_due(self, index: int) -> bool:
        """Due records are spread evenly: every table's prefix holds its share."""
        return math.floor((index + 1) * self.due) > math.floor(index * self.due)

    def user(self, index: int, created_at: datetime, status: OnboardingStatus) -> User:
        who = bulk_person(index)
        has_password = status not in {OnboardingStatus.INVITED, OnboardingStatus.EXPIRED}
        return User(
            id=new_user_id(),
            login=Login(who.login),
            email=EmailAddress(who.email),
            first_name=who.first_name,
            last_name=who.last_name,
            created_at=created_at,
            job_title="Infirmier" if index % 3 else "Médecin",
            status=(
                UserStatus.DEACTIVATED
                if status is OnboardingStatus.DEACTIVATED
                else UserStatus.ACTIVE
            ),
            password_hash=self.password_hash if has_password else None,
        )

    def _digests(self, count: int) -> tuple[bytes, ...]:
        return tuple(self.rng.randbytes(32) for _ in range(count))

    def _invited(self, sent_at: datetime, reminders_sent: int) -> dict[str, Any]:
        """A round started at ``sent_at`` that sent ``reminders_sent`` reminders, one link each."""
        expires_at = sent_at + SETTINGS.expiry
        due_at = SETTINGS.due_at(sent_at, reminders_sent)
        return {
            "status": OnboardingStatus.INVITED,
            "sent_at": sent_at,
            "expires_at": expires_at,
            "due_at": min(due_at, expires_at),
            "reminders_sent": reminders_sent,
            "token_digests": self._digests(1 + reminders_sent),
        }

    def _due(self) -> dict[str, Any]:
        """Due at ``NOW``: the 1st, 2nd or 3rd reminder, or the deadline, in turn."""
        kind = self.due_made % (len(SETTINGS.reminders) + 1)
        self.due_made += 1
        fell_due = NOW - timedelta(seconds=self.rng.uniform(60, DUE_SPREAD.total_seconds()))
        if kind < len(SETTINGS.reminders):
            return self._invited(fell_due - SETTINGS.reminders[kind], kind)
        return self._invited(fell_due - SETTINGS.expiry, len(SETTINGS.reminders))

    def _later(self) -> dict[str, Any]:
        """Invited, the next reminder or the deadline after ``NOW``."""
        elapsed = timedelta(
            seconds=self.rng.uniform(0, (SETTINGS.expiry - DUE_SPREAD).total_seconds())
        )
        sent = sum(1 for offset in SETTINGS.reminders if offset <= elapsed)
        return self._invited(NOW - elapsed, sent)

    def _settled(self, status: OnboardingStatus) -> dict[str, Any]:
        days = self.rng.uniform(15, 365)
        sent_at = NOW - timedelta(days=days)
        if status is OnboardingStatus.EXPIRED:
            return {
                "status": status,
                "sent_at": sent_at,
                "expires_at": sent_at + SETTINGS.expiry,
                "reminders_sent": len(SETTINGS.reminders),
            }
        accepted = sent_at + timedelta(hours=self.rng.uniform(1, 72))
        signed_in = accepted + timedelta(minutes=self.rng.uniform(1, 600))
        values: dict[str, Any] = {
            "status": status,
            "sent_at": sent_at,
            "expires_at": sent_at + SETTINGS.expiry,
            "accepted_at": accepted,
        }
        if status is not OnboardingStatus.ACCEPTED:
            values |= {"signed_in_at": signed_in, "activated_at": signed_in}
        if status is OnboardingStatus.DEACTIVATED:
            values["resume"] = OnboardingStatus.ACTIVE
        return values

    def record(self, index: int) -> tuple[User, Onboarding]:
        if self.is_due(index):
            values = self._due()
        else:
            status = BUCKETS[index % len(BUCKETS)]
            values = self._later() if status is OnboardingStatus.INVITED else self._settled(status)
        sent_at: datetime = values["sent_at"]
        user = self.user(index, sent_at, values["status"])
        onboarding = Onboarding(
            user_id=user.id,
            establishment_id=ESTABLISHMENT,
            mode=OnboardingMode.INVITATION,
            created_at=sent_at,
            invited_by=OWNER,
            locale="fr-FR",
            round=1,
            email_key=user.email.key,
            sends=(sent_at,),
            **values,
        )
        return user, onboarding

    def chunk(self, first: int, last: int) -> Chunk:
        made = Chunk(first, [], [], [])
        for index in range(first, last):
            user, onboarding = self.record(index)
            made.users.append(user_values(user, version=0))
            made.onboardings.append(onboarding_values(onboarding, version=0))
            made.links.append(
                [
                    {"digest": digest, "user_id": user.id, "position": position}
                    for position, digest in enumerate(onboarding.token_digests)
                ]
            )
        return made


# -- loading ----------------------------------------------------------------------------------


def _sqlite_instant(value: datetime) -> str:
    """What UtcDateTime and SQLAlchemy's SQLite DATETIME bind, in one C call."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass(frozen=True)
class Column:
    """How one column's values are bound: as SQLAlchemy's processor for the dialect does."""

    name: str
    process: Callable[[Any], Any] | None
    bind_none: bool  # the processor binds None as something else (a JSON document's null)
    checked: Callable[[Any], Any] | None = None  # SQLAlchemy's own, when ``process`` is ours


class Loader:
    """Writes codec rows to one database the fast way, with its dialect's bind processors.

    On SQLite, instants are formatted by ``datetime.isoformat`` rather than by SQLAlchemy's
    three nested processors (a third of the loading time): the same text, compared with
    SQLAlchemy's on the first row of every batch. The secondary indexes are dropped before
    the first batch and built again after the last (:meth:`drop_indexes`,
    :meth:`build_indexes`) from the adapter's own definitions, as PostgreSQL's documentation
    advises for populating a database.
    """

    TABLES: Final = (users, onboardings, onboarding_links)

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        dialect = backend.largest.store.engine.dialect
        self.columns = {table.name: self._columns(table, dialect) for table in self.TABLES}

    @staticmethod
    def _columns(table: sa.Table, dialect: sa.Dialect) -> list[Column]:
        columns = []
        for column in table.columns:
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            bind_none = process is not None and process(None) is not None
            if dialect.name == "sqlite" and isinstance(column.type, UtcDateTime):
                columns.append(Column(column.name, _sqlite_instant, bind_none, process))
            else:
                columns.append(Column(column.name, process, bind_none))
        return columns

    def tuples(self, table: sa.Table, rows: Sequence[dict[str, object]]) -> list[tuple[Any, ...]]:
        """The values the adapter would send for ``rows``, in the table's column order."""
        columns = [(c.name, c.process, c.bind_none) for c in self.columns[table.name]]
        made = []
        for row in rows:
            values = []
            for name, process, bind_none in columns:
                value = row[name]
                if process is None or (value is None and not bind_none):
                    values.append(value)
                else:
                    values.append(process(value))
            made.append(tuple(values))
        if rows:
            self._check(table, rows[0], made[0])
        return made

    def _check(self, table: sa.Table, row: dict[str, object], made: tuple[Any, ...]) -> None:
        for column, value in zip(self.columns[table.name], made, strict=True):
            if column.checked is not None and row[column.name] is not None:
                expected = column.checked(row[column.name])
                if value != expected:
                    raise SystemExit(
                        f"onboarding benchmark: {table.name}.{column.name} bound as {value!r},"
                        f" SQLAlchemy binds {expected!r}"
                    )

    def drop_indexes(self, store: SqlStore) -> None:
        with store.engine.begin() as connection:
            for table in self.TABLES:
                for index in table.indexes:
                    index.drop(connection)

    def build_indexes(self, store: SqlStore) -> None:
        with store.engine.begin() as connection:
            for table in self.TABLES:
                for index in table.indexes:
                    index.create(connection)

    def insert(
        self, store: SqlStore, batches: Sequence[tuple[sa.Table, list[tuple[Any, ...]]]]
    ) -> None:
        with store.engine.begin() as connection:
            for table, rows in batches:
                if rows:
                    self._insert(connection, table, rows)

    def _insert(
        self, connection: sa.Connection, table: sa.Table, rows: list[tuple[Any, ...]]
    ) -> None:
        names = ", ".join(column.name for column in self.columns[table.name])
        if self.backend.name == POSTGRES:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in self.columns[table.name])
        connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # noqa: S608 - our own table and column names


@dataclass
class Loaded:
    """How long loading took, and how big the tables are."""

    rows_s: float = 0.0  # making the codec's rows, once for every table
    process_s: dict[str, float] = field(default_factory=dict)  # bind processors, per database
    seconds: dict[tuple[str, int], float] = field(default_factory=dict)
    index_s: dict[tuple[str, int], float] = field(default_factory=dict)  # of seconds
    vacuum_s: dict[tuple[str, int], float] = field(default_factory=dict)
    megabytes: dict[tuple[str, int], float] = field(default_factory=dict)
    counts: dict[int, dict[str, int]] = field(default_factory=dict)  # size -> status -> rows
    links: dict[int, int] = field(default_factory=dict)  # size -> live links


def _fill(loaded: Loaded, loader: Loader, chunk: Chunk, largest: int) -> None:
    """Process a chunk's rows once for this database; insert each table's share of them."""
    began = time.perf_counter()
    tables = (users, onboardings, onboarding_links)
    processed = [
        loader.tuples(table, rows) for table, rows in zip(tables, chunk.cut(largest), strict=True)
    ]
    name = loader.backend.name
    loaded.process_s[name] = loaded.process_s.get(name, 0.0) + time.perf_counter() - began
    for size, practice in loader.backend.practices.items():
        if chunk.first >= size:
            continue
        began = time.perf_counter()
        kept = chunk.cut(size)
        loader.insert(
            practice.store,
            [
                (table, rows[: len(cut)])
                for table, rows, cut in zip(tables, processed, kept, strict=True)
            ],
        )
        loaded.seconds[name, size] += time.perf_counter() - began


def _indexes(loaded: Loaded, loader: Loader, *, build: bool) -> None:
    """Drop (or build) the secondary indexes of every table of one database, timed."""
    for size, practice in loader.backend.practices.items():
        began = time.perf_counter()
        if build:
            loader.build_indexes(practice.store)
            loaded.index_s[loader.backend.name, size] = time.perf_counter() - began
        else:
            loader.drop_indexes(practice.store)
        loaded.seconds[loader.backend.name, size] += time.perf_counter() - began


def _after_load(made: Setup, loaded: Loaded) -> None:
    """What would happen by itself after such a load, done now: PostgreSQL's autovacuum
    (VACUUM ANALYZE), SQLite's checkpoints (the WAL written back, then truncated). Then the
    sizes, and what the tables hold."""
    for backend in made.backends:
        for size, practice in backend.practices.items():
            began = time.perf_counter()
            if backend.name == POSTGRES:
                _vacuum(practice.store)
            else:
                with contextlib.closing(backend.driver(practice.store)) as connection:
                    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            loaded.vacuum_s[backend.name, size] = time.perf_counter() - began
            loaded.megabytes[backend.name, size] = _megabytes(backend, practice.store)
    for size, practice in made.backends[0].practices.items():
        loaded.counts[size], loaded.links[size] = _counts(practice.store)


def load(made: Setup, password_hash: str) -> Loaded:
    """Fill every table with records 0 to size - 1, ``BATCH`` records a transaction."""
    loaded = Loaded()
    loaders = [Loader(backend) for backend in made.backends]
    records = Records(made.config.due, password_hash)
    largest = max(made.config.sizes)
    loaded.seconds = {(b.name, size): 0.0 for b in made.backends for size in b.practices}
    for loader in loaders:
        _indexes(loaded, loader, build=False)
    for first in range(0, largest, BATCH):
        began = time.perf_counter()
        chunk = records.chunk(first, min(first + BATCH, largest))
        loaded.rows_s += time.perf_counter() - began
        for loader in loaders:
            _fill(loaded, loader, chunk, largest)
    for loader in loaders:
        _indexes(loaded, loader, build=True)
    _after_load(made, loaded)
    return loaded


def _vacuum(store: SqlStore) -> None:
    autocommit = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection:
        for table in (users, onboardings, onboarding_links):
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")


def _megabytes(backend: Backend, store: SqlStore) -> float:
    if backend.name == POSTGRES:
        size = sa.func.pg_total_relation_size
        with store.engine.connect() as connection:
            total = sum(
                connection.execute(sa.select(size(table.name))).scalar_one()
                for table in (users, onboardings, onboarding_links)
            )
        return total / 2**20
    database = Path(str(store.engine.url.database))
    return sum(p.stat().st_size for p in database.parent.glob(f"{database.name}*")) / 2**20


def _counts(store: SqlStore) -> tuple[dict[str, int], int]:
    """Records by status (``due`` apart), and live links."""
    with store.engine.connect() as connection:
        by_status = dict(
            connection.execute(
                sa.select(onboardings.c.status, sa.func.count()).group_by(onboardings.c.status)
            ).all()
        )
        due = _scalar(connection, _due_count(NOW))
        links = _scalar(connection, sa.select(sa.func.count()).select_from(onboarding_links))
    by_status[OnboardingStatus.INVITED.value] -= due
    return {"due": due, **by_status}, links


def _scalar(connection: sa.Connection, query: sa.Select[Any]) -> int:
    return int(connection.execute(query).scalar_one())


def _due_count(now: datetime) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(onboardings).where(onboardings.c.due_at <= now)


def _pending_count() -> sa.Select[Any]:
    pending = outbox.c.status == MessageStatus.PENDING.value
    return sa.select(sa.func.count()).select_from(outbox).where(pending)


def _count(store: SqlStore, query: sa.Select[Any]) -> int:
    with store.engine.connect() as connection:
        return _scalar(connection, query)


# -- a) the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """What one sweep over one table did."""

    size: int
    due: int
    report: practiceid.SweepReport
    seconds: float
    statements: int
    written: int  # outbox rows

    @property
    def per_second(self) -> float:
        return self.report.changed / self.seconds if self.seconds else math.nan

    @property
    def per_record_us(self) -> float:
        return self.seconds / self.report.changed * 1e6 if self.report.changed else math.nan


def sweep(practice: Practice) -> Sweep:
    """Run the sweep at ``NOW`` once, whole; check it did what was due and nothing more."""
    store = practice.store
    due = _count(store, _due_count(NOW))
    before = _count(store, sa.select(sa.func.count()).select_from(outbox))
    practice.clock.set(NOW)
    with _section.capturing(store) as seen:
        began = time.perf_counter()
        report = practice.onboarding.run_due(NOW)
        seconds = time.perf_counter() - began
    written = _count(store, sa.select(sa.func.count()).select_from(outbox)) - before
    left = _count(store, _due_count(NOW))
    if report.changed != due or written != due or left:
        raise SystemExit(
            f"onboarding benchmark: {due} due, the sweep changed {report.changed}, wrote"
            f" {written} messages, left {left} due"
        )
    return Sweep(practice.size, due, report, seconds, len(seen), written)


def bench_sweeps(made: Setup) -> dict[str, list[Sweep]]:
    """a): the sweep on every table, smallest first."""
    sweeps: dict[str, list[Sweep]] = {backend.name: [] for backend in made.backends}
    for size in made.config.sizes:
        for backend in made.backends:
            sweeps[backend.name].append(sweep(backend.practices[size]))
    return sweeps


def print_sweeps(made: Setup, sweeps: dict[str, list[Sweep]]) -> dict[str, float]:
    print()
    share = f"{made.config.due:.1%}"
    print(f"11a. The sweep, run_due(now), once on every table, {share} of the records due:")
    rows = []
    for name, runs in sweeps.items():
        rows += [
            [
                name,
                f"{run.size:,}",
                f"{run.due:,}",
                f"{len(run.report.reminded):,}",
                f"{len(run.report.expired):,}",
                f"{run.written:,}",
                f"{run.seconds:.2f}",
                f"{run.per_second:,.0f}",
                _report.us(run.per_record_us),
                f"{run.statements / max(run.report.changed, 1):.1f}",
            ]
            for run in runs
        ]
    _report.table(
        [
            "database",
            "records",
            "due",
            "reminded",
            "expired",
            "outbox",
            "sweep s",
            "records/s",
            "us/record",
            "stmts/rec",
        ],
        rows,
        left=1,
    )
    _report.note("through OnboardingService.run_due with its defaults (500 records a unit of")
    _report.note("work); due: reminders 1, 2, 3 and deadlines in turn, fallen due in the last")
    _report.note("2 days; outbox: the messages it wrote. stmts/rec: statements per changed")
    _report.note("record as SQLAlchemy sends them (the claim's share, the account, the")
    _report.note("establishment, the inviter for an expiry, the update and its links, the")
    _report.note("outbox insert, two savepoints each with its release; no pre-ping).")
    ratios = {}
    first, last = made.config.sizes[0], made.config.sizes[-1]
    growth = f"{_section.short(last)} / {_section.short(first)}"
    for name, runs in sweeps.items():
        if len(runs) > 1 and runs[0].report.changed and runs[-1].report.changed:
            ratios[f"sweep, time per due record ({name}), {growth}"] = (
                runs[-1].per_record_us / runs[0].per_record_us
            )
    return ratios


# -- b) a sweep with nothing due --------------------------------------------------------------

CLAIM: Final = _quiet.Claim(
    section=11,
    benchmark="onboarding benchmark",
    run_due=lambda practice, now: practice.onboarding.run_due(now),
    table=onboardings,
    index=DUE_INDEX,
    records="records",
    rounds=ROUNDS,
    after=(
        "On PostgreSQL the index still holds the entries the sweep's updates left",
        "(the 1 % it changed, under their old due_at) until a VACUUM removes them:",
        "the claim steps over them, so it grows with what the last sweep changed,",
        "not with the table. SQLite updates its index in place.",
    ),
)


# -- c) the dispatcher ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """What one dispatcher run until idle did on one table."""

    size: int
    messages: int
    report: practiceid.DispatchReport
    seconds: float
    statements: int
    commits: int
    commit_us: float  # a one-row INSERT and its COMMIT through the driver, median

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else math.nan


@contextlib.contextmanager
def counting_commits(store: SqlStore) -> Iterator[list[int]]:
    """Count the transactions committed through ``store``."""
    commits = [0]

    def listen(_connection: Any) -> None:  # noqa: ANN401
        commits[0] += 1

    sa.event.listen(store.engine, "commit", listen)
    try:
        yield commits
    finally:
        sa.event.remove(store.engine, "commit", listen)


COMMITS: Final = 30  # one-row transactions timed for the cost of a commit


def commit_cost_us(backend: Backend, store: SqlStore) -> float:
    """The median time of a one-row INSERT committed alone (the disk's flush): the floor."""
    times = []
    with contextlib.closing(backend.driver(store)) as connection:
        connection.execute("CREATE TABLE bench_commit (n INTEGER)")
        begin = "BEGIN IMMEDIATE" if backend.name == SQLITE else "BEGIN"
        for _ in range(COMMITS):
            began = time.perf_counter_ns()
            connection.execute(begin)
            connection.execute("INSERT INTO bench_commit (n) VALUES (1)")
            connection.execute("COMMIT")
            times.append(time.perf_counter_ns() - began)
        connection.execute("DROP TABLE bench_commit")
    return statistics.median(times) / 1e3


def dispatch(backend: Backend, practice: Practice) -> Delivered:
    """Deliver every pending message with a notifier that does nothing; check them all sent."""
    store = practice.store
    pending = _count(store, _pending_count())
    notifier = NoOpNotifier()
    dispatcher = practice.dispatcher(notifier)
    practice.clock.set(NOW)
    with _section.capturing(store) as seen, counting_commits(store) as commits:
        began = time.perf_counter()
        report = dispatcher.run_until_idle(max_runs=pending // dispatcher.batch_size + 10)
        seconds = time.perf_counter() - began
    left = _count(store, _pending_count())
    if len(report.sent) != pending or notifier.calls != pending or left:
        raise SystemExit(
            f"onboarding benchmark: {pending} pending, {len(report.sent)} sent"
            f" ({notifier.calls} calls), {left} left"
        )
    commit_us = commit_cost_us(backend, store)
    return Delivered(practice.size, pending, report, seconds, len(seen), commits[0], commit_us)


def bench_dispatch(made: Setup) -> tuple[dict[str, Delivered], dict[str, list[str]]]:
    """c): deliver what a) wrote on the largest tables; the plan of the dispatcher's claim."""
    delivered = {}
    plans = {}
    for backend in made.backends:
        practice = backend.largest
        delivered[backend.name] = dispatch(backend, practice)
        with _section.capturing(practice.store) as seen:
            practice.dispatcher(NoOpNotifier()).run_once()
        statement, parameters = _section.one_statement(seen, outbox.name, "UPDATE")
        with contextlib.closing(backend.driver(practice.store)) as connection:
            plans[backend.name] = _section.query_plan(backend, connection, statement, parameters)
    return delivered, plans


def print_dispatch(delivered: dict[str, Delivered], plans: dict[str, list[str]]) -> None:
    print()
    print("11c. The dispatcher, run_until_idle(), delivering what 11a wrote on the largest table")
    print("(a notifier that does nothing):")
    rows = [
        [
            name,
            f"{run.messages:,}",
            f"{run.seconds:.1f}",
            f"{run.per_second:,.0f}",
            _report.us(run.seconds / max(run.messages, 1) * 1e6),
            f"{run.statements / max(run.messages, 1):.1f}",
            f"{run.commits / max(run.messages, 1):.2f}",
            _report.us(run.commit_us),
        ]
        for name, run in delivered.items()
    ]
    _report.table(
        [
            "database",
            "messages",
            "s",
            "per second",
            "us / message",
            "statements",
            "commits",
            "one commit us",
        ],
        rows,
    )
    _report.note("100 messages a claim (the default batch). A reminder carries a link: its token")
    _report.note("is minted in a unit of work of its own (the record, the account, the digest")
    _report.note("stored) before the notifier gets it; then its outcome is recorded in another.")
    _report.note("statements, commits: per message. one commit: a one-row INSERT committed")
    _report.note("alone through the driver (median of 30), the floor of any unit of work that")
    _report.note("writes: SQLite synchronous=FULL and PostgreSQL synchronous_commit=on wait for")
    _report.note("the disk at every commit.")
    for name, plan in plans.items():
        print(f"  {name}: the claim's plan (an UPDATE of the ids a sub-select takes):")
        for line in plan:
            print(f"    {line}")
        if not any(PENDING_INDEX in line for line in plan):
            print(f"  WARNING: the dispatcher's claim does not use {PENDING_INDEX} on {name}")


# -- d) invitation links ----------------------------------------------------------------------

VALID: Final = "open, valid link"
REFUSED: Final = ("unknown", "used", "expired", "revoked")
DJANGO_VIEW: Final = "Django reset view, valid"
DJANGO_VIEW_WRONG: Final = "Django reset view, wrong token"
DJANGO_ALONE: Final = "Django check_token alone, valid"
DJANGO_ALONE_WRONG: Final = "Django check_token alone, wrong token"


def _refused(kind: str) -> str:
    return f"open, {kind} link"


def _invite(practice: Practice, start: int, count: int) -> list[UserId]:
    ids = []
    for index in range(start, start + count):
        who = person(LINK_PEOPLE + index)
        invited = practice.onboarding.invite(
            actor=OWNER,
            establishment_id=ESTABLISHMENT,
            email=who.email,
            first_name=who.first_name,
            last_name=who.last_name,
        )
        ids.append(invited.user.id)
    return ids


def _deliver(practice: Practice) -> dict[UserId, str]:
    """Deliver what is pending; return the newest link's token of each account."""
    notifier = practiceid.adapters.RecordingNotifier()
    practice.dispatcher(notifier).run_until_idle(max_runs=100_000)
    return {
        delivery.message.user_id: delivery.token
        for delivery in notifier.sent
        if delivery.token is not None and delivery.message.user_id is not None
    }


def make_links(practice: Practice, count: int) -> dict[str, list[str]]:
    """Links of every kind, made through the services on the practice's clock."""
    service, clock = practice.onboarding, practice.clock
    clock.set(LINKS_AT)
    expiring = _invite(practice, 0, count)
    tokens = _deliver(practice)
    clock.advance(days=10)
    valid, used, revoked = (_invite(practice, count * n, count) for n in (1, 2, 3))
    tokens |= _deliver(practice)
    for user_id in used:
        service.accept(tokens[user_id], password=PASSWORD, password_confirmation=PASSWORD)
    clock.advance(minutes=3)  # past the re-send cooldown
    for user_id in revoked:
        service.resend(actor=OWNER, establishment_id=ESTABLISHMENT, user_id=user_id)
    _deliver(practice)  # the new links, which nobody opens
    clock.set(LINKS_AT + SETTINGS.expiry + timedelta(days=1))  # the first group's deadline passed
    return {
        VALID: [tokens[user_id] for user_id in valid],
        _refused("unknown"): [new_token() for _ in range(count)],
        _refused("used"): [tokens[user_id] for user_id in used],
        _refused("expired"): [tokens[user_id] for user_id in expiring],
        _refused("revoked"): [tokens[user_id] for user_id in revoked],
    }


def _open(service: practiceid.OnboardingService) -> Callable[[str], object]:
    def open_link(token: str) -> object:
        try:
            return service.open(token)
        except practiceid.InvitationInvalid as refused:
            return refused

    return open_link


def _is_view(result: object) -> bool:
    return isinstance(result, practiceid.InvitationView)


def _is_refusal(result: object) -> bool:
    return isinstance(result, practiceid.InvitationInvalid)


@dataclass(frozen=True)
class Checked:
    """A case of d), with what each of its calls must return."""

    case: _timing.Case
    check: Callable[[object], bool]


def _django_cases(backend: Backend, count: int) -> list[Checked]:
    """Django's reset link, checked as its PasswordResetConfirmView does, on the same database."""
    from django.contrib.auth.models import User as DjangoUser  # noqa: PLC0415
    from django.contrib.auth.tokens import PasswordResetTokenGenerator  # noqa: PLC0415
    from django.utils.encoding import force_bytes  # noqa: PLC0415
    from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode  # noqa: PLC0415

    alias = _django_alias(backend)
    objects = DjangoUser.objects.db_manager(alias)
    generator = PasswordResetTokenGenerator()
    made = [
        objects.create_user(f"django.{index}", f"django.{index}@example.org", PASSWORD)
        for index in range(count)
    ]
    valid = [
        (urlsafe_base64_encode(force_bytes(user.pk)), generator.make_token(user)) for user in made
    ]
    wrong = [(uid, _tampered(token)) for uid, token in valid]

    def view(pair: Any) -> object:  # noqa: ANN401 - (uidb64, token)
        uidb64, token = pair
        user = objects.get(pk=urlsafe_base64_decode(uidb64).decode())
        return generator.check_token(user, token)

    prefix = f"{backend.name}|"
    return [
        Checked(
            _timing.Case(prefix + DJANGO_VIEW, view, valid, warmup_passes=0), lambda r: r is True
        ),
        Checked(
            _timing.Case(prefix + DJANGO_VIEW_WRONG, view, wrong, warmup_passes=0),
            lambda r: r is False,
        ),
    ]


def _django_alone(count: int) -> list[Checked]:
    """check_token by itself, on users in memory: no database at all."""
    from django.contrib.auth.models import User as DjangoUser  # noqa: PLC0415
    from django.contrib.auth.tokens import PasswordResetTokenGenerator  # noqa: PLC0415

    generator = PasswordResetTokenGenerator()
    made = list(DjangoUser.objects.using("default").order_by("pk")[:count])
    valid = [(user, generator.make_token(user)) for user in made]
    wrong = [(user, _tampered(token)) for user, token in valid]

    def check(pair: Any) -> object:  # noqa: ANN401 - (user, token)
        return generator.check_token(*pair)

    return [
        Checked(
            _timing.Case(f"|{DJANGO_ALONE}", check, valid, warmup_passes=0), lambda r: r is True
        ),
        Checked(
            _timing.Case(f"|{DJANGO_ALONE_WRONG}", check, wrong, warmup_passes=0),
            lambda r: r is False,
        ),
    ]


def _tampered(token: str) -> str:
    """The same token with its last character changed: well formed, wrong."""
    return token[:-1] + ("0" if token[-1] != "0" else "1")


def bench_links(made: Setup, overhead_ns: int) -> dict[str, float]:
    """d): open every kind of link on the largest tables; Django's reset tokens alike."""
    count = made.config.links
    checked: list[Checked] = []
    for backend in made.backends:
        practice = backend.largest
        tokens = make_links(practice, count)
        open_link = _open(practice.onboarding)
        for name, inputs in tokens.items():
            check = _is_view if name == VALID else _is_refusal
            case = _timing.Case(f"{backend.name}|{name}", open_link, inputs, warmup_passes=0)
            checked.append(Checked(case, check))
        checked += _django_cases(backend, count)
    checked += _django_alone(count)
    wrong = [
        f"{c.case.name}: wrong answer for input {i}"
        for c in checked
        for i, value in enumerate(c.case.inputs)
        if not c.check(c.case.func(value))
    ]
    if wrong:
        raise SystemExit("onboarding benchmark: links answer wrongly:\n  " + "\n  ".join(wrong))
    results = _timing.run([c.case for c in checked], rounds=ROUNDS, overhead_ns=overhead_ns)
    return print_links(made, results)


def _link_row(result: _timing.Result, name: str, *ratios: str) -> list[str]:
    return [
        name,
        f"{result.calls:,}",
        _report.us(result.median_us),
        _report.us(result.p95_us),
        *ratios,
    ]


def print_links(made: Setup, results: dict[str, _timing.Result]) -> dict[str, float]:
    print()
    size = max(made.config.sizes)
    print(
        f"11d. Opening an invitation link, {made.config.links} links of each kind, among {size:,}"
    )
    print("records, against Django's password-reset tokens:")
    ratios = {}
    for backend in made.backends:
        mine = {
            name.split("|", 1)[1]: result
            for name, result in results.items()
            if name.startswith(f"{backend.name}|")
        }
        valid, view = mine[VALID].median_us, mine[DJANGO_VIEW].median_us
        rows = [
            _link_row(r, name, _report.ratio(r.median_us, valid), _report.ratio(r.median_us, view))
            for name, r in mine.items()
        ]
        print(f"  {backend.name}:")
        _report.table(
            ["case", "calls", "median us", "p95 us", "/ valid link", "/ Django view"], rows
        )
        refused = [mine[_refused(kind)].median_us for kind in REFUSED]
        spread = max(refused) / min(refused)
        slowest = REFUSED[refused.index(max(refused))]
        fastest = REFUSED[refused.index(min(refused))]
        _report.note(
            f"refused links: slowest ({slowest}) / fastest ({fastest}) = {_report.ratio(spread, 1)}"
        )
        ratios[f"open: slowest / fastest refused link ({backend.name})"] = spread
        ratios[f"open, valid link / Django reset view, valid ({backend.name})"] = valid / view
    alone = {
        name.removeprefix("|"): result for name, result in results.items() if name.startswith("|")
    }
    _report.table(
        ["case (no database)", "calls", "median us", "p95 us"],
        [_link_row(r, name) for name, r in alone.items()],
    )
    _report.note("open: a unit of work (on PostgreSQL with its pre-ping), the link's digest looked")
    _report.note("up by primary key with its record, the account, the establishment's name.")
    _report.note("unknown, used (accepted) and revoked (re-sent) links are no longer stored:")
    _report.note("their look-ups find nothing, the same work for the three; an expired link")
    _report.note("not yet swept is found, with its account, and refused by the same")
    _report.note("comparisons. Django view: User.objects.get(pk=) then")
    _report.note("check_token, as PasswordResetConfirmView does, on its own auth_user table")
    _report.note(
        f"({made.config.links} users; on SQLite with the WAL, as practiceid), in autocommit."
    )
    _report.note("Django's tokens are stateless HMACs: they cannot be revoked one by one, and")
    _report.note("stay valid until PASSWORD_RESET_TIMEOUT.")
    return ratios


# -- the section ------------------------------------------------------------------------------


def _sqlite_pragmas(store: SqlStore) -> str:
    with store.engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={journal}, synchronous={names.get(synchronous, '?')}, cache_size={cache}"


def print_environment(made: Setup, overhead_ns: int) -> None:
    """Versions, database settings, and what is compared with what."""
    config = made.config
    _report.heading(
        "11. Onboarding: the sweep, the dispatcher, invitation links (SQLite, PostgreSQL)"
    )
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("sqlalchemy", "django")
    )
    print(f"libraries   {versions}, SQLite {sqlite3.sqlite_version}")
    sqlite_store = made.backends[0].largest.store
    print(f"SQLite      files in {made.directory} ({os.cpu_count()} CPUs)")
    print(f"            {_sqlite_pragmas(sqlite_store)}")
    print("            (create_engine: WAL, BEGIN IMMEDIATE, foreign keys on)")
    if config.postgres_url is None:
        print(f"PostgreSQL  skipped: {config.postgres_from}.")
        print(f"            Set {POSTGRES_ENVS[0]} (or {POSTGRES_ENVS[1]}) to a server's URL.")
    else:
        postgres = made.backends[1]
        with contextlib.closing(postgres.driver(postgres.largest.store)) as connection:
            settings = {
                name: connection.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "shared_buffers", "synchronous_commit")
            }
        host = sa.make_url(config.postgres_url).host or "local socket"
        print(
            f"PostgreSQL  {settings['server_version'].split()[0]} on {host}"
            f" ({config.postgres_from}), psycopg {importlib.metadata.version('psycopg')},"
        )
        print(
            f"            shared_buffers={settings['shared_buffers']},"
            f" synchronous_commit={settings['synchronous_commit']};"
        )
        print(f"            schemas {made.schema}_<size>, dropped at the end")
    sizes = ", ".join(f"{size:,}" for size in config.sizes)
    print(f"sizes       {sizes} records ({SIZES_ENV}),")
    print(f"            {config.due:.2%} of them due ({DUE_ENV}),")
    print(f"            {config.links} links of each kind in d) ({LINKS_ENV})")
    print(f"time        the sweep at {NOW:%Y-%m-%d %H:%M} UTC; before it, nothing due until")
    first_due = QUIET + timedelta(minutes=1)
    print(f"            {first_due:%Y-%m-%d %H:%M}: b) sweeps at {QUIET:%Y-%m-%d %H:%M} first")
    print("method      b), d): every call timed alone, gc off during a round, clock overhead")
    print(f"            ({overhead_ns} ns) subtracted, {ROUNDS} rounds round-robin; times in")
    print("            microseconds unless marked. a), c): one run each, whole.")
    print(f"load        {_section.load_average()} (1, 5, 15 min) as the section starts")


def print_loads(made: Setup, loaded: Loaded) -> None:
    print()
    print(f"Loading: codec rows (user_values, onboarding_values), {BATCH:,} records a transaction")
    print("(SQLite: executemany; PostgreSQL: COPY), every size its own tables:")
    after = {SQLITE: ("SQLite s", "checkpoint s"), POSTGRES: ("PostgreSQL s", "VACUUM s")}
    headers = ["records"]
    for backend in made.backends:
        load_s, then_s = after[backend.name]
        headers += [load_s, "indexes s", then_s, "MiB"]
    rows = []
    for size in made.config.sizes:
        row = [f"{size:,}"]
        for backend in made.backends:
            key = backend.name, size
            row += [
                f"{loaded.seconds[key]:.1f}",
                f"{loaded.index_s[key]:.1f}",
                f"{loaded.vacuum_s[key]:.1f}",
                f"{loaded.megabytes[key]:,.0f}",
            ]
        rows.append(row)
    _report.table(headers, rows)
    processing = ", ".join(f"{name} {s:.1f} s" for name, s in loaded.process_s.items())
    _report.note(f"making the rows: {loaded.rows_s:.1f} s, once for all; binding: {processing}.")
    _report.note("s: the inserts, and building the indexes (users' login and e-mail keys, the")
    _report.note("due index, the links' user_id), dropped before the load and built after it")
    _report.note("from the adapter's definitions. Then what would happen by itself: SQLite's")
    _report.note("checkpoint (the WAL written back), PostgreSQL's autovacuum (VACUUM ANALYZE).")
    _report.note("MiB: users, onboardings and links with their indexes (SQLite: the whole file).")
    largest = max(made.config.sizes)
    counts = ", ".join(f"{status} {n:,}" for status, n in loaded.counts[largest].items())
    for line in textwrap.wrap(
        f"at {largest:,}: {counts}; {loaded.links[largest]:,} live links.",
        width=_report.RULE_WIDTH - 8,
    ):
        _report.note(line)


def run_section() -> dict[str, float]:
    """Load the tables, run a) to d) in this process and print them; return the ratios."""
    started = time.perf_counter()
    config = read_config()
    times: dict[str, float] = {}
    made = _section.timed(
        "set-up (schemas, practices, Django's migrate)", times, lambda: setup(config)
    )
    try:
        overhead_ns = _timing.clock_overhead_ns()
        print_environment(made, overhead_ns)
        password_hash = practiceid.Argon2idHasher().hash(PASSWORD)
        loaded = _section.timed("load", times, lambda: load(made, password_hash))
        print_loads(made, loaded)
        before = _section.timed(
            "b) nothing due, before the sweep",
            times,
            lambda: _quiet.bench(CLAIM, made.backends, QUIET, "before", overhead_ns, scan=True),
        )
        sweeps = _section.timed("a) the sweep", times, lambda: bench_sweeps(made))
        after = _section.timed(
            "b) nothing due, after the sweep",
            times,
            lambda: _quiet.bench(CLAIM, made.backends, NOW, "after", overhead_ns, scan=False),
        )
        ratios = print_sweeps(made, sweeps)
        ratios |= _quiet.report(
            CLAIM,
            made.backends,
            made.config.sizes,
            before,
            "11b. A sweep with nothing due (before 11a), against the same claim as a full scan:",
        )
        ratios |= _quiet.report(
            CLAIM,
            made.backends,
            made.config.sizes,
            after,
            "11b, continued. The same right after 11a, at its time (the next run of the job):",
        )
        delivered, plans = _section.timed("c) the dispatcher", times, lambda: bench_dispatch(made))
        print_dispatch(delivered, plans)
        ratios |= _section.timed(
            "d) invitation links", times, lambda: bench_links(made, overhead_ns)
        )
    finally:
        _section.timed("tear-down", times, lambda: teardown(made))
    _section.print_took(11, times, started)
    return ratios


def bench_onboarding() -> dict[str, float]:
    """Run the section in a process of its own (Django is configured once per process)."""
    return _section.run_apart("benchmarks._onboarding")


def main(argv: Sequence[str]) -> None:
    """``python -m benchmarks._onboarding [--summary PATH]``: run section 11."""
    _section.main(run_section, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
