"""The on-disk compile cache (speed.use_compile_cache) and the compile records that make the compile
expected for a network compiled before its repeat compile, not a first one. Timings are synthetic
where a decision is tested; one real compiled run checks that a run records its compile."""
import json
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from training_helpers import tiny_graph

from cnn_studio.training import Trainer, TrainConfig
from cnn_studio.training import speed as sp

CPU = torch.device("cpu")
NCHW, CL = ("contiguous", "fp32"), ("channels_last", "fp32")
PARTS = {"graph": "g1", "batch": 32, "input": [1, 8, 8]}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(sp.INDUCTOR_ENV, raising=False)  # restored after the test (use_compile_cache sets it)
    monkeypatch.setattr(sp, "_SET_BY_US", set())
    monkeypatch.setattr(sp, "_CHECKED", set())
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)
    monkeypatch.setattr(sp, "compiler_problem", lambda device: None)
    return tmp_path / "home"


def _cfg(**kw):
    base = dict(epochs=1, batch_size=32, optimizer="adam", lr=0.003, schedule="constant", device="cpu", seed=1,
                num_threads=1, layer_stats_every=0)
    return TrainConfig(**{**base, **kw})


# ---- where the kernels go ------------------------------------------------------------------------------
def test_compiled_kernels_go_to_the_studio_home_unless_the_user_chose_a_folder(_home, tmp_path, monkeypatch):
    path = sp.use_compile_cache()
    assert path == str(_home / sp.COMPILE_CACHE_DIR) and os.environ[sp.INDUCTOR_ENV] == path
    token = sp.compile_cache_generation(path)
    assert token and sp.use_compile_cache() == path and sp.compile_cache_generation(path) == token  # kept
    # another studio home (File > Settings, a test): the folder follows it, as this module set the last one
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "other"))
    assert sp.use_compile_cache() == str(tmp_path / "other" / sp.COMPILE_CACHE_DIR)
    # the user's own folder is left alone, and gets no token of ours
    mine = tmp_path / "my-inductor"
    monkeypatch.setenv(sp.INDUCTOR_ENV, str(mine))
    assert sp.compile_cache_dir() == (str(mine), False)
    assert sp.use_compile_cache() == str(mine) and os.environ[sp.INDUCTOR_ENV] == str(mine)
    assert not (mine / sp.GENERATION_FILE).exists()
    # inductor's own default (set by inductor itself when it ran first) is not the user's choice
    monkeypatch.setenv(sp.INDUCTOR_ENV, sp._default_inductor_dir())
    assert sp.compile_cache_dir() == (str(tmp_path / "other" / sp.COMPILE_CACHE_DIR), True)


def test_a_compile_cache_past_its_limit_is_emptied_and_its_records_go_stale(_home):
    path = sp.use_compile_cache()
    sp.record_compile("k", 20.0, 10)
    assert sp.compiled_before("k") is not None
    (_home / sp.COMPILE_CACHE_DIR / "kernel.so").write_bytes(b"x" * 5000)
    sp._CHECKED.clear()  # a new process
    assert sp.use_compile_cache(limit_bytes=1000) == path
    assert not (_home / sp.COMPILE_CACHE_DIR / "kernel.so").exists()
    assert sp.compile_cache_generation(path) is not None and sp.compiled_before("k") is None  # a new life
    assert sp.expected_compile_seconds(torch.nn.Linear(2, 2), "k") == (pytest.approx(20.0 / 10), "1 compile(s) measured here")


def test_a_deleted_or_moved_compile_cache_makes_the_record_stale(_home, monkeypatch, tmp_path):
    path = sp.use_compile_cache()
    sp.record_compile("k", 20.0, 10)
    assert sp.compiled_before("k")["dir"] == path
    monkeypatch.setenv(sp.INDUCTOR_ENV, str(tmp_path / "elsewhere"))  # the user points inductor elsewhere
    assert sp.compiled_before("k") is None
    monkeypatch.delenv(sp.INDUCTOR_ENV)
    assert sp.compiled_before("k") is not None
    (_home / sp.COMPILE_CACHE_DIR / sp.GENERATION_FILE).unlink()  # the user emptied the folder
    assert sp.compiled_before("k") is None


