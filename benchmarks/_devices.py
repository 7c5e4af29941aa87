"""Section 13: shared devices, their PINs and the audit trail (issue 9).

Everything runs in memory (:class:`~practiceid.adapters.InMemoryStore`), on a SQLite file and
on PostgreSQL, each store sealing its audit chains with an HMAC key unless said otherwise.

a) Unlocking with a PIN as the clinic grows. Each size in ``PRACTICEID_BENCH_DEVICE_MEMBERS``
   (10, 50, 500 and 5 000 members by default) is a clinic of its own on every database, made by
   :func:`practiceid.testing.sample_devices` (a clinic login; three members whose PINs
   ``DeviceService.issue_pin`` issued) and grown to that many members through the
   repositories: a user, an active membership and a credential holding the keyed digest of a
   PIN drawn as ``issue_pin`` draws it (:func:`practiceid.policies.pin.generate`, unique in the
   clinic). Timed: ``DeviceService.unlock`` with a member's right PIN followed by ``lock`` (one
   hand-over of the device; the members spread evenly through the clinic); ``unlock`` with a
   PIN nobody holds (refused with ``PinIncorrect``; the device stays locked, so nothing is
   locked after it); the PIN's look-up alone, in a unit of work (the query of the PIN keys in
   use in the clinic, then one HMAC-SHA-256 and one read of the unique index on
   ``(establishment_id, pin_digest)``); and that key-id query alone, which reads every
   credential of the clinic. At the largest size, the statements and commits of an unlock are
   counted, and the query plans printed (SQL). The yardstick is what a
   host would otherwise write: each member's PIN stored as an Argon2id hash (argon2-cffi's
   ``PasswordHasher``, with its defaults and with the cheapest parameters anyone would accept:
   ``time_cost=1``, 8 MiB, one lane), an entered PIN verified against every member's hash
   until one matches, since a salted hash has no index. The yardstick's loop runs for real
   where one call costs at most ``LOOP_BUDGET_S``; beyond, its time is its number of
   verifications times one verification's median, measured in the same rounds (marked ``*``).
   Its hashes are in memory: it reads nothing and writes nothing.

   PIN settings: ``device_attempts`` 20, so that a device takes 19 wrong PINs before it needs
   its credential again (the refused case moves to a device opened beforehand every 19
   calls), and a budget of 20 wrong PINs a minute for the establishment, the clock moved
   ``STEP`` (4 s) after every call: the guard holds at most 15 recent misses, no more than the
   default budget of 20 an hour lets it hold.
b) What the audit trail costs a command: ``AccessService.set_roles`` (a member switched between
   nurse and secretary, a change every call) with the audit log as it is, against the same
   command on a unit of work whose ``audit.append`` writes nothing and returns a dummy record
   (:class:`Unaudited`, built only here): the ratio, the statements a command sends, by kind,
   and the driver's time per kind. Then, on PostgreSQL, ``THREADS`` threads running the
   command, ``PRACTICEID_BENCH_DEVICE_COMMANDS`` each, all in ONE establishment (one chain,
   whose head row each append locks until its command commits) and each in an establishment
   of its own (8 chains), audited and not: commands per second, latency, and the time spent
   in the head's ``SELECT ... FOR UPDATE``.
c) Verifying a chain of ``PRACTICEID_BENCH_DEVICE_RECORDS`` records (100 000) of a clinic's
   events, sealed with plain SHA-256 and with HMAC-SHA-256: :func:`~practiceid.audit.verify_chain`
   over the records in memory, and ``AuditService.verify`` (pages of 1 000 records, a unit of
   work each) over an in-memory store and reading the records back from SQLite and PostgreSQL,
   where they were bulk-inserted as the adapter's codec writes them (the head row moved to the
   last). The yardstick is hashing the same canonical bytes with ``hashlib.sha256`` alone
   (``hmac.digest`` for the keyed chain): what a verification cannot beat. Also the canonical
   bytes alone (the JSON document), and reading the pages without verifying them: where the
   time goes.

Configuration (environment): ``PRACTICEID_BENCH_POSTGRES_URL``, else
``PRACTICEID_TEST_POSTGRES_URL`` (unset: the PostgreSQL part is skipped, the reason printed;
schemas ``practiceid_bench_dev_<random>_<name>``, dropped at the end);
``PRACTICEID_BENCH_DEVICE_MEMBERS``, clinic sizes (``10,50`` for a quick run);
``PRACTICEID_BENCH_DEVICE_RECORDS``, the chain's length in c) (``10000``);
``PRACTICEID_BENCH_DEVICE_CALLS``, calls per case and round in a) and b) (40; ``10``);
``PRACTICEID_BENCH_DEVICE_COMMANDS``, commands per thread in b) (100; ``20``). SQLite files go
to a temporary directory (``TMPDIR``), removed at the end.

The section runs in a process of its own (``python -m benchmarks._devices``;
``bench_devices`` starts it), as sections 10 to 12 do.

Timing: a) and b)'s single commands time every call on its own
(:func:`benchmarks._timing.run`: ``perf_counter_ns``, gc off during a round, the clock's
overhead subtracted, ``ROUNDS`` rounds round-robin); c) times whole passes
(:func:`benchmarks._timing.throughput`, the best of ``VERIFY_ROUNDS`` rounds and their
median); the concurrent runs of b) are timed whole, wall clock, ``CONCURRENT_ROUNDS`` times
each in turn, the median kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.metadata
import itertools
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self, cast

import argon2
import sqlalchemy as sa

import practiceid
from benchmarks import _report, _section, _timing
from benchmarks._onboarding import POSTGRES, SQLITE, _ints, _sqlite_pragmas
from benchmarks._sql import POSTGRES_ENVS
from practiceid.access import AccessService
from practiceid.adapters.keys import StaticKeyProvider
from practiceid.adapters.memory import InMemoryStore
from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql._codec import audit_record_values
from practiceid.adapters.sql._schema import (
    PIN_INDEX,
    audit_heads,
    audit_records,
    member_credentials,
    memberships,
    users,
)
from practiceid.audit import (
    AUDIT_KEY_PURPOSE,
    GENESIS,
    AuditEvent,
    AuditRecord,
    ChainHead,
    ChainVerification,
    DetailValue,
    Outcome,
    _body,
    chain_of,
    key_lookup,
    seal,
    verify_chain,
)
from practiceid.auditing import AuditService
from practiceid.devices import MemberCredential
from practiceid.errors import PinIncorrect
from practiceid.establishments import EstablishmentId, ProductKind, RoleId
from practiceid.memberships import Membership
from practiceid.policies import pin as pin_policy
from practiceid.policies.pin import PIN_KEY_PURPOSE, PinSettings
from practiceid.testing import ManualClock, SampleDevices, sample_devices, sample_user
from practiceid.users import UserId

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from practiceid.ports import AccessUnitOfWorkFactory

MEMBERS_ENV: Final = "PRACTICEID_BENCH_DEVICE_MEMBERS"
RECORDS_ENV: Final = "PRACTICEID_BENCH_DEVICE_RECORDS"
CALLS_ENV: Final = "PRACTICEID_BENCH_DEVICE_CALLS"
COMMANDS_ENV: Final = "PRACTICEID_BENCH_DEVICE_COMMANDS"
DEFAULT_MEMBERS: Final = (10, 50, 500, 5_000)
DEFAULT_RECORDS: Final = 100_000
DEFAULT_CALLS: Final = 40
DEFAULT_COMMANDS: Final = 100

MEMORY: Final = "in memory"
ROUNDS: Final = 5  # a), b): rounds, round-robin
VERIFY_ROUNDS: Final = 3  # c): whole verifications per case
HASH_ROUNDS: Final = 5  # c): whole passes of the yardsticks
CONCURRENT_ROUNDS: Final = 3  # b): each concurrent run, in turn
THREADS: Final = 8
SEED: Final = 20_261_001
LOAD_BATCH: Final = 1_000  # a): members a unit of work; c): records an INSERT
PAGE: Final = 1_000  # c): AuditService.verify's batch (its default)
COUNTED: Final = 20  # a), b): calls run with the statement counters on, untimed

KEYS: Final = StaticKeyProvider.generate(PIN_KEY_PURPOSE, AUDIT_KEY_PURPOSE)
PIN_SETTINGS: Final = PinSettings(
    device_attempts=20,
    establishment_attempts=20,
    establishment_window=timedelta(minutes=1),
    session_lifetime=timedelta(days=31),
)
STEP: Final = timedelta(seconds=4)  # the clock moves this much after every unlock
PER_DEVICE: Final = PIN_SETTINGS.device_attempts - 1  # wrong PINs a device takes, then the next
NURSE: Final = RoleId("nurse")
SECRETARY: Final = RoleId("secretary")

# The yardstick of a): argon2-cffi's defaults (RFC 9106's second recommendation), and the
# cheapest parameters anyone would accept.
ARGON2: Final = {
    "defaults": argon2.PasswordHasher(),
    "cheapest": argon2.PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),
}
SMALL_TABLE: Final = 500  # a): rows below which PostgreSQL may well scan rather than seek
LOOP_BUDGET_S: Final = 0.5  # the loop runs for real when one call costs at most this
LOOP_CALLS: Final = 4  # a): loop calls per case and round (members spread through the clinic)
VERIFY_BUDGET_S: Final = 0.25  # a): time of one round of single verifications, per parameters

RIGHT: Final = "unlock + lock, right PIN"
WRONG: Final = "unlock, wrong PIN (refused)"
LOOKUP: Final = "PIN look-up alone"
KEY_IDS: Final = "its key-id query alone"
AUDITED: Final = "set_roles, audited"
UNAUDITED: Final = "set_roles, no-op audit log"

CHAIN: Final = EstablishmentId("bench-clinic")  # c): the establishment whose chain is verified
CHAIN_START: Final = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
ROLE_CHANGE: Final[dict[str, DetailValue]] = {
    "roles": "secretary",
    "previous_roles": "nurse",
    "changed": True,
}


# -- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: clinic sizes, chain length, calls, commands, which PostgreSQL."""

    members: tuple[int, ...]
    records: int
    calls: int  # per case and round in a) and b); even
    commands: int  # per thread in b)'s concurrent runs; even
    postgres_url: str | None
    postgres_from: str  # the variable that gave the URL, or why there is none


