from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

pytest.register_assert_rewrite("practiceid.testing.contracts")

from practiceid import AccountService, Permission, UserId
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.testing import ManualClock, fast_hasher

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SUPPORT = UserId("support")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def accounts(store: InMemoryStore, clock: ManualClock) -> AccountService:
    return AccountService(
        unit_of_work=store.unit_of_work,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=StaticAuthorizer({SUPPORT: {Permission.CHANGE_EMAIL}}),
        practice_name="Cabinet médical des Tilleuls",
    )
