"""docs/onboarding.md states the transition table the code enforces (D2)."""

from __future__ import annotations

import re
from pathlib import Path

from practiceid import OnboardingStatus
from practiceid.policies.invitation import TRANSITIONS, Command

PAGE = Path(__file__).resolve().parent.parent / "docs" / "onboarding.md"


def _documented_table() -> dict[str, dict[str, str]]:
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"<!-- transitions -->\n(.*?)<!-- /transitions -->", text, re.DOTALL)
    assert block is not None, "docs/onboarding.md lost its transition table markers"
    rows = [line.strip("|").split("|") for line in block.group(1).strip().splitlines()]
    header = [cell.strip() for cell in rows[0]]
    table = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row]
        table[cells[0]] = {
            status: cell for status, cell in zip(header[1:], cells[1:], strict=True) if cell != "—"
        }
    return table


def test_the_documented_transition_table_is_the_enforced_one():
    expected = {
        str(command): {str(before): str(after) for before, after in TRANSITIONS[command].items()}
        for command in Command
    }
    assert _documented_table() == expected


def test_the_documented_table_has_a_column_per_status():
    text = PAGE.read_text(encoding="utf-8")
    header = re.search(r"<!-- transitions -->\n(\|.*\|)\n", text)
    assert header is not None
    columns = [cell.strip() for cell in header.group(1).strip("|").split("|")][1:]
    assert columns == [str(status) for status in OnboardingStatus]
