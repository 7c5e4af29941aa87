"""Concurrency and faults across processes (issue 6), on a SQLite file and on PostgreSQL.

Threads share one interpreter, one engine and one pool; hosts run several processes (web
workers, a CLI next to a server). These tests start real processes with ``sys.executable``:

* several of them register overlapping logins and e-mail addresses at the same moment, and
  the database ends up with exactly one user per key, nothing lost, and every refusal coded;
* one is killed (SIGKILL) inside a unit of work, or right after its commit returned, and the
  database is left consistent, with no lock behind.

The workers run functions of this module, whose source is sent to ``python -c`` (tests are
not a package: a worker cannot import this module). Those functions use only the names
imported by ``_WORKER_PRELUDE``. Every wait is bounded: a hang fails the test, with the
workers' tracebacks (faulthandler on SIGUSR1), instead of running into a CI time-out.
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from practiceid import (
    AccountService,
    EmailAddress,
    EmailPolicy,
    Establishment,
    EstablishmentId,
    Login,
    LoginPolicy,
    Membership,
    Organisation,
    OrganisationId,
    PracticeIdError,
    ProductKind,
    RoleId,
    StorageUnavailable,
    User,
    UserId,
)
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.adapters.sql import SqlStore
from practiceid.testing import ManualClock, fast_hasher

from . import _workers
from ._workers import (
    DATABASES,
    WorkerPool,
    new_database,
    wait_for_backends_exit,
    worker_script,
)

READY_TIMEOUT = 60.0
"""Seconds the workers get to start (import, connect) before the test fails."""
RUN_TIMEOUT = 120.0
"""Seconds the workers get to finish once started: a hang fails the test."""
LOCK_WAIT = 2.0
"""Seconds a unit of work may wait for a lock after a kill: "at once", with slack for CI."""

PASSWORD = "Vrai-Cheval-Agrafe-42"
WORKERS = 6
ATTEMPTS = 40
SEED = 20260105
DUPLICATES = frozenset({"user.duplicate_login", "user.duplicate_email"})


# -- what runs in the workers ---------------------------------------------------------------
# These functions run in the worker processes (and some in the parent too): they may use
# only the names _WORKER_PRELUDE imports.


def _user_fields(user: User) -> dict[str, object]:
    """Every stored field of a user, as JSON values (login and e-mail: display and key)."""
    return {
        "id": user.id,
        "login": user.login.display,
        "login_key": user.login.key,
        "email": user.email.address,
        "email_key": user.email.key,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "job_title": user.job_title,
        "created_at": user.created_at.isoformat(),
        "status": user.status.value,
        "password_hash": user.password_hash,
        "version": user.version,
    }


def _practice(
    tag: str,
) -> tuple[list[User], Organisation, Establishment, list[Membership]]:
    """Three users, an organisation, an establishment and the users' memberships in it."""
    when = datetime(2026, 1, 5, 9, 30, 15, 123456, tzinfo=UTC)
    users = [
        User(
            id=UserId(f"{tag}-{n}"),
            login=Login(f"{tag}.Zoé-{n}"),
            email=EmailAddress(f"{tag}.{n}@Cabinet-exemple.be"),
            first_name="Zoé",
            last_name=f"Exemple-{tag}",
            job_title="Secrétaire",
            created_at=when,
            password_hash=f"$argon2id$v=19$m=64,t=1,p=1${tag}${n}",
        )
        for n in range(3)
    ]
    organisation = Organisation.found(
        OrganisationId(f"{tag}-org"), name=f"Groupe {tag}", owner=users[0].id, created_at=when
    )
    establishment = Establishment.open(
        EstablishmentId(f"{tag}-est"),
        organisation_id=organisation.id,
        name=f"Cabinet {tag}",
        product=ProductKind.GENERAL_PRACTICE,
        created_at=when,
    )
    memberships = [
        Membership.join(user.id, establishment.id, roles=[RoleId("physician")], created_at=when)
        for user in users
    ]
    return users, organisation, establishment, memberships


def _write_practice(uow: Any, tag: str) -> None:
    users, organisation, establishment, memberships = _practice(tag)
    for user in users:
        uow.users.add(user)
    uow.organisations.add(organisation)
    uow.establishments.add(establishment)
    for membership in memberships:
        uow.memberships.add(membership)


