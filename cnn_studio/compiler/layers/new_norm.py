"""Torch side of the batch-independent normalisations (issue 13): group, layer and instance norm."""
from __future__ import annotations

from torch import nn

from .base import TorchLayer, literal, register


@register
class GroupNorm(TorchLayer):
    type_id = "groupnorm"
    module_types = (nn.GroupNorm,)

    def build(self, cfg, shapes):
        return nn.GroupNorm(cfg["num_groups"], shapes[0][0], eps=cfg["eps"], affine=cfg["affine"])

    def source(self, cfg, shapes):
        extra = "" if cfg["affine"] else ", affine=False"
        return f"nn.GroupNorm({int(cfg['num_groups'])}, {int(shapes[0][0])}, eps={literal(cfg['eps'])}{extra})"

    def from_module(self, mod, ctx):
        return {"num_groups": int(mod.num_groups), "eps": float(mod.eps), "affine": bool(mod.affine)}


@register
class LayerNorm(TorchLayer):
    """Over everything but the batch axis: normalized_shape is the node's whole input shape."""

    type_id = "layernorm"
    module_types = (nn.LayerNorm,)

    def build(self, cfg, shapes):
        return nn.LayerNorm(list(shapes[0]), eps=cfg["eps"], elementwise_affine=cfg["affine"])

    def source(self, cfg, shapes):
        extra = "" if cfg["affine"] else ", elementwise_affine=False"
        return f"nn.LayerNorm({[int(s) for s in shapes[0]]!r}, eps={literal(cfg['eps'])}{extra})"

    def from_module(self, mod, ctx):
        want = tuple(ctx.output_shape[1:]) if ctx.output_shape is not None else None
        if want is None or tuple(mod.normalized_shape) != want:
            ctx.unsupported(f"normalized_shape {list(mod.normalized_shape)} (only over all of C, H, W: {list(want or ())})")
        if mod.elementwise_affine and mod.bias is None:
            ctx.unsupported("bias=False (the scale without a shift)")
        return {"eps": float(mod.eps), "affine": bool(mod.elementwise_affine)}


@register
class InstanceNorm2d(TorchLayer):
    type_id = "instancenorm2d"
    module_types = (nn.InstanceNorm2d,)

    def build(self, cfg, shapes):
        return nn.InstanceNorm2d(shapes[0][0], eps=cfg["eps"], momentum=cfg["momentum"], affine=cfg["affine"], track_running_stats=cfg["track_running_stats"])

    def source(self, cfg, shapes):
        args = [str(int(shapes[0][0])), f"eps={literal(cfg['eps'])}", f"momentum={literal(cfg['momentum'])}"]
        if cfg["affine"]:
            args.append("affine=True")
        if cfg["track_running_stats"]:
            args.append("track_running_stats=True")
        return f"nn.InstanceNorm2d({', '.join(args)})"

    def from_module(self, mod, ctx):
        if mod.momentum is None:
            ctx.unsupported("momentum=None (cumulative moving average)")
        return {"eps": float(mod.eps), "momentum": float(mod.momentum), "affine": bool(mod.affine),
                "track_running_stats": bool(mod.track_running_stats)}
