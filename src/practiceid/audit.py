"""The audit trail: who did what, where, through which session, and how it ended (F3).

Every command of practiceid records an :class:`AuditEvent`: the member who acted, the
account and device session they acted through, on whose behalf (C6), in which
establishment, the action and its target, when, from which peer address, and the outcome,
refusals included. Events are stored as :class:`AuditRecord` values, each *sealed* into a
hash chain of its establishment (events outside any establishment, such as a registration,
form the platform chain, :data:`PLATFORM_CHAIN`): a record's digest covers its event, its
position and the previous record's digest. :func:`verify_chain` then detects an edited,
removed or reordered record and names the first broken link.

The digest is an HMAC-SHA-256 under a key from the host's
:class:`~practiceid.ports.KeyProvider` (purpose ``"audit"``), or a plain SHA-256 when the
store was given no key. A plain chain shows accidental and naive edits; only a keyed chain
resists someone with write access to the database, who could otherwise recompute every
digest after an edit. Anchoring a chain's head elsewhere (:class:`ChainHead`, exported
daily to the host's own log) also shows a truncated chain.

>>> from datetime import UTC, datetime
>>> event = AuditEvent(
...     action="device.unlock",
...     at=datetime(2027, 3, 1, 8, 30, tzinfo=UTC),
...     establishment_id=EstablishmentId("tilleuls"),
...     actor=UserId("u-dupont"),
... )
>>> first = seal(None, event, key_id="", key=None)
>>> second = seal(first.head, event, key_id="", key=None)
>>> verify_chain([first, second], chain="tilleuls").intact
True
>>> edited = attrs.evolve(first, event=attrs.evolve(event, actor=UserId("u-other")))
>>> broken = verify_chain([edited, second], chain="tilleuls")
>>> broken.broken_at, broken.problem
(1, <ChainProblem.EDITED: 'edited'>)
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

import attrs

from practiceid.errors import InvalidConfiguration, UnknownKey
from practiceid.establishments import EstablishmentId
from practiceid.users import UserId

if TYPE_CHECKING:
    from practiceid.ports.audit import KeyProvider

__all__ = [
    "AUDIT_KEY_PURPOSE",
    "GENESIS",
    "PLATFORM_CHAIN",
    "AuditEvent",
    "AuditRecord",
    "ChainHead",
    "ChainProblem",
    "ChainVerification",
    "DetailValue",
    "Outcome",
    "audit_key",
    "chain_of",
    "key_lookup",
    "seal",
    "verify_chain",
]

PLATFORM_CHAIN = ""
"""The chain of events outside any establishment (registrations, log-ins, e-mail changes)."""

AUDIT_KEY_PURPOSE = "audit"
"""The :class:`~practiceid.ports.KeyProvider` purpose of the audit chain's key."""

GENESIS = bytes(32)
"""The "previous digest" of a chain's first record."""

DetailValue: TypeAlias = str | int | bool | None
"""What an event's details hold: plain values, never secrets."""

_FORMAT = 1  # the canonical form's version, part of every digest
_MAX_TEXT = 500


class Outcome(enum.StrEnum):
    """How a command ended."""

    SUCCEEDED = "succeeded"
    REFUSED = "refused"
    """Refused: bad input, a permission, a throttle, a conflict; ``code`` says which."""


def _details(
    values: Mapping[str, DetailValue] | Iterable[tuple[str, DetailValue]],
) -> tuple[tuple[str, DetailValue], ...]:
    pairs = values.items() if isinstance(values, Mapping) else values
    cleaned: dict[str, DetailValue] = {}
    for name, value in pairs:
        if value is None or isinstance(value, (bool, int)):
            cleaned[_text(name)] = value
        else:
            cleaned[_text(name)] = _text(value)
    return tuple(sorted(cleaned.items()))


def _text(value: object) -> str:
    """Return text as stored: bounded, without NUL or lone surrogates.

    No database stores those and no UTF-8 encoder accepts them: an id given as bad input
    must not crash the record of its refusal.
    """
    text = value if isinstance(value, str) else str(value)
    text = text[:_MAX_TEXT].replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidConfiguration(
            "audit events need timezone-aware times", setting="at", value=str(value)
        )
    return value.astimezone(UTC)


