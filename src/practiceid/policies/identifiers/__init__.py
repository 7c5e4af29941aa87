"""Professional and organisational identifiers, one python-stdnum-style module each (B2–B6).

Every module has the same four functions, plus ``parse``:

* ``compact(number)``: the number without separators, spaces or invisible marks;
* ``validate(number)``: the compact form of a valid number, or an
  :class:`~practiceid.InvalidIdentifier` subclass with a stable code
  (``identifier.invalid_length`` / ``_format`` / ``_component`` / ``_checksum``);
* ``is_valid(number)``: ``True`` or ``False``, never an exception, for any object;
* ``format(number)``: the canonical display form of a valid number;
* ``parse(number)``: a frozen value with what the number says and ``to_fhir()``.

=========  ==================================================  ==========================
module     number                                              rule
=========  ==================================================  ==========================
inami      Belgian provider / institution (INAMI, RIZIV)       mod 97, 89, 83 or 79
niss       Belgian social-security number (NISS, INSZ, BIS)    python-stdnum ``be.ssn``
bce        Belgian enterprise number (BCE, KBO)                python-stdnum ``be.vat``
iban       Belgian IBAN, with its BIC                          python-stdnum ``be.iban``
rpps       French professional (RPPS)                          Luhn
adeli      French professional (ADELI)                         Luhn; Corsica unverifiable
idnps      French national professional identifier (IDNPS)     8 + RPPS, 0 + ADELI, …
finess     French establishment (FINESS, EJ or EG)             Luhn; Corsica unverifiable
=========  ==================================================  ==========================

>>> from practiceid.policies.identifiers import MODULES
>>> MODULES["rpps"].is_valid("10001234565")
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, Protocol

from practiceid.errors import InvalidComponent
from practiceid.policies.identifiers import (
    adeli,
    bce,
    fhir,
    finess,
    iban,
    idnps,
    inami,
    niss,
    rpps,
)
from practiceid.policies.identifiers.adeli import AdeliNumber
from practiceid.policies.identifiers.bce import BceNumber
from practiceid.policies.identifiers.fhir import Coding, FhirIdentifier
from practiceid.policies.identifiers.finess import FinessKind, FinessNumber
from practiceid.policies.identifiers.iban import BelgianIban
from practiceid.policies.identifiers.idnps import IdnpsKind, IdnpsNumber
from practiceid.policies.identifiers.inami import Competence, InamiNumber, InamiTable, Profession
from practiceid.policies.identifiers.niss import NissNumber
from practiceid.policies.identifiers.rpps import RppsNumber

__all__ = [
    "MODULES",
    "AdeliNumber",
    "BceNumber",
    "BelgianIban",
    "Coding",
    "Competence",
    "FhirIdentifier",
    "FinessKind",
    "FinessNumber",
    "IdentifierModule",
    "IdnpsKind",
    "IdnpsNumber",
    "InamiNumber",
    "InamiTable",
    "NissNumber",
    "Profession",
    "RppsNumber",
    "adeli",
    "bce",
    "fhir",
    "finess",
    "from_fhir",
    "iban",
    "idnps",
    "inami",
    "niss",
    "rpps",
]


class IdentifierModule(Protocol):
    """What every identifier module offers (python-stdnum's ``NumberValidationModule``)."""

    KIND: str

    def compact(self, number: object) -> str:
        """Return the number without separators."""
        ...

    def validate(self, number: object) -> str:
        """Return the compact form of a valid number, or raise."""
        ...

    def is_valid(self, number: object) -> bool:
        """Return whether the number is valid; never raise."""
        ...

    def format(self, number: object) -> str:
        """Return the display form of a valid number, or raise."""
        ...


#: Every identifier module by its kind (``"inami"``, ``"rpps"``, …).
MODULES: Final[Mapping[str, IdentifierModule]] = MappingProxyType(
    {module.KIND: module for module in (inami, niss, bce, iban, rpps, adeli, idnps, finess)}
)

FhirParsed = InamiNumber | NissNumber | BceNumber | RppsNumber | IdnpsNumber | FinessNumber

_FINESS_TYPES: Final = {kind.value: kind for kind in FinessKind}
_BY_SYSTEM: Final[Mapping[str, Callable[[FhirIdentifier], FhirParsed]]] = {
    fhir.BE_NIHDI: lambda i: inami.parse(i.value),
    fhir.BE_NIHDI_PROFESSIONAL: lambda i: inami.parse(i.value),
    fhir.BE_NIHDI_ORGANIZATION: lambda i: inami.parse(i.value),
    fhir.BE_SSIN: lambda i: niss.parse(i.value),
    fhir.BE_CBE: lambda i: bce.parse(i.value),
    fhir.FR_RPPS: lambda i: rpps.parse(i.value),
    fhir.FR_IDNPS: lambda i: idnps.parse(i.value),
    fhir.FR_FINESS: lambda i: finess.parse(i.value, kind=_finess_kind(i.type)),
}


def _finess_kind(coding: Coding | None) -> FinessKind | None:
    if coding is None or coding.system != fhir.FR_IDENTIFIER_TYPES:
        return None
    return _FINESS_TYPES.get(coding.code)


def from_fhir(identifier: FhirIdentifier | Mapping[str, object]) -> FhirParsed:
    """Read a FHIR ``Identifier`` (JSON mapping or :class:`FhirIdentifier`) and validate it.

    Legacy Belgian systems (without ``/core/``) and OIDs are accepted. Raises
    :class:`~practiceid.InvalidComponent` (``kind="fhir"``, ``component="system"``) for a
    system practiceid does not know, or the value's own ``InvalidIdentifier``.

    >>> from_fhir(
    ...     {
    ...         "system": "https://www.ehealth.fgov.be/standards/fhir/NamingSystem/nihdi",
    ...         "value": "12345625005",
    ...     }
    ... ).requires_supervisor
    True
    """
    if not isinstance(identifier, FhirIdentifier):
        identifier = FhirIdentifier.from_dict(identifier)
    system = fhir.preferred_system(identifier.system)
    reader = _BY_SYSTEM.get(system)
    if reader is None:
        raise InvalidComponent(
            "practiceid does not know this identifier system",
            kind="fhir",
            component="system",
            system=system,
        )
    return reader(identifier)
