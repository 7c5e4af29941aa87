"""The audit trail of the account and onboarding services (F3; A1-A6, D1-D4).

Every command records exactly one event: its success in the unit of work of its change, or
its refusal, with the error's code, in a unit of work of its own. Account events form the
platform chain; an invitation's events form its establishment's chain. Reads record
nothing, and no event ever holds a password, a token or an e-mail address. Each test runs
in memory with a manual clock; names and addresses are made up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practiceid import (
    AccountDeactivated,
    AccountService,
    AuthenticationFailed,
    ClinicLoginOnly,
    DuplicateLogin,
    DuplicateRecord,
    EmailRejected,
    IllegalTransition,
    InvitationInvalid,
    OnboardingIncomplete,
    OnboardingStatus,
    PasswordRejected,
    Permission,
    PermissionDenied,
    PracticeIdError,
    ProductKind,
    ResendThrottled,
    StaleRecord,
    StorageError,
    TermsNotCurrent,
    UserId,
)
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.audit import PLATFORM_CHAIN, AuditRecord, Outcome, verify_chain
from practiceid.policies.login import Login
from practiceid.ports.audit import RequestInfo
from practiceid.testing import (
    ManualClock,
    SampleOnboarding,
    fast_hasher,
    sample_onboarding,
    sample_user,
)
from practiceid.users import AccountKind

STRONG = "Vrai-Cheval-Agrafe-42"
OTHER_STRONG = "Tasse-de-thé-au-jardin-9"
PASSWORD = "Gr4nd-Ciel!Orage#77"
SUPPORT = UserId("support-desk")
EMAIL = "Jeanne.Dupont@Cabinet-Tilleuls.be"
INVITED_EMAIL = "n.dubois@hopital-exemple.fr"


# -- helpers ------------------------------------------------------------------------------------


class Trail:
    """Reads a store's audit trail, and what was appended since the last look.

    Events recorded before the trail was made (setting up the sample practice) are not the
    test's: :meth:`story` and :meth:`all_events` leave them out.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.seen: dict[str, int] = {}
        self.mark()
        self.start = dict(self.seen)

    def chains(self) -> dict[str, list[AuditRecord]]:
        """Every chain, whole."""
        with self.store.unit_of_work() as uow:
            return {chain: list(uow.audit.records(chain)) for chain in uow.audit.chains()}

    def story(self) -> dict[str, list[AuditRecord]]:
        """The records appended since the trail was made, by chain."""
        appended = {
            chain: records[self.start.get(chain, 0) :] for chain, records in self.chains().items()
        }
        return {chain: records for chain, records in appended.items() if records}

    def mark(self) -> None:
        self.seen = {chain: len(records) for chain, records in self.chains().items()}

    def new(self) -> list[AuditRecord]:
        """The records appended since the last look, chain by chain."""
        appended = [
            record
            for chain, records in self.chains().items()
            for record in records[self.seen.get(chain, 0) :]
        ]
        self.mark()
        return appended

    def one(self) -> AuditRecord:
        """The one record appended since the last look."""
        appended = self.new()
        assert len(appended) == 1, [r.event.action for r in appended]
        return appended[0]

    def all_events(self) -> list[AuditRecord]:
        return [record for records in self.story().values() for record in records]

    def assert_intact(self) -> None:
        for chain, records in self.chains().items():
            assert verify_chain(records, chain=chain).intact, chain


def texts(record: AuditRecord) -> Iterator[str]:
    """Every text an audit record holds: its fields and its details."""
    for value in record.event.canonical().values():
        if isinstance(value, dict):
            for name, detail in value.items():
                yield name
                if isinstance(detail, str):
                    yield detail
        elif isinstance(value, str):
            yield value


def assert_nowhere(trail: Trail, *secrets: str) -> None:
    for record in trail.all_events():
        for text in texts(record):
            for secret in secrets:
                assert secret not in text, (record.event.action, secret)


