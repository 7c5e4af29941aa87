"""The audit trail of the access service: one event per command, refusals included (F3).

Every command of :class:`~practiceid.AccessService` (C1-C6, A5, A6) records exactly one
event: its success in its own unit of work, or its refusal with the error's code. These
examples pin each command's action, actor, chain, target and details; a property runs
random sequences of commands, many refused, and checks that each left one event and that
every chain still verifies. Every person, address and establishment here is made up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from practiceid import (
    AccessService,
    Delegation,
    DepartmentId,
    EstablishmentId,
    Feature,
    OrganisationId,
    Permission,
    PracticeIdError,
    ProductKind,
    RoleId,
    StaleRecord,
    User,
    UserId,
)
from practiceid.adapters import ContextVarRequestContext, InMemoryStore
from practiceid.audit import PLATFORM_CHAIN, AuditRecord, DetailValue, Outcome, verify_chain
from practiceid.auditing import DeviceActor, acting_as
from practiceid.memberships import MembershipStatus
from practiceid.testing import ManualClock, sample_user

SUPPORT = UserId("support-desk")
GHOST = UserId("u-ghost")  # an id no user has
NEW_ADDRESS = "l.petit@centre-exemple.fr"
GROUP, RIVAL = OrganisationId("group"), OrganisationId("rival")
NIMES, LYON = EstablishmentId("nimes"), EstablishmentId("lyon")


@attrs.define
class World:
    """One group with one establishment (Nîmes), a rival group with Lyon, and their people."""

    store: Any  # InMemoryStore or SqlStore
    clock: ManualClock
    service: AccessService
    users: dict[str, User]
    group: OrganisationId = GROUP
    rival: OrganisationId = RIVAL
    nimes: EstablishmentId = NIMES
    lyon: EstablishmentId = LYON

    def id(self, name: str) -> UserId:
        return self.users[name].id

    def counts(self) -> dict[str, int]:
        with self.store.unit_of_work() as uow:
            return {chain: len(uow.audit.records(chain)) for chain in uow.audit.chains()}

    def records(self, chain: str) -> list[AuditRecord]:
        with self.store.unit_of_work() as uow:
            return list(uow.audit.records(chain))

    def new_records(self, before: dict[str, int]) -> list[AuditRecord]:
        with self.store.unit_of_work() as uow:
            return [
                record
                for chain in uow.audit.chains()
                for record in uow.audit.records(chain, after=before.get(chain, 0))
            ]

    def only_new_record(self, before: dict[str, int]) -> AuditRecord:
        new = self.new_records(before)
        assert len(new) == 1, [r.event.action for r in new]
        return new[0]

    def assert_chains_intact(self) -> None:
        with self.store.unit_of_work() as uow:
            for chain in uow.audit.chains():
                verification = verify_chain(uow.audit.records(chain), chain=chain)
                assert verification.intact, (chain, verification)


def make_world(
    store: Any = None, *, request_context: ContextVarRequestContext | None = None
) -> World:
    store = InMemoryStore() if store is None else store
    clock = ManualClock()
    extra: dict[str, Any] = {} if request_context is None else {"request_context": request_context}
    service = AccessService(
        unit_of_work=store.unit_of_work,
        clock=clock,
        staff={SUPPORT: frozenset(Permission)},
        **extra,
    )
    w = World(store, clock, service, {})
    with store.unit_of_work() as uow:
        for name in ("owner", "director", "manager", "dentist", "secretary", "rival"):
            w.users[name] = sample_user(first_name=name.capitalize())
            uow.users.add(w.users[name])
        uow.users.add(sample_user(id=SUPPORT))
        uow.commit()
    service.found_organisation(owner=w.id("owner"), name="Groupe du Sud", organisation_id=w.group)
    service.found_organisation(owner=w.id("rival"), name="Groupe Rival", organisation_id=w.rival)
    service.open_establishment(
        actor=w.id("owner"),
        organisation_id=w.group,
        name="Centre de Nîmes",
        product=ProductKind.DENTAL,
        establishment_id=w.nimes,
        administrator=w.id("director"),
    )
    service.open_establishment(
        actor=w.id("rival"),
        organisation_id=w.rival,
        name="Centre de Lyon",
        product=ProductKind.DENTAL,
        establishment_id=w.lyon,
    )
    for name, role in (
        ("manager", "user_manager"),
        ("dentist", "physician"),
        ("secretary", "secretary"),
    ):
        service.add_member(
            actor=w.id("owner"),
            establishment_id=w.nimes,
            email=w.users[name].email.address,
            roles=[role],
        )
    return w


@pytest.fixture
def world(any_store) -> World:
    return make_world(any_store)


# -- one success event per command (F3) ---------------------------------------------------------


@attrs.frozen
class Success:
    """A command run by an allowed actor, and the event it must leave."""

    action: str
    run: Callable[[World], object]
    actor: Callable[[World], str]
    chain: Callable[[World], str]
    target_type: str
    target: Callable[[World, Any], str]
    details: Callable[[World, Any], dict[str, DetailValue]]
    prepare: Callable[[World], object] = lambda _w: None


def _create_cardio(w: World) -> object:
    return w.service.create_department(
        actor=w.id("director"),
        establishment_id=w.nimes,
        name="Cardiologie",
        features=[Feature.EHR_INTEGRATION],
        department_id=DepartmentId("cardio"),
    )


def _director(w: World) -> str:
    return w.id("director")


def _nimes(w: World) -> str:
    return w.nimes


def _secretary(w: World, _result: object) -> str:
    return w.id("secretary")


SUCCESSES = [
    Success(
        "organisation.found",
        lambda w: w.service.found_organisation(
            owner=w.id("owner"), name="Groupe du Nord", organisation_id=OrganisationId("nord")
        ),
        actor=lambda w: w.id("owner"),
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="organisation",
        target=lambda _w, _r: "nord",
        details=lambda _w, _r: {"organisation_id": "nord"},
    ),
    Success(
        "establishment.open",
        lambda w: w.service.open_establishment(
            actor=w.id("owner"),
            organisation_id=w.group,
            name="Centre d'Arles",
            product=ProductKind.DENTAL,
            establishment_id=EstablishmentId("arles"),
        ),
        actor=lambda w: w.id("owner"),
        chain=lambda _w: "arles",
        target_type="establishment",
        target=lambda _w, _r: "arles",
        details=lambda w, _r: {
            "organisation_id": w.group,
            "product": "dental",
            "administrator": w.id("owner"),
        },
    ),
    Success(
        "owner.add",
        lambda w: w.service.add_owner(
            actor=w.id("owner"), organisation_id=w.group, user_id=w.id("director")
        ),
        actor=lambda w: w.id("owner"),
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=lambda w, _r: w.id("director"),
        details=lambda w, _r: {"organisation_id": w.group, "changed": True},
    ),
    Success(
        "owner.remove",
        lambda w: w.service.remove_owner(
            actor=w.id("owner"), organisation_id=w.group, user_id=w.id("director")
        ),
        prepare=lambda w: w.service.add_owner(
            actor=w.id("owner"), organisation_id=w.group, user_id=w.id("director")
        ),
        actor=lambda w: w.id("owner"),
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=lambda w, _r: w.id("director"),
        details=lambda w, _r: {"organisation_id": w.group, "changed": True},
    ),
    Success(
        "member.add",
        lambda w: w.service.add_member(
            actor=w.id("director"),
            establishment_id=w.nimes,
            email=NEW_ADDRESS,
            roles=["assistant"],
            first_name="Louise",
            last_name="Petit",
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=lambda _w, added: added.user.id,
        details=lambda _w, _r: {"roles": "assistant", "created_user": True},
    ),
    Success(
        "member.set_roles",
        lambda w: w.service.set_roles(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            roles=["secretary", "assistant"],
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {
            "roles": "assistant,secretary",
            "previous_roles": "secretary",
            "changed": True,
        },
    ),
    Success(
        "member.grant_role",
        lambda w: w.service.grant_role(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            role="assistant",
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {
            "role": "assistant",
            "roles": "assistant,secretary",
            "previous_roles": "secretary",
            "changed": True,
        },
    ),
    Success(
        "member.revoke_role",
        lambda w: w.service.revoke_role(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            role="secretary",
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {
            "role": "secretary",
            "roles": "",
            "previous_roles": "secretary",
            "changed": True,
        },
    ),
    Success(
        "member.deactivate",
        lambda w: w.service.deactivate_member(
            actor=w.id("director"), establishment_id=w.nimes, user_id=w.id("secretary")
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {"status": "deactivated", "changed": True},
    ),
    Success(
        "member.reactivate",
        lambda w: w.service.reactivate_member(
            actor=w.id("director"), establishment_id=w.nimes, user_id=w.id("secretary")
        ),
        prepare=lambda w: w.service.deactivate_member(
            actor=w.id("director"), establishment_id=w.nimes, user_id=w.id("secretary")
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {"status": "active", "changed": True},
    ),
    Success(
        "account.deactivate",
        lambda w: w.service.deactivate_user(actor=SUPPORT, user_id=w.id("secretary")),
        actor=lambda _w: SUPPORT,
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {"status": "deactivated", "changed": True},
    ),
    Success(
        "account.reactivate",
        lambda w: w.service.reactivate_user(actor=SUPPORT, user_id=w.id("secretary")),
        prepare=lambda w: w.service.deactivate_user(actor=SUPPORT, user_id=w.id("secretary")),
        actor=lambda _w: SUPPORT,
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {"status": "active", "changed": True},
    ),
    Success(
        "role.define",
        lambda w: w.service.define_role(
            actor=w.id("director"),
            establishment_id=w.nimes,
            name="Accueil du soir",
            permissions=[Permission.AGENDA_VIEW],
            role_id=RoleId("evening"),
        ),
        actor=_director,
        chain=_nimes,
        target_type="role",
        target=lambda _w, _r: "evening",
        details=lambda _w, _r: {
            "name": "Accueil du soir",
            "permissions": "agenda.view",
            "created": True,
            "changed": True,
        },
    ),
    Success(
        "department.create",
        _create_cardio,
        actor=_director,
        chain=_nimes,
        target_type="department",
        target=lambda _w, _r: "cardio",
        details=lambda _w, _r: {"name": "Cardiologie", "features": "ehr.integration"},
    ),
    Success(
        "department.set_features",
        lambda w: w.service.set_department_features(
            actor=w.id("director"),
            establishment_id=w.nimes,
            department_id=DepartmentId("cardio"),
            features=[Feature.DMP_SENDING, Feature.EHR_INTEGRATION],
        ),
        prepare=_create_cardio,
        actor=_director,
        chain=_nimes,
        target_type="department",
        target=lambda _w, _r: "cardio",
        details=lambda _w, _r: {"features": "dmp.send,ehr.integration", "changed": True},
    ),
    Success(
        "member.set_departments",
        lambda w: w.service.set_departments(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            departments=[DepartmentId("cardio")],
        ),
        prepare=_create_cardio,
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {"departments": "cardio", "changed": True},
    ),
    Success(
        "member.set_features",
        lambda w: w.service.set_member_features(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            features=[Feature.PMSI_REDIRECTION],
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda _w, _r: {"features": "pmsi.redirect", "changed": True},
    ),
    Success(
        "member.set_delegations",
        lambda w: w.service.set_delegations(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            delegations=[w.id("dentist")],
        ),
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_secretary,
        details=lambda w, _r: {
            "physicians": w.id("dentist"),
            "inheriting_features": w.id("dentist"),
            "changed": True,
        },
    ),
]


@pytest.mark.parametrize("case", SUCCESSES, ids=lambda case: case.action)
def test_each_command_records_its_success_as_one_event_f3(world: World, case: Success):
    case.prepare(world)
    before = world.counts()
    result = case.run(world)
    record = world.only_new_record(before)
    event = record.event
    assert event.action == case.action
    assert event.outcome is Outcome.SUCCEEDED
    assert event.code == ""
    assert event.actor == case.actor(world)
    assert record.chain == case.chain(world)
    assert event.target_type == case.target_type
    assert event.target_id == case.target(world, result)
    assert event.detail == case.details(world, result)
    assert event.on_behalf_of is None  # no access command is done on someone's behalf
    assert event.at == world.clock.now()
    world.assert_chains_intact()


def test_every_state_changing_command_has_a_success_example():
    commands = {
        name
        for name in vars(AccessService)
        if not name.startswith("_") and callable(getattr(AccessService, name))
    }
    reads_and_inner = {
        "access",
        "access_in",
        "organisation_access",
        "establishment",
        "memberships_of",
        "members",
        "require",
        "authorize",
        "authorize_account",
        "add_member_in",
        "set_user_status_in",
    }
    assert len(SUCCESSES) == len(commands - reads_and_inner) == 18
    assert len({case.action for case in SUCCESSES}) == 18


# -- one refusal event per refused command, with the error's code (F3) ----------------------


@attrs.frozen
class Refusal:
    """A command refused, the error's code, and where its event must go."""

    action: str
    run: Callable[[World], object]
    code: str
    actor: Callable[[World], str | None]
    chain: Callable[[World], str]
    target_type: str
    target: Callable[[World], str]
    details: dict[str, DetailValue] = attrs.field(factory=dict)
    prepare: Callable[[World], object] = lambda _w: None


