"""Section 10: the SQL adapter on a SQLite file and on PostgreSQL (issue 6).

a) Registering users through the service layer, ``AccountService.register`` on a
   :class:`~practiceid.adapters.sql.SqlStore`, with :func:`practiceid.testing.fast_hasher`
   (Argon2id at 64 KiB, t=1: what is measured is the storage and the policies, not Argon2):
   total time, registrations per second, median and p95 per registration, and the part spent
   inside the unit of work (connection, ``BEGIN``, the ``INSERT`` in a savepoint, ``COMMIT``).
   The yardstick is what a host would otherwise pick: Django's ``User.objects.create_user``,
   with ``MD5PasswordHasher`` to match the cheap hasher, on its own SQLite file (Django's
   defaults: rollback journal; and once more with ``journal_mode=WAL`` as practiceid uses) and
   on PostgreSQL with the psycopg backend. Cases run round-robin in ``CHUNKS`` chunks, so that
   every table grows alike. What the default Argon2id costs per registration is measured once,
   on ``ARGON2_REGISTRATIONS`` registrations (in-memory store), to put the figure in context.
b) Finding one of the users registered in a): ``find_by_login`` / ``find_by_email`` in a unit
   of work against Django's ``User.objects.get(username=...)`` (and ``get(email=...)``, which
   Django does not index), hits and misses, on the same tables.
c) Finding a user by login and by e-mail among ``PRACTICEID_BENCH_SQL_SIZES`` users (10 000,
   100 000 and 1 000 000 by default). Each size has a table of its own (a SQLite file, a
   PostgreSQL schema), filled by bulk inserts with SQLAlchemy Core (rows made by the
   adapter's own codec, ``user_values``, from realistic users with a real Argon2id hash), in
   batches of ``BATCH``; all sizes are then timed round-robin together, so that a burst of
   load on the machine cannot pass for growth. Look-ups run in an open unit of work (the
   query alone) and one unit of work per look-up (what a service call costs), and the same
   SQL straight through the DB-API driver (the database's own cost). The query plans of the
   adapter's statements, captured as it sends them, are printed.
d) What a unit of work costs by itself, on the largest table: an empty one, and on
   PostgreSQL the same without ``pool_pre_ping`` (which ``create_engine`` turns on).

Configuration (environment):

* ``PRACTICEID_BENCH_POSTGRES_URL``, else ``PRACTICEID_TEST_POSTGRES_URL``: the PostgreSQL
  server; unset, the PostgreSQL half is skipped (the reason is printed). Everything goes into
  schemas of its own, ``practiceid_bench_<random>`` and ``practiceid_bench_<random>_<size>``,
  dropped at the end.
* ``PRACTICEID_BENCH_SQL_SIZES``: comma-separated table sizes of c), e.g. ``1000,10000`` for a
  quick run; ``PRACTICEID_BENCH_SQL_REGISTRATIONS``: how many users a) registers (10 000).
* SQLite files go to a temporary directory (``TMPDIR``), removed at the end.

The section runs in a process of its own (``python -m benchmarks._sql``; ``bench_sql`` starts
it): Django can be configured once per process, and the main process configures it without
any database and checks at the end that it never opened one.

Timing: every call on its own with ``perf_counter_ns``, gc off during a round or chunk, the
clock's overhead subtracted; look-ups in ``ROUNDS`` rounds, cases compared together
round-robin (:func:`benchmarks._timing.run`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

import practiceid
from benchmarks import _report, _section, _timing
from practiceid.adapters import InMemoryStore, StaticAuthorizer, SystemClock
from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql._codec import user_values
from practiceid.adapters.sql._schema import EMAIL_INDEX, LOGIN_INDEX, users
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.testing import FAST_ARGON2, fast_hasher
from practiceid.users import User, new_user_id

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from practiceid.adapters.sql import SqlUnitOfWork

SIZES_ENV: Final = "PRACTICEID_BENCH_SQL_SIZES"
REGISTRATIONS_ENV: Final = "PRACTICEID_BENCH_SQL_REGISTRATIONS"
POSTGRES_ENVS: Final = ("PRACTICEID_BENCH_POSTGRES_URL", "PRACTICEID_TEST_POSTGRES_URL")
DEFAULT_SIZES: Final = (10_000, 100_000, 1_000_000)
DEFAULT_REGISTRATIONS: Final = 10_000

CHUNKS: Final = 10  # registrations run round-robin in this many chunks
ARGON2_REGISTRATIONS: Final = 5
HASH_PASSES: Final = 100  # per round, for the hashers alone
ROUNDS: Final = 5  # look-up rounds, round-robin: a burst of load hits one round
LOOKUPS: Final = 300  # keys per look-up case (fewer when the table is smaller)
WARMUP_LOOKUPS: Final = 50  # other keys, checked and run once before timing
BATCH: Final = 50_000  # rows per INSERT executemany (and per transaction) when bulk loading
MISSING_FROM: Final = 10**9  # people from here on are never stored: the misses
SEED: Final = 20_260_507

PASSWORD: Final = "Vrai-Cheval-Agrafe-42"
DJANGO_HASHER: Final = "django.contrib.auth.hashers.MD5PasswordHasher"
SQLITE: Final = "SQLite file"
POSTGRES: Final = "PostgreSQL"

FIRST_NAMES: Final = (
    "Jeanne",
    "Luc",
    "Sofie",
    "Karim",
    "Claire",
    "Pieter",
    "Nadia",
    "Marc",
    "Anne",
    "Thomas",
    "Élodie",
    "Jean-Pierre",
)
LAST_NAMES: Final = (
    "Dupont",
    "Janssens",
    "Maes",
    "El Amrani",
    "Dubois",
    "Claes",
    "Lambert",
    "Wouters",
    "Peeters",
    "Nguyen",
    "Lefèvre",
    "Van den Bossche",
)
DOMAINS: Final = (
    "cabinet-tilleuls.be",
    "mm-parc.be",
    "kine-centre.be",
    "cabinet-exemple.fr",
    "dentiste-leroy.fr",
    "gmail.com",
)


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: how many registrations, which table sizes, which PostgreSQL."""

    registrations: int
    sizes: tuple[int, ...]
    postgres_url: str | None
    postgres_from: str  # the variable that gave the URL, or why there is none


def _positive_ints(name: str, default: Sequence[int]) -> tuple[int, ...]:
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


