"""Brute force against the PINs of a 50-member clinic is held to the documented budget (F2).

The attacker holds the clinic login's credential (a device left signed in, the password
written on it) and tries 10 000 PINs, re-entering the credential whenever a device asks
for it. ``docs/devices.md`` documents what the library lets through: at most
``establishment_attempts`` evaluated guesses per ``establishment_window`` for the whole
establishment (20 per hour by default), whatever the number of devices or credentials
re-entered. An evaluated guess is one whose digest was computed and looked up; the others
are refused unevaluated (``pin.throttled``, ``device.credential_required``).
"""

from __future__ import annotations

import math
from datetime import timedelta

import attrs
import pytest

from practiceid.adapters import StaticKeyProvider
from practiceid.errors import DeviceCredentialRequired, PinIncorrect, PinThrottled
from practiceid.policies.pin import PIN_KEY_PURPOSE, PinSettings
from practiceid.testing import SampleDevices, sample_devices

GUESSES = 10_000
SECONDS_BETWEEN_GUESSES = 2
MEMBERS = 50
PEER = "192.0.2.66"


@attrs.define
class CountingKeys:
    """A key provider that counts the PIN look-ups: one per evaluated guess.

    Every evaluated guess first digests the PIN under the current key (``current``); with
    one key in use, nothing else is asked.
    """

    keys: StaticKeyProvider
    evaluated: int = 0
    older_keys: int = 0

    def current(self, purpose: str) -> tuple[str, bytes]:
        if purpose == PIN_KEY_PURPOSE:
            self.evaluated += 1
        return self.keys.current(purpose)

    def key(self, purpose: str, key_id: str) -> bytes:
        if purpose == PIN_KEY_PURPOSE:
            self.older_keys += 1
        return self.keys.key(purpose, key_id)


def _clinic_of_fifty(settings: PinSettings) -> tuple[SampleDevices, CountingKeys]:
    counting = CountingKeys(StaticKeyProvider.generate("pin", "audit"))
    clinic = sample_devices(settings=settings, keys=counting)  # type: ignore[arg-type]
    for n in range(MEMBERS - len(clinic.members)):
        user_id = clinic.access.add_member(
            actor=clinic.owner.id,
            establishment_id=clinic.establishment.id,
            email=f"membre{n}@clinique-exemple.be",
            roles=["secretary"],
            first_name="Membre",
            last_name=f"Numero{n}",
        ).user.id
        clinic.members[f"member{n}"] = user_id
        clinic.pins[f"member{n}"] = clinic.devices.issue_pin(
            actor=clinic.owner.id, establishment_id=clinic.establishment.id, user_id=user_id
        ).pin
    return clinic, counting


@pytest.mark.parametrize(
    "settings",
    [
        PinSettings(),
        PinSettings(establishment_attempts=5, establishment_window=timedelta(minutes=15)),
    ],
    ids=["defaults", "tighter"],
)
def test_ten_thousand_guesses_are_held_to_the_establishment_budget(
    settings: PinSettings,
) -> None:
    """F2: 10 000 guesses at one every 2 s, 50 members: the budget holds exactly."""
    clinic, counting = _clinic_of_fifty(settings)
    assert len(clinic.members) == MEMBERS
    real = set(clinic.pins.values())
    guesses = (f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in real)
    with clinic.request_context.bind(peer_address=PEER):
        token = clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password).token
    counting.evaluated = 0
    outcomes = {"incorrect": 0, "credential_required": 0, "throttled": 0, "unlocked": 0}
    start = clinic.clock.now()
    for _ in range(GUESSES):
        try:
            clinic.devices.unlock(token, next(guesses))
            outcomes["unlocked"] += 1
        except PinIncorrect:
            outcomes["incorrect"] += 1
        except DeviceCredentialRequired:
            outcomes["credential_required"] += 1
            with clinic.request_context.bind(peer_address=PEER):
                clinic.devices.reauthenticate(token, clinic.clinic_password)
        except PinThrottled:
            outcomes["throttled"] += 1
        clinic.clock.advance(timedelta(seconds=SECONDS_BETWEEN_GUESSES))
    elapsed = clinic.clock.now() - start
    windows = elapsed / settings.establishment_window
    budget = settings.establishment_attempts
    # The documented bound: at most `budget` per window, counting the window started last.
    assert counting.evaluated <= budget * math.ceil(windows)
    # And the bound is what the attacker gets, not a loose ceiling.
    assert counting.evaluated >= budget * math.floor(windows)
    assert outcomes["unlocked"] == 0
    assert outcomes["throttled"] >= GUESSES - counting.evaluated - outcomes["credential_required"]


def test_the_throttled_guesses_compute_no_digest() -> None:
    """A refused guess costs the attacker a request and the server no HMAC."""
    settings = PinSettings(establishment_attempts=3)
    clinic, counting = _clinic_of_fifty(settings)
    with clinic.request_context.bind(peer_address=PEER):
        token = clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password).token
    counting.evaluated = 0
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in clinic.pins.values())
    for _ in range(3):
        with pytest.raises(PinIncorrect):
            clinic.devices.unlock(token, wrong)
    assert counting.evaluated == 3
    for _ in range(100):
        with pytest.raises(PinThrottled):
            clinic.devices.unlock(token, clinic.pins["secretary"])
    assert counting.evaluated == 3
