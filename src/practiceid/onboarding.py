"""The onboarding service: invite, remind, re-send, accept, first sign-in, terms of use (D1, D2).

Every use case reads, decides with a pure function of :mod:`practiceid.policies.invitation`,
and writes the new :class:`~practiceid.Onboarding` *and the message it sends* to the outbox
in one unit of work. A :class:`~practiceid.outbox.Dispatcher` delivers the messages later, so
a failing mail server or a crash never loses one and never sends one twice.

Every command records one audit event (F3) in that same unit of work, or its refusal in a
unit of work of its own; the sweep records one event per record it changes.

>>> from practiceid import ProductKind
>>> from practiceid.testing import sample_onboarding
>>> practice = sample_onboarding(ProductKind.HOSPITAL)
>>> invited = practice.onboarding.invite(
...     actor=practice.owner.id,
...     establishment_id=practice.establishment.id,
...     email="n.dubois@hopital-exemple.fr",
...     first_name="Nadia",
...     last_name="Dubois",
... )
>>> invited.onboarding.status, invited.message.kind
(<OnboardingStatus.INVITED: 'invited'>, <MessageKind.INVITATION: 'invitation'>)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TypeVar, cast

import attrs

from practiceid.access import (
    AccessService,
    MemberAdded,
    _require_ids,
    _role_ids,
    clean_initials,
)
from practiceid.accounts import AccountService
from practiceid.audit import DetailValue
from practiceid.auditing import Auditor, ChainOrdered, NoRequestContext, audited
from practiceid.errors import (
    AccessRejected,
    AccountDeactivated,
    DuplicateEmail,
    DuplicateInitials,
    DuplicateLogin,
    DuplicateRecord,
    IllegalTransition,
    InvitationInvalid,
    Notice,
    OnboardingIncomplete,
    PasswordRejected,
    PracticeIdError,
    StaleRecord,
    StaleUser,
    UserNotFound,
    Violation,
)
from practiceid.establishments import EstablishmentId, ProductKind, RoleId
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    TermsOfUse,
    token_digest,
)
from practiceid.memberships import Membership
from practiceid.outbox import Message, MessageId, new_message_id
from practiceid.permissions import Permission
from practiceid.policies import invitation
from practiceid.policies.invitation import InvitationSettings, Step, status_at
from practiceid.ports.audit import RequestContext
from practiceid.ports.clock import Clock
from practiceid.ports.onboarding import OnboardingUnitOfWork, OnboardingUnitOfWorkFactory
from practiceid.users import User, UserId

__all__ = [
    "DEFAULT_LOCALES",
    "ONBOARDING_MODES",
    "InvitationView",
    "Invited",
    "MemberStatus",
    "OnboardingService",
    "SignIn",
    "SweepReport",
    "member_status",
]

ONBOARDING_MODES: Mapping[ProductKind, OnboardingMode] = MappingProxyType(
    {
        ProductKind.HOSPITAL: OnboardingMode.INVITATION,
        ProductKind.DENTAL: OnboardingMode.WELCOME,
        ProductKind.GENERAL_PRACTICE: OnboardingMode.ADMINISTRATOR,
        ProductKind.VETERINARY: OnboardingMode.ADMINISTRATOR,
    }
)
"""How each product's new accounts get their first password (D1; sources 002, 004, 001, 003)."""

DEFAULT_LOCALES: Mapping[ProductKind, str] = MappingProxyType(
    {
        ProductKind.HOSPITAL: "fr-FR",
        ProductKind.DENTAL: "fr-FR",
        ProductKind.GENERAL_PRACTICE: "fr-BE",
        ProductKind.VETERINARY: "fr-BE",
    }
)
"""The locale of each product's messages unless the invitation names another."""

_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")
_TERMS_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_T = TypeVar("_T")
_NO_USER = UserId("")  # an id no account has: looked up for a link that names none


@attrs.frozen
class Invited:
    """The result of :meth:`OnboardingService.invite`.

    ``onboarding`` is None when the address belonged to an account, which was attached to
    the establishment (C1): ``message`` is then the "you were added" notice.
    """

    member: MemberAdded
    onboarding: Onboarding | None
    message: Message

    @property
    def user(self) -> User:
        """The invited (or attached) account."""
        return self.member.user


@attrs.frozen
class InvitationView:
    """What an invitation link shows before it is accepted: opening it changes nothing."""

    user_id: UserId
    first_name: str
    last_name: str
    login: str
    email: str
    establishment: str
    mode: OnboardingMode
    expires_at: datetime