def _no_target(_w: World) -> str:
    return ""


REFUSALS = [
    Refusal(
        "organisation.found",
        lambda w: w.service.found_organisation(
            owner=GHOST, name="Groupe fantôme", organisation_id=OrganisationId("ghost-group")
        ),
        "user.not_found",
        actor=lambda _w: GHOST,
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="organisation",
        target=lambda _w: "ghost-group",
        details={"organisation_id": "ghost-group"},
    ),
    Refusal(
        "establishment.open",
        lambda w: w.service.open_establishment(
            actor=w.id("secretary"),
            organisation_id=w.group,
            name="Centre d'Arles",
            product=ProductKind.DENTAL,
            establishment_id=EstablishmentId("arles"),
        ),
        "auth.permission_denied",
        actor=lambda w: w.id("secretary"),
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="establishment",
        target=lambda _w: "arles",
        details={"organisation_id": "group"},
    ),
    Refusal(
        "owner.add",
        lambda w: w.service.add_owner(
            actor=w.id("director"), organisation_id=w.group, user_id=w.id("director")
        ),
        "auth.permission_denied",
        actor=_director,
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=_director,
        details={"organisation_id": "group"},
    ),
    Refusal(
        "owner.remove",
        lambda w: w.service.remove_owner(
            actor=w.id("owner"), organisation_id=w.group, user_id=w.id("owner")
        ),
        "access.last_owner",
        actor=lambda w: w.id("owner"),
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=lambda w: w.id("owner"),
        details={"organisation_id": "group"},
    ),
    Refusal(
        "member.add",
        lambda w: w.service.add_member(
            actor=w.id("secretary"),
            establishment_id=w.nimes,
            email=NEW_ADDRESS,
            first_name="Louise",
            last_name="Petit",
        ),
        "auth.permission_denied",
        actor=lambda w: w.id("secretary"),
        chain=_nimes,
        target_type="user",
        target=_no_target,  # the person is named by an address, which is never recorded
    ),
    Refusal(
        "member.set_roles",
        lambda w: w.service.set_roles(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            roles=["surgeon-in-chief"],
        ),
        "role.not_found",
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=lambda w: w.id("secretary"),
    ),
    Refusal(
        "member.grant_role",
        lambda w: w.service.grant_role(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            role=42,  # type: ignore[arg-type]
        ),
        "access.rejected",
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=lambda w: w.id("secretary"),
    ),
    Refusal(
        "member.revoke_role",
        lambda w: w.service.revoke_role(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("director"),
            role="administrator",
        ),
        "access.last_administrator",
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=_director,
    ),
    Refusal(
        "member.deactivate",
        lambda w: w.service.deactivate_member(
            actor=w.id("manager"), establishment_id=w.nimes, user_id=w.id("director")
        ),
        "auth.permission_denied",
        actor=lambda w: w.id("manager"),
        chain=_nimes,
        target_type="user",
        target=_director,
    ),
    Refusal(
        "member.reactivate",
        lambda w: w.service.reactivate_member(
            actor=w.id("director"), establishment_id=w.nimes, user_id=GHOST
        ),
        "membership.not_found",
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=lambda _w: GHOST,
    ),
    Refusal(
        "account.deactivate",
        lambda w: w.service.deactivate_user(actor=w.id("secretary"), user_id=w.id("dentist")),
        "auth.permission_denied",
        actor=lambda w: w.id("secretary"),
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=lambda w: w.id("dentist"),
    ),
    Refusal(
        "account.reactivate",
        lambda w: w.service.reactivate_user(actor=SUPPORT, user_id=42),  # type: ignore[arg-type]
        "access.rejected",
        actor=lambda _w: SUPPORT,
        chain=lambda _w: PLATFORM_CHAIN,
        target_type="user",
        target=_no_target,  # an id that is not text is not recorded
    ),
    Refusal(
        "role.define",
        lambda w: w.service.define_role(
            actor=w.id("secretary"),
            establishment_id=w.nimes,
            name="Accueil du soir",
            permissions=[Permission.AGENDA_VIEW],
            role_id=RoleId("evening"),
        ),
        "auth.permission_denied",
        actor=lambda w: w.id("secretary"),
        chain=_nimes,
        target_type="role",
        target=lambda _w: "evening",
    ),
    Refusal(
        "department.create",
        _create_cardio,
        "access.rejected",
        prepare=_create_cardio,  # the id is then taken
        actor=_director,
        chain=_nimes,
        target_type="department",
        target=lambda _w: "cardio",
    ),
    Refusal(
        "department.set_features",
        lambda w: w.service.set_department_features(
            actor=w.id("director"),
            establishment_id=w.nimes,
            department_id=DepartmentId("nowhere"),
            features=[],
        ),
        "department.not_found",
        actor=_director,
        chain=_nimes,
        target_type="department",
        target=lambda _w: "nowhere",
    ),
    Refusal(
        "member.set_departments",
        lambda w: w.service.set_departments(
            actor=w.id("director"),
            establishment_id=EstablishmentId("atlantis"),
            user_id=w.id("secretary"),
            departments=[],
        ),
        "establishment.not_found",
        actor=_director,
        chain=lambda _w: PLATFORM_CHAIN,  # an establishment the store does not hold
        target_type="user",
        target=lambda w: w.id("secretary"),
        details={"establishment_id": "atlantis"},
    ),
    Refusal(
        "member.set_features",
        lambda w: w.service.set_member_features(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("secretary"),
            features=["Labs Orders"],
        ),
        "access.rejected",
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=lambda w: w.id("secretary"),
    ),
    Refusal(
        "member.set_delegations",
        lambda w: w.service.set_delegations(
            actor=w.id("director"),
            establishment_id=w.nimes,
            user_id=w.id("dentist"),
            delegations=[w.id("secretary")],  # a secretary issues no documents
        ),
        "access.rejected",
        actor=_director,
        chain=_nimes,
        target_type="user",
        target=lambda w: w.id("dentist"),
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda case: case.action)
def test_each_refused_command_records_one_refusal_with_the_error_code_f3(
    world: World, case: Refusal
):
    case.prepare(world)
    before = world.counts()
    with pytest.raises(PracticeIdError) as raised:
        case.run(world)
    assert raised.value.code == case.code
    record = world.only_new_record(before)
    event = record.event
    assert event.action == case.action
    assert event.outcome is Outcome.REFUSED
    assert event.code == case.code
    assert event.actor == case.actor(world)
    assert record.chain == case.chain(world)
    assert event.target_type == case.target_type
    assert event.target_id == case.target(world)
    assert event.detail == case.details
    world.assert_chains_intact()


def test_every_command_has_a_refusal_example():
    assert {case.action for case in REFUSALS} == {case.action for case in SUCCESSES}


def test_a_refusal_of_an_unknown_establishment_goes_to_the_platform_chain_f3(world: World):
    before = world.counts()
    with pytest.raises(PracticeIdError):
        world.service.deactivate_member(
            actor=world.id("director"),
            establishment_id=EstablishmentId("atlantis"),
            user_id=world.id("secretary"),
        )
    record = world.only_new_record(before)
    assert record.chain == PLATFORM_CHAIN
    assert record.event.establishment_id is None
    assert record.event.detail == {"establishment_id": "atlantis"}
    assert record.event.code == "establishment.not_found"
    with world.store.unit_of_work() as uow:
        assert "atlantis" not in uow.audit.chains()  # input nobody checked opens no chain


def test_a_stranger_refused_in_an_establishment_is_recorded_in_its_chain_c2(world: World):
    before = world.counts()
    with pytest.raises(PracticeIdError) as raised:
        world.service.set_roles(
            actor=world.id("rival"),
            establishment_id=world.nimes,
            user_id=world.id("secretary"),
            roles=["physician"],
        )
    record = world.only_new_record(before)
    assert record.chain == world.nimes
    assert record.event.actor == world.id("rival")
    assert record.event.code == raised.value.code == "auth.permission_denied"


def test_bad_ids_are_refused_and_recorded_without_them(world: World):
    before = world.counts()
    with pytest.raises(PracticeIdError) as raised:
        world.service.deactivate_member(
            actor=42,  # type: ignore[arg-type]
            establishment_id=world.nimes,
            user_id=["not", "an", "id"],  # type: ignore[arg-type]
        )
    record = world.only_new_record(before)
    assert raised.value.code == record.event.code == "access.rejected"
    assert record.chain == world.nimes
    assert record.event.actor is None
    assert record.event.target_id == ""


# -- what the events say, and what they never say ------------------------------------------------


def test_opening_an_establishment_starts_its_own_chain_c2(world: World):
    world.service.open_establishment(
        actor=world.id("owner"),
        organisation_id=world.group,
        name="Centre d'Arles",
        product=ProductKind.DENTAL,
        establishment_id=EstablishmentId("arles"),
    )
    (opening,) = world.records("arles")
    assert opening.seq == 1
    assert opening.event.action == "establishment.open"
    assert opening.event.establishment_id == "arles"


def test_organisation_events_go_to_the_platform_chain_with_the_organisation_id_c2(world: World):
    founded = [
        record.event
        for record in world.records(PLATFORM_CHAIN)
        if record.event.action == "organisation.found"
    ]
    assert [(e.actor, e.target_id, e.detail) for e in founded] == [
        (world.id("owner"), "group", {"organisation_id": "group"}),
        (world.id("rival"), "rival", {"organisation_id": "rival"}),
    ]
    assert all(e.establishment_id is None for e in founded)


def test_a_command_that_changes_nothing_records_its_success_with_changed_false(world: World):
    before = world.counts()
    membership = world.service.set_roles(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        roles=["secretary"],
    )
    record = world.only_new_record(before)
    assert record.event.outcome is Outcome.SUCCEEDED
    assert record.event.detail == {
        "roles": "secretary",
        "previous_roles": "secretary",
        "changed": False,
    }
    with world.store.unit_of_work() as uow:  # and still no write, no new version
        stored = uow.memberships.get(world.nimes, world.id("secretary"))
    assert stored.version == membership.version


def test_deactivating_an_inactive_member_again_records_changed_false_a6(world: World):
    world.service.deactivate_member(
        actor=world.id("director"), establishment_id=world.nimes, user_id=world.id("secretary")
    )
    before = world.counts()
    world.service.deactivate_member(
        actor=world.id("director"), establishment_id=world.nimes, user_id=world.id("secretary")
    )
    assert world.only_new_record(before).event.detail == {
        "status": str(MembershipStatus.DEACTIVATED),
        "changed": False,
    }


def test_delegations_name_the_physicians_and_whether_features_are_inherited_c6(world: World):
    world.service.grant_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("manager"),
        role="physician",
    )
    before = world.counts()
    world.service.set_delegations(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        delegations=[
            Delegation(world.id("dentist"), inherit_features=False),
            world.id("manager"),
        ],
    )
    detail = world.only_new_record(before).event.detail
    assert detail["physicians"] == ",".join(sorted([world.id("dentist"), world.id("manager")]))
    assert detail["inheriting_features"] == world.id("manager")