def read_config() -> Config:
    """Read the environment (see the module's docstring)."""
    (registrations, *_) = _positive_ints(REGISTRATIONS_ENV, (DEFAULT_REGISTRATIONS,))
    sizes = _positive_ints(SIZES_ENV, DEFAULT_SIZES)
    for name in POSTGRES_ENVS:
        if url := os.environ.get(name, "").strip():
            return Config(registrations, sizes, url, name)
    return Config(registrations, sizes, None, f"neither {' nor '.join(POSTGRES_ENVS)} is set")


# -- people -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What a registration form sends, for the ``index``-th made-up person."""

    login: str
    email: str
    first_name: str
    last_name: str


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c == "-")).lower()


def person(index: int) -> Person:
    """A made-up person; logins and e-mail addresses are unique by ``index``."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[index // len(FIRST_NAMES) % len(LAST_NAMES)]
    slug = f"{_ascii(first)}.{_ascii(last)}"
    return Person(
        login=f"{slug}.{index}",
        email=f"{slug}.{index}@{DOMAINS[index % len(DOMAINS)]}",
        first_name=first,
        last_name=last,
    )


def stored_user(index: int, *, created_at: datetime, password_hash: str) -> User:
    """The user ``register`` would have stored for ``person(index)`` (bulk loading)."""
    who = person(index)
    return User(
        id=new_user_id(),
        login=Login(who.login),
        email=EmailAddress(who.email),
        first_name=who.first_name,
        last_name=who.last_name,
        created_at=created_at,
        job_title="Médecin généraliste" if index % 3 else "",
        password_hash=password_hash,
    )


# -- databases --------------------------------------------------------------------------------


@dataclass
class Backend:
    """One database server: practiceid's stores, Django's alias, plain DB-API connections."""

    name: str
    registered: SqlStore  # a) and b), next to Django's tables
    django: str  # Django's alias, with the host's defaults
    explain: str  # the statement prefix that prints a query plan
    driver: Callable[[SqlStore], Any]  # an autocommit DB-API connection to a store's tables
    bulk: dict[int, SqlStore] = field(default_factory=dict)  # c) and d): a table per size
    no_pre_ping: SqlStore | None = None  # d): the largest table, pool_pre_ping off

    def stores(self) -> list[SqlStore]:
        extra = [] if self.no_pre_ping is None else [self.no_pre_ping]
        return [self.registered, *self.bulk.values(), *extra]

    @property
    def largest(self) -> SqlStore:
        return self.bulk[max(self.bulk)]


@dataclass
class Setup:
    """Everything the section made, so that :func:`teardown` can remove it."""

    config: Config
    directory: Path
    schema: str  # PostgreSQL: a) and b), Django's tables; c) adds one schema per size
    schemas: list[str]  # the PostgreSQL schemas created, dropped at the end
    backends: list[Backend]
    django_aliases: dict[str, str]  # label -> alias, for registration cases


def _django_databases(directory: Path, config: Config, schema: str) -> dict[str, dict[str, Any]]:
    databases: dict[str, dict[str, Any]] = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / "django.db")},
        "sqlite_wal": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(directory / "django-wal.db"),
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL"},
        },
    }
    if config.postgres_url is not None:
        url = sa.make_url(config.postgres_url)
        databases["postgres"] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.database or "",
            "USER": url.username or "",
            "PASSWORD": url.password or "",
            "HOST": url.host or "",
            "PORT": str(url.port or ""),
            "OPTIONS": {"options": f"-c search_path={schema}"},
        }
    return databases


def _configure_django(databases: dict[str, dict[str, Any]]) -> None:
    import django  # noqa: PLC0415 - configured here, in this process only
    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415

    settings.configure(
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        DATABASES=databases,
        PASSWORD_HASHERS=[DJANGO_HASHER],
        USE_TZ=True,
    )
    django.setup()
    for alias in databases:
        call_command("migrate", database=alias, verbosity=0, interactive=False)


def _sqlite_driver(store: SqlStore) -> Any:  # noqa: ANN401 - a DB-API connection
    database = store.engine.url.database
    assert database is not None  # noqa: S101 - the bench's stores are files
    return sqlite3.connect(database, isolation_level=None)


def _sqlite_backend(made: Setup) -> Backend:
    directory = made.directory
    backend = Backend(
        name=SQLITE,
        registered=SqlStore.from_url(f"sqlite:///{directory / 'practiceid.db'}"),
        django="default",
        explain="EXPLAIN QUERY PLAN",
        driver=_sqlite_driver,
    )
    made.backends.append(backend)
    for size in made.config.sizes:
        backend.bulk[size] = SqlStore.from_url(f"sqlite:///{directory / f'users-{size}.db'}")
    return backend


def _postgres_backend(made: Setup, url: str) -> Backend:
    made.schemas.append(made.schema)
    backend = Backend(
        name=POSTGRES,
        registered=SqlStore.from_url(url, schema=made.schema),
        django="postgres",
        explain="EXPLAIN",
        driver=_section.postgres_driver(url),
    )
    made.backends.append(backend)
    made.django_aliases[POSTGRES] = "postgres"
    for size in made.config.sizes:
        schema = f"{made.schema}_{size}"
        made.schemas.append(schema)
        backend.bulk[size] = SqlStore.from_url(url, schema=schema)
    largest = f"{made.schema}_{max(made.config.sizes)}"
    backend.no_pre_ping = SqlStore.from_url(url, schema=largest, pool_pre_ping=False)
    return backend


def setup(config: Config) -> Setup:
    """Create the SQLite files, the PostgreSQL schemas, practiceid's and Django's tables."""
    made = Setup(
        config=config,
        directory=Path(tempfile.mkdtemp(prefix="practiceid-bench-sql-")),
        schema=f"practiceid_bench_{uuid.uuid4().hex[:12]}",
        schemas=[],
        backends=[],
        django_aliases={SQLITE: "default", f"{SQLITE}, WAL": "sqlite_wal"},
    )
    try:
        _sqlite_backend(made)
        if config.postgres_url is not None:
            _postgres_backend(made, config.postgres_url)
        for backend in made.backends:
            backend.registered.create_schema()
            for store in backend.bulk.values():
                store.create_schema()
        _configure_django(_django_databases(made.directory, config, made.schema))
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
        for store in backend.stores():
            store.close()
    if made.schemas and made.config.postgres_url is not None:
        with SqlStore.from_url(made.config.postgres_url) as admin, admin.engine.begin() as c:
            for schema in made.schemas:
                c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for path in sorted(made.directory.iterdir()):
        path.unlink()
    made.directory.rmdir()


# -- environment ------------------------------------------------------------------------------


def _sqlite_pragmas(execute: Callable[[str], Any]) -> str:
    journal = execute("PRAGMA journal_mode")
    synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
        execute("PRAGMA synchronous"), "?"
    )
    return f"journal_mode={journal}, synchronous={synchronous}"


def _django_pragmas(alias: str) -> str:
    from django.db import connections  # noqa: PLC0415

    def execute(sql: str) -> Any:  # noqa: ANN401 - a PRAGMA's value
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]

    return _sqlite_pragmas(execute)


def print_environment(made: Setup, overhead_ns: int) -> None:
    """Versions, database settings, and what is compared with what."""
    config = made.config
    _report.heading("10. SQL adapter: registering and finding users, SQLite file and PostgreSQL")
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("sqlalchemy", "django")
    )
    print(f"libraries   {versions}, SQLite {sqlite3.sqlite_version}")
    sqlite_store = made.backends[0].registered
    with sqlite_store.engine.connect() as connection:
        pragmas = _sqlite_pragmas(lambda sql: connection.exec_driver_sql(sql).scalar())
    print(f"SQLite      files in {made.directory} ({os.cpu_count()} CPUs)")
    print(f"            practiceid: {pragmas} (create_engine: WAL, BEGIN IMMEDIATE)")
    print(f"            Django: {_django_pragmas('default')} (its defaults)")
    print(f"            Django, WAL: {_django_pragmas('sqlite_wal')} (init_command)")
    if config.postgres_url is None:
        print(f"PostgreSQL  skipped: {config.postgres_from}.")
        print(f"            Set {POSTGRES_ENVS[0]} (or {POSTGRES_ENVS[1]}) to a server's URL.")
    else:
        postgres = made.backends[1]
        with contextlib.closing(postgres.driver(postgres.registered)) as connection:
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
            f" synchronous_commit={settings['synchronous_commit']}"
        )
        print(f"            schemas {made.schema}(_<size>), dropped at the end; used by both:")
        print("            practiceid (SQLAlchemy's psycopg dialect, create_engine: pool_pre_ping)")
        print("            and Django (its postgresql backend: client-side binding, autocommit).")
    print(f"sizes       {config.registrations:,} registrations ({REGISTRATIONS_ENV});")
    sizes = ", ".join(f"{size:,}" for size in config.sizes)
    print(f"            look-ups among {sizes} users ({SIZES_ENV})")
    print("method      every call timed alone, gc off during a chunk or round, clock overhead")
    print(f"            ({overhead_ns} ns) subtracted; times in microseconds unless marked.")
    print(f"load        {_section.load_average()} (1, 5, 15 min) as the section starts")


# -- a) registration --------------------------------------------------------------------------


class _StorageTimer:
    """A unit-of-work factory that adds up the time spent inside its ``with`` blocks."""

    def __init__(self, factory: Callable[[], SqlUnitOfWork]) -> None:
        self._factory = factory
        self.spent_ns = 0

    def __call__(self) -> _TimedUnitOfWork:
        return _TimedUnitOfWork(self._factory(), self)


class _TimedUnitOfWork:
    def __init__(self, inner: SqlUnitOfWork, timer: _StorageTimer) -> None:
        self._inner = inner
        self._timer = timer
        self._start = 0

    def __enter__(self) -> SqlUnitOfWork:
        self._start = time.perf_counter_ns()
        return self._inner.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._inner.__exit__(exc_type, exc, tb)
        finally:
            self._timer.spent_ns += time.perf_counter_ns() - self._start


def _accounts(
    unit_of_work: Callable[[], Any], hasher: practiceid.PasswordHasher
) -> practiceid.AccountService:
    return practiceid.AccountService(
        unit_of_work=unit_of_work,
        hasher=hasher,
        clock=SystemClock(),
        authorizer=StaticAuthorizer(),
    )


def _register(accounts: practiceid.AccountService, who: Person) -> object:
    return accounts.register(
        login=who.login,
        email=who.email,
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name=who.first_name,
        last_name=who.last_name,
    )


@dataclass
class Registering:
    """One registration case and what it measured."""

    name: str
    database: str  # SQLITE or POSTGRES: the Django case it is compared with
    register: Callable[[Person], object]
    storage: _StorageTimer | None = None
    calls_ns: list[int] = field(default_factory=list)
    storage_ns: list[int] = field(default_factory=list)
    wall_ns: int = 0

    @property
    def median_us(self) -> float:
        return statistics.median(self.calls_ns) / 1e3

    @property
    def storage_median_us(self) -> float:
        return statistics.median(self.storage_ns) / 1e3 if self.storage_ns else math.nan


def _database_of(label: str) -> str:
    return POSTGRES if label == POSTGRES else SQLITE


def registration_cases(made: Setup) -> list[Registering]:
    """practiceid on each database, then Django on each, in the order they are printed."""
    from django.contrib.auth.models import User as DjangoUser  # noqa: PLC0415

    cases = []
    for backend in made.backends:
        timer = _StorageTimer(backend.registered.unit_of_work)
        accounts = _accounts(timer, fast_hasher())
        cases.append(
            Registering(
                f"practiceid register, {backend.name}",
                backend.name,
                lambda who, accounts=accounts: _register(accounts, who),
                timer,
            )
        )
        for label, alias in made.django_aliases.items():
            if _database_of(label) != backend.name:
                continue
            manager = DjangoUser.objects.db_manager(alias)

            def create(who: Person, manager: Any = manager) -> object:  # noqa: ANN401
                return manager.create_user(
                    who.login,
                    who.email,
                    PASSWORD,
                    first_name=who.first_name,
                    last_name=who.last_name,
                )

            cases.append(Registering(f"Django create_user, {label}", backend.name, create))
    return cases


def run_registrations(cases: Sequence[Registering], count: int, overhead_ns: int) -> None:
    """Register ``count`` people in every case, round-robin in ``CHUNKS`` chunks."""
    clock = time.perf_counter_ns
    size = math.ceil(count / CHUNKS)
    for start in range(0, count, size):
        people = [person(i) for i in range(start, min(start + size, count))]
        for case in cases:
            gc.collect()
            gc.disable()
            try:
                began = clock()
                for who in people:
                    if case.storage is not None:
                        case.storage.spent_ns = 0
                    before = clock()
                    case.register(who)
                    case.calls_ns.append(max(clock() - before - overhead_ns, 0))
                    if case.storage is not None:
                        case.storage_ns.append(case.storage.spent_ns)
                case.wall_ns += clock() - began
            finally:
                gc.enable()


def _count_registered(made: Setup) -> dict[str, int]:
    from django.contrib.auth.models import User as DjangoUser  # noqa: PLC0415

    counts = {}
    for backend in made.backends:
        with backend.registered.engine.connect() as connection:
            counts[f"practiceid, {backend.name}"] = connection.execute(
                sa.select(sa.func.count()).select_from(users)
            ).scalar_one()
    for label, alias in made.django_aliases.items():
        counts[f"Django, {label}"] = DjangoUser.objects.using(alias).count()
    return counts


@dataclass(frozen=True)
class Hashing:
    """The hashers alone, and registrations with the default Argon2id."""

    fast_us: float
    django_us: float
    argon2_registration_us: float
    argon2_hash: str


def bench_hashers(overhead_ns: int) -> Hashing:
    """Time the two cheap hashers alone, and a few registrations with the default Argon2id."""
    from django.contrib.auth.hashers import make_password  # noqa: PLC0415

    fast = fast_hasher()
    results = _timing.run(
        [
            _timing.Case("fast_hasher", fast.hash, [PASSWORD], HASH_PASSES),
            _timing.Case("Django MD5", make_password, [PASSWORD], HASH_PASSES),
        ],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )
    # The default hasher, on an in-memory store (storage is measured in a): a few hundred
    # microseconds next to the hash), after a warm-up registration.
    default = practiceid.Argon2idHasher()
    accounts = _accounts(InMemoryStore().unit_of_work, default)
    _register(accounts, person(MISSING_FROM - 1))
    times = [
        _timing.time_once_us(lambda who: _register(accounts, who), person(index))
        for index in range(ARGON2_REGISTRATIONS)
    ]
    return Hashing(
        fast_us=results["fast_hasher"].median_us,
        django_us=results["Django MD5"].median_us,
        argon2_registration_us=statistics.median(times),
        argon2_hash=default.hash(PASSWORD),
    )


def _warm_up_policies() -> None:
    """Load zxcvbn's dictionaries and email-validator before anything is timed."""
    accounts = _accounts(InMemoryStore().unit_of_work, fast_hasher())
    for index in range(20):
        _register(accounts, person(MISSING_FROM - 100 + index))


