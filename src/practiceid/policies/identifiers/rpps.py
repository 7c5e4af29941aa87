"""RPPS number (Répertoire partagé des professionnels intervenant dans le système de santé; B3).

The French shared directory of health professionals gives each professional one number for
life: 11 digits, the last a Luhn key over all eleven ("11 caractères numériques (le dernier
étant la clé de Luhn)", ANS). Physicians, dentists, pharmacists and midwives have one; since
2021 the professions registered in ADELI progressively receive one too; students and interns
are registered as well. Display form: the 11 digits, ungrouped, as in the Annuaire Santé.

Real numbers start with ``10``, but an official ANS example starts with ``0``: a first digit
other than ``1`` is a :class:`~practiceid.Notice` (``rpps.unusual_first_digit``), never a
refusal. Refusing a real number would lock a professional out.

The national identifier of a professional (IDNPS) is ``8`` + RPPS; see
:mod:`practiceid.policies.identifiers.idnps`. Numbers below are made up:

>>> validate("100 0123 4565")
'10001234565'
>>> validate("10001234566")
Traceback (most recent call last):
    ...
practiceid.errors.InvalidChecksum: the check digit does not match (Luhn)
>>> parse("00001234566").notices[0].code
'rpps.unusual_first_digit'
>>> parse("10001234565").idnps
'810001234565'

Sources: ANS, "Identifiants des professionnels" FAQ; Interop-Santé FR Core
``FRCorePractitionerProfile`` (system ``https://rpps.esante.gouv.fr``, type ``RPPS``).
"""

from __future__ import annotations

from typing import Final

import attrs

from practiceid.errors import Notice
from practiceid.policies.identifiers import _common
from practiceid.policies.identifiers.fhir import (
    FR_IDENTIFIER_TYPES,
    FR_RPPS,
    Coding,
    FhirIdentifier,
)

__all__ = ["KIND", "RppsNumber", "compact", "format", "is_valid", "parse", "validate"]

KIND: Final = "rpps"
_LENGTH: Final = (11,)


@attrs.frozen
class RppsNumber:
    """A valid RPPS number, with notices about unusual but accepted features."""

    number: str
    notices: tuple[Notice, ...] = attrs.field(default=(), eq=False)

    @property
    def idnps(self) -> str:
        """The national identifier of the professional: ``8`` + RPPS."""
        return "8" + self.number

    def format(self) -> str:
        """Return the display form (the eleven digits)."""
        return self.number

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier`` of FR Core's ``rpps`` slice."""
        return FhirIdentifier(FR_RPPS, self.number, Coding(FR_IDENTIFIER_TYPES, "RPPS"))


def compact(number: object) -> str:
    """Return the digits of ``number`` without separators or spaces."""
    return _common.clean(number, KIND)


def validate(number: object) -> str:
    """Return the compact form of a valid number; raise an ``InvalidIdentifier`` otherwise."""
    compacted = compact(number)
    _common.digits(compacted, KIND)
    _common.expect_length(compacted, KIND, _LENGTH)
    _common.check_luhn(compacted, KIND)
    return compacted


def is_valid(number: object) -> bool:
    """Return whether ``number`` is valid. Never raises, whatever ``number`` is."""
    compacted = _common.cleaned_text(number)
    return (
        compacted is not None
        and _common.all_digits(compacted, _LENGTH[0])
        and _common.luhn_ok(compacted)
    )


def parse(number: object) -> RppsNumber:
    """Validate ``number`` and return it with its notices."""
    compacted = validate(number)
    notices: tuple[Notice, ...] = ()
    if compacted[0] != "1":
        notices = (
            Notice(
                "rpps.unusual_first_digit",
                "real RPPS numbers start with 1; check the number",
                KIND,
                {"first_digit": compacted[0]},
            ),
        )
    return RppsNumber(compacted, notices)


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the display form of a valid number; raise if invalid."""
    return validate(number)
