"""Examples for initials and names (A7) and the establishment profile (C7, B6).

Through :class:`AccessService` and :class:`ProfileService` with the in-memory store: one test
per behaviour, named as the behaviour. Every person, address, number and image here is made
up.
"""

from __future__ import annotations

import attrs
import pytest

from practiceid import (
    AccessService,
    DuplicateInitials,
    EstablishmentId,
    EstablishmentProfile,
    EstablishmentProfileRejected,
    MemberAdded,
    Membership,
    OrganisationId,
    PermissionDenied,
    ProductKind,
    ProfileRejected,
    ProfileService,
    User,
    UserId,
)
from practiceid.adapters import InMemoryStore
from practiceid.testing import ManualClock, sample_inami, sample_jpeg, sample_png, sample_user

TRAINEE_ACCOUNT = "BE48 3200 7018 4927"


@attrs.define
class World:
    """A group with two practices, a rival group with one, and the people working there."""

    store: InMemoryStore
    clock: ManualClock
    access: AccessService
    profiles: ProfileService
    users: dict[str, UserId]
    parc: EstablishmentId
    gare: EstablishmentId
    ailleurs: EstablishmentId

    def add(
        self,
        key: str,
        first_name: str,
        last_name: str,
        *roles: str,
        establishment: EstablishmentId | None = None,
        initials: str | None = None,
    ) -> MemberAdded:
        """Add a new person (their account is created by the owner, C1)."""
        added = self.access.add_member(
            actor=self.users["owner"],
            establishment_id=establishment or self.parc,
            email=f"{key}@cabinet-exemple.be",
            roles=roles,
            first_name=first_name,
            last_name=last_name,
            initials=initials,
        )
        self.users[key] = added.user.id
        return added

    def membership(self, key: str, establishment: EstablishmentId | None = None) -> Membership:
        with self.store.unit_of_work() as uow:
            return uow.memberships.get(establishment or self.parc, self.users[key])

    def user(self, key: str) -> User:
        with self.store.unit_of_work() as uow:
            return uow.users.get(self.users[key])

    def save_profile(self, **overrides: object) -> EstablishmentProfile:
        fields: dict[str, object] = {
            "actor": self.users["owner"],
            "establishment_id": self.parc,
            "name": "Cabinet du Parc",
            "street": "Rue du Parc 1",
            "postal_code": "5000",
            "city": "Namur",
            "country": "BE",
            "phone": "081 22 33 44",
            "email": "accueil@cabinet-exemple.be",
        }
        fields.update(overrides)
        return self.profiles.save_establishment_profile(**fields)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    store = InMemoryStore()
    clock = ManualClock()
    access = AccessService(unit_of_work=store.unit_of_work, clock=clock)
    owner, rival = sample_user(first_name="Odile"), sample_user(first_name="Romain")
    with store.unit_of_work() as uow:
        uow.users.add(owner)
        uow.users.add(rival)
        uow.commit()
    w = World(
        store,
        clock,
        access,
        ProfileService(access=access),
        {"owner": owner.id, "rival": rival.id},
        EstablishmentId("parc"),
        EstablishmentId("gare"),
        EstablishmentId("ailleurs"),
    )
    group, other = OrganisationId("groupe"), OrganisationId("rival")
    access.found_organisation(owner=owner.id, name="Groupe du Parc", organisation_id=group)
    access.found_organisation(owner=rival.id, name="Groupe Rival", organisation_id=other)
    for establishment, name in ((w.parc, "Cabinet du Parc"), (w.gare, "Cabinet de la Gare")):
        access.open_establishment(
            actor=owner.id,
            organisation_id=group,
            name=name,
            product=ProductKind.GENERAL_PRACTICE,
            establishment_id=establishment,
        )
    access.open_establishment(
        actor=rival.id,
        organisation_id=other,
        name="Cabinet d'Ailleurs",
        product=ProductKind.GENERAL_PRACTICE,
        establishment_id=w.ailleurs,
    )
    w.add("admin", "Sophie", "Lambert", "administrator")
    w.add("manager", "Marc", "Renard", "user_manager")
    w.add("secretary", "Nadia", "Claes", "secretary")
    w.add("jean", "Jean", "Dupont", "physician")
    return w


# -- A7: initials derived, adjusted, typed ----------------------------------------------------


