"""Tampering with a stored audit trail is detected, and the first broken link named (F3).

Each test stores chains through the audit log, then changes them behind its back: in memory
by editing the store's record lists, on SQLite and PostgreSQL by raw UPDATE and DELETE
statements on the tables. It reads the chain back through the log and checks what
:func:`~practiceid.audit.verify_chain` says: the position of the first broken link and the
problem there. What a plain SHA-256 chain cannot show (a chain rewritten with recomputed
digests), a keyed chain shows, and an exported head (``ChainHead``) shows records removed
from the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import attrs
import pytest
import sqlalchemy as sa

from practiceid.adapters import InMemoryStore, StaticKeyProvider
from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql import _codec as codec
from practiceid.adapters.sql import _schema as schema
from practiceid.audit import (
    AUDIT_KEY_PURPOSE,
    AuditEvent,
    AuditRecord,
    ChainHead,
    ChainProblem,
    ChainVerification,
    Outcome,
    key_lookup,
    seal,
    verify_chain,
)
from practiceid.errors import DuplicateRecord
from practiceid.establishments import EstablishmentId
from practiceid.ports import UnitOfWorkFactory
from practiceid.ports.audit import KeyProvider
from practiceid.users import UserId

from .conftest import POSTGRES_SKIP, POSTGRES_URL

EST = "est-tilleuls"
ANNEX = "est-annexe"
AT = datetime(2027, 3, 1, 8, 30, 0, 250001, tzinfo=UTC)
LENGTH = 6  # records in EST's chain
ANNEX_LENGTH = 3

records_table = schema.audit_records


class Tamper(Protocol):
    """Changes to a store's records that no port allows."""

    def edit(self, chain: str, seq: int, **fields: Any) -> None:
        """Change fields of a record: the event's (``details`` a dict) or the record's."""

    def remove(self, chain: str, seq: int) -> None:
        """Delete a record."""

    def swap(self, chain: str, first: int, second: int) -> None:
        """Exchange two records' positions (their ``seq``)."""

    def move(self, chain: str, seq: int, to: str, to_seq: int) -> None:
        """Move a record, as it is, to position ``to_seq`` of chain ``to``."""

    def overwrite(self, records: Sequence[AuditRecord]) -> None:
        """Store ``records`` over the records at their positions."""

    def set_head(self, head: ChainHead) -> None:
        """Make ``head`` the chain's head, as far as the store keeps one apart."""


class MemoryTamper:
    def __init__(self, store: InMemoryStore) -> None:
        self._audit = store._audit

    def _index(self, chain: str, seq: int) -> int:
        (index,) = [i for i, r in enumerate(self._audit[chain]) if r.seq == seq]
        return index

    def edit(self, chain: str, seq: int, **fields: Any) -> None:
        index = self._index(chain, seq)
        record = self._audit[chain][index]
        own = {
            name: fields.pop(name) for name in ("previous", "digest", "key_id") if name in fields
        }
        event = attrs.evolve(record.event, **fields)
        self._audit[chain][index] = attrs.evolve(record, event=event, **own)

    def remove(self, chain: str, seq: int) -> None:
        del self._audit[chain][self._index(chain, seq)]

    def swap(self, chain: str, first: int, second: int) -> None:
        records = self._audit[chain]
        i, j = self._index(chain, first), self._index(chain, second)
        records[i], records[j] = (
            attrs.evolve(records[j], seq=first),
            attrs.evolve(records[i], seq=second),
        )

    def move(self, chain: str, seq: int, to: str, to_seq: int) -> None:
        record = self._audit[chain].pop(self._index(chain, seq))
        self._audit.setdefault(to, []).append(attrs.evolve(record, chain=to, seq=to_seq))
        self._audit[to].sort(key=lambda r: r.seq)

    def overwrite(self, records: Sequence[AuditRecord]) -> None:
        for record in records:
            self._audit[record.chain][self._index(record.chain, record.seq)] = record

    def set_head(self, head: ChainHead) -> None:
        pass  # the in-memory head is the last record of the list


