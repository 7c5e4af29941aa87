"""``python -m practiceid demo``: a practice's first users, on a SQLite file, with real hashing.

The demo works in a new temporary directory, removed at the end: the database is a file in
it, unless ``--database URL`` names another (an empty one: the demo creates the schema), and
the key backup it writes goes there too. Without the ``sql`` extra installed the demo runs on
the in-memory store. Every name, address and number here is made up.
"""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeAlias

import attrs

from practiceid import __version__
from practiceid.access import AccessService
from practiceid.accounts import AccountService
from practiceid.adapters import (
    ContextVarRequestContext,
    InMemoryStore,
    StaticKeyProvider,
    SystemClock,
)
from practiceid.audit import key_lookup, verify_chain
from practiceid.auditing import AuditService
from practiceid.authorization import Target, decide
from practiceid.errors import (
    DeviceCredentialRequired,
    PinIncorrect,
    PinThrottled,
    PracticeIdError,
    Rejected,
)
from practiceid.establishments import EstablishmentId, ProductKind
from practiceid.hashing import Argon2idHasher
from practiceid.licenses import LicenseKind, Price, PriceTable
from practiceid.licensing import LicenseService, LicenseView
from practiceid.onboarding import OnboardingService
from practiceid.outbox import Delivery, Dispatcher
from practiceid.permissions import PLATFORM_PERMISSIONS, Permission
from practiceid.personal_keys import KeyPairService
from practiceid.policies import license as license_policy
from practiceid.policies.email import EmailPolicy
from practiceid.policies.factors import totp_code
from practiceid.policies.identifiers import adeli, bce, iban, inami, niss, rpps
from practiceid.policies.license import LicenseSettings
from practiceid.policies.login import LoginPolicy
from practiceid.ports import DeviceUnitOfWork, FactorUnitOfWork, LicenseUnitOfWork
from practiceid.profiles import ProfileService
from practiceid.second_factors import FactorService, TotpEnrolment
from practiceid.shared_devices import DeviceService
from practiceid.testing import ManualClock
from practiceid.testing.samples import sample_png
from practiceid.users import User, UserId

__all__ = ["run"]

PRACTICE = "Cabinet médical des Tilleuls"


class _DemoUnitOfWork(LicenseUnitOfWork, DeviceUnitOfWork, FactorUnitOfWork, Protocol):
    """Every port of the demo's store: both adapters implement them all."""


_DemoFactory: TypeAlias = Callable[[], _DemoUnitOfWork]
SUPPORT = UserId("support-desk")


def _title(text: str) -> None:
    print(f"\n== {text}")


def _refused(error: PracticeIdError) -> None:
    if isinstance(error, Rejected):
        print(f"   refused [{error.code}]")
        for violation in error.violations:
            print(f"     - {violation.code}: {violation.message}")
            for suggestion in violation.params.get("suggestions", ()):  # type: ignore[attr-defined]
                print(f"         hint: {suggestion}")
    else:
        params = {
            k: v.isoformat(timespec="seconds") if isinstance(v, datetime) else v
            for k, v in error.params.items()
            if k not in {"actor", "user_id"}
        }
        print(f"   refused [{error.code}] {error.message} {params}")


def _attempt(label: str, action: Callable[[], object]) -> object | None:
    print(f" * {label}")
    try:
        return action()
    except PracticeIdError as error:
        _refused(error)
        return None


def _show(user: User) -> None:
    print(
        f"   registered {user.full_name!r}: login {user.login.display!r}, "
        f"e-mail {user.email.address!r}, status {user.status}"
    )


@contextlib.contextmanager
def _storage(
    database: str | None, keys: StaticKeyProvider, directory: Path
) -> Iterator[tuple[_DemoFactory, str]]:
    """The units of work of the demo's database, and how to name it.

    ``directory`` is the demo's working directory: the SQLite file goes there unless
    ``database`` names another. At the end a second store opened on the same database reads
    back what the demo wrote.
    """
    try:
        from practiceid.adapters.sql import SqlStore  # noqa: PLC0415 - the sql extra
    except ImportError:  # pragma: no cover - the test environment has the extra
        yield (
            InMemoryStore(keys=keys).unit_of_work,
            "in-memory store (install practiceid[sql] for SQLite)",
        )
        return
    with contextlib.ExitStack() as stack:
        if database is None:
            database = f"sqlite:///{directory / 'demo.sqlite'}"
        store = stack.enter_context(SqlStore.from_url(database, keys=keys))
        store.create_schema()
        name = store.engine.url.render_as_string(hide_password=True)
        yield store.unit_of_work, f"{name} (schema {store.schema_revision()})"
        store.close()
        _title("Everything above is in the database")
        with SqlStore.from_url(database, keys=keys) as reopened, reopened.unit_of_work() as uow:
            users = uow.users.list()
            establishments = uow.establishments.list()
            memberships = [
                m for e in establishments for m in uow.memberships.list_for_establishment(e.id)
            ]
            practitioners = [p for u in users if (p := uow.practitioners.find(u.id))]
            onboardings = [o for u in users if (o := uow.onboardings.find(u.id))]
            licenses = [
                lic for e in establishments for lic in uow.licenses.list_for_establishment(e.id)
            ]
            messages = uow.outbox.list()
            clinic_logins = [
                c for e in establishments for c in uow.clinic_logins.list_for_establishment(e.id)
            ]
            key_pairs = [k for u in users if (k := uow.key_pairs.find(u.id))]
            factors = [f for u in users for f in uow.factors.list_for_user(u.id)]
            chains = uow.audit.chains()
            records = sum(h.seq for c in chains if (h := uow.audit.head(c)))
        print(
            f" * a new store on {name} reads back {len(users)} users, "
            f"{len(establishments)} establishments, {len(memberships)} memberships, "
            f"{len(practitioners)} practitioners, {len(onboardings)} onboarding records, "
            f"{len(licenses)} licenses and {len(messages)} outbox messages "
            f"({sum(m.status == 'sent' for m in messages)} sent), "
            f"{len(clinic_logins)} clinic login, {len(key_pairs)} key pair (public half only), "
            f"{len(factors)} second factor and {records} audit records in {len(chains)} chains"
        )
        print(
            "   logins and e-mail addresses are unique by key in the database itself: "
            "a unique index each (A1, A2)"
        )


