"""Run every benchmark once and print the tables: ``python -m benchmarks`` (``make bench``).

All measurements run in one process on the same inputs, so that their ratios mean something:

1. ``PasswordPolicy().evaluate`` on passwords that fail the cheap composition rules;
2. the same on passwords that pass them and go on to zxcvbn (the full check);
3. zxcvbn alone on those passwords, with the same user dictionary;
4. Django's ``validate_password`` with the nearest equivalent validators, on both sets;
5. the worst cases of the zxcvbn guard: 100 000-character passwords, and the slowest of a
   few adversarial 256-character passwords;
6. logging in with the default Argon2id parameters, against Django's PBKDF2 (``_auth``);
7. validating one million identifiers (RPPS, ADELI, FINESS, INAMI, BCE) in mixed written
   forms, against python-stdnum's ``luhn``, ``fr.siren`` and ``be.vat`` (``_identifiers``);
8. deciding whether a warm ``Access`` allows a permission (``allows``, ``decide``, with and
   without a target) for 2 000 users in 50 establishments, against pycasbin's RBAC with
   domains loaded with the same policy (``_access``);
9. profiles (``_profiles``): checking an uploaded logo (``check_logo``) against Pillow's lazy
   ``Image.open`` and its ``verify``, on valid and refused files; ``initials.nearest_free``
   with 0, 50 and 500 initials taken (no yardstick); ``ProfileService.save_practitioner`` end
   to end on the in-memory store, with the phone check's share of it;
10. the SQL adapter (``_sql``, in a process of its own): registering 10 000 users through
    ``AccountService`` on a SQLite file and on PostgreSQL against Django's ``create_user``,
    and finding a user by login and by e-mail among 10 000 to 1 000 000 users, with the
    query plans, against Django's ``get(username=...)``. PostgreSQL is skipped, with the
    reason, unless ``PRACTICEID_BENCH_POSTGRES_URL`` or ``PRACTICEID_TEST_POSTGRES_URL`` is
    set; ``PRACTICEID_BENCH_SQL_SIZES`` and ``PRACTICEID_BENCH_SQL_REGISTRATIONS`` make a
    quick run (see ``benchmarks/_sql.py``);
11. onboarding (``_onboarding``, in a process of its own): the sweep
    (``OnboardingService.run_due``) over 1 000 000 invitations of which 1 % are due, and a
    sweep with nothing due as the table grows from 10 000 to 1 000 000, against the same
    claim done as a full scan, with the query plans; the dispatcher delivering the sweep's
    10 000 messages; and opening valid, unknown, used, expired and revoked invitation links
    against Django's ``PasswordResetTokenGenerator.check_token``, on a SQLite file and on
    PostgreSQL (skipped as in 10). ``PRACTICEID_BENCH_ONBOARDING_SIZES``,
    ``PRACTICEID_BENCH_ONBOARDING_DUE`` and ``PRACTICEID_BENCH_ONBOARDING_LINKS`` make a quick
    run (see ``benchmarks/_onboarding.py``);
12. licenses (``_licenses``, in a process of its own): the sweep (``LicenseService.run_due``)
    over 1 000 000 licenses of which 1 % are due (notices, expiries, late activations), and a
    sweep with nothing due as the table grows from 10 000 to 1 000 000, against the same
    claim done as a full scan, with the query plans; ``decide`` on the license-aware
    ``Access`` of ``access_for`` (allowed, and refused with ``license_required``) against the
    unrestricted ``Access`` and against pycasbin with a license attribute in its matcher; and
    ``access_for`` against ``AccessService.access``, on a SQLite file and on PostgreSQL
    (skipped as in 10). ``PRACTICEID_BENCH_LICENSE_SIZES`` and ``PRACTICEID_BENCH_LICENSE_DUE``
    make a quick run (see ``benchmarks/_licenses.py``);
13. shared devices (``_devices``, in a process of its own), in memory, on a SQLite file and on
    PostgreSQL (skipped as in 10): ``DeviceService.unlock`` + ``lock`` with a right PIN, and
    ``unlock`` with a wrong one, in clinics of 10 to 5 000 members, against PINs stored as
    argon2-cffi Argon2id hashes (its defaults, and time_cost=1 with 8 MiB) verified one by one
    until one matches; what the audit trail costs ``AccessService.set_roles`` (against a no-op
    audit log), with the statements it sends, and 8 threads appending to one establishment's
    chain against 8 chains (PostgreSQL); and ``verify_chain`` and ``AuditService.verify`` over
    100 000 records (plain SHA-256 and HMAC) against ``hashlib.sha256`` alone on the same bytes.
    ``PRACTICEID_BENCH_DEVICE_MEMBERS``, ``PRACTICEID_BENCH_DEVICE_RECORDS``,
    ``PRACTICEID_BENCH_DEVICE_CALLS`` and ``PRACTICEID_BENCH_DEVICE_COMMANDS`` make a quick run
    (see ``benchmarks/_devices.py``);
14. key pairs and second factors (``_keys``, in a process of its own): ``generate_key_pair``
    (X25519 and its encrypted PKCS#8 backup) against an RSA-3072 key made and encrypted the
    same way with cryptography, and each key generation alone; ``read_backup`` against
    cryptography's ``load_pem_private_key`` on the same file (right password, wrong one,
    damaged file); ``match_totp`` against pyotp's ``TOTP.verify(code, valid_window=1)`` and
    ``verify_and_get_timecode``, and ``FactorService.verify`` in memory, on a SQLite file and on
    PostgreSQL (skipped as in 10); a recovery code checked against 10 SHA-256 digests against
    the same set stored as argon2-cffi Argon2id hashes (its defaults).
    ``PRACTICEID_BENCH_KEYS_CALLS``, ``PRACTICEID_BENCH_KEYS_VERIFIES``,
    ``PRACTICEID_BENCH_KEYS_RSA`` and ``PRACTICEID_BENCH_KEYS_SCANS`` make a quick run (see
    ``benchmarks/_keys.py``).
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import practiceid
from benchmarks import (
    _access,
    _auth,
    _devices,
    _django,
    _identifiers,
    _inputs,
    _keys,
    _licenses,
    _onboarding,
    _profiles,
    _report,
    _sql,
    _timing,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ROUNDS: Final = 5
FAILING_PASSES: Final = 1_000  # x 4 inputs per round
PASSING_PASSES: Final = 2  # x 8 inputs per round; the 64-character one dominates
DJANGO_PASSING_PASSES: Final = 200
HUGE_PASSES: Final = 20

ZXCVBN_ALONE: Final = "zxcvbn alone"
FULL_CHECK: Final = "practiceid full check"
FAILING_CHECK: Final = "practiceid failing check"
DJANGO_FAILING: Final = "Django, failing inputs"
DJANGO_PASSING: Final = "Django, passing inputs"
WORST: Final = "practiceid, slowest 256-char"
WORST_PREFIX: Final = "zxcvbn alone, its first 64"


@dataclass(frozen=True)
class Tools:
    """The callables under test, each taking one password."""

    policy: practiceid.PasswordPolicy
    evaluate: Callable[[str], practiceid.PasswordReport]
    zxcvbn_alone: Callable[[str], object]
    django: Callable[[str], tuple[str, ...]]


@dataclass(frozen=True)
class Passing:
    """What section 2-4 hands on to the summary."""

    full_check_us: float
    vs_zxcvbn: float
    vs_zxcvbn_geomean: float
    vs_django: float


@dataclass(frozen=True)
class Worst:
    """What section 5 hands on to the summary."""

    name: str
    evaluate_us: float
    vs_prefix: float
    huge_us: dict[str, float]


def build_tools() -> Tools:
    """Import and warm up zxcvbn, configure Django, and wrap the three checks alike."""
    from zxcvbn import zxcvbn  # noqa: PLC0415 - its dictionaries take a while to load

    zxcvbn("warm-up", [])
    _django.setup()
    policy = practiceid.PasswordPolicy()
    context = _inputs.CONTEXT
    user_inputs = context.dictionary()

    def evaluate(password: str) -> practiceid.PasswordReport:
        return policy.evaluate(password, confirmation=password, context=context)

    def zxcvbn_alone(password: str) -> object:
        return zxcvbn(password, user_inputs)

    return Tools(policy, evaluate, zxcvbn_alone, _django.validator())


def check_inputs(tools: Tools) -> None:
    """Refuse to benchmark inputs that would not exercise the path they are meant for."""
    cheap = practiceid.PasswordPolicy(check_strength=False)
    problems = [
        f"{pw!r} was meant to fail the composition rules without zxcvbn"
        for pw in _inputs.FAILING
        if (report := tools.evaluate(pw)).ok or report.strength is not None
    ]
    problems += [
        f"{_inputs.describe(pw)} was meant to pass the composition rules and reach zxcvbn"
        for pw in (*_inputs.PASSING, *_inputs.ADVERSARIAL.values())
        if not cheap.evaluate(pw).ok
    ]
    problems += [
        f"{_inputs.describe(pw)} was meant to be refused as too long, without zxcvbn"
        for pw in _inputs.HUGE.values()
        if (report := tools.evaluate(pw)).codes != ("password.too_long",)
        or report.strength is not None
    ]
    if problems:
        raise SystemExit("benchmark inputs are wrong:\n  " + "\n  ".join(problems))


def print_environment(overhead_ns: int) -> None:
    """Print what the numbers were measured on, and how."""
    _report.heading("practiceid benchmarks: password policy")
    print(f"Python      {platform.python_implementation()} {sys.version.split()[0]}")
    print(f"platform    {platform.platform()} ({platform.machine()}, {os.cpu_count()} CPUs)")
    print(f"practiceid  {practiceid.__version__}")
    print(f"zxcvbn      {importlib.metadata.version('zxcvbn')}")
    print(f"Django      {importlib.metadata.version('django')}")
    print(f"method      {ROUNDS} rounds per case; cases compared together run round-robin;")
    print("            each call timed alone with perf_counter_ns, gc off during a round,")
    print(f"            clock overhead ({overhead_ns} ns) subtracted from every call.")
    print("            median = median over rounds of each round's median time per call;")
    print("            p95 = 95th percentile of all calls of all rounds; times in microseconds.")


def _codes(codes: Sequence[str], prefix: str) -> str:
    """Shorten violation codes for a table cell."""
    return ",".join(code.removeprefix(prefix) for code in codes) or "accepted"


def _verdict(report: practiceid.PasswordReport) -> str:
    """practiceid's verdict and, when zxcvbn ran, its score."""
    verdict = _codes(report.codes, "password.")
    if report.strength is not None:
        verdict += f" (score {report.strength.score})"
    return verdict


