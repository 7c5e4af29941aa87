"""Properties of the profile policies and services (A7, B1-B6, C7).

Trainees and supervisors (B4) through ProfileService; initials (A7), logos (C7), contact
details (B1), professions (B2, B3) and billing (B4, B6) through their policies.
"""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from practiceid import (
    EstablishmentId,
    PractitionerRejected,
    ProductKind,
    UserId,
)
from practiceid.policies import contact
from practiceid.policies import initials as initials_policy
from practiceid.policies.identifiers import bce, iban, inami
from practiceid.policies.logo import check_logo
from practiceid.policies.professions import IDENTIFIER_KINDS, PROFESSION_RULES, Profession
from practiceid.practitioners import BillingData, Practitioner, resolve_billing
from practiceid.testing import sample_inami, sample_practice, sample_workplace
from practiceid.testing.strategies import (
    bce_numbers,
    belgian_ibans,
    inami_numbers,
    initials,
    logos,
    phone_numbers,
)

CABINET = EstablishmentId("cabinet")
TABLE = inami.InamiTable.default()
TRAINEE_CODES = sorted(code for (_, code), c in TABLE.competences.items() if c.requires_supervisor)
KNOWN_CODES = sorted({code for _, code in TABLE.competences})
COUNTRIES = ["BE", "FR", "LU", "NL"]


# -- B4: a trainee needs a recognised-GP supervisor ---------------------------------------------


def _practice():
    """A general practice with an administrator, a recognised GP, and a member to save."""
    practice = sample_practice(establishment_id=CABINET)
    gp = practice.member("Camille", "Exemple", "physician")
    member = practice.member("Noa", "Exemple", "physician")
    supervisor = practice.profiles.save_practitioner(
        actor=practice.owner.id,
        establishment_id=CABINET,
        user_id=gp,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": sample_inami("003")},
        addresses=[sample_workplace()],
    )
    assert supervisor.is_recognised_general_practitioner
    return (
        practice.store,
        practice.profiles,
        practice.owner.id,
        gp,
        member,
        supervisor.inami.person_key,
    )


@st.composite
def _physician_heads(draw):
    """The first eight digits of a physician's INAMI number (first digit 1)."""
    first_six = "1" + draw(st.text(string.digits, min_size=5, max_size=5))
    return first_six + inami.check_digits(first_six, draw(st.sampled_from(inami.MODULI)))


_CODES = st.sampled_from(KNOWN_CODES) | st.text(string.digits, min_size=3, max_size=3)
_HEADS = _physician_heads() | inami_numbers(short=True)


@settings(max_examples=50)
@given(head=_HEADS, code=_CODES)
def test_a_gp_without_supervisor_is_refused_exactly_when_the_inami_code_is_a_trainees(head, code):
    # B4: the competence code decides; 005 and 006 mark GP trainees.
    number = head + code
    parsed = inami.parse(number)
    _, profiles, owner, _, member, supervisor_key = _practice()
    assume(parsed.person_key != supervisor_key)
    try:
        profiles.save_practitioner(
            actor=owner,
            establishment_id=CABINET,
            user_id=member,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": number},
            addresses=[sample_workplace()],
        )
    except PractitionerRejected as error:
        codes = error.codes
    else:
        codes = ()
    assert ("practitioner.supervisor_required" in codes) is parsed.requires_supervisor
    if parsed.profession_digit == "1" and not parsed.requires_supervisor:
        assert codes == ()  # a physician's number that is no trainee's is accepted


@settings(max_examples=50)
@given(head=_physician_heads(), code=st.sampled_from(TRAINEE_CODES))
def test_a_trainee_with_a_recognised_gp_supervisor_is_accepted(head, code):
    # B4
    store, profiles, owner, gp, member, supervisor_key = _practice()
    assume(head != supervisor_key)
    saved = profiles.save_practitioner(
        actor=owner,
        establishment_id=CABINET,
        user_id=member,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": head + code},
        addresses=[sample_workplace()],
        supervisor=gp,
    )
    assert saved.requires_supervisor
    with store.unit_of_work() as uow:
        assert uow.memberships.get(CABINET, member).supervisor == gp
    assert [
        m.user_id for m in profiles.trainees(actor=owner, establishment_id=CABINET, supervisor=gp)
    ] == [member]


