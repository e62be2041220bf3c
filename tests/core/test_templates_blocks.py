"""The templates built from blocks (core only): shared definitions, the U-Net's per-pixel scores and
skip concatenations at every size it states it fits, and project files that keep the blocks."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.core import blocks, templates
from cnn_studio.core.analysis import analyze
from cnn_studio.core.project import dumps, loads

BLOCK_TEMPLATES = ("resnet34", "resnet50", "mobilenet_v2", "unet")


@pytest.mark.parametrize("name", BLOCK_TEMPLATES)
def test_built_from_shared_block_definitions(name):
    g = templates.build(name, (3, 32, 32), 7)
    used = [n for n in g.nodes.values() if n.type == "block"]
    assert used, "top-level block instances"
    # every definition is used somewhere, and some are used more than once (a definition per distinct block)
    uses = {d: len(blocks.instances(g, d)) for d in g.blocks.names()}
    assert all(uses.values()), uses
    assert max(uses.values()) > 1
    # flattening gives the same network, layer for layer
    a, flat = analyze(g), analyze(blocks.flatten(g))
    assert a.ok and flat.ok
    assert (a.trainable_params, a.non_trainable_params, a.total_macs) == (flat.trainable_params, flat.non_trainable_params, flat.total_macs)
    # a project file stores each definition once and loads back equal
    doc = dumps(g)
    h = loads(doc)
    assert h.to_config() == g.to_config()


def test_resnet_stages_hold_torchvision_block_counts():
    for name, want in (("resnet34", [3, 4, 6, 3]), ("resnet50", [3, 4, 6, 3])):
        g = templates.build(name, (3, 32, 32), 10)
        got = [len(g.blocks[g.nodes[f"layer{i}"].config["block"]].graph.nodes) for i in range(1, 5)]
        assert got == want
    g = templates.build("resnet50", (3, 32, 32), 10)
    first = g.blocks[g.blocks["Layer1"].graph.nodes["0"].config["block"]]
    assert "downsample" in first.graph.nodes and first.graph.nodes["conv3"].config["out_channels"] == 256


@settings(max_examples=40, deadline=None)
@given(h=st.integers(8, 90), w=st.integers(8, 90), classes=st.integers(2, 12), c=st.sampled_from([1, 3]))
def test_unet_scores_every_pixel_at_any_size_it_fits(h, w, classes, c):
    g = templates.build("unet", (c, h, w), classes)
    a = analyze(g)
    assert a.ok, [str(e) for e in a.errors]
    assert a.nodes["scores"].output_shape == (classes, h, w)  # one score map per class, the input's size
    for i, (skip, up) in enumerate((("enc1", "up1"), ("enc2", "up2"), ("enc3", "up3")), start=1):
        assert a.nodes[up].output_shape[1:] == a.nodes[skip].output_shape[1:]  # the skip matches the upsampled map
        cat = a.nodes[f"cat{i}"].output_shape
        assert cat[0] == a.nodes[skip].output_shape[0] + a.nodes[up].output_shape[0]
    assert g.nodes["up3"].type == "conv_transpose2d"
    assert a.output_shape == (classes,)


def test_unet_refuses_inputs_below_its_minimum_by_name():
    with pytest.raises(templates.TemplateInputError, match="at least 8x8"):
        templates.build("unet", (3, 7, 64), 4)
