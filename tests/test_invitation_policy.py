"""The invitation state machine as pure functions: settings, reminders, expiry, links (D1, D2).

Examples pin the defaults of source 002 (reminders on days 3, 7 and 12, expiry after 14
days); properties draw random settings within their bounds and random times, and check what
must hold for every one of them: a round sends at most ``len(reminders)`` reminders, the
sweep has something to do exactly when ``due_at`` has come, an invitation is expired exactly
from its deadline, ``retry_after`` is the first moment a re-send is accepted, and every
refused move names the status and the command, as :data:`TRANSITIONS` says.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import (
    EstablishmentId,
    IllegalTransition,
    InvalidConfiguration,
    InvitationInvalid,
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    ResendThrottled,
    TermsNotCurrent,
    TermsOfUse,
    UserId,
)
from practiceid.invitations import token_digest
from practiceid.policies.invitation import (
    TRANSITIONS,
    Command,
    InvitationSettings,
    Step,
    accept,
    accept_terms,
    deactivate,
    invite,
    mint,
    missing_steps,
    password_changed,
    reactivate,
    resend,
    sign_in,
    status_at,
    tick,
)

S = OnboardingStatus
DEFAULT = InvitationSettings()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR, DAY, US = timedelta(hours=1), timedelta(days=1), timedelta(microseconds=1)
USER, ESTABLISHMENT, ADMIN = UserId("u-exemple"), EstablishmentId("e-exemple"), UserId("u-admin")
KEY = "c.exemple@cabinet-exemple.be"
OTHER_KEY = "c.exemple@autre-exemple.be"
TERMS = TermsOfUse(published_at=T0 - DAY, version="2026-01")
NEW_TERMS = TermsOfUse(published_at=T0 + 30 * DAY, version="2026-04")


def digest(n: int) -> bytes:
    return hashlib.sha256(f"made-up link {n}".encode()).digest()


def invited(
    settings: InvitationSettings = DEFAULT,
    *,
    now: datetime = T0,
    mode: OnboardingMode = OnboardingMode.INVITATION,
) -> Onboarding:
    return invite(
        USER,
        ESTABLISHMENT,
        mode=mode,
        email_key=KEY,
        now=now,
        settings=settings,
        invited_by=ADMIN,
    ).onboarding


def linked(record: Onboarding, *numbers: int, settings: InvitationSettings = DEFAULT) -> Onboarding:
    """Mint links ``digest(n)`` in the record's round, as the dispatcher does."""
    assert record.sent_at is not None
    for n in numbers:
        minted = mint(
            record, record.sent_at, settings, round=record.round, email_key=KEY, digest=digest(n)
        )
        assert minted is not None
        record = minted
    return record


def accepted(
    mode: OnboardingMode = OnboardingMode.INVITATION, *, at: datetime = T0 + HOUR
) -> Onboarding:
    return accept(linked(invited(mode=mode), 1), at, digest=digest(1), email_key=KEY).onboarding


def active() -> Onboarding:
    return sign_in(accepted(), T0 + 2 * HOUR, current_terms=None).onboarding


def ticked(record: Onboarding, at: datetime, settings: InvitationSettings = DEFAULT) -> Onboarding:
    step = tick(record, at, settings)
    assert step is not None
    return step.onboarding


def expired() -> Onboarding:
    return ticked(invited(), T0 + 14 * DAY)


def deactivated() -> Onboarding:
    return deactivate(invited(), T0 + HOUR).onboarding


# One record per stored status, and the time at which to look at it.
RECORDS = {
    S.INVITED: (invited, T0 + HOUR),
    S.ACCEPTED: (accepted, T0 + 2 * HOUR),
    S.ACTIVE: (active, T0 + 3 * HOUR),
    S.EXPIRED: (expired, T0 + 15 * DAY),
    S.DEACTIVATED: (deactivated, T0 + 2 * HOUR),
}


# -- strategies --------------------------------------------------------------------------


@st.composite
def invitation_settings(draw: st.DrawFn) -> InvitationSettings:
    """Valid settings: any expiry, up to 5 reminders at least an hour apart, any cap."""
    expiry = draw(st.timedeltas(min_value=HOUR, max_value=90 * DAY))
    count = draw(st.integers(0, min(5, expiry // HOUR - 1)))
    slack = (expiry - (count + 1) * HOUR) // US
    shifts = sorted(draw(st.lists(st.integers(0, slack), min_size=count, max_size=count)))
    reminders = tuple((i + 1) * HOUR + shift * US for i, shift in enumerate(shifts))
    return InvitationSettings(
        expiry=expiry,
        reminders=reminders,
        resend_cooldown=draw(st.timedeltas(min_value=timedelta(0), max_value=DAY)),
        daily_cap=draw(st.integers(1, 50)),
        live_links=draw(st.integers(1, 32)),
    )


def offsets(high: timedelta) -> st.SearchStrategy[timedelta]:
    return st.timedeltas(min_value=timedelta(0), max_value=high)


# -- settings ----------------------------------------------------------------------------


def test_default_settings_are_those_of_source_002():
    assert DEFAULT.expiry == 14 * DAY
    assert DEFAULT.reminders == (3 * DAY, 7 * DAY, 12 * DAY)
    assert DEFAULT.resend_cooldown == timedelta(minutes=2)
    assert DEFAULT.daily_cap == 5
    assert DEFAULT.live_links == 8


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expiry", HOUR - US),
        ("expiry", 90 * DAY + US),
        ("expiry", 14),
        ("expiry", None),
        ("resend_cooldown", -US),
        ("resend_cooldown", DAY + US),
        ("resend_cooldown", 120),
        ("daily_cap", 0),
        ("daily_cap", 51),
        ("daily_cap", True),
        ("daily_cap", 5.0),
        ("daily_cap", "5"),
        ("live_links", 0),
        ("live_links", 33),
        ("live_links", False),
        ("live_links", None),
    ],
)
def test_each_setting_out_of_bounds_is_refused_naming_its_field(field, value):
    with pytest.raises(InvalidConfiguration) as caught:
        InvitationSettings(**{field: value})
    assert caught.value.code == "config.invalid"
    assert caught.value.params["field"] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expiry", HOUR),
        ("expiry", 90 * DAY),
        ("resend_cooldown", timedelta(0)),
        ("resend_cooldown", DAY),
        ("daily_cap", 1),
        ("daily_cap", 50),
        ("live_links", 1),
        ("live_links", 32),
    ],
)
def test_each_setting_at_its_bound_is_accepted(field, value):
    reminders = () if field == "expiry" else DEFAULT.reminders
    assert getattr(InvitationSettings(reminders=reminders, **{field: value}), field) == value


