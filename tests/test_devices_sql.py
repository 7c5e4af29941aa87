"""Shared devices on the SQL adapter: what only a database has (F1-F4).

The repositories' error contract is the contract suite's (``tests/test_devices_contracts.py``);
these tests cover the rest: an entered PIN and a device's token each find their record with
one look-up of a unique index, not by reading the table (``EXPLAIN``), and the open sessions
of an establishment are a range of the partial index that leaves closed ones out; that index
is built alike by ``create_schema`` and the migration (Alembic does not compare an index's
``WHERE``); and a token that an update tries to change is refused as the in-memory store
refuses it. Names and numbers are made up.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from practiceid.adapters import InMemoryStore
from practiceid.adapters.sql import SqlStore, create_engine
from practiceid.adapters.sql import _codec as codec
from practiceid.adapters.sql import _schema as schema
from practiceid.devices import (
    DeviceSession,
    DeviceSessionId,
    DeviceState,
    MemberCredential,
)
from practiceid.errors import DuplicateRecord, PracticeIdError
from practiceid.establishments import (
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
)
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.testing import sample_user
from practiceid.users import AccountKind, UserId

from .conftest import POSTGRES_URL

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2027, 4, 6, 8, 0, tzinfo=UTC)
ROWS = 4000
OPEN = 6  # sessions not closed, in each establishment


def _digest(kind: str, n: int) -> bytes:
    return hashlib.sha256(f"plan:{kind}:{n}".encode()).digest()


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


# -- 1. the look-ups read their indexes --------------------------------------------------------


def _fill(store: SqlStore) -> None:
    """``ROWS`` members with a PIN and ``ROWS`` device sessions in two establishments.

    What a long-lived database mostly holds: every member has a PIN, a few were revoked;
    sessions pile up closed, ``OPEN`` of each establishment's are not.
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
    clinic = sample_user(id=UserId("plan-clinic"), kind=AccountKind.CLINIC)
    users, credentials, sessions = [clinic], [], []
    for n in range(ROWS):
        user = sample_user(
            id=UserId(f"plan-{n:05}"),
            login=Login(f"plan{n}"),
            email=EmailAddress(f"plan{n}@cabinet-exemple.be"),
        )
        users.append(user)
        place = establishments[n % 2].id
        credential = MemberCredential(place, user.id).with_pin(
            _digest("pin", n), "pin-2027-04", START
        )
        if n % 50 == 49:
            credential = credential.revoked()
        credentials.append(codec.member_credential_values(credential, version=0))
        state = (
            DeviceState.CLOSED
            if n >= 2 * OPEN
            else (DeviceState.LOCKED, DeviceState.UNLOCKED)[n % 2]
        )
        session = DeviceSession(
            id=DeviceSessionId(f"plan-ds-{n:05}"),
            establishment_id=place,
            account_id=clinic.id,
            token_digest=_digest("token", n),
            opened_at=START - timedelta(days=n % 300),
            expires_at=START + timedelta(hours=12),
            last_activity_at=START,
            state=state,
            member=user.id if state is DeviceState.UNLOCKED else None,
        )
        sessions.append(codec.device_session_values(session, version=0))
    with store.engine.begin() as connection:
        connection.execute(schema.users.insert(), [codec.user_values(u, version=0) for u in users])
        connection.execute(
            schema.organisations.insert(), codec.organisation_values(organisation, version=0)
        )
        connection.execute(
            schema.establishments.insert(),
            [codec.establishment_values(e, version=0) for e in establishments],
        )
        connection.execute(schema.member_credentials.insert(), credentials)
        connection.execute(schema.device_sessions.insert(), sessions)
        connection.exec_driver_sql("ANALYZE")


