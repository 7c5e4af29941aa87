"""What hosts need to test code that uses practiceid.

* :class:`ManualClock`: a clock that moves only when told.
* :func:`fast_hasher`: Argon2id with toy parameters, so tests do not spend 150 ms a hash.
* :func:`sample_user`: a valid :class:`~practiceid.User` with made-up data.
* :func:`sample_inami`, :func:`sample_workplace`, :func:`sample_png`, :func:`sample_jpeg`,
  :func:`sample_certificate`: made-up practitioner data for examples (B1-B5, C7).
* :func:`sample_practice`: an in-memory practice with its services and owner, for examples.
* :func:`sample_devices`, :func:`sample_strong_auth`: a clinic with shared devices (F1-F4);
  a practice with key pairs and second factors (D3, F5).
* :mod:`practiceid.testing.strategies`: Hypothesis strategies for our types (needs
  ``hypothesis``).
* :mod:`practiceid.testing.contracts`: contract suites every adapter must pass (needs
  ``pytest``).

This module imports neither pytest nor Hypothesis.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs

from practiceid.access import AccessService
from practiceid.accounts import AccountService
from practiceid.adapters.keys import ContextVarRequestContext, StaticKeyProvider
from practiceid.adapters.memory import InMemoryStore, StaticAuthorizer
from practiceid.adapters.notifiers import RecordingNotifier
from practiceid.devices import ClinicLogin
from practiceid.establishments import Establishment, EstablishmentId, OrganisationId, ProductKind
from practiceid.hashing import Argon2idHasher, Argon2idParameters
from practiceid.licenses import LicenseKind, Price, PricePer, PriceTable
from practiceid.licensing import LicenseService
from practiceid.onboarding import OnboardingService
from practiceid.outbox import Dispatcher
from practiceid.permissions import Permission
from practiceid.personal_keys import KeyPairService
from practiceid.policies.email import EmailAddress
from practiceid.policies.factors import FactorSettings, totp_code
from practiceid.policies.invitation import InvitationSettings
from practiceid.policies.license import LicenseSettings
from practiceid.policies.login import Login
from practiceid.policies.pin import PinSettings
from practiceid.ports.clock import Clock
from practiceid.ports.devices import DeviceUnitOfWorkFactory
from practiceid.ports.factors import FactorUnitOfWorkFactory
from practiceid.ports.licenses import LicenseUnitOfWorkFactory
from practiceid.ports.onboarding import OnboardingUnitOfWorkFactory
from practiceid.ports.users import UnitOfWork
from practiceid.profiles import ProfileService
from practiceid.second_factors import FactorService, TotpEnrolment
from practiceid.shared_devices import DeviceService
from practiceid.testing.samples import (
    sample_certificate,
    sample_inami,
    sample_jpeg,
    sample_png,
    sample_workplace,
)
from practiceid.users import User, UserId

__all__ = [
    "FAST_ARGON2",
    "SAMPLE_BACKUP_PASSWORD",
    "SAMPLE_CLINIC_PASSWORD",
    "SAMPLE_PHYSICIAN_PASSWORD",
    "SAMPLE_PRICES",
    "ManualClock",
    "SampleDevices",
    "SampleLicensing",
    "SampleOnboarding",
    "SamplePractice",
    "SampleStrongAuth",
    "fast_hasher",
    "sample_certificate",
    "sample_devices",
    "sample_inami",
    "sample_jpeg",
    "sample_licensing",
    "sample_onboarding",
    "sample_png",
    "sample_practice",
    "sample_strong_auth",
    "sample_user",
    "sample_workplace",
]

FAST_ARGON2 = Argon2idParameters(memory_cost=64, iterations=1, lanes=1)
"""Toy Argon2id parameters: about a thousand times cheaper than the default. Tests only."""


def fast_hasher() -> Argon2idHasher:
    """Return an Argon2id hasher with :data:`FAST_ARGON2`. Never use it in production."""
    return Argon2idHasher(FAST_ARGON2, unsafe_allow_weak_parameters_for_tests=True)


@attrs.define
class ManualClock:
    """A :class:`~practiceid.ports.Clock` that stands still until moved.

    >>> clock = ManualClock()
    >>> clock.advance(days=45).isoformat()
    '2026-02-19T09:00:00+00:00'
    """

    current: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the current (fixed) time."""
        return self.current

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; return the new time."""
        self.current += delta if delta is not None else timedelta(**kwargs)
        return self.current

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (timezone-aware)."""
        self.current = when


_counter = itertools.count(1)