def run(database: str | None = None) -> int:
    """Run the demo on ``database`` (a new SQLite file by default); return 0."""
    # The host's secrets: keys for the PIN digests, the audit chain and the TOTP secrets. A
    # real host loads them from its secrets manager; the demo's live as long as the process.
    keys = StaticKeyProvider.generate("pin", "audit", "totp")
    with (
        tempfile.TemporaryDirectory(prefix="practiceid-") as directory,
        _storage(database, keys, Path(directory)) as (unit_of_work, described),
    ):
        return _run(unit_of_work, described, keys, Path(directory))


def _run(
    unit_of_work: _DemoFactory, described: str, keys: StaticKeyProvider, directory: Path
) -> int:
    hasher = Argon2idHasher()
    clock = SystemClock()
    # The vendor's support desk: staff holding the support-only permissions everywhere (A5).
    access = AccessService(
        unit_of_work=unit_of_work,
        clock=clock,
        staff={SUPPORT: PLATFORM_PERMISSIONS | {Permission.USERS_CREATE}},
    )
    accounts = AccountService(
        unit_of_work=unit_of_work,
        hasher=hasher,
        clock=clock,
        authorizer=access,
        practice_name=PRACTICE,
    )
    with unit_of_work() as uow:
        uow.users.add(
            User(
                id=SUPPORT,
                login=LoginPolicy().parse("support.desk"),
                email=EmailPolicy().parse("support@practiceid-demo.example"),
                first_name="Support",
                last_name="Desk",
                created_at=clock.now(),
            )
        )
        uow.commit()
    p = hasher.parameters
    print(f"practiceid {__version__} demo: {PRACTICE}")
    print(f"stored in {described}")
    print(
        f"passwords hashed with Argon2id m={p.memory_cost} KiB, t={p.iterations}, "
        f"p={p.lanes} (RFC 9106 low-memory profile)"
    )

    _title("Registering the practice's first users (A1-A4)")
    started = time.perf_counter()
    dupont = accounts.register(
        login="dr.dupont",
        email="Jeanne.Dupont@Cabinet-Tilleuls.be",
        password="Vrai-Cheval-Agrafe-42",
        password_confirmation="Vrai-Cheval-Agrafe-42",
        first_name="Jeanne",
        last_name="Dupont",
        job_title="Médecin généraliste",
    )
    _show(dupont.user)
    print(f"   (validation and hashing took {time.perf_counter() - started:.2f} s)")
    secretary = accounts.register(
        login="accueil.tilleuls",
        email="info@cabinet-tilleuls.be",
        password="Tasse-de-thé-au-jardin-9",
        password_confirmation="Tasse-de-thé-au-jardin-9",
        first_name="Lucie",
        last_name="Marchal",
        job_title="Secrétaire médicale",
    )
    _show(secretary.user)
    for notice in secretary.notices:
        print(f"   notice [{notice.code}]: {notice.message}")

    def newcomer(login: str, email: str, password: str = "Autre-Chemin-Vers-Namur-7") -> object:
        return accounts.register(
            login=login,
            email=email,
            password=password,
            password_confirmation=password,
            first_name="Luc",
            last_name="Dupont",
        )

    _title("Duplicates are refused, whatever the case or width (A1, A2)")
    _attempt(
        "another account with JEANNE.DUPONT@cabinet-tilleuls.BE",
        lambda: newcomer("jdupont2", "JEANNE.DUPONT@cabinet-tilleuls.BE"),
    )
    _attempt(
        "another account with the full-width login 'ＤＲ.ＤＵＰＯＮＴ'",
        lambda: newcomer("ＤＲ.ＤＵＰＯＮＴ", "luc.dupont@exemple-namur.be"),
    )
    _attempt(
        "a login with a Cyrillic 'о' in 'dr.luc.lоuvain'",
        lambda: newcomer("dr.luc.lоuvain", "luc.dupont@exemple-louvain.be"),
    )

    _title("Weak passwords are refused with their reasons (A4)")
    for password in ("motdepasse", "Password123!", "Dupont2024!!"):
        _attempt(
            f"Dr Luc Dupont chooses {password!r}",
            lambda password=password: newcomer(  # type: ignore[misc]
                "dr.luc.dupont", "luc.dupont@cabinet-tilleuls.be", password
            ),
        )

    _title("Logging in")
    user = accounts.authenticate("DR.DUPONT", "Vrai-Cheval-Agrafe-42")
    print(f" * 'DR.DUPONT' with the right password: logged in as {user.full_name}")
    _attempt(
        "'dr.dupont' with a wrong password",
        lambda: accounts.authenticate("dr.dupont", "Vrai-Cheval-Agrafe-43"),
    )
    _attempt("an unknown login", lambda: accounts.authenticate("dr.inconnu", "whatever"))

    _establishments(access, dupont.user, secretary.user)
    _profiles(access, dupont.user, secretary.user)
    _onboarding(unit_of_work, hasher, dupont.user, secretary.user)
    _licenses(unit_of_work, dupont.user)
    _devices(unit_of_work, accounts, keys, dupont.user)

    _title("Changing an e-mail address is for support only (A5)")
    _attempt(
        "Dr Dupont, an administrator, changes the secretary's address",
        lambda: accounts.change_email(
            actor=dupont.user.id, user_id=secretary.user.id, new_email="accueil@exemple.be"
        ),
    )
    change = accounts.change_email(
        actor=SUPPORT, user_id=dupont.user.id, new_email="j.dupont@cabinet-tilleuls.be"
    )
    print(f" * support changes it: now {change.user.email.address!r}")
    _strong_auth(unit_of_work, accounts, keys, dupont.user, directory)
    _identifiers()
    return 0


