"""Image folders: one subfolder per class (searched recursively), optionally under top-level
``train/`` + ``test/`` and/or ``val/`` split folders.

Any size and mode Pillow reads (PNG, JPEG, BMP, GIF, TIFF, WebP, PPM/PGM; gray, RGB, RGBA, palette,
16-bit) is converted while decoding to the target channels (alpha dropped) and size. When the target
is not set, the channels are RGB if any of a sample of images is in colour, else gray, and the size is
the most common size in the sample. Class names are the folder names in natural order ('2' < '10').

In memory, decoding runs in a thread pool, reports progress, can be cancelled, and is cached as an
``.npz`` keyed by folder and target; the cache is rebuilt when any image file is added, removed,
resized or touched (fingerprint of relative paths, sizes and modification times). Folders with more
images than ``stream_threshold`` (or with ``stream=True``) are not decoded up front but read by a
``FolderDataset`` inside a torch ``DataLoader``.
"""
from __future__ import annotations

import os
import threading
import warnings as _warnings
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ._util import check_memory, natural_key
from .cache import cache_path, fingerprint_of, load_cache, save_cache
from .convert import decode_image, pil_resample, probe_image
from .errors import DataError
from .raw import RawData, RawSplit

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp", ".ppm",
              ".pgm", ".pbm", ".pnm"}
_SPLIT_NAMES = {"train": "train", "training": "train", "test": "test", "testing": "test", "val": "val",
                "valid": "val", "validation": "val"}
_JUNK = {".ds_store", "thumbs.db", "desktop.ini"}
_SPLIT_ORDER = ("train", "val", "test")
_PROBE = 48


