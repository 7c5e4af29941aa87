"""Repository ports for organisations, establishments, memberships and profiles (B1-C7).

Values in, values out, as for users. Every repository is usable only inside its unit of
work's ``with`` block, and a refused ``add`` or ``update`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from practiceid.ports.users import UnitOfWork

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.establishment_profiles import EstablishmentProfile
    from practiceid.establishments import (
        Establishment,
        EstablishmentId,
        Organisation,
        OrganisationId,
    )
    from practiceid.memberships import Membership, MembershipStatus
    from practiceid.practitioners import Practitioner
    from practiceid.users import UserId

__all__ = [
    "AccessUnitOfWork",
    "AccessUnitOfWorkFactory",
    "EstablishmentProfileRepository",
    "EstablishmentRepository",
    "MembershipRepository",
    "OrganisationRepository",
    "PractitionerRepository",
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
    * ``add`` and ``update`` raise :class:`~practiceid.errors.DuplicateInitials` when another
      membership of the establishment has the same non-empty initials, compared by
      :func:`practiceid.policies.initials.key` (case-insensitive); checked atomically with
      the write, like logins (A7);
    * ``get`` and ``update`` raise :class:`~practiceid.errors.MembershipNotFound`;
    * ``update`` raises :class:`~practiceid.errors.StaleRecord` (``entity="membership"``)
      when the stored ``version`` differs, and returns the stored value with ``version`` + 1.

    Memberships are never removed (A6), and a deactivated membership keeps its initials.
    ``initials`` and ``supervisor`` are stored as given. An id of an unexpected type (``None``,
    a list) names no record: ``find`` returns ``None``, ``get`` raises the not-found error.
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


class PractitionerRepository(Protocol):
    """Stores practitioner data, one per user (B1-B6).

    Error contract:

    * ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="practitioner"``,
      ``id``) when the user already has practitioner data;
    * ``add`` and ``update`` raise :class:`~practiceid.errors.DuplicateIdentifier`
      (``kind``) when another practitioner holds one of the value's
      :attr:`~practiceid.Practitioner.identity_keys`; checked atomically with the write;
    * ``get`` and ``update`` raise :class:`~practiceid.errors.PractitionerNotFound`;
    * ``update`` raises :class:`~practiceid.errors.StaleRecord` (``entity="practitioner"``)
      when the stored ``version`` differs, and returns the stored value with ``version`` + 1.

    Every field round-trips: identifiers by their compact number (re-parse them with their
    module's ``parse``), addresses, settings (eHealth metadata, eDMG accounts) and billing.
    """

    def add(self, practitioner: Practitioner) -> None:
        """Store the practitioner data of a user who has none."""
        ...

    def get(self, user_id: UserId) -> Practitioner:
        """Return the user's practitioner data."""
        ...

    def find(self, user_id: UserId) -> Practitioner | None:
        """Return the user's practitioner data, if any."""
        ...

    def update(self, practitioner: Practitioner) -> Practitioner:
        """Replace the stored practitioner data if nobody changed it since it was read."""
        ...


class EstablishmentProfileRepository(Protocol):
    """Stores establishment profiles, one per establishment (C7).

    Error contract: ``add`` raises :class:`~practiceid.errors.DuplicateRecord`
    (``entity="establishment_profile"``) when the establishment has one; ``update`` raises
    :class:`~practiceid.errors.EstablishmentNotFound` when it has none, and
    :class:`~practiceid.errors.StaleRecord` (``entity="establishment_profile"``) on a version
    mismatch, returning the stored value with ``version`` + 1. The logo's bytes round-trip
    exactly.
    """

    def add(self, profile: EstablishmentProfile) -> None:
        """Store the first profile of an establishment."""
        ...

    def find(self, establishment_id: EstablishmentId) -> EstablishmentProfile | None:
        """Return the establishment's profile, if it has one."""
        ...

    def update(self, profile: EstablishmentProfile) -> EstablishmentProfile:
        """Replace the stored profile if nobody changed it since it was read."""
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

    @property
    def practitioners(self) -> PractitionerRepository:
        """The practitioner data of this unit of work."""
        ...

    @property
    def establishment_profiles(self) -> EstablishmentProfileRepository:
        """The establishment profiles of this unit of work."""
        ...


AccessUnitOfWorkFactory: TypeAlias = Callable[[], AccessUnitOfWork]
"""What access services take: a callable returning a fresh access unit of work."""
