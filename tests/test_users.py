from __future__ import annotations

from practiceid import EmailAddress, Login, UserStatus
from practiceid.adapters import SystemClock
from practiceid.testing import ManualClock, sample_user
from practiceid.users import new_user_id


def test_user_repr_never_shows_the_password_hash():
    user = sample_user(password_hash="$argon2id$v=19$m=64,t=1,p=1$c2FsdA$c2VjcmV0")
    assert "c2VjcmV0" not in repr(user)


def test_changes_return_new_values_and_leave_the_original():
    user = sample_user()
    deactivated = user.deactivate()
    assert user.status is UserStatus.ACTIVE
    assert not deactivated.is_active
    assert deactivated.reactivate().is_active


def test_full_name():
    assert sample_user(first_name="Jeanne", last_name="Dupont").full_name == "Jeanne Dupont"


def test_new_ids_are_unique_strings():
    assert new_user_id() != new_user_id()


def test_manual_clock_moves_only_when_told():
    clock = ManualClock()
    start = clock.now()
    assert clock.now() == start
    clock.advance(minutes=5)
    assert (clock.now() - start).total_seconds() == 300
    clock.set(start)
    assert clock.now() == start


def test_system_clock_is_timezone_aware():
    assert SystemClock().now().tzinfo is not None
    assert repr(SystemClock()) == "SystemClock()"


def test_login_and_email_print_as_their_display_form():
    assert str(Login("Dr.Dupont")) == "Dr.Dupont"
    assert str(EmailAddress("a@cabinet.be")) == "a@cabinet.be"
