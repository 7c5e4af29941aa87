"""Licenses: who pays for a seat, and until when it lets them sign and bill (E1-E4, B4).

One :class:`License` per member of an establishment. Its ``kind`` says what the seat costs
(:class:`LicenseKind`: physician, locum physician, staff), its ``status`` where it stands in
the lifecycle of source 000::

    provisional ─request─▶ requested ─invoice─▶ invoiced ─payment─▶ paid ─activate─▶ active
         │ 45 days                                                                   │
         ▼                                                  notices 30, 7, 1 days ─▶ expiring
      expired ◀───────────────────── the term's end ─────────────────────────────────┘

``valid_from`` / ``valid_until`` are the window the license currently covers (the provisional
45 days, or the paid year), as a half-open interval of instants: ``valid_until`` is the first
instant *not* covered, the local midnight after the last day. A free license (staff) has no
end. The moves between statuses are pure functions in :mod:`practiceid.policies.license`;
the calendar they follow (time zone, last day, leap years) is in ``docs/licenses.md``.

A pending or last activation is a :class:`LicenseRequest`: what was asked (name, INAMI or
RPPS number, practice: E2), the invoice it went on, the payment, the activation deadline
(payment + one month) and when the activation happened, late or not.

>>> from datetime import UTC, datetime
>>> from practiceid.establishments import EstablishmentId
>>> from practiceid.users import UserId
>>> start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
>>> seat = License(
...     establishment_id=EstablishmentId("e-1"),
...     user_id=UserId("u-1"),
...     kind=LicenseKind.PHYSICIAN,
...     status=LicenseStatus.PROVISIONAL,
...     created_at=start,
... )
>>> seat.kind.paying, LicenseKind.STAFF.paying
(True, False)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

import attrs

from practiceid.errors import InvalidConfiguration
from practiceid.establishments import EstablishmentId, ProductKind
from practiceid.users import UserId

__all__ = [
    "LICENSE_KINDS",
    "InvoiceLine",
    "InvoiceRequest",
    "License",
    "LicenseKind",
    "LicenseRequest",
    "LicenseStatus",
    "Price",
    "PricePer",
    "PriceTable",
]


class LicenseKind(enum.StrEnum):
    """What a member's seat is and what it costs (E3, E4)."""

    PHYSICIAN = "physician"
    """A paying practitioner: general practitioners and specialists (E3), the veterinarian
    (source 003), the dentist."""
    LOCUM = "locum"
    """A locum physician: paid, with its own fee (E4, source 003)."""
    STAFF = "staff"
    """Paramedics, reception, employees: free, never expires (E3, E4)."""

    @property
    def paying(self) -> bool:
        """True for the kinds that are invoiced."""
        return self is not LicenseKind.STAFF


LICENSE_KINDS: Mapping[ProductKind, frozenset[LicenseKind]] = MappingProxyType(
    {
        ProductKind.GENERAL_PRACTICE: frozenset({LicenseKind.PHYSICIAN, LicenseKind.STAFF}),
        ProductKind.HOSPITAL: frozenset({LicenseKind.PHYSICIAN, LicenseKind.STAFF}),
        # Beitary: physician, locum physician (extra monthly fee), employee (E4, source 003).
        ProductKind.VETERINARY: frozenset(LicenseKind),
        ProductKind.DENTAL: frozenset({LicenseKind.PHYSICIAN, LicenseKind.STAFF}),
    }
)
"""The license kinds each product offers (E4). Which professions pay is in
:data:`~practiceid.PROFESSION_RULES` (``pays_license``, E3)."""


class LicenseStatus(enum.StrEnum):
    """Where a license stands (E1, E2). The first seven are stored; the last two are shown."""

    PROVISIONAL = "provisional"
    """The 45 days a new physician gets at once; allows locum work (E1)."""
    REQUESTED = "requested"
    """Activation requested with name, INAMI number and practice (E2)."""
    INVOICED = "invoiced"
    """On an invoice naming the INAMI numbers (E2)."""
    PAID = "paid"
    """The invoice is paid; activation is due within one month (E2)."""
    ACTIVE = "active"
    """Activated for one year (E2). Free licenses are always active."""
    EXPIRING = "expiring"
    """Active, and the first expiry notice was sent."""
    EXPIRED = "expired"
    """The window ended (provisional or paid) with no activation after it."""
    SUSPENDED = "suspended"
    """Shown, never stored: the member's account or membership is deactivated (A6)."""
    UNLICENSED = "unlicensed"
    """Shown, never stored: a member whose profession pays has no license yet."""


