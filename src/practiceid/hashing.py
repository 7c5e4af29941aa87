"""Password hashers: Argon2id by default, PBKDF2 for hashes migrated from Django.

:class:`Argon2idHasher` stores PHC strings (``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``) made
by ``cryptography``. Its defaults are the second recommended option of RFC 9106 (section 4,
"low-memory": 64 MiB, t=3, p=4); it refuses parameters below the OWASP Password Storage Cheat
Sheet floor (19 MiB, t=2, p=1) unless told that it runs in tests.

:class:`MigratingHasher` lets a host keep verifying its existing hashes (Django's PBKDF2 is
built in; bcrypt or anything else plugs in through the
:class:`~practiceid.ports.PasswordHasher` port) while new hashes are Argon2id: verification
succeeds with the old hash, ``needs_rehash`` says yes, and the account service stores a new
hash at that login.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
import unicodedata
from collections.abc import Sequence

import attrs
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from practiceid.errors import (
    InvalidConfiguration,
    PasswordMismatch,
    UnsupportedPasswordHash,
    WeakHashParameters,
)
from practiceid.ports.hashing import PasswordHasher

__all__ = [
    "OWASP_MINIMUM",
    "RFC9106_LOW_MEMORY",
    "Argon2idHasher",
    "Argon2idParameters",
    "DjangoPbkdf2Hasher",
    "MigratingHasher",
]

_PHC = re.compile(
    r"^\$argon2id\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)$"
)
_ARGON2_VERSION = 19
_MAX_SCHEME_LENGTH = 20


def _secret_bytes(password: str) -> bytes:
    # NFC so that "é" typed precomposed or decomposed is one password; surrogatepass so that
    # no input makes hashing crash (the policy refuses such passwords before storage).
    return unicodedata.normalize("NFC", password).encode("utf-8", "surrogatepass")


def _b64_length(text: str) -> int:
    return len(text) * 3 // 4


@attrs.frozen
class Argon2idParameters:
    """Argon2id cost parameters. ``memory_cost`` is in KiB."""

    memory_cost: int = 65536
    iterations: int = 3
    lanes: int = 4
    salt_length: int = 16
    hash_length: int = 32

    def is_below_owasp_floor(self) -> bool:
        """True when weaker than 19 MiB, t=2, p=1 (or salt/hash shorter than 16 bytes)."""
        return (
            self.memory_cost < OWASP_MINIMUM.memory_cost
            or self.iterations < OWASP_MINIMUM.iterations
            or self.salt_length < OWASP_MINIMUM.salt_length
            or self.hash_length < OWASP_MINIMUM.hash_length
        )


RFC9106_LOW_MEMORY = Argon2idParameters(memory_cost=65536, iterations=3, lanes=4)
"""RFC 9106 section 4, second recommended option: the default."""

OWASP_MINIMUM = Argon2idParameters(memory_cost=19456, iterations=2, lanes=1)
"""OWASP Password Storage Cheat Sheet's lowest Argon2id configuration: the floor."""


class Argon2idHasher:
    """Argon2id in PHC string format, via ``cryptography``.

    >>> from practiceid.testing import fast_hasher
    >>> hasher = fast_hasher()  # cheap parameters: tests and doctests only
    >>> stored = hasher.hash("Tr0ub4dor&3-horse")
    >>> stored.startswith("$argon2id$v=19$")
    True
    >>> hasher.verify(stored, "Tr0ub4dor&3-horse")  # returns None, or raises
    >>> hasher.verify(stored, "wrong")
    Traceback (most recent call last):
    ...
    practiceid.errors.PasswordMismatch: the password does not match
    """

    def __init__(
        self,
        parameters: Argon2idParameters = RFC9106_LOW_MEMORY,
        *,
        unsafe_allow_weak_parameters_for_tests: bool = False,
    ) -> None:
        if parameters.is_below_owasp_floor() and not unsafe_allow_weak_parameters_for_tests:
            raise WeakHashParameters(
                memory_cost=parameters.memory_cost,
                iterations=parameters.iterations,
                salt_length=parameters.salt_length,
                hash_length=parameters.hash_length,
            )
        if min(parameters.lanes, parameters.iterations, parameters.salt_length) < 1 or (
            parameters.memory_cost < 8 * parameters.lanes or parameters.hash_length < 4  # noqa: PLR2004
        ):
            raise InvalidConfiguration(
                "Argon2 needs lanes >= 1, memory_cost >= 8 * lanes, hash_length >= 4",
                option="parameters",
            )
        self.parameters = parameters

    def __repr__(self) -> str:
        return f"Argon2idHasher({self.parameters!r})"

    def hash(self, password: str) -> str:
        """Return a new PHC string for ``password`` with a fresh random salt."""
        p = self.parameters
        kdf = Argon2id(
            salt=os.urandom(p.salt_length),
            length=p.hash_length,
            iterations=p.iterations,
            lanes=p.lanes,
            memory_cost=p.memory_cost,
        )
        return kdf.derive_phc_encoded(_secret_bytes(password))

    def recognizes(self, encoded: object) -> bool:
        """True for an Argon2id PHC string."""
        return isinstance(encoded, str) and _PHC.match(encoded) is not None

    def verify(self, encoded: object, password: object) -> None:
        """Return if ``password`` matches; raise PasswordMismatch otherwise (constant time)."""
        if not isinstance(encoded, str) or not self.recognizes(encoded):
            raise UnsupportedPasswordHash(scheme=_scheme_of(encoded))
        if not isinstance(password, str):
            raise PasswordMismatch
        try:
            Argon2id.verify_phc_encoded(_secret_bytes(password), encoded)
        except InvalidKey:
            raise PasswordMismatch from None

    def needs_rehash(self, encoded: object) -> bool:
        """True when ``encoded`` was made with parameters other than this hasher's."""
        match = _PHC.match(encoded) if isinstance(encoded, str) else None
        if match is None:
            raise UnsupportedPasswordHash(scheme=_scheme_of(encoded))
        p = self.parameters
        return (
            int(match["v"]) != _ARGON2_VERSION
            or int(match["m"]) != p.memory_cost
            or int(match["t"]) != p.iterations
            or int(match["p"]) != p.lanes
            or _b64_length(match["salt"]) != p.salt_length
            or _b64_length(match["hash"]) != p.hash_length
        )