def _strong_auth(
    unit_of_work: _DemoFactory,
    accounts: AccountService,
    keys: StaticKeyProvider,
    dupont: User,
    directory: Path,
) -> None:
    _title("Personal key pairs and second factors (D3, F5)")
    clock = ManualClock(SystemClock().now().replace(microsecond=0))
    context = ContextVarRequestContext()
    access = AccessService(unit_of_work=unit_of_work, clock=clock, request_context=context)
    key_pairs = KeyPairService(
        unit_of_work=unit_of_work, access=access, clock=clock, request_context=context
    )
    factors = FactorService(
        unit_of_work=unit_of_work,
        access=access,
        accounts=attrs.evolve(accounts, clock=clock, request_context=context),
        keys=keys,
        clock=clock,
        request_context=context,
    )
    backup_password = "Tilleul-Coffre-Sauvegarde-58"  # made up; not her account password
    made = key_pairs.generate(actor=dupont.id, user_id=dupont.id, backup_password=backup_password)
    print(
        f" * Dr Dupont's first login: an X25519 key pair is generated on her side; the store "
        f"keeps its public half, fingerprint {made.fingerprint[:16]}…"
    )
    saved = directory / "dr.dupont-key.pem"
    saved.write_bytes(made.backup)
    first_line = made.backup.decode("ascii").splitlines()[0]
    print(
        f" * backup written to {saved.name} in the demo's directory ({len(made.backup)} bytes, "
        f"{first_line!r} header, then an encrypted PKCS#8 PEM block): no copy kept (D3)"
    )
    restored = key_pairs.restore(
        actor=dupont.id, user_id=dupont.id, backup=saved.read_bytes(), password=backup_password
    )
    status = key_pairs.key_pair(actor=dupont.id, user_id=dupont.id)
    print(
        f" * on a new computer she loads {saved.name}: same key "
        f"{restored.fingerprint == made.fingerprint}, backup "
        f"{status.status if status else None}"
    )
    _attempt(
        "the backup with a wrong password",
        lambda: key_pairs.restore(
            actor=dupont.id,
            user_id=dupont.id,
            backup=saved.read_bytes(),
            password="Tilleul-Coffre-Sauvegarde-59",
        ),
    )
    enrolment = factors.begin_totp(actor=dupont.id, user_id=dupont.id, name="Téléphone")
    shown = enrolment.uri.replace(enrolment.secret, "…")
    print(f" * she enrols her phone's authenticator app (F5): {shown}")
    factors.confirm_totp(
        actor=dupont.id, factor_id=enrolment.factor.id, code=_app_code(enrolment, clock, factors)
    )
    print("   confirmed with the first code the app shows")
    clock.advance(seconds=30)
    _attempt(
        "logging in with the password alone",
        lambda: factors.sign_in("dr.dupont", "Vrai-Cheval-Agrafe-42"),
    )
    signed_in = factors.sign_in(
        "dr.dupont", "Vrai-Cheval-Agrafe-42", code=_app_code(enrolment, clock, factors)
    )
    print(
        f" * with the app's code: logged in as {signed_in.user.full_name}, "
        f"method {signed_in.method}"
    )


def _app_code(enrolment: TotpEnrolment, clock: ManualClock, factors: FactorService) -> str:
    """The code Dr Dupont's authenticator app shows now (it holds the enrolment's secret)."""
    secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    return totp_code(secret, clock.now().timestamp(), factors.settings.totp)