def test_initials_are_derived_from_the_names_when_a_member_is_added_a7(world: World):
    added = world.add("anne", "Anne", "Peeters", "physician")
    assert added.membership.initials == "AP"
    assert [n.code for n in added.notices] == []
    assert world.membership("jean").initials == "JD"


def test_a_second_member_with_the_same_initials_gets_more_letters_and_a_notice_a7(world: World):
    added = world.add("julie", "Julie", "Durand", "physician")
    assert added.membership.initials == "JDu"
    (notice,) = [n for n in added.notices if n.code == "member.initials_adjusted"]
    assert notice.field == "initials"
    assert dict(notice.params) == {"derived": "JD", "initials": "JDu"}
    assert world.membership("julie").initials == "JDu"


def test_a_third_member_with_the_same_initials_gets_the_next_free_ones_a7(world: World):
    world.add("julie", "Julie", "Durand", "physician")
    added = world.add("jacques", "Jacques", "Dupuis", "physician")
    assert added.membership.initials == "JDup"
    (notice,) = [n for n in added.notices if n.code == "member.initials_adjusted"]
    assert dict(notice.params) == {"derived": "JD", "initials": "JDup"}


def test_given_initials_are_kept_as_typed_a7(world: World):
    added = world.add("lea", "Léa", "Martin", "physician", initials=" lMa ")
    assert added.membership.initials == "lMa"  # trimmed, case kept
    assert not [n for n in added.notices if n.code == "member.initials_adjusted"]


@pytest.mark.parametrize("typed", ["JD", "jd", "Jd", "ＪＤ"])
def test_given_initials_that_clash_case_insensitively_are_refused_with_a_suggestion_a7(
    world: World, typed: str
):
    with pytest.raises(DuplicateInitials) as raised:
        world.add("jules", "Jules", "Dumont", "physician", initials=typed)
    assert raised.value.params["initials"] == typed
    assert raised.value.params["establishment_id"] == world.parc
    suggestion = raised.value.params["suggestion"]
    assert suggestion == "JDu"  # typed as derived: more letters of the last name
    assert "jules" not in world.users  # nobody was added
    added = world.add("jules", "Jules", "Dumont", "physician", initials=suggestion)
    assert added.membership.initials == "JDu"


def test_typed_initials_that_clash_get_a_numbered_suggestion_a7(world: World):
    with pytest.raises(DuplicateInitials) as raised:
        world.add("lea", "Léa", "Martin", "physician", initials="nc")  # Nadia Claes's
    assert raised.value.params["suggestion"] == "nc2"


INVALID_INITIALS = [
    pytest.param("J D", "initials.invalid_character", id="space"),
    pytest.param("ABCDEFGHI", "initials.too_long", id="nine characters"),
    pytest.param("", "initials.required", id="empty"),
    pytest.param("   ", "initials.required", id="blank"),
    pytest.param("J\x00D", "initials.invalid_character", id="control character"),
    pytest.param("J\u202eD", "initials.invalid_character", id="bidi override"),
    pytest.param(".JD", "initials.invalid_character", id="leading dot"),
    pytest.param("-JD", "initials.invalid_character", id="leading hyphen"),
    pytest.param("JD!", "initials.invalid_character", id="exclamation mark"),
    pytest.param(42, "initials.not_text", id="not text"),
]


@pytest.mark.parametrize(("raw", "code"), INVALID_INITIALS)
def test_invalid_initials_are_refused_when_adding_a_member_a7(world: World, raw: object, code: str):
    with pytest.raises(ProfileRejected) as raised:
        world.add("lea", "Léa", "Martin", "physician", initials=raw)  # type: ignore[arg-type]
    assert raised.value.codes == (code,)
    assert [v.field for v in raised.value.violations] == ["initials"]
    assert "lea" not in world.users


@pytest.mark.parametrize(("raw", "code"), INVALID_INITIALS)
def test_invalid_initials_are_refused_when_changing_them_a7(world: World, raw: object, code: str):
    with pytest.raises(ProfileRejected) as raised:
        world.profiles.set_initials(
            actor=world.users["jean"],
            establishment_id=world.parc,
            user_id=world.users["jean"],
            initials=raw,  # type: ignore[arg-type]
        )
    assert raised.value.codes == (code,)
    assert [v.field for v in raised.value.violations] == ["initials"]
    assert world.membership("jean").initials == "JD"


