"""Trainer samples/s in its speed/precision modes against the plain loop a user writes (eager, NCHW, fp32).

For each network: the same compiled model (same initial weights), the same built-in shapes data,
batch and torch threads; the hand loop (shuffle, normalise, forward, loss, backward, step) and the
Trainer in each ``--modes`` setting run the same ``--epochs`` interleaved: one hand epoch beside each
Trainer epoch (outside its timed loop) in ABBA order (hand first on even epochs, Trainer first on odd
ones), a fresh hand loop per setting, so load swings on a shared machine fall on both sides of a pair;
the steady ratio is the median of the per-pair ratios (epochs after the first), printed with their
min-max spread and the 1-minute load average before and after each row; with a fresh speed cache
so every probe runs and is counted. The Trainer decides as it would for the projected run
(``--long-epochs`` x ``--long-samples``, default 10 x 10,000: the built-in shapes set's size), so
auto compiles when that run would repay it; ``--full`` runs that run itself on both sides. Trainer
time = its hot loops (from ``on_epoch_start`` to the epoch's last ``on_batch_end``) + the probe + a
compiled run's compile warm-up; no validation split on either side. Every setting starts with a cold
compiler (``torch._dynamo.reset()`` and a fresh inductor cache folder), as a first run would.

Printed per setting: the steady samples/s of each side (epochs after the first) and their ratio;
the ratio over the measured run including the probe and any compile; the projected 10-epoch ratio
(each side: its first epoch's extra time and the probe paid once, then the steady rate; measured
figures, only the run length extrapolated); the mode chosen and why; achieved GFLOP/s (training
FLOPs per sample = 3 x the analysis' forward MACs x 2) beside the machine's peak; test accuracy
after the same epochs, and its mean over the last ``ACC_EPOCHS`` epochs on each side (accN: resnet18
with Adam swings by up to 7 points from one epoch to the next, so one final epoch's figure can
differ by far more between the sides than the modes do). By default both sides share this process's allocator, set first thing to keep
freed memory between steps as ``cnn-studio`` does (``cnn_studio/allocator.py``), so the ratios leave
out what that gains the Trainer over a plain loop in a plain process (``benchmarks/allocator.py``
measures that alone); ``--hand-process`` runs the hand loop in a plain child process instead (glibc's
allocator as it is, the same network, weights, data, batch and threads), asked for each epoch over a
pipe while this process waits, so the ratios are the Trainer's against a user's script as it runs.

Peak assumption: cores (logical CPUs in /proc/cpuinfo) x clock (its "cpu MHz") x fp32 flops per
cycle per core = lanes x 2 FMA units x 2 (multiply and add): 16 lanes with avx512f, 8 with avx2,
4 otherwise; AMD Zen 4 (family 25) splits a 512-bit operation into two 256-bit halves, so 8 there.
The "cpu MHz" a virtual machine shows is often the base clock: boost raises the real peak. bf16 peak
where it is native: 2x fp32 with avx512_bf16 (a dot product does two products per lane), 16x with
AMX tiles. A run in bf16 is put beside the bf16 peak, any other beside the fp32 one. That bf16
figure is nominal: an Intel CPU with avx512_bf16 but no AMX (or with AMX hidden by its hypervisor)
has one port for bf16 dot products against two for fp32 FMAs, and its bf16 kernels run slower than
its fp32 ones.

Measured ceiling: the best rate of a large matrix product and of a large 3x3 convolution (channels
last) in each precision, on the same threads, timed for about a second each before the runs
(:func:`kernel_ceiling`); "%ceil" puts each run beside the ceiling of its precision: what this
machine's own kernels reach, where the peak above is what its data sheet allows.

    python benchmarks/speed_modes.py --quick     # small sample counts (3-6 minutes)
    nice python benchmarks/speed_modes.py --full --models lenet5,tinyvgg   # the issue's 10-epoch run itself (long)
    python benchmarks/speed_modes.py --modes eager/fp32,channels_last/fp32,eager/bf16,compile/fp32,auto/auto
    python benchmarks/speed_modes.py --json      # also one JSON line
    python benchmarks/speed_modes.py --hand-process --models lenet5,tinyvgg   # the hand loop as a plain process of its own
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_studio.allocator import OPT_OUT_ENV as OPT_OUT, keep_freed_memory  # noqa: E402

# this process keeps freed memory from the start (allocator.py): the Trainer, and the hand loop unless
# --hand-process moves it to a plain process of its own (its child is started with the opt-out set)
keep_freed_memory()

import torch  # noqa: E402

from cnn_studio.compiler import compile_model
from cnn_studio.core import templates
from cnn_studio.core.analysis import analyze
from cnn_studio.data import DataConfig, load_dataset
from cnn_studio.training import Callback, TrainConfig, Trainer, speed

MODELS = (("lenet5", 32), ("tinyvgg", 32), ("vgg11", 32), ("resnet18", 64))
#: test accuracy is averaged over the runs' last ACC_EPOCHS epochs on both sides (accN)
ACC_EPOCHS = 3
#: the issue's run: 10 epochs of shapes' default 9,000 training images (10,000 less a 10% validation split)
LONG_EPOCHS, LONG_SAMPLES = 10, 9000
GOALS = {"lenet5": 1.2, "tinyvgg": 1.5, "vgg11": 1.5, "resnet18": 1.5}  # issue 14


def machine_peak(info: str | None = None) -> tuple[float, float | None, str]:
    """(peak fp32 GFLOP/s, peak bf16 GFLOP/s or None where bf16 is not native, the assumption behind them)
    from /proc/cpuinfo (``info``: its text, for a test)."""
    if info is None:
        try:
            info = Path("/proc/cpuinfo").read_text()
        except OSError:
            info = ""
    lines = info.splitlines()

    def field(name, default=""):
        return next((line.split(":", 1)[1].strip() for line in lines if line.split(":")[0].strip() == name), default)

    cores = info.count("processor\t:") or os.cpu_count() or 1
    try:
        mhz = float(field("cpu MHz", "2000"))
    except ValueError:
        mhz = 2000.0
    flags = field("flags").split()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    how_lanes = f"{lanes} fp32 lanes"
    # AMD Zen 4 (family 25 with AVX-512) runs a 512-bit operation as two 256-bit halves: AVX2's rate
    if lanes == 16 and field("vendor_id") == "AuthenticAMD" and field("cpu family") == "25":
        lanes, how_lanes = 8, "8 fp32 lanes (Zen 4 splits 512-bit operations into two 256-bit halves)"
    peak = cores * mhz / 1000 * lanes * 2 * 2
    how = f"{cores} cores x {mhz / 1000:.2f} GHz x {how_lanes} x 2 FMA units x 2 flops"
    if "amx_bf16" in flags:  # AMX tiles: 1024 bf16 flops per cycle per core, 16x two AVX-512 FMA units
        return peak, peak * 16, how + "; bf16 (AMX tiles) 16x fp32"
    if "avx512_bf16" in flags:  # a bf16 dot product does two products per fp32 lane
        return peak, peak * 2, how + "; bf16 (avx512_bf16 dot products) 2x fp32"
    return peak, None, how + "; no native bf16"


def _best_rate(fn, flops: float, seconds: float) -> float:
    """The best GFLOP/s of ``fn()`` (``flops`` per call) over about ``seconds`` of calls, after one warm-up."""
    fn()
    best, end = 0.0, time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best = max(best, flops / max(t, 1e-12) / 1e9)
        if time.perf_counter() >= end:
            return best


def kernel_ceiling(seconds: float = 1.0, bf16: bool = True) -> dict:
    """Measured GFLOP/s ceiling per precision ("fp32", and "bf16" when ``bf16``): the best of a 1536^3
    matrix product and a 3x3 convolution of 32x128x32x32 to 128 channels (channels last, no grad)."""
    n, (b, c, h, w) = 1536, (32, 128, 32, 32)
    out = {}
    for name, dt in (("fp32", torch.float32), *((("bf16", torch.bfloat16),) if bf16 else ())):
        a, m = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
        x = torch.randn(b, c, h, w).to(dt).contiguous(memory_format=torch.channels_last)
        conv = torch.nn.Conv2d(c, c, 3, padding=1).to(dt).to(memory_format=torch.channels_last)
        with torch.no_grad():
            out[name] = max(_best_rate(lambda: a @ m, 2 * n ** 3, seconds / 2),
                            _best_rate(lambda: conv(x), 2 * b * c * c * 9 * h * w, seconds / 2))
    return out


class _Interleaved(Callback):
    """Times each Trainer epoch's hot loop (first step to last ``on_batch_end``) and runs one epoch of
    the hand loop beside it, outside that time, in ABBA order: hand before the Trainer's even epochs
    (0, 2, ...), after its odd ones, so a load swing on the shared machine falls on both sides of a pair."""

    def __init__(self, hand: "HandLoop", n_epochs: int):
        self.hand = hand
        self.epochs: list[tuple[float, int]] = []
        self.k = 0
        self.first_scored = max(0, n_epochs - ACC_EPOCHS)  # the epochs whose test accuracy is averaged
        self.trainer_acc: list[float] = []
        self.hand_acc: list[float] = []

    def _hand_epoch(self) -> None:
        self.hand.epoch()
        if len(self.hand.rows) > self.first_scored:
            self.hand_acc.append(self.hand.accuracy())

    def on_epoch_start(self, trainer):
        if self.k % 2 == 0:
            self._hand_epoch()
        self.t0 = self.t1 = time.perf_counter()
        self.n = 0

    def on_batch_end(self, trainer, m):
        self.t1 = time.perf_counter()
        self.n += m["size"]

    def on_epoch_end(self, trainer, m):
        self.epochs.append((self.t1 - self.t0, self.n))
        if self.k >= self.first_scored:  # outside the timed loop (t1 is the epoch's last step)
            self.trainer_acc.append(test_accuracy(trainer.model, trainer.bundle))
        if self.k % 2 == 1:
            self._hand_epoch()
        self.k += 1


def project(epochs: list[tuple[float, int]], one_off: float, samples: int, n_epochs: int) -> tuple[float, float]:
    """(steady samples/s over the epochs after the first, seconds of a run of ``n_epochs`` x ``samples``):
    the first epoch's extra time over the steady rate (warm-up, a compile) and ``one_off`` (the probe)
    are paid once."""
    later = epochs[1:] or epochs
    rate = sum(n for _, n in later) / sum(t for t, _ in later)
    first_extra = max(0.0, epochs[0][0] - epochs[0][1] / rate)
    return rate, one_off + first_extra + n_epochs * samples / rate


class HandLoop:
    """The loop a person writes (shuffle, normalise, forward, loss, backward, step), one epoch per
    ``epoch()`` call so it can alternate with the Trainer's epochs; ``rows``: (seconds, samples) each."""

    def __init__(self, graph, bundle, batch: int, lr: float, seed: int):
        torch.manual_seed(seed)
        self.model = compile_model(graph)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.crit = torch.nn.CrossEntropyLoss()
        self.bundle, self.batch = bundle, batch
        self.gen = torch.Generator().manual_seed(seed)
        self.rows: list[tuple[float, int]] = []

    def epoch(self) -> None:
        model, opt, crit, bundle, batch = self.model, self.opt, self.crit, self.bundle, self.batch
        x, y, n = bundle.train.x, bundle.train.y, len(bundle.train.y)
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=self.gen)
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss = crit(model(bundle.normalize(x[idx])), y[idx])
            loss.backward()
            opt.step()
        self.rows.append((time.perf_counter() - t0, n))

    def accuracy(self) -> float:
        return test_accuracy(self.model, self.bundle)


