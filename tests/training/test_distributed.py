"""Distributed (torchrun + DDP, gloo on CPU) training equals a single-process run with the same global batch."""
from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnn_studio
from cnn_studio.cli import main
from cnn_studio.training.distributed import ShardedBatchIterator

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")

ROOT = Path(cnn_studio.__file__).resolve().parents[1]
DATA = "shapes:train=256,test=64,size=32"  # 226 train / 30 val: the last global batch of 32 has 2 samples
# a constant rate: a resumed run equals a longer one only when the schedule does not depend on the length
COMMON = ["--data", DATA, "--batch-size", "32", "--optimizer", "sgd", "--lr", "0.05", "--schedule", "constant", "--threads", "1", "--seed", "3"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], nproc: int = 2, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "cnn_studio", "train", *args, "--distributed"]
    return subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=timeout)


def _metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _weights(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)["model"]


def _assert_same_run(a: Path, b: Path) -> None:
    ma, mb = _metrics(a), _metrics(b)
    assert len(ma) == len(mb)
    for ra, rb in zip(ma, mb):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr"):
            assert float(ra[key]) == pytest.approx(float(rb[key]), abs=1e-4), (ra["epoch"], key)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.allclose(wa[k].float(), wb[k].float(), atol=1e-4, rtol=0), k


