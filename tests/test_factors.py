"""Second factors, one example per behaviour (F5).

"Strong authentication: a user may have several second factors, add, change or delete
them; IP-address factors exist and are set by support" (source 002). The examples run on
:func:`~practiceid.testing.sample_strong_auth`: a physician who signs in with a password,
the establishment's owner, and the vendor's support staff; in memory and on SQLite.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from practiceid.access import AccessService
from practiceid.adapters.sql import SqlStore
from practiceid.audit import AuditEvent, Outcome
from practiceid.errors import (
    AccountDeactivated,
    AuthenticationFailed,
    FactorNotFound,
    FactorRejected,
    LastFactor,
    PermissionDenied,
    PracticeIdError,
    SecondFactorFailed,
    SecondFactorReplayed,
    SecondFactorRequired,
    SecondFactorThrottled,
)
from practiceid.factors import FactorKind
from practiceid.permissions import Permission
from practiceid.policies.factors import FactorSettings, totp_code
from practiceid.ports import FactorUnitOfWorkFactory
from practiceid.second_factors import SignInMethod, TotpEnrolment
from practiceid.testing import SampleStrongAuth, sample_strong_auth

INSIDE = "192.0.2.10"
OUTSIDE = "198.51.100.7"
PRACTICE_NETWORK = "192.0.2.0/24"


@pytest.fixture(params=["memory", "sqlite"])
def factory(request, tmp_path) -> Iterator[FactorUnitOfWorkFactory | None]:
    """The store under test: None is the in-memory default; a SQLite file otherwise."""
    if request.param == "memory":
        yield None
        return
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'factors.sqlite'}")
    store.create_schema()
    try:
        yield store.unit_of_work
    finally:
        store.close()


@pytest.fixture
def clinic(factory) -> SampleStrongAuth:
    return sample_strong_auth(unit_of_work=factory)


def _secret(enrolment: TotpEnrolment) -> bytes:
    return base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))


def _code(clinic: SampleStrongAuth, enrolment: TotpEnrolment, steps: int = 0) -> str:
    """The app's code ``steps`` steps from now (the phone's clock ahead or behind)."""
    at = clinic.clock.now().timestamp() + steps * clinic.factors.settings.totp.period
    return totp_code(_secret(enrolment), at, clinic.factors.settings.totp)


def _wrong(*right: str) -> str:
    return next(c for c in ("000000", "111111", "222222", "314159") if c not in right)


def _enrolled(clinic: SampleStrongAuth) -> TotpEnrolment:
    """The physician's confirmed app; the clock moved on to the next step."""
    enrolment = clinic.factors.begin_totp(
        actor=clinic.physician, user_id=clinic.physician, name="Phone"
    )
    clinic.factors.confirm_totp(
        actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
    )
    clinic.clock.advance(seconds=30)
    return enrolment


def _to_step_start(clinic: SampleStrongAuth) -> None:
    """Move the clock to the first second of the next step."""
    period = clinic.factors.settings.totp.period
    now = clinic.clock.now().timestamp()
    clinic.clock.advance(seconds=period - now % period)


def _sign_in(clinic: SampleStrongAuth, code: str | None = None, peer: str | None = OUTSIDE):
    with clinic.request_context.bind(peer_address=peer):
        return clinic.factors.sign_in(clinic.login, clinic.password, code=code)


def _records(clinic: SampleStrongAuth) -> list:
    with clinic.unit_of_work() as uow:
        return [r for chain in uow.audit.chains() for r in uow.audit.records(chain)]


def _events(clinic: SampleStrongAuth, prefix: str = "factor.") -> list[AuditEvent]:
    """The events of every chain: the platform's, and the establishment's (requirements)."""
    events = [r.event for r in _records(clinic) if r.event.action.startswith(prefix)]
    return sorted(events, key=lambda e: e.at)  # stable: each chain's order kept


def _kinds(clinic: SampleStrongAuth, actor=None) -> list[FactorKind]:
    views = clinic.factors.factors(actor=actor or clinic.physician, user_id=clinic.physician)
    return [v.kind for v in views]


# -- enrolling an app ------------------------------------------------------------------------


def test_enrolling_an_app_gives_a_provisioning_uri_apps_read(clinic: SampleStrongAuth) -> None:
    """F5: the URI names the issuer and the account and carries secret, digits and period."""
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    uri = urlsplit(enrolment.uri)
    query = {k: v[0] for k, v in parse_qs(uri.query).items()}
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/practiceid:{clinic.login}"
    assert query["issuer"] == clinic.factors.settings.issuer == "practiceid"
    assert query["secret"] == enrolment.secret
    assert (query["digits"], query["period"], query["algorithm"]) == ("6", "30", "SHA1")
    assert len(_secret(enrolment)) == 20  # 160 bits, RFC 4226 §4
    assert enrolment.factor.kind is FactorKind.TOTP
    assert enrolment.factor.confirmed is False


