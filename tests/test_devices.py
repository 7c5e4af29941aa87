"""Shared clinic devices: the clinic login, PINs, locking, remote access (F1-F4)."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from practiceid.adapters import StaticKeyProvider
from practiceid.audit import Outcome, key_lookup, verify_chain
from practiceid.devices import DeviceState
from practiceid.errors import (
    AccessRejected,
    AuthenticationFailed,
    ClinicLoginOnly,
    DeviceCredentialRequired,
    DeviceLocked,
    DeviceSessionInvalid,
    EmailRejected,
    MembershipNotFound,
    PasswordRejected,
    PermissionDenied,
    PinBlocked,
    PinIncorrect,
    PinThrottled,
    RemoteAccessDenied,
)
from practiceid.permissions import Permission
from practiceid.policies.pin import PinSettings
from practiceid.testing import SampleDevices, sample_devices
from practiceid.users import AccountKind

ON_PREMISES = "192.0.2.15"
OUTSIDE = "198.51.100.7"


@pytest.fixture
def clinic() -> SampleDevices:
    return sample_devices()


def _open(clinic: SampleDevices, peer: str | None = ON_PREMISES) -> str:
    with clinic.request_context.bind(peer_address=peer):
        return clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password).token


def _wrong_pin(clinic: SampleDevices) -> str:
    taken = set(clinic.pins.values())
    return next(p for p in ("908172", "918273", "928374", "938475") if p not in taken)


def _events(clinic: SampleDevices, action: str | None = None) -> list:
    chain = clinic.establishment.id
    with clinic.unit_of_work() as uow:
        records = list(uow.audit.records(chain))
    return [r.event for r in records if action is None or r.event.action == action]


# -- F1: the clinic login ----------------------------------------------------------------


def test_the_clinic_login_is_an_account_of_its_own_kind_tied_to_no_member(
    clinic: SampleDevices,
) -> None:
    """F1: an e-mail and password for every device of the clinic, not a member."""
    with clinic.unit_of_work() as uow:
        account = uow.users.get(clinic.clinic_login.user_id)
        membership = uow.memberships.find(clinic.establishment.id, account.id)
    assert account.kind is AccountKind.CLINIC
    assert account.email.address == clinic.clinic_login_email
    assert membership is None
    assert clinic.clinic_login.remote_access is True  # F1: remote access by default


def test_the_clinic_login_opens_a_locked_device_session(clinic: SampleDevices) -> None:
    """F1, F3: signed in with the clinic login, the device waits for a member's PIN."""
    token = _open(clinic)
    view = clinic.devices.current(token)
    assert view.state is DeviceState.LOCKED
    assert view.member is None
    assert view.account_id == clinic.clinic_login.user_id
    assert view.remote is False


def test_the_clinic_login_cannot_sign_in_as_a_person(clinic: SampleDevices) -> None:
    """F1: its credentials open device sessions only."""
    with pytest.raises(ClinicLoginOnly) as raised:
        clinic.accounts.authenticate(clinic.clinic_login_email, clinic.clinic_password)
    assert raised.value.code == "auth.clinic_login_only"


def test_a_wrong_clinic_password_opens_nothing(clinic: SampleDevices) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        clinic.devices.open(clinic.clinic_login_email, "Pas-Le-Bon-Mot-De-Passe-9")
    assert raised.value.code == "auth.failed"
    refused = _events(clinic, "device.open")
    assert refused == []  # an unknown establishment: the refusal is on the platform chain


def test_the_clinic_login_password_follows_the_password_policy(clinic: SampleDevices) -> None:
    """A4 applies to the clinic login too."""
    with pytest.raises(PasswordRejected):
        clinic.devices.create_clinic_login(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            email="accueil@clinique-exemple.be",
            password="Password123!",
            password_confirmation="Password123!",
        )


def test_creating_a_clinic_login_needs_devices_manage(clinic: SampleDevices) -> None:
    secretary = clinic.members["secretary"]
    with pytest.raises(PermissionDenied) as raised:
        clinic.devices.create_clinic_login(
            actor=secretary,
            establishment_id=clinic.establishment.id,
            email="accueil@clinique-exemple.be",
            password=clinic.clinic_password,
            password_confirmation=clinic.clinic_password,
        )
    assert raised.value.params["permission"] == Permission.DEVICES_MANAGE
    refused = _events(clinic, "clinic_login.create")[-1]
    assert refused.outcome is Outcome.REFUSED
    assert refused.actor == secretary


