"""The Hypothesis strategies for key pairs and second factors are usable as documented (D3, F5)."""

from __future__ import annotations

from hypothesis import given, settings

from practiceid import FactorSettings, TotpParameters
from practiceid.keypairs import generate_key_pair, read_backup
from practiceid.policies.factors import match_totp, recovery_digest, totp_code
from practiceid.testing.strategies import (
    backup_passwords,
    factor_settings,
    recovery_codes,
    totp_secrets,
)


@settings(max_examples=25, deadline=None)
@given(backup_passwords())
def test_backup_passwords_protect_a_backup_that_opens_with_them(password: str) -> None:
    made = generate_key_pair(password)
    assert read_backup(made.backup, password).fingerprint == made.fingerprint


@given(recovery_codes())
def test_recovery_codes_are_printed_codes_with_a_digest(code: str) -> None:
    assert len(code.replace("-", "")) * 5 >= 60
    assert recovery_digest("factor", code) == recovery_digest("factor", code.lower())


@given(factor_settings(), totp_secrets())
def test_factor_settings_are_valid_and_their_codes_verify(
    drawn: FactorSettings, secret: bytes
) -> None:
    params = drawn.totp
    assert isinstance(params, TotpParameters)
    now = 1_700_000_000
    code = totp_code(secret, now, params)
    assert len(code) == params.digits
    step = match_totp(secret, code, now=now, last_step=-1, params=params, window=drawn.window)
    assert step == now // params.period
