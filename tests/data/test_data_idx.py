import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.data import DataConfig, DataError, detect_format, load_dataset
from cnn_studio.data.idx import parse_idx


def load(path, **kw):
    kw.setdefault("val_fraction", 0.0)
    return load_dataset(DataConfig(source=str(path), **kw))


@pytest.mark.parametrize("gz, upper, sep", [(False, False, "-"), (True, False, "-"), (False, True, "-"),
                                            (True, True, "."), (False, False, ".")])
def test_idx_pairs_raw_gz_any_case(make, gz, upper, sep):
    folder, data = make.idx(gz=gz, upper=upper, sep=sep)
    assert detect_format(folder) == "idx"
    b = load(folder)
    assert b.input_shape() == (1, 6, 5)
    assert len(b.train) == 40 and len(b.test) == 20 and b.class_names == [str(i) for i in range(10)]
    assert np.array_equal(b.train.x[:, 0].numpy(), data["train"][0])
    assert np.array_equal(b.test.y.numpy(), data["test"][1])


def test_idx_without_test_pair_and_file_path(make):
    folder, _ = make.idx(n_test=None)
    b = load(folder)
    assert b.test is None
    b = load(folder / "train-images-idx3-ubyte")
    assert len(b.train) == 40


def test_fashion_names_and_nested_raw_folder(make, tmp_path):
    folder, _ = make.idx(folder=tmp_path / "FashionMNIST" / "raw")
    assert detect_format(tmp_path / "FashionMNIST") == "idx"
    b = load(tmp_path / "FashionMNIST")
    assert b.class_names[0] == "T-shirt/top" and b.class_names[9] == "Ankle boot"


def test_emnist_letters_transposed_with_mapping(make, tmp_path):
    folder = tmp_path / "emnist"
    folder.mkdir()
    x = np.zeros((4, 3, 3), dtype=np.uint8)
    x[:, 0, 2] = 255  # stored transposed: the bright pixel is really at row 2, column 0
    y = np.array([1, 2, 1, 26], dtype=np.uint8)
    (folder / "emnist-letters-train-images-idx3-ubyte").write_bytes(make.idx_bytes(x))
    (folder / "emnist-letters-train-labels-idx1-ubyte").write_bytes(make.idx_bytes(y))
    b = load(folder)
    assert b.train.x[0, 0, 2, 0] == 255 and b.train.x[0, 0, 0, 2] == 0
    assert b.class_names[:2] == ["A", "B"] and b.class_names[-1] == "Z"
    assert b.train.y.tolist() == [0, 1, 0, 25]
    (folder / "emnist-letters-mapping.txt").write_text("1 65 97\n2 66 98\n26 90 122\n")
    b = load(folder)
    assert b.class_names == ["A", "B", "Z"] and b.train.y.tolist() == [0, 1, 0, 2]


def test_several_prefixed_sets_need_a_file(make, tmp_path):
    folder = tmp_path / "many"
    make.idx(folder=folder, prefix="emnist-digits-")
    make.idx(folder=folder, prefix="emnist-mnist-")
    with pytest.raises(DataError, match="several IDX data sets"):
        load(folder)
    b = load(folder / "emnist-mnist-train-labels-idx1-ubyte")
    assert len(b.train) == 40


def test_truncated_idx_names_the_file(make):
    folder, _ = make.idx()
    p = folder / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(DataError) as e:
        load(folder)
    assert "train-images-idx3-ubyte" in str(e.value) and "truncated" in str(e.value)


def test_truncated_gzip(make):
    folder, _ = make.idx(gz=True)
    p = folder / "train-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DataError, match="damaged or incomplete gzip"):
        load(folder)


def test_mismatched_image_and_label_counts(make, tmp_path):
    folder = tmp_path / "mm"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(make.idx_bytes(np.zeros((5, 4, 4), np.uint8)))
    (folder / "train-labels-idx1-ubyte").write_bytes(make.idx_bytes(np.array([0, 1, 0, 1], np.uint8)))
    with pytest.raises(DataError, match="has 5 images but 4 labels"):
        load(folder)


def test_missing_labels_file(make, tmp_path):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(make.idx_bytes(np.zeros((5, 4, 4), np.uint8)))
    with pytest.raises(DataError, match="no training labels file"):
        load(folder)


def test_single_class_labels(make, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(make.idx_bytes(np.zeros((3, 4, 4), np.uint8)))
    (folder / "train-labels-idx1-ubyte").write_bytes(make.idx_bytes(np.array([2, 2, 2], np.uint8)))
    with pytest.raises(DataError, match="only one class"):
        load(folder)


def test_parse_idx_header_checks(make):
    good = make.idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert parse_idx(good, "x").shape == (3, 4)
    with pytest.raises(DataError, match="is not an IDX file"):
        parse_idx(b"\x01\x02" + good[2:], "x")
    with pytest.raises(DataError, match="more than its header"):
        parse_idx(good + b"\x00", "x")
    with pytest.raises(DataError, match="truncated"):
        parse_idx(good[:6], "x")
    f32 = make.idx_bytes(np.ones((2, 2), dtype=np.float32))
    assert parse_idx(f32, "x").dtype.kind == "f"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.builds(lambda t, n, rest: bytes([0, 0, t, n]) + rest,
                                           st.sampled_from([8, 9, 11, 12, 13, 14, 7]), st.integers(0, 6),
                                           st.binary(max_size=64)))
def test_parse_idx_random_bytes_only_data_errors(data):
    try:
        parse_idx(data, "'random'")
    except DataError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(images=st.binary(max_size=120), labels=st.binary(max_size=40), gz=st.booleans())
def test_idx_loader_random_files_only_data_errors(tmp_path_factory, images, labels, gz):
    folder = tmp_path_factory.mktemp("rnd")
    wrap = gzip.compress if gz else (lambda b: b)
    (folder / "train-images-idx3-ubyte").write_bytes(wrap(images))
    (folder / "train-labels-idx1-ubyte").write_bytes(wrap(labels))
    try:
        load(folder)
    except DataError:
        pass


def test_emnist_letters_test_label_0_is_not_shifted_to_minus_1(make, tmp_path):
    # found by tests/data/test_fuzz_data.py: training labels 1..26 shifted every split down by one, so a
    # test label 0 became class -1 in a bundle that loaded without complaint
    folder = tmp_path / "emnist"
    folder.mkdir()
    x = np.zeros((4, 3, 3), dtype=np.uint8)
    (folder / "emnist-letters-train-images-idx3-ubyte").write_bytes(make.idx_bytes(x))
    (folder / "emnist-letters-train-labels-idx1-ubyte").write_bytes(make.idx_bytes(np.array([1, 2, 1, 2], np.uint8)))
    (folder / "emnist-letters-test-images-idx3-ubyte").write_bytes(make.idx_bytes(x[:2]))
    (folder / "emnist-letters-test-labels-idx1-ubyte").write_bytes(make.idx_bytes(np.array([0, 2], np.uint8)))
    b = load(folder)
    assert int(b.test.y.min()) >= 0 and b.test.y.tolist() == [0, 2] and b.train.y.tolist()[:2] == [1, 2]
