"""The speed probe reports its progress (issue 14: "shown in the progress text"): which mode it times,
which round, the share done, and a compile trial with the time it is expected to take (the app's
text for it: tests/app/test_speed_settings.py)."""
import pytest
import torch
from test_speed_modes import CL, CPU, NCHW, _cfg, _fake_compile, _sample
from training_helpers import tiny_graph

from cnn_studio.training import Trainer
from cnn_studio.training import speed as sp


@pytest.fixture(autouse=True)
def _own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))  # a fresh speed cache: the probe runs
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)


def _model(bundle):
    return Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model


def test_the_real_probe_reports_each_mode_and_round_in_order(bundle, monkeypatch):
    """The real probe's steps, each announced before it runs. Its time budget and the dropping of a
    slow mode (both depend on the clock) are switched off, so the sequence is exact."""
    monkeypatch.setattr(sp, "DROP_SLOWER", float("inf"))
    model = _model(bundle)
    x, y = _sample(bundle)
    events = []
    steps, cands = 3, [NCHW, CL]
    times, _ = sp.measure(model, x, y, model.make_loss(), torch.optim.SGD, cands, steps, CPU,
                          max_seconds=1e9, progress=events.append)
    assert set(times) == set(cands)
    rounds = steps + 1  # the warm-up round and the timed ones
    assert [(e["stage"], e["round"], e["mode"]) for e in events] == \
        [("timing", r, sp.label(c)) for r in range(rounds) for c in cands]
    assert all(e["rounds"] == rounds and e["modes"] == 2 for e in events)
    assert [e["fraction"] for e in events] == [(r + i / 2) / rounds for r in range(rounds) for i in range(2)]


def test_a_compile_trial_is_announced_with_its_expected_time(bundle, monkeypatch):
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)
    model = _model(bundle)
    events, calls = [], []

    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel, progress=None):
        progress({"stage": "timing", "mode": sp.label(cands[0]), "round": 0, "rounds": 2, "modes": len(cands), "fraction": 0.0})
        return {NCHW: 0.01, CL: 0.005}, {NCHW: [1.0], CL: [1.0]}

    c = sp.choose_mode(model, _sample(bundle), model.make_loss(), torch.optim.SGD, CPU, "auto", "fp32",
                       run_steps=100_000, measure_fn=measure, compile_measure_fn=_fake_compile(30.0, 0.002, calls),
                       on_progress=events.append)
    assert c.compiled and calls == [CL]
    assert [e["stage"] for e in events] == ["timing", "compiling"]
    assert events[1]["mode"] == sp.label(CL) and events[1]["expected_s"] == sp.expected_compile_seconds(model)[0]


def test_a_measure_function_without_progress_still_works_with_a_listener(bundle):
    model = _model(bundle)
    events = []

    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel):  # the older signature
        return {NCHW: 0.01, CL: 0.005}, {NCHW: [1.0], CL: [1.0]}

    c = sp.choose_mode(model, _sample(bundle), model.make_loss(), torch.optim.SGD, CPU, "auto", "fp32",
                       measure_fn=measure, on_progress=events.append)
    assert c.memory_format == "channels_last" and events == []


def test_compiling_raises_dynamos_recompile_limit_for_a_long_session(monkeypatch):
    """A session compiles network after network (same generated forward code, other shapes): with
    dynamo's default of 8 variants per code object the ninth would silently train eagerly."""
    import torch._dynamo.config as dc

    monkeypatch.setattr(dc, "recompile_limit", 8)
    sp.compile_module(torch.nn.Linear(2, 2))  # torch.compile itself is lazy: nothing compiles here
    assert dc.recompile_limit == sp.RECOMPILE_LIMIT >= 64
    monkeypatch.setattr(dc, "recompile_limit", 500)  # a user's higher setting is kept
    sp.compile_module(torch.nn.Linear(2, 2))
    assert dc.recompile_limit == 500
