"""Shared clinic devices: the clinic login, members' PINs and device sessions (F1-F4).

Source 003 describes a clinic where every device is signed in with one *clinic login* (an
e-mail and password not tied to any member), and each member unlocks the device with their
own PIN, works with their own role's permissions, and locks the screen to hand it over;
everything done meanwhile is recorded under the PIN's owner.

* :class:`ClinicLogin`: the clinic login of an establishment. Its account is a
  :class:`~practiceid.User` of kind :attr:`~practiceid.AccountKind.CLINIC`, which signs in
  on devices only. It has remote access by default (F1); without it, it opens devices only
  from the networks the practice declared as its premises.
* :class:`MemberCredential`: what a member holds for the devices of an establishment: the
  digest of their PIN (never the PIN, F2), whether they have remote access (F4), and the
  count of wrong PINs entered for them.
* :class:`DeviceSession`: one device signed in, locked or unlocked; unlocked names the
  member whose PIN was entered (F3).
* :class:`PinGuard`: the establishment's recent wrong PINs, the budget that bounds guessing.

All are values: frozen, changed by the methods below, stored by the
:class:`~practiceid.ports.DeviceUnitOfWork`'s repositories.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NewType

import attrs

from practiceid.establishments import EstablishmentId
from practiceid.users import UserId

__all__ = [
    "ClinicLogin",
    "DeviceSession",
    "DeviceSessionId",
    "DeviceState",
    "MemberCredential",
    "PinGuard",
    "on_premises",
    "parse_networks",
]

DeviceSessionId = NewType("DeviceSessionId", str)
"""An opaque identifier of a device session (a UUID4 string)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[object]) -> tuple[str, ...]:
    """Return networks as normalized CIDR text, sorted; raise ValueError for a bad one.

    ``"192.0.2.7/24"`` is read as its network, ``192.0.2.0/24``; a lone address is a
    network of one.
    """
    parsed = {ipaddress.ip_network(str(value).strip(), strict=False) for value in values}
    return tuple(str(n) for n in sorted(parsed, key=lambda n: (n.version, n)))


def on_premises(peer_address: str | None, networks: Iterable[str]) -> bool:
    """Return True when ``peer_address`` is inside one of ``networks``.

    An unknown or unreadable peer address is not on the premises: remote access is then
    needed, so a host that forgets to pass the address fails closed.
    """
    if not peer_address:
        return False
    try:
        address = ipaddress.ip_address(peer_address.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(n) for n in networks)


@attrs.frozen
class ClinicLogin:
    """The clinic login of an establishment (F1).

    ``user_id`` is its account (kind ``clinic``), whose e-mail and password open devices.
    ``remote_access`` (default on, as in source 003) lets it open devices from anywhere;
    ``networks`` are the premises' networks (CIDR text), from which it always may.
    """

    user_id: UserId
    establishment_id: EstablishmentId
    created_at: datetime
    created_by: UserId
    remote_access: bool = True
    networks: tuple[str, ...] = attrs.field(default=(), converter=parse_networks)
    version: int = 0

    def allows_from(self, peer_address: str | None) -> bool:
        """Return True when the clinic login may open a device from ``peer_address``."""
        return self.remote_access or on_premises(peer_address, self.networks)


@attrs.frozen
class MemberCredential:
    """What a member holds for the shared devices of an establishment (F2, F4).

    ``pin_digest`` is the keyed digest of their PIN under key ``pin_key_id``
    (:func:`practiceid.policies.pin.digest`); ``None`` once revoked. ``misses`` counts wrong
    PINs in a row entered for this member when chosen on the lock screen; at the limit the
    PIN is ``blocked_at`` until a new one is issued. ``remote_access`` lets the member sign
    in with their own e-mail and password from outside the premises (F4).
    """

    establishment_id: EstablishmentId
    user_id: UserId
    pin_digest: bytes | None = attrs.field(default=None, repr=False)
    pin_key_id: str = ""
    pin_issued_at: datetime | None = None
    misses: int = 0
    blocked_at: datetime | None = None
    remote_access: bool = False
    version: int = 0

    @property
    def has_pin(self) -> bool:
        """True when the member holds a PIN that is not blocked."""
        return self.pin_digest is not None and self.blocked_at is None

    def with_pin(self, pin_digest: bytes, key_id: str, issued_at: datetime) -> MemberCredential:
        """Return this credential with a new PIN: misses and any block cleared."""
        return attrs.evolve(
            self,
            pin_digest=pin_digest,
            pin_key_id=key_id,
            pin_issued_at=issued_at,
            misses=0,
            blocked_at=None,
        )

    def revoked(self) -> MemberCredential:
        """Return this credential without a PIN (F2: a deactivated member's is revoked)."""
        return attrs.evolve(
            self, pin_digest=None, pin_key_id="", pin_issued_at=None, misses=0, blocked_at=None
        )


