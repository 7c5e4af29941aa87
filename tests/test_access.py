"""Examples for each requirement of establishments, memberships, roles and permissions.

A5, A6, C1-C6: one test per behaviour, named as the behaviour. Every person, address and
establishment here is made up.
"""

from __future__ import annotations

import threading

import attrs
import pytest

from practiceid import (
    AccessRejected,
    AccessService,
    AccountDeactivated,
    AccountService,
    Delegation,
    DepartmentId,
    DuplicateMembership,
    EscalationDenied,
    EstablishmentId,
    Feature,
    LastAdministrator,
    LastOwner,
    MembershipNotFound,
    MembershipStatus,
    OrganisationId,
    Permission,
    PermissionDenied,
    ProductKind,
    ProfileRejected,
    Reason,
    RoleId,
    RoleNotFound,
    Target,
    User,
    UserId,
    decide,
)
from practiceid.adapters import InMemoryStore
from practiceid.testing import ManualClock, fast_hasher, sample_user

SUPPORT = UserId("support-desk")
PASSWORD = "Vrai-Cheval-Agrafe-42"


@attrs.define
class World:
    """Two establishments of one group, one of a rival group, and their people."""

    store: InMemoryStore
    service: AccessService
    accounts: AccountService
    users: dict[str, User]
    group: OrganisationId
    rival: OrganisationId
    nimes: EstablishmentId
    arles: EstablishmentId
    lyon: EstablishmentId

    def add_user(self, name: str) -> User:
        user = sample_user(first_name=name.capitalize())
        with self.store.unit_of_work() as uow:
            uow.users.add(user)
            uow.commit()
        self.users[name] = user
        return user

    def member(self, name: str, establishment: EstablishmentId, *roles: str) -> None:
        self.service.add_member(
            actor=self.users["owner"].id,
            establishment_id=establishment,
            email=self.users[name].email.address,
            roles=roles,
        )

    def id(self, name: str) -> UserId:
        return self.users[name].id


@pytest.fixture
def world(any_store) -> World:
    store = any_store
    clock = ManualClock()
    service = AccessService(
        unit_of_work=store.unit_of_work,
        clock=clock,
        staff={SUPPORT: frozenset(Permission)},
    )
    accounts = AccountService(
        unit_of_work=store.unit_of_work, hasher=fast_hasher(), clock=clock, authorizer=service
    )
    w = World(
        store,
        service,
        accounts,
        {},
        OrganisationId("group"),
        OrganisationId("rival"),
        EstablishmentId("nimes"),
        EstablishmentId("arles"),
        EstablishmentId("lyon"),
    )
    for name in ("owner", "director", "manager", "dentist", "secretary", "rival", "support"):
        w.add_user(name)
    with store.unit_of_work() as uow:
        uow.users.add(sample_user(id=SUPPORT))
        uow.commit()
    service.found_organisation(owner=w.id("owner"), name="Groupe du Sud", organisation_id=w.group)
    service.found_organisation(owner=w.id("rival"), name="Groupe Rival", organisation_id=w.rival)
    for establishment in (w.nimes, w.arles):
        service.open_establishment(
            actor=w.id("owner"),
            organisation_id=w.group,
            name=f"Centre de {establishment}",
            product=ProductKind.DENTAL,
            establishment_id=establishment,
            administrator=w.id("director") if establishment == w.nimes else None,
        )
    service.open_establishment(
        actor=w.id("rival"),
        organisation_id=w.rival,
        name="Centre de Lyon",
        product=ProductKind.DENTAL,
        establishment_id=w.lyon,
    )
    w.member("manager", w.nimes, "user_manager")
    w.member("dentist", w.nimes, "physician")
    w.member("secretary", w.nimes, "secretary")
    return w


# -- C1: one account, many memberships --------------------------------------------------------


def test_adding_an_existing_address_attaches_the_same_account_c1(world: World):
    dentist = world.users["dentist"]
    added = world.service.add_member(
        actor=world.id("owner"),
        establishment_id=world.arles,
        email=dentist.email.address.upper(),
        roles=["physician"],
    )
    assert added.created_user is False
    assert added.user.id == dentist.id
    establishments = [m.establishment_id for m in world.service.memberships_of(dentist.id)]
    assert establishments == [world.arles, world.nimes]
    with world.store.unit_of_work() as uow:
        assert len(uow.users.list()) == len(world.users) + 1  # nobody was created


