"""The license lifecycle against its invariants: the pure moves, then the service (E1-E4, B4).

The first machine drives the pure functions of :mod:`practiceid.policies.license` with a fake
clock, under settings of their own (the defaults, a three-day trial in Auckland, five notices
in Montreal, no notice at all in Havana). Its rules try every command whatever the status,
the sweep, random jumps of the clock, and jumps to a microsecond before, exactly at and a
microsecond after each boundary: the provisional end, each notice, the end of the term, the
activation deadline, the next ``due_at``.

The second drives :class:`~practiceid.LicenseService` on the sample practice (in memory): the
owner requests, the vendor's desk invoices, records payments and activates, the sweep runs,
the physician's account or membership is switched off and on. A shadow license follows the
same moves through the pure functions: the stored license must equal it.

The invariants are the issue's: an active or expiring paying license has an activation whose
payment is recorded; an activation at or after its deadline was reported late, once, and no
later than the activation; a free license is never requested nor invoiced; a provisional
license never outlasts its 45 local days, and its end is set once and never moved; a second
sweep at the same instant changes nothing; each window end is announced at most once, and
whenever the sweep finds a running license past its end; every message has its own
idempotency key; a switched-off member gets no message but the late-activation report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from practiceid import (
    EstablishmentId,
    IllegalLicenseTransition,
    License,
    LicenseKind,
    LicenseRejected,
    LicenseRequest,
    LicenseStatus,
    MessageKind,
    ProductKind,
    UserId,
)
from practiceid.policies import license as policy
from practiceid.policies.license import TRANSITIONS, Command, LicenseSettings, Step
from practiceid.testing import ManualClock, SampleLicensing, sample_licensing

S, K, C = LicenseStatus, LicenseKind, Command
US, HOUR, DAY = timedelta(microseconds=1), timedelta(hours=1), timedelta(days=1)
ESTABLISHMENT, USER, ADMIN = EstablishmentId("e-exemple"), UserId("u-exemple"), UserId("u-admin")
DESK_ADDRESS = "licences@editeur-exemple.be"
LICENSE_KINDS = frozenset(
    {
        MessageKind.LICENSE_REQUESTED,
        MessageKind.LICENSE_ACTIVATED,
        MessageKind.LICENSE_EXPIRING,
        MessageKind.LICENSE_EXPIRED,
        MessageKind.LICENSE_ACTIVATION_LATE,
    }
)

CONFIGS = (
    LicenseSettings(),
    LicenseSettings(
        provisional_days=3,
        term_months=1,
        activation_months=1,
        notice_days=(2, 1),
        time_zone="Pacific/Auckland",
    ),
    LicenseSettings(notice_days=(60, 30, 14, 7, 1), time_zone="America/Montreal"),
    LicenseSettings(
        term_months=13, activation_months=2, notice_days=(), time_zone="America/Havana"
    ),
)
STEPS = (US, HOUR, DAY, 7 * DAY, 30 * DAY, 200 * DAY)
SHIFTS = (-US, timedelta(0), US)
# Starts near the daylight-saving changes of Brussels, and anywhere up to 2030.
STARTS = st.one_of(
    st.sampled_from(
        [
            datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
            datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            datetime(2028, 1, 31, 10, 0, tzinfo=UTC),
            datetime(2028, 2, 29, 22, 59, 59, 999_999, tzinfo=UTC),
        ]
    ),
    st.datetimes(
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - bounds of aware datetimes drawn in UTC
        max_value=datetime(2030, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)


def asked(at: datetime, settings: LicenseSettings, kind: LicenseKind) -> LicenseRequest:
    return LicenseRequest(
        requested_at=at,
        requested_by=ADMIN,
        kind=kind,
        months=settings.term_months,
        first_name="Jeanne",
        last_name="Exemple",
        identifier_kind="inami",
        identifier="14000068003",
        practice="Cabinet de l'Exemple",
        bill_to=USER,
    )


def boundaries(seat: License, settings: LicenseSettings) -> dict[str, datetime]:
    """The instants at which something about the license changes."""
    found: dict[str, datetime] = {}
    if seat.provisional_until is not None:
        found["provisional end"] = seat.provisional_until
    if seat.valid_until is not None:
        found["end"] = seat.valid_until
    for n, at in enumerate(policy.notice_times(seat, settings)):
        found[f"notice {n + 1}"] = at
    if seat.pending is not None and seat.pending.activation_due_at is not None:
        found["activation deadline"] = seat.pending.activation_due_at
    if seat.due_at is not None:
        found["due"] = seat.due_at
    return found


def _window(seat: License) -> tuple[datetime | None, datetime | None]:
    return (seat.valid_from, seat.valid_until)


def _runs_past_its_end(seat: License, now: datetime, settings: LicenseSettings) -> bool:
    """Whether a paying license still runs on a window that ended: the sweep must say so."""
    if seat.free or seat.valid_until is None or now < seat.valid_until:
        return False
    shown = policy.status_at(seat, now, settings)
    if seat.status is S.EXPIRED:  # stored expired by a move, before any sweep saw the end
        return seat.lapsed_at is None
    return shown is S.EXPIRED or seat.status in {S.REQUESTED, S.INVOICED}


# -- the pure lifecycle ------------------------------------------------------------------------


class LicensePolicyMachine(RuleBasedStateMachine):
    """The pure moves, on one license, with a fake clock."""

    @initialize(config=st.sampled_from(CONFIGS), kind=st.sampled_from(list(K)), start=STARTS)
    def provision(self, config: LicenseSettings, kind: LicenseKind, start: datetime) -> None:
        self.config = config
        self.now = start
        step = policy.provision(ESTABLISHMENT, USER, kind, now=start, settings=config)
        assert step.messages == ()
        self.seat = step.license
        self.provisional_start = None if kind is K.STAFF else start
        self.provisional_until = self.seat.provisional_until
        self.announced: set[tuple[datetime | None, datetime | None]] = set()
        self.notices: dict[tuple[datetime | None, datetime | None], int] = {}
        self.late_reports: dict[tuple[datetime | None, str | None], int] = {}
        self.last_sweep: datetime | None = None

    def status(self) -> LicenseStatus:
        return policy.status_at(self.seat, self.now, self.config)

    # -- applying a step ---------------------------------------------------------------------

    def _take(self, step: Step, command: Command | None) -> None:
        before, after = self.seat, step.license
        if before.free:
            assert command is C.CHANGE_KIND  # a free license is never requested nor invoiced
            assert step.messages == ()
        for message in step.messages:
            if message is MessageKind.LICENSE_EXPIRED:
                assert self.now >= before.valid_until
                assert _window(before) not in self.announced  # one per window end
                self.announced.add(_window(before))
                event("window end announced")
            elif message is MessageKind.LICENSE_EXPIRING:
                count = self.notices.get(_window(before), 0) + 1
                self.notices[_window(before)] = count
                assert count <= len(self.config.notice_days)
                event("notice sent")
            elif message is MessageKind.LICENSE_ACTIVATION_LATE:
                assert before.pending is not None
                key = (before.pending.paid_at, before.pending.invoice_number)
                self.late_reports[key] = self.late_reports.get(key, 0) + 1
                assert self.late_reports[key] == 1  # reported once, by the sweep or activation
                event(f"late activation reported ({command or 'sweep'})")
        if command is C.ACTIVATE:
            assert before.pending is not None
            record = after.activation
            assert record is not None
            assert record.paid_at == before.pending.paid_at
            key = (before.pending.paid_at, before.pending.invoice_number)
            assert self.late_reports.get(key, 0) == (1 if record.activated_late else 0)
            if before.valid_until is not None and after.valid_from == before.valid_until:
                event("renewal started at the old end")
        if self.provisional_until is None and after.provisional_until is not None:
            self.provisional_until = after.provisional_until
            self.provisional_start = self.now
            event("an always-free license became paying")
        self.seat = after

    def _try(self, command: Command, move) -> None:
        """Run a command: it applies exactly where TRANSITIONS says, for paying licenses."""
        status = self.status()
        legal = command in TRANSITIONS[status] and (not self.seat.free or command is C.CHANGE_KIND)
        try:
            step = move()
        except IllegalLicenseTransition as refused:
            assert not legal
            assert refused.code == "license.illegal_transition"
            assert refused.params["status"] == str(status)
            assert refused.params["command"] == str(command)
            assert refused.params["user_id"] == USER
            if self.seat.free:
                assert refused.params["kind"] == "staff"
            event(f"{command} refused ({status})")
            return
        assert legal
        assert step.license.due_at == policy.next_due(step.license, self.config)
        self._take(step, command)
        event(f"{command} from {status}")

    # -- commands ----------------------------------------------------------------------------

    @rule()
    def request(self) -> None:
        what = asked(self.now, self.config, self.seat.kind)
        self._try(C.REQUEST, lambda: policy.request(self.seat, self.now, self.config, asked=what))

    @rule(number=st.integers(1, 3))
    def invoice(self, number: int) -> None:
        self._try(
            C.INVOICE,
            lambda: policy.invoice(
                self.seat,
                self.now,
                self.config,
                number=f"F-{number}",
                amount=Decimal("480.00"),
                currency="EUR",
            ),
        )

    @rule(fraction=st.floats(0, 1), misdated=st.sampled_from([None, "early", "future"]))
    def record_payment(self, fraction: float, misdated: str | None) -> None:
        pending = self.seat.pending
        since = pending.invoiced_at if pending and pending.invoiced_at else self.now
        paid_at = since + (self.now - since) * fraction
        if misdated == "early":
            paid_at = since - US
        elif misdated == "future":
            paid_at = self.now + US
        move = lambda: policy.record_payment(self.seat, self.now, self.config, paid_at=paid_at)  # noqa: E731
        if misdated is None or self.status() is not S.INVOICED:
            self._try(C.RECORD_PAYMENT, move)
            return
        with pytest.raises(LicenseRejected) as caught:
            move()
        assert caught.value.codes == ("license.paid_at_invalid",)
        event("payment refused")

    @rule()
    def activate(self) -> None:
        self._try(C.ACTIVATE, lambda: policy.activate(self.seat, self.now, self.config))

    @rule()
    def withdraw(self) -> None:
        self._try(C.WITHDRAW, lambda: policy.withdraw(self.seat, self.now, self.config))

    @rule(kind=st.sampled_from(list(K)))
    def change_kind(self, kind: LicenseKind) -> None:
        self._try(
            C.CHANGE_KIND,
            lambda: policy.change_kind(self.seat, self.now, self.config, kind=kind),
        )

    @rule(fraction=st.floats(0, 1))
    def take_the_next_step(self, fraction: float) -> None:
        """Move one step along the way to an active term, which random rules rarely follow
        far: request, invoice, pay, activate (a free license becomes a physician's first)."""
        if self.seat.free:
            self.change_kind(K.PHYSICIAN)
            return
        status = self.status()
        if status is S.REQUESTED:
            self.invoice(1)
        elif status is S.INVOICED:
            self.record_payment(fraction, None)
        elif status is S.PAID:
            self.activate()
        else:
            self.request()

    @rule()
    def sweep(self) -> None:
        before = self.seat
        owed = _runs_past_its_end(before, self.now, self.config) and (
            _window(before) not in self.announced
        )
        due = before.due_at is not None and before.due_at <= self.now
        step = policy.tick(before, self.now, self.config)
        assert (step is not None) is due  # the sweep acts exactly when due
        self.last_sweep = self.now
        if step is None:
            assert not owed
            return
        assert (MessageKind.LICENSE_EXPIRED in step.messages) is owed
        self._take(step, None)
        assert policy.tick(self.seat, self.now, self.config) is None  # a second sweep: nothing
        assert self.seat.due_at is None or self.seat.due_at > self.now

    # -- time --------------------------------------------------------------------------------

    @rule(step=st.sampled_from(STEPS))
    def advance(self, step: timedelta) -> None:
        self.now += step

    @rule(data=st.data(), shift=st.sampled_from(SHIFTS), sweep=st.booleans())
    def jump_to_a_boundary(self, data: st.DataObject, shift: timedelta, sweep: bool) -> None:  # noqa: FBT001
        ahead = {
            name: at
            for name, at in boundaries(self.seat, self.config).items()
            if at + shift > self.now
        }
        if ahead:
            name = data.draw(st.sampled_from(sorted(ahead)))
            self.now = ahead[name] + shift
            event(f"jump to {name} {shift // US:+d} µs")
        if sweep:
            self.sweep()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def an_active_paying_license_was_paid(self) -> None:
        if self.status() in {S.ACTIVE, S.EXPIRING} and not self.seat.free:
            assert self.seat.activation is not None
            assert self.seat.activation.paid_at is not None
            assert self.seat.activation.activated_at is not None
            assert self.seat.activation.paid_at <= self.seat.activation.activated_at

    @invariant()
    def a_late_activation_was_reported_no_later_than_it_happened(self) -> None:
        for record in (self.seat.activation, self.seat.pending):
            if record is None or record.activated_at is None:
                continue
            assert record.activation_due_at is not None
            if record.activated_at >= record.activation_due_at:
                assert record.late_reported_at is not None
                assert record.activation_due_at <= record.late_reported_at <= record.activated_at

    @invariant()
    def a_free_license_is_never_requested(self) -> None:
        if self.seat.free:
            assert self.seat.pending is None
            assert self.seat.status is S.ACTIVE
            assert self.seat.due_at is None
            assert policy.entitled(self.seat, self.now)
        if self.seat.status in {S.REQUESTED, S.INVOICED, S.PAID}:
            assert not self.seat.free
            assert self.seat.pending is not None

    @invariant()
    def the_provisional_days_come_once_and_last_no_longer_than_set(self) -> None:
        assert self.seat.provisional_until == self.provisional_until  # set once, never moved
        if self.provisional_until is None:
            return
        assert self.provisional_start is not None
        first = policy.local_day(self.provisional_start, self.config)
        last = policy.local_day(self.provisional_until - US, self.config)
        assert (last - first).days + 1 == self.config.provisional_days
        assert self.provisional_until == policy.day_start(
            first + timedelta(days=self.config.provisional_days), self.config
        )
        if self.status() is S.PROVISIONAL:
            assert self.now < self.provisional_until
            assert self.seat.valid_until == self.provisional_until

    @invariant()
    def the_schedule_is_the_next_thing_due(self) -> None:
        assert self.seat.due_at == policy.next_due(self.seat, self.config)
        if self.seat.due_at is not None and self.last_sweep is not None:
            due_before_the_sweep = self.seat.due_at <= self.last_sweep
            if due_before_the_sweep:  # only a move since the sweep can make something overdue
                assert policy.tick(self.seat, self.last_sweep, self.config) is not None

    @invariant()
    def expired_means_not_entitled(self) -> None:
        status = self.status()
        if status is S.EXPIRED:
            assert not policy.entitled(self.seat, self.now)
        if status in {S.PROVISIONAL, S.ACTIVE, S.EXPIRING, S.PAID}:
            assert policy.entitled(self.seat, self.now)


LicensePolicyMachine.TestCase.settings = settings(stateful_step_count=60, deadline=None)
TestLicensePolicyMachine = LicensePolicyMachine.TestCase


# -- the service -------------------------------------------------------------------------------

SERVICE_CONFIGS = (
    LicenseSettings(desk_address=DESK_ADDRESS),
    LicenseSettings(
        provisional_days=3,
        term_months=1,
        notice_days=(2, 1),
        time_zone="Pacific/Auckland",
        desk_address=DESK_ADDRESS,
    ),
)


class LicenseServiceMachine(RuleBasedStateMachine):
    """The service on the sample practice, followed by a shadow through the pure moves."""

    @initialize(
        config=st.sampled_from(SERVICE_CONFIGS),
        product=st.sampled_from([ProductKind.GENERAL_PRACTICE, ProductKind.HOSPITAL]),
    )
    def open_practice(self, config: LicenseSettings, product: ProductKind) -> None:
        self.config = config
        self.clock = ManualClock()
        self.practice: SampleLicensing = sample_licensing(
            product, clock=self.clock, settings=config
        )
        self.seen: set[str] = set()  # outbox message ids already checked
        self.invoices = 0
        self.user_off = False
        self.membership_off = False
        self.shadow: dict[UserId, License] = {}
        for user in (self.practice.physician, self.practice.secretary):
            stored = self.service.provision(
                actor=self.owner, establishment_id=self.establishment, user_id=user.id
            )
            expected = policy.provision(
                self.establishment,
                user.id,
                K.PHYSICIAN if user is self.practice.physician else K.STAFF,
                now=self.clock.now(),
                settings=config,
            ).license
            assert stored == expected
            self.shadow[user.id] = expected

    @property
    def service(self):
        return self.practice.licenses

    @property
    def owner(self) -> UserId:
        return self.practice.owner.id

    @property
    def desk(self) -> UserId:
        return self.practice.desk.id

    @property
    def establishment(self):
        return self.practice.establishment.id

    @property
    def physician(self) -> UserId:
        return self.practice.physician.id

    def stored(self, user_id: UserId) -> License:
        with self.practice.unit_of_work() as uow:
            return uow.licenses.get(self.establishment, user_id)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def switched_off(self) -> bool:
        return self.user_off or self.membership_off

    # -- one move through both ---------------------------------------------------------------

    def _both(self, user_id: UserId, call, move) -> None:
        """Make the move on the shadow and through the service; both must agree."""
        before = self.shadow[user_id]
        try:
            step = move(before)
        except IllegalLicenseTransition as refused:
            with pytest.raises(IllegalLicenseTransition) as caught:
                call()
            assert caught.value.params == refused.params
            event(f"{refused.params['command']} refused ({refused.params['status']})")
            return
        call()
        self.shadow[user_id] = step.license
        assert attrs.evolve(self.stored(user_id), version=0) == attrs.evolve(
            step.license, version=0
        )

    def _asked(self, user_id: UserId, seat: License) -> LicenseRequest:
        with self.practice.unit_of_work() as uow:
            practitioner = uow.practitioners.find(user_id)
            user = uow.users.get(user_id)
        assert practitioner is not None
        kind = "rpps" if practitioner.country == "FR" else "inami"
        return LicenseRequest(
            requested_at=self.now(),
            requested_by=self.owner,
            kind=seat.kind,
            months=self.config.term_months,
            first_name=user.first_name,
            last_name=user.last_name,
            identifier_kind=kind,
            identifier=practitioner.identifiers[kind],
            practice=self.practice.establishment.name,
            bill_to=user_id,
        )

    # -- the practice ------------------------------------------------------------------------

    @rule()
    def request(self) -> None:
        uid = self.physician
        self._both(
            uid,
            lambda: self.service.request_activation(
                actor=self.owner, establishment_id=self.establishment, user_id=uid
            ),
            lambda seat: policy.request(
                seat, self.now(), self.config, asked=self._asked(uid, seat)
            ),
        )

    @rule()
    def request_for_the_secretary(self) -> None:
        """A free license is never requested (E3)."""
        uid = self.practice.secretary.id
        with pytest.raises(IllegalLicenseTransition) as caught:
            self.service.request_activation(
                actor=self.owner, establishment_id=self.establishment, user_id=uid
            )
        assert caught.value.params["kind"] == "staff"

    @rule()
    def withdraw(self) -> None:
        """The practice withdraws a request; the desk an invoiced one, voiding the invoice."""
        uid = self.physician
        invoiced = self.shadow[uid].status is S.INVOICED
        actor = self.desk if invoiced else self.owner
        self._both(
            uid,
            lambda: self.service.withdraw(
                actor=actor, establishment_id=self.establishment, user_id=uid
            ),
            lambda seat: policy.withdraw(seat, self.now(), self.config),
        )

    # -- the vendor's desk -------------------------------------------------------------------

    @rule()
    def invoice(self) -> None:
        seat = self.shadow[self.physician]
        if seat.status is not S.REQUESTED:
            with pytest.raises(LicenseRejected) as caught:
                self.service.invoice(
                    actor=self.desk, establishment_id=self.establishment, invoice_number="F-0"
                )
            assert caught.value.codes == ("license.nothing_to_invoice",)
            return
        self.invoices += 1
        number = f"F-{self.invoices:04d}"
        price = self.service.prices.price(self.practice.establishment.product, seat.kind)
        amount = price.for_months(self.config.term_months)
        self._both(
            self.physician,
            lambda: self.service.invoice(
                actor=self.desk, establishment_id=self.establishment, invoice_number=number
            ),
            lambda seat: policy.invoice(
                seat, self.now(), self.config, number=number, amount=amount, currency="EUR"
            ),
        )
        event("invoiced")

    @precondition(lambda self: self.invoices > 0)
    @rule(data=st.data(), fraction=st.floats(0, 1))
    def record_payment(self, data: st.DataObject, fraction: float) -> None:
        """Record the payment of the latest invoice, or of any invoice issued so far."""
        numbers = [f"F-{n:04d}" for n in range(self.invoices, 0, -1)]
        self._pay(data.draw(st.sampled_from(numbers), label="invoice"), fraction)

    def _pay(self, number: str, fraction: float) -> None:
        seat = self.shadow[self.physician]
        pending = seat.pending
        if pending is not None and pending.invoice_number == number:
            assert pending.invoiced_at is not None
            paid_at = pending.invoiced_at + (self.now() - pending.invoiced_at) * fraction
            self._both(
                self.physician,
                lambda: self.service.record_payment(
                    actor=self.desk, invoice_number=number, paid_at=paid_at
                ),
                lambda seat: policy.record_payment(seat, self.now(), self.config, paid_at=paid_at),
            )
            return
        if seat.activation is not None and seat.activation.invoice_number == number:
            # paid and activated already: refused, and no other invoice is paid instead
            with pytest.raises(IllegalLicenseTransition) as refused:
                self.service.record_payment(actor=self.desk, invoice_number=number)
            assert refused.value.params["command"] == "record_payment"
            event("an invoice paid twice refused")
        else:
            with pytest.raises(LicenseRejected) as caught:
                self.service.record_payment(actor=self.desk, invoice_number=number)
            assert caught.value.codes == ("license.unknown_invoice",)
            event("an invoice no license is on refused")
        stored = self.stored(self.physician)
        assert attrs.evolve(stored, version=0) == attrs.evolve(seat, version=0)

    @rule()
    def activate(self) -> None:
        uid = self.physician
        self._both(
            uid,
            lambda: self.service.activate(
                actor=self.desk, establishment_id=self.establishment, user_id=uid
            ),
            lambda seat: policy.activate(seat, self.now(), self.config),
        )

    @rule()
    def take_the_next_step(self) -> None:
        """Move the physician one step along the way to an active term, which random rules
        rarely follow far: request, invoice, pay, activate."""
        status = self.shadow[self.physician].status
        if status is S.REQUESTED:
            self.invoice()
        elif status is S.INVOICED:
            pending = self.shadow[self.physician].pending
            assert pending is not None
            assert pending.invoice_number is not None
            self._pay(pending.invoice_number, 1.0)
        elif status is S.PAID:
            self.activate()
        else:
            self.request()

    # -- switching the physician off and on --------------------------------------------------

    @rule(account=st.booleans(), active=st.booleans())
    def switch(self, account: bool, active: bool) -> None:  # noqa: FBT001
        """Deactivate or reactivate the physician's account, or their membership here."""
        access = self.practice.access
        uid = self.physician
        if account:
            if active:
                access.reactivate_user(actor=self.owner, user_id=uid)
            else:
                access.deactivate_user(actor=self.owner, user_id=uid)
            self.user_off = not active
        else:
            if active:
                access.reactivate_member(
                    actor=self.owner, establishment_id=self.establishment, user_id=uid
                )
            else:
                access.deactivate_member(
                    actor=self.owner, establishment_id=self.establishment, user_id=uid
                )
            self.membership_off = not active
        event(f"{'account' if account else 'membership'} {'on' if active else 'off'}")

    # -- the sweep and time ------------------------------------------------------------------

    @rule()
    def run_due(self) -> None:
        now = self.now()
        expected: dict[MessageKind, list[tuple[object, UserId]]] = {
            MessageKind.LICENSE_EXPIRING: [],
            MessageKind.LICENSE_EXPIRED: [],
            MessageKind.LICENSE_ACTIVATION_LATE: [],
        }
        for uid, seat in self.shadow.items():
            step = policy.tick(seat, now, self.config)
            if step is None:
                continue
            self.shadow[uid] = step.license
            for kind in step.messages:
                # a notice to a switched-off member is not sent, so not reported
                if kind is not MessageKind.LICENSE_EXPIRING or not self.switched_off:
                    expected[kind].append(seat.key)
        report = self.service.run_due()
        assert sorted(report.notified) == sorted(expected[MessageKind.LICENSE_EXPIRING])
        assert sorted(report.expired) == sorted(expected[MessageKind.LICENSE_EXPIRED])
        assert sorted(report.late) == sorted(expected[MessageKind.LICENSE_ACTIVATION_LATE])
        for uid, seat in self.shadow.items():
            assert attrs.evolve(self.stored(uid), version=0) == attrs.evolve(seat, version=0)
        assert self.service.run_due().changed == 0  # a second sweep: nothing
        for kind, keys in expected.items():
            if keys:
                event(f"sweep: {kind}")

    @rule(step=st.sampled_from(STEPS))
    def advance(self, step: timedelta) -> None:
        self.clock.advance(step)

    @rule(data=st.data(), shift=st.sampled_from(SHIFTS), sweep=st.booleans())
    def jump_to_a_boundary(self, data: st.DataObject, shift: timedelta, sweep: bool) -> None:  # noqa: FBT001
        ahead = {
            name: at
            for name, at in boundaries(self.shadow[self.physician], self.config).items()
            if at + shift > self.now()
        }
        if ahead:
            name = data.draw(st.sampled_from(sorted(ahead)))
            self.clock.set(ahead[name] + shift)
            event(f"jump to {name} {shift // US:+d} µs")
        if sweep:
            self.run_due()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def the_outbox_holds_one_message_per_key_and_none_to_a_switched_off_member(self) -> None:
        with self.practice.unit_of_work() as uow:
            messages = [m for m in uow.outbox.list() if m.kind in LICENSE_KINDS]
        keys = [m.idempotency_key for m in messages]
        assert len(set(keys)) == len(keys)
        holder = self.practice.physician.email.address
        owner = self.practice.owner.email.address
        secretary = self.practice.secretary.email.address
        for message in messages:
            if message.id in self.seen:
                continue
            self.seen.add(message.id)
            assert message.recipient != secretary  # a free license sends nothing
            if message.kind is MessageKind.LICENSE_REQUESTED:
                assert message.recipient == DESK_ADDRESS
            elif message.kind is MessageKind.LICENSE_ACTIVATION_LATE:
                assert message.recipient in {owner, DESK_ADDRESS}  # whoever requested it
            else:
                assert message.recipient == holder
                # no message to a switched-off member, but the late-activation report
                assert not self.user_off, message.kind
                assert not self.membership_off, message.kind

    @invariant()
    def the_stored_licenses_keep_the_invariants(self) -> None:
        now = self.now()
        seat = self.shadow[self.physician]
        if policy.status_at(seat, now, self.config) in {S.ACTIVE, S.EXPIRING}:
            assert seat.activation is not None
            assert seat.activation.paid_at is not None
        if seat.activation is not None and seat.activation.activated_late:
            assert seat.activation.late_reported_at is not None
            assert seat.activation.activated_at is not None
            assert seat.activation.late_reported_at <= seat.activation.activated_at
        free = self.shadow[self.practice.secretary.id]
        assert (free.status, free.pending, free.due_at) == (S.ACTIVE, None, None)

    @invariant()
    def the_views_show_a_switched_off_member_as_suspended(self) -> None:
        view = self.service.license(
            actor=self.owner, establishment_id=self.establishment, user_id=self.physician
        )
        seat = self.shadow[self.physician]
        if self.switched_off:
            assert view.status is S.SUSPENDED
        else:
            assert view.status is policy.status_at(seat, self.now(), self.config)
        assert view.entitled is policy.entitled(seat, self.now())


LicenseServiceMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
TestLicenseServiceMachine = LicenseServiceMachine.TestCase


# -- what the machines found, as examples --------------------------------------------------


def _paid_physician(practice: SampleLicensing) -> None:
    est, uid = practice.establishment.id, practice.physician.id
    practice.licenses.provision(actor=practice.owner.id, establishment_id=est, user_id=uid)
    practice.licenses.request_activation(actor=practice.owner.id, establishment_id=est, user_id=uid)
    practice.licenses.invoice(actor=practice.desk.id, establishment_id=est, invoice_number="F-1")
    practice.clock.advance(HOUR)
    practice.licenses.record_payment(actor=practice.desk.id, invoice_number="F-1")


def test_activating_the_license_of_a_deactivated_member_sends_them_nothing():
    """A member whose membership is switched off gets no message but the late report (A6)."""
    practice = sample_licensing()
    est, uid = practice.establishment.id, practice.physician.id
    _paid_physician(practice)
    practice.access.deactivate_member(actor=practice.owner.id, establishment_id=est, user_id=uid)
    practice.licenses.activate(actor=practice.desk.id, establishment_id=est, user_id=uid)
    with practice.unit_of_work() as uow:
        sent = [(m.kind, m.recipient) for m in uow.outbox.list(user_id=uid)]
    assert (MessageKind.LICENSE_ACTIVATED, practice.physician.email.address) not in sent


def test_the_payment_of_an_invoice_already_paid_never_pays_the_next_one():
    """Paying F-1 again, while the renewal waits on F-2, must not mark F-2 paid (E2)."""
    practice = sample_licensing()
    est, uid = practice.establishment.id, practice.physician.id
    _paid_physician(practice)
    practice.licenses.activate(actor=practice.desk.id, establishment_id=est, user_id=uid)
    practice.clock.advance(340 * DAY)
    practice.licenses.request_activation(actor=practice.owner.id, establishment_id=est, user_id=uid)
    practice.licenses.invoice(actor=practice.desk.id, establishment_id=est, invoice_number="F-2")
    with pytest.raises(IllegalLicenseTransition):
        practice.licenses.record_payment(actor=practice.desk.id, invoice_number="F-1")
    with practice.unit_of_work() as uow:
        seat = uow.licenses.get(est, uid)
    assert seat.status is S.INVOICED
    assert seat.pending is not None
    assert (seat.pending.invoice_number, seat.pending.paid_at) == ("F-2", None)


def test_the_desk_can_withdraw_an_invoiced_request():
    """An invoiced request is withdrawn by the vendor's desk, who voids the invoice."""
    practice = sample_licensing()
    est, uid = practice.establishment.id, practice.physician.id
    practice.licenses.provision(actor=practice.owner.id, establishment_id=est, user_id=uid)
    practice.licenses.request_activation(actor=practice.owner.id, establishment_id=est, user_id=uid)
    practice.licenses.invoice(actor=practice.desk.id, establishment_id=est, invoice_number="F-1")
    back = practice.licenses.withdraw(actor=practice.desk.id, establishment_id=est, user_id=uid)
    assert (back.status, back.pending) == (S.PROVISIONAL, None)