def test_trainee_codes_include_the_gp_trainee_codes():
    # B4: the table the properties draw from knows 005 and 006
    assert {"005", "006"} <= set(TRAINEE_CODES)


# -- A7: initials -------------------------------------------------------------------------------

_NAME_CHARS = st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo"]) | st.sampled_from(" -'")
_NAMES = st.text(_NAME_CHARS, max_size=30)
# Letters whose case mapping changes length or adds a combining mark (İ → i̇, ǰ → J̌, ß → SS).
_SPECIAL_CASING = "İǰßŉﬁΐ"
_LATIN_NAMES = st.text(string.ascii_letters + "éèçöïÉ" + _SPECIAL_CASING + " -'", max_size=30)
_ANY_NAMES = _LATIN_NAMES | _NAMES


@st.composite
def _crowded(draw):
    """Names, and taken initials crowded around what they derive (earlier members' picks)."""
    first, last = draw(_ANY_NAMES), draw(_ANY_NAMES)
    taken = {initials_policy.key(i) for i in draw(st.lists(initials(), max_size=3))}
    for _ in range(draw(st.integers(0, 12))):
        taken.add(initials_policy.key(initials_policy.nearest_free(first, last, taken=taken)))
    return first, last, frozenset(taken)


@given(names=_crowded(), wanted=st.none() | initials())
def test_nearest_free_never_returns_taken_initials(names, wanted):
    first, last, taken = names
    chosen = initials_policy.nearest_free(first, last, taken=taken, wanted=wanted)
    assert initials_policy.key(chosen) not in taken


@given(names=_crowded(), wanted=st.none() | initials())
def test_nearest_free_returns_the_wanted_or_derived_initials_when_free(names, wanted):
    first, last, taken = names
    base = initials_policy.derive(first, last) if wanted is None else wanted
    chosen = initials_policy.nearest_free(first, last, taken=taken, wanted=wanted)
    assert (chosen == base) is (initials_policy.key(base) not in taken)


@given(names=_crowded(), wanted=st.none() | initials())
def test_nearest_free_is_deterministic(names, wanted):
    first, last, taken = names
    once = initials_policy.nearest_free(first, last, taken=taken, wanted=wanted)
    assert initials_policy.nearest_free(first, last, taken=set(taken), wanted=wanted) == once


@example(names=("Jean", "D\u0130N\u00c7", frozenset({"jd"})), wanted=None)
@given(names=_crowded(), wanted=st.none() | initials())
def test_nearest_free_initials_pass_the_initials_check(names, wanted):
    # A7: what add_member stores, and what set_initials suggests, set_initials accepts
    first, last, taken = names
    chosen = initials_policy.nearest_free(first, last, taken=taken, wanted=wanted)
    assert initials_policy.clean(chosen) == (chosen, [])


def test_nearest_free_stays_unique_past_a_hundred_namesakes():
    taken: set[str] = set()
    for _ in range(130):
        chosen = initials_policy.nearest_free("Jean", "Dupont", taken=taken)
        assert initials_policy.key(chosen) not in taken
        assert initials_policy.clean(chosen) == (chosen, [])
        taken.add(initials_policy.key(chosen))


@pytest.mark.parametrize(
    ("first", "last", "taken"),
    [
        ("\u01f0an", "Dupont", ()),  # derive: "J̌D", J and a combining caron
        ("\u0390\u03c9\u03bd", "Exemple", ()),  # derive: "Ϊ́E", two combining marks
        ("Jean", "D\u0130N\u00c7", ("JD",)),  # nearest_free: "JDi̇", i and a combining dot
        ("Jean", "D\u0130n\u00e7", ("JD",)),
    ],
)
def test_initials_from_names_with_special_casing_pass_the_initials_check(first, last, taken):
    # A7: add_member stores these initials; set_initials must accept them back
    derived = initials_policy.derive(first, last)
    assert initials_policy.clean(derived) == (derived, [])
    keys = {initials_policy.key(t) for t in taken}
    chosen = initials_policy.nearest_free(first, last, taken=keys)
    assert initials_policy.clean(chosen) == (chosen, [])


