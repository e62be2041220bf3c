"""Completeness of the layer registry: every spec of the core catalogue has every part a layer
needs (torch builder, code export, fx import mapping, icon, teaching tooltip), every torch
registration has a spec, and the parts agree with each other (the exported constructor builds the
same module as the builder; a built module imports back to its config). The checker is itself
tested with temporary fake specs and registrations, so a missing part cannot go unnoticed."""
from __future__ import annotations

import operator
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import cnn_studio.core.layers as core_layers
from cnn_studio.compiler import BUILDERS, LOSS_TYPES, make_loss
from cnn_studio.compiler.layers import ImportContext, LossLayer, Signature, TorchLayer, all_layers, base, get_layer, has_layer
from cnn_studio.core.errors import LayerError
from cnn_studio.core.layers import Inference, LayerSpec, Param, all_specs, get_spec

ICON_DIR = Path(__file__).resolve().parents[2] / "cnn_studio" / "resources" / "icons"
EXAMPLE_SHAPES = [(4, 8, 8), (3, 8, 8), (6, 9, 7), (16, 4, 4), (8,), (16,), (12,)]


# ------------------------------------------------------------------------------ the checker
def missing_parts(spec: LayerSpec) -> list[str]:
    """What a layer type lacks, one phrase each; empty when it is complete."""
    out = []
    t = spec.type_id
    if not spec.help.strip():
        out.append(f"{t}: no teaching tooltip (spec.help is empty)")
    icon = ICON_DIR / f"{t}.svg"
    if not icon.is_file() or not icon.read_text(encoding="utf-8").lstrip().startswith("<svg"):
        out.append(f"{t}: no icon {icon.name} in cnn_studio/resources/icons (add a glyph to resources/make_icons.py and run it)")
    if not has_layer(t):
        out.append(f"{t}: no torch registration (a @register TorchLayer class in cnn_studio/compiler/layers/)")
        return out
    layer = get_layer(t)
    if layer.type_id != t:
        out.append(f"{t}: registered class {type(layer).__name__} says type_id {layer.type_id!r}")
    if spec.role == "output" and not isinstance(layer, LossLayer):
        out.append(f"{t}: a loss spec needs a LossLayer registration")
    if spec.role != "output" and isinstance(layer, LossLayer):
        out.append(f"{t}: a LossLayer registered for a spec that is not a loss")
    if not layer.has("build"):
        out.append(f"{t}: no builder (TorchLayer.build)")
    if spec.role != "input":  # the input is the forward() argument, the fx placeholder
        if not layer.has("source"):
            out.append(f"{t}: no code export (TorchLayer.source)")
        module_map = bool(layer.module_types) and layer.has("from_module")
        call_map = bool(layer.signatures) and layer.has("from_call")
        if not (module_map or call_map):
            out.append(f"{t}: no fx import mapping (module_types + from_module, or signatures + from_call)")
        if layer.module_types and not layer.has("from_module"):
            out.append(f"{t}: module_types without from_module")
        if layer.signatures and not layer.has("from_call"):
            out.append(f"{t}: signatures without from_call")
    return out


def orphan_registrations() -> list[str]:
    return [f"{t}: torch registration without a spec" for t in all_layers() if not core_layers.has_spec(t)]


def example(spec: LayerSpec):
    """(canonical default config, input shapes, inference) of the first example input the
    defaults accept; None when none does."""
    cfg, errors = spec.check_config(spec.defaults())
    assert not errors, (spec.type_id, errors)
    if spec.role == "input":
        shape = (cfg["channels"], cfg["height"], cfg["width"])
        return cfg, [], Inference(shape)
    n = spec.num_inputs(cfg)
    for shape in EXAMPLE_SHAPES:
        try:
            return cfg, [shape] * n, spec.infer(cfg, [shape] * n)
        except LayerError:
            continue
    return None


# ------------------------------------------------------------------------------ the real catalogue
def test_every_spec_has_every_part():
    problems = [p for spec in all_specs() for p in missing_parts(spec)] + orphan_registrations()
    assert not problems, "\n".join(problems)


def test_builders_and_losses_are_registry_lookups():
    specs = {s.type_id for s in all_specs()}
    assert set(LOSS_TYPES) == {s.type_id for s in all_specs() if s.role == "output"}
    assert set(BUILDERS) | set(LOSS_TYPES) == specs and not set(BUILDERS) & set(LOSS_TYPES)
    assert len(BUILDERS) == len(specs) - len(LOSS_TYPES)
    assert BUILDERS["relu"] == get_layer("relu").build
    assert isinstance(make_loss("cross_entropy", {"label_smoothing": 0.25}), nn.CrossEntropyLoss)
    assert make_loss("cross_entropy", {"label_smoothing": 0.25}).label_smoothing == 0.25
    with pytest.raises(KeyError):
        BUILDERS["mse"]  # a loss is not part of the forward pass
    with pytest.raises(KeyError):
        make_loss("relu", {})


