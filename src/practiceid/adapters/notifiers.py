"""Reference notifiers: print to a console, or record in memory (tests, demos).

Both honour the :class:`~practiceid.ports.Notifier` contract: each idempotency key is sent
at most once, whatever the dispatcher hands over again.

>>> from datetime import UTC, datetime
>>> from practiceid.invitations import MessageKind
>>> from practiceid.outbox import Delivery, Message, MessageId
>>> now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
>>> message = Message(
...     id=MessageId("m-1"),
...     kind=MessageKind.MEMBER_ADDED,
...     recipient="a.martin@example.org",
...     locale="fr-BE",
...     idempotency_key="membership:e-1:u-1:added",
...     created_at=now,
...     next_attempt_at=now,
...     params={"establishment": "Cabinet du Parc"},
... )
>>> notifier = RecordingNotifier()
>>> notifier.send(Delivery(message))
>>> notifier.send(Delivery(message))  # the same key again: not sent twice
>>> len(notifier.sent), notifier.calls
(1, 2)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TextIO

from practiceid.outbox import Delivery

__all__ = ["ConsoleNotifier", "RecordingNotifier"]


class RecordingNotifier:
    """Keeps every delivery it accepts, once per idempotency key. Thread-safe.

    ``fail`` decides, per call, whether to raise instead (fault-injection in tests): it gets
    the call's number (1 for the first) and the delivery.
    """

    def __init__(self, fail: Callable[[int, Delivery], bool] | None = None) -> None:
        self._lock = threading.Lock()
        self._fail = fail
        self.sent: list[Delivery] = []
        self.keys: set[str] = set()
        self.calls = 0

    def send(self, delivery: Delivery) -> None:
        """Record the delivery unless its key was sent before; raise when ``fail`` says so."""
        with self._lock:
            self.calls += 1
            if self._fail is not None and self._fail(self.calls, delivery):
                raise ConnectionError("injected notifier failure")
            key = delivery.message.idempotency_key
            if key in self.keys:
                return
            self.keys.add(key)
            self.sent.append(delivery)

    def last_token(self, recipient: str | None = None) -> str | None:
        """Return the token of the latest delivery with a link (to ``recipient``), if any."""
        with self._lock:
            for delivery in reversed(self.sent):
                if delivery.token is not None and recipient in {None, delivery.message.recipient}:
                    return delivery.token
        return None


class ConsoleNotifier:
    """Prints one line per message: kind, recipient, parameters, and the link's path.

    For demos and development. ``link`` turns a token into the URL a real e-mail would
    carry; the default prints a placeholder path with the token shortened, so a screen
    capture of the console does not leak a working link.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        link: Callable[[str], str] | None = None,
    ) -> None:
        self._stream = stream
        self._link = link if link is not None else _short_link
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> None:
        """Print the message, once per idempotency key."""
        message = delivery.message
        with self._lock:
            if message.idempotency_key in self._keys:
                return
            self._keys.add(message.idempotency_key)
        params = ", ".join(f"{k}={v}" for k, v in sorted(message.params.items()))
        line = f"[{message.locale}] {message.kind} → {message.recipient} ({params})"
        if delivery.token is not None:
            line += f" link: {self._link(delivery.token)}"
        print(line, file=self._stream if self._stream is not None else sys.stdout)


def _short_link(token: str) -> str:
    return f"/invitation?token={token[:6]}…"
