"""Normalisation and regularisation: batch norm, dropout."""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .base import Signature, TorchLayer, literal, register

_DROPOUT = ("input", "p", "training", "inplace")
_DROPOUT_DEFAULTS = {"p": 0.5, "training": True, "inplace": False}


class _BatchNorm(TorchLayer):
    module: type = nn.BatchNorm2d

    def build(self, cfg, shapes):
        return self.module(shapes[0][0], eps=cfg["eps"], momentum=cfg["momentum"], affine=cfg["affine"], track_running_stats=cfg["track_running_stats"])

    def source(self, cfg, shapes):
        args = [str(int(shapes[0][0])), f"eps={literal(cfg['eps'])}", f"momentum={literal(cfg['momentum'])}"]
        if not cfg["affine"]:
            args.append("affine=False")
        if not cfg["track_running_stats"]:
            args.append("track_running_stats=False")
        return f"nn.{self.module.__name__}({', '.join(args)})"

    def from_module(self, mod, ctx):
        if mod.momentum is None:
            ctx.unsupported("momentum=None (cumulative moving average)")
        return {"eps": float(mod.eps), "momentum": float(mod.momentum), "affine": bool(mod.affine),
                "track_running_stats": bool(mod.track_running_stats)}


@register
class BatchNorm2d(_BatchNorm):
    type_id = "batchnorm2d"
    module = nn.BatchNorm2d
    module_types = (nn.BatchNorm2d,)


@register
class BatchNorm1d(_BatchNorm):
    type_id = "batchnorm1d"
    module = nn.BatchNorm1d
    module_types = (nn.BatchNorm1d,)


class _Dropout(TorchLayer):
    module: type = nn.Dropout

    def build(self, cfg, shapes):
        return self.module(cfg["p"])

    def source(self, cfg, shapes):
        return f"nn.{self.module.__name__}(p={literal(cfg['p'])})"

    def from_module(self, mod, ctx):
        return {"p": float(mod.p)}

    def from_call(self, a, ctx):
        return {"p": float(a["p"])}


@register
class Dropout(_Dropout):
    type_id = "dropout"
    module = nn.Dropout
    module_types = (nn.Dropout,)
    signatures = (Signature(_DROPOUT, _DROPOUT_DEFAULTS, functions=(F.dropout,)),)


@register
class Dropout2d(_Dropout):
    type_id = "dropout2d"
    module = nn.Dropout2d
    module_types = (nn.Dropout2d,)
    signatures = (Signature(_DROPOUT, _DROPOUT_DEFAULTS, functions=(F.dropout2d,)),)
