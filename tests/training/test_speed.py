"""Speed modes (training/speed.py): the probe leaves the run's state untouched, the choice is recorded
and cached, bf16 under precision=auto is refused when its loss strays, the CLI flags, and exact
resume in channels_last. No wall-clock assertions: timings are synthetic where a decision is tested."""
import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from training_helpers import TINY, StopAt, tiny_graph

from cnn_studio.cli import build_parser, main
from cnn_studio.cli_train import _train_config
from cnn_studio.core.errors import StudioError
from cnn_studio.data import AugmentConfig, DataConfig
from cnn_studio.training import Trainer, TrainConfig
from cnn_studio.training import speed as sp
from cnn_studio.training.checkpoint import load_checkpoint

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(tmp_path / "home"))  # a fresh speed cache per test
    monkeypatch.setattr(sp, "PROBE_SHARE", 1e9)  # the tiny runs here would be too short to probe otherwise


def _cfg(**kw):
    base = dict(epochs=1, batch_size=32, optimizer="adam", lr=0.003, schedule="constant", device="cpu", seed=1,
                num_threads=1, layer_stats_every=0)
    return TrainConfig(**{**base, **kw})


def _fake(times: dict, losses: dict, calls: list | None = None):
    """A measure function giving synthetic per-step seconds and losses for the candidates asked."""
    def measure(model, x, y, loss_fn, make_opt, cands, steps, device, cancel):
        if calls is not None:
            calls.append(list(cands))
        return {c: times[c] for c in cands}, {c: losses[c] for c in cands}
    return measure


NCHW, CL, NCHW16, CL16 = ("contiguous", "fp32"), ("channels_last", "fp32"), ("contiguous", "bf16"), ("channels_last", "bf16")


# ---- the decision on synthetic inputs -------------------------------------------------------------
def test_auto_precision_refuses_bf16_when_its_loss_diverges():
    times = {NCHW: 1.0, CL: 0.8, NCHW16: 0.5, CL16: 0.3}
    good = [2.3, 2.2, 2.1]
    cand, reason = sp.decide(times, {NCHW: good, CL: good, NCHW16: good, CL16: [2.3, 3.5, 9.0]}, "auto", 3)
    assert cand == NCHW16  # the diverging channels_last bf16 is refused; the next fastest taken
    assert "channels_last bf16 refused" in reason and "2.0x faster" in reason
    cand, reason = sp.decide(times, {NCHW: good, CL: good, NCHW16: [math.nan] * 3, CL16: [5.0] * 3}, "auto", 3)
    assert cand == CL and "channels_last fp32 1.2x faster" in reason and reason.count("bf16 refused") == 2


def test_bf16_close_in_loss_and_faster_is_taken_and_small_gains_keep_nchw():
    times = {NCHW: 1.0, NCHW16: 0.5}
    cand, reason = sp.decide(times, {NCHW: [2.0, 1.9], NCHW16: [2.01, 1.91]}, "auto", 2)
    assert cand == NCHW16 and reason.startswith("NCHW bf16 2.0x faster")
    cand, reason = sp.decide({NCHW: 1.0, CL: 0.98}, {NCHW: [1.0], CL: [1.0]}, "fp32", 1)
    assert cand == NCHW and "kept" in reason  # 2% is noise, not a reason to change layout


@settings(max_examples=60, deadline=None)
@given(t=hs.lists(hs.floats(0.01, 10.0), min_size=4, max_size=4),
       ref=hs.lists(hs.floats(0.1, 10.0), min_size=1, max_size=6),
       factor=hs.floats(1.06, 50.0))
def test_diverging_bf16_is_never_chosen_under_auto(t, ref, factor):
    """Whatever the timings: bf16 whose mean loss is off by more than the tolerance is not chosen."""
    far = [v * factor for v in ref]
    times = dict(zip((NCHW, CL, NCHW16, CL16), t))
    cand, reason = sp.decide(times, {NCHW: ref, CL: ref, NCHW16: far, CL16: far}, "auto", len(ref))
    assert cand[1] == "fp32" and "bf16 refused" in reason
    assert cand == min((NCHW, CL), key=times.get) or "kept" in reason


