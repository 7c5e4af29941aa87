"""In-memory adapters: a thread-safe store for demos, tests and small embedded uses.

Transactions are serialized: a unit of work holds the store's lock from ``__enter__`` to
``__exit__``, so it sees no one else's uncommitted changes and no one sees its own
(serializable isolation). Keep units of work short: hash passwords *before* entering one, as
:class:`~practiceid.AccountService` does. Changes are applied to the store as they are made and
undone on rollback, so a refused ``add`` or ``update`` leaves everything as it was.

>>> from practiceid.testing import sample_user
>>> store = InMemoryStore()
>>> with store.unit_of_work() as uow:
...     uow.users.add(sample_user())
...     uow.commit()
>>> with store.unit_of_work() as uow:
...     len(uow.users.list())
1
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import Self

import attrs

from practiceid.errors import (
    DuplicateEmail,
    DuplicateLogin,
    DuplicateUserId,
    PermissionDenied,
    StaleUser,
    UnitOfWorkError,
    UserNotFound,
)
from practiceid.policies.email import EmailAddress
from practiceid.policies.login import Login
from practiceid.ports.authorization import Permission
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InMemoryUserRepository",
    "StaticAuthorizer",
]


class InMemoryStore:
    """Holds users shared by every unit of work made from it. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._users: dict[UserId, User] = {}
        self._by_login: dict[str, UserId] = {}
        self._by_email: dict[str, UserId] = {}

    def unit_of_work(self) -> InMemoryUnitOfWork:
        """Return a new unit of work over this store (a :data:`UnitOfWorkFactory`)."""
        return InMemoryUnitOfWork(self)


class InMemoryUserRepository:
    """The :class:`~practiceid.ports.UserRepository` of an :class:`InMemoryUnitOfWork`."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _store(self) -> InMemoryStore:
        return self._uow._active_store()  # noqa: SLF001 - the pair is one adapter

    def add(self, user: User) -> None:
        """Store a new user; raise DuplicateUserId, DuplicateLogin or DuplicateEmail."""
        store = self._store()
        if user.id in store._users:  # noqa: SLF001
            raise DuplicateUserId(user_id=user.id)
        _check_free(store, user)
        self._uow._record(user.id, None)  # noqa: SLF001
        _put(store, user)

    def get(self, user_id: UserId) -> User:
        """Return the user; raise UserNotFound."""
        try:
            return self._store()._users[user_id]  # noqa: SLF001
        except KeyError:
            raise UserNotFound(user_id=user_id) from None

    def find_by_login(self, login: Login) -> User | None:
        """Return the user with this login key, if any."""
        store = self._store()
        user_id = store._by_login.get(login.key)  # noqa: SLF001
        return None if user_id is None else store._users[user_id]  # noqa: SLF001

    def find_by_email(self, email: EmailAddress) -> User | None:
        """Return the user with this e-mail key, if any."""
        store = self._store()
        user_id = store._by_email.get(email.key)  # noqa: SLF001
        return None if user_id is None else store._users[user_id]  # noqa: SLF001

    def update(self, user: User) -> User:
        """Replace the stored user if its version matches; return it with version + 1."""
        store = self._store()
        current = self.get(user.id)
        if current.version != user.version:
            raise StaleUser(user_id=user.id, expected=user.version, stored=current.version)
        _check_free(store, user)
        stored = attrs.evolve(user, version=user.version + 1)
        self._uow._record(user.id, current)  # noqa: SLF001
        _remove(store, current)
        _put(store, stored)
        return stored

    def list(self, *, status: UserStatus | None = None) -> Sequence[User]:
        """Return the users (with this status), ordered by login key."""
        users = self._store()._users.values()  # noqa: SLF001
        chosen = [u for u in users if status is None or u.status is status]
        return sorted(chosen, key=lambda u: u.login.key)


def _check_free(store: InMemoryStore, user: User) -> None:
    owner = store._by_login.get(user.login.key)  # noqa: SLF001
    if owner is not None and owner != user.id:
        raise DuplicateLogin(login=user.login.display)
    owner = store._by_email.get(user.email.key)  # noqa: SLF001
    if owner is not None and owner != user.id:
        raise DuplicateEmail(email=user.email.address)


def _put(store: InMemoryStore, user: User) -> None:
    store._users[user.id] = user  # noqa: SLF001
    store._by_login[user.login.key] = user.id  # noqa: SLF001
    store._by_email[user.email.key] = user.id  # noqa: SLF001


def _remove(store: InMemoryStore, user: User) -> None:
    del store._users[user.id]  # noqa: SLF001
    del store._by_login[user.login.key]  # noqa: SLF001
    del store._by_email[user.email.key]  # noqa: SLF001


class InMemoryUnitOfWork:
    """A serialized transaction over an :class:`InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._active = False
        # (user id, what was stored before: None when the user was added)
        self._undo: list[tuple[UserId, User | None]] = []
        self.users = InMemoryUserRepository(self)

    def __enter__(self) -> Self:
        if self._active:
            raise UnitOfWorkError("this unit of work is already open")
        self._store._lock.acquire()  # noqa: SLF001
        self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._active = False
            self._store._lock.release()  # noqa: SLF001

    def _active_store(self) -> InMemoryStore:
        if not self._active:
            raise UnitOfWorkError
        return self._store

    def _record(self, user_id: UserId, previous: User | None) -> None:
        self._undo.append((user_id, previous))

    def commit(self) -> None:
        """Keep every change made so far."""
        self._active_store()
        self._undo.clear()

    def rollback(self) -> None:
        """Undo every change not yet committed, newest first."""
        store = self._active_store()
        while self._undo:
            user_id, previous = self._undo.pop()
            _remove(store, store._users[user_id])  # noqa: SLF001
            if previous is not None:
                _put(store, previous)


def _freeze_grants(
    grants: Mapping[UserId, Collection[Permission]],
) -> Mapping[UserId, frozenset[Permission]]:
    return MappingProxyType({actor: frozenset(perms) for actor, perms in grants.items()})


@attrs.frozen
class StaticAuthorizer:
    """An :class:`~practiceid.ports.Authorizer` from a fixed table of grants.

    ``grants`` maps an actor to the permissions they hold over every user; ``self_service``
    lists permissions everyone holds over their own account. Until the role model lands this
    is how a host says who is support (A5).

    >>> from practiceid.ports import Permission
    >>> support = UserId("support")
    >>> authorizer = StaticAuthorizer({support: {Permission.CHANGE_EMAIL}})
    >>> authorizer.require(support, Permission.CHANGE_EMAIL, target=UserId("u1"))
    >>> authorizer.require(UserId("u1"), Permission.CHANGE_EMAIL, target=UserId("u1"))
    Traceback (most recent call last):
    ...
    practiceid.errors.PermissionDenied: not allowed
    """

    grants: Mapping[UserId, frozenset[Permission]] = attrs.field(
        factory=dict, converter=_freeze_grants
    )
    self_service: frozenset[Permission] = attrs.field(
        default=frozenset({Permission.CHANGE_LOGIN}), converter=frozenset
    )

    def require(
        self, actor: UserId, permission: Permission, *, target: UserId | None = None
    ) -> None:
        """Return if allowed; raise PermissionDenied otherwise."""
        if permission in self.grants.get(actor, frozenset()):
            return
        if target is not None and target == actor and permission in self.self_service:
            return
        raise PermissionDenied(permission=str(permission), actor=actor)
