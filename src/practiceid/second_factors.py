"""The second-factor service: enrol, use, rename and remove second factors (F5).

A user may hold several factors (source 002): authenticator apps (TOTP), a set of recovery
codes, and network allow-lists that support sets. :meth:`FactorService.sign_in` checks the
password and then the second factor; :meth:`FactorService.verify` checks a code alone, for
hosts that keep "password verified" in their own session between two forms.

>>> from practiceid.testing import sample_strong_auth
>>> from practiceid.policies.factors import totp_code
>>> clinic = sample_strong_auth()
>>> enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
>>> enrolment.uri.startswith("otpauth://totp/")
True
>>> code = clinic.app_code(enrolment)
>>> clinic.factors.confirm_totp(
...     actor=clinic.physician, factor_id=enrolment.factor.id, code=code
... ).confirmed
True
>>> _ = clinic.clock.advance(seconds=30)
>>> signed_in = clinic.factors.sign_in(
...     clinic.login, clinic.password, code=clinic.app_code(enrolment)
... )
>>> signed_in.method
<SignInMethod.TOTP: 'totp'>
"""

from __future__ import annotations

import base64
import enum
import hmac
import ipaddress
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import attrs

from practiceid._rerun import rerun_stale
from practiceid.access import AccessService
from practiceid.accounts import AccountService
from practiceid.auditing import Auditor, NoRequestContext, audited
from practiceid.authorization import Decision, Reason
from practiceid.devices import on_premises, parse_networks
from practiceid.errors import (
    AccountDeactivated,
    FactorNotFound,
    FactorRejected,
    LastFactor,
    PracticeIdError,
    SecondFactorFailed,
    SecondFactorReplayed,
    SecondFactorRequired,
    SecondFactorThrottled,
    UserNotFound,
    Violation,
)
from practiceid.establishments import EstablishmentId
from practiceid.factors import (
    TOTP_KEY_PURPOSE,
    Factor,
    FactorGuard,
    FactorId,
    FactorKind,
    FactorRequirement,
    open_secret,
    seal_secret,
)
from practiceid.permissions import Permission
from practiceid.policies import factors as policy
from practiceid.policies.factors import FactorSettings
from practiceid.ports.audit import KeyProvider, RequestContext
from practiceid.ports.clock import Clock
from practiceid.ports.factors import FactorUnitOfWork, FactorUnitOfWorkFactory
from practiceid.users import User, UserId

__all__ = [
    "FactorService",
    "FactorView",
    "RecoveryCodes",
    "SignInMethod",
    "SignedIn",
    "TotpEnrolment",
    "Verification",
]

_T = TypeVar("_T")
_MAX_NAME = 60


class SignInMethod(enum.StrEnum):
    """How the second step of a sign-in was satisfied."""

    PASSWORD = "password"  # noqa: S105 - a method's name, not a secret
    """No second factor was needed: the user has none (see ``enrolment_required``)."""
    TOTP = "totp"
    """A code of an authenticator app."""
    RECOVERY_CODE = "recovery_code"
    """One of the user's recovery codes, now spent."""
    NETWORK = "network"
    """The request came from a network of one of the user's network factors."""


@attrs.frozen
class FactorView:
    """What a user or an administrator sees of a factor: never its secret or codes."""

    id: FactorId
    user_id: UserId
    kind: FactorKind
    name: str
    created_at: datetime
    created_by: UserId
    confirmed: bool
    last_used_at: datetime | None
    codes_left: int
    networks: tuple[str, ...]

    @classmethod
    def of(cls, factor: Factor) -> FactorView:
        """Return the view of ``factor``."""
        return cls(
            id=factor.id,
            user_id=factor.user_id,
            kind=factor.kind,
            name=factor.name,
            created_at=factor.created_at,
            created_by=factor.created_by,
            confirmed=factor.is_confirmed,
            last_used_at=factor.last_used_at,
            codes_left=factor.codes_left,
            networks=factor.networks,
        )


