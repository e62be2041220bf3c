"""Run the headless Trainer in a worker thread and turn its hooks into Qt signals.

Follows the pattern of DESIGN.md: a ``QObject`` worker moved to a ``QThread``, slots decorated
with ``@Slot``, signals that carry plain Python values or numpy copies, a reference kept to the
thread, and ``quit()`` + ``wait()`` on teardown. The trainer's own stop/pause events are
thread-safe, so the GUI thread calls ``request_stop``/``request_pause`` directly; they take effect
within one batch.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot


_TRAIN_THREADS: int | None = None  # torch's default intra-op thread count, read before we change it

# While a run goes, the GUI thread hands the GIL back to the training thread after at most 1 ms of
# Python (instead of 5 ms): the training thread's OpenMP team idles while it waits for the GIL, so
# the GUI's Python bursts (a plot frame) cost training twice. About +1.5 % samples/s in
# benchmarks/app_training.py; event-loop latency unchanged.
RUN_SWITCH_INTERVAL_S = 0.001


def prepare_torch() -> None:
    """Import torch and the parts it loads lazily on first use, in the calling (GUI) thread, and
    keep that thread single-threaded in torch.

    A first-time import of a large package inside the training thread, while the GUI thread runs
    Qt's event loop, can deadlock under PySide6 (its import hook and the GIL); the first optimizer
    construction imports ``torch._dynamo`` lazily, so it is loaded here too. About 2 s the first
    time, nothing after that.
    """
    global _TRAIN_THREADS
    import torch
    import torch._dynamo  # noqa: F401

    from ... import data, training  # noqa: F401

    if _TRAIN_THREADS is None:
        _TRAIN_THREADS = torch.get_num_threads()
        single_threaded_torch()
        freeze_long_lived_objects()


def freeze_long_lived_objects() -> None:
    """Move every object alive now (modules, classes, Qt wrappers, torch) out of the cyclic garbage
    collector's view. With torch and the window loaded, one full collection walks ~340,000 objects
    and holds the GIL for ~130 ms: the window froze and training stalled that long, now and then,
    mid-run. Called once the app has loaded (start-up, then torch): later collections walk only
    newer objects. Objects frozen here are not collected if they become garbage, so this is done
    only at those two points, after a collection."""
    import gc

    gc.collect()
    gc.freeze()


def single_threaded_torch() -> None:
    """Torch ops of the calling thread run on that thread alone (no OpenMP team).

    Every thread that runs a parallel torch op gets its own OpenMP team; once a process holds more
    OpenMP threads than CPUs, libgomp throttles every team's spin-wait, so each parallel region of
    the training thread pays a wake-up: lenet5 trained at half speed in a worker thread on 2 cores.
    The GUI thread and the helper threads (previews, inspection) call this before their first op,
    so the training thread's team is the only one.
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def own_torch_threads(n: int) -> int:
    """Give the calling thread ``n`` intra-op threads for good; returns what torch then reports.

    torch sets a thread's OpenMP thread count lazily, at its first parallel op, to the count *last
    set by any thread*. A helper thread calling ``single_threaded_torch()`` between this thread's
    ``set_num_threads(n)`` and its first op would leave it with 1 thread: the first app run after
    another one trained lenet5 at 60 % speed that way. Reading the count first does the lazy
    initialisation now, so the ``set_num_threads(n)`` after it is final.
    """
    import torch

    torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


def training_threads() -> int:
    if _TRAIN_THREADS is None:
        prepare_torch()
    return int(_TRAIN_THREADS or 1)


def _feature_nodes(model, limit_values: int = 2_000_000) -> list[str]:
    """Nodes whose feature maps are snapshotted each epoch (all map-shaped outputs, within a budget)."""
    out, total = [], 0
    for nid, _, _ in model._plan:
        shape = model.node_shapes.get(nid)
        if shape is None or len(shape) != 3 or nid == model.input_node_id:
            continue
        n = shape[0] * shape[1] * shape[2]
        if total + n > limit_values:
            break
        out.append(nid)
        total += n
    return out