def _establishments(access: AccessService, dupont: User, secretary: User) -> None:
    _title("Establishments, members, roles and permissions (C1-C6)")
    group = access.found_organisation(owner=dupont.id, name="Maison médicale des Tilleuls")
    main = access.open_establishment(
        actor=dupont.id,
        organisation_id=group.id,
        name=PRACTICE,
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=EstablishmentId("tilleuls"),
    )
    print(f" * Dr Dupont opens {main.name!r}; she is its first Administrator")
    print(f"   roles from the general-practice template: {[r.name for r in main.roles]}")
    access.add_member(
        actor=dupont.id,
        establishment_id=main.id,
        email=secretary.email.address,
        roles=["secretary"],
    )
    manager = access.add_member(
        actor=dupont.id,
        establishment_id=main.id,
        email="m.lambert@cabinet-tilleuls.be",
        roles=["user_manager"],
        first_name="Marc",
        last_name="Lambert",
    ).user
    print(" * the secretary joins as Secretary, Marc Lambert is created as User manager")
    annex = access.open_establishment(
        actor=dupont.id,
        organisation_id=group.id,
        name="Antenne de Jambes",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=EstablishmentId("jambes"),
    )
    attached = access.add_member(
        actor=dupont.id,
        establishment_id=annex.id,
        email=secretary.email.address.upper(),
        roles=["secretary"],
    )
    print(
        f" * second establishment {annex.name!r}: adding {secretary.email.address.upper()!r} "
        f"attaches the existing account (created a user: {attached.created_user}, C1)"
    )
    print(
        f"   the secretary now works in {len(access.memberships_of(secretary.id))} establishments"
    )
    _attempt(
        "the user manager makes the secretary Administrator (C3)",
        lambda: access.grant_role(
            actor=manager.id, establishment_id=main.id, user_id=secretary.id, role="administrator"
        ),
    )
    _attempt(
        "the user manager makes the secretary Physician (no escalation)",
        lambda: access.grant_role(
            actor=manager.id, establishment_id=main.id, user_id=secretary.id, role="physician"
        ),
    )
    _attempt(
        "Dr Dupont deactivates herself, the last administrator",
        lambda: access.deactivate_member(
            actor=dupont.id, establishment_id=main.id, user_id=dupont.id
        ),
    )
    seen = access.access(secretary.id, main.id)
    print(
        f" * the secretary's access is computed once: {len(seen.permissions)} permissions; "
        f"agenda.manage: {decide(seen, Permission.AGENDA_MANAGE).reason}, "
        f"payments.cancel: {decide(seen, Permission.PAYMENTS_CANCEL).reason}, "
        f"in Jambes with this access: "
        f"{decide(seen, Permission.AGENDA_MANAGE, Target.establishment(annex.id)).reason}"
    )
    access.deactivate_member(actor=dupont.id, establishment_id=annex.id, user_id=secretary.id)
    print(
        " * the secretary leaves Jambes: membership deactivated, kept for records (A6): "
        f"{access.access(secretary.id, annex.id).denial}"
    )


def _profiles(access: AccessService, dupont: User, secretary: User) -> None:
    _title("Practitioners, trainees, billing and the report header (A7, B1-B6, C7)")
    profiles = ProfileService(access=access)
    main = EstablishmentId("tilleuls")
    workplace = {
        "street": "Rue des Tilleuls 12",
        "postal_code": "5000",
        "city": "Namur",
        "email": "accueil@cabinet-tilleuls.be",
        "phone": "081 22 33 44",
    }
    _attempt(
        "Dr Dupont's practitioner form with a mistyped INAMI and a home address only",
        lambda: profiles.save_practitioner(
            actor=dupont.id,
            establishment_id=main,
            user_id=dupont.id,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": "1-23456-67-003"},
            addresses=[workplace | {"kind": "home", "phone": "081 22"}],
        ),
    )
    doctor = profiles.save_practitioner(
        actor=dupont.id,
        establishment_id=main,
        user_id=dupont.id,
        profession="general_practitioner",
        country="BE",
        identifiers={"inami": "1 23456 76 003"},
        addresses=[workplace],
    )
    print(
        f" * saved: recognised GP {doctor.is_recognised_general_practitioner}, "
        f"workplace phone {doctor.workplace.phone if doctor.workplace else None} (E.164, B1)"
    )
    profiles.save_billing(
        actor=dupont.id,
        user_id=dupont.id,
        company_name="Dr Dupont SRL",
        enterprise_number="BE 403.019.261",
        conventioned=True,
        iban_number="BE48 3200 7018 4927",
    )
    trainee = access.add_member(
        actor=dupont.id,
        establishment_id=main,
        email="t.dewitte@cabinet-tilleuls.be",
        roles=["trainee"],
        first_name="Thomas",
        last_name="Dewitte",
    )
    nurse = access.add_member(
        actor=dupont.id,
        establishment_id=main,
        email="t.dubois@cabinet-tilleuls.be",
        roles=["secretary"],
        first_name="Tania",
        last_name="Dubois",
    )
    profiles.save_practitioner(
        actor=dupont.id,
        establishment_id=main,
        user_id=nurse.user.id,
        profession="secretary",
        country="BE",
    )
    adjusted = [n for n in nurse.notices if n.code == "member.initials_adjusted"]
    print(
        f" * Thomas Dewitte joins as {trainee.membership.initials}; Tania Dubois gets "
        f"{nurse.membership.initials} ({adjusted[0].message if adjusted else 'no clash'}, A7)"
    )
    form = {
        "actor": dupont.id,
        "establishment_id": main,
        "user_id": trainee.user.id,
        "profession": "general_practitioner",
        "country": "BE",
        "identifiers": {"inami": "1-23456-25-005"},
        "addresses": [workplace],
    }
    _attempt(
        "Thomas, a GP trainee (INAMI code 005), without a supervisor (B4)",
        lambda: profiles.save_practitioner(**form),  # type: ignore[arg-type]
    )
    profiles.save_practitioner(**form, supervisor=dupont.id)  # type: ignore[arg-type]
    print(" * with Dr Dupont as training supervisor: saved")
    billing = profiles.billing_identity(
        actor=dupont.id, establishment_id=main, user_id=trainee.user.id
    )
    print(
        f"   Thomas bills through {billing.company_name!r}: BIC {billing.bic}, "
        f"BCE {billing.enterprise_number.format() if billing.enterprise_number else None}"
    )
    _attempt(
        "Dr Dupont's membership is deactivated while she supervises Thomas",
        lambda: access.deactivate_member(actor=dupont.id, establishment_id=main, user_id=dupont.id),
    )
    profiles.save_establishment_profile(
        actor=dupont.id,
        establishment_id=main,
        name=PRACTICE,
        street="Rue des Tilleuls 12",
        postal_code="5000",
        city="Namur",
        country="BE",
        phone="081 22 33 44",
        enterprise_number="0403019261",
    )
    _attempt(
        "an SVG file as the practice's logo",
        lambda: profiles.set_logo(
            actor=dupont.id, establishment_id=main, logo=b"<svg onload='alert(1)'/>"
        ),
    )
    profiles.set_logo(actor=dupont.id, establishment_id=main, logo=sample_png(240, 80))
    header = profiles.report_header(actor=secretary.id, establishment_id=main)
    logo = header.logo
    print(
        f" * report header (C7): {header.name} | {' / '.join(header.address_lines)} | "
        f"{header.phone} | {dict(header.identifiers)} | logo "
        f"{logo.media_type if logo else None} {logo.width if logo else 0}x"
        f"{logo.height if logo else 0}"
    )
    print(
        " * pays a license (E3): Dr Dupont "
        f"{profiles.pays_license(establishment_id=main, user_id=dupont.id)}, "
        "Tania Dubois (receptionist) "
        f"{profiles.pays_license(establishment_id=main, user_id=nurse.user.id)}"
    )