def test_accuracy(model, bundle) -> float:
    """``model``'s accuracy on the test split, in eval mode and fp32, the same way for both sides; the
    model is left in the mode it was in."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            pred = torch.cat([model(bundle.normalize(bundle.test.x[i:i + 256])).argmax(1) for i in range(0, len(bundle.test.y), 256)])
    finally:
        model.train(was)
    return float((pred == bundle.test.y).float().mean())


class HandProcess:
    """:class:`HandLoop` in a child process of its own with glibc's allocator left as it is (a user's plain
    script): ``epoch()`` and ``accuracy()`` ask it over a pipe and wait, so this process's threads sit
    idle while it trains and the two never share the cores. Same network, initial weights, data,
    batch and threads as the in-process loop (the child builds them from the same settings)."""

    def __init__(self, spec: dict):
        env = dict(os.environ, **{OPT_OUT: "0"})  # the child's allocator as a plain process has it
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--hand-child", json.dumps(spec)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.rows: list[tuple[float, int]] = []
        self.allocator = self._ask("note")["note"]

    def _ask(self, word: str) -> dict:
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(_REPLY):
                return json.loads(line[len(_REPLY):])
        raise RuntimeError(f"the hand loop's process ended (exit {self.proc.wait()})")

    def epoch(self) -> None:
        r = self._ask("epoch")
        self.rows.append((r["seconds"], r["n"]))

    def accuracy(self) -> float:
        return self._ask("accuracy")["accuracy"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(60)


_REPLY = "@@hand "


def hand_child(spec: dict) -> int:
    """The child side of :class:`HandProcess`: one reply line per command read from stdin."""
    from cnn_studio import allocator

    torch.set_num_threads(spec["threads"])
    bundle = load_dataset(DataConfig(**spec["data"]))
    graph = templates.build(spec["model"], tuple(bundle.input_shape()), int(bundle.num_classes))
    hand = HandLoop(graph, bundle, spec["batch"], spec["lr"], spec["seed"])
    for word in sys.stdin:
        word = word.strip()
        if word == "epoch":
            hand.epoch()
            reply = {"seconds": hand.rows[-1][0], "n": hand.rows[-1][1]}
        elif word == "accuracy":
            reply = {"accuracy": hand.accuracy()}
        else:
            reply = {"note": allocator.note() or "glibc default"}
        print(_REPLY + json.dumps(reply), flush=True)
    return 0


def pair_ratios(trainer_rows: list, hand_rows: list) -> list[float]:
    """Trainer samples/s over the hand loop's, per interleaved epoch pair after the first (warm-up)."""
    return [(tn / tt) / (hn / ht) for (tt, tn), (ht, hn) in list(zip(trainer_rows, hand_rows))[1:]]