def _registration_row(case: Registering, baseline: Registering) -> list[str]:
    total_s = case.wall_ns / 1e9
    storage = case.storage_median_us
    outside = (
        statistics.median(t - s for t, s in zip(case.calls_ns, case.storage_ns, strict=True)) / 1e3
        if case.storage_ns
        else math.nan
    )
    return [
        case.name,
        f"{total_s:.1f}",
        f"{len(case.calls_ns) / total_s:,.0f}",
        _report.us(case.median_us),
        _report.us(_timing.percentile(case.calls_ns, 0.95) / 1e3),
        "-" if math.isnan(storage) else _report.us(storage),
        "-" if math.isnan(outside) else _report.us(outside),
        "-" if case is baseline else _report.ratio(case.median_us, baseline.median_us),
        "-" if math.isnan(storage) else _report.ratio(storage, baseline.median_us),
    ]


def print_registrations(
    cases: Sequence[Registering], count: int, hashing: Hashing
) -> dict[str, float]:
    """Table a); return the ratios for the summary."""
    django = {c.database: c for c in cases if c.name.startswith("Django") and "WAL" not in c.name}
    django_wal = next(c for c in cases if c.name.startswith("Django") and "WAL" in c.name)
    print()
    print(f"10a. Registering {count:,} users, one by one, {CHUNKS} chunks round-robin:")
    _report.table(
        [
            "case",
            "total s",
            "per second",
            "median us",
            "p95 us",
            "uow us",
            "rest us",
            "/ Django",
            "uow / Django",
        ],
        [_registration_row(case, django[case.database]) for case in cases],
    )
    practiceid_sqlite = next(c for c in cases if c.storage is not None)
    wal_ratio = practiceid_sqlite.storage_median_us / django_wal.median_us
    ratios = {}
    for case in cases:
        if case.storage is not None:
            baseline = django[case.database]
            ratios[f"register / Django create_user, {case.database}"] = (
                case.median_us / baseline.median_us
            )
            ratios[f"  its unit of work / Django create_user, {case.database}"] = (
                case.storage_median_us / baseline.median_us
            )
            if case is practiceid_sqlite:
                ratios[f"  its unit of work / Django create_user, {SQLITE}, WAL"] = wal_ratio
    _report.note("/ Django: to Django's create_user on the same database, with its defaults.")
    _report.note("uow: median time inside register's unit of work (checkout and pre-ping,")
    _report.note("BEGIN, INSERT in a SAVEPOINT, COMMIT, return to the pool): the storage.")
    _report.note("rest: median of (registration - uow): the login, e-mail (email-validator, no")
    _report.note("DNS), name and password policies (zxcvbn), and the hash.")
    wal = _report.ratio(wal_ratio, 1)
    _report.note(f"practiceid's uow / Django's whole create_user, both on WAL: {wal}.")
    _report.note(
        f"hashers alone: practiceid's fast_hasher() (Argon2id m={FAST_ARGON2.memory_cost} KiB,"
        f" t={FAST_ARGON2.iterations}, p={FAST_ARGON2.lanes})"
    )
    _report.note(
        f"{_report.us(hashing.fast_us)} us a hash; Django's"
        f" {DJANGO_HASHER.rsplit('.', 1)[1]} {_report.us(hashing.django_us)} us."
    )
    _report.note("Django's create_user validates nothing (no validate_password, no full_clean):")
    _report.note("it is a host's cheapest path to a stored user, not the same work.")
    argon2 = hashing.argon2_registration_us
    _report.note(
        f"with the default Argon2id (64 MiB, t=3, p=4) a registration costs"
        f" {argon2 / 1e3:.0f} ms (median"
    )
    _report.note(
        f"of {ARGON2_REGISTRATIONS}, in-memory store):"
        f" {_report.ratio(argon2, practiceid_sqlite.median_us)} the fast-hasher registration"
        f" on a {SQLITE};"
    )
    _report.note(f"the storage would be {practiceid_sqlite.storage_median_us / argon2:.1%} of it.")
    return ratios


