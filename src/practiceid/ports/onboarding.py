"""Repository ports for onboarding (D1, D2): onboarding records, terms of use, the outbox.

Values in, values out, as for users; usable only inside their unit of work's ``with`` block;
a refused ``add`` or ``update`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from practiceid.ports.establishments import AccessUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from practiceid.invitations import Onboarding, TermsOfUse
    from practiceid.outbox import Message, MessageId, MessageStatus
    from practiceid.users import UserId

__all__ = [
    "OnboardingRepository",
    "OnboardingUnitOfWork",
    "OnboardingUnitOfWorkFactory",
    "OutboxRepository",
    "TermsRepository",
]


class OnboardingRepository(Protocol):
    """Stores one :class:`~practiceid.Onboarding` per user.

    Error contract:

    * ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="onboarding"``,
      ``id``) when the user has a record;
    * ``get`` and ``update`` raise :class:`~practiceid.errors.OnboardingNotFound`;
    * ``update`` raises :class:`~practiceid.errors.StaleRecord` (``entity="onboarding"``)
      when the stored ``version`` differs, and returns the stored value with ``version`` + 1.

    ``find_by_token`` finds the record holding a link's digest among its
    ``token_digests``: a digest is held by at most one record (digests of 256-bit tokens do
    not collide). It must cost the same whatever the answer: an indexed look-up.

    ``claim_due`` returns the records whose ``due_at`` is at or before ``now``, earliest
    first, at most ``limit``; it must cost in proportion to what it returns (an index on
    ``due_at``), not to the table. Records it returns are held until the unit of work ends:
    a concurrent ``claim_due`` skips them rather than waiting or returning them again
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a store that serializes its units of work
    holds them anyway).
    """

    def add(self, onboarding: Onboarding) -> None:
        """Store the first onboarding record of a user."""
        ...

    def get(self, user_id: UserId) -> Onboarding:
        """Return the user's onboarding record."""
        ...

    def find(self, user_id: UserId) -> Onboarding | None:
        """Return the user's onboarding record, if any."""
        ...

    def find_by_token(self, digest: bytes) -> Onboarding | None:
        """Return the record one of whose live links has this digest, if any."""
        ...

    def update(self, onboarding: Onboarding) -> Onboarding:
        """Replace the stored record if nobody changed it since it was read."""
        ...

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[Onboarding]:
        """Return and hold up to ``limit`` records due at ``now``, earliest ``due_at`` first."""
        ...


class TermsRepository(Protocol):
    """Stores the published versions of the terms of use.

    Error contract: ``publish`` raises :class:`~practiceid.errors.DuplicateRecord`
    (``entity="terms"``, ``id`` the version) when the version was published before.
    ``current`` is the version with the latest ``published_at`` (ties: the greatest
    version), or None.
    """

    def publish(self, terms: TermsOfUse) -> None:
        """Store a new version."""
        ...

    def current(self) -> TermsOfUse | None:
        """Return the current version, if any was published."""
        ...

    def list(self) -> Sequence[TermsOfUse]:
        """Return every version, oldest first."""
        ...


class OutboxRepository(Protocol):
    """Stores outbox messages until and after they are delivered.

    Error contract:

    * ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="message"``,
      ``id`` the idempotency key) when a message with the same ``idempotency_key`` is
      stored, whatever its status: a change can be written once only. Checked atomically
      with the write.
    * ``get`` and ``update`` raise :class:`~practiceid.errors.MessageNotFound`; ``update``
      raises :class:`~practiceid.errors.StaleRecord` (``entity="message"``) on a version
      mismatch and returns the stored value with ``version`` + 1. A message keeps its
      ``idempotency_key`` for life: an ``update`` that changes it raises ``DuplicateRecord``
      (``id`` the new key).
    * ``claim`` returns up to ``limit`` pending messages whose ``next_attempt_at`` is at or
      before ``now`` and whose claim (``claimed_until``) is unset or over, ordered by
      ``next_attempt_at`` then ``id``. It stores each with ``claimed_until = now + lease``,
      ``attempts`` + 1 and ``version`` + 1, and returns the stored values. Concurrent claims
      never return the same message while its lease runs: rows another unit of work is
      claiming are skipped, not waited for. Cost in proportion to what it returns.
    """

    def add(self, message: Message) -> None:
        """Store a new message."""
        ...

    def get(self, message_id: MessageId) -> Message:
        """Return the message with this id."""
        ...

    def update(self, message: Message) -> Message:
        """Replace the stored message if nobody changed it since it was read."""
        ...

    def claim(self, *, now: datetime, limit: int, lease: timedelta) -> Sequence[Message]:
        """Claim up to ``limit`` due messages for ``lease``; return them as stored."""
        ...

    def list(
        self, *, status: MessageStatus | None = None, user_id: UserId | None = None
    ) -> Sequence[Message]:
        """Return the messages (with this status, about this user), by creation then id."""
        ...


class OnboardingUnitOfWork(AccessUnitOfWork, Protocol):
    """An :class:`~practiceid.ports.AccessUnitOfWork` that also reaches onboarding and the outbox.

    One transaction: a status change and the message it sends are committed together.
    """

    @property
    def onboardings(self) -> OnboardingRepository:
        """The onboarding records of this unit of work."""
        ...

    @property
    def terms(self) -> TermsRepository:
        """The terms of use of this unit of work."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """The outbox of this unit of work."""
        ...


OnboardingUnitOfWorkFactory: TypeAlias = Callable[[], OnboardingUnitOfWork]
"""What onboarding services take: a callable returning a fresh onboarding unit of work."""