def _store_users(factory: Callable[[], UnitOfWork], *users: User) -> None:
    """Store ``users`` in one unit of work of ``factory``: the people a sample starts with."""
    with factory() as uow:
        for user in users:
            uow.users.add(user)
        uow.commit()


def sample_user(**overrides: object) -> User:
    """Return a valid user with made-up data; each call gets a fresh id, login and e-mail.

    >>> sample_user(first_name="Ana").first_name
    'Ana'
    """
    n = next(_counter)
    values: dict[str, object] = {
        "id": UserId(f"user-{n}"),
        "login": Login(f"user{n}"),
        "email": EmailAddress(f"user{n}@cabinet-exemple.be"),
        "first_name": "Camille",
        "last_name": f"Exemple{n}",
        "created_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return User(**values)  # type: ignore[arg-type]


@attrs.frozen
class SamplePractice:
    """An in-memory practice, ready for examples: its store, services, owner and ids."""

    store: InMemoryStore
    access: AccessService
    profiles: ProfileService
    owner: User
    organisation_id: OrganisationId
    establishment_id: EstablishmentId

    def member(self, first_name: str, last_name: str, *roles: str) -> UserId:
        """Add a new member with made-up e-mail and these roles; return their user id."""
        slug = "".join(c for c in f"{first_name}.{last_name}".lower() if c.isalnum() or c == ".")
        return self.access.add_member(
            actor=self.owner.id,
            establishment_id=self.establishment_id,
            email=f"{slug}@cabinet-exemple.be",
            roles=roles,
            first_name=first_name,
            last_name=last_name,
        ).user.id


def sample_practice(
    product: ProductKind = ProductKind.GENERAL_PRACTICE,
    *,
    clock: Clock | None = None,
    establishment_id: str = "cabinet",
) -> SamplePractice:
    """Return an organisation with one establishment of ``product``, owned by a sample user.

    The owner is the establishment's first Administrator.

    >>> practice = sample_practice()
    >>> gp = practice.member("Anne", "Exemple", "physician")
    >>> [m.user_id for m in practice.access.memberships_of(gp)] == [gp]
    True
    """
    store = InMemoryStore()
    access = AccessService(
        unit_of_work=store.unit_of_work, clock=clock if clock is not None else ManualClock()
    )
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.commit()
    organisation = access.found_organisation(
        owner=owner.id, name="Groupe de l'Exemple", organisation_id=OrganisationId("groupe")
    )
    establishment = access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Cabinet de l'Exemple",
        product=product,
        establishment_id=EstablishmentId(establishment_id),
    )
    return SamplePractice(
        store=store,
        access=access,
        profiles=ProfileService(access=access),
        owner=owner,
        organisation_id=organisation.id,
        establishment_id=establishment.id,
    )


@attrs.frozen
class SampleOnboarding:
    """A practice wired for onboarding: services, a manual clock, a recording notifier."""

    unit_of_work: OnboardingUnitOfWorkFactory
    clock: ManualClock
    access: AccessService
    accounts: AccountService
    onboarding: OnboardingService
    dispatcher: Dispatcher
    notifier: RecordingNotifier
    owner: User
    establishment: Establishment

    def deliver(self) -> RecordingNotifier:
        """Run the dispatcher until the outbox is empty; return the notifier."""
        self.dispatcher.run_until_idle()
        return self.notifier


def sample_onboarding(
    product: ProductKind = ProductKind.HOSPITAL,
    *,
    unit_of_work: OnboardingUnitOfWorkFactory | None = None,
    clock: ManualClock | None = None,
    settings: InvitationSettings | None = None,
    notifier: RecordingNotifier | None = None,
) -> SampleOnboarding:
    """Return an establishment of ``product`` with onboarding services (in memory by default).

    Passwords are hashed with :func:`fast_hasher`; messages go to a
    :class:`~practiceid.adapters.RecordingNotifier`.

    >>> practice = sample_onboarding()
    >>> practice.establishment.product
    <ProductKind.HOSPITAL: 'hospital'>
    """
    factory = unit_of_work if unit_of_work is not None else InMemoryStore().unit_of_work
    clock = clock if clock is not None else ManualClock()
    settings = settings if settings is not None else InvitationSettings()
    notifier = notifier if notifier is not None else RecordingNotifier()
    access = AccessService(unit_of_work=factory, clock=clock)
    accounts = AccountService(
        unit_of_work=factory, hasher=fast_hasher(), clock=clock, authorizer=StaticAuthorizer()
    )
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    _store_users(factory, owner)
    organisation = access.found_organisation(owner=owner.id, name="Groupe de l'Exemple")
    establishment = access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Hôpital de l'Exemple" if product is ProductKind.HOSPITAL else "Cabinet de l'Exemple",
        product=product,
    )
    return SampleOnboarding(
        unit_of_work=factory,
        clock=clock,
        access=access,
        accounts=accounts,
        onboarding=OnboardingService(
            unit_of_work=factory, access=access, accounts=accounts, clock=clock, settings=settings
        ),
        dispatcher=Dispatcher(
            unit_of_work=factory, notifier=notifier, clock=clock, settings=settings
        ),
        notifier=notifier,
        owner=owner,
        establishment=establishment,
    )


