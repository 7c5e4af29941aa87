"""Bad input to the profile service is answered with coded errors and changes nothing.

Each public method of ProfileService gets, for one argument at a time, what a careless caller
or a forged form might send: hostile text (controls, bidi overrides, NUL, lone surrogates,
emoji, very long strings), None, huge numbers, bytes, nested mappings and lists, objects.
Whatever happens, only a PracticeIdError may come out, and a refusal leaves the store as it
was (A7, B1-B6, C7). No error repeats a NISS or a password it was given.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid import (
    EstablishmentId,
    PracticeIdError,
    ProductKind,
    ProfileService,
    Rejected,
)
from practiceid.adapters import InMemoryStore
from practiceid.policies.identifiers import niss
from practiceid.testing import (
    ManualClock,
    sample_certificate,
    sample_inami,
    sample_png,
    sample_practice,
    sample_workplace,
)
from practiceid.testing.strategies import niss_numbers

CABINET = EstablishmentId("cabinet")
IBAN = "BE14 0631 2345 6783"  # made up, valid
BCE = "0987.654.394"  # made up, valid
NISS = "85.07.30-033.28"  # made up, valid check digits
PASSWORD = "changeit"
_NOW = ManualClock().now()
_GP_INAMI = sample_inami("003")
_TRAINEE_INAMI = sample_inami("005")
# Built once: generating a key and a keystore takes longer than a whole example.
KEYSTORE = sample_certificate(
    nihii=_GP_INAMI, not_before=datetime(2025, 6, 1, tzinfo=UTC), password=PASSWORD
)
PEM = sample_certificate(not_before=datetime(2025, 6, 1, tzinfo=UTC), password=None)
_BIG = b"\x89PNG\r\n\x1a\n" + b"\x00" * (600 * 1024)

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        "   ",
        "\x00",
        "Dupont\x00",
        "\u202eelif.exe",
        "Jean\u200bDupont",
        "\ud800",
        "nom\ud800",
        "👩‍⚕️🏥",
        "\n\r\t",
        "x" * 5_000,
        "9" * 5_000,
        "Ｊｅａｎ",
        "Robert'); DROP TABLE users;--",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "%s%s%n",
        "+32 81 22 33 44",
        "1-23456-25-005",
        NISS,
    ]
) | st.text(max_size=30)

junk = st.one_of(
    HOSTILE_TEXT,
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**100, -(2**63), 2**64, 0]),
    st.floats(allow_nan=True),
    st.binary(max_size=16),
    st.sampled_from([b"", b"\x00", b"\xff\xd8\xff", _BIG, bytearray(b"abc")]),
    st.lists(st.text(max_size=6), max_size=3),
    st.lists(st.lists(st.integers(), max_size=2), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=6), st.integers() | st.none(), max_size=2),
    st.sets(st.integers(), max_size=3),
    st.sampled_from(
        [
            object(),
            [{"a": 1}],
            {"a": {"b": [1, {"c": None}]}},
            {1: 2, None: "x"},
            {"inami": 12345625005, "niss": ["1"]},
            {"passport": "123"},
            {"street": None, "postal_code": 5000, "city": b"Namur", "phone": 81223344},
            [{"kind": "spaceship", "street": "\x00", "postal_code": "0000", "city": ""}],
            [sample_workplace(phone="\u202e0812233")],
            [sample_workplace()] * 11,
            [None, 1, "a"],
            {"100": "BE00", "999": IBAN},
            (),
            frozenset(),
            ProductKind.DENTAL,
        ]
    ),
)


def _world() -> tuple[InMemoryStore, ProfileService, dict[str, dict[str, Any]]]:
    """A practice with an administrator, two recognised GPs and a trainee of the first."""
    practice = sample_practice(establishment_id=CABINET)
    store, profiles, owner = practice.store, practice.profiles, practice.owner
    gp, gp2, trainee = (
        practice.member(name, "Exemple", "physician") for name in ("Camille", "Sam", "Noa")
    )
    for user_id, number in ((gp, _GP_INAMI), (gp2, sample_inami("004"))):
        profiles.save_practitioner(
            actor=owner.id,
            establishment_id=CABINET,
            user_id=user_id,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": number},
            addresses=[sample_workplace()],
        )
    profiles.save_billing(
        actor=owner.id,
        user_id=gp,
        company_name="SRL Exemple",
        enterprise_number=BCE,
        iban_number=IBAN,
    )
    profiles.save_practitioner(
        actor=owner.id,
        establishment_id=CABINET,
        user_id=trainee,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": _TRAINEE_INAMI},
        addresses=[sample_workplace()],
        supervisor=gp,
    )
    profiles.save_establishment_profile(
        actor=owner.id,
        establishment_id=CABINET,
        name="Cabinet",
        street="Rue de l'Exemple 1",
        postal_code="5000",
        city="Namur",
        country="BE",
    )
    actor = {"actor": owner.id}
    here = {"actor": owner.id, "establishment_id": CABINET}
    valid: dict[str, dict[str, Any]] = {
        "practitioner": {**actor, "user_id": gp},
        "establishment_profile": here,
        "report_header": here,
        "billing_identity": {**here, "user_id": trainee},
        "pays_license": {"establishment_id": CABINET, "user_id": gp},
        "trainees": {**here, "supervisor": gp},
        "rename": {
            **actor,
            "user_id": gp,
            "first_name": "Camille",
            "last_name": "Exemplaire",
            "job_title": "Médecin généraliste",
        },
        "set_initials": {**here, "user_id": gp, "initials": "CEx"},
        "save_practitioner": {
            **here,
            "user_id": trainee,
            "profession": "general_practitioner",
            "country": "BE",
            "identifiers": {"inami": _TRAINEE_INAMI, "niss": NISS},
            "addresses": [sample_workplace(), sample_workplace(kind="home", phone=None)],
            "supervisor": gp2,
            "supervisors": {CABINET: gp2},
        },
        "set_supervisor": {**here, "trainee": trainee, "supervisor": gp2},
        "hand_over_trainees": {**here, "supervisor": gp, "new_supervisor": gp2},
        "set_hub_region": {**actor, "user_id": gp, "region": "wallonia"},
        "register_ehealth_certificate": {
            **actor,
            "user_id": gp,
            "certificate": KEYSTORE,
            "password": PASSWORD,
            "fetch_messages": True,
        },
        "register_edmg": {**actor, "user_id": gp, "accounts": IBAN, "accept_terms": True},
        "save_billing": {
            **actor,
            "user_id": gp,
            "company_name": "SRL Cabinet Exemple",
            "enterprise_number": BCE,
            "conventioned": True,
            "iban_number": IBAN,
        },
        "save_establishment_profile": {
            **here,
            "name": "Cabinet du Parc",
            "street": "Rue du Parc 1",
            "postal_code": "5000",
            "city": "Namur",
            "country": "BE",
            "phone": "081 22 33 44",
            "email": "accueil@cabinet-exemple.be",
            "inami_number": "7-12345-23-000",
            "finess_number": None,
            "enterprise_number": BCE,
        },
        "set_logo": {**here, "logo": sample_png()},
        "set_trainee_account": {**here, "iban_number": IBAN},
    }
    return store, profiles, valid


_VALID_NAMES = _world()[2]
CASES = [(method, argument) for method, kwargs in _VALID_NAMES.items() for argument in kwargs]


def test_every_public_method_is_covered():
    public = {
        name
        for name in dir(ProfileService)
        if not name.startswith("_") and callable(getattr(ProfileService, name))
    }
    assert public == set(_VALID_NAMES)


def test_the_valid_calls_are_accepted():
    # The baseline: each case below changes one argument of a call that works.
    _, profiles, valid = _world()
    for method, kwargs in valid.items():
        getattr(profiles, method)(**kwargs)


def _snapshot(store: InMemoryStore) -> dict[str, object]:
    return {
        name: copy.copy(getattr(store, name))
        for name in (
            "_users",
            "_organisations",
            "_establishments",
            "_memberships",
            "_initials",
            "_practitioners",
            "_identity_keys",
            "_profiles",
        )
    }


@pytest.mark.parametrize(("method", "argument"), CASES)
@settings(max_examples=15)
@given(value=junk)
def test_bad_input_raises_only_coded_errors_and_changes_nothing(
    method: str, argument: str, value: object
):
    store, profiles, valid = _world()
    kwargs = {**valid[method], argument: value}
    call: Callable[..., object] = getattr(profiles, method)
    before = _snapshot(store)
    try:
        call(**kwargs)
    except PracticeIdError:
        assert _snapshot(store) == before


HOSTILE_VALUES: list[object] = [
    None,
    "",
    " \t ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\u202eelif.exe",
    "👩‍⚕️🏥",
    "x" * 5_000,
    "9" * 5_000,
    True,
    0,
    -1,
    10**100,
    float("nan"),
    float("inf"),
    b"",
    b"\x00",
    b"\xff\xd8\xff",
    _BIG,
    bytearray(b"abc"),
    memoryview(b"abc"),
    [],
    [None],
    [{"a": 1}],
    {},
    {"a": {"b": [1, {"c": None}]}},
    {1: 2, None: "x"},
    {"inami": 12345625005, "niss": ["1"]},
    {"niss": "9" * 5_000},
    {"inami": "9" * 5_000, "rpps": "9" * 5_000, "adeli": "9" * 5_000},
    [sample_workplace(country=None, postal_code="\x00")],
    [sample_workplace()] * 11,
    {"100": "BE00", "999": IBAN},
    {"street": None},
    set(),
    object(),
    Exception("boom"),
    ProductKind.DENTAL,
]


@pytest.mark.parametrize(("method", "argument"), CASES)
def test_hostile_values_raise_only_coded_errors_and_change_nothing(method: str, argument: str):
    store, profiles, valid = _world()
    crashes = []
    for value in HOSTILE_VALUES:
        before = _snapshot(store)
        try:
            getattr(profiles, method)(**{**valid[method], argument: value})
        except PracticeIdError:
            assert _snapshot(store) == before, value
        except BaseException as error:  # a Rust panic (pyo3) is no Exception
            if isinstance(error, KeyboardInterrupt):
                raise
            crashes.append((repr(value)[:40], type(error).__name__))
        else:
            store, profiles, valid = _world()
    assert crashes == []


# -- no NISS, no password in errors ----------------------------------------------------------------


def _rendered(error: PracticeIdError) -> str:
    """Everything an error would put in a log or an API answer."""
    parts = [str(error), repr(error), error.message, repr(dict(error.params))]
    parts.append(json.dumps(error.to_dict(), default=repr, ensure_ascii=False))
    if isinstance(error, Rejected):
        parts += [repr(v) for v in error.violations]
    return "\n".join(parts)


_TEXT_ARGUMENTS = {
    "rename": ("first_name", "last_name", "job_title"),
    "set_initials": ("initials",),
    "save_practitioner": ("profession", "country"),
    "set_hub_region": ("region",),
    "register_edmg": ("accounts",),
    "save_billing": ("company_name", "enterprise_number", "iban_number"),
    "save_establishment_profile": (
        "name",
        "street",
        "postal_code",
        "city",
        "country",
        "phone",
        "email",
        "inami_number",
        "finess_number",
        "enterprise_number",
    ),
    "set_trainee_account": ("iban_number",),
}
_NISS_CASES = [
    (method, argument) for method, arguments in _TEXT_ARGUMENTS.items() for argument in arguments
]


def _placements(number: str, written: str) -> list[object]:
    return [
        number,
        written,
        f"{written}\x00",
        f"NISS {written}",
        written * 3,
    ]


@pytest.mark.parametrize(("method", "argument"), _NISS_CASES)
@settings(max_examples=10)
@given(data=st.data())
def test_no_error_repeats_a_niss_typed_into_a_text_field(method: str, argument: str, data):
    written = data.draw(niss_numbers(written=True))
    number = niss.compact(written)
    _, profiles, valid = _world()
    for value in _placements(number, written):
        try:
            getattr(profiles, method)(**{**valid[method], argument: value})
        except PracticeIdError as error:
            rendered = _rendered(error)
            assert number not in rendered
            assert written.strip() not in rendered


@settings(max_examples=20)
@given(written=niss_numbers(written=True), data=st.data())
def test_no_error_repeats_a_niss_given_as_an_identifier_or_an_address_field(written, data):
    number = niss.compact(written)
    wrong = data.draw(niss_numbers().filter(lambda n: n != number))  # a valid one, refused as
    _, profiles, valid = _world()
    base = valid["save_practitioner"]
    forms = [
        {"identifiers": {"inami": written, "rpps": number, "adeli": written}},
        {"identifiers": {"niss": number[:-1] + str((int(number[-1]) + 1) % 10)}},
        {"identifiers": {"niss": written + "0"}},
        {"identifiers": {"niss": wrong}, "profession": "astronaut"},
        {"addresses": [sample_workplace(phone=written, postal_code=number, email=written)]},
        {"addresses": [sample_workplace(street=written + "\x00", city=number * 20)]},
        {"identifiers": written, "addresses": written},
        {"country": written, "addresses": [sample_workplace(country=None)]},
    ]
    leaks = []
    for index, changes in enumerate(forms):
        try:
            profiles.save_practitioner(**{**base, **changes})
        except PracticeIdError as error:
            rendered = _rendered(error)
            leaks += [index for secret in (number, written.strip(), wrong) if secret in rendered]
    assert leaks == []


_SECRETS = st.text(min_size=6, max_size=30).filter(lambda s: s.strip() and s != PASSWORD)


@settings(max_examples=30)
@given(password=_SECRETS | st.sampled_from(["mot de passe\ud800", "\x00" * 8, "🔑" * 8]))
def test_no_error_repeats_the_certificate_password(password: str):
    # B5: the password opens the keystore and is dropped, even when it is wrong
    _, profiles, valid = _world()
    for certificate in (KEYSTORE, PEM, b"not a keystore", b""):
        try:
            profiles.register_ehealth_certificate(
                **{
                    **valid["register_ehealth_certificate"],
                    "certificate": certificate,
                    "password": password,
                }
            )
        except PracticeIdError as error:
            assert password not in _rendered(error)


# -- the smallest cases of the above ---------------------------------------------------------------


@pytest.mark.parametrize("password", ["a\x00b", "\x00", "mot\ud800", b"a\x00b"])
def test_a_certificate_password_with_a_nul_or_a_lone_surrogate_is_refused_with_a_code(password):
    # B5: answered like any wrong password, without repeating it
    _, profiles, valid = _world()
    with pytest.raises(Rejected) as caught:
        profiles.register_ehealth_certificate(
            **{**valid["register_ehealth_certificate"], "password": password}
        )
    assert caught.value.codes == ("ehealth.certificate_unreadable",)


@pytest.mark.parametrize(
    ("method", "changes"),
    [
        ("save_billing", {"enterprise_number": "9" * 5_000}),
        ("save_establishment_profile", {"enterprise_number": "9" * 5_000}),
        ("save_practitioner", {"identifiers": {"niss": "9" * 5_000}}),
    ],
)
def test_a_number_of_thousands_of_digits_is_refused_with_a_code(method, changes):
    store, profiles, valid = _world()
    before = _snapshot(store)
    with pytest.raises(Rejected):
        getattr(profiles, method)(**{**valid[method], **changes})
    assert _snapshot(store) == before


def test_a_refused_country_is_not_repeated_in_the_errors_of_other_fields():
    # A NISS typed into the country field must not reach the phone's violation params.
    _, profiles, valid = _world()
    with pytest.raises(Rejected) as caught:
        profiles.save_establishment_profile(
            **{**valid["save_establishment_profile"], "country": NISS}
        )
    assert niss.compact(NISS) not in _rendered(caught.value)
    assert NISS not in _rendered(caught.value)
