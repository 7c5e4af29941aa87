"""The invitation state machine (D1, D2): every move is a pure function of (record, command, now).

Nothing here reads a clock or storage. :class:`~practiceid.OnboardingService` loads the
:class:`~practiceid.Onboarding`, calls one of these functions with the time from its clock,
and stores the returned record together with the message the :class:`Step` names, in one unit
of work. A move that does not apply raises :class:`~practiceid.errors.IllegalTransition`; the
full table is in ``docs/onboarding.md`` and :data:`TRANSITIONS`.

Expiry is a function of time, not of the sweep: an invitation whose deadline passed is
``expired`` for every function here (:func:`status_at`) even before
:meth:`~practiceid.OnboardingService.run_due` stores it so.

>>> from datetime import UTC, datetime, timedelta
>>> from practiceid.establishments import EstablishmentId
>>> from practiceid.users import UserId
>>> settings = InvitationSettings()
>>> sent = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
>>> step = invite(
...     UserId("u-1"),
...     EstablishmentId("e-1"),
...     mode=OnboardingMode.INVITATION,
...     email_key="dr.peeters@example.org",
...     now=sent,
...     settings=settings,
... )
>>> step.onboarding.due_at - sent  # the first reminder
datetime.timedelta(days=3)
>>> tick(step.onboarding, sent + timedelta(days=3), settings).message
<MessageKind.INVITATION_REMINDER: 'invitation_reminder'>
>>> status_at(step.onboarding, sent + timedelta(days=14))
<OnboardingStatus.EXPIRED: 'expired'>
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from types import MappingProxyType

import attrs

from practiceid.errors import (
    IllegalTransition,
    InvalidConfiguration,
    InvitationInvalid,
    ResendThrottled,
    TermsNotCurrent,
)
from practiceid.establishments import EstablishmentId
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    TermsOfUse,
)
from practiceid.users import UserId

__all__ = [
    "TRANSITIONS",
    "Command",
    "InvitationSettings",
    "Step",
    "accept",
    "accept_terms",
    "deactivate",
    "invite",
    "mint",
    "missing_steps",
    "password_changed",
    "reactivate",
    "resend",
    "sign_in",
    "status_at",
    "tick",
]

_DAY = timedelta(days=1)
_MAX_REMINDERS = 5
_WINDOW = timedelta(hours=24)


class Command(enum.StrEnum):
    """The commands of the state machine, as named in ``IllegalTransition.params``."""

    REMIND = "remind"
    EXPIRE = "expire"
    RESEND = "resend"
    ACCEPT = "accept"
    SIGN_IN = "sign_in"
    ACCEPT_TERMS = "accept_terms"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 - a command name
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"


_S = OnboardingStatus
TRANSITIONS = MappingProxyType(
    {
        Command.REMIND: {_S.INVITED: _S.INVITED},
        Command.EXPIRE: {_S.INVITED: _S.EXPIRED},
        Command.RESEND: {_S.INVITED: _S.INVITED, _S.EXPIRED: _S.INVITED},
        Command.ACCEPT: {_S.INVITED: _S.ACCEPTED},
        Command.SIGN_IN: {_S.ACCEPTED: _S.ACTIVE, _S.ACTIVE: _S.ACTIVE},
        Command.ACCEPT_TERMS: {_S.ACCEPTED: _S.ACTIVE, _S.ACTIVE: _S.ACTIVE},
        Command.CHANGE_PASSWORD: {_S.ACCEPTED: _S.ACTIVE, _S.ACTIVE: _S.ACTIVE},
        Command.DEACTIVATE: {
            _S.INVITED: _S.DEACTIVATED,
            _S.ACCEPTED: _S.DEACTIVATED,
            _S.ACTIVE: _S.DEACTIVATED,
            _S.EXPIRED: _S.DEACTIVATED,
        },
        Command.REACTIVATE: {_S.DEACTIVATED: _S.INVITED},
    }
)
"""Command → {status it applies in: status it leads to at best}.

