"""Unicode helpers shared by the policies. Private: the policies are the public face."""

from __future__ import annotations

import unicodedata

# NFKC(casefold(NFKC(s))) is not always a fixed point (a case fold can produce text that
# NFKC changes again); a handful of rounds always reaches one.
_MAX_FOLD_ROUNDS = 4


def fold(text: str) -> str:
    """Return the comparison key of ``text``: Unicode NFKC + case fold, to a fixed point.

    ``ｆｏｏ``, ``FOO`` and ``foo`` fold to the same key; so do ``ß`` and ``ss``.
    """
    key = unicodedata.normalize("NFKC", text)
    for _ in range(_MAX_FOLD_ROUNDS):
        folded = unicodedata.normalize("NFKC", key.casefold())
        if folded == key:
            break
        key = folded
    return key


def describe(char: str) -> str:
    """Return ``U+0430 CYRILLIC SMALL LETTER A`` for a character, for error parameters."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED')}"


def script_of(char: str) -> str | None:
    """Return the script of a letter from its Unicode name (``LATIN``, ``CYRILLIC``, …).

    The standard library exposes no Script property; the first word of a letter's name is the
    script for every alphabet a Belgian or French practice meets. Letters whose name does not
    start with a script (``MODIFIER LETTER …``) and unnamed code points return ``None``.
    """
    name = unicodedata.name(char, "")
    if not name:
        return None
    first = name.split(" ", 1)[0]
    if first in {"MODIFIER", "SMALL", "CAPITAL", "LETTER"}:
        return None
    if first == "CJK":
        return "HAN"
    return first


# Zero-width (non-)joiners are part of Persian and Indic spellings; every other format
# character (bidi overrides such as U+202E, invisible separators) only serves to deceive.
_JOINERS = frozenset("\u200c\u200d")


def forbidden_in_name(char: str) -> bool:
    """Return True for characters no name may hold: controls, bidi overrides, line breaks."""
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _JOINERS
    return category in {"Cc", "Cs", "Zl", "Zp"}


def clean_name(
    raw: object, *, field: str, prefix: str, required: bool = True, max_length: int = 100
) -> tuple[str, list[tuple[str, str, dict[str, object]]]]:
    """Return ``raw`` trimmed and NFC-normalized, and the problems found with it.

    Each problem is ``(code, message, params)`` with codes ``<prefix>.not_text``,
    ``<prefix>.required``, ``<prefix>.too_long`` and ``<prefix>.invalid_character``; the
    caller wraps them in the :class:`~practiceid.errors.Rejected` subclass of its domain.
    """
    if not isinstance(raw, str):
        return "", [(f"{prefix}.not_text", f"{field} must be text", {"type": type(raw).__name__})]
    value = unicodedata.normalize("NFC", raw.strip())
    problems: list[tuple[str, str, dict[str, object]]] = []
    if required and not value:
        problems.append((f"{prefix}.required", f"{field} is required", {}))
    if len(value) > max_length:
        problems.append(
            (
                f"{prefix}.too_long",
                f"{field} must have at most {max_length} characters",
                {"max_length": max_length},
            )
        )
    elif any(forbidden_in_name(c) for c in value):
        problems.append(
            (
                f"{prefix}.invalid_character",
                f"{field} contains control or invisible formatting characters",
                {},
            )
        )
    return value, problems
