"""Layer statistics over a run (training/layerstats.py): dead ReLUs, saturated tanh, vanishing
gradients, the stored numbers checked against the trained model, decimation, resume, off = no cost."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.core.graph import Graph, chain
from cnn_studio.training import Callback, TrainConfig, Trainer
from cnn_studio.training import layerstats as ls

from training_helpers import tiny_graph


def cfg(**kw):
    base = dict(epochs=2, batch_size=32, lr=0.01, schedule="constant", restore_best_weights=False, device="cpu", seed=0,
                layer_stats_every=2)
    base.update(kw)
    return TrainConfig(**base)


def tanh_graph(shape, classes, act="tanh"):
    c, h, w = shape
    g = Graph(act)
    chain(g, [
        ("input", {"channels": c, "height": h, "width": w}, "input"),
        ("conv2d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, "conv"),
        (act, {}, "act"),
        ("maxpool2d", {"kernel_size": 4}, "pool"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": classes}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


def probe(bundle):
    """The probe images, drawn the way the recorder documents it (fixed seed, sorted indices)."""
    n = len(bundle.train.y)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(ls.PROBE_SEED))[:min(ls.PROBE_SIZE, n)].sort().values
    return bundle.normalize(bundle.train.x[idx])


@pytest.fixture(scope="module")
def dead_run(bundle, tmp_path_factory):
    """Half of the conv's channels get a bias of -100: their ReLU outputs are zero for every image."""
    g = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
    t = Trainer(g, bundle, cfg(), run_dir=tmp_path_factory.mktemp("ls") / "dead")
    with torch.no_grad():
        t.model.conv.bias[:3] = -100.0
    t.fit()
    return t


def test_dead_relu_units_are_flagged_with_what_helps(dead_run):
    data = ls.load_stats(dead_run.run_dir.path)
    found = [f for f in data["meta"]["flags"] if f["kind"] == "dead"]
    assert [f["node"] for f in found] == ["relu"]
    assert found[0]["value"] == pytest.approx(0.5) and found[0]["badge"] == "50% dead"
    assert "Leaky ReLU" in found[0]["message"] and "learning rate" in found[0]["message"]
    assert data["meta"]["last_units"]["relu"] == [0, 1, 2]
    relu = data["meta"]["act_ids"].index("relu")
    assert data["epoch_dead_fraction"][:, relu].tolist() == [0.5, 0.5]  # every epoch
    assert data["epoch_epoch"].tolist() == [1, 2]


def test_stored_statistics_match_the_trained_model(dead_run, bundle):
    """The last epoch's numbers are those of the final weights (no best-weight restore here)."""
    t = dead_run
    data = ls.load_stats(t.run_dir.path)
    meta = data["meta"]
    assert meta["param_ids"] == ["conv", "fc"] and meta["act_ids"] == ["conv", "relu", "pool", "flatten", "fc"]
    for i, nid in enumerate(meta["param_ids"]):
        w = t.model.module_for(nid).weight.detach()
        grad = t.model.module_for(nid).weight.grad
        assert data["epoch_weight_norm"][-1, i] == pytest.approx(float(w.norm()), rel=1e-5)
        assert data["epoch_grad_norm"][-1, i] == pytest.approx(float(grad.norm()), rel=1e-5)  # the last step's
        assert data["epoch_weight_hist"][-1, i].sum() == w.numel()
        lo, hi = data["epoch_weight_range"][-1, i]
        assert float(w.min()) - 1e-6 <= lo < hi <= float(w.max()) + 1e-6
        assert 0 < data["epoch_update_ratio"][-1, i] < 1
    t.model.eval()
    with torch.no_grad():
        _, cap = t.model.forward_capture(probe(bundle), ["relu", "conv"])
    relu = meta["act_ids"].index("relu")
    assert data["epoch_act_mean"][-1, relu] == pytest.approx(float(cap["relu"].mean()), rel=1e-4)
    assert data["epoch_act_std"][-1, relu] == pytest.approx(float(cap["relu"].std(unbiased=False)), rel=1e-3)
    dead = (cap["relu"].amax(dim=(0, 2, 3)) == 0)
    assert dead.tolist() == [True] * 3 + [False] * 3
    assert math.isnan(data["epoch_dead_fraction"][-1, meta["act_ids"].index("conv")])  # not a ReLU
    # steps: every 2nd step, each epoch's last step in the epoch series
    nb = t.state.batches_per_epoch
    assert data["step_step"].tolist() == list(range(2, 2 * nb + 1, 2))
    assert data["epoch_step"].tolist() == [nb, 2 * nb]


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_saturated_tanh_and_sigmoid_are_flagged(bundle, tmp_path, act):
    g = tanh_graph(tuple(bundle.input_shape()), bundle.num_classes, act)
    t = Trainer(g, bundle, cfg(), run_dir=tmp_path / act)
    with torch.no_grad():  # large weights and biases drive tanh to +-1 (sigmoid to 0 or 1) for (almost) every input
        t.model.conv.weight.mul_(100.0)
        t.model.conv.bias.copy_(torch.tensor([30.0, -30.0, 30.0, -30.0, 0.0, 0.0]))
    t.fit()
    last = ls.last_epoch(ls.load_stats(t.run_dir.path))
    row = next(r for r in last["layers"] if r["node"] == "act")
    assert row["saturated_fraction"] >= 4 / 6
    sat = [f for f in last["flags"] if f["kind"] == "saturated"]
    assert len(sat) == 1 and sat[0]["node"] == "act" and f"saturated {act}" in sat[0]["message"]
    assert not any(f["kind"] == "dead" for f in last["flags"])


