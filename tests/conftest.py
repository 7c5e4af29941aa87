from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

pytest.register_assert_rewrite("practiceid.testing.contracts")

from practiceid import AccountService, Permission, PracticeIdError, UserId
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql._schema import METADATA
from practiceid.testing import ManualClock, fast_hasher

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SUPPORT = UserId("support")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def accounts(store: InMemoryStore, clock: ManualClock) -> AccountService:
    return AccountService(
        unit_of_work=store.unit_of_work,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=StaticAuthorizer({SUPPORT: {Permission.CHANGE_EMAIL}}),
        practice_name="Cabinet médical des Tilleuls",
    )


# -- SQL databases -------------------------------------------------------------------------

POSTGRES_URL = os.environ.get("PRACTICEID_TEST_POSTGRES_URL")
POSTGRES_SKIP = (
    "PRACTICEID_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server "
    "(.ci/run sets it to the machine's PostgreSQL)"
)


@pytest.fixture(scope="session")
def postgres_store():
    """A store on a schema of its own in the test server, dropped at the end of the run."""
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    schema = f"practiceid_test_{uuid.uuid4().hex[:12]}"
    store = SqlStore.from_url(POSTGRES_URL, schema=schema, pool_size=20, max_overflow=10)
    store.create_schema()
    yield store
    with store.engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    store.close()


@pytest.fixture
def fresh_postgres(postgres_store):
    """A function that empties the run's PostgreSQL store and returns its factory."""
    names = ", ".join(f'"{table.name}"' for table in METADATA.sorted_tables)

    def fresh():
        with postgres_store.engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {names}")
        return postgres_store.unit_of_work

    return fresh


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    """An empty store of each kind: in memory, a SQLite file, the run's PostgreSQL schema.

    Service tests that take it run once per kind: the services must behave the same on each.
    """
    if request.param == "memory":
        yield InMemoryStore()
    elif request.param == "sqlite":
        with SqlStore.from_url(f"sqlite:///{tmp_path / 'store.sqlite'}") as store:
            store.create_schema()
            yield store
    else:
        request.getfixturevalue("fresh_postgres")()
        yield request.getfixturevalue("postgres_store")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sample_unit_of_work(request, tmp_path):
    """The unit of work a ``sample_*()`` builds on, one per kind of store.

    ``None`` for memory: the sample then makes its own in-memory store, keyed like the
    host's. A SQLite file, or the run's PostgreSQL schema emptied first, otherwise.
    """
    if request.param == "memory":
        yield None
        return
    if request.param == "sqlite":
        store = SqlStore.from_url(f"sqlite:///{tmp_path / 'sample.sqlite'}")
        store.create_schema()
        try:
            yield store.unit_of_work
        finally:
            store.close()
        return
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    request.getfixturevalue("fresh_postgres")()
    yield request.getfixturevalue("postgres_store").unit_of_work


def together(calls):
    """Run ``calls`` in threads that start at once; return results or PracticeIdErrors."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except PracticeIdError as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


class OnSqliteFiles:
    """For contract suites: a new SQLite file per factory, closed when the test ends.

    Put it before the contract in the bases: ``class TestX(OnSqliteFiles, XContract)``.
    """

    @pytest.fixture(autouse=True)
    def _sqlite_files(self, tmp_path):
        self._directory = tmp_path
        self._stores: list[SqlStore] = []
        yield
        for store in self._stores:
            store.close()

    def make_unit_of_work_factory(self):
        store = SqlStore.from_url(f"sqlite:///{self._directory}/{len(self._stores)}.db")
        store.create_schema()
        self._stores.append(store)
        return store.unit_of_work


class OnPostgres:
    """For contract suites: the run's PostgreSQL schema, emptied for each factory."""

    @pytest.fixture(autouse=True)
    def _postgres(self, fresh_postgres):
        self._fresh = fresh_postgres

    def make_unit_of_work_factory(self):
        return self._fresh()
