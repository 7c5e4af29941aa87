"""The profile service: names, initials, practitioners, trainees, billing, establishment profile.

Built on :class:`~practiceid.AccessService`: every use case decides with it in the unit of
work that then writes (A7, B1-B6, C7). Who may change what:

=====================================  ============================================  =========
use case                               permission                                    scope
=====================================  ============================================  =========
rename, practitioner data, settings    ``users.edit_profile``                        account
billing data                           ``payments.manage_billing``                   account
initials, supervisor, hand-over        ``users.edit_profile``                        establishment
establishment profile, logo            ``establishment.edit_profile``                establishment
shared trainee account                 ``payments.manage_billing``                   establishment
=====================================  ============================================  =========

"Account" scope is :meth:`AccessService.require`'s rule: the person themselves (these are
``self_service`` permissions), support staff, or the permission in every establishment of the
account with one of them having created it. A trainee sets their own supervisor and initials.

Every command records one audit event (F3), in the establishment's chain when it names
one, otherwise in the platform chain (a person's own data belongs to no establishment): an
allowed command records its success even when it changes nothing (``changed`` is then
``False`` in the event's details), a refused command records a refusal with the error's
code. The events name the fields that changed, never their values: no identifier, bank
account or certificate is copied into the trail. Reads record nothing.

>>> from practiceid import AccessService, ProductKind
>>> from practiceid.adapters import InMemoryStore
>>> from practiceid.testing import ManualClock, sample_user
>>> store = InMemoryStore()
>>> owner = sample_user()
>>> with store.unit_of_work() as uow:
...     uow.users.add(owner)
...     uow.commit()
>>> access = AccessService(unit_of_work=store.unit_of_work, clock=ManualClock())
>>> profiles = ProfileService(access=access)
>>> group = access.found_organisation(owner=owner.id, name="Cabinet du Parc")
>>> practice = access.open_establishment(
...     actor=owner.id,
...     organisation_id=group.id,
...     name="Cabinet du Parc",
...     product=ProductKind.GENERAL_PRACTICE,
... )
>>> gp = access.add_member(
...     actor=owner.id,
...     establishment_id=practice.id,
...     email="a.peeters@cabinet-exemple.be",
...     roles=["physician"],
...     first_name="Anne",
...     last_name="Peeters",
... )
>>> gp.membership.initials
'AP'
>>> practitioner = profiles.save_practitioner(
...     actor=owner.id,
...     establishment_id=practice.id,
...     user_id=gp.user.id,
...     profession="general_practitioner",
...     country="BE",
...     identifiers={"inami": "1-23456-25-003"},
...     addresses=[
...         {
...             "street": "Rue du Parc 1",
...             "postal_code": "5000",
...             "city": "Namur",
...             "email": "a.peeters@cabinet-exemple.be",
...             "phone": "081 22 33 44",
...         }
...     ],
... )
>>> practitioner.is_recognised_general_practitioner, practitioner.workplace.phone
(True, '+3281223344')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, TypedDict

import attrs

from practiceid._text import clean_name
from practiceid.access import (
    AccessService,
    _release_supervisor,
    _require_ids,
    _retried,
    active_trainees,
    clean_initials,
    initials_for,
)
from practiceid.audit import DetailValue
from practiceid.auditing import Auditor, NoRequestContext, audited
from practiceid.authorization import Access, Decision, Reason, decide
from practiceid.errors import (
    BillingIncomplete,
    EmailRejected,
    EstablishmentProfileRejected,
    InvalidIdentifier,
    PractitionerRejected,
    Rejected,
    UserNotFound,
    Violation,
)
from practiceid.establishment_profiles import EstablishmentProfile, ReportHeader
from practiceid.establishments import Establishment, EstablishmentId, ProductKind
from practiceid.memberships import Membership
from practiceid.permissions import Permission
from practiceid.policies import contact
from practiceid.policies.contact import Address, AddressKind, Problem
from practiceid.policies.ehealth import read_certificate
from practiceid.policies.identifiers import adeli, bce, finess, iban, inami, niss, rpps
from practiceid.policies.identifiers.adeli import AdeliNumber
from practiceid.policies.identifiers.iban import BelgianIban
from practiceid.policies.identifiers.inami import InamiNumber
from practiceid.policies.identifiers.niss import NissNumber
from practiceid.policies.identifiers.rpps import RppsNumber
from practiceid.policies.logo import check_logo
from practiceid.policies.professions import (
    IDENTIFIER_KINDS,
    PROFESSION_RULES,
    Profession,
    ProfessionRules,
)
from practiceid.ports.audit import RequestContext
from practiceid.ports.establishments import AccessUnitOfWork, AccessUnitOfWorkFactory
from practiceid.practitioners import (
    BillingData,
    BillingIdentity,
    EdmgRegistration,
    EHealthCertificate,
    HubRegion,
    Mutuality,
    Practitioner,
    PractitionerSettings,
    resolve_billing,
)
from practiceid.users import User, UserId, clean_profile

__all__ = ["ProfileService"]

_ADDRESS_FIELDS: Final = frozenset(
    {"kind", "street", "postal_code", "city", "country", "email", "phone"}
)
_MAX_STREET: Final = 200
_MAX_CITY: Final = 100
_MAX_ADDRESSES: Final = 10
_MAX_KEY: Final = 40

_Change = Callable[[Practitioner], Practitioner]

# Never named as a change: bookkeeping, or the record's own key.
_UNAUDITED: Final = frozenset(
    {"version", "created_at", "updated_at", "user_id", "establishment_id"}
)
# Named field by field (``billing.iban``, ``settings.hub_region``).
_NESTED: Final = frozenset({"settings", "billing"})


class _Numbers(TypedDict, total=False):
    inami: InamiNumber
    niss: NissNumber
    rpps: RppsNumber
    adeli: AdeliNumber


_ProfileChange = Callable[[EstablishmentProfile], EstablishmentProfile]


def _violations(problems: Iterable[Problem], field: str) -> list[Violation]:
    return [Violation(code, message, field, params) for code, message, params in problems]


def _refield(error: Rejected, field: str) -> list[Violation]:
    return [attrs.evolve(v, field=field) for v in error.violations]


def _text(
    raw: object, field: str, *, prefix: str, required: bool, max_length: int
) -> tuple[str, list[Violation]]:
    """Clean free text; codes are ``<prefix>.required``, ``.too_long``, ``.not_text``, …."""
    value, problems = clean_name(
        raw, field=field, prefix=prefix, required=required, max_length=max_length
    )
    return value, _violations(problems, field)


def _changes(
    before: attrs.AttrsInstance | None, after: attrs.AttrsInstance, *, prefix: str = ""
) -> list[str]:
    """Name the fields ``after`` changes (``["billing.iban", "country"]``).

    Only names: an audit event never carries a changed value (a NISS, an IBAN). A record
    created from nothing (``before`` is ``None``) names the fields it sets.
    """
    names: list[str] = []
    for field in attrs.fields(type(after)):
        if field.name in _UNAUDITED:
            continue
        new = getattr(after, field.name)
        old = None if before is None else getattr(before, field.name)
        if not prefix and field.name in _NESTED and attrs.has(type(new)):
            names += _changes(old, new, prefix=f"{field.name}.")
        elif new != old and (before is not None or new not in (None, (), "", False)):
            names.append(prefix + field.name)
    return names


def _fields(names: Iterable[str]) -> str:
    """The changed fields as an event's detail: sorted names, comma-separated."""
    return ",".join(sorted(set(names)))


