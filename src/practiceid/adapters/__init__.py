"""Reference adapters for the ports: in-memory storage, the system clock.

SQL and e-mail adapters live in their own modules and import their drivers only there, so
``import practiceid.adapters`` stays free of database and network libraries.
"""

from __future__ import annotations

from practiceid.adapters.clock import SystemClock
from practiceid.adapters.keys import ContextVarRequestContext, NoRequestContext, StaticKeyProvider
from practiceid.adapters.memory import (
    InMemoryAuditLog,
    InMemoryStore,
    InMemoryUnitOfWork,
    InMemoryUserRepository,
    StaticAuthorizer,
)
from practiceid.adapters.notifiers import ConsoleNotifier, RecordingNotifier

__all__ = [
    "ConsoleNotifier",
    "ContextVarRequestContext",
    "InMemoryAuditLog",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InMemoryUserRepository",
    "NoRequestContext",
    "RecordingNotifier",
    "StaticAuthorizer",
    "StaticKeyProvider",
    "SystemClock",
]
