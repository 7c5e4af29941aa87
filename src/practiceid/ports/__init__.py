"""Ports: the interfaces practiceid needs from its host, as :class:`typing.Protocol`.

Each port's docstring states its error contract: which :mod:`practiceid.errors` it raises and
when. Adapters (``practiceid.adapters``, or the host's own) implement them; the contract
suites in :mod:`practiceid.testing.contracts` check that they do.
"""

from __future__ import annotations

from practiceid.ports.audit import AuditLog, KeyProvider, RequestContext, RequestInfo
from practiceid.ports.authorization import Authorizer, Permission
from practiceid.ports.clock import Clock
from practiceid.ports.devices import (
    ClinicLoginRepository,
    DeviceSessionRepository,
    DeviceUnitOfWork,
    DeviceUnitOfWorkFactory,
    MemberCredentialRepository,
    PinGuardRepository,
)
from practiceid.ports.establishments import (
    AccessUnitOfWork,
    AccessUnitOfWorkFactory,
    EstablishmentProfileRepository,
    EstablishmentRepository,
    MembershipRepository,
    OrganisationRepository,
    PractitionerRepository,
)
from practiceid.ports.factors import (
    FactorGuardRepository,
    FactorRepository,
    FactorRequirementRepository,
    FactorUnitOfWork,
    FactorUnitOfWorkFactory,
    KeyPairRepository,
)
from practiceid.ports.hashing import PasswordHasher
from practiceid.ports.licenses import (
    LicenseRepository,
    LicenseUnitOfWork,
    LicenseUnitOfWorkFactory,
)
from practiceid.ports.notifier import Notifier
from practiceid.ports.onboarding import (
    OnboardingRepository,
    OnboardingUnitOfWork,
    OnboardingUnitOfWorkFactory,
    OutboxRepository,
    TermsRepository,
)
from practiceid.ports.users import UnitOfWork, UnitOfWorkFactory, UserRepository

__all__ = [
    "AccessUnitOfWork",
    "AccessUnitOfWorkFactory",
    "AuditLog",
    "Authorizer",
    "ClinicLoginRepository",
    "Clock",
    "DeviceSessionRepository",
    "DeviceUnitOfWork",
    "DeviceUnitOfWorkFactory",
    "EstablishmentProfileRepository",
    "EstablishmentRepository",
    "FactorGuardRepository",
    "FactorRepository",
    "FactorRequirementRepository",
    "FactorUnitOfWork",
    "FactorUnitOfWorkFactory",
    "KeyPairRepository",
    "KeyProvider",
    "LicenseRepository",
    "LicenseUnitOfWork",
    "LicenseUnitOfWorkFactory",
    "MemberCredentialRepository",
    "MembershipRepository",
    "Notifier",
    "OnboardingRepository",
    "OnboardingUnitOfWork",
    "OnboardingUnitOfWorkFactory",
    "OrganisationRepository",
    "OutboxRepository",
    "PasswordHasher",
    "Permission",
    "PinGuardRepository",
    "PractitionerRepository",
    "RequestContext",
    "RequestInfo",
    "TermsRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]
