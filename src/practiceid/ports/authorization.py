"""The authorization port: may this actor do this?

Services ask before privileged acts on an account (changing someone's e-mail is one, A5).
:class:`~practiceid.AccessService` implements it with the role model (C2-C4);
:class:`~practiceid.adapters.StaticAuthorizer` with a fixed table. ``Permission`` is
re-exported here from :mod:`practiceid.permissions`, where the catalogue lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from practiceid.permissions import Permission

if TYPE_CHECKING:
    from practiceid.users import UserId

__all__ = ["Authorizer", "Permission"]


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