def test_typed_punctuation_between_letters_is_accepted_a7(world: World):
    added = world.add("lea", "Léa", "Martin", "physician", initials="L.-M.")
    assert added.membership.initials == "L.-M."


def test_the_same_initials_are_fine_in_another_establishment_a7(world: World):
    attached = world.access.add_member(
        actor=world.users["owner"],
        establishment_id=world.gare,
        email="jean@cabinet-exemple.be",
        roles=["physician"],
    )
    assert attached.created_user is False
    assert attached.membership.initials == "JD"
    added = world.add("jeanne", "Jeanne", "Dubois", "physician", establishment=world.gare)
    assert added.membership.initials == "JDu"  # Jean Dupont is JD at the Gare too
    other = world.access.add_member(
        actor=world.users["rival"],
        establishment_id=world.ailleurs,
        email="j.deprez@cabinet-exemple.be",
        roles=["physician"],
        first_name="Jérôme",
        last_name="Deprez",
    )
    assert other.membership.initials == "JD"
    assert not other.notices


def test_a_member_changes_their_own_initials_a7(world: World):
    # A secretary does not hold users.edit_profile, but their initials are their own.
    changed = world.profiles.set_initials(
        actor=world.users["secretary"],
        establishment_id=world.parc,
        user_id=world.users["secretary"],
        initials="NaC",
    )
    assert changed.initials == "NaC"
    assert world.membership("secretary").initials == "NaC"


def test_a_holder_of_users_edit_profile_changes_a_members_initials_a7(world: World):
    changed = world.profiles.set_initials(
        actor=world.users["manager"],
        establishment_id=world.parc,
        user_id=world.users["jean"],
        initials="JDt",
    )
    assert changed.initials == "JDt"
    assert world.membership("jean").initials == "JDt"
    # JD is free again: the next Dupont gets it, without notice.
    assert world.add("jules", "Jules", "Dumont", "physician").membership.initials == "JD"


def test_a_member_without_users_edit_profile_cannot_change_anothers_initials_a7(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.set_initials(
            actor=world.users["secretary"],
            establishment_id=world.parc,
            user_id=world.users["jean"],
            initials="XX",
        )
    assert raised.value.params["missing"] == ("users.edit_profile",)
    assert world.membership("jean").initials == "JD"


def test_a_stranger_cannot_change_a_members_initials_a7(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.set_initials(
            actor=world.users["rival"],
            establishment_id=world.parc,
            user_id=world.users["jean"],
            initials="XX",
        )
    assert raised.value.params["reason"] == "not_member"


def test_setting_ones_current_initials_again_changes_nothing_a7(world: World):
    before = world.membership("jean")
    same = world.profiles.set_initials(
        actor=world.users["jean"],
        establishment_id=world.parc,
        user_id=world.users["jean"],
        initials=" JD ",
    )
    assert same.version == before.version
    assert world.membership("jean") == before


def test_a_member_may_change_the_case_of_their_own_initials_a7(world: World):
    before = world.membership("jean")
    changed = world.profiles.set_initials(
        actor=world.users["jean"],
        establishment_id=world.parc,
        user_id=world.users["jean"],
        initials="jd",
    )
    assert changed.initials == "jd"
    assert changed.version > before.version


@pytest.mark.parametrize("typed", ["NC", "nc", "ｎｃ"])
def test_changing_to_another_members_initials_is_refused_with_a_suggestion_a7(
    world: World, typed: str
):
    with pytest.raises(DuplicateInitials) as raised:
        world.profiles.set_initials(
            actor=world.users["jean"],
            establishment_id=world.parc,
            user_id=world.users["jean"],
            initials=typed,
        )
    assert raised.value.params["initials"] == typed
    suggestion = raised.value.params["suggestion"]
    assert suggestion == f"{typed}2"
    changed = world.profiles.set_initials(
        actor=world.users["jean"],
        establishment_id=world.parc,
        user_id=world.users["jean"],
        initials=suggestion,
    )
    assert changed.initials == suggestion


# -- A7: names and job title ------------------------------------------------------------------


def test_rename_changes_names_and_job_title_but_keeps_initials_a7(world: World):
    renamed = world.profiles.rename(
        actor=world.users["owner"],
        user_id=world.users["jean"],
        first_name=" Jean-Luc ",
        last_name="Lenoir",
        job_title="Médecin coordinateur",
    )
    assert (renamed.first_name, renamed.last_name, renamed.job_title) == (
        "Jean-Luc",
        "Lenoir",
        "Médecin coordinateur",
    )
    assert world.user("jean") == renamed
    assert world.membership("jean").initials == "JD"


def test_renaming_to_the_same_names_stores_nothing_a7(world: World):
    before = world.user("jean")
    same = world.profiles.rename(
        actor=world.users["jean"],
        user_id=world.users["jean"],
        first_name="Jean",
        last_name="Dupont",
    )
    assert same == before


def test_a_member_renames_themself_a7(world: World):
    renamed = world.profiles.rename(
        actor=world.users["secretary"],
        user_id=world.users["secretary"],
        first_name="Nadia",
        last_name="Claes-Renard",
        job_title="Accueillante",
    )
    assert world.user("secretary").last_name == "Claes-Renard"
    assert renamed.job_title == "Accueillante"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(
            {"first_name": "", "last_name": "Dupont"},
            {("first_name", "profile.required")},
            id="empty first name",
        ),
        pytest.param(
            {"first_name": "Jean", "last_name": "Du\x00pont"},
            {("last_name", "profile.invalid_character")},
            id="control character",
        ),
        pytest.param(
            {"first_name": "Jean", "last_name": "Dupont", "job_title": "x" * 101},
            {("job_title", "profile.too_long")},
            id="job title too long",
        ),
        pytest.param(
            {"first_name": "  ", "last_name": None, "job_title": "a\u202eb"},
            {
                ("first_name", "profile.required"),
                ("last_name", "profile.not_text"),
                ("job_title", "profile.invalid_character"),
            },
            id="every field at once",
        ),
    ],
)
def test_rename_refuses_invalid_names_a7(
    world: World, names: dict[str, object], expected: set[tuple[str, str]]
):
    before = world.user("jean")
    with pytest.raises(ProfileRejected) as raised:
        world.profiles.rename(
            actor=world.users["owner"],
            user_id=world.users["jean"],
            **names,  # type: ignore[arg-type]
        )
    assert {(v.field, v.code) for v in raised.value.violations} == expected
    assert world.user("jean") == before


