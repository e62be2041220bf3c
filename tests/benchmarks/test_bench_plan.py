"""benchmarks/speed_modes.deciding_as_for: a short benchmark run decides its speed mode as for the long run it
stands for (used by speed_modes.py and mode_accuracy.py)."""
import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture
def speed_modes(monkeypatch):
    # the script keeps freed memory on import, as cnn-studio does; not in the test process
    monkeypatch.setenv("CNN_STUDIO_KEEP_FREED_MEMORY", "0")
    return importlib.import_module("speed_modes")


def test_within_it_choose_mode_gets_the_planned_steps_and_is_restored_after(speed_modes, monkeypatch):
    from cnn_studio.training import speed

    seen = []

    def fake_choose(*a, run_steps=None, **k):
        seen.append(run_steps)
        return "choice"

    monkeypatch.setattr(speed, "choose_mode", fake_choose)
    with speed_modes.deciding_as_for(1410):
        assert speed.choose_mode(None, run_steps=96) == "choice"
    with speed_modes.deciding_as_for(None):  # None: the run's own length passes through
        speed.choose_mode(None, run_steps=96)
    assert seen == [1410, 96]
    assert speed.choose_mode is fake_choose


def test_it_restores_choose_mode_when_the_run_raises(speed_modes):
    from cnn_studio.training import speed

    real = speed.choose_mode
    with pytest.raises(RuntimeError):
        with speed_modes.deciding_as_for(10):
            assert speed.choose_mode is not real
            raise RuntimeError("a run that failed")
    assert speed.choose_mode is real
