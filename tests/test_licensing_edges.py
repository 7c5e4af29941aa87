"""LicenseService's less travelled paths: reruns, configuration mistakes, odd stored data."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from practiceid import (
    DuplicateRecord,
    InvalidConfiguration,
    LicenseKind,
    LicenseRejected,
    LicenseService,
    Price,
    PricePer,
    PriceTable,
    ProductKind,
    StaleRecord,
)
from practiceid.testing import SAMPLE_PRICES, SampleLicensing, sample_licensing, sample_workplace
from practiceid.users import UserId


class _Flaky:
    """A unit-of-work factory whose next commits raise the given errors, one per unit of work."""

    def __init__(self, practice: SampleLicensing, *errors: Exception) -> None:
        self._factory = practice.unit_of_work
        self.errors = list(errors)

    def __call__(self):
        uow = self._factory()
        if self.errors:
            error = self.errors.pop(0)

            def commit() -> None:
                raise error

            uow.commit = commit
        return uow


def _service(practice: SampleLicensing, factory, **options) -> LicenseService:
    return LicenseService(
        unit_of_work=factory,
        access=practice.access,
        clock=practice.clock,
        prices=options.pop("prices", SAMPLE_PRICES),
        **options,
    )


def _provision(practice: SampleLicensing, service: LicenseService):
    return service.provision(
        actor=practice.owner.id,
        establishment_id=practice.establishment.id,
        user_id=practice.physician.id,
    )


@pytest.mark.parametrize(
    "error",
    [
        StaleRecord(entity="license"),
        DuplicateRecord(entity="license", id="a license provisioned meanwhile"),
    ],
    ids=["stale", "provisioned-meanwhile"],
)
def test_a_use_case_that_lost_a_race_runs_again(error):
    practice = sample_licensing()
    flaky = _Flaky(practice, error)
    seat = _provision(practice, _service(practice, flaky))
    assert flaky.errors == []  # the first unit of work failed, the rerun stored the license
    assert seat.status == "provisional"


def test_a_duplicate_of_anything_else_is_not_retried():
    practice = sample_licensing()
    other = DuplicateRecord(entity="message", id="license:…")
    flaky = _Flaky(practice, other, other, other)
    with pytest.raises(DuplicateRecord) as raised:
        _provision(practice, _service(practice, flaky))
    assert raised.value is other
    # One attempt only, then the refusal's own unit of work (F3): a rerun would take two.
    assert flaky.errors == [other]


def test_the_last_rerun_gives_up_with_the_conflict():
    practice = sample_licensing()
    errors = [StaleRecord(entity="license") for _ in range(3)]
    flaky = _Flaky(practice, *errors)
    with pytest.raises(StaleRecord):
        _provision(practice, _service(practice, flaky, retries=3))
    assert flaky.errors == []


def test_an_invoice_in_two_currencies_is_a_configuration_mistake():
    practice = sample_licensing(
        ProductKind.VETERINARY,
        prices=PriceTable(
            {
                (ProductKind.VETERINARY, LicenseKind.PHYSICIAN): Price("480.00"),
                (ProductKind.VETERINARY, LicenseKind.LOCUM): Price(
                    "35.00", currency="CHF", per=PricePer.MONTH
                ),
            }
        ),
    )
    where, owner = practice.establishment.id, practice.owner.id
    locum = practice.access.add_member(
        actor=owner,
        establishment_id=where,
        email="l.remplacant@cabinet-exemple.be",
        roles=["physician"],
        first_name="Louis",
        last_name="Remplaçant",
    ).user
    practice.profiles.save_practitioner(
        actor=owner,
        establishment_id=where,
        user_id=locum.id,
        profession="veterinarian",
        country="BE",
        addresses=[sample_workplace()],
    )
    licenses = practice.licenses
    licenses.provision(actor=owner, establishment_id=where, user_id=practice.physician.id)
    licenses.provision(actor=owner, establishment_id=where, user_id=locum.id, kind="locum")
    for user_id in (practice.physician.id, locum.id):
        licenses.request_activation(actor=owner, establishment_id=where, user_id=user_id)
    with pytest.raises(InvalidConfiguration) as raised:
        licenses.preview_invoice(actor=practice.desk.id, establishment_id=where)
    assert raised.value.params["field"] == "prices"


@pytest.mark.parametrize(
    "now",
    [datetime(2026, 3, 1, 9, 0), "2026-03-01T09:00:00+00:00"],  # noqa: DTZ001 - the point
    ids=["naive", "text"],
)
def test_the_sweep_refuses_a_moment_that_is_not_an_aware_datetime(now):
    practice = sample_licensing()
    with pytest.raises(LicenseRejected) as raised:
        practice.licenses.run_due(now)
    assert raised.value.violations[0].code == "license.invalid_now"


def test_the_same_kind_again_changes_nothing():
    practice = sample_licensing()
    seat = _provision(practice, practice.licenses)
    again = practice.licenses.set_kind(
        actor=practice.owner.id,
        establishment_id=practice.establishment.id,
        user_id=practice.physician.id,
        kind=LicenseKind.PHYSICIAN,
    )
    assert again == seat  # not even the version moved


def test_a_late_report_whose_requester_is_unknown_goes_to_the_member():
    practice = sample_licensing()
    where, desk = practice.establishment.id, practice.desk.id
    _provision(practice, practice.licenses)
    practice.licenses.request_activation(
        actor=practice.owner.id, establishment_id=where, user_id=practice.physician.id
    )
    practice.licenses.invoice(actor=desk, establishment_id=where, invoice_number="F-9")
    practice.licenses.record_payment(actor=desk, invoice_number="F-9")
    with practice.unit_of_work() as uow:  # a request stored by another tool, naming nobody
        seat = uow.licenses.get(where, practice.physician.id)
        assert seat.pending is not None
        nobody = attrs.evolve(seat.pending, requested_by=UserId("no-such-user"))
        uow.licenses.update(attrs.evolve(seat, pending=nobody))
        uow.commit()
    practice.clock.advance(days=40)
    assert practice.licenses.run_due().late == ((where, practice.physician.id),)
    late = [
        d.message for d in practice.deliver().sent if d.message.kind == "license_activation_late"
    ]
    assert [m.recipient for m in late] == [practice.physician.email.address]
