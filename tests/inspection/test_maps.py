import numpy as np
import pytest
import torch

from cnn_studio import compile_model, templates
from cnn_studio.core import Graph, StudioError
from cnn_studio.core.graph import chain
from cnn_studio.inspection import (channel_grid, confusion_matrix, conv_layers, feature_maps, grad_cam,
                                   misclassified, per_class, predict, saliency, summarize)


@pytest.fixture(scope="module")
def lenet():
    torch.manual_seed(0)
    return compile_model(templates.build("lenet5", (3, 32, 32), 10))


def test_feature_maps_equal_the_real_intermediate_tensor(lenet):
    x = torch.randn(1, 3, 32, 32)
    maps = feature_maps(lenet, x, "c3")
    # recompute by hand through the named submodules
    with torch.no_grad():
        h = lenet.c1(x)
        h = lenet.c1_act(h)
        h = lenet.s2(h)
        h = lenet.c3(h)
    assert maps.shape == (16, 10, 10)
    np.testing.assert_array_equal(maps, h[0].numpy())


def test_feature_maps_of_a_flat_layer_and_unknown_node(lenet):
    assert feature_maps(lenet, torch.randn(3, 32, 32), "f6").shape == (84,)
    with pytest.raises(StudioError, match="no node 'zzz'"):
        feature_maps(lenet, torch.randn(1, 3, 32, 32), "zzz")


def test_predict_topk_probabilities(lenet):
    idx, p = predict(lenet, torch.randn(4, 3, 32, 32), k=5)
    assert idx.shape == (4, 5) and p.shape == (4, 5)
    assert np.all(np.diff(p, axis=1) <= 0)
    assert np.all(p.sum(axis=1) <= 1.0 + 1e-6)


def _region_model():
    """A CNN whose class-1 score is the amount of bright pixels: conv(1x1, +1) -> ReLU -> GAP -> FC."""
    g = Graph()
    chain(g, [("input", {"channels": 1, "height": 16, "width": 16}, "inp"), ("conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, "conv"),
              ("relu", {}, "act"), ("adaptive_avgpool2d", {}, "gap"), ("flatten", {}, "flat"), ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")])
    m = compile_model(g)
    with torch.no_grad():
        m.conv.weight.zero_()
        m.conv.weight[0, 0, 1, 1] = 1.0  # channel 0 copies the image
        m.conv.weight[1, 0, 1, 1] = -1.0  # channel 1 responds to dark pixels (none here)
        m.conv.bias.zero_()
        m.fc.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
        m.fc.bias.zero_()
    return m


def test_grad_cam_highlights_the_region_the_answer_depends_on():
    m = _region_model()
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 2:6, 9:13] = 1.0  # a bright square, top right
    cam = grad_cam(m, x, target=1, node_id="act")
    assert cam.shape == (16, 16)
    inside = cam[2:6, 9:13].mean()
    outside = np.concatenate([cam[9:, :].ravel(), cam[:, :6].ravel()]).mean()
    assert inside > 0.8 and outside < 0.05
    assert cam.max() == pytest.approx(1.0)
    # and class 0 (which no pixel supports) gives nothing
    assert grad_cam(m, x, target=0, node_id="act").max() == 0.0


def test_saliency_points_at_the_pixels_that_matter():
    m = _region_model()
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 10:14, 1:5] = 1.0
    s = saliency(m, x, target=1)
    assert s[10:14, 1:5].min() > 0.99 and s[0:8, 8:].max() == 0.0


def test_grad_cam_refuses_flat_layers_and_bad_classes(lenet):
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(StudioError, match="flat vector"):
        grad_cam(lenet, x, 0, "f6")
    with pytest.raises(StudioError, match="out of range"):
        grad_cam(lenet, x, 10, "c3")
    assert conv_layers(lenet)[:3] == ["c1", "c1_act", "s2"]
    assert "f6" not in conv_layers(lenet)


def test_channel_grid_layout():
    maps = np.random.default_rng(0).normal(size=(10, 4, 4)).astype(np.float32)
    img = channel_grid(maps, upscale=1, pad=1)
    assert img.dtype == np.uint8 and img.shape == (3 * 5 + 1, 4 * 5 + 1, 3)
    flat = channel_grid(np.arange(20, dtype=np.float32))
    assert flat.ndim == 3


def test_confusion_matrix_sums_equal_sample_counts():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 500)
    preds = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 4, 500))
    cm = confusion_matrix(labels, preds, 4)
    assert cm.sum() == 500
    assert list(cm.sum(axis=1)) == [int((labels == c).sum()) for c in range(4)]
    assert list(cm.sum(axis=0)) == [int((preds == c).sum()) for c in range(4)]
    s = summarize(labels, preds, 4, ["a", "b", "c", "d"])
    assert s["accuracy"] == pytest.approx((labels == preds).mean())
    pc = per_class(cm)
    assert pc[2]["recall"] == pytest.approx(cm[2, 2] / cm[2].sum())
    assert pc[2]["precision"] == pytest.approx(cm[2, 2] / cm[:, 2].sum())
    confs = rng.random(500)
    cell = misclassified(labels, preds, confs, true_class=1, pred_class=3)
    assert len(cell) == cm[1, 3] and np.all(labels[cell] == 1) and np.all(preds[cell] == 3)
    assert np.all(np.diff(confs[cell]) <= 0)
