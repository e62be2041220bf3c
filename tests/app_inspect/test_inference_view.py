"""InferenceView: image files and drawings go through the training preprocessing; top-5 bars are
sorted probabilities; Grad-CAM points at the region the answer depends on."""
import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

from cnn_studio import compile_model
from cnn_studio.app.inspect.inference import InferenceView
from cnn_studio.inspection.model import InspectModel
from cnn_studio.core import Graph
from cnn_studio.core.graph import chain


def region_model() -> InspectModel:
    """Class 1's score is the amount of bright pixels, class 0's the amount of dark ones:
    conv(3x3 centre tap) -> ReLU -> global average -> linear."""
    g = Graph("region")
    chain(g, [("input", {"channels": 1, "height": 16, "width": 16}, "inp"),
              ("conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, "conv"),
              ("relu", {}, "act"), ("adaptive_avgpool2d", {}, "gap"), ("flatten", {}, "flat"),
              ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")])
    m = compile_model(g)
    with torch.no_grad():
        m.conv.weight.zero_()
        m.conv.weight[0, 0, 1, 1] = 1.0  # channel 0: bright pixels
        m.conv.weight[1, 0, 1, 1] = -1.0
        m.conv.bias.zero_()
        m.conv.bias[1] = 1.0  # channel 1: dark pixels
        m.fc.weight.copy_(torch.tensor([[0.0, 4.0], [100.0, 0.0]]))
        m.fc.bias.zero_()
    return InspectModel(m, g, ["dark", "bright"], mean=[0.0], std=[1.0])


@pytest.fixture
def region_view(view_factory):
    return view_factory(InferenceView, region_model(), size=(1000, 640))


def test_grad_cam_overlay_highlights_the_region_the_answer_depends_on(region_view, tmp_path, qtbot):
    v = region_view
    a = np.zeros((32, 32), np.uint8)
    a[4:12, 18:26] = 255  # a bright square, top right (rows 2..5, cols 9..12 at 16x16)
    Image.fromarray(a).save(tmp_path / "square.png")
    v.get_open_paths = lambda *a, **k: [str(tmp_path / "square.png")]
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000) as sig:
        qtbot.mouseClick(v.open_button, Qt.MouseButton.LeftButton)
    assert sig.args[0]["target"] == 1 and sig.args[0]["layer"] == "act"  # top-1 is "bright"
    cam = v.cam
    assert cam.shape == (16, 16)
    inside = cam[2:6, 9:13].mean()
    outside = np.concatenate([cam[9:, :].ravel(), cam[:, :6].ravel()]).mean()
    assert inside > 0.8 and outside < 0.05
    # the overlay on screen differs from the plain image only around the square
    ov = v.cam_canvas.image.image
    np.testing.assert_array_equal(ov, v.overlay_rgb)
    changed = np.any(ov != v._image_rgb, axis=2)
    assert changed[2:6, 9:13].all() and not changed[9:, :].any() and not changed[:, :6].any()
    assert "bright" in v.cam_title.text()
    # explaining the other class: no evidence in the bright square
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        v.set_target(0)
    assert v.cam_target == 0 and v.cam[2:6, 9:13].mean() < 0.2


def test_top5_bars_are_sorted_probabilities(imodel, bundle, view_factory, qtbot):
    v = view_factory(InferenceView, imodel)
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000) as sig:
        v.add_input(bundle.val.x[0], "val 0")
    top = sig.args[0]["top"]
    probs = [p for _, _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    idx, p = imodel.predict(bundle.val.x[0], 5)
    assert [k for k, _, _ in top] == idx.tolist()
    np.testing.assert_allclose(probs, p, rtol=1e-6)
    assert v.bars.entries == top and v.bars.highlight == top[0][0]
    assert v.layer == "relu2"  # the deepest layer with spatial maps (relu2 4x4 after conv2) by default
    # clicking the third bar explains that class
    y = 4 + 2.5 * v.bars._row_h()
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000) as sig:
        qtbot.mouseClick(v.bars, Qt.MouseButton.LeftButton, pos=v.bars.rect().topLeft() + __import__("PySide6.QtCore", fromlist=["QPoint"]).QPoint(100, int(y)))
    assert sig.args[0]["target"] == top[2][0]
    assert v.saliency_map.shape == (16, 16) and v.saliency_map.max() == pytest.approx(1.0)


def test_many_images_unreadable_ones_reported_and_drawing(imodel, view_factory, tmp_path, qtbot):
    v = view_factory(InferenceView, imodel)
    for k in range(3):
        Image.fromarray(np.full((20, 20, 3), 60 * k, np.uint8)).save(tmp_path / f"im{k}.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    paths = [str(tmp_path / f"im{k}.png") for k in range(3)] + [str(tmp_path / "broken.jpg")]
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        assert v.open_images(paths) == 3
    assert v.list.count() == 3 and "broken.jpg" in v.status.text()
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000) as sig:
        v.show_input(2)
    assert sig.args[0]["name"] == "im2.png"
    v.draw_button.setChecked(True)
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000) as sig:
        v.pad.draw_stroke([(0.5, 0.2), (0.5, 0.8)])
    assert sig.args[0]["name"] == "drawing" and v.list.count() == 4


def test_save_png(region_view, tmp_path, qtbot):
    v = region_view
    a = np.zeros((16, 16), np.uint8)
    a[2:6, 2:6] = 255
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        v.add_input(torch.from_numpy(a)[None].clone(), "x")
    v.get_save_path = lambda *a, **k: str(tmp_path / "cam.png")
    qtbot.mouseClick(v.save_button, Qt.MouseButton.LeftButton)
    assert Image.open(tmp_path / "cam.png").size[0] > 300


def test_the_shared_picker_feeds_a_sample_of_the_runs_data(imodel, bundle, view_factory, qtbot):
    """The picker Feature maps and Evaluation share: the next sample of a class, clicked, becomes an
    input and is classified; the picker lists the run's splits and classes."""
    v = view_factory(InferenceView, imodel)
    picker = v.picker
    assert [picker.split_combo.itemData(i) for i in range(picker.split_combo.count())] == imodel.splits()
    assert picker.class_combo.count() == len(imodel.class_names) + 1  # "all classes" first
    picker.class_combo.setCurrentIndex(3)  # class 2
    qtbot.waitUntil(lambda: len(v.inputs) == 1, timeout=5000)
    qtbot.mouseClick(picker.next_button, Qt.MouseButton.LeftButton)
    split = picker.split
    labels = imodel.labels(split)
    assert len(v.inputs) == 2 and int(labels[picker.index]) == 2
    x, _ = imodel.sample(split, picker.index)
    assert torch.equal(v.inputs[-1][1], x)
    with qtbot.waitSignal(v.prediction_ready, timeout=10_000):
        pass
    assert v.topk is not None and v.inputs[-1][0].startswith(f"sample {picker.index}")
    # nothing to show: the picker empties and is disabled, another network's inputs go
    v.set_model(None)
    assert picker.split_combo.count() == 0 and not picker.next_button.isEnabled() and v.inputs == []