@attrs.frozen
class TotpEnrolment:
    """A TOTP factor just begun: show ``uri`` as a QR code, or ``secret`` to type in.

    Both are secrets, shown once and never in ``repr``; the factor is pending until
    :meth:`FactorService.confirm_totp` gets a first code from the app.
    """

    factor: FactorView
    secret: str = attrs.field(repr=False)
    uri: str = attrs.field(repr=False)


@attrs.frozen
class RecoveryCodes:
    """A new set of recovery codes, shown once (never in ``repr``); each works once."""

    factor: FactorView
    codes: tuple[str, ...] = attrs.field(repr=False)


@attrs.frozen
class Verification:
    """A code accepted: which factor, how, and how many recovery codes are left."""

    factor: FactorView
    method: SignInMethod


@attrs.frozen
class SignedIn:
    """A completed sign-in.

    ``enrolment_required``: the user has no second factor yet and an establishment of
    theirs (``requiring``) requires one: let them enrol, and nothing else, until they do.
    """

    user: User
    method: SignInMethod
    factor: FactorView | None = None
    enrolment_required: bool = False
    requiring: tuple[EstablishmentId, ...] = ()


def _rejected(code: str, message: str, field: str, **params: object) -> FactorRejected:
    return FactorRejected([Violation(code, message, field, params)])


def _clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise _rejected("factor.invalid_name", "a factor's name is text", "name")
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned or len(cleaned) > _MAX_NAME:
        raise _rejected(
            "factor.invalid_name", f"a factor's name is 1 to {_MAX_NAME} characters", "name"
        )
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn"} for c in cleaned):
        raise _rejected("factor.invalid_name", "a factor's name holds control characters", "name")
    return cleaned