class DeviceState(enum.StrEnum):
    """Where a device session stands."""

    LOCKED = "locked"
    """Signed in, waiting for a member's PIN."""
    UNLOCKED = "unlocked"
    """A member's PIN was entered: they act, with their role's permissions (F3)."""
    CREDENTIAL_REQUIRED = "credential_required"
    """Too many wrong PINs: the full credential must be entered again (F2)."""
    CLOSED = "closed"
    """Signed out, or expired: the token opens nothing any more."""


@attrs.frozen
class DeviceSession:
    """One device signed in to an establishment (F1, F3).

    ``account_id`` is the account whose credential opened it: the clinic login, or a member
    with remote access who signed in with their own (F4). ``token_digest`` is the SHA-256 of
    the token the device holds. ``member`` is who unlocked it; ``misses`` counts wrong PINs
    in a row on this device. ``state`` is as stored: :meth:`state_at` applies the idle
    timeout and the lifetime.
    """

    id: DeviceSessionId
    establishment_id: EstablishmentId
    account_id: UserId
    token_digest: bytes = attrs.field(repr=False)
    opened_at: datetime
    expires_at: datetime
    last_activity_at: datetime
    state: DeviceState = DeviceState.LOCKED
    member: UserId | None = None
    unlocked_at: datetime | None = None
    misses: int = 0
    remote: bool = False
    peer_address: str | None = None
    version: int = 0

    def state_at(self, now: datetime, idle_timeout: timedelta) -> DeviceState:
        """Return the state at ``now``: expired is closed, idle is locked."""
        if self.state is DeviceState.CLOSED or now >= self.expires_at:
            return DeviceState.CLOSED
        if self.state is DeviceState.UNLOCKED and now - self.last_activity_at >= idle_timeout:
            return DeviceState.LOCKED
        return self.state

    def unlock(self, member: UserId, now: datetime) -> DeviceSession:
        """Return this session unlocked by ``member``."""
        return attrs.evolve(
            self,
            state=DeviceState.UNLOCKED,
            member=member,
            unlocked_at=now,
            last_activity_at=now,
            misses=0,
        )

    def lock(self, now: datetime) -> DeviceSession:
        """Return this session locked: handed over to the next member (F3).

        A device that needs its credential again keeps needing it: locking is no way round
        the count of wrong PINs.
        """
        state = self.state if self.state is DeviceState.CREDENTIAL_REQUIRED else DeviceState.LOCKED
        return attrs.evolve(self, state=state, member=None, unlocked_at=None, last_activity_at=now)

    def missed(self, now: datetime, *, attempts: int) -> DeviceSession:
        """Return this session after a wrong PIN.

        Locked; at ``attempts`` misses in a row, needing the credential again.
        """
        misses = self.misses + 1
        state = DeviceState.CREDENTIAL_REQUIRED if misses >= attempts else DeviceState.LOCKED
        return attrs.evolve(
            self, state=state, member=None, unlocked_at=None, misses=misses, last_activity_at=now
        )

    def reopened(self, now: datetime) -> DeviceSession:
        """Return this session after its credential was entered again: locked, no misses."""
        return attrs.evolve(
            self,
            state=DeviceState.LOCKED,
            member=None,
            unlocked_at=None,
            misses=0,
            last_activity_at=now,
        )

    def close(self, now: datetime) -> DeviceSession:
        """Return this session signed out."""
        return attrs.evolve(
            self, state=DeviceState.CLOSED, member=None, unlocked_at=None, last_activity_at=now
        )

    def touched(self, now: datetime) -> DeviceSession:
        """Return this session with activity at ``now``."""
        return attrs.evolve(self, last_activity_at=now)


@attrs.frozen
class PinGuard:
    """An establishment's recent wrong PINs, newest last: the guessing budget (F2)."""

    establishment_id: EstablishmentId
    misses: tuple[datetime, ...] = ()
    version: int = 0
