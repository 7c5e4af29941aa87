"""E-mail addresses: syntax, normalization, uniqueness key and generic-address advice (A1-A3).

The address is the account's password-recovery address (A3), so it is validated with
`email-validator <https://pypi.org/project/email-validator/>`_: syntax, a domain that could
receive mail (a dot, no reserved names such as ``.test`` or ``localhost``), the domain
normalized to lower case and Unicode (IDNA). No DNS look-up happens unless a product turns on
``check_deliverability``.

Uniqueness (A1, A2) compares the *key*: the normalized address, NFKC-normalized and
case-folded, local part included. RFC 5321 lets a server treat local parts case-sensitively,
but no practice's mail server does, and two accounts differing only by case would share one
mailbox. ``Dr.Dupont@Cabinet.BE`` and ``dr.dupont@cabinet.be`` are one address.

A generic shared address (``info@``, ``secretariat@``, …) is accepted with a
``email.generic_address`` :class:`~practiceid.errors.Notice`: Medispring discourages it
(source 000) because it is a poor recovery address for one person, not an error.

>>> policy = EmailPolicy()
>>> address = policy.parse("Dr.Dupont@Cabinet.BE")
>>> address.address, address.key
('Dr.Dupont@cabinet.be', 'dr.dupont@cabinet.be')
>>> [n.code for n in policy.notices(policy.parse("info@cabinet-dupont.be"))]
['email.generic_address']
"""

from __future__ import annotations

import re
import unicodedata

import attrs
import email_validator

from practiceid._text import fold
from practiceid.errors import EmailRejected, InvalidConfiguration, Notice, Violation

__all__ = ["DEFAULT_GENERIC_LOCAL_PARTS", "EmailAddress", "EmailPolicy"]

_FIELD = "email"
# RFC 5321 caps a path at 256 octets, an address at 254 characters. Anything much longer is
# refused before email-validator parses it.
_MAX_LENGTH = 254

#: Local parts (accents and case folded) that name a role or a desk rather than a person, in
#: French, Dutch, German and English, as met in Belgian and French practices.
DEFAULT_GENERIC_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "accueil",
        "admin",
        "administratie",
        "administration",
        "afspraak",
        "afspraken",
        "balie",
        "billing",
        "boekhouding",
        "bureau",
        "cabinet",
        "clinique",
        "comptabilite",
        "contact",
        "direction",
        "empfang",
        "facturatie",
        "facturation",
        "hello",
        "info",
        "infos",
        "kabinet",
        "kliniek",
        "mail",
        "no-reply",
        "noreply",
        "office",
        "onthaal",
        "praktijk",
        "praxis",
        "rdv",
        "reception",
        "rendez-vous",
        "secretariaat",
        "secretariat",
        "secretary",
        "support",
        "team",
        "welcome",
    }
)

_SEPARATORS = re.compile(r"[._\-]")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@attrs.frozen
class EmailAddress:
    """A normalized e-mail address and its uniqueness ``key``.

    Equal when the keys are equal. Build from user input with :meth:`EmailPolicy.parse`;
    this constructor trusts its input (it is how stored addresses come back).
    """

    address: str = attrs.field(eq=False)
    key: str = attrs.field(init=False, repr=False)

    @key.default
    def _key(self) -> str:
        return fold(self.address)

    @property
    def local_part(self) -> str:
        """The part before the last ``@``."""
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        """The part after the last ``@``."""
        return self.address.rpartition("@")[2]

    def __str__(self) -> str:
        return self.address


@attrs.frozen
class EmailPolicy:
    """Rules for e-mail addresses. Frozen: build one per product and pass it in.

    Args:
        check_deliverability: also look the domain up in DNS (MX, then A/AAAA). Off by
            default: the core does no network I/O unless asked.
        allow_smtputf8: accept non-ASCII local parts (``jöhn@``). Domains may always be
            internationalized.
        generic_local_parts: local parts that earn an ``email.generic_address`` notice.
    """

    check_deliverability: bool = False
    allow_smtputf8: bool = True
    generic_local_parts: frozenset[str] = attrs.field(
        default=DEFAULT_GENERIC_LOCAL_PARTS, converter=frozenset
    )

    def __attrs_post_init__(self) -> None:
        for part in self.generic_local_parts:
            if part != _strip_accents(part):
                raise InvalidConfiguration(
                    "generic local parts must be lower case without accents",
                    option="generic_local_parts",
                    value=part,
                )

    def check(self, raw: object) -> tuple[Violation, ...]:
        """Return the rule the address breaks (empty when acceptable). Never raises."""
        try:
            self.parse(raw)
        except EmailRejected as error:
            return error.violations
        return ()

    def parse(self, raw: object) -> EmailAddress:
        """Return the normalized :class:`EmailAddress`, or raise :class:`EmailRejected`."""
        if not isinstance(raw, str):
            raise EmailRejected(
                [
                    Violation(
                        "email.not_text",
                        "the e-mail address must be text",
                        _FIELD,
                        {"type": type(raw).__name__},
                    )
                ]
            )
        text = raw.strip()
        if len(text) > _MAX_LENGTH:
            raise EmailRejected(
                [
                    Violation(
                        "email.too_long",
                        f"the e-mail address must have at most {_MAX_LENGTH} characters",
                        _FIELD,
                        {"max_length": _MAX_LENGTH, "length": len(text)},
                    )
                ]
            )
        try:
            validated = email_validator.validate_email(
                text,
                check_deliverability=self.check_deliverability,
                allow_smtputf8=self.allow_smtputf8,
            )
        except email_validator.EmailUndeliverableError as error:
            raise EmailRejected(
                [Violation("email.undeliverable", str(error), _FIELD, {"reason": str(error)})]
            ) from None
        except email_validator.EmailNotValidError as error:
            raise EmailRejected(
                [Violation("email.invalid", str(error), _FIELD, {"reason": str(error)})]
            ) from None
        return EmailAddress(validated.normalized)

    def notices(self, address: EmailAddress) -> tuple[Notice, ...]:
        """Return advice about an accepted address: a generic address earns a notice (A3)."""
        local = _strip_accents(address.local_part.split("+", 1)[0])
        first_word = _SEPARATORS.split(local, maxsplit=1)[0]
        if local in self.generic_local_parts or first_word in self.generic_local_parts:
            return (
                Notice(
                    "email.generic_address",
                    "this looks like a shared address; a personal address is a safer "
                    "password-recovery address",
                    _FIELD,
                    {"local_part": address.local_part},
                ),
            )
        return ()
