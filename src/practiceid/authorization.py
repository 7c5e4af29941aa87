"""Who may do what, where: effective access and the one decision function (A5, A6, C1-C6).

Access is computed once per membership, by :func:`compute_access`, from everything that
grants something: the member's roles (permissions), departments and delegations (features),
the organisation's owners (C2) and the vendor's support staff. The result, :class:`Access`,
is a frozen value; deciding is then a set lookup, cheap enough for the thousands of checks an
EMR request path makes.

:func:`decide` is the only place a permission is decided. Every service of practiceid calls
it, and hosts call it for their own acts. It answers a :class:`Decision` with a stable
:class:`Reason` code, and enforces:

* deactivated users and memberships are denied everything (A6);
* tenant isolation: an access is valid in its own establishment (or, for owners and staff,
  organisation) only (C2);
* the permission itself (C3, C4);
* making or unmaking an administrator needs ``roles.assign_administrator`` (C3);
* no escalation: a change may only give or take permissions the actor holds (C3);
* the last active administrator of an establishment, and the last owner of an
  organisation, stay (C2, C3).

>>> from datetime import UTC, datetime
>>> from practiceid.establishments import Establishment, EstablishmentId, OrganisationId
>>> from practiceid.establishments import ProductKind, RoleId
>>> from practiceid.memberships import Membership
>>> from practiceid.permissions import Permission
>>> from practiceid.testing import sample_user
>>> when = datetime(2026, 1, 5, tzinfo=UTC)
>>> practice = Establishment.open(
...     EstablishmentId("tilleuls"),
...     organisation_id=OrganisationId("tilleuls-group"),
...     name="Cabinet des Tilleuls",
...     product=ProductKind.GENERAL_PRACTICE,
...     created_at=when,
... )
>>> secretary = sample_user()
>>> access = compute_access(
...     user=secretary,
...     establishment=practice,
...     membership=Membership.join(
...         secretary.id, practice.id, roles=[RoleId("secretary")], created_at=when
...     ),
... )
>>> decide(access, Permission.AGENDA_MANAGE).allowed
True
>>> decide(access, Permission.PAYMENTS_CANCEL).reason
<Reason.MISSING_PERMISSION: 'missing_permission'>
>>> decide(access, Permission.AGENDA_MANAGE, Target.establishment(EstablishmentId("other")))
Decision(allowed=False, reason=<Reason.OTHER_ESTABLISHMENT: 'other_establishment'>, ...)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from practiceid.errors import (
    EscalationDenied,
    LastAdministrator,
    LastOwner,
    LicenseRequired,
    PermissionDenied,
)
from practiceid.establishments import (
    OWNER_PERMISSIONS,
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
)
from practiceid.memberships import Membership
from practiceid.permissions import Permission
from practiceid.users import User, UserId

__all__ = [
    "Access",
    "Decision",
    "Reason",
    "Target",
    "compute_access",
    "compute_organisation_access",
    "decide",
    "restrict_to_license",
]


class Reason(enum.StrEnum):
    """Why a decision went the way it did. Stable codes, like error codes."""

    ALLOWED = "allowed"
    NOT_A_MEMBER = "not_member"
    """The user has no membership in the establishment, and no owner or staff grant."""
    USER_DEACTIVATED = "user_deactivated"
    """The user's account is deactivated (A6)."""
    MEMBERSHIP_DEACTIVATED = "membership_deactivated"
    """The user's membership in this establishment is deactivated (A6)."""
    OTHER_ESTABLISHMENT = "other_establishment"
    """The target belongs to another establishment than the access (tenant isolation)."""
    OTHER_ORGANISATION = "other_organisation"
    """The target belongs to another organisation than the access (C2)."""
    MISSING_PERMISSION = "missing_permission"
    """The actor lacks the permission (``missing`` says which)."""
    ESCALATION = "escalation"
    """The change gives or takes permissions the actor does not hold (C3)."""
    LAST_ADMINISTRATOR = "last_administrator"
    """The change would leave the establishment without an active administrator."""
    LAST_OWNER = "last_owner"
    """The change would leave the organisation without an owner (C2)."""
    NOT_DELEGATED = "not_delegated"
    """The actor may not act on behalf of this physician (C6)."""
    LICENSE_REQUIRED = "license_required"
    """The roles give the permission, but the member's license does not allow it now
    (expired, unlicensed, …): ``license_status`` says why (E1-E4)."""
    ACCOUNT_NOT_MANAGED = "account_not_managed"
    """No establishment created this account (self-registered, or only attached since): only
    the user and support staff act on the account itself (A5)."""


