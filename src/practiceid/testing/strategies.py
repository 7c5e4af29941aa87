"""Hypothesis strategies for practiceid's types. Importing this module imports Hypothesis.

Strategies are functions returning strategies; their arguments are checked when called.
Every value is made up: no generated login, address or name belongs to anyone.

* :func:`logins`, :func:`login_variants`: valid logins, and other spellings of one login
  (case, full-width forms, surrounding spaces) that must collide with it (A2).
* :func:`emails`, :func:`email_variants`: valid addresses, and other-case spellings.
* :func:`passwords`: passwords that satisfy a policy's cheap rules (composition, length);
  :func:`strong_passwords`: passwords the full policy accepts.
* :func:`users`: :class:`~practiceid.User` values.

Access (C1-C6):

* :func:`permission_sets`: sets of catalogue permissions; :func:`roles`: custom roles.
* :func:`establishments`: establishments with their product's role templates, custom roles
  and departments with features; :func:`memberships`: memberships in one of them, with its
  roles and departments, direct features and delegations.

Identifiers (made-up numbers with correct check digits; ``written=True`` draws any written
form the modules accept: separators, non-breaking spaces, full width, spaces around):

* :func:`inami_numbers`, :func:`rpps_numbers`, :func:`adeli_numbers`,
  :func:`finess_numbers`, :func:`idnps_numbers`, :func:`niss_numbers`, :func:`bce_numbers`,
  :func:`belgian_ibans`; :func:`valid_identifiers` draws ``(kind, number)`` pairs of any kind;
* :func:`typos`: a number with one digit changed or two neighbours swapped, which may
  still be valid; :func:`near_misses`: typos of a valid number that the module refuses.

Profiles (A7, B1-B6, C7), for Belgium, France, Luxembourg and the Netherlands:

* :func:`initials`: initials :func:`practiceid.policies.initials.clean` accepts as they are;
* :func:`phone_numbers`, :func:`postal_codes`: valid national phone numbers and postal codes;
  :func:`addresses`: address mappings as :class:`~practiceid.ProfileService` takes them;
* :func:`logos`: valid PNG or JPEG logos of random size within the limits;
* :func:`practitioner_forms`: the ``profession``, ``country``, ``identifiers`` and
  ``addresses`` that :meth:`~practiceid.ProfileService.save_practitioner` accepts in an
  establishment of a given product.

Onboarding (D1, D2):

* :func:`onboardings`: :class:`~practiceid.Onboarding` records in any status and mode, as
  the invitation workflow leaves them, with 32-byte link digests;
* :func:`terms_of_use`: published versions of the terms of use;
* :func:`messages`: outbox :class:`~practiceid.outbox.Message` values in any status.

Licenses (E1-E4):

* :func:`licenses`: :class:`~practiceid.License` values of every stored status and kind, as
  the lifecycle of :mod:`practiceid.policies.license` leaves them;
* :func:`license_requests`: :class:`~practiceid.LicenseRequest` values at every stage
  (requested, invoiced, paid, activated).

Shared devices and the audit trail (F1-F4):

* :func:`pin_settings`: valid :class:`~practiceid.PinSettings`;
* :func:`pins`: PINs as the library issues them (never weak), of a given length;
* :func:`audit_events`: :class:`~practiceid.AuditEvent` values of one establishment's chain
  or the platform's, with details of every plain type.
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final, TypeVar

import attrs
import phonenumbers
from hypothesis import assume
from hypothesis import strategies as st

from practiceid.audit import AuditEvent, Outcome
from practiceid.errors import InvalidConfiguration
from practiceid.establishments import (
    Department,
    DepartmentId,
    Establishment,
    EstablishmentId,
    OrganisationId,
    ProductKind,
    Role,
    RoleId,
)
from practiceid.invitations import (
    MessageKind,
    Onboarding,
    OnboardingMode,
    OnboardingStatus,
    TermsOfUse,
)
from practiceid.keypairs import MAX_PASSWORD_BYTES
from practiceid.licenses import License, LicenseKind, LicenseRequest, LicenseStatus
from practiceid.memberships import Delegation, Membership, MembershipStatus
from practiceid.outbox import Message, MessageId, MessageStatus
from practiceid.permissions import Feature, Permission
from practiceid.policies import license as license_policy
from practiceid.policies import pin as pin_policy
from practiceid.policies.contact import AddressKind
from practiceid.policies.email import EmailAddress, EmailPolicy
from practiceid.policies.factors import FactorSettings, TotpAlgorithm, TotpParameters
from practiceid.policies.identifiers import MODULES, inami
from practiceid.policies.identifiers._common import luhn_check_digit
from practiceid.policies.initials import MAX_LENGTH as MAX_INITIALS
from practiceid.policies.login import Login, LoginPolicy
from practiceid.policies.logo import MAX_SIDE, MIN_SIDE, MediaType
from practiceid.policies.password import PasswordPolicy
from practiceid.policies.pin import PinSettings
from practiceid.policies.professions import PROFESSION_RULES, Profession
from practiceid.testing.samples import sample_jpeg, sample_png
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "addresses",
    "adeli_numbers",
    "audit_events",
    "backup_passwords",
    "bce_numbers",
    "belgian_ibans",
    "email_variants",
    "emails",
    "establishments",
    "factor_settings",
    "finess_numbers",
    "idnps_numbers",
    "inami_numbers",
    "initials",
    "license_requests",
    "licenses",
    "login_variants",
    "logins",
    "logos",
    "memberships",
    "messages",
    "near_misses",
    "niss_numbers",
    "onboardings",
    "passwords",
    "permission_sets",
    "phone_numbers",
    "pin_settings",
    "pins",
    "postal_codes",
    "practitioner_forms",
    "recovery_codes",
    "roles",
    "rpps_numbers",
    "strong_passwords",
    "terms_of_use",
    "totp_secrets",
    "typos",
    "users",
    "valid_identifiers",
]

_LATIN_EXTRA = "éèêëàâäçîïôöùûüÿñøåæœßÉÈÀÇÖÜ"
_LOGIN_LETTERS = string.ascii_letters + _LATIN_EXTRA
_LOGIN_SYMBOLS = "._-@+'"
_TLDS = ("be", "fr", "eu", "lu", "com", "org", "net")
_FULL_WIDTH_OFFSET = 0xFEE0  # "A" (U+0041) + offset = "Ａ" (U+FF21)


def logins(policy: LoginPolicy | None = None, *, max_length: int = 32) -> st.SearchStrategy[str]:
    """Login strings that ``policy`` (default :class:`LoginPolicy`) accepts."""
    policy = policy or LoginPolicy()
    if "LATIN" not in policy.allowed_scripts:
        raise InvalidConfiguration("logins() generates Latin logins", option="policy")
    high = min(policy.max_length, max(max_length, policy.min_length))
    symbols = "".join(sorted(set(_LOGIN_SYMBOLS) & policy.allowed_symbols))
    alphabet = _LOGIN_LETTERS + string.digits + symbols
    return st.text(alphabet, min_size=policy.min_length, max_size=high).filter(
        lambda s: not policy.check(s)
    )


def _full_width(char: str) -> str:
    if char in string.ascii_letters or char in string.digits:
        return chr(ord(char) + _FULL_WIDTH_OFFSET)
    return char


@st.composite
def login_variants(draw: st.DrawFn, login: str) -> str:
    """Another spelling of ``login`` with the same key: case, full width, spaces around."""
    chars = []
    for char in login:
        form = draw(st.sampled_from(("same", "upper", "lower", "wide")))
        if form == "upper":
            chars.append(char.upper() if len(char.upper()) == 1 else char)
        elif form == "lower":
            chars.append(char.lower() if len(char.lower()) == 1 else char)
        elif form == "wide":
            chars.append(_full_width(char))
        else:
            chars.append(char)
    padding = draw(st.sampled_from(("", " ", "\t", "  ")))
    return padding + "".join(chars) + padding[::-1]


_LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)


@st.composite
def emails(draw: st.DrawFn) -> str:
    """Valid, made-up e-mail addresses, in mixed case, with no reserved domain."""
    words = draw(st.lists(_LABEL, min_size=1, max_size=3))
    separator = draw(st.sampled_from((".", "-", "_", "+")))
    local = separator.join(words)
    domain = ".".join(draw(st.lists(_LABEL, min_size=1, max_size=2)))
    domain = f"x{domain}-exemple.{draw(st.sampled_from(_TLDS))}"
    address = f"{local}@{domain}"
    flips = draw(st.lists(st.booleans(), min_size=len(address), max_size=len(address)))
    mixed = "".join(c.upper() if flip else c for c, flip in zip(address, flips, strict=True))
    assume(not EmailPolicy().check(mixed))
    return mixed


@st.composite
def email_variants(draw: st.DrawFn, email: str) -> str:
    """``email`` with the case of each letter redrawn, and maybe spaces around."""
    flips = draw(st.lists(st.booleans(), min_size=len(email), max_size=len(email)))
    changed = "".join(c.swapcase() if flip else c for c, flip in zip(email, flips, strict=True))
    return draw(st.sampled_from(("", " "))) + changed


_LOWER = st.sampled_from(string.ascii_lowercase + "éàçß")
_UPPER = st.sampled_from(string.ascii_uppercase + "ÉÀÇ")
_DIGIT = st.sampled_from(string.digits)
_SYMBOL = st.sampled_from("!#$%&*+-./:;=?@_~€£§ ")
_ANY = st.one_of(_LOWER, _UPPER, _DIGIT, _SYMBOL)


@st.composite
def passwords(draw: st.DrawFn, policy: PasswordPolicy | None = None) -> str:
    """Passwords that satisfy the cheap rules of ``policy`` (length and classes).

    They may still be too weak for zxcvbn; see :func:`strong_passwords`.
    """
    policy = policy or PasswordPolicy()
    required = [
        draw(strategy)
        for needed, strategy in (
            (policy.require_lowercase, _LOWER),
            (policy.require_uppercase, _UPPER),
            (policy.require_digit, _DIGIT),
            (policy.require_symbol, _SYMBOL),
        )
        if needed
    ]
    low = max(policy.min_length - len(required), 0)
    high = max(low, min(policy.max_length, 40) - len(required))
    rest = draw(st.lists(_ANY, min_size=low, max_size=high))
    chars = draw(st.permutations(required + rest))
    return "".join(chars)


def strong_passwords(policy: PasswordPolicy | None = None) -> st.SearchStrategy[str]:
    """Passwords that ``policy`` accepts with an empty context (zxcvbn included)."""
    policy = policy or PasswordPolicy()
    longer = PasswordPolicy(
        min_length=max(policy.min_length, 16),
        max_length=max(policy.max_length, 16),
        require_lowercase=policy.require_lowercase,
        require_uppercase=policy.require_uppercase,
        require_digit=policy.require_digit,
        require_symbol=policy.require_symbol,
    )
    return passwords(longer).filter(lambda p: policy.evaluate(p).ok)


@st.composite
def users(draw: st.DrawFn, *, status: UserStatus | None = None) -> User:
    """Valid users with made-up data and a random id; ``password_hash`` is a fake string."""
    login = Login(LoginPolicy().parse(draw(logins())).display)
    email = EmailPolicy().parse(draw(emails()))
    name = st.text(string.ascii_letters + "éèçï -'", min_size=1, max_size=20).map(str.strip)
    return User(
        id=UserId(draw(st.uuids()).hex),
        login=login,
        email=EmailAddress(email.address),
        first_name=draw(name.filter(bool)),
        last_name=draw(name.filter(bool)),
        job_title=draw(st.sampled_from(("", "Médecin généraliste", "Secrétaire", "Dentiste"))),
        status=status or draw(st.sampled_from(UserStatus)),
        created_at=draw(
            st.datetimes(
                min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds are naive by API
                max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                timezones=st.just(UTC),
            )
        ),
        password_hash=draw(st.none() | st.just("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA")),
    )


# --- Identifiers -------------------------------------------------------------------------

_SEPARATOR_CHOICES = ("", " ", "-", ".", "/", "\u00a0", "\u202f", " - ")
_ANY_WIDTH_DIGITS = frozenset(string.digits) | {
    chr(ord(d) + _FULL_WIDTH_OFFSET) for d in string.digits
}
_NO_SLASH = tuple(s for s in _SEPARATOR_CHOICES if "/" not in s)


@functools.cache
def _digits(size: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=size, max_size=size)


@st.composite
def _written(
    draw: st.DrawFn,
    compact: str,
    groups: Sequence[int],
    separators: Sequence[str] = _SEPARATOR_CHOICES,
) -> str:
    """``compact`` cut into ``groups`` joined by separators, maybe full width, maybe padded."""
    parts, start = [], 0
    for size in groups:
        parts.append(compact[start : start + size])
        start += size
    parts.append(compact[start:])
    parts = [part for part in parts if part]
    if draw(st.booleans()):
        separator = draw(st.sampled_from(separators))
        text = separator.join(parts)
    else:
        chosen = draw(
            st.lists(st.sampled_from(separators), min_size=len(parts), max_size=len(parts))
        )
        text = "".join(p + s for p, s in zip(parts, [*chosen[:-1], ""], strict=True))
    if draw(st.integers(0, 9)) == 0:
        text = "".join(_full_width(c) for c in text)
    padding = draw(st.sampled_from(("", "", " ", "\t", "\u200b")))
    return padding + text + padding


def _maybe_written(
    compact: st.SearchStrategy[str], groups: Sequence[int], *, written: bool
) -> st.SearchStrategy[str]:
    if not written:
        return compact
    return compact.flatmap(lambda number: _written(number, groups))


@st.composite
def _inami_compact(
    draw: st.DrawFn, moduli: tuple[int, ...], *, short: bool | None, table: inami.InamiTable
) -> str:
    known = sorted({digit for digit, _ in table.competences})
    first = draw(st.sampled_from(known) | st.sampled_from(string.digits))
    first_six = first + draw(_digits(5))
    head = first_six + inami.check_digits(first_six, draw(st.sampled_from(moduli)))
    if short if short is not None else draw(st.integers(0, 4)) == 0:
        return head
    codes = sorted(code for digit, code in table.competences if digit == first)
    code = draw(st.sampled_from(codes) | _digits(3)) if codes else draw(_digits(3))
    return head + code


def inami_numbers(
    *,
    moduli: Sequence[int] = inami.MODULI,
    short: bool | None = None,
    written: bool = False,
    table: inami.InamiTable | None = None,
) -> st.SearchStrategy[str]:
    """Valid INAMI numbers with check digits under one of ``moduli``.

    ``short=True`` draws only the deprecated 8-digit form, ``False`` only 11 digits, ``None``
    both. Competence codes are often drawn from ``table`` (default: the bundled one), so GP
    trainees and GPs appear; first digits include unknown ones.
    """
    chosen = tuple(m for m in inami.MODULI if m in moduli)
    if not chosen or len(chosen) != len(set(moduli)):
        raise InvalidConfiguration(
            f"moduli must be a non-empty subset of {inami.MODULI}", option="moduli"
        )
    compact = _inami_compact(chosen, short=short, table=table or inami.InamiTable.default())
    return _maybe_written(compact, (1, 5, 2), written=written)


def _luhn(head: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return head.map(lambda partial: partial + luhn_check_digit(partial))


def rpps_numbers(*, written: bool = False) -> st.SearchStrategy[str]:
    """Valid RPPS numbers: 11 digits, Luhn; mostly starting with 10, as real ones do."""
    head = st.one_of(_digits(8).map(lambda d: "10" + d), _digits(10))
    return _maybe_written(_luhn(head), (3, 4, 4), written=written)


def adeli_numbers(*, written: bool = False, corsica: bool = True) -> st.SearchStrategy[str]:
    """Valid ADELI numbers; with ``corsica``, some start with 2A/2B (key not verifiable)."""
    numeric = _luhn(_digits(8))
    compact = numeric
    if corsica:
        compact = numeric | st.tuples(st.sampled_from(("2A", "2B", "2a", "2b")), _digits(7)).map(
            "".join
        )
    return _maybe_written(compact, (2, 2, 4), written=written)


def finess_numbers(*, written: bool = False, corsica: bool = True) -> st.SearchStrategy[str]:
    """Valid FINESS numbers; with ``corsica``, some have a letter in second place."""
    compact = _luhn(_digits(8))
    if corsica:
        compact = compact | st.tuples(st.sampled_from(("2A", "2B")), _digits(7)).map("".join)
    return _maybe_written(compact, (2, 6), written=written)


def idnps_numbers(*, written: bool = False, bare: bool = True) -> st.SearchStrategy[str]:
    """Valid IDNPS: ``8`` + RPPS, ``0`` + ADELI, structure forms; ``bare`` adds bare numbers.

    Written forms never use ``/`` inside a national number: in an IDNPS it separates a
    structure from a local identifier.
    """
    local = st.text(string.ascii_letters + string.digits + ".-_", min_size=1, max_size=12)
    structure = st.tuples(
        st.sampled_from(("1", "3", "4", "5", "6")),
        st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=14),
        local,
    ).map(lambda parts: f"{parts[0]}{parts[1]}/{parts[2]}")
    nationals = [rpps_numbers().map(lambda n: "8" + n), adeli_numbers().map(lambda n: "0" + n)]
    if bare:
        nationals.extend((rpps_numbers(), adeli_numbers()))
    national = st.one_of(nationals)
    if written:
        national = national.flatmap(lambda n: _written(n, (1, 3, 4), separators=_NO_SLASH))
    return national | structure


@st.composite
def _niss_compact(draw: st.DrawFn, *, bis: bool | None) -> str:
    # stdnum reads a 20xx century only up to the current year (it calls date.today()).
    latest = date(date.today().year - 1, 12, 31)  # noqa: DTZ011 - testing code, as stdnum
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=latest))
    is_bis = draw(st.booleans()) if bis is None else bis
    month = born.month + (draw(st.sampled_from((20, 40))) if is_bis else 0)
    body = f"{born.year % 100:02d}{month:02d}{born.day:02d}{draw(st.integers(1, 997)):03d}"
    base = int(("2" if born.year >= 2000 else "") + body)  # births from 2000 prefix a 2
    return body + f"{97 - base % 97:02d}"


def niss_numbers(*, written: bool = False, bis: bool | None = None) -> st.SearchStrategy[str]:
    """Valid NISS numbers (national register, or BIS with ``bis=True``; both by default)."""
    return _maybe_written(_niss_compact(bis=bis), (2, 2, 2, 3), written=written)


@st.composite
def _bce_compact(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from("01")) + draw(_digits(7))
    assume(int(head) > 0)
    return head + f"{97 - int(head) % 97:02d}"


def bce_numbers(*, written: bool = False) -> st.SearchStrategy[str]:
    """Valid BCE/KBO enterprise numbers; written forms include ``BE`` and dotted groups."""
    compact = _bce_compact()
    if not written:
        return compact
    return st.one_of(
        compact.flatmap(lambda n: _written(n, (4, 3))),
        compact.map(lambda n: "BE" + n),
        compact.filter(lambda n: n[0] == "0").map(lambda n: n[1:]),  # the old 9-digit form
    )


@functools.cache
def _bank_codes() -> tuple[str, ...]:
    from stdnum import numdb  # noqa: PLC0415 - only when an IBAN is drawn

    banks = numdb.get("be/banks")
    return tuple(f"{i:03d}" for i in range(1000) if banks.info(f"{i:03d}")[0][1].get("bic"))


@st.composite
def _iban_compact(draw: st.DrawFn) -> str:
    from stdnum import iban  # noqa: PLC0415

    bank = draw(st.sampled_from(_bank_codes()))
    head = bank + draw(_digits(7))
    national = head + f"{int(head) % 97 or 97:02d}"
    return "BE" + str(iban.calc_check_digits("BE00" + national)) + national


def belgian_ibans(*, written: bool = False) -> st.SearchStrategy[str]:
    """Valid Belgian IBANs whose bank code has a BIC in python-stdnum's table."""
    return _maybe_written(_iban_compact(), (4, 4, 4), written=written)