@pytest.mark.parametrize(
    ("reminders", "field"),
    [
        ((HOUR - US,), "reminders[0]"),  # too early: within an hour of sending
        ((timedelta(0),), "reminders[0]"),
        ((-DAY,), "reminders[0]"),
        ((3 * DAY, 3 * DAY), "reminders[1]"),  # not increasing
        ((7 * DAY, 3 * DAY), "reminders[1]"),
        ((3 * DAY, 3 * DAY + HOUR - US), "reminders[1]"),  # less than an hour apart
        ((3 * DAY, 14 * DAY), "reminders[1]"),  # at the deadline
        ((3 * DAY, 14 * DAY - HOUR + US), "reminders[1]"),  # within the deadline's hour
        ((3 * DAY, 20 * DAY), "reminders[1]"),  # after it
        ((3 * DAY, "7 days"), "reminders[1]"),
        ((DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY), "reminders"),  # six
        (None, "reminders"),
        (3, "reminders"),
    ],
)
def test_reminders_must_increase_before_expiry_and_be_at_most_five(reminders, field):
    with pytest.raises(InvalidConfiguration) as caught:
        InvitationSettings(reminders=reminders)
    assert caught.value.params["field"] == field


def test_reminders_may_be_none_at_all_or_five_an_hour_apart_up_to_the_last_hour():
    assert InvitationSettings(reminders=[]).reminders == ()
    five = (DAY, 2 * DAY, 3 * DAY, 4 * DAY, 14 * DAY - HOUR)
    assert InvitationSettings(reminders=iter(five)).reminders == five
    tight = InvitationSettings(expiry=3 * HOUR, reminders=(HOUR, 2 * HOUR))
    assert tight.reminders == (HOUR, 2 * HOUR)


def test_a_shorter_expiry_must_leave_room_for_the_reminders():
    with pytest.raises(InvalidConfiguration) as caught:
        InvitationSettings(expiry=7 * DAY)  # the default reminder on day 12 is after it
    assert caught.value.params["field"] == "reminders[1]"


@given(invitation_settings())
def test_settings_drawn_within_the_bounds_are_accepted_and_schedule_every_reminder(settings):
    assert len(settings.reminders) <= 5
    for reminders_sent, offset in enumerate(settings.reminders):
        assert settings.due_at(T0, reminders_sent) == T0 + offset
    assert settings.due_at(T0, len(settings.reminders)) == T0 + settings.expiry


# -- invite (D1) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (OnboardingMode.INVITATION, MessageKind.INVITATION),
        (OnboardingMode.WELCOME, MessageKind.WELCOME),
    ],
)
def test_invite_with_a_link_starts_round_one_with_its_deadline_and_first_reminder(mode, kind):
    step = invite(
        USER, ESTABLISHMENT, mode=mode, email_key=KEY, now=T0, settings=DEFAULT, locale="fr-FR"
    )
    record = step.onboarding
    assert step.message is kind
    assert (record.status, record.round, record.reminders_sent) == (S.INVITED, 1, 0)
    assert (record.sent_at, record.expires_at, record.due_at) == (T0, T0 + 14 * DAY, T0 + 3 * DAY)
    assert record.sends == (T0,)
    assert record.token_digests == ()  # links are minted when the e-mail goes
    assert (record.email_key, record.locale, record.mode) == (KEY, "fr-FR", mode)


def test_invite_without_reminders_is_next_due_at_its_deadline():
    assert invited(InvitationSettings(reminders=())).due_at == T0 + 14 * DAY


def test_invite_with_an_administrator_set_password_is_accepted_at_once_with_no_link():
    step = invite(
        USER,
        ESTABLISHMENT,
        mode=OnboardingMode.ADMINISTRATOR,
        email_key=KEY,
        now=T0,
        settings=DEFAULT,
    )
    record = step.onboarding
    assert step.message is MessageKind.ACCOUNT_CREATED
    assert not step.message.carries_link
    assert (record.status, record.accepted_at, record.round) == (S.ACCEPTED, T0, 0)
    assert (record.sent_at, record.expires_at, record.due_at) == (None, None, None)
    assert not record.password_change_required
    assert tick(record, T0 + 100 * DAY, DEFAULT) is None


# -- status_at -------------------------------------------------------------------------------


def test_an_invitation_is_expired_from_its_deadline_exactly():
    record = invited()
    deadline = T0 + 14 * DAY
    assert status_at(record, deadline - US) is S.INVITED
    assert status_at(record, deadline) is S.EXPIRED
    assert status_at(record, deadline + 1000 * DAY) is S.EXPIRED


@pytest.mark.parametrize("status", [S.ACCEPTED, S.ACTIVE, S.EXPIRED, S.DEACTIVATED])
def test_only_an_invitation_expires_with_time(status):
    record = RECORDS[status][0]()
    assert status_at(record, T0 + 1000 * DAY) is status


