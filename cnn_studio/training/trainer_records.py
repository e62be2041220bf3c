"""What a run writes about itself: config.json's record, the checkpoint payload (with the callbacks'
states), last.pt/best.pt and summary.json.

A mixin of :class:`~cnn_studio.training.trainer.Trainer` (the methods use the trainer's fields);
split from trainer.py along its jobs.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from . import checkpoint as ckpt
from .. import allocator as memory
from .builtin_callbacks import callback_key as _callback_key


def _to_list(v) -> list | None:
    if v is None:
        return None
    if isinstance(v, torch.Tensor):
        return [float(a) for a in v.detach().cpu().reshape(-1).tolist()]
    if isinstance(v, np.ndarray):
        return [float(a) for a in v.reshape(-1).tolist()]
    if isinstance(v, (list, tuple)):
        return [float(a) for a in v]
    return [float(v)]


class RecordsMixin:
    """config.json, checkpoints and summary.json for the Trainer."""

    def _config_record(self) -> dict:
        import sys

        from .. import __version__

        b = self.bundle
        return {
            "name": self.name,
            "graph": self.graph.to_config(),
            "data": self.data_config.to_dict() if self.data_config is not None else None,
            "train": self.config.to_dict(),
            "class_names": list(b.class_names),
            "num_classes": int(b.num_classes),
            "input_shape": list(b.input_shape()),
            "mean": _to_list(b.mean),
            "std": _to_list(b.std),
            "device": self.state.device,
            "speed": self._speed.to_dict() if self._speed is not None else None,  # memory format and precision, and why
            "cnn_studio_version": __version__,
            "torch_version": torch.__version__,
            "python_version": sys.version.split()[0],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def _checkpoint_payload(self, epoch: int, batch: int) -> dict:
        start = getattr(self, "_rng_start", None)
        if start is not None and self.state.global_step == self._rng_start_step:
            rng = dict(start)  # no step this session (stopped while compiling): the state it started from
        else:
            rng = ckpt.capture_global_rng()
        rng["shuffle"] = (self._epoch_shuffle_state if batch > 0 else self._shuffle_gen.get_state()).clone()
        rng["augment"] = self._aug_gen.get_state().clone()
        b = self.bundle
        st = self.state
        return {
            "format": ckpt.FORMAT,
            "version": ckpt.VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng,
            "progress": {"epoch": epoch, "batch": batch, "global_step": st.global_step, "epoch_complete": batch == 0},
            "running": {"loss_sum": float(self._run_loss), "correct": int(self._run_correct), "seen": int(self._run_seen),
                        "seconds": float(self._run_seconds)},
            **self._callback_states(),  # "best", "early_stopping" (builtin_callbacks.py)
            "history": [dict(h) for h in st.history],
            "graph": self.graph.to_config(),
            "data": self.data_config.to_dict() if self.data_config is not None else None,
            "train": self.config.to_dict(),
            "class_names": list(b.class_names),
            "mean": _to_list(b.mean),
            "std": _to_list(b.std),
            "input_shape": list(b.input_shape()),
            "speed": self._speed.to_dict() if self._speed is not None else None,  # a resume runs in the same mode
        }

    def _builtin_callbacks(self) -> list:
        return [*self._epoch_end_builtins.callbacks, *self._commit_builtins.callbacks]

    def _callback_states(self) -> dict:
        """The checkpoint's entries of the callbacks that keep a state: the built-ins' under their own
        keys, the user's (those with a non-empty ``state_dict()``) under "callbacks" by class name."""
        out = {cb.state_key: cb.state_dict() for cb in self._builtin_callbacks() if cb.state_key is not None}
        user = {}
        for cb in self.callbacks.callbacks:
            if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict"):
                state = cb.state_dict()
                if state:
                    user[_callback_key(cb)] = state
        if user:
            out["callbacks"] = user
        return out

    def _save_checkpoint(self, epoch: int, batch: int, best: bool) -> None:
        if not (self.config.save_checkpoints and self.is_main_process and self.run_dir is not None):
            return
        path = ckpt.save_checkpoint(self.run_dir.last_checkpoint, self._checkpoint_payload(epoch, batch))
        self.callbacks.call("on_checkpoint", self, path)
        if best:
            self._save_best()

    def _save_best(self) -> None:
        """best.pt: a copy of the last.pt just written."""
        if not (self.config.save_checkpoints and self.is_main_process and self.run_dir is not None):
            return
        path = ckpt.copy_checkpoint(self.run_dir.last_checkpoint, self.run_dir.best_checkpoint)
        self.callbacks.call("on_checkpoint", self, path)

    def _write_summary(self) -> None:
        st = self.state
        hist = st.history
        final = hist[-1] if hist else {}
        test = st.test_metrics
        val = st.last_validation
        rd = self.run_dir
        from ..core.runs import RUN_FORMAT

        summary = {
            "run_format": RUN_FORMAT,  # a reader refuses a larger one as newer (core.runs)
            "name": self.name,
            "run_dir": str(rd.path) if rd is not None else None,
            "stop_reason": st.stop_reason,
            "error": (str(self.error) or type(self.error).__name__) if self.error is not None else None,
            "epochs_completed": len(hist),
            "epochs": self.config.epochs,
            "global_step": st.global_step,
            "monitor": st.monitor,
            "best_metric": st.best_metric,
            "best_epoch": st.best_epoch,
            "best_val_accuracy": st.best_val_accuracy,
            "final_val_accuracy": final.get("val_accuracy"),
            "final_val_loss": final.get("val_loss"),
            "final_train_loss": final.get("train_loss"),
            "final_train_accuracy": final.get("train_accuracy"),
            "test_accuracy": test["accuracy"] if test else None,
            "test_weights": getattr(self, "_test_weights", None) if test else None,  # "best" or "last"
            "test_epoch": getattr(self, "_test_epoch", None) if test else None,  # the epoch those weights are from
            "test_loss": test["loss"] if test else None,
            "test_top5_accuracy": test["top5_accuracy"] if test else None,
            "test_per_class_accuracy": test["per_class_accuracy"] if test else None,
            "test_confusion_matrix": test["confusion_matrix"] if test else None,
            "val_per_class_accuracy": val["per_class_accuracy"] if val else None,
            "val_confusion_matrix": val["confusion_matrix"] if val else None,
            "class_names": list(self.bundle.class_names) if self.bundle is not None else None,
            "train_seconds": self._train_time,
            "samples_per_sec": st.samples_per_sec,
            "device": st.device,
            "threads": self._threads_record(),
            "speed": self._speed.to_dict() if self._speed is not None else None,
            "memory": {"kept": memory.kept(), "note": memory.note()},  # allocator.py
            "notes": list(st.notes),
            "checkpoints": {
                "last": str(rd.last_checkpoint) if rd is not None and rd.last_checkpoint.exists() else None,
                "best": str(rd.best_checkpoint) if rd is not None and rd.best_checkpoint.exists() else None,
            },
        }
        self.summary = summary
        if self.is_main_process and rd is not None and rd.path.is_dir():
            rd.write_summary(summary)

    def _threads_record(self) -> dict | None:
        """summary.json's "threads": Auto's probes and changes, or the fixed count."""
        if self._tuner is not None:
            return self._tuner.summary()
        if self.device.type != "cpu":
            return None
        return {"policy": "fixed" if self.config.num_threads else "auto (pinned)",
                "current": int(self.config.num_threads or self._threads_default or torch.get_num_threads())}
