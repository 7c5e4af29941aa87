"""Properties of the pure policy: compute_access and decide (A6, C1-C6).

Establishments, roles and memberships come from :mod:`practiceid.testing.strategies`; each
property states one rule of :mod:`practiceid.authorization` for every value they draw.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from practiceid import (
    OWNER_PERMISSIONS,
    PLATFORM_PERMISSIONS,
    Access,
    Decision,
    EscalationDenied,
    Establishment,
    EstablishmentId,
    LastAdministrator,
    LastOwner,
    Membership,
    MembershipStatus,
    Organisation,
    OrganisationId,
    Permission,
    PermissionDenied,
    ProductKind,
    Reason,
    RoleId,
    Target,
    User,
    UserId,
    UserStatus,
    compute_access,
    compute_organisation_access,
    decide,
)
from practiceid.testing import sample_user
from practiceid.testing.strategies import establishments, memberships, permission_sets

WHEN = datetime(2026, 1, 5, tzinfo=UTC)
ELSEWHERE = EstablishmentId("est-elsewhere")
PERMISSIONS = st.sampled_from(sorted(Permission))
VOID_REASONS = {Reason.NOT_A_MEMBER, Reason.USER_DEACTIVATED, Reason.MEMBERSHIP_DEACTIVATED}


@attrs.frozen
class Scene:
    """Everything compute_access is given: a user, where, and what grants them something."""

    user: User
    establishment: Establishment
    membership: Membership | None
    organisation: Organisation | None
    physicians: tuple[tuple[User, Membership], ...]
    staff: frozenset[Permission]

    @property
    def owner(self) -> bool:
        return (
            self.organisation is not None
            and self.organisation.id == self.establishment.organisation_id
            and self.user.id in self.organisation.owners
        )

    def access(self) -> Access:
        return compute_access(
            user=self.user,
            establishment=self.establishment,
            membership=self.membership,
            organisation=self.organisation,
            physicians=self.physicians,
            staff=self.staff,
        )


def people(status: UserStatus | None = None) -> st.SearchStrategy[User]:
    """Made-up users, cheaper than the full :func:`users` strategy: only id and status count."""
    return st.builds(
        lambda n, s: sample_user(id=UserId(f"user-{n}"), status=s),
        st.integers(0, 999),
        st.just(status) if status is not None else st.sampled_from(UserStatus),
    )


@st.composite
def scenes(
    draw: st.DrawFn,
    *,
    user_status: UserStatus | None = None,
    membership_status: MembershipStatus | None = None,
    member: bool | None = None,
    owner: bool | None = None,
    staff: bool | None = None,
) -> Scene:
    """A user in an establishment: maybe a member, an owner, support staff, a delegate."""
    establishment = draw(establishments())
    user = draw(people(user_status))
    physicians = [
        (physician, draw(memberships(establishment, user_id=physician.id)))
        for physician in draw(st.lists(people(), max_size=3, unique_by=lambda u: u.id))
        if physician.id != user.id
    ]
    is_member = draw(st.booleans()) if member is None else member
    membership = (
        draw(
            memberships(
                establishment,
                user_id=user.id,
                status=membership_status,
                delegates=[p.id for p, _ in physicians],
            )
        )
        if is_member
        else None
    )
    is_owner = draw(st.booleans()) if owner is None else owner
    others = {UserId("u-other-owner")} if draw(st.booleans()) or not is_owner else set()
    # Unless told otherwise, the organisation may be another one, whose owners count for nothing.
    elsewhere = owner is None and draw(st.booleans())
    organisation = (
        Organisation(
            id=OrganisationId("org-elsewhere") if elsewhere else establishment.organisation_id,
            name="Groupe exemple",
            owners={user.id, *others} if is_owner else others,
            created_at=WHEN,
        )
        if is_owner or draw(st.booleans())
        else None
    )
    has_staff = draw(st.booleans()) if staff is None else staff
    granted = (
        draw(permission_sets(PLATFORM_PERMISSIONS | {Permission.USERS_VIEW}, min_size=1))
        if has_staff
        else frozenset()
    )
    return Scene(user, establishment, membership, organisation, tuple(physicians), granted)


def _targets(access: Access) -> st.SearchStrategy[Target | EstablishmentId | None]:
    """Targets built with the named constructors, here or elsewhere."""
    here = access.establishment_id or ELSEWHERE
    places = st.sampled_from([here, ELSEWHERE])
    organisations = st.sampled_from(
        [access.organisation_id or OrganisationId("org-x"), OrganisationId("org-elsewhere")]
    )
    counts = st.none() | st.integers(-1, 3)
    return st.one_of(
        st.none(),
        places,  # the fast form of Target.establishment
        places.map(Target.establishment),
        st.builds(Target.organisation, organisations, owners_left=counts),
        st.builds(
            Target.change,
            places,
            grants=permission_sets(),
            administrator=st.booleans(),
            administrators_left=counts,
        ),
        st.builds(Target.on_behalf, places, st.sampled_from([access.user_id, UserId("u-dr")])),
    )


def _expected_features(scene: Scene) -> frozenset[str]:
    """C5, C6: direct features, the departments', and those of active issuing physicians."""
    membership, establishment = scene.membership, scene.establishment
    assert membership is not None
    features = set(membership.features) | establishment.features_of(membership.departments)
    for physician, theirs in scene.physicians:
        delegation = next((d for d in membership.delegations if d.physician == physician.id), None)
        if delegation is not None and delegation.inherit_features and _lends(scene, physician):
            features |= theirs.features | establishment.features_of(theirs.departments)
    return frozenset(features)


