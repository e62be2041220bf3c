"""Resource limits of the loaders: what a file announces (label values, header sizes) never makes a
loader allocate more than the file can hold. Every test runs under a memory ceiling, so a regression
fails with MemoryError instead of waking the out-of-memory killer."""
import gzip
import struct

import numpy as np
import pytest

from cnn_studio.data import DataConfig, DataError, load_dataset
from cnn_studio.data import raw as raw_mod


def load(path, **kw):
    kw.setdefault("val_fraction", 0.0)
    return load_dataset(DataConfig(source=str(path), **kw))


def write_csv(path, labels, pixels=4):
    rows = ["label," + ",".join(f"p{i}" for i in range(pixels))]
    rows += [f"{lab}," + ",".join(str((i * 7 + j) % 256) for j in range(pixels)) for i, lab in enumerate(labels)]
    path.write_text("\n".join(rows) + "\n")
    return path


# ---- label values ---------------------------------------------------------------------------------------

def test_csv_label_of_10_to_the_12_is_mapped_not_a_list_of_10_to_the_12_names(tmp_path, ceiling):
    # the loader used to build [str(i) for i in range(10**12 + 1)]: 24 GB and the OOM killer
    path = write_csv(tmp_path / "train.csv", [0, 1, 10**12, 1, 0, 10**12])
    with ceiling(300):
        b = load(path)
    assert b.class_names == ["0", "1", "1000000000000"]
    assert b.train.y.tolist() == [0, 1, 2, 1, 0, 2]
    assert any("1000000000000" in w and "class names" in w for w in b.warnings)


def test_many_distinct_huge_labels_are_refused(tmp_path, ceiling, monkeypatch):
    monkeypatch.setattr(raw_mod, "MAX_CLASSES", 4, raising=False)  # a small limit keeps the file small
    path = write_csv(tmp_path / "train.csv", [0, 1, 2, 3, 4, 10**12])
    with ceiling(300), pytest.raises(DataError) as e:
        load(path)
    assert "6 different values" in str(e.value) and "train.csv" in str(e.value)


def test_labels_below_the_limit_keep_their_indices(tmp_path, monkeypatch):
    # sparse labels under the limit still mean class indices (classes 1 and 3 simply have no samples)
    path = write_csv(tmp_path / "train.csv", [0, 2, 4, 0, 2, 4])
    b = load(path)
    assert b.class_names == ["0", "1", "2", "3", "4"] and b.train.y.tolist() == [0, 2, 4, 0, 2, 4]


def test_npz_label_of_2_to_the_40(tmp_path, ceiling):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 3, 3), np.uint8), y=np.array([2**40, 5, 5, 2**40], np.int64))
    with ceiling(300):
        b = load(path)
    assert b.class_names == ["5", str(2**40)] and b.train.y.tolist() == [1, 0, 0, 1]


def test_test_split_labels_are_mapped_with_the_training_labels(tmp_path, ceiling):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((4, 3, 3), np.uint8), y_train=np.array([7, 2**40, 7, 2**40]),
             x_test=np.zeros((2, 3, 3), np.uint8), y_test=np.array([2**40, 7]))
    with ceiling(300):
        b = load(path)
    assert b.test.y.tolist() == [1, 0]


@pytest.mark.parametrize("y, what", [(np.array([0, 1, 2**64 - 1], np.uint64), "18446744073709551615"),
                                     (np.array([0.0, 1.0, 1e300]), "1e+300")])
def test_labels_beyond_int64_are_refused_not_wrapped(tmp_path, ceiling, y, what):
    # they used to wrap around to a negative label ("negative label -1") or INT64_MIN
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 3, 3), np.uint8), y=y)
    with ceiling(300), pytest.raises(DataError, match="too large to be a class index") as e:
        load(path)
    assert what in str(e.value)


def idx_blob(arr, code=0x08):
    arr = np.asarray(arr)
    head = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.tobytes()


def test_idx_int32_labels_near_2_to_the_31(tmp_path, ceiling):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_blob(np.zeros((4, 3, 3), np.uint8)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_blob(np.array([2**31 - 1, 3, 3, 2**31 - 1], ">i4"), 0x0C))
    with ceiling(300):
        b = load(tmp_path)
    assert b.class_names == ["3", str(2**31 - 1)]