def _scheme_of(encoded: object) -> str:
    if not isinstance(encoded, str):
        return type(encoded).__name__
    # Only an algorithm's name, from a "$"-delimited format: never echo a stored value into
    # an error (a legacy column may even hold plain text).
    if "$" not in encoded:
        return "unknown"
    head = encoded.lstrip("$").split("$", 1)[0]
    plausible = len(head) <= _MAX_SCHEME_LENGTH and head.replace("_", "").replace("-", "").isalnum()
    return head if plausible else "unknown"


class DjangoPbkdf2Hasher:
    """Django's ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`` format.

    For hosts migrating from Django: wrap it in :class:`MigratingHasher` after an
    :class:`Argon2idHasher` so that existing users log in and get re-hashed. Like Django, it
    hashes the password's UTF-8 bytes as typed (no Unicode normalization). It can also hash,
    with ``iterations`` (Django 5.2's default, 1 000 000, unless told otherwise).
    """

    algorithm = "pbkdf2_sha256"

    def __init__(self, iterations: int = 1_000_000) -> None:
        if iterations < 1:
            raise InvalidConfiguration(
                "iterations must be positive", option="iterations", value=iterations
            )
        self.iterations = iterations

    def __repr__(self) -> str:
        return f"DjangoPbkdf2Hasher(iterations={self.iterations})"

    @staticmethod
    def _derive(password: str, salt: str, iterations: int) -> str:
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=salt.encode(), iterations=iterations
        )
        # Django hashes the UTF-8 bytes as typed, without normalization: so do we, or
        # passwords stored with decomposed accents would never verify again.
        secret = password.encode("utf-8", "surrogatepass")
        return base64.b64encode(kdf.derive(secret)).decode("ascii")

    def _split(self, encoded: object) -> tuple[int, str, str]:
        if not isinstance(encoded, str):
            raise UnsupportedPasswordHash(scheme=_scheme_of(encoded))
        parts = encoded.split("$")
        if len(parts) != 4 or parts[0] != self.algorithm or not parts[1].isdigit():  # noqa: PLR2004
            raise UnsupportedPasswordHash(scheme=_scheme_of(encoded))
        return int(parts[1]), parts[2], parts[3]

    def hash(self, password: str) -> str:
        """Return a Django-compatible PBKDF2-SHA256 hash with a fresh salt."""
        salt = base64.b64encode(os.urandom(16)).decode("ascii").rstrip("=")
        salt = "".join(c for c in salt if c.isalnum())
        digest = self._derive(password, salt, self.iterations)
        return f"{self.algorithm}${self.iterations}${salt}${digest}"

    def recognizes(self, encoded: object) -> bool:
        """True for a ``pbkdf2_sha256$…`` string."""
        try:
            self._split(encoded)
        except UnsupportedPasswordHash:
            return False
        return True

    def verify(self, encoded: object, password: object) -> None:
        """Return if ``password`` matches; raise PasswordMismatch otherwise (constant time)."""
        iterations, salt, expected = self._split(encoded)
        if not isinstance(password, str) or iterations < 1:
            raise PasswordMismatch
        actual = self._derive(password, salt, iterations)
        if not hmac.compare_digest(actual.encode("ascii"), expected.encode("ascii")):
            raise PasswordMismatch

    def needs_rehash(self, encoded: object) -> bool:
        """True when the hash used fewer or more iterations than configured."""
        iterations, _, _ = self._split(encoded)
        return iterations != self.iterations


class MigratingHasher:
    """Hash with ``preferred``; verify with whichever hasher recognizes the stored hash.

    ``needs_rehash`` is true for every hash the preferred hasher did not make with its current
    parameters, so legacy hashes are replaced at the next successful login.
    """

    def __init__(self, preferred: PasswordHasher, legacy: Sequence[PasswordHasher]) -> None:
        self.preferred = preferred
        self.legacy = tuple(legacy)

    def __repr__(self) -> str:
        return f"MigratingHasher({self.preferred!r}, legacy={list(self.legacy)!r})"

    def _for(self, encoded: str) -> PasswordHasher:
        for hasher in (self.preferred, *self.legacy):
            if hasher.recognizes(encoded):
                return hasher
        raise UnsupportedPasswordHash(scheme=_scheme_of(encoded))

    def hash(self, password: str) -> str:
        """Hash with the preferred hasher."""
        return self.preferred.hash(password)

    def recognizes(self, encoded: str) -> bool:
        """True when any of the hashers recognizes ``encoded``."""
        return any(h.recognizes(encoded) for h in (self.preferred, *self.legacy))

    def verify(self, encoded: str, password: str) -> None:
        """Verify with the hasher that recognizes ``encoded``."""
        self._for(encoded).verify(encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        """True for legacy hashes, and for preferred ones with outdated parameters."""
        hasher = self._for(encoded)
        return hasher is not self.preferred or hasher.needs_rehash(encoded)
