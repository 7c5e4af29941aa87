"""A member opening a shared device with their own credentials passes their second factor (F4, F5).

The clinic login signs devices in with its password alone (F1); a person's own sign-in is a
sign-in like any other, so their second factors apply when the host wires them in.
"""

from __future__ import annotations

import pytest

from practiceid import (
    DeviceService,
    DeviceState,
    SecondFactorFailed,
    SecondFactorRequired,
)
from practiceid.adapters import StaticKeyProvider
from practiceid.testing import SampleStrongAuth, sample_strong_auth


@pytest.fixture
def practice() -> SampleStrongAuth:
    return sample_strong_auth(keys=StaticKeyProvider.generate("totp", "audit", "pin"))


def _devices(practice: SampleStrongAuth, *, factors: bool) -> DeviceService:
    devices = DeviceService(
        unit_of_work=practice.unit_of_work,
        access=practice.access,
        accounts=practice.accounts,
        keys=practice.keys,
        clock=practice.clock,
        request_context=practice.request_context,
        factors=practice.factors if factors else None,
    )
    devices.set_remote_access(
        actor=practice.owner,
        establishment_id=practice.establishment.id,
        user_id=practice.physician,
        allowed=True,
    )
    return devices


def test_a_member_with_an_app_opens_a_device_only_with_its_code(
    practice: SampleStrongAuth,
) -> None:
    devices = _devices(practice, factors=True)
    enrolment = practice.factors.begin_totp(actor=practice.physician, user_id=practice.physician)
    practice.factors.confirm_totp(
        actor=practice.physician, factor_id=enrolment.factor.id, code=practice.app_code(enrolment)
    )
    practice.clock.advance(seconds=30)
    where = practice.establishment.id

    with pytest.raises(SecondFactorRequired):
        devices.open(practice.login, practice.password, establishment_id=where)
    with pytest.raises(SecondFactorFailed):
        devices.open(practice.login, practice.password, establishment_id=where, code="000000")
    opened = devices.open(
        practice.login,
        practice.password,
        establishment_id=where,
        code=practice.app_code(enrolment),
    )

    assert opened.session.state is DeviceState.UNLOCKED
    assert opened.session.member == practice.physician


def test_a_member_without_factors_opens_a_device_with_the_password(
    practice: SampleStrongAuth,
) -> None:
    devices = _devices(practice, factors=True)

    opened = devices.open(
        practice.login, practice.password, establishment_id=practice.establishment.id
    )

    assert opened.session.member == practice.physician


def test_without_the_factor_service_a_device_asks_no_second_factor(
    practice: SampleStrongAuth,
) -> None:
    devices = _devices(practice, factors=False)
    enrolment = practice.factors.begin_totp(actor=practice.physician, user_id=practice.physician)
    practice.factors.confirm_totp(
        actor=practice.physician, factor_id=enrolment.factor.id, code=practice.app_code(enrolment)
    )

    opened = devices.open(
        practice.login, practice.password, establishment_id=practice.establishment.id
    )

    assert opened.session.state is DeviceState.UNLOCKED