def _is_id(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _counts(factor: Factor) -> bool:
    """True for the factors an establishment's requirement counts: confirmed apps, networks.

    Recovery codes are the way back in when the app is lost, not a factor of their own.
    """
    return factor.is_confirmed and factor.kind in {FactorKind.TOTP, FactorKind.NETWORK}


@attrs.frozen(kw_only=True)
class FactorService:
    """Use cases for second factors (F5). Build one per application; thread-safe.

    Every command records one audit event (F3) on the platform chain (establishments'
    requirements on theirs): kinds, names and counts, never a secret, a code or a network
    the user typed wrong.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.FactorUnitOfWork`.
        access: decides acts on another's account (``users.manage_factors``; networks need
            ``users.manage_ip_factors``, support's) and on establishments' settings.
        accounts: checks passwords (sign-in, and re-authentication before a removal).
        keys: the host's key provider; purpose ``"totp"`` encrypts TOTP secrets.
        clock: the time of codes and factors.
        settings: :class:`~practiceid.policies.factors.FactorSettings`.
        request_context: the peer address (network factors, the audit trail).
        retries: how many times a use case runs when a concurrent change made it stale.
        new_id: makes factor ids.
        new_secret: makes TOTP secrets (``settings.secret_bytes`` random bytes).
    """

    unit_of_work: FactorUnitOfWorkFactory
    access: AccessService
    accounts: AccountService
    keys: KeyProvider
    clock: Clock
    settings: FactorSettings = attrs.field(factory=FactorSettings)
    request_context: RequestContext = attrs.field(factory=NoRequestContext)
    retries: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    new_id: Callable[[], FactorId] = attrs.field(default=lambda: FactorId(str(uuid.uuid4())))
    new_secret: Callable[[int], bytes] = secrets.token_bytes

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events."""
        return Auditor(self.clock, self.request_context)

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, use_case: Callable[[], _T]) -> _T:
        return rerun_stale(use_case, self.retries)

    @staticmethod
    def _user(uow: FactorUnitOfWork, user_id: object) -> User:
        if not isinstance(user_id, str) or not user_id:
            raise UserNotFound(user_id=str(user_id))
        return uow.users.get(UserId(user_id))

    def _authorize(
        self, uow: FactorUnitOfWork, actor: UserId, user_id: UserId, kind: FactorKind | None
    ) -> None:
        """Allow the user over their own factors, others with the permission (F5).

        Network factors need ``users.manage_ip_factors`` always, the user's own included.
        A deactivated account acts on nothing, its own factors included.
        """
        if kind is FactorKind.NETWORK:
            permission = Permission.USERS_MANAGE_IP_FACTORS
        else:
            permission = Permission.USERS_MANAGE_FACTORS
        if actor == user_id and kind is not FactorKind.NETWORK:
            if not self._user(uow, actor).is_active:
                raise Decision(
                    allowed=False,
                    reason=Reason.USER_DEACTIVATED,
                    permission=permission,
                    actor=actor,
                ).error()
            return
        self.access.authorize_account(uow, actor=actor, permission=permission, user_id=user_id)

    @staticmethod
    def _factor(uow: FactorUnitOfWork, factor_id: object) -> Factor:
        if not isinstance(factor_id, str) or not factor_id:
            raise FactorNotFound(factor_id=str(factor_id))
        return uow.factors.get(FactorId(factor_id))

    def _record(
        self,
        uow: FactorUnitOfWork,
        action: str,
        actor: UserId | None,
        factor: Factor,
        **details: str | int | bool | None,
    ) -> None:
        self.auditor.record(
            uow,
            action,
            actor=actor,
            target_type="user",
            target_id=factor.user_id,
            details={"factor_id": factor.id, "kind": str(factor.kind), **details},
        )

    @staticmethod
    def _serialize(uow: FactorUnitOfWork, user_id: UserId) -> None:
        """Write the user's guard first: changes to one user's factors commit one by one.

        The checks on a user's set of factors (room for one more, the last required one)
        read rows that a concurrent change may delete or add. Writing the guard row before
        reading them makes a concurrent change of the same user's factors wait and then go
        stale (and run again on the new state), also at READ COMMITTED.
        """
        uow.factor_guards.save(uow.factor_guards.find(user_id) or FactorGuard(user_id=user_id))

    def _room(self, uow: FactorUnitOfWork, user_id: UserId, now: datetime) -> None:
        """Drop the user's expired pending apps; refuse when they hold the most factors."""
        held = 0
        for factor in uow.factors.list_for_user(user_id):
            if (
                not factor.is_confirmed
                and now - factor.created_at > self.settings.enrolment_timeout
            ):
                uow.factors.remove(factor.id)
            else:
                held += 1
        if held >= self.settings.max_factors:
            raise _rejected(
                "factor.too_many",
                f"a user holds at most {self.settings.max_factors} factors",
                "user_id",
                max=self.settings.max_factors,
            )

    def _prepare(
        self, uow: FactorUnitOfWork, actor: UserId, user_id: object, kind: FactorKind
    ) -> tuple[User, datetime]:
        """Find the user, check the actor may add ``kind``, serialize; return them and now."""
        user = self._user(uow, user_id)
        self._authorize(uow, actor, user.id, kind)
        self._serialize(uow, user.id)
        return user, self.clock.now()

    def _new_factor(
        self,
        uow: FactorUnitOfWork,
        actor: UserId,
        user: User,
        kind: FactorKind,
        *,
        name: str,
        now: datetime,
    ) -> Factor:
        """Make room for a factor of ``kind`` and return it, not stored yet.

        Confirmed at once, except an app: it waits for its first code.
        """
        self._room(uow, user.id, now)
        return Factor(
            id=self.new_id(),
            user_id=user.id,
            kind=kind,
            name=name,
            created_at=now,
            created_by=actor,
            confirmed_at=None if kind is FactorKind.TOTP else now,
        )

    def _networks(self, networks: object) -> tuple[str, ...]:
        items = [networks] if isinstance(networks, str) else networks
        try:
            parsed = parse_networks(list(items))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise _rejected(
                "factor.invalid_network", "networks are CIDR ranges or addresses", "networks"
            ) from None
        if not parsed:
            raise _rejected("factor.invalid_network", "give at least one network", "networks")
        for network in parsed:
            net = ipaddress.ip_network(network)
            floor = (
                self.settings.min_ipv4_prefix
                if net.version == 4  # noqa: PLR2004
                else self.settings.min_ipv6_prefix
            )
            if net.prefixlen < floor:
                raise _rejected(
                    "factor.network_too_broad",
                    f"a network factor's ranges are /{floor} or narrower",
                    "networks",
                    network=network,
                    min_prefix=floor,
                )
        return parsed

    # -- reading ----------------------------------------------------------------------------

    def factors(self, *, actor: UserId, user_id: UserId) -> Sequence[FactorView]:
        """Return the user's factors, pending apps included. Records nothing.

        Raises:
            PermissionDenied, UserNotFound.
        """
        with self.unit_of_work() as uow:
            user = self._user(uow, user_id)
            self._authorize(uow, actor, user.id, None)
            return [FactorView.of(f) for f in uow.factors.list_for_user(user.id)]

    # -- enrolment --------------------------------------------------------------------------

    @audited("factor.begin_totp")
    def begin_totp(
        self, *, actor: UserId, user_id: UserId, name: str = "Authenticator app"
    ) -> TotpEnrolment:
        """Begin enrolling an authenticator app: a new secret, and its provisioning URI.

        The factor is pending until :meth:`confirm_totp`; a pending one older than
        ``settings.enrolment_timeout`` is dropped by the user's next enrolment. The URI
        names the account by its login.

        Raises:
            FactorRejected: a bad name, or the user holds ``settings.max_factors``.
            UnknownKey: the key provider has no ``"totp"`` key.
            PermissionDenied, UserNotFound.
        """
        clean = _clean_name(name)
        key_id, key = self.keys.current(TOTP_KEY_PURPOSE)
        secret = self.new_secret(self.settings.secret_bytes)

        def use_case() -> tuple[Factor, User]:
            with self.unit_of_work() as uow:
                user, now = self._prepare(uow, actor, user_id, FactorKind.TOTP)
                new = self._new_factor(uow, actor, user, FactorKind.TOTP, name=clean, now=now)
                factor = uow.factors.add(
                    attrs.evolve(
                        new, key_id=key_id, secret=seal_secret(key, new.id, user.id, secret)
                    )
                )
                self._record(uow, "factor.begin_totp", actor, factor, name=clean)
                uow.commit()
                return factor, user

        factor, user = self._run(use_case)
        uri = policy.provisioning_uri(
            secret,
            account_name=str(user.login),
            issuer=self.settings.issuer,
            params=self.settings.totp,
        )
        return TotpEnrolment(
            factor=FactorView.of(factor),
            secret=base64.b32encode(secret).decode("ascii").rstrip("="),
            uri=uri,
        )

    @audited("factor.confirm_totp", target="factor_id", target_type="factor")
    def confirm_totp(self, *, actor: UserId, factor_id: FactorId, code: str) -> FactorView:
        """Confirm an authenticator app with a first code from it: the factor is usable.

        Wrong codes count against the user's budget, as at sign-in.

        Raises:
            SecondFactorFailed: not the app's current code (``attempts_left``).
            SecondFactorThrottled: too many wrong codes lately (``retry_after``).
            FactorNotFound: unknown, not an app, already confirmed, or expired.
            PermissionDenied.
        """

        def use_case() -> Factor:
            with self.unit_of_work() as uow:
                factor = self._factor(uow, factor_id)
                self._authorize(uow, actor, factor.user_id, FactorKind.TOTP)
                now = self.clock.now()
                pending = factor.kind is FactorKind.TOTP and not factor.is_confirmed
                if not pending or now - factor.created_at > self.settings.enrolment_timeout:
                    raise FactorNotFound(factor_id=factor.id, reason="not_pending")
                guard = self._guard(uow, factor.user_id, now)
                step = self._match(factor, code, now)
                if step is None:
                    raise self._miss(uow, guard, now)
                confirmed = attrs.evolve(factor, confirmed_at=now, last_step=step)
                stored = uow.factors.update(confirmed)
                uow.factor_guards.save(guard)  # serializes guesses: the budget stays exact
                self._record(uow, "factor.confirm_totp", actor, stored)
                uow.commit()
                return stored

        return FactorView.of(self._run(use_case))

    @audited("factor.recovery_codes")
    def new_recovery_codes(
        self, *, actor: UserId, user_id: UserId, name: str = "Recovery codes"
    ) -> RecoveryCodes:
        """Make the user a new set of recovery codes, shown once; any old set stops working.

        ``settings.recovery_codes`` codes (10) of ``settings.recovery_code_length``
        characters (16: 80 bits), stored as digests; each works once.

        Raises:
            FactorRejected, PermissionDenied, UserNotFound.
        """
        clean = _clean_name(name)
        codes = tuple(
            policy.new_recovery_code(self.settings.recovery_code_length)
            for _ in range(self.settings.recovery_codes)
        )

        def use_case() -> Factor:
            with self.unit_of_work() as uow:
                user, now = self._prepare(uow, actor, user_id, FactorKind.RECOVERY_CODES)
                replaced = [
                    f
                    for f in uow.factors.list_for_user(user.id)
                    if f.kind is FactorKind.RECOVERY_CODES
                ]
                for old in replaced:
                    uow.factors.remove(old.id)
                new = self._new_factor(
                    uow, actor, user, FactorKind.RECOVERY_CODES, name=clean, now=now
                )
                digests = tuple(policy.recovery_digest(new.id, c) or b"" for c in codes)
                factor = uow.factors.add(attrs.evolve(new, digests=digests))
                self._record(
                    uow,
                    "factor.recovery_codes",
                    actor,
                    factor,
                    count=len(codes),
                    replaced=bool(replaced),
                )
                uow.commit()
                return factor

        return RecoveryCodes(factor=FactorView.of(self._run(use_case)), codes=codes)

    @audited("factor.add_network")
    def add_network_factor(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        networks: Sequence[str],
        name: str = "Practice network",
    ) -> FactorView:
        """Add a network factor: from these ranges, the password alone signs in (F5).

        Support only (``users.manage_ip_factors``, source 002), for the user's own account
        too. Ranges broader than ``settings.min_ipv4_prefix`` / ``min_ipv6_prefix`` are
        refused: a factor that matches half the Internet is none.

        Raises:
            FactorRejected: bad or too broad networks, a bad name, too many factors.
            PermissionDenied, UserNotFound.
        """
        clean = _clean_name(name)
        parsed = self._networks(networks)

        def use_case() -> Factor:
            with self.unit_of_work() as uow:
                user, now = self._prepare(uow, actor, user_id, FactorKind.NETWORK)
                new = self._new_factor(uow, actor, user, FactorKind.NETWORK, name=clean, now=now)
                factor = uow.factors.add(attrs.evolve(new, networks=parsed))
                self._record(uow, "factor.add_network", actor, factor, networks=",".join(parsed))
                uow.commit()
                return factor

        return FactorView.of(self._run(use_case))

    @audited("factor.set_networks", target="factor_id", target_type="factor")
    def set_networks(
        self, *, actor: UserId, factor_id: FactorId, networks: Sequence[str]
    ) -> FactorView:
        """Change a network factor's ranges. Support only, as :meth:`add_network_factor`.

        Raises:
            FactorRejected, FactorNotFound (also for a factor of another kind),
            PermissionDenied.
        """
        parsed = self._networks(networks)

        def use_case() -> Factor:
            with self.unit_of_work() as uow:
                factor = self._factor(uow, factor_id)
                if factor.kind is not FactorKind.NETWORK:
                    raise FactorNotFound(factor_id=factor.id, reason="not_network")
                self._authorize(uow, actor, factor.user_id, FactorKind.NETWORK)
                changed = parsed != factor.networks
                stored = (
                    uow.factors.update(attrs.evolve(factor, networks=parsed)) if changed else factor
                )
                self._record(
                    uow,
                    "factor.set_networks",
                    actor,
                    stored,
                    networks=",".join(parsed),
                    changed=changed,
                )
                uow.commit()
                return stored

        return FactorView.of(self._run(use_case))

    @audited("factor.rename", target="factor_id", target_type="factor")
    def rename(self, *, actor: UserId, factor_id: FactorId, name: str) -> FactorView:
        """Rename a factor ("Phone", "Old tablet"): the user, or ``users.manage_factors``.

        Raises:
            FactorRejected, FactorNotFound, PermissionDenied.
        """
        clean = _clean_name(name)

        def use_case() -> Factor:
            with self.unit_of_work() as uow:
                factor = self._factor(uow, factor_id)
                kind = FactorKind.NETWORK if factor.kind is FactorKind.NETWORK else None
                self._authorize(uow, actor, factor.user_id, kind)
                changed = clean != factor.name
                stored = uow.factors.update(attrs.evolve(factor, name=clean)) if changed else factor
                self._record(uow, "factor.rename", actor, stored, name=clean, changed=changed)
                uow.commit()
                return stored

        return FactorView.of(self._run(use_case))

    @audited("factor.remove", target="factor_id", target_type="factor")
    def remove(self, *, actor: UserId, factor_id: FactorId, password: str) -> None:
        """Remove a factor, after the actor re-enters their password (recent re-authentication).

        The last app or network factor stays while an establishment of the user requires a
        second factor (F5): add another first. A pending app can always go.

        Raises:
            AuthenticationFailed: the actor's password is wrong.
            LastFactor: the factor is the last and an establishment requires one.
            FactorNotFound, PermissionDenied.
        """
        self.accounts.verify_password(actor, password)

        def use_case() -> None:
            with self.unit_of_work() as uow:
                factor = self._factor(uow, factor_id)
                kind = FactorKind.NETWORK if factor.kind is FactorKind.NETWORK else None
                self._authorize(uow, actor, factor.user_id, kind)
                self._serialize(uow, factor.user_id)
                if _counts(factor):
                    others = [
                        f
                        for f in uow.factors.list_for_user(factor.user_id)
                        if f.id != factor.id and _counts(f)
                    ]
                    requiring = self._requiring(uow, factor.user_id)
                    if not others and requiring:
                        raise LastFactor(
                            user_id=factor.user_id,
                            establishments=tuple(requiring),
                            reason="last_factor",
                            actor=actor,
                        )
                uow.factors.remove(factor.id)
                self._record(uow, "factor.remove", actor, factor, name=factor.name)
                uow.commit()

        self._run(use_case)

    @staticmethod
    def _requiring(uow: FactorUnitOfWork, user_id: UserId) -> list[EstablishmentId]:
        active = [m.establishment_id for m in uow.memberships.list_for_user(user_id) if m.is_active]
        return list(uow.factor_requirements.required_among(active)) if active else []

    # -- establishments ---------------------------------------------------------------------

    @audited("factor.require", target_type="establishment", target="establishment_id")
    def require_second_factor(
        self, *, actor: UserId, establishment_id: EstablishmentId, required: bool
    ) -> FactorRequirement:
        """Say whether the establishment's members must sign in with a second factor.

        Needs ``establishment.manage_settings``. Members without a factor can still sign
        in, with :attr:`SignedIn.enrolment_required` set, and only enrol until they have one;
        their last factor cannot be removed meanwhile.

        Raises:
            PermissionDenied, EstablishmentNotFound.
        """
        if not isinstance(required, bool):
            raise _rejected("factor.invalid_requirement", "required is True or False", "required")

        def use_case() -> FactorRequirement:
            with self.unit_of_work() as uow:
                if not _is_id(establishment_id):
                    raise _rejected(
                        "establishment.invalid_id", "not an establishment id", "establishment_id"
                    )
                establishment, _ = self.access.authorize(
                    uow,
                    actor=actor,
                    establishment_id=EstablishmentId(establishment_id),
                    permission=Permission.ESTABLISHMENT_MANAGE_SETTINGS,
                )
                current = uow.factor_requirements.find(establishment.id)
                changed = current is None or current.required != required
                now = self.clock.now()
                if current is None:
                    current = FactorRequirement(
                        establishment_id=establishment.id,
                        required=required,
                        changed_at=now,
                        changed_by=actor,
                    )
                    stored = uow.factor_requirements.save(current)
                elif changed:
                    stored = uow.factor_requirements.save(
                        attrs.evolve(current, required=required, changed_at=now, changed_by=actor)
                    )
                else:
                    stored = current
                self.auditor.record(
                    uow,
                    "factor.require",
                    actor=actor,
                    establishment_id=establishment.id,
                    target_type="establishment",
                    target_id=establishment.id,
                    details={"required": required, "changed": changed},
                )
                uow.commit()
                return stored

        return self._run(use_case)

    # -- using factors ----------------------------------------------------------------------

    def _guard(self, uow: FactorUnitOfWork, user_id: UserId, now: datetime) -> FactorGuard:
        guard = uow.factor_guards.find(user_id) or FactorGuard(user_id=user_id)
        wait = policy.retry_after(guard.misses, now, self.settings)
        if wait is not None:
            raise SecondFactorThrottled(user_id=user_id, retry_after=wait)
        return attrs.evolve(guard, misses=policy.recent_misses(guard.misses, now, self.settings))

    def _miss(
        self, uow: FactorUnitOfWork, guard: FactorGuard, now: datetime, *, replayed: bool = False
    ) -> SecondFactorFailed:
        """Count a wrong code, commit, and return the error to raise."""
        stored = uow.factor_guards.save(attrs.evolve(guard, misses=(*guard.misses, now)))
        uow.commit()
        left = max(self.settings.attempts - len(stored.misses), 0)
        error = SecondFactorReplayed if replayed else SecondFactorFailed
        return error(user_id=guard.user_id, attempts_left=left)

    def _secret(self, factor: Factor) -> bytes | None:
        if factor.key_id is None:
            return None
        key = self.keys.key(TOTP_KEY_PURPOSE, factor.key_id)
        return open_secret(key, factor.id, factor.user_id, factor.secret)

    def _match(self, factor: Factor, code: object, now: datetime) -> int | None:
        secret = self._secret(factor)
        if secret is None:
            return None
        return policy.match_totp(
            secret,
            code,
            now=now.timestamp(),
            last_step=factor.last_step,
            params=self.settings.totp,
            window=self.settings.window,
        )

    def _replayed(self, factor: Factor, code: object, now: datetime) -> bool:
        secret = self._secret(factor)
        return secret is not None and policy.replayed_totp(
            secret,
            code,
            now=now.timestamp(),
            last_step=factor.last_step,
            params=self.settings.totp,
            window=self.settings.window,
        )

    def _verify(self, user: User, code: object) -> Verification:
        def use_case() -> Verification:
            with self.unit_of_work() as uow:
                now = self.clock.now()
                guard = self._guard(uow, user.id, now)
                held = [f for f in uow.factors.list_for_user(user.id) if f.is_confirmed]
                for factor in held:
                    if factor.kind is FactorKind.TOTP:
                        step = self._match(factor, code, now)
                        if step is not None:
                            return self._accept(
                                uow, guard, factor.used(now, step=step), SignInMethod.TOTP
                            )
                    elif factor.kind is FactorKind.RECOVERY_CODES:
                        digest = policy.recovery_digest(factor.id, code)
                        matched = digest is not None and any(
                            hmac.compare_digest(digest, d) for d in factor.digests
                        )
                        if matched:
                            return self._accept(
                                uow,
                                guard,
                                factor.used(now, digest=digest),
                                SignInMethod.RECOVERY_CODE,
                            )
                replayed = any(
                    f.kind is FactorKind.TOTP and self._replayed(f, code, now) for f in held
                )
                raise self._miss(uow, guard, now, replayed=replayed)

        return self._run(use_case)

    def _accept(
        self, uow: FactorUnitOfWork, guard: FactorGuard, factor: Factor, method: SignInMethod
    ) -> Verification:
        stored = uow.factors.update(factor)  # a concurrent use of the same code goes stale
        uow.factor_guards.save(guard)  # serializes guesses: the budget stays exact
        details: dict[str, str | int | bool | None] = {"method": str(method)}
        if method is SignInMethod.RECOVERY_CODE:
            details["codes_left"] = stored.codes_left
        self._record(uow, "factor.verify", stored.user_id, stored, **details)
        uow.commit()
        return Verification(factor=FactorView.of(stored), method=method)

    @audited("factor.verify", actor="user_id")
    def verify(self, *, user_id: UserId, code: str) -> Verification:
        """Check a code of the user's second factors: an app's, or a recovery code.

        For hosts that verified the password in a first form and keep that in their own
        session. An app's code is accepted within ``settings.window`` steps and never twice;
        a recovery code is spent. Wrong codes count against the user's budget
        (``settings.attempts`` per ``settings.attempt_window``).

        Raises:
            SecondFactorFailed: no factor of the user accepts the code (``attempts_left``).
            SecondFactorReplayed: the app's code was right but already used.
            SecondFactorThrottled: too many wrong codes lately (``retry_after``).
            AccountDeactivated: the account is deactivated (A6). UserNotFound.
        """
        with self.unit_of_work() as uow:
            user = self._user(uow, user_id)
        if not user.is_active:
            raise AccountDeactivated(user_id=user.id)
        return self._verify(user, code)

    def sign_in(self, login: str, password: str, *, code: str | None = None) -> SignedIn:
        """Check the password, then the second factor: the whole sign-in (F5).

        1. The password, by :meth:`AccountService.authenticate` (its refusals as there).
        2. A network factor whose ranges hold the request's peer address is enough.
        3. Otherwise, a user with an app or recovery codes needs ``code``.
        4. A user whose only factors are networks, signing in from elsewhere, is refused.
        5. A user with no factor signs in with the password; ``enrolment_required`` says
           when an establishment of theirs requires one.

        Raises:
            AuthenticationFailed, AccountDeactivated, ClinicLoginOnly: the password step.
            SecondFactorRequired: the password is right; ask for a code (``kinds``), or,
                with empty ``kinds`` and ``reason="network"``, the user may sign in only
                from their networks.
            SecondFactorFailed, SecondFactorReplayed, SecondFactorThrottled: the code.
        """
        user = self.accounts.authenticate(login, password)
        return self._second_step(user, code)

    def second_step(self, *, user_id: UserId, code: str | None = None) -> SignedIn:
        """The second step alone, after the host checked the password its own way.

        For hosts that sign in with :meth:`~practiceid.OnboardingService.sign_in` (terms,
        temporary passwords): call this with the user it returned, as :meth:`sign_in` does
        after :meth:`~practiceid.AccountService.authenticate`.

        Raises:
            SecondFactorRequired, SecondFactorFailed, SecondFactorReplayed,
            SecondFactorThrottled: as :meth:`sign_in`.
            UserNotFound, AccountDeactivated.
        """
        with self.unit_of_work() as uow:
            user = self._user(uow, user_id)
        if not user.is_active:
            raise AccountDeactivated(user_id=user.id)
        return self._second_step(user, code)

    def _second_step(self, user: User, code: str | None) -> SignedIn:
        """The second step for a user whose password was verified; records its refusals."""
        try:
            return self._decide(user, code)
        except PracticeIdError as error:
            self.auditor.refused(
                self.unit_of_work,
                "factor.verify",
                error,
                actor=user.id,
                target_type="user",
                target_id=user.id,
            )
            raise

    def _decide(self, user: User, code: str | None) -> SignedIn:
        with self.unit_of_work() as uow:
            held = [f for f in uow.factors.list_for_user(user.id) if f.is_confirmed]
            requiring = tuple(self._requiring(uow, user.id))
        peer = self.request_context.current().peer_address
        for factor in held:
            if factor.kind is FactorKind.NETWORK and on_premises(peer, factor.networks):
                with self.unit_of_work() as uow:
                    self._record(uow, "factor.verify", user.id, factor, method="network")
                    uow.commit()
                return SignedIn(
                    user=user, method=SignInMethod.NETWORK, factor=FactorView.of(factor)
                )
        kinds = sorted(
            {
                "totp" if f.kind is FactorKind.TOTP else "recovery_code"
                for f in held
                if f.kind is FactorKind.TOTP
                or (f.kind is FactorKind.RECOVERY_CODES and f.codes_left)
            }
        )
        if kinds:
            if code is None:
                raise SecondFactorRequired(user_id=user.id, kinds=tuple(kinds))
            verified = self._verify(user, code)
            return SignedIn(user=user, method=verified.method, factor=verified.factor)
        if any(f.kind is FactorKind.NETWORK for f in held):
            raise SecondFactorRequired(user_id=user.id, kinds=(), reason="network")
        return SignedIn(
            user=user,
            method=SignInMethod.PASSWORD,
            enrolment_required=bool(requiring),
            requiring=requiring,
        )
