"""Running a use case again when a concurrent change made it stale. Private to the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from practiceid.errors import StaleRecord

_T = TypeVar("_T")


def rerun_stale(use_case: Callable[[], _T], retries: int) -> _T:
    """Return ``use_case()``, run up to ``retries`` times while it raises StaleRecord.

    Every use case reads, decides and writes in one unit of work, so a rerun decides afresh
    on the new state; the last attempt's StaleRecord is raised to the caller.
    """
    for _ in range(retries - 1):
        try:
            return use_case()
        except StaleRecord:
            continue
    return use_case()
