"""ADELI number (Automatisation DEs LIstes: French health professionals' register; B3).

Nine characters ``DD PP NNNN K``: the département (``01``–``95``, ``2A``/``2B`` for Corsica,
``97`` for overseas), the profession, an order number and a key. ADELI is being phased out in
favour of RPPS, but many paramedical professionals still carry only an ADELI number.

No official statement of the key's algorithm was found; real numbers pass Luhn over the nine
digits, so numeric numbers are checked with Luhn. For Corsica (``2A``, ``2B``) the key's
algorithm is unknown: such numbers are accepted on their syntax alone and
:attr:`AdeliNumber.key_verified` is ``False``, so a host can ask for a second look instead of
locking a professional out.

The national identifier of the professional (IDNPS) is ``0`` + ADELI. Numbers below are made
up:

>>> validate("75 10 0123 1")
'751001231'
>>> parse("2a1001234").key_verified
False
>>> validate("751001232")
Traceback (most recent call last):
    ...
practiceid.errors.InvalidChecksum: the check digit does not match (Luhn)

Sources: ANS, "Identifiants des professionnels" FAQ; ANS "Annexe transverse – Source des
données métier pour les professionnels et les structures" (CI-SIS).
"""

from __future__ import annotations

from typing import Final

import attrs

from practiceid.errors import InvalidFormat
from practiceid.policies.identifiers import _common
from practiceid.policies.identifiers.fhir import (
    FR_IDENTIFIER_TYPES,
    FR_IDNPS,
    Coding,
    FhirIdentifier,
)

__all__ = ["KIND", "AdeliNumber", "compact", "format", "is_valid", "parse", "validate"]

KIND: Final = "adeli"
_LENGTH: Final = (9,)
_CORSICA: Final = frozenset({"2A", "2B"})


@attrs.frozen
class AdeliNumber:
    """A valid ADELI number; ``key_verified`` is ``False`` for Corsica's ``2A``/``2B``."""

    number: str
    key_verified: bool = attrs.field(default=True, eq=False)

    @property
    def department(self) -> str:
        """The first two characters: the département of registration."""
        return self.number[:2]

    @property
    def profession_code(self) -> str:
        """Characters 3 and 4: the profession."""
        return self.number[2:4]

    @property
    def idnps(self) -> str:
        """The national identifier of the professional: ``0`` + ADELI."""
        return "0" + self.number

    def format(self) -> str:
        """Return the display form: the nine characters, ungrouped, as the registers show them."""
        return self.number

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier``: FR Core carries ADELI as an IDNPS (``0`` + ADELI)."""
        return FhirIdentifier(FR_IDNPS, self.idnps, Coding(FR_IDENTIFIER_TYPES, "IDNPS"))


def compact(number: object) -> str:
    """Return ``number`` without separators or spaces, upper-cased (``2a`` → ``2A``)."""
    return _common.clean(number, KIND).upper()


def _check(number: object) -> tuple[str, bool]:
    compacted = compact(number)
    _common.not_empty(compacted, KIND)
    _common.expect_length(compacted, KIND, _LENGTH)
    if compacted[:2] in _CORSICA:
        _common.digits(compacted[2:], KIND)
        return compacted, False
    if not (compacted.isascii() and compacted.isdigit()):
        raise InvalidFormat(
            "only digits, or 2A/2B for Corsica, are allowed", kind=KIND, reason="not_digits"
        )
    _common.check_luhn(compacted, KIND)
    return compacted, True


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
    rest = compacted[2:]
    return compacted[:2].upper() in _CORSICA and rest.isascii() and rest.isdigit()


def parse(number: object) -> AdeliNumber:
    """Validate ``number`` and return it decoded."""
    compacted, verified = _check(number)
    return AdeliNumber(compacted, key_verified=verified)


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the display form (the nine characters, ungrouped) of a valid number."""
    return validate(number)
