"""The SQL schema: create_schema, the Alembic migrations between revisions, revision checks.

Every database test runs on a new SQLite file and on a PostgreSQL schema of its own
(``postgres`` marker: skipped unless PRACTICEID_TEST_POSTGRES_URL is set), dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import alembic.op
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory

from practiceid import AccessService, ProfileService
from practiceid.adapters.sql import (
    MIGRATIONS,
    SCHEMA_REVISION,
    VERSION_TABLE,
    SqlStore,
    create_engine,
)
from practiceid.adapters.sql import _codec as codec
from practiceid.adapters.sql import _schema as schema
from practiceid.adapters.sql._schema import METADATA
from practiceid.errors import (
    InvalidConfiguration,
    PracticeIdError,
    SchemaMismatch,
    StorageError,
    StorageUnavailable,
)
from practiceid.establishments import EstablishmentId, OrganisationId, ProductKind
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.testing import (
    ManualClock,
    fast_hasher,
    sample_inami,
    sample_user,
    sample_workplace,
)
from practiceid.users import AccountKind, User, UserStatus

from .conftest import POSTGRES_SKIP, POSTGRES_URL

FIRST = "0001_users"
UNKNOWN = "9999_from_a_newer_practiceid"
CLOSED_POSTGRES_PORT = "postgresql://postgres@127.0.0.1:1/test"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

HOST = sa.MetaData()
host_patients = sa.Table(
    "host_patients",
    HOST,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)
host_alembic_version = sa.Table(
    "alembic_version",
    HOST,
    sa.Column("version_num", sa.String(32), primary_key=True),
)
version_rows = sa.table(VERSION_TABLE, sa.column("version_num"))


def _script() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def _revisions() -> list[Script]:
    """Every revision, oldest first."""
    return list(reversed(list(_script().walk_revisions())))


# -- databases --------------------------------------------------------------------------------


MakeStore = Callable[..., SqlStore]


@pytest.fixture(params=BACKENDS)
def new_store(request, tmp_path) -> Iterator[MakeStore]:
    """A function returning a store on a new, empty database of the backend.

    On PostgreSQL the database is a schema of its own, created empty (not at all with
    ``created=False``: a SQLite file never exists before the store's first connection) and
    dropped when the test ends.
    """
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    stores: list[SqlStore] = []
    schemas: list[str] = []

    def make(*, created: bool = True) -> SqlStore:
        if request.param == "sqlite":
            store = SqlStore.from_url(f"sqlite:///{tmp_path}/{len(stores)}.sqlite")
        else:
            schema = f"practiceid_schema_test_{uuid.uuid4().hex[:12]}"
            schemas.append(schema)
            store = SqlStore.from_url(POSTGRES_URL, schema=schema)
            if created:
                with store.engine.begin() as connection:
                    connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    if schemas:
        admin = create_engine(POSTGRES_URL)
        try:
            with admin.begin() as connection:
                for schema in schemas:
                    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            admin.dispose()


def _alembic_config(connection: sa.Connection) -> Config:
    """The configuration SqlStore.upgrade_schema builds: its migrations, on this connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _migrate(store: SqlStore, step: Callable[[Config, str], None], revision: str) -> None:
    with store.engine.connect() as connection:
        step(_alembic_config(connection), revision)
        connection.commit()


def _layout(store: SqlStore) -> dict[str, dict[str, object]]:
    """Every table's columns, primary key, indexes, unique constraints and foreign keys."""
    with store.engine.connect() as connection:
        inspector = sa.inspect(connection)
        # One catalogue query per kind for all the tables: reflecting table by table is slow
        # on PostgreSQL.
        columns = inspector.get_multi_columns()
        primary_keys = inspector.get_multi_pk_constraint()
        indexes = inspector.get_multi_indexes()
        uniques = inspector.get_multi_unique_constraints()
        foreign_keys = inspector.get_multi_foreign_keys()
        return {
            key[1]: {
                "columns": [
                    (column["name"], repr(column["type"]), column["nullable"], column["default"])
                    for column in columns[key]
                ],
                "primary_key": (
                    primary_keys[key]["name"],
                    primary_keys[key]["constrained_columns"],
                ),
                "indexes": sorted(
                    (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                    for index in indexes[key]
                ),
                "unique": sorted(
                    (unique["name"], tuple(unique["column_names"])) for unique in uniques[key]
                ),
                "foreign_keys": sorted(
                    (
                        foreign_key["name"],
                        tuple(foreign_key["constrained_columns"]),
                        foreign_key["referred_table"],
                        tuple(foreign_key["referred_columns"]),
                    )
                    for foreign_key in foreign_keys[key]
                ),
            }
            for key in sorted(columns)
        }


def _contents(store: SqlStore) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, in a stable order."""
    with store.engine.connect() as connection:
        return {
            name: sorted(
                (
                    tuple(row)
                    for row in connection.execute(
                        sa.select(sa.text("*")).select_from(sa.table(name))
                    )
                ),
                key=repr,
            )
            for name in sa.inspect(connection).get_table_names()
        }


def _state(store: SqlStore) -> tuple[object, object]:
    return _layout(store), _contents(store)


def _without_version_table(layout: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    return {name: table for name, table in layout.items() if name != VERSION_TABLE}


def _differences(store: SqlStore) -> list[object]:
    """What Alembic's autogenerate finds between the database and the metadata."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"version_table": VERSION_TABLE, "compare_server_default": True},
        )
        return list(compare_metadata(context, METADATA))


def _add_users(store: SqlStore, *users: User) -> None:
    """Store users as the practiceid of the database's revision did: in its columns only.

    At the first revision ``practiceid_users`` has no ``kind`` (0006_devices adds it).
    """
    with store.engine.begin() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("practiceid_users")}
        rows = [
            {k: v for k, v in codec.user_values(u, version=u.version).items() if k in columns}
            for u in users
        ]
        connection.execute(schema.users.insert(), rows)


