"""The PIN policy: generation, entry, digests and the guessing budget (F2)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid.errors import InvalidConfiguration
from practiceid.policies import pin as policy
from practiceid.policies.pin import PinSettings

KEY = bytes(range(32))
START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

settings_strategy = st.builds(
    PinSettings,
    length=st.integers(policy.MIN_LENGTH, policy.MAX_LENGTH),
    establishment_attempts=st.integers(1, 50),
    establishment_window=st.integers(1, 600).map(lambda m: timedelta(minutes=m)),
)


# -- generation ------------------------------------------------------------------------------


@given(settings_strategy)
def test_a_generated_pin_has_the_configured_digits_and_is_never_weak(
    settings: PinSettings,
) -> None:
    """F2: generated automatically; the first PINs a person would try are redrawn."""
    pin = policy.generate(settings)
    assert len(pin) == settings.length
    assert pin.isascii()
    assert pin.isdigit()
    assert not policy.is_weak(pin)


def test_weak_draws_are_redrawn() -> None:
    digits = iter([1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7, 9, 0, 8, 1, 7, 2])
    assert policy.generate(PinSettings(), randbelow=lambda _n: next(digits)) == "908172"


def test_generation_uses_the_operating_systems_csprng_by_default() -> None:
    assert policy.generate.__kwdefaults__["randbelow"] is secrets.randbelow


@pytest.mark.parametrize(
    ("pin", "weak"),
    [
        ("000000", True),
        ("123456", True),
        ("654321", True),
        ("890123", True),  # a run that wraps round
        ("1111", True),
        ("123457", False),
        ("908172", False),
        ("112233", False),
    ],
)
def test_weak_pins_are_repeats_and_runs(pin: str, weak: bool) -> None:  # noqa: FBT001
    assert policy.is_weak(pin) is weak


@given(st.text("0123456789", min_size=2, max_size=12))
def test_a_run_or_a_repeat_is_weak_and_nothing_else(pin: str) -> None:
    first = int(pin[0])
    runs = {"".join(str((first + step * i) % 10) for i in range(len(pin))) for step in (0, 1, -1)}
    assert policy.is_weak(pin) is (pin in runs)


# -- entries -----------------------------------------------------------------------------------


@given(st.text("0123456789", min_size=policy.MIN_LENGTH, max_size=policy.MAX_LENGTH))
def test_an_entry_of_digits_is_read_as_typed(digits: str) -> None:
    spaced = " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    assert policy.clean_entry(digits) == digits
    assert policy.clean_entry(spaced) == digits


@given(st.one_of(st.none(), st.integers(), st.binary(), st.text()))
def test_anything_else_is_no_entry_and_never_raises(raw: object) -> None:
    entry = policy.clean_entry(raw)
    assert entry is None or (
        entry.isascii() and entry.isdigit() and policy.MIN_LENGTH <= len(entry) <= policy.MAX_LENGTH
    )


@pytest.mark.parametrize("raw", ["１２３４５６", "١٢٣٤٥٦", "12345a", "123", "1" * 13, None, 123456])
def test_look_alike_digits_and_other_types_are_no_entry(raw: object) -> None:
    assert policy.clean_entry(raw) is None


# -- digests ----------------------------------------------------------------------------------


@given(st.text("0123456789", min_size=4, max_size=12), st.text(min_size=1, max_size=40))
def test_the_digest_is_deterministic_and_bound_to_the_establishment(
    pin: str, establishment: str
) -> None:
    """F2: one indexed look-up, and no two establishments share a digest."""
    digest = policy.digest(KEY, establishment, pin)
    assert digest == policy.digest(KEY, establishment, pin)
    assert len(digest) == 32
    assert digest != policy.digest(KEY, establishment + "x", pin)
    assert digest != policy.digest(bytes(32), establishment, pin)
    assert pin.encode() not in digest


# -- the guessing budget ---------------------------------------------------------------------


@given(
    settings_strategy,
    st.lists(st.integers(0, 36_000), max_size=80),
    st.integers(0, 40_000),
)
def test_the_budget_refuses_exactly_when_the_window_is_full(
    settings: PinSettings, offsets: list[int], now_offset: int
) -> None:
    """F2: at most establishment_attempts misses per establishment_window."""
    now = START + timedelta(seconds=now_offset)
    misses = [START + timedelta(seconds=o) for o in offsets]
    recent = policy.recent_misses(misses, now, settings)
    in_window = [m for m in misses if now - settings.establishment_window < m <= now]
    assert len(recent) == min(len(in_window), settings.establishment_attempts)
    assert list(recent) == sorted(recent)
    wait = policy.retry_after(misses, now, settings)
    full = len(in_window) >= settings.establishment_attempts
    assert (wait is not None) is full
    if wait is not None:
        assert 1 <= wait <= settings.establishment_window.total_seconds() + 1
        later = now + timedelta(seconds=wait)
        assert policy.retry_after(recent, later, settings) is None


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"length": 3},
        {"length": 13},
        {"length": True},
        {"device_attempts": 0},
        {"member_attempts": 21},
        {"establishment_attempts": 0},
        {"establishment_window": timedelta(seconds=1)},
        {"establishment_window": 60},
        {"idle_timeout": timedelta(seconds=1)},
        {"touch_interval": timedelta(minutes=5)},  # not shorter than the idle timeout
        {"idle_timeout": timedelta(hours=12), "session_lifetime": timedelta(hours=1)},
    ],
)
def test_settings_that_cannot_work_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidConfiguration) as raised:
        PinSettings(**overrides)  # type: ignore[arg-type]
    assert raised.value.code == "config.invalid"


def test_the_defaults_are_the_sources() -> None:
    """F2, F3: 6 digits, 5 wrong PINs a device, a 5-minute idle timeout."""
    settings = PinSettings()
    assert (settings.length, settings.device_attempts) == (6, 5)
    assert settings.idle_timeout == timedelta(minutes=5)
