"""The license service by requirement: provisional licenses, requests, invoices, payments,
activation, notices and the licensed acts (E1-E4, B4).

Each test runs a practice in memory (:func:`~practiceid.testing.sample_licensing`): an owner
who administers it, a general practitioner with an INAMI number, a secretary, and the
vendor's license desk (support staff holding ``licenses.administer``). The manual clock
starts on Monday 5 January 2026 at 10:00 in Brussels, so the provisional 45 days run through
18 February. ``deliver`` runs the dispatcher when a test looks at what was sent. Names,
numbers and addresses are made up.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest

from practiceid import (
    AccessRejected,
    EstablishmentNotFound,
    IllegalLicenseTransition,
    LicenseKind,
    LicenseNotFound,
    LicenseRejected,
    LicenseRequestIncomplete,
    LicenseRequired,
    LicenseSettings,
    LicenseStatus,
    MembershipNotFound,
    MessageKind,
    Permission,
    PermissionDenied,
    PracticeIdError,
    PriceTable,
    ProductKind,
    Reason,
    Target,
    UserId,
    decide,
)
from practiceid.policies import license as policy
from practiceid.testing import SampleLicensing, sample_inami, sample_licensing, sample_workplace

S = LicenseStatus
K = LicenseKind
M = MessageKind
BRUSSELS = ZoneInfo("Europe/Brussels")
US = timedelta(microseconds=1)
DESK = "licences@editeur-exemple.be"
INVOICE = "F-2026-0001"
SIGN = Permission.CONSULTATIONS_SIGN


def midnight(day: date) -> datetime:
    """The instant ``day`` starts in Brussels, in UTC."""
    return datetime.combine(day, time(), tzinfo=BRUSSELS).astimezone(UTC)


PROVISIONAL_END = midnight(date(2026, 2, 19))  # 45 days counting Monday 5 January
NOTICES = [midnight(date(2026, 1, 20)), midnight(date(2026, 2, 12)), midnight(date(2026, 2, 18))]


# -- helpers --------------------------------------------------------------------------------


def practice(product: ProductKind = ProductKind.GENERAL_PRACTICE, **options) -> SampleLicensing:
    return sample_licensing(product, **options)


def provision(p: SampleLicensing, user_id: UserId | None = None, **options):
    return p.licenses.provision(
        actor=options.pop("actor", p.owner.id),
        establishment_id=p.establishment.id,
        user_id=p.physician.id if user_id is None else user_id,
        **options,
    )


def request(p: SampleLicensing, user_id: UserId | None = None, *, actor: UserId | None = None):
    return p.licenses.request_activation(
        actor=p.owner.id if actor is None else actor,
        establishment_id=p.establishment.id,
        user_id=p.physician.id if user_id is None else user_id,
    )


def invoice(p: SampleLicensing, number: str = INVOICE, **options):
    return p.licenses.invoice(
        actor=p.desk.id, establishment_id=p.establishment.id, invoice_number=number, **options
    )


def pay(p: SampleLicensing, number: str = INVOICE, **options):
    return p.licenses.record_payment(actor=p.desk.id, invoice_number=number, **options)


def activate(p: SampleLicensing, user_id: UserId | None = None):
    return p.licenses.activate(
        actor=p.desk.id,
        establishment_id=p.establishment.id,
        user_id=p.physician.id if user_id is None else user_id,
    )


def paid(p: SampleLicensing, user_id: UserId | None = None, number: str = INVOICE):
    """Provision, request, invoice and pay one license now."""
    uid = p.physician.id if user_id is None else user_id
    provision(p, uid)
    request(p, uid)
    invoice(p, number, user_ids=[uid])
    return pay(p, number)[0]


def view(p: SampleLicensing, user_id: UserId | None = None):
    return p.licenses.license(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        user_id=p.physician.id if user_id is None else user_id,
    )


def stored(p: SampleLicensing, user_id: UserId | None = None):
    with p.unit_of_work() as uow:
        return uow.licenses.find(p.establishment.id, p.physician.id if user_id is None else user_id)


def outbox(p: SampleLicensing, user_id: UserId | None = None):
    with p.unit_of_work() as uow:
        return list(uow.outbox.list(user_id=user_id))


def snapshot(p: SampleLicensing):
    """Everything a license use case may write: the licenses and the outbox."""
    with p.unit_of_work() as uow:
        return list(uow.licenses.list_for_establishment(p.establishment.id)), list(
            uow.outbox.list()
        )


def kinds(p: SampleLicensing, user_id: UserId | None = None) -> list[MessageKind]:
    """The kinds of the messages about a license, in the order of the changes that wrote them
    (messages of one change by kind)."""

    def order(message) -> tuple[int, str]:
        match = re.search(r":v(\d+):", message.idempotency_key)
        assert match is not None
        return int(match.group(1)), str(message.kind)

    uid = p.physician.id if user_id is None else user_id
    return [m.kind for m in sorted(outbox(p, uid), key=order)]


def sent(p: SampleLicensing, kind: MessageKind) -> list[str]:
    """Deliver the outbox; return the recipients of every message of ``kind`` sent so far."""
    return [d.message.recipient for d in p.deliver().sent if d.message.kind is kind]


def add_gp(
    p: SampleLicensing,
    first_name: str,
    last_name: str,
    *,
    competence: str = "003",
    supervisor: UserId | None = None,
    roles: tuple[str, ...] = ("physician",),
    establishment_id=None,
) -> UserId:
    """Add a Belgian general practitioner (a trainee with competence "005") as a member."""
    where = p.establishment.id if establishment_id is None else establishment_id
    uid = p.access.add_member(
        actor=p.owner.id,
        establishment_id=where,
        email=f"{first_name}.{last_name}@cabinet-exemple.be".lower(),
        roles=roles,
        first_name=first_name,
        last_name=last_name,
    ).user.id
    p.profiles.save_practitioner(
        actor=p.owner.id,
        establishment_id=where,
        user_id=uid,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": sample_inami(competence)},
        addresses=[sample_workplace()],
        supervisor=supervisor,
    )
    return uid


def inami_of(p: SampleLicensing, user_id: UserId) -> str:
    with p.unit_of_work() as uow:
        return uow.practitioners.get(user_id).identifiers["inami"]


def access(p: SampleLicensing, user_id: UserId | None = None):
    return p.licenses.access_for(p.physician.id if user_id is None else user_id, p.establishment.id)


# -- E1: a provisional license for every new physician ----------------------------------------


def test_e1_a_new_general_practitioner_gets_a_provisional_license_for_45_days():
    p = practice()
    seat = provision(p)
    assert (seat.kind, seat.status) == (K.PHYSICIAN, S.PROVISIONAL)
    assert seat.valid_from == p.clock.now()
    assert seat.valid_until == seat.provisional_until == PROVISIONAL_END
    shown = view(p)
    assert (shown.status, shown.entitled, shown.last_day) == (
        S.PROVISIONAL,
        True,
        date(2026, 2, 18),
    )
    assert shown.license == seat
    assert outbox(p) == []  # provisioning tells nobody


def test_e1_the_45_days_count_the_local_day_of_provisioning():
    # 23:30 in Brussels on 1 March is still 1 March there, though 22:30 in UTC.
    p = practice()
    p.clock.set(datetime(2026, 3, 1, 22, 30, tzinfo=BRUSSELS))
    seat = provision(p)
    assert seat.valid_until == midnight(date(2026, 4, 15))
    assert view(p).last_day == date(2026, 4, 14)


def test_e3_the_secretary_gets_a_free_staff_license_that_never_ends():
    p = practice()
    seat = provision(p, p.secretary.id)
    assert (seat.kind, seat.status, seat.valid_until, seat.due_at) == (
        K.STAFF,
        S.ACTIVE,
        None,
        None,
    )
    p.clock.advance(days=3000)
    shown = view(p, p.secretary.id)
    assert (shown.status, shown.entitled, shown.last_day) == (S.ACTIVE, True, None)
    assert p.licenses.run_due().changed == 0


def test_e3_a_free_license_is_never_requested_whatever_data_the_member_lacks():
    p = practice()
    provision(p, p.secretary.id)  # a secretary has no practitioner data, and needs none
    with pytest.raises(IllegalLicenseTransition) as caught:
        request(p, p.secretary.id)
    assert caught.value.params["kind"] == "staff"
    assert caught.value.params["command"] == "request"


def test_e1_provisioning_is_idempotent():
    p = practice()
    first = provision(p)
    p.clock.advance(days=10)
    assert provision(p) == first
    assert provision(p, actor=p.owner.id, kind="physician") == first
    assert stored(p) == first
    request(p)
    assert provision(p).status is S.REQUESTED  # an existing license is returned unchanged


def test_e4_an_explicit_kind_needs_licenses_manage():
    p = practice()
    manager = p.access.add_member(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email="m.gestion@cabinet-exemple.be",
        roles=["user_manager"],
        first_name="Marc",
        last_name="Gestion",
    ).user.id
    with pytest.raises(PermissionDenied) as caught:
        provision(p, actor=manager, kind=K.PHYSICIAN)
    assert caught.value.params["reason"] == "missing_permission"
    assert caught.value.params["missing"] == ("licenses.manage",)
    assert stored(p) is None
    assert provision(p, actor=manager).kind is K.PHYSICIAN  # users.create: the profession decides
    assert provision(p, p.secretary.id, kind="staff").kind is K.STAFF  # the owner manages


def test_e4_a_kind_the_product_does_not_offer_is_refused():
    p = practice()
    with pytest.raises(LicenseRejected) as caught:
        provision(p, kind=K.LOCUM)  # no locum license in general practice
    assert caught.value.codes == ("license.kind_not_offered",)
    assert caught.value.violations[0].field == "kind"
    assert stored(p) is None


@pytest.mark.parametrize(("who", "kind"), [("physician", "staff"), ("secretary", "physician")])
def test_e3_a_kind_inconsistent_with_the_profession_is_refused(who, kind):
    p = practice()
    uid = getattr(p, who).id
    with pytest.raises(LicenseRejected) as caught:
        provision(p, uid, kind=kind)
    assert caught.value.codes == ("license.kind_mismatch",)
    assert stored(p, uid) is None


def test_e4_the_veterinary_product_offers_a_locum_license_at_a_monthly_price():
    p = practice(ProductKind.VETERINARY)
    # The request names an INAMI number (E2): this veterinarian carries a made-up one.
    p.profiles.save_practitioner(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        user_id=p.physician.id,
        profession="veterinarian",
        country="BE",
        identifiers={"inami": sample_inami()},
        addresses=[sample_workplace()],
    )
    seat = provision(p, kind="locum")
    assert (seat.kind, seat.status, seat.valid_until) == (K.LOCUM, S.PROVISIONAL, PROVISIONAL_END)
    request(p)
    preview = p.licenses.preview_invoice(actor=p.desk.id, establishment_id=p.establishment.id)
    [line] = preview.lines
    assert (line.kind, line.months, line.amount, line.currency) == (
        K.LOCUM,
        12,
        Decimal("420.00"),  # 35 EUR a month
        "EUR",
    )


def test_e4_a_change_of_kind_needs_licenses_manage_and_keeps_the_window():
    p = practice(ProductKind.VETERINARY)
    e = p.establishment.id
    first = provision(p)
    assert first.kind is K.PHYSICIAN
    locum = p.licenses.set_kind(
        actor=p.owner.id, establishment_id=e, user_id=p.physician.id, kind="locum"
    )
    assert (locum.kind, locum.status, locum.valid_until) == (
        K.LOCUM,
        S.PROVISIONAL,
        PROVISIONAL_END,
    )
    with pytest.raises(LicenseRejected) as caught:
        p.licenses.set_kind(
            actor=p.owner.id, establishment_id=e, user_id=p.physician.id, kind="staff"
        )
    assert caught.value.codes == ("license.kind_mismatch",)  # a veterinarian pays (E3)
    with pytest.raises(PermissionDenied):
        p.licenses.set_kind(
            actor=p.physician.id, establishment_id=e, user_id=p.physician.id, kind="physician"
        )
    assert stored(p).kind is K.LOCUM


def test_e4_a_kind_does_not_change_while_an_activation_is_in_progress():
    p = practice()
    provision(p)
    request(p)
    with pytest.raises(IllegalLicenseTransition) as caught:
        p.licenses.set_kind(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            kind="physician",
        )
    assert (caught.value.params["status"], caught.value.params["command"]) == (
        "requested",
        "change_kind",
    )


# -- E2: request, invoice, payment, activation ---------------------------------------------------


def test_e2_the_request_names_the_practitioner_the_inami_number_and_the_practice():
    p = practice()
    provision(p)
    p.clock.advance(days=2)
    seat = request(p, actor=p.physician.id)  # a physician requests their own (licenses.request)
    asked = seat.pending
    assert seat.status is S.REQUESTED
    assert (asked.first_name, asked.last_name) == ("Jeanne", "Exemple")
    assert (asked.identifier_kind, asked.identifier) == ("inami", inami_of(p, p.physician.id))
    assert asked.practice == p.establishment.name
    assert (asked.kind, asked.months, asked.bill_to) == (K.PHYSICIAN, 12, p.physician.id)
    assert (asked.requested_at, asked.requested_by) == (p.clock.now(), p.physician.id)
    assert seat.valid_until == PROVISIONAL_END  # the window keeps running
    assert outbox(p) == []  # no desk address: nobody to tell


def test_e2_in_france_the_request_names_the_rpps_number():
    p = practice()
    uid = p.access.add_member(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email="c.exemple@cabinet-exemple.fr",
        roles=["physician"],
        first_name="Chloé",
        last_name="Exemple",
    ).user.id
    p.profiles.save_practitioner(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        user_id=uid,
        profession="general_practitioner",
        country="FR",
        identifiers={"rpps": "100 0123 4565"},
        addresses=[
            sample_workplace(
                country="FR", postal_code="75001", city="Paris", phone="01 99 00 12 34"
            )
        ],
    )
    provision(p, uid)
    asked = request(p, uid).pending
    assert (asked.identifier_kind, asked.identifier) == ("rpps", "10001234565")


@pytest.mark.parametrize("product", list(ProductKind))
def test_e2_every_product_has_a_sample_practice_whose_physician_is_licensed(product):
    p = practice(product)
    assert provision(p).kind is K.PHYSICIAN


def test_e2_a_request_without_the_identifier_says_what_to_fill_in():
    p = practice()
    before = provision(p)
    with p.unit_of_work() as uow:  # the INAMI number went missing since (stored around us)
        gp = uow.practitioners.get(p.physician.id)
        uow.practitioners.update(attrs.evolve(gp, inami=None))
        uow.commit()
    with pytest.raises(LicenseRequestIncomplete) as caught:
        request(p)
    assert caught.value.code == "license.request_incomplete"
    assert caught.value.params["missing"] == ("inami",)
    assert caught.value.params["user_id"] == p.physician.id
    assert stored(p) == before
    assert outbox(p) == []


def test_e2_a_belgian_veterinarian_needs_no_inami_number_to_request():
    """Veterinarians are not in the INAMI register: the request names them and the practice."""
    p = practice(ProductKind.VETERINARY)  # the sample veterinarian carries no number
    provision(p)
    asked = request(p).pending
    assert (asked.identifier_kind, asked.identifier) == ("", "")
    assert (asked.first_name, asked.practice) == ("Jeanne", p.establishment.name)


def test_e2_a_request_without_practitioner_data_or_names_says_what_to_fill_in():
    p = practice()
    uid = p.secretary.id
    with p.unit_of_work() as uow:  # a physician license whose data went missing since
        step = policy.provision(
            p.establishment.id, uid, K.PHYSICIAN, now=p.clock.now(), settings=LicenseSettings()
        )
        uow.licenses.add(step.license)
        user = uow.users.get(uid)
        uow.users.update(attrs.evolve(user, first_name="", last_name=""))
        uow.commit()
    before = snapshot(p)
    with pytest.raises(LicenseRequestIncomplete) as caught:
        request(p, uid)
    assert caught.value.params["missing"] == ("practitioner", "name")
    assert snapshot(p) == before


def test_b4_a_trainee_is_billed_to_the_supervisor():
    p = practice(settings=LicenseSettings(desk_address=DESK))
    trainee = add_gp(p, "Tom", "Stagiaire", competence="005", supervisor=p.physician.id)
    for uid in (p.physician.id, trainee):
        provision(p, uid)
        request(p, uid)
    assert stored(p, trainee).pending.bill_to == p.physician.id
    lines = {line.user_id: line for line in invoice(p).lines}
    assert (lines[trainee].bill_to, lines[trainee].via_supervisor) == (p.physician.id, True)
    assert lines[trainee].identifier == inami_of(p, trainee)  # the trainee's own number (E2)
    assert (lines[p.physician.id].bill_to, lines[p.physician.id].via_supervisor) == (
        p.physician.id,
        False,
    )


def test_b4_a_trainee_without_a_supervisor_cannot_request_yet():
    p = practice()
    trainee = add_gp(p, "Tom", "Stagiaire", competence="005", supervisor=p.physician.id)
    provision(p, trainee)
    with p.unit_of_work() as uow:  # the link was lost, as after a hand-over gone wrong
        membership = uow.memberships.get(p.establishment.id, trainee)
        uow.memberships.update(membership.with_supervisor(None))
        uow.commit()
    with pytest.raises(LicenseRequestIncomplete) as caught:
        request(p, trainee)
    assert caught.value.params["missing"] == ("supervisor",)


def test_e2_the_invoice_names_each_inami_number_with_prices_from_the_table():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    for uid in (p.physician.id, other):
        provision(p, uid)
        request(p, uid)
    p.clock.advance(days=1)
    bill = invoice(p)
    assert (bill.establishment_id, bill.practice, bill.product) == (
        p.establishment.id,
        p.establishment.name,
        ProductKind.GENERAL_PRACTICE,
    )
    assert (bill.invoice_number, bill.issued_at) == (INVOICE, p.clock.now())
    assert {(line.user_id, line.identifier_kind, line.identifier) for line in bill.lines} == {
        (uid, "inami", inami_of(p, uid)) for uid in (p.physician.id, other)
    }
    assert {(line.amount, line.currency, line.months) for line in bill.lines} == {
        (Decimal("480.00"), "EUR", 12)
    }
    assert (bill.total, bill.currency) == (Decimal("960.00"), "EUR")
    for uid in (p.physician.id, other):
        pending = stored(p, uid).pending
        assert stored(p, uid).status is S.INVOICED
        assert (pending.invoice_number, pending.amount, pending.currency) == (
            INVOICE,
            Decimal("480.00"),
            "EUR",
        )
        assert pending.invoiced_at == p.clock.now()


def test_e2_the_invoice_can_name_some_requested_members_only():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    for uid in (p.physician.id, other):
        provision(p, uid)
        request(p, uid)
    bill = invoice(p, user_ids=[other, other])
    assert [line.user_id for line in bill.lines] == [other]
    assert (stored(p).status, stored(p, other).status) == (S.REQUESTED, S.INVOICED)


def test_e2_a_price_missing_from_the_table_is_a_configuration_error_that_writes_nothing():
    p = practice(prices=PriceTable())
    provision(p)
    request(p)
    before = snapshot(p)
    with pytest.raises(PracticeIdError) as caught:
        invoice(p)
    assert caught.value.code == "config.invalid"
    assert snapshot(p) == before


@pytest.mark.parametrize("number", ["", " ", "F 1", "-F1", "F-1\n", "F" * 65, "F€1", 5, None])
def test_e2_invoice_numbers_are_checked(number):
    p = practice()
    provision(p)
    request(p)
    before = snapshot(p)
    with pytest.raises(LicenseRejected) as caught:
        invoice(p, number)
    assert caught.value.codes == ("license.invalid_invoice_number",)
    assert snapshot(p) == before


def test_e2_an_invoice_number_on_another_invoice_is_refused():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    provision(p)
    request(p)
    invoice(p)
    provision(p, other)
    request(p, other)
    with pytest.raises(LicenseRejected) as caught:
        invoice(p)
    assert caught.value.codes == ("license.invoice_number_used",)
    assert stored(p, other).status is S.REQUESTED
    pay(p)
    with pytest.raises(LicenseRejected):
        invoice(p)  # paid, not yet activated: still on its invoice


def test_e2_an_invoice_number_stays_used_after_its_licenses_are_activated():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    paid(p)
    activate(p)
    provision(p, other)
    request(p, other)
    with pytest.raises(LicenseRejected) as caught:
        invoice(p)  # the host's invoice F-2026-0001 exists: a second one is not that
    assert caught.value.codes == ("license.invoice_number_used",)


def test_e2_a_withdrawn_invoice_keeps_its_number_used():
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    p.licenses.withdraw(  # the desk voids the invoice
        actor=p.desk.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )
    with p.unit_of_work() as uow:
        assert list(uow.licenses.with_invoice(INVOICE)) == []  # no license is on it any more
    request(p)
    before = snapshot(p)
    with pytest.raises(LicenseRejected) as caught:
        invoice(p)  # continuous numbering: a voided number is never given again
    assert caught.value.codes == ("license.invoice_number_used",)
    assert snapshot(p) == before
    assert invoice(p, "F-2026-0002").invoice_number == "F-2026-0002"
    assert stored(p).status is S.INVOICED


def test_e2_a_refused_invoice_leaves_its_number_free():
    p = practice()
    with pytest.raises(LicenseRejected) as caught:
        invoice(p)
    assert caught.value.codes == ("license.nothing_to_invoice",)
    provision(p)
    request(p)
    assert invoice(p).invoice_number == INVOICE  # the refusal reserved nothing


def test_e2_nothing_to_invoice_is_refused():
    p = practice()
    with pytest.raises(LicenseRejected) as caught:
        invoice(p)
    assert caught.value.codes == ("license.nothing_to_invoice",)
    provision(p)
    with pytest.raises(LicenseRejected) as caught:
        invoice(p)  # provisional: not requested
    assert caught.value.codes == ("license.nothing_to_invoice",)
    with pytest.raises(IllegalLicenseTransition) as named:
        invoice(p, user_ids=[p.physician.id])
    assert (named.value.params["status"], named.value.params["command"]) == (
        "provisional",
        "invoice",
    )
    with pytest.raises(LicenseRejected) as caught:
        invoice(p, user_ids=[])
    assert caught.value.codes == ("license.nothing_to_invoice",)
    with pytest.raises(LicenseNotFound):
        invoice(p, user_ids=[p.secretary.id])


def test_e2_a_preview_is_the_invoice_without_its_number_and_writes_nothing():
    p = practice()
    provision(p)
    request(p)
    before = snapshot(p)
    preview = p.licenses.preview_invoice(actor=p.desk.id, establishment_id=p.establishment.id)
    assert (preview.invoice_number, preview.issued_at) == (None, None)
    assert snapshot(p) == before
    bill = invoice(p)
    assert bill.lines == preview.lines
    assert bill.total == preview.total == Decimal("480.00")


def test_e2_recording_a_payment_marks_every_license_of_the_invoice_paid():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    for uid in (p.physician.id, other):
        provision(p, uid)
        request(p, uid)
    invoice(p)
    p.clock.advance(days=3)
    done = pay(p)
    assert {seat.user_id for seat in done} == {p.physician.id, other}
    for seat in done:
        assert seat.status is S.PAID
        assert seat.pending.paid_at == p.clock.now()
        assert seat == stored(p, seat.user_id)
    assert view(p).activation_due == date(2026, 2, 8)  # paid on 8 January
    with pytest.raises(IllegalLicenseTransition) as caught:
        pay(p)
    assert caught.value.params["status"] == "paid"


def test_e2_a_payment_received_earlier_dates_the_activation_deadline():
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    invoiced_at = p.clock.now()
    p.clock.advance(days=10)
    [seat] = pay(p, paid_at=invoiced_at + timedelta(days=1))
    assert seat.pending.paid_at == invoiced_at + timedelta(days=1)
    assert seat.pending.activation_due_at == midnight(date(2026, 2, 7))  # paid on 6 January


@pytest.mark.parametrize(
    "paid_at",
    [
        "2026-01-05T10:00:00+01:00",
        datetime(2026, 1, 5, 10, 0),  # naive  # noqa: DTZ001
        datetime(2026, 1, 6, 9, 0, tzinfo=UTC),  # in the future
        datetime(2026, 1, 4, 9, 0, tzinfo=UTC),  # before the invoice
        5,
    ],
)
def test_e2_paid_at_is_an_aware_datetime_between_the_invoice_and_now(paid_at):
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    before = snapshot(p)
    with pytest.raises(LicenseRejected) as caught:
        pay(p, paid_at=paid_at)
    assert caught.value.codes == ("license.paid_at_invalid",)
    assert snapshot(p) == before


@pytest.mark.parametrize("number", ["F-9999", 5, None, ["F-2026-0001"]])
def test_e2_a_payment_of_an_unknown_invoice_is_refused(number):
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    with pytest.raises(LicenseRejected) as caught:
        pay(p, number)
    assert caught.value.codes == ("license.unknown_invoice",)


def test_e2_an_activation_within_the_month_after_payment_is_not_late():
    p = practice()
    paid(p)
    assert view(p).activation_due == date(2026, 2, 5)
    p.clock.set(midnight(date(2026, 2, 6)) - US)  # the last instant of 5 February
    seat = activate(p)
    assert (seat.status, seat.pending, seat.activation.activated_late) == (S.ACTIVE, None, False)
    assert (seat.valid_from, seat.valid_until) == (p.clock.now(), midnight(date(2027, 2, 5)))
    assert view(p).last_day == date(2027, 2, 4)
    assert kinds(p) == [M.LICENSE_ACTIVATED]
    assert sent(p, M.LICENSE_ACTIVATED) == [p.physician.email.address]


def test_e2_an_activation_after_the_deadline_is_late_and_reported_to_the_requester():
    p = practice()
    paid(p)  # requested by the owner
    p.clock.set(midnight(date(2026, 2, 6)))
    seat = activate(p)
    assert seat.activation.activated_late
    assert seat.activation.late_reported_at == p.clock.now()
    assert kinds(p) == [M.LICENSE_ACTIVATED, M.LICENSE_ACTIVATION_LATE]
    assert sent(p, M.LICENSE_ACTIVATION_LATE) == [p.owner.email.address]
    [late] = [m for m in outbox(p) if m.kind is M.LICENSE_ACTIVATION_LATE]
    assert late.params["identifier"] == inami_of(p, p.physician.id)
    assert late.params["practice"] == p.establishment.name


def test_e2_the_late_report_names_the_last_day_the_activation_was_due_as_the_view_does():
    p = practice()
    paid(p)
    due = view(p).activation_due
    assert due == date(2026, 2, 5)  # paid on 5 January: due through 5 February
    p.clock.set(midnight(date(2026, 2, 6)))
    activate(p)
    [late] = [m for m in outbox(p) if m.kind is M.LICENSE_ACTIVATION_LATE]
    assert late.params["activation_due"] == due.isoformat()  # as last_day: inclusive


def test_e2_the_desk_is_told_of_requests_and_late_activations_when_its_address_is_set():
    p = practice(settings=LicenseSettings(desk_address=DESK))
    provision(p)
    request(p, actor=p.physician.id)
    assert sent(p, M.LICENSE_REQUESTED) == [DESK]
    invoice(p)
    pay(p)
    p.clock.set(midnight(date(2026, 3, 1)))
    activate(p)
    assert Counter(sent(p, M.LICENSE_ACTIVATION_LATE)) == Counter([p.physician.email.address, DESK])


def test_e2_a_late_activation_goes_to_the_member_when_the_requester_left():
    p = practice()
    admin = p.access.add_member(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email="a.admin@cabinet-exemple.be",
        roles=["administrator"],
        first_name="Alice",
        last_name="Admin",
    ).user.id
    provision(p)
    request(p, actor=admin)
    invoice(p)
    pay(p)
    p.access.deactivate_user(actor=p.owner.id, user_id=admin)
    p.clock.set(midnight(date(2026, 2, 6)))
    activate(p)
    assert sent(p, M.LICENSE_ACTIVATION_LATE) == [p.physician.email.address]


def test_e2_the_sweep_reports_an_overdue_paid_license_exactly_once():
    p = practice()
    seat = paid(p)
    due = midnight(date(2026, 2, 6))
    assert seat.pending.activation_due_at == due
    p.clock.set(due - US)
    assert p.licenses.run_due().changed == 0
    assert p.licenses.overdue(actor=p.desk.id) == []
    p.clock.set(due)
    report = p.licenses.run_due()
    assert (report.late, report.notified, report.expired) == ((seat.key,), (), ())
    assert p.licenses.run_due().changed == 0
    p.clock.advance(days=60)  # the provisional window ended meanwhile: a paid license keeps
    assert p.licenses.run_due().changed == 0  # its rights and gets no expiry
    assert [lic.key for lic in p.licenses.overdue(actor=p.desk.id)] == [seat.key]
    assert access(p).allows(SIGN)
    done = activate(p)
    assert done.activation.late_reported_at == due  # reported by the sweep, not again
    assert kinds(p) == [M.LICENSE_ACTIVATION_LATE, M.LICENSE_ACTIVATED]
    assert sent(p, M.LICENSE_ACTIVATION_LATE) == [p.owner.email.address]
    assert p.licenses.overdue(actor=p.desk.id) == []


def test_e2_overdue_lists_the_oldest_payment_first():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    paid(p, other, "F-1")
    p.clock.advance(days=2)
    paid(p, p.physician.id, "F-2")
    assert p.licenses.overdue(actor=p.desk.id) == []
    p.clock.advance(days=40)
    late = p.licenses.overdue(actor=p.desk.id)
    assert [lic.user_id for lic in late] == [other, p.physician.id]


def test_e2_the_desk_queue_lists_licenses_by_stored_status():
    p = practice()
    other = add_gp(p, "Hugo", "Exemple")
    third = add_gp(p, "Inès", "Exemple")
    for uid in (p.physician.id, other, third):
        provision(p, uid)
        request(p, uid)
    invoice(p, "F-1", user_ids=[other, third])
    pay(p, "F-1")
    activate(p, third)

    def queued(status):
        return [lic.user_id for lic in p.licenses.queue(actor=p.desk.id, status=status)]

    assert queued("requested") == [p.physician.id]
    assert queued(S.PAID) == [other]
    assert queued("active") == [third]
    assert queued("invoiced") == []
    for shown_only in ("suspended", "unlicensed", "no-such-status"):
        with pytest.raises(LicenseRejected) as refused:
            queued(shown_only)
        assert refused.value.violations[0].code == "license.invalid_status"


def test_e2_a_request_is_withdrawn_before_it_is_invoiced():
    p = practice()
    provision(p)
    request(p)
    back = p.licenses.withdraw(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )
    assert (back.status, back.pending, back.valid_until) == (S.PROVISIONAL, None, PROVISIONAL_END)
    with pytest.raises(IllegalLicenseTransition):
        p.licenses.withdraw(
            actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )


def test_e2_an_invoiced_request_is_withdrawn_by_the_desk_only():
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    e, uid = p.establishment.id, p.physician.id
    with pytest.raises(PermissionDenied) as caught:
        p.licenses.withdraw(actor=p.owner.id, establishment_id=e, user_id=uid)
    assert caught.value.params["missing"] == ("licenses.administer",)
    back = p.licenses.withdraw(actor=p.desk.id, establishment_id=e, user_id=uid)
    assert (back.status, back.pending) == (S.PROVISIONAL, None)


def test_e2_a_renewal_starts_when_the_running_term_ends():
    p = practice()
    paid(p, number="F-1")
    first = activate(p)
    p.clock.set(midnight(date(2026, 12, 20)))
    request(p)
    invoice(p, "F-2")
    pay(p, "F-2")
    renewed = activate(p)
    assert renewed.valid_from == first.valid_until
    assert renewed.valid_until == midnight(date(2028, 1, 5))


# -- notices and expiry: the sweep (E1, E2) -------------------------------------------------------


def _sweep_each_midnight(p: SampleLicensing, days: int):
    """Run the sweep a microsecond before and at each local midnight; return what it did."""
    done = []
    day = p.clock.now().astimezone(BRUSSELS).date()
    for n in range(1, days + 1):
        at = midnight(day + timedelta(days=n))
        p.clock.set(at - US)
        assert p.licenses.run_due().changed == 0  # a microsecond early: nothing
        p.clock.set(at)
        report = p.licenses.run_due()
        if report.changed:
            done.append((at, report.notified, report.expired))
    return done


def test_e1_the_provisional_license_gets_notices_30_7_and_1_days_before_it_expires():
    p = practice()
    key = provision(p).key
    assert _sweep_each_midnight(p, 60) == [
        (NOTICES[0], (key,), ()),
        (NOTICES[1], (key,), ()),
        (NOTICES[2], (key,), ()),
        (PROVISIONAL_END, (), (key,)),
    ]
    assert kinds(p) == [M.LICENSE_EXPIRING] * 3 + [M.LICENSE_EXPIRED]
    assert sent(p, M.LICENSE_EXPIRING) == [p.physician.email.address] * 3
    messages = outbox(p)
    assert {m.params["last_day"] for m in messages} == {"2026-02-18"}
    assert {m.locale for m in messages} == {"fr-BE"}
    seat = stored(p)
    assert (seat.status, seat.lapsed_at, seat.due_at) == (S.EXPIRED, PROVISIONAL_END, None)


def test_the_license_shows_expired_at_its_end_even_before_the_sweep():
    p = practice()
    provision(p)
    p.clock.set(PROVISIONAL_END - US)
    assert view(p).status is S.PROVISIONAL
    p.clock.set(PROVISIONAL_END)
    shown = view(p)
    assert (shown.status, shown.entitled) == (S.EXPIRED, False)
    assert stored(p).status is S.PROVISIONAL


def test_e2_an_active_term_shows_expiring_from_its_first_notice():
    p = practice()
    paid(p)
    activate(p)  # through 4 January 2027
    first_notice = midnight(date(2026, 12, 6))
    p.clock.set(first_notice - US)
    assert view(p).status is S.ACTIVE
    p.clock.set(first_notice)
    assert view(p).status is S.EXPIRING  # as the clock says, before the sweep
    assert p.licenses.run_due().notified == (stored(p).key,)
    assert stored(p).status is S.EXPIRING
    assert (
        p.licenses.licenses(
            actor=p.owner.id, establishment_id=p.establishment.id, status="expiring"
        )[0].user
        == p.physician
    )


def test_run_due_is_idempotent():
    p = practice()
    uids = [p.physician.id, add_gp(p, "Hugo", "Exemple"), add_gp(p, "Inès", "Exemple")]
    for uid in uids:
        provision(p, uid)
    p.clock.set(NOTICES[0])
    assert len(p.licenses.run_due().notified) == 3
    before = snapshot(p)
    assert p.licenses.run_due().changed == 0
    assert p.licenses.run_due(p.clock.now()).changed == 0
    assert snapshot(p) == before


def test_a_sweep_after_a_long_pause_sends_only_the_latest_notice():
    p = practice()
    key = provision(p).key
    p.clock.set(NOTICES[2] + timedelta(hours=5))  # all three notices are due
    assert p.licenses.run_due().notified == (key,)
    assert p.licenses.run_due().changed == 0
    assert kinds(p) == [M.LICENSE_EXPIRING]
    p.clock.set(PROVISIONAL_END + timedelta(days=30))
    report = p.licenses.run_due()
    assert (report.notified, report.expired) == ((), (key,))
    assert kinds(p) == [M.LICENSE_EXPIRING, M.LICENSE_EXPIRED]


def test_the_sweep_works_in_batches():
    p = practice()
    sweeper = attrs.evolve(p.licenses, batch_size=2)
    uids = [p.physician.id, *(add_gp(p, "Hugo", f"Exemple{n}") for n in range(4))]
    for uid in uids:
        provision(p, uid)
    p.clock.set(PROVISIONAL_END)
    assert sorted(uid for _, uid in sweeper.run_due().expired) == sorted(uids)
    assert sweeper.run_due().changed == 0


def _deactivate_user(p: SampleLicensing) -> None:
    p.access.deactivate_user(actor=p.owner.id, user_id=p.physician.id)


def _reactivate_user(p: SampleLicensing) -> None:
    p.access.reactivate_user(actor=p.owner.id, user_id=p.physician.id)


def _deactivate_member(p: SampleLicensing) -> None:
    p.access.deactivate_member(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )


def _reactivate_member(p: SampleLicensing) -> None:
    p.access.reactivate_member(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )


DEACTIVATIONS = [
    pytest.param(_deactivate_user, _reactivate_user, id="account"),
    pytest.param(_deactivate_member, _reactivate_member, id="membership"),
]


@pytest.mark.parametrize(("deactivate", "reactivate"), DEACTIVATIONS)
def test_a_deactivated_member_gets_no_notice_but_the_license_expires_on_its_day(
    deactivate, reactivate
):
    p = practice()
    provision(p)
    deactivate(p)
    assert view(p).status is S.SUSPENDED
    for at in [*NOTICES, PROVISIONAL_END]:
        p.clock.set(at)
        p.licenses.run_due()
    assert outbox(p, p.physician.id) == []
    seat = stored(p)
    assert (seat.status, seat.lapsed_at) == (S.EXPIRED, PROVISIONAL_END)
    shown = view(p)
    assert (shown.status, shown.entitled) == (S.SUSPENDED, False)
    reactivate(p)
    assert view(p).status is S.EXPIRED  # the calendar again
    assert p.licenses.run_due().changed == 0  # nothing is sent late


@pytest.mark.parametrize(("deactivate", "reactivate"), DEACTIVATIONS)
def test_a_member_reactivated_before_the_end_gets_the_remaining_notices(deactivate, reactivate):
    p = practice()
    provision(p)
    deactivate(p)
    p.clock.set(NOTICES[0])
    p.licenses.run_due()
    reactivate(p)
    assert view(p).status is S.PROVISIONAL
    for at in [NOTICES[1], NOTICES[2], PROVISIONAL_END]:
        p.clock.set(at)
        p.licenses.run_due()
    assert kinds(p) == [M.LICENSE_EXPIRING, M.LICENSE_EXPIRING, M.LICENSE_EXPIRED]


# -- the licensed acts: access_for and decide (E1-E4) ---------------------------------------------


def _allows_sign(p: SampleLicensing) -> bool:
    return decide(access(p), SIGN).allowed


def test_licensed_acts_are_allowed_while_provisional_requested_invoiced_paid_or_active():
    p = practice()
    provision(p)
    assert access(p).license_status == "provisional"
    assert _allows_sign(p)
    request(p)
    assert _allows_sign(p)
    invoice(p)
    assert _allows_sign(p)
    pay(p)
    p.clock.set(PROVISIONAL_END + timedelta(days=1))  # paid: the vendor's delay is not theirs
    assert (access(p).license_status, _allows_sign(p)) == ("paid", True)
    activate(p)
    assert (access(p).license_status, _allows_sign(p)) == ("active", True)


def test_an_expired_license_refuses_licensed_acts_with_a_coded_reason():
    p = practice()
    provision(p)
    p.clock.set(PROVISIONAL_END)
    seen = access(p)
    decision = decide(seen, SIGN)
    assert (decision.allowed, decision.reason, decision.license_status) == (
        False,
        Reason.LICENSE_REQUIRED,
        "expired",
    )
    error = decision.error()
    assert isinstance(error, LicenseRequired)
    assert isinstance(error, PermissionDenied)
    assert error.code == "license.required"
    assert error.params["reason"] == "license_required"
    assert error.params["license_status"] == "expired"
    assert error.params["permission"] == "consultations.sign"
    assert error.params["actor"] == p.physician.id
    assert decide(seen, Permission.PATIENTS_VIEW).allowed  # reading never needs a license
    assert decide(seen, Permission.LICENSES_REQUEST).allowed  # nor renewing
    assert SIGN in seen.unlicensed
    assert not seen.allows(SIGN)


def test_access_require_raises_license_required():
    p = practice()
    provision(p)
    p.clock.set(PROVISIONAL_END)
    seen = access(p)
    with pytest.raises(LicenseRequired) as caught:
        seen.require(Permission.DOCUMENTS_ISSUE)
    assert caught.value.params["license_status"] == "expired"
    seen.require(Permission.DOCUMENTS_VIEW)


def test_decide_with_a_target_applies_the_license_and_tenant_isolation_first():
    p = practice()
    provision(p)
    p.clock.set(PROVISIONAL_END)
    seen = access(p)
    e = p.establishment.id
    for target in (Target.establishment(e), e, Target.on_behalf(e, p.physician.id)):
        assert decide(seen, SIGN, target).reason is Reason.LICENSE_REQUIRED
    other = Target.establishment("elsewhere")
    assert decide(seen, SIGN, other).reason is Reason.OTHER_ESTABLISHMENT
    assert decide(seen, SIGN, "elsewhere").reason is Reason.OTHER_ESTABLISHMENT


def test_a_physician_without_a_license_is_unlicensed():
    p = practice()
    decision = decide(access(p), SIGN)
    assert (decision.reason, decision.license_status) == (Reason.LICENSE_REQUIRED, "unlicensed")
    shown = view(p)
    assert (shown.status, shown.entitled, shown.license) == (S.UNLICENSED, False, None)
    listed = p.licenses.licenses(
        actor=p.owner.id, establishment_id=p.establishment.id, status="unlicensed"
    )
    assert [v.user.id for v in listed] == [p.physician.id]


def test_a_secretary_without_a_license_is_not_restricted():
    p = practice()
    seen = access(p, p.secretary.id)
    assert seen.license_status is None
    assert seen.unlicensed == frozenset()
    assert decide(seen, Permission.PATIENTS_EDIT).allowed  # a licensed act, for the physicians
    assert decide(seen, SIGN).reason is Reason.MISSING_PERMISSION  # a license never adds one
    assert view(p, p.secretary.id).status is S.ACTIVE


def test_a_license_never_adds_a_permission_the_roles_do_not_give():
    p = practice()
    provision(p, p.secretary.id)
    decision = decide(access(p, p.secretary.id), SIGN)
    assert (decision.reason, decision.missing) == (Reason.MISSING_PERMISSION, frozenset({SIGN}))


@pytest.mark.parametrize(
    ("deactivate", "reason"),
    [
        pytest.param(_deactivate_user, Reason.USER_DEACTIVATED, id="account"),
        pytest.param(_deactivate_member, Reason.MEMBERSHIP_DEACTIVATED, id="membership"),
    ],
)
def test_a_deactivated_member_is_denied_as_deactivated_not_for_the_license(deactivate, reason):
    p = practice()
    provision(p)
    p.clock.set(PROVISIONAL_END)
    deactivate(p)
    seen = access(p)
    assert decide(seen, SIGN).reason is reason
    assert decide(seen, Permission.PATIENTS_VIEW).reason is reason
    with pytest.raises(PermissionDenied) as caught:
        seen.require(SIGN)
    assert not isinstance(caught.value, LicenseRequired)


def test_a_renewal_requested_after_expiry_allows_nothing_until_paid():
    p = practice()
    provision(p)
    p.clock.set(PROVISIONAL_END + timedelta(days=3))
    request(p)
    assert decide(access(p), SIGN).license_status == "requested"
    invoice(p)
    assert decide(access(p), SIGN).license_status == "invoiced"
    pay(p)
    assert _allows_sign(p)


def test_the_licensed_permissions_are_the_hosts_choice():
    p = practice(settings=LicenseSettings(licensed={SIGN}))
    provision(p)
    p.clock.set(PROVISIONAL_END)
    seen = access(p)
    assert not decide(seen, SIGN).allowed
    assert decide(seen, Permission.PATIENTS_EDIT).allowed
    assert seen.unlicensed == frozenset({SIGN})


def test_access_for_an_unknown_establishment_is_not_found():
    p = practice()
    with pytest.raises(EstablishmentNotFound):
        p.licenses.access_for(p.physician.id, "nowhere")
    assert access(p, "nobody").denial is Reason.NOT_A_MEMBER


# -- permissions: each use case, its permission ---------------------------------------------------


def _practice_side(p: SampleLicensing, actor: UserId):
    e, uid = p.establishment.id, p.physician.id
    svc = p.licenses
    yield "users.create", lambda: svc.provision(actor=actor, establishment_id=e, user_id=uid)
    yield (
        "licenses.manage",
        lambda: svc.provision(actor=actor, establishment_id=e, user_id=uid, kind="physician"),
    )
    yield (
        "licenses.manage",
        lambda: svc.set_kind(actor=actor, establishment_id=e, user_id=uid, kind="physician"),
    )
    yield (
        "licenses.request",
        lambda: svc.request_activation(actor=actor, establishment_id=e, user_id=uid),
    )
    yield "licenses.request", lambda: svc.withdraw(actor=actor, establishment_id=e, user_id=uid)
    yield "licenses.view", lambda: svc.license(actor=actor, establishment_id=e, user_id=uid)
    yield "licenses.view", lambda: svc.licenses(actor=actor, establishment_id=e)


def _desk_side(p: SampleLicensing, actor: UserId):
    e, uid = p.establishment.id, p.physician.id
    svc = p.licenses
    yield lambda: svc.preview_invoice(actor=actor, establishment_id=e)
    yield lambda: svc.invoice(actor=actor, establishment_id=e, invoice_number=INVOICE)
    yield lambda: svc.record_payment(actor=actor, invoice_number=INVOICE)
    yield lambda: svc.activate(actor=actor, establishment_id=e, user_id=uid)
    yield lambda: svc.queue(actor=actor, status="requested")
    yield lambda: svc.overdue(actor=actor)


def test_each_practice_use_case_refuses_an_actor_without_its_permission():
    p = practice()
    provision(p)
    request(p)  # withdraw and set_kind then meet their permission first
    before = snapshot(p)
    for permission, call in _practice_side(p, p.secretary.id):
        with pytest.raises(PermissionDenied) as caught:
            call()
        assert caught.value.params["reason"] == "missing_permission", permission
        assert caught.value.params["missing"] == (permission,)
        assert caught.value.params["actor"] == p.secretary.id
    assert snapshot(p) == before


@pytest.mark.parametrize("who", ["owner", "physician"])
def test_the_desk_operations_refuse_members_of_the_practice_even_its_administrator(who):
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    before = snapshot(p)
    for call in _desk_side(p, getattr(p, who).id):
        with pytest.raises(PermissionDenied) as caught:
            call()
        assert caught.value.params["reason"] == "missing_permission"
        assert caught.value.params["missing"] == ("licenses.administer",)
    assert snapshot(p) == before


def test_a_member_of_another_establishment_is_refused():
    p = practice()
    q = practice()
    provision(p)
    with pytest.raises(PermissionDenied) as caught:
        p.licenses.request_activation(
            actor=q.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
    assert caught.value.params["reason"] == "not_member"


def test_a_member_reads_their_own_license_without_licenses_view():
    p = practice()
    provision(p, p.secretary.id)
    own = p.licenses.license(
        actor=p.secretary.id, establishment_id=p.establishment.id, user_id=p.secretary.id
    )
    assert (own.user.id, own.status) == (p.secretary.id, S.ACTIVE)
    with pytest.raises(PermissionDenied):
        p.licenses.license(
            actor=p.secretary.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
    listed = p.licenses.licenses(actor=p.physician.id, establishment_id=p.establishment.id)
    assert {v.user.id for v in listed} == {p.owner.id, p.physician.id, p.secretary.id}


def test_a_deactivated_member_cannot_read_even_their_own_license():
    # A6: deactivated users and memberships are denied everything.
    p = practice()
    provision(p)
    _deactivate_user(p)
    with pytest.raises(PermissionDenied) as caught:
        p.licenses.license(
            actor=p.physician.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
    assert caught.value.params["reason"] == "user_deactivated"


def test_a_deactivated_desk_account_is_refused_every_desk_operation():
    p = practice()
    provision(p)
    request(p)
    invoice(p)
    with p.unit_of_work() as uow:
        uow.users.update(uow.users.get(p.desk.id).deactivate())
        uow.commit()
    before = snapshot(p)
    refused = []
    for call in _desk_side(p, p.desk.id):
        try:
            call()
        except PermissionDenied as error:
            refused.append(error.params["reason"])
        else:
            refused.append("allowed")
    assert refused == ["user_deactivated"] * 6
    assert snapshot(p) == before


# -- bad input: coded errors, never bare exceptions, nothing changes ------------------------------


def _bad_calls(p: SampleLicensing):
    svc = p.licenses
    e, uid, owner, desk = p.establishment.id, p.physician.id, p.owner.id, p.desk.id
    for bad in (5, b"x", [uid], 1.5):
        yield lambda bad=bad: svc.provision(actor=bad, establishment_id=e, user_id=uid)
        yield lambda bad=bad: svc.request_activation(actor=owner, establishment_id=e, user_id=bad)
        yield lambda bad=bad: svc.withdraw(actor=owner, establishment_id=bad, user_id=uid)
        yield lambda bad=bad: svc.activate(actor=desk, establishment_id=e, user_id=bad)
        yield lambda bad=bad: svc.license(actor=owner, establishment_id=bad, user_id=uid)
        yield lambda bad=bad: svc.licenses(actor=bad, establishment_id=e)
        yield lambda bad=bad: svc.queue(actor=desk, status=bad)
        yield lambda bad=bad: svc.licenses(actor=owner, establishment_id=e, status=bad)
    for kind in ("nurse", "PHYSICIAN", "", " staff", 5, b"staff", ["staff"]):
        yield lambda kind=kind: svc.provision(
            actor=owner, establishment_id=e, user_id=uid, kind=kind
        )
        yield lambda kind=kind: svc.set_kind(
            actor=owner, establishment_id=e, user_id=uid, kind=kind
        )
    for status in ("bogus", "Requested", "", {}):
        yield lambda status=status: svc.queue(actor=desk, status=status)
        yield lambda status=status: svc.licenses(actor=owner, establishment_id=e, status=status)
    yield lambda: svc.provision(actor=owner, establishment_id="nowhere", user_id=uid)
    yield lambda: svc.provision(actor=owner, establishment_id=e, user_id="nobody")
    yield lambda: svc.request_activation(actor=owner, establishment_id=e, user_id="nobody")
    yield lambda: svc.overdue(actor=5)
    yield lambda: svc.record_payment(actor=[desk], invoice_number=INVOICE)
    yield lambda: svc.invoice(actor=desk, establishment_id=e, invoice_number="F-9", user_ids=[5])
    yield lambda: svc.preview_invoice(actor=desk, establishment_id=e, user_ids=["nobody"])


def test_bad_inputs_raise_coded_errors_and_change_nothing():
    p = practice()
    provision(p)
    request(p)
    before = snapshot(p)
    codes = []
    for call in _bad_calls(p):
        with pytest.raises(PracticeIdError) as caught:
            call()
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", caught.value.code)
        codes.append(caught.value.code)
        if isinstance(caught.value, LicenseRejected | AccessRejected):
            assert caught.value.codes
    assert snapshot(p) == before
    assert {
        "access.rejected",
        "license.rejected",
        "establishment.not_found",
        "membership.not_found",
        "license.not_found",
    } <= set(codes)
    rejected = Counter(codes)
    assert rejected["license.rejected"] >= 20


@pytest.mark.parametrize("user_ids", [5, [[INVOICE]], [{"id": 1}], object()])
def test_invoice_user_ids_that_are_not_a_list_of_ids_are_refused_with_a_code(user_ids):
    p = practice()
    provision(p)
    request(p)
    before = snapshot(p)
    for call in (
        lambda: invoice(p, user_ids=user_ids),
        lambda: p.licenses.preview_invoice(
            actor=p.desk.id, establishment_id=p.establishment.id, user_ids=user_ids
        ),
    ):
        with pytest.raises(PracticeIdError):
            call()
    assert snapshot(p) == before


def test_membership_and_license_lookups_are_not_found_errors():
    p = practice()
    with pytest.raises(MembershipNotFound):
        provision(p, "nobody")
    with pytest.raises(LicenseNotFound) as caught:
        request(p)
    assert caught.value.params["user_id"] == p.physician.id
    with pytest.raises(LicenseNotFound):
        activate(p)


# -- messages: through the outbox, once per key, to stored addresses ----------------------------


def test_every_message_goes_through_the_outbox_once_per_key_to_stored_addresses():
    p = practice(settings=LicenseSettings(desk_address=DESK))
    other = add_gp(p, "Hugo", "Exemple")
    for uid in (p.physician.id, other):
        provision(p, uid)
        request(p, uid)
    invoice(p)
    pay(p)
    p.clock.set(midnight(date(2026, 2, 6)))
    p.licenses.run_due()  # both late
    activate(p)  # through 5 February 2027
    p.clock.set(midnight(date(2027, 1, 7)))
    p.licenses.run_due()  # the first notice of the term
    messages = outbox(p)
    keys = [m.idempotency_key for m in messages]
    assert len(set(keys)) == len(keys)
    with p.unit_of_work() as uow:
        addresses = {u.email.address for u in uow.users.list()} | {DESK}
    assert {m.recipient for m in messages} <= addresses
    assert Counter(m.kind for m in messages) == {
        M.LICENSE_REQUESTED: 2,  # to the desk
        M.LICENSE_ACTIVATION_LATE: 4,  # to the requester and the desk, each
        M.LICENSE_ACTIVATED: 1,
        M.LICENSE_EXPIRING: 1,
    }
    assert {m.user_id for m in messages} == {p.physician.id, other}
    delivered = p.deliver()
    assert len(delivered.sent) == len(messages)
    p.licenses.run_due()
    assert len(p.deliver().sent) == len(messages)  # nothing new, nothing twice
    for message in messages:
        assert message.params["establishment"] == p.establishment.name
        assert message.params["license_kind"] == "physician"


def test_a_refused_change_writes_no_message():
    p = practice(settings=LicenseSettings(desk_address=DESK))
    provision(p)
    request(p)
    before = outbox(p)
    with pytest.raises(IllegalLicenseTransition):
        request(p)
    with pytest.raises(IllegalLicenseTransition):
        activate(p)
    with pytest.raises(LicenseRejected):
        invoice(p, "bad number")
    assert outbox(p) == before