# -- look-up cases ----------------------------------------------------------------------------


def _find(kind: str) -> Callable[[SqlUnitOfWork, Any], User | None]:
    if kind == "login":
        return lambda uow, key: uow.users.find_by_login(key)
    return lambda uow, key: uow.users.find_by_email(key)


def _key(kind: str, index: int) -> Login | EmailAddress:
    who = person(index)
    return Login(who.login) if kind == "login" else EmailAddress(who.email)


def in_open(uow: SqlUnitOfWork, kind: str) -> Callable[[Any], object]:
    """A look-up in a unit of work that stays open (the query, the codec)."""
    find = _find(kind)
    return lambda key: find(uow, key)


def in_own(store: SqlStore, kind: str) -> Callable[[Any], object]:
    """A look-up in a unit of work of its own, as a service runs it."""
    find = _find(kind)

    def look_up(key: object) -> object:
        with store.unit_of_work() as uow:
            return find(uow, key)

    return look_up


@dataclass(frozen=True)
class Keys:
    """The keys a look-up case runs on: timed ones, and others for the warm-up."""

    timed: list[Any]
    warm_up: list[Any]
    hit: bool


def draw_keys(rng: random.Random, size: int, kind: str, *, hit: bool) -> Keys:
    """Hits: people drawn among the ``size`` stored; misses: people never stored."""
    count = min(LOOKUPS, max(size - WARMUP_LOOKUPS, 1))
    if hit:
        drawn = rng.sample(range(size), min(size, count + WARMUP_LOOKUPS))
    else:
        drawn = [MISSING_FROM + rng.randrange(10**8) for _ in range(count + WARMUP_LOOKUPS)]
    keys = [_key(kind, index) for index in drawn]
    if len(keys) <= WARMUP_LOOKUPS:
        return Keys(keys, keys, hit)
    return Keys(keys[WARMUP_LOOKUPS:], keys[:WARMUP_LOOKUPS], hit)


