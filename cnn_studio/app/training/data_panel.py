"""Data panel: choose the built-in ``shapes`` set or import a file/folder, preview samples with their
labels, class counts, image size and channels, split and normalisation settings, and augmentation
toggles with a live preview of augmented samples.

Loading runs in a QThread (with progress and cancel); the GUI thread only receives numpy copies.
"""
from __future__ import annotations

import threading
import traceback

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

FORMATS = ("auto", "shapes", "folder", "idx", "cifar", "csv", "npz")
AUG_FIELDS = (
    ("shift", "Shift", 0.0, 0.5, 0.1, "Move the image by up to this fraction of its size."),
    ("zoom", "Zoom", 0.0, 0.9, 0.2, "Zoom in or out by up to this fraction."),
    ("rotate", "Rotate (°)", 0.0, 180.0, 10.0, "Rotate by up to this many degrees."),
    ("brightness", "Brightness", 0.0, 1.0, 0.2, "Change brightness by up to this fraction."),
    ("contrast", "Contrast", 0.0, 1.0, 0.2, "Change contrast by up to this fraction."),
)
PREVIEW_COUNT = 24
SOURCE_MIN_CHARS = 18  # the source field shows at least this many characters of a path


def rgb_icon(img_chw_uint8: np.ndarray, size: int = 64) -> QIcon:
    """A (C, H, W) uint8 image as an icon (gray or RGB), scaled without smoothing."""
    img = np.asarray(img_chw_uint8)
    if img.shape[0] == 1:
        arr = np.ascontiguousarray(img[0])
        q = QImage(arr.data, arr.shape[1], arr.shape[0], arr.strides[0], QImage.Format.Format_Grayscale8).copy()
    else:
        arr = np.ascontiguousarray(np.transpose(img[:3], (1, 2, 0)))
        q = QImage(arr.data, arr.shape[1], arr.shape[0], arr.strides[0], QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(q).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))


class DataLoadWorker(QObject):
    """Loads a data set in a worker thread; emits a small, copied summary for the preview."""

    progress = Signal(int, int, str)
    loaded = Signal(object)  # dict summary (numpy copies)
    failed = Signal(str, str)

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.cancel = threading.Event()
        self.bundle = None

    @Slot()
    def run(self) -> None:
        try:
            from ...core.errors import StudioError
            from ...data import load_dataset
            from .worker import single_threaded_torch

            single_threaded_torch()  # previews must not start a second OpenMP team (see worker.py)

            bundle = load_dataset(self.config, progress=lambda d, t, m="": self.progress.emit(int(d), int(t), str(m)), cancel=self.cancel)
            self.bundle = bundle
            n = len(bundle.train.y)
            rng = np.random.default_rng(0)
            idx = np.sort(rng.choice(n, size=min(PREVIEW_COUNT, n), replace=False)) if n else np.zeros(0, int)
            samples, labels = [], []
            for i in idx:
                x, y = bundle.sample("train", int(i))
                samples.append(x.cpu().numpy().copy())
                labels.append(int(y))
            self.loaded.emit(
                {
                    "class_names": list(bundle.class_names),
                    "counts": {s: bundle.class_counts(s) for s in ("train", "val", "test") if getattr(bundle, s, None) is not None},
                    "sizes": {s: len(getattr(bundle, s).y) for s in ("train", "val", "test") if getattr(bundle, s, None) is not None},
                    "shape": tuple(bundle.input_shape()),
                    "mean": list(bundle.mean),
                    "std": list(bundle.std),
                    "samples": samples,
                    "labels": labels,
                    "warnings": list(bundle.warnings),
                    "description": getattr(bundle, "source_description", ""),
                }
            )
        except StudioError as e:
            self.failed.emit(str(e), traceback.format_exc())
        except Exception as e:
            self.failed.emit(f"Could not load the data: {type(e).__name__}: {e}", traceback.format_exc())