def test_idx_mapping_file_with_a_huge_key(tmp_path, ceiling):
    # the mapping's lookup table was as long as its largest key: np.full(10**12 + 1) -> MemoryError
    (tmp_path / "emnist-x-train-images-idx3-ubyte").write_bytes(idx_blob(np.zeros((4, 3, 3), np.uint8)))
    (tmp_path / "emnist-x-train-labels-idx1-ubyte").write_bytes(idx_blob(np.array([0, 1, 0, 1], np.uint8)))
    (tmp_path / "emnist-x-mapping.txt").write_text("0 48\n1 49\n999999999999 50\n")
    with ceiling(300):
        b = load(tmp_path)
    assert b.class_names == ["0", "1"]


def test_idx_label_missing_from_the_mapping(tmp_path):
    (tmp_path / "emnist-x-train-images-idx3-ubyte").write_bytes(idx_blob(np.zeros((4, 3, 3), np.uint8)))
    (tmp_path / "emnist-x-train-labels-idx1-ubyte").write_bytes(idx_blob(np.array([0, 1, 5, 1], np.uint8)))
    (tmp_path / "emnist-x-mapping.txt").write_text("0 48\n1 49\n2 50\n")
    with pytest.raises(DataError, match="label 5 is not listed in the mapping file"):
        load(tmp_path)


# ---- IDX headers ------------------------------------------------------------------------------------------

def test_gzip_idx_whose_header_claims_10_to_the_9_items_is_refused_unread(tmp_path, ceiling):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_blob(np.zeros((4, 3, 3), np.uint8)))
    head = struct.pack(">BBBBI", 0, 0, 0x08, 1, 10**9)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(head + bytes(100)))
    with ceiling(100), pytest.raises(DataError) as e:
        load(tmp_path)
    assert "1000000000" in str(e.value) and "compressed bytes can hold" in str(e.value)


def test_gzip_bomb_behind_a_small_header_is_not_inflated(tmp_path, ceiling):
    # header: 4 labels; body: 4 labels and then 600 MB of zeros in 600 gzip members of 1 MB (~600 KB
    # on disk). The whole file used to be inflated (gzip.decompress) before the header was looked at.
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_blob(np.zeros((4, 3, 3), np.uint8)))
    member = gzip.compress(bytes(2**20), compresslevel=9)
    blob = gzip.compress(idx_blob(np.array([0, 1, 0, 1], np.uint8))) + member * 600
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(blob)
    with ceiling(200), pytest.raises(DataError, match="more bytes than its header"):
        load(tmp_path)


def test_plain_idx_header_bigger_than_the_file_is_refused_before_reading(tmp_path, ceiling):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(struct.pack(">BBBBIII", 0, 0, 0x08, 3, 2**31, 2**16, 2**16) + bytes(64))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_blob(np.array([0, 1], np.uint8)))
    with ceiling(100), pytest.raises(DataError, match="truncated") as e:
        load(tmp_path)
    assert "64 bytes follow" in str(e.value)


def test_gzip_idx_round_trip_still_loads(tmp_path):
    x = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_blob(x)))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_blob(np.array([0, 1, 0, 1], np.uint8))))
    b = load(tmp_path)
    assert np.array_equal(b.train.x[:, 0].numpy(), x)


def test_csv_labels_beyond_float32_precision_stay_distinct(tmp_path, ceiling):
    # the fast CSV path parsed labels as float32, so 16777217 became 16777216 (and 10**12, 999999995904)
    path = write_csv(tmp_path / "train.csv", [0, 16777217, 16777216, 0])
    with ceiling(300):
        b = load(path)
    assert b.class_names == ["0", "16777216", "16777217"] and b.train.y.tolist() == [0, 2, 1, 0]


# ---- NPZ headers ------------------------------------------------------------------------------------------

def npz_with_member(path, name, header_shape, body: bytes, others=None):
    """An .npz whose member ``name`` has a .npy header announcing ``header_shape`` (uint8) over ``body``."""
    import io
    import zipfile

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False, "shape": header_shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name + ".npy", head.getvalue() + body)
        for k, v in (others or {}).items():
            buf = io.BytesIO()
            np.save(buf, v)
            zf.writestr(k + ".npy", buf.getvalue())
    return path