def test_no_event_holds_an_email_address(world: World):
    world.service.add_member(
        actor=world.id("director"),
        establishment_id=world.nimes,
        email=NEW_ADDRESS,
        roles=["assistant"],
        first_name="Louise",
        last_name="Petit",
    )
    with pytest.raises(PracticeIdError):
        world.service.add_member(
            actor=world.id("secretary"), establishment_id=world.nimes, email="x@centre-exemple.fr"
        )
    addresses = [
        NEW_ADDRESS,
        "x@centre-exemple.fr",
        *(u.email.address for u in world.users.values()),
    ]
    with world.store.unit_of_work() as uow:
        for chain in uow.audit.chains():
            for record in uow.audit.records(chain):
                text = json.dumps(record.event.canonical()).lower()
                assert not any(address.lower() in text for address in addresses)
                assert "@" not in text


def test_events_carry_the_request_and_the_device_session_of_the_actor_f3():
    context = ContextVarRequestContext()
    world = make_world(request_context=context)
    device = DeviceActor(
        member=world.id("director"),
        device_session_id="ds-accueil-1",
        account_id=UserId("clinic-login-nimes"),
        establishment_id=world.nimes,
    )
    before = world.counts()
    with context.bind(peer_address="192.0.2.10", request_id="req-7"), acting_as(device):
        world.service.grant_role(
            actor=world.id("director"),
            establishment_id=world.nimes,
            user_id=world.id("secretary"),
            role="assistant",
        )
        with pytest.raises(PracticeIdError):
            world.service.grant_role(
                actor=world.id("director"),
                establishment_id=world.nimes,
                user_id=world.id("secretary"),
                role="surgeon-in-chief",
            )
    succeeded, refused = world.new_records(before)
    for record in (succeeded, refused):
        assert record.event.peer_address == "192.0.2.10"
        assert record.event.request_id == "req-7"
        assert record.event.device_session_id == "ds-accueil-1"
        assert record.event.account_id == "clinic-login-nimes"
    assert (succeeded.event.outcome, refused.event.outcome) == (Outcome.SUCCEEDED, Outcome.REFUSED)


