"""The license lifecycle as pure functions: provisional, requested, invoiced, paid, active (E1-E4).

Each move takes a :class:`~practiceid.License`, the time and what the move needs, and
returns a :class:`Step`: the new license and the messages it sends. A move that does not
apply raises :class:`~practiceid.errors.IllegalLicenseTransition`; :data:`TRANSITIONS` lists
the legal ones. Nothing here reads a clock or storage; :class:`~practiceid.LicenseService`
does, and writes the step and its messages in one unit of work.

**The calendar.** Licenses count whole days in the practice's time zone
(:attr:`LicenseSettings.time_zone`, ``Europe/Brussels`` by default), and a window ends at
the local midnight after its last day, exclusive:

* a provisional license started on 1 March, at any hour, covers 45 days counting that day:
  through 14 April, ending at 15 April 00:00 local time (E1);
* a term activated on 10 March 2026 covers one year: through 9 March 2027;
* a term that starts on a day its last month lacks (29 February, 31 January) covers
  through the end of that shorter month: from 29 February 2028, through 28 February 2029;
* the activation is due at most one month after the payment day, through the end of the
  same day of the next month or, when that month is shorter, of its last day: paid on
  31 January, due by the end of 28 February (29 in a leap year) (E2);
* notices go at the start of the local day 30, 7 and 1 days before the end.

>>> from datetime import UTC, datetime
>>> from practiceid.establishments import EstablishmentId
>>> from practiceid.licenses import LicenseKind
>>> from practiceid.users import UserId
>>> settings = LicenseSettings()
>>> step = provision(
...     EstablishmentId("e-1"),
...     UserId("u-1"),
...     LicenseKind.PHYSICIAN,
...     now=datetime(2026, 3, 1, 21, 30, tzinfo=UTC),  # 22:30 in Brussels
...     settings=settings,
... )
>>> step.license.status, last_day(step.license, settings)
(<LicenseStatus.PROVISIONAL: 'provisional'>, datetime.date(2026, 4, 14))
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from practiceid.errors import (
    IllegalLicenseTransition,
    InvalidConfiguration,
    LicenseRejected,
    Violation,
)
from practiceid.establishments import EstablishmentId
from practiceid.invitations import MessageKind
from practiceid.licenses import License, LicenseKind, LicenseRequest, LicenseStatus
from practiceid.permissions import Permission
from practiceid.users import UserId

__all__ = [
    "LICENSED_PERMISSIONS",
    "TRANSITIONS",
    "Command",
    "LicenseSettings",
    "Step",
    "activate",
    "activation_deadline",
    "change_kind",
    "check",
    "day_start",
    "entitled",
    "invoice",
    "last_day",
    "local_day",
    "months_after",
    "next_due",
    "notice_times",
    "provision",
    "record_payment",
    "request",
    "status_at",
    "tick",
    "withdraw",
]

LICENSED_PERMISSIONS: Final[frozenset[Permission]] = frozenset(
    {
        Permission.PATIENTS_EDIT,
        Permission.CONSULTATIONS_EDIT,
        Permission.CONSULTATIONS_SIGN,
        Permission.CONSULTATIONS_LOCK,
        Permission.DOCUMENTS_ISSUE,
        Permission.DOCUMENTS_SEND,
        Permission.PAYMENTS_RECORD,
    }
)
"""The acts a license must allow: writing, signing, sending and billing in one's own name.

