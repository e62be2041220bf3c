"""TrainConfig.init_from: a new run starts from a run's or a file's weights (strict), resume does not re-apply it."""
import json

import pytest
import torch

from cnn_studio.compiler import compile_model
from cnn_studio.training import Callback, Trainer, TrainConfig
from cnn_studio.training.checkpoint import load_checkpoint
from cnn_studio.training.config import TrainConfigError
from cnn_studio.training.init_weights import InitWeightsError
from training_helpers import tiny_graph


def cfg(**kw):
    base = dict(epochs=1, batch_size=32, lr=0.01, schedule="constant", device="cpu", seed=0, layer_stats_every=0)
    base.update(kw)
    return TrainConfig(**base)


class StartWeights(Callback):
    """The model's weights when the first step is about to run."""

    def __init__(self):
        self.weights = None

    def on_fit_start(self, trainer):
        self.weights = {k: v.detach().cpu().clone() for k, v in trainer.model.state_dict().items()}


@pytest.fixture(scope="module")
def source_run(tmp_path_factory, bundle, tiny_config):
    g = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
    run = tmp_path_factory.mktemp("src") / "run"
    Trainer(g, bundle, cfg(seed=5), run_dir=run, data_config=tiny_config).fit()
    return run


def best_weights(run):
    return load_checkpoint(run / "checkpoints" / "best.pt")["model"]


def test_new_run_starts_from_the_source_runs_best_weights(source_run, graph, bundle, tiny_config, tmp_path):
    rec = StartWeights()
    t = Trainer(graph, bundle, cfg(init_from=str(source_run)), run_dir=tmp_path / "new", callbacks=[rec], data_config=tiny_config)
    s = t.fit()
    best = best_weights(source_run)
    assert rec.weights.keys() == best.keys()
    assert all(torch.equal(rec.weights[k], best[k]) for k in best)
    fresh = compile_model(graph).state_dict()  # the seed alone would give other weights
    assert not torch.equal(fresh["conv.weight"], best["conv.weight"])
    assert any("initialised from" in n for n in s["notes"])
    config = json.loads((tmp_path / "new" / "config.json").read_text())
    assert config["train"]["init_from"] == str(source_run)
    assert load_checkpoint(tmp_path / "new" / "checkpoints" / "last.pt")["train"]["init_from"] == str(source_run)


def test_safetensors_file_works(source_run, graph, bundle, tiny_config, tmp_path):
    from safetensors.torch import save_file

    best = best_weights(source_run)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in best.items()}, str(path))
    rec = StartWeights()
    Trainer(graph, bundle, cfg(init_from=str(path)), run_dir=tmp_path / "new", callbacks=[rec], data_config=tiny_config).fit()
    assert all(torch.equal(rec.weights[k], best[k]) for k in best)


def test_plain_state_dict_with_torchvision_keys_works(source_run, bundle, tiny_config, tmp_path):
    # a graph whose ids follow torchvision's module paths: features_0 <- features.0 in the file
    g = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
    g2 = g.__class__.from_config(json.loads(json.dumps(g.to_config()).replace('"conv"', '"features_0"')))
    model = compile_model(g2)
    state = {k.replace("features_0.", "features.0."): v + 1 for k, v in model.state_dict().items()}
    path = tmp_path / "w.pt"
    torch.save(state, path)
    rec = StartWeights()
    Trainer(g2, bundle, cfg(init_from=str(path)), run_dir=tmp_path / "new", callbacks=[rec], data_config=tiny_config).fit()
    assert torch.equal(rec.weights["features_0.weight"], state["features.0.weight"])


def test_mismatching_weights_are_refused_with_the_key_report(source_run, bundle, tiny_config, tmp_path):
    other = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes + 1)  # fc has one more output
    with pytest.raises(InitWeightsError) as e:
        Trainer(other, bundle, cfg(init_from=str(source_run)), run_dir=tmp_path / "new", data_config=tiny_config)
    msg = str(e.value)
    assert "do not fit" in msg and "with a different shape" in msg and "fc.weight" in msg and "fc.bias" in msg
    assert not (tmp_path / "new").exists()  # refused before anything is written
    path = tmp_path / "extra.pt"
    state = dict(best_weights(source_run))
    state["head.weight"] = torch.zeros(2)
    del state["conv.bias"]
    torch.save(state, path)
    g = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
    with pytest.raises(InitWeightsError) as e:
        Trainer(g, bundle, cfg(init_from=str(path)), data_config=tiny_config)
    assert "1 missing (conv.bias)" in str(e.value) and "1 unexpected (head.weight)" in str(e.value)


def test_missing_source_and_bad_value_are_clear(bundle, graph, tiny_config, tmp_path):
    with pytest.raises(InitWeightsError, match="does not exist"):
        Trainer(graph, bundle, cfg(init_from=str(tmp_path / "nope.pt")), data_config=tiny_config)
    with pytest.raises(InitWeightsError, match="holds no checkpoint"):
        Trainer(graph, bundle, cfg(init_from=str(tmp_path)), data_config=tiny_config)
    with pytest.raises(TrainConfigError, match="init_from"):
        cfg(init_from=3)
    assert TrainConfig.from_dict(cfg(init_from=str(tmp_path)).to_dict()).init_from == str(tmp_path)


def test_resume_does_not_reapply_init(source_run, graph, bundle, tiny_config, tmp_path):
    run = tmp_path / "new"
    Trainer(graph, bundle, cfg(init_from=str(source_run)), run_dir=run, data_config=tiny_config).fit()
    after_one = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
    rec = StartWeights()
    second = Trainer.from_run(run, epochs=2, callbacks=[rec], data=bundle)
    second.fit()
    assert all(torch.equal(rec.weights[k], after_one[k]) for k in after_one)  # the checkpoint's, not the source's
    best = best_weights(source_run)
    assert not torch.equal(rec.weights["conv.weight"], best["conv.weight"])
    assert not any("initialised from" in n for n in second.summary["notes"])