def test_a_deep_sigmoid_stack_has_vanishing_gradients_in_its_first_layers(bundle, tmp_path):
    c, h, w = bundle.input_shape()
    g = Graph("deep")
    steps = [("input", {"channels": c, "height": h, "width": w}, "input"), ("flatten", {}, "flatten")]
    for i in range(8):  # each sigmoid scales the gradient by at most 1/4
        steps += [("linear", {"out_features": 16}, f"l{i}"), ("sigmoid", {}, f"s{i}")]
    steps += [("linear", {"out_features": bundle.num_classes}, "fc"), ("cross_entropy", {}, "loss")]
    chain(g, steps)
    t = Trainer(g, bundle, cfg(epochs=1), run_dir=tmp_path / "deep")
    t.fit()
    last = ls.last_epoch(ls.load_stats(t.run_dir.path))
    grads = {r["node"]: r["grad_norm"] for r in last["layers"] if "grad_norm" in r}
    vanishing = [f["node"] for f in last["flags"] if f["kind"] == "vanishing_gradients"]
    assert vanishing == [n for n in grads if grads[n] < ls.VANISHING * grads["fc"]]  # exactly those, in order
    assert vanishing[:2] == ["l0", "l1"] and "fc" not in vanishing and "l7" not in vanishing
    assert all("batch norm" in f["message"] for f in last["flags"] if f["kind"] == "vanishing_gradients")


def test_a_healthy_tiny_net_has_no_dead_or_saturation_flag(bundle, graph, tmp_path):
    t = Trainer(graph, bundle, cfg(), run_dir=tmp_path / "ok")
    t.fit()
    last = ls.last_epoch(ls.load_stats(t.run_dir.path))
    relu = next(r for r in last["layers"] if r["node"] == "relu")
    assert relu["dead_fraction"] < ls.DEAD_FLAG
    assert not [f for f in last["flags"] if f["kind"] in ("dead", "saturated")]


def test_stats_off_means_no_recorder_no_file_and_the_same_training(bundle, graph, tmp_path):
    off = Trainer(graph, bundle, cfg(layer_stats_every=0), run_dir=tmp_path / "off")
    assert not any(isinstance(c, ls.LayerStats) for c in off.callbacks.callbacks)  # no hook runs at all
    off.fit()
    assert not (tmp_path / "off" / ls.FILE_NAME).exists()
    on = Trainer(graph, bundle, cfg(layer_stats_every=1), run_dir=tmp_path / "on")
    assert isinstance(on.callbacks.callbacks[0], ls.LayerStats)
    on.fit()
    assert (tmp_path / "on" / ls.FILE_NAME).exists()
    # recording reads only: losses and weights are bit-identical with it on
    assert [h["train_loss"] for h in on.state.history] == [h["train_loss"] for h in off.state.history]
    for k, v in off.model.state_dict().items():
        assert torch.equal(v, on.model.state_dict()[k]), k


