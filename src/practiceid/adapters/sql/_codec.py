"""Entities to rows and back: the only place that knows how a value is laid out in SQL.

Values in, values out: rows never leave the adapter. Professional numbers are stored by
their compact ``number`` and parsed again on the way out (their policies' ``parse``), so
what comes back carries everything its type derives (an INAMI number's profession, an
IBAN's BIC). Logins and e-mail addresses are stored as typed, beside their keys, and
rebuilt with ``Login(display)`` and ``EmailAddress(address)``. Instants inside JSON documents
are ISO 8601 text with their offset, read back equal. Amounts are their ``Decimal``'s text,
read back with the same digits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, cast

from sqlalchemy import RowMapping

from practiceid.audit import AuditEvent, AuditRecord, DetailValue, Outcome
from practiceid.devices import (
    ClinicLogin,
    DeviceSession,
    DeviceSessionId,
    DeviceState,
    MemberCredential,
    PinGuard,
)
from practiceid.establishment_profiles import EstablishmentProfile
from practiceid.establishments import (
    Department,
    DepartmentId,
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
    Role,
    RoleId,
)
from practiceid.factors import Factor, FactorGuard, FactorId, FactorKind, FactorRequirement
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    TermsOfUse,
)
from practiceid.keypairs import KeyAlgorithm, KeyPair, KeyPairStatus
from practiceid.licenses import License, LicenseKind, LicenseRequest, LicenseStatus
from practiceid.memberships import Delegation, Membership, MembershipStatus
from practiceid.outbox import Message, MessageId, MessageStatus
from practiceid.permissions import Permission
from practiceid.policies import initials as initials_policy
from practiceid.policies.contact import Address, AddressKind
from practiceid.policies.email import EmailAddress
from practiceid.policies.identifiers import adeli, bce, finess, iban, inami, niss, rpps
from practiceid.policies.identifiers.finess import FinessKind
from practiceid.policies.login import Login
from practiceid.policies.logo import Logo, MediaType
from practiceid.policies.professions import Profession
from practiceid.practitioners import (
    BillingData,
    EdmgRegistration,
    EHealthCertificate,
    HubRegion,
    Mutuality,
    Practitioner,
    PractitionerSettings,
)
from practiceid.users import AccountKind, User, UserId, UserStatus

Row = RowMapping
"""A row as SQLAlchemy returns it."""
Json = Any
"""A JSON document: what the JSON column type accepts and returns."""

_PERMISSIONS: Final[Mapping[str, Permission]] = MappingProxyType({p.value: p for p in Permission})

# -- users --------------------------------------------------------------------------------


def user_values(user: User, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_users`` for ``user``, stored with ``version``."""
    return {
        "id": user.id,
        "login": user.login.display,
        "login_key": user.login.key,
        "email": user.email.address,
        "email_key": user.email.key,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "job_title": user.job_title,
        "created_at": user.created_at,
        "status": user.status.value,
        "password_hash": user.password_hash,
        "version": version,
        "kind": user.kind.value,
    }