@pytest.mark.parametrize("type_id", [s.type_id for s in all_specs()])
def test_parts_agree_at_the_default_config(type_id):
    """build() computes the shape and parameter counts the spec infers; source() evaluates to a
    module with the same state_dict and, called as forward_source() writes it, the same output; a
    built module of one of module_types imports back to its config."""
    spec = get_spec(type_id)
    layer = get_layer(type_id)
    ex = example(spec)
    assert ex is not None, f"{type_id}: none of {EXAMPLE_SHAPES} fits the default config; defaults should be usable"
    cfg, shapes, inf = ex
    built = layer.build(cfg, shapes)
    assert isinstance(built, nn.Module)
    if spec.role == "output":
        src = layer.source(cfg, shapes)
        assert type(eval(src, {"nn": nn, "torch": torch})) is type(built)
        return
    torch.manual_seed(0)
    xs = [torch.randn(2, *s) for s in (shapes or [inf.shape])]
    built.eval()
    with torch.no_grad():
        y = built(*xs)
    assert tuple(y.shape[1:]) == tuple(inf.shape)
    assert sum(p.numel() for p in built.parameters()) == inf.trainable
    assert sum(b.numel() for n, b in built.named_buffers() if not n.endswith("num_batches_tracked")) == inf.non_trainable
    src = layer.source(cfg, shapes)
    names = [f"x{i}" for i in range(len(xs))]
    if src is None:  # written as an expression in forward()
        expr = layer.forward_source(cfg, names, None)
        with torch.no_grad():
            got = eval(expr, {"torch": torch, "nn": nn}, dict(zip(names, xs)))
        torch.testing.assert_close(got, y)
    else:  # exported code needs only torch: the constructor may build another class (nn.ModuleDict)
        exported = eval(src, {"nn": nn, "torch": torch})
        assert {k: v.shape for k, v in exported.state_dict().items()} == {k: v.shape for k, v in built.state_dict().items()}
        exported.load_state_dict(built.state_dict())  # strict: the same keys
        expr = layer.forward_source(cfg, names, "m")
        with torch.no_grad():
            got = eval(expr, {"torch": torch, "nn": nn}, {"m": exported.eval(), **dict(zip(names, xs))})
        torch.testing.assert_close(got, y)
    if type(built) in layer.module_types:
        ctx = ImportContext(f"{type(built).__name__} ('m')", lambda a: -1, lambda a: None,
                            input_rank=len(shapes[0]) + 1, output_shape=(2, *inf.shape))
        back, errors = spec.check_config(layer.from_module(built, ctx))
        assert not errors and back == cfg


def test_every_functional_form_is_found_by_the_importer_lookup():
    from cnn_studio.compiler.layers import layer_for_function, layer_for_method, layer_for_module

    for t, layer in all_layers().items():
        for sig in layer.signatures:
            for fn in sig.functions:
                if fn is not None:
                    assert layer_for_function(fn)[0] is layer, (t, fn)
            for m in sig.methods:
                assert layer_for_method(m)[0] is layer, (t, m)
        for mt in layer.module_types:
            assert layer_for_module(mt) is layer, (t, mt)
    assert layer_for_function(operator.add)[0].type_id == "add"
    assert layer_for_function(torch.cat)[0].type_id == "concat"
    assert layer_for_module(nn.Conv2d).type_id == "conv2d"
    assert layer_for_function(operator.mul) is None or layer_for_function(operator.mul)[0].type_id != "add"


# ------------------------------------------------------------------------------ the checker fails when it should
def _fake_spec(type_id: str, help_text: str = "A fake layer that scales its input, for the registry test.") -> LayerSpec:
    return LayerSpec(type_id, "Fake", "Activation", help_text, (Param("alpha", "float", 1.0, "scale"),), lambda cfg, ins: Inference(ins[0]))


class _Scale(nn.Module):
    def __init__(self, alpha):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return x * self.alpha


@pytest.fixture
def fake_registries(monkeypatch):
    """The spec and torch registries as copies, so registrations made by a test vanish after it."""
    monkeypatch.setattr(core_layers, "_REGISTRY", dict(core_layers._REGISTRY))
    monkeypatch.setattr(base, "_LAYERS", dict(base._LAYERS))
    return monkeypatch


def test_checker_reports_a_spec_without_torch_registration_or_icon(fake_registries):
    core_layers.register(_fake_spec("fake_scale"))
    problems = missing_parts(get_spec("fake_scale"))
    assert any("no torch registration" in p for p in problems)
    assert any("no icon fake_scale.svg" in p for p in problems)
    assert any(p.startswith("fake_scale") for p in problems)


