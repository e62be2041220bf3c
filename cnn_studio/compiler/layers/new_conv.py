"""Torch side of the convolutions added in issue 13: transposed convolution and the
depthwise-separable convolution (one node, two convolutions)."""
from __future__ import annotations

import torch
from torch import nn

from ...core.layers import pair
from .base import TorchLayer, pad_arg, pair_cfg, register, tup


@register
class ConvTranspose2d(TorchLayer):
    type_id = "conv_transpose2d"
    module_types = (nn.ConvTranspose2d,)

    def build(self, cfg, shapes):
        return nn.ConvTranspose2d(
            shapes[0][0],
            cfg["out_channels"],
            pair(cfg["kernel_size"]),
            stride=pair(cfg["stride"]),
            padding=pair(cfg["padding"]),
            output_padding=pair(cfg["output_padding"]),
            groups=cfg["groups"],
            bias=cfg["bias"],
            dilation=pair(cfg["dilation"]),
        )

    def source(self, cfg, shapes):
        args = [str(int(shapes[0][0])), str(int(cfg["out_channels"])), f"kernel_size={tup(cfg['kernel_size'])}", f"stride={tup(cfg['stride'])}"]
        if pair(cfg["padding"]) != (0, 0):
            args.append(f"padding={tup(cfg['padding'])}")
        if pair(cfg["output_padding"]) != (0, 0):
            args.append(f"output_padding={tup(cfg['output_padding'])}")
        if cfg["groups"] != 1:
            args.append(f"groups={int(cfg['groups'])}")
        args.append(f"bias={bool(cfg['bias'])!r}")
        if pair(cfg["dilation"]) != (1, 1):
            args.append(f"dilation={tup(cfg['dilation'])}")
        return f"nn.ConvTranspose2d({', '.join(args)})"

    def from_module(self, mod, ctx):
        if mod.padding_mode != "zeros":
            ctx.unsupported(f"padding_mode={mod.padding_mode!r} (transposed convolutions pad with zeros)")
        if isinstance(mod.padding, str):
            ctx.unsupported(f"padding={mod.padding!r}")
        return {
            "out_channels": mod.out_channels, "kernel_size": pair_cfg(mod.kernel_size), "stride": pair_cfg(mod.stride),
            "padding": pair_cfg(mod.padding), "output_padding": pair_cfg(mod.output_padding), "dilation": pair_cfg(mod.dilation),
            "groups": mod.groups, "bias": mod.bias is not None,
        }


class SeparableConv2d(nn.Module):
    """A depthwise k x k convolution (one filter per channel, groups = channels) followed by a
    pointwise 1x1 convolution that mixes the channels; state_dict keys ``depthwise.weight``,
    ``pointwise.weight`` (and ``.bias`` of each when bias is on)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, bias: bool = False):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=in_channels, bias=bias)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


@register
class SeparableConv(TorchLayer):
    """Exported code needs nothing but torch: the node is an ``nn.ModuleDict`` holding the two
    convolutions (the same state_dict keys as :class:`SeparableConv2d`), applied in forward()."""

    type_id = "separable_conv2d"
    module_types = (SeparableConv2d,)

    def build(self, cfg, shapes):
        return SeparableConv2d(
            shapes[0][0], cfg["out_channels"], pair(cfg["kernel_size"]), stride=pair(cfg["stride"]),
            padding=pad_arg(cfg["padding"]), dilation=pair(cfg["dilation"]), bias=cfg["bias"],
        )

    def source(self, cfg, shapes):
        c = int(shapes[0][0])
        pad = cfg["padding"]
        pad_src = repr(pad) if pad in ("same", "valid") else tup(pad)
        dil = f", dilation={tup(cfg['dilation'])}" if pair(cfg["dilation"]) != (1, 1) else ""
        bias = bool(cfg["bias"])
        return (
            f"nn.ModuleDict({{'depthwise': nn.Conv2d({c}, {c}, kernel_size={tup(cfg['kernel_size'])}, stride={tup(cfg['stride'])}, "
            f"padding={pad_src}{dil}, groups={c}, bias={bias!r}), "
            f"'pointwise': nn.Conv2d({c}, {int(cfg['out_channels'])}, kernel_size=(1, 1), bias={bias!r})}})"
        )

    def forward_source(self, cfg, inputs, call):
        return f"{call}['pointwise']({call}['depthwise']({inputs[0]}))"

    def from_module(self, mod, ctx):
        dw, pw = mod.depthwise, mod.pointwise
        pad = dw.padding if isinstance(dw.padding, str) else pair_cfg(dw.padding)
        return {
            "out_channels": pw.out_channels, "kernel_size": pair_cfg(dw.kernel_size), "stride": pair_cfg(dw.stride),
            "padding": pad, "dilation": pair_cfg(dw.dilation), "bias": dw.bias is not None,
        }


def fuse_separable(specs: dict, order: list[str], output_src: str) -> str:
    """fx import: a depthwise convolution (groups = in = out channels) whose only user is a plain
    1x1 convolution, with bias on both or on neither, is one Depthwise-separable conv node (a
    hand-written SeparableConv2d, or this project's own, traces as those two). The pair named
    ``x.depthwise``/``x.pointwise`` becomes node ``x``, so the state_dict keys stay
    ``x.depthwise.weight``... Returns the (possibly renamed) node that feeds the output."""
    users: dict[str, int] = {output_src: 1}
    for name in order:
        for src in specs[name].get("inputs", ()):
            users[src] = users.get(src, 0) + 1
    for name in list(order):
        s = specs[name]
        pw = s.get("module")
        if s.get("kind") != "node" or s["type"] != "conv2d" or len(s["inputs"]) != 1 or not isinstance(pw, nn.Conv2d):
            continue
        if (pw.kernel_size, pw.stride, pw.padding, pw.dilation, pw.groups, pw.padding_mode) != ((1, 1), (1, 1), (0, 0), (1, 1), 1, "zeros"):
            continue
        src = s["inputs"][0]
        d = specs.get(src)
        dw = d.get("module") if d else None
        if d is None or d.get("kind") != "node" or d["type"] != "conv2d" or users.get(src) != 1 or not isinstance(dw, nn.Conv2d):
            continue
        if not (dw.groups == dw.in_channels == dw.out_channels) or dw.padding_mode != "zeros" or (dw.bias is None) != (pw.bias is None):
            continue
        pair_module = nn.Module()
        pair_module.add_module("depthwise", dw)
        pair_module.add_module("pointwise", pw)
        dcfg = d["config"]
        s.update(
            type="separable_conv2d",
            config={"out_channels": pw.out_channels, "kernel_size": dcfg["kernel_size"], "stride": dcfg["stride"],
                    "padding": dcfg["padding"], "dilation": dcfg["dilation"], "bias": pw.bias is not None},
            inputs=list(d["inputs"]),
            module=pair_module,
        )
        d["kind"] = "fused"
        order.remove(src)
        stem = name[: -len("_pointwise")] if name.endswith("_pointwise") else None
        if stem and src == stem + "_depthwise" and stem not in specs:
            specs[stem] = specs.pop(name)
            order[order.index(name)] = stem
            for other in specs.values():
                if "inputs" in other:
                    other["inputs"] = [stem if i == name else i for i in other["inputs"]]
            if output_src == name:
                output_src = stem
    return output_src
