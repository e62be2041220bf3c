import io
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.data import DataConfig, DataError, load_dataset


def load(path, **kw):
    kw.setdefault("val_fraction", 0.0)
    return load_dataset(DataConfig(source=str(path), **kw))


def labels(n, k=3):
    return np.arange(n) % k


@pytest.mark.parametrize("shape, expect", [((9, 5, 4), (1, 5, 4)), ((9, 5, 4, 3), (3, 5, 4)),
                                           ((9, 3, 5, 4), (3, 5, 4)), ((9, 5, 4, 4), (3, 5, 4)),
                                           ((9, 16), (1, 4, 4))])
def test_layouts(make, shape, expect):
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    b = load(make.npz(x=x, y=labels(9)))
    assert b.input_shape() == expect


def test_nchw_pixels_land_in_place(make):
    x = np.random.default_rng(0).integers(0, 256, (6, 3, 5, 4), dtype=np.uint8)
    b = load(make.npz(x=x, y=labels(6)))
    assert torch.equal(b.train.x, torch.from_numpy(x))


def test_float_images_train_test_and_names(make):
    rng = np.random.default_rng(1)
    xtr = rng.random((12, 4, 4)).astype(np.float32)
    xte = rng.random((5, 4, 4)).astype(np.float32)
    p = make.npz(x_train=xtr, y_train=labels(12).astype(np.float64), x_test=xte, y_test=labels(5),
                 class_names=np.array(["a", "b", "c"]))
    b = load(p)
    assert b.class_names == ["a", "b", "c"] and len(b.test) == 5
    assert torch.equal(b.train.x[:, 0], torch.from_numpy(np.rint(xtr * 255).astype(np.uint8)))


def test_one_hot_labels(make):
    y = np.eye(3)[labels(6)]
    b = load(make.npz(x=np.zeros((6, 2, 2), np.uint8), y=y))
    assert b.train.y.tolist() == labels(6).tolist()


@pytest.mark.parametrize("arrays, words", [
    (dict(x=np.zeros((5, 2, 2), np.uint8), y=labels(4)), "has 5 images but 4 labels"),
    (dict(x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 1, -2, 1])), "negative label -2"),
    (dict(x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 1, 7, 1]), class_names=np.array(["a", "b"])),
     "label 7 at index 2, out of range for the 2 classes"),
    (dict(x=np.zeros((4, 2, 2), np.uint8), y=np.array([0, 1, 0.5, 1])), "non-integer label 0.5"),
    (dict(x=np.full((4, 2, 2), 300.0), y=labels(4)), "pixel values from 300 to 300"),
    (dict(x=np.full((4, 2, 2), -0.5), y=labels(4)), "expected 0..1 or 0..255"),
    (dict(x=np.zeros((4, 2, 2), np.uint8)), "has 'x' but no 'y'"),
    (dict(images=np.zeros((4, 2, 2), np.uint8)), "expected 'x' and 'y'"),
    (dict(x=np.zeros((4, 7, 7, 7), np.uint8), y=labels(4)), "neither axis 1 nor axis 3"),
    (dict(x=np.zeros((4, 2, 2), np.uint8), y=np.zeros(4)), "only one class"),
])
def test_bad_npz_messages(make, arrays, words):
    with pytest.raises(DataError) as e:
        load(make.npz(**arrays))
    assert words in str(e.value)


def test_object_arrays_are_refused(make):
    p = make.tmp / "obj.npz"
    np.savez(p, x=np.zeros((2, 2, 2), np.uint8), y=np.array([0, "cat"], dtype=object))
    with pytest.raises(DataError) as e:
        load(p)
    assert "'y'" in str(e.value) and "Python objects" in str(e.value)


def test_not_a_zip_and_npy(make):
    p = make.tmp / "fake.npz"
    p.write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an .npz archive"):
        load(p)
    np.save(make.tmp / "arr.npy", np.zeros(3))
    (make.tmp / "arr.npy").rename(make.tmp / "arr.npz")
    with pytest.raises(DataError, match="single .npy array"):
        load(make.tmp / "arr.npz")


def _zip_with(member: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.npy", member)
        z.writestr("y.npy", member[::-1])
    return buf.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b) | st.binary(max_size=150).map(_zip_with)
       | st.binary(max_size=100).map(lambda b: _zip_with(b"\x93NUMPY\x01\x00" + b)))
def test_random_npz_bytes_only_data_errors(tmp_path_factory, blob):
    p = tmp_path_factory.mktemp("npz") / "r.npz"
    p.write_bytes(blob)
    try:
        load(p)
    except DataError:
        pass
