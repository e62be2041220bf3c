"""Counts of the fuzz campaigns' examples and outcomes, printed at the end of the test run (see the
``pytest_terminal_summary`` hooks in tests/data/conftest.py and tests/core/conftest.py)."""
from __future__ import annotations

import os
from collections import Counter, defaultdict

COUNTS: dict[str, Counter] = defaultdict(Counter)
_printed = False


def record(campaign: str, outcome: str) -> None:
    COUNTS[campaign][outcome] += 1


def terminal_summary(terminalreporter) -> None:
    """Write one line per campaign that ran (once per session, whichever conftest calls first)."""
    global _printed
    if _printed or not COUNTS:
        return
    _printed = True
    scale = os.environ.get("CNN_STUDIO_FUZZ", "1")
    terminalreporter.write_sep("-", f"fuzz campaigns (CNN_STUDIO_FUZZ={scale})")
    for name in sorted(COUNTS):
        c = COUNTS[name]
        parts = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
        terminalreporter.write_line(f"{name}: {sum(c.values())} examples ({parts})")
