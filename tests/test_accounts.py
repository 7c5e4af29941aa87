"""The account service: registration, authentication and changes (A1-A6)."""

from __future__ import annotations

import contextlib
import threading

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid import (
    AccountDeactivated,
    AccountService,
    AuthenticationFailed,
    DjangoPbkdf2Hasher,
    DuplicateEmail,
    DuplicateLogin,
    EmailRejected,
    LoginRejected,
    MigratingHasher,
    PasswordRejected,
    PermissionDenied,
    PracticeIdError,
    Rejected,
    StaleUser,
    UserId,
    UserNotFound,
    UserStatus,
)
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.testing import ManualClock, fast_hasher

from .conftest import SUPPORT

STRONG = "Vrai-Cheval-Agrafe-42"
OTHER_STRONG = "Tasse-de-thé-au-jardin-9"


def register(accounts: AccountService, **overrides):
    fields = {
        "login": "dr.dupont",
        "email": "Jeanne.Dupont@Cabinet-Tilleuls.be",
        "password": STRONG,
        "password_confirmation": STRONG,
        "first_name": "Jeanne",
        "last_name": "Dupont",
        "job_title": "Médecin généraliste",
    }
    fields.update(overrides)
    return accounts.register(**fields)


# -- registration --------------------------------------------------------------------------


def test_registered_user_is_stored_active_with_a_hash_and_the_clock_time(accounts, store, clock):
    user = register(accounts).user
    assert user.status is UserStatus.ACTIVE
    assert user.created_at == clock.now()
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert STRONG not in repr(user)
    with store.unit_of_work() as uow:
        assert uow.users.get(user.id) == user


def test_names_and_job_title_are_trimmed_and_normalized(accounts):
    user = register(accounts, first_name="  Jeanne ", last_name="Lefe\u0300vre").user
    assert (user.first_name, user.last_name) == ("Jeanne", "Lef\u00e8vre")


def test_generic_address_registers_with_a_notice_a3(accounts):
    registration = register(accounts, email="info@cabinet-tilleuls.be")
    assert [n.code for n in registration.notices] == ["email.generic_address"]


def test_same_email_in_another_case_is_refused_a1_a2(accounts):
    register(accounts)
    with pytest.raises(DuplicateEmail) as raised:
        register(accounts, login="j.dupont", email="JEANNE.DUPONT@cabinet-tilleuls.BE")
    assert raised.value.code == "user.duplicate_email"


def test_same_login_in_full_width_is_refused_a1_a2(accounts):
    register(accounts)
    with pytest.raises(DuplicateLogin):
        register(accounts, login="ＤＲ.ＤＵＰＯＮＴ", email="autre@cabinet-tilleuls.be")


def test_weak_password_is_refused_with_the_password_error(accounts):
    with pytest.raises(PasswordRejected) as raised:
        register(accounts, password="Dupont2024!!", password_confirmation="Dupont2024!!")
    assert raised.value.codes == ("password.too_weak",)


def test_practice_name_given_at_registration_feeds_the_strength_check(accounts):
    with pytest.raises(PasswordRejected):
        register(
            accounts,
            password="Glycines2026!",
            password_confirmation="Glycines2026!",
            practice_name="Centre dentaire des Glycines",
        )


def test_every_invalid_field_is_reported_at_once(accounts):
    with pytest.raises(Rejected) as raised:
        register(
            accounts,
            login="a b",
            email="not-an-address",
            password="short",
            password_confirmation="other",
            first_name="",
            last_name=None,
        )
    error = raised.value
    assert type(error) is Rejected
    fields = {v.field for v in error.violations}
    assert fields == {
        "login",
        "email",
        "password",
        "password_confirmation",
        "first_name",
        "last_name",
    }
    assert "profile.required" in error.codes
    assert "profile.not_text" in error.codes


def test_a_single_invalid_field_raises_its_own_subclass(accounts):
    with pytest.raises(LoginRejected):
        register(accounts, login="a b")
    with pytest.raises(EmailRejected):
        register(accounts, email="nope")