def _write_tagged(uow: Any, tag: str, day: int) -> None:
    """A practice, a member of the base one, and the base owner's changed e-mail, all tagged.

    The update takes a row lock on PostgreSQL: the next unit of work needs that row.
    """
    _write_practice(uow, tag)
    uow.memberships.add(
        Membership.join(
            UserId(f"{tag}-0"),
            EstablishmentId("base-est"),
            roles=[RoleId("secretary")],
            created_at=datetime(2026, 1, day, 8, 0, tzinfo=UTC),
        )
    )
    owner = uow.users.get(UserId("base-0"))
    uow.users.update(owner.with_email(EmailAddress(f"{tag}.renamed@cabinet-exemple.be")))


def _write_doomed(uow: Any) -> None:
    """What the killed worker writes."""
    _write_tagged(uow, "doomed", 6)


def _write_afterwards(uow: Any) -> None:
    """What the parent writes after the kill, on the rows the worker had touched."""
    _write_tagged(uow, "after", 7)


def _register_in_worker(store: SqlStore, config: dict[str, Any]) -> None:
    clock = ManualClock(datetime.fromisoformat(config["clock"]))
    accounts = AccountService(
        unit_of_work=store.unit_of_work,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=StaticAuthorizer(),
    )
    with store.unit_of_work() as uow:  # connect now rather than in the race
        uow.users.find_by_login(Login("warm-up"))
    Path(config["ready"]).touch()
    sys.stdin.read()  # the barrier: the parent closes every worker's stdin at once
    outcomes: list[dict[str, object]] = []
    for attempt in config["attempts"]:
        clock.advance(seconds=1, microseconds=1)
        outcome: dict[str, object]
        try:
            registration = accounts.register(
                login=attempt["login"],
                email=attempt["email"],
                password=config["password"],
                password_confirmation=config["password"],
                first_name=attempt["first_name"],
                last_name=attempt["last_name"],
            )
        except PracticeIdError as error:
            outcome = {"code": error.code, "error": repr(error)}
        except Exception:  # noqa: BLE001 - reported to the parent, which fails the test
            outcome = {"exception": traceback.format_exc()}
        else:
            outcome = {"user": _user_fields(registration.user)}
        outcomes.append(outcome)
    sys.stdout.write(json.dumps(outcomes, default=str))


def _die_in_unit_of_work(store: SqlStore, config: dict[str, Any]) -> None:
    with store.unit_of_work() as uow:
        _write_doomed(uow)
        backend = None
        if store.engine.dialect.name == "postgresql":
            backend = uow.active().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        if config["commit"]:
            uow.commit()
        signal_path = Path(config["signal"])
        written = signal_path.with_suffix(".tmp")
        written.write_text(json.dumps({"backend": backend}), encoding="utf-8")
        written.replace(signal_path)  # atomic: the parent never reads half a file
        time.sleep(config["sleep"])  # the parent kills us meanwhile


def _worker_main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    store = SqlStore.from_url(config["url"], schema=config["schema"])
    try:
        if config["task"] == "register":
            _register_in_worker(store, config)
        else:
            _die_in_unit_of_work(store, config)
    finally:
        store.close()


_WORKER_PRELUDE = """\
from __future__ import annotations

import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from practiceid import (
    AccountService,
    EmailAddress,
    Establishment,
    EstablishmentId,
    Login,
    Membership,
    Organisation,
    OrganisationId,
    PracticeIdError,
    ProductKind,
    RoleId,
    User,
    UserId,
)
from practiceid.adapters import StaticAuthorizer
from practiceid.adapters.sql import SqlStore
from practiceid.testing import ManualClock, fast_hasher
"""

WORKER_SCRIPT = worker_script(
    _WORKER_PRELUDE,
    _user_fields,
    _practice,
    _write_practice,
    _write_tagged,
    _write_doomed,
    _register_in_worker,
    _die_in_unit_of_work,
    _worker_main,
)


# -- the parent's side ----------------------------------------------------------------------


class Database(_workers.Database):
    """A :class:`_workers.Database` whose stores may be impatient for locks."""

    def store(self, *, lock_wait: float | None = None) -> SqlStore:
        """A store whose units of work wait at most ``lock_wait`` seconds for a lock."""
        options: dict[str, Any] = {}
        if lock_wait is not None and self.is_postgres:
            options["connect_args"] = {"options": f"-c lock_timeout={round(lock_wait * 1000)}"}
        elif lock_wait is not None:
            options["connect_args"] = {"timeout": lock_wait}
        return SqlStore.from_url(self.url, schema=self.schema, **options)


@pytest.fixture(params=DATABASES)
def database(request, tmp_path) -> Iterator[Database]:
    """A new SQLite file, or a schema of the test's own on PostgreSQL, dropped at the end."""
    yield from new_database(Database, request.param, tmp_path / "practice.db")


