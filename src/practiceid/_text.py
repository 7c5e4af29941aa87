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
