"""Lightning-style callbacks and the live ``State`` of a run.

Every hook is a no-op; subclass and override what you need. Hooks run in the training thread:
an adapter to a GUI should copy what it needs (floats, ``.detach().cpu().numpy().copy()``) and hand
it over through a thread-safe channel (Qt signals), never touch widgets from here.

Order for one run::

    on_fit_start
      on_epoch_start
        on_batch_end  x batches            (on_pause / on_resume around a pause)
      on_epoch_end                         (after validation; then last.pt, metrics.csv, best.pt are written)
      on_checkpoint                        (last.pt, then best.pt when it improved)
    on_exception                           (only when the run fails; then on_fit_end)
    on_fit_end
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

STOP_REASONS = ("finished", "early_stopping", "stopped_by_user", "nan_loss", "error")


class Callback:
    """Base class: override any hook. ``trainer.state`` holds the live numbers."""

    def on_fit_start(self, trainer: "Trainer") -> None: ...

    def on_epoch_start(self, trainer: "Trainer") -> None: ...

    def on_batch_end(self, trainer: "Trainer", batch_metrics: dict) -> None:
        """After every optimizer step. ``batch_metrics`` always has epoch, batch (1-based within the
        epoch), global_step and size; when ``batch_metrics["synced"]`` is true (every
        ``metrics_interval`` seconds or ``metrics_every`` batches, and on the last batch of an epoch)
        it also has loss / accuracy (running means over the epoch so far), batch_loss,
        samples_per_sec, eta_s and lr as floats."""

    def on_epoch_end(self, trainer: "Trainer", epoch_metrics: dict) -> None: ...

    def on_checkpoint(self, trainer: "Trainer", path) -> None: ...

    def on_pause(self, trainer: "Trainer") -> None: ...

    def on_resume(self, trainer: "Trainer") -> None: ...

    def on_exception(self, trainer: "Trainer", exc: BaseException) -> None: ...

    def on_fit_end(self, trainer: "Trainer") -> None: ...


class CallbackList:
    """Fans every hook out to a list of callbacks, in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must derive from cnn_studio.training.Callback, got {type(cb).__name__}")

    def call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)


@dataclass
class State:
    """What a run is doing right now. Read it from hooks (same thread) or poll it from another thread
    (each field is replaced atomically; copy what you need)."""

    epoch: int = 0  # 0-based index of the current (or next) epoch
    step: int = 0  # batches done in the current epoch
    global_step: int = 0  # optimizer steps since the run began (across resumes)
    epochs: int = 0
    batches_per_epoch: int = 0
    history: list[dict] = field(default_factory=list)  # one dict per finished epoch (see metrics.csv)
    train_loss: float = math.nan  # running means of the current epoch, as of the last sync
    train_accuracy: float = math.nan
    samples_per_sec: float = 0.0
    eta_s: float | None = None
    lr: float = 0.0
    monitor: str = "val_loss"
    best_metric: float | None = None
    best_epoch: int | None = None  # 1-based
    best_val_accuracy: float | None = None
    last_validation: dict | None = None  # the full evaluate() dict of the latest validation
    test_metrics: dict | None = None
    stop_reason: str | None = None
    device: str = "cpu"
    paused: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "epoch": self.epoch, "step": self.step, "global_step": self.global_step, "epochs": self.epochs,
            "batches_per_epoch": self.batches_per_epoch, "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy, "samples_per_sec": self.samples_per_sec, "eta_s": self.eta_s,
            "lr": self.lr, "monitor": self.monitor, "best_metric": self.best_metric, "best_epoch": self.best_epoch,
            "best_val_accuracy": self.best_val_accuracy, "stop_reason": self.stop_reason, "device": self.device,
            "paused": self.paused, "notes": list(self.notes), "history": [dict(h) for h in self.history],
        }
