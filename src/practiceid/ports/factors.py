"""Repository ports for key pairs (D3) and second factors (F5), and their unit of work.

Values in, values out, as for users; usable only inside their unit of work's ``with`` block;
a refused write changes nothing. ``update`` raises :class:`~practiceid.errors.StaleRecord`
(``entity`` the record's kind) when the stored ``version`` differs from the given value's,
and returns the stored value with ``version`` + 1; ``add`` stores the value as given
and returns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from practiceid.ports.establishments import AccessUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Sequence

    from practiceid.establishments import EstablishmentId
    from practiceid.factors import Factor, FactorGuard, FactorId, FactorRequirement
    from practiceid.keypairs import KeyPair
    from practiceid.users import UserId

__all__ = [
    "FactorGuardRepository",
    "FactorRepository",
    "FactorRequirementRepository",
    "FactorUnitOfWork",
    "FactorUnitOfWorkFactory",
    "KeyPairRepository",
]


class KeyPairRepository(Protocol):
    """Stores users' public keys and fingerprints, one record per user (D3).

    Never a private key: the record has no place for one. ``add`` raises
    :class:`~practiceid.errors.DuplicateRecord` (``entity="key_pair"``, ``user_id``) when
    the user has one, atomically with the write (two first logins racing store one key);
    ``get`` and ``update`` raise :class:`~practiceid.errors.KeyPairNotFound` (``user_id``)
    when none is stored.
    """

    def add(self, key_pair: KeyPair) -> KeyPair:
        """Store the user's first key pair; return it."""
        ...

    def get(self, user_id: UserId) -> KeyPair:
        """Return the user's key pair."""
        ...

    def find(self, user_id: UserId) -> KeyPair | None:
        """Return the user's key pair, if any."""
        ...

    def update(self, key_pair: KeyPair) -> KeyPair:
        """Replace the stored key pair if nobody changed it since it was read."""
        ...


class FactorRepository(Protocol):
    """Stores users' second factors (F5).

    ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="factor"``, ``id``)
    for a taken id; ``get``, ``update`` and ``remove`` raise
    :class:`~practiceid.errors.FactorNotFound` (``factor_id``) for an unknown one.
    ``list_for_user`` is ordered by ``(created_at, id)``.
    """

    def add(self, factor: Factor) -> Factor:
        """Store a new factor; return it."""
        ...

    def get(self, factor_id: FactorId) -> Factor:
        """Return the factor with this id."""
        ...

    def find(self, factor_id: FactorId) -> Factor | None:
        """Return the factor with this id, if any."""
        ...

    def update(self, factor: Factor) -> Factor:
        """Replace the stored factor if nobody changed it since it was read."""
        ...

    def remove(self, factor_id: FactorId) -> None:
        """Delete the factor (the audit trail keeps that it existed)."""
        ...

    def list_for_user(self, user_id: UserId) -> Sequence[Factor]:
        """Return the user's factors, pending ones included."""
        ...


class FactorGuardRepository(Protocol):
    """Stores each user's recent wrong codes (F5).

    ``save`` stores a guard whose ``version`` is 0 as new, and otherwise replaces the stored
    one if its version is the same; either way it raises
    :class:`~practiceid.errors.StaleRecord` (``entity="factor_guard"``) when another unit
    of work got there first, and returns the stored value with ``version`` + 1. Concurrent
    wrong codes thus never lose a count.
    """

    def find(self, user_id: UserId) -> FactorGuard | None:
        """Return the user's guard, if they ever entered a wrong code."""
        ...

    def save(self, guard: FactorGuard) -> FactorGuard:
        """Store the guard, refusing a stale one."""
        ...


class FactorRequirementRepository(Protocol):
    """Stores whether establishments require a second factor (F5).

    ``save`` as :meth:`FactorGuardRepository.save` (``entity="factor_requirement"``).
    ``required_among`` returns, of the given establishments, those that require one,
    sorted.
    """

    def find(self, establishment_id: EstablishmentId) -> FactorRequirement | None:
        """Return the establishment's requirement, if it ever set one."""
        ...

    def save(self, requirement: FactorRequirement) -> FactorRequirement:
        """Store the requirement, refusing a stale one."""
        ...

    def required_among(
        self, establishment_ids: Sequence[EstablishmentId]
    ) -> Sequence[EstablishmentId]:
        """Return those of ``establishment_ids`` that require a second factor, sorted."""
        ...


class FactorUnitOfWork(AccessUnitOfWork, Protocol):
    """An :class:`~practiceid.ports.AccessUnitOfWork` that also reaches key pairs and factors."""

    @property
    def key_pairs(self) -> KeyPairRepository:
        """The users' key pairs of this unit of work."""
        ...

    @property
    def factors(self) -> FactorRepository:
        """The second factors of this unit of work."""
        ...

    @property
    def factor_guards(self) -> FactorGuardRepository:
        """The users' wrong-code guards of this unit of work."""
        ...

    @property
    def factor_requirements(self) -> FactorRequirementRepository:
        """The establishments' second-factor requirements of this unit of work."""
        ...


FactorUnitOfWorkFactory: TypeAlias = Callable[[], FactorUnitOfWork]
