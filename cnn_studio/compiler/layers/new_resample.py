"""Torch side of the resampling and reshaping layers (issue 13): Upsample, Zero padding, Reshape,
Identity."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.catalogue.resample import reshape_target
from ...core.layers import pair
from .base import Signature, TorchLayer, literal, pair_cfg, register


def _scale_cfg(ctx, scale):
    """A torch scale factor (2, 2.0, (2.0, 3.0)) as a whole-number config value."""
    values = tuple(scale) if isinstance(scale, (list, tuple)) else (scale, scale)
    if len(values) != 2 or any(not isinstance(v, (int, float)) or float(v) != int(v) or v < 1 for v in values):
        ctx.unsupported(f"scale factor {scale!r} (only whole numbers of 1 or more)")
    return pair_cfg(tuple(int(v) for v in values))


def _upsample_cfg(ctx, size, scale, mode, align_corners) -> dict:
    if mode not in ("nearest", "bilinear"):
        ctx.unsupported(f"mode {mode!r} (nearest or bilinear)")
    if (size is None) == (scale is None):
        ctx.unsupported("needs exactly one of size and scale_factor")
    cfg = {"mode": mode, "align_corners": bool(align_corners) if mode == "bilinear" else False, "scale_factor": None, "size": None}
    if scale is not None:
        cfg["scale_factor"] = _scale_cfg(ctx, scale)
    else:
        values = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
        if len(values) != 2 or any(not isinstance(v, int) for v in values):
            ctx.unsupported(f"size {size!r} (n or (h, w))")
        cfg["size"] = pair_cfg(values)
    return cfg


@register
class Upsample(TorchLayer):
    type_id = "upsample"
    module_types = (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)
    signatures = (
        Signature(
            ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"),
            {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None, "recompute_scale_factor": None, "antialias": False},
            functions=(F.interpolate, F.upsample),
        ),
    )

    def _args(self, cfg):
        if cfg["scale_factor"] is not None:
            sh, sw = pair(cfg["scale_factor"])
            size = None
            scale = (float(sh), float(sw))
        else:
            size, scale = pair(cfg["size"]), None
        align = bool(cfg["align_corners"]) if cfg["mode"] == "bilinear" else None
        return size, scale, align

    def build(self, cfg, shapes):
        size, scale, align = self._args(cfg)
        return nn.Upsample(size=size, scale_factor=scale, mode=cfg["mode"], align_corners=align)

    def source(self, cfg, shapes):
        size, scale, align = self._args(cfg)
        what = f"size={size!r}" if size is not None else f"scale_factor=({literal(scale[0])}, {literal(scale[1])})"
        extra = f", align_corners={align!r}" if align is not None else ""
        return f"nn.Upsample({what}, mode={cfg['mode']!r}{extra})"

    def from_module(self, mod, ctx):
        if getattr(mod, "recompute_scale_factor", None):
            ctx.unsupported("recompute_scale_factor=True")
        return _upsample_cfg(ctx, mod.size, mod.scale_factor, mod.mode, mod.align_corners)

    def from_call(self, a, ctx):
        if a["recompute_scale_factor"] or a["antialias"]:
            ctx.unsupported("recompute_scale_factor or antialias")
        if ctx.rank(a["input"]) != 4:
            ctx.unsupported("interpolating anything but a batch of maps (N x C x H x W)")
        return _upsample_cfg(ctx, a["size"], a["scale_factor"], a["mode"], a["align_corners"])


@register
class ZeroPad2d(TorchLayer):
    type_id = "zeropad2d"
    module_types = (nn.ZeroPad2d,)
    signatures = (Signature(("input", "pad", "mode", "value"), {"mode": "constant", "value": None}, functions=(F.pad,)),)

    def build(self, cfg, shapes):
        return nn.ZeroPad2d((cfg["left"], cfg["right"], cfg["top"], cfg["bottom"]))

    def source(self, cfg, shapes):
        return f"nn.ZeroPad2d(({int(cfg['left'])}, {int(cfg['right'])}, {int(cfg['top'])}, {int(cfg['bottom'])}))"

    @staticmethod
    def _cfg(ctx, pad) -> dict:
        pad = tuple(pad) if isinstance(pad, (list, tuple)) else (pad,) * 4
        if len(pad) == 2:
            pad = pad + (0, 0)
        if len(pad) != 4 or any(not isinstance(p, int) or p < 0 for p in pad):
            ctx.unsupported(f"padding {pad!r} (left, right, top, bottom of 0 or more)")
        return dict(zip(("left", "right", "top", "bottom"), pad))

    def from_module(self, mod, ctx):
        if ctx.input_rank != 4:
            ctx.unsupported("padding anything but a batch of maps (N x C x H x W)")
        return self._cfg(ctx, mod.padding)

    def from_call(self, a, ctx):
        if a["mode"] != "constant" or a["value"] not in (None, 0, 0.0):
            ctx.unsupported(f"padding mode {a['mode']!r} with value {a['value']!r} (zeros only)")
        if ctx.rank(a["input"]) != 4:
            ctx.unsupported("padding anything but a batch of maps (N x C x H x W)")
        return self._cfg(ctx, a["pad"])


class Reshape(nn.Module):
    """x.reshape(batch, *shape); one entry of ``shape`` may be -1 (inferred)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def reshape_config(ctx, dims) -> dict:
    """A traced reshape's target without the batch axis -> config (1 or 3 axes)."""
    if len(dims) not in (1, 3) or any(not isinstance(d, int) or (d < 1 and d != -1) for d in dims):
        ctx.unsupported(f"reshaping to {list(dims)} (only to a flat vector F or a map C x H x W)")
    if len(dims) == 1:
        return {"channels": dims[0], "height": None, "width": None}
    return {"channels": dims[0], "height": dims[1], "width": dims[2]}


@register
class ReshapeLayer(TorchLayer):
    """torch.reshape(x, (x.size(0), C, H, W)) maps here; x.view/x.reshape are handed over by the
    importer (it maps the flattening ones to Flatten)."""

    type_id = "reshape"
    module_types = (Reshape,)
    signatures = (Signature(("input", "shape"), {}, functions=(torch.reshape,)),)

    def build(self, cfg, shapes):
        return Reshape(reshape_target(cfg))

    def source(self, cfg, shapes):
        return None  # written as x.reshape(...) in forward()

    def forward_source(self, cfg, inputs, call):
        dims = ", ".join(str(int(d)) for d in reshape_target(cfg))
        return f"{inputs[0]}.reshape({inputs[0]}.shape[0], {dims})"

    def from_module(self, mod, ctx):
        return reshape_config(ctx, mod.shape)

    def from_call(self, a, ctx):
        shape = a["shape"]
        if not isinstance(shape, (list, tuple)) or not shape:
            ctx.unsupported("a shape that is not a list")
        first = shape[0]
        if not ctx.is_tensor(first) and first != -1:
            ctx.unsupported("a fixed batch size in reshape (use x.shape[0] or x.size(0))")
        if first == -1 and any(d == -1 for d in shape[1:]):
            ctx.unsupported("-1 for the batch axis and another axis")
        return reshape_config(ctx, tuple(shape[1:]))


@register
class Identity(TorchLayer):
    type_id = "identity"
    module_types = (nn.Identity,)

    def build(self, cfg, shapes):
        return nn.Identity()

    def source(self, cfg, shapes):
        return "nn.Identity()"

    def from_module(self, mod, ctx):
        return {}
