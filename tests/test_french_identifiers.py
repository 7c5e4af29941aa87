"""French identifiers: RPPS, ADELI, IDNPS and FINESS (B3). All numbers are made up."""

from __future__ import annotations

import pytest
from hypothesis import given

from practiceid import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from practiceid.policies.identifiers import (
    FinessKind,
    IdnpsKind,
    adeli,
    fhir,
    finess,
    idnps,
    rpps,
)
from practiceid.testing.strategies import adeli_numbers, finess_numbers, rpps_numbers

RPPS = "10001234565"
ADELI = "751001231"
FINESS = "750234569"


# --- RPPS ---------------------------------------------------------------------------------


def test_rpps_is_eleven_digits_with_a_luhn_key():
    assert rpps.validate("100 0123 4565") == RPPS
    with pytest.raises(InvalidChecksum) as raised:
        rpps.validate("10001234566")
    assert raised.value.params == {"kind": "rpps", "algorithm": "luhn"}


def test_rpps_starting_with_1_has_no_notice():
    assert rpps.parse(RPPS).notices == ()


def test_rpps_not_starting_with_1_is_accepted_with_a_notice():
    # An official ANS example starts with 0: a warning, never a refusal (IDENTIFIERS.md).
    number = rpps.parse("00001234566")
    assert [n.code for n in number.notices] == ["rpps.unusual_first_digit"]
    assert number.notices[0].params == {"first_digit": "0"}


def test_rpps_gives_its_idnps_and_fhir_identifier():
    number = rpps.parse(RPPS)
    assert number.idnps == "8" + RPPS
    assert number.format() == RPPS
    assert number.to_fhir().to_dict() == {
        "type": {"coding": [{"system": fhir.FR_IDENTIFIER_TYPES, "code": "RPPS"}]},
        "system": "https://rpps.esante.gouv.fr",
        "value": RPPS,
    }


@given(number=rpps_numbers())
def test_rpps_idnps_round_trips(number):
    assert idnps.parse(rpps.parse(number).idnps).national_id == number


# --- ADELI --------------------------------------------------------------------------------


def test_adeli_is_nine_digits_with_a_luhn_key():
    number = adeli.parse("75 10 0123 1")
    assert number.number == ADELI
    assert number.key_verified
    assert (number.department, number.profession_code) == ("75", "10")
    assert number.idnps == "0" + ADELI
    assert number.format() == ADELI
    with pytest.raises(InvalidChecksum):
        adeli.validate("751001232")


@pytest.mark.parametrize("prefix", ["2A", "2B", "2a", "2b", "２Ａ"])
def test_corsican_adeli_is_accepted_with_an_unverifiable_key(prefix):
    number = adeli.parse(prefix + "1001234")
    assert number.number == prefix.upper().replace("２Ａ", "2A") + "1001234"
    assert not number.key_verified
    assert adeli.is_valid(prefix + "1001234")


@pytest.mark.parametrize("number", ["2C1001234", "3A1001234", "2A100123X", "AB1001234"])
def test_other_letters_in_adeli_are_refused(number):
    assert not adeli.is_valid(number)
    with pytest.raises(InvalidFormat):
        adeli.validate(number)


def test_adeli_renders_as_an_idnps_in_fhir_as_fr_core_does():
    identifier = adeli.parse(ADELI).to_fhir()
    assert identifier.system == fhir.FR_IDNPS
    assert identifier.value == "0" + ADELI
    assert identifier.type == fhir.Coding(fhir.FR_IDENTIFIER_TYPES, "IDNPS")


@given(number=adeli_numbers())
def test_adeli_format_is_the_upper_case_compact_form(number):
    assert adeli.format(number) == number.upper()


# --- FINESS -------------------------------------------------------------------------------


def test_finess_is_nine_digits_with_a_luhn_key():
    number = finess.parse("75 023456 9")
    assert number.number == FINESS
    assert number.key_verified
    assert number.department == "75"
    assert number.kind is None
    assert number.format() == finess.format(" 750234569 ") == FINESS
    with pytest.raises(InvalidChecksum):
        finess.validate("750234568")


@pytest.mark.parametrize("number", ["2A0012345", "2b0012345", "9Z0012345"])
def test_finess_with_a_letter_in_second_place_follows_the_xsd_pattern(number):
    parsed = finess.parse(number)
    assert parsed.number == number.upper()
    assert not parsed.key_verified