def test_adding_an_unknown_address_creates_a_user_without_a_password_c1(world: World):
    added = world.service.add_member(
        actor=world.id("director"),
        establishment_id=world.nimes,
        email="l.petit@centre-exemple.fr",
        roles=["assistant"],
        first_name="Louise",
        last_name="Petit",
    )
    assert added.created_user is True
    assert added.user.password_hash is None
    assert added.user.login.display == "l.petit@centre-exemple.fr"
    assert added.membership.roles == {RoleId("assistant")}


def test_a_new_member_needs_a_name_when_the_address_is_unknown(world: World):
    with pytest.raises(ProfileRejected) as raised:
        world.service.add_member(
            actor=world.id("director"), establishment_id=world.nimes, email="x@centre-exemple.fr"
        )
    assert set(raised.value.codes) == {"profile.required"}


def test_adding_a_member_twice_is_refused_even_when_deactivated(world: World):
    world.service.deactivate_member(
        actor=world.id("director"), establishment_id=world.nimes, user_id=world.id("secretary")
    )
    with pytest.raises(DuplicateMembership):
        world.member("secretary", world.nimes, "secretary")


def test_an_unknown_role_is_refused(world: World):
    with pytest.raises(RoleNotFound):
        world.member("rival", world.nimes, "surgeon-in-chief")


