"""Issue 14's modes and loop parts: the compile decision, fp16 (CUDA only, said plainly elsewhere),
the CUDA paths chosen only on CUDA, exact-resume records, TrainStep's compiled fall-backs, the
built-in callbacks' states in the checkpoint, and the fused uint8 normalisation. No wall-clock
assertions: timings are synthetic where a decision is tested."""
import contextlib
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from training_helpers import TINY, StopAt, tiny_graph

from cnn_studio.data import DataConfig
from cnn_studio.training import Callback, Trainer, TrainConfig
from cnn_studio.training import speed as sp
from cnn_studio.training.checkpoint import load_checkpoint
from cnn_studio.training.step import TrainStep, prepare_batch

CPU = torch.device("cpu")
NCHW, CL, NCHW16 = ("contiguous", "fp32"), ("channels_last", "fp32"), ("contiguous", "bf16")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)


def _cfg(**kw):
    base = dict(epochs=1, batch_size=32, optimizer="adam", lr=0.003, schedule="constant", device="cpu", seed=1,
                num_threads=1, layer_stats_every=0)
    return TrainConfig(**{**base, **kw})


def _sample(bundle, n=8):
    return bundle.normalize(bundle.train.x[:n]), bundle.train.y[:n]


# ---- the compile decision (pure) -----------------------------------------------------------------------
def test_compiling_is_taken_only_when_the_run_repays_it():
    ok, why = sp.decide_compile(eager_step=0.1, compile_seconds=20.0, compiled_step=0.05, run_steps=2000)
    assert ok and "repaid" in why and "2.00x per step" in why
    ok, why = sp.decide_compile(eager_step=0.1, compile_seconds=20.0, compiled_step=0.05, run_steps=100)
    assert not ok and "does not repay a 20 s compile" in why


@settings(max_examples=80, deadline=None)
@given(eager=hs.floats(1e-4, 1.0), compile_s=hs.floats(0.0, 200.0), factor=hs.floats(0.2, 10.0),
       steps=hs.integers(1, 10**6))
def test_the_compile_decision_is_exactly_the_total_time_comparison(eager, compile_s, factor, steps):
    compiled = eager / factor
    ok, _ = sp.decide_compile(eager, compile_s, compiled, steps)
    total_compiled = compile_s + (steps - 1) * compiled
    assert ok == (compiled < eager and steps * eager >= sp.COMPILE_MIN_GAIN * total_compiled)
    if factor <= 1.0:
        assert not ok  # a compiled step no faster than eager never repays


def _fake_measure(times, losses):
    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel):
        return {c: times[c] for c in cands}, {c: losses[c] for c in cands}
    return measure


def _fake_compile(compile_s, step_s, calls):
    def compile_measure(model, x, y, loss_fn, make_opt, cand, steps, device, cancel):
        calls.append(cand)
        return compile_s, step_s
    return compile_measure


def test_auto_tries_compiling_the_eager_winner_only_for_a_long_run(bundle, monkeypatch):
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    measure = _fake_measure({NCHW: 0.01, CL: 0.005}, {NCHW: [1.0], CL: [1.0]})
    args = (model, _sample(bundle), model.make_loss(), torch.optim.SGD, CPU, "auto", "fp32")
    calls = []
    short = sp.choose_mode(*args, run_steps=100, measure_fn=measure, compile_measure_fn=_fake_compile(1.0, 0.001, calls))
    assert calls == [] and not short.compiled and "too short to repay a compile" in short.reason
    long = sp.choose_mode(*args, run_steps=100_000, measure_fn=measure, compile_measure_fn=_fake_compile(30.0, 0.002, calls))
    assert calls == [CL] and long.compiled and long.memory_format == "channels_last" and "repaid" in long.reason
    assert long.compile_seconds == 30.0 and "channels_last fp32 compiled" in long.step_seconds
    assert not long.exact_resume and "compiles the network again" in long.exact_resume_note
    calls.clear()
    slow = sp.choose_mode(*args, run_steps=100_001, measure_fn=measure, compile_measure_fn=_fake_compile(30.0, 0.0049, calls))
    assert calls == [CL] and not slow.compiled and "does not repay" in slow.reason and slow.exact_resume