SAMPLE_PRICES = PriceTable(
    {
        **{(product, LicenseKind.PHYSICIAN): Price("480.00") for product in ProductKind},
        (ProductKind.VETERINARY, LicenseKind.LOCUM): Price("35.00", per=PricePer.MONTH),
    }
)
"""Made-up prices for examples: 480 EUR a year per physician, 35 EUR a month per locum."""


@attrs.frozen
class SampleLicensing:
    """A practice wired for licenses: services, a manual clock, a recording notifier.

    ``owner`` administers the practice; ``physician`` is a general practitioner member with
    an INAMI number (or a veterinarian), ``secretary`` a member whose license is free, and
    ``desk`` the vendor's license desk (support staff holding ``licenses.administer``).
    """

    unit_of_work: LicenseUnitOfWorkFactory
    clock: ManualClock
    access: AccessService
    profiles: ProfileService
    licenses: LicenseService
    dispatcher: Dispatcher
    notifier: RecordingNotifier
    owner: User
    physician: User
    secretary: User
    desk: User
    establishment: Establishment

    def deliver(self) -> RecordingNotifier:
        """Run the dispatcher until the outbox is empty; return the notifier."""
        self.dispatcher.run_until_idle()
        return self.notifier


def sample_licensing(
    product: ProductKind = ProductKind.GENERAL_PRACTICE,
    *,
    unit_of_work: LicenseUnitOfWorkFactory | None = None,
    clock: ManualClock | None = None,
    settings: LicenseSettings | None = None,
    prices: PriceTable = SAMPLE_PRICES,
) -> SampleLicensing:
    """Return a practice of ``product`` with license services (in memory by default).

    >>> practice = sample_licensing()
    >>> practice.establishment.product, practice.physician.first_name
    (<ProductKind.GENERAL_PRACTICE: 'general_practice'>, 'Jeanne')
    """
    factory = unit_of_work if unit_of_work is not None else InMemoryStore().unit_of_work
    clock = clock if clock is not None else ManualClock()
    settings = settings if settings is not None else LicenseSettings()
    notifier = RecordingNotifier()
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    desk = sample_user(first_name="Denis", last_name="Guichet")
    _store_users(factory, owner, desk)
    access = AccessService(
        unit_of_work=factory,
        clock=clock,
        staff={desk.id: {Permission.LICENSES_ADMINISTER, Permission.LICENSES_VIEW}},
    )
    profiles = ProfileService(access=access)
    organisation = access.found_organisation(owner=owner.id, name="Groupe de l'Exemple")
    establishment = access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Cabinet de l'Exemple",
        product=product,
    )
    physician = access.add_member(
        actor=owner.id,
        establishment_id=establishment.id,
        email="j.exemple@cabinet-exemple.be",
        roles=["physician"],
        first_name="Jeanne",
        last_name="Exemple",
    ).user
    veterinary = product is ProductKind.VETERINARY
    french = product in {ProductKind.HOSPITAL, ProductKind.DENTAL}
    profession = {
        ProductKind.VETERINARY: "veterinarian",
        ProductKind.DENTAL: "dentist",
    }.get(product, "general_practitioner")
    identifiers: dict[str, object] = {}
    if french:
        identifiers["rpps"] = "10001234565"  # made up, with a valid check digit
    elif not veterinary:
        identifiers["inami"] = sample_inami()
    profiles.save_practitioner(
        actor=owner.id,
        establishment_id=establishment.id,
        user_id=physician.id,
        profession=profession,
        country="FR" if french else "BE",
        identifiers=identifiers,
        addresses=[
            sample_workplace(
                country="FR", postal_code="75001", city="Paris", phone="01 99 00 12 34"
            )
        ]
        if french
        else [sample_workplace()],
    )
    secretary = access.add_member(
        actor=owner.id,
        establishment_id=establishment.id,
        email="s.accueil@cabinet-exemple.be",
        roles=["secretary"],
        first_name="Sam",
        last_name="Accueil",
    ).user
    return SampleLicensing(
        unit_of_work=factory,
        clock=clock,
        access=access,
        profiles=profiles,
        licenses=LicenseService(
            unit_of_work=factory, access=access, clock=clock, settings=settings, prices=prices
        ),
        dispatcher=Dispatcher(unit_of_work=factory, notifier=notifier, clock=clock),
        notifier=notifier,
        owner=owner,
        physician=physician,
        secretary=secretary,
        desk=desk,
        establishment=establishment,
    )