def test_the_uri_honours_the_settings(factory) -> None:
    settings = FactorSettings(issuer="Cabinet Exemple", secret_bytes=32)
    clinic = sample_strong_auth(unit_of_work=factory, settings=settings)
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    query = {k: v[0] for k, v in parse_qs(urlsplit(enrolment.uri).query).items()}
    assert query["issuer"] == "Cabinet Exemple"
    assert len(_secret(enrolment)) == 32


def test_the_secret_and_uri_are_not_in_repr(clinic: SampleStrongAuth) -> None:
    """F5: shown once to the user, never in logs."""
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    shown = repr(enrolment) + str(enrolment)
    assert enrolment.secret not in shown
    assert "otpauth" not in shown


def test_the_secret_is_stored_encrypted(clinic: SampleStrongAuth) -> None:
    """F5: the stored factor holds a ciphertext, never the secret's bytes or its base 32."""
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    raw = _secret(enrolment)
    with clinic.unit_of_work() as uow:
        stored = uow.factors.get(enrolment.factor.id)
    assert stored.secret
    assert raw not in stored.secret
    assert enrolment.secret.encode("ascii") not in stored.secret
    assert stored.key_id is not None
    assert raw.hex() not in repr(stored)
    assert "secret=" not in repr(stored)


def test_a_wrong_first_code_leaves_the_app_pending(clinic: SampleStrongAuth) -> None:
    """F5: a wrong code says how many attempts are left; the app stays unusable."""
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    with pytest.raises(SecondFactorFailed) as raised:
        clinic.factors.confirm_totp(
            actor=clinic.physician,
            factor_id=enrolment.factor.id,
            code=_wrong(*(_code(clinic, enrolment, s) for s in (-1, 0, 1))),
        )
    assert type(raised.value) is SecondFactorFailed
    assert raised.value.params["attempts_left"] == 4
    (view,) = clinic.factors.factors(actor=clinic.physician, user_id=clinic.physician)
    assert view.confirmed is False
    assert _sign_in(clinic).method is SignInMethod.PASSWORD  # a pending app is no factor


def test_a_right_first_code_makes_the_app_usable(clinic: SampleStrongAuth) -> None:
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    view = clinic.factors.confirm_totp(
        actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
    )
    assert view.confirmed is True
    with pytest.raises(SecondFactorRequired):
        _sign_in(clinic)


