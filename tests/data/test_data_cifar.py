import numpy as np
import pytest

from cnn_studio.data import DataConfig, DataError, detect_format, load_dataset


def load(path, **kw):
    kw.setdefault("val_fraction", 0.0)
    return load_dataset(DataConfig(source=str(path), **kw))


def test_cifar10_batches_meta_and_pixel_layout(make, tmp_path):
    folder = make.cifar10(folder=tmp_path / "dl" / "cifar-10-batches-bin")
    assert detect_format(tmp_path / "dl") == "cifar"
    b = load(tmp_path / "dl")
    assert b.input_shape() == (3, 32, 32) and len(b.train) == 30 and len(b.test) == 8
    assert b.class_names[0] == "airplane" and b.num_classes == 10
    raw = np.frombuffer((folder / "data_batch_1.bin").read_bytes(), np.uint8).reshape(-1, 3073)
    assert int(b.train.y[0]) == raw[0, 0]
    assert np.array_equal(b.train.x[0].numpy(), raw[0, 1:].reshape(3, 32, 32))  # R, G, B planes


def test_cifar10_without_meta_uses_known_names_and_missing_batch_warns(make):
    folder = make.cifar10(batches=3, meta=False)
    b = load(folder)
    assert b.class_names[-1] == "truck"
    assert any("data_batch_4.bin" in w for w in b.warnings)


def test_cifar100_fine_labels(make, tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    rng = np.random.default_rng(0)
    labels = np.arange(12) * 8  # fine labels 0..88
    (folder / "train.bin").write_bytes(make.cifar_records(rng, 12, 2, 100, labels))
    (folder / "test.bin").write_bytes(make.cifar_records(rng, 4, 2, 100, [1, 2, 3, 4]))
    (folder / "fine_label_names.txt").write_text("\n".join(f"c{i}" for i in range(100)))
    b = load(folder)
    assert b.num_classes == 100 and b.class_names[8] == "c8"
    assert b.train.y.tolist() == labels.tolist()
    assert b.test.y.tolist() == [1, 2, 3, 4]


def test_truncated_batch(make):
    folder = make.cifar10()
    p = folder / "data_batch_2.bin"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataError) as e:
        load(folder)
    assert "data_batch_2.bin" in str(e.value) and "3073-byte" in str(e.value)


def test_label_out_of_range(make):
    folder = make.cifar10()
    rng = np.random.default_rng(1)
    (folder / "test_batch.bin").write_bytes(make.cifar_records(rng, 3, 1, 10, [0, 12, 3]))
    with pytest.raises(DataError) as e:
        load(folder)
    assert "label 12" in str(e.value) and "out of range for the 10 classes" in str(e.value)


def test_python_pickle_version_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for n in ("data_batch_1", "batches.meta", "test_batch"):
        (folder / n).write_bytes(b"\x80\x04pickle")
    with pytest.raises(DataError, match="binary version"):
        load(folder, format="cifar")