def _skip_name(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


@dataclass
class FolderScan:
    root: Path
    splits: dict[str, list[tuple[str, list[tuple[str, int, int]]]]]  # split -> [(class, [(relpath, size, mtime_ns)])]
    class_names: list[str]
    fingerprint: str
    notes: list[str] = field(default_factory=list)

    def files(self, split: str) -> tuple[list[str], np.ndarray]:
        """(absolute paths, labels) of a split, in class then file order."""
        index = {c: i for i, c in enumerate(self.class_names)}
        paths, labels = [], []
        for cls, entries in self.splits[split]:
            base = str(self.root)
            paths.extend(os.path.join(base, rel) for rel, _, _ in entries)
            labels.extend([index[cls]] * len(entries))
        return paths, np.asarray(labels, dtype=np.int64)

    def count(self) -> int:
        return sum(len(e) for classes in self.splits.values() for _, e in classes)


def _walk(folder: Path, root: Path, reporter) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Image files under ``folder`` (recursive) as (path relative to root, size, mtime_ns), and others."""
    images, others = [], []
    seen = set()
    prefix = os.path.join(str(root), "")

    def rel(p: str) -> str:
        return p[len(prefix):] if p.startswith(prefix) else os.path.relpath(p, root)

    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            real = os.path.realpath(d)
            if real in seen:
                continue
            seen.add(real)
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: natural_key(e.name))
        except OSError as e:
            raise DataError(f"cannot list '{d}': {e.strerror or e}; check the folder's permissions") from None
        subdirs = []
        for e in entries:
            if _skip_name(e.name):
                continue
            try:
                if e.is_dir():
                    subdirs.append(Path(e.path))
                    continue
                if os.path.splitext(e.name)[1].lower() in IMAGE_EXTS:
                    st = e.stat()
                    images.append((rel(e.path), st.st_size, st.st_mtime_ns))
                elif e.name.lower() not in _JUNK:
                    others.append(rel(e.path))
            except OSError:
                others.append(rel(e.path))
        stack.extend(reversed(subdirs))
        reporter.check()
    images.sort(key=lambda t: natural_key(t[0]))
    return images, others


def _visible_dirs(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir() and not _skip_name(p.name)),
                      key=lambda p: natural_key(p.name))
    except OSError as e:
        raise DataError(f"cannot list '{folder}': {e.strerror or e}; check the folder's permissions") from None


def _loose_images(folder: Path) -> list[str]:
    try:
        return [p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    except OSError:
        return []


def scan_folder(root: Path, reporter) -> FolderScan:
    root = Path(root)
    reporter(0, 1, f"Listing images in {root}")
    subdirs = _visible_dirs(root)
    split_dirs = {}
    for d in subdirs:
        key = _SPLIT_NAMES.get(d.name.lower())
        if key and key not in split_dirs and _visible_dirs(d):
            split_dirs[key] = d
    notes: list[str] = []
    if split_dirs:
        if "train" not in split_dirs:
            have = ", ".join(f"'{d.name}'" for d in split_dirs.values())
            raise DataError(
                f"'{root}' has split folders {have} but no 'train' folder; add train/ with one folder per class"
            )
        extra = [d.name for d in subdirs if d not in split_dirs.values()]
        if extra:
            notes.append(f"folders {', '.join(repr(e) for e in extra[:5])} in '{root}' are not split folders "
                         "(train, val, test) and were ignored")
    else:
        if not subdirs:
            loose = _loose_images(root)
            if loose:
                raise DataError(
                    f"'{root}' holds images but no class folders; put each class's images in its own subfolder, "
                    f"e.g. '{root / 'cat'}' and '{root / 'dog'}'"
                )
            raise DataError(f"'{root}' holds no class folders with images; give a folder with one subfolder per class")
        split_dirs = {"train": root}

    splits: dict[str, list] = {}
    entries_all = []
    other_files: list[str] = []
    for split in _SPLIT_ORDER:
        if split not in split_dirs:
            continue
        sdir = split_dirs[split]
        loose = _loose_images(sdir)
        if loose:
            notes.append(f"{len(loose)} images directly in '{sdir}' (not in a class folder) were ignored, "
                         f"e.g. '{loose[0]}'")
        classes = []
        for cdir in _visible_dirs(sdir):
            images, others = _walk(cdir, root, reporter)
            other_files.extend(others)
            if not images:
                what = f" (it holds {len(others)} files that are not images)" if others else ""
                raise DataError(
                    f"'{sdir}' has no images in class folder '{cdir.name}'{what}; add images or remove the folder"
                )
            classes.append((cdir.name, images))
            entries_all.extend((split, cdir.name) + t for t in images)
        if not classes:
            raise DataError(f"'{sdir}' has no class folders; put each class's images in its own subfolder")
        splits[split] = classes
    train_classes = [c for c, _ in splits["train"]]
    if len(train_classes) < 2:
        raise DataError(
            f"'{split_dirs['train']}' has only one class folder ('{train_classes[0]}'); a classifier needs at least "
            "two classes: add a folder per class"
        )
    for split in ("val", "test"):
        for cls, _ in splits.get(split, []):
            if cls not in train_classes:
                raise DataError(
                    f"class folder '{cls}' in '{split_dirs[split]}' has no counterpart in '{split_dirs['train']}'; "
                    "every class must have training images (rename or remove the folder)"
                )
    if other_files:
        notes.append(f"{len(other_files)} files that are not images were ignored, e.g. '{other_files[0]}'")
    return FolderScan(root=root, splits=splits, class_names=train_classes, fingerprint=fingerprint_of(entries_all),
                      notes=notes)


def resolve_target(paths: list[str], channels, height, width, reporter) -> tuple[int, int, int, bool]:
    """(channels, height, width, size_was_chosen) from the config, or from a sample of images."""
    if channels and height and width:
        return channels, height, width, False
    n = len(paths)
    picks = sorted(set(np.linspace(0, n - 1, min(n, _PROBE)).round().astype(int).tolist()))
    sizes, colour, ok = Counter(), False, 0
    extra = iter(range(n))
    while True:
        for i in picks:
            try:
                size, c = probe_image(paths[i])
            except Exception:
                continue
            ok += 1
            sizes[size] += 1
            colour = colour or c == 3
        if ok or not picks:
            break
        picks = [i for i in (next(extra, None) for _ in range(256)) if i is not None]
        reporter.check()
    if not ok:
        raise DataError(f"none of the sampled images under '{Path(paths[0]).parent.parent}' can be read; "
                        "check that the files are images")
    (w, h), _ = sizes.most_common(1)[0]
    return channels or (3 if colour else 1), height or h, width or w, not (height and width)


class _Decoder:
    """Decodes a list of files into one preallocated uint8 NHWC array with a thread pool."""

    def __init__(self, paths, channels, height, width, resize, workers, reporter, on_corrupt, root):
        self.paths, self.c, self.h, self.w = paths, channels, height, width
        self.resample = pil_resample(resize)
        self.workers = min(8, os.cpu_count() or 1) if workers is None else workers
        self.reporter, self.on_corrupt, self.root = reporter, on_corrupt, root
        self.stop = threading.Event()

    def _run(self, idx: range, out, ok, resized) -> list[tuple[int, str]]:
        failed = []
        for i in idx:
            if self.stop.is_set():
                break
            try:
                a, r = decode_image(self.paths[i], self.c, (self.w, self.h), self.resample)
                out[i] = a
                ok[i] = True
                resized[i] = r
            except Exception as e:  # Pillow raises many kinds on a bad file
                failed.append((i, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__))
                if self.on_corrupt == "stop":
                    self.stop.set()
                    break
        return failed

    def _fail(self, i: int, reason: str):
        rel = os.path.relpath(self.paths[i], self.root)
        raise DataError(f"cannot read image '{rel}' in '{self.root}' ({reason}); remove or replace the file, "
                        "or set on_corrupt to 'skip' to leave unreadable images out")

    def run(self, message: str):
        n = len(self.paths)
        check_memory(n * self.h * self.w * self.c, f"decoding {n} images of {self.h}x{self.w}x{self.c} from '{self.root}'")
        out = np.zeros((n, self.h, self.w, self.c), dtype=np.uint8)
        ok = np.zeros(n, dtype=bool)
        resized = np.zeros(n, dtype=bool)
        failed: list[tuple[int, str]] = []
        self.reporter(0, n, message)
        if self.workers <= 1 or n < 64:
            step = 64
            for s in range(0, n, step):
                failed += self._run(range(s, min(n, s + step)), out, ok, resized)
                if failed and self.on_corrupt == "stop":
                    self._fail(*failed[0])
                self.reporter(min(n, s + step), n, message)
        else:
            step = max(16, min(256, n // (self.workers * 8) or 16))
            pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="cnn-studio-decode")
            try:
                pending = {pool.submit(self._run, range(s, min(n, s + step)), out, ok, resized): min(step, n - s)
                           for s in range(0, n, step)}
                done_count = 0
                while pending:
                    done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    for fut in done:
                        done_count += pending.pop(fut)
                        failed += fut.result()
                    if failed and self.on_corrupt == "stop":
                        self._fail(*min(failed))
                    self.reporter(done_count, n, message)  # raises DataCancelled when asked to
            except BaseException:
                self.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        failed.sort()
        return out, ok, resized, failed


def _describe_corrupt(failed_rel: list[tuple[str, str]]) -> str:
    shown = ", ".join(f"'{p}' ({r})" for p, r in failed_rel[:3])
    more = f" and {len(failed_rel) - 3} more" if len(failed_rel) > 3 else ""
    return f"skipped {len(failed_rel)} unreadable image{'s' if len(failed_rel) != 1 else ''}: {shown}{more}"


def load_folder(path: Path, config, reporter) -> RawData:
    root = Path(path).resolve()
    scan = scan_folder(root, reporter)
    total = scan.count()
    stream = config.stream if config.stream is not None else total > config.stream_threshold
    train_paths, _ = scan.files("train")
    notes = list(scan.notes)
    present = [s for s in _SPLIT_ORDER if s in scan.splits]

    if stream:
        c, h, w, _ = resolve_target(train_paths, config.channels, config.height, config.width, reporter)
        splits = {}
        for s in present:
            paths, labels = scan.files(s)
            splits[s] = RawSplit(None, labels, paths)
        desc = _describe(root, splits, scan.class_names, c, h, w, "streamed from disk")
        return RawData(train=splits["train"], val=splits.get("val"), test=splits.get("test"),
                       class_names=scan.class_names, description=desc, warnings=notes,
                       stream=dict(channels=c, height=h, width=w, resize=config.resize, on_corrupt=config.on_corrupt,
                                   root=str(root)),
                       converted=True)

    key = dict(kind="folder", root=str(root), channels=config.channels, height=config.height, width=config.width,
               resize=config.resize)
    try:
        cpath = cache_path("folder", key)
    except OSError as e:
        cpath = None
        notes.append(f"the data cache folder cannot be created ({e.strerror or e}); images are decoded every time")
    cached = load_cache(cpath, scan.fingerprint) if cpath is not None else None
    needed = {"corrupt", "resized", "size_chosen"} | {f"{a}_{s}" for s in present for a in ("x", "y")}
    if cached is not None and not needed <= set(cached):
        cached = None  # an entry from another layout of the folder: rebuild it
    if cached is not None:
        corrupt = [tuple(s.split("\t", 1)) for s in cached["corrupt"].tolist()]
        if corrupt and config.on_corrupt == "stop":
            rel, reason = corrupt[0]
            raise DataError(f"cannot read image '{rel}' in '{root}' ({reason}); remove or replace the file, "
                            "or set on_corrupt to 'skip' to leave unreadable images out")
        if corrupt:
            notes.append(_describe_corrupt(corrupt))
        n_resized = int(cached["resized"])
        splits = {s: RawSplit(cached[f"x_{s}"], cached[f"y_{s}"].astype(np.int64)) for s in present}
        c, h, w = splits["train"].x.shape[3], splits["train"].x.shape[1], splits["train"].x.shape[2]
        size_chosen = bool(cached["size_chosen"])
        from_cache = True
    else:
        c, h, w, size_chosen = resolve_target(train_paths, config.channels, config.height, config.width, reporter)
        splits, corrupt, n_resized = {}, [], 0
        for s in present:
            paths, labels = scan.files(s)
            dec = _Decoder(paths, c, h, w, config.resize, config.workers, reporter, config.on_corrupt, root)
            x, ok, resized, failed = dec.run(f"Decoding {s} images ({len(paths)})")
            corrupt += [(os.path.relpath(paths[i], root), r) for i, r in failed]
            n_resized += int(resized[ok].sum())
            splits[s] = RawSplit(x[ok] if not ok.all() else x, labels[ok] if not ok.all() else labels)
            lost = set(range(len(scan.class_names))) - set(np.unique(splits[s].y).tolist())
            had = set(np.unique(labels).tolist())
            for k in sorted(lost & had):
                raise DataError(f"every image in class folder '{scan.class_names[k]}' of the {s} split is unreadable; "
                                "replace the files or remove the folder")
        if corrupt:
            notes.append(_describe_corrupt(corrupt))
        from_cache = False
        if cpath is not None:
            arrays = {f"x_{s}": r.x for s, r in splits.items()}
            arrays.update({f"y_{s}": r.y.astype(np.int32) for s, r in splits.items()})
            arrays["corrupt"] = np.array([f"{p}\t{r}" for p, r in corrupt], dtype=str)
            arrays["resized"] = np.array(n_resized)
            arrays["size_chosen"] = np.array(size_chosen)
            warn = save_cache(cpath, arrays, scan.fingerprint)
            if warn:
                notes.append(warn)
    if size_chosen and n_resized:
        notes.append(f"{n_resized} images had another size and were resized to {h}x{w} (the most common size); "
                     "set height and width to choose the size")
    desc = _describe(root, splits, scan.class_names, c, h, w, "from the cache" if from_cache else "decoded")
    return RawData(train=splits["train"], val=splits.get("val"), test=splits.get("test"),
                   class_names=scan.class_names, description=desc, warnings=notes, converted=True)


def _describe(root, splits, names, c, h, w, how) -> str:
    parts = [f"{len(splits['train'])} training"] + [f"{len(splits[s])} {'validation' if s == 'val' else s}"
                                                   for s in ("val", "test") if s in splits]
    return (f"image folder '{root}': {', '.join(parts)} images in {len(names)} classes, "
            f"{'gray' if c == 1 else 'RGB'} {h}x{w}, {how}")


class FolderDataset(torch.utils.data.Dataset):
    """Decodes images on demand for streaming; items are (uint8 CHW tensor, int label).

    With ``on_corrupt="skip"`` an unreadable file is replaced by the next readable one in the list
    and a ``RuntimeWarning`` names it once; with ``"stop"`` a ``DataError`` names it."""

    def __init__(self, files: list[str], labels: np.ndarray, channels: int, height: int, width: int,
                 resize: str = "bilinear", on_corrupt: str = "skip"):
        self.files = list(files)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.channels, self.height, self.width = channels, height, width
        self.resize, self.on_corrupt = resize, on_corrupt
        self._resample = pil_resample(resize)
        self._warned: set[int] = set()
        self.skipped: list[str] = []  # unreadable files met by this process (or thread pool)
        self.warn = True  # emit a RuntimeWarning for each unreadable file met

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        n = len(self.files)
        i = int(index)
        for attempt in range(min(n, 32)):
            j = (i + attempt) % n
            try:
                a, _ = decode_image(self.files[j], self.channels, (self.width, self.height), self._resample)
                return torch.from_numpy(a.transpose(2, 0, 1).copy()), int(self.labels[j])
            except Exception as e:
                if self.on_corrupt == "stop":
                    raise DataError(f"cannot read image '{self.files[j]}' ({type(e).__name__}: {e}); remove or "
                                    "replace the file, or set on_corrupt to 'skip'") from None
                if j not in self._warned:
                    self._warned.add(j)
                    self.skipped.append(self.files[j])
                    if self.warn:
                        _warnings.warn(f"skipped unreadable image '{self.files[j]}' ({e})", RuntimeWarning,
                                       stacklevel=2)
        raise DataError(f"none of {min(n, 32)} images from '{self.files[i]}' on can be read; check the data folder")
