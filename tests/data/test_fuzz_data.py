"""Fuzz campaign over data sets: small valid data sets of every on-disk format (CSV, NPZ, IDX plain and
gzip, CIFAR-10/100 binary, image folders) are mutated (bytes, headers, cells, arrays, files) and loaded.

Property: ``load_dataset`` returns a consistent bundle or raises ``DataError``, never another exception,
and never allocates much more than the file holds (each load runs under an address-space ceiling, so a
loader that believes a header and allocates gigabytes fails here with MemoryError).

Size: fits CI (a few seconds per format); CNN_STUDIO_FUZZ=10 runs ten times as many examples.
Counts: ``pytest tests/data/test_fuzz_data.py --hypothesis-show-statistics``.
"""
from __future__ import annotations

import gzip
import io
import struct
import warnings

import numpy as np
import pytest
from fuzz_counts import record
from fuzz_settings import examples
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from memory_guard import memory_ceiling
from PIL import Image

from cnn_studio.data import DataConfig, DataError, load_dataset

CEILING_MB = 600  # far above what these kilobyte-sized files need, far below what a believed header asks


def fuzz(n):
    return settings(max_examples=examples(n), deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


# ---- mutations -----------------------------------------------------------------------------------------

INTERESTING_WORDS = [0, 1, 2, 3, 255, 256, 2**16, 2**24, 2**31 - 1, 2**31, 2**32 - 1, 60000, 10**9]

byte_ops = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "truncate", "word", "dup"]),
        st.integers(0, 2**20),          # position (taken modulo the length; small ones hit headers)
        st.booleans(),                  # near the start (headers) or anywhere
        st.binary(min_size=1, max_size=8),
        st.sampled_from(INTERESTING_WORDS),
    ),
    min_size=1, max_size=4,
)


def mutate(data: bytes, ops) -> bytes:
    """Apply drawn byte-level mutations to ``data``."""
    b = bytearray(data)
    for op, pos, head, blob, word in ops:
        n = len(b)
        span = min(n, 64) if head else n
        i = pos % span if span else 0
        if op == "flip" and n:
            b[i] ^= 1 << (pos % 8)
        elif op == "set" and n:
            b[i:i + len(blob)] = blob[: n - i]
        elif op == "insert":
            b[i:i] = blob
        elif op == "delete" and n:
            del b[i:i + 1 + pos % 16]
        elif op == "truncate":
            del b[i:]
        elif op == "word" and n:
            b[i:i + 4] = struct.pack(">I", word)[: max(0, n - i)]
        elif op == "dup" and n:
            b[i:i] = b[i:i + 1 + pos % 64]
    return bytes(b)


def config_for(draw, source) -> DataConfig:
    return DataConfig(
        source=str(source),
        format=draw(st.sampled_from(["auto"] * 6 + ["folder", "idx", "cifar", "csv", "npz"])),  # also the wrong one
        channels=draw(st.sampled_from([None, None, 1, 3])),
        height=draw(st.sampled_from([None, None, 3, 8])),
        width=draw(st.sampled_from([None, None, 5, 8])),
        val_fraction=draw(st.sampled_from([0.0, 0.2, 0.5])),
        on_corrupt=draw(st.sampled_from(["skip", "stop"])),
        normalize=draw(st.booleans()),
    )


def load_or_data_error(config: DataConfig, campaign: str) -> None:
    """The property: a consistent bundle or a DataError with a message, under the memory ceiling."""
    try:
        with memory_ceiling(CEILING_MB):
            b = load_dataset(config)
    except DataError as e:
        assert str(e).strip()
        event("refused with a DataError")
        record(f"data fuzz: {campaign}", "DataError")
        return
    event("loaded")
    record(f"data fuzz: {campaign}", "loaded")
    k = b.num_classes
    assert k == len(b.class_names) >= 2
    for split in (b.train, b.val, b.test):
        if split is None or len(split) == 0:
            continue
        assert int(split.y.min()) >= 0 and int(split.y.max()) < k
        if split.x is not None:
            assert tuple(split.x.shape[1:]) == b.input_shape()
    assert len(b.train) > 0 and b.input_shape()[0] in (1, 3)


@pytest.fixture(scope="module", autouse=True)
def _warm_up(tmp_path_factory):
    # the first load starts torch's thread pools; start them outside the ceiling
    folder = tmp_path_factory.mktemp("warm")
    np.savez(folder / "d.npz", x=np.zeros((4, 4, 4), np.uint8), y=np.array([0, 1, 0, 1]))
    load_dataset(DataConfig(source=str(folder / "d.npz"), val_fraction=0.5))


# ---- CSV -----------------------------------------------------------------------------------------------

