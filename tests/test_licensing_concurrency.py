"""The license service under concurrent callers: threads on one store (E1, E2).

Several threads call the same use case at once, released together by a barrier: provisioning
one member, sweeping the same due licenses, invoicing with one invoice number, recording one
payment. Whatever the interleaving, the outcome is the one a single caller would get, and
each message is written once. The in-memory store serializes units of work, so there the
outcome must always hold; the same story runs on a SQLite file once the SQL adapter stores
licenses (skipped until then), and the invoice number race on PostgreSQL too (READ
COMMITTED: only the number's reservation, a primary key, keeps two desks from both giving
it). Names and numbers are made up.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from practiceid import (
    IllegalLicenseTransition,
    LicenseKind,
    LicenseRejected,
    LicenseStatus,
    MessageKind,
    PracticeIdError,
    ProductKind,
    UserId,
)
from practiceid.adapters.sql import SqlStore
from practiceid.establishments import EstablishmentId
from practiceid.ports import LicenseUnitOfWorkFactory
from practiceid.testing import SampleLicensing, sample_inami, sample_licensing, sample_workplace

from .conftest import POSTGRES_SKIP, POSTGRES_URL

THREADS = 8
BRUSSELS = ZoneInfo("Europe/Brussels")
FIRST_NOTICE = datetime.combine(date(2026, 1, 20), time(), tzinfo=BRUSSELS).astimezone(UTC)
PROVISIONAL_END = datetime.combine(date(2026, 2, 19), time(), tzinfo=BRUSSELS).astimezone(UTC)


@pytest.fixture(params=["memory", "sqlite"])
def factory(request, tmp_path) -> Iterator[LicenseUnitOfWorkFactory | None]:
    """The unit of work of the store under test: None is the in-memory default."""
    if request.param == "memory":
        yield None
        return
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'licenses.sqlite'}")
    store.create_schema()
    try:
        yield store.unit_of_work
    finally:
        store.close()


@pytest.fixture
def postgres(request) -> LicenseUnitOfWorkFactory:
    """The unit of work of the run's PostgreSQL schema, emptied for the test."""
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    return request.getfixturevalue("fresh_postgres")()


def practice(factory: LicenseUnitOfWorkFactory | None) -> SampleLicensing:
    return sample_licensing(ProductKind.GENERAL_PRACTICE, unit_of_work=factory)


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released at once; return each result or the error it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=10)
        try:
            return call()
        except PracticeIdError as error:
            return error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls, timeout=60))


def add_gp(p: SampleLicensing, n: int, establishment_id: EstablishmentId | None = None) -> UserId:
    where = p.establishment.id if establishment_id is None else establishment_id
    uid = p.access.add_member(
        actor=p.owner.id,
        establishment_id=where,
        email=f"medecin.{n}@cabinet-exemple.be",
        roles=["physician"],
        first_name="Hugo",
        last_name=f"Exemple{n}",
    ).user.id
    p.profiles.save_practitioner(
        actor=p.owner.id,
        establishment_id=where,
        user_id=uid,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": sample_inami()},
        addresses=[sample_workplace()],
    )
    return uid


def outbox(p: SampleLicensing):
    with p.unit_of_work() as uow:
        return list(uow.outbox.list())


def provision(p: SampleLicensing, uid: UserId, establishment_id: EstablishmentId | None = None):
    return p.licenses.provision(
        actor=p.owner.id,
        establishment_id=p.establishment.id if establishment_id is None else establishment_id,
        user_id=uid,
    )


# -- provisioning (E1) ----------------------------------------------------------------------------


def test_e1_eight_callers_provisioning_one_member_make_one_license(factory):
    p = practice(factory)
    results = together([lambda: provision(p, p.physician.id)] * THREADS)
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(set(results)) == 1
    [seat] = set(results)
    assert (seat.kind, seat.status) == (LicenseKind.PHYSICIAN, LicenseStatus.PROVISIONAL)
    with p.unit_of_work() as uow:
        assert list(uow.licenses.list_for_user(p.physician.id)) == [seat]


def test_e1_eight_callers_provisioning_eight_members_make_eight_licenses(factory):
    p = practice(factory)
    uids = [add_gp(p, n) for n in range(THREADS)]
    results = together([lambda uid=uid: provision(p, uid) for uid in uids])
    assert [r.user_id for r in results] == uids
    with p.unit_of_work() as uow:
        assert sorted(
            lic.user_id for lic in uow.licenses.list_for_establishment(p.establishment.id)
        ) == sorted(uids)


# -- the sweep (E1) ------------------------------------------------------------------------------


def test_eight_concurrent_sweeps_send_each_notice_and_expiry_exactly_once(factory):
    p = practice(factory)
    uids = [p.physician.id, *(add_gp(p, n) for n in range(5))]
    keys = {provision(p, uid).key for uid in uids}
    for at, kind in (
        (FIRST_NOTICE, MessageKind.LICENSE_EXPIRING),
        (PROVISIONAL_END, MessageKind.LICENSE_EXPIRED),
    ):
        p.clock.set(at)
        reports = together([p.licenses.run_due] * THREADS)
        assert not [r for r in reports if isinstance(r, Exception)]
        done = [key for r in reports for key in (*r.notified, *r.expired)]
        assert Counter(done) == Counter(keys)  # each license by exactly one sweep
        assert Counter(m.user_id for m in outbox(p) if m.kind is kind) == Counter(uids)
    messages = outbox(p)
    keys_written = [m.idempotency_key for m in messages]
    assert len(keys_written) == len(set(keys_written)) == 2 * len(uids)
    assert len(p.deliver().sent) == len(messages)


