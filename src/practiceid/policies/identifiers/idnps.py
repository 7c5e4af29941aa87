"""IDNPS, the national identifier of a French health professional (identifiant national PS; B3).

The IDNPS is what French systems exchange (CPS cards, Pro Santé Connect, FHIR ``idNatPs``): a
type prefix followed by an identifier.

* ``8`` + RPPS: 12 digits, for professionals in the RPPS;
* ``0`` + ADELI: 10 characters, for professionals known only to ADELI;
* ``1``, ``3``, ``4``, ``5`` or ``6`` + structure identifier + ``/`` + local identifier,
  for staff without a national number, identified by their structure (the prefix is the kind
  of structure identifier: 1 FINESS, 3 SIRET, 4 RPPS cabinet, 5 FINESS EJ, 6 FINESS EG).

Official examples sometimes carry a bare RPPS (or ADELI) where an IDNPS is expected. This
module parses leniently and emits strictly: a bare number is accepted with the notice
``idnps.bare_national_id``, and :func:`validate`, :func:`format` and FHIR output always give
the prefixed form. The RPPS or ADELI inside is checked by its own module. Numbers below are
made up:

>>> validate("810001234565")
'810001234565'
>>> validate("10001234565")  # a bare RPPS
'810001234565'
>>> parse("0751001231").kind
<IdnpsKind.ADELI: 'adeli'>
>>> parse("3 12345678900017/sec-042").local_id
'sec-042'

Sources: ANS, CI-SIS "Annexe transverse – Source des données métier pour les professionnels et
les structures"; ANS nomenclature TRE_G07 (structure identifier types); Interop-Santé FR Core
``FRCorePractitionerProfile`` (system ``urn:oid:1.2.250.1.71.4.2.1``, type ``IDNPS``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from practiceid.errors import (
    InvalidComponent,
    InvalidFormat,
    InvalidIdentifier,
    InvalidLength,
    Notice,
    PracticeIdError,
)
from practiceid.policies.identifiers import _common, adeli, rpps
from practiceid.policies.identifiers.fhir import (
    FR_IDENTIFIER_TYPES,
    FR_IDNPS,
    Coding,
    FhirIdentifier,
)

__all__ = [
    "KIND",
    "STRUCTURE_PREFIXES",
    "IdnpsKind",
    "IdnpsNumber",
    "compact",
    "format",
    "is_valid",
    "parse",
    "validate",
]

KIND: Final = "idnps"
#: Structure-based prefixes and the kind of structure identifier that follows them.
STRUCTURE_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"1": "FINESS", "3": "SIRET", "4": "RPPS cabinet", "5": "FINESS EJ", "6": "FINESS EG"}
)
_MAX_LENGTH: Final = 64  # no register allows more; a bound keeps junk out of storage
_RPPS_PREFIX: Final = "8"
_ADELI_PREFIX: Final = "0"
_BARE_RPPS: Final = 11
_BARE_ADELI: Final = 9


class IdnpsKind(enum.StrEnum):
    """Which register the identifier comes from."""

    RPPS = "rpps"
    ADELI = "adeli"
    STRUCTURE = "structure"


@attrs.frozen
class IdnpsNumber:
    """A valid IDNPS in its strict, prefixed form."""

    number: str
    kind: IdnpsKind
    notices: tuple[Notice, ...] = attrs.field(default=(), eq=False)

    @property
    def national_id(self) -> str | None:
        """The RPPS or ADELI number inside, or ``None`` for a structure-based identifier."""
        return None if self.kind is IdnpsKind.STRUCTURE else self.number[1:]

    @property
    def structure_type(self) -> str | None:
        """The kind of structure identifier (``"SIRET"``, …), for structure-based ones."""
        return STRUCTURE_PREFIXES.get(self.number[0]) if self.kind is IdnpsKind.STRUCTURE else None

    @property
    def structure_id(self) -> str | None:
        """The structure's identifier, for structure-based ones."""
        if self.kind is not IdnpsKind.STRUCTURE:
            return None
        return self.number[1:].split("/", 1)[0]

    @property
    def local_id(self) -> str | None:
        """The identifier given by the structure, for structure-based ones."""
        if self.kind is not IdnpsKind.STRUCTURE:
            return None
        return self.number.split("/", 1)[1]

    def format(self) -> str:
        """Return the strict form."""
        return self.number

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier`` of FR Core's ``idNatPs`` slice."""
        return FhirIdentifier(FR_IDNPS, self.number, Coding(FR_IDENTIFIER_TYPES, "IDNPS"))