# ---- what a compile is expected to cost -------------------------------------------------------------------
def test_a_network_compiled_before_expects_its_repeat_compile_and_only_first_compiles_feed_the_rate(_home):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))  # 3 leaf modules
    sp.use_compile_cache()
    assert sp.expected_compile_seconds(model, "a")[0] == sp.COMPILE_PRIOR_SECONDS_PER_MODULE * 3
    sp.record_compile("a", 30.0, 3)  # a first compile: 10 s per module
    seconds, basis = sp.expected_compile_seconds(model, "a")
    assert seconds == pytest.approx(sp.WARM_COMPILE_SHARE * 30.0) and "compiled here before in 30 s" in basis
    assert sp.expected_compile_seconds(model, "b") == (pytest.approx(30.0), "1 compile(s) measured here")
    sp.record_compile("a", 2.0, 3)  # repeats: their own median, and no change to the first-compile rate
    sp.record_compile("a", 4.0, 3)
    sp.record_compile("a", 9.0, 3)
    assert sp.expected_compile_seconds(model, "a")[0] == pytest.approx(4.0)
    assert sp.expected_compile_seconds(model, "b")[0] == pytest.approx(30.0)
    assert sp.compiled_before("a")["first"] == 30.0 and sp.compiled_before("a")["repeats"] == [2.0, 4.0, 9.0]
    data = json.loads((_home / sp.CACHE_FILE).read_text())
    assert data["compile_rates"] == [10.0] and set(data["compiled"]) == {"a"}


def test_a_compile_that_generated_no_code_is_a_repeat_even_without_a_record(_home):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())  # 2 leaf modules
    sp.use_compile_cache()
    assert sp.compile_was_warm((3, 5), (7, 5)) is True and sp.compile_was_warm((3, 5), (3, 6)) is False
    assert sp.compile_was_warm(None, (3, 5)) is None and sp.compile_was_warm((3, 5), None) is None
    # the speed cache was deleted, the compile cache kept: a warm compile starts a record of repeats only
    sp.record_compile("a", 3.0, 2, warm=True)
    rec = sp.compiled_before("a")
    assert rec["first"] is None and rec["repeats"] == [3.0]
    assert sp.expected_compile_seconds(model, "a")[0] == pytest.approx(3.0)
    assert sp.expected_compile_seconds(model, "b")[0] == sp.COMPILE_PRIOR_SECONDS_PER_MODULE * 2  # no rate fed
    sp.record_compile(None, 1.0, 2, warm=True)  # nor by an unkeyed warm compile
    assert json.loads((_home / sp.CACHE_FILE).read_text()).get("compile_rates", []) == []
    # a compile that generated code is a first one, whatever the record says (the cache lost those kernels)
    sp.record_compile("a", 40.0, 2, warm=False)
    assert sp.compiled_before("a")["first"] == 40.0 and sp.compiled_before("a")["repeats"] == []
    assert json.loads((_home / sp.CACHE_FILE).read_text())["compile_rates"] == [20.0]
    sp.record_compile("a", 5.0, 2)  # not known: a repeat of the valid record
    assert sp.compiled_before("a")["repeats"] == [5.0]
    counts = sp.inductor_cache_counts()
    assert counts is None or (len(counts) == 2 and all(isinstance(n, int) and n >= 0 for n in counts))


@settings(max_examples=40, deadline=None)
@given(hs.lists(hs.one_of(hs.floats(allow_nan=True, allow_infinity=True), hs.integers(-5, 5)), max_size=8))
def test_compile_records_ignore_times_that_are_not_real_durations(times):
    from cnn_studio.core.paths import studio_home

    (studio_home() / sp.CACHE_FILE).unlink(missing_ok=True)
    for t in times:
        sp.record_compile("k", t, 2)
    good = [float(t) for t in times if t > 0 and t != float("inf") and t == t]
    rec = sp.compiled_before("k")
    assert (rec is None) == (not good)
    if good:
        assert rec["first"] == good[0] and rec["repeats"] == good[1:][-4:]