CELLS = ["", " ", "nan", "inf", "-inf", "1e999", "-1", "0.5", "256", "1e12", str(10**12), str(2**40), "9" * 40,
         "9" * 5000, "abc", '"', '"1,2"', "\x00", "0x10", "1_000", "١", "-0", "+3", "  7  ", "1e-300", "label"]


@fuzz(120)
@given(data=st.data())
def test_fuzz_csv(tmp_path_factory, data):
    draw = data.draw
    folder = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    n, p = draw(st.integers(2, 8)), draw(st.sampled_from([4, 9, 12, 16]))
    header = draw(st.booleans())
    rows = [["label"] + [f"pixel{i}" for i in range(p)]] if header else []
    rows += [[str(i % 3)] + [str(v) for v in rng.integers(0, 256, p)] for i in range(n)]
    for _ in range(draw(st.integers(0, 4))):  # cell-level mutations
        kind = draw(st.sampled_from(["cell", "cell", "drop_row", "add_col", "drop_col", "dup_row"]))
        r = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if not rows:
            break
        if kind == "cell":
            c = draw(st.integers(0, len(rows[r]) - 1)) if rows[r] else 0
            if rows[r]:
                rows[r][c] = draw(st.sampled_from(CELLS) | st.text(max_size=6))
        elif kind == "drop_row":
            del rows[r]
        elif kind == "add_col":
            rows[r].append(draw(st.sampled_from(CELLS)))
        elif kind == "drop_col" and rows[r]:
            rows[r].pop()
        elif kind == "dup_row":
            rows.insert(r, list(rows[r]))
    text = "\n".join(",".join(row) for row in rows) + "\n"
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        raw = mutate(raw, draw(byte_ops))
    (folder / "train.csv").write_bytes(raw)
    if draw(st.booleans()):  # a sibling test split, intact or mutated
        test = text.encode("utf-8", "surrogatepass")
        (folder / "test.csv").write_bytes(mutate(test, draw(byte_ops)) if draw(st.booleans()) else test)
    cfg = config_for(draw, folder / "train.csv")
    cfg.label_column = draw(st.sampled_from([None, None, "label", "0", "3", "99", "pixel1"]))
    load_or_data_error(cfg, "csv")


# ---- NPZ -----------------------------------------------------------------------------------------------

def _retype(a: np.ndarray, kind: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # complex to real: dropping the imaginary part is the point
            return _retype_or_fail(a, kind)
    except (ValueError, TypeError):  # e.g. class-name strings to float: keep the array
        return a


def _retype_or_fail(a: np.ndarray, kind: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        if kind == "float":
            return a.astype(np.float32) / 255.0
        if kind == "float255":
            return a.astype(np.float64)
        if kind == "nan":
            f = a.astype(np.float32)
            f.reshape(-1)[:1] = np.nan
            return f
        if kind == "neg":
            return a.astype(np.int64) - 300
        if kind == "big":
            return a.astype(np.int64) * 2**40
        if kind == "uint64max":
            u = a.astype(np.uint64)
            u.reshape(-1)[:1] = 2**64 - 1
            return u
        if kind == "bool":
            return a.astype(bool)
        if kind == "str":
            return a.astype(str)
        if kind == "complex":
            return a.astype(np.complex64)
        if kind == "half":
            return a.astype(np.float16) + np.float16(0.5)
    return a


RESHAPES = ["keep", "flat", "nchw", "add_axis", "drop_axis", "empty", "transpose", "one"]


def _reshape(a: np.ndarray, how: str) -> np.ndarray:
    try:
        return _reshape_or_fail(a, how)
    except ValueError:  # e.g. an empty array flattened with -1: keep it
        return a


def _reshape_or_fail(a: np.ndarray, how: str) -> np.ndarray:
    if how == "flat":
        return a.reshape(len(a), -1)
    if how == "nchw" and a.ndim == 4:
        return a.transpose(0, 3, 1, 2)
    if how == "add_axis":
        return a[..., None]
    if how == "drop_axis" and a.ndim > 1:
        return a.reshape(a.shape[:-2] + (-1,))
    if how == "empty":
        return a[:0]
    if how == "transpose":
        return a.T
    if how == "one":
        return a[:1]
    return a


@fuzz(120)
@given(data=st.data())
def test_fuzz_npz(tmp_path_factory, data):
    draw = data.draw
    folder = tmp_path_factory.mktemp("npz")
    rng = np.random.default_rng(0)
    n = draw(st.integers(2, 8))
    arrays = {"x": rng.integers(0, 256, (n, 4, 4, draw(st.sampled_from([1, 3]))), dtype=np.uint8),
              "y": np.arange(n) % 2}
    if draw(st.booleans()):
        arrays = {"x_train": arrays["x"], "y_train": arrays["y"], "x_test": arrays["x"][:2], "y_test": arrays["y"][:2]}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(arrays)))
        kind = draw(st.sampled_from(["retype", "reshape", "drop", "rename", "labels", "class_names", "object"]))
        if kind == "retype":
            arrays[key] = _retype(arrays[key], draw(st.sampled_from(
                ["float", "float255", "nan", "neg", "big", "uint64max", "bool", "str", "complex", "half"])))
        elif kind == "reshape":
            arrays[key] = _reshape(arrays[key], draw(st.sampled_from(RESHAPES)))
        elif kind == "drop" and len(arrays) > 1:
            del arrays[key]
        elif kind == "rename":
            arrays[draw(st.sampled_from(["x", "y", "x_val", "y_val", "X_Train", "images", "labels"]))] = arrays.pop(key)
        elif kind == "labels":
            try:
                y = np.asarray(arrays.get("y", arrays.get("y_train", np.arange(n) % 2))).astype(np.int64)
            except (ValueError, TypeError):  # an object or string array there: start from clean labels
                y = np.arange(n) % 2
            if y.size:  # any shape: set one element
                y.reshape(-1)[draw(st.integers(0, y.size - 1))] = draw(st.sampled_from([-1, 2, 9, 2**31, 2**40, 2**62, 10**12]))
            arrays["y" if "y" in arrays else "y_train"] = y
        elif kind == "class_names":
            arrays["class_names"] = draw(st.sampled_from([
                np.array(["a", "b"]), np.array(["only"]), np.array([1, 2]), np.array([["a", "b"]]),
                np.array([b"x", b"\xff"]), np.array([], dtype=str)]))
        elif kind == "object":
            arrays[key] = np.array([{"a": 1}, None], dtype=object)
    path = folder / "d.npz"
    saver = np.savez_compressed if draw(st.booleans()) else np.savez
    saver(path, **arrays)
    if draw(st.booleans()):
        path.write_bytes(mutate(path.read_bytes(), draw(byte_ops)))
    load_or_data_error(config_for(draw, path), "npz")