def _row(result: _timing.Result, *ratios: str) -> list[str]:
    """A table row: name, calls, median, p95, then the given ratio cells."""
    return [
        result.name,
        f"{result.calls:,}",
        _report.us(result.median_us),
        _report.us(result.p95_us),
        *ratios,
    ]


def bench_failing(tools: Tools, overhead_ns: int) -> float:
    """Sections 1 and 4a: inputs that break a composition rule. Return practiceid / Django."""
    inputs = _inputs.FAILING
    results = _timing.run(
        [
            _timing.Case(DJANGO_FAILING, tools.django, inputs, FAILING_PASSES),
            _timing.Case(FAILING_CHECK, tools.evaluate, inputs, FAILING_PASSES),
        ],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )
    failing, django = results[FAILING_CHECK], results[DJANGO_FAILING]
    _report.heading("1. Passwords that fail the composition rules (never reach zxcvbn)")
    _report.table(
        ["case", "calls", "median us", "p95 us", "/ Django, failing inputs"],
        [_row(r, _report.ratio(r.median_us, django.median_us)) for r in (failing, django)],
    )
    print()
    _report.table(
        ["input", "practiceid verdict", "practiceid us", "Django verdict", "Django us"],
        [
            [
                _inputs.describe(pw),
                _verdict(tools.evaluate(pw)),
                _report.us(failing.per_input_us[i]),
                _codes(tools.django(pw), "password_"),
                _report.us(django.per_input_us[i]),
            ]
            for i, pw in enumerate(inputs)
        ],
        left=2,
    )
    _report.note("per-input columns: median of that input's calls over all rounds.")
    return failing.median_us / django.median_us


