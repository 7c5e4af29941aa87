r"""INAMI / RIZIV / NIHDI number (Belgian health-care providers and institutions; B2, B4).

The National Institute for Health and Disability Insurance gives every provider it pays an
11-digit number, written ``P-NNNNN-CC-QQQ``:

* ``P``: the kind of provider (1 physician, 3 dentist, 4 nurse or midwife, 5
  physiotherapist, 7 care institution, 8 clinical laboratory, …);
* ``NNNNN``: a sequence number;
* ``CC``: check digits over the first six digits;
* ``QQQ``: the competence (qualification) code, which changes during a career: a GP trainee
  (005, 006) becomes a recognised GP (003) and keeps the same first eight digits.

So the first eight digits identify the person (:attr:`InamiNumber.person_key`); the last
three are time-variant data. An 8-digit short form ``PNNNNNCC`` is still in use: valid but
deprecated (eHealth's FHIR invariant ``be-inv-NIHDI`` accepts ``\d{11}|\d{8}``). Institution
numbers follow the same rule.

Check digits: with ``N`` the first six digits as an integer and ``M`` the modulus,
``CC = M - (N mod M)``, so ``CC`` is never ``00``. The modulus was 97; INAMI note
I 2012/26 (31/10/2012) introduced 89, used for nurses and midwives since 2013 and for
physicians since 1 April 2019, and INAMI's software-supplier page lists 97, 89, 83 and 79.
A number is valid when one allowed modulus matches; :attr:`InamiNumber.modulus` says which,
and a host may restrict the moduli. With four moduli about 3 % of single-digit typos still
pass: the check catches most slips, not all.

Worked example from the rule's description: ``N = 187497``, ``187497 mod 97 = 93``,
``97 - 93 = 04``:

>>> check_digits("187497", 97)
'04'

Numbers below are made up:

>>> validate("1-23456-25-005")
'12345625005'
>>> format("12345625005")
'1-23456-25-005'
>>> number = parse("1.23456.76.005")
>>> number.modulus, number.person_key, number.competence_code
(89, '12345676', '005')
>>> number.requires_supervisor  # a GP trainee must choose a supervisor (B4)
True
>>> validate("1-23456-78-901")
Traceback (most recent call last):
    ...
practiceid.errors.InvalidChecksum: the check digits match none of the moduli 97, 89, 83, 79
>>> is_valid(None), is_valid("12345625")
(False, True)

Sources: INAMI, "Numéro INAMI" software-supplier page; INAMI note I 2012/26;
hl7-be/ehealth-be-core FHIR invariant ``be-inv-NIHDI``.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Collection, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Final, Literal

import attrs

from practiceid.errors import InvalidChecksum, InvalidConfiguration, PracticeIdError
from practiceid.policies.identifiers import _common
from practiceid.policies.identifiers.fhir import (
    BE_NIHDI_ORGANIZATION,
    BE_NIHDI_PROFESSIONAL,
    FhirIdentifier,
)

__all__ = [
    "KIND",
    "MODULI",
    "Competence",
    "Confidence",
    "InamiNumber",
    "InamiTable",
    "Profession",
    "check_digits",
    "compact",
    "format",
    "is_valid",
    "parse",
    "validate",
]

KIND: Final = "inami"
#: Every modulus INAMI lists: 97 (the original), 89 (INAMI note I 2012/26), then 83 and 79,
#: whose introduction no source dates. The order decides which one is reported when several
#: match.
MODULI: Final = (97, 89, 83, 79)
_LENGTHS: Final = (8, 11)

Confidence = Literal["confirmed", "likely", "open"]


def _labels(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Profession:
    """What the first digit says: the kind of provider, or an institution."""

    digit: str
    label: str
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_labels, eq=False)
    is_organization: bool = False
    confidence: Confidence = "likely"


@attrs.frozen
class Competence:
    """What a competence code means for one kind of provider.

    ``requires_supervisor`` marks trainees who must choose a training supervisor (B4).
    ``is_general_practitioner`` covers recognised GPs and GP trainees; a supervisor candidate
    is a GP who does not require a supervisor.
    """

    digit: str
    code: str
    label: str
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_labels, eq=False)
    is_general_practitioner: bool = False
    requires_supervisor: bool = False
    confidence: Confidence = "likely"


def _frozen_professions(value: Mapping[str, Profession]) -> Mapping[str, Profession]:
    return MappingProxyType(dict(value))


def _frozen_competences(
    value: Mapping[tuple[str, str], Competence],
) -> Mapping[tuple[str, str], Competence]:
    return MappingProxyType(dict(value))


@attrs.frozen
class InamiTable:
    """A versioned table of first digits and competence codes. Unknown entries are ``None``.

    The bundled table (:meth:`default`) holds what is confirmed or likely; a host that knows
    more loads its own with :meth:`from_toml` and passes it to :func:`parse`.
    """

    version: str
    professions: Mapping[str, Profession] = attrs.field(converter=_frozen_professions)
    competences: Mapping[tuple[str, str], Competence] = attrs.field(converter=_frozen_competences)
    source: str = ""

    def extended_by(self, other: InamiTable) -> InamiTable:
        """Return this table with ``other``'s entries added, ``other`` winning on conflicts.

        Keeps the bundled knowledge while adding a host's own codes::

            table = InamiTable.default().extended_by(InamiTable.from_toml(text))
        """
        return InamiTable(
            version=f"{self.version}+{other.version}",
            professions={**self.professions, **other.professions},
            competences={**self.competences, **other.competences},
            source="; ".join(s for s in (self.source, other.source) if s),
        )

    def profession(self, digit: str) -> Profession | None:
        """Return the meaning of a first digit, or ``None`` when the table does not know it."""
        return self.professions.get(digit)

    def competence(self, digit: str, code: str | None) -> Competence | None:
        """Return the meaning of ``code`` for providers of kind ``digit``, or ``None``."""
        if code is None:
            return None
        return self.competences.get((digit, code))

    @classmethod
    def from_toml(cls, text: str) -> InamiTable:
        """Read a table in the bundled file's format (see ``inami_table.toml``).

        Raises :class:`~practiceid.InvalidConfiguration` naming the faulty entry, including
        an unknown key: a misspelt ``requires_supervisr`` must not silently leave trainees
        unflagged.
        """
        try:
            data = tomllib.loads(text)
            _known_keys(data, _TABLE_KEYS, "table")
            source = data.get("source", "")
            return cls(
                version=_entry_text(data, "version"),
                source=source if isinstance(source, str) else _entry_text(data, "source"),
                professions={
                    digit: _profession(digit, entry)
                    for digit, entry in data.get("professions", {}).items()
                },
                competences={
                    (digit, code): _competence(digit, code, entry)
                    for digit, codes in data.get("competences", {}).items()
                    for code, entry in codes.items()
                },
            )
        except PracticeIdError:
            raise
        except (tomllib.TOMLDecodeError, AttributeError, TypeError, ValueError) as error:
            raise InvalidConfiguration(
                f"unreadable INAMI table: {error}", option="inami_table"
            ) from error

    @classmethod
    def default(cls) -> InamiTable:
        """Return the bundled table (read on first use, then cached)."""
        return _default_table()


@functools.cache
def _default_table() -> InamiTable:
    text = resources.files(__package__).joinpath("inami_table.toml").read_text("utf-8")
    return InamiTable.from_toml(text)


_TABLE_KEYS: Final = frozenset({"version", "source", "professions", "competences"})
_FREE_TEXT: Final = frozenset({"label", "fr", "nl", "de", "confidence", "source", "note"})
_PROFESSION_KEYS: Final = _FREE_TEXT | {"organization"}
_COMPETENCE_KEYS: Final = _FREE_TEXT | {"general_practitioner", "requires_supervisor"}


def _known_keys(entry: Mapping[str, object], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise InvalidConfiguration(
            f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})",
            option=unknown[0],
        )


def _entry_text(entry: Mapping[str, object], name: str, where: str = "table") -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidConfiguration(f"{where}: '{name}' must be non-empty text", option=name)
    return value


def _entry_flag(entry: Mapping[str, object], name: str, where: str) -> bool:
    value = entry.get(name, False)
    if not isinstance(value, bool):
        raise InvalidConfiguration(f"{where}: '{name}' must be true or false", option=name)
    return value


def _confidence(entry: Mapping[str, object], where: str) -> Confidence:
    value = entry.get("confidence", "likely")
    if value not in {"confirmed", "likely", "open"}:
        raise InvalidConfiguration(
            f"{where}: confidence must be confirmed, likely or open", option="confidence"
        )
    return value


def _translations(entry: Mapping[str, object]) -> dict[str, str]:
    return {lang: text for lang in ("fr", "nl", "de") if isinstance(text := entry.get(lang), str)}


def _profession(digit: str, entry: Mapping[str, object]) -> Profession:
    where = f"professions.{digit}"
    if len(digit) != 1 or not digit.isdigit():
        raise InvalidConfiguration(f"{where}: a first digit is one digit", option="digit")
    _known_keys(entry, _PROFESSION_KEYS, where)
    return Profession(
        digit=digit,
        label=_entry_text(entry, "label", where),
        labels=_translations(entry),
        is_organization=_entry_flag(entry, "organization", where),
        confidence=_confidence(entry, where),
    )


def _competence(digit: str, code: str, entry: Mapping[str, object]) -> Competence:
    where = f"competences.{digit}.{code}"
    if len(digit) != 1 or not digit.isdigit() or len(code) != 3 or not code.isdigit():  # noqa: PLR2004
        raise InvalidConfiguration(f"{where}: codes are a digit and three digits", option="code")
    _known_keys(entry, _COMPETENCE_KEYS, where)
    return Competence(
        digit=digit,
        code=code,
        label=_entry_text(entry, "label", where),
        labels=_translations(entry),
        is_general_practitioner=_entry_flag(entry, "general_practitioner", where),
        requires_supervisor=_entry_flag(entry, "requires_supervisor", where),
        confidence=_confidence(entry, where),
    )


@attrs.frozen
class InamiNumber:
    """A valid INAMI number, with what it says about its holder.

    Equality is on the digits: the 11-digit and 8-digit forms of one person differ; compare
    :attr:`person_key` to match a person across a change of competence code.
    """

    number: str
    modulus: int = attrs.field(eq=False)
    table: InamiTable = attrs.field(factory=InamiTable.default, eq=False, repr=False)

    @property
    def profession_digit(self) -> str:
        """The first digit: the kind of provider."""
        return self.number[0]

    @property
    def person_key(self) -> str:
        """The first eight digits, which never change during a career."""
        return self.number[:8]

    @property
    def check_digits(self) -> str:
        """Digits 7 and 8."""
        return self.number[6:8]

    @property
    def competence_code(self) -> str | None:
        """The last three digits, or ``None`` for the deprecated 8-digit form."""
        return self.number[8:] or None

    @property
    def is_short_form(self) -> bool:
        """Whether this is the deprecated 8-digit form, without a competence code."""
        return len(self.number) == _LENGTHS[0]

    @property
    def profession(self) -> Profession | None:
        """The meaning of the first digit in :attr:`table`, or ``None`` if unknown."""
        return self.table.profession(self.profession_digit)

    @property
    def competence(self) -> Competence | None:
        """The meaning of the competence code in :attr:`table`, or ``None`` if unknown."""
        return self.table.competence(self.profession_digit, self.competence_code)

    @property
    def is_organization(self) -> bool:
        """Whether the number belongs to an institution or laboratory, not a person."""
        profession = self.profession
        return profession is not None and profession.is_organization

    @property
    def requires_supervisor(self) -> bool:
        """Whether the holder is a trainee who must choose a training supervisor (B4).

        ``False`` for unknown codes: check :attr:`competence` for ``None`` to tell.
        """
        competence = self.competence
        return competence is not None and competence.requires_supervisor

    @property
    def is_general_practitioner(self) -> bool:
        """Whether the code denotes a recognised GP or a GP trainee in :attr:`table`."""
        competence = self.competence
        return competence is not None and competence.is_general_practitioner

    def format(self) -> str:
        """Return the display form, ``1-23456-25-005`` (or ``1-23456-25``)."""
        return _layout(self.number)

    def to_fhir(self) -> FhirIdentifier:
        """Return the FHIR ``Identifier`` (eHealth Belgium's NIHDI naming systems)."""
        system = BE_NIHDI_ORGANIZATION if self.is_organization else BE_NIHDI_PROFESSIONAL
        return FhirIdentifier(system, self.number)


def check_digits(first_six: str, modulus: int) -> str:
    """Return the two check digits of ``first_six`` under ``modulus``: ``M - (N mod M)``."""
    return f"{modulus - int(first_six) % modulus:02d}"


def compact(number: object) -> str:
    """Return the digits of ``number`` without separators (``-``, ``.``, ``/``, spaces).

    >>> compact(" 1/23456/25/005 ")
    '12345625005'
    """
    return _common.clean(number, KIND)


def _moduli(moduli: Collection[int]) -> tuple[int, ...]:
    if moduli is MODULI:
        return MODULI
    try:
        given = set(moduli) if not isinstance(moduli, str | bytes) else None
    except TypeError:  # not iterable, or unhashable items
        given = None
    chosen = tuple(m for m in MODULI if given and m in given)
    if given is None or not chosen or len(chosen) != len(given):
        raise InvalidConfiguration(
            f"moduli must be a non-empty subset of {MODULI}", option="moduli"
        )
    return chosen


def _matching_modulus(number: str, moduli: tuple[int, ...]) -> int:
    first_six = int(number[:6])
    check = int(number[6:8])
    for modulus in moduli:
        if modulus - first_six % modulus == check:
            return modulus
    raise InvalidChecksum(
        f"the check digits match none of the moduli {', '.join(map(str, moduli))}",
        kind=KIND,
        algorithm="modulus",
        moduli=moduli,
    )


def _check(number: object, moduli: tuple[int, ...]) -> tuple[str, int]:
    compacted = compact(number)
    _common.digits(compacted, KIND)
    _common.expect_length(compacted, KIND, _LENGTHS)
    return compacted, _matching_modulus(compacted, moduli)


def validate(number: object, *, moduli: Collection[int] = MODULI) -> str:
    """Return the compact form of a valid number; raise an ``InvalidIdentifier`` otherwise.

    ``moduli`` restricts the accepted check-digit moduli (a subset of :data:`MODULI`).
    Raises :class:`~practiceid.InvalidFormat`, :class:`~practiceid.InvalidLength` or
    :class:`~practiceid.InvalidChecksum` (``params["moduli"]`` lists those tried).
    """
    return _check(number, _moduli(moduli))[0]


def is_valid(number: object, *, moduli: Collection[int] = MODULI) -> bool:
    """Return whether ``number`` is valid. Never raises for any ``number``.

    A ``moduli`` that is not a subset of :data:`MODULI` is a programming error and raises
    :class:`~practiceid.InvalidConfiguration`.
    """
    chosen = _moduli(moduli)
    compacted = _common.cleaned_text(number)
    if compacted is None or len(compacted) not in _LENGTHS:
        return False
    if not (compacted.isascii() and compacted.isdigit()):
        return False
    first_six, check = int(compacted[:6]), int(compacted[6:8])
    for modulus in chosen:  # noqa: SIM110 - a plain loop is twice as fast as any(...) here
        if modulus - first_six % modulus == check:
            return True
    return False


def parse(
    number: object, *, moduli: Collection[int] = MODULI, table: InamiTable | None = None
) -> InamiNumber:
    """Validate ``number`` and return it decoded with ``table`` (default: the bundled one)."""
    compacted, modulus = _check(number, _moduli(moduli))
    return InamiNumber(compacted, modulus, table or InamiTable.default())


def _layout(number: str) -> str:
    groups = [number[0], number[1:6], number[6:8]]
    if len(number) > _LENGTHS[0]:
        groups.append(number[8:])
    return "-".join(groups)


def format(number: object) -> str:  # noqa: A001 - the stdnum-style name
    """Return the display form ``P-NNNNN-CC-QQQ`` of a valid number; raise if invalid."""
    return _layout(validate(number))
