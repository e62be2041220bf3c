"""Auto CPU threads (training/threads.py) on synthetic timings: a simulated machine says how long a
batch takes at each thread count; the tuner is driven the way the trainer drives it. No clocks."""
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.training.threads import CpuMeter, ThreadTuner, ladder

BATCH = 64


class Machine:
    """Samples/s per thread count as a function of the epoch (and of the batch within it)."""

    def __init__(self, rates, first_batch_s=0.0, free=None):
        self.rates = rates  # callable (epoch, batch) -> {threads: samples/s}, or a dict
        self.first_batch_s = first_batch_s
        self.free = free  # callable (epoch, batch) -> cores other programs leave free (a CpuMeter), or None
        self.at = (0, 0)

    def rate(self, threads, epoch, batch):
        r = self.rates(epoch, batch) if callable(self.rates) else self.rates
        return r[threads]


def simulate(machine, max_threads, epochs=10, batches=100, val_s=0.5, **kw):
    """Drive a tuner like Trainer._train_epoch does; returns (tuner, total samples/s, threads per batch)."""
    applied = []
    if machine.free is not None:
        kw["free_cores"] = lambda: machine.free(*machine.at)
    tuner = ThreadTuner(max_threads, applied.append, **kw)
    now, train_s, samples_all, used = 0.0, 0.0, 0, []
    for e in range(epochs):
        machine.at = (e, 0)
        due = tuner.start_epoch(now, 0, e * batches)
        seen = 0
        for b in range(batches):
            machine.at = (e, b)
            n = tuner.current
            used.append(n)
            dt = BATCH / machine.rate(n, e, b) + (machine.first_batch_s if e == 0 and b == 0 else 0.0)
            now += dt
            train_s += dt
            seen += BATCH
            if now >= due:
                due = tuner.tick(now, seen, e * batches + b + 1)
        samples_all += seen
        now += val_s  # validation: not training time, not counted by the tuner
    assert applied and applied[-1] == tuner.current  # torch was told every change
    return tuner, samples_all / train_s, used


def best_fixed(machine, counts, epochs=10, batches=100):
    out = {}
    for n in counts:
        t = sum(BATCH / machine.rate(n, e, b) for e in range(epochs) for b in range(batches))
        out[n] = epochs * batches * BATCH / t
    return max(out.values())


def test_ladder():
    assert ladder(2) == [2, 1] and ladder(1) == [1] and ladder(16) == [16, 8, 4, 2, 1] and ladder(6) == [6, 3, 1]


@given(st.integers(1, 512))
def test_ladder_starts_at_max_ends_at_one_and_halves(n):
    lad = ladder(n)
    assert lad[0] == n and lad[-1] == 1 and all(a > b for a, b in zip(lad, lad[1:])) and len(lad) <= n.bit_length()


def test_busy_machine_goes_to_one_thread_within_the_first_epoch():
    m = Machine({1: 3000.0, 2: 100.0})  # one busy program on 2 cores: 2 threads 30x slower
    tuner, sps, used = simulate(m, 2)
    assert tuner.current == 1 and tuner.holder == 1
    assert used[:100].count(2) <= 2  # 2 threads for at most a batch or two of the first epoch
    assert sps >= 0.8 * 3000.0
    assert tuner.summary()["samples_per_sec"]["2"] == pytest.approx(100.0)


def test_idle_machine_keeps_all_threads():
    m = Machine({1: 2000.0, 2: 3400.0})
    tuner, sps, used = simulate(m, 2)
    assert tuner.current == 2 and used[-500:].count(1) <= 5 * 11  # one 0.3 s window (10 batches) per epoch start
    assert sps >= 0.95 * 3400.0  # those re-checks cost little


def test_first_batch_is_not_timed():
    """The run's first batch is slow at any count (allocations, kernel set-up): it must not make
    the count it ran at look slow."""
    m = Machine({1: 2000.0, 2: 3400.0}, first_batch_s=5.0)
    tuner, _, _ = simulate(m, 2, epochs=1)
    assert tuner.current == 2 and tuner.rates[1] == pytest.approx(2000.0)


def test_noise_within_the_margin_does_not_flip_the_count():
    """1 and 2 threads equally fast give or take 5 %: after the first choice the count stays put."""
    def rates(epoch, batch):
        wobble = 1.05 if (epoch + batch) % 2 else 0.95
        return {1: 3000.0 * wobble, 2: 3000.0 / wobble}

    tuner, _, _ = simulate(Machine(rates), 2, epochs=20)
    assert tuner.switches == 0 and tuner.probes >= 15