@contextlib.contextmanager
def deciding_as_for(run_steps: int | None):
    """Within it, the Trainer's speed choice (probe, compile trial) is made as for a run of ``run_steps``
    steps rather than the measured run's own few (``None``: the run's own): a short benchmark run then
    uses the mode the long run it stands for would."""
    real = speed.choose_mode

    def as_for_the_long_run(*a, **k):
        if run_steps is not None:
            k["run_steps"] = run_steps
        return real(*a, **k)

    as_for_the_long_run.__kwdefaults__ = real.__kwdefaults__
    speed.choose_mode = as_for_the_long_run
    try:
        yield
    finally:
        speed.choose_mode = real


def trainer_run(graph, bundle, batch: int, epochs: int, lr: float, seed: int, threads: int, out: Path,
                mode: tuple[str, str], long_steps: int, hand: HandLoop) -> dict:
    """The Trainer in ``mode`` (speed, precision), deciding as it would for a run of ``long_steps`` steps,
    with ``hand``'s epochs interleaved."""
    timer = _Interleaved(hand, epochs)
    cfg = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="adam", schedule="constant", device="cpu", seed=seed,
                      num_threads=threads, save_checkpoints=False, layer_stats_every=0, speed=mode[0], precision=mode[1],
                      restore_best_weights=False)  # tested on its last epoch's weights, as the hand loop is
    # a cold compiler: no compiled code in this process or in inductor's disk cache from an earlier mode or run
    torch._dynamo.reset()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(out) + "-inductor"
    with deciding_as_for(long_steps):
        s = Trainer(graph, bundle, cfg, run_dir=out, callbacks=[timer]).fit()
    sp = s["speed"]
    return {"epochs": timer.epochs, "probe_seconds": sp["probe_seconds"] + sp.get("warmup_seconds", 0.0),
            "compiled": sp["compiled"],
            "mode": f"{sp['memory_format']} {sp['precision']}" + (" compiled" if sp["compiled"] else ""),
            "reason": sp["reason"], "test_accuracy": s["test_accuracy"],
            "test_accuracy_last": statistics.fmean(timer.trainer_acc),
            "hand_test_accuracy": timer.hand_acc[-1], "hand_test_accuracy_last": statistics.fmean(timer.hand_acc)}