@given(invitation_settings(), offsets(200 * DAY))
def test_status_at_is_expired_exactly_when_the_deadline_passed(settings, offset):
    record = invited(settings)
    expected = S.EXPIRED if offset >= settings.expiry else S.INVITED
    assert status_at(record, T0 + offset) is expected


# -- tick: reminders and expiry (D2) ---------------------------------------------------------


def test_default_reminders_go_on_days_3_7_and_12_exactly_then_the_invitation_expires():
    record = invited()
    sent: list[tuple[timedelta, MessageKind]] = []
    for hours in range(15 * 24 + 1):
        # the sweep runs every hour on the hour, and once a microsecond before each hour
        for at in (T0 + hours * HOUR - US, T0 + hours * HOUR):
            step = tick(record, at, DEFAULT)
            if step is not None:
                assert step.message is not None
                sent.append((at - T0, step.message))
                record = step.onboarding
    assert sent == [
        (3 * DAY, MessageKind.INVITATION_REMINDER),
        (7 * DAY, MessageKind.INVITATION_REMINDER),
        (12 * DAY, MessageKind.INVITATION_REMINDER),
        (14 * DAY, MessageKind.INVITATION_EXPIRED),
    ]


def test_a_reminder_schedules_the_next_one_and_the_last_schedules_the_deadline():
    record = invited()
    dues = []
    for day in (3, 7, 12):
        step = tick(record, T0 + day * DAY, DEFAULT)
        assert step is not None
        record = step.onboarding
        dues.append((record.reminders_sent, record.due_at))
    assert dues == [(1, T0 + 7 * DAY), (2, T0 + 12 * DAY), (3, T0 + 14 * DAY)]


def test_a_sweep_weeks_late_sends_one_reminder_and_skips_the_missed_ones():
    record = invited()
    step = tick(record, T0 + 12 * DAY + HOUR, DEFAULT)
    assert step is not None
    assert step.message is MessageKind.INVITATION_REMINDER
    assert step.onboarding.reminders_sent == 3
    assert step.onboarding.due_at == T0 + 14 * DAY
    assert tick(step.onboarding, T0 + 12 * DAY + 2 * HOUR, DEFAULT) is None


def test_a_sweep_late_past_the_deadline_only_expires():
    record = invited()
    step = tick(record, T0 + 40 * DAY, DEFAULT)
    assert step is not None
    assert step.message is MessageKind.INVITATION_EXPIRED
    assert step.onboarding.status is S.EXPIRED
    assert step.onboarding.reminders_sent == 0


def test_expiry_clears_the_schedule_and_kills_every_link():
    record = linked(invited(), 1, 2)
    step = tick(record, T0 + 14 * DAY, DEFAULT)
    assert step is not None
    assert (step.onboarding.status, step.onboarding.due_at) == (S.EXPIRED, None)
    assert step.onboarding.token_digests == ()
    assert tick(step.onboarding, T0 + 15 * DAY, DEFAULT) is None


@pytest.mark.parametrize("status", [S.ACCEPTED, S.ACTIVE, S.EXPIRED, S.DEACTIVATED])
def test_no_reminder_after_acceptance_expiry_or_deactivation(status):
    record = RECORDS[status][0]()
    for day in (3, 7, 12, 14, 30):
        assert tick(record, T0 + day * DAY, DEFAULT) is None


def test_a_round_keeps_its_own_deadline_when_the_settings_change_meanwhile():
    record = invited()  # 14 days under the defaults
    shorter = InvitationSettings(expiry=7 * DAY, reminders=(2 * DAY,))
    step = tick(record, T0 + 3 * DAY, shorter)
    assert step is not None
    assert step.onboarding.due_at == T0 + 14 * DAY  # the round's deadline, as sent
    later = tick(step.onboarding, T0 + 14 * DAY, shorter)
    assert later is not None
    assert later.message is MessageKind.INVITATION_EXPIRED


def test_a_round_whose_next_reminder_moved_later_is_rescheduled_not_forgotten():
    record = invited()  # first reminder due on day 3
    later_reminders = InvitationSettings(reminders=(5 * DAY,))
    step = tick(record, T0 + 3 * DAY, later_reminders)
    assert step is not None
    assert step.message is None
    assert step.onboarding.due_at == T0 + 5 * DAY
    assert tick(step.onboarding, T0 + 3 * DAY, later_reminders) is None


@given(
    invitation_settings(),
    st.lists(offsets(120 * DAY), max_size=30),
    st.sampled_from([None, "accept", "deactivate"]),
    offsets(120 * DAY),
)
def test_the_sweep_acts_exactly_when_due_and_never_more_than_the_reminders(
    settings, sweeps, stop, stop_at
):
    """For any settings and sweep times: at most len(reminders) reminders, then the expiry."""
    record = linked(invited(settings), 1, settings=settings)
    reminders = 0
    stopped = False
    for at in sorted(sweeps):
        if stop is not None and not stopped and at >= stop_at:
            stopped = True
            if status_at(record, T0 + stop_at) is S.INVITED and stop == "accept":
                record = accept(record, T0 + stop_at, digest=digest(1), email_key=KEY).onboarding
            elif record.status is not S.DEACTIVATED and stop == "deactivate":
                record = deactivate(record, T0 + stop_at).onboarding
        due = record.due_at
        step = tick(record, T0 + at, settings)
        if record.status is not S.INVITED:
            assert step is None  # never after acceptance, expiry or deactivation
            continue
        assert due is not None
        assert (step is not None) is (T0 + at >= due)
        if step is None:
            continue
        record = step.onboarding
        if step.message is MessageKind.INVITATION_REMINDER:
            reminders += 1
            assert record.reminders_sent == sum(1 for r in settings.reminders if r <= at)
            assert record.due_at == settings.due_at(T0, record.reminders_sent)
        else:
            assert step.message is MessageKind.INVITATION_EXPIRED
            assert at >= settings.expiry
            assert (record.status, record.due_at, record.token_digests) == (S.EXPIRED, None, ())
    assert reminders <= len(settings.reminders)
    assert record.reminders_sent <= len(settings.reminders)


