"""Password rules (A4): composition, length, confirmation, and strength with zxcvbn.

Defaults follow Medispring (source 001): at least 10 characters with one lowercase letter, one
uppercase letter, one digit and one symbol, and a confirmation that matches. Because
``Password123!`` satisfies that letter of the rule, the strength of every password that passes
it is then estimated by zxcvbn with the user's own data (login, names, e-mail, practice name)
and recent years as context, and refused below ``min_score`` (default 4: see
``docs/policies/password.md`` for why not 3).

Unicode, precisely (all counted on the NFC form, never bytes or UTF-16 units):

* **lowercase**: general category ``Ll`` (``é``, ``ß`` count);
* **uppercase**: ``Lu`` or ``Lt`` (``É``, ``ǅ``);
* **digit**: ``Nd``, any decimal digit (``٣`` counts);
* **symbol**: any other character that is not a letter (``L*``) or a combining mark
  (``M*``): punctuation, symbols (``€``, ``#``), spaces, other numbers (``²``). Letters
  without case (``中``) count as none of the classes but do count towards length.

Control characters and lone surrogates cannot be typed into a password field and cannot be
stored safely; they are refused with ``password.invalid_character``.

Passwords are NFC-normalized before every rule and before hashing, so ``é`` typed precomposed
or decomposed is the same password; they are never NFKC-folded, case-folded or trimmed.

Cost: cheap rules run first; a password that breaks any of them never reaches zxcvbn. zxcvbn
refuses inputs over 72 characters and its cost grows with the square of the length and
combinatorially with the distinct l33t characters (``@``, ``$``, ``1``, ``|``, …), so only a
prefix is estimated: at most ``strength_window`` code points (default 64), fewer when its
characters would cost zxcvbn more than about 25 ms. Appending characters never makes a
password easier to guess, so the estimate of a prefix is a lower bound of the whole.

>>> policy = PasswordPolicy(check_strength=False)
>>> policy.evaluate("short").codes
('password.too_short', 'password.missing_uppercase', 'password.missing_digit', 'password.missing_symbol')
>>> PasswordPolicy().evaluate("Password123!").codes
('password.too_weak',)
"""  # noqa: E501

from __future__ import annotations

import hmac
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

import attrs

from practiceid.errors import InvalidConfiguration, PasswordRejected, Violation

__all__ = ["PasswordContext", "PasswordPolicy", "PasswordReport", "StrengthEstimate"]

_FIELD = "password"
_CONFIRMATION_FIELD = "password_confirmation"
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn raises ValueError past this
_MAX_SCORE = 4
_LAST_SCORE_WITH_FEEDBACK = 2  # zxcvbn.feedback stays silent above this score
_FIRST_TRACKED_YEAR = 2000
_WORD = re.compile(r"\w+")
_MIN_WORD = 3


