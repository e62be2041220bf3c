"""Activation memory of networks built from blocks: every inner layer's activation counts (QA item 1:
resnet34 from blocks used to report 11.97 MiB per sample against 31.98 for the flat resnet18)."""
import pytest

from cnn_studio.core import blocks, templates
from cnn_studio.core.analysis import analyze


@pytest.mark.parametrize("name", ["resnet34", "resnet50", "mobilenet_v2", "unet"])
def test_block_templates_count_the_same_activations_as_their_flattened_network(name):
    g = templates.build(name, (3, 64, 64), 10)
    a, flat = analyze(g), analyze(blocks.flatten(g))
    assert a.ok and flat.ok
    assert a.activation_bytes == flat.activation_bytes
    # each instance holds more than its output (the layers inside it), and says so in --json too
    d = a.to_dict()
    for row in d["layers"]:
        if "block" in row:
            info = a.nodes[row["id"]]
            assert row["activation_bytes"] == sum(r["activation_bytes"] for r in row["inner"])
            out = 4
            for s in info.output_shape:
                out *= s
            assert row["activation_bytes"] > out


def test_resnet34_needs_more_activation_memory_than_resnet18():
    r18 = analyze(templates.build("resnet18", (3, 224, 224), 1000))
    r34 = analyze(templates.build("resnet34", (3, 224, 224), 1000))
    assert r34.activation_bytes > r18.activation_bytes
