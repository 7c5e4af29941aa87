"""Licenses on the SQL adapter: what only a database has (E1-E4).

The repository's error contract is the contract suite's (``tests/test_sql_adapter.py``);
these tests cover the rest: licenses drawn by the shipped strategies (every status and kind,
Unicode names, amounts to the cent) read back the same from a SQLite file and from
PostgreSQL; the partial index on due licenses is built alike by ``create_schema`` and the
migration (Alembic does not compare an index's ``WHERE``); ``claim_due``, ``with_invoice``
and ``with_status`` read their indexes, not the table (``EXPLAIN``); and two units of work
sweeping at once on PostgreSQL get disjoint licenses without waiting for each other. The
strategies' own promises are checked first, since the round trip relies on them. Names and
numbers are made up.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practiceid.adapters.sql import SqlStore, create_engine
from practiceid.adapters.sql import _codec as codec
from practiceid.adapters.sql import _schema as schema
from practiceid.errors import InvalidConfiguration
from practiceid.establishments import (
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
)
from practiceid.licenses import License, LicenseKind, LicenseRequest, LicenseStatus
from practiceid.policies import license as policy
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.testing import sample_user
from practiceid.testing.strategies import license_requests, licenses
from practiceid.users import UserId

from ._workers import hold_then
from .conftest import POSTGRES_SKIP, POSTGRES_URL

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = policy.LicenseSettings()
PENDING = {LicenseStatus.REQUESTED, LicenseStatus.INVOICED, LicenseStatus.PAID}
NEVER_STORED = {LicenseStatus.SUSPENDED, LicenseStatus.UNLICENSED}
CENT = Decimal("0.01")
STRATEGY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
ROUND_TRIP = settings(
    max_examples=60,
    deadline=None,
    # One store for the whole test: each example's unit of work is rolled back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(params=BACKENDS)
def sql_store(request, tmp_path) -> Iterator[SqlStore]:
    """An empty store on a SQLite file, or on the run's PostgreSQL schema."""
    if request.param == "sqlite":
        with SqlStore.from_url(f"sqlite:///{tmp_path / 'store.sqlite'}") as store:
            store.create_schema()
            yield store
    else:
        request.getfixturevalue("fresh_postgres")()
        yield request.getfixturevalue("postgres_store")


def _utc(*values: datetime | None) -> None:
    for value in values:
        if value is not None:
            assert value.tzinfo is UTC, value


def _request_times(asked: LicenseRequest) -> list[datetime | None]:
    return [
        asked.requested_at,
        asked.invoiced_at,
        asked.paid_at,
        asked.activation_due_at,
        asked.late_reported_at,
        asked.activated_at,
    ]


# -- 1. the strategies draw what the lifecycle leaves -------------------------------------------


def _assert_a_request(asked: LicenseRequest) -> None:
    _utc(*_request_times(asked))
    assert asked.kind.paying
    assert 1 <= asked.months <= 36
    for name in (asked.first_name, asked.last_name, asked.practice):
        assert name == name.strip()
        assert 1 <= len(name) <= 100
    assert (asked.identifier_kind, len(asked.identifier)) in {("inami", 11), ("rpps", 11)}
    stages = [asked.invoice_number, asked.paid_at, asked.activated_at]
    # Stage by stage: an activation was paid, a payment invoiced.
    assert [s is not None for s in stages] in (
        [False, False, False],
        [True, False, False],
        [True, True, False],
        [True, True, True],
    )
    if asked.invoice_number is None:
        assert (asked.invoiced_at, asked.amount, asked.currency) == (None, None, None)
    else:
        assert asked.invoiced_at is not None
        assert asked.amount is not None
        assert asked.amount >= 0
        assert asked.amount == asked.amount.quantize(CENT)
        assert asked.amount.as_tuple().exponent == -2
        assert asked.currency in {"EUR", "CHF", "GBP"}
        assert asked.requested_at <= asked.invoiced_at
    if asked.paid_at is not None:
        assert asked.invoiced_at is not None
        assert asked.invoiced_at <= asked.paid_at
        assert asked.activation_due_at == policy.activation_deadline(asked.paid_at, SETTINGS)
    else:
        assert asked.activation_due_at is None
        assert asked.late_reported_at is None
    if asked.activated_at is not None:
        assert asked.paid_at is not None
        assert asked.paid_at <= asked.activated_at
        if asked.activated_late:
            assert asked.late_reported_at is not None
            assert asked.late_reported_at <= asked.activated_at