@given(invitation_settings(), offsets(100 * DAY))
def test_due_at_is_always_the_next_reminder_or_the_deadline(settings, at):
    record = invited(settings)
    step = tick(record, T0 + at, settings)
    if step is not None:
        record = step.onboarding
    if record.status is S.EXPIRED:
        assert record.due_at is None
        return
    upcoming = [T0 + r for r in settings.reminders if T0 + r > T0 + at]
    assert record.due_at == (upcoming[0] if upcoming else T0 + settings.expiry)


# -- resend (D2) -------------------------------------------------------------------------------


def test_resend_starts_a_new_round_from_now_exactly_with_microseconds():
    record = linked(ticked(invited(), T0 + 3 * DAY), 1, 2)
    now = T0 + 5 * DAY + timedelta(hours=7, minutes=13, seconds=2, microseconds=345_678)
    step = resend(record, now, DEFAULT, email_key=KEY)
    after = step.onboarding
    assert step.message is MessageKind.INVITATION
    assert (after.status, after.round, after.reminders_sent) == (S.INVITED, 2, 0)
    assert after.sent_at == now
    assert after.expires_at == now + 14 * DAY  # not rounded to a day
    assert after.due_at == now + 3 * DAY
    assert after.token_digests == ()  # every earlier link dies at once
    assert after.sends == (now,)  # the first send left the 24-hour window


def test_resend_of_a_welcome_sends_a_welcome_again():
    step = resend(invited(mode=OnboardingMode.WELCOME), T0 + DAY, DEFAULT, email_key=KEY)
    assert step.message is MessageKind.WELCOME


def test_resend_after_expiry_starts_over_and_binds_the_current_address():
    record = expired()
    now = T0 + 20 * DAY
    step = resend(record, now, DEFAULT, email_key=OTHER_KEY)
    assert (step.onboarding.status, step.onboarding.expires_at) == (S.INVITED, now + 14 * DAY)
    assert step.onboarding.email_key == OTHER_KEY


def test_resend_after_the_deadline_before_the_sweep_works_too():
    step = resend(invited(), T0 + 14 * DAY, DEFAULT, email_key=KEY)
    assert step.onboarding.round == 2


def test_resend_within_the_cooldown_is_throttled_until_it_ends():
    record = invited()
    with pytest.raises(ResendThrottled) as caught:
        resend(record, T0 + timedelta(minutes=2) - US, DEFAULT, email_key=KEY)
    assert caught.value.params == {
        "reason": "cooldown",
        "retry_after": T0 + timedelta(minutes=2),
        "user_id": USER,
    }
    assert resend(record, T0 + timedelta(minutes=2), DEFAULT, email_key=KEY).onboarding.round == 2


def test_the_daily_cap_counts_the_last_24_hours_rolling():
    settings = InvitationSettings(daily_cap=3, resend_cooldown=timedelta(minutes=10))
    record = invited(settings)
    for hours in (1, 2):
        record = resend(record, T0 + hours * HOUR, settings, email_key=KEY).onboarding
    with pytest.raises(ResendThrottled) as caught:
        resend(record, T0 + 3 * HOUR, settings, email_key=KEY)
    assert caught.value.params["reason"] == "daily_cap"
    assert caught.value.params["retry_after"] == T0 + DAY  # when the first send leaves the window
    with pytest.raises(ResendThrottled):
        resend(record, T0 + DAY - US, settings, email_key=KEY)
    record = resend(record, T0 + DAY, settings, email_key=KEY).onboarding
    assert record.sends == (T0 + HOUR, T0 + 2 * HOUR, T0 + DAY)  # older sends are forgotten
    with pytest.raises(ResendThrottled) as again:
        resend(record, T0 + DAY + timedelta(minutes=30), settings, email_key=KEY)
    assert again.value.params["retry_after"] == T0 + DAY + HOUR


def test_retry_after_is_when_both_the_cooldown_and_the_cap_allow_a_resend():
    settings = InvitationSettings(daily_cap=2, resend_cooldown=timedelta(hours=2))
    record = resend(invited(settings), T0 + 23 * HOUR, settings, email_key=KEY).onboarding
    # cooldown until 25:00, cap (two sends in 24 hours) until 24:00: only 25:00 works
    with pytest.raises(ResendThrottled) as caught:
        resend(record, T0 + 23 * HOUR + timedelta(minutes=30), settings, email_key=KEY)
    assert caught.value.params["retry_after"] == T0 + 25 * HOUR
    settings = InvitationSettings(daily_cap=2, resend_cooldown=timedelta(minutes=2))
    record = resend(invited(settings), T0 + HOUR, settings, email_key=KEY).onboarding
    # cooldown until 1:02, cap until 24:00: 1:02 would be refused again
    with pytest.raises(ResendThrottled) as caught:
        resend(record, T0 + HOUR + timedelta(minutes=1), settings, email_key=KEY)
    assert caught.value.params["retry_after"] == T0 + DAY
    assert caught.value.params["reason"] == "daily_cap"


@pytest.mark.parametrize("status", [S.ACCEPTED, S.ACTIVE, S.DEACTIVATED])
def test_resend_is_refused_after_acceptance_or_deactivation(status):
    make, at = RECORDS[status]
    with pytest.raises(IllegalTransition) as caught:
        resend(make(), at, DEFAULT, email_key=KEY)
    assert caught.value.params == {"status": str(status), "command": "resend", "user_id": USER}


