"""Onboarding records: how an account went from invited to active (D1, D2), and terms of use.

One :class:`Onboarding` per account, created with the account by
:meth:`~practiceid.OnboardingService.invite`. It holds the status the administrators see
(``invited``, ``accepted``, ``active``, ``expired``, ``deactivated``), the current invitation
round (its deadline, reminders, and the digests of the links sent in it), and which terms of
use the person accepted and when. The moves between statuses are pure functions in
:mod:`practiceid.policies.invitation`.

Invitation links carry a 256-bit random token; only its SHA-256 digest is stored here
(:attr:`Onboarding.token_digests`), never the token.

>>> from datetime import UTC, datetime
>>> from practiceid.establishments import EstablishmentId
>>> from practiceid.users import UserId
>>> sent = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
>>> onboarding = Onboarding.invite(
...     UserId("u-1"),
...     EstablishmentId("e-1"),
...     mode=OnboardingMode.INVITATION,
...     email_key="dr.peeters@example.org",
...     now=sent,
...     expires_at=datetime(2026, 3, 16, 9, 0, tzinfo=UTC),
...     due_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
... )
>>> onboarding.status, onboarding.round
(<OnboardingStatus.INVITED: 'invited'>, 1)
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

import attrs

from practiceid.establishments import EstablishmentId
from practiceid.users import UserId

__all__ = [
    "MessageKind",
    "Onboarding",
    "OnboardingMode",
    "OnboardingStatus",
    "TermsOfUse",
    "new_token",
    "token_digest",
]

TOKEN_BYTES = 32
"""Random bytes in an invitation token: 256 bits."""


class OnboardingStatus(enum.StrEnum):
    """Where an account stands in onboarding: the statuses of source 002 (D2)."""

    INVITED = "invited"
    """Invitation sent, not accepted yet ("Invitation envoyée")."""
    ACCEPTED = "accepted"
    """The password is set ("Invitation acceptée")."""
    ACTIVE = "active"
    """Signed in for the first time, terms of use accepted ("Actif")."""
    EXPIRED = "expired"
    """Not accepted before the deadline ("Invitation expirée")."""
    DEACTIVATED = "deactivated"
    """Deactivated from any status; reactivation resumes ("Désactivé")."""


class OnboardingMode(enum.StrEnum):
    """How a new account gets its first password: one state machine, three products (D1)."""

    INVITATION = "invitation"
    """An invitation e-mail with a link to set the password (hospital platform, source 002)."""
    WELCOME = "welcome"
    """A welcome e-mail with a link to set a temporary password, replaced at the first
    sign-in (dental centres, source 004)."""
    ADMINISTRATOR = "administrator"
    """The administrator sets the password; the e-mail carries no link (general practice,
    veterinary, source 003)."""

    @property
    def uses_link(self) -> bool:
        """True when the person sets their password through an e-mailed link."""
        return self is not OnboardingMode.ADMINISTRATOR


class MessageKind(enum.StrEnum):
    """What a message says. Notifiers choose a template by kind and locale."""

    INVITATION = "invitation"
    """Set your password with this link (D1, hospital). Carries a link."""
    WELCOME = "welcome"
    """Welcome; set a temporary password with this link (D1, dental). Carries a link."""
    INVITATION_REMINDER = "invitation_reminder"
    """Your invitation expires on ``expires_at`` (D2). Carries a link."""
    INVITATION_EXPIRED = "invitation_expired"
    """To the administrator who invited: the invitation expired unaccepted (D2)."""
    INVITATION_ACCEPTED = "invitation_accepted"
    """Your password is set (security notice)."""
    ACCOUNT_CREATED = "account_created"
    """An administrator created your account and set its password (D1, general practice)."""
    ACCOUNT_ACTIVATED = "account_activated"
    """First sign-in complete: the account is active (D2)."""
    ACCOUNT_DEACTIVATED = "account_deactivated"
    """Your account was deactivated (A6)."""
    ACCOUNT_REACTIVATED = "account_reactivated"
    """Your account was reactivated (A6)."""
    MEMBER_ADDED = "member_added"
    """An existing account was added to another establishment (C1): no new account."""
    LICENSE_REQUESTED = "license_requested"
    """To the vendor's license desk: activation requested with name, INAMI number and
    practice (E2). Sent when :class:`~practiceid.LicenseSettings` names a desk address."""
    LICENSE_ACTIVATED = "license_activated"
    """Your license is active until ``last_day`` (E2)."""
    LICENSE_EXPIRING = "license_expiring"
    """Your license (provisional or paid) ends after ``last_day`` (notices, E1, E2)."""
    LICENSE_EXPIRED = "license_expired"
    """Your license ended: records stay readable, signing and billing stop."""
    LICENSE_ACTIVATION_LATE = "license_activation_late"
    """To whoever requested it, and the desk: the activation is later than payment + one
    month (E2)."""

    @property
    def carries_link(self) -> bool:
        """True for the invitation, welcome and reminder e-mails."""
        return self in _LINKED


_LINKED = frozenset({MessageKind.INVITATION, MessageKind.WELCOME, MessageKind.INVITATION_REMINDER})


def _digests(values: Iterable[bytes]) -> tuple[bytes, ...]:
    return tuple(values)


def _times(values: Iterable[datetime]) -> tuple[datetime, ...]:
    return tuple(values)


@attrs.frozen
class Onboarding:
    """A user's onboarding: status, current invitation round, terms accepted (D1, D2).

    * ``establishment_id`` invited the user; its product chose the ``mode``. ``invited_by``
      is the administrator who did (told when the invitation expires), None for a record
      made for an account that predates onboarding.
    * ``round`` counts invitations sent (1 for the first, +1 per re-send or reactivation);
      ``sent_at`` is when the current round started, ``expires_at`` its deadline,
      ``reminders_sent`` how many reminders it sent, and ``due_at`` the next moment the sweep
      must look at it (a reminder or the deadline; None when nothing is scheduled).
    * ``token_digests`` are the SHA-256 digests of the links delivered in this round, minted
      by the dispatcher when it sends each e-mail. They die together: at acceptance, re-send,
      deactivation or expiry. Never in ``repr``.
    * ``email_key`` is the key of the address the round was sent to: a link works only while
      the account still has that address.
    * ``sends`` are the times of the invitations sent in the last 24 hours (the daily cap).
    * ``resume`` is the status to return to on reactivation.
    * ``signed_in_at`` is the first sign-in; ``terms_version`` / ``terms_accepted_at`` the
      last terms of use accepted; ``password_change_required`` is True while a temporary
      password (``WELCOME`` mode) has not been replaced.
    """

    user_id: UserId
    establishment_id: EstablishmentId
    mode: OnboardingMode
    status: OnboardingStatus
    created_at: datetime
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    due_at: datetime | None = None
    invited_by: UserId | None = None
    locale: str = "fr-BE"
    round: int = 0
    reminders_sent: int = 0
    token_digests: tuple[bytes, ...] = attrs.field(default=(), converter=_digests, repr=False)
    email_key: str = ""
    sends: tuple[datetime, ...] = attrs.field(default=(), converter=_times)
    resume: OnboardingStatus | None = None
    accepted_at: datetime | None = None
    signed_in_at: datetime | None = None
    activated_at: datetime | None = None
    terms_version: str | None = None
    terms_accepted_at: datetime | None = None
    password_change_required: bool = False
    version: int = 0

    @classmethod
    def invite(
        cls,
        user_id: UserId,
        establishment_id: EstablishmentId,
        *,
        mode: OnboardingMode,
        email_key: str,
        now: datetime,
        expires_at: datetime,
        due_at: datetime | None,
        invited_by: UserId | None = None,
        locale: str = "fr-BE",
    ) -> Onboarding:
        """Return the record of a first invitation sent ``now`` (round 1)."""
        return cls(
            user_id=user_id,
            establishment_id=establishment_id,
            mode=mode,
            status=OnboardingStatus.INVITED,
            created_at=now,
            sent_at=now,
            expires_at=expires_at,
            due_at=due_at,
            invited_by=invited_by,
            locale=locale,
            round=1,
            email_key=email_key,
            sends=(now,),
        )

    @classmethod
    def with_password(
        cls,
        user_id: UserId,
        establishment_id: EstablishmentId,
        *,
        mode: OnboardingMode,
        now: datetime,
        invited_by: UserId | None = None,
        locale: str = "fr-BE",
        email_key: str = "",
    ) -> Onboarding:
        """Return the record of an account whose password is already set (``ACCEPTED``)."""
        return cls(
            user_id=user_id,
            establishment_id=establishment_id,
            mode=mode,
            status=OnboardingStatus.ACCEPTED,
            created_at=now,
            invited_by=invited_by,
            locale=locale,
            email_key=email_key,
            accepted_at=now,
        )

    def holds(self, digest: bytes) -> bool:
        """True when ``digest`` is one of this round's live links (constant time)."""
        found = False
        for stored in self.token_digests:
            found |= hmac.compare_digest(stored, digest)
        return found


@attrs.frozen(order=True)
class TermsOfUse:
    """A published version of the terms of use (D2).

    ``version`` is the host's label (``"2026-03"``, ``"v4"``); the current version is the one
    published last. Accepting is recorded per account on its :class:`Onboarding`.
    """

    published_at: datetime
    version: str


def new_token() -> str:
    """Return a fresh invitation token: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: object) -> bytes:
    """Return the SHA-256 digest under which a token is stored and looked up.

    Anything that is not text hashes as the empty string, so a malformed link is looked up
    like any other and fails the same way. A fast hash is right here: the token has 256 bits
    of entropy, so nobody can guess it back from the digest, unlike a password.
    """
    text = token if isinstance(token, str) else ""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
