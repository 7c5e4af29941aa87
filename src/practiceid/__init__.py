"""practiceid: who may use a practice's software, and how they prove it.

Accounts with unique logins and e-mail addresses, password rules, and the ports a host
implements to store them. The public API is what ``__all__`` lists; everything else,
including module paths not re-exported here, may change without notice.
"""

from __future__ import annotations

from practiceid.accounts import AccountService, EmailChange, Registration
from practiceid.errors import (
    AccountDeactivated,
    AuthenticationFailed,
    Conflict,
    DuplicateEmail,
    DuplicateLogin,
    DuplicateUserId,
    EmailRejected,
    InvalidConfiguration,
    InvalidInput,
    LoginRejected,
    NotFound,
    Notice,
    PasswordMismatch,
    PasswordRejected,
    PermissionDenied,
    PracticeIdError,
    ProfileRejected,
    Rejected,
    StaleUser,
    UnitOfWorkError,
    UnsupportedPasswordHash,
    UserNotFound,
    Violation,
    WeakHashParameters,
)
from practiceid.hashing import (
    OWASP_MINIMUM,
    RFC9106_LOW_MEMORY,
    Argon2idHasher,
    Argon2idParameters,
    DjangoPbkdf2Hasher,
    MigratingHasher,
)
from practiceid.policies import (
    EmailAddress,
    EmailPolicy,
    Login,
    LoginPolicy,
    PasswordContext,
    PasswordPolicy,
    PasswordReport,
    StrengthEstimate,
)
from practiceid.ports import Permission
from practiceid.users import User, UserId, UserStatus, new_user_id

__version__ = "0.1.0"

__all__ = [
    "OWASP_MINIMUM",
    "RFC9106_LOW_MEMORY",
    "AccountDeactivated",
    "AccountService",
    "Argon2idHasher",
    "Argon2idParameters",
    "AuthenticationFailed",
    "Conflict",
    "DjangoPbkdf2Hasher",
    "DuplicateEmail",
    "DuplicateLogin",
    "DuplicateUserId",
    "EmailAddress",
    "EmailChange",
    "EmailPolicy",
    "EmailRejected",
    "InvalidConfiguration",
    "InvalidInput",
    "Login",
    "LoginPolicy",
    "LoginRejected",
    "MigratingHasher",
    "NotFound",
    "Notice",
    "PasswordContext",
    "PasswordMismatch",
    "PasswordPolicy",
    "PasswordRejected",
    "PasswordReport",
    "Permission",
    "PermissionDenied",
    "PracticeIdError",
    "ProfileRejected",
    "Registration",
    "Rejected",
    "StaleUser",
    "StrengthEstimate",
    "UnitOfWorkError",
    "UnsupportedPasswordHash",
    "User",
    "UserId",
    "UserNotFound",
    "UserStatus",
    "Violation",
    "WeakHashParameters",
    "__version__",
    "new_user_id",
]
