"""The public face: a pinned __all__, a typed package, no test or I/O libraries at import."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import practiceid

EXPECTED = {
    # Key pairs and second factors (issue 10).
    "Factor", "FactorGuard", "FactorId", "FactorKind", "FactorNotFound", "FactorRejected",
    "FactorRequirement", "FactorService", "FactorSettings", "FactorView", "GeneratedKeyPair",
    "KeyAlgorithm", "KeyBackupCorrupted", "KeyBackupInvalid", "KeyBackupMismatch",
    "KeyBackupTruncated", "KeyBackupUnreadable", "KeyBackupWrongPassword", "KeyPair",
    "KeyPairExists", "KeyPairNotFound", "KeyPairRejected", "KeyPairService", "KeyPairStatus",
    "KeyReplacement", "LastFactor", "RecoveryCodes", "RestoredKey", "SecondFactorFailed",
    "SecondFactorReplayed", "SecondFactorRequired", "SecondFactorThrottled", "SignInMethod",
    "SignedIn", "TotpAlgorithm", "TotpEnrolment", "TotpParameters", "Verification",
    "fingerprint", "generate_key_pair", "load_public_key", "read_backup", "write_backup",
    # Shared devices and the audit trail (issue 9).
    "AccountKind", "AuditEvent", "AuditRecord", "AuditService", "Auditor", "ChainHead",
    "ChainProblem", "ChainVerification", "ClinicLogin", "ClinicLoginCreated",
    "ClinicLoginNotFound", "ClinicLoginOnly", "DeviceActor", "DeviceCredentialRequired",
    "DeviceLocked", "DeviceMember", "DeviceService", "DeviceSession", "DeviceSessionId",
    "DeviceSessionInvalid", "DeviceState", "DeviceView", "IssuedPin", "MemberCredential",
    "OpenedDevice", "Outcome", "PLATFORM_CHAIN", "PinBlocked", "PinGuard", "PinIncorrect",
    "PinSettings", "PinThrottled", "RemoteAccessDenied", "UnknownKey", "verify_chain",
    # Licenses (issue 8).
    "IllegalLicenseTransition", "InvoiceLine", "InvoiceRequest", "LICENSED_PERMISSIONS",
    "LICENSE_KINDS", "License", "LicenseKind", "LicenseNotFound", "LicenseRejected",
    "LicenseRequest", "LicenseRequestIncomplete", "LicenseRequired", "LicenseService",
    "LicenseSettings", "LicenseStatus", "LicenseSweepReport", "LicenseView", "Price", "PricePer",
    "PriceTable", "restrict_to_license",
    # Onboarding (issue 7).
    "Backoff", "DEFAULT_LOCALES", "Delivery", "DispatchReport", "Dispatcher",
    "IllegalTransition", "InvitationInvalid", "InvitationSettings", "InvitationView", "Invited",
    "MemberStatus", "Message", "MessageId", "MessageKind", "MessageNotFound", "MessageStatus",
    "ONBOARDING_MODES", "Onboarding", "OnboardingIncomplete", "OnboardingMode",
    "OnboardingNotFound", "OnboardingService", "OnboardingStatus", "ResendThrottled", "SignIn",
    "SweepReport", "TermsNotCurrent", "TermsOfUse", "member_status",
    "ADMINISTRATOR_PERMISSIONS", "Access", "AccessRejected", "AccessService",
    "AccountDeactivated", "AccountService", "Argon2idHasher", "Argon2idParameters",
    "AuthenticationFailed", "Conflict", "Decision", "Delegation", "Department", "DepartmentId",
    "DepartmentNotFound", "DjangoPbkdf2Hasher", "DuplicateEmail", "DuplicateLogin",
    "DuplicateMembership", "DuplicateRecord", "DuplicateUserId", "ESTABLISHMENT_PERMISSIONS",
    "EmailAddress", "EmailChange", "EmailPolicy", "EmailRejected", "EscalationDenied",
    "Establishment", "EstablishmentId", "EstablishmentNotFound", "Feature", "InvalidChecksum",
    "InvalidComponent", "InvalidConfiguration", "InvalidFormat", "InvalidIdentifier",
    "InvalidInput", "InvalidLength", "LastAdministrator", "LastOwner", "Login", "LoginPolicy",
    "LoginRejected", "MemberAdded", "Membership", "MembershipNotFound", "MembershipStatus",
    "MigratingHasher", "NotFound", "Notice", "OWASP_MINIMUM", "OWNER_PERMISSIONS",
    "Organisation", "OrganisationId", "OrganisationNotFound", "PLATFORM_PERMISSIONS",
    "PasswordContext", "PasswordMismatch", "PasswordPolicy", "PasswordRejected",
    "PasswordReport", "Permission", "PermissionDenied", "PermissionGroup", "PracticeIdError",
    "ProductKind", "ProfileRejected", "RFC9106_LOW_MEMORY", "ROLE_TEMPLATES", "Reason",
    "Registration", "Rejected", "Role", "RoleId", "RoleNotFound", "RoleTemplate", "StaleRecord",
    "StaleUser", "StrengthEstimate", "Target", "UnitOfWorkError", "UnsupportedPasswordHash",
    "User", "UserId", "UserNotFound", "UserStatus", "Violation", "WeakHashParameters",
    "__version__", "compute_access", "compute_organisation_access", "decide", "feature_codes",
    "new_user_id",
    # issue 5: profiles
    "Address", "AddressKind", "BillingData", "BillingIdentity", "BillingIncomplete",
    "DuplicateIdentifier", "DuplicateInitials", "EHealthCertificate", "EdmgRegistration",
    "EstablishmentProfile", "EstablishmentProfileRejected", "HubRegion", "Logo", "Mutuality",
    "PROFESSION_RULES", "Practitioner", "PractitionerNotFound", "PractitionerRejected",
    "PractitionerSettings", "Profession", "ProfessionRule", "ProfessionRules", "ProfileService",
    "ReportHeader", "SupervisesTrainees", "resolve_billing",
    # issue 6: storage errors (the SQL adapter itself is practiceid.adapters.sql)
    "SchemaMismatch", "StorageError", "StorageUnavailable", "TransactionConflict",
    "UnknownReference",
}  # fmt: skip


def test_all_is_pinned_and_sorted():
    assert set(practiceid.__all__) == EXPECTED
    assert practiceid.__all__ == sorted(practiceid.__all__, key=lambda n: (not n.isupper(), n))
    for name in practiceid.__all__:
        assert hasattr(practiceid, name)


def test_every_subpackage_all_resolves():
    for module in [
        "practiceid.adapters",
        "practiceid.adapters.sql",
        "practiceid.policies",
        "practiceid.policies.identifiers",
        "practiceid.policies.identifiers.adeli",
        "practiceid.policies.identifiers.bce",
        "practiceid.policies.identifiers.fhir",
        "practiceid.policies.identifiers.finess",
        "practiceid.policies.identifiers.iban",
        "practiceid.policies.identifiers.idnps",
        "practiceid.policies.identifiers.inami",
        "practiceid.policies.identifiers.niss",
        "practiceid.policies.identifiers.rpps",
        "practiceid.ports",
        "practiceid.testing",
        "practiceid.testing.strategies",
        "practiceid.testing.contracts",
    ]:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            assert hasattr(mod, name), (module, name)


def test_package_is_typed():
    assert (Path(practiceid.__file__).parent / "py.typed").exists()


def test_import_loads_no_test_database_or_network_library():
    code = (
        "import sys, practiceid, practiceid.adapters, practiceid.policies.identifiers;"
        "bad = {'pytest', 'hypothesis', 'sqlalchemy', 'alembic', 'psycopg', 'sqlite3', 'smtplib',"
        " 'dns', 'zxcvbn', 'django'} & {m.split('.')[0] for m in sys.modules};"
        "print(sorted(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