class SqlTamper:
    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine

    @staticmethod
    def _at(chain: str, seq: int) -> sa.ColumnElement[bool]:
        return sa.and_(records_table.c.chain == chain, records_table.c.seq == seq)

    def _run(self, *statements: sa.Executable) -> None:
        with self._engine.begin() as connection:
            for statement in statements:
                assert connection.execute(statement).rowcount == 1  # type: ignore[attr-defined]

    def edit(self, chain: str, seq: int, **fields: Any) -> None:
        if isinstance(fields.get("details"), dict):
            fields["details"] = json.dumps(fields["details"], ensure_ascii=False)
        if "outcome" in fields:
            fields["outcome"] = str(fields["outcome"])
        self._run(records_table.update().where(self._at(chain, seq)).values(**fields))

    def remove(self, chain: str, seq: int) -> None:
        self._run(records_table.delete().where(self._at(chain, seq)))

    def swap(self, chain: str, first: int, second: int) -> None:
        # Through a free position: the primary key holds at every statement.
        self._run(
            records_table.update().where(self._at(chain, first)).values(seq=-1),
            records_table.update().where(self._at(chain, second)).values(seq=first),
            records_table.update().where(self._at(chain, -1)).values(seq=second),
        )

    def move(self, chain: str, seq: int, to: str, to_seq: int) -> None:
        self._run(records_table.update().where(self._at(chain, seq)).values(chain=to, seq=to_seq))

    def overwrite(self, records: Sequence[AuditRecord]) -> None:
        self._run(
            *(
                records_table.update()
                .where(self._at(record.chain, record.seq))
                .values(codec.audit_record_values(record))
                for record in records
            )
        )

    def set_head(self, head: ChainHead) -> None:
        heads = schema.audit_heads
        self._run(
            heads.update()
            .where(heads.c.chain == head.chain)
            .values(seq=head.seq, digest=head.digest)
        )


@attrs.define
class Trail:
    """A store holding EST's chain (6 records) and ANNEX's (2), and a way to tamper with it."""

    factory: UnitOfWorkFactory
    tamper: Tamper
    keys: KeyProvider | None
    appended: list[AuditRecord]

    def records(self, chain: str = EST) -> list[AuditRecord]:
        with self.factory() as uow:
            return list(uow.audit.records(chain))

    def head(self, chain: str = EST) -> ChainHead | None:
        with self.factory() as uow:
            return uow.audit.head(chain)

    def verify(
        self, chain: str = EST, *, anchor: ChainHead | None = None, keyed: bool = True
    ) -> ChainVerification:
        key = key_lookup(self.keys) if keyed else None
        return verify_chain(self.records(chain), chain=chain, key=key, anchor=anchor)

    def broken(self, chain: str = EST, **options: Any) -> tuple[int | None, ChainProblem | None]:
        verified = self.verify(chain, **options)
        return verified.broken_at, verified.problem


def _event(n: int, chain: str = EST) -> AuditEvent:
    return AuditEvent(
        action=f"tamper.step-{n}",
        at=AT + timedelta(minutes=n),
        establishment_id=EstablishmentId(chain),
        actor=UserId(f"user-{n % 3}"),
        target_type="user",
        target_id=f"user-{n % 4}",
        details={"n": n, "note": "é"},
    )


BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SQL_BACKENDS = BACKENDS[1:]
KEYED = ["plain", "keyed"]


def _keys(kind: str) -> KeyProvider | None:
    return None if kind == "plain" else StaticKeyProvider.generate(AUDIT_KEY_PURPOSE)


def _stored_trail(factory: UnitOfWorkFactory, tamper: Tamper, keys: KeyProvider | None) -> Trail:
    appended: list[AuditRecord] = []
    for batch in ((0, 1, 2), (3, 4), (5,)):
        with factory() as uow:
            appended += [uow.audit.append(_event(n)) for n in batch]
            appended.append(uow.audit.append(_event(10 + batch[0], ANNEX)))
            uow.commit()
    trail = Trail(factory, tamper, keys, appended)
    assert [r.seq for r in trail.records()] == list(range(1, LENGTH + 1))
    assert [r.seq for r in trail.records(ANNEX)] == list(range(1, ANNEX_LENGTH + 1))
    assert trail.verify().intact
    assert trail.verify(ANNEX).intact
    return trail


