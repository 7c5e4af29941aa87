"""The SQL adapter passes every repository contract, on SQLite files and on PostgreSQL."""

from __future__ import annotations

import pytest

from practiceid.testing.contracts import (
    AccessRepositoriesContract,
    LicenseRepositoriesContract,
    OnboardingRepositoriesContract,
    ProfileRepositoriesContract,
    UserRepositoryContract,
)

from .conftest import OnPostgres, OnSqliteFiles


class TestSqliteUserRepository(OnSqliteFiles, UserRepositoryContract):
    pass


class TestSqliteAccessRepositories(OnSqliteFiles, AccessRepositoriesContract):
    pass


class TestSqliteProfileRepositories(OnSqliteFiles, ProfileRepositoriesContract):
    pass


class TestSqliteOnboardingRepositories(OnSqliteFiles, OnboardingRepositoriesContract):
    pass


class TestSqliteLicenseRepositories(OnSqliteFiles, LicenseRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresUserRepository(OnPostgres, UserRepositoryContract):
    pass


@pytest.mark.postgres
class TestPostgresAccessRepositories(OnPostgres, AccessRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresProfileRepositories(OnPostgres, ProfileRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresOnboardingRepositories(OnPostgres, OnboardingRepositoriesContract):
    pass


@pytest.mark.postgres
class TestPostgresLicenseRepositories(OnPostgres, LicenseRepositoriesContract):
    pass
