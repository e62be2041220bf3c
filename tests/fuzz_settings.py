"""Shared size knob for the fuzz / property campaigns in the test suite.

The suite runs every campaign at a size that fits CI. Set CNN_STUDIO_FUZZ to a
whole number N (e.g. ``CNN_STUDIO_FUZZ=10``) for a longer local run with N times
as many examples.
"""

import os


def multiplier():
    """The campaign size multiplier from CNN_STUDIO_FUZZ (default 1, at least 1)."""
    try:
        return max(1, int(os.environ.get("CNN_STUDIO_FUZZ", "1")))
    except ValueError:
        return 1


def examples(n):
    """How many examples a campaign of base size n runs (n times the multiplier)."""
    return n * multiplier()
