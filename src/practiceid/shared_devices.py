"""The device service: clinic logins, PINs, locking and unlocking shared devices (F1-F4).

A practice signs its devices in with its *clinic login*; each member unlocks a device with
their PIN, works with their own role's permissions, and locks it to hand it over (source
003). Everything done while a device is unlocked is attributed to the device session and
the member whose PIN was entered (F3): wrap the host's request in :meth:`DeviceService.acting`
and every command of practiceid run inside records both in the audit trail.

>>> from practiceid.testing import sample_devices
>>> clinic = sample_devices()
>>> opened = clinic.devices.open(clinic.clinic_login_email, clinic.clinic_password)
>>> opened.session.state
<DeviceState.LOCKED: 'locked'>
>>> unlocked = clinic.devices.unlock(opened.token, clinic.pins["secretary"])
>>> unlocked.state, unlocked.member == clinic.members["secretary"]
(<DeviceState.UNLOCKED: 'unlocked'>, True)
>>> clinic.devices.lock(opened.token).state
<DeviceState.LOCKED: 'locked'>
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

import attrs

from practiceid._rerun import rerun_stale
from practiceid.access import AccessService
from practiceid.accounts import AccountService
from practiceid.audit import Outcome
from practiceid.auditing import Auditor, DeviceActor, NoRequestContext, acting_as, audited
from practiceid.authorization import Access, Decision, Reason
from practiceid.devices import (
    ClinicLogin,
    DeviceSession,
    DeviceSessionId,
    DeviceState,
    MemberCredential,
    PinGuard,
    on_premises,
    parse_networks,
)
from practiceid.errors import (
    AccessRejected,
    ClinicLoginNotFound,
    DeviceCredentialRequired,
    DeviceLocked,
    DeviceSessionInvalid,
    DuplicateRecord,
    MembershipNotFound,
    PinBlocked,
    PinIncorrect,
    PinThrottled,
    PracticeIdError,
    RemoteAccessDenied,
    UnknownKey,
    Violation,
)
from practiceid.establishments import Establishment, EstablishmentId
from practiceid.memberships import Membership
from practiceid.permissions import Permission
from practiceid.policies import pin as pin_policy
from practiceid.policies.pin import PinSettings
from practiceid.ports.audit import KeyProvider, RequestContext
from practiceid.ports.clock import Clock
from practiceid.ports.devices import DeviceUnitOfWork, DeviceUnitOfWorkFactory
from practiceid.second_factors import FactorService
from practiceid.users import AccountKind, User, UserId, new_user_id

__all__ = [
    "ClinicLoginCreated",
    "DeviceMember",
    "DeviceService",
    "DeviceView",
    "IssuedPin",
    "OpenedDevice",
]

_T = TypeVar("_T")
_TOKEN_PREFIX = "pidd_"  # noqa: S105 - a prefix that marks tokens, not a secret
_MAX_TOKEN = 200
_PIN_DRAWS = 50  # draws before giving up on a free PIN: 50 members of 10^6 never need 2


def _token_digest(token: object) -> bytes | None:
    if not isinstance(token, str) or not token.startswith(_TOKEN_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


class _Recorded(Exception):
    """Carries a refusal whose audit event was already recorded with the miss it counts."""

    def __init__(self, error: PracticeIdError) -> None:
        super().__init__(error.code)
        self.error = error


def _text(value: object) -> str | None:
    """Return an id given as text; anything else (bad input) names nothing."""
    return value if isinstance(value, str) and value else None


def _rejected(field: str, code: str, message: str) -> AccessRejected:
    return AccessRejected([Violation(code, message, field)])


@attrs.frozen
class DeviceView:
    """A device session as it stands now: the stored session with timeouts applied."""

    id: DeviceSessionId
    establishment_id: EstablishmentId
    account_id: UserId
    state: DeviceState
    member: UserId | None
    opened_at: datetime
    expires_at: datetime
    last_activity_at: datetime
    remote: bool
    attempts_left: int

    @classmethod
    def of(cls, session: DeviceSession, now: datetime, settings: PinSettings) -> DeviceView:
        """Return the view of ``session`` at ``now``."""
        state = session.state_at(now, settings.idle_timeout)
        return cls(
            id=session.id,
            establishment_id=session.establishment_id,
            account_id=session.account_id,
            state=state,
            member=session.member if state is DeviceState.UNLOCKED else None,
            opened_at=session.opened_at,
            expires_at=session.expires_at,
            last_activity_at=session.last_activity_at,
            remote=session.remote,
            attempts_left=max(settings.device_attempts - session.misses, 0),
        )


@attrs.frozen
class OpenedDevice:
    """A device just signed in: the token it keeps, and its session.

    ``token`` is a secret: the device sends it with every request (a cookie marked
    ``HttpOnly`` and ``Secure``); it never appears in ``repr`` and is stored only as a
    digest.
    """

    token: str = attrs.field(repr=False)
    session: DeviceView


@attrs.frozen
class IssuedPin:
    """A member's new PIN, returned once by the command that made it (F2).

    Show it to the member now: it is stored only as a keyed digest, and no command returns
    it again. ``pin`` never appears in ``repr``.
    """

    establishment_id: EstablishmentId
    user_id: UserId
    pin: str = attrs.field(repr=False)
    issued_at: datetime


@attrs.frozen
class ClinicLoginCreated:
    """A new clinic login and its account."""

    clinic_login: ClinicLogin
    user: User


@attrs.frozen
class DeviceMember:
    """What an administrator sees of a member's device credential (never the PIN)."""

    user_id: UserId
    has_pin: bool
    pin_issued_at: datetime | None
    blocked: bool
    remote_access: bool