@given(
    invitation_settings(),
    st.lists(offsets(3 * DAY), min_size=1, max_size=25),
)
def test_retry_after_is_the_first_moment_a_resend_is_accepted(settings, attempts):
    """Resends at random times: each is accepted iff the throttle allows, and retry_after is
    exact: refused a microsecond before, accepted at it."""
    record = invited(settings)
    sends = [T0]
    for offset in sorted(attempts):
        now = T0 + offset
        recent = [s for s in sends if s > now - DAY]
        allowed = now >= sends[-1] + settings.resend_cooldown and len(recent) < settings.daily_cap
        try:
            step = resend(record, now, settings, email_key=KEY)
        except ResendThrottled as refused:
            assert not allowed
            retry_after = refused.params["retry_after"]
            assert retry_after > now
            assert refused.params["reason"] in {"cooldown", "daily_cap"}
            with pytest.raises(ResendThrottled):
                resend(record, retry_after - US, settings, email_key=KEY)
            assert resend(record, retry_after, settings, email_key=KEY).onboarding.sent_at == (
                retry_after
            )
            continue
        assert allowed
        record = step.onboarding
        assert record.expires_at == now + settings.expiry
        assert record.due_at == settings.due_at(now, 0)
        sends.append(now)
        assert record.sends == tuple(s for s in sends if s > now - DAY)


# -- mint: links of a round ---------------------------------------------------------------------


def test_mint_adds_the_link_to_the_round():
    record = mint(invited(), T0, DEFAULT, round=1, email_key=KEY, digest=digest(1))
    assert record is not None
    assert record.token_digests == (digest(1),)
    assert record.holds(digest(1))
    assert not record.holds(digest(2))


@pytest.mark.parametrize(
    ("change", "round_", "key", "at"),
    [
        ("stale round", 2, KEY, T0),
        ("older round", 0, KEY, T0),
        ("address changed", 1, OTHER_KEY, T0),
        ("deadline passed", 1, KEY, T0 + 14 * DAY),
    ],
)
def test_mint_refuses_a_message_of_a_round_that_is_over(change, round_, key, at):
    assert mint(invited(), at, DEFAULT, round=round_, email_key=key, digest=digest(1)) is None


@pytest.mark.parametrize("status", [S.ACCEPTED, S.ACTIVE, S.EXPIRED, S.DEACTIVATED])
def test_mint_refuses_once_the_invitation_is_not_pending(status):
    make, at = RECORDS[status]
    record = make()
    assert mint(record, at, DEFAULT, round=record.round, email_key=KEY, digest=digest(9)) is None


def test_mint_after_a_resend_refuses_the_earlier_rounds_messages():
    record = resend(invited(), T0 + DAY, DEFAULT, email_key=KEY).onboarding
    assert mint(record, T0 + DAY, DEFAULT, round=1, email_key=KEY, digest=digest(1)) is None
    assert mint(record, T0 + DAY, DEFAULT, round=2, email_key=KEY, digest=digest(1)) is not None


@given(st.integers(1, 32), st.integers(1, 40))
def test_mint_keeps_only_the_newest_live_links(live_links, count):
    settings = InvitationSettings(live_links=live_links)
    record = linked(invited(settings), *range(count), settings=settings)
    kept = [digest(n) for n in range(count)][-live_links:]
    assert list(record.token_digests) == kept
    for n in range(count):
        assert record.holds(digest(n)) is (digest(n) in kept)


# -- accept (D2) ---------------------------------------------------------------------------------


def test_accept_sets_the_password_step_and_kills_every_link():
    record = linked(invited(), 1, 2)
    step = accept(record, T0 + DAY, digest=digest(1), email_key=KEY)
    after = step.onboarding
    assert step.message is MessageKind.INVITATION_ACCEPTED
    assert (after.status, after.accepted_at, after.due_at) == (S.ACCEPTED, T0 + DAY, None)
    assert after.token_digests == ()
    assert not after.password_change_required


def test_accept_in_welcome_mode_leaves_a_temporary_password():
    assert accepted(OnboardingMode.WELCOME).password_change_required


def test_address_keys_may_hold_any_unicode():
    key = "chloé.fictif@hôpital-exemple.fr"
    step = invite(
        USER,
        ESTABLISHMENT,
        mode=OnboardingMode.INVITATION,
        email_key=key,
        now=T0,
        settings=DEFAULT,
    )
    record = mint(step.onboarding, T0, DEFAULT, round=1, email_key=key, digest=digest(1))
    assert record is not None
    assert mint(record, T0, DEFAULT, round=1, email_key="chloe@x.fr", digest=digest(2)) is None
    with pytest.raises(InvitationInvalid):
        accept(record, T0, digest=digest(1), email_key="chloe.fictif@hôpital-exemple.fr")
    with pytest.raises(InvitationInvalid):
        accept(None, T0, digest=digest(1), email_key=key)
    assert accept(record, T0, digest=digest(1), email_key=key).onboarding.status is S.ACCEPTED


def test_accept_works_until_a_microsecond_before_the_deadline():
    record = linked(invited(), 1)
    deadline = T0 + 14 * DAY
    assert accept(record, deadline - US, digest=digest(1), email_key=KEY).onboarding.accepted_at
    with pytest.raises(InvitationInvalid):
        accept(record, deadline, digest=digest(1), email_key=KEY)


