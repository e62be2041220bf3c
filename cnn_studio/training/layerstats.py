"""Layer statistics over a run: what each layer's weights, gradients and activations do while training.

:class:`LayerStats` is a :class:`~cnn_studio.training.callbacks.Callback` the trainer adds when
``TrainConfig.layer_stats_every`` is above 0. It records, per layer (node id):

* every ``every`` optimizer steps ("step" series) and at each epoch's last step ("epoch" series), for
  each layer with parameters: the weight and gradient norms (L2), the update/weight ratio
  ``||w_after - w_before|| / ||w_before||`` of that step, and histograms of the weights and of the
  gradients (:data:`BINS` bins over a robust range per layer and point: ``mean +- 4 std`` clipped to
  ``[min, max]``; values outside fall into the end bins);
* at each epoch's end, for every node, the mean and std of its output on a fixed *probe batch*
  (:data:`PROBE_SIZE` training images drawn once with a fixed seed, run in eval mode without grad
  through ``forward_capture``), the fraction of dead units of ReLU nodes (a unit, a channel of a
  feature map or a feature of a flat output, that is zero for every probe image and position) and
  the fraction of saturated units of tanh/sigmoid nodes (within 1% of a limit for at least 90% of
  its probe outputs), and a histogram of its outputs (:data:`BINS` bins, the same robust range rule,
  over up to :data:`ACT_SAMPLE` output values per probe chunk drawn at fixed positions, so the memory
  stays bounded however large the feature maps).

Gradients are read from ``.grad`` in ``on_batch_end`` (after the optimizer step, before the next
``zero_grad``) on the sampled steps only; the weights are copied at the end of the step before a
sampled one (for the update ratio). Other steps cost one integer comparison. All numbers of a point
are computed on the device and read back at once.

The file ``layer_stats.npz`` in the run folder (numpy arrays plus a JSON ``meta`` entry; loaded with
``allow_pickle=False``) is rewritten atomically at each epoch end. It stays bounded: when a series
reaches :data:`MAX_POINTS`, every other point is dropped and its stride doubles (so points stay evenly
spread over the run). :func:`flags` turns the last epoch into problems with a message saying what
each means and what usually helps; they are stored in ``meta["flags"]`` too.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..core.atomic import atomic_write_bytes
from ..core.errors import StudioError
from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

FILE_NAME = "layer_stats.npz"
FORMAT = "cnn-studio-layer-stats"
VERSION = 1
BINS = 32
MAX_POINTS = 256  # per series; then every other point is dropped
PROBE_SIZE = 64
PROBE_SEED = 20240601  # fixed: the same probe images every epoch and every run of the same data
PROBE_CHUNK = 32  # probe images per forward pass (bounds the memory of the captured outputs)
DEAD_TYPES = ("relu",)  # outputs exactly zero below the threshold
SATURATING = ("tanh", "sigmoid")
SAT_MARGIN = 0.01  # |tanh| > 0.99, sigmoid < 0.01 or > 0.99
SAT_UNIT = 0.9  # a unit is saturated when this share of its probe outputs is
DEAD_FLAG = 0.2  # flag a layer with at least this share of dead units
SAT_FLAG = 0.2
VANISHING = 1e-3  # gradient norm below this times the last layer's
LARGE_UPDATE = 0.1  # update/weight ratio per step above this (about 1e-3 is usual)
EXPLODING = 1e3  # gradient norm above this times the last layer's (or not finite)
ACT_SAMPLE = 4096  # output values per node and probe chunk that the activation histogram counts

PARAM_KEYS = ("weight_norm", "grad_norm", "update_ratio")  # (points, layers) float32
HIST_KEYS = ("weight_hist", "grad_hist")  # (points, layers, BINS) int32, ranges in *_range (points, layers, 2)
ACT_KEYS = ("act_mean", "act_std", "dead_fraction", "saturated_fraction")  # (epochs, nodes) float32
ACT_HIST_KEYS = ("act_hist", "act_range")  # (epochs, nodes, BINS) int32 and (epochs, nodes, 2) float32


class LayerStatsError(StudioError):
    """A layer statistics file is missing or cannot be read."""


# ---- numbers of one point (on the device, one read-back) ----------------------------------------------
def _robust_hist(x: torch.Tensor) -> torch.Tensor:
    """[lo, hi, count_0 .. count_{BINS-1}] of a flat float tensor, as float32 on its device."""
    x = torch.nan_to_num(x.detach().reshape(-1).float(), nan=0.0, posinf=3.0e38, neginf=-3.0e38)
    # mean and std accumulated in float64 (float32 sums of large gradients overflow to inf, then NaN)
    n = x.numel()
    mean = x.sum(dtype=torch.float64) / n
    sq = torch.linalg.vector_norm(x, dtype=torch.float64) ** 2
    std = (sq / n - mean * mean).clamp_min(0.0).sqrt()
    xmin, xmax = x.min().double(), x.max().double()
    lo, hi = torch.maximum(xmin, mean - 4 * std), torch.minimum(xmax, mean + 4 * std)
    narrow = hi <= lo  # the std rounded to nothing: the full range
    lo, hi = torch.where(narrow, xmin, lo), torch.where(narrow, xmax, hi)
    # a constant tensor: a range around it wide enough to stay a range in float32 (1e7 +- 0.5 would not)
    flat = hi <= lo
    pad = torch.clamp(lo.abs() * 2.0 ** -20, min=0.5)
    lo, hi = torch.where(flat, lo - pad, lo), torch.where(flat, hi + pad, hi)
    scale = (BINS / (hi - lo)).float()
    t = torch.nan_to_num((x - lo.float()) * scale, nan=0.0)  # inf - inf cannot reach here, but never index with NaN
    idx = t.floor().clamp_(0, BINS - 1).long()
    counts = torch.bincount(idx, minlength=BINS)[:BINS].float()
    lo, hi = lo.float(), hi.float()
    return torch.cat([torch.stack([lo, hi]), counts])


def _robust_hists(xs: list[torch.Tensor | None]) -> torch.Tensor:
    """:func:`_robust_hist` of several flat tensors at once (rows of ``(len(xs), BINS + 2)``, float32, NaN
    rows for None or empty ones): the tensors are concatenated and every statistic is a segment reduction,
    so a point costs a fixed handful of tensor operations however many layers (it was ~20 per layer)."""
    k = len(xs)
    present = [i for i, x in enumerate(xs) if x is not None and x.numel() > 0]
    dev = next((xs[i].device for i in present), torch.device("cpu"))
    out = torch.full((k, BINS + 2), math.nan, device=dev)
    if not present:
        return out
    flats = [xs[i].detach().reshape(-1).float() for i in present]
    sizes = torch.tensor([f.numel() for f in flats], device=dev)
    x = torch.nan_to_num(torch.cat(flats), nan=0.0, posinf=3.0e38, neginf=-3.0e38)
    m = len(present)
    seg = torch.repeat_interleave(torch.arange(m, device=dev), sizes)
    # mean and std accumulated in float64 (float32 sums of large gradients overflow to inf, then NaN)
    x64 = x.double()
    n = sizes.double()
    mean = torch.zeros(m, dtype=torch.float64, device=dev).index_add_(0, seg, x64) / n
    sq = torch.zeros(m, dtype=torch.float64, device=dev).index_add_(0, seg, x64 * x64)
    std = (sq / n - mean * mean).clamp_min(0.0).sqrt()
    xmin = torch.full((m,), math.inf, device=dev).scatter_reduce_(0, seg, x, "amin").double()
    xmax = torch.full((m,), -math.inf, device=dev).scatter_reduce_(0, seg, x, "amax").double()
    lo, hi = torch.maximum(xmin, mean - 4 * std), torch.minimum(xmax, mean + 4 * std)
    narrow = hi <= lo  # the std rounded to nothing: the full range
    lo, hi = torch.where(narrow, xmin, lo), torch.where(narrow, xmax, hi)
    flat = hi <= lo  # a constant tensor: a range around it wide enough to stay a range in float32
    pad = torch.clamp(lo.abs() * 2.0 ** -20, min=0.5)
    lo, hi = torch.where(flat, lo - pad, lo), torch.where(flat, hi + pad, hi)
    scale = (BINS / (hi - lo)).float()
    t = torch.nan_to_num((x - lo.float()[seg]) * scale[seg], nan=0.0)
    idx = t.floor().clamp_(0, BINS - 1).long() + seg * BINS
    counts = torch.bincount(idx, minlength=m * BINS)[:m * BINS].float().reshape(m, BINS)
    out[torch.tensor(present, device=dev)] = torch.cat([lo.float()[:, None], hi.float()[:, None], counts], dim=1)
    return out


def _param_point(weights: list[torch.Tensor], prev: list[torch.Tensor] | None) -> dict[str, np.ndarray]:
    """Norms, update ratios and histograms of the layers' weights and gradients now."""
    if not weights:
        return _empty_param_point()
    if len({w.device for w in weights}) > 1:  # layers on several devices (not done by the trainer today)
        weights = [w.detach().cpu() for w in weights]
        prev = [p.cpu() for p in prev] if prev is not None else None
    dev = weights[0].device
    nan = torch.full((), math.nan, device=dev)
    ws = [w.detach() for w in weights]
    gs = [w.grad.detach() if w.grad is not None else None for w in weights]
    wn = torch.stack([w.float().norm() for w in ws])
    gn = torch.stack([g.float().norm() if g is not None else nan for g in gs])
    if prev is not None:
        up = torch.stack([(w.float() - p.float()).norm() / p.float().norm().clamp_min(1e-30) for w, p in zip(ws, prev)])
    else:
        up = torch.full((len(ws),), math.nan, device=dev)
    # per tensor: on the CPU the segment reductions of _robust_hists are slower than whole-tensor ones here
    hists = torch.stack([_robust_hist(t) if t is not None else torch.full((BINS + 2,), math.nan, device=dev)
                         for t in ws + gs])  # weights' rows then gradients' rows
    L = len(ws)
    rows = torch.cat([torch.stack([wn, gn, up], dim=1), hists[:L], hists[L:]], dim=1)
    m = rows.cpu().numpy().astype(np.float64)  # one read-back: (layers, 3 + 2 * (BINS + 2))
    out = {k: m[:, j].astype(np.float32) for j, k in enumerate(PARAM_KEYS)}
    for j, k in enumerate(HIST_KEYS):
        block = m[:, 3 + j * (BINS + 2): 3 + (j + 1) * (BINS + 2)]
        out[k.replace("hist", "range")] = block[:, :2].astype(np.float32)
        out[k] = np.nan_to_num(block[:, 2:], nan=0.0).astype(np.int32)
    return out


