"""Logins: what a login may contain, and when two logins are the same (A1, A2).

A login is compared by its *key*: Unicode NFKC, case fold, trimmed. ``ｆｏｏ``, ``FOO`` and
``foo`` are one login. The *display* form is kept as the user typed it (trimmed and
NFC-composed), so ``Dr.Dupont`` is shown as typed but ``dr.dupont`` is refused as a duplicate.

Allowed characters (checked on the NFKC form):

* letters of the allowed scripts (default: Latin only, accents included: ``secrétaire``);
* combining marks that follow a letter;
* ASCII digits ``0-9`` (full-width digits fold to them; other digit systems are refused);
* the symbols ``. _ - @ + '``, so that an e-mail address or ``jean-pierre.o'neil`` is a
  valid login, as Medispring advises (source 001).

Mixed-script look-alikes: a login whose letters come from more than one script (a Cyrillic
``а`` inside a Latin login) is refused with ``login.mixed_scripts``, and by default only Latin
letters are allowed at all (``login.script_not_allowed``). Hosts that enable other scripts
still never get a mixed-script login; a login written wholly in another script that looks
like a Latin one (all-Cyrillic ``аdmin`` vs ``admin``) would need Unicode's confusables
table (UTS #39), which we do not ship: see ``docs/policies/login.md``.

>>> policy = LoginPolicy()
>>> policy.parse("  Dr.Dupont ").display
'Dr.Dupont'
>>> policy.parse("ＤＲ.ＤＵＰＯＮＴ") == policy.parse("dr.dupont")
True
>>> policy.check("dupоnt")[0].code  # the 'о' is Cyrillic
'login.mixed_scripts'
"""

from __future__ import annotations

import unicodedata

import attrs

from practiceid._text import describe, fold, script_of
from practiceid.errors import InvalidConfiguration, LoginRejected, Violation

__all__ = ["Login", "LoginPolicy"]

_FIELD = "login"
_MAX_REPORTED_CHARACTERS = 5
_ASCII_DIGITS = frozenset("0123456789")


def _display(raw: str) -> str:
    return unicodedata.normalize("NFC", raw.strip())


@attrs.frozen
class Login:
    """A login as typed (``display``) and its comparison ``key``.

    Two logins are equal when their keys are: ``Login("FOO") == Login("foo")``. Build logins
    from user input with :meth:`LoginPolicy.parse`; this constructor trusts its input (it is
    how stored logins come back from a repository).
    """

    display: str = attrs.field(eq=False)
    key: str = attrs.field(init=False, repr=False)

    @key.default
    def _key(self) -> str:
        return fold(self.display.strip())

    def __str__(self) -> str:
        return self.display


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise InvalidConfiguration(
            f"{attribute.name} must be at least 1", option=attribute.name, value=value
        )


@attrs.frozen
class LoginPolicy:
    """Rules for logins. Frozen: build one per product and pass it in.

    Args:
        min_length: fewest characters, counted in code points of the NFKC form.
        max_length: most characters; 254 leaves room for an e-mail address used as login.
        allowed_scripts: scripts whose letters may appear (Unicode names: ``LATIN``,
            ``GREEK``, ``CYRILLIC``, …). A login never mixes two of them.
        allowed_symbols: non-letter, non-digit characters allowed.
    """

    min_length: int = attrs.field(default=3, validator=_positive)
    max_length: int = attrs.field(default=254, validator=_positive)
    allowed_scripts: frozenset[str] = attrs.field(default=frozenset({"LATIN"}), converter=frozenset)
    allowed_symbols: frozenset[str] = attrs.field(default=frozenset("._-@+'"), converter=frozenset)

    def __attrs_post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise InvalidConfiguration(
                "min_length must not exceed max_length",
                option="min_length",
                value=self.min_length,
            )

    def check(self, raw: object) -> tuple[Violation, ...]:
        """Return every rule the login breaks (empty when it is acceptable). Never raises."""
        if not isinstance(raw, str):
            return (
                Violation(
                    "login.not_text",
                    "the login must be text",
                    _FIELD,
                    {"type": type(raw).__name__},
                ),
            )
        text = unicodedata.normalize("NFKC", raw.strip())
        violations: list[Violation] = []
        if len(text) < self.min_length:
            violations.append(
                Violation(
                    "login.too_short",
                    f"the login must have at least {self.min_length} characters",
                    _FIELD,
                    {"min_length": self.min_length, "length": len(text)},
                )
            )
        if len(text) > self.max_length:
            violations.append(
                Violation(
                    "login.too_long",
                    f"the login must have at most {self.max_length} characters",
                    _FIELD,
                    {"max_length": self.max_length, "length": len(text)},
                )
            )
            # Report on a bounded prefix: the rest cannot make the login acceptable.
            text = text[: self.max_length + 1]
        violations.extend(self._character_violations(text))
        return tuple(violations)

    def _character_violations(self, text: str) -> list[Violation]:
        invalid: list[str] = []
        scripts: set[str] = set()
        previous_is_letter = False
        for char in text:
            category = unicodedata.category(char)
            if category.startswith("L"):
                script = script_of(char)
                if script is None:
                    _add_once(invalid, char)
                else:
                    scripts.add(script)
                previous_is_letter = script is not None
                continue
            if category.startswith("M") and previous_is_letter:
                continue
            previous_is_letter = False
            if char in _ASCII_DIGITS or char in self.allowed_symbols:
                continue
            _add_once(invalid, char)
        violations: list[Violation] = []
        if invalid:
            shown = invalid[:_MAX_REPORTED_CHARACTERS]
            violations.append(
                Violation(
                    "login.invalid_character",
                    "the login contains characters that are not allowed: "
                    + ", ".join(describe(c) for c in shown),
                    _FIELD,
                    {"characters": tuple(describe(c) for c in shown)},
                )
            )
        if len(scripts) > 1:
            violations.append(
                Violation(
                    "login.mixed_scripts",
                    "the login mixes letters of several scripts: " + ", ".join(sorted(scripts)),
                    _FIELD,
                    {"scripts": tuple(sorted(scripts))},
                )
            )
        refused = scripts - self.allowed_scripts
        if refused:
            violations.append(
                Violation(
                    "login.script_not_allowed",
                    "the login uses letters of a script that is not allowed: "
                    + ", ".join(sorted(refused)),
                    _FIELD,
                    {
                        "scripts": tuple(sorted(refused)),
                        "allowed": tuple(sorted(self.allowed_scripts)),
                    },
                )
            )
        return violations

    def parse(self, raw: object) -> Login:
        """Return the :class:`Login` for ``raw``, or raise :class:`LoginRejected`."""
        violations = self.check(raw)
        if violations:
            raise LoginRejected(violations)
        assert isinstance(raw, str)  # noqa: S101 - check() refused anything else
        return Login(_display(raw))


def _add_once(chars: list[str], char: str) -> None:
    if char not in chars and len(chars) <= _MAX_REPORTED_CHARACTERS:
        chars.append(char)
