"""Organisations, establishments, their roles and their departments (C2-C5).

An :class:`Organisation` is an owner's group of establishments: its owners manage every one
of them, a director (an establishment's Administrator) only their own (C2, source 004).

An :class:`Establishment` is one practice, clinic, centre or hospital. It is an aggregate:
its :class:`Role` definitions (C4) and :class:`Department` s (C5) live inside it and change
with it, under its ``version``. Memberships (:class:`~practiceid.Membership`) are stored
apart because an establishment has thousands of them.

Every establishment starts from the role templates of its :class:`ProductKind`; hosts add
custom roles. Roles flagged ``administrator`` hold every establishment permission but the
support-only ones, and cannot be edited: that is what makes administrators distinguishable
(C3) and the "at least one active administrator" rule meaningful.

>>> from datetime import UTC, datetime
>>> clinic = Establishment.open(
...     EstablishmentId("vet-namur"),
...     organisation_id=OrganisationId("vet-group"),
...     name="Clinique vétérinaire de Namur",
...     product=ProductKind.VETERINARY,
...     created_at=datetime(2026, 1, 5, tzinfo=UTC),
... )
>>> [role.name for role in clinic.roles][:4]
['Administrator', 'User manager', 'Veterinarian', 'Veterinary nurse']
>>> clinic.role(RoleId("administrator")).administrator
True
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final, NewType

import attrs

from practiceid._text import clean_name
from practiceid.errors import (
    AccessRejected,
    DepartmentNotFound,
    InvalidConfiguration,
    RoleNotFound,
    Violation,
)
from practiceid.permissions import (
    ESTABLISHMENT_PERMISSIONS,
    PLATFORM_PERMISSIONS,
    Permission,
    feature_codes,
)
from practiceid.users import UserId

__all__ = [
    "ADMINISTRATOR_PERMISSIONS",
    "OWNER_PERMISSIONS",
    "ROLE_TEMPLATES",
    "Department",
    "DepartmentId",
    "Establishment",
    "EstablishmentId",
    "Organisation",
    "OrganisationId",
    "ProductKind",
    "Role",
    "RoleId",
    "RoleTemplate",
]

OrganisationId = NewType("OrganisationId", str)
"""An opaque organisation identifier."""
EstablishmentId = NewType("EstablishmentId", str)
"""An opaque establishment identifier."""
RoleId = NewType("RoleId", str)
"""A role's identifier, unique within its establishment (``"physician"``, …)."""
DepartmentId = NewType("DepartmentId", str)
"""A department's identifier, unique within its establishment."""

ADMINISTRATOR_PERMISSIONS: Final[frozenset[Permission]] = (
    ESTABLISHMENT_PERMISSIONS - PLATFORM_PERMISSIONS
)
"""What an administrator role holds: everything in the establishment but support's acts."""

OWNER_PERMISSIONS: Final[frozenset[Permission]] = frozenset(Permission) - PLATFORM_PERMISSIONS
"""What an organisation's owners hold in each of its establishments, and over it (C2)."""

_MAX_NAME = 100
_BY_CODE: Final[Mapping[str, Permission]] = MappingProxyType({p.value: p for p in Permission})


def _permission_set(values: Iterable[Permission]) -> frozenset[Permission]:
    return frozenset(values)


def _user_set(values: Iterable[UserId]) -> frozenset[UserId]:
    return frozenset(values)


def _role_tuple(values: Iterable[Role]) -> tuple[Role, ...]:
    return tuple(values)


def _department_tuple(values: Iterable[Department]) -> tuple[Department, ...]:
    return tuple(values)


def _rejected(field: str, prefix: str, raw: object) -> str:
    value, problems = clean_name(raw, field=field, prefix=prefix, max_length=_MAX_NAME)
    if problems:
        raise AccessRejected(
            Violation(code, text, field, params) for code, text, params in problems
        )
    return value


