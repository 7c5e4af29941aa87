"""Policies: pure rules that say yes or no to input, and why (no I/O, no clock)."""

from __future__ import annotations

from practiceid.policies.email import DEFAULT_GENERIC_LOCAL_PARTS, EmailAddress, EmailPolicy
from practiceid.policies.login import Login, LoginPolicy
from practiceid.policies.password import (
    PasswordContext,
    PasswordPolicy,
    PasswordReport,
    StrengthEstimate,
)

__all__ = [
    "DEFAULT_GENERIC_LOCAL_PARTS",
    "EmailAddress",
    "EmailPolicy",
    "Login",
    "LoginPolicy",
    "PasswordContext",
    "PasswordPolicy",
    "PasswordReport",
    "StrengthEstimate",
]
