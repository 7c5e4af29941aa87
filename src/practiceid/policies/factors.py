"""Second factors' rules (F5): TOTP codes, recovery codes, the guessing budget.

* **TOTP** (RFC 6238) with ``cryptography``'s ``TOTP`` (``hazmat.primitives.twofactor``):
  6 digits, 30-second steps, SHA-1 by default, as every authenticator app reads them from
  a provisioning URI. :func:`match_totp` accepts the step before and after the current one
  (clock drift, RFC 6238 §5.2) but only steps *after* the last accepted one, so a code is
  never accepted twice, not even within its own step.
* **Recovery codes**: 10 by default, 16 Crockford base-32 characters (80 bits) each,
  printed as ``XXXX-XXXX-XXXX-XXXX``. Stored as salted SHA-256 digests: with 80 random bits
  a fast hash is out of reach of guessing, so checking a code costs microseconds, not an
  Argon2 run. Entry forgives case, spaces, dashes and the letters Crockford maps to digits.
* **The budget**: a user's wrong codes in a sliding window (5 in 15 minutes); while it is
  spent, no code is checked.

>>> secret = bytes(range(20))
>>> params = TotpParameters()
>>> code = totp_code(secret, 59 * 30, params)
>>> match_totp(secret, code, now=59 * 30 + 10, last_step=-1, params=params, window=1)
59
>>> match_totp(secret, code, now=59 * 30 + 10, last_step=59, params=params, window=1) is None
True
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from practiceid.errors import FactorRejected, InvalidConfiguration, Violation

__all__ = [
    "FactorSettings",
    "TotpAlgorithm",
    "TotpParameters",
    "clean_code",
    "match_totp",
    "new_recovery_code",
    "provisioning_uri",
    "recent_misses",
    "recovery_digest",
    "retry_after",
    "totp_code",
]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_ENTRY = str.maketrans({"O": "0", "I": "1", "L": "1"})
_MAX_ENTRY = 64


class TotpAlgorithm(enum.StrEnum):
    """The HMAC hash of a TOTP factor. SHA-1 is what authenticator apps all support."""

    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"

    def hash(self) -> hashes.SHA1 | hashes.SHA256 | hashes.SHA512:
        """Return the ``cryptography`` hash algorithm."""
        if self is TotpAlgorithm.SHA256:
            return hashes.SHA256()
        if self is TotpAlgorithm.SHA512:
            return hashes.SHA512()
        return hashes.SHA1()  # noqa: S303 - RFC 6238's default, what authenticator apps use


def _bounded(low: int, high: int) -> Callable[[object, attrs.Attribute[int], object], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
        if type(value) is not int or not low <= value <= high:
            raise InvalidConfiguration(
                f"{attribute.name} is a whole number from {low} to {high}",
                setting=attribute.name,
                value=str(value)[:40],
            )

    return check


def _one_of(*allowed: int) -> Callable[[object, attrs.Attribute[int], object], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
        if type(value) is not int or value not in allowed:
            raise InvalidConfiguration(
                f"{attribute.name} is one of {', '.join(map(str, allowed))}",
                setting=attribute.name,
                value=str(value)[:40],
            )

    return check


def _algorithm(value: object) -> TotpAlgorithm:
    if isinstance(value, str) and value in TotpAlgorithm.__members__:
        return TotpAlgorithm(value)
    raise InvalidConfiguration(
        f"unknown TOTP hash {str(value)[:40]!r}: SHA1, SHA256 or SHA512",
        setting="algorithm",
        value=str(value)[:40],
    )


@attrs.frozen
class TotpParameters:
    """How a TOTP factor makes its codes (RFC 6238): digits, step length, hash.

    Raises:
        InvalidConfiguration: a value no authenticator app reads.
    """

    digits: int = attrs.field(default=6, validator=_one_of(6, 7, 8))
    period: int = attrs.field(default=30, validator=_bounded(15, 120))
    algorithm: TotpAlgorithm = attrs.field(default=TotpAlgorithm.SHA1, converter=_algorithm)


def _rejected(code: str, message: str, field: str, **params: object) -> FactorRejected:
    return FactorRejected([Violation(code, message, field, params)])


def _positive(_instance: object, attribute: attrs.Attribute[timedelta], value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InvalidConfiguration(
            f"{attribute.name} must be a positive timedelta", setting=attribute.name
        )


def _instance(kind: type) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind) or (kind is str and not value):
            raise InvalidConfiguration(
                f"{attribute.name} is a {kind.__name__}", setting=attribute.name
            )

    return check


@attrs.frozen(kw_only=True)
class FactorSettings:
    """Second-factor rules (F5). The defaults follow RFC 6238 and common practice.

    Args:
        totp: digits, step and hash of new TOTP factors.
        window: steps accepted before and after the current one (1: ±30 s of drift).
        issuer: the name authenticator apps show above the code.
        secret_bytes: the length of new TOTP secrets (20: 160 bits, RFC 4226 §4).
        recovery_codes: how many recovery codes a set holds.
        recovery_code_length: characters per code, 5 bits each (at least 12: 60 bits).
        attempts: wrong codes a user may enter within ``attempt_window``.
        attempt_window: the sliding window of the budget.
        max_factors: factors one user may hold.
        enrolment_timeout: a TOTP factor not confirmed by then is dropped by the next
            enrolment.
        min_ipv4_prefix, min_ipv6_prefix: the broadest ranges a network factor may hold.
    """

    totp: TotpParameters = attrs.field(factory=TotpParameters, validator=_instance(TotpParameters))
    window: int = attrs.field(default=1, validator=_bounded(0, 3))
    issuer: str = attrs.field(default="practiceid", validator=_instance(str))
    secret_bytes: int = attrs.field(default=20, validator=_bounded(16, 64))
    recovery_codes: int = attrs.field(default=10, validator=_bounded(1, 50))
    recovery_code_length: int = attrs.field(default=16, validator=_bounded(12, 32))
    attempts: int = attrs.field(default=5, validator=_bounded(1, 100))
    attempt_window: timedelta = attrs.field(default=timedelta(minutes=15), validator=_positive)
    max_factors: int = attrs.field(default=10, validator=_bounded(1, 100))
    enrolment_timeout: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive)
    min_ipv4_prefix: int = attrs.field(default=16, validator=_bounded(0, 32))
    min_ipv6_prefix: int = attrs.field(default=32, validator=_bounded(0, 128))


def _totp(secret: bytes, params: TotpParameters) -> TOTP:
    return TOTP(
        secret,
        params.digits,
        params.algorithm.hash(),
        params.period,
        enforce_key_length=False,
    )


def totp_code(secret: bytes, at: float, params: TotpParameters) -> str:
    """Return the code of ``secret`` at Unix time ``at`` (what the user's app shows).

    Raises:
        FactorRejected: ``factor.invalid_time`` for a time before 1970.
    """
    if at < 0:
        raise _rejected("factor.invalid_time", "a TOTP time is a Unix time from 1970", "at")
    return _totp(secret, params).generate(at).decode("ascii")


def clean_code(code: object, *, digits: int | None = None) -> str | None:
    """Return a typed code without spaces and dashes, upper case; None when it is no code.

    With ``digits``, only a code of exactly that many decimal digits is kept.
    """
    if not isinstance(code, str) or len(code) > _MAX_ENTRY:
        return None
    cleaned = unicodedata.normalize("NFKC", code)
    cleaned = re.sub(r"[\s\-]", "", cleaned).upper()
    if digits is not None:
        return (
            cleaned if len(cleaned) == digits and cleaned.isascii() and cleaned.isdigit() else None
        )
    return cleaned or None


def _matching_steps(
    secret: bytes, code: object, *, now: float, params: TotpParameters, window: int
) -> list[int]:
    """Return the steps of the window whose code ``code`` is, oldest first.

    Every step in the window is computed and compared in constant time, whatever matches,
    so the timing tells nothing.
    """
    cleaned = clean_code(code, digits=params.digits)
    entry = (cleaned or "").encode("ascii")
    totp = _totp(secret, params)
    current = int(now) // params.period
    # compare_digest runs for every step before the test of ``cleaned``: constant time.
    return [
        step
        for step in range(max(current - window, 0), current + window + 1)
        if hmac.compare_digest(totp.generate(step * params.period), entry) and cleaned
    ]


def match_totp(
    secret: bytes,
    code: object,
    *,
    now: float,
    last_step: int,
    params: TotpParameters,
    window: int,
) -> int | None:
    """Return the step whose code ``code`` is, if it is one of the accepted steps.

    Accepted: from ``window`` steps before the current one to ``window`` after, and only
    steps after ``last_step`` (the last one accepted): a code is good once. When two steps
    of the window share a code, the oldest fresh one is taken.
    """
    matching = _matching_steps(secret, code, now=now, params=params, window=window)
    return next((step for step in matching if step > last_step), None)


def replayed_totp(
    secret: bytes,
    code: object,
    *,
    now: float,
    last_step: int,
    params: TotpParameters,
    window: int,
) -> bool:
    """Return True when ``code`` is the code of an accepted step already used."""
    matching = _matching_steps(secret, code, now=now, params=params, window=window)
    return any(step <= last_step for step in matching)


def provisioning_uri(
    secret: bytes, *, account_name: str, issuer: str, params: TotpParameters
) -> str:
    """Return the ``otpauth://`` URI an authenticator app reads (often as a QR code).

    The label is ``issuer:account_name``, each percent-encoded once (by ``cryptography``).
    """
    return _totp(secret, params).get_provisioning_uri(account_name, issuer)


def new_recovery_code(length: int = 16) -> str:
    """Return a recovery code: ``length`` Crockford base-32 characters, in groups of 4."""
    raw = "".join(secrets.choice(_CROCKFORD) for _ in range(length))
    return "-".join(raw[i : i + 4] for i in range(0, length, 4))


def recovery_digest(salt: str, code: object) -> bytes | None:
    """Return the stored form of a recovery code: SHA-256 of its normalized entry.

    ``salt`` is the factor's id, so equal codes of two users never share a digest. None
    when ``code`` cannot be a recovery code.
    """
    cleaned = clean_code(code)
    if cleaned is None:
        return None
    cleaned = cleaned.translate(_CROCKFORD_ENTRY)
    if not cleaned.isascii() or any(c not in _CROCKFORD for c in cleaned):
        return None
    message = b"practiceid:recovery:v1\x00" + salt.encode("utf-8", "replace") + b"\x00"
    return hashlib.sha256(message + cleaned.encode("ascii")).digest()


def recent_misses(
    misses: Sequence[datetime], now: datetime, settings: FactorSettings
) -> tuple[datetime, ...]:
    """Return the wrong codes still inside the window at ``now``, oldest first."""
    start = now - settings.attempt_window
    return tuple(sorted(m for m in misses if start < m <= now))[-settings.attempts :]


def retry_after(misses: Sequence[datetime], now: datetime, settings: FactorSettings) -> int | None:
    """Return seconds until a code may be checked again, or None when one may be now."""
    recent = recent_misses(misses, now, settings)
    if len(recent) < settings.attempts:
        return None
    free_at = recent[0] + settings.attempt_window
    return max(1, int((free_at - now).total_seconds() + 0.999999))
