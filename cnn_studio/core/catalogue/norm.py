"""Normalisation and regularisation layers."""
from __future__ import annotations

from ..errors import LayerError
from ..layers import fmt_shape, Inference, LayerSpec, Param, register, Shape, _identity_infer, _need_map, _one


def _bn_batch_stats_check(cfg: dict, values_per_channel: int) -> None:
    """torch normalises with the batch's own statistics in training, and always when
    track_running_stats is off; it then needs more than one value per channel in the batch
    ("Expected more than 1 value per channel when training"). With one value per channel per image
    (a 1x1 map, or any flat vector) and no running statistics, a single image can never be
    evaluated (predict, inspect): refuse that. With running statistics, evaluation uses them and
    works for any batch; training batches of one are the trainer's business (it never makes one)."""
    if values_per_channel == 1 and not cfg["track_running_stats"]:
        raise LayerError(
            "without running statistics it normalises over the batch, and it sees one value per channel "
            "per image here, so a single image cannot be evaluated (torch: 'Expected more than 1 value per channel')",
            "turn on track_running_stats, or place it where the feature map is larger than 1x1",
            "track_running_stats",
        )


def _bn2d_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "BatchNorm2d")
    _bn_batch_stats_check(cfg, h * w)
    return Inference((c, h, w), 2 * c if cfg["affine"] else 0, 2 * c if cfg["track_running_stats"] else 0)


def _bn1d_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    if len(shape) != 1:
        raise LayerError(
            f"expects a flat vector, got a feature map of {fmt_shape(shape)}",
            "use Batch norm 2D for feature maps, or add a Flatten before it",
            None,
        )
    f = shape[0]
    _bn_batch_stats_check(cfg, 1)
    return Inference(shape, 2 * f if cfg["affine"] else 0, 2 * f if cfg["track_running_stats"] else 0)


_BN_PARAMS = (
    Param("eps", "float", 1e-5, "Small constant added to the variance for numerical stability.", 1e-12, 1.0),
    Param("momentum", "float", 0.1, "How fast the running mean and variance follow each batch.", 0.0, 1.0),
    Param("affine", "bool", True, "Learn a scale and shift per channel after normalising."),
    Param("track_running_stats", "bool", True, "Keep running statistics for evaluation."),
)
register(
    LayerSpec(
        "batchnorm2d",
        "Batch norm 2D",
        "Normalization & regularization",
        "Normalises each channel over the batch to zero mean and unit variance, then rescales: steadier "
        "training, higher usable learning rates and a mild regularising effect.",
        _BN_PARAMS,
        _bn2d_infer,
        short="BN2d",
        has_weights=True,
    )
)
register(
    LayerSpec(
        "batchnorm1d",
        "Batch norm 1D",
        "Normalization & regularization",
        "Batch normalisation for flat feature vectors (after Flatten or Linear).",
        _BN_PARAMS,
        _bn1d_infer,
        short="BN1d",
        has_weights=True,
    )
)


def _dropout2d_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    return Inference(_need_map(_one(inputs), "Dropout2d"))


_P = (Param("p", "float", 0.5, "Probability of zeroing a unit during training.", 0.0, 1.0, label="Drop probability"),)
register(
    LayerSpec(
        "dropout",
        "Dropout",
        "Normalization & regularization",
        "During training, zeroes each unit with probability p so the network cannot rely on any single "
        "unit (less co-adaptation, less overfitting). Does nothing at evaluation time.",
        _P,
        _identity_infer,
        key_params=("p",),
        short="Dropout",
    )
)
register(
    LayerSpec(
        "dropout2d",
        "Spatial dropout",
        "Normalization & regularization",
        "Drops whole activation maps (channels) at once, the dropout that suits convolutional features.",
        _P,
        _dropout2d_infer,
        key_params=("p",),
        short="Dropout2d",
    )
)



