"""The Inference view's method choice (Grad-CAM, saliency, Integrated Gradients, occlusion), picked
with the keyboard as a user does: each map is the engine's, lies on the region the answer depends
on, is computed in the view's worker thread, and the layer choice is only offered for Grad-CAM.
Without Captum its two methods are listed but not selectable, and say how to get them."""
import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from cnn_studio.app.inspect import inference
from cnn_studio.app.inspect.inference import InferenceView
from cnn_studio.core.errors import StudioError

from test_inference_view import region_model


def _square():
    a = np.zeros((16, 16), np.uint8)
    a[2:6, 9:13] = 255  # the bright square class "bright" depends on
    return torch.from_numpy(a)[None].clone()


def _press(qtbot, v, combo, key):
    combo.setFocus()
    with qtbot.waitSignal(v.prediction_ready, timeout=20_000) as sig:
        QTest.keyClick(combo, key)
    return sig.args[0]


def test_each_method_is_picked_with_the_keyboard_and_points_at_the_square(view_factory, qtbot, monkeypatch):
    pytest.importorskip("captum")
    m = region_model()
    threads = []
    real = m.explain

    def spy(*a, **k):  # where the Captum methods run
        threads.append(threading.current_thread())
        return real(*a, **k)

    monkeypatch.setattr(m, "explain", spy)
    v = view_factory(InferenceView, m, size=(1000, 640))
    x = _square()
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000) as sig:
        v.add_input(x, "square")
    assert sig.args[0]["method"] == "gradcam" and v.layer_combo.isEnabled()
    assert [v.method_combo.itemData(i) for i in range(v.method_combo.count())] == ["gradcam", "saliency", "ig", "occlusion"]
    for method in ("saliency", "ig", "occlusion"):
        got = _press(qtbot, v, v.method_combo, Qt.Key.Key_Down)
        assert got["method"] == method == v.method == v.cam_method and got["target"] == 1 and got["layer"] is None
        expect = real(x, method, 1)
        np.testing.assert_allclose(v.cam, expect, atol=1e-6)
        inside = v.cam[2:6, 9:13].mean()
        outside = np.concatenate([v.cam[9:, :].ravel(), v.cam[:, :6].ravel()]).mean()
        assert inside > 0.5 and outside < 0.05, method
        assert not v.layer_combo.isEnabled()  # only Grad-CAM looks at a layer
        assert v.cam_title.text().startswith(inference.METHOD_TITLES[method]) and "bright" in v.cam_title.text()
        # the overlay on screen is this map over the image
        np.testing.assert_array_equal(v.cam_canvas.image.image, v.overlay_rgb)
    assert len(threads) == 2 and all(t is not threading.main_thread() for t in threads)
    assert v.status.text() == ""  # the "Computing ..." line is gone once the map is shown
    # back to Grad-CAM: the layer choice returns, the map is the layer's again
    v.method_combo.setFocus()
    for _ in range(2):
        QTest.keyClick(v.method_combo, Qt.Key.Key_Up)
    got = _press(qtbot, v, v.method_combo, Qt.Key.Key_Up)
    assert got["method"] == "gradcam" and got["layer"] == "act" and v.layer_combo.isEnabled()
    np.testing.assert_allclose(v.cam, m.grad_cam(x, 1, "act"))
    # explaining the other class by occlusion: no evidence in the bright square
    v.set_method("occlusion")
    with qtbot.waitSignal(v.prediction_ready, timeout=20_000):
        v.set_target(0)
    assert v.cam_method == "occlusion" and v.cam[2:6, 9:13].max() < 0.2


def test_a_method_is_picked_by_clicking_the_list(view_factory, qtbot):
    pytest.importorskip("captum")
    m = region_model()
    v = view_factory(InferenceView, m, size=(1000, 640))
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        v.add_input(_square(), "square")
    combo = v.method_combo
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)  # opens the list
    view = combo.view()
    qtbot.waitUntil(lambda: view.isVisible(), timeout=5000)
    from PySide6.QtWidgets import QApplication

    qtbot.wait(QApplication.doubleClickInterval() + 100)  # the list ignores a release right after it opens
    rect = view.visualRect(combo.model().index(2, 0))  # Integrated Gradients
    with qtbot.waitSignal(v.prediction_ready, timeout=20_000) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args[0]["method"] == "ig" and combo.currentText() == "Integrated Gradients"
    np.testing.assert_allclose(v.cam, m.explain(_square(), "ig", 1), atol=1e-6)


def test_without_captum_its_methods_are_listed_but_not_selectable(view_factory, qtbot, monkeypatch):
    monkeypatch.setattr(inference, "_captum_available", lambda: False)
    v = view_factory(InferenceView, region_model(), size=(1000, 640))
    texts = [v.method_combo.itemText(i) for i in range(v.method_combo.count())]
    assert texts == ["Grad-CAM", "Saliency", "Integrated Gradients (needs Captum)", "Occlusion (needs Captum)"]
    tip = v.method_combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
    assert "pip install 'cnn-studio[explain]'" in tip
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        v.add_input(_square(), "square")
    _press(qtbot, v, v.method_combo, Qt.Key.Key_Down)
    assert v.method == "saliency"
    QTest.keyClick(v.method_combo, Qt.Key.Key_Down)  # the disabled items are skipped
    qtbot.wait(50)
    assert v.method == "saliency" and v.method_combo.currentData() == "saliency"
    assert v.set_method("ig") is False and "install Captum" in v.status.text()


def test_a_failing_method_says_why_in_the_status_line(view_factory, qtbot, monkeypatch):
    m = region_model()

    def broken(*a, **k):
        raise StudioError("Integrated Gradients need the Captum package")

    monkeypatch.setattr(m, "explain", broken)
    monkeypatch.setattr(inference, "_captum_available", lambda: True)
    v = view_factory(InferenceView, m, size=(1000, 640))
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        v.add_input(_square(), "square")
    with qtbot.waitSignal(v.explain_failed, timeout=10_000) as sig:
        assert v.set_method("ig")
    assert "Captum" in sig.args[0] and "Captum" in v.status.text()
    # the view keeps working: back to saliency
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        v.set_method("saliency")
    assert v.cam_method == "saliency"
