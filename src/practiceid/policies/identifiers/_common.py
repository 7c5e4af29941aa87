"""What every identifier module shares: cleaning written forms, Luhn, errors. Private.

Written forms found in the wild carry separators (``1-23456-78-901``, ``1.23456.78.901``,
``10 00 123 456 7``), non-breaking and narrow spaces from word processors, invisible marks
from web pages (zero-width space, left-to-right mark, soft hyphen) and, from East Asian input
methods and some PDF text, full-width forms (``１２３``). :func:`clean` removes the first
three and maps full-width ASCII to ASCII, the same mapping Unicode NFKC applies to that block.

Other digits are refused, not converted: Arabic-Indic ``٣``, Devanagari, Balinese ``᭓``,
superscripts ``²`` and Roman numerals ``ⅷ``. No Belgian or French register writes its
numbers with them, Python's ``int()`` would silently accept some of them, and converting
them would hide an input fault (a keyboard layout switched by accident) that the user should
see while they still have the paper in front of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from practiceid.errors import InvalidChecksum, InvalidFormat, InvalidLength

__all__ = [
    "SEPARATORS",
    "all_digits",
    "check_luhn",
    "clean",
    "cleaned_text",
    "digits",
    "expect_length",
    "luhn_check_digit",
    "luhn_ok",
    "not_empty",
]

#: Characters people put between digit groups, in ASCII.
SEPARATORS: Final = " -./"

_WHITESPACE = (
    *range(0x09, 0x0E),  # tab, line feed, vertical tab, form feed, carriage return
    *range(0x1C, 0x21),  # information separators, space
    0x85,  # next line
    0xA0,  # no-break space (French typography before ':' and in numbers)
    0x1680,
    *range(0x2000, 0x200B),  # en quad … hair space, including thin and figure spaces
    0x2028,
    0x2029,
    0x202F,  # narrow no-break space (French thousands separator)
    0x205F,
    0x3000,  # ideographic space
)
_INVISIBLE = (
    0xAD,  # soft hyphen
    0x200B,  # zero-width space
    0x200C,
    0x200D,
    0x200E,  # left-to-right mark
    0x200F,  # right-to-left mark
    0x2060,  # word joiner
    0xFEFF,  # byte-order mark / zero-width no-break space
)
_DASHES = (*range(0x2010, 0x2016), 0x2212, 0xFE63)  # hyphens, figure/en/em dashes, minus
_FULL_WIDTH_OFFSET = 0xFEE0  # U+FF01 (full-width "!") - U+0021 ("!")


def _table() -> Mapping[int, int | None]:
    table: dict[int, int | None] = {
        ord(c) + _FULL_WIDTH_OFFSET: ord(c) for c in map(chr, range(0x21, 0x7F))
    }
    for point in (*_WHITESPACE, *_INVISIBLE, *_DASHES):
        table[point] = None
    for char in SEPARATORS:
        table[ord(char)] = None
        table[ord(char) + _FULL_WIDTH_OFFSET] = None
    return table


_TABLE: Final = _table()


def clean(number: object, kind: str) -> str:
    """Return ``number`` without separators, spaces or invisible marks, full width mapped.

    Raises :class:`InvalidFormat` (``reason="not_text"``) when ``number`` is not a ``str``:
    an ``int`` has already lost the leading zero some numbers carry, and ``bytes`` have no
    agreed encoding.
    """
    if not isinstance(number, str):
        raise InvalidFormat(
            "a number must be given as text",
            kind=kind,
            reason="not_text",
            type=type(number).__name__,
        )
    if number.isascii() and number.isalnum():
        return number  # already compact: the common case, kept cheap
    return number.translate(_TABLE)


def cleaned_text(number: object) -> str | None:
    """Like :func:`clean`, but return ``None`` for non-text instead of raising.

    ``is_valid`` functions use it to answer without building an exception: refusing is the
    common case when a host screens imported data.
    """
    if not isinstance(number, str):
        return None
    if number.isascii() and number.isalnum():
        return number
    return number.translate(_TABLE)


def all_digits(number: str, length: int) -> bool:
    """Return whether ``number`` is exactly ``length`` ASCII digits."""
    return len(number) == length and number.isascii() and number.isdigit()


def expect_length(number: str, kind: str, expected: Collection[int]) -> None:
    """Raise :class:`InvalidLength` unless ``len(number)`` is one of ``expected``."""
    if len(number) not in expected:
        raise InvalidLength(
            f"expected {' or '.join(map(str, sorted(expected)))} characters",
            kind=kind,
            length=len(number),
            expected=tuple(sorted(expected)),
        )


def not_empty(number: str, kind: str) -> None:
    """Raise :class:`InvalidFormat` (``reason="empty"``) for an empty ``number``."""
    if not number:
        raise InvalidFormat("the number is empty", kind=kind, reason="empty")


def digits(number: str, kind: str) -> None:
    """Raise :class:`InvalidFormat` unless ``number`` is ASCII digits.

    ``reason`` is ``empty`` or ``not_digits``.
    """
    not_empty(number, kind)
    if not (number.isascii() and number.isdigit()):
        raise InvalidFormat(
            "only the digits 0 to 9 and separators are allowed",
            kind=kind,
            reason="not_digits",
        )


# Luhn doubles every second digit from the right and sums the digits of the products.
# Mapping each doubled digit to the digit sum of its double keeps every value one character,
# so the whole sum is one pass over bytes in C.
_DOUBLED = str.maketrans("0123456789", "0246813579")
_ZERO = ord("0")


def luhn_ok(number: str) -> bool:
    """Return whether an all-ASCII-digit ``number`` passes the Luhn check (ISO/IEC 7812-1)."""
    weighted = number[-1::-2] + number[-2::-2].translate(_DOUBLED)
    return (sum(weighted.encode("ascii")) - _ZERO * len(weighted)) % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """Return the digit that makes ``partial`` + digit pass :func:`luhn_ok`."""
    weighted = partial[-2::-2] + partial[-1::-2].translate(_DOUBLED)
    total = sum(weighted.encode("ascii")) - _ZERO * len(weighted)
    return str(-total % 10)


def check_luhn(number: str, kind: str) -> None:
    """Raise :class:`InvalidChecksum` unless ``number`` passes Luhn."""
    if not luhn_ok(number):
        raise InvalidChecksum("the check digit does not match (Luhn)", kind=kind, algorithm="luhn")