Reading (``patients.view``, ``documents.view``, the agenda) and administration (members,
roles, licenses: one must be able to renew) never need one. A host changes the set with
:attr:`LicenseSettings.licensed`.
"""

_MAX_NOTICES: Final = 5


class Command(enum.StrEnum):
    """The moves of the lifecycle, as ``IllegalLicenseTransition`` names them."""

    PROVISION = "provision"
    REQUEST = "request"
    INVOICE = "invoice"
    RECORD_PAYMENT = "record_payment"
    ACTIVATE = "activate"
    WITHDRAW = "withdraw"
    CHANGE_KIND = "change_kind"


_S = LicenseStatus
_C = Command

TRANSITIONS: Mapping[LicenseStatus, frozenset[Command]] = MappingProxyType(
    {
        _S.PROVISIONAL: frozenset({_C.REQUEST, _C.CHANGE_KIND}),
        _S.REQUESTED: frozenset({_C.INVOICE, _C.WITHDRAW}),
        _S.INVOICED: frozenset({_C.RECORD_PAYMENT, _C.WITHDRAW}),
        _S.PAID: frozenset({_C.ACTIVATE}),
        _S.ACTIVE: frozenset({_C.REQUEST, _C.CHANGE_KIND}),
        _S.EXPIRING: frozenset({_C.REQUEST, _C.CHANGE_KIND}),
        _S.EXPIRED: frozenset({_C.REQUEST, _C.CHANGE_KIND}),
    }
)
"""The commands each status accepts, at the time of the command (after any expiry the clock
implies). A free license (staff) accepts only ``change_kind``. The sweep (:func:`tick`)
applies to every status."""


def _whole(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidConfiguration(
            f"{field} must be an integer from {low} to {high}",
            field=field,
            minimum=low,
            maximum=high,
        )
    return value


def _notice_days(values: Iterable[int]) -> tuple[int, ...]:
    raw: object = values
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise InvalidConfiguration("notice_days is a sequence of days", field="notice_days")
    return tuple(raw)


def _licensed(values: Iterable[Permission]) -> frozenset[Permission]:
    raw: object = values
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        raise InvalidConfiguration("licensed is a set of permissions", field="licensed")
    return frozenset(raw)


@attrs.frozen
class LicenseSettings:
    """The periods of the license lifecycle, checked within bounds (E1, E2).

    Args:
        provisional_days: how many days, counting the first, a new physician's provisional
            license covers (45, E1; 1 to 365).
        term_months: how many months an activation covers (12, E2; 1 to 36).
        activation_months: how many months after the payment day the activation is due at
            the latest (1, E2; 1 to 12).
        notice_days: how many days before the end each expiry notice goes
            (30, 7 and 1; at most 5, decreasing, each 1 to 365).
        time_zone: the IANA zone whose days the calendar counts (``Europe/Brussels``).
        licensed: the permissions a license must allow (:data:`LICENSED_PERMISSIONS`).
        desk_address: the vendor's license desk, told of each request and late activation
            (E2); None tells nobody but the practice.

    Raises:
        InvalidConfiguration: a value out of bounds (``params``: ``field``, the bounds).
    """

    provisional_days: int = 45
    term_months: int = 12
    activation_months: int = 1
    notice_days: tuple[int, ...] = attrs.field(default=(30, 7, 1), converter=_notice_days)
    time_zone: str = "Europe/Brussels"
    licensed: frozenset[Permission] = attrs.field(default=LICENSED_PERMISSIONS, converter=_licensed)
    desk_address: str | None = None
    _zone: ZoneInfo = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        _whole("provisional_days", self.provisional_days, 1, 365)
        _whole("term_months", self.term_months, 1, 36)
        _whole("activation_months", self.activation_months, 1, 12)
        if len(self.notice_days) > _MAX_NOTICES:
            raise InvalidConfiguration("at most 5 notices", field="notice_days", maximum=5)
        for days in self.notice_days:
            _whole("notice_days", days, 1, 365)
        if list(self.notice_days) != sorted(set(self.notice_days), reverse=True):
            raise InvalidConfiguration("notice days decrease", field="notice_days")
        if not all(isinstance(p, Permission) for p in self.licensed):
            raise InvalidConfiguration("licensed holds Permission values", field="licensed")
        name: object = self.time_zone
        try:
            zone = ZoneInfo(name) if isinstance(name, str) else None
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder
            zone = None
        if zone is None:
            raise InvalidConfiguration(
                "an IANA time zone, such as Europe/Brussels", field="time_zone"
            )
        object.__setattr__(self, "_zone", zone)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of :attr:`time_zone`."""
        return self._zone


@attrs.frozen
class Step:
    """What a move produced: the new license and the messages it sends, in order."""

    license: License
    messages: tuple[MessageKind, ...] = ()


# -- the calendar -----------------------------------------------------------------------------


def local_day(at: datetime, settings: LicenseSettings) -> date:
    """Return the practice's calendar day at the instant ``at``."""
    return at.astimezone(settings.zone).date()


def day_start(day: date, settings: LicenseSettings) -> datetime:
    """Return the instant (UTC) the practice's calendar day ``day`` starts: its midnight."""
    return datetime.combine(day, time(), tzinfo=settings.zone).astimezone(UTC)


def months_after(day: date, months: int) -> date:
    """Return the first day *after* a period of ``months`` months starting on ``day``.

    The same day of the month, ``months`` later; when that month is too short for it, the
    first of the month after, so the period covers the short month to its end.

    >>> months_after(date(2026, 3, 10), 12), months_after(date(2028, 2, 29), 12)
    (datetime.date(2027, 3, 10), datetime.date(2029, 3, 1))
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if day.day <= calendar.monthrange(year, month)[1]:
        return date(year, month, day.day)
    return date(year + month // 12, month % 12 + 1, 1)


def _same_day_or_last(day: date, months: int) -> date:
    """The same day of the month ``months`` later, or that month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def activation_deadline(paid_at: datetime, settings: LicenseSettings) -> datetime:
    """Return the first instant at which an activation of a payment made at ``paid_at`` is late.

    Due through the end of the same day ``activation_months`` later, or that month's last
    day: the local midnight after it (E2).
    """
    last = _same_day_or_last(local_day(paid_at, settings), settings.activation_months)
    return day_start(last + timedelta(days=1), settings)


