"""Practitioners: profession, identifiers, addresses, settings and billing data (B1-B6).

A :class:`Practitioner` holds what a user's professional life adds to their account
(:class:`~practiceid.User` keeps the names and the job title, A7). It belongs to the person,
not to an establishment: one INAMI number, one set of billing data, wherever they work. What
depends on the establishment (initials, the training supervisor of a trainee) lives on the
:class:`~practiceid.Membership`.

Values are frozen; :class:`~practiceid.ProfileService` validates input and builds them.
:func:`resolve_billing` answers "whose account does this practitioner bill on?" (B4, B6).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

import attrs

from practiceid.errors import BillingIncomplete
from practiceid.establishments import EstablishmentId
from practiceid.policies.contact import Address, AddressKind
from practiceid.policies.identifiers.adeli import AdeliNumber
from practiceid.policies.identifiers.bce import BceNumber
from practiceid.policies.identifiers.iban import BelgianIban
from practiceid.policies.identifiers.inami import InamiNumber
from practiceid.policies.identifiers.niss import NissNumber
from practiceid.policies.identifiers.rpps import RppsNumber
from practiceid.policies.professions import Profession
from practiceid.users import UserId

__all__ = [
    "BillingData",
    "BillingIdentity",
    "EHealthCertificate",
    "EdmgRegistration",
    "HubRegion",
    "Mutuality",
    "Practitioner",
    "PractitionerSettings",
    "resolve_billing",
]


class HubRegion(enum.StrEnum):
    """The Belgian health-information hub a practitioner is registered with (B5).

    Each region has its hub: the Réseau Santé Wallon, the Brussels Health Network (Abrumet),
    and the Flemish hubs reached through Vitalink (CoZo, VZN KUL).
    """

    WALLONIA = "wallonia"
    BRUSSELS = "brussels"
    FLANDERS = "flanders"


class Mutuality(enum.StrEnum):
    """The seven Belgian health insurers ("organismes assureurs"), by INAMI code (B6).

    eDMG pays each practitioner through every insurer: one IBAN for all seven, or one each.
    """

    CHRISTIAN = "100"
    NEUTRAL = "200"
    SOCIALIST = "300"
    LIBERAL = "400"
    INDEPENDENT = "500"
    CAAMI = "600"
    HR_RAIL = "900"


@attrs.frozen
class EHealthCertificate:
    """What practiceid keeps of a practitioner's eHealth certificate: metadata only (B5).

    Neither the certificate's password nor its private key is ever kept: the host stores
    the keystore where its eHealth connector needs it. ``holder_nihii`` is the INAMI number
    the certificate names, when it names one; the SSIN (national number) it may carry is
    not kept.
    """

    serial_number: str
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256: str
    registered_at: datetime
    holder_nihii: str | None = None
    fetch_messages: bool = False

    def is_valid_at(self, moment: datetime) -> bool:
        """Whether ``moment`` falls within the certificate's validity."""
        return self.not_before <= moment <= self.not_after


def _accounts(values: Mapping[Mutuality, BelgianIban]) -> Mapping[Mutuality, BelgianIban]:
    return MappingProxyType({Mutuality(m): values[m] for m in sorted(values)})


@attrs.frozen
class EdmgRegistration:
    """Registration for the electronic global medical record (eDMG, B5, B6).

    ``accounts`` has one IBAN for each of the seven :class:`Mutuality`; :attr:`same_account`
    tells whether they are all the same ("I use the same account for the 7 mutualities").
    Registration is one-way: once registered, paper DMGs are no longer possible (source 001),
    so there is no way to unregister; the accounts can change.
    """

    registered_at: datetime
    accounts: Mapping[Mutuality, BelgianIban] = attrs.field(converter=_accounts)

    @property
    def same_account(self) -> bool:
        """Whether every mutuality pays into one account."""
        return len({iban.number for iban in self.accounts.values()}) == 1


@attrs.frozen
class PractitionerSettings:
    """Per-practitioner settings (B5): hub region, eHealth certificate, eDMG registration."""

    hub_region: HubRegion | None = None
    ehealth: EHealthCertificate | None = None
    edmg: EdmgRegistration | None = None


@attrs.frozen
class BillingData:
    """Financial data for electronic billing (eFact, eAttest; B6).

    ``enterprise_number`` is the BCE/KBO number; ``iban`` carries its derived BIC.
    """

    company_name: str = ""
    enterprise_number: BceNumber | None = None
    conventioned: bool = False
    iban: BelgianIban | None = None

    @property
    def bic(self) -> str | None:
        """The BIC derived from the IBAN (B6), when the bank is known."""
        return self.iban.bic if self.iban is not None else None


def _addresses(values: Iterable[Address]) -> tuple[Address, ...]:
    return tuple(values)


