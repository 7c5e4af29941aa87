"""Sections that run in a process of their own (10, the SQL adapter; 11, onboarding).

Django is configured once per process, and each of those sections configures it with
databases of its own: ``python -m benchmarks.<module> --summary PATH`` runs the section and
writes the ratios it returns to ``PATH`` as JSON, which :func:`run_apart` reads back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def run_apart(module: str) -> dict[str, float]:
    """Run ``python -m module --summary PATH`` (it prints as it goes); its ratios."""
    sys.stdout.flush()
    with tempfile.TemporaryDirectory() as directory:
        summary = Path(directory) / "summary.json"
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module, "--summary", str(summary)], check=True
        )
        return json.loads(summary.read_text(encoding="utf-8"))


def main(run_section: Callable[[], dict[str, float]], argv: Sequence[str]) -> None:
    """Run the section here; with ``--summary PATH``, write its ratios there as JSON."""
    ratios = run_section()
    if len(argv) == 2 and argv[0] == "--summary":
        Path(argv[1]).write_text(json.dumps(ratios), encoding="utf-8")
    sys.stdout.flush()
