"""Hypothesis strategies for practiceid's types. Importing this module imports Hypothesis.

Strategies are functions returning strategies; their arguments are checked when called.
Every value is made up: no generated login, address or name belongs to anyone.

* :func:`logins`, :func:`login_variants`: valid logins, and other spellings of one login
  (case, full-width forms, surrounding spaces) that must collide with it (A2).
* :func:`emails`, :func:`email_variants`: valid addresses, and other-case spellings.
* :func:`passwords`: passwords that satisfy a policy's cheap rules (composition, length);
  :func:`strong_passwords`: passwords the full policy accepts.
* :func:`users`: :class:`~practiceid.User` values.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime

from hypothesis import assume
from hypothesis import strategies as st

from practiceid.errors import InvalidConfiguration
from practiceid.policies.email import EmailAddress, EmailPolicy
from practiceid.policies.login import Login, LoginPolicy
from practiceid.policies.password import PasswordPolicy
from practiceid.users import User, UserId, UserStatus

__all__ = [
    "email_variants",
    "emails",
    "login_variants",
    "logins",
    "passwords",
    "strong_passwords",
    "users",
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
