"""Import speed of the data layer.

Writes a folder of 10,000 small PNGs (28x28 gray, 10 classes) to a temporary directory, then times
``load_dataset`` on it cold (decode with the thread pool, write the cache) and warm (from the cache),
in images per second; also times drawing the built-in shapes set (12,000 images at 32x32) and loading
it from its cache. ``--learn`` adds the learnability check of the shapes set: LeNet-5 vs. an MLP,
a few epochs each. Caches go to a temporary CNN_STUDIO_HOME. ``--json`` adds one JSON line. Never asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_pngs(root: Path, n: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / f"class{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        a = rng.integers(0, 256, (size, size), dtype=np.uint8)
        a[a < 160] = 0  # MNIST-like sparsity, so PNG compression has something to do
        Image.fromarray(a, "L").save(d / f"{i:05d}.png")


def learn(epochs: int) -> dict:
    import torch
    from torch import nn

    from cnn_studio.data import BatchIterator, DataConfig, load_dataset

    b = load_dataset(DataConfig(source="shapes"))
    models = {
        "lenet5": lambda: nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)),
        "mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(3072, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                     nn.Linear(128, 10)),
    }
    out = {}
    for name, make in models.items():
        torch.manual_seed(0)
        net = make()
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        g = torch.Generator().manual_seed(0)
        accs = []
        for _ in range(epochs):
            net.train()
            for xb, yb in BatchIterator(b.train, 128, shuffle=True, generator=g):
                loss = nn.functional.cross_entropy(net(b.normalize(xb)), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                correct = sum(int((net(b.normalize(xb)).argmax(1) == yb).sum()) for xb, yb in
                              BatchIterator(b.val, 500, shuffle=False))
            accs.append(correct / len(b.val))
        params = sum(p.numel() for p in net.parameters())
        out[name] = {"params": params, "val_acc_per_epoch": [round(a, 3) for a in accs]}
        print(f"{name:<7} {params:>7} parameters, validation accuracy per epoch: "
              + " ".join(f"{a:.3f}" for a in accs))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--repeats", type=int, default=3, help="warm (cached) loads and shapes draws to take the median of")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--learn", type=int, default=0, metavar="EPOCHS", help="also train LeNet-5 and an MLP on shapes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cnn-studio-bench-") as tmp:
        os.environ["CNN_STUDIO_HOME"] = str(Path(tmp) / "home")
        import torch

        torch.set_num_threads(args.threads)
        from cnn_studio.data import DataConfig, load_dataset
        from cnn_studio.data.shapes import generate_shapes

        root = Path(tmp) / "pngs"
        t = time.perf_counter()
        write_pngs(root, args.images, args.size)
        t_write = time.perf_counter() - t
        print(f"wrote {args.images} PNGs of {args.size}x{args.size} in {t_write:.1f} s")
        cfg = DataConfig(source=str(root))
        t = time.perf_counter()
        b = load_dataset(cfg)
        t_cold = time.perf_counter() - t
        warm = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            b2 = load_dataset(cfg)
            warm.append(time.perf_counter() - t)
        t_warm = statistics.median(warm)
        assert_from_cache = "from the cache" in b2.source_description
        n = len(b.train) + len(b.val)
        print(f"image folder, cold (decode {os.cpu_count()} CPUs): {t_cold:.2f} s = {n / t_cold:,.0f} images/s")
        print(f"image folder, from cache: {t_warm:.3f} s = {n / t_warm:,.0f} images/s "
              f"({'cache hit' if assert_from_cache else 'CACHE MISS'})")

        draws = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            generate_shapes(10000, 0)
            generate_shapes(2000, 0, stream=1)
            draws.append(time.perf_counter() - t)
        t_shapes = statistics.median(draws)
        load_dataset(DataConfig())
        t = time.perf_counter()
        load_dataset(DataConfig())
        t_shapes_cached = time.perf_counter() - t
        print(f"shapes, drawing 12,000 images at 32x32: {t_shapes:.2f} s = {12000 / t_shapes:,.0f} images/s")
        print(f"shapes, load_dataset from cache (split + stats included): {t_shapes_cached:.3f} s")
        res = {"images": n, "size": args.size, "folder_cold_s": t_cold, "folder_cold_images_per_s": n / t_cold,
               "folder_cached_s": t_warm, "folder_cached_images_per_s": n / t_warm, "cache_hit": assert_from_cache,
               "shapes_generate_12k_s": t_shapes, "shapes_cached_load_s": t_shapes_cached, "threads": args.threads,
               "cpus": os.cpu_count()}
        if args.learn:
            res["learn"] = learn(args.learn)
        if args.json:
            print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