@attrs.frozen
class LicenseRequest:
    """An activation request and what followed it: invoice, payment, activation (E2, B4).

    What was asked is a snapshot taken when the request was made: the practitioner's
    ``first_name`` and ``last_name``, their ``identifier`` (the compact INAMI number in
    Belgium, RPPS in France; ``identifier_kind`` says which), the ``practice`` name, the
    ``kind`` and the ``months`` asked for. ``bill_to`` is who the invoice line is billed
    to: the practitioner, or a trainee's supervisor (B4).

    ``activation_due_at`` is the first instant at which an activation is late (the local
    midnight after payment day + one month); ``late_reported_at`` when the lateness was
    reported, by the sweep or by a late activation.
    """

    requested_at: datetime
    requested_by: UserId
    kind: LicenseKind
    months: int
    first_name: str
    last_name: str
    identifier_kind: str
    identifier: str
    practice: str
    bill_to: UserId
    invoice_number: str | None = None
    invoiced_at: datetime | None = None
    amount: Decimal | None = None
    currency: str | None = None
    paid_at: datetime | None = None
    activation_due_at: datetime | None = None
    late_reported_at: datetime | None = None
    activated_at: datetime | None = None

    @property
    def activated_late(self) -> bool:
        """True when the activation came at or after its deadline."""
        return (
            self.activated_at is not None
            and self.activation_due_at is not None
            and self.activated_at >= self.activation_due_at
        )


@attrs.frozen
class License:
    """A member's license in one establishment (E1-E4).

    * ``kind`` and ``status``: see :class:`LicenseKind`, :class:`LicenseStatus`.
    * ``valid_from`` / ``valid_until``: the window covered now, ``valid_until`` exclusive
      (None: a free license, no end). ``provisional_until`` is the end of the provisional
      45 days, set once and never moved (E1).
    * ``notices_sent``: expiry notices sent for the current window; ``lapsed_at``: when the
      sweep recorded its end.
    * ``pending``: the activation in progress (requested, invoiced or paid), None otherwise;
      ``activation``: the last activation done (:class:`LicenseRequest`, with its payment).
    * ``resume``: the status a withdrawn request, or a switch back from a free kind, returns
      to.
    * ``due_at``: the next moment the sweep must look at the license (a notice, the end, a
      late activation), None when nothing is scheduled.
    """

    establishment_id: EstablishmentId
    user_id: UserId
    kind: LicenseKind
    status: LicenseStatus
    created_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    provisional_until: datetime | None = None
    notices_sent: int = 0
    lapsed_at: datetime | None = None
    pending: LicenseRequest | None = None
    activation: LicenseRequest | None = None
    resume: LicenseStatus | None = None
    due_at: datetime | None = None
    version: int = 0

    @property
    def key(self) -> tuple[EstablishmentId, UserId]:
        """The (establishment, user) pair that identifies the license."""
        return (self.establishment_id, self.user_id)

    @property
    def free(self) -> bool:
        """True for a free license (staff): never invoiced, never expires."""
        return not self.kind.paying


class PricePer(enum.StrEnum):
    """The unit a price is quoted in."""

    YEAR = "year"
    MONTH = "month"


_CENT = Decimal("0.01")


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidConfiguration("a price is a Decimal, an int or a str", field="amount")
    try:
        amount = Decimal(value)
        cents = amount.quantize(_CENT) if amount.is_finite() else None
    except ArithmeticError:  # not a number, or too large to count in cents
        cents = None
    if cents is None or amount < 0 or amount != cents:
        raise InvalidConfiguration(
            "a price is zero or more, in cents at most", field="amount", minimum="0"
        )
    return cents.copy_abs()  # -0 is 0


_CURRENCY = re.compile(r"[A-Z]{3}")


def _currency(value: object) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidConfiguration("a currency is an ISO 4217 code (EUR)", field="currency")
    return value


def _per(value: object) -> PricePer:
    try:
        return PricePer(value if isinstance(value, str) else "")
    except ValueError:
        raise InvalidConfiguration("a price is per year or per month", field="per") from None


