from __future__ import annotations

import pytest

from practiceid import DjangoPbkdf2Hasher, MigratingHasher
from practiceid.adapters import InMemoryStore, StaticAuthorizer, SystemClock
from practiceid.errors import UnitOfWorkError
from practiceid.ports import UnitOfWorkFactory
from practiceid.testing import ManualClock, fast_hasher
from practiceid.testing.contracts import (
    AuthorizerContract,
    ClockContract,
    PasswordHasherContract,
    UserRepositoryContract,
)


class TestInMemoryUserRepository(UserRepositoryContract):
    def make_unit_of_work_factory(self) -> UnitOfWorkFactory:
        return InMemoryStore().unit_of_work


def test_entering_an_open_unit_of_work_again_is_refused():
    uow = InMemoryStore().unit_of_work()
    with uow, pytest.raises(UnitOfWorkError), uow:
        pass


def test_the_contract_base_class_demands_a_factory():
    with pytest.raises(NotImplementedError):
        UserRepositoryContract().make_unit_of_work_factory()


class TestStaticAuthorizer(AuthorizerContract):
    def make_authorizer(self, actor, permissions):
        return StaticAuthorizer({actor: permissions}, self_service=frozenset())


class TestSystemClock(ClockContract):
    def make_clock(self):
        return SystemClock()


class TestManualClock(ClockContract):
    def make_clock(self):
        return ManualClock()


class TestArgon2idHasher(PasswordHasherContract):
    def make_hasher(self):
        return fast_hasher()


class TestDjangoPbkdf2Hasher(PasswordHasherContract):
    def make_hasher(self):
        return DjangoPbkdf2Hasher(iterations=1_000)


class TestMigratingHasher(PasswordHasherContract):
    def make_hasher(self):
        return MigratingHasher(fast_hasher(), [DjangoPbkdf2Hasher(iterations=1_000)])


@pytest.mark.parametrize(
    ("contract", "factory"),
    [
        (AuthorizerContract(), "make_authorizer"),
        (ClockContract(), "make_clock"),
        (PasswordHasherContract(), "make_hasher"),
    ],
)
def test_every_contract_demands_its_factory(contract, factory):
    with pytest.raises(NotImplementedError):
        getattr(contract, factory)(*([None, None] if factory == "make_authorizer" else []))
