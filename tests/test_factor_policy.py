"""The second-factor policy: TOTP windows, recovery codes, the budget, sealed secrets (F5)."""

from __future__ import annotations

import string
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from practiceid.errors import FactorRejected, InvalidConfiguration
from practiceid.factors import open_secret, seal_secret
from practiceid.policies.factors import (
    FactorSettings,
    TotpAlgorithm,
    TotpParameters,
    clean_code,
    match_totp,
    new_recovery_code,
    provisioning_uri,
    recent_misses,
    recovery_digest,
    replayed_totp,
    retry_after,
    totp_code,
)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)

secrets_ = st.binary(min_size=16, max_size=64)
params_ = st.builds(
    TotpParameters,
    digits=st.sampled_from([6, 7, 8]),
    period=st.sampled_from([15, 30, 60, 120]),
    algorithm=st.sampled_from(list(TotpAlgorithm)),
)
# Unix times from 1970 (plus five steps of two minutes) to about 2100.
times = st.integers(min_value=600, max_value=4_100_000_000)
ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40
)


def _codes(secret: bytes, steps: range, params: TotpParameters) -> list[str]:
    return [totp_code(secret, step * params.period, params) for step in steps]


# -- TOTP windows ----------------------------------------------------------------------------


@given(
    secret=secrets_,
    params=params_,
    now=times,
    offset=st.integers(-5, 5),
    window=st.integers(0, 3),
    last_offset=st.integers(-7, 6),
)
def test_a_code_is_accepted_only_within_the_window_and_after_the_last_step(
    *,
    secret: bytes,
    params: TotpParameters,
    now: int,
    offset: int,
    window: int,
    last_offset: int,
) -> None:
    """F5, RFC 6238 §5.2: ±window steps of drift, and only steps after the last accepted."""
    current = now // params.period
    around = range(current - 5, current + 6)
    assume(len(set(_codes(secret, around, params))) == len(around))  # no chance collision
    step = current + offset
    last_step = current + last_offset
    code = totp_code(secret, step * params.period, params)
    found = match_totp(secret, code, now=now, last_step=last_step, params=params, window=window)
    if abs(offset) <= window and step > last_step:
        assert found == step
    else:
        assert found is None


