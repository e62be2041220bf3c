import subprocess
import sys
from pathlib import Path

import pytest

from cnn_studio.data import (
    DataConfig,
    DataError,
    detect_format,
    load_dataset,
    paths,
    studio_home,
)


def test_detect_each_format(make, tmp_path):
    assert detect_format("shapes") == "shapes"
    assert detect_format(make.folder({"a": 1, "b": 1})) == "folder"
    assert detect_format(make.idx()[0]) == "idx"
    assert detect_format(make.cifar10()) == "cifar"
    assert detect_format(make.csv()[0]) == "csv"
    import numpy as np
    assert detect_format(make.npz(x=np.zeros((2, 2, 2)), y=np.zeros(2))) == "npz"


def test_detect_errors(tmp_path, make):
    with pytest.raises(DataError, match="does not exist; check the path"):
        detect_format(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty or holds nothing"):
        detect_format(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="cannot tell the format"):
        detect_format(tmp_path / "notes.txt")
    img = make.image(tmp_path / "one.png")
    with pytest.raises(DataError, match="single image"):
        detect_format(img)
    make.image(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="no class folders"):
        detect_format(tmp_path / "flat")


def test_missing_path_and_format_override(tmp_path, make):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(source=str(tmp_path / "missing")))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(source=str(tmp_path / "missing"), format="npz"))
    path, _, _ = make.csv()
    renamed = path.rename(tmp_path / "table.txt")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_dataset(DataConfig(source=str(renamed)))
    b = load_dataset(DataConfig(source=str(renamed), format="csv", val_fraction=0))
    assert len(b.train) == 20


def test_studio_home_env_and_platform_defaults(monkeypatch, tmp_path):
    from cnn_studio.core import paths as core_paths  # the data layer uses the one studio_home

    assert studio_home() == Path(__import__("os").environ["CNN_STUDIO_HOME"])
    monkeypatch.delenv("CNN_STUDIO_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(core_paths.sys, "platform", "linux")
    assert studio_home() == Path.home() / ".local" / "share" / "cnn-studio"
    monkeypatch.setattr(core_paths.sys, "platform", "darwin")
    assert studio_home() == Path.home() / "Library" / "Application Support" / "cnn-studio"
    monkeypatch.setattr(core_paths.sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    assert studio_home() == tmp_path / "Roaming" / "cnn-studio"


def test_data_layer_imports_no_qt_app_or_training():
    code = ("import sys, cnn_studio.data; bad = [m for m in sys.modules if m.startswith(('PySide6', "
            "'cnn_studio.app', 'cnn_studio.training'))]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
