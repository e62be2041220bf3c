"""Training panel: settings form, run controls (Train/Pause/Stop), progress and live curves.

The panel owns a :class:`TrainingController`; the main window gives it the graph and data settings
through ``start_training`` and listens to ``run_started``/``run_finished`` to make the canvas
read-only while a run is going. Nothing here imports torch until a run starts, except the device
probe, which imports it in a background thread after the window has painted.
"""
from __future__ import annotations

import math
import os
import time

from PySide6.QtCore import QThread, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from .curves import RunCurves
from .worker import TrainingController, TrainingWorker

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
WITH_MOMENTUM = ("sgd", "rmsprop")  # Adam and AdamW have betas, no momentum setting
READY_TEXT = "Press Train (F5) to start."
# a failed run's bar: red, so "failed" never reads as a full blue bar of success
FAILED_BAR_STYLE = "QProgressBar::chunk { background-color: #dc2626; }"
SCHEDULES = ("constant", "step", "cosine", "onecycle", "plateau")
MONITORS = ("val_loss", "val_accuracy")

STOP_TEXT = {
    "finished": "Finished",
    "early_stopping": "Stopped early: the validation metric stopped improving",
    "stopped_by_user": "Stopped by you (a resumable checkpoint was written)",
    "nan_loss": "Stopped: the loss became NaN or infinite; the last good weights were kept. Try a lower learning rate",
    "error": "Stopped by an error",
}


SPEED_MODES = (("eager", "Eager"), ("auto", "Auto (timed probe)"), ("compile", "Compiled"),
               ("channels_last", "Channels last"))
PRECISION_MODES = (("fp32", "FP32"), ("bf16", "BF16"), ("fp16", "FP16 (CUDA)"), ("auto", "Auto"))
PROBE_TEXT = "Choosing the fastest way to run this network…"


SPEED_TIP = (
    "How each training step runs. Eager: the plain NCHW layout (channels, then rows, then columns), "
    "the same result run after run. Channels last: images stored pixel by pixel with their channels "
    "together (NHWC), which many CPU and GPU convolution kernels compute faster. Auto: the run starts with "
    "a short timed probe of a few steps in each layout (on copies, the run itself is untouched) and keeps "
    "the faster one, and compiles the network when the run is long enough to repay the compile time; the "
    "choice and its reason go to the run's notes. Compiled: torch.compile turns the network into fused "
    "kernels (tens of seconds at the start; needs a C++ compiler on CPU). Timing can pick differently from "
    "run to run and the layouts round differently, so runs in Auto are not bit-reproducible across runs.")
PRECISION_TIP = (
    "The number format of the arithmetic. FP32: 32-bit floats. BF16: autocast computes convolutions and "
    "matrix products in bfloat16 (16 bits, fp32's range with fewer digits), often faster, while the "
    "weights stay fp32. FP16: CUDA mixed precision (float16 with a gradient scaler), CUDA only; on other "
    "devices the run trains in FP32 and its notes say so. Auto: the speed probe also tries the reduced "
    "precisions the device has and keeps one only when it is faster and its loss stays within 5% of fp32's; "
    "such runs are not bit-reproducible across runs.")
FP16_OFF_TIP = "FP16 mixed precision runs on CUDA only; choose a CUDA device (on CPU, BF16 is the reduced precision)."
FROZEN_BN_TIP = (
    "Batch normalization in a frozen layer (Inspector: Trainable off) normalises with the mean and variance "
    "it learned before, and keeps them: the frozen layer computes exactly what it computed before "
    "fine-tuning, which is what a pretrained network expects. Off: its running statistics follow the new "
    "data (its weights still stay fixed), which can help when the new images look very different, but "
    "small batches make those statistics noisy. Only layers that are frozen are affected (CLI: "
    "--frozen-bn-train turns this off).")
BF16_OFF_TIP = ("This processor has no native bf16 (AVX-512 BF16 or AMX): bf16 would be emulated and "
                "slower than FP32. Auto stays on FP32 here.")


