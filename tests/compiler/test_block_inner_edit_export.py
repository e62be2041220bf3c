"""Exported PyTorch code of a block edited inside (core/block_edit.py) still runs and matches the
compiled model: a conv and a BatchNorm added to the shared Basic4 definition, a residual link
re-routed through them, the output moved past a new ReLU."""
from __future__ import annotations

import torch

from block_graphs import tiny_resnet

from cnn_studio.compiler.codegen import generate_python
from cnn_studio.compiler.model import compile_model
from cnn_studio.core import block_edit as be
from cnn_studio.core.analysis import analyze


def test_code_export_of_an_edited_block_matches_the_compiled_model():
    g = tiny_resnet()
    params_before = analyze(g).total_params
    # the shortcut of Basic4 (block input -> add input 2) now goes through a 1x1 conv and a BatchNorm
    conv = be.add_inner_node(g, "Basic4", "conv2d", {"out_channels": 4, "kernel_size": 1, "bias": False}, (200, 100))
    bn = be.add_inner_node(g, "Basic4", "batchnorm2d", {}, (200, 200))
    be.feed_block_input(g, "Basic4", 0, conv, 0)
    be.unfeed_block_input(g, "Basic4", 0, "add", 1)
    be.connect_inner(g, "Basic4", conv, bn)
    be.connect_inner(g, "Basic4", bn, "add", 0, 1)
    extra = be.add_inner_node(g, "Basic4", "relu6", {}, (0, 900))
    be.connect_inner(g, "Basic4", "relu", extra)
    be.set_block_output(g, "Basic4", extra)
    a = analyze(g)
    assert a.ok, [str(i) for i in a.issues]
    assert a.total_params == params_before + 2 * (4 * 4 + 2 * 4 + 2 * 4)  # two uses: conv 16, bn 8 weights + 8 running stats
    torch.manual_seed(0)
    m = compile_model(g)
    m.eval()
    assert sum(p.numel() for p in m.parameters()) == a.trainable_params
    src = generate_python(g)
    assert src.count("class Basic4(") == 1 and "nn.ReLU6()" in src
    ns: dict = {}
    exec(compile(src, "exported.py", "exec"), ns)  # noqa: S102 - the test runs the code it generated
    exported = ns["TinyResnet"]()
    assert list(exported.state_dict()) == list(m.state_dict())
    exported.load_state_dict(m.state_dict(), strict=True)
    exported.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(exported(x), m(x), atol=1e-6)