@dataclass(frozen=True)
class LookUp:
    """A look-up case: a function of one key, and the keys."""

    name: str
    func: Callable[[Any], object]
    keys: Keys
    check: Callable[[Any, object], bool]


def _found(key: Any, result: object) -> bool:  # noqa: ANN401 - a Login or an EmailAddress
    if not isinstance(result, User):
        return False
    return result.login == key if isinstance(key, Login) else result.email == key


def practiceid_check(keys: Keys) -> Callable[[Any, object], bool]:
    """A User with that key for hits, None for misses."""
    if keys.hit:
        return _found
    return lambda _key, result: result is None


def driver_check(keys: Keys) -> Callable[[Any, object], bool]:
    """A row for hits, None for misses."""
    return lambda _key, result: (result is not None) == keys.hit


def run_look_ups(cases: Sequence[LookUp], overhead_ns: int) -> dict[str, _timing.Result]:
    """Check every case's answers on its warm-up keys, then time them round-robin."""
    problems = [
        f"{case.name}: wrong answer for {key!r}"
        for case in cases
        for key in case.keys.warm_up
        if not case.check(key, case.func(key))
    ]
    if problems:
        raise SystemExit("SQL benchmark: look-ups answer wrongly:\n  " + "\n  ".join(problems))
    return _timing.run(
        [_timing.Case(c.name, c.func, c.keys.timed, warmup_passes=0) for c in cases],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )


def _row(result: _timing.Result, *extra: str) -> list[str]:
    return [
        result.name,
        f"{result.calls:,}",
        _report.us(result.median_us),
        _report.us(result.p95_us),
        *extra,
    ]


# -- b) against Django, on the registered users -----------------------------------------------


def django_look_up(alias: str, field_name: str) -> Callable[[str], object]:
    """``User.objects.get(<field>=value)``; None when it does not exist."""
    from django.contrib.auth.models import User as DjangoUser  # noqa: PLC0415

    objects = DjangoUser.objects.using(alias)

    def get(value: str) -> object:
        try:
            return objects.get(**{field_name: value})
        except DjangoUser.DoesNotExist:
            return None

    return get


def _django_check(keys: Keys, field_name: str) -> Callable[[Any, object], bool]:
    if keys.hit:
        return lambda key, result: getattr(result, field_name, None) == key
    return lambda _key, result: result is None


def _django_keys(keys: Keys) -> Keys:
    def text(key: Any) -> str:  # noqa: ANN401
        return key.display if isinstance(key, Login) else key.address

    return Keys([text(k) for k in keys.timed], [text(k) for k in keys.warm_up], keys.hit)


def bench_against_django(made: Setup, overhead_ns: int) -> dict[str, float]:
    """Section b): the tables of a), practiceid against Django."""
    count = made.config.registrations
    rng = random.Random(SEED)
    login_hits = draw_keys(rng, count, "login", hit=True)
    login_misses = draw_keys(rng, count, "login", hit=False)
    email_hits = draw_keys(rng, count, "email", hit=True)
    print()
    print(f"10b. Finding one of the {count:,} users registered in 10a, against Django's get:")
    ratios = {}
    for backend in made.backends:
        store, alias = backend.registered, backend.django
        with store.unit_of_work() as open_uow:
            cases = [
                LookUp("login hit, own uow", in_own(store, "login"), login_hits, _found),
                LookUp("login hit, open uow", in_open(open_uow, "login"), login_hits, _found),
                LookUp(
                    "login miss, own uow",
                    in_own(store, "login"),
                    login_misses,
                    practiceid_check(login_misses),
                ),
                LookUp("e-mail hit, own uow", in_own(store, "email"), email_hits, _found),
            ]
            if backend.name == POSTGRES:  # on SQLite the open uow holds the write lock
                practiceid_results = run_look_ups(cases, overhead_ns)
            else:
                practiceid_results = run_look_ups(cases[1:2], overhead_ns)
        if backend.name != POSTGRES:
            practiceid_results |= run_look_ups(cases[:1] + cases[2:], overhead_ns)
        django_cases = [
            LookUp(
                "Django get(username=), hit",
                django_look_up(alias, "username"),
                _django_keys(login_hits),
                _django_check(login_hits, "username"),
            ),
            LookUp(
                "Django get(username=), miss",
                django_look_up(alias, "username"),
                _django_keys(login_misses),
                _django_check(login_misses, "username"),
            ),
            LookUp(
                "Django get(email=), hit",
                django_look_up(alias, "email"),
                _django_keys(email_hits),
                _django_check(email_hits, "email"),
            ),
        ]
        django_results = run_look_ups(django_cases, overhead_ns)
        baseline_of = {
            "login hit, own uow": "Django get(username=), hit",
            "login hit, open uow": "Django get(username=), hit",
            "login miss, own uow": "Django get(username=), miss",
            "e-mail hit, own uow": "Django get(email=), hit",
        }
        rows = [
            _row(
                practiceid_results[case.name],
                _report.ratio(
                    practiceid_results[case.name].median_us,
                    django_results[baseline_of[case.name]].median_us,
                ),
            )
            for case in cases
        ]
        rows += [_row(r, "-") for r in django_results.values()]
        print(f"  {backend.name}:")
        _report.table(["look-up", "calls", "median us", "p95 us", "/ Django"], rows)
        for name in ("login hit, own uow", "login hit, open uow"):
            ratios[
                f"find_by_login ({name.split(', ')[1]}) / Django get(username=), "
                f"{backend.name}, {count:,} users"
            ] = (
                practiceid_results[name].median_us
                / django_results["Django get(username=), hit"].median_us
            )
        print_django_plans(alias, login_hits, email_hits)
    _report.note("own uow: one unit of work per look-up (enter, find, exit), as a service")
    _report.note("does it; open uow: the find alone in a unit of work left open. Django runs")
    _report.note("in autocommit: one statement, no transaction. / Django: to the same look-up")
    _report.note("(e-mail: to get(email=), a full scan: auth_user.email has no index).")
    return ratios


