"""TensorBoard event files of a run, so it can also be viewed in TensorBoard
(``cnn-studio train --tensorboard [DIR]``; ``tensorboard --logdir DIR``).

A :class:`TensorBoardLogger` callback writes through the tensorboard package's writer
(``torch.utils.tensorboard.SummaryWriter``):

- scalars: ``batch/train_loss`` and ``batch/train_accuracy`` (running means of the epoch so far),
  ``batch/batch_loss`` and ``batch/lr`` at each synced batch (step = the global optimizer step); ``epoch/train_loss``,
  ``epoch/train_accuracy``, ``epoch/val_loss``, ``epoch/val_accuracy``, ``epoch/val_top5_accuracy``
  and ``epoch/lr`` once per epoch (step = the epoch, 1-based);
- histograms, once per epoch: ``weights/<node>.<param>`` after the epoch and
  ``gradients/<node>.<param>`` of the epoch's last step (read in ``on_batch_end`` of the last batch,
  before the next ``zero_grad``);
- the graph (``add_graph``, a torch.jit trace of the network) when the network traces; when it does
  not, a note says so and the rest is written.

Where: ``RUN_DIR/tensorboard`` by default; a given DIR gets one sub-folder per run (the run
folder's name), so ``tensorboard --logdir DIR`` compares runs. A new run removes the event files a
previous run left in its folder (``--overwrite``); a resumed run appends and drops the steps after
its checkpoint (``purge_step``). Only the main process writes (distributed runs). A failure stops
the logging with a note in the run's notes; it never ends the training.

tensorboard is an optional package (``pip install 'cnn-studio[tensorboard]'``): without it the
logger raises :class:`TensorBoardError` when it is made, before any data is loaded.
"""
from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import StudioError
from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

DEFAULT_SUBDIR = "tensorboard"
EPOCH_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr")
BATCH_TAGS = {"loss": "train_loss", "accuracy": "train_accuracy", "batch_loss": "batch_loss", "lr": "lr"}
INSTALL_HINT = "pip install 'cnn-studio[tensorboard]' (or pip install tensorboard)"


class TensorBoardError(StudioError):
    """TensorBoard logging cannot be set up; str() says why and what to do."""


def tensorboard_available() -> bool:
    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):
        return False


def _writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises ImportError naming TensorBoard when the package is absent
        raise TensorBoardError(f"--tensorboard needs the tensorboard package; install it: {INSTALL_HINT}") from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Writes TensorBoard event files for a run (see the module docstring).

    ``log_dir``: None for ``RUN_DIR/tensorboard``; a folder to hold one sub-folder per run."""

    def __init__(self, log_dir: str | Path | None = None, histograms: bool = True, graph: bool = True):
        self._writer_cls = _writer_class()  # fails now, with the install hint, if tensorboard is absent
        self.root = Path(log_dir) if log_dir is not None else None
        self.histograms = histograms
        self.graph = graph
        self.writer = None
        self.path: Path | None = None
        self._nb = 0

    # hooks: a failure stops the logging with a note; the run goes on -----------------------------------
    def _guard(self, trainer: "Trainer", fn, *args) -> None:
        if self.writer is None:
            return
        try:
            fn(trainer, *args)
        except Exception as e:  # noqa: BLE001 - logging is optional
            self._close()
            trainer.state.notes.append(f"TensorBoard logging stopped: {type(e).__name__}: {e}")

    def on_fit_start(self, trainer: "Trainer") -> None:
        if not trainer.is_main_process:
            return
        rd = trainer.run_dir
        if rd is None:
            trainer.state.notes.append("TensorBoard logging is off: the run has no run folder to write beside")
            return
        self.path = rd.path / DEFAULT_SUBDIR if self.root is None else self.root / rd.path.name
        resumed = getattr(trainer, "_resume_payload", None) is not None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not resumed:  # a new run in this folder: the previous run's curves would mix with its own
                for old in self.path.glob("events.out.tfevents.*"):
                    old.unlink()
            purge = int(trainer.state.global_step) + 1 if resumed else None
            self.writer = self._writer_cls(log_dir=str(self.path), purge_step=purge)
        except Exception as e:  # noqa: BLE001
            self.writer = None
            trainer.state.notes.append(f"TensorBoard logging is off: cannot write to '{self.path}': {e}")
            return
        self._nb = int(trainer.state.batches_per_epoch)
        if self.graph and not resumed:
            self._add_graph(trainer)

    def _add_graph(self, trainer: "Trainer") -> None:
        import torch

        model = trainer.model
        try:
            p = next(model.parameters(), None)
            device = p.device if p is not None else torch.device("cpu")
            example = torch.zeros((1, *tuple(int(v) for v in model.input_shape)), device=device)
            was = model.training
            model.eval()
            try:
                with warnings.catch_warnings():  # torch 2.x deprecates jit.trace, which add_graph is built on
                    warnings.simplefilter("ignore", FutureWarning)
                    self.writer.add_graph(model, example)
            finally:
                model.train(was)
        except Exception as e:  # noqa: BLE001 - tracing fails on some networks; scalars still matter
            trainer.state.notes.append(f"TensorBoard: the network's graph could not be traced ({type(e).__name__}); scalars and histograms are written")

    def on_batch_end(self, trainer: "Trainer", batch_metrics: dict) -> None:
        self._guard(trainer, self._batch, batch_metrics)

    def _batch(self, trainer: "Trainer", m: dict) -> None:
        step = int(m["global_step"])
        if m.get("synced"):
            for key, tag in BATCH_TAGS.items():
                v = m.get(key)
                if _finite(v):
                    self.writer.add_scalar(f"batch/{tag}", float(v), step)
        if self.histograms and int(m["batch"]) == self._nb:  # the epoch's last step: its gradients
            for tag, p in _named_params(trainer.model):
                if p.grad is not None:
                    g = p.grad.detach().float()
                    if bool(_all_finite(g)):
                        self.writer.add_histogram(f"gradients/{tag}", g.cpu(), int(m["epoch"]))

    def on_epoch_end(self, trainer: "Trainer", epoch_metrics: dict) -> None:
        self._guard(trainer, self._epoch, epoch_metrics)

    def _epoch(self, trainer: "Trainer", row: dict) -> None:
        epoch = int(row["epoch"])
        for key in EPOCH_KEYS:
            v = row.get(key)
            if _finite(v):
                self.writer.add_scalar(f"epoch/{key}", float(v), epoch)
        if self.histograms:
            for tag, p in _named_params(trainer.model):
                w = p.detach().float()
                if bool(_all_finite(w)):
                    self.writer.add_histogram(f"weights/{tag}", w.cpu(), epoch)
        self.writer.flush()

    def on_fit_end(self, trainer: "Trainer") -> None:
        self._close()

    def _close(self) -> None:
        w, self.writer = self.writer, None
        if w is not None:
            try:
                w.close()
            except Exception:  # noqa: BLE001 - closing a writer whose folder went away
                pass


def _named_params(model):
    """("<node>.<param>", parameter) of every layer with parameters, in the network's order."""
    names = getattr(model, "module_names", None)
    if names is None:
        yield from model.named_parameters()
        return
    for nid in names:
        for pname, p in model.module_for(nid).named_parameters():
            yield f"{nid}.{pname}", p


def _all_finite(t) -> bool:
    import torch

    return bool(torch.isfinite(t).all()) if t.numel() else False


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