def _lends(scene: Scene, physician: User) -> bool:
    """C6: a delegation counts while the physician is active and issues documents there.

    Issuing means holding ``documents.issue`` through a role other than Administrator: an
    administrator holds every permission without being a physician.
    """
    theirs = {p.id: m for p, m in scene.physicians}[physician.id]
    roles = [scene.establishment.find_role(r) for r in theirs.roles]
    return (
        physician.is_active
        and theirs.is_active
        and any(
            r is not None and not r.administrator and Permission.DOCUMENTS_ISSUE in r.permissions
            for r in roles
        )
    )


# -- decide and the permission itself (C3, C4) ---------------------------------------------


@given(scenes())
def test_decide_without_a_target_allows_exactly_the_permissions_held(scene):
    access = scene.access()
    for permission in Permission:
        decision = decide(access, permission)
        assert decision.allowed is (permission in access.permissions)
        assert access.allows(permission) is decision.allowed
        assert bool(decision) is decision.allowed


@given(st.data(), scenes())
def test_decide_never_raises_and_allows_only_held_permissions_for_any_named_target(data, scene):
    access = scene.access()
    target = data.draw(_targets(access))
    for permission in Permission:
        decision = decide(access, permission, target)
        assert isinstance(decision, Decision)
        assert decision.allowed is (decision.reason is Reason.ALLOWED)
        if access.denial is not None:
            assert access.denial in VOID_REASONS
            assert decision.reason is access.denial
        if decision.allowed:
            assert permission in access.permissions
        else:
            with pytest.raises(PermissionDenied):
                access.require(permission, target)


@given(scenes(user_status=UserStatus.ACTIVE, membership_status=MembershipStatus.ACTIVE))
def test_an_active_members_permissions_are_their_roles_plus_owner_and_staff_grants(scene):
    """C4: a role is a set of permissions; C2: owners hold everything; support's grants."""
    access = scene.access()
    expected = set(scene.staff) | (OWNER_PERMISSIONS if scene.owner else set())
    if scene.membership is not None:
        expected |= scene.establishment.permissions_of(scene.membership.roles)
    assert access.permissions == expected
    assert access.owner is scene.owner
    assert access.staff is bool(scene.staff)
    if expected:
        assert access.denial is None
        assert access.establishment_id == scene.establishment.id
        assert access.organisation_id == scene.establishment.organisation_id
        administrator_roles = scene.establishment.administrator_roles
        assert access.administrator is (
            scene.membership is not None
            and not scene.membership.roles.isdisjoint(administrator_roles)
        )
    elif scene.membership is not None:
        assert access.denial is None  # a member, holding nothing
    else:
        assert access.denial is Reason.NOT_A_MEMBER
        assert not access.features
        assert not access.on_behalf_of


@given(scenes(user_status=UserStatus.ACTIVE, member=True, owner=False, staff=False))
def test_an_active_member_without_roles_holds_nothing_but_keeps_their_features(scene):
    """C5: features come from departments, not roles; a member is not a stranger."""
    assume(scene.membership.is_active)
    scene = attrs.evolve(scene, membership=attrs.evolve(scene.membership, roles=frozenset()))
    access = scene.access()
    assert not access.permissions
    assert access.denial is None
    assert access.features == _expected_features(scene)
    for permission in Permission:
        assert decide(access, permission).reason is Reason.MISSING_PERMISSION


@given(scenes(user_status=UserStatus.DEACTIVATED))
def test_a_deactivated_user_is_denied_everything(scene):
    """A6, whatever their roles, ownership or staff grants."""
    access = scene.access()
    assert access.denial is Reason.USER_DEACTIVATED
    assert not access.permissions
    assert not access.features
    assert not access.on_behalf_of
    for permission in Permission:
        for target in (None, Target.establishment(scene.establishment.id)):
            decision = decide(access, permission, target)
            assert not decision.allowed
            assert decision.reason is Reason.USER_DEACTIVATED