def _at_least(minimum: int) -> Any:  # noqa: ANN401 - an attrs validator
    def validate(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if value < minimum:
            raise InvalidConfiguration(
                f"{attribute.name} must be at least {minimum}",
                option=attribute.name,
                value=value,
            )

    return validate


@attrs.frozen
class StrengthEstimate:
    """What zxcvbn said: ``score`` 0-4, the log10 of guesses, and its feedback.

    ``uses_personal_data`` is true when part of the password matched the user's own data;
    ``judged_length`` is how many leading code points zxcvbn saw.
    """

    score: int
    guesses_log10: float
    warning: str
    suggestions: tuple[str, ...]
    uses_personal_data: bool = False
    judged_length: int = 0


@attrs.frozen
class PasswordContext:
    """What an attacker knows about the account, given to zxcvbn as its own dictionary.

    Use :meth:`for_user` to build it from a form's fields; ``current_year`` adds the years
    from 2000 to next year, which zxcvbn's own date patterns (frozen in 2017) under-rate.
    """

    user_inputs: tuple[str, ...] = ()
    current_year: int | None = None

    @classmethod
    def for_user(
        cls,
        *,
        login: str = "",
        email: str = "",
        first_name: str = "",
        last_name: str = "",
        practice_name: str = "",
        extra: Iterable[str] = (),
        current_year: int | None = None,
    ) -> PasswordContext:
        """Split the user's data into the words zxcvbn should treat as known."""
        # Typed as text, but checked: hosts pass form fields straight through.
        pieces: list[object] = [login, email, first_name, last_name, practice_name, *extra]
        words: list[str] = []
        for piece in pieces:
            if not isinstance(piece, str) or not piece:
                continue
            lowered = piece.casefold()
            for word in [lowered, *_WORD.findall(lowered)]:
                # Two-letter pieces ("dr", "be") match inside every password: noise.
                if len(word) >= _MIN_WORD and word not in words:
                    words.append(word)
        return cls(tuple(words), current_year)

    def dictionary(self) -> list[str]:
        """The words handed to zxcvbn: the user's data first, then years, newest first."""
        words = list(self.user_inputs)
        if self.current_year is not None:
            words.extend(str(y) for y in range(self.current_year + 1, _FIRST_TRACKED_YEAR - 1, -1))
        return words


@attrs.frozen
class PasswordReport:
    """Every rule a password breaks, and the strength estimate if one was made."""

    violations: tuple[Violation, ...]
    strength: StrengthEstimate | None = None

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the violations."""
        return tuple(v.code for v in self.violations)


# zxcvbn keeps the user's dictionary in a module global while it runs
# (matching.RANKED_DICTIONARIES['user_inputs']): two threads checking at once would each see
# the other's user data. Every call goes through this lock.
_ZXCVBN_LOCK = threading.Lock()


# zxcvbn's cost, measured on zxcvbn 4.5.0 (benchmarks/): about 6 µs x n² for n characters,
# plus 1.2 µs x n² for each l33t substitution table it tries; the number of tables grows
# combinatorially with the distinct l33t characters present ("4@8({[<3691!|70$5+%2"
# alone makes 736 of them and 3 s of work for 64 characters). A check may spend about this:
_STRENGTH_BUDGET_US = 25_000.0
_US_PER_CHAR2 = 6.0
_US_PER_CHAR2_PER_SUB = 1.2
_MAX_L33T_CHARACTERS = 10  # more make counting the tables itself slow


def affordable_prefix(password: str, window: int) -> str:
    """Return the longest prefix of ``password`` that zxcvbn can judge within its budget.

    The prefix has at most ``window`` code points. A prefix never looks stronger than the
    whole password, so judging a shorter one errs on the side of refusing.
    """
    from zxcvbn import matching  # noqa: PLC0415 - its dictionaries take a while to load

    table = matching.L33T_TABLE
    l33t = {c for chars in table.values() for c in chars}
    text = password[:window]
    seen: set[str] = set()
    for index, char in enumerate(text):
        if char in l33t and char not in seen:
            if len(seen) == _MAX_L33T_CHARACTERS:
                text = text[:index]
                break
            seen.add(char)
    subtable = matching.relevant_l33t_subtable(text, table)
    # An empty substitution means no l33t matching at all.
    tables = sum(1 for sub in matching.enumerate_l33t_subs(subtable) if sub)
    cost_per_char2 = _US_PER_CHAR2 + _US_PER_CHAR2_PER_SUB * tables
    return text[: math.isqrt(int(_STRENGTH_BUDGET_US / cost_per_char2))]


def estimate_strength(password: str, context: PasswordContext | None = None) -> StrengthEstimate:
    """Run zxcvbn on the :func:`affordable_prefix` of ``password``. Thread-safe.

    zxcvbn gives feedback only for scores 0-2; for a higher score the feedback on its
    longest match is computed anyway, so that a policy demanding 4 can say why it refused.
    A match against the user's own data adds a warning zxcvbn does not give.
    """
    from zxcvbn import feedback, zxcvbn  # noqa: PLC0415 - its dictionaries take a while to load

    context = context or PasswordContext()
    judged = affordable_prefix(password, _ZXCVBN_MAX_LENGTH)
    with _ZXCVBN_LOCK:
        result = zxcvbn(judged, context.dictionary())
    sequence = result["sequence"]
    score = int(result["score"])
    advice = result["feedback"]
    if score < _MAX_SCORE and not advice["warning"] and not advice["suggestions"]:
        advice = feedback.get_feedback(_LAST_SCORE_WITH_FEEDBACK, sequence)
    own_words = set(context.user_inputs)
    personal = any(
        m.get("dictionary_name") == "user_inputs" and m.get("matched_word") in own_words
        for m in sequence
    )
    warning = str(advice.get("warning") or "")
    if personal and not warning:
        warning = "Your name, login, e-mail or practice name is easy to guess."
    return StrengthEstimate(
        score=score,
        guesses_log10=float(result["guesses_log10"]),
        warning=warning,
        suggestions=tuple(str(s) for s in advice.get("suggestions", ())),
        uses_personal_data=personal,
        judged_length=len(judged),
    )


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@attrs.frozen
class PasswordPolicy:
    """The password rules of one product. Frozen: build it once and pass it in.

    The defaults are A4's. :meth:`passphrase` gives the NIST SP 800-63B rev. 4 flavour:
    length and strength, no composition classes.

    Args:
        min_length: fewest code points (NFC).
        max_length: most code points; longer input is refused, never truncated.
        max_bytes: most UTF-8 bytes, so that storage and hashing stay bounded.
        require_lowercase, require_uppercase, require_digit, require_symbol: class rules.
        check_strength: estimate strength with zxcvbn after the cheap rules pass.
        min_score: lowest zxcvbn score accepted (0-4). The default, 4, means at least 10^10
            guesses: zxcvbn gives any password of three guessable parts at least 10^8 guesses
            (score 3), so ``Dupont2024!!`` for Dr Dupont passes a bar of 3.
        strength_window: how many leading code points zxcvbn sees (at most 72).
    """

    min_length: int = attrs.field(default=10, validator=_at_least(1))
    max_length: int = attrs.field(default=256, validator=_at_least(1))
    max_bytes: int = attrs.field(default=1024, validator=_at_least(4))
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_digit: bool = True
    require_symbol: bool = True
    check_strength: bool = True
    min_score: int = attrs.field(default=4, validator=_at_least(0))
    strength_window: int = attrs.field(default=64, validator=_at_least(8))

    def __attrs_post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise InvalidConfiguration(
                "min_length must not exceed max_length", option="min_length", value=self.min_length
            )
        if self.min_score > _MAX_SCORE:
            raise InvalidConfiguration(
                "min_score must be between 0 and 4", option="min_score", value=self.min_score
            )
        if self.strength_window > _ZXCVBN_MAX_LENGTH:
            raise InvalidConfiguration(
                "zxcvbn refuses more than 72 characters",
                option="strength_window",
                value=self.strength_window,
            )

    @classmethod
    def passphrase(cls, *, min_length: int = 15, min_score: int = 4) -> PasswordPolicy:
        """Length and strength only, no class rules (NIST SP 800-63B rev. 4, 3.1.1.2)."""
        return cls(
            min_length=min_length,
            require_lowercase=False,
            require_uppercase=False,
            require_digit=False,
            require_symbol=False,
            min_score=min_score,
        )

    @staticmethod
    def normalize(password: str) -> str:
        """Return ``password`` NFC-normalized: the form every rule and every hash sees."""
        return unicodedata.normalize("NFC", password)

    def evaluate(
        self,
        password: object,
        *,
        confirmation: object = None,
        context: PasswordContext | None = None,
    ) -> PasswordReport:
        """Check ``password`` against every rule and report all that it breaks. Never raises.

        ``confirmation`` is checked when given (pass what the user typed twice).
        """
        if not isinstance(password, str):
            return PasswordReport(
                (
                    Violation(
                        "password.not_text",
                        "the password must be text",
                        _FIELD,
                        {"type": type(password).__name__},
                    ),
                )
            )
        normalized = self.normalize(password)
        violations = self._cheap_violations(normalized)
        if confirmation is not None and not _same_secret(normalized, confirmation):
            violations.append(
                Violation(
                    "password.confirmation_mismatch",
                    "the confirmation does not match the password",
                    _CONFIRMATION_FIELD,
                )
            )
        if violations or not self.check_strength:
            return PasswordReport(tuple(violations))
        estimate = estimate_strength(normalized[: self.strength_window], context)
        if estimate.score < self.min_score:
            message = estimate.warning or "this password is too easy to guess"
            violations.append(
                Violation(
                    "password.too_weak",
                    message,
                    _FIELD,
                    {
                        "score": estimate.score,
                        "min_score": self.min_score,
                        "warning": estimate.warning,
                        "suggestions": estimate.suggestions,
                        "uses_personal_data": estimate.uses_personal_data,
                    },
                )
            )
        return PasswordReport(tuple(violations), estimate)

    def validate(
        self,
        password: object,
        *,
        confirmation: object = None,
        context: PasswordContext | None = None,
    ) -> None:
        """Return if ``password`` is acceptable; otherwise raise :class:`PasswordRejected`."""
        report = self.evaluate(password, confirmation=confirmation, context=context)
        if not report.ok:
            raise PasswordRejected(report.violations)

    def _cheap_violations(self, password: str) -> list[Violation]:
        if len(password) > self.max_length or _utf8_length(password) > self.max_bytes:
            # Refused outright and never truncated; the other rules are judged on the
            # shortened password the user types next.
            return [
                Violation(
                    "password.too_long",
                    f"the password must have at most {self.max_length} characters",
                    _FIELD,
                    {"max_length": self.max_length, "max_bytes": self.max_bytes},
                )
            ]
        violations: list[Violation] = []
        present, invalid_categories = _classify(password)
        if invalid_categories:
            violations.append(
                Violation(
                    "password.invalid_character",
                    "the password contains control characters or unpaired surrogates",
                    _FIELD,
                    {"categories": tuple(sorted(invalid_categories))},
                )
            )
        if len(password) < self.min_length:
            violations.append(
                Violation(
                    "password.too_short",
                    f"the password must have at least {self.min_length} characters",
                    _FIELD,
                    {"min_length": self.min_length},
                )
            )
        for required, name in (
            (self.require_lowercase, "lowercase"),
            (self.require_uppercase, "uppercase"),
            (self.require_digit, "digit"),
            (self.require_symbol, "symbol"),
        ):
            if required and name not in present:
                violations.append(
                    Violation(
                        f"password.missing_{name}",
                        f"the password needs at least one {name} character",
                        _FIELD,
                    )
                )
        return violations


_CLASS_OF_CATEGORY = {"Ll": "lowercase", "Lu": "uppercase", "Lt": "uppercase", "Nd": "digit"}
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


def _classify(password: str) -> tuple[set[str], set[str]]:
    """Return the character classes present and the refused categories met."""
    present: set[str] = set()
    refused: set[str] = set()
    for char in password:
        category = unicodedata.category(char)
        if category in _CLASS_OF_CATEGORY:
            present.add(_CLASS_OF_CATEGORY[category])
        elif category in _REFUSED_CATEGORIES:
            refused.add(category)
        elif category[0] not in {"L", "M"}:
            present.add("symbol")
    return present, refused


def _same_secret(normalized: str, confirmation: object) -> bool:
    if not isinstance(confirmation, str):
        return False
    return hmac.compare_digest(
        normalized.encode("utf-8", "surrogatepass"),
        PasswordPolicy.normalize(confirmation).encode("utf-8", "surrogatepass"),
    )
