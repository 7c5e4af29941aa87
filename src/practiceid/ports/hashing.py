"""The password hasher port: how passwords are stored and checked."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PasswordHasher"]


class PasswordHasher(Protocol):
    """Turns passwords into self-describing stored hashes and checks them.

    The hasher receives the password as the user typed it and applies its own normalization
    (practiceid's hashers NFC-normalize); a hasher for legacy hashes should do what the
    legacy system did. Error contract:

    * ``verify`` returns ``None`` on success and raises
      :class:`~practiceid.errors.PasswordMismatch` on a wrong password (never returns a bool
      a caller could ignore), in constant time with respect to the stored hash;
    * ``verify`` and ``needs_rehash`` raise :class:`~practiceid.errors.UnsupportedPasswordHash`
      for a hash whose format ``recognizes`` is false for;
    * nothing raised ever contains the password.
    """

    def hash(self, password: str) -> str:
        """Return a new salted hash of ``password`` that carries its algorithm and parameters."""
        ...

    def verify(self, encoded: str, password: str) -> None:
        """Return if ``password`` matches ``encoded``; raise PasswordMismatch otherwise."""
        ...

    def needs_rehash(self, encoded: str) -> bool:
        """Return True when ``encoded`` was made with other algorithm or parameters."""
        ...

    def recognizes(self, encoded: str) -> bool:
        """Return True when ``encoded`` is in a format this hasher verifies."""
        ...
