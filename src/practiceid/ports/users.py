"""The user repository and unit-of-work ports.

Uniqueness of logins and e-mail addresses (A1, A2) is the repository's atomic contract, not a
check the service makes before inserting: two administrators creating the same user at once
must end with one account and one coded refusal, whatever the storage.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.policies.email import EmailAddress
    from practiceid.policies.login import Login
    from practiceid.ports.audit import AuditLog
    from practiceid.users import User, UserId, UserStatus

__all__ = ["UnitOfWork", "UnitOfWorkFactory", "UserRepository"]


class UserRepository(Protocol):
    """Stores users. Usable only inside its unit of work's ``with`` block.

    Values in, values out: methods take and return frozen :class:`~practiceid.User` values,
    never rows or live objects. Error contract:

    * ``add`` raises :class:`~practiceid.errors.DuplicateLogin` or
      :class:`~practiceid.errors.DuplicateEmail` when another stored user (committed, or
      added earlier in the same unit of work) has the same login or e-mail *key*, and
      :class:`~practiceid.errors.DuplicateUserId` when the id is taken. Checked atomically
      with the write: concurrent units of work adding the same key end with exactly one
      success. When both login and e-mail collide, ``DuplicateLogin`` is raised.
    * ``get`` raises :class:`~practiceid.errors.UserNotFound`.
    * ``update`` raises ``UserNotFound``; :class:`~practiceid.errors.StaleUser` when the stored
      ``version`` differs from the given user's (someone changed it since it was read);
      ``DuplicateLogin`` / ``DuplicateEmail`` as ``add`` does. It returns the stored user, whose
      ``version`` is one more.
    * A refused ``add`` or ``update`` changes nothing.
    """

    def add(self, user: User) -> None:
        """Store a new user."""
        ...

    def get(self, user_id: UserId) -> User:
        """Return the user with this id."""
        ...

    def find_by_login(self, login: Login) -> User | None:
        """Return the user whose login has the same key, if any."""
        ...

    def find_by_email(self, email: EmailAddress) -> User | None:
        """Return the user whose e-mail address has the same key, if any."""
        ...

    def update(self, user: User) -> User:
        """Replace the stored user with ``user`` if nobody changed it since it was read."""
        ...

    def list(self, *, status: UserStatus | None = None) -> Sequence[User]:
        """Return the users, with this status if given, ordered by login key."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the repositories.

    Use as ``with factory() as uow: ...; uow.commit()``. Leaving the block without
    ``commit`` rolls back. Error contract: using ``users`` outside the block raises
    :class:`~practiceid.errors.UnitOfWorkError`; ``commit`` may raise the repository's
    conflict errors for adapters that detect them only then, and rolls back when it does.
    """

    @property
    def users(self) -> UserRepository:
        """The users of this unit of work."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit log: events appended here commit or roll back with the change (F3)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make every change of this unit of work durable and visible to others."""
        ...

    def rollback(self) -> None:
        """Discard every change not yet committed."""
        ...


UnitOfWorkFactory: TypeAlias = Callable[[], UnitOfWork]
"""What services take: a callable returning a fresh unit of work (one per operation)."""
