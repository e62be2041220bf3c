"""Layers that change a map's size or layout without learning anything: upsampling, zero padding,
reshape, and identity."""
from __future__ import annotations

import math

from ..errors import LayerError
from ..layers import Inference, LayerSpec, Param, Reads, Shape, Window, fmt_shape, pair, register, _identity_infer, _need_map, _one

CATEGORY = "Resampling & reshape"


def _upsample_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Upsample")
    scale, size, mode = cfg["scale_factor"], cfg["size"], cfg["mode"]
    if (scale is None) == (size is None):
        raise LayerError(
            "needs exactly one of scale factor and size" + (", got both" if scale is not None else ", got neither"),
            "set scale factor (e.g. 2) and leave size on auto, or the other way round",
            "size" if scale is not None else "scale_factor",
        )
    if cfg["align_corners"] and mode != "bilinear":
        raise LayerError("align corners only applies to bilinear upsampling", "turn align corners off, or use mode bilinear", "align_corners")
    if scale is not None:
        sh, sw = pair(scale)
        ho, wo = h * sh, w * sw
    else:
        ho, wo = pair(size)
    # Receptive field (per axis, in input pixels; the output grid is out/in times finer):
    # nearest reads one input pixel per output, bilinear two neighbours (one when in == out or the
    # map is 1 pixel). Output o is centred at (o + 0.5) * in/out - 0.5 (align_corners=False) or at
    # o * (in-1)/(out-1) (align_corners=True, which also has no half-pixel offset).
    kernel, stride, pad, reads = [], [], [], []
    for n_in, n_out in ((h, ho), (w, wo)):
        reads.append(_upsample_reads(mode, cfg["align_corners"], n_in, n_out))
        k = 2 if mode == "bilinear" and n_in > 1 and n_in != n_out else 1
        if cfg["align_corners"]:
            step = (n_in - 1) / (n_out - 1) if n_out > 1 else 1.0
            offset = 0.0
        else:
            step = n_in / n_out
            offset = 0.5 * step - 0.5
        kernel.append(k)
        stride.append(step)
        pad.append((k - 1) / 2 - offset)  # Window centre: start + ((k-1)/2 - pad) * jump
    return Inference((c, ho, wo), window=Window(tuple(kernel), tuple(stride), tuple(pad)), reads=tuple(reads))  # type: ignore[arg-type]


