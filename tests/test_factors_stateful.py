"""A state machine over second-factor codes (F5): apps' codes, recovery codes, the budget.

The machine types codes for a physician holding a confirmed authenticator app and a set
of recovery codes, against a small model, with a clock that moves by a second, a step
(29, 30, 31 s) or past the budget's window. Codes typed: the current step's, the previous
and next steps' (accepted: ±1 step of drift), stale ones two or more steps away, random
wrong ones, and recovery codes, fresh or already used. Invariants, after every step:

* no code is ever accepted twice: the accepted steps strictly increase, each recovery code
  is accepted once;
* acceptance matches the model exactly: the model's last step and its unused codes are the
  store's, and every refusal is the model's (failed, replayed, throttled);
* throttling matches the model: a sliding window of 5 wrong codes in 15 minutes, and the
  ``retry_after`` the model computes;
* while throttled, no code is evaluated: the TOTP key is not even looked up.

The machine runs on the in-memory store, and on a SQLite file with fewer examples.
"""

from __future__ import annotations

import base64
import math
import tempfile
from datetime import datetime

import attrs
from hypothesis import assume, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from practiceid.adapters.sql import SqlStore
from practiceid.errors import (
    SecondFactorFailed,
    SecondFactorReplayed,
    SecondFactorThrottled,
)
from practiceid.factors import FactorKind
from practiceid.policies.factors import FactorSettings, totp_code
from practiceid.ports import FactorUnitOfWorkFactory
from practiceid.second_factors import SignInMethod
from practiceid.testing import sample_strong_auth

SETTINGS = FactorSettings()
PERIOD = SETTINGS.totp.period
WAITS = [1, 2, 29, 30, 31, 59, 60, 61, 89, 300, 899, 900, 901, 1800]


@attrs.define
class CountingKeys:
    """The sample's key provider, counting the lookups of the TOTP key (one a code checked)."""

    inner: object
    lookups: int = 0

    def current(self, purpose: str):
        return self.inner.current(purpose)

    def key(self, purpose: str, key_id: str) -> bytes:
        if purpose == "totp":
            self.lookups += 1
        return self.inner.key(purpose, key_id)


