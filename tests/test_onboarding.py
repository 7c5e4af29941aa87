"""The onboarding service by requirement: invitations, links, reminders, terms (D1, D2, C1, A3).

Each test runs a practice in memory (:func:`~practiceid.testing.sample_onboarding`) with a
manual clock and a recording notifier; the dispatcher delivers the outbox when a test needs
the link an e-mail carried. Names and addresses are made up.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import attrs
import pytest

from practiceid import (
    AccessRejected,
    AccountDeactivated,
    AccountService,
    AuthenticationFailed,
    DuplicateRecord,
    EmailRejected,
    IllegalTransition,
    InvitationInvalid,
    InvitationSettings,
    MembershipNotFound,
    MessageKind,
    MessageStatus,
    OnboardingIncomplete,
    OnboardingMode,
    OnboardingNotFound,
    OnboardingStatus,
    PasswordRejected,
    Permission,
    PermissionDenied,
    PracticeIdError,
    ProductKind,
    ProfileRejected,
    ResendThrottled,
    TermsNotCurrent,
    UserId,
)
from practiceid.adapters import InMemoryStore, StaticAuthorizer
from practiceid.testing import SampleOnboarding, fast_hasher, sample_onboarding

S = OnboardingStatus
PASSWORD = "Gr4nd-Ciel!Orage#77"
NEW_PASSWORD = "Tasse-de-thé-au-jardin-9"
SUPPORT = UserId("support-desk")
DAY, US = timedelta(days=1), timedelta(microseconds=1)


def practice(product: ProductKind = ProductKind.HOSPITAL, **options) -> SampleOnboarding:
    return sample_onboarding(product, **options)


def invite(p: SampleOnboarding, email: str = "n.dubois@hopital-exemple.fr", **fields):
    fields.setdefault("first_name", "Nadia")
    fields.setdefault("last_name", "Dubois")
    return p.onboarding.invite(
        actor=p.owner.id, establishment_id=p.establishment.id, email=email, **fields
    )


def latest_link(p: SampleOnboarding, invited) -> str:
    """Deliver the outbox and return the newest link the invited person received."""
    p.deliver()
    token = p.notifier.last_token(invited.user.email.address)
    assert token is not None
    return token


def accept(p: SampleOnboarding, token: object, password: str = PASSWORD):
    return p.onboarding.accept(token, password=password, password_confirmation=password)


def outbox(p: SampleOnboarding, user_id: UserId | None = None):
    with p.unit_of_work() as uow:
        return list(uow.outbox.list(user_id=user_id))


def kinds(p: SampleOnboarding, user_id: UserId) -> list[MessageKind]:
    """The kinds of the messages about an account, in the order of the changes that wrote them."""

    def order(message) -> int:
        match = re.search(r":v(\d+):", message.idempotency_key)
        assert match is not None
        return int(match.group(1))

    return [m.kind for m in sorted(outbox(p, user_id), key=order)]


def member_ids(p: SampleOnboarding) -> list[UserId]:
    listed = p.onboarding.members(actor=p.owner.id, establishment_id=p.establishment.id)
    return [m.user.id for m in listed]


def member(p: SampleOnboarding, role: str, email: str) -> UserId:
    return invite(p, email, roles=[role], first_name="Paul", last_name="Exemple").user.id


# -- D1: one state machine, three products ---------------------------------------------------


def test_d1_hospital_invitation_carries_a_link_to_set_the_password():
    p = practice(ProductKind.HOSPITAL)
    invited = invite(p)
    assert invited.onboarding is not None
    assert invited.onboarding.mode is OnboardingMode.INVITATION
    assert invited.onboarding.status is S.INVITED
    message = invited.message
    assert (message.kind, message.link_round, message.locale) == (
        MessageKind.INVITATION,
        1,
        "fr-FR",
    )
    assert message.params["establishment"] == p.establishment.name
    assert message.params["expires_at"] == (p.clock.now() + 14 * DAY).isoformat()
    assert invited.user.password_hash is None
    token = latest_link(p, invited)
    assert len(token) == 43  # 256 random bits, URL-safe
    user = accept(p, token)
    assert user.password_hash is not None
    signed = p.onboarding.sign_in(user.login.display, PASSWORD)
    assert (signed.onboarding.status, signed.missing) == (S.ACTIVE, ())
    assert kinds(p, user.id) == [
        MessageKind.INVITATION,
        MessageKind.INVITATION_ACCEPTED,
        MessageKind.ACCOUNT_ACTIVATED,
    ]


def test_d1_dental_welcome_link_sets_a_temporary_password_replaced_at_first_sign_in():
    p = practice(ProductKind.DENTAL)
    invited = invite(p, "c.martin@centre-dentaire-exemple.fr", first_name="Claire")
    assert invited.message.kind is MessageKind.WELCOME
    user = accept(p, latest_link(p, invited))
    signed = p.onboarding.sign_in(user.login.display, PASSWORD)
    assert signed.missing == ("password_change",)
    assert not signed.may_continue
    assert signed.onboarding.status is S.ACCEPTED
    with pytest.raises(OnboardingIncomplete) as caught:
        p.onboarding.require_onboarded(user.id)
    assert caught.value.params["missing"] == ("password_change",)
    changed = p.onboarding.change_password(
        user_id=user.id,
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_confirmation=NEW_PASSWORD,
    )
    assert (changed.status, changed.password_change_required) == (S.ACTIVE, False)
    p.onboarding.require_onboarded(user.id)
    with pytest.raises(AuthenticationFailed):
        p.onboarding.sign_in(user.login.display, PASSWORD)  # the temporary one is gone
    assert p.onboarding.sign_in(user.login.display, NEW_PASSWORD).may_continue


@pytest.mark.parametrize("product", [ProductKind.GENERAL_PRACTICE, ProductKind.VETERINARY])
def test_d1_administrator_sets_the_password_and_the_email_carries_neither_link_nor_password(
    product,
):
    p = practice(product)
    invited = invite(
        p, "a.exemple@cabinet-exemple.be", password=PASSWORD, password_confirmation=PASSWORD
    )
    assert invited.onboarding is not None
    assert invited.onboarding.mode is OnboardingMode.ADMINISTRATOR
    assert invited.onboarding.status is S.ACCEPTED
    assert (invited.message.kind, invited.message.link_round) == (MessageKind.ACCOUNT_CREATED, None)
    assert invited.message.locale == "fr-BE"
    assert "expires_at" not in invited.message.params
    p.deliver()
    [delivery] = p.notifier.sent
    assert delivery.token is None
    assert PASSWORD not in repr(delivery)
    assert all(PASSWORD not in value for value in delivery.message.params.values())
    signed = p.onboarding.sign_in(invited.user.login.display, PASSWORD)
    assert signed.onboarding.status is S.ACTIVE
    p.clock.advance(days=30)
    assert p.onboarding.run_due().changed == 0  # no reminder, no expiry: nothing to accept


@pytest.mark.parametrize("product", [ProductKind.GENERAL_PRACTICE, ProductKind.VETERINARY])
def test_d1_administrator_mode_requires_the_password_and_creates_nothing_without_it(product):
    p = practice(product)
    with pytest.raises(PasswordRejected) as caught:
        invite(p, "a.exemple@cabinet-exemple.be")
    assert [v.code for v in caught.value.violations] == ["password.required"]
    assert outbox(p) == []
    assert member_ids(p) == [p.owner.id]  # no account was created


@pytest.mark.parametrize(
    ("password", "confirmation", "code"),
    [
        ("court", "court", "password.too_short"),
        ("Password123!", "Password123!", "password.too_weak"),
        (PASSWORD, PASSWORD + "x", "password.confirmation_mismatch"),
        (PASSWORD, None, "password.confirmation_mismatch"),
    ],
)
def test_d1_administrator_set_password_follows_the_policy(password, confirmation, code):
    p = practice(ProductKind.GENERAL_PRACTICE)
    with pytest.raises(PasswordRejected) as caught:
        invite(
            p,
            "a.exemple@cabinet-exemple.be",
            password=password,
            password_confirmation=confirmation,
        )
    assert code in {v.code for v in caught.value.violations}
    assert password not in repr(caught.value)
    assert password not in str(caught.value.to_dict())
    assert outbox(p) == []


@pytest.mark.parametrize("product", [ProductKind.HOSPITAL, ProductKind.DENTAL])
def test_d1_a_password_is_refused_where_members_set_their_own_from_a_link(product):
    p = practice(product)
    with pytest.raises(PasswordRejected) as caught:
        invite(p, password=PASSWORD, password_confirmation=PASSWORD)
    assert [v.code for v in caught.value.violations] == ["password.not_expected"]
    assert outbox(p) == []
    assert member_ids(p) == [p.owner.id]


def test_d1_the_product_mode_and_locale_can_be_configured():
    p = practice(ProductKind.HOSPITAL)
    service = attrs.evolve(
        p.onboarding,
        modes={ProductKind.HOSPITAL: OnboardingMode.WELCOME},
        locales={ProductKind.HOSPITAL: "nl-BE"},
    )
    invited = service.invite(
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email="j.peeters@ziekenhuis-exemple.be",
        first_name="Jan",
        last_name="Peeters",
    )
    assert (invited.message.kind, invited.message.locale) == (MessageKind.WELCOME, "nl-BE")
    chosen = invite(p, "m.lambert@hopital-exemple.fr", locale="fr-BE")
    assert chosen.message.locale == chosen.onboarding.locale == "fr-BE"


# -- C1: an existing account joins another establishment -------------------------------------


def _second_establishment(p: SampleOnboarding, product: ProductKind = ProductKind.HOSPITAL):
    return p.access.open_establishment(
        actor=p.owner.id,
        organisation_id=p.establishment.organisation_id,
        name="Clinique de l'Exemple",
        product=product,
    )


def test_c1_an_existing_account_added_elsewhere_gets_a_notice_not_an_invitation():
    p = practice()
    first = invite(p)
    before = p.onboarding.onboarding_of(first.user.id)
    other = _second_establishment(p)
    again = p.onboarding.invite(
        actor=p.owner.id,
        establishment_id=other.id,
        email="  N.Dubois@HOPITAL-exemple.fr ",
        first_name="Someone",
        last_name="Else",
    )
    assert again.onboarding is None
    assert again.user.id == first.user.id  # the same account (C1)
    assert not again.member.created_user
    assert again.message.kind is MessageKind.MEMBER_ADDED
    assert again.message.link_round is None
    assert again.message.params["establishment"] == "Clinique de l'Exemple"
    assert again.message.recipient == first.user.email.address
    assert p.onboarding.onboarding_of(first.user.id) == before  # onboarding unchanged
    with p.unit_of_work() as uow:
        assert uow.users.get(first.user.id).first_name == "Nadia"
        assert {m.establishment_id for m in uow.memberships.list_for_user(first.user.id)} == {
            p.establishment.id,
            other.id,
        }
    p.deliver()
    added = [d for d in p.notifier.sent if d.message.kind is MessageKind.MEMBER_ADDED]
    assert [d.token for d in added] == [None]


def test_c1_a_password_given_for_an_existing_account_is_ignored_with_a_notice():
    p = practice(ProductKind.GENERAL_PRACTICE)
    first = invite(
        p, "a.exemple@cabinet-exemple.be", password=PASSWORD, password_confirmation=PASSWORD
    )
    other = _second_establishment(p, ProductKind.VETERINARY)
    again = p.onboarding.invite(
        actor=p.owner.id,
        establishment_id=other.id,
        email="a.exemple@cabinet-exemple.be",
        password=NEW_PASSWORD,
        password_confirmation=NEW_PASSWORD,
    )
    assert again.onboarding is None
    assert "member.password_ignored" in {n.code for n in again.member.notices}
    assert p.onboarding.sign_in(first.user.login.display, PASSWORD).user.id == first.user.id
    with pytest.raises(AuthenticationFailed):
        p.onboarding.sign_in(first.user.login.display, NEW_PASSWORD)


# -- A3: the stored, normalized address ------------------------------------------------------


def test_a3_every_message_goes_to_the_stored_normalized_address():
    p = practice()
    invited = invite(p, "  Dr.X@Example-Hopital.ORG ")
    with p.unit_of_work() as uow:
        stored = uow.users.get(invited.user.id).email.address
    assert stored == "Dr.X@example-hopital.org"
    assert invited.message.recipient == stored
    p.clock.advance(days=3)
    p.onboarding.run_due()
    accept(p, latest_link(p, invited))
    p.deliver()
    assert {d.message.recipient for d in p.notifier.sent} == {stored}
    assert {m.recipient for m in outbox(p, invited.user.id)} == {stored}


def test_a3_an_address_with_accents_gets_its_link_and_can_accept_it():
    p = practice()
    invited = invite(p, "Chloé.Fictif@Hôpital-Exemple.fr", first_name="Chloé")
    token = latest_link(p, invited)  # minting compares address keys: any Unicode
    assert p.onboarding.open(token).email == invited.user.email.address
    assert accept(p, token).id == invited.user.id
    p.clock.advance(days=1)
    other = invite(p, "zoé.exemple@hopital-exemple.fr", first_name="Zoé")
    stale = latest_link(p, other)
    p.onboarding.deactivate(actor=p.owner.id, user_id=other.user.id)
    with pytest.raises(InvitationInvalid):
        accept(p, stale)


def test_a3_an_invalid_address_is_refused_and_a_generic_one_earns_a_notice():
    p = practice()
    with pytest.raises(EmailRejected):
        invite(p, "pas-une-adresse")
    generic = invite(p, "info@hopital-exemple.fr")
    assert "email.generic_address" in {n.code for n in generic.member.notices}


# -- links: open, accept, single use (D2) ----------------------------------------------------


def test_opening_a_link_shows_the_invitation_and_does_not_use_it_up():
    p = practice()
    invited = invite(p)
    token = latest_link(p, invited)
    views = [p.onboarding.open(token) for _ in range(3)]  # mail scanners follow links
    assert views[0] == views[1] == views[2]
    view = views[0]
    assert (view.user_id, view.first_name, view.last_name) == (invited.user.id, "Nadia", "Dubois")
    assert view.email == invited.user.email.address
    assert view.establishment == p.establishment.name
    assert view.mode is OnboardingMode.INVITATION
    assert view.expires_at == p.clock.now() + 14 * DAY
    assert token not in repr(view)
    before = p.onboarding.onboarding_of(invited.user.id)
    p.onboarding.open(token)
    assert p.onboarding.onboarding_of(invited.user.id) == before
    assert accept(p, token).id == invited.user.id


def test_accepting_is_single_use():
    p = practice()
    invited = invite(p)
    token = latest_link(p, invited)
    accept(p, token)
    with pytest.raises(InvitationInvalid) as caught:
        accept(p, token, password=NEW_PASSWORD)
    assert caught.value.params == {}
    assert p.onboarding.sign_in(invited.user.login.display, PASSWORD).user.id == invited.user.id


def test_every_link_of_the_round_dies_at_acceptance():
    p = practice()
    invited = invite(p)
    first = latest_link(p, invited)
    p.clock.advance(days=3)
    p.onboarding.run_due()
    reminder = latest_link(p, invited)
    assert reminder != first
    assert p.onboarding.open(first).user_id == p.onboarding.open(reminder).user_id
    accept(p, reminder)
    with pytest.raises(InvitationInvalid):
        p.onboarding.open(first)


def _dead_links(p: SampleOnboarding):
    """Yield (reason, token) for every way a link stops working."""
    invited = invite(p, "u.one@hopital-exemple.fr")
    used = latest_link(p, invited)
    accept(p, used)
    yield "used", used

    invited = invite(p, "u.two@hopital-exemple.fr")
    revoked = latest_link(p, invited)
    p.clock.advance(minutes=5)
    p.onboarding.resend(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=invited.user.id
    )
    yield "revoked by a resend", revoked

    invited = invite(p, "u.three@hopital-exemple.fr")
    deactivated = latest_link(p, invited)
    p.onboarding.deactivate(actor=p.owner.id, user_id=invited.user.id)
    yield "deactivated", deactivated

    invited = invite(p, "u.four@hopital-exemple.fr")
    expired = latest_link(p, invited)
    p.clock.advance(days=14)
    yield "expired before the sweep", expired
    p.onboarding.run_due()
    yield "expired after the sweep", expired

    yield "unknown", "A" * 43
    yield "empty", ""
    yield "truncated", expired[:-1]
    for not_text in (None, 12345, b"bytes", ["list"], {"token": expired}):
        yield f"not text: {type(not_text).__name__}", not_text


def test_unknown_used_expired_revoked_and_malformed_links_all_get_the_same_error():
    p = practice()
    reasons = []
    for reason, token in _dead_links(p):
        for use in (p.onboarding.open, lambda t: accept(p, t)):
            with pytest.raises(InvitationInvalid) as caught:
                use(token)
            assert caught.value.params == {}, reason
            assert caught.value.message == InvitationInvalid.default_message
            assert type(caught.value) is InvitationInvalid
        reasons.append(reason)
    assert len(reasons) == 13


def test_a_password_refused_by_the_policy_leaves_the_link_valid():
    p = practice()
    invited = invite(p)
    token = latest_link(p, invited)
    for weak in ("court", "Password123!"):
        with pytest.raises(PasswordRejected) as caught:
            accept(p, token, password=weak)
        assert weak not in repr(caught.value)
    with pytest.raises(PasswordRejected):
        p.onboarding.accept(token, password=PASSWORD, password_confirmation=PASSWORD + "!")
    assert p.onboarding.onboarding_of(invited.user.id).status is S.INVITED
    assert accept(p, token).id == invited.user.id


def _support(p: SampleOnboarding, store: InMemoryStore) -> AccountService:
    return AccountService(
        unit_of_work=store.unit_of_work,
        hasher=fast_hasher(),
        clock=p.clock,
        authorizer=StaticAuthorizer({SUPPORT: {Permission.CHANGE_EMAIL}}),
    )


def test_changing_the_address_after_sending_kills_the_link_and_a_resend_goes_to_the_new_one():
    store = InMemoryStore()
    p = practice(unit_of_work=store.unit_of_work)
    invited = invite(p)
    token = latest_link(p, invited)
    p.clock.advance(days=2, hours=23, minutes=59)
    p.onboarding.run_due(p.clock.now() + timedelta(minutes=1))  # a reminder, not sent yet
    _support(p, store).change_email(
        actor=SUPPORT, user_id=invited.user.id, new_email="nadia.dubois@autre-exemple.fr"
    )
    for use in (p.onboarding.open, lambda t: accept(p, t)):
        with pytest.raises(InvitationInvalid):
            use(token)
    report = p.dispatcher.run_until_idle()
    assert len(report.cancelled) == 1  # the pending reminder carried a link to the old address
    assert p.notifier.last_token("nadia.dubois@autre-exemple.fr") is None
    p.onboarding.resend(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=invited.user.id
    )
    p.deliver()
    fresh = p.notifier.last_token("nadia.dubois@autre-exemple.fr")
    assert fresh is not None
    assert p.notifier.sent[-1].message.recipient == "nadia.dubois@autre-exemple.fr"
    with pytest.raises(InvitationInvalid):
        accept(p, token)
    assert accept(p, fresh).email.address == "nadia.dubois@autre-exemple.fr"


def test_an_address_changed_in_a_unit_of_work_also_kills_the_link():
    p = practice()
    invited = invite(p)
    token = latest_link(p, invited)
    with p.unit_of_work() as uow:
        user = uow.users.get(invited.user.id)
        changed = p.access.email_policy.parse("n.dubois@nouvel-exemple.fr")
        uow.users.update(user.with_email(changed))
        uow.commit()
    with pytest.raises(InvitationInvalid):
        accept(p, token)


# -- resend (D2) -------------------------------------------------------------------------------


def resend(p: SampleOnboarding, user_id: UserId, actor: UserId | None = None, establishment=None):
    return p.onboarding.resend(
        actor=actor or p.owner.id,
        establishment_id=establishment or p.establishment.id,
        user_id=user_id,
    )


def test_resend_makes_a_new_link_kills_the_old_and_restarts_the_deadline_from_now():
    p = practice()
    invited = invite(p)
    old = latest_link(p, invited)
    p.clock.advance(days=5, hours=3, seconds=7, microseconds=123)
    record = resend(p, invited.user.id)
    assert (record.round, record.sent_at) == (2, p.clock.now())
    assert record.expires_at == p.clock.now() + 14 * DAY
    new = latest_link(p, invited)
    assert new != old
    with pytest.raises(InvitationInvalid):
        p.onboarding.open(old)
    assert p.onboarding.open(new).expires_at == record.expires_at
    assert kinds(p, invited.user.id) == [MessageKind.INVITATION, MessageKind.INVITATION]


def test_a_message_of_a_round_that_is_over_is_cancelled_not_delivered():
    p = practice()
    invited = invite(p)
    p.clock.advance(minutes=5)
    resend(p, invited.user.id)  # before the first invitation went out
    report = p.dispatcher.run_until_idle()
    assert (len(report.sent), len(report.cancelled)) == (1, 1)
    [delivery] = p.notifier.sent
    assert delivery.message.link_round == 2
    statuses = sorted(m.status for m in outbox(p, invited.user.id))
    assert statuses == sorted([MessageStatus.CANCELLED, MessageStatus.SENT])


def test_resend_within_the_cooldown_says_when_to_retry():
    p = practice()
    invited = invite(p)
    p.clock.advance(minutes=1)
    with pytest.raises(ResendThrottled) as caught:
        resend(p, invited.user.id)
    retry_after = p.clock.now() + timedelta(minutes=1)
    assert caught.value.params == {
        "reason": "cooldown",
        "retry_after": retry_after,
        "user_id": invited.user.id,
    }
    assert caught.value.code == "invitation.resend_throttled"
    p.clock.set(retry_after)
    assert resend(p, invited.user.id).round == 2


def test_resend_is_capped_per_rolling_24_hours():
    p = practice(settings=InvitationSettings(daily_cap=3))
    invited = invite(p)
    start = p.clock.now()
    for _ in range(2):
        p.clock.advance(hours=1)
        resend(p, invited.user.id)
    p.clock.advance(hours=1)
    with pytest.raises(ResendThrottled) as caught:
        resend(p, invited.user.id)
    assert caught.value.params["reason"] == "daily_cap"
    assert caught.value.params["retry_after"] == start + DAY
    p.clock.set(start + DAY - US)
    with pytest.raises(ResendThrottled):
        resend(p, invited.user.id)
    p.clock.set(start + DAY)
    assert resend(p, invited.user.id).round == 4


def test_resend_needs_users_create_in_an_establishment_of_the_account():
    p = practice()
    invited = invite(p)
    physician = member(p, "physician", "p.exemple@hopital-exemple.fr")
    p.clock.advance(minutes=5)
    with pytest.raises(PermissionDenied):
        resend(p, invited.user.id, actor=physician)
    other = _second_establishment(p)
    with pytest.raises(MembershipNotFound):
        resend(p, invited.user.id, establishment=other.id)
    manager = member(p, "user_manager", "m.exemple@hopital-exemple.fr")
    assert resend(p, invited.user.id, actor=manager).round == 2


def test_resend_is_refused_once_accepted_and_for_a_deactivated_account():
    p = practice()
    invited = invite(p)
    accept(p, latest_link(p, invited))
    p.clock.advance(minutes=5)
    with pytest.raises(IllegalTransition) as caught:
        resend(p, invited.user.id)
    assert caught.value.params["status"] == "accepted"
    assert caught.value.params["command"] == "resend"
    other = invite(p, "o.exemple@hopital-exemple.fr")
    p.onboarding.deactivate(actor=p.owner.id, user_id=other.user.id)
    with pytest.raises(IllegalTransition) as caught:
        resend(p, other.user.id)
    assert caught.value.params["status"] == "deactivated"


def test_resend_of_an_account_without_onboarding_is_not_found():
    p = practice()
    with pytest.raises(OnboardingNotFound):
        resend(p, p.owner.id)


def test_an_expired_invitation_can_be_resent():
    p = practice()
    invited = invite(p)
    p.clock.advance(days=15)
    assert p.onboarding.run_due().expired == (invited.user.id,)
    record = resend(p, invited.user.id)
    assert record.status is S.INVITED
    assert accept(p, latest_link(p, invited)).id == invited.user.id


# -- the sweep: reminders and expiry (D2) ------------------------------------------------------


def test_the_sweep_reminds_on_days_3_7_and_12_and_expires_on_day_14():
    p = practice()
    invited = invite(p)
    start = p.clock.now()
    reports = []
    for day in range(1, 16):
        p.clock.set(start + day * DAY - US)
        assert p.onboarding.run_due().changed == 0  # a microsecond early: nothing
        p.clock.set(start + day * DAY)
        report = p.onboarding.run_due()
        if report.changed:
            reports.append((day, report.reminded, report.expired))
    uid = invited.user.id
    assert reports == [(3, (uid,), ()), (7, (uid,), ()), (12, (uid,), ()), (14, (), (uid,))]
    assert kinds(p, uid) == [
        MessageKind.INVITATION,
        *[MessageKind.INVITATION_REMINDER] * 3,
        MessageKind.INVITATION_EXPIRED,
    ]


def test_the_expiry_notice_goes_to_the_inviter_or_to_the_person_when_the_inviter_left():
    p = practice()
    admin = member(p, "administrator", "a.admin@hopital-exemple.fr")
    invited = p.onboarding.invite(
        actor=admin,
        establishment_id=p.establishment.id,
        email="n.dubois@hopital-exemple.fr",
        first_name="Nadia",
        last_name="Dubois",
    )
    other = invite(p, "o.exemple@hopital-exemple.fr")
    p.access.deactivate_user(actor=p.owner.id, user_id=admin)
    p.clock.advance(days=14)
    p.onboarding.run_due()
    expired = {
        m.user_id: m.recipient for m in outbox(p) if m.kind is MessageKind.INVITATION_EXPIRED
    }
    assert expired == {
        invited.user.id: invited.user.email.address,  # the inviter is deactivated
        other.user.id: p.owner.email.address,
    }


def test_a_late_sweep_sends_one_reminder_not_the_missed_ones():
    p = practice()
    invited = invite(p)
    p.clock.advance(days=12, hours=1)
    assert p.onboarding.run_due().reminded == (invited.user.id,)
    assert p.onboarding.run_due().changed == 0
    p.clock.advance(days=2)
    assert p.onboarding.run_due().expired == (invited.user.id,)
    assert kinds(p, invited.user.id).count(MessageKind.INVITATION_REMINDER) == 1


def test_run_due_is_idempotent():
    p = practice()
    for n in range(3):
        invite(p, f"personne.{n}@hopital-exemple.fr")
    p.clock.advance(days=3)
    first = p.onboarding.run_due()
    assert len(first.reminded) == 3
    messages = outbox(p)
    records = [
        m.onboarding
        for m in p.onboarding.members(actor=p.owner.id, establishment_id=p.establishment.id)
    ]
    assert p.onboarding.run_due().changed == 0
    assert p.onboarding.run_due(p.clock.now()).changed == 0
    assert outbox(p) == messages
    assert [
        m.onboarding
        for m in p.onboarding.members(actor=p.owner.id, establishment_id=p.establishment.id)
    ] == records


def test_the_sweep_works_in_batches():
    p = practice()
    sweeper = attrs.evolve(p.onboarding, batch_size=2)
    invited = [invite(p, f"personne.{n}@hopital-exemple.fr").user.id for n in range(5)]
    p.clock.advance(days=14)
    report = sweeper.run_due()
    assert sorted(report.expired) == sorted(invited)
    assert sweeper.run_due().changed == 0


def test_no_reminder_after_acceptance_or_deactivation():
    p = practice()
    accepted = invite(p, "a.exemple@hopital-exemple.fr")
    accept(p, latest_link(p, accepted))
    stopped = invite(p, "d.exemple@hopital-exemple.fr")
    p.onboarding.deactivate(actor=p.owner.id, user_id=stopped.user.id)
    for _ in range(20):
        p.clock.advance(days=1)
        assert p.onboarding.run_due().changed == 0
    for uid in (accepted.user.id, stopped.user.id):
        assert MessageKind.INVITATION_REMINDER not in kinds(p, uid)


def test_a_round_keeps_its_deadline_when_a_service_with_other_settings_sweeps_it():
    store = InMemoryStore()
    p = practice(unit_of_work=store.unit_of_work)
    invited = invite(p)  # 14 days, reminders on days 3, 7, 12
    start = p.clock.now()
    later = attrs.evolve(
        p.onboarding, settings=InvitationSettings(expiry=7 * DAY, reminders=(5 * DAY,))
    )
    p.clock.set(start + 3 * DAY)
    assert later.run_due().changed == 0  # rescheduled to the new reminder, nothing sent
    assert later.onboarding_of(invited.user.id).due_at == start + 5 * DAY
    p.clock.set(start + 5 * DAY)
    assert later.run_due().reminded == (invited.user.id,)
    p.clock.set(start + 14 * DAY - US)
    assert later.run_due().changed == 0
    p.clock.set(start + 14 * DAY)
    assert later.run_due().expired == (invited.user.id,)


# -- terms of use (D2) ---------------------------------------------------------------------------


def test_sign_in_asks_for_the_current_terms_and_accepting_them_activates():
    p = practice()
    terms = p.onboarding.publish_terms("2026-01")
    assert p.onboarding.current_terms() == terms
    invited = invite(p)
    user = accept(p, latest_link(p, invited))
    signed = p.onboarding.sign_in(user.login.display, PASSWORD)
    assert (signed.missing, signed.terms, signed.onboarding.status) == (
        ("terms",),
        terms,
        S.ACCEPTED,
    )
    with pytest.raises(OnboardingIncomplete) as caught:
        p.onboarding.require_onboarded(user.id)
    assert caught.value.params == {
        "user_id": user.id,
        "missing": ("terms",),
        "terms_version": "2026-01",
    }
    with pytest.raises(TermsNotCurrent) as wrong:
        p.onboarding.accept_terms(user_id=user.id, version="2025-12")
    assert wrong.value.params == {"version": "2025-12", "current": "2026-01"}
    p.clock.advance(minutes=3)
    record = p.onboarding.accept_terms(user_id=user.id, version="2026-01")
    assert (record.status, record.terms_version) == (S.ACTIVE, "2026-01")
    assert record.terms_accepted_at == record.activated_at == p.clock.now()
    p.onboarding.require_onboarded(user.id)


def test_a_new_version_of_the_terms_must_be_accepted_again_by_active_users():
    p = practice()
    p.onboarding.publish_terms("v1")
    invited = invite(p)
    user = accept(p, latest_link(p, invited))
    p.onboarding.sign_in(user.login.display, PASSWORD)
    p.onboarding.accept_terms(user_id=user.id, version="v1")
    p.clock.advance(days=30)
    p.onboarding.publish_terms("v2")
    with pytest.raises(OnboardingIncomplete) as caught:
        p.onboarding.require_onboarded(user.id)
    assert (caught.value.params["missing"], caught.value.params["terms_version"]) == (
        ("terms",),
        "v2",
    )
    signed = p.onboarding.sign_in(user.login.display, PASSWORD)
    assert (signed.onboarding.status, signed.missing) == (S.ACTIVE, ("terms",))
    with pytest.raises(TermsNotCurrent):
        p.onboarding.accept_terms(user_id=user.id, version="v1")
    record = p.onboarding.accept_terms(user_id=user.id, version="v2")
    assert (record.terms_version, record.terms_accepted_at) == ("v2", p.clock.now())
    p.onboarding.require_onboarded(user.id)
    assert kinds(p, user.id).count(MessageKind.ACCOUNT_ACTIVATED) == 1


def test_accepting_terms_before_any_is_published_or_before_acceptance_is_refused():
    p = practice()
    invited = invite(p)
    with pytest.raises(IllegalTransition) as caught:
        p.onboarding.accept_terms(user_id=invited.user.id, version="v1")
    assert caught.value.params["status"] == "invited"
    user = accept(p, latest_link(p, invited))
    with pytest.raises(TermsNotCurrent) as none:
        p.onboarding.accept_terms(user_id=user.id, version="v1")
    assert none.value.params == {"version": "v1", "current": None}


def test_publishing_terms_checks_the_version_and_never_twice():
    p = practice()
    p.onboarding.publish_terms("2026.03-r1")
    with pytest.raises(DuplicateRecord):
        p.onboarding.publish_terms("2026.03-r1")
    for bad in ("", " v1", "v 1", "-v1", "x" * 65, 3, None, "v1\n"):
        with pytest.raises(AccessRejected) as caught:
            p.onboarding.publish_terms(bad)
        assert caught.value.violations[0].code == "terms.invalid_version"


def test_a_clock_that_went_back_never_reorders_the_terms():
    p = practice()
    p.clock.advance(days=10)
    first = p.onboarding.publish_terms("b-first")
    p.clock.advance(days=-5)
    later = p.onboarding.publish_terms("a-second")
    assert later.published_at > first.published_at
    assert p.onboarding.current_terms() == later


def test_the_version_published_last_is_current_even_at_the_same_instant():
    p = practice()
    p.onboarding.publish_terms("v9")
    latest = p.onboarding.publish_terms("v10")  # "v10" < "v9" as text
    assert p.onboarding.current_terms() == latest


def test_an_account_made_before_onboarding_is_active_and_gets_a_record_at_sign_in():
    p = practice()
    registered = p.accounts.register(
        login="l.ancien",
        email="l.ancien@hopital-exemple.fr",
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name="Louis",
        last_name="Ancien",
    ).user
    p.onboarding.require_onboarded(registered.id)
    p.onboarding.publish_terms("v1")
    with pytest.raises(OnboardingIncomplete):
        p.onboarding.require_onboarded(registered.id)
    with pytest.raises(OnboardingNotFound):
        p.onboarding.accept_terms(user_id=registered.id, version="v1")
    signed = p.onboarding.sign_in("l.ancien", PASSWORD)
    assert (signed.onboarding.status, signed.missing) == (S.ACTIVE, ("terms",))
    p.onboarding.accept_terms(user_id=registered.id, version="v1")
    p.onboarding.require_onboarded(registered.id)


def test_changing_the_password_of_an_account_made_before_onboarding_works():
    p = practice()
    registered = p.accounts.register(
        login="l.ancien",
        email="l.ancien@hopital-exemple.fr",
        password=PASSWORD,
        password_confirmation=PASSWORD,
        first_name="Louis",
        last_name="Ancien",
    ).user
    record = p.onboarding.change_password(
        user_id=registered.id,
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_confirmation=NEW_PASSWORD,
    )
    assert record.status is S.ACTIVE
    assert p.onboarding.sign_in("l.ancien", NEW_PASSWORD).may_continue


def test_sign_in_with_a_password_set_around_the_invitation_is_an_illegal_transition():
    p = practice()
    invited = invite(p)
    with p.unit_of_work() as uow:
        user = uow.users.get(invited.user.id)
        uow.users.update(user.with_password_hash(fast_hasher().hash(PASSWORD)))
        uow.commit()
    with pytest.raises(IllegalTransition) as caught:
        p.onboarding.sign_in(invited.user.login.display, PASSWORD)
    assert (caught.value.params["status"], caught.value.params["command"]) == ("invited", "sign_in")


# -- members by status (D2) ----------------------------------------------------------------------


def test_members_can_be_filtered_by_each_onboarding_status():
    p = practice()
    invited = invite(p, "i.exemple@hopital-exemple.fr").user.id
    accepted = invite(p, "a.exemple@hopital-exemple.fr")
    accept(p, latest_link(p, accepted))
    active = invite(p, "v.exemple@hopital-exemple.fr")
    user = accept(p, latest_link(p, active))
    p.onboarding.sign_in(user.login.display, PASSWORD)
    expired = invite(p, "e.exemple@hopital-exemple.fr").user.id
    deactivated = invite(p, "d.exemple@hopital-exemple.fr").user.id
    p.onboarding.deactivate(actor=p.owner.id, user_id=deactivated)
    left = invite(p, "l.exemple@hopital-exemple.fr")
    accept(p, latest_link(p, left))
    p.access.deactivate_member(
        actor=p.owner.id, establishment_id=p.establishment.id, user_id=left.user.id
    )
    p.clock.advance(days=13, hours=23)
    invited_late = invite(p, "t.exemple@hopital-exemple.fr").user.id
    p.clock.advance(hours=1)  # the expired one's deadline: no sweep ran yet

    def listed(status):
        return {
            m.user.id
            for m in p.onboarding.members(
                actor=p.owner.id, establishment_id=p.establishment.id, status=status
            )
        }

    assert listed(S.INVITED) == {invited_late}
    assert listed(S.EXPIRED) == {invited, expired}
    assert p.onboarding.onboarding_of(expired).status is S.INVITED
    assert listed(S.ACCEPTED) == {accepted.user.id}
    assert listed(S.ACTIVE) == {user.id, p.owner.id}  # the owner predates onboarding
    assert listed(S.DEACTIVATED) == {deactivated, left.user.id}
    everyone = p.onboarding.members(actor=p.owner.id, establishment_id=p.establishment.id)
    assert len(everyone) == 8
    assert {m.status for m in everyone} == set(S)
    owner = next(m for m in everyone if m.user.id == p.owner.id)
    assert owner.onboarding is None


def test_members_needs_users_view_and_a_known_status():
    p = practice()
    trainee = member(p, "trainee", "t.exemple@hopital-exemple.fr")
    with pytest.raises(PermissionDenied):
        p.onboarding.members(actor=trainee, establishment_id=p.establishment.id)
    listed = p.onboarding.members(
        actor=p.owner.id, establishment_id=p.establishment.id, status="active"
    )  # a filter form's value is accepted as the enum
    assert [m.status for m in listed] == [OnboardingStatus.ACTIVE] * len(listed) != []
    for status in (1, "unknown", "INVITED", None.__class__):
        with pytest.raises(AccessRejected) as caught:
            p.onboarding.members(
                actor=p.owner.id,
                establishment_id=p.establishment.id,
                status=status,
            )
        assert caught.value.violations[0].code == "onboarding.invalid_status"


# -- deactivation and reactivation (A6, D2) -----------------------------------------------------


def test_reactivating_an_invited_account_sends_a_new_invitation():
    p = practice()
    invited = invite(p)
    old = latest_link(p, invited)
    p.clock.advance(days=20)
    record = p.onboarding.deactivate(actor=p.owner.id, user_id=invited.user.id)
    assert (record.status, record.resume) == (S.DEACTIVATED, S.EXPIRED)
    back = p.onboarding.reactivate(actor=p.owner.id, user_id=invited.user.id)
    assert (back.status, back.round) == (S.EXPIRED, 1)  # expired stays expired, to be re-sent
    p.onboarding.deactivate(actor=p.owner.id, user_id=invited.user.id)

    fresh = invite(p, "f.exemple@hopital-exemple.fr")
    first = latest_link(p, fresh)
    p.clock.advance(hours=1)
    p.onboarding.deactivate(actor=p.owner.id, user_id=fresh.user.id)
    p.clock.advance(days=30)
    back = p.onboarding.reactivate(actor=p.owner.id, user_id=fresh.user.id)
    assert (back.status, back.round, back.expires_at) == (S.INVITED, 2, p.clock.now() + 14 * DAY)
    with pytest.raises(InvitationInvalid):
        accept(p, first)
    with pytest.raises(InvitationInvalid):
        accept(p, old)
    assert accept(p, latest_link(p, fresh)).id == fresh.user.id
    assert kinds(p, fresh.user.id) == [
        MessageKind.INVITATION,
        MessageKind.ACCOUNT_DEACTIVATED,
        MessageKind.INVITATION,
        MessageKind.INVITATION_ACCEPTED,
    ]


@pytest.mark.parametrize("signed_in", [False, True])
def test_an_accepted_or_active_account_resumes_where_it_was(signed_in):
    p = practice()
    invited = invite(p)
    user = accept(p, latest_link(p, invited))
    if signed_in:
        p.onboarding.sign_in(user.login.display, PASSWORD)
    status = S.ACTIVE if signed_in else S.ACCEPTED
    assert p.onboarding.deactivate(actor=p.owner.id, user_id=user.id).status is S.DEACTIVATED
    with pytest.raises(AccountDeactivated):
        p.onboarding.sign_in(user.login.display, PASSWORD)
    with pytest.raises(IllegalTransition):
        p.onboarding.accept_terms(user_id=user.id, version="v1")
    assert p.onboarding.deactivate(actor=p.owner.id, user_id=user.id).status is S.DEACTIVATED
    record = p.onboarding.reactivate(actor=p.owner.id, user_id=user.id)
    assert (record.status, record.resume) == (status, None)
    assert p.onboarding.reactivate(actor=p.owner.id, user_id=user.id) == record
    assert p.onboarding.sign_in(user.login.display, PASSWORD).onboarding.status is S.ACTIVE
    activated = [MessageKind.ACCOUNT_ACTIVATED]
    assert kinds(p, user.id) == [
        MessageKind.INVITATION,
        MessageKind.INVITATION_ACCEPTED,
        *(activated if signed_in else []),
        MessageKind.ACCOUNT_DEACTIVATED,
        MessageKind.ACCOUNT_REACTIVATED,
        *([] if signed_in else activated),
    ]


def test_an_account_deactivated_around_the_service_cannot_finish_onboarding():
    p = practice(ProductKind.DENTAL)
    p.onboarding.publish_terms("v1")
    invited = invite(p, "c.martin@centre-dentaire-exemple.fr")
    user = accept(p, latest_link(p, invited))
    p.onboarding.sign_in(user.login.display, PASSWORD)
    p.access.deactivate_user(actor=p.owner.id, user_id=user.id)
    with pytest.raises(IllegalTransition) as caught:
        p.onboarding.accept_terms(user_id=user.id, version="v1")
    assert (caught.value.params["status"], caught.value.params["command"]) == (
        "deactivated",
        "accept_terms",
    )
    with pytest.raises(IllegalTransition) as caught:
        p.onboarding.change_password(
            user_id=user.id,
            current_password=PASSWORD,
            new_password=NEW_PASSWORD,
            new_password_confirmation=NEW_PASSWORD,
        )
    assert caught.value.params["command"] == "change_password"
    record = p.onboarding.onboarding_of(user.id)
    assert record is not None
    assert (record.status, record.terms_version) == (S.ACCEPTED, None)
    assert record.password_change_required
    p.onboarding.reactivate(actor=p.owner.id, user_id=user.id)
    assert p.onboarding.sign_in(user.login.display, PASSWORD).missing == (
        "password_change",
        "terms",
    )  # the password did not change


def test_a_deactivated_account_keeps_its_password_when_it_tries_to_change_it():
    p = practice()
    invited = invite(p)
    user = accept(p, latest_link(p, invited))
    p.onboarding.deactivate(actor=p.owner.id, user_id=user.id)
    with pytest.raises(IllegalTransition):
        p.onboarding.change_password(
            user_id=user.id,
            current_password=PASSWORD,
            new_password=NEW_PASSWORD,
            new_password_confirmation=NEW_PASSWORD,
        )
    p.onboarding.reactivate(actor=p.owner.id, user_id=user.id)
    assert p.onboarding.sign_in(user.login.display, PASSWORD).user.id == user.id


def test_changing_a_password_set_around_an_open_invitation_is_refused_before_it_changes():
    p = practice()
    invited = invite(p)
    with p.unit_of_work() as uow:
        stored = uow.users.get(invited.user.id)
        uow.users.update(stored.with_password_hash(fast_hasher().hash(PASSWORD)))
        uow.commit()
    with pytest.raises(IllegalTransition) as caught:
        p.onboarding.change_password(
            user_id=invited.user.id,
            current_password=PASSWORD,
            new_password=NEW_PASSWORD,
            new_password_confirmation=NEW_PASSWORD,
        )
    assert caught.value.params["status"] == "invited"
    p.accounts.authenticate(invited.user.login.display, PASSWORD)  # unchanged


def test_an_account_reactivated_around_the_service_stays_deactivated_for_sign_in():
    p = practice()
    invited = invite(p)
    user = accept(p, latest_link(p, invited))
    p.onboarding.deactivate(actor=p.owner.id, user_id=user.id)
    p.access.reactivate_user(actor=p.owner.id, user_id=user.id)  # the record stays deactivated
    with pytest.raises(AccountDeactivated):
        p.onboarding.sign_in(user.login.display, PASSWORD)
    p.onboarding.reactivate(actor=p.owner.id, user_id=user.id)
    assert p.onboarding.sign_in(user.login.display, PASSWORD).onboarding.status is S.ACTIVE


def test_the_sweep_clears_a_schedule_left_on_a_record_that_is_not_invited():
    p = practice()
    invited = invite(p)
    accept(p, latest_link(p, invited))
    with p.unit_of_work() as uow:  # written around the service: accepted, yet scheduled
        record = uow.onboardings.get(invited.user.id)
        uow.onboardings.update(attrs.evolve(record, due_at=p.clock.now()))
        uow.commit()
    messages = outbox(p)
    assert p.onboarding.run_due().changed == 0
    assert p.onboarding.onboarding_of(invited.user.id).due_at is None
    assert outbox(p) == messages


def test_deactivation_follows_the_access_rules():
    p = practice()
    invited = invite(p)
    physician = member(p, "physician", "p.exemple@hopital-exemple.fr")
    with pytest.raises(PermissionDenied):
        p.onboarding.deactivate(actor=physician, user_id=invited.user.id)
    assert p.onboarding.onboarding_of(invited.user.id).status is S.INVITED
    assert kinds(p, invited.user.id) == [MessageKind.INVITATION]


def test_deactivating_an_account_made_before_onboarding_gives_it_a_record():
    p = practice()
    legacy = p.access.add_member(  # around the onboarding service
        actor=p.owner.id,
        establishment_id=p.establishment.id,
        email="l.ancien@hopital-exemple.fr",
        first_name="Louis",
        last_name="Ancien",
    ).user
    assert p.onboarding.onboarding_of(legacy.id) is None
    record = p.onboarding.deactivate(actor=p.owner.id, user_id=legacy.id)
    assert (record.status, record.resume) == (S.DEACTIVATED, S.ACTIVE)
    assert p.onboarding.reactivate(actor=p.owner.id, user_id=legacy.id).status is S.ACTIVE


def test_an_account_deactivated_around_the_service_loses_its_link_and_is_not_reminded():
    p = practice()
    invited = invite(p)
    token = latest_link(p, invited)
    p.clock.advance(days=2, hours=23)
    p.onboarding.run_due(p.clock.now() + timedelta(hours=1))  # a reminder, not delivered yet
    p.access.deactivate_user(actor=p.owner.id, user_id=invited.user.id)
    for use in (p.onboarding.open, lambda t: accept(p, t)):
        with pytest.raises(InvitationInvalid) as caught:
            use(token)
        assert caught.value.params == {}
    assert len(p.dispatcher.run_until_idle().cancelled) == 1  # the reminder's link is not minted
    p.clock.advance(days=4, hours=2)
    report = p.onboarding.run_due()
    assert (report.reminded, report.deactivated) == ((), (invited.user.id,))
    record = p.onboarding.onboarding_of(invited.user.id)
    assert (record.status, record.due_at) == (S.DEACTIVATED, None)
    assert p.onboarding.run_due().changed == 0
    assert kinds(p, invited.user.id) == [
        MessageKind.INVITATION,
        MessageKind.INVITATION_REMINDER,
        MessageKind.ACCOUNT_DEACTIVATED,
    ]
    listed = p.onboarding.members(
        actor=p.owner.id, establishment_id=p.establishment.id, status=S.DEACTIVATED
    )
    assert [m.user.id for m in listed] == [invited.user.id]
    back = p.onboarding.reactivate(actor=p.owner.id, user_id=invited.user.id)
    assert (back.status, back.round) == (S.INVITED, 2)


def test_an_account_reactivated_around_the_service_is_reactivated_by_the_service_too():
    p = practice()
    invited = invite(p)
    p.access.deactivate_user(actor=p.owner.id, user_id=invited.user.id)
    p.clock.advance(days=3)
    p.onboarding.run_due()
    p.access.reactivate_user(actor=p.owner.id, user_id=invited.user.id)
    assert p.onboarding.onboarding_of(invited.user.id).status is S.DEACTIVATED
    back = p.onboarding.reactivate(actor=p.owner.id, user_id=invited.user.id)
    assert (back.status, back.round) == (S.INVITED, 2)
    assert accept(p, latest_link(p, invited)).id == invited.user.id


# -- the outbox: one message per change ------------------------------------------------------------


def test_each_change_of_status_writes_exactly_one_message_in_the_same_unit_of_work():
    p = practice()
    p.onboarding.publish_terms("v1")
    invited = invite(p)
    uid = invited.user.id
    assert kinds(p, uid) == [MessageKind.INVITATION]
    user = accept(p, latest_link(p, invited))
    assert kinds(p, uid)[-1] is MessageKind.INVITATION_ACCEPTED
    p.onboarding.sign_in(user.login.display, PASSWORD)  # no change of status: terms missing
    assert len(kinds(p, uid)) == 2
    p.onboarding.accept_terms(user_id=uid, version="v1")
    p.onboarding.sign_in(user.login.display, PASSWORD)
    p.onboarding.accept_terms(user_id=uid, version="v1")
    assert kinds(p, uid) == [
        MessageKind.INVITATION,
        MessageKind.INVITATION_ACCEPTED,
        MessageKind.ACCOUNT_ACTIVATED,
    ]
    keys = [m.idempotency_key for m in outbox(p, uid)]
    assert len(set(keys)) == len(keys)


def test_a_refused_change_writes_no_message():
    p = practice()
    invited = invite(p)
    with pytest.raises(ResendThrottled):
        resend(p, invited.user.id)
    with pytest.raises(InvitationInvalid):
        accept(p, "not-a-link")
    with pytest.raises(IllegalTransition):
        p.onboarding.accept_terms(user_id=invited.user.id, version="v1")
    assert kinds(p, invited.user.id) == [MessageKind.INVITATION]


# -- bad inputs: coded errors, never bare exceptions --------------------------------------------


def _bad_calls(p: SampleOnboarding, uid: UserId):
    service = p.onboarding
    e = p.establishment.id
    owner = p.owner.id
    yield lambda: service.invite(actor=5, establishment_id=e, email="x.y@hopital-exemple.fr")
    yield lambda: service.invite(actor=owner, establishment_id=[e], email="x.y@hopital-exemple.fr")
    yield lambda: service.invite(actor=owner, establishment_id=e, email=5)
    yield lambda: service.invite(actor=owner, establishment_id=e, email=None)
    for locale in ("FR", "fr_BE", "", "français", 5, b"fr"):
        yield lambda locale=locale: service.invite(
            actor=owner,
            establishment_id=e,
            email="x.y@hopital-exemple.fr",
            first_name="X",
            last_name="Y",
            locale=locale,
        )
    for roles in (5, [5], [None], ["physician", b"x"]):
        yield lambda roles=roles: service.invite(
            actor=owner, establishment_id=e, email="x.y@hopital-exemple.fr", roles=roles
        )
    yield lambda: service.invite(
        actor=owner,
        establishment_id=e,
        email="x.y@hopital-exemple.fr",
        first_name="X",
        last_name="Y",
        roles=["no-such-role"],
    )
    yield lambda: service.invite(
        actor=owner, establishment_id=e, email="x.y@hopital-exemple.fr", first_name=5
    )
    yield lambda: service.resend(actor=owner, establishment_id=e, user_id=5)
    yield lambda: service.resend(actor=5, establishment_id=e, user_id=uid)
    yield lambda: service.resend(actor=owner, establishment_id=e, user_id="nobody")
    yield lambda: service.deactivate(actor=owner, user_id=5)
    yield lambda: service.reactivate(actor=[owner], user_id=uid)
    yield lambda: service.members(actor=owner, establishment_id=5)
    yield lambda: service.members(actor=owner, establishment_id="nowhere")
    yield lambda: service.accept_terms(user_id=5, version="v1")
    yield lambda: service.accept_terms(user_id=uid, version=5)
    yield lambda: service.accept_terms(user_id="nobody", version="v1")
    yield lambda: service.change_password(
        user_id=5,
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_confirmation=NEW_PASSWORD,
    )
    yield lambda: service.require_onboarded(5)
    yield lambda: service.publish_terms(5)
    yield lambda: service.publish_terms("version with spaces")
    yield lambda: service.sign_in(5, 5)
    yield lambda: service.sign_in("nobody", PASSWORD)
    yield lambda: service.accept(5, password=PASSWORD, password_confirmation=PASSWORD)
    yield lambda: service.open(None)


def test_bad_inputs_raise_coded_errors():
    p = practice()
    invited = invite(p)
    token = latest_link(p, invited)
    calls = list(_bad_calls(p, invited.user.id))
    calls.append(lambda: p.onboarding.accept(token, password=5, password_confirmation=5))
    calls.append(lambda: p.onboarding.accept(token, password=None, password_confirmation=None))
    codes = []
    for call in calls:
        with pytest.raises(PracticeIdError) as caught:
            call()
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", caught.value.code)
        codes.append(caught.value.code)
    assert "access.rejected" in codes
    assert {"invitation.invalid", "auth.failed", "onboarding.not_found"} <= set(codes)
    assert accept(p, token).id == invited.user.id  # none of it touched the link


def test_a_bad_locale_is_refused_before_anything_is_stored():
    p = practice()
    with pytest.raises(AccessRejected) as caught:
        invite(p, locale="FR")
    assert caught.value.violations[0].code == "onboarding.invalid_locale"
    assert outbox(p) == []
    with pytest.raises(ProfileRejected):
        invite(p, first_name="", last_name="")


# -- secrets: no token or password in any repr, error or message -----------------------------------


def test_no_token_or_password_shows_in_any_repr_error_or_stored_message():
    p = practice(ProductKind.DENTAL)
    p.onboarding.publish_terms("v1")
    invited = invite(p, "s.exemple@centre-dentaire-exemple.fr")
    tokens = [latest_link(p, invited)]
    p.clock.advance(days=3)
    p.onboarding.run_due()
    tokens.append(latest_link(p, invited))
    p.clock.advance(minutes=5)
    resend(p, invited.user.id)
    tokens.append(latest_link(p, invited))
    shown = [repr(p.onboarding.open(tokens[-1]))]
    errors = []
    for weak in ("court", "Password123!"):
        with pytest.raises(PasswordRejected) as caught:
            accept(p, tokens[-1], password=weak)
        errors.append(caught.value)
    user = accept(p, tokens[-1])
    for token in tokens:
        with pytest.raises(InvitationInvalid) as caught:
            accept(p, token)
        errors.append(caught.value)
    signed = p.onboarding.sign_in(user.login.display, PASSWORD)
    p.onboarding.change_password(
        user_id=user.id,
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_confirmation=NEW_PASSWORD,
    )
    with pytest.raises(AuthenticationFailed) as caught:
        p.onboarding.sign_in(user.login.display, PASSWORD)
    errors.append(caught.value)
    record = p.onboarding.accept_terms(user_id=user.id, version="v1")
    p.deliver()
    shown += [repr(user), repr(signed), repr(record), repr(invited)]
    shown += [repr(d) for d in p.notifier.sent]
    shown += [repr(m) + repr(dict(m.params)) for m in outbox(p)]
    shown += [repr(e) + str(e) + repr(e.to_dict()) for e in errors]
    shown += [
        repr(m) for m in p.onboarding.members(actor=p.owner.id, establishment_id=p.establishment.id)
    ]
    secrets = [*tokens, PASSWORD, NEW_PASSWORD, "court", "Password123!"]
    secrets += [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    secrets += [repr(hashlib.sha256(t.encode()).digest()) for t in tokens]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    assert all(d.token is None or d.token in tokens for d in p.notifier.sent)
