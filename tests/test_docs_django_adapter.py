"""The worked example of docs/adapters.md, a Django host, passes UserRepositoryContract (A1, A2).

The example's code is the page's own: its python blocks run in order, in one namespace, as
tests/test_docs.py runs them, up to the block that defines ``DjangoUserStore``. The blocks
after it use the adapter; the suite below tests it.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from pathlib import Path

import pytest

from practiceid import DuplicateLogin, Login
from practiceid.ports import UnitOfWorkFactory
from practiceid.testing import sample_user
from practiceid.testing.contracts import UserRepositoryContract

PAGE = Path(__file__).resolve().parent.parent / "docs" / "adapters.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
ADAPTER = "DjangoUserStore"


@functools.cache
def _example() -> dict[str, object]:
    """Run the page's python blocks up to the one that defines the adapter; return its names."""
    namespace: dict[str, object] = {"__name__": "docs_adapters_django_example"}
    for number, block in enumerate(BLOCK.findall(PAGE.read_text(encoding="utf-8")), 1):
        exec(compile(block, f"{PAGE.name}[block {number}]", "exec"), namespace)  # noqa: S102 - our own documentation
        if ADAPTER in namespace:
            return namespace
    pytest.fail(f"{PAGE.name} no longer defines {ADAPTER}")


def _installed_database() -> sqlite3.Connection:
    """A fresh, empty Django database with practiceid's side table, as the page installs it."""
    example = _example()
    db = example["django_database"]()
    example["install_practiceid"](db)
    return db


class TestDjangoUserRepository(UserRepositoryContract):
    @pytest.fixture(autouse=True)
    def _close_databases(self):
        self._databases: list[sqlite3.Connection] = []
        yield
        for db in self._databases:
            db.close()

    def make_unit_of_work_factory(self) -> UnitOfWorkFactory:
        db = _installed_database()
        self._databases.append(db)
        return _example()[ADAPTER](db).unit_of_work


def test_a_username_held_by_a_user_practiceid_does_not_know_is_a_duplicate_login():
    # createsuperuser writes auth_user alone; the page says the adapter still refuses it.
    db = _installed_database()
    try:
        db.execute(
            "INSERT INTO auth_user (password, last_login, is_superuser, username, last_name,"
            " email, is_staff, is_active, date_joined, first_name)"
            " VALUES ('!', NULL, 1, 'admin', '', '', 1, 1, '2026-01-05 09:00:00', '')"
        )
        store = _example()[ADAPTER](db)
        with store.unit_of_work() as uow:
            assert uow.users.find_by_login(Login("admin")) is None  # not practiceid's user
            with pytest.raises(DuplicateLogin):
                uow.users.add(sample_user(login=Login("admin")))
            uow.users.add(sample_user(login=Login("Admin")))  # another username to Django
            uow.commit()
    finally:
        db.close()


def test_installation_over_colliding_users_changes_nothing():
    example = _example()
    db = example["django_database"]()
    try:
        for username in ("Straße", "STRASSE"):  # one key, which lower() would not find
            db.execute(
                "INSERT INTO auth_user (password, is_superuser, username, last_name, email,"
                " is_staff, is_active, date_joined, first_name)"
                " VALUES ('!', 0, ?, '', ?, 0, 1, '2026-01-05 09:00:00', '')",
                (username, f"{username}@cabinet.be"),
            )
        with pytest.raises(example["KeysCollide"]) as raised:
            example["install_practiceid"](db)
        assert raised.value.logins == {"strasse": [1, 2]}
        assert raised.value.emails == {"strasse@cabinet.be": [1, 2]}
        tables = db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'practiceid%'")
        assert tables.fetchall() == []
    finally:
        db.close()