def test_bf16_is_compared_with_fp32_over_the_steps_both_took():
    """The probe stops timing a clearly slower candidate after two rounds. Its few early losses are
    high; a bf16 candidate timed for all rounds reaches lower ones. Measured on resnet18 (native bf16):
    NCHW fp32 [1.223, 0.237] against NCHW bf16 [1.234, 0.227, 0.040, 0.017]; comparing means over
    different steps refused the bf16 candidate (0.38 against 0.73)."""
    times = {NCHW: 0.56, CL: 0.41, NCHW16: 0.23, CL16: 0.45}
    losses = {NCHW: [1.223, 0.237], CL: [1.2226, 0.2335, 0.041, 0.0169], NCHW16: [1.2342, 0.2271, 0.0401, 0.0165],
              CL16: [1.2408, 0.2516, 0.0426, 0.0158]}
    cand, reason = sp.decide(times, losses, "auto", 4)
    assert cand == NCHW16 and "refused" not in reason
    # over the common steps a real divergence is still refused, and the message says over how many
    losses[NCHW16] = [1.9, 0.9, 0.040, 0.0165]
    cand, reason = sp.decide(times, losses, "auto", 4)
    assert cand == CL and "NCHW bf16 refused: its loss over the first 2 steps" in reason


@settings(max_examples=60, deadline=None)
@given(ref=hs.lists(hs.floats(0.01, 10.0), min_size=1, max_size=6), extra=hs.lists(hs.floats(0.0, 10.0), max_size=4),
       cut=hs.integers(1, 6))
def test_a_candidate_dropped_early_is_judged_only_on_its_own_steps(ref, extra, cut):
    """bf16 losses equal to fp32's over the steps both took are accepted, whatever either did after."""
    short = ref[:cut]
    assert sp.loss_close(ref + extra, short) and sp.loss_close(short, ref + extra)


def test_candidates_follow_the_settings(monkeypatch):
    monkeypatch.setattr(sp, "bf16_native", lambda device: False)
    cands, notes = sp.candidates("auto", "auto", CPU)
    assert cands == [NCHW, CL] and "no native bf16" in notes[0]
    monkeypatch.setattr(sp, "bf16_native", lambda device: True)
    assert sp.candidates("auto", "auto", CPU)[0] == [NCHW, CL, NCHW16, CL16]
    assert sp.candidates("eager", "fp32", CPU)[0] == [NCHW]
    assert sp.candidates("channels_last", "bf16", CPU)[0] == [CL16]


# ---- the probe: nothing of the run changes --------------------------------------------------------
def test_the_real_probe_leaves_model_optimizer_and_rng_untouched(bundle):
    torch.manual_seed(7)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.3), bundle, _cfg()).model
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    x = bundle.normalize(bundle.train.x[:16])
    y = bundle.train.y[:16]
    choice = sp.choose_mode(model, (x, y), model.make_loss(), lambda p: torch.optim.Adam(p, lr=0.01), CPU, "auto", "fp32",
                            steps=2)
    assert choice.source == "probe" and set(choice.step_seconds) == {"NCHW fp32", "channels_last fp32"}
    assert isinstance(choice.probe_seconds, float) and "2-step probe" in choice.reason  # no time bound: benchmarks/speed_modes.py
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.is_contiguous() for p in model.parameters())  # the layout is applied by the trainer, not the probe
    assert opt.state_dict()["state"] == {}


@pytest.mark.parametrize("chosen", [NCHW, CL])
def test_a_probed_run_trains_bit_identically_to_one_set_to_the_chosen_mode(graph, bundle, tmp_path, monkeypatch, chosen):
    """The probe (forced to pick ``chosen`` by synthetic timings) runs real steps on copies; the run
    that follows matches one set to that mode without any probe."""
    times = {NCHW: 1.0 if chosen == CL else 0.5, CL: 0.5 if chosen == CL else 1.0}
    real = sp.measure

    def measure(*args):  # the real probe's work (and RNG use), the synthetic verdict
        real(*args)
        cands = args[5]
        return {c: times[c] for c in cands}, {c: [1.0] for c in cands}

    monkeypatch.setattr(sp, "measure", measure)
    monkeypatch.setattr(sp.choose_mode, "__kwdefaults__", {**sp.choose_mode.__kwdefaults__, "measure_fn": measure})
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)
    probed = Trainer(g, bundle, _cfg(speed="auto"), run_dir=tmp_path / "a")
    probed.fit()
    assert probed.summary["speed"]["source"] == "probe" and probed.summary["speed"]["memory_format"] == chosen[0]
    forced = Trainer(g, bundle, _cfg(speed="channels_last" if chosen == CL else "eager"), run_dir=tmp_path / "b")
    forced.fit()
    assert forced.summary["speed"]["source"] == "setting"
    a, b = probed.model.state_dict(), forced.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert probed.state.history[0]["train_loss"] == forced.state.history[0]["train_loss"]