class _Runner(QObject):
    """The part that lives in the training thread. Its signals are internal: the public
    :class:`TrainingWorker` re-emits them from the GUI thread."""

    data_progress = Signal(int, int, str)
    phase = Signal(str)
    phase_progress = Signal(dict)
    started = Signal(dict)
    batch_done = Signal(dict)
    epoch_done = Signal(dict)
    feature_maps = Signal(int, dict)
    paused_changed = Signal(bool)
    checkpoint_saved = Signal(str)
    finished = Signal(dict)
    failed = Signal(str, str)

    def __init__(self, graph_config: dict, data_config, train_config, run_dir, resume, live_maps_interval: float):
        super().__init__()
        self.graph_config = graph_config
        self.data_config = data_config
        self.train_config = train_config
        self.run_dir = run_dir
        self.resume = resume
        self.trainer = None
        self.live_maps_interval = live_maps_interval
        self._lock = threading.Lock()
        self._pinned = None  # uint8 CHW tensor of the sample whose maps refresh live
        self._live_node: str | None = None
        self._stop_early = threading.Event()
        # the network as it starts, copied on the CPU by the training thread before its first step
        # (for the inspection views: the GUI thread copying it mid-run raced the optimizer and held
        # the GIL for as long as the copy took)
        self.inspect_model = None

    @Slot()
    def run(self) -> None:
        try:
            from ...core.errors import StudioError
            from ...data import load_dataset
            from ...training import Trainer

            # The training thread keeps the normal priority. Niced (it used to be, +5), it gained the
            # window nothing (event-loop latency p99 3.3 vs 3.8 ms, max 25 vs 7 ms) and lost to any
            # other busy process: with one CPU-bound process beside it on 2 cores the app trained at
            # 0.41x the command line's speed, at normal priority 1.05x.
            # this thread's own intra-op count: the settings' value, else torch's default
            own_torch_threads(int(getattr(self.train_config, "num_threads", None) or training_threads()))

            def progress(done, total, message=""):
                self.data_progress.emit(int(done), int(total), str(message))

            bundle = load_dataset(self.data_config, progress=progress, cancel=self._stop_early)
            if self._stop_early.is_set():
                self.finished.emit({"stop_reason": "stopped_by_user", "epochs_completed": 0})
                return
            trainer = Trainer(
                self.graph_config, bundle, self.train_config, self.run_dir, callbacks=[_Adapter(self)],
                resume=self.resume, data_config=self.data_config,
            )
            self.trainer = trainer
            if self._stop_early.is_set():
                trainer.request_stop()
            summary = trainer.fit()
            self.finished.emit(dict(summary or {}))
        except StudioError as e:  # a refused init_from names the app's way out, not the command line's
            message = e.for_front_end("app") if hasattr(e, "for_front_end") else str(e)
            self.failed.emit(message, traceback.format_exc())
        except Exception as e:  # anything else is a bug or an environment problem: show, don't crash
            self.failed.emit(f"Training failed: {type(e).__name__}: {e}", traceback.format_exc())

    def _maps_for(self, trainer, nodes: list[str]) -> dict:
        import torch

        with self._lock:
            sample = self._pinned
        if sample is None or not nodes:
            return {}
        model = trainer.model
        was = model.training
        model.eval()
        try:
            with torch.inference_mode():
                x = trainer.bundle.normalize(sample.unsqueeze(0).to(trainer.device))
                _, cap = model.forward_capture(x, nodes)
        finally:
            model.train(was)
        return {k: v[0].float().cpu().numpy().copy() for k, v in cap.items()}


