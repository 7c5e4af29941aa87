"""The establishment's profile: what a PDF report header prints (C7), and the trainee account.

The :class:`~practiceid.Establishment` keeps its name with its roles and departments; the
profile keeps the rest, stored apart so that checking access never loads a logo.
:meth:`EstablishmentProfile.report_header` puts both together in one value.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from practiceid.establishments import EstablishmentId
from practiceid.policies.contact import Address, format_phone
from practiceid.policies.identifiers.bce import BceNumber
from practiceid.policies.identifiers.finess import FinessNumber
from practiceid.policies.identifiers.iban import BelgianIban
from practiceid.policies.identifiers.inami import InamiNumber
from practiceid.policies.logo import Logo

__all__ = ["EstablishmentProfile", "ReportHeader"]


@attrs.frozen
class ReportHeader:
    """Everything the header of a PDF report needs, ready to print (C7).

    ``identifiers`` are ``(label, display form)`` pairs: ``("INAMI", "7-12345-67-000")``,
    ``("FINESS", "750000010")``, ``("BCE", "0403.019.261")``.
    """

    name: str
    address_lines: tuple[str, ...]
    phone: str | None
    email: str | None
    identifiers: tuple[tuple[str, str], ...]
    logo: Logo | None


@attrs.frozen
class EstablishmentProfile:
    """An establishment's address, phone, numbers and logo (C7, B3, B6).

    ``trainee_account`` is the practice's shared bank account for trainees (B6): when set,
    every trainee of the practice bills on it instead of their supervisor's account.
    """

    establishment_id: EstablishmentId
    address: Address
    updated_at: datetime
    inami: InamiNumber | None = None
    finess: FinessNumber | None = None
    enterprise_number: BceNumber | None = None
    logo: Logo | None = None
    trainee_account: BelgianIban | None = None
    version: int = 0

    def report_header(self, name: str) -> ReportHeader:
        """Return the header of a PDF report for the establishment called ``name``."""
        identifiers: list[tuple[str, str]] = []
        if self.inami is not None:
            identifiers.append(("INAMI", self.inami.format()))
        if self.finess is not None:
            identifiers.append(("FINESS", self.finess.format()))
        if self.enterprise_number is not None:
            identifiers.append(("BCE", self.enterprise_number.format()))
        return ReportHeader(
            name=name,
            address_lines=self.address.lines(),
            phone=format_phone(self.address.phone) if self.address.phone else None,
            email=self.address.email.address if self.address.email else None,
            identifiers=tuple(identifiers),
            logo=self.logo,
        )