@given(
    secret=secrets_,
    params=params_,
    start=times,
    moves=st.lists(st.tuples(st.integers(0, 100), st.integers(-2, 2)), min_size=1, max_size=25),
)
def test_no_code_is_accepted_twice_when_the_accepted_step_is_fed_back(
    secret: bytes, params: TotpParameters, start: int, moves: list[tuple[int, int]]
) -> None:
    """F5: whatever the typing order and drift, the accepted steps strictly increase."""
    now = start
    last_step = -1
    accepted: list[str] = []
    for wait, offset in moves:
        now += wait
        code = totp_code(secret, (now // params.period + offset) * params.period, params)
        step = match_totp(secret, code, now=now, last_step=last_step, params=params, window=1)
        if step is not None:
            assert step > last_step
            last_step = step
            accepted.append(code)
            # The very same entry, again at once: refused, and known as a replay.
            assert (
                match_totp(secret, code, now=now, last_step=step, params=params, window=1) is None
            )
            assert replayed_totp(secret, code, now=now, last_step=step, params=params, window=1)


@given(secret=secrets_, params=params_, now=times, junk=st.text(max_size=70))
def test_replay_is_never_reported_for_a_code_that_was_not_accepted(
    secret: bytes, params: TotpParameters, now: int, junk: str
) -> None:
    """F5: with no step accepted yet, nothing is a replay, whatever is typed."""
    assert not replayed_totp(secret, junk, now=now, last_step=-1, params=params, window=3)


@given(
    secret=secrets_,
    params=params_,
    now=times,
    junk=st.one_of(st.none(), st.integers(), st.binary()),
)
def test_a_code_that_is_not_text_is_refused_without_error(
    secret: bytes, params: TotpParameters, now: int, junk: object
) -> None:
    assert match_totp(secret, junk, now=now, last_step=-1, params=params, window=1) is None
    assert not replayed_totp(secret, junk, now=now, last_step=-1, params=params, window=1)


# Steps 57725929 and 57725931 of bytes(range(20)) share the code 823902 (found by search).
COLLIDING = (bytes(range(20)), 57725929, 57725931, "823902")


def test_the_colliding_steps_share_their_code() -> None:
    secret, first, second, code = COLLIDING
    params = TotpParameters()
    assert totp_code(secret, first * 30, params) == code
    assert totp_code(secret, second * 30, params) == code
    assert totp_code(secret, (first + 1) * 30, params) != code


def test_a_fresh_code_is_accepted_when_a_spent_step_had_the_same_code() -> None:
    """F5: the phone one step ahead shows 823902, as the step already used did."""
    secret, first, second, code = COLLIDING
    params = TotpParameters()
    now = (first + 1) * 30 + 5
    assert match_totp(secret, code, now=now, last_step=first, params=params, window=1) == second


def test_there_is_no_step_before_1970() -> None:
    """A time before 1970 has no code; near 1970 the window stops at step 0."""
    params = TotpParameters()
    secret = bytes(range(20))
    with pytest.raises(FactorRejected) as raised:
        totp_code(secret, -1, params)
    assert raised.value.codes == ("factor.invalid_time",)
    code = totp_code(secret, 0, params)
    assert match_totp(secret, code, now=5, last_step=-1, params=params, window=3) == 0
    assert match_totp(secret, code, now=5, last_step=0, params=params, window=3) is None
    assert replayed_totp(secret, code, now=5, last_step=0, params=params, window=3)


separators = st.lists(st.sampled_from([" ", "-", "\t", "  ", " - "]), max_size=3)


@st.composite
def sprinkled(draw: st.DrawFn, text: str) -> str:
    """``text`` with spaces and dashes around and between its characters."""
    pieces = ["".join(draw(separators)) + c for c in text]
    return "".join(pieces) + "".join(draw(separators))


@given(data=st.data(), code=st.text(alphabet=string.digits, min_size=6, max_size=8))
def test_clean_code_forgives_spaces_and_dashes_in_a_code(data: st.DataObject, code: str) -> None:
    """F5: "123 456" and "123-456" are the code 123456."""
    typed = data.draw(sprinkled(code))
    assume(len(typed) <= 64)
    assert clean_code(typed) == code
    assert clean_code(typed, digits=len(code)) == code
    assert clean_code(typed, digits=len(code) + 1) is None


@given(data=st.data(), code=st.text(alphabet=CROCKFORD, min_size=1, max_size=32))
def test_clean_code_forgives_case_spaces_and_dashes_in_a_recovery_code(
    data: st.DataObject, code: str
) -> None:
    typed = data.draw(sprinkled(code.lower()))
    assume(len(typed) <= 64)  # longer entries are no code (see below)
    assert clean_code(typed) == code


@pytest.mark.parametrize(
    "typed", [None, 123456, b"123456", "", "   ", "--", "１２３４５６x", "12345a", "1" * 65]
)
def test_clean_code_refuses_what_is_no_code(typed: object) -> None:
    assert clean_code(typed, digits=6) is None


def test_clean_code_reads_full_width_digits_as_digits() -> None:
    """F5: NFKC: a code typed with an East Asian keyboard's digits is the same code."""
    assert clean_code("１２３ ４５６", digits=6) == "123456"


# -- recovery codes ---------------------------------------------------------------------------


@given(length=st.integers(12, 32))
def test_a_recovery_code_has_the_length_and_alphabet_asked_for(length: int) -> None:
    """F5: Crockford base 32 in groups of 4; 5 bits a character, at least 60 bits."""
    code = new_recovery_code(length)
    groups = code.split("-")
    raw = "".join(groups)
    assert len(raw) == length
    assert set(raw) <= set(CROCKFORD)
    assert all(1 <= len(g) <= 4 for g in groups)
    assert all(len(g) == 4 for g in groups[:-1])
    assert len(raw) * 5 >= 60


def test_recovery_codes_of_the_settings_hold_at_least_60_bits() -> None:
    """F5: the shortest length the settings accept still holds 60 bits."""
    assert FactorSettings(recovery_code_length=12).recovery_code_length * 5 >= 60
    assert FactorSettings().recovery_code_length * 5 == 80
    with pytest.raises(ValueError, match="recovery_code_length"):
        FactorSettings(recovery_code_length=11)


def test_recovery_codes_are_not_repeated() -> None:
    codes = {new_recovery_code() for _ in range(2000)}
    assert len(codes) == 2000


def _typos(code: str) -> st.SearchStrategy[str]:
    """How a person may type ``code``: case, no dashes, O for 0, I or L for 1."""

    def swap(c: str, pick: int) -> str:
        if c == "0":
            return "Oo"[pick % 2]
        if c == "1":
            return "IiLl"[pick % 4]
        return c

    return st.lists(st.integers(0, 3), min_size=len(code), max_size=len(code)).map(
        lambda picks: "".join(swap(c, p) for c, p in zip(code, picks, strict=True))
    )


@given(data=st.data(), salt=ids, length=st.integers(12, 32))
def test_the_digest_of_a_recovery_code_is_the_same_however_it_is_typed(
    data: st.DataObject, salt: str, length: int
) -> None:
    """F5: lower case, without dashes, O/I/L for 0/1: the same code."""
    printed = new_recovery_code(length)
    expected = recovery_digest(salt, printed)
    assert expected is not None
    assert len(expected) == 32
    assert recovery_digest(salt, printed.lower()) == expected
    assert recovery_digest(salt, printed.replace("-", "")) == expected
    assert recovery_digest(salt, printed.replace("-", " ")) == expected
    typed = data.draw(_typos(printed))
    assert recovery_digest(salt, typed) == expected
    spaced = data.draw(sprinkled(typed.lower()))
    assume(len(spaced) <= 64)
    assert recovery_digest(salt, spaced) == expected


@given(salts=st.lists(ids, min_size=2, max_size=2, unique=True))
def test_equal_codes_under_different_salts_have_different_digests(salts: list[str]) -> None:
    """F5: the salt is the factor's id, so two users' equal codes never share a digest."""
    code = new_recovery_code()
    first, second = (recovery_digest(salt, code) for salt in salts)
    assert first != second


@given(salt=ids)
def test_different_codes_have_different_digests(salt: str) -> None:
    first, second = new_recovery_code(), new_recovery_code()
    assume(first != second)
    assert recovery_digest(salt, first) != recovery_digest(salt, second)


@given(
    salt=ids,
    code=st.text(alphabet=CROCKFORD, min_size=1, max_size=20),
    bad=st.sampled_from([*"UuÉé!?_.,;:/+*=@#$%&()[]{}'\"€", "\u200b", "ü", "ç"]),
    at=st.integers(0, 20),
)
def test_garbage_has_no_digest(salt: str, code: str, bad: str, at: int) -> None:
    """F5: a character outside Crockford's alphabet (and its O/I/L) is no recovery code."""
    typed = code[:at] + bad + code[at:]
    assert recovery_digest(salt, typed) is None


@pytest.mark.parametrize("typed", [None, 12, b"ABCD", "", " - ", "A" * 65])
def test_what_is_no_text_or_too_long_has_no_digest(typed: object) -> None:
    assert recovery_digest("factor-1", typed) is None


# -- the budget -------------------------------------------------------------------------------

budget_settings = st.builds(
    FactorSettings,
    attempts=st.integers(1, 8),
    attempt_window=st.integers(1, 3600).map(lambda s: timedelta(seconds=s)),
)
offsets = st.lists(st.integers(-4000, 100).map(lambda s: timedelta(seconds=s)), max_size=15)
past = st.lists(st.integers(-4000, 0).map(lambda s: timedelta(seconds=s)), max_size=15)


@given(settings=budget_settings, offsets=offsets, micro=st.integers(0, 999_999))
def test_recent_misses_are_the_last_ones_inside_the_window(
    settings: FactorSettings, offsets: list[timedelta], micro: int
) -> None:
    """F5: the budget counts the wrong codes of the sliding window, at most ``attempts``."""
    now = START + timedelta(microseconds=micro)
    misses = [START + o for o in offsets]
    recent = recent_misses(misses, now, settings)
    inside = sorted(m for m in misses if now - settings.attempt_window < m <= now)
    assert list(recent) == inside[-settings.attempts :]
    assert len(recent) <= settings.attempts


@given(settings=budget_settings, offsets=past, micro=st.integers(0, 999_999))
def test_retry_after_says_exactly_when_a_code_may_be_checked_again(
    settings: FactorSettings, offsets: list[timedelta], micro: int
) -> None:
    """F5: None while the window holds fewer than ``attempts`` misses; otherwise the whole
    seconds until the oldest counted one leaves it: still throttled a second earlier."""
    now = START + timedelta(microseconds=micro)
    misses = [START + o for o in offsets]
    inside = [m for m in misses if now - settings.attempt_window < m <= now]
    wait = retry_after(misses, now, settings)
    if len(inside) < settings.attempts:
        assert wait is None
        return
    assert wait is not None
    assert 1 <= wait <= settings.attempt_window.total_seconds() + 1
    assert retry_after(misses, now + timedelta(seconds=wait), settings) is None
    assert retry_after(misses, now + timedelta(seconds=wait - 1), settings) is not None


@given(settings=budget_settings, offsets=offsets, extra=st.integers(0, 100))
def test_a_new_miss_never_shortens_the_wait(
    settings: FactorSettings, offsets: list[timedelta], extra: int
) -> None:
    now = START + timedelta(seconds=100)
    misses = [START + o for o in offsets]
    before = retry_after(misses, now, settings) or 0
    after = retry_after([*misses, now - timedelta(seconds=extra)], now, settings) or 0
    assert after >= before


@given(settings=budget_settings, offsets=offsets)
def test_misses_in_the_future_do_not_count(
    settings: FactorSettings, offsets: list[timedelta]
) -> None:
    """A clock set back does not throttle on misses it has not reached yet."""
    future = [START + timedelta(seconds=1) + abs(o) for o in offsets]
    assert recent_misses(future, START, settings) == ()
    assert retry_after(future, START, settings) is None


def test_the_budget_defaults_are_5_in_15_minutes() -> None:
    """F5: 5 wrong codes in 15 minutes; the sixth is not checked for the window's rest."""
    settings = FactorSettings()
    misses = [START + timedelta(minutes=m) for m in range(5)]
    now = START + timedelta(minutes=4)
    assert retry_after(misses[:4], now, settings) is None
    assert retry_after(misses, now, settings) == 11 * 60
    assert retry_after(misses, START + timedelta(minutes=14, seconds=59), settings) == 1
    assert retry_after(misses, START + timedelta(minutes=14, seconds=59.5), settings) == 1
    assert retry_after(misses, START + timedelta(minutes=15), settings) is None


# -- settings ---------------------------------------------------------------------------------


def test_the_default_settings_are_rfc_6238_and_the_sources() -> None:
    """F5: 6 digits, 30-second steps, SHA-1, ±1 step, 160-bit secrets, 10 codes of 80 bits."""
    settings = FactorSettings()
    assert settings.totp == TotpParameters(6, 30, TotpAlgorithm.SHA1)
    assert (settings.window, settings.secret_bytes) == (1, 20)
    assert (settings.recovery_codes, settings.recovery_code_length) == (10, 16)
    assert (settings.attempts, settings.attempt_window) == (5, timedelta(minutes=15))


@pytest.mark.parametrize(
    "overrides",
    [
        {"window": 0},
        {"window": 3},
        {"secret_bytes": 16},
        {"secret_bytes": 64},
        {"recovery_codes": 1},
        {"recovery_codes": 50},
        {"recovery_code_length": 12},
        {"recovery_code_length": 32},
        {"attempts": 1},
        {"attempts": 100},
        {"attempt_window": timedelta(seconds=1)},
        {"max_factors": 1},
        {"enrolment_timeout": timedelta(minutes=1)},
        {"min_ipv4_prefix": 0},
        {"min_ipv6_prefix": 128},
        {"totp": TotpParameters(digits=8, period=120, algorithm="SHA512")},
        {"totp": TotpParameters(digits=7, period=15, algorithm=TotpAlgorithm.SHA256)},
    ],
)
def test_settings_at_their_bounds_are_accepted(overrides: dict[str, object]) -> None:
    FactorSettings(**overrides)  # type: ignore[arg-type]


BAD_DURATIONS = [
    {"attempt_window": timedelta(0)},
    {"attempt_window": timedelta(seconds=-1)},
    {"attempt_window": 900},
    {"enrolment_timeout": timedelta(0)},
    {"enrolment_timeout": "1h"},
]

BAD_VALUES = [
    {"window": -1},
    {"window": 4},
    {"window": "1"},
    {"secret_bytes": 15},
    {"secret_bytes": 65},
    {"secret_bytes": None},
    {"recovery_codes": 0},
    {"recovery_codes": 51},
    {"recovery_code_length": 11},
    {"recovery_code_length": 33},
    {"attempts": 0},
    {"attempts": 101},
    {"max_factors": 0},
    {"min_ipv4_prefix": 33},
    {"min_ipv6_prefix": -1},
]

BAD_TOTP = [{"digits": 5}, {"digits": 9}, {"digits": "6"}, {"period": 14}, {"period": 121}]


@pytest.mark.parametrize("overrides", BAD_DURATIONS)
def test_durations_that_cannot_work_are_refused_with_a_code(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidConfiguration) as raised:
        FactorSettings(**overrides)  # type: ignore[arg-type]
    assert raised.value.code == "config.invalid"


@pytest.mark.parametrize("overrides", BAD_VALUES)
def test_numbers_that_cannot_work_are_refused(overrides: dict[str, object]) -> None:
    """F5: refused when built, as InvalidConfiguration (a ValueError)."""
    with pytest.raises((ValueError, TypeError)):
        FactorSettings(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize("overrides", BAD_TOTP)
def test_totp_parameters_that_apps_cannot_read_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        TotpParameters(**overrides)  # type: ignore[arg-type]


def test_an_unknown_hash_is_refused() -> None:
    with pytest.raises(ValueError, match="MD5"):
        TotpParameters(algorithm="MD5")


@pytest.mark.parametrize(
    "build",
    [
        *[
            pytest.param(lambda o=o: FactorSettings(**o), id=f"settings-{next(iter(o))}-{o}")
            for o in BAD_VALUES
        ],
        *[
            pytest.param(lambda o=o: TotpParameters(**o), id=f"totp-{next(iter(o))}-{o}")
            for o in BAD_TOTP
        ],
    ],
)
def test_every_bad_setting_is_refused_as_invalid_configuration(build) -> None:
    with pytest.raises(InvalidConfiguration) as raised:
        build()
    assert raised.value.code == "config.invalid"


@pytest.mark.parametrize("overrides", [{"totp": 5}, {"issuer": 5}, {"totp": "SHA1"}])
def test_settings_of_the_wrong_type_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidConfiguration):
        FactorSettings(**overrides)  # type: ignore[arg-type]


# -- sealed secrets ---------------------------------------------------------------------------

keys = st.binary(min_size=32, max_size=64)


@given(key=keys, factor_id=ids, user_id=ids, secret=secrets_)
def test_a_sealed_secret_opens_for_its_factor_and_user(
    key: bytes, factor_id: str, user_id: str, secret: bytes
) -> None:
    """F5: the TOTP secret is stored encrypted; the raw bytes never appear in the row."""
    sealed = seal_secret(key, factor_id, user_id, secret)
    assert secret not in sealed
    assert open_secret(key, factor_id, user_id, sealed) == secret
    assert seal_secret(key, factor_id, user_id, secret) != sealed  # a fresh nonce each time


@given(key=keys, factor_id=ids, user_id=ids, other=ids, secret=secrets_)
def test_a_sealed_secret_moved_to_another_factor_or_user_does_not_open(
    key: bytes, factor_id: str, user_id: str, other: str, secret: bytes
) -> None:
    """F5: the ids are authenticated with the secret: a row copied elsewhere is useless."""
    sealed = seal_secret(key, factor_id, user_id, secret)
    if other != factor_id:
        assert open_secret(key, other, user_id, sealed) is None
    if other != user_id:
        assert open_secret(key, factor_id, other, sealed) is None


@given(key=keys, other_key=keys, secret=secrets_)
def test_a_sealed_secret_does_not_open_under_another_key(
    key: bytes, other_key: bytes, secret: bytes
) -> None:
    assume(key != other_key)
    sealed = seal_secret(key, "factor-1", "user-1", secret)
    assert open_secret(other_key, "factor-1", "user-1", sealed) is None


@given(key=keys, secret=secrets_, data=st.data())
def test_a_tampered_or_truncated_secret_does_not_open(
    key: bytes, secret: bytes, data: st.DataObject
) -> None:
    sealed = seal_secret(key, "factor-1", "user-1", secret)
    at = data.draw(st.integers(0, len(sealed) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = sealed[:at] + bytes([sealed[at] ^ flip]) + sealed[at + 1 :]
    assert open_secret(key, "factor-1", "user-1", tampered) is None
    cut = data.draw(st.integers(0, len(sealed) - 1))
    assert open_secret(key, "factor-1", "user-1", sealed[:cut]) is None
    assert open_secret(key, "factor-1", "user-1", sealed + b"\x00") is None


@pytest.mark.parametrize(
    ("sealed_for", "opened_for"),
    [(("a\x00b", "c"), ("a", "b\x00c")), (("\ud800", "user-1"), ("?", "user-1"))],
)
def test_ids_that_differ_only_in_their_encoding_do_not_open_each_others_secret(
    sealed_for: tuple[str, str], opened_for: tuple[str, str]
) -> None:
    key = bytes(range(32))
    sealed = seal_secret(key, *sealed_for, b"12345678901234567890")
    assert open_secret(key, *opened_for, sealed) is None


@pytest.mark.parametrize("account", ["dr.dupont", "jeanne.dupont@cabinet.be", "Élise Noël"])
def test_the_provisioning_uri_names_the_account_once_encoded(account: str) -> None:
    """F5: the app shows the login as typed: percent-encoded once, not twice."""
    uri = provisioning_uri(
        bytes(range(20)), account_name=account, issuer="Cabinet Exemple", params=TotpParameters()
    )
    label = urllib.parse.urlsplit(uri).path.lstrip("/")
    assert urllib.parse.unquote(label) == f"Cabinet Exemple:{account}"
