"""The license lifecycle as pure functions: calendar, windows, notices, activation (E1-E4, B4).

Examples pin the rules of source 000 and 003 on the practice's calendar (Europe/Brussels by
default): a provisional license covers 45 local days counting its first (E1); an activation
covers twelve months and is due at the latest the same day of the month after the payment,
or that month's last day (E2); staff licenses are free and never end (E3, E4); notices go at
the local midnight 30, 7 and 1 days before the end. Calendar edges: both daylight-saving
changes, a start at 23:30 UTC that is already the next day in Brussels, leap years, other
time zones. Every boundary is tried a microsecond before, exactly at and a microsecond after.

Properties draw settings within their bounds, time zones with awkward midnights and random
histories of moves, and check what must hold for every one of them: the sweep is idempotent
and acts exactly when ``due_at`` has come; a provisional window never covers more than
``provisional_days`` local days; an expired license is never entitled; every refused move
names the status and the command, as :data:`TRANSITIONS` says.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from practiceid import (
    EstablishmentId,
    IllegalLicenseTransition,
    InvalidConfiguration,
    License,
    LicenseKind,
    LicenseRejected,
    LicenseRequest,
    LicenseStatus,
    MessageKind,
    Permission,
    Price,
    PricePer,
    PriceTable,
    ProductKind,
    UserId,
)
from practiceid.policies.license import (
    LICENSED_PERMISSIONS,
    TRANSITIONS,
    Command,
    LicenseSettings,
    Step,
    activate,
    activation_deadline,
    change_kind,
    check,
    day_start,
    entitled,
    invoice,
    last_day,
    local_day,
    months_after,
    next_due,
    notice_times,
    provision,
    record_payment,
    request,
    status_at,
    tick,
    withdraw,
)

S, K, C = LicenseStatus, LicenseKind, Command
DEFAULT = LicenseSettings()
BRUSSELS = ZoneInfo("Europe/Brussels")
US, HOUR, DAY = timedelta(microseconds=1), timedelta(hours=1), timedelta(days=1)
ESTABLISHMENT, USER, ADMIN = EstablishmentId("e-exemple"), UserId("u-exemple"), UserId("u-admin")
INAMI = "14000068003"  # made up: the sample practice's number


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, zone: str = ""
) -> datetime:
    """The instant (UTC) of a wall-clock time in ``zone`` (Brussels by default)."""
    tz = ZoneInfo(zone) if zone else BRUSSELS
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


def midnight(year: int, month: int, day: int, settings: LicenseSettings = DEFAULT) -> datetime:
    """The instant the practice's local day starts."""
    return day_start(date(year, month, day), settings)


T0 = local(2026, 3, 2, 10)  # Monday 2 March 2026, 10:00 in Brussels


def asked(at: datetime, *, months: int = 12, kind: LicenseKind = K.PHYSICIAN) -> LicenseRequest:
    return LicenseRequest(
        requested_at=at,
        requested_by=ADMIN,
        kind=kind,
        months=months,
        first_name="Jeanne",
        last_name="Exemple",
        identifier_kind="inami",
        identifier=INAMI,
        practice="Cabinet de l'Exemple",
        bill_to=USER,
    )


def provisional(
    at: datetime = T0, settings: LicenseSettings = DEFAULT, kind: LicenseKind = K.PHYSICIAN
) -> License:
    return provision(ESTABLISHMENT, USER, kind, now=at, settings=settings).license


def free(at: datetime = T0) -> License:
    return provisional(at, kind=K.STAFF)


def requested(seat: License, at: datetime, settings: LicenseSettings = DEFAULT) -> License:
    return request(seat, at, settings, asked=asked(at, months=settings.term_months)).license


def invoiced(seat: License, at: datetime, settings: LicenseSettings = DEFAULT) -> License:
    return invoice(
        seat, at, settings, number="F-2026-001", amount=Decimal("480.00"), currency="EUR"
    ).license


def paid(
    seat: License,
    at: datetime,
    settings: LicenseSettings = DEFAULT,
    *,
    paid_at: datetime | None = None,
) -> License:
    return record_payment(seat, at, settings, paid_at=at if paid_at is None else paid_at).license


def through_payment(seat: License, at: datetime, settings: LicenseSettings = DEFAULT) -> License:
    """Request, invoice and pay, all at ``at``."""
    return paid(invoiced(requested(seat, at, settings), at, settings), at, settings)


def activated(at: datetime, settings: LicenseSettings = DEFAULT, start: datetime = T0) -> License:
    """A license provisional from ``start``, paid and activated at ``at``."""
    seat = through_payment(provisional(start, settings), at, settings)
    return activate(seat, at, settings).license


def ticked(seat: License, at: datetime, settings: LicenseSettings = DEFAULT) -> Step:
    step = tick(seat, at, settings)
    assert step is not None
    return step


def covered_days(seat: License, settings: LicenseSettings = DEFAULT) -> int:
    """How many local days the window covers, its first and last included."""
    assert seat.valid_from is not None
    last = last_day(seat, settings)
    assert last is not None
    return (last - local_day(seat.valid_from, settings)).days + 1


# -- strategies --------------------------------------------------------------------------------

# Zones with awkward midnights: Havana and Santiago skip or repeat the hour around midnight,
# Lord Howe shifts by half an hour, Auckland and Montreal are far from Brussels.
ZONES = (
    "Europe/Brussels",
    "Europe/Paris",
    "America/Montreal",
    "Pacific/Auckland",
    "America/Havana",
    "America/Santiago",
    "Australia/Lord_Howe",
    "UTC",
)

instants = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001 - bounds of aware datetimes drawn in UTC
    max_value=datetime(2040, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31))


def offsets(high: timedelta) -> st.SearchStrategy[timedelta]:
    return st.timedeltas(min_value=timedelta(0), max_value=high)


@st.composite
def license_settings(draw: st.DrawFn) -> LicenseSettings:
    """Valid settings: any periods within their bounds, up to 5 decreasing notices, a zone."""
    notices = draw(st.lists(st.integers(1, 365), max_size=5, unique=True))
    return LicenseSettings(
        provisional_days=draw(st.integers(1, 365)),
        term_months=draw(st.integers(1, 36)),
        activation_months=draw(st.integers(1, 12)),
        notice_days=sorted(notices, reverse=True),
        time_zone=draw(st.sampled_from(ZONES)),
    )


# -- settings --------------------------------------------------------------------------------


def test_default_settings_are_those_of_sources_000_and_003():
    assert DEFAULT.provisional_days == 45  # E1
    assert DEFAULT.term_months == 12  # E2
    assert DEFAULT.activation_months == 1  # E2
    assert DEFAULT.notice_days == (30, 7, 1)
    assert DEFAULT.time_zone == "Europe/Brussels"
    assert DEFAULT.zone == BRUSSELS
    assert DEFAULT.licensed == LICENSED_PERMISSIONS
    assert DEFAULT.desk_address is None