def _optional(raw: object) -> bool:
    """Whether an optional field was left empty (``None`` or blank text)."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


@attrs.frozen(kw_only=True)
class ProfileService:
    """Use cases for names, initials, practitioners and establishment profiles (A7, B1-C7).

    Every command records one audit event (F3). An allowed command records its success in
    its own unit of work, just before it commits, even when it changes nothing (``changed``
    is then ``False`` in the event's details, and nothing else is written: no new version):
    the trail shows every act an actor was allowed, not only those that moved something. A
    creation (new practitioner data, the establishment's first profile) needs no
    ``changed``. A command refused with a :class:`~practiceid.errors.PracticeIdError`
    records one refusal with the error's code; a conflict retried internally is not a
    refusal. Events naming an establishment go to its chain, a person's own data
    (names, settings, billing) to the platform chain. Details name the fields that changed,
    never their values. Reads record nothing.

    Args:
        access: the :class:`~practiceid.AccessService` that decides who may do what; its
            unit of work, clock and e-mail policy are used.
        profession_rules: what each profession requires, per product
            (:data:`~practiceid.PROFESSION_RULES` by default).
        require_known_bank: refuse a Belgian IBAN whose bank code has no known BIC, instead
            of accepting it with an ``iban.bic_unknown`` notice.
        request_context: tells the audit trail the peer address and request id of the
            request being served (:class:`~practiceid.auditing.NoRequestContext` by
            default: none).
    """

    access: AccessService
    profession_rules: Mapping[ProductKind, ProfessionRules] = PROFESSION_RULES
    require_known_bank: bool = False
    request_context: RequestContext = attrs.field(factory=NoRequestContext)

    @property
    def auditor(self) -> Auditor:
        """Records this service's audit events, dated by the access service's clock (F3)."""
        return Auditor(self.access.clock, self.request_context)

    @property
    def unit_of_work(self) -> AccessUnitOfWorkFactory:
        """The access service's unit of work, where the audit events are recorded too."""
        return self.access.unit_of_work

    @property
    def retries(self) -> int:
        """How many times a use case runs when a concurrent change made it stale."""
        return self.access.retries

    # -- reads ------------------------------------------------------------------------------

    def practitioner(self, *, actor: UserId, user_id: UserId) -> Practitioner:
        """Return the user's practitioner data.

        Readable by the person, support staff, and members holding ``users.view`` in an
        establishment the person belongs to.

        Raises:
            PermissionDenied, PractitionerNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        with self.access.unit_of_work() as uow:
            self._may_view(uow, actor, user_id)
            return uow.practitioners.get(user_id)

    def establishment_profile(
        self, *, actor: UserId, establishment_id: EstablishmentId
    ) -> EstablishmentProfile | None:
        """Return the establishment's profile (C7), or ``None`` before one is saved.

        Raises:
            PermissionDenied: the actor has no access there. EstablishmentNotFound.
        """
        return self._read_profile(actor, establishment_id)[1]

    def report_header(self, *, actor: UserId, establishment_id: EstablishmentId) -> ReportHeader:
        """Return what a PDF report of the establishment prints in its header (C7).

        Raises:
            PermissionDenied: the actor has no access there. EstablishmentNotFound.
        """
        establishment, profile = self._read_profile(actor, establishment_id)
        if profile is None:
            return ReportHeader(establishment.name, (), None, None, (), None)
        return profile.report_header(establishment.name)

    def _read_profile(
        self, actor: UserId, establishment_id: EstablishmentId
    ) -> tuple[Establishment, EstablishmentProfile | None]:
        _require_ids(actor=actor, establishment_id=establishment_id)
        establishment = self.access.establishment(actor=actor, establishment_id=establishment_id)
        with self.access.unit_of_work() as uow:
            return establishment, uow.establishment_profiles.find(establishment.id)

    def billing_identity(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId
    ) -> BillingIdentity:
        """Return whose account, BIC and enterprise number the member bills with (B4, B6).

        A trainee bills with their supervisor's, on the practice's shared trainee account
        when it has one. Readable by the member and by holders of ``payments.view``.

        Raises:
            BillingIncomplete: ``missing`` names what to fill in first.
            PermissionDenied, MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        with self.access.unit_of_work() as uow:
            self._acting_on_member(uow, actor, establishment_id, user_id, Permission.PAYMENTS_VIEW)
            membership = uow.memberships.get(establishment_id, user_id)
            practitioner = uow.practitioners.find(user_id)
            if practitioner is None:
                raise BillingIncomplete(
                    user_id=user_id, establishment_id=establishment_id, missing=("practitioner",)
                )
            supervisor = (
                uow.practitioners.find(membership.supervisor)
                if membership.supervisor is not None and practitioner.requires_supervisor
                else None
            )
            profile = uow.establishment_profiles.find(establishment_id)
            return resolve_billing(
                practitioner,
                establishment_id=establishment_id,
                supervisor=supervisor,
                trainee_account=profile.trainee_account if profile is not None else None,
            )

    def pays_license(self, *, establishment_id: EstablishmentId, user_id: UserId) -> bool:
        """Whether the member's profession pays for a license in this establishment (E3).

        ``False`` for a member without practitioner data. For the licenses service.

        Raises:
            EstablishmentNotFound.
        """
        _require_ids(establishment_id=establishment_id, user_id=user_id)
        with self.access.unit_of_work() as uow:
            establishment = uow.establishments.get(establishment_id)
            practitioner = uow.practitioners.find(user_id)
        if practitioner is None:
            return False
        rules = self._rules(establishment)
        return rules.rule(practitioner.profession, practitioner.country).pays_license

    def trainees(
        self, *, actor: UserId, establishment_id: EstablishmentId, supervisor: UserId
    ) -> Sequence[Membership]:
        """Return the active trainees ``supervisor`` supervises in the establishment (B4).

        Raises:
            PermissionDenied: the actor lacks ``users.view`` there.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, supervisor=supervisor)
        with self.access.unit_of_work() as uow:
            self.access.authorize(
                uow,
                actor=actor,
                establishment_id=establishment_id,
                permission=Permission.USERS_VIEW,
            )
            return active_trainees(uow, establishment_id, supervisor)

    # -- names and initials (A7) ------------------------------------------------------------

    @audited("profile.rename")
    @_retried
    def rename(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        first_name: str,
        last_name: str,
        job_title: str = "",
    ) -> User:
        """Change the user's first and last name and job title ("fonction", A7).

        Initials are not changed: they were chosen once and others know them; change them
        with :meth:`set_initials`.

        Raises:
            ProfileRejected, PermissionDenied, UserNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        first, last, title = clean_profile(
            first_name=first_name, last_name=last_name, job_title=job_title
        )
        with self.access.unit_of_work() as uow:
            self.access.authorize_account(
                uow, actor=actor, permission=Permission.USERS_EDIT_PROFILE, user_id=user_id
            )
            user = uow.users.get(user_id)
            renamed = attrs.evolve(user, first_name=first, last_name=last, job_title=title)
            changed = renamed != user
            stored = uow.users.update(renamed) if changed else user  # unchanged: no new version
            self.auditor.record(
                uow,
                "profile.rename",
                actor=actor,
                target_type="user",
                target_id=user_id,
                details={"fields": _fields(_changes(user, renamed)), "changed": changed},
            )
            uow.commit()
            return stored

    @audited("member.set_initials")
    @_retried
    def set_initials(
        self, *, actor: UserId, establishment_id: EstablishmentId, user_id: UserId, initials: str
    ) -> Membership:
        """Give the member other initials, unique within the establishment (A7).

        Raises:
            DuplicateInitials: another member has them; ``suggestion`` is the nearest free
                alternative.
            ProfileRejected: not one to eight letters or digits.
            PermissionDenied: the actor lacks ``users.edit_profile`` there (members may
                change their own). MembershipNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id, user_id=user_id)
        wanted = clean_initials(initials)
        with self.access.unit_of_work() as uow:
            self._acting_on_member(
                uow, actor, establishment_id, user_id, Permission.USERS_EDIT_PROFILE
            )
            membership = uow.memberships.get(establishment_id, user_id)
            changed = membership.initials != wanted
            stored = membership  # unchanged: no write, no new version
            if changed:
                initials_for(uow, establishment_id, uow.users.get(user_id), wanted)  # or raise
                stored = uow.memberships.update(membership.with_initials(wanted))
            self.auditor.record(
                uow,
                "member.set_initials",
                actor=actor,
                establishment_id=establishment_id,
                target_type="user",
                target_id=user_id,
                details={"fields": "initials" if changed else "", "changed": changed},
            )
            uow.commit()
            return stored

    # -- practitioner data (B1-B4) ----------------------------------------------------------

    @audited("practitioner.save")
    @_retried
    def save_practitioner(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        profession: Profession | str,
        country: str,
        identifiers: Mapping[str, object] | None = None,
        addresses: Iterable[Mapping[str, object] | Address] = (),
        supervisor: UserId | None = None,
        supervisors: Mapping[EstablishmentId, UserId] | None = None,
    ) -> Practitioner:
        """Create or replace the member's practitioner data (B1-B4).

        ``identifiers`` maps kinds (``inami``, ``niss``, ``rpps``, ``adeli``) to numbers in
        any written form. ``addresses`` are mappings with ``kind`` (``workplace`` by
        default), ``street``, ``postal_code``, ``city``, ``country`` (the practitioner's by
        default), ``email`` and ``phone``. What the profession requires comes from the
        establishment's product rules: identifiers (B2, B3), a workplace address with e-mail
        and phone (B1). Settings and billing data are kept.

        A trainee (an INAMI competence code that ``requires_supervisor``) needs a training
        supervisor in each of their establishments: ``supervisor`` here, ``supervisors`` in
        the others (establishment id → supervisor), or the one already chosen; a supervisor
        must be an active member there and a recognised general practitioner (B4). A
        practitioner who stops being a trainee loses their supervisor links.

        Raises:
            PractitionerRejected: every refused field at once, each naming its field
                (``identifiers.inami``, ``addresses[0].phone``, ``supervisor``, …).
            DuplicateIdentifier: another practitioner holds one of the numbers.
            SupervisesTrainees: the change would make a supervisor of active trainees no
                longer a recognised general practitioner.
            PermissionDenied, MembershipNotFound, EstablishmentNotFound.
        """
        _require_ids(
            actor=actor, establishment_id=establishment_id, user_id=user_id, supervisor=supervisor
        )
        chosen = _supervisor_choices(supervisors)
        if supervisor is not None:
            chosen[establishment_id] = supervisor
        parsed, violations = self._parse_practitioner(profession, country, identifiers, addresses)
        with self.access.unit_of_work() as uow:
            self.access.authorize_account(
                uow, actor=actor, permission=Permission.USERS_EDIT_PROFILE, user_id=user_id
            )
            establishment = uow.establishments.get(establishment_id)
            membership = uow.memberships.get(establishment.id, user_id)
            existing = uow.practitioners.find(user_id)
            if parsed is None:
                raise PractitionerRejected(violations)
            candidate = attrs.evolve(
                parsed,
                user_id=user_id,
                created_at=existing.created_at if existing else self.access.clock.now(),
                settings=existing.settings if existing else PractitionerSettings(),
                billing=existing.billing if existing else BillingData(),
                version=existing.version if existing else 0,
            )
            violations += self._check_rules(establishment, candidate)
            # The establishments whose supervisors may change, read before the supervisors
            # are checked: storing them at these versions serializes with a supervisor's
            # deactivation, also on a database that reads committed data.
            read = {establishment.id: establishment}
            for other in chosen:
                if other not in read and uow.memberships.find(other, user_id) is not None:
                    read[other] = uow.establishments.get(other)
            supervisors_changed, supervisor_violations = self._supervisors(
                uow, candidate, membership, chosen
            )
            violations += supervisor_violations
            if violations:
                raise PractitionerRejected(violations)
            if not candidate.is_recognised_general_practitioner:
                # Only a recognised GP supervises: active trainees block the change, inactive
                # ones are unlinked (B4).
                _release_supervisor(
                    uow,
                    [m.establishment_id for m in uow.memberships.list_for_user(user_id)],
                    user_id,
                )
            stored = (
                uow.practitioners.update(candidate)
                if existing is not None
                else _added(uow, candidate)
            )
            for changed in supervisors_changed:
                uow.memberships.update(changed)
                uow.establishments.update(
                    read.get(changed.establishment_id)
                    or uow.establishments.get(changed.establishment_id)
                )
            details: dict[str, DetailValue] = {
                "created": existing is None,
                "fields": _fields(_changes(existing, candidate)),
                "supervisors_changed": len(supervisors_changed),
            }
            if existing is not None:
                details["changed"] = candidate != existing or bool(supervisors_changed)
            self.auditor.record(
                uow,
                "practitioner.save",
                actor=actor,
                establishment_id=establishment.id,
                target_type="user",
                target_id=user_id,
                details=details,
            )
            uow.commit()
            return stored

    def _parse_practitioner(
        self,
        profession: object,
        country: object,
        identifiers: object,
        addresses: object,
    ) -> tuple[Practitioner | None, list[Violation]]:
        violations: list[Violation] = []
        chosen: Profession | None = None
        try:
            chosen = Profession(profession)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            violations.append(
                Violation(
                    "practitioner.unknown_profession",
                    "the profession is not one of Profession",
                    "profession",
                    {"known": tuple(p.value for p in Profession)},
                )
            )
        place, problems = contact.clean_country(country)
        violations += _violations(problems, "country")
        numbers, problems_ids = self._parse_identifiers(identifiers)
        violations += problems_ids
        parsed_addresses, address_violations = self._parse_addresses(addresses, place)
        violations += address_violations
        if chosen is None or violations:
            return None, violations
        return (
            Practitioner(
                user_id=UserId(""),
                profession=chosen,
                country=place,
                created_at=self.access.clock.now(),
                addresses=parsed_addresses,
                **numbers,
            ),
            [],
        )

    @staticmethod
    def _parse_identifiers(raw: object) -> tuple[_Numbers, list[Violation]]:
        if raw is None:
            return {}, []
        if not isinstance(raw, Mapping):
            return {}, [
                Violation(
                    "identifiers.not_a_mapping",
                    "identifiers map kinds to numbers",
                    "identifiers",
                    {"kinds": IDENTIFIER_KINDS},
                )
            ]
        numbers: _Numbers = {}
        violations: list[Violation] = []
        for kind, number in raw.items():
            known = isinstance(kind, str) and kind in IDENTIFIER_KINDS
            field = f"identifiers.{kind}" if known else "identifiers"
            if not known:
                violations.append(
                    Violation(
                        "identifiers.unknown_kind",
                        "not an identifier a practitioner carries",
                        field,
                        {"kinds": IDENTIFIER_KINDS},
                    )
                )
                continue
            if _optional(number):
                continue
            try:
                if kind == "inami":
                    numbers["inami"] = inami.parse(number)
                elif kind == "niss":
                    numbers["niss"] = niss.parse(number)
                elif kind == "rpps":
                    numbers["rpps"] = rpps.parse(number)
                else:
                    numbers["adeli"] = adeli.parse(number)
            except InvalidIdentifier as error:
                violations += error.for_field(field).violations
        return numbers, violations

    def _parse_addresses(
        self, raw: object, country: str
    ) -> tuple[tuple[Address, ...], list[Violation]]:
        if isinstance(raw, Mapping | Address | str | bytes) or not isinstance(raw, Iterable):
            return (), [
                Violation(
                    "addresses.not_a_list", "addresses are a list of addresses", "addresses", {}
                )
            ]
        items = list(raw)
        if len(items) > _MAX_ADDRESSES:
            return (), [
                Violation(
                    "addresses.too_many",
                    f"at most {_MAX_ADDRESSES} addresses",
                    "addresses",
                    {"max": _MAX_ADDRESSES},
                )
            ]
        parsed: list[Address] = []
        violations: list[Violation] = []
        for index, item in enumerate(items):
            address, problems = self._parse_address(item, f"addresses[{index}]", country)
            violations += problems
            if address is not None:
                parsed.append(address)
        return tuple(parsed), violations

    def _parse_address(
        self, raw: object, field: str, default_country: str, *, kind: AddressKind | None = None
    ) -> tuple[Address | None, list[Violation]]:
        if isinstance(raw, Address):
            raw = {
                "kind": raw.kind,
                "street": raw.street,
                "postal_code": raw.postal_code,
                "city": raw.city,
                "country": raw.country,
                "email": raw.email.address if raw.email else None,
                "phone": raw.phone,
            }
        if not isinstance(raw, Mapping):
            return None, [
                Violation("address.not_a_mapping", "an address is a mapping of fields", field, {})
            ]
        violations: list[Violation] = []
        # Only name-like keys are repeated: a key may be anything, a national number included.
        unknown = sorted(
            k if isinstance(k, str) and k.isidentifier() and len(k) <= _MAX_KEY else "<other>"
            for k in raw
            if k not in _ADDRESS_FIELDS
        )
        if unknown:
            violations.append(
                Violation(
                    "address.unknown_field",
                    "the address has fields it cannot have",
                    field,
                    {"fields": tuple(unknown), "known": tuple(sorted(_ADDRESS_FIELDS))},
                )
            )
        chosen_kind = kind
        if chosen_kind is None:
            try:
                chosen_kind = AddressKind(raw.get("kind", AddressKind.WORKPLACE))
            except (ValueError, TypeError):
                violations.append(
                    Violation(
                        "address.unknown_kind",
                        "the address kind is not one of AddressKind",
                        f"{field}.kind",
                        {"known": tuple(k.value for k in AddressKind)},
                    )
                )
        street, problems = _text(
            raw.get("street"),
            f"{field}.street",
            prefix="address",
            required=True,
            max_length=_MAX_STREET,
        )
        violations += problems
        city, problems = _text(
            raw.get("city"), f"{field}.city", prefix="address", required=True, max_length=_MAX_CITY
        )
        violations += problems
        raw_country = raw.get("country")
        country, country_problems = (
            (default_country, [])
            if _optional(raw_country) and default_country
            else contact.clean_country(raw_country)
        )
        violations += _violations(country_problems, f"{field}.country")
        postal_code, code_problems = contact.clean_postal_code(
            raw.get("postal_code"), country=country
        )
        violations += _violations(code_problems, f"{field}.postal_code")
        email = None
        if not _optional(raw.get("email")):
            try:
                email = self.access.email_policy.parse(raw.get("email"))
            except EmailRejected as error:
                violations += _refield(error, f"{field}.email")
        phone = None
        if not _optional(raw.get("phone")):
            phone, phone_problems = contact.clean_phone(raw.get("phone"), country=country)
            violations += _violations(phone_problems, f"{field}.phone")
        if violations or chosen_kind is None:
            return None, violations
        return (
            Address(
                kind=chosen_kind,
                street=street,
                postal_code=postal_code,
                city=city,
                country=country,
                email=email,
                phone=phone,
            ),
            [],
        )

    def _rules(self, establishment: Establishment) -> ProfessionRules:
        return self.profession_rules.get(establishment.product, ProfessionRules(()))

    def _check_rules(
        self, establishment: Establishment, practitioner: Practitioner
    ) -> list[Violation]:
        rules = self._rules(establishment)
        violations: list[Violation] = []
        if not rules.offers(practitioner.profession):
            violations.append(
                Violation(
                    "practitioner.profession_not_offered",
                    "the establishment's product does not offer this profession",
                    "profession",
                    {
                        "product": establishment.product.value,
                        "offered": tuple(sorted(p.value for p in rules.professions)),
                    },
                )
            )
            return violations
        rule = rules.rule(practitioner.profession, practitioner.country)
        carried = set(practitioner.identifiers)
        violations.extend(
            Violation(
                "practitioner.identifier_required",
                f"this profession needs a number: {' or '.join(group)}",
                f"identifiers.{group[0]}",
                {"kinds": group, "profession": practitioner.profession.value},
            )
            for group in rule.required
            if carried.isdisjoint(group)
        )
        number = practitioner.inami
        if (
            number is not None
            and rule.inami_digits
            and number.profession_digit not in rule.inami_digits
        ):
            violations.append(
                Violation(
                    "practitioner.identifier_mismatch",
                    "this INAMI number belongs to another profession",
                    "identifiers.inami",
                    {
                        "profession": practitioner.profession.value,
                        "expected_first_digits": tuple(sorted(rule.inami_digits)),
                    },
                )
            )
        if rule.workplace_address and practitioner.workplace is None:
            violations.append(
                Violation(
                    "practitioner.workplace_required",
                    "at least one workplace address with an e-mail and a phone is needed",
                    "addresses",
                    {},
                )
            )
        return violations

    def _supervisors(
        self,
        uow: AccessUnitOfWork,
        practitioner: Practitioner,
        membership: Membership,
        chosen: Mapping[EstablishmentId, UserId],
    ) -> tuple[list[Membership], list[Violation]]:
        """Return the memberships whose supervisor changes, or why the choice is refused.

        ``chosen`` maps establishments to the supervisor given there; a trainee keeps the one
        they have where none is given, and needs one in every active membership (B4).
        """
        every = uow.memberships.list_for_user(practitioner.user_id)
        active = {m.establishment_id: m for m in every if m.is_active}
        active.setdefault(membership.establishment_id, membership)
        unknown = sorted(set(chosen) - set(active))
        if unknown:
            return [], [
                Violation(
                    "supervisors.unknown_establishment",
                    "supervisors are chosen in the trainee's own establishments",
                    "supervisors",
                    {"establishments": tuple(unknown)},
                )
            ]
        if not practitioner.requires_supervisor:
            if chosen:
                return [], [
                    Violation(
                        "supervisor.not_a_trainee",
                        "only a trainee has a training supervisor",
                        "supervisor",
                        {},
                    )
                ]
            return [m.with_supervisor(None) for m in every if m.supervisor is not None], []
        changed: list[Membership] = []
        violations: list[Violation] = []
        missing: list[EstablishmentId] = []
        for establishment_id, place in sorted(active.items()):
            supervisor = chosen.get(establishment_id, place.supervisor)
            if supervisor is None:
                missing.append(establishment_id)
                continue
            violations += self._check_supervisor(uow, place, supervisor)
            if supervisor != place.supervisor:
                changed.append(place.with_supervisor(supervisor))
        if missing:
            violations.append(_supervisor_required(*missing))
        return changed, violations

    def _check_supervisor(
        self, uow: AccessUnitOfWork, trainee: Membership, supervisor: UserId
    ) -> list[Violation]:
        def refused(code: str, message: str) -> list[Violation]:
            return [Violation(code, message, "supervisor", {})]

        if supervisor == trainee.user_id:
            return refused("supervisor.self", "a trainee cannot supervise themselves")
        supervisor_membership = uow.memberships.find(trainee.establishment_id, supervisor)
        try:
            user = uow.users.get(supervisor)
        except UserNotFound:
            user = None
        if user is None or supervisor_membership is None:
            return refused("supervisor.not_member", "the supervisor is not a member here")
        if not user.is_active or not supervisor_membership.is_active:
            return refused("supervisor.inactive", "the supervisor is deactivated")
        data = uow.practitioners.find(supervisor)
        if data is None or not data.is_recognised_general_practitioner:
            return refused(
                "supervisor.not_recognised_gp",
                "the supervisor must be a recognised general practitioner",
            )
        return []

    @audited("member.set_supervisor", target="trainee")
    @_retried
    def set_supervisor(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        trainee: UserId,
        supervisor: UserId,
    ) -> Membership:
        """Choose the trainee's training supervisor in the establishment (B4).

        The trainee may choose their own; others need ``users.edit_profile`` there.

        Raises:
            PractitionerRejected: ``supervisor.not_a_trainee``, ``supervisor.self``,
                ``supervisor.not_member``, ``supervisor.inactive``,
                ``supervisor.not_recognised_gp``.
            PermissionDenied, MembershipNotFound.
        """
        _require_ids(
            actor=actor, establishment_id=establishment_id, trainee=trainee, supervisor=supervisor
        )
        with self.access.unit_of_work() as uow:
            establishment, _ = self._acting_on_member(
                uow, actor, establishment_id, trainee, Permission.USERS_EDIT_PROFILE
            )
            membership = uow.memberships.get(establishment.id, trainee)
            data = uow.practitioners.find(trainee)
            if data is None or not data.requires_supervisor:
                raise PractitionerRejected(
                    [
                        Violation(
                            "supervisor.not_a_trainee",
                            "only a trainee has a training supervisor",
                            "supervisor",
                            {},
                        )
                    ]
                )
            violations = self._check_supervisor(uow, membership, supervisor)
            if violations:
                raise PractitionerRejected(violations)
            changed = membership.supervisor != supervisor
            stored = membership  # unchanged: no write, no new version
            if changed:
                stored = uow.memberships.update(membership.with_supervisor(supervisor))
                uow.establishments.update(establishment)  # serializes with deactivations
            self.auditor.record(
                uow,
                "member.set_supervisor",
                actor=actor,
                establishment_id=establishment.id,
                target_type="user",
                target_id=trainee,
                details={
                    "supervisor": supervisor,
                    "previous_supervisor": membership.supervisor,
                    "changed": changed,
                },
            )
            uow.commit()
            return stored

    @audited("member.hand_over_trainees", target="supervisor")
    @_retried
    def hand_over_trainees(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        supervisor: UserId,
        new_supervisor: UserId,
    ) -> Sequence[Membership]:
        """Give every active trainee of ``supervisor`` here to ``new_supervisor`` (B4).

        The step before deactivating a supervisor, which is refused while they have
        trainees (:class:`~practiceid.errors.SupervisesTrainees`).

        Raises:
            PractitionerRejected: the new supervisor does not qualify (as
                :meth:`set_supervisor`).
            PermissionDenied: the actor lacks ``users.edit_profile`` there.
        """
        _require_ids(
            actor=actor,
            establishment_id=establishment_id,
            supervisor=supervisor,
            new_supervisor=new_supervisor,
        )
        with self.access.unit_of_work() as uow:
            establishment, _ = self.access.authorize(
                uow,
                actor=actor,
                establishment_id=establishment_id,
                permission=Permission.USERS_EDIT_PROFILE,
            )
            trainees = active_trainees(uow, establishment.id, supervisor)
            moving = [] if new_supervisor == supervisor else trainees
            for trainee in moving:
                violations = self._check_supervisor(uow, trainee, new_supervisor)
                if violations:
                    raise PractitionerRejected(violations)
            stored = [uow.memberships.update(t.with_supervisor(new_supervisor)) for t in moving]
            if stored:  # nobody handed over: no write, no new version
                uow.establishments.update(establishment)
            self.auditor.record(
                uow,
                "member.hand_over_trainees",
                actor=actor,
                establishment_id=establishment.id,
                target_type="user",
                target_id=supervisor,
                details={
                    "new_supervisor": new_supervisor,
                    "trainees": len(stored),
                    "changed": bool(stored),
                },
            )
            uow.commit()
            return stored if moving else trainees

    # -- settings (B5) ----------------------------------------------------------------------

    @audited("practitioner.set_hub_region")
    @_retried
    def set_hub_region(
        self, *, actor: UserId, user_id: UserId, region: HubRegion | str | None
    ) -> Practitioner:
        """Choose the hub the practitioner is registered with, or none (B5).

        Raises:
            PractitionerRejected: ``settings.unknown_hub_region``.
            PermissionDenied, PractitionerNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        chosen: HubRegion | None = None
        if region is not None:
            try:
                chosen = HubRegion(region)
            except (ValueError, TypeError):
                raise PractitionerRejected(
                    [
                        Violation(
                            "settings.unknown_hub_region",
                            "the hub region is not one of HubRegion",
                            "region",
                            {"known": tuple(r.value for r in HubRegion)},
                        )
                    ]
                ) from None
        return self._change_practitioner(
            "practitioner.set_hub_region",
            actor,
            user_id,
            Permission.USERS_EDIT_PROFILE,
            lambda p: attrs.evolve(p, settings=attrs.evolve(p.settings, hub_region=chosen)),
        )

    @audited("practitioner.register_ehealth_certificate")
    @_retried
    def register_ehealth_certificate(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        certificate: bytes,
        password: str | None = None,
        fetch_messages: bool = False,
    ) -> Practitioner:
        """Record the practitioner's eHealth certificate: its metadata only (B5).

        ``certificate`` is the PKCS#12 keystore with its ``password``, or the X.509
        certificate alone (PEM or DER) without one. The password opens the keystore and is
        dropped; neither it nor the private key is kept. The certificate must be valid now,
        and when it names an INAMI number, it must be the practitioner's.

        Raises:
            PractitionerRejected: ``ehealth.certificate_unreadable`` (also for a wrong
                password), ``ehealth.certificate_expired``,
                ``ehealth.certificate_not_yet_valid``, ``ehealth.certificate_other_holder``.
            PermissionDenied, PractitionerNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        info, problems = read_certificate(certificate, password)
        del password
        if info is None:
            raise PractitionerRejected(_violations(problems, "certificate"))
        serial, issuer, not_before, not_after, fingerprint, nihii = info
        now = self.access.clock.now()

        def register(practitioner: Practitioner) -> Practitioner:
            violations: list[Violation] = []
            if now > not_after:
                violations.append(
                    Violation(
                        "ehealth.certificate_expired",
                        "the certificate has expired",
                        "certificate",
                        {"not_after": not_after.isoformat()},
                    )
                )
            elif now < not_before:
                violations.append(
                    Violation(
                        "ehealth.certificate_not_yet_valid",
                        "the certificate is not valid yet",
                        "certificate",
                        {"not_before": not_before.isoformat()},
                    )
                )
            if nihii is not None and (
                practitioner.inami is None or nihii[:8] != practitioner.inami.person_key
            ):
                violations.append(
                    Violation(
                        "ehealth.certificate_other_holder",
                        "the certificate names another INAMI number",
                        "certificate",
                        {},
                    )
                )
            if violations:
                raise PractitionerRejected(violations)
            record = EHealthCertificate(
                serial_number=serial,
                issuer=issuer,
                not_before=not_before,
                not_after=not_after,
                sha256=fingerprint,
                registered_at=now,
                holder_nihii=nihii,
                fetch_messages=bool(fetch_messages),
            )
            settings = attrs.evolve(practitioner.settings, ehealth=record)
            return attrs.evolve(practitioner, settings=settings)

        return self._change_practitioner(
            "practitioner.register_ehealth_certificate",
            actor,
            user_id,
            Permission.USERS_EDIT_PROFILE,
            register,
        )

    @audited("practitioner.register_edmg")
    @_retried
    def register_edmg(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        accounts: str | Mapping[Mutuality | str, str],
        accept_terms: bool,
    ) -> Practitioner:
        """Register for eDMG, or change its bank accounts (B5, B6).

        ``accounts`` is one IBAN for all seven mutualities, or a mapping from each
        :class:`~practiceid.Mutuality` (or its code, ``"100"``) to an IBAN. Only Belgian
        general practitioners hold global medical records. Registration cannot be undone:
        paper DMGs are then over (source 001).

        Raises:
            PractitionerRejected: ``edmg.terms_not_accepted``, ``edmg.not_eligible``,
                ``edmg.missing_mutuality``, ``edmg.unknown_mutuality``, IBAN refusals
                (field ``accounts`` or ``accounts.<code>``).
            PermissionDenied, PractitionerNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        parsed, violations = self._parse_edmg_accounts(accounts)
        if accept_terms is not True:
            violations.append(
                Violation(
                    "edmg.terms_not_accepted",
                    "the eDMG terms must be accepted",
                    "accept_terms",
                    {},
                )
            )
        if violations:
            raise PractitionerRejected(violations)
        now = self.access.clock.now()

        def register(practitioner: Practitioner) -> Practitioner:
            if practitioner.profession is not Profession.GENERAL_PRACTITIONER or (
                practitioner.country != "BE"
            ):
                raise PractitionerRejected(
                    [
                        Violation(
                            "edmg.not_eligible",
                            "only Belgian general practitioners register for eDMG",
                            "accounts",
                            {},
                        )
                    ]
                )
            before = practitioner.settings.edmg
            registration = EdmgRegistration(
                registered_at=before.registered_at if before else now, accounts=parsed
            )
            return attrs.evolve(
                practitioner, settings=attrs.evolve(practitioner.settings, edmg=registration)
            )

        return self._change_practitioner(
            "practitioner.register_edmg", actor, user_id, Permission.USERS_EDIT_PROFILE, register
        )

    def _parse_edmg_accounts(
        self, accounts: object
    ) -> tuple[dict[Mutuality, BelgianIban], list[Violation]]:
        if isinstance(accounts, str):
            try:
                one = iban.parse(accounts, require_known_bank=self.require_known_bank)
            except InvalidIdentifier as error:
                return {}, list(error.for_field("accounts").violations)
            return dict.fromkeys(Mutuality, one), []
        if not isinstance(accounts, Mapping):
            return {}, [
                Violation(
                    "edmg.not_accounts",
                    "one IBAN, or a mapping from each mutuality to an IBAN",
                    "accounts",
                    {},
                )
            ]
        parsed: dict[Mutuality, BelgianIban] = {}
        violations: list[Violation] = []
        for code, number in accounts.items():
            try:
                mutuality = Mutuality(code)
            except (ValueError, TypeError):
                violations.append(
                    Violation(
                        "edmg.unknown_mutuality",
                        "not one of the seven mutualities",
                        "accounts",
                        {"known": tuple(m.value for m in Mutuality)},
                    )
                )
                continue
            try:
                parsed[mutuality] = iban.parse(number, require_known_bank=self.require_known_bank)
            except InvalidIdentifier as error:
                violations += error.for_field(f"accounts.{mutuality.value}").violations
        missing = tuple(m.value for m in Mutuality if m not in parsed)
        if missing and not violations:
            violations.append(
                Violation(
                    "edmg.missing_mutuality",
                    "every one of the seven mutualities needs an account",
                    "accounts",
                    {"missing": missing},
                )
            )
        return parsed, violations

    # -- billing (B6) -----------------------------------------------------------------------

    @audited("practitioner.save_billing")
    @_retried
    def save_billing(
        self,
        *,
        actor: UserId,
        user_id: UserId,
        company_name: str = "",
        enterprise_number: str | None = None,
        conventioned: bool = False,
        iban_number: str | None = None,
    ) -> Practitioner:
        """Replace the practitioner's financial data (B6).

        ``enterprise_number`` is the BCE/KBO number, with or without ``BE``;
        ``iban_number`` a Belgian IBAN, whose BIC is derived (an unknown bank gives the
        notice ``iban.bic_unknown`` on ``practitioner.billing.iban.notices``).

        Raises:
            PractitionerRejected: every refused field, named ``company_name``,
                ``enterprise_number``, ``conventioned`` or ``iban_number``.
            PermissionDenied: the actor lacks ``payments.manage_billing`` over the account.
            PractitionerNotFound.
        """
        _require_ids(actor=actor, user_id=user_id)
        name, violations = _text(
            company_name, "company_name", prefix="billing", required=False, max_length=200
        )
        number = None
        if not _optional(enterprise_number):
            try:
                number = bce.parse(enterprise_number)
            except InvalidIdentifier as error:
                violations += error.for_field("enterprise_number").violations
        account = None
        if not _optional(iban_number):
            try:
                account = iban.parse(iban_number, require_known_bank=self.require_known_bank)
            except InvalidIdentifier as error:
                violations += error.for_field("iban_number").violations
        flag: object = conventioned
        if not isinstance(flag, bool):
            violations.append(
                Violation(
                    "billing.not_boolean", "conventioned is true or false", "conventioned", {}
                )
            )
        if violations:
            raise PractitionerRejected(violations)
        billing = BillingData(
            company_name=name, enterprise_number=number, conventioned=conventioned, iban=account
        )
        return self._change_practitioner(
            "practitioner.save_billing",
            actor,
            user_id,
            Permission.BILLING_MANAGE,
            lambda p: attrs.evolve(p, billing=billing),
        )

    def _change_practitioner(
        self,
        action: str,
        actor: UserId,
        user_id: UserId,
        permission: Permission,
        change: _Change,
    ) -> Practitioner:
        with self.access.unit_of_work() as uow:
            self.access.authorize_account(uow, actor=actor, permission=permission, user_id=user_id)
            before = uow.practitioners.get(user_id)
            after = change(before)
            changed = after != before
            stored = uow.practitioners.update(after) if changed else before  # no new version
            self.auditor.record(
                uow,
                action,
                actor=actor,
                target_type="user",
                target_id=user_id,
                details={"fields": _fields(_changes(before, after)), "changed": changed},
            )
            uow.commit()
            return stored

    # -- establishment profile (C7) ---------------------------------------------------------

    @audited("establishment.save_profile", target_type="establishment", target="establishment_id")
    @_retried
    def save_establishment_profile(
        self,
        *,
        actor: UserId,
        establishment_id: EstablishmentId,
        name: str,
        street: str,
        postal_code: str,
        city: str,
        country: str,
        phone: str | None = None,
        email: str | None = None,
        inami_number: str | None = None,
        finess_number: str | None = None,
        enterprise_number: str | None = None,
    ) -> EstablishmentProfile:
        """Save what the establishment's reports print in their header (C7).

        The logo and the shared trainee account are kept; set them with :meth:`set_logo`
        and :meth:`set_trainee_account`. A new ``name`` renames the establishment.

        Raises:
            EstablishmentProfileRejected: every refused field at once.
            PermissionDenied: the actor lacks ``establishment.edit_profile``.
            EstablishmentNotFound.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        clean, violations = _text(
            name, "name", prefix="establishment", required=True, max_length=100
        )
        address, problems = self._parse_address(
            {
                "street": street,
                "postal_code": postal_code,
                "city": city,
                "country": country,
                "phone": phone,
                "email": email,
            },
            "address",
            "",
            kind=AddressKind.WORKPLACE,
        )
        violations += [
            attrs.evolve(v, field=(v.field or "").removeprefix("address.")) for v in problems
        ]
        numbers: dict[str, object] = {}
        for field, raw, module in (
            ("inami_number", inami_number, inami),
            ("finess_number", finess_number, finess),
            ("enterprise_number", enterprise_number, bce),
        ):
            if _optional(raw):
                numbers[field] = None
                continue
            try:
                numbers[field] = module.parse(raw)
            except InvalidIdentifier as error:
                violations += error.for_field(field).violations
        if violations or address is None:
            raise EstablishmentProfileRejected(violations)
        now = self.access.clock.now()
        with self.access.unit_of_work() as uow:
            establishment, _ = self.access.authorize(
                uow,
                actor=actor,
                establishment_id=establishment_id,
                permission=Permission.ESTABLISHMENT_EDIT_PROFILE,
            )
            before = uow.establishment_profiles.find(establishment.id)
            after = EstablishmentProfile(
                establishment_id=establishment.id,
                address=address,
                updated_at=now,
                inami=numbers["inami_number"],  # type: ignore[arg-type]
                finess=numbers["finess_number"],  # type: ignore[arg-type]
                enterprise_number=numbers["enterprise_number"],  # type: ignore[arg-type]
                logo=before.logo if before else None,
                trainee_account=before.trainee_account if before else None,
                version=before.version if before else 0,
            )
            renamed = clean != establishment.name
            if renamed:
                uow.establishments.update(attrs.evolve(establishment, name=clean))
            stored = self._store_profile(uow, before, after)
            changed = _changes(before, after) if stored is not before else []
            details: dict[str, DetailValue] = {
                "created": before is None,
                "fields": _fields([*changed, *(["name"] if renamed else [])]),
            }
            if before is not None:
                details["changed"] = renamed or stored is not before
            self.auditor.record(
                uow,
                "establishment.save_profile",
                actor=actor,
                establishment_id=establishment.id,
                target_type="establishment",
                target_id=establishment.id,
                details=details,
            )
            uow.commit()
            return stored

    @staticmethod
    def _store_profile(
        uow: AccessUnitOfWork, before: EstablishmentProfile | None, after: EstablishmentProfile
    ) -> EstablishmentProfile:
        if before is None:
            uow.establishment_profiles.add(after)
            return after
        if attrs.evolve(after, updated_at=before.updated_at) == before:
            return before
        return uow.establishment_profiles.update(after)

    @audited("establishment.set_logo", target_type="establishment", target="establishment_id")
    @_retried
    def set_logo(
        self, *, actor: UserId, establishment_id: EstablishmentId, logo: bytes | None
    ) -> EstablishmentProfile:
        """Set the establishment's logo (PNG or JPEG, checked by content), or remove it (C7).

        Limits are documented in :mod:`practiceid.policies.logo`.

        Raises:
            EstablishmentProfileRejected: ``logo.*`` codes; also ``profile.missing`` when
                the profile (the address) was never saved.
            PermissionDenied: the actor lacks ``establishment.edit_profile``.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        checked = None
        if logo is not None:
            checked, problems = check_logo(logo)
            if checked is None:
                raise EstablishmentProfileRejected(_violations(problems, "logo"))
        return self._change_profile(
            "establishment.set_logo",
            actor,
            establishment_id,
            Permission.ESTABLISHMENT_EDIT_PROFILE,
            lambda p: attrs.evolve(p, logo=checked),
            removed=checked is None,
        )

    @audited(
        "establishment.set_trainee_account", target_type="establishment", target="establishment_id"
    )
    @_retried
    def set_trainee_account(
        self, *, actor: UserId, establishment_id: EstablishmentId, iban_number: str | None
    ) -> EstablishmentProfile:
        """Set the practice's shared bank account for every trainee, or remove it (B6).

        When set, every trainee of the practice bills on it instead of their supervisor's
        account (the supervisor's BIC and enterprise number still apply).

        Raises:
            EstablishmentProfileRejected: IBAN refusals (field ``iban_number``),
                ``profile.missing``.
            PermissionDenied: the actor lacks ``payments.manage_billing`` there.
        """
        _require_ids(actor=actor, establishment_id=establishment_id)
        account = None
        if not _optional(iban_number):
            try:
                account = iban.parse(iban_number, require_known_bank=self.require_known_bank)
            except InvalidIdentifier as error:
                raise EstablishmentProfileRejected(
                    error.for_field("iban_number").violations
                ) from None
        return self._change_profile(
            "establishment.set_trainee_account",
            actor,
            establishment_id,
            Permission.BILLING_MANAGE,
            lambda p: attrs.evolve(p, trainee_account=account),
            removed=account is None,
        )

    def _change_profile(
        self,
        action: str,
        actor: UserId,
        establishment_id: EstablishmentId,
        permission: Permission,
        change: _ProfileChange,
        *,
        removed: bool,
    ) -> EstablishmentProfile:
        now = self.access.clock.now()
        with self.access.unit_of_work() as uow:
            establishment, _ = self.access.authorize(
                uow, actor=actor, establishment_id=establishment_id, permission=permission
            )
            before = uow.establishment_profiles.find(establishment.id)
            if before is None:
                raise EstablishmentProfileRejected(
                    [
                        Violation(
                            "profile.missing",
                            "save the establishment's profile (its address) first",
                            "address",
                            {},
                        )
                    ]
                )
            after = change(before)
            changed = after != before
            stored = (  # unchanged: no write, no new version
                uow.establishment_profiles.update(attrs.evolve(after, updated_at=now))
                if changed
                else before
            )
            self.auditor.record(
                uow,
                action,
                actor=actor,
                establishment_id=establishment.id,
                target_type="establishment",
                target_id=establishment.id,
                details={
                    "fields": _fields(_changes(before, after)),
                    "removed": removed,
                    "changed": changed,
                },
            )
            uow.commit()
            return stored

    # -- shared checks ----------------------------------------------------------------------

    def _acting_on_member(
        self,
        uow: AccessUnitOfWork,
        actor: UserId,
        establishment_id: EstablishmentId,
        user_id: UserId,
        permission: Permission,
    ) -> tuple[Establishment, Access]:
        """Authorize ``permission`` there, or let active members act on themselves."""
        if actor == user_id:
            establishment = uow.establishments.get(establishment_id)
            access = self.access._access(uow, actor, establishment)  # noqa: SLF001
            if access.denial is None:
                return establishment, access
        return self.access.authorize(
            uow, actor=actor, establishment_id=establishment_id, permission=permission
        )

    def _may_view(self, uow: AccessUnitOfWork, actor: UserId, user_id: UserId) -> None:
        if actor == user_id or Permission.USERS_VIEW in self.access.staff.get(actor, frozenset()):
            return
        denial = Reason.NOT_A_MEMBER
        for membership in uow.memberships.list_for_user(user_id):
            establishment = uow.establishments.get(membership.establishment_id)
            access = self.access._access(uow, actor, establishment)  # noqa: SLF001
            decision = decide(access, Permission.USERS_VIEW)
            if decision.allowed:
                return
            denial = decision.reason
        raise Decision(
            allowed=False, reason=denial, permission=Permission.USERS_VIEW, actor=actor
        ).error()


def _supervisor_choices(raw: object) -> dict[EstablishmentId, UserId]:
    """Return ``supervisors`` as a dict of ids, or raise PractitionerRejected."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        return {EstablishmentId(k): UserId(v) for k, v in raw.items()}
    raise PractitionerRejected(
        [
            Violation(
                "supervisors.invalid",
                "supervisors map establishment ids to supervisor ids",
                "supervisors",
                {},
            )
        ]
    )


def _supervisor_required(*establishments: EstablishmentId) -> Violation:
    return Violation(
        "practitioner.supervisor_required",
        "a trainee needs a training supervisor in each establishment",
        "supervisor",
        {"establishments": tuple(establishments)},
    )


def _added(uow: AccessUnitOfWork, practitioner: Practitioner) -> Practitioner:
    uow.practitioners.add(practitioner)
    return practitioner