@given(
    scenes(
        user_status=UserStatus.ACTIVE,
        membership_status=MembershipStatus.DEACTIVATED,
        member=True,
        owner=False,
        staff=False,
    )
)
def test_a_deactivated_membership_is_denied_everything(scene):
    """A6: the membership is kept but gives no access, whatever its roles."""
    access = scene.access()
    assert access.denial is Reason.MEMBERSHIP_DEACTIVATED
    assert not access.permissions
    assert not access.features
    for permission in Permission:
        for target in (None, Target.establishment(scene.establishment.id)):
            decision = decide(access, permission, target)
            assert not decision.allowed
            assert decision.reason is Reason.MEMBERSHIP_DEACTIVATED


@given(
    scenes(
        user_status=UserStatus.ACTIVE, membership_status=MembershipStatus.DEACTIVATED, member=True
    )
)
def test_an_owner_or_support_keeps_their_grants_through_a_deactivated_membership(scene):
    """A6 takes what the membership gave; C2 ownership and support grants are not from it."""
    access = scene.access()
    expected = set(scene.staff) | (OWNER_PERMISSIONS if scene.owner else set())
    assert access.permissions == expected
    assert not access.features


@given(scenes(user_status=UserStatus.ACTIVE, member=False, owner=False, staff=False))
def test_a_user_who_is_neither_member_nor_owner_has_a_void_access(scene):
    """C1, C2: access comes from a membership there or ownership of the organisation."""
    access = scene.access()
    assert access.denial is Reason.NOT_A_MEMBER
    assert not access.permissions
    assert not any(decide(access, p).allowed for p in Permission)


@given(st.data(), scenes(user_status=UserStatus.ACTIVE, owner=False, staff=False))
def test_someone_elses_membership_gives_nothing(data, scene):
    """A membership of another user or establishment is ignored."""
    other = data.draw(memberships(scene.establishment, user_id=UserId("u-someone-else")))
    access = attrs.evolve(scene, membership=other).access()
    assert not access.permissions
    assert not access.features


def test_someone_elses_deactivated_membership_leaves_the_reason_not_a_member():
    scene = _a_hospital()
    other = Membership.join(
        UserId("u-someone-else"), scene.id, roles=[RoleId("physician")], created_at=WHEN
    ).deactivate()
    access = compute_access(user=sample_user(), establishment=scene, membership=other)
    assert access.denial is Reason.NOT_A_MEMBER


def _a_hospital() -> Establishment:
    return Establishment.open(
        EstablishmentId("est-hopital"),
        organisation_id=OrganisationId("org-hopital"),
        name="Hôpital Saint-Exemple",
        product=ProductKind.HOSPITAL,
        created_at=WHEN,
    )


# -- features and delegations (C5, C6) -------------------------------------------------------


@given(
    scenes(user_status=UserStatus.ACTIVE, membership_status=MembershipStatus.ACTIVE, member=True)
)
def test_a_member_keeps_a_feature_iff_a_department_direct_grant_or_delegation_gives_it(scene):
    """C5: features are inherited from any department; C6: and from delegating physicians."""
    access = scene.access()
    assert access.features == _expected_features(scene)
    for feature in access.features:
        assert access.has_feature(feature)


@given(
    scenes(user_status=UserStatus.ACTIVE, membership_status=MembershipStatus.ACTIVE, member=True)
)
def test_a_delegation_counts_only_to_an_active_physician_who_issues_documents(scene):
    """C6: one may act on behalf of a delegating physician while they issue documents."""
    access = scene.access()
    delegates_for = scene.membership.delegates_for
    expected = {p.id for p, _ in scene.physicians if p.id in delegates_for and _lends(scene, p)}
    assert access.on_behalf_of == expected


@given(
    scenes(user_status=UserStatus.ACTIVE, membership_status=MembershipStatus.ACTIVE, member=True)
)
def test_acting_on_behalf_of_a_physician_needs_a_delegation_to_them(scene):
    """C6: sending in someone's name; acting in one's own name needs no delegation."""
    access = scene.access()
    for permission in access.permissions:
        assert decide(access, permission, Target.on_behalf(scene.establishment.id, scene.user.id))
        for physician, _ in scene.physicians:
            decision = decide(
                access, permission, Target.on_behalf(scene.establishment.id, physician.id)
            )
            assert decision.allowed is (physician.id in access.on_behalf_of)
            if not decision.allowed:
                assert decision.reason is Reason.NOT_DELEGATED


# -- changes: escalation, administrators, owners (C2, C3) ---------------------------------------


