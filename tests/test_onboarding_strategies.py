"""The shipped onboarding strategies draw valid records, terms and messages (D1, D2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from practiceid import InvalidConfiguration
from practiceid.adapters import InMemoryStore
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    TermsOfUse,
)
from practiceid.outbox import Message, MessageStatus
from practiceid.policies import invitation
from practiceid.policies.email import EmailPolicy
from practiceid.policies.invitation import InvitationSettings
from practiceid.testing import sample_onboarding
from practiceid.testing.strategies import messages, onboardings, terms_of_use
from practiceid.users import UserId

LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")  # what OnboardingService.invite accepts
TERMS_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
LINKED = {OnboardingStatus.INVITED, OnboardingStatus.EXPIRED}
SHRINKING = settings(database=None, max_examples=200, suppress_health_check=list(HealthCheck))


def _assert_utc(*values: datetime | None) -> None:
    for value in values:
        if value is not None:
            assert value.tzinfo is UTC, value


# -- onboarding records (D1, D2) ---------------------------------------------------------------


@given(onboardings())
def test_onboardings_are_records_the_invitation_workflow_leaves(record):
    assert isinstance(record, Onboarding)
    _assert_utc(
        record.created_at,
        record.sent_at,
        record.expires_at,
        record.due_at,
        record.accepted_at,
        record.signed_in_at,
        record.activated_at,
        record.terms_accepted_at,
        *record.sends,
    )
    assert LOCALE.fullmatch(record.locale)
    assert record.email_key == EmailPolicy().parse(record.email_key).key
    assert record.version >= 0
    assert all(isinstance(d, bytes) and len(d) == 32 for d in record.token_digests)
    assert len(set(record.token_digests)) == len(record.token_digests) <= 8
    if record.token_digests or record.due_at is not None:
        assert record.status is OnboardingStatus.INVITED
    assert (record.status is OnboardingStatus.DEACTIVATED) == (record.resume is not None)
    assert record.resume is not OnboardingStatus.DEACTIVATED


@given(onboardings())
def test_onboarding_times_follow_one_another(record):
    if record.mode.uses_link:
        assert record.round >= 1
        assert record.created_at <= record.sent_at < record.expires_at
        assert record.sends[-1] == record.sent_at
        assert list(record.sends) == sorted(record.sends)
        assert all(s > record.sent_at - timedelta(days=1) for s in record.sends)
        assert record.sends[0] >= record.created_at
        assert len(record.sends) <= record.round
        if record.due_at is not None:
            assert record.sent_at <= record.due_at <= record.expires_at
    else:
        assert record.round == 0
        assert (record.sent_at, record.expires_at, record.sends) == (None, None, ())
        assert record.status not in LINKED
        assert record.resume not in LINKED
    steps = [record.created_at, record.accepted_at, record.signed_in_at, record.activated_at]
    known = [s for s in steps if s is not None]
    assert known == sorted(known)
    if record.terms_version is not None:
        assert TERMS_VERSION.fullmatch(record.terms_version)
        assert record.terms_accepted_at >= record.signed_in_at
    else:
        assert record.terms_accepted_at is None


@given(onboardings())
def test_the_invitation_policy_accepts_the_moves_a_drawn_record_allows(record):
    now = record.activated_at or record.accepted_at or record.created_at
    if record.status is OnboardingStatus.DEACTIVATED:
        step = invitation.reactivate(record, now, InvitationSettings(), email_key=record.email_key)
        assert step.onboarding.status is not OnboardingStatus.DEACTIVATED
    else:
        assert invitation.deactivate(record, now).onboarding.resume is not None
    if record.token_digests:
        assert record.sent_at is not None
        step = invitation.accept(
            record, record.sent_at, digest=record.token_digests[-1], email_key=record.email_key
        )
        assert step.onboarding.status is OnboardingStatus.ACCEPTED
    if record.status is OnboardingStatus.ACTIVE:
        assert record.signed_in_at is not None
        assert record.activated_at is not None


@given(data=st.data())
def test_onboardings_honour_a_given_status_mode_and_user(data):
    mode = data.draw(st.sampled_from(OnboardingMode))
    status = data.draw(st.sampled_from(OnboardingStatus))
    assume(mode.uses_link or status not in LINKED)
    record = data.draw(onboardings(user_id=UserId("user-fixed"), status=status, mode=mode.value))
    assert (record.user_id, record.status, record.mode) == ("user-fixed", status, mode)


@pytest.mark.parametrize("status", sorted(LINKED))
def test_an_administrator_record_is_never_invited_or_expired(status):
    with pytest.raises(InvalidConfiguration):
        onboardings(mode=OnboardingMode.ADMINISTRATOR, status=status)


@pytest.mark.parametrize(
    "arguments",
    [{"status": "pending"}, {"mode": "sms"}, {"user_id": 42}, {"status": OnboardingMode.WELCOME}],
)
def test_onboardings_refuse_unknown_arguments(arguments):
    with pytest.raises(InvalidConfiguration):
        onboardings(**arguments)


# -- terms of use (D2) ----------------------------------------------------------------------------


@given(terms_of_use())
def test_terms_of_use_are_versions_the_onboarding_service_publishes(terms):
    assert isinstance(terms, TermsOfUse)
    _assert_utc(terms.published_at)
    assert TERMS_VERSION.fullmatch(terms.version)
    practice = sample_onboarding()
    assert practice.onboarding.publish_terms(terms.version).version == terms.version


# -- outbox messages (D2) -------------------------------------------------------------------------


@given(messages())
def test_messages_are_what_the_service_writes_and_the_dispatcher_leaves(message):
    assert isinstance(message, Message)
    _assert_utc(message.created_at, message.next_attempt_at, message.claimed_until, message.sent_at)
    assert message.created_at <= message.next_attempt_at
    assert EmailPolicy().parse(message.recipient).address == message.recipient
    assert LOCALE.fullmatch(message.locale)
    assert message.user_id is not None
    assert message.idempotency_key.startswith(f"onboarding:{message.user_id}:v")
    assert message.idempotency_key.endswith(f":{message.kind}")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in message.params.items())
    assert message.params["establishment"]
    assert (message.link_round is not None) == message.kind.carries_link
    assert ("expires_at" in message.params) == message.kind.carries_link
    if message.kind.carries_link:
        assert datetime.fromisoformat(message.params["expires_at"]) > message.created_at
    pending = message.status is MessageStatus.PENDING
    assert message.attempts >= (0 if pending else 1)
    assert (message.sent_at is not None) == (message.status is MessageStatus.SENT)
    if message.claimed_until is not None:
        assert pending
        assert message.claimed_until > message.next_attempt_at
    assert bool(message.last_error) == (
        message.status in {MessageStatus.FAILED, MessageStatus.CANCELLED}
        or (pending and message.attempts > 0 and message.claimed_until is None)
    )


@given(data=st.data())
def test_messages_honour_a_given_status_kind_and_user(data):
    status = data.draw(st.sampled_from(MessageStatus))
    kind = data.draw(st.sampled_from(MessageKind))
    message = data.draw(messages(user_id=UserId("user-fixed"), status=status, kind=kind.value))
    assert (message.user_id, message.status, message.kind) == ("user-fixed", status, kind)


@pytest.mark.parametrize(
    "arguments", [{"status": "sending"}, {"kind": "sms"}, {"user_id": b"user"}]
)
def test_messages_refuse_unknown_arguments(arguments):
    with pytest.raises(InvalidConfiguration):
        messages(**arguments)


# -- through the in-memory store ------------------------------------------------------------------


@given(
    records=st.lists(onboardings(), max_size=5, unique_by=lambda o: o.user_id),
    versions=st.lists(terms_of_use(), max_size=4, unique_by=lambda t: t.version),
    sent=st.lists(messages(), max_size=5, unique_by=(lambda m: m.id, lambda m: m.idempotency_key)),
)
def test_drawn_values_round_trip_through_the_in_memory_store(records, versions, sent):
    digests = [d for r in records for d in r.token_digests]
    assume(len(digests) == len(set(digests)))  # 256-bit digests never collide
    store = InMemoryStore()
    with store.unit_of_work() as uow:
        for record in records:
            uow.onboardings.add(record)
        for terms in versions:
            uow.terms.publish(terms)
        for message in sent:
            uow.outbox.add(message)
        uow.commit()
    with store.unit_of_work() as uow:
        for record in records:
            assert uow.onboardings.get(record.user_id) == record
            for digest in record.token_digests:
                assert uow.onboardings.find_by_token(digest) == record
        due = [r for r in records if r.due_at is not None]
        claimed = uow.onboardings.claim_due(now=datetime(2100, 1, 1, tzinfo=UTC), limit=10)
        assert claimed == sorted(due, key=lambda r: (r.due_at, r.user_id))
        assert list(uow.terms.list()) == sorted(versions)
        assert uow.terms.current() == max(versions, default=None)
        for message in sent:
            assert uow.outbox.get(message.id) == message
        assert list(uow.outbox.list()) == sorted(sent, key=lambda m: (m.created_at, m.id))


# -- shrinking: a failure is reported on the simplest value ---------------------------------------


def test_a_record_shrinks_to_a_fresh_invitation():
    record = find(onboardings(), lambda o: o.version >= 0, settings=SHRINKING)
    assert (record.mode, record.status) == (OnboardingMode.INVITATION, OnboardingStatus.INVITED)
    assert record.created_at == record.sent_at == datetime(2000, 1, 1, tzinfo=UTC)
    assert (record.round, record.reminders_sent, record.version) == (1, 0, 0)
    assert (record.token_digests, record.due_at, record.invited_by) == ((), None, None)
    assert record.locale == "fr-BE"


def test_a_record_with_links_shrinks_to_as_many_as_asked_and_nothing_else():
    # Links live only on invited records: ask for those, so that finding one is not luck.
    record = find(
        onboardings(status=OnboardingStatus.INVITED),
        lambda o: len(o.token_digests) >= 2,
        settings=settings(SHRINKING, max_examples=2000),
    )
    assert len(record.token_digests) == 2
    assert record.token_digests[0] == bytes(32)
    assert (record.mode, record.version, record.round) == (OnboardingMode.INVITATION, 0, 1)


def test_a_deactivated_record_shrinks_to_one_deactivated_while_invited():
    record = find(
        onboardings(), lambda o: o.status is OnboardingStatus.DEACTIVATED, settings=SHRINKING
    )
    assert record.mode is OnboardingMode.INVITATION
    assert record.resume is OnboardingStatus.INVITED
    assert (record.token_digests, record.due_at) == ((), None)


def test_a_failed_message_shrinks_to_one_failed_attempt():
    message = find(messages(), lambda m: m.status is MessageStatus.FAILED, settings=SHRINKING)
    assert (message.kind, message.attempts, message.version) == (MessageKind.INVITATION, 1, 0)
    assert message.created_at == message.next_attempt_at == datetime(2000, 1, 1, tzinfo=UTC)
    assert message.claimed_until is None
    assert message.link_round == 1


def test_terms_shrink_to_a_dated_version_and_long_ones_to_the_shortest_asked():
    assert find(terms_of_use(), lambda t: t.version != "", settings=SHRINKING) == TermsOfUse(
        datetime(2000, 1, 1, tzinfo=UTC), "2000-01"
    )
    long = find(terms_of_use(), lambda t: len(t.version) > 20, settings=SHRINKING)
    assert len(long.version) == 21
