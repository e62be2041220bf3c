"""Layer statistics, the parts the Layer statistics view needs beyond the first recorder: activation
histograms per node and epoch (bounded sample of the probe outputs), and the exploding-gradients flag."""
import math

import numpy as np
import pytest
import torch

from cnn_studio.training import TrainConfig, Trainer
from cnn_studio.training import layerstats as ls

from test_layerstats import cfg, probe, tanh_graph


@pytest.fixture(scope="module")
def tanh_run(bundle, tmp_path_factory):
    g = tanh_graph(tuple(bundle.input_shape()), bundle.num_classes, "tanh")
    t = Trainer(g, bundle, cfg(), run_dir=tmp_path_factory.mktemp("lsm") / "tanh")
    t.fit()
    return t


def test_activation_histograms_are_stored_per_epoch_and_node(tanh_run, bundle):
    data = ls.load_stats(tanh_run.run_dir.path)
    meta = data["meta"]
    n_epochs, n_nodes = len(data["epoch_epoch"]), len(meta["act_ids"])
    assert data["epoch_act_hist"].shape == (n_epochs, n_nodes, ls.BINS)
    assert data["epoch_act_range"].shape == (n_epochs, n_nodes, 2)
    t = tanh_run
    t.model.eval()
    x = probe(bundle)
    with torch.no_grad():
        _, cap = t.model.forward_capture(x, meta["act_ids"])
    for i, nid in enumerate(meta["act_ids"]):
        out = cap[nid]
        per_chunk = [min(out[k:k + ls.PROBE_CHUNK].numel(), ls.ACT_SAMPLE) for k in range(0, len(x), ls.PROBE_CHUNK)]
        assert data["epoch_act_hist"][-1, i].sum() == sum(per_chunk), nid  # bounded: at most ACT_SAMPLE per chunk
        lo, hi = data["epoch_act_range"][-1, i]
        assert float(out.min()) - 1e-5 <= lo < hi <= float(out.max()) + 1e-5, nid
    # a node small enough to be counted whole: exactly the histogram of its probe outputs
    fc = meta["act_ids"].index("fc")
    want = ls._robust_hist(cap["fc"]).numpy()
    np.testing.assert_allclose(data["epoch_act_range"][-1, fc], want[:2], rtol=1e-5)
    np.testing.assert_array_equal(data["epoch_act_hist"][-1, fc], want[2:].astype(np.int32))
    # tanh outputs stay inside (-1, 1); the last epoch's JSON view carries them too
    act = meta["act_ids"].index("act")
    assert -1.0 <= data["epoch_act_range"][-1, act, 0] < data["epoch_act_range"][-1, act, 1] <= 1.0
    row = next(r for r in ls.last_epoch(data)["layers"] if r["node"] == "act")
    assert sum(row["act_hist"]) == int(data["epoch_act_hist"][-1, act].sum()) and len(row["act_range"]) == 2


def test_activation_histograms_are_the_same_on_a_second_identical_run(tanh_run, bundle, tmp_path):
    """The sampled positions are fixed (seeded), so the numbers are reproducible (resume compares them)."""
    g = tanh_graph(tuple(bundle.input_shape()), bundle.num_classes, "tanh")
    t = Trainer(g, bundle, cfg(), run_dir=tmp_path / "again")
    t.fit()
    a, b = ls.load_stats(tanh_run.run_dir.path), ls.load_stats(tmp_path / "again")
    np.testing.assert_allclose(a["epoch_act_range"], b["epoch_act_range"], rtol=1e-5)
    np.testing.assert_array_equal(a["epoch_act_hist"], b["epoch_act_hist"])


def test_a_file_without_activation_histograms_still_resumes(bundle, graph, tmp_path):
    """Runs recorded before activation histograms: resuming keeps their epochs and adds the new ones."""
    t = Trainer(graph, bundle, cfg(epochs=1), run_dir=tmp_path / "old")
    t.fit()
    path = tmp_path / "old" / ls.FILE_NAME
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k not in ("epoch_act_hist", "epoch_act_range")}
    np.savez_compressed(path, **arrays)
    assert "act_hist" not in ls.last_epoch(ls.load_stats(tmp_path / "old"))["layers"][0]
    Trainer.from_run(tmp_path / "old", epochs=2).fit()
    data = ls.load_stats(tmp_path / "old")
    assert data["epoch_epoch"].tolist() == [1, 2]
    assert data["epoch_act_hist"][0].sum() == 0 and data["epoch_act_hist"][1].sum() > 0


def _view(grads):
    return {"param_ids": [f"l{i}" for i in range(len(grads))], "act_ids": [], "types": {},
            "grad_norm": np.asarray(grads, dtype=float), "update_ratio": np.full(len(grads), 1e-3),
            "dead_fraction": np.array([]), "saturated_fraction": np.array([])}


def test_exploding_gradients_are_flagged_with_what_helps():
    found = ls.flags(_view([5e3, 2.0, 1.0]))
    assert [(f["node"], f["kind"], f["badge"]) for f in found] == [("l0", "exploding_gradients", "exploding gradients")]
    assert found[0]["value"] == pytest.approx(5e3)
    assert "lower learning rate" in found[0]["message"] and "clipping" in found[0]["message"]
    inf = ls.flags(_view([math.inf, 1.0, 1.0]))
    assert [f["node"] for f in inf] == ["l0"] and "infinity" in inf[0]["message"] and inf[0]["value"] is None
    # NaN means no gradient (a layer that does not train): no flag; just under the threshold: none
    assert ls.flags(_view([math.nan, 1.0, 1.0])) == []
    assert ls.flags(_view([0.99 * ls.EXPLODING, 1.0, 1.0])) == []


def test_a_blown_up_first_layer_gets_the_exploding_flag_in_a_real_run(bundle, tmp_path):
    """A deep linear chain whose later weights are scaled up multiplies the first layer's gradient."""
    from cnn_studio.core.graph import Graph, chain

    c, h, w = bundle.input_shape()
    g = Graph("blow")
    steps = [("input", {"channels": c, "height": h, "width": w}, "input"), ("flatten", {}, "flatten")]
    for i in range(4):
        steps.append(("linear", {"out_features": 32}, f"l{i}"))
    steps += [("linear", {"out_features": bundle.num_classes}, "fc"), ("cross_entropy", {}, "loss")]
    chain(g, steps)
    t = Trainer(g, bundle, TrainConfig(epochs=1, batch_size=64, lr=1e-9, optimizer="sgd", schedule="constant",
                                      restore_best_weights=False, device="cpu", seed=0, layer_stats_every=1),
                run_dir=tmp_path / "blow")
    with torch.no_grad():
        t.model.module_for("l0").weight.mul_(1e-4)  # tiny first-layer output: the last layer sees almost no input
        for nid in ("l0", "l1", "l2", "l3"):
            t.model.module_for(nid).bias.zero_()
        for nid in ("l1", "l2", "l3"):
            t.model.module_for(nid).weight.mul_(30.0)  # the way back multiplies by about 30 per layer
    t.fit()
    last = ls.last_epoch(ls.load_stats(t.run_dir.path))
    grads = {r["node"]: r["grad_norm"] for r in last["layers"] if "grad_norm" in r}
    exploding = [f["node"] for f in last["flags"] if f["kind"] == "exploding_gradients"]
    assert exploding == [n for n in grads if n != "fc" and grads[n] > ls.EXPLODING * grads["fc"]]
    assert "l0" in exploding, grads
