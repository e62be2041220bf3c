"""Runs as first-class objects, for the engine: listing, run meta, delete (``core.runs``, standard
library only, so the GUI can import that without torch) and the comparison of runs (``compare``).

    from cnn_studio.training.runs import scan_runs, compare_runs
    for run in scan_runs():            # studio_home()/runs, newest first
        print(run.name, run.status, run.best_val_accuracy)
"""
from ..core.runs import *  # noqa: F401,F403  (the listing API)
from ..core.runs import __all__ as _listing_all
from ..core.runs_compare import compare_runs, network_diff  # noqa: F401

__all__ = list(_listing_all) + ["compare_runs", "network_diff"]
