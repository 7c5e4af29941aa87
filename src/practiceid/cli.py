"""The ``python -m practiceid`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from practiceid import __version__

__all__ = ["main"]

# Listed here, not imported from practiceid.check, so that --help stays cheap.
_KINDS = ("inami", "niss", "bce", "iban", "rpps", "adeli", "idnps", "finess")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m practiceid",
        description="practiceid: accounts and access for practice software.",
    )
    parser.add_argument("--version", action="version", version=f"practiceid {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="register a practice's first users, on a new SQLite file"
    )
    demo.add_argument(
        "--database",
        metavar="URL",
        help="an empty SQLite or PostgreSQL database to use instead "
        "(sqlite:///demo.sqlite, postgresql://user@host/db)",
    )
    check = commands.add_parser(
        "check",
        help="validate professional numbers (exit 0 if all valid, 1 if not)",
        description="Validate, format and decode numbers: python -m practiceid check inami "
        "1-23456-25-005",
    )
    check.add_argument("kind", choices=_KINDS, help="the kind of number")
    check.add_argument("numbers", nargs="+", metavar="number", help="numbers, in any form")
    check.add_argument("--json", action="store_true", help="one JSON object per number")
    args = parser.parse_args(argv)
    if args.command == "check":
        from practiceid.check import run as check_numbers  # noqa: PLC0415

        return check_numbers(args.kind, args.numbers, as_json=args.json, out=sys.stdout)
    from practiceid.demo import run  # noqa: PLC0415 - only what the command needs

    return run(args.database)