def _onboarding(
    unit_of_work: _DemoFactory, hasher: Argon2idHasher, dupont: User, secretary: User
) -> None:
    _title("Invitations: reminders, expiry, re-sending, first sign-in, terms of use (D1, D2, C1)")
    # A fake clock, so that two weeks pass in a second; every message goes through the outbox.
    clock = ManualClock(SystemClock().now().replace(microsecond=0))
    access = AccessService(unit_of_work=unit_of_work, clock=clock)
    accounts = AccountService(
        unit_of_work=unit_of_work, hasher=hasher, clock=clock, authorizer=access
    )
    onboarding = OnboardingService(
        unit_of_work=unit_of_work, access=access, accounts=accounts, clock=clock
    )
    dispatcher = Dispatcher(unit_of_work=unit_of_work, notifier=_DemoNotifier(), clock=clock)
    started = clock.now()

    def deliver() -> None:
        dispatcher.run_until_idle()

    def day() -> str:
        return f"day {(clock.now() - started).days:>2}"

    group = access.found_organisation(owner=dupont.id, name="Centre hospitalier des Tilleuls")
    hospital = access.open_establishment(
        actor=dupont.id,
        organisation_id=group.id,
        name="Hôpital des Tilleuls",
        product=ProductKind.HOSPITAL,
        establishment_id=EstablishmentId("hopital-tilleuls"),
    )
    print(f" * {hospital.name!r} is a hospital platform: new accounts get an invitation link (D1)")
    invited = onboarding.invite(
        actor=dupont.id,
        establishment_id=hospital.id,
        email="  P.Lemaire@Hopital-Tilleuls.be ",
        roles=["physician"],
        first_name="Pierre",
        last_name="Lemaire",
    )
    status = invited.onboarding.status if invited.onboarding else None
    print(f" * {day()}: Dr Dupont invites Dr Lemaire; status {status}")
    deliver()
    for days in (3, 4, 5):
        clock.advance(days=days)
        report = onboarding.run_due()
        print(f" * {day()}: the sweep sends {len(report.reminded)} reminder(s)")
        deliver()
    clock.advance(days=2)
    report = onboarding.run_due()
    print(f" * {day()}: the sweep expires {len(report.expired)} invitation(s) (14 days, D2)")
    deliver()
    listed = onboarding.members(actor=dupont.id, establishment_id=hospital.id)
    print(f"   members by status: {sorted((m.user.login.display, str(m.status)) for m in listed)}")
    onboarding.resend(actor=dupont.id, establishment_id=hospital.id, user_id=invited.user.id)
    print(f" * {day()}: Dr Dupont re-sends in one click: a new link, valid 14 days from now")
    deliver()
    _attempt(
        "re-sending again a second later (cooldown)",
        lambda: onboarding.resend(
            actor=dupont.id, establishment_id=hospital.id, user_id=invited.user.id
        ),
    )
    token = _DemoNotifier.last_token
    view = onboarding.open(token)
    print(f" * opening the link shows {view.first_name} {view.last_name} at {view.establishment!r}")
    print("   and changes nothing: mail scanners that follow links do not use it up")
    _attempt(
        "Dr Lemaire chooses 'lemaire2026'",
        lambda: onboarding.accept(
            token, password="lemaire2026", password_confirmation="lemaire2026"
        ),
    )
    user = onboarding.accept(
        token, password="Stéthoscope-Orage-81", password_confirmation="Stéthoscope-Orage-81"
    )
    record = onboarding.onboarding_of(user.id)
    print(f" * Dr Lemaire sets a password with the link: {record.status if record else None}")
    deliver()
    _attempt(
        "the same link a second time",
        lambda: onboarding.accept(
            token, password="Stéthoscope-Orage-81", password_confirmation="Stéthoscope-Orage-81"
        ),
    )
    terms = onboarding.publish_terms("2026-cgu-1")
    signed = onboarding.sign_in("p.lemaire@hopital-tilleuls.be", "Stéthoscope-Orage-81")
    print(f" * first sign-in: must still do {list(signed.missing)} (terms {terms.version})")
    active = onboarding.accept_terms(user_id=user.id, version=terms.version)
    print(f" * terms accepted: {active.status} since {day()}, terms {active.terms_version}")
    deliver()
    attached = onboarding.invite(
        actor=dupont.id,
        establishment_id=hospital.id,
        email=secretary.email.address,
        roles=["secretary"],
    )
    print(
        f" * the secretary's address already has an account: attached, no invitation (C1), "
        f"a {attached.message.kind} notice"
    )
    deliver()