def test_sixteen_admins_adding_one_new_address_make_one_account_c1(world: World):
    establishments = [EstablishmentId(f"centre-{n}") for n in range(16)]
    for establishment in establishments:
        world.service.open_establishment(
            actor=world.id("owner"),
            organisation_id=world.group,
            name=f"Centre {establishment}",
            product=ProductKind.DENTAL,
            establishment_id=establishment,
        )
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def add(establishment: EstablishmentId) -> None:
        barrier.wait()
        try:
            world.service.add_member(
                actor=world.id("owner"),
                establishment_id=establishment,
                email="Remplacant@Centre-Exemple.fr",
                roles=["physician"],
                first_name="Sam",
                last_name="Remplaçant",
            )
        except BaseException as error:  # noqa: BLE001 - the test reports every failure
            errors.append(error)

    threads = [threading.Thread(target=add, args=(e,)) for e in establishments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with world.store.unit_of_work() as uow:
        matches = [u for u in uow.users.list() if u.email.address.lower().startswith("remplacant")]
        assert len(matches) == 1
        assert len(uow.memberships.list_for_user(matches[0].id)) == 16


# -- C2: owners manage every establishment, directors their own ----------------------------


def test_an_owner_manages_every_establishment_of_the_organisation_c2(world: World):
    for establishment in (world.nimes, world.arles):
        access = world.service.access(world.id("owner"), establishment)
        assert access.owner
        assert access.allows(Permission.USERS_CREATE)
        assert access.allows(Permission.ROLES_ASSIGN_ADMINISTRATOR)


def test_a_director_manages_only_their_own_establishment_c2(world: World):
    assert world.service.access(world.id("director"), world.nimes).administrator
    elsewhere = world.service.access(world.id("director"), world.arles)
    assert elsewhere.denial is Reason.NOT_A_MEMBER
    assert not elsewhere.allows(Permission.USERS_VIEW)
    with pytest.raises(PermissionDenied) as raised:
        world.member_by = world.service.add_member(
            actor=world.id("director"),
            establishment_id=world.arles,
            email=world.users["secretary"].email.address,
        )
    assert raised.value.params["reason"] == "not_member"


def test_an_owner_has_no_access_to_another_organisation_c2(world: World):
    assert world.service.access(world.id("owner"), world.lyon).denial is Reason.NOT_A_MEMBER


def test_only_owners_open_establishments_c2(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.service.open_establishment(
            actor=world.id("director"),
            organisation_id=world.group,
            name="Centre pirate",
            product=ProductKind.DENTAL,
        )
    assert raised.value.params["reason"] == "not_member"
    with pytest.raises(PermissionDenied) as raised:
        world.service.open_establishment(
            actor=world.id("owner"),
            organisation_id=world.rival,
            name="Centre pirate",
            product=ProductKind.DENTAL,
        )
    assert raised.value.params["reason"] == "not_member"


def test_the_last_owner_stays_and_owners_can_be_added_c2(world: World):
    with pytest.raises(LastOwner):
        world.service.remove_owner(
            actor=world.id("owner"), organisation_id=world.group, user_id=world.id("owner")
        )
    world.service.add_owner(
        actor=world.id("owner"), organisation_id=world.group, user_id=world.id("director")
    )
    assert world.service.access(world.id("director"), world.arles).owner
    organisation = world.service.remove_owner(
        actor=world.id("director"), organisation_id=world.group, user_id=world.id("owner")
    )
    assert organisation.owners == {world.id("director")}


def test_a_director_cannot_make_themself_an_owner_c2(world: World):
    with pytest.raises(PermissionDenied):
        world.service.add_owner(
            actor=world.id("director"), organisation_id=world.group, user_id=world.id("director")
        )


# -- C3: who creates users and who makes administrators ------------------------------------


def test_a_secretary_cannot_create_users_c3(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.service.add_member(
            actor=world.id("secretary"),
            establishment_id=world.nimes,
            email="new@centre-exemple.fr",
            first_name="Noa",
            last_name="Nouveau",
        )
    assert raised.value.params["reason"] == "missing_permission"
    assert raised.value.params["missing"] == ("users.create",)


def test_a_user_manager_adds_a_secretary_c3(world: World):
    added = world.service.add_member(
        actor=world.id("manager"),
        establishment_id=world.nimes,
        email="accueil.bis@centre-exemple.fr",
        roles=["secretary"],
        first_name="Eli",
        last_name="Accueil",
    )
    assert added.membership.is_active


def test_a_user_manager_cannot_grant_administrator_c3(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.service.grant_role(
            actor=world.id("manager"),
            establishment_id=world.nimes,
            user_id=world.id("secretary"),
            role="administrator",
        )
    assert type(raised.value) is PermissionDenied
    assert raised.value.params["missing"] == ("roles.assign_administrator",)


def test_a_user_manager_cannot_give_permissions_they_do_not_hold_c3(world: World):
    with pytest.raises(EscalationDenied) as raised:
        world.service.grant_role(
            actor=world.id("manager"),
            establishment_id=world.nimes,
            user_id=world.id("secretary"),
            role="physician",
        )
    assert raised.value.code == "access.escalation"
    assert "consultations.sign" in raised.value.params["missing"]


def test_an_administrator_makes_another_administrator_who_is_distinguishable_c3(world: World):
    world.service.grant_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("dentist"),
        role="administrator",
    )
    access = world.service.access(world.id("dentist"), world.nimes)
    assert access.administrator
    assert not world.service.access(world.id("manager"), world.nimes).administrator


def test_a_user_manager_cannot_deactivate_an_administrator_c3(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.service.deactivate_member(
            actor=world.id("manager"), establishment_id=world.nimes, user_id=world.id("director")
        )
    assert raised.value.params["missing"] == ("roles.assign_administrator",)


# -- last administrator ------------------------------------------------------------------


@pytest.mark.parametrize("act", ["deactivate_member", "revoke_role", "deactivate_user"])
def test_the_last_active_administrator_is_protected(world: World, act: str):
    director = world.id("director")
    acts = {
        "deactivate_member": lambda: world.service.deactivate_member(
            actor=director, establishment_id=world.nimes, user_id=director
        ),
        "revoke_role": lambda: world.service.revoke_role(
            actor=director, establishment_id=world.nimes, user_id=director, role="administrator"
        ),
        "deactivate_user": lambda: world.service.deactivate_user(actor=SUPPORT, user_id=director),
    }
    with pytest.raises(LastAdministrator) as raised:
        acts[act]()
    assert raised.value.params["reason"] == "last_administrator"
    assert world.service.access(director, world.nimes).administrator


def test_an_administrator_can_step_down_once_another_is_active(world: World):
    world.service.grant_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("dentist"),
        role="administrator",
    )
    membership = world.service.revoke_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("director"),
        role="administrator",
    )
    assert membership.roles == frozenset()


def test_a_deactivated_account_does_not_count_as_an_administrator(world: World):
    world.service.grant_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("dentist"),
        role="administrator",
    )
    world.service.deactivate_user(actor=SUPPORT, user_id=world.id("dentist"))
    with pytest.raises(LastAdministrator):
        world.service.deactivate_member(
            actor=world.id("owner"), establishment_id=world.nimes, user_id=world.id("director")
        )


def test_two_administrators_demoting_each_other_at_once_leave_one(world: World):
    world.service.grant_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("dentist"),
        role="administrator",
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor: str, target: str) -> None:
        barrier.wait()
        try:
            world.service.revoke_role(
                actor=world.id(actor),
                establishment_id=world.nimes,
                user_id=world.id(target),
                role="administrator",
            )
            outcomes.append("done")
        except PermissionDenied as error:
            outcomes.append(error.code)

    threads = [
        threading.Thread(target=demote, args=("director", "dentist")),
        threading.Thread(target=demote, args=("dentist", "director")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("done") == 1  # the other was refused: no longer admin, or the last
    admins = [
        name
        for name in ("director", "dentist")
        if world.service.access(world.id(name), world.nimes).administrator
    ]
    assert len(admins) == 1


# -- C4: roles are permission sets from the catalogue -------------------------------------


def test_an_administrator_defines_a_custom_role_c4(world: World):
    role = world.service.define_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        name="Comptable",
        permissions=[Permission.PAYMENTS_VIEW, "reports.financial"],
    )
    world.service.set_roles(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        roles=[role.id],
    )
    access = world.service.access(world.id("secretary"), world.nimes)
    assert access.permissions == {Permission.PAYMENTS_VIEW, Permission.REPORTS_FINANCIAL}


def test_a_role_cannot_hold_support_permissions_given_by_an_administrator(world: World):
    with pytest.raises(EscalationDenied) as raised:
        world.service.define_role(
            actor=world.id("director"),
            establishment_id=world.nimes,
            name="Faux support",
            permissions=[Permission.CHANGE_EMAIL],
        )
    assert raised.value.params["missing"] == ("users.change_email",)


def test_redefining_a_role_needs_every_permission_added_or_removed(world: World):
    role = world.service.define_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        name="Gestion des rôles",
        permissions=[Permission.ROLES_MANAGE, Permission.AGENDA_VIEW],
    )
    world.service.set_roles(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        roles=[role.id],
    )
    with pytest.raises(EscalationDenied):
        world.service.define_role(
            actor=world.id("secretary"),
            establishment_id=world.nimes,
            role_id=RoleId("physician"),
            name="Dental surgeon",
            permissions=[Permission.AGENDA_VIEW],
        )
    edited = world.service.define_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        role_id=role.id,
        name="Gestion des rôles",
        permissions=[Permission.ROLES_MANAGE],
    )
    assert edited.permissions == {Permission.ROLES_MANAGE}


