"""FHIR R4 ``Identifier`` values for the numbers practiceid validates.

Every parsed number renders itself with ``to_fhir()``;
:func:`practiceid.policies.identifiers.from_fhir` reads one back, validating the value with the
module its ``system`` names.

Systems (sources: hl7-be/ehealth-be-core ``input/fsh/namingsystems/``; Interop-Sante
hl7.fhir.fr.core ``FRCorePractitionerProfile.fsh`` and ``FRCoreOrganizationProfile.fsh``):

=====================  ===========================================================
INAMI professional     ``https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi-professional``
INAMI organisation     ``https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/nihdi-organization``
NISS / SSIN            ``https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/ssin``
BCE / CBE              ``https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/cbe``
IDNPS                  ``urn:oid:1.2.250.1.71.4.2.1`` (type ``IDNPS``)
RPPS                   ``https://rpps.esante.gouv.fr`` (type ``RPPS``)
FINESS                 ``https://finess.esante.gouv.fr`` (type ``FINEJ`` or ``FINEG``)
=====================  ===========================================================

Older Belgian examples drop ``/core/`` from the address, and some name the generic ``nihdi``
system or the OIDs; :data:`SYSTEM_ALIASES` maps those to the preferred system on input. Output
always uses the preferred one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

from practiceid.errors import InvalidFormat

__all__ = [
    "BE_CBE",
    "BE_NIHDI",
    "BE_NIHDI_ORGANIZATION",
    "BE_NIHDI_PROFESSIONAL",
    "BE_SSIN",
    "FR_FINESS",
    "FR_IDENTIFIER_TYPES",
    "FR_IDNPS",
    "FR_RPPS",
    "SENSITIVE_SYSTEMS",
    "SYSTEM_ALIASES",
    "Coding",
    "FhirIdentifier",
    "preferred_system",
]

_BE = "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/"
_BE_LEGACY = "https://www.ehealth.fgov.be/standards/fhir/NamingSystem/"

BE_NIHDI: Final = _BE + "nihdi"
BE_NIHDI_PROFESSIONAL: Final = _BE + "nihdi-professional"
BE_NIHDI_ORGANIZATION: Final = _BE + "nihdi-organization"
BE_SSIN: Final = _BE + "ssin"
BE_CBE: Final = _BE + "cbe"
FR_IDNPS: Final = "urn:oid:1.2.250.1.71.4.2.1"
FR_RPPS: Final = "https://rpps.esante.gouv.fr"
FR_FINESS: Final = "https://finess.esante.gouv.fr"
#: The code system of FR Core's identifier types (``IDNPS``, ``RPPS``, ``FINEJ``, ``FINEG``).
FR_IDENTIFIER_TYPES: Final = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"

#: Systems whose values are special personal data: hidden from ``repr``.
SENSITIVE_SYSTEMS: Final = frozenset({BE_SSIN})

#: Other spellings of a system accepted on input, mapped to the preferred one.
SYSTEM_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{
            _BE_LEGACY + name: _BE + name
            for name in ("nihdi", "nihdi-professional", "nihdi-organization", "ssin", "cbe")
        },
        "urn:oid:2.16.840.1.113883.3.6777.5.2": BE_NIHDI,
        "urn:oid:2.16.840.1.113883.3.6777.5.1": BE_SSIN,
        "urn:oid:2.16.840.1.113883.3.6777.5.5": BE_CBE,
    }
)


def preferred_system(system: str) -> str:
    """Return the preferred spelling of ``system`` (legacy Belgian URIs lose their age)."""
    trimmed = system.strip().rstrip("/")
    return SYSTEM_ALIASES.get(trimmed, trimmed)


@attrs.frozen
class Coding:
    """A FHIR ``Coding``: a code from a code system."""

    system: str
    code: str
    display: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Return the FHIR JSON form."""
        data = {"system": self.system, "code": self.code}
        if self.display is not None:
            data["display"] = self.display
        return data


@attrs.frozen
class FhirIdentifier:
    """A FHIR R4 ``Identifier``: ``system`` + ``value``, with a ``type`` where one is defined.

    >>> FhirIdentifier(FR_RPPS, "10001234567").to_dict()
    {'system': 'https://rpps.esante.gouv.fr', 'value': '10001234567'}
    """

    system: str
    value: str
    type: Coding | None = None

    def __repr__(self) -> str:
        # A NISS is special personal data: keep it out of logs that print identifiers.
        value = "<hidden>" if self.system in SENSITIVE_SYSTEMS else repr(self.value)
        return f"FhirIdentifier(system={self.system!r}, value={value}, type={self.type!r})"

    def to_dict(self) -> dict[str, object]:
        """Return the FHIR JSON form, ready for ``json.dumps``."""
        data: dict[str, object] = {}
        if self.type is not None:
            data["type"] = {"coding": [self.type.to_dict()]}
        data["system"] = self.system
        data["value"] = self.value
        return data

    @classmethod
    def from_dict(cls, data: object) -> FhirIdentifier:
        """Read the JSON form of an ``Identifier``; refuse anything without system and value.

        Raises :class:`~practiceid.InvalidFormat` (``kind="fhir"``) for a missing or
        non-text ``system`` or ``value``. The first ``type`` coding is kept, if any.
        """
        if not isinstance(data, Mapping):
            raise InvalidFormat(
                "a FHIR Identifier is a JSON object", kind="fhir", reason="not_an_object"
            )
        system = preferred_system(_text(data, "system"))
        if not system:  # "///" is no system either
            _text({}, "system")
        value = _text(data, "value")
        return cls(system, value, _first_coding(data.get("type")))


def _text(data: Mapping[object, object], name: str) -> str:
    item = data.get(name)
    if not isinstance(item, str) or not item.strip():
        raise InvalidFormat(
            f"a FHIR Identifier needs a text {name}", kind="fhir", reason=f"missing_{name}"
        )
    return item


def _first_coding(type_: object) -> Coding | None:
    if not isinstance(type_, Mapping):
        return None
    codings = type_.get("coding")
    if not isinstance(codings, list) or not codings:
        return None
    first = codings[0]
    if not isinstance(first, Mapping):
        return None
    system, code = first.get("system"), first.get("code")
    if not isinstance(system, str) or not isinstance(code, str):
        return None
    display = first.get("display")
    return Coding(system, code, display if isinstance(display, str) else None)
