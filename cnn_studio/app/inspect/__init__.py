"""Inspect what a network learned: feature maps, filters, evaluation and inference views.

Each view is a standalone ``QWidget`` fed by one shared :class:`InspectModel` (Qt-free, in
``model``), so the main window can dock any of them:

- :class:`FeatureMapView` (``featuremaps``): every channel of a layer's output for one input,
  receptive fields, per-epoch snapshots during training.
- :class:`FiltersView` (``filters``): convolution kernels and weight/activation histograms.
- :class:`EvaluationView` (``evaluation``): confusion matrix, per-class table, mistakes gallery.
- :class:`InferenceView` (``inference``): your own images, top-5, Grad-CAM and saliency.

Importing this package imports neither Qt nor torch (the names below load on first use), so the
command line can use ``model`` and ``preprocess`` without a GUI stack.
"""
from __future__ import annotations

_LAZY = {
    "InspectModel": ("model", "InspectModel"),
    "EvalResult": ("model", "EvalResult"),
    "evaluate": ("model", "evaluate"),
    "FeatureMapView": ("featuremaps", "FeatureMapView"),
    "FiltersView": ("filters", "FiltersView"),
    "EvaluationView": ("evaluation", "EvaluationView"),
    "InferenceView": ("inference", "InferenceView"),
    "JobRunner": ("jobs", "JobRunner"),
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