def print_django_plans(alias: str, login_hits: Keys, email_hits: Keys) -> None:
    from django.contrib.auth.models import User as DjangoUser  # noqa: PLC0415

    objects = DjangoUser.objects.using(alias)
    for field_name, keys in (("username", login_hits), ("email", email_hits)):
        value = _django_keys(keys).timed[0]
        plan = objects.filter(**{field_name: value}).explain()
        print(f"  Django's plan for get({field_name}=):")
        for line in plan.splitlines():
            if line.strip():
                print(f"    {line.rstrip()}")


# -- c) one table per size --------------------------------------------------------------------


@dataclass
class Loaded:
    """How long loading took, per table (backend, size), and how big the tables are."""

    rows_s: float = 0.0  # making the rows (codec), once for every table
    seconds: dict[tuple[str, int], float] = field(default_factory=dict)
    vacuum_s: dict[int, float] = field(default_factory=dict)
    megabytes: dict[tuple[str, int], float] = field(default_factory=dict)


def _insert(store: SqlStore, rows: list[dict[str, object]]) -> None:
    with store.engine.connect() as connection:
        connection.execute(users.insert(), rows)
        connection.commit()


def _vacuum(store: SqlStore) -> None:
    autocommit = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE) {users.name}")


def _megabytes(backend: Backend, store: SqlStore) -> float:
    if backend.name == POSTGRES:
        with store.engine.connect() as connection:
            size = connection.execute(
                sa.select(sa.func.pg_total_relation_size(users.name))
            ).scalar_one()
        return size / 2**20
    database = Path(str(store.engine.url.database))
    return sum(p.stat().st_size for p in database.parent.glob(f"{database.name}*")) / 2**20


def load(made: Setup, password_hash: str) -> Loaded:
    """Fill the table of each size with people 0 to size - 1, ``BATCH`` rows at a time."""
    loaded = Loaded()
    tables = [(b, size, store) for b in made.backends for size, store in b.bulk.items()]
    for backend, size, _ in tables:
        loaded.seconds[backend.name, size] = 0.0
    created_at = datetime.now(UTC)
    for first in range(0, max(made.config.sizes), BATCH):
        last = min(first + BATCH, max(made.config.sizes))
        began = time.perf_counter()
        rows = [
            user_values(
                stored_user(i, created_at=created_at, password_hash=password_hash), version=0
            )
            for i in range(first, last)
        ]
        loaded.rows_s += time.perf_counter() - began
        for backend, size, store in tables:
            if first < size:
                began = time.perf_counter()
                _insert(store, rows[: size - first])
                loaded.seconds[backend.name, size] += time.perf_counter() - began
    for backend, size, store in tables:
        if backend.name == POSTGRES:  # what autovacuum would do after such a load
            began = time.perf_counter()
            _vacuum(store)
            loaded.vacuum_s[size] = time.perf_counter() - began
        loaded.megabytes[backend.name, size] = _megabytes(backend, store)
    return loaded


def _driver_look_up(
    connection: Any,  # noqa: ANN401 - a DB-API connection
    statement: str,
    parameters: Any,  # noqa: ANN401 - as the adapter bound them
) -> Callable[[Any], object]:
    """The adapter's own statement, run through the DB-API driver: the database's cost."""
    cursor = connection.cursor()

    def bind(key: Any) -> Any:  # noqa: ANN401
        value = key.key
        if isinstance(parameters, dict):
            return dict.fromkeys(parameters, value)
        return (value,)

    return lambda key: cursor.execute(statement, bind(key)).fetchone()


def capture(store: SqlStore, kind: str, key: object) -> tuple[str, Any]:
    """The statement and parameters the adapter sends for one look-up."""
    seen: list[tuple[str, Any]] = []

    def listen(*args: Any) -> None:  # noqa: ANN401
        seen.append((args[2], args[3]))

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        with store.unit_of_work() as uow:
            _find(kind)(uow, key)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    selects = [s for s in seen if users.name in s[0]]
    if len(selects) != 1:
        raise SystemExit(f"SQL benchmark: expected one SELECT for find_by_{kind}, saw {seen!r}")
    return selects[0]


def query_plan(backend: Backend, statement: str, parameters: Any) -> list[str]:  # noqa: ANN401
    """The plan of the adapter's statement on the largest table."""
    with contextlib.closing(backend.driver(backend.largest)) as connection:
        rows = connection.execute(f"{backend.explain} {statement}", parameters).fetchall()
    return [str(row[-1]) for row in rows]


@dataclass
class Scaling:
    """What c) measured for one backend: per size, the results of every case."""

    backend: Backend
    results: dict[int, dict[str, _timing.Result]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)


OPEN_CASES: Final = ("login hit", "login miss", "e-mail hit", "e-mail miss")
OWN_CASES: Final = ("login hit, own uow", "e-mail hit, own uow")
DRIVER_CASES: Final = ("driver: login hit", "driver: e-mail hit")


