"""docs/licenses.md states the transition table the code enforces (E1, E2)."""

from __future__ import annotations

import re
from pathlib import Path

from practiceid import LicenseStatus
from practiceid.policies.license import LICENSED_PERMISSIONS, TRANSITIONS

PAGE = Path(__file__).resolve().parent.parent / "docs" / "licenses.md"


def _documented_table() -> dict[str, list[str]]:
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"<!-- transitions -->\n(.*?)<!-- /transitions -->", text, re.DOTALL)
    assert block is not None, "docs/licenses.md lost its transition table markers"
    rows = [line.strip("|").split("|") for line in block.group(1).strip().splitlines()][2:]
    return {
        status.strip(): [command.strip() for command in commands.split(",")]
        for status, commands in rows
    }


def test_the_documented_transition_table_is_the_enforced_one():
    expected = {str(status): sorted(map(str, TRANSITIONS[status])) for status in TRANSITIONS}
    assert _documented_table() == expected


def test_the_table_covers_every_stored_status_and_no_shown_only_one():
    shown_only = {LicenseStatus.SUSPENDED, LicenseStatus.UNLICENSED}
    assert set(TRANSITIONS) == set(LicenseStatus) - shown_only


def test_every_licensed_permission_is_documented():
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("| licensed permission | why |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", table))
    assert documented == {str(p) for p in LICENSED_PERMISSIONS}
