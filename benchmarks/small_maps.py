"""Small-map weight gradients (``cnn_studio/training/small_maps.py``) on this machine: is the threshold right here?

Two parts, both printed:

1. Per layer: a 3x3 convolution's weight gradient (batch 64, channels last, this process's threads)
   computed by ATen/oneDNN (``convolution_backward`` asked for the weight alone) against unfold + one
   matrix product (``small_maps.weight_grad_by_product``, what ``_SmallMapConv`` runs), for output maps of 1x1 to 8x8 and 256/512 channels,
   in fp32 and, where the CPU has native bf16, bf16. Each pair is timed in alternation (ABAB), the
   figure is each side's median; "x" is oneDNN's time over the product's (above 1: the product wins).
   Maps of at most ``SMALL_MAP_PIXELS`` pixels take the product in training; the rows show where the
   crossover lies on this CPU.
2. Whole step: resnet18 at 64x64 and vgg11 at 32x32 (the templates the speed table uses), batch 64,
   channels last, fp32 and bf16 autocast, fused Adam, freed memory kept as ``cnn-studio`` keeps it
   (``allocator.py``), one training step with the small-map path
   installed against the same step without it, alternating, medians of the timed steps.

    python benchmarks/small_maps.py            # both parts (about 2-4 minutes on 2 cores)
    python benchmarks/small_maps.py --layers   # part 1 only
    python benchmarks/small_maps.py --steps    # part 2 only
    python benchmarks/small_maps.py --json     # also JSON lines
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnn_studio.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as cnn-studio does first thing: freed memory kept between steps (allocator.py)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks._util import report  # noqa: E402
from cnn_studio.training import small_maps, speed  # noqa: E402


def _alternate(a, b, turns: int) -> tuple[float, float]:
    """Medians (ms) of ``a()`` and ``b()`` timed in alternation, after one warm-up call of each."""
    a(), b()
    ta, tb = [], []
    for i in range(turns):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ta), statistics.median(tb)


def layer_rows(turns: int, dtypes: list[torch.dtype]) -> dict:
    figures = {}
    for dt in dtypes:
        for ch in (256, 512):
            for side in (1, 2, 4, 8):
                x = torch.randn(64, ch, side, side).to(dt).contiguous(memory_format=torch.channels_last)
                w = (torch.randn(ch, ch, 3, 3) * 0.02).to(dt).contiguous(memory_format=torch.channels_last)
                g = torch.randn(64, ch, side, side).to(dt).contiguous(memory_format=torch.channels_last)

                def onednn():
                    torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                                        [False, True, False])

                def product():
                    return small_maps.weight_grad_by_product(x, g, w.shape, (1, 1), (1, 1))

                t_dnn, t_mm = _alternate(onednn, product, turns)
                name = f"{str(dt).split('.')[-1]} {ch}ch {side}x{side}"
                figures[f"{name} oneDNN ms"] = round(t_dnn, 2)
                figures[f"{name} product ms"] = round(t_mm, 2)
                figures[f"{name} x (oneDNN / product)"] = round(t_dnn / t_mm, 2)
    return figures


def step_rows(turns: int, dtypes: list[torch.dtype]) -> dict:
    from cnn_studio.compiler import compile_model
    from cnn_studio.core import templates

    figures = {}
    for name, size in (("resnet18", 64), ("vgg11", 32)):
        graph = templates.build(name, input_shape=(3, size, size), num_classes=10)
        base = compile_model(graph)
        x = torch.randn(64, 3, size, size).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (64,))
        for dt in dtypes:
            sides = []
            for with_small in (False, True):
                model = compile_model(graph)
                model.load_state_dict(base.state_dict())
                model = model.to(memory_format=torch.channels_last).train()
                if with_small:
                    small_maps.install(model)
                opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

                def step(model=model, opt=opt):
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt is torch.bfloat16):
                        loss = F.cross_entropy(model(x), y)
                    loss.backward()
                    opt.step()
                sides.append(step)
            t_plain, t_small = _alternate(sides[0], sides[1], turns)
            key = f"{name} {str(dt).split('.')[-1]}"
            figures[f"{key} step ms plain"] = round(t_plain, 1)
            figures[f"{key} step ms small-map"] = round(t_small, 1)
            figures[f"{key} x (plain / small-map)"] = round(t_plain / t_small, 3)
    return figures


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", action="store_true", help="the per-layer rows only")
    ap.add_argument("--steps", action="store_true", help="the whole-step rows only")
    ap.add_argument("--turns", type=int, default=12, help="timed calls of each side (default 12)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    dtypes = [torch.float32] + ([torch.bfloat16] if speed.bf16_native(torch.device("cpu")) else [])
    head = {"threads": torch.get_num_threads(), "native bf16": speed.bf16_native(torch.device("cpu")),
            "SMALL_MAP_PIXELS": small_maps.SMALL_MAP_PIXELS}
    report("small-map weight gradients: machine", head)
    if not args.steps:
        report("per layer: 3x3 weight gradient, batch 64, channels last", layer_rows(args.turns * 2, dtypes))
    if not args.layers:
        report("whole training step, batch 64, channels last, fused Adam", step_rows(args.turns, dtypes))


if __name__ == "__main__":
    main()
