"""BCE / KBO enterprise number (Banque-Carrefour des Entreprises; B4, B6).

Ten digits, the first 0 or 1, the last two a mod-97 check over the first eight; written
``0403.019.261``. It is also the Belgian VAT number with ``BE`` in front, and older documents
give the 9-digit form without the leading 0. Users are asked to enter it without ``BE``
(B6), but this module accepts ``BE``, the ``(0)`` spelling and the 9-digit form, as
python-stdnum's ``stdnum.be.vat`` does: it does the work here.

>>> validate("BE 0403.019.261")
'0403019261'
>>> format("403019261")
'0403.019.261'
>>> parse("0403019261").vat
'BE0403019261'

Sources: python-stdnum ``stdnum.be.vat``; FPS Economy, Crossroads Bank for Enterprises;
eHealth FHIR naming system ``cbe``.
"""

from __future__ import annotations

from typing import Final

import attrs
from stdnum.be import vat as stdnum_vat

from practiceid.policies.identifiers import _common, _stdnum
from practiceid.policies.identifiers.fhir import BE_CBE, FhirIdentifier

__all__ = ["KIND", "BceNumber", "compact", "format", "is_valid", "parse", "validate"]

KIND: Final = "bce"


def _layout(number: str) -> str:
    return f"{number[:4]}.{number[4:7]}.{number[7:]}"


@attrs.frozen
class BceNumber:
    """A valid enterprise number."""

    number: str

    @property
    def vat(self) -> str:
        """The Belgian VAT number: ``BE`` + the ten digits."""
        return "BE" + self.number

    def format(self) -> str:
        """Return the display form ``0403.019.261``."""
        return _layout(self.number)

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier`` (eHealth Belgium's ``cbe`` naming system)."""
        return FhirIdentifier(BE_CBE, self.number)


def compact(number: object) -> str:
    """Return the ten digits: without ``BE``, separators, and with the leading 0 restored."""
    return str(stdnum_vat.compact(_common.clean(number, KIND)))


def validate(number: object) -> str:
    """Return the compact form of a valid number; raise an ``InvalidIdentifier`` otherwise.

    A first digit other than 0 or 1 is :class:`~practiceid.InvalidComponent`
    (``component="first_digit"``).
    """
    return _stdnum.run(
        stdnum_vat.validate,
        number,
        kind=KIND,
        compact=stdnum_vat.compact,
        lengths=(9, 10),
        component="first_digit",
    )


def is_valid(number: object) -> bool:
    """Return whether ``number`` is valid. Never raises, whatever ``number`` is."""
    if isinstance(number, str) and number.isascii() and number.isprintable():
        # In printable ASCII our cleaning removes exactly what stdnum's does (" -./"): one
        # cleaning is enough. This keeps screening as fast as stdnum.be.vat itself.
        return bool(stdnum_vat.is_valid(number))
    cleaned = _common.cleaned_text(number)
    return cleaned is not None and bool(stdnum_vat.is_valid(cleaned))


def parse(number: object) -> BceNumber:
    """Validate ``number`` and return it."""
    return BceNumber(validate(number))


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the display form ``0403.019.261`` of a valid number; raise if invalid."""
    return _layout(validate(number))
