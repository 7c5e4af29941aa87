"""Our shipped strategies generate what they promise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import (
    ADMINISTRATOR_PERMISSIONS,
    PLATFORM_PERMISSIONS,
    ROLE_TEMPLATES,
    EmailPolicy,
    Establishment,
    EstablishmentId,
    InvalidConfiguration,
    LoginPolicy,
    Membership,
    MembershipStatus,
    OrganisationId,
    Permission,
    ProductKind,
    Role,
    RoleId,
    User,
    UserId,
    feature_codes,
)
from practiceid.testing.strategies import (
    establishments,
    logins,
    memberships,
    permission_sets,
    roles,
    users,
)


@given(users())
def test_generated_users_have_valid_logins_and_emails(user):
    assert isinstance(user, User)
    assert LoginPolicy().check(user.login.display) == ()
    assert EmailPolicy().check(user.email.address) == ()
    assert user.first_name
    assert user.created_at.tzinfo is not None


def test_login_strategy_refuses_a_policy_without_latin():
    with pytest.raises(InvalidConfiguration):
        logins(LoginPolicy(allowed_scripts={"GREEK"}))


# -- access strategies (C1-C6) ----------------------------------------------------------------


@given(permission_sets())
def test_permission_sets_are_sets_of_catalogue_permissions(permissions):
    assert isinstance(permissions, frozenset)
    assert all(isinstance(p, Permission) for p in permissions)


@given(permission_sets(PLATFORM_PERMISSIONS | {"users.view"}, min_size=1, max_size=2))
def test_permission_sets_stay_within_their_pool_and_sizes(permissions):
    assert permissions <= PLATFORM_PERMISSIONS | {Permission.USERS_VIEW}
    assert 1 <= len(permissions) <= 2


@pytest.mark.parametrize(
    "arguments",
    [
        {"within": ["users.view", "no.such_permission"]},
        {"within": [42]},
        {"within": "no.such_permission"},
        {"within": [Permission.USERS_VIEW], "min_size": 2},
        {"min_size": 3, "max_size": 2},
        {"min_size": -1},
    ],
)
def test_permission_sets_refuse_what_cannot_be_drawn(arguments):
    with pytest.raises(InvalidConfiguration):
        permission_sets(**arguments)


@given(roles())
def test_generated_roles_are_custom_roles_a_host_could_define(role):
    """C4: a named set of catalogue permissions, never an administrator role."""
    assert isinstance(role, Role)
    assert not role.administrator
    assert role.template is None
    assert role.name
    assert Role.custom(role.name, role.permissions, role_id=role.id) == role


@given(roles(permission_sets(ADMINISTRATOR_PERMISSIONS, max_size=3)))
def test_roles_draw_their_permissions_from_the_given_strategy(role):
    assert role.permissions <= ADMINISTRATOR_PERMISSIONS
    assert len(role.permissions) <= 3


def test_roles_refuse_a_permissions_argument_that_is_not_a_strategy():
    with pytest.raises(InvalidConfiguration):
        roles(frozenset({Permission.USERS_VIEW}))  # type: ignore[arg-type]


@given(establishments())
def test_generated_establishments_have_their_products_templates_and_unique_names(establishment):
    """C3, C4, C5: templates first, an administrator role, unique role and department names."""
    templates = [t.key for t in ROLE_TEMPLATES[establishment.product]]
    assert [r.id for r in establishment.roles[: len(templates)]] == templates
    assert establishment.administrator_roles == {RoleId("administrator")}
    for items in (establishment.roles, establishment.departments):
        assert len({i.name.casefold() for i in items}) == len(items)
        assert len({i.id for i in items}) == len(items)
    for department in establishment.departments:
        assert feature_codes(department.features) == department.features


@given(establishments(ProductKind.VETERINARY))
def test_establishments_of_a_given_product(establishment):
    assert establishment.product is ProductKind.VETERINARY
    assert establishment.find_role(RoleId("nurse")) is not None


def test_establishments_refuse_an_unknown_product():
    with pytest.raises(InvalidConfiguration):
        establishments("pharmacy")


@given(st.data(), establishments())
def test_generated_memberships_use_the_establishments_roles_and_departments(data, establishment):
    """C1: one user, one establishment; roles and departments exist there (C4, C5)."""
    delegates = [UserId("u-dr-a"), UserId("u-dr-b"), UserId("u-member")]
    membership = data.draw(
        memberships(establishment, user_id=UserId("u-member"), delegates=delegates)
    )
    assert isinstance(membership, Membership)
    assert membership.key == (establishment.id, "u-member")
    assert all(establishment.find_role(r) is not None for r in membership.roles)
    assert all(establishment.has_department(d) for d in membership.departments)
    assert membership.delegates_for <= {"u-dr-a", "u-dr-b"}  # never themself (C6)
    assert feature_codes(membership.features) == membership.features


@given(st.data(), establishments())
def test_memberships_draw_the_status_unless_given(data, establishment):
    membership = data.draw(memberships(establishment, status=MembershipStatus.DEACTIVATED))
    assert not membership.is_active
    assert not membership.delegations
    assert membership.user_id


@pytest.mark.parametrize(
    "arguments",
    [
        {"establishment": "est-1"},
        {"user_id": 42},
        {"delegates": "u-dr-a"},
        {"delegates": [42]},
    ],
)
def test_memberships_refuse_arguments_of_the_wrong_kind(arguments):
    establishment = Establishment.open(
        EstablishmentId("est-1"),
        organisation_id=OrganisationId("org-1"),
        name="Cabinet des Tilleuls",
        product=ProductKind.GENERAL_PRACTICE,
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    with pytest.raises(InvalidConfiguration):
        memberships(**{"establishment": establishment, **arguments})
