"""`cnn-studio cache [--clear] [--json]`: what the speed cache and the compile cache hold, and clearing them."""
import json

import pytest

from cnn_studio.cli import main
from cnn_studio.training import speed as sp


@pytest.fixture
def home(_studio_home, monkeypatch):
    monkeypatch.delenv(sp.INDUCTOR_ENV, raising=False)
    monkeypatch.setattr(sp, "_SET_BY_US", set())
    monkeypatch.setattr(sp, "_CHECKED", set())
    return _studio_home


def _filled(home):
    sp.use_compile_cache()
    sp.record_compile("k1", 12.0, 4)
    sp.write_cache("e1", sp.SpeedChoice("channels_last", "fp32", "probe"))
    (home / sp.COMPILE_CACHE_DIR / "kernel.so").write_bytes(b"x" * 3000)


def test_cache_reports_what_the_caches_hold(home, capsys):
    _filled(home)
    assert main(["cache", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["entries"], r["compile_records"], r["removed"]) == (1, 1, [])
    assert r["compile_cache"] == str(home / sp.COMPILE_CACHE_DIR) and r["compile_cache_is_studios"]
    assert r["compile_cache_bytes"] >= 3000 and r["compile_cache_generation"]
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert "1 network(s) with a chosen mode, 1 compile record(s)" in out and "(the studio's; 3 kB)" in out


def test_cache_clear_removes_both_and_the_next_compile_is_expected_cold(home, capsys):
    _filled(home)
    assert sp.compiled_before("k1") is not None
    assert main(["cache", "--clear"]) == 0
    out = capsys.readouterr().out
    assert f"removed {home / sp.CACHE_FILE}" in out and f"removed {home / sp.COMPILE_CACHE_DIR}" in out
    assert not (home / sp.CACHE_FILE).exists() and not (home / sp.COMPILE_CACHE_DIR).exists()
    assert sp.compiled_before("k1") is None and "empty" in out
    assert main(["cache", "--clear", "--json"]) == 0  # nothing left: nothing removed, no error
    assert json.loads(capsys.readouterr().out)["removed"] == []


def test_cache_clear_leaves_a_folder_the_user_chose(home, tmp_path, monkeypatch, capsys):
    _filled(home)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "kernel.so").write_bytes(b"y")
    monkeypatch.setenv(sp.INDUCTOR_ENV, str(mine))
    assert main(["cache", "--clear"]) == 0
    out = capsys.readouterr().out
    assert (mine / "kernel.so").exists() and "not cleared: it is the folder TORCHINDUCTOR_CACHE_DIR names" in out
    assert (home / sp.COMPILE_CACHE_DIR / "kernel.so").exists()  # not the folder in use now: left as well
    assert not (home / sp.CACHE_FILE).exists()


def test_cache_says_an_unreadable_speed_cache_is_ignored(home, capsys):
    home.mkdir(parents=True, exist_ok=True)
    (home / sp.CACHE_FILE).write_text("{not json")
    assert main(["cache"]) == 0
    assert "is not valid JSON: it is ignored and rewritten by the next run" in capsys.readouterr().out
