"""docs/access.md shows the permission catalogue, the role templates and the reasons as tables.

Those tables are documentation of public API (codes are stable), so they must say what the code
says: these tests fail when a permission, template or reason is added, renamed or redescribed
in one place and not the other.
"""

from __future__ import annotations

from pathlib import Path

from practiceid import ROLE_TEMPLATES, Permission, ProductKind, Reason

PAGE = Path(__file__).resolve().parent.parent / "docs" / "access.md"
NONE = "—"


def _table(header: str) -> list[list[str]]:
    """Return the cells of the rows of the table whose header line is ``header``."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index(header)  # ValueError: the table is gone or its header changed
    rows = []
    for line in lines[start + 2 :]:  # skip the header and the |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _code(cell: str) -> str:
    assert cell.startswith("`"), cell
    assert cell.endswith("`"), cell
    return cell[1:-1]


def test_permission_table_lists_every_permission_in_catalogue_order():
    rows = _table("| code | group | description | requirements |")
    assert [_code(row[0]) for row in rows] == [p.value for p in Permission]


def test_permission_table_agrees_with_each_permission_group_description_and_requirements():
    rows = _table("| code | group | description | requirements |")
    documented = {
        _code(code): (group, description, () if ids == NONE else tuple(ids.split(", ")))
        for code, group, description, ids in rows
    }
    expected = {p.value: (p.group.value, p.description, p.requirements) for p in Permission}
    assert documented == expected


def test_catalogue_size_in_the_prose_is_current():
    assert f"the catalogue has {len(Permission)}" in PAGE.read_text(encoding="utf-8")


def test_role_template_table_names_every_template_of_every_product():
    products = list(ProductKind)
    header = "| role id | " + " | ".join(f"`{p.value}`" for p in products) + " |"
    rows = _table(header)
    documented = {
        (product, _code(row[0])): name
        for row in rows
        for product, name in zip(products, row[1:], strict=True)
        if name != NONE
    }
    expected = {
        (product, template.key): template.name
        for product, templates in ROLE_TEMPLATES.items()
        for template in templates
    }
    assert documented == expected


def test_reason_table_lists_every_reason_with_its_code():
    rows = _table("| reason | code | when | `decision.error()` |")
    assert [(_code(row[0]), _code(row[1])) for row in rows] == [(r.name, r.value) for r in Reason]