class Workers(WorkerPool):
    """Workers running this module's ``WORKER_SCRIPT``."""

    script = WORKER_SCRIPT


@pytest.fixture
def workers(tmp_path) -> Iterator[Workers]:
    yield from Workers.running(tmp_path)


# -- many processes register overlapping users at once -------------------------------------


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _attempts(rng: random.Random, worker: int) -> list[dict[str, str]]:
    """Registrations whose logins and e-mails collide with the other workers'.

    Step ``j`` of every worker takes the login and the e-mail of person ``j`` or ``j + 1``
    (and one attempt in seven, of anyone): workers that run in step fight over the same keys
    at the same moment, in other cases, other widths, with other partners.
    """
    attempts = []
    for step in range(ATTEMPTS):
        if rng.random() < 1 / 7:
            login_of, email_of = rng.randrange(ATTEMPTS + 1), rng.randrange(ATTEMPTS + 1)
        else:
            login_of = step + rng.randint(0, 1)
            email_of = login_of if rng.random() < 0.6 else step + rng.randint(0, 1)
        login = f"dr.p{login_of}"
        local, domain = f"p{email_of}.nom", "cabinet-exemple.be"
        attempts.append(
            {
                "login": rng.choice(
                    [login, login.upper(), login.title(), _fullwidth(login), f"  {login} "]
                ),
                "email": f"{rng.choice([local, local.upper(), local.title()])}@"
                f"{rng.choice([domain, domain.upper()])}",
                "first_name": rng.choice(["Zoé", "Anaïs", "Jean-Éric", "Ngozi", "Maëlle"]),
                "last_name": f"Exemple de l'étape {chr(ord('a') + worker)}",
            }
        )
    return attempts


def _keys(attempt: dict[str, str]) -> tuple[str, str]:
    return LoginPolicy().parse(attempt["login"]).key, EmailPolicy().parse(attempt["email"]).key


def test_processes_registering_overlapping_users_at_once_store_one_user_per_key(
    database, workers, tmp_path
):
    rng = random.Random(SEED)  # noqa: S311 - reproducible test data, not secrets
    attempts = [_attempts(rng, w) for w in range(WORKERS)]
    ready = [tmp_path / f"register-{w}.ready" for w in range(WORKERS)]
    for w in range(WORKERS):
        workers.start(
            f"register-{w}",
            {
                "task": "register",
                "url": database.url,
                "schema": database.schema,
                "attempts": attempts[w],
                "password": PASSWORD,
                "clock": datetime(2026, 1, 5, 9, w, tzinfo=UTC).isoformat(),
                "ready": str(ready[w]),
            },
            barrier=True,
        )
    workers.wait_until(
        lambda: all(path.exists() for path in ready), timeout=READY_TIMEOUT, what="ready workers"
    )
    workers.release_barrier()
    workers.finish(timeout=RUN_TIMEOUT)
    outcomes = [json.loads(w.out.read_text(encoding="utf-8")) for w in workers.started]
    assert [len(o) for o in outcomes] == [ATTEMPTS] * WORKERS

    tried = [
        (w, j, attempt, outcomes[w][j])
        for w in range(WORKERS)
        for j, attempt in enumerate(attempts[w])
    ]
    unexpected = [
        f"worker {w}, attempt {j}: {attempt}\n  -> {outcome}"
        for w, j, attempt, outcome in tried
        if "user" not in outcome and outcome.get("code") not in DUPLICATES
    ]
    assert not unexpected, "\n".join(["attempts neither stored nor refused:", *unexpected])

    successes = {
        outcome["user"]["id"]: (attempt, outcome["user"])
        for *_, attempt, outcome in tried
        if "user" in outcome
    }
    with database.store() as store, store.unit_of_work() as uow:
        stored = {user.id: user for user in uow.users.list()}
        by_login = {
            key: uow.users.find_by_login(Login(key)) for key in {_keys(a)[0] for *_, a, _ in tried}
        }
        by_email = {
            key: uow.users.find_by_email(EmailAddress(key))
            for key in {_keys(a)[1] for *_, a, _ in tried}
        }

    # Nothing lost, nothing extra: the stored users are the successful registrations, as
    # registered (display forms, names, times to the microsecond, password hash).
    assert sorted(stored) == sorted(successes)
    hasher = fast_hasher()
    for user_id, (attempt, registered) in successes.items():
        assert _user_fields(stored[user_id]) == registered
        assert registered["login"] == unicodedata.normalize("NFC", attempt["login"].strip())
        assert (registered["login_key"], registered["email_key"]) == _keys(attempt)
        hasher.verify(stored[user_id].password_hash, PASSWORD)

    # One user per login key and per e-mail key, found by either.
    assert Counter(u.login.key for u in stored.values()).most_common(1)[0][1] == 1
    assert Counter(u.email.key for u in stored.values()).most_common(1)[0][1] == 1
    holder_of_login = {registered["login_key"]: i for i, (_, registered) in successes.items()}
    holder_of_email = {registered["email_key"]: i for i, (_, registered) in successes.items()}
    assert {k: u.id for k, u in by_login.items() if u is not None} == holder_of_login
    assert {k: u.id for k, u in by_email.items() if u is not None} == holder_of_email

    # A refusal names a key that another attempt holds.
    refusals = Counter()
    for w, j, attempt, outcome in tried:
        if "user" in outcome:
            continue
        login_key, email_key = _keys(attempt)
        refusals[outcome["code"]] += 1
        if outcome["code"] == "user.duplicate_login":
            assert login_key in holder_of_login, (w, j, attempt, outcome)
        else:
            assert email_key in holder_of_email, (w, j, attempt, outcome)
    assert sum(refusals.values()) + len(successes) == WORKERS * ATTEMPTS
    assert refusals["user.duplicate_login"] > 0
    assert refusals["user.duplicate_email"] > 0