def _permissions(values: Iterable[object]) -> frozenset[Permission]:
    if isinstance(values, str):
        values = (values,)
    try:
        items = list(values)
    except TypeError:
        items = [values]
    chosen: set[Permission] = set()
    unknown = 0
    for value in items:
        permission = _BY_CODE.get(value) if isinstance(value, str) else None
        if permission is None:
            unknown += 1
        else:
            chosen.add(permission)
    if unknown:
        raise AccessRejected(
            [
                Violation(
                    "role.unknown_permission",
                    "a role can only hold permissions of the catalogue",
                    "permissions",
                    {"unknown": unknown},
                )
            ]
        )
    return frozenset(chosen)


class ProductKind(enum.StrEnum):
    """The four kinds of product in the requirements; each has its role templates."""

    GENERAL_PRACTICE = "general_practice"
    """A Belgian general practice EMR (sources 000, 001)."""
    HOSPITAL = "hospital"
    """A French hospital document platform (source 002)."""
    VETERINARY = "veterinary"
    """A veterinary clinic (source 003)."""
    DENTAL = "dental"
    """A French dental centre (source 004)."""


@attrs.frozen
class Role:
    """A named set of permissions in one establishment (C4).

    ``template`` names the built-in template the role was made from, or is ``None`` for a
    custom role. An ``administrator`` role always holds :data:`ADMINISTRATOR_PERMISSIONS`.
    """

    id: RoleId
    name: str
    permissions: frozenset[Permission] = attrs.field(converter=_permission_set)
    administrator: bool = False
    template: str | None = None

    @classmethod
    def custom(
        cls, name: str, permissions: Iterable[Permission | str], *, role_id: RoleId | None = None
    ) -> Role:
        """Return a new custom role; refuse an empty name or permissions not in the catalogue.

        Raises:
            AccessRejected: ``role.required``, ``role.too_long``, ``role.unknown_permission``…
        """
        return cls(
            id=role_id if role_id is not None else RoleId(f"role-{uuid.uuid4().hex[:12]}"),
            name=_rejected("name", "role", name),
            permissions=_permissions(permissions),
        )


@attrs.frozen
class RoleTemplate:
    """A built-in role: its stable ``key`` (the role id), display name and permissions."""

    key: str
    name: str
    permissions: frozenset[Permission]
    administrator: bool = False

    def role(self) -> Role:
        """Return the role this template makes."""
        return Role(
            id=RoleId(self.key),
            name=self.name,
            permissions=self.permissions,
            administrator=self.administrator,
            template=self.key,
        )


@attrs.frozen
class Department:
    """A department ("service", C5): members belong to it and inherit its features."""

    id: DepartmentId
    name: str
    features: frozenset[str] = frozenset()

    @classmethod
    def create(
        cls,
        name: str,
        features: Iterable[str] = (),
        *,
        department_id: DepartmentId | None = None,
    ) -> Department:
        """Return a new department; refuse an empty name or malformed feature codes."""
        return cls(
            id=department_id
            if department_id is not None
            else DepartmentId(f"dept-{uuid.uuid4().hex[:12]}"),
            name=_rejected("name", "department", name),
            features=feature_codes(features),
        )


@attrs.frozen
class Organisation:
    """An owner's group of establishments (C2). Owners manage every establishment in it."""

    id: OrganisationId
    name: str
    owners: frozenset[UserId] = attrs.field(converter=_user_set)
    created_at: datetime
    version: int = 0

    @classmethod
    def found(
        cls,
        organisation_id: OrganisationId,
        *,
        name: str,
        owner: UserId,
        created_at: datetime,
    ) -> Organisation:
        """Return a new organisation with its first owner."""
        return cls(
            id=organisation_id,
            name=_rejected("name", "organisation", name),
            owners=frozenset({owner}),
            created_at=created_at,
        )

    def with_owners(self, owners: Iterable[UserId]) -> Organisation:
        """Return this organisation with another set of owners."""
        return attrs.evolve(self, owners=frozenset(owners))