@attrs.frozen
class SignIn:
    """The result of :meth:`OnboardingService.sign_in`.

    ``missing`` lists what the person must do before they continue: ``"password_change"``
    (a temporary password, D1) and ``"terms"`` (accept ``terms``, the current version, D2).
    """

    user: User
    onboarding: Onboarding
    missing: tuple[str, ...] = ()
    terms: TermsOfUse | None = None

    @property
    def may_continue(self) -> bool:
        """True when nothing is missing."""
        return not self.missing


@attrs.frozen
class MemberStatus:
    """A member of an establishment with their onboarding status there (D2)."""

    user: User
    membership: Membership
    status: OnboardingStatus
    onboarding: Onboarding | None


@attrs.frozen
class SweepReport:
    """What one :meth:`OnboardingService.run_due` did, by user id."""

    reminded: tuple[UserId, ...] = ()
    expired: tuple[UserId, ...] = ()
    deactivated: tuple[UserId, ...] = ()

    @property
    def changed(self) -> int:
        """How many records the sweep changed."""
        return len(self.reminded) + len(self.expired) + len(self.deactivated)


def _rejected(field: str, code: str, message: str) -> AccessRejected:
    return AccessRejected([Violation(code, message, field)])


def _freeze_modes(
    modes: Mapping[ProductKind, OnboardingMode],
) -> Mapping[ProductKind, OnboardingMode]:
    return MappingProxyType(dict(modes))


def _freeze_locales(locales: Mapping[ProductKind, str]) -> Mapping[ProductKind, str]:
    return MappingProxyType(dict(locales))


def _legacy(user: User, now: datetime) -> Onboarding:
    """The record of an account made before onboarding existed: active, no terms accepted."""
    return Onboarding(
        user_id=user.id,
        establishment_id=EstablishmentId(""),
        mode=OnboardingMode.ADMINISTRATOR,
        status=OnboardingStatus.ACTIVE,
        created_at=now,
        email_key=user.email.key,
        signed_in_at=now,
        activated_at=now,
    )


def member_status(
    user: User, membership: Membership, onboarding: Onboarding | None, now: datetime
) -> OnboardingStatus:
    """Return the status an establishment shows for its member at ``now`` (D2).

    A deactivated account or membership is ``deactivated``; an account without a record
    (made before onboarding existed) is ``active``; an invitation past its deadline is
    ``expired`` even before the sweep stores it so.
    """
    if not user.is_active or not membership.is_active:
        return OnboardingStatus.DEACTIVATED
    if onboarding is None:
        return OnboardingStatus.ACTIVE
    return status_at(onboarding, now)