def test_a_bad_clinic_login_email_is_rejected_with_a_code(clinic: SampleDevices) -> None:
    with pytest.raises(EmailRejected):
        clinic.devices.create_clinic_login(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            email="pas une adresse",
            password=clinic.clinic_password,
            password_confirmation=clinic.clinic_password,
        )


@pytest.mark.parametrize(
    ("networks", "remote_access", "code"),
    [
        (["not-a-network"], True, "clinic_login.invalid_networks"),
        ("192.0.2.0/24", True, "clinic_login.invalid_networks"),
        ([], False, "clinic_login.networks_required"),
        ([], "yes", "clinic_login.invalid_flag"),
    ],
)
def test_clinic_access_settings_are_checked(
    clinic: SampleDevices, networks: object, remote_access: object, code: str
) -> None:
    with pytest.raises(AccessRejected) as raised:
        clinic.devices.set_clinic_access(
            actor=clinic.owner.id,
            user_id=clinic.clinic_login.user_id,
            remote_access=remote_access,  # type: ignore[arg-type]
            networks=networks,  # type: ignore[arg-type]
        )
    assert raised.value.violations[0].code == code


def test_without_remote_access_the_clinic_login_opens_devices_on_the_premises_only(
    clinic: SampleDevices,
) -> None:
    """F1: remote access is the clinic login's default, and can be withdrawn."""
    clinic.devices.set_clinic_access(
        actor=clinic.owner.id,
        user_id=clinic.clinic_login.user_id,
        remote_access=False,
        networks=["192.0.2.0/24"],
    )
    assert _open(clinic, ON_PREMISES)
    with pytest.raises(RemoteAccessDenied):
        _open(clinic, OUTSIDE)
    with pytest.raises(RemoteAccessDenied):
        _open(clinic, None)  # no peer address known: fails closed


# -- F2: PINs -------------------------------------------------------------------------------


def test_pins_are_generated_unique_and_of_the_configured_length(clinic: SampleDevices) -> None:
    """F2: generated automatically, unique among the members."""
    pins = list(clinic.pins.values())
    assert len(set(pins)) == len(pins)
    assert all(len(p) == 6 and p.isdigit() for p in pins)


def test_a_pin_is_never_stored_or_shown_again(clinic: SampleDevices) -> None:
    """F2: shown once; the store holds a keyed digest only."""
    member = clinic.members["nurse"]
    issued = clinic.devices.issue_pin(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    )
    assert issued.pin not in repr(issued)
    with clinic.unit_of_work() as uow:
        credential = uow.member_credentials.find(clinic.establishment.id, member)
        events = uow.audit.records(clinic.establishment.id)
    assert credential is not None
    assert credential.pin_digest is not None
    assert issued.pin.encode() not in credential.pin_digest
    assert issued.pin not in repr(credential)
    assert all(issued.pin not in repr(r) for r in events)
    listed = clinic.devices.members(actor=clinic.owner.id, establishment_id=clinic.establishment.id)
    assert all(issued.pin not in repr(m) for m in listed)


def test_rotating_a_pin_retires_the_old_one(clinic: SampleDevices) -> None:
    member = clinic.members["nurse"]
    old = clinic.pins["nurse"]
    new = clinic.devices.issue_pin(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    ).pin
    token = _open(clinic)
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, old)
    assert clinic.devices.unlock(token, new).member == member


def test_issuing_a_pin_needs_devices_reset_pin(clinic: SampleDevices) -> None:
    with pytest.raises(PermissionDenied):
        clinic.devices.issue_pin(
            actor=clinic.members["nurse"],
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["secretary"],
        )


def test_only_active_members_get_a_pin(clinic: SampleDevices) -> None:
    with pytest.raises(MembershipNotFound):
        clinic.devices.issue_pin(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            user_id=clinic.clinic_login.user_id,
        )


