"""The audit trail of the profile and license services (F3; A7, B1-B6, C7, E1-E4).

Every allowed command records exactly one success event, in the unit of work of the
change: who acted, in which chain (the establishment the command names, else the platform
chain for a person's own data), on which target, with a few plain details. A command that
changes nothing records its success too, with ``changed: False``, and writes nothing else
(no new version). A refused command records one ``refused`` event with the error's code;
the reads record nothing. The sweep, which is no command, records one event per license it
moves on, without actor, and nothing for the others. Every chain still verifies after each
test.

The practice is :func:`~practiceid.testing.sample_licensing` on the in-memory store: an
owner, a general practitioner with an INAMI number, a secretary and the vendor's license
desk. Names, numbers and addresses are made up.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from practiceid import (
    DuplicateInitials,
    EstablishmentProfileRejected,
    IllegalLicenseTransition,
    LicenseNotFound,
    LicenseRejected,
    LicenseService,
    PermissionDenied,
    PracticeIdError,
    PractitionerRejected,
    ProductKind,
    ProfileRejected,
    StaleRecord,
    UserId,
)
from practiceid.audit import PLATFORM_CHAIN, AuditEvent, Outcome, verify_chain
from practiceid.testing import (
    SampleLicensing,
    sample_certificate,
    sample_inami,
    sample_licensing,
    sample_png,
    sample_workplace,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
IBAN = "BE48 3200 7018 4927"  # documented example of policies/identifiers/iban.py
IBAN_DIGITS = "BE48320070184927"
INVOICE = "F-2026-0001"


def _niss(first_nine: str) -> str:
    """A made-up NISS of someone born in the 20th century (check over nine digits)."""
    return first_nine + f"{97 - int(first_nine) % 97:02d}"


NISS = _niss("900101123")


def midnight(day: date) -> datetime:
    """The instant ``day`` starts in Brussels, in UTC."""
    return datetime.combine(day, time(), tzinfo=BRUSSELS).astimezone(UTC)


# -- helpers ----------------------------------------------------------------------------------


def _trail(p: SampleLicensing) -> dict[str, int]:
    with p.unit_of_work() as uow:
        return {chain: len(uow.audit.records(chain)) for chain in uow.audit.chains()}


def _chains_intact(p: SampleLicensing) -> None:
    with p.unit_of_work() as uow:
        for chain in uow.audit.chains():
            result = verify_chain(uow.audit.records(chain), chain=chain)
            assert result.intact, (chain, result)


@contextlib.contextmanager
def recorded(p: SampleLicensing) -> Iterator[list[tuple[str, AuditEvent]]]:
    """Collect the events recorded inside the block, with their chain; check every chain."""
    before = _trail(p)
    events: list[tuple[str, AuditEvent]] = []
    yield events
    with p.unit_of_work() as uow:
        events.extend(
            (chain, record.event)
            for chain in uow.audit.chains()
            for record in uow.audit.records(chain, after=before.get(chain, 0))
        )
    _chains_intact(p)


def one(events: list[tuple[str, AuditEvent]]) -> tuple[str, AuditEvent]:
    assert len(events) == 1, events
    return events[0]


def add_gp(
    p: SampleLicensing, first_name: str, *, competence: str = "003", supervisor=None
) -> UserId:
    uid = p.access.add_member(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email=f"{first_name.lower()}.exemple@cabinet-exemple.be",
        roles=("physician",) if competence == "003" else ("trainee",),
        first_name=first_name,
        last_name="Exemple",
    ).user.id
    p.profiles.save_practitioner(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        user_id=uid,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": sample_inami(competence)},
        addresses=[sample_workplace()],
        supervisor=supervisor,
    )
    return uid


def save_profile(p: SampleLicensing, name: str = "Cabinet de l'Exemple", **options):
    return p.profiles.save_establishment_profile(
        actor=options.pop("actor", p.owner.id),
        establishment_id=options.pop("establishment_id", p.establishment.id),
        name=name,
        street="Rue de l'Exemple 1",
        postal_code="5000",
        city="Namur",
        country="BE",
        phone="081 22 33 44",
        email="accueil@cabinet-exemple.be",
        **options,
    )


def provision(p: SampleLicensing, user_id: UserId | None = None):
    return p.licenses.provision(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        user_id=p.physician.id if user_id is None else user_id,
    )


def request(p: SampleLicensing, user_id: UserId | None = None):
    return p.licenses.request_activation(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        user_id=p.physician.id if user_id is None else user_id,
    )


def invoice(p: SampleLicensing, number: str = INVOICE, **options):
    return p.licenses.invoice(
        actor=p.desk.id, establishment_id=p.establishment.id, invoice_number=number, **options
    )


def pay(p: SampleLicensing, number: str = INVOICE):
    return p.licenses.record_payment(actor=p.desk.id, invoice_number=number)


def activate(p: SampleLicensing):
    return p.licenses.activate(
        actor=p.desk.id, establishment_id=p.establishment.id, user_id=p.physician.id
    )


def assert_succeeded(
    chain_and_event: tuple[str, AuditEvent],
    action: str,
    *,
    actor: UserId | None,
    chain: str,
    target: tuple[str, str],
) -> AuditEvent:
    chain_of_event, event = chain_and_event
    assert event.action == action
    assert event.outcome is Outcome.SUCCEEDED
    assert event.code == ""
    assert event.actor == actor
    assert chain_of_event == chain
    assert (event.target_type, event.target_id) == target
    return event


def assert_refused(
    chain_and_event: tuple[str, AuditEvent],
    action: str,
    error: PracticeIdError,
    *,
    actor: UserId,
    chain: str,
    target: tuple[str, str],
) -> AuditEvent:
    chain_of_event, event = chain_and_event
    assert event.action == action
    assert event.outcome is Outcome.REFUSED
    assert event.code == error.code
    assert event.actor == actor
    assert chain_of_event == chain
    assert (event.target_type, event.target_id) == target
    return event


def _written(event: AuditEvent) -> str:
    return json.dumps(event.canonical(), default=str)


@pytest.fixture
def p() -> SampleLicensing:
    return sample_licensing()


# -- names and initials (A7) ------------------------------------------------------------------


def test_a_rename_records_which_names_changed_in_the_platform_chain_a7_f3(p: SampleLicensing):
    with recorded(p) as events:
        p.profiles.rename(
            actor=p.owner.id, user_id=p.physician.id, first_name="Jeanne", last_name="Autre"
        )
    event = assert_succeeded(
        one(events),
        "profile.rename",
        actor=p.owner.id,
        chain=PLATFORM_CHAIN,
        target=("user", p.physician.id),
    )
    assert event.detail == {"fields": "last_name", "changed": True}
    assert "Autre" not in _written(event)


def test_a_rename_that_changes_nothing_records_its_success_unchanged_a7_f3(p: SampleLicensing):
    with p.unit_of_work() as uow:
        before = uow.users.get(p.physician.id)
    with recorded(p) as events:
        kept = p.profiles.rename(
            actor=p.owner.id,
            user_id=p.physician.id,
            first_name=p.physician.first_name,
            last_name=p.physician.last_name,
        )
    event = assert_succeeded(
        one(events),
        "profile.rename",
        actor=p.owner.id,
        chain=PLATFORM_CHAIN,
        target=("user", p.physician.id),
    )
    assert event.detail == {"fields": "", "changed": False}
    assert kept == before
    with p.unit_of_work() as uow:
        assert uow.users.get(p.physician.id).version == before.version  # no new version


def test_a_refused_rename_records_the_refusal_with_its_code_a7_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(PermissionDenied) as raised:
        p.profiles.rename(
            actor=p.secretary.id, user_id=p.physician.id, first_name="X", last_name="Y"
        )
    assert_refused(
        one(events),
        "profile.rename",
        raised.value,
        actor=p.secretary.id,
        chain=PLATFORM_CHAIN,
        target=("user", p.physician.id),
    )


def test_a_rename_refused_for_bad_input_is_recorded_once_a7_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(ProfileRejected) as raised:
        p.profiles.rename(actor=p.owner.id, user_id=p.physician.id, first_name="", last_name="")
    assert one(events)[1].code == raised.value.code


def test_new_initials_are_recorded_in_the_establishment_chain_a7_f3(p: SampleLicensing):
    with recorded(p) as events:
        p.profiles.set_initials(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            initials="JXE",
        )
    event = assert_succeeded(
        one(events),
        "member.set_initials",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )
    assert event.detail == {"fields": "initials", "changed": True}


def test_the_same_initials_again_record_their_success_unchanged_a7_f3(p: SampleLicensing):
    with p.unit_of_work() as uow:
        before = uow.memberships.get(p.establishment.id, p.physician.id)
    with recorded(p) as events:
        kept = p.profiles.set_initials(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            initials=before.initials,
        )
    event = assert_succeeded(
        one(events),
        "member.set_initials",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )
    assert event.detail == {"fields": "", "changed": False}
    assert kept == before
    with p.unit_of_work() as uow:
        assert uow.memberships.get(p.establishment.id, p.physician.id).version == before.version


def test_initials_someone_else_has_are_a_refusal_in_the_establishment_chain_a7_f3(
    p: SampleLicensing,
):
    with p.unit_of_work() as uow:
        taken = uow.memberships.get(p.establishment.id, p.secretary.id).initials
    with recorded(p) as events, pytest.raises(DuplicateInitials) as raised:
        p.profiles.set_initials(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            initials=taken,
        )
    assert_refused(
        one(events),
        "member.set_initials",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )


def test_a_refusal_naming_an_unknown_establishment_goes_to_the_platform_chain_f3(
    p: SampleLicensing,
):
    with recorded(p) as events, pytest.raises(PracticeIdError) as raised:
        p.profiles.set_initials(
            actor=p.owner.id,
            establishment_id="nowhere",
            user_id=p.physician.id,
            initials="JE",
        )
    event = assert_refused(
        one(events),
        "member.set_initials",
        raised.value,
        actor=p.owner.id,
        chain=PLATFORM_CHAIN,
        target=("user", p.physician.id),
    )
    assert event.detail == {"establishment_id": "nowhere"}


# -- practitioner data (B1-B4) ------------------------------------------------------------------


def test_saving_practitioner_data_records_field_names_never_the_numbers_b1_b2_f3(
    p: SampleLicensing,
):
    number = sample_inami("003")
    with recorded(p) as events:
        p.profiles.save_practitioner(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": number, "niss": NISS},
            addresses=[sample_workplace()],
        )
    event = assert_succeeded(
        one(events),
        "practitioner.save",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )
    assert event.detail == {
        "changed": True,
        "created": False,
        "fields": "inami,niss",
        "supervisors_changed": 0,
    }
    written = _written(event)
    assert NISS not in written
    assert number not in written


def test_new_practitioner_data_names_the_fields_it_sets_b1_f3(p: SampleLicensing):
    uid = p.access.add_member(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email="hugo.exemple@cabinet-exemple.be",
        roles=["physician"],
        first_name="Hugo",
        last_name="Exemple",
    ).user.id
    with recorded(p) as events:
        p.profiles.save_practitioner(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=uid,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": sample_inami("003")},
            addresses=[sample_workplace()],
        )
    event = one(events)[1]
    assert event.detail == {
        "created": True,
        "fields": "addresses,country,inami,profession",
        "supervisors_changed": 0,
    }


def test_refused_practitioner_data_is_recorded_with_its_code_b1_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(PractitionerRejected) as raised:
        p.profiles.save_practitioner(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            profession="astronaut",
            country="BE",
            identifiers={"niss": NISS},
        )
    event = assert_refused(
        one(events),
        "practitioner.save",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )
    assert NISS not in _written(event)


def test_choosing_a_supervisor_is_recorded_with_both_supervisors_b4_f3(p: SampleLicensing):
    trainee = add_gp(p, "Tom", competence="005", supervisor=p.physician.id)
    other = add_gp(p, "Hugo")
    with recorded(p) as events:
        p.profiles.set_supervisor(
            actor=trainee, establishment_id=p.establishment.id, trainee=trainee, supervisor=other
        )
    event = assert_succeeded(
        one(events),
        "member.set_supervisor",
        actor=trainee,
        chain=p.establishment.id,
        target=("user", trainee),
    )
    assert event.detail == {
        "supervisor": other,
        "previous_supervisor": p.physician.id,
        "changed": True,
    }


def test_the_same_supervisor_again_records_its_success_unchanged_b4_f3(p: SampleLicensing):
    trainee = add_gp(p, "Tom", competence="005", supervisor=p.physician.id)
    with p.unit_of_work() as uow:
        before = uow.memberships.get(p.establishment.id, trainee)
        establishment_version = uow.establishments.get(p.establishment.id).version
    with recorded(p) as events:
        kept = p.profiles.set_supervisor(
            actor=trainee,
            establishment_id=p.establishment.id,
            trainee=trainee,
            supervisor=p.physician.id,
        )
    event = assert_succeeded(
        one(events),
        "member.set_supervisor",
        actor=trainee,
        chain=p.establishment.id,
        target=("user", trainee),
    )
    assert event.detail == {
        "supervisor": p.physician.id,
        "previous_supervisor": p.physician.id,
        "changed": False,
    }
    assert kept == before
    with p.unit_of_work() as uow:
        assert uow.memberships.get(p.establishment.id, trainee).version == before.version
        assert uow.establishments.get(p.establishment.id).version == establishment_version


def test_a_refused_supervisor_is_recorded_against_the_trainee_b4_f3(p: SampleLicensing):
    trainee = add_gp(p, "Tom", competence="005", supervisor=p.physician.id)
    with recorded(p) as events, pytest.raises(PractitionerRejected) as raised:
        p.profiles.set_supervisor(
            actor=trainee, establishment_id=p.establishment.id, trainee=trainee, supervisor=trainee
        )
    assert_refused(
        one(events),
        "member.set_supervisor",
        raised.value,
        actor=trainee,
        chain=p.establishment.id,
        target=("user", trainee),
    )


def test_a_hand_over_is_one_event_counting_the_trainees_b4_f3(p: SampleLicensing):
    add_gp(p, "Tom", competence="005", supervisor=p.physician.id)
    add_gp(p, "Tim", competence="005", supervisor=p.physician.id)
    other = add_gp(p, "Hugo")
    with recorded(p) as events:
        p.profiles.hand_over_trainees(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            supervisor=p.physician.id,
            new_supervisor=other,
        )
    event = assert_succeeded(
        one(events),
        "member.hand_over_trainees",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )
    assert event.detail == {"new_supervisor": other, "trainees": 2, "changed": True}


def test_a_hand_over_with_no_trainee_records_its_success_unchanged_b4_f3(p: SampleLicensing):
    other = add_gp(p, "Hugo")
    with p.unit_of_work() as uow:
        establishment_version = uow.establishments.get(p.establishment.id).version
    with recorded(p) as events:
        handed = p.profiles.hand_over_trainees(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            supervisor=p.physician.id,
            new_supervisor=other,
        )
    assert handed == []
    event = assert_succeeded(
        one(events),
        "member.hand_over_trainees",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )
    assert event.detail == {"new_supervisor": other, "trainees": 0, "changed": False}
    with p.unit_of_work() as uow:
        assert uow.establishments.get(p.establishment.id).version == establishment_version


def test_a_hand_over_to_the_same_supervisor_records_its_success_unchanged_b4_f3(
    p: SampleLicensing,
):
    trainee = add_gp(p, "Tom", competence="005", supervisor=p.physician.id)
    with p.unit_of_work() as uow:
        before = uow.memberships.get(p.establishment.id, trainee)
    with recorded(p) as events:
        kept = p.profiles.hand_over_trainees(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            supervisor=p.physician.id,
            new_supervisor=p.physician.id,
        )
    assert list(kept) == [before]
    assert one(events)[1].detail == {
        "new_supervisor": p.physician.id,
        "trainees": 0,
        "changed": False,
    }
    with p.unit_of_work() as uow:
        assert uow.memberships.get(p.establishment.id, trainee).version == before.version


def test_a_refused_hand_over_is_recorded_against_the_supervisor_b4_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(PermissionDenied) as raised:
        p.profiles.hand_over_trainees(
            actor=p.secretary.id,
            establishment_id=p.establishment.id,
            supervisor=p.physician.id,
            new_supervisor=p.owner.id,
        )
    assert_refused(
        one(events),
        "member.hand_over_trainees",
        raised.value,
        actor=p.secretary.id,
        chain=p.establishment.id,
        target=("user", p.physician.id),
    )


# -- settings and billing (B5, B6): the person's own data, the platform chain -------------------


def test_a_hub_region_is_recorded_in_the_platform_chain_b5_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events:
        p.profiles.set_hub_region(actor=me, user_id=me, region="wallonia")
    event = assert_succeeded(
        one(events),
        "practitioner.set_hub_region",
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert event.detail == {"fields": "settings.hub_region", "changed": True}


def test_an_unknown_hub_region_is_a_refusal_b5_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events, pytest.raises(PractitionerRejected) as raised:
        p.profiles.set_hub_region(actor=me, user_id=me, region="atlantis")
    assert_refused(
        one(events),
        "practitioner.set_hub_region",
        raised.value,
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )


def test_an_ehealth_certificate_is_recorded_without_its_password_b5_f3(p: SampleLicensing):
    me = p.physician.id
    keystore = sample_certificate(
        not_before=p.clock.now() - timedelta(days=1), password="Clef-Exemple-7291"
    )
    with recorded(p) as events:
        p.profiles.register_ehealth_certificate(
            actor=me, user_id=me, certificate=keystore, password="Clef-Exemple-7291"
        )
    event = assert_succeeded(
        one(events),
        "practitioner.register_ehealth_certificate",
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert event.detail == {"fields": "settings.ehealth", "changed": True}
    assert "Clef-Exemple" not in _written(event)


def test_an_unreadable_certificate_is_a_refusal_without_its_password_b5_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events, pytest.raises(PractitionerRejected) as raised:
        p.profiles.register_ehealth_certificate(
            actor=me, user_id=me, certificate=b"not a keystore", password="Clef-Exemple-7291"
        )
    event = assert_refused(
        one(events),
        "practitioner.register_ehealth_certificate",
        raised.value,
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert "Clef-Exemple" not in _written(event)


def test_an_edmg_registration_is_recorded_without_the_accounts_b5_b6_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events:
        p.profiles.register_edmg(actor=me, user_id=me, accounts=IBAN, accept_terms=True)
    event = assert_succeeded(
        one(events),
        "practitioner.register_edmg",
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert event.detail == {"fields": "settings.edmg", "changed": True}
    assert IBAN_DIGITS not in _written(event)


def test_edmg_terms_not_accepted_are_a_refusal_b5_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events, pytest.raises(PractitionerRejected) as raised:
        p.profiles.register_edmg(actor=me, user_id=me, accounts=IBAN, accept_terms=False)
    assert_refused(
        one(events),
        "practitioner.register_edmg",
        raised.value,
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )


def test_billing_data_is_recorded_as_field_names_never_the_iban_b6_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events:
        p.profiles.save_billing(actor=me, user_id=me, iban_number=IBAN, conventioned=True)
    event = assert_succeeded(
        one(events),
        "practitioner.save_billing",
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert event.detail == {"fields": "billing.conventioned,billing.iban", "changed": True}
    assert IBAN_DIGITS not in _written(event)


def test_a_refused_iban_is_recorded_without_its_value_b6_f3(p: SampleLicensing):
    me = p.physician.id
    with recorded(p) as events, pytest.raises(PractitionerRejected) as raised:
        p.profiles.save_billing(actor=me, user_id=me, iban_number="BE00 1234 5678 9012")
    event = assert_refused(
        one(events),
        "practitioner.save_billing",
        raised.value,
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert "5678" not in _written(event)


def test_billing_saved_unchanged_records_its_success_unchanged_b6_f3(p: SampleLicensing):
    me = p.physician.id
    saved = p.profiles.save_billing(actor=me, user_id=me, iban_number=IBAN)
    with recorded(p) as events:
        kept = p.profiles.save_billing(actor=me, user_id=me, iban_number=IBAN)
    event = assert_succeeded(
        one(events),
        "practitioner.save_billing",
        actor=me,
        chain=PLATFORM_CHAIN,
        target=("user", me),
    )
    assert event.detail == {"fields": "", "changed": False}
    assert kept == saved
    with p.unit_of_work() as uow:
        assert uow.practitioners.get(me).version == saved.version  # no new version


def test_a_hub_region_chosen_again_records_its_success_unchanged_b5_f3(p: SampleLicensing):
    me = p.physician.id
    saved = p.profiles.set_hub_region(actor=me, user_id=me, region="wallonia")
    with recorded(p) as events:
        kept = p.profiles.set_hub_region(actor=me, user_id=me, region="wallonia")
    assert one(events)[1].detail == {"fields": "", "changed": False}
    assert kept == saved


# -- the establishment's profile (C7, B6) --------------------------------------------------------


def test_a_new_establishment_profile_is_recorded_in_its_chain_c7_f3(p: SampleLicensing):
    with recorded(p) as events:
        save_profile(p, "Cabinet du Parc", inami_number=None)
    event = assert_succeeded(
        one(events),
        "establishment.save_profile",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )
    assert event.detail == {"created": True, "fields": "address,name"}


def test_an_establishment_profile_saved_unchanged_records_its_success_unchanged_c7_f3(
    p: SampleLicensing,
):
    saved = save_profile(p)
    with p.unit_of_work() as uow:
        establishment_version = uow.establishments.get(p.establishment.id).version
    p.clock.advance(days=1)
    with recorded(p) as events:
        kept = save_profile(p)
    event = assert_succeeded(
        one(events),
        "establishment.save_profile",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )
    assert event.detail == {"created": False, "fields": "", "changed": False}
    assert kept == saved
    with p.unit_of_work() as uow:
        assert uow.establishment_profiles.find(p.establishment.id).version == saved.version
        assert uow.establishments.get(p.establishment.id).version == establishment_version


def test_an_establishment_profile_saved_with_another_name_records_the_rename_c7_f3(
    p: SampleLicensing,
):
    save_profile(p)
    with recorded(p) as events:
        save_profile(p, "Cabinet des Tilleuls")
    assert one(events)[1].detail == {"created": False, "fields": "name", "changed": True}


def test_a_refused_establishment_profile_is_recorded_c7_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(EstablishmentProfileRejected) as raised:
        save_profile(p, "")
    assert_refused(
        one(events),
        "establishment.save_profile",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )


def test_a_logo_set_then_removed_is_recorded_each_time_c7_f3(p: SampleLicensing):
    save_profile(p)
    with recorded(p) as events:
        p.profiles.set_logo(
            actor=p.owner.id, establishment_id=p.establishment.id, logo=sample_png()
        )
    event = assert_succeeded(
        one(events),
        "establishment.set_logo",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )
    assert event.detail == {"fields": "logo", "removed": False, "changed": True}
    with recorded(p) as events:
        p.profiles.set_logo(actor=p.owner.id, establishment_id=p.establishment.id, logo=None)
    assert one(events)[1].detail == {"fields": "logo", "removed": True, "changed": True}


def test_removing_a_logo_that_is_not_there_records_its_success_unchanged_c7_f3(
    p: SampleLicensing,
):
    saved = save_profile(p)
    with recorded(p) as events:
        kept = p.profiles.set_logo(actor=p.owner.id, establishment_id=p.establishment.id, logo=None)
    event = assert_succeeded(
        one(events),
        "establishment.set_logo",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )
    assert event.detail == {"fields": "", "removed": True, "changed": False}
    assert kept == saved
    with p.unit_of_work() as uow:
        assert uow.establishment_profiles.find(p.establishment.id).version == saved.version


def test_a_refused_logo_is_recorded_c7_f3(p: SampleLicensing):
    save_profile(p)
    with recorded(p) as events, pytest.raises(EstablishmentProfileRejected) as raised:
        p.profiles.set_logo(
            actor=p.owner.id, establishment_id=p.establishment.id, logo=b"not an image"
        )
    assert_refused(
        one(events),
        "establishment.set_logo",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )


def test_the_trainee_account_is_recorded_without_its_iban_b6_f3(p: SampleLicensing):
    save_profile(p)
    with recorded(p) as events:
        p.profiles.set_trainee_account(
            actor=p.owner.id, establishment_id=p.establishment.id, iban_number=IBAN
        )
    event = assert_succeeded(
        one(events),
        "establishment.set_trainee_account",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )
    assert event.detail == {"fields": "trainee_account", "removed": False, "changed": True}
    assert IBAN_DIGITS not in _written(event)


def test_a_trainee_account_before_the_profile_is_a_refusal_b6_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(EstablishmentProfileRejected) as raised:
        p.profiles.set_trainee_account(
            actor=p.owner.id, establishment_id=p.establishment.id, iban_number=IBAN
        )
    assert_refused(
        one(events),
        "establishment.set_trainee_account",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("establishment", p.establishment.id),
    )


def test_profile_reads_record_nothing_b4_c7_f3(p: SampleLicensing):
    save_profile(p)
    with recorded(p) as events:
        p.profiles.practitioner(actor=p.owner.id, user_id=p.physician.id)
        p.profiles.establishment_profile(actor=p.owner.id, establishment_id=p.establishment.id)
        p.profiles.report_header(actor=p.owner.id, establishment_id=p.establishment.id)
        p.profiles.pays_license(establishment_id=p.establishment.id, user_id=p.physician.id)
        p.profiles.trainees(
            actor=p.owner.id, establishment_id=p.establishment.id, supervisor=p.physician.id
        )
        with pytest.raises(PermissionDenied):
            p.profiles.practitioner(actor=p.desk.id, user_id=p.physician.id)
    assert events == []


# -- licenses (E1-E4) ------------------------------------------------------------------------------


def test_provisioning_records_the_new_license_e1_f3(p: SampleLicensing):
    with recorded(p) as events:
        provision(p)
    event = assert_succeeded(
        one(events),
        "license.provision",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert event.detail == {"kind": "physician", "status": "provisional", "status_before": None}


def test_provisioning_again_records_its_success_unchanged_e1_f3(p: SampleLicensing):
    seat = provision(p)
    with recorded(p) as events:
        again = provision(p)
    event = assert_succeeded(
        one(events),
        "license.provision",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert event.detail == {
        "changed": False,
        "kind": "physician",
        "status": "provisional",
        "status_before": "provisional",
    }
    assert again == seat
    with p.unit_of_work() as uow:
        assert uow.licenses.get(p.establishment.id, p.physician.id).version == seat.version


def test_a_refused_provisioning_is_recorded_with_its_code_e3_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(LicenseRejected) as raised:
        p.licenses.provision(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            kind="locum",  # not offered in general practice
        )
    assert_refused(
        one(events),
        "license.provision",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )


def test_a_change_of_kind_records_both_kinds_e4_f3():
    p = sample_licensing(ProductKind.VETERINARY)
    provision(p)
    with recorded(p) as events:
        p.licenses.set_kind(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            kind="locum",
        )
    event = assert_succeeded(
        one(events),
        "license.set_kind",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert event.detail == {
        "changed": True,
        "kind": "locum",
        "kind_before": "physician",
        "status": "provisional",
        "status_before": "provisional",
    }


def test_the_same_kind_again_records_its_success_unchanged_e4_f3(p: SampleLicensing):
    seat = provision(p)
    with recorded(p) as events:
        again = p.licenses.set_kind(
            actor=p.owner.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            kind="physician",
        )
    event = assert_succeeded(
        one(events),
        "license.set_kind",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert event.detail == {
        "changed": False,
        "kind": "physician",
        "kind_before": "physician",
        "status": "provisional",
        "status_before": "provisional",
    }
    assert again == seat
    with p.unit_of_work() as uow:
        assert uow.licenses.get(p.establishment.id, p.physician.id).version == seat.version


def test_a_refused_change_of_kind_is_recorded_e4_f3(p: SampleLicensing):
    provision(p)
    with recorded(p) as events, pytest.raises(PermissionDenied) as raised:
        p.licenses.set_kind(
            actor=p.physician.id,
            establishment_id=p.establishment.id,
            user_id=p.physician.id,
            kind="physician",
        )
    assert_refused(
        one(events),
        "license.set_kind",
        raised.value,
        actor=p.physician.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )


def test_a_request_records_the_move_to_requested_e2_f3(p: SampleLicensing):
    provision(p)
    with recorded(p) as events:
        request(p)
    event = assert_succeeded(
        one(events),
        "license.request",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert event.detail == {
        "bill_to": p.physician.id,
        "changed": True,
        "kind": "physician",
        "months": 12,
        "status": "requested",
        "status_before": "provisional",
    }


def test_a_request_for_a_member_without_a_license_is_a_refusal_e2_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(LicenseNotFound) as raised:
        request(p)
    assert_refused(
        one(events),
        "license.request",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )


def test_a_withdrawal_records_the_return_to_provisional_e2_f3(p: SampleLicensing):
    provision(p)
    request(p)
    with recorded(p) as events:
        p.licenses.withdraw(
            actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
    event = assert_succeeded(
        one(events),
        "license.withdraw",
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert (event.detail["status_before"], event.detail["status"]) == ("requested", "provisional")
    assert event.detail["changed"] is True


def test_withdrawing_what_was_never_requested_is_a_refusal_e2_f3(p: SampleLicensing):
    provision(p)
    with recorded(p) as events, pytest.raises(IllegalLicenseTransition) as raised:
        p.licenses.withdraw(
            actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
    assert_refused(
        one(events),
        "license.withdraw",
        raised.value,
        actor=p.owner.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )


def test_an_invoice_is_one_event_on_the_invoice_number_e2_f3(p: SampleLicensing):
    other = add_gp(p, "Hugo")
    for uid in (p.physician.id, other):
        provision(p, uid)
        request(p, uid)
    with recorded(p) as events:
        made = invoice(p)
    event = assert_succeeded(
        one(events),
        "license.invoice",
        actor=p.desk.id,
        chain=p.establishment.id,
        target=("invoice", INVOICE),
    )
    assert event.detail == {
        "currency": made.currency,
        "licenses": 2,
        "total": str(made.total),
    }


def test_a_refused_invoice_is_recorded_in_the_establishment_chain_e2_f3(p: SampleLicensing):
    with recorded(p) as events, pytest.raises(LicenseRejected) as raised:
        invoice(p)  # nothing requested
    assert_refused(
        one(events),
        "license.invoice",
        raised.value,
        actor=p.desk.id,
        chain=p.establishment.id,
        target=("invoice", INVOICE),
    )


def test_a_payment_is_one_event_counting_its_licenses_e2_f3(p: SampleLicensing):
    other = add_gp(p, "Hugo")
    for uid in (p.physician.id, other):
        provision(p, uid)
        request(p, uid)
    invoice(p)
    with recorded(p) as events:
        paid = pay(p)
    assert len(paid) == 2
    event = assert_succeeded(
        one(events),
        "license.record_payment",
        actor=p.desk.id,
        chain=p.establishment.id,
        target=("invoice", INVOICE),
    )
    assert event.detail == {"licenses": 2, "paid_at": p.clock.now().isoformat()}


def test_a_payment_of_an_unknown_invoice_is_refused_in_the_platform_chain_e2_f3(
    p: SampleLicensing,
):
    with recorded(p) as events, pytest.raises(LicenseRejected) as raised:
        pay(p, "F-9999")
    assert_refused(
        one(events),
        "license.record_payment",
        raised.value,
        actor=p.desk.id,
        chain=PLATFORM_CHAIN,
        target=("invoice", "F-9999"),
    )


def test_an_activation_records_whether_it_was_late_e2_f3(p: SampleLicensing):
    provision(p)
    request(p)
    invoice(p)
    pay(p)
    p.clock.set(midnight(date(2026, 2, 6)))  # the day after the deadline
    with recorded(p) as events:
        activate(p)
    event = assert_succeeded(
        one(events),
        "license.activate",
        actor=p.desk.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )
    assert event.detail == {
        "changed": True,
        "kind": "physician",
        "late": True,
        "status": "active",
        "status_before": "paid",
    }


def test_activating_an_unpaid_license_is_a_refusal_e2_f3(p: SampleLicensing):
    provision(p)
    with recorded(p) as events, pytest.raises(IllegalLicenseTransition) as raised:
        activate(p)
    assert_refused(
        one(events),
        "license.activate",
        raised.value,
        actor=p.desk.id,
        chain=p.establishment.id,
        target=("license", p.physician.id),
    )


def test_a_command_by_someone_without_the_permission_is_a_refusal_e2_f3(p: SampleLicensing):
    provision(p)
    request(p)
    with recorded(p) as events, pytest.raises(PermissionDenied) as raised:
        p.licenses.invoice(
            actor=p.secretary.id, establishment_id=p.establishment.id, invoice_number=INVOICE
        )
    assert_refused(
        one(events),
        "license.invoice",
        raised.value,
        actor=p.secretary.id,
        chain=p.establishment.id,
        target=("invoice", INVOICE),
    )


# -- the sweep (E1, E2) ---------------------------------------------------------------------------


def test_the_sweep_records_each_notice_and_the_expiry_without_actor_e1_f3(p: SampleLicensing):
    provision(p)
    other = add_gp(p, "Hugo")
    provision(p, other)
    p.clock.set(midnight(date(2026, 1, 20)))  # the first notice, 30 days before the end
    with recorded(p) as events:
        p.licenses.run_due()
    assert len(events) == 2  # one per license
    for chain, event in events:
        assert (chain, event.action, event.actor) == (p.establishment.id, "license.notice", None)
        assert event.outcome is Outcome.SUCCEEDED
        assert event.detail == {
            "activation_late": False,
            "kind": "physician",
            "messages": 1,
            "notices_sent": 1,
            "status": "provisional",
            "status_before": "provisional",
        }
    assert {event.target_id for _, event in events} == {p.physician.id, other}
    p.clock.set(midnight(date(2026, 2, 19)))  # the provisional 45 days are over
    with recorded(p) as events:
        p.licenses.run_due()
    actions = sorted((e.action, e.target_id, e.detail["status"]) for _, e in events)
    assert actions == sorted(
        [
            ("license.expire", p.physician.id, "expired"),
            ("license.expire", other, "expired"),
        ]
    )


def test_the_expiry_of_a_deactivated_members_license_is_recorded_though_nobody_is_told_e1_f3(
    p: SampleLicensing,
):
    provision(p)
    p.access.deactivate_user(actor=p.owner.id, user_id=p.physician.id)
    p.clock.set(midnight(date(2026, 2, 19)))
    with recorded(p) as events:
        p.licenses.run_due()
    _, event = one(events)
    assert (event.action, event.actor, event.target_id) == ("license.expire", None, p.physician.id)
    assert (event.detail["status"], event.detail["messages"]) == ("expired", 0)


def test_a_sweep_with_nothing_due_records_nothing_e1_f3(p: SampleLicensing):
    provision(p)
    p.clock.set(midnight(date(2026, 1, 20)))
    p.licenses.run_due()
    with recorded(p) as events:
        p.licenses.run_due()
    assert events == []


def test_the_sweep_records_a_late_activation_once_e2_f3(p: SampleLicensing):
    provision(p)
    request(p)
    invoice(p)
    pay(p)
    p.clock.set(midnight(date(2026, 2, 6)))
    with recorded(p) as events:
        p.licenses.run_due()
        p.licenses.run_due()
    _, event = one(events)
    assert (event.action, event.actor, event.target_id) == (
        "license.activation_late",
        None,
        p.physician.id,
    )
    assert event.detail["activation_late"] is True


def test_license_reads_record_nothing_e2_f3(p: SampleLicensing):
    provision(p)
    request(p)
    with recorded(p) as events:
        p.licenses.preview_invoice(actor=p.desk.id, establishment_id=p.establishment.id)
        p.licenses.queue(actor=p.desk.id, status="requested")
        p.licenses.overdue(actor=p.desk.id)
        p.licenses.license(
            actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
        p.licenses.licenses(actor=p.owner.id, establishment_id=p.establishment.id)
        p.licenses.access_for(p.physician.id, p.establishment.id)
        with pytest.raises(PermissionDenied):
            p.licenses.queue(actor=p.owner.id, status="requested")
    assert events == []


def test_a_retried_conflict_is_not_a_refusal_f3(p: SampleLicensing):
    factory = p.unit_of_work
    failures = [StaleRecord(entity="license")]

    def flaky():
        uow = factory()
        if failures:
            error = failures.pop()

            def commit() -> None:
                raise error

            uow.commit = commit
        return uow

    service = LicenseService(unit_of_work=flaky, access=p.access, clock=p.clock)
    with recorded(p) as events:
        service.provision(
            actor=p.owner.id, establishment_id=p.establishment.id, user_id=p.physician.id
        )
    assert [(e.action, e.outcome) for _, e in events] == [("license.provision", Outcome.SUCCEEDED)]