@attrs.frozen
class Price:
    """What one license kind costs: ``amount`` per ``per`` in ``currency`` (host data, E4)."""

    amount: Decimal = attrs.field(converter=_amount)
    currency: str = attrs.field(default="EUR", converter=_currency)
    per: PricePer = attrs.field(default=PricePer.YEAR, converter=_per)

    def for_months(self, months: int) -> Decimal:
        """Return the amount for ``months`` months, rounded half up to the cent."""
        total = self.amount * months  # exact; one division at most, last
        if self.per is PricePer.YEAR:
            total /= 12
        return total.quantize(_CENT, rounding="ROUND_HALF_UP")


def _prices(
    values: Mapping[tuple[ProductKind, LicenseKind], Price] | Iterable[tuple[object, object]],
) -> Mapping[tuple[ProductKind, LicenseKind], Price]:
    items = values.items() if isinstance(values, Mapping) else values
    table: dict[tuple[ProductKind, LicenseKind], Price] = {}
    for key, price in items:
        if (
            not isinstance(key, tuple)
            or len(key) != 2  # noqa: PLR2004 - a (product, kind) pair
            or not isinstance(key[0], ProductKind)
            or not isinstance(key[1], LicenseKind)
            or not isinstance(price, Price)
        ):
            raise InvalidConfiguration(
                "prices map (ProductKind, LicenseKind) to a Price", field="prices"
            )
        if not key[1].paying:
            raise InvalidConfiguration("staff licenses are free (E3)", field="prices")
        table[key[0], key[1]] = price
    return MappingProxyType(table)


@attrs.frozen
class PriceTable:
    """The prices the host charges, per product and paying license kind (E2, E4).

    >>> table = PriceTable({(ProductKind.VETERINARY, LicenseKind.LOCUM): Price("35", per="month")})
    >>> table.price(ProductKind.VETERINARY, LicenseKind.LOCUM).for_months(12)
    Decimal('420.00')
    """

    prices: Mapping[tuple[ProductKind, LicenseKind], Price] = attrs.field(
        factory=dict, converter=_prices
    )

    def price(self, product: ProductKind, kind: LicenseKind) -> Price:
        """Return the price of ``kind`` in ``product``.

        Raises:
            InvalidConfiguration: no price for it (``field="prices"``, ``product``, ``kind``).
        """
        found = self.prices.get((product, kind))
        if found is None:
            raise InvalidConfiguration(
                "no price for this license kind", field="prices", product=product, kind=kind
            )
        return found


@attrs.frozen
class InvoiceLine:
    """One license on an invoice: whose, which number, what period, how much (E2, B4).

    ``identifier`` is the INAMI (or RPPS) number the invoice names (E2). ``bill_to`` is the
    practitioner, or for a trainee their supervisor, whose account and enterprise number
    the line is billed to (B4): ``via_supervisor`` tells.
    """

    user_id: UserId
    first_name: str
    last_name: str
    identifier_kind: str
    identifier: str
    kind: LicenseKind
    months: int
    amount: Decimal
    currency: str
    bill_to: UserId

    @property
    def via_supervisor(self) -> bool:
        """True when a trainee's line is billed to their supervisor (B4)."""
        return self.bill_to != self.user_id


def _lines(values: Iterable[InvoiceLine]) -> tuple[InvoiceLine, ...]:
    return tuple(values)


@attrs.frozen
class InvoiceRequest:
    """What a host turns into its own invoice: the practice and one line per license (E2).

    ``invoice_number`` is the host's number once :meth:`~practiceid.LicenseService.invoice`
    recorded it, None in a preview. Amounts come from the host's :class:`PriceTable`;
    free licenses never appear (E3).
    """

    establishment_id: EstablishmentId
    practice: str
    product: ProductKind
    lines: tuple[InvoiceLine, ...] = attrs.field(converter=_lines)
    invoice_number: str | None = None
    issued_at: datetime | None = None

    @property
    def currency(self) -> str | None:
        """The currency of the lines (one per invoice), None for an empty invoice."""
        return self.lines[0].currency if self.lines else None

    @property
    def total(self) -> Decimal:
        """The sum of the lines."""
        return sum((line.amount for line in self.lines), Decimal("0.00"))