def _kind(case: str) -> str:
    return "login" if "login" in case else "email"


def _keys_by_case(rng: random.Random, size: int) -> dict[str, Keys]:
    keys = {name: draw_keys(rng, size, _kind(name), hit="hit" in name) for name in OPEN_CASES}
    keys |= {f"{name}, own uow": keys[name] for name in ("login hit", "e-mail hit")}
    keys |= {f"driver: {name}": keys[name] for name in ("login hit", "e-mail hit")}
    return keys


def bench_look_ups(
    scalings: list[Scaling], statements: dict[tuple[str, str], Any], overhead_ns: int
) -> None:
    """Time every look-up case on every table, all sizes and backends round-robin."""
    sizes = sorted(scalings[0].backend.bulk)
    keys = {size: _keys_by_case(random.Random(SEED + size), size) for size in sizes}
    with contextlib.ExitStack() as stack:  # on SQLite an open uow holds its file's write lock
        open_cases = []
        for scaling in scalings:
            for size, store in scaling.backend.bulk.items():
                uow = stack.enter_context(store.unit_of_work())
                open_cases += [
                    LookUp(
                        f"{scaling.backend.name}|{size}|{name}",
                        in_open(uow, _kind(name)),
                        keys[size][name],
                        practiceid_check(keys[size][name]),
                    )
                    for name in OPEN_CASES
                ]
        results = run_look_ups(open_cases, overhead_ns)
    with contextlib.ExitStack() as drivers:
        other_cases = []
        for scaling in scalings:
            backend = scaling.backend
            for size, store in backend.bulk.items():
                connection = drivers.enter_context(contextlib.closing(backend.driver(store)))
                other_cases += [
                    LookUp(
                        f"{backend.name}|{size}|{name}",
                        in_own(store, _kind(name)),
                        keys[size][name],
                        practiceid_check(keys[size][name]),
                    )
                    for name in OWN_CASES
                ]
                other_cases += [
                    LookUp(
                        f"{backend.name}|{size}|{name}",
                        _driver_look_up(connection, *statements[backend.name, _kind(name)]),
                        keys[size][name],
                        driver_check(keys[size][name]),
                    )
                    for name in DRIVER_CASES
                ]
        results |= run_look_ups(other_cases, overhead_ns)
    for scaling in scalings:
        for size in sizes:
            prefix = f"{scaling.backend.name}|{size}|"
            scaling.results[size] = {
                name.removeprefix(prefix): result
                for name, result in results.items()
                if name.startswith(prefix)
            }


