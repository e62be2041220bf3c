"""``TrainConfig``: every knob of a training run, as a plain JSON-safe dataclass.

It round-trips through ``to_dict``/``from_dict`` (stored in run directories, checkpoints and project
files) and refuses unknown keys and out-of-range values with a :class:`TrainConfigError` that names
the field and says what to do.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, fields
from typing import Any

from ..core.errors import StudioError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "onecycle", "plateau")
MONITORS = ("val_loss", "val_accuracy")
SPEEDS = ("auto", "eager", "channels_last", "compile")  # speed.py chooses among them
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class TrainConfigError(StudioError):
    """A training setting is missing, of the wrong type or out of range."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass
class TrainConfig:
    """Settings of one training run.

    optimizer: sgd | adam | adamw | rmsprop. lr: learning rate (the peak rate for onecycle).
    momentum: SGD/RMSprop momentum (also onecycle's top momentum for SGD). nesterov: SGD only.
    beta1/beta2: Adam/AdamW moment decay rates. weight_decay: L2 penalty (decoupled for AdamW).
    batch_size, epochs: the usual.
    schedule: constant | step (times ``gamma`` every ``step_size`` epochs) | cosine (to ``min_lr``
        over all epochs) | onecycle (per batch, warm-up for ``warmup_fraction`` of the steps) |
        plateau (times ``gamma`` after ``plateau_patience`` epochs without improvement of ``monitor``).
    early_stopping: stop when ``monitor`` has not improved by more than ``min_delta`` for
        ``patience`` epochs. monitor also picks ``checkpoints/best.pt``.
    restore_best_weights: at the end of a run load the best epoch's weights before testing (the
        default, so the test figure in summary.json is that of ``checkpoints/best.pt``, the weights
        ``cnn-studio evaluate`` and the app's views load by default; ``test_weights`` says which).

    The defaults (Adam, one-cycle schedule peaking at lr 0.003, batch 64, 10 epochs) are those of the
    app's first run: LeNet-5 with ReLU on the built-in shapes reaches over 90% test accuracy with them
    (benchmarks/first_run.py), where a constant 0.001 stopped near 83%.
    device: auto | cpu | cuda | cuda:N | mps. amp: mixed precision (CUDA only; ignored elsewhere with a note).
    seed: weights, shuffling, augmentation and dropout all follow it. deterministic: ask torch for
        deterministic kernels (slower on GPU). num_threads: torch CPU threads (None: leave as is).
    save_checkpoints: write ``checkpoints/last.pt`` (every ``checkpoint_every`` epochs and when
        stopped) and ``best.pt``. metrics_interval: seconds between live metric updates (the only
        moments the hot loop synchronises with the device); metrics_every: if > 0, update every N batches instead.
    speed: how steps run: eager (NCHW, the default, repeatable run to run), channels_last, compile
        (torch.compile of the network), or auto (a short timed probe at the start picks the faster memory
        format, and compile when the run is long enough to repay its compile time; cached per network; speed.py).
    precision: fp32 (default), bf16 (autocast; native on AVX-512 BF16/AMX CPUs and recent GPUs), fp16 (CUDA
        AMP with a GradScaler; elsewhere fp32 with a note), or auto (a reduced precision only when the probe
        finds it faster and its loss within 5% of fp32's).
    layer_stats_every: record layer statistics (``layer_stats.npz``: weight/gradient norms and histograms
        every N optimizer steps, activations, dead and saturated units at each epoch end; layerstats.py); 0: off.
    init_from: start from saved weights instead of the seed's random ones: a run folder (its best.pt, else
        last.pt), a .pt checkpoint or state_dict, or a .safetensors file (torchvision key layout accepted).
        Strict: every key and shape must fit the network, else the run refuses to start with the importer's
        list of missing, unexpected and mismatched keys. A resumed run does not re-apply it. None: off.
    init_partial: with init_from, load only the keys that match in name and shape and leave the others
        at their initial values (a classifier for another class count; init_weights.init_report lists them).
    frozen_bn_eval: batch norm inside a frozen node (Node.frozen) stays in eval mode during training: it
        uses and keeps its running statistics (freeze.py). Off: frozen layers' statistics still follow the data.
    """

    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 10
    schedule: str = "onecycle"
    step_size: int = 10
    gamma: float = 0.1
    min_lr: float = 0.0
    warmup_fraction: float = 0.3
    plateau_patience: int = 2
    early_stopping: bool = False
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    restore_best_weights: bool = True
    device: str = "auto"
    amp: bool = False
    seed: int = 0
    deterministic: bool = False
    num_threads: int | None = None
    save_checkpoints: bool = True
    checkpoint_every: int = 1
    metrics_interval: float = 0.1
    metrics_every: int = 0
    layer_stats_every: int = 50
    speed: str = "eager"
    precision: str = "fp32"
    init_from: str | None = None
    init_partial: bool = False
    frozen_bn_eval: bool = True

    def __post_init__(self) -> None:
        self.validate()

    # ---- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`TrainConfigError` naming the first bad field."""
        def choice(name: str, options: tuple[str, ...]) -> None:
            v = getattr(self, name)
            if not isinstance(v, str) or v.lower() not in options:
                raise TrainConfigError(f"unknown {name} {v!r}; choose one of {', '.join(options)}")
            setattr(self, name, v.lower())

        def number(name: str, lo: float, hi: float = math.inf, lo_open: bool = False, hint: str = "") -> None:
            v = getattr(self, name)
            if not _is_num(v):
                raise TrainConfigError(f"{name} must be a finite number, got {v!r}{hint}")
            if v < lo or (lo_open and v == lo) or v > hi:
                rng = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
                if hi != math.inf:
                    rng += f" and at most {hi:g}"
                raise TrainConfigError(f"{name} must be {rng}, got {v!r}{hint}")
            setattr(self, name, float(v))

        def whole(name: str, lo: int, allow_none: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if not _is_int(v) or v < lo:
                raise TrainConfigError(f"{name} must be a whole number of at least {lo}, got {v!r}")

        def flag(name: str) -> None:
            if not isinstance(getattr(self, name), bool):
                raise TrainConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")

        choice("optimizer", OPTIMIZERS)
        number("lr", 0.0, lo_open=True, hint="; a typical value is 0.001 for Adam or 0.01 to 0.1 for SGD")
        number("momentum", 0.0, 1.0)
        flag("nesterov")
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            raise TrainConfigError("nesterov needs a momentum greater than 0; set momentum (e.g. 0.9) or turn nesterov off")
        number("beta1", 0.0, 1.0)
        number("beta2", 0.0, 1.0)
        for name in ("beta1", "beta2"):  # torch's Adam refuses 1 (the moments would never decay)
            if getattr(self, name) >= 1.0:
                raise TrainConfigError(f"{name} must be below 1, got {getattr(self, name)!r}; a typical value is 0.9 (beta1) or 0.999 (beta2)")
        number("weight_decay", 0.0)
        whole("batch_size", 1)
        whole("epochs", 1)
        choice("schedule", SCHEDULES)
        whole("step_size", 1)
        number("gamma", 0.0, 1.0, lo_open=True)
        number("min_lr", 0.0)
        number("warmup_fraction", 0.0, 1.0, lo_open=True)
        if self.warmup_fraction >= 1.0:
            raise TrainConfigError(f"warmup_fraction must be below 1, got {self.warmup_fraction!r}")
        whole("plateau_patience", 0)
        flag("early_stopping")
        choice("monitor", MONITORS)
        whole("patience", 1)
        number("min_delta", 0.0)
        flag("restore_best_weights")
        if not isinstance(self.device, str) or not _DEVICE_RE.match(self.device.strip().lower()):
            raise TrainConfigError(f"unknown device {self.device!r}; use auto, cpu, cuda, cuda:N or mps")
        self.device = self.device.strip().lower()
        flag("amp")
        if not _is_int(self.seed):
            raise TrainConfigError(f"seed must be a whole number, got {self.seed!r}")
        flag("deterministic")
        whole("num_threads", 1, allow_none=True)
        flag("save_checkpoints")
        whole("checkpoint_every", 1)
        number("metrics_interval", 0.0)
        whole("metrics_every", 0)
        whole("layer_stats_every", 0)
        choice("speed", SPEEDS)
        choice("precision", PRECISIONS)
        if self.init_from is not None:
            if isinstance(self.init_from, os.PathLike):
                self.init_from = os.fspath(self.init_from)
            if not isinstance(self.init_from, str) or not self.init_from.strip():
                raise TrainConfigError(f"init_from must be the path of a run folder or weights file, or null, got {self.init_from!r}")
        flag("init_partial")
        flag("frozen_bn_eval")

    # ---- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict | None) -> "TrainConfig":
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise TrainConfigError(f"training settings must be a mapping of names to values, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TrainConfigError(
                f"unknown training setting {', '.join(repr(u) for u in unknown)}; valid names are {', '.join(sorted(known))}"
            )
        return cls(**d)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some fields changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})