def _upsample_reads(mode: str, align: bool, n_in: int, n_out: int) -> Reads:
    """torch's source positions, in exact integer arithmetic. Nearest: floor(o * in / out).
    Bilinear: src = (o + 0.5) * in / out - 0.5 (clamped at 0), or o * (in-1) / (out-1) with
    align_corners, reading floor(src) and the next pixel unless src is whole (its weight is 0).
    (A scale factor s gives in/out = 1/s exactly, as torch uses 1/s then.)"""
    if mode == "nearest":
        g = math.gcd(n_in, n_out)
        return Reads(n_out // g, n_in // g, lambda o: ((o * n_in) // n_out,))
    if align:
        if n_out == 1 or n_in == 1:
            return Reads(1, 0, lambda o: (0,))
        num, den = n_in - 1, n_out - 1
        g = math.gcd(num, den)

        def at(o: int) -> tuple[int, ...]:
            i0, rem = divmod(o * num, den)
            return (i0,) if rem == 0 else (i0, i0 + 1)

        return Reads(den // g, num // g, at)
    g = math.gcd(n_in, n_out)

    def at_half(o: int) -> tuple[int, ...]:
        # src = ((2o + 1) * in - out) / (2 * out); torch clamps a negative src to 0 (the first
        # output rows read pixel 0 only), which the periodic pattern ignores: it is the interior rule
        i0, rem = divmod((2 * o + 1) * n_in - n_out, 2 * n_out)
        return (i0,) if rem == 0 else (i0, i0 + 1)

    return Reads(n_out // g, n_in // g, at_half)


register(
    LayerSpec(
        "upsample",
        "Upsample",
        CATEGORY,
        "Enlarges each activation map by a fixed factor (or to a fixed size) with nothing to learn: "
        "nearest copies each value into a block, bilinear blends the neighbours smoothly. Decoders "
        "and U-Nets use it (often followed by a 3x3 convolution) as a checkerboard-free alternative to "
        "a transposed convolution.",
        (
            Param("mode", "choice", "nearest", "nearest copies values; bilinear interpolates between neighbours.", choices=("nearest", "bilinear")),
            Param("scale_factor", "pair", 2, "How many times larger: n, or [h, w]; auto when size is given.", 1, 64, optional=True, label="Scale"),
            Param("size", "pair", None, "Exact output size n or [h, w] instead of a scale; auto when scale is given.", 1, 8192, optional=True),
            Param("align_corners", "bool", False, "Bilinear only: map the corner pixels exactly onto each other (older models use it)."),
        ),
        _upsample_infer,
        key_params=("mode", "scale_factor", "size"),
        short="Upsample",
    )
)


def _zeropad_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Zero padding")
    left, right, top, bottom = cfg["left"], cfg["right"], cfg["top"], cfg["bottom"]
    # a 1x1 window that moves the grid: output (y, x) is input (y - top, x - left)
    return Inference((c, h + top + bottom, w + left + right), window=Window((1, 1), (1, 1), (top, left)))


register(
    LayerSpec(
        "zeropad2d",
        "Zero padding",
        CATEGORY,
        "Adds rows and columns of zeros around each map, and can pad each side differently (a "
        "convolution's own padding is the same on both sides). Used to reach an exact size before a "
        "strided layer, or to pad asymmetrically as TensorFlow's 'same' does for even kernels.",
        (
            Param("left", "int", 1, "Zero columns added on the left.", 0, 1024),
            Param("right", "int", 1, "Zero columns added on the right.", 0, 1024),
            Param("top", "int", 1, "Zero rows added at the top.", 0, 1024),
            Param("bottom", "int", 1, "Zero rows added at the bottom.", 0, 1024),
        ),
        _zeropad_infer,
        key_params=("left", "right", "top", "bottom"),
        short="ZeroPad",
    )
)


def reshape_target(cfg: dict) -> tuple[int, ...]:
    """The configured target (with -1 still in it): (channels,) or (channels, height, width)."""
    dims = (cfg["channels"], cfg["height"], cfg["width"])
    return dims[:1] if dims[1] is None and dims[2] is None else dims  # type: ignore[return-value]


def _reshape_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    total = 1
    for s in shape:
        total *= s
    names = ("channels", "height", "width")
    if (cfg["height"] is None) != (cfg["width"] is None):
        missing = "height" if cfg["height"] is None else "width"
        raise LayerError(
            "a map needs channels, height and width; a flat vector only channels",
            f"set {missing} too, or leave both height and width on none",
            missing,
        )
    target = reshape_target(cfg)
    for name, v in zip(names, target):
        if v == 0:
            raise LayerError("0 is not a size", "use a size of 1 or more, or -1 to infer this axis", name)
    inferred = [name for name, v in zip(names, target) if v == -1]
    if len(inferred) > 1:
        raise LayerError(
            f"only one axis can be inferred (-1), but {' and '.join(inferred)} are",
            f"give {inferred[1]} a size",
            inferred[1],
        )
    known = 1
    for v in target:
        if v != -1:
            known *= v
    field = inferred[0] if inferred else "channels"
    if inferred:
        if total % known:
            raise LayerError(
                f"{total} values ({fmt_shape(shape)}) cannot be split into axes of {known} values ({fmt_shape(tuple(v for v in target if v != -1))})",
                "choose sizes whose product divides the input's element count",
                field,
            )
        out = tuple(total // known if v == -1 else v for v in target)
    else:
        if known != total:
            raise LayerError(
                f"{fmt_shape(target)} holds {known} values but the input {fmt_shape(shape)} has {total}",
                f"choose sizes whose product is {total}, or set one of them to -1 to infer it",
                field,
            )
        out = target
    # a reshape that changes the layout mixes positions: treat it like Flatten for the receptive
    # field (every unit may hold a value from anywhere in the map)
    return Inference(out, flattens=out != shape)


_DIM_HELP = " (-1: inferred from the others; none: absent)"
register(
    LayerSpec(
        "reshape",
        "Reshape",
        CATEGORY,
        "Rearranges the same values into a new shape without changing them: a flat vector back into a "
        "CxHxW map (as a decoder does after its Fully connected layer), or a map into a vector. One "
        "axis may be -1, inferred so the element count matches.",
        (
            Param("channels", "int", -1, "Channels of the new map, or the length of a flat vector; -1 infers it.", -1, 1 << 24),
            Param("height", "int", None, "Height of the new map" + _DIM_HELP + ".", -1, 8192, optional=True),
            Param("width", "int", None, "Width of the new map" + _DIM_HELP + ".", -1, 8192, optional=True),
        ),
        _reshape_infer,
        key_params=("channels", "height", "width"),
        short="Reshape",
    )
)

register(
    LayerSpec(
        "identity",
        "Identity",
        CATEGORY,
        "Passes its input through unchanged. It marks a place in the network: a shortcut with "
        "nothing on it, a layer switched off without rewiring, or a named point whose activations "
        "you want to look at.",
        (),
        _identity_infer,
        short="Identity",
    )
)
