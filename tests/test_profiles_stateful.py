"""The profile service against a model: initials, practitioners, trainees and supervisors.

One organisation runs two general practices, Namur and Dinant; its owner opened both and acts
in every rule, except where members act on themselves (their own initials, supervisor and
practitioner data). Members are added with names from a small pool, so that initials clash
often (A7); they become general practitioners, specialists, GP trainees or secretaries, with an
INAMI number that is new, their own kept, or someone else's (B2, B4); trainees choose
supervisors valid or not, supervisors hand their trainees over or try to leave, memberships and
accounts are deactivated and reactivated (A6). A model predicts each outcome and its error
code; invariants check what must always hold: unique initials, supervisors who qualify, one
practitioner per identity key.

A trainee may be without a supervisor only after coming (back) to a practice without one:
attached by ``add_member``, or reactivated after their supervisor left, which unlinked them
(``docs/profiles.md``: "they choose a new one"). Never with a supervisor who does not qualify.

The examples after the machine run the races with threads; the last ones are the minimal
programs of what modelling found: two defects (failing until fixed) and two behaviours fixed
since (unlinking a departed supervisor, dropping every link of a recognised GP).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from practiceid import (
    AccessService,
    BillingIncomplete,
    DuplicateIdentifier,
    DuplicateInitials,
    EstablishmentId,
    MemberAdded,
    MembershipNotFound,
    MembershipStatus,
    OrganisationId,
    PermissionDenied,
    PracticeIdError,
    PractitionerRejected,
    ProductKind,
    Profession,
    ProfileService,
    Reason,
    SupervisesTrainees,
    UserId,
)
from practiceid.adapters import InMemoryStore
from practiceid.policies import initials as initials_policy
from practiceid.policies.identifiers import inami
from practiceid.testing import ManualClock, sample_inami, sample_user, sample_workplace

ORGANISATION = OrganisationId("org-meuse")
NAMUR, DINANT = EstablishmentId("e-namur"), EstablishmentId("e-dinant")
ESTABLISHMENTS = (NAMUR, DINANT)
OWNER = UserId("u-owner")
GHOST = UserId("u-ghost")  # an id no user has

# Made-up names chosen to clash: most derive JD, and "Jo Du" runs out of letters quickly.
NAMES = (
    ("Jean", "Dupont"),
    ("Julie", "Durand"),
    ("Jeanne", "Dubois"),
    ("Jo", "Du"),
    ("Jules", "Dupuis"),
    ("Anne", "Peeters"),
    ("Arnaud", "Pirard"),
    ("Jean-Pierre", "Van den Bossche"),
)
TYPED_INITIALS = ("JD", "jd", "JDu", "JD2", "AP", "JPVB", "Jo")

GP, SPECIALIST, TRAINEE, SECRETARY = "gp", "specialist", "trainee", "secretary"
KINDS = (GP, SPECIALIST, TRAINEE, SECRETARY)
# The INAMI competence codes each kind is given (B2, B4): 003/004 recognised GPs, 005/006 GP
# trainees; a specialist carries 000 (legal diploma) or, oddly, a GP code: only a general
# practitioner by profession is a recognised GP.
CODES = {GP: ("003", "004"), SPECIALIST: ("000", "003"), TRAINEE: ("005", "006")}
RECOGNISED_CODES = frozenset(CODES[GP])
TRAINEE_CODES = frozenset(CODES[TRAINEE])
# How a supervisor leaves: their membership, their account, or their recognised GP status.
LEAVING = ("member", "account", SPECIALIST, SECRETARY, TRAINEE)
PROFESSIONS = {
    GP: Profession.GENERAL_PRACTITIONER,
    SPECIALIST: Profession.SPECIALIST,
    TRAINEE: Profession.GENERAL_PRACTITIONER,
    SECRETARY: Profession.SECRETARY,
}

Place = tuple[EstablishmentId, UserId]


# -- the model ---------------------------------------------------------------------------------


@attrs.define
class Person:
    first_name: str
    last_name: str
    email: str
    active: bool = True


@attrs.define
class Member:
    initials: str
    active: bool = True
    supervisor: UserId | None = None


@attrs.frozen
class Data:
    """Practitioner data as the model sees it: a profession and an 11-digit INAMI number."""

    profession: Profession
    number: str | None = None

    @property
    def person_key(self) -> str | None:
        return self.number[:8] if self.number else None

    @property
    def code(self) -> str | None:
        return self.number[8:] if self.number else None

    @property
    def requires_supervisor(self) -> bool:
        return self.code in TRAINEE_CODES

    @property
    def recognised_gp(self) -> bool:
        return self.profession is Profession.GENERAL_PRACTITIONER and self.code in RECOGNISED_CODES

    @property
    def kind(self) -> str:
        if self.requires_supervisor:
            return TRAINEE
        return next(k for k in KINDS if PROFESSIONS[k] is self.profession)


@attrs.frozen
class Refusal:
    """A predicted refusal: the error class, params that must match, violation codes."""

    error: type[PracticeIdError]
    params: Mapping[str, object] = attrs.field(factory=dict)
    # (code, params["establishments"] or None) of each violation, in order
    violations: tuple[tuple[str, object], ...] | None = None

    def check(self, raised: PracticeIdError) -> None:
        assert type(raised) is self.error, f"expected {self}, got {raised!r}"
        for name, value in self.params.items():
            assert raised.params.get(name) == value, (name, raised.params.get(name), value)
        if self.violations is not None:
            assert isinstance(raised, PractitionerRejected)
            got = tuple((v.code, v.params.get("establishments")) for v in raised.violations)
            assert got == self.violations, f"expected {self.violations}, got {got}"


Prediction = Refusal | None
ALLOWED: Prediction = None


def denied(reason: Reason) -> Refusal:
    return Refusal(PermissionDenied, {"reason": str(reason)})


def rejected(*violations: tuple[str, object]) -> Refusal:
    return Refusal(PractitionerRejected, violations=violations)


@attrs.define
class Model:
    """What the requirements and docs/profiles.md say the store holds."""

    people: dict[UserId, Person] = attrs.Factory(dict)
    members: dict[Place, Member] = attrs.Factory(dict)
    data: dict[UserId, Data] = attrs.Factory(dict)
    person_keys: list[str] = attrs.Factory(list)  # every INAMI person key handed out so far
    # Memberships that came (back) without a supervisor since one was last chosen there:
    # attached by add_member, or reactivated. Only these may hold an unsupervised trainee.
    returned: set[Place] = attrs.Factory(set)

    # -- reading ---------------------------------------------------------------------------

    def users(self) -> list[UserId]:
        """Everyone but the owner: the people the rules change."""
        return sorted(u for u in self.people if u != OWNER)

    def members_of(self, establishment: EstablishmentId) -> list[UserId]:
        return sorted(u for (e, u) in self.members if e == establishment)

    def establishments_of(self, user: UserId) -> list[EstablishmentId]:
        return sorted(e for (e, u) in self.members if u == user)

    def active_places_of(self, user: UserId) -> list[EstablishmentId]:
        return [e for e in self.establishments_of(user) if self.members[(e, user)].active]

    def is_trainee(self, user: UserId) -> bool:
        data = self.data.get(user)
        return data is not None and data.requires_supervisor

    def trainees(self) -> list[UserId]:
        return [u for u in self.users() if self.is_trainee(u)]

    def taken(self, establishment: EstablishmentId, *, excluding: UserId | None) -> set[str]:
        """The initials keys of every other member, active or not (A7)."""
        return {
            initials_policy.key(m.initials)
            for (e, u), m in self.members.items()
            if e == establishment and u != excluding and m.initials
        }

    def holder(self, person_key: str | None) -> UserId | None:
        return next((u for u, d in self.data.items() if d.person_key == person_key), None)

    def active_trainees(self, establishment: EstablishmentId, supervisor: UserId) -> list[UserId]:
        """Active memberships of active users whose supervisor is ``supervisor`` (B4)."""
        return [
            u
            for u in self.members_of(establishment)
            if self.members[(establishment, u)].active
            and self.people[u].active
            and self.members[(establishment, u)].supervisor == supervisor
        ]

    def supervisors(self) -> list[Place]:
        """Where each supervisor of active trainees supervises them."""
        return sorted(
            {
                (e, m.supervisor)
                for (e, _), m in self.members.items()
                if m.supervisor is not None and self.active_trainees(e, m.supervisor)
            }
        )

    def supervisor_problem(
        self, establishment: EstablishmentId, trainee: UserId, supervisor: UserId
    ) -> str | None:
        """B4: an active member here, an active user, a recognised GP, not the trainee."""
        if supervisor == trainee:
            return "supervisor.self"
        member = self.members.get((establishment, supervisor))
        person = self.people.get(supervisor)
        if member is None or person is None:
            return "supervisor.not_member"
        if not member.active or not person.active:
            return "supervisor.inactive"
        data = self.data.get(supervisor)
        if data is None or not data.recognised_gp:
            return "supervisor.not_recognised_gp"
        return None

    def valid_supervisors(self) -> list[Place]:
        """Who may supervise a trainee where (B4)."""
        return [
            (e, u) for (e, u) in sorted(self.members) if not self.supervisor_problem(e, GHOST, u)
        ]

    def badly_supervised(self) -> list[Place]:
        """Active trainee memberships whose supervisor does not qualify, or who have none
        without having come back: B4 says none."""
        return [
            (e, u)
            for (e, u), m in sorted(self.members.items())
            if m.active
            and self.people[u].active
            and self.is_trainee(u)
            and (
                (e, u) not in self.returned
                if m.supervisor is None
                else self.supervisor_problem(e, u, m.supervisor) is not None
            )
        ]

    # -- predicting ------------------------------------------------------------------------

    def acting_on_self(
        self, actor: UserId, establishment: EstablishmentId, user: UserId
    ) -> Prediction:
        """A member acts on themselves while active, or needs users.edit_profile (A7, B4)."""
        if actor != user:
            return ALLOWED  # the owner holds every permission in both practices (C2)
        if not self.people[user].active:
            return denied(Reason.USER_DEACTIVATED)
        if not self.members[(establishment, user)].active:
            return denied(Reason.MEMBERSHIP_DEACTIVATED)
        return ALLOWED

    def supervising(self, user: UserId, establishments: Iterable[EstablishmentId]) -> Prediction:
        """SupervisesTrainees when the user supervises active trainees in one of them (B4)."""
        found = {e: self.active_trainees(e, user) for e in establishments}
        found = {e: t for e, t in found.items() if t}
        if not found:
            return ALLOWED
        return Refusal(
            SupervisesTrainees,
            {
                "establishments": tuple(sorted(found)),
                "trainees": tuple(sorted({t for ts in found.values() for t in ts})),
            },
        )

    def trainee_violations(
        self, establishment: EstablishmentId, user: UserId, supervisor: UserId | None
    ) -> list[tuple[str, object]]:
        """B4: the supervisors chosen (or kept) qualify, and every active place has one."""
        violations: list[tuple[str, object]] = []
        missing: list[EstablishmentId] = []
        for place in sorted({*self.active_places_of(user), establishment}):
            kept = self.members[(place, user)].supervisor
            chosen = supervisor if place == establishment and supervisor is not None else kept
            if chosen is None:
                missing.append(place)
                continue
            problem = self.supervisor_problem(place, user, chosen)
            if problem is not None:
                violations.append((problem, None))
        if missing:
            violations.append(("practitioner.supervisor_required", tuple(missing)))
        return violations

    def predict_save(
        self,
        actor: UserId,
        establishment: EstablishmentId,
        user: UserId,
        new: Data,
        supervisor: UserId | None,
    ) -> Prediction:
        if actor == user and not self.people[user].active:
            return denied(Reason.USER_DEACTIVATED)  # self-service needs an active account
        if (establishment, user) not in self.members:
            return Refusal(MembershipNotFound)
        if new.requires_supervisor:
            violations = self.trainee_violations(establishment, user, supervisor)
        elif supervisor is not None:
            violations = [("supervisor.not_a_trainee", None)]
        else:
            violations = []
        if violations:
            return rejected(*violations)
        if not new.recognised_gp:
            supervising = self.supervising(user, self.establishments_of(user))
            if supervising is not None:
                return supervising
        holder = self.holder(new.person_key)
        if new.person_key is not None and holder not in {None, user}:
            return Refusal(DuplicateIdentifier, {"kind": "inami"})
        return ALLOWED

    # -- changing (after a success) ----------------------------------------------------------

    def release(self, supervisor: UserId, establishments: Iterable[EstablishmentId]) -> None:
        """A supervisor leaves: their inactive trainees there are unlinked (B4, the docs)."""
        places = set(establishments)
        for (e, _), m in self.members.items():
            if e in places and m.supervisor == supervisor:
                m.supervisor = None

    def choose(self, place: Place, supervisor: UserId) -> None:
        self.members[place].supervisor = supervisor
        self.returned.discard(place)

    def record_save(
        self, establishment: EstablishmentId, user: UserId, new: Data, supervisor: UserId | None
    ) -> None:
        if not new.recognised_gp:
            self.release(user, self.establishments_of(user))
        self.data[user] = new
        if new.requires_supervisor:
            if supervisor is not None:
                self.choose((establishment, user), supervisor)
        else:
            # "When a trainee becomes a recognised GP ... their supervisor links are dropped."
            for e in self.establishments_of(user):
                self.members[(e, user)].supervisor = None
        if new.person_key is not None and new.person_key not in self.person_keys:
            self.person_keys.append(new.person_key)


# -- the machine -------------------------------------------------------------------------------


class ProfileMachine(RuleBasedStateMachine):
    """Two practices, an owner, people with clashing names: the model must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryStore()
        self.numbers = itertools.count(1)
        self.access = AccessService(
            unit_of_work=self.store.unit_of_work,
            clock=ManualClock(),
            new_user_id=lambda: UserId(f"u-{next(self.numbers):03d}"),
        )
        self.profiles = ProfileService(access=self.access)
        self.model = Model()
        self._set_up()

    def _set_up(self) -> None:
        """Namur: Anne (GP, also in Dinant), Jean (her trainee), Julie (secretary); Dinant:
        Arnaud (GP) and Jo (no practitioner data yet). Read back into the model, which the
        invariants then check against the store.
        """
        with self.store.unit_of_work() as uow:
            uow.users.add(sample_user(id=OWNER, first_name="Olivia", last_name="Proprio"))
            uow.commit()
        self.access.found_organisation(
            owner=OWNER, name="Maisons médicales de Meuse", organisation_id=ORGANISATION
        )
        for establishment in ESTABLISHMENTS:
            self.access.open_establishment(
                actor=OWNER,
                organisation_id=ORGANISATION,
                name=f"Maison médicale {establishment}",
                product=ProductKind.GENERAL_PRACTICE,
                establishment_id=establishment,
            )
        people = {}
        for key, establishment, (first, last) in (
            ("anne", NAMUR, ("Anne", "Peeters")),
            ("jean", NAMUR, ("Jean", "Dupont")),
            ("julie", NAMUR, ("Julie", "Durand")),
            ("arnaud", DINANT, ("Arnaud", "Pirard")),
            ("jo", DINANT, ("Jo", "Du")),
        ):
            added = self.access.add_member(
                actor=OWNER,
                establishment_id=establishment,
                email=f"{key}@cabinet-exemple.be",
                first_name=first,
                last_name=last,
            )
            people[key] = added.user.id
        self.access.add_member(
            actor=OWNER, establishment_id=DINANT, email="anne@cabinet-exemple.be"
        )
        for key, kind, supervisor in (
            ("anne", GP, None),
            ("arnaud", GP, None),
            ("jean", TRAINEE, people["anne"]),
            ("julie", SECRETARY, None),
        ):
            self.profiles.save_practitioner(
                actor=OWNER,
                establishment_id=DINANT if key == "arnaud" else NAMUR,
                user_id=people[key],
                profession=PROFESSIONS[kind],
                country="BE",
                identifiers={"inami": sample_inami(CODES[kind][0])} if kind in CODES else {},
                addresses=[] if kind == SECRETARY else [sample_workplace()],
                supervisor=supervisor,
            )
        model = self.model
        with self.store.unit_of_work() as uow:
            for establishment in ESTABLISHMENTS:
                for m in uow.memberships.list_for_establishment(establishment):
                    place = (establishment, m.user_id)
                    model.members[place] = Member(m.initials, m.is_active, m.supervisor)
                    user = uow.users.get(m.user_id)
                    model.people[m.user_id] = Person(
                        user.first_name, user.last_name, user.email.address
                    )
                    data = uow.practitioners.find(m.user_id)
                    if data is not None and data.inami is not None:
                        model.data[m.user_id] = Data(data.profession, data.inami.number)
                        model.person_keys.append(data.inami.person_key)
                    elif data is not None:
                        model.data[m.user_id] = Data(data.profession)

    # -- drawing ---------------------------------------------------------------------------

    def _user(self, data: st.DataObject, label: str = "user") -> UserId:
        return data.draw(st.sampled_from(self.model.users()), label=label)

    def _place_of(self, data: st.DataObject, user: UserId) -> EstablishmentId:
        """One of the user's establishments, or, now and then, either."""
        mine = st.sampled_from(self.model.establishments_of(user))
        return data.draw(mine | st.sampled_from(ESTABLISHMENTS), label="establishment")

    def _supervisor(
        self, data: st.DataObject, establishment: EstablishmentId, *, instead_of: UserId = GHOST
    ) -> UserId:
        """Anyone (members of either practice, the owner, an unknown id), or a valid one."""
        anyone = st.sampled_from([*self.model.users(), OWNER, GHOST])
        valid = [
            u for e, u in self.model.valid_supervisors() if e == establishment and u != instead_of
        ]
        return data.draw(anyone | st.sampled_from(valid) if valid else anyone, label="supervisor")

    def _number(self, data: st.DataObject, user: UserId, kind: str, source: str) -> str | None:
        """A new INAMI number, the user's own person key, or someone else's (B2)."""
        if kind == SECRETARY:
            return None
        code = data.draw(st.sampled_from(CODES[kind]), label="competence code")
        own = self.model.data.get(user)
        if source == "own" and own is not None and own.person_key is not None:
            return own.person_key + code
        if source == "taken" and self.model.person_keys:
            key = data.draw(st.sampled_from(self.model.person_keys), label="person key")
            return key + code
        return sample_inami(code)

    def _pairs(self) -> list[tuple[EstablishmentId, UserId, UserId]]:
        """(where, supervisor, member) for each valid supervisor and each other member there."""
        return [
            (e, s, u)
            for e, s in self.model.valid_supervisors()
            for u in self.model.members_of(e)
            if u not in {OWNER, s}
        ]

    # -- running one call against the model --------------------------------------------------

    @staticmethod
    def _run(
        what: str, prediction: Prediction, call: Callable[[], object]
    ) -> tuple[object, PracticeIdError | None]:
        """Call; compare with the prediction; return the result or the error."""
        try:
            result = call()
        except PracticeIdError as error:
            event(f"{what}: {error.code}")
            assert prediction is not None, f"{what}: the model expected success, got {error!r}"
            prediction.check(error)
            return None, error
        event(f"{what}: succeeded")
        assert prediction is None, f"{what}: expected {prediction}, but it succeeded"
        return result, None

    def _save(
        self,
        actor: UserId,
        establishment: EstablishmentId,
        user: UserId,
        new: Data,
        supervisor: UserId | None,
        *,
        what: str = "save_practitioner",
    ) -> None:
        model = self.model
        prediction = model.predict_save(actor, establishment, user, new, supervisor)
        stored, _ = self._run(
            f"{what} as {new.kind}",
            prediction,
            lambda: self.profiles.save_practitioner(
                actor=actor,
                establishment_id=establishment,
                user_id=user,
                profession=new.profession,
                country="BE",
                identifiers={"inami": new.number} if new.number else {},
                addresses=[] if new.profession is Profession.SECRETARY else [sample_workplace()],
                supervisor=supervisor,
            ),
        )
        if prediction is None:
            assert stored is not None
            model.record_save(establishment, user, new, supervisor)

    def _hand_over(
        self, what: str, establishment: EstablishmentId, supervisor: UserId, new: UserId
    ) -> bool:
        """B4: every active trainee of one supervisor goes to another, or none does."""
        model = self.model
        trainees = model.active_trainees(establishment, supervisor)
        problems = (model.supervisor_problem(establishment, t, new) for t in trainees)
        problem = None if new == supervisor else next((p for p in problems if p), None)
        prediction = rejected((problem, None)) if problem else ALLOWED
        handed, _ = self._run(
            what,
            prediction,
            lambda: self.profiles.hand_over_trainees(
                actor=OWNER,
                establishment_id=establishment,
                supervisor=supervisor,
                new_supervisor=new,
            ),
        )
        if prediction is not None:
            return False
        assert isinstance(handed, list)
        assert sorted(m.user_id for m in handed) == trainees
        for trainee in trainees:
            model.choose((establishment, trainee), new)
        return True

    def _deactivate_member(self, what: str, establishment: EstablishmentId, user: UserId) -> None:
        model = self.model
        member = model.members[(establishment, user)]
        prediction = model.supervising(user, [establishment]) if member.active else ALLOWED
        self._run(
            what,
            prediction,
            lambda: self.access.deactivate_member(
                actor=OWNER, establishment_id=establishment, user_id=user
            ),
        )
        if prediction is None and member.active:
            model.release(user, [establishment])
            member.active = False

    def _deactivate_user(self, what: str, user: UserId) -> None:
        model = self.model
        places = model.active_places_of(user)
        active = model.people[user].active
        prediction = model.supervising(user, places) if active else ALLOWED
        self._run(what, prediction, lambda: self.access.deactivate_user(actor=OWNER, user_id=user))
        if prediction is None and active:
            model.release(user, places)
            model.people[user].active = False

    # -- members and initials (A7) -----------------------------------------------------------

    @rule(
        data=st.data(),
        establishment=st.sampled_from(ESTABLISHMENTS),
        name=st.sampled_from(NAMES),
        typed=st.none() | st.sampled_from(TYPED_INITIALS),
        attach=st.booleans(),
    )
    def add_member(
        self,
        data: st.DataObject,
        establishment: EstablishmentId,
        name: tuple[str, str],
        typed: str | None,
        attach: bool,  # noqa: FBT001 - drawn
    ) -> None:
        """C1: an existing address attaches its user, whose own names give the initials."""
        model = self.model
        others = [u for u in model.users() if (establishment, u) not in model.members]
        existing = (
            data.draw(st.sampled_from(others), label="existing") if attach and others else None
        )
        if existing is not None:
            person = model.people[existing]
            email, first, last = person.email, person.first_name, person.last_name
        else:
            email = f"membre{next(self.numbers)}@cabinet-exemple.be"
            first, last = name
        taken = model.taken(establishment, excluding=existing)
        clash = typed is not None and initials_policy.key(typed) in taken
        prediction = (
            Refusal(DuplicateInitials, {"initials": typed, "establishment_id": establishment})
            if clash
            else ALLOWED
        )
        added, error = self._run(
            "add_member",
            prediction,
            lambda: self.access.add_member(
                actor=OWNER,
                establishment_id=establishment,
                email=email,
                first_name=name[0],
                last_name=name[1],
                initials=typed,
            ),
        )
        if error is not None:
            _check_suggestion(error, taken)
            return
        assert isinstance(added, MemberAdded)
        assert added.created_user is (existing is None), "C1: an address attaches its user"
        initials = added.membership.initials
        adjusted = [n for n in added.notices if n.code == "member.initials_adjusted"]
        derived = initials_policy.derive(first, last)
        if typed is not None:
            assert initials == typed, "A7: free typed initials are kept as typed"
            assert not adjusted
        elif initials_policy.key(derived) not in taken:
            assert initials == derived, "A7: free derived initials are used"
            assert not adjusted
        else:
            assert initials_policy.key(initials) not in taken, "A7: the nearest free ones"
            assert [dict(n.params) for n in adjusted] == [
                {"derived": derived, "initials": initials}
            ]
        user = added.user.id
        if existing is None:
            model.people[user] = Person(first, last, email)
        model.members[(establishment, user)] = Member(initials)
        model.returned.add((establishment, user))

    @rule(
        data=st.data(),
        establishment=st.sampled_from(ESTABLISHMENTS),
        how=st.sampled_from(("free", "clashing", "own", "typed")),
        by_self=st.booleans(),
    )
    def set_initials(
        self,
        data: st.DataObject,
        establishment: EstablishmentId,
        how: str,
        by_self: bool,  # noqa: FBT001 - drawn
    ) -> None:
        """A7: initials are editable, unique in the practice; a clash suggests free ones."""
        model = self.model
        user = data.draw(st.sampled_from(model.members_of(establishment)), label="member")
        member = model.members[(establishment, user)]
        taken = model.taken(establishment, excluding=user)
        others = sorted(
            m.initials
            for (e, u), m in model.members.items()
            if e == establishment and u != user and m.initials
        )
        if how == "clashing" and others:
            wanted = data.draw(st.sampled_from(others), label="clashing")
        elif how == "own" and member.initials:
            wanted = member.initials
        elif how == "free":
            wanted = f"Z{next(self.numbers)}"
        else:
            wanted = data.draw(st.sampled_from(TYPED_INITIALS), label="typed")
        if data.draw(st.booleans(), label="in other case"):
            wanted = wanted.swapcase()  # JDU and jdu are the same initials (A7)
        actor = user if by_self else OWNER
        prediction = model.acting_on_self(actor, establishment, user)
        clash = wanted != member.initials and initials_policy.key(wanted) in taken
        if prediction is None and clash:
            prediction = Refusal(DuplicateInitials, {"initials": wanted})
        stored, error = self._run(
            "set_initials",
            prediction,
            lambda: self.profiles.set_initials(
                actor=actor, establishment_id=establishment, user_id=user, initials=wanted
            ),
        )
        if isinstance(error, DuplicateInitials):
            _check_suggestion(error, taken)
        if prediction is None:
            assert stored is not None
            member.initials = wanted

    # -- practitioner data (B1-B4) -----------------------------------------------------------

    @precondition(lambda self: self.model.users())
    @rule(
        data=st.data(),
        kind=st.sampled_from(KINDS),
        source=st.sampled_from(("new", "own", "taken")),
        by_self=st.booleans(),
    )
    def save_practitioner(
        self,
        data: st.DataObject,
        kind: str,
        source: str,
        by_self: bool,  # noqa: FBT001 - drawn
    ) -> None:
        """B2, B4: a GP, a specialist, a trainee with a supervisor or not, a secretary."""
        user = self._user(data)
        establishment = self._place_of(data, user)
        number = self._number(data, user, kind, source)
        supervisor = None
        # A trainee names a supervisor or keeps theirs; others now and then name one anyway.
        if data.draw(st.booleans() if kind == TRAINEE else st.integers(0, 5).map(lambda n: n == 0)):
            supervisor = self._supervisor(data, establishment)
        actor = user if by_self else OWNER
        self._save(actor, establishment, user, Data(PROFESSIONS[kind], number), supervisor)

    @precondition(lambda self: self.model.trainees())
    @rule(data=st.data())
    def a_trainee_becomes_a_recognised_gp(self, data: st.DataObject) -> None:
        """B4: same first eight digits, competence 003; the supervisor links go."""
        model = self.model
        trainee = data.draw(st.sampled_from(model.trainees()), label="trainee")
        before = model.data[trainee]
        assert before.number is not None
        parsed = inami.parse(before.number)
        key = parsed.person_key
        assert key == before.person_key
        # The person key ends with the check digits of the first six: only the code changes.
        assert key[6:] == inami.check_digits(key[:6], parsed.modulus)
        establishment = data.draw(
            st.sampled_from(model.establishments_of(trainee)), label="establishment"
        )
        new = Data(Profession.GENERAL_PRACTITIONER, key + "003")
        assert model.predict_save(OWNER, establishment, trainee, new, None) is None
        self._save(OWNER, establishment, trainee, new, None, what="a trainee becomes recognised:")
        with self.store.unit_of_work() as uow:
            stored = uow.practitioners.get(trainee)
            links = [m.supervisor for m in uow.memberships.list_for_user(trainee)]
        assert stored.inami is not None
        assert stored.inami.person_key == key
        assert stored.is_recognised_general_practitioner
        assert links == [None] * len(links)

    # -- supervisors (B4) --------------------------------------------------------------------

    @rule(data=st.data(), by_self=st.booleans())
    def set_supervisor(self, data: st.DataObject, by_self: bool) -> None:  # noqa: FBT001
        """B4: the trainee (or whoever may edit profiles) chooses; refusals name the reason."""
        model = self.model
        places = sorted(model.members)
        trainees = [(e, u) for (e, u) in places if model.is_trainee(u)]
        anyone = st.sampled_from(places)
        establishment, trainee = data.draw(
            st.sampled_from(trainees) | anyone if trainees else anyone, label="trainee"
        )
        supervisor = self._supervisor(data, establishment)
        actor = trainee if by_self else OWNER
        prediction = model.acting_on_self(actor, establishment, trainee)
        if prediction is None and not model.is_trainee(trainee):
            prediction = rejected(("supervisor.not_a_trainee", None))
        if prediction is None:
            problem = model.supervisor_problem(establishment, trainee, supervisor)
            prediction = rejected((problem, None)) if problem else None
        stored, _ = self._run(
            "set_supervisor",
            prediction,
            lambda: self.profiles.set_supervisor(
                actor=actor, establishment_id=establishment, trainee=trainee, supervisor=supervisor
            ),
        )
        if prediction is None:
            assert stored is not None
            model.choose((establishment, trainee), supervisor)

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS))
    def hand_over_trainees(self, data: st.DataObject, establishment: EstablishmentId) -> None:
        model = self.model
        with_trainees = [s for e, s in model.supervisors() if e == establishment]
        anyone = st.sampled_from([*model.members_of(establishment), GHOST])
        supervisor = data.draw(
            st.sampled_from(with_trainees) | anyone if with_trainees else anyone,
            label="supervisor",
        )
        new_supervisor = self._supervisor(data, establishment)
        self._hand_over("hand_over_trainees", establishment, supervisor, new_supervisor)

    # -- deactivations and reactivations (A6, B4) --------------------------------------------

    def _reactivate_member(self, what: str, establishment: EstablishmentId, user: UserId) -> None:
        """A6: always allowed; a trainee unlinked meanwhile comes back without a supervisor."""
        self._run(
            what,
            ALLOWED,
            lambda: self.access.reactivate_member(
                actor=OWNER, establishment_id=establishment, user_id=user
            ),
        )
        self.model.members[(establishment, user)].active = True
        self.model.returned.add((establishment, user))

    def _reactivate_user(self, what: str, user: UserId) -> None:
        self._run(what, ALLOWED, lambda: self.access.reactivate_user(actor=OWNER, user_id=user))
        self.model.people[user].active = True
        self.model.returned.update((e, user) for e in self.model.establishments_of(user))

    def _leave(
        self, data: st.DataObject, establishment: EstablishmentId, supervisor: UserId, how: str
    ) -> None:
        """The supervisor's membership or account goes, or they stop being a recognised GP."""
        if how == "member":
            self._deactivate_member("supervisor deactivate_member", establishment, supervisor)
        elif how == "account":
            self._deactivate_user("supervisor deactivate_user", supervisor)
        else:
            new = Data(PROFESSIONS[how], self._number(data, supervisor, how, "own"))
            self._save(OWNER, establishment, supervisor, new, None, what="supervisor becomes")

    @precondition(lambda self: self.model.users())
    @rule(data=st.data(), active=st.booleans())
    def change_member_status(self, data: st.DataObject, active: bool) -> None:  # noqa: FBT001
        """A6: a supervisor of active trainees stays; inactive trainees are unlinked (B4)."""
        user = self._user(data, "member")
        establishment = data.draw(
            st.sampled_from(self.model.establishments_of(user)), label="establishment"
        )
        if active:
            self._reactivate_member("reactivate_member", establishment, user)
        else:
            self._deactivate_member("deactivate_member", establishment, user)

    @precondition(lambda self: self.model.users())
    @rule(data=st.data(), active=st.booleans())
    def change_account_status(self, data: st.DataObject, active: bool) -> None:  # noqa: FBT001
        """A6: the account everywhere; a supervisor of active trainees stays (B4)."""
        user = self._user(data, "account")
        if active:
            self._reactivate_user("reactivate_user", user)
        else:
            self._deactivate_user("deactivate_user", user)

    # -- rules that jump to the boundary: trainees and their supervisors (B4) ----------------

    @precondition(lambda self: self._pairs())
    @rule(data=st.data(), code=st.sampled_from(CODES[TRAINEE]))
    def a_member_becomes_a_trainee_under_a_valid_supervisor(
        self, data: st.DataObject, code: str
    ) -> None:
        """The common case; refused when they supervise, or another practice has no one."""
        establishment, supervisor, trainee = data.draw(st.sampled_from(self._pairs()), label="pair")
        own = self.model.data.get(trainee)
        number = own.person_key + code if own and own.person_key else sample_inami(code)
        new = Data(Profession.GENERAL_PRACTITIONER, number)
        self._save(OWNER, establishment, trainee, new, supervisor, what="becomes a trainee")

    @precondition(lambda self: self.model.supervisors())
    @rule(data=st.data(), how=st.sampled_from(LEAVING))
    def a_supervisor_tries_to_leave(self, data: st.DataObject, how: str) -> None:
        """Deactivated, or no longer a recognised GP, while supervising: refused."""
        establishment, supervisor = data.draw(
            st.sampled_from(self.model.supervisors()), label="supervisor"
        )
        self._leave(data, establishment, supervisor, how)

    @precondition(lambda self: self.model.supervisors())
    @rule(
        data=st.data(),
        account=st.booleans(),
        how=st.sampled_from(LEAVING[:-1]),  # becoming a trainee would need a supervisor
        back=st.booleans(),
    )
    def a_supervisor_leaves_while_their_trainee_is_away(
        self,
        data: st.DataObject,
        account: bool,  # noqa: FBT001 - drawn
        how: str,
        back: bool,  # noqa: FBT001 - drawn
    ) -> None:
        """The trainee does not block it; unlinked, they come back to choose a new one."""
        model = self.model
        establishment, supervisor = data.draw(
            st.sampled_from(model.supervisors()), label="supervisor"
        )
        trainee = data.draw(
            st.sampled_from(model.active_trainees(establishment, supervisor)), label="trainee"
        )
        if account:
            self._deactivate_user("trainee away: deactivate_user", trainee)
        else:
            self._deactivate_member("trainee away: deactivate_member", establishment, trainee)
        self._leave(data, establishment, supervisor, how)
        if back and account:
            self._reactivate_user("trainee back: reactivate_user", trainee)
        elif back:
            self._reactivate_member("trainee back: reactivate_member", establishment, trainee)

    @precondition(lambda self: self.model.supervisors())
    @rule(data=st.data(), account=st.booleans())
    def a_supervisor_hands_over_then_leaves(self, data: st.DataObject, account: bool) -> None:  # noqa: FBT001
        """Once their trainees have a valid new supervisor, a supervisor may leave."""
        model = self.model
        establishment, supervisor = data.draw(
            st.sampled_from(model.supervisors()), label="supervisor"
        )
        new_supervisor = self._supervisor(data, establishment, instead_of=supervisor)
        if self._hand_over("hand over, then leave", establishment, supervisor, new_supervisor):
            if account:
                self._deactivate_user("handed over: deactivate_user", supervisor)
            else:
                self._deactivate_member("handed over: deactivate_member", establishment, supervisor)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def initials_are_present_and_unique_in_each_practice(self) -> None:
        """A7: two members of one practice are told apart, case aside."""
        with self.store.unit_of_work() as uow:
            for establishment in ESTABLISHMENTS:
                memberships = uow.memberships.list_for_establishment(establishment)
                keys = [initials_policy.key(m.initials) for m in memberships if m.initials]
                assert len(keys) == len(set(keys)), (establishment, sorted(keys))
                for membership in memberships:
                    assert membership.initials, (establishment, membership.user_id)

    @invariant()
    def every_active_trainee_has_a_supervisor_who_qualifies_or_is_choosing_one(self) -> None:
        """B4: an active user, active member there, recognised GP; or none, after coming back."""
        with self.store.unit_of_work() as uow:
            for establishment in ESTABLISHMENTS:
                for membership in uow.memberships.list_for_establishment(
                    establishment, status=MembershipStatus.ACTIVE
                ):
                    user = membership.user_id
                    practitioner = uow.practitioners.find(user)
                    if not uow.users.get(user).is_active or (
                        practitioner is None or not practitioner.requires_supervisor
                    ):
                        continue
                    where = (establishment, user)
                    supervisor = membership.supervisor
                    if supervisor is None:
                        assert where in self.model.returned, f"{where}: unsupervised"
                        continue
                    assert uow.users.get(supervisor).is_active, where
                    assert uow.memberships.get(establishment, supervisor).is_active, where
                    data = uow.practitioners.get(supervisor)
                    assert data.is_recognised_general_practitioner, where

    @invariant()
    def a_trainee_choosing_a_supervisor_cannot_bill_yet(self) -> None:
        """B4, B6: billing goes through the supervisor; without one, it says so."""
        for establishment, user in self.model.returned:
            member = self.model.members[(establishment, user)]
            if member.supervisor is not None or not self.model.is_trainee(user):
                continue
            with pytest.raises(BillingIncomplete) as raised:
                self.profiles.billing_identity(
                    actor=OWNER, establishment_id=establishment, user_id=user
                )
            assert raised.value.params["missing"] == ("supervisor",)

    @invariant()
    def only_trainees_have_a_supervisor(self) -> None:
        """B4: a practitioner who is not (or no longer) a trainee has no supervisor links."""
        with self.store.unit_of_work() as uow:
            for establishment in ESTABLISHMENTS:
                for membership in uow.memberships.list_for_establishment(establishment):
                    if membership.supervisor is None:
                        continue
                    practitioner = uow.practitioners.find(membership.user_id)
                    assert practitioner is not None, membership
                    assert practitioner.requires_supervisor, membership

    @invariant()
    def no_two_practitioners_share_an_identity_key(self) -> None:
        """B2: one INAMI person key per person, whatever its competence code."""
        holders: dict[tuple[str, str], UserId] = {}
        with self.store.unit_of_work() as uow:
            for user in self.model.users():
                practitioner = uow.practitioners.find(user)
                for identity in practitioner.identity_keys if practitioner else ():
                    assert identity not in holders, (identity, holders.get(identity), user)
                    holders[identity] = user

    @invariant()
    def the_store_matches_the_model(self) -> None:
        model = self.model
        with self.store.unit_of_work() as uow:
            users = {u: uow.users.get(u).is_active for u in model.people}
            members = {
                (m.establishment_id, m.user_id): Member(m.initials, m.is_active, m.supervisor)
                for e in ESTABLISHMENTS
                for m in uow.memberships.list_for_establishment(e)
            }
            practitioners = {
                u: Data(p.profession, p.inami.number if p.inami else None)
                for u in model.people
                if (p := uow.practitioners.find(u)) is not None
            }
        assert users == {u: p.active for u, p in model.people.items()}
        assert members == model.members
        assert practitioners == model.data
        assert not model.badly_supervised(), "the model itself breaks B4"


