"""The account service against a model: registration, logins, passwords, status (A1-A6)."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from practiceid import (
    AccountDeactivated,
    AccountService,
    AuthenticationFailed,
    DuplicateEmail,
    DuplicateLogin,
    EmailPolicy,
    LoginPolicy,
    Permission,
    UserId,
)
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.testing import ManualClock, fast_hasher

SUPPORT = UserId("support")
LOGINS = st.sampled_from(
    ["dr.dupont", "DR.DUPONT", "ｄｒ.ｄｕｐｏｎｔ", "dr.martin", "lucie", "LUCIE"]
)
EMAILS = st.sampled_from(
    ["j@cabinet.be", "J@Cabinet.BE", "m@cabinet.be", "l@cabinet.be", "L@CABINET.be"]
)
PASSWORDS = st.sampled_from(
    ["Vrai-Cheval-Agrafe-42", "Tasse-de-thé-au-jardin-9", "Autre-Chemin-Vers-Namur-7"]
)


def key(login: str) -> str:
    return LoginPolicy().parse(login).key


def email_key(email: str) -> str:
    return EmailPolicy().parse(email).key


class AccountsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = InMemoryStore()
        self.accounts = AccountService(
            unit_of_work=self.store.unit_of_work,
            hasher=fast_hasher(),
            clock=ManualClock(),
            authorizer=StaticAuthorizer({SUPPORT: {Permission.CHANGE_EMAIL}}),
        )
        # login key -> [user id, email key, password, active]
        self.model: dict[str, list] = {}

    def _owner_of_email(self, email: str) -> str | None:
        for login_key, (_, stored_email, _, _) in self.model.items():
            if stored_email == email_key(email):
                return login_key
        return None

    @rule(login=LOGINS, email=EMAILS, password=PASSWORDS)
    def register(self, login: str, email: str, password: str) -> None:
        def attempt():
            return self.accounts.register(
                login=login,
                email=email,
                password=password,
                password_confirmation=password,
                first_name="Camille",
                last_name="Exemple",
            )

        if key(login) in self.model:
            with pytest.raises(DuplicateLogin):
                attempt()
        elif self._owner_of_email(email) is not None:
            with pytest.raises(DuplicateEmail):
                attempt()
        else:
            user = attempt().user
            self.model[key(login)] = [user.id, email_key(email), password, True]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), spelling=LOGINS, password=PASSWORDS)
    def authenticate(self, data: st.DataObject, spelling: str, password: str) -> None:
        known = key(spelling) in self.model
        if not known:
            with pytest.raises(AuthenticationFailed) as raised:
                self.accounts.authenticate(spelling, password)
            assert type(raised.value) is AuthenticationFailed
            return
        user_id, _, right_password, active = self.model[key(spelling)]
        if data.draw(st.booleans(), label="use the right password"):
            password = right_password
        if password != right_password:
            with pytest.raises(AuthenticationFailed) as raised:
                self.accounts.authenticate(spelling, password)
            assert type(raised.value) is AuthenticationFailed
        elif not active:
            with pytest.raises(AccountDeactivated):
                self.accounts.authenticate(spelling, password)
        else:
            assert self.accounts.authenticate(spelling, password).id == user_id

    @precondition(lambda self: self.model)
    @rule(data=st.data(), new_password=PASSWORDS)
    def change_password(self, data: st.DataObject, new_password: str) -> None:
        login_key = data.draw(st.sampled_from(sorted(self.model)))
        user_id, _, current, _ = self.model[login_key]
        self.accounts.change_password(
            user_id=user_id,
            current_password=current,
            new_password=new_password,
            new_password_confirmation=new_password,
        )
        self.model[login_key][2] = new_password

    @precondition(lambda self: self.model)
    @rule(data=st.data(), new_login=LOGINS)
    def change_login(self, data: st.DataObject, new_login: str) -> None:
        login_key = data.draw(st.sampled_from(sorted(self.model)))
        user_id = self.model[login_key][0]
        if key(new_login) in self.model and key(new_login) != login_key:
            with pytest.raises(DuplicateLogin):
                self.accounts.change_login(actor=user_id, user_id=user_id, new_login=new_login)
            return
        self.accounts.change_login(actor=user_id, user_id=user_id, new_login=new_login)
        self.model[key(new_login)] = self.model.pop(login_key)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), new_email=EMAILS)
    def change_email(self, data: st.DataObject, new_email: str) -> None:
        login_key = data.draw(st.sampled_from(sorted(self.model)))
        user_id = self.model[login_key][0]
        owner = self._owner_of_email(new_email)
        if owner is not None and owner != login_key:
            with pytest.raises(DuplicateEmail):
                self.accounts.change_email(actor=SUPPORT, user_id=user_id, new_email=new_email)
            return
        self.accounts.change_email(actor=SUPPORT, user_id=user_id, new_email=new_email)
        self.model[login_key][1] = email_key(new_email)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def toggle_status(self, data: st.DataObject) -> None:
        login_key = data.draw(st.sampled_from(sorted(self.model)))
        user_id, _, _, active = self.model[login_key]
        with self.store.unit_of_work() as uow:
            user = uow.users.get(user_id)
            uow.users.update(user.deactivate() if active else user.reactivate())
            uow.commit()
        self.model[login_key][3] = not active

    @invariant()
    def stored_users_match_the_model(self) -> None:
        with self.store.unit_of_work() as uow:
            users = uow.users.list()
        assert {u.login.key: (u.id, u.email.key, u.is_active) for u in users} == {
            k: (v[0], v[1], v[3]) for k, v in self.model.items()
        }


AccountsMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25)
TestAccountsMachine = AccountsMachine.TestCase