def _empty_param_point() -> dict[str, np.ndarray]:
    out = {k: np.zeros(0, np.float32) for k in PARAM_KEYS}
    for k in HIST_KEYS:
        out[k] = np.zeros((0, BINS), np.int32)
        out[k.replace("hist", "range")] = np.zeros((0, 2), np.float32)
    return out


class _ActAccumulator:
    """Per node: sum, sum of squares and count of its outputs; per unit (dim 1): whether it was ever
    positive / how many outputs were saturated, over the chunks of the probe batch."""

    def __init__(self, kind: str | None, seed: int = 0):
        self.kind = kind
        self.s = self.ss = None
        self.n = 0
        self.values: list[torch.Tensor] = []  # a bounded sample of the outputs (the histogram)
        self._gen = torch.Generator().manual_seed(PROBE_SEED + seed)  # fixed positions: the same every epoch
        self.unit_any = None
        self.unit_sat = None
        self.unit_n = 0

    def add(self, out: torch.Tensor) -> None:
        o = out.detach().float()
        s, ss = o.sum(), (o * o).sum()
        self.s = s if self.s is None else self.s + s
        self.ss = ss if self.ss is None else self.ss + ss
        self.n += o.numel()
        flat = o.reshape(-1)
        if flat.numel() > ACT_SAMPLE:  # positions drawn on the CPU (cheap), the values read on the device
            pos = torch.randint(0, flat.numel(), (ACT_SAMPLE,), generator=self._gen).to(flat.device)
            flat = flat[pos]
        self.values.append(flat)
        if self.kind is None or o.dim() < 2:
            return
        u = o.transpose(0, 1).reshape(o.shape[1], -1)  # (units, samples x positions)
        self.unit_n += u.shape[1]
        if self.kind == "dead":
            a = (u > 0).any(dim=1)
            self.unit_any = a if self.unit_any is None else self.unit_any | a
        else:
            if self.kind == "tanh":
                sat = u.abs() > 1 - SAT_MARGIN
            else:
                sat = (u < SAT_MARGIN) | (u > 1 - SAT_MARGIN)
            c = sat.sum(dim=1)
            self.unit_sat = c if self.unit_sat is None else self.unit_sat + c

    def sample(self) -> torch.Tensor | None:
        """The sampled outputs the histogram counts (None before any chunk)."""
        return torch.cat(self.values) if self.values else None

    def result(self, hist: np.ndarray, sums: tuple[float, float]) -> tuple[float, float, float, float, list[int], np.ndarray]:
        """(mean, std, dead fraction, saturated fraction, indices of the dead or saturated units,
        [lo, hi, counts...] of the sampled outputs' histogram); ``hist`` and ``sums`` (sum, sum of squares)
        read back for all nodes at once by the caller."""
        if self.n == 0:
            return math.nan, math.nan, math.nan, math.nan, [], np.full(BINS + 2, math.nan)
        mean = sums[0] / self.n
        var = max(sums[1] / self.n - mean * mean, 0.0)
        dead = sat = math.nan
        units: list[int] = []
        if self.unit_any is not None:
            bad = ~self.unit_any.cpu()
            dead = float(bad.float().mean())
            units = torch.nonzero(bad).reshape(-1).tolist()
        if self.unit_sat is not None:
            bad = (self.unit_sat.cpu().double() / max(self.unit_n, 1)) >= SAT_UNIT
            sat = float(bad.double().mean())
            units = torch.nonzero(bad).reshape(-1).tolist()
        return mean, math.sqrt(var), dead, sat, units, hist