def bench_passing(tools: Tools, overhead_ns: int) -> Passing:
    """Sections 2, 3 and 4b: inputs that pass the composition rules and reach zxcvbn."""
    inputs = _inputs.PASSING
    results = _timing.run(
        [
            _timing.Case(ZXCVBN_ALONE, tools.zxcvbn_alone, inputs, PASSING_PASSES),
            _timing.Case(FULL_CHECK, tools.evaluate, inputs, PASSING_PASSES),
            _timing.Case(DJANGO_PASSING, tools.django, inputs, DJANGO_PASSING_PASSES),
        ],
        rounds=ROUNDS,
        overhead_ns=overhead_ns,
    )
    full, alone, django = results[FULL_CHECK], results[ZXCVBN_ALONE], results[DJANGO_PASSING]
    _report.heading("2-4. Passwords that pass the composition rules (full check with zxcvbn)")
    _report.table(
        ["case", "calls", "median us", "p95 us", "/ zxcvbn alone", "/ Django, passing inputs"],
        [
            _row(
                r,
                _report.ratio(r.median_us, alone.median_us),
                _report.ratio(r.median_us, django.median_us),
            )
            for r in (full, alone, django)
        ],
    )
    print()
    _report.table(
        ["input", "practiceid verdict", "full us", "zxcvbn us", "full/zx", "Django", "Django us"],
        [
            [
                _inputs.describe(pw),
                _verdict(tools.evaluate(pw)),
                _report.us(full.per_input_us[i]),
                _report.us(alone.per_input_us[i]),
                _report.ratio(full.per_input_us[i], alone.per_input_us[i]),
                _codes(tools.django(pw), "password_"),
                _report.us(django.per_input_us[i]),
            ]
            for i, pw in enumerate(inputs)
        ],
        left=2,
    )
    per_input = [f / a for f, a in zip(full.per_input_us, alone.per_input_us, strict=True)]
    geomean = math.exp(statistics.fmean(math.log(r) for r in per_input))
    _report.note("zxcvbn alone = zxcvbn(password, context.dictionary()), dictionary built once,")
    _report.note("on the whole password. practiceid adds NFC, the cheap rules, the confirmation,")
    _report.note("a lock, the dictionary (rebuilt per call) and its feedback, and judges only the")
    _report.note("prefix zxcvbn can afford (about 25 ms of work), so long passwords cost it less;")
    _report.note("per-input ratios within ~5% are noise.")
    _report.note(f"geometric mean of the per-input full/zx ratios: {_report.ratio(geomean, 1)}")
    return Passing(
        full_check_us=full.median_us,
        vs_zxcvbn=full.median_us / alone.median_us,
        vs_zxcvbn_geomean=geomean,
        vs_django=full.median_us / django.median_us,
    )