@attrs.frozen
class Practitioner:
    """A user's professional data (B1-B6). ``version`` counts stored changes.

    Identifiers are parsed values (:class:`~practiceid.policies.identifiers.InamiNumber`,
    …); a NISS never appears in ``repr``.
    """

    user_id: UserId
    profession: Profession
    country: str
    created_at: datetime
    inami: InamiNumber | None = None
    niss: NissNumber | None = None
    rpps: RppsNumber | None = None
    adeli: AdeliNumber | None = None
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    settings: PractitionerSettings = PractitionerSettings()
    billing: BillingData = BillingData()
    version: int = 0

    @property
    def identifiers(self) -> Mapping[str, str]:
        """The compact numbers carried, by kind (``{"inami": "12345625005"}``)."""
        found = {
            "inami": self.inami.number if self.inami else None,
            "niss": self.niss.number if self.niss else None,
            "rpps": self.rpps.number if self.rpps else None,
            "adeli": self.adeli.number if self.adeli else None,
        }
        return MappingProxyType({kind: n for kind, n in found.items() if n is not None})

    @property
    def identity_keys(self) -> frozenset[tuple[str, str]]:
        """``(kind, key)`` pairs no other practitioner may hold (B2, B3).

        The INAMI key is the :attr:`~InamiNumber.person_key` (the first eight digits), so a
        trainee who becomes a recognised GP keeps it and nobody else can take it.
        """
        keys = dict(self.identifiers)
        if self.inami is not None:
            keys["inami"] = self.inami.person_key
        return frozenset(keys.items())

    @property
    def requires_supervisor(self) -> bool:
        """Whether the INAMI competence code marks a trainee who needs a supervisor (B4)."""
        return self.inami is not None and self.inami.requires_supervisor

    @property
    def is_recognised_general_practitioner(self) -> bool:
        """Whether they may supervise trainees: a GP whose INAMI code is a recognised GP's (B4)."""
        return (
            self.profession is Profession.GENERAL_PRACTITIONER
            and self.inami is not None
            and self.inami.is_general_practitioner
            and not self.inami.requires_supervisor
        )

    @property
    def workplace(self) -> Address | None:
        """The first workplace address with an e-mail and a phone (B1), if any."""
        for address in self.addresses:
            if address.kind is AddressKind.WORKPLACE and address.reachable:
                return address
        return None


@attrs.frozen
class BillingIdentity:
    """Who a practitioner's invoices are made out to and paid into (B4, B6).

    For a trainee, ``account_holder`` is the training supervisor: the trainee bills with the
    supervisor's BIC, enterprise number and company name, on the supervisor's account or on
    the practice's shared trainee account when it has one (``shared_trainee_account``).
    ``conventioned`` is always the performer's own status.
    """

    performer: UserId
    account_holder: UserId
    iban: BelgianIban
    enterprise_number: BceNumber | None
    company_name: str
    conventioned: bool
    shared_trainee_account: bool = False

    @property
    def bic(self) -> str | None:
        """The BIC derived from the IBAN."""
        return self.iban.bic

    @property
    def via_supervisor(self) -> bool:
        """Whether the practitioner bills through their training supervisor."""
        return self.account_holder != self.performer


_MISSING_ORDER: Final = ("practitioner", "supervisor", "iban", "enterprise_number")


def resolve_billing(
    practitioner: Practitioner,
    *,
    establishment_id: EstablishmentId,
    supervisor: Practitioner | None = None,
    trainee_account: BelgianIban | None = None,
) -> BillingIdentity:
    """Return the billing identity of ``practitioner`` in an establishment (B4, B6).

    A trainee (:attr:`Practitioner.requires_supervisor`) bills with ``supervisor``'s data,
    and on ``trainee_account`` (the practice's shared trainee account) when given.
    Everyone else bills with their own data; the enterprise number is required only when
    billing through a supervisor, since a practitioner may bill in their own name.

    Raises:
        BillingIncomplete: ``missing`` says what to fill in first.
    """
    missing: list[str] = []
    holder = practitioner
    if practitioner.requires_supervisor:
        if supervisor is None:
            missing.append("supervisor")
        else:
            holder = supervisor
    iban = trainee_account if holder is not practitioner and trainee_account else None
    if iban is None and "supervisor" not in missing:
        iban = holder.billing.iban
    if iban is None and "supervisor" not in missing:
        missing.append("iban")
    if holder is not practitioner and holder.billing.enterprise_number is None:
        missing.append("enterprise_number")
    if missing or iban is None:
        raise BillingIncomplete(
            user_id=practitioner.user_id,
            establishment_id=establishment_id,
            missing=tuple(sorted(missing, key=_MISSING_ORDER.index)),
        )
    return BillingIdentity(
        performer=practitioner.user_id,
        account_holder=holder.user_id,
        iban=iban,
        enterprise_number=holder.billing.enterprise_number,
        company_name=holder.billing.company_name,
        conventioned=practitioner.billing.conventioned,
        shared_trainee_account=holder is not practitioner and trainee_account is not None,
    )
