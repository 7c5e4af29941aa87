"""Properties every identifier module shares (B2, B3, B6): the stdnum-style contract.

Each module offers ``compact / validate / is_valid / format`` (+ ``parse``); ``validate``
raises a coded ``InvalidIdentifier``; ``is_valid`` never raises, for any object.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidIdentifier,
    InvalidLength,
    Rejected,
    Violation,
)
from practiceid.policies.identifiers import MODULES, IdentifierModule, adeli, finess, rpps
from practiceid.policies.identifiers._common import luhn_check_digit, luhn_ok
from practiceid.testing.strategies import near_misses, typos, valid_identifiers

KINDS = sorted(MODULES)
OWN_KINDS = ["adeli", "finess", "idnps", "inami", "rpps"]  # the ones not wrapping stdnum

# python-stdnum's robustness set (tests/test_robustness.doctest), plus what a web form or a
# CSV import can hand over: bytes, numbers, containers, control characters, digits of other
# scripts (Arabic-Indic, Devanagari) that Python's int() would accept.
ROBUSTNESS_SET = [
    None,
    "",
    " ",
    "€",
    "😴",
    "3²",
    "ⅷ",
    "᭓",
    b"10001234565",
    10001234565,
    12345625005,
    3.5,
    ["1"],
    object(),
    "\x00",
    "١٠٠٠١٢٣٤٥٦٥",  # Arabic-Indic digits of a valid RPPS
    "१०००१२३४५६५",  # Devanagari
    "10001234565\n10001234565",
    "-" * 20,
    "/" * 3,
]

ANY_OBJECT = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(),
    st.text(),
    st.text("0123456789 -./ABab", max_size=20),
    st.lists(st.text(max_size=3), max_size=3),
)


def _module(kind: str) -> IdentifierModule:
    return MODULES[kind]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", ROBUSTNESS_SET, ids=repr)
def test_robustness_set_is_invalid_and_refused_with_a_coded_error(kind, value):
    module = _module(kind)
    assert module.is_valid(value) is False
    with pytest.raises(InvalidIdentifier) as raised:
        module.validate(value)
    assert raised.value.code.startswith("identifier.invalid")
    assert raised.value.params["kind"] == kind


@pytest.mark.parametrize("kind", KINDS)
@given(value=ANY_OBJECT)
def test_is_valid_never_raises_and_agrees_with_validate(kind, value):
    module = _module(kind)
    valid = module.is_valid(value)
    assert isinstance(valid, bool)
    try:
        module.validate(value)
    except InvalidIdentifier:
        assert not valid
    else:
        assert valid


@given(pair=valid_identifiers(written=True))
def test_every_generated_number_in_every_written_form_validates(pair):
    kind, number = pair
    module = _module(kind)
    assert module.is_valid(number)
    assert module.validate(number) == module.compact(number)


@given(pair=valid_identifiers(written=True))
def test_validate_of_format_is_the_compact_form(pair):
    kind, number = pair
    module = _module(kind)
    assert module.validate(module.format(number)) == module.compact(number)


@given(pair=valid_identifiers(written=True))
def test_compact_is_idempotent_on_valid_numbers(pair):
    kind, number = pair
    module = _module(kind)
    assert module.compact(module.compact(number)) == module.compact(number)


@pytest.mark.parametrize("kind", OWN_KINDS)
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_compact_is_idempotent_on_any_text(kind, text):
    module = _module(kind)
    once = module.compact(text)
    assert module.compact(once) == once


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_is_valid_agrees_with_validate_on_typos(kind, data):
    number = data.draw(valid_identifiers([kind]))[1]
    typo = data.draw(typos(number))
    module = _module(kind)
    try:
        module.validate(typo)
    except InvalidIdentifier:
        assert not module.is_valid(typo)
    else:
        assert module.is_valid(typo)


@pytest.mark.parametrize("kind", ["rpps", "adeli", "finess"])
@given(data=st.data())
def test_every_single_digit_substitution_is_refused_for_luhn_numbers_b3(kind, data):
    module = _module(kind)
    number = module.compact(data.draw(valid_identifiers([kind]))[1])
    if not number.isdigit():
        return  # Corsica: the key cannot be checked, see the Corsica tests
    for position, original in enumerate(number):
        for digit in "0123456789":
            if digit != original:
                typo = number[:position] + digit + number[position + 1 :]
                assert not module.is_valid(typo), typo


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_near_misses_are_refused_with_a_coded_error(kind, data):
    miss = data.draw(near_misses(kind))
    with pytest.raises(InvalidIdentifier):
        _module(kind).validate(miss)


@given(partial=st.text("0123456789", min_size=1, max_size=20))
def test_luhn_check_digit_completes_any_number(partial):
    assert luhn_ok(partial + luhn_check_digit(partial))


# --- Written forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "10001234565",
        "100 0123 4565",
        "100-0123-4565",
        "100.0123.4565",
        "100/0123/4565",
        "100\u00a00123\u00a04565",  # no-break spaces
        "100\u202f0123\u202f4565",  # narrow no-break spaces (French typography)
        "\u200b10001234565\u200e",  # zero-width space and left-to-right mark from a web page
        "100\u20130123\u20144565",  # en and em dashes from a word processor
        "\t10001234565\n",
        "１０００１２３４５６５",  # full width, from an East Asian input method
        "１００－０１２３－４５６５",  # full-width digits and hyphens
    ],
)
def test_separators_invisible_marks_and_full_width_forms_are_accepted(written):
    assert rpps.validate(written) == "10001234565"


@pytest.mark.parametrize(
    "written",
    ["١٠٠٠١٢٣٤٥٦٥", "१०००१२३४५६५", "10001234565²", "1000123456ⅴ", "10001234565 ᭓"],
)
def test_digits_of_other_scripts_are_refused_not_converted(written):
    # Decision (docs/identifiers.md): only full width is mapped, as NFKC does for that block.
    with pytest.raises(InvalidFormat) as raised:
        rpps.validate(written)
    assert raised.value.params["reason"] == "not_digits"


@pytest.mark.parametrize("value", [10001234565, b"10001234565", None, 3.5])
def test_non_text_is_refused_as_not_text_because_an_int_loses_leading_zeros(value):
    with pytest.raises(InvalidFormat) as raised:
        rpps.validate(value)
    assert raised.value.params == {
        "kind": "rpps",
        "reason": "not_text",
        "type": type(value).__name__,
    }


def test_a_str_subclass_is_text():
    class Number(str):
        __slots__ = ()

    assert rpps.validate(Number("100 0123 4565")) == "10001234565"


# --- Errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "code"),
    [
        (lambda: rpps.validate("1000123456"), InvalidLength, "identifier.invalid_length"),
        (lambda: rpps.validate("1000123456X"), InvalidFormat, "identifier.invalid_format"),
        (lambda: rpps.validate("10001234566"), InvalidChecksum, "identifier.invalid_checksum"),
        (lambda: finess.validate("7AB234569"), InvalidFormat, "identifier.invalid_format"),
    ],
)
def test_errors_follow_stdnum_tree_with_stable_codes(call, error, code):
    with pytest.raises(InvalidIdentifier) as raised:
        call()
    assert raised.value.code == code
    assert isinstance(raised.value, error)


def test_length_error_says_what_was_expected():
    with pytest.raises(InvalidLength) as raised:
        adeli.validate("75100123")
    assert raised.value.params == {"kind": "adeli", "length": 8, "expected": (9,)}


def test_length_and_component_errors_are_format_errors_as_in_stdnum():
    assert issubclass(InvalidLength, InvalidFormat)
    assert issubclass(InvalidComponent, InvalidFormat)
    assert not issubclass(InvalidChecksum, InvalidFormat)
    assert issubclass(InvalidIdentifier, ValueError)


def test_identifier_error_is_a_one_violation_rejection_that_forms_can_merge():
    with pytest.raises(InvalidChecksum) as raised:
        rpps.validate("10001234566")
    error = raised.value
    assert error.violations == (
        Violation(
            "identifier.invalid_checksum",
            "the check digit does not match (Luhn)",
            "rpps",
            {"kind": "rpps", "algorithm": "luhn"},
        ),
    )
    with pytest.raises(InvalidLength) as other:
        adeli.validate("123")
    merged = Rejected.combine([error, other.value])
    assert merged.codes == ("identifier.invalid_checksum", "identifier.invalid_length")


def test_identifier_error_can_name_the_form_field():
    error = InvalidChecksum("bad", kind="inami", field="supervisor_inami")
    assert error.violations[0].field == "supervisor_inami"
    assert error.params == {"kind": "inami"}


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_no_error_carries_the_refused_number(kind, data):
    number = data.draw(valid_identifiers([kind]))[1]
    typo = data.draw(typos(number))
    module = _module(kind)
    try:
        module.validate(typo)
    except InvalidIdentifier as error:
        digits = module.compact(typo) if isinstance(typo, str) else typo
        assert digits not in repr(error.to_dict())
        assert digits not in str(error)


def test_identifier_errors_survive_pickling():
    with pytest.raises(InvalidLength) as raised:
        adeli.validate(
            "123",
        )
    copy = pickle.loads(pickle.dumps(raised.value))  # noqa: S301 - our own bytes
    assert type(copy) is InvalidLength
    assert copy.params == raised.value.params
    assert copy.violations == raised.value.violations
    assert copy.kind == "adeli"


def test_a_refusal_can_be_reported_for_the_form_field_that_held_the_number():
    # B4: a trainee's form holds the trainee's and the supervisor's numbers.
    with pytest.raises(InvalidChecksum) as raised:
        rpps.validate("10001234566")
    moved = raised.value.for_field("supervisor_rpps")
    assert type(moved) is InvalidChecksum
    assert moved.violations[0].field == "supervisor_rpps"
    assert moved.params == raised.value.params
    assert moved.message == raised.value.message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("empty", ["", "  ", "\u200b", "- . /"])
def test_empty_input_is_refused_as_empty_by_every_module(kind, empty):
    with pytest.raises(InvalidFormat) as raised:
        _module(kind).validate(empty)
    assert raised.value.params["reason"] == "empty"