@pytest.fixture
def make_trail(request, tmp_path) -> Iterator[Any]:
    """A function returning a :class:`Trail` on a new store of the backend, with ``keys``."""
    stores: list[SqlStore] = []

    def make(keys: KeyProvider | None = None) -> Trail:
        if request.param == "memory":
            store = InMemoryStore(keys=keys)
            return _stored_trail(store.unit_of_work, MemoryTamper(store), keys)
        if request.param == "sqlite":
            sql = SqlStore.from_url(f"sqlite:///{tmp_path}/{len(stores)}.db", keys=keys)
            sql.create_schema()
            stores.append(sql)
        else:
            if not POSTGRES_URL:
                pytest.skip(POSTGRES_SKIP)
            request.getfixturevalue("fresh_postgres")()
            engine = request.getfixturevalue("postgres_store").engine
            sql = SqlStore(engine, keys=keys)  # the run's engine: never closed here
        return _stored_trail(sql.unit_of_work, SqlTamper(sql), keys)

    yield make
    for store in stores:
        store.close()


def _on(backends: list[Any]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("make_trail", backends, indirect=True)


on_every_store = _on(BACKENDS)
on_sql = _on(SQL_BACKENDS)


# -- edits ------------------------------------------------------------------------------------


@on_every_store
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", UserId("user-evil")),
        ("actor", None),
        ("at", AT + timedelta(days=1)),
        ("at", AT + timedelta(minutes=2, microseconds=1)),  # one microsecond later
        ("details", {"n": 99, "note": "é"}),
        ("details", {"n": "2", "note": "é"}),  # the same number, as text
        ("details", {"n": 2}),
        ("outcome", Outcome.REFUSED),
        ("code", "license.expired"),
        ("target_id", "user-other"),
        ("peer_address", "192.0.2.66"),
        ("previous", bytes(32)),
        ("digest", bytes(32)),
    ],
    ids=lambda value: str(value)[:20],
)
@pytest.mark.parametrize("kind", KEYED)
def test_an_edited_field_breaks_the_chain_at_its_record(make_trail, kind, field, value):
    trail = make_trail(_keys(kind))
    trail.tamper.edit(EST, 3, **{field: value})

    verified = trail.verify()
    assert (verified.broken_at, verified.problem) == (3, ChainProblem.EDITED)
    assert verified.checked == 2
    assert verified.head == trail.appended[1].head
    assert trail.verify(ANNEX).intact  # another chain is not affected


@on_every_store
def test_a_record_naming_a_key_the_provider_lacks_is_an_unknown_key(make_trail):
    trail = make_trail(_keys("keyed"))
    trail.tamper.edit(EST, 4, key_id="forged")
    trail.tamper.edit(EST, 5, key_id="")

    assert trail.broken() == (4, ChainProblem.UNKNOWN_KEY)
    trail.tamper.edit(EST, 4, key_id="generated")
    assert trail.broken() == (5, ChainProblem.UNKEYED)  # a keyed chain checked with its key


# -- removals ---------------------------------------------------------------------------------


@on_every_store
@pytest.mark.parametrize("seq", [1, 3, 5])
def test_a_removed_record_is_missing_at_its_position(make_trail, seq):
    trail = make_trail()
    trail.tamper.remove(EST, seq)

    verified = trail.verify()
    assert (verified.broken_at, verified.problem) == (seq, ChainProblem.MISSING)
    assert verified.checked == seq - 1


@on_every_store
@pytest.mark.parametrize("removed", [1, 2])
def test_records_removed_from_the_end_show_only_against_an_exported_head(make_trail, removed):
    trail = make_trail()
    anchor = trail.head()
    assert anchor == trail.appended[-2].head  # EST's last record (ANNEX's came after it)
    for seq in range(LENGTH, LENGTH - removed, -1):
        trail.tamper.remove(EST, seq)

    alone = trail.verify()
    assert alone.intact  # a shorter chain is a chain
    assert alone.checked == LENGTH - removed
    anchored = trail.verify(anchor=anchor)
    assert (anchored.broken_at, anchored.problem) == (
        LENGTH - removed + 1,
        ChainProblem.TRUNCATED,
    )


@on_every_store
def test_a_last_record_removed_and_replaced_shows_against_the_exported_head(make_trail):
    trail = make_trail()
    anchor = trail.head()
    assert anchor is not None
    trail.tamper.remove(EST, LENGTH)
    trail.tamper.set_head(trail.appended[-4].head)  # EST's record 5
    with trail.factory() as uow:
        replaced = uow.audit.append(_event(99))
        uow.commit()

    assert replaced.seq == LENGTH
    assert trail.verify().intact
    assert trail.broken(anchor=anchor) == (LENGTH, ChainProblem.HEAD_MISMATCH)