def _copy(value: object) -> object:
    """A copy of the store's containers; the records in them are immutable."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, set, frozenset, tuple)):
        return type(value)(_copy(item) for item in value)
    return value


def state(store: InMemoryStore) -> dict[str, object]:
    """Everything the store holds but its audit trail."""
    return {
        name: _copy(value)
        for name, value in vars(store).items()
        if name not in {"_audit", "_lock", "_keys"}
    }


def assert_succeeded(
    record: AuditRecord,
    action: str,
    *,
    actor: str | None,
    target: str,
    chain: str = PLATFORM_CHAIN,
    target_type: str = "user",
) -> None:
    event = record.event
    assert (event.action, event.outcome, event.code) == (action, Outcome.SUCCEEDED, "")
    assert (event.actor, event.target_type, event.target_id) == (actor, target_type, target)
    assert record.chain == chain
    assert event.establishment_id == (chain or None)


def assert_refused(
    record: AuditRecord,
    action: str,
    error: PracticeIdError,
    *,
    actor: str | None,
    target: str,
    chain: str = PLATFORM_CHAIN,
) -> None:
    event = record.event
    assert (event.action, event.outcome, event.code) == (action, Outcome.REFUSED, error.code)
    assert (event.actor, event.target_id) == (actor, target)
    assert record.chain == chain


def refused(command: Callable[[], object], error: type[PracticeIdError]) -> PracticeIdError:
    with pytest.raises(error) as caught:
        command()
    return caught.value


class FailingCommits:
    """A unit-of-work factory whose next ``failures`` commits raise ``error``."""

    def __init__(self, store: InMemoryStore, error: Exception, failures: int = 1) -> None:
        self.store = store
        self.error = error
        self.failures = failures

    def __call__(self) -> object:
        uow = self.store.unit_of_work()
        factory = self
        real_commit = uow.commit

        def commit() -> None:
            if factory.failures > 0:
                factory.failures -= 1
                raise factory.error
            real_commit()

        uow.commit = commit  # type: ignore[method-assign]
        return uow


# -- accounts -----------------------------------------------------------------------------------


def account_service(store: InMemoryStore, clock: ManualClock | None = None, **options):
    return AccountService(
        unit_of_work=options.pop("unit_of_work", store.unit_of_work),
        hasher=fast_hasher(),
        clock=clock if clock is not None else ManualClock(),
        authorizer=StaticAuthorizer({SUPPORT: {Permission.CHANGE_EMAIL}}),
        practice_name="Cabinet médical des Tilleuls",
        **options,
    )


def register(accounts: AccountService, **overrides):
    fields = {
        "login": "dr.dupont",
        "email": EMAIL,
        "password": STRONG,
        "password_confirmation": STRONG,
        "first_name": "Jeanne",
        "last_name": "Dupont",
    }
    fields.update(overrides)
    return accounts.register(**fields)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def accounts(store: InMemoryStore) -> AccountService:
    return account_service(store)


@pytest.fixture
def trail(store: InMemoryStore) -> Trail:
    return Trail(store)


def test_registration_records_the_new_user_acting_on_themself_in_the_platform_chain(
    accounts, trail
):
    """F3, A1-A4: one ``account.register``, outside any establishment."""
    user = register(accounts).user
    record = trail.one()
    assert_succeeded(record, "account.register", actor=user.id, target=user.id)
    assert record.event.at == accounts.clock.now()
    assert record.event.details == ()
    trail.assert_intact()


def test_a_refused_registration_records_one_refusal_and_stores_no_user(accounts, store, trail):
    """F3, A4: a weak password is refused, recorded with its code, and nothing is stored."""
    before = state(store)
    error = refused(
        lambda: register(accounts, password="court", password_confirmation="court"),
        PasswordRejected,
    )
    assert_refused(trail.one(), "account.register", error, actor=None, target="")
    assert state(store) == before


def test_a_duplicate_login_rolls_the_registration_back_and_records_its_refusal(
    accounts, store, trail
):
    """F3, A1, A2: the rolled-back insert leaves no success event, only the refusal."""
    register(accounts)
    trail.mark()
    before = state(store)
    error = refused(
        lambda: register(accounts, login="DR.DUPONT", email="autre@cabinet-tilleuls.be"),
        DuplicateLogin,
    )
    assert_refused(trail.one(), "account.register", error, actor=None, target="")
    assert state(store) == before
    trail.assert_intact()


def test_authentication_records_the_user_as_actor(accounts, trail):
    """F3: a successful log-in is ``account.authenticate`` by the user."""
    user = register(accounts).user
    trail.mark()
    accounts.authenticate("DR.DUPONT", STRONG)
    assert_succeeded(trail.one(), "account.authenticate", actor=user.id, target=user.id)


def test_a_wrong_password_records_a_refusal_without_actor_naming_the_account(
    accounts, store, trail
):
    """F3, A4: the account is the target, nobody the actor; the password is not kept."""
    user = register(accounts).user
    trail.mark()
    before = state(store)
    error = refused(lambda: accounts.authenticate("dr.dupont", OTHER_STRONG), AuthenticationFailed)
    record = trail.one()
    assert_refused(record, "account.authenticate", error, actor=None, target=user.id)
    assert record.event.code == "auth.failed"
    assert state(store) == before
    assert_nowhere(trail, OTHER_STRONG)


@pytest.mark.parametrize("login", ["inconnu", "Not a login at all!", STRONG])
def test_an_unknown_login_records_the_same_refusal_with_no_target_and_not_the_login(
    accounts, trail, login
):
    """F3: the refusal is recorded whether the login exists or not; never the typed text."""
    register(accounts)
    trail.mark()
    error = refused(lambda: accounts.authenticate(login, STRONG), AuthenticationFailed)
    record = trail.one()
    assert_refused(record, "account.authenticate", error, actor=None, target="")
    assert record.event.details == ()
    assert_nowhere(trail, login, STRONG)


def test_a_deactivated_account_records_its_refused_log_in(accounts, store, trail):
    """F3, A6: the right password of a deactivated account is refused and recorded."""
    user = register(accounts).user
    with store.unit_of_work() as uow:
        uow.users.update(uow.users.get(user.id).deactivate())
        uow.commit()
    trail.mark()
    error = refused(lambda: accounts.authenticate("dr.dupont", STRONG), AccountDeactivated)
    assert_refused(trail.one(), "account.authenticate", error, actor=None, target=user.id)


def test_a_clinic_login_signing_in_as_a_person_is_refused_and_recorded(accounts, store, trail):
    """F1, F3: the right password of a clinic login opens no person's session."""
    clinic = sample_user(
        kind=AccountKind.CLINIC, password_hash=accounts.hasher.hash(STRONG), login=Login("accueil")
    )
    with store.unit_of_work() as uow:
        uow.users.add(clinic)
        uow.commit()
    trail.mark()
    error = refused(lambda: accounts.authenticate("accueil", STRONG), ClinicLoginOnly)
    assert_refused(trail.one(), "account.authenticate", error, actor=None, target=clinic.id)
    assert accounts.verify_credentials("accueil", STRONG).id == clinic.id
    assert trail.new() == []


