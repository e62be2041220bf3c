"""Pooling: fixed windows (max, average) and adaptive (to a given output size)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ...core.layers import pair
from .base import Signature, TorchLayer, pair_cfg, register, tup


def pool_stride(kernel, stride):
    """None when the stride equals the kernel (the catalogue's 'empty = same as kernel')."""
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        return None
    return None if pair(stride) == pair(kernel) else pair_cfg(stride)


def adaptive_size(ctx, v):
    if isinstance(v, (list, tuple)) and any(x is None for x in v) or v is None:
        ctx.unsupported("output_size with None")
    return pair_cfg(v)


class _Pool(TorchLayer):
    module: type = nn.MaxPool2d

    def build(self, cfg, shapes):
        stride = pair(cfg["stride"]) if cfg["stride"] is not None else None
        return self.module(pair(cfg["kernel_size"]), stride=stride, padding=pair(cfg["padding"]), ceil_mode=cfg["ceil_mode"])

    def source(self, cfg, shapes):
        args = [f"kernel_size={tup(cfg['kernel_size'])}"]
        if cfg["stride"] is not None:
            args.append(f"stride={tup(cfg['stride'])}")
        if pair(cfg["padding"]) != (0, 0):
            args.append(f"padding={tup(cfg['padding'])}")
        if cfg["ceil_mode"]:
            args.append("ceil_mode=True")
        return f"nn.{self.module.__name__}({', '.join(args)})"

    def canonical(self, cfg):
        if cfg.get("stride") is not None and pair(cfg["stride"]) == pair(cfg["kernel_size"]):
            cfg = {**cfg, "stride": None}
        return cfg

    @staticmethod
    def _config(kernel, stride, padding, ceil_mode) -> dict:
        return {"kernel_size": pair_cfg(kernel), "stride": pool_stride(kernel, stride), "padding": pair_cfg(padding), "ceil_mode": bool(ceil_mode)}


@register
class MaxPool2d(_Pool):
    type_id = "maxpool2d"
    module = nn.MaxPool2d
    module_types = (nn.MaxPool2d,)
    signatures = (
        Signature(
            ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
            {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
            functions=(F.max_pool2d,),
        ),
    )

    def from_module(self, mod, ctx):
        if pair(mod.dilation) != (1, 1):
            ctx.unsupported("dilation != 1")
        if mod.return_indices:
            ctx.unsupported("return_indices=True")
        return self._config(mod.kernel_size, mod.stride, mod.padding, mod.ceil_mode)

    def from_call(self, a, ctx):
        if pair(a["dilation"]) != (1, 1) or a["return_indices"]:
            ctx.unsupported("dilation or return_indices")
        return self._config(a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"])


@register
class AvgPool2d(_Pool):
    type_id = "avgpool2d"
    module = nn.AvgPool2d
    module_types = (nn.AvgPool2d,)
    signatures = (
        Signature(
            ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
            {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None},
            functions=(F.avg_pool2d,),
        ),
    )

    def from_module(self, mod, ctx):
        if not mod.count_include_pad or mod.divisor_override is not None:
            ctx.unsupported("count_include_pad=False or divisor_override")
        return self._config(mod.kernel_size, mod.stride, mod.padding, mod.ceil_mode)

    def from_call(self, a, ctx):
        if not a["count_include_pad"] or a["divisor_override"] is not None:
            ctx.unsupported("count_include_pad=False or divisor_override")
        return self._config(a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"])


class _Adaptive(TorchLayer):
    module: type = nn.AdaptiveAvgPool2d

    def build(self, cfg, shapes):
        return self.module(pair(cfg["output_size"]))

    def source(self, cfg, shapes):
        return f"nn.{self.module.__name__}(output_size={tup(cfg['output_size'])})"

    def from_module(self, mod, ctx):
        if getattr(mod, "return_indices", False):
            ctx.unsupported("return_indices=True")
        return {"output_size": adaptive_size(ctx, mod.output_size)}

    def from_call(self, a, ctx):
        if a.get("return_indices"):
            ctx.unsupported("return_indices=True")
        return {"output_size": adaptive_size(ctx, a["output_size"])}


@register
class AdaptiveAvgPool2d(_Adaptive):
    type_id = "adaptive_avgpool2d"
    module = nn.AdaptiveAvgPool2d
    module_types = (nn.AdaptiveAvgPool2d,)
    signatures = (Signature(("input", "output_size"), {}, functions=(F.adaptive_avg_pool2d,)),)


@register
class AdaptiveMaxPool2d(_Adaptive):
    type_id = "adaptive_maxpool2d"
    module = nn.AdaptiveMaxPool2d
    module_types = (nn.AdaptiveMaxPool2d,)
    signatures = (Signature(("input", "output_size", "return_indices"), {"return_indices": False}, functions=(F.adaptive_max_pool2d,)),)
