"""The headless training engine: ``Trainer(graph, data, config).fit()``.

Pure torch, no Qt. The app runs ``fit()`` in a worker thread and talks to it through callbacks
(out) and ``request_stop`` / ``request_pause`` / ``request_resume`` (in, from any thread; they take
effect between batches).

The hot loop does what a minimal hand-written PyTorch loop does and little more: the running loss
and correct count stay on the device and are read back only every ``metrics_interval`` seconds (or
``metrics_every`` batches); on the CPU the loss is read every batch (a plain memory read there) so a
NaN/inf loss is caught before its step is applied. On an accelerator a NaN is caught at the next
sync; when the weights are no longer finite by then they are restored from the end of the last good
epoch.

Distributed training can subclass this: ``_wrap_model`` (DDP), ``_make_train_iterator`` (sharding),
``_reduce`` (all-reduce of metric sums), ``_evaluate`` and ``is_main_process`` (file writes) are the
seams.
"""
from __future__ import annotations

import math
import random
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from ..core.errors import StudioError
from ..core.graph import Graph
from . import checkpoint as ckpt
from . import small_maps
from .. import allocator as memory
from .builtin_callbacks import BestCheckpoint, BestEpoch, BestWeights, EarlyStopping, LastCheckpoint, MetricsWriter
from .callbacks import Callback, CallbackList, State
from .config import TrainConfig
from .metrics import evaluate, loss_target
from .optim import (
    PER_BATCH_SCHEDULES,
    build_optimizer,
    build_scheduler,
    current_lr,
    device_string,
    resolve_device,
    trainable_parameters,
)
from .freeze import apply_node_options
from .rundir import RunDir, new_run_path
from .step import prepare_batch
from .threads import CpuMeter, ThreadTuner
from .errors import TrainingError  # noqa: F401 - raised here, and imported from here by callers
from .trainer_records import RecordsMixin
from .trainer_resume import ResumeMixin
from .trainer_speed import SpeedMixin


def _finite(v) -> float | None:
    return v if (v is not None and math.isfinite(v)) else None


