"""Small-map weight gradients (training/small_maps.py): the same numbers as the module's own
convolution, only where the output map is tiny, never under tracing or without gradients, and
installed and removed by the Trainer."""
import copy

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from cnn_studio.training import small_maps
from training_helpers import StopAt


def _grads(conv, x, autocast=False):
    conv.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = conv(x)
    y.float().pow(2).sum().backward()
    return y, x.grad, conv.weight.grad, None if conv.bias is None else conv.bias.grad


def _pair(conv):
    fast = copy.deepcopy(conv)
    assert small_maps.install(fast) == 1
    return conv, fast


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_fp32_gradients_equal_the_plain_convolution(bias, layout):
    torch.manual_seed(0)
    plain, fast = _pair(nn.Conv2d(16, 24, 3, stride=2, padding=1, bias=bias))
    x = torch.randn(5, 16, 4, 4)  # 2x2 output
    if layout == "channels_last":
        plain, fast = plain.to(memory_format=torch.channels_last), fast.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y0, gx0, gw0, gb0 = _grads(plain, x)
    y1, gx1, gw1, gb1 = _grads(fast, x)
    assert y1.grad_fn is not None and "SmallMapConv" in type(y1.grad_fn).__name__
    assert torch.equal(y0, y1)  # the forward is the same oneDNN convolution
    torch.testing.assert_close(gx1, gx0)
    torch.testing.assert_close(gw1, gw0, rtol=1e-5, atol=1e-5)
    if bias:
        torch.testing.assert_close(gb1, gb0, rtol=1e-5, atol=1e-5)


def test_bf16_autocast_casts_as_autocast_does_and_keeps_fp32_weight_gradients():
    torch.manual_seed(1)
    plain, fast = _pair(nn.Conv2d(32, 32, 3, padding=1))
    x = torch.randn(8, 32, 2, 2)
    y0, gx0, gw0, gb0 = _grads(plain, x, autocast=True)
    y1, gx1, gw1, gb1 = _grads(fast, x, autocast=True)
    assert y1.dtype == y0.dtype == torch.bfloat16 and "SmallMapConv" in type(y1.grad_fn).__name__
    assert gw1.dtype == torch.float32 and gb1.dtype == torch.float32  # accumulated into the fp32 parameters
    for a, b in ((y1.float(), y0.float()), (gx1, gx0), (gw1, gw0), (gb1, gb0)):
        assert ((a - b).norm() / b.norm()).item() < 2e-2  # bf16 products summed in another order


def test_larger_maps_no_gradients_and_tracing_take_the_modules_own_path():
    torch.manual_seed(2)
    plain, fast = _pair(nn.Conv2d(4, 4, 3, padding=1))
    big = torch.randn(2, 4, 3, 3, requires_grad=True)  # 9 output pixels
    assert "SmallMapConv" not in type(fast(big).grad_fn).__name__
    small = torch.randn(2, 4, 2, 2)
    with torch.no_grad():
        assert torch.equal(fast(small), plain(small))
    traced = torch.jit.trace(fast, small)  # a tracer sees the plain convolution
    assert "aten::_convolution" in str(traced.graph) and torch.allclose(traced(small), plain(small))
    assert "SmallMapConv" in type(fast(small.requires_grad_()).grad_fn).__name__


def test_install_is_idempotent_deepcopy_binds_to_the_copy_and_uninstall_restores():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=2), nn.Conv2d(8, 8, 3, dilation=2),
                          nn.Conv2d(8, 4, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert small_maps.install(model) == 2 and small_maps.install(model) == 2  # groups and dilation keep theirs
    assert small_maps.installed(model) and set(model.state_dict()) == set(before)
    twin = copy.deepcopy(model)
    assert twin[0]._conv_forward.__self__ is twin[0]
    small_maps.uninstall(model)
    assert not small_maps.installed(model) and small_maps.installed(twin)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@settings(max_examples=25, deadline=None)
@given(c_in=st.integers(1, 12), c_out=st.integers(1, 12), k=st.integers(1, 3), stride=st.integers(1, 3),
       pad=st.integers(0, 1), h=st.integers(1, 5), w=st.integers(1, 5), batch=st.integers(1, 4), bias=st.booleans())
def test_any_small_map_shape_gives_the_plain_gradients(c_in, c_out, k, stride, pad, h, w, batch, bias):
    if h + 2 * pad < k or w + 2 * pad < k:
        return  # no output at all: nothing to compare
    torch.manual_seed(3)
    plain, fast = _pair(nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=bias))
    x = torch.randn(batch, c_in, h, w)
    out = fast(x.requires_grad_())
    small = out.shape[-1] * out.shape[-2] <= small_maps.SMALL_MAP_PIXELS
    assert ("SmallMapConv" in type(out.grad_fn).__name__) == small
    r0, r1 = _grads(plain, x), _grads(fast, x)
    for a, b in zip(r1, r0):
        if b is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(c_in=st.integers(1, 8), c_out=st.integers(1, 8), k=st.integers(1, 3), stride=st.integers(1, 2),
       pad=st.integers(0, 1), h=st.integers(3, 9), batch=st.integers(1, 3), channels_last=st.booleans())