# -- what records nothing ------------------------------------------------------------------------


def test_reads_record_nothing_even_when_refused(world: World):
    before = world.counts()
    service = world.service
    service.access(world.id("secretary"), world.nimes)
    service.organisation_access(world.id("owner"), world.group)
    service.establishment(actor=world.id("secretary"), establishment_id=world.nimes)
    service.memberships_of(world.id("secretary"))
    service.members(actor=world.id("director"), establishment_id=world.nimes)
    service.require(world.id("secretary"), Permission.CHANGE_LOGIN, target=world.id("secretary"))
    for refused_read in (
        lambda: service.establishment(actor=world.id("rival"), establishment_id=world.nimes),
        lambda: service.members(actor=world.id("rival"), establishment_id=world.nimes),
        lambda: service.require(
            world.id("rival"), Permission.CHANGE_EMAIL, target=world.id("dentist")
        ),
    ):
        with pytest.raises(PracticeIdError):
            refused_read()
    assert world.counts() == before


def test_the_in_unit_of_work_variants_leave_the_event_to_the_calling_command(world: World):
    service = world.service
    before = world.counts()
    with world.store.unit_of_work() as uow:
        service.authorize(
            uow,
            actor=world.id("director"),
            establishment_id=world.nimes,
            permission=Permission.USERS_CREATE,
        )
        service.authorize_account(
            uow, actor=SUPPORT, permission=Permission.USERS_DEACTIVATE, user_id=world.id("dentist")
        )
        establishment = uow.establishments.get(world.nimes)
        service.access_in(uow, world.id("director"), establishment)
        service.add_member_in(
            uow,
            actor=world.id("director"),
            establishment_id=world.nimes,
            address=service.email_policy.parse(NEW_ADDRESS),
            role_ids=frozenset({RoleId("assistant")}),
            profile=("Louise", "Petit", "", None),
            wanted=None,
        )
        service.set_user_status_in(uow, SUPPORT, world.id("dentist"), active=False)
        uow.commit()
    assert world.counts() == before