def _provisional_until(now: datetime, settings: LicenseSettings) -> datetime:
    return day_start(local_day(now, settings) + timedelta(days=settings.provisional_days), settings)


def last_day(seat: License, settings: LicenseSettings) -> date | None:
    """Return the last day the license's window covers, inclusive; None for no end."""
    if seat.valid_until is None or seat.free:
        return None
    return local_day(seat.valid_until - timedelta(microseconds=1), settings)


def notice_times(seat: License, settings: LicenseSettings) -> tuple[datetime, ...]:
    """Return when the expiry notices of the license's window go, earliest first.

    The start of the local day ``notice_days`` before the end; a notice that would fall at
    or before the window's start is not sent.
    """
    if seat.valid_until is None:
        return ()
    end = local_day(seat.valid_until, settings)
    start = seat.valid_from
    times = (day_start(end - timedelta(days=days), settings) for days in settings.notice_days)
    return tuple(t for t in times if start is None or t > start)


# -- reading the state ---------------------------------------------------------------------


_ENDING: Final = frozenset(
    {_S.PROVISIONAL, _S.REQUESTED, _S.INVOICED, _S.ACTIVE, _S.EXPIRING, _S.EXPIRED}
)
"""Statuses whose rights end with the window (a paid license keeps them until activation).

``expired`` is here for a window that ended before any sweep saw it and was stored expired
by another move (a withdrawn request, a kind changed back): the sweep still records and
announces its end, once (``lapsed_at``)."""


def _ends(seat: License) -> bool:
    return (
        seat.kind.paying
        and seat.valid_until is not None
        and seat.lapsed_at is None
        and seat.status in _ENDING
    )


def status_at(seat: License, now: datetime, settings: LicenseSettings) -> LicenseStatus:
    """Return the status at ``now``, even before the sweep stores it.

    A window past its end is expired, a term in its notice period expiring; a free license
    is always active.
    """
    status = seat.status
    if seat.free:
        return _S.ACTIVE
    until = seat.valid_until
    if status in {_S.PROVISIONAL, _S.ACTIVE, _S.EXPIRING} and until is not None and now >= until:
        return _S.EXPIRED
    if status is _S.ACTIVE:
        times = notice_times(seat, settings)
        if times and now >= times[0]:
            return _S.EXPIRING
    return status


def entitled(seat: License, now: datetime) -> bool:
    """Return whether the license allows the licensed acts at ``now`` (docs/licenses.md).

    Free licenses always do. A paid license does while its activation is pending: the
    practice paid, the vendor's delay is not theirs. Every other status does while its
    window runs: provisional (E1, locum work included), requested and invoiced within the
    provisional or current term, active and expiring. Expired does not.
    """
    if seat.free or seat.status is _S.PAID:
        return True
    return seat.valid_until is not None and now < seat.valid_until


def _unreported_deadline(seat: License) -> datetime | None:
    """A paid license's activation deadline, while no lateness was reported; else None."""
    pending = seat.pending
    if seat.status is not _S.PAID or pending is None or pending.late_reported_at is not None:
        return None
    return pending.activation_due_at


def next_due(seat: License, settings: LicenseSettings) -> datetime | None:
    """Return the next moment the sweep must look at the license, None for never."""
    candidates: list[datetime] = []
    deadline = _unreported_deadline(seat)
    if deadline is not None:
        candidates.append(deadline)
    if _ends(seat):
        assert seat.valid_until is not None  # noqa: S101 - _ends checked it
        waiting = notice_times(seat, settings)[seat.notices_sent :]
        candidates.extend(waiting[:1])
        candidates.append(seat.valid_until)
    return min(candidates, default=None)


def _scheduled(seat: License, settings: LicenseSettings) -> License:
    return attrs.evolve(seat, due_at=next_due(seat, settings))


def _refuse(seat: License, command: Command, status: LicenseStatus, **extra: object) -> None:
    raise IllegalLicenseTransition(
        status=str(status),
        command=str(command),
        establishment_id=seat.establishment_id,
        user_id=seat.user_id,
        **extra,
    )


