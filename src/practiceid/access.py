"""The access service: organisations, establishments, members, roles and who may change them.

Every use case reads the actor's :class:`~practiceid.Access` in the same unit of work as the
change, asks :func:`~practiceid.decide`, and writes only when allowed, so a decision and the
state it was taken on cannot drift apart. Changes that make or unmake an administrator also
store the establishment, whose version then serializes them: two administrators demoting
each other at once cannot both succeed.

>>> from practiceid import EmailAddress, Login, ProductKind, User
>>> from practiceid.adapters import InMemoryStore
>>> from practiceid.testing import ManualClock, sample_user
>>> store = InMemoryStore()
>>> owner = sample_user()
>>> with store.unit_of_work() as uow:
...     uow.users.add(owner)
...     uow.commit()
>>> access = AccessService(unit_of_work=store.unit_of_work, clock=ManualClock())
>>> group = access.found_organisation(owner=owner.id, name="Groupe dentaire du Sud")
>>> centre = access.open_establishment(
...     actor=owner.id, organisation_id=group.id, name="Centre de Nîmes", product=ProductKind.DENTAL
... )
>>> added = access.add_member(
...     actor=owner.id,
...     establishment_id=centre.id,
...     email="c.martin@centre-exemple.fr",
...     roles=["assistant"],
...     first_name="Claire",
...     last_name="Martin",
... )
>>> added.created_user, sorted(added.membership.roles)
(True, ['assistant'])
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Protocol, TypeVar, cast

import attrs

from practiceid.audit import DetailValue
from practiceid.auditing import Auditor, NoRequestContext, audited
from practiceid.authorization import (
    Access,
    Decision,
    Reason,
    Target,
    compute_access,
    compute_organisation_access,
    decide,
)
from practiceid.errors import (
    AccessRejected,
    DuplicateEmail,
    DuplicateInitials,
    DuplicateLogin,
    Notice,
    OrganisationNotFound,
    PracticeIdError,
    ProfileRejected,
    Rejected,
    StaleRecord,
    SupervisesTrainees,
    UserNotFound,
    Violation,
)
from practiceid.establishments import (
    OWNER_PERMISSIONS,
    ROLE_TEMPLATES,
    Department,
    DepartmentId,
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
    Role,
    RoleId,
    RoleTemplate,
)
from practiceid.memberships import Delegation, Membership, MembershipStatus
from practiceid.permissions import Permission, feature_codes
from practiceid.policies import initials as initials_policy
from practiceid.policies.email import EmailAddress, EmailPolicy
from practiceid.policies.login import LoginPolicy
from practiceid.ports.audit import RequestContext
from practiceid.ports.clock import Clock
from practiceid.ports.establishments import AccessUnitOfWork, AccessUnitOfWorkFactory

if TYPE_CHECKING:
    from practiceid.ports.devices import MemberCredentialRepository
    from practiceid.ports.factors import FactorRepository
from practiceid.users import AccountKind, User, UserId, clean_profile, new_user_id

__all__ = ["AccessService", "MemberAdded"]


@attrs.frozen
class MemberAdded:
    """The result of :meth:`AccessService.add_member`.

    ``created_user`` is False when the e-mail address already belonged to a user, who was
    attached rather than duplicated (C1). A created user has no password yet: the invitation
    workflow sets it.
    """

    user: User
    membership: Membership
    created_user: bool
    notices: tuple[Notice, ...] = ()


def _freeze_staff(
    staff: Mapping[UserId, Collection[Permission]],
) -> Mapping[UserId, frozenset[Permission]]:
    return MappingProxyType({user: frozenset(perms) for user, perms in staff.items()})


def _new_id() -> str:
    return str(uuid.uuid4())


def _require_ids(**ids: object) -> None:
    """Raise AccessRejected for every id that is neither text nor None.

    None passes: optional ids default, and a missing required one is then not found.
    """
    violations = [
        Violation(f"{field}.invalid_id", f"{field} must be text", field)
        for field, value in ids.items()
        if value is not None and not isinstance(value, str)
    ]
    if violations:
        raise AccessRejected(violations)


_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Retrying(Protocol):
    @property
    def retries(self) -> int: ...


_S = TypeVar("_S", bound=_Retrying)


def _retried(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Run the use case again when a concurrent change made its unit of work stale.

    Every use case reads, decides and writes in one unit of work, so running it again
    decides afresh on the new state; after ``retries`` attempts the conflict is raised.
    A repository's :class:`~practiceid.errors.DuplicateInitials` (initials taken by a
    concurrent change after the use case checked them) is a lost race too; the service's
    own refusal carries a ``suggestion`` and is final.
    """

    @functools.wraps(method)
    def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        for _ in range(self.retries - 1):
            try:
                return method(self, *args, **kwargs)
            except StaleRecord:
                continue
            except DuplicateInitials as error:
                if "suggestion" in error.params:
                    raise
                continue
        return method(self, *args, **kwargs)

    return run


