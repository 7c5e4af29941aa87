"""Examples for each requirement of practitioner and establishment profiles.

B1-B6 and E3, through :class:`ProfileService` and :class:`AccessService` on the in-memory
store: one test per behaviour, named as the behaviour, with its requirement id. Every person,
number, address and certificate here is made up: INAMI numbers come from ``sample_inami``,
IBANs and enterprise numbers are computed with their check-digit rules, and e-mail domains
are ``*-exemple.be`` / ``*-exemple.fr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import attrs
import pytest

from practiceid import (
    PROFESSION_RULES,
    AccessService,
    BillingIncomplete,
    DuplicateIdentifier,
    EstablishmentId,
    EstablishmentProfileRejected,
    HubRegion,
    Membership,
    Mutuality,
    OrganisationId,
    Permission,
    PermissionDenied,
    Practitioner,
    PractitionerNotFound,
    PractitionerRejected,
    ProductKind,
    Profession,
    ProfessionRule,
    ProfileService,
    SupervisesTrainees,
    UserId,
)
from practiceid.adapters import InMemoryStore
from practiceid.testing import ManualClock, sample_certificate, sample_inami, sample_user
from practiceid.testing import sample_workplace as workplace

SUPPORT = UserId("support-desk")
PARC = EstablishmentId("parc")  # general practice
TILLEULS = EstablishmentId("tilleuls")  # general practice, same group
SOURIRE = EstablishmentId("sourire")  # dental centre, same group
PATTES = EstablishmentId("pattes")  # veterinary clinic, same group
RIVAL = EstablishmentId("rival")  # general practice of another group

KEYSTORE_PASSWORD = "Clef-Du-Coffre-Exemple-7291"
# Documented example of src/practiceid/policies/identifiers/iban.py and bce.py.
IBAN_BBRU = "BE48 3200 7018 4927"
BCE = "0403019261"


def _belgian_iban(bank: str, account: str) -> str:
    """A made-up Belgian IBAN: bank code (3 digits), account (7 digits), both check pairs."""
    base = bank + account
    national = f"{int(base) % 97 or 97:02d}"
    bban = base + national
    check = 98 - int(bban + "1114" + "00") % 97  # "BE" is 11 14, then "00"
    return f"BE{check:02d}{bban}"


def _enterprise_number(first_eight: str) -> str:
    """A made-up BCE/KBO number: eight digits and their 97-complement check."""
    return first_eight + f"{97 - int(first_eight) % 97:02d}"


def _niss(first_nine: str) -> str:
    """A made-up NISS of someone born in the 20th century (check over nine digits)."""
    return first_nine + f"{97 - int(first_nine) % 97:02d}"


IBAN_GEBA = _belgian_iban("001", "1234567")  # bank 001: GEBABEBB
IBAN_KRED = _belgian_iban("735", "7654321")  # bank 735: KREDBEBB
IBAN_UNKNOWN_BANK = _belgian_iban("539", "1234567")  # bank code 539 is in no table
IBAN_NO_BIC = _belgian_iban("999", "1234567")  # bank codes 990-999: in the table, no BIC
OTHER_BCE = _enterprise_number("08512345")
NISS = _niss("900101123")
RPPS = "10001234565"  # documented example of rpps.py
ADELI = "751001231"  # documented example of adeli.py


def french_workplace(**overrides: object) -> dict[str, object]:
    # 01 99 00 xx xx is reserved by ARCEP for fiction.
    return workplace(
        street="Rue de l'Exemple 2",
        postal_code="75008",
        city="Paris",
        country="FR",
        email="accueil@centre-exemple.fr",
        phone="01 99 00 12 34",
        **overrides,
    )


@attrs.define
class World:
    """One group (two practices, a dental centre, a veterinary clinic) and a rival group."""

    store: InMemoryStore
    clock: ManualClock
    access: AccessService
    profiles: ProfileService
    owner: UserId
    rival: UserId

    def join(self, name: str, establishment: EstablishmentId = PARC, *roles: str) -> UserId:
        """Add a new person, created by the establishment (``created_account``)."""
        added = self.access.add_member(
            actor=self.rival if establishment == RIVAL else self.owner,
            establishment_id=establishment,
            email=f"{name}@cabinet-exemple.be",
            roles=roles or ("physician",),
            first_name=name.capitalize(),
            last_name="Exemple",
        )
        return added.user.id

    def attach(self, user: UserId, establishment: EstablishmentId, *roles: str) -> None:
        with self.store.unit_of_work() as uow:
            email = uow.users.get(user).email.address
        self.access.add_member(
            actor=self.rival if establishment == RIVAL else self.owner,
            establishment_id=establishment,
            email=email,
            roles=roles or ("physician",),
        )

    def save(
        self,
        user: UserId,
        profession: Profession | str = Profession.GENERAL_PRACTITIONER,
        *,
        identifiers: Mapping[str, object] | None = None,
        establishment: EstablishmentId = PARC,
        country: str = "BE",
        addresses: list[dict[str, object]] | None = None,
        supervisor: UserId | None = None,
        supervisors: Mapping[EstablishmentId, UserId] | None = None,
        actor: UserId | None = None,
        profiles: ProfileService | None = None,
    ) -> Practitioner:
        if addresses is None:
            addresses = [workplace() if country == "BE" else french_workplace()]
        if actor is None:
            actor = self.rival if establishment == RIVAL else self.owner
        return (profiles or self.profiles).save_practitioner(
            actor=actor,
            establishment_id=establishment,
            user_id=user,
            profession=profession,
            country=country,
            identifiers=identifiers,
            addresses=addresses,
            supervisor=supervisor,
            supervisors=supervisors,
        )

    def gp(
        self, name: str, establishment: EstablishmentId = PARC, *, inami: str | None = None
    ) -> UserId:
        """A recognised general practitioner (code 003) of the establishment."""
        user = self.join(name, establishment)
        self.save(
            user, identifiers={"inami": inami or sample_inami("003")}, establishment=establishment
        )
        return user

    def trainee(
        self,
        name: str,
        supervisor: UserId,
        establishment: EstablishmentId = PARC,
        *,
        inami: str | None = None,
    ) -> UserId:
        """A general practitioner in training (code 005) supervised by ``supervisor``."""
        user = self.join(name, establishment, "trainee")
        self.save(
            user,
            identifiers={"inami": inami or sample_inami("005")},
            establishment=establishment,
            supervisor=supervisor,
        )
        return user

    def membership(self, user: UserId, establishment: EstablishmentId = PARC) -> Membership:
        with self.store.unit_of_work() as uow:
            return uow.memberships.get(establishment, user)

    def stored(self, user: UserId) -> Practitioner | None:
        with self.store.unit_of_work() as uow:
            return uow.practitioners.find(user)

    def data(self, user: UserId) -> Practitioner:
        with self.store.unit_of_work() as uow:
            return uow.practitioners.get(user)

    def establishment_profile(self, establishment: EstablishmentId = PARC) -> None:
        self.profiles.save_establishment_profile(
            actor=self.owner,
            establishment_id=establishment,
            name="Cabinet du Parc",
            street="Rue de l'Exemple 1",
            postal_code="5000",
            city="Namur",
            country="BE",
            phone="081 22 33 44",
            email="accueil@cabinet-exemple.be",
        )


@pytest.fixture
def world() -> World:
    store = InMemoryStore()
    clock = ManualClock()
    access = AccessService(
        unit_of_work=store.unit_of_work, clock=clock, staff={SUPPORT: frozenset(Permission)}
    )
    owner, rival = sample_user(), sample_user()
    with store.unit_of_work() as uow:
        for user in (owner, rival, sample_user(id=SUPPORT)):
            uow.users.add(user)
        uow.commit()
    access.found_organisation(owner=owner.id, name="Groupe Exemple", organisation_id="group")
    access.found_organisation(owner=rival.id, name="Groupe Rival", organisation_id="rival")
    for establishment, product in (
        (PARC, ProductKind.GENERAL_PRACTICE),
        (TILLEULS, ProductKind.GENERAL_PRACTICE),
        (SOURIRE, ProductKind.DENTAL),
        (PATTES, ProductKind.VETERINARY),
    ):
        access.open_establishment(
            actor=owner.id,
            organisation_id=OrganisationId("group"),
            name=f"Cabinet {establishment}",
            product=product,
            establishment_id=establishment,
        )
    access.open_establishment(
        actor=rival.id,
        organisation_id=OrganisationId("rival"),
        name="Cabinet Rival",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=RIVAL,
    )
    return World(store, clock, access, ProfileService(access=access), owner.id, rival.id)


def _fields(error: PractitionerRejected) -> set[str | None]:
    return {v.field for v in error.violations}


# -- practitioner data (B1-B3): create, replace, normalise, report every field ----------------


def test_saving_practitioner_data_creates_it_with_the_profession_and_country_b1_b2(
    world: World,
):
    gp = world.join("anne")
    number = sample_inami("003")
    saved = world.save(gp, identifiers={"inami": number})
    assert saved.user_id == gp
    assert saved.profession is Profession.GENERAL_PRACTITIONER
    assert saved.country == "BE"
    assert saved.created_at == world.clock.now()
    assert world.stored(gp) == saved


def test_saving_again_replaces_the_data_but_keeps_settings_and_billing_b5_b6(world: World):
    gp = world.gp("anne")
    first = world.stored(gp)
    assert first is not None
    world.profiles.set_hub_region(actor=gp, user_id=gp, region="wallonia")
    world.profiles.save_billing(actor=gp, user_id=gp, iban_number=IBAN_BBRU, conventioned=True)
    world.clock.advance(days=1)
    second = world.save(
        gp,
        identifiers={"inami": first.inami.number if first.inami else None},
        addresses=[workplace(city="Liège", postal_code="4000")],
    )
    assert second.addresses[0].city == "Liège"
    assert second.created_at == first.created_at
    assert second.settings.hub_region is HubRegion.WALLONIA
    assert second.billing.conventioned is True
    assert second.billing.iban is not None
    assert second.version == first.version + 3  # hub region, billing, then this save


def test_identifiers_in_any_written_form_are_stored_compact_b2_b3(world: World):
    gp = world.join("anne")
    number = sample_inami("003")
    written = f"{number[0]}.{number[1:6]}.{number[6:8]}.{number[8:]}"
    saved = world.save(
        gp,
        identifiers={
            "inami": f" {written} ",
            "niss": f"{NISS[:2]}.{NISS[2:4]}.{NISS[4:6]}-{NISS[6:9]} {NISS[9:]}",
        },
    )
    assert saved.identifiers == {"inami": number, "niss": NISS}
    nurse = world.join("nina")
    french = world.save(
        nurse,
        Profession.NURSE,
        country="FR",
        identifiers={"rpps": "100 0123 4565", "adeli": "75 10 0123 1"},
    )
    assert french.identifiers == {"rpps": RPPS, "adeli": ADELI}


def test_a_workplace_phone_is_stored_in_international_form_b1(world: World):
    saved = world.save(world.join("anne"), identifiers={"inami": sample_inami()})
    assert saved.workplace is not None
    assert saved.workplace.phone == "+3281223344"
    assert saved.workplace.email is not None
    assert saved.workplace.email.address == "accueil@cabinet-exemple.be"


def test_every_refused_field_is_reported_at_once_with_its_name_b1_b2(world: World):
    user = world.join("anne")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(
            user,
            "astronaut",
            country="Belgique",
            identifiers={"inami": "1-23456-78-901", "rpps": "10001234566"},
            addresses=[workplace(country="BE", phone="12"), workplace(postal_code="999")],
        )
    assert _fields(raised.value) == {
        "profession",
        "country",
        "identifiers.inami",
        "identifiers.rpps",
        "addresses[0].phone",
        "addresses[1].postal_code",
    }
    assert world.stored(user) is None


def test_an_unknown_identifier_kind_is_refused_b2(world: World):
    user = world.join("anne")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami(), "passport": "X123"})
    assert raised.value.codes == ("identifiers.unknown_kind",)


# -- requirements as data, per product and country (B2, B3) ---------------------------------


@pytest.mark.parametrize(
    ("establishment", "profession"),
    [
        (PARC, Profession.GENERAL_PRACTITIONER),
        (PARC, Profession.SPECIALIST),
        (SOURIRE, Profession.DENTIST),
    ],
)
def test_a_belgian_physician_or_dentist_needs_an_inami_number_b2(
    world: World, establishment: EstablishmentId, profession: Profession
):
    user = world.join("anne", establishment)
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, profession, establishment=establishment)
    assert raised.value.codes == ("practitioner.identifier_required",)
    assert _fields(raised.value) == {"identifiers.inami"}


def test_a_belgian_dentist_with_a_dentist_inami_number_is_accepted_b2(world: World):
    user = world.join("denis", SOURIRE)
    saved = world.save(
        user,
        Profession.DENTIST,
        establishment=SOURIRE,
        identifiers={"inami": sample_inami("001", profession="3")},
    )
    assert saved.inami is not None
    assert saved.inami.profession_digit == "3"


def test_a_french_dentist_needs_an_rpps_number_b3(world: World):
    user = world.join("denise", SOURIRE)
    with pytest.raises(PractitionerRejected) as raised:
        world.save(
            user,
            Profession.DENTIST,
            establishment=SOURIRE,
            country="FR",
            identifiers={"adeli": ADELI},
        )
    assert raised.value.codes == ("practitioner.identifier_required",)
    assert _fields(raised.value) == {"identifiers.rpps"}
    saved = world.save(
        user, Profession.DENTIST, establishment=SOURIRE, country="FR", identifiers={"rpps": RPPS}
    )
    assert saved.rpps is not None


@pytest.mark.parametrize("profession", [Profession.NURSE, Profession.PHYSIOTHERAPIST])
@pytest.mark.parametrize(("kind", "number"), [("rpps", RPPS), ("adeli", ADELI)])
def test_a_french_paramedic_carries_an_rpps_or_an_adeli_number_b3(
    world: World, profession: Profession, kind: str, number: str
):
    saved = world.save(world.join("nina"), profession, country="FR", identifiers={kind: number})
    assert saved.identifiers == {kind: number}


def test_a_french_paramedic_without_rpps_or_adeli_is_refused_b3(world: World):
    with pytest.raises(PractitionerRejected) as raised:
        world.save(world.join("nina"), Profession.NURSE, country="FR")
    (violation,) = raised.value.violations
    assert violation.code == "practitioner.identifier_required"
    assert violation.params["kinds"] == ("rpps", "adeli")


def test_an_inami_number_of_another_profession_is_refused_b2(world: World):
    user = world.join("anne")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("001", profession="4")})
    assert raised.value.codes == ("practitioner.identifier_mismatch",)
    assert _fields(raised.value) == {"identifiers.inami"}
    assert raised.value.violations[0].params["expected_first_digits"] == ("1",)


def test_a_dentist_with_a_physician_inami_number_is_refused_b2(world: World):
    user = world.join("denis", SOURIRE)
    with pytest.raises(PractitionerRejected) as raised:
        world.save(
            user, Profession.DENTIST, establishment=SOURIRE, identifiers={"inami": sample_inami()}
        )
    assert raised.value.codes == ("practitioner.identifier_mismatch",)


def test_a_profession_the_product_does_not_offer_is_refused_b2(world: World):
    user = world.join("victor")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, Profession.VETERINARIAN)
    (violation,) = raised.value.violations
    assert violation.code == "practitioner.profession_not_offered"
    assert violation.field == "profession"
    assert violation.params["product"] == "general_practice"
    assert "veterinarian" not in violation.params["offered"]


def test_a_veterinarian_is_offered_by_a_veterinary_clinic_b2(world: World):
    saved = world.save(world.join("victor", PATTES), Profession.VETERINARIAN, establishment=PATTES)
    assert saved.profession is Profession.VETERINARIAN


def test_a_secretary_needs_no_identifier_and_no_workplace_b1_b2(world: World):
    saved = world.save(world.join("sarah", PARC, "secretary"), Profession.SECRETARY, addresses=[])
    assert saved.identifiers == {}
    assert saved.addresses == ()


def test_a_host_adds_its_own_rule_with_profession_rules_b2(world: World):
    custom = PROFESSION_RULES[ProductKind.GENERAL_PRACTICE].with_rule(
        ProfessionRule(Profession.SECRETARY, "BE", required=(("niss",),), workplace_address=False)
    )
    profiles = ProfileService(
        access=world.access,
        profession_rules={**PROFESSION_RULES, ProductKind.GENERAL_PRACTICE: custom},
    )
    secretary = world.join("sarah", PARC, "secretary")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(secretary, Profession.SECRETARY, addresses=[], profiles=profiles)
    assert raised.value.codes == ("practitioner.identifier_required",)
    assert _fields(raised.value) == {"identifiers.niss"}
    saved = world.save(
        secretary, Profession.SECRETARY, addresses=[], identifiers={"niss": NISS}, profiles=profiles
    )
    assert saved.identifiers == {"niss": NISS}


# -- B1: a reachable workplace address -------------------------------------------------------


def test_a_care_profession_needs_a_workplace_address_b1(world: World):
    with pytest.raises(PractitionerRejected) as raised:
        world.save(world.join("anne"), identifiers={"inami": sample_inami()}, addresses=[])
    assert raised.value.codes == ("practitioner.workplace_required",)
    assert _fields(raised.value) == {"addresses"}


def test_a_home_address_does_not_count_as_a_workplace_b1(world: World):
    with pytest.raises(PractitionerRejected) as raised:
        world.save(
            world.join("anne"),
            identifiers={"inami": sample_inami()},
            addresses=[workplace(kind="home")],
        )
    assert raised.value.codes == ("practitioner.workplace_required",)


def test_a_workplace_without_a_phone_does_not_count_b1(world: World):
    with pytest.raises(PractitionerRejected) as raised:
        world.save(
            world.join("anne"),
            identifiers={"inami": sample_inami()},
            addresses=[workplace(phone=None)],
        )
    assert raised.value.codes == ("practitioner.workplace_required",)


def test_a_reachable_workplace_among_other_addresses_is_found_b1(world: World):
    saved = world.save(
        world.join("anne"),
        identifiers={"inami": sample_inami()},
        addresses=[workplace(kind="home"), workplace(email=None), workplace(city="Liège")],
    )
    assert saved.workplace is not None
    assert saved.workplace.city == "Liège"


# -- B4: trainees and their supervisor -------------------------------------------------------


def test_a_trainee_without_a_supervisor_is_refused_b4(world: World):
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("005")})
    (violation,) = raised.value.violations
    assert violation.code == "practitioner.supervisor_required"
    assert violation.field == "supervisor"
    assert violation.params["establishments"] == (PARC,)


def test_a_trainee_with_code_006_needs_a_supervisor_too_b4(world: World):
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("006")})
    assert raised.value.codes == ("practitioner.supervisor_required",)


def test_a_trainee_saved_with_a_recognised_gp_records_the_supervisor_b4(world: World):
    gp = world.gp("anne")
    trainee = world.trainee("theo", gp)
    assert world.membership(trainee).supervisor == gp
    stored = world.stored(trainee)
    assert stored is not None
    assert stored.requires_supervisor


def test_supervisors_must_map_establishment_ids_to_user_ids_b4(world: World):
    anne = world.gp("anne")
    theo = world.join("theo")
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.save_practitioner(
            actor=world.owner,
            establishment_id=PARC,
            user_id=theo,
            profession="general_practitioner",
            country="BE",
            identifiers={"inami": sample_inami("005")},
            addresses=[workplace()],
            supervisors=[anne],  # type: ignore[arg-type]
        )
    assert raised.value.codes == ("supervisors.invalid",)


def test_supervisors_in_establishments_the_trainee_is_not_in_are_refused_b4(world: World):
    anne = world.gp("anne")
    theo = world.join("theo")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(
            theo,
            identifiers={"inami": sample_inami("005")},
            supervisor=anne,
            supervisors={RIVAL: anne},
        )
    assert raised.value.codes == ("supervisors.unknown_establishment",)
    assert raised.value.violations[0].params["establishments"] == (RIVAL,)
    assert world.stored(theo) is None


def test_a_trainee_cannot_supervise_themselves_b4(world: World):
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("005")}, supervisor=user)
    assert raised.value.codes == ("supervisor.self",)


@pytest.mark.parametrize("where", ["unknown", "other_establishment", "rival"])
def test_a_supervisor_who_is_not_a_member_here_is_refused_b4(world: World, where: str):
    if where == "unknown":
        supervisor = UserId("nobody-at-all")
    else:
        supervisor = world.gp("bruno", TILLEULS if where == "other_establishment" else RIVAL)
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("005")}, supervisor=supervisor)
    assert raised.value.codes == ("supervisor.not_member",)


def test_a_supervisor_with_a_deactivated_membership_is_refused_b4(world: World):
    gp = world.gp("anne")
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=gp)
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("005")}, supervisor=gp)
    assert raised.value.codes == ("supervisor.inactive",)


def test_a_supervisor_with_a_deactivated_account_is_refused_b4(world: World):
    gp = world.gp("anne")
    world.access.deactivate_user(actor=world.owner, user_id=gp)
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("005")}, supervisor=gp)
    assert raised.value.codes == ("supervisor.inactive",)


@pytest.mark.parametrize("candidate", ["specialist", "gp_000", "trainee", "no_data"])
def test_a_supervisor_must_be_a_recognised_general_practitioner_b4(world: World, candidate: str):
    supervisor = world.join("bruno")
    if candidate == "specialist":
        world.save(supervisor, Profession.SPECIALIST, identifiers={"inami": sample_inami("580")})
    elif candidate == "gp_000":
        world.save(supervisor, identifiers={"inami": sample_inami("000")})
    elif candidate == "trainee":
        world.save(
            supervisor, identifiers={"inami": sample_inami("005")}, supervisor=world.gp("anne")
        )
    user = world.join("theo", PARC, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(user, identifiers={"inami": sample_inami("005")}, supervisor=supervisor)
    assert raised.value.codes == ("supervisor.not_recognised_gp",)


def test_a_trainee_chooses_their_own_supervisor_b4(world: World):
    anne, bruno = world.gp("anne"), world.gp("bruno")
    trainee = world.trainee("theo", anne)
    changed = world.profiles.set_supervisor(
        actor=trainee, establishment_id=PARC, trainee=trainee, supervisor=bruno
    )
    assert changed.supervisor == bruno
    assert world.membership(trainee).supervisor == bruno


def test_set_supervisor_checks_the_supervisor_like_save_practitioner_b4(world: World):
    anne = world.gp("anne")
    specialist = world.join("sophie")
    world.save(specialist, Profession.SPECIALIST, identifiers={"inami": sample_inami("580")})
    trainee = world.trainee("theo", anne)
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.set_supervisor(
            actor=trainee, establishment_id=PARC, trainee=trainee, supervisor=specialist
        )
    assert raised.value.codes == ("supervisor.not_recognised_gp",)
    assert world.membership(trainee).supervisor == anne


def test_set_supervisor_for_someone_who_is_not_a_trainee_is_refused_b4(world: World):
    anne, bruno = world.gp("anne"), world.gp("bruno")
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.set_supervisor(
            actor=world.owner, establishment_id=PARC, trainee=bruno, supervisor=anne
        )
    assert raised.value.codes == ("supervisor.not_a_trainee",)
    assert world.membership(bruno).supervisor is None


def test_a_supervisor_given_to_someone_who_is_not_a_trainee_is_refused_b4(world: World):
    anne = world.gp("anne")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(world.join("bruno"), identifiers={"inami": sample_inami()}, supervisor=anne)
    assert raised.value.codes == ("supervisor.not_a_trainee",)


def test_a_trainee_needs_a_supervisor_in_every_establishment_b4(world: World):
    anne = world.gp("anne")
    number = sample_inami("005")
    trainee = world.trainee("theo", anne, inami=number)
    world.attach(trainee, TILLEULS, "trainee")
    with pytest.raises(PractitionerRejected) as raised:
        world.save(trainee, identifiers={"inami": number})
    (violation,) = raised.value.violations
    assert violation.code == "practitioner.supervisor_required"
    assert violation.params["establishments"] == (TILLEULS,)


def test_trainees_lists_the_active_trainees_of_a_supervisor_b4(world: World):
    anne, bruno = world.gp("anne"), world.gp("bruno")
    theo, ugo = world.trainee("theo", anne), world.trainee("ugo", anne)
    world.trainee("vera", bruno)
    listed = world.profiles.trainees(actor=world.owner, establishment_id=PARC, supervisor=anne)
    assert sorted(m.user_id for m in listed) == sorted([theo, ugo])


def test_deactivating_a_supervisors_membership_is_refused_while_they_have_trainees_b4(
    world: World,
):
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    with pytest.raises(SupervisesTrainees) as raised:
        world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=anne)
    assert raised.value.params["trainees"] == (trainee,)
    assert raised.value.params["establishments"] == (PARC,)
    assert world.membership(anne).is_active


def test_deactivating_a_supervisors_account_names_every_establishment_and_trainee_b4(
    world: World,
):
    anne = world.gp("anne")
    world.attach(anne, TILLEULS)
    theo = world.trainee("theo", anne)
    ugo = world.trainee("ugo", anne, TILLEULS)
    with pytest.raises(SupervisesTrainees) as raised:
        world.access.deactivate_user(actor=world.owner, user_id=anne)
    assert raised.value.params["establishments"] == (PARC, TILLEULS)
    assert raised.value.params["trainees"] == tuple(sorted([theo, ugo]))
    with world.store.unit_of_work() as uow:
        assert uow.users.get(anne).is_active


def test_after_handing_trainees_over_the_supervisor_can_be_deactivated_b4(world: World):
    anne, bruno = world.gp("anne"), world.gp("bruno")
    trainee = world.trainee("theo", anne)
    handed = world.profiles.hand_over_trainees(
        actor=world.owner, establishment_id=PARC, supervisor=anne, new_supervisor=bruno
    )
    assert [(m.user_id, m.supervisor) for m in handed] == [(trainee, bruno)]
    stopped = world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=anne)
    assert not stopped.is_active


def test_handing_trainees_over_to_someone_unqualified_changes_nothing_b4(world: World):
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    secretary = world.join("sarah", PARC, "secretary")
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.hand_over_trainees(
            actor=world.owner, establishment_id=PARC, supervisor=anne, new_supervisor=secretary
        )
    assert raised.value.codes == ("supervisor.not_recognised_gp",)
    assert world.membership(trainee).supervisor == anne


def test_a_deactivated_trainee_does_not_block_their_supervisor_b4(world: World):
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=trainee)
    stopped = world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=anne)
    assert not stopped.is_active


def test_a_trainee_with_a_deactivated_account_does_not_block_their_supervisor_b4(world: World):
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    world.access.deactivate_user(actor=world.owner, user_id=trainee)
    assert world.access.deactivate_user(actor=world.owner, user_id=anne).is_active is False


def test_a_deactivated_supervisor_is_unlinked_from_inactive_trainees_b4(world: World):
    # Otherwise reactivating the trainee would bring back a deactivated supervisor.
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=trainee)
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=anne)
    world.access.reactivate_member(actor=world.owner, establishment_id=PARC, user_id=trainee)
    assert world.membership(trainee).supervisor is None
    with pytest.raises(BillingIncomplete) as raised:
        world.profiles.billing_identity(actor=world.owner, establishment_id=PARC, user_id=trainee)
    assert raised.value.params["missing"] == ("supervisor",)


def test_a_deactivated_supervisor_account_is_unlinked_from_trainees_without_access_b4(
    world: World,
):
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    world.access.deactivate_user(actor=world.owner, user_id=trainee)
    world.access.deactivate_user(actor=world.owner, user_id=anne)
    assert world.membership(trainee).supervisor is None


def test_a_supervisor_who_stops_being_a_gp_is_unlinked_from_inactive_trainees_b4(world: World):
    anne = world.gp("anne")
    trainee = world.trainee("theo", anne)
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=trainee)
    number = world.data(anne).identifiers["inami"]
    world.save(anne, Profession.SPECIALIST, identifiers={"inami": number})
    assert world.membership(trainee).supervisor is None


def test_a_trainee_who_becomes_recognised_loses_the_supervisor_link_b4(world: World):
    anne = world.gp("anne")
    number = sample_inami("005")
    trainee = world.trainee("theo", anne, inami=number)
    keys = world.data(trainee).identity_keys
    recognised = world.save(trainee, identifiers={"inami": number[:8] + "003"})
    assert recognised.is_recognised_general_practitioner
    assert recognised.identity_keys == keys
    assert world.membership(trainee).supervisor is None
    assert world.profiles.trainees(actor=world.owner, establishment_id=PARC, supervisor=anne) == []
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=anne)


def test_a_recognised_trainee_loses_the_link_of_a_deactivated_membership_too_b4(world: World):
    anne = world.gp("anne")
    number = sample_inami("005")
    trainee = world.trainee("theo", anne, inami=number)
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=trainee)
    world.save(trainee, identifiers={"inami": number[:8] + "003"})
    assert world.membership(trainee).supervisor is None
    world.access.reactivate_member(actor=world.owner, establishment_id=PARC, user_id=trainee)
    world.access.deactivate_member(actor=world.owner, establishment_id=PARC, user_id=anne)


def test_only_the_trainee_or_a_users_edit_profile_holder_chooses_a_supervisor_b4(world: World):
    anne, bruno = world.gp("anne"), world.gp("bruno")
    trainee = world.trainee("theo", anne)
    secretary = world.join("sarah", PARC, "secretary")
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.set_supervisor(
            actor=secretary, establishment_id=PARC, trainee=trainee, supervisor=bruno
        )
    assert raised.value.params["reason"] == "missing_permission"
    with pytest.raises(PermissionDenied):
        world.profiles.hand_over_trainees(
            actor=trainee, establishment_id=PARC, supervisor=anne, new_supervisor=bruno
        )
    assert world.membership(trainee).supervisor == anne
    changed = world.profiles.set_supervisor(
        actor=world.owner, establishment_id=PARC, trainee=trainee, supervisor=bruno
    )
    assert changed.supervisor == bruno


@pytest.mark.parametrize(
    ("profession", "competence"),
    [(Profession.SPECIALIST, "003"), (Profession.GENERAL_PRACTITIONER, "000")],
)
def test_a_supervisor_who_would_stop_being_a_recognised_gp_is_refused_b4(
    world: World, profession: Profession, competence: str
):
    number = sample_inami("003")
    anne = world.gp("anne", inami=number)
    trainee = world.trainee("theo", anne)
    before = world.stored(anne)
    with pytest.raises(SupervisesTrainees) as raised:
        world.save(anne, profession, identifiers={"inami": number[:8] + competence})
    assert raised.value.params["trainees"] == (trainee,)
    assert world.stored(anne) == before


# -- B4, B6: whose account a practitioner bills with -----------------------------------------


def _supervisor_with_billing(world: World) -> UserId:
    anne = world.gp("anne")
    world.profiles.save_billing(
        actor=anne,
        user_id=anne,
        company_name="SRL Cabinet Exemple",
        enterprise_number=BCE,
        iban_number=IBAN_BBRU,
        conventioned=False,
    )
    return anne


def test_a_trainee_bills_with_the_supervisors_iban_bic_and_enterprise_number_b4_b6(
    world: World,
):
    anne = _supervisor_with_billing(world)
    trainee = world.trainee("theo", anne)
    world.profiles.save_billing(actor=trainee, user_id=trainee, iban_number=IBAN_GEBA)
    identity = world.profiles.billing_identity(
        actor=world.owner, establishment_id=PARC, user_id=trainee
    )
    assert identity.performer == trainee
    assert identity.account_holder == anne
    assert identity.via_supervisor
    assert identity.iban.number == IBAN_BBRU.replace(" ", "")
    assert identity.bic == "BBRUBEBB"
    assert identity.enterprise_number is not None
    assert identity.enterprise_number.number == BCE
    assert identity.company_name == "SRL Cabinet Exemple"
    assert identity.shared_trainee_account is False


def test_a_trainee_bills_on_the_practices_shared_trainee_account_b6(world: World):
    anne = _supervisor_with_billing(world)
    trainee = world.trainee("theo", anne)
    world.establishment_profile()
    profile = world.profiles.set_trainee_account(
        actor=world.owner, establishment_id=PARC, iban_number=IBAN_KRED
    )
    assert profile.trainee_account is not None
    identity = world.profiles.billing_identity(
        actor=trainee, establishment_id=PARC, user_id=trainee
    )
    assert identity.iban.number == IBAN_KRED
    assert identity.bic == "KREDBEBB"
    assert identity.shared_trainee_account is True
    assert identity.account_holder == anne
    assert identity.enterprise_number is not None
    assert identity.enterprise_number.number == BCE


def test_saving_the_establishment_profile_again_keeps_the_trainee_account_b6(world: World):
    world.establishment_profile()
    world.profiles.set_trainee_account(
        actor=world.owner, establishment_id=PARC, iban_number=IBAN_KRED
    )
    world.establishment_profile()
    profile = world.profiles.establishment_profile(actor=world.owner, establishment_id=PARC)
    assert profile is not None
    assert profile.trainee_account is not None
    assert profile.trainee_account.number == IBAN_KRED


def test_the_shared_trainee_account_can_be_removed_b6(world: World):
    anne = _supervisor_with_billing(world)
    trainee = world.trainee("theo", anne)
    world.establishment_profile()
    world.profiles.set_trainee_account(
        actor=world.owner, establishment_id=PARC, iban_number=IBAN_KRED
    )
    removed = world.profiles.set_trainee_account(
        actor=world.owner, establishment_id=PARC, iban_number=None
    )
    assert removed.trainee_account is None
    identity = world.profiles.billing_identity(
        actor=trainee, establishment_id=PARC, user_id=trainee
    )
    assert identity.iban.number == IBAN_BBRU.replace(" ", "")
    assert identity.shared_trainee_account is False


def test_the_shared_trainee_account_needs_a_saved_establishment_profile_b6(world: World):
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.profiles.set_trainee_account(
            actor=world.owner, establishment_id=PARC, iban_number=IBAN_KRED
        )
    assert raised.value.codes == ("profile.missing",)


def test_the_shared_trainee_account_is_not_used_by_other_practitioners_b6(world: World):
    anne = _supervisor_with_billing(world)
    world.establishment_profile()
    world.profiles.set_trainee_account(
        actor=world.owner, establishment_id=PARC, iban_number=IBAN_KRED
    )
    identity = world.profiles.billing_identity(actor=anne, establishment_id=PARC, user_id=anne)
    assert identity.iban.number == IBAN_BBRU.replace(" ", "")
    assert identity.shared_trainee_account is False


def test_billing_a_member_without_practitioner_data_is_incomplete_b6(world: World):
    secretary = world.join("sarah", PARC, "secretary")
    with pytest.raises(BillingIncomplete) as raised:
        world.profiles.billing_identity(actor=world.owner, establishment_id=PARC, user_id=secretary)
    assert raised.value.params["missing"] == ("practitioner",)


def test_billing_a_practitioner_without_an_iban_is_incomplete_b6(world: World):
    anne = world.gp("anne")
    with pytest.raises(BillingIncomplete) as raised:
        world.profiles.billing_identity(actor=world.owner, establishment_id=PARC, user_id=anne)
    assert raised.value.params["missing"] == ("iban",)


def test_billing_a_trainee_whose_supervisor_has_no_enterprise_number_is_incomplete_b4_b6(
    world: World,
):
    anne = world.gp("anne")
    world.profiles.save_billing(actor=anne, user_id=anne, iban_number=IBAN_BBRU)
    trainee = world.trainee("theo", anne)
    with pytest.raises(BillingIncomplete) as raised:
        world.profiles.billing_identity(actor=world.owner, establishment_id=PARC, user_id=trainee)
    assert raised.value.params["missing"] == ("enterprise_number",)


def test_billing_a_trainee_without_a_supervisor_in_that_establishment_is_incomplete_b4(
    world: World,
):
    anne = _supervisor_with_billing(world)
    trainee = world.trainee("theo", anne)
    world.attach(trainee, TILLEULS, "trainee")  # no supervisor chosen there yet
    with pytest.raises(BillingIncomplete) as raised:
        world.profiles.billing_identity(
            actor=world.owner, establishment_id=TILLEULS, user_id=trainee
        )
    assert raised.value.params["missing"] == ("supervisor",)


def test_a_practitioner_who_is_not_a_trainee_bills_with_their_own_data_b6(world: World):
    anne = _supervisor_with_billing(world)
    identity = world.profiles.billing_identity(
        actor=world.owner, establishment_id=PARC, user_id=anne
    )
    assert identity.account_holder == anne
    assert not identity.via_supervisor
    assert identity.company_name == "SRL Cabinet Exemple"


def test_conventioned_is_the_performers_own_status_b6(world: World):
    anne = _supervisor_with_billing(world)  # not conventioned
    trainee = world.trainee("theo", anne)
    world.profiles.save_billing(actor=trainee, user_id=trainee, conventioned=True)
    identity = world.profiles.billing_identity(
        actor=world.owner, establishment_id=PARC, user_id=trainee
    )
    assert identity.account_holder == anne
    assert identity.conventioned is True


# -- B6: financial data ----------------------------------------------------------------------


@pytest.mark.parametrize("written", [BCE, f"BE{BCE}", "BE 0403.019.261", "0403.019.261"])
def test_an_enterprise_number_is_accepted_with_or_without_be_b6(world: World, written: str):
    anne = world.gp("anne")
    saved = world.profiles.save_billing(actor=anne, user_id=anne, enterprise_number=written)
    assert saved.billing.enterprise_number is not None
    assert saved.billing.enterprise_number.number == BCE


def test_the_bic_is_derived_from_the_iban_b6(world: World):
    anne = world.gp("anne")
    saved = world.profiles.save_billing(
        actor=anne, user_id=anne, company_name="SRL Exemple", iban_number=IBAN_BBRU.lower()
    )
    assert saved.billing.iban is not None
    assert saved.billing.iban.number == "BE48320070184927"
    assert saved.billing.bic == "BBRUBEBB"
    assert saved.billing.company_name == "SRL Exemple"
    assert world.stored(anne) == saved


@pytest.mark.parametrize("number", [IBAN_UNKNOWN_BANK, IBAN_NO_BIC])
def test_an_iban_without_a_known_bic_is_accepted_with_a_notice_b6(world: World, number: str):
    anne = world.gp("anne")
    saved = world.profiles.save_billing(actor=anne, user_id=anne, iban_number=number)
    assert saved.billing.iban is not None
    assert saved.billing.bic is None
    assert [n.code for n in saved.billing.iban.notices] == ["iban.bic_unknown"]


def test_require_known_bank_refuses_an_iban_of_an_unknown_bank_b6(world: World):
    anne = world.gp("anne")
    strict = ProfileService(access=world.access, require_known_bank=True)
    with pytest.raises(PractitionerRejected) as raised:
        strict.save_billing(actor=anne, user_id=anne, iban_number=IBAN_UNKNOWN_BANK)
    assert _fields(raised.value) == {"iban_number"}
    assert strict.save_billing(actor=anne, user_id=anne, iban_number=IBAN_BBRU).billing.bic == (
        "BBRUBEBB"
    )


def test_require_known_bank_refuses_a_bank_code_known_without_a_bic_b6(world: World):
    # ProfileService: require_known_bank refuses "a Belgian IBAN whose bank code has no
    # known BIC, instead of accepting it with an iban.bic_unknown notice".
    anne = world.gp("anne")
    strict = ProfileService(access=world.access, require_known_bank=True)
    with pytest.raises(PractitionerRejected) as raised:
        strict.save_billing(actor=anne, user_id=anne, iban_number=IBAN_NO_BIC)
    assert _fields(raised.value) == {"iban_number"}


def test_every_refused_billing_field_is_named_b6(world: World):
    anne = world.gp("anne")
    before = world.stored(anne)
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.save_billing(
            actor=anne,
            user_id=anne,
            company_name="SRL\x00Exemple",
            enterprise_number="0403019262",
            iban_number="BE41091811735141",
            conventioned="yes",  # type: ignore[arg-type]
        )
    assert _fields(raised.value) == {
        "company_name",
        "enterprise_number",
        "iban_number",
        "conventioned",
    }
    assert world.stored(anne) == before


def test_saving_billing_replaces_it_whole_b6(world: World):
    anne = _supervisor_with_billing(world)
    saved = world.profiles.save_billing(actor=anne, user_id=anne, conventioned=True)
    assert saved.billing.conventioned is True
    assert saved.billing.iban is None
    assert saved.billing.enterprise_number is None


def test_billing_data_needs_practitioner_data_first_b6(world: World):
    sarah = world.join("sarah", PARC, "secretary")
    with pytest.raises(PractitionerNotFound):
        world.profiles.save_billing(actor=sarah, user_id=sarah, iban_number=IBAN_BBRU)


# -- B5: hub region ----------------------------------------------------------------------------


def test_a_practitioner_chooses_their_hub_region_b5(world: World):
    anne = world.gp("anne")
    saved = world.profiles.set_hub_region(actor=anne, user_id=anne, region=HubRegion.BRUSSELS)
    assert saved.settings.hub_region is HubRegion.BRUSSELS


def test_an_unknown_hub_region_is_refused_b5(world: World):
    anne = world.gp("anne")
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.set_hub_region(actor=anne, user_id=anne, region="atlantis")
    assert raised.value.codes == ("settings.unknown_hub_region",)


def test_no_hub_region_clears_it_b5(world: World):
    anne = world.gp("anne")
    world.profiles.set_hub_region(actor=anne, user_id=anne, region="flanders")
    cleared = world.profiles.set_hub_region(actor=anne, user_id=anne, region=None)
    assert cleared.settings.hub_region is None
    assert world.stored(anne) == cleared


# -- B5: eHealth certificate --------------------------------------------------------------------


def test_a_keystore_with_its_password_registers_the_certificate_b5(world: World):
    number = sample_inami("003")
    anne = world.gp("anne", inami=number)
    keystore = sample_certificate(
        nihii=number, not_before=world.clock.now() - timedelta(days=30), password=KEYSTORE_PASSWORD
    )
    saved = world.profiles.register_ehealth_certificate(
        actor=anne, user_id=anne, certificate=keystore, password=KEYSTORE_PASSWORD
    )
    certificate = saved.settings.ehealth
    assert certificate is not None
    assert certificate.holder_nihii == number
    assert certificate.registered_at == world.clock.now()
    assert certificate.is_valid_at(world.clock.now())
    assert len(certificate.sha256) == 64


def test_a_pem_certificate_registers_without_a_password_b5(world: World):
    anne = world.gp("anne")
    pem = sample_certificate(not_before=world.clock.now() - timedelta(days=1), password=None)
    saved = world.profiles.register_ehealth_certificate(actor=anne, user_id=anne, certificate=pem)
    assert saved.settings.ehealth is not None
    assert saved.settings.ehealth.holder_nihii is None


def test_a_wrong_keystore_password_makes_the_certificate_unreadable_b5(world: World):
    anne = world.gp("anne")
    keystore = sample_certificate(
        not_before=world.clock.now() - timedelta(days=1), password=KEYSTORE_PASSWORD
    )
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_ehealth_certificate(
            actor=anne, user_id=anne, certificate=keystore, password="Pas-Le-Bon-Mot-De-Passe"
        )
    assert raised.value.codes == ("ehealth.certificate_unreadable",)
    assert "Pas-Le-Bon" not in repr(raised.value.to_dict())


def test_an_expired_certificate_is_refused_b5(world: World):
    anne = world.gp("anne")
    pem = sample_certificate(
        not_before=world.clock.now() - timedelta(days=400), days=365, password=None
    )
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_ehealth_certificate(actor=anne, user_id=anne, certificate=pem)
    assert raised.value.codes == ("ehealth.certificate_expired",)


def test_a_certificate_not_yet_valid_is_refused_b5(world: World):
    anne = world.gp("anne")
    pem = sample_certificate(not_before=world.clock.now() + timedelta(days=2), password=None)
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_ehealth_certificate(actor=anne, user_id=anne, certificate=pem)
    assert raised.value.codes == ("ehealth.certificate_not_yet_valid",)
    world.clock.advance(days=3)
    saved = world.profiles.register_ehealth_certificate(actor=anne, user_id=anne, certificate=pem)
    assert saved.settings.ehealth is not None


def test_a_certificate_naming_another_inami_number_is_refused_b5(world: World):
    anne = world.gp("anne")
    pem = sample_certificate(
        nihii=sample_inami("003"), not_before=world.clock.now() - timedelta(days=1), password=None
    )
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_ehealth_certificate(actor=anne, user_id=anne, certificate=pem)
    assert raised.value.codes == ("ehealth.certificate_other_holder",)
    assert world.data(anne).settings.ehealth is None


def test_the_keystore_password_is_kept_nowhere_b5(world: World):
    number = sample_inami("003")
    anne = world.gp("anne", inami=number)
    keystore = sample_certificate(
        nihii=number, not_before=world.clock.now() - timedelta(days=1), password=KEYSTORE_PASSWORD
    )
    saved = world.profiles.register_ehealth_certificate(
        actor=anne, user_id=anne, certificate=keystore, password=KEYSTORE_PASSWORD
    )
    stored = world.store._practitioners[anne]
    assert stored.settings.ehealth is not None
    for text in (repr(saved), repr(stored), repr(attrs.asdict(stored)), repr(world.store.__dict__)):
        assert KEYSTORE_PASSWORD not in text


# -- B5, B6: eDMG registration ----------------------------------------------------------------


def _seven_accounts() -> dict[str, str]:
    return {m.value: _belgian_iban("001", f"{n:07d}") for n, m in enumerate(Mutuality, 1)}


def test_one_iban_registers_edmg_for_all_seven_mutualities_b5_b6(world: World):
    anne = world.gp("anne")
    saved = world.profiles.register_edmg(
        actor=anne, user_id=anne, accounts=IBAN_BBRU, accept_terms=True
    )
    edmg = saved.settings.edmg
    assert edmg is not None
    assert edmg.same_account
    assert set(edmg.accounts) == set(Mutuality)
    assert edmg.registered_at == world.clock.now()


def test_one_iban_per_mutuality_registers_edmg_b5_b6(world: World):
    anne = world.gp("anne")
    accounts = _seven_accounts()
    saved = world.profiles.register_edmg(
        actor=anne, user_id=anne, accounts=accounts, accept_terms=True
    )
    edmg = saved.settings.edmg
    assert edmg is not None
    assert not edmg.same_account
    assert edmg.accounts[Mutuality.LIBERAL].number == accounts["400"]


def test_edmg_without_an_account_for_every_mutuality_is_refused_b6(world: World):
    anne = world.gp("anne")
    accounts = _seven_accounts()
    del accounts["900"]
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_edmg(actor=anne, user_id=anne, accounts=accounts, accept_terms=True)
    (violation,) = raised.value.violations
    assert violation.code == "edmg.missing_mutuality"
    assert violation.params["missing"] == ("900",)


def test_edmg_with_an_unknown_mutuality_code_is_refused_b6(world: World):
    anne = world.gp("anne")
    accounts = {**_seven_accounts(), "700": IBAN_KRED}
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_edmg(actor=anne, user_id=anne, accounts=accounts, accept_terms=True)
    assert raised.value.codes == ("edmg.unknown_mutuality",)


def test_edmg_without_accepting_the_terms_is_refused_b5(world: World):
    anne = world.gp("anne")
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_edmg(
            actor=anne, user_id=anne, accounts=IBAN_BBRU, accept_terms=False
        )
    assert raised.value.codes == ("edmg.terms_not_accepted",)
    assert _fields(raised.value) == {"accept_terms"}
    assert world.data(anne).settings.edmg is None


@pytest.mark.parametrize("who", ["specialist", "french_gp"])
def test_only_belgian_general_practitioners_register_for_edmg_b5(world: World, who: str):
    user = world.join("sophie")
    if who == "specialist":
        world.save(user, Profession.SPECIALIST, identifiers={"inami": sample_inami("580")})
    else:
        world.save(user, country="FR", identifiers={"rpps": RPPS})
    with pytest.raises(PractitionerRejected) as raised:
        world.profiles.register_edmg(
            actor=user, user_id=user, accounts=IBAN_BBRU, accept_terms=True
        )
    assert raised.value.codes == ("edmg.not_eligible",)


def test_registering_edmg_again_changes_the_accounts_but_keeps_the_date_b5(world: World):
    anne = world.gp("anne")
    first = world.profiles.register_edmg(
        actor=anne, user_id=anne, accounts=IBAN_BBRU, accept_terms=True
    )
    world.clock.advance(days=30)
    again = world.profiles.register_edmg(
        actor=anne, user_id=anne, accounts=_seven_accounts(), accept_terms=True
    )
    assert first.settings.edmg is not None
    assert again.settings.edmg is not None
    assert again.settings.edmg.registered_at == first.settings.edmg.registered_at
    assert not again.settings.edmg.same_account


# -- B2, B3: one number, one practitioner -----------------------------------------------------


def test_two_users_cannot_hold_the_same_inami_person_key_b2(world: World):
    number = sample_inami("005")
    anne = world.gp("anne")
    world.trainee("theo", anne, inami=number)
    bruno = world.join("bruno")
    with pytest.raises(DuplicateIdentifier) as raised:
        world.save(bruno, identifiers={"inami": number[:8] + "003"})
    assert raised.value.params["kind"] == "inami"
    assert world.stored(bruno) is None


def test_a_refused_duplicate_leaves_the_previous_data_unchanged_b2(world: World):
    taken = sample_inami("003")
    world.gp("anne", inami=taken)
    bruno = world.gp("bruno")
    before = world.stored(bruno)
    with pytest.raises(DuplicateIdentifier):
        world.save(bruno, identifiers={"inami": taken}, addresses=[workplace(city="Liège")])
    assert world.stored(bruno) == before


@pytest.mark.parametrize(("kind", "number"), [("rpps", RPPS), ("adeli", ADELI)])
def test_two_users_cannot_hold_the_same_french_number_b3(world: World, kind: str, number: str):
    world.save(world.join("nina"), Profession.NURSE, country="FR", identifiers={kind: number})
    other = world.join("noemie")
    with pytest.raises(DuplicateIdentifier) as raised:
        world.save(other, Profession.NURSE, country="FR", identifiers={kind: number})
    assert raised.value.params["kind"] == kind
    assert world.stored(other) is None


def test_two_users_cannot_hold_the_same_niss_b2(world: World):
    world.save(world.join("anne"), identifiers={"inami": sample_inami(), "niss": NISS})
    bruno = world.join("bruno")
    with pytest.raises(DuplicateIdentifier) as raised:
        world.save(bruno, identifiers={"inami": sample_inami(), "niss": NISS})
    assert raised.value.params["kind"] == "niss"
    assert world.stored(bruno) is None


def test_the_short_inami_form_and_the_full_one_are_the_same_person_b2(world: World):
    number = sample_inami("003")
    world.gp("anne", inami=number[:8])
    bruno = world.join("bruno")
    with pytest.raises(DuplicateIdentifier):
        world.save(bruno, identifiers={"inami": number})
    assert world.stored(bruno) is None


def test_a_number_given_up_can_be_taken_by_someone_else_b2(world: World):
    number = sample_inami("003")
    anne = world.gp("anne", inami=number)
    world.save(anne, identifiers={"inami": sample_inami("003")})
    bruno = world.join("bruno")
    assert world.save(bruno, identifiers={"inami": number}).inami is not None


# -- who may read and change practitioner data (A5, C1: the account's scope) ------------------


def test_the_person_edits_their_own_practitioner_and_billing_data(world: World):
    anne = world.join("anne")
    saved = world.save(anne, identifiers={"inami": sample_inami()}, actor=anne)
    assert saved.user_id == anne
    billed = world.profiles.save_billing(actor=anne, user_id=anne, iban_number=IBAN_BBRU)
    assert billed.billing.iban is not None


def test_an_administrator_of_the_establishment_that_created_the_account_edits_it(world: World):
    director = world.join("diane", PARC, "administrator")
    anne = world.join("anne")
    saved = world.save(anne, identifiers={"inami": sample_inami()}, actor=director)
    assert saved.user_id == anne
    billed = world.profiles.save_billing(actor=director, user_id=anne, iban_number=IBAN_BBRU)
    assert billed.billing.iban is not None


def test_an_establishment_that_only_attached_the_account_may_not_edit_it_a5_c1(world: World):
    registered = sample_user(first_name="Dominique", last_name="Libre")
    with world.store.unit_of_work() as uow:
        uow.users.add(registered)
        uow.commit()
    world.attach(registered.id, PARC)
    with pytest.raises(PermissionDenied) as raised:
        world.save(registered.id, identifiers={"inami": sample_inami()})
    assert raised.value.params["reason"] == "account_not_managed"
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.save_billing(actor=world.owner, user_id=registered.id, conventioned=True)
    assert raised.value.params["reason"] == "account_not_managed"
    mine = world.save(registered.id, identifiers={"inami": sample_inami()}, actor=registered.id)
    assert mine.user_id == registered.id


def test_a_stranger_may_not_edit_practitioner_data_even_with_invalid_input(world: World):
    anne = world.gp("anne")
    before = world.stored(anne)
    with pytest.raises(PermissionDenied):
        world.save(anne, identifiers={"inami": sample_inami()}, actor=world.rival)
    with pytest.raises(PermissionDenied):
        world.save(anne, "astronaut", actor=world.rival)
    with pytest.raises(PermissionDenied):
        world.profiles.save_billing(actor=world.rival, user_id=anne, iban_number=IBAN_KRED)
    assert world.stored(anne) == before


def test_a_member_without_users_edit_profile_may_not_edit_someone_else(world: World):
    anne = world.gp("anne")
    secretary = world.join("sarah", PARC, "secretary")
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.set_hub_region(actor=secretary, user_id=anne, region="wallonia")
    assert raised.value.params["reason"] == "missing_permission"


def test_practitioner_data_is_readable_by_the_person_and_users_view_holders(world: World):
    anne = world.gp("anne")
    secretary = world.join("sarah", PARC, "secretary")
    assert world.profiles.practitioner(actor=anne, user_id=anne).user_id == anne
    assert world.profiles.practitioner(actor=secretary, user_id=anne).user_id == anne


def test_practitioner_data_is_readable_in_every_establishment_the_person_works_in(
    world: World,
):
    anne = world.gp("anne")
    world.attach(anne, TILLEULS)
    elsewhere = world.join("sarah", TILLEULS, "secretary")
    assert world.profiles.practitioner(actor=elsewhere, user_id=anne).user_id == anne


def test_a_stranger_is_refused_before_learning_whether_practitioner_data_exists(world: World):
    sarah = world.join("sarah", PARC, "secretary")
    with pytest.raises(PermissionDenied):
        world.profiles.practitioner(actor=world.rival, user_id=sarah)
    with pytest.raises(PractitionerNotFound):
        world.profiles.practitioner(actor=world.owner, user_id=sarah)


def test_practitioner_data_is_not_readable_by_others(world: World):
    anne = world.gp("anne")
    trainee_role = world.join("theo", PARC, "trainee")  # no users.view
    elsewhere = world.join("sarah", TILLEULS, "secretary")
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.practitioner(actor=trainee_role, user_id=anne)
    assert raised.value.params["reason"] == "missing_permission"
    for actor in (elsewhere, world.rival):
        with pytest.raises(PermissionDenied) as raised:
            world.profiles.practitioner(actor=actor, user_id=anne)
        assert raised.value.params["reason"] == "not_member"


def test_support_staff_read_and_edit_practitioner_data(world: World):
    anne = world.gp("anne")
    assert world.profiles.practitioner(actor=SUPPORT, user_id=anne).user_id == anne
    billed = world.profiles.save_billing(actor=SUPPORT, user_id=anne, iban_number=IBAN_BBRU)
    assert billed.billing.iban is not None
    saved = world.save(anne, identifiers={"inami": sample_inami()}, actor=SUPPORT)
    assert saved.user_id == anne


def test_billing_identity_is_not_readable_by_a_stranger_b6(world: World):
    anne = _supervisor_with_billing(world)
    with pytest.raises(PermissionDenied):
        world.profiles.billing_identity(actor=world.rival, establishment_id=PARC, user_id=anne)


# -- E3: who pays for a license ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("profession", "pays"),
    [
        (Profession.GENERAL_PRACTITIONER, True),
        (Profession.SPECIALIST, True),
        (Profession.NURSE, False),
        (Profession.PHYSIOTHERAPIST, False),
        (Profession.SECRETARY, False),
    ],
)
def test_in_a_general_practice_only_physicians_pay_for_a_license_e3(
    world: World,
    profession: Profession,
    pays: bool,  # noqa: FBT001
):
    user = world.join("alex")
    world.save(
        user,
        profession,
        identifiers={"inami": sample_inami()} if profession.is_physician else None,
    )
    assert world.profiles.pays_license(establishment_id=PARC, user_id=user) is pays


def test_in_a_dental_centre_the_dentist_pays_for_a_license_e3(world: World):
    user = world.join("denis", SOURIRE)
    world.save(
        user,
        Profession.DENTIST,
        establishment=SOURIRE,
        country="FR",
        identifiers={"rpps": RPPS},
    )
    assert world.profiles.pays_license(establishment_id=SOURIRE, user_id=user) is True


def test_in_a_dental_centre_an_assistant_pays_no_license_e3(world: World):
    user = world.join("alice", SOURIRE, "assistant")
    world.save(user, Profession.ASSISTANT, establishment=SOURIRE, addresses=[])
    assert world.profiles.pays_license(establishment_id=SOURIRE, user_id=user) is False


def test_in_a_veterinary_clinic_the_veterinarian_pays_for_a_license_e3(world: World):
    user = world.join("victor", PATTES)
    world.save(user, Profession.VETERINARIAN, establishment=PATTES)
    assert world.profiles.pays_license(establishment_id=PATTES, user_id=user) is True


def test_a_member_without_practitioner_data_pays_no_license_e3(world: World):
    user = world.join("alex")
    assert world.profiles.pays_license(establishment_id=PARC, user_id=user) is False
