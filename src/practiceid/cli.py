"""The ``python -m practiceid`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from practiceid import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m practiceid",
        description="practiceid: accounts and access for practice software.",
    )
    parser.add_argument("--version", action="version", version=f"practiceid {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="register a practice's first users, in memory")
    args = parser.parse_args(argv)
    if args.command == "demo":  # pragma: no branch - the only command so far
        from practiceid.demo import run  # noqa: PLC0415 - only what the command needs

        return run()
    return 2  # pragma: no cover
