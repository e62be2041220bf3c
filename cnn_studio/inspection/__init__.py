"""Inspection engine (torch + numpy, no Qt): feature maps, Grad-CAM, saliency, evaluation, rendering,
and the model holder the app's views share (``inspection.model``).

Names resolve lazily, so importing ``cnn_studio.inspection.model`` (which the GUI does at start-up)
does not import torch; ``from cnn_studio.inspection import grad_cam`` does.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "confusion_matrix": "evaluation", "misclassified": "evaluation", "per_class": "evaluation",
    "predict_all": "evaluation", "summarize": "evaluation",
    "roc_curve": "evaluation", "pr_curve": "evaluation", "one_vs_rest": "evaluation",
    "conv_layers": "maps", "feature_maps": "maps", "grad_cam": "maps", "predict": "maps", "saliency": "maps",
    "explain": "attributions", "integrated_gradients": "attributions", "occlusion": "attributions",
    "channel_grid": "render", "colormap_lut": "render", "image_to_rgb": "render", "overlay": "render",
    "save_png": "render", "scale": "render",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'cnn_studio.inspection' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value