def _act_kind(node_type: str) -> str | None:
    if node_type in DEAD_TYPES:
        return "dead"
    if node_type in SATURATING:
        return node_type
    return None


def _layer_weight(mod: nn.Module) -> torch.Tensor | None:
    """The tensor a layer's weight statistics follow: its ``weight``, else its first parameter."""
    w = getattr(mod, "weight", None)
    if isinstance(w, torch.Tensor):
        return w
    return next(iter(mod.parameters()), None)


# ---- the series ----------------------------------------------------------------------------------------
class _Series:
    """Points of one series (dicts of arrays keyed by name) with a stride that doubles when full."""

    def __init__(self, key: str, stride: int = 1):
        self.key = key  # "step" or "epoch": the number the stride applies to
        self.stride = stride
        self.points: list[dict[str, Any]] = []

    def add(self, point: dict, keep_last: bool = False) -> None:
        """Append; ``keep_last``: an off-stride point kept until the next one replaces it (the latest epoch)."""
        if self.points and self.points[-1][self.key] % self.stride != 0:
            self.points.pop()  # the previous off-stride point was only the latest
        if point[self.key] % self.stride != 0 and not keep_last:
            return
        self.points.append(point)
        while len(self.points) > MAX_POINTS:  # full: drop every other point, double the stride
            self.stride *= 2
            last = self.points[-1]
            self.points = [p for p in self.points[:-1] if p[self.key] % self.stride == 0]
            if keep_last or last[self.key] % self.stride == 0:
                self.points.append(last)

    def arrays(self, prefix: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for k in keys:
            vals = [p[k] for p in self.points]
            if k in ("step", "epoch"):
                out[f"{prefix}{k}"] = np.asarray(vals, dtype=np.int64)
            elif vals:
                out[f"{prefix}{k}"] = np.stack(vals)
        return out


# ---- the callback --------------------------------------------------------------------------------------
class LayerStats(Callback):
    """Records layer statistics into ``<run>/layer_stats.npz`` (see the module docstring)."""

    def __init__(self, every: int = 50, probe_size: int = PROBE_SIZE):
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a whole number of at least 1, got {every!r}")
        self.every = every
        self.probe_size = probe_size
        self.enabled = False
        self.path: Path | None = None
        self.flags: list[dict] = []
        self._prev: list[torch.Tensor] | None = None

    # hooks (a failure of the statistics stops them with a note; it never ends the training run) -----------
    def _guard(self, trainer: "Trainer", fn, *args) -> None:
        try:
            fn(trainer, *args)
        except Exception as e:  # noqa: BLE001 - statistics are optional; the run goes on without them
            self.enabled = False
            self._prev = None
            trainer.state.notes.append(f"layer statistics stopped: {type(e).__name__}: {e}")

    def on_fit_start(self, trainer: "Trainer") -> None:
        self._guard(trainer, self._start)

    def on_epoch_end(self, trainer: "Trainer", epoch_metrics: dict) -> None:
        if self.enabled:
            self._guard(trainer, self._end_epoch, epoch_metrics)

    def _start(self, trainer: "Trainer") -> None:
        self.enabled = bool(trainer.is_main_process)
        if not self.enabled:
            return
        model = trainer.model
        nodes = trainer.graph.nodes
        self.param_ids, self._weights = [], []
        self.act_ids, self._kinds = [], []
        for nid in model.module_names:
            ntype = nodes[nid].type
            w = _layer_weight(model.module_for(nid))
            if w is not None:
                self.param_ids.append(nid)
                self._weights.append(w)
            if ntype != "input":
                self.act_ids.append(nid)
                self._kinds.append(_act_kind(ntype))
        self.types = {nid: nodes[nid].type for nid in set(self.param_ids) | set(self.act_ids)}
        self.steps = _Series("step", self.every)
        self.epochs = _Series("epoch")
        self._prev: list[torch.Tensor] | None = None
        self._last_point: dict | None = None
        self._nb = int(trainer.state.batches_per_epoch)
        self._probe = self._draw_probe(trainer)
        rd = trainer.run_dir
        self.path = rd.path / FILE_NAME if rd is not None else None
        if trainer._resume_payload is not None and self.path is not None:
            self._continue(trainer)

    def on_epoch_start(self, trainer: "Trainer") -> None:
        st = trainer.state
        if self.enabled and self._due(st.global_step + 1, st.step + 1):
            self._guard(trainer, self._snapshot)

    def on_batch_end(self, trainer: "Trainer", batch_metrics: dict) -> None:
        if not self.enabled:
            return
        g, b = batch_metrics["global_step"], batch_metrics["batch"]
        if g % self.steps.stride == 0 or b == self._nb:
            self._guard(trainer, self._record_step, g, batch_metrics["epoch"], b == self._nb)
        if self._due(g + 1, b + 1):
            self._guard(trainer, self._snapshot)
        elif self._prev is not None:
            self._prev = None

    def _end_epoch(self, trainer: "Trainer", epoch_metrics: dict) -> None:
        st = trainer.state
        point = self._last_point
        if point is None or point["step"] != st.global_step:  # no step of this epoch was recorded
            point = {"step": st.global_step, **_param_point(self._weights, None)}
        point = {**point, "epoch": int(epoch_metrics["epoch"])}
        point.update(self._activations(trainer))
        self.epochs.add(point, keep_last=True)
        self.flags = flags(self._last_epoch_view(point))
        if self.path is not None:
            self.save()

    # work ----------------------------------------------------------------------------------------------
    def _due(self, g: int, b: int) -> bool:
        return g % self.steps.stride == 0 or b == self._nb

    def _snapshot(self, trainer: "Trainer") -> None:
        self._prev = [w.detach().clone() for w in self._weights]

    def _record_step(self, trainer: "Trainer", g: int, epoch: int, last_of_epoch: bool) -> None:
        point = {"step": int(g), "epoch": int(epoch), **_param_point(self._weights, self._prev)}
        self._prev = None
        if g % self.steps.stride == 0:
            self.steps.add(point)
        self._last_point = point if last_of_epoch else None

    def _draw_probe(self, trainer: "Trainer") -> torch.Tensor:
        split = trainer.bundle.train
        n = len(split.y)
        k = min(self.probe_size, n)
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(PROBE_SEED))[:k].sort().values
        if split.x is not None:
            x = split.x[idx]
        else:
            x = torch.stack([split.dataset[int(i)][0] for i in idx])
        return x.to(trainer.device)

    @torch.no_grad()
    def _activations(self, trainer: "Trainer") -> dict[str, Any]:
        model = trainer.model
        was_training = model.training
        model.eval()
        accs = [_ActAccumulator(k, i) for i, k in enumerate(self._kinds)]
        try:
            for i in range(0, len(self._probe), PROBE_CHUNK):
                xb = trainer.bundle.normalize(self._probe[i:i + PROBE_CHUNK])
                _, cap = model.forward_capture(xb, self.act_ids)
                for nid, acc in zip(self.act_ids, accs):
                    acc.add(cap[nid])
                del cap
        finally:
            model.train(was_training)
        # every node's histogram in one batch, and every node's sums in one read-back
        hists = _robust_hists([a.sample() for a in accs]).cpu().numpy().astype(np.float64)
        z = torch.zeros((), device=self._probe.device)
        sums = torch.stack([torch.stack([a.s if a.s is not None else z, a.ss if a.ss is not None else z])
                            for a in accs]).double().cpu().tolist() if accs else []
        res = [a.result(h, tuple(sm)) for a, h, sm in zip(accs, hists, sums)]
        out = {k: np.asarray([r[j] for r in res], dtype=np.float32) for j, k in enumerate(ACT_KEYS)}
        out["units"] = {nid: r[4] for nid, r in zip(self.act_ids, res) if r[4]}
        hists = np.stack([r[5] for r in res]) if res else np.zeros((0, BINS + 2))
        out["act_range"] = hists[:, :2].astype(np.float32)
        out["act_hist"] = np.nan_to_num(hists[:, 2:], nan=0.0).astype(np.int32)
        return out

    def _last_epoch_view(self, point: dict) -> dict:
        return {"param_ids": self.param_ids, "act_ids": self.act_ids, "types": self.types,
                "epoch": point["epoch"], "step": point["step"], **{k: point[k] for k in PARAM_KEYS + ACT_KEYS}}

    # file ----------------------------------------------------------------------------------------------
    def save(self) -> Path:
        last = self.epochs.points[-1] if self.epochs.points else None
        meta = {
            "format": FORMAT, "version": VERSION, "bins": BINS, "every": self.every,
            "step_stride": self.steps.stride, "epoch_stride": self.epochs.stride,
            "param_ids": self.param_ids, "act_ids": self.act_ids, "types": self.types,
            "act_kinds": dict(zip(self.act_ids, self._kinds)), "probe_size": int(len(self._probe)),
            "flags": self.flags, "last_units": last.get("units", {}) if last else {},
        }
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        hist_ranges = tuple(k.replace("hist", "range") for k in HIST_KEYS)
        arrays.update(self.steps.arrays("step_", ("step", "epoch") + PARAM_KEYS + HIST_KEYS + hist_ranges))
        arrays.update(self.epochs.arrays("epoch_", ("step", "epoch") + PARAM_KEYS + HIST_KEYS + hist_ranges + ACT_KEYS
                                         + ACT_HIST_KEYS))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(self.path, buf.getvalue())
        return self.path

    def _continue(self, trainer: "Trainer") -> None:
        """Resuming: keep the points of the progress the checkpoint committed, if the file fits this network."""
        try:
            old = load_stats(self.path.parent)
        except LayerStatsError:
            return
        m = old["meta"]
        if m.get("param_ids") != self.param_ids or m.get("act_ids") != self.act_ids or m.get("bins") != BINS:
            return
        st = trainer.state
        self.steps.stride = max(int(m.get("step_stride", self.every)), 1)
        self.epochs.stride = max(int(m.get("epoch_stride", 1)), 1)
        hist_ranges = tuple(k.replace("hist", "range") for k in HIST_KEYS)
        for series, prefix, keys, limit in (
            (self.steps, "step_", PARAM_KEYS + HIST_KEYS + hist_ranges, ("step", st.global_step)),
            (self.epochs, "epoch_", PARAM_KEYS + HIST_KEYS + hist_ranges + ACT_KEYS + ACT_HIST_KEYS, ("epoch", st.epoch)),
        ):
            nums = old.get(prefix + series.key)
            if nums is None:
                continue
            for i in range(len(nums)):
                p = {"step": int(old[prefix + "step"][i]), "epoch": int(old[prefix + "epoch"][i])}
                if p[limit[0]] > limit[1]:
                    continue  # recorded after the checkpoint this run resumes from
                p.update({k: old[prefix + k][i] for k in keys if prefix + k in old})
                if series is self.epochs and "act_hist" not in p:  # a file from before activation histograms
                    p["act_hist"] = np.zeros((len(self.act_ids), BINS), np.int32)
                    p["act_range"] = np.full((len(self.act_ids), 2), math.nan, np.float32)
                series.points.append(p)


