"""Repository port for licenses (E1-E4), and the unit of work that reaches them.

Values in, values out, as for users; usable only inside their unit of work's ``with`` block;
a refused ``add`` or ``update`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

from practiceid.ports.onboarding import OnboardingUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from practiceid.establishments import EstablishmentId
    from practiceid.licenses import License, LicenseStatus
    from practiceid.users import UserId

__all__ = ["LicenseRepository", "LicenseUnitOfWork", "LicenseUnitOfWorkFactory"]


class LicenseRepository(Protocol):
    """Stores one :class:`~practiceid.License` per (establishment, user).

    Error contract:

    * ``add`` raises :class:`~practiceid.errors.DuplicateRecord` (``entity="license"``,
      ``establishment_id``, ``user_id``) when the member has a license there;
    * ``get`` and ``update`` raise :class:`~practiceid.errors.LicenseNotFound`
      (``establishment_id``, ``user_id``);
    * ``update`` raises :class:`~practiceid.errors.StaleRecord` (``entity="license"``) when
      the stored ``version`` differs, and returns the stored value with ``version`` + 1;
    * ``reserve_invoice`` raises :class:`~practiceid.errors.DuplicateRecord`
      (``entity="invoice"``, ``id`` and ``invoice_number`` the number) when the number was
      reserved before, by any establishment, even if its licenses left it since: invoice
      numbering is continuous, a voided number is never given again. The check and the
      write are one atomic step (a unique key in SQL): of concurrent reservations of one
      number, exactly one commits. A refused reservation changes nothing and leaves the
      unit of work usable; a rolled-back one frees the number.

    Lists are ordered by ``(establishment_id, user_id)``. ``with_invoice`` returns the
    licenses whose pending activation (``pending``) or last activation (``activation``) went
    on this invoice number; ``with_status`` those
    whose stored status is ``status`` (the vendor's desk: what to invoice, what is paid and
    not activated). Both cost in proportion to what they return (indexes).

    ``claim_due`` returns the licenses whose ``due_at`` is at or before ``now``, earliest
    first (then by key), at most ``limit``, in proportion to what it returns. Licenses it
    returns are held until the unit of work ends: a concurrent ``claim_due`` skips them
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
    """

    def add(self, seat: License) -> None:
        """Store the first license of a member in an establishment."""
        ...

    def get(self, establishment_id: EstablishmentId, user_id: UserId) -> License:
        """Return the member's license."""
        ...

    def find(self, establishment_id: EstablishmentId, user_id: UserId) -> License | None:
        """Return the member's license, if any."""
        ...

    def update(self, seat: License) -> License:
        """Replace the stored license if nobody changed it since it was read."""
        ...

    def list_for_establishment(self, establishment_id: EstablishmentId) -> Sequence[License]:
        """Return the establishment's licenses."""
        ...

    def list_for_user(self, user_id: UserId) -> Sequence[License]:
        """Return the user's licenses, in every establishment."""
        ...

    def with_invoice(self, invoice_number: str) -> Sequence[License]:
        """Return the licenses whose pending or last activation is on this invoice."""
        ...

    def with_status(self, status: LicenseStatus) -> Sequence[License]:
        """Return the licenses stored with this status."""
        ...

    def reserve_invoice(
        self, invoice_number: str, *, establishment_id: EstablishmentId, issued_at: datetime
    ) -> None:
        """Store ``invoice_number`` as used, by ``establishment_id`` at ``issued_at``, for good."""
        ...

    def claim_due(self, *, now: datetime, limit: int) -> Sequence[License]:
        """Return and hold up to ``limit`` licenses due at ``now``, earliest ``due_at`` first."""
        ...


class LicenseUnitOfWork(OnboardingUnitOfWork, Protocol):
    """An :class:`~practiceid.ports.OnboardingUnitOfWork` that also reaches licenses.

    One transaction: a license's change and the messages it sends are committed together.
    """

    @property
    def licenses(self) -> LicenseRepository:
        """The licenses of this unit of work."""
        ...


LicenseUnitOfWorkFactory: TypeAlias = Callable[[], LicenseUnitOfWork]
"""What :class:`~practiceid.LicenseService` takes: a callable returning a fresh unit of work."""