def test_the_licensed_acts_are_writing_signing_sending_and_billing_never_reading():
    assert Permission.CONSULTATIONS_SIGN in LICENSED_PERMISSIONS
    assert Permission.PAYMENTS_RECORD in LICENSED_PERMISSIONS
    assert Permission.PATIENTS_VIEW not in LICENSED_PERMISSIONS
    assert Permission.DOCUMENTS_VIEW not in LICENSED_PERMISSIONS
    assert Permission.LICENSES_REQUEST not in LICENSED_PERMISSIONS  # one must be able to renew


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provisional_days", 0),
        ("provisional_days", 366),
        ("provisional_days", -45),
        ("provisional_days", True),
        ("provisional_days", 45.0),
        ("provisional_days", "45"),
        ("provisional_days", None),
        ("term_months", 0),
        ("term_months", 37),
        ("term_months", False),
        ("term_months", 12.0),
        ("term_months", None),
        ("activation_months", 0),
        ("activation_months", 13),
        ("activation_months", True),
        ("activation_months", "1"),
        ("notice_days", (0,)),
        ("notice_days", (366,)),
        ("notice_days", (30, -1)),
        ("notice_days", (True,)),
        ("notice_days", ("30",)),
        ("notice_days", (30.0,)),
        ("notice_days", (60, 30, 14, 7, 2, 1)),  # six notices
        ("notice_days", None),
        ("notice_days", 30),
        ("time_zone", "Europe/Bruxelles"),
        ("time_zone", "europe/brussels"),
        ("time_zone", ""),
        ("time_zone", "../../etc/passwd"),
        ("time_zone", "/etc/localtime"),
        ("time_zone", "Europe"),  # a folder of the database, not a zone
        ("time_zone", "Europe/Brussels\x00"),
        ("time_zone", None),
        ("time_zone", 1),
        ("time_zone", BRUSSELS),
        ("licensed", ["patients.edit"]),
        ("licensed", [Permission.PATIENTS_EDIT, "consultations.sign"]),
        ("licensed", None),
    ],
)
def test_each_setting_out_of_bounds_is_refused_naming_its_field(field, value):
    with pytest.raises(InvalidConfiguration) as caught:
        LicenseSettings(**{field: value})
    assert caught.value.code == "config.invalid"
    assert caught.value.params["field"] == field


@pytest.mark.parametrize(
    ("field", "value", "bounds"),
    [
        ("provisional_days", 366, (1, 365)),
        ("term_months", 0, (1, 36)),
        ("activation_months", 13, (1, 12)),
        ("notice_days", (400,), (1, 365)),
    ],
)
def test_a_setting_out_of_bounds_names_its_bounds(field, value, bounds):
    with pytest.raises(InvalidConfiguration) as caught:
        LicenseSettings(**{field: value})
    assert (caught.value.params["minimum"], caught.value.params["maximum"]) == bounds


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provisional_days", 1),
        ("provisional_days", 365),
        ("term_months", 1),
        ("term_months", 36),
        ("activation_months", 1),
        ("activation_months", 12),
        ("notice_days", ()),
        ("notice_days", (365,)),
        ("notice_days", (1,)),
        ("notice_days", (365, 90, 30, 7, 1)),
        ("time_zone", "UTC"),
        ("time_zone", "America/Montreal"),
        ("time_zone", "Pacific/Auckland"),
        ("licensed", frozenset()),
    ],
)
def test_each_setting_at_its_bound_is_accepted(field, value):
    assert getattr(LicenseSettings(**{field: value}), field) == value


@pytest.mark.parametrize("notices", [(7, 30), (30, 30), (30, 7, 7, 1), (1, 7, 30), (30, 1, 7)])
def test_notice_days_must_strictly_decrease(notices):
    with pytest.raises(InvalidConfiguration) as caught:
        LicenseSettings(notice_days=notices)
    assert caught.value.params["field"] == "notice_days"


def test_notice_days_and_licensed_take_any_iterable():
    settings = LicenseSettings(notice_days=iter([60, 30]), licensed=[Permission.CONSULTATIONS_SIGN])
    assert settings.notice_days == (60, 30)
    assert settings.licensed == frozenset({Permission.CONSULTATIONS_SIGN})


def test_settings_compare_by_value_and_carry_their_zone():
    zoned = LicenseSettings(time_zone="Pacific/Auckland")
    assert zoned == LicenseSettings(time_zone="Pacific/Auckland")
    assert zoned != DEFAULT
    assert zoned.zone == ZoneInfo("Pacific/Auckland")


@given(license_settings())
def test_settings_drawn_within_the_bounds_are_accepted(settings):
    assert list(settings.notice_days) == sorted(settings.notice_days, reverse=True)
    assert settings.zone == ZoneInfo(settings.time_zone)


# -- provisional license (E1) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "at",
    [
        local(2026, 3, 2),  # the first instant of 2 March in Brussels
        local(2026, 3, 2) + US,
        local(2026, 3, 2, 10),
        local(2026, 3, 2, 23, 59),
        local(2026, 3, 3) - US,  # the last instant of 2 March
    ],
)
def test_a_provisional_license_covers_45_days_counting_the_day_it_starts_at_any_hour(at):
    step = provision(ESTABLISHMENT, USER, K.PHYSICIAN, now=at, settings=DEFAULT)
    seat = step.license
    assert step.messages == ()
    assert (seat.status, seat.kind, seat.created_at, seat.valid_from) == (
        S.PROVISIONAL,
        K.PHYSICIAN,
        at,
        at,
    )
    assert last_day(seat, DEFAULT) == date(2026, 4, 15)  # 2 March + 44 days
    assert seat.valid_until == seat.provisional_until == local(2026, 4, 16)
    assert covered_days(seat) == 45
    assert (seat.notices_sent, seat.pending, seat.activation, seat.resume) == (0, None, None, None)


def test_a_provisional_license_is_entitled_until_the_last_microsecond_of_its_last_day():
    seat = provisional()
    end = local(2026, 4, 16)
    assert status_at(seat, end - US, DEFAULT) is S.PROVISIONAL
    assert entitled(seat, end - US)
    assert status_at(seat, end, DEFAULT) is S.EXPIRED
    assert not entitled(seat, end)
    assert status_at(seat, end + 1000 * DAY, DEFAULT) is S.EXPIRED


def test_a_start_at_23_30_utc_is_already_the_next_day_in_brussels():
    at = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 March in Brussels
    seat = provisional(at)
    assert local_day(at, DEFAULT) == date(2026, 3, 2)
    assert last_day(seat, DEFAULT) == date(2026, 4, 15)
    assert seat.valid_until == datetime(2026, 4, 15, 22, 0, tzinfo=UTC)  # CEST: UTC+2
    earlier = provisional(datetime(2026, 3, 1, 22, 59, tzinfo=UTC))  # 23:59 on 1 March
    assert last_day(earlier, DEFAULT) == date(2026, 4, 14)


def test_the_provisional_window_spanning_the_march_change_is_45_days_less_an_hour():
    seat = provisional(local(2026, 3, 1, 12))  # summer time starts on 29 March 2026
    assert last_day(seat, DEFAULT) == date(2026, 4, 14)
    assert seat.valid_until == datetime(2026, 4, 14, 22, 0, tzinfo=UTC)
    assert seat.valid_until - local(2026, 3, 1) == 45 * DAY - HOUR
    assert covered_days(seat) == 45


def test_the_provisional_window_spanning_the_october_change_is_45_days_and_an_hour():
    seat = provisional(local(2026, 10, 1, 12))  # winter time starts on 25 October 2026
    assert last_day(seat, DEFAULT) == date(2026, 11, 14)
    assert seat.valid_until == datetime(2026, 11, 14, 23, 0, tzinfo=UTC)
    assert seat.valid_until - local(2026, 10, 1) == 45 * DAY + HOUR
    assert covered_days(seat) == 45


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 01:30 CET, before the missing hour
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 03:30 CEST, after it
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST, the first time
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET, the second time
    ],
)
def test_a_start_during_a_daylight_saving_change_counts_that_day(at):
    seat = provisional(at)
    start = local_day(at, DEFAULT)
    assert start.day in {25, 29}
    assert last_day(seat, DEFAULT) == start + timedelta(days=44)
    assert seat.valid_until is not None
    assert seat.valid_until.astimezone(BRUSSELS).time() == time(0)


@pytest.mark.parametrize(
    ("zone", "at", "last"),
    [
        # 12:00 UTC on 1 March: already 2 March, 01:00, in Auckland
        ("Pacific/Auckland", datetime(2026, 3, 1, 12, 0, tzinfo=UTC), date(2026, 4, 15)),
        ("Europe/Brussels", datetime(2026, 3, 1, 12, 0, tzinfo=UTC), date(2026, 4, 14)),
        # 03:00 UTC on 2 March: still 1 March, 22:00, in Montreal
        ("America/Montreal", datetime(2026, 3, 2, 3, 0, tzinfo=UTC), date(2026, 4, 14)),
        ("Europe/Brussels", datetime(2026, 3, 2, 3, 0, tzinfo=UTC), date(2026, 4, 15)),
    ],
)
def test_days_are_counted_in_the_practice_time_zone(zone, at, last):
    settings = LicenseSettings(time_zone=zone)
    seat = provisional(at, settings)
    assert last_day(seat, settings) == last
    assert seat.valid_until == day_start(last + DAY, settings)
    assert seat.valid_until.astimezone(ZoneInfo(zone)).time() == time(0)