# -- moves ------------------------------------------------------------------------------------


@on_every_store
def test_two_records_whose_positions_were_exchanged_break_at_the_first(make_trail):
    trail = make_trail()
    trail.tamper.swap(EST, 2, 4)

    assert [r.event.action for r in trail.records()][1:4] == [
        "tamper.step-3",
        "tamper.step-2",
        "tamper.step-1",
    ]
    assert trail.broken() == (2, ChainProblem.EDITED)


@on_every_store
def test_a_record_moved_to_another_chain_is_missing_from_one_and_foreign_to_the_other(
    make_trail,
):
    trail = make_trail()
    trail.tamper.move(EST, 3, ANNEX, ANNEX_LENGTH + 1)

    assert trail.broken() == (3, ChainProblem.MISSING)
    assert trail.broken(ANNEX) == (ANNEX_LENGTH + 1, ChainProblem.WRONG_CHAIN)
    # Made to look like the other chain's: its digest covers the chain it was sealed in.
    trail.tamper.edit(ANNEX, ANNEX_LENGTH + 1, establishment_id=ANNEX)
    assert trail.broken(ANNEX) == (ANNEX_LENGTH + 1, ChainProblem.EDITED)


@on_every_store
def test_a_record_moved_to_the_platform_chain_is_foreign_there(make_trail):
    trail = make_trail()
    trail.tamper.move(EST, LENGTH, "", 1)

    assert trail.broken("") == (1, ChainProblem.WRONG_CHAIN)
    assert trail.verify().intact  # the end of EST: only an exported head shows it


def test_records_out_of_position_order_in_memory_are_missing_or_reordered():
    store = InMemoryStore()
    trail = _stored_trail(store.unit_of_work, MemoryTamper(store), None)
    chain = store._audit[EST]
    chain[1], chain[3] = chain[3], chain[1]  # positions kept, order changed
    assert trail.broken() == (2, ChainProblem.MISSING)
    chain[1], chain[3] = chain[3], chain[1]
    chain.insert(3, chain[1])  # a record repeated
    assert trail.broken() == (2, ChainProblem.REORDERED)


# -- re-sealing ---------------------------------------------------------------------------------


def _resealed(
    records: Sequence[AuditRecord], start: int, *, key_id: str, key: bytes | None, **fields: Any
) -> list[AuditRecord]:
    """Records ``start``… of a chain edited (``fields``, on ``start``) and sealed again."""
    head = records[start - 2].head if start > 1 else None
    forged = []
    for record in records[start - 1 :]:
        event = record.event
        if record.seq == start:
            event = attrs.evolve(event, **fields)
        sealed = seal(head, event, key_id=key_id, key=key)
        forged.append(sealed)
        head = sealed.head
    return forged


@on_every_store
def test_a_record_sealed_again_alone_breaks_the_link_after_it(make_trail):
    trail = make_trail()
    stored = trail.records()
    trail.tamper.overwrite(_resealed(stored, 3, key_id="", key=None, actor=UserId("user-evil"))[:1])

    assert trail.records()[2].event.actor == "user-evil"
    assert trail.broken() == (4, ChainProblem.RELINKED)


@on_every_store
def test_a_plain_chain_sealed_again_after_an_edit_verifies_without_a_key(make_trail):
    trail = make_trail()
    anchor = trail.head()
    stored = trail.records()
    trail.tamper.overwrite(_resealed(stored, 3, key_id="", key=None, actor=UserId("user-evil")))

    # What a plain SHA-256 chain cannot show: every digest was recomputed.
    rewritten = trail.verify()
    assert rewritten.intact
    assert rewritten.checked == LENGTH
    assert trail.records()[2].event.actor == "user-evil"
    # Only a head exported before the rewrite shows it.
    assert trail.broken(anchor=anchor) == (LENGTH, ChainProblem.HEAD_MISMATCH)


