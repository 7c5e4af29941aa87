"""practiceid.audit: events, sealing, and verification of a chain link by link (F3).

The canonical form a digest covers is pinned (a change would break every stored chain), and
a Hypothesis property checks that any single edit, removal, exchange or repetition of a
record of a random chain is found at the right position with the right problem.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid.adapters import StaticKeyProvider
from practiceid.audit import (
    AUDIT_KEY_PURPOSE,
    GENESIS,
    PLATFORM_CHAIN,
    AuditEvent,
    AuditRecord,
    ChainHead,
    ChainProblem,
    Outcome,
    audit_key,
    chain_of,
    key_lookup,
    seal,
    verify_chain,
)
from practiceid.errors import InvalidConfiguration, UnknownKey
from practiceid.establishments import EstablishmentId
from practiceid.users import UserId

AT = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
KEY = bytes(range(32))
EST = EstablishmentId("tilleuls")


def _event(n: int = 0, establishment_id: str | None = EST, **fields: object) -> AuditEvent:
    values: dict[str, object] = {
        "action": f"device.unlock-{n}",
        "at": AT + timedelta(seconds=n),
        "establishment_id": None if establishment_id is None else EstablishmentId(establishment_id),
        "actor": UserId("u-dupont"),
    }
    values.update(fields)
    return AuditEvent(**values)  # type: ignore[arg-type]


def _chain(
    events: list[AuditEvent], *, key_id: str = "", key: bytes | None = None
) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for event in events:
        records.append(seal(records[-1].head if records else None, event, key_id=key_id, key=key))
    return records


def _lookup(key_id: str) -> bytes:
    if key_id != "k1":
        raise UnknownKey(purpose=AUDIT_KEY_PURPOSE, key_id=key_id)
    return KEY


# -- events -------------------------------------------------------------------------------------


def test_an_event_needs_an_aware_time_and_keeps_it_in_utc():
    with pytest.raises(InvalidConfiguration) as raised:
        _event(at=datetime(2027, 3, 1, 8, 30))  # noqa: DTZ001 - the point
    assert raised.value.params["setting"] == "at"

    brussels = datetime(2027, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    event = _event(at=brussels)
    assert event.at == AT
    assert event.at.tzinfo is UTC


def test_details_are_sorted_plain_values_cut_to_500_characters():
    event = _event(
        details={
            "z": "é" * 600,
            "a": 1,
            "m": True,
            "n": None,
            "when": AT,  # not a plain value: kept as its text
            "amount": 4.5,
        }
    )
    assert [name for name, _ in event.details] == ["a", "amount", "m", "n", "when", "z"]
    assert event.detail == {
        "a": 1,
        "amount": "4.5",
        "m": True,
        "n": None,
        "when": str(AT),
        "z": "é" * 500,
    }
    assert type(event.detail["m"]) is bool
    assert _event(details=[("b", 2), ("a", 1), ("b", 3)]).details == (("a", 1), ("b", 3))


def test_an_event_succeeded_unless_refused():
    assert _event().succeeded
    assert not _event(outcome=Outcome.REFUSED, code="pin.wrong").succeeded


def test_the_chain_of_an_event_is_its_establishment_or_the_platform():
    assert chain_of(_event()) == EST
    assert chain_of(_event(establishment_id=None)) == PLATFORM_CHAIN == ""


# -- sealing ------------------------------------------------------------------------------------


CANONICAL_FIRST = (
    '{"chain":"tilleuls","event":{"account_id":null,"action":"device.unlock",'
    '"actor":"u-dupont","at":"2027-03-01T08:30:00.000000Z","code":"",'
    '"details":{"a":"é","b":1,"c":true,"d":null},"device_session_id":null,'
    '"establishment_id":"tilleuls","on_behalf_of":null,"outcome":"succeeded",'
    '"peer_address":null,"request_id":"","target_id":"","target_type":""},"format":1,'
    '"key_id":"","previous":"' + "00" * 32 + '","seq":1}'
)


def test_the_digest_covers_the_documented_canonical_form():
    event = AuditEvent(
        action="device.unlock",
        at=AT,
        establishment_id=EST,
        actor=UserId("u-dupont"),
        details={"b": 1, "a": "é", "c": True, "d": None},
    )
    first = seal(None, event, key_id="", key=None)
    assert first.digest == hashlib.sha256(CANONICAL_FIRST.encode()).digest()
    assert first.digest.hex() == "fc1e1499c5463f4167b5ab896a079d27f95c301da9f5fa44261d726e66fcb135"

    second = seal(first.head, event, key_id="k1", key=KEY)
    body = (
        CANONICAL_FIRST.replace('"key_id":""', '"key_id":"k1"')
        .replace("00" * 32, first.digest.hex())
        .replace('"seq":1', '"seq":2')
    )
    assert second.digest == hmac.digest(KEY, body.encode(), "sha256")


def test_sealing_links_each_record_to_the_one_before():
    records = _chain([_event(n) for n in range(3)])
    assert [r.seq for r in records] == [1, 2, 3]
    assert [r.previous for r in records] == [GENESIS, records[0].digest, records[1].digest]
    assert all(r.chain == EST and r.key_id == "" and len(r.digest) == 32 for r in records)
    assert records[-1].head == ChainHead(EST, 3, records[-1].digest)


def test_seals_are_deterministic_and_depend_on_the_key():
    event = _event()
    plain = seal(None, event, key_id="", key=None)
    assert seal(None, event, key_id="", key=None) == plain
    keyed = seal(None, event, key_id="k1", key=KEY)
    assert keyed.digest != plain.digest
    assert seal(None, event, key_id="k1", key=bytes(32)).digest != keyed.digest
    # The key's name is covered too.
    assert seal(None, event, key_id="k2", key=KEY).digest != keyed.digest


def test_sealing_after_another_chains_head_is_refused():
    head = seal(None, _event(establishment_id="annexe"), key_id="", key=None).head
    with pytest.raises(InvalidConfiguration):
        seal(head, _event(), key_id="", key=None)


def test_digests_do_not_show_in_reprs_as_bytes():
    record = seal(None, _event(), key_id="", key=None)
    assert record.digest.hex() in repr(record)
    assert record.digest.hex() in repr(record.head)


# -- verification -------------------------------------------------------------------------------


def test_an_empty_chain_is_intact_unless_a_head_was_anchored():
    verified = verify_chain([], chain=EST)
    assert (verified.intact, verified.checked, verified.head) == (True, 0, None)
    records = _chain([_event()])
    truncated = verify_chain([], chain=EST, anchor=records[0].head)
    assert (truncated.broken_at, truncated.problem) == (1, ChainProblem.TRUNCATED)


def test_a_chain_verified_as_another_is_the_wrong_chain():
    records = _chain([_event(n) for n in range(2)])
    verified = verify_chain(records, chain="annexe")
    assert (verified.broken_at, verified.problem, verified.checked) == (
        1,
        ChainProblem.WRONG_CHAIN,
        0,
    )


def test_a_keyed_chain_verifies_with_its_key_only():
    records = _chain([_event(n) for n in range(3)], key_id="k1", key=KEY)
    assert verify_chain(records, chain=EST, key=_lookup).intact
    for key in (None, lambda _id: bytes(32)):
        verified = verify_chain(records, chain=EST, key=key)
        assert verified.broken_at == 1
    assert verify_chain(records, chain=EST).problem is ChainProblem.UNKNOWN_KEY
    assert verify_chain(records, chain=EST, key=lambda _id: bytes(32)).problem is (
        ChainProblem.EDITED
    )


def test_an_anchored_head_that_differs_is_a_head_mismatch():
    records = _chain([_event(n) for n in range(3)])
    other = _chain([_event(n) for n in (0, 1, 7)])
    verified = verify_chain(records, chain=EST, anchor=other[-1].head)
    assert (verified.broken_at, verified.problem) == (3, ChainProblem.HEAD_MISMATCH)
    assert verify_chain(records, chain=EST, anchor=records[1].head).intact  # an older head


def test_verification_reads_lazily_and_stops_at_the_first_broken_link():
    records = _chain([_event(n) for n in range(5)])
    records[1] = attrs.evolve(records[1], event=_event(99))
    read: list[int] = []

    def lazily() -> Iterator[AuditRecord]:
        for record in records:
            read.append(record.seq)
            yield record

    verified = verify_chain(lazily(), chain=EST)
    assert (verified.broken_at, verified.problem) == (2, ChainProblem.EDITED)
    assert read == [1, 2]
    assert verified.head == records[0].head


def test_audit_key_and_key_lookup_of_a_provider_or_none():
    assert audit_key(None) == ("", None)
    assert key_lookup(None) is None
    keys = StaticKeyProvider({AUDIT_KEY_PURPOSE: {"k1": KEY}, "pin": {"p1": bytes(32)}})
    assert audit_key(keys) == ("k1", KEY)
    lookup = key_lookup(keys)
    assert lookup is not None
    assert lookup("k1") == KEY
    with pytest.raises(UnknownKey):
        lookup("p1")  # another purpose's key


# -- the property: any single change is found where it is ------------------------------------


def _changed(event: AuditEvent, field: str) -> AuditEvent:
    """``event`` with ``field`` set to another value."""
    if field == "actor":
        return attrs.evolve(event, actor=None if event.actor else UserId("u-other"))
    if field == "at":
        return attrs.evolve(event, at=event.at + timedelta(microseconds=1))
    if field == "outcome":
        flipped = Outcome.REFUSED if event.succeeded else Outcome.SUCCEEDED
        return attrs.evolve(event, outcome=flipped)
    if field == "details":
        return attrs.evolve(event, details={**event.detail, "added": True})
    return attrs.evolve(event, action=event.action + "!")


events = st.builds(
    _event,
    n=st.integers(0, 10_000),
    actor=st.sampled_from((None, UserId("u-dupont"), UserId("u-martin"))),
    outcome=st.sampled_from(Outcome),
    details=st.dictionaries(
        st.sampled_from("abc"), st.none() | st.booleans() | st.integers() | st.text(max_size=5)
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    chain=st.lists(events, min_size=1, max_size=12),
    keyed=st.booleans(),
    change=st.sampled_from(("edit", "remove", "exchange", "exchange positions", "repeat")),
    field=st.sampled_from(("action", "actor", "at", "outcome", "details")),
    data=st.data(),
)
def test_any_single_change_is_found_at_its_position(chain, keyed, change, field, data):
    key_id, key = ("k1", KEY) if keyed else ("", None)
    records = _chain(chain, key_id=key_id, key=key)
    lookup = _lookup if keyed else None
    anchor = records[-1].head
    assert verify_chain(records, chain=EST, key=lookup, anchor=anchor).intact

    n = len(records)
    last = n - 1 if change.startswith("exchange") else n
    if last < 1:
        return  # nothing to exchange in a chain of one
    k = data.draw(st.integers(1, last), label="position")
    tampered = list(records)
    if change == "edit":
        tampered[k - 1] = attrs.evolve(records[k - 1], event=_changed(records[k - 1].event, field))
        expected = (k, ChainProblem.EDITED)
    elif change == "remove":
        del tampered[k - 1]
        expected = (k, ChainProblem.TRUNCATED if k == n else ChainProblem.MISSING)
    elif change == "exchange":  # the order of two records, their positions kept
        tampered[k - 1], tampered[k] = records[k], records[k - 1]
        expected = (k, ChainProblem.MISSING)
    elif change == "exchange positions":  # their positions exchanged, so the order holds
        tampered[k - 1] = attrs.evolve(records[k], seq=k)
        tampered[k] = attrs.evolve(records[k - 1], seq=k + 1)
        expected = (k, ChainProblem.EDITED)
    else:  # a record repeated right after itself: named by its (already checked) position
        tampered.insert(k, records[k - 1])
        expected = (k, ChainProblem.REORDERED)
    checked = k if change == "repeat" else k - 1

    verified = verify_chain(tampered, chain=EST, key=lookup, anchor=anchor)
    assert (verified.broken_at, verified.problem) == expected
    assert verified.checked == checked
    assert verified.head == (records[checked - 1].head if checked else None)
