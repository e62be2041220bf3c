"""What the network computes: feature maps, Grad-CAM, gradient saliency, top-k predictions.

torch + numpy, no Qt. Every function takes the compiled GraphModule and an already-normalised input
batch of one image (1, C, H, W); results are plain numpy copies, safe to hand to another thread.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import StudioError


def _single(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise StudioError(f"expected one image shaped (1, C, H, W), got {tuple(x.shape)}")
    return x


def feature_maps(model, x: torch.Tensor, node_id: str) -> np.ndarray:
    """The output of node ``node_id`` for one image: (C, h, w) for maps, (F,) for flat layers."""
    x = _single(x)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            _, cap = model.forward_capture(x, [node_id])
    except KeyError:
        raise StudioError(f"the model has no node '{node_id}'; pick a node id as `cnn-studio summary` lists them") from None
    finally:
        model.train(was_training)
    return cap[node_id][0].detach().float().cpu().numpy().copy()


def predict(model, x: torch.Tensor, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (class indices, probabilities) for a batch; softmax over the model's scores."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            probs = F.softmax(model(x).float(), dim=1)
    finally:
        model.train(was_training)
    k = min(k, probs.shape[1])
    p, i = probs.topk(k, dim=1)
    return i.cpu().numpy().copy(), p.cpu().numpy().copy()


def conv_layers(model) -> list[str]:
    """Node ids whose output is a feature map (candidates for Grad-CAM), in forward order."""
    return [nid for nid, _, _ in model._plan if len(model.node_shapes.get(nid, ())) == 3 and nid != model.input_node_id]


def grad_cam(model, x: torch.Tensor, target: int, node_id: str) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) for class ``target`` at node ``node_id``.

    Channel weights are the spatially averaged gradients of the class score with respect to that
    node's output; the map is ReLU(sum_k w_k A_k), upsampled bilinearly to the input size and scaled
    to [0, 1] (all zeros when nothing speaks for the class).
    """
    x = _single(x)
    shape = model.node_shapes.get(node_id)
    if shape is None:
        raise StudioError(f"the model has no node '{node_id}'")
    if len(shape) != 3:
        raise StudioError(f"Grad-CAM needs a layer with feature maps; '{node_id}' outputs a flat vector of {shape[0]}. Pick a convolution or pooling layer")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            xin = x.detach().clone().requires_grad_(False)
            out, cap = model.forward_capture(xin, [node_id])
            act = cap[node_id]
            if not act.requires_grad:
                raise StudioError(f"no gradient flows through '{node_id}'")
            n_classes = out.shape[1]
            if not 0 <= target < n_classes:
                raise StudioError(f"class {target} is out of range; the model has {n_classes} classes")
            grads = torch.autograd.grad(out[0, target], act, retain_graph=False)[0]
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
        cam = cam.detach()
        top = cam.max()
        if top > 0:
            cam = cam / top
        return cam.float().cpu().numpy().copy()
    finally:
        model.train(was_training)


def saliency(model, x: torch.Tensor, target: int) -> np.ndarray:
    """Plain gradient saliency: |d score / d input|, max over channels, scaled to [0, 1]."""
    x = _single(x)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            xin = x.detach().clone().requires_grad_(True)
            out = model(xin)
            if not 0 <= target < out.shape[1]:
                raise StudioError(f"class {target} is out of range; the model has {out.shape[1]} classes")
            (g,) = torch.autograd.grad(out[0, target], xin)
        s = g[0].abs().amax(dim=0)
        top = s.max()
        if top > 0:
            s = s / top
        return s.float().cpu().numpy().copy()
    finally:
        model.train(was_training)
