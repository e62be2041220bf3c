"""The paired-difference statistics behind benchmarks/mode_accuracy.py's verdicts (benchmarks/_util.py)."""
import math
import statistics
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _util import paired_summary, t95  # noqa: E402


def test_t_quantiles_fall_towards_the_normal_one():
    assert t95(1) == pytest.approx(12.706)
    assert t95(4) == pytest.approx(2.776)
    assert all(t95(df) > t95(df + 1) for df in range(1, 30))
    assert t95(200) == pytest.approx(1.96)
    with pytest.raises(ValueError):
        t95(0)


def test_interval_is_the_t_interval_of_the_differences():
    ref = [0.90, 0.92, 0.88, 0.91]
    vals = [0.91, 0.92, 0.90, 0.90]
    d = [a - b for a, b in zip(vals, ref)]
    s = paired_summary(vals, ref, margin=0.01)
    half = 3.182 * statistics.stdev(d) / math.sqrt(4)
    assert s["mean"] == pytest.approx(statistics.fmean(d))
    assert (s["low"], s["high"]) == (pytest.approx(s["mean"] - half), pytest.approx(s["mean"] + half))


def test_verdicts():
    ref = [0.80, 0.85, 0.90, 0.95, 0.70]
    # identical runs: a zero-width interval at zero
    assert paired_summary(ref, ref, 0.01)["verdict"] == "same within 1 pt"
    # 3 points lower on every seed, a little spread: worse, beyond the margin
    assert paired_summary([r - 0.03 + 0.001 * i for i, r in enumerate(ref)], ref, 0.01)["verdict"] == "worse"
    assert paired_summary([r + 0.03 + 0.001 * i for i, r in enumerate(ref)], ref, 0.01)["verdict"] == "better"
    # half a point lower on every seed: the same within the margin, lower all the same
    assert paired_summary([r - 0.005 + 0.0005 * i for i, r in enumerate(ref)], ref, 0.01)["verdict"] == "same within 1 pt (slightly lower)"
    # differences that swing by 10 points: nothing shown
    assert paired_summary([r + d for r, d in zip(ref, (0.1, -0.1, 0.05, -0.08, 0.02))], ref, 0.01)["verdict"] == "not shown (more seeds)"
    # between -0.5 and +3 points: it may be better, it is not worse by more than the margin
    assert paired_summary([r + d for r, d in zip(ref, (0.03, 0.0, 0.02, -0.005, 0.01))], ref, 0.01)["verdict"] == "no loss beyond 1 pt"
    one = paired_summary([0.5], [0.4], 0.01)
    assert one["low"] is None and one["mean"] == pytest.approx(0.1) and "one seed" in one["verdict"]
    with pytest.raises(ValueError):
        paired_summary([0.5, 0.6], [0.5], 0.01)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=40), st.floats(0.001, 0.2))
def test_interval_holds_the_mean_and_the_verdict_matches_it(pairs, margin):
    vals, ref = [a for a, _ in pairs], [b for _, b in pairs]
    s = paired_summary(vals, ref, margin)
    assert s["low"] <= s["mean"] + 1e-12 and s["mean"] <= s["high"] + 1e-12
    if s["verdict"].startswith("same"):
        assert -margin <= s["low"] and s["high"] <= margin
    elif s["verdict"] == "worse":
        assert s["high"] < 0
    elif s["verdict"] == "better":
        assert s["low"] > 0
    elif s["verdict"].startswith("no loss"):
        assert -margin <= s["low"] <= 0 <= s["high"] and s["high"] > margin
    else:
        assert s["low"] < -margin and s["high"] >= 0
