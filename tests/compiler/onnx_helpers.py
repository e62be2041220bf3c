"""Shared by the ONNX import tests: export a hand-written nn.Module with torch.onnx (either exporter),
run a file in onnxruntime, and run an import's compiled network."""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import torch

from cnn_studio.compiler.export import _quiet_logger, _quiet_native_output
from cnn_studio.compiler.model import compile_model


def export_module(module: torch.nn.Module, shape, path, exporter: str = "torchscript", opset: int | None = None, dynamic: bool = True):
    """``module`` (eval mode) as an ONNX file exported by torch.onnx itself."""
    module = module.eval()
    x = torch.randn(2, *shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            with _quiet_native_output():
                torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=opset or 17, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": {0: "batch"}} if dynamic else None)
        else:
            with _quiet_logger("torch.onnx"), contextlib.redirect_stdout(io.StringIO()):
                dyn = ({0: torch.export.Dim("batch", min=1)},) if dynamic else None
                prog = torch.onnx.export(module, (x,), dynamo=True, opset_version=opset or 18, dynamic_shapes=dyn, verbose=False)
            prog.save(str(path), external_data=False)
    return path


def ort_run(path, x: torch.Tensor) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]


def imported_run(imp, x: torch.Tensor) -> np.ndarray:
    """The imported graph compiled, with the imported weights loaded strictly, on ``x``."""
    net = compile_model(imp.graph)
    net.load_state_dict(imp.state, strict=True)
    net.eval()
    with torch.no_grad():
        out = net(x)
        if imp.log_softmax_dropped:
            out = torch.log_softmax(out, dim=1)
    return out.numpy()


def narrow(name: str, shape, classes: int = 3):
    """Template ``name`` with its exact structure (layers, ids, strides, adaptive pooling, blocks'
    wiring) but few channels and units (4 per convolution, 8 per hidden linear layer), so exporting
    it takes a second instead of writing AlexNet's or VGG's 100M-weight classifiers."""
    from cnn_studio.core import templates

    g = templates.build(name, shape, classes)
    last = g.in_edges(g.output_node().id)[0].src

    def shrink(graph, top: bool) -> None:
        for nid, node in list(graph.nodes.items()):
            if node.type == "conv2d":
                graph.set_param(nid, "out_channels", 4)
                if node.config.get("groups", 1) > 1:  # depthwise stays depthwise
                    graph.set_param(nid, "groups", 4)
            elif node.type == "linear" and not (top and nid == last):
                graph.set_param(nid, "out_features", 8)

    shrink(g, True)
    seen: set[int] = set()

    def definitions(graph) -> None:  # block definitions (ResNet stages, inverted residuals), shared by their uses
        for bname in list(graph.blocks):
            d = graph.blocks[bname]
            if id(d) not in seen:
                seen.add(id(d))
                shrink(d.graph, False)
                definitions(d.graph)

    definitions(g)
    return g


def without_dropout(graph):
    """``graph`` with its Dropout nodes bypassed: an inference file (ONNX) has none."""
    g = graph.copy()
    for nid in [n for n, node in g.nodes.items() if node.type in ("dropout", "dropout2d")]:
        src = g.in_edges(nid)[0]
        outs = list(g.out_edges(nid))
        g.remove_node(nid)
        for e in outs:
            g.connect(src.src, e.dst, src.src_port, e.dst_port)
    return g