def _plan(store: SqlStore, table: str, call: Callable[[Any], object]) -> tuple[object, list[str]]:
    """What ``call(uow)`` returns, and the plan of its one statement on ``table``."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        with store.unit_of_work() as uow:
            returned = call(uow)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    statements = [s for s in seen if table in s[0] and "SAVEPOINT" not in s[0]]
    assert len(statements) == 1, statements
    statement, parameters = statements[0]
    explain = "EXPLAIN QUERY PLAN" if store.engine.dialect.name == "sqlite" else "EXPLAIN"
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"{explain} {statement}", parameters).all()
    return returned, [str(row[-1]) for row in rows]


def _uses_index_only(plan: list[str], index: str, *, sqlite: bool) -> None:
    """``plan`` reads ``index`` and never the whole table."""
    assert any(index in line for line in plan), plan
    if sqlite:
        # SEARCH is a range of an index; SCAN would read the table (or a whole index).
        assert not any(line.startswith("SCAN") for line in plan), plan
    else:
        assert not any("Seq Scan" in line for line in plan), plan


def test_an_entered_pin_and_a_devices_token_are_one_unique_index_look_up_each(sql_store):
    _fill(sql_store)
    sqlite = sql_store.engine.dialect.name == "sqlite"
    place = EstablishmentId("plan-est-1")

    holder, pin_plan = _plan(
        sql_store,
        "practiceid_member_credentials",
        lambda uow: uow.member_credentials.find_by_pin(place, _digest("pin", 1001)),
    )
    nobody, miss_plan = _plan(
        sql_store,
        "practiceid_member_credentials",
        lambda uow: uow.member_credentials.find_by_pin(place, _digest("pin", 1000)),
    )
    session, token_plan = _plan(
        sql_store,
        "practiceid_device_sessions",
        lambda uow: uow.device_sessions.find_by_token(_digest("token", 2777)),
    )

    lines = ["find_by_pin:", *pin_plan, "find_by_token:", *token_plan]
    sys.stdout.write("\n".join(["", *lines, ""]))
    assert isinstance(holder, MemberCredential)
    assert (holder.establishment_id, holder.user_id) == (place, "plan-01001")
    assert nobody is None  # the digest is another establishment's
    assert isinstance(session, DeviceSession)
    assert session.id == "plan-ds-02777"
    for plan in (pin_plan, miss_plan):
        _uses_index_only(plan, schema.PIN_INDEX, sqlite=sqlite)
    _uses_index_only(token_plan, schema.TOKEN_INDEX, sqlite=sqlite)
    if sqlite:
        # Both columns of the unique index, compared for equality: one entry at most.
        assert any("establishment_id=? AND pin_digest=?" in line for line in pin_plan), pin_plan
        assert any("token_digest=?" in line for line in token_plan), token_plan


def test_the_open_sessions_of_an_establishment_are_read_from_the_partial_index(sql_store):
    _fill(sql_store)
    sqlite = sql_store.engine.dialect.name == "sqlite"
    place = EstablishmentId("plan-est-0")

    listed, plan = _plan(
        sql_store,
        "practiceid_device_sessions",
        lambda uow: uow.device_sessions.list_for_establishment(place),
    )

    sys.stdout.write("\n".join(["", "list_for_establishment:", *plan, ""]))
    assert isinstance(listed, list)
    assert [s.id for s in listed] == [f"plan-ds-{n:05}" for n in range(0, 2 * OPEN, 2)]
    # SQLite uses a partial index for a query that repeats its WHERE: the listing does.
    _uses_index_only(plan, schema.OPEN_SESSIONS_INDEX, sqlite=sqlite)


# -- 2. the schema: the partial index, as created and as migrated --------------------------------


def test_the_open_sessions_index_is_built_alike_by_create_schema_and_the_migration(tmp_path):
    # Alembic's compare_metadata does not compare an index's WHERE: this test does.
    tables = ("practiceid_device_sessions", "practiceid_member_credentials")

    def indexes(store: SqlStore) -> dict[str, tuple[tuple[str, ...], bool, dict[str, str]]]:
        with store.engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {
                str(index["name"]): (
                    tuple(str(c) for c in index["column_names"]),
                    bool(index["unique"]),
                    {o: str(v) for o, v in index.get("dialect_options", {}).items()},
                )
                for table in tables
                for index in inspector.get_indexes(table)
            }

    stores = []
    schemas: list[str] = []
    urls = [(f"sqlite:///{tmp_path}/{n}.sqlite", None) for n in range(2)]
    if POSTGRES_URL:
        schemas = [f"practiceid_devices_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
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
            columns, unique, options = found[schema.OPEN_SESSIONS_INDEX]
            assert (columns, unique) == (("establishment_id", "id"), False)
            assert "closed" in options[f"{dialect}_where"]
            assert found[schema.PIN_INDEX][:2] == (("establishment_id", "pin_digest"), True)
            assert found[schema.TOKEN_INDEX][:2] == (("token_digest",), True)
            for name in (schema.PIN_INDEX, schema.TOKEN_INDEX):
                assert not found[name][2].get(f"{dialect}_where"), name  # every row
    finally:
        for store in stores:
            store.close()
        if schemas:
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                for name in schemas:
                    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            admin.dispose()


# -- 3. what the port leaves unsaid, as the in-memory store does -------------------------------


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except PracticeIdError as error:
        return (type(error), error.code, dict(error.params))


def test_an_update_that_changes_a_sessions_token_is_refused_as_in_memory(sql_store):
    owner, clinic = sample_user(id=UserId("owner")), sample_user(kind=AccountKind.CLINIC)
    organisation = Organisation.found(
        OrganisationId("org"), name="Groupe", owner=owner.id, created_at=START
    )
    establishment = Establishment.open(
        EstablishmentId("est"),
        organisation_id=organisation.id,
        name="Cabinet",
        product=ProductKind.GENERAL_PRACTICE,
        created_at=START,
    )
    session = DeviceSession(
        id=DeviceSessionId("ds-1"),
        establishment_id=establishment.id,
        account_id=clinic.id,
        token_digest=_digest("token", 1),
        opened_at=START,
        expires_at=START + timedelta(hours=12),
        last_activity_at=START,
    )
    changed = attrs.evolve(session, token_digest=_digest("token", 2))

    def run(factory: Callable[[], Any]) -> list[object]:
        with factory() as uow:
            for user in (owner, clinic):
                uow.users.add(user)
            uow.organisations.add(organisation)
            uow.establishments.add(establishment)
            uow.device_sessions.add(session)
            uow.commit()
        with factory() as uow:
            return [
                _outcome(lambda: uow.device_sessions.update(changed)),
                _outcome(lambda: uow.device_sessions.update(attrs.evolve(changed, version=4))),
                uow.device_sessions.find(session.id),
                uow.device_sessions.find_by_token(_digest("token", 2)),
            ]

    outcomes = [run(InMemoryStore().unit_of_work), run(sql_store.unit_of_work)]
    assert outcomes[0] == outcomes[1]
    refused = (DuplicateRecord, "record.duplicate", {"entity": "device_session", "id": "ds-1"})
    assert outcomes[1] == [refused, refused, session, None]