def test_another_provisional_period_is_counted_the_same_way():
    settings = LicenseSettings(provisional_days=1, notice_days=())
    seat = provisional(local(2026, 3, 2, 23, 59), settings)
    assert seat.valid_until == local(2026, 3, 3)  # only the day it started
    assert covered_days(seat, settings) == 1


@given(license_settings(), instants)
def test_a_provisional_window_covers_exactly_provisional_days_local_days(settings, at):
    seat = provisional(at, settings)
    first = local_day(at, settings)
    assert seat.valid_until == seat.provisional_until
    assert seat.valid_until == day_start(
        first + timedelta(days=settings.provisional_days), settings
    )
    assert last_day(seat, settings) == first + timedelta(days=settings.provisional_days - 1)
    assert covered_days(seat, settings) == settings.provisional_days
    assert seat.valid_until > at
    assert status_at(seat, seat.valid_until - US, settings) is S.PROVISIONAL
    assert status_at(seat, seat.valid_until, settings) is S.EXPIRED
    assert entitled(seat, seat.valid_until - US)
    assert not entitled(seat, seat.valid_until)


# -- free licenses (E3, E4) --------------------------------------------------------------------


def test_a_staff_license_is_free_active_at_once_and_never_ends():
    step = provision(ESTABLISHMENT, USER, K.STAFF, now=T0, settings=DEFAULT)
    seat = step.license
    assert step.messages == ()
    assert seat.free
    assert not K.STAFF.paying
    assert K.PHYSICIAN.paying
    assert K.LOCUM.paying
    assert (seat.status, seat.valid_from, seat.valid_until, seat.provisional_until) == (
        S.ACTIVE,
        T0,
        None,
        None,
    )
    assert (seat.due_at, next_due(seat, DEFAULT), notice_times(seat, DEFAULT)) == (None, None, ())
    assert last_day(seat, DEFAULT) is None
    for later in (T0, T0 + 45 * DAY, T0 + 400 * DAY, T0 + 100 * 365 * DAY):
        assert status_at(seat, later, DEFAULT) is S.ACTIVE
        assert entitled(seat, later)
        assert tick(seat, later, DEFAULT) is None


@pytest.mark.parametrize(
    "command", [C.REQUEST, C.INVOICE, C.RECORD_PAYMENT, C.ACTIVATE, C.WITHDRAW]
)
def test_a_free_license_refuses_every_move_but_a_change_of_kind_naming_its_kind(command):
    seat = free()
    with pytest.raises(IllegalLicenseTransition) as caught:
        _attempt(command, seat, T0 + DAY)
    assert caught.value.code == "license.illegal_transition"
    assert caught.value.params == {
        "status": "active",
        "command": str(command),
        "establishment_id": ESTABLISHMENT,
        "user_id": USER,
        "kind": "staff",
    }
    with pytest.raises(IllegalLicenseTransition) as checked:
        check(seat, command, T0 + DAY, DEFAULT)
    assert checked.value.params == caught.value.params
    assert check(seat, C.CHANGE_KIND, T0 + DAY, DEFAULT) is S.ACTIVE


def test_a_license_that_was_always_free_starts_its_45_days_when_it_becomes_paying():
    seat = free()
    now = T0 + 100 * DAY
    step = change_kind(seat, now, DEFAULT, kind=K.PHYSICIAN)
    after = step.license
    assert step.messages == ()
    assert (after.kind, after.status, after.created_at, after.valid_from) == (
        K.PHYSICIAN,
        S.PROVISIONAL,
        T0,
        now,
    )
    assert (
        after.provisional_until
        == after.valid_until
        == day_start(local_day(now, DEFAULT) + 45 * DAY, DEFAULT)
    )
    assert after.due_at == next_due(after, DEFAULT)


def test_the_provisional_45_days_come_once_in_a_license_life():
    seat = provisional()
    first_end = seat.provisional_until
    back = seat
    for n, kind in enumerate([K.STAFF, K.PHYSICIAN, K.STAFF, K.LOCUM], start=1):
        back = change_kind(back, T0 + n * 20 * DAY, DEFAULT, kind=kind).license
        assert back.provisional_until == first_end
    assert (back.kind, back.status, back.valid_until) == (K.LOCUM, S.EXPIRED, first_end)
    assert not entitled(back, T0 + 80 * DAY)


def test_changing_to_staff_keeps_where_the_license_stood_and_changing_back_resumes_there():
    seat = provisional()
    to_staff = change_kind(seat, T0 + DAY, DEFAULT, kind=K.STAFF).license
    assert (to_staff.status, to_staff.resume, to_staff.due_at) == (S.ACTIVE, S.PROVISIONAL, None)
    assert to_staff.free
    assert tick(to_staff, T0 + 60 * DAY, DEFAULT) is None  # free: the window does not end
    back = change_kind(to_staff, T0 + 2 * DAY, DEFAULT, kind=K.PHYSICIAN).license
    assert back == attrs.evolve(seat, due_at=back.due_at)
    assert (back.status, back.resume, back.valid_until) == (S.PROVISIONAL, None, seat.valid_until)


def test_changing_back_to_paying_after_the_window_ended_finds_it_expired():
    seat = provisional()
    to_staff = change_kind(seat, T0 + DAY, DEFAULT, kind=K.STAFF).license
    later = T0 + 60 * DAY
    back = change_kind(to_staff, later, DEFAULT, kind=K.PHYSICIAN).license
    assert status_at(back, later, DEFAULT) is S.EXPIRED
    assert not entitled(back, later)
    step = ticked(back, later)
    assert step.messages == (MessageKind.LICENSE_EXPIRED,)


def test_physician_and_locum_keep_the_window_when_switching():
    seat = activated(T0 + DAY)
    locum = change_kind(seat, T0 + 2 * DAY, DEFAULT, kind=K.LOCUM).license
    assert locum == attrs.evolve(seat, kind=K.LOCUM)
    assert change_kind(locum, T0 + 3 * DAY, DEFAULT, kind=K.PHYSICIAN).license == seat


def test_changing_to_the_same_kind_changes_nothing():
    for seat in (provisional(), free(), activated(T0 + DAY)):
        step = change_kind(seat, T0 + 2 * DAY, DEFAULT, kind=seat.kind)
        assert step == Step(seat)


@pytest.mark.parametrize("stage", ["requested", "invoiced", "paid"])
def test_the_kind_never_changes_while_an_activation_is_in_progress(stage):
    seat = requested(provisional(), T0 + DAY)
    if stage != "requested":
        seat = invoiced(seat, T0 + DAY)
    if stage == "paid":
        seat = paid(seat, T0 + DAY)
    for kind in K:
        with pytest.raises(IllegalLicenseTransition) as caught:
            change_kind(seat, T0 + 2 * DAY, DEFAULT, kind=kind)
        assert caught.value.params["status"] == stage
        assert caught.value.params["command"] == "change_kind"
        assert "kind" not in caught.value.params


# -- request, invoice, payment, activation (E2, B4) ------------------------------------------


def test_a_request_snapshots_what_was_asked_and_keeps_the_window_running():
    seat = provisional()
    what = asked(T0 + DAY)
    step = request(seat, T0 + DAY, DEFAULT, asked=what)
    after = step.license
    assert step.messages == (MessageKind.LICENSE_REQUESTED,)
    assert (after.status, after.pending, after.resume) == (S.REQUESTED, what, S.PROVISIONAL)
    assert (after.valid_from, after.valid_until) == (seat.valid_from, seat.valid_until)
    assert entitled(after, seat.valid_until - US)
    assert not entitled(after, seat.valid_until)  # requested is not paid
    assert status_at(after, seat.valid_until, DEFAULT) is S.REQUESTED