def _users(store: SqlStore) -> list[User]:
    with store.unit_of_work() as uow:
        return list(uow.users.list())


def _stamp(store: SqlStore, revision: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(version_rows.update().values(version_num=revision))


def _add_host_tables(store: SqlStore) -> None:
    """A table of the host's, and the version table of the host's own Alembic history."""
    with store.engine.begin() as connection:
        HOST.create_all(connection)
        connection.execute(host_patients.insert(), [{"id": 1, "name": "Médor"}])
        connection.execute(host_alembic_version.insert(), [{"version_num": "host_0042"}])


def _host_rows(store: SqlStore) -> tuple[list[object], list[object]]:
    with store.engine.connect() as connection:
        return (
            [tuple(row) for row in connection.execute(sa.select(host_patients))],
            [tuple(row) for row in connection.execute(sa.select(host_alembic_version))],
        )


def _practiceid_tables(store: SqlStore) -> set[str]:
    return {name for name in _layout(store) if name.startswith("practiceid_")}


ALL_TABLES = {table.name for table in METADATA.sorted_tables} | {VERSION_TABLE}


# -- 1. the migrations build exactly the metadata ----------------------------------------------


def test_migrations_of_an_empty_database_build_exactly_the_metadata(new_store):
    store = new_store()
    store.upgrade_schema()

    assert _differences(store) == []
    assert _practiceid_tables(store) == ALL_TABLES


def test_create_schema_and_the_migrations_build_the_same_tables_indexes_and_keys(new_store):
    created, migrated = new_store(), new_store()
    created.create_schema()
    migrated.upgrade_schema()

    assert _layout(created) == _layout(migrated)
    assert created.schema_revision() == migrated.schema_revision() == SCHEMA_REVISION


def test_create_schema_builds_exactly_the_metadata(new_store):
    store = new_store()
    store.create_schema()

    assert _differences(store) == []


# -- 2. the stairway --------------------------------------------------------------------------


def test_schema_revision_is_the_single_head_of_one_line_of_revisions():
    script = _script()
    revisions = _revisions()

    assert script.get_heads() == [SCHEMA_REVISION]
    assert script.get_bases() == [FIRST]
    assert revisions[-1].revision == SCHEMA_REVISION
    # Each revision revises the one before it: no branch, no merge, no dependency.
    assert [revision.down_revision for revision in revisions] == [
        None,
        *(revision.revision for revision in revisions[:-1]),
    ]
    assert all(not revision.branch_labels and not revision.dependencies for revision in revisions)


@pytest.mark.parametrize("revision", [revision.revision for revision in _revisions()])
def test_every_revision_file_has_an_upgrade_and_a_downgrade(revision):
    module = _script().get_revision(revision).module

    assert callable(module.upgrade)
    assert callable(module.downgrade)


def test_every_revision_upgrades_downgrades_and_upgrades_again(new_store):
    store = new_store()
    layouts = {None: _layout(store)}
    for script in _revisions():
        revision, previous = script.revision, script.down_revision
        assert isinstance(previous, str | None)

        _migrate(store, command.upgrade, revision)
        assert store.schema_revision() == revision
        layouts[revision] = _layout(store)
        assert _without_version_table(layouts[revision]) != _without_version_table(
            layouts[previous]
        )

        _migrate(store, command.downgrade, previous or "base")
        assert store.schema_revision() == previous
        # Downgrading to base leaves Alembic's (empty) version table behind.
        assert _without_version_table(_layout(store)) == _without_version_table(layouts[previous])

        _migrate(store, command.upgrade, revision)
        assert store.schema_revision() == revision
        assert _layout(store) == layouts[revision]

    store.check_schema()
    assert _differences(store) == []


# -- 3. upgrading a database that holds data --------------------------------------------------


def test_users_stored_at_the_first_revision_survive_the_upgrade_and_the_new_tables_work(
    new_store,
):
    store = new_store()
    store.upgrade_schema(FIRST)
    assert store.schema_revision() == FIRST
    users_table_at_first = _layout(store)["practiceid_users"]
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    doctor = sample_user(
        login=Login("Dr.Van-den-Broeck"),
        email=EmailAddress("Elodie.VanDenBroeck@Cabinet-Exemple.be"),
        first_name="Élodie",
        last_name="Van den Broeck-Núñez",
        job_title="Médecin généraliste",
        created_at=datetime(2025, 3, 30, 1, 30, tzinfo=timezone(timedelta(hours=2))),
        password_hash=fast_hasher().hash("Vrai-Cheval-Agrafe-42"),
    )
    former = sample_user(status=UserStatus.DEACTIVATED, version=3)
    _add_users(store, owner, doctor, former)

    store.upgrade_schema()

    store.check_schema()
    # The table is the same but for the kind of account that 0006_devices added, last: the
    # accounts stored before it are people's (its server default).
    upgraded = _layout(store)["practiceid_users"]
    assert upgraded["columns"][-1][0] == "kind"
    assert {**upgraded, "columns": upgraded["columns"][:-1]} == users_table_at_first
    assert {u.kind for u in (owner, doctor, former)} == {AccountKind.PERSON}
    assert _users(store) == sorted([owner, doctor, former], key=lambda u: u.login.key)
    with store.unit_of_work() as uow:
        assert uow.users.get(doctor.id) == doctor
        assert uow.users.find_by_login(Login("dr.van-den-broeck")) == doctor
        assert uow.users.get(former.id) == former

    access = AccessService(unit_of_work=store.unit_of_work, clock=ManualClock())
    profiles = ProfileService(access=access)
    organisation = access.found_organisation(
        owner=owner.id, name="Groupe de l'Exemple", organisation_id=OrganisationId("groupe")
    )
    establishment = access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Cabinet de l'Exemple",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=EstablishmentId("cabinet"),
    )
    added = access.add_member(
        actor=owner.id,
        establishment_id=establishment.id,
        email="elodie.vandenbroeck@cabinet-exemple.be",
        roles=("physician",),
    )
    # The account predates the establishment: the doctor edits their own data (self service).
    practitioner = profiles.save_practitioner(
        actor=doctor.id,
        establishment_id=establishment.id,
        user_id=doctor.id,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": sample_inami("003")},
        addresses=[sample_workplace()],
    )
    profile = profiles.save_establishment_profile(
        actor=owner.id,
        establishment_id=establishment.id,
        name="Cabinet de l'Exemple",
        street="Rue de l'Exemple 1",
        postal_code="5000",
        city="Namur",
        country="BE",
    )

    # The user stored before the upgrade was attached, not duplicated.
    assert not added.created_user
    assert added.user == doctor
    with store.unit_of_work() as uow:
        assert uow.organisations.get(organisation.id) == organisation
        assert uow.establishments.get(establishment.id).name == "Cabinet de l'Exemple"
        assert uow.memberships.get(establishment.id, doctor.id) == added.membership
        assert [m.user_id for m in uow.memberships.list_for_user(doctor.id)] == [doctor.id]
        assert uow.practitioners.get(doctor.id) == practitioner
        assert uow.establishment_profiles.find(establishment.id) == profile
        assert len(uow.users.list()) == 3
    assert access.access(doctor.id, establishment.id).denial is None
    assert profiles.report_header(actor=doctor.id, establishment_id=establishment.id).name == (
        "Cabinet de l'Exemple"
    )