def _clean(number: object) -> str:
    if isinstance(number, str) and "/" in number:
        head, _, local = number.strip().partition("/")
        head, local = _common.clean(head, KIND).upper(), local.strip()
        return f"{head}/{local}" if head or local else ""
    return _common.clean(number, KIND).upper()


def _is_bare(cleaned: str) -> bool:
    return "/" not in cleaned and len(cleaned) in {_BARE_RPPS, _BARE_ADELI}


def compact(number: object) -> str:
    """Return ``number`` without separators, a bare RPPS or ADELI number with its prefix.

    Inside a structure-based identifier (``3…/local``), dots and dashes may belong to the
    local identifier, so they are kept; only the spaces around it go.

    >>> compact("100 0123 4565")
    '810001234565'
    """
    cleaned = _clean(number)
    if _is_bare(cleaned):
        return (_RPPS_PREFIX if len(cleaned) == _BARE_RPPS else _ADELI_PREFIX) + cleaned
    return cleaned


def _national(compacted: str, notices: tuple[Notice, ...]) -> IdnpsNumber:
    prefix, rest = compacted[0], compacted[1:]
    if prefix == _RPPS_PREFIX and len(rest) == _BARE_RPPS:
        return IdnpsNumber(_RPPS_PREFIX + rpps.validate(rest), IdnpsKind.RPPS, notices)
    if prefix == _ADELI_PREFIX and len(rest) == _BARE_ADELI:
        return IdnpsNumber(_ADELI_PREFIX + adeli.validate(rest), IdnpsKind.ADELI, notices)
    if prefix in {_RPPS_PREFIX, _ADELI_PREFIX}:
        _common.expect_length(
            compacted, KIND, (_BARE_RPPS + 1,) if prefix == _RPPS_PREFIX else (_BARE_ADELI + 1,)
        )
    raise InvalidComponent(
        "an IDNPS starts with 8 (RPPS), 0 (ADELI) or a structure prefix followed by '/'",
        kind=KIND,
        component="prefix",
    )


def _structure(compacted: str) -> IdnpsNumber:
    head, _, local = compacted.partition("/")
    if head[:1] not in STRUCTURE_PREFIXES:
        raise InvalidComponent(
            f"a structure-based IDNPS starts with {', '.join(STRUCTURE_PREFIXES)}",
            kind=KIND,
            component="prefix",
        )
    structure = head[1:]
    if not (structure and structure.isascii() and structure.isalnum()):
        raise InvalidComponent(
            "the structure identifier must be letters and digits",
            kind=KIND,
            component="structure_id",
        )
    if not local or "/" in local or not local.isprintable() or any(c.isspace() for c in local):
        raise InvalidComponent(
            "the local identifier must be printable, without spaces or '/'",
            kind=KIND,
            component="local_id",
        )
    return IdnpsNumber(compacted, IdnpsKind.STRUCTURE)


def _check(number: object) -> IdnpsNumber:
    cleaned = _clean(number)
    notices: tuple[Notice, ...] = ()
    if _is_bare(cleaned):
        notices = (
            Notice(
                "idnps.bare_national_id",
                "a bare RPPS or ADELI number was given where an IDNPS was expected",
                KIND,
                {"length": len(cleaned)},
            ),
        )
    compacted = compact(number)
    if not compacted:
        raise InvalidFormat("the identifier is empty", kind=KIND, reason="empty")
    if len(compacted) > _MAX_LENGTH:
        raise InvalidLength(
            f"at most {_MAX_LENGTH} characters",
            kind=KIND,
            length=len(compacted),
            maximum=_MAX_LENGTH,
        )
    if "/" in compacted:
        return _structure(compacted)
    try:
        return _national(compacted, notices)
    except InvalidIdentifier as error:
        if error.kind == KIND:
            raise
        # The RPPS or ADELI inside was refused: same error, reported for the IDNPS.
        params: dict[str, Any] = {
            k: v for k, v in error.params.items() if k not in {"kind", "field"}
        }
        raise type(error)(error.message, kind=KIND, register=error.kind, **params) from None


def validate(number: object) -> str:
    """Return the strict form of a valid identifier; raise an ``InvalidIdentifier`` otherwise.

    A bare RPPS or ADELI number is accepted and returned with its prefix.
    """
    return _check(number).number


def is_valid(number: object) -> bool:
    """Return whether ``number`` is valid. Never raises, whatever ``number`` is."""
    try:
        _check(number)
    except PracticeIdError:
        return False
    return True


def parse(number: object) -> IdnpsNumber:
    """Validate ``number`` and return it decoded, with a notice if it was a bare number."""
    return _check(number)


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the strict form of a valid identifier; raise if invalid."""
    return validate(number)