SAMPLE_CLINIC_PASSWORD = "Clinique-Partagee-Tablette-7"
"""The sample clinic login's password (made up; never reuse it)."""


@attrs.frozen
class SampleDevices:
    """A veterinary clinic wired for shared devices (F1-F4), in memory by default.

    ``owner`` administers the clinic. ``members`` maps ``"veterinarian"``, ``"nurse"``
    and ``"secretary"`` to their user ids, and ``pins`` to the PIN each was issued (shown
    once: kept here for examples only). The clinic login is ``clinic_login_email`` with
    ``clinic_password``.
    """

    unit_of_work: DeviceUnitOfWorkFactory
    clock: ManualClock
    keys: StaticKeyProvider
    request_context: ContextVarRequestContext
    access: AccessService
    accounts: AccountService
    devices: DeviceService
    owner: User
    establishment: Establishment
    clinic_login: ClinicLogin
    clinic_login_email: str
    clinic_password: str
    members: dict[str, UserId]
    pins: dict[str, str] = attrs.field(repr=False)


def sample_devices(
    *,
    unit_of_work: DeviceUnitOfWorkFactory | None = None,
    clock: ManualClock | None = None,
    settings: PinSettings | None = None,
    keys: StaticKeyProvider | None = None,
) -> SampleDevices:
    """Return a clinic with a clinic login and three members holding PINs.

    ``keys`` (generated by default) key the PIN digests and, in the default in-memory store,
    the audit chain.

    >>> clinic = sample_devices()
    >>> sorted(clinic.members)
    ['nurse', 'secretary', 'veterinarian']
    >>> all(len(pin) == 6 for pin in clinic.pins.values())
    True
    """
    keys = keys if keys is not None else StaticKeyProvider.generate("pin", "audit")
    factory = unit_of_work if unit_of_work is not None else InMemoryStore(keys=keys).unit_of_work
    clock = clock if clock is not None else ManualClock()
    context = ContextVarRequestContext()
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    _store_users(factory, owner)
    access = AccessService(unit_of_work=factory, clock=clock, request_context=context)
    accounts = AccountService(
        unit_of_work=factory,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=StaticAuthorizer(),
        request_context=context,
    )
    devices = DeviceService(
        unit_of_work=factory,
        access=access,
        accounts=accounts,
        keys=keys,
        clock=clock,
        settings=settings if settings is not None else PinSettings(),
        request_context=context,
    )
    organisation = access.found_organisation(owner=owner.id, name="Clinique de l'Exemple")
    establishment = access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Clinique vétérinaire de l'Exemple",
        product=ProductKind.VETERINARY,
    )
    email = "info@clinique-exemple.be"
    created = devices.create_clinic_login(
        actor=owner.id,
        establishment_id=establishment.id,
        email=email,
        password=SAMPLE_CLINIC_PASSWORD,
        password_confirmation=SAMPLE_CLINIC_PASSWORD,
        networks=["192.0.2.0/24"],
    )
    members: dict[str, UserId] = {}
    pins: dict[str, str] = {}
    for name, first, last, role in (
        ("veterinarian", "Victor", "Exemple", "physician"),
        ("nurse", "Alice", "Exemple", "nurse"),
        ("secretary", "Sam", "Accueil", "secretary"),
    ):
        user_id = access.add_member(
            actor=owner.id,
            establishment_id=establishment.id,
            email=f"{first.lower()}.{last.lower()}@clinique-exemple.be",
            roles=[role],
            first_name=first,
            last_name=last,
        ).user.id
        members[name] = user_id
        pins[name] = devices.issue_pin(
            actor=owner.id, establishment_id=establishment.id, user_id=user_id
        ).pin
    return SampleDevices(
        unit_of_work=factory,
        clock=clock,
        keys=keys,
        request_context=context,
        access=access,
        accounts=accounts,
        devices=devices,
        owner=owner,
        establishment=establishment,
        clinic_login=created.clinic_login,
        clinic_login_email=email,
        clinic_password=SAMPLE_CLINIC_PASSWORD,
        members=members,
        pins=pins,
    )


SAMPLE_PHYSICIAN_PASSWORD = "Dossier-Medical-Chiffre-42"
"""The sample physician's account password (made up; never reuse it)."""

