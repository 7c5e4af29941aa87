"""The outbox across processes (issue 7), on a SQLite file and on PostgreSQL.

Real processes, started with ``sys.executable``, some killed with SIGKILL:

* a dispatcher killed in the middle of a batch: a fresh dispatcher sends the rest once the
  lease is over; every key is delivered, nothing is lost, and the only key handed over twice
  is the one in flight when the process died;
* a process killed after committing invitations (before, or in the middle of, dispatching
  them): the messages are in the outbox and a later dispatcher sends each once;
* several dispatchers racing over the same pending messages: claims are disjoint, so no key
  is handed to a notifier twice, not even once;
* several sweepers running ``OnboardingService.run_due`` at once: each reminder and each
  expiry is written exactly once.

The notifiers of the workers are "providers" that append every call's idempotency key to a
sink file of their own (one line per call, duplicates included); the parent reads them all.
Workers run functions of this module, whose source is sent to ``python -c`` (tests are not a
package); they use only the names ``_WORKER_PRELUDE`` imports. Every wait is bounded: a hang
fails the test with the workers' stacks (faulthandler on SIGUSR1) and stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from practiceid import (
    AccessService,
    AccountService,
    Dispatcher,
    EmailAddress,
    EstablishmentId,
    Login,
    Message,
    MessageStatus,
    OnboardingService,
    ProductKind,
    UserId,
)
from practiceid.adapters import StaticAuthorizer
from practiceid.adapters.sql import SqlStore
from practiceid.invitations import MessageKind, OnboardingMode
from practiceid.outbox import Delivery, MessageId, new_message_id
from practiceid.policies import invitation
from practiceid.policies.invitation import InvitationSettings
from practiceid.testing import ManualClock, fast_hasher, sample_onboarding, sample_user

from ._workers import (
    DATABASES,
    Database,
    Worker,
    WorkerPool,
    new_database,
    new_postgres_schema,
    wait_for_backends_exit,
    worker_script,
)

READY_TIMEOUT = 60.0
"""Seconds the workers get to start (import, connect) before the test fails."""
RUN_TIMEOUT = 60.0
"""Seconds the workers get to finish once started: a hang fails the test."""

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PASSWORD = "Vrai-Cheval-Agrafe-42"


# -- what runs in the workers ---------------------------------------------------------------
# These run in the worker processes (and some in the parent too): they may use only the
# names _WORKER_PRELUDE imports.


class SinkNotifier:
    """A provider that records every call's idempotency key, one line per call, in a file.

    ``hang_at``: on that call, write ``signal`` and sleep (the parent kills us), after the
    provider accepted the message (``hang_before`` False) or before it was reached (True).
    ``pause``: seconds to wait after each accepted call (gives a kill somewhere to land).
    """

    def __init__(
        self,
        path: str,
        *,
        hang_at: int | None = None,
        hang_before: bool = False,
        signal_path: str | None = None,
        pause: float = 0.0,
    ) -> None:
        self.path = path
        self.hang_at = hang_at
        self.hang_before = hang_before
        self.signal_path = signal_path
        self.pause = pause
        self.calls = 0
        self.tokens: dict[str, str] = {}

    def _hang(self) -> None:
        assert self.signal_path is not None
        written = Path(self.signal_path).with_suffix(".tmp")
        written.write_text("hanging", encoding="utf-8")
        written.replace(self.signal_path)  # atomic: the parent never reads half a file
        time.sleep(600)  # the parent kills us meanwhile

    def send(self, delivery: Delivery) -> None:
        self.calls += 1
        hang = self.calls == self.hang_at
        if hang and self.hang_before:
            self._hang()
        message = delivery.message
        linked = message.link_round is not None
        if linked and (delivery.token is None or len(delivery.token) != 43):
            raise AssertionError("a link message without its token")
        if delivery.token is not None:
            self.tokens[message.idempotency_key] = delivery.token  # in memory only
        sink = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(sink, f"{message.idempotency_key}\n".encode())  # one write: one line
        finally:
            os.close(sink)
        if hang:
            self._hang()
        if self.pause:
            time.sleep(self.pause)


def _worker_store(config: dict[str, Any]) -> SqlStore:
    options: dict[str, Any] = {}
    if config["url"].startswith("postgresql"):
        # The parent finds this process's connections by name, to wait for them to die.
        options["connect_args"] = {"application_name": config["application_name"]}
    return SqlStore.from_url(config["url"], schema=config["schema"], **options)


def _services(store: SqlStore, clock: ManualClock, batch_size: int) -> OnboardingService:
    access = AccessService(unit_of_work=store.unit_of_work, clock=clock)
    accounts = AccountService(
        unit_of_work=store.unit_of_work,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=StaticAuthorizer(),
    )
    return OnboardingService(
        unit_of_work=store.unit_of_work,
        access=access,
        accounts=accounts,
        clock=clock,
        batch_size=batch_size,
    )


def _barrier(config: dict[str, Any], phase: str) -> None:
    """Wait for every worker of the test to reach ``phase`` (files in a shared directory)."""
    directory = Path(config["barrier"])
    (directory / f"{phase}.{config['name']}").touch()
    deadline = time.monotonic() + 60
    while len(list(directory.glob(f"{phase}.*"))) < config["parties"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {phase}: the other workers never came")
        time.sleep(0.002)


def _dispatch_in_worker(store: SqlStore, config: dict[str, Any]) -> dict[str, Any]:
    clock = ManualClock(datetime.fromisoformat(config["clock"]))
    notifier = SinkNotifier(
        config["sink"],
        hang_at=config.get("hang_at"),
        hang_before=config.get("hang_before", False),
        signal_path=config.get("signal"),
        pause=config.get("pause", 0.0),
    )
    dispatcher = Dispatcher(
        unit_of_work=store.unit_of_work,
        notifier=notifier,
        clock=clock,
        batch_size=config["batch_size"],
        lease=timedelta(seconds=config["lease"]),
    )
    with store.unit_of_work() as uow:  # connect now rather than in the race
        uow.outbox.list(user_id=UserId("warm-up"))
    if "barrier" in config:
        _barrier(config, "start")
    report = dispatcher.run_until_idle()
    return {
        "sent": list(report.sent),
        "retrying": list(report.retrying),
        "failed": list(report.failed),
        "cancelled": list(report.cancelled),
        "calls": notifier.calls,
    }


def _invite_in_worker(store: SqlStore, config: dict[str, Any]) -> dict[str, Any]:
    clock = ManualClock(datetime.fromisoformat(config["clock"]))
    onboarding = _services(store, clock, 500)
    for email in config["emails"]:
        onboarding.invite(
            actor=UserId(config["owner"]),
            establishment_id=config["establishment"],
            email=email,
            first_name="Nadia",
            last_name="Exemple",
        )
    # Committed: the invitations and their messages are stored. Die before sending, or
    # while sending the first one.
    if config["dispatch"]:
        return _dispatch_in_worker(store, config)
    signal_path = Path(config["signal"])
    written = signal_path.with_suffix(".tmp")
    written.write_text("committed", encoding="utf-8")
    written.replace(signal_path)
    time.sleep(600)  # the parent kills us meanwhile
    return {}


def _sweep_in_worker(store: SqlStore, config: dict[str, Any]) -> dict[str, Any]:
    clock = ManualClock(datetime.fromisoformat(config["clock"]))
    onboarding = _services(store, clock, config["batch_size"])
    with store.unit_of_work() as uow:  # connect now rather than in the race
        uow.onboardings.find(UserId("warm-up"))
    phases = []
    for at in config["phases"]:
        _barrier(config, at.replace(":", "-"))
        started = time.monotonic()
        report = onboarding.run_due(datetime.fromisoformat(at))
        phases.append(
            {
                "reminded": list(report.reminded),
                "expired": list(report.expired),
                "deactivated": list(report.deactivated),
                "seconds": time.monotonic() - started,
            }
        )
    return {"phases": phases}


def _worker_main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    store = _worker_store(config)
    try:
        task = {
            "dispatch": _dispatch_in_worker,
            "invite": _invite_in_worker,
            "sweep": _sweep_in_worker,
        }[config["task"]]
        sys.stdout.write(json.dumps(task(store, config)))
    finally:
        store.close()


_WORKER_PRELUDE = """\
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from practiceid import AccessService, AccountService, Dispatcher, OnboardingService, UserId
from practiceid.adapters import StaticAuthorizer
from practiceid.adapters.sql import SqlStore
from practiceid.outbox import Delivery
from practiceid.testing import ManualClock, fast_hasher
"""

WORKER_SCRIPT = worker_script(
    _WORKER_PRELUDE,
    SinkNotifier,
    _worker_store,
    _services,
    _barrier,
    _dispatch_in_worker,
    _invite_in_worker,
    _sweep_in_worker,
    _worker_main,
)


# -- the parent's side ----------------------------------------------------------------------


@pytest.fixture(params=DATABASES)
def database(request, tmp_path) -> Iterator[Database]:
    """A new SQLite file, or a schema of the test's own on PostgreSQL, dropped at the end."""
    yield from new_database(Database, request.param, tmp_path / "outbox.db")