def test_an_edited_compile_record_is_not_trusted(_home):
    sp.use_compile_cache()
    sp.record_compile("k", 20.0, 2)
    data = json.loads((_home / sp.CACHE_FILE).read_text())
    for bad in ({"first": "fast"}, {"first": -1}, {"first": True}, {"generation": "other"}, "text"):
        rec = {**data["compiled"]["k"], **bad} if isinstance(bad, dict) else bad
        (_home / sp.CACHE_FILE).write_text(json.dumps({**data, "compiled": {"k": rec}}))
        assert sp.compiled_before("k") is None, bad
    (_home / sp.CACHE_FILE).write_text(json.dumps({**data, "compiled": []}))
    assert sp.compiled_before("k") is None and sp.expected_compile_seconds(torch.nn.ReLU(), "k")[0] == pytest.approx(10.0)


# ---- the decision with a warm compile cache -----------------------------------------------------------------
def _measure(times):
    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel):
        return {c: times[c] for c in cands}, {c: [1.0] for c in cands}
    return measure


def test_a_run_too_short_for_a_first_compile_tries_one_whose_code_is_cached(bundle):
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    calls = []

    def compile_measure(model, x, y, loss_fn, make_opt, cand, steps, device, cancel):
        calls.append(cand)
        return 1.5, 0.004

    args = (model, (bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8]), model.make_loss(), torch.optim.SGD,
            CPU, "auto", "fp32")
    kw = dict(key_parts=PARTS, run_steps=3000, measure_fn=_measure({NCHW: 0.01, CL: 0.02}), compile_measure_fn=compile_measure)
    cold = sp.choose_mode(*args, **kw)  # a 30 s run: too short for a first compile
    assert calls == [] and not cold.compiled and "too short to repay a compile" in cold.reason
    sp.use_compile_cache()
    sp.record_compile(sp.compile_key(PARTS, NCHW, CPU), 12.0, sp.leaf_modules(model))  # compiled before
    warm = sp.choose_mode(*args, **kw)  # not the cold decision from the speed cache: the case changed
    assert calls == [NCHW] and warm.source == "probe" and warm.compiled and "repaid" in warm.reason
    again = sp.choose_mode(*args, **kw)
    assert again.source == "reused" and again.compiled and calls == [NCHW]
    # another mode's compile record does not make this one warm
    assert sp.compiled_before(sp.compile_key(PARTS, CL, CPU)) is None
    assert sp.compiled_before(sp.compile_key({**PARTS, "batch": 64}, NCHW, CPU)) is None


def test_a_first_compiled_run_records_its_compile_and_a_resumed_one_its_repeat(bundle, tmp_path, _home):
    from cnn_studio.training import Callback

    class StopAfterFirst(Callback):
        def on_epoch_end(self, trainer, m):
            trainer.request_stop()

    torch._dynamo.reset()  # code compiled by an earlier test in this process would make this first compile a no-op
    t = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg(epochs=2, speed="compile"),
                run_dir=tmp_path / "r", callbacks=[StopAfterFirst()])
    s = t.fit()
    assert s["speed"]["compiled"] and os.environ[sp.INDUCTOR_ENV] == str(_home / sp.COMPILE_CACHE_DIR)
    key = sp.compile_key(t._speed_key_parts(), (s["speed"]["memory_format"], s["speed"]["precision"]), CPU)
    rec = sp.compiled_before(key)
    # a first record (its time is not asserted: only that one was kept), in the studio's folder and its current life
    assert rec is not None and rec["repeats"] == [] and rec["dir"] == str(_home / sp.COMPILE_CACHE_DIR)
    assert rec["generation"] == sp.compile_cache_generation(rec["dir"])
    # the speed cache deleted, the compile cache kept: the resumed run's compile found its code there,
    # so it is recorded as a repeat (the counters of inductor's graph cache say so), not as a first compile
    (_home / sp.CACHE_FILE).unlink()
    r = Trainer.from_run(tmp_path / "r")
    assert r.fit()["stop_reason"] == "finished"
    rec = sp.compiled_before(key)
    assert rec["first"] is None and len(rec["repeats"]) == 1
    assert json.loads((_home / sp.CACHE_FILE).read_text()).get("compile_rates", []) == []