@STRATEGY
@given(license_requests())
def test_license_requests_follow_their_stages(asked):
    assert isinstance(asked, LicenseRequest)
    _assert_a_request(asked)


@STRATEGY
@given(licenses())
def test_licenses_are_what_the_lifecycle_leaves(seat):
    assert isinstance(seat, License)
    assert seat.status not in NEVER_STORED
    _utc(seat.created_at, seat.valid_from, seat.valid_until, seat.provisional_until)
    _utc(seat.lapsed_at, seat.due_at)
    assert (seat.pending is not None) == (seat.status in PENDING)
    assert seat.due_at == policy.next_due(seat, SETTINGS)
    assert 0 <= seat.version <= 20
    assert seat.notices_sent <= len(SETTINGS.notice_days)
    if seat.free:
        assert seat.status is LicenseStatus.ACTIVE
        assert seat.due_at is None
    else:
        assert seat.valid_from is not None
        assert seat.valid_until is not None
        assert seat.provisional_until is not None
        assert seat.created_at <= seat.valid_from < seat.valid_until
    if seat.status in PENDING:
        assert seat.resume in {
            LicenseStatus.PROVISIONAL,
            LicenseStatus.ACTIVE,
            LicenseStatus.EXPIRING,
            LicenseStatus.EXPIRED,
        }
    if seat.status is LicenseStatus.EXPIRED:
        assert seat.lapsed_at is not None
    if seat.status in {LicenseStatus.ACTIVE, LicenseStatus.EXPIRING} and not seat.free:
        assert seat.activation is not None
        assert seat.activation.activated_at is not None
    if seat.status is LicenseStatus.EXPIRING:
        assert seat.notices_sent >= 1
    if seat.status is LicenseStatus.PROVISIONAL:
        assert seat.activation is None
    for asked in (seat.pending, seat.activation):
        if asked is not None:
            _assert_a_request(asked)
    if seat.pending is not None:
        assert seat.pending.activated_at is None
        assert (seat.pending.invoice_number is not None) == (
            seat.status is not LicenseStatus.REQUESTED
        )
        assert (seat.pending.paid_at is not None) == (seat.status is LicenseStatus.PAID)


@STRATEGY
@given(licenses(), st.sampled_from(policy.Command))
def test_a_drawn_license_accepts_exactly_the_moves_its_status_allows(seat, command):
    # The policy's own check, at the moment of the license's last move or later.
    at = max(t for t in (seat.created_at, seat.valid_from, seat.lapsed_at) if t is not None)
    status = policy.status_at(seat, at, SETTINGS)
    allowed = command in policy.TRANSITIONS.get(status, frozenset())
    if seat.free:
        allowed = command is policy.Command.CHANGE_KIND
    try:
        policy.check(seat, command, at, SETTINGS)
    except policy.IllegalLicenseTransition:
        assert not allowed
    else:
        assert allowed


@STRATEGY
@given(st.data())
def test_licenses_honour_the_given_ids_kind_and_status(data):
    kind = data.draw(st.sampled_from(LicenseKind))
    stored = (
        [LicenseStatus.ACTIVE] if not kind.paying else sorted(set(LicenseStatus) - NEVER_STORED)
    )
    status = data.draw(st.sampled_from(stored))
    seat = data.draw(
        licenses(
            establishment_id=EstablishmentId("est-é"),
            user_id=UserId("user-ü"),
            kind=kind.value,
            status=status,
        )
    )
    assert (seat.establishment_id, seat.user_id, seat.kind, seat.status) == (
        "est-é",
        "user-ü",
        kind,
        status,
    )
    assert data.draw(license_requests(kind=LicenseKind.LOCUM, user_id=UserId("u"))).kind is (
        LicenseKind.LOCUM
    )


PAYING_PAIRS = [
    (kind, status)
    for kind in LicenseKind
    if kind.paying
    for status in sorted(set(LicenseStatus) - NEVER_STORED)
]


@pytest.mark.parametrize(
    ("kind", "status"), [*PAYING_PAIRS, (LicenseKind.STAFF, LicenseStatus.ACTIVE)], ids=str
)
def test_every_kind_and_stored_status_can_be_drawn(kind, status):
    """Deterministic: each pair asked for is drawn (a random census missed one in six runs)."""

    @settings(max_examples=5, deadline=None, database=None)
    @given(licenses(kind=kind, status=status))
    def drawn(seat: License) -> None:
        assert (seat.kind, seat.status) == (kind, status)

    drawn()


