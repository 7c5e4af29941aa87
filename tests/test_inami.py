"""INAMI / RIZIV numbers: check digits, forms, decoding and the competence table (B2, B4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import InvalidChecksum, InvalidConfiguration, InvalidLength
from practiceid.policies.identifiers import InamiTable, fhir, inami
from practiceid.testing.strategies import inami_numbers

TRAINEE = "1-23456-25-005"  # made up; mod 97
GP_89 = "1.23456.76.003"  # made up; mod 89


def _rule(number: str, moduli: tuple[int, ...] = inami.MODULI) -> bool:
    # IDENTIFIERS.md: C = M - (N mod M) over the first six digits, for any allowed modulus.
    return any(int(number[6:8]) == m - int(number[:6]) % m for m in moduli)


def test_worked_example_from_the_rule_description():
    # N = 187497, 187497 mod 97 = 93, 97 - 93 = 04
    assert inami.check_digits("187497", 97) == "04"


@given(
    digits=st.text("0123456789", min_size=11, max_size=11)
    | st.text("0123456789", min_size=8, max_size=8)
)
def test_validity_is_exactly_the_multi_modulus_rule(digits):
    assert inami.is_valid(digits) == _rule(digits)


@given(
    first_six=st.text("0123456789", min_size=6, max_size=6),
    code=st.text("0123456789", min_size=3, max_size=3),
)
def test_check_digits_are_never_00(first_six, code):
    assert not inami.is_valid(first_six + "00" + code)


@pytest.mark.parametrize("modulus", inami.MODULI)
@given(data=st.data())
def test_each_listed_modulus_is_accepted_and_reported(modulus, data):
    number = data.draw(inami_numbers(moduli=(modulus,)))
    parsed = inami.parse(number)
    # The first matching modulus in INAMI's order is reported (two can coincide).
    earlier = inami.MODULI[: inami.MODULI.index(parsed.modulus)]
    assert _rule(number, (parsed.modulus,))
    assert not _rule(number, earlier)
    assert inami.MODULI.index(parsed.modulus) <= inami.MODULI.index(modulus)


def test_a_host_can_restrict_the_moduli():
    assert inami.parse(GP_89).modulus == 89
    with pytest.raises(InvalidChecksum) as raised:
        inami.validate(GP_89, moduli=(97,))
    assert raised.value.params == {"kind": "inami", "algorithm": "modulus", "moduli": (97,)}
    assert not inami.is_valid(GP_89, moduli=[97])
    assert inami.validate(GP_89, moduli={89, 97}) == "12345676003"


@pytest.mark.parametrize("moduli", [(), (96,), (97, 11), [0], "97", 97, None, [[97]]])
def test_unknown_moduli_are_a_configuration_error_not_a_refusal(moduli):
    for call in (inami.validate, inami.is_valid, inami.parse):
        with pytest.raises(InvalidConfiguration):
            call(TRAINEE, moduli=moduli)


@pytest.mark.parametrize(
    "written",
    [
        "1-23456-25-005",
        "1.23456.25.005",
        "1/23456/25/005",
        "1 23456 25 005",
        "12345625005",
        "1-23456-25/005",
        " 1.23456-25 005 ",
        "1 - 23456 - 25 - 005",
    ],
)
def test_every_separator_style_found_in_the_wild(written):
    assert inami.validate(written) == "12345625005"


def test_display_form_groups_the_digits():
    assert inami.format("12345625005") == "1-23456-25-005"
    assert inami.parse(" 12345625005").format() == "1-23456-25-005"
    assert inami.parse("12345625005").check_digits == "25"
    assert inami.format("12345625") == "1-23456-25"


@pytest.mark.parametrize("length", [7, 9, 10, 12])
def test_only_eight_and_eleven_digits_are_numbers(length):
    with pytest.raises(InvalidLength) as raised:
        inami.validate("1" * length)
    assert raised.value.params["expected"] == (8, 11)


def test_deprecated_eight_digit_form_is_valid_without_competence():
    short = inami.parse("1-23456-25")
    assert short.is_short_form
    assert short.competence_code is None
    assert short.competence is None
    assert not short.requires_supervisor
    assert short.person_key == "12345625"


def test_first_eight_digits_identify_the_person_across_a_change_of_competence():
    trainee, recognised = inami.parse(TRAINEE), inami.parse("1-23456-25-003")
    assert trainee != recognised
    assert trainee.person_key == recognised.person_key == inami.parse("12345625").person_key


def test_leading_zero_is_kept():
    number = "0" + "12345"
    valid = number + inami.check_digits(number, 97) + "000"
    assert inami.validate(valid) == valid
    assert inami.parse(valid).profession_digit == "0"


@pytest.mark.parametrize("code", ["005", "006"])
def test_gp_trainee_must_choose_a_supervisor_b4(code):
    number = inami.parse(f"1-23456-25-{code}")
    assert number.requires_supervisor
    assert number.is_general_practitioner
    assert number.competence is not None
    assert number.competence.label == "general practitioner in training"


@pytest.mark.parametrize("code", ["003", "004"])
def test_recognised_gp_is_a_supervisor_candidate_b4(code):
    number = inami.parse(f"1-23456-25-{code}")
    assert number.is_general_practitioner
    assert not number.requires_supervisor


def test_physician_with_legal_diploma_is_not_a_gp():
    number = inami.parse("1-23456-25-000")
    assert number.competence is not None
    assert not number.is_general_practitioner
    assert number.profession is not None
    assert number.profession.label == "physician"
    assert number.profession.labels["nl"] == "arts"


def test_unknown_competence_codes_and_first_digits_are_data_not_errors():
    unknown_code = inami.parse("1-23456-25-999")
    assert unknown_code.competence is None
    assert not unknown_code.requires_supervisor
    assert not unknown_code.is_general_practitioner
    first_six = "212345"
    unknown_digit = inami.parse(first_six + inami.check_digits(first_six, 97) + "001")
    assert unknown_digit.profession is None
    assert not unknown_digit.is_organization


def test_dentist_codes_are_not_read_as_physician_codes():
    first_six = "312345"
    dentist = inami.parse(first_six + inami.check_digits(first_six, 97) + "005")
    assert dentist.profession is not None
    assert dentist.profession.label == "dentist"
    assert dentist.competence is None
    assert not dentist.requires_supervisor


@pytest.mark.parametrize(
    ("digit", "system"),
    [
        ("7", fhir.BE_NIHDI_ORGANIZATION),
        ("8", fhir.BE_NIHDI_ORGANIZATION),
        ("1", fhir.BE_NIHDI_PROFESSIONAL),
    ],
)
def test_institution_numbers_follow_the_same_rule_and_render_as_organisations(digit, system):
    first_six = digit + "12345"
    number = inami.parse(first_six + inami.check_digits(first_six, 89) + "000")
    assert number.is_organization == (digit != "1")
    assert number.to_fhir() == fhir.FhirIdentifier(system, number.number)


def test_equality_is_on_the_digits_not_on_the_table():
    table = InamiTable.from_toml('version = "host"')
    assert inami.parse(TRAINEE, table=table) == inami.parse(TRAINEE)
    assert inami.parse(TRAINEE, table=table).competence is None


# --- The competence table -----------------------------------------------------------------


def test_bundled_table_is_versioned_read_once_and_cites_confidence():
    table = InamiTable.default()
    assert table is InamiTable.default()
    assert table.version
    assert {c.confidence for c in table.competences.values()} <= {"confirmed", "likely", "open"}
    assert {code for (digit, code), c in table.competences.items() if c.requires_supervisor} == {
        "005",
        "006",
    }


HOST_TABLE = """
version = "host-2027-01"

