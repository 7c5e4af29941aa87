"""The reference notifiers keep the Notifier contract: once per idempotency key, no token shown."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from practiceid.adapters import ConsoleNotifier, RecordingNotifier
from practiceid.invitations import MessageKind, new_token
from practiceid.outbox import Delivery, Message, MessageId

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _message(key: str = "onboarding:u-1:v0:invitation") -> Message:
    return Message(
        id=MessageId("m-1"),
        kind=MessageKind.INVITATION,
        recipient="a.lefevre@hopital-exemple.fr",
        locale="fr-FR",
        idempotency_key=key,
        created_at=NOW,
        next_attempt_at=NOW,
        params={"first_name": "Alice", "establishment": "Hôpital Exemple"},
        link_round=1,
    )


def test_the_console_notifier_prints_each_key_once_with_a_shortened_link():
    out = io.StringIO()
    token = new_token()
    notifier = ConsoleNotifier(out)
    notifier.send(Delivery(_message(), token))
    notifier.send(Delivery(_message(), token))  # the same key again: printed once
    notifier.send(Delivery(_message("membership:e:u:added")))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[fr-FR] invitation → a.lefevre@hopital-exemple.fr (")
    assert "establishment=Hôpital Exemple" in lines[0]
    assert f"token={token[:6]}…" in lines[0]
    assert token not in out.getvalue()  # a screen capture never holds a working link
    assert "link:" not in lines[1]


def test_the_console_notifier_builds_links_with_the_hosts_function(capsys):
    notifier = ConsoleNotifier(link=lambda token: f"https://emr.example/invitation#{token}")
    notifier.send(Delivery(_message(), "abc"))
    assert capsys.readouterr().out.endswith("link: https://emr.example/invitation#abc\n")


def test_the_recording_notifier_finds_the_last_link_of_a_recipient():
    notifier = RecordingNotifier()
    assert notifier.last_token() is None
    notifier.send(Delivery(_message("k1"), "tok-A"))
    notifier.send(Delivery(_message("k2")))  # no link
    assert notifier.last_token() == "tok-A"
    assert notifier.last_token("someone.else@hopital-exemple.fr") is None
    assert "tok-A" not in repr(notifier.sent[0])
