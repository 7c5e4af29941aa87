from __future__ import annotations

import pytest

from practiceid.adapters import InMemoryStore
from practiceid.errors import UnitOfWorkError
from practiceid.ports import UnitOfWorkFactory
from practiceid.testing.contracts import UserRepositoryContract


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
