"""Recording audit events from the services, and reading the trail (F3).

Every command of practiceid records one :class:`~practiceid.audit.AuditEvent`:

* a command that succeeds appends its event to ``uow.audit`` in its own unit of work,
  just before it commits, so the event and the change are kept or lost together;
* a command refused with a :class:`~practiceid.errors.PracticeIdError` (bad input, a
  permission, a throttle, a conflict) records a refusal, with the error's code, in a unit of
  work of its own: the refused command's own unit of work is rolled back.

Reads (``access``, ``members``, a license's view, …) record nothing: a host that must
audit reads records them itself, with :meth:`Auditor.record`.

Who acted comes from the command (``actor``). The account and device session they acted
through come from :meth:`~practiceid.DeviceService.acting`, which a host wraps around the
commands run for an unlocked shared device; the peer address and request id come from the
host's :class:`~practiceid.ports.RequestContext`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import attrs

from practiceid.audit import (
    PLATFORM_CHAIN,
    AuditEvent,
    AuditRecord,
    ChainHead,
    ChainVerification,
    DetailValue,
    Outcome,
    chain_of,
    key_lookup,
    seal,
    verify_chain,
)
from practiceid.authorization import Decision, Reason
from practiceid.errors import AccessRejected, PracticeIdError, Violation
from practiceid.establishments import EstablishmentId
from practiceid.permissions import Permission
from practiceid.ports.audit import KeyProvider, RequestContext, RequestInfo
from practiceid.ports.clock import Clock
from practiceid.ports.users import UnitOfWork
from practiceid.users import UserId

if TYPE_CHECKING:
    from practiceid.access import AccessService
    from practiceid.ports.establishments import AccessUnitOfWork

__all__ = [
    "AuditService",
    "Auditor",
    "ChainOrdered",
    "DeviceActor",
    "NoRequestContext",
    "acting_as",
    "audited",
    "current_actor",
]

_MAX_ID = 200
_MAX_PAGE = 1000
_MAX_ACTION = 100


class NoRequestContext:
    """A :class:`~practiceid.ports.RequestContext` that knows nothing (scripts, sweeps)."""

    __slots__ = ()

    def current(self) -> RequestInfo:
        """Return an empty :class:`~practiceid.ports.RequestInfo`."""
        return RequestInfo()


@attrs.frozen
class DeviceActor:
    """A member acting through a shared device session (F3).

    Who acts, through which session and account, in which establishment.
    """

    member: UserId
    device_session_id: str
    account_id: UserId
    establishment_id: EstablishmentId


_ACTING: contextvars.ContextVar[DeviceActor | None] = contextvars.ContextVar(
    "practiceid_device_actor", default=None
)


@contextlib.contextmanager
def acting_as(actor: DeviceActor) -> Iterator[DeviceActor]:
    """Attribute the events recorded inside the block to ``actor``'s device session.

    Used by :meth:`~practiceid.DeviceService.acting`; the binding follows
    :mod:`contextvars` (per thread, per asyncio task).
    """
    token = _ACTING.set(actor)
    try:
        yield actor
    finally:
        _ACTING.reset(token)


def current_actor() -> DeviceActor | None:
    """Return the device actor bound by :func:`acting_as`, if any."""
    return _ACTING.get()


def _text_id(value: object) -> str | None:
    """Return an id as recorded: text, cut to a bounded length; anything else is ``None``."""
    if isinstance(value, str) and value:
        return value[:_MAX_ID]
    return None


@attrs.frozen
class Auditor:
    """Builds and records the audit events of a service.

    ``clock`` dates the events; ``request_context`` tells the peer address and request id.
    Hosts use :meth:`record` for their own acts (signing a consultation, exporting a
    record), so that one chain holds the practice's whole story.
    """

    clock: Clock
    request_context: RequestContext = attrs.field(factory=NoRequestContext)

    def event(
        self,
        action: str,
        *,
        actor: object = None,
        establishment_id: object = None,
        target_type: str = "",
        target_id: object = None,
        outcome: Outcome = Outcome.SUCCEEDED,
        code: str = "",
        on_behalf_of: object = None,
        account_id: object = None,
        device_session_id: object = None,
        details: Mapping[str, DetailValue] | None = None,
    ) -> AuditEvent:
        """Return the event of ``action``, dated now, with the request and device context.

        Ids that are not text (bad input) are recorded as ``None``. The device session and
        its account, unless given, are those bound by :func:`acting_as` when its member is
        the actor.
        """
        info = self.request_context.current()
        member = _text_id(actor)
        device = current_actor()
        session = _text_id(device_session_id)
        account = _text_id(account_id)
        if device is not None and member is not None and device.member == member:
            session = session or device.device_session_id
            account = account or device.account_id
        establishment = _text_id(establishment_id)
        return AuditEvent(
            action=action,
            at=self.clock.now(),
            outcome=outcome,
            code=code,
            establishment_id=None if establishment is None else EstablishmentId(establishment),
            actor=None if member is None else UserId(member),
            account_id=None if account is None else UserId(account),
            device_session_id=session,
            on_behalf_of=None if _text_id(on_behalf_of) is None else UserId(str(on_behalf_of)),
            target_type=target_type,
            target_id=_text_id(target_id) or "",
            peer_address=info.peer_address,
            request_id=info.request_id,
            details=details or {},
        )

    def record(self, uow: UnitOfWork, action: str, **fields: Any) -> AuditRecord:  # noqa: ANN401 - the keywords of event()
        """Append the event of ``action`` to ``uow.audit``; it commits with ``uow``."""
        return uow.audit.append(self.event(action, **fields))

    def refused(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        action: str,
        error: PracticeIdError,
        **fields: Any,  # noqa: ANN401 - the keywords of event()
    ) -> None:
        """Record that ``action`` was refused with ``error``, in a unit of work of its own.

        The event goes to the establishment's chain when the store holds that
        establishment, otherwise to the platform chain (an unknown id is kept in the
        details), so that input nobody checked cannot open chains. A storage failure while
        recording is swallowed: the caller re-raises the refusal itself, which matters more.
        """
        details = dict(fields.pop("details", None) or {})
        establishment = _text_id(fields.pop("establishment_id", None))
        with contextlib.suppress(PracticeIdError), unit_of_work() as uow:
            if establishment is not None and not _holds_establishment(uow, establishment):
                details["establishment_id"] = establishment
                establishment = None
            uow.audit.append(
                self.event(
                    action,
                    outcome=Outcome.REFUSED,
                    code=error.code,
                    establishment_id=establishment,
                    details=details,
                    **fields,
                )
            )
            uow.commit()


class ChainOrdered:
    """Holds the audit events of a unit of work that writes several chains, for chain order.

    Appending locks a chain's head until the unit of work ends. Two units of work that each
    append to chains A and B in opposite orders would wait for each other (a deadlock on
    PostgreSQL); appending every chain's events in one order, chain by chain, cannot. The
    sweeps wrap their unit of work in it: ``audit.append`` collects, ``flush()`` appends,
    and everything else is the wrapped unit of work's.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._events: list[AuditEvent] = []

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - the wrapped unit of work's
        return getattr(self._uow, name)

    @property
    def audit(self) -> ChainOrdered:
        """This collector, as the unit of work's audit log."""
        return self

    def append(self, event: AuditEvent) -> AuditRecord:
        """Hold ``event``; return it sealed provisionally (its position comes at ``flush``)."""
        self._events.append(event)
        return seal(None, event, key_id="", key=None)

    def flush(self) -> None:
        """Append the held events to the wrapped log, chain by chain, each chain in order."""
        events, self._events = self._events, []
        for event in sorted(events, key=chain_of):  # stable: a chain keeps its order
            self._uow.audit.append(event)


