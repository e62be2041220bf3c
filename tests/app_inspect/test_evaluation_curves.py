"""The Evaluation view's "ROC / PR" tab: after an evaluation it draws the engine's one-vs-rest curves
of the class picked (with the keyboard, or by clicking the class in the per-class table), says the
AUC / average precision, and during training (a matrix without probabilities) says what is needed."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnn_studio.app.inspect.curves import HINT
from cnn_studio.app.inspect.evaluation import EvaluationView
from cnn_studio.inspection.model import EvalResult
from cnn_studio.inspection.evaluation import summarize


def _open_curves_tab(qtbot, v):
    bar = v.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert v.tabs.currentWidget() is v.curves_view and v.curves_view.isVisible()


def test_curves_of_an_evaluation_follow_the_class_and_curve_picked(imodel, view_factory, qtbot):
    v = view_factory(EvaluationView)
    with qtbot.waitSignal(v.evaluation_finished, timeout=30_000) as sig:
        v.set_model(imodel)
    summary = sig.args[0]
    n = imodel.num_classes
    assert len(summary["roc_auc"]) == len(summary["average_precision"]) == n
    ref = v.result.curves()
    _open_curves_tab(qtbot, v)
    cv = v.curves_view
    assert cv.class_combo.count() == n and cv.class_combo.isEnabled()
    x, y = cv.main_curve.getData()
    np.testing.assert_allclose(x, ref[0]["fpr"]) and np.testing.assert_allclose(y, ref[0]["tpr"])
    assert f"ROC AUC {ref[0]['auc']:.3f}" in cv.caption.text() and ref[0]["class"] in cv.caption.text()
    assert summary["roc_auc"][0] == pytest.approx(ref[0]["auc"])
    # the next class, with the keyboard
    cv.class_combo.setFocus()
    QTest.keyClick(cv.class_combo, Qt.Key.Key_Down)
    assert cv.cls == 1
    np.testing.assert_allclose(cv.main_curve.getData()[1], ref[1]["tpr"])
    # precision-recall
    cv.kind_combo.setFocus()
    QTest.keyClick(cv.kind_combo, Qt.Key.Key_Down)
    assert cv.kind == "pr" and cv.plot.getAxis("bottom").labelText == "recall"
    x, y = cv.main_curve.getData()
    np.testing.assert_allclose(x, ref[1]["recall"]) and np.testing.assert_allclose(y, ref[1]["precision"])
    assert f"average precision {ref[1]['ap']:.3f}" in cv.caption.text()
    # clicking a class in the per-class table picks it here too
    qtbot.mouseClick(v.tabs.tabBar(), Qt.MouseButton.LeftButton, pos=v.tabs.tabBar().tabRect(0).center())
    item = v.table.item(3, 0)
    qtbot.mouseClick(v.table.viewport(), Qt.MouseButton.LeftButton, pos=v.table.visualItemRect(item).center())
    cls = int(item.data(Qt.ItemDataRole.UserRole))
    assert cv.cls == cls and cv.class_combo.currentIndex() == cls
    np.testing.assert_allclose(cv.main_curve.getData()[0], ref[cls]["recall"])


def test_a_live_matrix_has_no_curves_and_says_why(view_factory, qtbot):
    v = view_factory(EvaluationView)
    cm = np.array([[5, 1], [2, 4]])
    v.set_class_names(["a", "b"])
    v.update_from_epoch({"epoch": 1, "confusion_matrix": cm.tolist()})
    _open_curves_tab(qtbot, v)
    assert v.curves_view.curves is None and v.curves_view.caption.text() == HINT
    assert not v.curves_view.class_combo.isEnabled() and v.curves_view.main_curve is None


def test_a_class_without_samples_is_said_not_drawn(view_factory, qtbot):
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]], dtype=np.float32)
    preds = probs.argmax(1)
    r = EvalResult("val", labels, preds, probs.max(1), summarize(labels, preds, 3, ["a", "b", "c"]), probs)
    v = view_factory(EvaluationView)
    v.set_class_names(["a", "b", "c"])
    v.set_result(r)
    _open_curves_tab(qtbot, v)
    cv = v.curves_view
    assert cv.curves[0]["auc"] == pytest.approx(1.0)  # a's samples score 0.9, 0.6 against b's 0.2, 0.5
    cv.set_class(2)
    assert cv.main_curve is None and "No sample of c" in cv.caption.text()
    assert r.to_json()["roc_auc"][2] is None and r.to_json()["macro_roc_auc"] == pytest.approx(
        np.mean([c["auc"] for c in r.curves()[:2]]))
