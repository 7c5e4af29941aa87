"""The license service: provisional licenses, requests, invoices, payments, activation (E1-E4).

Every use case reads, decides with a pure function of :mod:`practiceid.policies.license`,
and writes the new :class:`~practiceid.License` and the messages it sends to the outbox in
one unit of work, as onboarding does. The practice requests; the vendor's license desk
(support staff holding ``licenses.administer``) invoices, records payments and activates.

Every command records one audit event in the establishment's chain (F3), in the same unit
of work: an allowed one its success even when it changes nothing (provisioning a member who
has a license, the same kind again: ``changed`` is then ``False`` in the event's details),
a refused one a refusal with the error's code. The sweep, which is no command, records one
event per license it moves on (no actor) and nothing for the others. Reads record nothing.

>>> from practiceid.testing import sample_licensing
>>> practice = sample_licensing()
>>> seat = practice.licenses.provision(
...     actor=practice.owner.id,
...     establishment_id=practice.establishment.id,
...     user_id=practice.physician.id,
... )
>>> seat.status, seat.kind
(<LicenseStatus.PROVISIONAL: 'provisional'>, <LicenseKind.PHYSICIAN: 'physician'>)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import TypeVar, cast

import attrs

from practiceid.access import AccessService, _require_ids
from practiceid.audit import DetailValue
from practiceid.auditing import Auditor, ChainOrdered, NoRequestContext, audited
from practiceid.authorization import Access, Decision, Reason, restrict_to_license
from practiceid.errors import (
    DuplicateRecord,
    IllegalLicenseTransition,
    InvalidConfiguration,
    LicenseRejected,
    LicenseRequestIncomplete,
    StaleRecord,
    StaleUser,
    UserNotFound,
    Violation,
)
from practiceid.establishments import Establishment, EstablishmentId, ProductKind
from practiceid.invitations import MessageKind
from practiceid.licenses import (
    LICENSE_KINDS,
    InvoiceLine,
    InvoiceRequest,
    License,
    LicenseKind,
    LicenseRequest,
    LicenseStatus,
    PriceTable,
)
from practiceid.memberships import Membership
from practiceid.onboarding import DEFAULT_LOCALES
from practiceid.outbox import Message, MessageId, new_message_id
from practiceid.permissions import Permission
from practiceid.policies import license as policy
from practiceid.policies.license import LicenseSettings, Step
from practiceid.policies.professions import PROFESSION_RULES, ProfessionRules
from practiceid.ports.audit import RequestContext
from practiceid.ports.clock import Clock
from practiceid.ports.licenses import LicenseUnitOfWork, LicenseUnitOfWorkFactory
from practiceid.practitioners import Practitioner
from practiceid.users import User, UserId

__all__ = ["LicenseService", "LicenseSweepReport", "LicenseView"]

_T = TypeVar("_T")
_INVOICE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")


@attrs.frozen
class LicenseView:
    """A member's license as the practice sees it at one moment.

    ``status`` is the status shown: ``suspended`` while the account or membership is
    deactivated, ``expiring`` or ``expired`` as the clock says even before the sweep
    stores it, ``unlicensed`` for a member whose profession pays and who has no license.
    ``entitled`` says whether the licensed acts are allowed (docs/licenses.md).
    ``last_day`` is the last day covered, ``activation_due`` the last day of a paid
    activation's deadline, in the practice's time zone.
    """

    user: User
    membership: Membership
    license: License | None
    status: LicenseStatus
    entitled: bool
    last_day: date | None = None
    activation_due: date | None = None


@attrs.frozen
class LicenseSweepReport:
    """What one :meth:`LicenseService.run_due` did, by (establishment, user).

    ``notified``: expiry notices sent; ``expired``: windows that ended (a deactivated member
    is not told, but the license expires); ``late``: activations reported late.
    """

    notified: tuple[tuple[EstablishmentId, UserId], ...] = ()
    expired: tuple[tuple[EstablishmentId, UserId], ...] = ()
    late: tuple[tuple[EstablishmentId, UserId], ...] = ()

    @property
    def changed(self) -> int:
        """How many licenses the sweep sent something about."""
        return len({*self.notified, *self.expired, *self.late})


def _kinds(
    kinds: Mapping[ProductKind, Iterable[LicenseKind]],
) -> Mapping[ProductKind, frozenset[LicenseKind]]:
    return MappingProxyType({product: frozenset(k) for product, k in kinds.items()})


def _rejected(field: str, code: str, message: str) -> LicenseRejected:
    return LicenseRejected([Violation(code, message, field)])


def _kind(value: object) -> LicenseKind:
    try:
        return LicenseKind(value if isinstance(value, str) else "")
    except ValueError:
        raise _rejected("kind", "license.invalid_kind", "physician, locum or staff") from None


@attrs.frozen(kw_only=True)
class LicenseService:
    """Use cases for licenses (E1-E4, B4). Build one per application; thread-safe.

    Every command records one audit event (F3), in the chain of the license's
    establishment. An allowed command records its success in its own unit of work, just
    before it commits, even when it changes nothing (``changed`` is then ``False`` in the
    event's details, and the license is not written: no new version): the trail shows every
    act an actor was allowed, not only those that moved something. A command on an existing
    license says whether it changed it; a new license needs no ``changed``, nor do invoices
    and payments, which always change their licenses. A command refused with a
    :class:`~practiceid.errors.PracticeIdError` records one refusal with the error's code; a
    conflict retried internally is not a refusal. The sweep (:meth:`run_due`) is not a
    command: it records only the licenses it moves on. Reads record nothing.

    Args:
        unit_of_work: returns a fresh :class:`~practiceid.ports.LicenseUnitOfWork`.
        access: decides who may do what (same store); its ``staff`` holding
            ``licenses.administer`` are the vendor's license desk.
        clock: the time of every transition.
        settings: the periods, notices, time zone and licensed permissions.
        prices: the host's price table, for invoices.
        kinds: the license kinds each product offers (:data:`~practiceid.LICENSE_KINDS`).
        profession_rules: which professions pay (:data:`~practiceid.PROFESSION_RULES`, E3).
        locales: product → locale of its messages (:data:`~practiceid.DEFAULT_LOCALES`).
        retries: how many times a use case runs when a concurrent change made it stale.
        batch_size: licenses the sweep changes per unit of work.
        new_message_id: makes outbox message ids.
        request_context: tells the audit trail the peer address and request id of the
            request being served (:class:`~practiceid.auditing.NoRequestContext` by
            default: none).
    """

    unit_of_work: LicenseUnitOfWorkFactory
    access: AccessService
    clock: Clock
    settings: LicenseSettings = attrs.field(factory=LicenseSettings)
    prices: PriceTable = attrs.field(factory=PriceTable)
    kinds: Mapping[ProductKind, frozenset[LicenseKind]] = attrs.field(
        default=LICENSE_KINDS, converter=_kinds
    )
    profession_rules: Mapping[ProductKind, ProfessionRules] = PROFESSION_RULES
    locales: Mapping[ProductKind, str] = DEFAULT_LOCALES
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    batch_size: int = attrs.field(default=500, validator=attrs.validators.in_(range(1, 10_001)))
    new_message_id: Callable[[], MessageId] = new_message_id
    request_context: RequestContext = attrs.field(factory=NoRequestContext)

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events, dated by :attr:`clock` (F3)."""
        return Auditor(self.clock, self.request_context)

    def _audit(
        self,
        uow: LicenseUnitOfWork,
        action: str,
        *,
        actor: UserId | None,
        before: License | None,
        stored: License,
        sweep: bool = False,
        **details: DetailValue,
    ) -> None:
        """Record ``action`` on ``stored`` in ``uow``.

        A command records even when it changed nothing: on an existing license (``before``)
        the details say whether it ``changed``, a new license needs none. The ``sweep`` is
        no command: it records only a license it moved on, and no ``changed``.
        """
        if sweep:
            if stored == before:
                return
        elif before is not None:
            details["changed"] = stored != before
        self.auditor.record(
            uow,
            action,
            actor=actor,
            establishment_id=stored.establishment_id,
            target_type="license",
            target_id=stored.user_id,
            details={
                "status_before": None if before is None else str(before.status),
                "status": str(stored.status),
                "kind": str(stored.kind),
                **details,
            },
        )

    # -- running use cases ------------------------------------------------------------------

    def _run(self, use_case: Callable[[], _T]) -> _T:
        """Run ``use_case`` again when a concurrent change made its unit of work stale."""
        for _ in range(self.retries - 1):
            try:
                return use_case()
            except (StaleRecord, StaleUser):
                continue
            except DuplicateRecord as error:
                if error.params.get("entity") != "license":
                    raise
                continue  # provisioned concurrently: the rerun finds it
        return use_case()

    def _desk(self, actor: UserId) -> None:
        """Refuse anyone but the vendor's license desk (staff with ``licenses.administer``)."""
        wanted = Permission.LICENSES_ADMINISTER
        with self.unit_of_work() as uow:
            user = _find_user(uow, actor)
        if user is not None and not user.is_active and wanted in self.access.staff.get(actor, ()):
            raise Decision(
                allowed=False, reason=Reason.USER_DEACTIVATED, permission=wanted, actor=actor
            ).error()
        if user is None or wanted not in self.access.staff.get(actor, frozenset()):
            raise Decision(
                allowed=False,
                reason=Reason.MISSING_PERMISSION,
                permission=wanted,
                actor=actor,
                missing=frozenset({wanted}),
            ).error()

    def _authorize(
        self,
        uow: LicenseUnitOfWork,
        actor: UserId,
        establishment_id: EstablishmentId,
        p: Permission,
    ) -> Establishment:
        establishment, _ = self.access.authorize(
            uow, actor=actor, establishment_id=establishment_id, permission=p
        )
        return establishment

    # -- messages -----------------------------------------------------------------------------

    def _write(
        self,
        uow: LicenseUnitOfWork,
        step: Step,
        *,
        before: License | None,
    ) -> tuple[License, tuple[Message, ...]]:
        """Store the step's license and the messages it sends, in the caller's unit of work.

        A member whose account or membership is deactivated is told nothing; what goes to
        others stays: the desk's copies, and a late activation's report to whoever
        requested it.
        """
        if before is None:
            uow.licenses.add(step.license)
            stored = step.license
        elif step.license == before:
            return before, ()
        else:
            stored = uow.licenses.update(step.license)
        sent: list[Message] = []
        if not step.messages:
            return stored, ()
        holder = _find_user(uow, stored.user_id)
        membership = uow.memberships.find(stored.establishment_id, stored.user_id)
        notify = (
            holder is not None
            and holder.is_active
            and membership is not None
            and membership.is_active
        )
        establishment = uow.establishments.get(stored.establishment_id)
        for kind in step.messages:
            for key, recipient in self._recipients(uow, kind, stored, holder, notify=notify):
                message = self._message(kind, key, recipient, stored, holder, establishment)
                uow.outbox.add(message)
                sent.append(message)
        return stored, tuple(sent)

    def _recipients(
        self,
        uow: LicenseUnitOfWork,
        kind: MessageKind,
        stored: License,
        holder: User | None,
        *,
        notify: bool,
    ) -> list[tuple[str, str]]:
        base = f"license:{stored.establishment_id}:{stored.user_id}:v{stored.version}:{kind}"
        chosen: list[tuple[str, str]] = []
        desk = self.settings.desk_address
        if kind is MessageKind.LICENSE_REQUESTED:
            return [(base, desk)] if desk else []
        if kind is MessageKind.LICENSE_ACTIVATION_LATE:
            record = stored.pending or stored.activation
            requester = None if record is None else _find_user(uow, record.requested_by)
            if requester is not None and requester.is_active:
                chosen.append((base, requester.email.address))
            elif holder is not None and holder.is_active:
                chosen.append((base, holder.email.address))
            if desk:
                chosen.append((f"{base}:desk", desk))
            return chosen
        if notify and holder is not None:  # notify: the holder and membership are active
            chosen.append((base, holder.email.address))
        return chosen

    def _message(  # noqa: PLR0917 - private, one call site
        self,
        kind: MessageKind,
        key: str,
        recipient: str,
        stored: License,
        holder: User | None,
        establishment: Establishment,
    ) -> Message:
        now = self.clock.now()
        params: dict[str, str] = {
            "establishment": establishment.name,
            "license_kind": str(stored.kind),
            "status": str(stored.status),
        }
        if holder is not None:
            params |= {
                "first_name": holder.first_name,
                "last_name": holder.last_name,
                "login": holder.login.display,
            }
        last = policy.last_day(stored, self.settings)
        if last is not None:
            params["last_day"] = last.isoformat()
        record = stored.pending or stored.activation
        if record is not None:
            params |= {
                "identifier_kind": record.identifier_kind,
                "identifier": record.identifier,
                "practice": record.practice,
            }
            if kind is MessageKind.LICENSE_ACTIVATION_LATE and record.activation_due_at:
                due = policy.local_day(record.activation_due_at, self.settings) - _ONE_DAY
                params["activation_due"] = due.isoformat()  # the last day, as last_day
        return Message(
            id=self.new_message_id(),
            kind=kind,
            recipient=recipient,
            locale=self.locales.get(establishment.product, "fr-BE"),
            idempotency_key=key,
            created_at=now,
            next_attempt_at=now,
            params=params,
            user_id=stored.user_id,
        )

    # -- kinds and professions (E3, E4) -------------------------------------------------------

    def _pays(self, uow: LicenseUnitOfWork, establishment: Establishment, user_id: UserId) -> bool:
        practitioner = uow.practitioners.find(user_id)
        if practitioner is None:
            return False
        rules = self.profession_rules.get(establishment.product, ProfessionRules(()))
        return rules.rule(practitioner.profession, practitioner.country).pays_license

    def _check_kind(
        self,
        uow: LicenseUnitOfWork,
        establishment: Establishment,
        user_id: UserId,
        kind: LicenseKind,
    ) -> None:
        if kind not in self.kinds.get(establishment.product, frozenset()):
            raise _rejected(
                "kind", "license.kind_not_offered", "this product does not offer this kind"
            )
        if kind.paying != self._pays(uow, establishment, user_id):
            raise _rejected(
                "kind",
                "license.kind_mismatch",
                "paying professions hold physician or locum licenses, others staff (E3)",
            )

    # -- the practice's side ------------------------------------------------------------------

    @audited("license.provision", target_type="license")
    def provision(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        kind: LicenseKind | str | None = None,
    ) -> License:
        """Give a member their license: call it when a member is added or their profession set.

        Without ``kind`` the profession decides (E3): a paying profession gets a
        provisional ``physician`` license for 45 days (E1), anyone else a free ``staff``
        license. A ``kind`` (locum, E4) needs ``licenses.manage``. Idempotent: a member
        who has a license keeps it, unchanged.

        Raises:
            PermissionDenied: ``users.create`` (or ``licenses.manage``) missing.
            MembershipNotFound, LicenseRejected (``license.kind_not_offered``,
            ``license.kind_mismatch``, ``license.invalid_kind``).
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        chosen = None if kind is None else _kind(kind)

        def attempt() -> License:
            with self.unit_of_work() as uow:
                permission = (
                    Permission.USERS_CREATE if chosen is None else Permission.LICENSES_MANAGE
                )
                establishment = self._authorize(uow, actor, establishment_id, permission)
                uow.memberships.get(establishment_id, user_id)
                found = uow.licenses.find(establishment_id, user_id)
                if found is not None:  # kept unchanged: no write, no new version
                    self._audit(uow, "license.provision", actor=actor, before=found, stored=found)
                    uow.commit()
                    return found
                if chosen is None:
                    paying = self._pays(uow, establishment, user_id)
                    wanted = LicenseKind.PHYSICIAN if paying else LicenseKind.STAFF
                else:
                    wanted = chosen
                self._check_kind(uow, establishment, user_id, wanted)
                step = policy.provision(
                    establishment_id, user_id, wanted, now=self.clock.now(), settings=self.settings
                )
                stored, _ = self._write(uow, step, before=None)
                self._audit(uow, "license.provision", actor=actor, before=None, stored=stored)
                uow.commit()
            return stored

        return self._run(attempt)

    @audited("license.set_kind", target_type="license")
    def set_kind(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        kind: LicenseKind | str,
    ) -> License:
        """Change a member's license kind: physician, locum, staff (E4).

        Needs ``licenses.manage``; refused while an activation is in progress. A license
        made free keeps its history; a free license made paying starts its provisional
        45 days, once in its life (E1).

        Raises:
            PermissionDenied, LicenseNotFound, IllegalLicenseTransition, LicenseRejected.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        wanted = _kind(kind)

        def attempt() -> License:
            with self.unit_of_work() as uow:
                establishment = self._authorize(
                    uow, actor, establishment_id, Permission.LICENSES_MANAGE
                )
                before = uow.licenses.get(establishment_id, user_id)
                self._check_kind(uow, establishment, user_id, wanted)
                step = policy.change_kind(before, self.clock.now(), self.settings, kind=wanted)
                stored, _ = self._write(uow, step, before=before)
                self._audit(
                    uow,
                    "license.set_kind",
                    actor=actor,
                    before=before,
                    stored=stored,
                    kind_before=str(before.kind),
                )
                uow.commit()
            return stored

        return self._run(attempt)

    @audited("license.request", target_type="license")
    def request_activation(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> License:
        """Request the license's activation for one term, or its renewal (E2).

        The request names the practitioner, their INAMI number (RPPS in France) and the
        practice, from what is stored; a trainee's line is billed to their supervisor (B4).
        The vendor's desk is told when :attr:`LicenseSettings.desk_address` is set. Needs
        ``licenses.request``.

        Raises:
            LicenseRequestIncomplete: ``missing`` names what to fill in first
                (``practitioner``, ``name``, ``inami``, ``rpps``, ``supervisor``).
            PermissionDenied, LicenseNotFound, IllegalLicenseTransition.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)

        def attempt() -> License:
            with self.unit_of_work() as uow:
                establishment = self._authorize(
                    uow, actor, establishment_id, Permission.LICENSES_REQUEST
                )
                before = uow.licenses.get(establishment_id, user_id)
                membership = uow.memberships.get(establishment_id, user_id)
                now = self.clock.now()
                policy.check(before, policy.Command.REQUEST, now, self.settings)
                asked = self._asked(uow, actor, establishment, membership, before, now)
                step = policy.request(before, now, self.settings, asked=asked)
                stored, _ = self._write(uow, step, before=before)
                self._audit(
                    uow,
                    "license.request",
                    actor=actor,
                    before=before,
                    stored=stored,
                    months=asked.months,
                    bill_to=asked.bill_to,
                )
                uow.commit()
            return stored

        return self._run(attempt)

    def _asked(  # noqa: PLR0917 - private, one call site
        self,
        uow: LicenseUnitOfWork,
        actor: UserId,
        establishment: Establishment,
        membership: Membership,
        seat: License,
        now: datetime,
    ) -> LicenseRequest:
        user = uow.users.get(membership.user_id)
        practitioner = uow.practitioners.find(membership.user_id)
        missing: list[str] = []
        if not user.first_name or not user.last_name:
            missing.append("name")
        identifier_kind, identifier = "inami", ""
        bill_to = membership.user_id
        if practitioner is None:
            missing.insert(0, "practitioner")
        else:
            identifier_kind, identifier = self._identifier(establishment, practitioner, missing)
            if practitioner.requires_supervisor:
                if membership.supervisor is None:
                    missing.append("supervisor")
                else:
                    bill_to = membership.supervisor
        if missing:
            raise LicenseRequestIncomplete(
                user_id=membership.user_id,
                establishment_id=establishment.id,
                missing=tuple(missing),
            )
        return LicenseRequest(
            requested_at=now,
            requested_by=actor,
            kind=seat.kind,
            months=self.settings.term_months,
            first_name=user.first_name,
            last_name=user.last_name,
            identifier_kind=identifier_kind,
            identifier=identifier,
            practice=establishment.name,
            bill_to=bill_to,
        )

    def _identifier(
        self, establishment: Establishment, practitioner: Practitioner, missing: list[str]
    ) -> tuple[str, str]:
        """The number the request names: the one the profession requires (E2, B2, B3).

        INAMI in Belgium, RPPS in France; a profession that requires none (a Belgian
        veterinarian) names the first number it carries, or none.
        """
        rules = self.profession_rules.get(establishment.product, ProfessionRules(()))
        required = rules.rule(practitioner.profession, practitioner.country).required
        carried = practitioner.identifiers
        for group in required:
            found = next((kind for kind in group if kind in carried), None)
            if found is None:
                missing.append(group[0])
                return group[0], ""
            return found, carried[found]
        for kind in ("inami", "rpps", "adeli"):
            if kind in carried:
                return kind, carried[kind]
        return "", ""

    @audited("license.withdraw", target_type="license")
    def withdraw(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> License:
        """Withdraw a request before it is paid; the license returns to where it was.

        A requested license needs ``licenses.request``; an invoiced one the desk's
        ``licenses.administer`` instead, since the invoice must be voided.

        Raises:
            PermissionDenied, LicenseNotFound, IllegalLicenseTransition.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)

        def attempt() -> License:
            with self.unit_of_work() as uow:
                before = uow.licenses.find(establishment_id, user_id)
                invoiced = before is not None and before.status is LicenseStatus.INVOICED
                needed = Permission.LICENSES_ADMINISTER if invoiced else Permission.LICENSES_REQUEST
                self._authorize(uow, actor, establishment_id, needed)
                before = uow.licenses.get(establishment_id, user_id)
                step = policy.withdraw(before, self.clock.now(), self.settings)
                stored, _ = self._write(uow, step, before=before)
                self._audit(uow, "license.withdraw", actor=actor, before=before, stored=stored)
                uow.commit()
            return stored

        return self._run(attempt)

    # -- the vendor's desk (E2) -------------------------------------------------------------

    def preview_invoice(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_ids: Iterable[UserId] | None = None,
    ) -> InvoiceRequest:
        """Return the invoice request for the establishment's requested licenses; write nothing.

        Needs ``licenses.administer``. Raises as :meth:`invoice`.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        with self.unit_of_work() as uow:
            establishment = self._authorize(
                uow, actor, establishment_id, Permission.LICENSES_ADMINISTER
            )
            chosen = self._to_invoice(uow, establishment, _user_ids(user_ids))
            return self._invoice_request(establishment, chosen, number=None, issued_at=None)

    @audited("license.invoice", target_type="invoice", target="invoice_number")
    def invoice(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        invoice_number: str,
        user_ids: Iterable[UserId] | None = None,
    ) -> InvoiceRequest:
        """Put the establishment's requested licenses (or those of ``user_ids``) on an invoice.

        Returns the :class:`~practiceid.InvoiceRequest` the host turns into its invoice,
        one line per license naming its INAMI number (E2), priced from :attr:`prices`; a
        trainee's line is billed to their supervisor (B4). Free licenses are never on one.
        Needs ``licenses.administer``.

        Raises:
            LicenseRejected: ``license.invalid_invoice_number`` (1 to 64 letters, digits,
                ``.``, ``_``, ``/``, ``-``), ``license.invoice_number_used`` (given
                before, ever: even when that invoice's requests were withdrawn since),
                ``license.nothing_to_invoice``.
            IllegalLicenseTransition: one of ``user_ids`` is not requested.
            InvalidConfiguration: no price for a kind, or prices in two currencies.
            PermissionDenied, LicenseNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        number: object = invoice_number  # typed str, but it comes from a form
        if not isinstance(number, str) or not _INVOICE_NUMBER.fullmatch(number):
            raise _rejected(
                "invoice_number",
                "license.invalid_invoice_number",
                "1 to 64 letters, digits, '.', '_', '/' or '-'",
            )
        wanted = _user_ids(user_ids)

        def attempt() -> InvoiceRequest:
            with self.unit_of_work() as uow:
                establishment = self._authorize(
                    uow, actor, establishment_id, Permission.LICENSES_ADMINISTER
                )
                now = self.clock.now()
                # Reserved for good, atomically: two desks giving one number at once in two
                # establishments (many licenses share a number) cannot both commit, and a
                # number stays used once its licenses leave it (continuous numbering).
                try:
                    uow.licenses.reserve_invoice(
                        invoice_number, establishment_id=establishment.id, issued_at=now
                    )
                except DuplicateRecord:  # entity "invoice", the port's only refusal here
                    # Final: _run reruns "license" duplicates only, and this is no longer one.
                    raise _rejected(
                        "invoice_number",
                        "license.invoice_number_used",
                        "this invoice number was given before",
                    ) from None
                chosen = self._to_invoice(uow, establishment, wanted)
                request = self._invoice_request(
                    establishment, chosen, number=invoice_number, issued_at=now
                )
                by_user = {line.user_id: line for line in request.lines}
                for before in chosen:
                    line = by_user[before.user_id]
                    step = policy.invoice(
                        before,
                        now,
                        self.settings,
                        number=invoice_number,
                        amount=line.amount,
                        currency=line.currency,
                    )
                    self._write(uow, step, before=before)
                self.auditor.record(
                    uow,
                    "license.invoice",
                    actor=actor,
                    establishment_id=establishment.id,
                    target_type="invoice",
                    target_id=invoice_number,
                    details={
                        "licenses": len(request.lines),
                        "total": str(request.total),
                        "currency": request.currency,
                    },
                )
                uow.commit()
            return request

        return self._run(attempt)

    def _to_invoice(
        self,
        uow: LicenseUnitOfWork,
        establishment: Establishment,
        user_ids: Iterable[UserId] | None,
    ) -> list[License]:
        now = self.clock.now()
        if user_ids is None:
            chosen = [
                lic
                for lic in uow.licenses.list_for_establishment(establishment.id)
                if lic.status is LicenseStatus.REQUESTED
            ]
        else:
            chosen = []
            for user_id in dict.fromkeys(user_ids):
                found = uow.licenses.get(establishment.id, user_id)
                status = policy.status_at(found, now, self.settings)
                if status is not LicenseStatus.REQUESTED:
                    raise IllegalLicenseTransition(
                        status=str(status),
                        command=str(policy.Command.INVOICE),
                        establishment_id=establishment.id,
                        user_id=user_id,
                    )
                chosen.append(found)
        if not chosen:
            raise _rejected(
                "user_ids", "license.nothing_to_invoice", "no requested license to invoice"
            )
        return chosen

    def _invoice_request(
        self,
        establishment: Establishment,
        chosen: Sequence[License],
        *,
        number: str | None,
        issued_at: datetime | None,
    ) -> InvoiceRequest:
        lines = []
        for seat in chosen:
            asked = seat.pending
            assert asked is not None  # noqa: S101 - requested implies it
            price = self.prices.price(establishment.product, asked.kind)
            lines.append(
                InvoiceLine(
                    user_id=seat.user_id,
                    first_name=asked.first_name,
                    last_name=asked.last_name,
                    identifier_kind=asked.identifier_kind,
                    identifier=asked.identifier,
                    kind=asked.kind,
                    months=asked.months,
                    amount=price.for_months(asked.months),
                    currency=price.currency,
                    bill_to=asked.bill_to,
                )
            )
        if len({line.currency for line in lines}) > 1:
            raise InvalidConfiguration(
                "one invoice has one currency", field="prices", product=establishment.product
            )
        return InvoiceRequest(
            establishment_id=establishment.id,
            practice=establishment.name,
            product=establishment.product,
            lines=lines,
            invoice_number=number,
            issued_at=issued_at,
        )

    @audited("license.record_payment", target_type="invoice", target="invoice_number")
    def record_payment(
        self, *, actor: UserId, invoice_number: str, paid_at: datetime | None = None
    ) -> tuple[License, ...]:
        """Record that invoice ``invoice_number`` was paid at ``paid_at`` (now by default).

        Each of its licenses is then ``paid``: it allows everything an active one does,
        and its activation is due within one month (E2). The vendor's desk only (staff).

        Raises:
            LicenseRejected: ``license.unknown_invoice``, ``license.paid_at_invalid``
                (not an aware datetime, in the future, or before the invoice).
            PermissionDenied, IllegalLicenseTransition (already paid).
        """
        _require_ids(actor=actor)
        self._desk(actor)
        received: object = paid_at  # typed, but it comes from a form
        if received is not None and (
            not isinstance(received, datetime) or received.utcoffset() is None
        ):
            raise _rejected("paid_at", "license.paid_at_invalid", "an aware datetime")
        number: object = invoice_number

        def attempt() -> tuple[License, ...]:
            with self.unit_of_work() as uow:
                on_invoice = uow.licenses.with_invoice(number) if isinstance(number, str) else ()
                if not on_invoice:
                    raise _rejected(
                        "invoice_number", "license.unknown_invoice", "no license is on this invoice"
                    )
                # Its licenses still waiting for payment; an activated one keeps the number.
                waiting = [
                    lic
                    for lic in on_invoice
                    if lic.pending is not None and lic.pending.invoice_number == number
                ]
                if not waiting:  # every license of it was paid already
                    first = on_invoice[0]
                    raise IllegalLicenseTransition(
                        status=str(policy.status_at(first, self.clock.now(), self.settings)),
                        command=str(policy.Command.RECORD_PAYMENT),
                        establishment_id=first.establishment_id,
                        user_id=first.user_id,
                    )
                on_invoice = waiting
                now = self.clock.now()
                when = now if paid_at is None else paid_at
                stored = []
                for before in on_invoice:
                    step = policy.record_payment(before, now, self.settings, paid_at=when)
                    stored.append(self._write(uow, step, before=before)[0])
                # One event for the one payment, in its establishment's chain (an invoice
                # number belongs to one establishment: reserve_invoice).
                for place in dict.fromkeys(lic.establishment_id for lic in stored):
                    self.auditor.record(
                        uow,
                        "license.record_payment",
                        actor=actor,
                        establishment_id=place,
                        target_type="invoice",
                        target_id=number,
                        details={
                            "licenses": sum(1 for lic in stored if lic.establishment_id == place),
                            "paid_at": when.isoformat(),
                        },
                    )
                uow.commit()
            return tuple(stored)

        return self._run(attempt)

    @audited("license.activate", target_type="license")
    def activate(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> License:
        """Activate a paid license for its term; report it when it is late (E2).

        Needs ``licenses.administer``.

        Raises:
            PermissionDenied, LicenseNotFound, IllegalLicenseTransition.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)

        def attempt() -> License:
            with self.unit_of_work() as uow:
                self._authorize(uow, actor, establishment_id, Permission.LICENSES_ADMINISTER)
                before = uow.licenses.get(establishment_id, user_id)
                step = policy.activate(before, self.clock.now(), self.settings)
                stored, _ = self._write(uow, step, before=before)
                self._audit(
                    uow,
                    "license.activate",
                    actor=actor,
                    before=before,
                    stored=stored,
                    late=MessageKind.LICENSE_ACTIVATION_LATE in step.messages,
                )
                uow.commit()
            return stored

        return self._run(attempt)

    def queue(self, *, actor: UserId, status: LicenseStatus | str) -> Sequence[License]:
        """Return every license stored with ``status``, in every establishment.

        The desk's work list (``requested``: to invoice; ``paid``: to activate). Staff only.

        Raises:
            PermissionDenied, LicenseRejected (``license.invalid_status``).
        """
        _require_ids(actor=actor)
        self._desk(actor)
        try:
            wanted = LicenseStatus(status)
        except ValueError:
            wanted = LicenseStatus.SUSPENDED  # refused below, as a status never stored
        if wanted in {LicenseStatus.SUSPENDED, LicenseStatus.UNLICENSED}:
            raise _rejected("status", "license.invalid_status", "not a stored license status")
        with self.unit_of_work() as uow:
            return uow.licenses.with_status(wanted)

    def overdue(self, *, actor: UserId) -> Sequence[License]:
        """Return the paid licenses whose activation is late now, oldest payment first (E2).

        Staff only.

        Raises:
            PermissionDenied.
        """
        now = self.clock.now()
        late = [
            lic
            for lic in self.queue(actor=actor, status=LicenseStatus.PAID)
            if lic.pending is not None
            and lic.pending.activation_due_at is not None
            and lic.pending.activation_due_at <= now
        ]
        return sorted(late, key=lambda lic: (lic.pending.paid_at if lic.pending else None, lic.key))

    # -- reading --------------------------------------------------------------------------

    def _view(
        self,
        uow: LicenseUnitOfWork,
        establishment: Establishment,
        membership: Membership,
        now: datetime,
    ) -> LicenseView:
        user = uow.users.get(membership.user_id)
        seat = uow.licenses.find(establishment.id, membership.user_id)
        if seat is None:
            unlicensed = self._pays(uow, establishment, membership.user_id)
            status = LicenseStatus.UNLICENSED if unlicensed else LicenseStatus.ACTIVE
            return LicenseView(user, membership, None, status, entitled=not unlicensed)
        status = policy.status_at(seat, now, self.settings)
        if not user.is_active or not membership.is_active:
            status = LicenseStatus.SUSPENDED
        due = None
        if seat.pending is not None and seat.pending.activation_due_at is not None:
            due = policy.local_day(seat.pending.activation_due_at, self.settings) - _ONE_DAY
        return LicenseView(
            user,
            membership,
            seat,
            status,
            entitled=policy.entitled(seat, now),
            last_day=policy.last_day(seat, self.settings),
            activation_due=due,
        )

    def license(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> LicenseView:
        """Return a member's license as shown now.

        The member reads their own; others need ``licenses.view``.

        Raises:
            PermissionDenied, MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        with self.unit_of_work() as uow:
            if actor == user_id:
                establishment = uow.establishments.get(establishment_id)
                own = self.access.access_in(uow, actor, establishment)
                if own.denial is not None:  # deactivated, or not a member (A6)
                    raise Decision(
                        allowed=False, reason=own.denial, permission=None, actor=actor
                    ).error()
            else:
                establishment = self._authorize(
                    uow, actor, establishment_id, Permission.LICENSES_VIEW
                )
            membership = uow.memberships.get(establishment_id, user_id)
            return self._view(uow, establishment, membership, self.clock.now())

    def licenses(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        status: LicenseStatus | str | None = None,
    ) -> Sequence[LicenseView]:
        """Return the establishment's members with their license as shown now.

        Only those with ``status``, when given. Needs ``licenses.view``.

        Raises:
            PermissionDenied, LicenseRejected (``license.invalid_status``).
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        wanted = None
        if status is not None:
            try:
                wanted = LicenseStatus(status)
            except ValueError:
                raise _rejected(
                    "status", "license.invalid_status", "unknown license status"
                ) from None
        now = self.clock.now()
        with self.unit_of_work() as uow:
            establishment = self._authorize(uow, actor, establishment_id, Permission.LICENSES_VIEW)
            views = [
                self._view(uow, establishment, membership, now)
                for membership in uow.memberships.list_for_establishment(establishment_id)
            ]
        return [v for v in views if wanted is None or v.status is wanted]

    def access_for(self, user_id: UserId, establishment_id: EstablishmentId) -> Access:
        """Return what ``user_id`` may do in the establishment, with their license applied.

        :meth:`AccessService.access <practiceid.AccessService.access>`, then the licensed
        permissions (:attr:`LicenseSettings.licensed`) withheld unless the license allows
        them now: :func:`~practiceid.decide` then answers ``license_required`` with the
        license's status (docs/licenses.md). A member whose profession pays and who has no
        license is ``unlicensed``; members of other professions without one are not
        restricted.

        Raises:
            EstablishmentNotFound, AccessRejected (ids that are not text).
        """
        _require_ids(user_id=user_id, establishment_id=establishment_id)
        with self.unit_of_work() as uow:
            establishment = uow.establishments.get(establishment_id)
            base = self.access.access_in(uow, user_id, establishment)
            if base.denial is not None:
                return base
            seat = uow.licenses.find(establishment_id, user_id)
            if seat is None:
                if not self._pays(uow, establishment, user_id):
                    return base
                status, allowed = LicenseStatus.UNLICENSED, False
            else:
                now = self.clock.now()
                status = policy.status_at(seat, now, self.settings)
                allowed = policy.entitled(seat, now)
        return restrict_to_license(
            base, status=str(status), allowed=allowed, licensed=self.settings.licensed
        )

    # -- the sweep ----------------------------------------------------------------------------

    def run_due(self, now: datetime | None = None) -> LicenseSweepReport:
        """Send due notices, expire ended windows, report late activations (E1, E2).

        Idempotent, in proportion to what is due (an indexed ``due_at``), and safe to run
        from several workers at once, as :meth:`~practiceid.OnboardingService.run_due`.
        A deactivated member's license keeps its calendar (the window ends on its day) but
        sends them nothing; a late activation is reported to whoever requested it.

        Each license it moves on records one audit event, without actor, with the change:
        ``license.expire``, else ``license.notice``, else ``license.activation_late``
        (``activation_late`` in its details says whether the step also reported a late
        activation). The sweep is no command: a license only rescheduled, or left as it
        was, records nothing.
        """
        moment: object = self.clock.now() if now is None else now
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise _rejected("now", "license.invalid_now", "an aware datetime")
        at = moment
        notified: list[tuple[EstablishmentId, UserId]] = []
        expired: list[tuple[EstablishmentId, UserId]] = []
        late: list[tuple[EstablishmentId, UserId]] = []
        buckets = {
            MessageKind.LICENSE_EXPIRING: notified,
            MessageKind.LICENSE_EXPIRED: expired,
            MessageKind.LICENSE_ACTIVATION_LATE: late,
        }
        while True:
            with self.unit_of_work() as stored_uow:
                # Events appended chain by chain at the end: no deadlock with a concurrent
                # sweep that writes the same establishments' chains in another order.
                ordered = ChainOrdered(stored_uow)
                uow = cast("LicenseUnitOfWork", ordered)
                due = list(uow.licenses.claim_due(now=at, limit=self.batch_size))
                for before in due:
                    # None: nothing due after all (a store that returned too much): look at
                    # it again only when something is.
                    step = policy.tick(before, at, self.settings) or Step(
                        attrs.evolve(before, due_at=policy.next_due(before, self.settings))
                    )
                    stored, sent = self._write(uow, step, before=before)
                    if step.messages:
                        self._audit(
                            uow,
                            _sweep_action(step.messages),
                            actor=None,
                            before=before,
                            stored=stored,
                            sweep=True,
                            notices_sent=stored.notices_sent,
                            activation_late=MessageKind.LICENSE_ACTIVATION_LATE in step.messages,
                            messages=len(sent),
                        )
                    told = {m.kind for m in sent}
                    for kind in step.messages:
                        if kind in told or kind is not MessageKind.LICENSE_EXPIRING:
                            buckets[kind].append(before.key)
                ordered.flush()
                stored_uow.commit()
            if len(due) < self.batch_size:
                break
        return LicenseSweepReport(tuple(notified), tuple(expired), tuple(late))


_ONE_DAY = timedelta(days=1)


def _sweep_action(messages: Iterable[MessageKind]) -> str:
    """The audit action of a sweep's step: what it did that matters most."""
    done = set(messages)
    if MessageKind.LICENSE_EXPIRED in done:
        return "license.expire"
    if MessageKind.LICENSE_EXPIRING in done:
        return "license.notice"
    return "license.activation_late"


def _user_ids(raw: object) -> tuple[UserId, ...] | None:
    """``user_ids`` as given to the invoice use cases: None, or an iterable of ids."""
    if raw is None:
        return None
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raise _rejected("user_ids", "license.invalid_user_ids", "a list of user ids")
    ids = tuple(raw)
    for user_id in ids:
        _require_ids(user_id=user_id)
    return tuple(dict.fromkeys(UserId(i) for i in ids))


def _find_user(uow: LicenseUnitOfWork, user_id: UserId) -> User | None:
    try:
        return uow.users.get(user_id)
    except UserNotFound:
        return None