def test_the_compile_decision_uses_the_eager_steps_timed_beside_the_compiled_ones(bundle, monkeypatch):
    """The eager probe (before a compile of tens of seconds) timed 10 ms a step; the compiled steps take
    8 ms. Against the eager steps timed alternately with them after the compile (6 ms: the machine
    sped up) compiling loses; without them the probe's 10 ms makes it win."""
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    measure = _fake_measure({NCHW: 0.01, CL: 0.02}, {NCHW: [1.0], CL: [1.0]})
    args = (model, _sample(bundle), model.make_loss(), torch.optim.SGD, CPU, "auto", "fp32")

    def with_beside(beside):
        def compile_measure(model, x, y, loss_fn, make_opt, cand, steps, device, cancel):
            return 1.0, 0.008, beside
        return compile_measure

    fair = sp.choose_mode(*args, run_steps=100_000, measure_fn=measure, compile_measure_fn=with_beside(0.006))
    assert not fair.compiled and "0.75x per step" in fair.reason and "timed alternately" in fair.reason
    old = sp.choose_mode(*args, run_steps=100_000, measure_fn=measure, compile_measure_fn=with_beside(None))
    assert old.compiled and "1.25x per step" in old.reason and "timed alternately" not in old.reason


def test_the_compile_trial_alternates_compiled_and_eager_steps_on_copies(bundle, monkeypatch):
    """measure_compiled's timing, with the compiler replaced by a recording step: one compiling step (in
    a compile thread, abandonable) and one eager warm-up, then timed rounds in the caller's thread, as
    the run's steps will be, alternating which side goes first; the eager side trains a copy of its own
    in the candidate's layout; the caller's model is left as it was."""
    import threading
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    order, threads = [], []
    real_step = TrainStep.__call__

    def recording(self, xb, target):
        order.append("compiled" if getattr(self, "_fake_compiled", False) else "eager")
        threads.append(threading.current_thread())
        assert xb.is_contiguous(memory_format=torch.channels_last)
        assert all(p.is_contiguous(memory_format=torch.channels_last) for p in self.model.parameters() if p.dim() == 4)
        return real_step(self, xb, target)

    def fake_compiled(model_, loss_fn, make_opt, cand, device):
        m = sp.apply_to_model(__import__("copy").deepcopy(model_), cand[0])
        step = TrainStep(m, loss_fn, make_opt(list(m.parameters())))
        step._fake_compiled = True
        return step

    monkeypatch.setattr(TrainStep, "__call__", recording)
    monkeypatch.setattr(sp, "compiled_step_on_copy", fake_compiled)
    x, y = _sample(bundle)
    out = sp.measure_compiled(model, x, y, model.make_loss(), lambda ps: torch.optim.SGD(ps, lr=0.1),
                              (*CL, "compile"), 4, CPU)
    assert len(out) == 3 and all(isinstance(v, float) for v in out)  # the compile's step and both medians
    assert order == ["compiled", "eager",  # the compile, the eager warm-up
                     "compiled", "eager", "eager", "compiled", "compiled", "eager", "eager", "compiled"]
    assert threads[0] is not threading.current_thread() and threads[0].name == "cnn-studio-compile"
    assert all(t is threading.current_thread() for t in threads[1:])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    cancelled = sp.measure_compiled(model, x, y, model.make_loss(), lambda ps: torch.optim.SGD(ps, lr=0.1),
                                    (*CL, "compile"), 4, CPU, cancel=lambda: True)
    assert cancelled[1:] == (None, None)


def test_a_failing_compile_in_the_probe_keeps_the_eager_winner(bundle, monkeypatch):
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model

    def broken(*args):
        raise RuntimeError("inductor: no compiler\nmore")

    c = sp.choose_mode(model, _sample(bundle), model.make_loss(), torch.optim.SGD, CPU, "auto", "fp32", run_steps=10**6,
                       measure_fn=_fake_measure({NCHW: 0.01, CL: 0.02}, {NCHW: [1.0], CL: [1.0]}), compile_measure_fn=broken)
    assert (c.memory_format, c.compiled) == ("contiguous", False) and "compiling failed (inductor: no compiler)" in c.reason


