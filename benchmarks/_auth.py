"""Section 6: logging in with the default Argon2id parameters.

An unknown login must cost what a wrong password costs (the answer and its timing must not
tell which logins exist). Django's default hasher, PBKDF2-SHA256 at 1 000 000 iterations, is
the yardstick for the cost of one verification.
"""

from __future__ import annotations

import contextlib

import practiceid
from benchmarks import _report, _timing
from practiceid.adapters import InMemoryStore, StaticAuthorizer, SystemClock

PASSWORD = "Vrai-Cheval-Agrafe-42"


def _service() -> practiceid.AccountService:
    accounts = practiceid.AccountService(
        unit_of_work=InMemoryStore().unit_of_work,
        hasher=practiceid.Argon2idHasher(),
        clock=SystemClock(),
        authorizer=StaticAuthorizer(),
    )
    accounts.register(
        login="dr.dupont",
        email="jeanne.dupont@cabinet-tilleuls.be",
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name="Jeanne",
        last_name="Dupont",
    )
    return accounts


def bench_authentication(overhead_ns: int) -> dict[str, float]:
    """Time right password, wrong password, unknown login; Argon2id hash vs Django PBKDF2."""
    _report.heading("6. Logging in (default Argon2id: 64 MiB, t=3, p=4)")
    accounts = _service()
    django = practiceid.DjangoPbkdf2Hasher()  # Django 5.2's default: 1 000 000 iterations
    django_hash = django.hash(PASSWORD)

    def attempt(login: str, password: str) -> None:
        with contextlib.suppress(practiceid.AuthenticationFailed):
            accounts.authenticate(login, password)

    cases = [
        _timing.Case("right password", lambda p: attempt("dr.dupont", p), [PASSWORD], 3),
        _timing.Case("wrong password", lambda p: attempt("dr.dupont", p + "x"), [PASSWORD], 3),
        _timing.Case("unknown login", lambda p: attempt("dr.inconnu", p), [PASSWORD], 3),
        _timing.Case("Argon2id hash", accounts.hasher.hash, [PASSWORD], 3),
        _timing.Case(
            "Django PBKDF2 verify", lambda p: django.verify(django_hash, p), [PASSWORD], 3
        ),
    ]
    results = _timing.run(cases, rounds=3, overhead_ns=overhead_ns)
    wrong = results["wrong password"].median_us
    django_us = results["Django PBKDF2 verify"].median_us
    _report.table(
        ["case", "calls", "median us", "p95 us", "/ wrong password", "/ Django PBKDF2"],
        [
            [
                r.name,
                f"{r.calls:,}",
                _report.us(r.median_us),
                _report.us(r.p95_us),
                _report.ratio(r.median_us, wrong),
                _report.ratio(r.median_us, django_us),
            ]
            for r in results.values()
        ],
    )
    _report.note("unknown login / wrong password near 1.00x: timing does not reveal accounts.")
    return {
        "unknown login / wrong password": results["unknown login"].median_us / wrong,
        "Argon2id verify / Django PBKDF2 verify": wrong / django_us,
    }