def _check_suggestion(error: PracticeIdError, taken: set[str]) -> None:
    """A7: the suggestion offered with a clash is free and valid initials."""
    assert isinstance(error, DuplicateInitials)
    suggestion = error.params["suggestion"]
    assert isinstance(suggestion, str)
    assert initials_policy.key(suggestion) not in taken, (suggestion, sorted(taken))
    assert initials_policy.clean(suggestion) == (suggestion, [])


# About 10 s under HYPOTHESIS_PROFILE=ci, whose max_examples=200 would take twice as long.
ProfileMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
TestProfileMachine = ProfileMachine.TestCase


# -- races, with threads ---------------------------------------------------------------------


@attrs.define
class Practice:
    """One general practice opened by its owner, with helpers to fill it."""

    store: InMemoryStore
    access: AccessService
    profiles: ProfileService
    establishment: EstablishmentId = NAMUR
    numbers: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))

    @classmethod
    def open(cls, store: InMemoryStore | None = None) -> Practice:
        """Open the practice in ``store`` (an empty one; a new in-memory store by default)."""
        store = InMemoryStore() if store is None else store
        with store.unit_of_work() as uow:
            uow.users.add(sample_user(id=OWNER, first_name="Olivia", last_name="Proprio"))
            uow.commit()
        access = AccessService(unit_of_work=store.unit_of_work, clock=ManualClock())
        access.found_organisation(
            owner=OWNER, name="Maisons médicales", organisation_id=ORGANISATION
        )
        access.open_establishment(
            actor=OWNER,
            organisation_id=ORGANISATION,
            name="Maison médicale de Namur",
            product=ProductKind.GENERAL_PRACTICE,
            establishment_id=NAMUR,
        )
        return cls(store, access, ProfileService(access=access))

    def add(self, first_name: str, last_name: str) -> UserId:
        added = self.access.add_member(
            actor=OWNER,
            establishment_id=self.establishment,
            email=f"membre{next(self.numbers)}@cabinet-exemple.be",
            first_name=first_name,
            last_name=last_name,
        )
        return added.user.id

    def save(self, user: UserId, number: str | None, supervisor: UserId | None = None) -> None:
        self.profiles.save_practitioner(
            actor=OWNER,
            establishment_id=self.establishment,
            user_id=user,
            profession=Profession.GENERAL_PRACTITIONER,
            country="BE",
            identifiers={"inami": number},
            addresses=[sample_workplace()],
            supervisor=supervisor,
        )

    def badly_supervised(self) -> list[UserId]:
        """Active trainees here whose supervisor is set but does not qualify (B4)."""
        found = []
        with self.store.unit_of_work() as uow:
            for membership in uow.memberships.list_for_establishment(
                self.establishment, status=MembershipStatus.ACTIVE
            ):
                data = uow.practitioners.find(membership.user_id)
                supervisor = membership.supervisor
                if (
                    data is None
                    or not data.requires_supervisor
                    or not uow.users.get(membership.user_id).is_active
                    or supervisor is None
                ):
                    continue
                supervising = uow.memberships.find(self.establishment, supervisor)
                supervisor_data = uow.practitioners.find(supervisor)
                if (
                    supervising is None
                    or not supervising.is_active
                    or not uow.users.get(supervisor).is_active
                    or supervisor_data is None
                    or not supervisor_data.is_recognised_general_practitioner
                ):
                    found.append(membership.user_id)
        return found


