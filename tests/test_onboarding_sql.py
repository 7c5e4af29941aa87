"""Onboarding on the SQL adapter: the services end to end, the worker queries' plans, and
concurrent workers on PostgreSQL.

The repositories' error contract is the contract suite's (``tests/test_sql_adapter.py``);
these tests cover what only a database has: the same onboarding story told on the in-memory
store, a SQLite file and PostgreSQL ends the same; ``claim_due`` and ``claim`` read their
partial indexes (``EXPLAIN``), not the table; and two units of work claiming at once on
PostgreSQL get disjoint records without waiting for each other.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from practiceid import ProductKind
from practiceid.adapters import InMemoryStore
from practiceid.adapters.sql import SqlStore, create_engine
from practiceid.adapters.sql import _codec as codec
from practiceid.adapters.sql import _schema as schema
from practiceid.errors import DuplicateRecord, InvitationInvalid, PracticeIdError
from practiceid.establishments import EstablishmentId
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    token_digest,
)
from practiceid.outbox import Message, MessageId, MessageStatus
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.ports import OnboardingUnitOfWorkFactory
from practiceid.testing import SampleOnboarding, sample_onboarding, sample_user
from practiceid.users import UserId

from ._workers import hold_then
from .conftest import POSTGRES_SKIP, POSTGRES_URL

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
ESTABLISHMENT = EstablishmentId("establishment")
PASSWORD = "Vrai-Cheval-Agrafe-42"
NADIA = "n.dubois@hopital-exemple.fr"
PAUL = "p.martin@hopital-exemple.fr"
CLAIRE = "c.leroy@hopital-exemple.fr"
PEOPLE = {NADIA: ("Nadia", "Dubois"), PAUL: ("Paul", "Martin"), CLAIRE: ("Claire", "Leroy")}


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


# -- 1. the onboarding story, told on each store ------------------------------------------------


@attrs.frozen
class _Names:
    """Labels for the ids a run made at random (users, establishment), to compare runs."""

    labels: dict[str, str]

    def __call__(self, value: str | None) -> str | None:
        return None if value is None else self.labels.get(value, value)

    def text(self, value: str) -> str:
        for made, label in self.labels.items():
            value = value.replace(made, label)
        return value

    def onboarding(self, onboarding: Onboarding | None) -> object:
        if onboarding is None:
            return None
        return attrs.evolve(
            onboarding,
            user_id=self(onboarding.user_id),
            establishment_id=self(onboarding.establishment_id),
            invited_by=self(onboarding.invited_by),
            # Tokens are random: how many links are live is what both stores must agree on.
            token_digests=(b"link",) * len(onboarding.token_digests),
        )

    def message(self, message: Message) -> object:
        return attrs.evolve(
            message,
            id=MessageId("message"),
            recipient=self(message.recipient),
            user_id=self(message.user_id),
            idempotency_key=self.text(message.idempotency_key),
        )


class _Story:
    """One run of the story on a store: the practice, and what each step showed."""

    def __init__(self, unit_of_work: OnboardingUnitOfWorkFactory) -> None:
        self.unit_of_work = unit_of_work
        self.practice = sample_onboarding(ProductKind.HOSPITAL, unit_of_work=unit_of_work)
        self.service = self.practice.onboarding
        self.practice.clock.set(START)
        self.log: list[tuple[str, object]] = []
        self.ids: dict[str, UserId] = {}
        self.names = _Names({})

    def show(self, label: str, shown: object) -> None:
        self.log.append((label, shown))

    def invite_everyone(self) -> None:
        owner, establishment = self.practice.owner, self.practice.establishment
        for email, (first_name, last_name) in PEOPLE.items():
            invited = self.service.invite(
                actor=owner.id,
                establishment_id=establishment.id,
                email=email,
                first_name=first_name,
                last_name=last_name,
            )
            self.ids[email] = invited.user.id
        self.names = _Names(
            {owner.id: "owner", owner.email.address: "owner", establishment.id: "establishment"}
            | {user_id: email for email, user_id in self.ids.items()}
        )

    def records(self, label: str) -> None:
        found = [self.service.onboarding_of(self.ids[email]) for email in PEOPLE]
        self.show(label, [self.names.onboarding(onboarding) for onboarding in found])

    def deliver(self, label: str) -> None:
        report = self.practice.dispatcher.run_until_idle()
        self.show(label, (len(report.sent), len(report.cancelled), len(report.failed)))

    def sweep(self, days: int) -> None:
        self.practice.clock.set(START + timedelta(days=days))
        report = self.service.run_due()
        self.show(f"day {days}", [sorted(map(self.names, ids)) for ids in attrs.astuple(report)])
        self.deliver(f"day {days} delivered")
        self.records(f"day {days} records")

    def refused(self, label: str, call: Callable[[], object]) -> None:
        try:
            call()
        except PracticeIdError as error:
            self.show(label, error.code)
        else:  # pragma: no cover - the story expects a refusal
            self.show(label, "accepted")

    def link(self, email: str) -> str:
        return self.practice.notifier.last_token(email) or ""

    def resend(self, email: str) -> None:
        onboarding = self.service.resend(
            actor=self.practice.owner.id,
            establishment_id=self.practice.establishment.id,
            user_id=self.ids[email],
        )
        self.show(f"re-sent {email}", self.names.onboarding(onboarding))
        self.deliver(f"re-sent {email} delivered")

    def accept(self, email: str) -> None:
        user = self.service.accept(
            self.link(email), password=PASSWORD, password_confirmation=PASSWORD
        )
        self.show(f"accepted {email}", (self.names(user.id), user.password_hash is not None))
        self.deliver(f"accepted {email} delivered")

    def sign_in(self, email: str) -> None:
        login = self.service.accounts.authenticate(email, PASSWORD).login.display
        signed_in = self.service.sign_in(login, PASSWORD)
        self.show(f"signed in {email}", (signed_in.missing, signed_in.terms))
        accepted = self.service.accept_terms(user_id=self.ids[email], version="2026-01")
        self.show(f"terms {email}", self.names.onboarding(accepted))

    def stored(self) -> None:
        practice, names = self.practice, self.names
        statuses = self.service.members(
            actor=practice.owner.id, establishment_id=practice.establishment.id
        )
        self.show("members", sorted((names(m.user.id), m.status) for m in statuses))
        sent = practice.notifier.sent
        self.show("notifier", sorted((d.message.kind, names(d.message.recipient)) for d in sent))
        with self.unit_of_work() as uow:
            messages = uow.outbox.list()
            self.show("outbox", sorted((names.message(m) for m in messages), key=repr))
            created = [m.created_at for m in messages]
            self.show("outbox order", created == sorted(created))
            self.show("terms stored", (uow.terms.list(), uow.terms.current()))


def _story(unit_of_work: OnboardingUnitOfWorkFactory) -> list[tuple[str, object]]:
    """Invite three people, remind, re-send, expire, accept, sign in, accept the terms.

    Returns what each step showed, with the run's random ids replaced by labels.
    """
    story = _Story(unit_of_work)
    story.show("terms", story.service.publish_terms("2026-01"))
    story.invite_everyone()
    story.records("invited")
    story.deliver("delivered")
    story.records("links minted")
    first_link = {email: story.link(email) for email in PEOPLE}
    view = story.service.open(first_link[NADIA])
    story.show("opened", attrs.evolve(view, user_id=story.names(view.user_id)))

    story.sweep(3)
    story.sweep(7)
    story.practice.clock.set(START + timedelta(days=8))
    story.resend(PAUL)
    story.refused("old link after re-send", lambda: story.service.open(first_link[PAUL]))
    story.sweep(12)
    story.accept(NADIA)
    story.refused("link after acceptance", lambda: story.service.open(first_link[NADIA]))

    story.sweep(14)  # Claire's invitation expires; Paul's round runs until day 22
    story.refused("expired link", lambda: story.service.open(story.link(CLAIRE)))
    story.resend(CLAIRE)
    story.accept(CLAIRE)
    story.sign_in(NADIA)
    story.sign_in(CLAIRE)
    story.sweep(22)  # Paul's second round expires
    story.stored()
    return story.log


def test_the_onboarding_story_ends_the_same_on_sql_as_in_memory(sql_store):
    expected = _story(InMemoryStore().unit_of_work)

    told = _story(sql_store.unit_of_work)

    for (label, shown), (expected_label, wanted) in zip(told, expected, strict=True):
        assert (label, shown) == (expected_label, wanted)
    # The story did what it says: reminders, a re-send, an expiry, two active accounts.
    steps = dict(expected)
    assert steps["day 3"] == [sorted(PEOPLE), [], []]
    assert steps["day 14"] == [[], [CLAIRE], []]
    assert steps["day 22"] == [[], [PAUL], []]
    assert steps["members"] == [
        (CLAIRE, OnboardingStatus.ACTIVE),
        (NADIA, OnboardingStatus.ACTIVE),
        ("owner", OnboardingStatus.ACTIVE),
        (PAUL, OnboardingStatus.EXPIRED),
    ]
    assert steps["old link after re-send"] == InvitationInvalid.code


# Each step's live links, by token number: minting (keep the newest, append one), then
# orders no service writes (moves, a link back between kept ones), then none, then one.
LINK_STEPS = [
    (0, 1, 2),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 1, 5, 3),
    (1, 5, 3, 6),
    (6, 5),
    (5, 7, 6),
    (),
    (8,),
    (8, 9),
]


def test_link_digests_keep_their_order_and_minting_moves_no_row(sql_store):
    user = sample_user()
    digests = [token_digest(f"token-{n}") for n in range(10)]
    onboarding = Onboarding(
        user_id=user.id,
        establishment_id=ESTABLISHMENT,
        mode=OnboardingMode.INVITATION,
        status=OnboardingStatus.INVITED,
        created_at=START,
        due_at=START + timedelta(days=3),
        sends=(START, START.astimezone(PLUS_TWO) + timedelta(hours=1, microseconds=7)),
    )
    with sql_store.unit_of_work() as uow:
        uow.users.add(user)
        uow.onboardings.add(onboarding)
        uow.commit()

    moves = []
    for step in LINK_STEPS:
        wanted = attrs.evolve(onboarding, token_digests=[digests[n] for n in step])
        seen = _captured(sql_store, lambda uow, wanted=wanted: _update(uow, wanted))
        moves.append(sum("UPDATE practiceid_onboarding_links" in s for s, _ in seen))
        onboarding = attrs.evolve(wanted, version=wanted.version + 1)
        with sql_store.unit_of_work() as uow:
            assert uow.onboardings.get(user.id) == onboarding, step
            for n, digest in enumerate(digests):
                found = uow.onboardings.find_by_token(digest)
                assert found == (onboarding if n in step else None), (step, n)

    # Minting and dropping the oldest links moves no row; other orders are written again.
    assert moves[:3] == [0, 0, 0]
    assert moves[3] > 0
    assert moves[-3:] == [0, 0, 0]


def _update(uow: Any, onboarding: Onboarding) -> None:
    uow.onboardings.update(onboarding)
    uow.commit()


def test_a_digest_held_twice_is_refused_and_changes_nothing(sql_store):
    # The port says digests of 256-bit tokens never collide; the table makes sure.
    first, second = sample_user(), sample_user()
    digest = token_digest("the same token")
    records = [
        Onboarding(
            user_id=user.id,
            establishment_id=ESTABLISHMENT,
            mode=OnboardingMode.INVITATION,
            status=OnboardingStatus.INVITED,
            created_at=START,
        )
        for user in (first, second)
    ]
    with sql_store.unit_of_work() as uow:
        uow.users.add(first)
        uow.users.add(second)
        uow.onboardings.add(attrs.evolve(records[0], token_digests=(digest,)))
        uow.onboardings.add(records[1])
        with pytest.raises(DuplicateRecord) as raised:
            uow.onboardings.update(attrs.evolve(records[1], token_digests=(digest,)))
        assert raised.value.params == {"entity": "onboarding_link", "id": second.id}
        with pytest.raises(DuplicateRecord):
            uow.onboardings.update(attrs.evolve(records[1], token_digests=(b"x" * 32,) * 2))
        uow.commit()

    with sql_store.unit_of_work() as uow:
        assert uow.onboardings.get(second.id) == records[1]
        assert uow.onboardings.find_by_token(digest) == attrs.evolve(
            records[0], token_digests=(digest,)
        )


def _messages() -> list[Message]:
    """Pending, claimed, sent and failed messages, some due at the same instant."""
    kinds = [MessageStatus.PENDING] * 6 + [MessageStatus.SENT, MessageStatus.FAILED]
    return [
        Message(
            id=MessageId(f"message-{'ba'[n % 2]}{n}"),
            kind=MessageKind.INVITATION,
            recipient=f"person{n}@hopital-exemple.fr",
            locale="fr-FR",
            idempotency_key=f"key-{n}",
            created_at=START - timedelta(hours=1),
            next_attempt_at=START - timedelta(minutes=n // 2),
            user_id=UserId(f"user-{n}"),
            status=status,
            claimed_until=START + timedelta(minutes=1) if n == 3 else None,
        )
        for n, status in enumerate(kinds)
    ]


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "without_returning"])
def test_claim_takes_what_the_in_memory_store_takes_with_or_without_returning(
    sql_store, monkeypatch, returning
):
    # SQLite before 3.35 has no UPDATE … RETURNING: the claim then reads back what it wrote.
    monkeypatch.setattr(sql_store.engine.dialect, "update_returning", returning)
    memory = InMemoryStore()
    lease = timedelta(minutes=5)
    claims = []
    for store in (memory, sql_store):
        with store.unit_of_work() as uow:
            for message in _messages():
                uow.outbox.add(message)
            uow.commit()
        with store.unit_of_work() as uow:
            taken = [
                list(uow.outbox.claim(now=at, limit=limit, lease=lease))
                for at, limit in ((START, 2), (START, 10), (START + 2 * lease, 10))
            ]
            uow.commit()
        with store.unit_of_work() as uow:
            claims.append((taken, uow.outbox.list()))

    assert claims[0] == claims[1]
    taken, _ = claims[0]
    assert [[m.id for m in claim] for claim in taken] == [
        ["message-a5", "message-b4"],  # the earliest; ties by id
        ["message-b2", "message-a1", "message-b0"],  # message-a3 is claimed by someone else
        ["message-a5", "message-b4", "message-a3", "message-b2", "message-a1", "message-b0"],
    ]


# -- 2. the worker queries read their indexes ---------------------------------------------------

ROWS = 4000
DUE = 5


def _fill(store: SqlStore) -> None:
    """``ROWS`` onboarding records and messages, of which ``DUE`` are due at START.

    The others are what a long-lived database mostly holds: records with nothing scheduled
    or scheduled later, messages sent long ago.
    """
    users, onboardings, messages = [], [], []
    for n in range(ROWS):
        user = sample_user(
            id=UserId(f"plan-{n:05}"),
            login=Login(f"plan{n}"),
            email=EmailAddress(f"plan{n}@hopital-exemple.fr"),
        )
        users.append(user)
        due = n < DUE
        onboarding = Onboarding(
            user_id=user.id,
            establishment_id=ESTABLISHMENT,
            mode=OnboardingMode.INVITATION,
            status=OnboardingStatus.INVITED if due or n % 2 else OnboardingStatus.ACTIVE,
            created_at=START,
            due_at=START - timedelta(hours=1) if due else START + timedelta(days=n % 2 or 1),
        )
        if n % 2 == 0 and not due:
            onboarding = attrs.evolve(onboarding, due_at=None)
        onboardings.append(codec.onboarding_values(onboarding, version=0))
        message = Message(
            id=MessageId(f"message-{n:05}"),
            kind=MessageKind.INVITATION,
            recipient=f"plan{n}@hopital-exemple.fr",
            locale="fr-FR",
            idempotency_key=f"plan:{n}",
            created_at=START - timedelta(days=30),
            next_attempt_at=START - timedelta(minutes=n),
            status=MessageStatus.PENDING if due else MessageStatus.SENT,
        )
        messages.append(codec.message_values(message, version=0))
    with store.engine.begin() as connection:
        connection.execute(schema.users.insert(), [codec.user_values(u, version=0) for u in users])
        connection.execute(schema.onboardings.insert(), onboardings)
        connection.execute(schema.outbox.insert(), messages)
        connection.exec_driver_sql("ANALYZE")


def _captured(store: SqlStore, call: Callable[[Any], object]) -> list[tuple[str, Any]]:
    """The statements ``call(uow)`` runs, with their parameters, as the driver gets them."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        with store.unit_of_work() as uow:
            call(uow)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    return seen


