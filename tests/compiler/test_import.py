"""Import: weights files (own and torchvision layouts, checkpoints, mismatches) and networks from
PyTorch code (torch.fx), including the round trip through exported Python code."""
import importlib.util
import textwrap

import pytest
import torch

from cnn_studio.compiler import compile_model
from cnn_studio.compiler.codegen import class_name_for, generate_python
from cnn_studio.compiler.importer import (
    adapt_state_dict,
    canonical_structure,
    expected_shapes,
    import_module,
    import_module_from_file,
    import_state_dict,
    load_weights,
    studio_to_torchvision_key,
    torchvision_key,
)
from cnn_studio.core import Graph, StudioError, templates
from sample_graphs import clash_graph, concat_graph, randomise_bn  # noqa: E402
from cnn_studio.core.analysis import analyze


# ---------------------------------------------------------------------------------- torchvision layouts
def torchvision_resnet18_keys() -> list[str]:
    """Written from torchvision's ResNet-18 definition, independently of the template."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight"] + [f"bn1.{b}" for b in bn]
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}."
            keys += [p + "conv1.weight"] + [p + f"bn1.{b}" for b in bn] + [p + "conv2.weight"] + [p + f"bn2.{b}" for b in bn]
            if layer > 1 and block == 0:
                keys += [p + "downsample.0.weight"] + [p + f"downsample.1.{b}" for b in bn]
    return keys + ["fc.weight", "fc.bias"]


def torchvision_keys(features, classifier) -> list[str]:
    return [f"features.{i}.{w}" for i in features for w in ("weight", "bias")] + [f"classifier.{i}.{w}" for i in classifier for w in ("weight", "bias")]


TORCHVISION = {
    "resnet18": torchvision_resnet18_keys,
    "vgg11": lambda: torchvision_keys((0, 3, 6, 8, 11, 13, 16, 18), (0, 3, 6)),
    "alexnet": lambda: torchvision_keys((0, 3, 6, 8, 10), (1, 4, 6)),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_keys_map_one_to_one_onto_templates(name):
    g = templates.build(name, (3, 224, 224), 1000)
    ours = expected_shapes(g)
    tv = TORCHVISION[name]()
    assert len(tv) == len(ours)
    assert sorted(torchvision_key(k) for k in tv) == sorted(ours)
    assert sorted(studio_to_torchvision_key(k, g.nodes) for k in ours) == sorted(tv)
    # a torchvision-shaped state_dict (meta tensors: shapes only) is accepted as is
    meta = {k: torch.empty(ours[torchvision_key(k)], device="meta") for k in tv}
    adapted = adapt_state_dict(g, meta, f"{name}.pth")
    assert list(adapted) == list(ours)


def test_torchvision_resnet18_file_round_trip(tmp_path):
    g = templates.build("resnet18", (3, 32, 32), 10)
    model = compile_model(g)
    randomise_bn(model)
    ours = model.state_dict()
    tv = {studio_to_torchvision_key(k, g.nodes): v for k, v in ours.items()}
    assert sorted(tv) == sorted(torchvision_resnet18_keys())
    torch.save({"epoch": 90, "state_dict": {"module." + k: v for k, v in tv.items()}}, tmp_path / "tv.pth")
    state = import_state_dict(g, tmp_path / "tv.pth")
    assert list(state) == list(ours)
    assert all(torch.equal(state[k], ours[k]) for k in ours)
    fresh = load_weights(compile_model(g), tmp_path / "tv.pth")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(fresh.eval()(x), model.eval()(x))


def test_checkpoint_and_safetensors_weights(tmp_path):
    from safetensors.torch import save_file

    g = templates.build("lenet5", (1, 32, 32), 10)
    sd = compile_model(g).state_dict()
    torch.save({"model": sd, "optimizer": {}, "progress": {"epoch": 3}}, tmp_path / "ckpt.pt")
    save_file(dict(sd), str(tmp_path / "w.safetensors"))
    for f in ("ckpt.pt", "w.safetensors"):
        got = import_state_dict(g, tmp_path / f)
        assert all(torch.equal(got[k], sd[k]) for k in sd)


def test_mismatch_lists_missing_unexpected_and_shapes(tmp_path):
    g = templates.build("lenet5", (1, 32, 32), 10)
    sd = dict(compile_model(g).state_dict())
    sd.pop("c3.weight")
    sd.pop("c3.bias")
    sd["extra.weight"] = torch.zeros(3)
    sd["output.weight"] = torch.zeros(5, 84)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(StudioError) as e:
        import_state_dict(g, tmp_path / "bad.pt")
    msg = str(e.value)
    assert "2 missing (c3.weight; c3.bias)" in msg
    assert "1 unexpected (extra.weight)" in msg
    assert "1 with a different shape (output.weight: file 5x84, network 10x84)" in msg
    assert "\n" not in msg


def test_many_mismatches_are_capped_and_counted():
    g = templates.build("resnet18", (3, 32, 32), 10)
    with pytest.raises(StudioError, match=r"102 missing \(.*; \.\.\. \(94 more\)\)") as e:
        adapt_state_dict(g, {"x": torch.zeros(1)}, "w.pt")
    assert "1 unexpected (x)" in str(e.value)


def test_weights_files_that_are_not_weights(tmp_path):
    g = templates.build("mlp", (1, 4, 4), 2)
    with pytest.raises(StudioError, match="does not exist"):
        import_state_dict(g, tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(StudioError, match="cannot be loaded as plain weights"):
        import_state_dict(g, tmp_path / "junk.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(StudioError, match="not a readable safetensors"):
        import_state_dict(g, tmp_path / "junk.safetensors")

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(StudioError, match="cannot be loaded as plain weights"):
        import_state_dict(g, tmp_path / "evil.pt")


# ---------------------------------------------------------------------------------- code import
NETS = textwrap.dedent(
    '''
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(torch.relu(self.conv2(x)), (2, 2))
            x = x.view(x.size(0), -1)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, 0.25, training=self.training)
            x = torch.tanh(self.fc2(x))
            return self.fc3(x)


    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += x
            return F.relu(out)


    class TinyRes(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
            self.blocks = nn.Sequential(Block(8), Block(8))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.drop = nn.Identity()
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = self.stem(x)
            x = self.blocks(x)
            x = torch.flatten(self.pool(x), 1)
            return self.fc(self.drop(x))


    class CatNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 1)
            self.b = nn.Conv2d(3, 6, 3, padding=1)
            self.head = nn.Linear(10 * 4 * 4, 3)

        def forward(self, image):
            merged = torch.cat([self.a(image), F.leaky_relu(self.b(image), 0.2)], dim=1)
            pooled = F.avg_pool2d(merged, 2)
            return self.head(pooled.flatten(1))


    class Unsupported(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            x = self.conv(x)
            x, _ = torch.sort(x, dim=1)
            x = x.amax(dim=(2, 3))  # (x.mean over H, W imports: Mean over H, W)
            return self.fc(x * 2)


    class NeedsArgs(nn.Module):
        def __init__(self, width):
            super().__init__()
    '''
)


@pytest.fixture
def nets_file(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return path


def _load_class(path, name):
    spec = importlib.util.spec_from_file_location("test_nets_module", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def _same_outputs(graph, state, module, shape):
    model = compile_model(graph)
    model.load_state_dict(state, strict=True)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        want = module.eval()(x)
        got = model.eval()(x)
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)


def _types(graph):
    return [graph.nodes[n].type for n in analyze(graph).order]


def test_import_lenet_with_functional_ops(nets_file):
    torch.manual_seed(0)
    module = _load_class(nets_file, "LeNet")()
    graph, state = import_module(module, (1, 28, 28), source_file=str(nets_file))
    assert _types(graph) == [
        "input", "conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d", "flatten",
        "linear", "relu", "dropout", "linear", "tanh", "linear", "cross_entropy",
    ]
    assert graph.nodes["conv1"].config["padding"] == 2 and graph.nodes["max_pool2d_1"].config["stride"] is None
    assert graph.input_node().id == "x" and graph.output_node().id == "loss"
    assert set(state) == {f"{m}.{p}" for m in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")}
    _same_outputs(graph, state, module, (1, 28, 28))
    # laid out: every node has its own place
    assert len({n.pos for n in graph.nodes.values()}) == len(graph.nodes)


def test_import_residual_net_with_nested_sequential(nets_file):
    torch.manual_seed(0)
    module = _load_class(nets_file, "TinyRes")()
    randomise_bn(module)
    graph, state = import_module(module, (3, 16, 16))
    adds = [n for n in graph.nodes.values() if n.type == "add"]
    assert len(adds) == 2
    assert graph.predecessors(adds[0].id) == ["blocks_0_bn2", "stem_2"]
    assert "blocks_1_conv1" in graph.nodes and "stem_0" in graph.nodes
    assert not any(n.type == "dropout" for n in graph.nodes.values())  # nn.Identity vanishes
    assert state["blocks_0_bn1.running_var"].shape == (8,)
    _same_outputs(graph, state, module, (3, 16, 16))


def test_import_concat_from_file_names_nodes_after_variables(nets_file):
    torch.manual_seed(4)
    graph, state = import_module_from_file(nets_file, "CatNet", (3, 8, 8))
    torch.manual_seed(4)
    module = _load_class(nets_file, "CatNet")()
    assert graph.nodes["merged"].type == "concat" and graph.predecessors("merged") == ["a", "leaky_relu"]
    assert graph.nodes["leaky_relu"].config["negative_slope"] == 0.2
    assert graph.nodes["pooled"].type == "avgpool2d"
    assert graph.input_node().id == "image" and graph.name == "CatNet"
    _same_outputs(graph, state, module, (3, 8, 8))


def test_unsupported_operations_are_all_listed_and_nothing_is_imported(nets_file):
    with pytest.raises(StudioError) as e:
        import_module_from_file(nets_file, "Unsupported", (3, 8, 8))
    msg = str(e.value)
    assert "3 unsupported operations" in msg
    assert "torch.sort" in msg and "Tensor.amax" in msg and "operator.mul" in msg
    assert "getitem" not in msg  # `x, _ = torch.sort(...)` is reported once, as torch.sort


def test_import_errors_name_the_problem(nets_file, tmp_path):
    with pytest.raises(StudioError, match="'Nope' is not defined.*classes found: Block, CatNet"):
        import_module_from_file(nets_file, "Nope", (1, 28, 28))
    with pytest.raises(StudioError, match="buildable with no arguments"):
        import_module_from_file(nets_file, "NeedsArgs", (1, 28, 28))
    with pytest.raises(StudioError, match="failed: RuntimeError"):
        import_module_from_file(nets_file, "LeNet", (3, 28, 28))  # wrong channel count
    with pytest.raises(StudioError, match="three positive"):
        import_module_from_file(nets_file, "LeNet", (1, 28))
    (tmp_path / "broken.py").write_text("def oops(:\n")
    with pytest.raises(StudioError, match="running .* failed: SyntaxError"):
        import_module_from_file(tmp_path / "broken.py", "X", (1, 8, 8))
    (tmp_path / "branchy.py").write_text(textwrap.dedent(
        """
        import torch
        class Branchy(torch.nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x.flatten(1)
                return x.flatten(1) * 0
        """
    ))
    with pytest.raises(StudioError, match="cannot trace Branchy"):
        import_module_from_file(tmp_path / "branchy.py", "Branchy", (1, 8, 8))


@pytest.mark.parametrize(
    "name,graph",
    [
        ("lenet5", lambda: templates.build("lenet5", (1, 32, 32), 10)),
        ("resnet18", lambda: templates.build("resnet18", (3, 32, 32), 10)),
        ("vgg-ish", lambda: templates.build("tinyvgg", (3, 32, 32), 4)),
        ("concat", concat_graph),
        ("clash", clash_graph),
    ],
)
def test_exported_python_imports_back_to_the_same_network(tmp_path, name, graph):
    g = graph()
    path = tmp_path / "exported.py"
    path.write_text(generate_python(g))
    back, state = import_module_from_file(path, class_name_for(g.name), analyze(g).input_shape)
    assert canonical_structure(back) == canonical_structure(g)
    assert set(state) == set(expected_shapes(g))


def test_canonical_structure_ignores_positions_and_spelling():
    a = templates.build("vgg11", (3, 32, 32), 10)
    b = Graph.from_config(a.to_config())
    for n in b.nodes.values():
        n.pos = (0.0, 0.0)
        if n.type == "maxpool2d":
            n.config["stride"] = None  # equal to the kernel: same network
        if n.type == "conv2d":
            n.config["kernel_size"] = [3, 3]
    assert canonical_structure(a) == canonical_structure(b)
    b.nodes["features_0"].config["out_channels"] = 8
    assert canonical_structure(a) != canonical_structure(b)


def test_module_attributes_that_clash_with_the_compiled_model_keep_their_ids():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input_shape = torch.nn.Conv2d(1, 2, 3)  # an attribute of GraphModule
            self.training_head = torch.nn.Linear(2 * 4 * 4, 2)

        def forward(self, x):
            return self.training_head(torch.flatten(self.input_shape(x), 1))

    graph, state = import_module(Net(), (1, 6, 6))
    assert graph.nodes["input_shape"].type == "conv2d"
    assert "input_shape_.weight" in state  # module_name() moves it off GraphModule's own attribute
    model = compile_model(graph)
    model.load_state_dict(state)
    assert model.module_for("input_shape") is model.input_shape_
