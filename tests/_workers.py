"""The parent's side of the tests that run real worker processes.

``test_sql_processes`` and ``test_outbox_processes`` each have a ``WORKER_SCRIPT`` of their
own (:func:`worker_script`): functions of the test module whose source is sent to
``python -c`` (a worker cannot import a test module), with faulthandler registered on
SIGUSR1. This module holds what the parent does with the workers, the same for both:

* :class:`Database`: where the workers and the test meet, a SQLite file
  (:func:`new_database`) or a schema of the test's own on PostgreSQL
  (:func:`new_postgres_schema`);
* :class:`WorkerPool`: start a worker on a JSON config file, wait for something with a
  bound, kill (SIGKILL) one worker, wait for all to finish; a hang fails the test with the
  workers' stacks and stderr instead of running into a CI time-out;
* :func:`wait_for_backends_exit`: PostgreSQL's side of a killed worker;
* :func:`hold_then`: a unit of work held open by one thread while another runs (row locks on
  PostgreSQL: ``SKIP LOCKED`` claims).

Imported as ``from ._workers import ...``, like ``conftest`` (pytest's ``importlib`` mode);
pytest collects no tests here (the name does not match ``test_*.py``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import pytest

from practiceid.adapters.sql import SqlStore

from .conftest import POSTGRES_SKIP, POSTGRES_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import sqlalchemy as sa

BACKEND_EXIT_TIMEOUT = 10.0
"""Seconds PostgreSQL gets to notice that a killed worker's connection is gone."""


# -- databases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """Where the workers and the test meet: a URL and, on PostgreSQL, the test's schema."""

    url: str
    schema: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")

    def store(self) -> SqlStore:
        return SqlStore.from_url(self.url, schema=self.schema)


AnyDatabase = TypeVar("AnyDatabase", bound=Database)


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""The params of a ``database`` fixture that runs on both (see :func:`new_database`)."""


def new_database(kind: type[AnyDatabase], which: str, path: Path) -> Iterator[AnyDatabase]:
    """A fixture's body: a new SQLite file at ``path``, or :func:`new_postgres_schema`.

    ``which``: ``"sqlite"`` (the schema is created in the file), or ``"postgres"``.
    """
    if which != "sqlite":
        yield from new_postgres_schema(kind)
        return
    found = kind(f"sqlite:///{path}")
    with found.store() as store:
        store.create_schema()
    yield found


def new_postgres_schema(kind: type[AnyDatabase]) -> Iterator[AnyDatabase]:
    """A fixture's body: a schema of the test's own on PostgreSQL, dropped at the end.

    Skips the test when ``PRACTICEID_TEST_POSTGRES_URL`` is not set.
    """
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    found = kind(POSTGRES_URL, f"practiceid_test_{uuid.uuid4().hex[:12]}")
    with found.store() as store:
        store.create_schema()
        try:
            yield found
        finally:
            with store.engine.begin() as connection:
                # Bounded: a backend still holding locks fails the teardown, not CI.
                connection.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
                connection.exec_driver_sql(f'DROP SCHEMA "{found.schema}" CASCADE')


def wait_for_backends_exit(
    engine: sa.Engine, query: sa.TextClause, params: dict[str, object], *, failure: str
) -> None:
    """Wait (at most :data:`BACKEND_EXIT_TIMEOUT`) until ``query`` counts no backend.

    A killed worker's connections die with it: the kernel closes the sockets, and their
    server processes, idle waiting for the client, read end-of-file, abort the open
    transaction (releasing its row locks) and exit. That happens on the server's own time,
    usually within milliseconds: wait for it before asking for the locks, or fail the test
    with ``failure``.
    """
    deadline = time.monotonic() + BACKEND_EXIT_TIMEOUT
    while True:
        with engine.connect() as connection:
            if not connection.execute(query, params).scalar():
                return
        if time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(0.02)


# -- worker processes -----------------------------------------------------------------------


_FAULTHANDLER = """\
import faulthandler
import signal