@pytest.fixture
def postgres_database() -> Iterator[Database]:
    """A schema of the test's own on PostgreSQL (the races that need row locks)."""
    yield from new_postgres_schema(Database)


@dataclass
class SinkWorker(Worker):
    """A worker whose notifier writes to ``sink``; its connections carry ``application_name``."""

    sink: Path
    application_name: str


@dataclass
class Workers(WorkerPool):
    """Workers running this module's ``WORKER_SCRIPT`` on ``database``, each with a sink."""

    database: Database | None = None

    script = WORKER_SCRIPT
    poll = 0.002

    def start(self, name: str, config: dict[str, Any], *, barrier: bool = False) -> SinkWorker:
        assert self.database is not None
        sink = self.directory / f"{name}.sink"
        application_name = f"{self.database.schema or 'sqlite'}:{name}"[:63]
        config = {
            "name": name,
            "url": self.database.url,
            "schema": self.database.schema,
            "sink": str(sink),
            "application_name": application_name,
            "lease": LEASE.total_seconds(),
            **config,
        }
        process, out, err = self.launch(name, config, barrier=barrier)
        worker = SinkWorker(name, process, out, err, sink, application_name)
        self.started.append(worker)
        return worker

    def killed(self, worker: Worker) -> None:
        """On PostgreSQL, wait for the killed worker's connections to end."""
        assert isinstance(worker, SinkWorker)
        if self.database is not None and self.database.is_postgres:
            _wait_for_backends_exit(self.database, worker.application_name)
        # SQLite: the OS released the dead process's file locks; nothing to wait for.


