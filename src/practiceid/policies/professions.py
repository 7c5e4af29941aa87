"""Professions, and what each requires, as data per product (B2, B3, B1, E3).

A :class:`ProfessionRules` table says, for one product, which professions it offers and, per
country, which identifiers each must carry, whether it needs a reachable workplace address,
which INAMI first digits fit it, and whether it pays for a license. The services read the
table; no ``if profession == …`` is scattered through the code. A host replaces or extends a
table with :meth:`ProfessionRules.with_rule`.

>>> rules = PROFESSION_RULES[ProductKind.GENERAL_PRACTICE]
>>> rules.rule(Profession.GENERAL_PRACTITIONER, "BE").required
(('inami',),)
>>> rules.rule(Profession.NURSE, "FR").required  # French paramedics: RPPS or ADELI (B3)
(('rpps', 'adeli'),)
>>> rules.rule(Profession.SECRETARY, "BE").pays_license  # E3
False
>>> PROFESSION_RULES[ProductKind.DENTAL].rule(Profession.DENTIST, "FR").required
(('rpps',),)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

import attrs

from practiceid.errors import InvalidConfiguration
from practiceid.establishments import ProductKind

__all__ = [
    "IDENTIFIER_KINDS",
    "PROFESSION_RULES",
    "Profession",
    "ProfessionRule",
    "ProfessionRules",
]

IDENTIFIER_KINDS: Final = ("inami", "niss", "rpps", "adeli")
"""The identifiers a practitioner may carry: INAMI and NISS (B2), RPPS and ADELI (B3)."""


class Profession(enum.StrEnum):
    """What a member of a practice does. Physicians are general practitioners or specialists."""

    GENERAL_PRACTITIONER = "general_practitioner"
    SPECIALIST = "specialist"
    DENTIST = "dentist"
    VETERINARIAN = "veterinarian"
    NURSE = "nurse"
    PHYSIOTHERAPIST = "physiotherapist"
    MIDWIFE = "midwife"
    SECRETARY = "secretary"
    """Secretary or receptionist ("accueillant(e)")."""
    ASSISTANT = "assistant"
    """Dental assistant, veterinary nurse, medical assistant."""
    OTHER = "other"

    @property
    def is_physician(self) -> bool:
        """Whether this is a general practitioner or a specialist."""
        return self in {Profession.GENERAL_PRACTITIONER, Profession.SPECIALIST}


def _kinds(values: Iterable[Iterable[str]]) -> tuple[tuple[str, ...], ...]:
    chosen = tuple(tuple(group) for group in values)
    unknown = {kind for group in chosen for kind in group} - set(IDENTIFIER_KINDS)
    if unknown or any(not group for group in chosen):
        raise InvalidConfiguration(
            f"required identifiers are non-empty groups of {', '.join(IDENTIFIER_KINDS)}",
            option="required",
        )
    return chosen


def _digits(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen
class ProfessionRule:
    """What one profession needs in one country (``country=None``: any other country).

    ``required`` lists groups of identifier kinds; the practitioner carries at least one kind
    of every group: ``(("rpps", "adeli"),)`` reads "an RPPS or an ADELI number".
    ``inami_digits`` lists the INAMI first digits that fit the profession (1 physician,
    3 dentist, 4 nurse or midwife, 5 physiotherapist); empty means any.
    ``workplace_address`` asks for a workplace address with e-mail and phone (B1).
    ``pays_license`` feeds the licenses (E3).
    """

    profession: Profession
    country: str | None = None
    required: tuple[tuple[str, ...], ...] = attrs.field(default=(), converter=_kinds)
    inami_digits: frozenset[str] = attrs.field(default=frozenset(), converter=_digits)
    workplace_address: bool = True
    pays_license: bool = False


def _rule_index(
    rules: Iterable[ProfessionRule],
) -> Mapping[tuple[Profession, str | None], ProfessionRule]:
    return MappingProxyType({(r.profession, r.country): r for r in rules})


@attrs.frozen
class ProfessionRules:
    """The professions one product offers, and their :class:`ProfessionRule` per country."""

    rules: Mapping[tuple[Profession, str | None], ProfessionRule] = attrs.field(
        converter=_rule_index
    )

    @property
    def professions(self) -> frozenset[Profession]:
        """The professions offered."""
        return frozenset(profession for profession, _ in self.rules)

    def offers(self, profession: Profession) -> bool:
        """Whether the product offers this profession."""
        return profession in self.professions

    def rule(self, profession: Profession, country: str) -> ProfessionRule:
        """Return the rule for ``profession`` in ``country``, or its any-country rule.

        A profession the product does not offer gets an empty rule (nothing required, no
        license): :meth:`offers` tells the two apart.
        """
        found = self.rules.get((profession, country)) or self.rules.get((profession, None))
        return found if found is not None else ProfessionRule(profession, workplace_address=False)

    def with_rule(self, rule: ProfessionRule) -> ProfessionRules:
        """Return these rules with ``rule`` added, replacing any for its profession and country."""
        return ProfessionRules({**self.rules, (rule.profession, rule.country): rule}.values())


_P = Profession
_PHYSICIAN_DIGITS: Final = frozenset({"1"})


def _common(*, paying: frozenset[Profession]) -> list[ProfessionRule]:
    """Regulation shared by every product: identifiers per country and INAMI digits."""
    return [
        # Belgium: physicians and dentists need an INAMI number (B2); paramedics may have one.
        *(
            ProfessionRule(p, "BE", (("inami",),), _PHYSICIAN_DIGITS, pays_license=p in paying)
            for p in (_P.GENERAL_PRACTITIONER, _P.SPECIALIST)
        ),
        ProfessionRule(_P.DENTIST, "BE", (("inami",),), {"3"}, pays_license=_P.DENTIST in paying),
        ProfessionRule(_P.NURSE, "BE", (), {"4"}, pays_license=_P.NURSE in paying),
        ProfessionRule(_P.MIDWIFE, "BE", (), {"4"}, pays_license=_P.MIDWIFE in paying),
        ProfessionRule(_P.PHYSIOTHERAPIST, "BE", (), {"5"}, pays_license=False),
        # France: physicians, dental surgeons and midwives are in the RPPS (B3); paramedics
        # carry an RPPS or, not yet migrated, an ADELI number.
        *(
            ProfessionRule(p, "FR", (("rpps",),), pays_license=p in paying)
            for p in (_P.GENERAL_PRACTITIONER, _P.SPECIALIST, _P.DENTIST, _P.MIDWIFE)
        ),
        *(
            ProfessionRule(p, "FR", (("rpps", "adeli"),), pays_license=p in paying)
            for p in (_P.NURSE, _P.PHYSIOTHERAPIST)
        ),
    ]


def _any_country(*professions: Profession, paying: frozenset[Profession]) -> list[ProfessionRule]:
    care = {
        _P.GENERAL_PRACTITIONER,
        _P.SPECIALIST,
        _P.DENTIST,
        _P.VETERINARIAN,
        _P.NURSE,
        _P.PHYSIOTHERAPIST,
        _P.MIDWIFE,
    }
    return [
        ProfessionRule(p, None, workplace_address=p in care, pays_license=p in paying)
        for p in professions
    ]


def _product(offered: tuple[Profession, ...], *, paying: frozenset[Profession]) -> ProfessionRules:
    rules = [r for r in _common(paying=paying) if r.profession in offered]
    return ProfessionRules([*_any_country(*offered, paying=paying), *rules])


_ADMINISTRATIVE: Final = (_P.SECRETARY, _P.ASSISTANT, _P.OTHER)

PROFESSION_RULES: Mapping[ProductKind, ProfessionRules] = MappingProxyType(
    {
        # Medispring: only general practitioners and specialists pay (E3, source 000).
        ProductKind.GENERAL_PRACTICE: _product(
            (
                _P.GENERAL_PRACTITIONER,
                _P.SPECIALIST,
                _P.NURSE,
                _P.PHYSIOTHERAPIST,
                _P.MIDWIFE,
                *_ADMINISTRATIVE,
            ),
            paying=frozenset({_P.GENERAL_PRACTITIONER, _P.SPECIALIST}),
        ),
        ProductKind.HOSPITAL: _product(
            (
                _P.GENERAL_PRACTITIONER,
                _P.SPECIALIST,
                _P.DENTIST,
                _P.NURSE,
                _P.PHYSIOTHERAPIST,
                _P.MIDWIFE,
                *_ADMINISTRATIVE,
            ),
            paying=frozenset({_P.GENERAL_PRACTITIONER, _P.SPECIALIST}),
        ),
        # Beitary: the physician license is the veterinarian's; employees are free (E4).
        ProductKind.VETERINARY: _product(
            (_P.VETERINARIAN, *_ADMINISTRATIVE), paying=frozenset({_P.VETERINARIAN})
        ),
        # Allisone: dental surgeons carry an RPPS number (B3) and hold the paid seats.
        ProductKind.DENTAL: _product(
            (_P.DENTIST, _P.SPECIALIST, *_ADMINISTRATIVE),
            paying=frozenset({_P.DENTIST, _P.SPECIALIST}),
        ),
    }
)
"""The bundled rules per product. Sources and decisions: ``docs/profiles.md``."""