def test_compile_without_a_cpp_compiler_trains_eagerly_and_says_why(bundle, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    c = sp.choose_mode(model, _sample(bundle), model.make_loss(), torch.optim.SGD, CPU, "compile", "fp32")
    assert not c.compiled and "needs a C++ compiler" in c.reason and c.exact_resume


# ---- fp16 and the CUDA paths ---------------------------------------------------------------------------------
def test_fp16_on_cpu_trains_in_fp32_and_says_so(graph, bundle, tmp_path):
    cands, notes = sp.candidates("eager", "fp16", CPU)
    assert cands == [NCHW] and "CUDA mixed precision" in notes[0]
    t = Trainer(graph, bundle, _cfg(precision="fp16"), run_dir=tmp_path / "r")
    s = t.fit()
    assert s["speed"]["precision"] == "fp32" and t.scaler is None and not t._amp
    assert any("fp16 is CUDA mixed precision" in n and "trains in fp32" in n for n in s["notes"])


def test_the_cuda_paths_are_chosen_only_on_cuda():
    cuda = torch.device("cuda")
    assert sp.grad_scaler("fp16", CPU) is None and sp.grad_scaler("bf16", cuda) is None
    assert isinstance(sp.grad_scaler("fp16", cuda), torch.amp.GradScaler)
    assert isinstance(sp.autocast_context(("contiguous", "fp16"), CPU), contextlib.nullcontext)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        cast = sp.autocast_context(("contiguous", "fp16"), cuda)
    assert isinstance(cast, torch.autocast) and cast.fast_dtype == torch.float16
    fp16_cands = sp.candidates("auto", "auto", cuda)[0]
    assert ("contiguous", "fp16") in fp16_cands and ("contiguous", "fp16") not in sp.candidates("auto", "auto", CPU)[0]
    assert sp.exact_resume("contiguous", "fp16", False, cuda)[0] is False
    assert sp.exact_resume("channels_last", "bf16", False, CPU)[0] is True


def test_the_batch_iterator_pins_memory_only_for_cuda(bundle):
    from cnn_studio.data import BatchIterator

    it = BatchIterator(bundle.train, 16, generator=torch.Generator().manual_seed(0), device="cpu")
    assert not it.pin_memory and it.prefetch == 0
    cuda_it = BatchIterator(bundle.train, 16, generator=torch.Generator().manual_seed(0), device="cuda")
    assert cuda_it.pin_memory and cuda_it.prefetch >= 1


def test_prefetched_batches_are_the_same_batches_in_the_same_order(bundle):
    """The CUDA prefetch thread (exercised on CPU here) yields exactly what the plain iterator yields."""
    from cnn_studio.data import BatchIterator

    def batches(prefetch):
        it = BatchIterator(bundle.train, 16, generator=torch.Generator().manual_seed(5), device="cpu")
        it.prefetch = prefetch
        return list(it.iter_from(2))

    plain, ahead = batches(0), batches(2)
    assert len(plain) == len(ahead) and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(plain, ahead))


def test_a_stopped_prefetch_thread_ends(bundle):
    import threading

    from cnn_studio.data import BatchIterator

    it = BatchIterator(bundle.train, 8, generator=torch.Generator().manual_seed(5), device="cpu")
    it.prefetch = 1
    gen = it.iter_from(0)
    next(gen)
    gen.close()  # the loop stopped early (a stop request)
    for t in threading.enumerate():
        if t.name == "cnn-studio-prefetch":
            t.join(5)
    assert not any(t.name == "cnn-studio-prefetch" and t.is_alive() for t in threading.enumerate())


# ---- TrainStep ----------------------------------------------------------------------------------------------
def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))


def test_a_compiled_module_that_fails_on_its_first_step_falls_back_to_the_eager_step():
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("BackendCompilerFailed: no luck")

    eager, twin = _tiny_model(), _tiny_model()
    x, y = torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0])
    step = TrainStep(Broken(), torch.nn.CrossEntropyLoss(), torch.optim.SGD(eager.parameters(), lr=0.1), fallback=eager)
    step(x, y)
    step(x, y)
    assert step.model is eager and "torch.compile failed on the first step (BackendCompilerFailed: no luck)" in step.fallback_note
    ref = TrainStep(twin, torch.nn.CrossEntropyLoss(), torch.optim.SGD(twin.parameters(), lr=0.1))
    ref(x, y)
    ref(x, y)
    assert all(torch.equal(a, b) for a, b in zip(eager.parameters(), twin.parameters()))


