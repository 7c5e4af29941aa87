"""Shared devices at their edges: bad input answered with codes, retries, odd addresses (F1-F4)."""

from __future__ import annotations

import attrs
import pytest

from practiceid.audit import AuditEvent, Outcome
from practiceid.devices import DeviceState, on_premises
from practiceid.errors import (
    AccessRejected,
    ClinicLoginNotFound,
    DeviceSessionInvalid,
    MembershipNotFound,
    PermissionDenied,
    PinIncorrect,
    RemoteAccessDenied,
    StaleRecord,
)
from practiceid.testing import SampleDevices, sample_devices

PEER = "192.0.2.40"


@pytest.fixture
def clinic() -> SampleDevices:
    return sample_devices()


def _open(clinic: SampleDevices, peer: str | None = PEER) -> str:
    with clinic.request_context.bind(peer_address=peer):
        return clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password).token


@pytest.mark.parametrize("establishment_id", [None, "", 42, ["cabinet"]])
def test_a_bad_establishment_id_is_rejected_with_a_code(
    clinic: SampleDevices, establishment_id: object
) -> None:
    with pytest.raises(AccessRejected) as raised:
        clinic.devices.issue_pin(
            actor=clinic.owner.id,
            establishment_id=establishment_id,  # type: ignore[arg-type]
            user_id=clinic.members["nurse"],
        )
    assert raised.value.violations[0].code == "establishment.invalid_id"


@pytest.mark.parametrize("user_id", [None, 42, "nobody", ""])
def test_a_pin_for_no_active_member_is_refused(clinic: SampleDevices, user_id: object) -> None:
    with pytest.raises(MembershipNotFound):
        clinic.devices.issue_pin(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            user_id=user_id,  # type: ignore[arg-type]
        )


def test_a_deactivated_account_gets_no_pin(clinic: SampleDevices) -> None:
    clinic.access.deactivate_user(actor=clinic.owner.id, user_id=clinic.members["nurse"])
    with pytest.raises(MembershipNotFound):
        clinic.devices.issue_pin(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["nurse"],
        )


def test_deactivating_an_account_revokes_its_pins(clinic: SampleDevices) -> None:
    """F2, A6: the account's deactivation revokes every PIN it holds, at once."""
    clinic.access.deactivate_user(actor=clinic.owner.id, user_id=clinic.members["nurse"])
    with clinic.unit_of_work() as uow:
        credential = uow.member_credentials.find(clinic.establishment.id, clinic.members["nurse"])
    assert credential is not None
    assert credential.pin_digest is None


def test_revoking_a_pin_that_is_not_there_records_no_change(clinic: SampleDevices) -> None:
    for _ in range(2):
        clinic.devices.revoke_pin(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["nurse"],
        )
    clinic.devices.revoke_pin(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=None,  # type: ignore[arg-type]
    )
    with clinic.unit_of_work() as uow:
        events = [
            r.event
            for r in uow.audit.records(clinic.establishment.id)
            if r.event.action == "pin.revoke"
        ]
    assert [e.detail["changed"] for e in events] == [True, False, False]


def test_remote_access_takes_a_boolean(clinic: SampleDevices) -> None:
    with pytest.raises(AccessRejected) as raised:
        clinic.devices.set_remote_access(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["nurse"],
            allowed="yes",  # type: ignore[arg-type]
        )
    assert raised.value.violations[0].code == "remote_access.invalid_flag"


def test_remote_access_for_a_member_without_a_credential_creates_one(
    clinic: SampleDevices,
) -> None:
    newcomer = clinic.access.add_member(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        email="nouveau@clinique-exemple.be",
        roles=["secretary"],
        first_name="Nouveau",
        last_name="Membre",
    ).user.id
    stored = clinic.devices.set_remote_access(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=newcomer,
        allowed=True,
    )
    assert stored.remote_access
    assert stored.pin_digest is None
    again = clinic.devices.set_remote_access(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=newcomer,
        allowed=True,
    )
    assert again == stored
    listed = clinic.devices.members(actor=clinic.owner.id, establishment_id=clinic.establishment.id)
    mine = next(m for m in listed if m.user_id == newcomer)
    assert (mine.has_pin, mine.remote_access, mine.blocked) == (False, True, False)


def test_the_clinic_logins_are_listed_for_administrators(clinic: SampleDevices) -> None:
    listed = clinic.devices.clinic_logins(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id
    )
    assert [c.user_id for c in listed] == [clinic.clinic_login.user_id]
    with pytest.raises(PermissionDenied):
        clinic.devices.clinic_logins(
            actor=clinic.members["nurse"], establishment_id=clinic.establishment.id
        )


