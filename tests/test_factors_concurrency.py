"""Second factors under concurrent callers: a code is accepted exactly once (F5).

Threads released together by a barrier sign in with the same valid code: the app's
current code, or one recovery code. Each accepted use writes the factor at the version it
read, so only one of them commits; the others, retried, find the step or the code spent
(SecondFactorReplayed, SecondFactorFailed: a miss each, so past the budget's fifth they
are SecondFactorThrottled), or run out of retries on a busy guard (StaleRecord: nothing
accepted). Then the rules that span several factors of a user (the last required factor,
``max_factors``, one set of recovery codes), with callers made to read before either
writes. Runs on the in-memory store, a SQLite file and PostgreSQL (READ COMMITTED).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Self

import attrs
import pytest

from practiceid.audit import PLATFORM_CHAIN, Outcome
from practiceid.errors import (
    FactorNotFound,
    LastFactor,
    PracticeIdError,
    SecondFactorFailed,
    SecondFactorReplayed,
    SecondFactorThrottled,
    StaleRecord,
)
from practiceid.policies.factors import FactorSettings
from practiceid.ports import FactorUnitOfWorkFactory
from practiceid.second_factors import RecoveryCodes, SignedIn, SignInMethod
from practiceid.testing import SampleStrongAuth, sample_strong_auth

from .conftest import together

THREADS = 8


@pytest.fixture
def factory(sample_unit_of_work) -> FactorUnitOfWorkFactory | None:
    """The unit of work of the store under test: None is the in-memory default."""
    return sample_unit_of_work


def _accepted_events(clinic: SampleStrongAuth) -> list[str]:
    with clinic.unit_of_work() as uow:
        records = list(uow.audit.records(PLATFORM_CHAIN))
    return [
        str(r.event.detail.get("method"))
        for r in records
        if r.event.action == "factor.verify" and r.event.outcome is Outcome.SUCCEEDED
    ]


def _exactly_once(outcomes: list[Any], method: SignInMethod, refusal: type) -> None:
    signed_in = [o for o in outcomes if isinstance(o, SignedIn)]
    assert len(signed_in) == 1, outcomes
    assert signed_in[0].method is method
    others = [o for o in outcomes if not isinstance(o, SignedIn)]
    # Each loser's spent code is a miss: past the fifth, the rest are not even checked.
    assert all(isinstance(o, refusal | SecondFactorThrottled | StaleRecord) for o in others), others
    assert any(isinstance(o, refusal) for o in others), others


@pytest.mark.parametrize("round_", range(3))
def test_one_app_code_signs_in_once_among_concurrent_callers(factory, round_) -> None:
    """F5: 8 sign-ins with the same current code at once: exactly one gets in."""
    clinic = sample_strong_auth(unit_of_work=factory)
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.confirm_totp(
        actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
    )
    clinic.clock.advance(seconds=30 * (round_ + 1))
    code = clinic.app_code(enrolment)
    outcomes = together(
        [lambda: clinic.factors.sign_in(clinic.login, clinic.password, code=code)] * THREADS
    )
    _exactly_once(outcomes, SignInMethod.TOTP, SecondFactorReplayed)
    assert _accepted_events(clinic) == ["totp"]
    with clinic.unit_of_work() as uow:
        assert uow.factors.get(enrolment.factor.id).last_step == int(
            clinic.clock.now().timestamp() // 30
        )


@pytest.mark.parametrize("round_", range(3))
def test_one_recovery_code_signs_in_once_among_concurrent_callers(factory, round_) -> None:
    """F5: 8 sign-ins with the same recovery code at once: it is spent once."""
    clinic = sample_strong_auth(unit_of_work=factory)
    issued = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    code = issued.codes[round_]
    outcomes = together(
        [lambda: clinic.factors.sign_in(clinic.login, clinic.password, code=code)] * THREADS
    )
    _exactly_once(outcomes, SignInMethod.RECOVERY_CODE, SecondFactorFailed)
    assert _accepted_events(clinic) == ["recovery_code"]
    with clinic.unit_of_work() as uow:
        assert uow.factors.get(issued.factor.id).codes_left == 9


def test_concurrent_wrong_codes_never_overrun_the_budget(factory) -> None:
    """F5: 8 callers guessing at once, round after round: at most 5 guesses are evaluated
    within the window; every other caller is refused unevaluated."""
    clinic = sample_strong_auth(unit_of_work=factory)
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.confirm_totp(
        actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
    )
    clinic.clock.advance(seconds=30)
    right = {clinic.app_code(enrolment)}
    wrong = iter([f"{n:06d}" for n in range(100_000, 999_999, 7919) if f"{n:06d}" not in right])
    for _ in range(10):
        guesses = [next(wrong) for _ in range(THREADS)]
        outcomes = together(
            [
                (lambda code=code: clinic.factors.verify(user_id=clinic.physician, code=code))
                for code in guesses
            ]
        )
        assert all(isinstance(o, PracticeIdError) for o in outcomes), outcomes
        if all(o.code == "auth.second_factor_throttled" for o in outcomes):
            break
    else:  # pragma: no cover - the budget is spent within a few rounds
        pytest.fail("the budget was never spent")
    with clinic.unit_of_work() as uow:
        records = list(uow.audit.records(PLATFORM_CHAIN))
    evaluated = [
        r
        for r in records
        if r.event.action == "factor.verify"
        and r.event.code in {"auth.second_factor_failed", "auth.second_factor_replayed"}
    ]
    assert len(evaluated) == clinic.factors.settings.attempts


class _Meeting:
    """A unit-of-work factory whose callers meet once they have listed a user's factors.

    Two removals then both read the factors before either deletes, on a store that lets
    them (a database at READ COMMITTED); a store that serializes units of work makes the
    second caller wait, and the meeting times out instead. Each thread meets once.
    """

    def __init__(self, factory: Callable[[], Any], parties: int) -> None:
        self.factory = factory
        self.barrier = threading.Barrier(parties, timeout=1)
        self.met = threading.local()

    def __call__(self) -> Any:
        return _MeetingUnitOfWork(self.factory(), self)


class _MeetingUnitOfWork:
    def __init__(self, inner: Any, meeting: _Meeting) -> None:
        self._inner = inner
        self._meeting = meeting

    def __enter__(self) -> Self:
        self._entered = self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._entered, name)
        return _MeetingFactors(value, self._meeting) if name == "factors" else value


class _MeetingFactors:
    def __init__(self, inner: Any, meeting: _Meeting) -> None:
        self._inner = inner
        self._meeting = meeting

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list_for_user(self, user_id: Any) -> Any:
        listed = self._inner.list_for_user(user_id)
        if not getattr(self._meeting.met, "done", False):
            self._meeting.met.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                self._meeting.barrier.wait()
        return listed


@pytest.mark.parametrize("order", ["phone first", "tablet first"])
def test_concurrent_removals_never_remove_the_last_required_factor(factory, order) -> None:
    """F5: with a second factor required, two apps removed at once: one of them stays."""
    clinic = sample_strong_auth(unit_of_work=factory)
    apps = []
    for name in ("Phone", "Tablet"):
        enrolment = clinic.factors.begin_totp(
            actor=clinic.physician, user_id=clinic.physician, name=name
        )
        clinic.factors.confirm_totp(
            actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
        )
        apps.append(enrolment.factor.id)
    clinic.factors.require_second_factor(
        actor=clinic.owner, establishment_id=clinic.establishment.id, required=True
    )
    if order == "tablet first":
        apps.reverse()
    service = attrs.evolve(clinic.factors, unit_of_work=_Meeting(clinic.unit_of_work, 2))
    outcomes = together(
        [
            (
                lambda app=app: service.remove(
                    actor=clinic.physician, factor_id=app, password=clinic.password
                )
            )
            for app in apps
        ]
    )
    left = clinic.factors.factors(actor=clinic.physician, user_id=clinic.physician)
    assert len(left) == 1, outcomes
    assert sum(o is None for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, LastFactor) for o in outcomes) == 1, outcomes


def test_concurrent_new_recovery_codes_leave_one_set(factory) -> None:
    """F5: two new sets at once (a double click): one set stays, the other's codes fail."""
    clinic = sample_strong_auth(unit_of_work=factory)
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    service = attrs.evolve(clinic.factors, unit_of_work=_Meeting(clinic.unit_of_work, 2))
    outcomes = together(
        [lambda: service.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)] * 2
    )
    left = clinic.factors.factors(actor=clinic.physician, user_id=clinic.physician)
    assert len(left) == 1, outcomes
    (kept,) = left
    assert kept.id in {o.factor.id for o in outcomes if isinstance(o, RecoveryCodes)}


def test_a_concurrent_new_set_of_recovery_codes_is_not_refused_as_unknown(factory) -> None:
    """F5: the losing call of a double click is served again (or refused as a conflict),
    never told that a factor it did not name does not exist."""
    clinic = sample_strong_auth(unit_of_work=factory)
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    service = attrs.evolve(clinic.factors, unit_of_work=_Meeting(clinic.unit_of_work, 2))
    outcomes = together(
        [lambda: service.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)] * 2
    )
    assert not any(isinstance(o, FactorNotFound) for o in outcomes), outcomes


def test_concurrent_enrolments_respect_max_factors(factory) -> None:
    """F5: two enrolments at once for a user with room for one: one is refused."""
    clinic = sample_strong_auth(unit_of_work=factory, settings=FactorSettings(max_factors=1))
    service = attrs.evolve(clinic.factors, unit_of_work=_Meeting(clinic.unit_of_work, 2))
    outcomes = together(
        [lambda: service.begin_totp(actor=clinic.physician, user_id=clinic.physician)] * 2
    )
    left = clinic.factors.factors(actor=clinic.physician, user_id=clinic.physician)
    assert len(left) == 1, outcomes
