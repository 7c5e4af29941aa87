"""Key providers and request contexts: pure-Python adapters of the security ports."""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import cast

from practiceid.auditing import NoRequestContext
from practiceid.errors import InvalidConfiguration, UnknownKey
from practiceid.ports.audit import RequestInfo

__all__ = [
    "MIN_KEY_BYTES",
    "ContextVarRequestContext",
    "NoRequestContext",
    "StaticKeyProvider",
]

MIN_KEY_BYTES = 32
"""The shortest key accepted: 256 bits, the HMAC-SHA-256 block's security level."""


class StaticKeyProvider:
    """A :class:`~practiceid.ports.KeyProvider` over keys the host loaded at start-up.

    ``keys`` maps a purpose (``"pin"``, ``"audit"``) to its keys by id; ``current`` maps a
    purpose to the id new digests use (by default the only key of the purpose). Rotate by
    adding a key and making it current: older digests still verify while their key stays.

    >>> keys = StaticKeyProvider({"pin": {"2027-01": bytes(range(32))}})
    >>> keys.current("pin")[0]
    '2027-01'
    >>> keys
    StaticKeyProvider(purposes=['pin'])
    """

    __slots__ = ("_current", "_keys")

    def __init__(
        self,
        keys: Mapping[str, Mapping[str, bytes]],
        *,
        current: Mapping[str, str] | None = None,
    ) -> None:
        chosen = dict(current or {})
        frozen: dict[str, Mapping[str, bytes]] = {}
        for purpose, by_id in keys.items():
            if not by_id:
                raise InvalidConfiguration("a purpose needs a key", setting="keys", value=purpose)
            entries = cast("Mapping[object, object]", by_id)  # checked: hosts pass anything
            for key_id, secret in entries.items():
                if not isinstance(key_id, str) or not key_id:
                    raise InvalidConfiguration(
                        "key ids are non-empty text", setting="keys", value=purpose
                    )
                if not isinstance(secret, bytes) or len(secret) < MIN_KEY_BYTES:
                    raise InvalidConfiguration(
                        f"keys hold at least {MIN_KEY_BYTES} bytes",
                        setting="keys",
                        value=f"{purpose}/{key_id}",
                    )
            frozen[purpose] = MappingProxyType(dict(by_id))
            if purpose not in chosen:
                if len(by_id) > 1:
                    raise InvalidConfiguration(
                        "several keys: say which is current", setting="current", value=purpose
                    )
                chosen[purpose] = next(iter(by_id))
            elif chosen[purpose] not in by_id:
                raise InvalidConfiguration(
                    "the current key is not among the keys", setting="current", value=purpose
                )
        self._keys = MappingProxyType(frozen)
        self._current = MappingProxyType(
            {purpose: key_id for purpose, key_id in chosen.items() if purpose in frozen}
        )

    @classmethod
    def generate(cls, *purposes: str) -> StaticKeyProvider:
        """Return a provider with one fresh random key per purpose (tests, demos).

        Keys made here live as long as the process: a store that outlives it needs keys the
        host keeps (a secrets manager, an environment variable).
        """
        return cls({purpose: {"generated": secrets.token_bytes(32)} for purpose in purposes})

    def current(self, purpose: str) -> tuple[str, bytes]:
        """Return the id and secret of the current key for ``purpose``."""
        key_id = self._current.get(purpose)
        if key_id is None:
            raise UnknownKey(purpose=purpose, key_id=None)
        return key_id, self._keys[purpose][key_id]

    def key(self, purpose: str, key_id: str) -> bytes:
        """Return the secret of ``key_id`` for ``purpose``."""
        try:
            return self._keys[purpose][key_id]
        except (KeyError, TypeError):
            raise UnknownKey(purpose=purpose, key_id=str(key_id)[:100]) from None

    def __repr__(self) -> str:
        return f"StaticKeyProvider(purposes={sorted(self._keys)})"


class ContextVarRequestContext:
    """A :class:`~practiceid.ports.RequestContext` the host's middleware binds per request.

    >>> context = ContextVarRequestContext()
    >>> with context.bind(peer_address="192.0.2.10", request_id="r-1"):
    ...     context.current().peer_address
    '192.0.2.10'
    >>> context.current().peer_address is None
    True

    Bound values follow :mod:`contextvars`: each thread and each asyncio task sees its own.
    """

    __slots__ = ("_var",)

    def __init__(self) -> None:
        # RequestInfo is frozen: a shared default cannot be changed through the variable.
        self._var: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar(
            "practiceid_request",
            default=RequestInfo(),  # noqa: B039 - frozen, see above
        )

    @contextlib.contextmanager
    def bind(self, *, peer_address: str | None = None, request_id: str = "") -> Iterator[None]:
        """Make ``peer_address`` and ``request_id`` current inside the ``with`` block."""
        token = self._var.set(RequestInfo(peer_address=peer_address, request_id=request_id))
        try:
            yield
        finally:
            self._var.reset(token)

    def current(self) -> RequestInfo:
        """Return what the innermost :meth:`bind` set, or an empty value."""
        return self._var.get()