def test_long_runs_stay_bounded_by_decimation(bundle, graph, tmp_path, monkeypatch):
    monkeypatch.setattr(ls, "MAX_POINTS", 4)
    t = Trainer(graph, bundle, cfg(epochs=9, batch_size=90, layer_stats_every=1), run_dir=tmp_path / "long")
    t.fit()
    data = ls.load_stats(t.run_dir.path)
    steps = data["step_step"].tolist()
    stride = data["meta"]["step_stride"]
    assert len(steps) <= 4 and stride >= 4  # 18 steps recorded at stride 1 would be 18 points
    assert all(s % stride == 0 for s in steps) and steps == sorted(steps)
    assert all(b - a == stride for a, b in zip(steps, steps[1:]))  # still evenly spread
    epochs = data["epoch_epoch"].tolist()
    assert len(epochs) <= 4 and epochs[-1] == 9  # the last epoch is always there
    assert data["epoch_weight_hist"].shape[0] == len(epochs)
    assert t.run_dir.path.joinpath(ls.FILE_NAME).stat().st_size < 40_000


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), cap=st.integers(2, 9), keep_last=st.booleans())
def test_series_decimation_property(n, cap, keep_last):
    old = ls.MAX_POINTS
    ls.MAX_POINTS = cap
    try:
        s = ls._Series("step")
        for k in range(1, n + 1):
            s.add({"step": k}, keep_last=keep_last)
            assert len(s.points) <= cap
        got = [p["step"] for p in s.points]
        on_grid = [k for k in range(1, n + 1) if k % s.stride == 0]
        if keep_last and n % s.stride:
            on_grid.append(n)
        assert got == on_grid  # every stride-th point, evenly spaced, none lost between
    finally:
        ls.MAX_POINTS = old


def test_resume_continues_the_series(bundle, graph, tmp_path):
    t = Trainer(graph, bundle, cfg(epochs=2), run_dir=tmp_path / "r")
    t.fit()
    first = ls.load_stats(tmp_path / "r")
    t2 = Trainer.from_run(tmp_path / "r", epochs=3)
    t2.fit()
    data = ls.load_stats(tmp_path / "r")
    nb = t.state.batches_per_epoch
    assert data["epoch_epoch"].tolist() == [1, 2, 3]
    assert data["step_step"].tolist() == list(range(2, 3 * nb + 1, 2))
    np.testing.assert_array_equal(data["epoch_weight_norm"][:2], first["epoch_weight_norm"])


def test_flags_for_vanishing_gradients_and_large_updates():
    view = {"param_ids": ["c1", "c2", "fc"], "act_ids": [], "types": {},
            "grad_norm": np.array([1e-7, 0.0, 0.5]), "update_ratio": np.array([1e-3, 1e-3, 0.5]),
            "dead_fraction": np.array([]), "saturated_fraction": np.array([])}
    found = ls.flags(view)
    assert [(f["node"], f["kind"]) for f in found] == [("c1", "vanishing_gradients"), ("c2", "vanishing_gradients"),
                                                        ("fc", "large_updates")]
    assert "no gradient at all" in found[1]["message"] and "lower learning rate" in found[2]["message"]
    healthy = dict(view, grad_norm=np.array([0.01, 0.2, 0.5]), update_ratio=np.array([1e-3, 1e-3, 1e-3]))
    assert ls.flags(healthy) == []


def test_a_failing_recorder_never_ends_the_run(bundle, graph, tmp_path, monkeypatch):
    def boom(self, trainer):
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(ls.LayerStats, "_activations", boom)
    t = Trainer(graph, bundle, cfg(), run_dir=tmp_path / "boom")
    summary = t.fit()
    assert summary["stop_reason"] == "finished" and len(t.state.history) == 2
    assert any("layer statistics stopped: RuntimeError: probe exploded" in n for n in summary["notes"])


