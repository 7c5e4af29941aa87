"""The permission catalogue (C4) and the feature switches of departments (C5).

A *permission* is an act a member may perform: lock a consultation, cancel a payment, create
users. Roles are named sets of permissions (:class:`~practiceid.Role`). The catalogue covers
what the four products in the requirements describe; its values are stable dotted codes,
like error codes, and are only ever added, never renamed.

A *feature* is a capability of the product switched on for a department ("integration into
the hospital record", C5) rather than an act a role grants. Features are open: hosts may use
their own dotted codes beside the four in :class:`Feature`.

>>> Permission.USERS_CREATE.group
<PermissionGroup.USERS: 'users'>
>>> Permission("consultations.lock").requirements
('C4',)
>>> len(Permission) >= 40
True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Final, Self

from practiceid.errors import AccessRejected, Violation

__all__ = [
    "ESTABLISHMENT_PERMISSIONS",
    "PLATFORM_PERMISSIONS",
    "Feature",
    "Permission",
    "PermissionGroup",
    "feature_codes",
]


class PermissionGroup(enum.StrEnum):
    """The groups of the catalogue, in the order an administration screen lists them."""

    USERS = "users"
    ROLES = "roles"
    DEPARTMENTS = "departments"
    ESTABLISHMENT = "establishment"
    ORGANISATION = "organisation"
    PATIENTS = "patients"
    CONSULTATIONS = "consultations"
    AGENDA = "agenda"
    PAYMENTS = "payments"
    REPORTS = "reports"
    DOCUMENTS = "documents"
    AUDIT = "audit"
    LICENSES = "licenses"
    DEVICES = "devices"


class Permission(enum.StrEnum):
    """An act that needs a permission. Values are stable codes: ``<group>.<act>``.

    ``group``, ``description`` and ``requirements`` (the requirement ids the permission comes
    from) feed an administration screen.
    """

    group: PermissionGroup
    description: str
    requirements: tuple[str, ...]

    # -- users ---------------------------------------------------------------------------
    USERS_VIEW = (
        "users.view",
        "See the establishment's members, their roles and their status.",
        ("D2",),
    )
    USERS_CREATE = (
        "users.create",
        "Create users and attach existing users to the establishment.",
        ("C1", "C3"),
    )
    USERS_EDIT_PROFILE = (
        "users.edit_profile",
        "Edit a member's name, job title, initials and practitioner data; choose supervisors.",
        ("A7", "B1", "B2", "B3", "B4", "B5"),
    )
    USERS_DEACTIVATE = (
        "users.deactivate",
        "Deactivate and reactivate members; nobody is ever deleted.",
        ("A6", "C3"),
    )
    USERS_INVITE = (
        "users.invite",
        "Send and re-send invitations and password-setting links.",
        ("D1", "D2"),
    )
    USERS_MANAGE_FACTORS = (
        "users.manage_factors",
        "Add, change or delete a member's second authentication factors.",
        ("F5",),
    )
    USERS_MANAGE_IP_FACTORS = (
        "users.manage_ip_factors",
        "Set IP-address second factors: support only.",
        ("F5",),
    )
    USERS_MANAGE_KEYS = (
        "users.manage_keys",
        (
            "Generate a member's key pair for them, and replace a lost one: what was "
            "encrypted for the old key becomes unreadable."
        ),
        ("D3",),
    )
    CHANGE_EMAIL = "users.change_email", "Change a user's e-mail address: support only.", ("A5",)
    CHANGE_LOGIN = (
        "users.change_login",
        "Change another user's login (A1); everyone may change their own.",
        ("A1",),
    )
    # -- roles ---------------------------------------------------------------------------
    ROLES_VIEW = "roles.view", "See the establishment's roles and what they allow.", ("C4",)
    ROLES_MANAGE = (
        "roles.manage",
        "Create, edit and retire custom roles, within one's own permissions.",
        ("C4",),
    )
    ROLES_ASSIGN = (
        "roles.assign",
        "Give members roles other than Administrator, within one's own permissions.",
        ("C3",),
    )
    ROLES_ASSIGN_ADMINISTRATOR = (
        "roles.assign_administrator",
        "Make a member Administrator or take the role away.",
        ("C3",),
    )
    # -- departments ---------------------------------------------------------------------
    DEPARTMENTS_MANAGE = (
        "departments.manage",
        "Create departments and switch their features on or off.",
        ("C5",),
    )
    DEPARTMENTS_ASSIGN = (
        "departments.assign",
        "Put members in departments and take them out.",
        ("C5",),
    )
    DELEGATIONS_MANAGE = (
        "departments.manage_delegations",
        "Let a member act on behalf of issuing physicians (medical identities).",
        ("C6",),
    )
    # -- establishment -------------------------------------------------------------------
    ESTABLISHMENT_EDIT_PROFILE = (
        "establishment.edit_profile",
        "Edit the establishment's name, address, phone and logo.",
        ("C7",),
    )
    ESTABLISHMENT_MANAGE_SETTINGS = (
        "establishment.manage_settings",
        "Change the establishment's product settings.",
        (),
    )
    # -- organisation --------------------------------------------------------------------
    ESTABLISHMENTS_CREATE = (
        "organisation.create_establishments",
        "Open new establishments in the organisation: owners.",
        ("C2",),
    )
    ORGANISATION_MANAGE_OWNERS = (
        "organisation.manage_owners",
        "Add or remove owners of the organisation.",
        ("C2",),
    )
    # -- patients ------------------------------------------------------------------------
    PATIENTS_VIEW = (
        "patients.view",
        "Open patient records, including those of deactivated practitioners.",
        ("A6",),
    )
    PATIENTS_EDIT = (
        "patients.edit",
        "Edit patient records, including those of deactivated practitioners.",
        ("A6",),
    )
    PATIENTS_EXPORT = "patients.export", "Export patient data.", ()
    # -- consultations -------------------------------------------------------------------
    CONSULTATIONS_EDIT = "consultations.edit", "Write and edit consultation notes (SOAP).", ()
    CONSULTATIONS_SIGN = (
        "consultations.sign",
        "Sign consultations as the responsible practitioner.",
        ("E4",),
    )
    CONSULTATIONS_LOCK = "consultations.lock", "Lock and unlock a consultation.", ("C4",)
    # -- agenda --------------------------------------------------------------------------
    AGENDA_VIEW = "agenda.view", "See the practitioners' schedules.", ()
    AGENDA_MANAGE = "agenda.manage", "Book, move and cancel appointments.", ()
    # -- payments ------------------------------------------------------------------------
    PAYMENTS_VIEW = "payments.view", "See payments and invoices.", ()
    PAYMENTS_RECORD = "payments.record", "Record payments and issue invoices.", ()
    PAYMENTS_EDIT = "payments.edit", "Edit recorded payments.", ("C4",)
    PAYMENTS_CANCEL = "payments.cancel", "Cancel payments.", ("C4",)
    BILLING_MANAGE = (
        "payments.manage_billing",
        "Edit financial data: enterprise number, IBAN, conventioned status, trainee account.",
        ("B4", "B6"),
    )
    # -- reports -------------------------------------------------------------------------
    REPORTS_GENERATE = "reports.generate", "Generate clinical and activity reports.", ("C4",)
    REPORTS_FINANCIAL = "reports.financial", "Generate financial reports.", ()
    # -- documents -----------------------------------------------------------------------
    DOCUMENTS_VIEW = "documents.view", "Read the establishment's documents and letters.", ()
    DOCUMENTS_SEND = (
        "documents.send",
        "Send documents, in one's own name or on behalf of delegating physicians.",
        ("C6",),
    )
    DOCUMENTS_ISSUE = (
        "documents.issue",
        "Issue documents as a physician: others may be delegated to send in one's name.",
        ("C6",),
    )
    # -- audit ---------------------------------------------------------------------------
    AUDIT_VIEW = "audit.view", "Read the audit log (who did what, under whose PIN, F3).", ("F3",)
    AUDIT_EXPORT = "audit.export", "Export the audit log.", ()
    # -- licenses ------------------------------------------------------------------------
    LICENSES_VIEW = (
        "licenses.view",
        "See the establishment's licenses and their state.",
        ("E1", "E2", "E3", "E4"),
    )
    LICENSES_REQUEST = "licenses.request", "Request a license's activation.", ("E2",)
    LICENSES_MANAGE = (
        "licenses.manage",
        "Choose members' license types: physician, locum, employee.",
        ("E4",),
    )
    LICENSES_ADMINISTER = (
        "licenses.administer",
        "Invoice, record payments and activate licenses: the vendor's license desk only.",
        ("E2",),
    )
    # -- devices -------------------------------------------------------------------------
    DEVICES_MANAGE = "devices.manage", "Create the clinic login and manage shared devices.", ("F1",)
    DEVICES_GRANT_REMOTE_ACCESS = (
        "devices.grant_remote_access",
        "Grant members remote access.",
        ("F4",),
    )
    DEVICES_RESET_PIN = "devices.reset_pin", "Issue a member a new PIN.", ("F2",)

    def __new__(cls, value: str, description: str, requirements: tuple[str, ...]) -> Self:
        """Make a member from ``(code, description, requirement ids)``."""
        member = str.__new__(cls, value)
        member._value_ = value
        member.group = PermissionGroup(value.split(".", 1)[0])
        member.description = description
        member.requirements = requirements
        return member


PLATFORM_PERMISSIONS: Final[frozenset[Permission]] = frozenset(
    {Permission.CHANGE_EMAIL, Permission.USERS_MANAGE_IP_FACTORS, Permission.LICENSES_ADMINISTER}
)
"""Permissions the sources reserve for the vendor (A5, F5, E2).