@pytest.fixture
def workers(tmp_path) -> Iterator[Workers]:
    yield from Workers.running(tmp_path)


def _wait_for_backends_exit(database: Database, application_name: str) -> None:
    # A killed worker's server processes roll back (releasing row locks a fresh dispatcher
    # would otherwise skip) and exit on their own time.
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    failure = f"PostgreSQL backends of {application_name} outlived their client"
    with database.store() as store:
        wait_for_backends_exit(store.engine, query, {"name": application_name}, failure=failure)


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8").splitlines()


def _sink(workers: Workers, *extra: Path) -> Counter[str]:
    """Every call every provider received, by idempotency key (duplicates counted)."""
    return Counter(
        key for path in (*(w.sink for w in workers.started), *extra) for key in _lines(path)
    )


def _messages(store: SqlStore) -> dict[MessageId, Message]:
    with store.unit_of_work() as uow:
        return {m.id: m for m in uow.outbox.list()}


def _seed_messages(store: SqlStore, count: int) -> set[str]:
    """Write ``count`` made-up pending messages (no link) in one unit of work; their keys."""
    with store.unit_of_work() as uow:
        for n in range(count):
            uow.outbox.add(
                Message(
                    id=MessageId(f"m-{n:04d}"),
                    kind=MessageKind.MEMBER_ADDED,
                    recipient=f"membre{n}@cabinet-exemple.be",
                    locale="fr-BE",
                    idempotency_key=f"test:{n}:member_added",
                    created_at=T0,
                    next_attempt_at=T0 - timedelta(microseconds=n % 7),
                    params={"establishment": "Cabinet de l'Exemple"},
                )
            )
        uow.commit()
    return {f"test:{n}:member_added" for n in range(count)}


def _fresh_dispatcher(store: SqlStore, sink: Path, at: datetime) -> Dispatcher:
    return Dispatcher(
        unit_of_work=store.unit_of_work,
        notifier=SinkNotifier(str(sink)),
        clock=ManualClock(at),
        lease=LEASE,
    )


# -- a dispatcher killed mid-batch ---------------------------------------------------------