def _licenses(unit_of_work: _DemoFactory, dupont: User) -> None:
    _title("Licenses: provisional, request, invoice, payment, activation, expiry (E1-E4, B4)")
    clock = ManualClock(SystemClock().now().replace(microsecond=0))
    access = AccessService(
        unit_of_work=unit_of_work,
        clock=clock,
        staff={SUPPORT: PLATFORM_PERMISSIONS | {Permission.USERS_CREATE}},  # the license desk
    )
    licenses = LicenseService(
        unit_of_work=unit_of_work,
        access=access,
        clock=clock,
        settings=LicenseSettings(desk_address="licences@practiceid-demo.example"),
        prices=PriceTable({(ProductKind.GENERAL_PRACTICE, LicenseKind.PHYSICIAN): Price("480.00")}),
    )
    dispatcher = Dispatcher(unit_of_work=unit_of_work, notifier=_DemoNotifier(), clock=clock)
    main = EstablishmentId("tilleuls")
    started = clock.now()

    def day() -> str:
        return f"day {(clock.now() - started).days:>3}"

    for member in access.members(actor=dupont.id, establishment_id=main):
        licenses.provision(actor=dupont.id, establishment_id=main, user_id=member.user_id)
    for view in licenses.licenses(actor=dupont.id, establishment_id=main):
        print(
            f" * {view.user.full_name}: {view.license.kind if view.license else None} license, "
            f"{view.status}, last day {view.last_day or 'none (free, E3)'}"
        )
    may_sign = decide(licenses.access_for(dupont.id, main), Permission.CONSULTATIONS_SIGN)
    print(
        f"   Dr Dupont may sign on her provisional license (E1, locum work too): {may_sign.allowed}"
    )
    trainee = next(
        v.user
        for v in licenses.licenses(actor=dupont.id, establishment_id=main)
        if v.user.first_name == "Thomas"
    )
    for user in (dupont, trainee):
        asked = licenses.request_activation(
            actor=dupont.id, establishment_id=main, user_id=user.id
        ).pending
        assert asked is not None  # noqa: S101 - a request was just stored
        print(
            f" * {day()}: activation requested for {asked.first_name} {asked.last_name}, "
            f"{asked.identifier_kind.upper()} {asked.identifier}, {asked.practice!r} (E2)"
        )
    dispatcher.run_until_idle()
    clock.advance(days=3)
    bill = licenses.invoice(actor=SUPPORT, establishment_id=main, invoice_number="LIC-2026-0042")
    print(
        f" * {day()}: the desk invoices {bill.invoice_number}, total {bill.total} {bill.currency}"
    )
    for line in bill.lines:
        payer = "through the supervisor (B4)" if line.via_supervisor else "own account"
        print(
            f"   line: {line.first_name} {line.last_name}, INAMI {line.identifier}, "
            f"{line.kind}, {line.months} months, {line.amount} {line.currency}, {payer}"
        )
    clock.advance(days=11)
    paid = licenses.record_payment(actor=SUPPORT, invoice_number="LIC-2026-0042")
    due = licenses.license(actor=dupont.id, establishment_id=main, user_id=dupont.id)
    print(
        f" * {day()}: payment recorded for {len(paid)} license(s): {paid[0].status}, "
        f"activation due by {due.activation_due} at the latest (E2)"
    )
    clock.advance(days=9)
    active = licenses.activate(actor=SUPPORT, establishment_id=main, user_id=dupont.id)
    late = active.activation.activated_late if active.activation else None
    print(f" * {day()}: Dr Dupont's license is {active.status}, late: {late}")
    clock.advance(days=23)
    report = licenses.run_due()
    print(f" * {day()}: the sweep reports {len(report.late)} late activation(s): Thomas's")
    licenses.activate(actor=SUPPORT, establishment_id=main, user_id=trainee.id)
    dispatcher.run_until_idle()
    view = licenses.license(actor=dupont.id, establishment_id=main, user_id=dupont.id)
    clock.set(_day_start(view, licenses, days_before=30))
    report = licenses.run_due()
    print(f" * {day()}: {len(report.notified)} expiry notice(s), 30 days before {view.last_day}")
    dispatcher.run_until_idle()
    clock.set(_day_start(view, licenses, days_before=-1))
    report = licenses.run_due()
    print(f" * {day()}: {len(report.expired)} license(s) expired")
    dispatcher.run_until_idle()
    member_access = licenses.access_for(dupont.id, main)
    refused = decide(member_access, Permission.CONSULTATIONS_SIGN)
    print(
        f"   signing: {refused.reason}; reading records: "
        f"{decide(member_access, Permission.PATIENTS_VIEW).reason}"
    )