@pytest.mark.parametrize("meter", [False, True])
def test_a_busy_program_starting_mid_epoch_is_noticed_within_that_epoch(meter):
    busy_from = (3, 60)  # epoch 3, batch 60: after that epoch's own check

    def rates(epoch, batch):
        busy = (epoch, batch) >= busy_from
        return {1: 3000.0, 2: 150.0 if busy else 4000.0}

    free = (lambda e, b: 1.0 if (e, b) >= busy_from else 2.0) if meter else None
    tuner, _, used = simulate(Machine(rates, free=free), 2)
    epoch3 = used[300:400]
    assert epoch3[40:60] == [2] * 20  # idle until then: 2 threads
    switched = epoch3.index(1, 60)
    assert switched - 60 <= 5  # within about two check windows (1 s each; a slow batch is 0.43 s), then down
    later = used[400:].count(2)
    assert later <= (0 if meter else 6)  # later checks of 2 threads stay rare (none when the meter says busy)
    assert tuner.current == 1


def test_cores_coming_free_bring_the_threads_back_within_a_few_epochs():
    def rates(epoch, batch):
        return {1: 3000.0, 2: 100.0 if epoch < 3 else 5000.0}

    tuner, _, used = simulate(Machine(rates), 2, epochs=12)
    assert tuner.current == 2
    back = next(i for i in range(300, 1200) if used[i] == 2 and used[i + 1] == 2) // 100
    # a loser waits what its window lost (at most one 0.64 s batch at 2 threads) / budget of training,
    # ~12.8 s, i.e. ~6 epochs of 2.1 s at 1 thread
    epoch_s = 100 * BATCH / 3000.0
    assert back <= 3 + math.ceil((BATCH / 100.0) / tuner.budget / epoch_s) + 1


def test_with_the_meter_cores_coming_free_bring_the_threads_back_at_the_next_epoch():
    def rates(epoch, batch):
        return {1: 3000.0, 2: 100.0 if epoch < 3 else 5000.0}

    m = Machine(rates, free=lambda e, b: 1.0 if e < 3 else 2.0)
    tuner, _, used = simulate(m, 2, epochs=6)
    assert 2 not in used[:300]  # busy: 2 threads never timed
    assert used[300:400].count(2) >= 80 and tuner.current == 2  # free again: after one window at 1, 2 from epoch 3 on


@pytest.mark.parametrize("batches", [20, 100, 400])
def test_rechecks_of_a_clear_loser_cost_about_the_budget_however_short_the_epochs(batches):
    """2 threads 30x slower: each re-check costs a whole slow batch. The re-checks (not the first
    probe) cost at most ~budget of the training time, with epochs of 0.4 s or of 8.5 s."""
    m = Machine({1: 3000.0, 2: 100.0})
    tuner, sps, used = simulate(m, 2, epochs=16, batches=batches)
    probed = [e for e in range(16) if 2 in used[e * batches:(e + 1) * batches]]
    assert probed[0] == 0 and (len(probed) >= 3 if batches == 400 else True)  # long runs re-check it
    total_s = len(used) * BATCH / sps
    slow_s = used.count(2) * BATCH / 100.0
    first = BATCH / 100.0  # the first probe's batch at 2 threads
    assert slow_s - first <= tuner.budget * total_s * 1.1 + first


def test_many_cores_climb_the_ladder_and_stop_at_the_free_ones():
    """16 cores, 4 taken by other programs: 8 threads are the fastest (past it every extra thread waits)."""
    m = Machine({1: 500.0, 2: 950.0, 4: 1800.0, 8: 3000.0, 16: 400.0})
    tuner, sps, _ = simulate(m, 16)
    assert tuner.current == 8 and sps >= 0.8 * 3000.0


def test_probe_longer_than_an_epoch_goes_on_in_the_next_one():
    """Epochs shorter than the probe windows (tiny data): the probe is spread over epochs."""
    m = Machine({1: 3000.0, 2: 100.0})
    tuner, _, _ = simulate(m, 2, epochs=8, batches=3, val_s=100.0)  # validation time is not counted
    assert tuner.holder == 1 and tuner.rates[2] == pytest.approx(100.0)


def test_one_core_never_changes_anything():
    applied = []
    t = ThreadTuner(1, applied.append)
    due = t.start_epoch(0.0)
    for i in range(50):
        due = t.tick(0.01 * (i + 1), 64 * (i + 1)) if 0.01 * (i + 1) >= due else due
    assert set(applied) == {1} and t.current == 1


@settings(max_examples=60, deadline=None)
@given(r1=st.floats(100, 10_000), ratio=st.floats(1 / 30, 3.0), busy_epoch=st.integers(0, 12), meter=st.booleans())
def test_auto_costs_at_most_20_percent_against_the_best_fixed_count(r1, ratio, busy_epoch, meter):
    """Any speeds of 1 and 2 threads (2 threads up to 30x slower, as beside a busy program), a busy
    program that may start at an epoch start, with or without a free-core meter: over 12 epochs of
    at least 60 batches Auto trains at >= 0.8x the best fixed count (1 or 2 for the whole run)."""
    r2_busy = r1 * min(ratio, 0.5)

    def rates(epoch, batch):
        return {1: r1, 2: r2_busy if epoch >= busy_epoch else r1 * ratio}

    free = (lambda e, b: 1.0 if e >= busy_epoch else 2.0) if meter else None
    batches = max(60, int(2.0 * r1 / BATCH))
    m = Machine(rates, free=free)
    _, sps, _ = simulate(m, 2, epochs=12, batches=batches)
    assert sps >= 0.8 * best_fixed(m, [1, 2], epochs=12, batches=batches)


