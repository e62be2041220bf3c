"""Flatten and fully connected layers."""
from __future__ import annotations

import torch
from torch import nn

from .base import ImportContext, Signature, TorchLayer, register


def flatten_dims(ctx: ImportContext, start, end, rank: int) -> None:
    """Only flattening everything but the batch axis maps onto the catalogue's Flatten."""
    if start not in (1, 1 - rank) or end not in (-1, rank - 1):
        ctx.unsupported(f"flatten from dim {start} to {end} (only everything but the batch axis: start_dim=1)")


@register
class Flatten(TorchLayer):
    """x.view(x.size(0), -1) and x.reshape(...) are mapped by the importer itself (they need the
    traced shapes)."""

    type_id = "flatten"
    module_types = (nn.Flatten,)
    signatures = (
        Signature(("input", "start_dim", "end_dim"), {"start_dim": 0, "end_dim": -1}, functions=(torch.flatten,), methods=("flatten",)),
    )

    def build(self, cfg, shapes):
        return nn.Flatten(1)

    def source(self, cfg, shapes):
        return "nn.Flatten(start_dim=1)"

    def from_module(self, mod, ctx):
        flatten_dims(ctx, mod.start_dim, mod.end_dim, ctx.input_rank)
        return {}

    def from_call(self, a, ctx):
        flatten_dims(ctx, a["start_dim"], a["end_dim"], ctx.rank(a["input"]))
        return {}


@register
class Linear(TorchLayer):
    type_id = "linear"
    module_types = (nn.Linear,)

    def build(self, cfg, shapes):
        return nn.Linear(shapes[0][0], cfg["out_features"], bias=cfg["bias"])

    def source(self, cfg, shapes):
        return f"nn.Linear({int(shapes[0][0])}, {int(cfg['out_features'])}, bias={bool(cfg['bias'])!r})"

    def from_module(self, mod, ctx):
        return {"out_features": mod.out_features, "bias": mod.bias is not None}