# -- 4. revision checks -----------------------------------------------------------------------


def test_an_empty_database_has_no_revision_and_a_created_one_has_schema_revision(new_store):
    store = new_store()
    assert store.schema_revision() is None

    store.create_schema()

    assert store.schema_revision() == SCHEMA_REVISION
    store.check_schema()


def test_a_database_that_does_not_exist_yet_has_no_revision_and_create_schema_makes_it(
    new_store,
):
    store = new_store(created=False)  # no SQLite file, no PostgreSQL schema yet
    assert store.schema_revision() is None

    store.create_schema()

    assert store.schema_revision() == SCHEMA_REVISION
    assert _practiceid_tables(store) == ALL_TABLES


@pytest.mark.parametrize("revision", [None, FIRST])
def test_check_schema_refuses_a_database_not_at_schema_revision(new_store, revision):
    store = new_store()
    if revision is not None:
        store.upgrade_schema(revision)

    with pytest.raises(SchemaMismatch) as raised:
        store.check_schema()

    assert raised.value.code == "storage.schema_mismatch"
    assert raised.value.params == {"found": revision, "expected": SCHEMA_REVISION}


def test_check_schema_passes_at_schema_revision_reached_by_upgrades(new_store):
    store = new_store()
    store.upgrade_schema(FIRST)
    store.upgrade_schema()

    store.check_schema()