def _refusals():
    live = linked(invited(), 1)
    once = accept(live, T0 + HOUR, digest=digest(1), email_key=KEY).onboarding
    resent = resend(live, T0 + HOUR, DEFAULT, email_key=KEY).onboarding
    return {
        "unknown link": (None, T0, digest(1), KEY),
        "no link minted yet": (invited(), T0, digest(1), KEY),
        "another link": (live, T0, digest(2), KEY),
        "used link": (once, T0 + 2 * HOUR, digest(1), KEY),
        "expired before the sweep": (live, T0 + 14 * DAY, digest(1), KEY),
        "expired by the sweep": (ticked(live, T0 + 14 * DAY), T0 + 14 * DAY, digest(1), KEY),
        "revoked by a resend": (resent, T0 + 2 * HOUR, digest(1), KEY),
        "address changed": (live, T0, digest(1), OTHER_KEY),
        "account deactivated": (deactivate(live, T0).onboarding, T0, digest(1), KEY),
        "deactivated account: no address": (live, T0, digest(1), ""),
        "malformed link": (live, T0, token_digest(12345), KEY),
        "empty digest": (live, T0, b"", KEY),
    }


@pytest.mark.parametrize("case", list(_refusals()))
def test_every_refused_link_gets_the_same_error_with_no_params(case):
    record, at, link, key = _refusals()[case]
    with pytest.raises(InvitationInvalid) as caught:
        accept(record, at, digest=link, email_key=key)
    assert caught.value.params == {}
    assert caught.value.code == "invitation.invalid"
    assert caught.value.message == InvitationInvalid.default_message


@given(
    invitation_settings(),
    st.lists(st.integers(0, 5), max_size=6),
    st.sampled_from([None, "accept", "deactivate", "resend", "expire"]),
    st.tuples(st.integers(0, 6), st.sampled_from([KEY, OTHER_KEY, ""]), offsets(100 * DAY)),
)
def test_accept_succeeds_exactly_while_invited_with_a_held_link_and_the_same_address(
    settings, minted, before, attempt
):
    tried, key, at = attempt
    record = linked(invited(settings), *minted, settings=settings)
    if before == "accept" and minted:
        record = accept(record, T0, digest=digest(minted[-1]), email_key=KEY).onboarding
    elif before == "deactivate":
        record = deactivate(record, T0).onboarding
    elif before == "resend":  # a day later: past any cooldown and the daily cap
        record = resend(record, T0 + DAY, settings, email_key=KEY).onboarding
    elif before == "expire":
        record = ticked(record, T0 + settings.expiry, settings)
    now = T0 + DAY + at
    valid = status_at(record, now) is S.INVITED and record.holds(digest(tried)) and key == KEY
    try:
        step = accept(record, now, digest=digest(tried), email_key=key)
    except InvitationInvalid as refused:
        assert not valid
        assert refused.params == {}
    else:
        assert valid
        assert (step.onboarding.status, step.onboarding.token_digests) == (S.ACCEPTED, ())


# -- first sign-in, terms of use, temporary password (D1, D2) -----------------------------------


def test_first_sign_in_without_terms_published_activates_the_account():
    step = sign_in(accepted(), T0 + 2 * HOUR, current_terms=None)
    after = step.onboarding
    assert step.message is MessageKind.ACCOUNT_ACTIVATED
    assert (after.status, after.signed_in_at, after.activated_at) == (
        S.ACTIVE,
        T0 + 2 * HOUR,
        T0 + 2 * HOUR,
    )


def test_first_sign_in_with_terms_to_accept_waits_for_them():
    step = sign_in(accepted(), T0 + 2 * HOUR, current_terms=TERMS)
    assert (step.onboarding.status, step.message) == (S.ACCEPTED, None)
    assert step.onboarding.signed_in_at == T0 + 2 * HOUR
    assert missing_steps(step.onboarding, TERMS) == ("terms",)
    done = accept_terms(step.onboarding, T0 + 3 * HOUR, version=TERMS.version, current_terms=TERMS)
    assert done.message is MessageKind.ACCOUNT_ACTIVATED
    assert done.onboarding.status is S.ACTIVE
    assert (done.onboarding.terms_version, done.onboarding.terms_accepted_at) == (
        TERMS.version,
        T0 + 3 * HOUR,
    )
    assert done.onboarding.activated_at == T0 + 3 * HOUR


def test_terms_accepted_before_the_first_sign_in_do_not_activate_until_it():
    step = accept_terms(accepted(), T0 + 2 * HOUR, version=TERMS.version, current_terms=TERMS)
    assert (step.onboarding.status, step.message) == (S.ACCEPTED, None)
    signed = sign_in(step.onboarding, T0 + 3 * HOUR, current_terms=TERMS)
    assert (signed.onboarding.status, signed.message) == (S.ACTIVE, MessageKind.ACCOUNT_ACTIVATED)


def test_a_temporary_password_must_be_replaced_before_activation():
    record = accepted(OnboardingMode.WELCOME)
    signed = sign_in(record, T0 + 2 * HOUR, current_terms=None)
    assert signed.onboarding.status is S.ACCEPTED
    assert missing_steps(signed.onboarding, None) == ("password_change",)
    changed = password_changed(signed.onboarding, T0 + 3 * HOUR, current_terms=None)
    assert (changed.onboarding.status, changed.message) == (S.ACTIVE, MessageKind.ACCOUNT_ACTIVATED)
    assert not changed.onboarding.password_change_required


def test_all_three_steps_in_any_order_activate_once():
    for order in (
        ("sign_in", "terms", "password"),
        ("password", "sign_in", "terms"),
        ("terms", "password", "sign_in"),
    ):
        record = accepted(OnboardingMode.WELCOME)
        messages = []
        for n, move in enumerate(order):
            at = T0 + (n + 2) * HOUR
            if move == "sign_in":
                step = sign_in(record, at, current_terms=TERMS)
            elif move == "terms":
                step = accept_terms(record, at, version=TERMS.version, current_terms=TERMS)
            else:
                step = password_changed(record, at, current_terms=TERMS)
            record = step.onboarding
            messages.append(step.message)
        assert record.status is S.ACTIVE
        assert messages == [None, None, MessageKind.ACCOUNT_ACTIVATED]


