"""The notifier port: sends one message (e-mail, SMS, a host's queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from practiceid.outbox import Delivery

__all__ = ["Notifier"]


class Notifier(Protocol):
    """Sends :class:`~practiceid.outbox.Delivery` values handed over by the dispatcher.

    Contract:

    * ``send`` returns once the message is accepted for delivery (an SMTP server or an
      e-mail API said yes). Raising anything means "not sent": the dispatcher tries again
      later with the same ``message.idempotency_key``.
    * The same key can arrive more than once, when a process died between a successful
      ``send`` and the dispatcher recording it. Hand the key to a provider that deduplicates
      (most e-mail APIs take an idempotency key; SMTP: derive ``Message-ID`` from it), or
      remember sent keys, to send each message exactly once.
    * ``send`` must finish within the dispatcher's ``lease`` (set a timeout on the network
      call); after it, another dispatcher may send the same message.
    * Choose the template by ``message.kind`` and ``message.locale``; a notifier may skip
      kinds it does not send (return without sending). Send only to
      ``message.recipient``; never log ``delivery.token``.
    """

    def send(self, delivery: Delivery) -> None:
        """Send the message, or raise."""
        ...
