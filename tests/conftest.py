"""Test-wide set-up: Qt runs offscreen so bare `pytest` works without a display, and every run
writes its files under a temporary CNN_STUDIO_HOME instead of the user's data folder."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest


@pytest.fixture(autouse=True)
def _studio_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("studio_home")
    monkeypatch.setenv("CNN_STUDIO_HOME", str(home))
    yield home