def test_a_pin_collision_draws_again(clinic: SampleDevices) -> None:
    """F2: unique among the members, even when the CSPRNG repeats itself."""
    taken = clinic.pins["secretary"]
    draws = iter([taken, taken, "908172"])
    devices = clinic.devices.__class__(
        unit_of_work=clinic.unit_of_work,
        access=clinic.access,
        accounts=clinic.accounts,
        keys=clinic.keys,
        clock=clock_of(clinic),
        new_pin=lambda _settings: next(draws),
    )
    issued = devices.issue_pin(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["nurse"],
    )
    assert issued.pin == "908172"


def clock_of(clinic: SampleDevices):
    return clinic.clock


def test_deactivating_a_member_revokes_their_pin_at_once(clinic: SampleDevices) -> None:
    """F2: a deactivated member's PIN unlocks nothing, and never again."""
    member = clinic.members["nurse"]
    clinic.access.deactivate_member(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    )
    token = _open(clinic)
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, clinic.pins["nurse"])
    clinic.access.reactivate_member(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    )
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, clinic.pins["nurse"])


def test_reactivation_through_the_device_service_issues_a_new_pin(clinic: SampleDevices) -> None:
    member = clinic.members["nurse"]
    clinic.access.deactivate_member(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    )
    issued = clinic.devices.reactivate_member(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    )
    token = _open(clinic)
    assert clinic.devices.unlock(token, issued.pin).member == member


def test_a_revoked_pin_unlocks_nothing(clinic: SampleDevices) -> None:
    clinic.devices.revoke_pin(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["secretary"],
    )
    token = _open(clinic)
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, clinic.pins["secretary"])


# -- F2: throttling -------------------------------------------------------------------------


def test_five_wrong_pins_need_the_clinic_credential_again(clinic: SampleDevices) -> None:
    """F2: the library, not the device, holds the count."""
    token = _open(clinic)
    wrong = _wrong_pin(clinic)
    for left in (4, 3, 2, 1):
        with pytest.raises(PinIncorrect) as raised:
            clinic.devices.unlock(token, wrong)
        assert raised.value.params["attempts_left"] == left
    with pytest.raises(DeviceCredentialRequired):
        clinic.devices.unlock(token, wrong)
    # Even the right PIN is not checked now.
    with pytest.raises(DeviceCredentialRequired):
        clinic.devices.unlock(token, clinic.pins["secretary"])
    assert clinic.devices.current(token).state is DeviceState.CREDENTIAL_REQUIRED
    with clinic.request_context.bind(peer_address=ON_PREMISES):
        clinic.devices.reauthenticate(token, clinic.clinic_password)
    assert clinic.devices.unlock(token, clinic.pins["secretary"]).state is DeviceState.UNLOCKED


def test_a_right_pin_resets_the_device_count(clinic: SampleDevices) -> None:
    token = _open(clinic)
    wrong = _wrong_pin(clinic)
    for _ in range(4):
        with pytest.raises(PinIncorrect):
            clinic.devices.unlock(token, wrong)
    clinic.devices.unlock(token, clinic.pins["secretary"])
    clinic.devices.lock(token)
    with pytest.raises(PinIncorrect) as raised:
        clinic.devices.unlock(token, wrong)
    assert raised.value.params["attempts_left"] == 4


def test_reauthentication_needs_the_right_password(clinic: SampleDevices) -> None:
    token = _open(clinic)
    with pytest.raises(AuthenticationFailed):
        clinic.devices.reauthenticate(token, "Pas-Le-Bon-Mot-De-Passe-9")


def test_a_chosen_member_is_blocked_after_their_limit(clinic: SampleDevices) -> None:
    """F2: a per-member limit, counted across devices, until a new PIN is issued."""
    member = clinic.members["veterinarian"]
    wrong = _wrong_pin(clinic)
    for _ in range(5):
        token = _open(clinic)  # a fresh device each time: the member count still grows
        with pytest.raises(PinIncorrect):
            clinic.devices.unlock(token, wrong, member=member)
    token = _open(clinic)
    with pytest.raises(PinBlocked):
        clinic.devices.unlock(token, clinic.pins["veterinarian"], member=member)
    # Without choosing the member, the blocked PIN does not unlock either.
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, clinic.pins["veterinarian"])
    issued = clinic.devices.issue_pin(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=member
    )
    assert clinic.devices.unlock(token, issued.pin, member=member).member == member


