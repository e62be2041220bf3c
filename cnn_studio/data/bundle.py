"""``load_dataset``: read a source, convert it to the model's shape, split it, measure it."""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ._util import Reporter, check_memory
from .cache import cache_path, load_cache, save_cache
from .config import DataConfig
from .convert import convert_array
from .detect import check_format, detect_format
from .errors import DataError
from .raw import RawData, RawSplit

STATS_SAMPLE = 2000  # images decoded to measure mean/std of a streamed training split


class _TensorPairs(torch.utils.data.Dataset):
    """Map-style view of an in-memory split: items are (uint8 CHW tensor, int label)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


class Split:
    """One split of a data set. In memory: ``x`` is a uint8 NCHW tensor. Streaming: ``x`` is None and
    ``dataset`` decodes images from disk. ``y`` (int64) is always in memory."""

    def __init__(self, name: str, y: torch.Tensor, x: torch.Tensor | None = None,
                 dataset: torch.utils.data.Dataset | None = None):
        self.name = name
        self.x = x
        self.y = y
        self._dataset = dataset

    @property
    def streaming(self) -> bool:
        return self.x is None

    @property
    def dataset(self) -> torch.utils.data.Dataset:
        """A torch map-style Dataset of (uint8 CHW tensor, int label) for this split."""
        if self._dataset is None:
            self._dataset = _TensorPairs(self.x, self.y)
        return self._dataset

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        shape = "streamed" if self.x is None else "x".join(map(str, self.x.shape[1:]))
        return f"Split({self.name!r}, {len(self)} samples, {shape})"


class DatasetBundle:
    """What ``load_dataset`` returns: the splits plus everything a model and a UI need to know."""

    def __init__(self, train: Split, val: Split, test: Split | None, class_names: list[str], channels: int,
                 height: int, width: int, mean: list[float], std: list[float], warnings: list[str],
                 source_description: str, config: DataConfig | None = None, format: str = ""):
        self.train, self.val, self.test = train, val, test
        self.class_names = list(class_names)
        self.channels, self.height, self.width = channels, height, width
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        self.warnings = list(warnings)
        self.source_description = source_description
        self.config = config
        self.format = format
        self._norm_cache: dict = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def streaming(self) -> bool:
        return self.train.streaming

    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    def split(self, name: str) -> Split:
        """``"train"``, ``"val"`` (or ``"validation"``) or ``"test"``."""
        key = {"validation": "val", "valid": "val"}.get(name, name)
        if key not in ("train", "val", "test"):
            raise DataError(f"unknown split '{name}'; use train, val or test")
        s = getattr(self, key)
        if s is None:
            raise DataError(f"this data set has no {key} split ({self.source_description})")
        return s

    def class_counts(self, split: str = "train") -> list[int]:
        return torch.bincount(self.split(split).y, minlength=self.num_classes).tolist()

    def normalize(self, x: torch.Tensor, memory_format: torch.memory_format | None = None) -> torch.Tensor:
        """uint8 (or 0..255 float) NCHW or CHW -> float32 ``(x/255 - mean)/std`` on x's device.

        One kernel: ``addcmul`` reads the bytes and writes float32 (no float copy of the batch first);
        ``memory_format`` (e.g. ``torch.channels_last`` for a 4-d batch) is the layout it writes."""
        key = (x.device, x.dim())
        if key not in self._norm_cache:
            mean = torch.tensor(self.mean, dtype=torch.float32)
            std = torch.tensor(self.std, dtype=torch.float32)
            shape = (1, -1, 1, 1) if x.dim() == 4 else (-1, 1, 1)
            scale = (1.0 / (255.0 * std)).view(shape).to(x.device)
            shift = (-mean / std).view(shape).to(x.device)
            self._norm_cache[key] = (scale, shift)
        scale, shift = self._norm_cache[key]
        if x.dtype == torch.uint8 or x.dtype == torch.float32:  # promoted to float32 inside the kernel
            if memory_format is None:
                return torch.addcmul(shift, x, scale)
            out = torch.empty(x.shape, dtype=torch.float32, device=x.device, memory_format=memory_format)
            return torch.addcmul(shift, x, scale, out=out)
        y = torch.addcmul(shift, x.to(torch.float32), scale)
        return y if memory_format is None else y.contiguous(memory_format=memory_format)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of ``normalize``: float NCHW/CHW -> float pixel values in 0..255 (not clamped)."""
        shape = (1, -1, 1, 1) if x.dim() == 4 else (-1, 1, 1)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return (x * std + mean) * 255.0

    def sample(self, split: str, index: int) -> tuple[torch.Tensor, int]:
        """(uint8 CHW tensor, label) of one sample."""
        s = self.split(split)
        if not -len(s) <= index < len(s):
            raise DataError(f"sample {index} does not exist; the {s.name} split has {len(s)} samples")
        if s.x is not None:
            return s.x[index], int(s.y[index])
        img, label = s.dataset[index % len(s)]
        return img, int(label)

    def info(self) -> dict:
        """JSON-safe summary for CLIs and dialogs."""
        return {
            "source": self.source_description, "format": self.format, "input_shape": list(self.input_shape()),
            "classes": self.class_names, "train": len(self.train), "val": len(self.val),
            "test": len(self.test) if self.test is not None else None, "streaming": self.streaming,
            "mean": self.mean, "std": self.std, "warnings": self.warnings,
        }

    def __repr__(self) -> str:
        return (f"DatasetBundle({self.channels}x{self.height}x{self.width}, {self.num_classes} classes, "
                f"train={len(self.train)}, val={len(self.val)}, test={len(self.test) if self.test else None})")