faulthandler.register(signal.SIGUSR1, all_threads=True)  # WorkerPool.fail asks on a hang
"""


def worker_script(prelude: str, *functions: Callable[..., Any]) -> str:
    """A worker's program for ``python -c``: ``prelude``, the functions' source, the call.

    ``prelude`` makes the imports the functions use; faulthandler is registered on SIGUSR1
    after it. The last of ``functions`` is ``_worker_main``, called with the config's path.
    """
    sources = (inspect.getsource(function) for function in functions)
    return "\n\n".join([prelude, _FAULTHANDLER, *sources, "_worker_main(sys.argv[1])\n"])


@dataclass
class Worker:
    """A worker process, with the files its stdout and stderr go to."""

    name: str
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def report(self) -> str:
        stderr = self.err.read_text(encoding="utf-8", errors="replace")[-6000:]
        return f"--- worker {self.name}: exit code {self.process.poll()}\n{stderr}"

    def result(self) -> Any:
        """The JSON the worker wrote on stdout."""
        return json.loads(self.out.read_text(encoding="utf-8"))


@dataclass
class WorkerPool:
    """The test's worker processes; those still running at the end are killed (by pid).

    A subclass names the ``script`` its workers run (``python -c script config.json``), and
    may poll more often (``poll``, seconds), or wait for more after a SIGKILL (:meth:`killed`).
    """

    directory: Path
    started: list[Worker] = field(default_factory=list)

    script: ClassVar[str]
    poll: ClassVar[float] = 0.01

    @classmethod
    def running(cls, directory: Path) -> Iterator[Self]:
        """A fixture's body: a pool whose workers are killed at the end of the test."""
        pool = cls(directory)
        try:
            yield pool
        finally:
            pool.kill()

    def launch(
        self, name: str, config: dict[str, Any], *, barrier: bool = False
    ) -> tuple[subprocess.Popen[bytes], Path, Path]:
        """Start ``script`` on ``config`` (written to a file); the process, stdout, stderr.

        ``barrier``: the worker's stdin is a pipe, for it to read until
        :meth:`release_barrier` closes it.
        """
        config_path = self.directory / f"{name}.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        out, err = self.directory / f"{name}.out", self.directory / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-c", self.script, str(config_path)],
                stdin=subprocess.PIPE if barrier else subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        return process, out, err

    def start(self, name: str, config: dict[str, Any], *, barrier: bool = False) -> Worker:
        worker = Worker(name, *self.launch(name, config, barrier=barrier))
        self.started.append(worker)
        return worker

    def release_barrier(self) -> None:
        """Let every worker started with ``barrier`` go at once (close their stdin)."""
        for worker in self.started:
            assert worker.process.stdin is not None
            worker.process.stdin.close()  # go

    def reports(self) -> str:
        return "\n".join(worker.report() for worker in self.started)

    def fail(self, message: str) -> None:
        """Fail the test, with each worker's stack (if still running) and stderr."""
        running = [w for w in self.started if w.process.poll() is None]
        for worker in running:
            worker.process.send_signal(signal.SIGUSR1)  # faulthandler dumps its stacks
        time.sleep(0.5 if running else 0)
        self.kill()
        pytest.fail(f"{message}\n{self.reports()}", pytrace=False)

    def wait_until(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if any(w.process.poll() is not None for w in self.started):
                self.fail(f"a worker exited before {what}")
            if time.monotonic() > deadline:
                self.fail(f"no {what} after {timeout} s")
            time.sleep(self.poll)

    def finish(self, *, timeout: float) -> None:
        """Wait for every worker to exit (successfully) within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for worker in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        if any(worker.process.poll() is None for worker in self.started):
            self.fail(f"workers still running after {timeout} s: a hang")
        if any(worker.process.returncode != 0 for worker in self.started):
            self.fail("a worker failed")

    def sigkill(self, worker: Worker) -> None:
        """Kill the worker with SIGKILL, reap it, then wait for what :meth:`killed` waits for."""
        worker.process.send_signal(signal.SIGKILL)
        assert worker.process.wait(timeout=30) == -signal.SIGKILL
        self.killed(worker)

    def killed(self, worker: Worker) -> None:
        """What must follow a SIGKILL before the test goes on: nothing, here."""

    def kill(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(timeout=30)
            if worker.process.stdin is not None:
                worker.process.stdin.close()


def hold_then(
    store: SqlStore, first: Callable[[Any], list[object]], second: Callable[[Any], list[object]]
) -> tuple[list[object], list[object]]:
    """Run ``first`` in a unit of work held open while another thread runs ``second``.

    The second unit of work gets two seconds to finish: a lock wait fails the test
    (``lock_timeout``) instead of hanging it.
    """
    taken = threading.Event()
    release = threading.Event()

    def holder() -> list[object]:
        with store.unit_of_work() as uow:
            claimed = first(uow)
            taken.set()
            assert release.wait(30)
            uow.commit()
        return claimed

    def other() -> list[object]:
        assert taken.wait(30)
        try:
            with store.unit_of_work() as uow:
                uow.active().exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                claimed = second(uow)
                uow.commit()
            return claimed
        finally:
            release.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        held, skipped = pool.submit(holder), pool.submit(other)
        return held.result(timeout=60), skipped.result(timeout=60)