def test_another_members_pin_does_not_unlock_for_a_chosen_member(clinic: SampleDevices) -> None:
    token = _open(clinic)
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(
            token, clinic.pins["secretary"], member=clinic.members["veterinarian"]
        )


def test_the_establishment_budget_bounds_guesses_across_devices(clinic: SampleDevices) -> None:
    """F2: re-entering the clinic credential does not buy more guesses."""
    settings = PinSettings()
    wrong = _wrong_pin(clinic)
    misses = 0
    while misses < settings.establishment_attempts:
        token = _open(clinic)
        for _ in range(settings.device_attempts):
            if misses == settings.establishment_attempts:
                break
            with pytest.raises((PinIncorrect, DeviceCredentialRequired)):
                clinic.devices.unlock(token, wrong)
            misses += 1
    token = _open(clinic)
    with pytest.raises(PinThrottled) as raised:
        clinic.devices.unlock(token, clinic.pins["secretary"])
    assert 0 < raised.value.params["retry_after"] <= 3600
    clinic.clock.advance(settings.establishment_window)
    assert clinic.devices.unlock(token, clinic.pins["secretary"]).state is DeviceState.UNLOCKED


def test_every_miss_is_audited(clinic: SampleDevices) -> None:
    """F2: every wrong PIN leaves an event; the chain stays intact."""
    token = _open(clinic)
    for _ in range(3):
        with pytest.raises(PinIncorrect):
            clinic.devices.unlock(token, _wrong_pin(clinic))
    misses = [e for e in _events(clinic, "device.unlock") if e.outcome is Outcome.REFUSED]
    assert len(misses) == 3
    assert all(e.code == "pin.incorrect" and e.device_session_id for e in misses)
    with clinic.unit_of_work() as uow:
        records = uow.audit.records(clinic.establishment.id)
    assert verify_chain(records, chain=clinic.establishment.id, key=key_lookup(clinic.keys)).intact


@pytest.mark.parametrize("entry", [None, 123456, "", "12", "12345a", "１２３４５６", "1" * 40])
def test_an_entry_that_is_not_a_pin_is_a_wrong_pin(clinic: SampleDevices, entry: object) -> None:
    token = _open(clinic)
    with pytest.raises(PinIncorrect):
        clinic.devices.unlock(token, entry)  # type: ignore[arg-type]


# -- F3: lock screen, attribution ----------------------------------------------------------


def test_unlocking_names_the_member_and_locking_hands_over(clinic: SampleDevices) -> None:
    """F3: each member works under their own PIN; lock screen hands the device over."""
    token = _open(clinic)
    view = clinic.devices.unlock(token, clinic.pins["secretary"])
    assert view.member == clinic.members["secretary"]
    assert clinic.devices.lock(token).state is DeviceState.LOCKED
    view = clinic.devices.unlock(token, clinic.pins["veterinarian"])
    assert view.member == clinic.members["veterinarian"]


def test_a_locked_device_acts_for_nobody(clinic: SampleDevices) -> None:
    token = _open(clinic)
    with pytest.raises(DeviceLocked):
        clinic.devices.actor(token)
    with pytest.raises(DeviceLocked), clinic.devices.acting(token):
        pass  # pragma: no cover - never entered


def test_an_idle_device_locks_itself(clinic: SampleDevices) -> None:
    """F3: the idle timeout (5 minutes by default) locks the device."""
    token = _open(clinic)
    clinic.devices.unlock(token, clinic.pins["secretary"])
    clinic.clock.advance(timedelta(minutes=4, seconds=59))
    assert clinic.devices.actor(token).member == clinic.members["secretary"]
    clinic.clock.advance(timedelta(minutes=4, seconds=59))  # activity was recorded
    assert clinic.devices.actor(token).member == clinic.members["secretary"]
    clinic.clock.advance(timedelta(minutes=5))
    assert clinic.devices.current(token).state is DeviceState.LOCKED
    with pytest.raises(DeviceLocked):
        clinic.devices.actor(token)


def test_members_keep_only_their_own_roles_permissions(clinic: SampleDevices) -> None:
    """F3: the secretary unlocks as herself and cannot sign consultations."""
    token = _open(clinic)
    clinic.devices.unlock(token, clinic.pins["secretary"])
    access = clinic.devices.access_for(token)
    assert access.user_id == clinic.members["secretary"]
    assert access.allows(Permission.AGENDA_MANAGE)
    assert not access.allows(Permission.CONSULTATIONS_SIGN)
    clinic.devices.lock(token)
    clinic.devices.unlock(token, clinic.pins["veterinarian"])
    assert clinic.devices.access_for(token).allows(Permission.CONSULTATIONS_SIGN)


