"""RFC 6238 Appendix B: the published TOTP test vectors (F5).

Every vector (8 digits, 30-second steps; SHA-1, SHA-256 and SHA-512 with the RFC's 20-,
32- and 64-byte seeds) goes through :func:`~practiceid.policies.factors.totp_code`, and
:func:`~practiceid.policies.factors.match_totp` accepts it at its time, once: not when the
step it belongs to is already the last accepted one.
"""

from __future__ import annotations

import pytest

from practiceid.policies.factors import TotpAlgorithm, TotpParameters, match_totp, totp_code

SEEDS = {
    TotpAlgorithm.SHA1: b"12345678901234567890",
    TotpAlgorithm.SHA256: b"12345678901234567890123456789012",
    TotpAlgorithm.SHA512: b"1234567890123456789012345678901234567890123456789012345678901234",
}

# (Unix time, counter T in hex, SHA-1, SHA-256, SHA-512): RFC 6238, Appendix B.
TABLE = [
    (59, "0000000000000001", "94287082", "46119246", "90693936"),
    (1111111109, "00000000023523EC", "07081804", "68084774", "25091201"),
    (1111111111, "00000000023523ED", "14050471", "67062674", "99943326"),
    (1234567890, "000000000273EF07", "89005924", "91819424", "93441116"),
    (2000000000, "0000000003F940AA", "69279037", "90698825", "38618901"),
    (20000000000, "0000000027BC86AA", "65353130", "77737706", "47863826"),
]

VECTORS = [
    pytest.param(time, int(counter, 16), algorithm, code, id=f"{algorithm}-{time}")
    for time, counter, *codes in TABLE
    for algorithm, code in zip(
        (TotpAlgorithm.SHA1, TotpAlgorithm.SHA256, TotpAlgorithm.SHA512), codes, strict=True
    )
]


def test_the_seeds_are_the_rfcs() -> None:
    """The SHA-256 and SHA-512 seeds extend the SHA-1 one to the hash's length."""
    base = SEEDS[TotpAlgorithm.SHA1]
    assert len(base) == 20
    assert SEEDS[TotpAlgorithm.SHA256] == (base * 2)[:32]
    assert SEEDS[TotpAlgorithm.SHA512] == (base * 4)[:64]


@pytest.mark.parametrize(("time", "counter", "algorithm", "code"), VECTORS)
def test_totp_code_gives_the_rfc_6238_vector(
    time: int, counter: int, algorithm: TotpAlgorithm, code: str
) -> None:
    """F5: the codes an authenticator app computes, for each hash."""
    params = TotpParameters(digits=8, algorithm=algorithm)
    assert time // params.period == counter
    assert totp_code(SEEDS[algorithm], time, params) == code


@pytest.mark.parametrize(("time", "counter", "algorithm", "code"), VECTORS)
@pytest.mark.parametrize("window", [0, 1])
def test_match_totp_accepts_the_vector_at_its_time(
    time: int, counter: int, algorithm: TotpAlgorithm, code: str, window: int
) -> None:
    """F5: the vector's code is the code of its step, accepted while no later step was."""
    params = TotpParameters(digits=8, algorithm=algorithm)
    seed = SEEDS[algorithm]
    for last_step in (-1, counter - 1):
        assert (
            match_totp(seed, code, now=time, last_step=last_step, params=params, window=window)
            == counter
        )


@pytest.mark.parametrize(("time", "counter", "algorithm", "code"), VECTORS)
def test_match_totp_refuses_the_vector_once_its_step_was_accepted(
    time: int, counter: int, algorithm: TotpAlgorithm, code: str
) -> None:
    """F5: a code is good once, not again within its own step nor after a later one."""
    params = TotpParameters(digits=8, algorithm=algorithm)
    seed = SEEDS[algorithm]
    for last_step in (counter, counter + 1):
        assert (
            match_totp(seed, code, now=time, last_step=last_step, params=params, window=1) is None
        )


@pytest.mark.parametrize(("time", "counter", "algorithm", "code"), VECTORS)
def test_match_totp_accepts_the_vector_a_step_either_side_and_not_two(
    time: int, counter: int, algorithm: TotpAlgorithm, code: str
) -> None:
    """F5, RFC 6238 §5.2: one step of drift either way is forgiven, two are not."""
    params = TotpParameters(digits=8, algorithm=algorithm)
    seed = SEEDS[algorithm]
    start = counter * params.period  # the first second of the vector's step

    def match(now: int) -> int | None:
        return match_totp(seed, code, now=now, last_step=-1, params=params, window=1)

    assert match(start - params.period) == counter
    assert match(start + 2 * params.period - 1) == counter
    assert match(start - params.period - 1) is None
    assert match(start + 2 * params.period) is None


@pytest.mark.parametrize(("time", "counter", "algorithm", "code"), VECTORS[:3])
def test_a_vector_with_spaces_or_of_other_length_is_judged_as_typed(
    time: int, counter: int, algorithm: TotpAlgorithm, code: str
) -> None:
    """F5: spaces and dashes are forgiven; a 6-digit prefix of an 8-digit code is not."""
    params = TotpParameters(digits=8, algorithm=algorithm)
    seed = SEEDS[algorithm]
    spaced = f"{code[:4]} {code[4:]}"
    dashed = f"{code[:4]}-{code[4:]}"
    for typed in (spaced, dashed):
        assert match_totp(seed, typed, now=time, last_step=-1, params=params, window=1) == counter
    for typed in (code[:6], code[-6:], code + "0"):
        assert match_totp(seed, typed, now=time, last_step=-1, params=params, window=1) is None