def test_a_member_without_users_edit_profile_cannot_rename_another_a7(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.rename(
            actor=world.users["secretary"],
            user_id=world.users["jean"],
            first_name="Jean",
            last_name="Autre",
        )
    assert raised.value.params["missing"] == ("users.edit_profile",)
    assert world.user("jean").last_name == "Dupont"


def test_renaming_an_attached_account_is_refused_a7(world: World):
    # The account was made elsewhere (registered on its own) and only attached here (C1):
    # holding users.edit_profile here gives no power over it.
    outsider = sample_user(first_name="Dominique", last_name="Libre")
    with world.store.unit_of_work() as uow:
        uow.users.add(outsider)
        uow.commit()
    world.access.add_member(
        actor=world.users["owner"],
        establishment_id=world.parc,
        email=outsider.email.address,
        roles=["physician"],
    )
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.rename(
            actor=world.users["owner"], user_id=outsider.id, first_name="X", last_name="Y"
        )
    assert raised.value.params["reason"] == "account_not_managed"
    renamed = world.profiles.rename(
        actor=outsider.id, user_id=outsider.id, first_name="Dominique", last_name="Libre-Test"
    )
    assert renamed.last_name == "Libre-Test"


# -- C7: the establishment profile ------------------------------------------------------------


def test_saving_the_profile_normalises_address_phone_and_country_c7(world: World):
    profile = world.profiles.save_establishment_profile(
        actor=world.users["owner"],
        establishment_id=world.parc,
        name="Cabinet du Parc",
        street="  Rue du Parc 1 ",
        postal_code=" 5000 ",
        city="Namur",
        country=" be ",
        phone="081 22 33 44",
        email="Accueil@Cabinet-Exemple.be",
    )
    assert profile.establishment_id == world.parc
    address = profile.address
    assert (address.street, address.postal_code, address.city, address.country) == (
        "Rue du Parc 1",
        "5000",
        "Namur",
        "BE",
    )
    assert address.phone == "+3281223344"
    assert address.email is not None
    assert address.email.address.lower() == "accueil@cabinet-exemple.be"
    assert (profile.inami, profile.finess, profile.enterprise_number) == (None, None, None)
    assert profile.updated_at == world.clock.now()
    stored = world.profiles.establishment_profile(
        actor=world.users["owner"], establishment_id=world.parc
    )
    assert stored == profile


def test_a_french_establishment_gets_french_rules_c7(world: World):
    profile = world.save_profile(
        street="12 rue de la Paix",
        postal_code="75 008",
        city="Paris",
        country="fr",
        phone="01 23 45 67 89",
    )
    assert profile.address.postal_code == "75008"
    assert profile.address.phone == "+33123456789"


@pytest.mark.parametrize("written", ["0403.019.261", "BE 0403.019.261", "be0403019261"])
def test_the_enterprise_number_is_accepted_with_or_without_be_c7(world: World, written: str):
    profile = world.save_profile(enterprise_number=written)
    assert profile.enterprise_number.number == "0403019261"


def test_the_institution_numbers_are_parsed_c7(world: World):
    institution = sample_inami(profession="7")
    written = f"{institution[0]}-{institution[1:6]}-{institution[6:8]}-{institution[8:]}"
    profile = world.save_profile(inami_number=written, finess_number="75 023456 9")
    assert profile.inami.number == institution
    assert profile.finess.number == "750234569"


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_optional_fields_may_be_left_empty_c7(world: World, empty: str | None):
    profile = world.save_profile(
        phone=empty, email=empty, inami_number=empty, finess_number=empty, enterprise_number=empty
    )
    assert profile.address.phone is None
    assert profile.address.email is None
    assert profile.inami is None
    assert profile.finess is None
    assert profile.enterprise_number is None


def test_a_new_name_renames_the_establishment_c7(world: World):
    world.save_profile(name="  Maison médicale du Parc ")
    establishment = world.access.establishment(
        actor=world.users["secretary"], establishment_id=world.parc
    )
    assert establishment.name == "Maison médicale du Parc"
    header = world.profiles.report_header(actor=world.users["jean"], establishment_id=world.parc)
    assert header.name == "Maison médicale du Parc"


def test_every_refused_field_is_reported_at_once_c7(world: World):
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.save_profile(
            name="",
            street="",
            postal_code="#",
            city="",
            country="Belgique",
            phone="pas un numéro",
            email="accueil@",
            inami_number="1-23456-78-901",
            finess_number="750234568",
            enterprise_number="0403.019.262",
        )
    fields = {v.field for v in raised.value.violations}
    assert fields == {
        "name",
        "street",
        "postal_code",
        "city",
        "country",
        "phone",
        "email",
        "inami_number",
        "finess_number",
        "enterprise_number",
    }
    assert (
        world.profiles.establishment_profile(
            actor=world.users["owner"], establishment_id=world.parc
        )
        is None
    )


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"postal_code": "999"}, "postal_code", "address.invalid_postal_code"),
        ({"postal_code": "0999"}, "postal_code", "address.invalid_postal_code"),
        ({"country": "BEL", "phone": None}, "country", "address.invalid_country"),
        ({"country": None, "phone": None}, "country", "address.not_text"),
        ({"phone": "02 555"}, "phone", "phone.invalid"),
        ({"phone": "02\x00555 12 34"}, "phone", "phone.invalid_character"),
        ({"name": "x" * 101}, "name", "establishment.too_long"),
        ({"name": "  "}, "name", "establishment.required"),
        ({"street": "Rue\u202e 1"}, "street", "address.invalid_character"),
        ({"city": 5000}, "city", "address.not_text"),
        ({"email": "accueil@"}, "email", "email.invalid"),
    ],
)
def test_each_refused_field_is_named_with_its_code_c7(
    world: World, overrides: dict[str, object], field: str, code: str
):
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.save_profile(**overrides)
    assert [(v.field, v.code) for v in raised.value.violations] == [(field, code)]