def _runs(home: Path) -> list[Path]:
    d = home / "runs"
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-process run (no --out: rank 0 picks the folder) and its resume to 3 epochs, run once."""
    home = tmp_path_factory.mktemp("dist_home")
    old = os.environ.get("CNN_STUDIO_HOME")
    os.environ["CNN_STUDIO_HOME"] = str(home)
    try:
        first = _torchrun(["lenet5", *COMMON, "--epochs", "2"])
        assert first.returncode == 0, first.stdout + first.stderr
        made = _runs(home)
        snapshot = tmp_path_factory.mktemp("after_2_epochs") / "run"
        if len(made) == 1:
            shutil.copytree(made[0], snapshot)  # the run as it was before the resume
        resumed = _torchrun(["--resume", str(made[0]), "--epochs", "3"]) if len(made) == 1 else None
    finally:
        if old is None:
            os.environ.pop("CNN_STUDIO_HOME", None)
        else:
            os.environ["CNN_STUDIO_HOME"] = old
    return {"home": home, "first": first, "made": made, "snapshot": snapshot, "resumed": resumed}


def test_two_processes_equal_one_process(runs, tmp_path, capsys):
    assert main(["train", "lenet5", *COMMON, "--epochs", "2", "--out", str(tmp_path / "single")]) == 0
    capsys.readouterr()
    assert len(runs["made"]) == 1
    dist_run = runs["snapshot"]
    _assert_same_run(tmp_path / "single", dist_run)
    import json

    s1 = json.loads((tmp_path / "single" / "summary.json").read_text())
    s2 = json.loads((dist_run / "summary.json").read_text())
    assert s2["test_confusion_matrix"] == s1["test_confusion_matrix"]
    assert s2["test_loss"] == pytest.approx(s1["test_loss"], abs=1e-4)
    assert s2["global_step"] == s1["global_step"] == 2 * 8


def test_rank0_alone_writes_and_prints(runs):
    first = runs["first"]
    assert len(runs["made"]) == 1  # one run folder, made by rank 0
    assert first.stdout.count("finished after 2 of 2 epochs") == 1
    assert first.stderr.count("epoch 2/2") == 1
    assert "2 processes (gloo), 16 samples per process" in first.stderr
    run = runs["snapshot"]
    assert len(_metrics(run)) == 2
    assert {p.name for p in (run / "checkpoints").iterdir()} <= {"last.pt", "best.pt"}


def test_resume_of_a_distributed_run_continues(runs, tmp_path, capsys):
    resumed = runs["resumed"]
    assert resumed is not None and resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming at epoch 3" in resumed.stderr
    assert resumed.stdout.count("finished after 3 of 3 epochs") == 1
    run = runs["made"][0]
    assert [r["epoch"] for r in _metrics(run)] == ["1", "2", "3"]
    # a single-process run of 3 epochs gives the same figures and weights
    assert main(["train", "lenet5", *COMMON, "--epochs", "3", "--out", str(tmp_path / "single3")]) == 0
    capsys.readouterr()
    _assert_same_run(tmp_path / "single3", run)


def test_global_batch_must_divide(tmp_path):
    r = _torchrun(["lenet5", *[a if a != "32" else "33" for a in COMMON], "--epochs", "1", "--out", str(tmp_path / "bad")])
    assert r.returncode != 0
    assert "batch size 33 is the global batch and must be divisible by the 2 processes" in r.stderr


def test_distributed_without_torchrun_exits_2(monkeypatch, capsys, tmp_path):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    assert main(["train", "lenet5", "--data", DATA, "--epochs", "1", "--out", str(tmp_path / "r"), "--distributed"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--distributed needs the torchrun environment" in err
    assert not (tmp_path / "r").exists()


def test_sharded_iterator_splits_each_global_batch():
    from cnn_studio.data import BatchIterator
    from cnn_studio.data.bundle import Split

    n, g, w = 37, 8, 2
    split = Split("train", torch.arange(n), x=torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1))
    whole = [y.tolist() for _, y in BatchIterator(split, g, generator=torch.Generator().manual_seed(5))]
    shares, weights = [], []
    for r in range(w):
        it = ShardedBatchIterator(BatchIterator(split, g, generator=torch.Generator().manual_seed(5)), r, w,
                                  lambda nl, ng: weights.append((nl, ng)))
        assert len(it) == len(whole)
        shares.append([y.tolist() for _, y in it.iter_from(1)])
    for b, batch in enumerate(whole[1:]):
        assert sorted(shares[0][b] + shares[1][b]) == sorted(batch)
        assert shares[0][b] == batch[0::2] and shares[1][b] == batch[1::2]
    assert (3, 5) in weights and (2, 5) in weights  # the last global batch of 5: shares 3 and 2


_STOP_SCRIPT = r'''
import sys
from cnn_studio.cli import build_parser
from cnn_studio.cli_train import _prepare_new_run
from cnn_studio.training import Callback, DistributedTrainer, distributed_session

out, common = sys.argv[1], sys.argv[2:]


class StopOnRank1(Callback):
    def on_batch_end(self, trainer, m):
        if trainer.rank == 1 and m["epoch"] == 2 and m["batch"] == 3:
            trainer.request_stop()  # one rank only: all ranks must stop at the same batch


with distributed_session("cpu") as info:
    args = build_parser().parse_args(["train", "lenet5", *common, "--epochs", "2", "--out", out])
    graph, bundle, dc, cfg = _prepare_new_run(args)
    s = DistributedTrainer(graph, bundle, cfg, run_dir=out, callbacks=[StopOnRank1()], data_config=dc).fit()
    assert s["stop_reason"] == "stopped_by_user", s["stop_reason"]
    assert s["global_step"] == 8 + 4, s["global_step"]  # agreed during batch 4, stopped after it
    s = DistributedTrainer.from_run(out, epochs=2).fit()
    assert s["stop_reason"] == "finished", s["stop_reason"]
    sys.stdout.write(f"rank {info.rank} ok\n")
'''


def test_stop_on_one_rank_mid_epoch_then_resume_is_exact(tmp_path, capsys):
    script = tmp_path / "stop_resume.py"
    script.write_text(_STOP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(script), str(tmp_path / "dist"), *COMMON]
    r = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rank 0 ok" in r.stdout and "rank 1 ok" in r.stdout
    assert main(["train", "lenet5", *COMMON, "--epochs", "2", "--out", str(tmp_path / "single")]) == 0
    capsys.readouterr()
    _assert_same_run(tmp_path / "single", tmp_path / "dist")
