"""The password policy (A4): composition, length, confirmation, zxcvbn strength."""

from __future__ import annotations

import threading
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import InvalidConfiguration, PasswordContext, PasswordPolicy, PasswordRejected
from practiceid.policies import password as password_module
from practiceid.testing.strategies import passwords, strong_passwords

POLICY = PasswordPolicy()
CHEAP = PasswordPolicy(check_strength=False)
DUPONT = PasswordContext.for_user(
    login="dr.dupont",
    email="jeanne.dupont@cabinet-tilleuls.be",
    first_name="Jeanne",
    last_name="Dupont",
    practice_name="Cabinet médical des Tilleuls",
    current_year=2026,
)


@pytest.fixture
def zxcvbn_calls(monkeypatch):
    calls = []
    original = password_module.estimate_strength

    def spy(password, context=None):
        calls.append(len(password))
        return original(password, context)

    monkeypatch.setattr(password_module, "estimate_strength", spy)
    return calls


# -- composition (A4, source 001) ----------------------------------------------------------


def test_medispring_rule_accepts_a_strong_password_with_every_class():
    assert POLICY.evaluate("Vrai-Cheval-Agrafe-42", confirmation="Vrai-Cheval-Agrafe-42").ok


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("ABCDEFGH1!", "password.missing_lowercase"),
        ("abcdefgh1!", "password.missing_uppercase"),
        ("Abcdefghi!", "password.missing_digit"),
        ("Abcdefghi1", "password.missing_symbol"),
    ],
)
def test_each_missing_class_is_named(password, missing):
    assert CHEAP.evaluate(password).codes == (missing,)


def test_every_broken_rule_is_reported_at_once():
    report = CHEAP.evaluate("abc", confirmation="abd")
    assert report.codes == (
        "password.too_short",
        "password.missing_uppercase",
        "password.missing_digit",
        "password.missing_symbol",
        "password.confirmation_mismatch",
    )
    assert report.violations[-1].field == "password_confirmation"


def test_non_ascii_symbol_euro_counts_as_a_symbol():
    assert CHEAP.evaluate("Abcdefghi1€").ok


def test_space_counts_as_a_symbol():
    assert CHEAP.evaluate("Abcdefghi1 x").ok


@pytest.mark.parametrize(
    ("char", "kind"),
    [
        ("é", "lowercase"),
        ("ß", "lowercase"),
        ("É", "uppercase"),
        ("ǅ", "uppercase"),
        ("٣", "digit"),
        ("²", "symbol"),
        ("中", None),
    ],
)
def test_unicode_characters_count_for_their_documented_class(char, kind):
    base = {"lowercase": "a", "uppercase": "A", "digit": "1", "symbol": "!"}
    others = "".join(v for k, v in base.items() if k != kind) + "xyzxyzxyz"
    report = CHEAP.evaluate(char + others.replace("xyzxyzxyz", "wvwvwvwvw"))
    if kind is None:
        assert "password.missing_lowercase" not in report.codes  # others supply it
    else:
        assert f"password.missing_{kind}" not in report.codes


def test_letters_without_case_count_for_no_class():
    assert CHEAP.evaluate("中文中文中文中文中文").codes == (
        "password.missing_lowercase",
        "password.missing_uppercase",
        "password.missing_digit",
        "password.missing_symbol",
    )


def test_length_is_counted_in_code_points_after_nfc():
    decomposed = "Cafe\u0301-Bxl-1"  # 11 code points typed, 10 after NFC
    assert len(decomposed) == 11
    assert CHEAP.evaluate(decomposed).ok
    assert (
        "password.too_short"
        in PasswordPolicy(min_length=11, check_strength=False).evaluate(decomposed).codes
    )


def test_emoji_outside_the_bmp_counts_as_one_character():
    assert "password.too_short" in CHEAP.evaluate("Ab1!😴😴😴😴😴").codes  # 9 code points
    assert CHEAP.evaluate("Ab1!😴😴😴😴😴😴").ok


def test_confirmation_typed_with_decomposed_accents_matches():
    assert CHEAP.evaluate("Café-Bxl-1x", confirmation="Cafe\u0301-Bxl-1x").ok


def test_confirmation_that_is_not_text_does_not_match():
    assert CHEAP.evaluate("Café-Bxl-1x", confirmation=12).codes == (
        "password.confirmation_mismatch",
    )


def test_password_is_not_trimmed_or_case_folded():
    assert CHEAP.evaluate(" Café-Bxl-1x", confirmation="Café-Bxl-1x").codes == (
        "password.confirmation_mismatch",
    )
    assert CHEAP.evaluate("Café-Bxl-1x", confirmation="café-bxl-1x").codes == (
        "password.confirmation_mismatch",
    )