def _plan(store: SqlStore, statement: str, parameters: Any) -> list[str]:
    """The plan the database chooses for one statement (not run)."""
    explain = "EXPLAIN QUERY PLAN" if store.engine.dialect.name == "sqlite" else "EXPLAIN"
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"{explain} {statement}", parameters).all()
    return [str(row[-1]) for row in rows]


def _only(seen: list[tuple[str, Any]], table: str) -> tuple[str, Any]:
    statements = [s for s in seen if table in s[0] and "SAVEPOINT" not in s[0]]
    assert len(statements) >= 1
    return statements[0]


def test_claim_due_and_claim_read_their_partial_indexes_not_the_tables(sql_store):
    _fill(sql_store)
    sqlite = sql_store.engine.dialect.name == "sqlite"

    seen = _captured(sql_store, lambda uow: uow.onboardings.claim_due(now=START, limit=100))
    due_plan = _plan(sql_store, *_only(seen, "practiceid_onboardings"))
    seen = _captured(
        sql_store, lambda uow: uow.outbox.claim(now=START, limit=100, lease=timedelta(minutes=5))
    )
    claim_plan = _plan(sql_store, *_only(seen, "practiceid_outbox"))

    sys.stdout.write("\n".join(["", "claim_due:", *due_plan, "claim:", *claim_plan, ""]))
    assert any(schema.DUE_INDEX in line for line in due_plan), due_plan
    assert any(schema.PENDING_INDEX in line for line in claim_plan), claim_plan
    if sqlite:
        # SEARCH is a range of an index; SCAN would read the table (or a whole index).
        assert not any(line.startswith("SCAN") for line in due_plan + claim_plan)
        # The index gives the order: no sort of what the range found.
        assert not any("TEMP B-TREE" in line for line in due_plan + claim_plan)
    else:
        assert not any("Seq Scan" in line for line in due_plan + claim_plan)
        # Ties on the instant are put in code point order ("C"): an incremental sort of
        # the index's output, never a sort of the whole table.
        assert not any(line.strip().startswith("->  Sort") for line in due_plan + claim_plan)