def test_saving_the_same_profile_twice_keeps_its_version_c7(world: World):
    first = world.save_profile(enterprise_number="0403019261")
    world.clock.advance(days=1)
    again = world.save_profile(enterprise_number="BE 0403.019.261")
    assert again == first
    assert again.version == first.version
    assert again.updated_at == first.updated_at
    changed = world.save_profile(city="Jambes", postal_code="5100")
    assert changed.version > first.version
    assert changed.updated_at == world.clock.now()


def test_saving_the_profile_keeps_the_logo_and_the_trainee_account_c7(world: World):
    world.save_profile()
    logo = world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=sample_png()
    ).logo
    account = world.profiles.set_trainee_account(
        actor=world.users["admin"], establishment_id=world.parc, iban_number=TRAINEE_ACCOUNT
    ).trainee_account
    saved = world.save_profile(city="Jambes", postal_code="5100")
    assert saved.logo == logo
    assert saved.trainee_account == account


def test_the_report_header_before_any_profile_has_the_name_only_c7(world: World):
    header = world.profiles.report_header(actor=world.users["jean"], establishment_id=world.parc)
    assert header.name == "Cabinet du Parc"
    assert header.address_lines == ()
    assert (header.phone, header.email, header.logo) == (None, None, None)
    assert header.identifiers == ()