def user_from(row: Row) -> User:
    """The user a ``practiceid_users`` row holds."""
    return User(
        id=UserId(row["id"]),
        login=Login(row["login"]),
        email=EmailAddress(row["email"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        job_title=row["job_title"],
        created_at=row["created_at"],
        status=UserStatus(row["status"]),
        password_hash=row["password_hash"],
        version=row["version"],
        kind=AccountKind(row["kind"]),
    )


# -- organisations and establishments ------------------------------------------------------


def organisation_values(organisation: Organisation, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_organisations`` (owners go to their own table)."""
    return {
        "id": organisation.id,
        "name": organisation.name,
        "created_at": organisation.created_at,
        "version": version,
    }


def organisation_from(row: Row, owners: Iterable[str]) -> Organisation:
    """The organisation a row and its owners' ids hold."""
    return Organisation(
        id=OrganisationId(row["id"]),
        name=row["name"],
        owners=frozenset(UserId(owner) for owner in owners),
        created_at=row["created_at"],
        version=row["version"],
    )


def _codes(values: Iterable[str]) -> list[str]:
    return sorted(str(value) for value in values)


def establishment_values(establishment: Establishment, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_establishments``: roles and departments as JSON."""
    return {
        "id": establishment.id,
        "organisation_id": establishment.organisation_id,
        "name": establishment.name,
        "product": establishment.product.value,
        "created_at": establishment.created_at,
        "roles": [
            {
                "id": role.id,
                "name": role.name,
                "permissions": _codes(role.permissions),
                "administrator": role.administrator,
                "template": role.template,
            }
            for role in establishment.roles
        ],
        "departments": [
            {"id": d.id, "name": d.name, "features": _codes(d.features)}
            for d in establishment.departments
        ],
        "version": version,
    }


def establishment_from(row: Row) -> Establishment:
    """The establishment a row holds, roles and departments in their stored order."""
    roles: Sequence[Json] = row["roles"]
    departments: Sequence[Json] = row["departments"]
    return Establishment(
        id=EstablishmentId(row["id"]),
        organisation_id=OrganisationId(row["organisation_id"]),
        name=row["name"],
        product=ProductKind(row["product"]),
        created_at=row["created_at"],
        roles=[
            Role(
                id=RoleId(role["id"]),
                name=role["name"],
                permissions=frozenset(_PERMISSIONS[code] for code in role["permissions"]),
                administrator=role["administrator"],
                template=role["template"],
            )
            for role in roles
        ],
        departments=[
            Department(id=DepartmentId(d["id"]), name=d["name"], features=frozenset(d["features"]))
            for d in departments
        ],
        version=row["version"],
    )


# -- memberships ----------------------------------------------------------------------------


def membership_values(membership: Membership, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_memberships``; empty initials have a ``NULL`` key."""
    return {
        "establishment_id": membership.establishment_id,
        "user_id": membership.user_id,
        "created_at": membership.created_at,
        "status": membership.status.value,
        "roles": _codes(membership.roles),
        "departments": _codes(membership.departments),
        "delegations": [
            {"physician": d.physician, "inherit_features": d.inherit_features}
            for d in membership.delegations
        ],
        "features": _codes(membership.features),
        "created_account": membership.created_account,
        "initials": membership.initials,
        "initials_key": initials_policy.key(membership.initials) or None,
        "supervisor": membership.supervisor,
        "version": version,
    }


def membership_from(row: Row) -> Membership:
    """The membership a row holds."""
    delegations: Sequence[Json] = row["delegations"]
    return Membership(
        user_id=UserId(row["user_id"]),
        establishment_id=EstablishmentId(row["establishment_id"]),
        created_at=row["created_at"],
        roles=frozenset(RoleId(r) for r in row["roles"]),
        status=MembershipStatus(row["status"]),
        departments=frozenset(DepartmentId(d) for d in row["departments"]),
        delegations=[
            Delegation(UserId(d["physician"]), inherit_features=d["inherit_features"])
            for d in delegations
        ],
        features=frozenset(row["features"]),
        created_account=row["created_account"],
        initials=row["initials"],
        supervisor=None if row["supervisor"] is None else UserId(row["supervisor"]),
        version=row["version"],
    )


# -- practitioners ---------------------------------------------------------------------------


def _address_document(address: Address) -> dict[str, object]:
    return {
        "kind": address.kind.value,
        "street": address.street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": address.country,
        "email": address.email.address if address.email is not None else None,
        "phone": address.phone,
    }


def _address_from(document: Json) -> Address:
    email = document["email"]
    return Address(
        kind=AddressKind(document["kind"]),
        street=document["street"],
        postal_code=document["postal_code"],
        city=document["city"],
        country=document["country"],
        email=None if email is None else EmailAddress(email),
        phone=document["phone"],
    )


def _instant(value: datetime) -> str:
    return value.isoformat()


def _ehealth_document(certificate: EHealthCertificate | None) -> dict[str, object] | None:
    if certificate is None:
        return None
    return {
        "serial_number": certificate.serial_number,
        "issuer": certificate.issuer,
        "not_before": _instant(certificate.not_before),
        "not_after": _instant(certificate.not_after),
        "sha256": certificate.sha256,
        "registered_at": _instant(certificate.registered_at),
        "holder_nihii": certificate.holder_nihii,
        "fetch_messages": certificate.fetch_messages,
    }


def _ehealth_from(document: Json) -> EHealthCertificate | None:
    if document is None:
        return None
    return EHealthCertificate(
        serial_number=document["serial_number"],
        issuer=document["issuer"],
        not_before=datetime.fromisoformat(document["not_before"]),
        not_after=datetime.fromisoformat(document["not_after"]),
        sha256=document["sha256"],
        registered_at=datetime.fromisoformat(document["registered_at"]),
        holder_nihii=document["holder_nihii"],
        fetch_messages=document["fetch_messages"],
    )


def _edmg_document(edmg: EdmgRegistration | None) -> dict[str, object] | None:
    if edmg is None:
        return None
    return {
        "registered_at": _instant(edmg.registered_at),
        "accounts": {m.value: account.number for m, account in edmg.accounts.items()},
    }


def _edmg_from(document: Json) -> EdmgRegistration | None:
    if document is None:
        return None
    accounts: Mapping[str, str] = document["accounts"]
    return EdmgRegistration(
        registered_at=datetime.fromisoformat(document["registered_at"]),
        accounts={Mutuality(m): iban.parse(number) for m, number in accounts.items()},
    )


def _number(value: object) -> str | None:
    number = getattr(value, "number", None)
    return cast("str | None", number)


def practitioner_values(practitioner: Practitioner, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_practitioners``."""
    settings = practitioner.settings
    billing = practitioner.billing
    return {
        "user_id": practitioner.user_id,
        "profession": practitioner.profession.value,
        "country": practitioner.country,
        "created_at": practitioner.created_at,
        "inami": _number(practitioner.inami),
        "niss": _number(practitioner.niss),
        "rpps": _number(practitioner.rpps),
        "adeli": _number(practitioner.adeli),
        "addresses": [_address_document(a) for a in practitioner.addresses],
        "hub_region": None if settings.hub_region is None else settings.hub_region.value,
        "ehealth": _ehealth_document(settings.ehealth),
        "edmg": _edmg_document(settings.edmg),
        "billing_company_name": billing.company_name,
        "billing_enterprise_number": _number(billing.enterprise_number),
        "billing_conventioned": billing.conventioned,
        "billing_iban": _number(billing.iban),
        "version": version,
    }


def practitioner_from(row: Row) -> Practitioner:
    """The practitioner a row holds, numbers parsed again."""
    addresses: Sequence[Json] = row["addresses"]
    hub_region = row["hub_region"]
    return Practitioner(
        user_id=UserId(row["user_id"]),
        profession=Profession(row["profession"]),
        country=row["country"],
        created_at=row["created_at"],
        inami=None if row["inami"] is None else inami.parse(row["inami"]),
        niss=None if row["niss"] is None else niss.parse(row["niss"]),
        rpps=None if row["rpps"] is None else rpps.parse(row["rpps"]),
        adeli=None if row["adeli"] is None else adeli.parse(row["adeli"]),
        addresses=[_address_from(a) for a in addresses],
        settings=PractitionerSettings(
            hub_region=None if hub_region is None else HubRegion(hub_region),
            ehealth=_ehealth_from(row["ehealth"]),
            edmg=_edmg_from(row["edmg"]),
        ),
        billing=BillingData(
            company_name=row["billing_company_name"],
            enterprise_number=(
                None
                if row["billing_enterprise_number"] is None
                else bce.parse(row["billing_enterprise_number"])
            ),
            conventioned=row["billing_conventioned"],
            iban=None if row["billing_iban"] is None else iban.parse(row["billing_iban"]),
        ),
        version=row["version"],
    )


# -- establishment profiles -------------------------------------------------------------------


def profile_values(profile: EstablishmentProfile, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_establishment_profiles``, the logo's bytes as a BLOB."""
    address = profile.address
    logo = profile.logo
    return {
        "establishment_id": profile.establishment_id,
        "address_kind": address.kind.value,
        "street": address.street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": address.country,
        "email": address.email.address if address.email is not None else None,
        "phone": address.phone,
        "updated_at": profile.updated_at,
        "inami": _number(profile.inami),
        "finess": _number(profile.finess),
        "finess_kind": (
            profile.finess.kind.value
            if profile.finess is not None and profile.finess.kind is not None
            else None
        ),
        "enterprise_number": _number(profile.enterprise_number),
        "trainee_account": _number(profile.trainee_account),
        "logo": None if logo is None else logo.data,
        "logo_media_type": None if logo is None else logo.media_type,
        "logo_width": None if logo is None else logo.width,
        "logo_height": None if logo is None else logo.height,
        "version": version,
    }


def profile_from(row: Row) -> EstablishmentProfile:
    """The profile a row holds; the logo is rebuilt from its stored bytes and headers."""
    email = row["email"]
    finess_kind = row["finess_kind"]
    logo_data = row["logo"]
    return EstablishmentProfile(
        establishment_id=EstablishmentId(row["establishment_id"]),
        address=Address(
            kind=AddressKind(row["address_kind"]),
            street=row["street"],
            postal_code=row["postal_code"],
            city=row["city"],
            country=row["country"],
            email=None if email is None else EmailAddress(email),
            phone=row["phone"],
        ),
        updated_at=row["updated_at"],
        inami=None if row["inami"] is None else inami.parse(row["inami"]),
        finess=(
            None
            if row["finess"] is None
            else finess.parse(
                row["finess"], kind=None if finess_kind is None else FinessKind(finess_kind)
            )
        ),
        enterprise_number=(
            None if row["enterprise_number"] is None else bce.parse(row["enterprise_number"])
        ),
        logo=(
            None
            if logo_data is None
            else Logo(
                data=bytes(logo_data),
                media_type=cast("MediaType", row["logo_media_type"]),
                width=row["logo_width"],
                height=row["logo_height"],
            )
        ),
        trainee_account=(
            None if row["trainee_account"] is None else iban.parse(row["trainee_account"])
        ),
        version=row["version"],
    )


# -- onboarding (D1, D2) --------------------------------------------------------------------


def onboarding_values(onboarding: Onboarding, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_onboardings``; the link digests go to their own table."""
    return {
        "user_id": onboarding.user_id,
        "establishment_id": onboarding.establishment_id,
        "mode": onboarding.mode.value,
        "status": onboarding.status.value,
        "created_at": onboarding.created_at,
        "sent_at": onboarding.sent_at,
        "expires_at": onboarding.expires_at,
        "due_at": onboarding.due_at,
        "invited_by": onboarding.invited_by,
        "locale": onboarding.locale,
        "round": onboarding.round,
        "reminders_sent": onboarding.reminders_sent,
        "email_key": onboarding.email_key,
        "sends": [_instant(sent) for sent in onboarding.sends],
        "resume": None if onboarding.resume is None else onboarding.resume.value,
        "accepted_at": onboarding.accepted_at,
        "signed_in_at": onboarding.signed_in_at,
        "activated_at": onboarding.activated_at,
        "terms_version": onboarding.terms_version,
        "terms_accepted_at": onboarding.terms_accepted_at,
        "password_change_required": onboarding.password_change_required,
        "version": version,
    }


def onboarding_from(row: Row, digests: Iterable[bytes]) -> Onboarding:
    """The record a row and its live links' digests (in their order) hold."""
    sends: Sequence[str] = row["sends"]
    invited_by = row["invited_by"]
    resume = row["resume"]
    return Onboarding(
        user_id=UserId(row["user_id"]),
        establishment_id=EstablishmentId(row["establishment_id"]),
        mode=OnboardingMode(row["mode"]),
        status=OnboardingStatus(row["status"]),
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        expires_at=row["expires_at"],
        due_at=row["due_at"],
        invited_by=None if invited_by is None else UserId(invited_by),
        locale=row["locale"],
        round=row["round"],
        reminders_sent=row["reminders_sent"],
        token_digests=(bytes(digest) for digest in digests),
        email_key=row["email_key"],
        sends=(datetime.fromisoformat(sent) for sent in sends),
        resume=None if resume is None else OnboardingStatus(resume),
        accepted_at=row["accepted_at"],
        signed_in_at=row["signed_in_at"],
        activated_at=row["activated_at"],
        terms_version=row["terms_version"],
        terms_accepted_at=row["terms_accepted_at"],
        password_change_required=row["password_change_required"],
        version=row["version"],
    )


def terms_values(terms: TermsOfUse) -> dict[str, object]:
    """The columns of ``practiceid_terms``."""
    return {"version": terms.version, "published_at": terms.published_at}


def terms_from(row: Row) -> TermsOfUse:
    """The version of the terms of use a row holds."""
    return TermsOfUse(published_at=row["published_at"], version=row["version"])


def message_values(message: Message, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_outbox``: the template's parameters as JSON."""
    return {
        "id": message.id,
        "idempotency_key": message.idempotency_key,
        "kind": message.kind.value,
        "recipient": message.recipient,
        "locale": message.locale,
        "params": dict(message.params),
        "user_id": message.user_id,
        "link_round": message.link_round,
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "claimed_until": message.claimed_until,
        "sent_at": message.sent_at,
        "last_error": message.last_error,
        "created_at": message.created_at,
        "version": version,
    }


def message_from(row: Row) -> Message:
    """The message a row holds."""
    user_id = row["user_id"]
    return Message(
        id=MessageId(row["id"]),
        kind=MessageKind(row["kind"]),
        recipient=row["recipient"],
        locale=row["locale"],
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        params=row["params"],
        user_id=None if user_id is None else UserId(user_id),
        link_round=row["link_round"],
        status=MessageStatus(row["status"]),
        attempts=row["attempts"],
        claimed_until=row["claimed_until"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
        version=row["version"],
    )


# -- licenses (E1-E4) -------------------------------------------------------------------------

_REQUEST_FIELDS: Final = (
    "requested_at",
    "requested_by",
    "kind",
    "months",
    "first_name",
    "last_name",
    "identifier_kind",
    "identifier",
    "practice",
    "bill_to",
    "invoice_number",
    "invoiced_at",
    "amount",
    "currency",
    "paid_at",
    "activation_due_at",
    "late_reported_at",
    "activated_at",
)
"""The columns of a license request, after their prefix (``pending_``, ``activation_``)."""


def _request_values(prefix: str, asked: LicenseRequest | None) -> dict[str, object]:
    if asked is None:
        return {f"{prefix}{name}": None for name in _REQUEST_FIELDS}
    return {
        f"{prefix}requested_at": asked.requested_at,
        f"{prefix}requested_by": asked.requested_by,
        f"{prefix}kind": asked.kind.value,
        f"{prefix}months": asked.months,
        f"{prefix}first_name": asked.first_name,
        f"{prefix}last_name": asked.last_name,
        f"{prefix}identifier_kind": asked.identifier_kind,
        f"{prefix}identifier": asked.identifier,
        f"{prefix}practice": asked.practice,
        f"{prefix}bill_to": asked.bill_to,
        f"{prefix}invoice_number": asked.invoice_number,
        f"{prefix}invoiced_at": asked.invoiced_at,
        f"{prefix}amount": None if asked.amount is None else str(asked.amount),
        f"{prefix}currency": asked.currency,
        f"{prefix}paid_at": asked.paid_at,
        f"{prefix}activation_due_at": asked.activation_due_at,
        f"{prefix}late_reported_at": asked.late_reported_at,
        f"{prefix}activated_at": asked.activated_at,
    }


def _request_from(row: Row, prefix: str) -> LicenseRequest | None:
    if row[f"{prefix}requested_at"] is None:
        return None
    amount = row[f"{prefix}amount"]
    return LicenseRequest(
        requested_at=row[f"{prefix}requested_at"],
        requested_by=UserId(row[f"{prefix}requested_by"]),
        kind=LicenseKind(row[f"{prefix}kind"]),
        months=row[f"{prefix}months"],
        first_name=row[f"{prefix}first_name"],
        last_name=row[f"{prefix}last_name"],
        identifier_kind=row[f"{prefix}identifier_kind"],
        identifier=row[f"{prefix}identifier"],
        practice=row[f"{prefix}practice"],
        bill_to=UserId(row[f"{prefix}bill_to"]),
        invoice_number=row[f"{prefix}invoice_number"],
        invoiced_at=row[f"{prefix}invoiced_at"],
        amount=None if amount is None else Decimal(amount),
        currency=row[f"{prefix}currency"],
        paid_at=row[f"{prefix}paid_at"],
        activation_due_at=row[f"{prefix}activation_due_at"],
        late_reported_at=row[f"{prefix}late_reported_at"],
        activated_at=row[f"{prefix}activated_at"],
    )


def license_values(seat: License, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_licenses``: each request as ``pending_``/``activation_``."""
    return {
        "establishment_id": seat.establishment_id,
        "user_id": seat.user_id,
        "kind": seat.kind.value,
        "status": seat.status.value,
        "created_at": seat.created_at,
        "valid_from": seat.valid_from,
        "valid_until": seat.valid_until,
        "provisional_until": seat.provisional_until,
        "notices_sent": seat.notices_sent,
        "lapsed_at": seat.lapsed_at,
        **_request_values("pending_", seat.pending),
        **_request_values("activation_", seat.activation),
        "resume": None if seat.resume is None else seat.resume.value,
        "due_at": seat.due_at,
        "version": version,
    }


def license_from(row: Row) -> License:
    """The license a row holds."""
    resume = row["resume"]
    return License(
        establishment_id=EstablishmentId(row["establishment_id"]),
        user_id=UserId(row["user_id"]),
        kind=LicenseKind(row["kind"]),
        status=LicenseStatus(row["status"]),
        created_at=row["created_at"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        provisional_until=row["provisional_until"],
        notices_sent=row["notices_sent"],
        lapsed_at=row["lapsed_at"],
        pending=_request_from(row, "pending_"),
        activation=_request_from(row, "activation_"),
        resume=None if resume is None else LicenseStatus(resume),
        due_at=row["due_at"],
        version=row["version"],
    )


# -- the audit trail (F3) -------------------------------------------------------------------


def _details_text(details: Iterable[tuple[str, DetailValue]]) -> str:
    """An event's details as a JSON object, names sorted (the event's own order)."""
    return json.dumps(dict(details), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _details_from(text: str) -> list[tuple[str, DetailValue]]:
    """The details a row holds.

    Text that is not a JSON object (an edit) is kept as one detail, so that
    :func:`~practiceid.audit.verify_chain` names the record instead of the read failing.
    """
    try:
        document = json.loads(text)
    except (TypeError, ValueError):
        document = None
    if not isinstance(document, dict):
        return [("details", str(text))]
    return list(document.items())


def _outcome(value: str) -> Outcome:
    """The stored outcome; text that names none (an edit) is kept as it is, for the check."""
    try:
        return Outcome(value)
    except ValueError:
        return cast("Outcome", value)


def _optional_user(value: str | None) -> UserId | None:
    return None if value is None else UserId(value)


def audit_record_values(record: AuditRecord) -> dict[str, object]:
    """The columns of ``practiceid_audit_records`` for ``record``."""
    event = record.event
    return {
        "chain": record.chain,
        "seq": record.seq,
        "action": event.action,
        "at": event.at,
        "outcome": str(event.outcome),
        "code": event.code,
        "establishment_id": event.establishment_id,
        "actor": event.actor,
        "account_id": event.account_id,
        "device_session_id": event.device_session_id,
        "on_behalf_of": event.on_behalf_of,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "peer_address": event.peer_address,
        "request_id": event.request_id,
        "details": _details_text(event.details),
        "previous": record.previous,
        "digest": record.digest,
        "key_id": record.key_id,
    }


def audit_record_from(row: Row) -> AuditRecord:
    """The record a row holds, as stored: what was edited in the row shows when verified."""
    establishment_id = row["establishment_id"]
    event = AuditEvent(
        action=row["action"],
        at=row["at"],
        outcome=_outcome(row["outcome"]),
        code=row["code"],
        establishment_id=None if establishment_id is None else EstablishmentId(establishment_id),
        actor=_optional_user(row["actor"]),
        account_id=_optional_user(row["account_id"]),
        device_session_id=row["device_session_id"],
        on_behalf_of=_optional_user(row["on_behalf_of"]),
        target_type=row["target_type"],
        target_id=row["target_id"],
        peer_address=row["peer_address"],
        request_id=row["request_id"],
        details=_details_from(row["details"]),
    )
    return AuditRecord(
        event=event,
        chain=row["chain"],
        seq=int(row["seq"]),
        previous=bytes(row["previous"]),
        digest=bytes(row["digest"]),
        key_id=row["key_id"],
    )


# -- shared clinic devices (F1-F4) ------------------------------------------------------------


def _json_text(values: Iterable[str]) -> str:
    """A list of texts as compact JSON: what a text column holds of a small collection."""
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


def clinic_login_values(clinic_login: ClinicLogin, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_clinic_logins``: the networks as JSON text."""
    return {
        "user_id": clinic_login.user_id,
        "establishment_id": clinic_login.establishment_id,
        "created_at": clinic_login.created_at,
        "created_by": clinic_login.created_by,
        "remote_access": clinic_login.remote_access,
        "networks": _json_text(clinic_login.networks),
        "version": version,
    }


def clinic_login_from(row: Row) -> ClinicLogin:
    """The clinic login a row holds."""
    networks: Sequence[str] = json.loads(row["networks"])
    return ClinicLogin(
        user_id=UserId(row["user_id"]),
        establishment_id=EstablishmentId(row["establishment_id"]),
        created_at=row["created_at"],
        created_by=UserId(row["created_by"]),
        remote_access=row["remote_access"],
        networks=tuple(networks),
        version=row["version"],
    )


def member_credential_values(credential: MemberCredential, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_member_credentials``: the PIN's digest as bytes."""
    return {
        "establishment_id": credential.establishment_id,
        "user_id": credential.user_id,
        "pin_digest": credential.pin_digest,
        "pin_key_id": credential.pin_key_id,
        "pin_issued_at": credential.pin_issued_at,
        "misses": credential.misses,
        "blocked_at": credential.blocked_at,
        "remote_access": credential.remote_access,
        "version": version,
    }


def member_credential_from(row: Row) -> MemberCredential:
    """The credential a row holds."""
    digest = row["pin_digest"]
    return MemberCredential(
        establishment_id=EstablishmentId(row["establishment_id"]),
        user_id=UserId(row["user_id"]),
        pin_digest=None if digest is None else bytes(digest),
        pin_key_id=row["pin_key_id"],
        pin_issued_at=row["pin_issued_at"],
        misses=row["misses"],
        blocked_at=row["blocked_at"],
        remote_access=row["remote_access"],
        version=row["version"],
    )


def device_session_values(session: DeviceSession, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_device_sessions``: the token's digest as bytes."""
    return {
        "id": session.id,
        "establishment_id": session.establishment_id,
        "account_id": session.account_id,
        "token_digest": session.token_digest,
        "opened_at": session.opened_at,
        "expires_at": session.expires_at,
        "last_activity_at": session.last_activity_at,
        "state": session.state.value,
        "member": session.member,
        "unlocked_at": session.unlocked_at,
        "misses": session.misses,
        "remote": session.remote,
        "peer_address": session.peer_address,
        "version": version,
    }


def device_session_from(row: Row) -> DeviceSession:
    """The device session a row holds."""
    return DeviceSession(
        id=DeviceSessionId(row["id"]),
        establishment_id=EstablishmentId(row["establishment_id"]),
        account_id=UserId(row["account_id"]),
        token_digest=bytes(row["token_digest"]),
        opened_at=row["opened_at"],
        expires_at=row["expires_at"],
        last_activity_at=row["last_activity_at"],
        state=DeviceState(row["state"]),
        member=_optional_user(row["member"]),
        unlocked_at=row["unlocked_at"],
        misses=row["misses"],
        remote=row["remote"],
        peer_address=row["peer_address"],
        version=row["version"],
    )


def pin_guard_values(guard: PinGuard, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_pin_guards``: the misses as JSON text, ISO 8601 in UTC."""
    return {
        "establishment_id": guard.establishment_id,
        "misses": _json_text(miss.astimezone(UTC).isoformat() for miss in guard.misses),
        "version": version,
    }


def pin_guard_from(row: Row) -> PinGuard:
    """The guard a row holds; its misses aware, in UTC, to the microsecond."""
    misses: Sequence[str] = json.loads(row["misses"])
    return PinGuard(
        establishment_id=EstablishmentId(row["establishment_id"]),
        misses=tuple(datetime.fromisoformat(miss) for miss in misses),
        version=row["version"],
    )


# -- personal key pairs (D3) and second factors (F5) ------------------------------------------


def key_pair_values(key_pair: KeyPair, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_key_pairs``: the public key's DER as bytes."""
    return {
        "user_id": key_pair.user_id,
        "public_key": key_pair.public_key,
        "fingerprint": key_pair.fingerprint,
        "algorithm": key_pair.algorithm.value,
        "status": key_pair.status.value,
        "generated_at": key_pair.generated_at,
        "generated_by": key_pair.generated_by,
        "confirmed_at": key_pair.confirmed_at,
        "generation": key_pair.generation,
        "version": version,
    }


def key_pair_from(row: Row) -> KeyPair:
    """The key pair a row holds."""
    return KeyPair(
        user_id=UserId(row["user_id"]),
        public_key=bytes(row["public_key"]),
        fingerprint=row["fingerprint"],
        generated_at=row["generated_at"],
        generated_by=UserId(row["generated_by"]),
        algorithm=KeyAlgorithm(row["algorithm"]),
        status=KeyPairStatus(row["status"]),
        confirmed_at=row["confirmed_at"],
        generation=row["generation"],
        version=row["version"],
    )


def factor_values(factor: Factor, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_factors``: digests as JSON text of hex, networks as JSON."""
    return {
        "id": factor.id,
        "user_id": factor.user_id,
        "kind": factor.kind.value,
        "name": factor.name,
        "created_at": factor.created_at,
        "created_by": factor.created_by,
        "confirmed_at": factor.confirmed_at,
        "last_used_at": factor.last_used_at,
        "key_id": factor.key_id,
        "secret": factor.secret,
        "last_step": factor.last_step,
        "digests": _json_text(digest.hex() for digest in factor.digests),
        "networks": _json_text(factor.networks),
        "version": version,
    }


def factor_from(row: Row) -> Factor:
    """The factor a row holds; its digests as bytes, in the order they were stored."""
    digests: Sequence[str] = json.loads(row["digests"])
    networks: Sequence[str] = json.loads(row["networks"])
    return Factor(
        id=FactorId(row["id"]),
        user_id=UserId(row["user_id"]),
        kind=FactorKind(row["kind"]),
        name=row["name"],
        created_at=row["created_at"],
        created_by=UserId(row["created_by"]),
        confirmed_at=row["confirmed_at"],
        last_used_at=row["last_used_at"],
        key_id=row["key_id"],
        secret=bytes(row["secret"]),
        last_step=int(row["last_step"]),
        digests=tuple(bytes.fromhex(digest) for digest in digests),
        networks=tuple(networks),
        version=row["version"],
    )


def factor_guard_values(guard: FactorGuard, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_factor_guards``: the misses as in a PIN guard."""
    return {
        "user_id": guard.user_id,
        "misses": _json_text(miss.astimezone(UTC).isoformat() for miss in guard.misses),
        "version": version,
    }


def factor_guard_from(row: Row) -> FactorGuard:
    """The guard a row holds; its misses aware, in UTC, to the microsecond."""
    misses: Sequence[str] = json.loads(row["misses"])
    return FactorGuard(
        user_id=UserId(row["user_id"]),
        misses=tuple(datetime.fromisoformat(miss) for miss in misses),
        version=row["version"],
    )


def factor_requirement_values(requirement: FactorRequirement, *, version: int) -> dict[str, object]:
    """The columns of ``practiceid_factor_requirements``."""
    return {
        "establishment_id": requirement.establishment_id,
        "required": requirement.required,
        "changed_at": requirement.changed_at,
        "changed_by": requirement.changed_by,
        "version": version,
    }


def factor_requirement_from(row: Row) -> FactorRequirement:
    """The requirement a row holds."""
    return FactorRequirement(
        establishment_id=EstablishmentId(row["establishment_id"]),
        required=row["required"],
        changed_at=row["changed_at"],
        changed_by=UserId(row["changed_by"]),
        version=row["version"],
    )
