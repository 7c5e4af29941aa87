"""The public face: a pinned __all__, a typed package, no test or I/O libraries at import."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import practiceid

EXPECTED = {
    "OWASP_MINIMUM", "RFC9106_LOW_MEMORY", "AccountDeactivated", "AccountService",
    "Argon2idHasher", "Argon2idParameters", "AuthenticationFailed", "Conflict",
    "DjangoPbkdf2Hasher", "DuplicateEmail", "DuplicateLogin", "DuplicateUserId",
    "EmailAddress", "EmailChange", "EmailPolicy", "EmailRejected", "InvalidChecksum",
    "InvalidComponent", "InvalidConfiguration", "InvalidFormat", "InvalidIdentifier",
    "InvalidInput", "InvalidLength", "Login", "LoginPolicy", "LoginRejected", "MigratingHasher",
    "NotFound",
    "Notice", "PasswordContext", "PasswordMismatch", "PasswordPolicy", "PasswordRejected",
    "PasswordReport", "Permission", "PermissionDenied", "PracticeIdError", "ProfileRejected",
    "Registration", "Rejected", "StaleUser", "StrengthEstimate", "UnitOfWorkError",
    "UnsupportedPasswordHash", "User", "UserId", "UserNotFound", "UserStatus", "Violation",
    "WeakHashParameters", "__version__", "new_user_id",
}  # fmt: skip


def test_all_is_pinned_and_sorted():
    assert set(practiceid.__all__) == EXPECTED
    assert practiceid.__all__ == sorted(practiceid.__all__, key=lambda n: (not n.isupper(), n))
    for name in practiceid.__all__:
        assert hasattr(practiceid, name)


def test_every_subpackage_all_resolves():
    for module in [
        "practiceid.adapters",
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
        "bad = {'pytest', 'hypothesis', 'sqlalchemy', 'psycopg', 'sqlite3', 'smtplib',"
        " 'dns', 'zxcvbn', 'django'} & {m.split('.')[0] for m in sys.modules};"
        "print(sorted(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
