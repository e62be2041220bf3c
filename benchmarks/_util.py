"""Shared helpers for the benchmark scripts: timing with repeats and median, and output."""
from __future__ import annotations

import json
import math
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


# two-sided 95% Student t quantiles by degrees of freedom (1..30); above 30 the normal 1.96 is within 2%
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom (``df`` >= 1)."""
    if df < 1:
        raise ValueError("a confidence interval needs at least two paired values")
    return _T95[df - 1] if df <= len(_T95) else 1.96


def paired_summary(values: list[float], reference: list[float], margin: float) -> dict:
    """The mean paired difference ``values[i] - reference[i]``, its 95% interval (Student's t) and what
    the interval allows: "same within M pt" when it lies wholly within +-``margin`` (with "slightly
    lower"/"slightly higher" where it also excludes zero), "better"/"worse" when it lies wholly
    above/below zero and reaches past the margin, "no loss beyond M pt" when it holds zero, reaches
    above the margin and not below it (the question "was accuracy traded away?" answered no), else
    "not shown (more seeds)". With one pair there is no interval and the verdict says so."""
    if len(values) != len(reference) or not values:
        raise ValueError("paired values need the same, non-zero count on both sides")
    d = [a - b for a, b in zip(values, reference)]
    mean = statistics.fmean(d)
    if len(d) < 2:
        return {"mean": mean, "low": None, "high": None, "verdict": "not shown (one seed: no interval)"}
    half = t95(len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d))
    low, high = mean - half, mean + half
    if -margin <= low and high <= margin:
        verdict = f"same within {100 * margin:g} pt" + (" (slightly lower)" if high < 0 else " (slightly higher)" if low > 0 else "")
    elif low > 0:
        verdict = "better"
    elif high < 0:
        verdict = "worse"
    elif low >= -margin:  # it may be better by more than the margin, but it is not worse by more
        verdict = f"no loss beyond {100 * margin:g} pt"
    else:
        verdict = "not shown (more seeds)"
    return {"mean": mean, "low": low, "high": high, "verdict": verdict}