def test_a_batch_of_another_size_runs_eagerly_instead_of_recompiling():
    eager = _tiny_model()
    calls = []

    class Compiled(torch.nn.Module):  # stands in for torch.compile(eager)
        def forward(self, x):
            calls.append(x.shape[0])
            return eager(x)

    step = TrainStep(Compiled(), torch.nn.CrossEntropyLoss(), torch.optim.SGD(eager.parameters(), lr=0.1), fallback=eager)
    for n in (4, 4, 3, 4):
        step(torch.randn(n, 3, 2, 2), torch.zeros(n, dtype=torch.long))
    assert calls == [4, 4, 4] and step.fallback_note is None


def test_a_non_finite_loss_skips_the_update():
    m = _tiny_model()
    before = [p.detach().clone() for p in m.parameters()]
    step = TrainStep(m, torch.nn.CrossEntropyLoss(), torch.optim.SGD(m.parameters(), lr=0.1), check_loss=True)
    _, _, value = step(torch.full((2, 3, 2, 2), math.inf), torch.tensor([0, 1]))
    assert not math.isfinite(value) and all(torch.equal(a, b) for a, b in zip(before, m.parameters()))


# ---- the fused uint8 input ------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(n=hs.integers(1, 5), c=hs.sampled_from([1, 3]), seed=hs.integers(0, 2**16))
def test_prepare_batch_normalises_uint8_in_either_layout(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, 5, 4), dtype=torch.uint8, generator=g)

    class Norm:  # the bundle's normalize with its mean/std
        from cnn_studio.data.bundle import DatasetBundle as _B
        normalize = _B.normalize

        def __init__(self):
            self.mean, self.std, self._norm_cache = [0.2] * c, [0.3] * c, {}

    b = Norm()
    want = (x.double() / 255 - 0.2) / 0.3
    for fmt in ("contiguous", "channels_last"):
        xb = prepare_batch(b.normalize, x, fmt)
        assert xb.dtype == torch.float32 and torch.allclose(xb.double(), want, atol=1e-5)
        assert xb.is_contiguous(memory_format=torch.channels_last if fmt == "channels_last" else torch.contiguous_format)


# ---- built-in callbacks own their state -----------------------------------------------------------------------
class Counter(Callback):
    """A user callback with a state (Lightning's protocol): the epochs it has seen, across resumes."""

    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, trainer, m):
        self.epochs += 1

    def state_dict(self):
        return {"epochs": self.epochs}

    def load_state_dict(self, state):
        self.epochs = state["epochs"]


def test_callback_states_are_gathered_into_the_checkpoint_and_restored(bundle, tmp_path):
    g = tiny_graph(bundle.input_shape(), bundle.num_classes)
    cfg = _cfg(epochs=2, early_stopping=True, patience=5, monitor="val_accuracy", min_delta=2.0)
    t = Trainer(g, DataConfig(**TINY), cfg, run_dir=tmp_path / "r", callbacks=[Counter()])
    t.fit()
    ck = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    assert ck["early_stopping"] == {"wait": 1}  # epoch 1 is the best; epoch 2 cannot beat it by 2.0
    assert ck["best"]["epoch"] == 1 and ck["best"]["monitor"] == "val_accuracy"
    key = f"{Counter.__module__}.Counter"
    assert ck["callbacks"] == {key: {"epochs": 2}}
    c = Counter()
    r = Trainer.from_run(tmp_path / "r", epochs=3, callbacks=[c])
    r.fit()
    assert c.epochs == 3 and r._early.wait == 2 and r.state.best_epoch == 1


def test_early_stopping_stops_after_patience_epochs_without_improvement(bundle, tmp_path):
    g = tiny_graph(bundle.input_shape(), bundle.num_classes)
    s = Trainer(g, bundle, _cfg(epochs=6, early_stopping=True, patience=2, monitor="val_accuracy", min_delta=2.0),
                run_dir=tmp_path / "r").fit()
    assert s["stop_reason"] == "early_stopping" and s["epochs_completed"] == 3 and s["best_epoch"] == 1


