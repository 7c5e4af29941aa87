"""The SQL adapter passes every repository contract, on SQLite files and on PostgreSQL."""

from __future__ import annotations

import pytest

from practiceid.adapters.sql import SqlStore
from practiceid.ports import AccessUnitOfWorkFactory
from practiceid.testing.contracts import (
    AccessRepositoriesContract,
    LicenseRepositoriesContract,
    OnboardingRepositoriesContract,
    ProfileRepositoriesContract,
    UserRepositoryContract,
)


class _OnSqliteFiles:
    """A new SQLite file per factory, closed when the test ends."""

    @pytest.fixture(autouse=True)
    def _sqlite_files(self, tmp_path):
        self._directory = tmp_path
        self._stores: list[SqlStore] = []
        yield
        for store in self._stores:
            store.close()

    def make_unit_of_work_factory(self) -> AccessUnitOfWorkFactory:
        store = SqlStore.from_url(f"sqlite:///{self._directory}/{len(self._stores)}.db")
        store.create_schema()
        self._stores.append(store)
        return store.unit_of_work


class _OnPostgres:
    """The run's PostgreSQL schema, emptied for each factory."""

    @pytest.fixture(autouse=True)
    def _postgres(self, fresh_postgres):
        self._fresh = fresh_postgres

    def make_unit_of_work_factory(self) -> AccessUnitOfWorkFactory:
        return self._fresh()


class TestSqliteUserRepository(_OnSqliteFiles, UserRepositoryContract):
    pass


class TestSqliteAccessRepositories(_OnSqliteFiles, AccessRepositoriesContract):
    pass


class TestSqliteProfileRepositories(_OnSqliteFiles, ProfileRepositoriesContract):
    pass


class TestSqliteOnboardingRepositories(_OnSqliteFiles, OnboardingRepositoriesContract):
    pass


class TestSqliteLicenseRepositories(_OnSqliteFiles, LicenseRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresUserRepository(_OnPostgres, UserRepositoryContract):
    pass


@pytest.mark.postgres
class TestPostgresAccessRepositories(_OnPostgres, AccessRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresProfileRepositories(_OnPostgres, ProfileRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresOnboardingRepositories(_OnPostgres, OnboardingRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresLicenseRepositories(_OnPostgres, LicenseRepositoriesContract):
    pass