def test_create_schema_on_a_database_at_an_older_revision_refuses_and_changes_nothing(new_store):
    store = new_store()
    store.upgrade_schema(FIRST)
    _add_users(store, sample_user())
    before = _state(store)

    with pytest.raises(SchemaMismatch) as raised:
        store.create_schema()

    assert raised.value.params == {"found": FIRST, "expected": SCHEMA_REVISION}
    assert _state(store) == before


def test_create_schema_twice_is_harmless(new_store):
    store = new_store()
    store.create_schema()
    _add_users(store, sample_user())
    before = _state(store)

    store.create_schema()

    assert _state(store) == before
    store.check_schema()


def test_upgrade_schema_on_a_current_database_changes_nothing(new_store):
    store = new_store()
    store.create_schema()
    _add_users(store, sample_user())
    before = _state(store)

    store.upgrade_schema()

    assert _state(store) == before


@pytest.mark.parametrize(
    "call",
    [SqlStore.check_schema, SqlStore.create_schema, SqlStore.upgrade_schema],
    ids=["check_schema", "create_schema", "upgrade_schema"],
)
def test_a_revision_from_a_newer_practiceid_is_refused_and_left_alone(new_store, call):
    store = new_store()
    store.create_schema()
    _add_users(store, sample_user())
    _stamp(store, UNKNOWN)
    before = _state(store)

    with pytest.raises(SchemaMismatch) as raised:
        call(store)

    assert raised.value.params == {"found": UNKNOWN, "expected": SCHEMA_REVISION}
    assert _state(store) == before
    assert store.schema_revision() == UNKNOWN


