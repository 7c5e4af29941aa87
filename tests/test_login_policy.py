"""Logins: allowed characters, normalization and uniqueness keys (A1, A2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import InvalidConfiguration, Login, LoginPolicy, LoginRejected
from practiceid._text import fold, script_of
from practiceid.testing.strategies import login_variants, logins

POLICY = LoginPolicy()

# python-stdnum's robustness set, plus non-text; "ⅷ" is NFKC "viii", a fine login.
ROBUSTNESS_SET = [None, "", "€", "😴", "3²", "᭓", b"login", 42, 3.5, ["a"], "\x00abc"]


@pytest.mark.parametrize("spelling", ["ｆｏｏ", "FOO", "foo", " Foo ", "ＦＯＯ", "fOo"])
def test_case_width_and_spaces_do_not_make_a_new_login_a2(spelling):
    assert POLICY.parse(spelling) == POLICY.parse("foo")
    assert POLICY.parse(spelling).key == "foo"


def test_display_form_is_kept_as_typed_but_trimmed():
    assert POLICY.parse("  Dr.Dupont\t").display == "Dr.Dupont"


def test_decomposed_accents_are_composed_in_the_display_form():
    assert POLICY.parse("secre\u0301taire").display == "secrétaire"


@pytest.mark.parametrize(
    "login",
    ["secrétaire", "dr.dupont@cabinet.be", "jean-pierre.o'neil", "12345678901", "a_b+c", "ßtraße"],
)
def test_accepts_names_emails_and_inami_numbers_as_logins(login):
    # Medispring advises the e-mail address or the INAMI number as login (source 001).
    assert POLICY.check(login) == ()


def test_sharp_s_and_ss_are_the_same_login():
    assert Login("straße") == Login("STRASSE")


def test_cyrillic_letter_in_a_latin_login_is_refused_as_mixed_scripts():
    violations = POLICY.check("dupоnt")  # Cyrillic о
    codes = [v.code for v in violations]
    assert codes == ["login.mixed_scripts", "login.script_not_allowed"]
    assert violations[0].params["scripts"] == ("CYRILLIC", "LATIN")


def test_other_scripts_can_be_allowed_but_never_mixed():
    policy = LoginPolicy(allowed_scripts={"LATIN", "GREEK"})
    assert policy.check("αλφα") == ()
    assert [v.code for v in policy.check("alφa")] == ["login.mixed_scripts"]


@pytest.mark.parametrize(
    ("login", "code"),
    [
        ("ab", "login.too_short"),
        ("a" * 255, "login.too_long"),
        ("dr dupont", "login.invalid_character"),
        ("dr/dupont", "login.invalid_character"),
        ("١٢٣٤", "login.invalid_character"),  # Arabic-Indic digits are not folded
        ("abc\u202edef", "login.invalid_character"),  # right-to-left override
        ("abc\x00def", "login.invalid_character"),
        ("a\ud800bc", "login.invalid_character"),
        ("abc\u2028def", "login.invalid_character"),  # line separator
    ],
)
def test_refuses_with_a_coded_violation(login, code):
    assert code in [v.code for v in POLICY.check(login)]


def test_full_width_digits_fold_to_ascii_digits():
    assert POLICY.parse("１２３４５") == POLICY.parse("12345")


def test_combining_mark_without_a_letter_is_refused():
    assert [v.code for v in POLICY.check("abc-\u0301x")] == ["login.invalid_character"]


def test_invalid_characters_are_named_and_reported_at_most_five_times():
    violation = POLICY.check("a b/c\\d|e#f$g%h")[0]
    assert violation.params["characters"][0] == "U+0020 SPACE"
    assert len(violation.params["characters"]) == 5


def test_parse_raises_login_rejected_with_every_violation():
    with pytest.raises(LoginRejected) as raised:
        POLICY.parse("a о")
    assert raised.value.code == "login.rejected"
    assert set(raised.value.codes) == {
        "login.invalid_character",
        "login.mixed_scripts",
        "login.script_not_allowed",
    }


@pytest.mark.parametrize(
    "options",
    [{"min_length": 0}, {"max_length": 0}, {"min_length": 10, "max_length": 5}],
)
def test_impossible_configuration_is_refused_with_a_code(options):
    with pytest.raises(InvalidConfiguration) as raised:
        LoginPolicy(**options)
    assert raised.value.code == "config.invalid"


def test_script_of_letters_without_a_script_prefix_is_unknown():
    assert script_of("ʰ") is None
    assert script_of("\U000e0000") is None
    assert script_of("中") == "HAN"
    assert script_of("a") == "LATIN"


# -- properties --------------------------------------------------------------------------


@given(st.text())
def test_folding_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


@given(logins())
def test_the_key_of_a_parsed_login_is_a_fixed_point(raw):
    login = POLICY.parse(raw)
    assert POLICY.parse(login.display) == login
    assert Login(login.key).key == login.key


@given(st.data())
def test_every_variant_of_a_login_collides_with_it(data):
    raw = data.draw(logins())
    variant = data.draw(login_variants(raw))
    assert POLICY.parse(variant) == POLICY.parse(raw)


@given(logins(), logins())
def test_two_logins_collide_iff_their_keys_are_equal(a, b):
    assert (POLICY.parse(a) == POLICY.parse(b)) == (fold(a.strip()) == fold(b.strip()))


@given(st.one_of(st.text(), st.binary(), st.integers(), st.none()))
def test_no_input_raises_anything_but_login_rejected(raw):
    try:
        POLICY.parse(raw)
    except LoginRejected as error:
        assert error.violations
    assert isinstance(POLICY.check(raw), tuple)


@pytest.mark.parametrize("raw", ROBUSTNESS_SET)
def test_robustness_set_is_answered_with_violations_not_crashes(raw):
    assert POLICY.check(raw)


def test_compatibility_characters_fold_to_their_plain_letters():
    assert POLICY.parse("ⅷ") == POLICY.parse("viii")
    assert POLICY.parse("ʰʰʰ").key == "hhh"


def test_a_huge_login_is_refused_quickly_with_bounded_detail():
    violations = POLICY.check("é" * 100_000 + " ")
    assert [v.code for v in violations] == ["login.too_long"]


def test_letters_whose_script_is_unknown_are_refused():
    assert [v.code for v in POLICY.check("abcʹ")] == ["login.invalid_character"]


def test_combining_mark_after_a_letter_is_accepted():
    assert POLICY.check("dq\u0301x") == ()