def _short(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


def bench_scaling(made: Setup, hashing: Hashing, overhead_ns: int) -> dict[str, float]:
    """Section c): load a table per size; time the look-ups on all of them together."""
    loaded = load(made, hashing.argon2_hash)
    scalings = [Scaling(backend) for backend in made.backends]
    statements = {
        (backend.name, kind): capture(backend.largest, kind, _key(kind, 0))
        for backend in made.backends
        for kind in ("login", "email")
    }
    bench_look_ups(scalings, statements, overhead_ns)
    for scaling in scalings:
        for kind, index in (("login", LOGIN_INDEX), ("email", EMAIL_INDEX)):
            plan = query_plan(scaling.backend, *statements[scaling.backend.name, kind])
            scaling.plans[kind] = plan
            if not any(index in line for line in plan):
                print(f"WARNING: find_by_{kind} does not use {index} on {scaling.backend.name}")
    print_loads(made, loaded)
    return print_scaling(made, scalings, statements)


def print_loads(made: Setup, loaded: Loaded) -> None:
    print()
    sizes = ", ".join(f"{size:,}" for size in made.config.sizes)
    print(f"10c. Finding a user by login and by e-mail among {sizes} users: a table per")
    print(f"size, filled by SQLAlchemy Core executemany, {BATCH:,} rows a transaction, rows")
    print("from the adapter's codec (user_values) with a real Argon2id hash; then every")
    print("size is timed round-robin with the others, so that a burst of load hits all alike.")
    names = [b.name for b in made.backends]
    rows = []
    for size in made.config.sizes:
        row = [f"{size:,}"]
        for name in names:
            row += [f"{loaded.seconds[name, size]:.1f}", f"{loaded.megabytes[name, size]:,.0f}"]
        if POSTGRES in names:
            row.append(f"{loaded.vacuum_s[size]:.1f}")
        rows.append(row)
    headers = ["users"]
    for name in names:
        headers += [f"{name} s", f"{name} MiB"]
    if POSTGRES in names:
        headers.append("VACUUM ANALYZE s")
    _report.table(headers, rows)
    _report.note(f"making the rows (codec, once for all tables): {loaded.rows_s:.1f} s.")
    _report.note("MiB: the database file with its WAL (SQLite), pg_total_relation_size of")
    _report.note("practiceid_users with its indexes (PostgreSQL). VACUUM ANALYZE after the")
    _report.note("load, as autovacuum would do after that many inserts.")


def print_scaling(
    made: Setup, scalings: Sequence[Scaling], statements: dict[tuple[str, str], Any]
) -> dict[str, float]:
    sizes = made.config.sizes
    first, last = sizes[0], sizes[-1]
    ratios = {}
    for scaling in scalings:
        name = scaling.backend.name
        print()
        print(f"  {name}: median / p95 per look-up (us), by number of users")
        headers = ["look-up"]
        for size in sizes:
            headers += [f"{_short(size)} med", f"{_short(size)} p95"]
        headers.append(f"{_short(last)} / {_short(first)}")
        rows = []
        for case in (*OPEN_CASES, *OWN_CASES, *DRIVER_CASES):
            row = [case if "," in case or ":" in case else f"{case}, open uow"]
            for size in sizes:
                result = scaling.results[size][case]
                row += [_report.us(result.median_us), _report.us(result.p95_us)]
            growth = scaling.results[last][case].median_us / scaling.results[first][case].median_us
            row.append(_report.ratio(growth, 1))
            rows.append(row)
            if case in ("login hit", "e-mail hit", "driver: login hit"):
                ratios[f"{case} ({name}), {_short(last)} / {_short(first)} users"] = growth
        _report.table(headers, rows)
        for kind in ("login", "email"):
            statement, _ = statements[name, kind]
            print(
                textwrap.fill(
                    " ".join(statement.split()),
                    width=_report.RULE_WIDTH,
                    initial_indent=f"  find_by_{kind} sends: ",
                    subsequent_indent="    ",
                )
            )
            print(f"  {scaling.backend.explain} at {last:,} users:")
            for line in scaling.plans[kind]:
                print(f"    {line}")
    calls = min(LOOKUPS, max(first - WARMUP_LOOKUPS, 1)) * ROUNDS
    _report.note(f"{calls:,} calls a case at {first:,} users: different random keys at each size,")
    _report.note("hits drawn uniformly among the stored users, misses never stored.")
    _report.note("open uow: the find alone (SQLAlchemy Core, the codec building a User); own uow:")
    _report.note("a unit of work per look-up; driver: the adapter's SQL through sqlite3/psycopg")
    factor = f"{last / first:,.0f}"
    ratio = f"{_short(last)} / {_short(first)}"
    _report.note(f"in autocommit, fetchone(), no User built. {ratio}: {factor} times the users;")
    _report.note(f"a scan would take ~{factor}x as long, an index look-up grows with the B-tree's")
    _report.note("depth (and SQLite's 2 MiB page cache reads more pages from the OS's).")
    return ratios


# -- d) the unit of work itself ---------------------------------------------------------------


def bench_unit_of_work(made: Setup, overhead_ns: int) -> dict[str, float]:
    """Section d): what opening and closing a unit of work costs, on the largest tables."""
    rng = random.Random(SEED - 1)
    size = made.config.sizes[-1]
    hits = draw_keys(rng, size, "login", hit=True)
    empty = Keys([None] * len(hits.timed), [None] * len(hits.warm_up), hit=True)
    cases = []
    stack = contextlib.ExitStack()
    for backend in made.backends:
        stores = {"": backend.largest}
        if backend.no_pre_ping is not None:
            stores[", no pre-ping"] = backend.no_pre_ping
        for suffix, store in stores.items():
            cases += [
                LookUp(
                    f"{backend.name}: empty unit of work{suffix}",
                    _empty_uow(store),
                    empty,
                    lambda _key, _result: True,
                ),
                LookUp(
                    f"{backend.name}: find_by_login hit, own uow{suffix}",
                    in_own(store, "login"),
                    hits,
                    _found,
                ),
            ]
        connection = stack.enter_context(contextlib.closing(backend.driver(backend.largest)))
        statement = capture(backend.largest, "login", _key("login", 0))
        cases += [
            LookUp(
                f"{backend.name}: driver, SELECT alone (autocommit)",
                _driver_look_up(connection, *statement),
                hits,
                driver_check(hits),
            ),
            LookUp(
                f"{backend.name}: driver, BEGIN + SELECT + ROLLBACK",
                _driver_transaction(backend, connection, *statement),
                hits,
                driver_check(hits),
            ),
        ]
    with stack:
        results = run_look_ups(cases, overhead_ns)
    print()
    print(f"10d. What a unit of work costs by itself ({size:,} users):")
    _report.table(["case", "calls", "median us", "p95 us"], [_row(r) for r in results.values()])
    _report.note("empty: enter and exit, no statement (checkout, pre-ping, return to the pool).")
    _report.note("driver: the same three statements a read-only unit of work sends, by hand.")
    ratios = {}
    if POSTGRES in {b.name for b in made.backends}:
        with_ping = results[f"{POSTGRES}: find_by_login hit, own uow"].median_us
        without = results[f"{POSTGRES}: find_by_login hit, own uow, no pre-ping"].median_us
        ratios[f"{POSTGRES} look-up, own uow: pool_pre_ping on / off"] = with_ping / without
        _report.note("pool_pre_ping (on in create_engine) adds a round trip to every unit of")
        _report.note(f"work: {_report.us(with_ping - without)} us a look-up here.")
    return ratios


def _empty_uow(store: SqlStore) -> Callable[[object], object]:
    def enter_and_exit(_key: object) -> object:
        with store.unit_of_work():
            return None

    return enter_and_exit


def _driver_transaction(
    backend: Backend,
    connection: Any,  # noqa: ANN401 - a DB-API connection
    statement: str,
    parameters: Any,  # noqa: ANN401 - as the adapter bound them
) -> Callable[[Any], object]:
    """What a read-only unit of work sends, by hand: BEGIN, the adapter's SELECT, ROLLBACK."""
    begin = "BEGIN IMMEDIATE" if backend.name == SQLITE else "BEGIN"
    cursor = connection.cursor()
    select = _driver_look_up(connection, statement, parameters)

    def transaction(key: Any) -> object:  # noqa: ANN401
        cursor.execute(begin)
        row = select(key)
        cursor.execute("ROLLBACK")
        return row

    return transaction


# -- the section ------------------------------------------------------------------------------


def run_section() -> dict[str, float]:
    """Run a) to d) in this process and print them; return the ratios for the summary."""
    started = time.perf_counter()
    config = read_config()
    times: dict[str, float] = {}
    made = _section.timed("set-up (schemas, Django's migrate)", times, lambda: setup(config))
    try:
        overhead_ns = _timing.clock_overhead_ns()
        print_environment(made, overhead_ns)
        _warm_up_policies()
        hashing = _section.timed("hashers", times, lambda: bench_hashers(overhead_ns))
        cases = registration_cases(made)
        _section.timed(
            "a) registrations",
            times,
            lambda: run_registrations(cases, config.registrations, overhead_ns),
        )
        counts = _count_registered(made)
        if set(counts.values()) != {config.registrations}:
            raise SystemExit(f"SQL benchmark: registered {counts}")
        ratios = print_registrations(cases, config.registrations, hashing)
        ratios |= _section.timed(
            "b) look-ups against Django", times, lambda: bench_against_django(made, overhead_ns)
        )
        ratios |= _section.timed(
            "c) a table per size: load, look-ups",
            times,
            lambda: bench_scaling(made, hashing, overhead_ns),
        )
        ratios |= _section.timed(
            "d) unit of work", times, lambda: bench_unit_of_work(made, overhead_ns)
        )
    finally:
        _section.timed("tear-down", times, lambda: teardown(made))
    _section.print_took(10, times, started)
    return ratios


def bench_sql() -> dict[str, float]:
    """Run the section in a process of its own (Django is configured once per process)."""
    return _section.run_apart("benchmarks._sql")


def main(argv: Sequence[str]) -> None:
    """``python -m benchmarks._sql [--summary PATH]``: run section 10."""
    _section.main(run_section, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
