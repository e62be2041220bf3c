"""Plain, JSON-safe configuration of a data set (``DataConfig``) and of augmentation (``AugmentConfig``).

Both round-trip through ``to_dict``/``from_dict`` (they are stored in project files and checkpoints)
and refuse unknown keys or out-of-range values with a ``DataError`` that names the field and the fix.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import DataError

FORMATS = ("shapes", "folder", "idx", "cifar", "csv", "npz")
RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "area")
ON_CORRUPT = ("skip", "stop")

# name -> (lowest, highest, strength used when the CLI spec names it without a value)
_AUG_RANGES: dict[str, tuple[float, float, float]] = {
    "shift": (0.0, 0.5, 0.1),
    "zoom": (0.0, 0.9, 0.1),
    "rotate": (0.0, 180.0, 15.0),
    "brightness": (0.0, 1.0, 0.2),
    "contrast": (0.0, 1.0, 0.2),
}
_AUG_FLAGS = ("hflip", "vflip")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class AugmentConfig:
    """Random training-time augmentation; every transform is off by default.

    hflip / vflip: mirror half of the samples left-right / top-bottom.
    shift: largest translation as a fraction of the image size (0.1 = up to 10 % each way).
    zoom: largest relative zoom in or out (0.2 = scale factor drawn from 0.8..1.2).
    rotate: largest rotation in degrees, either way.
    brightness: largest relative brightness change (0.2 = pixel values times 0.8..1.2).
    contrast: largest relative contrast change around each image's own mean.
    """

    hflip: bool = False
    vflip: bool = False
    shift: float = 0.0
    zoom: float = 0.0
    rotate: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in _AUG_FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise DataError(f"augmentation '{name}' must be true or false, got {getattr(self, name)!r}")
        for name, (lo, hi, _) in _AUG_RANGES.items():
            v = getattr(self, name)
            if not _is_number(v) or not math.isfinite(v):
                raise DataError(f"augmentation '{name}' must be a number from {lo:g} to {hi:g}, got {v!r}")
            if not lo <= v <= hi:
                raise DataError(f"augmentation '{name}' is {v:g}, outside {lo:g}..{hi:g}; choose a strength in that range")
            setattr(self, name, float(v))

    def enabled(self) -> bool:
        """True when at least one transform is on."""
        return self.hflip or self.vflip or any(getattr(self, n) > 0 for n in _AUG_RANGES)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict | None) -> AugmentConfig:
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise DataError(f"augmentation settings must be a mapping of names to values, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise DataError(
                f"unknown augmentation {', '.join(repr(u) for u in unknown)}; valid names are {', '.join(sorted(known))}"
            )
        return cls(**d)

    @classmethod
    def parse(cls, spec: str | None) -> AugmentConfig:
        """Parse a command-line spec such as ``"hflip,shift=0.1,rotate=10"``.

        A bare strength name takes a sensible default (shift 0.1, zoom 0.1, rotate 15, brightness 0.2,
        contrast 0.2); ``""``, ``"none"`` or ``"off"`` turns everything off.
        """
        spec = (spec or "").strip()
        if spec.lower() in ("", "none", "off"):
            return cls()
        values: dict[str, Any] = {}
        valid = ", ".join(_AUG_FLAGS + tuple(_AUG_RANGES))
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            name, value = name.strip().lower(), value.strip()
            if name in _AUG_FLAGS:
                if not sep or value.lower() in _TRUE:
                    values[name] = True
                elif value.lower() in _FALSE:
                    values[name] = False
                else:
                    raise DataError(f"augmentation '{name}' takes true or false, got '{value}' in '{spec}'")
            elif name in _AUG_RANGES:
                if not sep:
                    values[name] = _AUG_RANGES[name][2]
                else:
                    try:
                        values[name] = float(value)
                    except ValueError:
                        raise DataError(
                            f"augmentation '{name}' needs a number, got '{value}' in '{spec}'; e.g. {name}={_AUG_RANGES[name][2]:g}"
                        ) from None
            else:
                raise DataError(f"unknown augmentation '{name}' in '{spec}'; valid names are {valid}")
        return cls(**values)


@dataclass
class DataConfig:
    """What to load and how to present it to a model.

    source: ``"shapes"`` (the built-in procedural data set) or a path to a folder or file.
        The exact word ``shapes`` means the built-in set; write ``./shapes`` for a folder of that name.
    format: ``"auto"`` (detected from the path, see ``detect_format``) or one of
        ``shapes``, ``folder``, ``idx``, ``cifar``, ``csv``, ``npz``.
    channels, height, width: target image shape; ``None`` keeps the source's. Gray<->RGB conversion
        and resizing (``resize`` method) happen once at load time.
    val_fraction: share of the training data held out, stratified per class, as validation split
        (0.1 by default whether or not the source has its own test split; a ``val/`` folder of an
        image-folder source is used as the validation split instead). 0 gives an empty validation split.
    seed: seeds the validation split (and the built-in data set's generator).
    normalize: when true, mean/std per channel are measured on the training split; else mean 0, std 1.
    on_corrupt: ``"skip"`` leaves unreadable images out and reports them in ``bundle.warnings``;
        ``"stop"`` raises a ``DataError`` naming the first one.
    stream: ``None`` = stream image folders with more than ``stream_threshold`` images from disk;
        ``True``/``False`` force it. Only image folders can stream.
    shapes_train, shapes_test: sizes of the built-in data set.
    label_column: CSV label column (name, or 0-based index); default ``label`` if present, else the first.
    workers: threads used to decode images (``None`` = one per CPU, at most 8).
    """

    source: str = "shapes"
    format: str = "auto"
    channels: int | None = None
    height: int | None = None
    width: int | None = None
    val_fraction: float = 0.1
    seed: int = 0
    normalize: bool = True
    on_corrupt: str = "skip"
    stream: bool | None = None
    shapes_train: int = 10000
    shapes_test: int = 2000
    label_column: str | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    resize: str = "bilinear"
    stream_threshold: int = 50000
    workers: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.source, os.PathLike):
            self.source = os.fspath(self.source)
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_dict(self.augment)

    def validate(self) -> None:
        """Raise ``DataError`` naming the first bad field."""
        if not isinstance(self.source, str) or not self.source.strip():
            raise DataError("the data source is empty; give 'shapes' or the path of a data set folder or file")
        if self.format not in ("auto",) + FORMATS:
            raise DataError(f"unknown data format '{self.format}'; use auto or one of {', '.join(FORMATS)}")
        if self.channels is not None and (not isinstance(self.channels, int) or isinstance(self.channels, bool)
                                          or self.channels not in (1, 3)):
            raise DataError(f"channels must be 1 (gray), 3 (RGB) or empty to keep the source's, got {self.channels!r}")
        for name in ("height", "width"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 4096):
                raise DataError(f"{name} must be a whole number of pixels from 1 to 4096 or empty, got {v!r}")
        f = self.val_fraction
        if not _is_number(f) or not 0.0 <= f <= 0.9:
            raise DataError(f"val_fraction must be a number from 0 to 0.9, got {f!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise DataError(f"seed must be a whole number, got {self.seed!r}")
        if not isinstance(self.normalize, bool):
            raise DataError(f"normalize must be true or false, got {self.normalize!r}")
        if self.on_corrupt not in ON_CORRUPT:
            raise DataError(f"on_corrupt must be 'skip' or 'stop', got {self.on_corrupt!r}")
        if self.stream is not None and not isinstance(self.stream, bool):
            raise DataError(f"stream must be true, false or empty (automatic), got {self.stream!r}")
        for name, lo in (("shapes_train", 10), ("shapes_test", 0), ("stream_threshold", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise DataError(f"{name} must be a whole number of at least {lo}, got {v!r}")
        if self.label_column is not None and not isinstance(self.label_column, str):
            raise DataError(f"label_column must be a column name or index, got {self.label_column!r}")
        if self.resize not in RESIZE_METHODS:
            raise DataError(f"unknown resize method {self.resize!r}; use one of {', '.join(RESIZE_METHODS)}")
        if self.workers is not None and (not isinstance(self.workers, int) or isinstance(self.workers, bool)
                                         or self.workers < 0):
            raise DataError(f"workers must be a whole number (0 = decode in the calling thread) or empty, got {self.workers!r}")
        if not isinstance(self.augment, AugmentConfig):
            raise DataError("augment must be augmentation settings")
        self.augment.validate()

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["augment"] = self.augment.to_dict()
        d["val_fraction"] = float(self.val_fraction)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> DataConfig:
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise DataError(f"data settings must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise DataError(f"unknown data setting {', '.join(repr(u) for u in unknown)}; valid names are {', '.join(sorted(known))}")
        d = dict(d)
        if "augment" in d:
            d["augment"] = AugmentConfig.from_dict(d["augment"])
        if isinstance(d.get("val_fraction"), int) and not isinstance(d.get("val_fraction"), bool):
            d["val_fraction"] = float(d["val_fraction"])
        if isinstance(d.get("label_column"), int) and not isinstance(d.get("label_column"), bool):
            d["label_column"] = str(d["label_column"])
        cfg = cls(**d)
        cfg.validate()
        return cfg