def test_profile_rules(accounts):
    with pytest.raises(Rejected) as raised:
        register(accounts, first_name="J" * 101, last_name="Du\u202epont", job_title=3)
    assert raised.value.codes == (
        "profile.too_long",
        "profile.invalid_character",
        "profile.not_text",
    )


def test_zero_width_joiners_are_allowed_in_names(accounts):
    assert register(accounts, last_name="Mehr\u200cnush").user.last_name == "Mehr\u200cnush"


def test_nothing_is_stored_when_registration_is_refused(accounts, store):
    register(accounts)
    with pytest.raises(DuplicateEmail):
        register(accounts, login="autre.login")
    with store.unit_of_work() as uow:
        assert len(uow.users.list()) == 1


def test_sixteen_admins_registering_one_email_at_once_make_one_account(accounts, store):
    barrier = threading.Barrier(16)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            result = register(accounts, login=f"user{i}", email="Same.Person@Cabinet.be")
        except DuplicateEmail as error:
            result = error
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(not isinstance(o, DuplicateEmail) for o in outcomes) == 1
    assert sum(isinstance(o, DuplicateEmail) for o in outcomes) == 15
    with store.unit_of_work() as uow:
        assert len(uow.users.list()) == 1


# -- authentication ------------------------------------------------------------------------


def test_login_in_another_case_authenticates(accounts):
    user = register(accounts).user
    assert accounts.authenticate("DR.DUPONT", STRONG).id == user.id


@pytest.mark.parametrize(
    ("login", "password"),
    [
        ("dr.dupont", "Vrai-Cheval-Agrafe-43"),
        ("dr.inconnu", STRONG),
        ("a b", STRONG),
        (None, STRONG),
        ("dr.dupont", None),
    ],
)
def test_wrong_login_or_password_fail_alike(accounts, login, password):
    register(accounts)
    with pytest.raises(AuthenticationFailed) as raised:
        accounts.authenticate(login, password)
    assert type(raised.value) is AuthenticationFailed
    assert raised.value.params == {}


def test_unknown_login_still_pays_for_one_hash_verification(accounts, monkeypatch):
    calls = []
    hasher = accounts.hasher
    original = hasher.verify

    def spy(encoded, password):
        calls.append(encoded)
        return original(encoded, password)

    monkeypatch.setattr(hasher, "verify", spy)
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("dr.inconnu", STRONG)
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("dr.inconnu2", STRONG)
    assert len(calls) == 2
    assert calls[0] == calls[1]  # the dummy hash is made once


def test_deactivated_user_cannot_log_in_a6(accounts, store):
    user = register(accounts).user
    with store.unit_of_work() as uow:
        uow.users.update(user.deactivate())
        uow.commit()
    with pytest.raises(AccountDeactivated) as raised:
        accounts.authenticate("dr.dupont", STRONG)
    assert raised.value.code == "auth.account_deactivated"
    with pytest.raises(AuthenticationFailed) as wrong:
        accounts.authenticate("dr.dupont", "wrong")
    assert type(wrong.value) is AuthenticationFailed


def forget_password(store, user):
    with store.unit_of_work() as uow:
        uow.users.update(attrs.evolve(user, password_hash=None))
        uow.commit()


def test_user_without_a_password_cannot_log_in(accounts, store):
    forget_password(store, register(accounts).user)
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("dr.dupont", STRONG)


def test_login_rehashes_when_parameters_changed(accounts, store):
    user = register(accounts).user
    stronger = fast_hasher()
    stronger.parameters = attrs.evolve(stronger.parameters, memory_cost=128)
    upgraded = attrs.evolve(accounts, hasher=stronger)
    logged_in = upgraded.authenticate("dr.dupont", STRONG)
    assert "m=128," in logged_in.password_hash
    assert logged_in.version == user.version + 1
    with store.unit_of_work() as uow:
        assert uow.users.get(user.id).password_hash == logged_in.password_hash
    assert upgraded.authenticate("dr.dupont", STRONG).version == logged_in.version


