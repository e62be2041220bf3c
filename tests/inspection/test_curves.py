"""ROC and precision-recall curves, one class against the rest: a tiny case worked out by hand,
scikit-learn's figures on random cases (when it is installed), and properties of any input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.inspection.evaluation import macro_mean, one_vs_rest, pr_curve, roc_curve

try:  # the reference figures, when scikit-learn is installed (the hand-worked case always runs)
    import sklearn.metrics as sk
except ImportError:  # pragma: no cover
    sk = None


def test_roc_and_pr_of_a_case_worked_out_by_hand():
    # scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.6 (pos), 0.2 (neg): 3 positives, 2 negatives
    y = [1, 0, 1, 1, 0]
    s = [0.9, 0.8, 0.7, 0.6, 0.2]
    fpr, tpr, thr, auc = roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1 / 3, 2 / 3, 1, 1])
    assert thr[0] == np.inf and list(thr[1:]) == s
    # area: the step at fpr 0..0.5 has height 1/3, then 0.5..1 at height 1
    assert auc == pytest.approx(0.5 * 1 / 3 + 0.5 * 1.0)  # = 4/6: 4 of the 6 (pos, neg) pairs ranked right
    precision, recall, pthr, ap = pr_curve(y, s)
    # thresholds lowest first: 0.2, 0.6, 0.7, 0.8, 0.9, then the (recall 0, precision 1) end
    np.testing.assert_allclose(recall, [1, 1, 2 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(precision, [3 / 5, 3 / 4, 2 / 3, 1 / 2, 1, 1])
    # AP = sum (R_n - R_n-1) P_n from the top: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/4
    assert ap == pytest.approx(1 / 3 * (1 + 2 / 3 + 3 / 4))


def test_ties_are_one_threshold_and_a_perfect_ranking_scores_one():
    fpr, tpr, thr, auc = roc_curve([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(fpr, [0, 1]) and np.testing.assert_allclose(tpr, [0, 1])
    assert auc == pytest.approx(0.5)
    assert roc_curve([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])[3] == 1.0
    assert pr_curve([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])[3] == 1.0
    assert roc_curve([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])[3] == 0.0


def test_a_class_without_samples_has_no_curve():
    assert np.isnan(roc_curve([0, 0, 0], [0.1, 0.5, 0.9])[3])
    assert np.isnan(pr_curve([0, 0, 0], [0.1, 0.5, 0.9])[3])
    assert np.isnan(roc_curve([1, 1], [0.1, 0.5])[3])  # no negatives: no false positive rate
    assert macro_mean([0.5, float("nan"), 1.0]) == 0.75


def test_one_vs_rest_per_class():
    labels = np.array([0, 1, 2, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]])
    c = one_vs_rest(labels, probs, ["a", "b", "c"])
    assert [d["class"] for d in c] == ["a", "b", "c"] and [d["positives"] for d in c] == [1, 1, 2]
    assert c[0]["auc"] == 1.0 and c[1]["auc"] == 1.0
    # class c: scores 0.7, 0.4 for its samples, 0.1, 0.1 for the rest: perfectly ranked
    assert c[2]["auc"] == 1.0 and c[2]["ap"] == 1.0
    with pytest.raises(ValueError, match="must be \\(samples, classes\\)"):
        one_vs_rest(labels, probs[:3])


@pytest.mark.skipif(sk is None, reason="scikit-learn is not installed")
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=40))
def test_against_scikit_learn(pairs):
    y = np.array([p for p, _ in pairs], dtype=int)
    s = np.array([v / 6 for _, v in pairs])  # few distinct values: many ties
    if y.min() == y.max():
        return  # one class only: scikit-learn refuses, ours says nan (tested above)
    fpr, tpr, thr, auc = roc_curve(y, s)
    rf, rt, _ = sk.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, rf) and np.testing.assert_allclose(tpr, rt)
    assert auc == pytest.approx(sk.roc_auc_score(y, s))
    precision, recall, _, ap = pr_curve(y, s)
    rp, rr, _ = sk.precision_recall_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(precision, rp) and np.testing.assert_allclose(recall, rr)
    assert ap == pytest.approx(sk.average_precision_score(y, s))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=2, max_size=40))
def test_curves_are_monotone_and_bounded(pairs):
    y = np.array([p for p, _ in pairs])
    s = np.array([v for _, v in pairs])
    fpr, tpr, _, auc = roc_curve(y, s)
    if y.any() and not y.all():
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and 0 <= auc <= 1
        # reversing the scores mirrors the area
        assert roc_curve(y, -s)[3] == pytest.approx(1 - auc)
    if y.any():
        precision, recall, _, ap = pr_curve(y, s)
        assert np.all(np.diff(recall) <= 0) and recall[-1] == 0 and precision[-1] == 1
        assert 0 < ap <= 1 + 1e-12 and np.all((precision >= 0) & (precision <= 1))