def _race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at once, one thread each; return each result or error, in call order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            outcomes[index] = call()
        except BaseException as error:  # noqa: BLE001 - the test reports every outcome
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


ALIKE = (  # made-up names that all derive JD
    ("Jean", "Dupont"),
    ("Julie", "Durand"),
    ("Jeanne", "Dubois"),
    ("Jules", "Dupuis"),
    ("Jacques", "Delvaux"),
    ("Joëlle", "Dumont"),
    ("Jérôme", "Dufour"),
    ("Josiane", "Denis"),
    ("Julien", "Dujardin"),
    ("Jade", "Delmotte"),
    ("Joseph", "Daems"),
    ("Justine", "Dewez"),
    ("Jonathan", "Duchêne"),
    ("Jeannine", "Derwa"),
    ("Joachim", "Dierickx"),
    ("Juliette", "Dupont"),
)


def test_sixteen_members_added_at_once_with_alike_names_get_sixteen_distinct_initials_a7(
    any_store,
):
    practice = Practice.open(any_store)
    # Each may lose to every other once: as many reruns as contenders. With the default 3, a
    # loaded machine (CI) can run one out, and that caller gets a coded conflict to retry.
    practice = attrs.evolve(practice, access=attrs.evolve(practice.access, retries=len(ALIKE)))
    assert {initials_policy.derive(*name) for name in ALIKE} == {"JD"}
    outcomes = _race(
        *(
            lambda first=first, last=last, n=n: practice.access.add_member(
                actor=OWNER,
                establishment_id=practice.establishment,
                email=f"jd{n}@cabinet-exemple.be",
                first_name=first,
                last_name=last,
            )
            for n, (first, last) in enumerate(ALIKE)
        )
    )
    added = [o for o in outcomes if isinstance(o, MemberAdded)]
    assert len(added) == 16, outcomes
    with practice.store.unit_of_work() as uow:
        members = [
            m
            for m in uow.memberships.list_for_establishment(practice.establishment)
            if m.user_id != OWNER
        ]
    assert len(members) == 16
    assert all(m.initials for m in members)
    assert len({initials_policy.key(m.initials) for m in members}) == 16
    plain = [a for a in added if not any(n.code == "member.initials_adjusted" for n in a.notices)]
    assert [a.membership.initials for a in plain] == ["JD"], "one keeps JD, the others are told"