# ---- reading -------------------------------------------------------------------------------------------
def stats_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / FILE_NAME


def load_stats(run_dir: str | Path) -> dict[str, Any]:
    """The arrays of ``<run_dir>/layer_stats.npz`` by name, plus ``meta`` (a dict). LayerStatsError
    when the file is missing or not a layer statistics file."""
    path = stats_path(run_dir)
    if not path.is_file():
        raise LayerStatsError(f"'{run_dir}' has no layer statistics ({FILE_NAME}); they are recorded while "
                              "training when layer_stats_every is above 0 (the default)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(bytes(data.pop("meta")).decode("utf-8"))
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError) as e:
        raise LayerStatsError(f"'{path}' cannot be read as layer statistics: {e}; delete it or train the run again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise LayerStatsError(f"'{path}' is not a CNN Studio layer statistics file")
    if meta.get("version", 0) > VERSION:
        raise LayerStatsError(f"'{path}' was written by a newer CNN Studio (version {meta.get('version')}); update CNN Studio")
    data["meta"] = meta
    return data


def last_epoch(data: dict[str, Any]) -> dict[str, Any] | None:
    """The last recorded epoch as one dict per layer: ``{"epoch", "step", "layers": [...], "flags"}``;
    None when no epoch was recorded."""
    meta = data["meta"]
    epochs = data.get("epoch_epoch")
    if epochs is None or len(epochs) == 0:
        return None
    pids, aids, types = meta["param_ids"], meta["act_ids"], meta.get("types", {})
    kinds = meta.get("act_kinds", {})
    view = {"param_ids": pids, "act_ids": aids, "types": types, "epoch": int(epochs[-1]),
            "step": int(data["epoch_step"][-1])}
    for k in PARAM_KEYS:
        view[k] = data.get(f"epoch_{k}", np.zeros((1, 0)))[-1]
    for k in ACT_KEYS:
        view[k] = data.get(f"epoch_{k}", np.zeros((1, 0)))[-1]
    layers = []
    for nid in list(aids) + [p for p in pids if p not in aids]:  # network order
        row: dict[str, Any] = {"node": nid, "type": types.get(nid)}
        if nid in pids:
            i = pids.index(nid)
            row.update({k: _num(view[k][i]) for k in PARAM_KEYS})
            for which in ("weight", "grad"):  # histograms: BINS counts over [lo, hi]
                lo, hi = data[f"epoch_{which}_range"][-1][i]
                row[f"{which}_range"] = [_num(lo), _num(hi)]
                row[f"{which}_hist"] = [int(c) for c in data[f"epoch_{which}_hist"][-1][i]]
        if nid in aids:
            i = aids.index(nid)
            row.update({"act_mean": _num(view["act_mean"][i]), "act_std": _num(view["act_std"][i])})
            if "epoch_act_hist" in data:  # files from before activation histograms have none
                lo, hi = data["epoch_act_range"][-1][i]
                row["act_range"] = [_num(lo), _num(hi)]
                row["act_hist"] = [int(c) for c in data["epoch_act_hist"][-1][i]]
            if kinds.get(nid) == "dead":
                row["dead_fraction"] = _num(view["dead_fraction"][i])
            elif kinds.get(nid):
                row["saturated_fraction"] = _num(view["saturated_fraction"][i])
        layers.append(row)
    found = flags(view)
    by_node: dict[str, list] = {}
    for f in found:
        by_node.setdefault(f["node"], []).append(f)
    for row in layers:
        row["flags"] = by_node.get(row["node"], [])
    return {"epoch": view["epoch"], "step": view["step"], "layers": layers, "flags": found}


def _num(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


# ---- flags -------------------------------------------------------------------------------------------
def flags(view: dict[str, Any]) -> list[dict]:
    """Problems of one epoch (a view with param_ids, act_ids, types and the PARAM_KEYS / ACT_KEYS arrays):
    ``{"node", "kind", "value", "badge", "message"}``, in layer order."""
    out: list[dict] = []
    types = view.get("types", {})
    for i, nid in enumerate(view["act_ids"]):
        t = types.get(nid, "")
        dead = float(view["dead_fraction"][i])
        if math.isfinite(dead) and dead >= DEAD_FLAG:
            pct = f"{dead:.0%}"
            out.append({"node": nid, "kind": "dead", "value": dead, "badge": f"{pct} dead", "message": (
                f"{pct} dead: these ReLU units output zero for every probe image, so they pass no gradient and stop "
                "learning; try a lower learning rate, Leaky ReLU or batch norm before this layer")})
        sat = float(view["saturated_fraction"][i])
        if math.isfinite(sat) and sat >= SAT_FLAG:
            pct = f"{sat:.0%}"
            name = "tanh" if t == "tanh" else "sigmoid"
            out.append({"node": nid, "kind": "saturated", "value": sat, "badge": f"{pct} saturated {name}", "message": (
                f"saturated {name}: {pct} of the units sit at their limits for almost every probe image, where the "
                "gradient is nearly zero; try smaller initial weights or a lower learning rate, batch norm before "
                "this layer, or ReLU")})
    pids = view["param_ids"]
    gn = [float(v) for v in view["grad_norm"]]
    ref = next((g for g in reversed(gn) if math.isfinite(g) and g > 0), None)
    for i, nid in enumerate(pids):
        g = gn[i]
        # inf: overflowed; NaN is not flagged (it also means "no gradient", a frozen layer)
        if math.isinf(g) or (ref is not None and i < len(pids) - 1 and math.isfinite(g) and g > EXPLODING * ref):
            ratio = "the gradient overflowed to infinity" if not math.isfinite(g) else (
                f"gradient norm {g:.2g}, {g / ref:.2g} x the last layer's")
            out.append({"node": nid, "kind": "exploding_gradients", "value": g / ref if ref and math.isfinite(g) else None,
                        "badge": "exploding gradients", "message": (
                            f"exploding gradients: {ratio} (above {EXPLODING:g} x), so one step can throw the weights "
                            "far off; try a lower learning rate, gradient clipping, batch norm or a better initialisation")})
        if ref is not None and i < len(pids) - 1 and math.isfinite(g) and g < VANISHING * ref:
            ratio = "no gradient at all" if g == 0 else f"gradient norm {g:.2g}, {g / ref:.1g} x the last layer's"
            out.append({"node": nid, "kind": "vanishing_gradients", "value": g / ref, "badge": "vanishing gradients",
                        "message": (f"vanishing gradients: {ratio} (below {VANISHING:g} x), so this layer barely learns; "
                                    "try ReLU instead of tanh/sigmoid, batch norm, residual connections or a better "
                                    "initialisation")})
        u = float(view["update_ratio"][i])
        if math.isfinite(u) and u > LARGE_UPDATE:
            out.append({"node": nid, "kind": "large_updates", "value": u, "badge": "large updates", "message": (
                f"large updates: one step changes the weights by {u:.0%} of their size (about 0.1% is usual), so "
                "training may be unstable; try a lower learning rate")})
    order = {nid: k for k, nid in enumerate(dict.fromkeys(list(view["act_ids"]) + list(pids)))}
    out.sort(key=lambda f: order.get(f["node"], 0))
    return out
