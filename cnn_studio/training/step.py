"""The training step the hot loop calls, and the input preparation before it.

``TrainStep`` is one optimizer step: zero the gradients, forward and loss (under the mode's autocast),
backward (scaled under fp16 AMP), optimizer step. The speed modes wrap it rather than the loop:
channels_last and bf16/fp16 are arguments (``autocast``, ``scaler``), torch.compile replaces the
module it calls (with a fall-back to eager when compilation fails on the first call). The speed
probe (speed.py) times this same class, so what it measures is what the run does.

``prepare_batch`` turns a uint8 NCHW batch into the network's float input on the device in one
kernel (``torch.addcmul`` reads the bytes and writes normalised float32, in the layout the weights
have), then applies augmentation.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch
from torch import nn


class TrainStep:
    """``step(x, target) -> (scores, loss, value)``.

    value: the loss read back as a float when ``check_loss`` (CPU: a plain memory read), else None.
    A non-finite value skips backward and the optimizer step (the weights keep their last good
    values), so the caller can stop the run before a NaN is applied.
    ``fallback``: the eager module behind a compiled ``model``. The run switches to it for good when
    the first compiled call fails (a compiler error happens before anything runs, so the step is
    simply redone eagerly; the reason lands in ``fallback_note``), and a batch of another size than
    the first (an epoch's short last batch) runs through it instead of compiling a second graph.
    """

    def __init__(self, model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, *,
                 autocast=None, scaler=None, check_loss: bool = False, fallback: nn.Module | None = None):
        self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.autocast = autocast if autocast is not None else contextlib.nullcontext()
        self.scaler = scaler
        self.check_loss = check_loss
        self.fallback = fallback
        self.fallback_note: str | None = None
        self._batch: int | None = None  # the compiled graph's batch size

    def __call__(self, xb: torch.Tensor, target: torch.Tensor):
        if self.fallback is not None:
            if self._batch is None:
                return self._first_compiled_call(xb, target)
            if xb.shape[0] != self._batch:
                return self._run(xb, target, self.fallback)
        return self._run(xb, target, self.model)

    def _run(self, xb, target, model):
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        with self.autocast:
            scores = model(xb)
            loss = self.criterion(scores, target)
        value = None
        if self.check_loss:
            value = loss.item()
            if not math.isfinite(value):
                return scores, loss, value
        scaler = self.scaler
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        return scores, loss, value

    def _first_compiled_call(self, xb, target):
        try:
            out = self._run(xb, target, self.model)
        except Exception as e:  # noqa: BLE001 - any compiler failure: train eagerly instead of failing the run
            text = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            self.fallback_note = f"torch.compile failed on the first step ({text}); training eagerly instead"
            self.model, self.fallback = self.fallback, None
            return self._run(xb, target, self.model)
        self._batch = int(xb.shape[0])
        return out


def prepare_batch(normalize: Callable, x: torch.Tensor, memory_format: str = "contiguous",
                  augment: Callable | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 NCHW batch -> normalised float32 network input (one fused kernel), augmented."""
    if memory_format == "channels_last" and x.dim() == 4:
        xb = normalize(x, memory_format=torch.channels_last)
    else:
        xb = normalize(x)
    if augment is not None:
        xb = augment(xb, generator)
        if memory_format == "channels_last" and xb.dim() == 4:  # augmentation may return NCHW
            xb = xb.contiguous(memory_format=torch.channels_last)
    return xb