def test_unreadable_files_give_one_clear_error(tmp_path):
    with pytest.raises(ls.LayerStatsError, match="no layer statistics"):
        ls.load_stats(tmp_path)
    (tmp_path / ls.FILE_NAME).write_bytes(b"not an npz")
    with pytest.raises(ls.LayerStatsError, match="cannot be read"):
        ls.load_stats(tmp_path)
    np.savez(tmp_path / ls.FILE_NAME, meta=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    with pytest.raises(ls.LayerStatsError, match="not a CNN Studio layer statistics file"):
        ls.load_stats(tmp_path)
    obj = np.array([{"a": 1}], dtype=object)  # a pickled object array is refused, never unpickled
    np.savez(tmp_path / ls.FILE_NAME, meta=obj)
    with pytest.raises(ls.LayerStatsError):
        ls.load_stats(tmp_path)


def test_only_sampled_steps_do_work(bundle, graph, tmp_path, monkeypatch):
    """Weights are copied only before a sampled step and numbers computed only on one: every 4th step
    and each epoch's last."""
    calls = {"point": 0, "snapshot": 0}
    point, snap = ls._param_point, ls.LayerStats._snapshot

    def counted_point(*a):
        calls["point"] += 1
        return point(*a)

    def counted_snap(self, trainer):
        calls["snapshot"] += 1
        return snap(self, trainer)

    monkeypatch.setattr(ls, "_param_point", counted_point)
    monkeypatch.setattr(ls.LayerStats, "_snapshot", counted_snap)
    t = Trainer(graph, bundle, cfg(epochs=2, layer_stats_every=4), run_dir=tmp_path / "few")
    t.fit()
    nb = t.state.batches_per_epoch
    due = [g for g in range(1, 2 * nb + 1) if g % 4 == 0 or g % nb == 0]
    assert calls["point"] == len(due) < 2 * nb
    assert calls["snapshot"] == len(due)
    data = ls.load_stats(t.run_dir.path)
    assert np.isfinite(data["step_update_ratio"]).all()  # each sampled step had its weights from before


def test_overwrite_removes_the_old_runs_statistics(bundle, graph, tmp_path):
    Trainer(graph, bundle, cfg(epochs=1), run_dir=tmp_path / "o").fit()
    assert (tmp_path / "o" / ls.FILE_NAME).exists()
    Trainer(graph, bundle, cfg(epochs=1, layer_stats_every=0), run_dir=tmp_path / "o", overwrite=True).fit()
    assert not (tmp_path / "o" / ls.FILE_NAME).exists()  # no stale statistics of another run


def test_a_run_with_statistics_can_be_deleted(bundle, graph, tmp_path):
    from cnn_studio.core.runs import delete_run

    Trainer(graph, bundle, cfg(epochs=1), run_dir=tmp_path / "d").fit()
    delete_run(tmp_path / "d")
    assert not (tmp_path / "d").exists()


class _Crash(BaseException):
    """The process dies (nothing catches a BaseException as an error)."""


class _DieAfterStats(Callback):
    """Dies in epoch 2's on_epoch_end: after layer_stats.npz has epoch 2, before last.pt commits it."""

    def on_epoch_end(self, trainer, m):
        if m["epoch"] == 2:
            raise _Crash("killed between layer_stats.npz and last.pt")


def test_a_crash_before_last_pt_drops_the_uncommitted_epoch_on_resume(bundle, graph, tmp_path):
    straight = Trainer(graph, bundle, cfg(epochs=3, num_threads=1), run_dir=tmp_path / "straight")
    straight.fit()
    t = Trainer(graph, bundle, cfg(epochs=3, num_threads=1), run_dir=tmp_path / "crash", callbacks=[_DieAfterStats()])
    with pytest.raises(_Crash):
        t.fit()
    assert ls.load_stats(tmp_path / "crash")["epoch_epoch"].tolist() == [1, 2]  # epoch 2 written, not committed
    Trainer.from_run(tmp_path / "crash").fit()  # resumes from epoch 1's last.pt and retrains epoch 2
    a, b = ls.load_stats(tmp_path / "crash"), ls.load_stats(tmp_path / "straight")
    assert a["epoch_epoch"].tolist() == [1, 2, 3] and a["step_step"].tolist() == b["step_step"].tolist()
    for k in ("epoch_weight_norm", "epoch_grad_norm", "epoch_act_mean", "step_weight_hist"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, err_msg=k)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=200))
def test_histograms_count_every_value_in_a_finite_range(values):
    h = ls._robust_hist(torch.tensor(values, dtype=torch.float32)).numpy()
    lo, hi, counts = h[0], h[1], h[2:]
    assert len(counts) == ls.BINS and counts.sum() == len(values)  # outliers land in the end bins
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float32)
    if len(finite) == len(values) and len(finite) > 1 and finite.min() < finite.max():
        assert finite.min() <= lo and hi <= finite.max()