@given(st.data(), scenes(user_status=UserStatus.ACTIVE))
def test_a_change_is_allowed_only_within_the_actors_own_permissions(data, scene):
    """C3: nobody gives or takes a permission they do not hold."""
    access = scene.access()
    permission = data.draw(PERMISSIONS)
    grants = data.draw(permission_sets() | permission_sets(access.permissions), label="grants")
    decision = decide(access, permission, Target.change(scene.establishment.id, grants=grants))
    if decision.allowed:
        assert grants <= access.permissions
    if permission in access.permissions:
        assert decision.allowed is (grants <= access.permissions)
        if not decision.allowed:
            assert decision.reason is Reason.ESCALATION
            assert decision.missing == grants - access.permissions


@given(st.data(), scenes(user_status=UserStatus.ACTIVE))
def test_making_or_unmaking_an_administrator_needs_roles_assign_administrator(data, scene):
    """C3: adding administrators is itself privileged."""
    access = scene.access()
    permission = data.draw(PERMISSIONS)
    target = Target.change(scene.establishment.id, administrator=True)
    decision = decide(access, permission, target)
    held = access.permissions
    assert decision.allowed is (
        permission in held and Permission.ROLES_ASSIGN_ADMINISTRATOR in held
    )


@given(st.data(), scenes(user_status=UserStatus.ACTIVE))
def test_leaving_no_active_administrator_is_always_denied_as_last_administrator(data, scene):
    """C3: every establishment keeps an active administrator, whoever asks."""
    access = scene.access()
    assume(access.permissions)
    permission = data.draw(st.sampled_from(sorted(access.permissions)))
    left = data.draw(st.integers(-2, 0))
    grants = data.draw(permission_sets(access.permissions))
    target = Target.change(scene.establishment.id, grants=grants, administrators_left=left)
    decision = decide(access, permission, target)
    assert not decision.allowed
    assert decision.reason is Reason.LAST_ADMINISTRATOR
    assert decide(access, permission, attrs.evolve(target, administrators_left=1)).allowed


@given(st.data(), scenes(user_status=UserStatus.ACTIVE, owner=True))
def test_leaving_no_owner_is_always_denied_as_last_owner(data, scene):
    """C2: an organisation keeps an owner."""
    assert scene.organisation is not None
    access = compute_organisation_access(
        user=scene.user, organisation=scene.organisation, staff=scene.staff
    )
    permission = data.draw(st.sampled_from(sorted(access.permissions)))
    target = Target.organisation(scene.organisation.id, owners_left=data.draw(st.integers(-1, 0)))
    decision = decide(access, permission, target)
    assert decision.reason is Reason.LAST_OWNER
    assert decide(access, permission, attrs.evolve(target, owners_left=1)).allowed


# -- isolation (C1, C2) -----------------------------------------------------------------------


@given(st.data(), scenes(user_status=UserStatus.ACTIVE))
def test_a_target_in_another_establishment_is_always_denied(data, scene):
    """Tenant isolation: an access is valid in its own establishment only."""
    access = scene.access()
    assume(access.denial is None)
    grants = data.draw(permission_sets(access.permissions))
    for permission in Permission:
        for target in (
            Target.establishment(ELSEWHERE),
            Target.change(ELSEWHERE, grants=grants, administrators_left=1),
            Target.on_behalf(ELSEWHERE, scene.user.id),
        ):
            decision = decide(access, permission, target)
            assert not decision.allowed
            assert decision.reason is Reason.OTHER_ESTABLISHMENT


@given(scenes(user_status=UserStatus.ACTIVE))
def test_an_establishment_access_never_acts_on_an_organisation(scene):
    """C2: acts on the organisation itself need an organisation access (owners, staff)."""
    access = scene.access()
    assume(access.denial is None)
    for permission in Permission:
        decision = decide(access, permission, Target.organisation(access.organisation_id))
        assert decision.reason is Reason.OTHER_ORGANISATION


# -- errors ------------------------------------------------------------------------------------


@given(st.data(), scenes())
def test_a_denials_error_is_a_permission_denied_that_carries_its_reason(data, scene):
    access = scene.access()
    target = data.draw(_targets(access))
    permission = data.draw(PERMISSIONS)
    decision = decide(access, permission, target)
    assume(not decision.allowed)
    error = decision.error()
    assert isinstance(error, PermissionDenied)
    assert error.params["reason"] == decision.reason.value
    assert error.params["permission"] == permission.value
    assert error.params["actor"] == access.user_id
    assert error.params["missing"] == tuple(sorted(p.value for p in decision.missing))
    expected = {
        Reason.ESCALATION: EscalationDenied,
        Reason.LAST_ADMINISTRATOR: LastAdministrator,
        Reason.LAST_OWNER: LastOwner,
    }.get(decision.reason, PermissionDenied)
    assert type(error) is expected
    with pytest.raises(expected) as raised:
        access.require(permission, target)
    assert raised.value.params == error.params