def check(
    seat: License, command: Command, now: datetime, settings: LicenseSettings
) -> LicenseStatus:
    """Return the status at ``now`` if ``command`` applies to it; raise otherwise.

    For a service that must refuse a move before it gathers what the move needs.

    Raises:
        IllegalLicenseTransition: not in :data:`TRANSITIONS`, or a free license.
    """
    return _expect(seat, command, now, settings)


def _expect(
    seat: License, command: Command, now: datetime, settings: LicenseSettings
) -> LicenseStatus:
    status = status_at(seat, now, settings)
    if seat.free and command is not _C.CHANGE_KIND:
        _refuse(seat, command, status, kind=str(seat.kind))
    if command not in TRANSITIONS.get(status, frozenset()):
        _refuse(seat, command, status)
    return status


# -- the moves --------------------------------------------------------------------------------


def provision(
    establishment_id: EstablishmentId,
    user_id: UserId,
    kind: LicenseKind,
    *,
    now: datetime,
    settings: LicenseSettings,
) -> Step:
    """Return a new member's license.

    Provisional for 45 days if ``kind`` pays (E1), free and active otherwise (E3).
    """
    if not kind.paying:
        return Step(
            License(
                establishment_id=establishment_id,
                user_id=user_id,
                kind=kind,
                status=_S.ACTIVE,
                created_at=now,
                valid_from=now,
            )
        )
    return Step(_provisional(establishment_id, user_id, kind, now, settings))


def _provisional(
    establishment_id: EstablishmentId,
    user_id: UserId,
    kind: LicenseKind,
    now: datetime,
    settings: LicenseSettings,
    *,
    created_at: datetime | None = None,
    version: int = 0,
) -> License:
    until = _provisional_until(now, settings)
    fresh = License(
        establishment_id=establishment_id,
        user_id=user_id,
        kind=kind,
        status=_S.PROVISIONAL,
        created_at=now if created_at is None else created_at,
        valid_from=now,
        valid_until=until,
        provisional_until=until,
        version=version,
    )
    return _scheduled(fresh, settings)


def request(
    seat: License, now: datetime, settings: LicenseSettings, *, asked: LicenseRequest
) -> Step:
    """Record an activation request (E2): ``asked`` names the practitioner, number, practice.

    From provisional, active, expiring or expired (a renewal); the window keeps running.
    """
    status = _expect(seat, _C.REQUEST, now, settings)
    requested = attrs.evolve(seat, status=_S.REQUESTED, pending=asked, resume=status)
    return Step(_scheduled(requested, settings), (MessageKind.LICENSE_REQUESTED,))


def invoice(
    seat: License,
    now: datetime,
    settings: LicenseSettings,
    *,
    number: str,
    amount: Decimal,
    currency: str,
) -> Step:
    """Record that the request went on invoice ``number`` for ``amount`` (E2)."""
    _expect(seat, _C.INVOICE, now, settings)
    assert seat.pending is not None  # noqa: S101 - requested implies it
    pending = attrs.evolve(
        seat.pending, invoice_number=number, invoiced_at=now, amount=amount, currency=currency
    )
    return Step(_scheduled(attrs.evolve(seat, status=_S.INVOICED, pending=pending), settings))


def record_payment(
    seat: License, now: datetime, settings: LicenseSettings, *, paid_at: datetime
) -> Step:
    """Record the invoice's payment, received at ``paid_at``.

    The activation is then due within one month (E2).

    Raises:
        LicenseRejected: ``license.paid_at_invalid``, a payment in the future or before the
            invoice.
    """
    _expect(seat, _C.RECORD_PAYMENT, now, settings)
    pending = seat.pending
    assert pending is not None  # noqa: S101 - invoiced implies it
    assert pending.invoiced_at is not None  # noqa: S101
    if paid_at > now or paid_at < pending.invoiced_at:
        raise LicenseRejected(
            [
                Violation(
                    "license.paid_at_invalid",
                    "a payment is received after its invoice and not in the future",
                    "paid_at",
                )
            ]
        )
    paid = attrs.evolve(
        pending, paid_at=paid_at, activation_due_at=activation_deadline(paid_at, settings)
    )
    return Step(_scheduled(attrs.evolve(seat, status=_S.PAID, pending=paid), settings))