@attrs.frozen(kw_only=True)
class OnboardingService:
    """Use cases for onboarding (D1, D2, C1, A3). Build one per application; thread-safe.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.OnboardingUnitOfWork`.
        access: decides who may invite, re-send, deactivate (same store).
        accounts: checks passwords and signs in (same store).
        clock: the time of every transition.
        settings: expiry, reminders, re-send cooldown and daily cap.
        modes: product → :class:`~practiceid.OnboardingMode` (:data:`ONBOARDING_MODES`).
        locales: product → locale of its messages (:data:`DEFAULT_LOCALES`).
        retries: how many times a use case runs when a concurrent change made it stale.
        batch_size: records the sweep changes per unit of work.
        new_message_id: makes outbox message ids.
        request_context: the peer address and request id of the audit events (F3);
            :class:`~practiceid.auditing.NoRequestContext` by default. Give ``accounts``
            the same one.
    """

    unit_of_work: OnboardingUnitOfWorkFactory
    access: AccessService
    accounts: AccountService
    clock: Clock
    settings: InvitationSettings = attrs.field(factory=InvitationSettings)
    modes: Mapping[ProductKind, OnboardingMode] = attrs.field(
        default=ONBOARDING_MODES, converter=_freeze_modes
    )
    locales: Mapping[ProductKind, str] = attrs.field(
        default=DEFAULT_LOCALES, converter=_freeze_locales
    )
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    batch_size: int = attrs.field(default=500, validator=attrs.validators.in_(range(1, 10_001)))
    new_message_id: Callable[[], MessageId] = new_message_id
    request_context: RequestContext = attrs.field(factory=NoRequestContext)

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events (F3)."""
        return Auditor(self.clock, self.request_context)

    # -- running use cases ------------------------------------------------------------------

    def _run(self, use_case: Callable[[], _T]) -> _T:
        """Run ``use_case`` again when a concurrent change made its unit of work stale.

        Every use case reads, decides and writes in one unit of work, so a rerun decides
        afresh: a link accepted twice at once is accepted once, and the rerun of the other
        finds it used.
        """
        for _ in range(self.retries - 1):
            try:
                return use_case()
            except (StaleRecord, StaleUser):
                continue
            except DuplicateInitials as error:
                if "suggestion" in error.params:
                    raise
                continue
            except DuplicateRecord as error:
                # Two first sign-ins of an account made before onboarding both created its
                # record: the rerun reads the one that won.
                if error.params.get("entity") != "onboarding":
                    raise
                continue
        return use_case()

    def _message(
        self,
        kind: MessageKind,
        *,
        key: str,
        recipient: User,
        subject: User,
        locale: str,
        params: Mapping[str, str],
        link_round: int | None = None,
    ) -> Message:
        now = self.clock.now()
        return Message(
            id=self.new_message_id(),
            kind=kind,
            recipient=recipient.email.address,  # the stored, normalized address
            locale=locale,
            idempotency_key=key,
            created_at=now,
            next_attempt_at=now,
            params={
                "first_name": subject.first_name,
                "last_name": subject.last_name,
                "login": subject.login.display,
                **params,
            },
            user_id=subject.id,
            link_round=link_round if kind.carries_link else None,
        )

    def _write(
        self, uow: OnboardingUnitOfWork, step: Step, *, before: Onboarding | None
    ) -> tuple[Onboarding, Message | None]:
        """Store the step's record and the message it sends, in the caller's unit of work."""
        if before is None:
            uow.onboardings.add(step.onboarding)
            stored = step.onboarding
        elif step.onboarding == before:
            return before, None
        else:
            stored = uow.onboardings.update(step.onboarding)
        if step.message is None:
            return stored, None
        subject = uow.users.get(stored.user_id)
        recipient = subject
        if step.message is MessageKind.INVITATION_EXPIRED and stored.invited_by is not None:
            inviter = _find_user(uow, stored.invited_by)
            if inviter is not None and inviter.is_active:
                recipient = inviter
        params: dict[str, str] = {"establishment": self._establishment_name(uow, stored)}
        if stored.expires_at is not None and step.message.carries_link:
            params["expires_at"] = stored.expires_at.isoformat()
        message = self._message(
            step.message,
            key=f"onboarding:{stored.user_id}:v{stored.version}:{step.message}",
            recipient=recipient,
            subject=subject,
            locale=stored.locale,
            params=params,
            link_round=stored.round,
        )
        uow.outbox.add(message)
        return stored, message

    @staticmethod
    def _establishment_name(uow: OnboardingUnitOfWork, onboarding: Onboarding) -> str:
        if not onboarding.establishment_id:
            return ""
        return uow.establishments.get(onboarding.establishment_id).name

    # -- inviting (D1, C1) ------------------------------------------------------------------

    @audited("invitation.send")
    def invite(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        email: str,
        roles: Iterable[RoleId | str] = (),
        first_name: str = "",
        last_name: str = "",
        job_title: str = "",
        login: str | None = None,
        initials: str | None = None,
        locale: str | None = None,
        password: str | None = None,
        password_confirmation: str | None = None,
    ) -> Invited:
        """Add a member and start their onboarding the product's way (D1, D2, C1).

        A new address creates the account and, in the same unit of work, its onboarding
        record and first message:

        * ``INVITATION`` (hospital) and ``WELCOME`` (dental): the account is ``invited`` and
          an invitation or welcome e-mail with a link goes to the address; reminders and the
          deadline follow from :attr:`settings`.
        * ``ADMINISTRATOR`` (general practice, veterinary): ``password`` and its
          confirmation are required; the account is ``accepted`` and ``account_created``
          (no link, no password) goes to the address.

        An address that belongs to an account attaches that account (C1): no new account,
        no invitation, and a ``member_added`` notice instead. A password given then is
        ignored, with a ``member.password_ignored`` notice.

        Audited as ``invitation.send`` in the establishment's chain, also when an existing
        account is attached (``created_account`` false).

        Raises:
            PasswordRejected: ``password.required`` (administrator mode without one),
                ``password.not_expected`` (a link mode with one), or the policy's refusals.
            AccessRejected: ``onboarding.invalid_locale``.
            Everything :meth:`~practiceid.AccessService.add_member` raises.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        access = self.access
        address = access.email_policy.parse(email)
        role_ids = _role_ids(roles)
        wanted = None if initials is None else clean_initials(initials)
        if locale is not None and not _LOCALE.fullmatch(_text(locale)):
            raise _rejected("locale", "onboarding.invalid_locale", "locale must look like fr-BE")
        password_hash = None
        if password is not None:
            password_hash = self.accounts.new_password_hash(
                password,
                password_confirmation if isinstance(password_confirmation, str) else "",
                login=login if isinstance(login, str) else address.address,
                email=address.address,
                first_name=first_name,
                last_name=last_name,
            )
        profile = (first_name, last_name, job_title, login)

        def attempt() -> Invited:
            with self.unit_of_work() as uow:
                added, establishment = access.add_member_in(
                    uow,
                    actor=actor,
                    establishment_id=establishment_id,
                    address=address,
                    role_ids=role_ids,
                    profile=profile,
                    wanted=wanted,
                )
                chosen_locale = locale or self.locales.get(establishment.product, "fr-BE")
                if not added.created_user:
                    invited = self._attach(uow, added, establishment.name, chosen_locale, password)
                else:
                    invited = self._start(
                        uow,
                        added,
                        product=establishment.product,
                        locale=chosen_locale,
                        actor=actor,
                        password_hash=password_hash,
                    )
                self.auditor.record(
                    uow,
                    "invitation.send",
                    actor=actor,
                    establishment_id=establishment.id,
                    target_type="user",
                    target_id=invited.user.id,
                    details=_invited_details(invited, role_ids),
                )
                uow.commit()
            return invited

        def with_race() -> Invited:
            try:
                return attempt()
            except (DuplicateEmail, DuplicateLogin):
                return attempt()  # the account was created meanwhile: attach it (C1)

        return self._run(with_race)

    def _attach(
        self,
        uow: OnboardingUnitOfWork,
        added: MemberAdded,
        establishment: str,
        locale: str,
        password: str | None,
    ) -> Invited:
        user = added.user
        message = self._message(
            MessageKind.MEMBER_ADDED,
            key=f"membership:{added.membership.establishment_id}:{user.id}:added",
            recipient=user,
            subject=user,
            locale=locale,
            params={"establishment": establishment},
        )
        uow.outbox.add(message)
        if password is not None:
            notice = Notice(
                "member.password_ignored",
                "the address belongs to an account: its password was kept",
                "password",
            )
            added = attrs.evolve(added, notices=(*added.notices, notice))
        return Invited(added, None, message)

    def _start(
        self,
        uow: OnboardingUnitOfWork,
        added: MemberAdded,
        *,
        product: ProductKind,
        locale: str,
        actor: UserId,
        password_hash: str | None,
    ) -> Invited:
        mode = self.modes.get(product, OnboardingMode.INVITATION)
        user = added.user
        if mode.uses_link and password_hash is not None:
            raise PasswordRejected(
                [
                    Violation(
                        "password.not_expected",
                        "this product's members set their own password from a link",
                        "password",
                    )
                ]
            )
        if not mode.uses_link:
            if password_hash is None:
                raise PasswordRejected(
                    [Violation("password.required", "set the member's password", "password")]
                )
            user = uow.users.update(user.with_password_hash(password_hash))
        step = invitation.invite(
            user.id,
            added.membership.establishment_id,
            mode=mode,
            email_key=user.email.key,
            now=self.clock.now(),
            settings=self.settings,
            invited_by=actor,
            locale=locale,
        )
        stored, message = self._write(uow, step, before=None)
        assert message is not None  # noqa: S101 - every first step sends
        return Invited(attrs.evolve(added, user=user), stored, message)

    @audited("invitation.resend")
    def resend(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> Onboarding:
        """Re-send the invitation in one click: new link, old links dead, deadline from now (D2).

        Needs ``users.create`` in an establishment the account belongs to. Audited as
        ``invitation.resend`` in that establishment's chain.

        Raises:
            PermissionDenied, MembershipNotFound, OnboardingNotFound.
            IllegalTransition: accepted, active or deactivated.
            ResendThrottled: cooldown or daily cap (``retry_after``).
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)

        def attempt() -> Onboarding:
            with self.unit_of_work() as uow:
                self.access.authorize(
                    uow,
                    actor=actor,
                    establishment_id=establishment_id,
                    permission=Permission.USERS_CREATE,
                )
                uow.memberships.get(establishment_id, user_id)
                before = uow.onboardings.get(user_id)
                user = uow.users.get(user_id)
                now = self.clock.now()
                if not user.is_active:
                    raise IllegalTransition(
                        status=str(OnboardingStatus.DEACTIVATED),
                        command=str(invitation.Command.RESEND),
                        user_id=user_id,
                    )
                step = invitation.resend(before, now, self.settings, email_key=user.email.key)
                stored, _ = self._write(uow, step, before=before)
                self.auditor.record(
                    uow,
                    "invitation.resend",
                    actor=actor,
                    establishment_id=establishment_id,
                    target_type="user",
                    target_id=user_id,
                    details=_onboarding_details(stored),
                )
                uow.commit()
            return stored

        return self._run(attempt)

    # -- the invitation link ------------------------------------------------------------------

    def _check_link(self, uow: OnboardingUnitOfWork, token: object) -> tuple[Onboarding, User]:
        """Return the record and account a link opens, or raise InvitationInvalid.

        Every path hashes the token, makes the same two indexed look-ups (the link, then an
        account: the link's, or an id no account has) and evaluates every condition, so
        unknown, used, expired and revoked links fail alike. A used or revoked link's digest
        is gone from storage, so it is found no more than an unknown one.
        """
        digest = token_digest(token)
        onboarding = uow.onboardings.find_by_token(digest)
        user = _find_user(uow, onboarding.user_id if onboarding is not None else _NO_USER)
        email_key = user.email.key if user is not None and user.is_active else ""
        invitation.accept(onboarding, self.clock.now(), digest=digest, email_key=email_key)
        assert onboarding is not None  # noqa: S101 - accept raised otherwise
        assert user is not None  # noqa: S101
        return onboarding, user

    def open(self, token: str) -> InvitationView:
        """Show what an invitation link is for, without using it up (D2).

        Mail scanners follow links: opening changes nothing. Acceptance is
        :meth:`accept`, an explicit step.

        Raises:
            InvitationInvalid: unknown, used, expired or revoked link (one error for all).
        """
        with self.unit_of_work() as uow:
            onboarding, user = self._check_link(uow, token)
            establishment = self._establishment_name(uow, onboarding)
        assert onboarding.expires_at is not None  # noqa: S101 - a live link has a deadline
        return InvitationView(
            user_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            login=user.login.display,
            email=user.email.address,
            establishment=establishment,
            mode=onboarding.mode,
            expires_at=onboarding.expires_at,
        )

    def accept(self, token: str, *, password: str, password_confirmation: str) -> User:
        """Accept the invitation: set the password; the link, and every other, dies (D2).

        In ``WELCOME`` mode the password is temporary: :meth:`sign_in` then asks for a new
        one (``password_change``).

        Audited as ``invitation.accept``, the account acting on itself, in the invitation's
        establishment. A refused link is recorded alike for every reason, without actor,
        target or token; a refusal once the link opened names the account.

        Raises:
            InvitationInvalid: unknown, used, expired or revoked link (one error for all).
            PasswordRejected: the password breaks the policy (A4); the link still works.
        """
        opened: Onboarding | None = None
        try:
            with self.unit_of_work() as uow:
                opened, user = self._check_link(uow, token)
            return self._accept(user, token, password, password_confirmation)
        except PracticeIdError as error:
            if opened is None or isinstance(error, InvitationInvalid):
                self.auditor.refused(self.unit_of_work, "invitation.accept", error)
            else:
                self.auditor.refused(
                    self.unit_of_work,
                    "invitation.accept",
                    error,
                    actor=opened.user_id,
                    establishment_id=opened.establishment_id,
                    target_type="user",
                    target_id=opened.user_id,
                )
            raise

    def _accept(self, user: User, token: str, password: str, password_confirmation: str) -> User:
        password_hash = self.accounts.new_password_hash(  # slow: outside the transaction
            password,
            password_confirmation,
            login=user.login.display,
            email=user.email.address,
            first_name=user.first_name,
            last_name=user.last_name,
        )

        def attempt() -> User:
            with self.unit_of_work() as uow:
                before, current = self._check_link(uow, token)
                step = invitation.accept(
                    before,
                    self.clock.now(),
                    digest=token_digest(token),
                    email_key=current.email.key,
                )
                stored_user = uow.users.update(current.with_password_hash(password_hash))
                stored, _ = self._write(uow, step, before=before)
                self.auditor.record(
                    uow,
                    "invitation.accept",
                    actor=current.id,
                    establishment_id=stored.establishment_id,
                    target_type="user",
                    target_id=current.id,
                    details=_onboarding_details(stored),
                )
                uow.commit()
            return stored_user

        return self._run(attempt)

    # -- signing in and terms of use ------------------------------------------------------

    def sign_in(self, login: str, password: str) -> SignIn:
        """Authenticate, and record the first sign-in that makes the account active (D2).

        The result says what is ``missing`` before the person may continue: accepting the
        current terms of use (again, after a new version is published), or replacing a
        temporary password. Check :attr:`SignIn.may_continue`, or guard each request with
        :meth:`require_onboarded`.

        Audited as ``account.sign_in`` (one event, not also ``account.authenticate``), with
        the account as actor and what is ``missing``; a refusal as
        :meth:`~practiceid.AccountService.authenticate` records one: without actor, naming
        the account only when the login exists.

        Raises:
            AuthenticationFailed, AccountDeactivated, ClinicLoginOnly: as
                :meth:`~practiceid.AccountService.authenticate`.
            IllegalTransition: the account has a password but its invitation was never
                accepted (a password written around practiceid).
        """
        user = self.accounts._authenticate(  # noqa: SLF001 - the success is recorded below
            login, password, action="account.sign_in", auditor=self.auditor
        )

        def attempt() -> SignIn:
            with self.unit_of_work() as uow:
                now = self.clock.now()
                terms = uow.terms.current()
                before = uow.onboardings.find(user.id)
                if before is None:
                    before = _legacy(user, now)
                    uow.onboardings.add(before)
                if status_at(before, now) is OnboardingStatus.DEACTIVATED:
                    raise AccountDeactivated(user_id=user.id)
                step = invitation.sign_in(before, now, current_terms=terms)
                stored, _ = self._write(uow, step, before=before)
                missing = invitation.missing_steps(stored, terms)
                self.auditor.record(
                    uow,
                    "account.sign_in",
                    actor=user.id,
                    target_type="user",
                    target_id=user.id,
                    details={"status": str(stored.status), "missing": ",".join(missing)},
                )
                uow.commit()
            return SignIn(user, stored, missing, terms if "terms" in missing else None)

        try:
            return self._run(attempt)
        except PracticeIdError as error:
            self.auditor.refused(
                self.unit_of_work, "account.sign_in", error, target_type="user", target_id=user.id
            )
            raise

    @audited("terms.accept", actor="user_id")
    def accept_terms(self, *, user_id: UserId, version: str) -> Onboarding:
        """Record that the signed-in account accepted this version of the terms (D2).

        Call it for the account of the current session only. Accepting the current version
        after the first sign-in makes an accepted account active. Audited as
        ``terms.accept``, the account acting on itself, also when it had accepted already.

        Raises:
            TermsNotCurrent: not the current version.
            OnboardingNotFound, IllegalTransition (also for an account deactivated around
                this service: ``status`` is ``deactivated``).
        """
        _require_ids(user_id=user_id)

        def attempt() -> Onboarding:
            with self.unit_of_work() as uow:
                before = uow.onboardings.get(user_id)
                _require_active(uow.users.get(user_id), invitation.Command.ACCEPT_TERMS)
                step = invitation.accept_terms(
                    before,
                    self.clock.now(),
                    version=version,
                    current_terms=uow.terms.current(),
                )
                stored, _ = self._write(uow, step, before=before)
                self.auditor.record(
                    uow,
                    "terms.accept",
                    actor=user_id,
                    target_type="user",
                    target_id=user_id,
                    details={"version": stored.terms_version, "status": str(stored.status)},
                )
                uow.commit()
            return stored

        return self._run(attempt)

    @audited("account.change_password", actor="user_id")
    def change_password(
        self,
        *,
        user_id: UserId,
        current_password: str,
        new_password: str,
        new_password_confirmation: str,
    ) -> Onboarding:
        """Change one's password; a temporary password (``WELCOME`` mode) is then gone (D1).

        Audited as ``account.change_password``, once, in the unit of work that stores the
        new password.

        Raises:
            As :meth:`~practiceid.AccountService.change_password`.
            IllegalTransition: the account is deactivated, or its invitation was never
                accepted; checked before the password changes.
        """
        _require_ids(user_id=user_id)
        with self.unit_of_work() as uow:
            _require_active(uow.users.get(user_id), invitation.Command.CHANGE_PASSWORD)
            found = uow.onboardings.find(user_id)
            if found is not None:  # refuse now rather than after the password changed
                invitation.password_changed(found, self.clock.now(), current_terms=None)
        user = self.accounts._change_password(  # noqa: SLF001 - its refusal is recorded here
            user_id=user_id,
            current_password=current_password,
            new_password=new_password,
            new_password_confirmation=new_password_confirmation,
            auditor=self.auditor,
        )

        def attempt() -> Onboarding:
            with self.unit_of_work() as uow:
                now = self.clock.now()
                before = uow.onboardings.find(user_id)
                if before is None:  # an account made before onboarding existed, as sign_in
                    before = _legacy(user, now)
                    uow.onboardings.add(before)
                step = invitation.password_changed(before, now, current_terms=uow.terms.current())
                stored, _ = self._write(uow, step, before=before)
                uow.commit()
            return stored

        return self._run(attempt)

    def require_onboarded(self, user_id: UserId) -> None:
        """Raise unless the account may continue: a guard for each request (D2).

        Raises:
            OnboardingIncomplete: ``missing`` says what to do (``terms``,
                ``password_change``), ``terms_version`` which version to accept.
            AccessRejected: ``user_id.invalid_id`` (not text).
        """
        _require_ids(user_id=user_id)
        with self.unit_of_work() as uow:
            onboarding = uow.onboardings.find(user_id)
            terms = uow.terms.current()
        if onboarding is None:
            missing: tuple[str, ...] = () if terms is None else ("terms",)
        else:
            missing = invitation.missing_steps(onboarding, terms)
        if missing:
            raise OnboardingIncomplete(
                user_id=user_id,
                missing=missing,
                terms_version=None if terms is None else terms.version,
            )

    def publish_terms(self, version: str) -> TermsOfUse:
        """Publish a new version of the terms of use, effective now (D2).

        Every account must accept it at its next sign-in before it continues. A vendor's
        act: call it from a deployment or an admin tool, not from a practice's request.
        Audited as ``terms.publish``, without actor (the service has none to name).

        Raises:
            AccessRejected: ``terms.invalid_version`` (1 to 64 letters, digits, ``.``,
                ``_``, ``:``, ``-``).
            DuplicateRecord: the version was published before.
        """
        valid = bool(_TERMS_VERSION.fullmatch(_text(version)))
        try:
            if not valid:
                raise _rejected(
                    "version", "terms.invalid_version", "a version is 1 to 64 letters or digits"
                )
            return self._publish_terms(version)
        except PracticeIdError as error:
            self.auditor.refused(
                self.unit_of_work,
                "terms.publish",
                error,
                target_type="terms",
                target_id=version if valid else None,
            )
            raise

    def _publish_terms(self, version: str) -> TermsOfUse:
        with self.unit_of_work() as uow:
            current = uow.terms.current()
            now = self.clock.now()
            if current is not None and now <= current.published_at:
                # The version published last is current, also when the clock stood still
                # or went back: a tie would go to the greatest version instead.
                now = current.published_at + timedelta(microseconds=1)
            terms = TermsOfUse(published_at=now, version=version)
            uow.terms.publish(terms)
            self.auditor.record(
                uow,
                "terms.publish",
                target_type="terms",
                target_id=version,
                details={"published_at": terms.published_at.isoformat()},
            )
            uow.commit()
        return terms

    def current_terms(self) -> TermsOfUse | None:
        """Return the current version of the terms of use, if one is published."""
        with self.unit_of_work() as uow:
            return uow.terms.current()

    # -- deactivation (A6, D2) ------------------------------------------------------------

    @audited("account.deactivate")
    def deactivate(self, *, actor: UserId, user_id: UserId) -> Onboarding:
        """Deactivate the account and stop its onboarding: links die, no more reminders.

        The rules of :meth:`~practiceid.AccessService.deactivate_user` apply. Audited as
        ``account.deactivate``, also when the account was deactivated already.
        """
        return self._set_status(actor, user_id, active=False)

    @audited("account.reactivate")
    def reactivate(self, *, actor: UserId, user_id: UserId) -> Onboarding:
        """Reactivate the account; onboarding resumes where it was (a new link if invited).

        The rules of :meth:`~practiceid.AccessService.reactivate_user` apply. Audited as
        ``account.reactivate``, also when the account was active already.
        """
        return self._set_status(actor, user_id, active=True)

    def _set_status(self, actor: UserId, user_id: UserId, *, active: bool) -> Onboarding:
        _require_ids(actor=actor, user_id=user_id)

        def attempt() -> Onboarding:
            with self.unit_of_work() as uow:
                user = self.access.set_user_status_in(uow, actor, user_id, active=active)
                now = self.clock.now()
                before = uow.onboardings.find(user_id)
                if before is None:
                    before = _legacy(user, now)
                    uow.onboardings.add(before)
                status = status_at(before, now)
                if active and status is not OnboardingStatus.DEACTIVATED:
                    stored = before  # the account was deactivated around practiceid's services
                elif not active and status is OnboardingStatus.DEACTIVATED:
                    stored = before
                elif active:
                    step = invitation.reactivate(
                        before, now, self.settings, email_key=user.email.key
                    )
                    stored, _ = self._write(uow, step, before=before)
                else:
                    stored, _ = self._write(uow, invitation.deactivate(before, now), before=before)
                self.auditor.record(
                    uow,
                    "account.reactivate" if active else "account.deactivate",
                    actor=actor,
                    target_type="user",
                    target_id=user_id,
                    details=_onboarding_details(stored),
                )
                uow.commit()
            return stored

        return self._run(attempt)

    # -- reading ----------------------------------------------------------------------------

    def onboarding_of(self, user_id: UserId) -> Onboarding | None:
        """Return the account's onboarding record, if it has one."""
        with self.unit_of_work() as uow:
            return uow.onboardings.find(user_id)

    def members(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        status: OnboardingStatus | str | None = None,
    ) -> Sequence[MemberStatus]:
        """List the establishment's members with their onboarding status, or only one status.

        The statuses of source 002's filter (D2), as of now. Needs ``users.view``.

        Raises:
            PermissionDenied, EstablishmentNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        wanted = None
        if status is not None:
            try:  # the enum, or its value as a filter form sends it ("expired")
                wanted = OnboardingStatus(status)
            except ValueError:
                raise _rejected(
                    "status", "onboarding.invalid_status", "unknown onboarding status"
                ) from None
        now = self.clock.now()
        with self.unit_of_work() as uow:
            self.access.authorize(
                uow,
                actor=actor,
                establishment_id=establishment_id,
                permission=Permission.USERS_VIEW,
            )
            listed = []
            for membership in uow.memberships.list_for_establishment(establishment_id):
                user = uow.users.get(membership.user_id)
                onboarding = uow.onboardings.find(membership.user_id)
                shown = member_status(user, membership, onboarding, now)
                if wanted is None or shown is wanted:
                    listed.append(MemberStatus(user, membership, shown, onboarding))
        return listed

    # -- the sweep ----------------------------------------------------------------------------

    def run_due(self, now: datetime | None = None) -> SweepReport:
        """Send due reminders and expire lapsed invitations; return what changed (D2).

        Idempotent: a second run at the same time changes nothing. Costs in proportion to
        what is due (an indexed query on ``due_at``), and several workers can run it at once:
        each unit of work holds the records it takes, and the others skip them. An account
        deactivated around this service is deactivated here instead of reminded.

        Each record changed is audited, without actor, in the unit of work that changes it:
        ``invitation.remind``, ``invitation.expire`` or ``onboarding.deactivate``, in the
        invitation's establishment. A mere rescheduling records nothing.
        """
        at = self.clock.now() if now is None else now
        reminded: list[UserId] = []
        expired: list[UserId] = []
        deactivated: list[UserId] = []
        buckets = {
            "invitation.remind": reminded,
            "invitation.expire": expired,
            "onboarding.deactivate": deactivated,
        }
        while True:
            with self.unit_of_work() as stored_uow:
                # Events appended chain by chain at the end: no deadlock with a concurrent
                # sweep that writes the same establishments' chains in another order.
                ordered = ChainOrdered(stored_uow)
                uow = cast("OnboardingUnitOfWork", ordered)
                due = list(uow.onboardings.claim_due(now=at, limit=self.batch_size))
                for before in due:
                    action = self._sweep(uow, before, at)
                    if action is not None:
                        buckets[action].append(before.user_id)
                ordered.flush()
                stored_uow.commit()
            if len(due) < self.batch_size:
                break
        return SweepReport(tuple(reminded), tuple(expired), tuple(deactivated))

    def _sweep(self, uow: OnboardingUnitOfWork, before: Onboarding, at: datetime) -> str | None:
        """Take one due record's step and record it; return its action (None: rescheduled)."""
        user = _find_user(uow, before.user_id)
        if user is None or not user.is_active:
            step: Step | None = invitation.deactivate(before, at)
            action = "onboarding.deactivate"
        else:
            step = invitation.tick(before, at, self.settings)
            expiring = step is not None and step.message is MessageKind.INVITATION_EXPIRED
            action = "invitation.expire" if expiring else "invitation.remind"
        if step is None:  # nothing due after all: never look at it again early
            self._write(uow, Step(attrs.evolve(before, due_at=None)), before=before)
            return None
        stored, _ = self._write(uow, step, before=before)
        if step.message is None:  # a mere rescheduling
            return None
        self.auditor.record(
            uow,
            action,
            establishment_id=stored.establishment_id,
            target_type="user",
            target_id=stored.user_id,
            details=_onboarding_details(stored),
        )
        return action


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _onboarding_details(onboarding: Onboarding) -> dict[str, DetailValue]:
    """What an audit event tells of an onboarding record: never a token or an address."""
    return {
        "status": str(onboarding.status),
        "mode": str(onboarding.mode),
        "round": onboarding.round,
    }


def _invited_details(invited: Invited, role_ids: frozenset[RoleId]) -> dict[str, DetailValue]:
    """What ``invitation.send`` tells: the roles given, the account's creation, the message."""
    details: dict[str, DetailValue] = {
        "created_account": invited.member.created_user,
        "roles": ",".join(sorted(role_ids)),
        "message": str(invited.message.kind),
    }
    if invited.onboarding is not None:
        details.update(_onboarding_details(invited.onboarding))
    return details


def _require_active(user: User, command: invitation.Command) -> None:
    """Refuse a step of an account deactivated around this service (A6)."""
    if not user.is_active:
        raise IllegalTransition(
            status=str(OnboardingStatus.DEACTIVATED), command=str(command), user_id=user.id
        )


def _find_user(uow: OnboardingUnitOfWork, user_id: UserId) -> User | None:
    try:
        return uow.users.get(user_id)
    except UserNotFound:
        return None
