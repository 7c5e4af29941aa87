"""The access service against a model: members, roles, status and who may change them.

Random actors (administrators, user managers, clinicians, owners, support staff, deactivated
users, an unknown id) try every change in three establishments: two in the Nord
organisation and one in the Sud organisation, whose owner works in Nord as a physician. A
model predicts each outcome from the requirements (A6, C1-C4) and the documented rules of
:func:`~practiceid.decide`, and a ledger records who gave every role and every permission of
a role, so that each permission anyone holds is traced back to someone who held it (C3: no
escalation).

The examples at the end of this file are the minimal programs of the defects this machine
found (now fixed): adding a member with roles without ``roles.assign``, a user manager
deactivating another organisation's last owner, and account status changes revealing which
accounts exist.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from practiceid import (
    OWNER_PERMISSIONS,
    Access,
    AccessService,
    Decision,
    DuplicateMembership,
    EmailAddress,
    EmailPolicy,
    EscalationDenied,
    EstablishmentId,
    LastAdministrator,
    Login,
    MemberAdded,
    MembershipNotFound,
    MembershipStatus,
    OrganisationId,
    Permission,
    PermissionDenied,
    PracticeIdError,
    ProductKind,
    Reason,
    RoleId,
    RoleNotFound,
    Target,
    UserId,
    UserNotFound,
    decide,
)
from practiceid.adapters import InMemoryStore
from practiceid.errors import AccessRejected
from practiceid.testing import ManualClock, sample_user
from practiceid.testing.strategies import email_variants

NORD = OrganisationId("org-nord")
SUD = OrganisationId("org-sud")
NAMUR = EstablishmentId("e-namur")  # Nord, general practice, two administrators
LIEGE = EstablishmentId("e-liege")  # Nord, hospital, one administrator
NIMES = EstablishmentId("e-nimes")  # Sud, dental centre, one administrator
ESTABLISHMENTS = (NAMUR, LIEGE, NIMES)
GHOST = UserId("u-ghost")  # an id no user has

OLIVIA, PIERRE = UserId("u-olivia"), UserId("u-pierre")  # owners of Nord and Sud
ALICE, BRUNO, CHLOE = UserId("u-alice"), UserId("u-bruno"), UserId("u-chloe")
DAVID, EMMA, FARID = UserId("u-david"), UserId("u-emma"), UserId("u-farid")
SAM = UserId("u-sam")  # the vendor's support desk
STAFF = {SAM: frozenset({Permission.USERS_VIEW, Permission.USERS_DEACTIVATE})}
# Accounts made in the store (self-registered): nobody but support manages them. The others
# are created by Namur's add_member, which then manages them (Membership.created_account).
REGISTERED = (OLIVIA, CHLOE, EMMA, FARID, SAM)
PEOPLE = (OLIVIA, PIERRE, ALICE, BRUNO, CHLOE, DAVID, EMMA, FARID, SAM)

# Custom roles defined at opening (C4): a reception lead who onboards people but assigns no
# roles, and a coordinator who manages roles within her own permissions.
INITIAL_ROLES = {
    NAMUR: (
        RoleId("reception_lead"),
        "Reception lead",
        frozenset({Permission.USERS_VIEW, Permission.USERS_CREATE, Permission.USERS_DEACTIVATE}),
    ),
    LIEGE: (
        RoleId("coordination"),
        "Coordination",
        frozenset(
            {
                Permission.ROLES_VIEW,
                Permission.ROLES_MANAGE,
                Permission.ROLES_ASSIGN,
                Permission.AGENDA_VIEW,
                Permission.AGENDA_MANAGE,
            }
        ),
    ),
}
# (establishment, member, roles) added by the owner after opening, in this order.
INITIAL_MEMBERS = {
    NAMUR: (
        (ALICE, ("administrator",)),
        (BRUNO, ("user_manager",)),
        (CHLOE, ("physician",)),
        (DAVID, ("secretary", "reception_lead")),
        (PIERRE, ("physician",)),
    ),
    LIEGE: ((CHLOE, ("physician", "coordination")), (DAVID, ("secretary", "trainee"))),
    NIMES: ((BRUNO, ("user_manager", "physician")), (CHLOE, ("physician",))),
}
NEW_ADDRESSES = ("nouvelle.recrue@cabinet-exemple.be", "remplacant@centre-exemple.fr")
CUSTOM_ROLE_IDS = (RoleId("coordination"), RoleId("reception_lead"), RoleId("billing"))
ROLE_NAMES = ("Coordination", "Billing", "Night shift", "Physician", "coordination")
REMOVALS = st.sampled_from(("revoke_role", "set_roles", "deactivate_member", "deactivate_user"))

SETUP = "setup"  # the source of what the initial setup gave


def address_of(user: UserId) -> str:
    return f"{user.removeprefix('u-')}.exemple@cabinet-exemple.be"


@attrs.frozen
class ModelRole:
    name: str
    permissions: frozenset[Permission]
    administrator: bool = False


@attrs.frozen
class ModelMember:
    roles: frozenset[RoleId]
    active: bool = True
    created_account: bool = False


Outcome = tuple[type[PracticeIdError], str | None]


@attrs.frozen
class Refused:
    """The outcomes the model accepts for a refused operation: (error class, reason)."""

    outcomes: frozenset[Outcome]
    any_denial: bool = False  # any PermissionDenied will do (the fix is not settled)

    def accepts(self, error: PracticeIdError) -> bool:
        if self.any_denial and isinstance(error, PermissionDenied):
            return True
        reason = error.params.get("reason") if isinstance(error, PermissionDenied) else None
        return (type(error), reason) in self.outcomes


def refused(cls: type[PracticeIdError], reason: Reason | None = None) -> Refused:
    return Refused(frozenset({(cls, None if reason is None else str(reason))}))


ALLOWED = None
Prediction = Refused | None


@attrs.define
class Model:
    """What the requirements say the store holds, and who gave what (the ledger)."""

    active: dict[UserId, bool] = attrs.Factory(dict)
    email_keys: dict[str, UserId] = attrs.Factory(dict)
    owners: dict[OrganisationId, frozenset[UserId]] = attrs.Factory(dict)
    organisation_of: dict[EstablishmentId, OrganisationId] = attrs.Factory(dict)
    roles: dict[EstablishmentId, dict[RoleId, ModelRole]] = attrs.Factory(dict)
    members: dict[tuple[EstablishmentId, UserId], ModelMember] = attrs.Factory(dict)
    # Ledger: who put each permission in each role, who gave each role to each member.
    role_grants: dict[tuple[EstablishmentId, RoleId, Permission], str] = attrs.Factory(dict)
    assignments: dict[tuple[EstablishmentId, UserId, RoleId], str] = attrs.Factory(dict)

    # -- reading ---------------------------------------------------------------------------

    def users(self) -> list[UserId]:
        return sorted(self.active)

    def is_owner(self, user: UserId, establishment: EstablishmentId) -> bool:
        return user in self.owners[self.organisation_of[establishment]]

    def administrator_roles(self, establishment: EstablishmentId) -> frozenset[RoleId]:
        return frozenset(r for r, role in self.roles[establishment].items() if role.administrator)

    def permissions_of(
        self, establishment: EstablishmentId, role_ids: Iterable[RoleId]
    ) -> frozenset[Permission]:
        defined = self.roles[establishment]
        return frozenset(p for r in role_ids if r in defined for p in defined[r].permissions)

    def is_member(self, user: UserId, establishment: EstablishmentId) -> bool:
        """An active membership of an active user, whatever its roles."""
        member = self.members.get((establishment, user))
        return self.active.get(user, False) and member is not None and member.active

    def permissions(self, user: UserId, establishment: EstablishmentId) -> frozenset[Permission]:
        """A6: nothing for a deactivated user or membership; C2: owners hold everything."""
        if not self.active.get(user, False):
            return frozenset()
        held = set(STAFF.get(user, ()))
        if self.is_member(user, establishment):
            held |= self.permissions_of(establishment, self.members[(establishment, user)].roles)
        if self.is_owner(user, establishment):
            held |= OWNER_PERMISSIONS
        return frozenset(held)

    def denial(self, user: UserId, establishment: EstablishmentId) -> Reason | None:
        if user not in self.active:
            return Reason.NOT_A_MEMBER
        if not self.active[user]:
            return Reason.USER_DEACTIVATED
        if self.permissions(user, establishment) or self.is_member(user, establishment):
            return None
        if (establishment, user) in self.members:
            return Reason.MEMBERSHIP_DEACTIVATED
        return Reason.NOT_A_MEMBER

    def is_active_administrator(self, establishment: EstablishmentId, user: UserId) -> bool:
        return self.is_member(user, establishment) and not self.members[
            (establishment, user)
        ].roles.isdisjoint(self.administrator_roles(establishment))

    def active_administrators(self, establishment: EstablishmentId) -> list[UserId]:
        return [
            user
            for (est, user) in sorted(self.members)
            if est == establishment and self.is_active_administrator(est, user)
        ]

    def memberships_of(self, user: UserId) -> list[EstablishmentId]:
        return sorted(est for (est, member) in self.members if member == user)

    def user_by_email(self, email: str) -> UserId | None:
        return self.email_keys.get(EmailPolicy().parse(email).key)

    # -- predicting ------------------------------------------------------------------------

    def missing(
        self, actor: UserId, establishment: EstablishmentId, *needed: Permission
    ) -> Prediction:
        """Refuse unless the actor holds every one of ``needed`` here."""
        held = self.permissions(actor, establishment)
        if all(p in held for p in needed):
            return ALLOWED
        denial = self.denial(actor, establishment)
        return refused(PermissionDenied, denial or Reason.MISSING_PERMISSION)

    def predict_member_change(
        self,
        actor: UserId,
        establishment: EstablishmentId,
        user: UserId,
        roles: frozenset[RoleId],
        *,
        active: bool,
    ) -> Prediction:
        """Checks after the permission itself: C3 administrators, no escalation, last admin."""
        before = self.members[(establishment, user)]
        admin_roles = self.administrator_roles(establishment)
        was_admin_role = not before.roles.isdisjoint(admin_roles)
        is_admin_role = not roles.isdisjoint(admin_roles)
        makes_or_unmakes = was_admin_role != is_admin_role or (
            (was_admin_role or is_admin_role) and before.active != active
        )
        held = self.permissions(actor, establishment)
        if makes_or_unmakes and Permission.ROLES_ASSIGN_ADMINISTRATOR not in held:
            return refused(PermissionDenied, Reason.MISSING_PERMISSION)
        if not self.permissions_of(establishment, before.roles ^ roles) <= held:
            return refused(EscalationDenied, Reason.ESCALATION)
        was_admin = self.is_active_administrator(establishment, user)
        is_admin = is_admin_role and active and self.active[user]
        others = [u for u in self.active_administrators(establishment) if u != user]
        if was_admin and not is_admin and not others:
            return refused(LastAdministrator, Reason.LAST_ADMINISTRATOR)
        return ALLOWED

    def predict_roles(
        self,
        actor: UserId,
        establishment: EstablishmentId,
        user: UserId,
        change: Callable[[frozenset[RoleId]], frozenset[RoleId]],
    ) -> Prediction:
        """set_roles, grant_role, revoke_role: the actor first, then the member, then roles."""
        denied = self.missing(actor, establishment, Permission.ROLES_ASSIGN)
        if denied:
            return denied
        if (establishment, user) not in self.members:
            return refused(MembershipNotFound)
        before = self.members[(establishment, user)]
        roles = change(before.roles)
        if not roles - before.roles <= set(self.roles[establishment]):
            return refused(RoleNotFound)
        return self.predict_member_change(actor, establishment, user, roles, active=before.active)

    def predict_member_status(
        self, actor: UserId, establishment: EstablishmentId, user: UserId, *, active: bool
    ) -> Prediction:
        denied = self.missing(actor, establishment, Permission.USERS_DEACTIVATE)
        if denied:
            return denied
        if (establishment, user) not in self.members:
            return refused(MembershipNotFound)
        roles = self.members[(establishment, user)].roles
        return self.predict_member_change(actor, establishment, user, roles, active=active)

    def predict_user_status(  # noqa: PLR0911 - the rules read in order, one return each
        self, actor: UserId, user: UserId, *, active: bool
    ) -> Prediction:
        """A6: support, or ``users.deactivate`` wherever a managed account is a member (A5)."""
        staff = Permission.USERS_DEACTIVATE in STAFF.get(actor, ())
        if user not in self.active and staff and self.active[actor]:
            return refused(UserNotFound)
        if actor not in self.active:
            return refused(PermissionDenied, Reason.NOT_A_MEMBER)
        if not self.active[actor]:
            return refused(PermissionDenied, Reason.USER_DEACTIVATED)
        places = self.memberships_of(user)
        if not places and not staff:
            return refused(PermissionDenied, Reason.MISSING_PERMISSION)
        if not staff and not any(self.members[(e, user)].created_account for e in places):
            return refused(PermissionDenied, Reason.ACCOUNT_NOT_MANAGED)
        outcomes = frozenset().union(
            *(self.refusals_over_account(actor, e, user, active=active) for e in places)
        )
        if outcomes:
            return Refused(outcomes)
        if not active and self.leaves_an_organisation_without_owner(actor, user):
            return Refused(frozenset(), any_denial=True)
        return ALLOWED

    def refusals_over_account(
        self, actor: UserId, establishment: EstablishmentId, user: UserId, *, active: bool
    ) -> frozenset[Outcome]:
        """What one establishment of the user says to a change of the account's status."""
        member = self.members[(establishment, user)]
        admin = member.active and not member.roles.isdisjoint(
            self.administrator_roles(establishment)
        )
        others = [u for u in self.active_administrators(establishment) if u != user]
        last = admin and not active and not others
        if Permission.USERS_DEACTIVATE in STAFF.get(actor, ()):
            # Support needs no administrator power, but the last administrator stays.
            if last:
                return frozenset({(LastAdministrator, str(Reason.LAST_ADMINISTRATOR))})
            return frozenset()
        needed = [Permission.USERS_DEACTIVATE]
        if admin:
            needed.append(Permission.ROLES_ASSIGN_ADMINISTRATOR)
        denied = self.missing(actor, establishment, *needed)
        if denied:
            return denied.outcomes
        if last:
            return frozenset({(LastAdministrator, str(Reason.LAST_ADMINISTRATOR))})
        return frozenset()

    def leaves_an_organisation_without_owner(self, actor: UserId, user: UserId) -> bool:
        """C2: only owners act on owners; the last active owner stays."""
        for owners in self.owners.values():
            if user in owners and self.active[user]:
                others = [o for o in owners if o != user and self.active[o]]
                if actor not in owners or not others:
                    return True
        return False

    def predict_add_member(  # noqa: PLR0911 - the rules read in order, one return each
        self, actor: UserId, establishment: EstablishmentId, email: str, roles: frozenset[RoleId]
    ) -> Prediction:
        denied = self.missing(actor, establishment, Permission.USERS_CREATE)
        if denied:
            return denied
        if not roles <= set(self.roles[establishment]):
            return refused(RoleNotFound)
        held = self.permissions(actor, establishment)
        administrator = not roles.isdisjoint(self.administrator_roles(establishment))
        if administrator and Permission.ROLES_ASSIGN_ADMINISTRATOR not in held:
            return refused(PermissionDenied, Reason.MISSING_PERMISSION)
        if roles and Permission.ROLES_ASSIGN not in held:
            return refused(PermissionDenied, Reason.MISSING_PERMISSION)
        if not self.permissions_of(establishment, roles) <= held:
            return refused(EscalationDenied, Reason.ESCALATION)
        user = self.user_by_email(email)
        if user is not None and (establishment, user) in self.members:
            return refused(DuplicateMembership)
        return ALLOWED

    def predict_define_role(
        self,
        actor: UserId,
        establishment: EstablishmentId,
        role_id: RoleId,
        name: str,
        permissions: frozenset[Permission],
    ) -> Prediction:
        denied = self.missing(actor, establishment, Permission.ROLES_MANAGE)
        if denied:
            return denied
        roles = self.roles[establishment]
        before = roles.get(role_id)
        if before is not None and before.administrator:
            return refused(AccessRejected)
        if any(
            r != role_id and role.name.casefold() == name.casefold() for r, role in roles.items()
        ):
            return refused(AccessRejected)
        changed = permissions if before is None else permissions ^ before.permissions
        if not changed <= self.permissions(actor, establishment):
            return refused(EscalationDenied, Reason.ESCALATION)
        return ALLOWED

    # -- changing (after a success) ----------------------------------------------------------

    def record_roles(
        self,
        actor: UserId,
        held: frozenset[Permission],
        establishment: EstablishmentId,
        user: UserId,
        roles: frozenset[RoleId],
        *,
        assigning: Permission = Permission.ROLES_ASSIGN,
    ) -> None:
        """Give ``user`` exactly ``roles``; the ledger only takes what the giver held (C3)."""
        before = self.members[(establishment, user)]
        for role in roles - before.roles:
            given = self.permissions_of(establishment, {role})
            assert assigning in held, (actor, "gave", role, "without", assigning)
            assert given <= held, (actor, "gave", role, "beyond", given - held)
            self.assignments[(establishment, user, role)] = actor
        for role in before.roles - roles:
            del self.assignments[(establishment, user, role)]
        self.members[(establishment, user)] = attrs.evolve(before, roles=roles)

    def record_role(
        self,
        *,
        actor: str,
        held: frozenset[Permission],
        establishment: EstablishmentId,
        role_id: RoleId,
        name: str,
        permissions: frozenset[Permission],
    ) -> None:
        """Define the role; the ledger only takes what the definer held (C3)."""
        before = self.roles[establishment].get(role_id, ModelRole(name, frozenset()))
        assert actor == SETUP or Permission.ROLES_MANAGE in held
        assert actor == SETUP or (permissions ^ before.permissions) <= held
        for permission in permissions - before.permissions:
            self.role_grants[(establishment, role_id, permission)] = actor
        for permission in before.permissions - permissions:
            del self.role_grants[(establishment, role_id, permission)]
        self.roles[establishment][role_id] = ModelRole(name, permissions)