[professions.6]
label = "pharmacist"
fr = "pharmacien"
confidence = "open"

[competences.1.010]
label = "specialist in training"
requires_supervisor = true
confidence = "open"
"""


def test_a_host_loads_its_own_table():
    table = InamiTable.from_toml(HOST_TABLE)
    first_six = "612345"
    pharmacist = inami.parse(first_six + inami.check_digits(first_six, 97) + "000", table=table)
    assert pharmacist.profession is not None
    assert pharmacist.profession.labels == {"fr": "pharmacien"}
    specialist = inami.parse("1-23456-25-010", table=table)
    assert specialist.requires_supervisor
    assert not specialist.is_general_practitioner
    assert table.competence("1", None) is None


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("version = ", "inami_table"),
        ("", "version"),
        ('version = ""', "version"),
        ('version = "x"\n[professions.12]\nlabel = "x"', "digit"),
        ('version = "x"\n[professions.1]\nfr = "médecin"', "label"),
        ('version = "x"\n[competences.1.05]\nlabel = "x"', "code"),
        (
            'version = "x"\n[competences.1.005]\nlabel = "x"\nrequires_supervisor = "yes"',
            "requires_supervisor",
        ),
        ('version = "x"\n[competences.1.005]\nlabel = "x"\nconfidence = "sure"', "confidence"),
        ('version = "x"\nprofessions = 3', "inami_table"),
        ('version = "x"\n[competences]\n1 = 2', "inami_table"),
    ],
)
def test_a_broken_table_is_a_configuration_error_naming_the_entry(text, option):
    with pytest.raises(InvalidConfiguration) as raised:
        InamiTable.from_toml(text)
    assert raised.value.params["option"] == option


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('version = "x"\nvesion = "y"', "vesion"),
        ('version = "x"\n[professions.1]\nlabel = "x"\norganisation = true', "organisation"),
        (
            'version = "x"\n[competences.1.005]\nlabel = "x"\nrequires_supervisr = true',
            "requires_supervisr",
        ),
    ],
)
def test_a_misspelt_key_is_refused_rather_than_ignored(text, key):
    with pytest.raises(InvalidConfiguration) as raised:
        InamiTable.from_toml(text)
    assert raised.value.params["option"] == key


def test_notes_and_sources_are_allowed_and_the_table_source_is_kept():
    table = InamiTable.from_toml(
        'version = "v"\nsource = "host list"\n[competences.1.005]\nlabel = "x"\nnote = "n"'
    )
    assert table.source == "host list"
    with pytest.raises(InvalidConfiguration):
        InamiTable.from_toml('version = "v"\nsource = 3')


def test_a_host_table_extends_the_bundled_one_and_wins_on_conflicts():
    host = InamiTable.from_toml(HOST_TABLE + '\n[competences.1.003]\nlabel = "GP (host wording)"\n')
    table = InamiTable.default().extended_by(host)
    assert table.version == f"{InamiTable.default().version}+host-2027-01"
    assert inami.parse(TRAINEE, table=table).requires_supervisor  # bundled entry kept
    assert inami.parse("1-23456-25-010", table=table).requires_supervisor  # host entry added
    gp = inami.parse("1-23456-25-003", table=table).competence
    assert gp is not None
    assert gp.label == "GP (host wording)"
    assert InamiTable.default().source in table.source
