"""The speed probe's cost and control (issue 14): a compile that a stop abandons at once (the Trainer
returns, the compile thread ends by itself on its copy), the compile warm-up leaving the run's state
untouched, the compile trial skipped when even a best-case compile cannot repay, losing candidates
dropped early, and the cache (reuse, re-probe on another batch or graph, a corrupt file noted and
ignored). No wall-clock assertions."""
import json
import threading

import pytest
import torch
from torch import nn
from training_helpers import tiny_graph

from cnn_studio.training import Callback, Trainer, TrainConfig
from cnn_studio.training import speed as sp
from cnn_studio.training.checkpoint import load_checkpoint

CPU = torch.device("cpu")
NCHW, CL = ("contiguous", "fp32"), ("channels_last", "fp32")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)
    yield
    for t in sp.background_threads():  # nothing left running by any test here
        t.join(30)
    assert sp.background_threads() == []


def _cfg(**kw):
    base = dict(epochs=1, batch_size=32, optimizer="adam", lr=0.003, schedule="constant", device="cpu", seed=1,
                num_threads=1, layer_stats_every=0)
    return TrainConfig(**{**base, **kw})


class _SlowCompile:
    """Stands in for torch.compile: the compiled module's first call blocks (a compile in progress)
    until ``release`` is set, then runs the module eagerly; ``started`` is set when it begins."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()
        self.modules = []

    def __call__(self, module):
        outer = self

        class Compiled(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = module
                self.calls = 0

            def forward(self, x):
                if self.calls == 0:
                    outer.started.set()
                    outer.release.wait(60)
                self.calls += 1
                return self.inner(x)

        c = Compiled()
        self.modules.append(c)
        return c


def _stop_when_compiling(trainer, slow):
    def stopper():
        if slow.started.wait(60):
            trainer.request_stop()
    t = threading.Thread(target=stopper, daemon=True)
    t.start()
    return t


def test_a_stop_while_compiling_returns_at_once_and_the_abandoned_compile_ends_on_its_copy(bundle, tmp_path, monkeypatch):
    slow = _SlowCompile()
    monkeypatch.setattr(sp, "compile_module", slow)
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.3)
    t = Trainer(g, bundle, _cfg(speed="compile"), run_dir=tmp_path / "r")
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    stopper = _stop_when_compiling(t, slow)
    s = t.fit()  # returns although the "compile" is still blocked
    stopper.join(5)
    assert s["stop_reason"] == "stopped_by_user" and s["speed"]["compiled"]
    assert any("stopped while compiling" in n for n in s["notes"])
    live = sp.background_threads()
    assert len(live) == 1 and live[0].daemon and live[0].is_alive()  # abandoned, not waited for
    assert slow.modules[0].inner is not t.model  # it compiles a copy
    slow.release.set()
    live[0].join(30)
    assert sp.background_threads() == []
    assert slow.modules[0].calls == 1  # it finished its step, on the copy
    assert all(torch.equal(before[k], v) for k, v in t.model.state_dict().items())  # the run's weights untouched
    ck = load_checkpoint(tmp_path / "r")
    assert ck["progress"]["global_step"] == 0
    torch.manual_seed(1)  # the run's seed: the stop records the state the run started from
    assert torch.equal(ck["rng"]["torch"], torch.get_rng_state())


def test_a_cancelled_compile_trial_under_auto_returns_at_once(bundle, monkeypatch):
    slow = _SlowCompile()
    monkeypatch.setattr(sp, "compile_module", slow)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    sample = (bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8])
    stop = threading.Event()
    threading.Thread(target=lambda: slow.started.wait(60) and stop.set(), daemon=True).start()

    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel):  # eager winner NCHW, 1 s a step
        return {c: 1.0 for c in cands}, {c: [1.0] for c in cands}

    choice = sp.choose_mode(model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto", "fp32", run_steps=10**6,
                            measure_fn=measure, cancel=stop.is_set)
    assert "cancelled" in choice.reason and not choice.compiled
    assert [t.is_alive() for t in sp.background_threads()] == [True]
    slow.release.set()


def test_the_compile_warmup_leaves_the_run_as_an_eager_one(bundle, tmp_path, monkeypatch):
    """With the compiler replaced by the identity, a compiled run (warm-up on a copy, then the run's own
    module) trains bit for bit as an eager one: the warm-up touched neither weights nor random state."""
    monkeypatch.setattr(sp, "compile_module", lambda m: m)
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.3)
    compiled = Trainer(g, bundle, _cfg(speed="compile"), run_dir=tmp_path / "c")
    compiled.fit()
    eager = Trainer(g, bundle, _cfg(), run_dir=tmp_path / "e")
    eager.fit()
    assert compiled.summary["speed"]["compiled"]
    a, b = compiled.model.state_dict(), eager.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_compile_that_fails_in_the_warmup_trains_eagerly_and_says_so(bundle, tmp_path, monkeypatch):
    class Broken(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            raise RuntimeError("inductor: C++ compile failed\ndetails")

    monkeypatch.setattr(sp, "compile_module", Broken)
    s = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg(speed="compile"),
                run_dir=tmp_path / "r").fit()
    assert s["stop_reason"] == "finished" and not s["speed"]["compiled"] and s["speed"]["exact_resume"]
    assert any("torch.compile failed while compiling (inductor: C++ compile failed)" in n for n in s["notes"])


# ---- the compile trial's cost ------------------------------------------------------------------------------
def test_a_compile_trial_runs_only_when_a_best_case_compile_would_repay():
    assert sp.worth_a_compile_trial(eager_step=0.1, run_steps=10_000, expected_compile=100.0)  # saves up to 500 s
    assert not sp.worth_a_compile_trial(eager_step=0.01, run_steps=1410, expected_compile=24.0)  # 7 s at best


def test_auto_skips_the_compile_trial_it_cannot_repay_and_learns_the_machines_rate(bundle, monkeypatch):
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    n = sp.leaf_modules(model)
    measure = lambda *a: ({c: 0.1 for c in a[5]}, {c: [1.0] for c in a[5]})  # noqa: E731
    calls = []

    def compile_measure(model, x, y, loss_fn, make_opt, cand, steps, device, cancel):
        calls.append(cand)
        return 30.0, 0.095

    args = (model, (bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8]), model.make_loss(), torch.optim.SGD, CPU,
            "auto", "fp32")
    # 700 s eager: a 2x compile saves 350 s, more than the prior's expected compile -> tried
    assert sp.expected_compile_seconds(model)[0] == sp.COMPILE_PRIOR_SECONDS_PER_MODULE * n
    tried = sp.choose_mode(*args, run_steps=7000, measure_fn=measure, compile_measure_fn=compile_measure)
    assert calls == [NCHW] and "does not repay" in tried.reason
    # a machine that measured slow compiles: the same run no longer pays for a trial
    for _ in range(3):
        sp.write_cache(None, None, 1000.0 / n)
    assert sp.expected_compile_seconds(model) == (pytest.approx(1000.0), "3 compile(s) measured here")
    skipped = sp.choose_mode(*args, run_steps=7000, measure_fn=measure, compile_measure_fn=compile_measure)
    assert calls == [NCHW] and not skipped.compiled and "no compile was tried" in skipped.reason


class _SlowInChannelsLast(nn.Module):
    """A conv whose step costs 50 units of a fake clock for channels_last input, 1 otherwise (a mode
    that clearly loses, without any real time in the test)."""

    def __init__(self, tick):
        super().__init__()
        self.tick = tick  # a function: deepcopy (the probe copies the model per mode) keeps it shared
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        slow = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        self.tick(0.05 if slow else 0.001)
        return self.fc(self.conv(x).mean((2, 3)))


def test_a_clearly_losing_candidate_is_dropped_after_three_timed_rounds(monkeypatch):
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 2, (4,))
    clock = [0.0]
    monkeypatch.setattr(sp.time, "perf_counter", lambda: clock[0])  # the probe's timer reads the fake clock
    def tick(dt):
        clock[0] += dt

    times, losses = sp.measure(_SlowInChannelsLast(tick), x, y, nn.CrossEntropyLoss(), torch.optim.SGD, [NCHW, CL], 6,
                               CPU, max_seconds=1e9)
    monkeypatch.undo()
    assert {c: len(v) for c, v in losses.items()} == {NCHW: 6, CL: sp.DROP_AFTER_ROUNDS}
    assert sp.decide(times, losses, "fp32", 6)[0] == NCHW


def test_the_reference_is_timed_to_the_end_even_when_clearly_slower(monkeypatch):
    """NCHW fp32 is what a faster mode must beat by MIN_GAIN and what bf16's losses are checked
    against: it is never dropped, however slow."""
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 2, (4,))
    clock = [0.0]
    monkeypatch.setattr(sp.time, "perf_counter", lambda: clock[0])

    def tick(dt):  # the reverse of _SlowInChannelsLast: NCHW costs 50 units, channels_last 1
        clock[0] += 0.051 - dt

    times, losses = sp.measure(_SlowInChannelsLast(tick), x, y, nn.CrossEntropyLoss(), torch.optim.SGD, [NCHW, CL], 6,
                               CPU, max_seconds=1e9)
    monkeypatch.undo()
    assert {c: len(v) for c, v in losses.items()} == {NCHW: 6, CL: 6}
    assert sp.decide(times, losses, "fp32", 6)[0] == CL


class _Scheduled(nn.Module):
    """A conv whose n-th step in a memory format costs ``costs[format][n]`` (the last one after the
    list ends) on a fake clock: warm-up costs without any real time in the test."""

    def __init__(self, tick, costs):
        super().__init__()
        self.tick, self.costs, self.calls = tick, costs, {"cl": 0, "nchw": 0}
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        fmt = "cl" if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() else "nchw"
        seq, n = self.costs[fmt], self.calls[fmt]
        self.tick(seq[min(n, len(seq) - 1)])
        self.calls[fmt] = n + 1
        return self.fc(self.conv(x).mean((2, 3)))


def _scheduled_measure(monkeypatch, costs, steps, **kw):
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 2, (4,))
    clock = [0.0]
    monkeypatch.setattr(sp.time, "perf_counter", lambda: clock[0])

    def tick(dt):
        clock[0] += dt

    try:
        return sp.measure(_Scheduled(tick, costs), x, y, nn.CrossEntropyLoss(), torch.optim.SGD, [NCHW, CL], steps, CPU, **kw)
    finally:
        monkeypatch.undo()


def test_a_mode_slow_only_while_it_warms_up_is_judged_by_its_settled_steps(monkeypatch):
    """As VGG-11 on a 2-core Xeon: NCHW's first timed steps are 2.4x its settled one, channels_last's
    are steady in between. The median of the timed steps picked channels_last; the fastest step
    picks NCHW, the faster of the two once settled (the deep copies are made before the clock is
    faked and counted from the first step on)."""
    monkeypatch.setattr(sp, "DROP_SLOWER", float("inf"))
    costs = {"nchw": [3.0, 1.45, 1.45, 0.6], "cl": [3.0, 0.9]}
    times, losses = _scheduled_measure(monkeypatch, costs, 4, max_seconds=1e9)
    assert {c: len(v) for c, v in losses.items()} == {NCHW: 4, CL: 4}
    assert times == {NCHW: pytest.approx(0.6), CL: pytest.approx(0.9)}
    assert sp.decide(times, losses, "fp32", 4)[0] == NCHW


def test_a_long_run_buys_the_probe_more_timed_rounds(monkeypatch):
    costs = {"nchw": [2.0], "cl": [2.0]}  # 4 s a round
    _, short = _scheduled_measure(monkeypatch, costs, 6, max_seconds=6.0)
    assert {c: len(v) for c, v in short.items()} == {NCHW: 1, CL: 1}  # 6 s: one round after the 4 s warm-up
    _, long = _scheduled_measure(monkeypatch, costs, 6, max_seconds=6.0, run_steps=1000)
    # 3% of 1000 steps x 2 s is 60 s, capped at PROBE_MAX_SECONDS (30): 6 timed rounds of 4 s fit, all asked for
    assert {c: len(v) for c, v in long.items()} == {NCHW: 6, CL: 6}
    _, capped = _scheduled_measure(monkeypatch, {"nchw": [8.0], "cl": [8.0]}, 6, max_seconds=6.0, run_steps=1000)
    assert {c: len(v) for c, v in capped.items()} == {NCHW: 1, CL: 1}  # 16 s rounds: one fits in the 30 s cap


def test_the_progress_never_goes_back_when_the_rounds_are_planned_again(monkeypatch):
    # a slow warm-up round plans one timed round; the quicker timed round then makes room for another
    events = []
    _, losses = _scheduled_measure(monkeypatch, {"nchw": [3.0, 0.5], "cl": [3.0, 0.5]}, 4, max_seconds=2.0,
                                   progress=events.append)
    assert {c: len(v) for c, v in losses.items()} == {NCHW: 2, CL: 2}
    assert [e["rounds"] for e in events] == [5, 5, 2, 2, 3, 3]  # as planned before each step
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0


def test_probe_budget():
    assert sp.probe_budget(6.0, None, 1.0) == 6.0
    assert sp.probe_budget(6.0, 100, 1.0) == 6.0  # 3% of a 100 s run is less than the floor
    assert sp.probe_budget(6.0, 500, 1.0) == pytest.approx(15.0)
    assert sp.probe_budget(6.0, 10**6, 1.0) == sp.PROBE_MAX_SECONDS
    assert sp.probe_budget(6.0, 500, float("nan")) == 6.0 and sp.probe_budget(6.0, 500, 0.0) == 6.0


# ---- the cache ---------------------------------------------------------------------------------------------------
def _counting(monkeypatch, times):
    calls = []

    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel):
        calls.append(x.shape[0])
        return {c: times[c] for c in cands}, {c: [1.0] for c in cands}

    monkeypatch.setattr(sp.choose_mode, "__kwdefaults__", {**sp.choose_mode.__kwdefaults__, "measure_fn": measure})
    return calls


def test_the_cache_is_reused_for_the_same_network_batch_and_device_and_missed_otherwise(bundle, tmp_path, monkeypatch):
    calls = _counting(monkeypatch, {NCHW: 1.0, CL: 0.5})
    g = tiny_graph(bundle.input_shape(), bundle.num_classes)
    runs = [("a", g, 32), ("b", g, 32), ("c", g, 16), ("d", tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.1), 32),
            ("e", g, 16)]
    sources = {name: Trainer(graph, bundle, _cfg(speed="auto", batch_size=bs), run_dir=tmp_path / name).fit()["speed"]["source"]
               for name, graph, bs in runs}
    assert sources == {"a": "probe", "b": "reused", "c": "probe", "d": "probe", "e": "reused"}
    assert calls == [32, 16, 32]
    renamed = tiny_graph(bundle.input_shape(), bundle.num_classes, name="another name")  # the name is not the network
    assert Trainer(renamed, bundle, _cfg(speed="auto"), run_dir=tmp_path / "f").fit()["speed"]["source"] == "reused"


def test_a_corrupt_cache_file_is_ignored_with_a_note_and_rewritten(bundle, tmp_path, monkeypatch):
    calls = _counting(monkeypatch, {NCHW: 1.0, CL: 0.5})
    g = tiny_graph(bundle.input_shape(), bundle.num_classes)
    Trainer(g, bundle, _cfg(speed="auto"), run_dir=tmp_path / "a").fit()
    path = tmp_path / "home" / sp.CACHE_FILE
    for junk in ("{not json", json.dumps({"entries": [1, 2]}), json.dumps([]), "\x00\xff"):
        path.write_text(junk, encoding="latin-1")
        s = Trainer(g, bundle, _cfg(speed="auto"), run_dir=tmp_path / f"r{len(calls)}").fit()
        assert s["speed"]["source"] == "probe" and s["stop_reason"] == "finished"
        note = next(n for n in s["notes"] if n.startswith("the speed cache"))
        assert str(path) in note and "ignored, probing again" in note and "\n" not in note
        assert json.loads(path.read_text())["entries"]  # rewritten with this run's choice
    assert len(calls) == 5
    again = Trainer(g, bundle, _cfg(speed="auto"), run_dir=tmp_path / "z").fit()
    assert again["speed"]["source"] == "reused" and not any(n.startswith("the speed cache") for n in again["notes"])
