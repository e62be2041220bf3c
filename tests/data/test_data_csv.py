import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.data import DataConfig, DataError, detect_format, load_dataset


def load(path, **kw):
    kw.setdefault("val_fraction", 0.0)
    return load_dataset(DataConfig(source=str(path), **kw))


def test_kaggle_layout_and_unlabelled_test_csv(make):
    path, x, y = make.csv(n=20, pixels=16, classes=4)
    (make.tmp / "test.csv").write_text(",".join(f"pixel{i}" for i in range(16)) + "\n" + ",".join(["1"] * 16) + "\n")
    assert detect_format(path) == "csv" and detect_format(make.tmp) == "csv"
    b = load(path)
    assert b.input_shape() == (1, 4, 4) and len(b.train) == 20 and b.test is None
    assert np.array_equal(b.train.x[:, 0].reshape(20, 16).numpy(), x)
    assert b.train.y.tolist() == y.tolist()
    assert any("test.csv" in w and "not used as a test split" in w for w in b.warnings)


def test_labelled_test_csv_and_headerless_files(make):
    make.csv(name="mnist_train.csv", header=False, n=12, pixels=9, classes=3)
    make.csv(name="mnist_test.csv", header=False, n=6, pixels=9, classes=3, seed=1)
    b = load(make.tmp / "mnist_train.csv")
    assert len(b.train) == 12 and len(b.test) == 6 and b.input_shape() == (1, 3, 3)


def test_label_column_by_name_index_and_last(make):
    path, x, y = make.csv(n=10, pixels=4, classes=2, label_first=False)
    b = load(path)  # 'label' found by name although last
    assert b.train.y.tolist() == y.tolist()
    b = load(path, label_column="4")
    assert b.train.y.tolist() == y.tolist()
    with pytest.raises(DataError, match="no column named 'target'"):
        load(path, label_column="target")


def test_colour_rows_and_explicit_size(make, tmp_path):
    path, x, y = make.csv(n=6, pixels=2 * 2 * 3, classes=2)
    b = load(path)
    assert b.input_shape() == (3, 2, 2)
    assert np.array_equal(b.train.x[0].permute(1, 2, 0).reshape(-1).numpy(), x[0])  # r,g,b per pixel
    path, _, _ = make.csv(name="rect.csv", n=6, pixels=6, classes=2)
    with pytest.raises(DataError, match="not a square image"):
        load(path)
    b = load(path, height=2, width=3)
    assert b.input_shape() == (1, 2, 3)


def test_text_labels_become_class_names(tmp_path):
    p = tmp_path / "animals.csv"
    p.write_text("label,a,b,c,d\ncat,1,2,3,4\ndog,5,6,7,8\ncat,0,0,0,0\nbird,9,9,9,9\n")
    b = load(p)
    assert b.class_names == ["bird", "cat", "dog"] and b.train.y.tolist() == [1, 2, 1, 0]


def test_float_pixels_in_unit_range(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("label,a,b,c,d\n0,0.0,0.5,1.0,0.25\n1,1,1,1,1\n")
    b = load(p)
    assert b.train.x[0].flatten().tolist() == [0, 128, 255, 64]


@pytest.mark.parametrize("body, words", [
    ("label,a,b,c,d\n0,1,2,3,4\n1,1,x,3,4\n", ["line 3, column 3", "'x'", "not a number"]),
    ("label,a,b,c,d\n0,1,2,3,4\n1,1,2,3\n", ["line 3 has 4 columns", "first row has 5"]),
    ("label,a,b,c,d\n0,1,2,3,4\n2.5,1,2,3,4\n", ["non-integer label 2.5"]),
    ("label,a,b,c,d\n0,1,2,3,4\n-1,1,2,3,4\n", ["negative label -1"]),
    ("label,a,b,c,d\n0,1,2,3,4\n1,1,2,3,400\n", ["pixel values from 1 to 400"]),
    ("label,a,b,c,d\n", ["no data rows"]),
    ("label,a,b,c,d\n1,1,2,3,4\n1,4,3,2,1\n", ["only one class"]),
    ("", ["is empty"]),
])
def test_bad_csv_messages(tmp_path, body, words):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(DataError) as e:
        load(p)
    for w in words:
        assert w in str(e.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(alphabet="0123456789,.-ae\n\" \x00", max_size=300))
def test_random_csv_content_only_data_errors(tmp_path_factory, content):
    p = tmp_path_factory.mktemp("csv") / "r.csv"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    try:
        load(p)
    except DataError:
        pass