class DataPanel(QWidget):
    """Data source, split, normalisation and augmentation settings with previews."""

    changed = Signal()
    loaded = Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: DataLoadWorker | None = None
        self.summary: dict | None = None
        self.target_shape: tuple[int, int, int] | None = None  # the network's input (C, H, W)

        lay = QVBoxLayout(self)
        src = QGroupBox("Data source")
        f = QFormLayout(src)
        # in a dock narrower than the form, a label goes above its field instead of the field
        # being cut off on the right
        f.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.source = QLineEdit("shapes")
        self.source.setToolTip("'shapes' (built in, no download) or a path: an image folder with one subfolder per class, MNIST IDX files, CIFAR binaries, CSV or NPZ")
        # a path gets the field's whole row (beside its buttons it was squeezed to ~40 px)
        self.source.setMinimumWidth(self.source.fontMetrics().horizontalAdvance("x" * SOURCE_MIN_CHARS))
        f.addRow("Source", self.source)
        # a source that cannot be used is said here as soon as it is entered (not in a dialog on F5)
        self.source_error = QLabel("")
        self.source_error.setWordWrap(True)
        self.source_error.setObjectName("source_error")
        self.source_error.setVisible(False)
        f.addRow("", self.source_error)
        self._checked_source = "shapes"
        row = QHBoxLayout()
        self.browse_folder = QPushButton("Folder…")
        self.browse_file = QPushButton("File…")
        self.builtin = QPushButton("Built-in")
        self.browse_folder.setToolTip("Choose an image folder (one subfolder per class)")
        self.browse_file.setToolTip("Choose a data file: MNIST IDX, CIFAR binary, CSV or NPZ")
        self.builtin.setToolTip("Use the built-in 'shapes' set (generated on this machine, no download)")
        for w in (self.browse_folder, self.browse_file, self.builtin):
            row.addWidget(w)
        row.addStretch(1)
        f.addRow("", row)
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.format.setToolTip("Detected from the path when 'auto'")
        f.addRow("Format", self.format)
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.01, 0.9)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(0.1)
        self.val_fraction.setToolTip("Share of the training images held out (stratified by class) to validate on")
        f.addRow("Validation share", self.val_fraction)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        f.addRow("Split seed", self.seed)
        self.normalize = QCheckBox("Per channel")
        self.normalize.setToolTip("Subtract each channel's mean and divide by its standard deviation, both measured on the training split")
        self.normalize.setChecked(True)
        f.addRow("Normalise", self.normalize)
        self.on_corrupt = QComboBox()
        self.on_corrupt.addItems(("skip", "stop"))
        self.on_corrupt.setToolTip("Unreadable images: skip and count them, or stop with the file's name")
        f.addRow("Corrupt images", self.on_corrupt)
        lay.addWidget(src)

        aug = QGroupBox("Augmentation (training only)")
        af = QFormLayout(aug)
        af.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        flips = QHBoxLayout()
        self.hflip = QCheckBox("Horizontal")
        self.vflip = QCheckBox("Vertical")
        self.hflip.setToolTip("Mirror images left to right at random")
        self.vflip.setToolTip("Mirror images top to bottom at random")
        flips.addWidget(self.hflip)
        flips.addWidget(self.vflip)
        af.addRow("Flips", flips)
        self.aug_on: dict[str, QCheckBox] = {}
        self.aug_strength: dict[str, QDoubleSpinBox] = {}
        for key, label, lo, hi, default, tip in AUG_FIELDS:
            r = QHBoxLayout()
            on = QCheckBox()
            s = QDoubleSpinBox()
            s.setRange(lo, hi)
            s.setSingleStep(hi / 20)
            s.setValue(default)
            s.setEnabled(False)
            on.toggled.connect(s.setEnabled)
            on.setToolTip(tip)
            s.setToolTip(tip)
            r.addWidget(on)
            r.addWidget(s, 1)
            af.addRow(label, r)
            self.aug_on[key] = on
            self.aug_strength[key] = s
        lay.addWidget(aug)

        buttons = QHBoxLayout()
        self.load_button = QPushButton("Load preview")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        lay.addWidget(self.progress)
        self.info = QLabel("Built-in 'shapes': procedurally drawn geometric shapes, generated on this machine.")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.preview = self._icon_list()
        lay.addWidget(QLabel("Samples"))
        lay.addWidget(self.preview, 2)
        lay.addWidget(QLabel("Augmented (a fresh draw on every change)"))
        self.aug_preview = self._icon_list()
        lay.addWidget(self.aug_preview, 1)

        self._aug_timer = QTimer(self)
        self._aug_timer.setSingleShot(True)
        self._aug_timer.setInterval(120)
        self._aug_timer.timeout.connect(self._on_aug_timer_timeout)
        self._aug_draw = 0

        self.browse_folder.clicked.connect(self._on_browse_folder_clicked)
        self.browse_file.clicked.connect(self._on_browse_file_clicked)
        self.builtin.clicked.connect(lambda: self.set_source("shapes"))
        self.load_button.clicked.connect(self.load_preview)
        self.cancel_button.clicked.connect(self.cancel_loading)
        for w in (self.hflip, self.vflip, *self.aug_on.values()):
            w.toggled.connect(self._on_augment_changed)
        for w in self.aug_strength.values():
            w.valueChanged.connect(self._on_augment_changed)
        self.source.editingFinished.connect(self._on_source_editing_finished)
        for w in (self.format, self.on_corrupt):
            w.currentIndexChanged.connect(self.changed)
        for w in (self.val_fraction, self.seed):
            w.valueChanged.connect(self.changed)
        self.normalize.toggled.connect(self.changed)

    @staticmethod
    def _icon_list() -> QListWidget:
        w = QListWidget()
        w.setViewMode(QListWidget.ViewMode.IconMode)
        w.setIconSize(QSize(56, 56))
        w.setResizeMode(QListWidget.ResizeMode.Adjust)
        w.setMovement(QListWidget.Movement.Static)
        w.setSpacing(4)
        w.setMinimumHeight(90)
        return w

    # ------------------------------------------------------------------ settings
    def set_source(self, path: str) -> None:
        self.source.setText(str(path))
        self.format.setCurrentText("auto")
        self._source_entered()
        self.changed.emit()

    @Slot()
    def _on_source_editing_finished(self) -> None:
        self._source_entered()
        self.changed.emit()

    def _source_entered(self) -> None:
        """A new source: check it at once, and drop the preview of the old one."""
        text = self.source.text().strip() or "shapes"
        if text != self._checked_source:
            self._checked_source = text
            self.clear_preview()
        self.check_source()

    def source_problem(self) -> str:
        """Why the source cannot be used, found without reading it ('' when it may be): a path that
        does not exist. (What a file holds is checked when it is loaded.)"""
        from pathlib import Path

        text = self.source.text().strip() or "shapes"
        if text.lower() == "shapes":
            return ""
        try:
            exists = Path(text).expanduser().exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            return f"'{text}' does not exist: check the path, choose it with Folder… or File…, or click Built-in for the built-in data set."
        return ""

    def check_source(self) -> str:
        """Show (or clear) the source's problem beside the field; returns it."""
        from ..theme import colours

        problem = self.source_problem()
        self.source_error.setText(problem)
        self.source_error.setStyleSheet(f"color: {colours().error.name()}")
        self.source_error.setVisible(bool(problem))
        return problem

    def clear_preview(self) -> None:
        """Forget the previewed data (its samples, counts and augmented draws)."""
        self.summary = None
        self.preview.clear()
        self.aug_preview.clear()
        self.info.setText("Load preview to see samples of this data.")

    def ask_path(self, folder: bool) -> str | None:
        """File/folder dialog; overridable so tests can answer without a modal loop."""
        if folder:
            return QFileDialog.getExistingDirectory(self, "Choose a data folder") or None
        path, _ = QFileDialog.getOpenFileName(self, "Choose a data file", "", "Data (*.npz *.csv *.gz *-ubyte *.bin);;All files (*)")
        return path or None

    @Slot()
    def _on_browse_folder_clicked(self) -> None:
        p = self.ask_path(True)
        if p:
            self.set_source(p)

    @Slot()
    def _on_browse_file_clicked(self) -> None:
        p = self.ask_path(False)
        if p:
            self.set_source(p)

    def augment_dict(self) -> dict:
        d = {"hflip": self.hflip.isChecked(), "vflip": self.vflip.isChecked()}
        for key, *_ in AUG_FIELDS:
            d[key] = float(self.aug_strength[key].value()) if self.aug_on[key].isChecked() else 0.0
        return d

    def config_dict(self) -> dict:
        c, h, w = self.target_shape or (None, None, None)
        return {
            "source": self.source.text().strip() or "shapes",
            "format": self.format.currentText(),
            "channels": c,
            "height": h,
            "width": w,
            "val_fraction": float(self.val_fraction.value()),
            "seed": int(self.seed.value()),
            "normalize": self.normalize.isChecked(),
            "on_corrupt": self.on_corrupt.currentText(),
            "augment": self.augment_dict(),
        }

    def data_config(self):
        from ...data import DataConfig

        return DataConfig.from_dict(self.config_dict())

    def set_config(self, d: dict) -> None:
        d = dict(d or {})
        widgets = [self.source, self.format, self.val_fraction, self.seed, self.normalize, self.on_corrupt, self.hflip, self.vflip, *self.aug_on.values(), *self.aug_strength.values()]
        for w in widgets:
            w.blockSignals(True)
        try:
            self.source.setText(str(d.get("source", "shapes")))
            self.format.setCurrentText(str(d.get("format", "auto")))
            self.val_fraction.setValue(float(d.get("val_fraction", 0.1)))
            self.seed.setValue(int(d.get("seed", 0)))
            self.normalize.setChecked(bool(d.get("normalize", True)))
            self.on_corrupt.setCurrentText(str(d.get("on_corrupt", "skip")))
            aug = d.get("augment") or {}
            self.hflip.setChecked(bool(aug.get("hflip", False)))
            self.vflip.setChecked(bool(aug.get("vflip", False)))
            for key, *_ in AUG_FIELDS:
                v = float(aug.get(key, 0.0) or 0.0)
                self.aug_on[key].setChecked(v > 0)
                self.aug_strength[key].setEnabled(v > 0)
                if v > 0:
                    self.aug_strength[key].setValue(v)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._source_entered()

    # ------------------------------------------------------------------ loading
    @property
    def loading(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    @Slot()
    def load_preview(self) -> DataLoadWorker | None:
        if self.loading:
            return self._worker
        try:
            cfg = self.data_config()
        except Exception as e:  # DataError from from_dict: show it on the panel
            self.info.setText(str(e))
            return None
        self._join()
        thread = QThread()
        worker = DataLoadWorker(cfg)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_worker_progress)
        worker.loaded.connect(self._on_worker_loaded)
        worker.failed.connect(self._on_worker_failed)
        worker.loaded.connect(thread.quit)
        worker.failed.connect(thread.quit)
        self._thread, self._worker = thread, worker
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.load_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.info.setText("Loading…")
        thread.start()
        return worker

    @Slot()
    def cancel_loading(self) -> None:
        if self._worker is not None:
            self._worker.cancel.set()

    def _join(self) -> None:
        if self._thread is not None:
            if self._worker is not None:
                self._worker.cancel.set()
            self._thread.quit()
            self._thread.wait()
            self._thread = None

    def shutdown(self) -> None:
        self._join()
        self._worker = None

    def _loading_done(self) -> None:
        self.progress.setVisible(False)
        self.load_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    @Slot(int, int, str)
    def _on_worker_progress(self, done: int, total: int, message: str) -> None:
        if total:
            self.progress.setValue(int(1000 * done / total))
        self.progress.setFormat(f"{message or 'Loading'} {done}/{total}")

    @Slot(str, str)
    def _on_worker_failed(self, message: str, details: str) -> None:
        self._loading_done()
        self.info.setText(message)
        self._join()

    @Slot(object)
    def _on_worker_loaded(self, summary: dict) -> None:
        self._loading_done()
        self._join()
        self.summary = summary
        names = summary["class_names"]
        self.preview.clear()
        for img, label in zip(summary["samples"], summary["labels"]):
            item = QListWidgetItem(rgb_icon(img), names[label] if label < len(names) else str(label))
            item.setData(Qt.ItemDataRole.UserRole, label)
            self.preview.addItem(item)
        c, h, w = summary["shape"]
        counts = summary["counts"].get("train", [])
        sizes = ", ".join(f"{k} {v:,}" for k, v in summary["sizes"].items())
        per_class = ", ".join(f"{n}: {k}" for n, k in zip(names, counts))
        warn = ("\nWarnings: " + "; ".join(summary["warnings"])) if summary["warnings"] else ""
        self.info.setText(f"{len(names)} classes · {c} channel{'s' if c > 1 else ''} · {h}x{w} pixels · {sizes}\nTraining images per class: {per_class}{warn}")
        self._refresh_augmented()
        self.loaded.emit(summary)

    # ------------------------------------------------------------------ augmentation preview
    @Slot()
    def _on_augment_changed(self, *args) -> None:
        self.changed.emit()
        self._aug_timer.start()

    @Slot()
    def _on_aug_timer_timeout(self) -> None:
        self._refresh_augmented()

    def _refresh_augmented(self) -> None:
        self.aug_preview.clear()
        if not self.summary or not self.summary["samples"]:
            return
        import torch

        from ...data import AugmentConfig, Augmenter

        aug = AugmentConfig.from_dict(self.augment_dict())
        x = torch.from_numpy(np.stack(self.summary["samples"][:8])).float() / 255.0
        self._aug_draw += 1
        if aug.enabled():
            x = Augmenter(aug)(x, torch.Generator().manual_seed(self._aug_draw))
        out = (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        names = self.summary["class_names"]
        for img, label in zip(out, self.summary["labels"]):
            self.aug_preview.addItem(QListWidgetItem(rgb_icon(img), names[label]))
