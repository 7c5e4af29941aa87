"""Repository ports for organisations, establishments and memberships (C1-C6).

Values in, values out, as for users. Every repository is usable only inside its unit of
work's ``with`` block, and a refused ``add`` or ``update`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from practiceid.ports.users import UnitOfWork

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.establishments import (
        Establishment,
        EstablishmentId,
        Organisation,
        OrganisationId,
    )
    from practiceid.memberships import Membership, MembershipStatus
    from practiceid.users import UserId

__all__ = [
    "AccessUnitOfWork",
    "AccessUnitOfWorkFactory",
    "EstablishmentRepository",
    "MembershipRepository",
    "OrganisationRepository",
]


class OrganisationRepository(Protocol):
    """Stores organisations.

    Error contract:


    * ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="organisation"``)
      when the id is taken;
    * ``get`` and ``update`` raise :class:`~practiceid.errors.OrganisationNotFound`;
    * ``update`` raises :class:`~practiceid.errors.StaleRecord` (``entity="organisation"``,
      ``id``, ``expected``, ``stored``) when the stored ``version`` differs from the given
      one, and returns the stored value with ``version`` + 1.
    * Outside its unit of work's block, every method raises
      :class:`~practiceid.errors.UnitOfWorkError`.

    Like :class:`~practiceid.ports.UserRepository`, conflicts are raised by the call that
    causes them; an adapter that can only detect them at ``commit`` raises them there and
    rolls back. Adapters may refuse records that reference unknown ones (foreign keys);
    practiceid never stores such records.
    """

    def add(self, organisation: Organisation) -> None:
        """Store a new organisation."""
        ...

    def get(self, organisation_id: OrganisationId) -> Organisation:
        """Return the organisation with this id."""
        ...

    def update(self, organisation: Organisation) -> Organisation:
        """Replace the stored organisation if nobody changed it since it was read."""
        ...

    def list(self, *, owner: UserId | None = None) -> Sequence[Organisation]:
        """Return the organisations (this user owns), ordered by id."""
        ...


class EstablishmentRepository(Protocol):
    """Stores establishments with their roles and departments (one aggregate).

    Error contract as :class:`OrganisationRepository`, with ``entity="establishment"`` and
    :class:`~practiceid.errors.EstablishmentNotFound`. ``update`` of an unchanged value is a
    real write that bumps ``version``: services use it to serialize changes to an
    establishment's administrators.
    """

    def add(self, establishment: Establishment) -> None:
        """Store a new establishment."""
        ...

    def get(self, establishment_id: EstablishmentId) -> Establishment:
        """Return the establishment with this id."""
        ...

    def update(self, establishment: Establishment) -> Establishment:
        """Replace the stored establishment if nobody changed it since it was read."""
        ...

    def list(self, *, organisation_id: OrganisationId | None = None) -> Sequence[Establishment]:
        """Return the establishments (of this organisation), ordered by id."""
        ...


class MembershipRepository(Protocol):
    """Stores memberships, one per (establishment, user) pair (C1).

    Error contract:


    * ``add`` raises :class:`~practiceid.errors.DuplicateMembership` when the user is already
      a member of the establishment, active or not; checked atomically with the write, so
      concurrent adds of one pair end with exactly one success;
    * ``get`` and ``update`` raise :class:`~practiceid.errors.MembershipNotFound`;
    * ``update`` raises :class:`~practiceid.errors.StaleRecord` (``entity="membership"``)
      when the stored ``version`` differs, and returns the stored value with ``version`` + 1.

    Memberships are never removed (A6).
    """

    def add(self, membership: Membership) -> None:
        """Store a new membership."""
        ...

    def get(self, establishment_id: EstablishmentId, user_id: UserId) -> Membership:
        """Return the user's membership in the establishment."""
        ...

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> Membership | None:
        """Return the user's membership in the establishment, if any."""
        ...

    def update(self, membership: Membership) -> Membership:
        """Replace the stored membership if nobody changed it since it was read."""
        ...

    def list_for_user(self, user_id: UserId) -> Sequence[Membership]:
        """Return every membership of the user, active or not, ordered by establishment id."""
        ...

    def list_for_establishment(
        self, establishment_id: EstablishmentId, *, status: MembershipStatus | None = None
    ) -> Sequence[Membership]:
        """Return the establishment's memberships (with this status), ordered by user id."""
        ...


class AccessUnitOfWork(UnitOfWork, Protocol):
    """A :class:`~practiceid.ports.UnitOfWork` that also reaches the access repositories.

    Same transaction, same rules: leaving the block without ``commit`` rolls back every
    repository's changes.
    """

    @property
    def organisations(self) -> OrganisationRepository:
        """The organisations of this unit of work."""
        ...

    @property
    def establishments(self) -> EstablishmentRepository:
        """The establishments of this unit of work."""
        ...

    @property
    def memberships(self) -> MembershipRepository:
        """The memberships of this unit of work."""
        ...


AccessUnitOfWorkFactory: TypeAlias = Callable[[], AccessUnitOfWork]
"""What access services take: a callable returning a fresh access unit of work."""
