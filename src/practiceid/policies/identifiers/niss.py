"""NISS / INSZ, the Belgian social-security number (national register or BIS; B2).

Eleven digits ``YY.MM.DD-NNN.CC``: a birth date (month + 20 or + 40 for BIS numbers given to
people outside the national register), a sequence that is odd for men and even for women,
and check digits (97 − the first nine digits mod 97, with ``2`` prefixed for births from
2000). The rules are python-stdnum's ``stdnum.be.ssn``, which this module wraps: it accepts
both national and BIS numbers (``stdnum.be.nn`` alone refuses BIS numbers).

The NISS is special personal data under the GDPR: :class:`NissNumber` keeps the number out of
its ``repr``, and no error carries it. Never log it. The number below is made up:

>>> validate("85.07.30-033 28")
'85073003328'
>>> format("85073003328")
'85.07.30-033.28'
>>> parse("85073003328")
NissNumber(type='nn')

Sources: python-stdnum ``stdnum.be.ssn``, ``stdnum.be.nn`` and ``stdnum.be.bis``; Banque
Carrefour de la Sécurité Sociale (KSZ-BCSS); eHealth FHIR naming system ``ssin``.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs
from stdnum.be import nn as stdnum_nn
from stdnum.be import ssn as stdnum_ssn

from practiceid.policies.identifiers import _common, _stdnum
from practiceid.policies.identifiers.fhir import BE_SSIN, FhirIdentifier

__all__ = ["KIND", "NissNumber", "compact", "format", "is_valid", "parse", "validate"]

KIND: Final = "niss"


@attrs.frozen
class NissNumber:
    """A valid NISS: national register (``nn``) or BIS (``bis``). Its ``repr`` hides the number."""

    number: str = attrs.field(repr=False)
    type: Literal["nn", "bis"]

    def format(self) -> str:
        """Return the display form ``YY.MM.DD-NNN.CC``."""
        return str(stdnum_nn.format(self.number))

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier`` (eHealth Belgium's ``ssin`` naming system)."""
        return FhirIdentifier(BE_SSIN, self.number)


def compact(number: object) -> str:
    """Return the digits of ``number`` without separators."""
    return str(stdnum_ssn.compact(_common.clean(number, KIND)))


def validate(number: object) -> str:
    """Return the compact form of a valid NISS; raise an ``InvalidIdentifier`` otherwise.

    An impossible birth month is :class:`~practiceid.InvalidComponent`
    (``component="birth_date"``).
    """
    return _stdnum.run(
        stdnum_ssn.validate,
        number,
        kind=KIND,
        compact=stdnum_ssn.compact,
        lengths=(11,),
        component="birth_date",
    )


def is_valid(number: object) -> bool:
    """Return whether ``number`` is valid. Never raises, whatever ``number`` is."""
    cleaned = _common.cleaned_text(number)
    return cleaned is not None and bool(stdnum_ssn.is_valid(cleaned))


def parse(number: object) -> NissNumber:
    """Validate ``number`` and say whether it is a national register or a BIS number."""
    compacted = validate(number)
    return NissNumber(compacted, "bis" if stdnum_ssn.guess_type(compacted) == "bis" else "nn")


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the display form ``YY.MM.DD-NNN.CC`` of a valid NISS; raise if invalid."""
    return str(stdnum_nn.format(validate(number)))
