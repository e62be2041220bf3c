"""Initialising from weights: the report of matched, missing, mismatched and unused keys comes before
anything is loaded; a partial start loads what matches and leaves a classifier of another class count
at its initial values (every other weight kept)."""
import pytest
import torch

from cnn_studio.compiler import compile_model
from cnn_studio.training import Callback, Trainer, TrainConfig
from cnn_studio.training.init_weights import InitWeightsError, apply_init_weights, init_report
from training_helpers import tiny_graph


def cfg(**kw):
    base = dict(epochs=1, batch_size=32, lr=0.01, schedule="constant", device="cpu", seed=0, layer_stats_every=0, num_threads=1)
    base.update(kw)
    return TrainConfig(**base)


class StartWeights(Callback):
    def on_fit_start(self, trainer):
        self.weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


@pytest.fixture
def other_classes_file(bundle, tmp_path):
    """A state_dict of the same network trained for 7 classes (another classifier), torchvision-style
    module paths, plus one tensor the network has no place for."""
    torch.manual_seed(11)
    src = tiny_graph(tuple(bundle.input_shape()), 7)
    src.rename_node("conv", "features_0")
    state = {k.replace("features_0.", "features.0."): v for k, v in compile_model(src).state_dict().items()}
    state["extra.weight"] = torch.ones(3)
    path = tmp_path / "seven.pt"
    torch.save(state, path)
    return path, state


def target_graph(bundle):
    g = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
    g.rename_node("conv", "features_0")
    return g


def test_report_lists_matched_mismatched_and_unused_before_loading(bundle, other_classes_file):
    path, state = other_classes_file
    g = target_graph(bundle)
    rep = init_report(g, path)
    assert rep.matched == ["features_0.weight", "features_0.bias"]
    assert [(k, a, b) for k, a, b in rep.mismatched] == [
        ("fc.weight", (7, 96), (bundle.num_classes, 96)), ("fc.bias", (7,), (bundle.num_classes,))]
    assert rep.unexpected == ["extra.weight"] and rep.missing == [] and not rep.fits and rep.total == 4
    text = "\n".join(rep.lines())
    assert "2 of 4 matched" in text and f"fc.weight: file 7x96, network {bundle.num_classes}x96" in text and "extra.weight" in text
    # a strict start refuses the same file with the key list; nothing is loaded
    model = compile_model(g)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InitWeightsError, match="fc.weight"):
        apply_init_weights(model, path)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_partial_start_keeps_every_matching_weight_and_leaves_the_classifier_at_init(bundle, tiny_config, other_classes_file, tmp_path):
    path, state = other_classes_file
    g = target_graph(bundle)
    rec = StartWeights()
    t = Trainer(g, bundle, cfg(init_from=str(path), init_partial=True), run_dir=tmp_path / "run", callbacks=[rec], data_config=tiny_config)
    with torch.random.fork_rng(devices=[]):  # the seed's own initialisation, as the trainer compiles it
        torch.manual_seed(0)
        fresh = compile_model(target_graph(bundle)).state_dict()
    s = t.fit()
    assert torch.equal(rec.weights["features_0.weight"], state["features.0.weight"])
    assert torch.equal(rec.weights["features_0.bias"], state["features.0.bias"])
    assert torch.equal(rec.weights["fc.weight"], fresh["fc.weight"]) and torch.equal(rec.weights["fc.bias"], fresh["fc.bias"])
    assert any("2 of 4 matched" in n and "left at their initial values: fc.weight, fc.bias" in n for n in s["notes"])


def test_safetensors_and_a_file_of_which_nothing_fits(bundle, tmp_path):
    from safetensors.torch import save_file

    g = target_graph(bundle)
    own = {k: v.contiguous() for k, v in compile_model(g).state_dict().items()}
    save_file(own, str(tmp_path / "w.safetensors"))
    rep = init_report(compile_model(g), tmp_path / "w.safetensors")
    assert rep.fits and len(rep.matched) == 4
    torch.save({"a.weight": torch.ones(2)}, tmp_path / "none.pt")
    with pytest.raises(InitWeightsError, match="none of the 1 tensors"):
        apply_init_weights(compile_model(g), tmp_path / "none.pt", partial=True)
    with pytest.raises(InitWeightsError, match="does not exist"):
        init_report(g, tmp_path / "missing.pt")


def test_torchvision_layout_with_a_1000_class_head_keeps_every_other_weight(tmp_path):
    """ResNet-18 weights in torchvision's key layout (layer1.0.conv1.weight ...) with ImageNet's 1000-class
    fc, into the resnet18 template for 10 classes: every tensor but the classifier loads bit for bit."""
    from cnn_studio.compiler.importer import studio_to_torchvision_key
    from cnn_studio.core.templates import build

    g = build("resnet18", (3, 32, 32), 10)
    torch.manual_seed(1)
    source = compile_model(g).state_dict()
    tv = {studio_to_torchvision_key(k, g.nodes): v.clone() for k, v in source.items()}
    assert "layer1.0.conv1.weight" in tv and "layer2.0.downsample.0.weight" in tv
    tv["fc.weight"], tv["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    path = tmp_path / "resnet18_imagenet_layout.pt"
    torch.save(tv, path)
    rep = init_report(g, path)
    assert [k for k, _, _ in rep.mismatched] == ["fc.weight", "fc.bias"] and not rep.missing and not rep.unexpected
    assert len(rep.matched) == rep.total - 2
    torch.manual_seed(2)
    model = compile_model(g)
    fresh_fc = model.fc.weight.detach().clone()
    note = apply_init_weights(model, path, partial=True)
    after = model.state_dict()
    assert all(torch.equal(after[k], source[k]) for k in source if not k.startswith("fc."))
    assert torch.equal(after["fc.weight"], fresh_fc) and "fc.weight, fc.bias" in note