def test_administrator_roles_cannot_be_edited_c3(world: World):
    with pytest.raises(AccessRejected) as raised:
        world.service.define_role(
            actor=world.id("owner"),
            establishment_id=world.nimes,
            role_id=RoleId("administrator"),
            name="Administrator",
            permissions=[],
        )
    assert raised.value.codes == ("role.read_only",)


def test_role_names_are_unique_and_permissions_from_the_catalogue(world: World):
    with pytest.raises(AccessRejected) as raised:
        world.service.define_role(
            actor=world.id("director"),
            establishment_id=world.nimes,
            name="secretary",
            permissions=["payments.view"],
        )
    assert raised.value.codes == ("role.duplicate_name",)
    with pytest.raises(AccessRejected) as raised:
        world.service.define_role(
            actor=world.id("director"),
            establishment_id=world.nimes,
            name="Inventé",
            permissions=["coffee.make"],
        )
    assert raised.value.codes == ("role.unknown_permission",)


# -- C5: departments and features ---------------------------------------------------------


def test_a_member_keeps_a_feature_while_any_department_has_it_c5(world: World):
    director = world.id("director")
    for name, department in (("Cardiologie", "cardio"), ("Urgences", "urgences")):
        world.service.create_department(
            actor=director,
            establishment_id=world.nimes,
            name=name,
            features=[Feature.DMP_SENDING],
            department_id=DepartmentId(department),
        )
    world.service.set_departments(
        actor=director,
        establishment_id=world.nimes,
        user_id=world.id("dentist"),
        departments=[DepartmentId("cardio"), DepartmentId("urgences")],
    )

    def features() -> frozenset[str]:
        return world.service.access(world.id("dentist"), world.nimes).features

    assert features() == {Feature.DMP_SENDING}
    world.service.set_department_features(
        actor=director,
        establishment_id=world.nimes,
        department_id=DepartmentId("cardio"),
        features=[],
    )
    assert features() == {Feature.DMP_SENDING}
    world.service.set_department_features(
        actor=director,
        establishment_id=world.nimes,
        department_id=DepartmentId("urgences"),
        features=[Feature.PMSI_REDIRECTION],
    )
    assert features() == {Feature.PMSI_REDIRECTION}


