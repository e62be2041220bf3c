"""Attributions on cases whose answer is known: a hand-set linear model where one pixel alone
matters (IG = x * w exactly, completeness; occlusion drops the score only where that pixel is),
a region model (occluding the bright square drops the score most), and the hand-written Grad-CAM
and saliency against Captum's LayerGradCam and Saliency on a random LeNet-5."""
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio import compile_model, templates
from cnn_studio.core import Graph
from cnn_studio.core.graph import chain
from cnn_studio.inspection import grad_cam, saliency
from cnn_studio.inspection.attributions import (AttributionError, captum_available, evidence_map, explain,
                                                ig_attributions, integrated_gradients, occlusion,
                                                occlusion_attributions)

pytest.importorskip("captum", reason="the attribution tests need Captum (pip install -e '.[test]')")


def linear_model(h=8, w=8, pixel=(3, 5), weight=2.0, bias=0.5):
    """Class 1's score is weight * x[pixel] + bias; class 0's is constant: only one pixel matters."""
    g = Graph("linear")
    chain(g, [("input", {"channels": 1, "height": h, "width": w}, "inp"), ("flatten", {}, "flat"),
              ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")])
    m = compile_model(g).eval()
    with torch.no_grad():
        m.fc.weight.zero_()
        m.fc.weight[1, pixel[0] * w + pixel[1]] = weight
        m.fc.bias.copy_(torch.tensor([0.1, bias]))
    return m


def region_model():
    """conv (centre tap +1) -> ReLU -> global average -> linear: class 1 = amount of bright pixels."""
    g = Graph("region")
    chain(g, [("input", {"channels": 1, "height": 16, "width": 16}, "inp"),
              ("conv2d", {"out_channels": 1, "kernel_size": 3, "padding": 1}, "conv"),
              ("relu", {}, "act"), ("adaptive_avgpool2d", {}, "gap"), ("flatten", {}, "flat"),
              ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")])
    m = compile_model(g).eval()
    with torch.no_grad():
        m.conv.weight.zero_()
        m.conv.weight[0, 0, 1, 1] = 1.0
        m.conv.bias.zero_()
        m.fc.weight.copy_(torch.tensor([[0.0], [50.0]]))
        m.fc.bias.zero_()
    return m


@pytest.fixture(scope="module")
def lenet():
    torch.manual_seed(0)
    return compile_model(templates.build("lenet5", (3, 32, 32), 10)).eval()


def test_ig_of_a_linear_model_is_input_times_weight_on_the_one_pixel_that_matters():
    m = linear_model()
    x = torch.rand(1, 1, 8, 8) + 0.5
    attr, delta = ig_attributions(m, x, 1)
    expect = np.zeros((1, 8, 8))
    expect[0, 3, 5] = 2.0 * float(x[0, 0, 3, 5])
    np.testing.assert_allclose(attr, expect, atol=1e-5)
    # completeness: sum(attr) = f(x) - f(baseline), baseline zeros
    with torch.no_grad():
        gap = float(m(x)[0, 1] - m(torch.zeros_like(x))[0, 1])
    assert abs(attr.sum() - gap) < 1e-5 and delta < 1e-5
    mp = integrated_gradients(m, x, 1)
    assert mp.shape == (8, 8) and mp[3, 5] == pytest.approx(1.0) and np.count_nonzero(mp) == 1
    assert not integrated_gradients(m, x, 0).any()  # class 0 is constant: no pixel speaks for it


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=16, max_size=16), st.lists(st.floats(-1, 1), min_size=16, max_size=16),
       st.floats(-1, 1))
def test_ig_of_any_linear_model_is_input_times_weight(weights, pixels, bias):
    """For f(x) = w.x + b and a zero baseline the path integral is exact: attr = w * x, sum = f(x) - f(0)."""
    g = Graph("lin")
    chain(g, [("input", {"channels": 1, "height": 4, "width": 4}, "inp"), ("flatten", {}, "flat"),
              ("linear", {"out_features": 2}, "fc"), ("cross_entropy", {}, "loss")])
    m = compile_model(g).eval()
    w = torch.tensor(weights).view(1, 16)
    with torch.no_grad():
        m.fc.weight.zero_()
        m.fc.weight[1:].copy_(w)
        m.fc.bias.fill_(bias)
    x = torch.tensor(pixels).view(1, 1, 4, 4)
    attr, delta = ig_attributions(m, x, 1, steps=8)
    np.testing.assert_allclose(attr.ravel(), (w * x.view(1, 16)).numpy().ravel(), atol=1e-5)
    assert delta < 1e-4


def test_ig_completeness_on_a_nonlinear_network(lenet):
    torch.manual_seed(1)
    x = torch.randn(1, 3, 32, 32)
    attr, delta = ig_attributions(lenet, x, 3, steps=128)
    with torch.no_grad():
        gap = float(lenet(x)[0, 3] - lenet(torch.zeros_like(x))[0, 3])
    assert abs(float(attr.sum()) - gap) < 0.02 * max(abs(gap), 1e-3) + 1e-4
    assert delta < 0.02 * max(abs(gap), 1e-3) + 1e-4
    assert lenet.training is False


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 5), st.integers(0, 5), st.floats(-3, 3).filter(lambda v: abs(v) > 0.05), st.floats(0.1, 2.0))
def test_occlusion_with_a_one_pixel_window_equals_the_score_drop_of_that_pixel(py, px, weight, value):
    m = linear_model(6, 6, (py, px), weight)
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, py, px] = value
    attr = occlusion_attributions(m, x, 1, window=1, stride=1)
    expect = np.zeros((1, 6, 6))
    expect[0, py, px] = weight * value  # blanking that pixel drops the score by w * x; nothing else does
    np.testing.assert_allclose(attr, expect, atol=1e-5)
    mp = occlusion(m, x, 1, window=1, stride=1)
    assert (mp[py, px] == pytest.approx(1.0)) == (weight > 0) and np.count_nonzero(mp) == (1 if weight > 0 else 0)