@attrs.frozen
class Target:
    """What a decision is about, beyond the permission: where, and what changes.

    Build one with the named constructors. ``grants`` are the permissions the act gives or
    takes away (a role assignment, a role edit), ``administrator`` is true when the act makes
    or unmakes an administrator, ``administrators_left`` / ``owners_left`` count who remains
    active after it.
    """

    establishment_id: EstablishmentId | None = None
    organisation_id: OrganisationId | None = None
    grants: frozenset[Permission] = frozenset()
    administrator: bool = False
    administrators_left: int | None = None
    owners_left: int | None = None
    on_behalf_of: UserId | None = None

    @classmethod
    def establishment(cls, establishment_id: EstablishmentId) -> Target:
        """An act in this establishment (its settings, its members, its records)."""
        return cls(establishment_id=establishment_id)

    @classmethod
    def organisation(
        cls, organisation_id: OrganisationId, *, owners_left: int | None = None
    ) -> Target:
        """An act on the organisation itself (open an establishment, change owners)."""
        return cls(organisation_id=organisation_id, owners_left=owners_left)

    @classmethod
    def change(
        cls,
        establishment_id: EstablishmentId,
        *,
        grants: Iterable[Permission] = (),
        administrator: bool = False,
        administrators_left: int | None = None,
    ) -> Target:
        """A change to who holds what in this establishment."""
        return cls(
            establishment_id=establishment_id,
            grants=frozenset(grants),
            administrator=administrator,
            administrators_left=administrators_left,
        )

    @classmethod
    def on_behalf(cls, establishment_id: EstablishmentId, physician: UserId) -> Target:
        """An act in a physician's name, such as sending a letter they issue (C6)."""
        return cls(establishment_id=establishment_id, on_behalf_of=physician)


@attrs.frozen
class Access:
    """What one user may do in one establishment (or, for owners and staff, organisation).

    A value computed by :func:`compute_access`; keep it for a request or a session and
    compute it again when memberships change. ``denial`` is set, and ``permissions`` empty,
    when the user may do nothing there (deactivated, not a member). ``unlicensed`` are the
    permissions the roles give but the license withholds (:func:`restrict_to_license`), and
    ``license_status`` the license's status when one was applied.
    """

    user_id: UserId
    organisation_id: OrganisationId | None
    establishment_id: EstablishmentId | None
    permissions: frozenset[Permission] = frozenset()
    features: frozenset[str] = frozenset()
    on_behalf_of: frozenset[UserId] = frozenset()
    administrator: bool = False
    owner: bool = False
    staff: bool = False
    denial: Reason | None = None
    unlicensed: frozenset[Permission] = frozenset()
    license_status: str | None = None
    # Denials without a target depend only on the permission: built once, then reused, so a
    # request path that asks the same question again pays a dictionary look-up.
    _denials: dict[Permission, Decision] = attrs.field(
        init=False, factory=dict, eq=False, repr=False, hash=False
    )

    def allows(self, permission: Permission) -> bool:
        """Return True when the permission is held here: the fastest check, a set lookup."""
        return permission in self.permissions

    def has_feature(self, feature: str) -> bool:
        """Return True when the feature is on for this member (C5, C6)."""
        return feature in self.features

    def require(self, permission: Permission, target: Target | None = None) -> None:
        """Return if allowed; raise the :class:`PermissionDenied` of the decision otherwise."""
        decision = decide(self, permission, target)
        if not decision.allowed:
            raise decision.error()


@attrs.frozen
class Decision:
    """The answer of :func:`decide`. True in a boolean context only when allowed."""

    allowed: bool
    reason: Reason
    permission: Permission | None = attrs.field(default=None, repr=False)
    actor: UserId | None = attrs.field(default=None, repr=False)
    missing: frozenset[Permission] = attrs.field(default=frozenset(), repr=False)
    license_status: str | None = attrs.field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.allowed

    def __repr__(self) -> str:
        return f"Decision(allowed={self.allowed}, reason={self.reason!r}, ...)"

    def error(self) -> PermissionDenied:
        """Return the error a denial raises (its class and params follow the reason)."""
        error_class = _ERRORS.get(self.reason, PermissionDenied)
        message = _MESSAGES.get(self.reason, error_class.default_message)
        if self.missing:
            message = f"{message}: {', '.join(sorted(self.missing))}"
        if self.reason is Reason.LICENSE_REQUIRED:
            return LicenseRequired(
                message,
                permission=None if self.permission is None else str(self.permission),
                actor=self.actor,
                reason=str(self.reason),
                missing=(),
                license_status=self.license_status,
            )
        return error_class(
            message,
            permission=None if self.permission is None else str(self.permission),
            actor=self.actor,
            reason=str(self.reason),
            missing=tuple(sorted(str(p) for p in self.missing)),
        )


