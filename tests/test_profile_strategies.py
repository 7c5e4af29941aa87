"""The shipped profile strategies draw what the profile policies accept (A7, B1-B4, C7)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid import (
    EmailPolicy,
    EstablishmentId,
    InvalidConfiguration,
    ProductKind,
)
from practiceid.policies import contact
from practiceid.policies import initials as initials_policy
from practiceid.policies.contact import AddressKind
from practiceid.policies.identifiers import inami
from practiceid.policies.logo import MAX_SIDE, MIN_SIDE, check_logo
from practiceid.policies.professions import IDENTIFIER_KINDS, PROFESSION_RULES, Profession
from practiceid.testing import sample_practice
from practiceid.testing.strategies import (
    addresses,
    initials,
    logos,
    phone_numbers,
    postal_codes,
    practitioner_forms,
)

COUNTRIES = ["BE", "FR", "LU", "NL"]


# -- initials (A7) ------------------------------------------------------------------------------


@given(initials())
def test_initials_are_accepted_unchanged_by_the_initials_policy(value):
    assert initials_policy.clean(value) == (value, [])
    assert 1 <= len(value) <= initials_policy.MAX_LENGTH
    assert value[0].isalpha()


# -- phone numbers and postal codes (B1, C7) ----------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
@given(data=st.data())
def test_phone_numbers_are_valid_national_numbers_of_their_country(country, data):
    number = data.draw(phone_numbers(country))
    e164, problems = contact.clean_phone(number, country=country)
    assert problems == []
    assert e164.startswith("+")
    assert not number.startswith("+")  # national form, not international


@pytest.mark.parametrize(("country", "prefix"), [("BE", "+324"), ("FR", "+33")])
@given(data=st.data())
def test_mobile_phone_numbers_are_mobile(country, prefix, data):
    import phonenumbers  # noqa: PLC0415 - only this test inspects the number type

    number = data.draw(phone_numbers(country, mobile=True))
    e164, _ = contact.clean_phone(number, country=country)
    assert e164.startswith(prefix)
    assert phonenumbers.number_type(phonenumbers.parse(e164)) in {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }


@pytest.mark.parametrize("country", COUNTRIES)
@given(data=st.data())
def test_postal_codes_are_accepted_unchanged_for_their_country(country, data):
    code = data.draw(postal_codes(country))
    assert contact.clean_postal_code(code, country=country) == (code, [])


@pytest.mark.parametrize("strategy", [phone_numbers, postal_codes, addresses])
@pytest.mark.parametrize("country", ["DE", "", "Belgique", None, 32])
def test_contact_strategies_refuse_an_unsupported_country(strategy, country):
    with pytest.raises(InvalidConfiguration):
        strategy(country)


# -- addresses (B1, C7) ---------------------------------------------------------------------------


def _parse_address(address):
    """Each field through the policy the profile service applies to it."""
    country, problems = contact.clean_country(address["country"])
    assert problems == []
    assert contact.clean_postal_code(address["postal_code"], country=country)[1] == []
    if address["phone"] is not None:
        assert contact.clean_phone(address["phone"], country=country)[1] == []
    if address["email"] is not None:
        assert EmailPolicy().check(address["email"]) == ()
    assert AddressKind(address["kind"])
    assert address["street"].strip() == address["street"]
    assert address["city"]


@pytest.mark.parametrize("country", COUNTRIES)
@given(data=st.data())
def test_addresses_hold_fields_the_contact_policy_accepts(country, data):
    address = data.draw(addresses(country))
    assert set(address) == {"kind", "street", "postal_code", "city", "country", "email", "phone"}
    assert address["country"] == country
    _parse_address(address)


@given(addresses(kind="workplace", reachable=True))
def test_reachable_addresses_have_an_email_and_a_phone(address):
    assert address["kind"] == "workplace"
    assert address["email"] is not None
    assert address["phone"] is not None


@given(addresses(reachable=False))
def test_unreachable_addresses_lack_an_email_or_a_phone(address):
    assert address["email"] is None or address["phone"] is None


def test_addresses_refuse_an_unknown_kind():
    with pytest.raises(InvalidConfiguration):
        addresses(kind="office")


def test_addresses_refuse_a_reachable_that_is_not_a_boolean():
    with pytest.raises(InvalidConfiguration):
        addresses(reachable="yes")  # type: ignore[arg-type]


# -- logos (C7) -----------------------------------------------------------------------------------


@given(logos())
def test_logos_are_accepted_by_the_logo_check(data):
    logo, problems = check_logo(data)
    assert problems == []
    assert logo is not None
    assert MIN_SIDE <= logo.width <= MAX_SIDE
    assert MIN_SIDE <= logo.height <= MAX_SIDE


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg"])
@given(data=st.data())
def test_logos_have_the_media_type_asked_for(media_type, data):
    logo, _ = check_logo(data.draw(logos(media_type)))
    assert logo is not None
    assert logo.media_type == media_type


@pytest.mark.parametrize("media_type", ["image/gif", "png", "image/svg+xml"])
def test_logos_refuse_an_unknown_media_type(media_type):
    with pytest.raises(InvalidConfiguration):
        logos(media_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("side", [MIN_SIDE - 1, MAX_SIDE + 1, 0, -5, True, 100.0, "100"])
def test_logos_refuse_a_side_outside_the_limits(side):
    with pytest.raises(InvalidConfiguration):
        logos(width=side)
    with pytest.raises(InvalidConfiguration):
        logos(height=side)


# -- practitioner forms (B1-B4) -------------------------------------------------------------------


def _member_of(product: ProductKind):
    practice = sample_practice(product)
    added = practice.member("Camille", "Exemple")
    return practice.profiles, practice.owner.id, added


@pytest.mark.parametrize("product", list(ProductKind))
@pytest.mark.parametrize("country", COUNTRIES)
@settings(max_examples=15)
@given(data=st.data())
def test_practitioner_forms_are_accepted_by_save_practitioner(product, country, data):
    form = data.draw(practitioner_forms(product, country))
    profiles, owner, member = _member_of(product)
    saved = profiles.save_practitioner(
        actor=owner, establishment_id=EstablishmentId("cabinet"), user_id=member, **form
    )
    assert saved.profession.value == form["profession"]
    assert saved.country == country
    assert saved.workplace is not None  # B1
    assert not saved.requires_supervisor  # B4: no supervisor was given
    assert set(saved.identifiers) == set(form["identifiers"])


@pytest.mark.parametrize("product", list(ProductKind))
@settings(max_examples=50)
@given(data=st.data())
def test_practitioner_forms_carry_what_the_profession_requires(product, data):
    country = data.draw(st.sampled_from(COUNTRIES))
    form = data.draw(practitioner_forms(product, country))
    profession = Profession(form["profession"])
    rules = PROFESSION_RULES[product]
    assert rules.offers(profession)
    rule = rules.rule(profession, country)
    assert set(form["identifiers"]) <= set(IDENTIFIER_KINDS)
    for group in rule.required:  # B2, B3
        assert not set(group).isdisjoint(form["identifiers"])
    if "inami" in form["identifiers"]:
        number = inami.parse(form["identifiers"]["inami"])
        assert not number.requires_supervisor
        assert not rule.inami_digits or number.profession_digit in rule.inami_digits


@settings(max_examples=50)
@given(practitioner_forms(ProductKind.DENTAL, "FR", profession="dentist"))
def test_practitioner_forms_keep_the_profession_asked_for(form):
    assert form["profession"] == "dentist"
    assert "rpps" in form["identifiers"]  # B3: French dental surgeons carry an RPPS number


@pytest.mark.parametrize(
    ("product", "country", "profession"),
    [
        ("pharmacy", "BE", None),
        (ProductKind.VETERINARY, "BE", "general_practitioner"),
        (ProductKind.GENERAL_PRACTICE, "BE", "astronaut"),
        (ProductKind.GENERAL_PRACTICE, "DE", None),
    ],
)
def test_practitioner_forms_refuse_what_cannot_be_drawn(product, country, profession):
    with pytest.raises(InvalidConfiguration):
        practitioner_forms(product, country, profession=profession)