def target_of_member_change(
    model: Model,
    establishment: EstablishmentId,
    user: UserId,
    roles: frozenset[RoleId],
    *,
    active: bool,
) -> Target:
    """The change as the model sees it, for checking the actor's earlier access."""
    before = model.members[(establishment, user)]
    admin_roles = model.administrator_roles(establishment)
    was, now = not before.roles.isdisjoint(admin_roles), not roles.isdisjoint(admin_roles)
    return Target.change(
        establishment,
        grants=model.permissions_of(establishment, before.roles ^ roles),
        administrator=was != now or ((was or now) and before.active != active),
    )


class AccessMachine(RuleBasedStateMachine):
    """Three establishments, nine people, random actors: the model must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryStore()
        self.numbers = itertools.count(1)
        self.next_user_id: UserId | None = None
        self.service = AccessService(
            unit_of_work=self.store.unit_of_work,
            clock=ManualClock(),
            staff=STAFF,
            new_user_id=self._new_user_id,
        )
        self.model = Model()
        self._set_up()
        self.seen: dict[tuple[UserId, EstablishmentId], Access] | None = None

    def _new_user_id(self) -> UserId:
        chosen, self.next_user_id = self.next_user_id, None
        return chosen or UserId(f"u-new-{next(self.numbers)}")

    # -- the initial setup ---------------------------------------------------------------------

    def _set_up(self) -> None:
        with self.store.unit_of_work() as uow:
            for person in REGISTERED:
                name = person.removeprefix("u-")
                user = sample_user(
                    id=person,
                    login=Login(name),
                    email=EmailAddress(address_of(person)),
                    first_name=name.capitalize(),
                )
                uow.users.add(user)
                self._record_user(person, user.email.key)
            uow.commit()
        self._found(NORD, OLIVIA)
        self._open(NAMUR, NORD, OLIVIA, ProductKind.GENERAL_PRACTICE)
        self._open(LIEGE, NORD, EMMA, ProductKind.HOSPITAL)
        self._found(SUD, PIERRE)  # Pierre's account was created by Namur, where he works
        self._open(NIMES, SUD, FARID, ProductKind.DENTAL)

    def _record_user(self, user: UserId, email_key: str) -> None:
        self.model.active[user] = True
        self.model.email_keys[email_key] = user

    def _found(self, organisation: OrganisationId, owner: UserId) -> None:
        self.service.found_organisation(
            owner=owner, name=f"Groupe {organisation}", organisation_id=organisation
        )
        self.model.owners[organisation] = frozenset({owner})

    def _open(
        self,
        establishment: EstablishmentId,
        organisation: OrganisationId,
        first: UserId,
        product: ProductKind,
    ) -> None:
        model = self.model
        (owner,) = model.owners[organisation]
        opened = self.service.open_establishment(
            actor=owner,
            organisation_id=organisation,
            name=f"Établissement {establishment}",
            product=product,
            administrator=first,
            establishment_id=establishment,
        )
        model.organisation_of[establishment] = organisation
        model.roles[establishment] = {}
        for role in opened.roles:
            model.record_role(
                actor=SETUP,
                held=frozenset(),
                establishment=establishment,
                role_id=role.id,
                name=role.name,
                permissions=role.permissions,
            )
            model.roles[establishment][role.id] = attrs.evolve(
                model.roles[establishment][role.id], administrator=role.administrator
            )
        self._record_setup_member(establishment, first, opened.administrator_roles, created=False)
        if establishment in INITIAL_ROLES:
            role_id, name, permissions = INITIAL_ROLES[establishment]
            self.service.define_role(
                actor=owner,
                establishment_id=establishment,
                name=name,
                permissions=permissions,
                role_id=role_id,
            )
            model.record_role(
                actor=SETUP,
                held=frozenset(),
                establishment=establishment,
                role_id=role_id,
                name=name,
                permissions=permissions,
            )
        for member, roles in INITIAL_MEMBERS[establishment]:
            self.next_user_id = member
            added = self.service.add_member(
                actor=owner,
                establishment_id=establishment,
                email=address_of(member),
                roles=roles,
                first_name=member.removeprefix("u-").capitalize(),
                last_name="Exemple",
            )
            self.next_user_id = None
            assert added.user.id == member
            if added.created_user:
                self._record_user(member, added.user.email.key)
            roles_given = frozenset(map(RoleId, roles))
            self._record_setup_member(establishment, member, roles_given, added.created_user)

    def _record_setup_member(
        self,
        establishment: EstablishmentId,
        user: UserId,
        roles: frozenset[RoleId],
        created: bool,  # noqa: FBT001
    ) -> None:
        self.model.members[(establishment, user)] = ModelMember(roles, created_account=created)
        for role in roles:
            self.model.assignments[(establishment, user, role)] = SETUP

    # -- drawing ---------------------------------------------------------------------------

    def _person(self, data: st.DataObject, label: str) -> UserId:
        return data.draw(st.sampled_from([*self.model.users(), GHOST]), label=label)

    def _actor(
        self, data: st.DataObject, establishment: EstablishmentId, permission: Permission
    ) -> UserId:
        """Anyone at all, or, as often, someone who holds ``permission`` there."""
        anyone = st.sampled_from([*self.model.users(), GHOST])
        holders = [
            u for u in self.model.users() if permission in self.model.permissions(u, establishment)
        ]
        return data.draw(anyone | st.sampled_from(holders) if holders else anyone, label="actor")

    def _role_ids(self, establishment: EstablishmentId) -> list[RoleId]:
        return [*sorted(self.model.roles[establishment]), RoleId("no-such-role")]

    def _role(self, establishment: EstablishmentId, actor: UserId) -> st.SearchStrategy[RoleId]:
        """Any role, or, as often, a role within the actor's own permissions."""
        held = self.model.permissions(actor, establishment)
        reachable = [
            r
            for r in sorted(self.model.roles[establishment])
            if self.model.permissions_of(establishment, {r}) <= held
        ]
        anything = st.sampled_from(self._role_ids(establishment))
        return anything | st.sampled_from(reachable) if reachable else anything

    def _roles(
        self, data: st.DataObject, establishment: EstablishmentId, actor: UserId, max_size: int
    ) -> frozenset[RoleId]:
        roles = st.lists(self._role(establishment, actor), max_size=max_size)
        return frozenset(data.draw(roles, label="roles"))

    # -- running one operation against the model ---------------------------------------------

    def _run(
        self,
        what: str,
        prediction: Prediction,
        call: Callable[[], object],
        allowed_by: Iterable[tuple[Access, Permission, Target]] = (),
    ) -> object | None:
        """Call; compare with the prediction; on success, check the earlier accesses allowed it."""
        self.seen = None  # the invariants read every access again after this
        try:
            result = call()
        except PracticeIdError as error:
            event(f"{what}: {type(error).__name__} {error.params.get('reason', '')}".rstrip())
            assert prediction is not None, f"the model expected success, got {error!r}"
            assert prediction.accepts(error), f"expected {prediction}, got {error!r}"
            return None
        event(f"{what}: succeeded")
        assert prediction is None, f"expected {prediction}, but it succeeded"
        for access, permission, target in allowed_by:
            decision = decide(access, permission, target)
            assert decision.allowed, (access, permission, target, decision)
        return result

    def _change_roles(
        self,
        actor: UserId,
        establishment: EstablishmentId,
        user: UserId,
        change: Callable[[frozenset[RoleId]], frozenset[RoleId]],
        call: Callable[[], object],
    ) -> None:
        model = self.model
        prediction = model.predict_roles(actor, establishment, user, change)
        before = self.service.access(actor, establishment)
        held = model.permissions(actor, establishment)
        checks = []
        if prediction is None:
            member = model.members[(establishment, user)]
            roles = change(member.roles)
            target = target_of_member_change(
                model, establishment, user, roles, active=member.active
            )
            checks = [(before, Permission.ROLES_ASSIGN, target)]
        if self._run("roles", prediction, call, checks) is not None:
            roles = change(model.members[(establishment, user)].roles)
            model.record_roles(actor, held, establishment, user, roles)

    def _change_member_status(
        self, actor: UserId, establishment: EstablishmentId, user: UserId, *, active: bool
    ) -> None:
        model = self.model
        prediction = model.predict_member_status(actor, establishment, user, active=active)
        before = self.service.access(actor, establishment)
        checks = []
        if prediction is None:
            roles = model.members[(establishment, user)].roles
            target = target_of_member_change(model, establishment, user, roles, active=active)
            checks = [(before, Permission.USERS_DEACTIVATE, target)]
        change = self.service.reactivate_member if active else self.service.deactivate_member
        done = self._run(
            "membership status",
            prediction,
            lambda: change(actor=actor, establishment_id=establishment, user_id=user),
            checks,
        )
        if done is not None:
            key = (establishment, user)
            model.members[key] = attrs.evolve(model.members[key], active=active)

    def _change_user_status(self, actor: UserId, user: UserId, *, active: bool) -> None:
        model = self.model
        prediction = model.predict_user_status(actor, user, active=active)
        checks = []
        if prediction is None and actor not in STAFF:
            for establishment in model.memberships_of(user):
                member = model.members[(establishment, user)]
                admin = member.active and not member.roles.isdisjoint(
                    model.administrator_roles(establishment)
                )
                checks.append(
                    (
                        self.service.access(actor, establishment),
                        Permission.USERS_DEACTIVATE,
                        Target.change(establishment, administrator=admin),
                    )
                )
        change = self.service.reactivate_user if active else self.service.deactivate_user
        done = self._run(
            "account status", prediction, lambda: change(actor=actor, user_id=user), checks
        )
        if done is not None:
            model.active[user] = active

    def _remove_administrator(
        self, actor: UserId, establishment: EstablishmentId, admin: UserId, how: str
    ) -> None:
        admin_roles = self.model.administrator_roles(establishment)
        if how == "revoke_role":
            self._change_roles(
                actor,
                establishment,
                admin,
                lambda current: current - {RoleId("administrator")},
                lambda: self.service.revoke_role(
                    actor=actor, establishment_id=establishment, user_id=admin, role="administrator"
                ),
            )
        elif how == "set_roles":
            kept = self.model.members[(establishment, admin)].roles - admin_roles
            self._change_roles(
                actor,
                establishment,
                admin,
                lambda _current: kept,
                lambda: self.service.set_roles(
                    actor=actor, establishment_id=establishment, user_id=admin, roles=kept
                ),
            )
        elif how == "deactivate_member":
            self._change_member_status(actor, establishment, admin, active=False)
        else:
            self._change_user_status(actor, admin, active=False)

    # -- rules: roles (C3, C4) ---------------------------------------------------------------

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS))
    def grant_role(self, data: st.DataObject, establishment: EstablishmentId) -> None:
        actor = self._actor(data, establishment, Permission.ROLES_ASSIGN)
        user = self._person(data, "member")
        role = data.draw(self._role(establishment, actor), label="role")
        self._change_roles(
            actor,
            establishment,
            user,
            lambda current: current | {role},
            lambda: self.service.grant_role(
                actor=actor, establishment_id=establishment, user_id=user, role=role
            ),
        )

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS))
    def revoke_role(self, data: st.DataObject, establishment: EstablishmentId) -> None:
        actor = self._actor(data, establishment, Permission.ROLES_ASSIGN)
        user = self._person(data, "member")
        current = self.model.members.get((establishment, user), ModelMember(frozenset())).roles
        role = data.draw(
            st.sampled_from(sorted(current) or self._role_ids(establishment)), label="role"
        )
        self._change_roles(
            actor,
            establishment,
            user,
            lambda roles: roles - {role},
            lambda: self.service.revoke_role(
                actor=actor, establishment_id=establishment, user_id=user, role=role
            ),
        )

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS))
    def set_roles(self, data: st.DataObject, establishment: EstablishmentId) -> None:
        actor = self._actor(data, establishment, Permission.ROLES_ASSIGN)
        user = self._person(data, "member")
        roles = self._roles(data, establishment, actor, 3)
        self._change_roles(
            actor,
            establishment,
            user,
            lambda _current: roles,
            lambda: self.service.set_roles(
                actor=actor, establishment_id=establishment, user_id=user, roles=roles
            ),
        )

    @rule(
        data=st.data(),
        establishment=st.sampled_from(ESTABLISHMENTS),
        role_id=st.sampled_from((*CUSTOM_ROLE_IDS, RoleId("physician"), RoleId("administrator"))),
        name=st.sampled_from(ROLE_NAMES),
        within_own=st.booleans(),
    )
    def define_role(
        self,
        data: st.DataObject,
        establishment: EstablishmentId,
        role_id: RoleId,
        name: str,
        within_own: bool,  # noqa: FBT001 - drawn
    ) -> None:
        actor = self._actor(data, establishment, Permission.ROLES_MANAGE)
        model = self.model
        pool = sorted(model.permissions(actor, establishment)) if within_own else sorted(Permission)
        permissions = frozenset(
            data.draw(st.lists(st.sampled_from(pool), max_size=6), label="permissions")
            if pool
            else ()
        )
        prediction = model.predict_define_role(actor, establishment, role_id, name, permissions)
        held = model.permissions(actor, establishment)
        checks = []
        if prediction is None:
            before = model.roles[establishment].get(role_id)
            changed = permissions if before is None else permissions ^ before.permissions
            checks = [
                (
                    self.service.access(actor, establishment),
                    Permission.ROLES_MANAGE,
                    Target.change(establishment, grants=changed),
                )
            ]
        defined = self._run(
            "define_role",
            prediction,
            lambda: self.service.define_role(
                actor=actor,
                establishment_id=establishment,
                name=name,
                permissions=permissions,
                role_id=role_id,
            ),
            checks,
        )
        if defined is not None:
            model.record_role(
                actor=actor,
                held=held,
                establishment=establishment,
                role_id=role_id,
                name=name,
                permissions=permissions,
            )

    # -- rules: members and accounts (A6, C1, C3) -----------------------------------------------

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS), active=st.booleans())
    def change_member_status(
        self,
        data: st.DataObject,
        establishment: EstablishmentId,
        active: bool,  # noqa: FBT001 - drawn
    ) -> None:
        actor = self._actor(data, establishment, Permission.USERS_DEACTIVATE)
        user = self._person(data, "member")
        self._change_member_status(actor, establishment, user, active=active)

    @rule(data=st.data(), active=st.booleans())
    def change_account_status(self, data: st.DataObject, active: bool) -> None:  # noqa: FBT001
        actor, user = self._person(data, "actor"), self._person(data, "user")
        self._change_user_status(actor, user, active=active)

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS))
    def add_member(self, data: st.DataObject, establishment: EstablishmentId) -> None:
        """C1: an existing user's address, in any case, attaches the same account."""
        model = self.model
        actor = self._actor(data, establishment, Permission.USERS_CREATE)
        addresses = [address_of(u) for u in PEOPLE] + list(NEW_ADDRESSES)
        address = data.draw(st.sampled_from(addresses), label="address")
        email = data.draw(email_variants(address), label="spelling")
        roles = self._roles(data, establishment, actor, 2)
        prediction = model.predict_add_member(actor, establishment, email, roles)
        held = model.permissions(actor, establishment)
        checks = []
        if prediction is None:
            administrator = not roles.isdisjoint(model.administrator_roles(establishment))
            checks = [
                (
                    self.service.access(actor, establishment),
                    Permission.USERS_CREATE,
                    Target.change(
                        establishment,
                        grants=model.permissions_of(establishment, roles),
                        administrator=administrator,
                    ),
                )
            ]
        existing = model.user_by_email(email)
        added = self._run(
            "add_member",
            prediction,
            lambda: self.service.add_member(
                actor=actor,
                establishment_id=establishment,
                email=email,
                roles=roles,
                first_name="Camille",
                last_name="Nouvelle",
            ),
            checks,
        )
        if added is None:
            return
        assert isinstance(added, MemberAdded)
        assert added.created_user is (existing is None)
        if existing is not None:
            assert added.user.id == existing, "C1: the same account is attached"
        else:
            self._record_user(added.user.id, added.user.email.key)
        model.members[(establishment, added.user.id)] = ModelMember(
            frozenset(), created_account=added.created_user
        )
        model.record_roles(
            actor, held, establishment, added.user.id, roles, assigning=Permission.ROLES_ASSIGN
        )

    # -- rules that jump to the boundary: the last administrators -------------------------------

    def _establishments_with(self, count: int) -> list[EstablishmentId]:
        return [e for e in ESTABLISHMENTS if len(self.model.active_administrators(e)) == count]

    def _deciders(self, establishment: EstablishmentId) -> list[UserId]:
        """Who may be able to remove an administrator: owners, administrators, support."""
        owners = self.model.owners[self.model.organisation_of[establishment]]
        return sorted(owners | set(self.model.active_administrators(establishment)) | {SAM})

    @precondition(lambda self: self._establishments_with(1))
    @rule(data=st.data(), how=REMOVALS)
    def remove_the_last_administrator(self, data: st.DataObject, how: str) -> None:
        establishment = data.draw(st.sampled_from(self._establishments_with(1)))
        (admin,) = self.model.active_administrators(establishment)
        actor = data.draw(st.sampled_from([*self._deciders(establishment), BRUNO]), label="actor")
        self._remove_administrator(actor, establishment, admin, how)
        assert self.model.active_administrators(establishment) == [admin]

    @precondition(lambda self: self._establishments_with(2))
    @rule(data=st.data(), first=REMOVALS, second=REMOVALS)
    def remove_the_last_two_administrators(
        self, data: st.DataObject, first: str, second: str
    ) -> None:
        establishment = data.draw(st.sampled_from(self._establishments_with(2)))
        one, other = self.model.active_administrators(establishment)
        actor = data.draw(st.sampled_from(self._deciders(establishment)), label="actor")
        self._remove_administrator(actor, establishment, one, first)
        self._remove_administrator(actor, establishment, other, second)
        assert self.model.active_administrators(establishment)

    @rule(data=st.data(), establishment=st.sampled_from(ESTABLISHMENTS))
    def appoint_an_administrator(self, data: st.DataObject, establishment: EstablishmentId) -> None:
        members = sorted(u for (e, u) in self.model.members if e == establishment)
        user = data.draw(st.sampled_from(members), label="member")
        actor = data.draw(st.sampled_from(self._deciders(establishment)), label="actor")
        self._change_roles(
            actor,
            establishment,
            user,
            lambda current: current | {RoleId("administrator")},
            lambda: self.service.grant_role(
                actor=actor, establishment_id=establishment, user_id=user, role="administrator"
            ),
        )

    # -- invariants ----------------------------------------------------------------------------

    def _accesses(self) -> dict[tuple[UserId, EstablishmentId], Access]:
        """Every access, read once per step: only the service's calls change the store."""
        if self.seen is None:
            self.seen = {
                (user, establishment): self.service.access(user, establishment)
                for user in [*self.model.users(), GHOST]
                for establishment in ESTABLISHMENTS
            }
        return self.seen

    @invariant()
    def every_establishment_keeps_an_active_administrator(self) -> None:
        """C3: an active membership with an administrator role, of an active user."""
        with self.store.unit_of_work() as uow:
            for establishment_id in ESTABLISHMENTS:
                establishment = uow.establishments.get(establishment_id)
                administrators = [
                    m.user_id
                    for m in uow.memberships.list_for_establishment(
                        establishment_id, status=MembershipStatus.ACTIVE
                    )
                    if not m.roles.isdisjoint(establishment.administrator_roles)
                    and uow.users.get(m.user_id).is_active
                ]
                assert administrators, f"{establishment_id} has no active administrator"

    @invariant()
    def the_store_matches_the_model(self) -> None:
        with self.store.unit_of_work() as uow:
            users = {u.id: u.is_active for u in uow.users.list()}
            members = {
                (m.establishment_id, m.user_id): ModelMember(
                    m.roles, m.is_active, m.created_account
                )
                for e in ESTABLISHMENTS
                for m in uow.memberships.list_for_establishment(e)
            }
            roles = {
                e: {
                    r.id: ModelRole(r.name, r.permissions, r.administrator)
                    for r in uow.establishments.get(e).roles
                }
                for e in ESTABLISHMENTS
            }
            owners = {o: uow.organisations.get(o).owners for o in self.model.owners}
        assert users == self.model.active
        assert members == self.model.members
        assert roles == self.model.roles
        assert owners == self.model.owners

    @invariant()
    def every_access_agrees_with_the_model(self) -> None:
        for (user, establishment), access in self._accesses().items():
            where = (user, establishment)
            assert access.permissions == self.model.permissions(user, establishment), where
            assert access.denial == self.model.denial(user, establishment), where

    @invariant()
    def every_permission_held_was_given_by_someone_who_held_it(self) -> None:
        """C3: each permission comes from the setup, ownership (C2), support, or a giver."""
        with self.store.unit_of_work() as uow:
            stored = {
                (m.establishment_id, m.user_id): m
                for e in ESTABLISHMENTS
                for m in uow.memberships.list_for_establishment(e)
            }
            organisations = {o: uow.organisations.get(o).owners for o in self.model.owners}
        ledger = self.model
        for (user, establishment), access in self._accesses().items():
            owner = user in organisations[ledger.organisation_of[establishment]]
            membership = stored.get((establishment, user))
            for permission in access.permissions:
                if owner and permission in OWNER_PERMISSIONS:
                    continue
                if permission in STAFF.get(user, ()):
                    continue
                assert membership is not None, (user, establishment, permission)
                assert membership.is_active, (user, establishment, permission)
                assert any(
                    (establishment, user, role) in ledger.assignments
                    and (establishment, role, permission) in ledger.role_grants
                    for role in membership.roles
                ), f"nobody gave {permission} to {user} in {establishment}"

    @invariant()
    def deactivated_users_and_memberships_are_denied_everything(self) -> None:
        """A6. Owners (C2) and support keep their own grants through a deactivated membership."""
        for (user, establishment), access in self._accesses().items():
            if user == GHOST:
                continue
            member = self.model.members.get((establishment, user))
            if not self.model.active[user]:
                expected = Reason.USER_DEACTIVATED
            elif member is not None and not member.active:
                if self.model.is_owner(user, establishment) or user in STAFF:
                    continue
                expected = Reason.MEMBERSHIP_DEACTIVATED
            else:
                continue
            _check_denied_everything(access, expected)

    @invariant()
    def an_access_is_valid_in_its_own_establishment_only(self) -> None:
        """Tenant isolation; a stranger who owns nothing there has a void access (C1, C2)."""
        for (user, establishment), access in self._accesses().items():
            for other in ESTABLISHMENTS:
                if other != establishment:
                    _check_isolated(access, other)
            stranger = (
                (establishment, user) not in self.model.members
                and user not in STAFF
                and not (user in self.model.active and self.model.is_owner(user, establishment))
            )
            if stranger:
                assert not access.permissions
                assert access.denial in {Reason.NOT_A_MEMBER, Reason.USER_DEACTIVATED}

    @invariant()
    def every_organisation_keeps_an_active_owner(self) -> None:
        """C2: the last active owner stays."""
        for owners in self.model.owners.values():
            assert any(self.model.active[o] for o in owners)


