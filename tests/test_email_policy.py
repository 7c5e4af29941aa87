"""E-mail addresses: validation, uniqueness key and generic-address advice (A1-A3)."""

from __future__ import annotations

import email_validator
import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import EmailAddress, EmailPolicy, EmailRejected, InvalidConfiguration
from practiceid.testing.strategies import email_variants, emails

POLICY = EmailPolicy()


def test_address_differing_only_by_case_is_the_same_address_a2():
    assert POLICY.parse("Dr.Dupont@Cabinet.BE") == POLICY.parse("dr.dupont@cabinet.be")


def test_display_form_keeps_the_local_part_case_and_lowers_the_domain():
    assert POLICY.parse(" Dr.Dupont@Cabinet.BE ").address == "Dr.Dupont@cabinet.be"


def test_internationalized_domain_in_unicode_or_punycode_is_one_address():
    assert POLICY.parse("dr@café.be") == POLICY.parse("dr@xn--caf-dma.be")


def test_full_width_local_part_folds_to_ascii_for_uniqueness():
    assert POLICY.parse("ｆｏｏ@cabinet.be").key == "foo@cabinet.be"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not-an-address", "email.invalid"),
        ("a@b", "email.invalid"),
        ("dr@localhost", "email.invalid"),
        ("dr@cabinet.test", "email.invalid"),
        ("a\x00b@cabinet.be", "email.invalid"),
        ("\ud800@cabinet.be", "email.invalid"),
        ("x" * 300 + "@cabinet.be", "email.too_long"),
        (None, "email.not_text"),
        (b"a@cabinet.be", "email.not_text"),
    ],
)
def test_refuses_with_a_coded_violation(raw, code):
    with pytest.raises(EmailRejected) as raised:
        POLICY.parse(raw)
    assert raised.value.code == "email.rejected"
    assert raised.value.codes == (code,)
    assert POLICY.check(raw)[0].code == code


def test_non_ascii_local_part_can_be_refused():
    assert EmailPolicy(allow_smtputf8=False).check("jöhn@cabinet.be")[0].code == "email.invalid"
    assert EmailPolicy().check("jöhn@cabinet.be") == ()


@pytest.mark.parametrize(
    "raw",
    [
        "info@cabinet.be",
        "INFO@cabinet.be",
        "secrétariat@cabinet.be",
        "secretariaat@praktijk.be",
        "contact+rdv@cabinet.fr",
        "accueil.bruxelles@cabinet.be",
    ],
)
def test_generic_address_is_accepted_with_a_notice_a3(raw):
    notices = POLICY.notices(POLICY.parse(raw))
    assert [n.code for n in notices] == ["email.generic_address"]
    assert notices[0].field == "email"


@pytest.mark.parametrize("raw", ["jeanne.dupont@cabinet.be", "dr.info-med@cabinet.be"])
def test_personal_address_has_no_notice(raw):
    assert POLICY.notices(POLICY.parse(raw)) == ()


def test_generic_list_is_configurable_per_product():
    policy = EmailPolicy(generic_local_parts={"labo"})
    assert policy.notices(policy.parse("labo@cabinet.be"))
    assert policy.notices(policy.parse("info@cabinet.be")) == ()


def test_generic_list_must_be_folded_already():
    with pytest.raises(InvalidConfiguration):
        EmailPolicy(generic_local_parts={"Info"})


def test_deliverability_check_is_opt_in_and_reported_as_undeliverable(monkeypatch):
    seen = {}

    def fake_validate(address, **options):
        seen.update(options)
        raise email_validator.EmailUndeliverableError("The domain name does not exist.")

    monkeypatch.setattr(email_validator, "validate_email", fake_validate)
    error = EmailPolicy(check_deliverability=True).check("a@nowhere-exemple.be")[0]
    assert error.code == "email.undeliverable"
    assert seen["check_deliverability"] is True


def test_default_policy_does_no_dns_lookup(monkeypatch):
    seen = {}
    original = email_validator.validate_email

    def spy(address, **options):
        seen.update(options)
        return original(address, **options)

    monkeypatch.setattr(email_validator, "validate_email", spy)
    POLICY.parse("a@cabinet.be")
    assert seen["check_deliverability"] is False


def test_email_address_parts():
    address = EmailAddress("Dr.Dupont@cabinet.be")
    assert (address.local_part, address.domain, str(address)) == (
        "Dr.Dupont",
        "cabinet.be",
        "Dr.Dupont@cabinet.be",
    )


# -- properties --------------------------------------------------------------------------


@given(st.data())
def test_every_case_variant_of_an_address_collides_with_it(data):
    raw = data.draw(emails())
    assert POLICY.parse(data.draw(email_variants(raw))) == POLICY.parse(raw)


@given(emails())
def test_parsing_is_idempotent(raw):
    once = POLICY.parse(raw)
    assert POLICY.parse(once.address) == once
    assert POLICY.parse(once.address).address == once.address


@given(emails(), emails())
def test_two_addresses_collide_iff_their_keys_are_equal(a, b):
    assert (POLICY.parse(a) == POLICY.parse(b)) == (POLICY.parse(a).key == POLICY.parse(b).key)


@given(st.one_of(st.text(), st.text(min_size=250, max_size=400), st.binary(), st.none()))
def test_no_input_raises_anything_but_email_rejected(raw):
    try:
        POLICY.parse(raw)
    except EmailRejected as error:
        assert error.violations