@pytest.mark.parametrize("user_id", [None, "nobody", 42])
def test_an_unknown_clinic_login_is_not_found(clinic: SampleDevices, user_id: object) -> None:
    with pytest.raises(ClinicLoginNotFound):
        clinic.devices.set_clinic_access(
            actor=clinic.owner.id,
            user_id=user_id,  # type: ignore[arg-type]
            remote_access=True,
        )


def test_setting_the_same_clinic_access_changes_nothing(clinic: SampleDevices) -> None:
    same = clinic.devices.set_clinic_access(
        actor=clinic.owner.id,
        user_id=clinic.clinic_login.user_id,
        remote_access=True,
        networks=["192.0.2.0/24"],
    )
    assert same == clinic.clinic_login


def test_a_clinic_login_opens_only_its_own_establishment(clinic: SampleDevices) -> None:
    with clinic.request_context.bind(peer_address=PEER), pytest.raises(PermissionDenied) as raised:
        clinic.devices.open(
            clinic.clinic_login_email, clinic.clinic_password, establishment_id="elsewhere"
        )
    assert raised.value.params["reason"] == "other_establishment"


def test_reauthentication_from_outside_is_refused_for_a_premises_only_clinic_login(
    clinic: SampleDevices,
) -> None:
    token = _open(clinic)
    clinic.devices.set_clinic_access(
        actor=clinic.owner.id,
        user_id=clinic.clinic_login.user_id,
        remote_access=False,
        networks=["192.0.2.0/24"],
    )
    outside = clinic.request_context.bind(peer_address="198.51.100.9")
    with outside, pytest.raises(RemoteAccessDenied):
        clinic.devices.reauthenticate(token, clinic.clinic_password)
    refused = _last(clinic, "device.reauthenticate")
    assert refused.outcome is Outcome.REFUSED
    assert refused.device_session_id is not None


def _last(clinic: SampleDevices, action: str) -> AuditEvent:
    with clinic.unit_of_work() as uow:
        records = uow.audit.records(clinic.establishment.id)
    return next(r.event for r in reversed(records) if r.event.action == action)


def test_closing_a_session_twice_and_a_foreign_session(clinic: SampleDevices) -> None:
    token = _open(clinic)
    session = clinic.devices.current(token)
    for _ in range(2):
        clinic.devices.close_session(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            session_id=session.id,
        )
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.close(token)
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.close_session(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            session_id=None,  # type: ignore[arg-type]
        )


def test_a_member_whose_misses_were_counted_starts_afresh_after_a_right_pin(
    clinic: SampleDevices,
) -> None:
    member = clinic.members["veterinarian"]
    token = _open(clinic)
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, "908172", member=member)
    assert clinic.devices.unlock(token, clinic.pins["veterinarian"], member=member).member
    with clinic.unit_of_work() as uow:
        credential = uow.member_credentials.find(clinic.establishment.id, member)
    assert credential is not None
    assert credential.misses == 0


def test_a_use_case_is_run_again_when_a_concurrent_change_made_it_stale(
    clinic: SampleDevices,
) -> None:
    """The retries: a stale device session is read again and the lock applied once."""
    token = _open(clinic)
    clinic.devices.unlock(token, clinic.pins["nurse"])
    real = clinic.unit_of_work
    failures = iter([True])

    class StaleOnce:
        def __init__(self) -> None:
            self.uow = real()

        def __enter__(self) -> object:
            entered = self.uow.__enter__()
            if next(failures, False):
                sessions = entered.device_sessions

                def update(_session: object) -> object:
                    raise StaleRecord(entity="device_session")

                entered.device_sessions = (
                    attrs.evolve(sessions) if False else _Proxy(sessions, update=update)
                )
            return entered

        def __exit__(self, *exc: object) -> None:
            self.uow.__exit__(*exc)

    devices = attrs.evolve(clinic.devices, unit_of_work=StaleOnce)
    assert devices.lock(token).state is DeviceState.LOCKED


class _Proxy:
    def __init__(self, wrapped: object, **overrides: object) -> None:
        self._wrapped = wrapped
        self._overrides = overrides

    def __getattr__(self, name: str) -> object:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._wrapped, name)


@pytest.mark.parametrize(
    ("peer", "inside"),
    [
        ("192.0.2.40", True),
        (" 192.0.2.40 ", True),
        ("::ffff:192.0.2.40", True),
        ("198.51.100.1", False),
        ("not an address", False),
        ("", False),
        (None, False),
    ],
)
def test_peer_addresses_are_read_strictly(peer: str | None, inside: bool) -> None:  # noqa: FBT001
    assert on_premises(peer, ["192.0.2.0/24"]) is inside