_VALID: dict[str, Callable[..., st.SearchStrategy[str]]] = {
    "inami": inami_numbers,
    "rpps": rpps_numbers,
    "adeli": adeli_numbers,
    "finess": finess_numbers,
    "idnps": idnps_numbers,
    "niss": niss_numbers,
    "bce": bce_numbers,
    "iban": belgian_ibans,
}


def valid_identifiers(
    kinds: Sequence[str] | None = None, *, written: bool = False
) -> st.SearchStrategy[tuple[str, str]]:
    """``(kind, number)`` pairs of valid numbers of the given kinds (default: all)."""
    chosen = list(kinds) if kinds is not None else sorted(MODULES)
    unknown = sorted(set(chosen) - set(MODULES))
    if unknown or not chosen:
        raise InvalidConfiguration(f"unknown identifier kinds: {unknown}", option="kinds")
    return st.one_of([_tagged(kind, _VALID[kind](written=written)) for kind in chosen])


def _tagged(kind: str, numbers: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(st.just(kind), numbers)


@st.composite
def typos(draw: st.DrawFn, number: str) -> str:
    """``number`` with one digit replaced by another, or two neighbouring digits swapped.

    Digits may be ASCII or full width; a replaced digit keeps its width.

    The result may still be valid (a swapped ``09`` passes Luhn; INAMI misses a few per cent
    of substitutions); :func:`near_misses` gives only refused ones.
    """
    positions = [i for i, c in enumerate(number) if c in _ANY_WIDTH_DIGITS]
    if not positions:
        raise InvalidConfiguration("typos() needs a number with digits", option="number")
    swappable = [
        i for i, j in itertools.pairwise(positions) if j == i + 1 and number[i] != number[j]
    ]
    if draw(st.booleans()) and swappable:
        at = draw(st.sampled_from(swappable))
        return number[:at] + number[at + 1] + number[at] + number[at + 2 :]
    at = draw(st.sampled_from(positions))
    wide = number[at] not in string.digits
    original = chr(ord(number[at]) - _FULL_WIDTH_OFFSET) if wide else number[at]
    digit = draw(st.sampled_from([d for d in string.digits if d != original]))
    return number[:at] + (_full_width(digit) if wide else digit) + number[at + 1 :]


def near_misses(kind: str) -> st.SearchStrategy[str]:
    """Typos of valid ``kind`` numbers that the ``kind`` module refuses."""
    if kind not in MODULES:
        raise InvalidConfiguration(f"unknown identifier kind {kind!r}", option="kind")
    module = MODULES[kind]
    valid = _VALID[kind]()
    return valid.flatmap(typos).filter(lambda n: not module.is_valid(n))


# --- Access: permissions, roles, establishments, memberships (C1-C6) -----------------------

_ROLE_NAMES = (
    "Coordination",
    "Facturation",
    "Accueil du soir",
    "Garde de nuit",
    "Stérilisation",
    "Téléconsultation",
    "Archives",
    "Qualité",
)
_DEPARTMENT_NAMES = (
    "Cardiologie",
    "Pédiatrie",
    "Radiologie",
    "Urgences",
    "Consultations externes",
    "Laboratoire",
    "Chirurgie",
)
_ESTABLISHMENT_NAMES = (
    "Cabinet des Tilleuls",
    "Centre dentaire du Parc",
    "Clinique vétérinaire des Saules",
    "Hôpital Saint-Exemple",
    "Maison médicale du Pont",
)
_HOST_FEATURES = ("labs.orders", "imaging.viewer", "sms.reminders", "billing.ehealth")
_FEATURES = st.sampled_from(sorted(Feature) + sorted(_HOST_FEATURES))
_CREATED = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds are naive by API
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_HEX = st.text("0123456789abcdef", min_size=8, max_size=8)


def permission_sets(
    within: Iterable[Permission | str] | None = None,
    *,
    min_size: int = 0,
    max_size: int | None = None,
) -> st.SearchStrategy[frozenset[Permission]]:
    """Sets of catalogue permissions (C4), drawn from ``within`` (default: the catalogue).

    Raises:
        InvalidConfiguration: ``within`` holds something that is not a permission code, or no
            set of ``min_size`` .. ``max_size`` permissions can be drawn from it.
    """
    codes = {p.value: p for p in Permission}
    if isinstance(within, str):
        within = (within,)
    chosen: list[object] = list(Permission if within is None else within)
    if not all(isinstance(p, str) and p in codes for p in chosen):
        raise InvalidConfiguration(
            "permission_sets() draws from catalogue permissions", option="within"
        )
    pool = sorted({codes[str(p)] for p in chosen})
    high = len(pool) if max_size is None else max_size
    if min_size < 0 or high < min_size or min_size > len(pool):
        raise InvalidConfiguration(
            f"cannot draw {min_size}..{high} permissions from {len(pool)}", option="min_size"
        )
    if not pool:
        return st.just(frozenset())
    return st.frozensets(st.sampled_from(pool), min_size=min_size, max_size=min(high, len(pool)))


def roles(
    permissions: st.SearchStrategy[frozenset[Permission]] | None = None,
) -> st.SearchStrategy[Role]:
    """Custom roles (never administrator, no template) with a made-up name and a fresh id.

    ``permissions`` draws each role's permissions (default: :func:`permission_sets`).

    Raises:
        InvalidConfiguration: ``permissions`` is not a strategy.
    """
    if permissions is None:
        permissions = permission_sets()
    elif not isinstance(permissions, st.SearchStrategy):
        raise InvalidConfiguration(
            "roles() takes a strategy of permission sets", option="permissions"
        )
    return st.builds(
        _custom_role,
        name=st.sampled_from(_ROLE_NAMES),
        number=st.integers(1, 99),
        permissions=permissions,
        suffix=_HEX,
    )


def _custom_role(name: str, number: int, permissions: frozenset[Permission], suffix: str) -> Role:
    return Role.custom(f"{name} {number}", permissions, role_id=RoleId(f"role-{suffix}"))


def _department(name: str, number: int, features: frozenset[str], suffix: str) -> Department:
    return Department.create(
        f"{name} {number}", features, department_id=DepartmentId(f"dept-{suffix}")
    )


_DEPARTMENTS = st.builds(
    _department,
    name=st.sampled_from(_DEPARTMENT_NAMES),
    number=st.integers(1, 99),
    features=st.frozensets(_FEATURES, max_size=3),
    suffix=_HEX,
)


def establishments(product: ProductKind | str | None = None) -> st.SearchStrategy[Establishment]:
    """Establishments with ``product``'s role templates, custom roles and departments (C4, C5).

    Any product by default; up to three custom roles and four departments with random
    features are added.

    Raises:
        InvalidConfiguration: ``product`` is not a :class:`~practiceid.ProductKind` value.
    """
    if product is None:
        kinds: st.SearchStrategy[ProductKind] = st.sampled_from(ProductKind)
    else:
        try:
            kinds = st.just(ProductKind(product))
        except ValueError:
            raise InvalidConfiguration(f"unknown product {product!r}", option="product") from None
    return _establishments(kinds)


def _folded_name(item: Role | Department) -> str:
    return item.name.casefold()


def _item_id(item: Role | Department) -> str:
    return item.id


@st.composite
def _establishments(draw: st.DrawFn, kinds: st.SearchStrategy[ProductKind]) -> Establishment:
    establishment = Establishment.open(
        EstablishmentId(f"est-{draw(_HEX)}"),
        organisation_id=OrganisationId(f"org-{draw(_HEX)}"),
        name=draw(_ESTABLISHMENT_NAME),
        product=draw(kinds),
        created_at=draw(_CREATED),
    )
    taken = {role.name.casefold() for role in establishment.roles}
    for role in draw(_EXTRA_ROLES):
        if role.name.casefold() not in taken and establishment.find_role(role.id) is None:
            establishment = establishment.with_role(role)
    for department in draw(_EXTRA_DEPARTMENTS):
        establishment = establishment.with_department(department)
    return establishment


_ESTABLISHMENT_NAME = st.sampled_from(_ESTABLISHMENT_NAMES)
_EXTRA_ROLES = st.lists(roles(), max_size=3, unique_by=(_item_id, _folded_name))
_EXTRA_DEPARTMENTS = st.lists(_DEPARTMENTS, max_size=4, unique_by=(_item_id, _folded_name))


def memberships(
    establishment: Establishment,
    *,
    user_id: UserId | None = None,
    status: MembershipStatus | None = None,
    delegates: Sequence[UserId] = (),
) -> st.SearchStrategy[Membership]:
    """Memberships in ``establishment`` with some of its roles and departments (C1, C3-C6).

    ``user_id`` is the member (a made-up id by default); ``status`` is drawn unless given;
    delegations (C6) go to some of ``delegates``, never to the member themself. Direct
    features are drawn too.

    Raises:
        InvalidConfiguration: ``establishment`` is not an :class:`~practiceid.Establishment`,
            or ``user_id`` or a delegate is not a text id.
    """
    if not isinstance(establishment, Establishment):
        raise InvalidConfiguration("memberships() needs an Establishment", option="establishment")
    if user_id is not None and not isinstance(user_id, str):
        raise InvalidConfiguration("user_id must be a text id", option="user_id")
    if isinstance(delegates, str) or not all(isinstance(d, str) for d in delegates):
        raise InvalidConfiguration("delegates must be a sequence of text ids", option="delegates")
    users = st.just(user_id) if user_id is not None else _HEX.map(lambda h: UserId(f"user-{h}"))
    statuses = st.just(status) if status is not None else st.sampled_from(MembershipStatus)
    return _memberships(establishment, users, statuses, tuple(delegates))


_FEATURE_SETS = st.frozensets(_FEATURES, max_size=2)


@st.composite
def _memberships(
    draw: st.DrawFn,
    establishment: Establishment,
    users: st.SearchStrategy[UserId],
    statuses: st.SearchStrategy[MembershipStatus],
    delegates: tuple[UserId, ...],
) -> Membership:
    member = draw(users)
    # One boolean per role, department and physician: fixed strategies, shrinking to none.
    roles = [role.id for role in establishment.roles if draw(st.booleans())]
    departments = [d.id for d in establishment.departments if draw(st.booleans())]
    delegations = [
        Delegation(physician, inherit_features=draw(st.booleans()))
        for physician in sorted(set(delegates) - {member})
        if draw(st.booleans())
    ]
    return Membership(
        user_id=member,
        establishment_id=establishment.id,
        created_at=draw(_CREATED),
        roles=roles,
        status=draw(statuses),
        departments=departments,
        delegations=delegations,
        features=draw(_FEATURE_SETS),
    )


# --- Profiles: initials, contact details, logos, practitioners (A7, B1-B6, C7) ------------

_INITIAL_LETTERS = string.ascii_uppercase + string.ascii_lowercase + "ÉÈÀÇÖÜØéèçöüß"
_INITIAL_PUNCTUATION = ".-'"
_INITIAL_LETTER = st.sampled_from(_INITIAL_LETTERS)
_INITIAL_CHAR = st.sampled_from(_INITIAL_LETTERS + string.digits)


@st.composite
def initials(draw: st.DrawFn) -> str:
    """Initials :func:`practiceid.policies.initials.clean` accepts unchanged (A7).

    One to eight characters: a letter first (Latin, some accented), then letters or digits,
    with at most one ``.``, ``-`` or ``'`` between two of them (``JD``, ``JDu``, ``J-P.D``).
    Case is mixed: uniqueness compares them case-insensitively.
    """
    size = draw(st.integers(1, MAX_INITIALS))
    chars = [draw(_INITIAL_LETTER)]
    while len(chars) < size:
        between = len(chars) < size - 1 and chars[-1] not in _INITIAL_PUNCTUATION
        if between and draw(st.integers(0, 4)) == 0:
            chars.append(draw(st.sampled_from(_INITIAL_PUNCTUATION)))
        else:
            chars.append(draw(_INITIAL_CHAR))
    return "".join(chars)


_CONTACT_COUNTRIES: Final = ("BE", "FR", "LU", "NL")


def _contact_country(country: object) -> str:
    if not isinstance(country, str) or country.strip().upper() not in _CONTACT_COUNTRIES:
        raise InvalidConfiguration(
            f"country must be one of {', '.join(_CONTACT_COUNTRIES)}", option="country"
        )
    return country.strip().upper()


_PREFIX_DIGITS: Final = 3


@functools.cache
def _numbering_plan(country: str, *, mobile: bool) -> tuple[tuple[str, int], ...]:
    """``(prefix, length)`` pairs of national numbers: three leading digits and a length.

    Read from phonenumbers' metadata for the country: a pair is kept when the fixed-line
    pattern (the mobile one with ``mobile=True``) matches the prefix followed by some tail
    of that length.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(country)
    if metadata is None:  # pragma: no cover - every supported country has metadata
        return ()
    description = metadata.mobile if mobile else metadata.fixed_line
    if description is None or description.national_number_pattern is None:  # pragma: no cover
        return ()
    pattern = re.compile(description.national_number_pattern)
    plan: set[tuple[str, int]] = set()
    for length in description.possible_length or ():
        if length <= _PREFIX_DIGITS:
            continue
        tails = {digit * (length - _PREFIX_DIGITS) for digit in string.digits}
        plan.update(
            (f"{prefix:03d}", length)
            for prefix in range(10**_PREFIX_DIGITS)
            if any(pattern.fullmatch(f"{prefix:03d}{tail}") for tail in tails)
        )
    return tuple(sorted(plan))


@st.composite
def _phone_numbers(
    draw: st.DrawFn, country_code: int, plan: st.SearchStrategy[tuple[str, int]]
) -> str:
    prefix, length = draw(plan)
    digits = prefix + draw(_digits(length - _PREFIX_DIGITS))
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(digits))
    assume(phonenumbers.is_valid_number(number))
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return written if draw(st.booleans()) else written.replace(" ", "")


def phone_numbers(country: str = "BE", *, mobile: bool | None = None) -> st.SearchStrategy[str]:
    """Valid phone numbers of ``country``, written in national form (B1, C7).

    Numbers follow the fixed-line (``mobile=False``) or mobile (``True``) numbering plan in
    phonenumbers' metadata for the country, both by default, and phonenumbers finds each
    valid; they are written as that country writes them (``081 22 33 44``,
    ``06 12 34 56 78``) or without spaces. :func:`practiceid.policies.contact.clean_phone`
    accepts every one for ``country``. The digits are random: nothing here calls them.

    Raises:
        InvalidConfiguration: ``country`` is not BE, FR, LU or NL, or ``mobile`` is not a
            boolean or ``None``.
    """
    chosen = _contact_country(country)
    if mobile not in {None, True, False}:
        raise InvalidConfiguration("mobile is True, False or None", option="mobile")
    return _phone_strategy(chosen, mobile=mobile)


@functools.cache
def _phone_strategy(country: str, *, mobile: bool | None) -> st.SearchStrategy[str]:
    code = phonenumbers.country_code_for_region(country)
    kinds = (False, True) if mobile is None else (mobile,)
    return st.one_of(
        [
            _phone_numbers(code, st.sampled_from(_numbering_plan(country, mobile=kind)))
            for kind in kinds
        ]
    )


# A French postal code starts with its département: 01 to 95, 97 and 98 overseas.
_FR_DEPARTMENTS = st.sampled_from([f"{d:02d}" for d in (*range(1, 96), 97, 98)])
_POSTAL_CODE_STRATEGIES: Final[dict[str, st.SearchStrategy[str]]] = {
    "BE": st.integers(1000, 9999).map(str),
    "FR": st.tuples(_FR_DEPARTMENTS, _digits(3)).map("".join),
    "LU": st.integers(1000, 9999).map(str),
    "NL": st.tuples(
        st.integers(1000, 9999).map(str), st.text(string.ascii_uppercase, min_size=2, max_size=2)
    ).map("".join),
}


def postal_codes(country: str = "BE") -> st.SearchStrategy[str]:
    """Valid postal codes of ``country``, as the profile service stores them (B1, C7).

    Belgium and Luxembourg: four digits, 1000 to 9999; France: five digits starting with a
    département; the Netherlands: four digits and two letters. Each is accepted unchanged by
    :func:`practiceid.policies.contact.clean_postal_code`.

    Raises:
        InvalidConfiguration: ``country`` is not BE, FR, LU or NL.
    """
    return _POSTAL_CODE_STRATEGIES[_contact_country(country)]


_STREET_NAMES = (
    "des Tilleuls",
    "du Parc",
    "de l'Exemple",
    "des Saules",
    "du Moulin",
    "de la Gare",
    "des Écoles",
    "Sint-Exempelstraat",
)
_CITY_STRATEGIES: Final = {
    "BE": st.sampled_from(("Namur", "Liège", "Bruxelles", "Gent", "Mons", "Arlon")),
    "FR": st.sampled_from(("Lille", "Nîmes", "Lyon", "Rennes", "Metz", "Ajaccio")),
    "LU": st.sampled_from(("Luxembourg", "Esch-sur-Alzette", "Diekirch")),
    "NL": st.sampled_from(("Utrecht", "Maastricht", "Eindhoven", "Groningen")),
}


_STREET_PARTS = st.tuples(
    st.sampled_from(("Rue", "Avenue", "Place")),
    st.sampled_from(_STREET_NAMES),
    st.integers(1, 250),
)
_STREETS: Final = {
    # "12 rue des Tilleuls" in France, "Rue des Tilleuls 12" elsewhere.
    country: _STREET_PARTS.map(
        (lambda p: f"{p[2]} {p[0].lower()} {p[1]}")
        if country == "FR"
        else (lambda p: f"{p[0]} {p[1]} {p[2]}")
    )
    for country in _CONTACT_COUNTRIES
}


_MAIL_LOCAL = st.tuples(
    st.sampled_from(("camille", "noa", "sam", "alex", "dr.exemple", "accueil")),
    st.integers(1, 999),
).map(lambda parts: f"{parts[0]}{parts[1]}")
_MAIL_DOMAIN = st.tuples(
    st.sampled_from(("cabinet", "centre-medical", "maison-medicale", "clinique")),
    st.sampled_from(_TLDS),
).map(lambda parts: f"{parts[0]}-exemple.{parts[1]}")
_CONTACT_EMAILS = st.tuples(_MAIL_LOCAL, _MAIL_DOMAIN).map("@".join)


@st.composite
def _addresses(
    draw: st.DrawFn,
    country: str,
    kinds: st.SearchStrategy[AddressKind],
    *,
    reachable: bool | None,
) -> dict[str, object]:
    email: str | None = draw(_CONTACT_EMAILS)
    phone: str | None = draw(_phone_strategy(country, mobile=None))
    if reachable is False:
        dropped = draw(st.sampled_from(("email", "phone", "both")))
        email = None if dropped in {"email", "both"} else email
        phone = None if dropped in {"phone", "both"} else phone
    elif reachable is None:
        email = draw(st.none() | st.just(email))
        phone = draw(st.none() | st.just(phone))
    return {
        "kind": draw(kinds).value,
        "street": draw(_STREETS[country]),
        "postal_code": draw(_POSTAL_CODE_STRATEGIES[country]),
        "city": draw(_CITY_STRATEGIES[country]),
        "country": country,
        "email": email,
        "phone": phone,
    }


def addresses(
    country: str = "BE", *, kind: AddressKind | str | None = None, reachable: bool | None = None
) -> st.SearchStrategy[dict[str, object]]:
    """Address mappings :meth:`~practiceid.ProfileService.save_practitioner` accepts (B1, C7).

    Keys: ``kind`` (drawn unless given), ``street``, ``postal_code``, ``city``, ``country``,
    ``email`` and ``phone`` (``None`` when absent). ``reachable=True`` always gives an
    e-mail and a phone, as hubs require of a workplace; ``False`` leaves out one or both;
    ``None`` draws. Streets and e-mail domains are made up.

    Raises:
        InvalidConfiguration: ``country`` is not BE, FR, LU or NL, or ``kind`` is not an
            :class:`~practiceid.policies.contact.AddressKind`.
    """
    chosen = _contact_country(country)
    try:
        wanted = None if kind is None else AddressKind(kind)
    except ValueError:
        raise InvalidConfiguration(f"unknown address kind {kind!r}", option="kind") from None
    if reachable not in {None, True, False}:
        raise InvalidConfiguration("reachable is True, False or None", option="reachable")
    return _address_strategy(chosen, wanted, reachable=reachable)


@functools.cache
def _address_strategy(
    country: str, kind: AddressKind | None, *, reachable: bool | None
) -> st.SearchStrategy[dict[str, object]]:
    kinds = st.sampled_from(AddressKind) if kind is None else st.just(kind)
    return _addresses(country, kinds, reachable=reachable)


_SIDES = st.integers(MIN_SIDE, MAX_SIDE)


def _side(value: int | None, option: str) -> st.SearchStrategy[int]:
    if value is None:
        return _SIDES
    if type(value) is not int or not MIN_SIDE <= value <= MAX_SIDE:
        raise InvalidConfiguration(
            f"{option} must be {MIN_SIDE} to {MAX_SIDE} pixels", option=option
        )
    return st.just(value)


def _logo(media_type: MediaType, width: int, height: int) -> bytes:
    image = sample_png if media_type == "image/png" else sample_jpeg
    return image(width, height)


def logos(
    media_type: MediaType | None = None, *, width: int | None = None, height: int | None = None
) -> st.SearchStrategy[bytes]:
    """Valid logo files (C7): PNG or JPEG bytes the logo check accepts.

    ``media_type`` chooses the format (both by default); ``width`` and ``height`` are drawn
    within :data:`~practiceid.policies.logo.MIN_SIDE` .. ``MAX_SIDE`` unless given. Images
    come from :func:`~practiceid.testing.samples.sample_png` and
    :func:`~practiceid.testing.samples.sample_jpeg`.

    Raises:
        InvalidConfiguration: an unknown ``media_type``, or a side outside the limits.
    """
    formats: tuple[MediaType, ...] = ("image/png", "image/jpeg")
    if media_type is not None and media_type not in formats:
        raise InvalidConfiguration(
            "media_type is 'image/png', 'image/jpeg' or None", option="media_type"
        )
    return st.builds(
        _logo,
        st.sampled_from(formats) if media_type is None else st.just(media_type),
        _side(width, "width"),
        _side(height, "height"),
    )


def _not_a_trainee(digit: str, code: str) -> bool:
    competence = inami.InamiTable.default().competence(digit, code)
    return competence is None or not competence.requires_supervisor


@functools.cache
def _competence_codes(digit: str) -> st.SearchStrategy[str]:
    """Competence codes of providers of kind ``digit`` who need no supervisor (B4)."""
    known = sorted(
        code
        for known_digit, code in inami.InamiTable.default().competences
        if known_digit == digit and _not_a_trainee(digit, code)
    )
    codes = _digits(3).filter(lambda code: _not_a_trainee(digit, code))
    return st.sampled_from(known) | codes if known else codes


@st.composite
def _inami_for(draw: st.DrawFn, digits: Sequence[str]) -> str:
    """An 11-digit INAMI number with one of ``digits`` first, of someone needing no supervisor."""
    digit = draw(st.sampled_from(digits))
    first_six = digit + draw(_digits(5))
    head = first_six + inami.check_digits(first_six, draw(_MODULI))
    return head + draw(_competence_codes(digit))


_MODULI = st.sampled_from(inami.MODULI)


@functools.cache
def _identifier_strategy(kind: str, inami_digits: frozenset[str]) -> st.SearchStrategy[str]:
    if kind == "inami":
        return _inami_for(sorted(inami_digits or {"1"}))
    return {"niss": niss_numbers, "rpps": rpps_numbers, "adeli": adeli_numbers}[kind]()


@st.composite
def _practitioner_forms(
    draw: st.DrawFn, product: ProductKind, country: str, professions: Sequence[Profession]
) -> dict[str, object]:
    profession = draw(st.sampled_from(professions))
    rule = PROFESSION_RULES[product].rule(profession, country)
    identifiers: dict[str, str] = {}
    for group in rule.required:
        kind = draw(st.sampled_from(group))
        if kind in identifiers:
            continue
        identifiers[kind] = draw(_identifier_strategy(kind, rule.inami_digits))
    workplace = draw(_address_strategy(country, AddressKind.WORKPLACE, reachable=True))
    others = draw(st.lists(_address_strategy(country, None, reachable=None), max_size=2))
    return {
        "profession": profession.value,
        "country": country,
        "identifiers": identifiers,
        "addresses": draw(st.permutations([workplace, *others])),
    }


def practitioner_forms(
    product: ProductKind | str = ProductKind.GENERAL_PRACTICE,
    country: str = "BE",
    *,
    profession: Profession | str | None = None,
) -> st.SearchStrategy[dict[str, object]]:
    """Keyword arguments :meth:`~practiceid.ProfileService.save_practitioner` accepts (B1-B4).

    A mapping with ``profession`` (one ``product`` offers, drawn unless given), ``country``,
    ``identifiers`` (one made-up number for each group the profession's rule requires in
    :data:`~practiceid.PROFESSION_RULES`; an INAMI number has the right first digit and is
    never a trainee's, so no supervisor is needed) and ``addresses`` (a reachable workplace
    in ``country``, maybe others). Pass it with ``actor``, ``establishment_id`` and
    ``user_id`` of a member of an establishment of ``product``.

    Raises:
        InvalidConfiguration: an unknown ``product``, ``country`` not BE, FR, LU or NL, or a
            ``profession`` the product does not offer.
    """
    try:
        kind = ProductKind(product)
    except ValueError:
        raise InvalidConfiguration(f"unknown product {product!r}", option="product") from None
    chosen = _contact_country(country)
    offered = sorted(PROFESSION_RULES[kind].professions)
    if profession is not None:
        try:
            wanted = Profession(profession)
        except ValueError:
            wanted = None
        if wanted not in offered:
            raise InvalidConfiguration(
                f"{kind.value} does not offer the profession {profession!r}", option="profession"
            )
        offered = [wanted]
    return _practitioner_forms(kind, chosen, offered)


# --- Onboarding: records, terms of use, outbox messages (D1, D2) -------------------------

# Locales of the products' messages: what the onboarding service accepts, [a-z]{2,3}(-[A-Z]{2})?.
_LOCALES = ("fr-BE", "nl-BE", "de-BE", "en", "fr-FR", "fr-LU", "lb-LU", "nl-NL", "en-GB")
_MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds are naive by API
    max_value=datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_DIGEST_BYTES = 32  # SHA-256
_MAX_LIVE_LINKS = 8  # InvitationSettings.live_links by default
_MAX_REMINDERS = 5
_LINK_DIGESTS = st.lists(
    st.binary(min_size=_DIGEST_BYTES, max_size=_DIGEST_BYTES), max_size=_MAX_LIVE_LINKS, unique=True
)
_LINKED_STATUSES = frozenset({OnboardingStatus.INVITED, OnboardingStatus.EXPIRED})
_USER_IDS = _HEX.map(lambda h: UserId(f"user-{h}"))
# Addresses of staff, normalized: cheaper to draw than emails(), which tries every spelling.
_ADDRESSES = st.builds(
    "{}.{}@{}".format,
    st.sampled_from(("dr.dupont", "Élodie.Lefèvre", "j.peeters", "secretariat")),
    _HEX,
    st.sampled_from(("cabinet-exemple.be", "Hôpital-Exemple.be", "clinique-exemple.fr")),
).map(EmailPolicy().parse)


@functools.cache
def _within(low: timedelta, high: timedelta) -> st.SearchStrategy[timedelta]:
    """Durations from ``low`` to ``high``, in whole seconds (shrinking to ``low``)."""
    return st.integers(int(low.total_seconds()), int(high.total_seconds())).map(
        lambda s: timedelta(seconds=s)
    )


_UP_TO_A_DAY = _within(timedelta(0), timedelta(days=1))
_EXPIRIES = _within(timedelta(hours=1), timedelta(days=90))


_E = TypeVar("_E", bound=enum.Enum)


def _enum_choices(kind: type[_E], value: object, option: str) -> tuple[_E, ...]:
    """Every member of ``kind``, or the one ``value`` names; refuse anything else."""
    if value is None:
        return tuple(kind)
    try:
        return (kind(value),)
    except ValueError:
        raise InvalidConfiguration(f"unknown {option} {value!r}", option=option) from None


def _fixed_user(user_id: object) -> st.SearchStrategy[UserId]:
    if user_id is None:
        return _USER_IDS
    if not isinstance(user_id, str):
        raise InvalidConfiguration("user_id must be a text id", option="user_id")
    return st.just(UserId(user_id))


def onboardings(
    *,
    user_id: UserId | None = None,
    status: OnboardingStatus | str | None = None,
    mode: OnboardingMode | str | None = None,
) -> st.SearchStrategy[Onboarding]:
    """Onboarding records (D1, D2) as the invitation workflow leaves them.

    ``status`` and ``mode`` are drawn unless given; an ``administrator`` record (its password
    set by an administrator) is never ``invited`` or ``expired``. Times are aware UTC
    datetimes, in the order things happen (created, sent, accepted, signed in, activated);
    a link mode's record has a round, its deadline and the invitations of the last 24 hours
    (``sends``); an ``invited`` record may be due before its deadline and holds up to 8
    distinct 32-byte link digests, other records none; a ``deactivated`` one says which
    status it resumes. Locales look like ``fr-BE``; ``user_id`` is made up unless given.

    Raises:
        InvalidConfiguration: an unknown ``status`` or ``mode``, ``administrator`` with
            ``invited`` or ``expired``, or a ``user_id`` that is not text.
    """
    users = _fixed_user(user_id)
    modes = _enum_choices(OnboardingMode, mode, "mode")
    statuses = _enum_choices(OnboardingStatus, status, "status")
    pairs = [(m, s) for m in modes for s in statuses if m.uses_link or s not in _LINKED_STATUSES]
    if not pairs:
        raise InvalidConfiguration(
            f"no record in {modes[0].value} mode is {statuses[0].value}", option="status"
        )
    return _onboardings(users, tuple(pairs))


_TERMS_VERSION_START = string.digits + string.ascii_letters
_TERMS_VERSION_REST = _TERMS_VERSION_START + "._:-"
_TERMS_VERSIONS = st.one_of(
    st.builds("{}-{:02d}".format, st.integers(2000, 2089), st.integers(1, 12)),
    st.builds(
        str.__add__,
        st.sampled_from(_TERMS_VERSION_START),
        st.text(_TERMS_VERSION_REST, max_size=63),
    ),
)


_RESUMABLE = (
    OnboardingStatus.INVITED,
    OnboardingStatus.ACCEPTED,
    OnboardingStatus.ACTIVE,
    OnboardingStatus.EXPIRED,
)
# What an administrator-mode record resumes instead: it was never sent a link.
_WITHOUT_LINK = {OnboardingStatus.INVITED: OnboardingStatus.ACCEPTED}
_WITHOUT_LINK[OnboardingStatus.EXPIRED] = OnboardingStatus.ACTIVE
_UP_TO_90_DAYS = _within(timedelta(0), timedelta(days=90))
# Invitations of the last 24 hours before a round's: a day old is out of the window.
_RESUMES = st.sampled_from(_RESUMABLE)
_INVITERS = st.none() | _USER_IDS
_LOCALE_CHOICES = st.sampled_from(_LOCALES)
_VERSIONS = st.integers(0, 20)
_ROUNDS = st.integers(1, 20)
_REMINDER_COUNTS = st.integers(0, _MAX_REMINDERS)
_MAYBE_UP_TO_90_DAYS = st.none() | _UP_TO_90_DAYS
_MAYBE_TERMS_VERSIONS = st.none() | _TERMS_VERSIONS
_EARLIER_SENDS = st.lists(
    _within(timedelta(seconds=1), timedelta(days=1, seconds=-1)), max_size=4, unique=True
)


@st.composite
def _onboardings(
    draw: st.DrawFn,
    users: st.SearchStrategy[UserId],
    pairs: tuple[tuple[OnboardingMode, OnboardingStatus], ...],
) -> Onboarding:
    # Every value is drawn whatever the mode and status, in one order, so that a record
    # shrinks to a simpler status field by field (the first pair: invitation, invited).
    mode, status = draw(st.sampled_from(pairs))
    resume = draw(_RESUMES)
    created = draw(_MOMENTS)
    values: dict[str, object] = {
        "user_id": draw(users),
        "establishment_id": EstablishmentId(f"est-{draw(_HEX)}"),
        "mode": mode,
        "status": status,
        "created_at": created,
        "invited_by": draw(_INVITERS),
        "locale": draw(_LOCALE_CHOICES),
        "email_key": draw(_ADDRESSES).key,
        "version": draw(_VERSIONS),
    }
    round_ = draw(_ROUNDS)
    resent_after = draw(_UP_TO_90_DAYS)
    expiry = draw(_EXPIRIES)
    earlier = draw(_EARLIER_SENDS)[: round_ - 1]
    reminders = draw(_REMINDER_COUNTS)
    due_after = draw(_MAYBE_UP_TO_90_DAYS)
    digests = draw(_LINK_DIGESTS)
    accepted_after = draw(_UP_TO_90_DAYS)
    later = [draw(_UP_TO_A_DAY) for _ in range(3)]  # signed in, activated, terms accepted
    signed_in_early = draw(st.booleans())
    terms = draw(_MAYBE_TERMS_VERSIONS)
    temporary = draw(st.booleans())

    reached = status  # the status whose fields the record holds
    if status is OnboardingStatus.DEACTIVATED:
        if not mode.uses_link:
            resume = _WITHOUT_LINK.get(resume, resume)
        values["resume"] = reached = resume
    accepted = created
    if mode.uses_link:
        # Re-sent at least a day after the account was made: earlier sends are after it.
        sent = created + timedelta(days=1) + resent_after if round_ > 1 else created
        expires = sent + expiry
        values.update(
            round=round_,
            sent_at=sent,
            expires_at=expires,
            reminders_sent=reminders,
            sends=(*sorted(sent - d for d in earlier), sent),
        )
        if status is OnboardingStatus.INVITED:
            values["due_at"] = None if due_after is None else sent + min(due_after, expiry)
            values["token_digests"] = digests
        accepted = sent + min(accepted_after, expiry)
    if reached in {OnboardingStatus.ACCEPTED, OnboardingStatus.ACTIVE}:
        active = reached is OnboardingStatus.ACTIVE
        values["accepted_at"] = accepted
        signed_in = accepted + later[0] if active or signed_in_early else None
        values["signed_in_at"] = signed_in
        if active and signed_in is not None:
            values["activated_at"] = signed_in + later[1]
        if terms is not None and signed_in is not None:
            values.update(terms_version=terms, terms_accepted_at=signed_in + later[2])
        values["password_change_required"] = (
            temporary and mode is OnboardingMode.WELCOME and not active
        )
    return Onboarding(**values)  # type: ignore[arg-type]


def terms_of_use() -> st.SearchStrategy[TermsOfUse]:
    """Published versions of the terms of use (D2), with an aware UTC publication time.

    Versions are what :meth:`~practiceid.OnboardingService.publish_terms` accepts: 1 to 64
    letters, digits, ``.``, ``_``, ``:`` and ``-``, starting with a letter or a digit; most
    look like ``2026-03``.
    """
    return st.builds(TermsOfUse, published_at=_MOMENTS, version=_TERMS_VERSIONS)


_ERRORS = ("TimeoutError", "ConnectionError", "SMTPRecipientsRefused")
_MAX_ATTEMPTS = 12  # Backoff.attempts by default
_ATTEMPTS = st.integers(0, _MAX_ATTEMPTS)
_FAILURES = st.sampled_from(_ERRORS)


def messages(
    *,
    user_id: UserId | None = None,
    status: MessageStatus | str | None = None,
    kind: MessageKind | str | None = None,
) -> st.SearchStrategy[Message]:
    """Outbox messages (D2) as the onboarding service writes them and the dispatcher leaves them.

    A random id; ``kind`` and ``status`` drawn unless given; a normalized made-up recipient
    address; a locale like ``fr-BE``; the idempotency key the service derives
    (``onboarding:<user>:v<version>:<kind>``); the establishment's name in ``params``, and the
    deadline (ISO 8601) and the invitation round for a kind that carries a link. Pending
    messages may be claimed (``claimed_until``) and may have failed before; sent ones have
    ``sent_at``; failed ones their last error; cancelled ones ``round_over``. Times are aware
    UTC datetimes. ``user_id``, the account the message is about, is made up unless given.

    Raises:
        InvalidConfiguration: an unknown ``status`` or ``kind``, or a ``user_id`` that is not
            text.
    """
    users = _fixed_user(user_id)
    kinds = _enum_choices(MessageKind, kind, "kind")
    statuses = _enum_choices(MessageStatus, status, "status")
    return _messages(users, kinds, statuses)


@st.composite
def _messages(
    draw: st.DrawFn,
    users: st.SearchStrategy[UserId],
    kinds: tuple[MessageKind, ...],
    statuses: tuple[MessageStatus, ...],
) -> Message:
    # Every value is drawn whatever the kind and status, in one order: see _onboardings.
    kind = draw(st.sampled_from(kinds))
    status = draw(st.sampled_from(statuses))
    about = draw(users)
    created = draw(_MOMENTS)
    establishment = draw(_ESTABLISHMENT_NAME)
    expiry = draw(_EXPIRIES)
    link_round = draw(_ROUNDS)
    attempts = draw(_ATTEMPTS)
    next_attempt = created + draw(_within(timedelta(0), timedelta(hours=6)))
    claimed = draw(st.booleans())
    lease = draw(_within(timedelta(minutes=1), timedelta(hours=1)))
    failure = draw(_FAILURES)
    sent_after = draw(_UP_TO_A_DAY)

    pending = status is MessageStatus.PENDING
    attempts = attempts if pending else max(attempts, 1)
    claimed = claimed and pending and attempts > 0
    params = {"establishment": establishment}
    if kind.carries_link:
        params["expires_at"] = (created + expiry).isoformat()
    error = ""
    if status is MessageStatus.CANCELLED:
        error = "round_over"
    elif status is MessageStatus.FAILED or (pending and attempts and not claimed):
        error = failure
    return Message(
        id=MessageId(str(draw(st.uuids()))),
        kind=kind,
        recipient=draw(_ADDRESSES).address,
        locale=draw(_LOCALE_CHOICES),
        idempotency_key=f"onboarding:{about}:v{draw(st.integers(0, 50))}:{kind}",
        created_at=created,
        next_attempt_at=next_attempt,
        params=params,
        user_id=about,
        link_round=link_round if kind.carries_link else None,
        status=status,
        attempts=attempts,
        claimed_until=next_attempt + lease if claimed else None,
        sent_at=next_attempt + sent_after if status is MessageStatus.SENT else None,
        last_error=error,
        version=draw(_VERSIONS),
    )


# --- Licenses (E1-E4) ----------------------------------------------------------------------

_LICENSE_SETTINGS: Final = license_policy.LicenseSettings()
_S = LicenseStatus
_PAYING_KINDS = (LicenseKind.PHYSICIAN, LicenseKind.LOCUM)
# The statuses a license is stored with (suspended and unlicensed are only shown).
_STORED_STATUSES = frozenset(
    {_S.PROVISIONAL, _S.REQUESTED, _S.INVOICED, _S.PAID, _S.ACTIVE, _S.EXPIRING, _S.EXPIRED}
)
_PENDING_STATUSES = frozenset({_S.REQUESTED, _S.INVOICED, _S.PAID})
# Where a request, or a switch to a free kind, starts from (E2, E4).
_STARTING_POINTS = (_S.PROVISIONAL, _S.ACTIVE, _S.EXPIRING, _S.EXPIRED)
# Names as practices type them; and any letters and marks, with spaces, hyphens, apostrophes.
_NAME_POOL = (
    "Élodie",
    "Zoë",
    "Jean-Baptiste",
    "Łukasz",
    "Søren",
    "O'Neil",
    "Nguyễn Thị",
    "Ελένη",
    "王秀英",
    "محمد",
    "Van den Broeck-Núñez",
)
_NAME_CHARACTERS = st.characters(categories=("L", "M")) | st.sampled_from(" -'")
_LICENSE_NAMES = st.one_of(
    st.sampled_from(_NAME_POOL),
    st.text(_NAME_CHARACTERS, min_size=1, max_size=100)
    .map(lambda name: unicodedata.normalize("NFC", name).strip()[:100])
    .filter(bool),
)
_PRACTICE_NAMES = _ESTABLISHMENT_NAME | _LICENSE_NAMES
_IDENTIFIERS = st.one_of(
    st.tuples(st.just("inami"), inami_numbers(short=False)),
    st.tuples(st.just("rpps"), rpps_numbers()),
)
# What LicenseService.invoice accepts: 1 to 64 letters, digits, ".", "_", "/" and "-".
_INVOICE_NUMBERS = st.one_of(
    st.builds("F-{}/{:05d}".format, st.integers(2000, 2089), st.integers(1, 99_999)),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}", fullmatch=True),
)
_CENT = Decimal("0.01")
_AMOUNTS = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2).map(
    lambda amount: amount.quantize(_CENT)
)
_CURRENCIES = st.sampled_from(("EUR", "CHF", "GBP"))
_TERM_MONTHS = st.sampled_from((12, 1, 6, 24, 36))
_STEPS = _within(timedelta(0), timedelta(days=40))
_STAGES = st.integers(0, 3)  # requested, invoiced, paid, activated
# A point within a window, in thousandths of it: shrinks to its start.
_PER_MILLE = st.integers(0, 999)
_MICROSECOND = timedelta(microseconds=1)


def _fixed_establishment(establishment_id: object) -> st.SearchStrategy[EstablishmentId]:
    if establishment_id is None:
        return _HEX.map(lambda h: EstablishmentId(f"est-{h}"))
    if not isinstance(establishment_id, str):
        raise InvalidConfiguration("establishment_id must be a text id", option="establishment_id")
    return st.just(EstablishmentId(establishment_id))


def _within_window(start: datetime, end: datetime, per_mille: int) -> datetime:
    """The instant ``per_mille`` thousandths of the way from ``start`` to ``end``."""
    return start + (end - start) * per_mille / 1000


@st.composite
def _asked(
    draw: st.DrawFn, kind: LicenseKind, requested_at: datetime, user_id: UserId
) -> LicenseRequest:
    """What a request asks, as :meth:`~practiceid.LicenseService.request` snapshots it."""
    identifier_kind, identifier = draw(_IDENTIFIERS)
    supervised = draw(st.booleans()) and draw(st.booleans())  # trainees are few
    return LicenseRequest(
        requested_at=requested_at,
        requested_by=draw(st.just(user_id) | _USER_IDS),
        kind=kind,
        months=draw(_TERM_MONTHS),
        first_name=draw(_LICENSE_NAMES),
        last_name=draw(_LICENSE_NAMES),
        identifier_kind=identifier_kind,
        identifier=identifier,
        practice=draw(_PRACTICE_NAMES),
        bill_to=draw(_USER_IDS) if supervised else user_id,
    )


def license_requests(
    *,
    kind: LicenseKind | str | None = None,
    user_id: UserId | None = None,
) -> st.SearchStrategy[LicenseRequest]:
    """License requests (E2, B4) at every stage: requested, invoiced, paid, activated.

    What was asked: Unicode names of up to 100 characters, a valid INAMI or RPPS number,
    the practice, 1 to 36 months, billed to the practitioner or now and then to a
    supervisor. Then, stage by stage: the invoice (a number
    :meth:`~practiceid.LicenseService.invoice` accepts, an amount in cents, a currency); the
    payment and its deadline (:func:`~practiceid.policies.license.activation_deadline`),
    perhaps reported late; the activation, reported late when it is. Times are aware UTC
    datetimes, in the order things happen. ``kind`` is drawn among the paying kinds unless
    given; ``user_id``, the practitioner, is made up unless given.

    Raises:
        InvalidConfiguration: an unknown or free (staff) ``kind``, or a ``user_id`` that is
            not text.
    """
    kinds = _PAYING_KINDS if kind is None else _enum_choices(LicenseKind, kind, "kind")
    if not all(k.paying for k in kinds):
        raise InvalidConfiguration("staff licenses are never requested (E3)", option="kind")
    return _license_requests(_fixed_user(user_id), kinds)


@st.composite
def _license_requests(
    draw: st.DrawFn, users: st.SearchStrategy[UserId], kinds: tuple[LicenseKind, ...]
) -> LicenseRequest:
    # Every value is drawn whatever the stage, in one order: see _onboardings.
    stage = draw(_STAGES)
    kind = draw(st.sampled_from(kinds))
    requested_at = draw(_MOMENTS)
    asked = draw(_asked(kind, requested_at, draw(users)))
    gaps = [draw(_STEPS) for _ in range(3)]
    number, amount, currency = draw(_INVOICE_NUMBERS), draw(_AMOUNTS), draw(_CURRENCIES)
    late = draw(st.booleans())
    if stage == 0:
        return asked
    invoiced_at = requested_at + gaps[0]
    invoiced = attrs.evolve(
        asked, invoice_number=number, invoiced_at=invoiced_at, amount=amount, currency=currency
    )
    if stage == 1:
        return invoiced
    paid_at = invoiced_at + gaps[1]
    due = license_policy.activation_deadline(paid_at, _LICENSE_SETTINGS)
    paid = attrs.evolve(invoiced, paid_at=paid_at, activation_due_at=due)
    if stage == 2:
        return attrs.evolve(paid, late_reported_at=due + gaps[2]) if late else paid
    if late:  # at or after the deadline: reported then, or by the sweep before
        activated_at = due + gaps[2]
        return attrs.evolve(paid, activated_at=activated_at, late_reported_at=activated_at)
    return attrs.evolve(paid, activated_at=paid_at + min(gaps[2], due - paid_at - _MICROSECOND))


def licenses(
    *,
    establishment_id: EstablishmentId | None = None,
    user_id: UserId | None = None,
    kind: LicenseKind | str | None = None,
    status: LicenseStatus | str | None = None,
) -> st.SearchStrategy[License]:
    """Licenses (E1-E4) as the lifecycle of :mod:`practiceid.policies.license` leaves them.

    Each is made by the policy's own moves (default :class:`LicenseSettings`) at drawn
    times: provisioned, then perhaps requested, invoiced, paid and activated, renewed, swept
    (notices, expiry, late activation reports) or made free, so that its fields agree:
    ``pending`` is set exactly when the status is ``requested``, ``invoiced`` or ``paid``;
    ``activation`` is the last activation; ``resume`` where a request or a free kind returns
    to; ``due_at`` is :func:`~practiceid.policies.license.next_due`. A staff license is
    active and free, from the start or after a paying kind. ``kind`` and ``status`` are drawn
    unless given (stored statuses only, never ``suspended`` or ``unlicensed``); requests are
    those of :func:`license_requests`; times are aware UTC datetimes; the ids are made up
    unless given; ``version`` is 0 to 20.

    Raises:
        InvalidConfiguration: an unknown ``kind`` or ``status``, a status never stored, a
            staff license in another status than ``active``, or an id that is not text.
    """
    establishments = _fixed_establishment(establishment_id)
    users = _fixed_user(user_id)
    kinds = _enum_choices(LicenseKind, kind, "kind")
    statuses = _enum_choices(LicenseStatus, status, "status")
    pairs = [
        (k, s)
        for s in statuses
        for k in kinds
        if s in _STORED_STATUSES and (k.paying or s is LicenseStatus.ACTIVE)
    ]
    if not pairs:
        raise InvalidConfiguration(
            f"no {kinds[0].value} license is stored {statuses[0].value}", option="status"
        )
    return _licenses(establishments, users, tuple(pairs))


@attrs.frozen
class _Draws:
    """What one license's lifecycle was drawn: its requests, invoices, delays."""

    asked: tuple[LicenseRequest, LicenseRequest]
    invoices: tuple[tuple[str, Decimal, str], tuple[str, Decimal, str]]
    steps: tuple[timedelta, ...]  # 10 delays: two cycles of 4, the sweep, the switch
    point: int  # where in a window the sweep ran, in thousandths
    swept: bool  # whether the sweep ran after the last move


class _Lifecycle:
    """A license moved by the policy's functions, and the time of its last move."""

    def __init__(self, seat: License, now: datetime, draws: _Draws) -> None:
        self.seat = seat
        self.now = now
        self.draws = draws

    def _move(self, step: license_policy.Step | None) -> None:
        if step is not None:
            self.seat = step.license

    def tick(self, at: datetime) -> None:
        self.now = max(self.now, at)
        self._move(license_policy.tick(self.seat, self.now, _LICENSE_SETTINGS))

    def cycle(self, n: int, stop: LicenseStatus = _S.ACTIVE) -> None:
        """Request with the ``n``-th drawn request, invoice, pay, activate: up to ``stop``."""
        settings, steps = _LICENSE_SETTINGS, self.draws.steps[4 * n : 4 * n + 4]
        self.now += steps[0]
        asked = attrs.evolve(self.draws.asked[n], requested_at=self.now, kind=self.seat.kind)
        self._move(license_policy.request(self.seat, self.now, settings, asked=asked))
        if stop is _S.REQUESTED:
            return
        self.now += steps[1]
        number, amount, currency = self.draws.invoices[n]
        self._move(
            license_policy.invoice(
                self.seat, self.now, settings, number=number, amount=amount, currency=currency
            )
        )
        if stop is _S.INVOICED:
            return
        self.now += steps[2]
        self._move(license_policy.record_payment(self.seat, self.now, settings, paid_at=self.now))
        if stop is _S.PAID:
            return
        self.now += steps[3]
        self._move(license_policy.activate(self.seat, self.now, settings))

    def reach(self, status: LicenseStatus, *, renewed: bool) -> None:
        """Move a new provisional license to ``status``: provisional, active, expiring, expired.

        Active and expiring licenses were activated (twice when ``renewed``); an expired one
        was, when ``renewed``, or else its 45 days ended.
        """
        draws = self.draws
        if status in {_S.ACTIVE, _S.EXPIRING} or (renewed and status is _S.EXPIRED):
            self.cycle(0)
            if renewed and status is not _S.EXPIRED:
                self.cycle(1)
        until = self.seat.valid_until
        assert until is not None  # noqa: S101 - a paying license has a window
        if status is _S.EXPIRED:
            self.tick(until + draws.steps[8])
        elif status is _S.EXPIRING:
            first = license_policy.notice_times(self.seat, _LICENSE_SETTINGS)[0]
            self.tick(_within_window(first, until, draws.point))
        elif status is _S.PROVISIONAL and draws.swept:  # perhaps a notice of the 45 days
            self.tick(_within_window(self.now, until, draws.point))

    def make_free(self, kind: LicenseKind) -> None:
        self.now += self.draws.steps[9]
        self._move(license_policy.change_kind(self.seat, self.now, _LICENSE_SETTINGS, kind=kind))

    def stop_at(self, status: LicenseStatus) -> None:
        """Request again and stop at ``status`` (requested, invoiced, paid); maybe sweep."""
        self.cycle(1, stop=status)
        if self.draws.swept:  # the window may have ended, or the activation be late
            self.tick(self.now + self.draws.steps[8])


@st.composite
def _licenses(
    draw: st.DrawFn,
    establishments: st.SearchStrategy[EstablishmentId],
    users: st.SearchStrategy[UserId],
    pairs: tuple[tuple[LicenseKind, LicenseStatus], ...],
) -> License:
    # Every value is drawn whatever the kind and status, in one order (see _onboardings): a
    # license shrinks field by field towards a new physician's provisional one.
    kind, status = draw(st.sampled_from(pairs))
    establishment_id, user_id = draw(establishments), draw(users)
    created = draw(_MOMENTS)
    paying_kind = kind if kind.paying else draw(st.sampled_from(_PAYING_KINDS))
    free_from_start = draw(st.booleans())
    renewed = draw(st.booleans())
    start = draw(st.sampled_from(_STARTING_POINTS))  # of a request, or of a free kind
    draws = _Draws(
        asked=(
            draw(_asked(paying_kind, created, user_id)),
            draw(_asked(paying_kind, created, user_id)),
        ),
        invoices=(
            (draw(_INVOICE_NUMBERS), draw(_AMOUNTS), draw(_CURRENCIES)),
            (draw(_INVOICE_NUMBERS), draw(_AMOUNTS), draw(_CURRENCIES)),
        ),
        steps=tuple(draw(_STEPS) for _ in range(10)),
        point=draw(_PER_MILLE),
        swept=draw(st.booleans()),
    )
    version = draw(_VERSIONS)

    if not kind.paying and free_from_start:
        free = license_policy.provision(
            establishment_id, user_id, kind, now=created, settings=_LICENSE_SETTINGS
        )
        return attrs.evolve(free.license, version=version)
    provisional = license_policy.provision(
        establishment_id, user_id, paying_kind, now=created, settings=_LICENSE_SETTINGS
    )
    life = _Lifecycle(provisional.license, created, draws)
    if not kind.paying:
        life.reach(start, renewed=renewed)
        life.make_free(kind)
    elif status in _PENDING_STATUSES:
        life.reach(start, renewed=renewed and start is not _S.PROVISIONAL)
        life.stop_at(status)
    else:
        life.reach(status, renewed=renewed and status is not _S.PROVISIONAL)
    assert life.seat.status is status, (life.seat, status)  # noqa: S101 - the lifecycle's
    return attrs.evolve(life.seat, version=version)


# -- shared devices and the audit trail (F1-F4) ---------------------------------------------


def pin_settings() -> st.SearchStrategy[PinSettings]:
    """Valid :class:`~practiceid.PinSettings`: every bound reached, the rules between them kept.

    >>> from hypothesis import find
    >>> find(pin_settings(), lambda s: s.length == 12).length
    12
    """
    return st.builds(
        PinSettings,
        length=st.integers(pin_policy.MIN_LENGTH, pin_policy.MAX_LENGTH),
        device_attempts=st.integers(1, 20),
        member_attempts=st.integers(1, 20),
        establishment_attempts=st.integers(1, 1000),
        establishment_window=st.integers(1, 7 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    )


def pins(length: int = 6) -> st.SearchStrategy[str]:
    """PINs of ``length`` digits as :func:`practiceid.policies.pin.generate` issues them.

    Raises:
        InvalidConfiguration: ``length`` is outside 4 to 12.
    """
    PinSettings(length=length)  # checks the length early, as the policy would
    return st.text("0123456789", min_size=length, max_size=length).filter(
        lambda pin: not pin_policy.is_weak(pin)
    )


_EVENT_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30
)
_ACTIONS = st.sampled_from(
    ("member.add", "device.unlock", "device.lock", "pin.issue", "license.activate")
)


@st.composite
def audit_events(draw: st.DrawFn, *, establishment_id: str | object | None = ...) -> AuditEvent:
    """:class:`~practiceid.AuditEvent` values of one chain, or of a few.

    ``establishment_id`` chooses the chain (``None``: the platform's); by default events fall
    in one of a few establishments' chains or the platform's.

    >>> from hypothesis import find
    >>> find(audit_events(establishment_id="cabinet"), lambda e: True).establishment_id
    'cabinet'
    """
    if establishment_id is ...:
        establishment = draw(st.sampled_from((None, "cabinet", "clinique-été")))
    else:
        establishment = establishment_id  # type: ignore[assignment]
    optional_id = st.none() | st.uuids().map(str)
    details = st.dictionaries(
        _EVENT_TEXT,
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _EVENT_TEXT,
        max_size=4,
    )
    return AuditEvent(
        action=draw(_ACTIONS),
        at=draw(
            st.datetimes(
                min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds of aware datetimes
                max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                timezones=st.just(UTC),
            )
        ),
        outcome=draw(st.sampled_from(Outcome)),
        code=draw(st.sampled_from(("", "pin.incorrect", "auth.permission_denied"))),
        establishment_id=None if establishment is None else EstablishmentId(str(establishment)),
        actor=draw(optional_id.map(lambda v: None if v is None else UserId(v))),
        account_id=draw(optional_id.map(lambda v: None if v is None else UserId(v))),
        device_session_id=draw(optional_id),
        on_behalf_of=draw(optional_id.map(lambda v: None if v is None else UserId(v))),
        target_type=draw(st.sampled_from(("", "user", "device_session", "license"))),
        target_id=draw(st.uuids().map(str)),
        peer_address=draw(st.none() | st.ip_addresses().map(str)),
        request_id=draw(_EVENT_TEXT),
        details=draw(details),
    )


# -- key pairs and second factors (D3, F5) ---------------------------------------------------


def _fits_backup(password: str) -> bool:
    return len(unicodedata.normalize("NFC", password).encode("utf-8")) <= MAX_PASSWORD_BYTES


def backup_passwords(*, max_size: int = 300) -> st.SearchStrategy[str]:
    """Passwords :func:`practiceid.write_backup` accepts: any text up to 1024 UTF-8 bytes.

    Unicode of every category but lone surrogates, long ones included (``max_size``
    code points, at most 1024 bytes after NFC).
    """
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=max_size).filter(
        _fits_backup
    )


