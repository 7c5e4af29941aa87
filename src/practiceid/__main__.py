"""``python -m practiceid``: the command line."""

from __future__ import annotations

import sys

from practiceid.cli import main

sys.exit(main())
