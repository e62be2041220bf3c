"""Element-wise activations and softmax over the class/channel axis."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import ActivationLayer, ImportContext, Signature, TorchLayer, literal, register

_ACT = ("input",)  # x.tanh(), torch.sigmoid(x): the tensor only


@register
class ReLU(ActivationLayer):
    type_id = "relu"
    module = nn.ReLU
    module_types = (nn.ReLU,)
    signatures = (
        Signature(("input", "inplace"), {"inplace": False}, functions=(F.relu, F.relu_, torch.relu, torch.relu_)),
        Signature(_ACT, methods=("relu", "relu_")),
    )


@register
class Tanh(ActivationLayer):
    type_id = "tanh"
    module = nn.Tanh
    module_types = (nn.Tanh,)
    signatures = (Signature(_ACT, functions=(torch.tanh, F.tanh), methods=("tanh",)),)


@register
class Sigmoid(ActivationLayer):
    type_id = "sigmoid"
    module = nn.Sigmoid
    module_types = (nn.Sigmoid,)
    signatures = (Signature(_ACT, functions=(torch.sigmoid, F.sigmoid), methods=("sigmoid",)),)


@register
class SiLU(ActivationLayer):
    type_id = "silu"
    module = nn.SiLU
    module_types = (nn.SiLU,)
    signatures = (Signature(("input", "inplace"), {"inplace": False}, functions=(F.silu,)),)


@register
class LeakyReLU(TorchLayer):
    type_id = "leaky_relu"
    module_types = (nn.LeakyReLU,)
    signatures = (
        Signature(("input", "negative_slope", "inplace"), {"negative_slope": 0.01, "inplace": False}, functions=(F.leaky_relu,)),
    )

    def build(self, cfg, shapes):
        return nn.LeakyReLU(cfg["negative_slope"])

    def source(self, cfg, shapes):
        return f"nn.LeakyReLU(negative_slope={literal(cfg['negative_slope'])})"

    def from_module(self, mod, ctx):
        return {"negative_slope": float(mod.negative_slope)}

    def from_call(self, a, ctx):
        return {"negative_slope": float(a["negative_slope"])}


@register
class GELU(TorchLayer):
    type_id = "gelu"
    module_types = (nn.GELU,)
    signatures = (Signature(("input", "approximate"), {"approximate": "none"}, functions=(F.gelu,)),)

    def build(self, cfg, shapes):
        return nn.GELU(approximate=cfg["approximate"])

    def source(self, cfg, shapes):
        return f"nn.GELU(approximate={cfg['approximate']!r})"

    def from_module(self, mod, ctx):
        return {"approximate": mod.approximate}

    def from_call(self, a, ctx):
        return {"approximate": a["approximate"]}


@register
class ELU(TorchLayer):
    type_id = "elu"
    module_types = (nn.ELU,)
    signatures = (Signature(("input", "alpha", "inplace"), {"alpha": 1.0, "inplace": False}, functions=(F.elu,)),)

    def build(self, cfg, shapes):
        return nn.ELU(cfg["alpha"])

    def source(self, cfg, shapes):
        return f"nn.ELU(alpha={literal(cfg['alpha'])})"

    def from_module(self, mod, ctx):
        return {"alpha": float(mod.alpha)}

    def from_call(self, a, ctx):
        return {"alpha": float(a["alpha"])}


def softmax_dim(ctx: ImportContext, dim, rank: int) -> None:
    """Only softmax over the class/channel axis (dim=1) maps onto the catalogue's Softmax."""
    if dim is None and rank == 2:
        return
    if dim is not None and (dim == 1 or dim == 1 - rank):
        return
    ctx.unsupported(f"softmax over dim {dim} (only the class/channel axis, dim=1)")


@register
class Softmax(TorchLayer):
    type_id = "softmax"
    module_types = (nn.Softmax,)
    signatures = (
        Signature(("input", "dim", "_stacklevel", "dtype"), {"dim": None, "dtype": None},
                  functions=(F.softmax, torch.softmax), methods=("softmax",)),
    )

    def build(self, cfg, shapes):
        return nn.Softmax(dim=1)

    def source(self, cfg, shapes):
        return "nn.Softmax(dim=1)"

    def from_module(self, mod, ctx):
        softmax_dim(ctx, mod.dim, ctx.input_rank)
        return {}

    def from_call(self, a, ctx):
        softmax_dim(ctx, a["dim"], ctx.rank(a["input"]))
        return {}
