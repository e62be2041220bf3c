"""Data layer of CNN Studio: data sets, splits, normalization, batching and augmentation.

torch + numpy + Pillow; no Qt. The Trainer, CLI and app use exactly these names::

    bundle = load_dataset(DataConfig(source="shapes"), progress=cb, cancel=event)
    batches = BatchIterator(bundle.train, 128, shuffle=True, generator=g, device="cuda")
    augment = Augmenter(config.augment, bundle.mean, bundle.std)
    for xb, yb in batches:                      # uint8 NCHW, int64
        x = augment(bundle.normalize(xb), g)    # float32, normalized, augmented

Sources: the built-in ``shapes`` set, image folders, MNIST-style IDX, CIFAR binary, CSV, NPZ
(see ``detect_format``). Decoded image folders and the shapes set are cached under
``studio_home()/cache``.
"""
from .augment import Augmenter
from .batching import BatchIterator
from .bundle import DatasetBundle, Split, channel_stats, load_dataset, stratified_split
from .cache import clear_cache
from .config import FORMATS, RESIZE_METHODS, AugmentConfig, DataConfig
from .detect import detect_format
from .errors import DataCancelled, DataError
from .paths import cache_dir, studio_home
from .shapes import CLASS_NAMES as SHAPES_CLASS_NAMES

__all__ = [
    "FORMATS",
    "RESIZE_METHODS",
    "SHAPES_CLASS_NAMES",
    "AugmentConfig",
    "Augmenter",
    "BatchIterator",
    "DataCancelled",
    "DataConfig",
    "DataError",
    "DatasetBundle",
    "Split",
    "cache_dir",
    "channel_stats",
    "clear_cache",
    "detect_format",
    "load_dataset",
    "stratified_split",
    "studio_home",
]