# ---- IDX (plain and gzip) --------------------------------------------------------------------------------

def idx_blob(arr: np.ndarray, code: int) -> bytes:
    head = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.tobytes()


@fuzz(120)
@given(data=st.data())
def test_fuzz_idx(tmp_path_factory, data):
    draw = data.draw
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    prefix = draw(st.sampled_from(["", "", "emnist-letters-", "fashion-"]))
    files = {}
    for stem, n in (("train", draw(st.integers(2, 6))), ("t10k", draw(st.sampled_from([0, 2, 3])))):
        if not n:
            continue
        x = rng.integers(0, 256, (n, 5, 4), dtype=np.uint8)
        y = (np.arange(n) % 3 + (1 if "letters" in prefix else 0)).astype(np.uint8)
        if draw(st.booleans()):
            y = y.astype(">i4")
        files[f"{prefix}{stem}-images-idx3-ubyte"] = idx_blob(x, 0x08)
        files[f"{prefix}{stem}-labels-idx1-ubyte"] = idx_blob(y, 0x0C if y.dtype.itemsize == 4 else 0x08)
    names = sorted(files)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(names))
        files[name] = mutate(files[name], draw(byte_ops))
    for name, blob in files.items():
        gz = draw(st.booleans())
        if gz:
            blob = gzip.compress(blob, compresslevel=1)
            if draw(st.integers(0, 3)) == 0:  # damage the compressed stream itself
                blob = mutate(blob, draw(byte_ops))
        (folder / (name + (".gz" if gz else ""))).write_bytes(blob)
    if draw(st.integers(0, 3)) == 0:
        lines = draw(st.sampled_from(["0 48\n1 49\n2 50\n", "1 65\n2 66\n3 67\n", "x y\n", "99999999999 65\n0 1114112\n",
                                      "0 " + "9" * 5000 + "\n", "\xff\xfe\n"]))
        (folder / f"{prefix}mapping.txt").write_text(lines, encoding="utf-8", errors="surrogateescape")
    load_or_data_error(config_for(draw, folder), "idx")


# ---- CIFAR binary ----------------------------------------------------------------------------------------