def test_legacy_django_hash_is_replaced_by_argon2id_at_login(accounts, store):
    legacy_hasher = DjangoPbkdf2Hasher(iterations=1000)
    user = register(accounts).user
    with store.unit_of_work() as uow:
        user = uow.users.update(user.with_password_hash(legacy_hasher.hash(STRONG)))
        uow.commit()
    migrating = attrs.evolve(accounts, hasher=MigratingHasher(fast_hasher(), [legacy_hasher]))
    assert migrating.authenticate("dr.dupont", STRONG).password_hash.startswith("$argon2id$")


def test_rehash_failure_does_not_fail_a_correct_login(accounts, store, monkeypatch):
    register(accounts)
    stronger = fast_hasher()
    stronger.parameters = attrs.evolve(stronger.parameters, memory_cost=128)
    upgraded = attrs.evolve(accounts, hasher=stronger)

    def broken_update(self, user):
        raise StaleUser(user_id=user.id)

    monkeypatch.setattr(type(store.unit_of_work().users), "update", broken_update)
    user = upgraded.authenticate("dr.dupont", STRONG)
    assert "m=64," in user.password_hash


def test_rehash_keeps_a_password_changed_meanwhile(accounts, store, monkeypatch):
    user = register(accounts).user
    stronger = fast_hasher()
    stronger.parameters = attrs.evolve(stronger.parameters, memory_cost=128)
    upgraded = attrs.evolve(accounts, hasher=stronger)
    original_hash = stronger.hash

    def hash_and_race(password):
        # Another session changes the password between our read and our re-hash.
        with store.unit_of_work() as uow:
            current = uow.users.get(user.id)
            uow.users.update(current.with_password_hash(fast_hasher().hash(OTHER_STRONG)))
            uow.commit()
        return original_hash(password)

    monkeypatch.setattr(stronger, "hash", hash_and_race)
    result = upgraded.authenticate("dr.dupont", STRONG)
    accounts.hasher.verify(result.password_hash, OTHER_STRONG)


# -- changes ---------------------------------------------------------------------------------


def test_support_changes_an_email_and_gets_advice_a5(accounts):
    user = register(accounts).user
    change = accounts.change_email(actor=SUPPORT, user_id=user.id, new_email="Dr.J@Cabinet.be")
    assert change.user.email.address == "Dr.J@cabinet.be"
    assert change.user.version == user.version + 1
    assert change.notices == ()
    change = accounts.change_email(actor=SUPPORT, user_id=user.id, new_email="Info@Cabinet.be")
    assert [n.code for n in change.notices] == ["email.generic_address"]


def test_users_cannot_change_an_email_themselves_a5(accounts):
    user = register(accounts).user
    with pytest.raises(PermissionDenied) as raised:
        accounts.change_email(actor=user.id, user_id=user.id, new_email="x@cabinet.be")
    assert raised.value.params == {"permission": "users.change_email", "actor": user.id}


def test_email_change_to_a_taken_address_is_refused(accounts):
    register(accounts)
    other = register(accounts, login="dr.martin", email="luc.martin@cabinet.be").user
    with pytest.raises(DuplicateEmail):
        accounts.change_email(
            actor=SUPPORT, user_id=other.id, new_email="jeanne.dupont@cabinet-tilleuls.be"
        )


def test_email_change_of_an_unknown_user_is_refused(accounts):
    with pytest.raises(UserNotFound):
        accounts.change_email(actor=SUPPORT, user_id=UserId("nobody"), new_email="a@cabinet.be")


def test_users_change_their_own_login_a1(accounts):
    user = register(accounts).user
    changed = accounts.change_login(actor=user.id, user_id=user.id, new_login="Jeanne.D")
    assert changed.login.display == "Jeanne.D"
    assert accounts.authenticate("jeanne.d", STRONG).id == user.id
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("dr.dupont", STRONG)


