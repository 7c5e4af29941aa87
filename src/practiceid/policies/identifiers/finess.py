"""FINESS number (Fichier national des établissements sanitaires et sociaux; B3).

Nine characters matching ``[0-9][0-9A-Z][0-9]{7}`` (ANS XSD): the département, then a
sequence, then a key. Real numbers pass Luhn over the nine digits; for Corsica (``2A``,
``2B``, or any letter in second place, which the XSD allows) the key's algorithm is unknown,
so such numbers are accepted on their syntax and :attr:`FinessNumber.key_verified` is
``False``.

A FINESS number names either a legal entity (*entité juridique*, EJ) or a geographic
establishment (*établissement géographique*, EG/ET). The number itself does not say which:
the host tells :func:`parse` with ``kind=``, and FHIR output then carries FR Core's type
(``FINEJ`` or ``FINEG``). Numbers below are made up:

>>> validate("75 023456 9")
'750234569'
>>> parse("750234569", kind=FinessKind.EG).to_fhir().type.code
'FINEG'
>>> is_valid("750234568")
False

Sources: ANS, FINESS XSD pattern; Interop-Santé FR Core ``FRCoreOrganizationProfile``
(system ``https://finess.esante.gouv.fr``).
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from practiceid.errors import InvalidFormat
from practiceid.policies.identifiers import _common
from practiceid.policies.identifiers.fhir import (
    FR_FINESS,
    FR_IDENTIFIER_TYPES,
    Coding,
    FhirIdentifier,
)

__all__ = [
    "KIND",
    "FinessKind",
    "FinessNumber",
    "compact",
    "format",
    "is_valid",
    "parse",
    "validate",
]

KIND: Final = "finess"
_LENGTH: Final = (9,)


class FinessKind(enum.StrEnum):
    """What a FINESS number names; the value is FR Core's identifier type code."""

    EJ = "FINEJ"
    """A legal entity (entité juridique)."""
    EG = "FINEG"
    """A geographic establishment (établissement géographique, also written ET)."""


@attrs.frozen
class FinessNumber:
    """A valid FINESS number, with its kind when the host knows it."""

    number: str
    kind: FinessKind | None = None
    key_verified: bool = attrs.field(default=True, eq=False)

    @property
    def department(self) -> str:
        """The first two characters: the département."""
        return self.number[:2]

    def format(self) -> str:
        """Return the display form: the nine characters, ungrouped, as the registers show them."""
        return self.number

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier``, typed ``FINEJ``/``FINEG`` when the kind is known."""
        type_ = None if self.kind is None else Coding(FR_IDENTIFIER_TYPES, self.kind.value)
        return FhirIdentifier(FR_FINESS, self.number, type_)


def compact(number: object) -> str:
    """Return ``number`` without separators or spaces, upper-cased."""
    return _common.clean(number, KIND).upper()


def _check(number: object) -> tuple[str, bool]:
    compacted = compact(number)
    _common.not_empty(compacted, KIND)
    _common.expect_length(compacted, KIND, _LENGTH)
    if compacted.isascii() and compacted.isdigit():
        _common.check_luhn(compacted, KIND)
        return compacted, True
    if not _letter_pattern(compacted):
        raise InvalidFormat(
            "expected nine digits, the second of which may be a letter (2A, 2B)",
            kind=KIND,
            reason="pattern",
        )
    return compacted, False


def _letter_pattern(compacted: str) -> bool:
    """``[0-9][A-Z][0-9]{7}``: a letter in second place, whose key cannot be checked."""
    second, rest = compacted[1], compacted[:1] + compacted[2:]
    return rest.isascii() and rest.isdigit() and second.isascii() and second.isupper()


def validate(number: object) -> str:
    """Return the compact form of a valid number; raise an ``InvalidIdentifier`` otherwise."""
    return _check(number)[0]


def is_valid(number: object) -> bool:
    """Return whether ``number`` is valid. Never raises, whatever ``number`` is."""
    compacted = _common.cleaned_text(number)
    if compacted is None or len(compacted) != _LENGTH[0]:
        return False
    if _common.all_digits(compacted, _LENGTH[0]):
        return _common.luhn_ok(compacted)
    return _letter_pattern(compacted.upper())


def parse(number: object, *, kind: FinessKind | None = None) -> FinessNumber:
    """Validate ``number``; ``kind`` says whether it names a legal entity or an establishment."""
    compacted, verified = _check(number)
    return FinessNumber(compacted, kind, key_verified=verified)


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the display form (the nine characters, ungrouped) of a valid number."""
    return validate(number)
