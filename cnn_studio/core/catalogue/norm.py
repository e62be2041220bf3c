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