@attrs.frozen(kw_only=True)
class DeviceService:
    """Use cases for shared devices (F1-F4). Build one per application; thread-safe.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.DeviceUnitOfWork`.
        access: decides who may manage devices (same store).
        accounts: checks passwords and the password policy (same store).
        keys: the host's key provider; purpose ``"pin"`` keys the PIN digests.
        clock: the time of every session and PIN.
        settings: PIN length, attempt limits, idle timeout (:class:`PinSettings`).
        request_context: the peer address of the request (remote access, the audit trail).
        retries: how many times a use case runs when a concurrent change made it stale.
        new_token: makes device session tokens (32 random bytes by default).
        new_pin: makes PINs (:func:`practiceid.policies.pin.generate` by default).
        factors: when given, a member opening a device with their own credentials passes
            their second factor too (F5). ``None`` by default: no second factor is asked.
    """

    unit_of_work: DeviceUnitOfWorkFactory
    access: AccessService
    accounts: AccountService
    keys: KeyProvider
    clock: Clock
    settings: PinSettings = attrs.field(factory=PinSettings)
    request_context: RequestContext = attrs.field(factory=NoRequestContext)
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    new_token: Callable[[], str] = attrs.field(
        default=lambda: _TOKEN_PREFIX + secrets.token_urlsafe(32)
    )
    new_pin: Callable[[PinSettings], str] = pin_policy.generate
    factors: FactorService | None = None

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events."""
        return Auditor(self.clock, self.request_context)

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, use_case: Callable[[], _T]) -> _T:
        return rerun_stale(use_case, self.retries)

    def _peer(self) -> str | None:
        return self.request_context.current().peer_address

    def _session(self, uow: DeviceUnitOfWork, token: object) -> DeviceSession:
        digest = _token_digest(token)
        session = None if digest is None else uow.device_sessions.find_by_token(digest)
        if session is None:
            raise DeviceSessionInvalid
        if session.state_at(self.clock.now(), self.settings.idle_timeout) is DeviceState.CLOSED:
            raise DeviceSessionInvalid(device_session_id=session.id)
        return session

    def _manage(
        self, uow: DeviceUnitOfWork, actor: UserId, establishment_id: object, p: Permission
    ) -> Establishment:
        if not isinstance(establishment_id, str) or not establishment_id:
            raise _rejected("establishment_id", "establishment.invalid_id", "not an id")
        establishment, _ = self.access.authorize(
            uow, actor=actor, establishment_id=EstablishmentId(establishment_id), permission=p
        )
        return establishment

    @staticmethod
    def _active_member(
        uow: DeviceUnitOfWork, establishment_id: EstablishmentId, user_id: object
    ) -> Membership | None:
        if not isinstance(user_id, str):
            return None
        membership = uow.memberships.find(establishment_id, UserId(user_id))
        if membership is None or not membership.is_active:
            return None
        try:
            user = uow.users.get(UserId(user_id))
        except PracticeIdError:
            return None
        if not user.is_active or user.kind is not AccountKind.PERSON:
            return None
        return membership

    def _member(
        self, uow: DeviceUnitOfWork, establishment_id: EstablishmentId, user_id: object
    ) -> Membership:
        membership = self._active_member(uow, establishment_id, user_id)
        if membership is None:
            raise MembershipNotFound(establishment_id=establishment_id, user_id=str(user_id))
        return membership

    def _refused(
        self,
        action: str,
        error: PracticeIdError,
        *,
        establishment_id: object = None,
        **fields: object,
    ) -> None:
        self.auditor.refused(
            self.unit_of_work, action, error, establishment_id=establishment_id, **fields
        )

    # -- the clinic login (F1) ---------------------------------------------------------------

    @audited("clinic_login.create", target_type="establishment", target="establishment_id")
    def create_clinic_login(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        email: str,
        password: str,
        password_confirmation: str,
        remote_access: bool = True,
        networks: Sequence[str] = (),
    ) -> ClinicLoginCreated:
        """Create the establishment's clinic login: an e-mail and password for its devices.

        The password policy applies (A4); the e-mail is also the login, and a generic
        address such as ``info@…`` is what source 003 recommends. ``remote_access`` is on by
        default (F1); ``networks`` are the premises' networks (CIDR), from which it may
        always open devices.

        Raises:
            PermissionDenied: the actor lacks ``devices.manage``.
            AccessRejected: bad networks, or remote access off without networks.
            EmailRejected, PasswordRejected, DuplicateLogin, DuplicateEmail.
        """
        return self._create_clinic_login(
            actor,
            establishment_id,
            email,
            password,
            password_confirmation,
            remote_access,
            networks,
        )

    def _create_clinic_login(  # noqa: PLR0917 - private, one caller
        self,
        actor: UserId,
        establishment_id: EstablishmentId,
        email: object,
        password: object,
        password_confirmation: object,
        remote_access: object,
        networks: object,
    ) -> ClinicLoginCreated:
        chosen = self._networks(networks, remote_access)
        with self.unit_of_work() as uow:
            establishment = self._manage(uow, actor, establishment_id, Permission.DEVICES_MANAGE)
        address = self.accounts.email_policy.parse(email)
        login = self.accounts.login_policy.parse(address.address)
        password_hash = self.accounts.new_password_hash(
            password,  # type: ignore[arg-type]
            password_confirmation,  # type: ignore[arg-type]
            login=address.address,
            email=address.address,
            first_name="",
            last_name=establishment.name,
        )
        now = self.clock.now()
        user = User(
            id=new_user_id(),
            login=login,
            email=address,
            first_name="",
            last_name=establishment.name[:100],
            job_title="",
            created_at=now,
            password_hash=password_hash,
            kind=AccountKind.CLINIC,
        )
        clinic = ClinicLogin(
            user_id=user.id,
            establishment_id=establishment.id,
            created_at=now,
            created_by=actor,
            remote_access=bool(remote_access),
            networks=chosen,
        )
        with self.unit_of_work() as uow:
            self._manage(uow, actor, establishment.id, Permission.DEVICES_MANAGE)
            uow.users.add(user)
            uow.clinic_logins.add(clinic)
            self.auditor.record(
                uow,
                "clinic_login.create",
                actor=actor,
                establishment_id=establishment.id,
                target_type="user",
                target_id=user.id,
                details={"remote_access": clinic.remote_access, "networks": ",".join(chosen)},
            )
            uow.commit()
        return ClinicLoginCreated(clinic, user)

    @staticmethod
    def _networks(networks: object, remote_access: object) -> tuple[str, ...]:
        if not isinstance(remote_access, bool):
            raise _rejected("remote_access", "clinic_login.invalid_flag", "true or false")
        if isinstance(networks, (str, bytes)) or not isinstance(networks, Sequence):
            raise _rejected("networks", "clinic_login.invalid_networks", "a list of networks")
        try:
            chosen = parse_networks(networks)
        except ValueError:
            raise _rejected(
                "networks", "clinic_login.invalid_networks", "networks are CIDR, 192.0.2.0/24"
            ) from None
        if not remote_access and not chosen:
            raise _rejected(
                "networks",
                "clinic_login.networks_required",
                "without remote access, the premises' networks are needed",
            )
        return chosen

    def set_clinic_access(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        remote_access: bool,
        networks: Sequence[str] = (),
    ) -> ClinicLogin:
        """Change where the clinic login may open devices from (F1).

        Raises:
            PermissionDenied: the actor lacks ``devices.manage``.
            ClinicLoginNotFound, AccessRejected.
        """
        establishment_id: object = None
        try:
            chosen = self._networks(networks, remote_access)

            def attempt() -> ClinicLogin:
                nonlocal establishment_id
                with self.unit_of_work() as uow:
                    clinic = self._clinic(uow, user_id)
                    establishment_id = clinic.establishment_id
                    self._manage(uow, actor, clinic.establishment_id, Permission.DEVICES_MANAGE)
                    wanted = attrs.evolve(clinic, remote_access=remote_access, networks=chosen)
                    changed = wanted != clinic
                    stored = uow.clinic_logins.update(wanted) if changed else clinic
                    self.auditor.record(
                        uow,
                        "clinic_login.set_access",
                        actor=actor,
                        establishment_id=clinic.establishment_id,
                        target_type="user",
                        target_id=clinic.user_id,
                        details={
                            "remote_access": remote_access,
                            "networks": ",".join(chosen),
                            "changed": changed,
                        },
                    )
                    uow.commit()
                return stored

            return self._run(attempt)
        except PracticeIdError as error:
            self._refused(
                "clinic_login.set_access",
                error,
                actor=actor,
                establishment_id=establishment_id,
                target_type="user",
                target_id=user_id,
            )
            raise

    @staticmethod
    def _clinic(uow: DeviceUnitOfWork, user_id: object) -> ClinicLogin:
        clinic = uow.clinic_logins.find(UserId(user_id)) if isinstance(user_id, str) else None
        if clinic is None:
            raise ClinicLoginNotFound(user_id=str(user_id)[:100])
        return clinic

    def clinic_logins(
        self, *, actor: UserId, establishment_id: EstablishmentId
    ) -> Sequence[ClinicLogin]:
        """Return the establishment's clinic logins.

        Raises:
            PermissionDenied: the actor lacks ``devices.manage``.
        """
        with self.unit_of_work() as uow:
            establishment = self._manage(uow, actor, establishment_id, Permission.DEVICES_MANAGE)
            return uow.clinic_logins.list_for_establishment(establishment.id)

    # -- PINs and remote access (F2, F4) -----------------------------------------------------

    @audited("pin.issue")
    def issue_pin(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> IssuedPin:
        """Give an active member a new PIN, replacing any other; return it, once (F2).

        The PIN is drawn from the CSPRNG, unique among the establishment's members, and
        stored only as a keyed digest: show the returned value to the member now.

        Raises:
            PermissionDenied: the actor lacks ``devices.reset_pin``.
            MembershipNotFound: the user is not an active member of the establishment.
        """
        return self._run(lambda: self._issue(actor, establishment_id, user_id, "pin.issue"))

    def _issue(
        self, actor: UserId, establishment_id: object, user_id: object, action: str
    ) -> IssuedPin:
        key_id, key = self.keys.current(pin_policy.PIN_KEY_PURPOSE)
        with self.unit_of_work() as uow:
            establishment = self._manage(uow, actor, establishment_id, Permission.DEVICES_RESET_PIN)
            membership = self._member(uow, establishment.id, user_id)
            now = self.clock.now()
            before = uow.member_credentials.find(establishment.id, membership.user_id)
            base = before or MemberCredential(establishment.id, membership.user_id)
            for _ in range(_PIN_DRAWS):
                pin = self.new_pin(self.settings)
                holder = self._find_holder(uow, establishment.id, pin)
                if holder is not None and holder.user_id != membership.user_id:
                    continue  # another member holds it, under an older key: draw again
                credential = base.with_pin(
                    pin_policy.digest(key, establishment.id, pin), key_id, now
                )
                try:
                    if before is None:
                        uow.member_credentials.add(credential)
                    else:
                        uow.member_credentials.update(credential)
                except DuplicateRecord as error:
                    if error.params.get("entity") == "pin":
                        continue  # another member holds it: draw again
                    raise
                break
            else:  # pragma: no cover - 50 collisions in a row: the PIN space is exhausted
                raise _rejected("user_id", "pin.space_exhausted", "no free PIN; lengthen PINs")
            self.auditor.record(
                uow,
                action,
                actor=actor,
                establishment_id=establishment.id,
                target_type="user",
                target_id=membership.user_id,
                details={"rotated": before is not None and before.pin_digest is not None},
            )
            uow.commit()
        return IssuedPin(establishment.id, membership.user_id, pin, now)

    @audited("pin.revoke")
    def revoke_pin(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> None:
        """Revoke a member's PIN: it unlocks nothing from now on (F2).

        Raises:
            PermissionDenied: the actor lacks ``devices.reset_pin``.
        """

        def attempt() -> None:
            with self.unit_of_work() as uow:
                establishment = self._manage(
                    uow, actor, establishment_id, Permission.DEVICES_RESET_PIN
                )
                member = _text(user_id)
                before = (
                    None
                    if member is None
                    else uow.member_credentials.find(establishment.id, UserId(member))
                )
                if before is not None and before.pin_digest is not None:
                    uow.member_credentials.update(before.revoked())
                self.auditor.record(
                    uow,
                    "pin.revoke",
                    actor=actor,
                    establishment_id=establishment.id,
                    target_type="user",
                    target_id=user_id,
                    details={"changed": before is not None and before.pin_digest is not None},
                )
                uow.commit()

        self._run(attempt)

    def reactivate_member(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> IssuedPin:
        """Reactivate a membership and issue the member a new PIN (F2, A6).

        Deactivation revoked the old PIN; it never comes back. Needs both
        ``users.deactivate`` (for the membership) and ``devices.reset_pin``.

        Raises:
            PermissionDenied, MembershipNotFound.
        """
        self.access.reactivate_member(
            actor=actor, establishment_id=establishment_id, user_id=user_id
        )
        return self.issue_pin(actor=actor, establishment_id=establishment_id, user_id=user_id)

    @audited("member.set_remote_access")
    def set_remote_access(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        allowed: bool,
    ) -> MemberCredential:
        """Grant or withdraw a member's remote access (F4).

        With it, the member signs in with their own e-mail and password from anywhere;
        without it, only from the premises' networks, or with their PIN on a device.

        Raises:
            PermissionDenied: the actor lacks ``devices.grant_remote_access``.
            MembershipNotFound, AccessRejected.
        """

        def attempt() -> MemberCredential:
            if not isinstance(allowed, bool):
                raise _rejected("allowed", "remote_access.invalid_flag", "true or false")
            with self.unit_of_work() as uow:
                establishment = self._manage(
                    uow, actor, establishment_id, Permission.DEVICES_GRANT_REMOTE_ACCESS
                )
                membership = self._member(uow, establishment.id, user_id)
                before = uow.member_credentials.find(establishment.id, membership.user_id)
                if before is None:
                    stored = MemberCredential(
                        establishment.id, membership.user_id, remote_access=allowed
                    )
                    uow.member_credentials.add(stored)
                elif before.remote_access != allowed:
                    stored = uow.member_credentials.update(
                        attrs.evolve(before, remote_access=allowed)
                    )
                else:
                    stored = before
                self.auditor.record(
                    uow,
                    "member.set_remote_access",
                    actor=actor,
                    establishment_id=establishment.id,
                    target_type="user",
                    target_id=membership.user_id,
                    details={"allowed": allowed, "changed": stored is not before},
                )
                uow.commit()
            return stored

        return self._run(attempt)

    def members(
        self, *, actor: UserId, establishment_id: EstablishmentId
    ) -> Sequence[DeviceMember]:
        """Return what each member holds for the devices: PIN or not, blocked, remote.

        Raises:
            PermissionDenied: the actor lacks ``devices.manage``.
        """
        with self.unit_of_work() as uow:
            establishment = self._manage(uow, actor, establishment_id, Permission.DEVICES_MANAGE)
            return [
                DeviceMember(
                    user_id=c.user_id,
                    has_pin=c.pin_digest is not None,
                    pin_issued_at=c.pin_issued_at,
                    blocked=c.blocked_at is not None,
                    remote_access=c.remote_access,
                )
                for c in uow.member_credentials.list_for_establishment(establishment.id)
            ]

    # -- opening and closing devices (F1, F4) ------------------------------------------------

    def open(
        self,
        login: str,
        password: str,
        *,
        establishment_id: EstablishmentId | None = None,
        code: str | None = None,
    ) -> OpenedDevice:
        """Sign a device in; return its token and session.

        With the clinic login's credentials (F1), the device opens locked, waiting for a
        member's PIN. With a member's own credentials (``establishment_id`` then says
        where), it opens unlocked as that member, who needs remote access unless the
        request comes from the premises' networks (F4); locking it later lets other
        members unlock it with their own PINs. When :attr:`factors` is set, a member's own
        sign-in also needs their second factor (F5): ``code``, unless a network factor of
        theirs holds the request's address; the clinic login needs none.

        Raises:
            AuthenticationFailed: unknown login or wrong password (one error for both).
            SecondFactorRequired, SecondFactorFailed, SecondFactorReplayed,
                SecondFactorThrottled: a member's second factor (with :attr:`factors`).
            AccountDeactivated: the password is right but the account is deactivated.
            RemoteAccessDenied: the account may not open devices from this address.
            PermissionDenied: a person not an active member of ``establishment_id``.
            AccessRejected: a person's sign-in without ``establishment_id``.
        """
        try:
            user = self.accounts.verify_credentials(login, password)
            if self.factors is not None and user.kind is AccountKind.PERSON:
                self.factors.second_step(user_id=user.id, code=code)
            return self._run(lambda: self._open(user, establishment_id))
        except PracticeIdError as error:
            self._refused(
                "device.open",
                error,
                establishment_id=establishment_id,
                target_type="establishment",
                target_id=establishment_id,
            )
            raise

    def _open(self, user: User, establishment_id: object) -> OpenedDevice:
        now = self.clock.now()
        peer = self._peer()
        with self.unit_of_work() as uow:
            if user.kind is AccountKind.CLINIC:
                clinic = self._clinic(uow, user.id)
                if establishment_id is not None and establishment_id != clinic.establishment_id:
                    raise Decision(
                        allowed=False,
                        reason=Reason.OTHER_ESTABLISHMENT,
                        permission=None,
                        actor=user.id,
                    ).error()
                establishment = uow.establishments.get(clinic.establishment_id)
                if not clinic.allows_from(peer):
                    raise RemoteAccessDenied(
                        user_id=user.id, establishment_id=establishment.id, reason="remote_access"
                    )
                remote = not on_premises(peer, clinic.networks)
                member = None
            else:
                if not isinstance(establishment_id, str) or not establishment_id:
                    raise _rejected(
                        "establishment_id",
                        "device.establishment_required",
                        "a member signs in to one establishment",
                    )
                establishment = uow.establishments.get(EstablishmentId(establishment_id))
                if self._active_member(uow, establishment.id, user.id) is None:
                    raise Decision(
                        allowed=False, reason=Reason.NOT_A_MEMBER, permission=None, actor=user.id
                    ).error()
                remote = not on_premises(peer, self._premises(uow, establishment.id))
                credential = uow.member_credentials.find(establishment.id, user.id)
                if remote and (credential is None or not credential.remote_access):
                    raise RemoteAccessDenied(
                        user_id=user.id, establishment_id=establishment.id, reason="remote_access"
                    )
                member = user.id
            token = self.new_token()
            digest = _token_digest(token)
            if digest is None:  # pragma: no cover - a host's new_token must keep the prefix
                raise _rejected("new_token", "device.invalid_token", "tokens start with pidd_")
            session = DeviceSession(
                id=DeviceSessionId(str(uuid.uuid4())),
                establishment_id=establishment.id,
                account_id=user.id,
                token_digest=digest,
                opened_at=now,
                expires_at=now + self.settings.session_lifetime,
                last_activity_at=now,
                remote=remote,
                peer_address=peer,
            )
            if member is not None:
                session = session.unlock(member, now)
            uow.device_sessions.add(session)
            self.auditor.record(
                uow,
                "device.open",
                actor=member,
                account_id=user.id,
                device_session_id=session.id,
                establishment_id=establishment.id,
                target_type="device_session",
                target_id=session.id,
                details={"remote": remote, "kind": str(user.kind)},
            )
            uow.commit()
        return OpenedDevice(token, DeviceView.of(session, now, self.settings))

    @staticmethod
    def _premises(uow: DeviceUnitOfWork, establishment_id: EstablishmentId) -> tuple[str, ...]:
        return tuple(
            network
            for clinic in uow.clinic_logins.list_for_establishment(establishment_id)
            for network in clinic.networks
        )

    def reauthenticate(self, token: str, password: str) -> DeviceView:
        """Enter the session's full credential again, after too many wrong PINs (F2).

        The password is that of the account which opened the session: the clinic login's,
        or the remote member's. The device is then locked, with its misses cleared.

        Raises:
            DeviceSessionInvalid, AuthenticationFailed, AccountDeactivated,
            RemoteAccessDenied.
        """
        session_id: object = None
        establishment_id: object = None
        try:
            with self.unit_of_work() as uow:
                session = self._session(uow, token)
                session_id, establishment_id = session.id, session.establishment_id
                account = uow.users.get(session.account_id)
            self.accounts.verify_credentials(account.login.display, password)

            def attempt() -> DeviceView:
                with self.unit_of_work() as uow:
                    current = self._session(uow, token)
                    clinic = uow.clinic_logins.find(current.account_id)
                    if clinic is not None and not clinic.allows_from(self._peer()):
                        raise RemoteAccessDenied(
                            user_id=current.account_id,
                            establishment_id=current.establishment_id,
                            reason="remote_access",
                        )
                    now = self.clock.now()
                    stored = uow.device_sessions.update(current.reopened(now))
                    self.auditor.record(
                        uow,
                        "device.reauthenticate",
                        account_id=current.account_id,
                        device_session_id=current.id,
                        establishment_id=current.establishment_id,
                        target_type="device_session",
                        target_id=current.id,
                    )
                    uow.commit()
                return DeviceView.of(stored, now, self.settings)

            return self._run(attempt)
        except PracticeIdError as error:
            self._refused(
                "device.reauthenticate",
                error,
                establishment_id=establishment_id,
                device_session_id=session_id,
                target_type="device_session",
                target_id=session_id,
            )
            raise

    def close(self, token: str) -> None:
        """Sign the device out: its token opens nothing any more.

        Raises:
            DeviceSessionInvalid: the token is unknown or already closed.
        """
        self._change(token, "device.close", lambda s, now: s.close(now))

    @audited("device.close", target_type="device_session", target="session_id")
    def close_session(
        self, *, actor: UserId, establishment_id: EstablishmentId, session_id: DeviceSessionId
    ) -> None:
        """Sign a device out from the administration (a lost tablet).

        Raises:
            PermissionDenied: the actor lacks ``devices.manage``.
            DeviceSessionInvalid: no open session of the establishment has this id.
        """

        def attempt() -> None:
            with self.unit_of_work() as uow:
                establishment = self._manage(
                    uow, actor, establishment_id, Permission.DEVICES_MANAGE
                )
                wanted = _text(session_id)
                session = (
                    None if wanted is None else uow.device_sessions.find(DeviceSessionId(wanted))
                )
                if session is None or session.establishment_id != establishment.id:
                    raise DeviceSessionInvalid(device_session_id=str(session_id)[:100])
                now = self.clock.now()
                if session.state is not DeviceState.CLOSED:
                    uow.device_sessions.update(session.close(now))
                self.auditor.record(
                    uow,
                    "device.close",
                    actor=actor,
                    establishment_id=establishment.id,
                    target_type="device_session",
                    target_id=session.id,
                    details={"by_administrator": True},
                )
                uow.commit()

        self._run(attempt)

    def sessions(self, *, actor: UserId, establishment_id: EstablishmentId) -> Sequence[DeviceView]:
        """Return the establishment's device sessions that are not closed.

        Raises:
            PermissionDenied: the actor lacks ``devices.manage``.
        """
        with self.unit_of_work() as uow:
            establishment = self._manage(uow, actor, establishment_id, Permission.DEVICES_MANAGE)
            now = self.clock.now()
            views = [
                DeviceView.of(s, now, self.settings)
                for s in uow.device_sessions.list_for_establishment(establishment.id)
            ]
        return [v for v in views if v.state is not DeviceState.CLOSED]

    # -- locking and unlocking (F2, F3) ------------------------------------------------------

    def current(self, token: str) -> DeviceView:
        """Return the device's session as it stands now (idle is locked).

        Raises:
            DeviceSessionInvalid: the token is unknown, closed or expired.
        """
        with self.unit_of_work() as uow:
            session = self._session(uow, token)
        return DeviceView.of(session, self.clock.now(), self.settings)

    def unlock(self, token: str, pin: str, *, member: UserId | None = None) -> DeviceView:
        """Unlock the device with a member's PIN; return the session, unlocked by them (F3).

        ``member``, when the lock screen lets the member pick their name first, must be
        the PIN's owner; wrong PINs entered for a chosen member also count against them.
        A PIN unlocks only for an active member of the establishment (F2, F4). Every wrong
        PIN counts: at ``device_attempts`` in a row the device needs its credential again,
        and the establishment's devices together take at most ``establishment_attempts``
        per ``establishment_window`` (:class:`~practiceid.policies.pin.PinSettings`).

        Raises:
            PinIncorrect: no such PIN among the active members (``attempts_left``).
            DeviceCredentialRequired: this device needs its credential again first.
            PinThrottled: the establishment's guessing budget is spent (``retry_after``).
            PinBlocked: the chosen member's PIN is blocked until a new one is issued.
            DeviceSessionInvalid: the token is unknown, closed or expired.
        """
        session_id: object = None
        establishment_id: object = None
        try:
            with self.unit_of_work() as uow:
                session = self._session(uow, token)
                session_id, establishment_id = session.id, session.establishment_id
            return self._run(lambda: self._unlock(token, pin, member))
        except _Recorded as recorded:
            raise recorded.error from None
        except PracticeIdError as error:
            self._refused(
                "device.unlock",
                error,
                establishment_id=establishment_id,
                device_session_id=session_id,
                target_type="device_session",
                target_id=session_id,
            )
            raise

    def _find_holder(
        self, uow: DeviceUnitOfWork, establishment_id: EstablishmentId, pin: object
    ) -> MemberCredential | None:
        entry = pin_policy.clean_entry(pin)
        if entry is None:
            return None
        current_id, current_key = self.keys.current(pin_policy.PIN_KEY_PURPOSE)

        def holder(key_id: str, key: bytes) -> MemberCredential | None:
            found = uow.member_credentials.find_by_pin(
                establishment_id, pin_policy.digest(key, establishment_id, entry)
            )
            return found if found is not None and found.pin_key_id == key_id else None

        # The current key first: one indexed look-up for every PIN issued since the last
        # rotation. Only a miss asks which older keys are still in use (a scan of the
        # establishment's credentials, bounded by the guessing budget).
        found = holder(current_id, current_key)
        if found is not None:
            return found
        for key_id in uow.member_credentials.key_ids(establishment_id):
            if key_id == current_id:
                continue
            try:
                key = self.keys.key(pin_policy.PIN_KEY_PURPOSE, key_id)
            except UnknownKey:
                continue  # a retired key: the PINs it sealed unlock nothing any more
            found = holder(key_id, key)
            if found is not None:
                return found
        return None

    def _unlock(self, token: str, pin: object, member: object) -> DeviceView:
        with self.unit_of_work() as uow:
            session = self._session(uow, token)
            now = self.clock.now()
            establishment_id = session.establishment_id
            if session.state_at(now, self.settings.idle_timeout) is (
                DeviceState.CREDENTIAL_REQUIRED
            ):
                raise DeviceCredentialRequired(device_session_id=session.id)
            guard = uow.pin_guards.find(establishment_id) or PinGuard(establishment_id)
            wait = pin_policy.retry_after(guard.misses, now, self.settings)
            if wait is not None:
                raise PinThrottled(retry_after=wait)
            chosen = None
            if member is not None:
                chosen = (
                    uow.member_credentials.find(establishment_id, UserId(member))
                    if isinstance(member, str)
                    else None
                )
                if chosen is not None and chosen.blocked_at is not None:
                    raise PinBlocked(user_id=chosen.user_id)
            holder = self._find_holder(uow, establishment_id, pin)
            valid = (
                holder is not None
                and holder.has_pin
                and (member is None or holder.user_id == member)
                and self._active_member(uow, establishment_id, holder.user_id) is not None
            )
            if not valid:
                error = self._miss(uow, session, guard, chosen, now)
                uow.commit()
                raise _Recorded(error)
            assert holder is not None  # noqa: S101 - valid implies a holder
            # A right PIN writes the guard too: every evaluated guess of the establishment
            # then commits one after the other (a stale guard is retried, and sees the
            # budget as it now is), so concurrent guesses cannot overrun the budget (F2).
            uow.pin_guards.save(guard)
            stored = uow.device_sessions.update(session.unlock(holder.user_id, now))
            if holder.misses:
                uow.member_credentials.update(attrs.evolve(holder, misses=0))
            self.auditor.record(
                uow,
                "device.unlock",
                actor=holder.user_id,
                account_id=session.account_id,
                device_session_id=session.id,
                establishment_id=establishment_id,
                target_type="device_session",
                target_id=session.id,
            )
            uow.commit()
        return DeviceView.of(stored, now, self.settings)

    def _miss(
        self,
        uow: DeviceUnitOfWork,
        session: DeviceSession,
        guard: PinGuard,
        chosen: MemberCredential | None,
        now: datetime,
    ) -> PracticeIdError:
        """Count a wrong PIN everywhere it counts, record it, and return the error to raise."""
        missed = uow.device_sessions.update(
            session.missed(now, attempts=self.settings.device_attempts)
        )
        uow.pin_guards.save(
            attrs.evolve(
                guard,
                misses=pin_policy.recent_misses((*guard.misses, now), now, self.settings),
            )
        )
        details: dict[str, str | int | bool | None] = {"device_misses": missed.misses}
        if chosen is not None and chosen.pin_digest is not None:
            misses = chosen.misses + 1
            blocked = now if misses >= self.settings.member_attempts else None
            uow.member_credentials.update(attrs.evolve(chosen, misses=misses, blocked_at=blocked))
            details |= {"member": chosen.user_id, "member_blocked": blocked is not None}
        error: PracticeIdError
        if missed.state is DeviceState.CREDENTIAL_REQUIRED:
            error = DeviceCredentialRequired(device_session_id=session.id)
        else:
            error = PinIncorrect(attempts_left=self.settings.device_attempts - missed.misses)
        self.auditor.record(
            uow,
            "device.unlock",
            outcome=Outcome.REFUSED,
            code=PinIncorrect.code,
            account_id=session.account_id,
            device_session_id=session.id,
            establishment_id=session.establishment_id,
            target_type="device_session",
            target_id=session.id,
            details=details,
        )
        return error

    def lock(self, token: str) -> DeviceView:
        """Lock the device: hand it over to the next member (F3).

        Raises:
            DeviceSessionInvalid: the token is unknown, closed or expired.
        """
        return self._change(token, "device.lock", lambda s, now: s.lock(now))

    def _change(
        self,
        token: str,
        action: str,
        change: Callable[[DeviceSession, datetime], DeviceSession],
    ) -> DeviceView:
        session_id: object = None
        establishment_id: object = None

        def attempt() -> DeviceView:
            nonlocal session_id, establishment_id
            with self.unit_of_work() as uow:
                session = self._session(uow, token)
                session_id, establishment_id = session.id, session.establishment_id
                now = self.clock.now()
                state = session.state_at(now, self.settings.idle_timeout)
                acting = session.member if state is DeviceState.UNLOCKED else None
                stored = uow.device_sessions.update(change(session, now))
                self.auditor.record(
                    uow,
                    action,
                    actor=acting,
                    account_id=session.account_id,
                    device_session_id=session.id,
                    establishment_id=session.establishment_id,
                    target_type="device_session",
                    target_id=session.id,
                )
                uow.commit()
            return DeviceView.of(stored, now, self.settings)

        try:
            return self._run(attempt)
        except PracticeIdError as error:
            self._refused(
                action,
                error,
                establishment_id=establishment_id,
                device_session_id=session_id,
                target_type="device_session",
                target_id=session_id,
            )
            raise

    # -- acting on an unlocked device (F3) ---------------------------------------------------

    def actor(self, token: str) -> DeviceActor:
        """Return who acts on this device now: the member who unlocked it (F3).

        Records the activity (at most every ``touch_interval``) that keeps the device from
        locking itself when idle.

        Raises:
            DeviceLocked: the device is locked, idle, or its member was deactivated since.
            DeviceSessionInvalid: the token is unknown, closed or expired.
        """

        def attempt() -> DeviceActor:
            with self.unit_of_work() as uow:
                session = self._session(uow, token)
                now = self.clock.now()
                state = session.state_at(now, self.settings.idle_timeout)
                member = session.member
                if (
                    state is not DeviceState.UNLOCKED
                    or member is None
                    or self._active_member(uow, session.establishment_id, member) is None
                ):
                    raise DeviceLocked(device_session_id=session.id, reason="device_locked")
                if now - session.last_activity_at >= self.settings.touch_interval:
                    uow.device_sessions.update(session.touched(now))
                    uow.commit()
            return DeviceActor(
                member=member,
                device_session_id=session.id,
                account_id=session.account_id,
                establishment_id=session.establishment_id,
            )

        return self._run(attempt)

    @contextlib.contextmanager
    def acting(self, token: str) -> Iterator[DeviceActor]:
        """Run the block as the member who unlocked the device (F3).

        Every command of practiceid run inside records the device session and its account
        along with the member in its audit event; pass ``actor.member`` as the commands'
        ``actor``::

            with devices.acting(token) as actor:
                access.set_roles(actor=actor.member, ...)

        Raises:
            DeviceLocked, DeviceSessionInvalid: as :meth:`actor`.
        """
        with acting_as(self.actor(token)) as bound:
            yield bound

    def access_for(self, token: str) -> Access:
        """Return what the member who unlocked the device may do: their role's permissions.

        Raises:
            DeviceLocked, DeviceSessionInvalid: as :meth:`actor`.
        """
        device = self.actor(token)
        return self.access.access(device.member, device.establishment_id)
