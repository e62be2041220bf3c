"""Inspection engine (torch + numpy, no Qt): feature maps, Grad-CAM, saliency, evaluation, rendering."""
from .evaluation import confusion_matrix, misclassified, per_class, predict_all, summarize
from .maps import conv_layers, feature_maps, grad_cam, predict, saliency
from .render import channel_grid, colormap_lut, image_to_rgb, overlay, save_png, scale

__all__ = [
    "confusion_matrix", "misclassified", "per_class", "predict_all", "summarize", "conv_layers",
    "feature_maps", "grad_cam", "predict", "saliency", "channel_grid", "colormap_lut", "image_to_rgb",
    "overlay", "save_png", "scale",
]
