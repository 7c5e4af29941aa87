"""docs/profiles.md states the bundled profession rules (B2, B3, B1, E3): keep it true."""

from __future__ import annotations

import re
from pathlib import Path

from practiceid import PROFESSION_RULES, HubRegion, Mutuality, ProductKind, Profession

PAGE = (Path(__file__).parent.parent / "docs" / "profiles.md").read_text(encoding="utf-8")
PRODUCT_NAMES = {
    "general practice": ProductKind.GENERAL_PRACTICE,
    "hospital": ProductKind.HOSPITAL,
    "veterinary": ProductKind.VETERINARY,
    "dental": ProductKind.DENTAL,
}


def _rows() -> dict[str, list[str]]:
    table = PAGE.split("| profession | Belgium | France | workplace (B1) | pays (E3) in |", 1)[1]
    rows = {}
    for line in table.strip().split("\n\n", 1)[0].splitlines()[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].split("`")[1]] = cells[1:]
    return rows


def _identifier_cell(profession: Profession, country: str) -> str:
    """What the page should say for a profession in a country, derived from every product."""
    rules = [r.rule(profession, country) for r in PROFESSION_RULES.values() if r.offers(profession)]
    required = {group for rule in rules for group in rule.required}
    digits = {d for rule in rules for d in rule.inami_digits}
    if required:
        (group,) = required
        text = " or ".join(kind.upper() for kind in group)
    elif country == "BE" and digits:
        text = "INAMI optional"
    else:
        return "—"
    if country == "BE" and digits:
        text += f", first digit {''.join(sorted(digits))}"
    return text


def test_the_profession_table_lists_every_profession():
    assert set(_rows()) == {p.value for p in Profession}


def test_the_profession_table_states_the_identifiers_each_country_requires():
    for name, (belgium, france, _, _) in _rows().items():
        profession = Profession(name)
        assert belgium == _identifier_cell(profession, "BE"), name
        assert france == _identifier_cell(profession, "FR"), name


def test_the_profession_table_states_who_needs_a_workplace_and_who_pays_where():
    for name, (_, _, workplace, pays) in _rows().items():
        profession = Profession(name)
        rules = [
            r.rule(profession, "XX") for r in PROFESSION_RULES.values() if r.offers(profession)
        ]
        assert workplace == ("yes" if all(r.workplace_address for r in rules) else "no"), name
        paying = {
            label
            for label, product in PRODUCT_NAMES.items()
            if PROFESSION_RULES[product].offers(profession)
            and PROFESSION_RULES[product].rule(profession, "BE").pays_license
        }
        stated = set() if pays == "—" else {p.strip() for p in pays.split(",")}
        assert stated == paying, name


def test_the_page_names_every_hub_region_and_mutuality_code():
    for region in HubRegion:
        assert f"HubRegion.{region.name}" in PAGE or f"`{region.name}`" in PAGE
    codes = re.search(r"INAMI codes ([0-9, ]+)", PAGE)
    assert codes is not None
    assert [c.strip() for c in codes.group(1).split(",")] == [m.value for m in Mutuality]