_ERRORS: dict[Reason, type[PermissionDenied]] = {
    Reason.ESCALATION: EscalationDenied,
    Reason.LAST_ADMINISTRATOR: LastAdministrator,
    Reason.LAST_OWNER: LastOwner,
}

_MESSAGES: dict[Reason, str] = {
    Reason.NOT_A_MEMBER: "not a member of this establishment or organisation",
    Reason.USER_DEACTIVATED: "the account is deactivated",
    Reason.MEMBERSHIP_DEACTIVATED: "the membership in this establishment is deactivated",
    Reason.OTHER_ESTABLISHMENT: "this access is valid in another establishment",
    Reason.OTHER_ORGANISATION: "this access is not valid for this organisation",
    Reason.MISSING_PERMISSION: "missing permission",
    Reason.NOT_DELEGATED: "not delegated to act on behalf of this physician",
    Reason.LICENSE_REQUIRED: "the member's license does not allow this now",
}

_ALLOWED = Decision(allowed=True, reason=Reason.ALLOWED)


def _deny(
    access: Access,
    permission: Permission,
    reason: Reason,
    missing: Iterable[Permission] = (),
) -> Decision:
    return Decision(
        allowed=False,
        reason=reason,
        permission=permission,
        actor=access.user_id,
        missing=frozenset(missing),
    )


def _unlicensed(access: Access, permission: Permission) -> Decision:
    return Decision(
        allowed=False,
        reason=Reason.LICENSE_REQUIRED,
        permission=permission,
        actor=access.user_id,
        license_status=access.license_status,
    )


def _denial_here(access: Access, permission: Permission) -> Decision:
    """The denial of ``permission`` where ``access`` is valid, built once per access."""
    denied = access._denials.get(permission)  # noqa: SLF001 - the cache is decide's own
    if denied is None:
        if access.denial is not None:
            denied = _deny(access, permission, access.denial)
        elif permission in access.unlicensed:
            denied = _unlicensed(access, permission)
        else:
            denied = _deny(access, permission, Reason.MISSING_PERMISSION, {permission})
        access._denials[permission] = denied  # noqa: SLF001
    return denied


def decide(  # noqa: C901, PLR0911, PLR0912 - the rules read in order, one return each
    access: Access,
    permission: Permission,
    target: Target | EstablishmentId | None = None,
) -> Decision:
    """Decide whether ``access`` allows ``permission`` on ``target``; never raises.

    Without a target the act happens where the access is valid; an establishment id as the
    target is the fast form of ``Target.establishment(id)``. Rules, in order: the access
    must not be void (deactivated user or membership, not a member); the target must be in
    the access's establishment or organisation; the permission must be held; a change that
    makes or unmakes an administrator needs ``roles.assign_administrator``; a change may only
    give or take permissions the actor holds; it may not leave no active administrator or
    owner. Acting on behalf of a physician needs a delegation to them (C6).
    """
    if target is None:
        if permission in access.permissions:
            return _ALLOWED
        return _denial_here(access, permission)
    if isinstance(target, str):
        if target != access.establishment_id:
            return _deny(access, permission, access.denial or Reason.OTHER_ESTABLISHMENT)
        if permission in access.permissions:
            return _ALLOWED
        return _denial_here(access, permission)
    if access.denial is not None:
        return _deny(access, permission, access.denial)
    if target.establishment_id is not None and target.establishment_id != access.establishment_id:
        return _deny(access, permission, Reason.OTHER_ESTABLISHMENT)
    if target.organisation_id is not None and (
        target.organisation_id != access.organisation_id or access.establishment_id is not None
    ):
        return _deny(access, permission, Reason.OTHER_ORGANISATION)
    held = access.permissions
    if permission not in held:
        return _denial_here(access, permission)
    if target.administrator and Permission.ROLES_ASSIGN_ADMINISTRATOR not in held:
        return _deny(
            access,
            permission,
            Reason.MISSING_PERMISSION,
            {Permission.ROLES_ASSIGN_ADMINISTRATOR},
        )
    if not target.grants <= held:
        return _deny(access, permission, Reason.ESCALATION, target.grants - held)
    if target.administrators_left is not None and target.administrators_left < 1:
        return _deny(access, permission, Reason.LAST_ADMINISTRATOR)
    if target.owners_left is not None and target.owners_left < 1:
        return _deny(access, permission, Reason.LAST_OWNER)
    if (
        target.on_behalf_of is not None
        and target.on_behalf_of != access.user_id
        and target.on_behalf_of not in access.on_behalf_of
    ):
        return _deny(access, permission, Reason.NOT_DELEGATED)
    return _ALLOWED


