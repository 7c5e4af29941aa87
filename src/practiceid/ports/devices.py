"""Repository ports for shared devices (F1-F4), and the unit of work that reaches them.

Values in, values out, as for users; usable only inside their unit of work's ``with`` block;
a refused ``add`` or ``update`` changes nothing. ``update`` raises
:class:`~practiceid.errors.StaleRecord` (``entity`` the record's kind) when the stored
``version`` differs from the given value's, and returns the stored value with ``version``
+ 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from practiceid.ports.establishments import AccessUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.devices import (
        ClinicLogin,
        DeviceSession,
        DeviceSessionId,
        MemberCredential,
        PinGuard,
    )
    from practiceid.establishments import EstablishmentId
    from practiceid.users import UserId

__all__ = [
    "ClinicLoginRepository",
    "DeviceSessionRepository",
    "DeviceUnitOfWork",
    "DeviceUnitOfWorkFactory",
    "MemberCredentialRepository",
    "PinGuardRepository",
]


class ClinicLoginRepository(Protocol):
    """Stores clinic logins, one per clinic account (F1).

    ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="clinic_login"``,
    ``id`` the user id) when the account already is one; ``get`` and ``update`` raise
    :class:`~practiceid.errors.ClinicLoginNotFound` (``user_id``). Lists are ordered by user
    id.
    """

    def add(self, clinic_login: ClinicLogin) -> None:
        """Store a new clinic login."""
        ...

    def get(self, user_id: UserId) -> ClinicLogin:
        """Return the clinic login whose account this is."""
        ...

    def find(self, user_id: UserId) -> ClinicLogin | None:
        """Return the clinic login whose account this is, if any."""
        ...

    def update(self, clinic_login: ClinicLogin) -> ClinicLogin:
        """Replace the stored clinic login if nobody changed it since it was read."""
        ...

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[ClinicLogin]:
        """Return the establishment's clinic logins."""
        ...


class MemberCredentialRepository(Protocol):
    """Stores what members hold for shared devices: PIN digests and remote access (F2, F4).

    Error contract:

    * ``add`` raises :class:`~practiceid.errors.DuplicateRecord`
      (``entity="member_credential"``, ``establishment_id``, ``user_id``) when the member
      has one in the establishment;
    * ``add`` and ``update`` raise ``DuplicateRecord`` (``entity="pin"``,
      ``establishment_id``) when another member of the establishment holds the same
      ``pin_digest``: checked atomically with the write (a unique key in SQL), so two
      members never hold one PIN, however concurrent the issuing. The error never carries
      the digest;
    * ``update`` raises :class:`~practiceid.errors.StaleRecord`
      (``entity="member_credential"``), or ``DuplicateRecord`` (``member_credential``)
      when none is stored, as there is no NotFound for credentials.

    ``find_by_pin`` costs one indexed look-up. ``key_ids`` lists the PIN key ids the
    establishment's digests use (usually one; more while a key is being rotated), sorted.
    Lists are ordered by ``(establishment_id, user_id)``.
    """

    def add(self, credential: MemberCredential) -> None:
        """Store a member's first credential in an establishment."""
        ...

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> MemberCredential | None:
        """Return the member's credential, if any."""
        ...

    def find_by_pin(
        self, establishment_id: EstablishmentId, pin_digest: bytes
    ) -> MemberCredential | None:
        """Return the credential of the establishment holding this PIN digest, if any."""
        ...

    def update(self, credential: MemberCredential) -> MemberCredential:
        """Replace the stored credential if nobody changed it since it was read."""
        ...

    def list_for_user(self, user_id: UserId) -> Sequence[MemberCredential]:
        """Return the user's credentials, in every establishment."""
        ...

    def list_for_establishment(
        self, establishment_id: EstablishmentId
    ) -> Sequence[MemberCredential]:
        """Return the establishment's credentials."""
        ...

    def key_ids(self, establishment_id: EstablishmentId) -> Sequence[str]:
        """Return the PIN key ids in use in the establishment, sorted."""
        ...


class DeviceSessionRepository(Protocol):
    """Stores device sessions (F1, F3).

    ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="device_session"``,
    ``id``) for a taken id or token digest; ``update`` raises
    :class:`~practiceid.errors.StaleRecord` (``entity="device_session"``) or, for an
    unknown id, :class:`~practiceid.errors.DeviceSessionInvalid`. ``find_by_token`` costs
    one indexed look-up. ``list_for_establishment`` returns the sessions not closed, ordered
    by id.
    """

    def add(self, session: DeviceSession) -> None:
        """Store a new device session."""
        ...

    def find(self, session_id: DeviceSessionId) -> DeviceSession | None:
        """Return the session with this id, if any."""
        ...

    def find_by_token(self, token_digest: bytes) -> DeviceSession | None:
        """Return the session whose token has this SHA-256 digest, if any."""
        ...

    def update(self, session: DeviceSession) -> DeviceSession:
        """Replace the stored session if nobody changed it since it was read."""
        ...

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[DeviceSession]:
        """Return the establishment's sessions that are not closed."""
        ...


class PinGuardRepository(Protocol):
    """Stores each establishment's recent wrong PINs (F2).

    ``save`` stores a guard whose ``version`` is 0 as new, and otherwise replaces the
    stored one if its version is the same; either way it raises
    :class:`~practiceid.errors.StaleRecord` (``entity="pin_guard"``) when another unit of
    work got there first (a concurrent first miss included), and returns the stored value
    with ``version`` + 1. Concurrent misses thus never lose a count.
    """

    def find(self, establishment_id: EstablishmentId) -> PinGuard | None:
        """Return the establishment's guard, if it ever had a miss."""
        ...

    def save(self, guard: PinGuard) -> PinGuard:
        """Store the guard, refusing a stale one."""
        ...


class DeviceUnitOfWork(AccessUnitOfWork, Protocol):
    """An :class:`~practiceid.ports.AccessUnitOfWork` that also reaches shared devices."""

    @property
    def clinic_logins(self) -> ClinicLoginRepository:
        """The clinic logins of this unit of work."""
        ...

    @property
    def member_credentials(self) -> MemberCredentialRepository:
        """The members' device credentials of this unit of work."""
        ...

    @property
    def device_sessions(self) -> DeviceSessionRepository:
        """The device sessions of this unit of work."""
        ...

    @property
    def pin_guards(self) -> PinGuardRepository:
        """The establishments' PIN guards of this unit of work."""
        ...


DeviceUnitOfWorkFactory: TypeAlias = Callable[[], DeviceUnitOfWork]
"""What :class:`~practiceid.DeviceService` takes: a callable returning a fresh unit of work."""
