"""The Layer statistics view forgets the previous network's plots when the app state shows nothing
(File > New / Open) or another run, and its gradient-flow title is not clipped in a dock-sized pane."""
import numpy as np
import pytest

from cnn_studio.app.inspect.layerstats_view import LayerStatsView
from cnn_studio.app.state import ViewSource

E = 10


def fake_stats() -> dict:
    """What read_stats returns for a 10-epoch run of two layers with weights (c1, c3)."""
    rng = np.random.default_rng(0)
    s = {"run_dir": "/runs/a", "epochs": list(range(1, E + 1)), "types": {"c1": "conv2d", "c3": "conv2d"},
         "param_ids": ["c1", "c3"], "act_ids": ["c1"], "grad_norm": rng.uniform(100, 400, (E, 2)),
         "flags": [[] for _ in range(E)]}
    for k, n in (("weight", 2), ("grad", 2), ("act", 1)):
        s[f"{k}_hist"] = rng.integers(0, 50, (E, n, 32)).astype(float)
        s[f"{k}_range"] = np.tile(np.array([-0.4, 0.3]), (E, n, 1))
    return s


@pytest.fixture
def view(view_factory):
    return view_factory(LayerStatsView, size=(750, 300))  # the bottom dock's size at 1280x800


def _title(plot) -> str:
    return plot.titleLabel.text if plot.titleLabel.isVisible() else ""


def test_nothing_shown_clears_marker_axes_and_title(view):
    view.set_stats(fake_stats())
    assert view.epoch_line.isVisible() and view.epoch_line.value() == E
    assert "epoch 10" in _title(view.flow_plot) and "c1" in _title(view.heat_plot)
    assert view.heat_plot.viewRange()[0][1] == pytest.approx(E + 0.5)
    view.show_source(ViewSource.nothing("untitled"))
    assert not view.epoch_line.isVisible()
    assert "epoch" not in _title(view.flow_plot) and _title(view.heat_plot) == ""
    assert view.heat_plot.getAxis("left").labelText == ""
    assert view.heat_plot.viewRange()[0][1] < 2  # not the old run's 0.5..10.5 epochs any more
    assert view.flow_plot.getAxis("bottom")._tickLevels == [[]]
    assert view.heat_image.image is None and view.placeholder.isVisible()
    # and back: a run shown again draws its plots
    stats = fake_stats()
    view.set_stats(stats)
    assert view.epoch_line.isVisible() and "epoch 10" in _title(view.flow_plot)
    # the gradient norms are in view again (log axis: log10 of 100..400), not the cleared [0, 1]
    view.flow_plot.vb.updateAutoRange()
    lo, hi = view.flow_plot.viewRange()[1]
    g = np.log10(stats["grad_norm"][-1])
    assert lo <= g.min() and hi >= g.max()


def test_another_run_starts_from_blank(view, tmp_path):
    view.set_stats(fake_stats())
    view._source = ViewSource("run", "a", run_dir=str(tmp_path / "a"), status="ready")
    view.show_source(ViewSource("run", "b", run_dir=str(tmp_path / "b"), status="loading"))
    assert not view.epoch_line.isVisible() and "epoch" not in _title(view.flow_plot)
    assert view.stats is None and view.layer_combo.count() == 0


def test_gradient_flow_title_fits_its_pane(view_factory, qtbot):
    view = view_factory(LayerStatsView, size=(650, 300))  # a narrow dock: the flow pane is ~200 px wide
    view.set_stats(fake_stats())
    qtbot.wait(300)
    title, pane = view.flow_plot.titleLabel, view.flow_widget.width()
    assert title.text.endswith("epoch 10")
    # the title does not reach past the pane's right edge (where it was cut)
    assert title.item.sceneBoundingRect().right() <= pane
    # a wide pane has room for the whole title
    view.resize(1400, 300)
    qtbot.wait(100)
    assert title.text == "Gradient flow at epoch 10"
    assert title.item.sceneBoundingRect().right() <= view.flow_widget.width()
