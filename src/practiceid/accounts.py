"""The account service: register users, authenticate them, change logins, e-mails, passwords.

The service validates input with the policies, hashes outside any transaction, and leaves
uniqueness to the repository's atomic contract (A1, A2): it never checks and then inserts.
Every command records one audit event (F3): its success in its own unit of work, a refusal
in one of its own (:mod:`practiceid.auditing`).

>>> from practiceid.adapters import InMemoryStore, StaticAuthorizer
>>> from practiceid.testing import ManualClock, fast_hasher
>>> accounts = AccountService(
...     unit_of_work=InMemoryStore().unit_of_work,
...     hasher=fast_hasher(),
...     clock=ManualClock(),
...     authorizer=StaticAuthorizer(),
... )
>>> registration = accounts.register(
...     login="dr.dupont",
...     email="Dr.Dupont@Cabinet-Dupont.be",
...     password="Vrai-Cheval-Agrafe-42",
...     password_confirmation="Vrai-Cheval-Agrafe-42",
...     first_name="Jeanne",
...     last_name="Dupont",
... )
>>> registration.user.email.address
'Dr.Dupont@cabinet-dupont.be'
>>> accounts.authenticate("DR.DUPONT", "Vrai-Cheval-Agrafe-42").id == registration.user.id
True
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import attrs

from practiceid.auditing import Auditor, NoRequestContext, audited
from practiceid.errors import (
    AccountDeactivated,
    AuthenticationFailed,
    ClinicLoginOnly,
    Notice,
    PasswordMismatch,
    PracticeIdError,
    Rejected,
    StaleUser,
    UnsupportedPasswordHash,
    UserNotFound,
)
from practiceid.policies.email import EmailPolicy
from practiceid.policies.login import Login, LoginPolicy
from practiceid.policies.password import PasswordContext, PasswordPolicy
from practiceid.ports.audit import RequestContext
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.users import UnitOfWorkFactory
from practiceid.users import AccountKind, User, UserId, clean_profile, new_user_id

__all__ = ["AccountService", "EmailChange", "Registration"]

_T = TypeVar("_T")


@attrs.frozen
class Registration:
    """A registered user, and advice the host may show (a generic e-mail address, A3)."""

    user: User
    notices: tuple[Notice, ...] = ()


@attrs.frozen
class EmailChange:
    """A user whose e-mail address changed, and advice about the new address."""

    user: User
    notices: tuple[Notice, ...] = ()


@attrs.frozen(kw_only=True)
class AccountService:
    """Use cases for accounts. Build one per application and share it across threads.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.UnitOfWork` per call.
        hasher: stores and checks passwords (:class:`~practiceid.Argon2idHasher`).
        clock: the time (creation dates, and recent years for the strength check).
        authorizer: decides privileged acts such as changing an e-mail address (A5).
        login_policy, email_policy, password_policy: the product's rules.
        practice_name: the practice or product name, given to zxcvbn as known words.
        new_id: makes ids for new users (UUID4 strings by default).
        request_context: the peer address and request id of the audit events (F3);
            :class:`~practiceid.auditing.NoRequestContext` by default.
    """

    unit_of_work: UnitOfWorkFactory
    hasher: PasswordHasher
    clock: Clock
    authorizer: Authorizer
    login_policy: LoginPolicy = attrs.field(factory=LoginPolicy)
    email_policy: EmailPolicy = attrs.field(factory=EmailPolicy)
    password_policy: PasswordPolicy = attrs.field(factory=PasswordPolicy)
    practice_name: str = ""
    new_id: Callable[[], UserId] = new_user_id
    request_context: RequestContext = attrs.field(factory=NoRequestContext)
    _dummy_hash: list[str] = attrs.field(init=False, factory=list, repr=False)
    _dummy_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events (F3)."""
        return Auditor(self.clock, self.request_context)

    # -- registration ---------------------------------------------------------------------

    @audited("account.register")
    def register(
        self,
        *,
        login: str,
        email: str,
        password: str,
        password_confirmation: str,
        first_name: str,
        last_name: str,
        job_title: str = "",
        practice_name: str | None = None,
    ) -> Registration:
        """Create an active user with a password (A1-A4).

        Audited as ``account.register``, the new user acting on themself (F3).

        Raises:
            Rejected: one or more fields break a policy; every violation of every field is
                reported at once. When a single field is wrong the subclass names it
                (:class:`~practiceid.errors.PasswordRejected`, …).
            DuplicateLogin, DuplicateEmail: the login or address belongs to another user.
        """
        errors: list[Rejected] = []
        parsed_login = _collect(errors, lambda: self.login_policy.parse(login))
        parsed_email = _collect(errors, lambda: self.email_policy.parse(email))
        profile = _collect(
            errors,
            lambda: clean_profile(first_name=first_name, last_name=last_name, job_title=job_title),
        )
        context = self._password_context(
            login=login,
            email=email,
            first_name=first_name,
            last_name=last_name,
            practice_name=self.practice_name if practice_name is None else practice_name,
        )
        _collect(
            errors,
            lambda: self.password_policy.validate(
                password, confirmation=password_confirmation, context=context
            ),
        )
        if errors:
            raise Rejected.combine(errors)
        assert parsed_login is not None  # noqa: S101 - no error means every field parsed
        assert parsed_email is not None  # noqa: S101
        assert profile is not None  # noqa: S101
        first, last, title = profile
        user = User(
            id=self.new_id(),
            login=parsed_login,
            email=parsed_email,
            first_name=first,
            last_name=last,
            job_title=title,
            created_at=self.clock.now(),
            password_hash=self.hasher.hash(password),  # slow: before the transaction
        )
        with self.unit_of_work() as uow:
            uow.users.add(user)
            self.auditor.record(
                uow, "account.register", actor=user.id, target_type="user", target_id=user.id
            )
            uow.commit()
        return Registration(user, self.email_policy.notices(parsed_email))

    # -- authentication -------------------------------------------------------------------

    def authenticate(self, login: str, password: str) -> User:
        """Return the user whose login and password these are.

        Audited as ``account.authenticate`` (F3): a success with the user as actor; a
        refusal without actor, its target the account only when the login exists. Neither
        the typed login nor the password reaches the trail, and the refusal is recorded
        alike whether the login exists or not.

        Raises:
            AuthenticationFailed: unknown login, wrong password, or no password set: one
                error for all, after the same hashing work, so neither the answer nor its
                timing tells whether the login exists.
            AccountDeactivated: the password is right but the account is deactivated (A6).
            ClinicLoginOnly: the password is right but the account is a clinic login, which
                opens shared-device sessions only (F1).
        """
        user = self._authenticate(
            login, password, action="account.authenticate", auditor=self.auditor
        )
        with self.unit_of_work() as uow:
            self.auditor.record(
                uow, "account.authenticate", actor=user.id, target_type="user", target_id=user.id
            )
            uow.commit()
        return user

    def verify_credentials(self, login: str, password: str) -> User:
        """Return the user whose login and password these are, recording nothing.

        For services that record a sign-in in an audit event of their own (a shared
        device's, F1): they record its refusals too, never the login or password typed.
        Otherwise as :meth:`authenticate`, re-hashing included.

        Unlike :meth:`authenticate`, a clinic login's credentials are accepted: the caller
        decides what they open.

        Raises:
            AuthenticationFailed, AccountDeactivated: as :meth:`authenticate`.
        """
        return self._authenticate(login, password, person=False)

    def verify_password(self, user_id: UserId, password: str) -> User:
        """Return the user ``user_id`` if ``password`` is theirs: a re-authentication.

        For acts that need a recent proof of identity (removing a second factor, F5).
        Records nothing: the act records its own audit event. Equal hashing work whether
        the user exists or not.

        Raises:
            AuthenticationFailed: unknown user, no password set, or a wrong password.
            AccountDeactivated: the password is right but the account is deactivated.
        """
        found: User | None = None
        given: object = user_id
        if isinstance(given, str) and given:
            with self.unit_of_work() as uow, contextlib.suppress(UserNotFound):
                found = uow.users.get(UserId(given))
        user = self._check_password(found, password)
        if not user.is_active:
            raise AccountDeactivated(user_id=user.id)
        return user

    def _authenticate(
        self,
        login: str,
        password: str,
        *,
        action: str = "",
        auditor: Auditor | None = None,
        person: bool = True,
    ) -> User:
        """Return the user whose login and password these are, recording only a refusal.

        For :meth:`authenticate` and the services that sign in (they record the success in
        their own unit of work): a refusal is recorded as ``action`` by ``auditor``, when
        one is given. ``person``: refuse a clinic login (a person's sign-in, F1).
        """
        found: User | None = None
        try:
            try:
                key = self.login_policy.parse(login)
            except Rejected:
                key = None
            if key is not None:
                with self.unit_of_work() as uow:
                    found = uow.users.find_by_login(key)
            user = self._check_password(found, password)
            if not user.is_active:
                raise AccountDeactivated(user_id=user.id)
            if person and user.kind is AccountKind.CLINIC:
                raise ClinicLoginOnly(user_id=user.id)
        except PracticeIdError as error:
            if auditor is None:
                raise
            # Recorded whether the login exists or not; never the login or password typed.
            auditor.refused(
                self.unit_of_work,
                action,
                error,
                target_type="user",
                target_id=None if found is None else found.id,
            )
            raise
        if user.password_hash is not None and self.hasher.needs_rehash(user.password_hash):
            user = self._rehash(user, password)
        return user

    def _check_password(self, user: User | None, password: object) -> User:
        """Return ``user`` if ``password`` matches its stored hash.

        Otherwise raise AuthenticationFailed, after the same hashing work whatever the reason:
        no such user, no password set, not text, or a wrong password.
        """
        if user is None or user.password_hash is None or not isinstance(password, str):
            self._spend_hashing_time(password)
            raise AuthenticationFailed
        try:
            self.hasher.verify(user.password_hash, password)
        except (PasswordMismatch, UnsupportedPasswordHash):
            raise AuthenticationFailed from None
        return user

    def _spend_hashing_time(self, password: object) -> None:
        with self._dummy_lock:
            if not self._dummy_hash:
                random_password = base64.b64encode(os.urandom(24)).decode("ascii")
                self._dummy_hash.append(self.hasher.hash(random_password))
            dummy = self._dummy_hash[0]
        with contextlib.suppress(PasswordMismatch):
            self.hasher.verify(dummy, password if isinstance(password, str) else "")

    def _rehash(self, user: User, password: str) -> User:
        new_hash = self.hasher.hash(password)
        try:
            with self.unit_of_work() as uow:
                current = uow.users.get(user.id)
                if current.password_hash != user.password_hash:
                    return current  # changed meanwhile: keep the newer hash
                updated = uow.users.update(current.with_password_hash(new_hash))
                uow.commit()
        except PracticeIdError:
            # Re-hashing is an optimisation; a failure must not fail a correct login.
            return user
        return updated

    # -- changes --------------------------------------------------------------------------

    @audited("account.change_email")
    def change_email(self, *, actor: UserId, user_id: UserId, new_email: str) -> EmailChange:
        """Change a user's e-mail address: a privileged act (A5, support only in source 002).

        Audited as ``account.change_email``: that the address changed, not the address.

        Raises:
            PermissionDenied: ``actor`` lacks :attr:`Permission.CHANGE_EMAIL`.
            EmailRejected: the address is not acceptable.
            DuplicateEmail: another user has it. UserNotFound, StaleUser.
        """
        self.authorizer.require(actor, Permission.CHANGE_EMAIL, target=user_id)
        email = self.email_policy.parse(new_email)
        user = self._update(
            user_id,
            lambda u: u.with_email(email),
            action="account.change_email",
            actor=actor,
            auditor=self.auditor,
        )
        return EmailChange(user, self.email_policy.notices(email))

    @audited("account.change_login")
    def change_login(self, *, actor: UserId, user_id: UserId, new_login: str) -> User:
        """Change a user's login (A1): by the user themself or by a holder of CHANGE_LOGIN.

        Audited as ``account.change_login``: that the login changed, not the login.

        Raises:
            PermissionDenied, LoginRejected, DuplicateLogin, UserNotFound, StaleUser.
        """
        self.authorizer.require(actor, Permission.CHANGE_LOGIN, target=user_id)
        login: Login = self.login_policy.parse(new_login)
        return self._update(
            user_id,
            lambda u: u.with_login(login),
            action="account.change_login",
            actor=actor,
            auditor=self.auditor,
        )

    @audited("account.change_password", actor="user_id")
    def change_password(
        self,
        *,
        user_id: UserId,
        current_password: str,
        new_password: str,
        new_password_confirmation: str,
    ) -> User:
        """Change one's own password, proving the current one first (A4).

        Audited as ``account.change_password``, the user acting on themself.

        Raises:
            AuthenticationFailed: the current password is wrong.
            PasswordRejected: the new password breaks the policy.
            UserNotFound, StaleUser.
        """
        return self._change_password(
            user_id=user_id,
            current_password=current_password,
            new_password=new_password,
            new_password_confirmation=new_password_confirmation,
            auditor=self.auditor,
        )

    def _change_password(
        self,
        *,
        user_id: UserId,
        current_password: str,
        new_password: str,
        new_password_confirmation: str,
        auditor: Auditor,
    ) -> User:
        """Change the password and record its success with ``auditor``, not a refusal."""
        with self.unit_of_work() as uow:
            stored = uow.users.get(user_id)
        user = self._check_password(stored, current_password)  # slow: outside the transaction
        context = self._password_context(
            login=user.login.display,
            email=user.email.address,
            first_name=user.first_name,
            last_name=user.last_name,
            practice_name=self.practice_name,
        )
        self.password_policy.validate(
            new_password, confirmation=new_password_confirmation, context=context
        )
        new_hash = self.hasher.hash(new_password)
        expected_version = user.version
        return self._update(
            user_id,
            lambda u: u.with_password_hash(new_hash),
            action="account.change_password",
            actor=user_id,
            auditor=auditor,
            expected_version=expected_version,
        )

    def new_password_hash(
        self,
        password: str,
        confirmation: str,
        *,
        login: str,
        email: str,
        first_name: str,
        last_name: str,
    ) -> str:
        """Check a new password against the policy and return its hash (A4).

        For services that set a password outside :meth:`register` (an accepted invitation,
        an administrator-set password). The policy sees the person's own data as context.
        Slow by design: call it outside any unit of work.

        Raises:
            PasswordRejected: every violation at once.
        """
        context = self._password_context(
            login=login,
            email=email,
            first_name=first_name,
            last_name=last_name,
            practice_name=self.practice_name,
        )
        self.password_policy.validate(password, confirmation=confirmation, context=context)
        return self.hasher.hash(password)

    def _update(
        self,
        user_id: UserId,
        change: Callable[[User], User],
        *,
        action: str,
        actor: UserId,
        auditor: Auditor,
        expected_version: int | None = None,
    ) -> User:
        """Store ``change`` of the user and its audit event in one unit of work."""
        with self.unit_of_work() as uow:
            user = uow.users.get(user_id)
            if expected_version is not None and user.version != expected_version:
                raise StaleUser(user_id=user_id, expected=expected_version, stored=user.version)
            updated = uow.users.update(change(user))
            auditor.record(uow, action, actor=actor, target_type="user", target_id=user_id)
            uow.commit()
        return updated

    def _password_context(
        self,
        *,
        login: object,
        email: object,
        first_name: object,
        last_name: object,
        practice_name: object,
    ) -> PasswordContext:
        def text(value: object) -> str:
            return value if isinstance(value, str) else ""

        return PasswordContext.for_user(
            login=text(login),
            email=text(email),
            first_name=text(first_name),
            last_name=text(last_name),
            practice_name=text(practice_name),
            current_year=self.clock.now().year,
        )


def _collect(errors: list[Rejected], parse: Callable[[], _T]) -> _T | None:
    try:
        return parse()
    except Rejected as error:
        errors.append(error)
        return None