@attrs.frozen
class AuditEvent:
    """What happened, before it is sealed into a chain.

    ``actor`` is the member who acted (the PIN's owner on a shared device, F3), or ``None``
    for the library's own sweeps and for a log-in whose account is unknown. ``account_id``
    is the account signed in: the clinic login of a device session, or the actor's own.
    ``device_session_id`` names the shared-device session, ``on_behalf_of`` the physician a
    delegate acted for (C6). ``code`` is the error code of a refusal. ``details`` are plain
    values, sorted by name, and never secrets; ``peer_address`` and ``request_id`` come
    from the host's :class:`~practiceid.ports.RequestContext`.
    """

    action: str = attrs.field(converter=_text)
    at: datetime = attrs.field(converter=_aware)
    outcome: Outcome = Outcome.SUCCEEDED
    code: str = attrs.field(default="", converter=_text)
    establishment_id: EstablishmentId | None = attrs.field(default=None, converter=_optional_text)
    actor: UserId | None = attrs.field(default=None, converter=_optional_text)
    account_id: UserId | None = attrs.field(default=None, converter=_optional_text)
    device_session_id: str | None = attrs.field(default=None, converter=_optional_text)
    on_behalf_of: UserId | None = attrs.field(default=None, converter=_optional_text)
    target_type: str = attrs.field(default="", converter=_text)
    target_id: str = attrs.field(default="", converter=_text)
    peer_address: str | None = attrs.field(default=None, converter=_optional_text)
    request_id: str = attrs.field(default="", converter=_text)
    details: tuple[tuple[str, DetailValue], ...] = attrs.field(default=(), converter=_details)

    @property
    def detail(self) -> dict[str, DetailValue]:
        """The details as a dictionary."""
        return dict(self.details)

    @property
    def succeeded(self) -> bool:
        """True when the command did what was asked."""
        return self.outcome is Outcome.SUCCEEDED

    def canonical(self) -> dict[str, object]:
        """The event as plain JSON values, in the form its digest covers."""
        return {
            "action": self.action,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "outcome": str(self.outcome),
            "code": self.code,
            "establishment_id": self.establishment_id,
            "actor": self.actor,
            "account_id": self.account_id,
            "device_session_id": self.device_session_id,
            "on_behalf_of": self.on_behalf_of,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "peer_address": self.peer_address,
            "request_id": self.request_id,
            "details": dict(self.details),
        }


def chain_of(event: AuditEvent) -> str:
    """Return the chain an event belongs to: its establishment's, or the platform's."""
    return event.establishment_id or PLATFORM_CHAIN


@attrs.frozen
class ChainHead:
    """The last record of a chain: its position and digest.

    Export it regularly to a place the database's writers cannot reach: a chain verified
    against an anchored head also shows records removed from its end.
    """

    chain: str
    seq: int
    digest: bytes = attrs.field(repr=lambda d: d.hex())


@attrs.frozen
class AuditRecord:
    """An event sealed at position ``seq`` (from 1) of ``chain``.

    ``previous`` is the digest of record ``seq - 1`` (:data:`GENESIS` for the first);
    ``digest`` covers the event, the chain, the position, ``previous`` and ``key_id``, the
    key's name (empty for a plain SHA-256 chain).
    """

    event: AuditEvent
    chain: str
    seq: int
    previous: bytes = attrs.field(repr=lambda d: d.hex())
    digest: bytes = attrs.field(repr=lambda d: d.hex())
    key_id: str = ""

    @property
    def head(self) -> ChainHead:
        """This record as the head of its chain."""
        return ChainHead(self.chain, self.seq, self.digest)


