import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from cnn_studio.data import (
    BatchIterator,
    DataCancelled,
    DataConfig,
    DataError,
    load_dataset,
)


def load(path, **kw):
    kw.setdefault("val_fraction", 0.0)
    return load_dataset(DataConfig(source=str(path), **kw))


def test_mixed_formats_modes_and_sizes(make, tmp_path):
    root = tmp_path / "mixed"
    make.image(root / "cat" / "a.png", (8, 8), "RGB", seed=1)
    make.image(root / "cat" / "b.jpg", (8, 8), "L", seed=2)
    make.image(root / "cat" / "c.bmp", (8, 8), "RGB", seed=3)
    make.image(root / "cat" / "d.png", (8, 8), "RGBA", seed=4)
    make.image(root / "dog" / "e.gif", (8, 8), "L", seed=5)
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 3, "L").convert("P").save(root / "dog" / "f.png")
    Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(root / "dog" / "g.png")
    make.image(root / "dog" / "h.png", (12, 10), "RGB", seed=6)  # another size: resized
    b = load(root)
    assert b.class_names == ["cat", "dog"]
    assert b.input_shape() == (3, 8, 8)  # colour present -> RGB; most common size
    assert len(b.train) == 8 and b.class_counts() == [4, 4]
    assert any("resized to 8x8" in w for w in b.warnings)
    # RGBA: alpha dropped, colour kept
    rgba = np.array(Image.open(root / "cat" / "d.png"))[..., :3]
    assert torch.equal(b.train.x[3], torch.from_numpy(rgba).permute(2, 0, 1))
    # 16-bit image scaled to 8 bits, gray replicated to 3 channels
    g16 = b.train.x[6]
    assert torch.equal(g16[0], g16[1]) and int(g16.max()) == round(63000 / 257)


def test_gray_folder_stays_gray_and_target_override(make):
    root = make.folder({"a": 3, "b": 3}, mode="L", size=(10, 10))
    b = load(root)
    assert b.input_shape() == (1, 10, 10)
    b = load(root, channels=3, height=16, width=12)
    assert b.input_shape() == (3, 16, 12) and b.train.x.shape == (6, 3, 16, 12)
    assert torch.equal(b.train.x[:, 0], b.train.x[:, 2])


def test_natural_class_order_and_nested_files(make, tmp_path):
    root = tmp_path / "num"
    for cls in ("10", "2", "1"):
        make.image(root / cls / "deep" / "x.png", seed=int(cls))
    make.image(root / "2" / "y.png")
    (root / "2" / "notes.txt").write_text("hi")
    (root / ".hidden").mkdir()
    b = load(root)
    assert b.class_names == ["1", "2", "10"]
    assert b.class_counts() == [1, 2, 1]
    assert any("not images were ignored" in w for w in b.warnings)


def test_split_folders_train_test_and_val(make, tmp_path):
    root = tmp_path / "split"
    make.folder({"a": 5, "b": 5}, root=root / "train")
    make.folder({"a": 2, "b": 1}, root=root / "test", seed=50)
    make.folder({"a": 1, "b": 2}, root=root / "Val", seed=80)
    b = load(root, val_fraction=0.3)
    assert (len(b.train), len(b.val), len(b.test)) == (10, 3, 3)  # val folder used, nothing carved out
    assert b.class_counts("test") == [2, 1] and b.class_counts("val") == [1, 2]
    assert "validation split from the source" in b.source_description


def test_split_folder_test_only_class_is_an_error(make, tmp_path):
    root = tmp_path / "s"
    make.folder({"a": 2, "b": 2}, root=root / "train")
    make.folder({"a": 1, "zebra": 1}, root=root / "test")
    with pytest.raises(DataError, match="class folder 'zebra' in .* has no counterpart"):
        load(root)


def test_empty_class_folder(make):
    root = make.folder({"cat": 2, "dog": 2})
    (root / "bird").mkdir()
    with pytest.raises(DataError) as e:
        load(root)
    assert f"'{root}' has no images in class folder 'bird'; add images or remove the folder" in str(e.value)


def test_only_one_class(make):
    root = make.folder({"cat": 3})
    with pytest.raises(DataError, match="only one class folder \\('cat'\\)"):
        load(root)


def test_images_without_class_folders(make, tmp_path):
    make.image(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="holds images but no class folders"):
        load(tmp_path / "flat", format="folder")


