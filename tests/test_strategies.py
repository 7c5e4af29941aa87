"""Our shipped strategies generate what they promise."""

from __future__ import annotations

import pytest
from hypothesis import given

from practiceid import EmailPolicy, InvalidConfiguration, LoginPolicy, User
from practiceid.testing.strategies import logins, users


@given(users())
def test_generated_users_have_valid_logins_and_emails(user):
    assert isinstance(user, User)
    assert LoginPolicy().check(user.login.display) == ()
    assert EmailPolicy().check(user.email.address) == ()
    assert user.first_name
    assert user.created_at.tzinfo is not None


def test_login_strategy_refuses_a_policy_without_latin():
    with pytest.raises(InvalidConfiguration):
        logins(LoginPolicy(allowed_scripts={"GREEK"}))
