"""The device repositories' contract on every store: in memory, SQLite files and PostgreSQL.

Clinic logins, members' PIN credentials, device sessions and PIN guards (F1-F4), and the
kind of each account, through :class:`~practiceid.testing.contracts.DeviceRepositoriesContract`.
"""

from __future__ import annotations

import pytest

from practiceid.adapters import InMemoryStore
from practiceid.ports.devices import DeviceUnitOfWorkFactory
from practiceid.testing.contracts import DeviceRepositoriesContract

from .conftest import OnPostgres, OnSqliteFiles


class TestInMemoryDeviceRepositories(DeviceRepositoriesContract):
    def make_unit_of_work_factory(self) -> DeviceUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestSqliteDeviceRepositories(OnSqliteFiles, DeviceRepositoriesContract):
    """A new SQLite file per factory."""


@pytest.mark.postgres
class TestPostgresDeviceRepositories(OnPostgres, DeviceRepositoriesContract):
    """The run's PostgreSQL schema, emptied for each factory."""


def test_the_contract_demands_its_factory():
    with pytest.raises(NotImplementedError):
        DeviceRepositoriesContract().make_unit_of_work_factory()