def _devices(
    unit_of_work: _DemoFactory,
    accounts: AccountService,
    keys: StaticKeyProvider,
    dupont: User,
) -> None:
    _title("Shared devices: the clinic login, PINs, the lock screen, the audit trail (F1-F4)")
    clock = ManualClock(SystemClock().now().replace(microsecond=0))
    context = ContextVarRequestContext()
    access = AccessService(unit_of_work=unit_of_work, clock=clock, request_context=context)
    devices = DeviceService(
        unit_of_work=unit_of_work,
        access=access,
        accounts=attrs.evolve(accounts, clock=clock, request_context=context),
        keys=keys,
        clock=clock,
        request_context=context,
    )
    main = EstablishmentId("tilleuls")
    clinic_password = "Tablette-Salle-Attente-31"  # made up for the demo
    created = devices.create_clinic_login(
        actor=dupont.id,
        establishment_id=main,
        email="accueil@cabinet-tilleuls.be",
        password=clinic_password,
        password_confirmation=clinic_password,
        networks=["192.0.2.0/24"],
    )
    print(
        f" * clinic login {created.user.email.address!r}: an account of kind "
        f"{str(created.user.kind)!r}, tied to no member, remote access "
        f"{created.clinic_login.remote_access} (F1), premises "
        f"{', '.join(created.clinic_login.networks)}"
    )
    members = {
        m.user_id: m for m in access.members(actor=dupont.id, establishment_id=main) if m.is_active
    }
    names: dict[UserId, str] = {}
    pins: dict[UserId, str] = {}
    # Dr Dupont, the secretary, and one more member, in that order (ids are random).
    secretary = next(u for u, m in members.items() if "secretary" in m.roles)
    others = sorted(u for u in members if u not in {dupont.id, secretary})
    with unit_of_work() as uow:
        for user_id in [dupont.id, secretary, *others[:1]]:
            names[user_id] = uow.users.get(user_id).full_name
    for user_id, name in names.items():
        issued = devices.issue_pin(actor=dupont.id, establishment_id=main, user_id=user_id)
        pins[user_id] = issued.pin
        print(f" * PIN for {name}: {issued.pin} (shown once, stored as a keyed digest: F2)")
    with context.bind(peer_address="192.0.2.10", request_id="demo-1"):
        opened = devices.open("accueil@cabinet-tilleuls.be", clinic_password)
    token = opened.token
    print(f" * the reception tablet signs in with the clinic login: {opened.session.state}")
    view = devices.unlock(token, pins[secretary])
    may = devices.access_for(token)
    print(
        f" * {names[secretary]} types her PIN: {view.state} as her; agenda: "
        f"{may.allows(Permission.AGENDA_MANAGE)}, sign a consultation: "
        f"{may.allows(Permission.CONSULTATIONS_SIGN)} (F3: her own role only)"
    )
    devices.lock(token)
    devices.unlock(token, pins[dupont.id])
    with devices.acting(token) as actor:
        devices.set_remote_access(
            actor=actor.member, establishment_id=main, user_id=dupont.id, allowed=True
        )
    print(
        f" * she locks the screen; {names[dupont.id]} unlocks with hers and grants herself "
        "remote access (F4)"
    )
    clock.advance(minutes=5)
    print(f" * five idle minutes later the tablet is {devices.current(token).state} (F3)")
    _device_attack(devices, clock, context, token, clinic_password, pins)
    clock.advance(hours=1)
    access.deactivate_member(actor=dupont.id, establishment_id=main, user_id=secretary)
    _attempt(
        f"{names[secretary]}'s PIN after her deactivation",
        lambda: devices.unlock(token, pins[secretary]),
    )
    _audit_trail(unit_of_work, access, clock, keys, dupont, names, created.user.id)