def screen_adversarial(tools: Tools) -> tuple[str, str]:
    """Time each 256-character candidate once (all is warm by now); return the slowest."""
    timings = {
        name: _timing.time_once_us(tools.evaluate, pw) for name, pw in _inputs.ADVERSARIAL.items()
    }
    _report.heading("5. Worst cases of the zxcvbn guard")
    print(
        f"Screening {_inputs.ADVERSARIAL_LENGTH}-character candidates (= max_length), all"
        " passing the composition rules, one call each:"
    )
    _report.table(
        ["candidate", "starts with", "practiceid verdict", "one call us"],
        [
            [name, repr(pw[:20]), _verdict(tools.evaluate(pw)), _report.us(timings[name])]
            for name, pw in _inputs.ADVERSARIAL.items()
        ],
        left=3,
    )
    slowest = max(timings, key=timings.__getitem__)
    return slowest, _inputs.ADVERSARIAL[slowest]


def bench_worst(tools: Tools, overhead_ns: int, full_check_us: float) -> Worst:
    """Section 5: huge passwords against Django, the slowest candidate against its prefix."""
    worst_name, worst = screen_adversarial(tools)
    window = tools.policy.strength_window
    cases = [
        _timing.Case(WORST, tools.evaluate, [worst], warmup_passes=0),
        _timing.Case(WORST_PREFIX, tools.zxcvbn_alone, [worst[:window]], warmup_passes=0),
    ]
    baselines = {WORST: (WORST_PREFIX, "zxcvbn, its first 64")}
    for label, huge in _inputs.HUGE.items():
        ours, theirs = f"practiceid, {label}", f"Django, {label}"
        cases += [
            _timing.Case(ours, tools.evaluate, [huge], HUGE_PASSES),
            _timing.Case(theirs, tools.django, [huge], HUGE_PASSES),
        ]
        baselines[ours] = (theirs, "Django, same input")
    results = _timing.run(cases, rounds=ROUNDS, overhead_ns=overhead_ns)
    print()
    print(f"Slowest candidate: {worst_name!r}, now timed over {ROUNDS} rounds, next to the")
    print("100 000-character passwords (refused as too long; cp = code points):")
    rows = []
    for case in cases:
        result = results[case.name]
        ratio, to = "-", "(baseline)"
        if case.name in baselines:
            baseline, to = baselines[case.name]
            ratio = _report.ratio(result.median_us, results[baseline].median_us)
        rows.append(_row(result, ratio, to, _report.ratio(result.median_us, full_check_us)))
    _report.table(
        ["case", "calls", "median us", "p95 us", "ratio", "ratio to", "/ full check (2-4)"],
        rows,
    )
    _report.note(f"zxcvbn sees at most the first strength_window = {window} code points, fewer")
    _report.note("when they would cost it more than about 25 ms: its cost grows with length")
    _report.note("squared and with the number of distinct l33t characters (it tries every")
    _report.note("consistent substitution table). Before that budget, the 'every l33t")
    _report.note("substitute' candidate cost 3.1 s a call.")
    _report.note("Passwords over max_length are refused after NFC and before any other rule.")
    return Worst(
        name=worst_name,
        evaluate_us=results[WORST].median_us,
        vs_prefix=results[WORST].median_us / results[WORST_PREFIX].median_us,
        huge_us={label: results[f"practiceid, {label}"].median_us for label in _inputs.HUGE},
    )


