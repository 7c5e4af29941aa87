"""Reading, checking and extending the audit trail through AuditService (F3)."""

from __future__ import annotations

import attrs
import pytest

from practiceid import AuditService, Permission
from practiceid.audit import PLATFORM_CHAIN, ChainProblem, Outcome
from practiceid.errors import AccessRejected, PermissionDenied
from practiceid.testing import SampleDevices, sample_devices

STAFF = "support-staff"


@pytest.fixture
def clinic() -> SampleDevices:
    return sample_devices()


@pytest.fixture
def audit(clinic: SampleDevices) -> AuditService:
    access = attrs.evolve(clinic.access, staff={STAFF: frozenset({Permission.AUDIT_VIEW})})
    return AuditService(
        unit_of_work=clinic.unit_of_work,
        access=access,
        clock=clinic.clock,
        keys=clinic.keys,
        request_context=clinic.request_context,
    )


def test_an_administrator_reads_the_establishments_chain_page_by_page(
    clinic: SampleDevices, audit: AuditService
) -> None:
    where = clinic.establishment.id
    first = audit.records(actor=clinic.owner.id, establishment_id=where, limit=2)
    second = audit.records(actor=clinic.owner.id, establishment_id=where, after=2, limit=2)
    assert [r.seq for r in first] == [1, 2]
    assert [r.seq for r in second] == [3, 4]
    assert first[0].event.action == "establishment.open"


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, 0), (0, 1001), ("0", 10), (0, 2.0)])
def test_bad_paging_is_rejected_with_a_code(
    clinic: SampleDevices, audit: AuditService, after: object, limit: object
) -> None:
    with pytest.raises(AccessRejected) as raised:
        audit.records(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            after=after,  # type: ignore[arg-type]
            limit=limit,  # type: ignore[arg-type]
        )
    assert raised.value.violations[0].code == "audit.invalid_page"


def test_reading_needs_audit_view(clinic: SampleDevices, audit: AuditService) -> None:
    with pytest.raises(PermissionDenied) as raised:
        audit.records(actor=clinic.members["nurse"], establishment_id=clinic.establishment.id)
    assert raised.value.params["permission"] == Permission.AUDIT_VIEW


def test_only_support_staff_read_the_platform_chain(
    clinic: SampleDevices, audit: AuditService
) -> None:
    records = audit.records(actor=STAFF, establishment_id=PLATFORM_CHAIN)
    assert records
    assert all(r.chain == PLATFORM_CHAIN for r in records)
    with pytest.raises(PermissionDenied):
        audit.records(actor=clinic.owner.id, establishment_id=PLATFORM_CHAIN)


@pytest.mark.parametrize("establishment_id", [None, 42])
def test_a_chain_is_named_by_text(
    clinic: SampleDevices, audit: AuditService, establishment_id: object
) -> None:
    with pytest.raises(AccessRejected):
        audit.records(
            actor=clinic.owner.id,
            establishment_id=establishment_id,  # type: ignore[arg-type]
        )


def test_verification_reads_in_batches_and_checks_the_anchor(
    clinic: SampleDevices, audit: AuditService
) -> None:
    where = clinic.establishment.id
    head = audit.head(actor=clinic.owner.id, establishment_id=where)
    assert head is not None
    result = audit.verify(actor=clinic.owner.id, establishment_id=where, anchor=head, batch=2)
    assert result.intact
    assert result.checked == head.seq
    # Records removed from the end: only the anchor shows it.
    with clinic.unit_of_work() as uow:
        store = uow._store
        store._audit[where].pop()
    assert audit.verify(actor=clinic.owner.id, establishment_id=where).intact
    cut = audit.verify(actor=clinic.owner.id, establishment_id=where, anchor=head)
    assert (cut.broken_at, cut.problem) == (head.seq, ChainProblem.TRUNCATED)


def test_verification_without_the_key_cannot_check_a_keyed_chain(
    clinic: SampleDevices, audit: AuditService
) -> None:
    keyless = attrs.evolve(audit, keys=None)
    result = keyless.verify(actor=clinic.owner.id, establishment_id=clinic.establishment.id)
    assert (result.broken_at, result.problem) == (1, ChainProblem.UNKNOWN_KEY)


def test_exporting_the_head_needs_audit_export(clinic: SampleDevices, audit: AuditService) -> None:
    with pytest.raises(PermissionDenied) as raised:
        audit.head(actor=clinic.members["nurse"], establishment_id=clinic.establishment.id)
    assert raised.value.params["permission"] == Permission.AUDIT_EXPORT


def test_a_host_records_its_own_acts_in_the_chain_under_the_device_session(
    clinic: SampleDevices, audit: AuditService
) -> None:
    """F3: signing a consultation on a shared tablet is recorded under the PIN's owner."""
    with clinic.request_context.bind(peer_address="192.0.2.50", request_id="req-7"):
        token = clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password).token
    clinic.devices.unlock(token, clinic.pins["veterinarian"])
    with (
        clinic.request_context.bind(peer_address="192.0.2.50", request_id="req-8"),
        clinic.devices.acting(token) as actor,
    ):
        record = audit.record(
            actor=actor.member,
            establishment_id=clinic.establishment.id,
            action="consultation.sign",
            target_type="consultation",
            target_id="c-1",
            details={"version": 3},
        )
    event = record.event
    assert (event.action, event.actor, event.outcome) == (
        "consultation.sign",
        clinic.members["veterinarian"],
        Outcome.SUCCEEDED,
    )
    assert event.device_session_id == actor.device_session_id
    assert event.account_id == clinic.clinic_login.user_id
    assert (event.peer_address, event.request_id) == ("192.0.2.50", "req-8")
    assert audit.verify(actor=clinic.owner.id, establishment_id=clinic.establishment.id).intact


def test_only_active_members_record_acts(clinic: SampleDevices, audit: AuditService) -> None:
    clinic.access.deactivate_member(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["nurse"],
    )
    with pytest.raises(PermissionDenied) as raised:
        audit.record(
            actor=clinic.members["nurse"],
            establishment_id=clinic.establishment.id,
            action="consultation.sign",
        )
    assert raised.value.params["reason"] == "membership_deactivated"


@pytest.mark.parametrize("action", ["", "x" * 101, None, 7])
def test_a_hosts_action_is_short_text(
    clinic: SampleDevices, audit: AuditService, action: object
) -> None:
    with pytest.raises(AccessRejected) as raised:
        audit.record(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            action=action,  # type: ignore[arg-type]
        )
    assert raised.value.violations[0].code == "audit.invalid_action"