@pytest.mark.parametrize("moment", ["in_send", "anywhere"])
def test_a_dispatcher_killed_mid_batch_loses_nothing_and_duplicates_only_the_message_in_flight(
    database, workers, tmp_path, moment
):
    """Killed while the provider holds call 30 (``in_send``), or wherever call 30 leaves it."""
    workers.database = database
    with database.store() as store:
        keys = _seed_messages(store, 120)
    signal_path = tmp_path / "hanging"
    config: dict[str, Any] = {"task": "dispatch", "clock": T0.isoformat(), "batch_size": 20}
    if moment == "in_send":
        config |= {"hang_at": 30, "signal": str(signal_path)}
        ready: Callable[[], bool] = signal_path.exists
    else:
        config |= {"pause": 0.002}
        ready = lambda: len(_lines(workers.started[0].sink)) >= 30  # noqa: E731
    worker = workers.start("doomed", config)
    workers.wait_until(ready, timeout=READY_TIMEOUT, what="30 deliveries")
    workers.sigkill(worker)
    assert worker.out.read_text(encoding="utf-8") == ""  # it never finished

    delivered_before = set(_sink(workers))
    assert len(delivered_before) >= 30
    assert max(_sink(workers).values()) == 1
    fresh_sink = tmp_path / "fresh.sink"
    with database.store() as store:
        held = {
            m.idempotency_key
            for m in _messages(store).values()
            if m.status is MessageStatus.PENDING and m.claimed_until is not None
        }
        if moment == "in_send":  # killed mid-batch; "anywhere" may land between two batches
            assert held, "the kill left no claimed message: it did not land mid-batch"
        # Before the lease ends, a fresh dispatcher sends what nobody claimed, and only that.
        early = _fresh_dispatcher(store, fresh_sink, T0).run_until_idle()
        assert early.retrying == early.failed == early.cancelled == ()
        calls = _sink(workers, fresh_sink)
        assert max(calls.values()) == 1, "a claimed message was sent before its lease ended"
        assert set(calls) == (keys - held) | delivered_before
        in_flight = delivered_before & held  # accepted by the provider, never recorded
        assert len(in_flight) <= 1
        if moment == "in_send":
            assert len(in_flight) == 1

        # After the lease, another sends the rest.
        late = _fresh_dispatcher(store, fresh_sink, T0 + LEASE).run_until_idle()
        assert late.retrying == late.failed == late.cancelled == ()
        stored = _messages(store)

    assert {m.status for m in stored.values()} == {MessageStatus.SENT}
    assert {m.claimed_until for m in stored.values()} == {None}
    calls = _sink(workers, fresh_sink)
    assert set(calls) == keys  # every key delivered: nothing lost
    # The only key handed over twice is the one in flight when the process died.
    assert calls - Counter(keys) == Counter(in_flight)


# -- a process killed between commit and send ----------------------------------------------


@pytest.mark.parametrize("moment", ["after_commit", "after_claim"])
def test_invitations_committed_by_a_killed_process_are_sent_once_by_a_later_dispatcher(
    database, workers, tmp_path, moment
):
    workers.database = database
    with database.store() as store:
        practice = sample_onboarding(
            ProductKind.HOSPITAL, unit_of_work=store.unit_of_work, clock=ManualClock(T0)
        )
    emails = [f"invite{n}@hopital-exemple.fr" for n in range(5)]
    signal_path = tmp_path / "signal"
    worker = workers.start(
        "doomed",
        {
            "task": "invite",
            "clock": T0.isoformat(),
            "owner": practice.owner.id,
            "establishment": practice.establishment.id,
            "emails": emails,
            "signal": str(signal_path),
            # after_claim: dispatch, and die as the first call reaches the provider.
            "dispatch": moment == "after_claim",
            "batch_size": 10,
            "hang_at": 1,
            "hang_before": True,
        },
    )
    workers.wait_until(signal_path.exists, timeout=READY_TIMEOUT, what="signal from the worker")
    workers.sigkill(worker)
    assert _lines(worker.sink) == []  # the provider never heard of them

    fresh_sink = tmp_path / "fresh.sink"
    with database.store() as store:
        stored = _messages(store)
        assert sorted(m.recipient for m in stored.values()) == emails  # nothing lost
        assert {m.kind for m in stored.values()} == {MessageKind.INVITATION}
        assert {m.status for m in stored.values()} == {MessageStatus.PENDING}
        claimed = {m.claimed_until for m in stored.values()}
        if moment == "after_claim":
            assert claimed == {T0 + LEASE}
            before_lease = _fresh_dispatcher(store, fresh_sink, T0 + LEASE - timedelta(seconds=1))
            assert before_lease.run_until_idle().claimed == 0
        else:
            assert claimed == {None}
        notifier = SinkNotifier(str(fresh_sink))
        dispatcher = Dispatcher(
            unit_of_work=store.unit_of_work,
            notifier=notifier,
            clock=ManualClock(T0 + LEASE),
            lease=LEASE,
        )
        report = dispatcher.run_until_idle()
        assert len(report.sent) == 5
        assert report.claimed == 5
        stored = _messages(store)
        assert {m.status for m in stored.values()} == {MessageStatus.SENT}
        assert Counter(_lines(fresh_sink)) == {m.idempotency_key: 1 for m in stored.values()}
        # Each delivered link works (its digest was stored, on the SQL store).
        services = _services(store, ManualClock(T0 + LEASE), 500)
        for message in stored.values():
            token = notifier.tokens[message.idempotency_key]
            assert services.open(token).user_id == message.user_id
    # A second dispatcher later finds nothing to do.
    with database.store() as store:
        assert _fresh_dispatcher(store, fresh_sink, T0 + 2 * LEASE).run_until_idle().claimed == 0