def _make_adapter_class():
    """The Trainer callback that emits the worker's signals. Built lazily: importing this module
    must not import torch (the GUI paints before torch loads)."""
    from ...training import Callback

    class Adapter(Callback):
        def __init__(self, runner: _Runner):
            self.w = runner
            self._last_maps = 0.0
            self._snapshot_nodes: list[str] = []

        def on_fit_start(self, trainer):
            st = trainer.state
            b = trainer.bundle
            with self.w._lock:
                if self.w._pinned is None:  # until the user picks one: the first validation sample
                    split = "val" if b.val is not None and len(b.val.y) else "train"
                    self.w._pinned = b.sample(split, 0)[0]
            self._snapshot_nodes = _feature_nodes(trainer.model)
            try:
                from ...inspection.model import InspectModel

                self.w.inspect_model = InspectModel.from_trainer(trainer)
            except Exception:  # the views then go without a model until the run ends; training goes on
                self.w.inspect_model = None
            self.w.started.emit(
                {
                    "epochs": st.epochs,
                    "epoch": st.epoch,
                    "batches_per_epoch": st.batches_per_epoch,
                    "device": st.device,
                    "run_dir": str(trainer.run_dir.path) if trainer.run_dir is not None else "",
                    "notes": list(st.notes),
                    "history": [dict(h) for h in st.history],
                    "class_names": list(getattr(trainer.bundle, "class_names", [])),
                }
            )
            maps = self.w._maps_for(trainer, self._snapshot_nodes)
            if maps:
                self.w.feature_maps.emit(st.epoch, maps)

        def on_batch_end(self, trainer, m):
            if not m.get("synced"):
                return
            self.w.batch_done.emit({k: v for k, v in m.items() if isinstance(v, (int, float, bool, str)) or v is None})
            now = time.monotonic()
            node = self.w._live_node
            if node and now - self._last_maps >= self.w.live_maps_interval:
                self._last_maps = now
                maps = self.w._maps_for(trainer, [node])
                if maps:
                    self.w.feature_maps.emit(-1, maps)

        def on_epoch_end(self, trainer, row):
            out = {k: v for k, v in row.items() if isinstance(v, (int, float, str)) or v is None}
            val = trainer.state.last_validation or {}
            if "confusion_matrix" in val:
                out["confusion_matrix"] = [list(map(int, r)) for r in val["confusion_matrix"]]
            self.w.epoch_done.emit(out)
            maps = self.w._maps_for(trainer, self._snapshot_nodes)
            if maps:
                self.w.feature_maps.emit(int(row.get("epoch", trainer.state.epoch)), maps)

        def on_checkpoint(self, trainer, path):
            self.w.checkpoint_saved.emit(str(path))

        def on_speed_probe(self, trainer):  # the trainer's optional hook: a timed speed probe starts (speed.py)
            self.w.phase.emit("speed_probe")

        def on_speed_progress(self, trainer, info):  # which mode the probe times now, or a compile (speed.py)
            self.w.phase_progress.emit({k: v for k, v in info.items() if isinstance(v, (int, float, str)) or v is None})

        def on_pause(self, trainer):
            self.w.paused_changed.emit(True)

        def on_resume(self, trainer):
            self.w.paused_changed.emit(False)

    return Adapter


def _Adapter(runner: _Runner):
    return _make_adapter_class()(runner)


