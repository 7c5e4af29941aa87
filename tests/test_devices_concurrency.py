"""Shared devices under concurrent callers: the guessing budget holds, PINs stay unique (F2).

Threads released together by a barrier guess PINs on devices of one establishment, each on
its own device session. Every evaluated guess writes the establishment's guard, so the
guesses commit one after the other whatever the interleaving: the budget is never overrun,
and at the budget's last slot at most one right PIN gets through. Runs on the in-memory
store, a SQLite file and PostgreSQL (READ COMMITTED: the guard's version check serializes).
"""

from __future__ import annotations

from collections import Counter

import pytest

from practiceid.audit import Outcome
from practiceid.errors import (
    DeviceCredentialRequired,
    PinIncorrect,
    PinThrottled,
    StaleRecord,
)
from practiceid.policies.pin import PinSettings
from practiceid.ports import DeviceUnitOfWorkFactory
from practiceid.testing import SampleDevices, sample_devices

from .conftest import together

THREADS = 8
PEER = "192.0.2.30"
SETTINGS = PinSettings(establishment_attempts=6, device_attempts=20)


@pytest.fixture
def factory(sample_unit_of_work) -> DeviceUnitOfWorkFactory | None:
    """The unit of work of the store under test: None is the in-memory default."""
    return sample_unit_of_work


def _devices(clinic: SampleDevices, count: int) -> list[str]:
    with clinic.request_context.bind(peer_address=PEER):
        return [
            clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password).token
            for _ in range(count)
        ]


def _unlock_events(clinic: SampleDevices) -> Counter[str]:
    with clinic.unit_of_work() as uow:
        records = uow.audit.records(clinic.establishment.id)
    return Counter(
        "unlocked" if r.event.outcome is Outcome.SUCCEEDED else r.event.code
        for r in records
        if r.event.action == "device.unlock"
    )


def test_concurrent_wrong_pins_never_overrun_the_budget(factory) -> None:
    """F2: 8 devices guessing at once, round after round until every guess is refused
    unevaluated, get exactly establishment_attempts evaluated guesses between them."""
    clinic = sample_devices(unit_of_work=factory, settings=SETTINGS)
    tokens = _devices(clinic, THREADS)
    taken = set(clinic.pins.values())
    wrong = iter([f"{n:06d}" for n in range(100_000, 999_999, 7919) if f"{n:06d}" not in taken])
    told_wrong = 0
    for _ in range(20):
        guesses = [(token, next(wrong)) for token in tokens]
        calls = [
            (lambda token=token, pin=pin: clinic.devices.unlock(token, pin))
            for token, pin in guesses
        ]
        outcomes = together(calls)
        assert all(
            isinstance(o, (PinIncorrect, PinThrottled, StaleRecord, DeviceCredentialRequired))
            for o in outcomes
        ), outcomes
        told_wrong += sum(isinstance(o, PinIncorrect) for o in outcomes)
        if all(isinstance(o, PinThrottled) for o in outcomes):
            break
    else:  # pragma: no cover - the budget is spent within a few rounds
        pytest.fail("the budget was never spent")
    # Contention may refuse a guess with record.stale after its retries: never evaluated.
    assert _unlock_events(clinic)["pin.incorrect"] == SETTINGS.establishment_attempts
    assert told_wrong == SETTINGS.establishment_attempts


@pytest.mark.parametrize("round_", range(3))
def test_no_right_pin_gets_through_once_the_budget_is_spent(factory, round_) -> None:
    """F2: with one slot left, 7 wrong guesses and a right one race; once a wrong guess has
    spent the budget, nothing unlocks (every evaluated guess writes the guard, in turn)."""
    clinic = sample_devices(unit_of_work=factory, settings=SETTINGS)
    tokens = _devices(clinic, THREADS + 1)
    taken = set(clinic.pins.values())
    wrong = [f"{n:06d}" for n in range(100_000, 999_999, 7919) if f"{n:06d}" not in taken]
    for pin in wrong[: SETTINGS.establishment_attempts - 1]:
        with pytest.raises(PinIncorrect):
            clinic.devices.unlock(tokens[-1], pin)
    guesses = [*wrong[THREADS : THREADS + THREADS - 1], clinic.pins["secretary"]]
    guesses = guesses[round_:] + guesses[:round_]
    calls = [
        (lambda token=token, pin=pin: clinic.devices.unlock(token, pin))
        for token, pin in zip(tokens[:THREADS], guesses, strict=True)
    ]
    outcomes = together(calls)
    assert sum(isinstance(o, PinIncorrect) for o in outcomes) == 1
    with clinic.unit_of_work() as uow:
        order = [
            "unlocked" if r.event.outcome is Outcome.SUCCEEDED else r.event.code
            for r in uow.audit.records(clinic.establishment.id)
            if r.event.action == "device.unlock"
        ]
    spent = [i for i, o in enumerate(order) if o == "pin.incorrect"][-1]
    assert "unlocked" not in order[spent + 1 :], order
