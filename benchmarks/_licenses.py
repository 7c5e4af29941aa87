"""Section 12: licenses on a SQLite file and on PostgreSQL (issue 8).

Each size in ``PRACTICEID_BENCH_LICENSE_SIZES`` (10 000, 100 000 and 1 000 000 by default) has
tables of its own (a SQLite file, a PostgreSQL schema) holding that many licenses, each with
what :meth:`~practiceid.LicenseService.run_due` and ``access_for`` read beside it: the member's
``practiceid_users`` row and ``practiceid_memberships`` row, and, every ``MEMBERS`` licenses, an
establishment (general practice, with its product's roles), its organisation and the owner who
founded it. The rows are made by the adapter's codec (``license_values``, ``user_values``,
``membership_values``, ``establishment_values``, ``organisation_values``) and loaded as in
section 11, by :class:`benchmarks._onboarding.Loader`: batches of ``BATCH`` (SQLite
``executemany``, PostgreSQL ``COPY``), the secondary indexes dropped before and built after
from the adapter's definitions, then a WAL checkpoint (SQLite) or ``VACUUM ANALYZE``
(PostgreSQL). The 1 000 000 licenses are made once, for every table.

Every license is made by the lifecycle's own functions (:mod:`practiceid.policies.license`:
``provision``, ``request``, ``invoice``, ``record_payment``, ``activate``), with a sweep run
on time at every moment it fell due (``tick``) up to ``QUIET``, so that what is stored is what
the service would have stored. ``PRACTICEID_BENCH_LICENSE_DUE`` of them (1 % by default),
spread evenly through the table, fell due in the 2 days before ``NOW`` and were not swept:
the 30-, 7- and 1-day notices of a term, the end of a term, the end of a provisional license
and a late activation, in turn. The others are, in parts of 100: 30 staff (free, no
``due_at``), 10 provisional, 3 requested and 2 invoiced (half of them renewals), 2 paid
(activation not due yet), 45 active or expiring (a third of them renewed terms; ``due_at`` at
their next notice) and 8 expired (a provisional license or a term that ended).

a) The sweep: ``LicenseService.run_due(NOW)`` once on every table, through the service (a
   license desk address set, 500 licenses a unit of work): total time, licenses per second,
   the outbox rows it wrote (a late activation is reported to the requester and to the
   desk), statements per license, and time per license at the largest size over the
   smallest: the sweep costs what is due, not what is stored.
b) A sweep with nothing due, on every table, all sizes and both databases timed
   round-robin, before a) (at ``QUIET``) and after it (at ``NOW``, the next run of the job),
   against the claim it sends with its index forbidden (SQLite ``NOT INDEXED``; PostgreSQL
   with ``enable_indexscan``, ``enable_indexonlyscan`` and ``enable_bitmapscan`` off), as
   section 11b does. The query plans are printed.
c) The license-aware decision. ``decide(access, Permission.CONSULTATIONS_SIGN)`` on the
   ``Access`` that ``LicenseService.access_for`` returns, for physicians of the first
   ``DECISION_ESTABLISHMENTS`` establishments whose license allows it and for those whose
   license expired (``license_required``), against ``decide`` on the unrestricted ``Access``
   of ``AccessService.access`` (what the license adds to a decision), and against pycasbin
   with a model whose matcher also checks a license-validity attribute of the subject
   (``MODEL``: RBAC with domains as in section 8, each ``p`` line saying whether its
   permission needs a license). Then what ``access_for`` itself costs against
   ``AccessService.access`` (one more primary-key read, and the license's status), on every
   database, a unit of work each.

Configuration (environment): ``PRACTICEID_BENCH_POSTGRES_URL``, else
``PRACTICEID_TEST_POSTGRES_URL`` (unset: the PostgreSQL half is skipped, the reason printed;
everything goes into schemas ``practiceid_bench_lic_<random>_<size>``, dropped at the end);
``PRACTICEID_BENCH_LICENSE_SIZES``, comma-separated table sizes (``10000,100000`` for a quick
run); ``PRACTICEID_BENCH_LICENSE_DUE``, the fraction due (``0.01`` or ``1%``). SQLite files go
to a temporary directory (``TMPDIR``), removed at the end.

The section runs in a process of its own (``python -m benchmarks._licenses``;
``bench_licenses`` starts it), as sections 10 and 11 do.

Timing: b) and the ``access_for`` part of c) time every call on its own
(:func:`benchmarks._timing.run`: ``perf_counter_ns``, gc off during a round, the clock's
overhead subtracted, ``ROUNDS`` rounds round-robin); the decisions of c) take well under a
microsecond and are timed as whole passes (:func:`benchmarks._timing.throughput`), as in
section 8. a) changes what it touches, so it runs once, whole.
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
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import attrs
import casbin
import sqlalchemy as sa
from casbin.model import FastModel, Model

import practiceid
from benchmarks import _access, _quiet, _report, _section, _timing
from benchmarks._onboarding import (
    POSTGRES,
    SQLITE,
    Backend,
    Loader,
    _fraction,
    _ints,
    _postgres_scan,
    _sqlite_driver,
    _sqlite_instant,
    _sqlite_pragmas,
    bulk_person,
)
from benchmarks._sql import POSTGRES_ENVS
from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql._codec import (
    establishment_values,
    license_from,
    license_values,
    membership_values,
    organisation_values,
    user_values,
)
from practiceid.adapters.sql._schema import (
    DUE_LICENSES_INDEX,
    establishments,
    licenses,
    memberships,
    organisation_owners,
    organisations,
    outbox,
    users,
)
from practiceid.authorization import Access, Reason, decide
from practiceid.establishments import (
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
    RoleId,
)
from practiceid.invitations import MessageKind
from practiceid.licenses import License, LicenseKind, LicenseRequest, LicenseStatus
from practiceid.memberships import Membership
from practiceid.permissions import Permission
from practiceid.policies import license as policy
from practiceid.policies.email import EmailAddress
from practiceid.policies.identifiers import inami
from practiceid.policies.license import LicenseSettings
from practiceid.policies.login import Login
from practiceid.testing import SAMPLE_PRICES, ManualClock
from practiceid.users import User, UserId, UserStatus, new_user_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

SIZES_ENV: Final = "PRACTICEID_BENCH_LICENSE_SIZES"
DUE_ENV: Final = "PRACTICEID_BENCH_LICENSE_DUE"
DEFAULT_SIZES: Final = (10_000, 100_000, 1_000_000)
DEFAULT_DUE: Final = 0.01

ROUNDS: Final = 5  # b) and c): rounds, round-robin
BATCH: Final = 50_000  # licenses per transaction when loading
MEMBERS: Final = 20  # licenses (members) per establishment
SEED: Final = 20_260_801
DECISION_ESTABLISHMENTS: Final = 50  # c): the members of the first 50 establishments
ACCESSES: Final = 200  # c): at most this many members per case
QUERIES: Final = 20_000  # c): decisions per pass (the members, cycled)
STOCK_QUERIES: Final = 50  # c): the stock Enforcer costs milliseconds a call
STOCK_ROUNDS: Final = 3

NOW: Final = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # when a) sweeps (11:00 in Brussels)
DUE_SPREAD: Final = timedelta(days=2)  # due licenses fell due in the 2 days before NOW
QUIET: Final = NOW - DUE_SPREAD - timedelta(minutes=1)  # b), before a): nothing due yet
SET_UP_AT: Final = NOW - timedelta(days=2_500)  # the practices' own creation
SLOTS: Final = (8 * 60 + 30, 10 * 60 + 15, 13 * 60 + 45, 16 * 60 + 30)  # local times of acts

DESK: Final = "licences@vendor.example"
SETTINGS: Final = LicenseSettings(desk_address=DESK)  # 45 days, 12 months, 30/7/1, Brussels
PRODUCT: Final = ProductKind.GENERAL_PRACTICE
PRICE: Final = SAMPLE_PRICES.price(PRODUCT, LicenseKind.PHYSICIAN)
PASSWORD: Final = "Vrai-Cheval-Agrafe-42"
TODAY: Final = policy.local_day(NOW, SETTINGS)
SIGN: Final = Permission.CONSULTATIONS_SIGN

# The licenses that are not due, in parts of 100 (the due share is spread among them).
MIX: Final = (
    ("staff", 30),
    ("provisional", 10),
    ("requested", 3),
    ("invoiced", 2),
    ("paid", 2),
    ("active", 45),
    ("expired", 8),
)
EXPECTED: Final = {  # the statuses each bucket may end in
    "staff": {LicenseStatus.ACTIVE},
    "provisional": {LicenseStatus.PROVISIONAL},
    "requested": {LicenseStatus.REQUESTED},
    "invoiced": {LicenseStatus.INVOICED},
    "paid": {LicenseStatus.PAID},
    "active": {LicenseStatus.ACTIVE, LicenseStatus.EXPIRING},
    "expired": {LicenseStatus.EXPIRED},
}
# What falls due, in turn: (name, the message the sweep sends, notices sent before it).
DUE_KINDS: Final = (
    ("notice, 30 days", MessageKind.LICENSE_EXPIRING, 0),
    ("notice, 7 days", MessageKind.LICENSE_EXPIRING, 1),
    ("notice, 1 day", MessageKind.LICENSE_EXPIRING, 2),
    ("end of a term", MessageKind.LICENSE_EXPIRED, 3),
    ("end of a provisional license", MessageKind.LICENSE_EXPIRED, 3),
    ("late activation", MessageKind.LICENSE_ACTIVATION_LATE, 0),
)
SINCE: Final = (1, 30, 200, 900)  # days a physician was a member before requesting

# c): RBAC with domains (section 8), each p line saying whether its permission needs a
# license, and the subject an object carrying its license's validity (casbin's ABAC).
MODEL: Final = """\
[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, dom, obj, lic

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.dom == p.dom && r.obj == p.obj && g(r.sub.id, p.sub, r.dom) \
&& (p.lic == "free" || r.sub.licensed)
"""


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: which table sizes, how many due, which PostgreSQL."""

    sizes: tuple[int, ...]
    due: float
    postgres_url: str | None
    postgres_from: str  # the variable that gave the URL, or why there is none


def read_config() -> Config:
    """Read the environment (see the module's docstring)."""
    sizes = _ints(SIZES_ENV, DEFAULT_SIZES)
    due = _fraction(DUE_ENV, DEFAULT_DUE)
    for name in POSTGRES_ENVS:
        if url := os.environ.get(name, "").strip():
            return Config(sizes, due, url, name)
    return Config(sizes, due, None, f"neither {' nor '.join(POSTGRES_ENVS)} is set")


# -- the licenses, made by the lifecycle ----------------------------------------------------

_EST: Final = EstablishmentId("placeholder-establishment")
_HOLDER: Final = UserId("placeholder-user")
_PLACEHOLDER: Final = "-"

Steps = tuple[tuple[str, int], ...]
"""A license's history: (act, days before ``NOW``'s local day), oldest first."""


def _at(back: int, slot: int) -> datetime:
    """The instant of ``SLOTS[slot]`` on the local day ``back`` days before ``NOW``'s."""
    day = policy.day_start(TODAY - timedelta(days=back), SETTINGS)
    return day + timedelta(minutes=SLOTS[slot])


def _asked(at: datetime) -> LicenseRequest:
    """A one-year request made at ``at``; its names are the row's, filled in later."""
    return LicenseRequest(
        requested_at=at,
        requested_by=_HOLDER,
        kind=LicenseKind.PHYSICIAN,
        months=12,
        first_name=_PLACEHOLDER,
        last_name=_PLACEHOLDER,
        identifier_kind="inami",
        identifier=_PLACEHOLDER,
        practice=_PLACEHOLDER,
        bill_to=_HOLDER,
    )


def settle(seat: License, until: datetime) -> License:
    """The sweep, run on time at every moment the license fell due up to ``until``."""
    while seat.due_at is not None and seat.due_at <= until:
        step = policy.tick(seat, seat.due_at, SETTINGS)
        seat = attrs.evolve(seat, due_at=None) if step is None else step.license
    return seat


def _act(seat: License | None, act: str, at: datetime) -> License:
    if seat is None:
        kind = LicenseKind.STAFF if act == "staff" else LicenseKind.PHYSICIAN
        return policy.provision(_EST, _HOLDER, kind, now=at, settings=SETTINGS).license
    seat = settle(seat, at)
    if act == "request":
        return policy.request(seat, at, SETTINGS, asked=_asked(at)).license
    if act == "invoice":
        amount = PRICE.for_months(12)
        step = policy.invoice(
            seat, at, SETTINGS, number=_PLACEHOLDER, amount=amount, currency=PRICE.currency
        )
        return step.license
    if act == "pay":
        return policy.record_payment(seat, at, SETTINGS, paid_at=at).license
    if act == "activate":
        return policy.activate(seat, at, SETTINGS).license
    raise SystemExit(f"license benchmark: unknown act {act!r}")


@dataclass(frozen=True)
class Made:
    """A history's license as the codec stores it, and what the sweep would do with it."""

    values: dict[str, object]  # license_values, placeholder ids
    status: LicenseStatus
    due_at: datetime | None
    notices_sent: int
    messages: tuple[MessageKind, ...]  # what the sweep sends at NOW


@functools.cache
def made_license(steps: Steps, slot: int) -> Made:
    """The license ``steps`` leave, swept on time up to ``QUIET``; made once per history."""
    seat: License | None = None
    for act, back in steps:
        seat = _act(seat, act, _at(back, slot))
    assert seat is not None  # noqa: S101 - steps are never empty
    seat = settle(seat, QUIET)
    if policy.next_due(seat, SETTINGS) != seat.due_at:
        raise SystemExit(f"license benchmark: due_at is not next_due: {seat!r}")
    step = policy.tick(seat, NOW, SETTINGS)
    return Made(
        license_values(seat, version=0),
        seat.status,
        seat.due_at,
        seat.notices_sent,
        () if step is None else step.messages,
    )


def _term(back: int, since: int) -> Steps:
    """A first term activated ``back`` days ago, after a provisional license."""
    return (
        ("provision", back + 20 + since),
        ("request", back + 20),
        ("invoice", back + 15),
        ("pay", back + 8),
        ("activate", back),
    )


def _renewed(back: int, since: int) -> Steps:
    """A term renewed ``back`` days ago, before the previous one ended."""
    return (
        *_term(back + 350, since),
        ("request", back + 20),
        ("invoice", back + 15),
        ("pay", back + 8),
        ("activate", back),
    )


_PENDING_DAYS: Final = {"request": 10, "invoice": 6, "pay": 0}  # before the payment


def _pending(rng: random.Random, acts: Sequence[str]) -> Steps:
    """A request that went as far as ``acts[-1]``, on a provisional license or a term."""
    last = rng.randint(3, 24)  # days since the last act
    shift = _PENDING_DAYS[acts[-1]]
    steps = tuple((act, last + _PENDING_DAYS[act] - shift) for act in acts)
    requested = steps[0][1]
    if rng.random() < 0.5:
        return (("provision", requested + rng.randint(1, 14)), *steps)
    # a renewal, asked for after the term's first notice (335 days after its activation)
    return (*_term(requested + 335 + rng.randint(0, 25), rng.choice(SINCE)), *steps)


def draw_steps(bucket: str, rng: random.Random) -> Steps:  # noqa: PLR0911 - one per bucket
    """A history that may end in ``bucket`` (:func:`fits` says whether it does)."""
    if bucket == "staff":
        return (("staff", rng.randint(3, 2_400)),)
    if bucket == "provisional":
        return (("provision", rng.randint(3, 44)),)
    if bucket == "requested":
        return _pending(rng, ("request",))
    if bucket == "invoiced":
        return _pending(rng, ("request", "invoice"))
    if bucket == "paid":
        return _pending(rng, ("request", "invoice", "pay"))
    if bucket == "active":
        if rng.random() < 1 / 3:
            return _renewed(rng.randint(3, 340), rng.choice(SINCE))
        return _term(rng.randint(3, 364), rng.choice(SINCE))
    if rng.random() < 0.5:
        return (("provision", rng.randint(47, 700)),)
    return _term(rng.randint(367, 1_000), rng.choice(SINCE))


def fits(bucket: str, steps: Steps, slot: int) -> bool:
    """Whether the history ends in ``bucket`` with nothing due before ``NOW``."""
    seat = made_license(steps, slot)
    quiet = seat.due_at is None or seat.due_at > NOW
    return quiet and seat.status in EXPECTED[bucket]


def _due_steps(kind: int, back: int, since: int = 10) -> Steps:
    if kind <= 3:  # the notices and the end of a term
        return _term(back, since)
    if kind == 4:  # the end of a provisional license
        return (("provision", back),)
    return (("provision", back + 15), ("request", back + 10), ("invoice", back + 6), ("pay", back))


def falls_due(kind: int, steps: Steps, slot: int) -> bool:
    """Whether the history falls due between ``QUIET`` and ``NOW`` as ``DUE_KINDS[kind]``."""
    _, message, notices = DUE_KINDS[kind]
    seat = made_license(steps, slot)
    if seat.due_at is None or not QUIET < seat.due_at <= NOW:
        return False
    sent = 0 if message is MessageKind.LICENSE_ACTIVATION_LATE else seat.notices_sent
    return seat.messages == (message,) and sent == notices


@functools.cache
def due_backs(kind: int) -> tuple[int, ...]:
    """The days back a history of ``DUE_KINDS[kind]`` may end."""
    found = tuple(b for b in range(3, 800) if falls_due(kind, _due_steps(kind, b), 0))
    if not found:
        raise SystemExit(f"license benchmark: no history falls due as {DUE_KINDS[kind][0]}")
    return found


# -- the rows ---------------------------------------------------------------------------------

TABLES: Final = (organisations, users, organisation_owners, establishments, memberships, licenses)
_REQUEST_PREFIXES: Final = ("pending_", "activation_")


def _inami(index: int) -> str:
    first_six = f"1{index % 100_000:05d}"
    return first_six + inami.check_digits(first_six, 97) + "003"


@functools.cache
def _establishment_template() -> dict[str, object]:
    opened = Establishment.open(
        EstablishmentId("template"),
        organisation_id=OrganisationId("template"),
        name="template",
        product=PRODUCT,
        created_at=SET_UP_AT,
    )
    return establishment_values(opened, version=0)


@functools.cache
def _membership_template(roles: tuple[str, ...]) -> dict[str, object]:
    """The codec's row of an active membership with ``roles``, to copy and fill in."""
    joined = Membership.join(
        UserId("template"),
        EstablishmentId("template"),
        roles=[RoleId(role) for role in roles],
        created_at=SET_UP_AT,
    )
    return membership_values(joined, version=0)


def establishment_id(number: int) -> EstablishmentId:
    return EstablishmentId(f"bench-est-{number:06d}")


@dataclass
class Chunk:
    """The codec's rows for licenses ``first`` to ``first + len(...) - 1``, table by table."""

    first: int
    count: int = 0
    rows: dict[str, list[dict[str, object]]] = field(
        default_factory=lambda: {table.name: [] for table in TABLES}
    )
    # establishment-level rows (organisations, owners, establishments): the license each
    # belongs with, so that a table's prefix keeps its establishments
    opened_at: list[int] = field(default_factory=list)

    def cut(self, size: int) -> list[list[dict[str, object]]]:
        """The rows of the licenses below ``size`` (every table holds a prefix of them)."""
        count = max(min(size - self.first, self.count), 0)
        opened = sum(1 for index in self.opened_at if index < size)
        per_license = {users.name, memberships.name, licenses.name}
        return [
            self.rows[table.name][: count if table.name in per_license else opened]
            for table in TABLES
        ]


class Records:
    """Makes license ``index`` after license ``index - 1``: one random sequence for all sizes."""

    def __init__(self, due: float, password_hash: str) -> None:
        self.rng = random.Random(SEED)
        buckets = [name for name, parts in MIX for _ in range(parts)]
        self.rng.shuffle(buckets)  # a practice's 20 members get a mix of them
        self.buckets = tuple(buckets)
        self.due = due
        self.password_hash = password_hash
        self.due_made = 0
        self.due_at: list[tuple[int, int]] = []  # (index, kind) of every due license
        self.owner: tuple[UserId, str] | None = None  # the current establishment's
        self.drawn = 0  # histories drawn, checked or not
        for kind in range(len(DUE_KINDS)):
            due_backs(kind)

    def is_due(self, index: int) -> bool:
        """Due licenses are spread evenly: every table's prefix holds its share."""
        return math.floor((index + 1) * self.due) > math.floor(index * self.due)

    def _due_history(self, index: int) -> tuple[Steps, int]:
        """The next due kind in turn; the day and time drawn among those that fall due."""
        kind = self.due_made % len(DUE_KINDS)
        self.due_made += 1
        self.due_at.append((index, kind))
        for _ in range(50):
            back = self.rng.choice(due_backs(kind))
            steps = _due_steps(kind, back, self.rng.choice(SINCE))
            slot = self.rng.randrange(len(SLOTS))
            self.drawn += 1
            if falls_due(kind, steps, slot):
                return steps, slot
        return _due_steps(kind, self.rng.choice(due_backs(kind))), 0  # due by construction

    def history(self, index: int) -> tuple[Steps, int]:
        """License ``index``'s history: due, or drawn until it fits its bucket."""
        if self.is_due(index):
            return self._due_history(index)
        bucket = self.buckets[index % len(self.buckets)]
        for _ in range(200):
            steps, slot = draw_steps(bucket, self.rng), self.rng.randrange(len(SLOTS))
            self.drawn += 1
            if fits(bucket, steps, slot):
                return steps, slot
        raise SystemExit(f"license benchmark: no history drawn fits {bucket!r}")

    def _user(self, index: int, created_at: datetime, kind: str) -> User:
        who = bulk_person(index)
        return User(
            id=new_user_id(),
            login=Login(who.login),
            email=EmailAddress(who.email),
            first_name=who.first_name,
            last_name=who.last_name,
            created_at=created_at,
            job_title="Secrétaire médicale" if kind == LicenseKind.STAFF else "Médecin",
            status=UserStatus.ACTIVE,
            password_hash=self.password_hash,
        )

    def _open(self, chunk: Chunk, index: int, owner: User) -> None:
        number = index // MEMBERS
        organisation_id = OrganisationId(f"bench-org-{number:06d}")
        name = f"Cabinet médical {owner.last_name} ({number})"
        founded = Organisation.found(
            organisation_id, name=f"Groupe {owner.last_name}", owner=owner.id, created_at=SET_UP_AT
        )
        chunk.rows[organisations.name].append(organisation_values(founded, version=0))
        chunk.rows[organisation_owners.name].append(
            {"organisation_id": organisation_id, "user_id": owner.id}
        )
        opened = dict(_establishment_template())
        opened |= {"id": establishment_id(number), "organisation_id": organisation_id}
        opened["name"] = name
        chunk.rows[establishments.name].append(opened)
        chunk.opened_at.append(index)
        self.owner = (owner.id, name)

    def add(self, chunk: Chunk, index: int) -> None:
        template = made_license(*self.history(index)).values
        created_at = cast("datetime", template["created_at"])
        kind = str(template["kind"])
        user = self._user(index, created_at, kind)
        if index % MEMBERS == 0:
            self._open(chunk, index, user)
        assert self.owner is not None  # noqa: S101 - position 0 opened it
        practice = self.owner[1]
        here = establishment_id(index // MEMBERS)
        roles = ["secretary"] if kind == LicenseKind.STAFF else ["physician"]
        if index % MEMBERS == 0:
            roles.append("administrator")
        member = dict(_membership_template(tuple(roles)))
        member |= {"establishment_id": here, "user_id": user.id, "created_at": created_at}
        row = dict(template)
        row |= {"establishment_id": here, "user_id": user.id}
        for prefix in _REQUEST_PREFIXES:
            if row[f"{prefix}requested_at"] is None:
                continue
            row |= {
                f"{prefix}requested_by": user.id,
                f"{prefix}bill_to": user.id,
                f"{prefix}first_name": user.first_name,
                f"{prefix}last_name": user.last_name,
                f"{prefix}identifier": _inami(index),
                f"{prefix}practice": practice,
            }
            if row[f"{prefix}invoice_number"] is not None:
                invoiced = cast("datetime", row[f"{prefix}invoiced_at"])
                row[f"{prefix}invoice_number"] = f"F{invoiced:%Y%m%d}-{index // MEMBERS:06d}"
        chunk.rows[users.name].append(user_values(user, version=0))
        chunk.rows[memberships.name].append(member)
        chunk.rows[licenses.name].append(row)
        chunk.count += 1

    def chunk(self, first: int, last: int) -> Chunk:
        rows = Chunk(first)
        for index in range(first, last):
            self.add(rows, index)
        check_row(rows.rows[licenses.name][0])
        return rows

    def due_kinds(self, size: int) -> Counter[str]:
        """How many licenses of each due kind the first ``size`` hold."""
        return Counter(DUE_KINDS[kind][0] for index, kind in self.due_at if index < size)


def check_row(row: dict[str, object]) -> None:
    """A filled-in row reads back as a license the policy schedules as stored."""
    seat = license_from(cast("Any", row))
    if policy.next_due(seat, SETTINGS) != seat.due_at:
        raise SystemExit(f"license benchmark: a row's due_at is not its next_due: {seat!r}")


# -- the practice, and the databases ---------------------------------------------------------


@dataclass
class Practice:
    """One table size on one database: the store and the services on it."""

    size: int
    store: SqlStore
    clock: ManualClock
    access: practiceid.AccessService
    licenses: practiceid.LicenseService


def open_practice(size: int, store: SqlStore) -> Practice:
    """Create the schema and the services; every row is bulk-loaded afterwards."""
    store.create_schema()
    clock = ManualClock()
    clock.set(NOW)
    access = practiceid.AccessService(unit_of_work=store.unit_of_work, clock=clock)
    service = practiceid.LicenseService(
        unit_of_work=store.unit_of_work,
        access=access,
        clock=clock,
        settings=SETTINGS,
        prices=SAMPLE_PRICES,
    )
    return Practice(size, store, clock, access, service)


@dataclass
class Setup:
    """Everything the section made, so that :func:`teardown` can remove it."""

    config: Config
    directory: Path
    schema: str  # PostgreSQL: one schema per size, <schema>_<size>
    schemas: list[str]
    backends: list[Backend]


_FROM_LICENSES: Final = re.compile(rf"\bFROM {licenses.name}\b")


def _sqlite_scan(_connection: Any, statement: str) -> str:  # noqa: ANN401
    """The same statement, told not to use any index of the table (``NOT INDEXED``)."""
    scan, found = _FROM_LICENSES.subn(f"FROM {licenses.name} NOT INDEXED", statement, 1)
    if not found:
        raise SystemExit(f"license benchmark: no FROM {licenses.name} in {statement!r}")
    return scan


def setup(config: Config) -> Setup:
    """Create the SQLite files and PostgreSQL schemas, each with its practice."""
    made = Setup(
        config=config,
        directory=Path(tempfile.mkdtemp(prefix="practiceid-bench-licenses-")),
        schema=f"practiceid_bench_lic_{uuid.uuid4().hex[:12]}",
        schemas=[],
        backends=[],
    )
    try:
        sqlite = Backend(SQLITE, "EXPLAIN QUERY PLAN", _sqlite_driver, _sqlite_scan)
        made.backends.append(sqlite)
        for size in config.sizes:
            store = SqlStore.from_url(f"sqlite:///{made.directory / f'licenses-{size}.db'}")
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
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to see
            teardown(made)
        raise
    return made


def teardown(made: Setup) -> None:
    """Close every connection, drop the PostgreSQL schemas, remove the SQLite files."""
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


# -- loading ----------------------------------------------------------------------------------


class LicenseLoader(Loader):
    """Section 11's loader, on the tables a license needs."""

    TABLES = TABLES


@dataclass
class Loaded:
    """How long loading took, and how big the tables are."""

    rows_s: float = 0.0  # making the codec's rows, once for every table
    drawn: int = 0  # histories drawn (some redrawn until they fit their bucket)
    shapes: int = 0  # distinct histories, each made once by the lifecycle's functions
    process_s: dict[str, float] = field(default_factory=dict)
    seconds: dict[tuple[str, int], float] = field(default_factory=dict)
    index_s: dict[tuple[str, int], float] = field(default_factory=dict)
    vacuum_s: dict[tuple[str, int], float] = field(default_factory=dict)
    megabytes: dict[tuple[str, int], float] = field(default_factory=dict)
    counts: dict[int, dict[str, int]] = field(default_factory=dict)  # size -> status -> rows
    due_kinds: dict[int, Counter[str]] = field(default_factory=dict)


def _fill(loaded: Loaded, loader: Loader, chunk: Chunk, largest: int) -> None:
    """Bind a chunk's rows once for this database; insert each table's share of them."""
    began = time.perf_counter()
    processed = [
        loader.tuples(table, rows) for table, rows in zip(TABLES, chunk.cut(largest), strict=True)
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
                for table, rows, cut in zip(TABLES, processed, kept, strict=True)
            ],
        )
        loaded.seconds[name, size] += time.perf_counter() - began


def _indexes(loaded: Loaded, loader: Loader, *, build: bool) -> None:
    for size, practice in loader.backend.practices.items():
        began = time.perf_counter()
        if build:
            loader.build_indexes(practice.store)
            loaded.index_s[loader.backend.name, size] = time.perf_counter() - began
        else:
            loader.drop_indexes(practice.store)
        loaded.seconds[loader.backend.name, size] += time.perf_counter() - began


def _vacuum(store: SqlStore) -> None:
    autocommit = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection:
        for table in TABLES:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")


def _megabytes(backend: Backend, store: SqlStore) -> float:
    if backend.name == POSTGRES:
        size = sa.func.pg_total_relation_size
        with store.engine.connect() as connection:
            total = sum(
                connection.execute(sa.select(size(table.name))).scalar_one() for table in TABLES
            )
        return total / 2**20
    database = Path(str(store.engine.url.database))
    return sum(p.stat().st_size for p in database.parent.glob(f"{database.name}*")) / 2**20


def _due_count(now: datetime) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(licenses).where(licenses.c.due_at <= now)


def _count(store: SqlStore, query: sa.Select[Any]) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _counts(store: SqlStore) -> dict[str, int]:
    """Licenses by status, free (staff) and due apart."""
    free = licenses.c.kind == LicenseKind.STAFF.value
    with store.engine.connect() as connection:
        by_status = dict(
            connection.execute(
                sa.select(licenses.c.status, sa.func.count())
                .where(sa.not_(free))
                .group_by(licenses.c.status)
            ).all()
        )
        staff = connection.execute(
            sa.select(sa.func.count()).select_from(licenses).where(free)
        ).scalar_one()
        due = connection.execute(
            sa.select(licenses.c.status, sa.func.count())
            .where(licenses.c.due_at <= NOW)
            .group_by(licenses.c.status)
        ).all()
    for status, count in due:
        by_status[status] -= count
    return {"due": sum(count for _, count in due), "staff (free)": staff, **by_status}


def load(made: Setup, password_hash: str) -> Loaded:
    """Fill every table with licenses 0 to size - 1, ``BATCH`` licenses a transaction."""
    loaded = Loaded()
    loaders = [LicenseLoader(backend) for backend in made.backends]
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
        loaded.counts[size] = _counts(practice.store)
        loaded.due_kinds[size] = records.due_kinds(size)
    loaded.drawn = records.drawn
    loaded.shapes = made_license.cache_info().currsize
    return loaded


# -- a) the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """What one sweep over one table did."""

    size: int
    due: int
    report: practiceid.LicenseSweepReport
    seconds: float
    statements: Counter[str]
    driver_ns: Counter[str]  # per kind of statement: time in the DB-API cursor's execute
    written: int  # outbox rows

    @property
    def per_second(self) -> float:
        return self.report.changed / self.seconds if self.seconds else math.nan

    @property
    def per_license_us(self) -> float:
        return self.seconds / self.report.changed * 1e6 if self.report.changed else math.nan

    @property
    def per_license(self) -> float:
        return self.statements.total() / max(self.report.changed, 1)

    @property
    def driver_share(self) -> float:
        return self.driver_ns.total() / 1e9 / self.seconds if self.seconds else math.nan


_TABLE: Final = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(?:\"?\w+\"?\.)?(practiceid_\w+)")


def statement_kind(statement: str) -> str:
    """``SELECT practiceid_users``, ``SAVEPOINT``...: what a statement does, and where."""
    verb = statement.split(None, 1)[0].upper()
    found = _TABLE.search(statement)
    if verb == "SELECT" and "due_at <=" in statement:
        return f"claim {found.group(1) if found else '?'}"
    return f"{verb} {found.group(1)}" if found else verb


@contextlib.contextmanager
def timing_statements(store: SqlStore) -> Iterator[tuple[Counter[str], Counter[str]]]:
    """Count the statements sent through ``store`` by kind, and time the driver's execute."""
    counts: Counter[str] = Counter()
    driver_ns: Counter[str] = Counter()
    began = [0]

    def before(*_args: Any) -> None:  # noqa: ANN401 - SQLAlchemy's event arguments
        began[0] = time.perf_counter_ns()

    def after(*args: Any) -> None:  # noqa: ANN401
        elapsed = time.perf_counter_ns() - began[0]
        kind = statement_kind(args[2])
        counts[kind] += 1
        driver_ns[kind] += elapsed

    sa.event.listen(store.engine, "before_cursor_execute", before)
    sa.event.listen(store.engine, "after_cursor_execute", after)
    try:
        yield counts, driver_ns
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", before)
        sa.event.remove(store.engine, "after_cursor_execute", after)


def sweep(practice: Practice, expected: Counter[str]) -> Sweep:
    """Run the sweep at ``NOW`` once, whole; check it did what was due and nothing more."""
    store = practice.store
    due = _count(store, _due_count(NOW))
    before = _count(store, sa.select(sa.func.count()).select_from(outbox))
    practice.clock.set(NOW)
    with timing_statements(store) as (kinds, driver_ns):
        began = time.perf_counter()
        report = practice.licenses.run_due(NOW)
        seconds = time.perf_counter() - began
    written = _count(store, sa.select(sa.func.count()).select_from(outbox)) - before
    left = _count(store, _due_count(NOW))
    late = sum(n for kind, n in expected.items() if kind == "late activation")
    expiries = sum(n for kind, n in expected.items() if kind.startswith("end of"))
    if (
        report.changed != due
        or due != expected.total()
        or len(report.late) != late
        or len(report.expired) != expiries
        or written != due + late  # the desk's copy of each late activation
        or left
    ):
        raise SystemExit(
            f"license benchmark: {due} due ({dict(expected)}), the sweep changed"
            f" {report.changed} ({len(report.notified)} notices, {len(report.expired)} expiries,"
            f" {len(report.late)} late), wrote {written} messages, left {left} due"
        )
    return Sweep(practice.size, due, report, seconds, kinds, driver_ns, written)


@dataclass(frozen=True)
class Busy:
    """The sweep's first claim at ``NOW`` on the largest table, alone, before the sweep."""

    milliseconds: float
    rows: int
    plan: list[str]


def _at_now(parameters: Any) -> Any:  # noqa: ANN401 - as the adapter bound them
    """The claim's parameters with ``NOW`` for ``QUIET``, bound as the adapter binds them."""
    swap = {QUIET: NOW, _sqlite_instant(QUIET): _sqlite_instant(NOW)}
    if isinstance(parameters, dict):
        return {key: swap.get(value, value) for key, value in parameters.items()}
    return type(parameters)(swap.get(value, value) for value in parameters)


def busy_claim(backend: Backend, quiet: _quiet.Quiet) -> Busy:
    """Time the claim with everything due, as the sweep's first; its plan (PostgreSQL: run)."""
    statement, parameters = quiet.statements[backend.name]
    parameters = _at_now(parameters)
    with contextlib.closing(backend.driver(backend.largest.store)) as connection:
        connection.execute(statement, parameters).fetchall()  # the pages read once
        began = time.perf_counter()
        rows = connection.execute(statement, parameters).fetchall()
        milliseconds = (time.perf_counter() - began) * 1e3
        explain = "EXPLAIN (ANALYZE, COSTS OFF)" if backend.name == POSTGRES else backend.explain
        plan = connection.execute(f"{explain} {statement}", parameters).fetchall()
    return Busy(milliseconds, len(rows), [str(row[-1]) for row in plan])


def bench_sweeps(
    made: Setup, loaded: Loaded, quiet: _quiet.Quiet
) -> tuple[dict[str, list[Sweep]], dict[str, Busy]]:
    """a): the sweep on every table, smallest first; before, its first claim alone."""
    busy = {backend.name: busy_claim(backend, quiet) for backend in made.backends}
    sweeps: dict[str, list[Sweep]] = {backend.name: [] for backend in made.backends}
    for size in made.config.sizes:
        for backend in made.backends:
            sweeps[backend.name].append(sweep(backend.practices[size], loaded.due_kinds[size]))
    return sweeps, busy


def print_sweeps(
    made: Setup, sweeps: dict[str, list[Sweep]], busy: dict[str, Busy]
) -> dict[str, float]:
    print()
    share = f"{made.config.due:.1%}"
    print(f"12a. The sweep, run_due(now), once on every table, {share} of the licenses due:")
    rows = []
    for name, runs in sweeps.items():
        rows += [
            [
                name,
                f"{run.size:,}",
                f"{run.due:,}",
                f"{len(run.report.notified):,}",
                f"{len(run.report.expired):,}",
                f"{len(run.report.late):,}",
                f"{run.written:,}",
                f"{run.seconds:.2f}",
                f"{run.per_second:,.0f}",
                _report.us(run.per_license_us),
                f"{run.per_license:.1f}",
                f"{run.driver_share:.0%}",
            ]
            for run in runs
        ]
    _report.table(
        [
            "database",
            "licenses",
            "due",
            "notices",
            "expiries",
            "late",
            "outbox",
            "sweep s",
            "licenses/s",
            "us/license",
            "stmts/lic",
            "driver",
        ],
        rows,
        left=1,
    )
    _report.note("through LicenseService.run_due (500 licenses a unit of work, a desk address")
    _report.note("set); due in turn: the 30-, 7- and 1-day notices of a term, the end of a term,")
    _report.note("the end of a provisional license, a late activation, fallen due in the last")
    _report.note("2 days. outbox: the messages written (a late activation: to its requester and")
    _report.note("to the desk). stmts/lic: statements per license as SQLAlchemy sends them.")
    _report.note("driver: the share of the sweep spent in the DB-API cursor's execute; the rest")
    _report.note("is Python: the service, the policy, the adapter and SQLAlchemy (and commits).")
    for name, runs in sweeps.items():
        last = runs[-1]
        changed = max(last.report.changed, 1)
        parts = ", ".join(
            f"{kind} {count / changed:.2f} ({last.driver_ns[kind] / changed / 1e3:,.0f} us)"
            for kind, count in last.statements.most_common()
        )
        for number, line in enumerate(
            textwrap.wrap(
                f"{name}, per license at {last.size:,}: statements (their time in the driver):"
                f" {parts}.",
                width=_report.RULE_WIDTH - 8,
            )
        ):
            _report.note(line if number == 0 else f"  {line}")
    largest = max(made.config.sizes)
    for name, claim in busy.items():
        print(
            f"  {name}: the sweep's first claim alone (warm), at {largest:,} licenses:"
            f" {claim.milliseconds:.1f} ms for {claim.rows} rows; its plan:"
        )
        for line in claim.plan:
            print(f"    {line}")
    ratios = {}
    first, last_size = made.config.sizes[0], made.config.sizes[-1]
    growth = f"{_section.short(last_size)} / {_section.short(first)}"
    for name, runs in sweeps.items():
        if len(runs) > 1 and runs[0].report.changed and runs[-1].report.changed:
            key = f"sweep, time per due license ({name}), {growth}"
            ratios[key] = runs[-1].per_license_us / runs[0].per_license_us
    return ratios


# -- b) a sweep with nothing due --------------------------------------------------------------

CLAIM: Final = _quiet.Claim(
    section=12,
    benchmark="license benchmark",
    run_due=lambda practice, now: practice.licenses.run_due(now),
    table=licenses,
    index=DUE_LICENSES_INDEX,
    records="licenses",
    rounds=ROUNDS,
    after=(
        "On PostgreSQL the index still holds the entries the sweep's updates left",
        "(the licenses it changed, under their old due_at) until a VACUUM removes",
        "them: the claim steps over them. SQLite updates its index in place.",
    ),
)


# -- c) the license-aware decision ------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a casbin host passes as ``r.sub``: the user, and whether their license is valid."""

    id: str
    licensed: bool


@dataclass(frozen=True)
class Member:
    """A physician of c): their license-aware and unrestricted accesses, as casbin sees them."""

    user_id: UserId
    establishment_id: EstablishmentId
    licensed: Access  # LicenseService.access_for
    unrestricted: Access  # AccessService.access
    subject: Subject
    status: str


@dataclass
class Decisions:
    """The members of c), the casbin policy made from the same rows, and the enforcers."""

    allowed: list[Member]
    refused: list[Member]
    p_lines: list[list[str]]
    g_lines: list[list[str]]


def _members(practice: Practice) -> Decisions:
    """The physicians of the first establishments, read through the services."""
    service, access = practice.licenses, practice.access
    count = min(DECISION_ESTABLISHMENTS, math.ceil(practice.size / MEMBERS))
    allowed: list[Member] = []
    refused: list[Member] = []
    p_lines: list[list[str]] = []
    g_lines: list[list[str]] = []
    for number in range(count):
        here = establishment_id(number)
        with practice.store.unit_of_work() as uow:
            establishment = uow.establishments.get(here)
            members = uow.memberships.list_for_establishment(here)
            seats = {seat.user_id: seat for seat in uow.licenses.list_for_establishment(here)}
        p_lines += [
            [role.id, here, p.value, "licensed" if p in SETTINGS.licensed else "free"]
            for role in establishment.roles
            for p in sorted(role.permissions)
        ]
        for membership in members:
            g_lines += [[membership.user_id, role, here] for role in sorted(membership.roles)]
            seat = seats[membership.user_id]
            if seat.free:
                continue
            licensed = service.access_for(membership.user_id, here)
            member = Member(
                membership.user_id,
                here,
                licensed,
                access.access(membership.user_id, here),
                Subject(membership.user_id, policy.entitled(seat, NOW)),
                str(licensed.license_status),
            )
            decision = decide(licensed, SIGN)
            if decision.allowed and member.status in {"active", "expiring"}:
                allowed.append(member)
            elif decision.reason is Reason.LICENSE_REQUIRED:
                refused.append(member)
    if not allowed or not refused:
        raise SystemExit(
            f"license benchmark: {len(allowed)} physicians allowed, {len(refused)} refused"
            f" among the first {count} establishments"
        )
    return Decisions(allowed[:ACCESSES], refused[:ACCESSES], p_lines, g_lines)


def build_enforcers(
    decisions: Decisions,
) -> tuple[casbin.Enforcer, casbin.FastEnforcer, casbin.FastEnforcer]:
    """The stock and indexed enforcers with the license clause; the indexed one without."""
    model = Model()
    model.load_model_from_text(MODEL)
    stock = casbin.Enforcer(model)
    fast_model = FastModel([1, 2])  # p lines and requests indexed by (domain, permission)
    fast_model.load_model_from_text(MODEL)
    fast = casbin.FastEnforcer(fast_model, cache_key_order=[1, 2])
    rbac_model = FastModel([1, 2])
    rbac_model.load_model_from_text(_access.MODEL)
    rbac = casbin.FastEnforcer(rbac_model, cache_key_order=[1, 2])
    for enforcer, p_lines in (
        (stock, decisions.p_lines),
        (fast, decisions.p_lines),
        (rbac, [line[:3] for line in decisions.p_lines]),
    ):
        enforcer.add_policies(p_lines)
        enforcer.add_grouping_policies(decisions.g_lines)
        if len(enforcer.get_policy()) != len(p_lines):
            raise SystemExit("license benchmark: casbin did not take the whole policy")
    return stock, fast, rbac


def check_decisions(
    decisions: Decisions,
    stock: casbin.Enforcer,
    fast: casbin.FastEnforcer,
    rbac: casbin.FastEnforcer,
) -> None:
    """decide and casbin must give the same answer on every member, before any timing."""
    problems = []
    for member in (*decisions.allowed, *decisions.refused):
        want = member in decisions.allowed
        licensed = decide(member.licensed, SIGN)
        request = (member.subject, member.establishment_id, SIGN.value)
        unrestricted = (member.user_id, member.establishment_id, SIGN.value)
        answers = {  # what: (answer, expected); the roles give the permission to all
            "decide, licensed": (licensed.allowed, want),
            "decide, unrestricted": (decide(member.unrestricted, SIGN).allowed, True),
            "casbin FastEnforcer": (fast.enforce(*request), want),
            "casbin Enforcer": (stock.enforce(*request), want),
            "casbin RBAC only": (rbac.enforce(*unrestricted), True),
        }
        problems += [
            f"{what}: {got} for {member.user_id} ({member.status}), expected {expected}"
            for what, (got, expected) in answers.items()
            if got != expected
        ]
        if not want and licensed.reason is not Reason.LICENSE_REQUIRED:
            problems.append(f"{member.user_id}: refused with {licensed.reason}")
    if problems:
        raise SystemExit("license benchmark: answers disagree:\n  " + "\n  ".join(problems[:10]))


LOOP: Final = "loop only"
UNRESTRICTED: Final = "decide, unrestricted access (allowed)"
LICENSED: Final = "decide, access_for, license allows"
UNLICENSED: Final = "decide, access_for, license_required"
RBAC: Final = "casbin FastEnforcer, RBAC only (allowed)"
FAST_ALLOWED: Final = "casbin FastEnforcer + license, allowed"
FAST_REFUSED: Final = "casbin FastEnforcer + license, refused"
STOCK_ALLOWED: Final = "casbin Enforcer + license, allowed"
STOCK_REFUSED: Final = "casbin Enforcer + license, refused"
# casbin's row -> the row of ours that gives the same answer
COUNTERPART: Final = {
    RBAC: UNRESTRICTED,
    FAST_ALLOWED: LICENSED,
    FAST_REFUSED: UNLICENSED,
    STOCK_ALLOWED: LICENSED,
    STOCK_REFUSED: UNLICENSED,
}


def _cycle(members: Sequence[Member], count: int) -> list[Member]:
    return [members[index % len(members)] for index in range(count)]


def _loop_only(members: Sequence[Member]) -> None:
    for member in members:
        _ = member.licensed, SIGN


def _decide_on(attribute: str) -> Callable[[Sequence[Member]], None]:
    def loop(members: Sequence[Member]) -> None:
        sign = SIGN
        if attribute == "licensed":
            for member in members:
                decide(member.licensed, sign)
        else:
            for member in members:
                decide(member.unrestricted, sign)

    return loop


def _enforce(enforcer: casbin.Enforcer, *, rbac: bool = False) -> Callable[[Any], None]:
    def loop(members: Sequence[Member]) -> None:
        enforce, sign = enforcer.enforce, SIGN.value
        if rbac:
            for member in members:
                enforce(member.user_id, member.establishment_id, sign)
        else:
            for member in members:
                enforce(member.subject, member.establishment_id, sign)

    return loop


def _ns(result: _timing.Throughput, *, median: bool = False) -> float:
    return (result.median_s if median else result.best_s) / result.items * 1e9


def bench_decisions(decisions: Decisions) -> tuple[dict[str, _timing.Throughput], dict[str, Any]]:
    """c), first part: decide against casbin, whole passes round-robin."""
    stock, fast, rbac = build_enforcers(decisions)
    check_decisions(decisions, stock, fast, rbac)
    allowed = _cycle(decisions.allowed, QUERIES)
    refused = _cycle(decisions.refused, QUERIES)
    results = _timing.throughput(
        [
            _timing.Batch(LOOP, _loop_only, allowed),
            _timing.Batch(UNRESTRICTED, _decide_on("unrestricted"), allowed),
            _timing.Batch(LICENSED, _decide_on("licensed"), allowed),
            _timing.Batch(UNLICENSED, _decide_on("licensed"), refused),
            _timing.Batch(RBAC, _enforce(rbac, rbac=True), allowed[: QUERIES // 4]),
            _timing.Batch(FAST_ALLOWED, _enforce(fast), allowed[: QUERIES // 4]),
            _timing.Batch(FAST_REFUSED, _enforce(fast), refused[: QUERIES // 4]),
        ],
        rounds=ROUNDS,
    )
    results |= _timing.throughput(
        [
            _timing.Batch(STOCK_ALLOWED, _enforce(stock), allowed[:STOCK_QUERIES], warmup=5),
            _timing.Batch(STOCK_REFUSED, _enforce(stock), refused[:STOCK_QUERIES], warmup=5),
        ],
        rounds=STOCK_ROUNDS,
    )
    info = {
        "allowed": len(decisions.allowed),
        "refused": len(decisions.refused),
        "allowed statuses": Counter(m.status for m in decisions.allowed),
        "refused statuses": Counter(m.status for m in decisions.refused),
        "p_lines": len(decisions.p_lines),
        "g_lines": len(decisions.g_lines),
    }
    return results, info


ACCESS: Final = "AccessService.access"
ACCESS_FOR: Final = "access_for, license allows"
ACCESS_FOR_REFUSED: Final = "access_for, license_required"


def bench_access_for(
    made: Setup, decisions: Decisions, overhead_ns: int
) -> dict[str, dict[str, _timing.Result]]:
    """c), second part: access_for against AccessService.access, a unit of work a call."""
    allowed = [(m.user_id, m.establishment_id) for m in decisions.allowed]
    refused = [(m.user_id, m.establishment_id) for m in decisions.refused]
    cases = []
    for backend in made.backends:
        practice = backend.largest
        service, access = practice.licenses, practice.access

        def plain(pair: Any, access: Any = access) -> object:  # noqa: ANN401
            return access.access(*pair)

        def licensed(pair: Any, service: Any = service) -> object:  # noqa: ANN401
            return service.access_for(*pair)

        prefix = f"{backend.name}|"
        cases += [
            _timing.Case(prefix + ACCESS, plain, allowed),  # type: ignore[arg-type]
            _timing.Case(prefix + ACCESS_FOR, licensed, allowed),  # type: ignore[arg-type]
            _timing.Case(prefix + ACCESS_FOR_REFUSED, licensed, refused),  # type: ignore[arg-type]
        ]
    results = _timing.run(cases, rounds=ROUNDS, overhead_ns=overhead_ns)
    by_backend: dict[str, dict[str, _timing.Result]] = {}
    for name, result in results.items():
        backend_name, case = name.split("|", 1)
        by_backend.setdefault(backend_name, {})[case] = result
    return by_backend


def print_decisions(
    made: Setup,
    results: dict[str, _timing.Throughput],
    info: dict[str, Any],
    access_for: dict[str, dict[str, _timing.Result]],
) -> dict[str, float]:
    print()
    largest = max(made.config.sizes)
    print(f"12c. decide(access, consultations.sign) for {info['allowed']} physicians whose license")
    print(f"allows it and {info['refused']} whose license does not, among the first")
    print(f"{DECISION_ESTABLISHMENTS} establishments of the {largest:,}-license table, against the")
    print("unrestricted access and against pycasbin with a license attribute:")
    base = _ns(results[UNRESTRICTED])
    rows = []
    for name in (
        LOOP,
        UNRESTRICTED,
        LICENSED,
        UNLICENSED,
        RBAC,
        FAST_ALLOWED,
        FAST_REFUSED,
        STOCK_ALLOWED,
        STOCK_REFUSED,
    ):
        result = results[name]
        ns = _ns(result)
        ours = name in {UNRESTRICTED, LICENSED, UNLICENSED}
        counterpart = COUNTERPART.get(name)
        rows.append(
            [
                name,
                f"{result.items:,}",
                f"{ns:,.0f}",
                f"{_ns(result, median=True):,.0f}",
                _report.ratio(ns, base) if ours else "",
                _report.ratio(ns, _ns(results[counterpart])) if counterpart else "",
            ]
        )
    _report.table(
        ["case", "queries", "best ns", "median ns", "/ unrestricted", "casbin / ours"], rows
    )
    for group in ("allowed", "refused"):
        statuses = ", ".join(f"{k} {n}" for k, n in sorted(info[f"{group} statuses"].items()))
        _report.note(f"{group}: licenses {statuses}.")
    _report.note(f"casbin: {info['p_lines']:,} p lines (role, establishment, permission, free or")
    _report.note(f"licensed), {info['g_lines']:,} g lines; the subject an object (id, licensed),")
    _report.note("licensed as policy.entitled(license, now) says. RBAC only: section 8's model.")
    _report.note("Whole passes, best and median of the rounds, loop included; casbin / ours: the")
    _report.note("same answer from ours (best rounds). All answers agree, checked before timing.")
    ratios = {
        "decide, license allows / unrestricted access": _ns(results[LICENSED]) / base,
        "decide, license_required / unrestricted access": _ns(results[UNLICENSED]) / base,
        "casbin FastEnforcer + license / decide, allowed": (
            _ns(results[FAST_ALLOWED]) / _ns(results[LICENSED])
        ),
        "casbin FastEnforcer + license / decide, refused": (
            _ns(results[FAST_REFUSED]) / _ns(results[UNLICENSED])
        ),
        "casbin Enforcer + license / decide, allowed": (
            _ns(results[STOCK_ALLOWED]) / _ns(results[LICENSED])
        ),
    }
    print()
    print(f"12c, continued. access_for against AccessService.access, among {largest:,} licenses")
    print("(a unit of work a call):")
    rows = []
    for name, by_case in access_for.items():
        plain = by_case[ACCESS].median_us
        for case, result in by_case.items():
            rows.append(
                [
                    name,
                    case,
                    f"{result.calls:,}",
                    _report.us(result.median_us),
                    _report.us(result.p95_us),
                    _report.ratio(result.median_us, plain),
                ]
            )
        ratios[f"access_for / AccessService.access ({name})"] = (
            by_case[ACCESS_FOR].median_us / plain
        )
    _report.table(["database", "case", "calls", "median us", "p95 us", "/ access"], rows, left=2)
    _report.note("AccessService.access: the establishment, the user, the membership and the")
    _report.note("organisation, read in a unit of work; access_for adds the license (its primary")
    _report.note(
        "key) and restricts the licensed permissions when the license does not allow them."
    )
    return ratios


# -- the section ------------------------------------------------------------------------------


def print_environment(made: Setup, overhead_ns: int) -> None:
    """Versions, database settings, and what is compared with what."""
    config = made.config
    _report.heading("12. Licenses: the sweep, license-aware decisions (SQLite, PostgreSQL)")
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("sqlalchemy", "casbin")
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
    print(f"sizes       {sizes} licenses ({SIZES_ENV}), {MEMBERS} a practice,")
    print(f"            {config.due:.2%} of them due ({DUE_ENV})")
    days = ", ".join(map(str, SETTINGS.notice_days))
    print(f"time        the sweep at {NOW:%Y-%m-%d %H:%M} UTC; the due licenses fell due in the")
    print(
        f"            {DUE_SPREAD.days} days before it; b) sweeps first at {QUIET:%Y-%m-%d %H:%M}"
    )
    print(
        f"licenses    {SETTINGS.provisional_days} provisional days, terms of"
        f" {SETTINGS.term_months} months, notices {days} days before the end,"
    )
    print(f"            {SETTINGS.time_zone}; desk {SETTINGS.desk_address}")
    print("method      b), c): every call timed alone, gc off during a round, clock overhead")
    print(f"            ({overhead_ns} ns) subtracted, {ROUNDS} rounds round-robin; decisions as")
    print("            whole passes; times in microseconds unless marked. a): one run, whole.")
    print(f"load        {_section.load_average()} (1, 5, 15 min) as the section starts")


def print_loads(made: Setup, loaded: Loaded) -> None:
    print()
    print(f"Loading: codec rows, {BATCH:,} licenses a transaction (SQLite: executemany;")
    print("PostgreSQL: COPY), every size its own tables:")
    after = {SQLITE: ("SQLite s", "checkpoint s"), POSTGRES: ("PostgreSQL s", "VACUUM s")}
    headers = ["licenses"]
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
    for line in textwrap.wrap(
        f"making the rows: {loaded.rows_s:.1f} s, once for all ({loaded.shapes:,} distinct"
        f" histories made by the lifecycle, {loaded.drawn:,} drawn); binding: {processing}."
        " s: the inserts, and building the secondary indexes, dropped before the load and"
        " built after it from the adapter's definitions. Then SQLite's checkpoint,"
        " PostgreSQL's autovacuum (VACUUM ANALYZE). MiB: the six tables with their indexes"
        " (SQLite: the whole file).",
        width=_report.RULE_WIDTH - 8,
    ):
        _report.note(line)
    largest = max(made.config.sizes)
    counts = ", ".join(f"{status} {n:,}" for status, n in loaded.counts[largest].items())
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in loaded.due_kinds[largest].items())
    for line in textwrap.wrap(
        f"at {largest:,}: {counts}; due: {kinds}.", width=_report.RULE_WIDTH - 8
    ):
        _report.note(line)


def run_section() -> dict[str, float]:
    """Load the tables, run a) to c) in this process and print them; return the ratios."""
    started = time.perf_counter()
    config = read_config()
    times: dict[str, float] = {}
    made = _section.timed("set-up (schemas, practices)", times, lambda: setup(config))
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
        sweeps, busy = _section.timed(
            "a) the sweep", times, lambda: bench_sweeps(made, loaded, before)
        )
        after = _section.timed(
            "b) nothing due, after the sweep",
            times,
            lambda: _quiet.bench(CLAIM, made.backends, NOW, "after", overhead_ns, scan=False),
        )
        ratios = print_sweeps(made, sweeps, busy)
        ratios |= _quiet.report(
            CLAIM,
            made.backends,
            made.config.sizes,
            before,
            "12b. A sweep with nothing due (before 12a), against the same claim as a full scan:",
        )
        ratios |= _quiet.report(
            CLAIM,
            made.backends,
            made.config.sizes,
            after,
            "12b, continued. The same right after 12a, at its time (the next run of the job):",
        )
        decisions = _section.timed("c) members", times, lambda: _members(made.backends[0].largest))
        decided, info = _section.timed("c) decisions", times, lambda: bench_decisions(decisions))
        access_for = _section.timed(
            "c) access_for", times, lambda: bench_access_for(made, decisions, overhead_ns)
        )
        ratios |= print_decisions(made, decided, info, access_for)
    finally:
        _section.timed("tear-down", times, lambda: teardown(made))
    _section.print_took(12, times, started)
    return ratios


def bench_licenses() -> dict[str, float]:
    """Run the section in a process of its own, as sections 10 and 11."""
    return _section.run_apart("benchmarks._licenses")


def main(argv: Sequence[str]) -> None:
    """``python -m benchmarks._licenses [--summary PATH]``: run section 12."""
    _section.main(run_section, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