``sign_in``, ``accept_terms`` and ``change_password`` lead from ``accepted`` to ``active``
only once all three happened (first sign-in, current terms, no temporary password left);
``reactivate`` returns to the status held before deactivation, a new invitation round when
that was ``invited``. Anything not listed raises :class:`~practiceid.errors.IllegalTransition`.
"""


def _check_timedelta(field: str, value: object, low: timedelta, high: timedelta) -> timedelta:
    if not isinstance(value, timedelta) or not low <= value <= high:
        raise InvalidConfiguration(
            f"{field} must be a timedelta between {low} and {high}",
            field=field,
            minimum=str(low),
            maximum=str(high),
        )
    return value


def _reminder_offsets(values: Iterable[timedelta]) -> tuple[timedelta, ...]:
    try:
        return tuple(values)
    except TypeError:
        raise InvalidConfiguration(
            "reminders must be an iterable of timedelta", field="reminders"
        ) from None


@attrs.frozen(kw_only=True)
class InvitationSettings:
    """The periods of the invitation workflow, checked within bounds (D2).

    Args:
        expiry: how long an invitation round can be accepted (14 days; 1 hour to 90 days).
        reminders: when the automatic reminders go, counted from the round's start
            (3, 7 and 12 days). At most 5, increasing, at least 1 hour apart from the start
            and from each other, and before ``expiry``.
        resend_cooldown: the least time between two invitations of one account
            (2 minutes; 0 to 1 day).
        daily_cap: how many invitations one account may be sent in any 24 hours
            (5; 1 to 50), re-sends and reactivations included.
        live_links: how many links of one round work at once (8; 1 to 32): the invitation
            and each reminder carry a link, all valid until the round ends.

    Raises:
        InvalidConfiguration: a value out of bounds (``params``: ``field``, the bounds).
    """

    expiry: timedelta = timedelta(days=14)
    reminders: tuple[timedelta, ...] = attrs.field(
        default=(timedelta(days=3), timedelta(days=7), timedelta(days=12)),
        converter=_reminder_offsets,
    )
    resend_cooldown: timedelta = timedelta(minutes=2)
    daily_cap: int = 5
    live_links: int = 8

    def __attrs_post_init__(self) -> None:
        _check_timedelta("expiry", self.expiry, timedelta(hours=1), timedelta(days=90))
        _check_timedelta("resend_cooldown", self.resend_cooldown, timedelta(0), _DAY)
        for field, value, high in (
            ("daily_cap", self.daily_cap, 50),
            ("live_links", self.live_links, 32),
        ):
            checked: object = value
            if (
                isinstance(checked, bool)
                or not isinstance(checked, int)
                or not 1 <= checked <= high
            ):
                raise InvalidConfiguration(
                    f"{field} must be an integer from 1 to {high}",
                    field=field,
                    minimum=1,
                    maximum=high,
                )
        if len(self.reminders) > _MAX_REMINDERS:
            raise InvalidConfiguration(
                "at most 5 reminders",
                field="reminders",
                maximum=_MAX_REMINDERS,
                count=len(self.reminders),
            )
        previous = timedelta(0)
        for index, offset in enumerate(self.reminders):
            field = f"reminders[{index}]"
            _check_timedelta(field, offset, timedelta(hours=1), self.expiry - timedelta(hours=1))
            if offset - previous < timedelta(hours=1):
                raise InvalidConfiguration(
                    "reminders must be increasing, at least 1 hour apart",
                    field=field,
                    minimum=str(previous + timedelta(hours=1)),
                )
            previous = offset

    def due_at(self, sent_at: datetime, reminders_sent: int) -> datetime:
        """Return when a round started at ``sent_at`` next needs the sweep."""
        if reminders_sent < len(self.reminders):
            return sent_at + self.reminders[reminders_sent]
        return sent_at + self.expiry


@attrs.frozen
class Step:
    """What a move produced: the new record, and the message it sends (if any).

    Every change of status sends exactly one message, and so does a reminder; a move that
    changes no status (a later sign-in, terms accepted by an active user) sends none.
    """

    onboarding: Onboarding
    message: MessageKind | None = None


def status_at(onboarding: Onboarding, now: datetime) -> OnboardingStatus:
    """Return the status at ``now``: an invitation past its deadline is expired.

    The deadline itself is outside the round: a link works while ``now < expires_at``.
    """
    if (
        onboarding.status is OnboardingStatus.INVITED
        and onboarding.expires_at is not None
        and now >= onboarding.expires_at
    ):
        return OnboardingStatus.EXPIRED
    return onboarding.status


def _refuse(onboarding: Onboarding, command: Command, now: datetime) -> IllegalTransition:
    return IllegalTransition(
        status=str(status_at(onboarding, now)),
        command=str(command),
        user_id=onboarding.user_id,
    )


def _require(onboarding: Onboarding, command: Command, now: datetime) -> OnboardingStatus:
    status = status_at(onboarding, now)
    if status not in TRANSITIONS[command]:
        raise _refuse(onboarding, command, now)
    return status


def _invitation_kind(mode: OnboardingMode) -> MessageKind:
    return MessageKind.WELCOME if mode is OnboardingMode.WELCOME else MessageKind.INVITATION


def invite(
    user_id: UserId,
    establishment_id: EstablishmentId,
    *,
    mode: OnboardingMode,
    email_key: str,
    now: datetime,
    settings: InvitationSettings,
    invited_by: UserId | None = None,
    locale: str = "fr-BE",
) -> Step:
    """Start onboarding a new account in ``mode`` (D1).

    With a link (``INVITATION``, ``WELCOME``) the account is ``invited``, round 1, and the
    step sends the invitation or welcome e-mail. With ``ADMINISTRATOR`` the password is
    already set: the account is ``accepted`` and the step sends ``account_created``.
    """
    if not mode.uses_link:
        record = Onboarding.with_password(
            user_id,
            establishment_id,
            mode=mode,
            now=now,
            invited_by=invited_by,
            locale=locale,
            email_key=email_key,
        )
        return Step(record, MessageKind.ACCOUNT_CREATED)
    record = Onboarding.invite(
        user_id,
        establishment_id,
        mode=mode,
        email_key=email_key,
        now=now,
        expires_at=now + settings.expiry,
        due_at=settings.due_at(now, 0),
        invited_by=invited_by,
        locale=locale,
    )
    return Step(record, _invitation_kind(mode))


def tick(onboarding: Onboarding, now: datetime, settings: InvitationSettings) -> Step | None:
    """Return what the sweep does at ``now``: a reminder, the expiry, or nothing (None).

    A round sends at most ``len(settings.reminders)`` reminders: when the sweep was late and
    several are overdue, one is sent and the missed ones are skipped. Nothing happens after
    acceptance, expiry or deactivation. When the record is stored as expired, ``due_at`` is
    cleared.

    The round keeps the deadline it was sent with (``expires_at``), also when the settings
    changed since; a ``due_at`` the current settings no longer give is rescheduled (a step
    without message).
    """
    if onboarding.status is not OnboardingStatus.INVITED:
        return None
    if status_at(onboarding, now) is OnboardingStatus.EXPIRED:
        expired = attrs.evolve(
            onboarding, status=OnboardingStatus.EXPIRED, due_at=None, token_digests=()
        )
        return Step(expired, MessageKind.INVITATION_EXPIRED)
    assert onboarding.sent_at is not None  # noqa: S101 - every invited round has a start
    elapsed = now - onboarding.sent_at
    overdue = sum(1 for offset in settings.reminders if offset <= elapsed)
    if overdue <= onboarding.reminders_sent:
        due = _next_due(onboarding, settings, onboarding.reminders_sent)
        return None if due == onboarding.due_at else Step(attrs.evolve(onboarding, due_at=due))
    reminded = attrs.evolve(
        onboarding, reminders_sent=overdue, due_at=_next_due(onboarding, settings, overdue)
    )
    return Step(reminded, MessageKind.INVITATION_REMINDER)


def _next_due(
    onboarding: Onboarding, settings: InvitationSettings, reminders_sent: int
) -> datetime:
    """The next reminder of the round, or its own deadline, whichever comes first."""
    assert onboarding.sent_at is not None  # noqa: S101 - every invited round has a start
    assert onboarding.expires_at is not None  # noqa: S101
    if reminders_sent < len(settings.reminders):
        reminder = onboarding.sent_at + settings.reminders[reminders_sent]
        return min(reminder, onboarding.expires_at)
    return onboarding.expires_at


def _new_round(
    onboarding: Onboarding, now: datetime, settings: InvitationSettings, email_key: str
) -> Onboarding:
    recent = tuple(s for s in onboarding.sends if s > now - _WINDOW)
    return attrs.evolve(
        onboarding,
        status=OnboardingStatus.INVITED,
        round=onboarding.round + 1,
        sent_at=now,
        expires_at=now + settings.expiry,
        due_at=settings.due_at(now, 0),
        reminders_sent=0,
        token_digests=(),
        email_key=email_key,
        sends=(*recent, now),
        resume=None,
    )


def resend(
    onboarding: Onboarding, now: datetime, settings: InvitationSettings, *, email_key: str
) -> Step:
    """Re-send the invitation: a new round from ``now``, every earlier link dead at once (D2).

    The deadline is ``now + settings.expiry`` exactly, and the reminders start over.

    Raises:
        IllegalTransition: the invitation was accepted, or the account is deactivated.
        ResendThrottled: within ``resend_cooldown`` of the last invitation, or
            ``daily_cap`` invitations in the last 24 hours (``retry_after`` says when).
    """
    _require(onboarding, Command.RESEND, now)
    recent = sorted(s for s in onboarding.sends if s > now - _WINDOW)
    # Each limit says when it lets go; a re-send needs both, so retry_after is the later.
    limits = []
    if len(recent) >= settings.daily_cap:
        limits.append((recent[len(recent) - settings.daily_cap] + _WINDOW, "daily_cap"))
    if recent and now < recent[-1] + settings.resend_cooldown:
        limits.append((recent[-1] + settings.resend_cooldown, "cooldown"))
    if limits:
        retry_after, reason = max(limits)
        raise ResendThrottled(reason=reason, retry_after=retry_after, user_id=onboarding.user_id)
    return Step(_new_round(onboarding, now, settings, email_key), _invitation_kind(onboarding.mode))


def _same_key(stored: str, given: str) -> bool:
    """Compare two address keys in constant time; keys may hold any Unicode (EAI addresses).

    ``hmac.compare_digest`` refuses text that is not ASCII, so compare the UTF-8 bytes.
    """
    return hmac.compare_digest(
        stored.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def mint(
    onboarding: Onboarding,
    now: datetime,
    settings: InvitationSettings,
    *,
    round: int,  # noqa: A002 - the record's own name for it
    email_key: str,
    digest: bytes,
) -> Onboarding | None:
    """Add a link's digest to the round, or return None when the message is stale.

    Called by the dispatcher as it sends an e-mail that carries a link: the message was
    written for ``round`` and the address ``email_key``. When the round is over (accepted,
    re-sent, expired, deactivated) or the address changed since, nothing is minted and the
    message is not sent. Only the newest ``live_links`` links of the round stay valid.
    """
    if (
        status_at(onboarding, now) is not OnboardingStatus.INVITED
        or onboarding.round != round
        or not _same_key(onboarding.email_key, email_key)
    ):
        return None
    kept = (*onboarding.token_digests, digest)[-settings.live_links :]
    return attrs.evolve(onboarding, token_digests=kept)


def accept(onboarding: Onboarding | None, now: datetime, *, digest: bytes, email_key: str) -> Step:
    """Accept the invitation with a link: the password is set, every link dies (D2).

    ``onboarding`` is the record the link's digest found (None when none). In ``WELCOME``
    mode the password set this way is temporary: it must be changed at the first sign-in.

    Raises:
        InvitationInvalid: unknown, used, expired or revoked link, or the account's address
            changed since it was sent: one error, every condition evaluated every time.
    """
    if onboarding is None:
        # The same comparisons as below, on values that cannot match.
        hmac.compare_digest(digest, bytes(len(digest)))
        _same_key(email_key, "\x00")
        raise InvitationInvalid
    live = status_at(onboarding, now) is OnboardingStatus.INVITED
    held = onboarding.holds(digest)
    same_address = _same_key(onboarding.email_key, email_key)
    if not (live & held & same_address):
        raise InvitationInvalid
    accepted = attrs.evolve(
        onboarding,
        status=OnboardingStatus.ACCEPTED,
        accepted_at=now,
        due_at=None,
        token_digests=(),
        password_change_required=onboarding.mode is OnboardingMode.WELCOME,
    )
    return Step(accepted, MessageKind.INVITATION_ACCEPTED)


def missing_steps(onboarding: Onboarding, current_terms: TermsOfUse | None) -> tuple[str, ...]:
    """Return what the account must still do before it continues: ``password_change``, ``terms``.

    ``terms`` is missing while a published version is not the one last accepted, also for
    an active account after a new version is published (D2).
    """
    missing: list[str] = []
    if onboarding.password_change_required:
        missing.append("password_change")
    if current_terms is not None and onboarding.terms_version != current_terms.version:
        missing.append("terms")
    return tuple(missing)


def _settle(before: Onboarding, after: Onboarding, now: datetime, terms: TermsOfUse | None) -> Step:
    """Activate an accepted account once it signed in with nothing missing."""
    if (
        after.status is OnboardingStatus.ACCEPTED
        and after.signed_in_at is not None
        and not missing_steps(after, terms)
    ):
        after = attrs.evolve(after, status=OnboardingStatus.ACTIVE, activated_at=now)
    message = MessageKind.ACCOUNT_ACTIVATED if after.status is not before.status else None
    return Step(after, message)


def sign_in(onboarding: Onboarding, now: datetime, *, current_terms: TermsOfUse | None) -> Step:
    """Record a sign-in; the first one, with nothing missing, makes the account active (D2).

    Raises:
        IllegalTransition: the invitation was not accepted, or the account is deactivated.
    """
    _require(onboarding, Command.SIGN_IN, now)
    signed = (
        onboarding
        if onboarding.signed_in_at is not None
        else attrs.evolve(onboarding, signed_in_at=now)
    )
    return _settle(onboarding, signed, now, current_terms)


def accept_terms(
    onboarding: Onboarding, now: datetime, *, version: str, current_terms: TermsOfUse | None
) -> Step:
    """Record that the account accepted the current terms of use, and when (D2).

    Raises:
        TermsNotCurrent: ``version`` is not the current version (or none is published).
        IllegalTransition: the account is not accepted or active.
    """
    _require(onboarding, Command.ACCEPT_TERMS, now)
    if current_terms is None or version != current_terms.version:
        raise TermsNotCurrent(
            version=version, current=None if current_terms is None else current_terms.version
        )
    accepted = attrs.evolve(onboarding, terms_version=version, terms_accepted_at=now)
    return _settle(onboarding, accepted, now, current_terms)


def password_changed(
    onboarding: Onboarding, now: datetime, *, current_terms: TermsOfUse | None
) -> Step:
    """Record that the account replaced its password; a temporary password is then gone (D1).

    Raises:
        IllegalTransition: the account is not accepted or active.
    """
    _require(onboarding, Command.CHANGE_PASSWORD, now)
    changed = attrs.evolve(onboarding, password_change_required=False)
    return _settle(onboarding, changed, now, current_terms)


def deactivate(onboarding: Onboarding, now: datetime) -> Step:
    """Deactivate from any status; every link dies, no reminder follows (D2, A6).

    Raises:
        IllegalTransition: already deactivated.
    """
    status = _require(onboarding, Command.DEACTIVATE, now)
    stopped = attrs.evolve(
        onboarding,
        status=OnboardingStatus.DEACTIVATED,
        resume=status,
        due_at=None,
        token_digests=(),
    )
    return Step(stopped, MessageKind.ACCOUNT_DEACTIVATED)


def reactivate(
    onboarding: Onboarding, now: datetime, settings: InvitationSettings, *, email_key: str
) -> Step:
    """Return to the status held before deactivation (D2).

    An account deactivated while invited gets a new invitation round (its links died at
    deactivation); ``expired`` stays expired, to be re-sent; ``accepted`` and ``active``
    resume as they were.

    Raises:
        IllegalTransition: not deactivated.
    """
    _require(onboarding, Command.REACTIVATE, now)
    resume = onboarding.resume or OnboardingStatus.ACTIVE
    if resume is OnboardingStatus.INVITED:
        return Step(
            _new_round(onboarding, now, settings, email_key), _invitation_kind(onboarding.mode)
        )
    resumed = attrs.evolve(onboarding, status=resume, resume=None)
    return Step(resumed, MessageKind.ACCOUNT_REACTIVATED)