def test_a_later_sign_in_keeps_the_first_and_sends_nothing():
    record = active()
    step = sign_in(record, T0 + 10 * DAY, current_terms=None)
    assert step.message is None
    assert step.onboarding.signed_in_at == record.signed_in_at
    assert step.onboarding == record


def test_a_new_version_of_the_terms_asks_active_users_again_without_deactivating_them():
    record = accept_terms(active(), T0 + DAY, version=TERMS.version, current_terms=TERMS).onboarding
    assert missing_steps(record, TERMS) == ()
    assert missing_steps(record, NEW_TERMS) == ("terms",)
    step = sign_in(record, T0 + 31 * DAY, current_terms=NEW_TERMS)
    assert (step.onboarding.status, step.message) == (S.ACTIVE, None)
    again = accept_terms(record, T0 + 31 * DAY, version=NEW_TERMS.version, current_terms=NEW_TERMS)
    assert (again.onboarding.terms_version, again.message) == (NEW_TERMS.version, None)


@pytest.mark.parametrize(
    ("version", "current"),
    [("2025-12", TERMS), ("2026-01", None), ("", TERMS), ("2026-01", NEW_TERMS)],
)
def test_accepting_terms_other_than_the_current_version_is_refused(version, current):
    with pytest.raises(TermsNotCurrent) as caught:
        accept_terms(accepted(), T0 + DAY, version=version, current_terms=current)
    assert caught.value.params == {
        "version": version,
        "current": None if current is None else current.version,
    }


def test_missing_steps_lists_password_change_before_terms():
    record = accepted(OnboardingMode.WELCOME)
    assert missing_steps(record, TERMS) == ("password_change", "terms")
    assert missing_steps(record, None) == ("password_change",)


# -- deactivate and reactivate (A6, D2) ------------------------------------------------------------


@pytest.mark.parametrize("status", [S.INVITED, S.ACCEPTED, S.ACTIVE, S.EXPIRED])
def test_deactivate_from_any_status_kills_links_and_the_schedule(status):
    make, at = RECORDS[status]
    record = make()
    step = deactivate(record, at)
    assert step.message is MessageKind.ACCOUNT_DEACTIVATED
    after = step.onboarding
    assert (after.status, after.resume, after.due_at, after.token_digests) == (
        S.DEACTIVATED,
        status,
        None,
        (),
    )


def test_deactivating_an_invitation_past_its_deadline_resumes_as_expired():
    step = deactivate(linked(invited(), 1), T0 + 20 * DAY)
    assert step.onboarding.resume is S.EXPIRED
    back = reactivate(step.onboarding, T0 + 21 * DAY, DEFAULT, email_key=KEY)
    assert (back.onboarding.status, back.message) == (S.EXPIRED, MessageKind.ACCOUNT_REACTIVATED)


def test_reactivating_an_invitation_sends_a_new_round_from_now():
    record = deactivate(linked(invited(), 1), T0 + DAY).onboarding
    now = T0 + 30 * DAY + timedelta(microseconds=7)
    step = reactivate(record, now, DEFAULT, email_key=OTHER_KEY)
    after = step.onboarding
    assert step.message is MessageKind.INVITATION
    assert (after.status, after.round, after.reminders_sent, after.resume) == (
        S.INVITED,
        2,
        0,
        None,
    )
    assert (after.sent_at, after.expires_at, after.due_at) == (now, now + 14 * DAY, now + 3 * DAY)
    assert after.email_key == OTHER_KEY
    assert after.token_digests == ()
    with pytest.raises(InvitationInvalid):
        accept(after, now, digest=digest(1), email_key=OTHER_KEY)  # the old link stays dead


@pytest.mark.parametrize("status", [S.ACCEPTED, S.ACTIVE])
def test_reactivating_an_accepted_or_active_account_resumes_as_it_was(status):
    make, at = RECORDS[status]
    record = make()
    step = reactivate(deactivate(record, at).onboarding, at + DAY, DEFAULT, email_key=KEY)
    assert step.message is MessageKind.ACCOUNT_REACTIVATED
    assert step.onboarding.status is status
    assert step.onboarding == record


def test_a_deactivated_account_cannot_become_active_without_reactivation():
    record = deactivate(accepted(), T0 + 2 * HOUR).onboarding
    for move in (
        lambda: sign_in(record, T0 + 3 * HOUR, current_terms=None),
        lambda: accept_terms(record, T0 + 3 * HOUR, version=TERMS.version, current_terms=TERMS),
        lambda: password_changed(record, T0 + 3 * HOUR, current_terms=None),
    ):
        with pytest.raises(IllegalTransition) as caught:
            move()
        assert caught.value.params["status"] == "deactivated"


# -- the table: every refused move is IllegalTransition, as TRANSITIONS says -----------------------


def _attempt(command: Command, record: Onboarding, at: datetime):
    if command is Command.RESEND:
        return resend(record, at, DEFAULT, email_key=KEY)
    if command is Command.SIGN_IN:
        return sign_in(record, at, current_terms=None)
    if command is Command.ACCEPT_TERMS:
        return accept_terms(record, at, version=TERMS.version, current_terms=TERMS)
    if command is Command.CHANGE_PASSWORD:
        return password_changed(record, at, current_terms=None)
    if command is Command.DEACTIVATE:
        return deactivate(record, at)
    assert command is Command.REACTIVATE
    return reactivate(record, at, DEFAULT, email_key=KEY)


