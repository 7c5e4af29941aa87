"""The passwords and the user every benchmark shares, so that ratios compare like with like."""

from __future__ import annotations

from typing import Final

import practiceid

LOGIN: Final = "dr.dupont"
EMAIL: Final = "jeanne.dupont@cabinet-tilleuls.be"
FIRST_NAME: Final = "Jeanne"
LAST_NAME: Final = "Dupont"
PRACTICE_NAME: Final = "Cabinet médical des Tilleuls"
CURRENT_YEAR: Final = 2026

CONTEXT: Final = practiceid.PasswordContext.for_user(
    login=LOGIN,
    email=EMAIL,
    first_name=FIRST_NAME,
    last_name=LAST_NAME,
    practice_name=PRACTICE_NAME,
    current_year=CURRENT_YEAR,
)

# Each breaks at least one cheap composition rule, so practiceid must never call zxcvbn.
FAILING: Final[tuple[str, ...]] = (
    "motdepasse",
    "short",
    "alllowercase123",
    "NOLOWER123!!",
)

# Each passes the composition rules, so practiceid goes on to zxcvbn. The two random-looking
# ones were drawn once from printable ASCII (without quotes and backslash) and frozen here:
# zxcvbn's cost depends on which characters they contain, so they must not change between runs.
PASSING: Final[tuple[str, ...]] = (
    "Password123!",
    "Dupont2024!!",
    "Vrai-Cheval-Agrafe-42",
    "Bruxelles#Soleil7",
    "Kx7#mPq2vL9z",
    "pO$%[nC;>,1.+!:4Ea=koKm5b{!`OAYGSTW%@jRl",
    ",)LK6s[~.Nd~VU72lZ/+#o2$;!Y(H1-9%&d.Cqg~&_n>28s9Dp?}6`8*G,Z_N+[$",
    "Soleil2026!" * 5,
)

HUGE_LENGTH: Final = 100_000

# Longer than max_length: refused before any per-character work, but only after NFC, so the
# second one (every "e" followed by a combining acute accent) makes normalization do real work.
HUGE: Final[dict[str, str]] = {
    "100 000 ASCII": (PASSING[-2] * (HUGE_LENGTH // len(PASSING[-2]) + 1))[:HUGE_LENGTH],
    "100 000 cp, e+U+0301": "e\u0301" * (HUGE_LENGTH // 2),
}

ADVERSARIAL_LENGTH: Final = 256  # PasswordPolicy().max_length: the longest password accepted


def _fill(unit: str) -> str:
    """Repeat ``unit`` up to exactly ``ADVERSARIAL_LENGTH`` code points."""
    return (unit * (ADVERSARIAL_LENGTH // len(unit) + 1))[:ADVERSARIAL_LENGTH]


# Candidates for the slowest password practiceid accepts to estimate: all of them pass the
# composition rules and are exactly max_length long, so each one does reach zxcvbn.
ADVERSARIAL: Final[dict[str, str]] = {
    "repetition Aa1!": _fill("Aa1!"),
    "keyboard walk": _fill("qwertyuiop[]asdfghjkl;zxcvbnm,./QWERTY1!"),
    "l33t P@$$w0rd": _fill("P@$$w0rd"),
    "dates": _fill("Le 19/04/2026, "),
    "sequences": _fill("abcdefghijklmnopqrstuvwxyzABCDEF0123456789!"),
    "random printable": _fill(PASSING[-2]),
    # Every character zxcvbn's l33t table knows: it tries each consistent substitution table,
    # and the number of tables grows with the number of distinct l33t characters present.
    "every l33t substitute": _fill("Aa4@8({[<3691!|70$5+%2"),
}


def describe(password: str, width: int = 24) -> str:
    """A short printable label for ``password``: its start and its length."""
    shown = password if len(password) <= width else password[: width - 3] + "..."
    return f"{shown!r} ({len(password)})"
