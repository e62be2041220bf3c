"""FiltersView: kernels as tiles (colour for RGB input, per input channel or mean deeper), the
histograms of the weights and of the layer's outputs for the current input."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_featuremaps_view import click

from cnn_studio.app.inspect.filters import FiltersView


@pytest.fixture
def view(imodel, view_factory):
    v = view_factory(FiltersView, imodel, size=(1000, 600))
    assert v.wait_idle()
    return v


def test_first_layer_rgb_filters_are_colour_tiles_of_the_weights(view, imodel):
    assert view.node == "conv1" and view.modes() == ["rgb", "per_input", "mean"]
    assert view.mode == "rgb" and view.tile_count == 16
    w = imodel.model.module_for("conv1").weight.detach().numpy()
    np.testing.assert_array_equal(view.weight, w)
    # 3x3 kernels drawn 9x with 3 px gaps in a 4x4 grid: 4 * (27 + 3) + 3
    assert view.grid_rgb.shape == (123, 123, 3)
    # filter 0's tile: the weight with the largest |w| is the most saturated pixel of its channel
    k = w[0]
    c, i, j = np.unravel_index(np.abs(k).argmax(), k.shape)
    top, left = view.tile_origin(0)
    px = view.grid_rgb[int(top) + i * 9 + 4, int(left) + j * 9 + 4].astype(int)
    assert px[c] == (255 if k[c, i, j] > 0 else 0)


def test_modes_and_deeper_layer(view, qtbot):
    view.set_mode("per_input")
    assert view.tile_count == 16 * 3
    view.set_mode("mean")
    assert view.tile_count == 16
    assert view.set_node("conv2")
    assert view.modes() == ["per_input", "mean"] and view.mode == "mean"  # the choice is kept where it exists
    assert view.tile_count == 8
    view.set_mode("per_input")
    assert view.tile_count == 8 * 16 and "8 filters (rows) × 16 input channels (columns)" in view.title.text()
    view.set_node("conv1")
    view.set_mode("rgb")
    view.set_node("conv2")
    assert view.mode == "per_input"  # no colour tiles for 16 input channels
    assert not view.set_node("relu1")
    assert "not a convolution" in view.status.text()


def test_histograms_cover_every_weight_and_output(view, imodel, bundle, qtbot):
    x_w, y_w = view.weight_curve.getData()
    assert y_w.sum() == view.weight.size == 16 * 3 * 3 * 3
    view.set_input(bundle.val.x[2])
    qtbot.waitUntil(lambda: view.activations is not None and np.array_equal(view.activations, imodel.feature_maps(bundle.val.x[2], "conv1")), timeout=5000)
    _, y_a = view.act_curve.getData()
    assert y_a.sum() == 16 * 16 * 16
    assert "positive" in view.stats.text()


def test_clicking_a_kernel_selects_that_filter(view, qtbot):
    view.set_node("conv2")
    top, left = view.tile_origin(3, 5)  # filter 3, input channel 5
    with qtbot.waitSignal(view.filter_selected, timeout=3000) as sig:
        click(qtbot, view.canvas, left + 2, top + 2)
    assert sig.args == ["conv2", 3]
    assert view.select_rect.isVisible()
    # more filters than input channels: one filter per column; hit-testing follows
    view.set_node("conv1")
    view.set_mode("per_input")
    assert "16 filters (columns) × 3 input channels (rows)" in view.title.text()
    assert view.grid_rgb.shape[1] > view.grid_rgb.shape[0]
    top, left = view.tile_origin(11, 2)
    assert view.tile_at(left + 1, top + 1) == (11, 2)
    with qtbot.waitSignal(view.filter_selected, timeout=3000) as sig:
        click(qtbot, view.canvas, left + 4, top + 4)
    assert sig.args == ["conv1", 11]


def test_save_png(view, tmp_path, qtbot):
    from PIL import Image

    view.get_save_path = lambda *a, **k: str(tmp_path / "k.png")
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert Image.open(tmp_path / "k.png").size == (view.grid_rgb.shape[1], view.grid_rgb.shape[0])