SAMPLE_BACKUP_PASSWORD = "Sauvegarde-Cle-Privee-Clinique-9"
"""The sample physician's key backup password (made up; never reuse it)."""


@attrs.frozen
class SampleStrongAuth:
    """A practice wired for key pairs (D3) and second factors (F5), in memory by default.

    ``physician`` signs in with ``login`` and ``password`` and protects key backups with
    ``backup_password``; ``owner`` administers the establishment; ``support`` is the
    vendor's support staff (``users.manage_ip_factors``, ``users.manage_keys``).
    """

    unit_of_work: FactorUnitOfWorkFactory
    clock: ManualClock
    keys: StaticKeyProvider
    request_context: ContextVarRequestContext
    access: AccessService
    accounts: AccountService
    key_pairs: KeyPairService
    factors: FactorService
    owner: UserId
    support: UserId
    physician: UserId
    establishment: Establishment
    login: str
    password: str = attrs.field(repr=False)
    backup_password: str = attrs.field(repr=False)

    def app_code(self, enrolment: TotpEnrolment) -> str:
        """Return the code the user's authenticator app shows now for ``enrolment``."""
        padding = "=" * (-len(enrolment.secret) % 8)
        secret = base64.b32decode(enrolment.secret + padding)
        return totp_code(secret, self.clock.now().timestamp(), self.factors.settings.totp)


def sample_strong_auth(
    *,
    unit_of_work: FactorUnitOfWorkFactory | None = None,
    clock: ManualClock | None = None,
    settings: FactorSettings | None = None,
    keys: StaticKeyProvider | None = None,
) -> SampleStrongAuth:
    """Return a practice whose physician can enrol second factors and generate a key pair.

    ``keys`` (generated by default) hold the ``"totp"`` key and, in the default in-memory
    store, the ``"audit"`` key.

    >>> practice = sample_strong_auth()
    >>> practice.key_pairs.key_pair(actor=practice.physician, user_id=practice.physician)
    >>> practice.factors.factors(actor=practice.physician, user_id=practice.physician)
    []
    """
    keys = keys if keys is not None else StaticKeyProvider.generate("totp", "audit")
    factory = unit_of_work if unit_of_work is not None else InMemoryStore(keys=keys).unit_of_work
    clock = clock if clock is not None else ManualClock()
    context = ContextVarRequestContext()
    owner = sample_user(first_name="Olivia", last_name="Proprio")
    support = sample_user(first_name="Sacha", last_name="Support")
    _store_users(factory, owner, support)
    access = AccessService(
        unit_of_work=factory,
        clock=clock,
        request_context=context,
        staff={
            support.id: frozenset(
                {
                    Permission.USERS_MANAGE_IP_FACTORS,
                    Permission.USERS_MANAGE_FACTORS,
                    Permission.USERS_MANAGE_KEYS,
                }
            )
        },
    )
    accounts = AccountService(
        unit_of_work=factory,
        hasher=fast_hasher(),
        clock=clock,
        authorizer=access,
        request_context=context,
    )
    organisation = access.found_organisation(owner=owner.id, name="Cabinet de l'Exemple")
    establishment = access.open_establishment(
        actor=owner.id,
        organisation_id=organisation.id,
        name="Cabinet médical de l'Exemple",
        product=ProductKind.GENERAL_PRACTICE,
    )
    login = "dr.exemple"
    email = "dr.exemple@cabinet-exemple.be"
    physician = accounts.register(
        login=login,
        email=email,
        password=SAMPLE_PHYSICIAN_PASSWORD,
        password_confirmation=SAMPLE_PHYSICIAN_PASSWORD,
        first_name="Camille",
        last_name="Exemple",
        job_title="Médecin généraliste",
    ).user
    access.add_member(
        actor=owner.id, establishment_id=establishment.id, email=email, roles=["physician"]
    )
    key_pairs = KeyPairService(
        unit_of_work=factory, access=access, clock=clock, request_context=context
    )
    factors = FactorService(
        unit_of_work=factory,
        access=access,
        accounts=accounts,
        keys=keys,
        clock=clock,
        settings=settings if settings is not None else FactorSettings(),
        request_context=context,
    )
    return SampleStrongAuth(
        unit_of_work=factory,
        clock=clock,
        keys=keys,
        request_context=context,
        access=access,
        accounts=accounts,
        key_pairs=key_pairs,
        factors=factors,
        owner=owner.id,
        support=support.id,
        physician=physician.id,
        establishment=establishment,
        login=login,
        password=SAMPLE_PHYSICIAN_PASSWORD,
        backup_password=SAMPLE_BACKUP_PASSWORD,
    )
