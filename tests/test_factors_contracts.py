"""The key pair and second-factor repositories' contract on every store.

Users' key pairs (D3), second factors, wrong-code guards and establishments' requirements
(F5), through :class:`~practiceid.testing.contracts.FactorRepositoriesContract`: in memory,
on SQLite files and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from practiceid.adapters import InMemoryStore
from practiceid.adapters.sql import SqlStore
from practiceid.ports.factors import FactorUnitOfWorkFactory
from practiceid.testing.contracts import FactorRepositoriesContract


class TestInMemoryFactorRepositories(FactorRepositoriesContract):
    def make_unit_of_work_factory(self) -> FactorUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestSqliteFactorRepositories(FactorRepositoriesContract):
    """A new SQLite file per factory, closed when the test ends."""

    @pytest.fixture(autouse=True)
    def _sqlite_files(self, tmp_path):
        self._directory = tmp_path
        self._stores: list[SqlStore] = []
        yield
        for store in self._stores:
            store.close()

    def make_unit_of_work_factory(self) -> FactorUnitOfWorkFactory:
        store = SqlStore.from_url(f"sqlite:///{self._directory}/{len(self._stores)}.db")
        store.create_schema()
        self._stores.append(store)
        return store.unit_of_work


@pytest.mark.postgres
class TestPostgresFactorRepositories(FactorRepositoriesContract):
    """The run's PostgreSQL schema, emptied for each factory."""

    @pytest.fixture(autouse=True)
    def _postgres(self, fresh_postgres):
        self._fresh = fresh_postgres

    def make_unit_of_work_factory(self) -> FactorUnitOfWorkFactory:
        return self._fresh()


def test_the_contract_demands_its_factory():
    with pytest.raises(NotImplementedError):
        FactorRepositoriesContract().make_unit_of_work_factory()
