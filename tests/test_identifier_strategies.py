"""The shipped identifier strategies check their arguments and produce what they promise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import InvalidConfiguration
from practiceid.policies.identifiers import MODULES, inami, niss
from practiceid.testing.strategies import (
    inami_numbers,
    near_misses,
    niss_numbers,
    typos,
    valid_identifiers,
)


@pytest.mark.parametrize("moduli", [(), (96,), (97, 11)])
def test_inami_numbers_refuses_unknown_moduli(moduli):
    with pytest.raises(InvalidConfiguration):
        inami_numbers(moduli=moduli)


@pytest.mark.parametrize("kinds", [[], ["passport"]])
def test_valid_identifiers_refuses_unknown_kinds(kinds):
    with pytest.raises(InvalidConfiguration):
        valid_identifiers(kinds)


def test_near_misses_refuses_an_unknown_kind():
    with pytest.raises(InvalidConfiguration):
        near_misses("passport")


@given(data=st.data())
def test_typos_needs_digits(data):
    with pytest.raises(InvalidConfiguration):
        data.draw(typos("ABC"))


@given(number=inami_numbers(short=True))
def test_short_inami_numbers_are_eight_digits(number):
    assert len(number) == 8
    assert inami.parse(number).is_short_form


@given(number=inami_numbers(short=False, moduli=(89,)))
def test_long_inami_numbers_carry_a_competence_code(number):
    assert inami.parse(number, moduli=(89,)).competence_code is not None


@given(number=niss_numbers(bis=True))
def test_bis_niss_numbers_are_bis(number):
    assert niss.parse(number).type == "bis"


@given(number=niss_numbers(bis=False))
def test_national_niss_numbers_are_national(number):
    assert niss.parse(number).type == "nn"


@given(data=st.data())
def test_typos_differ_from_the_number_in_one_or_two_places(data):
    kind, number = data.draw(valid_identifiers())
    compact = MODULES[kind].compact(number)
    typo = data.draw(typos(compact))
    differences = [i for i, (a, b) in enumerate(zip(compact, typo, strict=True)) if a != b]
    assert len(differences) in {1, 2}
    if len(differences) == 2:
        i, j = differences
        assert j == i + 1
        assert (typo[i], typo[j]) == (compact[j], compact[i])


@given(data=st.data())
def test_typos_keep_the_width_of_full_width_digits(data):
    typo = data.draw(typos("１０００１２３４５６５"))
    assert len(typo) == 11
    assert all("０" <= c <= "９" for c in typo)
    assert typo != "１０００１２３４５６５"
