"""Per-layer convolution layout: would choosing NCHW, channels last or a matrix product per layer pay?

An experiment for issue 14 (resnet18's 1.5x goal on CPUs without AMX), not a feature: the Trainer
chooses one memory format for the whole network. Two parts, on the same compiled network, batch and
threads:

1. Each convolution alone at the input shape it gets in the network, forward and backward (the
   input's gradient too, except for the first layer, as in training), in three ways: NCHW, channels
   last, and an unfold + matrix product (im2col, which can beat a direct kernel where the picture is
   a few pixels and the channels many). Milliseconds and GFLOP/s per layer, and which way is fastest.
2. The whole training step (forward, loss, backward, Adam) with every convolution NCHW, every one
   channels last, and each in the way part 1 found fastest (its input converted to that layout
   first, so the conversions' cost is in the figure). The settings take turns, ``--reps`` times, so a
   load swing falls on all of them; medians and min-max. The losses of the first step are printed
   beside each other to show the three compute the same network.

    python benchmarks/conv_layouts.py                    # resnet18 at 64x64, batch 64 (about 2 minutes on 2 cores)
    python benchmarks/conv_layouts.py --model vgg11 --size 32
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_studio.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as cnn-studio runs (allocator.py)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cnn_studio.compiler import compile_model  # noqa: E402
from cnn_studio.core import templates  # noqa: E402

CL = torch.channels_last
WAYS = ("nchw", "channels_last", "matmul")


def matmul_forward(self, x: torch.Tensor) -> torch.Tensor:
    """The convolution as unfold + matrix product (groups 1, dilation 1, zero padding)."""
    n, _, h, w = x.shape
    kh, kw = self.kernel_size
    cols = F.unfold(x, (kh, kw), padding=self.padding, stride=self.stride)
    ho = (h + 2 * self.padding[0] - kh) // self.stride[0] + 1
    wo = (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
    out = self.weight.reshape(self.out_channels, -1) @ cols
    if self.bias is not None:
        out = out + self.bias[:, None]
    return out.reshape(n, self.out_channels, ho, wo)


def can_matmul(conv: torch.nn.Conv2d) -> bool:
    return conv.groups == 1 and conv.dilation == (1, 1) and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple)


def set_way(conv: torch.nn.Conv2d, way: str) -> None:
    """Make ``conv`` run ``way``: its weight in that layout, its input converted to it first."""
    fmt = CL if way == "channels_last" else torch.contiguous_format
    conv.weight.data = conv.weight.data.contiguous(memory_format=fmt)
    conv.register_forward_pre_hook(lambda mod, args: (args[0].contiguous(memory_format=fmt),) + tuple(args[1:]))
    if way == "matmul":
        conv.forward = types.MethodType(matmul_forward, conv)


def conv_flops(conv: torch.nn.Conv2d, in_shape, out_shape, input_grad: bool) -> float:
    macs = out_shape[0] * out_shape[2] * out_shape[3] * conv.out_channels * (conv.in_channels // conv.groups) \
        * conv.kernel_size[0] * conv.kernel_size[1]
    return 2 * macs * (3 if input_grad else 2)  # forward, weight gradient, input gradient


def median_time(fn, reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def layers_alone(model, x, reps: int) -> list[dict]:
    convs = [(n, c) for n, c in model.named_modules() if isinstance(c, torch.nn.Conv2d)]
    shapes = {}
    hooks = [c.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, (tuple(i[0].shape), tuple(o.shape))))
             for n, c in convs]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    rows = []
    for k, (name, conv) in enumerate(convs):
        in_shape, out_shape = shapes[name]
        input_grad = k > 0
        row = {"layer": name, "input": in_shape, "kernel": conv.kernel_size[0], "stride": conv.stride[0],
               "flops": conv_flops(conv, in_shape, out_shape, input_grad)}
        for way in WAYS:
            if way == "matmul" and not can_matmul(conv):
                continue
            c = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                                conv.dilation, conv.groups, conv.bias is not None)
            set_way(c, way)
            inp = torch.randn(in_shape).requires_grad_(input_grad)

            def step(c=c, inp=inp):
                c(inp).sum().backward()
            row[way] = median_time(step, reps)
        row["best"] = min((w for w in WAYS if w in row), key=lambda w: row[w])
        rows.append(row)
    return rows


def whole_steps(graph, state, x, y, plans: dict, reps: int) -> dict:
    crit = torch.nn.CrossEntropyLoss()
    steps, losses = {}, {}
    for label, plan in plans.items():
        m = compile_model(graph)
        m.load_state_dict(state)
        if plan == "channels_last":
            m.to(memory_format=CL)
        for name, conv in m.named_modules():
            if isinstance(conv, torch.nn.Conv2d) and isinstance(plan, dict):
                set_way(conv, plan[name])
        xin = x.contiguous(memory_format=CL) if plan == "channels_last" else x
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        with torch.no_grad():
            losses[label] = float(crit(m(xin), y))

        def step(m=m, opt=opt, xin=xin):
            opt.zero_grad(set_to_none=True)
            crit(m(xin), y).backward()
            opt.step()
        step()  # warm-up
        steps[label] = (step, [])
    for _ in range(reps):  # the settings take turns
        for step, ts in steps.values():
            t = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t)
    return {k: {"median": statistics.median(ts), "min": min(ts), "max": max(ts), "loss": losses[k]}
            for k, (_, ts) in steps.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet18")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    graph = templates.build(a.model, (3, a.size, a.size), 4)
    model = compile_model(graph)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 4, (a.batch,))
    print(f"torch {torch.__version__}, {a.threads} thread(s), {a.model} 3x{a.size}x{a.size}, batch {a.batch}")
    print("\n1. each convolution alone (forward + backward), ms (GFLOP/s)")
    rows = layers_alone(model, x, a.reps)
    total = {w: 0.0 for w in WAYS}
    for r in rows:
        cells = "  ".join(f"{w} {r[w] * 1e3:6.1f} ({r['flops'] / r[w] / 1e9:4.0f})" if w in r else f"{w} {'-':>13s}"
                          for w in WAYS)
        print(f"  {r['layer']:24s} {str(r['input']):18s} k{r['kernel']} s{r['stride']}  {cells}  best {r['best']}")
        for w in WAYS:
            total[w] += r.get(w, r["nchw"])
    best_sum = sum(r[r["best"]] for r in rows)
    print("  sum: " + ", ".join(f"{w} {v * 1e3:.1f} ms" for w, v in total.items()) + f", each layer's best {best_sum * 1e3:.1f} ms")
    plans = {"all NCHW": "nchw", "all channels last": "channels_last",
             "each layer's best": {r["layer"]: r["best"] for r in rows}}
    print(f"\n2. the whole training step, {a.reps} turns each, ms")
    res = whole_steps(graph, model.state_dict(), x, y, plans, a.reps)
    base = res["all NCHW"]["median"]
    for k, v in res.items():
        print(f"  {k:20s} {v['median'] * 1e3:7.1f} (min {v['min'] * 1e3:6.1f}, max {v['max'] * 1e3:6.1f})  "
              f"{base / v['median']:.2f}x NCHW  first loss {v['loss']:.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