def test_a_trainee_request_names_who_the_invoice_is_billed_to():
    supervisor = UserId("u-maitre-de-stage")
    what = attrs.evolve(asked(T0), bill_to=supervisor)
    after = request(provisional(), T0, DEFAULT, asked=what).license
    assert after.pending is not None
    assert after.pending.bill_to == supervisor  # B4


def test_an_invoice_records_its_number_amount_and_time():
    seat = requested(provisional(), T0 + DAY)
    step = invoice(
        seat, T0 + 2 * DAY, DEFAULT, number="F-2026-042", amount=Decimal("480.00"), currency="EUR"
    )
    pending = step.license.pending
    assert step.messages == ()
    assert step.license.status is S.INVOICED
    assert pending is not None
    assert (pending.invoice_number, pending.invoiced_at, pending.amount, pending.currency) == (
        "F-2026-042",
        T0 + 2 * DAY,
        Decimal("480.00"),
        "EUR",
    )


def test_a_payment_makes_the_license_paid_and_entitled_with_its_activation_deadline():
    seat = invoiced(requested(provisional(), T0), T0)
    at = local(2026, 3, 15, 23, 59)
    step = record_payment(seat, at + HOUR, DEFAULT, paid_at=at)
    after = step.license
    assert step.messages == ()
    assert after.status is S.PAID
    assert after.pending is not None
    assert after.pending.paid_at == at
    assert after.pending.activation_due_at == local(2026, 4, 16)  # due through 15 April
    assert after.due_at == local(2026, 4, 16)  # paid: the window's notices wait
    assert entitled(after, after.valid_until + 1000 * DAY)  # paid: the vendor's delay
    assert status_at(after, after.valid_until + DAY, DEFAULT) is S.PAID


@pytest.mark.parametrize(
    ("shift", "accepted"),
    [
        ("before invoice", False),
        ("at invoice", True),
        ("between", True),
        ("now", True),
        ("future", False),
    ],
)
def test_a_payment_is_received_after_its_invoice_and_not_in_the_future(shift, accepted):
    invoiced_at, now = T0 + DAY, T0 + 5 * DAY
    seat = invoiced(requested(provisional(), T0), invoiced_at)
    paid_at = {
        "before invoice": invoiced_at - US,
        "at invoice": invoiced_at,
        "between": invoiced_at + 2 * DAY,
        "now": now,
        "future": now + US,
    }[shift]
    if accepted:
        after = record_payment(seat, now, DEFAULT, paid_at=paid_at).license
        assert after.pending is not None
        assert after.pending.paid_at == paid_at
        return
    with pytest.raises(LicenseRejected) as caught:
        record_payment(seat, now, DEFAULT, paid_at=paid_at)
    assert caught.value.code == "license.rejected"
    assert caught.value.codes == ("license.paid_at_invalid",)
    assert caught.value.violations[0].field == "paid_at"


def test_an_activation_covers_twelve_months_from_the_day_it_happens():
    at = local(2026, 3, 10, 15)
    step = activate(through_payment(provisional(), at), at, DEFAULT)
    seat = step.license
    assert step.messages == (MessageKind.LICENSE_ACTIVATED,)
    assert (seat.status, seat.valid_from, seat.valid_until) == (S.ACTIVE, at, local(2027, 3, 10))
    assert last_day(seat, DEFAULT) == date(2027, 3, 9)
    assert (seat.pending, seat.resume, seat.notices_sent, seat.lapsed_at) == (None, None, 0, None)
    assert seat.activation is not None
    assert seat.activation.activated_at == at
    assert seat.activation.paid_at == at
    assert not seat.activation.activated_late
    assert seat.provisional_until == local(2026, 4, 16)  # kept: set once, never moved
    assert seat.due_at == local(2027, 2, 8)  # the first notice, 30 days before 10 March


def test_an_activation_on_29_february_covers_through_28_february_of_the_next_year():
    at = local(2028, 2, 29, 11)
    seat = activated(at, start=local(2028, 2, 1))
    assert seat.valid_until == local(2029, 3, 1)
    assert last_day(seat, DEFAULT) == date(2029, 2, 28)
    assert covered_days(seat) == 366


def test_an_activation_on_31_january_for_one_month_covers_february_to_its_end():
    settings = LicenseSettings(term_months=1, notice_days=(7,))
    at = local(2027, 1, 31, 9)
    seat = activated(at, settings, start=local(2027, 1, 20))
    assert last_day(seat, settings) == date(2027, 2, 28)
    assert seat.valid_until == local(2027, 3, 1)


@pytest.mark.parametrize(
    ("paid_on", "last_day_due"),
    [
        (local(2027, 1, 31, 10), date(2027, 2, 28)),
        (local(2028, 1, 31, 10), date(2028, 2, 29)),  # leap year
        (local(2028, 1, 30, 10), date(2028, 2, 29)),
        (local(2028, 1, 29, 10), date(2028, 2, 29)),
        (local(2028, 1, 28, 10), date(2028, 2, 28)),
        (local(2026, 3, 31, 10), date(2026, 4, 30)),
        (local(2026, 12, 31, 10), date(2027, 1, 31)),
        (local(2026, 3, 15), date(2026, 4, 15)),  # the first instant of the day
        (local(2026, 3, 16) - US, date(2026, 4, 15)),  # the last instant of the day
        (datetime(2026, 3, 15, 23, 30, tzinfo=UTC), date(2026, 4, 16)),  # 16 March in Brussels
    ],
)
def test_the_activation_is_due_through_the_same_day_next_month_or_its_last_day(
    paid_on, last_day_due
):
    due = activation_deadline(paid_on, DEFAULT)
    assert due == day_start(last_day_due + DAY, DEFAULT)
    assert local_day(due - US, DEFAULT) == last_day_due


def test_an_activation_deadline_across_the_october_change_is_32_days_and_an_hour():
    paid_on = local(2026, 10, 1)
    due = activation_deadline(paid_on, DEFAULT)
    assert due == local(2026, 11, 2)
    assert due - paid_on == 32 * DAY + HOUR  # calendar days, not 24-hour days


def test_an_activation_deadline_counts_the_months_setting():
    settings = LicenseSettings(activation_months=3)
    assert activation_deadline(local(2027, 11, 30, 12), settings) == day_start(
        date(2028, 3, 1), settings
    )


def test_an_activation_a_microsecond_before_its_deadline_is_on_time():
    seat = through_payment(provisional(), T0)
    due = local(2026, 4, 3)
    assert seat.pending is not None
    assert seat.pending.activation_due_at == due
    step = activate(seat, due - US, DEFAULT)
    assert step.messages == (MessageKind.LICENSE_ACTIVATED,)
    assert step.license.activation is not None
    assert step.license.activation.late_reported_at is None
    assert not step.license.activation.activated_late


@pytest.mark.parametrize("after", [timedelta(0), US, 40 * DAY])
def test_an_activation_at_or_after_its_deadline_reports_the_lateness_itself(after):
    seat = through_payment(provisional(), T0)
    now = local(2026, 4, 3) + after
    step = activate(seat, now, DEFAULT)
    assert step.messages == (MessageKind.LICENSE_ACTIVATED, MessageKind.LICENSE_ACTIVATION_LATE)
    record = step.license.activation
    assert record is not None
    assert (record.activated_at, record.late_reported_at) == (now, now)
    assert record.activated_late