class TrainingWorker(QObject):
    """One training run, as the GUI sees it. Lives in the GUI thread: its signals are re-emitted
    here from the thread-side runner's, so every receiver (slots, plain callables, test helpers)
    runs in the GUI thread. Signals carry plain values and numpy copies."""

    data_progress = Signal(int, int, str)
    phase = Signal(str)  # a step before training that takes a while: "speed_probe" (Stop cancels it)
    phase_progress = Signal(dict)  # within it: {"stage": "timing", "mode", "round", "rounds", "fraction"} or
    # {"stage": "compiling", "mode", "expected_s" (None: short)}
    started = Signal(dict)  # state at fit start: epochs, batches_per_epoch, device, run_dir, history
    batch_done = Signal(dict)  # synced batch metrics (floats), every TrainConfig.metrics_interval (the panel's: 4 Hz)
    epoch_done = Signal(dict)  # epoch metrics row (+ the validation confusion matrix)
    feature_maps = Signal(int, dict)  # (epoch, or -1 for a live refresh; {node_id: float32 (C,h,w)})
    paused_changed = Signal(bool)
    checkpoint_saved = Signal(str)
    finished = Signal(dict)  # summary
    failed = Signal(str, str)  # user message, details (traceback)

    def __init__(self, graph_config: dict, data_config, train_config, run_dir: str | None = None, resume=None, live_maps_interval: float = 1.0):
        super().__init__()
        self.runner = _Runner(graph_config, data_config, train_config, run_dir, resume, live_maps_interval)
        r = self.runner
        r.data_progress.connect(self._on_runner_data_progress)
        r.phase.connect(self._on_runner_phase)
        r.phase_progress.connect(self._on_runner_phase_progress)
        r.started.connect(self._on_runner_started)
        r.batch_done.connect(self._on_runner_batch_done)
        r.epoch_done.connect(self._on_runner_epoch_done)
        r.feature_maps.connect(self._on_runner_feature_maps)
        r.paused_changed.connect(self._on_runner_paused_changed)
        r.checkpoint_saved.connect(self._on_runner_checkpoint_saved)
        r.finished.connect(self._on_runner_finished)
        r.failed.connect(self._on_runner_failed)

    @property
    def trainer(self):
        return self.runner.trainer

    @property
    def live_maps_interval(self) -> float:
        return self.runner.live_maps_interval

    @live_maps_interval.setter
    def live_maps_interval(self, v: float) -> None:
        self.runner.live_maps_interval = v

    # ---- control, from the GUI thread (thread-safe: events and a lock) ---------------------------
    def pin_sample(self, sample_uint8, node_id: str | None) -> None:
        with self.runner._lock:
            self.runner._pinned = sample_uint8
            self.runner._live_node = node_id

    def request_stop(self) -> None:
        self.runner._stop_early.set()
        t = self.runner.trainer
        if t is not None:
            t.request_stop()

    def request_pause(self) -> None:
        t = self.runner.trainer
        if t is not None:
            t.request_pause()

    def request_resume(self) -> None:
        t = self.runner.trainer
        if t is not None:
            t.request_resume()

    # ---- relays (queued from the training thread) -------------------------------------------------
    @Slot(int, int, str)
    def _on_runner_data_progress(self, a, b, c):
        self.data_progress.emit(a, b, c)

    @Slot(str)
    def _on_runner_phase(self, p):
        self.phase.emit(p)

    @Slot(dict)
    def _on_runner_phase_progress(self, info):
        self.phase_progress.emit(info)

    @Slot(dict)
    def _on_runner_started(self, d):
        self.started.emit(d)

    @Slot(dict)
    def _on_runner_batch_done(self, d):
        self.batch_done.emit(d)

    @Slot(dict)
    def _on_runner_epoch_done(self, d):
        self.epoch_done.emit(d)

    @Slot(int, dict)
    def _on_runner_feature_maps(self, e, m):
        self.feature_maps.emit(e, m)

    @Slot(bool)
    def _on_runner_paused_changed(self, p):
        self.paused_changed.emit(p)

    @Slot(str)
    def _on_runner_checkpoint_saved(self, p):
        self.checkpoint_saved.emit(p)

    @Slot(dict)
    def _on_runner_finished(self, d):
        self.finished.emit(d)

    @Slot(str, str)
    def _on_runner_failed(self, a, b):
        self.failed.emit(a, b)


class TrainingController(QObject):
    """GUI-thread owner of one training run: creates the thread and worker, forwards control calls,
    and joins the thread cleanly (``shutdown``) on stop or close."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self._switch_interval: float | None = None  # Python's, to restore when the run ends

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self, worker: TrainingWorker) -> TrainingWorker:
        if self.running:
            raise RuntimeError("a training run is already in progress")
        self.shutdown()
        prepare_torch()
        thread = QThread()
        thread.setObjectName("cnn-studio-training")
        worker.runner.moveToThread(thread)
        thread.started.connect(worker.runner.run)
        worker.runner.finished.connect(thread.quit)
        worker.runner.failed.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self.thread, self.worker = thread, worker
        if self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(RUN_SWITCH_INTERVAL_S)
        thread.start()
        return worker

    @Slot()
    def _on_thread_finished(self) -> None:
        self._restore_switch_interval()

    def _restore_switch_interval(self) -> None:
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.request_stop()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop the run (if any), quit and wait for the thread. True when no thread is left."""
        thread, worker = self.thread, self.worker
        if thread is None:
            return True
        if worker is not None:
            worker.request_stop()
        thread.quit()
        ok = thread.wait(timeout_ms)
        if ok:
            self.thread = None
            self.worker = None
            self._restore_switch_interval()
        return ok
