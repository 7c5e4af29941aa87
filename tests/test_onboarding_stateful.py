"""The onboarding service against a model: invitations, reminders, links, terms (D1, D2).

Up to three people are invited, into a hospital (invitation link, source 002) or a dental
centre (welcome link and a temporary password, source 004), under settings drawn at random
within their bounds. Rules send, sweep, re-send, deliver the outbox, accept with the newest
link, an old one or a made-up one, sign in, change the temporary password, publish and accept
terms of use, deactivate and reactivate (through the service, or around it through the
access service), and move a manual clock: by random steps, and to a microsecond before,
exactly at and a microsecond after each person's next deadline (reminder or expiry).

A model predicts every outcome. The invariants are the issue's: at most ``len(reminders)``
reminders per round; expired exactly when the deadline passed unaccepted; a link works at
most once; a deactivated account never becomes active without a reactivation; every change
of status wrote exactly one message (the outbox, in the order of the changes, equals the
model's); no link is ever delivered for a round that is over.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import attrs
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
    AccountDeactivated,
    AuthenticationFailed,
    IllegalTransition,
    InvitationInvalid,
    InvitationSettings,
    MessageKind,
    OnboardingMode,
    OnboardingStatus,
    ProductKind,
    ResendThrottled,
    TermsNotCurrent,
    UserId,
)
from practiceid.adapters import InMemoryStore, RecordingNotifier
from practiceid.policies.invitation import status_at
from practiceid.testing import ManualClock, SampleOnboarding, sample_onboarding

S = OnboardingStatus
HOUR, DAY, US = timedelta(hours=1), timedelta(days=1), timedelta(microseconds=1)
PASSWORDS = ("Gr4nd-Ciel!Orage#77", "Tasse-de-thé-au-jardin-9")
NAMES = (("Ana", "Exemple"), ("Bert", "Modèle"), ("Chloé", "Fictif"))

# (expiry, reminders): the defaults, a short round, none at all, the most reminders.
ROUNDS = (
    (14 * DAY, (3 * DAY, 7 * DAY, 12 * DAY)),
    (DAY, (HOUR, 6 * HOUR, 23 * HOUR)),
    (3 * HOUR, ()),
    (10 * DAY, (DAY, 2 * DAY, 3 * DAY, 4 * DAY, 9 * DAY)),
)


@st.composite
def invitation_settings(draw: st.DrawFn) -> InvitationSettings:
    expiry, reminders = draw(st.sampled_from(ROUNDS))
    return InvitationSettings(
        expiry=expiry,
        reminders=reminders,
        resend_cooldown=draw(st.sampled_from([timedelta(0), timedelta(minutes=2), HOUR])),
        daily_cap=draw(st.integers(1, 6)),
        live_links=draw(st.integers(1, 8)),
    )


@attrs.define
class Person:
    """What the model expects of one invited account."""

    uid: UserId
    login: str
    mode: OnboardingMode
    status: OnboardingStatus  # as stored
    sent_at: datetime
    expires_at: datetime
    round: int = 1
    reminders_sent: int = 0
    resume: OnboardingStatus | None = None
    sends: list[datetime] = attrs.Factory(list)
    links: list[tuple[str, int]] = attrs.Factory(list)  # delivered tokens and their round
    password: str | None = None
    temporary: bool = False
    signed_in: bool = False
    terms: str | None = None
    account_active: bool = True
    switched_off: bool = False  # deactivated, and not reactivated since
    was_active: bool = False  # and it was active then
    kinds: list[MessageKind] = attrs.Factory(list)

    def shown(self, now: datetime) -> OnboardingStatus:
        if self.status is S.INVITED and now >= self.expires_at:
            return S.EXPIRED
        return self.status

    def due_at(self, settings: InvitationSettings) -> datetime | None:
        if self.status is not S.INVITED:
            return None
        if self.reminders_sent < len(settings.reminders):
            return self.sent_at + settings.reminders[self.reminders_sent]
        return self.expires_at

    def live_links(self, settings: InvitationSettings) -> list[str]:
        links = [token for token, round_ in self.links if round_ == self.round]
        return links[-settings.live_links :]


def _version(message) -> int:
    match = re.search(r":v(\d+):", message.idempotency_key)
    assert match is not None
    return int(match.group(1))


class OnboardingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.people: list[Person] = []
        self.pending: list[tuple[Person, int]] = []  # link messages not delivered yet
        self.seen = 0  # deliveries of the notifier already checked
        self.terms: str | None = None
        self.used: set[str] = set()  # links that were accepted once

    @initialize(config=invitation_settings(), dental=st.booleans())
    def open_practice(self, config: InvitationSettings, dental: bool) -> None:  # noqa: FBT001
        self.config = config
        self.clock = ManualClock()
        self.store = InMemoryStore()
        self.notifier = RecordingNotifier()
        self.practice: SampleOnboarding = sample_onboarding(
            ProductKind.HOSPITAL,
            unit_of_work=self.store.unit_of_work,
            clock=self.clock,
            settings=config,
            notifier=self.notifier,
        )
        self.hospital = self.practice.establishment.id
        self.dental = self.practice.access.open_establishment(
            actor=self.owner,
            organisation_id=self.practice.establishment.organisation_id,
            name="Centre dentaire de l'Exemple",
            product=ProductKind.DENTAL,
        ).id
        self.send(dental=dental)  # the first invitation: every rule has someone to act on
        self.dispatch()

    @property
    def owner(self) -> UserId:
        return self.practice.owner.id

    @property
    def service(self):
        return self.practice.onboarding

    def now(self) -> datetime:
        return self.clock.now()

    # -- the model's moves ------------------------------------------------------------------

    def _new_round(self, person: Person) -> None:
        now = self.now()
        person.status = S.INVITED
        person.round += 1
        person.sent_at, person.expires_at = now, now + self.config.expiry
        person.reminders_sent = 0
        person.resume = None
        person.sends.append(now)
        person.kinds.append(
            MessageKind.WELCOME if person.mode is OnboardingMode.WELCOME else MessageKind.INVITATION
        )
        self.pending.append((person, person.round))

    def _settle(self, person: Person) -> None:
        if (
            person.status is S.ACCEPTED
            and person.signed_in
            and not person.temporary
            and person.terms == self.terms
        ):
            assert not person.switched_off
            person.status = S.ACTIVE
            person.kinds.append(MessageKind.ACCOUNT_ACTIVATED)
            event(f"activated ({person.mode})")

    @staticmethod
    def _switch_off(person: Person) -> None:
        if not person.switched_off:
            person.was_active = person.status is S.ACTIVE
        person.account_active = False
        person.switched_off = True

    def _deactivate(self, person: Person) -> None:
        person.resume = person.shown(self.now())
        person.status = S.DEACTIVATED
        person.kinds.append(MessageKind.ACCOUNT_DEACTIVATED)

    # -- rules --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.people) < len(NAMES))
    @rule(dental=st.booleans())
    def send(self, dental: bool) -> None:  # noqa: FBT001
        first, last = NAMES[len(self.people)]
        invited = self.service.invite(
            actor=self.owner,
            establishment_id=self.dental if dental else self.hospital,
            email=f"{first}.{last}@exemple-{len(self.people)}.fr",
            first_name=first,
            last_name=last,
        )
        mode = OnboardingMode.WELCOME if dental else OnboardingMode.INVITATION
        now = self.now()
        person = Person(
            invited.user.id,
            invited.user.login.display,
            mode,
            S.INVITED,
            sent_at=now,
            expires_at=now + self.config.expiry,
            sends=[now],
            kinds=[invited.message.kind],
        )
        assert invited.message.kind is (MessageKind.WELCOME if dental else MessageKind.INVITATION)
        assert invited.message.recipient == invited.user.email.address
        self.people.append(person)
        self.pending.append((person, 1))

    @rule()
    def remind(self) -> None:
        now = self.now()
        expected: dict[str, list[UserId]] = {"reminded": [], "expired": [], "deactivated": []}
        for person in self.people:
            due = person.due_at(self.config)
            if due is None or due > now:
                continue
            if not person.account_active:
                self._deactivate(person)
                expected["deactivated"].append(person.uid)
            elif now >= person.expires_at:
                person.status = S.EXPIRED
                person.kinds.append(MessageKind.INVITATION_EXPIRED)
                expected["expired"].append(person.uid)
            else:
                overdue = sum(1 for r in self.config.reminders if person.sent_at + r <= now)
                assert overdue > person.reminders_sent
                person.reminders_sent = overdue
                person.kinds.append(MessageKind.INVITATION_REMINDER)
                self.pending.append((person, person.round))
                expected["reminded"].append(person.uid)
        report = self.service.run_due()
        assert sorted(report.reminded) == sorted(expected["reminded"])
        assert sorted(report.expired) == sorted(expected["expired"])
        assert sorted(report.deactivated) == sorted(expected["deactivated"])
        for outcome, changed in expected.items():
            if changed:
                event(f"sweep: {outcome}")
        assert self.service.run_due().changed == 0  # idempotent

    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        person = data.draw(st.sampled_from(self.people))
        now = self.now()
        shown = person.shown(now)
        refusal = None
        if not person.account_active:
            refusal = "deactivated"
        elif shown not in {S.INVITED, S.EXPIRED}:
            refusal = str(shown)
        try:
            self.service.resend(
                actor=self.owner,
                establishment_id=self.dental
                if person.mode is OnboardingMode.WELCOME
                else self.hospital,
                user_id=person.uid,
            )
        except IllegalTransition as refused:
            assert refused.params["status"] == refusal
            event("resend refused")
            return
        except ResendThrottled as throttled:
            assert refusal is None
            recent = [s for s in person.sends if s > now - DAY]
            limits = []
            if len(recent) >= self.config.daily_cap:
                limits.append(recent[-self.config.daily_cap] + DAY)
            if recent and now < recent[-1] + self.config.resend_cooldown:
                limits.append(recent[-1] + self.config.resend_cooldown)
            assert limits
            assert throttled.params["retry_after"] == max(limits)
            event("resend throttled")
            return
        assert refusal is None
        recent = [s for s in person.sends if s > now - DAY]
        assert len(recent) < self.config.daily_cap
        assert not recent or now >= recent[-1] + self.config.resend_cooldown
        self._new_round(person)

    @rule()
    def dispatch(self) -> None:
        now = self.now()
        expected: dict[UserId, int] = {}
        pending = list(self.pending)
        for person, round_ in pending:
            if person.round == round_ and person.shown(now) is S.INVITED and person.account_active:
                expected[person.uid] = expected.get(person.uid, 0) + 1
        self.pending.clear()
        self.practice.dispatcher.run_until_idle()
        delivered: dict[UserId, int] = {}
        by_id = {person.uid: person for person in self.people}
        for delivery in self.notifier.sent[self.seen :]:
            message = delivery.message
            if not message.kind.carries_link:
                assert delivery.token is None
                continue
            person = by_id[message.user_id]
            # never a link of a round that is over
            assert message.link_round == person.round
            assert person.shown(now) is S.INVITED
            assert person.account_active
            assert delivery.token is not None
            person.links.append((delivery.token, person.round))
            delivered[person.uid] = delivered.get(person.uid, 0) + 1
        self.seen = len(self.notifier.sent)
        assert delivered == expected
        if sum(expected.values()) < len(pending):
            event("dispatch cancelled a link of a round that is over")

    def _accept(self, token: object) -> None:
        now = self.now()
        owner = next(
            (p for p in self.people if any(token == t for t, _ in p.links)),
            None,
        )
        valid = (
            owner is not None
            and token in owner.live_links(self.config)
            and owner.shown(now) is S.INVITED
            and owner.account_active
        )
        try:
            user = self.service.accept(
                token,
                password=PASSWORDS[0],
                password_confirmation=PASSWORDS[0],
            )
        except InvitationInvalid as refused:
            assert not valid
            assert refused.params == {}
            event("link refused")
            return
        assert valid
        assert owner is not None
        assert user.id == owner.uid
        assert token not in self.used  # a link works at most once
        self.used.add(token)
        owner.status = S.ACCEPTED
        owner.password = PASSWORDS[0]
        owner.temporary = owner.mode is OnboardingMode.WELCOME
        owner.kinds.append(MessageKind.INVITATION_ACCEPTED)
        event(f"link accepted ({owner.mode})")

    @rule(
        data=st.data(),
        link=st.sampled_from(["newest", "newest", "old", "made-up"]),
        made_up=st.one_of(st.text(max_size=50), st.none(), st.integers()),
    )
    def accept(self, data: st.DataObject, link: str, made_up: object) -> None:
        """Accept with the newest link someone received, any link ever sent, or a made-up one."""
        received = [p for p in self.people if p.links]
        if link == "made-up" or not received:
            self._accept(made_up)
        elif link == "newest":
            self._accept(data.draw(st.sampled_from(received)).links[-1][0])
        else:
            self._accept(data.draw(st.sampled_from([t for p in received for t, _ in p.links])))

    @rule(data=st.data())
    def sign_in(self, data: st.DataObject) -> None:
        """Sign in someone who set a password, or else someone who cannot have one yet."""
        chosen = [p for p in self.people if p.password] or self.people
        self._sign_in(data.draw(st.sampled_from(chosen)))

    def _sign_in(self, person: Person) -> None:
        password = person.password or PASSWORDS[0]
        try:
            signed = self.service.sign_in(person.login, password)
        except AccountDeactivated:
            assert person.password is not None
            assert not person.account_active
            return
        except AuthenticationFailed:
            assert person.password is None
            return
        assert person.account_active
        assert person.status in {S.ACCEPTED, S.ACTIVE}
        person.signed_in = True
        self._settle(person)
        expected = []
        if person.temporary:
            expected.append("password_change")
        if self.terms is not None and person.terms != self.terms:
            expected.append("terms")
        assert signed.missing == tuple(expected)
        assert signed.onboarding.status is person.status

    @precondition(lambda self: any(p.password for p in self.people))
    @rule(data=st.data())
    def change_password(self, data: st.DataObject) -> None:
        self._change_password(data.draw(st.sampled_from([p for p in self.people if p.password])))

    def _change_password(self, person: Person) -> None:
        assert person.password is not None
        new = PASSWORDS[1] if person.password == PASSWORDS[0] else PASSWORDS[0]
        try:
            self.service.change_password(
                user_id=person.uid,
                current_password=person.password,
                new_password=new,
                new_password_confirmation=new,
            )
        except IllegalTransition as refused:
            assert not person.account_active or person.status is S.DEACTIVATED
            assert refused.params["status"] == "deactivated"
            return
        assert person.account_active
        person.password = new
        person.temporary = False
        self._settle(person)

    @rule()
    def publish_terms(self) -> None:
        version = f"v{0 if self.terms is None else int(self.terms[1:]) + 1:03d}"
        self.service.publish_terms(version)
        self.terms = version

    @rule(data=st.data(), current=st.booleans())
    def accept_terms(self, data: st.DataObject, current: bool) -> None:  # noqa: FBT001
        chosen = [p for p in self.people if p.password] or self.people
        person = data.draw(st.sampled_from(chosen))
        self._accept_terms(person, self.terms if current and self.terms is not None else "v999")

    def _accept_terms(self, person: Person, version: str) -> None:
        shown = person.shown(self.now())
        try:
            record = self.service.accept_terms(user_id=person.uid, version=version)
        except IllegalTransition as refused:
            expected = "deactivated" if not person.account_active else str(shown)
            assert refused.params["status"] == expected
            assert expected not in {"accepted", "active"}
            return
        except TermsNotCurrent:
            assert version != self.terms
            assert person.account_active
            assert shown in {S.ACCEPTED, S.ACTIVE}
            return
        assert version == self.terms
        assert person.account_active
        assert shown in {S.ACCEPTED, S.ACTIVE}
        person.terms = version
        self._settle(person)
        assert record.status is person.status

    @rule(data=st.data())
    def take_the_next_onboarding_step(self, data: st.DataObject) -> None:
        """Move someone one step along the happy path, which random rules rarely follow far:
        deliver the invitation, accept its newest link, sign in, replace the temporary
        password, accept the current terms."""
        person = data.draw(st.sampled_from(self.people))
        if person.shown(self.now()) is S.INVITED:
            if person.live_links(self.config):
                self._accept(person.live_links(self.config)[-1])
            else:
                self.dispatch()
        elif person.status in {S.ACCEPTED, S.ACTIVE} and person.account_active:
            if not person.signed_in:
                self._sign_in(person)
            elif person.temporary:
                self._change_password(person)
            elif self.terms is not None and person.terms != self.terms:
                self._accept_terms(person, self.terms)
            else:
                self._sign_in(person)

    @rule(data=st.data(), around=st.booleans())
    def deactivate(self, data: st.DataObject, around: bool) -> None:  # noqa: FBT001
        """Deactivate through the service, or around it through the access service."""
        person = data.draw(st.sampled_from(self.people))
        self._switch_off(person)
        if around:
            self.practice.access.deactivate_user(actor=self.owner, user_id=person.uid)
            return
        record = self.service.deactivate(actor=self.owner, user_id=person.uid)
        if person.status is not S.DEACTIVATED:
            self._deactivate(person)
        assert record.status is S.DEACTIVATED

    @rule(data=st.data())
    def reactivate(self, data: st.DataObject) -> None:
        person = data.draw(st.sampled_from(self.people))
        record = self.service.reactivate(actor=self.owner, user_id=person.uid)
        person.account_active = True
        person.switched_off = False
        if person.status is S.DEACTIVATED:
            event(f"reactivated from {person.resume}")
            if person.resume is S.INVITED:
                self._new_round(person)
            else:
                person.status = person.resume or S.ACTIVE
                person.resume = None
                person.kinds.append(MessageKind.ACCOUNT_REACTIVATED)
        assert record.status is person.status

    # -- time ---------------------------------------------------------------------------------

    @rule(step=st.sampled_from([US, timedelta(minutes=1), HOUR, 6 * HOUR, DAY, 3 * DAY, 15 * DAY]))
    def advance(self, step: timedelta) -> None:
        self.clock.advance(step)

    @precondition(lambda self: any(p.status is S.INVITED for p in self.people))
    @rule(
        data=st.data(),
        deadline=st.sampled_from(["next", "expiry"]),
        shift=st.sampled_from([-US, timedelta(0), US]),
        sweep=st.booleans(),
    )
    def jump_to_a_deadline(
        self,
        data: st.DataObject,
        deadline: str,
        shift: timedelta,
        sweep: bool,  # noqa: FBT001
    ) -> None:
        """Move the clock next to someone's next reminder or expiry; maybe sweep right then."""
        person = data.draw(st.sampled_from([p for p in self.people if p.status is S.INVITED]))
        target = person.expires_at if deadline == "expiry" else person.due_at(self.config)
        assert target is not None
        if target + shift > self.now():
            self.clock.set(target + shift)
            event(f"jump to {deadline} {shift // US:+d} µs")
        if sweep:
            self.remind()

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def records_follow_the_model(self) -> None:
        for person in self.people:
            record = self.service.onboarding_of(person.uid)
            assert record is not None
            assert record.status is person.status
            assert record.round == person.round
            assert record.reminders_sent == person.reminders_sent
            assert record.due_at == person.due_at(self.config)
            assert (record.signed_in_at is not None) is person.signed_in
            assert record.terms_version == person.terms
            assert record.password_change_required is person.temporary
            if person.status is S.INVITED:
                assert (record.sent_at, record.expires_at) == (person.sent_at, person.expires_at)

    @invariant()
    def expired_exactly_when_the_deadline_passed_unaccepted(self) -> None:
        now = self.now()
        for person in self.people:
            record = self.service.onboarding_of(person.uid)
            assert record is not None
            assert record.expires_at is not None
            expired = status_at(record, now) is S.EXPIRED
            if record.status in {S.INVITED, S.EXPIRED}:
                assert expired is (now >= record.expires_at)
                assert record.accepted_at is None
            else:
                assert not expired
            if record.accepted_at is not None:
                assert record.accepted_at < record.expires_at

    @invariant()
    def at_most_the_configured_reminders_per_round(self) -> None:
        with self.practice.unit_of_work() as uow:
            messages = list(uow.outbox.list())
        per_round: dict[tuple[UserId | None, int | None], int] = {}
        for message in messages:
            if message.kind is MessageKind.INVITATION_REMINDER:
                key = (message.user_id, message.link_round)
                per_round[key] = per_round.get(key, 0) + 1
        assert all(count <= len(self.config.reminders) for count in per_round.values())

    @invariant()
    def every_change_wrote_exactly_one_message(self) -> None:
        with self.practice.unit_of_work() as uow:
            for person in self.people:
                messages = sorted(uow.outbox.list(user_id=person.uid), key=_version)
                assert [m.kind for m in messages] == person.kinds
                keys = [m.idempotency_key for m in messages]
                assert len(set(keys)) == len(keys)

    @invariant()
    def deactivated_accounts_never_become_active_without_reactivation(self) -> None:
        now = self.now()
        listed = {
            m.user.id: m.status
            for m in self.service.members(actor=self.owner, establishment_id=self.hospital)
        }
        listed.update(
            (m.user.id, m.status)
            for m in self.service.members(actor=self.owner, establishment_id=self.dental)
        )
        for person in self.people:
            record = self.service.onboarding_of(person.uid)
            assert record is not None
            if person.switched_off:
                assert record.status is not S.ACTIVE or person.was_active
                assert listed[person.uid] is S.DEACTIVATED
            else:
                assert listed[person.uid] is person.shown(now)


OnboardingMachine.TestCase.settings = settings(stateful_step_count=80, deadline=None)
TestOnboardingMachine = OnboardingMachine.TestCase
