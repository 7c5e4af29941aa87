"""Errors: stable dotted codes, structured params, JSON-ready, picklable."""

from __future__ import annotations

import inspect
import pickle
import re
from pathlib import Path

import pytest

import practiceid
from practiceid import errors
from practiceid.errors import (
    DuplicateEmail,
    EmailRejected,
    InvalidInput,
    PasswordRejected,
    PracticeIdError,
    Rejected,
    Violation,
)

ALL_ERRORS = [
    obj
    for _, obj in inspect.getmembers(errors, inspect.isclass)
    if issubclass(obj, PracticeIdError)
]


def test_every_error_is_exported_and_has_a_unique_dotted_code():
    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    for cls in ALL_ERRORS:
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", cls.code), cls
        assert cls.__name__ in practiceid.__all__


def test_error_tree_in_the_docstring_lists_every_error_and_code():
    doc = errors.__doc__ or ""
    for cls in ALL_ERRORS:
        assert re.search(rf"{cls.__name__}\b.*\s{re.escape(cls.code)}\b", doc), cls


def test_invalid_input_errors_are_also_value_errors():
    assert issubclass(PasswordRejected, ValueError)
    assert issubclass(InvalidInput, ValueError)


def test_params_are_read_only_and_in_to_dict():
    error = DuplicateEmail(email="a@cabinet.be")
    with pytest.raises(TypeError):
        error.params["email"] = "b"  # type: ignore[index]
    assert error.to_dict() == {
        "code": "user.duplicate_email",
        "message": "this e-mail address is already used by another account",
        "params": {"email": "a@cabinet.be"},
    }
    assert (
        repr(error)
        == "DuplicateEmail(code='user.duplicate_email', params={'email': 'a@cabinet.be'})"
    )


@pytest.mark.parametrize(
    "error",
    [
        DuplicateEmail(email="a@cabinet.be"),
        PracticeIdError("custom", x=1),
        PasswordRejected([Violation("password.too_short", "too short", "password", {"n": 1})]),
    ],
)
def test_errors_survive_pickling(error):
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(clone) is type(error)
    assert clone.to_dict() == error.to_dict()


def test_rejected_lists_every_violation():
    error = PasswordRejected(
        [
            Violation("password.too_short", "too short", "password", {"min_length": 10}),
            Violation("password.missing_digit", "no digit", "password"),
        ]
    )
    assert error.codes == ("password.too_short", "password.missing_digit")
    assert error.params["codes"] == error.codes
    assert str(error) == "too short; no digit"
    assert error.to_dict()["violations"][0] == {
        "code": "password.too_short",
        "field": "password",
        "message": "too short",
        "params": {"min_length": 10},
    }


def test_rejected_without_violations_has_a_default_message():
    assert str(Rejected([])) == "the input breaks one or more rules"


def test_combining_one_refusal_keeps_it_and_several_merge():
    one = EmailRejected([Violation("email.invalid", "bad", "email")])
    two = PasswordRejected([Violation("password.too_short", "short", "password")])
    assert Rejected.combine([one]) is one
    merged = Rejected.combine([one, two])
    assert type(merged) is Rejected
    assert merged.codes == ("email.invalid", "password.too_short")


def test_notice_to_dict():
    notice = practiceid.Notice("email.generic_address", "shared", "email", {"local_part": "info"})
    assert notice.to_dict()["params"] == {"local_part": "info"}


def test_the_concepts_page_draws_the_same_error_tree():
    page = (Path(__file__).parent.parent / "docs" / "concepts.md").read_text(encoding="utf-8")
    for cls in ALL_ERRORS:
        assert re.search(rf"{cls.__name__}\b.*\s{re.escape(cls.code)}\b", page), cls