def _holds_establishment(uow: UnitOfWork, establishment_id: str) -> bool:
    establishments = getattr(uow, "establishments", None)
    if establishments is None:
        return False
    try:
        establishments.get(EstablishmentId(establishment_id))
    except PracticeIdError:
        return False
    return True


class _Audited(Protocol):
    @property
    def auditor(self) -> Auditor: ...

    @property
    def unit_of_work(self) -> Callable[[], Any]: ...


_S = TypeVar("_S", bound=_Audited)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def audited(
    action: str,
    *,
    target_type: str = "user",
    target: str = "user_id",
    establishment: str = "establishment_id",
    actor: str = "actor",
) -> Callable[[Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]]:
    """Record a refusal of the decorated command as ``action``.

    The command records its own success (in its unit of work). When it raises a
    :class:`~practiceid.errors.PracticeIdError`, the refusal is recorded from the keyword
    arguments named ``actor``, ``establishment`` and ``target`` (their values, as given),
    and the error is raised again unchanged. Put it outside ``_retried``: a retried
    conflict is not a refusal.
    """

    def decorate(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
        @functools.wraps(method)
        def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(self, *args, **kwargs)
            except PracticeIdError as error:
                self.auditor.refused(
                    self.unit_of_work,
                    action,
                    error,
                    actor=kwargs.get(actor),
                    establishment_id=kwargs.get(establishment),
                    target_type=target_type,
                    target_id=kwargs.get(target),
                )
                raise

        return run

    return decorate


@attrs.frozen(kw_only=True)
class AuditService:
    """Reading, checking and extending the audit trail (F3).

    Args:
        unit_of_work: returns a fresh unit of work of the same store as the other services.
        access: decides who may read the trail (``audit.view``) and export its heads
            (``audit.export``); support staff with ``audit.view`` read the platform chain.
        clock: dates the host's own events.
        keys: the audit key's provider, when the store seals with one: without it a keyed
            chain cannot be checked (``unknown_key``).
        request_context: the peer address of the host's own events.
    """

    unit_of_work: Callable[[], AccessUnitOfWork]
    access: AccessService
    clock: Clock
    keys: KeyProvider | None = None
    request_context: RequestContext = attrs.field(factory=NoRequestContext)

    @property
    def auditor(self) -> Auditor:
        """Records this service's events."""
        return Auditor(self.clock, self.request_context)

    def _chain(self, uow: AccessUnitOfWork, actor: UserId, chain: object, p: Permission) -> str:
        if chain == PLATFORM_CHAIN:
            if p not in self.access.staff.get(actor, frozenset()):
                raise Decision(
                    allowed=False,
                    reason=Reason.MISSING_PERMISSION,
                    permission=p,
                    actor=actor,
                    missing=frozenset({p}),
                ).error()
            return PLATFORM_CHAIN
        if not isinstance(chain, str):
            raise AccessRejected(
                [Violation("establishment.invalid_id", "not an id", "establishment_id")]
            )
        establishment, _ = self.access.authorize(
            uow, actor=actor, establishment_id=EstablishmentId(chain), permission=p
        )
        return establishment.id

    def records(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId | str,
        after: int = 0,
        limit: int = 100,
    ) -> Sequence[AuditRecord]:
        """Return the chain's records after position ``after``, at most ``limit`` (1-1000).

        ``establishment_id`` is :data:`~practiceid.audit.PLATFORM_CHAIN` (``""``) for the
        platform chain, which only support staff read.

        Raises:
            PermissionDenied: the actor lacks ``audit.view``. AccessRejected: bad paging.
        """
        if (
            type(after) is not int
            or after < 0
            or type(limit) is not int
            or not 1 <= limit <= _MAX_PAGE
        ):
            raise AccessRejected(
                [Violation("audit.invalid_page", "after >= 0, 1 <= limit <= 1000", "limit")]
            )
        with self.unit_of_work() as uow:
            chain = self._chain(uow, actor, establishment_id, Permission.AUDIT_VIEW)
            return uow.audit.records(chain, after=after, limit=limit)

    def verify(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId | str,
        anchor: ChainHead | None = None,
        unkeyed_until: int = 0,
        batch: int = 1000,
    ) -> ChainVerification:
        """Check the whole chain, link by link, and name its first broken link (F3).

        Reads ``batch`` records per unit of work, so a long chain is checked in constant
        memory without holding a transaction open. ``anchor`` is a head exported earlier
        (:meth:`head`): it also detects records removed from the end.

        Raises:
            PermissionDenied: the actor lacks ``audit.view``.
        """
        with self.unit_of_work() as uow:
            chain = self._chain(uow, actor, establishment_id, Permission.AUDIT_VIEW)

        def pages() -> Iterator[AuditRecord]:
            after = 0
            while True:
                with self.unit_of_work() as uow:
                    page = uow.audit.records(chain, after=after, limit=batch)
                yield from page
                if len(page) < batch:
                    return
                after = page[-1].seq

        return verify_chain(
            pages(),
            chain=chain,
            key=key_lookup(self.keys),
            anchor=anchor,
            unkeyed_until=unkeyed_until,
        )

    def head(self, *, actor: UserId, establishment_id: EstablishmentId | str) -> ChainHead | None:
        """Return the chain's head, to export where the database's writers cannot reach.

        Raises:
            PermissionDenied: the actor lacks ``audit.export``.
        """
        with self.unit_of_work() as uow:
            chain = self._chain(uow, actor, establishment_id, Permission.AUDIT_EXPORT)
            return uow.audit.head(chain)

    def record(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        action: str,
        target_type: str = "",
        target_id: str = "",
        on_behalf_of: UserId | None = None,
        outcome: Outcome = Outcome.SUCCEEDED,
        code: str = "",
        details: Mapping[str, DetailValue] | None = None,
    ) -> AuditRecord:
        """Record one of the host's own acts in the establishment's chain.

        Signing a consultation, exporting a record: one chain then tells the practice's
        whole story, under the same seal. The actor must be an active member; the device
        session bound by :meth:`~practiceid.DeviceService.acting` is recorded with them.
        ``action`` is the host's own stable code (``consultation.sign``).

        Raises:
            PermissionDenied: the actor is not an active member of the establishment.
            AccessRejected: an empty or over-long action.
        """
        given: object = action  # checked: hosts may pass anything
        if not isinstance(given, str) or not 1 <= len(given) <= _MAX_ACTION:
            raise AccessRejected([Violation("audit.invalid_action", "1-100 characters", "action")])
        with self.unit_of_work() as uow:
            establishment = uow.establishments.get(establishment_id)
            access = self.access.access_in(uow, actor, establishment)
            if access.denial is not None:
                raise Decision(
                    allowed=False, reason=access.denial, permission=None, actor=actor
                ).error()
            stored = self.auditor.record(
                uow,
                action,
                actor=actor,
                establishment_id=establishment.id,
                target_type=target_type,
                target_id=target_id,
                on_behalf_of=on_behalf_of,
                outcome=outcome,
                code=code,
                details=details,
            )
            uow.commit()
        return stored