def test_a_conflict_retried_internally_is_no_refusal_but_one_that_persists_is(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    repository = type(world.store.unit_of_work().establishments)
    real_update = repository.update
    conflicts = [StaleRecord(entity="establishment")]

    def update_once_stale(self, establishment):
        if conflicts:
            raise conflicts.pop()
        return real_update(self, establishment)

    monkeypatch.setattr(repository, "update", update_once_stale)
    before = world.counts()
    world.service.define_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        name="Accueil du soir",
        permissions=[Permission.AGENDA_VIEW],
    )
    assert world.only_new_record(before).event.outcome is Outcome.SUCCEEDED

    conflicts.extend(StaleRecord(entity="establishment") for _ in range(world.service.retries))
    before = world.counts()
    with pytest.raises(StaleRecord):
        world.service.define_role(
            actor=world.id("director"),
            establishment_id=world.nimes,
            name="Jamais",
            permissions=[Permission.AGENDA_VIEW],
        )
    record = world.only_new_record(before)
    assert (record.event.outcome, record.event.code) == (Outcome.REFUSED, "record.stale")
    world.assert_chains_intact()


# -- a property: any sequence of commands, one event each (F3) -----------------------------------

ACTORS = (
    "owner",
    "director",
    "manager",
    "dentist",
    "secretary",
    "rival",
    "support",
    "ghost",
    "bad",
)


