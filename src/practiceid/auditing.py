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
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import attrs

from practiceid.audit import AuditEvent, AuditRecord, DetailValue, Outcome
from practiceid.errors import PracticeIdError
from practiceid.establishments import EstablishmentId
from practiceid.ports.audit import RequestContext, RequestInfo
from practiceid.ports.clock import Clock
from practiceid.ports.users import UnitOfWork
from practiceid.users import UserId

__all__ = ["Auditor", "DeviceActor", "NoRequestContext", "acting_as", "audited", "current_actor"]

_MAX_ID = 200


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
        details: Mapping[str, DetailValue] | None = None,
    ) -> AuditEvent:
        """Return the event of ``action``, dated now, with the request and device context.

        Ids that are not text (bad input) are recorded as ``None``. The device session and
        its account are those bound by :func:`acting_as`, when its member is the actor.
        """
        info = self.request_context.current()
        member = _text_id(actor)
        device = current_actor()
        device_session_id = None
        account = _text_id(account_id)
        if device is not None and member is not None and device.member == member:
            device_session_id = device.device_session_id
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
            device_session_id=device_session_id,
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