# ---------------------------------------------------------------------------------------------------
def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices), both sorted. Each class gives round(n_c * fraction) samples to
    validation, at least one when it has two or more samples and fraction > 0, never all of them."""
    y = np.asarray(y)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x5A1]))
    val_parts = []
    if fraction > 0:
        for k in np.unique(y):
            idx = np.nonzero(y == k)[0]
            if len(idx) < 2:
                continue
            n_val = min(max(int(math.floor(len(idx) * fraction + 0.5)), 1), len(idx) - 1)
            val_parts.append(rng.permutation(idx)[:n_val])
    val = np.sort(np.concatenate(val_parts)) if val_parts else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(y), dtype=bool)
    mask[val] = False
    return np.nonzero(mask)[0], val


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and std (0..1 units) of a uint8 NCHW tensor, via 256-bin histograms."""
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    mean, std = [], []
    for c in range(x.shape[1]):
        h = torch.bincount(x[:, c].reshape(-1), minlength=256).to(torch.float64)
        n = h.sum()
        m = (h * levels).sum() / n
        v = (h * (levels - m) ** 2).sum() / n
        mean.append(float(m))
        std.append(float(v.sqrt()))
    return mean, std


def _shapes_raw(config: DataConfig, rep: Reporter) -> RawData:
    from .shapes import CLASS_NAMES, GENERATOR_VERSION, generate_shapes

    h, w = config.height or 32, config.width or 32
    notes: list[str] = []
    key = dict(kind="shapes", seed=config.seed, train=config.shapes_train, test=config.shapes_test, h=h, w=w,
               version=GENERATOR_VERSION)
    fp = f"shapes-v{GENERATOR_VERSION}"
    try:
        cpath = cache_path("shapes", key)
    except OSError:
        cpath = None
    cached = load_cache(cpath, fp) if cpath is not None else None
    if cached is not None:
        xtr, ytr, xte, yte = cached["x_train"], cached["y_train"], cached["x_test"], cached["y_test"]
        how = "from the cache"
    else:
        check_memory((config.shapes_train + config.shapes_test) * h * w * 3,
                     f"the built-in shapes set of {config.shapes_train} + {config.shapes_test} images of {h}x{w}")
        xtr, ytr = generate_shapes(config.shapes_train, config.seed, h, w, rep, stream=0)
        xte, yte = generate_shapes(config.shapes_test, config.seed, h, w, rep, stream=1)
        how = "generated"
        if cpath is not None:
            warn = save_cache(cpath, dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte), fp)
            if warn:
                notes.append(warn)
    test = RawSplit(xte, yte.astype(np.int64)) if len(yte) else None
    desc = (f"built-in shapes (seed {config.seed}): {len(ytr)} training and {len(yte)} test images of {h}x{w} RGB, "
            f"{len(CLASS_NAMES)} classes, {how}")
    return RawData(train=RawSplit(xtr, ytr.astype(np.int64)), test=test, class_names=list(CLASS_NAMES),
                   description=desc, warnings=notes)


