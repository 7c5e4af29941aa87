"""Errors raised by practiceid, each with a stable, machine-readable ``code``.

A host application translates errors by ``code`` and ``params``, never by message text or
class name: codes are part of the public API and only ever added, never renamed. The tree::

    PracticeIdError                         practiceid.error
    ├── InvalidInput (ValueError)           input.invalid
    │   └── Rejected                        input.rejected      .violations
    │       ├── LoginRejected               login.rejected
    │       ├── EmailRejected               email.rejected
    │       ├── PasswordRejected            password.rejected
    │       ├── ProfileRejected             profile.rejected
    │       ├── AccessRejected              access.rejected
    │       ├── PractitionerRejected        practitioner.rejected
    │       ├── EstablishmentProfileRejected establishment.profile_rejected
    │       ├── LicenseRejected             license.rejected
    │       ├── KeyPairRejected             key_pair.rejected
    │       ├── FactorRejected              factor.rejected
    │       └── InvalidIdentifier           identifier.invalid  .kind
    │           ├── InvalidFormat           identifier.invalid_format
    │           │   ├── InvalidLength       identifier.invalid_length
    │           │   └── InvalidComponent    identifier.invalid_component
    │           └── InvalidChecksum         identifier.invalid_checksum
    ├── KeyBackupInvalid (ValueError)       key_backup.invalid
    │   ├── KeyBackupUnreadable             key_backup.unreadable
    │   ├── KeyBackupTruncated              key_backup.truncated
    │   ├── KeyBackupCorrupted              key_backup.corrupted
    │   ├── KeyBackupWrongPassword          key_backup.wrong_password
    │   └── KeyBackupMismatch               key_backup.mismatch  .expected
    ├── InvalidConfiguration (ValueError)   config.invalid
    │   └── UnknownKey                      key.unknown        .purpose
    ├── Conflict                            conflict
    │   ├── DuplicateUserId                 user.duplicate_id
    │   ├── DuplicateLogin                  user.duplicate_login
    │   ├── DuplicateEmail                  user.duplicate_email
    │   ├── StaleUser                       user.stale
    │   ├── DuplicateRecord                 record.duplicate   .entity
    │   │   ├── DuplicateMembership         membership.duplicate
    │   │   ├── DuplicateIdentifier         practitioner.duplicate_identifier
    │   │   └── DuplicateInitials           membership.duplicate_initials
    │   ├── StaleRecord                     record.stale       .entity
    │   │   └── TransactionConflict         storage.transaction_conflict
    │   ├── UnknownReference                record.unknown_reference
    │   ├── SupervisesTrainees              practitioner.supervises_trainees
    │   ├── BillingIncomplete               billing.incomplete
    │   ├── IllegalTransition               onboarding.illegal_transition  .status
    │   ├── ResendThrottled                 invitation.resend_throttled  .retry_after
    │   ├── TermsNotCurrent                 terms.not_current  .current
    │   ├── IllegalLicenseTransition        license.illegal_transition  .status
    │   ├── LicenseRequestIncomplete        license.request_incomplete  .missing
    │   └── KeyPairExists                   key_pair.exists    .fingerprint
    ├── NotFound (LookupError)              not_found
    │   ├── UserNotFound                    user.not_found
    │   ├── OrganisationNotFound            organisation.not_found
    │   ├── EstablishmentNotFound           establishment.not_found
    │   ├── MembershipNotFound              membership.not_found
    │   ├── RoleNotFound                    role.not_found
    │   ├── DepartmentNotFound              department.not_found
    │   ├── PractitionerNotFound            practitioner.not_found
    │   ├── OnboardingNotFound              onboarding.not_found
    │   ├── LicenseNotFound                 license.not_found
    │   ├── ClinicLoginNotFound             clinic_login.not_found
    │   ├── KeyPairNotFound                 key_pair.not_found
    │   ├── FactorNotFound                  factor.not_found
    │   └── MessageNotFound                 outbox.message_not_found
    ├── AuthenticationFailed                auth.failed
    │   ├── AccountDeactivated              auth.account_deactivated
    │   ├── PasswordMismatch                password.mismatch
    │   ├── InvitationInvalid               invitation.invalid
    │   ├── ClinicLoginOnly                 auth.clinic_login_only
    │   ├── DeviceSessionInvalid            device.session_invalid
    │   ├── DeviceCredentialRequired        device.credential_required
    │   ├── PinIncorrect                    pin.incorrect      .attempts_left
    │   ├── PinBlocked                      pin.blocked
    │   ├── PinThrottled                    pin.throttled      .retry_after
    │   ├── SecondFactorRequired            auth.second_factor_required  .kinds
    │   ├── SecondFactorFailed              auth.second_factor_failed  .attempts_left
    │   │   └── SecondFactorReplayed        auth.second_factor_replayed
    │   └── SecondFactorThrottled           auth.second_factor_throttled  .retry_after
    ├── PermissionDenied                    auth.permission_denied  .reason
    │   ├── EscalationDenied                access.escalation
    │   ├── LastAdministrator               access.last_administrator
    │   ├── LastOwner                       access.last_owner
    │   ├── OnboardingIncomplete            onboarding.incomplete  .missing
    │   ├── LicenseRequired                 license.required   .license_status
    │   ├── DeviceLocked                    device.locked
    │   ├── RemoteAccessDenied              device.remote_access_denied
    │   └── LastFactor                      factor.last_required
    ├── UnsupportedPasswordHash             password.unsupported_hash
    ├── WeakHashParameters (ValueError)     password.weak_hash_parameters
    ├── StorageError                        storage.error      .driver_error
    │   ├── StorageUnavailable              storage.unavailable
    │   └── SchemaMismatch                  storage.schema_mismatch  .found
    └── UnitOfWorkError (RuntimeError)      uow.misuse

A policy that refuses reports *every* violation at once: :class:`Rejected` carries a tuple of
:class:`Violation` values, each with its own code (``password.too_short``,
``login.mixed_scripts``, …), the form ``field`` it concerns, and parameters.

An identifier's refusal (``InvalidIdentifier`` and below) mirrors python-stdnum's exception
tree, so code written against stdnum reads the same; it is also a one-violation
:class:`Rejected`, so a form that checks a name and an INAMI number at once can merge both
refusals with :meth:`Rejected.combine`. It never carries the refused number itself: some
identifiers (NISS) are special personal data that must not reach logs.

No error ever carries a secret: password violations name limits and classes, never the
password or a character of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import attrs

__all__ = [
    "AccessRejected",
    "AccountDeactivated",
    "AuthenticationFailed",
    "BillingIncomplete",
    "ClinicLoginNotFound",
    "ClinicLoginOnly",
    "Conflict",
    "DepartmentNotFound",
    "DeviceCredentialRequired",
    "DeviceLocked",
    "DeviceSessionInvalid",
    "DuplicateEmail",
    "DuplicateIdentifier",
    "DuplicateInitials",
    "DuplicateLogin",
    "DuplicateMembership",
    "DuplicateRecord",
    "DuplicateUserId",
    "EmailRejected",
    "EscalationDenied",
    "EstablishmentNotFound",
    "EstablishmentProfileRejected",
    "FactorNotFound",
    "FactorRejected",
    "IllegalLicenseTransition",
    "IllegalTransition",
    "InvalidChecksum",
    "InvalidComponent",
    "InvalidConfiguration",
    "InvalidFormat",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidLength",
    "InvitationInvalid",
    "KeyBackupCorrupted",
    "KeyBackupInvalid",
    "KeyBackupMismatch",
    "KeyBackupTruncated",
    "KeyBackupUnreadable",
    "KeyBackupWrongPassword",
    "KeyPairExists",
    "KeyPairNotFound",
    "KeyPairRejected",
    "LastAdministrator",
    "LastFactor",
    "LastOwner",
    "LicenseNotFound",
    "LicenseRejected",
    "LicenseRequestIncomplete",
    "LicenseRequired",
    "LoginRejected",
    "MembershipNotFound",
    "MessageNotFound",
    "NotFound",
    "Notice",
    "OnboardingIncomplete",
    "OnboardingNotFound",
    "OrganisationNotFound",
    "PasswordMismatch",
    "PasswordRejected",
    "PermissionDenied",
    "PinBlocked",
    "PinIncorrect",
    "PinThrottled",
    "PracticeIdError",
    "PractitionerNotFound",
    "PractitionerRejected",
    "ProfileRejected",
    "Rejected",
    "RemoteAccessDenied",
    "ResendThrottled",
    "RoleNotFound",
    "SchemaMismatch",
    "SecondFactorFailed",
    "SecondFactorReplayed",
    "SecondFactorRequired",
    "SecondFactorThrottled",
    "StaleRecord",
    "StaleUser",
    "StorageError",
    "StorageUnavailable",
    "SupervisesTrainees",
    "TermsNotCurrent",
    "TransactionConflict",
    "UnitOfWorkError",
    "UnknownKey",
    "UnknownReference",
    "UnsupportedPasswordHash",
    "UserNotFound",
    "Violation",
    "WeakHashParameters",
]


def _freeze(params: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(params))


@attrs.frozen(eq=True, unsafe_hash=False)
class _Finding:
    code: str
    message: str
    field: str | None = None
    params: Mapping[str, object] = attrs.field(factory=dict, converter=_freeze)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready mapping (``code``, ``field``, ``message``, ``params``)."""
        return {
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "params": dict(self.params),
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # A read-only mapping does not pickle; rebuild from a plain dict.
        return (type(self), (self.code, self.message, self.field, dict(self.params)))


@attrs.frozen(eq=True, unsafe_hash=False)
class Violation(_Finding):
    """One broken rule: a stable ``code``, the ``field`` it concerns, and parameters.

    ``message`` is an English default for logs and developers; hosts show their own text,
    chosen by ``code`` and filled from ``params``.
    """


@attrs.frozen(eq=True, unsafe_hash=False)
class Notice(_Finding):
    """Advice that does not refuse the input, such as a generic e-mail address (A3)."""


class PracticeIdError(Exception):
    """Base of every error practiceid raises on purpose.

    ``code`` is stable and dotted; ``params`` is a read-only mapping of the details a host
    needs to build its own message.
    """

    code: ClassVar[str] = "practiceid.error"
    default_message: ClassVar[str] = "practiceid refused the operation"

    def __init__(self, message: str | None = None, /, **params: object) -> None:
        self.message = message if message is not None else self.default_message
        self.params: Mapping[str, object] = _freeze(params)
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword parameters do not survive BaseException's default pickling.
        return (_rebuild, (type(self), self.message, dict(self.params)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, params={dict(self.params)!r})"

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready mapping of the error (``code``, ``message``, ``params``)."""
        return {"code": self.code, "message": self.message, "params": dict(self.params)}


def _rebuild(
    cls: type[PracticeIdError], message: str, params: dict[str, object]
) -> PracticeIdError:
    error = cls.__new__(cls)
    PracticeIdError.__init__(error, message, **params)
    return error


class InvalidInput(PracticeIdError, ValueError):
    """Input that no state of the system would accept."""

    code = "input.invalid"
    default_message = "invalid input"


class Rejected(InvalidInput):
    """Input refused by a policy, with every violation found (not only the first)."""

    code = "input.rejected"
    default_message = "the input breaks one or more rules"

    def __init__(self, violations: Iterable[Violation], /) -> None:
        self.violations: tuple[Violation, ...] = tuple(violations)
        super().__init__(
            "; ".join(v.message for v in self.violations) or self.default_message,
            codes=tuple(v.code for v in self.violations),
        )

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the violations, in the order the rules were checked."""
        return tuple(v.code for v in self.violations)

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready mapping, with each violation under ``violations``."""
        return {
            "code": self.code,
            "message": self.message,
            "violations": [v.to_dict() for v in self.violations],
        }

    @classmethod
    def combine(cls, errors: Iterable[Rejected]) -> Rejected:
        """Merge the refusals of several fields into one error.

        A single refusal is returned unchanged (so ``except PasswordRejected`` still works
        when only the password was wrong); several become one :class:`Rejected` carrying all
        of their violations.
        """
        errors = list(errors)
        if len(errors) == 1:
            return errors[0]
        return Rejected(v for error in errors for v in error.violations)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.violations,))


class LoginRejected(Rejected):
    """The login breaks the :class:`~practiceid.LoginPolicy`."""

    code = "login.rejected"


class EmailRejected(Rejected):
    """The e-mail address breaks the :class:`~practiceid.EmailPolicy` (A3)."""

    code = "email.rejected"


class PasswordRejected(Rejected):
    """The password breaks the :class:`~practiceid.PasswordPolicy` (A4)."""

    code = "password.rejected"


class ProfileRejected(Rejected):
    """A name or job title is missing, too long or holds control characters (A7)."""

    code = "profile.rejected"


class AccessRejected(Rejected):
    """A name, role, department, feature or delegation was refused (C2-C6).

    .. versionadded:: 0.2.0
    """

    code = "access.rejected"


class PractitionerRejected(Rejected):
    """Practitioner data was refused: profession, identifiers, addresses, settings, billing.

    Each :class:`Violation` names its form ``field`` (``identifiers.inami``,
    ``addresses[0].phone``, ``billing.iban``, …), so a form shows every refusal at once
    (B1-B6).

    .. versionadded:: 0.2.0
    """

    code = "practitioner.rejected"


class LicenseRejected(Rejected):
    """License input is invalid: an invoice number, a payment date, a kind (E2, E4).

    .. versionadded:: 0.3.0
    """

    code = "license.rejected"
    default_message = "the license input is invalid"


class KeyPairRejected(Rejected):
    """A public key or a backup password is not acceptable (D3).

    Violations: ``key_pair.invalid_public_key`` (not an X25519 public key in SPKI DER or PEM,
    or raw 32 bytes), ``key_pair.invalid_password`` (a backup password that is empty, not
    text, or longer than 1023 UTF-8 bytes).

    .. versionadded:: 0.5.0
    """

    code = "key_pair.rejected"
    default_message = "the key pair input is invalid"


class FactorRejected(Rejected):
    """A second factor's input is invalid: a name, networks, too many factors (F5).

    .. versionadded:: 0.5.0
    """

    code = "factor.rejected"
    default_message = "the second factor input is invalid"


class EstablishmentProfileRejected(Rejected):
    """The establishment's profile was refused: address, phone, numbers or logo (C7).

    .. versionadded:: 0.2.0
    """

    code = "establishment.profile_rejected"


class InvalidIdentifier(Rejected):
    """A professional or organisational number was refused (B2, B3, B6).

    ``params`` always holds ``kind`` (``"inami"``, ``"rpps"``, …) and the details of the
    refusal, never the number. The single :class:`Violation` has the same code and params,
    and ``field`` = ``kind`` unless the caller names the form field.

    .. versionadded:: 0.2.0
    """

    code = "identifier.invalid"
    default_message = "not a valid identifier"

    def __init__(
        self,
        message: str | None = None,
        /,
        *,
        kind: str,
        field: str | None = None,
        **params: object,
    ) -> None:
        details = {"kind": kind, **params}
        text = message if message is not None else self.default_message
        super().__init__([Violation(self.code, text, field or kind, details)])
        self.message = text
        self.params = _freeze(details)
        self.kind = kind

    def for_field(self, field: str) -> InvalidIdentifier:
        """Return the same refusal reported for the form field ``field``.

        A form with two INAMI numbers (a trainee's and a supervisor's, B4) tells them apart::

            try:
                inami.validate(form["supervisor_inami"])
            except InvalidIdentifier as error:
                raise error.for_field("supervisor_inami") from None
        """
        return _rebuild_identifier(type(self), self.message, field, dict(self.params))

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_identifier,
            (type(self), self.message, self.violations[0].field, dict(self.params)),
        )


def _rebuild_identifier(
    cls: type[InvalidIdentifier], message: str, field: str | None, params: dict[str, Any]
) -> InvalidIdentifier:
    return cls(message, field=field, **params)


class InvalidFormat(InvalidIdentifier):
    """The number holds characters or a layout its kind never has."""

    code = "identifier.invalid_format"
    default_message = "the number has an invalid format"


class InvalidLength(InvalidFormat):
    """The number has too few or too many characters (``params``: ``length``, ``expected``)."""

    code = "identifier.invalid_length"
    default_message = "the number has an invalid length"


class InvalidComponent(InvalidFormat):
    """A part of the number is out of range: prefix, bank code, birth month (``component``)."""

    code = "identifier.invalid_component"
    default_message = "a part of the number is invalid"


class InvalidChecksum(InvalidIdentifier):
    """The check digits do not match: most likely a typo."""

    code = "identifier.invalid_checksum"
    default_message = "the number's check digits do not match"


class KeyBackupInvalid(PracticeIdError, ValueError):
    """A key backup file could not be used (D3). Catch this for every reason at once.

    Each subclass names one reason, so a host can tell the user what to do: the file is
    not a key backup, was cut short, was damaged, the password is wrong, or the backup is
    someone else's (or an older key). Never carries the password or the key.

    .. versionadded:: 0.5.0
    """

    code = "key_backup.invalid"
    default_message = "this key backup cannot be used"


class KeyBackupUnreadable(KeyBackupInvalid):
    """The file is not a key backup: no encrypted PKCS#8 PEM block, or not text.

    .. versionadded:: 0.5.0
    """

    code = "key_backup.unreadable"
    default_message = "this file is not a key backup"


class KeyBackupTruncated(KeyBackupInvalid):
    """The backup file was cut short: its end, or part of its key, is missing.

    .. versionadded:: 0.5.0
    """

    code = "key_backup.truncated"
    default_message = "this key backup is incomplete; use the whole file"


class KeyBackupCorrupted(KeyBackupInvalid):
    """The backup file was damaged: its checksum or its structure is wrong.

    .. versionadded:: 0.5.0
    """

    code = "key_backup.corrupted"
    default_message = "this key backup is damaged"


class KeyBackupWrongPassword(KeyBackupInvalid):
    """The backup is intact but the password does not open it.

    .. versionadded:: 0.5.0
    """

    code = "key_backup.wrong_password"
    default_message = "wrong password for this key backup"


class KeyBackupMismatch(KeyBackupInvalid):
    """The backup holds another key than the user's: someone else's, or a replaced one.

    ``params``: ``expected`` (the stored fingerprint), ``found`` (the backup's).

    .. versionadded:: 0.5.0
    """

    code = "key_backup.mismatch"
    default_message = "this key backup belongs to another key"


class InvalidConfiguration(PracticeIdError, ValueError):
    """A policy or adapter was configured with values that cannot work (``min > max``, …)."""

    code = "config.invalid"
    default_message = "invalid configuration"


class UnknownKey(InvalidConfiguration):
    """The key provider holds no key for this purpose or key id (PINs, the audit chain).

    ``params``: ``purpose`` and ``key_id``; never the key.

    .. versionadded:: 0.4.0
    """

    code = "key.unknown"
    default_message = "the key provider holds no such key"


class Conflict(PracticeIdError):
    """The operation collides with what is already stored."""

    code = "conflict"
    default_message = "conflicts with stored data"


class DuplicateUserId(Conflict):
    """A user with this id is already stored."""

    code = "user.duplicate_id"
    default_message = "a user with this id already exists"


class DuplicateLogin(Conflict):
    """Another user already has this login, compared after normalization (A1, A2)."""

    code = "user.duplicate_login"
    default_message = "this login is already taken"


class DuplicateEmail(Conflict):
    """Another user already has this e-mail address, compared case-insensitively (A1, A2)."""

    code = "user.duplicate_email"
    default_message = "this e-mail address is already used by another account"


class StaleUser(Conflict):
    """The user changed since it was read; read it again and retry."""

    code = "user.stale"
    default_message = "the user was changed by someone else; reload and retry"


class DuplicateRecord(Conflict):
    """A record with this id is already stored (``params``: ``entity``, ``id``).

    .. versionadded:: 0.2.0
    """

    code = "record.duplicate"
    default_message = "a record with this id already exists"


class DuplicateMembership(DuplicateRecord):
    """The user is already a member of this establishment (C1): one membership per pair.

    ``params``: ``entity="membership"``, ``id`` (``"<establishment>/<user>"``),
    ``establishment_id``, ``user_id``.

    .. versionadded:: 0.2.0
    """

    code = "membership.duplicate"
    default_message = "this user is already a member of the establishment"


class DuplicateIdentifier(DuplicateRecord):
    """Another practitioner already holds this professional number (B2, B3).

    ``params``: ``entity="practitioner"``, ``kind`` (``"inami"``, ``"rpps"``, ``"adeli"``,
    ``"niss"``). Neither the number nor the other account is named: attach the existing
    account by e-mail instead of creating a second one (C1).

    .. versionadded:: 0.2.0
    """

    code = "practitioner.duplicate_identifier"
    default_message = "another practitioner already holds this number"


class DuplicateInitials(DuplicateRecord):
    """Another member of the establishment already has these initials (A7).

    ``params``: ``entity="membership"``, ``establishment_id``, ``initials``, and
    ``suggestion``: the nearest free alternative (absent when a repository raises it, since
    only the service knows the names to suggest from).

    .. versionadded:: 0.2.0
    """

    code = "membership.duplicate_initials"
    default_message = "another member of the establishment has these initials"


class StaleRecord(Conflict):
    """The record changed since it was read; reload and retry.

    ``params``: ``entity`` (``"organisation"``, ``"establishment"``, ``"membership"``),
    ``id`` (``"<establishment>/<user>"`` for a membership), ``expected`` (the version given)
    and ``stored`` (the version found).

    .. versionadded:: 0.2.0
    """

    code = "record.stale"
    default_message = "the record was changed by someone else; reload and retry"


class TransactionConflict(StaleRecord):
    """The storage gave up the unit of work to keep concurrent ones consistent; retry.

    Raised by SQL adapters on a deadlock or a serialization failure: another unit of work
    touched the same rows at the same moment. It is a :class:`StaleRecord`, so the services
    that rerun a use case on a stale record rerun it on this too. ``params``: ``entity`` and
    ``id`` when the failing write is known.

    .. versionadded:: 0.2.0
    """

    code = "storage.transaction_conflict"
    default_message = "a concurrent change conflicted with this one; retry"


class UnknownReference(Conflict):
    """The record refers to one that is not stored (a foreign key, in SQL adapters).

    practiceid's services never store such records; a host's code that writes through the
    repositories directly may. ``params``: ``entity``, ``id``.

    .. versionadded:: 0.2.0
    """

    code = "record.unknown_reference"
    default_message = "the record refers to a record that is not stored"


class SupervisesTrainees(Conflict):
    """The member is the training supervisor of active trainees (B4).

    Raised when deactivating the supervisor's membership or account, or when a change would
    make them no longer a recognised general practitioner. ``params``: ``establishments``
    and ``trainees`` (their user ids), both sorted. Hand the trainees over to another
    supervisor first (:meth:`~practiceid.ProfileService.hand_over_trainees`).

    .. versionadded:: 0.2.0
    """

    code = "practitioner.supervises_trainees"
    default_message = "this member supervises active trainees; choose a new supervisor first"


class BillingIncomplete(Conflict):
    """Billing cannot be resolved yet: data it needs is missing (B4, B6).

    ``params``: ``user_id``, ``establishment_id`` and ``missing``, a tuple of what is
    missing: ``"practitioner"``, ``"supervisor"``, ``"iban"``, ``"enterprise_number"``.

    .. versionadded:: 0.2.0
    """

    code = "billing.incomplete"
    default_message = "the billing data is incomplete"


class IllegalTransition(Conflict):
    """The onboarding command does not apply in the account's current status (D2).

    ``params``: ``status`` (the onboarding status, after any expiry the clock implies),
    ``command`` (``"resend"``, ``"accept_terms"``, …) and ``user_id``. The full table of
    legal moves is in ``docs/onboarding.md``.

    .. versionadded:: 0.2.0
    """

    code = "onboarding.illegal_transition"
    default_message = "this step does not apply to the account's onboarding status"


class ResendThrottled(Conflict):
    """The invitation was re-sent too recently, or too often in the last 24 hours (D2).

    ``params``: ``reason`` (``"cooldown"`` or ``"daily_cap"``), ``retry_after`` (the first
    moment a re-send is accepted, an aware :class:`~datetime.datetime`) and ``user_id``.

    .. versionadded:: 0.2.0
    """

    code = "invitation.resend_throttled"
    default_message = "the invitation was re-sent too recently; try again later"


class TermsNotCurrent(Conflict):
    """The terms of use accepted are not the current version (D2).

    ``params``: ``version`` (the one given) and ``current`` (the current version, or None
    when none is published). Show the current terms and ask again.

    .. versionadded:: 0.2.0
    """

    code = "terms.not_current"
    default_message = "these are not the current terms of use"


class IllegalLicenseTransition(Conflict):
    """The license command does not apply in the license's current status (E1-E4).

    ``params``: ``status`` (the status at the time of the command, after any expiry the
    clock implies), ``command`` (``"request"``, ``"activate"``, …), ``establishment_id``,
    ``user_id``, and ``kind`` when the license kind is the reason (a free license is never
    requested). The table of legal moves is in ``docs/licenses.md``.

    .. versionadded:: 0.3.0
    """

    code = "license.illegal_transition"
    default_message = "this step does not apply to the license's status"


class LicenseRequestIncomplete(Conflict):
    """An activation cannot be requested yet: data it names is missing (E2).

    ``params``: ``user_id``, ``establishment_id`` and ``missing``, a tuple of
    ``"practitioner"``, ``"name"``, ``"inami"`` (Belgium) or ``"rpps"`` (France).

    .. versionadded:: 0.3.0
    """

    code = "license.request_incomplete"
    default_message = "the activation request needs the practitioner's name and number"


class KeyPairExists(Conflict):
    """The user already has a key pair: it is never regenerated silently (D3).

    Replacing it is an administrator's explicit act
    (:meth:`~practiceid.KeyPairService.replace`). ``params``: ``user_id``, ``fingerprint``
    (of the stored key), and ``expected`` when a replacement named another fingerprint.

    .. versionadded:: 0.5.0
    """

    code = "key_pair.exists"
    default_message = "this user already has a key pair"


class NotFound(PracticeIdError, LookupError):
    """Nothing is stored under the given key."""

    code = "not_found"
    default_message = "not found"


class UserNotFound(NotFound):
    """No user has this id."""

    code = "user.not_found"
    default_message = "no such user"


class OrganisationNotFound(NotFound):
    """No organisation has this id.

    .. versionadded:: 0.2.0
    """

    code = "organisation.not_found"
    default_message = "no such organisation"


class EstablishmentNotFound(NotFound):
    """No establishment has this id.

    .. versionadded:: 0.2.0
    """

    code = "establishment.not_found"
    default_message = "no such establishment"


class MembershipNotFound(NotFound):
    """The user is not a member of this establishment.

    .. versionadded:: 0.2.0
    """

    code = "membership.not_found"
    default_message = "this user is not a member of the establishment"


class RoleNotFound(NotFound):
    """The establishment has no role with this id.

    .. versionadded:: 0.2.0
    """

    code = "role.not_found"
    default_message = "no such role in this establishment"


class DepartmentNotFound(NotFound):
    """The establishment has no department with this id.

    .. versionadded:: 0.2.0
    """

    code = "department.not_found"
    default_message = "no such department in this establishment"


class PractitionerNotFound(NotFound):
    """The user has no practitioner data yet.

    .. versionadded:: 0.2.0
    """

    code = "practitioner.not_found"
    default_message = "no practitioner data for this user"


class OnboardingNotFound(NotFound):
    """The user has no onboarding record (``params``: ``user_id``).

    .. versionadded:: 0.2.0
    """

    code = "onboarding.not_found"
    default_message = "no onboarding record for this user"


class LicenseNotFound(NotFound):
    """The member has no license in this establishment (``establishment_id``, ``user_id``).

    .. versionadded:: 0.3.0
    """

    code = "license.not_found"
    default_message = "no license for this member"


class ClinicLoginNotFound(NotFound):
    """No clinic login with this id (F1). ``params``: ``user_id`` or ``establishment_id``.

    .. versionadded:: 0.4.0
    """

    code = "clinic_login.not_found"
    default_message = "no such clinic login"


class KeyPairNotFound(NotFound):
    """The user has no key pair yet (D3). ``params``: ``user_id``.

    .. versionadded:: 0.5.0
    """

    code = "key_pair.not_found"
    default_message = "this user has no key pair"


class FactorNotFound(NotFound):
    """No second factor has this id (F5). ``params``: ``factor_id``.

    .. versionadded:: 0.5.0
    """

    code = "factor.not_found"
    default_message = "no such second factor"


class MessageNotFound(NotFound):
    """No outbox message has this id (``params``: ``message_id``).

    .. versionadded:: 0.2.0
    """

    code = "outbox.message_not_found"
    default_message = "no outbox message with this id"


class AuthenticationFailed(PracticeIdError):
    """Login or password wrong. Deliberately does not say which (unknown login or password)."""

    code = "auth.failed"
    default_message = "login or password incorrect"


class AccountDeactivated(AuthenticationFailed):
    """The credentials are right but the account is deactivated (A6).

    Raised only after the password was verified, so it reveals nothing to a guesser.
    """

    code = "auth.account_deactivated"
    default_message = "this account is deactivated"


class PasswordMismatch(AuthenticationFailed):
    """Raised by a :class:`~practiceid.ports.PasswordHasher` when the password is wrong."""

    code = "password.mismatch"
    default_message = "the password does not match"


class InvitationInvalid(AuthenticationFailed):
    """The invitation link does not work: unknown, already used, expired or revoked (D2).

    One error, with no ``params``, for every reason and after the same work, so a link
    reveals nothing about other invitations. The person asks their administrator to re-send.

    .. versionadded:: 0.2.0
    """

    code = "invitation.invalid"
    default_message = "this invitation link is not valid; ask for a new one"


class ClinicLoginOnly(AuthenticationFailed):
    """A clinic login's credentials open shared-device sessions only (F1).

    Never a person's session: use :meth:`~practiceid.DeviceService.open`. Raised only after
    the password was verified. ``params``: ``user_id``.

    .. versionadded:: 0.4.0
    """

    code = "auth.clinic_login_only"
    default_message = "a clinic login opens shared-device sessions only"


class DeviceSessionInvalid(AuthenticationFailed):
    """The device session token is unknown, or its session was closed: sign in again.

    .. versionadded:: 0.4.0
    """

    code = "device.session_invalid"
    default_message = "this device session is not valid; sign in again"


class DeviceCredentialRequired(AuthenticationFailed):
    """Too many wrong PINs on this device: the full credential must be entered again (F2).

    The clinic login's password, or the remote member's, before any PIN is tried.
    ``params``: ``device_session_id``.

    .. versionadded:: 0.4.0
    """

    code = "device.credential_required"
    default_message = "enter the clinic login's password again"


class PinIncorrect(AuthenticationFailed):
    """No active member of the establishment has this PIN (or not the member chosen).

    ``params``: ``attempts_left``, wrong PINs this device may still take before it needs the
    full credential. One error whether the PIN is unknown, belongs to someone else or to a
    deactivated member.

    .. versionadded:: 0.4.0
    """

    code = "pin.incorrect"
    default_message = "wrong PIN"


class PinBlocked(AuthenticationFailed):
    """The chosen member's PIN took too many wrong entries (F2).

    An administrator must issue a new one. ``params``: ``user_id``.

    .. versionadded:: 0.4.0
    """

    code = "pin.blocked"
    default_message = "this PIN is blocked; ask an administrator for a new one"


class PinThrottled(AuthenticationFailed):
    """The establishment's devices took too many wrong PINs lately (F2).

    No PIN is checked until ``retry_after`` (seconds) has passed.

    .. versionadded:: 0.4.0
    """

    code = "pin.throttled"
    default_message = "too many wrong PINs; try again later"


class SecondFactorRequired(AuthenticationFailed):
    """The password is right; a second factor is needed to complete the sign-in (F5).

    Raised only after the password was verified. ``params``: ``user_id`` and ``kinds``, the
    kinds of code the user can enter (``"totp"``, ``"recovery_code"``). Ask for a code and
    call again with it.

    .. versionadded:: 0.5.0
    """

    code = "auth.second_factor_required"
    default_message = "enter the code of your second factor"


class SecondFactorFailed(AuthenticationFailed):
    """The code is not valid for any of the user's second factors (F5).

    ``params``: ``attempts_left`` before codes are refused for a while.

    .. versionadded:: 0.5.0
    """

    code = "auth.second_factor_failed"
    default_message = "wrong code"


class SecondFactorReplayed(SecondFactorFailed):
    """The code was right but was already used: wait for the next one (F5).

    A one-time code is never accepted twice, even within its time step.

    .. versionadded:: 0.5.0
    """

    code = "auth.second_factor_replayed"
    default_message = "this code was already used; wait for the next one"


class SecondFactorThrottled(AuthenticationFailed):
    """Too many wrong codes lately: no code is checked until ``retry_after`` seconds (F5).

    .. versionadded:: 0.5.0
    """

    code = "auth.second_factor_throttled"
    default_message = "too many wrong codes; try again later"


class PermissionDenied(PracticeIdError):
    """The actor may not do this.

    ``params``: ``permission``, ``actor``, and ``reason``, one of the stable
    :class:`~practiceid.Reason` codes (``missing_permission``, ``other_establishment``,
    ``user_deactivated``, …); ``missing`` lists the permissions the actor lacks, when that is
    the reason.
    """

    code = "auth.permission_denied"
    default_message = "not allowed"


class EscalationDenied(PermissionDenied):
    """The change would give or take away permissions the actor does not hold (C3).

    .. versionadded:: 0.2.0
    """

    code = "access.escalation"
    default_message = "nobody may grant or revoke a permission they do not hold"


class LastAdministrator(PermissionDenied):
    """The change would leave the establishment without an active administrator.

    .. versionadded:: 0.2.0
    """

    code = "access.last_administrator"
    default_message = "the last active administrator of an establishment must stay"


class LastOwner(PermissionDenied):
    """The change would leave the organisation without an active owner (C2).

    .. versionadded:: 0.2.0
    """

    code = "access.last_owner"
    default_message = "the last owner of an organisation must stay"


class OnboardingIncomplete(PermissionDenied):
    """The user signed in but must finish onboarding before they continue (D1, D2).

    ``params``: ``user_id``, ``missing`` (a tuple of ``"terms"``, the current terms of use
    are not accepted; ``"password_change"``, a temporary password must be replaced) and
    ``terms_version`` (the version to accept, or None).

    .. versionadded:: 0.2.0
    """

    code = "onboarding.incomplete"
    default_message = "finish onboarding first: accept the terms of use or change the password"


class LicenseRequired(PermissionDenied):
    """The act needs a valid license, and the member's license does not allow it now.

    ``params``: as :class:`PermissionDenied` with ``reason="license_required"``, plus
    ``license_status`` (``expired``, ``unlicensed``, ``requested``, …). What each status
    allows is in ``docs/licenses.md``.

    .. versionadded:: 0.3.0
    """

    code = "license.required"
    default_message = "a valid license is needed for this"


class DeviceLocked(PermissionDenied):
    """The shared device is locked, handed over or idle (F3).

    A member must unlock it with their PIN first. ``params``: ``device_session_id``,
    ``reason="device_locked"``.

    .. versionadded:: 0.4.0
    """

    code = "device.locked"
    default_message = "the device is locked; unlock it with your PIN"


class RemoteAccessDenied(PermissionDenied):
    """The account has no remote access, and the sign-in comes from outside (F1, F4).

    Outside: from no network the practice declared as its premises. ``params``:
    ``user_id``, ``establishment_id``, ``reason="remote_access"``.

    .. versionadded:: 0.4.0
    """

    code = "device.remote_access_denied"
    default_message = "remote access is not granted to this account"


class LastFactor(PermissionDenied):
    """The factor is the user's last, and an establishment of theirs requires two (F5).

    ``params``: ``user_id``, ``establishments`` (the ids requiring a second factor).

    .. versionadded:: 0.5.0
    """

    code = "factor.last_required"
    default_message = "an establishment requires a second factor; add another one first"


class UnsupportedPasswordHash(PracticeIdError):
    """No configured hasher recognizes the stored hash's format."""

    code = "password.unsupported_hash"
    default_message = "the stored password hash has an unsupported format"


class WeakHashParameters(PracticeIdError, ValueError):
    """Hashing parameters below the OWASP floor (19 MiB, t=2, p=1) were configured."""

    code = "password.weak_hash_parameters"
    default_message = "password hashing parameters are below the OWASP minimum"


class StorageError(PracticeIdError):
    """The storage failed for a reason that is not the caller's input.

    Adapters raise it instead of their driver's exceptions, which never reach the host.
    ``params``: ``driver_error``, the driver exception's class name, and ``sqlstate`` when
    the database gave one. The driver's message is never copied: it may quote stored values.

    .. versionadded:: 0.2.0
    """

    code = "storage.error"
    default_message = "the storage failed"


class StorageUnavailable(StorageError):
    """The storage cannot be reached, or a lock was not granted in time; try again later.

    .. versionadded:: 0.2.0
    """

    code = "storage.unavailable"
    default_message = "the storage is unavailable"


class SchemaMismatch(StorageError):
    """The database's schema revision is not the one this version of practiceid uses.

    ``params``: ``found`` (the revision in the database, ``None`` for no practiceid schema)
    and ``expected``. Run the store's ``upgrade_schema()`` (see ``docs/sql.md``).

    .. versionadded:: 0.2.0
    """

    code = "storage.schema_mismatch"
    default_message = "the database schema is not the one this version of practiceid uses"


class UnitOfWorkError(PracticeIdError, RuntimeError):
    """A unit of work was used outside ``with``, or entered twice."""

    code = "uow.misuse"
    default_message = "unit of work used outside of its 'with' block"