def totp_secrets() -> st.SearchStrategy[bytes]:
    """TOTP secrets as :class:`~practiceid.FactorService` makes them: 16 to 64 random bytes."""
    return st.binary(min_size=16, max_size=64)


def recovery_codes(length: int = 16) -> st.SearchStrategy[str]:
    """Recovery codes as printed: Crockford base-32, grouped by 4 with dashes (F5).

    >>> from hypothesis import find
    >>> len(find(recovery_codes(), lambda c: True))
    19
    """
    FactorSettings(recovery_code_length=length)  # checks the length early
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return st.text(alphabet, min_size=length, max_size=length).map(
        lambda raw: "-".join(raw[i : i + 4] for i in range(0, length, 4))
    )


def factor_settings() -> st.SearchStrategy[FactorSettings]:
    """Valid :class:`~practiceid.FactorSettings`, every bound reached."""
    return st.builds(
        FactorSettings,
        totp=st.builds(
            TotpParameters,
            digits=st.sampled_from((6, 7, 8)),
            period=st.integers(15, 120),
            algorithm=st.sampled_from(list(TotpAlgorithm)),
        ),
        window=st.integers(0, 3),
        secret_bytes=st.integers(16, 64),
        recovery_codes=st.integers(1, 50),
        recovery_code_length=st.integers(12, 32),
        attempts=st.integers(1, 100),
        attempt_window=st.integers(1, 24 * 60).map(lambda m: timedelta(minutes=m)),
    )