class FactorMachine(RuleBasedStateMachine):
    """Types codes against a model of what the service should accept."""

    def store(self) -> FactorUnitOfWorkFactory | None:
        """The store under test: None is the in-memory default."""
        return None

    @initialize()
    def physician(self) -> None:
        self.sample = sample_strong_auth(unit_of_work=self.store(), settings=SETTINGS)
        self.clock = self.sample.clock
        self.keys = CountingKeys(self.sample.keys)
        self.service = attrs.evolve(self.sample.factors, keys=self.keys)
        self.user = self.sample.physician
        enrolment = self.service.begin_totp(actor=self.user, user_id=self.user)
        self.secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
        self.app = enrolment.factor.id
        self.service.confirm_totp(actor=self.user, factor_id=self.app, code=self._code(0))
        issued = self.service.new_recovery_codes(actor=self.user, user_id=self.user)
        self.recovery = issued.factor.id
        self.codes = list(issued.codes)
        # The model.
        self.last_step = self._step()
        self.accepted_steps: list[int] = [self.last_step]
        self.used: set[str] = set()
        self.misses: list[datetime] = []
        self.throttled_lookups = 0
        self.via_sign_in = False

    # -- the model -----------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _step(self, offset: int = 0) -> int:
        return int(self._now().timestamp()) // PERIOD + offset

    def _code(self, offset: int) -> str:
        return totp_code(self.secret, self._step(offset) * PERIOD, SETTINGS.totp)

    def _distinct_around(self, reach: int = 4) -> dict[str, int]:
        """The codes of the steps around now, rejecting the rare run where two collide."""
        codes = {self._code(o): self._step(o) for o in range(-reach, reach + 1)}
        assume(len(codes) == 2 * reach + 1)
        return codes

    def _inside(self) -> list[datetime]:
        now = self._now()
        return sorted(m for m in self.misses if now - SETTINGS.attempt_window < m <= now)

    def _retry_after(self) -> int | None:
        inside = self._inside()
        if len(inside) < SETTINGS.attempts:
            return None
        free_at = inside[-SETTINGS.attempts] + SETTINGS.attempt_window
        return max(1, math.ceil((free_at - self._now()).total_seconds()))

    def _type(
        self, code: str, expected: str, step: int | None = None, printed: str | None = None
    ) -> None:
        """Type ``code``; ``expected`` is "totp", "recovery", "failed" or "replayed"
        when the budget allows a check. Checks the outcome against the model."""
        wait = self._retry_after()
        lookups = self.keys.lookups
        try:
            if self.via_sign_in:
                verified = self.service.sign_in(self.sample.login, self.sample.password, code=code)
            else:
                verified = self.service.verify(user_id=self.user, code=code)
        except SecondFactorThrottled as error:
            assert wait is not None, "throttled while the model's budget is not spent"
            assert error.params["retry_after"] == wait
            assert self.keys.lookups == lookups, "a code was evaluated while throttled"
            self.throttled_lookups += self.keys.lookups - lookups
            event("throttled")
            return
        except SecondFactorReplayed as error:
            assert wait is None, "a code was checked while the model says throttled"
            assert expected == "replayed", (expected, error)
            refused: SecondFactorFailed = error
        except SecondFactorFailed as error:
            assert wait is None, "a code was checked while the model says throttled"
            assert expected == "failed", (expected, error)
            refused = error
        else:
            assert wait is None, "a code was checked while the model says throttled"
            if expected == "totp":
                assert verified.method is SignInMethod.TOTP
                assert step is not None
                assert step > self.accepted_steps[-1], "a step accepted twice"
                self.last_step = step
                self.accepted_steps.append(step)
                event(f"accepted step {step - self._step():+d}")
            else:
                assert expected == "recovery", (expected, verified)
                assert verified.method is SignInMethod.RECOVERY_CODE
                assert printed is not None
                assert printed not in self.used, "a recovery code accepted twice"
                self.used.add(printed)
                event("recovery code accepted")
            return
        event(expected)
        self.misses.append(self._now())
        attempts_left = max(SETTINGS.attempts - len(self._inside()), 0)
        assert refused.params["attempts_left"] == attempts_left

    def _expect_totp(self, offset: int) -> tuple[str, int | None]:
        """What the model expects of the code ``offset`` steps from now."""
        self._distinct_around()
        step = self._step(offset)
        if abs(offset) <= SETTINGS.window and step > self.last_step:
            return "totp", step
        if abs(offset) <= SETTINGS.window:
            return "replayed", None
        return "failed", None

    # -- rules ---------------------------------------------------------------------------

    @rule()
    def current_code(self) -> None:
        expected, step = self._expect_totp(0)
        self._type(self._code(0), expected, step)

    @rule()
    def previous_step_code(self) -> None:
        expected, step = self._expect_totp(-1)
        self._type(self._code(-1), expected, step)

    @rule()
    def next_step_code(self) -> None:
        expected, step = self._expect_totp(1)
        self._type(self._code(1), expected, step)

    @rule(offset=st.sampled_from([-4, -3, -2, 2, 3, 4]))
    def stale_code(self, offset: int) -> None:
        expected, _ = self._expect_totp(offset)
        assert expected == "failed"
        self._type(self._code(offset), "failed")

    @rule(code=st.integers(0, 999_999).map(lambda n: f"{n:06d}"))
    def random_wrong_code(self, code: str) -> None:
        assume(code not in self._distinct_around())
        self._type(code, "failed")

    @rule(index=st.integers(0, 9), typed=st.sampled_from(["as printed", "lower", "no dashes"]))
    def recovery_code(self, index: int, typed: str) -> None:
        code = self.codes[index]
        entry = {
            "as printed": code,
            "lower": code.lower(),
            "no dashes": code.replace("-", ""),
        }[typed]
        expected = "failed" if code in self.used else "recovery"
        wait = self._retry_after()
        self._type(entry, expected, printed=code)
        if expected == "recovery" and wait is None:
            assert code in self.used

    @rule(code=st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=16, max_size=16))
    def wrong_recovery_code(self, code: str) -> None:
        printed = "-".join(code[i : i + 4] for i in range(0, 16, 4))
        assume(printed not in self.codes)
        self._type(printed, "failed")

    @rule(via_sign_in=st.booleans())
    def entry_point(self, via_sign_in: bool) -> None:  # noqa: FBT001
        """Type codes at a whole sign-in, or to ``verify`` after the host's own password form."""
        self.via_sign_in = via_sign_in

    @rule(seconds=st.sampled_from(WAITS))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @precondition(lambda self: self._retry_after() is not None)
    @rule()
    def wait_until_free(self) -> None:
        wait = self._retry_after()
        assert wait is not None
        if wait > 1:
            self.clock.advance(seconds=wait - 1)
            assert self._retry_after() is not None
        self.clock.advance(seconds=1)
        assert self._retry_after() is None

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def the_store_matches_the_model(self) -> None:
        with self.sample.unit_of_work() as uow:
            app = uow.factors.get(self.app)
            codes = uow.factors.get(self.recovery)
        assert app.kind is FactorKind.TOTP
        assert app.last_step == self.last_step
        assert codes.codes_left == len(self.codes) - len(self.used)

    @invariant()
    def steps_are_accepted_once(self) -> None:
        assert self.accepted_steps == sorted(set(self.accepted_steps))

    @invariant()
    def nothing_is_evaluated_while_throttled(self) -> None:
        assert self.throttled_lookups == 0


FactorMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestFactorMachine = FactorMachine.TestCase


class SqliteFactorMachine(FactorMachine):
    """The same machine on a SQLite file: the store keeps steps, digests and misses alike."""

    def store(self) -> FactorUnitOfWorkFactory | None:
        self._directory = tempfile.TemporaryDirectory()
        self._sql = SqlStore.from_url(f"sqlite:///{self._directory.name}/factors.sqlite")
        self._sql.create_schema()
        return self._sql.unit_of_work

    def teardown(self) -> None:
        sql = getattr(self, "_sql", None)
        if sql is not None:
            sql.close()
            self._directory.cleanup()


SqliteFactorMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=40, deadline=None
)
TestSqliteFactorMachine = SqliteFactorMachine.TestCase
