"""Second authentication factors (F5): TOTP apps, recovery codes, network allow-lists.

A user may hold several factors, name them, rename and remove them (source 002). Three
kinds:

* :attr:`FactorKind.TOTP`: an authenticator app (RFC 6238). Its secret is stored encrypted
  (AES-256-GCM under the host's ``"totp"`` key, bound to the factor and user), as the
  server must compute codes from it; it is pending until the user enters a first code.
* :attr:`FactorKind.RECOVERY_CODES`: single-use codes printed once, stored as digests.
* :attr:`FactorKind.NETWORK`: IP ranges (CIDR) from which the password alone suffices. Set
  by support only (source 002: "les seconds facteurs par adresse(s) IP doivent être
  communiqués à notre équipe support"); the peer address comes from the host's
  :class:`~practiceid.ports.RequestContext`.

:class:`FactorGuard` holds a user's recent wrong codes, the budget that bounds guessing;
:class:`FactorRequirement` says whether an establishment requires a second factor.
"""

from __future__ import annotations

import enum
import hashlib
import os
from datetime import datetime
from typing import NewType

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from practiceid.establishments import EstablishmentId
from practiceid.users import UserId

__all__ = [
    "TOTP_KEY_PURPOSE",
    "Factor",
    "FactorGuard",
    "FactorId",
    "FactorKind",
    "FactorRequirement",
    "open_secret",
    "seal_secret",
]

FactorId = NewType("FactorId", str)
"""An opaque identifier of a second factor (a UUID4 string)."""

TOTP_KEY_PURPOSE = "totp"
"""The :class:`~practiceid.ports.KeyProvider` purpose that encrypts TOTP secrets."""

_NONCE = 12


class FactorKind(enum.StrEnum):
    """The kinds of second factor (F5)."""

    TOTP = "totp"
    RECOVERY_CODES = "recovery_codes"
    NETWORK = "network"


@attrs.frozen
class Factor:
    """One second factor of a user.

    Kind-specific fields: ``secret`` (TOTP: nonce and AES-GCM ciphertext of the secret,
    under key ``key_id``), ``last_step`` (TOTP: the last time step accepted, so no code is
    accepted twice), ``digests`` (recovery codes not yet used), ``networks`` (CIDR text).
    ``confirmed_at`` is ``None`` while a TOTP factor awaits its first code; a pending factor
    never completes a sign-in.
    """

    id: FactorId
    user_id: UserId
    kind: FactorKind
    name: str
    created_at: datetime
    created_by: UserId
    confirmed_at: datetime | None = None
    last_used_at: datetime | None = None
    key_id: str | None = None
    secret: bytes = attrs.field(default=b"", repr=False)
    last_step: int = -1
    digests: tuple[bytes, ...] = attrs.field(default=(), repr=False)
    networks: tuple[str, ...] = ()
    version: int = 0

    @property
    def is_confirmed(self) -> bool:
        """True once usable: a TOTP factor after its first code, others at once."""
        return self.confirmed_at is not None

    @property
    def codes_left(self) -> int:
        """Recovery codes not yet used (0 for other kinds)."""
        return len(self.digests)

    def used(
        self, now: datetime, *, step: int | None = None, digest: bytes | None = None
    ) -> Factor:
        """Return the factor after a successful use: a step or a recovery code spent."""
        return attrs.evolve(
            self,
            last_used_at=now,
            last_step=self.last_step if step is None else step,
            digests=self.digests
            if digest is None
            else tuple(d for d in self.digests if d != digest),
        )


@attrs.frozen
class FactorGuard:
    """A user's recent wrong codes (F5): at most ``attempts`` per window are checked.

    ``version`` 0 means not stored yet; repositories store it as 1.
    """

    user_id: UserId
    misses: tuple[datetime, ...] = ()
    version: int = 0


@attrs.frozen
class FactorRequirement:
    """Whether an establishment requires its members to sign in with a second factor."""

    establishment_id: EstablishmentId
    required: bool
    changed_at: datetime
    changed_by: UserId
    version: int = 0


def _aes_key(key: bytes) -> AESGCM:
    # The provider's key is at least 32 random bytes; derive a dedicated AES-256 key.
    return AESGCM(hashlib.sha256(b"practiceid:totp:v1\x00" + key).digest())


def _associated(factor_id: str, user_id: str) -> bytes:
    """Return the ids as authenticated data: each length-prefixed, so no two pairs agree."""
    parts = [b"practiceid:totp:v1"]
    for value in (factor_id, user_id):
        encoded = value.encode("utf-8", "surrogatepass")
        parts.append(len(encoded).to_bytes(4, "big") + encoded)
    return b"".join(parts)


def seal_secret(key: bytes, factor_id: str, user_id: str, secret: bytes) -> bytes:
    """Return ``secret`` encrypted for storage: a fresh nonce and AES-256-GCM ciphertext.

    The factor and user ids are authenticated with it, so a secret copied to another
    factor's row does not open.
    """
    nonce = os.urandom(_NONCE)
    return nonce + _aes_key(key).encrypt(nonce, secret, _associated(factor_id, user_id))


def open_secret(key: bytes, factor_id: str, user_id: str, sealed: bytes) -> bytes | None:
    """Return the secret :func:`seal_secret` sealed, or None when it does not open."""
    if len(sealed) <= _NONCE:
        return None
    try:
        return _aes_key(key).decrypt(
            sealed[:_NONCE], sealed[_NONCE:], _associated(factor_id, user_id)
        )
    except InvalidTag:
        return None