def test_occluding_the_region_that_matters_gives_the_largest_drop():
    m = region_model()
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 2:6, 9:13] = 1.0  # a bright 4x4 square
    attr = occlusion_attributions(m, x, 1, window=4, stride=2)[0]
    assert np.unravel_index(attr.argmax(), attr.shape)[0] in range(2, 6)
    assert np.unravel_index(attr.argmax(), attr.shape)[1] in range(9, 13)
    assert attr[2:6, 9:13].min() > 0 and np.abs(attr[9:, :]).max() == 0 and np.abs(attr[:, :6]).max() == 0
    mp = occlusion(m, x, 1)  # default window: 16 // 8 = 2 pixels
    assert mp[2:6, 9:13].mean() > 0.5 and mp[9:, :].max() == 0


def test_grad_cam_equals_captums_layer_grad_cam(lenet):
    from captum.attr import LayerAttribution, LayerGradCam

    torch.manual_seed(2)
    for layer in ("c3", "c3_act", "c1_act"):
        for target in (0, 7):
            x = torch.randn(1, 3, 32, 32)
            ours = grad_cam(lenet, x, target, layer)
            ref = LayerGradCam(lenet, lenet.module_for(layer)).attribute(x, target=target, relu_attributions=True)
            ref = LayerAttribution.interpolate(ref, (32, 32), "bilinear")[0, 0].detach().numpy()
            ref = ref / ref.max() if ref.max() > 0 else ref
            np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_saliency_equals_captums_saliency(lenet):
    from captum.attr import Saliency

    torch.manual_seed(3)
    x = torch.randn(1, 3, 32, 32)
    ours = saliency(lenet, x, 4)
    ref = Saliency(lenet).attribute(x.clone().requires_grad_(True), target=4, abs=True)[0].amax(dim=0).numpy()
    np.testing.assert_allclose(ours, ref / ref.max(), atol=1e-6)


def test_explain_dispatches_and_refuses_bad_input(lenet):
    x = torch.randn(1, 3, 32, 32)
    np.testing.assert_allclose(explain(lenet, x, "gradcam", 2, "c3"), grad_cam(lenet, x, 2, "c3"))
    np.testing.assert_allclose(explain(lenet, x, "saliency", 2), saliency(lenet, x, 2))
    for method in ("ig", "occlusion"):
        mp = explain(lenet, x, method, 2)
        assert mp.shape == (32, 32) and mp.min() >= 0 and mp.max() <= 1 and mp.dtype == np.float32
    with pytest.raises(AttributionError, match="unknown attribution method 'lime'"):
        explain(lenet, x, "lime", 2)
    with pytest.raises(AttributionError, match="class 10 is out of range; the model has 10 classes"):
        explain(lenet, x, "ig", 10)
    with pytest.raises(AttributionError, match="window must be between 1 and 32"):
        occlusion(lenet, x, 1, window=40)


def test_evidence_map_keeps_the_positive_part_of_the_channel_sum():
    a = np.zeros((2, 2, 2))
    a[0, 0, 0], a[1, 0, 0] = 3.0, 1.0  # 4 in total
    a[0, 1, 1] = -5.0  # evidence against: not shown
    a[1, 0, 1] = 2.0
    np.testing.assert_allclose(evidence_map(a), [[1.0, 0.5], [0.0, 0.0]])
    assert not evidence_map(-np.ones((1, 3, 3))).any()


def test_without_captum_ig_and_occlusion_say_how_to_install_it(monkeypatch, lenet):
    for name in [k for k in sys.modules if k == "captum" or k.startswith("captum.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "captum", None)  # import captum raises ImportError
    assert captum_available() is False
    x = torch.randn(1, 3, 32, 32)
    for method in ("ig", "occlusion"):
        with pytest.raises(AttributionError, match=r"need the Captum package; install Captum: pip install 'cnn-studio\[explain\]'"):
            explain(lenet, x, method, 0)
    assert explain(lenet, x, "saliency", 0).shape == (32, 32)  # the hand-written maps need no Captum