def test_sixteen_practitioners_saved_at_once_with_one_inami_person_key_one_wins_b2(any_store):
    practice = Practice.open(any_store)
    users = [practice.add(first, last) for first, last in ALIKE]
    key = sample_inami("003")[:8]
    codes = itertools.cycle(("003", "004"))  # the key is the person, whatever the code
    outcomes = _race(
        *(
            lambda user=user, code=code: practice.save(user, key + code)
            for user, code in zip(users, codes, strict=False)
        )
    )
    winners = [u for u, o in zip(users, outcomes, strict=True) if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, DuplicateIdentifier)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 15, outcomes
    assert all(error.params["kind"] == "inami" for error in losers)
    with practice.store.unit_of_work() as uow:
        assert [u for u in users if uow.practitioners.find(u) is not None] == winners
        number = uow.practitioners.get(winners[0]).inami
    assert number is not None
    assert number.person_key == key


@pytest.mark.parametrize("leaving", ["deactivate_member", "deactivate_user"])
@pytest.mark.parametrize("assigning", ["set_supervisor", "save_practitioner", "hand_over_trainees"])
@pytest.mark.parametrize("attempt", range(6))
def test_a_supervisor_deactivated_while_given_a_trainee_leaves_no_one_unsupervised_b4(
    leaving, assigning, attempt, any_store
):
    practice = Practice.open(any_store)
    supervisor, other = practice.add("Sophie", "Maître"), practice.add("Simon", "Tuteur")
    trainee = practice.add("Théo", "Stagiaire")
    practice.save(supervisor, sample_inami("003"))
    practice.save(other, sample_inami("003"))
    if assigning != "save_practitioner":  # already a trainee, with the other supervisor
        practice.save(trainee, sample_inami("005"), supervisor=other)
    profiles, here = practice.profiles, practice.establishment
    assign: dict[str, Callable[[], object]] = {
        "set_supervisor": lambda: profiles.set_supervisor(
            actor=OWNER, establishment_id=here, trainee=trainee, supervisor=supervisor
        ),
        "save_practitioner": lambda: practice.save(trainee, sample_inami("005"), supervisor),
        "hand_over_trainees": lambda: profiles.hand_over_trainees(
            actor=OWNER, establishment_id=here, supervisor=other, new_supervisor=supervisor
        ),
    }
    leave: dict[str, Callable[[], object]] = {
        "deactivate_member": lambda: practice.access.deactivate_member(
            actor=OWNER, establishment_id=here, user_id=supervisor
        ),
        "deactivate_user": lambda: practice.access.deactivate_user(actor=OWNER, user_id=supervisor),
    }
    calls = [assign[assigning], leave[leaving]]
    first_leaves = attempt % 2 == 1  # either thread may start first
    outcomes = _race(*(reversed(calls) if first_leaves else calls))
    assigned, left = reversed(outcomes) if first_leaves else outcomes
    assert practice.badly_supervised() == [], (assigned, left)
    with practice.store.unit_of_work() as uow:
        assert uow.memberships.get(here, trainee).supervisor is not None or (
            assigning == "save_practitioner" and uow.practitioners.find(trainee) is None
        )
    if isinstance(assigned, BaseException):  # the supervisor left first
        assert isinstance(assigned, PractitionerRejected), assigned
        assert assigned.codes == ("supervisor.inactive",)
        assert not isinstance(left, BaseException), left
    else:  # the trainee came first: the supervisor stays until they are handed over
        assert isinstance(left, SupervisesTrainees), left
        assert left.params["trainees"] == (trainee,)


