"""Torch side of Mean over H, W (issue 13): global average pooling written as a mean."""
from __future__ import annotations

import torch
from torch import nn

from .base import Signature, TorchLayer, register


class MeanHW(nn.Module):
    """x.mean over height and width; keepdim keeps them as 1x1 (a Cx1x1 map, an SE gate's input)."""

    def __init__(self, keepdim: bool = True):
        super().__init__()
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"keepdim={self.keepdim}"


@register
class Mean(TorchLayer):
    type_id = "mean_hw"
    module_types = (MeanHW,)
    signatures = (
        Signature(("input", "dim", "keepdim", "dtype"), {"dim": None, "keepdim": False, "dtype": None}, functions=(torch.mean,), methods=("mean",)),
    )

    def build(self, cfg, shapes):
        return MeanHW(cfg["keepdim"])

    def source(self, cfg, shapes):
        return None  # written as x.mean(...) in forward()

    def forward_source(self, cfg, inputs, call):
        return f"{inputs[0]}.mean(dim=(2, 3), keepdim={bool(cfg['keepdim'])!r})"

    def from_module(self, mod, ctx):
        return {"keepdim": bool(mod.keepdim)}

    def from_call(self, a, ctx):
        rank = ctx.rank(a["input"])
        dim = a["dim"]
        dims = tuple(dim) if isinstance(dim, (list, tuple)) else (dim,)
        if rank != 4 or any(not isinstance(d, int) for d in dims) or sorted(d % 4 for d in dims) != [2, 3]:
            ctx.unsupported(f"mean over dim {dim} (only over height and width of a map: dim=(2, 3))")
        if a["dtype"] is not None:
            ctx.unsupported("a dtype")
        return {"keepdim": bool(a["keepdim"])}