def test_the_sweep_reports_a_late_activation_once_and_the_activation_not_again():
    seat = through_payment(provisional(), T0)
    due = local(2026, 4, 3)
    assert tick(seat, due - US, DEFAULT) is None
    step = ticked(seat, due)
    assert MessageKind.LICENSE_ACTIVATION_LATE in step.messages
    reported = step.license
    assert reported.pending is not None
    assert reported.pending.late_reported_at == due
    assert (reported.due_at, next_due(reported, DEFAULT)) == (None, None)
    assert tick(reported, due, DEFAULT) is None
    assert tick(reported, due + 100 * DAY, DEFAULT) is None
    done = activate(reported, due + 2 * DAY, DEFAULT)
    assert done.messages == (MessageKind.LICENSE_ACTIVATED,)
    assert done.license.activation is not None
    assert done.license.activation.late_reported_at == due
    assert done.license.activation.activated_late


def test_a_paid_license_is_due_only_at_its_activation_deadline_not_at_its_window_end():
    seat = through_payment(provisional(), T0 + 44 * DAY)  # last provisional day: 15 April
    assert seat.pending is not None
    assert seat.due_at == seat.pending.activation_due_at == local(2026, 5, 16)
    assert tick(seat, seat.valid_until, DEFAULT) is None  # paid: the window's end is not sent


def test_a_renewal_before_the_end_starts_at_the_old_end_so_no_day_is_lost():
    seat = activated(local(2026, 3, 10, 15))
    end = local(2027, 3, 10)
    asked_at = end - 40 * DAY  # before the first notice
    renewal = paid(invoiced(requested(seat, asked_at), asked_at), end - 20 * DAY)
    assert renewal.resume is S.ACTIVE
    now = end - 5 * DAY
    step = activate(renewal, now, DEFAULT)
    after = step.license
    assert step.messages == (MessageKind.LICENSE_ACTIVATED,)
    assert (after.valid_from, after.valid_until) == (end, local(2028, 3, 10))
    assert last_day(after, DEFAULT) == date(2028, 3, 9)
    assert local_day(after.valid_from, DEFAULT) == last_day(seat, DEFAULT) + DAY
    assert after.notices_sent == 0
    assert status_at(after, now, DEFAULT) is S.ACTIVE
    assert entitled(after, end - US)
    assert entitled(after, end)
    assert tick(after, end, DEFAULT) is None  # the old end is no end any more


def test_a_renewal_from_expiring_after_the_notices_also_starts_at_the_old_end():
    seat = activated(local(2026, 3, 10, 15))
    end = local(2027, 3, 10)
    expiring = ticked(seat, end - 2 * DAY).license
    assert (expiring.status, expiring.notices_sent) == (S.EXPIRING, 2)
    renewal = through_payment(expiring, end - DAY)
    assert renewal.resume is S.EXPIRING
    after = activate(renewal, end - US, DEFAULT).license
    assert (after.status, after.valid_from, after.notices_sent) == (S.ACTIVE, end, 0)


@pytest.mark.parametrize("late", [timedelta(0), US, 3 * DAY])
def test_a_renewal_activated_at_or_after_the_end_starts_at_the_activation(late):
    seat = activated(local(2026, 3, 10, 15))
    end = local(2027, 3, 10)
    renewal = through_payment(seat, end - 10 * DAY)
    now = end + late
    after = activate(renewal, now, DEFAULT).license
    assert after.valid_from == now
    assert after.valid_until == day_start(months_after(local_day(now, DEFAULT), 12), DEFAULT)


def test_a_renewal_after_the_sweep_expired_the_license_starts_at_the_activation():
    seat = activated(local(2026, 3, 10, 15))
    end = local(2027, 3, 10)
    expired = ticked(seat, end).license
    assert (expired.status, expired.lapsed_at) == (S.EXPIRED, end)
    now = end + 20 * DAY
    renewal = through_payment(expired, now)
    assert renewal.resume is S.EXPIRED
    after = activate(renewal, now, DEFAULT).license
    assert (after.valid_from, after.lapsed_at, after.status) == (now, None, S.ACTIVE)


def test_a_renewal_requested_before_the_end_but_lapsed_meanwhile_starts_at_the_activation():
    seat = activated(local(2026, 3, 10, 15))
    end = local(2027, 3, 10)
    pending = requested(seat, end - DAY)
    lapsed = ticked(pending, end)
    assert lapsed.messages == (MessageKind.LICENSE_EXPIRED,)
    assert (lapsed.license.status, lapsed.license.lapsed_at) == (S.REQUESTED, end)
    assert not entitled(lapsed.license, end)
    now = end + 2 * DAY
    after = activate(paid(invoiced(lapsed.license, now), now), now, DEFAULT).license
    assert after.valid_from == now


def test_withdrawing_returns_to_where_the_license_was_and_to_expired_once_lapsed():
    seat = provisional()
    pending = requested(seat, T0 + DAY)
    back = withdraw(pending, T0 + 2 * DAY, DEFAULT)
    assert back.messages == ()
    assert back.license == seat
    lapsed = ticked(invoiced(pending, T0 + DAY), seat.valid_until).license
    assert withdraw(lapsed, seat.valid_until + DAY, DEFAULT).license.status is S.EXPIRED


def test_withdrawing_a_renewal_keeps_the_term_and_its_notices():
    seat = activated(local(2026, 3, 10, 15))
    expiring = ticked(seat, local(2027, 2, 8)).license
    pending = requested(expiring, local(2027, 2, 9))
    back = withdraw(pending, local(2027, 2, 10), DEFAULT).license
    assert back == expiring


# -- expiry notices and the end --------------------------------------------------------------


def test_notices_go_at_the_local_midnight_30_7_and_1_days_before_the_end_then_it_expires():
    seat = activated(local(2026, 3, 10, 15))
    assert notice_times(seat, DEFAULT) == (
        local(2027, 2, 8),
        local(2027, 3, 3),
        local(2027, 3, 9),  # the start of the last day
    )
    boundaries = [*notice_times(seat, DEFAULT), local(2027, 3, 10)]
    sent = []
    for at in boundaries:
        assert tick(seat, at - US, DEFAULT) is None
        step = ticked(seat, at)
        sent.append((at, step.messages, step.license.status, step.license.notices_sent))
        seat = step.license
        assert tick(seat, at, DEFAULT) is None
        assert tick(seat, at + US, DEFAULT) is None
    assert sent == [
        (local(2027, 2, 8), (MessageKind.LICENSE_EXPIRING,), S.EXPIRING, 1),
        (local(2027, 3, 3), (MessageKind.LICENSE_EXPIRING,), S.EXPIRING, 2),
        (local(2027, 3, 9), (MessageKind.LICENSE_EXPIRING,), S.EXPIRING, 3),
        (local(2027, 3, 10), (MessageKind.LICENSE_EXPIRED,), S.EXPIRED, 3),
    ]
    assert (seat.lapsed_at, seat.due_at) == (local(2027, 3, 10), None)
    assert tick(seat, local(2030, 1, 1), DEFAULT) is None


def test_an_active_license_is_shown_expiring_from_its_first_notice_before_the_sweep():
    seat = activated(local(2026, 3, 10, 15))
    first = local(2027, 2, 8)
    assert status_at(seat, first - US, DEFAULT) is S.ACTIVE
    assert status_at(seat, first, DEFAULT) is S.EXPIRING
    assert entitled(seat, first)


def test_expiry_happens_at_valid_until_exactly():
    seat = activated(local(2026, 3, 10, 15))
    end = local(2027, 3, 10)
    assert seat.valid_until == end
    assert status_at(seat, end - US, DEFAULT) is S.EXPIRING
    assert entitled(seat, end - US)
    assert status_at(seat, end, DEFAULT) is S.EXPIRED
    assert not entitled(seat, end)
    assert status_at(seat, end + US, DEFAULT) is S.EXPIRED


def test_notices_keep_to_local_midnight_across_the_march_change():
    seat = activated(local(2026, 4, 10, 15))  # ends 10 April 2027; summer time 28 March
    times = notice_times(seat, DEFAULT)
    assert times == (local(2027, 3, 11), local(2027, 4, 3), local(2027, 4, 9))
    assert seat.valid_until is not None
    assert seat.valid_until - times[0] == 30 * DAY - HOUR
    assert all(t.astimezone(BRUSSELS).time() == time(0) for t in times)