# An invitation whose deadline passed before the sweep: expired for every command.
CASES = {**RECORDS, "expired by time": (invited, T0 + 14 * DAY)}
RAISING = [
    Command.RESEND,
    Command.SIGN_IN,
    Command.ACCEPT_TERMS,
    Command.CHANGE_PASSWORD,
    Command.DEACTIVATE,
    Command.REACTIVATE,
]


@pytest.mark.parametrize("command", RAISING)
@pytest.mark.parametrize("case", list(CASES))
def test_each_command_applies_exactly_where_the_table_says(command, case):
    make, at = CASES[case]
    record = make()
    status = status_at(record, at)
    if status not in TRANSITIONS[command]:
        with pytest.raises(IllegalTransition) as caught:
            _attempt(command, record, at)
        assert caught.value.code == "onboarding.illegal_transition"
        assert caught.value.params == {
            "status": str(status),
            "command": str(command),
            "user_id": USER,
        }
        return
    step = _attempt(command, record, at)
    target = TRANSITIONS[command][status]
    if command is Command.REACTIVATE:
        assert step.onboarding.status is (record.resume or S.ACTIVE)
    elif command in {Command.SIGN_IN, Command.ACCEPT_TERMS, Command.CHANGE_PASSWORD}:
        assert step.onboarding.status in {status, target}
    else:
        assert step.onboarding.status is target
    if step.onboarding.status is not record.status:
        assert step.message is not None  # every change of status sends a message
    if command in {Command.RESEND, Command.DEACTIVATE, Command.REACTIVATE}:
        assert step.message is not None


@pytest.mark.parametrize(
    ("at", "command"), [(T0 + 3 * DAY, Command.REMIND), (T0 + 14 * DAY, Command.EXPIRE)]
)
def test_the_sweep_reminds_and_expires_as_the_table_says(at, command):
    record = ticked(invited(), at)
    assert record.status is TRANSITIONS[command][S.INVITED]


@pytest.mark.parametrize("case", list(CASES))
def test_accept_applies_exactly_where_the_table_says(case):
    make, at = CASES[case]
    record = make()
    status = status_at(record, at)
    live = linked(record, 7) if status is S.INVITED else record
    if status in TRANSITIONS[Command.ACCEPT]:
        step = accept(live, at, digest=digest(7), email_key=KEY)
        assert step.onboarding.status is TRANSITIONS[Command.ACCEPT][status]
    else:
        with pytest.raises(InvitationInvalid):
            accept(live, at, digest=digest(7), email_key=KEY)


def test_the_table_names_every_command_and_only_known_statuses():
    assert set(TRANSITIONS) == set(Command)
    for moves in TRANSITIONS.values():
        assert set(moves) <= set(S)
        assert set(moves.values()) <= set(S)
    assert set(TRANSITIONS[Command.DEACTIVATE]) == set(S) - {S.DEACTIVATED}


MOVES = ("tick", "resend", "mint", "accept", "sign_in", "terms", "password", "off", "on")


def _move(move: str, record: Onboarding, now: datetime, settings: InvitationSettings, link: int):
    """Apply one command; return its Step, or None when it does nothing."""
    if move == "tick":
        return tick(record, now, settings)
    if move == "mint":
        fresh = mint(record, now, settings, round=record.round, email_key=KEY, digest=digest(link))
        return None if fresh is None else Step(fresh)
    moves = {
        "resend": lambda: resend(record, now, settings, email_key=KEY),
        "accept": lambda: accept(record, now, digest=digest(link), email_key=KEY),
        "sign_in": lambda: sign_in(record, now, current_terms=TERMS),
        "terms": lambda: accept_terms(record, now, version=TERMS.version, current_terms=TERMS),
        "password": lambda: password_changed(record, now, current_terms=TERMS),
        "off": lambda: deactivate(record, now),
        "on": lambda: reactivate(record, now, settings, email_key=KEY),
    }
    return moves[move]()


def _check_record(record: Onboarding, settings: InvitationSettings) -> None:
    if record.status is S.INVITED:
        assert record.expires_at is not None
        assert record.sent_at is not None
        assert record.expires_at == record.sent_at + settings.expiry
        assert record.due_at is not None
        assert record.due_at <= record.expires_at
    else:
        assert record.token_digests == ()
        assert record.due_at is None
    assert len(record.token_digests) <= settings.live_links


@given(
    invitation_settings(),
    st.lists(st.tuples(st.sampled_from(MOVES), offsets(5 * DAY)), max_size=30),
    st.sampled_from(list(OnboardingMode)),
)
def test_random_histories_keep_the_invariants(settings, moves, mode):
    """Random commands at random times: refusals are coded, and the invariants hold."""
    record = invite(
        USER, ESTABLISHMENT, mode=mode, email_key=KEY, now=T0, settings=settings, invited_by=ADMIN
    ).onboarding
    now = T0
    minted = 0
    reminders_in_round = 0
    switched_off = False  # deactivated, and not reactivated since
    for move, delta in moves:
        now += delta
        minted += move == "mint"
        try:
            result = _move(move, record, now, settings, minted)
        except (IllegalTransition, InvitationInvalid, ResendThrottled) as refused:
            assert refused.code in {
                "onboarding.illegal_transition",
                "invitation.invalid",
                "invitation.resend_throttled",
            }
            continue
        if result is None:
            continue
        before, record = record, result.onboarding
        if record.round != before.round:
            reminders_in_round = 0
        reminders_in_round += result.message is MessageKind.INVITATION_REMINDER
        assert reminders_in_round <= len(settings.reminders)
        if record.status is S.DEACTIVATED or move == "on":
            switched_off = record.status is S.DEACTIVATED
        assert not (switched_off and record.status is S.ACTIVE)
        if before.status is not record.status:
            assert result.message is not None  # every change of status sends a message
        _check_record(record, settings)
