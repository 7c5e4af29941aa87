"""A sweep with nothing due, as sections 11b (onboarding) and 12b (licenses) time it.

The service's ``run_due`` at a time when nothing is due, on every table, all sizes and both
databases timed round-robin (:func:`benchmarks._timing.run`), against the claim it sends
alone through the DB-API driver, with its index and, if asked, with the index forbidden
(``Backend.scan``); then the query plans, and a table per database with its notes. What
differs between the sections (the service, the table and its due index, the words) is a
:class:`Claim`.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from benchmarks import _report, _section, _timing

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    import sqlalchemy as sa

    from benchmarks._onboarding import Backend

SERVICE: Final = "run_due, nothing due"
INDEXED: Final = "driver: claim, index"
SCANNED: Final = "driver: claim, full scan"

QUIET_CALLS: Final = 200  # sweeps (and indexed claims) per case and round
SCAN_CALLS: Final = 4  # full-scan claims per round (one scans the whole table)


@dataclass(frozen=True)
class Claim:
    """What one section's sweep is: its service, the table it claims from, its words."""

    section: int  # the sweep is part a) of it, in the ratios' names
    benchmark: str  # what its errors start with
    run_due: Callable[[Any, datetime], Any]  # (a practice, now) -> the service's report
    table: sa.Table  # the table the claim reads
    index: str  # the index the claim should use
    records: str  # what a row of the table is called ("records", "licenses")
    rounds: int  # rounds, round-robin
    after: tuple[str, ...]  # the notes under the tables after the sweep


@dataclass
class Quiet:
    """What b) measured at one ``now``: per backend and size, every case; and the plans."""

    now: datetime
    label: str
    results: dict[tuple[str, int], dict[str, _timing.Result]] = field(default_factory=dict)
    statements: dict[str, tuple[str, Any]] = field(default_factory=dict)
    plans: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def _claim(claim: Claim, practice: Any, now: datetime) -> tuple[str, Any]:  # noqa: ANN401
    """The claim the sweep sends at ``now``, captured; the sweep must change nothing."""
    with _section.capturing(practice.store) as seen:
        report = claim.run_due(practice, now)
    if report.changed:
        raise SystemExit(f"{claim.benchmark}: a sweep at {now} changed {report.changed}")
    return _section.one_statement(seen, claim.table.name, "due_at <=")


def _service_case(claim: Claim, practice: Any) -> Callable[[Any], object]:  # noqa: ANN401
    def run(now: Any) -> object:  # noqa: ANN401
        report = claim.run_due(practice, now)
        if report.changed:
            raise SystemExit(f"{claim.benchmark}: a quiet sweep changed {report.changed}")
        return report

    return run


def _driver_case(
    claim: Claim,
    connection: Any,  # noqa: ANN401 - a DB-API connection
    statement: str,
    parameters: Any,  # noqa: ANN401 - as the adapter bound them
) -> Callable[[Any], object]:
    def run(_ignored: Any) -> object:  # noqa: ANN401
        rows = connection.execute(statement, parameters).fetchall()
        if rows:
            raise SystemExit(f"{claim.benchmark}: a claim at a quiet time returned rows")
        return rows

    return run


def _cases(
    claim: Claim,
    backends: Sequence[Backend],
    quiet: Quiet,
    stack: contextlib.ExitStack,
    *,
    scan: bool,
) -> list[_timing.Case]:
    cases = []
    for backend in backends:
        statement, parameters = quiet.statements[backend.name]
        for size, practice in backend.practices.items():
            prefix = f"{backend.name}|{size}|"
            driver = stack.enter_context(contextlib.closing(backend.driver(practice.store)))
            runs = [
                (SERVICE, _service_case(claim, practice), QUIET_CALLS),
                (INDEXED, _driver_case(claim, driver, statement, parameters), QUIET_CALLS),
            ]
            if scan:
                scanner = stack.enter_context(contextlib.closing(backend.driver(practice.store)))
                scanned = backend.scan(scanner, statement)
                runs.append(
                    (SCANNED, _driver_case(claim, scanner, scanned, parameters), SCAN_CALLS)
                )
            cases += [
                _timing.Case(prefix + name, run, [quiet.now] * calls, warmup_passes=1)  # type: ignore[list-item]
                for name, run, calls in runs
            ]
    return cases