def test_a_late_sweep_sends_only_the_latest_notice_due():
    seat = activated(local(2026, 3, 10, 15))
    step = ticked(seat, local(2027, 3, 5, 12))  # after the 30- and 7-day notices
    assert step.messages == (MessageKind.LICENSE_EXPIRING,)
    assert (step.license.notices_sent, step.license.due_at) == (2, local(2027, 3, 9))


def test_a_sweep_late_past_the_end_only_expires():
    seat = activated(local(2026, 3, 10, 15))
    step = ticked(seat, local(2027, 4, 1))
    assert step.messages == (MessageKind.LICENSE_EXPIRED,)
    assert (step.license.status, step.license.notices_sent) == (S.EXPIRED, 3)


def test_the_provisional_window_gets_its_notices_and_its_end_too():
    seat = provisional()  # 2 March to 15 April 2026
    assert notice_times(seat, DEFAULT) == (
        local(2026, 3, 17),
        local(2026, 4, 9),
        local(2026, 4, 15),
    )
    assert seat.due_at == local(2026, 3, 17)
    first = ticked(seat, local(2026, 3, 17))
    assert first.messages == (MessageKind.LICENSE_EXPIRING,)
    assert first.license.status is S.PROVISIONAL  # expiring is for active terms
    end = ticked(first.license, local(2026, 4, 16))
    assert end.messages == (MessageKind.LICENSE_EXPIRED,)
    assert end.license.status is S.EXPIRED


def test_a_notice_that_would_fall_before_the_window_starts_is_not_sent():
    settings = LicenseSettings(provisional_days=10, notice_days=(30, 7, 1))
    seat = provisional(T0, settings)
    assert notice_times(seat, settings) == (local(2026, 3, 5), local(2026, 3, 11))
    settings = LicenseSettings(provisional_days=1, notice_days=(1,))
    assert notice_times(provisional(T0, settings), settings) == ()  # the start is the only day


def test_a_requested_license_gets_the_notices_of_the_window_it_still_runs_on():
    seat = requested(provisional(), T0 + DAY)
    step = ticked(seat, local(2026, 3, 17))
    assert step.messages == (MessageKind.LICENSE_EXPIRING,)
    assert step.license.status is S.REQUESTED


# -- the table: every (status, command) pair as TRANSITIONS says ----------------------------


def _active() -> License:
    return activated(local(2026, 3, 10, 15))


def _expiring() -> License:
    return ticked(_active(), local(2027, 2, 8)).license


def _expired() -> License:
    return ticked(provisional(), local(2026, 4, 16)).license


# One license per case, and the time at which to move it.
CASES = {
    "provisional": (provisional, T0 + DAY),
    "requested": (lambda: requested(provisional(), T0), T0 + DAY),
    "invoiced": (lambda: invoiced(requested(provisional(), T0), T0), T0 + DAY),
    "paid": (lambda: through_payment(provisional(), T0), T0 + DAY),
    "active": (_active, local(2026, 6, 1)),
    "expiring": (_expiring, local(2027, 2, 9)),
    "expired": (_expired, local(2026, 5, 1)),
    # the status the clock implies before the sweep stores it
    "provisional past its end": (provisional, local(2026, 4, 16)),
    "active in its notice period": (_active, local(2027, 2, 8)),
    "active past its end": (_active, local(2027, 3, 10)),
    "requested past the window": (lambda: requested(provisional(), T0), local(2026, 4, 16)),
    "paid late": (lambda: through_payment(provisional(), T0), local(2026, 5, 1)),
}
COMMANDS = [C.REQUEST, C.INVOICE, C.RECORD_PAYMENT, C.ACTIVATE, C.WITHDRAW, C.CHANGE_KIND]


def _attempt(command: Command, seat: License, at: datetime) -> Step:
    if command is C.REQUEST:
        return request(seat, at, DEFAULT, asked=asked(at))
    if command is C.INVOICE:
        return invoice(seat, at, DEFAULT, number="F-1", amount=Decimal("480.00"), currency="EUR")
    if command is C.RECORD_PAYMENT:
        return record_payment(seat, at, DEFAULT, paid_at=at)
    if command is C.ACTIVATE:
        return activate(seat, at, DEFAULT)
    if command is C.WITHDRAW:
        return withdraw(seat, at, DEFAULT)
    assert command is C.CHANGE_KIND
    return change_kind(seat, at, DEFAULT, kind=K.STAFF)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(CASES))
def test_each_command_applies_exactly_where_the_table_says(command, case):
    make, at = CASES[case]
    seat = make()
    status = status_at(seat, at, DEFAULT)
    if command not in TRANSITIONS[status]:
        with pytest.raises(IllegalLicenseTransition) as caught:
            _attempt(command, seat, at)
        assert caught.value.code == "license.illegal_transition"
        assert caught.value.params == {
            "status": str(status),
            "command": str(command),
            "establishment_id": ESTABLISHMENT,
            "user_id": USER,
        }
        with pytest.raises(IllegalLicenseTransition) as checked:
            check(seat, command, at, DEFAULT)  # what a service asks before gathering more
        assert checked.value.params == caught.value.params
        return
    assert check(seat, command, at, DEFAULT) is status
    step = _attempt(command, seat, at)
    after = step.license
    expected = {
        C.REQUEST: S.REQUESTED,
        C.INVOICE: S.INVOICED,
        C.RECORD_PAYMENT: S.PAID,
        C.ACTIVATE: S.ACTIVE,
        C.CHANGE_KIND: S.ACTIVE,
    }
    if command is C.WITHDRAW:
        assert after.status in {seat.resume, S.EXPIRED}
        assert after.pending is None
    else:
        assert after.status is expected[command]
    if command in {C.REQUEST, C.CHANGE_KIND}:
        assert after.resume is status
    assert after.due_at == next_due(after, DEFAULT)
    assert after.provisional_until == seat.provisional_until


def test_the_table_covers_the_stored_statuses_and_no_status_is_provisioned_again():
    shown_only = {S.SUSPENDED, S.UNLICENSED}
    assert set(TRANSITIONS) == set(S) - shown_only
    for commands in TRANSITIONS.values():
        assert commands <= set(C) - {C.PROVISION}
    assert {s for s, commands in TRANSITIONS.items() if C.CHANGE_KIND in commands} == {
        S.PROVISIONAL,
        S.ACTIVE,
        S.EXPIRING,
        S.EXPIRED,
    }
    assert isinstance(TRANSITIONS, MappingProxyType)


def test_the_cases_reach_every_status_of_the_table():
    reached = {status_at(make(), at, DEFAULT) for make, at in CASES.values()}
    assert reached == set(TRANSITIONS)


# -- the calendar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "after"),
    [
        (date(2026, 3, 10), 12, date(2027, 3, 10)),
        (date(2028, 2, 29), 12, date(2029, 3, 1)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2027, 1, 31), 1, date(2027, 3, 1)),
        (date(2028, 1, 31), 1, date(2028, 3, 1)),
        (date(2028, 1, 30), 1, date(2028, 3, 1)),
        (date(2028, 1, 29), 1, date(2028, 2, 29)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 8, 31), 1, date(2026, 10, 1)),
        (date(2026, 12, 15), 36, date(2029, 12, 15)),
    ],
)
def test_months_after_is_the_first_day_after_the_period(day, months, after):
    assert months_after(day, months) == after


@given(days, st.integers(1, 36))
def test_months_after_lands_on_the_same_day_or_the_first_of_the_month_after(day, months):
    after = months_after(day, months)
    assert after > day
    shift = (after.year * 12 + after.month) - (day.year * 12 + day.month)
    if shift == months:
        assert after.day == day.day
    else:
        assert shift == months + 1
        assert after.day == 1
        target_year, target_month = divmod(day.year * 12 + day.month - 1 + months, 12)
        assert day.day > calendar.monthrange(target_year, target_month + 1)[1]
    assert 28 * months <= (after - day).days <= 31 * months + 1