def test_changing_someone_elses_login_needs_the_permission(accounts):
    user = register(accounts).user
    other = register(accounts, login="dr.martin", email="luc.martin@cabinet.be").user
    with pytest.raises(PermissionDenied):
        accounts.change_login(actor=other.id, user_id=user.id, new_login="stolen")


def test_change_password_needs_the_current_one_and_the_policy(accounts):
    user = register(accounts).user
    with pytest.raises(AuthenticationFailed):
        accounts.change_password(
            user_id=user.id,
            current_password="wrong",
            new_password=OTHER_STRONG,
            new_password_confirmation=OTHER_STRONG,
        )
    with pytest.raises(PasswordRejected) as raised:
        accounts.change_password(
            user_id=user.id,
            current_password=STRONG,
            new_password="Jeanne2026!!",
            new_password_confirmation="Jeanne2026!!",
        )
    assert raised.value.violations[0].params["uses_personal_data"] is True
    accounts.change_password(
        user_id=user.id,
        current_password=STRONG,
        new_password=OTHER_STRONG,
        new_password_confirmation=OTHER_STRONG,
    )
    assert accounts.authenticate("dr.dupont", OTHER_STRONG).id == user.id


def test_change_password_without_a_stored_password_fails_authentication(accounts, store):
    user = register(accounts).user
    forget_password(store, user)
    with pytest.raises(AuthenticationFailed):
        accounts.change_password(
            user_id=user.id,
            current_password=STRONG,
            new_password=OTHER_STRONG,
            new_password_confirmation=OTHER_STRONG,
        )


def test_change_password_refuses_when_the_user_changed_meanwhile(accounts, store, monkeypatch):
    user = register(accounts).user
    original_hash = accounts.hasher.hash

    def hash_and_race(password):
        with store.unit_of_work() as uow:
            uow.users.update(
                uow.users.get(user.id).with_login(accounts.login_policy.parse("x.y.z"))
            )
            uow.commit()
        return original_hash(password)

    monkeypatch.setattr(accounts.hasher, "hash", hash_and_race)
    with pytest.raises(StaleUser):
        accounts.change_password(
            user_id=user.id,
            current_password=STRONG,
            new_password=OTHER_STRONG,
            new_password_confirmation=OTHER_STRONG,
        )


# -- hostile input ---------------------------------------------------------------------------

HOSTILE = ["", "\x00", "a\ud800b", "dr.\u202edupont", "x" * 100_000, "é" * 100_000, "😴" * 300]
FIELDS = ["login", "email", "password", "password_confirmation", "first_name", "last_name"]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:12]))
def test_hostile_text_in_any_field_is_refused_with_a_coded_error(accounts, store, field, value):
    with pytest.raises(Rejected) as raised:
        register(accounts, **{field: value})
    assert raised.value.violations
    with store.unit_of_work() as uow:
        assert uow.users.list() == []


@pytest.mark.parametrize("value", [*HOSTILE, None, 42, b"bytes"], ids=repr)
def test_hostile_credentials_fail_authentication_alike(accounts, value):
    register(accounts)
    for login, password in ((value, STRONG), ("dr.dupont", value), (value, value)):
        with pytest.raises(AuthenticationFailed) as raised:
            accounts.authenticate(login, password)
        assert type(raised.value) is AuthenticationFailed


@settings(max_examples=50)
@given(st.fixed_dictionaries({field: st.text(max_size=40) for field in FIELDS}))
def test_no_text_makes_registration_raise_anything_but_practiceid_errors(fields):
    accounts = AccountService(
        unit_of_work=InMemoryStore().unit_of_work,
        hasher=fast_hasher(),
        clock=ManualClock(),
        authorizer=StaticAuthorizer(),
    )
    with contextlib.suppress(PracticeIdError):
        accounts.register(**fields)
