"""Ports for the audit trail (F3): the audit log, the key provider and the request context.

The audit log lives in the unit of work (``uow.audit``), so an event is committed with the
change it records, or not at all; a refusal is recorded in a unit of work of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.audit import AuditEvent, AuditRecord, ChainHead

__all__ = ["AuditLog", "KeyProvider", "RequestContext", "RequestInfo"]


class AuditLog(Protocol):
    """Stores audit records, one hash chain per establishment.

    Error contract and guarantees:

    * ``append`` seals the event with :func:`practiceid.audit.seal` after the current head of
      its chain (:func:`practiceid.audit.chain_of`), under the store's current audit key, and
      stores it. The read of the head and the write are one atomic step with respect to
      concurrent appends to the same chain (a locked head row in SQL): positions are
      1, 2, 3, … with no gap and no repeat, whatever the concurrency. Appends to different
      chains do not wait for each other.
    * An appended record is visible to others once its unit of work commits, and is gone
      if it rolls back (the head with it).
    * ``records`` returns a chain's records in position order, those after position
      ``after``, at most ``limit``; ``head`` its last record's head, ``None`` for an empty
      chain; ``chains`` every chain holding a record, sorted.
    * Nothing updates or deletes a record: the port has no such method.
    """

    def append(self, event: AuditEvent) -> AuditRecord:
        """Seal ``event`` at the end of its chain and store it; return the record."""
        ...

    def records(
        self, chain: str, *, after: int = 0, limit: int | None = None
    ) -> Sequence[AuditRecord]:
        """Return the chain's records after position ``after``, in order."""
        ...

    def head(self, chain: str) -> ChainHead | None:
        """Return the chain's last record's head, if any."""
        ...

    def chains(self) -> Sequence[str]:
        """Return every chain holding a record, sorted."""
        ...


class KeyProvider(Protocol):
    """Holds the host's secrets for keyed digests: PINs (``"pin"``), the audit chain (``"audit"``).

    Keys have ids, so they can be rotated: ``current`` names the key new digests use, and
    ``key`` still finds older ones. Error contract: ``current`` and ``key`` raise
    :class:`~practiceid.errors.UnknownKey` (``purpose``, ``key_id``) for a purpose or id
    the provider does not hold. Keys are at least 32 random bytes and never leave the
    provider in ``repr`` or errors. Adapter: :class:`practiceid.adapters.StaticKeyProvider`.
    """

    def current(self, purpose: str) -> tuple[str, bytes]:
        """Return the id and secret of the key new digests for ``purpose`` use."""
        ...

    def key(self, purpose: str, key_id: str) -> bytes:
        """Return the secret of key ``key_id`` for ``purpose``."""
        ...


@attrs.frozen
class RequestInfo:
    """What the host knows of the request being served.

    ``peer_address`` is the client's address as the host determined it (its own proxy
    rules: practiceid never reads ``X-Forwarded-For`` or any header itself);
    ``request_id`` ties audit events to the host's logs.
    """

    peer_address: str | None = None
    request_id: str = ""


class RequestContext(Protocol):
    """Tells practiceid about the request being served, for the audit trail and F4.

    ``current`` never raises: outside any request it returns ``RequestInfo()``. Adapters:
    :class:`practiceid.adapters.ContextVarRequestContext` (bound per request by the host's
    middleware) and :class:`practiceid.adapters.NoRequestContext`.
    """

    def current(self) -> RequestInfo:
        """Return what is known of the current request."""
        ...