def test_busy_cores_are_not_timed_at_all_when_the_meter_says_so():
    """Beside one busy program on 2 cores the meter reads ~1 free core: 2 threads are never tried."""
    m = Machine({1: 3000.0, 2: 100.0}, free=lambda e, b: 1.05)
    tuner, sps, used = simulate(m, 2)
    assert 2 not in used and tuner.skipped_busy >= 1 and sps == pytest.approx(3000.0)


class _FakeProc:
    """/proc/stat and this process's CPU seconds, advanced by hand (100 clock ticks a second)."""

    def __init__(self, ncpu=2):
        self.t, self.busy_ticks, self.own_s, self.ncpu = 0.0, 0, 0.0, ncpu

    def stat(self):
        # cpu user nice system idle iowait irq softirq steal: all busy time in 'user' here
        head = f"cpu  {self.busy_ticks} 0 0 1000 0 0 0 0 0 0"
        return "\n".join([head] + [f"cpu{i} 0 0 0 0 0 0 0 0 0 0" for i in range(self.ncpu)] + ["intr 1"])

    def run(self, seconds, ours, others):
        self.t += seconds
        self.own_s += ours * seconds
        self.busy_ticks += round((ours + others) * seconds * 100)


@pytest.mark.parametrize("ours, others, free", [(1.0, 1.0, 1.0), (2.0, 0.0, 2.0), (1.0, 0.0, 2.0), (0.5, 1.5, 0.5)])
def test_cpu_meter_counts_the_cores_others_use(ours, others, free):
    p = _FakeProc()
    meter = CpuMeter(read_stat=p.stat, own_seconds=lambda: p.own_s, clock=lambda: p.t)
    meter._tick_s = 0.01
    p.run(0.1, ours, others)
    assert meter.free() is None  # too short to tell
    p.run(1.9, ours, others)
    assert meter.free() == pytest.approx(free, abs=0.02)


def test_cpu_meter_without_proc_stat_says_nothing():
    def missing():
        raise OSError("no /proc")

    assert CpuMeter(read_stat=missing).free() is None
    assert CpuMeter(read_stat=lambda: "garbage").free() is None


# ---- the Trainer's use of it ------------------------------------------------------------------------
@pytest.fixture
def two_threads():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _seen():
    """A callback that records torch's thread count at every batch end."""
    import torch

    from cnn_studio.training import Callback

    class Seen(Callback):
        threads: list

        def on_batch_end(self, trainer, m):
            self.threads.append(torch.get_num_threads())

    cb = Seen()
    cb.threads = []
    return cb


def _cfg(**kw):
    from cnn_studio.training import TrainConfig

    return TrainConfig(**{**dict(epochs=2, batch_size=32, lr=0.01, device="cpu", seed=0), **kw})


def test_trainer_auto_changes_threads_between_batches_records_them_and_restores_torch(graph, bundle, tmp_path, two_threads, monkeypatch):
    import functools

    import torch

    from cnn_studio.training import Trainer, trainer as trainer_mod

    # windows of no time at all and no wait for losers: every batch ends a window, so the tiny run
    # goes through whole probes; the free-core meter is left out (the shared test machine is busy)
    monkeypatch.setattr(trainer_mod, "ThreadTuner", functools.partial(ThreadTuner, window_s=0.0, check_s=0.0, budget=1e9))
    monkeypatch.setattr(trainer_mod.CpuMeter, "free", lambda self: None)
    seen = _seen()
    t = Trainer(graph, bundle, _cfg(), run_dir=tmp_path / "r", callbacks=[seen])
    s = t.fit()
    assert seen.threads[0] == 1 and 2 in seen.threads  # starts at 1 thread, times 2
    rec = s["threads"]
    assert rec["policy"] == "auto" and rec["candidates"] == [1, 2] and rec["probes"] >= 2
    assert {"1", "2"} <= set(rec["samples_per_sec"]) and rec["changes"][0] == [0, 1, "start"]
    assert all(h["threads"] in (1, 2) for h in t.state.history)
    assert torch.get_num_threads() == 2  # the caller's count is back
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["threads"]["policy"] == "auto"


def test_trainer_fixed_and_deterministic_counts_do_not_adapt(graph, bundle, tmp_path, two_threads):
    import torch

    from cnn_studio.training import Trainer

    for name, kw, policy, count in (("fixed", {"num_threads": 1}, "fixed", 1), ("det", {"deterministic": True}, "auto (pinned)", 2)):
        seen = _seen()
        s = Trainer(graph, bundle, _cfg(**kw), run_dir=tmp_path / name, callbacks=[seen]).fit()
        assert set(seen.threads) == {count} and s["threads"] == {"policy": policy, "current": count}
        assert torch.get_num_threads() == 2
    assert any("deterministic: CPU threads stay at 2" in n for n in s["notes"])
