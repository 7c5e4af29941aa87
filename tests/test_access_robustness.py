"""Bad input to the access service is answered with coded errors and changes nothing.

Each public method of AccessService gets, for one argument at a time, values a careless
caller or a forged form might send: None, numbers, nested lists, bytes, unhashable objects.
Whatever happens, only a PracticeIdError may come out, and a refusal leaves the store as it
was.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid import (
    AccessService,
    EstablishmentId,
    OrganisationId,
    Permission,
    PracticeIdError,
    ProductKind,
    UserId,
)
from practiceid.adapters import InMemoryStore
from practiceid.testing import ManualClock, sample_user

junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
    st.lists(st.lists(st.integers(), max_size=2), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sets(st.integers(), max_size=3),
    st.just(object()),
    st.just([{"a": 1}]),
    st.sampled_from(["administrator", "users.create", "nimes", "owner", ""]),
)


def _world() -> tuple[InMemoryStore, AccessService, dict[str, Any]]:
    store = InMemoryStore()
    service = AccessService(unit_of_work=store.unit_of_work, clock=ManualClock())
    owner, member = sample_user(), sample_user()
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.users.add(member)
        uow.commit()
    service.found_organisation(owner=owner.id, name="Groupe", organisation_id=OrganisationId("g"))
    service.open_establishment(
        actor=owner.id,
        organisation_id=OrganisationId("g"),
        name="Cabinet",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=EstablishmentId("nimes"),
    )
    service.add_member(
        actor=owner.id,
        establishment_id=EstablishmentId("nimes"),
        email=member.email.address,
        roles=["physician"],
    )
    valid = {
        "actor": owner.id,
        "owner": owner.id,
        "user_id": member.id,
        "organisation_id": OrganisationId("g"),
        "establishment_id": EstablishmentId("nimes"),
        "name": "Nom",
        "product": ProductKind.DENTAL,
        "email": "nouveau@cabinet-exemple.be",
        "roles": ["secretary"],
        "role": "secretary",
        "first_name": "Noa",
        "last_name": "Nouveau",
        "permissions": [Permission.AGENDA_VIEW],
        "features": ["dmp.send"],
        "departments": [],
        "delegations": [],
        "department_id": "dept",
        "status": None,
        "administrator": None,
        "login": None,
        "job_title": "",
        "role_id": None,
    }
    return store, service, valid


CALLS: dict[str, tuple[str, ...]] = {
    "found_organisation": ("owner", "name", "organisation_id"),
    "open_establishment": (
        "actor",
        "organisation_id",
        "name",
        "product",
        "administrator",
        "establishment_id",
    ),
    "add_owner": ("actor", "organisation_id", "user_id"),
    "remove_owner": ("actor", "organisation_id", "user_id"),
    "add_member": (
        "actor",
        "establishment_id",
        "email",
        "roles",
        "first_name",
        "last_name",
        "job_title",
        "login",
    ),
    "set_roles": ("actor", "establishment_id", "user_id", "roles"),
    "grant_role": ("actor", "establishment_id", "user_id", "role"),
    "revoke_role": ("actor", "establishment_id", "user_id", "role"),
    "deactivate_member": ("actor", "establishment_id", "user_id"),
    "reactivate_member": ("actor", "establishment_id", "user_id"),
    "deactivate_user": ("actor", "user_id"),
    "reactivate_user": ("actor", "user_id"),
    "define_role": ("actor", "establishment_id", "name", "permissions", "role_id"),
    "create_department": ("actor", "establishment_id", "name", "features"),
    "set_department_features": ("actor", "establishment_id", "department_id", "features"),
    "set_departments": ("actor", "establishment_id", "user_id", "departments"),
    "set_member_features": ("actor", "establishment_id", "user_id", "features"),
    "set_delegations": ("actor", "establishment_id", "user_id", "delegations"),
    "members": ("actor", "establishment_id", "status"),
}

_CASES = [(method, argument) for method, arguments in CALLS.items() for argument in arguments]


def _snapshot(store: InMemoryStore) -> dict[str, object]:
    return {
        name: copy.copy(getattr(store, name))
        for name in ("_users", "_organisations", "_establishments", "_memberships")
    }


@pytest.mark.parametrize(("method", "argument"), _CASES)
@settings(max_examples=25)
@given(value=junk)
def test_bad_input_raises_only_coded_errors_and_changes_nothing(
    method: str, argument: str, value: object
):
    store, service, valid = _world()
    kwargs = {name: valid[name] for name in CALLS[method]}
    kwargs[argument] = value
    call: Callable[..., object] = getattr(service, method)
    before = _snapshot(store)
    try:
        call(**kwargs)
    except PracticeIdError:
        assert _snapshot(store) == before


@given(value=junk)
def test_reading_access_with_bad_ids_never_crashes(value: object):
    _, service, _ = _world()
    for read in (
        lambda: service.access(value, EstablishmentId("nimes")),  # type: ignore[arg-type]
        lambda: service.access(UserId("x"), value),  # type: ignore[arg-type]
        lambda: service.organisation_access(value, OrganisationId("g")),  # type: ignore[arg-type]
        lambda: service.memberships_of(value),  # type: ignore[arg-type]
        lambda: service.require(value, Permission.CHANGE_EMAIL, target=value),  # type: ignore[arg-type]
    ):
        with contextlib.suppress(PracticeIdError):
            read()