def bench(name: str, size: int, samples: int, epochs: int, batch: int, threads: int, peak: tuple, modes: list,
          long_samples: int, long_epochs: int, full: bool = False, ceiling: dict | None = None,
          hand_process: bool = False) -> list[dict]:
    data = dict(source="shapes", shapes_train=samples, shapes_test=max(256, samples // 4), height=size, width=size,
                val_fraction=0.0, seed=0)
    bundle = load_dataset(DataConfig(**data))
    graph = templates.build(name, tuple(bundle.input_shape()), int(bundle.num_classes))
    macs = analyze(graph).total_macs
    gflop = 6 * macs / 1e9  # per training sample: 3 x MACs (forward, backward ~2x) x 2 FLOPs per MAC
    long_steps = None if full else long_epochs * math.ceil(long_samples / batch)  # full: the run itself decides
    torch.set_num_threads(threads)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CNN_STUDIO_HOME"] = tmp  # a fresh speed cache: every probe runs and is counted
        for i, mode in enumerate(modes):
            # a fresh hand loop per setting (same seed, same initial weights), its epochs alternating with the Trainer's
            hand = (HandProcess({"model": name, "data": data, "batch": batch, "lr": 1e-3, "seed": 0, "threads": threads})
                    if hand_process else HandLoop(graph, bundle, batch, 1e-3, 0))
            try:
                load_before = os.getloadavg()[0]
                tr = trainer_run(graph, bundle, batch, epochs, 1e-3, 0, threads, Path(tmp) / f"run{i}", mode, long_steps, hand)
                load_after = os.getloadavg()[0]
                hand_rows, hand_acc = hand.rows, tr["hand_test_accuracy"]
            finally:
                if hand_process:
                    hand.close()
            hand_rate, hand_long = project(hand_rows, 0.0, long_samples, long_epochs)
            hand_meas = sum(n for _, n in hand_rows) / sum(t for t, _ in hand_rows)
            rate, long_s = project(tr["epochs"], tr["probe_seconds"], long_samples, long_epochs)
            meas_s = sum(t for t, _ in tr["epochs"]) + tr["probe_seconds"]
            meas = sum(n for _, n in tr["epochs"]) / meas_s
            ratios = pair_ratios(tr["epochs"], hand_rows)
            out.append({"model": name, "input": f"3x{size}x{size}", "setting": "/".join(mode), "mode": tr["mode"],
                        "samples": samples, "epochs": epochs, "macs": macs,
                        "hand_samples_per_sec": hand_rate, "trainer_samples_per_sec": rate,
                        "ratio_steady": statistics.median(ratios), "ratio_pairs": ratios,
                        "ratio_steady_of_sums": rate / hand_rate,
                        "ratio_measured_incl_probe": meas / hand_meas,
                        "ratio_long_run_incl_probe_compile": hand_long / long_s, "goal": GOALS.get(name),
                        "hand_gflops": hand_rate * gflop, "trainer_gflops": rate * gflop,
                        "trainer_peak_percent": 100 * rate * gflop / (peak[1] if "bf16" in tr["mode"] and peak[1] else peak[0]),
                        "trainer_ceiling_percent": (100 * rate * gflop / ceiling["bf16" if "bf16" in tr["mode"] else "fp32"]
                                                    if ceiling and ("bf16" not in tr["mode"] or "bf16" in ceiling) else None),
                        "hand_test_accuracy": hand_acc, "trainer_test_accuracy": tr["test_accuracy"],
                        "hand_test_accuracy_last_epochs": tr["hand_test_accuracy_last"],
                        "trainer_test_accuracy_last_epochs": tr["test_accuracy_last"],
                        "probe_seconds": tr["probe_seconds"], "reason": tr["reason"],
                        "hand_process": hand_process, "hand_allocator": getattr(hand, "allocator", None),
                        "load_before": load_before, "load_after": load_after})
    return out


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer samples per epoch (3-6 minutes with the default modes on a shared 2-core machine; the bf16/compile probes of vgg11 and resnet18 take most of it)")
    p.add_argument("--full", action="store_true",
                   help="the issue's measurement itself: --long-epochs (10) epochs of --long-samples training images "
                        "(shapes' default 9000 of 10000, 141 batches of 64) on each side, probe and any compile included "
                        "and decided for that run; long (hours for vgg11/resnet18 on 2 cores): run it with nice")
    p.add_argument("--models", default=",".join(m for m, _ in MODELS))
    p.add_argument("--modes", default="eager/fp32,auto/auto",
                   help="Trainer SPEED/PRECISION settings to time against the hand loop (default eager/fp32,auto/auto; "
                        "e.g. channels_last/fp32,eager/bf16,compile/fp32)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of each measured run (default 4, --quick 4; >= 2: the first is warm-up, each later one a pair)")
    p.add_argument("--long-epochs", type=int, default=LONG_EPOCHS, help=f"the projected run's epochs (default {LONG_EPOCHS})")
    p.add_argument("--long-samples", type=int, default=LONG_SAMPLES,
                   help="the projected run's training images per epoch (default 9000: shapes' default --train 10000 less "
                        "its 10%% validation split)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--hand-process", action="store_true",
                   help="run the hand loop in a plain process of its own (glibc's allocator left as it is, as a user's "
                        "script), so the ratios include what the Trainer's kept memory gains (cnn_studio/allocator.py)")
    p.add_argument("--hand-child", metavar="JSON", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.hand_child:
        return hand_child(json.loads(args.hand_child))
    epochs = max(2, args.epochs or (args.long_epochs if args.full else 4))
    modes = [tuple(m.strip().split("/")) for m in args.modes.split(",") if m.strip()]
    sizes = dict(MODELS)
    peak, peak_bf16, how = machine_peak()
    cores = os.cpu_count() or 1
    if args.threads < cores:  # the peak of the cores the runs may use
        peak, peak_bf16 = peak * args.threads / cores, peak_bf16 and peak_bf16 * args.threads / cores
        how = f"{how}, x {args.threads}/{cores} threads used"
    load = _uptime()
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch_size}, {epochs} measured epoch(s) per run; "
          f"projected: {args.long_epochs} epochs x {args.long_samples} samples")
    print(f"machine peak {peak:.0f} GFLOP/s fp32" + (f", {peak_bf16:.0f} bf16" if peak_bf16 else "")
          + f" ({how}); %peak is against the peak of the precision the Trainer ran in; uptime: {load}")
    torch.set_num_threads(args.threads)
    ceiling = kernel_ceiling(bf16=peak_bf16 is not None)
    print("measured ceiling (best of a large matrix product and 3x3 convolution, same threads): "
          + ", ".join(f"{v:.0f} GFLOP/s {k}" for k, v in ceiling.items()) + "; %ceil is against the one of the run's precision")
    print("GFLOP/s = samples/s x 6 x the analysis' forward MACs (3 x MACs for forward + backward, 2 FLOPs per MAC)")
    print("hand loop: " + ("a plain process of its own, glibc's allocator left as it is (a user's script): the ratios include "
                           "what the Trainer's kept memory gains" if args.hand_process else
                           "in this process, freed memory kept as the Trainer keeps it (allocator.py): the ratios leave that "
                           "gain out (--hand-process puts it in)"))
    if args.full:
        print(f"FULL: each side trains {epochs} epochs of {args.long_samples} images; 'meas' is the issue's figure (hand "
              "loop time over Trainer time with its probe and compile, decided for this run itself)")
    print(f"{'model':<9} {'input':>8} {'setting':<20} {'hand/s':>7} {'Trn/s':>7} {'steady':>6} {'meas':>5} {'10-ep':>6} {'goal':>4} "
          f"{'GFLOP/s':>7} {'%peak':>6} {'%ceil':>6} {'acc hand':>8} {'acc Trn':>7} {'accN hnd':>8} {'accN Tr':>7} {'pairs min-max (n)':>17} {'load1':>9}  mode (probe s): reason")
    results = []
    for name in (m.strip() for m in args.models.split(",")):
        size = sizes.get(name, 32)
        big = name in ("vgg11", "resnet18")
        samples = (128 if big else 512) if args.quick else ({"vgg11": 320, "resnet18": 640}.get(name, 2048))
        if args.full:
            samples = args.long_samples
        for r in bench(name, size, samples, epochs, args.batch_size, args.threads, (peak, peak_bf16), modes, args.long_samples,
                       args.long_epochs, full=args.full, ceiling=ceiling, hand_process=args.hand_process):
            results.append(r)
            print(f"{r['model']:<9} {r['input']:>8} {r['setting']:<20} {r['hand_samples_per_sec']:>7.0f} {r['trainer_samples_per_sec']:>7.0f} "
                  f"{r['ratio_steady']:>6.2f} {r['ratio_measured_incl_probe']:>5.2f} {r['ratio_long_run_incl_probe_compile']:>6.2f} "
                  f"{r['goal'] or 0:>4.1f} {r['trainer_gflops']:>7.1f} {r['trainer_peak_percent']:>5.1f}% "
                  f"{(r['trainer_ceiling_percent'] or 0):>5.1f}% "
                  f"{r['hand_test_accuracy']:>8.3f} {r['trainer_test_accuracy']:>7.3f} "
                  f"{r['hand_test_accuracy_last_epochs']:>8.3f} {r['trainer_test_accuracy_last_epochs']:>7.3f} "
                  f"{min(r['ratio_pairs']):>6.2f}-{max(r['ratio_pairs']):<5.2f}({len(r['ratio_pairs'])}) "
                  f"{r['load_before']:>4.1f}>{r['load_after']:<4.1f}  {r['mode']} ({r['probe_seconds']:.1f}): "
                  f"{r['reason']}", flush=True)
    print("steady: median over the interleaved epoch pairs after the first of Trainer samples/s over the hand loop's "
          "(pairs min-max: their spread, n pairs); meas: this run's samples/s including the probe (and any compile); "
          "10-ep: the projected run's time, hand over Trainer, with probe and compile paid once; acc: test accuracy "
          f"after the last epoch; accN: its mean over the last {ACC_EPOCHS} epochs (one epoch's can swing by several points, "
          "so accN is the steadier witness that a mode traded nothing away); load1: the 1-minute load average before > after the row")
    print(f"uptime at the end: {_uptime()}  (a shared machine: the load moves the rates; the hand and Trainer epochs "
          "alternate in ABBA order, so a swing falls on both sides of a pair)")
    if args.json:
        print(json.dumps({"benchmark": "speed_modes", "peak_gflops": peak, "peak_bf16_gflops": peak_bf16, "peak_assumption": how, "ceiling_gflops": ceiling, "uptime": load,
                          "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
