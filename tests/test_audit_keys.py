"""The adapters of the security ports: StaticKeyProvider and ContextVarRequestContext."""

from __future__ import annotations

import asyncio
import threading

import pytest

from practiceid.adapters import ContextVarRequestContext, NoRequestContext, StaticKeyProvider
from practiceid.errors import InvalidConfiguration, UnknownKey
from practiceid.ports.audit import RequestInfo

SECRET = bytes(range(100, 132))
OLD = bytes(range(32))


# -- StaticKeyProvider --------------------------------------------------------------------------


def test_the_only_key_of_a_purpose_is_its_current_one():
    keys = StaticKeyProvider({"audit": {"2027-01": SECRET}, "pin": {"p": OLD}})
    assert keys.current("audit") == ("2027-01", SECRET)
    assert keys.current("pin") == ("p", OLD)
    assert keys.key("audit", "2027-01") == SECRET


def test_after_a_rotation_the_current_key_is_named_and_older_ones_still_found():
    keys = StaticKeyProvider(
        {"audit": {"2027-01": OLD, "2027-02": SECRET}}, current={"audit": "2027-02"}
    )
    assert keys.current("audit") == ("2027-02", SECRET)
    assert keys.key("audit", "2027-01") == OLD


@pytest.mark.parametrize(
    ("keys", "current", "setting"),
    [
        ({"audit": {}}, None, "keys"),
        ({"audit": {"": SECRET}}, None, "keys"),
        ({"audit": {7: SECRET}}, None, "keys"),
        ({"audit": {"k": SECRET[:31]}}, None, "keys"),
        ({"audit": {"k": SECRET.hex()}}, None, "keys"),
        ({"audit": {"k": bytearray(SECRET)}}, None, "keys"),
        ({"audit": {"k": None}}, None, "keys"),
        ({"audit": {"a": SECRET, "b": OLD}}, None, "current"),
        ({"audit": {"a": SECRET}}, {"audit": "b"}, "current"),
    ],
    ids=[
        "no key",
        "empty id",
        "id not text",
        "31 bytes",
        "text",
        "bytearray",
        "none",
        "several, none current",
        "current not a key",
    ],
)
def test_bad_configurations_are_refused_without_showing_a_key(keys, current, setting):
    with pytest.raises(InvalidConfiguration) as raised:
        StaticKeyProvider(keys, current=current)
    assert raised.value.params["setting"] == setting
    shown = repr(raised.value.to_dict()) + str(raised.value) + repr(raised.value)
    assert SECRET.hex() not in shown
    assert repr(SECRET[:31]) not in shown
    assert "SECRET" not in shown


def test_an_unknown_purpose_or_key_id_is_an_unknown_key():
    keys = StaticKeyProvider({"audit": {"k": SECRET}}, current={"pin": "p"})
    for call, params in [
        (lambda: keys.current("pin"), {"purpose": "pin", "key_id": None}),
        (lambda: keys.current("nothing"), {"purpose": "nothing", "key_id": None}),
        (lambda: keys.key("audit", "other"), {"purpose": "audit", "key_id": "other"}),
        (lambda: keys.key("pin", "k"), {"purpose": "pin", "key_id": "k"}),
        (lambda: keys.key("audit", ["k"]), {"purpose": "audit", "key_id": "['k']"}),
        (lambda: keys.key("audit", "x" * 500), {"purpose": "audit", "key_id": "x" * 100}),
    ]:
        with pytest.raises(UnknownKey) as raised:
            call()
        assert dict(raised.value.params) == params
        assert isinstance(raised.value, InvalidConfiguration)


def test_the_repr_names_the_purposes_and_never_a_key():
    keys = StaticKeyProvider({"pin": {"p": OLD}, "audit": {"k": SECRET}})
    assert repr(keys) == "StaticKeyProvider(purposes=['audit', 'pin'])"
    assert str(keys) == repr(keys)
    for secret in (SECRET, OLD):
        assert secret.hex() not in repr(keys)
        assert repr(secret) not in repr(keys)


def test_the_keys_are_copied_and_cannot_be_changed_through_the_provider():
    given = {"audit": {"k": SECRET}}
    keys = StaticKeyProvider(given)
    given["audit"]["k"] = OLD
    given["audit"]["other"] = OLD
    assert keys.current("audit") == ("k", SECRET)
    with pytest.raises(UnknownKey):
        keys.key("audit", "other")
    with pytest.raises(AttributeError):
        keys.extra = 1  # type: ignore[attr-defined]


def test_generated_keys_are_random_32_bytes_one_per_purpose():
    first = StaticKeyProvider.generate("audit", "pin")
    second = StaticKeyProvider.generate("audit")
    key_id, secret = first.current("audit")
    assert key_id == "generated"
    assert len(secret) == 32
    assert first.current("pin")[1] != secret
    assert second.current("audit")[1] != secret
    with pytest.raises(UnknownKey):
        second.current("pin")


# -- request contexts -----------------------------------------------------------------------


def test_outside_any_request_the_context_is_empty():
    assert ContextVarRequestContext().current() == RequestInfo(peer_address=None, request_id="")
    assert NoRequestContext().current() == RequestInfo()


def test_bindings_nest_and_are_undone_on_leaving_even_by_an_exception():
    context = ContextVarRequestContext()
    with context.bind(peer_address="192.0.2.10", request_id="r-1"):
        inside: list[RequestInfo] = []

        def fail() -> None:
            with context.bind(request_id="r-2"):
                inside.append(context.current())
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail()
        assert inside == [RequestInfo(None, "r-2")]
        assert context.current() == RequestInfo("192.0.2.10", "r-1")
    assert context.current() == RequestInfo()


def test_two_contexts_are_independent():
    first, second = ContextVarRequestContext(), ContextVarRequestContext()
    with first.bind(request_id="r-1"):
        assert second.current() == RequestInfo()


def test_each_thread_sees_its_own_binding():
    context = ContextVarRequestContext()
    seen: dict[str, RequestInfo] = {}
    bound = threading.Barrier(2, timeout=10)

    def serve(name: str) -> None:
        seen[f"{name} before"] = context.current()
        with context.bind(peer_address=f"198.51.100.{len(name)}", request_id=name):
            bound.wait()  # both threads hold a binding at once
            seen[name] = context.current()
            bound.wait()

    with context.bind(request_id="main"):
        threads = [threading.Thread(target=serve, args=(n,)) for n in ("a", "bb")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert context.current() == RequestInfo(None, "main")
    assert seen == {
        "a before": RequestInfo(),  # a new thread does not inherit the main thread's binding
        "bb before": RequestInfo(),
        "a": RequestInfo("198.51.100.1", "a"),
        "bb": RequestInfo("198.51.100.2", "bb"),
    }


def test_each_asyncio_task_sees_its_own_binding():
    context = ContextVarRequestContext()

    async def serve(name: str, started: asyncio.Event, other: asyncio.Event) -> RequestInfo:
        with context.bind(request_id=name):
            started.set()
            await other.wait()  # the other task binds meanwhile
            return context.current()

    async def main() -> list[RequestInfo]:
        a, b = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(serve("a", a, b), serve("b", b, a)))

    assert asyncio.run(main()) == [RequestInfo(None, "a"), RequestInfo(None, "b")]
    assert context.current() == RequestInfo()
