"""The clock port: the only source of "now" in practiceid."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

__all__ = ["Clock"]


class Clock(Protocol):
    """Tells the time.

    ``now`` returns a timezone-aware :class:`~datetime.datetime`; practiceid never calls
    ``datetime.now()`` itself. Adapters: :class:`practiceid.adapters.SystemClock`,
    and :class:`practiceid.testing.ManualClock` for tests.
    """

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...
