"""The key pair and second-factor repositories' contract on every store.

Users' key pairs (D3), second factors, wrong-code guards and establishments' requirements
(F5), through :class:`~practiceid.testing.contracts.FactorRepositoriesContract`: in memory,
on SQLite files and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from practiceid.adapters import InMemoryStore
from practiceid.ports.factors import FactorUnitOfWorkFactory
from practiceid.testing.contracts import FactorRepositoriesContract

from .conftest import OnPostgres, OnSqliteFiles


class TestInMemoryFactorRepositories(FactorRepositoriesContract):
    def make_unit_of_work_factory(self) -> FactorUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestSqliteFactorRepositories(OnSqliteFiles, FactorRepositoriesContract):
    """A new SQLite file per factory."""


@pytest.mark.postgres
class TestPostgresFactorRepositories(OnPostgres, FactorRepositoriesContract):
    """The run's PostgreSQL schema, emptied for each factory."""


def test_the_contract_demands_its_factory():
    with pytest.raises(NotImplementedError):
        FactorRepositoriesContract().make_unit_of_work_factory()