def test_the_report_header_prints_the_address_phone_and_identifiers_c7(world: World):
    institution = sample_inami(profession="7")
    world.save_profile(
        inami_number=institution, finess_number="750234569", enterprise_number="0403019261"
    )
    header = world.profiles.report_header(actor=world.users["jean"], establishment_id=world.parc)
    assert header.name == "Cabinet du Parc"
    assert header.address_lines == ("Rue du Parc 1", "5000 Namur", "BE")
    assert header.phone == "+32 81 22 33 44"
    assert header.email == "accueil@cabinet-exemple.be"
    assert header.identifiers == (
        ("INAMI", f"{institution[0]}-{institution[1:6]}-{institution[6:8]}-{institution[8:]}"),
        ("FINESS", "750234569"),
        ("BCE", "0403.019.261"),
    )
    assert header.logo is None


def test_any_member_reads_the_report_header_and_a_stranger_does_not_c7(world: World):
    world.save_profile()
    for reader in ("secretary", "jean", "manager", "admin", "owner"):
        header = world.profiles.report_header(
            actor=world.users[reader], establishment_id=world.parc
        )
        assert header.address_lines[0] == "Rue du Parc 1"
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.report_header(actor=world.users["rival"], establishment_id=world.parc)
    assert raised.value.params["reason"] == "not_member"
    with pytest.raises(PermissionDenied):
        world.profiles.establishment_profile(
            actor=world.users["rival"], establishment_id=world.parc
        )


@pytest.mark.parametrize(
    ("image", "media_type"),
    [(sample_png(), "image/png"), (sample_jpeg(), "image/jpeg")],
    ids=["png", "jpeg"],
)
def test_the_logo_is_kept_byte_for_byte_c7(world: World, image: bytes, media_type: str):
    before = world.save_profile()
    profile = world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=image
    )
    assert profile.logo is not None
    assert profile.logo.data == image
    assert (profile.logo.media_type, profile.logo.width, profile.logo.height) == (
        media_type,
        120,
        40,
    )
    assert profile.version > before.version
    header = world.profiles.report_header(actor=world.users["jean"], establishment_id=world.parc)
    assert header.logo is not None
    assert header.logo.data == image


def test_setting_the_same_logo_again_keeps_the_version_c7(world: World):
    world.save_profile()
    first = world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=sample_png()
    )
    world.clock.advance(hours=1)
    again = world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=bytearray(sample_png())
    )
    assert again.version == first.version
    assert again.updated_at == first.updated_at


def test_a_logo_is_removed_with_none_c7(world: World):
    world.save_profile()
    world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=sample_png()
    )
    removed = world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=None
    )
    assert removed.logo is None
    assert (
        world.profiles.report_header(actor=world.users["admin"], establishment_id=world.parc).logo
        is None
    )


def test_a_logo_is_refused_before_the_profile_exists_c7(world: World):
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.profiles.set_logo(
            actor=world.users["admin"], establishment_id=world.parc, logo=sample_png()
        )
    assert raised.value.codes == ("profile.missing",)
    assert raised.value.violations[0].field == "address"