# -- dispatchers racing on PostgreSQL --------------------------------------------------------


def _race(workers: Workers, tmp_path: Path, count: int, task: dict[str, Any]) -> list[SinkWorker]:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    started = [
        workers.start(f"racer-{n}", {**task, "barrier": str(barrier), "parties": count})
        for n in range(count)
    ]
    workers.finish(timeout=READY_TIMEOUT + RUN_TIMEOUT)
    return started


@pytest.mark.postgres
def test_dispatchers_racing_on_postgresql_hand_each_key_to_a_notifier_exactly_once(
    postgres_database, workers, tmp_path
):
    """300 plain messages, and 30 invitations with a link and a reminder each.

    The links are minted on the onboarding records as they are sent: two racers may mint
    for one record at once, and each must still send its message (none cancelled).
    """
    workers.database = postgres_database
    with postgres_database.store() as store:
        keys = _seed_messages(store, 300)
        practice = sample_onboarding(
            ProductKind.HOSPITAL, unit_of_work=store.unit_of_work, clock=ManualClock(T0)
        )
        linked = (MessageKind.INVITATION, MessageKind.INVITATION_REMINDER)
        invited = _seed_invitations(
            store, practice.establishment.id, practice.owner.id, 30, messages=linked
        )
        stored = _messages(store)
    keys |= {m.idempotency_key for m in stored.values()}
    assert len(keys) == 360
    racers = _race(
        workers,
        tmp_path,
        3,
        {"task": "dispatch", "clock": T0.isoformat(), "batch_size": 10, "pause": 0.0005},
    )
    calls = _sink(workers)
    duplicates = calls - Counter(keys)
    assert not duplicates, f"keys handed to a notifier more than once: {dict(duplicates)}"
    assert set(calls) == keys
    results = [racer.result() for racer in racers]
    for outcome in ("retrying", "failed", "cancelled"):
        assert [r[outcome] for r in results] == [[]] * 3, outcome
    sent = [set(r["sent"]) for r in results]
    assert sum(len(s) for s in sent) == 360
    assert set.union(*sent) == set(stored)
    assert sum(1 for s in sent if s) >= 2, f"no race: {[len(s) for s in sent]} sent per worker"
    with postgres_database.store() as store:
        after = _messages(store).values()
        assert {m.status for m in after} == {MessageStatus.SENT}
        assert {m.attempts for m in after} == {1}
        with store.unit_of_work() as uow:
            links = {len(uow.onboardings.get(user_id).token_digests) for user_id in invited}
    assert links == {2}  # one live link per message sent