def test_only_department_managers_switch_features_c5(world: World):
    with pytest.raises(PermissionDenied):
        world.service.create_department(
            actor=world.id("secretary"), establishment_id=world.nimes, name="Radiologie"
        )


# -- C6: delegations ------------------------------------------------------------------------


def _in_department(world: World, member: str, name: str, feature: Feature) -> None:
    """The director creates a department with one feature and puts ``member`` in it."""
    department = DepartmentId(name.lower())
    world.service.create_department(
        actor=world.id("director"),
        establishment_id=world.nimes,
        name=name,
        features=[feature],
        department_id=department,
    )
    world.service.set_departments(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id(member),
        departments=[department],
    )


def _cardio_dentist(world: World) -> None:
    _in_department(world, "dentist", "Cardiologie", Feature.EHR_INTEGRATION)


def test_a_delegate_inherits_the_physicians_features_by_default_c6(world: World):
    _cardio_dentist(world)
    world.service.set_delegations(
        actor=world.id("manager"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        delegations=[world.id("dentist")],
    )
    access = world.service.access(world.id("secretary"), world.nimes)
    assert access.has_feature(Feature.EHR_INTEGRATION)
    on_behalf = Target.on_behalf(world.nimes, world.id("dentist"))
    assert decide(access, Permission.DOCUMENTS_SEND, on_behalf).allowed
    stranger = Target.on_behalf(world.nimes, world.id("director"))
    assert decide(access, Permission.DOCUMENTS_SEND, stranger).reason is Reason.NOT_DELEGATED


def test_a_delegation_may_leave_the_features_out_c6(world: World):
    _cardio_dentist(world)
    world.service.set_delegations(
        actor=world.id("manager"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        delegations=[Delegation(world.id("dentist"), inherit_features=False)],
    )
    access = world.service.access(world.id("secretary"), world.nimes)
    assert access.features == frozenset()
    assert access.on_behalf_of == {world.id("dentist")}


def test_a_deactivated_physician_lends_nothing_c6(world: World):
    _cardio_dentist(world)
    world.service.set_delegations(
        actor=world.id("manager"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        delegations=[world.id("dentist")],
    )
    world.service.deactivate_member(
        actor=world.id("manager"), establishment_id=world.nimes, user_id=world.id("dentist")
    )
    access = world.service.access(world.id("secretary"), world.nimes)
    assert access.features == frozenset()
    assert access.on_behalf_of == frozenset()


def test_delegations_go_to_active_physicians_only_c6(world: World):
    with pytest.raises(AccessRejected) as raised:
        world.service.set_delegations(
            actor=world.id("manager"),
            establishment_id=world.nimes,
            user_id=world.id("secretary"),
            delegations=[world.id("manager"), world.id("secretary"), world.id("rival")],
        )
    assert raised.value.codes == (
        "delegation.not_a_physician",
        "delegation.self",
        "delegation.not_a_physician",
    )


def test_member_features_are_granted_directly_and_lent_to_delegates(world: World):
    world.service.set_member_features(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("dentist"),
        features=[Feature.PATIENT_CONTACT_RETRIEVAL],
    )
    world.service.set_delegations(
        actor=world.id("manager"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        delegations=[world.id("dentist")],
    )
    access = world.service.access(world.id("secretary"), world.nimes)
    assert access.features == {Feature.PATIENT_CONTACT_RETRIEVAL}


# -- A5: changing an e-mail address is support's --------------------------------------------


def _managed(world: World, email: str = "gere@centre-exemple.fr") -> UserId:
    """A user the Nîmes centre created (not attached): Nîmes manages the account."""
    return world.service.add_member(
        actor=world.id("director"),
        establishment_id=world.nimes,
        email=email,
        roles=["assistant"],
        first_name="Gabi",
        last_name="Géré",
    ).user.id


def test_an_administrator_cannot_change_an_email_a5(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.accounts.change_email(
            actor=world.id("director"), user_id=_managed(world), new_email="d@exemple.fr"
        )
    assert raised.value.params["missing"] == ("users.change_email",)


def test_attaching_an_account_gives_no_power_over_it(world: World):
    registered = world.accounts.register(
        login="dr.libre",
        email="libre@exemple-perso.fr",
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name="Dominique",
        last_name="Libre",
    ).user.id
    world.service.add_member(
        actor=world.id("rival"), establishment_id=world.lyon, email="libre@exemple-perso.fr"
    )
    with pytest.raises(PermissionDenied) as raised:
        world.accounts.change_login(actor=world.id("rival"), user_id=registered, new_login="pwned")
    assert raised.value.params["reason"] == "account_not_managed"
    with pytest.raises(PermissionDenied):
        world.service.deactivate_user(actor=world.id("rival"), user_id=registered)
    world.accounts.change_login(actor=registered, user_id=registered, new_login="dr.libre2")


def test_support_staff_change_an_email_a5(world: World):
    change = world.accounts.change_email(
        actor=SUPPORT, user_id=world.id("dentist"), new_email="dentiste@centre-exemple.fr"
    )
    assert change.user.email.address == "dentiste@centre-exemple.fr"


def test_only_support_staff_give_the_support_role_a5(world: World):
    with pytest.raises(EscalationDenied) as raised:
        world.member("support", world.nimes, "support")
    assert raised.value.params["missing"] == (
        "licenses.administer",
        "users.change_email",
        "users.manage_ip_factors",
    )


def test_a_support_member_changes_emails_only_of_accounts_wholly_in_their_reach_a5(world: World):
    world.service.add_member(
        actor=SUPPORT,
        establishment_id=world.nimes,
        email=world.users["support"].email.address,
        roles=["support"],
    )
    world.service.add_member(
        actor=world.id("owner"),
        establishment_id=world.arles,
        email=world.users["dentist"].email.address,
        roles=["physician"],
    )
    managed = _managed(world)
    world.accounts.change_email(actor=world.id("support"), user_id=managed, new_email="s@c-ex.fr")
    world.service.add_member(
        actor=world.id("owner"),
        establishment_id=world.arles,
        email="s@c-ex.fr",
        roles=["assistant"],
    )
    with pytest.raises(PermissionDenied) as raised:
        world.accounts.change_email(
            actor=world.id("support"), user_id=managed, new_email="s2@c-ex.fr"
        )
    assert raised.value.params["reason"] == "not_member"
    with pytest.raises(PermissionDenied) as raised:
        world.accounts.change_email(
            actor=world.id("support"), user_id=world.id("dentist"), new_email="d@centre-exemple.fr"
        )
    assert raised.value.params["reason"] == "account_not_managed"


def test_everyone_changes_their_own_login_but_not_others(world: World):
    world.accounts.change_login(
        actor=world.id("secretary"), user_id=world.id("secretary"), new_login="accueil.nimes"
    )
    with pytest.raises(PermissionDenied):
        world.accounts.change_login(
            actor=world.id("secretary"), user_id=world.id("dentist"), new_login="pirate"
        )


def test_an_account_without_memberships_is_out_of_everyones_reach_but_staff(world: World):
    loner = world.add_user("loner")
    with pytest.raises(PermissionDenied):
        world.service.require(world.id("owner"), Permission.CHANGE_EMAIL, target=loner.id)
    world.service.require(SUPPORT, Permission.CHANGE_EMAIL, target=loner.id)
    with pytest.raises(PermissionDenied):
        world.service.require(UserId("nobody"), Permission.CHANGE_EMAIL, target=loner.id)


# -- A6: deactivation, never deletion -------------------------------------------------------


def test_a_deactivated_membership_keeps_its_history_and_gives_no_access_a6(world: World):
    membership = world.service.deactivate_member(
        actor=world.id("manager"), establishment_id=world.nimes, user_id=world.id("dentist")
    )
    assert membership.status is MembershipStatus.DEACTIVATED
    access = world.service.access(world.id("dentist"), world.nimes)
    assert access.denial is Reason.MEMBERSHIP_DEACTIVATED
    assert decide(access, Permission.PATIENTS_VIEW).reason is Reason.MEMBERSHIP_DEACTIVATED
    members = world.service.members(actor=world.id("secretary"), establishment_id=world.nimes)
    assert world.id("dentist") in {m.user_id for m in members}
    deactivated = world.service.members(
        actor=world.id("secretary"),
        establishment_id=world.nimes,
        status=MembershipStatus.DEACTIVATED,
    )
    assert [m.user_id for m in deactivated] == [world.id("dentist")]


def test_reactivation_restores_access_a6(world: World):
    for act in (world.service.deactivate_member, world.service.reactivate_member):
        act(actor=world.id("manager"), establishment_id=world.nimes, user_id=world.id("dentist"))
    assert world.service.access(world.id("dentist"), world.nimes).allows(
        Permission.CONSULTATIONS_SIGN
    )


def test_a_deactivated_account_cannot_log_in_and_is_denied_everywhere_a6(world: World):
    registration = world.accounts.register(
        login="dr.lenoir",
        email="lenoir@centre-exemple.fr",
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name="Alex",
        last_name="Lenoir",
    )
    lenoir = registration.user.id
    world.service.add_member(
        actor=world.id("director"),
        establishment_id=world.nimes,
        email="lenoir@centre-exemple.fr",
        roles=["physician"],
    )
    world.service.deactivate_user(actor=SUPPORT, user_id=lenoir)
    with pytest.raises(AccountDeactivated):
        world.accounts.authenticate("dr.lenoir", PASSWORD)
    assert world.service.access(lenoir, world.nimes).denial is Reason.USER_DEACTIVATED
    world.service.reactivate_user(actor=SUPPORT, user_id=lenoir)
    assert world.accounts.authenticate("dr.lenoir", PASSWORD).id == lenoir


def test_deactivating_an_account_needs_the_permission_in_each_of_its_establishments(world: World):
    world.service.add_member(
        actor=world.id("rival"),
        establishment_id=world.lyon,
        email=world.users["dentist"].email.address,
        roles=["physician"],
    )
    with pytest.raises(PermissionDenied):
        world.service.deactivate_user(actor=world.id("director"), user_id=world.id("dentist"))
    world.service.deactivate_user(actor=SUPPORT, user_id=world.id("dentist"))


def test_a_deactivated_actor_can_do_nothing_a6(world: World):
    world.service.deactivate_user(actor=SUPPORT, user_id=world.id("manager"))
    with pytest.raises(PermissionDenied) as raised:
        world.service.deactivate_member(
            actor=world.id("manager"), establishment_id=world.nimes, user_id=world.id("secretary")
        )
    assert raised.value.params["reason"] == "user_deactivated"
    with pytest.raises(PermissionDenied) as raised:
        world.service.require(world.id("manager"), Permission.CHANGE_EMAIL, target=SUPPORT)
    assert raised.value.params["reason"] == "user_deactivated"


# -- tenant isolation and reading access ------------------------------------------------------


def test_an_access_is_valid_only_in_its_own_establishment(world: World):
    access = world.service.access(world.id("director"), world.nimes)
    assert decide(access, Permission.USERS_VIEW, Target.establishment(world.nimes)).allowed
    denied = decide(access, Permission.USERS_VIEW, Target.establishment(world.arles))
    assert denied.reason is Reason.OTHER_ESTABLISHMENT
    assert not denied
    assert decide(access, Permission.USERS_VIEW, Target.organisation(world.group)).reason is (
        Reason.OTHER_ORGANISATION
    )


def test_an_unknown_user_gets_a_void_access_not_an_error(world: World):
    assert world.service.access(UserId("ghost"), world.nimes).denial is Reason.NOT_A_MEMBER
    assert world.service.organisation_access(UserId("ghost"), world.group).denial is (
        Reason.NOT_A_MEMBER
    )


def test_changing_a_stranger_is_refused_before_revealing_whether_they_exist(world: World):
    with pytest.raises(PermissionDenied):
        world.service.set_roles(
            actor=world.id("rival"),
            establishment_id=world.nimes,
            user_id=UserId("ghost"),
            roles=[],
        )
    with pytest.raises(MembershipNotFound):
        world.service.set_roles(
            actor=world.id("director"),
            establishment_id=world.nimes,
            user_id=UserId("ghost"),
            roles=[],
        )


def test_an_establishment_id_is_the_fast_form_of_an_establishment_target(world: World):
    for name in ("director", "secretary", "rival", "owner"):
        access = world.service.access(world.id(name), world.nimes)
        for establishment in (world.nimes, world.arles):
            for permission in Permission:
                fast = decide(access, permission, establishment)
                full = decide(access, permission, Target.establishment(establishment))
                assert fast == full


def test_a_repeated_denial_is_answered_from_the_access_cache(world: World):
    access = world.service.access(world.id("secretary"), world.nimes)
    first = decide(access, Permission.PAYMENTS_CANCEL)
    assert decide(access, Permission.PAYMENTS_CANCEL) is first
    assert decide(access, Permission.PAYMENTS_CANCEL, world.nimes) is first
    assert first.error().params["missing"] == ("payments.cancel",)


def test_a_member_without_roles_keeps_their_departments_features(world: World):
    _in_department(world, "secretary", "Accueil", Feature.PATIENT_CONTACT_RETRIEVAL)
    world.service.set_roles(
        actor=world.id("director"),
        establishment_id=world.nimes,
        user_id=world.id("secretary"),
        roles=[],
    )
    access = world.service.access(world.id("secretary"), world.nimes)
    assert access.denial is None
    assert access.permissions == frozenset()
    assert access.features == {Feature.PATIENT_CONTACT_RETRIEVAL}
    assert decide(access, Permission.AGENDA_VIEW).reason is Reason.MISSING_PERMISSION


def test_an_administrator_is_not_a_physician_to_delegate_for_c6(world: World):
    with pytest.raises(AccessRejected) as raised:
        world.service.set_delegations(
            actor=world.id("director"),
            establishment_id=world.nimes,
            user_id=world.id("secretary"),
            delegations=[world.id("director")],
        )
    assert raised.value.codes == ("delegation.not_a_physician",)


def test_hosts_choose_the_role_templates_of_each_product(world: World):
    from practiceid import ROLE_TEMPLATES, InvalidConfiguration, RoleTemplate  # noqa: PLC0415

    lean = {ProductKind.DENTAL: ROLE_TEMPLATES[ProductKind.DENTAL][:1]}
    service = attrs.evolve(world.service, role_templates=lean)
    centre = service.open_establishment(
        actor=world.id("owner"),
        organisation_id=world.group,
        name="Centre minimal",
        product=ProductKind.DENTAL,
    )
    assert [role.id for role in centre.roles] == ["administrator"]
    headless = {ProductKind.DENTAL: (RoleTemplate("clerk", "Clerk", frozenset()),)}
    with pytest.raises(InvalidConfiguration):
        attrs.evolve(world.service, role_templates=headless).open_establishment(
            actor=world.id("owner"),
            organisation_id=world.group,
            name="Centre sans administrateur",
            product=ProductKind.DENTAL,
        )


def test_a_use_case_made_stale_by_a_concurrent_change_runs_again(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    from practiceid import StaleRecord  # noqa: PLC0415

    repository = type(world.store.unit_of_work().establishments)  # of whichever store
    real_update = repository.update
    conflicts = [StaleRecord(entity="establishment")]

    def update_once_stale(self, establishment):
        if conflicts:
            raise conflicts.pop()
        return real_update(self, establishment)

    monkeypatch.setattr(repository, "update", update_once_stale)
    role = world.service.define_role(
        actor=world.id("director"),
        establishment_id=world.nimes,
        name="Accueil du soir",
        permissions=[Permission.AGENDA_VIEW],
    )
    assert world.service.access(world.id("director"), world.nimes).allows(Permission.AGENDA_VIEW)
    assert conflicts == []
    assert role.name == "Accueil du soir"
    conflicts.extend(StaleRecord(entity="establishment") for _ in range(3))
    with pytest.raises(StaleRecord):
        world.service.define_role(
            actor=world.id("director"),
            establishment_id=world.nimes,
            name="Jamais",
            permissions=[Permission.AGENDA_VIEW],
        )


def test_members_read_their_establishment_and_strangers_do_not(world: World):
    centre = world.service.establishment(actor=world.id("secretary"), establishment_id=world.nimes)
    assert centre.find_role(RoleId("secretary")) is not None
    with pytest.raises(PermissionDenied) as raised:
        world.service.establishment(actor=world.id("rival"), establishment_id=world.nimes)
    assert raised.value.params["reason"] == "not_member"