def test_the_product_weight_gradient_equals_atens_at_any_map_size(c_in, c_out, k, stride, pad, h, batch, channels_last):
    """weight_grad_by_product (what the backward and benchmarks/small_maps.py run) is ATen's weight gradient
    for maps of any size, not only the small ones the path takes, and in either memory format."""
    torch.manual_seed(5)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, c_in, h, h + 1).contiguous(memory_format=fmt)
    w = torch.randn(c_out, c_in, k, k).contiguous(memory_format=fmt)
    out = torch.nn.functional.conv2d(x, w, None, stride, pad)
    g = torch.randn_like(out)
    ref = torch.ops.aten.convolution_backward(g, x, w, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1,
                                              [False, True, False])[1]
    got = small_maps.weight_grad_by_product(x, g, w.shape, (stride, stride), (pad, pad))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def _small_map_graph(shape, classes):
    """16x16 -> conv -> pool 4 -> 4x4 -> conv stride 2 -> 2x2 (the small-map path) -> linear."""
    from cnn_studio.core.graph import Graph, chain

    c, h, w = shape
    g = Graph("small-maps")
    chain(g, [("input", {"channels": c, "height": h, "width": w}, "input"),
              ("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv"),
              ("relu", {}, "relu"), ("maxpool2d", {"kernel_size": 4}, "pool"),
              ("conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "stride": 2}, "conv2"),
              ("relu", {}, "relu2"), ("flatten", {}, "flatten"), ("linear", {"out_features": classes}, "fc"),
              ("cross_entropy", {}, "loss")])
    return g


def _cfg(**kw):
    from cnn_studio.training import TrainConfig

    return TrainConfig(**{**dict(epochs=1, batch_size=32, optimizer="adam", lr=0.003, schedule="constant", device="cpu",
                                 seed=1, num_threads=1, layer_stats_every=0), **kw})


def _watch(seen):
    """A callback noting after each step whether the model's convolutions carry the small-map path."""
    from cnn_studio.training import Callback

    class Watch(Callback):
        def on_batch_end(self, trainer, m):
            seen.append(small_maps.installed(trainer.model))

    return Watch()


def test_the_trainer_installs_it_for_a_new_run_records_it_and_removes_it_at_the_end(bundle, tmp_path):
    from cnn_studio.training import Trainer

    seen = []
    g = _small_map_graph(bundle.input_shape(), bundle.num_classes)
    t = Trainer(g, bundle, _cfg(), run_dir=tmp_path / "r", callbacks=[_watch(seen)])
    s = t.fit()
    assert s["speed"]["small_map_grads"] is True and seen and all(seen)
    assert not small_maps.installed(t.model)  # inspection and export get the network as compiled
    again = Trainer.from_run(tmp_path / "r", epochs=2, callbacks=[_watch(seen)])
    seen.clear()
    assert again.fit()["speed"]["small_map_grads"] is True and seen and all(seen)  # a resume keeps the first session's way


def test_a_run_recorded_before_it_resumes_without_it(bundle, tmp_path):
    import json

    from cnn_studio.training import Trainer

    Trainer(_small_map_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg(), run_dir=tmp_path / "old").fit()
    # the run as a version before small-map gradients recorded it: no such key in its mode
    edited = 0
    for path in (tmp_path / "old").rglob("*.pt"):
        payload = torch.load(path, weights_only=True)
        if isinstance(payload, dict) and isinstance(payload.get("speed"), dict):
            payload["speed"].pop("small_map_grads")
            torch.save(payload, path)
            edited += 1
    assert edited
    seen = []
    r = Trainer.from_run(tmp_path / "old", epochs=2, callbacks=[_watch(seen)])
    assert r.fit()["speed"]["small_map_grads"] is False and seen and not any(seen)
    assert json.loads((tmp_path / "old" / "summary.json").read_text())["speed"]["small_map_grads"] is False


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_with_it_from_a_mid_epoch_stop_is_exact(bundle, tmp_path, precision):
    from cnn_studio.training import Trainer

    cfg = _cfg(epochs=2, lr=0.01, schedule="onecycle", seed=3, speed="channels_last", precision=precision)
    g = _small_map_graph(bundle.input_shape(), bundle.num_classes)
    straight = Trainer(g, bundle, cfg, run_dir=tmp_path / "straight")
    assert straight.fit()["speed"]["small_map_grads"] is True

    Trainer(g, bundle, cfg, run_dir=tmp_path / "run", callbacks=[StopAt(2, 2)]).fit()
    second = Trainer.from_run(tmp_path / "run")
    assert second.fit()["stop_reason"] == "finished"
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