@attrs.frozen
class Step:
    """One command of a random program, with everything any command might need."""

    command: str
    actor: str
    user: str
    establishment: str
    organisation: str
    role: str
    features: tuple[str, ...]
    department: str

    def person(self, w: World, name: str) -> Any:
        return {"support": SUPPORT, "ghost": GHOST, "bad": 42}.get(name) or w.id(name)

    def kw(self, w: World, *names: str) -> dict[str, Any]:
        """The keyword arguments ``names`` of the command."""
        values = {
            "actor": self.person(w, self.actor),
            "user_id": self.person(w, self.user),
            "establishment_id": self.establishment,
            "organisation_id": self.organisation,
        }
        return {name: values[name] for name in names}


def _email(w: World, name: str) -> str:
    return w.users[name].email.address if name in w.users else NEW_ADDRESS


_MEMBER = ("actor", "establishment_id", "user_id")
_OWNERS = ("actor", "organisation_id", "user_id")
_IN = ("actor", "establishment_id")

COMMANDS: dict[str, tuple[str, Callable[[World, Step], object]]] = {
    "found_organisation": (
        "organisation.found",
        lambda w, s: w.service.found_organisation(owner=s.person(w, s.actor), name="Groupe"),
    ),
    "open_establishment": (
        "establishment.open",
        lambda w, s: w.service.open_establishment(
            **s.kw(w, "actor", "organisation_id"), name="Centre", product=ProductKind.DENTAL
        ),
    ),
    "add_owner": ("owner.add", lambda w, s: w.service.add_owner(**s.kw(w, *_OWNERS))),
    "remove_owner": ("owner.remove", lambda w, s: w.service.remove_owner(**s.kw(w, *_OWNERS))),
    "add_member": (
        "member.add",
        lambda w, s: w.service.add_member(
            **s.kw(w, *_IN),
            email=_email(w, s.user),
            roles=[s.role],
            first_name="Louise",
            last_name="Petit",
        ),
    ),
    "set_roles": (
        "member.set_roles",
        lambda w, s: w.service.set_roles(**s.kw(w, *_MEMBER), roles=[s.role]),
    ),
    "grant_role": (
        "member.grant_role",
        lambda w, s: w.service.grant_role(**s.kw(w, *_MEMBER), role=s.role),
    ),
    "revoke_role": (
        "member.revoke_role",
        lambda w, s: w.service.revoke_role(**s.kw(w, *_MEMBER), role=s.role),
    ),
    "deactivate_member": (
        "member.deactivate",
        lambda w, s: w.service.deactivate_member(**s.kw(w, *_MEMBER)),
    ),
    "reactivate_member": (
        "member.reactivate",
        lambda w, s: w.service.reactivate_member(**s.kw(w, *_MEMBER)),
    ),
    "deactivate_user": (
        "account.deactivate",
        lambda w, s: w.service.deactivate_user(**s.kw(w, "actor", "user_id")),
    ),
    "reactivate_user": (
        "account.reactivate",
        lambda w, s: w.service.reactivate_user(**s.kw(w, "actor", "user_id")),
    ),
    "define_role": (
        "role.define",
        lambda w, s: w.service.define_role(
            **s.kw(w, *_IN), name=f"Rôle {s.role}", permissions=[Permission.AGENDA_VIEW]
        ),
    ),
    "create_department": (
        "department.create",
        lambda w, s: w.service.create_department(
            **s.kw(w, *_IN),
            name=f"Service {s.department}",
            features=s.features,
            department_id=DepartmentId(s.department),
        ),
    ),
    "set_department_features": (
        "department.set_features",
        lambda w, s: w.service.set_department_features(
            **s.kw(w, *_IN), department_id=DepartmentId(s.department), features=s.features
        ),
    ),
    "set_departments": (
        "member.set_departments",
        lambda w, s: w.service.set_departments(
            **s.kw(w, *_MEMBER), departments=[DepartmentId(s.department)]
        ),
    ),
    "set_member_features": (
        "member.set_features",
        lambda w, s: w.service.set_member_features(**s.kw(w, *_MEMBER), features=s.features),
    ),
    "set_delegations": (
        "member.set_delegations",
        lambda w, s: w.service.set_delegations(**s.kw(w, *_MEMBER), delegations=[w.id("dentist")]),
    ),
}

