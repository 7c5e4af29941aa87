"""The SQL adapter answers every failure with a coded error, never a driver exception."""

from __future__ import annotations

import sqlite3

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from practiceid.adapters.sql import SqlStore
from practiceid.adapters.sql._store import translate
from practiceid.errors import (
    EstablishmentNotFound,
    MembershipNotFound,
    OrganisationNotFound,
    PractitionerNotFound,
    StaleRecord,
    StorageError,
    StorageUnavailable,
    TransactionConflict,
    UnitOfWorkError,
    UnknownReference,
    UserNotFound,
)
from practiceid.establishment_profiles import EstablishmentProfile
from practiceid.establishments import (
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
)
from practiceid.memberships import Membership, MembershipStatus
from practiceid.policies.contact import Address, AddressKind
from practiceid.policies.professions import Profession
from practiceid.practitioners import Practitioner
from practiceid.testing import sample_user
from practiceid.users import UserId

OPENED = sample_user().created_at
ODD_IDS = [None, ["a", "list"], 42, "nul\x00inside"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        sqlite_store = SqlStore.from_url(f"sqlite:///{tmp_path}/errors.db")
        sqlite_store.create_schema()
        yield sqlite_store
        sqlite_store.close()
    else:
        fresh = request.getfixturevalue("fresh_postgres")
        fresh()
        yield request.getfixturevalue("postgres_store")


def _organisation(owner: UserId, organisation_id: str = "org") -> Organisation:
    return Organisation.found(
        OrganisationId(organisation_id), name="Groupe", owner=owner, created_at=OPENED
    )


def _establishment(organisation_id: str = "org", establishment_id: str = "est") -> Establishment:
    return Establishment.open(
        EstablishmentId(establishment_id),
        organisation_id=OrganisationId(organisation_id),
        name="Cabinet",
        product=ProductKind.GENERAL_PRACTICE,
        created_at=OPENED,
    )


def _practice(store: SqlStore) -> UserId:
    owner = sample_user()
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.organisations.add(_organisation(owner.id))
        uow.establishments.add(_establishment())
        uow.commit()
    return owner.id


# -- references to records that are not stored (foreign keys) -----------------------------


def test_an_organisation_owned_by_an_unknown_user_is_an_unknown_reference(store):
    with store.unit_of_work() as uow:
        with pytest.raises(UnknownReference) as raised:
            uow.organisations.add(_organisation(UserId("ghost")))
        assert raised.value.code == "record.unknown_reference"
        assert raised.value.params == {"entity": "organisation", "id": "org"}
        assert uow.organisations.list() == []


def test_an_update_giving_an_organisation_an_unknown_owner_changes_nothing(store):
    owner = _practice(store)
    with store.unit_of_work() as uow:
        stored = uow.organisations.get(OrganisationId("org"))
        with pytest.raises(UnknownReference):
            uow.organisations.update(stored.with_owners({owner, UserId("ghost")}))
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.organisations.get(OrganisationId("org")) == stored


def test_records_referring_to_unknown_records_are_refused_with_a_code(store):
    owner = _practice(store)
    profile = EstablishmentProfile(
        establishment_id=EstablishmentId("nowhere"),
        address=Address(AddressKind.WORKPLACE, "Rue 1", "5000", "Namur", "BE"),
        updated_at=OPENED,
    )
    attempts = [
        lambda uow: uow.establishments.add(_establishment("no-such-org", "est-2")),
        lambda uow: uow.memberships.add(
            Membership.join(UserId("ghost"), EstablishmentId("est"), roles=[], created_at=OPENED)
        ),
        lambda uow: uow.memberships.add(
            Membership.join(owner, EstablishmentId("nowhere"), roles=[], created_at=OPENED)
        ),
        lambda uow: uow.practitioners.add(
            Practitioner(
                user_id=UserId("ghost"),
                profession=Profession.NURSE,
                country="BE",
                created_at=OPENED,
            )
        ),
        lambda uow: uow.establishment_profiles.add(profile),
    ]
    with store.unit_of_work() as uow:
        for attempt in attempts:
            with pytest.raises(UnknownReference):
                attempt(uow)
        assert uow.memberships.list_for_user(owner) == []
        assert uow.practitioners.find(UserId("ghost")) is None


def test_an_update_of_an_establishment_to_an_unknown_organisation_is_refused(store):
    _practice(store)
    with store.unit_of_work() as uow:
        stored = uow.establishments.get(EstablishmentId("est"))
        with pytest.raises(UnknownReference):
            uow.establishments.update(
                attrs.evolve(stored, organisation_id=OrganisationId("no-such-org"))
            )


# -- ids of odd types name nothing ---------------------------------------------------------


@pytest.mark.parametrize("odd", ODD_IDS, ids=repr)
def test_odd_ids_name_no_record(store, odd):
    _practice(store)
    with store.unit_of_work() as uow:
        with pytest.raises(UserNotFound):
            uow.users.get(odd)
        with pytest.raises(OrganisationNotFound):
            uow.organisations.get(odd)
        with pytest.raises(EstablishmentNotFound):
            uow.establishments.get(odd)
        with pytest.raises(MembershipNotFound):
            uow.memberships.get(odd, odd)
        with pytest.raises(PractitionerNotFound):
            uow.practitioners.get(odd)
        assert uow.memberships.find(EstablishmentId("est"), odd) is None
        assert uow.memberships.list_for_user(odd) == []
        assert uow.memberships.list_for_establishment(odd) == []
        if odd is not None:  # None means "no filter"
            assert uow.organisations.list(owner=odd) == []
            assert uow.establishments.list(organisation_id=odd) == []
        assert uow.establishment_profiles.find(odd) is None


def test_list_filters_by_status_given_as_text(store):
    owner = _practice(store)
    with store.unit_of_work() as uow:
        uow.memberships.add(
            Membership.join(owner, EstablishmentId("est"), roles=[], created_at=OPENED)
        )
        uow.commit()
        assert (
            len(uow.memberships.list_for_establishment(EstablishmentId("est"), status="active"))
            == 1
        )  # type: ignore[arg-type]
        assert (
            uow.memberships.list_for_establishment(
                EstablishmentId("est"), status=MembershipStatus.DEACTIVATED
            )
            == []
        )


# -- the unit of work ----------------------------------------------------------------------


def test_a_unit_of_work_cannot_be_entered_twice_or_used_after_its_block(store):
    uow = store.unit_of_work()
    with uow:
        with pytest.raises(UnitOfWorkError), uow:
            pass
        uow.users.list()
    with pytest.raises(UnitOfWorkError):
        uow.commit()
    with pytest.raises(UnitOfWorkError):
        uow.rollback()


def test_a_unit_of_work_can_be_entered_again_after_its_block(store):
    uow = store.unit_of_work()
    with uow:
        uow.users.add(sample_user())
        uow.commit()
    with uow:
        assert len(uow.users.list()) == 1


def test_a_failed_commit_is_a_coded_error_and_rolls_back(store, monkeypatch):
    uow = store.unit_of_work()
    with uow:
        uow.users.add(sample_user())
        connection = uow.active()

        def fail() -> None:
            raise sa_exc.OperationalError("COMMIT", {}, ConnectionError("server went away"))

        monkeypatch.setattr(connection, "commit", fail)
        with pytest.raises(StorageUnavailable) as raised:
            uow.commit()
        assert raised.value.params["driver_error"] == "ConnectionError"
    with store.unit_of_work() as fresh:
        assert fresh.users.list() == []


def test_a_failed_read_is_a_coded_error_without_the_drivers_message(store):
    with store.unit_of_work() as uow:
        uow.active().exec_driver_sql(f"DROP TABLE {_quoted('practiceid_establishment_profiles')}")
        with pytest.raises(StorageError) as raised:
            uow.establishment_profiles.find(EstablishmentId("est"))
        assert "practiceid_establishment_profiles" not in repr(raised.value)
        assert not isinstance(raised.value, StorageUnavailable)


def _quoted(name: str) -> str:
    return f'"{name}"'


def test_a_database_that_cannot_be_reached_is_unavailable(tmp_path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    with pytest.raises(StorageUnavailable) as raised, store.unit_of_work() as uow:
        uow.users.list()
    assert raised.value.code == "storage.unavailable"
    store.close()


# -- translation of driver failures ---------------------------------------------------------


class _Coded(Exception):
    def __init__(self, sqlstate: str | None = None, sqlite_errorname: str | None = None):
        super().__init__("value 'secret@example.be' violates something")
        self.sqlstate = sqlstate
        if sqlite_errorname is not None:
            self.sqlite_errorname = sqlite_errorname


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sa_exc.OperationalError("x", {}, _Coded("40001")), TransactionConflict),
        (sa_exc.OperationalError("x", {}, _Coded("40P01")), TransactionConflict),
        (sa_exc.IntegrityError("x", {}, _Coded("40001")), TransactionConflict),
        (sa_exc.OperationalError("x", {}, _Coded("08006")), StorageUnavailable),
        (sa_exc.OperationalError("x", {}, _Coded("57P01")), StorageUnavailable),
        (sa_exc.OperationalError("x", {}, _Coded("55P03")), StorageUnavailable),
        (sa_exc.OperationalError("x", {}, _Coded()), StorageUnavailable),
        (sa_exc.OperationalError("x", {}, _Coded(None, "SQLITE_BUSY")), StorageUnavailable),
        (sa_exc.OperationalError("x", {}, _Coded(None, "SQLITE_ERROR")), StorageError),
        (sa_exc.ProgrammingError("x", {}, _Coded("42P01")), StorageError),
        (sa_exc.InterfaceError("x", {}, _Coded()), StorageUnavailable),
        (sa_exc.TimeoutError("pool exhausted"), StorageUnavailable),
        (sa_exc.ArgumentError("bad"), StorageError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__,
)
def test_driver_failures_are_translated_by_kind(error, expected):
    translated = translate(error, entity="membership", record_id="est/u1")
    assert type(translated) is expected
    assert "secret" not in repr(translated)
    assert "secret" not in str(translated)


def test_a_transaction_conflict_is_a_stale_record_the_services_retry():
    conflict = translate(
        sa_exc.OperationalError("x", {}, _Coded("40P01")), entity="membership", record_id="e/u"
    )
    assert isinstance(conflict, StaleRecord)
    assert conflict.code == "storage.transaction_conflict"
    assert conflict.params == {
        "entity": "membership",
        "id": "e/u",
        "driver_error": "_Coded",
        "sqlstate": "40P01",
    }


def test_sqlite_names_its_result_codes():
    # The translation relies on Python >= 3.11's sqlite3 exception attributes.
    connection = sqlite3.connect(":memory:")
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            connection.execute("SELECT * FROM nowhere")
        assert raised.value.sqlite_errorname == "SQLITE_ERROR"
    finally:
        connection.close()


def test_an_engine_can_be_shared_with_the_host(tmp_path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path}/shared.db")
    store.create_schema()
    with store.engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert "practiceid_users" in tables
    store.close()
