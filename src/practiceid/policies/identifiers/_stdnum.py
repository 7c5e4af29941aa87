"""Run a python-stdnum validator and answer with practiceid's coded errors. Private."""

from __future__ import annotations

from collections.abc import Callable, Collection

from stdnum import exceptions as stdnum_errors

from practiceid.errors import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from practiceid.policies.identifiers import _common

__all__ = ["run"]

# Written forms add prefixes and separators ("BE 0403.019.261"); nothing valid is this long.
_MARGIN = 4


def run(
    validator: Callable[[str], str],
    number: object,
    *,
    kind: str,
    compact: Callable[[str], str],
    lengths: Collection[int],
    component: str,
) -> str:
    """Clean ``number``, call ``validator``, and translate ``stdnum.exceptions`` into ours.

    Our cleaning is the one every practiceid module applies, so that all kinds accept the same
    written forms and refuse non-text the same way (``reason="not_text"``); stdnum's own
    ``compact`` still runs inside ``validator`` and strips what is specific to its number
    (``BE``, ``(0)``). ``compact`` is that function, used to report the length stdnum saw.
    """
    cleaned = _common.clean(number, kind)
    _common.not_empty(cleaned, kind)
    if len(cleaned) > _MARGIN * max(lengths):
        # stdnum turns some numbers into an int before checking their length, and Python
        # refuses to convert more than 4 300 digits with a bare ValueError.
        raise InvalidLength(
            f"expected {' or '.join(map(str, sorted(lengths)))} characters",
            kind=kind,
            length=len(cleaned),
            expected=tuple(sorted(lengths)),
        )
    try:
        return validator(cleaned)
    except stdnum_errors.InvalidLength:
        raise InvalidLength(
            f"expected {' or '.join(map(str, sorted(lengths)))} characters",
            kind=kind,
            length=len(compact(cleaned)),
            expected=tuple(sorted(lengths)),
        ) from None
    except stdnum_errors.InvalidComponent:
        raise InvalidComponent(
            f"invalid {component.replace('_', ' ')}", kind=kind, component=component
        ) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidChecksum(
            "the check digits do not match", kind=kind, algorithm="mod97"
        ) from None
    except stdnum_errors.ValidationError:
        raise InvalidFormat(
            "only digits and separators are allowed", kind=kind, reason="not_digits"
        ) from None