@given(days, days, st.integers(1, 36))
def test_months_after_never_goes_back_for_a_later_start(first, second, months):
    early, late = sorted((first, second))
    assert months_after(early, months) <= months_after(late, months)


@given(days, st.integers(1, 36), st.integers(1, 36))
def test_chained_periods_end_no_earlier_and_at_most_three_days_later_than_one_long_one(
    day, first, second
):
    chained = months_after(months_after(day, first), second)
    single = months_after(day, first + second)
    assert single <= chained <= single + timedelta(days=3)


@given(st.sampled_from(ZONES), st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_day_start_is_the_first_instant_of_the_local_day(zone, day):
    settings = LicenseSettings(time_zone=zone)
    start = day_start(day, settings)
    assert start.tzinfo is UTC
    assert local_day(start, settings) == day
    assert local_day(start - US, settings) == day - DAY


@given(license_settings(), instants)
def test_the_activation_is_due_through_the_same_day_months_later_or_that_month_end(
    settings, paid_on
):
    due = activation_deadline(paid_on, settings)
    day = local_day(paid_on, settings)
    last = local_day(due - US, settings)
    assert local_day(due, settings) == last + DAY
    index = day.year * 12 + day.month - 1 + settings.activation_months
    year, month = divmod(index, 12)
    assert (last.year, last.month) == (year, month + 1)
    assert last.day == min(day.day, calendar.monthrange(year, month + 1)[1])


@given(instants, st.sampled_from(ZONES))
@example(datetime(2029, 2, 12, 4, 0, tzinfo=UTC), "America/Montreal")  # exactly 28 days
@example(local(2026, 10, 1), "Europe/Brussels")  # 32 days and an hour
def test_a_one_month_activation_deadline_is_29_to_32_local_days_after_the_payment(paid_on, zone):
    settings = LicenseSettings(time_zone=zone)
    due = activation_deadline(paid_on, settings)
    assert 29 <= (local_day(due, settings) - local_day(paid_on, settings)).days <= 32
    # In instants: 28 to 32 days, give or take the daylight-saving hour (found in Montreal:
    # paid at 23:00 on 11 February 2029, due at midnight on 12 March, summer time since 11).
    assert paid_on + 28 * DAY - HOUR < due <= paid_on + 32 * DAY + HOUR


@given(license_settings(), instants, offsets(800 * DAY))
def test_notices_are_local_midnights_inside_the_window_earliest_first(settings, start, later):
    seat = provisional(start, settings)
    if later > timedelta(0):
        seat = activated(start + later, settings, start=start)
    times = notice_times(seat, settings)
    assert list(times) == sorted(set(times))
    assert len(times) <= len(settings.notice_days)
    assert seat.valid_until is not None
    assert seat.valid_from is not None
    end = local_day(seat.valid_until, settings)
    for at in times:
        assert seat.valid_from < at < seat.valid_until
        assert at == day_start(local_day(at, settings), settings)
        assert (end - local_day(at, settings)).days in settings.notice_days


@given(license_settings(), instants, offsets(400 * DAY))
def test_a_term_covers_its_months_of_local_days(settings, start, later):
    at = start + later
    seat = activated(at, settings, start=start)
    first = local_day(at, settings)
    assert seat.valid_until == day_start(months_after(first, settings.term_months), settings)
    assert last_day(seat, settings) == months_after(first, settings.term_months) - DAY
    assert 28 * settings.term_months <= covered_days(seat, settings)
    assert covered_days(seat, settings) <= 31 * settings.term_months + 1


@given(license_settings(), instants, offsets(400 * DAY), st.floats(0, 1))
def test_renewals_chain_terms_with_no_gap_and_no_overlap(settings, start, later, fraction):
    """Renewed before its end, a term is followed by the next from its first instant (E2)."""
    now = start + later
    seat = activated(now, settings, start=start)
    for _ in range(3):
        assert seat.valid_until is not None
        now += (seat.valid_until - US - now) * fraction  # up to the last microsecond
        renewal = activate(through_payment(seat, now, settings), now, settings).license
        assert renewal.valid_from == seat.valid_until  # no gap, no overlap
        previous = last_day(seat, settings)
        assert previous is not None
        assert local_day(renewal.valid_from, settings) == previous + DAY
        assert renewal.valid_until == day_start(
            months_after(previous + DAY, settings.term_months), settings
        )
        seat = renewal


# -- random histories ----------------------------------------------------------------------

MOVES = ("tick", "request", "invoice", "pay", "activate", "withdraw", "physician", "locum", "staff")


def _move(move: str, seat: License, now: datetime, settings: LicenseSettings, fraction: float):
    """Apply one move; return its Step, or None when the sweep had nothing to do."""
    pending = seat.pending
    since = pending.invoiced_at if pending and pending.invoiced_at else now
    moves = {
        "tick": lambda: tick(seat, now, settings),
        "request": lambda: request(
            seat, now, settings, asked=asked(now, months=settings.term_months)
        ),
        "invoice": lambda: invoice(
            seat, now, settings, number="F-1", amount=Decimal(480), currency="EUR"
        ),
        "pay": lambda: record_payment(
            seat, now, settings, paid_at=since + (now - since) * fraction
        ),
        "activate": lambda: activate(seat, now, settings),
        "withdraw": lambda: withdraw(seat, now, settings),
    }
    if move in moves:
        return moves[move]()
    return change_kind(seat, now, settings, kind=K(move))


def _window(seat: License) -> tuple[datetime | None, datetime | None]:
    return (seat.valid_from, seat.valid_until)


@given(
    license_settings(),
    instants,
    st.sampled_from(list(K)),
    st.lists(
        st.tuples(st.sampled_from(MOVES), offsets(60 * DAY), st.floats(0, 1)),
        max_size=30,
    ),
)
def test_random_histories_keep_the_invariants(settings, start, kind, moves):
    """Random moves at random times: refusals are coded, the sweep is idempotent and acts
    exactly when due, windows and notices keep their rules."""
    seat = provisional(start, settings, kind)
    now = start
    first_until = seat.provisional_until
    expired_windows: set[tuple[datetime | None, datetime | None]] = set()
    notices: dict[tuple[datetime | None, datetime | None], int] = {}
    for move, delta, fraction in moves:
        now += delta
        status = status_at(seat, now, settings)
        command = None if move == "tick" else _command(move)
        try:
            step = _move(move, seat, now, settings, fraction)
        except IllegalLicenseTransition as refused:
            assert command is not None
            assert refused.params["status"] == str(status)
            assert refused.params["command"] == str(command)
            assert command not in TRANSITIONS[status] or (
                seat.free and refused.params["kind"] == str(seat.kind)
            )
            continue
        assert command is None or command in TRANSITIONS[status]
        assert command is None or not seat.free or command is C.CHANGE_KIND
        if move == "tick":
            due = seat.due_at
            assert (step is not None) is (due is not None and due <= now)
        if step is None:
            continue
        before, seat = seat, step.license
        for message in step.messages:
            if message is MessageKind.LICENSE_EXPIRED:
                assert _window(before) not in expired_windows
                expired_windows.add(_window(before))
            if message is MessageKind.LICENSE_EXPIRING:
                notices[_window(before)] = notices.get(_window(before), 0) + 1
                assert notices[_window(before)] <= len(settings.notice_days)
        _check(seat, now, settings, first_until)
        if first_until is None:
            first_until = seat.provisional_until
        if move == "tick":
            assert tick(seat, now, settings) is None  # idempotent
            assert seat.due_at is None or seat.due_at > now


def _command(move: str) -> Command:
    return {
        "request": C.REQUEST,
        "invoice": C.INVOICE,
        "pay": C.RECORD_PAYMENT,
        "activate": C.ACTIVATE,
        "withdraw": C.WITHDRAW,
    }.get(move, C.CHANGE_KIND)


def _check(
    seat: License, now: datetime, settings: LicenseSettings, first_until: datetime | None
) -> None:
    status = status_at(seat, now, settings)
    assert seat.due_at == next_due(seat, settings)
    if status is S.EXPIRED:
        assert not entitled(seat, now)
    if status in {S.PROVISIONAL, S.ACTIVE, S.EXPIRING, S.PAID}:
        assert entitled(seat, now)
    if first_until is not None:
        assert seat.provisional_until == first_until  # set once, never moved
    if seat.provisional_until is not None:
        assert status is not S.PROVISIONAL or now < seat.provisional_until
    if seat.status is S.PROVISIONAL:
        assert seat.valid_until == seat.provisional_until
        assert seat.valid_from is not None
        assert seat.valid_until is not None
        days = (local_day(seat.valid_until, settings) - local_day(seat.valid_from, settings)).days
        assert days == settings.provisional_days
    if seat.free:
        assert (seat.status, seat.pending, seat.due_at) == (S.ACTIVE, None, None)
    if status in {S.ACTIVE, S.EXPIRING} and not seat.free:
        assert seat.activation is not None
        assert seat.activation.paid_at is not None
    if seat.activation is not None and seat.activation.activated_late:
        assert seat.activation.late_reported_at is not None
        assert seat.activation.activated_at is not None
        assert seat.activation.late_reported_at <= seat.activation.activated_at
    if seat.status in {S.REQUESTED, S.INVOICED, S.PAID}:
        assert seat.pending is not None
        assert seat.resume is not None
    else:
        assert seat.pending is None


@given(license_settings(), instants, offsets(900 * DAY), offsets(900 * DAY))
def test_once_expired_by_the_clock_a_license_stays_expired_later(settings, start, one, two):
    seat = activated(start + DAY, settings, start=start)
    early, late = sorted((start + one, start + two))
    if status_at(seat, early, settings) is S.EXPIRED:
        assert status_at(seat, late, settings) is S.EXPIRED
    if not entitled(seat, early):
        assert not entitled(seat, late)


# -- prices (E2, E4) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("480", Decimal("480.00")),
        ("480.5", Decimal("480.50")),
        (480, Decimal("480.00")),
        (0, Decimal("0.00")),
        (Decimal("35.00"), Decimal("35.00")),
        ("1E+2", Decimal("100.00")),
    ],
)
def test_a_price_is_a_decimal_in_cents(value, amount):
    price = Price(value)
    assert price.amount == amount
    assert price.amount.as_tuple().exponent == -2
    assert (price.currency, price.per) == ("EUR", PricePer.YEAR)