Built-in role templates give them only to the Support role; an establishment's own
administrators do not receive them unless the host says so.
"""

ESTABLISHMENT_PERMISSIONS: Final[frozenset[Permission]] = frozenset(Permission) - frozenset(
    {Permission.ESTABLISHMENTS_CREATE, Permission.ORGANISATION_MANAGE_OWNERS}
)
"""Every permission that has a meaning inside one establishment.

The two organisation permissions are held by the organisation's owners only (C2).
"""


class Feature(enum.StrEnum):
    """The department features of source 002 (C5). Hosts may add their own codes."""

    EHR_INTEGRATION = "ehr.integration"
    """Integrate documents into the hospital's patient record ("Intégration au DPI")."""
    DMP_SENDING = "dmp.send"
    """Send documents to the French shared medical record ("Envoi vers le DMP")."""
    PATIENT_CONTACT_RETRIEVAL = "patient_contact.retrieve"
    """Retrieve patients' e-mails and phones from the admission system (GAM/GAP)."""
    PMSI_REDIRECTION = "pmsi.redirect"
    """Redirect to the coding department ("Redirection vers le PMSI")."""


_FEATURE_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}(?:\.[a-z][a-z0-9_]{0,39}){0,3}")


def feature_codes(features: Iterable[object], *, field: str = "features") -> frozenset[str]:
    """Return ``features`` as a frozenset of feature codes, or raise :class:`AccessRejected`.

    A code is one to four dotted lower-case words (``"ehr.integration"``, ``"labs.orders"``);
    :class:`Feature` members are codes.

    >>> sorted(feature_codes([Feature.DMP_SENDING, "labs.orders"]))
    ['dmp.send', 'labs.orders']
    >>> feature_codes(["Labs Orders"])
    Traceback (most recent call last):
    ...
    practiceid.errors.AccessRejected: a feature code is one to four dotted lower-case words
    """
    if isinstance(features, str):
        features = (features,)
    codes: set[str] = set()
    violations: list[Violation] = []
    try:
        items = list(features)
    except TypeError:
        items = [features]
    for feature in items:
        if isinstance(feature, str) and _FEATURE_CODE.fullmatch(feature):
            codes.add(str(feature))
        else:
            violations.append(
                Violation(
                    "feature.invalid_code",
                    "a feature code is one to four dotted lower-case words",
                    field,
                    {"type": type(feature).__name__},
                )
            )
    if violations:
        raise AccessRejected(violations[:1])
    return frozenset(codes)
