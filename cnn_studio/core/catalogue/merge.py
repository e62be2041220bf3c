"""Layers that merge branches."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import fmt_shape, Inference, LayerSpec, Param, register, Shape


def _merge_inputs_param() -> Param:
    return Param("inputs", "int", 2, "Number of incoming branches.", 2, 16)


def _add_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    first = inputs[0]
    for i, s in enumerate(inputs[1:], start=1):
        if s != first:
            raise LayerError(
                f"inputs must have the same shape, got {fmt_shape(first)} on input 1 and {fmt_shape(s)} on input {i + 1}",
                "make the branches match (e.g. a 1x1 convolution with stride on the shortcut)",
                None,
            )
    return Inference(first)


def _concat_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    first = inputs[0]
    for i, s in enumerate(inputs[1:], start=1):
        if len(s) != len(first) or s[1:] != first[1:]:
            raise LayerError(
                f"inputs must agree on all but the channel axis, got {fmt_shape(first)} on input 1 and {fmt_shape(s)} on input {i + 1}",
                "make the branches the same height and width (or both flat)",
                None,
            )
    return Inference((sum(s[0] for s in inputs),) + tuple(first[1:]))


register(
    LayerSpec(
        "add",
        "Add (residual)",
        "Merge",
        "Adds its inputs element-wise: the skip connection of residual networks, which lets gradients flow "
        "through very deep stacks.",
        (_merge_inputs_param(),),
        _add_infer,
        inputs="inputs",
        short="Add",
    )
)
register(
    LayerSpec(
        "concat",
        "Concatenate",
        "Merge",
        "Stacks its inputs along the channel axis, as in Inception and DenseNet blocks.",
        (_merge_inputs_param(),),
        _concat_infer,
        inputs="inputs",
        short="Concat",
    )
)



def _multiply_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    """Element-wise product with broadcasting: per axis the sizes are equal or one of them is 1
    (a Cx1x1 gate scales every position of a CxHxW map, as in squeeze-and-excitation)."""
    out = list(inputs[0])
    for i, s in enumerate(inputs[1:], start=1):
        if len(s) != len(out):
            raise LayerError(
                f"cannot multiply a {'map' if len(out) == 3 else 'flat vector'} of {fmt_shape(tuple(out))} by a "
                f"{'map' if len(s) == 3 else 'flat vector'} of {fmt_shape(s)} on input {i + 1}",
                "give both inputs the same kind of shape (a gate for a map is Cx1x1: Mean over H, W with keep dims)",
                None,
            )
        for axis, (a, b) in enumerate(zip(out, s)):
            if a != b and 1 not in (a, b):
                raise LayerError(
                    f"shapes {fmt_shape(tuple(out))} and {fmt_shape(s)} (input {i + 1}) do not broadcast: axis {axis + 1} has {a} and {b}",
                    "make each axis equal or 1 (a squeeze-and-excitation gate is Cx1x1 with the map's C)",
                    None,
                )
            out[axis] = max(a, b)
    return Inference(tuple(out))


register(
    LayerSpec(
        "multiply",
        "Multiply",
        "Merge",
        "Multiplies its inputs element-wise. A Cx1x1 input is stretched over the whole map, so a small "
        "branch can compute one weight per channel and scale the features with it: the "
        "squeeze-and-excitation block (Mean over H, W -> 1x1 conv -> ReLU -> 1x1 conv -> Sigmoid -> "
        "Multiply with the trunk) that lets a network decide which channels matter for this image.",
        (_merge_inputs_param(),),
        _multiply_infer,
        inputs="inputs",
        short="Mul",
    )
)
