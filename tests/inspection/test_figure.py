"""The labelled feature-map figure (inspection/figure.py): layout on any map shape, and drawing."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.inspection.figure import BACKGROUND, MAX_WIDTH_PX, MIN_TILE_PX, featuremap_figure, figure_layout


def _inside(box, w, h):
    x0, y0, x1, y1 = box
    return 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@settings(max_examples=80, deadline=None)
@given(c=st.integers(1, 600), h=st.integers(1, 64), w=st.integers(1, 64), ih=st.integers(1, 256), iw=st.integers(1, 256))
def test_layout_fits_does_not_overlap_and_reads(c, h, w, ih, iw):
    lay = figure_layout((c, h, w), (ih, iw))
    assert len(lay.tiles) == len(lay.labels) == c
    boxes = [lay.title, lay.input, lay.input_caption] + lay.tiles + lay.labels
    assert all(_inside(b, lay.width, lay.height) for b in boxes)
    assert all(b[1] >= lay.title[3] for b in [lay.input] + lay.tiles)  # everything under the title band
    for i in range(c):  # each tile under its own label, clear of the input column
        assert lay.labels[i][3] <= lay.tiles[i][1] and lay.tiles[i][0] >= lay.input[2]
    sample = lay.tiles[: 30] + lay.labels[: 30]
    assert not any(_overlap(a, b) for i, a in enumerate(sample) for b in sample[i + 1:])
    up = lay.upscale
    # readable: tiles at least MIN_TILE_PX on their shorter side, unless that would pass the width cap
    assert min(h, w) * up >= MIN_TILE_PX or lay.width <= MAX_WIDTH_PX or up == 1
    assert up == 1 or lay.width <= MAX_WIDTH_PX
    assert max(lay.input[2] - lay.input[0], lay.input[3] - lay.input[1]) >= min(128, max(ih, iw))


def test_figure_draws_title_numbers_and_a_flat_vector():
    maps = np.random.default_rng(0).normal(size=(3, 5, 5)).astype(np.float32)
    img = np.zeros((3, 10, 10), np.uint8)
    rgb, lay = featuremap_figure(maps, img, ["conv1 · output 3x5x5 (a run folder with a long name, best.pt)",
                                             "validation sample 0 · class ring"])
    assert rgb.shape == (lay.height, lay.width, 3) and lay.upscale * 5 >= MIN_TILE_PX
    bg = np.array(BACKGROUND, np.uint8)
    x0, y0, x1, y1 = lay.title
    assert (rgb[y0:y1, x0:x1] != bg).any(axis=2).mean() > 0.02
    # few tiles: the title decides the width, so its text ends inside the margin, not cut off
    assert lay.width > lay.tiles[-1][2] + 40
    assert (rgb[y0:y1, lay.width - 12:] == bg).all() and (rgb[y0:y1, lay.width - 60:lay.width - 12] != bg).any()
    flat, flay = featuremap_figure(np.arange(10, dtype=np.float32), img, ["fc"])
    assert len(flay.tiles) == 1
    x0, y0, x1, y1 = flay.labels[0]
    assert (flat[y0:y1, x0:x1] != bg).any()  # "10 features"
