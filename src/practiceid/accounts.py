"""The account service: register users, authenticate them, change logins, e-mails, passwords.

The service validates input with the policies, hashes outside any transaction, and leaves
uniqueness to the repository's atomic contract (A1, A2): it never checks and then inserts.

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

from practiceid.errors import (
    AccountDeactivated,
    AuthenticationFailed,
    Notice,
    PasswordMismatch,
    PracticeIdError,
    Rejected,
    StaleUser,
    UnsupportedPasswordHash,
)
from practiceid.policies.email import EmailPolicy
from practiceid.policies.login import Login, LoginPolicy
from practiceid.policies.password import PasswordContext, PasswordPolicy
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.users import UnitOfWorkFactory
from practiceid.users import User, UserId, clean_profile, new_user_id

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
    _dummy_hash: list[str] = attrs.field(init=False, factory=list, repr=False)
    _dummy_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False)

    # -- registration ---------------------------------------------------------------------

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
            uow.commit()
        return Registration(user, self.email_policy.notices(parsed_email))

    # -- authentication -------------------------------------------------------------------

    def authenticate(self, login: str, password: str) -> User:
        """Return the user whose login and password these are.

        Raises:
            AuthenticationFailed: unknown login, wrong password, or no password set: one
                error for all, after the same hashing work, so neither the answer nor its
                timing tells whether the login exists.
            AccountDeactivated: the password is right but the account is deactivated (A6).
        """
        user: User | None = None
        try:
            key = self.login_policy.parse(login)
        except Rejected:
            key = None
        if key is not None:
            with self.unit_of_work() as uow:
                user = uow.users.find_by_login(key)
        user = self._check_password(user, password)
        if not user.is_active:
            raise AccountDeactivated(user_id=user.id)
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

    def change_email(self, *, actor: UserId, user_id: UserId, new_email: str) -> EmailChange:
        """Change a user's e-mail address: a privileged act (A5, support only in source 002).

        Raises:
            PermissionDenied: ``actor`` lacks :attr:`Permission.CHANGE_EMAIL`.
            EmailRejected: the address is not acceptable.
            DuplicateEmail: another user has it. UserNotFound, StaleUser.
        """
        self.authorizer.require(actor, Permission.CHANGE_EMAIL, target=user_id)
        email = self.email_policy.parse(new_email)
        user = self._update(user_id, lambda u: u.with_email(email))
        return EmailChange(user, self.email_policy.notices(email))

    def change_login(self, *, actor: UserId, user_id: UserId, new_login: str) -> User:
        """Change a user's login (A1): by the user themself or by a holder of CHANGE_LOGIN.

        Raises:
            PermissionDenied, LoginRejected, DuplicateLogin, UserNotFound, StaleUser.
        """
        self.authorizer.require(actor, Permission.CHANGE_LOGIN, target=user_id)
        login: Login = self.login_policy.parse(new_login)
        return self._update(user_id, lambda u: u.with_login(login))

    def change_password(
        self,
        *,
        user_id: UserId,
        current_password: str,
        new_password: str,
        new_password_confirmation: str,
    ) -> User:
        """Change one's own password, proving the current one first (A4).

        Raises:
            AuthenticationFailed: the current password is wrong.
            PasswordRejected: the new password breaks the policy.
            UserNotFound, StaleUser.
        """
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
            user_id, lambda u: u.with_password_hash(new_hash), expected_version=expected_version
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
        expected_version: int | None = None,
    ) -> User:
        with self.unit_of_work() as uow:
            user = uow.users.get(user_id)
            if expected_version is not None and user.version != expected_version:
                raise StaleUser(user_id=user_id, expected=expected_version, stored=user.version)
            updated = uow.users.update(change(user))
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
