"""Plain-text tables and number formatting for the benchmark output."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

RULE_WIDTH = 100


def heading(title: str) -> None:
    """Print a section title."""
    print()
    print(title)
    print("=" * min(len(title), RULE_WIDTH))


def note(text: str) -> None:
    """Print an indented remark under a table."""
    print(f"  note: {text}")


def us(value: float) -> str:
    """Format microseconds with a precision that suits their magnitude."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(numerator: float, denominator: float) -> str:
    """Format ``numerator / denominator`` as ``1.23x`` (or ``n/a`` when undefined)."""
    if denominator <= 0:
        return "n/a"
    value = numerator / denominator
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> None:
    """Print ``rows`` under ``headers``; the first ``left`` columns are left-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index < left else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))