def _cpu_copy(model: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _all_finite(model: nn.Module) -> bool:
    with torch.no_grad():
        return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def _with_layer_stats(config: TrainConfig, callbacks: Iterable[Callback]) -> list[Callback]:
    """The layer statistics recorder first (so other callbacks' on_epoch_end see this epoch's), when on."""
    if not config.layer_stats_every:
        return list(callbacks)
    from .layerstats import LayerStats

    return [LayerStats(config.layer_stats_every), *callbacks]


class Trainer(SpeedMixin, ResumeMixin, RecordsMixin):
    """Train a graph on a data set.

    graph: a core ``Graph`` (or its config dict). data: a loaded ``DatasetBundle`` or a
    ``DataConfig`` (loaded inside ``fit()``, so in the worker thread). config: ``TrainConfig``.
    run_dir: folder for this run's files (default ``<studio_home>/runs/<name>-<timestamp>``).
    callbacks: :class:`Callback` objects. resume: a checkpoint file or run folder to continue from
    (or its loaded dict). data_config: the ``DataConfig`` a ready bundle came from, when the bundle
    does not carry it as ``.config`` (stored in the run so ``--resume`` can reload the data).
    """

    def __init__(
        self,
        graph: Graph | dict,
        data: Any,
        config: TrainConfig | None = None,
        run_dir: str | Path | None = None,
        callbacks: Iterable[Callback] = (),
        *,
        resume: str | Path | dict | None = None,
        name: str | None = None,
        data_config: Any = None,
        overwrite: bool = False,
    ):
        from ..compiler import compile_model

        self.config = config if config is not None else TrainConfig()
        self.config.validate()
        self.graph = Graph.from_config(graph) if isinstance(graph, dict) else graph
        self.name = name or self.graph.name or "run"
        if isinstance(resume, (str, Path)):
            resume = ckpt.load_checkpoint(resume)
        self._resume_payload: dict | None = resume
        with torch.random.fork_rng(devices=[]):  # weights follow the seed without touching the caller's RNG
            torch.manual_seed(self.config.seed)
            self.model = compile_model(self.graph)
        self.data_config, self.bundle = self._split_data_arg(data)
        if data_config is not None:  # the settings a ready bundle was loaded with (kept for resuming)
            self.data_config = data_config
        self._run_dir_arg = run_dir
        self.run_dir: RunDir | None = None
        self.overwrite = overwrite  # a new run may replace the run files already in run_dir
        self._finish_only: str | None = None  # from_run: the run ended before a crash; only its final evaluation is left
        self.callbacks = CallbackList(_with_layer_stats(self.config, callbacks))
        self.state = State(epochs=self.config.epochs, monitor=self.config.monitor)
        # the epoch-end jobs, as callbacks owning their state (builtin_callbacks.py)
        self._best = BestEpoch(self)
        self._early = EarlyStopping(self, self._best)
        self._best_weights_cb = BestWeights(self, self._best)
        self._epoch_end_builtins = CallbackList([self._best, self._early, self._best_weights_cb])
        self._commit_builtins = CallbackList([LastCheckpoint(self), MetricsWriter(self), BestCheckpoint(self)])
        self.device = torch.device("cpu")
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.scaler = None
        self.criterion: nn.Module | None = None
        self.summary: dict | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._wake = threading.Event()
        self._fitted = False
        self._amp = False
        self._speed = None  # speed.SpeedChoice: memory format and precision, set in _setup
        if self.config.init_from and self._resume_payload is None:  # a resumed run has its weights in the checkpoint
            from .init_weights import apply_init_weights

            self.state.notes.append(apply_init_weights(self.model, self.config.init_from, self.config.init_partial))
        self.state.notes.extend(apply_node_options(self.model, self.graph, self.config.frozen_bn_eval))  # freeze.py: frozen nodes, lr multipliers

    # ---- control from any thread -------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop after the current batch (a paused run stops at once); a resumable checkpoint is written."""
        self._stop.set()
        self._wake.set()

    def request_pause(self) -> None:
        """Pause between batches; the training thread blocks (no CPU) until resume or stop."""
        self._wake.clear()
        self._pause.set()

    def request_resume(self) -> None:
        self._pause.clear()
        self._wake.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ---- seams for distributed training --------------------------------------------------------
    @property
    def is_main_process(self) -> bool:
        """Only the main process writes files and prints."""
        return True

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        """The module the hot loop calls (a DDP wrapper would go here)."""
        return model

    def _make_train_iterator(self, split, batch_size: int, generator: torch.Generator):
        from ..data import BatchIterator

        drop_last = len(split.y) % batch_size == 1 and len(split.y) > 1  # a batch of one breaks BatchNorm
        return BatchIterator(split, batch_size, shuffle=True, generator=generator, drop_last=drop_last, device=self.device)

    def _reduce(self, values: list[float]) -> list[float]:
        """Sum metric counts over processes (identity on one process)."""
        return values

    def _evaluate(self, split) -> dict:
        return evaluate(
            self.model, split, self.bundle, self.device, max(self.config.batch_size * 2, 64),
            criterion=self.criterion, amp=self._amp,
        )

    # ---- set-up ---------------------------------------------------------------------------------
    @staticmethod
    def _split_data_arg(data):
        from ..data import DataConfig

        if isinstance(data, DataConfig):
            return data, None
        if isinstance(data, dict):
            return DataConfig.from_dict(data), None
        if hasattr(data, "train") and hasattr(data, "num_classes"):
            return getattr(data, "config", None), data
        raise TypeError(f"data must be a DatasetBundle or a DataConfig, got {type(data).__name__}")

    def _load_data(self) -> None:
        if self.bundle is None:
            from ..data import load_dataset

            self.bundle = load_dataset(self.data_config, cancel=self._stop)
        b = self.bundle
        for w in getattr(b, "warnings", None) or []:
            self.state.notes.append(str(w))
        if b.train is None or len(b.train.y) == 0:
            raise TrainingError("the training split is empty; give a data set with training images")
        model_shape = tuple(self.model.input_shape)
        data_shape = tuple(b.input_shape())
        if model_shape != data_shape:
            raise TrainingError(
                f"the network expects {'x'.join(map(str, model_shape))} input but the data is {'x'.join(map(str, data_shape))}; "
                "set the data's channels/height/width to the network's input, or change the Input layer"
            )
        scores = self.model.node_shapes.get(self.model.output_source_id)
        n_out = int(scores[0]) if scores and len(scores) == 1 else None
        if n_out != int(b.num_classes):
            raise TrainingError(
                f"the network has {n_out} outputs but the data has {b.num_classes} classes; "
                f"set out_features of '{self.model.output_source_id}' to {b.num_classes}"
            )
        if self.config.batch_size == 1:
            from ..core.analysis import analyze

            single = analyze(self.graph).single_value_batchnorm()
            if single:
                raise TrainingError(
                    f"batch size 1 cannot train {', '.join(repr(n) for n in single)}: batch norm there sees one value "
                    "per channel per image, and torch needs more than one value per channel in a training batch; "
                    "use a batch size of 2 or more, or remove that batch norm")

    def _augment_config(self):
        aug = getattr(self.data_config, "augment", None) if self.data_config is not None else None
        return aug if aug is not None and aug.enabled() else None

    def _setup(self) -> None:
        cfg = self.config
        self.device = resolve_device(cfg.device)
        self.state.device = device_string(self.device)
        self._amp = bool(cfg.amp and self.device.type == "cuda")
        sync = self.sync_loss_every_batch
        self._sync_every_batch = (self.device.type == "cpu") if sync is None else bool(sync)
        if cfg.amp and not self._amp:
            self.state.notes.append(f"mixed precision (amp) works on CUDA only; training in full precision on {self.device.type}")
        self._load_data()
        b = self.bundle
        self.model.to(self.device)
        self._choose_speed()  # before DDP wraps the model and the optimizer is built (trainer_speed.py)
        self.train_model = self._wrap_model(self.model)
        self.criterion = self.model.make_loss().to(self.device)
        self.optimizer = build_optimizer(trainable_parameters(self.model), cfg)
        self._setup_speed()  # fused optimizer, CUDA autocast, fp16 GradScaler
        self._compile_warmup()  # a compiled run compiles here, abandoned at once by a stop request
        self._shuffle_gen = torch.Generator().manual_seed(cfg.seed)
        self._aug_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 1)
        self._batches = self._make_train_iterator(b.train, cfg.batch_size, self._shuffle_gen)
        nb = len(self._batches)
        self.scheduler = build_scheduler(self.optimizer, cfg, nb)
        aug_cfg = self._augment_config()
        if aug_cfg is not None:
            from ..data import Augmenter

            self._augmenter = Augmenter(aug_cfg, b.mean, b.std)  # mean/std: black level and clamping of normalised pixels
        else:
            self._augmenter = None
        st = self.state
        st.epochs, st.batches_per_epoch, st.monitor = cfg.epochs, nb, cfg.monitor
        self._has_val = b.val is not None and len(b.val.y) > 0
        if not self._has_val:
            st.monitor = cfg.monitor.replace("val_", "train_")
            st.notes.append(f"no validation split: {st.monitor} picks the best epoch" + (" and drives early stopping" if cfg.early_stopping else ""))
        # running sums of the epoch in progress
        self._run_loss, self._run_correct, self._run_seen, self._run_seconds = 0.0, 0, 0, 0.0
        self._start_batch = 0
        self._epoch_shuffle_state = self._shuffle_gen.get_state()
        if self._resume_payload is not None:
            self._restore(self._resume_payload)
        else:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed % 2**32)
            random.seed(cfg.seed)
        # the random state a stop before this session's first step records (an abandoned compile may still draw)
        self._rng_start, self._rng_start_step = ckpt.capture_global_rng(), st.global_step
        if st.epoch >= cfg.epochs and self._finish_only is None:
            raise TrainingError(
                f"this run already has {st.epoch} epoch(s) and asks for {cfg.epochs} in total; ask for more epochs to continue it"
            )
        self._good_weights = _cpu_copy(self.model)
        self._best_weights_cb.weights = self._resumed_best_weights() if (cfg.restore_best_weights and st.best_epoch is not None) else None
        st.lr = current_lr(self.optimizer)
        if self.is_main_process:
            if self.run_dir is None:
                self.run_dir = RunDir(self._run_dir_arg if self._run_dir_arg is not None else new_run_path(self.name))
            self._claim_run_dir()
            self.run_dir.create()
            self.run_dir.write_config(self._config_record())
            self.run_dir.rewrite_metrics(st.history)

    def _claim_run_dir(self) -> None:
        """Lock the run folder for this trainer; a new run refuses a folder that holds a run already
        (unless ``overwrite``: then that run's files are removed first)."""
        rd = self.run_dir
        if not rd.try_lock():
            self.run_dir = None  # not ours: the error summary must not land in it
            raise TrainingError(f"the run folder '{rd.path}' is being written by another training run now; "
                                "wait for it to end or choose another folder")
        if self._resume_payload is None:
            old = rd.existing_files()
            if old and not self.overwrite:
                rd.unlock()
                self.run_dir = None
                raise TrainingError(
                    f"'{rd.path}' holds a run already ({', '.join(old)}); continue it with --resume, choose another "
                    "folder, or pass --overwrite to replace it"
                )
            if old:
                rd.clear()

    # ---- checkpoints ----------------------------------------------------------------------------
    def _reset_running(self) -> None:
        """Zero the running sums of the epoch in progress."""
        self._run_loss, self._run_correct, self._run_seen, self._run_seconds = 0.0, 0, 0, 0.0

    # ---- the run --------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train; returns the summary dict (also written to ``summary.json``). Exceptions are
        re-raised after ``on_exception``, ``summary.json`` (stop_reason "error") and ``on_fit_end``."""
        if self._fitted:
            raise TrainingError("this Trainer has already run; make a new one (use resume= to continue)")
        self._fitted = True
        cfg = self.config
        old_threads = torch.get_num_threads()
        old_det = torch.are_deterministic_algorithms_enabled()
        old_det_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
        self._t_fit = time.perf_counter()
        self._train_time = 0.0
        self._amp = False
        memory.keep_freed_memory()  # each step reuses the memory the last one freed (allocator.py)
        try:
            if cfg.num_threads:
                torch.set_num_threads(cfg.num_threads)
            if cfg.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
            try:
                self._setup()
            except StudioError as e:
                from ..data import DataCancelled

                if not (isinstance(e, DataCancelled) and self._stop.is_set()):
                    raise
                self.state.stop_reason = "stopped_by_user"  # stopped while the data was loading
                self.state.notes.append("stopped while loading the data")
                self._write_summary()
                self.callbacks.call("on_fit_end", self)
                return self.summary
            self._setup_threads(old_threads)
            self.callbacks.call("on_fit_start", self)
            if self._finish_only is not None:  # the epochs are done (a crash came before the summary)
                self.state.stop_reason = self._finish_only
            else:
                self._loop()
            self._finish()
        except BaseException as exc:
            self.error = exc
            self.state.stop_reason = "error"
            for hook, args in (("on_exception", (exc,)), (None, ()), ("on_fit_end", ())):
                try:
                    if hook is None:
                        self._write_summary()
                    else:
                        self.callbacks.call(hook, self, *args)
                except Exception:  # noqa: BLE001, S110 - the original error is the one worth reporting
                    pass
            raise
        finally:
            if getattr(self, "model", None) is not None:
                small_maps.uninstall(self.model)  # the network as compile_model built it, for inspection and export
            memory.release_freed_memory()  # what the run freed goes back to the OS
            if self.run_dir is not None:
                self.run_dir.unlock()  # the folder's writer lock (RunDir.try_lock)
            if torch.get_num_threads() != old_threads:  # a fixed count, or where Auto left it
                torch.set_num_threads(old_threads)
            if cfg.deterministic:
                torch.use_deterministic_algorithms(old_det, warn_only=old_det_warn)
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        self._write_summary()
        self.callbacks.call("on_fit_end", self)
        return self.summary

    _tuner: ThreadTuner | None = None

    def _setup_threads(self, default: int) -> None:
        """CPU threads: a fixed count as configured, or Auto (``num_threads`` None): start at torch's
        count and let :class:`ThreadTuner` time the batches at fewer threads and keep the fastest
        (a busy program on one core makes every extra thread wait). ``deterministic`` pins Auto:
        the thread count changes float rounding."""
        cfg = self.config
        self._threads_default = default
        self._tuner = None
        if cfg.num_threads or self.device.type != "cpu" or default <= 1:
            return
        if cfg.deterministic:
            self.state.notes.append(f"deterministic: CPU threads stay at {default} (Auto adapts them only without "
                                    "deterministic); on a busy machine a fixed count of 1 may train faster")
            return
        self._tuner = ThreadTuner(default, torch.set_num_threads, free_cores=CpuMeter().free)

    _threads_default = 0

    def _loop(self) -> None:
        cfg, st = self.config, self.state
        while st.epoch < cfg.epochs:
            start = self._start_batch
            if start == 0:
                self._epoch_shuffle_state = self._shuffle_gen.get_state()
                self._reset_running()
            else:
                self._shuffle_gen.set_state(self._epoch_shuffle_state)
            self._start_batch = 0
            st.step = start
            self.callbacks.call("on_epoch_start", self)
            t0 = time.perf_counter()
            outcome = self._train_epoch(start)
            self._run_seconds += time.perf_counter() - t0 - self._paused_s
            if outcome == "nan":
                self._on_nan()
                return
            if outcome == "stopped":
                st.stop_reason = "stopped_by_user"
                self._save_checkpoint(st.epoch, st.step, best=False)
                return
            stop = self._end_epoch()
            if stop is not None:
                st.stop_reason = stop
                return
        st.stop_reason = "finished"

    def _train_epoch(self, start: int) -> str:
        """One pass over the training batches from ``start``; returns "done", "stopped" or "nan"."""
        cfg, st = self.config, self.state
        model, opt = self.train_model, self.optimizer
        if self._stop.is_set():  # (before the step is made: a stop during a compile wraps nothing for torch.compile)
            return "stopped"
        step = self._train_step if self._train_step is not None else self._make_step()
        normalize = self.bundle.normalize
        augment, aug_gen = self._augmenter, self._aug_gen
        sched = self.scheduler if cfg.schedule in PER_BATCH_SCHEDULES else None
        one_hot = self.model.loss_type == "mse"
        n_classes = int(self.bundle.num_classes)
        cpu_sync = self._sync_every_batch
        memory_format = self._speed.memory_format if self._speed is not None else "contiguous"
        stop_set, pause_set = self._stop.is_set, self._pause.is_set
        on_batch_end = self.callbacks.call
        every, interval = cfg.metrics_every, cfg.metrics_interval
        nb = st.batches_per_epoch
        bs_nominal = cfg.batch_size

        # CPU: the loss is read every batch (a memory read there) and summed in Python; accelerators:
        # summed on the device (float32, started from the saved partial sum so a resume adds up alike)
        loss_sum = self._run_loss
        loss_acc = torch.full((), self._run_loss, dtype=torch.float32, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        base_correct, base_seen = self._run_correct, self._run_seen
        seen = 0
        last_loss = math.nan
        batch = start
        self._paused_s = 0.0
        t_start = time.perf_counter()
        t_sync = t_start
        tuner = self._tuner  # Auto CPU threads: told the time at batch ends when it asks (threads.py)
        due = tuner.start_epoch(t_start, 0, st.global_step) if tuner is not None else math.inf
        model.train()
        if stop_set():
            return "stopped"
        for x, y in self._batches.iter_from(start):
            # uint8 -> normalised float in the weights' layout (one kernel), augmented; then the step
            xb = prepare_batch(normalize, x, memory_format, augment, aug_gen)
            target = loss_target("mse", y, n_classes) if one_hot else y
            scores, loss, value = step(xb, target)
            if cpu_sync:
                last_loss = value
                if not math.isfinite(last_loss):
                    self._run_seen = base_seen + seen
                    return "nan"
            if sched is not None:
                sched.step()
            n = y.shape[0]
            if cpu_sync:
                loss_sum += last_loss * n
            else:
                loss_acc.add_(loss.detach().float(), alpha=n)
            correct += (scores.argmax(1) == y).sum()
            seen += n
            batch += 1
            st.step = batch
            st.global_step += 1
            now = time.perf_counter()
            if now >= due:
                due = tuner.tick(now - self._paused_s, seen, st.global_step)
            # synced: every interval (or every n batches), at an epoch's last batch, and at its first
            # (a short epoch's curve then starts at its start, not one interval in)
            if (now - t_sync >= interval if every <= 0 else batch % every == 0) or batch == nb or batch == start + 1:
                t_sync = now
                if not cpu_sync:
                    cur_loss_sum = float(loss_acc)
                    if not math.isfinite(cur_loss_sum):
                        self._run_seen = base_seen + seen
                        return "nan"
                    last_loss = float(loss.detach())
                else:
                    cur_loss_sum = loss_sum
                seen_all = base_seen + seen
                n_correct = base_correct + int(correct)
                elapsed = now - t_start - self._paused_s
                sps = seen / elapsed if elapsed > 0 else 0.0
                remaining = (nb - batch) * bs_nominal + (cfg.epochs - st.epoch - 1) * nb * bs_nominal
                val_s = self._last_val_seconds * (cfg.epochs - st.epoch) if self._has_val else 0.0
                st.train_loss = cur_loss_sum / seen_all
                st.train_accuracy = n_correct / seen_all
                st.samples_per_sec = sps
                st.eta_s = remaining / sps + val_s if sps > 0 else None
                st.lr = current_lr(opt)
                on_batch_end("on_batch_end", self, {
                    "epoch": st.epoch + 1, "batch": batch, "global_step": st.global_step, "size": n, "synced": True,
                    "loss": st.train_loss, "accuracy": st.train_accuracy, "batch_loss": last_loss,
                    "samples_per_sec": sps, "eta_s": st.eta_s, "lr": st.lr,
                })
            else:
                on_batch_end("on_batch_end", self, {"epoch": st.epoch + 1, "batch": batch, "global_step": st.global_step,
                                                    "size": n, "synced": False})
            if pause_set():
                self._wait_while_paused()
            if stop_set():
                break
        if step.fallback_note is not None and step.fallback_note not in st.notes:
            st.notes.append(step.fallback_note)
        # fold this session's sums into the epoch's running totals
        total = loss_sum if cpu_sync else float(loss_acc)
        self._run_loss = total
        self._run_correct = base_correct + int(correct)
        self._run_seen = base_seen + seen
        elapsed = time.perf_counter() - t_start - self._paused_s
        self._train_time += elapsed
        if not cpu_sync and not math.isfinite(total):
            return "nan"
        return "done" if batch >= nb else "stopped"

    _last_val_seconds = 0.0
    _paused_s = 0.0

    #: read the loss back after every batch (catches NaN before its step; free on CPU). None: on CPU only.
    #: False on CPU runs the accelerator code path (device-side sums, NaN caught at the next sync).
    sync_loss_every_batch: bool | None = None

    def _wait_while_paused(self) -> None:
        st = self.state
        t0 = time.perf_counter()
        st.paused = True
        self.callbacks.call("on_pause", self)
        while self._pause.is_set() and not self._stop.is_set():
            self._wake.wait(1.0)
        st.paused = False
        self._paused_s += time.perf_counter() - t0
        self.callbacks.call("on_resume", self)

    def _on_nan(self) -> None:
        st = self.state
        st.stop_reason = "nan_loss"
        if not _all_finite(self.model):
            self.model.load_state_dict(self._good_weights)
            when = f"the end of epoch {len(st.history)}" if st.history else "the start of the run"
            st.notes.append(f"the loss became NaN/inf; the weights went non-finite and were restored to {when}")
        else:
            st.notes.append(f"the loss became NaN/inf at epoch {st.epoch + 1}, batch {st.step + 1}; "
                            "the weights from before that step are kept; try a lower learning rate")

    def _monitor_value(self, row: dict) -> float | None:
        return _finite(row.get(self.state.monitor))

    def _end_epoch(self) -> str | None:
        """Validation, history, metrics.csv, best/early stopping, per-epoch schedule, hooks, checkpoint."""
        cfg, st = self.config, self.state
        t0 = time.perf_counter()
        loss_sum, correct, seen = self._reduce([self._run_loss, float(self._run_correct), float(self._run_seen)])
        lr_used = current_lr(self.optimizer)
        val = self._evaluate(self.bundle.val) if self._has_val else None
        self._last_val_seconds = time.perf_counter() - t0
        st.last_validation = val
        row = {
            "epoch": st.epoch + 1,
            "train_loss": _finite(loss_sum / seen) if seen else None,
            "train_accuracy": correct / seen if seen else None,
            "val_loss": val["loss"] if val else None,
            "val_accuracy": val["accuracy"] if val else None,
            "val_top5_accuracy": val["top5_accuracy"] if val else None,
            "val_per_class_accuracy": val["per_class_accuracy"] if val else None,
            "lr": lr_used,
            "seconds": self._run_seconds + self._last_val_seconds,
            "samples_per_sec": (seen / self._run_seconds) if self._run_seconds > 0 else None,
            "threads": torch.get_num_threads() if self.device.type == "cpu" else None,  # at the epoch's end
        }
        st.history.append(row)
        st.train_loss = row["train_loss"] if row["train_loss"] is not None else math.nan
        st.train_accuracy = row["train_accuracy"] if row["train_accuracy"] is not None else math.nan
        # best epoch, early-stopping count, best weights: the built-in callbacks (builtin_callbacks.py)
        self._epoch_end_builtins.call("on_epoch_end", self, row)
        improved, value = self._best.improved, self._best.value
        stop = "early_stopping" if self._early.should_stop else None
        if self.scheduler is not None and cfg.schedule not in PER_BATCH_SCHEDULES:
            if cfg.schedule == "plateau":
                if value is not None:
                    self.scheduler.step(value)
            else:
                self.scheduler.step()
        st.lr = current_lr(self.optimizer)
        self._good_weights = _cpu_copy(self.model)
        st.eta_s = (cfg.epochs - st.epoch - 1) * row["seconds"]
        self.callbacks.call("on_epoch_end", self, dict(row, val_confusion_matrix=val["confusion_matrix"] if val else None))
        done_epoch = st.epoch + 1
        st.epoch = done_epoch
        st.step = 0
        if stop is None and self._stop.is_set():
            stop = "stopped_by_user" if done_epoch < cfg.epochs else None
        # the epoch-end transaction (see recovery.py): last.pt commits the epoch (its history row, best
        # epoch, early-stopping count); metrics.csv and best.pt follow and can be redone from it
        self._commit_builtins.call("on_epoch_commit", self, {
            "epoch": done_epoch, "last": done_epoch >= cfg.epochs, "stop": stop, "improved": improved, "saved": False})
        return stop

    def _finish(self) -> None:
        st = self.state
        if st.stop_reason in ("finished", "early_stopping"):
            last = len(st.history)
            # which weights the test figure is for: "best" when they are those of checkpoints/best.pt
            # (restored, or the last epoch was the best), else "last"; summary.json says so
            self._test_weights, self._test_epoch = ("best" if st.best_epoch == last else "last"), last
            if self._best_weights_cb.restore(self):
                st.notes.append(f"restored the weights of the best epoch ({st.best_epoch}) before testing")
                self._test_weights, self._test_epoch = "best", st.best_epoch
            if getattr(self.bundle, "test", None) is not None and len(self.bundle.test.y) > 0:
                st.test_metrics = self._evaluate(self.bundle.test)