def test_a_log_in_that_rehashes_still_records_one_event(accounts, trail):
    """F3: re-hashing at log-in is part of the one ``account.authenticate`` event."""
    user = register(accounts).user
    stronger = fast_hasher()
    stronger.parameters = attrs.evolve(stronger.parameters, memory_cost=128)
    trail.mark()
    attrs.evolve(accounts, hasher=stronger).authenticate("dr.dupont", STRONG)
    assert_succeeded(trail.one(), "account.authenticate", actor=user.id, target=user.id)


def test_an_email_change_records_that_it_changed_not_the_address(accounts, trail):
    """F3, A5: support changes the address; the trail names the change, not the address."""
    user = register(accounts).user
    trail.mark()
    accounts.change_email(actor=SUPPORT, user_id=user.id, new_email="Dr.J@Cabinet-Neuf.be")
    record = trail.one()
    assert_succeeded(record, "account.change_email", actor=SUPPORT, target=user.id)
    assert_nowhere(trail, "Cabinet-Neuf", "cabinet-neuf", "Tilleuls", "tilleuls")


def test_a_refused_email_change_records_the_actor_and_changes_nothing(accounts, store, trail):
    """F3, A5: a user without CHANGE_EMAIL is refused; the refusal names them and the target."""
    user = register(accounts).user
    trail.mark()
    before = state(store)
    error = refused(
        lambda: accounts.change_email(actor=user.id, user_id=user.id, new_email="x@neuf.be"),
        PermissionDenied,
    )
    assert_refused(trail.one(), "account.change_email", error, actor=user.id, target=user.id)
    assert state(store) == before
    bad = refused(
        lambda: accounts.change_email(actor=SUPPORT, user_id=user.id, new_email="pas-une-adresse"),
        EmailRejected,
    )
    assert_refused(trail.one(), "account.change_email", bad, actor=SUPPORT, target=user.id)
    assert_nowhere(trail, "pas-une-adresse", "neuf.be")


def test_a_login_change_records_the_actor_and_not_the_login(accounts, store, trail):
    """F3, A1: success and a duplicate-login refusal, neither holding the login."""
    user = register(accounts).user
    other = register(accounts, login="dr.martin", email="martin@cabinet-tilleuls.be").user
    trail.mark()
    accounts.change_login(actor=user.id, user_id=user.id, new_login="jeanne.dupont")
    assert_succeeded(trail.one(), "account.change_login", actor=user.id, target=user.id)
    before = state(store)
    error = refused(
        lambda: accounts.change_login(actor=other.id, user_id=other.id, new_login="Jeanne.Dupont"),
        DuplicateLogin,
    )
    assert_refused(trail.one(), "account.change_login", error, actor=other.id, target=other.id)
    assert state(store) == before
    assert_nowhere(trail, "jeanne.dupont", "Jeanne.Dupont")


def test_a_password_change_records_the_user_and_a_wrong_current_password_its_refusal(
    accounts, store, trail
):
    """F3, A4: self-service: the user is the actor, success or refusal."""
    user = register(accounts).user
    trail.mark()
    before = state(store)
    error = refused(
        lambda: accounts.change_password(
            user_id=user.id,
            current_password=OTHER_STRONG,
            new_password=PASSWORD,
            new_password_confirmation=PASSWORD,
        ),
        AuthenticationFailed,
    )
    assert_refused(trail.one(), "account.change_password", error, actor=user.id, target=user.id)
    assert state(store) == before
    accounts.change_password(
        user_id=user.id,
        current_password=STRONG,
        new_password=PASSWORD,
        new_password_confirmation=PASSWORD,
    )
    assert_succeeded(trail.one(), "account.change_password", actor=user.id, target=user.id)
    assert_nowhere(trail, STRONG, PASSWORD, OTHER_STRONG)
    trail.assert_intact()