@pytest.mark.parametrize(
    "arguments",
    [
        {"status": "suspended"},
        {"status": LicenseStatus.UNLICENSED},
        {"status": "lapsed"},
        {"kind": "nurse"},
        {"kind": "staff", "status": "requested"},
        {"user_id": 42},
        {"establishment_id": b"est"},
    ],
    ids=repr,
)
def test_licenses_refuse_what_is_never_stored(arguments):
    with pytest.raises(InvalidConfiguration):
        licenses(**arguments)


@pytest.mark.parametrize("arguments", [{"kind": "staff"}, {"kind": "x"}, {"user_id": 1}])
def test_license_requests_refuse_a_free_or_unknown_kind(arguments):
    with pytest.raises(InvalidConfiguration):
        license_requests(**arguments)


# -- 2. drawn licenses round-trip through each database ----------------------------------------


def _parents(seat: License) -> tuple[Organisation, Establishment, Any]:
    organisation = Organisation(
        id=OrganisationId(f"org-{seat.establishment_id}"),
        name="Groupe de l'Exemple",
        owners=(),
        created_at=START,
    )
    establishment = Establishment.open(
        seat.establishment_id,
        organisation_id=organisation.id,
        name="Cabinet de l'Exemple",
        product=ProductKind.GENERAL_PRACTICE,
        created_at=START,
    )
    return organisation, establishment, sample_user(id=seat.user_id)


def test_drawn_licenses_read_back_the_same_from_each_database(sql_store):
    @ROUND_TRIP
    @given(licenses(), licenses())
    def round_trip(seat: License, replacement: License) -> None:
        replacement = attrs.evolve(
            replacement,
            establishment_id=seat.establishment_id,
            user_id=seat.user_id,
            version=seat.version,
        )
        with sql_store.unit_of_work() as uow:  # left without commit: nothing stays
            organisation, establishment, user = _parents(seat)
            uow.users.add(user)
            uow.organisations.add(organisation)
            uow.establishments.add(establishment)
            uow.licenses.add(seat)
            assert uow.licenses.get(*seat.key) == seat
            amounts = [r.amount for r in (seat.pending, seat.activation) if r is not None]
            got = uow.licenses.get(*seat.key)
            read = [r.amount for r in (got.pending, got.activation) if r is not None]
            assert [str(a) for a in read] == [str(a) for a in amounts]
            stored = uow.licenses.update(replacement)
            assert uow.licenses.get(*seat.key) == stored
            assert stored == attrs.evolve(replacement, version=seat.version + 1)
            for asked in (replacement.pending, replacement.activation):
                if asked is not None and asked.invoice_number is not None:
                    assert stored in uow.licenses.with_invoice(asked.invoice_number)
            assert stored in uow.licenses.with_status(replacement.status)
            due = uow.licenses.claim_due(now=datetime(2100, 1, 1, tzinfo=UTC), limit=10)
            assert list(due) == ([stored] if stored.due_at is not None else [])

    round_trip()
    with sql_store.unit_of_work() as uow:
        assert list(uow.users.list()) == []


# -- 3. the schema: the partial index, as created and as migrated --------------------------------