def activate(seat: License, now: datetime, settings: LicenseSettings) -> Step:
    """Activate a paid license for its term (E2).

    The term starts now, or, for a renewal of a term still running, when that term ends: no
    day paid for is lost. An activation at or after its deadline is late: it is reported
    (``license_activation_late``) unless the sweep already did.
    """
    _expect(seat, _C.ACTIVATE, now, settings)
    pending = seat.pending
    assert pending is not None  # noqa: S101 - paid implies it
    assert pending.activation_due_at is not None  # noqa: S101
    renewal = (
        seat.resume in {_S.ACTIVE, _S.EXPIRING}
        and seat.valid_until is not None
        and seat.lapsed_at is None
        and now < seat.valid_until
    )
    start = seat.valid_until if renewal and seat.valid_until is not None else now
    until = day_start(months_after(local_day(start, settings), pending.months), settings)
    messages = [MessageKind.LICENSE_ACTIVATED]
    late_reported_at = pending.late_reported_at
    if now >= pending.activation_due_at and late_reported_at is None:
        late_reported_at = now
        messages.append(MessageKind.LICENSE_ACTIVATION_LATE)
    done = attrs.evolve(pending, activated_at=now, late_reported_at=late_reported_at)
    active = attrs.evolve(
        seat,
        status=_S.ACTIVE,
        valid_from=start,
        valid_until=until,
        notices_sent=0,
        lapsed_at=None,
        pending=None,
        activation=done,
        resume=None,
    )
    return Step(_scheduled(active, settings), tuple(messages))


def _resumed(seat: License, status: LicenseStatus | None) -> LicenseStatus:
    if status is None or (status in {_S.PROVISIONAL, _S.ACTIVE, _S.EXPIRING} and seat.lapsed_at):
        return _S.EXPIRED
    return status


def withdraw(seat: License, now: datetime, settings: LicenseSettings) -> Step:
    """Withdraw a request not yet paid (the invoice, if any, is voided by the host).

    The license returns to where it was before the request, after any expiry since.
    """
    _expect(seat, _C.WITHDRAW, now, settings)
    back = attrs.evolve(seat, status=_resumed(seat, seat.resume), pending=None, resume=None)
    return Step(_scheduled(back, settings))


def change_kind(
    seat: License, now: datetime, settings: LicenseSettings, *, kind: LicenseKind
) -> Step:
    """Change the license kind (E4), never while an activation is in progress.

    Physician and locum keep the window. To staff the license becomes free and active.
    From staff to a paying kind it returns to where it was before; a license that was
    always free starts its provisional 45 days (E1).
    """
    _expect(seat, _C.CHANGE_KIND, now, settings)
    if kind is seat.kind:
        return Step(seat)
    if not kind.paying:
        free = attrs.evolve(
            seat,
            kind=kind,
            status=_S.ACTIVE,
            resume=status_at(seat, now, settings),
            due_at=None,
        )
        return Step(free)
    if seat.kind.paying:
        return Step(_scheduled(attrs.evolve(seat, kind=kind), settings))
    if seat.provisional_until is None:
        return Step(
            _provisional(
                seat.establishment_id,
                seat.user_id,
                kind,
                now,
                settings,
                created_at=seat.created_at,
                version=seat.version,
            )
        )
    paying = attrs.evolve(seat, kind=kind, status=_resumed(seat, seat.resume), resume=None)
    return Step(_scheduled(paying, settings))


def tick(seat: License, now: datetime, settings: LicenseSettings) -> Step | None:
    """Apply what is due at ``now``: the late-activation report, the expiry, the latest notice.

    Returns None when nothing is due. Idempotent: a second tick at the same time returns
    None. A sweep that ran late sends only the latest notice due, not every one it missed.
    """
    current = seat
    messages: list[MessageKind] = []
    deadline = _unreported_deadline(current)
    if deadline is not None and now >= deadline and current.pending is not None:
        reported = attrs.evolve(current.pending, late_reported_at=now)
        current = attrs.evolve(current, pending=reported)
        messages.append(MessageKind.LICENSE_ACTIVATION_LATE)
    if _ends(current):
        assert current.valid_until is not None  # noqa: S101 - _ends checked it
        times = notice_times(current, settings)
        if now >= current.valid_until:
            status: LicenseStatus = (
                _S.EXPIRED
                if current.status in {_S.PROVISIONAL, _S.ACTIVE, _S.EXPIRING}
                else current.status
            )
            current = attrs.evolve(current, status=status, lapsed_at=now, notices_sent=len(times))
            messages.append(MessageKind.LICENSE_EXPIRED)
        else:
            reached = sum(1 for t in times if t <= now)
            if reached > current.notices_sent:
                status = _S.EXPIRING if current.status is _S.ACTIVE else current.status
                current = attrs.evolve(current, status=status, notices_sent=reached)
                messages.append(MessageKind.LICENSE_EXPIRING)
    current = _scheduled(current, settings)
    if current == seat:
        return None
    return Step(current, tuple(messages))
