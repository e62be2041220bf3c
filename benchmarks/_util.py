"""Shared helpers for the benchmark scripts: timing with repeats and median, and output."""
from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Callable


def median_ms(fn: Callable[[], object], repeat: int = 30, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def report(name: str, figures: dict, goals: dict | None = None) -> None:
    """Print figures as a table, and a JSON line when --json is given."""
    goals = goals or {}
    print(f"== {name}")
    for k, v in figures.items():
        goal = goals.get(k)
        g = f"   (goal {goal})" if goal else ""
        print(f"  {k:<44} {v:>12.3f}{g}" if isinstance(v, float) else f"  {k:<44} {v!s:>12}{g}")
    if "--json" in sys.argv:
        print(json.dumps({"benchmark": name, **figures}))