def _role_index(establishment: Establishment) -> Mapping[RoleId, Role]:
    return MappingProxyType({role.id: role for role in establishment.roles})


def _department_index(establishment: Establishment) -> Mapping[DepartmentId, Department]:
    return MappingProxyType({d.id: d for d in establishment.departments})


@attrs.frozen
class Establishment:
    """One practice, clinic, centre or hospital, with its roles and departments.

    ``roles`` and ``departments`` are in creation order. ``version`` counts stored changes:
    repositories refuse a stale update, so two administrators changing the establishment at
    once cannot both win. Services also store the establishment whenever its administrators
    change, so two concurrent demotions of the last two administrators conflict instead of
    both succeeding.
    """

    id: EstablishmentId
    organisation_id: OrganisationId
    name: str
    product: ProductKind
    created_at: datetime
    roles: tuple[Role, ...] = attrs.field(converter=_role_tuple)
    departments: tuple[Department, ...] = attrs.field(default=(), converter=_department_tuple)
    version: int = 0
    _roles_by_id: Mapping[RoleId, Role] = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(_role_index, takes_self=True)
    )
    _departments_by_id: Mapping[DepartmentId, Department] = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(_department_index, takes_self=True),
    )

    @classmethod
    def open(
        cls,
        establishment_id: EstablishmentId,
        *,
        organisation_id: OrganisationId,
        name: str,
        product: ProductKind,
        created_at: datetime,
        templates: Mapping[ProductKind, Iterable[RoleTemplate]] | None = None,
    ) -> Establishment:
        """Return a new establishment with the role templates of ``product``.

        ``templates`` replaces :data:`ROLE_TEMPLATES` (a host's own roles per product); it
        must give the product at least one administrator template.
        """
        try:
            kind = ProductKind(product)
        except ValueError:
            raise AccessRejected(
                [
                    Violation(
                        "establishment.unknown_product",
                        "the product kind is not one of ProductKind",
                        "product",
                    )
                ]
            ) from None
        return cls(
            id=establishment_id,
            organisation_id=organisation_id,
            name=_rejected("name", "establishment", name),
            product=kind,
            created_at=created_at,
            roles=_template_roles(kind, ROLE_TEMPLATES if templates is None else templates),
        )

    @property
    def administrator_roles(self) -> frozenset[RoleId]:
        """The ids of the roles that make a member an administrator (C3)."""
        return frozenset(role.id for role in self.roles if role.administrator)

    def find_role(self, role_id: RoleId) -> Role | None:
        """Return the role with this id, or None."""
        try:
            return self._roles_by_id.get(role_id)
        except TypeError:  # an unhashable id names no role
            return None

    def has_department(self, department_id: DepartmentId) -> bool:
        """Return True when a department has this id."""
        try:
            return department_id in self._departments_by_id
        except TypeError:
            return False

    def role(self, role_id: RoleId) -> Role:
        """Return the role with this id; raise RoleNotFound."""
        try:
            return self._roles_by_id[role_id]
        except (KeyError, TypeError):
            raise RoleNotFound(establishment_id=self.id, role_id=str(role_id)) from None

    def department(self, department_id: DepartmentId) -> Department:
        """Return the department with this id; raise DepartmentNotFound."""
        try:
            return self._departments_by_id[department_id]
        except (KeyError, TypeError):
            raise DepartmentNotFound(
                establishment_id=self.id, department_id=str(department_id)
            ) from None

    def permissions_of(self, role_ids: Iterable[RoleId]) -> frozenset[Permission]:
        """Return the union of the permissions of these roles (unknown ids count for none)."""
        roles = self._roles_by_id
        found = [roles[r].permissions for r in role_ids if r in roles]
        return frozenset().union(*found)

    def issues_documents(self, role_ids: Iterable[RoleId]) -> bool:
        """Return True when these roles make a physician others may act for (C6).

        That is ``documents.issue`` held through a role other than Administrator: an
        administrator holds every permission without being a physician.
        """
        roles = self._roles_by_id
        return any(
            Permission.DOCUMENTS_ISSUE in roles[r].permissions
            for r in role_ids
            if r in roles and not roles[r].administrator
        )

    def features_of(self, department_ids: Iterable[DepartmentId]) -> frozenset[str]:
        """Return the union of the features of these departments (C5)."""
        departments = self._departments_by_id
        found = [departments[d].features for d in department_ids if d in departments]
        return frozenset().union(*found)

    def with_role(self, role: Role) -> Establishment:
        """Return this establishment with ``role`` added, or replacing the role of its id.

        Raises:
            AccessRejected: ``role.read_only`` for an administrator role (its permissions
                are fixed), ``role.duplicate_name`` when another role has the name.
        """
        current = self._roles_by_id.get(role.id)
        if role.administrator or (current is not None and current.administrator):
            raise AccessRejected(
                [
                    Violation(
                        "role.read_only",
                        "administrator roles hold every permission and cannot be edited",
                        "role",
                        {"role_id": role.id},
                    )
                ]
            )
        _refuse_duplicate_name("role", role.id, role.name, ((r.id, r.name) for r in self.roles))
        roles = dict(self._roles_by_id)
        roles[role.id] = role
        return attrs.evolve(self, roles=tuple(roles.values()))

    def with_department(self, department: Department) -> Establishment:
        """Return this establishment with ``department`` added or replaced.

        Raises:
            AccessRejected: ``department.duplicate_name``.
        """
        _refuse_duplicate_name(
            "department", department.id, department.name, ((d.id, d.name) for d in self.departments)
        )
        departments = dict(self._departments_by_id)
        departments[department.id] = department
        return attrs.evolve(self, departments=tuple(departments.values()))


