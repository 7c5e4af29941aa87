"""FHIR R4 ``Identifier`` output and input for every identifier kind (B2, B3, B4, B6).

Systems and type codes come from hl7-be/ehealth-be-core (Belgium) and Interop-Santé FR Core
(France); see ``/work/shared/domain/IDENTIFIERS.md``. Output always uses the preferred system;
input also accepts the legacy Belgian URIs (without ``/core/``) and the OIDs.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid.errors import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidIdentifier
from practiceid.policies.identifiers import (
    MODULES,
    BelgianIban,
    Coding,
    FhirIdentifier,
    FinessKind,
    IdnpsKind,
    IdnpsNumber,
    adeli,
    bce,
    fhir,
    finess,
    from_fhir,
    idnps,
    inami,
    niss,
    rpps,
)
from practiceid.testing.strategies import niss_numbers, valid_identifiers

BE = "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/"
BE_LEGACY = "https://www.ehealth.fgov.be/standards/fhir/NamingSystem/"
FR_TYPES = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
FHIR_KINDS = sorted(set(MODULES) - {"iban"})  # a bank account has no FHIR Identifier form


def parse(kind, number, finess_kind=None):
    if kind == "finess":
        return finess.parse(number, kind=finess_kind)
    return MODULES[kind].parse(number)


# --- Systems --------------------------------------------------------------------------------


def test_system_constants_are_the_documented_uris():
    assert fhir.BE_NIHDI == BE + "nihdi"
    assert fhir.BE_NIHDI_PROFESSIONAL == BE + "nihdi-professional"
    assert fhir.BE_NIHDI_ORGANIZATION == BE + "nihdi-organization"
    assert fhir.BE_SSIN == BE + "ssin"
    assert fhir.BE_CBE == BE + "cbe"
    assert fhir.FR_IDNPS == "urn:oid:1.2.250.1.71.4.2.1"
    assert fhir.FR_RPPS == "https://rpps.esante.gouv.fr"
    assert fhir.FR_FINESS == "https://finess.esante.gouv.fr"
    assert fhir.FR_IDENTIFIER_TYPES == FR_TYPES


# --- Output: to_fhir() ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "number", "system", "value", "type_code"),
    [
        # B2, B4: a GP trainee (mod 97) and a GP (mod 89) are professionals.
        ("inami", "1-23456-25-005", BE + "nihdi-professional", "12345625005", None),
        ("inami", "1.23456.76.003", BE + "nihdi-professional", "12345676003", None),
        ("inami", "3-23456-39-000", BE + "nihdi-professional", "32345639000", None),
        ("inami", "1-23456-25", BE + "nihdi-professional", "12345625", None),  # short form
        # First digit 7 (care institution) and 8 (clinical laboratory) are organisations.
        ("inami", "7-23456-67-000", BE + "nihdi-organization", "72345667000", None),
        ("inami", "8-23456-74-000", BE + "nihdi-organization", "82345674000", None),
        ("inami", "7-23456-67", BE + "nihdi-organization", "72345667", None),
        ("niss", "85.07.30-033 28", BE + "ssin", "85073003328", None),
        ("niss", "98.47.28-997.65", BE + "ssin", "98472899765", None),  # BIS
        ("bce", "BE 0403.019.261", BE + "cbe", "0403019261", None),
        ("bce", "403019261", BE + "cbe", "0403019261", None),
        ("rpps", "100 0123 4565", "https://rpps.esante.gouv.fr", "10001234565", "RPPS"),
        ("idnps", "810001234565", "urn:oid:1.2.250.1.71.4.2.1", "810001234565", "IDNPS"),
        ("idnps", "10001234565", "urn:oid:1.2.250.1.71.4.2.1", "810001234565", "IDNPS"),
        ("idnps", "3 12345678900017/sec-042", "urn:oid:1.2.250.1.71.4.2.1", None, "IDNPS"),
        # FR Core carries an ADELI number as an IDNPS: 0 + ADELI.
        ("adeli", "75 10 0123 1", "urn:oid:1.2.250.1.71.4.2.1", "0751001231", "IDNPS"),
        ("finess", "75 023456 9", "https://finess.esante.gouv.fr", "750234569", None),
    ],
)
def test_every_kind_renders_its_fhir_system_value_and_type(kind, number, system, value, type_code):
    identifier = parse(kind, number).to_fhir()
    assert isinstance(identifier, FhirIdentifier)
    assert identifier.system == system
    assert identifier.value == (value or parse(kind, number).number)
    if type_code is None:
        assert identifier.type is None
        assert "type" not in identifier.to_dict()
    else:
        assert identifier.type == Coding(FR_TYPES, type_code)


def test_structure_based_idnps_keeps_its_local_identifier_in_the_value():
    identifier = idnps.parse("3 12345678900017/sec-042").to_fhir()
    assert identifier.value == "312345678900017/sec-042"


@pytest.mark.parametrize(
    ("finess_kind", "code"), [(FinessKind.EJ, "FINEJ"), (FinessKind.EG, "FINEG")]
)
def test_finess_carries_a_type_only_when_the_host_gives_its_kind(finess_kind, code):
    typed = finess.parse("750234569", kind=finess_kind).to_fhir()
    assert typed.type == Coding(FR_TYPES, code)
    assert typed.to_dict()["type"] == {"coding": [{"system": FR_TYPES, "code": code}]}
    assert finess.parse("750234569").to_fhir().type is None


def test_corsican_finess_and_adeli_render_although_their_key_is_not_verified():
    assert finess.parse("2A1234567").to_fhir().value == "2A1234567"
    assert adeli.parse("2b1001234").to_fhir().value == "02B1001234"


def test_a_belgian_iban_has_no_fhir_form():
    assert not hasattr(BelgianIban, "to_fhir")


def test_to_dict_is_fhir_json_with_type_first_and_no_null_members():
    data = rpps.parse("10001234565").to_fhir().to_dict()
    assert data == {
        "type": {"coding": [{"system": FR_TYPES, "code": "RPPS"}]},
        "system": "https://rpps.esante.gouv.fr",
        "value": "10001234565",
    }
    assert list(data) == ["type", "system", "value"]
    assert bce.parse("0403019261").to_fhir().to_dict() == {
        "system": BE + "cbe",
        "value": "0403019261",
    }


def test_coding_display_appears_only_when_set():
    assert Coding("s", "c").to_dict() == {"system": "s", "code": "c"}
    assert Coding("s", "c", "shown").to_dict() == {"system": "s", "code": "c", "display": "shown"}


@given(valid_identifiers(FHIR_KINDS, written=True), st.sampled_from([None, *FinessKind]))
def test_to_dict_survives_json_dumps_and_loads(pair, finess_kind):
    kind, number = pair
    data = parse(kind, number, finess_kind).to_fhir().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert all(isinstance(data[name], str) and data[name] for name in ("system", "value"))


def test_a_niss_fhir_identifier_hides_its_value_from_repr_b2():
    identifier = niss.parse("85.07.30-033 28").to_fhir()
    assert identifier.value == "85073003328"  # the value itself is there for the host to send
    assert "85073003328" not in repr(identifier)
    assert "85073003328" not in repr(from_fhir(identifier.to_dict()))
    assert "0403019261" in repr(bce.parse("0403019261").to_fhir())  # not personal data


@given(niss_numbers(written=True))
def test_no_niss_fhir_identifier_repr_contains_the_number(number):
    identifier = niss.parse(number).to_fhir()
    assert identifier.value not in repr(identifier)
    assert identifier.value not in repr(FhirIdentifier.from_dict(identifier.to_dict()))


# --- Round trip -----------------------------------------------------------------------------


@given(valid_identifiers(FHIR_KINDS, written=True), st.sampled_from([None, *FinessKind]))
def test_from_fhir_reads_back_what_to_fhir_wrote_for_every_kind(pair, finess_kind):
    kind, number = pair
    parsed = parse(kind, number, finess_kind)
    data = json.loads(json.dumps(parsed.to_fhir().to_dict()))
    back = from_fhir(data)
    if kind == "adeli":
        # FR Core has no ADELI system: it comes back as the IDNPS 0 + ADELI.
        assert back == IdnpsNumber("0" + parsed.number, IdnpsKind.ADELI)
        assert back.national_id == parsed.number
    else:
        assert back == parsed
        assert type(back) is type(parsed)
    assert back.to_fhir() == parsed.to_fhir()
    assert from_fhir(parsed.to_fhir()) == back  # a FhirIdentifier is read as well


def test_from_fhir_decodes_a_gp_trainee_from_a_legacy_nihdi_identifier_b4():
    number = from_fhir({"system": BE_LEGACY + "nihdi", "value": "12345625005"})
    assert number == inami.parse("1-23456-25-005")
    assert number.requires_supervisor


def test_from_fhir_reads_the_finess_kind_from_the_type_coding():
    data = finess.parse("750234569", kind=FinessKind.EJ).to_fhir().to_dict()
    assert from_fhir(data).kind is FinessKind.EJ
    data["type"] = {"coding": [{"system": FR_TYPES, "code": "SOMETHING-ELSE"}]}
    assert from_fhir(data).kind is None
    del data["type"]
    assert from_fhir(data).kind is None


def test_from_fhir_refuses_an_invalid_value_with_the_modules_own_error():
    with pytest.raises(InvalidChecksum) as raised:
        from_fhir({"system": BE + "nihdi-professional", "value": "12345678901"})
    assert raised.value.kind == "inami"
    with pytest.raises(InvalidChecksum) as raised:
        from_fhir({"system": BE + "ssin", "value": "85073003329"})
    assert raised.value.kind == "niss"


# --- Legacy systems -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "value", "preferred"),
    [
        (BE_LEGACY + "nihdi", "12345625005", BE + "nihdi-professional"),
        (BE_LEGACY + "nihdi", "72345667000", BE + "nihdi-organization"),
        (BE + "nihdi", "12345625005", BE + "nihdi-professional"),
        (BE_LEGACY + "nihdi-professional", "12345625005", BE + "nihdi-professional"),
        (BE_LEGACY + "nihdi-organization", "82345674000", BE + "nihdi-organization"),
        (BE_LEGACY + "ssin", "85073003328", BE + "ssin"),
        (BE_LEGACY + "cbe", "0403019261", BE + "cbe"),
        ("urn:oid:2.16.840.1.113883.3.6777.5.2", "12345625005", BE + "nihdi-professional"),
        ("urn:oid:2.16.840.1.113883.3.6777.5.1", "98472899765", BE + "ssin"),
        ("urn:oid:2.16.840.1.113883.3.6777.5.5", "0403019261", BE + "cbe"),
        (BE_LEGACY + "cbe/", "0403019261", BE + "cbe"),  # a trailing slash
        (" " + BE + "ssin ", "85073003328", BE + "ssin"),  # spaces around
    ],
)
def test_legacy_belgian_uris_and_oids_are_accepted_and_emitted_in_the_preferred_form(
    system, value, preferred
):
    parsed = from_fhir({"system": system, "value": value})
    assert parsed.to_fhir().system == preferred
    assert parsed.to_fhir().value == value


@pytest.mark.parametrize(("legacy", "preferred"), sorted(fhir.SYSTEM_ALIASES.items()))
def test_every_alias_maps_to_a_preferred_core_system(legacy, preferred):
    assert fhir.preferred_system(legacy) == preferred
    assert preferred.startswith(BE)
    assert FhirIdentifier.from_dict({"system": legacy, "value": "x"}).system == preferred


def test_preferred_systems_are_left_unchanged():
    for system in (fhir.BE_CBE, fhir.BE_SSIN, fhir.FR_IDNPS, fhir.FR_RPPS, fhir.FR_FINESS):
        assert fhir.preferred_system(system) == system


# --- Unknown systems ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system",
    [
        "urn:oid:1.2.250.1.71.4.2.2",  # IDNST: a structure, not parsed by practiceid
        "http://rpps.esante.gouv.fr",  # FHIR systems are exact URIs
        "HTTPS://RPPS.ESANTE.GOUV.FR",
        "https://example.org/ids",
        BE + "unknown",
    ],
)
def test_an_unknown_system_is_an_invalid_component_named_system(system):
    with pytest.raises(InvalidComponent) as raised:
        from_fhir({"system": system, "value": "10001234565"})
    assert raised.value.code == "identifier.invalid_component"
    assert raised.value.params["component"] == "system"
    assert raised.value.kind == "fhir"


def test_an_unknown_system_is_refused_also_from_a_fhir_identifier_value():
    with pytest.raises(InvalidComponent) as raised:
        from_fhir(FhirIdentifier("https://example.org/ids", "1"))
    assert raised.value.params["component"] == "system"


# --- Malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, "not_an_object"),
        ("https://rpps.esante.gouv.fr|10001234565", "not_an_object"),
        (["system", "value"], "not_an_object"),
        ([{"system": fhir.FR_RPPS, "value": "10001234565"}], "not_an_object"),
        (42, "not_an_object"),
        (b"{}", "not_an_object"),
        ({}, "missing_system"),
        ({"value": "10001234565"}, "missing_system"),
        ({"system": "", "value": "10001234565"}, "missing_system"),
        ({"system": " \t\n", "value": "10001234565"}, "missing_system"),
        ({"system": None, "value": "10001234565"}, "missing_system"),
        ({"system": 1, "value": "10001234565"}, "missing_system"),
        ({"system": [fhir.FR_RPPS], "value": "10001234565"}, "missing_system"),
        ({"system": {"uri": fhir.FR_RPPS}, "value": "10001234565"}, "missing_system"),
        ({"system": fhir.FR_RPPS}, "missing_value"),
        ({"system": fhir.FR_RPPS, "value": ""}, "missing_value"),
        ({"system": fhir.FR_RPPS, "value": "   "}, "missing_value"),
        ({"system": fhir.FR_RPPS, "value": None}, "missing_value"),
        ({"system": fhir.FR_RPPS, "value": 10001234565}, "missing_value"),
        ({"system": fhir.FR_RPPS, "value": 1.5}, "missing_value"),
        ({"system": fhir.FR_RPPS, "value": ["10001234565"]}, "missing_value"),
    ],
)
def test_malformed_identifiers_are_invalid_format_of_kind_fhir(data, reason):
    for read in (FhirIdentifier.from_dict, from_fhir):
        with pytest.raises(InvalidFormat) as raised:
            read(data)
        assert type(raised.value) is InvalidFormat
        assert raised.value.kind == "fhir"
        assert raised.value.params["reason"] == reason


@pytest.mark.parametrize(
    "type_",
    [
        None,
        "RPPS",
        ["RPPS"],
        42,
        {},
        {"coding": None},
        {"coding": "RPPS"},
        {"coding": {"system": FR_TYPES, "code": "RPPS"}},
        {"coding": []},
        {"coding": [None]},
        {"coding": ["RPPS"]},
        {"coding": [{}]},
        {"coding": [{"system": FR_TYPES}]},
        {"coding": [{"code": "RPPS"}]},
        {"coding": [{"system": FR_TYPES, "code": 1}]},
        {"coding": [{"system": None, "code": "RPPS"}]},
        {"text": "RPPS"},
    ],
)
def test_a_type_of_unexpected_shape_is_ignored(type_):
    data = {"system": fhir.FR_RPPS, "value": "10001234565", "type": type_}
    assert FhirIdentifier.from_dict(data) == FhirIdentifier(fhir.FR_RPPS, "10001234565")
    assert from_fhir(data) == rpps.parse("10001234565")


def test_the_first_coding_is_kept_with_a_text_display_only():
    codings = [
        {"system": FR_TYPES, "code": "FINEG", "display": 7},
        {"system": FR_TYPES, "code": "FINEJ"},
    ]
    data = {"system": fhir.FR_FINESS, "value": "750234569", "type": {"coding": codings}}
    assert FhirIdentifier.from_dict(data).type == Coding(FR_TYPES, "FINEG")
    codings[0]["display"] = "établissement"
    assert FhirIdentifier.from_dict(data).type == Coding(FR_TYPES, "FINEG", "établissement")
    assert from_fhir(data).kind is FinessKind.EG


def test_from_dict_accepts_extra_members_and_keeps_the_value_as_given():
    data = {"use": "official", "system": fhir.FR_RPPS, "value": " 100 0123 4565 ", "period": {}}
    assert FhirIdentifier.from_dict(data) == FhirIdentifier(fhir.FR_RPPS, " 100 0123 4565 ")
    assert from_fhir(data).number == "10001234565"


def test_a_system_of_only_slashes_is_a_missing_system():
    with pytest.raises(InvalidFormat) as raised:
        FhirIdentifier.from_dict({"system": "///", "value": "10001234565"})
    assert raised.value.params["reason"] == "missing_system"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
SYSTEMS = st.sampled_from(
    [*fhir.SYSTEM_ALIASES, fhir.BE_SSIN, fhir.BE_CBE, fhir.FR_IDNPS, fhir.FR_RPPS, fhir.FR_FINESS]
)
IDENTIFIER_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "system": JSON | SYSTEMS,
        "value": JSON | st.text("0123456789 -./ABab", max_size=16),
        "type": JSON
        | st.fixed_dictionaries(
            {"coding": st.lists(st.dictionaries(st.sampled_from(["system", "code"]), JSON))}
        ),
    },
)


@given(JSON | IDENTIFIER_LIKE)
def test_from_dict_answers_any_json_with_an_identifier_or_invalid_format(data):
    try:
        identifier = FhirIdentifier.from_dict(data)
    except InvalidFormat as error:
        assert type(error) is InvalidFormat
        assert error.kind == "fhir"
        return
    assert isinstance(identifier.system, str)
    assert isinstance(identifier.value, str)
    assert identifier.value.strip()
    assert identifier.type is None or isinstance(identifier.type, Coding)


@given(JSON | IDENTIFIER_LIKE)
def test_from_fhir_answers_any_json_with_a_number_or_an_invalid_identifier(data):
    try:
        parsed = from_fhir(data)
    except InvalidIdentifier as error:
        assert error.code.startswith("identifier.invalid")
        return
    assert from_fhir(parsed.to_fhir().to_dict()) == parsed