# -- what the model found, as minimal programs -------------------------------------------------


def test_a_member_of_two_practices_can_become_a_trainee_with_a_supervisor_in_each_b4():
    """``supervisors`` gives the trainee's supervisors in their other practices at once."""
    practice = Practice.open()
    access, profiles, here = practice.access, practice.profiles, practice.establishment
    access.open_establishment(
        actor=OWNER,
        organisation_id=ORGANISATION,
        name="Maison médicale de Dinant",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=DINANT,
    )
    namur_gp, trainee = practice.add("Sophie", "Maître"), practice.add("Théo", "Stagiaire")
    practice.save(namur_gp, sample_inami("003"))
    with practice.store.unit_of_work() as uow:
        email = uow.users.get(trainee).email.address
    access.add_member(actor=OWNER, establishment_id=DINANT, email=email)
    dinant_gp = access.add_member(
        actor=OWNER,
        establishment_id=DINANT,
        email="tuteur@cabinet-exemple.be",
        first_name="Simon",
        last_name="Tuteur",
    ).user.id
    profiles.save_practitioner(
        actor=OWNER,
        establishment_id=DINANT,
        user_id=dinant_gp,
        profession=Profession.GENERAL_PRACTITIONER,
        country="BE",
        identifiers={"inami": sample_inami("003")},
        addresses=[sample_workplace()],
    )
    number = sample_inami("005")
    form = {
        "actor": OWNER,
        "establishment_id": here,
        "user_id": trainee,
        "profession": Profession.GENERAL_PRACTITIONER,
        "country": "BE",
        "identifiers": {"inami": number},
        "addresses": [sample_workplace()],
    }
    with pytest.raises(PractitionerRejected) as raised:  # a supervisor here only
        profiles.save_practitioner(**form, supervisor=namur_gp)  # type: ignore[arg-type]
    assert raised.value.violations[0].params["establishments"] == (DINANT,)
    data = profiles.save_practitioner(
        **form,  # type: ignore[arg-type]
        supervisor=namur_gp,
        supervisors={DINANT: dinant_gp},
    )
    with practice.store.unit_of_work() as uow:
        links = {m.establishment_id: m.supervisor for m in uow.memberships.list_for_user(trainee)}
    assert data.requires_supervisor
    assert links == {here: namur_gp, DINANT: dinant_gp}
    profiles.set_supervisor(  # and either can be changed later, in its establishment
        actor=OWNER, establishment_id=DINANT, trainee=trainee, supervisor=dinant_gp
    )


