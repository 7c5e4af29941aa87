"""The outbox and its dispatcher under faults, in memory (issue 7).

A notifier that fails every other call, one that always fails, one whose dispatcher dies in
the middle of a batch (a ``BaseException`` from the notifier: nothing after it runs, as when
the process is killed), random mixes of all three: every message is delivered, once per
idempotency key, with the back-off, the attempts and the errors the documentation gives.
Messages whose invitation round is over never reach the notifier; links are minted at
delivery and stored only as a digest; a unit of work that rolls back sends nothing.

The same faults across real processes, on SQLite and PostgreSQL, are in
``test_outbox_processes.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import (
    Backoff,
    Delivery,
    Dispatcher,
    DispatchReport,
    EmailAddress,
    InvalidConfiguration,
    Message,
    MessageStatus,
    ProductKind,
    UserId,
)
from practiceid.adapters import InMemoryStore, RecordingNotifier
from practiceid.invitations import MessageKind
from practiceid.outbox import MessageId
from practiceid.testing import ManualClock, SampleOnboarding, sample_onboarding

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "Vrai-Cheval-Agrafe-42"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class DispatcherKilled(BaseException):
    """Raised by a notifier to stop the dispatcher dead, as SIGKILL would: not an Exception."""


class SecretLeakingError(Exception):
    """A notifier error whose text must never be stored."""


def _message(n: int, *, at: datetime = T0, **changes: Any) -> Message:
    """A made-up message with no link: ``m-0007``, key ``test:7:member_added``."""
    return Message(
        id=MessageId(f"m-{n:04d}"),
        kind=MessageKind.MEMBER_ADDED,
        recipient=f"membre{n}@cabinet-exemple.be",
        locale="fr-BE",
        idempotency_key=f"test:{n}:member_added",
        created_at=at,
        next_attempt_at=at,
        params={"establishment": "Cabinet de l'Exemple"},
        **changes,
    )


def _seed(store: InMemoryStore, messages: list[Message]) -> None:
    with store.unit_of_work() as uow:
        for message in messages:
            uow.outbox.add(message)
        uow.commit()


def _stored(store: InMemoryStore) -> dict[MessageId, Message]:
    with store.unit_of_work() as uow:
        return {m.id: m for m in uow.outbox.list()}


class Provider:
    """An e-mail API that deduplicates by idempotency key and records every call.

    ``script`` gives each call's outcome (1 for the first call): ``"ok"``, ``"fail"`` (raise
    an Exception: not sent), ``"crash_before"`` (the dispatcher dies before the API is
    reached), ``"crash_after"`` (the API accepted, then the dispatcher died before recording).
    """

    def __init__(
        self,
        script: Callable[[int, Delivery], str] | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._script = script
        self._clock = clock if clock is not None else ManualClock(T0)
        self.calls: list[str] = []  # the key of every call, in order
        self.outcomes: list[tuple[str, str, datetime]] = []  # (key, outcome, time) of each call
        self.delivered: list[Delivery] = []  # what reached the recipients: once per key
        self.keys: set[str] = set()

    def send(self, delivery: Delivery) -> None:
        key = delivery.message.idempotency_key
        with self._lock:
            self.calls.append(key)
            outcome = "ok" if self._script is None else self._script(len(self.calls), delivery)
            self.outcomes.append((key, outcome, self._clock.now()))
            if outcome == "fail":
                raise SecretLeakingError(f"SMTP 451 for {delivery.message.recipient}: pw=hunter2")
            if outcome == "crash_before":
                raise DispatcherKilled
            if key not in self.keys:
                self.keys.add(key)
                self.delivered.append(delivery)
            if outcome == "crash_after":
                raise DispatcherKilled


def _dispatcher(store: InMemoryStore, notifier: Any, clock: ManualClock, **options: Any):
    return Dispatcher(unit_of_work=store.unit_of_work, notifier=notifier, clock=clock, **options)


# -- back-off ------------------------------------------------------------------------------


def test_backoff_doubles_from_30_seconds_up_to_6_hours_over_12_attempts():
    backoff = Backoff()
    assert backoff.attempts == 12
    assert [backoff.delay(n) for n in range(1, 6)] == [
        timedelta(seconds=s) for s in (30, 60, 120, 240, 480)
    ]
    assert backoff.delay(0) == timedelta(seconds=30)
    assert backoff.delay(10) == timedelta(seconds=30 * 2**9)  # 4 h 16 min
    assert backoff.delay(11) == timedelta(hours=6)  # 8 h 32 min, capped
    assert backoff.delay(12) == timedelta(hours=6)
    # All the waits of a message that always fails, from its first try to its twelfth.
    total = sum((backoff.delay(n) for n in range(1, backoff.attempts)), timedelta())
    assert total == timedelta(hours=14, minutes=31, seconds=30)


def test_backoff_with_its_own_schedule():
    backoff = Backoff(first=timedelta(seconds=10), factor=3, maximum=timedelta(seconds=100))
    assert [backoff.delay(n).total_seconds() for n in range(1, 5)] == [10, 30, 90, 100]
    constant = Backoff(first=timedelta(minutes=1), factor=1, maximum=timedelta(minutes=1))
    assert {constant.delay(n) for n in range(1, 20)} == {timedelta(minutes=1)}
    assert Backoff(first=timedelta(0)).delay(7) == timedelta(0)


@pytest.mark.parametrize("factor", [1.0, 2.0, 10.0])
def test_backoff_delay_is_capped_for_every_attempt_the_bounds_allow(factor):
    backoff = Backoff(factor=factor, attempts=100)
    delays = [backoff.delay(n) for n in range(1, 101)]
    assert delays == sorted(delays)
    assert max(delays) <= backoff.maximum


def test_a_dispatcher_with_a_large_factor_keeps_retrying_at_the_maximum_wait():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(1)])
    backoff = Backoff(factor=10, attempts=20)
    notifier = RecordingNotifier(fail=lambda *_: True)
    dispatcher = _dispatcher(store, notifier, clock, backoff=backoff)
    for attempt in range(1, 20):
        assert dispatcher.run_once() == DispatchReport(retrying=("m-0001",)), attempt
        waiting = _stored(store)["m-0001"]
        expected = min(30 * 10 ** (attempt - 1), backoff.maximum.total_seconds())
        assert waiting.next_attempt_at - clock.now() == timedelta(seconds=expected)
        clock.set(waiting.next_attempt_at)
    assert dispatcher.run_once() == DispatchReport(failed=("m-0001",))
    assert notifier.calls == 20


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"first": timedelta(seconds=-1)}, "first"),
        ({"first": timedelta(hours=7)}, "first"),  # above the default maximum
        ({"first": timedelta(minutes=2), "maximum": timedelta(minutes=1)}, "first"),
        ({"factor": 0.99}, "factor"),
        ({"factor": 10.01}, "factor"),
        ({"attempts": 0}, "attempts"),
        ({"attempts": 101}, "attempts"),
    ],
)
def test_backoff_out_of_bounds_is_refused(options, field):
    with pytest.raises(InvalidConfiguration) as caught:
        Backoff(**options)
    assert caught.value.code == "config.invalid"
    assert caught.value.params["field"] == field


def test_backoff_bounds_themselves_are_accepted():
    Backoff(first=timedelta(0), factor=1.0, attempts=1)
    Backoff(first=timedelta(hours=6), factor=10.0, attempts=100)


@pytest.mark.parametrize("batch_size", [0, 1001])
def test_dispatcher_batch_size_out_of_bounds_is_refused(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        _dispatcher(InMemoryStore(), RecordingNotifier(), ManualClock(), batch_size=batch_size)


# -- failing notifiers ----------------------------------------------------------------------


def test_a_notifier_failing_every_other_call_sends_every_message_once_with_back_off():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(n) for n in range(4)])
    notifier = RecordingNotifier(fail=lambda call, _: call % 2 == 1)
    dispatcher = _dispatcher(store, notifier, clock)
    key = {MessageId(f"m-{n:04d}"): f"test:{n}:member_added" for n in range(4)}

    # Calls 1-4: m-0 fails, m-1 is sent, m-2 fails, m-3 is sent.
    report = dispatcher.run_once()
    assert report == DispatchReport(sent=("m-0001", "m-0003"), retrying=("m-0000", "m-0002"))
    stored = _stored(store)
    for failed in ("m-0000", "m-0002"):
        assert stored[failed].status is MessageStatus.PENDING
        assert stored[failed].attempts == 1
        assert stored[failed].next_attempt_at == T0 + timedelta(seconds=30)
        assert stored[failed].claimed_until is None
        assert stored[failed].last_error == "ConnectionError"  # the class, not its text
    for sent in ("m-0001", "m-0003"):
        assert (stored[sent].status, stored[sent].attempts) == (MessageStatus.SENT, 1)
        assert (stored[sent].sent_at, stored[sent].last_error) == (T0, "")

    # Nothing is due before the back-off.
    clock.set(T0 + timedelta(seconds=29, microseconds=999_999))
    assert dispatcher.run_once() == DispatchReport()

    # Calls 5-6: m-0 fails again, m-2 is sent.
    at = clock.advance(microseconds=1)
    assert dispatcher.run_once() == DispatchReport(sent=("m-0002",), retrying=("m-0000",))
    stored = _stored(store)
    assert (stored["m-0000"].attempts, stored["m-0000"].next_attempt_at) == (
        2,
        at + timedelta(seconds=60),
    )
    assert (stored["m-0002"].status, stored["m-0002"].attempts) == (MessageStatus.SENT, 2)
    assert stored["m-0002"].last_error == ""  # cleared by the success

    # Call 7 fails (third attempt, 120 s), call 8 sends.
    at = clock.advance(seconds=60)
    assert dispatcher.run_once().retrying == ("m-0000",)
    assert _stored(store)["m-0000"].next_attempt_at == at + timedelta(seconds=120)
    clock.advance(seconds=120)
    assert dispatcher.run_once() == DispatchReport(sent=("m-0000",))

    stored = _stored(store)
    assert {m.status for m in stored.values()} == {MessageStatus.SENT}
    assert {m.id: m.attempts for m in stored.values()} == {
        "m-0000": 4,
        "m-0001": 1,
        "m-0002": 2,
        "m-0003": 1,
    }
    assert notifier.calls == 8
    assert sorted(d.message.idempotency_key for d in notifier.sent) == sorted(key.values())
    assert dispatcher.run_until_idle() == DispatchReport()  # nothing left, ever
    clock.advance(days=30)
    assert dispatcher.run_until_idle() == DispatchReport()
    assert notifier.calls == 8


def test_the_stored_error_is_the_exception_class_name_never_its_text():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(1)])
    provider = Provider(lambda call, _: "fail" if call == 1 else "ok")
    _dispatcher(store, provider, clock).run_once()
    failed = _stored(store)["m-0001"]
    assert failed.last_error == "SecretLeakingError"
    assert "hunter2" not in repr(failed)
    assert "membre1" not in failed.last_error


def test_a_notifier_that_always_fails_leaves_the_message_failed_after_the_last_attempt():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(1), _message(2)])
    backoff = Backoff(first=timedelta(seconds=10), attempts=3)
    notifier = RecordingNotifier(fail=lambda _, d: d.message.id == "m-0001")
    dispatcher = _dispatcher(store, notifier, clock, backoff=backoff)

    assert dispatcher.run_once() == DispatchReport(sent=("m-0002",), retrying=("m-0001",))
    clock.advance(seconds=10)
    assert dispatcher.run_once() == DispatchReport(retrying=("m-0001",))
    assert _stored(store)["m-0001"].next_attempt_at == clock.now() + timedelta(seconds=20)
    clock.advance(seconds=20)
    assert dispatcher.run_once() == DispatchReport(failed=("m-0001",))

    failed = _stored(store)["m-0001"]
    assert failed.status is MessageStatus.FAILED
    assert (failed.attempts, failed.last_error, failed.sent_at) == (3, "ConnectionError", None)
    assert failed.claimed_until is None
    clock.advance(days=30)
    assert dispatcher.run_until_idle() == DispatchReport()  # kept for inspection, not retried
    assert notifier.calls == 4
    assert [d.message.id for d in notifier.sent] == ["m-0002"]


# -- dead dispatchers: leases ---------------------------------------------------------------


def test_a_message_claimed_by_a_dispatcher_that_never_finishes_is_taken_again_after_the_lease():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(1)])
    lease = timedelta(minutes=5)
    with store.unit_of_work() as uow:  # a dispatcher claims, then dies
        [claimed] = uow.outbox.claim(now=T0, limit=10, lease=lease)
        uow.commit()
    assert (claimed.attempts, claimed.claimed_until) == (1, T0 + lease)

    notifier = RecordingNotifier()
    dispatcher = _dispatcher(store, notifier, clock, lease=lease)
    clock.set(T0 + lease - timedelta(microseconds=1))
    assert dispatcher.run_once() == DispatchReport()
    assert notifier.calls == 0

    clock.set(T0 + lease)
    assert dispatcher.run_once() == DispatchReport(sent=("m-0001",))
    sent = _stored(store)["m-0001"]
    assert (sent.status, sent.attempts, sent.claimed_until) == (MessageStatus.SENT, 2, None)
    assert notifier.calls == 1


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_the_next_one_sends_the_rest_once():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(n) for n in range(10)])
    # The API accepts call 4, then the process dies before recording it.
    provider = Provider(lambda call, _: "crash_after" if call == 4 else "ok")
    lease = timedelta(minutes=5)
    with pytest.raises(DispatcherKilled):
        _dispatcher(store, provider, clock, lease=lease, batch_size=8).run_once()

    stored = _stored(store)
    assert [m.id for m in stored.values() if m.status is MessageStatus.SENT] == [
        f"m-{n:04d}" for n in range(3)
    ]
    held = [m for m in stored.values() if m.status is MessageStatus.PENDING]
    assert [m.id for m in held] == [f"m-{n:04d}" for n in range(3, 10)]
    # The rest of the batch stays claimed until the lease ends; m-8 and m-9 were not taken.
    assert {m.id: m.claimed_until for m in held} == {
        **{f"m-{n:04d}": T0 + lease for n in range(3, 8)},
        "m-0008": None,
        "m-0009": None,
    }

    # A fresh dispatcher sends the unclaimed ones at once, the rest after the lease.
    fresh = _dispatcher(store, provider, clock, lease=lease)
    assert fresh.run_until_idle().sent == ("m-0008", "m-0009")
    clock.set(T0 + lease)
    assert set(fresh.run_until_idle().sent) == {f"m-{n:04d}" for n in range(3, 8)}

    stored = _stored(store)
    assert {m.status for m in stored.values()} == {MessageStatus.SENT}
    keys = {m.idempotency_key for m in stored.values()}
    assert Counter(d.message.idempotency_key for d in provider.delivered) == dict.fromkeys(keys, 1)
    # One call more than messages: the one in flight when the process died, deduplicated.
    duplicates = Counter(provider.calls) - Counter(keys)
    assert duplicates == {"test:3:member_added": 1}


def test_a_message_abandoned_by_dead_dispatchers_more_often_than_the_attempts_is_failed():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(1)])
    lease = timedelta(minutes=1)
    backoff = Backoff(attempts=2)
    for _ in range(2):  # two dispatchers claim it and die
        with store.unit_of_work() as uow:
            assert len(uow.outbox.claim(now=clock.now(), limit=1, lease=lease)) == 1
            uow.commit()
        clock.advance(lease)
    notifier = RecordingNotifier()
    dispatcher = _dispatcher(store, notifier, clock, lease=lease, backoff=backoff)
    assert dispatcher.run_once() == DispatchReport(failed=("m-0001",))
    failed = _stored(store)["m-0001"]
    assert (failed.status, failed.attempts, failed.last_error) == (
        MessageStatus.FAILED,
        3,
        "abandoned",
    )
    assert notifier.calls == 0


def test_a_message_claimed_as_often_as_the_attempts_still_gets_its_last_try():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(1)])
    lease = timedelta(minutes=1)
    with store.unit_of_work() as uow:  # one dispatcher claims it and dies
        uow.outbox.claim(now=clock.now(), limit=1, lease=lease)
        uow.commit()
    clock.advance(lease)
    notifier = RecordingNotifier()
    dispatcher = _dispatcher(store, notifier, clock, lease=lease, backoff=Backoff(attempts=2))
    assert dispatcher.run_once() == DispatchReport(sent=("m-0001",))
    assert notifier.calls == 1


# -- invitation rounds and links ------------------------------------------------------------


def _invite(practice: SampleOnboarding, n: int = 1) -> UserId:
    invited = practice.onboarding.invite(
        actor=practice.owner.id,
        establishment_id=practice.establishment.id,
        email=f"invite{n}@hopital-exemple.fr",
        first_name="Nadia",
        last_name=f"Exemple{n}",
    )
    return invited.user.id


def _messages(practice: SampleOnboarding, user_id: UserId | None = None) -> list[Message]:
    with practice.unit_of_work() as uow:
        return list(uow.outbox.list(user_id=user_id))


def _end_round_by_resending(practice: SampleOnboarding, user_id: UserId) -> None:
    practice.clock.advance(minutes=3)  # past the re-send cooldown
    practice.onboarding.resend(
        actor=practice.owner.id, establishment_id=practice.establishment.id, user_id=user_id
    )


def _end_round_by_accepting(practice: SampleOnboarding, user_id: UserId) -> None:
    # The invitation was delivered; a reminder is written, then the link is used.
    token = practice.notifier.last_token()
    assert token is not None
    practice.clock.advance(days=3)
    assert practice.onboarding.run_due().reminded == (user_id,)
    practice.onboarding.accept(token, password=PASSWORD, password_confirmation=PASSWORD)


def _end_round_by_deactivating(practice: SampleOnboarding, user_id: UserId) -> None:
    practice.onboarding.deactivate(actor=practice.owner.id, user_id=user_id)


def _end_round_by_changing_the_address(practice: SampleOnboarding, user_id: UserId) -> None:
    with practice.unit_of_work() as uow:
        user = uow.users.get(user_id)
        uow.users.update(user.with_email(EmailAddress("autre.adresse@hopital-exemple.fr")))
        uow.commit()


def _end_round_by_expiring(practice: SampleOnboarding, user_id: UserId) -> None:
    practice.clock.advance(days=14)  # the sweep has not run: the deadline alone ends it


@pytest.mark.parametrize(
    ("end_round", "delivered_first", "then_sent"),
    [
        (_end_round_by_resending, False, [MessageKind.INVITATION]),
        (_end_round_by_accepting, True, [MessageKind.INVITATION_ACCEPTED]),
        (_end_round_by_deactivating, False, [MessageKind.ACCOUNT_DEACTIVATED]),
        (_end_round_by_changing_the_address, False, []),
        (_end_round_by_expiring, False, []),
    ],
)
def test_a_link_message_whose_round_is_over_is_cancelled_and_never_reaches_the_notifier(
    end_round, delivered_first, then_sent
):
    practice = sample_onboarding(ProductKind.HOSPITAL)
    user_id = _invite(practice)
    if delivered_first:
        practice.deliver()
    calls = practice.notifier.calls
    pending = [m for m in _messages(practice, user_id) if m.status is MessageStatus.PENDING]
    end_round(practice, user_id)
    stale = [m for m in pending if m.link_round is not None] + [
        m
        for m in _messages(practice, user_id)
        if m.kind is MessageKind.INVITATION_REMINDER and m.status is MessageStatus.PENDING
    ]
    assert stale

    sent_before = len(practice.notifier.sent)
    report = practice.dispatcher.run_until_idle()

    assert set(report.cancelled) == {m.id for m in stale}
    stored = {m.id: m for m in _messages(practice, user_id)}
    for message in stale:
        assert stored[message.id].status is MessageStatus.CANCELLED
        assert stored[message.id].last_error == "round_over"
        assert stored[message.id].sent_at is None
    new_calls = practice.notifier.sent[sent_before:]
    assert {d.message.id for d in new_calls}.isdisjoint(m.id for m in stale)
    assert [d.message.kind for d in new_calls] == then_sent
    assert practice.notifier.calls == calls + len(then_sent)
    # The cancelled messages minted no link: the only live ones were delivered.
    onboarding = practice.onboarding.onboarding_of(user_id)
    assert onboarding is not None
    assert len(onboarding.token_digests) == sum(d.token is not None for d in new_calls)


def test_the_link_token_reaches_only_the_notifier_and_only_its_digest_is_stored():
    practice = sample_onboarding(ProductKind.HOSPITAL)
    user_id = _invite(practice)
    [written] = _messages(practice, user_id)
    assert written.link_round == 1
    practice.deliver()

    [delivery] = practice.notifier.sent
    token = delivery.token
    assert token is not None
    assert TOKEN.fullmatch(token)
    assert token not in repr(delivery)
    assert token not in str(delivery)
    [stored] = _messages(practice, user_id)
    assert stored.status is MessageStatus.SENT
    assert token not in repr(stored)
    assert token not in repr(attrs.asdict(stored))
    onboarding = practice.onboarding.onboarding_of(user_id)
    assert onboarding is not None
    assert onboarding.token_digests == (hashlib.sha256(token.encode()).digest(),)
    assert token not in repr(onboarding)
    assert token.encode() not in repr(attrs.asdict(onboarding)).encode()
    # Nowhere in the store at all.
    store = practice.unit_of_work.__self__  # type: ignore[attr-defined]
    assert token not in repr(vars(store))
    # And it is the link: it opens the invitation.
    assert practice.onboarding.open(token).user_id == user_id


def test_each_delivery_of_a_retried_link_message_mints_a_fresh_token():
    notifier = RecordingNotifier(fail=lambda call, _: call == 1)
    practice = sample_onboarding(ProductKind.HOSPITAL, notifier=notifier)
    tokens: list[str | None] = []
    seen = practice.dispatcher.notifier

    class Spy:
        def send(self, delivery: Delivery) -> None:
            tokens.append(delivery.token)
            seen.send(delivery)

    dispatcher = attrs.evolve(practice.dispatcher, notifier=Spy())
    user_id = _invite(practice)
    assert len(dispatcher.run_once().retrying) == 1
    practice.clock.advance(seconds=30)
    assert len(dispatcher.run_once().sent) == 1
    assert len(tokens) == 2
    assert tokens[0] != tokens[1]
    onboarding = practice.onboarding.onboarding_of(user_id)
    assert onboarding is not None
    assert onboarding.token_digests == tuple(
        hashlib.sha256(t.encode()).digest() for t in tokens if t is not None
    )
    assert practice.onboarding.open(tokens[1]).user_id == user_id


# -- atomicity: the change and its message ---------------------------------------------------


class CommitFailed(Exception):
    """The database refused the commit (a lost connection, a serialization failure)."""


class _CommitFails:
    """A unit of work whose commit fails when armed, after everything was written in it."""

    def __init__(self, inner: Any, armed: list[bool], seen: list[int]) -> None:
        self._inner = inner
        self._armed = armed
        self._seen = seen

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._inner.__exit__(*exc_info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self) -> None:
        if self._armed and self._armed[0]:
            self._armed[0] = False
            self._seen.append(len(self._inner.outbox.list()))  # written, not yet committed
            raise CommitFailed
        self._inner.commit()


@pytest.fixture
def failing_commit() -> tuple[SampleOnboarding, InMemoryStore, list[bool], list[int]]:
    store = InMemoryStore()
    armed: list[bool] = [False]
    seen: list[int] = []
    practice = sample_onboarding(
        ProductKind.HOSPITAL, unit_of_work=lambda: _CommitFails(store.unit_of_work(), armed, seen)
    )
    return practice, store, armed, seen


def test_an_invitation_whose_unit_of_work_rolls_back_sends_nothing(failing_commit):
    practice, store, armed, seen = failing_commit
    armed[0] = True
    with pytest.raises(CommitFailed):
        _invite(practice)
    assert seen == [1]  # the message was written in the unit of work that failed
    assert _stored(store) == {}
    with store.unit_of_work() as uow:
        assert uow.users.find_by_email(EmailAddress("invite1@hopital-exemple.fr")) is None
    assert practice.dispatcher.run_until_idle() == DispatchReport()
    assert practice.notifier.calls == 0

    user_id = _invite(practice)  # the same change again, committed: one message
    assert practice.deliver().calls == 1
    assert [m.kind for m in _messages(practice, user_id)] == [MessageKind.INVITATION]


def test_a_resend_whose_unit_of_work_rolls_back_changes_nothing_and_sends_nothing(
    failing_commit,
):
    practice, _, armed, seen = failing_commit
    user_id = _invite(practice)
    practice.deliver()
    before = practice.onboarding.onboarding_of(user_id)
    armed[0] = True
    with pytest.raises(CommitFailed):
        _end_round_by_resending(practice, user_id)
    assert seen == [2]
    assert practice.onboarding.onboarding_of(user_id) == before
    assert [m.kind for m in _messages(practice, user_id)] == [MessageKind.INVITATION]
    assert practice.dispatcher.run_until_idle() == DispatchReport()
    assert practice.notifier.calls == 1
    # The first link still works: the round did not end.
    token = practice.notifier.last_token()
    assert token is not None
    assert practice.onboarding.open(token).user_id == user_id


def test_a_sweep_whose_unit_of_work_rolls_back_writes_no_reminder_and_runs_again(
    failing_commit,
):
    practice, _, armed, _ = failing_commit
    user_ids = [_invite(practice, n) for n in range(3)]
    practice.deliver()
    practice.clock.advance(days=3)
    armed[0] = True
    with pytest.raises(CommitFailed):
        practice.onboarding.run_due()
    assert practice.dispatcher.run_until_idle() == DispatchReport()
    assert set(practice.onboarding.run_due().reminded) == set(user_ids)
    assert practice.onboarding.run_due().changed == 0  # idempotent
    assert len(practice.dispatcher.run_until_idle().sent) == 3
    kinds = Counter(d.message.kind for d in practice.notifier.sent)
    assert kinds == {MessageKind.INVITATION: 3, MessageKind.INVITATION_REMINDER: 3}


# -- reports ---------------------------------------------------------------------------------


def test_the_dispatch_report_names_each_message_by_its_outcome():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(
        store,
        [
            _message(1),  # sent
            _message(2),  # fails, retried later
            _message(3, attempts=2),  # fails its last attempt
            _message(4, user_id=UserId("nobody"), link_round=1),  # a link for no account
            _message(5, at=T0 + timedelta(seconds=1)),  # not due yet
        ],
    )
    notifier = RecordingNotifier(fail=lambda _, d: d.message.id in {"m-0002", "m-0003"})
    dispatcher = _dispatcher(store, notifier, clock, backoff=Backoff(attempts=3))
    report = dispatcher.run_once()
    assert report == DispatchReport(
        sent=("m-0001",), retrying=("m-0002",), failed=("m-0003",), cancelled=("m-0004",)
    )
    assert report.claimed == 4
    assert DispatchReport().claimed == 0
    assert notifier.calls == 3
    statuses = {m.id: m.status for m in _stored(store).values()}
    assert statuses == {
        "m-0001": MessageStatus.SENT,
        "m-0002": MessageStatus.PENDING,
        "m-0003": MessageStatus.FAILED,
        "m-0004": MessageStatus.CANCELLED,
        "m-0005": MessageStatus.PENDING,
    }


def test_run_once_claims_at_most_a_batch_in_order_of_due_time_then_id():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(n, at=T0 - timedelta(seconds=n % 3)) for n in range(7)])
    notifier = RecordingNotifier()
    dispatcher = _dispatcher(store, notifier, clock, batch_size=3)
    assert dispatcher.run_once().sent == ("m-0002", "m-0005", "m-0001")
    assert dispatcher.run_once().sent == ("m-0004", "m-0000", "m-0003")
    assert dispatcher.run_once().sent == ("m-0006",)
    assert dispatcher.run_once() == DispatchReport()


def test_run_until_idle_runs_until_nothing_is_due_and_adds_up_the_runs():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(n) for n in range(5)])
    notifier = RecordingNotifier(fail=lambda _, d: d.message.id == "m-0004")
    # No wait between tries: the failing message is due again within the same call.
    backoff = Backoff(first=timedelta(0), attempts=3)
    dispatcher = _dispatcher(store, notifier, clock, batch_size=2, backoff=backoff)
    report = dispatcher.run_until_idle()
    assert report.sent == ("m-0000", "m-0001", "m-0002", "m-0003")
    assert report.retrying == ("m-0004", "m-0004")
    assert report.failed == ("m-0004",)
    assert report.claimed == 7
    assert notifier.calls == 7
    assert dispatcher.run_until_idle() == DispatchReport()


def test_run_until_idle_stops_after_max_runs():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(n) for n in range(5)])
    dispatcher = _dispatcher(store, RecordingNotifier(), clock, batch_size=2)
    assert dispatcher.run_until_idle(max_runs=2).sent == ("m-0000", "m-0001", "m-0002", "m-0003")
    assert dispatcher.run_until_idle(max_runs=2).sent == ("m-0004",)


# -- concurrency and random faults ----------------------------------------------------------


def test_dispatchers_in_threads_never_call_the_notifier_twice_for_a_key():
    store, clock = InMemoryStore(), ManualClock(T0)
    _seed(store, [_message(n) for n in range(300)])
    provider = Provider()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            _dispatcher(store, provider, clock, batch_size=7).run_until_idle()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a dispatcher thread hangs"
    assert errors == []
    assert Counter(provider.calls) == {f"test:{n}:member_added": 1 for n in range(300)}


OUTCOMES = st.sampled_from(["ok", "fail", "fail", "crash_before", "crash_after"])


@given(
    script=st.lists(OUTCOMES, max_size=40),
    count=st.integers(min_value=1, max_value=8),
    batch_size=st.integers(min_value=1, max_value=5),
)
def test_any_pattern_of_notifier_failures_and_crashes_delivers_each_key_exactly_once(
    script, count, batch_size
):
    store, clock = InMemoryStore(), ManualClock(T0)
    messages = [_message(n, at=T0 + timedelta(seconds=n % 2)) for n in range(count)]
    _seed(store, messages)
    keys = {m.idempotency_key for m in messages}
    provider = Provider(lambda call, _: script[call - 1] if call <= len(script) else "ok", clock)
    lease = timedelta(minutes=5)
    backoff = Backoff(attempts=100)  # more tries than the script has failures
    dispatcher = _dispatcher(
        store, provider, clock, batch_size=batch_size, lease=lease, backoff=backoff
    )
    for _ in range(200):
        # A dispatcher killed mid-run is replaced by a fresh one: the same, stateless, object.
        with contextlib.suppress(DispatcherKilled):
            dispatcher.run_until_idle()
        pending = [m for m in _stored(store).values() if m.status is MessageStatus.PENDING]
        if not pending:
            break
        # Jump to the next moment something is due: a back-off or a lease ends.
        due = min(max(m.next_attempt_at, m.claimed_until or m.next_attempt_at) for m in pending)
        clock.set(max(clock.now(), due))
    else:
        pytest.fail("messages still pending after 200 runs")

    stored = _stored(store).values()
    assert {m.status for m in stored} == {MessageStatus.SENT}
    # Each key reached the recipient exactly once, every key did.
    assert Counter(d.message.idempotency_key for d in provider.delivered) == dict.fromkeys(keys, 1)
    for key in keys:
        mine = [(outcome, at) for k, outcome, at in provider.outcomes if k == key]
        # Exactly one call succeeded, and none followed it: calls after an accepted one
        # happen only when the dispatcher died before recording it ("crash_after").
        assert [outcome for outcome, _ in mine].count("ok") == 1
        assert mine[-1][0] == "ok"
        # A failed call is tried again after the back-off; a call in a dead dispatcher's
        # hands, after the lease.
        for (outcome, at), (_, then) in itertools.pairwise(mine):
            assert then - at >= (backoff.first if outcome == "fail" else lease), (outcome, mine)
    calls = Counter(provider.calls)
    for message in stored:
        # Each call followed a claim; a dispatcher that died also abandoned the rest of its
        # batch, claimed but not called.
        assert message.attempts >= calls[message.idempotency_key]
        if not {"crash_before", "crash_after"} & set(script):
            assert message.attempts == calls[message.idempotency_key]