def test_checker_reports_each_missing_torch_part(fake_registries):
    core_layers.register(_fake_spec("fake_scale"))

    @base.register
    class BuildOnly(TorchLayer):
        type_id = "fake_scale"

        def build(self, cfg, shapes):
            return _Scale(cfg["alpha"])

    problems = missing_parts(get_spec("fake_scale"))
    assert any("no code export" in p for p in problems)
    assert any("no fx import mapping" in p for p in problems)
    assert not any("no builder" in p for p in problems)
    assert not any("no torch registration" in p for p in problems)

    base.unregister("fake_scale")

    @base.register
    class Complete(TorchLayer):
        type_id = "fake_scale"
        signatures = (Signature(("input", "alpha"), {"alpha": 1.0}, functions=(torch.mul,)),)

        def build(self, cfg, shapes):
            return _Scale(cfg["alpha"])

        def source(self, cfg, shapes):
            return f"Scale({cfg['alpha']!r})"

    problems = missing_parts(get_spec("fake_scale"))
    assert any("signatures without from_call" in p for p in problems)
    assert not any("no code export" in p for p in problems)


def test_checker_reports_an_empty_tooltip_and_a_registration_without_spec(fake_registries):
    core_layers.register(_fake_spec("fake_quiet", help_text="   "))
    assert any("no teaching tooltip" in p for p in missing_parts(get_spec("fake_quiet")))

    @base.register
    class Orphan(TorchLayer):
        type_id = "fake_orphan"

    assert orphan_registrations() == ["fake_orphan: torch registration without a spec"]


def test_a_registration_counts_for_builders_at_once(fake_registries):
    """BUILDERS is a live view: a layer registered after import is compiled like any other."""
    core_layers.register(_fake_spec("fake_scale"))

    @base.register
    class Fake(TorchLayer):
        type_id = "fake_scale"

        def build(self, cfg, shapes):
            return _Scale(cfg["alpha"])

    assert "fake_scale" in BUILDERS
    assert BUILDERS["fake_scale"]({"alpha": 2.0}, [(3,)])(torch.ones(1, 3)).sum().item() == 6.0


def test_registering_a_type_twice_is_refused(fake_registries):
    with pytest.raises(ValueError, match="registered twice"):

        @base.register
        class Again(TorchLayer):
            type_id = "relu"


def test_make_icons_takes_the_category_from_the_spec_and_refuses_gaps(fake_registries):
    sys.path.insert(0, str(ICON_DIR.parents[2] / "resources"))
    try:
        import make_icons
    finally:
        sys.path.pop(0)
    assert make_icons.problems() == []  # the committed catalogue is complete
    for spec in all_specs():  # the written files are what the script makes from the spec's category
        assert make_icons.layer_svg(spec.type_id) == (ICON_DIR / f"{spec.type_id}.svg").read_text(encoding="utf-8")
        assert make_icons.CATEGORY_COLOURS[spec.category] in make_icons.layer_svg(spec.type_id)
    core_layers.register(_fake_spec("fake_scale"))
    assert any("no glyph for layer type(s) fake_scale" in p for p in make_icons.problems())


def test_checker_reports_a_loss_without_its_criterion(fake_registries):
    core_layers.register(LayerSpec("fake_loss", "Fake loss", "Output / loss", "A fake loss for the registry test.", (),
                                   lambda cfg, ins: Inference(ins[0]), role="output"))

    @base.register
    class NoCriterion(LossLayer):
        type_id = "fake_loss"
        module_types = (nn.L1Loss,)

        def source(self, cfg, shapes):
            return "nn.L1Loss()"

        def from_module(self, mod, ctx):
            return {}

    problems = missing_parts(get_spec("fake_loss"))
    assert any("no builder" in p for p in problems)
    assert not any("no code export" in p or "import mapping" in p for p in problems)
    base.unregister("fake_loss")

    @base.register
    class NotALoss(TorchLayer):
        type_id = "fake_loss"

    assert any("needs a LossLayer" in p for p in missing_parts(get_spec("fake_loss")))


def test_canonical_config_comes_from_the_layer():
    from cnn_studio.compiler.importer import canonical_structure
    from cnn_studio.core import Graph

    pool = get_layer("maxpool2d")
    base_cfg = {"kernel_size": 2, "padding": 0, "ceil_mode": False}
    assert pool.canonical({**base_cfg, "stride": [2, 2]})["stride"] is None
    assert pool.canonical({**base_cfg, "stride": 1})["stride"] == 1
    assert get_layer("conv2d").canonical({"stride": 1}) == {"stride": 1}  # default: unchanged

    def net(stride):
        g = Graph("n")
        g.add_node("input", {"channels": 1, "height": 8, "width": 8}, node_id="x")
        g.add_node("avgpool2d", {"kernel_size": 2, "stride": stride}, node_id="p")
        g.connect("x", "p")
        return g

    assert canonical_structure(net(2)) == canonical_structure(net(None)) != canonical_structure(net(1))
