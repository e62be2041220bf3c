"""InferenceView and the app state's run: once the run's network is loaded the view explains its
first sample at once (no stepping needed), the "Loading run" text fits its canvas, and the column
header follows the chosen method at once."""
from dataclasses import replace

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics

from cnn_studio.app.inspect.inference import InferenceView
from cnn_studio.app.state import ViewSource


def _sources(run_dir, imodel):
    loading = ViewSource("run", "tiny", run_dir=str(run_dir) + "-20261202-042657_long_name", weights="best", status="loading")
    ready = replace(loading, run_dir=str(run_dir), status="ready", imodel=imodel, model_id=id(imodel))
    return loading, ready


def test_loaded_run_draws_first_sample_at_once(run_dir, imodel, view_factory, qtbot):
    v = view_factory(InferenceView, size=(560, 330))
    loading, ready = _sources(run_dir, imodel)
    v.show_source(loading)
    label = v.input_canvas._placeholder
    assert label.isVisible() and "Loading run" in label.text()
    # the run folder's long name wraps inside the canvas instead of being clipped at both sides
    r = label.contentsRect().adjusted(12, 12, -12, -12)
    needed = QFontMetrics(label.font()).boundingRect(QRect(0, 0, r.width(), 10_000), int(Qt.TextFlag.TextWordWrap), label.text())
    assert needed.width() <= r.width()
    with qtbot.waitSignal(v.prediction_ready, timeout=20_000) as sig:
        v.show_source(ready)
    assert sig.args[0]["name"].startswith("sample 0")
    assert len(v.inputs) == 1 and v.list.count() == 1 and v.current == 0
    assert v.input_canvas.image.image is not None and not label.isVisible()
    assert v.save_button.isEnabled()
    # the same run again (AppState re-announces it) adds nothing
    v.show_source(ready)
    assert len(v.inputs) == 1


def test_method_header_follows_the_choice_at_once(run_dir, imodel, view_factory, qtbot):
    v = view_factory(InferenceView)
    _, ready = _sources(run_dir, imodel)
    with qtbot.waitSignal(v.prediction_ready, timeout=20_000):
        v.show_source(ready)
    assert v.cam_title.text().startswith("Grad-CAM")
    with qtbot.waitSignal(v.prediction_ready, timeout=20_000) as sig:
        v.method_combo.setCurrentIndex(v.method_combo.findData("saliency"))  # as the user's pick
        # before the map is computed
        assert v.cam_title.text().startswith("Saliency") and "Grad-CAM" not in v.cam_title.text()
    assert sig.args[0]["method"] == "saliency" and v.cam_title.text().startswith("Saliency for")