def _audited_outside_establishments(
    action: str, *, target_type: str, target: str, actor: str = "actor"
) -> Callable[
    [Callable[Concatenate[AccessService, _P], _R]], Callable[Concatenate[AccessService, _P], _R]
]:
    """Record a refusal of an organisation-level command as ``action``, on the platform chain.

    As :func:`~practiceid.auditing.audited`, but an organisation is not an establishment:
    the refusal goes to the platform chain, with the ``organisation_id`` given (when it is
    text) in its details. Put it outside ``_retried``.
    """

    def decorate(
        method: Callable[Concatenate[AccessService, _P], _R],
    ) -> Callable[Concatenate[AccessService, _P], _R]:
        @functools.wraps(method)
        def run(self: AccessService, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(self, *args, **kwargs)
            except PracticeIdError as error:
                organisation = kwargs.get("organisation_id")
                self.auditor.refused(
                    self.unit_of_work,
                    action,
                    error,
                    actor=kwargs.get(actor),
                    target_type=target_type,
                    target_id=kwargs.get(target),
                    details={
                        "organisation_id": organisation if isinstance(organisation, str) else None
                    },
                )
                raise

        return run

    return decorate


def _joined(values: Iterable[object]) -> str:
    """Return ids or codes as recorded in an event's details: sorted, comma-joined."""
    return ",".join(sorted(str(value) for value in values))


def revoke_pins(
    uow: AccessUnitOfWork, user_id: UserId, establishment_id: EstablishmentId | None = None
) -> None:
    """Revoke the user's shared-device PINs, in ``establishment_id`` or everywhere (F2).

    Deactivating a member revokes their PIN at once, in the deactivation's own unit of
    work: a PIN never outlives its member, and reactivation gives a new one
    (:meth:`~practiceid.DeviceService.reactivate_member`). A store without shared devices
    (its unit of work has no ``member_credentials``) holds no PIN to revoke.
    """
    credentials = cast(
        "MemberCredentialRepository | None", getattr(uow, "member_credentials", None)
    )
    if credentials is None:
        return
    for credential in credentials.list_for_user(user_id):
        if credential.pin_digest is not None and establishment_id in {
            None,
            credential.establishment_id,
        }:
            credentials.update(credential.revoked())


def revoke_factors(uow: AccessUnitOfWork, user_id: UserId) -> int:
    """Remove every second factor of the user, in the caller's unit of work (F5).

    Deactivating an account revokes its factors in the deactivation's own unit of work: a
    reactivated user enrols again. A store without factors (its unit of work has no
    ``factors``) holds none to revoke. Returns how many were removed.
    """
    factors = cast("FactorRepository | None", getattr(uow, "factors", None))
    if factors is None:
        return 0
    held = list(factors.list_for_user(user_id))
    for factor in held:
        factors.remove(factor.id)
    return len(held)


def initials_for(
    uow: AccessUnitOfWork, establishment_id: EstablishmentId, user: User, wanted: str | None
) -> tuple[str, tuple[Notice, ...]]:
    """Return the initials a member gets, and a notice when derived ones were adjusted (A7).

    ``wanted`` (typed initials) that another member has raise DuplicateInitials with the
    nearest free alternative as ``suggestion``; derived ones are adjusted to it.
    """
    taken = taken_initials(uow, establishment_id, excluding=user.id)
    chosen = initials_policy.nearest_free(
        user.first_name, user.last_name, taken=taken, wanted=wanted
    )
    if wanted is not None and chosen != wanted:
        raise DuplicateInitials(
            entity="membership",
            id=f"{establishment_id}/{user.id}",
            establishment_id=establishment_id,
            initials=wanted,
            suggestion=chosen,
        )
    derived = initials_policy.derive(user.first_name, user.last_name)
    if wanted is None and chosen != derived:
        notice = Notice(
            "member.initials_adjusted",
            f"another member has the initials {derived}; these are {chosen}",
            "initials",
            {"derived": derived, "initials": chosen},
        )
        return chosen, (notice,)
    return chosen, ()


def taken_initials(
    uow: AccessUnitOfWork, establishment_id: EstablishmentId, *, excluding: UserId
) -> set[str]:
    """Return the initials keys of every other member of the establishment (A7)."""
    return {
        initials_policy.key(m.initials)
        for m in uow.memberships.list_for_establishment(establishment_id)
        if m.initials and m.user_id != excluding
    }


def clean_initials(raw: object) -> str:
    """Return typed initials, checked, or raise ProfileRejected (field ``initials``)."""
    value, problems = initials_policy.clean(raw)
    if problems:
        raise ProfileRejected(
            Violation(code, message, "initials", params) for code, message, params in problems
        )
    return value


def active_trainees(
    uow: AccessUnitOfWork, establishment_id: EstablishmentId, supervisor: UserId
) -> list[Membership]:
    """Return the active memberships of active users whose training supervisor is given (B4)."""
    trainees = []
    for membership in uow.memberships.list_for_establishment(
        establishment_id, status=MembershipStatus.ACTIVE
    ):
        if membership.supervisor != supervisor:
            continue
        try:
            if uow.users.get(membership.user_id).is_active:
                trainees.append(membership)
        except UserNotFound:
            continue
    return trainees


def _release_supervisor(
    uow: AccessUnitOfWork, establishment_ids: Iterable[EstablishmentId], user_id: UserId
) -> None:
    """Before the user stops supervising in these establishments (B4).

    Raise SupervisesTrainees if they supervise active trainees there. Otherwise unlink the
    inactive ones (a deactivated membership or account), so that reactivating a trainee
    later never brings back a deactivated supervisor: they choose a new one.
    """
    chosen = list(establishment_ids)
    found = {
        establishment_id: [m.user_id for m in active_trainees(uow, establishment_id, user_id)]
        for establishment_id in chosen
    }
    found = {e: t for e, t in found.items() if t}
    if found:
        raise SupervisesTrainees(
            establishments=tuple(sorted(found)),
            trainees=tuple(sorted({t for ts in found.values() for t in ts})),
        )
    for establishment_id in chosen:
        for membership in uow.memberships.list_for_establishment(establishment_id):
            if membership.supervisor == user_id:
                uow.memberships.update(membership.with_supervisor(None))


def _ids(values: object, *, field: str) -> list[str]:
    """Return ``values`` as a list of ids (text), or raise AccessRejected."""
    if isinstance(values, str):
        values = (values,)
    items: list[object] = list(values) if isinstance(values, Iterable) else [values]
    ids = [item for item in items if isinstance(item, str)]
    if len(ids) != len(items):
        raise AccessRejected([Violation(f"{field}.invalid_id", f"{field} ids must be text", field)])
    return ids


def _role_ids(roles: object) -> frozenset[RoleId]:
    return frozenset(RoleId(r) for r in _ids(roles, field="roles"))


def _delegation_list(delegations: object) -> list[Delegation]:
    if isinstance(delegations, (str, Delegation)):
        delegations = (delegations,)
    items: list[object] = list(delegations) if isinstance(delegations, Iterable) else [delegations]
    chosen: list[Delegation] = []
    for item in items:
        if isinstance(item, Delegation) and isinstance(item.physician, str):
            chosen.append(item)
        elif isinstance(item, str):
            chosen.append(Delegation(UserId(item)))
        else:
            raise AccessRejected(
                [
                    Violation(
                        "delegations.invalid_id", "delegations name physicians by id", "delegations"
                    )
                ]
            )
    return chosen


@attrs.frozen(kw_only=True)
class AccessService:
    """Use cases for establishments and their members (A5, A6, C1-C6).

    Every command records one audit event (F3). An allowed command records its success in
    its own unit of work, just before it commits, even when it changes nothing (``changed``
    is then ``False`` in the event's details): the trail shows every act an actor was
    allowed, not only those that moved something. A command refused with a
    :class:`~practiceid.errors.PracticeIdError` records one refusal with the error's code; a
    conflict retried internally is not a refusal. Events of an establishment's members,
    roles and departments go to its chain, the opening of an establishment starts its
    chain; organisations (founding, owners) and whole accounts (deactivating a user) are
    outside any establishment and go to the platform chain, with the organisation's id in
    the details. Details hold ids, role ids, feature codes and statuses, never an e-mail
    address. Reads record nothing, and neither do the ``*_in`` variants and ``authorize*``
    used inside another service's unit of work: that service's command records its own
    event.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.AccessUnitOfWork` per call.
        clock: the time of creations.
        staff: the vendor's support team: user id → permissions they hold in every
            establishment (A5, F5). Empty by default; keep it short.
        self_service: permissions everyone holds over their own account: changing one's own
            login (A1), names and practitioner data (A7, B1-B5) and billing data (B6).
        login_policy, email_policy: the rules for users created by :meth:`add_member`.
        role_templates: the roles each product's establishments start with
            (:data:`~practiceid.ROLE_TEMPLATES` by default); each product needs an
            administrator template.
        retries: how many times a use case runs when a concurrent change made it stale
            (:class:`~practiceid.errors.StaleRecord` is raised after the last).
        new_record_id: makes ids for new organisations and establishments.
        new_user_id: makes ids for new users.
        request_context: tells the peer address and request id of the audit events
            (:class:`~practiceid.auditing.NoRequestContext` by default: none).
    """

    unit_of_work: AccessUnitOfWorkFactory
    clock: Clock
    staff: Mapping[UserId, frozenset[Permission]] = attrs.field(
        factory=dict, converter=_freeze_staff
    )
    self_service: frozenset[Permission] = frozenset(
        {Permission.CHANGE_LOGIN, Permission.USERS_EDIT_PROFILE, Permission.BILLING_MANAGE}
    )
    login_policy: LoginPolicy = attrs.field(factory=LoginPolicy)
    email_policy: EmailPolicy = attrs.field(factory=EmailPolicy)
    role_templates: Mapping[ProductKind, tuple[RoleTemplate, ...]] = ROLE_TEMPLATES
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    new_record_id: Callable[[], str] = _new_id
    new_user_id: Callable[[], UserId] = new_user_id
    request_context: RequestContext = attrs.field(factory=NoRequestContext)

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events (F3)."""
        return Auditor(self.clock, self.request_context)

    # -- reading access -------------------------------------------------------------------

    def access(self, user_id: UserId, establishment_id: EstablishmentId) -> Access:
        """Return what ``user_id`` may do in the establishment: compute it once per request.

        An unknown user gets a void access (``not_member``), never an error, so a caller
        cannot probe which ids exist.

        Raises:
            EstablishmentNotFound: no such establishment.
        """
        with self.unit_of_work() as uow:
            return self._access(uow, user_id, uow.establishments.get(establishment_id))

    def access_in(
        self, uow: AccessUnitOfWork, user_id: UserId, establishment: Establishment
    ) -> Access:
        """Return :meth:`access` computed inside the caller's unit of work.

        For services built on this one (:class:`~practiceid.LicenseService` adds the
        license to it). Records no audit event, as every read.
        """
        return self._access(uow, user_id, establishment)

    def organisation_access(self, user_id: UserId, organisation_id: OrganisationId) -> Access:
        """Return what ``user_id`` may do to the organisation itself (owners, staff).

        Raises:
            OrganisationNotFound: no such organisation.
        """
        with self.unit_of_work() as uow:
            return self._organisation_access(uow, user_id, uow.organisations.get(organisation_id))

    def establishment(self, *, actor: UserId, establishment_id: EstablishmentId) -> Establishment:
        """Return the establishment, with its roles and departments, to any of its members.

        Owners of its organisation and support staff may read it too.

        Raises:
            PermissionDenied: the actor has no access there (``not_member``, deactivated).
            EstablishmentNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        with self.unit_of_work() as uow:
            establishment = uow.establishments.get(establishment_id)
            access = self._access(uow, actor, establishment)
        if access.denial is not None:
            raise Decision(
                allowed=False, reason=access.denial, permission=None, actor=actor
            ).error()
        return establishment

    def memberships_of(self, user_id: UserId) -> Sequence[Membership]:
        """Return every membership of the user, active or not (an establishment picker, C1)."""
        with self.unit_of_work() as uow:
            return uow.memberships.list_for_user(user_id)

    def members(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        status: MembershipStatus | None = None,
    ) -> Sequence[Membership]:
        """Return the establishment's memberships, deactivated ones too unless filtered.

        Raises:
            PermissionDenied: the actor lacks ``users.view`` there.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        with self.unit_of_work() as uow:
            self._acting(uow, actor, establishment_id, Permission.USERS_VIEW)
            return uow.memberships.list_for_establishment(establishment_id, status=status)

    def _acting(
        self,
        uow: AccessUnitOfWork,
        actor: UserId,
        establishment_id: EstablishmentId,
        permission: Permission,
    ) -> tuple[Establishment, Access]:
        """Return the establishment and the actor's access there, if it allows ``permission``.

        Every use case starts here, before reading what it changes: a refused actor learns
        nothing about the members or records of the establishment.
        """
        establishment = uow.establishments.get(establishment_id)
        access = self._access(uow, actor, establishment)
        self._require(access, permission, Target.establishment(establishment.id))
        return establishment, access

    def authorize(
        self,
        uow: AccessUnitOfWork,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        permission: Permission,
    ) -> tuple[Establishment, Access]:
        """Check ``permission`` inside the caller's own unit of work; return what was read.

        For services built on this one (:class:`~practiceid.ProfileService`, or a host's
        own): deciding in the unit of work that then writes keeps the decision and the
        state it was taken on together. Records no audit event: the caller's command
        records its own, success or refusal (F3).

        Raises:
            PermissionDenied, EstablishmentNotFound.
        """
        return self._acting(uow, actor, establishment_id, permission)

    def authorize_account(
        self, uow: AccessUnitOfWork, *, actor: UserId, permission: Permission, user_id: UserId
    ) -> None:
        """Check ``permission`` over a whole account inside the caller's unit of work.

        The rule of :meth:`require`: the actor themselves for ``self_service`` permissions,
        support staff, or ``permission`` in every establishment of the account with one of
        them having created it. Records no audit event: the caller's command does (F3).

        Raises:
            PermissionDenied.
        """
        self._require_over_account(uow, actor, permission, user_id)

    def _access(
        self, uow: AccessUnitOfWork, user_id: UserId, establishment: Establishment
    ) -> Access:
        user = self._find_user(uow, user_id)
        if user is None:
            return Access(
                user_id=user_id,
                organisation_id=establishment.organisation_id,
                establishment_id=establishment.id,
                denial=Reason.NOT_A_MEMBER,
            )
        membership = uow.memberships.find(establishment.id, user_id)
        physicians: list[tuple[User, Membership]] = []
        if membership is not None:
            for delegation in membership.delegations:
                physician = self._find_user(uow, delegation.physician)
                physician_membership = uow.memberships.find(establishment.id, delegation.physician)
                if physician is not None and physician_membership is not None:
                    physicians.append((physician, physician_membership))
        try:
            organisation: Organisation | None = uow.organisations.get(establishment.organisation_id)
        except OrganisationNotFound:
            organisation = None
        return compute_access(
            user=user,
            establishment=establishment,
            membership=membership,
            organisation=organisation,
            physicians=physicians,
            staff=self.staff.get(user_id, ()),
        )

    def _organisation_access(
        self, uow: AccessUnitOfWork, user_id: UserId, organisation: Organisation
    ) -> Access:
        user = self._find_user(uow, user_id)
        if user is None:
            return Access(
                user_id=user_id,
                organisation_id=organisation.id,
                establishment_id=None,
                denial=Reason.NOT_A_MEMBER,
            )
        return compute_organisation_access(
            user=user, organisation=organisation, staff=self.staff.get(user_id, ())
        )

    @staticmethod
    def _find_user(uow: AccessUnitOfWork, user_id: UserId) -> User | None:
        try:
            return uow.users.get(user_id)
        except UserNotFound:
            return None

    @staticmethod
    def _require(access: Access, permission: Permission, target: Target | None = None) -> None:
        decision = decide(access, permission, target)
        if not decision.allowed:
            raise decision.error()

    # -- organisations and establishments (C2) --------------------------------------------

    @_audited_outside_establishments(
        "organisation.found", actor="owner", target_type="organisation", target="organisation_id"
    )
    @_retried
    def found_organisation(
        self, *, owner: UserId, name: str, organisation_id: OrganisationId | None = None
    ) -> Organisation:
        """Create an organisation owned by ``owner``: the host's sign-up step, unchecked.

        Raises:
            UserNotFound: no such owner. AccessRejected: the name is empty or too long.
            DuplicateRecord: the id is taken.
        """
        _require_ids(owner=owner, organisation_id=organisation_id)
        organisation = Organisation.found(
            organisation_id
            if organisation_id is not None
            else OrganisationId(self.new_record_id()),
            name=name,
            owner=owner,
            created_at=self.clock.now(),
        )
        with self.unit_of_work() as uow:
            uow.users.get(owner)
            uow.organisations.add(organisation)
            self.auditor.record(
                uow,
                "organisation.found",
                actor=owner,
                target_type="organisation",
                target_id=organisation.id,
                details={"organisation_id": organisation.id},
            )
            uow.commit()
        return organisation

    @_audited_outside_establishments(
        "establishment.open", target_type="establishment", target="establishment_id"
    )
    @_retried
    def open_establishment(
        self,
        *,
        actor: UserId,
        organisation_id: OrganisationId,
        name: str,
        product: ProductKind,
        administrator: UserId | None = None,
        establishment_id: EstablishmentId | None = None,
    ) -> Establishment:
        """Open an establishment in the organisation, with its product's role templates.

        ``administrator`` (the actor by default) becomes its first member, as Administrator,
        so no establishment ever starts without one.

        Raises:
            PermissionDenied: the actor is not an owner (``organisation.create_establishments``).
            OrganisationNotFound, UserNotFound, AccessRejected, DuplicateRecord.
        """
        _require_ids(
            actor=actor,
            organisation_id=organisation_id,
            administrator=administrator,
            establishment_id=establishment_id,
        )
        first = actor if administrator is None else administrator
        now = self.clock.now()
        establishment = Establishment.open(
            establishment_id
            if establishment_id is not None
            else EstablishmentId(self.new_record_id()),
            organisation_id=organisation_id,
            name=name,
            product=product,
            created_at=now,
            templates=self.role_templates,
        )
        with self.unit_of_work() as uow:
            organisation = uow.organisations.get(organisation_id)
            access = self._organisation_access(uow, actor, organisation)
            self._require(
                access, Permission.ESTABLISHMENTS_CREATE, Target.organisation(organisation.id)
            )
            first_user = uow.users.get(first)
            uow.establishments.add(establishment)
            uow.memberships.add(
                Membership.join(
                    first,
                    establishment.id,
                    roles=establishment.administrator_roles,
                    created_at=now,
                    initials=initials_policy.derive(first_user.first_name, first_user.last_name),
                )
            )
            self.auditor.record(
                uow,
                "establishment.open",
                actor=actor,
                establishment_id=establishment.id,
                target_type="establishment",
                target_id=establishment.id,
                details={
                    "organisation_id": organisation.id,
                    "product": str(establishment.product),
                    "administrator": first,
                },
            )
            uow.commit()
        return establishment

    @_audited_outside_establishments("owner.add", target_type="user", target="user_id")
    @_retried
    def add_owner(
        self, *, actor: UserId, organisation_id: OrganisationId, user_id: UserId
    ) -> Organisation:
        """Make ``user_id`` an owner of the organisation (C2).

        Raises:
            PermissionDenied: the actor lacks ``organisation.manage_owners`` there.
            OrganisationNotFound, UserNotFound.
        """
        _require_ids(actor=actor, organisation_id=organisation_id, user_id=user_id)
        return self._change_owners(actor, organisation_id, user_id, adding=True)

    @_audited_outside_establishments("owner.remove", target_type="user", target="user_id")
    @_retried
    def remove_owner(
        self, *, actor: UserId, organisation_id: OrganisationId, user_id: UserId
    ) -> Organisation:
        """Take ``user_id`` out of the organisation's owners; the last active owner stays.

        Raises:
            LastOwner: no other active owner would remain.
            PermissionDenied, OrganisationNotFound.
        """
        _require_ids(actor=actor, organisation_id=organisation_id, user_id=user_id)
        return self._change_owners(actor, organisation_id, user_id, adding=False)

    def _change_owners(
        self, actor: UserId, organisation_id: OrganisationId, user_id: UserId, *, adding: bool
    ) -> Organisation:
        """Add or remove one owner; owners are granted or lose OWNER_PERMISSIONS (C2)."""
        with self.unit_of_work() as uow:
            organisation = uow.organisations.get(organisation_id)
            access = self._organisation_access(uow, actor, organisation)
            removing_an_owner = not adding and user_id in organisation.owners
            left = self._active_owners(uow, organisation, excluding=user_id)
            self._require(
                access,
                Permission.ORGANISATION_MANAGE_OWNERS,
                Target(
                    organisation_id=organisation.id,
                    grants=OWNER_PERMISSIONS,
                    owners_left=left if removing_an_owner else None,
                ),
            )
            if adding:
                uow.users.get(user_id)
                owners = organisation.owners | {user_id}
            else:
                owners = organisation.owners - {user_id}
            stored = uow.organisations.update(organisation.with_owners(owners))
            self.auditor.record(
                uow,
                "owner.add" if adding else "owner.remove",
                actor=actor,
                target_type="user",
                target_id=user_id,
                details={
                    "organisation_id": organisation.id,
                    "changed": owners != organisation.owners,
                },
            )
            uow.commit()
        return stored

    # -- members (C1, C3, A6) ---------------------------------------------------------------

    @audited("member.add")
    @_retried
    def add_member(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        email: str,
        roles: Iterable[RoleId | str] = (),
        first_name: str = "",
        last_name: str = "",
        job_title: str = "",
        login: str | None = None,
        initials: str | None = None,
    ) -> MemberAdded:
        """Add the person with this e-mail address to the establishment (C1, C3).

        When the address (compared by its key: case and look-alikes folded, A2) belongs to a
        user, that user is attached and the names are ignored: one account, many
        memberships. Otherwise a user is created, without a password, with ``login`` (the
        address by default) and the names, which are then required. Two administrators
        adding the same new address at once end with one user and their two memberships.

        The member's ``initials`` (A7) are derived from the names unless given. Derived
        initials that another member has are replaced by the nearest free alternative
        (``JD`` → ``JDu``) and a ``member.initials_adjusted`` notice says so; given initials
        that another member has are refused with that alternative as ``suggestion``.

        Raises:
            PermissionDenied: the actor lacks ``users.create`` (C3), or
                ``roles.assign_administrator`` for an Administrator role.
            EscalationDenied: a role holds permissions the actor does not hold.
            DuplicateMembership: the user is already a member (active or not: reactivate).
            DuplicateInitials: given initials belong to another member (``suggestion``).
            EmailRejected, LoginRejected, ProfileRejected, RoleNotFound, DuplicateLogin.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        address = self.email_policy.parse(email)
        role_ids = _role_ids(roles)
        wanted = None if initials is None else clean_initials(initials)
        profile = (first_name, last_name, job_title, login)
        try:
            return self._add_member(
                actor, establishment_id, address, role_ids, profile, wanted=wanted
            )
        except (DuplicateEmail, DuplicateLogin):
            # Someone created this user between our look-up and our insert: attach them. A
            # login derived from the address collides first (DuplicateLogin wins when both
            # do); a login another account really holds is refused again by the rerun.
            return self._add_member(
                actor, establishment_id, address, role_ids, profile, wanted=wanted
            )

    def _add_member(
        self,
        actor: UserId,
        establishment_id: EstablishmentId,
        address: EmailAddress,
        role_ids: frozenset[RoleId],
        profile: tuple[str, str, str, str | None],
        *,
        wanted: str | None,
    ) -> MemberAdded:
        with self.unit_of_work() as uow:
            added, _ = self.add_member_in(
                uow,
                actor=actor,
                establishment_id=establishment_id,
                address=address,
                role_ids=role_ids,
                profile=profile,
                wanted=wanted,
            )
            self.auditor.record(
                uow,
                "member.add",
                actor=actor,
                establishment_id=establishment_id,
                target_type="user",
                target_id=added.user.id,
                details={
                    "roles": _joined(added.membership.roles),
                    "created_user": added.created_user,
                },
            )
            uow.commit()
        return added

    def add_member_in(
        self,
        uow: AccessUnitOfWork,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        address: EmailAddress,
        role_ids: frozenset[RoleId],
        profile: tuple[str, str, str, str | None],
        wanted: str | None,
    ) -> tuple[MemberAdded, Establishment]:
        """Add the member inside the caller's unit of work, without committing.

        For services built on this one (:class:`~practiceid.OnboardingService` writes the
        invitation in the same unit of work). ``profile`` is (first name, last name, job
        title, login or None). Raises as :meth:`add_member`, which also reruns on a lost race.
        Records no audit event: the calling service's command records its own (F3).
        """
        now = self.clock.now()
        establishment, access = self._acting(uow, actor, establishment_id, Permission.USERS_CREATE)
        for role_id in role_ids:
            establishment.role(role_id)
        administrator = not role_ids.isdisjoint(establishment.administrator_roles)
        if role_ids:  # giving roles is roles.assign's, whoever adds the member (C3)
            self._require(access, Permission.ROLES_ASSIGN, Target.establishment(establishment.id))
        self._require(
            access,
            Permission.USERS_CREATE,
            Target.change(
                establishment.id,
                grants=establishment.permissions_of(role_ids),
                administrator=administrator,
            ),
        )
        user = uow.users.find_by_email(address)
        if user is not None and user.kind is AccountKind.CLINIC:
            # A clinic login is tied to no member (F1): its address names no person to add.
            raise AccessRejected(
                [
                    Violation(
                        "member.clinic_login",
                        "this address is a clinic login's, not a person's",
                        "email",
                    )
                ]
            )
        created = user is None
        if user is None:
            user = self._new_user(address, *profile)
            uow.users.add(user)
        chosen, initials_notices = initials_for(uow, establishment.id, user, wanted)
        membership = Membership.join(
            user.id,
            establishment.id,
            roles=role_ids,
            created_at=now,
            created_account=created,
            initials=chosen,
        )
        uow.memberships.add(membership)
        if administrator:
            uow.establishments.update(establishment)
        notices = (*self.email_policy.notices(address), *initials_notices)
        return MemberAdded(user, membership, created, notices), establishment

    def _new_user(
        self,
        address: EmailAddress,
        first_name: str,
        last_name: str,
        job_title: str,
        login: str | None,
    ) -> User:
        errors: list[Rejected] = []
        parsed_login = None
        try:
            parsed_login = self.login_policy.parse(address.address if login is None else login)
        except Rejected as error:
            errors.append(error)
        profile = None
        try:
            profile = clean_profile(first_name=first_name, last_name=last_name, job_title=job_title)
        except Rejected as error:
            errors.append(error)
        if errors:
            raise Rejected.combine(errors)
        assert parsed_login is not None  # noqa: S101 - no error means both parsed
        assert profile is not None  # noqa: S101
        first, last, title = profile
        return User(
            id=self.new_user_id(),
            login=parsed_login,
            email=address,
            first_name=first,
            last_name=last,
            job_title=title,
            created_at=self.clock.now(),
        )

    @audited("member.set_roles")
    @_retried
    def set_roles(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        roles: Iterable[RoleId | str],
    ) -> Membership:
        """Give the member exactly these roles (C3, C4).

        Raises:
            PermissionDenied: the actor lacks ``roles.assign``, or
                ``roles.assign_administrator`` when Administrator is given or taken (C3).
            EscalationDenied: a role given or taken holds permissions the actor lacks.
            LastAdministrator: the last active administrator would lose the role.
            MembershipNotFound, RoleNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        role_ids = _role_ids(roles)
        return self._assign(
            actor, establishment_id, user_id, lambda _current: role_ids, action="member.set_roles"
        )

    @audited("member.grant_role")
    @_retried
    def grant_role(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        role: RoleId | str,
    ) -> Membership:
        """Add one role to the member's roles; see :meth:`set_roles`."""
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id, role=role)
        return self._assign(
            actor,
            establishment_id,
            user_id,
            lambda current: current | {RoleId(role)},
            action="member.grant_role",
            details={"role": role},
        )

    @audited("member.revoke_role")
    @_retried
    def revoke_role(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        role: RoleId | str,
    ) -> Membership:
        """Take one role away from the member; see :meth:`set_roles`."""
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id, role=role)
        return self._assign(
            actor,
            establishment_id,
            user_id,
            lambda current: current - {RoleId(role)},
            action="member.revoke_role",
            details={"role": role},
        )

    def _assign(
        self,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        change: Callable[[frozenset[RoleId]], frozenset[RoleId]],
        *,
        action: str,
        details: Mapping[str, DetailValue] | None = None,
    ) -> Membership:
        with self.unit_of_work() as uow:
            establishment, access = self._acting(
                uow, actor, establishment_id, Permission.ROLES_ASSIGN
            )
            before = uow.memberships.get(establishment.id, user_id)
            role_ids = change(before.roles)
            for role_id in role_ids - before.roles:
                establishment.role(role_id)
            after = before.with_roles(role_ids)
            stored = self._change_member(
                uow, access, establishment, before, after, permission=Permission.ROLES_ASSIGN
            )
            self._record_member(
                uow,
                action,
                actor,
                stored,
                {
                    **(details or {}),
                    "roles": _joined(stored.roles),
                    "previous_roles": _joined(before.roles),
                    "changed": after != before,
                },
            )
            uow.commit()
        return stored

    @audited("member.deactivate")
    @_retried
    def deactivate_member(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> Membership:
        """Deactivate the membership: kept and resolvable, giving no access here (A6, C3).

        Raises:
            PermissionDenied: the actor lacks ``users.deactivate`` (C3), or
                ``roles.assign_administrator`` when the member is an administrator.
            LastAdministrator: they are the establishment's last active administrator.
            MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        return self._set_status(
            actor, establishment_id, user_id, active=False, action="member.deactivate"
        )

    @audited("member.reactivate")
    @_retried
    def reactivate_member(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> Membership:
        """Reactivate the membership, restoring the access its roles give (A6).

        Raises:
            PermissionDenied: as :meth:`deactivate_member`. MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        return self._set_status(
            actor, establishment_id, user_id, active=True, action="member.reactivate"
        )

    def _set_status(
        self,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        *,
        active: bool,
        action: str,
    ) -> Membership:
        with self.unit_of_work() as uow:
            establishment, access = self._acting(
                uow, actor, establishment_id, Permission.USERS_DEACTIVATE
            )
            before = uow.memberships.get(establishment.id, user_id)
            after = before.reactivate() if active else before.deactivate()
            if not active and before.is_active:
                _release_supervisor(uow, [establishment.id], user_id)
                revoke_pins(uow, before.user_id, establishment.id)
            stored = self._change_member(
                uow,
                access,
                establishment,
                before,
                after,
                permission=Permission.USERS_DEACTIVATE,
                serialize=not active,
            )
            self._record_member(
                uow,
                action,
                actor,
                stored,
                {"status": str(stored.status), "changed": after != before},
            )
            uow.commit()
        return stored

    def _change_member(
        self,
        uow: AccessUnitOfWork,
        access: Access,
        establishment: Establishment,
        before: Membership,
        after: Membership,
        *,
        permission: Permission,
        serialize: bool = False,
    ) -> Membership:
        """Check and write the membership's change, without committing; return it as stored.

        ``after == before`` is allowed and writes nothing (no new version).
        """
        admin_roles = establishment.administrator_roles
        was_admin_role = not before.roles.isdisjoint(admin_roles)
        is_admin_role = not after.roles.isdisjoint(admin_roles)
        user_active = self._is_active_user(uow, before.user_id)
        was_admin = was_admin_role and before.is_active and user_active
        is_admin = is_admin_role and after.is_active and user_active
        administrator = was_admin_role != is_admin_role or (
            (was_admin_role or is_admin_role) and before.status is not after.status
        )
        left = None
        if was_admin and not is_admin:
            left = self._active_administrators(uow, establishment, excluding=before.user_id)
        target = Target.change(
            establishment.id,
            grants=establishment.permissions_of(before.roles ^ after.roles),
            administrator=administrator,
            administrators_left=left,
        )
        self._require(access, permission, target)
        if after == before:
            return before  # nothing changes: no write, no new version
        stored = uow.memberships.update(after)
        if administrator or serialize:
            uow.establishments.update(establishment)
        return stored

    def _record_member(
        self,
        uow: AccessUnitOfWork,
        action: str,
        actor: UserId,
        membership: Membership,
        details: Mapping[str, DetailValue],
    ) -> None:
        """Record the success of a command on ``membership``, in its unit of work (F3)."""
        self.auditor.record(
            uow,
            action,
            actor=actor,
            establishment_id=membership.establishment_id,
            target_type="user",
            target_id=membership.user_id,
            details=details,
        )

    def _is_active_user(self, uow: AccessUnitOfWork, user_id: UserId) -> bool:
        user = self._find_user(uow, user_id)
        return user is not None and user.is_active

    def _active_owners(
        self, uow: AccessUnitOfWork, organisation: Organisation, *, excluding: UserId
    ) -> int:
        return sum(
            1
            for owner in organisation.owners
            if owner != excluding and self._is_active_user(uow, owner)
        )

    def _active_administrators(
        self, uow: AccessUnitOfWork, establishment: Establishment, *, excluding: UserId
    ) -> int:
        admin_roles = establishment.administrator_roles
        return sum(
            1
            for m in uow.memberships.list_for_establishment(
                establishment.id, status=MembershipStatus.ACTIVE
            )
            if m.user_id != excluding
            and not m.roles.isdisjoint(admin_roles)
            and self._is_active_user(uow, m.user_id)
        )

    # -- accounts across establishments (A5, A6) -------------------------------------------

    def require(
        self, actor: UserId, permission: Permission, *, target: UserId | None = None
    ) -> None:
        """The :class:`~practiceid.ports.Authorizer` port, for acts on a whole account.

        An account is shared by every establishment its user works in (A1), so changing it
        (its e-mail address, A5; its login) needs ``permission`` in *every* one of them,
        unless the actor is support staff holding it, or it is one of the ``self_service``
        permissions and the actor is the target. Wire it into
        :class:`~practiceid.AccountService` as its ``authorizer``.

        Raises:
            PermissionDenied: with the first denial's reason.
        """
        with self.unit_of_work() as uow:
            self._require_over_account(uow, actor, permission, target)

    def _require_over_account(
        self,
        uow: AccessUnitOfWork,
        actor: UserId,
        permission: Permission,
        target: UserId | None,
        *,
        status_change: bool = False,
        deactivating: bool = False,
    ) -> list[Establishment]:
        """Raise unless ``actor`` may act on the account.

        With ``status_change``, return the establishments where the target is an active
        administrator: activating or deactivating the account makes or unmakes one there.
        """
        actor_user = self._find_user(uow, actor)
        if actor_user is None or not actor_user.is_active:
            reason = Reason.NOT_A_MEMBER if actor_user is None else Reason.USER_DEACTIVATED
            raise Decision(allowed=False, reason=reason, permission=permission, actor=actor).error()
        if target is not None and target == actor and permission in self.self_service:
            return []
        memberships = [] if target is None else list(uow.memberships.list_for_user(target))
        staff = permission in self.staff.get(actor, frozenset())
        if not memberships and not staff:
            raise Decision(
                allowed=False,
                reason=Reason.MISSING_PERMISSION,
                permission=permission,
                actor=actor,
                missing=frozenset({permission}),
            ).error()
        if not staff and not any(m.created_account for m in memberships):
            raise Decision(
                allowed=False, reason=Reason.ACCOUNT_NOT_MANAGED, permission=permission, actor=actor
            ).error()
        administered: list[Establishment] = []
        for membership in memberships:
            establishment = uow.establishments.get(membership.establishment_id)
            admin = (
                status_change
                and membership.is_active
                and not membership.roles.isdisjoint(establishment.administrator_roles)
            )
            if admin:
                administered.append(establishment)
            left = (
                self._active_administrators(uow, establishment, excluding=membership.user_id)
                if admin and deactivating
                else None
            )
            if staff and left is None:
                continue
            access = self._access(uow, actor, establishment)
            self._require(
                access,
                permission,
                Target.change(
                    establishment.id, administrator=admin and not staff, administrators_left=left
                ),
            )
        return administered

    @audited("account.deactivate")
    @_retried
    def deactivate_user(self, *, actor: UserId, user_id: UserId) -> User:
        """Deactivate the account everywhere: it can no longer log in (A6, C3).

        Needs ``users.deactivate`` in every establishment the user belongs to (and
        ``roles.assign_administrator`` where they are an administrator), or support staff
        holding ``users.deactivate``. The last active administrator of any of them stays. An
        owner's account also needs ``organisation.manage_owners`` in each organisation they
        own, and is refused when they are its last active owner (C2).

        Raises:
            PermissionDenied, LastAdministrator, LastOwner, UserNotFound (only once the
            actor is allowed: a refusal reveals nothing about the account).
        """
        _require_ids(actor=actor, user_id=user_id)
        return self._set_user_status(actor, user_id, active=False)

    @audited("account.reactivate")
    @_retried
    def reactivate_user(self, *, actor: UserId, user_id: UserId) -> User:
        """Reactivate the account (A6): its active memberships give their access again.

        Raises:
            PermissionDenied: as :meth:`deactivate_user`. UserNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        return self._set_user_status(actor, user_id, active=True)

    def _set_user_status(self, actor: UserId, user_id: UserId, *, active: bool) -> User:
        with self.unit_of_work() as uow:
            previous = self._find_user(uow, user_id)  # None: refused below, actor first
            stored = self.set_user_status_in(uow, actor, user_id, active=active)
            # The account is shared by its establishments (A1): its event is the platform's.
            self.auditor.record(
                uow,
                "account.reactivate" if active else "account.deactivate",
                actor=actor,
                target_type="user",
                target_id=stored.id,
                details={
                    "status": str(stored.status),
                    "changed": previous is None or previous.status is not stored.status,
                },
            )
            uow.commit()
        return stored

    def set_user_status_in(
        self, uow: AccessUnitOfWork, actor: UserId, user_id: UserId, *, active: bool
    ) -> User:
        """Deactivate or reactivate the account inside the caller's unit of work.

        For services built on this one; raises as :meth:`deactivate_user`. Records no audit
        event: the calling service's command records its own (F3).
        """
        # The actor first: a refusal must not tell a stranger whether the account exists.
        administered = self._require_over_account(
            uow,
            actor,
            Permission.USERS_DEACTIVATE,
            user_id,
            status_change=True,
            deactivating=not active,
        )
        user = uow.users.get(user_id)
        owned = [] if active else list(uow.organisations.list(owner=user_id))
        for organisation in owned:
            # An owner's account holds a whole organisation (C2): only whoever manages its
            # owners may take it away, and the last active owner stays.
            left = self._active_owners(uow, organisation, excluding=user_id)
            self._require(
                self._organisation_access(uow, actor, organisation),
                Permission.ORGANISATION_MANAGE_OWNERS,
                Target(organisation_id=organisation.id, owners_left=left),
            )
        touched = {e.id: e for e in administered}
        if not active and user.is_active:
            supervising = [
                m.establishment_id for m in uow.memberships.list_for_user(user_id) if m.is_active
            ]
            # Read the establishments before the trainees: storing them at the versions
            # read here serializes with trainee assignments, also on a database that
            # reads committed data (a later read would see the assignment's version).
            for establishment_id in supervising:
                touched.setdefault(establishment_id, uow.establishments.get(establishment_id))
            _release_supervisor(uow, supervising, user_id)
            revoke_pins(uow, user_id)
            revoke_factors(uow, user_id)
        stored = uow.users.update(user.reactivate() if active else user.deactivate())
        for establishment in touched.values():
            uow.establishments.update(establishment)
        for organisation in owned:
            uow.organisations.update(organisation)  # serializes concurrent owner changes
        return stored

    # -- roles (C4) -----------------------------------------------------------------------

    @audited("role.define", target_type="role", target="role_id")
    @_retried
    def define_role(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        name: str,
        permissions: Iterable[Permission | str],
        role_id: RoleId | None = None,
    ) -> Role:
        """Create a custom role, or redefine the role ``role_id`` (C4).

        Raises:
            PermissionDenied: the actor lacks ``roles.manage``.
            EscalationDenied: the permissions added or removed are not all the actor's.
            AccessRejected: empty or duplicate name, unknown permission, an administrator
                role (its permissions are fixed).
        """
        _require_ids(actor=actor, establishment_id=establishment_id, role_id=role_id)
        role = Role.custom(name, permissions, role_id=role_id)
        with self.unit_of_work() as uow:
            establishment, access = self._acting(
                uow, actor, establishment_id, Permission.ROLES_MANAGE
            )
            before = establishment.find_role(role.id)
            if before is not None:
                role = attrs.evolve(before, name=role.name, permissions=role.permissions)
            changed = role.permissions if before is None else role.permissions ^ before.permissions
            updated = establishment.with_role(role)
            self._require(
                access, Permission.ROLES_MANAGE, Target.change(establishment.id, grants=changed)
            )
            uow.establishments.update(updated)
            self.auditor.record(
                uow,
                "role.define",
                actor=actor,
                establishment_id=establishment.id,
                target_type="role",
                target_id=role.id,
                details={
                    "name": role.name,
                    "permissions": _joined(role.permissions),
                    "created": before is None,
                    "changed": before != role,
                },
            )
            uow.commit()
        return role

    # -- departments and delegations (C5, C6) -----------------------------------------------

    @audited("department.create", target_type="department", target="department_id")
    @_retried
    def create_department(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        name: str,
        features: Iterable[str] = (),
        department_id: DepartmentId | None = None,
    ) -> Department:
        """Create a department with these features (C5).

        Raises:
            PermissionDenied: the actor lacks ``departments.manage``.
            AccessRejected: empty or duplicate name, malformed feature code.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, department_id=department_id)
        department = Department.create(name, features, department_id=department_id)
        return self._store_department(
            actor, establishment_id, department, new=True, action="department.create"
        )

    @audited("department.set_features", target_type="department", target="department_id")
    @_retried
    def set_department_features(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        department_id: DepartmentId,
        features: Iterable[str],
    ) -> Department:
        """Switch the department's features to exactly these (C5).

        Members keep a feature while any of their departments has it.

        Raises:
            PermissionDenied, DepartmentNotFound, AccessRejected.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, department_id=department_id)
        codes = feature_codes(features)
        with self.unit_of_work() as uow:
            current = uow.establishments.get(establishment_id).department(department_id)
        return self._store_department(
            actor,
            establishment_id,
            attrs.evolve(current, features=codes),
            new=False,
            action="department.set_features",
        )

    def _store_department(
        self,
        actor: UserId,
        establishment_id: EstablishmentId,
        department: Department,
        *,
        new: bool,
        action: str,
    ) -> Department:
        with self.unit_of_work() as uow:
            establishment, _ = self._acting(
                uow, actor, establishment_id, Permission.DEPARTMENTS_MANAGE
            )
            if new and establishment.has_department(department.id):
                raise AccessRejected(
                    [Violation("department.duplicate_id", "this department id is taken", "id")]
                )
            details: dict[str, DetailValue] = {"features": _joined(department.features)}
            if new:
                details["name"] = department.name
            else:
                before = establishment.department(department.id)
                details["changed"] = before != department
            uow.establishments.update(establishment.with_department(department))
            self.auditor.record(
                uow,
                action,
                actor=actor,
                establishment_id=establishment.id,
                target_type="department",
                target_id=department.id,
                details=details,
            )
            uow.commit()
        return department

    @audited("member.set_departments")
    @_retried
    def set_departments(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        departments: Iterable[DepartmentId],
    ) -> Membership:
        """Put the member in exactly these departments (C5).

        Raises:
            PermissionDenied: the actor lacks ``departments.assign``.
            DepartmentNotFound, MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        chosen = frozenset(DepartmentId(d) for d in _ids(departments, field="departments"))
        with self.unit_of_work() as uow:
            establishment, _ = self._acting(
                uow, actor, establishment_id, Permission.DEPARTMENTS_ASSIGN
            )
            for department_id in chosen:
                establishment.department(department_id)
            before = uow.memberships.get(establishment.id, user_id)
            after = before.with_departments(chosen)
            stored = uow.memberships.update(after)
            self._record_member(
                uow,
                "member.set_departments",
                actor,
                stored,
                {"departments": _joined(chosen), "changed": after != before},
            )
            uow.commit()
        return stored

    @audited("member.set_features")
    @_retried
    def set_member_features(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        features: Iterable[str],
    ) -> Membership:
        """Grant the member exactly these features directly, beside their departments'.

        Source 002 switches some features per issuing physician; their delegates then
        inherit them (C6).

        Raises:
            PermissionDenied: the actor lacks ``departments.manage``.
            AccessRejected, MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        codes = feature_codes(features)
        with self.unit_of_work() as uow:
            establishment, _ = self._acting(
                uow, actor, establishment_id, Permission.DEPARTMENTS_MANAGE
            )
            before = uow.memberships.get(establishment.id, user_id)
            after = before.with_features(codes)
            stored = uow.memberships.update(after)
            self._record_member(
                uow,
                "member.set_features",
                actor,
                stored,
                {"features": _joined(codes), "changed": after != before},
            )
            uow.commit()
        return stored

    @audited("member.set_delegations")
    @_retried
    def set_delegations(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        delegations: Iterable[Delegation | UserId],
    ) -> Membership:
        """Let the member act on behalf of exactly these physicians (C6).

        A bare user id delegates with ``inherit_features=True`` (the default of source
        002). Each physician must be an active member of the establishment who holds
        ``documents.issue``; when a secretary changes physician, call this again: nothing
        moves by itself.

        Raises:
            PermissionDenied: the actor lacks ``departments.manage_delegations``.
            AccessRejected: ``delegation.self``, ``delegation.not_a_physician``.
            MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        chosen = _delegation_list(delegations)
        with self.unit_of_work() as uow:
            establishment, _ = self._acting(
                uow, actor, establishment_id, Permission.DELEGATIONS_MANAGE
            )
            before = uow.memberships.get(establishment.id, user_id)
            violations: list[Violation] = []
            for delegation in chosen:
                if delegation.physician == user_id:
                    violations.append(
                        Violation(
                            "delegation.self", "a member cannot delegate to themself", "delegations"
                        )
                    )
                    continue
                physician = uow.memberships.find(establishment.id, delegation.physician)
                if (
                    physician is None
                    or not physician.is_active
                    or not establishment.issues_documents(physician.roles)
                ):
                    violations.append(
                        Violation(
                            "delegation.not_a_physician",
                            "delegations go to active members who issue documents",
                            "delegations",
                            {"physician": delegation.physician},
                        )
                    )
            if violations:
                raise AccessRejected(violations)
            after = before.with_delegations(chosen)
            stored = uow.memberships.update(after)
            self._record_member(
                uow,
                "member.set_delegations",
                actor,
                stored,
                {
                    "physicians": _joined(d.physician for d in stored.delegations),
                    "inheriting_features": _joined(
                        d.physician for d in stored.delegations if d.inherit_features
                    ),
                    "changed": after != before,
                },
            )
            uow.commit()
        return stored
