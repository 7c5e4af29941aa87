"""``python -m practiceid check KIND NUMBER...``: validate numbers from a shell.

Exit status 0 when every number is valid, 1 when one is not (with the reason), 2 for a usage
error. NISS numbers are never echoed back: they are special personal data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TextIO

from practiceid.errors import InvalidIdentifier
from practiceid.policies.identifiers import (
    AdeliNumber,
    BceNumber,
    BelgianIban,
    FinessNumber,
    IdnpsNumber,
    InamiNumber,
    NissNumber,
    RppsNumber,
    adeli,
    bce,
    finess,
    iban,
    idnps,
    inami,
    niss,
    rpps,
)

__all__ = ["KINDS", "describe", "run"]


Parsed = (
    InamiNumber
    | NissNumber
    | BceNumber
    | BelgianIban
    | RppsNumber
    | AdeliNumber
    | IdnpsNumber
    | FinessNumber
)

_PARSERS: dict[str, Callable[[str], Parsed]] = {
    "inami": inami.parse,
    "niss": niss.parse,
    "bce": bce.parse,
    "iban": iban.parse,
    "rpps": rpps.parse,
    "adeli": adeli.parse,
    "idnps": idnps.parse,
    "finess": finess.parse,
}
#: The kinds ``check`` accepts.
KINDS = tuple(_PARSERS)

_NAMES = {
    "inami": "INAMI number",
    "niss": "NISS",
    "bce": "BCE enterprise number",
    "iban": "Belgian IBAN",
    "rpps": "RPPS number",
    "adeli": "ADELI number",
    "idnps": "IDNPS",
    "finess": "FINESS number",
}


def _inami_details(number: InamiNumber) -> list[str]:
    profession = number.profession
    lines = [
        f"check digits {number.check_digits} match modulus {number.modulus}",
        f"person key {number.person_key} (the part that never changes)",
        "kind: "
        + (profession.label if profession else f"unknown first digit {number.profession_digit}"),
    ]
    if number.competence_code is None:
        lines.append("deprecated 8-digit form: no competence code")
    else:
        competence = number.competence
        meaning = competence.label if competence else "not in the bundled table"
        lines.append(f"competence {number.competence_code}: {meaning}")
    if number.requires_supervisor:
        lines.append("a trainee: must choose a training supervisor (B4)")
    return lines


def describe(parsed: Parsed) -> tuple[str, list[str]]:  # noqa: PLR0911 - one case per kind
    """Return the display form and a few lines of explanation of a parsed number."""
    match parsed:
        case InamiNumber():
            return parsed.format(), _inami_details(parsed)
        case NissNumber():
            kind = "BIS number" if parsed.type == "bis" else "national register number"
            return "(not shown: special personal data)", [kind]
        case BceNumber():
            return parsed.format(), [f"VAT number {parsed.vat}"]
        case BelgianIban():
            return parsed.format(), [f"BIC {parsed.bic or 'unknown: ask the account holder'}"]
        case RppsNumber():
            return parsed.format(), [f"IDNPS {parsed.idnps}"]
        case AdeliNumber():
            verified = "" if parsed.key_verified else " (Corsica: key not verifiable)"
            return parsed.format(), [f"département {parsed.department}{verified}"]
        case IdnpsNumber():
            return parsed.format(), [f"from {parsed.kind.value}"]
        case FinessNumber():  # pragma: no branch - the last kind
            verified = "" if parsed.key_verified else " (Corsica: key not verifiable)"
            return parsed.format(), [f"département {parsed.department}{verified}"]


def _check_one(kind: str, number: str, *, as_json: bool, out: TextIO) -> bool:
    try:
        parsed = _PARSERS[kind](number)
    except InvalidIdentifier as error:
        if as_json:
            print(json.dumps({"kind": kind, "valid": False, "error": error.to_dict()}), file=out)
        else:
            print(f"invalid {_NAMES[kind]}: {error.message} [{error.code}]", file=out)
        return False
    display, details = describe(parsed)
    notices = [n.to_dict() for n in getattr(parsed, "notices", ())]
    if as_json:
        data: dict[str, object] = {"kind": kind, "valid": True, "notices": notices}
        if kind != "niss":
            data["compact"] = parsed.number
            data["display"] = display
        print(json.dumps(data, ensure_ascii=False), file=out)
        return True
    print(f"valid {_NAMES[kind]}: {display}", file=out)
    for line in details:
        print(f"  {line}", file=out)
    for notice in notices:
        print(f"  notice [{notice['code']}]: {notice['message']}", file=out)
    return True


def run(kind: str, numbers: Sequence[str], *, as_json: bool, out: TextIO) -> int:
    """Check each of ``numbers`` as ``kind``; return 0 if all are valid, else 1."""
    results = [_check_one(kind, number, as_json=as_json, out=out) for number in numbers]
    return 0 if all(results) else 1