def test_an_app_cannot_be_confirmed_twice(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    with pytest.raises(FactorNotFound):
        clinic.factors.confirm_totp(
            actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
        )


def test_a_pending_app_expires(clinic: SampleStrongAuth) -> None:
    """F5: not confirmed within the enrolment timeout (one hour), it cannot be confirmed."""
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    clinic.clock.advance(hours=1, seconds=1)
    with pytest.raises(FactorNotFound):
        clinic.factors.confirm_totp(
            actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
        )


def test_someone_else_cannot_enrol_an_app_for_the_physician(clinic: SampleStrongAuth) -> None:
    """F5: the user, or ``users.manage_factors`` (support here); not the owner."""
    with pytest.raises(PermissionDenied):
        clinic.factors.begin_totp(actor=clinic.owner, user_id=clinic.physician)
    clinic.factors.begin_totp(actor=clinic.support, user_id=clinic.physician)


# -- signing in with an app -------------------------------------------------------------------


def test_signing_in_without_a_code_asks_for_one(clinic: SampleStrongAuth) -> None:
    """F5: the password is right; the error says which kinds of code would do."""
    _enrolled(clinic)
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    with pytest.raises(SecondFactorRequired) as raised:
        _sign_in(clinic)
    assert raised.value.params["kinds"] == ("recovery_code", "totp")


def test_signing_in_with_the_apps_code(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    signed_in = _sign_in(clinic, clinic.app_code(enrolment))
    assert signed_in.method is SignInMethod.TOTP
    assert signed_in.user.id == clinic.physician
    assert signed_in.factor is not None
    assert signed_in.factor.id == enrolment.factor.id
    assert signed_in.factor.last_used_at == clinic.clock.now()


def test_a_wrong_password_is_refused_before_any_code(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    with pytest.raises(AuthenticationFailed) as raised:
        clinic.factors.sign_in(clinic.login, "Pas-Le-Bon-Mot-2", code=clinic.app_code(enrolment))
    assert not isinstance(raised.value, SecondFactorRequired | SecondFactorFailed)


def test_the_same_code_is_never_accepted_twice(clinic: SampleStrongAuth) -> None:
    """F5: a one-time code, even within its own 30 seconds."""
    enrolment = _enrolled(clinic)
    code = clinic.app_code(enrolment)
    _sign_in(clinic, code)
    with pytest.raises(SecondFactorReplayed) as raised:
        _sign_in(clinic, code)
    assert raised.value.params["attempts_left"] == 4
    clinic.clock.advance(seconds=10)
    with pytest.raises(SecondFactorReplayed):
        _sign_in(clinic, code)


def test_the_code_used_to_confirm_cannot_sign_in(clinic: SampleStrongAuth) -> None:
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    code = clinic.app_code(enrolment)
    clinic.factors.confirm_totp(actor=clinic.physician, factor_id=enrolment.factor.id, code=code)
    with pytest.raises(SecondFactorReplayed):
        _sign_in(clinic, code)


@pytest.mark.parametrize("steps", [-1, 1])
def test_a_code_one_step_early_or_late_is_accepted(clinic: SampleStrongAuth, steps: int) -> None:
    """F5, RFC 6238 §5.2: a phone 30 seconds ahead or behind still works."""
    enrolment = _enrolled(clinic)
    clinic.clock.advance(seconds=60)
    _to_step_start(clinic)
    assert _sign_in(clinic, _code(clinic, enrolment, steps)).method is SignInMethod.TOTP


@pytest.mark.parametrize("steps", [-2, 2])
def test_a_code_two_steps_away_is_refused(clinic: SampleStrongAuth, steps: int) -> None:
    enrolment = _enrolled(clinic)
    clinic.clock.advance(seconds=90)
    code = _code(clinic, enrolment, steps)
    if code in {_code(clinic, enrolment, s) for s in (-1, 0, 1)}:  # pragma: no cover
        pytest.skip("the codes of two steps collide by chance")
    with pytest.raises(SecondFactorFailed) as raised:
        _sign_in(clinic, code)
    assert type(raised.value) is SecondFactorFailed


def test_after_a_later_step_an_earlier_code_is_refused(clinic: SampleStrongAuth) -> None:
    """F5: once the next step's code was used, the current step's code is spent too."""
    enrolment = _enrolled(clinic)
    _sign_in(clinic, _code(clinic, enrolment, 1))
    with pytest.raises(SecondFactorReplayed):
        _sign_in(clinic, _code(clinic, enrolment, 0))


def test_a_code_with_spaces_is_accepted(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    code = clinic.app_code(enrolment)
    assert _sign_in(clinic, f" {code[:3]} {code[3:]} ").method is SignInMethod.TOTP


def test_verify_checks_a_code_alone(clinic: SampleStrongAuth) -> None:
    """F5: for hosts that checked the password in a form of their own."""
    enrolment = _enrolled(clinic)
    verified = clinic.factors.verify(user_id=clinic.physician, code=clinic.app_code(enrolment))
    assert verified.method is SignInMethod.TOTP
    with pytest.raises(SecondFactorReplayed):
        clinic.factors.verify(user_id=clinic.physician, code=clinic.app_code(enrolment))


# -- recovery codes ---------------------------------------------------------------------------


def test_ten_recovery_codes_are_shown_once(clinic: SampleStrongAuth) -> None:
    """F5: 10 codes of 16 Crockford characters, never in repr, stored as digests."""
    issued = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    assert len(issued.codes) == 10
    assert len(set(issued.codes)) == 10
    assert all(
        re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", c) for c in issued.codes
    )
    assert all(c not in repr(issued) for c in issued.codes)
    assert issued.factor.codes_left == 10
    with clinic.unit_of_work() as uow:
        stored = uow.factors.get(issued.factor.id)
    blob = b"".join(stored.digests)
    assert all(
        c.encode() not in blob and c.replace("-", "").encode() not in blob for c in issued.codes
    )


def test_each_recovery_code_signs_in_once(clinic: SampleStrongAuth) -> None:
    issued = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    with pytest.raises(SecondFactorRequired) as raised:
        _sign_in(clinic)
    assert raised.value.params["kinds"] == ("recovery_code",)
    first, second = issued.codes[:2]
    signed_in = _sign_in(clinic, first.lower())
    assert signed_in.method is SignInMethod.RECOVERY_CODE
    assert signed_in.factor is not None
    assert signed_in.factor.codes_left == 9
    with pytest.raises(SecondFactorFailed) as refused:
        _sign_in(clinic, first)
    assert type(refused.value) is SecondFactorFailed
    assert _sign_in(clinic, second.replace("-", "")).factor.codes_left == 8


def test_new_recovery_codes_invalidate_the_old_set(clinic: SampleStrongAuth) -> None:
    old = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    new = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    assert not set(old.codes) & set(new.codes)
    assert _kinds(clinic) == [FactorKind.RECOVERY_CODES]
    with pytest.raises(SecondFactorFailed):
        _sign_in(clinic, old.codes[0])
    assert _sign_in(clinic, new.codes[0]).method is SignInMethod.RECOVERY_CODE


def test_a_recovery_code_signs_in_when_the_phone_is_lost(clinic: SampleStrongAuth) -> None:
    _enrolled(clinic)
    issued = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    assert _sign_in(clinic, issued.codes[-1]).method is SignInMethod.RECOVERY_CODE


# -- network factors (support only) -----------------------------------------------------------


def test_only_support_adds_a_network_factor(clinic: SampleStrongAuth) -> None:
    """F5, source 002: IP factors are communicated to support, who sets them."""
    for actor in (clinic.physician, clinic.owner):
        with pytest.raises(PermissionDenied):
            clinic.factors.add_network_factor(
                actor=actor, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
            )
    view = clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    assert view.kind is FactorKind.NETWORK
    assert view.networks == (PRACTICE_NETWORK,)
    assert view.created_by == clinic.support


def test_only_support_changes_a_network_factor(clinic: SampleStrongAuth) -> None:
    view = clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    for actor in (clinic.physician, clinic.owner):
        with pytest.raises(PermissionDenied):
            clinic.factors.set_networks(actor=actor, factor_id=view.id, networks=["203.0.113.0/24"])
        with pytest.raises(PermissionDenied):
            clinic.factors.rename(actor=actor, factor_id=view.id, name="Cabinet")
    changed = clinic.factors.set_networks(
        actor=clinic.support, factor_id=view.id, networks=["203.0.113.0/24", "2001:db8::/48"]
    )
    assert changed.networks == ("203.0.113.0/24", "2001:db8::/48")


def test_only_network_factors_have_networks(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    with pytest.raises(FactorNotFound) as raised:
        clinic.factors.set_networks(
            actor=clinic.support, factor_id=enrolment.factor.id, networks=[PRACTICE_NETWORK]
        )
    assert raised.value.params["reason"] == "not_network"


@pytest.mark.parametrize("network", ["10.0.0.0/8", "0.0.0.0/0", "2001:db8::/16", "::/0"])
def test_too_broad_networks_are_refused(clinic: SampleStrongAuth, network: str) -> None:
    """F5: a factor that matches half the Internet is none (/16 and /32 at the broadest)."""
    with pytest.raises(FactorRejected) as raised:
        clinic.factors.add_network_factor(
            actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK, network]
        )
    assert raised.value.codes == ("factor.network_too_broad",)


@pytest.mark.parametrize("networks", [["not a network"], [], ["192.0.2.0/33"]])
def test_networks_that_are_none_are_refused(clinic: SampleStrongAuth, networks) -> None:
    with pytest.raises(FactorRejected) as raised:
        clinic.factors.add_network_factor(
            actor=clinic.support, user_id=clinic.physician, networks=networks
        )
    assert raised.value.codes == ("factor.invalid_network",)


def test_networks_are_stored_normalized(clinic: SampleStrongAuth) -> None:
    """F5: host bits dropped, an address is a /32, duplicates merged, IPv4 first."""
    view = clinic.factors.add_network_factor(
        actor=clinic.support,
        user_id=clinic.physician,
        networks=["2001:db8::/48", "192.0.2.5/24", "203.0.113.7", "192.0.2.0/24"],
    )
    assert view.networks == ("192.0.2.0/24", "203.0.113.7/32", "2001:db8::/48")


@pytest.mark.parametrize(
    ("peer", "where"),
    [
        ("192.0.2.10", "inside"),
        ("::ffff:192.0.2.10", "inside"),
        ("192.0.3.10", "outside"),
        ("not an address", "outside"),
        ("", "outside"),
        (None, "outside"),
    ],
)
def test_the_peer_address_decides_whether_the_network_factor_applies(
    clinic: SampleStrongAuth, peer: str | None, where: str
) -> None:
    clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    if where == "inside":
        assert _sign_in(clinic, peer=peer).method is SignInMethod.NETWORK
    else:
        with pytest.raises(SecondFactorRequired):
            _sign_in(clinic, peer=peer)


def test_from_inside_the_network_the_password_suffices(clinic: SampleStrongAuth) -> None:
    _enrolled(clinic)
    clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    signed_in = _sign_in(clinic, peer=INSIDE)
    assert signed_in.method is SignInMethod.NETWORK
    with pytest.raises(SecondFactorRequired):
        _sign_in(clinic, peer=OUTSIDE)


def test_with_only_network_factors_the_user_signs_in_only_from_there(
    clinic: SampleStrongAuth,
) -> None:
    """F5: outside, no code can help: an empty list of kinds, reason ``network``."""
    clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    for peer in (OUTSIDE, None):
        with pytest.raises(SecondFactorRequired) as raised:
            _sign_in(clinic, code="123456", peer=peer)
        assert raised.value.params["kinds"] == ()
        assert raised.value.params["reason"] == "network"
    assert _sign_in(clinic, peer=INSIDE).method is SignInMethod.NETWORK


# -- several factors: rename, remove ----------------------------------------------------------


def test_a_user_holds_several_factors(clinic: SampleStrongAuth) -> None:
    """F5: apps, recovery codes and networks side by side."""
    _enrolled(clinic)
    second = clinic.factors.begin_totp(
        actor=clinic.physician, user_id=clinic.physician, name="Tablet"
    )
    clinic.factors.confirm_totp(
        actor=clinic.physician, factor_id=second.factor.id, code=clinic.app_code(second)
    )
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    views = clinic.factors.factors(actor=clinic.physician, user_id=clinic.physician)
    assert sorted((v.kind, v.name) for v in views) == [
        (FactorKind.NETWORK, "Practice network"),
        (FactorKind.RECOVERY_CODES, "Recovery codes"),
        (FactorKind.TOTP, "Phone"),
        (FactorKind.TOTP, "Tablet"),
    ]
    clinic.clock.advance(seconds=30)
    assert _sign_in(clinic, clinic.app_code(second)).factor.id == second.factor.id


def test_the_owner_cannot_see_the_physicians_factors(clinic: SampleStrongAuth) -> None:
    """The physician created their own account: the owner does not manage it."""
    _enrolled(clinic)
    with pytest.raises(PermissionDenied):
        clinic.factors.factors(actor=clinic.owner, user_id=clinic.physician)
    assert _kinds(clinic, actor=clinic.support) == [FactorKind.TOTP]


def test_a_user_cannot_touch_another_users_factors(clinic: SampleStrongAuth) -> None:
    """F5: the physician may not see, rename or remove support's own app."""
    theirs = clinic.factors.begin_totp(actor=clinic.support, user_id=clinic.support)
    with pytest.raises(PermissionDenied):
        clinic.factors.factors(actor=clinic.physician, user_id=clinic.support)
    with pytest.raises(PermissionDenied):
        clinic.factors.rename(actor=clinic.physician, factor_id=theirs.factor.id, name="Mine")
    with pytest.raises(PermissionDenied):
        clinic.factors.confirm_totp(
            actor=clinic.physician, factor_id=theirs.factor.id, code=clinic.app_code(theirs)
        )
    with pytest.raises(PermissionDenied):
        clinic.factors.remove(
            actor=clinic.physician, factor_id=theirs.factor.id, password=clinic.password
        )
    assert _kinds(clinic) == []
    (kept,) = clinic.factors.factors(actor=clinic.support, user_id=clinic.support)
    assert (kept.name, kept.confirmed) == ("Authenticator app", False)


def test_renaming_a_factor(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    view = clinic.factors.rename(
        actor=clinic.physician, factor_id=enrolment.factor.id, name="  Old   phone "
    )
    assert view.name == "Old phone"
    (listed,) = clinic.factors.factors(actor=clinic.physician, user_id=clinic.physician)
    assert listed.name == "Old phone"


@pytest.mark.parametrize("name", ["", "   ", "x" * 61, "Phone\x00", "Tab\u200blet", 42])
def test_a_bad_name_is_refused(clinic: SampleStrongAuth, name: object) -> None:
    enrolment = _enrolled(clinic)
    with pytest.raises(FactorRejected) as raised:
        clinic.factors.rename(actor=clinic.physician, factor_id=enrolment.factor.id, name=name)
    assert raised.value.codes == ("factor.invalid_name",)


def test_an_unknown_factor_is_not_found(clinic: SampleStrongAuth) -> None:
    for factor_id in ("no-such-factor", "", None):
        with pytest.raises(FactorNotFound):
            clinic.factors.rename(actor=clinic.physician, factor_id=factor_id, name="Phone")


def test_removing_a_factor_needs_the_actors_password(clinic: SampleStrongAuth) -> None:
    """F5: a recent re-authentication; a wrong password removes nothing."""
    enrolment = _enrolled(clinic)
    with pytest.raises(AuthenticationFailed):
        clinic.factors.remove(
            actor=clinic.physician, factor_id=enrolment.factor.id, password="Pas-Le-Bon-2"
        )
    assert _kinds(clinic) == [FactorKind.TOTP]
    clinic.factors.remove(
        actor=clinic.physician, factor_id=enrolment.factor.id, password=clinic.password
    )
    assert _kinds(clinic) == []
    assert _sign_in(clinic).method is SignInMethod.PASSWORD


def test_the_last_factor_stays_while_the_establishment_requires_one(
    clinic: SampleStrongAuth,
) -> None:
    """F5: with two factors required, the last app goes only once another factor is added."""
    enrolment = _enrolled(clinic)
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.require_second_factor(
        actor=clinic.owner, establishment_id=clinic.establishment.id, required=True
    )
    with pytest.raises(LastFactor) as raised:
        clinic.factors.remove(
            actor=clinic.physician, factor_id=enrolment.factor.id, password=clinic.password
        )
    assert raised.value.params["establishments"] == (clinic.establishment.id,)
    network = clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    clinic.factors.remove(
        actor=clinic.physician, factor_id=enrolment.factor.id, password=clinic.password
    )
    assert sorted(_kinds(clinic)) == [FactorKind.NETWORK, FactorKind.RECOVERY_CODES]
    assert network.kind is FactorKind.NETWORK


def test_recovery_codes_can_go_while_a_factor_is_required(clinic: SampleStrongAuth) -> None:
    _enrolled(clinic)
    codes = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.require_second_factor(
        actor=clinic.owner, establishment_id=clinic.establishment.id, required=True
    )
    clinic.factors.remove(
        actor=clinic.physician, factor_id=codes.factor.id, password=clinic.password
    )
    assert _kinds(clinic) == [FactorKind.TOTP]


def test_a_pending_app_can_always_be_removed(clinic: SampleStrongAuth) -> None:
    clinic.factors.require_second_factor(
        actor=clinic.owner, establishment_id=clinic.establishment.id, required=True
    )
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.remove(
        actor=clinic.physician, factor_id=enrolment.factor.id, password=clinic.password
    )
    assert _kinds(clinic) == []


def test_requiring_a_factor_is_for_administrators(clinic: SampleStrongAuth) -> None:
    with pytest.raises(PermissionDenied):
        clinic.factors.require_second_factor(
            actor=clinic.physician, establishment_id=clinic.establishment.id, required=True
        )


def test_without_a_factor_a_required_one_must_be_enrolled(clinic: SampleStrongAuth) -> None:
    """F5: the member signs in with the password, told to enrol (``enrolment_required``)."""
    clinic.factors.require_second_factor(
        actor=clinic.owner, establishment_id=clinic.establishment.id, required=True
    )
    signed_in = _sign_in(clinic)
    assert signed_in.method is SignInMethod.PASSWORD
    assert signed_in.enrolment_required is True
    assert signed_in.requiring == (clinic.establishment.id,)


def test_a_user_holds_at_most_max_factors(factory) -> None:
    clinic = sample_strong_auth(unit_of_work=factory, settings=FactorSettings(max_factors=2))
    _enrolled(clinic)
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    with pytest.raises(FactorRejected) as raised:
        clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    assert raised.value.codes == ("factor.too_many",)
    with pytest.raises(FactorRejected):
        clinic.factors.add_network_factor(
            actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
        )
    # A new set of recovery codes replaces the old one: no room needed.
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)


def test_an_expired_pending_app_makes_room(factory) -> None:
    clinic = sample_strong_auth(unit_of_work=factory, settings=FactorSettings(max_factors=1))
    clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    with pytest.raises(FactorRejected):
        clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    clinic.clock.advance(hours=1, seconds=1)
    clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    assert len(_kinds(clinic)) == 1


# -- the budget ------------------------------------------------------------------------------


def test_five_wrong_codes_stop_every_check_for_a_while(clinic: SampleStrongAuth) -> None:
    """F5: 5 wrong codes in 15 minutes; then even the right code is not checked."""
    enrolment = _enrolled(clinic)
    wrong = _wrong(*(_code(clinic, enrolment, s) for s in (-1, 0, 1)))
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(SecondFactorFailed) as raised:
            _sign_in(clinic, wrong)
        assert raised.value.params["attempts_left"] == left
    with pytest.raises(SecondFactorThrottled) as throttled:
        _sign_in(clinic, clinic.app_code(enrolment))
    assert throttled.value.params["retry_after"] == 15 * 60
    clinic.clock.advance(minutes=14, seconds=59)
    with pytest.raises(SecondFactorThrottled) as throttled:
        _sign_in(clinic, clinic.app_code(enrolment))
    assert throttled.value.params["retry_after"] == 1
    clinic.clock.advance(seconds=1)
    assert _sign_in(clinic, clinic.app_code(enrolment)).method is SignInMethod.TOTP


def test_a_recovery_code_is_not_spent_while_throttled(clinic: SampleStrongAuth) -> None:
    issued = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    for _ in range(5):
        with pytest.raises(SecondFactorFailed):
            _sign_in(clinic, "AAAA-AAAA-AAAA-AAAA")
    with pytest.raises(SecondFactorThrottled):
        _sign_in(clinic, issued.codes[0])
    clinic.clock.advance(minutes=15)
    assert _sign_in(clinic, issued.codes[0]).factor.codes_left == 9


def test_wrong_first_codes_spend_the_same_budget(clinic: SampleStrongAuth) -> None:
    enrolment = clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician)
    wrong = _wrong(*(_code(clinic, enrolment, s) for s in (-1, 0, 1)))
    for _ in range(5):
        with pytest.raises(SecondFactorFailed):
            clinic.factors.confirm_totp(
                actor=clinic.physician, factor_id=enrolment.factor.id, code=wrong
            )
    with pytest.raises(SecondFactorThrottled):
        clinic.factors.confirm_totp(
            actor=clinic.physician, factor_id=enrolment.factor.id, code=clinic.app_code(enrolment)
        )


def test_a_replayed_code_counts_as_a_miss(clinic: SampleStrongAuth) -> None:
    enrolment = _enrolled(clinic)
    code = clinic.app_code(enrolment)
    _sign_in(clinic, code)
    for _ in range(5):
        with pytest.raises(SecondFactorReplayed):
            _sign_in(clinic, code)
    clinic.clock.advance(seconds=30)
    with pytest.raises(SecondFactorThrottled):
        _sign_in(clinic, clinic.app_code(enrolment))


# -- the second step alone, deactivation -----------------------------------------------------


def test_second_step_after_an_onboarding_style_sign_in(clinic: SampleStrongAuth) -> None:
    """F5: the host checked the password its own way; the second step alone completes."""
    enrolment = _enrolled(clinic)
    with pytest.raises(SecondFactorRequired):
        clinic.factors.second_step(user_id=clinic.physician)
    signed_in = clinic.factors.second_step(
        user_id=clinic.physician, code=clinic.app_code(enrolment)
    )
    assert signed_in.method is SignInMethod.TOTP
    assert signed_in.user.id == clinic.physician


def _deactivator(clinic: SampleStrongAuth) -> AccessService:
    """Access whose support staff may deactivate accounts (the sample's may not)."""
    return AccessService(
        unit_of_work=clinic.unit_of_work,
        clock=clinic.clock,
        request_context=clinic.request_context,
        staff={
            clinic.support: frozenset(
                {Permission.USERS_DEACTIVATE, Permission.USERS_MANAGE_FACTORS}
            )
        },
    )


def test_deactivating_the_account_revokes_every_factor(clinic: SampleStrongAuth) -> None:
    """F5, A6: a reactivated user enrols again."""
    enrolment = _enrolled(clinic)
    clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    access = _deactivator(clinic)
    access.deactivate_user(actor=clinic.support, user_id=clinic.physician)
    assert _kinds(clinic, actor=clinic.support) == []
    with pytest.raises(AccountDeactivated):
        clinic.factors.second_step(user_id=clinic.physician, code=clinic.app_code(enrolment))
    with pytest.raises(AccountDeactivated):
        _sign_in(clinic, clinic.app_code(enrolment))
    access.reactivate_user(actor=clinic.support, user_id=clinic.physician)
    assert _sign_in(clinic, peer=INSIDE).method is SignInMethod.PASSWORD


@pytest.mark.parametrize("command", ["begin_totp", "new_recovery_codes"])
def test_a_deactivated_account_cannot_enrol_factors(clinic: SampleStrongAuth, command: str) -> None:
    _deactivator(clinic).deactivate_user(actor=clinic.support, user_id=clinic.physician)
    with pytest.raises(PermissionDenied):
        getattr(clinic.factors, command)(actor=clinic.physician, user_id=clinic.physician)


# -- the audit trail -------------------------------------------------------------------------


def _once(
    clinic: SampleStrongAuth,
    action: str,
    call: Callable[[], Any],
    *,
    outcome: Outcome = Outcome.SUCCEEDED,
    named: bool = True,
) -> Any:
    """Run ``call``; check it recorded exactly one ``factor.*`` event, ``action``."""
    before = {(r.chain, r.seq) for r in _records(clinic)}
    try:
        result = call()
    except PracticeIdError as error:  # refusals are recorded too
        result = error
    new = [
        r.event
        for r in _records(clinic)
        if (r.chain, r.seq) not in before and r.event.action.startswith("factor.")
    ]
    assert [e.action for e in new] == [action], new
    (event,) = new
    assert event.outcome is outcome, event
    if named:
        assert set(event.detail) >= {"factor_id", "kind"}, event
    else:
        assert "factor_id" not in event.detail or event.succeeded
    return result


def _assert_nothing_secret_recorded(
    clinic: SampleStrongAuth, typed: list[str], secrets: list[str]
) -> None:
    """No typed code appears as a token of any event, and no secret anywhere in them."""
    dumped = [json.dumps(r.event.canonical(), ensure_ascii=False) for r in _records(clinic)]
    tokens = {t for d in dumped for t in re.findall(r"[0-9A-Za-z]+", d)}
    for code in typed:
        assert code not in tokens
        assert code.replace("-", "") not in tokens
    for secret in secrets:
        assert not any(secret in d for d in dumped)
    assert clinic.password not in "".join(dumped)


def test_every_command_records_one_event_and_never_a_secret(clinic: SampleStrongAuth) -> None:
    """F3, F5: one event per command, naming the factor and its kind; no code, no secret."""
    enrolment = _once(
        clinic,
        "factor.begin_totp",
        lambda: clinic.factors.begin_totp(actor=clinic.physician, user_id=clinic.physician),
    )
    wrong = _wrong(*(_code(clinic, enrolment, s) for s in (-1, 0, 1)))
    code = clinic.app_code(enrolment)
    for typed, outcome in ((wrong, Outcome.REFUSED), (code, Outcome.SUCCEEDED)):
        _once(
            clinic,
            "factor.confirm_totp",
            lambda typed=typed: clinic.factors.confirm_totp(
                actor=clinic.physician, factor_id=enrolment.factor.id, code=typed
            ),
            outcome=outcome,
            named=outcome is Outcome.SUCCEEDED,
        )
    issued = _once(
        clinic,
        "factor.recovery_codes",
        lambda: clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician),
    )
    network = _once(
        clinic,
        "factor.add_network",
        lambda: clinic.factors.add_network_factor(
            actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
        ),
    )
    _once(
        clinic,
        "factor.set_networks",
        lambda: clinic.factors.set_networks(
            actor=clinic.support, factor_id=network.id, networks=["203.0.113.0/24"]
        ),
    )
    _once(
        clinic,
        "factor.rename",
        lambda: clinic.factors.rename(
            actor=clinic.physician, factor_id=enrolment.factor.id, name="Phone"
        ),
    )
    _once(
        clinic,
        "factor.require",
        lambda: clinic.factors.require_second_factor(
            actor=clinic.owner, establishment_id=clinic.establishment.id, required=True
        ),
        named=False,
    )
    for password, outcome in (
        ("Pas-Le-Bon-2", Outcome.REFUSED),
        (clinic.password, Outcome.SUCCEEDED),
    ):
        _once(
            clinic,
            "factor.remove",
            lambda password=password: clinic.factors.remove(
                actor=clinic.physician, factor_id=issued.factor.id, password=password
            ),
            outcome=outcome,
            named=outcome is Outcome.SUCCEEDED,
        )
    secrets = [enrolment.secret, enrolment.uri, _secret(enrolment).hex()]
    secrets += [*issued.codes, *(c.replace("-", "") for c in issued.codes)]
    _assert_nothing_secret_recorded(clinic, [wrong, code], secrets)


def test_every_use_of_a_factor_records_one_event_and_never_the_code(
    clinic: SampleStrongAuth,
) -> None:
    """F3, F5: sign-in, the second step alone and verify: one ``factor.verify`` each."""
    enrolment = _enrolled(clinic)
    issued = clinic.factors.new_recovery_codes(actor=clinic.physician, user_id=clinic.physician)
    clinic.factors.add_network_factor(
        actor=clinic.support, user_id=clinic.physician, networks=[PRACTICE_NETWORK]
    )
    code = clinic.app_code(enrolment)
    wrong = _wrong(*(_code(clinic, enrolment, s) for s in (-1, 0, 1)))
    refused = {"outcome": Outcome.REFUSED, "named": False}
    _once(clinic, "factor.verify", lambda: _sign_in(clinic, code))
    _once(clinic, "factor.verify", lambda: _sign_in(clinic, code), **refused)
    _once(clinic, "factor.verify", lambda: _sign_in(clinic), **refused)
    used = _once(clinic, "factor.verify", lambda: _sign_in(clinic, issued.codes[0]))
    assert used.factor.codes_left == 9
    _once(clinic, "factor.verify", lambda: _sign_in(clinic, peer=INSIDE))
    clinic.clock.advance(seconds=30)
    code2 = clinic.app_code(enrolment)
    _once(
        clinic,
        "factor.verify",
        lambda: clinic.factors.second_step(user_id=clinic.physician, code=code2),
    )
    for _ in range(4):
        _once(
            clinic,
            "factor.verify",
            lambda: clinic.factors.verify(user_id=clinic.physician, code=wrong),
            **refused,
        )
    throttled = _once(clinic, "factor.verify", lambda: _sign_in(clinic, code2), **refused)
    assert isinstance(throttled, SecondFactorThrottled)
    events = _events(clinic, "factor.verify")
    assert [e.detail.get("codes_left") for e in events if e.succeeded] == [None, 9, None, None]
    assert [e.detail.get("method") for e in events if e.succeeded] == [
        "totp",
        "recovery_code",
        "network",
        "totp",
    ]
    _assert_nothing_secret_recorded(
        clinic, [code, code2, wrong, issued.codes[0]], [*issued.codes, enrolment.secret]
    )
