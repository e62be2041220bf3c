"""What the inspection views share: one trained (or training) network with everything needed to feed
it and to explain it. Qt-free: the command line builds the same object.

``InspectModel`` holds the compiled model (CPU, eval mode), its graph and analysis (receptive fields),
class names, the normalisation of the run (mean/std), and optionally the data set bundle (the samples
to browse and evaluate). Build it from a run folder (:meth:`InspectModel.from_run`), from a live
trainer (:meth:`InspectModel.from_trainer`, a copy of the weights at that moment) or from a model.

All methods that run the network take uint8 images (C, H, W) as the data set stores them and
normalise them here, exactly as the training loop does, so every view shows what the network sees.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import StudioError

SPLITS = ("val", "test", "train")
SPLIT_TITLES = {"val": "validation", "test": "test", "train": "training", "all": "all"}


class InspectError(StudioError):
    """Something asked of the inspection cannot be done; str() is for the user."""


@dataclass
class RunInfo:
    run_dir: str | None = None
    checkpoint: str | None = None
    config: dict = field(default_factory=dict)
    data_error: str | None = None  # why the data set could not be loaded (the model still works)

    @property
    def weights(self) -> str | None:
        """"best" or "last": which checkpoint of the run was loaded (None for a live network)."""
        stem = os.path.splitext(os.path.basename(self.checkpoint or ""))[0]
        return stem if stem in ("best", "last") else None

    @property
    def weights_epoch(self) -> int | None:
        """The epoch the loaded weights are from, as the run's summary.json records it."""
        import json

        if not self.run_dir or self.weights is None:
            return None
        try:
            with open(os.path.join(self.run_dir, "summary.json"), encoding="utf-8") as f:
                summary = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(summary, dict):
            return None
        value = summary.get("best_epoch") if self.weights == "best" else summary.get("epochs_completed")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class InspectModel:
    def __init__(self, model, graph=None, class_names=None, mean=None, std=None, bundle=None, analysis=None, info: RunInfo | None = None, resize: str | None = None):
        from ..core.analysis import analyze
        from ..core.graph import Graph

        self.model = model.eval()
        if graph is None:
            graph = Graph.from_config(model.graph_config)
        self.graph = graph
        self.analysis = analysis if analysis is not None else analyze(graph)
        self.bundle = bundle
        n = self.num_classes
        names = list(class_names) if class_names else list(getattr(bundle, "class_names", []) or [])
        if len(names) != n:
            names = [str(i) for i in range(n)]
        self.class_names: list[str] = [str(c) for c in names]
        if mean is None and bundle is not None:
            mean = getattr(bundle, "mean", None)
        if std is None and bundle is not None:
            std = getattr(bundle, "std", None)
        self.mean = _floats(mean)
        self.std = _floats(std)
        self.info = info or RunInfo()
        self.resize = resize or (self.info.config.get("data") or {}).get("resize") or "bilinear"
        self._norm_cache = None

    # ---- construction ----------------------------------------------------------------------------
    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, load_data: bool = True, data=None, progress: Callable | None = None, cancel=None, strict: bool = False,
                 weights: str = "best") -> InspectModel:
        """The best (else last) checkpoint of a run folder, with its data set when ``load_data``;
        ``weights="last"`` prefers the last epoch's. ``info.weights`` says which were loaded.

        ``data`` replaces the run's data settings (a DataConfig or a dict). When the data cannot be
        loaded, ``strict`` raises; otherwise the model is returned without samples and
        ``info.data_error`` says why."""
        from ..compiler.export import ExportSource, load_run
        from ..compiler.importer import adapt_state_dict

        if weights not in ("best", "last"):
            raise StudioError(f"weights must be 'best' or 'last', not {weights!r}")
        graph, state, config = load_run(run_dir, weights=weights)
        state = adapt_state_dict(graph, state, config["checkpoint"])
        model = ExportSource(graph, state, True, "").model()
        info = RunInfo(str(run_dir), config.get("checkpoint"), config)
        bundle = None
        if load_data:
            try:
                bundle = load_bundle(config, data, progress=progress, cancel=cancel, input_shape=tuple(model.input_shape))
            except StudioError as e:
                if strict or _is_cancel(e):
                    raise
                info.data_error = str(e)
        return cls(model, graph, config.get("class_names"), config.get("mean"), config.get("std"), bundle, info=info)

    @classmethod
    def from_trainer(cls, trainer, copy_weights: bool = True) -> InspectModel:
        """A snapshot of a (possibly training) Trainer's network on the CPU, with its data set."""
        model = trainer.model
        if copy_weights:
            model = copy.deepcopy(model).cpu()
        run = getattr(trainer, "run_dir", None)
        info = RunInfo(str(run.path) if run is not None else None, None, {"data": trainer.data_config.to_dict() if getattr(trainer, "data_config", None) is not None else {}})
        b = trainer.bundle
        return cls(model, trainer.graph, list(getattr(b, "class_names", []) or []), getattr(b, "mean", None), getattr(b, "std", None), b, info=info)

    @classmethod
    def from_graph(cls, graph, seed: int = 0, **kw) -> InspectModel:
        """An untrained network (seeded weights): useful to look at shapes and receptive fields."""
        import torch

        from ..compiler import compile_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = compile_model(graph)
        return cls(model, graph, **kw)

    # ---- network facts ---------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.model.input_shape)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return int(self.model.node_shapes[self.model.output_source_id][0])

    def class_name(self, i: int) -> str:
        return self.class_names[i] if 0 <= i < len(self.class_names) else str(i)

    def node_type(self, node_id: str) -> str:
        info = self.analysis.nodes.get(node_id)
        return info.type if info is not None else "?"

    def node_title(self, node_id: str) -> str:
        from ..core.layers import get_spec, has_spec

        t = self.node_type(node_id)
        return f"{get_spec(t).title if has_spec(t) else t} '{node_id}'"

    def layer_nodes(self) -> list[str]:
        """Node ids that produce an output worth looking at, in forward order (not the input)."""
        return [nid for nid, _, _ in self.model._plan if nid != self.model.input_node_id and nid in self.model.node_shapes]

    def has_node(self, node_id: str) -> bool:
        return node_id in self.model._slot

    def node_shape(self, node_id: str) -> tuple:
        return tuple(self.model.node_shapes[node_id])

    def conv_layers(self) -> list[str]:
        """Nodes with feature-map outputs (Grad-CAM candidates), in forward order."""
        from . import conv_layers

        return conv_layers(self.model)

    def conv_modules(self) -> list[tuple[str, Any]]:
        """(node id, nn.Conv2d) of every convolution, in forward order."""
        from torch import nn

        out = []
        for nid, _, _ in self.model._plan:
            m = self.model.module_for(nid)
            if isinstance(m, nn.Conv2d):
                out.append((nid, m))
        return out

    def rf_box(self, node_id: str, y: int, x: int) -> tuple[int, int, int, int] | None:
        """Input-pixel box (top, left, bottom, right; inclusive, clipped to the image) that output
        unit (y, x) of ``node_id`` sees, from the core analysis; None when unknown."""
        info = self.analysis.nodes.get(node_id)
        if info is None or info.rf is None:
            return None
        return rf_box(info.rf, y, x, self.input_shape[1], self.input_shape[2])

    def rf_size(self, node_id: str) -> tuple[int, int] | None:
        info = self.analysis.nodes.get(node_id)
        return tuple(info.rf.size) if info is not None and info.rf is not None else None  # type: ignore[return-value]

    # ---- data ------------------------------------------------------------------------------------
    def splits(self) -> list[str]:
        """Names of the non-empty splits of the data set (validation first)."""
        out = []
        if self.bundle is None:
            return out
        for name in SPLITS:
            s = getattr(self.bundle, name, None)
            if s is not None and len(s.y):
                out.append(name)
        return out

    def split(self, name: str):
        """The data set's split (``.y`` labels; ``.x`` uint8 images, None when streamed from disk)."""
        s = getattr(self.bundle, name, None) if self.bundle is not None and name in SPLITS else None
        if s is None or not len(s.y):
            have = ", ".join(self.splits()) or "none"
            raise InspectError(f"the data has no {SPLIT_TITLES.get(name, name)} split (splits with samples: {have})")
        return s

    def default_split(self, prefer_test: bool = False) -> str | None:
        names = self.splits()
        order = ("test", "val", "train") if prefer_test else ("val", "test", "train")
        return next((n for n in order if n in names), None)

    def sample(self, split: str, index: int):
        """(uint8 (C, H, W) tensor, label) of sample ``index`` of ``split``."""
        s = self.split(split)
        n = len(s.y)
        if not 0 <= index < n:
            raise InspectError(f"sample {index} is out of range: the {SPLIT_TITLES.get(split, split)} split has {n} samples (0 to {n - 1})")
        if getattr(s, "x", None) is not None:
            return s.x[index], int(s.y[index])
        return self.bundle.sample(split, index)  # streamed: decoded from disk

    def labels(self, split: str) -> np.ndarray:
        return np.asarray(self.split(split).y).astype(np.int64)

    def load_image(self, path):
        """An image file preprocessed as in training: the model's channels and size, uint8 (C, H, W)."""
        from .preprocess import load_image

        return load_image(path, self.input_shape, self.resize)

    def drawing_to_input(self, gray: np.ndarray, fit: bool = True):
        from .preprocess import array_to_input

        return array_to_input(gray, self.input_shape, self.resize, fit=fit)

    # ---- running the network ----------------------------------------------------------------------
    def normalize(self, x_uint8):
        """uint8 (C, H, W) or (N, C, H, W) -> float32 (N, C, H, W), as the training loop feeds it:
        ``(x/255 - mean)/std`` with the run's mean and std (the data package's own formula), so
        another data set is fed with the statistics the network was trained with."""
        import torch

        x = x_uint8 if isinstance(x_uint8, torch.Tensor) else torch.as_tensor(np.asarray(x_uint8))
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if self.mean is None or self.std is None:
            if self.bundle is not None and hasattr(self.bundle, "normalize"):
                return self.bundle.normalize(x).float()
            return x.float() / 255.0
        if self._norm_cache is None or self._norm_cache[0].shape[1] != x.shape[1]:
            c = x.shape[1]
            mean = torch.tensor(_fit(self.mean, c), dtype=torch.float32)
            std = torch.tensor(_fit(self.std, c), dtype=torch.float32)
            std = torch.where(std > 0, std, torch.ones_like(std))
            scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1)
            shift = (-mean / std).view(1, -1, 1, 1)
            self._norm_cache = (scale, shift)
        scale, shift = self._norm_cache
        return torch.addcmul(shift.to(x.device), x.to(torch.float32), scale.to(x.device))

    def feature_maps(self, x_uint8, node_id: str) -> np.ndarray:
        from . import feature_maps

        return feature_maps(self.model, self.normalize(x_uint8), node_id)

    def capture(self, x_uint8, node_ids) -> dict[str, np.ndarray]:
        """Outputs of several nodes for one image in one forward pass."""
        import torch

        x = self.normalize(x_uint8)
        with torch.inference_mode():
            _, cap = self.model.forward_capture(x, list(node_ids))
        return {k: v[0].float().cpu().numpy().copy() for k, v in cap.items()}

    def predict(self, x_uint8, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (class indices, probabilities) of one image, best first."""
        from . import predict

        idx, p = predict(self.model, self.normalize(x_uint8), k)
        return idx[0], p[0]

    def grad_cam(self, x_uint8, target: int, node_id: str) -> np.ndarray:
        from . import grad_cam

        return grad_cam(self.model, self.normalize(x_uint8), target, node_id)

    def saliency(self, x_uint8, target: int) -> np.ndarray:
        from . import saliency

        return saliency(self.model, self.normalize(x_uint8), target)

    def integrated_gradients(self, x_uint8, target: int, steps: int = 64) -> np.ndarray:
        """Integrated Gradients from the mean-colour baseline (Captum), H x W in [0, 1]."""
        from .attributions import integrated_gradients

        return integrated_gradients(self.model, self.normalize(x_uint8), target, steps)

    def occlusion(self, x_uint8, target: int, window: int | None = None) -> np.ndarray:
        """Occlusion sensitivity (Captum): the drop of the class score, H x W in [0, 1]."""
        from .attributions import occlusion

        return occlusion(self.model, self.normalize(x_uint8), target, window)

    def explain(self, x_uint8, method: str, target: int, layer: str | None = None) -> np.ndarray:
        """The map of ``method`` (gradcam, saliency, ig, occlusion; attributions.METHODS)."""
        from .attributions import explain

        return explain(self.model, self.normalize(x_uint8), method, target, layer)


# ---- evaluation -----------------------------------------------------------------------------------
@dataclass
class EvalResult:
    split: str
    labels: np.ndarray
    preds: np.ndarray
    confs: np.ndarray
    summary: dict  # accuracy, per_class, confusion_matrix, samples
    probs: np.ndarray | None = None  # (samples, classes) softmax probabilities: ROC / PR curves

    def curves(self) -> list[dict]:
        """Per class, one against the rest: ROC (fpr, tpr, auc) and precision-recall (precision,
        recall, ap) of the class's probability; computed once and kept."""
        from . import one_vs_rest

        if self.probs is None:
            raise InspectError("this evaluation kept no class probabilities; evaluate again for ROC and precision-recall curves")
        cached = getattr(self, "_curves", None)
        if cached is None:
            cached = one_vs_rest(self.labels, self.probs, [d["class"] for d in self.summary["per_class"]])
            self._curves = cached
        return cached

    @property
    def confusion(self) -> np.ndarray:
        return np.asarray(self.summary["confusion_matrix"], dtype=np.int64)

    def cell(self, true_class: int, pred_class: int) -> np.ndarray:
        """Indices of the samples of one confusion-matrix cell, most confident first."""
        from . import misclassified

        return misclassified(self.labels, self.preds, self.confs, true_class, pred_class)

    def mistakes(self, true_class: int | None = None) -> np.ndarray:
        """Indices of all wrong predictions (optionally of one true class), most confident first."""
        from . import misclassified

        return misclassified(self.labels, self.preds, self.confs, true_class, None)

    def to_json(self) -> dict:
        return {
            "split": self.split,
            "samples": int(self.summary["samples"]),
            "accuracy": float(self.summary["accuracy"]),
            "per_class": self.summary["per_class"],
            "confusion_matrix": self.summary["confusion_matrix"],
            **(self._curve_json() if self.probs is not None and len(self.labels) else {}),
        }

    def _curve_json(self) -> dict:
        """One-vs-rest ROC AUC and average precision per class and their macro means (null where
        a class has no samples in the split: its curves are undefined)."""
        from .evaluation import macro_mean

        curves = self.curves()

        def num(v):
            return float(v) if np.isfinite(v) else None

        return {"roc_auc": [num(c["auc"]) for c in curves], "average_precision": [num(c["ap"]) for c in curves],
                "macro_roc_auc": num(macro_mean(c["auc"] for c in curves)), "macro_average_precision": num(macro_mean(c["ap"] for c in curves))}


def evaluate(imodel: InspectModel, split: str, batch_size: int = 256, progress: Callable | None = None, cancel=None) -> EvalResult:
    """Predict every sample of a split (in chunks, so ``progress(done, total, message)`` is called
    and ``cancel`` (an Event or a callable) is honoured between chunks)."""
    from . import predict_all, summarize

    s = imodel.split(split)
    labels = np.asarray(s.y).astype(np.int64)
    n = len(labels)
    if labels.size and (labels.max() >= imodel.num_classes):
        raise InspectError(
            f"the {SPLIT_TITLES.get(split, split)} data has labels up to {int(labels.max())} but the network has {imodel.num_classes} classes; evaluate it on data with the classes it was trained on"
        )
    is_cancelled = _cancel_fn(cancel)
    preds, confs, probs = [], [], []
    chunk = max(batch_size, 1) * 4
    title = SPLIT_TITLES.get(split, split)
    done = 0
    for xb in _chunks(s, chunk):
        if is_cancelled():
            raise EvaluationCancelled()
        p, c, pr = predict_all(imodel.model, xb, imodel.normalize, batch_size=batch_size, return_probs=True)
        preds.append(p)
        confs.append(c)
        probs.append(pr)
        done += len(xb)
        if progress is not None:
            progress(done, n, f"evaluating the {title} split")
    if is_cancelled():
        raise EvaluationCancelled()
    preds_a = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    confs_a = np.concatenate(confs) if confs else np.zeros(0, np.float32)
    probs_a = np.concatenate(probs) if probs else np.zeros((0, imodel.num_classes), np.float32)
    summary = summarize(labels, preds_a, imodel.num_classes, imodel.class_names)
    return EvalResult(split, labels, preds_a, confs_a, summary, probs_a)


class EvaluationCancelled(InspectError):
    def __init__(self, message: str = "the evaluation was cancelled"):
        super().__init__(message)


# ---- helpers --------------------------------------------------------------------------------------
def load_bundle(config: dict, data=None, progress=None, cancel=None, input_shape=None):
    """The data set a run was trained on (``config["data"]``), or ``data`` instead (DataConfig or
    dict), converted to the model's input shape."""
    try:
        from ..data import DataConfig, load_dataset
    except ImportError as e:  # the data package is not installed or incomplete
        raise InspectError(f"the data sets cannot be loaded: {e}") from None
    if data is None:
        d = config.get("data")
        if not isinstance(d, dict):
            raise InspectError("the run does not record which data it was trained on (no \"data\" in config.json); pick a data set")
        dc = DataConfig.from_dict(d)
    elif isinstance(data, dict):
        dc = DataConfig.from_dict(data)
    else:
        dc = data
    if input_shape is not None:
        c, h, w = input_shape
        changes = {}
        if dc.channels is None or dc.channels != c:
            changes["channels"] = c if c in (1, 3) else dc.channels
        if dc.height != h:
            changes["height"] = h
        if dc.width != w:
            changes["width"] = w
        if changes:
            dc = DataConfig.from_dict({**dc.to_dict(), **changes})
    return load_dataset(dc, progress=progress, cancel=cancel)


def _chunks(split, size: int):
    """uint8 image batches of a split in order: slices in memory, decoded batches when streamed."""
    if getattr(split, "x", None) is not None:
        for i in range(0, len(split.y), size):
            yield split.x[i : i + size]
        return
    from ..data import BatchIterator

    for xb, _ in BatchIterator(split, size, shuffle=False, num_workers=0):
        yield xb


def rf_box(rf, y: int, x: int, height: int, width: int) -> tuple[int, int, int, int]:
    """Clip RF.region(y, x) to the image; whole pixels, inclusive (a box of at least one pixel)."""
    import math

    top, left, bottom, right = rf.region(y, x)
    t = int(math.floor(top + 1e-9))
    l_ = int(math.floor(left + 1e-9))
    b = int(math.ceil(bottom - 1e-9))
    r = int(math.ceil(right - 1e-9))
    t, l_ = max(0, t), max(0, l_)
    b, r = min(height - 1, b), min(width - 1, r)
    if b < t:
        b = t = min(max(t, 0), height - 1)
    if r < l_:
        r = l_ = min(max(l_, 0), width - 1)
    return t, l_, b, r


def _floats(v) -> list[float] | None:
    if v is None:
        return None
    try:
        import torch

        if isinstance(v, torch.Tensor):
            v = v.flatten().tolist()
    except ImportError:
        pass
    if isinstance(v, np.ndarray):
        v = v.flatten().tolist()
    if isinstance(v, (int, float)):
        return [float(v)]
    if isinstance(v, (list, tuple)) and v:
        return [float(x) for x in v]
    return None


def _fit(vals: list[float], c: int) -> list[float]:
    return vals if len(vals) == c else [float(np.mean(vals))] * c


def _cancel_fn(cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if hasattr(cancel, "is_set"):
        return cancel.is_set
    return cancel


def _is_cancel(e: Exception) -> bool:
    return type(e).__name__ in ("DataCancelled", "EvaluationCancelled")
