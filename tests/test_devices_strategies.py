"""The Hypothesis strategies for shared devices and the audit trail are usable as documented."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import AuditEvent, PinSettings
from practiceid.audit import PLATFORM_CHAIN, chain_of, seal, verify_chain
from practiceid.errors import InvalidConfiguration
from practiceid.policies import pin as pin_policy
from practiceid.testing.strategies import audit_events, pin_settings, pins


@given(pin_settings())
def test_pin_settings_are_valid_settings(settings: PinSettings) -> None:
    assert PinSettings(
        length=settings.length,
        device_attempts=settings.device_attempts,
        establishment_window=settings.establishment_window,
    )


@given(
    st.integers(pin_policy.MIN_LENGTH, pin_policy.MAX_LENGTH).flatmap(
        lambda n: st.tuples(st.just(n), pins(n))
    )
)
def test_pins_are_issuable_pins(drawn: tuple[int, str]) -> None:
    length, pin = drawn
    assert len(pin) == length
    assert pin_policy.clean_entry(pin) == pin
    assert not pin_policy.is_weak(pin)


@pytest.mark.parametrize("length", [3, 13])
def test_pins_of_an_impossible_length_are_refused_when_asked(length: int) -> None:
    with pytest.raises(InvalidConfiguration):
        pins(length)


@given(st.lists(audit_events(establishment_id="cabinet"), min_size=1, max_size=5))
def test_audit_events_of_one_chain_seal_into_an_intact_chain(events: list[AuditEvent]) -> None:
    head = None
    records = []
    for event in events:
        record = seal(head, event, key_id="", key=None)
        records.append(record)
        head = record.head
    assert {chain_of(e) for e in events} == {"cabinet"}
    assert verify_chain(records, chain="cabinet").intact


@given(audit_events(establishment_id=None))
def test_audit_events_can_be_of_the_platform_chain(event: AuditEvent) -> None:
    assert chain_of(event) == PLATFORM_CHAIN
