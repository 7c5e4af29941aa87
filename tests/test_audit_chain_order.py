"""Sweeps append their audit events chain by chain, so concurrent sweeps cannot deadlock (F3).

Appending locks a chain's head until the unit of work ends; two sweeps appending to the same
establishments' chains in opposite orders would each wait for the other on PostgreSQL. A
sweep's events are therefore appended at the end of its batch, sorted by chain (each chain's
own events in the order they happened).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from practiceid.audit import AuditEvent, AuditRecord, chain_of
from practiceid.auditing import ChainOrdered
from practiceid.establishments import EstablishmentId
from practiceid.testing import sample_licensing, sample_onboarding


@attrs.define
class RecordingLog:
    """An audit log that remembers the chain of every append, then appends for real."""

    wrapped: object
    chains: list[str] = attrs.Factory(list)

    def append(self, event: AuditEvent) -> AuditRecord:
        self.chains.append(chain_of(event))
        return self.wrapped.append(event)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self.wrapped, name)


def _recording(factory, appended: list[list[str]]):
    def make():
        uow = factory()
        log = RecordingLog(uow.audit)
        appended.append(log.chains)
        uow.audit = log
        return uow

    return make


def test_the_collector_appends_chain_by_chain_keeping_each_chains_order() -> None:
    at = datetime(2027, 1, 4, tzinfo=UTC)
    appended: list[AuditEvent] = []

    class Log:
        def append(self, event: AuditEvent) -> None:
            appended.append(event)

    class Uow:
        audit = Log()

    ordered = ChainOrdered(Uow())  # type: ignore[arg-type]
    events = [AuditEvent(f"a{i}", at, establishment_id=est) for i, est in enumerate("bab") if est]
    events.insert(1, AuditEvent("platform", at))
    for event in events:
        ordered.audit.append(event)
    assert appended == []
    ordered.flush()
    assert [e.action for e in appended] == ["platform", "a1", "a0", "a2"]


def test_the_license_sweep_appends_in_chain_order_not_in_due_order() -> None:
    """Due first in the establishment whose chain sorts last: appended last all the same."""
    practice = sample_licensing()
    annexe = practice.access.open_establishment(
        actor=practice.owner.id,
        organisation_id=practice.establishment.organisation_id,
        name="Cabinet annexe",
        product=practice.establishment.product,
        establishment_id=EstablishmentId("0-annexe"),  # sorts before any UUID
    )
    assert annexe.id < practice.establishment.id
    practice.access.add_member(
        actor=practice.owner.id,
        establishment_id=annexe.id,
        email=practice.physician.email.address,
        roles=["physician"],
        first_name="Jeanne",
        last_name="Exemple",
    )
    practice.licenses.provision(
        actor=practice.owner.id,
        establishment_id=practice.establishment.id,
        user_id=practice.physician.id,
    )
    practice.clock.advance(days=1)
    practice.licenses.provision(
        actor=practice.owner.id, establishment_id=annexe.id, user_id=practice.physician.id
    )
    appended: list[list[str]] = []
    licenses = attrs.evolve(
        practice.licenses, unit_of_work=_recording(practice.unit_of_work, appended)
    )
    practice.clock.advance(days=46)  # both provisional licenses have ended (E1)
    report = licenses.run_due()
    # Claimed in due order: the main establishment's license first.
    assert [key[0] for key in report.expired] == [practice.establishment.id, annexe.id]
    sweeps = [chains for chains in appended if chains]
    assert sweeps == [[annexe.id, practice.establishment.id]]


def test_the_onboarding_sweep_appends_in_chain_order() -> None:
    hospital = sample_onboarding()
    for n in range(3):
        hospital.onboarding.invite(
            actor=hospital.owner.id,
            establishment_id=hospital.establishment.id,
            email=f"invite{n}@hopital-exemple.fr",
            first_name="Invité",
            last_name=f"Numero{n}",
        )
    appended: list[list[str]] = []
    onboarding = attrs.evolve(
        hospital.onboarding, unit_of_work=_recording(hospital.unit_of_work, appended)
    )
    hospital.clock.advance(timedelta(days=3))
    assert len(onboarding.run_due().reminded) == 3
    sweeps = [chains for chains in appended if chains]
    assert sweeps == [[hospital.establishment.id] * 3]
