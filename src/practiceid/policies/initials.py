"""Initials: derived from the names, editable, unique within an establishment (A7).

A member's initials mark their entries in the agenda and the record. Two members of one
establishment must be told apart (source 003), so the initials are unique there, compared
case-insensitively (``JDu`` and ``JDU`` clash); the same person may have other initials in
another establishment.

>>> derive("Jean-Pierre", "Van den Bossche")
'JPVB'
>>> derive("Élodie", "de la Fontaine")
'ÉF'
>>> nearest_free("Jean", "Dupont", taken={key("JD")})
'JDu'
>>> nearest_free("Julie", "Durand", taken={key("JD"), key("JDu")})
'JDur'
>>> clean(" JDu ")
('JDu', [])
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator
from typing import Final

from practiceid._text import fold
from practiceid.policies.contact import Problem

__all__ = ["MAX_LENGTH", "clean", "derive", "key", "nearest_free"]

MAX_LENGTH: Final = 8
_PARTS: Final = re.compile(r"[\s\-‐‑–—'’]+")
_EXTRA_LETTERS: Final = 3
_MAX_NUMBER: Final = 99
_ALLOWED_PUNCTUATION: Final = frozenset(".-'")
# Particles of French, Dutch, German, Italian and Spanish surnames, for names typed in lower
# case, where capitals cannot tell them apart.
_PARTICLES: Final = frozenset(
    {"d", "da", "de", "del", "della", "den", "der", "des", "di", "du", "het", "l", "la", "le"}
    | {"les", "op", "t", "ten", "ter", "van", "vande", "vander", "von", "zu"}
)


def _upper(char: str) -> str:
    """Upper-case one letter, unless that would add a combining mark (``ǰ`` → ``J̌``)."""
    upper = unicodedata.normalize("NFC", char.upper())
    return upper if len(upper) == 1 and upper.isalpha() else char


def _lower(text: str) -> str:
    """Lower-case letters one by one, keeping those that would gain a mark (``İ`` → ``i̇``)."""
    return "".join(
        lower if len(lower := unicodedata.normalize("NFC", c.lower())) == 1 else c for c in text
    )


def key(initials: str) -> str:
    """Return the comparison key: ``JDu``, ``JDU`` and ``ｊｄｕ`` have the same one."""
    return fold(initials)


def _letters(part: str) -> str:
    return "".join(c for c in part if c.isalpha())


def _name_parts(name: str, *, particles: bool) -> list[str]:
    parts = [_letters(p) for p in _PARTS.split(unicodedata.normalize("NFC", name.strip()))]
    parts = [p for p in parts if p]
    if particles:
        return parts
    # "de la Fontaine", "van der Berg": lower-case particles do not give an initial. A name
    # typed all in lower case has no capitals to tell: known particles are skipped instead.
    significant = [p for p in parts if p[0].isupper()]
    if not significant:
        significant = [p for p in parts if p.casefold() not in _PARTICLES]
    return significant or parts[-1:]


def derive(first_name: str, last_name: str) -> str:
    """Return the initials of a name: one upper-case letter per part.

    Parts are separated by spaces, hyphens and apostrophes; lower-case particles of the last
    name (``de``, ``van``, ``d'``) are skipped, and so are known particles when the whole name
    was typed in lower case. A name without letters gives ``"M"``.
    """
    letters = [_upper(p[0]) for p in _name_parts(first_name, particles=True)]
    letters += [_upper(p[0]) for p in _name_parts(last_name, particles=False)]
    initials = "".join(letters)[:MAX_LENGTH]
    return initials or "M"


def _candidates(base: str, first_name: str, last_name: str, *, from_names: bool) -> Iterator[str]:
    if from_names:
        last = _name_parts(last_name, particles=False)
        first = _name_parts(first_name, particles=True)
        stem = "".join(_upper(p[0]) for p in first)
        if last:
            tail = last[-1]
            head = "".join(_upper(p[0]) for p in last[:-1])
            for extra in range(1, min(_EXTRA_LETTERS, len(tail) - 1) + 1):
                yield stem + head + _upper(tail[0]) + _lower(tail[1 : 1 + extra])
        if first:
            rest = "".join(_upper(p[0]) for p in _name_parts(last_name, particles=False))
            word = first[0]
            for extra in range(1, min(_EXTRA_LETTERS, len(word) - 1) + 1):
                head = _upper(word[0]) + _lower(word[1 : 1 + extra])
                yield head + "".join(_upper(p[0]) for p in first[1:]) + rest
    for number in range(2, _MAX_NUMBER + 1):
        suffix = str(number)
        yield base[: MAX_LENGTH - len(suffix)] + suffix


def nearest_free(
    first_name: str, last_name: str, *, taken: Collection[str], wanted: str | None = None
) -> str:
    """Return ``wanted`` (the derived initials by default), or the nearest free alternative.

    ``taken`` holds the :func:`key` of every other member's initials. Alternatives come in
    this order: more letters of the last name (``JDu``, ``JDup``), then of the first name
    (``JeD``), then a number (``JD2`` … ``JD99``). When ``wanted`` was typed rather than
    derived, only numbered alternatives are offered, since they keep what was typed.
    """
    derived = derive(first_name, last_name)
    base = derived if wanted is None else wanted
    if key(base) not in taken:
        return base
    for candidate in _candidates(base, first_name, last_name, from_names=key(base) == key(derived)):
        if len(candidate) <= MAX_LENGTH and key(candidate) not in taken:
            return candidate
    # A hundred members with the same initials: give up on nearness, never on uniqueness.
    number = _MAX_NUMBER + 1
    while key(f"{base[:3]}{number}") in taken:
        number += 1
    return f"{base[:3]}{number}"


def _allowed(char: str) -> bool:
    return char.isalpha() or char in "0123456789" or char in _ALLOWED_PUNCTUATION


def clean(raw: object) -> tuple[str, list[Problem]]:
    """Return the initials trimmed, NFC-normalized and checked; their case is kept.

    One to eight letters or digits, with ``.``, ``-`` or ``'`` between them; no spaces.
    Codes: ``initials.not_text``, ``initials.required``, ``initials.too_long``,
    ``initials.invalid_character``.
    """
    if not isinstance(raw, str):
        return "", [("initials.not_text", "initials must be text", {"type": type(raw).__name__})]
    value = unicodedata.normalize("NFC", raw.strip())
    if not value:
        return value, [("initials.required", "initials are required", {})]
    if len(value) > MAX_LENGTH:
        return value, [
            (
                "initials.too_long",
                f"initials have at most {MAX_LENGTH} characters",
                {"max_length": MAX_LENGTH},
            )
        ]
    if not all(_allowed(c) for c in value) or value[0] in _ALLOWED_PUNCTUATION:
        return value, [
            (
                "initials.invalid_character",
                "initials hold letters and digits, with . - or ' between them",
                {},
            )
        ]
    return value, []
