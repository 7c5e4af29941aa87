"""Belgian IBAN, with the BIC derived from it (B6: "the BIC is computed automatically").

``BEkk BBBA AAAA AACC``: country, IBAN check digits, a 3-digit bank code, the account number
and the national check digits. python-stdnum's ``stdnum.be.iban`` checks both check-digit
pairs and finds the BIC in the National Bank of Belgium's bank-code table that it bundles.

stdnum refuses an IBAN whose bank code is not in its table. Banks get new codes between
stdnum releases, and refusing a real account would block a practitioner's billing, so by
default this module accepts such an IBAN when both check-digit pairs match, with ``bic=None``
and the notice ``iban.bic_unknown`` (ask the user for the BIC); the same notice comes with
the few bank codes the table knows without a BIC. Pass
``require_known_bank=True`` to refuse it instead. Only Belgian IBANs are accepted.

>>> account = parse("BE48 3200 7018 4927")
>>> account.bic
'BBRUBEBB'
>>> account.format()
'BE48 3200 7018 4927'
>>> validate("BE41091811735141")
Traceback (most recent call last):
    ...
practiceid.errors.InvalidChecksum: the check digits do not match

Sources: python-stdnum ``stdnum.be.iban`` and ``stdnum.iban``; National Bank of Belgium,
"Bank identification codes".
"""

from __future__ import annotations

from typing import Final

import attrs
from stdnum import exceptions as stdnum_errors
from stdnum import iban as stdnum_iban
from stdnum.be import iban as stdnum_be_iban

from practiceid.errors import InvalidComponent, InvalidLength, Notice, PracticeIdError
from practiceid.policies.identifiers import _common, _stdnum

__all__ = ["KIND", "BelgianIban", "compact", "format", "is_valid", "parse", "validate"]

KIND: Final = "iban"
_LENGTH: Final = (16,)


@attrs.frozen
class BelgianIban:
    """A valid Belgian IBAN and its BIC (``None`` when the bank code is not in the table)."""

    number: str
    bic: str | None = attrs.field(eq=False)
    notices: tuple[Notice, ...] = attrs.field(default=(), eq=False)

    @property
    def bank_code(self) -> str:
        """The three digits after the check digits."""
        return self.number[4:7]

    def format(self) -> str:
        """Return the display form, in groups of four."""
        return str(stdnum_iban.format(self.number))


def compact(number: object) -> str:
    """Return the IBAN without spaces or separators, upper-cased."""
    return str(stdnum_iban.compact(_common.clean(number, KIND)))


def _check(number: object, *, require_known_bank: bool) -> BelgianIban:
    early = compact(number)
    if early.startswith("BE") and len(early) != _LENGTH[0]:
        # stdnum would call this a checksum error; a missing digit is a length error.
        raise InvalidLength(
            f"a Belgian IBAN has {_LENGTH[0]} characters",
            kind=KIND,
            length=len(early),
            expected=_LENGTH,
        )
    try:
        compacted = _stdnum.run(
            stdnum_be_iban.validate,
            number,
            kind=KIND,
            compact=stdnum_iban.compact,
            lengths=_LENGTH,
            component="country",
        )
    except InvalidComponent:
        compacted = compact(number)
        # stdnum says "component" both for a foreign IBAN and for an unknown bank code. It
        # checks both check-digit pairs before the bank code, so a Belgian IBAN that passes
        # the generic check and still gets here has an unknown bank code (a test pins this).
        if not compacted.startswith("BE") or not _generic_ok(compacted):
            raise
        if require_known_bank:
            raise InvalidComponent("unknown bank code", kind=KIND, component="bank_code") from None
    bic = stdnum_be_iban.to_bic(compacted)
    if bic is not None:
        return BelgianIban(compacted, bic)
    if require_known_bank:  # a bank code stdnum lists without a BIC (990-999, …)
        raise InvalidComponent("no BIC for this bank code", kind=KIND, component="bank_code")
    notice = Notice(
        "iban.bic_unknown",
        "no BIC is known for this bank code: ask the user for it",
        KIND,
        {"bank_code": compacted[4:7]},
    )
    return BelgianIban(compacted, None, (notice,))


def _generic_ok(compacted: str) -> bool:
    try:
        stdnum_iban.validate(compacted, check_country=False)
    except stdnum_errors.ValidationError:
        return False
    return True


def validate(number: object, *, require_known_bank: bool = False) -> str:
    """Return the compact form of a valid Belgian IBAN; raise an ``InvalidIdentifier`` otherwise.

    A foreign IBAN is :class:`~practiceid.InvalidComponent` (``component="country"``).
    """
    return _check(number, require_known_bank=require_known_bank).number


def is_valid(number: object, *, require_known_bank: bool = False) -> bool:
    """Return whether ``number`` is valid. Never raises, whatever ``number`` is."""
    try:
        _check(number, require_known_bank=require_known_bank)
    except PracticeIdError:
        return False
    return True


def parse(number: object, *, require_known_bank: bool = False) -> BelgianIban:
    """Validate ``number`` and derive its BIC (B6)."""
    return _check(number, require_known_bank=require_known_bank)


def format(number: object, *, require_known_bank: bool = False) -> str:  # noqa: A001
    """Return the display form (groups of four) of a valid Belgian IBAN; raise if invalid."""
    return str(stdnum_iban.format(validate(number, require_known_bank=require_known_bank)))