def _refuse_duplicate_name(
    kind: str, own_id: str, name: str, others: Iterable[tuple[str, str]]
) -> None:
    """Raise ``<kind>.duplicate_name`` when another item has ``name``, case folded."""
    folded = name.casefold()
    if any(
        other_name.casefold() == folded and other_id != own_id for other_id, other_name in others
    ):
        raise AccessRejected(
            [
                Violation(
                    f"{kind}.duplicate_name",
                    f"another {kind} of the establishment has this name",
                    "name",
                )
            ]
        )


def _template_roles(
    product: ProductKind, templates: Mapping[ProductKind, Iterable[RoleTemplate]]
) -> list[Role]:
    roles = [template.role() for template in templates.get(product, ())]
    if not any(role.administrator for role in roles):
        raise InvalidConfiguration(
            "role templates must give every product an administrator role",
            product=str(product),
        )
    return roles


def _set(*permissions: Permission) -> frozenset[Permission]:
    return frozenset(permissions)


_P = Permission
_CLINICIAN = _set(
    _P.USERS_VIEW,
    _P.PATIENTS_VIEW,
    _P.PATIENTS_EDIT,
    _P.CONSULTATIONS_EDIT,
    _P.CONSULTATIONS_SIGN,
    _P.CONSULTATIONS_LOCK,
    _P.AGENDA_VIEW,
    _P.AGENDA_MANAGE,
    _P.PAYMENTS_VIEW,
    _P.PAYMENTS_RECORD,
    _P.REPORTS_GENERATE,
    _P.DOCUMENTS_VIEW,
    _P.DOCUMENTS_SEND,
    _P.DOCUMENTS_ISSUE,
    _P.LICENSES_VIEW,
    _P.LICENSES_REQUEST,
)
_FRONT_DESK = _set(
    _P.USERS_VIEW,
    _P.PATIENTS_VIEW,
    _P.PATIENTS_EDIT,
    _P.AGENDA_VIEW,
    _P.AGENDA_MANAGE,
    _P.PAYMENTS_VIEW,
    _P.PAYMENTS_RECORD,
    _P.DOCUMENTS_VIEW,
    _P.DOCUMENTS_SEND,
)
# A user manager can only give roles whose permissions they hold (no escalation): with the
# front desk's permissions they can add and equip secretaries and receptionists themselves.
_USER_MANAGER = _FRONT_DESK | _set(
    _P.USERS_VIEW,
    _P.USERS_CREATE,
    _P.USERS_EDIT_PROFILE,
    _P.USERS_DEACTIVATE,
    _P.USERS_INVITE,
    _P.USERS_MANAGE_FACTORS,
    _P.CHANGE_LOGIN,
    _P.ROLES_VIEW,
    _P.ROLES_ASSIGN,
    _P.DEPARTMENTS_ASSIGN,
    _P.DELEGATIONS_MANAGE,
    _P.DEVICES_RESET_PIN,
    _P.LICENSES_VIEW,
)
_TRAINEE = _set(
    _P.PATIENTS_VIEW,
    _P.PATIENTS_EDIT,
    _P.CONSULTATIONS_EDIT,
    _P.AGENDA_VIEW,
    _P.DOCUMENTS_VIEW,
    _P.DOCUMENTS_SEND,
)
_ASSISTANT = _set(
    _P.PATIENTS_VIEW,
    _P.CONSULTATIONS_EDIT,
    _P.AGENDA_VIEW,
    _P.DOCUMENTS_VIEW,
)
_SUPPORT = _set(
    _P.USERS_VIEW,
    _P.USERS_INVITE,
    _P.USERS_MANAGE_FACTORS,
    _P.USERS_MANAGE_IP_FACTORS,
    _P.USERS_MANAGE_KEYS,
    _P.CHANGE_EMAIL,
    _P.CHANGE_LOGIN,
    _P.ROLES_VIEW,
    _P.AUDIT_VIEW,
    _P.LICENSES_VIEW,
    _P.LICENSES_ADMINISTER,
)


