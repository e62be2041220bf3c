"""Cost of batched augmentation against a LeNet-like training step (CPU, 2 threads).

Prints the median time per batch of 128 RGB 32x32 images for: a training step (forward, backward,
SGD update) of a LeNet-like ``nn.Sequential``; augmentation with every transform on; flips only;
photometric only. The figure that matters is the ratio all-on / training step (goal <= 10 %).
``--json`` adds one JSON line with the figures. Never asserts.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

from cnn_studio.data import AugmentConfig, Augmenter


def lenet(c: int = 3, classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(c, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes),
    )


def median_time(fn, repeats: int, inner: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t) / inner)
    return statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--inner", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    model = lenet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    g = torch.Generator().manual_seed(0)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    cases = {
        "all": AugmentConfig(hflip=True, vflip=True, shift=0.1, zoom=0.1, rotate=15, brightness=0.2, contrast=0.2),
        "geometric": AugmentConfig(hflip=True, shift=0.1, zoom=0.1, rotate=15),
        "flips": AugmentConfig(hflip=True, vflip=True),
        "photometric": AugmentConfig(brightness=0.2, contrast=0.2),
    }
    t_step = median_time(step, args.repeats, args.inner)
    res = {"batch": args.batch, "threads": args.threads, "train_step_ms": t_step * 1e3}
    print(f"LeNet-like training step, batch {args.batch} of 3x32x32, {args.threads} threads: {t_step * 1e3:.2f} ms")
    for name, cfg in cases.items():
        aug = Augmenter(cfg, mean, std)
        t = median_time(lambda aug=aug: aug(x, g), args.repeats, args.inner)
        res[f"augment_{name}_ms"] = t * 1e3
        res[f"augment_{name}_ratio"] = t / t_step
        print(f"augment {name:<12} {t * 1e3:7.3f} ms per batch = {100 * t / t_step:5.1f} % of a training step")
    print(f"goal: all-on augmentation <= 10 % of a training step -> {100 * res['augment_all_ratio']:.1f} %")
    if args.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