def test_dispatchers_racing_on_sqlite_take_turns_and_send_each_key_once(workers, tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
    with database.store() as store:
        store.create_schema()
        keys = _seed_messages(store, 100)
    workers.database = database
    _race(workers, tmp_path, 2, {"task": "dispatch", "clock": T0.isoformat(), "batch_size": 10})
    assert _sink(workers) == Counter(keys)


# -- sweepers racing on PostgreSQL -----------------------------------------------------------


def _seed_invitations(
    store: SqlStore,
    establishment_id: EstablishmentId,
    owner: UserId,
    count: int,
    *,
    messages: tuple[MessageKind, ...] = (),
) -> list[UserId]:
    """Invite ``count`` made-up accounts at T0, written straight through the repositories.

    What :meth:`OnboardingService.invite` stores for each, less the membership, which
    neither the sweep nor the dispatcher reads, and with ``messages`` of these kinds (round
    1, random ids like the service's): one unit of work instead of ``count``.
    """
    users = [
        sample_user(
            id=UserId(f"invite-{n:04d}"),
            login=Login(f"invite{n}"),
            email=EmailAddress(f"invite{n}@hopital-exemple.fr"),
            first_name="Nadia",
            last_name=f"Exemple{n}",
            created_at=T0,
        )
        for n in range(count)
    ]
    with store.unit_of_work() as uow:
        for user in users:
            uow.users.add(user)
            step = invitation.invite(
                user.id,
                establishment_id,
                mode=OnboardingMode.INVITATION,
                email_key=user.email.key,
                now=T0,
                settings=InvitationSettings(),
                invited_by=owner,
                locale="fr-FR",
            )
            uow.onboardings.add(step.onboarding)
            for kind in messages:
                uow.outbox.add(
                    Message(
                        id=new_message_id(),
                        kind=kind,
                        recipient=user.email.address,
                        locale="fr-FR",
                        idempotency_key=f"onboarding:{user.id}:v0:{kind}",
                        created_at=T0,
                        next_attempt_at=T0,
                        user_id=user.id,
                        link_round=1,
                    )
                )
        uow.commit()
    return [user.id for user in users]


@pytest.mark.postgres
def test_sweepers_racing_on_postgresql_write_each_reminder_and_expiry_exactly_once(
    postgres_database, workers, tmp_path
):
    workers.database = postgres_database
    with postgres_database.store() as store:
        practice = sample_onboarding(
            ProductKind.HOSPITAL, unit_of_work=store.unit_of_work, clock=ManualClock(T0)
        )
        users = _seed_invitations(store, practice.establishment.id, practice.owner.id, 120)
        # Two accounts deactivated around the service: the sweep deactivates them instead.
        deactivated = users[:2]
        with store.unit_of_work() as uow:
            for user_id in deactivated:
                uow.users.update(uow.users.get(user_id).deactivate())
            uow.commit()
    phases = [T0 + timedelta(days=3), T0 + timedelta(days=14)]
    racers = _race(
        workers,
        tmp_path,
        3,
        {
            "task": "sweep",
            "clock": T0.isoformat(),
            "batch_size": 10,
            "phases": [p.isoformat() for p in phases],
        },
    )
    results = [racer.result()["phases"] for racer in racers]

    def changed(phase: int, bucket: str) -> Counter[str]:
        return Counter(u for result in results for u in result[phase][bucket])

    reminded = changed(0, "reminded")
    assert reminded == dict.fromkeys(users[2:], 1)
    assert changed(0, "deactivated") == dict.fromkeys(deactivated, 1)
    assert changed(0, "expired") == {}
    assert changed(1, "expired") == dict.fromkeys(users[2:], 1)
    assert changed(1, "reminded") == changed(1, "deactivated") == {}
    shares = [
        sum(len(result[0][b]) for b in ("reminded", "expired", "deactivated")) for result in results
    ]
    assert sum(1 for share in shares if share) >= 2, f"no race: {shares} records per worker"

    with postgres_database.store() as store:
        stored = list(_messages(store).values())
        per_user_kind = Counter((m.user_id, m.kind) for m in stored)
        keys = Counter(m.idempotency_key for m in stored)
        # A second sweep at each time changes nothing: idempotent.
        again = _services(store, ManualClock(T0), 10)
        assert again.run_due(phases[0]).changed == 0
        assert again.run_due(phases[1]).changed == 0
        assert len(_messages(store)) == len(stored)
    assert max(keys.values()) == 1
    expected: Counter[tuple[UserId | None, MessageKind]] = Counter()
    for user_id in users:
        if user_id in deactivated:
            expected[user_id, MessageKind.ACCOUNT_DEACTIVATED] = 1
        else:
            expected[user_id, MessageKind.INVITATION_REMINDER] = 1
            expected[user_id, MessageKind.INVITATION_EXPIRED] = 1
    assert per_user_kind == expected