@pytest.mark.parametrize(
    ("image", "code"),
    [
        pytest.param(b"GIF89a" + b"\x00" * 40, "logo.unsupported_type", id="gif"),
        pytest.param(sample_png()[:-12], "logo.corrupt", id="truncated png"),
        pytest.param(sample_jpeg()[:-2], "logo.corrupt", id="truncated jpeg"),
        pytest.param(sample_png(8, 8), "logo.too_small", id="too small"),
        pytest.param(sample_png(4000, 20), "logo.too_large_dimensions", id="too wide"),
        pytest.param(b"", "logo.empty", id="empty"),
        pytest.param("logo.png", "logo.not_bytes", id="a file name"),
    ],
)
def test_a_logo_that_is_not_a_valid_png_or_jpeg_is_refused_c7(
    world: World, image: object, code: str
):
    world.save_profile()
    world.profiles.set_logo(
        actor=world.users["admin"], establishment_id=world.parc, logo=sample_png()
    )
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.profiles.set_logo(
            actor=world.users["admin"],
            establishment_id=world.parc,
            logo=image,  # type: ignore[arg-type]
        )
    assert raised.value.codes == (code,)
    assert raised.value.violations[0].field == "logo"
    kept = world.profiles.establishment_profile(
        actor=world.users["admin"], establishment_id=world.parc
    )
    assert kept is not None
    assert kept.logo is not None
    assert kept.logo.data == sample_png()


@pytest.mark.parametrize("member", ["secretary", "manager", "jean"])
def test_changing_the_profile_or_logo_needs_establishment_edit_profile_c7(
    world: World, member: str
):
    with pytest.raises(PermissionDenied) as raised:
        world.save_profile(actor=world.users[member])
    assert raised.value.params["missing"] == ("establishment.edit_profile",)
    world.save_profile(actor=world.users["admin"])
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.set_logo(
            actor=world.users[member], establishment_id=world.parc, logo=sample_png()
        )
    assert raised.value.params["missing"] == ("establishment.edit_profile",)


def test_a_stranger_cannot_save_the_profile_c7(world: World):
    with pytest.raises(PermissionDenied) as raised:
        world.save_profile(actor=world.users["rival"])
    assert raised.value.params["reason"] == "not_member"
    assert (
        world.profiles.establishment_profile(
            actor=world.users["owner"], establishment_id=world.parc
        )
        is None
    )


# -- B6: the shared trainee account -----------------------------------------------------------


def test_an_administrator_sets_and_removes_the_trainee_account_b6(world: World):
    world.save_profile()
    profile = world.profiles.set_trainee_account(
        actor=world.users["admin"], establishment_id=world.parc, iban_number=TRAINEE_ACCOUNT
    )
    assert profile.trainee_account is not None
    assert profile.trainee_account.number == "BE48320070184927"
    removed = world.profiles.set_trainee_account(
        actor=world.users["admin"], establishment_id=world.parc, iban_number=None
    )
    assert removed.trainee_account is None


def test_an_invalid_trainee_account_is_refused_with_its_field_b6(world: World):
    world.save_profile()
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.profiles.set_trainee_account(
            actor=world.users["admin"],
            establishment_id=world.parc,
            iban_number="BE48 3200 7018 4928",
        )
    assert [v.field for v in raised.value.violations] == ["iban_number"]


def test_the_trainee_account_needs_a_saved_profile_b6(world: World):
    with pytest.raises(EstablishmentProfileRejected) as raised:
        world.profiles.set_trainee_account(
            actor=world.users["admin"], establishment_id=world.parc, iban_number=TRAINEE_ACCOUNT
        )
    assert raised.value.codes == ("profile.missing",)


@pytest.mark.parametrize("product", list(ProductKind))
def test_the_trainee_account_needs_payments_manage_billing_b6(world: World, product: ProductKind):
    # In every product the Administrator holds payments.manage_billing and the
    # Secretary/Receptionist role does not.
    establishment = EstablishmentId(f"centre-{product.value}")
    world.access.open_establishment(
        actor=world.users["owner"],
        organisation_id=OrganisationId("groupe"),
        name="Centre d'essai",
        product=product,
        establishment_id=establishment,
    )
    world.add(
        f"admin-{product.value}", "Paula", "Admin", "administrator", establishment=establishment
    )
    world.add(f"desk-{product.value}", "Rita", "Accueil", "secretary", establishment=establishment)
    world.save_profile(establishment_id=establishment)
    with pytest.raises(PermissionDenied) as raised:
        world.profiles.set_trainee_account(
            actor=world.users[f"desk-{product.value}"],
            establishment_id=establishment,
            iban_number=TRAINEE_ACCOUNT,
        )
    assert raised.value.params["missing"] == ("payments.manage_billing",)
    profile = world.profiles.set_trainee_account(
        actor=world.users[f"admin-{product.value}"],
        establishment_id=establishment,
        iban_number=TRAINEE_ACCOUNT,
    )
    assert profile.trainee_account is not None
