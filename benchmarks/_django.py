"""Django's password validators, configured in-process, as the yardstick.

Django has no composition-class validators (lowercase, uppercase, digit, symbol) and no
strength estimator: the four validators below are what a host would otherwise pick, not the
same check. No database is configured (Django falls back to its dummy backend, which raises on
any query) and :func:`assert_no_database` checks afterwards that no connection was opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

import django
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError

from benchmarks import _inputs

if TYPE_CHECKING:
    from collections.abc import Callable

VALIDATORS: Final = (
    ("MinimumLengthValidator", {"min_length": 10}),
    ("CommonPasswordValidator", {}),
    ("NumericPasswordValidator", {}),
    ("UserAttributeSimilarityValidator", {}),
)


class _NoModelFields:
    """Stands in for a model's ``_meta``: the similarity validator asks it for a label."""

    @staticmethod
    def get_field(name: str) -> None:
        raise FieldDoesNotExist(name)


@dataclass(frozen=True)
class BenchUser:
    """A plain object with the attributes UserAttributeSimilarityValidator reads.

    ``_meta`` is needed only when a password is too similar: the validator then asks the model
    for the field's verbose name, and falls back to the attribute name on FieldDoesNotExist.
    """

    _meta: ClassVar[_NoModelFields] = _NoModelFields()

    username: str
    first_name: str
    last_name: str
    email: str


USER: Final = BenchUser(
    username=_inputs.LOGIN,
    first_name=_inputs.FIRST_NAME,
    last_name=_inputs.LAST_NAME,
    email=_inputs.EMAIL,
)


def setup() -> None:
    """Configure Django in this process (no database) with the four validators."""
    settings.configure(
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        DATABASES={},
        AUTH_PASSWORD_VALIDATORS=[
            {
                "NAME": f"django.contrib.auth.password_validation.{name}",
                "OPTIONS": options,
            }
            for name, options in VALIDATORS
        ],
    )
    django.setup()


def validator() -> Callable[[str], tuple[str, ...]]:
    """Return a check of one password: the codes Django raises, empty when it accepts."""
    from django.contrib.auth.password_validation import validate_password  # noqa: PLC0415

    def check(password: str) -> tuple[str, ...]:
        try:
            validate_password(password, user=USER)
        except ValidationError as error:
            return tuple(str(e.code) for e in error.error_list)
        return ()

    return check


def assert_no_database() -> None:
    """Raise unless every database wrapper Django created is still unconnected.

    Defining the auth models makes Django create the ``default`` wrapper (it asks the backend
    for its identifier length), which opens nothing. With the dummy backend any query would
    have raised ImproperlyConfigured; this checks that no DB-API connection exists either.
    """
    from django.db import connections  # noqa: PLC0415

    opened = [c for c in connections.all(initialized_only=True) if c.connection is not None]
    if opened:
        raise RuntimeError(f"Django opened a database connection: {opened!r}")