def test_commands_run_on_an_unlocked_device_are_attributed_to_the_session_and_member(
    clinic: SampleDevices,
) -> None:
    """F3: activity is recorded under the PIN owner, through the device session."""
    token = _open(clinic)
    clinic.devices.unlock(token, clinic.pins["veterinarian"])
    session = clinic.devices.current(token)
    # The owner gives the veterinarian user management, then the veterinarian acts.
    clinic.access.grant_role(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["veterinarian"],
        role="administrator",
    )
    with clinic.devices.acting(token) as actor:
        clinic.access.deactivate_member(
            actor=actor.member,
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["nurse"],
        )
    event = _events(clinic, "member.deactivate")[-1]
    assert event.actor == clinic.members["veterinarian"]
    assert event.device_session_id == session.id
    assert event.account_id == clinic.clinic_login.user_id


def test_a_deactivated_member_loses_an_unlocked_device(clinic: SampleDevices) -> None:
    token = _open(clinic)
    clinic.devices.unlock(token, clinic.pins["nurse"])
    clinic.access.deactivate_member(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["nurse"],
    )
    with pytest.raises(DeviceLocked):
        clinic.devices.actor(token)


def test_a_closed_device_session_opens_nothing(clinic: SampleDevices) -> None:
    token = _open(clinic)
    clinic.devices.close(token)
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.current(token)
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.unlock(token, clinic.pins["nurse"])


@pytest.mark.parametrize("token", [None, "", "pidd_unknown", "x" * 500, 42])
def test_an_unknown_token_is_an_invalid_session(clinic: SampleDevices, token: object) -> None:
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.unlock(token, "123456")  # type: ignore[arg-type]


def test_an_administrator_closes_a_lost_device(clinic: SampleDevices) -> None:
    token = _open(clinic)
    session = clinic.devices.current(token)
    listed = clinic.devices.sessions(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id
    )
    assert [v.id for v in listed] == [session.id]
    clinic.devices.close_session(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, session_id=session.id
    )
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.current(token)


def test_a_device_session_expires_after_its_lifetime(clinic: SampleDevices) -> None:
    token = _open(clinic)
    clinic.clock.advance(PinSettings().session_lifetime)
    with pytest.raises(DeviceSessionInvalid):
        clinic.devices.current(token)


# -- F4: remote access ----------------------------------------------------------------------


def test_a_member_without_remote_access_signs_in_on_the_premises_only(
    clinic: SampleDevices,
) -> None:
    """F4: remote access is granted per member."""
    member = clinic.members["veterinarian"]
    with clinic.unit_of_work() as uow:
        login = uow.users.get(member).login.display
    _set_password(clinic, member)
    with clinic.request_context.bind(peer_address=OUTSIDE), pytest.raises(RemoteAccessDenied):
        clinic.devices.open(login, MEMBER_PASSWORD, establishment_id=clinic.establishment.id)
    with clinic.request_context.bind(peer_address=ON_PREMISES):
        opened = clinic.devices.open(
            login, MEMBER_PASSWORD, establishment_id=clinic.establishment.id
        )
    assert opened.session.member == member
    assert opened.session.remote is False


MEMBER_PASSWORD = "Cheval-Agrafe-Correct-42"


def _set_password(clinic: SampleDevices, user_id: str) -> None:
    with clinic.unit_of_work() as uow:
        user = uow.users.get(user_id)
        uow.users.update(user.with_password_hash(clinic.accounts.hasher.hash(MEMBER_PASSWORD)))
        uow.commit()


def _member_login(clinic: SampleDevices, name: str) -> str:
    _set_password(clinic, clinic.members[name])
    with clinic.unit_of_work() as uow:
        return uow.users.get(clinic.members[name]).login.display


