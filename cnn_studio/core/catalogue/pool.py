"""Pooling layers."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import Inference, LayerSpec, pair, Param, register, Shape, Window, _need_map, _one, _window_output


def _pool_infer(cfg: dict, inputs: list[Shape], dilation: bool = False) -> Inference:
    c, h, w = _need_map(_one(inputs), "Pooling")
    k = pair(cfg["kernel_size"])
    s = pair(cfg["stride"]) if cfg["stride"] is not None else k
    p = pair(cfg["padding"])
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise LayerError(f"padding {p[0]}x{p[1]} is more than half the kernel {k[0]}x{k[1]}", "use padding of at most half the kernel size", "padding")
    ho, wo = _window_output((c, h, w), k, s, p, (2 * p[0], 2 * p[1]), "kernel_size", cfg["ceil_mode"])
    return Inference((c, ho, wo), 0, 0, 0, Window(k, s, p))


_POOL_PARAMS = (
    Param("kernel_size", "pair", 2, "Size of the region summarised into one value.", 1, 255, label="Kernel"),
    Param("stride", "pair", None, "Step between regions; empty means equal to the kernel (no overlap).", 1, 255, optional=True),
    Param("padding", "pair", 0, "Padding around the input, at most half the kernel.", 0, 127),
    Param("ceil_mode", "bool", False, "Round the output size up, so a partial region at the border still counts."),
)

register(
    LayerSpec(
        "maxpool2d",
        "Max pooling",
        "Pooling",
        "Keeps the strongest response in each region, shrinking the activation maps: fewer computations, "
        "some tolerance to small shifts, and no weights to learn.",
        _POOL_PARAMS,
        _pool_infer,
        key_params=("kernel_size", "stride"),
        short="MaxPool",
    )
)
register(
    LayerSpec(
        "avgpool2d",
        "Average pooling",
        "Pooling",
        "Replaces each region by its average: a smooth down-sampling of the activation maps with no weights to learn.",
        _POOL_PARAMS,
        _pool_infer,
        key_params=("kernel_size", "stride"),
        short="AvgPool",
    )
)


def _adaptive_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Adaptive pooling")
    oh, ow = pair(cfg["output_size"])
    kernel = []
    stride = []
    for size, out in ((h, oh), (w, ow)):
        # largest window PyTorch uses: start=floor(i*size/out), end=ceil((i+1)*size/out)
        kernel.append(max(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)))
        stride.append(max(1, size // out))
    return Inference((c, oh, ow), 0, 0, 0, Window((kernel[0], kernel[1]), (stride[0], stride[1]), (0, 0)))


_ADAPTIVE_PARAMS = (Param("output_size", "pair", 1, "Output map size; 1 gives one value per channel (global pooling).", 1, 1024),)
register(
    LayerSpec(
        "adaptive_avgpool2d",
        "Global / adaptive avg pool",
        "Pooling",
        "Averages each activation map down to a fixed size, whatever the input size; at 1x1 it is global "
        "average pooling, which replaces large fully-connected layers in modern CNNs.",
        _ADAPTIVE_PARAMS,
        _adaptive_infer,
        key_params=("output_size",),
        short="AdaptAvg",
    )
)
register(
    LayerSpec(
        "adaptive_maxpool2d",
        "Global / adaptive max pool",
        "Pooling",
        "Takes the maximum of each activation map down to a fixed size, whatever the input size.",
        _ADAPTIVE_PARAMS,
        _adaptive_infer,
        key_params=("output_size",),
        short="AdaptMax",
    )
)



def _mean_hw_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, _, _ = _need_map(_one(inputs), "Mean over height and width")
    # every output sees the whole map, as after Flatten (the analysis widens the receptive field)
    return Inference((c, 1, 1) if cfg["keepdim"] else (c,), flattens=True)


register(
    LayerSpec(
        "mean_hw",
        "Mean over H, W",
        "Pooling",
        "Averages each channel over its whole height and width: global average pooling written as a "
        "mean. With keep dims on the result stays a Cx1x1 map, which is what squeeze-and-excitation "
        "blocks multiply back onto the features; with it off it is a flat vector of C values ready for "
        "a Fully connected layer, with no Flatten needed.",
        (Param("keepdim", "bool", True, "Keep height and width as 1x1 (a map); off gives a flat vector.", label="Keep dims"),),
        _mean_hw_infer,
        key_params=("keepdim",),
        short="Mean",
    )
)