# ---- compiled for real (one tiny network, a few seconds of compiling) -----------------------------------------
@pytest.mark.skipif(sp.compiler_problem(CPU) is not None, reason="no C++ compiler for torch.compile's CPU code")
def test_a_compiled_run_trains_records_that_resume_is_not_exact_and_resumes(bundle, tmp_path):
    g = tiny_graph(bundle.input_shape(), bundle.num_classes)

    class StopAfterFirst(Callback):
        def on_epoch_end(self, trainer, m):
            trainer.request_stop()

    t = Trainer(g, bundle, _cfg(epochs=2, speed="compile"), run_dir=tmp_path / "r", callbacks=[StopAfterFirst()])
    s = t.fit()
    assert s["stop_reason"] == "stopped_by_user" and s["speed"]["compiled"] and not s["speed"]["exact_resume"]
    assert not any("torch.compile failed" in n for n in s["notes"])
    assert any("resume: not bit-exact" in n for n in s["notes"])
    import json

    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["speed"]["compiled"] and "compiles the network again" in cfg["speed"]["exact_resume_note"]
    s2 = Trainer.from_run(tmp_path / "r").fit()
    assert s2["stop_reason"] == "finished" and s2["speed"]["compiled"] and s2["speed"]["source"] == "resumed"
    assert math.isfinite(s2["final_train_loss"])


# ---- the fused optimizer ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
                                  lambda p: torch.optim.AdamW(p, lr=0.01),
                                  lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)])
def test_a_fused_optimizer_keeps_its_settings_and_steps_like_the_default(make):
    a, b = _tiny_model(), _tiny_model()
    plain = make(a.parameters())
    fused = sp.fuse_optimizer(make(b.parameters()))
    assert type(fused) is type(plain) and fused.defaults["fused"] is True
    assert [{k: v for k, v in g.items() if k not in ("params", "fused", "foreach")} for g in fused.param_groups] == \
        [{k: v for k, v in g.items() if k not in ("params", "fused", "foreach")} for g in plain.param_groups]
    x, y = torch.randn(8, 3, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    for m, opt in ((a, plain), (b, fused)):
        step = TrainStep(m, torch.nn.CrossEntropyLoss(), opt)
        for _ in range(5):
            step(x, y)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))


def test_optimizers_without_a_fused_kernel_are_left_alone():
    m = _tiny_model()
    rms = torch.optim.RMSprop(m.parameters(), lr=0.01)
    assert sp.fuse_optimizer(rms) is rms


def test_a_run_records_its_fused_optimizer_and_a_resume_keeps_it(graph, bundle, tmp_path):
    s = Trainer(graph, bundle, _cfg(epochs=1), run_dir=tmp_path / "r").fit()
    assert s["speed"]["fused_optimizer"] is True
    r = Trainer.from_run(tmp_path / "r", epochs=2)
    r.fit()
    assert r.optimizer.defaults["fused"] is True and r.summary["speed"]["fused_optimizer"] is True
    rms = Trainer(graph, bundle, _cfg(optimizer="rmsprop"), run_dir=tmp_path / "rms")
    assert rms.fit()["speed"]["fused_optimizer"] is False  # torch has no fused RMSprop: the default one


@pytest.mark.skipif(not sp.bf16_native(CPU), reason="the run config claims exact bf16 resume only where bf16 is native")
def test_bf16_resume_from_a_mid_epoch_stop_is_exact_as_the_run_config_says(bundle, tmp_path):
    from cnn_studio.data import AugmentConfig

    data = DataConfig(**{**TINY, "augment": AugmentConfig(hflip=True, shift=0.1)})
    config = TrainConfig(epochs=2, batch_size=32, optimizer="adam", lr=0.01, schedule="onecycle", device="cpu", seed=3,
                         num_threads=1, speed="channels_last", precision="bf16", layer_stats_every=0)
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)
    straight = Trainer(g, data, config, run_dir=tmp_path / "straight")
    assert straight.fit()["speed"]["exact_resume"] is True

    Trainer(g, data, config, run_dir=tmp_path / "run", callbacks=[StopAt(2, 2)]).fit()
    second = Trainer.from_run(tmp_path / "run")
    s = second.fit()
    assert s["stop_reason"] == "finished" and s["speed"]["precision"] == "bf16" and s["speed"]["fused_optimizer"]
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_takes_compile_and_fp16():
    from cnn_studio.cli import build_parser
    from cnn_studio.cli_train import _train_config

    args = build_parser().parse_args(["train", "lenet5", "--speed", "compile", "--precision", "FP16"])
    cfg = _train_config(args, {})
    assert (cfg.speed, cfg.precision) == ("compile", "fp16")