def test_a_member_with_remote_access_signs_in_from_anywhere(clinic: SampleDevices) -> None:
    """F4: granted per member; needs their own e-mail and password."""
    login = _member_login(clinic, "veterinarian")
    clinic.devices.set_remote_access(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["veterinarian"],
        allowed=True,
    )
    with clinic.request_context.bind(peer_address=OUTSIDE):
        opened = clinic.devices.open(
            login, MEMBER_PASSWORD, establishment_id=clinic.establishment.id
        )
    assert opened.session.state is DeviceState.UNLOCKED
    assert opened.session.remote is True
    assert opened.session.account_id == clinic.members["veterinarian"]


def test_a_remote_member_who_locks_lets_others_unlock_with_their_own_role(
    clinic: SampleDevices,
) -> None:
    """F4: locking instead of logging out hands over, each member limited to their role."""
    login = _member_login(clinic, "veterinarian")
    clinic.devices.set_remote_access(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["veterinarian"],
        allowed=True,
    )
    with clinic.request_context.bind(peer_address=OUTSIDE):
        token = clinic.devices.open(
            login, MEMBER_PASSWORD, establishment_id=clinic.establishment.id
        ).token
    clinic.devices.lock(token)
    view = clinic.devices.unlock(token, clinic.pins["secretary"])
    assert view.member == clinic.members["secretary"]
    access = clinic.devices.access_for(token)
    assert not access.allows(Permission.CONSULTATIONS_SIGN)
    with clinic.devices.acting(token) as actor:
        assert actor.account_id == clinic.members["veterinarian"]
        assert actor.member == clinic.members["secretary"]


def test_withdrawing_remote_access_stops_remote_sign_in(clinic: SampleDevices) -> None:
    login = _member_login(clinic, "veterinarian")
    for allowed in (True, False):
        clinic.devices.set_remote_access(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["veterinarian"],
            allowed=allowed,
        )
    with clinic.request_context.bind(peer_address=OUTSIDE), pytest.raises(RemoteAccessDenied):
        clinic.devices.open(login, MEMBER_PASSWORD, establishment_id=clinic.establishment.id)


def test_granting_remote_access_needs_its_permission(clinic: SampleDevices) -> None:
    with pytest.raises(PermissionDenied) as raised:
        clinic.devices.set_remote_access(
            actor=clinic.members["secretary"],
            establishment_id=clinic.establishment.id,
            user_id=clinic.members["secretary"],
            allowed=True,
        )
    assert raised.value.params["permission"] == Permission.DEVICES_GRANT_REMOTE_ACCESS


def test_a_member_signs_in_to_one_establishment(clinic: SampleDevices) -> None:
    login = _member_login(clinic, "veterinarian")
    with clinic.request_context.bind(peer_address=ON_PREMISES), pytest.raises(AccessRejected):
        clinic.devices.open(login, MEMBER_PASSWORD)


def test_a_non_member_cannot_open_a_device_of_the_establishment(clinic: SampleDevices) -> None:
    stranger = clinic.access.add_member(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        email="ex.membre@clinique-exemple.be",
        roles=["secretary"],
        first_name="Ex",
        last_name="Membre",
    ).user
    login = _member_login_of(clinic, stranger.id)
    clinic.access.deactivate_member(
        actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=stranger.id
    )
    with clinic.request_context.bind(peer_address=ON_PREMISES), pytest.raises(PermissionDenied):
        clinic.devices.open(login, MEMBER_PASSWORD, establishment_id=clinic.establishment.id)


def _member_login_of(clinic: SampleDevices, user_id: str) -> str:
    _set_password(clinic, user_id)
    with clinic.unit_of_work() as uow:
        return uow.users.get(user_id).login.display


def test_locking_a_device_that_needs_its_credential_does_not_clear_the_count(
    clinic: SampleDevices,
) -> None:
    """F2: found by the state machine: lock screen is no way round the credential."""
    token = _open(clinic)
    for _ in range(5):
        with pytest.raises((PinIncorrect, DeviceCredentialRequired)):
            clinic.devices.unlock(token, _wrong_pin(clinic))
    assert clinic.devices.lock(token).state is DeviceState.CREDENTIAL_REQUIRED
    with pytest.raises(DeviceCredentialRequired):
        clinic.devices.unlock(token, clinic.pins["secretary"])