def test_the_first_administrator_of_a_practice_gets_initials_like_any_member_a7():
    """open_establishment derives the first administrator's initials like add_member."""
    practice = Practice.open()
    with practice.store.unit_of_work() as uow:
        membership = uow.memberships.get(practice.establishment, OWNER)
    assert membership.initials == "OP"  # Olivia Proprio, as add_member would derive them


def _supervisor_leaves(practice: Practice, supervisor: UserId, how: str) -> None:
    if how == "deactivate_member":
        practice.access.deactivate_member(
            actor=OWNER, establishment_id=practice.establishment, user_id=supervisor
        )
    elif how == "deactivate_user":
        practice.access.deactivate_user(actor=OWNER, user_id=supervisor)
    else:  # now recorded as a secretary
        practice.profiles.save_practitioner(
            actor=OWNER,
            establishment_id=practice.establishment,
            user_id=supervisor,
            profession=Profession.SECRETARY,
            country="BE",
        )


@pytest.mark.parametrize("trainee_away", ["membership", "account"])
@pytest.mark.parametrize(
    "supervisor_leaves", ["deactivate_member", "deactivate_user", "no_longer_a_gp"]
)
def test_a_trainee_reactivated_after_their_supervisor_left_chooses_a_new_one_b4(
    trainee_away, supervisor_leaves
):
    practice = Practice.open()
    supervisor, trainee = practice.add("Sophie", "Maître"), practice.add("Théo", "Stagiaire")
    successor = practice.add("Simon", "Tuteur")
    for gp in (supervisor, successor):
        practice.save(gp, sample_inami("003"))
    practice.save(trainee, sample_inami("005"), supervisor=supervisor)
    here, access = practice.establishment, practice.access
    if trainee_away == "membership":
        access.deactivate_member(actor=OWNER, establishment_id=here, user_id=trainee)
    else:
        access.deactivate_user(actor=OWNER, user_id=trainee)
    _supervisor_leaves(practice, supervisor, supervisor_leaves)
    if trainee_away == "membership":
        access.reactivate_member(actor=OWNER, establishment_id=here, user_id=trainee)
    else:
        access.reactivate_user(actor=OWNER, user_id=trainee)
    assert practice.badly_supervised() == []
    with pytest.raises(BillingIncomplete) as raised:
        practice.profiles.billing_identity(actor=OWNER, establishment_id=here, user_id=trainee)
    assert raised.value.params["missing"] == ("supervisor",)
    practice.profiles.set_supervisor(
        actor=trainee, establishment_id=here, trainee=trainee, supervisor=successor
    )


