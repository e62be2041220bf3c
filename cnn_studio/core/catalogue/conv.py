"""Convolution layers."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import Inference, LayerSpec, pair, Param, register, Shape, Window, _need_map, _one, _padding_of, _window_output


def _check_padding_mode(mode: str, before: tuple[int, int], total: tuple[int, int], h: int, w: int) -> None:
    """Refuse what torch's F.pad refuses for the non-zero modes, on the padding of each side
    (for 'same' the sides can differ: total k-1 split as floor before, the rest after).
    reflect mirrors without repeating the edge, so each side must be smaller than the input;
    circular wraps around, so each side may be at most the input size; replicate takes any."""
    if mode not in ("reflect", "circular"):
        return
    sides = (max(before[0], total[0] - before[0]), max(before[1], total[1] - before[1]))
    too_big = (lambda p, n: p >= n) if mode == "reflect" else (lambda p, n: p > n)
    if too_big(sides[0], h) or too_big(sides[1], w):
        need = "larger than" if mode == "reflect" else "at least"
        raise LayerError(
            f"{mode} padding of {sides[0]}x{sides[1]} per side needs an input {need} {sides[0]}x{sides[1]}, but it gets {h}x{w}",
            "use zeros or replicate padding, less padding or a smaller kernel, or place it where the map is larger",
            "padding_mode",
        )


def _infer_conv(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Convolution")
    out_c, groups = cfg["out_channels"], cfg["groups"]
    k = pair(cfg["kernel_size"])
    s = pair(cfg["stride"])
    d = pair(cfg["dilation"])
    if c % groups:
        raise LayerError(f"{c} input channels cannot be split into {groups} groups", "set groups to a divisor of the input channels", "groups")
    if out_c % groups:
        raise LayerError(f"{out_c} output channels cannot be split into {groups} groups", "set out channels to a multiple of groups", "out_channels")
    k_eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    before, total = _padding_of(cfg["padding"], k_eff, s, "padding")
    _check_padding_mode(cfg["padding_mode"], before, total, h, w)
    ho, wo = _window_output((c, h, w), k_eff, s, before, total, "kernel_size")
    per_out = (c // groups) * k[0] * k[1]
    params = out_c * per_out + (out_c if cfg["bias"] else 0)
    macs = out_c * ho * wo * per_out
    return Inference((out_c, ho, wo), params, 0, macs, Window(k_eff, s, before))


register(
    LayerSpec(
        "conv2d",
        "Convolution",
        "Convolution",
        "Slides a set of small learnable filters over the input; each filter makes one activation map that "
        "lights up where its pattern appears. Each output unit sees only a local patch (local connectivity) "
        "and every position shares the same filter weights (weight sharing), so it needs few parameters.",
        (
            Param("out_channels", "int", 16, "Number of filters, i.e. activation maps this layer produces.", 1, 65536, label="Filters"),
            Param("kernel_size", "pair", 3, "Filter size in pixels: n for n x n, or [h, w].", 1, 255, label="Kernel"),
            Param("stride", "pair", 1, "Step between filter positions; 2 halves the map size.", 1, 255),
            Param("padding", "padding", 0, "Zeros added around the input: a number, [h, w], 'same' (keep size) or 'valid' (none).", 0, 255, choices=("same", "valid")),
            Param("dilation", "pair", 1, "Spacing between filter taps; widens the receptive field without extra weights.", 1, 64),
            Param("groups", "int", 1, "Split channels into independent groups (set to the channel count for depthwise).", 1, 65536),
            Param("bias", "bool", True, "Add a learnable offset per filter (usually off when BatchNorm follows)."),
            Param("padding_mode", "choice", "zeros", "How the border is filled.", choices=("zeros", "reflect", "replicate", "circular")),
        ),
        _infer_conv,
        key_params=("out_channels", "kernel_size", "stride", "padding"),
        short="Conv",
        has_weights=True,
    )
)

