"""Resuming a run: the Trainer's restore of a checkpoint (weights, optimizer and schedule states
checked on a throw-away copy first, random states, progress, the callbacks' states), the best
epoch's weights of a resumed run, and ``Trainer.from_run`` (a run folder -> a Trainer that goes on).

A mixin of :class:`~cnn_studio.training.trainer.Trainer` (the methods use the trainer's fields);
split from trainer.py along its jobs.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import torch

from ..core.errors import StudioError
from ..core.graph import Graph
from . import checkpoint as ckpt
from .builtin_callbacks import _cpu_copy, callback_key as _callback_key
from .callbacks import Callback
from .config import TrainConfig
from .errors import TrainingError
from .optim import build_optimizer, build_scheduler, current_lr, load_scheduler_state, trainable_parameters, zero_twin
from .rundir import RunDir

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class ResumeMixin:
    """Checkpoint restore and ``from_run`` for the Trainer."""

    def _resumed_best_weights(self) -> dict | None:
        """The best epoch's weights of a resumed run (restore_best_weights): the current ones when the
        checkpoint is the best epoch, else best.pt's."""
        st = self.state
        if self._resume_payload is None or (st.best_epoch == st.epoch and self._start_batch == 0):
            return _cpu_copy(self.model)  # (a mid-epoch checkpoint's weights are past the best epoch's)
        rd = self.run_dir if self.run_dir is not None else (RunDir(self._run_dir_arg) if self._run_dir_arg is not None else None)
        try:
            best = ckpt.load_checkpoint(rd.best_checkpoint) if rd is not None else None
        except ckpt.CheckpointError:
            best = None
        if best is None or best["progress"].get("epoch") != st.best_epoch or best["progress"].get("batch", 0) != 0:
            st.notes.append(f"best.pt does not hold the best epoch ({st.best_epoch}): the final weights are tested")
            return None
        return {k: v.detach().to("cpu", copy=True) for k, v in best["model"].items()}

    def _restore(self, data: dict) -> None:
        b = self.bundle
        if data.get("class_names") is not None and list(data["class_names"]) != list(b.class_names):
            raise TrainingError(
                f"the checkpoint was trained on classes {', '.join(data['class_names'])} but the data has {', '.join(b.class_names)}"
            )
        try:
            self.model.load_state_dict(data["model"])
        except RuntimeError as e:
            raise TrainingError(f"the checkpoint's weights do not fit this network: {str(e).splitlines()[0]}") from None
        self.model.to(self.device)
        scheduler_ok = self._dry_run_optimizer(data)  # crafted states fail here, not mid-training
        if data.get("optimizer") is not None:
            try:
                self.optimizer.load_state_dict(data["optimizer"])
            except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as e:
                raise TrainingError(f"the checkpoint's optimizer state does not fit (was the optimizer changed?): {e}") from None
        if self.scheduler is not None:
            if not scheduler_ok:  # rebuilt over the loaded optimizer (its groups replaced the ones the schedule set up)
                self.scheduler = build_scheduler(self.optimizer, self.config, self.state.batches_per_epoch)
                self.state.notes.append("the learning-rate schedule changed since the checkpoint: it starts afresh")
            elif data.get("scheduler") is not None:
                load_scheduler_state(self.scheduler, data["scheduler"], self.config)
        if data.get("scaler") is not None and self.scaler is not None:
            try:
                self.scaler.load_state_dict(data["scaler"])
            except (KeyError, TypeError, ValueError, RuntimeError) as e:
                raise TrainingError(f"the checkpoint's mixed-precision scaler state cannot be used: {e}") from None
        rng = data.get("rng") or {}
        if rng:
            try:
                ckpt.restore_global_rng(rng)
                if rng.get("shuffle") is not None:
                    self._shuffle_gen.set_state(rng["shuffle"])
            except KeyError as e:
                raise TrainingError(f"the checkpoint's random generator state has no {e} entry; it cannot be restored") from None
            except (RuntimeError, ValueError, TypeError, OverflowError) as e:
                raise TrainingError(f"the checkpoint's random generator state cannot be restored: {str(e).splitlines()[0]}") from None
            if rng.get("augment") is not None:
                try:
                    self._aug_gen.set_state(rng["augment"].to(self._aug_gen.get_state().device))
                except RuntimeError:  # resumed on another kind of device
                    self.state.notes.append("augmentation random state restarted (the device changed)")
        prog = data["progress"]
        st = self.state
        st.epoch = int(prog["epoch"])
        st.global_step = int(prog.get("global_step", 0))
        self._start_batch = int(prog.get("batch", 0))
        if self._start_batch >= st.batches_per_epoch:
            self._start_batch = 0  # pragma: no cover - a stop exactly at the end is stored as epoch complete
        run = data.get("running") or {}
        if self._start_batch > 0:
            self._run_loss = float(run.get("loss_sum", 0.0))
            self._run_correct = int(run.get("correct", 0))
            self._run_seen = int(run.get("seen", 0))
            self._run_seconds = float(run.get("seconds", 0.0))
            self._epoch_shuffle_state = self._shuffle_gen.get_state()
        for cb in self._builtin_callbacks():
            if cb.state_key is not None:
                cb.load_state_dict(data.get(cb.state_key) or {})
        saved = data.get("callbacks") if isinstance(data.get("callbacks"), dict) else {}
        for cb in self.callbacks.callbacks:  # the user's callbacks that keep a state (Lightning's state_dict protocol)
            key = _callback_key(cb)
            if key in saved and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(saved[key])
        st.history = [dict(h) for h in data.get("history") or []]

    def _dry_run_optimizer(self, data: dict) -> bool:
        """Replay the restore on a throw-away optimizer and scheduler over CPU copies of the parameters,
        in the order _setup/_restore use (scheduler built, then the states loaded), and take one step
        with zero gradients: a crafted or mismatched state raises TrainingError here instead of failing
        mid-training. Returns whether the scheduler state works; when not, the schedule starts afresh
        over the loaded optimizer (as when the schedule was changed)."""
        import copy

        opt_state, sched_state = data.get("optimizer"), data.get("scheduler")
        cfg, nb = self.config, max(int(self.state.batches_per_epoch), 1)
        sched_errors = (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError, ZeroDivisionError, OverflowError)
        params = [zero_twin(p) for p in trainable_parameters(self.model)]  # with their lr multipliers (the same groups)
        opt = build_optimizer(params, cfg)
        fresh_groups = [dict(g) for g in opt.param_groups]
        sched = build_scheduler(opt, cfg, nb) if self.scheduler is not None else None
        if opt_state is not None:
            try:
                opt.load_state_dict(copy.deepcopy(opt_state))
                for p in params:
                    p.grad = torch.zeros_like(p)
                for fresh, group in zip(fresh_groups, opt.param_groups):  # each setting of the kind torch made it
                    for key, like in fresh.items():
                        if key != "params" and not _same_kind(group.get(key, like), like):
                            raise TypeError(f"param_groups '{key}' is {group.get(key)!r}")
                for p, st in opt.state.items():
                    for k, v in st.items():
                        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape != p.shape:
                            raise ValueError(f"'{k}' has shape {tuple(v.shape)}, the parameter {tuple(p.shape)}")
                opt.step()
            except (ValueError, KeyError, TypeError, RuntimeError, IndexError, AttributeError, AssertionError) as e:
                text = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise TrainingError(f"the checkpoint's optimizer state does not fit (was the optimizer changed?): {text}") from None
        if sched is None:
            return True

        def step(s) -> None:
            s.step(0.0) if cfg.schedule == "plateau" else s.step()
            lr = current_lr(opt)
            if not isinstance(lr, float) or not math.isfinite(lr):
                raise ValueError(f"learning rate {lr!r}")

        try:
            if sched_state is not None:
                load_scheduler_state(sched, copy.deepcopy(sched_state), cfg)
            step(sched)
            return True
        except sched_errors:
            pass
        try:
            step(build_scheduler(opt, cfg, nb))
        except sched_errors as e:
            raise TrainingError(f"the checkpoint's optimizer state does not fit the {cfg.schedule} schedule: {e}") from None
        return False

    @classmethod
    def from_run(
        cls,
        run_dir: str | Path,
        epochs: int | None = None,
        callbacks: Iterable[Callback] = (),
        data: Any = None,
        **overrides: Any,
    ) -> "Trainer":
        """Continue the run in ``run_dir`` from ``checkpoints/last.pt`` (up to ``epochs`` in total).

        Model, data and training settings come from the checkpoint; ``overrides`` may change
        training settings that do not alter the model (device, num_threads, metrics_interval...)."""
        from ..data import DataConfig

        from .recovery import repair_run

        rd = RunDir(run_dir)
        if not rd.path.is_dir():
            raise TrainingError(f"run folder '{rd.path}' does not exist")
        from .distributed import torchrun_env

        env = torchrun_env()
        writer = env is None or env["rank"] == 0  # under torchrun only rank 0 writes (and locks) the folder
        if writer and rd.is_locked():  # a worker rank must not probe: its probe lock could beat rank 0's lock,
            # or see rank 0's, and refuse a resume that is not contended
            raise TrainingError(f"the run in '{rd.path}' is being trained now (by another process or window); "
                                "wait for it to end or stop it first")
        payload = ckpt.load_checkpoint(rd.last_checkpoint)
        # best.pt and metrics.csv of the epoch last.pt committed (rank 0 only: one writer)
        repair = repair_run(rd, payload, write=writer)
        train = dict(payload["train"])
        train.update(overrides)
        if epochs is not None:
            train["epochs"] = epochs
        try:
            cfg = TrainConfig.from_dict(train)
        except (TypeError, ValueError) as e:
            raise TrainingError(f"the checkpoint in '{rd.path}' holds unusable training settings: {e}") from None
        done = int(payload["progress"].get("epoch", 0))
        # the run ended (all epochs, or early stopping) but a crash came before summary.json: finish it
        finish = repair.finish if (repair.finish == "finished" and done >= cfg.epochs) or (
            repair.finish == "early_stopping" and cfg.epochs == payload["train"].get("epochs")) else None
        if done >= cfg.epochs and finish is None:
            raise TrainingError(
                f"the run in '{rd.path}' already has {done} epoch(s) and asks for {cfg.epochs} in total; ask for more epochs to continue it"
            )
        if data is None:
            if payload.get("data") is None:
                raise TrainingError(f"the checkpoint in '{rd.path}' does not say which data it was trained on; pass the data explicitly")
            data = DataConfig.from_dict(payload["data"])
        graph = _checkpoint_graph(payload["graph"], rd.path)
        trainer = cls(graph, data, cfg, run_dir=rd.path, callbacks=callbacks, resume=payload, name=_run_name(rd, payload, graph))
        trainer.run_dir = rd
        trainer._finish_only = finish
        trainer.state.notes.extend(repair.notes)
        config_graph = _config_graph(rd)
        if config_graph is not None and config_graph != payload["graph"]:
            trainer.state.notes.append(f"config.json describes another network than the checkpoint; resuming the checkpoint's "
                                       f"network '{graph.name}' (config.json is rewritten to match it)")
        return trainer


