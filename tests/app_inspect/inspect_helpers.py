"""A tiny trained-looking run folder for the inspection tests: a small CNN on a 16x16 built-in data set,
briefly trained so its predictions are not uniform, saved as config.json + checkpoints/best.pt."""
from __future__ import annotations

import json
from pathlib import Path

from cnn_studio.core.graph import Graph, chain

TINY_DATA = dict(source="shapes", shapes_train=256, shapes_test=64, height=16, width=16, val_fraction=0.25, seed=0)


def tiny_graph(shape=(3, 16, 16), classes=10) -> Graph:
    """conv1 (16 ch, 3x3, pad 1) -> relu1 -> pool1 -> conv2 (8 ch, 3x3) -> relu2 -> gap -> flatten -> fc."""
    c, h, w = shape
    g = Graph("tiny")
    chain(g, [
        ("input", {"channels": c, "height": h, "width": w}, "input"),
        ("conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "conv1"),
        ("relu", {}, "relu1"),
        ("maxpool2d", {"kernel_size": 2}, "pool1"),
        ("conv2d", {"out_channels": 8, "kernel_size": 3}, "conv2"),
        ("relu", {}, "relu2"),
        ("adaptive_avgpool2d", {}, "gap"),
        ("flatten", {}, "flatten"),
        ("linear", {"out_features": classes}, "fc"),
        ("cross_entropy", {}, "loss"),
    ])
    return g


def make_run(path: Path, bundle, data_config: dict, steps: int = 60, seed: int = 0) -> Path:
    """Train ``tiny_graph`` for a few Adam steps on ``bundle`` and write a run folder."""
    import torch

    from cnn_studio.compiler import compile_model

    graph = tiny_graph(tuple(bundle.input_shape()), bundle.num_classes)
    torch.manual_seed(seed)
    model = compile_model(graph)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    crit = torch.nn.CrossEntropyLoss()
    x, y = bundle.train.x, bundle.train.y
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(y), (64,), generator=g)
        opt.zero_grad()
        crit(model(bundle.normalize(x[idx])), y[idx]).backward()
        opt.step()
    model.eval()
    path = Path(path)
    (path / "checkpoints").mkdir(parents=True, exist_ok=True)
    mean = [float(v) for v in torch.as_tensor(bundle.mean).flatten()]
    std = [float(v) for v in torch.as_tensor(bundle.std).flatten()]
    config = {
        "name": "tiny",
        "graph": graph.to_config(),
        "data": data_config,
        "training": {"epochs": 1},
        "class_names": list(bundle.class_names),
        "mean": mean,
        "std": std,
        "input_shape": list(bundle.input_shape()),
    }
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.save({"model": model.state_dict(), "graph": graph.to_config()}, path / "checkpoints" / "best.pt")
    return path
