"""The outbox: messages written with the change that causes them, delivered afterwards (D2).

A use case that changes an onboarding status writes the :class:`Message` to send in the same
unit of work as the change: both are stored, or neither. A :class:`Dispatcher` then claims
due messages, hands each to the host's :class:`~practiceid.ports.Notifier` and records the
outcome. A notifier that raises gets the message again later, with exponential back-off
(:class:`Backoff`); a dispatcher that dies mid-batch leaves its messages claimed only until
their lease runs out, then another dispatcher sends them.

Each message carries an ``idempotency_key``, unique in the outbox and derived from the change
(``onboarding:<user>:v<version>:<kind>``), so the same change can never be written twice. The
dispatcher guarantees that a key is handed to the notifier until one call succeeds; a
notifier that remembers keys (most e-mail APIs take one; :class:`~practiceid.adapters.
RecordingNotifier` does) turns that into exactly once, even when a process dies between
sending and recording.

Links are minted as late as possible: a message that carries an invitation link stores only
the round it belongs to (:attr:`Message.link_round`). The dispatcher makes a fresh 256-bit
token when it sends, stores the token's digest on the onboarding record, and gives the token
to the notifier in a :class:`Delivery`. No token is ever stored, and a message whose round is
over (re-sent, accepted, expired, deactivated) is cancelled instead of sent.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, NewType

import attrs

from practiceid.errors import InvalidConfiguration, MessageNotFound, StaleRecord, UserNotFound
from practiceid.invitations import MessageKind, new_token, token_digest
from practiceid.policies.invitation import InvitationSettings, mint
from practiceid.users import UserId

if TYPE_CHECKING:
    from practiceid.ports.clock import Clock
    from practiceid.ports.notifier import Notifier
    from practiceid.ports.onboarding import OnboardingUnitOfWorkFactory

__all__ = [
    "Backoff",
    "Delivery",
    "DispatchReport",
    "Dispatcher",
    "Message",
    "MessageId",
    "MessageKind",
    "MessageStatus",
    "new_message_id",
]

MessageId = NewType("MessageId", str)


def new_message_id() -> MessageId:
    """Return a fresh random :data:`MessageId` (a UUID4 string)."""
    return MessageId(str(uuid.uuid4()))


class MessageStatus(enum.StrEnum):
    """Where a message is in delivery."""

    PENDING = "pending"
    """Waiting for its ``next_attempt_at`` (or claimed by a dispatcher until ``claimed_until``)."""
    SENT = "sent"
    """The notifier accepted it."""
    FAILED = "failed"
    """The notifier refused it ``Backoff.attempts`` times; kept for inspection."""
    CANCELLED = "cancelled"
    """Not sent: its invitation round was over before it could be."""


def _params(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values))


@attrs.frozen
class Message:
    """A structured message to send: kind, recipient, locale, parameters, idempotency key.

    ``recipient`` is always the stored, normalized address of the account it goes to, taken
    from storage in the unit of work that wrote the message, never from a request.
    ``params`` are text for the template (names, establishment, deadline in ISO 8601); never
    a secret. ``user_id`` names the account the message is about, and ``link_round`` the
    invitation round whose link it carries (the token is minted at delivery).
    """

    id: MessageId
    kind: MessageKind
    recipient: str
    locale: str
    idempotency_key: str
    created_at: datetime
    next_attempt_at: datetime
    params: Mapping[str, str] = attrs.field(factory=dict, converter=_params)
    user_id: UserId | None = None
    link_round: int | None = None
    status: MessageStatus = MessageStatus.PENDING
    attempts: int = 0
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    last_error: str = ""
    version: int = 0


@attrs.frozen
class Delivery:
    """What a notifier sends: the message, and the link's token when it carries one.

    The token exists only here, in memory, for the length of one ``send`` call. It is never
    in ``repr``; a notifier builds the link from it (``https://…/invitation?token=…``).
    """

    message: Message
    token: str | None = attrs.field(default=None, repr=False)


_MAX_FACTOR = 10.0
_MAX_ATTEMPTS = 100


@attrs.frozen(kw_only=True)
class Backoff:
    """When to try again after a notifier failed: ``first`` × ``factor`` ** n, at most ``maximum``.

    After ``attempts`` tries the message is ``failed`` and kept. Defaults: 30 s, doubling,
    capped at 6 hours, 12 tries (spread over 14 h 31 min 30 s).
    """

    first: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=6)
    attempts: int = 12

    def __attrs_post_init__(self) -> None:
        if not timedelta(0) <= self.first <= self.maximum:
            raise InvalidConfiguration("first must be between 0 and maximum", field="first")
        if not 1.0 <= self.factor <= _MAX_FACTOR:
            raise InvalidConfiguration("factor must be from 1 to 10", field="factor")
        if not 1 <= self.attempts <= _MAX_ATTEMPTS:
            raise InvalidConfiguration("attempts must be from 1 to 100", field="attempts")

    def delay(self, attempts: int) -> timedelta:
        """Return the wait after the ``attempts``-th failed try (1 for the first)."""
        # Capped as a float first: factor ** 99 seconds is no timedelta.
        seconds = self.first.total_seconds() * self.factor ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.maximum.total_seconds()))


@attrs.frozen
class DispatchReport:
    """What one :meth:`Dispatcher.run_once` did, by message id."""

    sent: tuple[MessageId, ...] = ()
    retrying: tuple[MessageId, ...] = ()
    failed: tuple[MessageId, ...] = ()
    cancelled: tuple[MessageId, ...] = ()

    @property
    def claimed(self) -> int:
        """How many messages the run claimed."""
        return len(self.sent) + len(self.retrying) + len(self.failed) + len(self.cancelled)


@attrs.frozen(kw_only=True)
class Dispatcher:
    """Delivers the outbox's due messages through a notifier.

    Run :meth:`run_once` from a worker loop or a scheduled job, as many workers as you like:
    each claim takes messages no other dispatcher holds (row locks that skip rows taken by
    another worker, on PostgreSQL), for ``lease``. The notifier is called outside any unit of
    work, so a slow mail server holds no lock; its calls must finish within ``lease``, or
    another dispatcher may call it again for the same key.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.OnboardingUnitOfWork`.
        notifier: sends one :class:`Delivery`; raising means "not sent, try again later".
        clock: the time.
        settings: the invitation settings (how many links of a round stay valid).
        batch_size: messages claimed per run (1 to 1000).
        lease: how long a claim holds a message.
        backoff: when failed messages are tried again, and how often.
    """

    unit_of_work: OnboardingUnitOfWorkFactory
    notifier: Notifier
    clock: Clock
    settings: InvitationSettings = attrs.field(factory=InvitationSettings)
    batch_size: int = attrs.field(default=100, validator=attrs.validators.in_(range(1, 1001)))
    lease: timedelta = timedelta(minutes=5)
    backoff: Backoff = attrs.field(factory=Backoff)
    new_token: Callable[[], str] = new_token

    def run_once(self) -> DispatchReport:
        """Claim up to ``batch_size`` due messages and deliver each; return what happened."""
        now = self.clock.now()
        with self.unit_of_work() as uow:
            claimed = list(uow.outbox.claim(now=now, limit=self.batch_size, lease=self.lease))
            uow.commit()
        outcomes: dict[MessageStatus, list[MessageId]] = {status: [] for status in MessageStatus}
        for message in claimed:
            status = self._deliver(message)
            outcomes[status].append(message.id)
        return DispatchReport(
            sent=tuple(outcomes[MessageStatus.SENT]),
            retrying=tuple(outcomes[MessageStatus.PENDING]),
            failed=tuple(outcomes[MessageStatus.FAILED]),
            cancelled=tuple(outcomes[MessageStatus.CANCELLED]),
        )

    def run_until_idle(self, *, max_runs: int = 1000) -> DispatchReport:
        """Run until a run claims nothing (or ``max_runs``); return every run's outcome."""
        total = DispatchReport()
        for _ in range(max_runs):
            report = self.run_once()
            if not report.claimed:
                break
            total = DispatchReport(
                sent=total.sent + report.sent,
                retrying=total.retrying + report.retrying,
                failed=total.failed + report.failed,
                cancelled=total.cancelled + report.cancelled,
            )
        return total

    def _deliver(self, message: Message) -> MessageStatus:
        if message.attempts > self.backoff.attempts:
            # Claimed too often without an outcome: a dispatcher died on it every time.
            return self._finish(message, MessageStatus.FAILED, error="abandoned")
        token: str | None = None
        if message.link_round is not None:
            token = self._mint(message)
            if token is None:
                return self._finish(message, MessageStatus.CANCELLED, error="round_over")
        try:
            self.notifier.send(Delivery(message, token))
        except Exception as error:  # noqa: BLE001 - any notifier failure is retried
            if message.attempts >= self.backoff.attempts:
                return self._finish(message, MessageStatus.FAILED, error=type(error).__name__)
            return self._finish(message, MessageStatus.PENDING, error=type(error).__name__)
        return self._finish(message, MessageStatus.SENT)

    def _mint(self, message: Message) -> str | None:
        assert message.user_id is not None  # noqa: S101 - linked messages name their account
        assert message.link_round is not None  # noqa: S101
        for _ in range(3):
            token = self.new_token()
            try:
                with self.unit_of_work() as uow:
                    onboarding = uow.onboardings.find(message.user_id)
                    try:
                        user = uow.users.get(message.user_id)
                    except UserNotFound:
                        return None
                    minted = (
                        None
                        if onboarding is None or not user.is_active
                        else mint(
                            onboarding,
                            self.clock.now(),
                            self.settings,
                            round=message.link_round,
                            email_key=user.email.key,
                            digest=token_digest(token),
                        )
                    )
                    if minted is None:
                        return None
                    uow.onboardings.update(minted)
                    uow.commit()
            except StaleRecord:
                continue  # the record changed meanwhile: decide again on the new one
            return token
        return None

    def _finish(self, message: Message, status: MessageStatus, *, error: str = "") -> MessageStatus:
        now = self.clock.now()
        if status is MessageStatus.PENDING:
            done = attrs.evolve(
                message,
                claimed_until=None,
                next_attempt_at=now + self.backoff.delay(message.attempts),
                last_error=error,
            )
        else:
            done = attrs.evolve(
                message,
                status=status,
                claimed_until=None,
                sent_at=now if status is MessageStatus.SENT else None,
                last_error=error,
            )
        try:
            with self.unit_of_work() as uow:
                uow.outbox.update(done)
                uow.commit()
        except (StaleRecord, MessageNotFound):
            # Our lease ran out and another dispatcher took the message over: it records
            # the outcome of its own try.
            pass
        return status