def _device_attack(  # noqa: PLR0917 - the demo's state, passed on
    devices: DeviceService,
    clock: ManualClock,
    context: ContextVarRequestContext,
    token: str,
    clinic_password: str,
    pins: dict[UserId, str],
) -> None:
    _title("A PIN-guessing attack is stopped by the library, not the device (F2)")
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in pins.values())
    counts = {"wrong PIN": 0, "credential asked again": 0, "throttled, not checked": 0}
    # The attacker's guesses, in order; the members' real PINs left out, so that the
    # demo's figures do not depend on where the random PINs fall.
    guesses = [f"{n:06d}" for n in range(int(wrong), int(wrong) + 1_100)]
    for guess in [g for g in guesses if g not in pins.values()][:1_000]:
        try:
            devices.unlock(token, guess)
        except PinIncorrect:
            counts["wrong PIN"] += 1
        except DeviceCredentialRequired:
            counts["credential asked again"] += 1
            with context.bind(peer_address="192.0.2.10"):
                devices.reauthenticate(token, clinic_password)
        except PinThrottled:
            counts["throttled, not checked"] += 1
        clock.advance(seconds=1)
    print(
        " * 1 000 guesses with the clinic login's password at hand: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
    )
    print("   (5 wrong PINs in a row ask for the clinic password; 20 per hour for the practice)")


def _audit_trail(  # noqa: PLR0917 - the demo's state, passed on
    unit_of_work: _DemoFactory,
    access: AccessService,
    clock: ManualClock,
    keys: StaticKeyProvider,
    dupont: User,
    names: dict[UserId, str],
    clinic_account: UserId,
) -> None:
    _title("The audit trail: hash-chained per establishment (F3)")
    main = EstablishmentId("tilleuls")
    audit = AuditService(unit_of_work=unit_of_work, access=access, clock=clock, keys=keys)
    records = audit.records(actor=dupont.id, establishment_id=main, limit=1000)
    for record in records:
        if record.event.action in {"member.set_remote_access", "device.unlock"} and (
            record.event.succeeded
        ):
            event = record.event
            actor = names.get(event.actor, str(event.actor)) if event.actor else "nobody"
            account = "clinic login" if event.account_id == clinic_account else event.account_id
            print(
                f" * #{record.seq} {event.action}: actor {actor}, "
                f"device session {str(event.device_session_id)[:8]}…, account {account}"
            )
    result = audit.verify(actor=dupont.id, establishment_id=main)
    print(
        f" * {result.checked} records verified, HMAC-SHA-256 under key "
        f"{records[0].key_id!r}: intact {result.intact}"
    )
    tampered = [
        attrs.evolve(r, event=attrs.evolve(r.event, actor=UserId("someone-else")))
        if r.seq == records[len(records) // 2].seq
        else r
        for r in records
    ]
    broken = verify_chain(tampered, chain=main, key=key_lookup(keys))
    print(
        f" * a copy with one actor changed breaks at record #{broken.broken_at}: {broken.problem}"
    )


def _day_start(view: LicenseView, licenses: LicenseService, *, days_before: int) -> datetime:
    """The local midnight ``days_before`` days before the day after the license's last day."""
    assert view.last_day is not None  # noqa: S101 - a paid term has one
    day = view.last_day + timedelta(days=1 - days_before)
    return license_policy.day_start(day, licenses.settings)


class _DemoNotifier:
    """Prints each message as an e-mail would say it; remembers the last link's token."""

    last_token = ""

    def send(self, delivery: Delivery) -> None:
        message = delivery.message
        link = ""
        if delivery.token is not None:
            _DemoNotifier.last_token = delivery.token
            link = f" link https://emr.example/invitation#{delivery.token[:6]}…"
        establishment = message.params.get("establishment", "")
        print(
            f"     ✉ {message.kind} → {message.recipient} [{message.locale}] {establishment}{link}"
        )


def _identifiers() -> None:
    _title("Professional numbers are validated, formatted and decoded (B2-B4, B6)")
    trainee = inami.parse("1.23456.25.005")
    competence = trainee.competence
    print(
        f" * INAMI '1.23456.25.005' -> {trainee.format()}: modulus {trainee.modulus}, "
        f"{competence.label if competence else 'unknown code'}"
    )
    print(f"   requires a training supervisor: {trainee.requires_supervisor}")
    doctor = inami.parse("1 23456 76 003")
    print(
        f" * INAMI '1 23456 76 003' -> {doctor.format()}: modulus {doctor.modulus}; "
        f"supervisor candidate: {doctor.is_general_practitioner and not doctor.requires_supervisor}"
    )
    _attempt("INAMI '1-23456-52-005' (two digits swapped)", lambda: inami.parse("1-23456-52-005"))
    french = rpps.parse("100 0123 4565")
    print(f" * RPPS '100 0123 4565' -> {french.number}, IDNPS {french.idnps}")
    print(f"   as FHIR: {json.dumps(french.to_fhir().to_dict())}")
    _attempt("ADELI '75 10 0123 2' (wrong key)", lambda: adeli.parse("75 10 0123 2"))
    company = bce.parse("BE 403.019.261")
    print(f" * BCE 'BE 403.019.261' -> {company.format()}")
    account = iban.parse("be48 3200 7018 4927")
    print(f" * IBAN 'be48 3200 7018 4927' -> {account.format()}, BIC {account.bic} (derived)")
    print(f" * a NISS is checked ({niss.parse('85.07.30-033.28')!r}) but never displayed")
    print("   try: python -m practiceid check inami 1-23456-78-901")