def print_summary(failing_vs_django: float, passing: Passing, worst: Worst) -> None:
    """The three key ratios, and the worst-case bound."""
    _report.heading("Summary")
    _report.table(
        ["key ratio (medians, same inputs, same run)", "value"],
        [
            ["failing check / Django on failing inputs", _report.ratio(failing_vs_django, 1)],
            ["full check / zxcvbn alone", _report.ratio(passing.vs_zxcvbn, 1)],
            ["full check / Django on passing inputs", _report.ratio(passing.vs_django, 1)],
        ],
    )
    print()
    rows = [
        ["full check, median per call", f"{_report.us(passing.full_check_us)} us"],
        ["full check / zxcvbn alone, per input", _report.ratio(passing.vs_zxcvbn_geomean, 1)],
        [
            f"slowest 256-char candidate ({worst.name})",
            f"{_report.us(worst.evaluate_us)} us = {worst.evaluate_us / 1e3:.1f} ms",
        ],
        ["  same / zxcvbn alone on its first 64", _report.ratio(worst.vs_prefix, 1)],
    ]
    rows += [[f"{label}, refused", f"{_report.us(us)} us"] for label, us in worst.huge_us.items()]
    _report.table(["other figures", "value"], rows)
    _report.note("per input = geometric mean of the eight per-input ratios of section 2-4.")
    print()
    print("Django's validators (MinimumLength 10, CommonPassword, NumericPassword and")
    print("UserAttributeSimilarity on username, first_name, last_name, email) are the yardstick a")
    print("host would otherwise pick, not an identical check: Django has no composition-class")
    print("validators and no strength estimator, and it does not check the confirmation.")