def test_the_partial_indexes_are_built_alike_by_create_schema_and_the_migration(tmp_path):
    # Alembic's compare_metadata does not compare an index's WHERE: this test does.
    def wheres(store: SqlStore) -> dict[str, dict[str, str]]:
        with store.engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {
                str(index["name"]): {
                    option: str(value) for option, value in index.get("dialect_options", {}).items()
                }
                for table in ("practiceid_onboardings", "practiceid_outbox")
                for index in inspector.get_indexes(table)
            }

    stores = []
    schemas: list[str] = []
    urls = [(f"sqlite:///{tmp_path}/{n}.sqlite", None) for n in range(2)]
    if POSTGRES_URL:
        schemas = [f"practiceid_where_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
        urls += [(POSTGRES_URL, name) for name in schemas]
    try:
        for url, name in urls:
            stores.append(SqlStore.from_url(url, schema=name))
        for created, migrated in zip(stores[::2], stores[1::2], strict=True):
            created.create_schema()
            migrated.upgrade_schema()
            found = wheres(created)
            assert found == wheres(migrated)
            dialect = created.engine.dialect.name
            assert "due_at IS NOT NULL" in found[schema.DUE_INDEX][f"{dialect}_where"]
            assert "'pending'" in found[schema.PENDING_INDEX][f"{dialect}_where"]
    finally:
        for store in stores:
            store.close()
        if schemas:
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                for name in schemas:
                    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            admin.dispose()


# -- 3. concurrent workers on PostgreSQL --------------------------------------------------------


def _invited_people(practice: SampleOnboarding, count: int) -> list[UserId]:
    return [
        practice.onboarding.invite(
            actor=practice.owner.id,
            establishment_id=practice.establishment.id,
            email=f"person{n}@hopital-exemple.fr",
            first_name="Personne",
            last_name=f"Numéro{n}",
        ).user.id
        for n in range(count)
    ]


@pytest.fixture
def postgres(fresh_postgres, postgres_store) -> SqlStore:
    if not POSTGRES_URL:  # pragma: no cover - the fixture skipped already
        pytest.skip(POSTGRES_SKIP)
    fresh_postgres()
    return postgres_store


@pytest.mark.postgres
def test_a_second_claim_due_skips_the_records_the_first_holds(postgres):
    practice = sample_onboarding(unit_of_work=postgres.unit_of_work)
    practice.clock.set(START)
    people = _invited_people(practice, 6)
    later = START + timedelta(days=3)

    held, skipped = hold_then(
        postgres,
        lambda uow: [o.user_id for o in uow.onboardings.claim_due(now=later, limit=4)],
        lambda uow: [o.user_id for o in uow.onboardings.claim_due(now=later, limit=10)],
    )

    assert len(held) == 4
    assert len(skipped) == 2
    assert sorted(held + skipped) == sorted(people)


@pytest.mark.postgres
def test_a_second_claim_skips_the_messages_the_first_is_claiming(postgres):
    practice = sample_onboarding(unit_of_work=postgres.unit_of_work)
    practice.clock.set(START)
    _invited_people(practice, 6)
    lease = timedelta(minutes=5)

    held, skipped = hold_then(
        postgres,
        lambda uow: [m.id for m in uow.outbox.claim(now=START, limit=4, lease=lease)],
        lambda uow: [m.id for m in uow.outbox.claim(now=START, limit=10, lease=lease)],
    )

    assert len(held) == 4
    assert len(skipped) == 2
    with postgres.unit_of_work() as uow:
        stored = uow.outbox.list()
    assert sorted(held + skipped) == sorted(m.id for m in stored)
    assert {(m.attempts, m.version, m.claimed_until) for m in stored} == {(1, 1, START + lease)}


@pytest.mark.postgres
def test_workers_sweeping_and_dispatching_at_once_handle_each_record_once(postgres):
    practice = sample_onboarding(unit_of_work=postgres.unit_of_work)
    practice.clock.set(START)
    people = _invited_people(practice, 40)
    dispatcher = attrs.evolve(practice.dispatcher, batch_size=3)
    service = attrs.evolve(practice.onboarding, batch_size=3)
    barrier = threading.Barrier(6)

    def dispatch() -> list[MessageId]:
        barrier.wait()
        return list(dispatcher.run_until_idle().sent)

    with ThreadPoolExecutor(max_workers=6) as pool:
        sent = [m for f in [pool.submit(dispatch) for _ in range(6)] for m in f.result()]
    assert sorted(sent) == sorted(set(sent))
    assert len(sent) == len(people)

    practice.clock.set(START + timedelta(days=3))

    def sweep() -> list[UserId]:
        barrier.wait()
        return list(service.run_due().reminded)

    with ThreadPoolExecutor(max_workers=6) as pool:
        reminded = [u for f in [pool.submit(sweep) for _ in range(6)] for u in f.result()]
    assert sorted(reminded) == sorted(people)
    with postgres.unit_of_work() as uow:
        assert all(uow.onboardings.get(p).reminders_sent == 1 for p in people)
        reminders = uow.outbox.list(status=MessageStatus.PENDING)
    assert len(reminders) == len(people)
    assert {m.kind for m in reminders} == {MessageKind.INVITATION_REMINDER}