def test_compatibility_characters_are_not_folded():
    # NFKC would turn "ﬁ" into "fi"; the password keeps it.
    assert PasswordPolicy.normalize("ﬁ") == "ﬁ"


# -- over-long and hostile input -------------------------------------------------------------


def test_over_long_password_is_refused_never_truncated():
    assert CHEAP.evaluate("Aa1!" * 64 + "x").codes == ("password.too_long",)
    assert CHEAP.evaluate("Aa1!" * 64).ok  # 256 code points exactly


def test_byte_limit_applies_to_utf8_bytes():
    # 255 four-byte characters: under 256 code points, over 1024 bytes.
    report = CHEAP.evaluate("Aa1!" + "😴" * 255)
    assert report.codes == ("password.too_long",)


@pytest.mark.parametrize("char", ["\x00", "\t", "\x7f", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused(char):
    report = CHEAP.evaluate(f"Abcdefgh1!{char}")
    assert report.codes == ("password.invalid_character",)
    assert "\x00" not in repr(report)


def test_right_to_left_override_is_a_symbol_not_a_control():
    assert CHEAP.evaluate("Abcdefgh1\u202e").ok


def test_password_that_looks_like_a_hash_is_a_password_like_any_other():
    phc = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    assert POLICY.evaluate(phc).ok


def test_violations_never_contain_the_password():
    secret = "Zz9!" + "s3cr3t-value"
    report = CHEAP.evaluate(secret + "\x00", confirmation=secret)
    for violation in report.violations:
        assert "s3cr3t" not in repr(violation.to_dict())


def test_not_text_is_a_violation():
    assert POLICY.evaluate(None).codes == ("password.not_text",)
    assert POLICY.evaluate(b"Abcdefgh1!").codes == ("password.not_text",)


# -- strength (zxcvbn) -----------------------------------------------------------------------


def test_password123_passes_composition_but_is_refused_with_zxcvbn_feedback():
    assert CHEAP.evaluate("Password123!").ok
    report = POLICY.evaluate("Password123!")
    assert report.codes == ("password.too_weak",)
    params = report.violations[0].params
    assert params["warning"] == "This is similar to a commonly used password."
    assert params["suggestions"]


def test_dupont2024_is_refused_for_dr_dupont_because_it_uses_his_name():
    assert CHEAP.evaluate("Dupont2024!!").ok
    report = POLICY.evaluate("Dupont2024!!", context=DUPONT)
    assert report.codes == ("password.too_weak",)
    assert report.violations[0].params["uses_personal_data"] is True
    assert report.violations[0].params["suggestions"]


def test_practice_name_and_year_are_known_to_the_strength_check():
    assert "password.too_weak" in POLICY.evaluate("Tilleuls2026!", context=DUPONT).codes


def test_years_up_to_next_year_are_in_the_dictionary():
    assert PasswordContext(current_year=2026).dictionary()[:2] == ["2027", "2026"]
    assert PasswordContext().dictionary() == []


def test_short_context_words_are_left_out():
    context = PasswordContext.for_user(login="dr.x", email="ab@cd.be")
    assert context.user_inputs == ("dr.x", "ab@cd.be")


def test_failing_cheap_rules_never_pay_for_zxcvbn(zxcvbn_calls):
    POLICY.evaluate("short")
    POLICY.evaluate("Abcdefgh1!", confirmation="different")
    assert zxcvbn_calls == []
    POLICY.evaluate("Abcdefgh1!")
    assert len(zxcvbn_calls) == 1


def test_zxcvbn_sees_at_most_the_strength_window(zxcvbn_calls):
    POLICY.evaluate("Aa1!" + "x7Qz" * 60)
    assert zxcvbn_calls == [64]


def test_l33t_heavy_passwords_are_judged_on_a_shorter_prefix_to_bound_the_cost():
    # 22 distinct l33t characters make zxcvbn try 736 substitution tables: 3 s for 64.
    attack = "Aa4@8({[<3691!|70$5+%2" * 11
    report = POLICY.evaluate(attack[:256])
    assert report.strength is not None
    assert report.strength.judged_length <= 20
    plain = PasswordPolicy.passphrase().evaluate("lune agrafe cheval porte velo jardin " * 3)
    assert plain.strength is not None
    assert plain.strength.judged_length == 64


@given(st.text(max_size=100), st.integers(min_value=1, max_value=72))
def test_the_judged_prefix_is_a_prefix_within_the_window(password, window):
    prefix = password_module.affordable_prefix(password, window)
    assert password.startswith(prefix)
    assert len(prefix) <= window


def test_a_long_password_with_a_weak_start_is_judged_on_its_start():
    assert "password.too_weak" in POLICY.evaluate("a" * 70 + "Zq9!kT#v").codes


def test_strength_check_is_thread_safe_for_each_users_context():
    # zxcvbn keeps user inputs in a module global; without the lock, threads see each
    # other's dictionaries and a personal password can slip through.
    results = []

    def check(i):
        if i % 2:
            report = POLICY.evaluate("Dupont2024!!", context=DUPONT)
            results.append(("dupont", report.codes))
        else:
            context = PasswordContext.for_user(first_name="Zorglub", last_name="Ygrec")
            results.append(("other", POLICY.evaluate("Dupont2024!!", context=context).codes))

    threads = [threading.Thread(target=check, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {codes for who, codes in results if who == "dupont"} == {("password.too_weak",)}


def test_passphrase_mode_has_no_class_rules():
    policy = PasswordPolicy.passphrase()
    assert policy.evaluate("vrai cheval agrafe batterie").ok
    assert policy.evaluate("short phrase").codes == ("password.too_short",)


def test_strength_check_can_be_switched_off(zxcvbn_calls):
    assert CHEAP.evaluate("Password123!").ok
    assert zxcvbn_calls == []


def test_validate_raises_with_every_violation_and_returns_none_when_ok():
    with pytest.raises(PasswordRejected) as raised:
        POLICY.validate("abc")
    assert raised.value.code == "password.rejected"
    assert len(raised.value.violations) == 4
    assert POLICY.validate("Vrai-Cheval-Agrafe-42") is None


@pytest.mark.parametrize(
    "options",
    [
        {"min_length": 0},
        {"min_length": 300},
        {"min_score": 5},
        {"min_score": -1},
        {"strength_window": 73},
        {"strength_window": 2},
        {"max_bytes": 1},
    ],
)
def test_impossible_configuration_is_refused(options):
    with pytest.raises(InvalidConfiguration):
        PasswordPolicy(**options)


# -- properties ------------------------------------------------------------------------------


def _rules_hold(policy: PasswordPolicy, password: str) -> bool:
    p = unicodedata.normalize("NFC", password)
    cats = [unicodedata.category(c) for c in p]
    return (
        policy.min_length <= len(p) <= policy.max_length
        and len(p.encode("utf-8", "surrogatepass")) <= policy.max_bytes
        and not any(c in {"Cc", "Cs"} for c in cats)
        and (not policy.require_lowercase or "Ll" in cats)
        and (not policy.require_uppercase or any(c in {"Lu", "Lt"} for c in cats))
        and (not policy.require_digit or "Nd" in cats)
        and (
            not policy.require_symbol
            or any(c[0] not in "LM" and c not in {"Nd", "Cc", "Cs"} for c in cats)
        )
    )


# One or two representatives of every class and category the rules distinguish, so that
# strings near each boundary (one class missing, one character short) are common.
_INTERESTING = st.sampled_from("aA1!é€ \x00\u0301٣²中ǅß\u202e\ud800😴ﬁ\t")
_MIXED_TEXT = st.one_of(
    st.text(alphabet=_INTERESTING, min_size=7, max_size=13),
    st.text(alphabet=_INTERESTING | st.characters(), max_size=300),
)


@given(_MIXED_TEXT)
def test_cheap_policy_accepts_iff_every_rule_holds(password):
    assert CHEAP.evaluate(password).ok == _rules_hold(CHEAP, password)


@given(passwords())
def test_generated_passwords_satisfy_the_cheap_rules(password):
    assert CHEAP.evaluate(password, confirmation=password).ok


@given(strong_passwords())
def test_generated_strong_passwords_are_accepted(password):
    assert POLICY.evaluate(password, confirmation=password).ok


@given(
    st.one_of(
        st.text(),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=60, max_size=80),
        st.text(alphabet="\x00\u202e\ud800aA1!é", max_size=50),
        st.binary(),
        st.none(),
        st.integers(),
    )
)
def test_no_input_raises_anything_but_password_rejected(password):
    try:
        POLICY.validate(password, confirmation=password)
    except PasswordRejected as error:
        assert error.violations


def test_one_hundred_thousand_characters_are_refused_without_zxcvbn(zxcvbn_calls):
    assert POLICY.evaluate("Aa1!é" * 20_000).codes == ("password.too_long",)
    assert zxcvbn_calls == []
