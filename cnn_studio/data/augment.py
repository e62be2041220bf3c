"""``Augmenter``: random training-time augmentation of whole batches with torch ops.

Per batch: one ``torch.rand(N, 8)`` draw from the given generator; flips, shift, zoom and rotation
folded into a single affine sampling grid + ``grid_sample`` (bilinear, zero padding: black for raw pixels,
the mean colour for normalized ones); flips alone overwrite the chosen samples of a copy with their
mirror images (``index_copy_`` on CPU, ``torch.where`` on a random mask on CUDA); brightness and
contrast become one per-sample, per-channel ``x * a + b``. Everything runs on the batch's device and
is reproducible from the generator state.

Brightness scales pixel values around black. When the batch is normalized, pass the bundle's ``mean``
and ``std`` so that black is known (and results are clamped to the valid pixel range); without them,
black is taken to be 0. Contrast scales each image around its own per-channel mean, which does not
depend on normalization.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AugmentConfig


class Augmenter:
    def __init__(self, config: AugmentConfig | None = None, mean=None, std=None):
        self.config = config or AugmentConfig()
        self.config.validate()
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.mean = None if mean is None else [float(m) for m in mean]
        self.std = None if std is None else [float(s) for s in std]
        self._consts: dict = {}

    def enabled(self) -> bool:
        return self.config.enabled()

    def _bounds(self, x: torch.Tensor):
        """(zero point tensor (1,C,1,1) or None, per-channel (lo, hi) floats or None) in x's units."""
        key = (x.device, x.dtype, x.shape[1])
        if key not in self._consts:
            c = x.shape[1]
            if self.mean is not None:
                if len(self.mean) != c:
                    raise ValueError(f"mean/std have {len(self.mean)} channels but the batch has {c}")
                lo = [-m / s for m, s in zip(self.mean, self.std)]
                hi = [(1 - m) / s for m, s in zip(self.mean, self.std)]
                zero = torch.tensor(lo, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
                self._consts[key] = (zero, list(zip(lo, hi)))
            else:
                self._consts[key] = (None, None)
        return self._consts[key]

    def _base_grid(self, h: int, w: int, x: torch.Tensor) -> torch.Tensor:
        """(1, H*W, 3) homogeneous pixel-centre coordinates in -1..1 (align_corners=False), cached."""
        key = ("grid", h, w, x.device, x.dtype)
        if key not in self._consts:
            ys = (torch.arange(h, dtype=torch.float64) * 2 + 1) / h - 1
            xs = (torch.arange(w, dtype=torch.float64) * 2 + 1) / w - 1
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            base = torch.stack([gx, gy, torch.ones_like(gx)], -1).view(1, h * w, 3)
            self._consts[key] = base.to(x.device, x.dtype)
        return self._consts[key]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a float NCHW batch; returns a new tensor (the input is not modified)."""
        cfg = self.config
        if not cfg.enabled() or x.shape[0] == 0:
            return x
        if not x.is_floating_point():
            raise TypeError("Augmenter expects a float batch; convert with bundle.normalize(x) or x.float() first")
        n, c, h, w = x.shape
        gdev = generator.device if generator is not None else torch.device("cpu")
        r = torch.rand((n, 8), generator=generator, device=gdev, dtype=torch.float32).to(x.device)
        u = r * 2 - 1  # uniform in -1..1
        one = torch.ones(n, device=x.device)
        fx = torch.where(r[:, 0] < 0.5, -one, one) if cfg.hflip else one
        fy = torch.where(r[:, 1] < 0.5, -one, one) if cfg.vflip else one

        if cfg.shift > 0 or cfg.zoom > 0 or cfg.rotate > 0:
            ang = u[:, 2] * (cfg.rotate * math.pi / 180.0)
            inv_zoom = 1.0 / (1.0 + u[:, 3] * cfg.zoom)
            cos, sin = torch.cos(ang) * inv_zoom, torch.sin(ang) * inv_zoom
            a = h / w  # rotation in pixel space, expressed in normalized coordinates
            theta = torch.stack([
                torch.stack([cos * fx, -sin * fy * a, u[:, 4] * (2 * cfg.shift)], 1),
                torch.stack([sin * fx / a, cos * fy, u[:, 5] * (2 * cfg.shift)], 1),
            ], 1).to(x.dtype)
            # the same grid as F.affine_grid(theta, ...), from a cached base grid (about twice as fast)
            grid = torch.matmul(self._base_grid(h, w, x), theta.transpose(1, 2)).view(n, h, w, 2)
            out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        elif cfg.hflip or cfg.vflip:
            out = x if x.is_cuda else x.clone()
            for on, f, dim in ((cfg.hflip, fx, 3), (cfg.vflip, fy, 2)):
                if not on:
                    continue
                if x.is_cuda:  # no host sync
                    out = torch.where((f < 0).view(n, 1, 1, 1), out.flip(dim), out)
                else:  # overwrite only the chosen samples: about half the cost of torch.where on CPU
                    idx = torch.nonzero(f < 0).squeeze(1)
                    out.index_copy_(0, idx, out.index_select(0, idx).flip(dim))
        else:
            out = x

        if cfg.brightness > 0 or cfg.contrast > 0:
            zero, bounds = self._bounds(x)
            f = (1.0 + u[:, 6] * cfg.brightness).to(x.dtype).view(n, 1, 1, 1)
            k = (1.0 + u[:, 7] * cfg.contrast).to(x.dtype).view(n, 1, 1, 1)
            z = zero if zero is not None else torch.zeros((), dtype=x.dtype, device=x.device)
            # brightness: x' = (x - z) f + z; contrast around the (brightened) mean mu': x'' = (x' - mu') k + mu'
            if cfg.contrast > 0:
                mu = out.mean(dim=(2, 3), keepdim=True)
                mu2 = (mu - z) * f + z
            else:
                mu2 = torch.zeros((), dtype=x.dtype, device=x.device)
            scale = f * k
            offset = (z - z * f - mu2) * k + mu2
            out = out.mul_(scale) if out is not x else out * scale  # never write into the caller's batch
            out.add_(offset)
            if bounds is not None:  # keep pixels in the valid range (scalar clamps are the fast path)
                for ch, (lo, hi) in enumerate(bounds):
                    out[:, ch].clamp_(lo, hi)
        return out