# --------------------------------------------------------------------------------------------
# Normalisations that do not depend on the batch
# --------------------------------------------------------------------------------------------
def _groupnorm_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    c, groups = shape[0], cfg["num_groups"]
    if c % groups:
        raise LayerError(
            f"{c} channels cannot be split into {groups} groups",
            f"set groups to a divisor of {c} (for example {max(g for g in range(1, min(groups, c) + 1) if c % g == 0)})",
            "num_groups",
        )
    per_group = c // groups
    for s in shape[1:]:
        per_group *= s
    if per_group == 1:  # torch refuses it even for one image in eval mode
        raise LayerError(
            f"each group holds one value per image ({c} channels in {groups} groups{' of a 1x1 map' if len(shape) == 3 else ''}): "
            "normalising one value over itself gives 0 (torch: 'Expected more than 1 value per channel')",
            "use fewer groups, or place it where the feature map is larger",
            "num_groups",
        )
    return Inference(shape, 2 * c if cfg["affine"] else 0)


def _layernorm_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    shape = _one(inputs)
    n = 1
    for s in shape:
        n *= s
    return Inference(shape, 2 * n if cfg["affine"] else 0)  # a scale and a shift per normalised value


def _instancenorm_infer(cfg: dict, inputs: list[Shape]) -> Inference:
    c, h, w = _need_map(_one(inputs), "Instance norm")
    if h * w == 1:  # torch: "Expected more than 1 spatial element when training"; the result would be 0
        raise LayerError(
            "sees a 1x1 map: normalising one value per channel over itself gives 0 (and torch refuses it in training)",
            "place it where the feature map is larger than 1x1, or use Layer norm or Group norm",
            None,
        )
    return Inference((c, h, w), 2 * c if cfg["affine"] else 0, 2 * c if cfg["track_running_stats"] else 0)


_EPS = Param("eps", "float", 1e-5, "Small constant added to the variance for numerical stability.", 1e-12, 1.0)
register(
    LayerSpec(
        "groupnorm",
        "Group norm",
        "Normalization & regularization",
        "Splits the channels into groups and normalises each group of each image on its own, then "
        "rescales per channel. It does not look at the batch, so it behaves the same for a batch of 2 "
        "as for 256: the choice for detection and segmentation, where batches are small. One group is "
        "layer norm over the map; one group per channel is instance norm.",
        (
            Param("num_groups", "int", 2, "Number of channel groups; must divide the channel count (32 is common).", 1, 65536, label="Groups"),
            _EPS,
            Param("affine", "bool", True, "Learn a scale and shift per channel after normalising."),
        ),
        _groupnorm_infer,
        key_params=("num_groups",),
        short="GN",
        has_weights=True,
    )
)
register(
    LayerSpec(
        "layernorm",
        "Layer norm",
        "Normalization & regularization",
        "Normalises all values of one image together (over channels, height and width, or over the "
        "features of a flat vector), independent of the batch. Transformers use it everywhere; "
        "ConvNeXt brought it to CNNs. Its learnable scale and shift have one value per position, so "
        "they fix the input size.",
        (_EPS, Param("affine", "bool", True, "Learn a scale and shift for every normalised value.")),
        _layernorm_infer,
        short="LN",
        has_weights=True,
    )
)
register(
    LayerSpec(
        "instancenorm2d",
        "Instance norm 2D",
        "Normalization & regularization",
        "Normalises every channel of every image over its own height and width, which removes "
        "per-image contrast: the normalisation of style transfer and image generation. By default "
        "it learns nothing and keeps no running statistics.",
        (
            _EPS,
            Param("momentum", "float", 0.1, "How fast the running mean and variance follow each batch (only with running statistics).", 0.0, 1.0),
            Param("affine", "bool", False, "Learn a scale and shift per channel after normalising."),
            Param("track_running_stats", "bool", False, "Keep running statistics and use them at evaluation time."),
        ),
        _instancenorm_infer,
        short="IN2d",
        has_weights=True,
    )
)
