"""Convolution layers."""
from __future__ import annotations

import math

from ..errors import LayerError
from ..layers import Inference, LayerSpec, pair, Param, Reads, register, Shape, Window, _need_map, _one, _padding_of, _window_output


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
    return Inference((out_c, ho, wo), params, 0, macs, Window(k_eff, s, before, d))


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



# --------------------------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------------------------
def _transposed_span(k: int, s: int, d: int) -> int:
    """How many input pixels (end to end, per axis) one output of a transposed convolution reads at
    most. Output o reads input i where o + p - i*s is a tap offset 0, d, ..., (k-1)*d. With
    g = gcd(s, d), the taps that land on input pixels are every (s/g)-th one, spaced d/g input
    pixels apart, so the widest output reads floor((k-1)*g/s) + 1 of them over
    floor((k-1)*g/s) * d/g + 1 pixels (k=3, s=2: 2 pixels; k=4, s=2: 2; k=2, s=2: 1)."""
    g = math.gcd(s, d)
    return ((k - 1) * g // s) * (d // g) + 1


def _infer_conv_transpose(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Transposed convolution")
    out_c, groups = cfg["out_channels"], cfg["groups"]
    k, s, d = pair(cfg["kernel_size"]), pair(cfg["stride"]), pair(cfg["dilation"])
    p, op = pair(cfg["padding"]), pair(cfg["output_padding"])
    if c % groups:
        raise LayerError(f"{c} input channels cannot be split into {groups} groups", "set groups to a divisor of the input channels", "groups")
    if out_c % groups:
        raise LayerError(f"{out_c} output channels cannot be split into {groups} groups", "set out channels to a multiple of groups", "out_channels")
    for axis in (0, 1):
        if op[axis] >= s[axis] and op[axis] >= d[axis]:  # torch: "output padding must be smaller than either stride or dilation"
            raise LayerError(
                f"output padding {op[axis]} must be smaller than the stride ({s[axis]}) or the dilation ({d[axis]})",
                f"set output padding to at most {max(s[axis], d[axis]) - 1}",
                "output_padding",
            )
    # torch: out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    ho, wo = ((size - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a, size in enumerate((h, w)))
    if ho < 1 or wo < 1:
        raise LayerError(f"output would be {ho}x{wo}: the padding crops more than the layer makes", "use less padding or a larger kernel or stride", "padding")
    per_in = (out_c // groups) * k[0] * k[1]
    params = c * per_in + (out_c if cfg["bias"] else 0)
    macs = c * h * w * per_in  # every input value is multiplied into (out/groups) x k x k outputs
    # Receptive field: the output grid is s times finer than the input (stride 1/s); output o reads
    # the inputs centred at (o + p - d(k-1)/2) / s. Window(kernel, stride, padding) gives the centre
    # as start + ((kernel-1)/2 - padding) * jump, so padding = (kernel-1)/2 - (p - d(k-1)/2) / s.
    kin = tuple(_transposed_span(k[a], s[a], d[a]) for a in (0, 1))
    pad = tuple((kin[a] - 1) / 2 - (p[a] - d[a] * (k[a] - 1) / 2) / s[a] for a in (0, 1))
    # Exact reads: output o reads input (o + p - m*d) / s for the taps m where that is whole.
    reads = tuple(
        Reads(s[a], 1, lambda o, s=s[a], p=p[a], d=d[a], k=k[a]: tuple((o + p - m * d) // s for m in range(k) if (o + p - m * d) % s == 0))
        for a in (0, 1)
    )
    return Inference((out_c, ho, wo), params, 0, macs, Window(kin, (1 / s[0], 1 / s[1]), pad), reads=reads)  # type: ignore[arg-type]


register(
    LayerSpec(
        "conv_transpose2d",
        "Transposed convolution",
        "Convolution",
        "Runs a convolution backwards: each input value stamps a learnable filter onto a larger output, so "
        "with stride 2 the map doubles in size. Decoders, U-Nets and generators use it to learn how to "
        "upsample. A kernel that the stride does not divide (3 with stride 2) overlaps unevenly and can "
        "leave checkerboard patterns; kernel 2 or 4 with stride 2 avoids them.",
        (
            Param("out_channels", "int", 16, "Number of filters, i.e. activation maps this layer produces.", 1, 65536, label="Filters"),
            Param("kernel_size", "pair", 2, "Filter size in pixels: n for n x n, or [h, w].", 1, 255, label="Kernel"),
            Param("stride", "pair", 2, "How much larger the output grid is: 2 doubles the map size.", 1, 255),
            Param("padding", "pair", 0, "Rows and columns cropped from each border of the output (dilation x (kernel - 1) - padding is padded in).", 0, 255),
            Param("output_padding", "pair", 0, "Extra rows/columns added on one side to reach an exact size (smaller than the stride or the dilation).", 0, 255),
            Param("dilation", "pair", 1, "Spacing between filter taps.", 1, 64),
            Param("groups", "int", 1, "Split channels into independent groups.", 1, 65536),
            Param("bias", "bool", True, "Add a learnable offset per filter (usually off when a norm layer follows)."),
        ),
        _infer_conv_transpose,
        key_params=("out_channels", "kernel_size", "stride"),
        short="ConvT",
        has_weights=True,
    )
)


# --------------------------------------------------------------------------------------------
# Depthwise-separable convolution: one layer, two convolutions
# --------------------------------------------------------------------------------------------
def _infer_separable(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Depthwise-separable convolution")
    out_c = cfg["out_channels"]
    k, s, d = pair(cfg["kernel_size"]), pair(cfg["stride"]), pair(cfg["dilation"])
    k_eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    before, total = _padding_of(cfg["padding"], k_eff, s, "padding")
    ho, wo = _window_output((c, h, w), k_eff, s, before, total, "kernel_size")
    bias = cfg["bias"]
    depthwise = c * k[0] * k[1] + (c if bias else 0)  # one k x k filter per input channel
    pointwise = c * out_c + (out_c if bias else 0)  # a 1x1 convolution mixing the channels
    macs = ho * wo * (c * k[0] * k[1] + c * out_c)
    return Inference((out_c, ho, wo), depthwise + pointwise, 0, macs, Window(k_eff, s, before, d))


register(
    LayerSpec(
        "separable_conv2d",
        "Depthwise-separable conv",
        "Convolution",
        "A convolution split in two: a depthwise step filters each channel on its own with a k x k "
        "filter, then a pointwise 1x1 convolution mixes the channels. It sees the same window as a full "
        "convolution for roughly 1/k^2 of the weights and multiplications, which is why MobileNet and "
        "Xception are built from it. Its weights are depthwise.weight and pointwise.weight.",
        (
            Param("out_channels", "int", 16, "Channels the pointwise (1x1) step produces.", 1, 65536, label="Filters"),
            Param("kernel_size", "pair", 3, "Depthwise filter size in pixels: n for n x n, or [h, w].", 1, 255, label="Kernel"),
            Param("stride", "pair", 1, "Step of the depthwise filter; 2 halves the map size.", 1, 255),
            Param("padding", "padding", 1, "Zeros added around the input: a number, [h, w], 'same' (keep size) or 'valid' (none).", 0, 255, choices=("same", "valid")),
            Param("dilation", "pair", 1, "Spacing between depthwise filter taps.", 1, 64),
            Param("bias", "bool", False, "Add a learnable offset in both steps (usually off when a norm layer follows)."),
        ),
        _infer_separable,
        key_params=("out_channels", "kernel_size", "stride"),
        short="SepConv",
        has_weights=True,
    )
)