def bf16_by_device(devices: list) -> dict:
    """{device key: whether it computes bf16 natively} (speed.bf16_native); imports torch."""
    import torch

    from ...training.speed import bf16_native

    out = {}
    for key, _label in devices:
        try:
            dev = torch.device("cuda:0" if key == "auto" and torch.cuda.is_available() else "cpu" if key == "auto" else key)
            out[key] = bool(bf16_native(dev))
        except Exception:  # noqa: BLE001 - an unusual device: no bf16 claimed
            out[key] = False
    return out


class DeviceProbe(QThread):
    """Imports torch off the GUI thread and lists the devices this machine really has."""

    found = Signal(list)
    bf16 = Signal(dict)  # device key -> native bf16 (found first)

    def run(self) -> None:
        devices = [("auto", "Auto (best available)"), ("cpu", "CPU")]
        try:
            import torch

            if torch.cuda.is_available():
                for i in range(torch.cuda.device_count()):
                    devices.append((f"cuda:{i}", f"CUDA {i}: {torch.cuda.get_device_name(i)}"))
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                devices.append(("mps", "Apple GPU (MPS)"))
        except Exception:  # no torch: the list stays CPU-only, training will say why
            pass
        self.found.emit(devices)
        try:
            native = bf16_by_device(devices)
        except Exception:  # noqa: BLE001 - no torch: bf16 stays allowed, the run notes what it did
            return
        self.bf16.emit(native)


PROGRESS_HZ = 5.0
# Seconds between the live metrics a run sends the window (each a batch_done signal: a GUI-thread
# wake-up, the curves' new point, the bar). At 0.1 s (TrainConfig's default, which the command line
# keeps) the GUI thread took ~3.4 % of a core while tinyvgg trained on 2 cores; at 0.25 s ~2.2 %,
# with ~20 % fewer preemptions of the training threads. Four points a second still draw the curves
# live, and the bar repaints at most PROGRESS_HZ anyway (benchmarks/app_training.py, issue 14).
LIVE_METRICS_INTERVAL_S = 0.25


def fit_text(widget, candidates: list[str], margin: int = 12) -> str:
    """The first of ``candidates`` (most detailed first) that fits ``widget``'s width in its font,
    else the last. A progress bar's text wraps and is cut off when it is wider than the bar (the
    Training dock is narrow)."""
    fm = widget.fontMetrics()
    room = widget.width() - margin
    for text in candidates:
        if fm.horizontalAdvance(text) <= room:
            return text
    return candidates[-1] if candidates else ""