def test_the_due_licenses_index_is_built_alike_by_create_schema_and_the_migration(tmp_path):
    # Alembic's compare_metadata does not compare an index's WHERE: this test does.
    def indexes(store: SqlStore) -> dict[str, tuple[tuple[str, ...], dict[str, str]]]:
        with store.engine.connect() as connection:
            return {
                str(index["name"]): (
                    tuple(str(c) for c in index["column_names"]),
                    {o: str(v) for o, v in index.get("dialect_options", {}).items()},
                )
                for index in sa.inspect(connection).get_indexes("practiceid_licenses")
            }

    stores = []
    schemas: list[str] = []
    urls = [(f"sqlite:///{tmp_path}/{n}.sqlite", None) for n in range(2)]
    if POSTGRES_URL:
        schemas = [f"practiceid_licenses_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
        urls += [(POSTGRES_URL, name) for name in schemas]
    try:
        for url, name in urls:
            stores.append(SqlStore.from_url(url, schema=name))
        for created, migrated in zip(stores[::2], stores[1::2], strict=True):
            created.create_schema()
            migrated.upgrade_schema()
            found = indexes(created)
            assert found == indexes(migrated)
            dialect = created.engine.dialect.name
            columns, options = found[schema.DUE_LICENSES_INDEX]
            assert columns == ("due_at", "establishment_id", "user_id")
            assert "due_at IS NOT NULL" in options[f"{dialect}_where"]
            for name in schema.INVOICE_INDEXES:
                assert not found[name][1].get(f"{dialect}_where"), name  # every row
    finally:
        for store in stores:
            store.close()
        if schemas:
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                for name in schemas:
                    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            admin.dispose()


# -- 4. the desk's queries and the sweep read their indexes ------------------------------------

ROWS = 4000
DUE = 5
INVOICE = "F-2026/00042"
ON_INVOICE = 3  # pending on INVOICE; as many activated from it


def _fill(store: SqlStore) -> None:
    """``ROWS`` licenses in two establishments, of which ``DUE`` are due at START.

    What a long-lived database mostly holds: active licenses, each activated from an invoice
    of its own and due at their first notice months ahead, and free ones due never. A few
    are pending on ``INVOICE``, a few were activated from it, a few are paid.
    """
    organisation = Organisation(
        id=OrganisationId("plan-org"), name="Groupe", owners=(), created_at=START
    )
    establishments = [
        Establishment.open(
            EstablishmentId(f"plan-est-{n}"),
            organisation_id=organisation.id,
            name=f"Cabinet {n}",
            product=ProductKind.GENERAL_PRACTICE,
            created_at=START,
        )
        for n in range(2)
    ]
    users, seats = [], []
    for n in range(ROWS):
        user = sample_user(
            id=UserId(f"plan-{n:05}"),
            login=Login(f"plan{n}"),
            email=EmailAddress(f"plan{n}@cabinet-exemple.be"),
        )
        users.append(user)
        asked = LicenseRequest(
            requested_at=START - timedelta(days=400),
            requested_by=user.id,
            kind=LicenseKind.PHYSICIAN,
            months=12,
            first_name="Camille",
            last_name=f"Exemple{n}",
            identifier_kind="inami",
            identifier="10000097003",
            practice="Cabinet",
            bill_to=user.id,
            invoice_number=INVOICE if n < ON_INVOICE else f"F-2025/{n:05}",
            invoiced_at=START - timedelta(days=399),
            amount=Decimal("420.00"),
            currency="EUR",
        )
        seat = License(
            establishment_id=establishments[n % 2].id,
            user_id=user.id,
            kind=LicenseKind.PHYSICIAN if n % 10 else LicenseKind.STAFF,
            status=LicenseStatus.ACTIVE,
            created_at=START - timedelta(days=400),
            valid_from=START - timedelta(days=30),
            valid_until=START + timedelta(days=335),
            activation=asked,
            due_at=START - timedelta(hours=1) if n < DUE else START + timedelta(days=300),
        )
        if n % 10 == 0 and n >= DUE:
            seat = attrs.evolve(seat, due_at=None)
        if ON_INVOICE <= n < 2 * ON_INVOICE:
            pending = attrs.evolve(asked, invoice_number=INVOICE, paid_at=START)
            seat = attrs.evolve(seat, status=LicenseStatus.PAID, pending=pending)
        seats.append(codec.license_values(seat, version=0))
    with store.engine.begin() as connection:
        connection.execute(schema.users.insert(), [codec.user_values(u, version=0) for u in users])
        connection.execute(
            schema.organisations.insert(), codec.organisation_values(organisation, version=0)
        )
        connection.execute(
            schema.establishments.insert(),
            [codec.establishment_values(e, version=0) for e in establishments],
        )
        connection.execute(schema.licenses.insert(), seats)
        connection.exec_driver_sql("ANALYZE")


def _captured(store: SqlStore, call: Callable[[Any], object]) -> tuple[object, list[Any]]:
    """What ``call(uow)`` returns, and the statements it runs with their parameters."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        with store.unit_of_work() as uow:
            returned = call(uow)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    statements = [s for s in seen if "practiceid_licenses" in s[0] and "SAVEPOINT" not in s[0]]
    return returned, statements


def _plan(store: SqlStore, call: Callable[[Any], object]) -> tuple[object, list[str]]:
    """What ``call(uow)`` returns, and the plan of its one statement (not run again)."""
    returned, statements = _captured(store, call)
    assert len(statements) == 1, statements
    statement, parameters = statements[0]
    explain = "EXPLAIN QUERY PLAN" if store.engine.dialect.name == "sqlite" else "EXPLAIN"
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"{explain} {statement}", parameters).all()
    return returned, [str(row[-1]) for row in rows]


def _reads_no_table(plan: list[str], sqlite: bool) -> None:  # noqa: FBT001
    if sqlite:
        # SEARCH is a range of an index; SCAN would read the table (or a whole index).
        assert not any(line.startswith("SCAN") for line in plan), plan
    else:
        assert not any("Seq Scan" in line for line in plan), plan


def test_claim_due_with_invoice_and_with_status_read_their_indexes_not_the_table(sql_store):
    _fill(sql_store)
    sqlite = sql_store.engine.dialect.name == "sqlite"

    due, due_plan = _plan(sql_store, lambda uow: uow.licenses.claim_due(now=START, limit=100))
    on_invoice, invoice_plan = _plan(sql_store, lambda uow: uow.licenses.with_invoice(INVOICE))
    paid, paid_plan = _plan(sql_store, lambda uow: uow.licenses.with_status(LicenseStatus.PAID))

    lines = ["claim_due:", *due_plan, "with_invoice:", *invoice_plan, "with_status:", *paid_plan]
    sys.stdout.write("\n".join(["", *lines, ""]))
    # Due at one instant: by establishment, then by user.
    expected = sorted((f"plan-est-{n % 2}", f"plan-{n:05}") for n in range(DUE))
    assert [s.key for s in due] == expected  # type: ignore[attr-defined]
    assert len(on_invoice) == 2 * ON_INVOICE  # type: ignore[arg-type]
    assert len(paid) == ON_INVOICE  # type: ignore[arg-type]
    assert any(schema.DUE_LICENSES_INDEX in line for line in due_plan), due_plan
    for name in schema.INVOICE_INDEXES:  # both invoice numbers: pending and last activation
        assert any(name in line for line in invoice_plan), invoice_plan
    assert any("ix_practiceid_licenses_status" in line for line in paid_plan), paid_plan
    for plan in (due_plan, invoice_plan, paid_plan):
        _reads_no_table(plan, sqlite)
    if sqlite:
        # The index gives claim_due its order: no sort of what the range found.
        assert not any("TEMP B-TREE" in line for line in due_plan), due_plan
    else:
        # Ties on the instant are put in code point order ("C"): an incremental sort of
        # the index's output, never a sort of the whole table.
        assert not any(line.strip().startswith("->  Sort") for line in due_plan), due_plan


# -- 5. concurrent sweeps on PostgreSQL ---------------------------------------------------------


@pytest.fixture
def postgres(fresh_postgres, postgres_store) -> SqlStore:
    if not POSTGRES_URL:  # pragma: no cover - the fixture skipped already
        pytest.skip(POSTGRES_SKIP)
    fresh_postgres()
    return postgres_store


@pytest.mark.postgres
def test_a_second_claim_due_skips_the_licenses_the_first_holds(postgres):
    organisation = Organisation(
        id=OrganisationId("org"), name="Groupe", owners=(), created_at=START
    )
    establishment = Establishment.open(
        EstablishmentId("est"),
        organisation_id=organisation.id,
        name="Cabinet",
        product=ProductKind.GENERAL_PRACTICE,
        created_at=START,
    )
    people = [sample_user() for _ in range(6)]
    with postgres.unit_of_work() as uow:
        uow.organisations.add(organisation)
        uow.establishments.add(establishment)
        for n, person in enumerate(people):
            uow.users.add(person)
            step = policy.provision(
                establishment.id,
                person.id,
                LicenseKind.PHYSICIAN,
                now=START + timedelta(minutes=n),
                settings=SETTINGS,
            )
            uow.licenses.add(step.license)
        uow.commit()
    later = START + timedelta(days=60)  # every provisional window has ended

    held, skipped = hold_then(
        postgres,
        lambda uow: [s.key for s in uow.licenses.claim_due(now=later, limit=4)],
        lambda uow: [s.key for s in uow.licenses.claim_due(now=later, limit=10)],
    )

    assert len(held) == 4
    assert len(skipped) == 2
    assert sorted(held + skipped) == sorted((establishment.id, p.id) for p in people)
