"""Attributions from Captum (the PyTorch ecosystem's attribution library): Integrated Gradients and
occlusion sensitivity, beside the hand-written Grad-CAM and saliency of ``maps.py``.

Every function takes the compiled GraphModule and an already-normalised batch of one image
(1, C, H, W) and explains the class *score* (the logit, as Grad-CAM and saliency do). The map a view
shows is H x W over the input, scaled to [0, 1] like the present maps: the evidence *for* the class
(the positive part of the channel sum), divided by its maximum, all zeros when nothing speaks for it.

Baselines are zero in the normalised space the network is fed, i.e. the data set's mean colour: the
"absence of signal" the network saw most (for IG the start of the path, for occlusion the patch).

Captum is an optional package (``pip install 'cnn-studio[explain]'`` or ``pip install captum``);
without it these two methods raise :class:`AttributionError` with that instruction and everything
else keeps working. Grad-CAM and saliency stay hand-written in ``maps.py`` so they need no extra
package; tests check they equal Captum's LayerGradCam and Saliency.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import torch

from ..core.errors import StudioError
from .maps import _single

METHODS = ("gradcam", "saliency", "ig", "occlusion")
METHOD_TITLES = {"gradcam": "Grad-CAM", "saliency": "Saliency", "ig": "Integrated Gradients", "occlusion": "Occlusion"}
NEEDS_CAPTUM = ("ig", "occlusion")
CAPTUM_HINT = "install Captum: pip install 'cnn-studio[explain]' (or pip install captum)"


class AttributionError(StudioError):
    """An attribution cannot be computed; str() says why and what to do."""


def captum_available() -> bool:
    """Whether Captum can be imported, without importing it (cheap: the GUI thread asks)."""
    try:
        return importlib.util.find_spec("captum") is not None
    except (ImportError, ValueError):  # a broken or blocked entry in sys.modules
        return False


def _captum_attr():
    try:
        import captum.attr as ca
    except ImportError:
        raise AttributionError(f"Integrated Gradients and occlusion need the Captum package; {CAPTUM_HINT}") from None
    return ca


def _check_target(model, x: torch.Tensor, target: int) -> None:
    shapes, out = getattr(model, "node_shapes", None), getattr(model, "output_source_id", None)
    if shapes is None or out not in shapes:  # not a compiled network: torch says it when it runs
        return
    n = int(shapes[out][0])
    if not 0 <= int(target) < n:
        raise AttributionError(f"class {target} is out of range; the model has {n} classes")


def evidence_map(attr: np.ndarray) -> np.ndarray:
    """(C, H, W) signed attributions -> H x W map in [0, 1]: ReLU of the channel sum over its max."""
    m = np.maximum(np.asarray(attr, dtype=np.float64).sum(axis=0), 0.0)
    top = m.max() if m.size else 0.0
    return (m / top if top > 0 else m).astype(np.float32)


class _Eval:
    """Eval mode while attributing (dropout off, batch norm frozen), the previous mode restored."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was)


def ig_attributions(model, x: torch.Tensor, target: int, steps: int = 64, baseline: torch.Tensor | None = None) -> tuple[np.ndarray, float]:
    """Integrated Gradients (Sundararajan et al. 2017) of class ``target``'s score, Gauss-Legendre
    path integral from ``baseline`` (default zeros) to ``x`` in ``steps`` points.

    Returns the signed (C, H, W) attributions and Captum's convergence delta: by the completeness
    axiom ``attr.sum() == f(x) - f(baseline)``; delta is how far the integral is from it."""
    ca = _captum_attr()
    x = _single(x).detach().float()
    _check_target(model, x, target)
    if steps < 2:
        raise AttributionError(f"Integrated Gradients needs at least 2 steps, got {steps}")
    base = torch.zeros_like(x) if baseline is None else _single(baseline).detach().float()
    with _Eval(model), torch.enable_grad():
        ig = ca.IntegratedGradients(model)
        attr, delta = ig.attribute(x, baselines=base, target=int(target), n_steps=int(steps),
                                   internal_batch_size=min(int(steps), 32), return_convergence_delta=True)
    return attr[0].detach().float().cpu().numpy().copy(), float(delta.abs().max())


def integrated_gradients(model, x: torch.Tensor, target: int, steps: int = 64) -> np.ndarray:
    """H x W map of Integrated Gradients from the mean-colour baseline, scaled to [0, 1]."""
    attr, _ = ig_attributions(model, x, target, steps)
    return evidence_map(attr)


def default_window(height: int, width: int) -> int:
    """Occlusion patch side: an eighth of the shorter side (at least 1 pixel; 4 at 32x32)."""
    return max(1, min(height, width) // 8)


def occlusion_attributions(model, x: torch.Tensor, target: int, window: int | None = None, stride: int | None = None) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus 2014): a ``window`` x ``window`` patch of the
    baseline (zeros: the mean colour) slides over the image with ``stride`` (default half the
    window); each pixel gets the mean drop of the class score over the patches that covered it.
    Returns (C, H, W) (the same value in every channel: a patch covers all of them)."""
    ca = _captum_attr()
    x = _single(x).detach().float()
    _check_target(model, x, target)
    c, h, w = (int(v) for v in x.shape[1:])
    win = default_window(h, w) if window is None else int(window)
    if not 1 <= win <= min(h, w):
        raise AttributionError(f"the occlusion window must be between 1 and {min(h, w)} pixels for a {h}x{w} input, got {win}")
    st = max(1, win // 2) if stride is None else int(stride)
    if st < 1:
        raise AttributionError(f"the occlusion stride must be at least 1 pixel, got {st}")
    with _Eval(model), torch.no_grad():
        occ = ca.Occlusion(model)
        attr = occ.attribute(x, sliding_window_shapes=(c, win, win), strides=(c, st, st), baselines=0.0,
                             target=int(target), perturbations_per_eval=32)
    return attr[0].detach().float().cpu().numpy().copy()


def occlusion(model, x: torch.Tensor, target: int, window: int | None = None, stride: int | None = None) -> np.ndarray:
    """H x W occlusion-sensitivity map (the drop in the class score), scaled to [0, 1]."""
    attr = occlusion_attributions(model, x, target, window, stride)
    return evidence_map(attr[:1])  # every channel holds the same drop: one is the map


def explain(model, x: torch.Tensor, method: str, target: int, layer: str | None = None) -> np.ndarray:
    """The H x W map of ``method`` (gradcam, saliency, ig, occlusion) for class ``target``;
    Grad-CAM at node ``layer``."""
    from .maps import grad_cam, saliency

    method = (method or "").lower()
    if method == "gradcam":
        if layer is None:
            raise AttributionError("Grad-CAM needs a layer with feature maps; this network has none (use saliency, ig or occlusion)")
        return grad_cam(model, x, target, layer)
    if method == "saliency":
        return saliency(model, x, target)
    if method == "ig":
        return integrated_gradients(model, x, target)
    if method == "occlusion":
        return occlusion(model, x, target)
    raise AttributionError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