def _import(fmt: str, config: DataConfig, rep: Reporter) -> RawData:
    if fmt == "shapes":
        return _shapes_raw(config, rep)
    path = Path(config.source).expanduser()
    if not path.exists():
        raise DataError(f"'{path}' does not exist; check the path, or use 'shapes' for the built-in data set")
    if fmt == "folder":
        from .folder import load_folder

        if not path.is_dir():
            raise DataError(f"'{path}' is a file; the folder format needs a folder with one subfolder per class")
        return load_folder(path, config, rep)
    if fmt == "idx":
        from .idx import load_idx

        return load_idx(path, rep)
    if fmt == "cifar":
        from .cifar import load_cifar

        return load_cifar(path, rep)
    if fmt == "csv":
        from .csvfile import load_csv

        return load_csv(path, rep, config.label_column, config.height, config.width)
    if fmt == "npz":
        from .npzfile import load_npz

        return load_npz(path, rep, config.height, config.width)
    raise DataError(f"unknown data format '{fmt}'")


def _stream_stats(ds, indices: np.ndarray, workers: int | None, rep: Reporter) -> tuple[list[float], list[float]]:
    """Per-channel mean/std of the images ``indices`` of a streaming dataset, decoded in a thread pool."""
    n = len(indices)

    def work(chunk):
        local = None
        for i in chunk:
            img, _ = ds[int(i)]
            hc = torch.stack([torch.bincount(img[c].reshape(-1), minlength=256) for c in range(img.shape[0])])
            local = hc if local is None else local + hc
        return local

    chunks = np.array_split(indices, max(1, n // 64))
    nw = min(8, os.cpu_count() or 1) if workers is None else max(1, workers)
    hist, done = None, 0
    pool = ThreadPoolExecutor(max_workers=nw, thread_name_prefix="cnn-studio-stats")
    try:
        futures = [(len(ch), pool.submit(work, ch)) for ch in chunks]
        for size, fut in futures:
            part = fut.result()
            hist = part if hist is None else hist + part
            done += size
            rep(done, n, "Measuring mean and std of the training images")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    levels = torch.arange(256, dtype=torch.float64) / 255.0
    h = hist.to(torch.float64)
    tot = h.sum(1)
    m = (h * levels).sum(1) / tot
    v = (h * (levels[None] - m[:, None]) ** 2).sum(1) / tot
    return m.tolist(), v.sqrt().tolist()


def load_dataset(config: DataConfig | dict | None = None, progress=None, cancel=None) -> DatasetBundle:
    """Load, convert, split and measure a data set.

    progress(done, total, message) is called from the calling thread during long steps; ``cancel`` is a
    callable returning True, or a ``threading.Event``, checked between steps and chunks: when set,
    ``DataCancelled`` is raised. Bad input raises ``DataError`` with a message for the user.
    """
    if config is None:
        config = DataConfig()
    elif isinstance(config, dict):
        config = DataConfig.from_dict(config)
    config.validate()
    rep = Reporter(progress, cancel)
    rep.check()
    fmt = detect_format(config.source) if config.format == "auto" else check_format(config.format)
    raw = _import(fmt, config, rep)
    notes = list(raw.warnings)
    if config.stream and raw.stream is None:
        notes.append("streaming applies to image folders only; this data set is held in memory")
    rep.check()

    if raw.stream is not None:
        return _finish_streaming(raw, config, fmt, notes, rep)

    def convert(split: RawSplit | None, what: str):
        if split is None:
            return None
        if raw.converted:  # image folders are decoded straight to the target
            x = convert_array(split.x, None, None, None, config.resize, rep, what)
        else:
            x = convert_array(split.x, config.channels, config.height, config.width, config.resize, rep, what)
        return x, torch.from_numpy(np.array(split.y, dtype=np.int64))

    xtr, ytr = convert(raw.train, "training images")
    test = convert(raw.test, "test images")
    given_val = convert(raw.val, "validation images")
    raw.train = raw.test = raw.val = None  # free the source arrays
    if given_val is not None:
        xval, yval = given_val
        val_note = "validation split from the source"
    else:
        tr_idx, val_idx = stratified_split(ytr.numpy(), config.val_fraction, config.seed)
        ti, vi = torch.from_numpy(tr_idx), torch.from_numpy(val_idx)
        xval, yval = xtr.index_select(0, vi), ytr.index_select(0, vi)
        if len(vi):
            xtr, ytr = xtr.index_select(0, ti), ytr.index_select(0, ti)
        val_note = f"{config.val_fraction:g} of the training data held out for validation (stratified, seed {config.seed})"
    rep.check()
    c, h, w = xtr.shape[1:]
    for t, name in ((test, "test"), (given_val, "validation")):
        if t is not None and tuple(t[0].shape[1:]) != (c, h, w):
            raise DataError(f"the {name} images are {tuple(t[0].shape[1:])} but the training images are {(c, h, w)}")
    if config.normalize:
        rep(0, 1, "Measuring mean and std of the training images")
        mean, std = channel_stats(xtr)
        std = _safe_std(std, notes)
    else:
        mean, std = [0.0] * c, [1.0] * c
    bundle = DatasetBundle(
        train=Split("train", ytr, xtr), val=Split("val", yval, xval),
        test=Split("test", test[1], test[0]) if test is not None else None,
        class_names=raw.class_names, channels=int(c), height=int(h), width=int(w), mean=mean, std=std,
        warnings=notes, source_description=f"{raw.description}; {val_note}", config=config, format=fmt,
    )
    rep(1, 1, "Data set ready")
    return bundle


def _safe_std(std: list[float], notes: list[str]) -> list[float]:
    out = []
    for i, s in enumerate(std):
        if s < 1e-6:
            notes.append(f"channel {i} has the same value in every training image; its std is taken as 1")
            s = 1.0
        out.append(s)
    return out


def _finish_streaming(raw: RawData, config: DataConfig, fmt: str, notes: list[str], rep: Reporter) -> DatasetBundle:
    from .folder import FolderDataset

    st = raw.stream
    c, h, w = st["channels"], st["height"], st["width"]

    def make(name, files, labels):
        ds = FolderDataset(files, labels, c, h, w, st["resize"], st["on_corrupt"])
        return Split(name, torch.from_numpy(np.asarray(labels, dtype=np.int64)), None, ds)

    files = raw.train.files
    if raw.val is not None:
        train = make("train", files, raw.train.y)
        val = make("val", raw.val.files, raw.val.y)
        val_note = "validation split from the source"
    else:
        tr_idx, val_idx = stratified_split(raw.train.y, config.val_fraction, config.seed)
        train = make("train", [files[i] for i in tr_idx], raw.train.y[tr_idx])
        val = make("val", [files[i] for i in val_idx], raw.train.y[val_idx])
        val_note = f"{config.val_fraction:g} of the training data held out for validation (stratified, seed {config.seed})"
    test = make("test", raw.test.files, raw.test.y) if raw.test is not None else None
    if config.normalize:
        rng = np.random.default_rng(config.seed)
        n = len(train)
        idx = np.sort(rng.choice(n, size=min(n, STATS_SAMPLE), replace=False))
        train.dataset.warn = False  # what the measuring pass skips is reported in the warnings below
        try:
            mean, std = _stream_stats(train.dataset, idx, config.workers, rep)
        finally:
            train.dataset.warn = True
        std = _safe_std(std, notes)
        skipped = train.dataset.skipped
        if skipped:
            notes.append(f"{len(skipped)} unreadable images found while measuring the training images "
                         f"(e.g. '{skipped[0]}'); they are replaced by neighbouring images when read")
        if n > STATS_SAMPLE:
            val_note += f"; mean/std measured on {STATS_SAMPLE} random training images"
    else:
        mean, std = [0.0] * c, [1.0] * c
    bundle = DatasetBundle(train=train, val=val, test=test, class_names=raw.class_names, channels=c, height=h,
                           width=w, mean=mean, std=std, warnings=notes,
                           source_description=f"{raw.description}; {val_note}", config=config, format=fmt)
    rep(1, 1, "Data set ready")
    return bundle