# ---- recorded, cached ------------------------------------------------------------------------------
def test_the_choice_is_recorded_in_config_summary_checkpoint_and_notes(graph, bundle, tmp_path):
    t = Trainer(graph, bundle, _cfg(speed="channels_last", precision="bf16"), run_dir=tmp_path / "r")
    s = t.fit()
    conf = json.loads((tmp_path / "r" / "config.json").read_text())
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    for rec in (conf["speed"], summary["speed"], load_checkpoint(tmp_path / "r")["speed"]):
        assert rec["memory_format"] == "channels_last" and rec["precision"] == "bf16"
    assert conf["train"]["speed"] == "channels_last" and conf["train"]["precision"] == "bf16"
    assert any(n.startswith("speed: channels_last bf16 as set") for n in s["notes"])
    conv = next(p for p in t.model.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    plain = Trainer(graph, bundle, _cfg(), run_dir=tmp_path / "p").fit()
    assert plain["speed"]["memory_format"] == "contiguous" and not any(n.startswith("speed:") for n in plain["notes"])


def test_the_cache_skips_the_probe_for_the_same_network_and_batch(bundle, tmp_path):
    calls = []
    fake = _fake({NCHW: 1.0, CL: 0.4}, {NCHW: [1.0], CL: [1.0]}, calls)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    sample = (bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8])
    key = {"graph": "abc", "batch": 8}
    first = sp.choose_mode(model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto", key_parts=key, measure_fn=fake)
    again = sp.choose_mode(model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto", key_parts=key, measure_fn=fake)
    assert len(calls) == 1 and first.source == "probe" and first.memory_format == "channels_last"
    assert again.source == "reused" and again.reason.startswith("reused: channels_last fp32 2.5x faster")
    other = sp.choose_mode(model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto", key_parts={**key, "batch": 16},
                           measure_fn=fake)
    assert len(calls) == 2 and other.source == "probe"
    (tmp_path / "home" / sp.CACHE_FILE).write_text("{not json")  # a corrupt cache costs a probe, not the run
    assert sp.choose_mode(model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto", key_parts=key,
                          measure_fn=fake).source == "probe"


def test_a_trainer_reuses_the_cached_choice(graph, bundle, tmp_path):
    first = Trainer(graph, bundle, _cfg(speed="auto"), run_dir=tmp_path / "a").fit()
    second = Trainer(graph, bundle, _cfg(speed="auto"), run_dir=tmp_path / "b").fit()
    assert first["speed"]["source"] == "probe" and second["speed"]["source"] == "reused"
    assert second["speed"]["memory_format"] == first["speed"]["memory_format"]
    assert any(n.startswith("speed: reused:") for n in second["notes"])


# ---- settings ---------------------------------------------------------------------------------------
def test_cli_flags_parse_into_the_config_and_bad_values_say_what_to_use(capsys):
    args = build_parser().parse_args(["train", "lenet5", "--speed", "Channels_Last", "--precision", "auto"])
    cfg = _train_config(args, {})
    assert (cfg.speed, cfg.precision) == ("channels_last", "auto")
    assert (TrainConfig().speed, TrainConfig().precision) == ("eager", "fp32")
    for flag, bad in (("--speed", "fast"), ("--precision", "fp8")):
        assert main(["train", "lenet5", flag, bad]) == 2
        err = capsys.readouterr().err
        assert f"'{bad}'" in err and "choose one of" in err and "Traceback" not in err
    with pytest.raises(StudioError, match="unknown speed 'turbo'; choose one of auto, eager, channels_last"):
        TrainConfig(speed="turbo")
    with pytest.raises(StudioError, match="unknown precision"):
        TrainConfig.from_dict({"precision": 16})


# ---- exact resume in channels_last -------------------------------------------------------------------
def _resume_setup(speed):
    data = DataConfig(**{**TINY, "augment": AugmentConfig(hflip=True, shift=0.1)})
    return data, TrainConfig(epochs=2, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, schedule="step", step_size=1,
                             gamma=0.7, device="cpu", seed=3, num_threads=1, speed=speed, layer_stats_every=0)


def test_channels_last_resume_from_a_mid_epoch_stop_is_exact(bundle, tmp_path):
    data, config = _resume_setup("channels_last")
    g = tiny_graph(bundle.input_shape(), bundle.num_classes, dropout=0.2)
    straight = Trainer(g, data, config, run_dir=tmp_path / "straight")
    straight.fit()

    first = Trainer(g, data, config, run_dir=tmp_path / "run", callbacks=[StopAt(2, 2)])
    assert first.fit()["stop_reason"] == "stopped_by_user"
    second = Trainer.from_run(tmp_path / "run")
    s = second.fit()
    assert s["stop_reason"] == "finished" and s["speed"]["memory_format"] == "channels_last"
    assert s["speed"]["source"] == "resumed"
    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    drop = ("seconds", "samples_per_sec")
    assert [{k: v for k, v in h.items() if k not in drop} for h in second.state.history] == \
        [{k: v for k, v in h.items() if k not in drop} for h in straight.state.history]


def test_resume_reuses_the_recorded_mode_without_a_new_probe(graph, bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(sp.choose_mode, "__kwdefaults__", {**sp.choose_mode.__kwdefaults__,
                                                           "measure_fn": _fake({NCHW: 1.0, CL: 0.2}, {NCHW: [1.0], CL: [1.0]})})
    Trainer(graph, bundle, _cfg(speed="auto", epochs=1), run_dir=tmp_path / "r").fit()

    def no_probe(*a, **k):
        raise AssertionError("probed again on resume")

    monkeypatch.setattr(sp, "choose_mode", no_probe)
    s = Trainer.from_run(tmp_path / "r", epochs=2).fit()
    assert s["speed"]["memory_format"] == "channels_last" and s["speed"]["source"] == "resumed"
    assert any("recorded when the run started" in n for n in s["notes"])


def test_a_run_too_short_to_repay_the_probe_keeps_nchw_without_probing(bundle, monkeypatch):
    monkeypatch.setattr(sp, "PROBE_SHARE", 0.1)
    calls = []
    fake = _fake({NCHW: 1.0, CL: 0.1}, {NCHW: [1.0], CL: [1.0]}, calls)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    sample = (bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8])
    args = (model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto")
    short = sp.choose_mode(*args, steps=4, run_steps=99, measure_fn=fake)  # 2 x 5 probe steps > 10% of 99
    assert calls == [] and (short.memory_format, short.source) == ("contiguous", "setting")
    assert "99 steps are too few to repay a 10-step speed probe" in short.reason
    long = sp.choose_mode(*args, steps=4, run_steps=100, measure_fn=fake)
    assert len(calls) == 1 and long.memory_format == "channels_last"


def test_a_slow_network_gets_fewer_timed_rounds(bundle, monkeypatch):
    # (no candidate is dropped for being slower here: on a noisy machine one of two tiny steps can
    # time at twice the other's, which would end its rounds early and is not what this test is about)
    monkeypatch.setattr(sp, "DROP_SLOWER", math.inf)
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    x, y = bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8]
    times, losses = sp.measure(model, x, y, model.make_loss(), torch.optim.SGD, [NCHW, CL], 5, CPU, max_seconds=0.0)
    assert {c: len(v) for c, v in losses.items()} == {NCHW: 1, CL: 1}  # one timed round after the warm-up
    times, losses = sp.measure(model, x, y, model.make_loss(), torch.optim.SGD, [NCHW, CL], 3, CPU, max_seconds=1e9)
    assert {c: len(v) for c, v in losses.items()} == {NCHW: 3, CL: 3}


def test_a_cancelled_probe_keeps_nchw_fp32_and_says_so(bundle):
    model = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _cfg()).model
    sample = (bundle.normalize(bundle.train.x[:8]), bundle.train.y[:8])
    choice = sp.choose_mode(model, sample, model.make_loss(), torch.optim.SGD, CPU, "auto", cancel=lambda: True,
                            key_parts={"graph": "x"})
    assert (choice.memory_format, choice.precision) == BASE and "cancelled" in choice.reason
    assert sp.read_cache() == {}  # a cancelled probe is not remembered


BASE = ("contiguous", "fp32")