# Mostly actors who may act, on members of Nîmes, so that every command also succeeds.
_actors = st.one_of(st.sampled_from(("director", "owner", "support")), st.sampled_from(ACTORS))
_users = st.one_of(st.sampled_from(("secretary", "manager", "dentist")), st.sampled_from(ACTORS))
steps = st.builds(
    Step,
    command=st.sampled_from(sorted(COMMANDS)),
    actor=_actors,
    user=_users,
    establishment=st.one_of(st.just("nimes"), st.sampled_from(("nimes", "lyon", "atlantis"))),
    organisation=st.sampled_from(("group", "group", "rival", "no-group")),
    role=st.sampled_from(("assistant", "secretary", "physician", "administrator", "surgeon")),
    features=st.sampled_from(((), ("ehr.integration",), ("dmp.send",), ("Labs Orders",))),
    department=st.sampled_from(("cardio", "cardio", "pediatrie")),
)


@given(st.lists(steps, min_size=1, max_size=12))
def test_any_sequence_of_commands_leaves_one_event_each_and_intact_chains_f3(program):
    w = make_world()
    _create_cardio(w)
    for step in program:
        action, run = COMMANDS[step.command]
        before = w.counts()
        try:
            run(w, step)
        except PracticeIdError as error:
            record = w.only_new_record(before)
            assert record.event.outcome is Outcome.REFUSED
            assert record.event.code == error.code
        else:
            record = w.only_new_record(before)
            assert record.event.outcome is Outcome.SUCCEEDED
        assert record.event.action == action
        event(f"{action} {record.event.outcome}")
        actor = step.person(w, step.actor)
        assert record.event.actor == (actor if isinstance(actor, str) else None)
    w.assert_chains_intact()
    with w.store.unit_of_work() as uow:
        for chain in uow.audit.chains():
            for record in uow.audit.records(chain):
                assert "@" not in json.dumps(record.event.canonical())