def bench(
    claim: Claim,
    backends: Sequence[Backend],
    now: datetime,
    label: str,
    overhead_ns: int,
    *,
    scan: bool,
) -> Quiet:
    """b): a sweep with nothing due at ``now``, every table round-robin, with the plans."""
    quiet = Quiet(now, label)
    for backend in backends:
        quiet.statements[backend.name] = _claim(claim, backend.largest, now)
    with contextlib.ExitStack() as stack:
        cases = _cases(claim, backends, quiet, stack, scan=scan)
        results = _timing.run(cases, rounds=claim.rounds, overhead_ns=overhead_ns)
        for backend in backends:
            statement, parameters = quiet.statements[backend.name]
            store = backend.largest.store
            connection = stack.enter_context(contextlib.closing(backend.driver(store)))
            quiet.plans[backend.name, INDEXED] = _section.query_plan(
                backend, connection, statement, parameters
            )
            if scan:
                scanner = stack.enter_context(contextlib.closing(backend.driver(store)))
                scanned = backend.scan(scanner, statement)
                quiet.plans[backend.name, SCANNED] = _section.query_plan(
                    backend, scanner, scanned, parameters
                )
    for name, result in results.items():
        backend_name, size, case = name.split("|")
        quiet.results.setdefault((backend_name, int(size)), {})[case] = result
    return quiet


def report(
    claim: Claim,
    backends: Sequence[Backend],
    sizes: Sequence[int],
    quiet: Quiet,
    title: str,
) -> dict[str, float]:
    """Print b) at one ``now``: a table per database, the claim and its plans; the ratios."""
    first, last = sizes[0], sizes[-1]
    growth = f"{_section.short(last)} / {_section.short(first)}"
    print()
    print(title)
    ratios = {}
    for backend in backends:
        name = backend.name
        cases = list(quiet.results[name, first])
        headers = ["case"]
        for size in sizes:
            headers += [f"{_section.short(size)} med", f"{_section.short(size)} p95"]
        headers.append(growth)
        rows = []
        for case in cases:
            row = [case]
            for size in sizes:
                result = quiet.results[name, size][case]
                row += [_report.us(result.median_us), _report.us(result.p95_us)]
            ratio = (
                quiet.results[name, last][case].median_us
                / quiet.results[name, first][case].median_us
            )
            rows.append([*row, _report.ratio(ratio, 1)])
            if case == SERVICE:
                key = f"run_due, nothing due, {quiet.label} {claim.section}a ({name}), {growth}"
                ratios[key] = ratio
        if SCANNED in cases:
            row = ["full scan / run_due"]
            for size in sizes:
                results = quiet.results[name, size]
                row += [_report.ratio(results[SCANNED].median_us, results[SERVICE].median_us), ""]
            rows.append([*row, ""])
            at_last = quiet.results[name, last]
            key = f"claim as a full scan / run_due, nothing due ({name}), {_section.short(last)}"
            ratios[key] = at_last[SCANNED].median_us / at_last[SERVICE].median_us
        print(f"  {name}: median / p95 (us) by number of {claim.records}")
        _report.table(headers, rows)
        _print_plans(claim, backend, quiet, statement=SCANNED in cases)
    factor = f"{last / first:,.0f}"
    if quiet.label == "before":
        _report.note("run_due: the service, a unit of work a call (checkout, BEGIN, the claim,")
        _report.note("COMMIT; on PostgreSQL with the pre-ping). driver: the claim alone through")
        _report.note("sqlite3 / psycopg in autocommit. full scan: the same statement, the index")
        _report.note(
            f"forbidden. {growth}: {factor} times the {claim.records}; a scan grows as much."
        )
    else:
        for line in claim.after:
            _report.note(line)
    return ratios


_SELECT_LIST: Final = re.compile(r"^SELECT .+? FROM ")


def _print_plans(claim: Claim, backend: Backend, quiet: Quiet, *, statement: bool) -> None:
    if statement:
        text = " ".join(quiet.statements[backend.name][0].split())
        shown = f"SELECT <its {len(claim.table.columns)} columns> FROM "  # noqa: S608 - shown
        print(
            textwrap.fill(
                _SELECT_LIST.sub(shown, text, count=1),
                width=_report.RULE_WIDTH,
                initial_indent="  the claim sends: ",
                subsequent_indent="    ",
            )
        )
    last = max(backend.practices)
    for case in (INDEXED, SCANNED):
        plan = quiet.plans.get((backend.name, case))
        if plan is None:
            continue
        print(f"  {backend.explain}, {case.removeprefix('driver: ')}, at {last:,} {claim.records}:")
        for line in plan:
            print(f"    {line}")
    if not any(claim.index in line for line in quiet.plans[backend.name, INDEXED]):
        print(f"  WARNING: the claim does not use {claim.index} on {backend.name}")