def test_verifying_credentials_records_nothing_for_its_caller_to_record(accounts, trail):
    """F3, F1: ``verify_credentials`` is for services that record their own sign-in event."""
    user = register(accounts).user
    trail.mark()
    assert accounts.verify_credentials("dr.dupont", STRONG).id == user.id
    with pytest.raises(AuthenticationFailed):
        accounts.verify_credentials("dr.dupont", OTHER_STRONG)
    with pytest.raises(AuthenticationFailed):
        accounts.verify_credentials("inconnu", STRONG)
    assert trail.new() == []


def test_checking_a_new_password_records_nothing(accounts, trail):
    """F3: ``new_password_hash`` changes nothing, so it records nothing."""
    accounts.new_password_hash(
        PASSWORD, PASSWORD, login="x", email="x@exemple.be", first_name="A", last_name="B"
    )
    assert trail.new() == []


def test_a_commit_that_fails_leaves_no_success_event(store, trail):
    """F3: the event commits with the change or not at all; the refusal is recorded."""
    accounts = account_service(store, unit_of_work=FailingCommits(store, StorageError()))
    before = state(store)
    error = refused(lambda: register(accounts), StorageError)
    assert_refused(trail.one(), "account.register", error, actor=None, target="")
    assert state(store) == before


def test_a_commit_failing_with_a_foreign_error_records_nothing(store, trail):
    """F3: not a refusal (a bug, not a decision): the rolled-back event is gone too."""
    accounts = account_service(store, unit_of_work=FailingCommits(store, RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        register(accounts)
    assert trail.new() == []
    assert state(store) == state(InMemoryStore())


def test_events_carry_the_request_context(store, trail):
    """F3: the peer address and request id the host reports reach every event."""

    class Context:
        def current(self) -> RequestInfo:
            return RequestInfo(peer_address="192.0.2.7", request_id="req-42")

    accounts = account_service(store, request_context=Context())
    register(accounts)
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate("dr.dupont", OTHER_STRONG)
    events = [record.event for record in trail.new()]
    assert [(e.peer_address, e.request_id) for e in events] == [("192.0.2.7", "req-42")] * 2


_PASSWORDS = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S")), min_size=12, max_size=40
)


@settings(max_examples=40)
@given(password=_PASSWORDS)
def test_no_password_typed_anywhere_ever_reaches_the_trail(password):
    """F3, A4: registration, log-ins (also a password typed as the login), changes."""
    store = InMemoryStore()
    trail = Trail(store)
    accounts = account_service(store)
    with pytest.raises(PracticeIdError):
        accounts.authenticate(password, password)
    try:
        user = register(accounts, password=password, password_confirmation=password).user
    except PasswordRejected:
        user = register(accounts).user
    for login in ("dr.dupont", password):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate(login, password + "x")
    with pytest.raises(PracticeIdError):
        accounts.change_password(
            user_id=user.id,
            current_password=password,
            new_password=password,
            new_password_confirmation=password + "y",
        )
    assert_nowhere(trail, password)
    trail.assert_intact()


# -- onboarding ---------------------------------------------------------------------------------


@attrs.frozen
class Practice:
    store: InMemoryStore
    p: SampleOnboarding
    trail: Trail

    @property
    def chain(self) -> str:
        return self.p.establishment.id


def practice(product: ProductKind = ProductKind.HOSPITAL) -> Practice:
    store = InMemoryStore()
    p = sample_onboarding(product, unit_of_work=store.unit_of_work)
    return Practice(store, p, Trail(store))


def invite(pr: Practice, email: str = INVITED_EMAIL, **fields):
    fields.setdefault("first_name", "Nadia")
    fields.setdefault("last_name", "Dubois")
    return pr.p.onboarding.invite(
        actor=pr.p.owner.id, establishment_id=pr.p.establishment.id, email=email, **fields
    )


def link(pr: Practice, invited) -> str:
    pr.p.deliver()
    token = pr.p.notifier.last_token(invited.user.email.address)
    assert token is not None
    return token


def accepted(pr: Practice, email: str = INVITED_EMAIL):
    """An invited account that accepted its invitation."""
    invited = invite(pr, email)
    token = link(pr, invited)
    return pr.p.onboarding.accept(token, password=PASSWORD, password_confirmation=PASSWORD)


def member(pr: Practice, role: str, email: str) -> UserId:
    return invite(pr, email, roles=[role], first_name="Paul", last_name="Exemple").user.id


def test_an_invitation_is_recorded_in_its_establishment_with_the_roles_given():
    """F3, D1, D2: ``invitation.send`` by the inviter, on the new account, without the address."""
    pr = practice()
    invited = invite(pr, roles=["physician"])
    record = pr.trail.one()
    assert_succeeded(
        record, "invitation.send", actor=pr.p.owner.id, target=invited.user.id, chain=pr.chain
    )
    assert record.event.detail == {
        "created_account": True,
        "roles": "physician",
        "message": "invitation",
        "status": "invited",
        "mode": "invitation",
        "round": 1,
    }
    assert_nowhere(pr.trail, "dubois", "Dubois")
    pr.trail.assert_intact()


def test_attaching_an_existing_account_is_recorded_as_one_invitation_event():
    """F3, C1: an address that has an account attaches it; one event says so."""
    pr = practice()
    owner_email = pr.p.owner.email.address
    other = pr.p.access.open_establishment(
        actor=pr.p.owner.id,
        organisation_id=pr.p.establishment.organisation_id,
        name="Annexe",
        product=ProductKind.HOSPITAL,
    )
    invited = invite(pr)
    pr.trail.mark()
    pr.p.onboarding.invite(
        actor=pr.p.owner.id,
        establishment_id=other.id,
        email=INVITED_EMAIL,
        password=PASSWORD,
        password_confirmation=PASSWORD,
    )
    record = pr.trail.one()
    assert_succeeded(
        record, "invitation.send", actor=pr.p.owner.id, target=invited.user.id, chain=other.id
    )
    assert record.event.detail == {
        "created_account": False,
        "roles": "",
        "message": "member_added",
    }
    assert_nowhere(pr.trail, PASSWORD, owner_email)


def test_a_refused_invitation_is_recorded_with_the_actor_and_creates_nothing():
    """F3, C3, D1: a member without users.create is refused; nothing is stored."""
    pr = practice()
    physician = member(pr, "physician", "p.exemple@hopital-exemple.fr")
    pr.trail.mark()
    before = state(pr.store)
    error = refused(
        lambda: pr.p.onboarding.invite(
            actor=physician, establishment_id=pr.p.establishment.id, email="x@hopital-exemple.fr"
        ),
        PermissionDenied,
    )
    assert_refused(
        pr.trail.one(), "invitation.send", error, actor=physician, target="", chain=pr.chain
    )
    assert state(pr.store) == before


def test_a_refused_invitation_to_an_unknown_establishment_opens_no_chain():
    """F3: an establishment nobody checked goes to the platform chain, its id in the details."""
    pr = practice()
    pr.trail.mark()
    error = refused(
        lambda: pr.p.onboarding.invite(
            actor=pr.p.owner.id, establishment_id="nowhere", email="x@hopital-exemple.fr"
        ),
        PracticeIdError,
    )
    record = pr.trail.one()
    assert_refused(record, "invitation.send", error, actor=pr.p.owner.id, target="")
    assert record.event.detail == {"establishment_id": "nowhere"}
    assert "nowhere" not in pr.trail.chains()


def test_administrator_mode_records_the_account_created_and_never_its_password():
    """F3, D1: the administrator sets the password; the trail does not hold it."""
    pr = practice(ProductKind.GENERAL_PRACTICE)
    invited = invite(
        pr, "a.exemple@cabinet-exemple.be", password=PASSWORD, password_confirmation=PASSWORD
    )
    record = pr.trail.one()
    assert record.event.detail["status"] == "accepted"
    assert record.event.detail["message"] == "account_created"
    assert record.event.target_id == invited.user.id
    error = refused(lambda: invite(pr, "b.exemple@cabinet-exemple.be"), PasswordRejected)
    assert_refused(
        pr.trail.one(), "invitation.send", error, actor=pr.p.owner.id, target="", chain=pr.chain
    )
    assert_nowhere(pr.trail, PASSWORD)


def test_a_resend_is_recorded_and_a_throttled_one_refused():
    """F3, D2: within the cooldown the re-send is refused and recorded; later it succeeds."""
    pr = practice()
    invited = invite(pr)
    pr.trail.mark()

    def resend():
        return pr.p.onboarding.resend(
            actor=pr.p.owner.id, establishment_id=pr.p.establishment.id, user_id=invited.user.id
        )

    before = state(pr.store)
    error = refused(resend, ResendThrottled)
    assert_refused(
        pr.trail.one(),
        "invitation.resend",
        error,
        actor=pr.p.owner.id,
        target=invited.user.id,
        chain=pr.chain,
    )
    assert state(pr.store) == before
    pr.p.clock.advance(minutes=5)
    resend()
    record = pr.trail.one()
    assert_succeeded(
        record, "invitation.resend", actor=pr.p.owner.id, target=invited.user.id, chain=pr.chain
    )
    assert record.event.detail == {"status": "invited", "mode": "invitation", "round": 2}


def test_a_resend_retried_after_a_concurrent_change_records_one_success():
    """F3, D2: the stale attempt rolled back with its event; the rerun records one."""
    pr = practice()
    invited = invite(pr)
    pr.p.clock.advance(minutes=5)
    pr.trail.mark()
    onboarding = attrs.evolve(
        pr.p.onboarding, unit_of_work=FailingCommits(pr.store, StaleRecord(entity="onboarding"))
    )
    onboarding.resend(
        actor=pr.p.owner.id, establishment_id=pr.p.establishment.id, user_id=invited.user.id
    )
    assert_succeeded(
        pr.trail.one(),
        "invitation.resend",
        actor=pr.p.owner.id,
        target=invited.user.id,
        chain=pr.chain,
    )


def test_accepting_is_recorded_by_the_account_and_holds_neither_token_nor_password():
    """F3, D2: the person who accepted is the actor, in the invitation's establishment."""
    pr = practice()
    invited = invite(pr)
    token = link(pr, invited)
    pr.trail.mark()
    user = pr.p.onboarding.accept(token, password=PASSWORD, password_confirmation=PASSWORD)
    record = pr.trail.one()
    assert_succeeded(record, "invitation.accept", actor=user.id, target=user.id, chain=pr.chain)
    assert record.event.detail == {"status": "accepted", "mode": "invitation", "round": 1}
    assert_nowhere(pr.trail, token, PASSWORD)


def test_a_refused_link_is_recorded_alike_for_every_reason_without_actor_or_token():
    """F3, D2: unknown and used links leave the same anonymous refusal in the platform chain."""
    pr = practice()
    invited = invite(pr)
    token = link(pr, invited)
    pr.p.onboarding.accept(token, password=PASSWORD, password_confirmation=PASSWORD)
    pr.trail.mark()
    shapes = []
    for guess in ("not-a-real-token", token):
        before = state(pr.store)
        error = refused(
            lambda guess=guess: pr.p.onboarding.accept(
                guess, password=PASSWORD, password_confirmation=PASSWORD
            ),
            InvitationInvalid,
        )
        record = pr.trail.one()
        assert_refused(record, "invitation.accept", error, actor=None, target="")
        assert state(pr.store) == before
        shapes.append(attrs.evolve(record.event, at=pr.p.clock.now()))
    assert shapes[0] == shapes[1]
    assert_nowhere(pr.trail, token, "not-a-real-token", PASSWORD)


def test_a_password_refused_at_acceptance_names_the_account_and_keeps_the_link():
    """F3, A4, D2: once the link opened, the refusal names the account in its establishment."""
    pr = practice()
    invited = invite(pr)
    token = link(pr, invited)
    pr.trail.mark()
    before = state(pr.store)
    error = refused(
        lambda: pr.p.onboarding.accept(token, password="court", password_confirmation="court"),
        PasswordRejected,
    )
    assert_refused(
        pr.trail.one(),
        "invitation.accept",
        error,
        actor=invited.user.id,
        target=invited.user.id,
        chain=pr.chain,
    )
    assert state(pr.store) == before
    pr.p.onboarding.accept(token, password=PASSWORD, password_confirmation=PASSWORD)
    assert pr.trail.one().event.succeeded


def test_a_sign_in_records_one_event_not_also_an_authentication():
    """F3, D2: ``account.sign_in`` alone, by the account, with what is missing."""
    pr = practice()
    pr.p.onboarding.publish_terms("v1")
    user = accepted(pr)
    pr.trail.mark()
    pr.p.onboarding.sign_in(user.login.display, PASSWORD)
    record = pr.trail.one()
    assert_succeeded(record, "account.sign_in", actor=user.id, target=user.id)
    assert record.event.detail == {"status": "accepted", "missing": "terms"}
    assert_nowhere(pr.trail, PASSWORD)


def test_a_refused_sign_in_records_one_refusal_naming_the_account_only_if_it_exists():
    """F3, A4: a wrong password names the account; an unknown login names nobody."""
    pr = practice()
    user = accepted(pr)
    pr.trail.mark()
    before = state(pr.store)
    error = refused(
        lambda: pr.p.onboarding.sign_in(user.login.display, STRONG), AuthenticationFailed
    )
    assert_refused(pr.trail.one(), "account.sign_in", error, actor=None, target=user.id)
    error = refused(lambda: pr.p.onboarding.sign_in(PASSWORD, PASSWORD), AuthenticationFailed)
    assert_refused(pr.trail.one(), "account.sign_in", error, actor=None, target="")
    assert state(pr.store) == before
    assert_nowhere(pr.trail, PASSWORD, STRONG)


def test_a_sign_in_refused_after_the_password_checked_records_one_refusal():
    """F3, D2: a password set around the invitation: one refusal, the account its target."""
    pr = practice()
    invited = invite(pr)
    with pr.p.unit_of_work() as uow:
        user = uow.users.get(invited.user.id)
        uow.users.update(user.with_password_hash(fast_hasher().hash(PASSWORD)))
        uow.commit()
    pr.trail.mark()
    error = refused(
        lambda: pr.p.onboarding.sign_in(invited.user.login.display, PASSWORD), IllegalTransition
    )
    assert_refused(pr.trail.one(), "account.sign_in", error, actor=None, target=invited.user.id)


def test_accepting_terms_is_recorded_with_the_version_and_a_stale_version_refused():
    """F3, D2: ``terms.accept`` by the account itself."""
    pr = practice()
    pr.p.onboarding.publish_terms("v1")
    user = accepted(pr)
    pr.p.onboarding.sign_in(user.login.display, PASSWORD)
    pr.trail.mark()
    before = state(pr.store)
    error = refused(
        lambda: pr.p.onboarding.accept_terms(user_id=user.id, version="v0"), TermsNotCurrent
    )
    assert_refused(pr.trail.one(), "terms.accept", error, actor=user.id, target=user.id)
    assert state(pr.store) == before
    pr.p.onboarding.accept_terms(user_id=user.id, version="v1")
    record = pr.trail.one()
    assert_succeeded(record, "terms.accept", actor=user.id, target=user.id)
    assert record.event.detail == {"version": "v1", "status": "active"}
    pr.p.onboarding.accept_terms(user_id=user.id, version="v1")  # again: a no-op, recorded
    assert pr.trail.one().event.succeeded


def test_publishing_terms_is_recorded_and_a_bad_or_repeated_version_refused():
    """F3, D2: ``terms.publish`` targets the version; a malformed version is not recorded."""
    pr = practice()
    terms = pr.p.onboarding.publish_terms("2026-01")
    record = pr.trail.one()
    assert_succeeded(record, "terms.publish", actor=None, target="2026-01", target_type="terms")
    assert record.event.detail == {"published_at": terms.published_at.isoformat()}
    before = state(pr.store)
    error = refused(lambda: pr.p.onboarding.publish_terms("2026-01"), DuplicateRecord)
    assert_refused(pr.trail.one(), "terms.publish", error, actor=None, target="2026-01")
    error = refused(lambda: pr.p.onboarding.publish_terms("<script> v2"), PracticeIdError)
    assert_refused(pr.trail.one(), "terms.publish", error, actor=None, target="")
    assert state(pr.store) == before


def test_an_onboarding_password_change_records_one_event_not_two():
    """F3, D1: a temporary password replaced: one ``account.change_password``."""
    pr = practice(ProductKind.DENTAL)
    user = accepted(pr, "s.exemple@centre-dentaire-exemple.fr")
    pr.trail.mark()

    def change(current: str):
        return pr.p.onboarding.change_password(
            user_id=user.id,
            current_password=current,
            new_password=OTHER_STRONG,
            new_password_confirmation=OTHER_STRONG,
        )

    before = state(pr.store)
    error = refused(lambda: change(STRONG), AuthenticationFailed)
    assert_refused(pr.trail.one(), "account.change_password", error, actor=user.id, target=user.id)
    assert state(pr.store) == before
    record = change(PASSWORD)
    assert not record.password_change_required
    assert_succeeded(pr.trail.one(), "account.change_password", actor=user.id, target=user.id)
    assert_nowhere(pr.trail, PASSWORD, OTHER_STRONG, STRONG)


def test_deactivation_and_reactivation_are_recorded_and_a_refusal_names_the_actor():
    """F3, A6, D2: account-level events by the administrator; a physician is refused."""
    pr = practice()
    invited = invite(pr)
    physician = member(pr, "physician", "p.exemple@hopital-exemple.fr")
    pr.trail.mark()
    before = state(pr.store)
    error = refused(
        lambda: pr.p.onboarding.deactivate(actor=physician, user_id=invited.user.id),
        PermissionDenied,
    )
    assert_refused(
        pr.trail.one(), "account.deactivate", error, actor=physician, target=invited.user.id
    )
    assert state(pr.store) == before
    pr.p.onboarding.deactivate(actor=pr.p.owner.id, user_id=invited.user.id)
    record = pr.trail.one()
    assert_succeeded(record, "account.deactivate", actor=pr.p.owner.id, target=invited.user.id)
    assert record.event.detail["status"] == "deactivated"
    pr.p.onboarding.reactivate(actor=pr.p.owner.id, user_id=invited.user.id)
    record = pr.trail.one()
    assert_succeeded(record, "account.reactivate", actor=pr.p.owner.id, target=invited.user.id)
    assert record.event.detail == {"status": "invited", "mode": "invitation", "round": 2}


def test_the_sweep_records_one_event_per_record_changed_without_actor():
    """F3, D2: reminders and expiry in the establishment's chain; a rerun records nothing."""
    pr = practice()
    first = invite(pr)
    second = invite(pr, "o.exemple@hopital-exemple.fr", first_name="Omar", last_name="Exemple")
    pr.trail.mark()
    pr.p.clock.advance(days=3)
    assert set(pr.p.onboarding.run_due().reminded) == {first.user.id, second.user.id}
    reminders = pr.trail.new()
    assert sorted(r.event.target_id for r in reminders) == sorted([first.user.id, second.user.id])
    for record in reminders:
        assert_succeeded(
            record, "invitation.remind", actor=None, target=record.event.target_id, chain=pr.chain
        )
    assert pr.p.onboarding.run_due().changed == 0
    assert pr.trail.new() == []
    pr.p.clock.advance(days=11)
    assert set(pr.p.onboarding.run_due().expired) == {first.user.id, second.user.id}
    expiries = pr.trail.new()
    assert {r.event.action for r in expiries} == {"invitation.expire"}
    assert [r.event.detail["status"] for r in expiries] == ["expired", "expired"]
    pr.trail.assert_intact()


def test_the_sweep_records_the_deactivation_of_an_account_deactivated_around_it():
    """F3, A6, D2: ``onboarding.deactivate``, no actor, in the establishment's chain."""
    pr = practice()
    invited = invite(pr)
    with pr.p.unit_of_work() as uow:
        uow.users.update(uow.users.get(invited.user.id).deactivate())
        uow.commit()
    pr.trail.mark()
    pr.p.clock.advance(days=3)
    assert pr.p.onboarding.run_due().deactivated == (invited.user.id,)
    record = pr.trail.one()
    assert_succeeded(
        record, "onboarding.deactivate", actor=None, target=invited.user.id, chain=pr.chain
    )
    assert record.event.detail["status"] == "deactivated"


def test_a_sweep_whose_commit_fails_records_nothing():
    """F3: the sweep's events commit with its changes or not at all."""
    pr = practice()
    invite(pr)
    pr.p.clock.advance(days=3)
    pr.trail.mark()
    failing = attrs.evolve(
        pr.p.onboarding, unit_of_work=FailingCommits(pr.store, RuntimeError("crash"))
    )
    before = state(pr.store)
    with pytest.raises(RuntimeError):
        failing.run_due()
    assert pr.trail.new() == []
    assert state(pr.store) == before


def test_reads_and_checks_record_nothing():
    """F3: opening a link, listings, records, terms and the onboarding guard are reads."""
    pr = practice()
    pr.p.onboarding.publish_terms("v1")
    invited = invite(pr)
    token = link(pr, invited)
    pr.trail.mark()
    pr.p.onboarding.open(token)
    pr.p.onboarding.members(actor=pr.p.owner.id, establishment_id=pr.p.establishment.id)
    pr.p.onboarding.onboarding_of(invited.user.id)
    pr.p.onboarding.current_terms()
    with pytest.raises(OnboardingIncomplete):
        pr.p.onboarding.require_onboarded(invited.user.id)
    with pytest.raises(InvitationInvalid):
        pr.p.onboarding.open("not-a-real-token")
    assert pr.trail.new() == []


def test_a_whole_onboarding_leaves_intact_chains_and_no_secret():
    """F3, D1, D2: every event of a story, chained per establishment and for the platform."""
    pr = practice(ProductKind.DENTAL)
    pr.p.onboarding.publish_terms("v1")
    invited = invite(pr, "s.exemple@centre-dentaire-exemple.fr")
    tokens = [link(pr, invited)]
    pr.p.clock.advance(days=3)
    pr.p.onboarding.run_due()
    tokens.append(link(pr, invited))
    user = pr.p.onboarding.accept(tokens[-1], password=PASSWORD, password_confirmation=PASSWORD)
    pr.p.onboarding.sign_in(user.login.display, PASSWORD)
    pr.p.onboarding.change_password(
        user_id=user.id,
        current_password=PASSWORD,
        new_password=OTHER_STRONG,
        new_password_confirmation=OTHER_STRONG,
    )
    pr.p.onboarding.accept_terms(user_id=user.id, version="v1")
    with pytest.raises(AuthenticationFailed):
        pr.p.onboarding.sign_in(user.login.display, PASSWORD)
    pr.p.onboarding.sign_in(user.login.display, OTHER_STRONG)
    chains = pr.trail.story()
    assert set(chains) == {PLATFORM_CHAIN, pr.chain}
    assert [r.event.action for r in chains[pr.chain]] == [
        "invitation.send",
        "invitation.remind",
        "invitation.accept",
    ]
    assert [(r.event.action, r.event.outcome) for r in chains[PLATFORM_CHAIN]] == [
        ("terms.publish", Outcome.SUCCEEDED),
        ("account.sign_in", Outcome.SUCCEEDED),
        ("account.change_password", Outcome.SUCCEEDED),
        ("terms.accept", Outcome.SUCCEEDED),
        ("account.sign_in", Outcome.REFUSED),
        ("account.sign_in", Outcome.SUCCEEDED),
    ]
    pr.trail.assert_intact()
    assert_nowhere(pr.trail, PASSWORD, OTHER_STRONG, *tokens, "s.exemple")
    assert pr.p.onboarding.onboarding_of(user.id).status is OnboardingStatus.ACTIVE


@settings(max_examples=25)
@given(password=_PASSWORDS)
def test_no_password_chosen_at_acceptance_reaches_the_trail(password):
    """F3, A4, D2: accepted or refused by the policy, the chosen password is never kept."""
    pr = practice()
    invited = invite(pr)
    token = link(pr, invited)
    try:
        user = pr.p.onboarding.accept(token, password=password, password_confirmation=password)
    except PasswordRejected:
        pass
    else:
        with pytest.raises(AuthenticationFailed):
            pr.p.onboarding.sign_in(password, password)
        pr.p.onboarding.sign_in(user.login.display, password)
    assert_nowhere(pr.trail, password, token)
    pr.trail.assert_intact()