@example(first="\u01f0an", last="Dupont")
@given(first=_ANY_NAMES, last=_ANY_NAMES)
def test_derived_initials_are_one_to_eight_upper_case_letters(first, last):
    derived = initials_policy.derive(first, last)
    assert 1 <= len(derived) <= initials_policy.MAX_LENGTH
    assert all(c.isalpha() for c in derived)
    # Upper case, except a letter whose capital needs a combining mark ("ǰ"): kept as typed.
    for char in derived:
        capital = unicodedata.normalize("NFC", char.upper())
        assert capital == char or len(capital) != 1


_WORDS = st.lists(
    st.tuples(st.sampled_from(string.ascii_uppercase), st.text(string.ascii_lowercase, max_size=8)),
    min_size=1,
    max_size=4,
).map(lambda parts: [head + tail for head, tail in parts])


@given(first=_WORDS, last=_WORDS, separator=st.sampled_from([" ", "-", " - ", "'"]))
def test_derived_initials_take_the_first_letter_of_every_part(first, last, separator):
    derived = initials_policy.derive(separator.join(first), " ".join(last))
    assert derived == "".join(word[0] for word in first + last)[: initials_policy.MAX_LENGTH]


# -- C7: logos ------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RAW = st.one_of(
    st.binary(max_size=64),
    st.binary(max_size=64).map(lambda b: _PNG_SIGNATURE + b),
    st.binary(max_size=64).map(lambda b: _PNG_SIGNATURE + b"\x00\x00\x00\x0dIHDR" + b),
    st.binary(max_size=64).map(lambda b: b"\xff\xd8\xff" + b),
    st.binary(max_size=64).map(lambda b: b"\xff\xd8\xff" + b + b"\xff\xd9"),
)
_OBJECTS = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=20),
    st.lists(st.integers(0, 255), max_size=8),
    st.binary(max_size=16).map(bytearray),
    st.binary(max_size=16).map(memoryview),
    st.just(object()),
)


@given(raw=_RAW | _OBJECTS)
def test_check_logo_never_raises_and_answers_a_logo_or_its_problems(raw):
    logo, problems = check_logo(raw)
    if logo is not None:
        assert problems == []
        return
    assert problems
    assert all(code.startswith("logo.") for code, _, _ in problems)


@given(
    media_type=st.sampled_from(["image/png", "image/jpeg"]),
    width=st.integers(16, 2048),
    height=st.integers(16, 2048),
    data=st.data(),
)
def test_every_drawn_logo_is_accepted_with_its_dimensions(media_type, width, height, data):
    raw = data.draw(logos(media_type, width=width, height=height))
    logo, problems = check_logo(raw)
    assert problems == []
    assert logo is not None
    assert (logo.media_type, logo.width, logo.height) == (media_type, width, height)
    assert logo.data == raw


@given(data=st.data())
def test_a_truncated_logo_is_refused(data):
    raw = data.draw(logos())
    cut = data.draw(st.integers(0, len(raw) - 1))
    logo, problems = check_logo(raw[:cut])
    assert logo is None
    assert problems


# -- B1, C7: contact details ----------------------------------------------------------------------

_TEXT = st.text(max_size=40) | st.sampled_from(["+32 81 22 33 44", "\u202e081", "0\x0081", "☎"])
_COUNTRY_ARGUMENT = st.sampled_from(COUNTRIES) | st.text(max_size=4)
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@given(raw=_TEXT | _OBJECTS, country=_COUNTRY_ARGUMENT)
def test_contact_cleaners_never_raise(raw, country):
    for value, problems in (
        contact.clean_phone(raw, country=country),
        contact.clean_postal_code(raw, country=country),
        contact.clean_country(raw),
    ):
        assert isinstance(value, str)
        assert all(isinstance(code, str) for code, _, _ in problems)


_PHONE_LIKE = st.text("0123456789 +-./()", max_size=20)
_WRITTEN_PHONES = st.sampled_from(COUNTRIES).flatmap(phone_numbers)


@given(raw=_WRITTEN_PHONES | _PHONE_LIKE | _TEXT, country=_COUNTRY_ARGUMENT)
def test_an_accepted_phone_is_e164_and_stays_itself(raw, country):
    e164, problems = contact.clean_phone(raw, country=country)
    if not problems:
        assert _E164.fullmatch(e164)
        assert contact.clean_phone(e164, country=country) == (e164, [])