def test_npz_header_announcing_more_than_the_member_holds_is_refused_before_allocating(tmp_path, ceiling):
    # numpy allocates the announced shape (here 2**38 bytes = 256 GB, which overcommit may grant) and then reads
    path = npz_with_member(tmp_path / "d.npz", "x", (2**38,), bytes(64), {"y": np.array([0, 1])})
    with ceiling(100), pytest.raises(DataError) as e:
        load(path)
    assert "announces shape (274877906944,)" in str(e.value) and "holds 64 bytes" in str(e.value)


def test_npz_member_larger_than_memory_is_refused_before_reading(tmp_path, ceiling, monkeypatch):
    # a consistent file (e.g. gigabytes of zeros that compress 1000:1) passes every header check; it is
    # refused by size against the memory available (here pretended to be 1 MB)
    from cnn_studio.data import _util

    monkeypatch.setattr(_util, "available_memory", lambda: 2**20)
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=np.zeros((2, 1024, 1024), np.uint8), y=np.array([0, 1]))
    with ceiling(100), pytest.raises(DataError, match="needs 2.0 MB of memory but only 1.0 MB are available"):
        load(path)


def test_idx_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    from cnn_studio.data import _util

    monkeypatch.setattr(_util, "available_memory", lambda: 2**10)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_blob(np.zeros((4, 32, 32), np.uint8))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_blob(np.array([0, 1, 0, 1], np.uint8)))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz' needs 4 KB of memory but only 1 KB"):
        load(tmp_path)


# ---- sizes asked for by the settings ------------------------------------------------------------------------

@pytest.fixture
def one_mb(monkeypatch):
    from cnn_studio.data import _util

    monkeypatch.setattr(_util, "available_memory", lambda: 2**20)


def test_resizing_beyond_the_memory_available_is_refused(tmp_path, one_mb, ceiling):
    # 4 tiny images resized to 4096x4096 (the largest size a setting allows) need 64 MB
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 3, 3), np.uint8), y=np.array([0, 1, 0, 1]))
    with ceiling(200), pytest.raises(DataError, match="converting 4 training images to 1x4096x4096 needs 64.0 MB"):
        load(tmp_path / "d.npz", height=4096, width=4096)


def test_shapes_set_beyond_the_memory_available_is_refused(one_mb, ceiling):
    with ceiling(200), pytest.raises(DataError, match="built-in shapes set of 100000 \\+ 0 images of 64x64 needs 1.1 GB"):
        load_dataset(DataConfig(source="shapes", shapes_train=100_000, shapes_test=0, height=64, width=64))


def test_image_folder_beyond_the_memory_available_is_refused(make, one_mb, ceiling):
    root = make.folder({"a": 2, "b": 2}, size=(8, 8))
    with ceiling(100), pytest.raises(DataError, match="decoding 4 images of 1024x1024x3 .* needs 12.0 MB"):
        load(root, height=1024, width=1024, stream=False)


def test_empty_class_list_is_named(tmp_path):
    # found by the fuzz campaign: "out of range for the 0 classes (0..-1)"
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 3, 3), np.uint8), y=np.array([0, 1]), class_names=np.array([], dtype=str))
    with pytest.raises(DataError, match="has an empty class list"):
        load(tmp_path / "d.npz")


def png_of_zeros(path, width, height):
    """A gray PNG of ``width`` x ``height`` zeros, compressed row by row (~1000:1, never whole in memory)."""
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    z = zlib.compressobj(9)
    row = bytes(1 + width)  # filter byte 0 + the row's pixels
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_image_announcing_more_pixels_than_the_limit_is_not_decoded(make, ceiling):
    # 9000x8000 zeros: ~70 KB on disk, 72 MB decoded (Pillow only warns below 89 M pixels)
    root = make.folder({"a": 2, "b": 2}, size=(8, 8))
    bomb = png_of_zeros(root / "a" / "bomb.png", 9000, 8000)
    assert bomb.stat().st_size < 200_000
    with ceiling(50), pytest.raises(DataError) as e:
        load(root, height=8, width=8, channels=1, on_corrupt="stop", stream=False)
    assert "bomb.png" in str(e.value) and "9000x8000 pixels, more than the 67,108,864" in str(e.value)
    b = load(root, height=8, width=8, channels=1, on_corrupt="skip", stream=False)  # or left out
    assert len(b.train) == 4 and any("bomb.png" in w for w in b.warnings)