def _fmt_eta(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingSettings(QWidget):
    """Optimizer, learning rate, batch size, epochs, schedule, weight decay, early stopping, seed,
    device, CPU threads, speed mode, precision, and whether frozen layers' batch norm stays in eval mode."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        # in a dock narrower than the form, a label goes above its field (no field is cut off)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 10.0)
        self.lr.setSingleStep(1e-4)
        self.momentum = QDoubleSpinBox()
        self.momentum.setRange(0.0, 0.999)
        self.momentum.setSingleStep(0.05)
        self.weight_decay = QDoubleSpinBox()
        self.weight_decay.setDecimals(6)
        self.weight_decay.setRange(0.0, 1.0)
        self.weight_decay.setSingleStep(1e-4)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65536)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100000)
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULES)
        self.early = QCheckBox("Stop when no longer improving")
        self.frozen_bn_eval = QCheckBox("Frozen batch norm stays in eval mode")
        self.monitor = QComboBox()
        self.monitor.addItems(MONITORS)
        self.patience = QSpinBox()
        self.patience.setRange(1, 1000)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.device = QComboBox()
        # the probe adds devices later ("CUDA 0: <name>"): the box widens to its longest item
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device.addItem("Auto (best available)", "auto")
        self.device.addItem("CPU", "cpu")
        self.threads = QSpinBox()
        self.threads.setRange(0, max(1, os.cpu_count() or 1))
        self.threads.setSpecialValueText("Auto")  # 0: adapts to the free cores (training/threads.py)
        self.speed = QComboBox()
        for key, text in SPEED_MODES:
            self.speed.addItem(text, key)
        self.precision = QComboBox()
        for key, text in PRECISION_MODES:
            self.precision.addItem(text, key)
        self._bf16: dict | None = None  # device key -> native bf16, once the device probe has run
        for label, w, tip in (
            ("Optimizer", self.optimizer, "How the weights follow the gradient: SGD (with momentum) or adaptive methods (Adam, AdamW, RMSprop)."),
            ("Learning rate", self.lr, "Step size of each update; too high diverges (NaN loss), too low crawls."),
            ("Momentum", self.momentum, "SGD/RMSprop momentum: keeps moving in the recent direction."),
            ("Weight decay", self.weight_decay, "L2 penalty on the weights: a regulariser against overfitting."),
            ("Batch size", self.batch_size, "Images per optimizer step."),
            ("Epochs", self.epochs, "Passes over the training set."),
            ("LR schedule", self.schedule, "How the learning rate changes during the run."),
            ("Early stopping", self.early, "Stops training when the monitored validation metric has not improved for 'patience' epochs."),
            ("Monitor", self.monitor, "Validation metric early stopping and the best checkpoint watch."),
            ("Patience", self.patience, "Epochs without improvement before stopping."),
            ("Seed", self.seed, "Same seed, same data order, augmentation and initial weights: a repeatable run."),
            ("Device", self.device, "Where to train: the CPU or a GPU this machine has."),
            ("CPU threads", self.threads,
             "Threads torch computes with on the CPU. Auto: the run times its own batches at 1, 2, 4... threads "
             "and keeps the fastest, re-checking every epoch, so it follows the cores other programs leave free "
             "(each parallel step waits for its slowest thread: beside one busy program on 2 cores, 2 threads "
             "train many times slower than 1). A fixed count repeats a run bit for bit; Auto to float rounding."),
            ("Speed", self.speed, SPEED_TIP),
            ("Precision", self.precision, PRECISION_TIP),
            ("Frozen layers", self.frozen_bn_eval, FROZEN_BN_TIP),
        ):
            w.setToolTip(tip)
            form.addRow(label, w)
        self.set_config({})
        for w in (self.optimizer, self.schedule, self.monitor, self.device, self.speed, self.precision):
            w.currentIndexChanged.connect(self.changed)
        for w in (self.lr, self.momentum, self.weight_decay, self.batch_size, self.epochs, self.patience, self.seed, self.threads):
            w.valueChanged.connect(self.changed)
        self.early.toggled.connect(self.changed)
        self.frozen_bn_eval.toggled.connect(self.changed)
        self.early.toggled.connect(self._on_early_toggled)
        self.optimizer.currentIndexChanged.connect(self._update_applicable)
        self.device.currentIndexChanged.connect(self._update_applicable)
        self._probe: DeviceProbe | None = None
        self._update_applicable()

    @Slot(bool)
    def _on_early_toggled(self, on: bool) -> None:
        self.monitor.setEnabled(on)
        self.patience.setEnabled(on)

    def _update_applicable(self, *_) -> None:
        """Each setting is enabled only where it applies: momentum for SGD and RMSprop (Adam has
        none), CPU threads when the run may go on the CPU."""
        opt = self.optimizer.currentText()
        has = opt in WITH_MOMENTUM
        self.momentum.setEnabled(has)
        self.momentum.setToolTip("SGD/RMSprop momentum: keeps moving in the recent direction." if has
                                 else f"{opt} has no momentum setting (its betas are built in); choose SGD or RMSprop to use momentum.")
        dev = str(self.device.currentData() or "auto")
        on_cpu = dev in ("auto", "cpu")
        self.threads.setEnabled(on_cpu)
        # BF16 is offered where the device computes it natively (known once the device probe ran)
        native = True if self._bf16 is None else bool(self._bf16.get(dev, False))
        item = self.precision.model().item(self.precision.findData("bf16"))
        item.setEnabled(native)
        item.setToolTip("" if native else BF16_OFF_TIP)
        self.precision.setToolTip(PRECISION_TIP if native else f"{PRECISION_TIP}\n\nBF16 is off: {BF16_OFF_TIP}")
        cuda = dev.startswith("cuda") or (dev == "auto" and any(str(k).startswith("cuda") for k in (self._bf16 or {})))
        fp16 = self.precision.model().item(self.precision.findData("fp16"))
        fp16.setEnabled(cuda)
        fp16.setToolTip("" if cuda else FP16_OFF_TIP)

    def probe_devices(self) -> DeviceProbe:
        """List real devices in the background (imports torch off the GUI thread). Not after
        :meth:`shutdown`: a start-up timer that fires while the window is being torn down must not
        start a thread that nobody waits for."""
        if self._probe is None and not getattr(self, "_shut_down", False):
            self._probe = DeviceProbe(self)
            self._probe.found.connect(self._on_probe_found)
            self._probe.bf16.connect(self._on_probe_bf16)
            self._probe.start()
        return self._probe

    @Slot(list)
    def _on_probe_found(self, devices: list) -> None:
        current = self.device.currentData()
        self.device.blockSignals(True)
        self.device.clear()
        for key, label in devices:
            self.device.addItem(label, key)
        idx = self.device.findData(current)
        self.device.setCurrentIndex(max(0, idx))
        self.device.blockSignals(False)
        self._update_applicable()

    @Slot(dict)
    def _on_probe_bf16(self, native: dict) -> None:
        self._bf16 = dict(native)
        self._update_applicable()

    def shutdown(self) -> None:
        self._shut_down = True
        if self._probe is not None:
            self._probe.quit()
            self._probe.wait()

    def config(self) -> dict:
        return {
            "optimizer": self.optimizer.currentText(),
            "lr": float(self.lr.value()),
            "momentum": float(self.momentum.value()),
            "weight_decay": float(self.weight_decay.value()),
            "batch_size": int(self.batch_size.value()),
            "epochs": int(self.epochs.value()),
            "schedule": self.schedule.currentText(),
            "early_stopping": self.early.isChecked(),
            "monitor": self.monitor.currentText(),
            "patience": int(self.patience.value()),
            "seed": int(self.seed.value()),
            "device": self.device.currentData() or "auto",
            "num_threads": int(self.threads.value()) or None,
            "speed": self.speed.currentData() or "eager",
            "precision": self.precision.currentData() or "fp32",
            "frozen_bn_eval": self.frozen_bn_eval.isChecked(),
        }

    def set_config(self, cfg: dict) -> None:
        # the same defaults as TrainConfig (tests/app/test_adapt_input.py checks): app and CLI train alike
        d = {"optimizer": "adam", "lr": 3e-3, "momentum": 0.9, "weight_decay": 0.0, "batch_size": 64, "epochs": 10,
             "schedule": "onecycle", "early_stopping": False, "monitor": "val_loss", "patience": 5, "seed": 0, "device": "auto",
             "num_threads": None, "speed": "eager", "precision": "fp32", "frozen_bn_eval": True}
        d.update({k: v for k, v in (cfg or {}).items() if k in d})
        self.blockSignals(True)
        try:
            self.optimizer.setCurrentText(str(d["optimizer"]))
            self.lr.setValue(float(d["lr"]))
            self.momentum.setValue(float(d["momentum"]))
            self.weight_decay.setValue(float(d["weight_decay"]))
            self.batch_size.setValue(int(d["batch_size"]))
            self.epochs.setValue(int(d["epochs"]))
            self.schedule.setCurrentText(str(d["schedule"]))
            self.early.setChecked(bool(d["early_stopping"]))
            self.monitor.setCurrentText(str(d["monitor"]))
            self.patience.setValue(int(d["patience"]))
            self.seed.setValue(int(d["seed"]))
            idx = self.device.findData(d["device"])
            if idx < 0:
                self.device.addItem(str(d["device"]), d["device"])
                idx = self.device.count() - 1
            self.device.setCurrentIndex(idx)
            try:
                threads = int(d["num_threads"] or 0)
            except (TypeError, ValueError):  # a hand-edited project: Auto
                threads = 0
            self.threads.setValue(threads)
            # a hand-edited project's unknown value: the default (eager, fp32)
            self.speed.setCurrentIndex(max(0, self.speed.findData(d["speed"])))
            self.precision.setCurrentIndex(max(0, self.precision.findData(d["precision"])))
            self.frozen_bn_eval.setChecked(d["frozen_bn_eval"] is not False)  # a hand-edited non-bool: the default
        finally:
            self.blockSignals(False)
        self._on_early_toggled(self.early.isChecked())
        self._update_applicable()


class TrainingPanel(QWidget):
    """Settings, Train/Pause/Stop, progress, stop reason and live plots for one run at a time."""

    run_started = Signal()
    run_finished = Signal(dict)  # summary
    run_failed = Signal(str, str)  # message, details
    feature_maps = Signal(int, dict)
    epoch_done = Signal(dict)

    def __init__(self, parent=None, embed_plots: bool = True):
        super().__init__(parent)
        self.controller = TrainingController(self)
        self.worker: TrainingWorker | None = None
        self.last_summary: dict | None = None
        self.run_dir: str | None = None
        self._batches_per_epoch = 1
        self._epoch_offset = 0
        self._t_start = 0.0
        self._last_batch: dict = {}

        lay = QVBoxLayout(self)
        box = QGroupBox("Training settings")
        self.settings = TrainingSettings()
        QVBoxLayout(box).addWidget(self.settings)
        lay.addWidget(box)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Compile the network and train it (F5)")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.pause_button.setCheckable(True)
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        lay.addWidget(self.progress)
        self.status = QLabel(READY_TEXT)
        self.status.setWordWrap(True)
        self.status.setObjectName("trainingStatus")
        lay.addWidget(self.status)
        lay.addStretch(1)
        # The curves are wide: the main window docks them separately (``plots``); standalone, the
        # panel shows them below its controls.
        self.plots = RunCurves()
        self._progress_shown = 0.0  # time.monotonic() of the last progress-bar update
        if embed_plots:
            lay.addWidget(self.plots, 1)
        self.pause_button.toggled.connect(self._on_pause_button_toggled)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self._set_running(False)

    # ------------------------------------------------------------------ run control
    @property
    def running(self) -> bool:
        return self.controller.running

    def start_training(self, graph_config: dict, data_config, run_dir: str | None = None, resume=None, train_config: dict | None = None) -> TrainingWorker:
        """Start a run. ``data_config`` is a cnn_studio.data.DataConfig; ``train_config`` (a
        TrainConfig dict) replaces the form's settings (the Runs dock's Continue: the checkpoint's)."""
        import sys

        if "torch._dynamo" not in sys.modules:  # first run: PyTorch loads in this thread (see prepare_torch)
            from PySide6.QtCore import QCoreApplication

            from ..cursor import wait_cursor
            from .worker import prepare_torch

            self.status.setText("Loading PyTorch…")
            with wait_cursor():
                QCoreApplication.processEvents()
                prepare_torch()
        from ...training import TrainConfig

        cfg = TrainConfig.from_dict({**(train_config if train_config is not None else self.settings.config()), "metrics_interval": LIVE_METRICS_INTERVAL_S})
        # the curves are cleared once the run's network is ready (_on_worker_started): a start
        # that fails keeps the previous run's curves
        self._set_bar_failed(False)
        self._batches_seen = 0
        self._progress_shown = 0.0
        self.last_summary = None
        self.run_dir = run_dir
        self._t_start = time.monotonic()
        worker = TrainingWorker(graph_config, data_config, cfg, run_dir, resume=resume)
        worker.data_progress.connect(self._on_worker_data_progress)
        worker.phase.connect(self._on_worker_phase)
        worker.phase_progress.connect(self._on_worker_phase_progress)
        worker.started.connect(self._on_worker_started)
        worker.batch_done.connect(self._on_worker_batch_done)
        worker.epoch_done.connect(self._on_worker_epoch_done)
        worker.feature_maps.connect(self.feature_maps)
        worker.paused_changed.connect(self._on_worker_paused_changed)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        self.worker = worker
        self.controller.start(worker)
        self._set_running(True)
        self.progress.setFormat("Loading data…")
        self.status.setText("Loading data…")
        self.run_started.emit()
        return worker

    def stop_training(self) -> None:
        self.controller.stop()

    def shutdown(self) -> bool:
        """Stop and join the training thread (window close). True when no thread is left."""
        self.settings.shutdown()
        ok = self.controller.shutdown()
        self._set_running(False)
        return ok

    def _set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.settings.setEnabled(not running)
        # while a run sends metrics, its epoch points join the next batch's frame (plots.py)
        self.plots.data_interval_s = LIVE_METRICS_INTERVAL_S if running else None
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    @Slot(bool)
    def _on_pause_button_toggled(self, on: bool) -> None:
        if self.worker is None:
            return
        if on:
            self.worker.request_pause()
        else:
            self.worker.request_resume()
        self.pause_button.setText("Resume" if on else "Pause")

    @Slot()
    def _on_stop_button_clicked(self) -> None:
        self.stop_training()
        self.status.setText("Stopping after the current batch…")

    # ------------------------------------------------------------------ worker signals
    @Slot(int, int, str)
    def _on_worker_data_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setValue(int(1000 * done / total))
        self.progress.setFormat(f"Loading data {done}/{total}")
        if message:
            self.status.setText(message)

    @Slot(str)
    def _on_worker_phase(self, phase: str) -> None:
        if phase == "speed_probe":  # speed auto / precision auto: a few timed steps per mode first
            self.progress.setValue(0)
            self.progress.setFormat(fit_text(self.progress, [PROBE_TEXT, "Choosing the fastest mode…", "Timing modes…"]))
            self.progress.setToolTip(PROBE_TEXT)
            self.status.setText(f"{PROBE_TEXT} (a few timed steps in each mode; Stop cancels it)")

    @Slot(dict)
    def _on_worker_phase_progress(self, info: dict) -> None:
        """The probe's progress: the mode being timed (bar: the probe's share done), or a compile."""
        from ...training.speed import progress_text  # (torch is loaded: a run is going)

        text = progress_text(info)
        if not text:
            return
        if info.get("stage") == "timing":
            self.progress.setValue(int(1000 * min(1.0, max(0.0, float(info.get("fraction") or 0.0)))))
            short = [f"Timing {info.get('mode', '')}…", "Timing modes…"]
        else:
            self.progress.setValue(0)
            short = [f"Compiling {info.get('mode', '')}…", "Compiling…"]
        self.progress.setFormat(fit_text(self.progress, [text.split(" (")[0] + "…", *short]))
        self.progress.setToolTip(text)
        self.status.setText(f"{text}; Stop cancels it")

    @Slot(dict)
    def _on_worker_started(self, info: dict) -> None:
        self._batches_per_epoch = max(1, int(info.get("batches_per_epoch") or 1))
        self._epochs = int(info.get("epochs") or 1)
        self.run_dir = info.get("run_dir") or self.run_dir
        self.plots.clear()
        self.plots.hold(self.run_dir)
        self.progress.setValue(0)
        self.plots.begin_run(self._epochs)
        for row in info.get("history") or []:  # a resumed run shows its past
            self.plots.add_epoch(row.get("epoch", 0), row)
        self.device_text = info.get("device", "cpu")
        notes = "; ".join(info.get("notes") or [])
        self.status.setText(f"Training on {self.device_text}" + (f" ({notes})" if notes else ""))

    @Slot(dict)
    def _on_worker_batch_done(self, m: dict) -> None:
        self._last_batch = m
        self._batches_seen = getattr(self, "_batches_seen", 0) + 1
        epoch = int(m.get("epoch", 1))
        batch = int(m.get("batch", 0))
        x = (epoch - 1) + batch / self._batches_per_epoch
        if m.get("batch_loss") is not None:
            # samples/s is an average since the epoch began: after its first batch alone it is mostly
            # that batch's start-up cost, a misleading dip on the curve
            sps = m.get("samples_per_sec") if batch > 1 else None
            self.plots.add_batch(x, float(m["batch_loss"]), m.get("accuracy"), m.get("lr"), sps)
        # the bar repaints at most PROGRESS_HZ times a second (and at an epoch's last batch): a
        # QProgressBar with text costs ~2 ms a repaint, taken from training on a small machine
        now = time.monotonic()
        if now - self._progress_shown >= 1.0 / PROGRESS_HZ or batch >= self._batches_per_epoch:
            self._progress_shown = now
            self._show_progress(m)

    def _show_progress(self, m: dict) -> None:
        epoch = int(m.get("epoch", 1))
        batch = int(m.get("batch", 0))
        total = self._epochs * self._batches_per_epoch
        done = (epoch - 1) * self._batches_per_epoch + batch
        sps = m.get("samples_per_sec") or 0.0
        bar = self.progress
        ep, step, eta, dev = f"Epoch {epoch}/{self._epochs}", f"{batch}/{self._batches_per_epoch}", f"ETA {_fmt_eta(m.get('eta_s'))}", getattr(self, "device_text", "")
        full = " · ".join(p for p in (ep, f"batch {step}", eta, f"{sps:,.0f} samples/s", dev) if p)
        candidates = [  # most detailed first: the bar shows the first that fits, the tooltip all
            full,
            " · ".join(p for p in (ep, step, eta, f"{sps:,.0f}/s", dev) if p),
            " · ".join((ep, step, eta, f"{sps:,.0f}/s")),
            " · ".join((ep, step, eta)),
            " · ".join((ep, eta)),
            ep,
        ]
        # QProgressBar.setValue repaints at once (synchronously) and setFormat again later: with
        # updates off for both, the bar paints once, with the window's other updates of this wake-up
        bar.setUpdatesEnabled(False)
        try:
            bar.setValue(int(1000 * done / max(1, total)))
            bar.setFormat(fit_text(bar, candidates))
            if bar.toolTip() != full:
                bar.setToolTip(full)
        finally:
            bar.setUpdatesEnabled(True)

    @Slot(dict)
    def _on_worker_epoch_done(self, row: dict) -> None:
        self.plots.add_epoch(row.get("epoch", 0), row)
        self.epoch_done.emit(row)

    @Slot(bool)
    def _on_worker_paused_changed(self, paused: bool) -> None:
        self.status.setText("Paused" if paused else f"Training on {getattr(self, 'device_text', '')}")

    @Slot(dict)
    def _on_worker_finished(self, summary: dict) -> None:
        self.controller.shutdown()
        self.plots.redraw()
        self.last_summary = summary
        self._set_running(False)
        self._show_summary(summary, self.run_dir)
        self.run_finished.emit(summary)

    def _show_summary(self, summary: dict, run_dir: str | None) -> None:
        reason = summary.get("stop_reason", "finished")
        text = STOP_TEXT.get(reason, reason)
        best = summary.get("best_val_accuracy")
        test = summary.get("test_accuracy")
        parts = [text]
        if best is not None:
            parts.append(f"best validation accuracy {best:.1%}")
        if test is not None:  # which weights the figure is for (summary.json's test_weights/test_epoch)
            w, ep = summary.get("test_weights"), summary.get("test_epoch")
            parts.append(f"test accuracy {test:.1%}" + (f" ({w} weights, epoch {ep})" if w else ""))
        speed = summary.get("speed") if isinstance(summary.get("speed"), dict) else None
        if speed and (speed.get("source") != "setting" or speed.get("memory_format") != "contiguous"
                      or speed.get("precision") != "fp32"):  # a mode other than plain eager fp32: which and why
            parts.append(f"speed: {speed.get('reason', '')}")
        if run_dir:
            parts.append(f"run folder {run_dir}")
        self.status.setText(" · ".join(parts))
        self.progress.setFormat(text if reason != "finished" else "Finished")
        self.progress.setToolTip(" · ".join(parts))
        if reason == "finished":
            self.progress.setValue(1000)

    def _set_bar_failed(self, failed: bool) -> None:
        self.progress.setStyleSheet(FAILED_BAR_STYLE if failed else "")
        self.progress.setProperty("failed", failed)

    @Slot(str, str)
    def _on_worker_failed(self, message: str, details: str) -> None:
        self.controller.shutdown()
        self._set_running(False)
        self.status.setText(message)
        started = getattr(self, "_batches_seen", 0) > 0
        if not started:  # nothing was trained: an empty bar, not the data loader's full one
            self.progress.setValue(0)
        self._set_bar_failed(True)
        self.progress.setFormat("Stopped by an error" if started else "Could not start: see below")
        self.progress.setToolTip(message)
        self.run_failed.emit(message, details)

    # ------------------------------------------------------------------ the source shown
    def show_source(self, src) -> None:
        """Between runs, the summary line and the bar say what the app state shows: nothing yet
        (ready to train) or a run (its summary). A run going shows its own progress."""
        if self.running:
            return
        if src.kind == "nothing":
            self._set_bar_failed(False)
            self.progress.setValue(0)
            self.progress.setFormat("Ready")
            self.progress.setToolTip("")
            self.status.setText(READY_TEXT)
        elif src.kind == "run" and src.summary and src.summary.get("stop_reason") != "error":
            self._show_summary(src.summary, src.run_dir)