def test_upgrade_schema_to_an_unknown_target_is_a_coded_error(new_store):
    store = new_store()
    before = _state(store)

    with pytest.raises(PracticeIdError):
        store.upgrade_schema("9999_no_such_revision")

    assert _state(store) == before


@pytest.mark.parametrize(
    "build",
    [SqlStore.create_schema, SqlStore.upgrade_schema],
    ids=["create_schema", "upgrade_schema"],
)
def test_the_hosts_tables_and_its_own_alembic_history_are_left_alone(new_store, build):
    store = new_store()
    _add_host_tables(store)
    host_before = _host_rows(store)
    host_layout = {name: _layout(store)[name] for name in ("host_patients", "alembic_version")}
    assert store.schema_revision() is None  # the host's alembic_version is not practiceid's

    build(store)

    assert store.schema_revision() == SCHEMA_REVISION
    assert _host_rows(store) == host_before
    after = _layout(store)
    assert {name: after[name] for name in host_layout} == host_layout
    assert set(after) == ALL_TABLES | set(host_layout)
    store.check_schema()


def test_upgrading_from_the_first_revision_leaves_the_hosts_tables_alone(new_store):
    store = new_store()
    store.upgrade_schema(FIRST)
    _add_host_tables(store)
    host_before = _host_rows(store)

    store.upgrade_schema()

    assert _host_rows(store) == host_before
    store.check_schema()


# -- 5. a failed upgrade changes nothing --------------------------------------------------------


def test_an_upgrade_failing_in_the_database_midway_changes_nothing(new_store):
    store = new_store()
    store.upgrade_schema(FIRST)
    _add_users(store, sample_user())
    # The host happens to have a table the last migration step creates: the step fails after
    # the revision's other tables were created.
    clash = sa.Table("practiceid_memberships", sa.MetaData(), sa.Column("note", sa.String(20)))
    with store.engine.begin() as connection:
        clash.create(connection)
        connection.execute(clash.insert(), [{"note": "the host's"}])
    before = _state(store)

    with pytest.raises(StorageError) as raised:
        store.upgrade_schema()

    # A table that already exists is the schema's problem, not an unreachable database.
    assert not isinstance(raised.value, StorageUnavailable)
    assert _state(store) == before
    assert store.schema_revision() == FIRST

    with store.engine.begin() as connection:
        clash.drop(connection)
    store.upgrade_schema()
    store.check_schema()


def test_create_schema_refuses_a_table_of_its_own_name_that_it_did_not_make(new_store):
    # Like upgrade_schema: a table in the way is an error, not a table to adopt and stamp.
    store = new_store()
    clash = sa.Table("practiceid_memberships", sa.MetaData(), sa.Column("note", sa.String(20)))
    with store.engine.begin() as connection:
        clash.create(connection)
    before = _state(store)

    with pytest.raises(StorageError):  # SchemaMismatch is one too
        store.create_schema()

    assert _state(store) == before
    assert store.schema_revision() is None


def test_an_upgrade_interrupted_by_an_exception_midway_changes_nothing(new_store, monkeypatch):
    store = new_store()
    store.upgrade_schema(FIRST)
    _add_users(store, sample_user())
    before = _state(store)
    create_index = alembic.op.create_index

    def failing_create_index(name, *args, **kwargs):
        # The last index of the last revision: every table is created by then.
        if name == "ix_practiceid_memberships_user_id":
            raise RuntimeError("the migration stopped here")
        return create_index(name, *args, **kwargs)

    monkeypatch.setattr(alembic.op, "create_index", failing_create_index)

    with pytest.raises(RuntimeError, match="stopped here"):
        store.upgrade_schema()

    assert _state(store) == before
    assert store.schema_revision() == FIRST
    monkeypatch.undo()
    store.upgrade_schema()
    assert _differences(store) == []


# -- 6. errors are coded, never the driver's --------------------------------------------------


def _use_a_unit_of_work(store: SqlStore) -> None:
    with store.unit_of_work() as uow:
        uow.users.list()


