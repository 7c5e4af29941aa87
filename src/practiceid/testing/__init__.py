"""What hosts need to test code that uses practiceid.

* :class:`ManualClock`: a clock that moves only when told.
* :func:`fast_hasher`: Argon2id with toy parameters, so tests do not spend 150 ms a hash.
* :func:`sample_user`: a valid :class:`~practiceid.User` with made-up data.
* :func:`sample_inami`, :func:`sample_workplace`, :func:`sample_png`, :func:`sample_jpeg`,
  :func:`sample_certificate`: made-up practitioner data for examples (B1-B5, C7).
* :mod:`practiceid.testing.strategies`: Hypothesis strategies for our types (needs
  ``hypothesis``).
* :mod:`practiceid.testing.contracts`: contract suites every adapter must pass (needs
  ``pytest``).

This module imports neither pytest nor Hypothesis.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import attrs

from practiceid.hashing import Argon2idHasher, Argon2idParameters
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.testing.samples import (
    sample_certificate,
    sample_inami,
    sample_jpeg,
    sample_png,
    sample_workplace,
)
from practiceid.users import User, UserId

__all__ = [
    "FAST_ARGON2",
    "ManualClock",
    "fast_hasher",
    "sample_certificate",
    "sample_inami",
    "sample_jpeg",
    "sample_png",
    "sample_user",
    "sample_workplace",
]

FAST_ARGON2 = Argon2idParameters(memory_cost=64, iterations=1, lanes=1)
"""Toy Argon2id parameters: about a thousand times cheaper than the default. Tests only."""


def fast_hasher() -> Argon2idHasher:
    """Return an Argon2id hasher with :data:`FAST_ARGON2`. Never use it in production."""
    return Argon2idHasher(FAST_ARGON2, unsafe_allow_weak_parameters_for_tests=True)


@attrs.define
class ManualClock:
    """A :class:`~practiceid.ports.Clock` that stands still until moved.

    >>> clock = ManualClock()
    >>> clock.advance(days=45).isoformat()
    '2026-02-19T09:00:00+00:00'
    """

    current: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the current (fixed) time."""
        return self.current

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; return the new time."""
        self.current += delta if delta is not None else timedelta(**kwargs)
        return self.current

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (timezone-aware)."""
        self.current = when


_counter = itertools.count(1)


def sample_user(**overrides: object) -> User:
    """Return a valid user with made-up data; each call gets a fresh id, login and e-mail.

    >>> sample_user(first_name="Ana").first_name
    'Ana'
    """
    n = next(_counter)
    values: dict[str, object] = {
        "id": UserId(f"user-{n}"),
        "login": Login(f"user{n}"),
        "email": EmailAddress(f"user{n}@cabinet-exemple.be"),
        "first_name": "Camille",
        "last_name": f"Exemple{n}",
        "created_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return User(**values)  # type: ignore[arg-type]