def _one(name: str, default: int) -> int:
    values = _ints(name, (default,))
    if len(values) != 1:
        raise SystemExit(f"{name}: expected one number")
    return values[0]


def _even(value: int) -> int:
    return value + value % 2


def read_config() -> Config:
    """Read the environment (see the module's docstring)."""
    members = _ints(MEMBERS_ENV, DEFAULT_MEMBERS)
    if members[0] < 3:
        raise SystemExit(f"{MEMBERS_ENV}: a clinic has at least 3 members (sample_devices)")
    records = _one(RECORDS_ENV, DEFAULT_RECORDS)
    calls = _even(_one(CALLS_ENV, DEFAULT_CALLS))
    commands = _even(_one(COMMANDS_ENV, DEFAULT_COMMANDS))
    for name in POSTGRES_ENVS:
        if url := os.environ.get(name, "").strip():
            return Config(members, records, calls, commands, url, name)
    reason = f"neither {' nor '.join(POSTGRES_ENVS)} is set"
    return Config(members, records, calls, commands, None, reason)


# -- databases -------------------------------------------------------------------------------------

Store = InMemoryStore | SqlStore


@dataclass
class Databases:
    """Every store the section makes, so that :meth:`close` removes them all."""

    config: Config
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="practiceid-bench-devices-"))
    )
    prefix: str = field(default_factory=lambda: f"practiceid_bench_dev_{uuid.uuid4().hex[:12]}")
    schemas: list[str] = field(default_factory=list)
    stores: list[SqlStore] = field(default_factory=list)

    @property
    def backends(self) -> tuple[str, ...]:
        if self.config.postgres_url is None:
            return (MEMORY, SQLITE)
        return (MEMORY, SQLITE, POSTGRES)

    def store(self, backend: str, name: str, *, keyed: bool = True) -> Store:
        """A new store with practiceid's schema; ``keyed``: its chains are HMAC-sealed."""
        keys = KEYS if keyed else None
        if backend == MEMORY:
            return InMemoryStore(keys=keys)
        if backend == SQLITE:
            store = SqlStore.from_url(f"sqlite:///{self.directory / name}.db", keys=keys)
        else:
            assert self.config.postgres_url is not None  # noqa: S101 - no PostgreSQL backend
            schema = f"{self.prefix}_{name}"
            self.schemas.append(schema)
            store = SqlStore.from_url(self.config.postgres_url, schema=schema, keys=keys)
        self.stores.append(store)
        store.create_schema()
        return store

    def driver(self, store: SqlStore) -> Any:  # noqa: ANN401 - a DB-API connection
        """A plain DB-API connection to ``store``'s tables, autocommit."""
        if store.engine.dialect.name == "sqlite":
            return sqlite3.connect(str(store.engine.url.database), isolation_level=None)
        assert self.config.postgres_url is not None  # noqa: S101
        return _section.postgres_driver(self.config.postgres_url)(store)

    def close(self) -> None:
        """Close every store, drop the PostgreSQL schemas, remove the SQLite files."""
        for store in self.stores:
            store.close()
        if self.schemas and self.config.postgres_url is not None:
            with SqlStore.from_url(self.config.postgres_url) as admin, admin.engine.begin() as c:
                for schema in self.schemas:
                    c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for path in sorted(self.directory.iterdir()):
            path.unlink()
        self.directory.rmdir()


def _analyze(dbs: Databases, store: Store, tables: Sequence[sa.Table]) -> None:
    """What would happen by itself after a bulk load: autovacuum, a WAL checkpoint."""
    if not isinstance(store, SqlStore):
        return
    with contextlib.closing(dbs.driver(store)) as connection:
        if store.engine.dialect.name == "sqlite":
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        else:
            for table in tables:
                connection.execute(f"VACUUM (ANALYZE) {table.name}")


def _megabytes(store: SqlStore, tables: Sequence[sa.Table]) -> float:
    if store.engine.dialect.name == "sqlite":
        database = Path(str(store.engine.url.database))
        return sum(p.stat().st_size for p in database.parent.glob(f"{database.name}*")) / 2**20
    with store.engine.connect() as connection:
        total = sum(
            connection.execute(sa.select(sa.func.pg_total_relation_size(t.name))).scalar_one()
            for t in tables
        )
    return float(total) / 2**20


def _plan(dbs: Databases, store: SqlStore, statement: str, parameters: Any) -> list[str]:  # noqa: ANN401
    explain = "EXPLAIN QUERY PLAN" if store.engine.dialect.name == "sqlite" else "EXPLAIN"
    with contextlib.closing(dbs.driver(store)) as connection:
        rows = connection.execute(f"{explain} {statement}", parameters).fetchall()
    return [str(row[-1]) for row in rows]