def test_a_trainee_recognised_while_a_membership_is_deactivated_loses_every_supervisor_link_b4():
    practice = Practice.open()
    access, here = practice.access, practice.establishment
    access.open_establishment(
        actor=OWNER,
        organisation_id=ORGANISATION,
        name="Maison médicale de Dinant",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=DINANT,
    )
    supervisor, trainee = practice.add("Sophie", "Maître"), practice.add("Théo", "Stagiaire")
    practice.save(supervisor, sample_inami("003"))
    number = sample_inami("005")
    practice.save(trainee, number, supervisor=supervisor)
    access.deactivate_member(actor=OWNER, establishment_id=here, user_id=trainee)
    with practice.store.unit_of_work() as uow:
        email = uow.users.get(trainee).email.address
    access.add_member(actor=OWNER, establishment_id=DINANT, email=email)  # works there too
    practice.profiles.save_practitioner(  # and is now a recognised GP
        actor=OWNER,
        establishment_id=DINANT,
        user_id=trainee,
        profession=Profession.GENERAL_PRACTITIONER,
        country="BE",
        identifiers={"inami": number[:8] + "003"},
        addresses=[sample_workplace()],
    )
    links = {m.establishment_id: m.supervisor for m in access.memberships_of(trainee)}
    assert links == {here: None, DINANT: None}
    access.reactivate_member(actor=OWNER, establishment_id=here, user_id=trainee)
    # A recognised GP is nobody's trainee: their former supervisor may leave.
    access.deactivate_member(actor=OWNER, establishment_id=here, user_id=supervisor)
