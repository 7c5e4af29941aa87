"""Password hashing: Argon2id PHC strings, parameters, migration from legacy hashes."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid import (
    OWASP_MINIMUM,
    RFC9106_LOW_MEMORY,
    Argon2idHasher,
    Argon2idParameters,
    DjangoPbkdf2Hasher,
    InvalidConfiguration,
    MigratingHasher,
    PasswordMismatch,
    UnsupportedPasswordHash,
    WeakHashParameters,
)
from practiceid.testing import FAST_ARGON2, fast_hasher

HASHER = fast_hasher()


def test_default_parameters_are_rfc9106_low_memory():
    hasher = Argon2idHasher()
    assert hasher.parameters == RFC9106_LOW_MEMORY
    assert (RFC9106_LOW_MEMORY.memory_cost, RFC9106_LOW_MEMORY.iterations) == (65536, 3)
    assert RFC9106_LOW_MEMORY.lanes == 4


def test_default_hash_is_a_phc_string_with_its_parameters():
    stored = Argon2idHasher().hash("Vrai-Cheval-Agrafe-42")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    Argon2idHasher().verify(stored, "Vrai-Cheval-Agrafe-42")


def test_parameters_below_the_owasp_floor_are_refused():
    with pytest.raises(WeakHashParameters) as raised:
        Argon2idHasher(Argon2idParameters(memory_cost=8192, iterations=2, lanes=1))
    assert raised.value.code == "password.weak_hash_parameters"
    Argon2idHasher(OWASP_MINIMUM)  # exactly the floor is allowed


def test_cheap_parameters_need_an_explicit_test_only_flag():
    assert FAST_ARGON2.is_below_owasp_floor()
    assert fast_hasher().parameters == FAST_ARGON2


def test_impossible_argon2_parameters_are_refused():
    with pytest.raises(InvalidConfiguration):
        Argon2idHasher(
            Argon2idParameters(memory_cost=8, lanes=4, iterations=1),
            unsafe_allow_weak_parameters_for_tests=True,
        )


def test_verify_returns_none_and_raises_on_mismatch():
    stored = HASHER.hash("Abcdefgh1!")
    assert HASHER.verify(stored, "Abcdefgh1!") is None
    with pytest.raises(PasswordMismatch) as raised:
        HASHER.verify(stored, "Abcdefgh1?")
    assert "Abcdefgh1" not in str(raised.value) + repr(raised.value)


def test_same_password_hashes_differently_each_time():
    assert HASHER.hash("Abcdefgh1!") != HASHER.hash("Abcdefgh1!")


def test_precomposed_and_decomposed_accents_verify_the_same():
    stored = HASHER.hash("Caf\u00e9-Bxl-1")
    HASHER.verify(stored, "Cafe\u0301-Bxl-1")


def test_case_and_compatibility_forms_are_different_passwords():
    stored = HASHER.hash("ﬁchier-Bxl-1")
    with pytest.raises(PasswordMismatch):
        HASHER.verify(stored, "fichier-Bxl-1")


def test_needs_rehash_when_parameters_change():
    stored = HASHER.hash("Abcdefgh1!")
    assert HASHER.needs_rehash(stored) is False
    stronger = Argon2idHasher(
        Argon2idParameters(memory_cost=128, iterations=1, lanes=1),
        unsafe_allow_weak_parameters_for_tests=True,
    )
    assert stronger.needs_rehash(stored) is True


@pytest.mark.parametrize(
    ("stored", "scheme"),
    [
        ("", "unknown"),
        ("plain-text-password", "unknown"),
        ("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "argon2i"),
        ("pbkdf2_sha256$1000$salt$hash", "pbkdf2_sha256"),
        ("a-very-long-first-part-of-something$x", "unknown"),
        ("sec ret$x", "unknown"),
        (None, "NoneType"),
    ],
)
def test_unrecognized_hash_format_is_a_coded_error_naming_only_the_scheme(stored, scheme):
    assert HASHER.recognizes(stored) is False
    with pytest.raises(UnsupportedPasswordHash) as raised:
        HASHER.verify(stored, "whatever")
    with pytest.raises(UnsupportedPasswordHash):
        HASHER.needs_rehash(stored)
    assert raised.value.params == {"scheme": scheme}


def test_corrupted_phc_string_is_a_mismatch_not_a_crash():
    stored = HASHER.hash("Abcdefgh1!")
    corrupted = stored[:-4] + "AAAA"
    with pytest.raises(PasswordMismatch):
        HASHER.verify(corrupted, "Abcdefgh1!")


def test_password_that_is_not_text_never_matches():
    stored = HASHER.hash("Abcdefgh1!")
    with pytest.raises(PasswordMismatch):
        HASHER.verify(stored, b"Abcdefgh1!")  # type: ignore[arg-type]


def test_repr_shows_parameters_only():
    assert repr(HASHER).startswith("Argon2idHasher(Argon2idParameters(")


# -- Django PBKDF2 migration -----------------------------------------------------------------


def _django_hash(password: str, salt: str, iterations: int) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def test_django_pbkdf2_hash_made_elsewhere_verifies():
    legacy = _django_hash("Ancien-Mot-2019", "c2FsdHNhbHQ", 1000)
    hasher = DjangoPbkdf2Hasher(iterations=1000)
    hasher.verify(legacy, "Ancien-Mot-2019")
    with pytest.raises(PasswordMismatch):
        hasher.verify(legacy, "Ancien-Mot-2018")
    assert hasher.needs_rehash(legacy) is False
    assert DjangoPbkdf2Hasher(iterations=2000).needs_rehash(legacy) is True


def test_django_pbkdf2_hashes_bytes_as_typed_like_django():
    decomposed = "Cafe\u0301-Bxl-1"
    legacy = _django_hash(decomposed, "c2FsdHNhbHQ", 1000)
    DjangoPbkdf2Hasher(iterations=1000).verify(legacy, decomposed)


def test_django_pbkdf2_hasher_round_trips_and_refuses_other_formats():
    hasher = DjangoPbkdf2Hasher(iterations=1000)
    stored = hasher.hash("Abcdefgh1!")
    hasher.verify(stored, "Abcdefgh1!")
    assert hasher.recognizes(stored)
    assert not hasher.recognizes(HASHER.hash("x"))
    assert not hasher.recognizes("pbkdf2_sha256$many$salt$hash")
    assert repr(hasher) == "DjangoPbkdf2Hasher(iterations=1000)"
    with pytest.raises(UnsupportedPasswordHash):
        hasher.verify(None, "x")  # type: ignore[arg-type]
    with pytest.raises(PasswordMismatch):
        hasher.verify("pbkdf2_sha256$0$salt$hash", "x")
    with pytest.raises(InvalidConfiguration):
        DjangoPbkdf2Hasher(iterations=0)


def test_migrating_hasher_verifies_legacy_hashes_and_asks_for_a_rehash():
    legacy = _django_hash("Ancien-Mot-2019", "c2FsdHNhbHQ", 1000)
    hasher = MigratingHasher(HASHER, [DjangoPbkdf2Hasher(iterations=1000)])
    hasher.verify(legacy, "Ancien-Mot-2019")
    assert hasher.needs_rehash(legacy) is True
    fresh = hasher.hash("Ancien-Mot-2019")
    assert fresh.startswith("$argon2id$")
    assert hasher.needs_rehash(fresh) is False
    assert hasher.recognizes(legacy)
    assert hasher.recognizes(fresh)
    assert not hasher.recognizes("md5$abc")
    with pytest.raises(UnsupportedPasswordHash):
        hasher.verify("md5$abc", "x")
    assert repr(hasher).startswith("MigratingHasher(")


@settings(max_examples=25)
@given(st.text(max_size=40))
def test_every_text_verifies_against_its_own_hash(password):
    HASHER.verify(HASHER.hash(password), password)