def test_concurrent_sweeps_and_a_late_payment_report_the_late_activation_once(factory):
    p = practice(factory)
    provision(p, p.physician.id)
    p.licenses.request_activation(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )
    p.licenses.invoice(actor=p.desk.id, establishment_id=p.establishment.id, invoice_number="F-1")
    p.licenses.record_payment(actor=p.desk.id, invoice_number="F-1")
    p.clock.set(datetime.combine(date(2026, 2, 6), time(), tzinfo=BRUSSELS).astimezone(UTC))
    activation = lambda: p.licenses.activate(  # noqa: E731 - one call among sweeps
        actor=p.desk.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )
    results = together([activation, *[p.licenses.run_due] * (THREADS - 1)])
    assert not [r for r in results if isinstance(r, Exception)]
    late = [m for m in outbox(p) if m.kind is MessageKind.LICENSE_ACTIVATION_LATE]
    assert [m.recipient for m in late] == [p.owner.email.address]


# -- the desk (E2) ---------------------------------------------------------------------------------


def test_one_invoice_number_given_to_two_establishments_at_once_is_used_once(factory):
    p = practice(factory)
    second = p.access.open_establishment(
        actor=p.owner.id,
        organisation_id=p.establishment.organisation_id,
        name="Cabinet du Parc",
        product=ProductKind.GENERAL_PRACTICE,
    ).id
    other = add_gp(p, 1, second)
    for where, uid in ((p.establishment.id, p.physician.id), (second, other)):
        provision(p, uid, where)
        p.licenses.request_activation(actor=p.owner.id, establishment_id=where, user_id=uid)
    places = [p.establishment.id, second] * (THREADS // 2)
    results = together(
        [
            lambda where=where: p.licenses.invoice(
                actor=p.desk.id, establishment_id=where, invoice_number="F-2026-0042"
            )
            for where in places
        ]
    )
    invoiced = [r for r in results if not isinstance(r, Exception)]
    assert len(invoiced) == 1
    for refused in (r for r in results if isinstance(r, Exception)):
        assert isinstance(refused, LicenseRejected), refused
        assert refused.codes == ("license.invoice_number_used",)
    [bill] = invoiced
    with p.unit_of_work() as uow:
        on_it = list(uow.licenses.with_invoice("F-2026-0042"))
    assert [lic.key for lic in on_it] == [(bill.establishment_id, bill.lines[0].user_id)]


@pytest.mark.postgres
def test_one_invoice_number_given_in_eight_establishments_at_once_on_postgres_is_used_once(
    postgres,
):
    p = practice(postgres)
    places, uids = [p.establishment.id], [p.physician.id]
    for n in range(1, THREADS):
        where = p.access.open_establishment(
            actor=p.owner.id,
            organisation_id=p.establishment.organisation_id,
            name=f"Cabinet du Parc {n}",
            product=ProductKind.GENERAL_PRACTICE,
        ).id
        places.append(where)
        uids.append(add_gp(p, n, where))
    for where, uid in zip(places, uids, strict=True):
        provision(p, uid, where)
        p.licenses.request_activation(actor=p.owner.id, establishment_id=where, user_id=uid)
    results = together(
        [
            lambda where=where: p.licenses.invoice(
                actor=p.desk.id, establishment_id=where, invoice_number="F-2026-0042"
            )
            for where in places
        ]
    )
    invoiced = [r for r in results if not isinstance(r, Exception)]
    assert len(invoiced) == 1, results
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == THREADS - 1
    for error in refused:
        assert isinstance(error, LicenseRejected), error
        assert error.codes == ("license.invoice_number_used",)
    [bill] = invoiced
    with p.unit_of_work() as uow:
        on_it = list(uow.licenses.with_invoice("F-2026-0042"))
        requested = list(uow.licenses.with_status(LicenseStatus.REQUESTED))
    assert [lic.key for lic in on_it] == [(bill.establishment_id, bill.lines[0].user_id)]
    assert len(requested) == THREADS - 1  # the others are still waiting for an invoice


def test_eight_callers_recording_one_payment_pay_it_once(factory):
    p = practice(factory)
    provision(p, p.physician.id)
    p.licenses.request_activation(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )
    p.licenses.invoice(actor=p.desk.id, establishment_id=p.establishment.id, invoice_number="F-7")
    results = together(
        [lambda: p.licenses.record_payment(actor=p.desk.id, invoice_number="F-7")] * THREADS
    )
    paid = [r for r in results if not isinstance(r, Exception)]
    assert len(paid) == 1
    assert all(isinstance(r, IllegalLicenseTransition) for r in results if r not in paid)
    assert paid[0][0].status is LicenseStatus.PAID


def test_eight_callers_activating_one_license_activate_it_once(factory):
    p = practice(factory)
    provision(p, p.physician.id)
    p.licenses.request_activation(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )
    p.licenses.invoice(actor=p.desk.id, establishment_id=p.establishment.id, invoice_number="F-8")
    p.licenses.record_payment(actor=p.desk.id, invoice_number="F-8")
    results = together(
        [
            lambda: p.licenses.activate(
                actor=p.desk.id, establishment_id=p.establishment.id, user_id=p.physician.id
            )
        ]
        * THREADS
    )
    active = [r for r in results if not isinstance(r, Exception)]
    assert len(active) == 1
    assert all(isinstance(r, IllegalLicenseTransition) for r in results if r not in active)
    activated = [m for m in outbox(p) if m.kind is MessageKind.LICENSE_ACTIVATED]
    assert len(activated) == 1