@on_every_store
def test_a_keyed_chain_sealed_again_without_its_key_is_detected_at_the_edit(make_trail):
    trail = make_trail(_keys("keyed"))
    stored = trail.records()
    guessed = bytes(32)
    trail.tamper.overwrite(
        _resealed(stored, 3, key_id="generated", key=guessed, actor=UserId("user-evil"))
    )

    verified = trail.verify()
    assert (verified.broken_at, verified.problem) == (3, ChainProblem.EDITED)
    assert verified.checked == 2
    assert trail.broken(keyed=False) == (1, ChainProblem.UNKNOWN_KEY)

    trail.tamper.overwrite(
        _resealed(stored, 3, key_id="forged", key=guessed, actor=UserId("user-evil"))
    )
    assert trail.broken() == (3, ChainProblem.UNKNOWN_KEY)


@on_every_store
def test_a_keyed_record_resealed_as_plain_is_unkeyed_at_its_position(make_trail):
    trail = make_trail(_keys("keyed"))
    stored = trail.records()
    trail.tamper.overwrite(_resealed(stored, 3, key_id="", key=None, actor=UserId("user-evil"))[:1])
    assert trail.broken() == (3, ChainProblem.UNKEYED)


@_on(["memory"])
def test_a_keyed_chain_rewritten_entirely_as_plain_is_detected_with_the_key(make_trail):
    trail = make_trail(_keys("keyed"))
    stored = trail.records()
    trail.tamper.overwrite(_resealed(stored, 1, key_id="", key=None, actor=UserId("user-evil")))

    result = trail.verify()
    assert (result.broken_at, result.problem) == (1, ChainProblem.UNKEYED)


# -- the SQL head row -----------------------------------------------------------------------


@on_sql
def test_on_sql_the_head_row_still_names_a_removed_last_record(make_trail):
    trail = make_trail()
    before = trail.head()
    trail.tamper.remove(EST, LENGTH)

    # The head row is apart from the records: it anchors the chain against a naive removal.
    assert trail.head() == before
    assert trail.broken(anchor=trail.head()) == (LENGTH, ChainProblem.TRUNCATED)
    # And the log goes on after it: the removed position stays missing.
    with trail.factory() as uow:
        after = uow.audit.append(_event(99))
        uow.commit()
    assert after.seq == LENGTH + 1
    assert trail.broken() == (LENGTH, ChainProblem.MISSING)


@on_sql
def test_on_sql_a_head_row_behind_its_records_makes_an_append_a_coded_conflict(make_trail):
    trail = make_trail()
    trail.tamper.set_head(trail.appended[0].head)  # EST's record 1

    with trail.factory() as uow:
        with pytest.raises(DuplicateRecord) as raised:
            uow.audit.append(_event(99))
        # The refused append changed nothing, and the unit of work goes on.
        assert uow.audit.append(_event(98, ANNEX)).seq == ANNEX_LENGTH + 1
        uow.commit()
    assert dict(raised.value.params) == {
        "entity": "audit_record",
        "id": f"{EST}/2",
        "chain": EST,
        "seq": 2,
    }
    assert trail.verify().intact
    assert trail.verify(ANNEX).intact


@on_sql
def test_on_sql_a_row_edited_into_an_unknown_outcome_or_unreadable_details_is_edited(
    make_trail,
):
    trail = make_trail()
    trail.tamper.edit(EST, 2, outcome="hidden")
    trail.tamper.edit(EST, 4, details="not json")

    assert trail.broken() == (2, ChainProblem.EDITED)
    records = trail.records()
    assert records[1].event.outcome == "hidden"
    assert records[3].event.details == (("details", "not json"),)


def test_a_chain_sealed_plain_before_the_store_had_a_key_verifies_up_to_that_point() -> None:
    """A store that gains a key keeps its earlier plain records verifiable."""
    keys = StaticKeyProvider.generate("audit")
    key_id, key = keys.current("audit")
    event = AuditEvent("member.add", datetime(2027, 1, 4, tzinfo=UTC), establishment_id="est")
    plain = seal(None, event, key_id="", key=None)
    keyed = seal(plain.head, event, key_id=key_id, key=key)
    lookup = key_lookup(keys)
    assert verify_chain([plain, keyed], chain="est", key=lookup, unkeyed_until=1).intact
    result = verify_chain([plain, keyed], chain="est", key=lookup)
    assert (result.broken_at, result.problem) == (1, ChainProblem.UNKEYED)