def _spread(values: Sequence[str], count: int) -> list[str]:
    """``count`` values spread evenly through ``values`` (the middle of each share)."""
    return [values[(2 * k + 1) * len(values) // (2 * count)] for k in range(count)]


# -- statements ------------------------------------------------------------------------------------


_TABLE: Final = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(?:\"?\w+\"?\.)?practiceid_(\w+)")


def statement_kind(statement: str) -> str:
    """``SELECT users``, ``SAVEPOINT``...: what a statement does, and where."""
    words = statement.split(None, 2)
    verb = words[0].upper()
    if verb in {"SAVEPOINT", "BEGIN"}:
        return " ".join(words[:2]).upper() if verb == "BEGIN" else verb
    if verb == "RELEASE":
        return "RELEASE SAVEPOINT"
    found = _TABLE.search(statement)
    lock = " ... FOR UPDATE" if statement.rstrip().endswith("FOR UPDATE") else ""
    return f"{verb} {found.group(1)}{lock}" if found else verb


@dataclass
class Counted:
    """Statements per command by kind, their driver time, and commits."""

    commands: int
    counts: Counter[str] = field(default_factory=Counter)
    driver_ns: Counter[str] = field(default_factory=Counter)
    order: list[str] = field(default_factory=list)


@contextlib.contextmanager
def counting(store: SqlStore, commands: int) -> Iterator[Counted]:
    """Count the statements sent through ``store`` by kind, time the driver, count commits."""
    counted = Counted(commands)
    began: dict[int, int] = {}

    def before(*_args: Any) -> None:  # noqa: ANN401 - SQLAlchemy's event arguments
        began[threading.get_ident()] = time.perf_counter_ns()

    def after(*args: Any) -> None:  # noqa: ANN401
        elapsed = time.perf_counter_ns() - began.pop(threading.get_ident())
        kind = statement_kind(args[2])
        if kind not in counted.counts:
            counted.order.append(kind)
        counted.counts[kind] += 1
        counted.driver_ns[kind] += elapsed

    def commit(*_args: Any) -> None:  # noqa: ANN401
        counted.counts["COMMIT"] += 1

    events = (("before_cursor_execute", before), ("after_cursor_execute", after))
    for name, listener in (*events, ("commit", commit)):
        sa.event.listen(store.engine, name, listener)
    try:
        yield counted
    finally:
        for name, listener in (*events, ("commit", commit)):
            sa.event.remove(store.engine, name, listener)


# -- a) unlocking with a PIN -----------------------------------------------------------------------


def fresh_pin(rng: random.Random, taken: set[str]) -> str:
    """A PIN as ``issue_pin`` draws it (never a weak one), held by nobody in ``taken``."""
    while True:
        pin = pin_policy.generate(PIN_SETTINGS, randbelow=rng.randrange)
        if pin not in taken:
            taken.add(pin)
            return pin


@dataclass
class Clinic:
    """One clinic on one database: its devices, and every member's PIN, in member order."""

    backend: str
    size: int
    store: Store
    sample: SampleDevices
    members: list[UserId]
    pins: list[str]
    wrong: list[str]  # PINs nobody holds
    seconds: float = 0.0  # making it

    @property
    def establishment(self) -> EstablishmentId:
        return self.sample.establishment.id

    def open_device(self) -> str:
        """Sign a device in with the clinic login; its token (locked, waiting for a PIN)."""
        opened = self.sample.devices.open(
            self.sample.clinic_login_email, self.sample.clinic_password
        )
        return opened.token


def grow_clinic(dbs: Databases, backend: str, size: int, rng: random.Random) -> Clinic:
    """``sample_devices``, grown to ``size`` members through the repositories."""
    began = time.perf_counter()
    store = dbs.store(backend, f"clinic_{size}")
    sample = sample_devices(
        unit_of_work=store.unit_of_work, clock=ManualClock(), settings=PIN_SETTINGS, keys=KEYS
    )
    establishment = sample.establishment.id
    members = list(sample.members.values())
    pins = [sample.pins[name] for name in sample.members]
    taken = set(pins)
    key_id, key = KEYS.current(PIN_KEY_PURPOSE)
    now = sample.clock.now()
    for first in range(len(members), size, LOAD_BATCH):
        with store.unit_of_work() as uow:
            for index in range(first, min(first + LOAD_BATCH, size)):
                user = sample_user(first_name="Alex", last_name=f"Membre{index}", created_at=now)
                pin = fresh_pin(rng, taken)
                uow.users.add(user)
                uow.memberships.add(
                    Membership.join(user.id, establishment, roles=[NURSE], created_at=now)
                )
                uow.member_credentials.add(
                    MemberCredential(establishment, user.id).with_pin(
                        pin_policy.digest(key, establishment, pin), key_id, now
                    )
                )
                members.append(user.id)
                pins.append(pin)
            uow.commit()
    _analyze(dbs, store, (users, memberships, member_credentials))
    wrong = [fresh_pin(rng, taken) for _ in range(max(64, dbs.config.calls))]
    clinic = Clinic(backend, size, store, sample, members, pins, wrong)
    clinic.seconds = time.perf_counter() - began
    return clinic


def _find_holder(clinic: Clinic, pin: str) -> MemberCredential | None:
    """What ``unlock`` does to find the PIN's owner, in a unit of work of its own."""
    with clinic.store.unit_of_work() as uow:
        return clinic.sample.devices._find_holder(uow, clinic.establishment, pin)  # noqa: SLF001


def check_clinic(clinic: Clinic) -> None:
    """Refuse to time a clinic whose PINs do not do what the cases say they do."""
    devices, clock = clinic.sample.devices, clinic.sample.clock
    token = clinic.open_device()
    for index in (0, len(clinic.members) // 2, len(clinic.members) - 1):
        view = devices.unlock(token, clinic.pins[index])
        devices.lock(token)
        clock.advance(STEP)
        holder = _find_holder(clinic, clinic.pins[index])
        if view.member != clinic.members[index] or holder is None:
            raise SystemExit(f"device benchmark: the PIN of member {index} unlocked {view}")
    try:
        devices.unlock(token, clinic.wrong[0])
    except PinIncorrect:
        clock.advance(STEP)
    else:
        raise SystemExit("device benchmark: a PIN nobody holds unlocked a device")
    if _find_holder(clinic, clinic.wrong[0]) is not None:
        raise SystemExit("device benchmark: a PIN nobody holds has a holder")


class DevicePool:
    """Devices opened beforehand, each taking ``PER_DEVICE`` wrong PINs, then the next."""

    def __init__(self, clinic: Clinic, calls: int) -> None:
        self.tokens = [clinic.open_device() for _ in range(-(-calls // PER_DEVICE))]
        self.used = 0

    def next(self) -> str:
        token = self.tokens[self.used // PER_DEVICE]
        self.used += 1
        return token


def _right(clinic: Clinic) -> Callable[[str], object]:
    devices, clock, token = clinic.sample.devices, clinic.sample.clock, clinic.open_device()

    def run(pin: str) -> object:
        devices.unlock(token, pin)
        view = devices.lock(token)
        clock.advance(STEP)
        return view

    return run


def _wrong(clinic: Clinic, calls: int) -> Callable[[str], object]:
    devices, clock, pool = clinic.sample.devices, clinic.sample.clock, DevicePool(clinic, calls)

    def run(pin: str) -> object:
        token = pool.next()
        try:
            devices.unlock(token, pin)
        except PinIncorrect as error:
            clock.advance(STEP)
            return error
        raise SystemExit("device benchmark: a PIN nobody holds unlocked a device")

    return run


def _lookup(clinic: Clinic) -> Callable[[str], object]:
    def run(pin: str) -> object:
        return _find_holder(clinic, pin)

    return run


def _key_ids(clinic: Clinic) -> Callable[[str], object]:
    """The query the look-up starts with: the PIN keys in use in the establishment."""
    factory, establishment = clinic.store.unit_of_work, clinic.establishment

    def run(_pin: str) -> object:
        with factory() as uow:
            return uow.member_credentials.key_ids(establishment)

    return run


def _verify_one(hasher: argon2.PasswordHasher, stored: str) -> Callable[[str], object]:
    def run(pin: str) -> object:
        try:
            return hasher.verify(stored, pin)
        except argon2.exceptions.VerifyMismatchError:
            return False

    return run


def _scan(hasher: argon2.PasswordHasher, hashes: Sequence[str]) -> Callable[[str], object]:
    """The yardstick: the entered PIN verified against each member's hash until one matches."""

    def run(pin: str) -> object:
        for position, stored in enumerate(hashes, start=1):
            try:
                hasher.verify(stored, pin)
            except argon2.exceptions.VerifyMismatchError:
                continue
            return position
        return None

    return run


def _one_verification_s(hasher: argon2.PasswordHasher) -> float:
    stored = hasher.hash("908172")
    hasher.verify(stored, "908172")
    began = time.perf_counter()
    hasher.verify(stored, "908172")
    return time.perf_counter() - began


@dataclass
class Unlocks:
    """What a) measured."""

    ours: dict[tuple[str, int], dict[str, _timing.Result]]  # (backend, size) -> case -> result
    verification_us: dict[str, float]  # Argon2 parameters -> one verification's median
    loops: dict[tuple[str, int, str], _timing.Result]  # (parameters, size, right|wrong)
    plans: dict[tuple[str, str], list[str]]  # (backend, statement) -> plan, largest size
    counted: dict[tuple[str, str], Counted] = field(default_factory=dict)  # largest size


def bench_unlocks(dbs: Databases, clinics: Sequence[Clinic], overhead_ns: int) -> Unlocks:
    """a): every clinic's four cases and the yardstick's, round-robin; the plans."""
    calls = dbs.config.calls
    needed = (1 + ROUNDS) * calls  # the warm-up pass, then every round
    rng = random.Random(SEED)
    cases = []
    for clinic in clinics:
        prefix = f"{clinic.backend}|{clinic.size}|"
        right = _spread(clinic.pins, calls)
        rng.shuffle(right)
        cases += [
            _timing.Case(prefix + RIGHT, _right(clinic), right),
            _timing.Case(prefix + WRONG, _wrong(clinic, needed), clinic.wrong[:calls]),
            _timing.Case(prefix + LOOKUP, _lookup(clinic), right),
            _timing.Case(prefix + KEY_IDS, _key_ids(clinic), right),
        ]
    first = {clinic.size: clinic for clinic in clinics if clinic.backend == clinics[0].backend}
    cases += _argon2_cases(first)
    results = _timing.run(cases, rounds=ROUNDS, overhead_ns=overhead_ns)
    unlocks = Unlocks({}, {}, {}, {})
    for name, result in results.items():
        parts = name.split("|")
        if parts[0] != "argon2":
            unlocks.ours.setdefault((parts[0], int(parts[1])), {})[parts[2]] = result
        elif parts[2] == "verify":
            unlocks.verification_us[parts[1]] = result.median_us
        else:
            unlocks.loops[parts[1], int(parts[2]), parts[3]] = result
    largest = [c for c in clinics if c.size == max(dbs.config.members)]
    for clinic in largest:
        if isinstance(clinic.store, SqlStore):
            # A right PIN is found under the current key alone; only a wrong one goes on to
            # ask which older keys are in use (the key-id query).
            with _section.capturing(clinic.store) as right_seen:
                _find_holder(clinic, clinic.pins[0])
            with _section.capturing(clinic.store) as wrong_seen:
                _find_holder(clinic, clinic.wrong[0])
            for name, words, seen in (
                ("PIN look-up", "pin_digest = ", right_seen),
                ("key-id query", "DISTINCT", wrong_seen),
            ):
                statement, parameters = _section.one_statement(seen, words)
                plan = _plan(dbs, clinic.store, statement, parameters)
                unlocks.plans[clinic.backend, name] = plan
            for case, run, pins in (
                (RIGHT, _right(clinic), _spread(clinic.pins, COUNTED)),
                (WRONG, _wrong(clinic, COUNTED), clinic.wrong[:COUNTED]),
            ):
                with counting(clinic.store, COUNTED) as counted:
                    for pin in pins:
                        run(pin)
                unlocks.counted[clinic.backend, case] = counted
    return unlocks


def _argon2_cases(clinics: dict[int, Clinic]) -> list[_timing.Case]:
    """One verification per parameters; the loop, where it is cheap enough to run."""
    smallest = clinics[min(clinics)]
    cases = []
    for name, hasher in ARGON2.items():
        seconds = _one_verification_s(hasher)
        passes = max(1, round(VERIFY_BUDGET_S / (2 * seconds)))
        stored = hasher.hash(smallest.pins[0])
        pins = [smallest.pins[0], smallest.wrong[0]]
        cases.append(
            _timing.Case(f"argon2|{name}|verify", _verify_one(hasher, stored), pins, passes)
        )
        for size, clinic in clinics.items():
            if size * seconds > LOOP_BUDGET_S:
                continue
            scan = _scan(hasher, [hasher.hash(pin) for pin in clinic.pins])
            right = _spread(clinic.pins, LOOP_CALLS)
            cases += [
                _timing.Case(f"argon2|{name}|{size}|right", scan, right),
                _timing.Case(f"argon2|{name}|{size}|wrong", scan, clinic.wrong[:LOOP_CALLS]),
            ]
    return cases


def _yardstick_us(unlocks: Unlocks, name: str, size: int, case: str) -> tuple[float, bool]:
    """The yardstick's time per call, and whether it was measured (else computed)."""
    measured = unlocks.loops.get((name, size, case))
    if measured is not None:
        return measured.median_us, True
    verifications = (size + 1) / 2 if case == "right" else size
    return verifications * unlocks.verification_us[name], False


def _ms(value_us: float, *, measured: bool = True) -> str:
    text = _report.us(value_us / 1e3)
    return text if measured else f"{text}*"


def _print_ours(dbs: Databases, unlocks: Unlocks) -> None:
    sizes = dbs.config.members
    print("practiceid, per call (us): median / p95")
    rows = []
    for backend in dbs.backends:
        for size in sizes:
            by_case = unlocks.ours[backend, size]
            row = [backend, f"{size:,}"]
            for case in (RIGHT, WRONG, LOOKUP, KEY_IDS):
                row += [_report.us(by_case[case].median_us), _report.us(by_case[case].p95_us)]
            rows.append(row)
        growth = [backend, f"{sizes[-1]:,} / {sizes[0]:,}"]
        for case in (RIGHT, WRONG, LOOKUP, KEY_IDS):
            ratio = (
                unlocks.ours[backend, sizes[-1]][case].median_us
                / unlocks.ours[backend, sizes[0]][case].median_us
            )
            growth += [_report.ratio(ratio, 1), ""]
        rows.append(growth)
    _report.table(
        [
            "database",
            "members",
            "right med",
            "p95",
            "wrong med",
            "p95",
            "look-up med",
            "p95",
            "key ids med",
            "p95",
        ],
        rows,
        left=2,
    )
    _report.note("right: unlock with a member's PIN, then lock (a hand-over). wrong: unlock with")
    _report.note("a PIN nobody holds, refused (PinIncorrect; the miss counted on the device, the")
    _report.note("establishment's guard and the audit trail). look-up: one HMAC-SHA-256 of the")
    _report.note("PIN under the current key and one read of the unique index (establishment_id,")
    _report.note("pin_digest), in a unit of work: all a right PIN costs. A wrong PIN then asks")
    _report.note("which older PIN keys are in use there (key ids: that query alone, SELECT")
    _report.note("DISTINCT pin_key_id over the clinic's credentials; the guessing budget bounds")
    _report.note("how often it runs). Per unlock, whatever the size: 1 HMAC evaluation (one PIN")
    _report.note("key in use) and 1 index read, plus the key-id query for a wrong PIN.")
    _print_unlock_statements(dbs, unlocks)
    for (backend, name), plan in unlocks.plans.items():
        explain = "EXPLAIN QUERY PLAN" if backend == SQLITE else "EXPLAIN"
        print(f"  {backend}, {explain} of the {name} at {sizes[-1]:,} members:")
        for line in plan:
            print(f"    {line}")
        if name != "PIN look-up" or any(PIN_INDEX in line for line in plan):
            continue
        if backend == POSTGRES and sizes[-1] < SMALL_TABLE:
            print(
                f"  (a table of {sizes[-1]:,} rows: PostgreSQL reads its few pages, not the index)"
            )
        else:
            print(f"  WARNING: the look-up does not use {PIN_INDEX} on {backend}")


def _print_unlock_statements(dbs: Databases, unlocks: Unlocks) -> None:
    for backend in dbs.backends:
        if (backend, RIGHT) in unlocks.counted:
            right = _per_call(unlocks.counted[backend, RIGHT])
            wrong = _per_call(unlocks.counted[backend, WRONG])
            _report.note(f"{backend}, per call: right {right};")
            _report.note(f"  wrong {wrong}.")


def _per_call(counted: Counted) -> str:
    commits = counted.counts["COMMIT"]
    statements = counted.counts.total() - commits
    driver_us = counted.driver_ns.total() / 1e3 / counted.commands
    per_call = commits / counted.commands
    return (
        f"{statements / counted.commands:g} statements ({_report.us(driver_us)} us in the"
        f" driver) and {per_call:g} commit{'' if per_call == 1 else 's'}"
    )


def _described(hasher: argon2.PasswordHasher) -> str:
    lanes = "lane" if hasher.parallelism == 1 else "lanes"
    return f"t={hasher.time_cost}, {hasher.memory_cost // 1024} MiB, {hasher.parallelism} {lanes}"


def _print_yardstick(dbs: Databases, unlocks: Unlocks) -> None:
    one = ", ".join(
        f"{name} ({_described(ARGON2[name])}) {_ms(us)} ms"
        for name, us in unlocks.verification_us.items()
    )
    print()
    print("Yardstick: Argon2id hashes verified one by one until one matches, ms per call; one")
    print(f"verification: {one}.")
    headers = ["members", "verifications right", "wrong"]
    for name in ARGON2:
        headers += [f"{name} right", "wrong"]
    rows = []
    for size in dbs.config.members:
        row = [f"{size:,}", f"{(size + 1) / 2:,.1f}", f"{size:,}"]
        for name in ARGON2:
            for case in ("right", "wrong"):
                value, measured = _yardstick_us(unlocks, name, size, case)
                row.append(_ms(value, measured=measured))
        rows.append(row)
    _report.table(headers, rows)
    _report.note("verifications: Argon2id evaluations per unlock (right: on average, the owner")
    _report.note("anywhere in the list). * = verifications x one verification's median, not run:")
    _report.note(f"the loop runs for real only where a call costs at most {LOOP_BUDGET_S} s. The")
    _report.note("hashes are in memory (nothing read); and no unique PIN per clinic is possible")
    _report.note("without verifying a new PIN against every hash, at every issue.")


def print_unlocks(dbs: Databases, unlocks: Unlocks) -> dict[str, float]:
    """Print a): our cases per database, the yardstick, the ratios; return the key ratios."""
    sizes = dbs.config.members
    _report.heading("13a. Unlocking a shared device with a PIN, as the clinic grows")
    _print_ours(dbs, unlocks)
    _print_yardstick(dbs, unlocks)
    print()
    print("Yardstick / practiceid (medians; right: the loop / unlock + lock, wrong: the loop /")
    print("the refused unlock):")
    headers = ["database", "members"]
    for name in ARGON2:
        headers += [f"{name} right", "wrong"]
    rows = []
    ratios: dict[str, float] = {}
    for backend in dbs.backends:
        for size in sizes:
            by_case = unlocks.ours[backend, size]
            row = [backend, f"{size:,}"]
            for name in ARGON2:
                for case, ours in (("right", RIGHT), ("wrong", WRONG)):
                    value, _ = _yardstick_us(unlocks, name, size, case)
                    row.append(_report.ratio(value, by_case[ours].median_us))
            rows.append(row)
            if size == sizes[-1]:
                for name in ARGON2:
                    value, _ = _yardstick_us(unlocks, name, size, "right")
                    key = f"Argon2id scan ({name}) / unlock + lock, {size:,} members ({backend})"
                    ratios[key] = value / by_case[RIGHT].median_us
        growth = (
            unlocks.ours[backend, sizes[-1]][RIGHT].median_us
            / unlocks.ours[backend, sizes[0]][RIGHT].median_us
        )
        ratios[f"unlock + lock, {sizes[-1]:,} / {sizes[0]:,} members ({backend})"] = growth
    _report.table(headers, rows, left=2)
    _report.note("above 1: the yardstick's PIN check alone takes longer than practiceid's whole")
    _report.note("unlock (which also reads the session, the guard and the member, writes the")
    _report.note("session and an audit record, and commits).")
    return ratios


# -- b) the audit trail's cost per command ---------------------------------------------------------


class NoAuditLog:
    """An audit log that writes nothing: ``append`` returns a dummy record."""

    def append(self, event: AuditEvent) -> AuditRecord:
        return AuditRecord(event, chain_of(event), 1, GENESIS, GENESIS, "")

    def records(
        self, chain: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[AuditRecord]:
        del chain, after, limit
        return []

    def head(self, chain: str) -> ChainHead | None:
        del chain
        return None

    def chains(self) -> Sequence[str]:
        return []


class Unaudited:
    """A unit of work of the store whose audit log writes nothing (the benchmark's only)."""

    def __init__(self, inner: Any) -> None:  # noqa: ANN401 - any unit of work
        self._inner = inner
        self.audit = NoAuditLog()

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - the inner unit of work's
        return getattr(self._inner, name)


@dataclass
class Office:
    """A group of veterinary clinics on one database, with both services."""

    backend: str
    store: Store
    owner: UserId
    audited: AccessService
    unaudited: AccessService
    establishments: list[EstablishmentId]
    members: dict[EstablishmentId, list[UserId]]

    @property
    def first(self) -> EstablishmentId:
        return self.establishments[0]


def build_office(dbs: Databases, backend: str, establishments: int) -> Office:
    """An organisation of ``establishments`` clinics, through the services; the first has
    2 + ``THREADS`` members, the others one each, all nurses."""
    store = dbs.store(backend, "office")
    clock = ManualClock()
    access = AccessService(unit_of_work=store.unit_of_work, clock=clock)
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.commit()
    organisation = access.found_organisation(owner=owner.id, name="Groupe vétérinaire")
    ids = []
    members: dict[EstablishmentId, list[UserId]] = {}
    for number in range(establishments):
        establishment = access.open_establishment(
            actor=owner.id,
            organisation_id=organisation.id,
            name=f"Clinique vétérinaire {number + 1}",
            product=ProductKind.VETERINARY,
        ).id
        ids.append(establishment)
        members[establishment] = [
            access.add_member(
                actor=owner.id,
                establishment_id=establishment,
                email=f"membre{number}-{index}@clinique-exemple.be",
                roles=[NURSE],
                first_name="Alice",
                last_name=f"Membre {index}",
            ).user.id
            for index in range(2 + THREADS if number == 0 else 1)
        ]
    factory = cast("AccessUnitOfWorkFactory", lambda: Unaudited(store.unit_of_work()))
    unaudited = AccessService(unit_of_work=factory, clock=clock)
    return Office(backend, store, owner.id, access, unaudited, ids, members)


def _set_roles(
    access: AccessService, office: Office, establishment: EstablishmentId, member: UserId
) -> Callable[[str], object]:
    owner = office.owner

    def run(role: str) -> object:
        return access.set_roles(
            actor=owner, establishment_id=establishment, user_id=member, roles=[role]
        )

    return run


def _head(office: Office) -> int:
    with office.store.unit_of_work() as uow:
        head = uow.audit.head(office.first)
    return 0 if head is None else head.seq


def check_office(office: Office) -> None:
    """The audited command moves the chain's head by one; the other does not move it."""
    member, other = office.members[office.first][:2]
    before = _head(office)
    _set_roles(office.audited, office, office.first, member)(SECRETARY)
    _set_roles(office.audited, office, office.first, member)(NURSE)
    middle = _head(office)
    _set_roles(office.unaudited, office, office.first, other)(SECRETARY)
    _set_roles(office.unaudited, office, office.first, other)(NURSE)
    if middle != before + 2 or _head(office) != middle:
        raise SystemExit(f"device benchmark: audit heads {before}, {middle}, {_head(office)}")


_LOCK_KIND: Final = "SELECT audit_heads ... FOR UPDATE"


@dataclass(frozen=True)
class Concurrent:
    """One concurrent run: its threads, chains and service, over the rounds."""

    label: str
    threads: int
    chains: int
    audited: bool
    commands: int  # over all threads, in one round
    seconds: list[float] = field(default_factory=list)
    latencies_ns: list[int] = field(default_factory=list)
    lock_ns: list[int] = field(default_factory=list)  # head-lock SELECTs' time, per round

    @property
    def per_second(self) -> float:
        return self.commands / statistics.median(self.seconds)

    def latency_us(self, fraction: float) -> float:
        return _timing.percentile(self.latencies_ns, fraction) / 1e3

    @property
    def lock_per_command_us(self) -> float:
        rounds = len(self.seconds)
        return sum(self.lock_ns) / 1e3 / (self.commands * rounds) if self.lock_ns else 0.0


def _run_threads(
    access: AccessService,
    office: Office,
    targets: Sequence[tuple[EstablishmentId, UserId]],
    commands: int,
) -> tuple[float, list[int]]:
    """Run ``commands`` set_roles per target, a thread each, all started at once; the wall
    time and every command's latency."""
    start = threading.Barrier(len(targets) + 1)
    latencies: list[list[int]] = [[] for _ in targets]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        establishment, member = targets[index]
        run = _set_roles(access, office, establishment, member)
        roles = itertools.cycle((SECRETARY, NURSE))
        start.wait()
        try:
            for _ in range(commands):
                began = time.perf_counter_ns()
                run(next(roles))
                latencies[index].append(time.perf_counter_ns() - began)
        except BaseException as error:  # noqa: BLE001 - the main thread reports it
            failures.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failures:
        raise SystemExit(f"device benchmark: a concurrent command failed: {failures[0]!r}")
    return seconds, [ns for per_thread in latencies for ns in per_thread]


def bench_concurrent(office: Office, commands: int) -> list[Concurrent]:
    """b) on PostgreSQL: 1 and ``THREADS`` threads in one establishment, ``THREADS`` threads in
    ``THREADS`` establishments; audited and not; ``CONCURRENT_ROUNDS`` rounds in turn."""
    assert isinstance(office.store, SqlStore)  # noqa: S101 - PostgreSQL only
    solo = office.members[office.first][2 : 2 + THREADS]
    plans = [
        ("1 thread, one establishment", [(office.first, solo[0])]),
        (f"{THREADS} threads, one establishment", [(office.first, m) for m in solo]),
        (
            f"{THREADS} threads, {THREADS} establishments",
            [(office.first, solo[0])]
            + [(e, office.members[e][0]) for e in office.establishments[1:THREADS]],
        ),
    ]
    runs = {
        (label, audited): Concurrent(
            label=label,
            threads=len(targets),
            chains=len({e for e, _ in targets}),
            audited=audited,
            commands=commands * len(targets),
        )
        for label, targets in plans
        for audited in (True, False)
    }
    for _label, targets in plans:  # warm-up: every connection of the pool opened
        for audited in (True, False):
            access = office.audited if audited else office.unaudited
            _run_threads(access, office, targets, 4)
    for _ in range(CONCURRENT_ROUNDS):
        for label, targets in plans:
            for audited in (True, False):
                access = office.audited if audited else office.unaudited
                with counting(office.store, 0) as counted:
                    seconds, latencies = _run_threads(access, office, targets, commands)
                run = runs[label, audited]
                run.seconds.append(seconds)
                run.latencies_ns.extend(latencies)
                if counted.counts[_LOCK_KIND]:
                    run.lock_ns.append(counted.driver_ns[_LOCK_KIND])
    return list(runs.values())


@dataclass
class Commands:
    """What b) measured."""

    results: dict[str, dict[str, _timing.Result]]  # backend -> case -> result
    counted: dict[tuple[str, str], Counted]  # (backend, case) -> statements
    concurrent: list[Concurrent]


def bench_commands(dbs: Databases, offices: Sequence[Office], overhead_ns: int) -> Commands:
    """b): set_roles audited and not, every database round-robin; statements; concurrency."""
    calls = dbs.config.calls
    roles = [SECRETARY, NURSE] * (calls // 2)
    cases = []
    for office in offices:
        member, other = office.members[office.first][:2]
        cases += [
            _timing.Case(
                f"{office.backend}|{AUDITED}",
                _set_roles(office.audited, office, office.first, member),
                roles,
            ),
            _timing.Case(
                f"{office.backend}|{UNAUDITED}",
                _set_roles(office.unaudited, office, office.first, other),
                roles,
            ),
        ]
    results: dict[str, dict[str, _timing.Result]] = {}
    for name, result in _timing.run(cases, rounds=ROUNDS, overhead_ns=overhead_ns).items():
        backend, case = name.split("|")
        results.setdefault(backend, {})[case] = result
    counted = {}
    for office in offices:
        if not isinstance(office.store, SqlStore):
            continue
        member, other = office.members[office.first][:2]
        for case, access, target in (
            (AUDITED, office.audited, member),
            (UNAUDITED, office.unaudited, other),
        ):
            run = _set_roles(access, office, office.first, target)
            with counting(office.store, COUNTED) as counts:
                for role in [SECRETARY, NURSE] * (COUNTED // 2):
                    run(role)
            counted[office.backend, case] = counts
    concurrent = [
        run
        for office in offices
        if office.backend == POSTGRES
        for run in bench_concurrent(office, dbs.config.commands)
    ]
    return Commands(results, counted, concurrent)


def print_commands(dbs: Databases, commands: Commands) -> dict[str, float]:
    """Print b); return its key ratios."""
    _report.heading("13b. What the audit trail costs a command (AccessService.set_roles)")
    rows = []
    ratios = {}
    for backend in dbs.backends:
        by_case = commands.results[backend]
        plain = by_case[UNAUDITED].median_us
        for case in (AUDITED, UNAUDITED):
            result = by_case[case]
            counted = commands.counted.get((backend, case))
            per_command = (
                "-"
                if counted is None
                else f"{(counted.counts.total() - counted.counts['COMMIT']) / counted.commands:g}"
            )
            rows.append(
                [
                    backend,
                    case,
                    f"{result.calls:,}",
                    _report.us(result.median_us),
                    _report.us(result.p95_us),
                    _report.ratio(result.median_us, plain),
                    per_command,
                ]
            )
        ratio = by_case[AUDITED].median_us / plain
        ratios[f"set_roles audited / with a no-op audit log ({backend})"] = ratio
    _report.table(
        ["database", "case", "calls", "median us", "p95 us", "/ no-op", "statements"], rows, left=2
    )
    _report.note("no-op audit log: the same command on a unit of work whose audit.append writes")
    _report.note("nothing and returns a dummy record (the event is still built). statements: sent")
    _report.note("per command through the driver (COMMIT, PostgreSQL's BEGIN and pre-ping apart).")
    for backend in dbs.backends:
        audited = commands.counted.get((backend, AUDITED))
        unaudited = commands.counted.get((backend, UNAUDITED))
        if audited is None or unaudited is None:
            continue
        print()
        print(f"  {backend}: statements per command, and the driver's mean time (us per command)")
        kinds = audited.order + [k for k in unaudited.order if k not in audited.order]
        kinds += ["COMMIT"]
        rows = [
            [
                kind,
                f"{audited.counts[kind] / audited.commands:g}",
                f"{unaudited.counts[kind] / unaudited.commands:g}",
                ""
                if kind == "COMMIT"
                else _report.us(audited.driver_ns[kind] / 1e3 / audited.commands),
                ""
                if kind == "COMMIT"
                else _report.us(unaudited.driver_ns[kind] / 1e3 / unaudited.commands),
            ]
            for kind in kinds
        ]
        total = [audited.driver_ns.total(), unaudited.driver_ns.total()]
        rows.append(
            [
                "all statements",
                f"{(audited.counts.total() - audited.counts['COMMIT']) / audited.commands:g}",
                f"{(unaudited.counts.total() - unaudited.counts['COMMIT']) / unaudited.commands:g}",
                _report.us(total[0] / 1e3 / audited.commands),
                _report.us(total[1] / 1e3 / unaudited.commands),
            ]
        )
        _report.table(["kind", "audited", "no-op", "audited us", "no-op us"], rows)
    _report.note("the append: SAVEPOINT, the head locked (SELECT ... FOR UPDATE; SQLite's units of")
    _report.note("work are already serialized), INSERT of the record, UPDATE of the head, RELEASE.")
    if not commands.concurrent:
        print()
        print(f"  Concurrent appends: skipped, PostgreSQL only ({dbs.config.postgres_from}).")
        return ratios
    print()
    print(
        f"PostgreSQL, concurrent set_roles: {dbs.config.commands:,} commands a thread, median of"
        f" {CONCURRENT_ROUNDS} rounds"
    )
    rows = []
    by_key = {(run.label, run.audited): run for run in commands.concurrent}
    for run in commands.concurrent:
        other = by_key[run.label, not run.audited]
        rows.append(
            [
                run.label,
                "audited" if run.audited else "no-op log",
                f"{run.chains}",
                f"{run.per_second:,.0f}",
                _report.ratio(run.per_second, other.per_second) if run.audited else "",
                _report.us(run.latency_us(0.5)),
                _report.us(run.latency_us(0.95)),
                _report.us(run.lock_per_command_us) if run.audited else "",
            ]
        )
    _report.table(
        [
            "run",
            "audit log",
            "chains",
            "commands/s",
            "/ no-op",
            "p50 us",
            "p95 us",
            "head lock us",
        ],
        rows,
        left=2,
    )
    _report.note("head lock: time per command in SELECT ... FOR UPDATE of the chain's head row,")
    _report.note("waiting for the append before it to commit. Python threads share one GIL, and")
    _report.note(f"the machine has {os.cpu_count()} CPUs for the threads and the server alike.")
    one = by_key[f"{THREADS} threads, one establishment", True]
    many = by_key[f"{THREADS} threads, {THREADS} establishments", True]
    one_plain = by_key[f"{THREADS} threads, one establishment", False]
    ratios[f"{THREADS} threads: {THREADS} establishments / one (commands/s, audited)"] = (
        many.per_second / one.per_second
    )
    ratios[f"{THREADS} threads in one establishment: audited / no-op log (commands/s)"] = (
        one.per_second / one_plain.per_second
    )
    return ratios


# -- c) verifying a chain --------------------------------------------------------------------------


def clinic_events(count: int) -> list[AuditEvent]:
    """``count`` events of a clinic's day, in turn: unlocks, locks, refused PINs, role changes
    and the host's own acts (a consultation signed), seven seconds apart."""
    rng = random.Random(SEED)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    members = [UserId(new_id()) for _ in range(40)]
    administrator, clinic = UserId(new_id()), UserId(new_id())
    sessions = [new_id() for _ in range(6)]
    events = []
    for index in range(count):
        member, session = rng.choice(members), rng.choice(sessions)
        common: dict[str, Any] = {
            "at": CHAIN_START + timedelta(seconds=7 * index),
            "establishment_id": CHAIN,
            "peer_address": f"192.0.2.{rng.randint(2, 250)}",
            "request_id": f"req-{index:08x}",
        }
        kind = index % 10
        if kind < 4:
            event = AuditEvent(
                action="device.unlock",
                actor=member,
                account_id=clinic,
                device_session_id=session,
                target_type="device_session",
                target_id=session,
                **common,
            )
        elif kind < 7:
            event = AuditEvent(
                action="device.lock",
                actor=member,
                account_id=clinic,
                device_session_id=session,
                target_type="device_session",
                target_id=session,
                **common,
            )
        elif kind == 7:
            event = AuditEvent(
                action="device.unlock",
                outcome=Outcome.REFUSED,
                code="pin.incorrect",
                account_id=clinic,
                device_session_id=session,
                target_type="device_session",
                target_id=session,
                details={"device_misses": rng.randint(1, 4)},
                **common,
            )
        elif kind == 8:
            event = AuditEvent(
                action="consultation.sign",
                actor=member,
                account_id=clinic,
                device_session_id=session,
                target_type="consultation",
                target_id=new_id(),
                **common,
            )
        else:
            event = AuditEvent(
                action="member.set_roles",
                actor=administrator,
                target_type="user",
                target_id=member,
                details=ROLE_CHANGE,
                **common,
            )
        events.append(event)
    return events


def seal_all(
    events: Sequence[AuditEvent], head: ChainHead | None, *, key_id: str, key: bytes | None
) -> list[AuditRecord]:
    """``events`` sealed one after the other after ``head``, as an append would."""
    records = []
    for event in events:
        record = seal(head, event, key_id=key_id, key=key)
        records.append(record)
        head = record.head
    return records


def _canonical(record: AuditRecord) -> bytes:
    """The bytes a record's digest covers."""
    return _body(record.chain, record.seq, record.previous, record.key_id, record.event)


@dataclass
class Trail:
    """A chain on one database, with the service that verifies it."""

    backend: str
    keyed: bool
    store: Store
    owner: UserId
    service: AuditService
    length: int = 0
    load_s: float = 0.0
    megabytes: float = 0.0

    @property
    def flavour(self) -> str:
        return "keyed" if self.keyed else "plain"


def _insert(store: SqlStore, records: Sequence[AuditRecord]) -> None:
    """The records as the adapter stores them, ``LOAD_BATCH`` rows an INSERT; the head moved."""
    last = records[-1]
    with store.engine.begin() as connection:
        for first in range(0, len(records), LOAD_BATCH):
            chunk = records[first : first + LOAD_BATCH]
            connection.execute(audit_records.insert(), [audit_record_values(r) for r in chunk])
        connection.execute(
            audit_heads.update()
            .where(audit_heads.c.chain == last.chain)
            .values(seq=last.seq, digest=last.digest)
        )


def build_trail(
    dbs: Databases, backend: str, events: Sequence[AuditEvent], *, keyed: bool
) -> Trail:
    """The clinic ``CHAIN`` opened through the services, then ``events`` appended to its chain
    (in memory: through ``uow.audit.append``; SQL: sealed here, bulk-inserted)."""
    store = dbs.store(backend, f"chain_{'keyed' if keyed else 'plain'}", keyed=keyed)
    clock = ManualClock()
    access = AccessService(unit_of_work=store.unit_of_work, clock=clock)
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.commit()
    organisation = access.found_organisation(owner=owner.id, name="Groupe vétérinaire")
    access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Clinique vétérinaire de l'Exemple",
        product=ProductKind.VETERINARY,
        establishment_id=CHAIN,
    )
    service = AuditService(
        unit_of_work=store.unit_of_work, access=access, clock=clock, keys=KEYS if keyed else None
    )
    trail = Trail(backend, keyed, store, owner.id, service)
    began = time.perf_counter()
    if isinstance(store, SqlStore):
        with store.unit_of_work() as uow:
            head = uow.audit.head(CHAIN)
        key_id, key = KEYS.current(AUDIT_KEY_PURPOSE) if keyed else ("", None)
        _insert(store, seal_all(events, head, key_id=key_id, key=key))
        _analyze(dbs, store, (audit_records, audit_heads))
        trail.megabytes = _megabytes(store, (audit_records,))
    else:
        with store.unit_of_work() as uow:
            for event in events:
                uow.audit.append(event)
            uow.commit()
    trail.load_s = time.perf_counter() - began
    with store.unit_of_work() as uow:
        head = uow.audit.head(CHAIN)
    assert head is not None  # noqa: S101 - the chain was just filled
    trail.length = head.seq  # verified in every timed round (the loops check the result)
    return trail


def _check(result: ChainVerification, length: int) -> ChainVerification:
    if not result.intact or result.checked != length:
        raise SystemExit(f"device benchmark: a chain of {length} verified as {result!r}")
    return result


def _verify_list(key: Callable[[str], bytes] | None) -> Callable[[Sequence[Any]], object]:
    def loop(records: Sequence[Any]) -> object:
        return _check(verify_chain(records, chain=CHAIN, key=key), len(records))

    return loop


def _verify_service(trail: Trail) -> Callable[[Sequence[Any]], object]:
    def loop(numbers: Sequence[Any]) -> object:
        if len(numbers) < trail.length:  # the warm-up: the first round reads it cold, and the
            return None  # best of the rounds is kept
        result = trail.service.verify(actor=trail.owner, establishment_id=CHAIN, batch=PAGE)
        return _check(result, trail.length)

    return loop


def _read_pages(trail: Trail) -> Callable[[Sequence[Any]], object]:
    """The pages ``AuditService.verify`` reads, read alone, a unit of work each."""

    def loop(numbers: Sequence[Any]) -> object:
        if len(numbers) < trail.length:  # the warm-up
            return None
        after, read = 0, 0
        while True:
            with trail.store.unit_of_work() as uow:
                page = uow.audit.records(CHAIN, after=after, limit=PAGE)
            read += len(page)
            if len(page) < PAGE:
                return read
            after = page[-1].seq

    return loop


def _sha256(bodies: Sequence[Any]) -> object:
    digest = None
    for body in bodies:
        digest = hashlib.sha256(body).digest()
    return digest


def _hmac(key: bytes) -> Callable[[Sequence[Any]], object]:
    def loop(bodies: Sequence[Any]) -> object:
        digest = None
        for body in bodies:
            digest = hmac.digest(key, body, "sha256")
        return digest

    return loop


def _bodies(records: Sequence[Any]) -> object:
    body = None
    for record in records:
        body = _canonical(record)
    return body


SHA256_ALONE: Final = "hashlib.sha256 alone, canonical bytes ready"
HMAC_ALONE: Final = "hmac.digest (SHA-256) alone, canonical bytes ready"
JSON_ALONE: Final = "the canonical bytes alone (JSON), plain"


@dataclass
class Verifications:
    """What c) measured, and what it was measured on."""

    records: int
    body_bytes: float  # the canonical document's mean size
    seal_s: float  # sealing the plain chain in memory
    trails: list[Trail]
    results: dict[str, _timing.Throughput]
    cases: list[tuple[str, str]]  # (case name, its database), in the order to print


def bench_verify(dbs: Databases) -> Verifications:
    """c): the yardsticks, verify_chain in memory, AuditService.verify on every database."""
    events = clinic_events(dbs.config.records)
    began = time.perf_counter()
    plain = seal_all(events, None, key_id="", key=None)
    seal_s = time.perf_counter() - began
    key_id, key = KEYS.current(AUDIT_KEY_PURPOSE)
    keyed = seal_all(events, None, key_id=key_id, key=key)
    plain_bodies = [_canonical(r) for r in plain]
    keyed_bodies = [_canonical(r) for r in keyed]
    if any(
        hashlib.sha256(b).digest() != r.digest for b, r in zip(plain_bodies, plain, strict=True)
    ):
        raise SystemExit("device benchmark: sha256 of the canonical bytes is not the digest")
    if any(
        hmac.digest(key, b, "sha256") != r.digest for b, r in zip(keyed_bodies, keyed, strict=True)
    ):
        raise SystemExit("device benchmark: the HMAC of the canonical bytes is not the digest")
    lookup = key_lookup(KEYS)
    cases = [
        (SHA256_ALONE, MEMORY),
        (HMAC_ALONE, MEMORY),
        (JSON_ALONE, MEMORY),
        ("verify_chain, plain", MEMORY),
        ("verify_chain, keyed", MEMORY),
    ]
    hashing = [
        _timing.Batch(SHA256_ALONE, _sha256, plain_bodies),
        _timing.Batch(HMAC_ALONE, _hmac(key), keyed_bodies),
        _timing.Batch(JSON_ALONE, _bodies, plain),
    ]
    verifying = [
        _timing.Batch("verify_chain, plain", _verify_list(None), plain),
        _timing.Batch("verify_chain, keyed", _verify_list(lookup), keyed),
    ]
    trails = [
        build_trail(dbs, backend, events, keyed=flag)
        for backend in dbs.backends
        for flag in (False, True)
    ]
    for trail in trails:
        name = f"AuditService.verify, {trail.flavour}, {trail.backend}"
        cases.append((name, trail.backend))
        counted = range(trail.length)
        verifying.append(_timing.Batch(name, _verify_service(trail), counted))
        if trail.keyed and isinstance(trail.store, SqlStore):
            name = f"reading the pages alone, {trail.backend}"
            cases.append((name, trail.backend))
            verifying.append(_timing.Batch(name, _read_pages(trail), counted))
    results = _timing.throughput(hashing, rounds=HASH_ROUNDS)
    results |= _timing.throughput(verifying, rounds=VERIFY_ROUNDS)
    body_bytes = statistics.fmean(len(b) for b in plain_bodies)
    return Verifications(dbs.config.records, body_bytes, seal_s, trails, results, cases)


def print_verify(verifications: Verifications) -> dict[str, float]:
    """Print c); return its key ratios."""
    _report.heading(f"13c. Verifying a chain of {verifications.records:,} records")
    results = verifications.results
    sha = results[SHA256_ALONE]
    rows = []
    for name, backend in verifications.cases:
        result = results[name]
        per_record_us = result.best_s / result.items * 1e6
        rows.append(
            [
                name.removesuffix(f", {backend}"),
                backend,
                f"{result.items:,}",
                f"{result.per_second:,.0f}",
                f"{result.per_second_median:,.0f}",
                _report.us(per_record_us),
                _report.ratio(sha.per_second, result.per_second),
            ]
        )
    _report.table(
        ["case", "where", "records", "records/s", "median round", "us/record", "/ sha256"],
        rows,
        left=2,
    )
    loads = ", ".join(
        f"{t.backend} {t.flavour} {t.load_s:.1f} s"
        + (f" ({t.megabytes:,.0f} MiB)" if t.megabytes else "")
        for t in verifications.trails
    )
    text = (
        f"records/s: the best of {VERIFY_ROUNDS} whole verifications ({HASH_ROUNDS} passes for"
        " the yardsticks); / sha256: time per record over hashlib.sha256's on the same bytes"
        f" (mean {verifications.body_bytes:,.0f} bytes a record). AuditService.verify reads"
        f" pages of {PAGE:,} records, a unit of work each, through the codec; its chains also"
        " hold the clinic's own first record (its opening). Sealing the plain chain in memory"
        f" took {verifications.seal_s:.1f} s"
        f" ({verifications.records / verifications.seal_s:,.0f} seals/s, nothing stored);"
        f" filling the chains (sealing and storing): {loads}."
    )
    for line in textwrap.wrap(text, width=_report.RULE_WIDTH - 8):
        _report.note(line)
    ratios = {
        "verify_chain keyed, in memory / hashlib.sha256 alone (time per record)": (
            sha.per_second / results["verify_chain, keyed"].per_second
        )
    }
    for trail in verifications.trails:
        if trail.keyed and trail.backend != MEMORY:
            service = results[f"AuditService.verify, keyed, {trail.backend}"]
            ratios[f"AuditService.verify keyed ({trail.backend}) / hashlib.sha256 alone"] = (
                sha.per_second / service.per_second
            )
    return ratios


# -- the section -----------------------------------------------------------------------------------


def print_environment(dbs: Databases, clinics: Sequence[Clinic], overhead_ns: int) -> None:
    """Versions, database settings, and what is compared with what."""
    config = dbs.config
    _report.heading("13. Shared devices: PINs and the audit trail (in memory, SQLite, PostgreSQL)")
    print(f"Python      {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"platform    {platform.platform()} ({platform.machine()}, {os.cpu_count()} CPUs)")
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("sqlalchemy", "psycopg", "argon2-cffi")
    )
    print(f"libraries   practiceid {practiceid.__version__}, {versions},")
    print(f"            SQLite {sqlite3.sqlite_version}")
    sqlite_store = next(c.store for c in clinics if c.backend == SQLITE)
    assert isinstance(sqlite_store, SqlStore)  # noqa: S101
    print(f"SQLite      files in {dbs.directory}")
    print(f"            {_sqlite_pragmas(sqlite_store)}")
    print("            (create_engine: WAL, BEGIN IMMEDIATE, foreign keys on)")
    if config.postgres_url is None:
        print(f"PostgreSQL  skipped: {config.postgres_from}.")
        print(f"            Set {POSTGRES_ENVS[0]} (or {POSTGRES_ENVS[1]}) to a server's URL.")
    else:
        store = next(c.store for c in clinics if c.backend == POSTGRES)
        assert isinstance(store, SqlStore)  # noqa: S101
        names = ("server_version", "shared_buffers", "synchronous_commit", "fsync")
        with contextlib.closing(dbs.driver(store)) as connection:
            settings = {n: connection.execute(f"SHOW {n}").fetchone()[0] for n in names}
        host = sa.make_url(config.postgres_url).host or "local socket"
        version = settings["server_version"].split()[0]
        print(f"PostgreSQL  {version} on {host} ({config.postgres_from}),")
        print(
            f"            shared_buffers={settings['shared_buffers']},"
            f" synchronous_commit={settings['synchronous_commit']}, fsync={settings['fsync']};"
        )
        print(f"            schemas {dbs.prefix}_<name>, dropped at the end")
    sizes = ", ".join(f"{size:,}" for size in config.members)
    print(f"a)          clinics of {sizes} members ({MEMBERS_ENV}),")
    print(f"            {config.calls} calls per case and round ({CALLS_ENV})")
    print(
        f"            PINs of {PIN_SETTINGS.length} digits; {PIN_SETTINGS.device_attempts} wrong"
        f" PINs a device, {PIN_SETTINGS.establishment_attempts} a minute an establishment;"
    )
    print(f"            the clock moved {STEP.seconds} s after each unlock")
    print(
        f"b)          {config.calls} calls per case and round; {THREADS} threads x"
        f" {config.commands} commands ({COMMANDS_ENV})"
    )
    print(f"c)          a chain of {config.records:,} records ({RECORDS_ENV})")
    print("method      a), b): every call timed alone, gc off during a round, clock overhead")
    print(
        f"            ({overhead_ns} ns) subtracted, {ROUNDS} rounds round-robin; c): whole passes,"
    )
    print("            the best round; times in microseconds unless marked.")
    print(f"load        {_section.load_average()} (1, 5, 15 min) as the section starts")


def run_section() -> dict[str, float]:
    """Build the stores, run a) to c) in this process and print them; return the ratios."""
    started = time.perf_counter()
    config = read_config()
    times: dict[str, float] = {}
    dbs = Databases(config)
    try:
        overhead_ns = _timing.clock_overhead_ns()
        rng = random.Random(SEED)
        clinics = _section.timed(
            "a) clinics",
            times,
            lambda: [
                grow_clinic(dbs, backend, size, rng)
                for backend in dbs.backends
                for size in config.members
            ],
        )
        for clinic in clinics:
            check_clinic(clinic)
        print_environment(dbs, clinics, overhead_ns)
        unlocks = _section.timed(
            "a) unlocks", times, lambda: bench_unlocks(dbs, clinics, overhead_ns)
        )
        for clinic in clinics:
            if isinstance(clinic.store, SqlStore):
                clinic.store.close()
        ratios = print_unlocks(dbs, unlocks)
        made = ", ".join(
            f"{c.backend} {c.size:,} {c.seconds:.1f} s"
            for c in clinics
            if c.size == max(config.members)
        )
        _report.note(f"making the largest clinics: {made}.")
        offices = _section.timed(
            "b) offices",
            times,
            lambda: [
                build_office(dbs, backend, THREADS if backend == POSTGRES else 1)
                for backend in dbs.backends
            ],
        )
        for office in offices:
            check_office(office)
        commands = _section.timed(
            "b) commands", times, lambda: bench_commands(dbs, offices, overhead_ns)
        )
        ratios |= print_commands(dbs, commands)
        verifications = _section.timed(
            "c) chains and verification", times, lambda: bench_verify(dbs)
        )
        ratios |= print_verify(verifications)
    finally:
        _section.timed("tear-down", times, dbs.close)
    _section.print_took(13, times, started)
    return ratios


def bench_devices() -> dict[str, float]:
    """Run the section in a process of its own, as sections 10 to 12."""
    return _section.run_apart("benchmarks._devices")


def main(argv: Sequence[str]) -> None:
    """``python -m benchmarks._devices [--summary PATH]``: run section 13."""
    _section.main(run_section, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