@pytest.mark.parametrize("number", ["A20012345", "2AB012345", "2A001234Z", "2Ä0012345"])
def test_finess_outside_the_xsd_pattern_is_refused(number):
    assert not finess.is_valid(number)
    with pytest.raises(InvalidFormat):
        finess.validate(number)


@pytest.mark.parametrize(("kind", "code"), [(FinessKind.EJ, "FINEJ"), (FinessKind.EG, "FINEG")])
def test_finess_kind_comes_from_the_host_and_types_the_fhir_identifier(kind, code):
    identifier = finess.parse(FINESS, kind=kind).to_fhir()
    assert identifier.system == "https://finess.esante.gouv.fr"
    assert identifier.type == fhir.Coding(fhir.FR_IDENTIFIER_TYPES, code)
    assert finess.parse(FINESS).to_fhir().type is None


@given(number=finess_numbers())
def test_finess_validates_its_own_format(number):
    assert finess.validate(finess.format(number)) == number.upper()


# --- IDNPS --------------------------------------------------------------------------------


def test_idnps_of_an_rpps_professional():
    number = idnps.parse("8" + RPPS)
    assert (number.kind, number.national_id, number.notices) == (IdnpsKind.RPPS, RPPS, ())
    assert (number.structure_type, number.structure_id, number.local_id) == (None, None, None)


def test_idnps_of_an_adeli_professional():
    number = idnps.parse("0 75 10 0123 1")
    assert (number.kind, number.national_id) == (IdnpsKind.ADELI, ADELI)
    assert number.format() == "0" + ADELI


@pytest.mark.parametrize(("bare", "strict"), [(RPPS, "8" + RPPS), (ADELI, "0" + ADELI)])
def test_bare_national_numbers_are_parsed_leniently_and_emitted_strictly(bare, strict):
    number = idnps.parse(bare)
    assert number.number == strict
    assert [n.code for n in number.notices] == ["idnps.bare_national_id"]
    assert idnps.validate(bare) == idnps.format(bare) == idnps.compact(bare) == strict
    assert number.to_fhir().value == strict


def test_bare_rpps_starting_with_0_is_not_mistaken_for_an_adeli_idnps():
    assert idnps.parse("00001234566").number == "800001234566"


def test_structure_based_idnps_keeps_the_local_identifier_as_given():
    number = idnps.parse(" 3 12345678900017/Sec.Accueil-042 ")
    assert number.number == "312345678900017/Sec.Accueil-042"
    assert number.kind is IdnpsKind.STRUCTURE
    assert number.national_id is None
    assert (number.structure_type, number.structure_id, number.local_id) == (
        "SIRET",
        "12345678900017",
        "Sec.Accueil-042",
    )


@pytest.mark.parametrize(
    ("number", "component"),
    [
        ("2123456789/x", "prefix"),
        ("7123456789/x", "prefix"),
        ("3/x", "structure_id"),
        ("3123#45/x", "structure_id"),
        ("3123/", "local_id"),
        ("3123/a b", "local_id"),
        ("3123/a/b", "local_id"),
        ("3123/a\x00", "local_id"),
        ("1234567890", "prefix"),
    ],
)
def test_malformed_idnps_names_the_faulty_component(number, component):
    with pytest.raises(InvalidComponent) as raised:
        idnps.validate(number)
    assert raised.value.params["component"] == component


@pytest.mark.parametrize(("number", "expected"), [("812345", (12,)), ("012345678901", (10,))])
def test_national_idnps_of_the_wrong_length(number, expected):
    with pytest.raises(InvalidLength) as raised:
        idnps.validate(number)
    assert raised.value.params["expected"] == expected


def test_idnps_refuses_empty_and_overlong_input():
    with pytest.raises(InvalidFormat) as empty:
        idnps.validate("  ")
    assert empty.value.params["reason"] == "empty"
    with pytest.raises(InvalidLength) as long:
        idnps.validate("3" + "1" * 10 + "/" + "x" * 60)
    assert long.value.params["maximum"] == 64


def test_an_invalid_rpps_inside_an_idnps_is_reported_for_the_idnps():
    with pytest.raises(InvalidChecksum) as raised:
        idnps.validate("810001234566")
    assert raised.value.params == {"kind": "idnps", "register": "rpps", "algorithm": "luhn"}
    assert raised.value.violations[0].field == "idnps"