def print_device_ratios(ratios: dict[str, float]) -> None:
    """Section 13's key ratios (shared devices, PINs, the audit trail)."""
    print()
    _report.table(
        ["shared devices ratio (same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in ratios.items()],
    )
    _report.note("Argon2id scan / unlock + lock above 1: the scan alone takes longer than the")
    _report.note("whole unlock; 5,000 / 10 members: how an unlock grows with the clinic (flat:")
    _report.note("~1x); audited / no-op: what the audit trail adds to a command (throughput: below")
    _report.note("1 is a loss); verify / sha256 alone: how far verifying is from hashing alone.")


def print_key_ratios(ratios: dict[str, float]) -> None:
    """Section 14's key ratios (key pairs, TOTP and recovery codes)."""
    print()
    _report.table(
        ["key pair and second factor ratio (medians, same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in ratios.items()],
    )
    _report.note("RSA-3072 / ours and Argon2id / ours: how many times slower the alternative is;")
    _report.note("read_backup / load_pem_private_key: what our checks add to opening a backup")
    _report.note("(load_pem_private_key / read_backup, damaged: how much sooner we refuse it);")
    _report.note("match_totp / pyotp: below 1 is faster; FactorService.verify / pyotp: what the")
    _report.note("whole use case (store, budget, audit trail, commit) costs over the bare check.")


def main() -> None:
    """Run every section and print the report."""
    started = time.perf_counter()
    tools = build_tools()
    check_inputs(tools)
    overhead_ns = _timing.clock_overhead_ns()
    print_environment(overhead_ns)
    failing_vs_django = bench_failing(tools, overhead_ns)
    passing = bench_passing(tools, overhead_ns)
    worst = bench_worst(tools, overhead_ns, passing.full_check_us)
    login_ratios = _auth.bench_authentication(overhead_ns)
    identifier_ratios = _identifiers.bench_identifiers()
    access_ratios = _access.bench_access()
    profiles = _profiles.bench_profiles(overhead_ns)
    sql_ratios = _sql.bench_sql()
    onboarding_ratios = _onboarding.bench_onboarding()
    license_ratios = _licenses.bench_licenses()
    device_ratios = _devices.bench_devices()
    key_ratios = _keys.bench_keys()
    _django.assert_no_database()
    print_summary(failing_vs_django, passing, worst)
    _report.table(
        ["login ratio (medians, same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in login_ratios.items()],
    )
    print()
    _report.table(
        ["identifier throughput ratio (best rounds, same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in identifier_ratios.items()],
    )
    _report.note("above 1: practiceid validates more numbers per second than python-stdnum.")
    print()
    _report.table(
        ["authorization ratio (best rounds, same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in access_ratios.items()],
    )
    _report.note("above 1: practiceid decides faster than pycasbin (time per query).")
    print()
    _report.table(
        ["profiles (medians, same run)", "value"],
        [
            *([f"logo: {name} / ours", _report.ratio(r, 1)] for name, r in profiles.logo.items()),
            [
                "nearest_free, 500 taken, all on the path",
                f"{_report.us(profiles.worst_initials_us)} us",
            ],
            ["save_practitioner, per call", f"{_report.us(profiles.save_us)} us"],
            ["  its phone check (clean_phone alone)", f"{profiles.phone_share:.0%}"],
        ],
    )
    _report.note("logo rows above 1: practiceid checks a logo faster than Pillow opens it;")
    _report.note("all = medians over valid and refused files, valid = per-file geometric mean.")
    print()
    _report.table(
        ["SQL adapter ratio (medians, same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in sql_ratios.items()],
    )
    _report.note("rows / Django above 1: practiceid takes longer than Django; 1M / 10k rows:")
    _report.note("how a look-up's time grows with the number of users (a scan: ~100x).")
    print()
    _report.table(
        ["onboarding ratio (medians, same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in onboarding_ratios.items()],
    )
    _report.note("1M / 10k: how a sweep's time grows with the number of records (flat: ~1x);")
    _report.note("full scan / run_due: what the index saves; refused links should cost alike.")
    print()
    _report.table(
        ["license ratio (same run)", "value"],
        [[name, _report.ratio(value, 1)] for name, value in license_ratios.items()],
    )
    _report.note("1M / 10k: how a sweep's time grows with the number of licenses (flat: ~1x);")
    _report.note("full scan / run_due: what the index saves; decide / unrestricted: what the")
    _report.note("license adds to a decision; casbin / decide above 1: practiceid is faster.")
    print_device_ratios(device_ratios)
    print_key_ratios(key_ratios)
    print("Django opened no database connection (dummy backend; checked after the run).")
    print(f"Total time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
