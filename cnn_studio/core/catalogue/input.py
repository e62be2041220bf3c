"""The Input layer: where the image enters the network."""
from __future__ import annotations

from ..layers import Inference, LayerSpec, Param, register, Shape


def _infer_input(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference((cfg["channels"], cfg["height"], cfg["width"]))


register(
    LayerSpec(
        "input",
        "Input",
        "Input",
        "Holds the image that enters the network: channels (1 for gray, 3 for colour) x height x width. "
        "Every other shape in the network follows from this one.",
        (
            Param("channels", "int", 3, "Colour channels of the image: 1 for grayscale, 3 for RGB.", 1, 4096),
            Param("height", "int", 32, "Image height in pixels.", 1, 8192),
            Param("width", "int", 32, "Image width in pixels.", 1, 8192),
        ),
        _infer_input,
        inputs=0,
        role="input",
        key_params=(),
        short="Input",
    )
)

