from __future__ import annotations

from datetime import UTC, datetime

import pytest

from practiceid import AccessService, DjangoPbkdf2Hasher, MigratingHasher
from practiceid.adapters import InMemoryStore, StaticAuthorizer, SystemClock
from practiceid.errors import UnitOfWorkError
from practiceid.establishments import (
    Establishment,
    EstablishmentId,
    Organisation,
    OrganisationId,
    ProductKind,
    Role,
    RoleId,
)
from practiceid.memberships import Membership
from practiceid.ports import (
    AccessUnitOfWorkFactory,
    LicenseUnitOfWorkFactory,
    OnboardingUnitOfWorkFactory,
    UnitOfWorkFactory,
)
from practiceid.testing import ManualClock, fast_hasher, sample_user
from practiceid.testing.contracts import (
    AccessRepositoriesContract,
    AuthorizerContract,
    ClockContract,
    LicenseRepositoriesContract,
    OnboardingRepositoriesContract,
    PasswordHasherContract,
    ProfileRepositoriesContract,
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


class TestInMemoryAccessRepositories(AccessRepositoriesContract):
    def make_unit_of_work_factory(self) -> AccessUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestInMemoryProfileRepositories(ProfileRepositoriesContract):
    def make_unit_of_work_factory(self) -> AccessUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestInMemoryOnboardingRepositories(OnboardingRepositoriesContract):
    def make_unit_of_work_factory(self) -> OnboardingUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestInMemoryLicenseRepositories(LicenseRepositoriesContract):
    def make_unit_of_work_factory(self) -> LicenseUnitOfWorkFactory:
        return InMemoryStore().unit_of_work


class TestStaticAuthorizer(AuthorizerContract):
    def make_authorizer(self, actor, permissions):
        return StaticAuthorizer({actor: permissions}, self_service=frozenset())


class TestAccessServiceAuthorizer(AuthorizerContract):
    """AccessService.require, with the actor holding exactly ``permissions`` over the target.

    The actor and the target are members of one establishment: the actor through a custom role
    holding ``permissions`` (stored directly: define_role refuses to grant what nobody holds),
    the target with no role. The stranger has an account and no membership; the organisation
    has no owner, since owners hold permissions in every establishment of it.
    """

    def make_authorizer(self, actor, permissions):
        opened = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        organisation = Organisation(
            id=OrganisationId("org-contract"),
            name="Groupe contrat",
            owners=frozenset(),
            created_at=opened,
        )
        establishment = Establishment.open(
            EstablishmentId("est-contract"),
            organisation_id=organisation.id,
            name="Cabinet contrat",
            product=ProductKind.GENERAL_PRACTICE,
            created_at=opened,
        ).with_role(Role.custom("Contrat", permissions, role_id=RoleId("contract")))
        store = InMemoryStore()
        with store.unit_of_work() as uow:
            for user_id in (actor, self.stranger, self.target):
                uow.users.add(sample_user(id=user_id))
            uow.organisations.add(organisation)
            uow.establishments.add(establishment)
            uow.memberships.add(
                Membership.join(
                    actor, establishment.id, roles=[RoleId("contract")], created_at=opened
                )
            )
            uow.memberships.add(
                Membership.join(
                    self.target,
                    establishment.id,
                    roles=[],
                    created_at=opened,
                    created_account=True,  # this establishment manages the account
                )
            )
            uow.commit()
        return AccessService(unit_of_work=store.unit_of_work, clock=ManualClock())


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
        (AccessRepositoriesContract(), "make_unit_of_work_factory"),
        (ProfileRepositoriesContract(), "make_unit_of_work_factory"),
        (OnboardingRepositoriesContract(), "make_unit_of_work_factory"),
        (LicenseRepositoriesContract(), "make_unit_of_work_factory"),
        (AuthorizerContract(), "make_authorizer"),
        (ClockContract(), "make_clock"),
        (PasswordHasherContract(), "make_hasher"),
    ],
)
def test_every_contract_demands_its_factory(contract, factory):
    with pytest.raises(NotImplementedError):
        getattr(contract, factory)(*([None, None] if factory == "make_authorizer" else []))
