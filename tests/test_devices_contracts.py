"""The device repositories' contract on every store: in memory, SQLite files and PostgreSQL.

Clinic logins, members' PIN credentials, device sessions and PIN guards (F1-F4), and the
kind of each account, through :class:`~practiceid.testing.contracts.DeviceRepositoriesContract`.
"""

from __future__ import annotations

import pytest

from practiceid.adapters import InMemoryStore
from practiceid.adapters.sql import SqlStore
from practiceid.ports.devices import DeviceUnitOfWorkFactory
from practiceid.testing.contracts import DeviceRepositoriesContract


class TestInMemoryDeviceRepositories(DeviceRepositoriesContract):
    def make_unit_of_work_factory(self) -> DeviceUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestSqliteDeviceRepositories(DeviceRepositoriesContract):
    """A new SQLite file per factory, closed when the test ends."""

    @pytest.fixture(autouse=True)
    def _sqlite_files(self, tmp_path):
        self._directory = tmp_path
        self._stores: list[SqlStore] = []
        yield
        for store in self._stores:
            store.close()

    def make_unit_of_work_factory(self) -> DeviceUnitOfWorkFactory:
        store = SqlStore.from_url(f"sqlite:///{self._directory}/{len(self._stores)}.db")
        store.create_schema()
        self._stores.append(store)
        return store.unit_of_work


@pytest.mark.postgres
class TestPostgresDeviceRepositories(DeviceRepositoriesContract):
    """The run's PostgreSQL schema, emptied for each factory."""

    @pytest.fixture(autouse=True)
    def _postgres(self, fresh_postgres):
        self._fresh = fresh_postgres

    def make_unit_of_work_factory(self) -> DeviceUnitOfWorkFactory:
        return self._fresh()


def test_the_contract_demands_its_factory():
    with pytest.raises(NotImplementedError):
        DeviceRepositoriesContract().make_unit_of_work_factory()
