"""FeatureMapView: the maps it shows are the model's real tensors; the grid, tile clicks, receptive
fields, the training timeline and live refreshes behave as a user sees them."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from cnn_studio.app.inspect.featuremaps import FeatureMapView
from cnn_studio.inspection.tiles import GridGeometry


def click(qtbot, canvas, x, y):
    """A real mouse click on an ImageCanvas at image coordinate (x, y)."""
    pos = canvas.map_image_to_viewport(x, y)
    qtbot.mouseMove(canvas.viewport(), pos)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


@pytest.fixture
def view(imodel, view_factory, qtbot):
    v = view_factory(FeatureMapView, imodel, size=(1100, 760))
    assert v.wait_idle()
    return v


def _show(v, qtbot, node):
    """Pick a layer and wait until its maps are on screen."""
    if v.node == node and v.maps_node == node:
        return
    with qtbot.waitSignal(v.maps_shown, timeout=10_000):
        assert v.set_node(node)


def test_maps_shown_are_the_models_intermediate_tensor(view, imodel, bundle, qtbot):
    view.show_sample("val", 7)
    _show(view, qtbot, "relu2")
    x = bundle.val.x[7].unsqueeze(0)
    with torch.no_grad():
        _, cap = imodel.model.forward_capture(bundle.normalize(x), ["relu2"])
    np.testing.assert_array_equal(view.maps, cap["relu2"][0].numpy())
    assert view.maps_node == "relu2" and view.maps_source == "model"
    # the caption names the true class and the model's prediction
    assert imodel.class_name(int(bundle.val.y[7])) in view.input_caption.text()


def test_sixteen_channel_conv_gives_a_4x4_grid(view, qtbot):
    _show(view, qtbot, "conv1")
    g = view.geometry
    assert view.maps.shape == (16, 16, 16)
    assert (g.count, g.rows, g.cols) == (16, 4, 4)
    # 16x16 maps are drawn 3x (48 px tiles) with 1 px gaps: 4 * (48 + 1) + 1
    assert view.grid_rgb.shape == (197, 197, 3)
    assert view.grid_canvas.image.image.shape == (197, 197, 3)
    assert "16 channels of 16×16" in view.grid_title.text()


def test_clicking_a_tile_enlarges_that_channel(view, qtbot):
    _show(view, qtbot, "conv1")
    x, y = view.geometry.center(9)
    with qtbot.waitSignal(view.channel_selected, timeout=3000) as sig:
        click(qtbot, view.grid_canvas, x, y)
    assert sig.args == [9] and view.channel == 9
    assert view.tile_canvas.image_shape == (16, 16)
    assert "Channel 9 of 16" in view.tile_title.text()
    # a click on the gap between tiles selects nothing new
    top, left = view.geometry.origin(5)
    click(qtbot, view.grid_canvas, left - 0.5, top + 3)
    assert view.channel == 9


def test_clicking_a_unit_outlines_its_receptive_field(view, imodel, qtbot):
    _show(view, qtbot, "conv2")
    view.select_channel(2)
    click(qtbot, view.tile_canvas, 3.5, 2.5)  # unit row 2, col 3 of the 6x6 map
    assert view.unit == (2, 3)
    box = view.rf
    assert box == imodel.rf_box("conv2", 2, 3)
    assert view.rf_rect.isVisible()
    assert view.rf_rect.rect_size() == imodel.rf_size("conv2") == (8, 8)
    assert "receptive field 8×8" in view.tile_caption.text()
    # a corner unit of conv1 sees past the border: the outline is clipped to the image
    _show(view, qtbot, "conv1")
    view.select_channel(0)
    view.select_unit(0, 0)
    assert view.rf_rect.rect_size() == (2, 2)
    assert "clipped" in view.tile_caption.text()


def test_timeline_slider_switches_between_snapshots(view, qtbot):
    rng = np.random.default_rng(1)
    snaps = {e: {"conv1": rng.standard_normal((16, 16, 16)).astype(np.float32)} for e in (0, 1, 2)}
    view.set_training_active(True)
    for e, maps in snaps.items():
        view.add_snapshot(e, maps)
    assert view.timeline.isVisible()
    assert view.snapshot_epochs() == [0, 1, 2]
    assert view.node == "conv1"
    assert view.maps_source == "snapshot"  # following: the newest
    np.testing.assert_allclose(view.maps, snaps[2]["conv1"], atol=2e-3, rtol=1e-3)
    view.slider.setValue(0)
    assert view.follow_check.isChecked() is False
    np.testing.assert_allclose(view.maps, snaps[0]["conv1"], atol=2e-3, rtol=1e-3)
    assert view.epoch_label.text() == "before training"
    qtbot.keyClick(view.slider, Qt.Key.Key_Right)
    np.testing.assert_allclose(view.maps, snaps[1]["conv1"], atol=2e-3, rtol=1e-3)
    assert view.epoch_label.text() == "epoch 1 of 2"
    # a new epoch while looking back: the view stays on the chosen epoch
    view.add_snapshot(3, {"conv1": rng.standard_normal((16, 16, 16)).astype(np.float32)})
    np.testing.assert_allclose(view.maps, snaps[1]["conv1"], atol=2e-3, rtol=1e-3)
    view.follow_check.setChecked(True)
    assert view.slider.value() == 4 and view.epoch_label.text().startswith("now")


def test_live_maps_refresh_the_view_throttled(imodel, view_factory, qtbot):
    v = view_factory(FeatureMapView, imodel, live_fps=10.0)
    assert v.wait_idle()
    _show(v, qtbot, "conv1")
    v.set_training_active(True)
    shown = []
    v.maps_shown.connect(lambda: shown.append(v.maps.copy()))
    rng = np.random.default_rng(2)
    last = None
    for _ in range(30):  # a burst of live refreshes within a few milliseconds
        last = rng.standard_normal((16, 16, 16)).astype(np.float32)
        v.add_snapshot(-1, {"conv1": last})
    qtbot.waitUntil(lambda: len(shown) >= 1, timeout=3000)
    qtbot.wait(250)
    assert len(shown) <= 2  # not 30 renders
    np.testing.assert_array_equal(v.maps, last)
    assert v.maps_source == "live" and "live" in v.grid_title.text()


def test_pin_requested_follows_the_sample_and_layer(view, bundle, qtbot):
    with qtbot.waitSignal(view.pin_requested, timeout=3000) as sig:
        view.set_node("conv2")
    x, node = sig.args
    assert node == "conv2" and torch.equal(x, view.input_tensor)
    with qtbot.waitSignal(view.pin_requested, timeout=3000) as sig:
        view.show_sample("val", 4)
    assert torch.equal(sig.args[0], bundle.val.x[4])


def test_class_filter_and_arrows_browse_samples_of_one_class(view, bundle, qtbot):
    labels = bundle.val.y.numpy()
    cls = int(labels[5])
    view.class_combo.setCurrentIndex(view.class_combo.findData(cls))
    first = int(np.nonzero(labels == cls)[0][0])
    assert view.index_spin.value() == first
    qtbot.mouseClick(view.next_button, Qt.MouseButton.LeftButton)
    second = int(np.nonzero(labels == cls)[0][1])
    assert view.index_spin.value() == second
    assert torch.equal(view.input_tensor, bundle.val.x[second])
    qtbot.mouseClick(view.prev_button, Qt.MouseButton.LeftButton)
    assert view.index_spin.value() == first


def test_image_file_and_drawing_inputs(view, tmp_path, qtbot, imodel):
    from PIL import Image

    a = np.zeros((32, 32, 3), np.uint8)
    a[4:12, 20:28] = 255
    Image.fromarray(a).save(tmp_path / "square.png")
    view.get_open_paths = lambda *a, **k: [str(tmp_path / "square.png")]
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert view.input_tensor.shape == (3, 16, 16) and int(view.input_tensor[:, 2:6, 10:14].float().mean()) > 200
    assert "square.png" in view.input_caption.text()
    view.draw_button.setChecked(True)
    assert view.pad_box.isVisible()
    with qtbot.waitSignal(view.maps_shown, timeout=10_000):
        view.pad.draw_stroke([(0.3, 0.3), (0.7, 0.7)])
    assert "drawing" in view.input_caption.text()
    np.testing.assert_array_equal(view.maps, imodel.feature_maps(view.input_tensor, view.node))


def test_save_png_writes_the_grid(view, qtbot, tmp_path):
    from PIL import Image

    _show(view, qtbot, "conv2")
    view.get_save_path = lambda *a, **k: str(tmp_path / "maps.png")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    im = Image.open(tmp_path / "maps.png")
    g = GridGeometry.for_maps((8, 6, 6))
    assert im.size == (g.width, g.height)
    np.testing.assert_array_equal(np.asarray(im.convert("RGB")), view.grid_rgb)


def test_flat_layer_and_unknown_node(view, qtbot):
    _show(view, qtbot, "fc")
    assert view.maps.shape == (10,) and view.geometry.count == 1
    assert not view.set_node("loss")  # the loss has no output to show
    assert "no output" in view.status.text()


def test_a_new_model_keeps_the_sample_and_layer(view, imodel, qtbot, bundle):
    view.show_sample("val", 9)
    _show(view, qtbot, "conv2")
    with qtbot.waitSignal(view.maps_shown, timeout=10_000):
        view.set_model(imodel)  # e.g. the trained model replacing a snapshot
    assert view.node == "conv2" and view.index_spin.value() == 9
    assert torch.equal(view.input_tensor, bundle.val.x[9])


def test_tiles_carry_their_channel_numbers_once_big_enough(view, qtbot):
    """Each tile shows its channel index in its corner while tiles are big enough on screen to keep
    most of the map visible; zoomed far out the numbers are not drawn."""
    _show(view, qtbot, "conv1")
    g, canvas = view.geometry, view.grid_canvas
    labels = canvas.tile_labels.labels
    assert [t for _, _, t in labels] == [str(i) for i in range(g.count)]
    for i, (x, y, _) in enumerate(labels):
        assert (y, x) == g.origin(i) and g.tile_at(x + 1, y + 1) == i

    def drawn():
        item = canvas.tile_labels
        return item.shown_at(item.deviceTransform(canvas.viewportTransform()))

    assert drawn()  # 16 tiles of 16x16 units in an 1100x760 view
    canvas.vb.scaleBy((40, 40))  # zoom far out: tiles of a few pixels
    qtbot.waitUntil(lambda: not drawn(), timeout=2000)
    canvas.fit()
    qtbot.waitUntil(drawn, timeout=2000)