def _config_graph(rd: RunDir) -> dict | None:
    try:
        return rd.read_config().get("graph")
    except StudioError:
        return None


def _same_kind(value, like) -> bool:
    """Whether an optimizer setting from a checkpoint has the kind of a fresh optimizer's (bool, number,
    None or bool, a tuple of as many numbers, text)."""
    if isinstance(like, bool):
        return isinstance(value, bool)
    if like is None:
        return value is None or isinstance(value, bool)
    if isinstance(like, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(like, (tuple, list)):
        return isinstance(value, (tuple, list)) and len(value) == len(like) and all(_same_kind(v, w) for v, w in zip(value, like))
    if isinstance(like, str):
        return isinstance(value, str)
    return True


def _checkpoint_graph(config: dict, where: Path) -> Graph:
    """The network a checkpoint was trained with (the weights belong to it), checked."""
    from ..core.analysis import analyze

    from ..core.project import FORMAT, VERSION, document_to_graph

    try:  # checked as a project file's network is (structure, ids, ports), then analysed
        graph = document_to_graph({**config, "format": FORMAT, "version": VERSION}, source="the checkpoint's network")
        problems = analyze(graph).errors
    except (StudioError, KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as e:
        raise TrainingError(f"the network stored in the checkpoint of '{where}' cannot be read: {e}") from None
    if problems:
        raise TrainingError(f"the network stored in the checkpoint of '{where}' is not valid: {problems[0]}")
    return graph


def _run_name(rd: RunDir, payload: dict, graph: Graph) -> str:
    """The run's name for the banner and files: config.json's, unless config.json describes another
    network than the checkpoint's (edited or copied over): then the checkpoint's network names it."""
    try:
        config = rd.read_config()
    except StudioError:
        config = {}
    name = config.get("name")
    if isinstance(name, str) and name and config.get("graph") == payload["graph"]:
        return name
    return graph.name or (name if isinstance(name, str) and name else "run")

