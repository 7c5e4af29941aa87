"""A state machine over shared devices (F2, F3): unlock, lock, idle, deactivate, rotate.

The machine drives :class:`~practiceid.DeviceService` against a small model of what each
device and member should be, with a clock that jumps to just before, at and just after the
idle timeout and the guessing window. Invariants, after every step:

* a locked device performs nothing (``actor`` refuses);
* an unlocked device acts for the member whose PIN unlocked it, and nobody else;
* no PIN unlocks for a deactivated member;
* a device needs its credential again after the fifth wrong PIN in a row;
* the audit chain stays intact, and every unlock attempt left exactly one event.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from practiceid.audit import key_lookup, verify_chain
from practiceid.devices import DeviceState
from practiceid.errors import (
    DeviceCredentialRequired,
    DeviceLocked,
    PinIncorrect,
    PinThrottled,
)
from practiceid.policies.pin import PinSettings
from practiceid.testing import sample_devices

# Sessions outlive any run of the machine (its clock moves at most 30 minutes a step):
# expiry is an example of its own in test_devices.py.
SETTINGS = PinSettings(
    establishment_attempts=8,
    establishment_window=timedelta(minutes=30),
    session_lifetime=timedelta(days=31),
)
PEER = "192.0.2.20"
MEMBERS = ("veterinarian", "nurse", "secretary")


@attrs.define
class Device:
    token: str
    state: DeviceState = DeviceState.LOCKED
    member: str | None = None
    misses: int = 0
    last_activity: object = None


class DeviceMachine(RuleBasedStateMachine):
    """Drives shared devices against a model of their states."""

    devices = Bundle("devices")

    @initialize()
    def clinic(self) -> None:
        self.sample = sample_devices(settings=SETTINGS)
        self.clock = self.sample.clock
        self.service = self.sample.devices
        self.establishment = self.sample.establishment.id
        self.pins = dict(self.sample.pins)
        self.active = dict.fromkeys(MEMBERS, True)
        self.model: dict[str, Device] = {}
        self.misses: list[object] = []  # the establishment's wrong PINs, as times
        self.attempts = 0  # unlock attempts made with a valid session

    # -- helpers -------------------------------------------------------------------------

    def _now(self):
        return self.clock.now()

    def _idle(self, device: Device) -> bool:
        return (
            device.state is DeviceState.UNLOCKED
            and self._now() - device.last_activity >= SETTINGS.idle_timeout
        )

    def _state(self, device: Device) -> DeviceState:
        if self._idle(device):
            device.state, device.member = DeviceState.LOCKED, None
        return device.state

    def _throttled(self) -> bool:
        start = self._now() - SETTINGS.establishment_window
        recent = [m for m in self.misses if start < m <= self._now()]
        return len(recent) >= SETTINGS.establishment_attempts

    def _wrong(self) -> str:
        taken = set(self.pins.values())
        return next(p for p in ("908172", "918273", "928374", "938475") if p not in taken)

    # -- rules -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.model) < 3)
    @rule(target=devices)
    def open_device(self) -> str:
        with self.sample.request_context.bind(peer_address=PEER):
            opened = self.service.open(self.sample.clinic_login_email, self.sample.clinic_password)
        self.model[opened.token] = Device(opened.token, last_activity=self._now())
        return opened.token

    def _unlock(self, token: str, pin: str, owner: str | None) -> None:
        device = self.model[token]
        state = self._state(device)
        self.attempts += 1
        if state is DeviceState.CREDENTIAL_REQUIRED:
            expected: type[Exception] | None = DeviceCredentialRequired
        elif self._throttled():
            expected = PinThrottled
        elif owner is None or not self.active[owner]:
            expected = PinIncorrect
        else:
            expected = None
        try:
            view = self.service.unlock(token, pin)
        except (PinIncorrect, DeviceCredentialRequired, PinThrottled) as error:
            assert expected is not None, f"unlock refused: {error!r}"
            if expected is PinIncorrect:
                assert isinstance(error, (PinIncorrect, DeviceCredentialRequired))
                device.misses += 1
                self.misses.append(self._now())
                device.state, device.member = DeviceState.LOCKED, None
                device.last_activity = self._now()
                if device.misses >= SETTINGS.device_attempts:
                    assert isinstance(error, DeviceCredentialRequired)
                    device.state = DeviceState.CREDENTIAL_REQUIRED
                else:
                    assert isinstance(error, PinIncorrect)
                    assert error.params["attempts_left"] == SETTINGS.device_attempts - device.misses
            else:
                assert isinstance(error, expected), (error, expected)
            return
        assert expected is None, f"unlock should have failed with {expected}"
        assert owner is not None
        assert view.member == self.sample.members[owner]
        device.state, device.member, device.misses = DeviceState.UNLOCKED, owner, 0
        device.last_activity = self._now()

    @rule(token=devices, name=st.sampled_from(MEMBERS))
    def unlock_with_a_members_pin(self, token: str, name: str) -> None:
        self._unlock(token, self.pins[name], name)

    @rule(token=devices)
    def unlock_with_a_wrong_pin(self, token: str) -> None:
        self._unlock(token, self._wrong(), None)

    @rule(token=devices)
    def lock(self, token: str) -> None:
        device = self.model[token]
        view = self.service.lock(token)
        if self._state(device) is not DeviceState.CREDENTIAL_REQUIRED:
            device.state = DeviceState.LOCKED
        # Locking never clears the need for the credential (F2).
        assert view.state is device.state
        device.member = None
        device.last_activity = self._now()

    @rule(token=devices)
    def reauthenticate(self, token: str) -> None:
        with self.sample.request_context.bind(peer_address=PEER):
            self.service.reauthenticate(token, self.sample.clinic_password)
        device = self.model[token]
        device.state, device.member, device.misses = DeviceState.LOCKED, None, 0
        device.last_activity = self._now()

    @rule(token=devices)
    def act(self, token: str) -> None:
        device = self.model[token]
        state = self._state(device)
        member = device.member
        if state is DeviceState.UNLOCKED and member is not None and self.active[member]:
            actor = self.service.actor(token)
            assert actor.member == self.sample.members[member]
            if self._now() - device.last_activity >= SETTINGS.touch_interval:
                device.last_activity = self._now()
        else:
            try:
                self.service.actor(token)
            except DeviceLocked:
                return
            raise AssertionError("a locked device acted")

    @rule(
        seconds=st.sampled_from(
            [1, 29, 30, 31, *(SETTINGS.idle_timeout.total_seconds() + d for d in (-1, 0, 1))]
        )
    )
    def wait(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    @rule()
    def wait_out_the_window(self) -> None:
        self.clock.advance(SETTINGS.establishment_window)

    @rule(name=st.sampled_from(MEMBERS))
    def deactivate(self, name: str) -> None:
        if not self.active[name]:
            return
        self.sample.access.deactivate_member(
            actor=self.sample.owner.id,
            establishment_id=self.establishment,
            user_id=self.sample.members[name],
        )
        self.active[name] = False

    @rule(name=st.sampled_from(MEMBERS))
    def reactivate(self, name: str) -> None:
        if self.active[name]:
            return
        issued = self.service.reactivate_member(
            actor=self.sample.owner.id,
            establishment_id=self.establishment,
            user_id=self.sample.members[name],
        )
        self.pins[name] = issued.pin
        self.active[name] = True

    @rule(name=st.sampled_from(MEMBERS))
    def rotate(self, name: str) -> None:
        if not self.active[name]:
            return
        old = self.pins[name]
        self.pins[name] = self.service.issue_pin(
            actor=self.sample.owner.id,
            establishment_id=self.establishment,
            user_id=self.sample.members[name],
        ).pin
        # The old PIN now belongs to nobody, unless the draw repeated it.
        if old != self.pins[name]:
            self.pins[f"retired:{name}:{old}"] = old

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def devices_match_the_model(self) -> None:
        for token, device in getattr(self, "model", {}).items():
            view = self.service.current(token)
            state = self._state(device)
            assert view.state is state, (view, device)
            if state is DeviceState.UNLOCKED:
                assert device.member is not None
                assert view.member == self.sample.members[device.member]
            else:
                assert view.member is None

    @invariant()
    def the_audit_chain_is_intact_and_counts_every_attempt(self) -> None:
        if not hasattr(self, "sample"):
            return
        with self.sample.unit_of_work() as uow:
            records = list(uow.audit.records(self.establishment))
        assert verify_chain(
            records, chain=self.establishment, key=key_lookup(self.sample.keys)
        ).intact
        unlocks = sum(1 for r in records if r.event.action == "device.unlock")
        assert unlocks == self.attempts


DeviceMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestDevices = DeviceMachine.TestCase