# -- a process killed in a unit of work ----------------------------------------------------


def _snapshot(unit_of_work: Callable[[], Any]) -> dict[str, list[object]]:
    """Everything stored: users (every field), organisations, establishments, memberships."""
    with unit_of_work() as uow:
        users = uow.users.list()
        return {
            "users": [_user_fields(user) for user in users],
            "organisations": list(uow.organisations.list()),
            "establishments": list(uow.establishments.list()),
            "memberships": [m for user in users for m in uow.memberships.list_for_user(user.id)],
        }


def _write_and_commit(unit_of_work: Callable[[], Any], write: Callable[[Any], None]) -> None:
    with unit_of_work() as uow:
        write(uow)
        uow.commit()


def _wait_for_backend_exit(store: SqlStore, backend: int) -> None:
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    failure = f"PostgreSQL backend {backend} outlived its killed client"
    wait_for_backends_exit(store.engine, query, {"pid": backend}, failure=failure)


@pytest.mark.parametrize("moment", ["inside", "after_commit"])
def test_a_process_killed_in_a_unit_of_work_leaves_the_database_consistent(
    database, workers, tmp_path, moment
):
    # The state the database must show, kept by the in-memory store.
    model = InMemoryStore()
    with database.store() as store:
        for unit_of_work in (store.unit_of_work, model.unit_of_work):
            _write_and_commit(unit_of_work, lambda uow: _write_practice(uow, "base"))
    committed = moment == "after_commit"
    if committed:
        _write_and_commit(model.unit_of_work, _write_doomed)

    signal_path = tmp_path / "inside.json"
    worker = workers.start(
        "doomed",
        {
            "task": "die",
            "url": database.url,
            "schema": database.schema,
            "commit": committed,
            "signal": str(signal_path),
            "sleep": RUN_TIMEOUT,
        },
    )
    workers.wait_until(signal_path.exists, timeout=READY_TIMEOUT, what="signal from the worker")
    backend = json.loads(signal_path.read_text(encoding="utf-8"))["backend"]

    with database.store(lock_wait=LOCK_WAIT) as store:
        if not committed:
            # The worker holds the write lock (SQLite) or base-0's row lock (PostgreSQL),
            # so what follows tests something.
            with database.store(lock_wait=0.2) as impatient, pytest.raises(StorageUnavailable):
                _write_and_commit(impatient.unit_of_work, _write_afterwards)

        workers.sigkill(worker)
        if database.is_postgres:
            _wait_for_backend_exit(store, backend)
        # SQLite: the OS released the dead process's file locks; nothing to wait for.

        # Nothing of an open unit of work, everything of a committed one; the rest intact.
        assert _snapshot(store.unit_of_work) == _snapshot(model.unit_of_work)

        # No lock left behind: a unit of work on the same rows gets them at once.
        started = time.monotonic()
        try:
            _write_and_commit(store.unit_of_work, _write_afterwards)
        except StorageUnavailable as error:
            pytest.fail(f"a lock outlived the killed worker: {error!r}")
        waited = time.monotonic() - started
        _write_and_commit(model.unit_of_work, _write_afterwards)
        assert waited < LOCK_WAIT
        assert _snapshot(store.unit_of_work) == _snapshot(model.unit_of_work)
        store.check_schema()
        if not database.is_postgres:
            with store.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
