"""What the SQL sections share (10, the SQL adapter; 11, onboarding; 12, licenses).

They run in a process of their own, time their parts and print the machine's load, and
reach PostgreSQL through the DB-API driver as well as through the adapter; they capture the
statements the adapter sends and print their query plans.


Django is configured once per process, and each of those sections configures it with
databases of its own: ``python -m benchmarks.<module> --summary PATH`` runs the section and
writes the ratios it returns to ``PATH`` as JSON, which :func:`run_apart` reads back.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from benchmarks import _report

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from benchmarks._onboarding import Backend
    from practiceid.adapters.sql import SqlStore


def run_apart(module: str) -> dict[str, float]:
    """Run ``python -m module --summary PATH`` (it prints as it goes); its ratios."""
    sys.stdout.flush()
    with tempfile.TemporaryDirectory() as directory:
        summary = Path(directory) / "summary.json"
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module, "--summary", str(summary)], check=True
        )
        return json.loads(summary.read_text(encoding="utf-8"))


def main(run_section: Callable[[], dict[str, float]], argv: Sequence[str]) -> None:
    """Run the section here; with ``--summary PATH``, write its ratios there as JSON."""
    ratios = run_section()
    if len(argv) == 2 and argv[0] == "--summary":
        Path(argv[1]).write_text(json.dumps(ratios), encoding="utf-8")
    sys.stdout.flush()


def timed(label: str, times: dict[str, float], run: Callable[[], Any]) -> Any:  # noqa: ANN401
    """Run ``run``, record its wall time under ``label``, and return its result."""
    began = time.perf_counter()
    try:
        return run()
    finally:
        times[label] = time.perf_counter() - began


def load_average() -> str:
    """The machine's load averages, for the notes under the tables."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def print_took(section: int, times: dict[str, float], started: float) -> None:
    """The table of what each part of ``section`` took, and the whole time and load."""
    print()
    _report.table([f"section {section} took", "s"], [[k, f"{v:.1f}"] for k, v in times.items()])
    _report.note(
        f"section time: {time.perf_counter() - started:.1f} s; load {load_average()} at the end"
    )


def short(size: int) -> str:
    """A table size for a column heading: 10k, 1M."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return f"{size:,}"


@contextlib.contextmanager
def capturing(store: SqlStore) -> Iterator[list[tuple[str, Any]]]:
    """Collect every statement (and its parameters, as bound) sent through ``store``."""
    seen: list[tuple[str, Any]] = []

    def listen(*args: Any) -> None:  # noqa: ANN401 - SQLAlchemy's event arguments
        seen.append((args[2], args[3]))

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)


def one_statement(seen: Sequence[tuple[str, Any]], *words: str) -> tuple[str, Any]:
    """The one statement of ``seen`` that holds all of ``words``, with its parameters."""
    found = [s for s in seen if all(word in s[0] for word in words)]
    if len(found) != 1:
        raise SystemExit(f"benchmark: expected one statement with {words}: {seen!r}")
    return found[0]


def query_plan(
    backend: Backend,
    connection: Any,  # noqa: ANN401 - a DB-API connection
    statement: str,
    parameters: Any,  # noqa: ANN401 - as the adapter bound them
) -> list[str]:
    """The plan ``backend`` makes for ``statement``, a line a row."""
    rows = connection.execute(f"{backend.explain} {statement}", parameters).fetchall()
    return [str(row[-1]) for row in rows]


def postgres_driver(url: str) -> Callable[[SqlStore], Any]:
    """Open a psycopg connection on a store's schema: the database's own cost, no adapter."""
    import psycopg  # noqa: PLC0415 - only with a PostgreSQL server

    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def connect(store: SqlStore) -> Any:  # noqa: ANN401 - a DB-API connection
        return psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={store.schema}")

    return connect
