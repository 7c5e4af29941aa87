"""The :class:`User` entity: one account in the user base shared by every practice (A1).

Users are values: frozen, slotted, changed with ``attrs.evolve`` through the methods below,
each of which returns a new ``User``. They are never deleted (A6): ``deactivate`` and
``reactivate`` change their status.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import NewType

import attrs

from practiceid._text import clean_name
from practiceid.errors import ProfileRejected, Violation
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login

__all__ = ["AccountKind", "User", "UserId", "UserStatus", "clean_profile", "new_user_id"]

UserId = NewType("UserId", str)
"""An opaque identifier. practiceid generates UUID4 strings; hosts may supply their own."""

_MAX_NAME_LENGTH = 100


def new_user_id() -> UserId:
    """Return a fresh random :data:`UserId` (a UUID4 string)."""
    return UserId(str(uuid.uuid4()))


class UserStatus(enum.StrEnum):
    """Where an account stands. Invitation states arrive with the invitation workflow."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class AccountKind(enum.StrEnum):
    """Whose account it is."""

    PERSON = "person"
    """A person's own account: they sign in with it and act in their own name."""
    CLINIC = "clinic"
    """A clinic login (F1): shared by the devices of one establishment, tied to no member.

    It opens device sessions only (:class:`~practiceid.DeviceService`); members act on them
    with their PINs.
    """


@attrs.frozen
class User:
    """An account: who may log in, and how to reach them.

    ``password_hash`` is the stored, self-describing hash (PHC string); it never appears in
    ``repr``. ``kind`` tells a person's account from a clinic login (F1).
    ``version`` counts stored changes and lets repositories refuse stale updates.
    """

    id: UserId
    login: Login
    email: EmailAddress
    first_name: str
    last_name: str
    created_at: datetime
    job_title: str = ""
    status: UserStatus = UserStatus.ACTIVE
    password_hash: str | None = attrs.field(default=None, repr=False)
    version: int = 0
    kind: AccountKind = AccountKind.PERSON

    @property
    def full_name(self) -> str:
        """First and last name, for display."""
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_active(self) -> bool:
        """True when the user may log in (A6)."""
        return self.status is UserStatus.ACTIVE

    def with_login(self, login: Login) -> User:
        """Return this user with another login."""
        return attrs.evolve(self, login=login)

    def with_email(self, email: EmailAddress) -> User:
        """Return this user with another e-mail address."""
        return attrs.evolve(self, email=email)

    def with_password_hash(self, password_hash: str) -> User:
        """Return this user with another stored password hash."""
        return attrs.evolve(self, password_hash=password_hash)

    def deactivate(self) -> User:
        """Return this user deactivated: kept, but unable to log in (A6)."""
        return attrs.evolve(self, status=UserStatus.DEACTIVATED)

    def reactivate(self) -> User:
        """Return this user active again (A6)."""
        return attrs.evolve(self, status=UserStatus.ACTIVE)


def clean_profile(
    *, first_name: object, last_name: object, job_title: object = ""
) -> tuple[str, str, str]:
    """Return the trimmed, NFC-normalized names and job title, or raise ProfileRejected.

    First and last name are required; the job title ("fonction", A7) may be empty. Each holds
    at most 100 characters and no control characters.
    """
    values: list[str] = []
    violations: list[Violation] = []
    for field, raw, required in (
        ("first_name", first_name, True),
        ("last_name", last_name, True),
        ("job_title", job_title, False),
    ):
        value, problems = clean_name(
            raw, field=field, prefix="profile", required=required, max_length=_MAX_NAME_LENGTH
        )
        values.append(value)
        violations.extend(
            Violation(code, message, field, params) for code, message, params in problems
        )
    if violations:
        raise ProfileRejected(violations)
    return values[0], values[1], values[2]
