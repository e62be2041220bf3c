"""The epoch-end jobs of a run as callbacks that own their state (as Lightning's and ignite's do).

The Trainer builds them itself, bound to it, and calls them at an epoch's end in a fixed order
around the user's callbacks::

    BestEpoch -> EarlyStopping -> BestWeights        (on_epoch_end, after validation; before the
                                                      per-epoch schedule and the user's callbacks)
    LastCheckpoint -> MetricsWriter -> BestCheckpoint  (on_epoch_commit, after the user's callbacks:
                                                      the epoch-end transaction of recovery.py)

A callback with a ``state_key`` has its ``state_dict()`` stored under that key of the checkpoint
(``best``, ``early_stopping``: the keys checkpoints have always had) and gets it back through
``load_state_dict`` on resume. ``State`` (callbacks.py) mirrors what the app and the summary show.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


def _cpu_copy(model: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class BuiltinCallback(Callback):
    """A trainer-owned callback. ``state_key``: where its state goes in the checkpoint (None: none)."""

    state_key: str | None = None

    def __init__(self, trainer: "Trainer"):
        self.trainer = trainer

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore from a checkpoint's (validated) entry."""

    def on_epoch_commit(self, trainer: "Trainer", commit: dict) -> None:
        """After the user's on_epoch_end. ``commit``: epoch (done, 1-based), last, stop, improved,
        saved (set by LastCheckpoint)."""


class BestEpoch(BuiltinCallback):
    """The best epoch by the monitored metric (``min_delta`` must be beaten), and the best validation
    accuracy. ``improved``: whether the epoch just ended is the new best."""

    state_key = "best"

    def __init__(self, trainer: "Trainer"):
        super().__init__(trainer)
        self.metric: float | None = None
        self.epoch: int | None = None
        self.val_accuracy: float | None = None
        self.improved = False
        self.value: float | None = None  # the monitored value of the epoch just ended

    def _mirror(self) -> None:
        st = self.trainer.state
        st.best_metric, st.best_epoch, st.best_val_accuracy = self.metric, self.epoch, self.val_accuracy

    def on_epoch_end(self, trainer: "Trainer", row: dict) -> None:
        st = trainer.state
        acc = row.get("val_accuracy")
        if acc is not None and (self.val_accuracy is None or acc > self.val_accuracy):
            self.val_accuracy = acc
        value = self.value = trainer._monitor_value(row)
        maximize = st.monitor.endswith("accuracy")
        delta = trainer.config.min_delta
        self.improved = value is not None and (
            self.metric is None or (value > self.metric + delta if maximize else value < self.metric - delta))
        if self.improved:
            self.metric, self.epoch = value, int(row["epoch"])
        self._mirror()

    def state_dict(self) -> dict:
        return {"metric": self.metric, "epoch": self.epoch, "val_accuracy": self.val_accuracy,
                "monitor": self.trainer.state.monitor}

    def load_state_dict(self, state: dict) -> None:
        self.metric, self.epoch, self.val_accuracy = state.get("metric"), state.get("epoch"), state.get("val_accuracy")
        self._mirror()


class EarlyStopping(BuiltinCallback):
    """Epochs since the best one; asks the run to stop after ``patience`` of them (when early stopping
    is on). ``should_stop`` is read by the trainer after the epoch's end."""

    state_key = "early_stopping"

    def __init__(self, trainer: "Trainer", best: BestEpoch):
        super().__init__(trainer)
        self.best = best
        self.wait = 0
        self.should_stop = False

    def on_epoch_end(self, trainer: "Trainer", row: dict) -> None:
        self.wait = 0 if self.best.improved else self.wait + 1
        cfg = trainer.config
        self.should_stop = bool(cfg.early_stopping and self.wait >= cfg.patience)

    def state_dict(self) -> dict:
        return {"wait": int(self.wait)}

    def load_state_dict(self, state: dict) -> None:
        self.wait = int(state.get("wait", 0))


class BestWeights(BuiltinCallback):
    """A CPU copy of the best epoch's weights (restore_best_weights), loaded back before testing.
    Not in the checkpoint: a resumed run takes them from best.pt (``resume_from``)."""

    def __init__(self, trainer: "Trainer", best: BestEpoch):
        super().__init__(trainer)
        self.best = best
        self.weights: dict | None = None

    def on_epoch_end(self, trainer: "Trainer", row: dict) -> None:
        if self.best.improved and trainer.config.restore_best_weights:
            self.weights = _cpu_copy(trainer.model)

    def restore(self, trainer: "Trainer") -> bool:
        """Load the best weights when they are not the last epoch's; whether it did."""
        last = len(trainer.state.history)
        if not trainer.config.restore_best_weights or self.weights is None or self.best.epoch == last:
            return False
        trainer.model.load_state_dict(self.weights)
        return True


class LastCheckpoint(BuiltinCallback):
    """Writes last.pt at an epoch's end when it is due: the best epoch so far, the last epoch, a stop,
    or every ``checkpoint_every`` epochs. Writing it commits the epoch (recovery.py)."""

    def on_epoch_commit(self, trainer: "Trainer", commit: dict) -> None:
        every = trainer.config.checkpoint_every
        commit["saved"] = bool(commit["improved"] or commit["last"] or commit["stop"] is not None
                               or commit["epoch"] % every == 0)
        if commit["saved"]:
            trainer._reset_running()  # a stored complete epoch carries no partial sums
            trainer._save_checkpoint(commit["epoch"], 0, best=False)


class MetricsWriter(BuiltinCallback):
    """Rewrites metrics.csv from the history (after last.pt, which it can be redone from)."""

    def on_epoch_commit(self, trainer: "Trainer", commit: dict) -> None:
        if trainer.is_main_process and trainer.run_dir is not None:
            trainer.run_dir.rewrite_metrics(trainer.state.history)


class BestCheckpoint(BuiltinCallback):
    """best.pt: a copy of the last.pt just written, when the epoch was the best."""

    def on_epoch_commit(self, trainer: "Trainer", commit: dict) -> None:
        if commit.get("saved") and commit["improved"]:
            trainer._save_best()


def callback_key(cb) -> str:
    """A user callback's key in the checkpoint's "callbacks" (its class's full name)."""
    return f"{type(cb).__module__}.{type(cb).__qualname__}"