@pytest.mark.parametrize(
    "value",
    [
        480.0,
        True,
        None,
        "",
        "abc",
        "NaN",
        "sNaN",
        "Infinity",
        Decimal("-Infinity"),
        "-1",
        "-0.01",
        "0.001",
        Decimal("1.005"),
        "1e30",  # more digits than a Decimal context keeps: refused, never a bare ArithmeticError
        10**30,
    ],
)
def test_a_price_out_of_bounds_is_refused_naming_the_amount(value):
    with pytest.raises(InvalidConfiguration) as caught:
        Price(value)
    assert caught.value.params["field"] == "amount"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "eur"),
        ("currency", "EURO"),
        ("currency", ""),
        ("currency", 978),
        ("currency", None),
        ("per", "week"),
        ("per", "YEAR"),
        ("per", None),
        ("per", 12),
    ],
)
def test_a_price_currency_or_unit_out_of_bounds_is_refused_naming_it(field, value):
    with pytest.raises(InvalidConfiguration) as caught:
        Price("480", **{field: value})
    assert caught.value.params["field"] == field


@pytest.mark.parametrize(
    ("price", "months", "amount"),
    [
        (Price("480"), 12, Decimal("480.00")),
        (Price("480"), 1, Decimal("40.00")),
        (Price("480"), 18, Decimal("720.00")),
        (Price("35", per="month"), 12, Decimal("420.00")),  # the locum's monthly fee (E4)
        (Price("35", per=PricePer.MONTH), 1, Decimal("35.00")),
        (Price("100"), 1, Decimal("8.33")),
        (Price("100"), 2, Decimal("16.67")),
        (Price("1.02"), 1, Decimal("0.09")),  # 0.085: half up, not half to even
        (Price("0.30"), 1, Decimal("0.03")),  # 0.025
        (Price("150.06"), 7, Decimal("87.54")),  # 87.535
        (Price("150.06"), 13, Decimal("162.57")),  # 162.565
        (Price("480.30"), 13, Decimal("520.33")),  # 520.325
        (Price("0", currency="CHF"), 12, Decimal("0.00")),
    ],
)
def test_a_price_for_some_months_is_rounded_half_up_to_the_cent(price, months, amount):
    assert price.for_months(months) == amount


@given(
    st.integers(0, 10**9).map(lambda cents: Decimal(cents) / 100),
    st.sampled_from(list(PricePer)),
    st.integers(1, 36),
)
@example(Decimal("150.06"), PricePer.YEAR, 7)  # found by this property: 87.535
@example(Decimal("0.06"), PricePer.YEAR, 13)  # 0.065
def test_a_price_for_some_months_is_the_exact_amount_rounded_half_up(amount, per, months):
    exact = Fraction(amount) * months / (12 if per is PricePer.YEAR else 1)
    cents = exact * 100
    expected = Decimal(int(cents + Fraction(1, 2))) / 100
    assert Price(amount, per=per).for_months(months) == expected


def test_a_price_table_gives_each_product_and_paying_kind_its_price():
    table = PriceTable(
        {
            (ProductKind.VETERINARY, K.PHYSICIAN): Price("480"),
            (ProductKind.VETERINARY, K.LOCUM): Price("35", per="month"),
        }
    )
    assert table.price(ProductKind.VETERINARY, K.LOCUM) == Price("35", per="month")
    assert table.price(ProductKind.VETERINARY, K.PHYSICIAN).for_months(12) == Decimal("480.00")
    assert isinstance(table.prices, MappingProxyType)
    pairs = PriceTable([((ProductKind.DENTAL, K.PHYSICIAN), Price("300"))])
    assert pairs.price(ProductKind.DENTAL, K.PHYSICIAN).amount == Decimal("300.00")
    assert PriceTable().prices == {}


@pytest.mark.parametrize(
    "prices",
    [
        {(ProductKind.GENERAL_PRACTICE, K.STAFF): Price("0")},  # staff is free (E3)
        {(ProductKind.GENERAL_PRACTICE, K.STAFF): Price("10")},
        {(ProductKind.GENERAL_PRACTICE, "physician"): Price("480")},
        {("general_practice", K.PHYSICIAN): Price("480")},
        {(ProductKind.GENERAL_PRACTICE,): Price("480")},
        {(ProductKind.GENERAL_PRACTICE, K.PHYSICIAN, "extra"): Price("480")},
        {ProductKind.GENERAL_PRACTICE: Price("480")},
        {(ProductKind.GENERAL_PRACTICE, K.PHYSICIAN): Decimal(480)},
        {(ProductKind.GENERAL_PRACTICE, K.PHYSICIAN): "480"},
    ],
)
def test_a_price_table_refuses_staff_prices_and_malformed_entries(prices):
    with pytest.raises(InvalidConfiguration) as caught:
        PriceTable(prices)
    assert caught.value.params["field"] == "prices"


def test_a_missing_price_names_the_product_and_the_kind():
    table = PriceTable({(ProductKind.GENERAL_PRACTICE, K.PHYSICIAN): Price("480")})
    with pytest.raises(InvalidConfiguration) as caught:
        table.price(ProductKind.VETERINARY, K.LOCUM)
    assert caught.value.params == {
        "field": "prices",
        "product": ProductKind.VETERINARY,
        "kind": K.LOCUM,
    }