def _templates(
    clinician: str, front_desk: str, trainee: str, *extra: RoleTemplate
) -> tuple[RoleTemplate, ...]:
    return (
        RoleTemplate(
            "administrator", "Administrator", ADMINISTRATOR_PERMISSIONS, administrator=True
        ),
        RoleTemplate("user_manager", "User manager", _USER_MANAGER),
        RoleTemplate("physician", clinician, _CLINICIAN),
        *extra,
        RoleTemplate("secretary", front_desk, _FRONT_DESK),
        RoleTemplate("trainee", trainee, _TRAINEE),
        RoleTemplate("support", "Support", _SUPPORT),
    )


ROLE_TEMPLATES: Final[Mapping[ProductKind, tuple[RoleTemplate, ...]]] = MappingProxyType(
    {
        ProductKind.GENERAL_PRACTICE: _templates(
            "Physician", "Secretary", "General practitioner in training"
        ),
        ProductKind.HOSPITAL: _templates("Physician", "Medical secretary", "Intern"),
        ProductKind.VETERINARY: _templates(
            "Veterinarian",
            "Receptionist",
            "Trainee",
            RoleTemplate("nurse", "Veterinary nurse", _ASSISTANT | {_P.PATIENTS_EDIT}),
        ),
        ProductKind.DENTAL: _templates(
            "Dental surgeon",
            "Secretary",
            "Trainee",
            RoleTemplate("assistant", "Dental assistant", _ASSISTANT),
        ),
    }
)
"""The built-in roles of each product kind, in display order.

Every product has Administrator, User manager, a clinician role keyed ``physician``,
Secretary/Receptionist (``secretary``), Trainee and Support; veterinary clinics add a
Veterinary nurse and dental centres a Dental assistant. Role ids are the template keys, so
``RoleId("physician")`` means the clinician role in every product.
"""
