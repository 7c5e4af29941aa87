"""The audit log contract on every store: in memory, SQLite files and PostgreSQL.

And what only PostgreSQL promises: appends to different chains do not wait for each other,
and an append to a chain waits for the unit of work holding its head.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from practiceid.adapters import InMemoryStore
from practiceid.adapters.sql import SqlStore
from practiceid.audit import AuditEvent, AuditRecord
from practiceid.establishments import EstablishmentId
from practiceid.ports import UnitOfWorkFactory
from practiceid.ports.audit import KeyProvider
from practiceid.testing.contracts import AuditLogContract

WAIT = 10.0  # seconds a thread that should not be blocked gets
BLOCKED = 0.5  # seconds a thread that should be blocked is watched


class TestInMemoryAuditLog(AuditLogContract):
    def make_unit_of_work_factory(self, keys: KeyProvider | None) -> UnitOfWorkFactory:
        return InMemoryStore(keys=keys).unit_of_work


class TestSqliteAuditLog(AuditLogContract):
    """A new SQLite file per factory, closed when the test ends."""

    @pytest.fixture(autouse=True)
    def _sqlite_files(self, tmp_path):
        self._directory = tmp_path
        self._stores: list[SqlStore] = []
        yield
        for store in self._stores:
            store.close()

    def make_unit_of_work_factory(self, keys: KeyProvider | None) -> UnitOfWorkFactory:
        store = SqlStore.from_url(f"sqlite:///{self._directory}/{len(self._stores)}.db", keys=keys)
        store.create_schema()
        self._stores.append(store)
        return store.unit_of_work


@pytest.mark.postgres
class TestPostgresAuditLog(AuditLogContract):
    """The run's PostgreSQL schema, emptied for each factory, through a store with ``keys``."""

    @pytest.fixture(autouse=True)
    def _postgres(self, fresh_postgres, postgres_store):
        self._fresh = fresh_postgres
        self._engine = postgres_store.engine

    def make_unit_of_work_factory(self, keys: KeyProvider | None) -> UnitOfWorkFactory:
        self._fresh()
        # The run's engine, shared: this store is never closed (that would dispose of it).
        return SqlStore(self._engine, keys=keys).unit_of_work


def test_the_contract_demands_its_factory():
    with pytest.raises(NotImplementedError):
        AuditLogContract().make_unit_of_work_factory(None)


# -- PostgreSQL: one lock per chain ------------------------------------------------------------


def _event(chain: str) -> AuditEvent:
    return AuditEvent(
        action="contract.lock",
        at=datetime(2027, 3, 1, 8, 30, tzinfo=UTC),
        establishment_id=EstablishmentId(chain),
    )


def _append_in_thread(factory: UnitOfWorkFactory, chain: str) -> tuple[threading.Thread, list]:
    done: list[AuditRecord | Exception] = []

    def run() -> None:
        try:
            with factory() as uow:
                record = uow.audit.append(_event(chain))
                uow.commit()
            done.append(record)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            done.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


def _seqs(done: list) -> list[tuple[int, bytes]]:
    """The position and previous digest of each record a thread appended; none may fail."""
    assert all(isinstance(r, AuditRecord) for r in done), done
    return [(r.seq, r.previous) for r in done]


@pytest.mark.postgres
def test_on_postgres_an_append_waits_for_its_chain_only(fresh_postgres):
    factory = fresh_postgres()
    with factory() as uow:  # both chains exist: their heads are rows to lock
        uow.audit.append(_event("est-busy"))
        free = uow.audit.append(_event("est-free"))
        uow.commit()

    with factory() as holder:
        held = holder.audit.append(_event("est-busy"))  # holds est-busy's head until it ends

        other, other_done = _append_in_thread(factory, "est-free")
        other.join(WAIT)
        assert not other.is_alive(), "an append to another chain waited"
        assert _seqs(other_done) == [(2, free.digest)]

        same, same_done = _append_in_thread(factory, "est-busy")
        same.join(BLOCKED)
        assert same.is_alive(), "an append to a held chain did not wait"
        assert same_done == []
        holder.commit()
    same.join(WAIT)
    assert not same.is_alive()
    assert held.seq == 2
    assert _seqs(same_done) == [(3, held.digest)]


@pytest.mark.postgres
def test_on_postgres_the_first_appends_to_a_new_chain_wait_for_the_one_making_its_head(
    fresh_postgres,
):
    factory = fresh_postgres()
    with factory() as holder:
        first = holder.audit.append(_event("est-new"))  # makes the head row, uncommitted

        second, second_done = _append_in_thread(factory, "est-new")
        second.join(BLOCKED)
        assert second.is_alive(), "an append to a chain being made did not wait"
        holder.rollback()  # the head row goes: the waiting append makes it
        again = holder.audit.append(_event("est-other"))
        holder.commit()
    second.join(WAIT)
    assert not second.is_alive()
    assert first.seq == 1
    assert again.seq == 1
    assert _seqs(second_done) == [(1, first.previous)]