def _body(chain: str, seq: int, previous: bytes, key_id: str, event: AuditEvent) -> bytes:
    document = {
        "format": _FORMAT,
        "chain": chain,
        "seq": seq,
        "previous": previous.hex(),
        "key_id": key_id,
        "event": event.canonical(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _digest(body: bytes, key: bytes | None) -> bytes:
    if key is None:
        return hashlib.sha256(body).digest()
    return hmac.digest(key, body, "sha256")


def seal(
    head: ChainHead | None, event: AuditEvent, *, key_id: str, key: bytes | None
) -> AuditRecord:
    """Return ``event`` sealed after ``head`` (``None``: first of its chain).

    Adapters call this while they hold their chain's head, so that two appends never seal
    the same position. ``key`` is the secret of ``key_id`` (``None`` and ``""`` for a plain
    SHA-256 chain).
    """
    chain = chain_of(event)
    if head is not None and head.chain != chain:
        raise InvalidConfiguration(
            "the head belongs to another chain", setting="head", value=head.chain
        )
    seq = 1 if head is None else head.seq + 1
    previous = GENESIS if head is None else head.digest
    body = _body(chain, seq, previous, key_id, event)
    return AuditRecord(event, chain, seq, previous, _digest(body, key), key_id)


class ChainProblem(enum.StrEnum):
    """Why a chain is broken, at its first broken link."""

    EDITED = "edited"
    """The record's digest does not match its content: it was changed after sealing."""
    MISSING = "missing"
    """A record is missing before this position (removed)."""
    REORDERED = "reordered"
    """A record came at a position already passed (moved or duplicated)."""
    RELINKED = "relinked"
    """The record does not point at the digest of the record before it."""
    WRONG_CHAIN = "wrong_chain"
    """The record belongs to another chain."""
    UNKNOWN_KEY = "unknown_key"
    """The record names a key the key provider does not have."""
    UNKEYED = "unkeyed"
    """The record is a plain SHA-256 one in a chain checked with a key: a keyed chain
    re-sealed without the key (positions up to ``unkeyed_until`` may be plain)."""
    TRUNCATED = "truncated"
    """The chain ends before the anchored head: records were removed from its end."""
    HEAD_MISMATCH = "head_mismatch"
    """The record at the anchored head's position is not the anchored one."""


@attrs.frozen
class ChainVerification:
    """The result of :func:`verify_chain`.

    ``intact`` is true when every record checked out; otherwise ``broken_at`` is the
    position of the first broken link and ``problem`` says what is wrong there. ``checked``
    counts the records verified before it; ``head`` is the last good record's head.
    """

    chain: str
    checked: int
    head: ChainHead | None
    broken_at: int | None = None
    problem: ChainProblem | None = None

    @property
    def intact(self) -> bool:
        """True when no link is broken."""
        return self.problem is None


KeyLookup: TypeAlias = Callable[[str], bytes]
"""Returns the secret of a key id, or raises :class:`~practiceid.errors.UnknownKey`."""


def verify_chain(  # noqa: C901, PLR0911 - one check per link problem, in order
    records: Iterable[AuditRecord],
    *,
    chain: str,
    key: KeyLookup | None = None,
    anchor: ChainHead | None = None,
    unkeyed_until: int = 0,
) -> ChainVerification:
    """Check ``records`` (one chain, in position order, from its first) link by link.

    ``key`` finds the secret of each record's ``key_id`` (a keyed chain cannot be checked
    without it: ``unknown_key``). Given a key, a plain SHA-256 record is broken
    (``unkeyed``): anyone can compute those, so a keyed chain re-sealed without the key
    would otherwise verify; ``unkeyed_until`` names the last position legitimately sealed
    before the store had a key. ``anchor``, a head exported earlier, also detects records
    removed from the end. Reads lazily and stops at the first broken link, so a chain of any
    length is checked in constant memory.
    """
    expected_seq = 1
    previous = GENESIS
    head: ChainHead | None = None

    def broken(at: int, problem: ChainProblem) -> ChainVerification:
        return ChainVerification(chain, expected_seq - 1, head, at, problem)

    for record in records:
        if record.chain != chain or chain_of(record.event) != chain:
            return broken(record.seq, ChainProblem.WRONG_CHAIN)
        if record.seq < expected_seq:
            return broken(record.seq, ChainProblem.REORDERED)
        if record.seq > expected_seq:
            return broken(expected_seq, ChainProblem.MISSING)
        secret: bytes | None = None
        if not record.key_id and key is not None and record.seq > unkeyed_until:
            return broken(record.seq, ChainProblem.UNKEYED)
        if record.key_id:
            if key is None:
                return broken(record.seq, ChainProblem.UNKNOWN_KEY)
            try:
                secret = key(record.key_id)
            except UnknownKey:
                return broken(record.seq, ChainProblem.UNKNOWN_KEY)
        body = _body(record.chain, record.seq, record.previous, record.key_id, record.event)
        if not hmac.compare_digest(_digest(body, secret), record.digest):
            return broken(record.seq, ChainProblem.EDITED)
        if not hmac.compare_digest(record.previous, previous):
            return broken(record.seq, ChainProblem.RELINKED)
        if (
            anchor is not None
            and record.seq == anchor.seq
            and not hmac.compare_digest(record.digest, anchor.digest)
        ):
            return broken(record.seq, ChainProblem.HEAD_MISMATCH)
        previous = record.digest
        head = record.head
        expected_seq += 1
    if anchor is not None and anchor.seq >= expected_seq:
        return broken(expected_seq, ChainProblem.TRUNCATED)
    return ChainVerification(chain, expected_seq - 1, head)


def audit_key(keys: KeyProvider | None) -> tuple[str, bytes | None]:
    """Return the id and secret new records are sealed with: ``("", None)`` without keys."""
    if keys is None:
        return "", None
    return keys.current(AUDIT_KEY_PURPOSE)


def key_lookup(keys: KeyProvider | None) -> KeyLookup | None:
    """Return the :data:`KeyLookup` of a key provider, for :func:`verify_chain`."""
    if keys is None:
        return None
    provider = keys

    def lookup(key_id: str) -> bytes:
        return provider.key(AUDIT_KEY_PURPOSE, key_id)

    return lookup
