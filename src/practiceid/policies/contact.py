"""Addresses, postal codes, countries and phone numbers of practitioners and establishments.

What a health-information hub needs to reach a practitioner (B1) and what a PDF report header
prints (C7). Each ``clean_*`` function returns the normalized value and the problems found,
as ``(code, message, params)`` triples, so a form reports every field at once; the services
wrap them in their own :class:`~practiceid.errors.Rejected` subclass with the field's name.

Phone numbers are checked by `phonenumbers <https://pypi.org/project/phonenumbers/>`_, the
Python port of Google's libphonenumber, against the numbering plan of the address's country,
and stored in E.164 (``+3225551234``). Postal codes are checked for Belgium (four digits,
1000-9999) and France (five digits); other countries get a length and character check.

>>> clean_phone("02 555 12 34", country="BE")
('+3225551234', [])
>>> clean_postal_code("75 008", country="FR")
('75008', [])
>>> clean_postal_code("999", country="BE")[1][0][0]
'address.invalid_postal_code'
"""

from __future__ import annotations

import enum
import re
from typing import Final

import attrs
import phonenumbers

from practiceid._text import clean_name
from practiceid.policies.email import EmailAddress

__all__ = [
    "Address",
    "AddressKind",
    "Problem",
    "clean_country",
    "clean_phone",
    "clean_postal_code",
    "format_phone",
]

Problem = tuple[str, str, dict[str, object]]
"""``(code, message, params)``: one refusal of one field, before it is given a field name."""

_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_POSTAL_CODES: Final = {
    "BE": (re.compile(r"[1-9][0-9]{3}"), "four digits, 1000 to 9999"),
    "FR": (re.compile(r"[0-9]{5}"), "five digits"),
    "LU": (re.compile(r"[0-9]{4}"), "four digits"),
    "NL": (re.compile(r"[1-9][0-9]{3}[A-Z]{2}"), "four digits and two letters"),
}
_OTHER_POSTAL_CODE: Final = re.compile(r"[0-9A-Z][0-9A-Z -]{1,9}")
_MAX_PHONE_LENGTH: Final = 32


class AddressKind(enum.StrEnum):
    """What an address is for. Hubs need a *workplace* with e-mail and phone (B1)."""

    WORKPLACE = "workplace"
    HOME = "home"
    BILLING = "billing"
    OTHER = "other"


@attrs.frozen
class Address:
    """A postal address with the e-mail and phone to reach someone there (B1, C7).

    Build it with :meth:`practiceid.ProfileService.save_practitioner` or
    :meth:`practiceid.ProfileService.save_establishment_profile`, which validate every
    field; the constructor trusts its arguments. ``phone`` is E.164.
    """

    kind: AddressKind
    street: str
    postal_code: str
    city: str
    country: str
    email: EmailAddress | None = None
    phone: str | None = None

    @property
    def reachable(self) -> bool:
        """Whether the address has both an e-mail and a phone, as hubs require (B1)."""
        return self.email is not None and self.phone is not None

    def lines(self) -> tuple[str, ...]:
        """The address as printed: street, then postal code and city, then country."""
        return tuple(
            line
            for line in (self.street, f"{self.postal_code} {self.city}".strip(), self.country)
            if line
        )


def _shown(country: str) -> str | None:
    """The country for error parameters: only a well-formed code, never what was refused.

    A refused country may be anything typed into the field, a national number included.
    """
    return country if _COUNTRY.fullmatch(country) else None


def clean_country(raw: object) -> tuple[str, list[Problem]]:
    """Return an ISO 3166-1 alpha-2 code, upper-cased (``"be"`` → ``"BE"``)."""
    if not isinstance(raw, str):
        return "", [("address.not_text", "the country must be text", {"type": type(raw).__name__})]
    value = raw.strip().upper()
    if not _COUNTRY.fullmatch(value):
        return value, [
            ("address.invalid_country", "the country is an ISO 3166 two-letter code", {})
        ]
    return value, []


def clean_postal_code(raw: object, *, country: str) -> tuple[str, list[Problem]]:
    """Return the postal code without spaces (``75 008`` → ``75008``), checked for ``country``."""
    if not isinstance(raw, str):
        return "", [
            ("address.not_text", "the postal code must be text", {"type": type(raw).__name__})
        ]
    value = raw.strip().upper()
    known = _POSTAL_CODES.get(country)
    if known is not None:
        value = "".join(value.split())  # spaces, no-break spaces: "75 008", "75\u00a0008"
        if country == "LU":
            value = value.removeprefix("L-")  # the usual written form, "L-1234"
        pattern, expected = known
        if not pattern.fullmatch(value) or not value.isascii():
            return value, [
                (
                    "address.invalid_postal_code",
                    f"a postal code in {country} has {expected}",
                    {"country": country, "expected": expected},
                )
            ]
        return value, []
    if not _OTHER_POSTAL_CODE.fullmatch(value) or not value.isascii():
        return value, [
            (
                "address.invalid_postal_code",
                "a postal code has 2 to 10 letters, digits, spaces or hyphens",
                {"country": _shown(country), "expected": "2 to 10 letters or digits"},
            )
        ]
    return value, []


def clean_phone(raw: object, *, country: str) -> tuple[str, list[Problem]]:
    """Return the phone number in E.164, checked against ``country``'s numbering plan.

    A number written in international form (``+33 …``) is checked against its own
    country; a national one (``02 …``) against ``country``.
    """
    if not isinstance(raw, str):
        return "", [
            ("phone.not_text", "the phone number must be text", {"type": type(raw).__name__})
        ]
    text, problems = clean_name(raw, field="phone", prefix="phone", max_length=_MAX_PHONE_LENGTH)
    if problems:
        return text, problems
    try:
        number = phonenumbers.parse(text, country if _COUNTRY.fullmatch(country) else None)
    except phonenumbers.NumberParseException:
        return text, [("phone.invalid", "not a phone number", {"country": _shown(country)})]
    if number.extension:
        return text, [
            (
                "phone.extension",
                "a phone number with an extension cannot be dialled directly",
                {"country": _shown(country)},
            )
        ]
    if not phonenumbers.is_valid_number(number):
        return text, [
            (
                "phone.invalid",
                "not a valid phone number in its country's numbering plan",
                {"country": _shown(country)},
            )
        ]
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), []


def format_phone(e164: str) -> str:
    """Return an E.164 number in international display form (``+32 2 555 12 34``)."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