STORE_CALLS = {
    "schema_revision": SqlStore.schema_revision,
    "check_schema": SqlStore.check_schema,
    "create_schema": SqlStore.create_schema,
    "upgrade_schema": SqlStore.upgrade_schema,
    "unit_of_work": _use_a_unit_of_work,
}


def _assert_no_driver_error_attached(error: BaseException) -> None:
    assert error.__cause__ is None
    assert error.__suppress_context__


@pytest.mark.parametrize("call", STORE_CALLS.values(), ids=STORE_CALLS.keys())
def test_a_sqlite_file_in_a_missing_directory_raises_a_storage_error(call):
    store = SqlStore.from_url("sqlite:////nonexistent-practiceid-directory/practice.sqlite")
    try:
        with pytest.raises(StorageError) as raised:
            call(store)
    finally:
        store.close()

    assert not isinstance(raised.value, SchemaMismatch)
    assert raised.value.params["driver_error"] == "OperationalError"
    _assert_no_driver_error_attached(raised.value)


@pytest.mark.parametrize("call", STORE_CALLS.values(), ids=STORE_CALLS.keys())
def test_a_postgres_server_that_cannot_be_reached_raises_storage_unavailable(call):
    store = SqlStore.from_url(CLOSED_POSTGRES_PORT, connect_args={"connect_timeout": 2})
    try:
        with pytest.raises(StorageUnavailable) as raised:
            call(store)
    finally:
        store.close()

    assert raised.value.code == "storage.unavailable"
    _assert_no_driver_error_attached(raised.value)


def test_another_database_is_refused_with_invalid_configuration():
    with pytest.raises(InvalidConfiguration) as raised:
        create_engine("mysql://practiceid@127.0.0.1/practice")

    assert raised.value.params == {"option": "url", "backend": "mysql"}


@pytest.mark.parametrize(
    "url",
    ["", "not a database url", "://", "postgresql://postgres@127.0.0.1:port/test"],
)
def test_a_bad_url_is_refused_with_invalid_configuration(url):
    with pytest.raises(InvalidConfiguration) as raised:
        create_engine(url)

    assert raised.value.params["option"] == "url"


def test_a_sqlite_engine_not_made_by_practiceid_is_refused():
    engine = sa.create_engine("sqlite://")
    try:
        with pytest.raises(InvalidConfiguration) as raised:
            SqlStore(engine)
    finally:
        engine.dispose()

    assert raised.value.params == {"option": "engine"}


def test_a_schema_with_sqlite_is_refused_by_create_engine_and_from_url(tmp_path):
    url = f"sqlite:///{tmp_path}/practice.sqlite"
    with pytest.raises(InvalidConfiguration) as from_engine:
        create_engine(url, schema="practiceid")
    with pytest.raises(InvalidConfiguration) as from_url:
        SqlStore.from_url(url, schema="practiceid")

    assert from_engine.value.params == from_url.value.params == {"option": "schema"}


def test_the_store_takes_its_schema_from_its_engine():
    sqlite_engine = create_engine("sqlite://")
    postgres_engine = create_engine(CLOSED_POSTGRES_PORT, schema="practiceid")
    try:
        assert SqlStore(sqlite_engine).schema is None
        assert SqlStore(postgres_engine).schema == "practiceid"
    finally:
        sqlite_engine.dispose()
        postgres_engine.dispose()


NOT_IDENTIFIERS = ["", "bad-name", "1st", "two words", 'x"; SELECT 1; --']


@pytest.mark.parametrize("schema", NOT_IDENTIFIERS, ids=repr)
def test_a_schema_name_that_is_not_an_identifier_is_refused_by_create_engine(schema):
    # No server is needed: the name is refused before any connection.
    with pytest.raises(InvalidConfiguration) as from_engine:
        create_engine(CLOSED_POSTGRES_PORT, schema=schema)
    with pytest.raises(InvalidConfiguration) as from_url:
        SqlStore.from_url(CLOSED_POSTGRES_PORT, schema=schema)

    assert from_engine.value.params == from_url.value.params == {"option": "schema"}
