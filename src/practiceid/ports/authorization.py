"""The authorization port: may this actor do this?

Services ask before privileged acts (changing someone's e-mail is one, A5). The role model
(C2-C4) will implement this port; services and their callers do not change when it does.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from practiceid.users import UserId

__all__ = ["Authorizer", "Permission"]


class Permission(enum.StrEnum):
    """Acts that need a permission. Values are stable codes, like error codes."""

    CHANGE_EMAIL = "user.change_email"
    """Change another user's e-mail address: support only (A5, source 002)."""
    CHANGE_LOGIN = "user.change_login"
    """Change a user's login (A1)."""


class Authorizer(Protocol):
    """Decides whether ``actor`` holds ``permission`` over ``target``.

    Error contract: ``require`` returns ``None`` when allowed and raises
    :class:`~practiceid.errors.PermissionDenied` (with ``permission`` and ``actor`` params)
    otherwise. It never returns a bool.
    """

    def require(
        self, actor: UserId, permission: Permission, *, target: UserId | None = None
    ) -> None:
        """Return if allowed; raise PermissionDenied otherwise."""
        ...
