"""Memberships: a user in an establishment, with roles, departments and delegations (C1-C6).

One account, many memberships (C1): the user base is shared by every practice (A1), and a
practitioner working in two clinics has one :class:`~practiceid.User` and two memberships.
A membership is never deleted (A6): it is deactivated, keeps its history and stays
resolvable, so records attributed to a former member still name them; reactivation gives
their access back.

A :class:`Delegation` ("medical identity", C6, source 002) lets a member act on behalf of an
issuing physician of the same establishment and, unless ``inherit_features`` is false,
inherit the features that physician has. Changing delegations is always explicit: nothing
follows a physician's departure automatically, except that an inactive physician lends
nothing (see :func:`~practiceid.compute_access`).

>>> from datetime import UTC, datetime
>>> from practiceid.establishments import EstablishmentId, RoleId
>>> from practiceid.users import UserId
>>> secretary = Membership.join(
...     UserId("u-secretary"),
...     EstablishmentId("hospital"),
...     roles=[RoleId("secretary")],
...     created_at=datetime(2026, 1, 5, tzinfo=UTC),
... ).with_delegations([Delegation(UserId("u-cardiologist"))])
>>> secretary.delegates_for
frozenset({'u-cardiologist'})
>>> secretary.deactivate().is_active
False
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

import attrs

from practiceid.establishments import DepartmentId, EstablishmentId, RoleId
from practiceid.permissions import feature_codes
from practiceid.users import UserId

__all__ = ["Delegation", "Membership", "MembershipStatus"]


class MembershipStatus(enum.StrEnum):
    """Whether a membership gives access (A6)."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@attrs.frozen(order=True)
class Delegation:
    """Act on behalf of ``physician``; with ``inherit_features``, also use their features."""

    physician: UserId
    inherit_features: bool = True


def _role_ids(values: Iterable[RoleId]) -> frozenset[RoleId]:
    return frozenset(values)


def _department_ids(values: Iterable[DepartmentId]) -> frozenset[DepartmentId]:
    return frozenset(values)


def _delegations(values: Iterable[Delegation]) -> tuple[Delegation, ...]:
    # One delegation per physician; the last one given wins. Sorted, so equal sets compare equal.
    by_physician = {d.physician: d for d in values}
    return tuple(sorted(by_physician.values()))


@attrs.frozen
class Membership:
    """A user's place in one establishment.

    ``created_account`` is True when the account was created together with this membership
    (rather than an existing account attached, C1): that establishment manages the account,
    and with every other establishment of the account may act on it as a whole (A5).
    ``features`` are granted to the member directly (source 002 sets some per physician);
    departments and delegations add more when access is computed. ``initials`` tell members
    apart in the establishment, where they are unique (A7; empty for memberships stored
    before initials existed). ``supervisor`` is a trainee's training supervisor here (B4).
    ``version`` counts stored changes, for optimistic concurrency.
    """

    user_id: UserId
    establishment_id: EstablishmentId
    created_at: datetime
    roles: frozenset[RoleId] = attrs.field(default=frozenset(), converter=_role_ids)
    status: MembershipStatus = MembershipStatus.ACTIVE
    departments: frozenset[DepartmentId] = attrs.field(
        default=frozenset(), converter=_department_ids
    )
    delegations: tuple[Delegation, ...] = attrs.field(default=(), converter=_delegations)
    features: frozenset[str] = attrs.field(default=frozenset(), converter=feature_codes)
    created_account: bool = False
    initials: str = ""
    supervisor: UserId | None = None
    version: int = 0

    @classmethod
    def join(
        cls,
        user_id: UserId,
        establishment_id: EstablishmentId,
        *,
        roles: Iterable[RoleId],
        created_at: datetime,
        created_account: bool = False,
        initials: str = "",
    ) -> Membership:
        """Return a new active membership with these roles."""
        return cls(
            user_id=user_id,
            establishment_id=establishment_id,
            created_at=created_at,
            roles=roles,
            created_account=created_account,
            initials=initials,
        )

    @property
    def key(self) -> tuple[EstablishmentId, UserId]:
        """``(establishment_id, user_id)``: what makes a membership unique."""
        return (self.establishment_id, self.user_id)

    @property
    def is_active(self) -> bool:
        """True unless the membership is deactivated (A6)."""
        return self.status is MembershipStatus.ACTIVE

    @property
    def delegates_for(self) -> frozenset[UserId]:
        """The physicians this member may act on behalf of (C6)."""
        return frozenset(d.physician for d in self.delegations)

    def with_roles(self, roles: Iterable[RoleId]) -> Membership:
        """Return this membership with exactly these roles."""
        return attrs.evolve(self, roles=frozenset(roles))

    def with_departments(self, departments: Iterable[DepartmentId]) -> Membership:
        """Return this membership in exactly these departments (C5)."""
        return attrs.evolve(self, departments=frozenset(departments))

    def with_delegations(self, delegations: Iterable[Delegation]) -> Membership:
        """Return this membership with exactly these delegations (C6)."""
        return attrs.evolve(self, delegations=tuple(delegations))

    def with_features(self, features: Iterable[str]) -> Membership:
        """Return this membership with exactly these directly granted features."""
        return attrs.evolve(self, features=frozenset(features))

    def with_initials(self, initials: str) -> Membership:
        """Return this membership with other initials (A7)."""
        return attrs.evolve(self, initials=initials)

    def with_supervisor(self, supervisor: UserId | None) -> Membership:
        """Return this membership with another training supervisor, or none (B4)."""
        return attrs.evolve(self, supervisor=supervisor)

    def deactivate(self) -> Membership:
        """Return this membership deactivated: kept, resolvable, giving no access (A6)."""
        return attrs.evolve(self, status=MembershipStatus.DEACTIVATED)

    def reactivate(self) -> Membership:
        """Return this membership active again (A6)."""
        return attrs.evolve(self, status=MembershipStatus.ACTIVE)