def restrict_to_license(
    access: Access, *, status: str, allowed: bool, licensed: Iterable[Permission]
) -> Access:
    """Return ``access`` with the ``licensed`` permissions withheld unless ``allowed`` (E1-E4).

    ``status`` is the license's status, carried by the denials (``license_required``).
    :meth:`~practiceid.LicenseService.access` calls it with the member's license; a host
    holding a license value calls it with
    :func:`~practiceid.policies.license.entitled`. Permissions the roles do not give stay
    ``missing_permission``: a license never adds one.
    """
    if allowed or access.denial is not None:
        return attrs.evolve(access, license_status=status)
    withheld = access.permissions & frozenset(licensed)
    return attrs.evolve(
        access,
        permissions=access.permissions - withheld,
        unlicensed=withheld,
        license_status=status,
    )


def _void(
    user_id: UserId,
    organisation_id: OrganisationId | None,
    establishment_id: EstablishmentId | None,
    reason: Reason,
) -> Access:
    return Access(
        user_id=user_id,
        organisation_id=organisation_id,
        establishment_id=establishment_id,
        denial=reason,
    )


def compute_access(
    *,
    user: User,
    establishment: Establishment,
    membership: Membership | None = None,
    organisation: Organisation | None = None,
    physicians: Iterable[tuple[User, Membership]] = (),
    staff: Iterable[Permission] = (),
) -> Access:
    """Return what ``user`` may do in ``establishment``.

    Args:
        user: the actor's account; a deactivated account gets a void access (A6).
        establishment: where; its roles and departments give the membership's meaning.
        membership: the user's membership there, if any; a deactivated one gives nothing.
        organisation: the establishment's organisation; its owners hold
            :data:`~practiceid.establishments.OWNER_PERMISSIONS` here (C2).
        physicians: the user and membership of each physician the member delegates for
            (C6). A delegation counts only while that physician is an active member who holds
            ``documents.issue``; with ``inherit_features`` it lends their own and their
            departments' features (one level: a physician's own delegations lend nothing).
        staff: the vendor's support permissions for this user, valid everywhere.
    """
    organisation_id = establishment.organisation_id
    if not user.is_active:
        return _void(user.id, organisation_id, establishment.id, Reason.USER_DEACTIVATED)
    permissions: set[Permission] = set(staff)
    features: set[str] = set()
    on_behalf: set[UserId] = set()
    administrator = False
    member = (
        membership is not None
        and membership.key == (establishment.id, user.id)
        and membership.is_active
    )
    if member:
        assert membership is not None  # noqa: S101 - member implies it
        permissions |= establishment.permissions_of(membership.roles)
        administrator = not membership.roles.isdisjoint(establishment.administrator_roles)
        features |= membership.features | establishment.features_of(membership.departments)
        delegations = {d.physician: d for d in membership.delegations}
        for physician, physician_membership in physicians:
            delegation = delegations.get(physician.id)
            if (
                delegation is None
                or not physician.is_active
                or not physician_membership.is_active
                or physician_membership.key != (establishment.id, physician.id)
                or not establishment.issues_documents(physician_membership.roles)
            ):
                continue
            on_behalf.add(physician.id)
            if delegation.inherit_features:
                features |= physician_membership.features | establishment.features_of(
                    physician_membership.departments
                )
    owner = (
        organisation is not None
        and organisation.id == organisation_id
        and user.id in organisation.owners
    )
    if owner:
        permissions |= OWNER_PERMISSIONS
    if not permissions and not member:
        reason = (
            Reason.MEMBERSHIP_DEACTIVATED
            if membership is not None
            and membership.key == (establishment.id, user.id)
            and not membership.is_active
            else Reason.NOT_A_MEMBER
        )
        return _void(user.id, organisation_id, establishment.id, reason)
    return Access(
        user_id=user.id,
        organisation_id=organisation_id,
        establishment_id=establishment.id,
        permissions=frozenset(permissions),
        features=frozenset(features),
        on_behalf_of=frozenset(on_behalf),
        administrator=administrator,
        owner=owner,
        staff=bool(staff),
    )


def compute_organisation_access(
    *, user: User, organisation: Organisation, staff: Iterable[Permission] = ()
) -> Access:
    """Return what ``user`` may do to ``organisation`` itself: owners and staff only (C2)."""
    if not user.is_active:
        return _void(user.id, organisation.id, None, Reason.USER_DEACTIVATED)
    permissions = set(staff)
    owner = user.id in organisation.owners
    if owner:
        permissions |= OWNER_PERMISSIONS
    if not permissions:
        return _void(user.id, organisation.id, None, Reason.NOT_A_MEMBER)
    return Access(
        user_id=user.id,
        organisation_id=organisation.id,
        establishment_id=None,
        permissions=frozenset(permissions),
        owner=owner,
        staff=bool(staff),
    )