def test_corrupt_images_skip_and_stop(make):
    root = make.folder({"cat": 40, "dog": 40})  # enough images for the thread pool path
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    good = (root / "dog" / "img0.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 2])
    b = load(root, on_corrupt="skip", workers=2)
    assert len(b.train) == 80
    msg = [w for w in b.warnings if "unreadable" in w]
    assert msg and "skipped 2 unreadable images" in msg[0] and "broken.png" in msg[0] and "truncated.png" in msg[0]
    with pytest.raises(DataError) as e:
        load(root, on_corrupt="stop", workers=2)
    assert "broken.png" in str(e.value) or "truncated.png" in str(e.value)
    assert "on_corrupt" in str(e.value)


def test_class_with_only_corrupt_images(make):
    root = make.folder({"cat": 2})
    (root / "dog").mkdir()
    (root / "dog" / "x.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="every image in class folder 'dog'"):
        load(root)


def test_cache_reuse_and_invalidation(make, _studio_home):
    root = make.folder({"a": 3, "b": 3})
    b1 = load(root)
    assert "decoded" in b1.source_description
    caches = list((_studio_home / "cache").glob("folder-*.npz"))
    assert len(caches) == 1
    b2 = load(root)
    assert "from the cache" in b2.source_description and torch.equal(b1.train.x, b2.train.x)
    # another target size is another cache entry
    load(root, height=4, width=4)
    assert len(list((_studio_home / "cache").glob("folder-*.npz"))) == 2
    # adding a file invalidates
    make.image(root / "a" / "new.png", seed=99)
    b3 = load(root)
    assert "decoded" in b3.source_description and len(b3.train) == 7
    assert "from the cache" in load(root).source_description
    # modifying a file (same name) invalidates, and the new pixels are used
    p = root / "b" / "img0.png"
    make.image(p, value=200)
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    b4 = load(root)
    assert "decoded" in b4.source_description
    assert (b4.train.x == 200).all(dim=(1, 2, 3)).sum() == 1


def test_cache_keeps_corrupt_report(make):
    root = make.folder({"a": 2, "b": 2})
    (root / "a" / "bad.png").write_bytes(b"nope")
    load(root)
    again = load(root)
    assert "from the cache" in again.source_description
    assert any("bad.png" in w for w in again.warnings)
    with pytest.raises(DataError, match="bad.png"):
        load(root, on_corrupt="stop")


def test_progress_reported_and_cancel(make):
    root = make.folder({"a": 40, "b": 40})
    seen = []
    b = load_dataset(DataConfig(source=str(root), workers=2), progress=lambda d, t, m: seen.append((d, t, m)))
    assert any(m.startswith("Decoding") and d == t == 80 for d, t, m in seen)
    assert len(b.train) + len(b.val) == 80

    ev = threading.Event()

    def progress(done, total, message):
        if message.startswith("Decoding"):
            ev.set()

    with pytest.raises(DataCancelled):
        load_dataset(DataConfig(source=str(make.folder({"a": 40, "b": 40}, root=make.tmp / "other"))),
                     progress=progress, cancel=ev)
    calls = []
    with pytest.raises(DataCancelled):
        load_dataset(DataConfig(source=str(root), height=5, width=5),
                     cancel=lambda: calls.append(1) or len(calls) > 3)


def test_streaming_folder(make):
    root = make.folder({"a": 6, "b": 4}, size=(9, 7))
    b = load(root, stream=True, val_fraction=0.2)
    assert b.streaming and b.train.x is None and b.input_shape() == (3, 7, 9)
    assert len(b.train) == 8 and len(b.val) == 2
    img, label = b.sample("train", 0)
    assert img.dtype == torch.uint8 and img.shape == (3, 7, 9) and label in (0, 1)
    g = torch.Generator().manual_seed(0)
    it = BatchIterator(b.train, 3, shuffle=True, generator=g, num_workers=0)
    got = [yb for _, yb in it]
    assert [len(y) for y in got] == [3, 3, 2]
    assert sorted(torch.cat(got).tolist()) == sorted(b.train.y.tolist())
    # stats measured on the streamed training images
    full = load(root, val_fraction=0.2)
    assert np.allclose(b.mean, full.mean, atol=1e-6) and np.allclose(b.std, full.std, atol=1e-6)


def test_streaming_auto_threshold_and_worker_processes(make):
    root = make.folder({"a": 4, "b": 4})
    b = load(root, stream_threshold=5)
    assert b.streaming
    xs = [xb for xb, _ in BatchIterator(b.train, 4, shuffle=False, num_workers=1)]
    ref = torch.stack([b.sample("train", i)[0] for i in range(len(b.train))])
    assert torch.equal(torch.cat(xs), ref)


def test_streaming_corrupt_file_skip_and_stop(make):
    root = make.folder({"a": 3, "b": 3})
    (root / "a" / "img1.png").write_bytes(b"broken")
    b = load(root, stream=True, normalize=False)
    ds = b.train.dataset
    bad = [i for i, f in enumerate(ds.files) if f.endswith("img1.png") and "/a/" in f.replace("\\", "/")][0]
    with pytest.warns(RuntimeWarning, match="img1.png"):
        img, label = ds[bad]
    ref, ref_label = ds[bad + 1]
    assert torch.equal(img, ref) and label == ref_label  # replaced by the next readable image
    assert len(ds.skipped) == 1
    b = load(root, stream=True, normalize=False, on_corrupt="stop")
    with pytest.raises(DataError, match="img1.png"):
        b.train.dataset[bad]
    # measuring mean/std reads the files and reports what it skipped
    b = load(root, stream=True)
    assert any("unreadable images found while measuring" in w for w in b.warnings)


def test_config_as_dict(make):
    root = make.folder({"a": 2, "b": 2})
    b = load_dataset({"source": str(root), "val_fraction": 0.0, "channels": 1})
    assert b.input_shape() == (1, 8, 8) and b.config.channels == 1 and b.format == "folder"


def test_path_object_source(make):
    root = make.folder({"a": 2, "b": 2})
    assert len(load_dataset(DataConfig(source=root, val_fraction=0)).train) == 4