def test_a_clinic_login_cannot_be_added_as_a_member(clinic: SampleDevices) -> None:
    """F1: the clinic login is tied to no member."""
    with pytest.raises(AccessRejected) as raised:
        clinic.access.add_member(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            email=clinic.clinic_login_email,
            roles=["secretary"],
            first_name="Accueil",
            last_name="Clinique",
        )
    assert raised.value.violations[0].code == "member.clinic_login"


def _rotated(clinic: SampleDevices, *, keep_old: bool) -> SampleDevices:
    """The clinic's devices with a new current PIN key (and the old one kept or retired)."""
    old_id, old = clinic.keys.current("pin")
    keys = {"2027-new": bytes(range(1, 33))}
    if keep_old:
        keys[old_id] = old
    rotated = StaticKeyProvider({"pin": keys}, current={"pin": "2027-new"})
    devices = attrs.evolve(clinic.devices, keys=rotated)
    return attrs.evolve(clinic, devices=devices)


def test_pins_issued_before_a_key_rotation_keep_working(clinic: SampleDevices) -> None:
    """F2: rotating the PIN key leaves issued PINs valid while the old key is kept."""
    rotated = _rotated(clinic, keep_old=True)
    token = _open(rotated)
    assert rotated.devices.unlock(token, clinic.pins["nurse"]).member == clinic.members["nurse"]
    issued = rotated.devices.issue_pin(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["secretary"],
    )
    rotated.devices.lock(token)
    assert rotated.devices.unlock(token, issued.pin).member == clinic.members["secretary"]


def test_a_new_pin_is_unique_across_the_keys_in_use(clinic: SampleDevices) -> None:
    """F2: a PIN held under the old key is never issued again under the new one."""
    taken = clinic.pins["secretary"]
    draws = iter([taken, "908172"])
    rotated = _rotated(clinic, keep_old=True)
    devices = attrs.evolve(rotated.devices, new_pin=lambda _settings: next(draws))
    issued = devices.issue_pin(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["nurse"],
    )
    assert issued.pin == "908172"


def test_a_retired_pin_key_retires_only_its_pins(clinic: SampleDevices) -> None:
    """Removing an old key revokes the PINs it sealed; the others still unlock."""
    rotated = _rotated(clinic, keep_old=True)
    fresh = rotated.devices.issue_pin(
        actor=clinic.owner.id,
        establishment_id=clinic.establishment.id,
        user_id=clinic.members["secretary"],
    ).pin
    retired = _rotated(clinic, keep_old=False)
    token = _open(retired)
    with pytest.raises(PinIncorrect):
        retired.devices.unlock(token, clinic.pins["nurse"])
    assert retired.devices.unlock(token, fresh).member == clinic.members["secretary"]


@pytest.mark.parametrize(
    ("action", "call"),
    [
        (
            "pin.issue",
            lambda c: c.devices.issue_pin(
                actor=c.members["nurse"],
                establishment_id=c.establishment.id,
                user_id=c.members["secretary"],
            ),
        ),
        (
            "pin.revoke",
            lambda c: c.devices.revoke_pin(
                actor=c.members["nurse"],
                establishment_id=c.establishment.id,
                user_id=c.members["secretary"],
            ),
        ),
        (
            "member.set_remote_access",
            lambda c: c.devices.set_remote_access(
                actor=c.members["nurse"],
                establishment_id=c.establishment.id,
                user_id=c.members["nurse"],
                allowed=True,
            ),
        ),
        (
            "device.close",
            lambda c: c.devices.close_session(
                actor=c.members["nurse"],
                establishment_id=c.establishment.id,
                session_id="no-such-session",
            ),
        ),
        (
            "clinic_login.set_access",
            lambda c: c.devices.set_clinic_access(
                actor=c.members["nurse"], user_id=c.clinic_login.user_id, remote_access=True
            ),
        ),
    ],
)
def test_every_refused_device_command_records_one_refusal(
    clinic: SampleDevices, action: str, call: object
) -> None:
    """F3: refusals are recorded with their code, under the actor who tried."""
    before = len(_events(clinic))
    with pytest.raises(PermissionDenied) as raised:
        call(clinic)  # type: ignore[operator]
    events = _events(clinic)
    assert len(events) == before + 1
    refused = events[-1]
    assert (refused.action, refused.outcome, refused.code) == (
        action,
        Outcome.REFUSED,
        raised.value.code,
    )
    assert refused.actor == clinic.members["nurse"]