@fuzz(90)
@given(data=st.data())
def test_fuzz_cifar(tmp_path_factory, data):
    draw = data.draw
    folder = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    c100 = draw(st.booleans())
    lb = 2 if c100 else 1

    def records(n):
        r = np.zeros((n, lb + 3072), np.uint8)
        r[:, lb:] = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        r[:, lb - 1] = np.arange(n) % 3
        return r.tobytes()

    files = ({"train.bin": records(3), "test.bin": records(2)} if c100
             else {"data_batch_1.bin": records(3), "data_batch_2.bin": records(2), "test_batch.bin": records(2)})
    names = sorted(files)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(names))
        files[name] = mutate(files[name], draw(byte_ops))
    if draw(st.integers(0, 4)) == 0:
        del files[draw(st.sampled_from(names))]
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    meta = "fine_label_names.txt" if c100 else "batches.meta.txt"
    text = draw(st.sampled_from(["a\nb\nc\n", "a\n", "", "\n\n", "x" * 300 + "\n" + "y\n" * 2, "\xff\x00\n"]))
    if draw(st.booleans()):
        (folder / meta).write_text(text, encoding="utf-8", errors="surrogateescape")
    if draw(st.integers(0, 5)) == 0:
        (folder / "data_batch_1").write_bytes(b"\x80\x04pickle")  # the python version is refused
    load_or_data_error(config_for(draw, folder), "cifar")


# ---- image folders -------------------------------------------------------------------------------------

def image_bytes(mode: str, size: tuple[int, int], fmt: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", size)
    im.frombytes(rng.integers(0, 256, size[0] * size[1] * 3, dtype=np.uint8).tobytes())
    try:
        im = im.convert(mode)
        buf = io.BytesIO()
        im.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):  # that format cannot hold that mode: PNG of RGB instead
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


@fuzz(90)
@given(data=st.data())
def test_fuzz_image_folder(tmp_path_factory, data):
    draw = data.draw
    root = tmp_path_factory.mktemp("images")
    files = {}
    for cls in ("cat", "dog"):
        for i in range(draw(st.integers(1, 3))):
            files[f"{cls}/img{i}.png"] = image_bytes("RGB", (6, 6), "PNG", len(files))
    names = sorted(files)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        kind = draw(st.sampled_from(["bytes", "zero", "random", "mode", "size", "text", "rename", "extra_dir"]))
        if kind == "bytes":
            files[name] = mutate(files[name], draw(byte_ops))
        elif kind == "zero":
            files[name] = b""
        elif kind == "random":
            files[name] = draw(st.binary(max_size=64))
        elif kind == "mode":
            mode = draw(st.sampled_from(["L", "LA", "P", "RGBA", "CMYK", "I", "F", "1", "I;16"]))
            fmt = draw(st.sampled_from(["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"]))
            files[name] = image_bytes(mode, (6, 6), fmt, 1)
        elif kind == "size":
            files[name] = image_bytes("RGB", draw(st.sampled_from([(1, 1), (1, 40), (40, 2), (9, 7)])), "PNG", 2)
        elif kind == "text":
            files[name] = b"not an image\n"
        elif kind == "rename":
            files[name.replace(".png", draw(st.sampled_from([".jpg", ".txt", ".PNG", "", ".gif"])))] = files.pop(name)
            names = sorted(files)
        elif kind == "extra_dir":
            files[draw(st.sampled_from(["empty/.keep", "dog/sub/x.png", ".hidden/x.png", "test/cat/x.png",
                                        "val/dog/x.png", "bird/readme.txt"]))] = files[name]
            names = sorted(files)
    for name, blob in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    cfg = config_for(draw, root)
    cfg.stream = draw(st.sampled_from([None, False, True]))
    load_or_data_error(cfg, "image folder")


# ---- the decoded-data cache ------------------------------------------------------------------------------

@fuzz(20)
@given(data=st.data())
def test_fuzz_damaged_cache_never_changes_the_result(tmp_path_factory, _studio_home, data):
    """A damaged cache entry is a miss: the data set is decoded again and comes out the same."""
    draw = data.draw
    if draw(st.booleans()):
        cfg = DataConfig(source="shapes", shapes_train=10, shapes_test=0, height=8, width=8, val_fraction=0.0)
    else:
        root = tmp_path_factory.mktemp("cached")
        for i, cls in enumerate(("cat", "dog", "cat", "dog")):
            (root / cls).mkdir(exist_ok=True)
            (root / cls / f"{i}.png").write_bytes(image_bytes("RGB", (6, 6), "PNG", i))
        cfg = DataConfig(source=str(root), val_fraction=0.0, stream=False)
    for old in (_studio_home / "cache").glob("*.npz") if (_studio_home / "cache").is_dir() else []:
        old.unlink()
    first = load_dataset(cfg)
    entries = sorted((_studio_home / "cache").glob("*.npz"))
    assert entries, "the load wrote a cache entry"
    entry = entries[0]
    entry.write_bytes(mutate(entry.read_bytes(), draw(byte_ops)))
    with memory_ceiling(CEILING_MB):
        again = load_dataset(cfg)
    assert again.class_names == first.class_names
    assert again.train.x.equal(first.train.x) and again.train.y.equal(first.train.y)
    record("data fuzz: damaged cache", "same data")
