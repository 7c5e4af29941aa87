"""Unit tests of the pure policies behind profiles (A7, B1-B5, C7, E3).

Contact data (B1, C7), logos (C7), initials (A7), professions per product (B2, B3, E3) and
eHealth certificates (B5), without any service or store. Every name, number, address and
image here is made up.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from practiceid import (
    PROFESSION_RULES,
    EstablishmentProfileRejected,
    InvalidConfiguration,
    ProductKind,
    Profession,
    ProfessionRule,
    ProfessionRules,
)
from practiceid.policies import initials
from practiceid.policies.contact import (
    Address,
    AddressKind,
    clean_country,
    clean_phone,
    clean_postal_code,
    format_phone,
)
from practiceid.policies.ehealth import read_certificate
from practiceid.policies.email import EmailAddress
from practiceid.policies.logo import MAX_BYTES, MAX_SIDE, MIN_SIDE, Logo, check_logo, parse_logo
from practiceid.testing import sample_certificate, sample_jpeg, sample_png

# -- contact: countries, postal codes, phones, addresses (B1, C7) ----------------------------


@pytest.mark.parametrize(("raw", "expected"), [("be", "BE"), (" fr ", "FR"), ("Lu", "LU")])
def test_a_country_is_an_upper_cased_two_letter_code_b1(raw: str, expected: str):
    assert clean_country(raw) == (expected, [])


@pytest.mark.parametrize("raw", ["BEL", "Belgique", "B1", "", "ÉS", "B E"])
def test_a_country_that_is_not_two_ascii_letters_is_refused_b1(raw: str):
    _, problems = clean_country(raw)
    assert [code for code, _, _ in problems] == ["address.invalid_country"]


@pytest.mark.parametrize("raw", [None, 32, b"BE"])
def test_a_country_that_is_not_text_is_refused_b1(raw: object):
    assert clean_country(raw) == (
        "",
        [("address.not_text", "the country must be text", {"type": type(raw).__name__})],
    )


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("1000", "BE", "1000"),
        ("9999", "BE", "9999"),
        (" 5000 ", "BE", "5000"),
        ("50 00", "BE", "5000"),
        ("75 008", "FR", "75008"),
        ("01000", "FR", "01000"),
        ("1234", "LU", "1234"),
        ("1234 ab", "NL", "1234AB"),
        ("sw1a 1aa", "GB", "SW1A 1AA"),
        ("10115", "DE", "10115"),
        ("00-950", "PL", "00-950"),
    ],
)
def test_a_postal_code_is_checked_for_its_country_b1(raw: str, country: str, expected: str):
    assert clean_postal_code(raw, country=country) == (expected, [])


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("0999", "BE"),
        ("999", "BE"),
        ("10000", "BE"),
        ("1OOO", "BE"),
        ("7500", "FR"),
        ("750080", "FR"),
        ("2A004", "FR"),
        ("12345", "LU"),
        ("0123AB", "NL"),
        ("1234", "NL"),
        ("1", "DE"),
        ("ABCDEFGHIJK", "DE"),
        ("#1000", "DE"),
        ("１０００", "BE"),  # full-width digits
        ("١٠٠٠", "BE"),  # Arabic-Indic digits
        ("٠١٢٣٤", "DE"),
        ("७५००८", "FR"),  # Devanagari digits
    ],
)
def test_a_postal_code_that_does_not_fit_is_refused_b1(raw: str, country: str):
    _, problems = clean_postal_code(raw, country=country)
    assert [code for code, _, _ in problems] == ["address.invalid_postal_code"]
    assert problems[0][2]["country"] == country


def test_a_postal_code_that_is_not_text_is_refused_b1():
    _, problems = clean_postal_code(1000, country="BE")
    assert [code for code, _, _ in problems] == ["address.not_text"]


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("02 555 12 34", "BE", "+3225551234"),
        ("081 22 33 44", "BE", "+3281223344"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("02-555.12.34", "BE", "+3225551234"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 1 23 45 67 89", "BE", "+33123456789"),  # international: its own country
        ("+32 2 555 12 34", "FR", "+3225551234"),
        ("0032 2 555 12 34", "BE", "+3225551234"),
        ("+32 2 555 12 34", "", "+3225551234"),  # no country needed for an international form
    ],
)
def test_a_phone_number_is_stored_in_e164_b1(raw: str, country: str, expected: str):
    assert clean_phone(raw, country=country) == (expected, [])


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("02 555 12 34", "FR"),  # a Belgian national number is not French
        ("01 23 45 67 89", "BE"),  # nor a French one Belgian
        ("+32 1 23 45 67 89", "FR"),  # international, invalid in Belgium
        ("12", "BE"),
        ("abc", "BE"),
        ("+32 1", "BE"),
        ("02 555 12 34", ""),  # a national number without a country
    ],
)
def test_an_invalid_phone_number_is_refused_b1(raw: str, country: str):
    value, problems = clean_phone(raw, country=country)
    assert [code for code, _, _ in problems] == ["phone.invalid"]
    assert value == raw  # what was typed, not a made-up E.164 number


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "phone.not_text"),
        (3225551234, "phone.not_text"),
        (b"02 555 12 34", "phone.not_text"),
        ("02\x00555 12 34", "phone.invalid_character"),
        ("02 555 12 34\u202e", "phone.invalid_character"),
        ("02 555\n12 34", "phone.invalid_character"),
        ("0" * 33, "phone.too_long"),
        ("", "phone.required"),
    ],
)
def test_a_phone_number_that_is_not_clean_text_is_refused_b1(raw: object, code: str):
    _, problems = clean_phone(raw, country="BE")
    assert [c for c, _, _ in problems] == [code]


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+3225551234", "+32 2 555 12 34"),
        ("+3281223344", "+32 81 22 33 44"),
        ("+33123456789", "+33 1 23 45 67 89"),
    ],
)
def test_a_stored_phone_number_is_printed_in_international_form_c7(e164: str, expected: str):
    assert format_phone(e164) == expected


def test_an_address_is_reachable_with_both_an_email_and_a_phone_b1():
    bare = Address(AddressKind.WORKPLACE, "Rue du Parc 1", "5000", "Namur", "BE")
    email = EmailAddress("accueil@cabinet-exemple.be")
    assert not bare.reachable
    assert not Address(**{**_fields(bare), "email": email}).reachable
    assert not Address(**{**_fields(bare), "phone": "+3281223344"}).reachable
    assert Address(**{**_fields(bare), "email": email, "phone": "+3281223344"}).reachable


def _fields(address: Address) -> dict[str, object]:
    return {
        "kind": address.kind,
        "street": address.street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": address.country,
    }


def test_an_address_prints_street_then_postal_code_and_city_then_country_c7():
    address = Address(AddressKind.WORKPLACE, "Rue du Parc 1", "5000", "Namur", "BE")
    assert address.lines() == ("Rue du Parc 1", "5000 Namur", "BE")


def test_an_address_leaves_empty_lines_out_c7():
    assert Address(AddressKind.OTHER, "", "", "Namur", "").lines() == ("Namur",)
    assert Address(AddressKind.OTHER, "Rue 1", "5000", "", "BE").lines() == (
        "Rue 1",
        "5000",
        "BE",
    )
    assert Address(AddressKind.OTHER, "", "", "", "").lines() == ()


# -- logo (C7) --------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def _png(width: int = 120, height: int = 40, *, crc: int | None = None, end: bool = True) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header, crc=crc)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + (_chunk(b"IEND", b"") if end else b"")
    )


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


_APP0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
_SOF0 = _segment(0xC0, struct.pack(">BHHB", 8, 40, 120, 1) + b"\x01\x11\x00")
_SOS = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00" * 16
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"


def _codes(raw: object) -> list[str]:
    logo, problems = check_logo(raw)
    assert (logo is None) == bool(problems)
    return [code for code, _, _ in problems]


def test_the_sample_images_are_accepted_with_their_dimensions_c7():
    png, _ = check_logo(sample_png(200, 80))
    jpeg, _ = check_logo(sample_jpeg(300, 100))
    assert png is not None
    assert (png.media_type, png.width, png.height) == ("image/png", 200, 80)
    assert jpeg is not None
    assert (jpeg.media_type, jpeg.width, jpeg.height) == ("image/jpeg", 300, 100)


def test_a_jpeg_assembled_here_is_accepted_c7():
    logo, problems = check_logo(_SOI + _APP0 + _SOF0 + _SOS + _EOI)
    assert problems == []
    assert logo is not None
    assert (logo.width, logo.height) == (120, 40)


@pytest.mark.parametrize("raw", ["logo.png", None, 42, [0x89, 0x50]])
def test_a_logo_must_be_bytes_c7(raw: object):
    logo, problems = check_logo(raw)
    assert logo is None
    assert problems == [
        ("logo.not_bytes", "the logo must be the image's bytes", {"type": type(raw).__name__})
    ]


def test_an_empty_logo_is_refused_c7():
    assert _codes(b"") == ["logo.empty"]
    assert _codes(bytearray()) == ["logo.empty"]


def test_a_logo_over_the_size_limit_is_refused_before_it_is_read_c7():
    image = sample_png()
    padded = image + b"\x00" * (MAX_BYTES - len(image) + 1)
    _, problems = check_logo(padded)
    assert problems == [
        ("logo.too_large", f"the logo must be at most {MAX_BYTES} bytes", {"max_bytes": MAX_BYTES})
    ]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GIF89a\x10\x00\x10\x00" + b"\x00" * 32, id="gif"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', id="svg"),
        pytest.param(b'<?xml version="1.0"?><svg/>', id="svg with prolog"),
        pytest.param(bytes(range(256)), id="random"),
        pytest.param(b"BM" + b"\x00" * 60, id="bmp"),
        pytest.param(b"\xff\xd8", id="jpeg soi alone"),
        pytest.param(b"%PDF-1.7", id="pdf"),
    ],
)
def test_anything_but_png_or_jpeg_is_an_unsupported_type_c7(raw: bytes):
    logo, problems = check_logo(raw)
    assert logo is None
    assert problems == [
        (
            "logo.unsupported_type",
            "the logo must be a PNG or JPEG image",
            {"accepted": ("png", "jpeg")},
        )
    ]


@pytest.mark.parametrize(
    ("raw", "image_format"),
    [
        pytest.param(_png(crc=0xDEADBEEF), "png", id="png with a wrong IHDR CRC"),
        pytest.param(_png(end=False), "png", id="png truncated without IEND"),
        pytest.param(sample_png()[:-1], "png", id="png missing its last byte"),
        pytest.param(b"\x89PNG\r\n\x1a\n", "png", id="png signature alone"),
        pytest.param(
            b"\x89PNG\r\n\x1a\n" + _chunk(b"IDAT", b"") + _chunk(b"IEND", b""),
            "png",
            id="png without IHDR first",
        ),
        pytest.param(_SOI + _APP0 + _SOF0 + _SOS, "jpeg", id="jpeg without EOI"),
        pytest.param(_SOI + _APP0 + _SOS + _EOI, "jpeg", id="jpeg without a frame header"),
        pytest.param(
            _SOI + b"\xff\xe0\x00\x01" + _APP0[4:] + _SOF0 + _SOS + _EOI,
            "jpeg",
            id="jpeg segment length below two",
        ),
        pytest.param(
            _SOI + b"\xff\xe0\x7f\xff" + _APP0[4:] + _SOF0 + _SOS + _EOI,
            "jpeg",
            id="jpeg segment length past the end",
        ),
        pytest.param(
            _SOI + b"\xff\xe0\x00\x05" + _APP0[4:] + _SOF0 + _SOS + _EOI,
            "jpeg",
            id="jpeg segment length into the middle of a segment",
        ),
        pytest.param(_SOI + b"\xff" + _EOI, "jpeg", id="jpeg markers only"),
    ],
)
def test_a_damaged_png_or_jpeg_is_corrupt_c7(raw: bytes, image_format: str):
    logo, problems = check_logo(raw)
    assert logo is None
    assert [(code, params) for code, _, params in problems] == [
        ("logo.corrupt", {"format": image_format})
    ]


@pytest.mark.parametrize(
    ("raw", "width", "height"),
    [
        (sample_png(MIN_SIDE - 1, 40), MIN_SIDE - 1, 40),
        (sample_png(40, MIN_SIDE - 1), 40, MIN_SIDE - 1),
        (sample_jpeg(8, 8), 8, 8),
        (sample_png(0, 0), 0, 0),
    ],
)
def test_a_logo_smaller_than_the_minimum_is_refused_c7(raw: bytes, width: int, height: int):
    _, problems = check_logo(raw)
    assert [(code, params) for code, _, params in problems] == [
        ("logo.too_small", {"width": width, "height": height, "min_side": MIN_SIDE})
    ]


@pytest.mark.parametrize(
    ("raw", "width", "height"),
    [
        (_png(MAX_SIDE + 1, 40), MAX_SIDE + 1, 40),
        (sample_jpeg(40, 3000), 40, 3000),
        (_png(2**31, 2**31), 2**31, 2**31),
    ],
)
def test_a_logo_larger_than_the_maximum_dimensions_is_refused_c7(
    raw: bytes, width: int, height: int
):
    _, problems = check_logo(raw)
    assert [(code, params) for code, _, params in problems] == [
        ("logo.too_large_dimensions", {"width": width, "height": height, "max_side": MAX_SIDE})
    ]


def test_the_dimension_limits_are_inclusive_c7():
    for width, height in ((MIN_SIDE, MIN_SIDE), (MAX_SIDE, MAX_SIDE)):
        logo, problems = check_logo(_png(width, height))
        assert problems == []
        assert logo is not None
        assert (logo.width, logo.height) == (width, height)


@pytest.mark.parametrize("wrap", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_a_bytearray_or_memoryview_is_accepted_as_bytes_c7(wrap: type):
    image = sample_jpeg()
    logo, problems = check_logo(wrap(image))
    assert problems == []
    assert logo is not None
    assert type(logo.data) is bytes
    assert logo.data == image


def test_parse_logo_raises_with_the_field_logo_c7():
    with pytest.raises(EstablishmentProfileRejected) as raised:
        parse_logo(_png(end=False))
    assert raised.value.codes == ("logo.corrupt",)
    assert [v.field for v in raised.value.violations] == ["logo"]
    assert dict(raised.value.violations[0].params) == {"format": "png"}


def test_parse_logo_returns_the_checked_logo_c7():
    image = sample_png(64, 32)
    logo = parse_logo(image)
    assert logo == Logo(data=image, media_type="image/png", width=64, height=32)
    assert logo.size == len(image)
    assert len(logo.sha256) == 64


def test_a_logos_repr_never_contains_its_bytes_c7():
    image = sample_png()
    logo = parse_logo(image)
    for text in (repr(logo), str(logo), f"{logo}"):
        assert "PNG" not in text
        assert "IHDR" not in text
        assert "\\x" not in text
        assert image.hex()[:16] not in text
        assert str(logo.size) in text


# -- initials (A7) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_name", "last_name", "expected"),
    [
        pytest.param("Jean", "Dupont", "JD", id="simple"),
        pytest.param("Jean-Pierre", "Dupont", "JPD", id="hyphenated first name"),
        pytest.param("Jean–Pierre", "Dupont", "JPD", id="en dash"),
        pytest.param("Marie", "Dupont-Durand", "MDD", id="double-barrelled last name"),
        pytest.param("Élodie", "de la Fontaine", "ÉF", id="particles de la"),
        pytest.param("Pieter", "van der Berg", "PB", id="particles van der"),
        pytest.param("Jean-Pierre", "Van den Bossche", "JPVB", id="capital Van"),
        pytest.param("Anne", "d'Hondt", "AH", id="particle d'"),
        pytest.param("Anne", "d’Hondt", "AH", id="particle d with a typographic apostrophe"),
        pytest.param("jean", "dupont", "JD", id="all lower case"),
        pytest.param("jean-pierre", "dupont", "JPD", id="lower-case hyphenated first name"),
        pytest.param("JEAN", "DUPONT", "JD", id="all upper case"),
        pytest.param("  Jean ", " Dupont  ", "JD", id="padded"),
        pytest.param("", "", "M", id="no names"),
        pytest.param("123", "-", "M", id="no letters"),
        pytest.param("Ольга", "Иванова", "ОИ", id="cyrillic"),
        pytest.param("Αλέξανδρος", "Παπαδόπουλος", "ΑΠ", id="greek"),
        pytest.param("يوسف", "العلي", "يا", id="arabic"),
        pytest.param("Anne-Marie-Louise-Claire", "Dupont-Durand-Martin-Lefebvre", "AMLCDDML"),
    ],
)
def test_initials_are_derived_one_letter_per_part_a7(
    first_name: str, last_name: str, expected: str
):
    assert initials.derive(first_name, last_name) == expected


def test_derived_initials_are_capped_at_eight_characters_a7():
    derived = initials.derive("Anne-Marie-Louise-Claire-Sophie", "Dupont-Durand-Martin-Lefebvre")
    assert derived == "AMLCSDDM"
    assert len(derived) == initials.MAX_LENGTH == 8


def test_a_decomposed_name_gives_the_same_initials_as_a_composed_one_a7():
    assert initials.derive("E\u0301lodie", "Martin") == initials.derive("\u00c9lodie", "Martin")


def test_an_all_lower_case_name_gets_the_initials_of_its_capitalised_spelling_a7():
    # "lower-case particles do not give an initial": "dupont" and "durand" are not particles.
    assert initials.derive("marie", "dupont-durand") == initials.derive("Marie", "Dupont-Durand")


def test_an_all_lower_case_name_skips_its_known_particles_a7():
    assert initials.derive("jean", "de la fontaine") == "JF"
    assert initials.derive("sofie", "van der berghe") == "SB"


def test_a_postal_code_pasted_with_a_no_break_space_is_accepted_b1():
    assert clean_postal_code("75\u00a0008", country="FR") == ("75008", [])


def test_a_luxembourg_postal_code_written_with_its_l_prefix_is_accepted_c7():
    assert clean_postal_code("L-1234", country="LU") == ("1234", [])


def test_a_phone_number_with_an_extension_is_refused_rather_than_truncated_b1():
    _, problems = clean_phone("+32 2 555 12 34 ext 5", country="BE")
    assert [code for code, _, _ in problems] == ["phone.extension"]


def test_nearest_free_returns_the_derived_initials_when_free_a7():
    assert initials.nearest_free("Jean", "Dupont", taken=set()) == "JD"
    assert initials.nearest_free("Jean", "Dupont", taken={initials.key("NC")}) == "JD"


def test_nearest_free_adds_last_name_letters_then_first_name_letters_then_numbers_a7():
    order = []
    taken: set[str] = set()
    for _ in range(8):
        free = initials.nearest_free("Jean", "Dupont", taken=taken)
        order.append(free)
        taken.add(initials.key(free))
    assert order == ["JD", "JDu", "JDup", "JDupo", "JeD", "JeaD", "JeanD", "JD2"]


def test_nearest_free_numbers_run_from_two_to_ninety_nine_a7():
    taken = {initials.key(i) for i in ("JD", "JDu", "JDup", "JDupo", "JeD", "JeaD", "JeanD")}
    taken |= {initials.key(f"JD{n}") for n in range(2, 50)}
    assert initials.nearest_free("Jean", "Dupont", taken=taken) == "JD50"


def test_nearest_free_compares_taken_initials_case_insensitively_a7():
    assert initials.nearest_free("Julie", "Durand", taken={initials.key("jd")}) == "JDu"
    taken = {initials.key("JD"), initials.key("JDU")}
    assert initials.nearest_free("Julie", "Durand", taken=taken) == "JDur"


def test_nearest_free_keeps_particles_out_of_the_alternatives_a7():
    taken = {initials.key("ÉF")}
    assert initials.nearest_free("Élodie", "de la Fontaine", taken=taken) == "ÉFo"


def test_nearest_free_keeps_typed_initials_and_offers_only_numbers_for_them_a7():
    assert initials.nearest_free("Jean", "Dupont", taken=set(), wanted="jDu") == "jDu"
    taken = {initials.key("XY")}
    assert initials.nearest_free("Jean", "Dupont", taken=taken, wanted="xy") == "xy2"
    taken |= {initials.key("xy2"), initials.key("XY3")}
    assert initials.nearest_free("Jean", "Dupont", taken=taken, wanted="xy") == "xy4"


def test_nearest_free_numbers_fit_in_eight_characters_a7():
    taken = {initials.key("ABCDEFGH")}
    free = initials.nearest_free("Jean", "Dupont", taken=taken, wanted="ABCDEFGH")
    assert free == "ABCDEFG2"
    assert len(free) <= initials.MAX_LENGTH


@pytest.mark.parametrize(("first_name", "last_name"), [("Jean", "Dupont"), ("Jo", "Li")])
def test_nearest_free_never_returns_taken_initials_even_with_hundreds_taken_a7(
    first_name: str, last_name: str
):
    taken: set[str] = set()
    seen = []
    for _ in range(150):
        free = initials.nearest_free(first_name, last_name, taken=taken)
        assert initials.key(free) not in taken
        assert initials.clean(free) == (free, [])
        taken.add(initials.key(free))
        seen.append(free)
    assert len({initials.key(s) for s in seen}) == 150


def test_nearest_free_skips_numbered_initials_taken_beyond_ninety_nine_a7():
    taken = {initials.key(i) for i in ("JD", "JDu", "JDup", "JDupo", "JeD", "JeaD", "JeanD")}
    taken |= {initials.key(f"JD{n}") for n in range(2, 130)}
    free = initials.nearest_free("Jean", "Dupont", taken=taken)
    assert initials.key(free) not in taken
    assert free == "JD130"


@pytest.mark.parametrize(
    ("one", "other"),
    [("JDu", "JDU"), ("JDu", "jdu"), ("JDu", "ｊｄｕ"), ("ＪＤ", "jd"), ("Strauß", "STRAUSS")],
)
def test_key_folds_case_and_width_a7(one: str, other: str):
    assert initials.key(one) == initials.key(other)


def test_key_tells_different_initials_apart_a7():
    assert initials.key("JD") != initials.key("JDu")
    assert initials.key("É") != initials.key("E")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" JDu ", "JDu"), ("jd", "jd"), ("J.-D.", "J.-D."), ("O'B", "O'B"), ("12", "12")],
)
def test_typed_initials_are_trimmed_and_keep_their_case_a7(raw: str, expected: str):
    assert initials.clean(raw) == (expected, [])


def test_typed_initials_are_nfc_normalised_a7():
    assert initials.clean("E\u0301D") == ("\u00c9D", [])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "initials.required"),
        (" \t ", "initials.required"),
        ("J D", "initials.invalid_character"),
        ("J\tD", "initials.invalid_character"),
        ("J\x00D", "initials.invalid_character"),
        ("J\u200bD", "initials.invalid_character"),
        (".JD", "initials.invalid_character"),
        ("'JD", "initials.invalid_character"),
        ("J/D", "initials.invalid_character"),
        ("J١", "initials.invalid_character"),  # Arabic-Indic digit
        ("ABCDEFGHI", "initials.too_long"),
        (None, "initials.not_text"),
        (42, "initials.not_text"),
        (b"JD", "initials.not_text"),
    ],
)
def test_invalid_typed_initials_are_refused_a7(raw: object, code: str):
    _, problems = initials.clean(raw)
    assert [c for c, _, _ in problems] == [code]


# -- professions (B2, B3, E3) -----------------------------------------------------------------

_P = Profession


@pytest.mark.parametrize(
    ("product", "offered"),
    [
        (
            ProductKind.GENERAL_PRACTICE,
            {
                _P.GENERAL_PRACTITIONER,
                _P.SPECIALIST,
                _P.NURSE,
                _P.PHYSIOTHERAPIST,
                _P.MIDWIFE,
                _P.SECRETARY,
                _P.ASSISTANT,
                _P.OTHER,
            },
        ),
        (
            ProductKind.HOSPITAL,
            {
                _P.GENERAL_PRACTITIONER,
                _P.SPECIALIST,
                _P.DENTIST,
                _P.NURSE,
                _P.PHYSIOTHERAPIST,
                _P.MIDWIFE,
                _P.SECRETARY,
                _P.ASSISTANT,
                _P.OTHER,
            },
        ),
        (ProductKind.VETERINARY, {_P.VETERINARIAN, _P.SECRETARY, _P.ASSISTANT, _P.OTHER}),
        (ProductKind.DENTAL, {_P.DENTIST, _P.SPECIALIST, _P.SECRETARY, _P.ASSISTANT, _P.OTHER}),
    ],
)
def test_each_product_offers_its_professions_b2(product: ProductKind, offered: set[Profession]):
    rules = PROFESSION_RULES[product]
    assert rules.professions == offered
    assert all(rules.offers(p) == (p in offered) for p in Profession)


def test_every_product_has_rules_b2():
    assert set(PROFESSION_RULES) == set(ProductKind)


@pytest.mark.parametrize(
    ("product", "profession", "country", "expected"),
    [
        (ProductKind.GENERAL_PRACTICE, _P.GENERAL_PRACTITIONER, "BE", ((("inami",),), {"1"}, True)),
        (ProductKind.GENERAL_PRACTICE, _P.SPECIALIST, "BE", ((("inami",),), {"1"}, True)),
        (ProductKind.GENERAL_PRACTICE, _P.NURSE, "BE", ((), {"4"}, False)),
        (ProductKind.GENERAL_PRACTICE, _P.MIDWIFE, "BE", ((), {"4"}, False)),
        (ProductKind.GENERAL_PRACTICE, _P.PHYSIOTHERAPIST, "BE", ((), {"5"}, False)),
        (ProductKind.GENERAL_PRACTICE, _P.GENERAL_PRACTITIONER, "FR", ((("rpps",),), set(), True)),
        (ProductKind.GENERAL_PRACTICE, _P.NURSE, "FR", ((("rpps", "adeli"),), set(), False)),
        (ProductKind.GENERAL_PRACTICE, _P.SECRETARY, "BE", ((), set(), False)),
        (ProductKind.HOSPITAL, _P.DENTIST, "BE", ((("inami",),), {"3"}, False)),
        (ProductKind.DENTAL, _P.DENTIST, "FR", ((("rpps",),), set(), True)),
        (ProductKind.DENTAL, _P.DENTIST, "BE", ((("inami",),), {"3"}, True)),
        (ProductKind.DENTAL, _P.ASSISTANT, "FR", ((), set(), False)),
        (ProductKind.VETERINARY, _P.VETERINARIAN, "BE", ((), set(), True)),
        (ProductKind.VETERINARY, _P.SECRETARY, "FR", ((), set(), False)),
    ],
)
def test_profession_rules_per_product_b2_b3_e3(
    product: ProductKind,
    profession: Profession,
    country: str,
    expected: tuple[tuple[tuple[str, ...], ...], set[str], bool],
):
    """``expected``: the required identifier groups, the INAMI first digits, the license."""
    rule = PROFESSION_RULES[product].rule(profession, country)
    assert rule.profession == profession
    assert (rule.required, rule.inami_digits, rule.pays_license) == expected


@pytest.mark.parametrize("profession", [_P.GENERAL_PRACTITIONER, _P.SECRETARY])
def test_a_country_without_its_own_rule_gets_the_any_country_rule_b2(profession: Profession):
    rules = PROFESSION_RULES[ProductKind.GENERAL_PRACTICE]
    rule = rules.rule(profession, "NL")
    assert rule.country is None
    assert rule.required == ()
    assert rule == rules.rules[(profession, None)]
    assert rule.pays_license is rules.rule(profession, "BE").pays_license


def test_care_professions_need_a_workplace_address_and_office_staff_do_not_b1():
    rules = PROFESSION_RULES[ProductKind.GENERAL_PRACTICE]
    assert rules.rule(_P.GENERAL_PRACTITIONER, "LU").workplace_address
    assert rules.rule(_P.NURSE, "LU").workplace_address
    assert not rules.rule(_P.SECRETARY, "LU").workplace_address
    assert not rules.rule(_P.ASSISTANT, "BE").workplace_address


def test_a_profession_the_product_does_not_offer_gets_an_empty_rule_b2():
    rules = PROFESSION_RULES[ProductKind.VETERINARY]
    rule = rules.rule(_P.GENERAL_PRACTITIONER, "BE")
    assert not rules.offers(_P.GENERAL_PRACTITIONER)
    assert rule == ProfessionRule(_P.GENERAL_PRACTITIONER, workplace_address=False)
    assert (rule.required, rule.inami_digits, rule.pays_license) == ((), frozenset(), False)


def test_with_rule_replaces_the_rule_for_its_profession_and_country_b2():
    rules = PROFESSION_RULES[ProductKind.GENERAL_PRACTICE]
    stricter = ProfessionRule(_P.NURSE, "BE", (("inami",),), {"4"}, pays_license=True)
    changed = rules.with_rule(stricter)
    assert changed.rule(_P.NURSE, "BE") == stricter
    assert rules.rule(_P.NURSE, "BE").required == ()  # the bundled table is unchanged
    assert changed.rule(_P.NURSE, "FR") == rules.rule(_P.NURSE, "FR")
    assert len(changed.rules) == len(rules.rules)


def test_with_rule_adds_a_profession_the_product_did_not_offer_b2():
    rules = PROFESSION_RULES[ProductKind.GENERAL_PRACTICE]
    changed = rules.with_rule(ProfessionRule(_P.DENTIST, pays_license=True))
    assert changed.offers(_P.DENTIST)
    assert not rules.offers(_P.DENTIST)
    assert changed.rule(_P.DENTIST, "FR").pays_license


@pytest.mark.parametrize(
    "required",
    [
        pytest.param((("ssn",),), id="unknown kind"),
        pytest.param((("inami", "siret"),), id="unknown kind in a group"),
        pytest.param(((),), id="empty group"),
        pytest.param((("inami",), ()), id="one empty group"),
        pytest.param(("inami",), id="a string instead of a group"),
    ],
)
def test_a_rule_refuses_unknown_identifier_kinds_and_empty_groups(required: object):
    with pytest.raises(InvalidConfiguration) as raised:
        ProfessionRule(_P.NURSE, "BE", required)  # type: ignore[arg-type]
    assert raised.value.params["option"] == "required"


def test_a_rule_accepts_lists_and_stores_tuples_b3():
    rule = ProfessionRule(_P.NURSE, "FR", [["rpps", "adeli"]], ["4"])  # type: ignore[arg-type]
    assert rule.required == (("rpps", "adeli"),)
    assert rule.inami_digits == frozenset({"4"})


def test_empty_rules_offer_nothing():
    rules = ProfessionRules(())
    assert rules.professions == frozenset()
    assert not rules.offers(_P.GENERAL_PRACTITIONER)


def test_only_general_practitioners_and_specialists_are_physicians():
    assert {p for p in Profession if p.is_physician} == {_P.GENERAL_PRACTITIONER, _P.SPECIALIST}


# -- eHealth certificates (B5) ----------------------------------------------------------------

_NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
_NIHII = "12345625003"


@pytest.fixture(scope="module")
def keystore() -> bytes:
    return sample_certificate(nihii=_NIHII, not_before=_NOT_BEFORE, days=365)


@pytest.fixture(scope="module")
def pem() -> bytes:
    return sample_certificate(not_before=_NOT_BEFORE, days=30, password=None)


def test_a_keystore_is_read_with_its_password_b5(keystore: bytes):
    info, problems = read_certificate(keystore, "changeit")
    assert problems == []
    assert info is not None
    serial, issuer, not_before, not_after, sha256, holder = info
    assert int(serial, 16) > 0
    assert "NIHII-PHYSICIAN" in issuer  # self-signed: the issuer is the subject
    assert (not_before, not_after) == (_NOT_BEFORE, _NOT_BEFORE + timedelta(days=365))
    assert len(sha256) == 64
    assert holder == _NIHII


def test_the_password_may_be_bytes_b5(keystore: bytes):
    info, _ = read_certificate(keystore, b"changeit")
    assert info is not None
    assert info[5] == _NIHII


def test_a_pem_certificate_is_read_without_a_password_b5(pem: bytes):
    info, problems = read_certificate(pem)
    assert problems == []
    assert info is not None
    assert info[3] - info[2] == timedelta(days=30)


def test_a_der_certificate_is_read_without_a_password_b5(pem: bytes):
    certificate = x509.load_pem_x509_certificate(pem)
    der = certificate.public_bytes(serialization.Encoding.DER)
    from_der, _ = read_certificate(der)
    from_pem, _ = read_certificate(pem)
    assert from_der is not None
    assert from_der == from_pem
    assert read_certificate(bytearray(der))[0] == from_der


def test_the_holder_is_absent_when_the_certificate_names_none_b5(pem: bytes):
    info, _ = read_certificate(pem)
    assert info is not None
    assert info[5] is None


def test_the_holder_is_read_from_a_pem_certificate_too_b5():
    info, _ = read_certificate(
        sample_certificate(nihii="12345625", not_before=_NOT_BEFORE, password=None)
    )
    assert info is not None
    assert info[5] == "12345625"


_UNREADABLE = [
    ("ehealth.certificate_unreadable", "not a certificate, or not this keystore's password", {})
]


@pytest.mark.parametrize("password", ["wrong-password", "", b"changeit!"])
def test_a_wrong_password_is_unreadable_and_never_echoed_b5(keystore: bytes, password: object):
    info, problems = read_certificate(keystore, password)
    assert info is None
    assert problems == _UNREADABLE
    if password:
        assert str(password) not in repr(problems)


@pytest.mark.parametrize("password", [1234, ["changeit"], object()])
def test_a_password_of_the_wrong_type_is_unreadable_b5(keystore: bytes, password: object):
    assert read_certificate(keystore, password) == (None, _UNREADABLE)


def test_a_keystore_without_its_password_is_unreadable_b5(keystore: bytes):
    assert read_certificate(keystore) == (None, _UNREADABLE)


@pytest.mark.parametrize("data", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\n"])
def test_what_is_not_a_certificate_is_unreadable_b5(data: bytes):
    assert read_certificate(data) == (None, _UNREADABLE)


@pytest.mark.parametrize("data", ["-----BEGIN CERTIFICATE-----", None, 42])
def test_a_certificate_must_be_bytes_b5(data: object):
    assert read_certificate(data) == (
        None,
        [
            (
                "ehealth.not_bytes",
                "the certificate must be the file's bytes",
                {"type": type(data).__name__},
            )
        ],
    )


def test_a_certificate_file_over_64_kib_is_refused_before_it_is_read_b5(pem: bytes):
    padded = pem + b"\n" * (64 * 1024 - len(pem) + 1)
    info, problems = read_certificate(padded)
    assert info is None
    assert [(code, params) for code, _, params in problems] == [
        ("ehealth.certificate_too_large", {"max_bytes": 64 * 1024})
    ]