# decide is pure: an access checked once against a reason or a place need not be checked again.
_CHECKED: set[tuple[Access, object]] = set()


def _check_denied_everything(access: Access, reason: Reason) -> None:
    if (access, reason) in _CHECKED:
        return
    for permission in Permission:
        for target in (
            None,
            access.establishment_id,
            Target.establishment(access.establishment_id),
        ):
            decision: Decision = decide(access, permission, target)
            assert not decision.allowed, (access, permission)
            assert decision.reason is reason, (access, permission, decision)
    _CHECKED.add((access, reason))


def _check_isolated(access: Access, other: EstablishmentId) -> None:
    if (access, other) in _CHECKED:
        return
    for permission in Permission:
        for target in (
            other,
            Target.establishment(other),
            Target.change(other, grants=access.permissions),
            Target.on_behalf(other, access.user_id),
        ):
            assert not decide(access, permission, target).allowed, (access, permission, other)
    _CHECKED.add((access, other))


AccessMachine.TestCase.settings = settings(stateful_step_count=30)
TestAccessMachine = AccessMachine.TestCase


# -- the defects this machine found, as minimal examples on its initial setup ----------------------


def test_a_member_without_roles_assign_cannot_give_roles_by_adding_a_member():
    machine = AccessMachine()
    david = machine.service.access(DAVID, NAMUR)  # Secretary + Reception lead
    assert david.allows(Permission.USERS_CREATE)
    assert not david.allows(Permission.ROLES_ASSIGN)
    with pytest.raises(PermissionDenied):  # as grant_role refuses him
        machine.service.grant_role(
            actor=DAVID, establishment_id=NAMUR, user_id=CHLOE, role="secretary"
        )
    with pytest.raises(PermissionDenied) as raised:
        machine.service.add_member(
            actor=DAVID,
            establishment_id=NAMUR,
            email=NEW_ADDRESSES[0],
            roles=["secretary", "reception_lead"],
            first_name="Camille",
            last_name="Nouvelle",
        )
    assert raised.value.params["missing"] == ("roles.assign",)


def test_a_user_manager_cannot_deactivate_the_owner_of_another_organisation():
    """C2: a director manages only their own establishment; the last active owner stays."""
    machine = AccessMachine()
    assert machine.service.organisation_access(PIERRE, SUD).owner  # Sud's only owner
    assert machine.model.memberships_of(PIERRE) == [NAMUR]  # a physician in Namur (Nord)
    with pytest.raises(PermissionDenied):
        machine.service.deactivate_user(actor=BRUNO, user_id=PIERRE)  # Namur's user manager
    assert machine.service.access(PIERRE, NIMES).owner


@pytest.mark.parametrize("actor", [GHOST, DAVID], ids=["unknown actor", "secretary"])
def test_changing_an_accounts_status_reveals_nothing_to_a_stranger(actor):
    """As set_roles refuses a stranger before revealing whether a member exists."""
    machine = AccessMachine()
    for user in (UserId("u-nobody"), CHLOE):
        with pytest.raises(PermissionDenied):
            machine.service.deactivate_user(actor=actor, user_id=user)