@pytest.mark.parametrize("country", COUNTRIES)
@given(data=st.data())
def test_a_national_phone_becomes_e164_that_stays_itself_whatever_the_country(country, data):
    e164, problems = contact.clean_phone(data.draw(phone_numbers(country)), country=country)
    assert problems == []
    assert _E164.fullmatch(e164)
    other = data.draw(st.sampled_from(COUNTRIES))
    assert contact.clean_phone(e164, country=other) == (e164, [])


# -- B2, B3: professions --------------------------------------------------------------------------


@given(
    product=st.sampled_from(ProductKind),
    profession=st.sampled_from(Profession),
    country=st.sampled_from(COUNTRIES) | st.from_regex(r"[A-Z]{2}", fullmatch=True),
)
def test_every_rule_requires_only_known_identifier_kinds(product, profession, country):
    rules = PROFESSION_RULES[product]
    rule = rules.rule(profession, country)
    assert rule.profession is profession
    assert {kind for group in rule.required for kind in group} <= set(IDENTIFIER_KINDS)
    assert all(group for group in rule.required)
    if not rules.offers(profession):
        assert rule.required == ()
        assert not rule.pays_license


# -- B4, B6: billing ------------------------------------------------------------------------------

_WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_IBANS = belgian_ibans().map(iban.parse)
_BCE = bce_numbers().map(bce.parse)


@st.composite
def _billing(draw, *, account=None, enterprise=None):
    return BillingData(
        company_name=draw(st.sampled_from(["", "SRL Cabinet Exemple", "Dr Exemple"])),
        enterprise_number=draw(enterprise if enterprise is not None else st.none() | _BCE),
        conventioned=draw(st.booleans()),
        iban=draw(account if account is not None else st.none() | _IBANS),
    )


@st.composite
def _practitioners(draw, user_id, *, codes, billing):
    head = draw(_physician_heads())
    return Practitioner(
        user_id=UserId(user_id),
        profession=Profession.GENERAL_PRACTITIONER,
        country="BE",
        created_at=_WHEN,
        inami=inami.parse(head + draw(codes)),
        billing=draw(billing),
    )


_NOT_TRAINEE_CODES = _CODES.filter(lambda code: code not in TRAINEE_CODES)


@given(
    trainee=_practitioners("trainee", codes=st.sampled_from(TRAINEE_CODES), billing=_billing()),
    supervisor=_practitioners(
        "supervisor",
        codes=_NOT_TRAINEE_CODES,
        billing=_billing(account=_IBANS, enterprise=_BCE),
    ),
    shared=st.none() | _IBANS,
)
def test_a_supervised_trainee_always_bills_with_the_supervisors_data(trainee, supervisor, shared):
    identity = resolve_billing(
        trainee, establishment_id=CABINET, supervisor=supervisor, trainee_account=shared
    )
    assert identity.performer == trainee.user_id
    assert identity.account_holder == supervisor.user_id
    assert identity.via_supervisor
    assert identity.enterprise_number == supervisor.billing.enterprise_number
    assert identity.company_name == supervisor.billing.company_name
    assert identity.iban == (shared if shared is not None else supervisor.billing.iban)
    assert identity.shared_trainee_account is (shared is not None)
    assert identity.conventioned is trainee.billing.conventioned  # always the performer's own


@given(
    practitioner=_practitioners("gp", codes=_NOT_TRAINEE_CODES, billing=_billing(account=_IBANS)),
    supervisor=st.none()
    | _practitioners(
        "supervisor", codes=_NOT_TRAINEE_CODES, billing=_billing(account=_IBANS, enterprise=_BCE)
    ),
    shared=st.none() | _IBANS,
)
def test_a_practitioner_who_is_no_trainee_always_bills_on_their_own(
    practitioner, supervisor, shared
):
    identity = resolve_billing(
        practitioner, establishment_id=CABINET, supervisor=supervisor, trainee_account=shared
    )
    assert identity.account_holder == practitioner.user_id
    assert not identity.via_supervisor
    assert identity.iban == practitioner.billing.iban
    assert identity.enterprise_number == practitioner.billing.enterprise_number
    assert identity.company_name == practitioner.billing.company_name
    assert not identity.shared_trainee_account
