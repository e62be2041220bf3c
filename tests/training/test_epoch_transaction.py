"""The end of an epoch is one recoverable transaction: a crash at any write boundary of it, followed by
resume (or the repair evaluate/export run), gives the uninterrupted run's files bit for bit."""
import csv
import json
import shutil

import pytest
import torch

from cnn_studio.cli import main
from cnn_studio.core import atomic
from cnn_studio.training import Callback, TrainConfig, Trainer, TrainingError, load_checkpoint
from cnn_studio.training import checkpoint as ckpt
from cnn_studio.training.recovery import recover_run, repair_run

from training_helpers import tiny_graph


class Crash(BaseException):
    """The process dies here (a BaseException, like KeyboardInterrupt: nothing catches it as an error)."""


class Killer:
    """Counts the write boundaries (fsync of the temporary file, rename, folder fsync) of every atomic
    write once armed and dies at the k-th; a dead process writes nothing more."""

    def __init__(self, monkeypatch, k=None):
        self.k, self.count, self.armed, self.dead = k, 0, False, False
        self.log = []
        for name in ("_fsync", "_replace", "_fsync_dir"):
            real = getattr(atomic, name)
            monkeypatch.setattr(atomic, name, self._wrap(name, real))

    def _wrap(self, name, real):
        def boundary(*args):
            if self.dead:
                raise Crash("dead")
            if self.armed:
                self.count += 1
                self.log.append(name)
                if self.count == self.k:
                    self.dead = True
                    raise Crash(f"killed at boundary {self.k} ({name})")
            return real(*args)
        return boundary


class ArmAt(Callback):
    """Arms the killer at the end of epoch ``epoch`` (all the writes of that epoch end come after this hook)."""

    def __init__(self, killer, epoch):
        self.killer, self.epoch = killer, epoch

    def on_epoch_end(self, trainer, m):
        if m["epoch"] >= self.epoch:
            self.killer.armed = True


def _config(**kw):
    base = dict(epochs=1, batch_size=32, optimizer="adam", lr=0.005, schedule="constant", device="cpu", seed=5, metrics_every=1)  # val_loss falls each epoch
    base.update(kw)
    return TrainConfig(**base)


def _state(path):
    data = load_checkpoint(path)
    return data["progress"]["epoch"], data["model"]


def _metrics(run):
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


SUMMARY_KEYS = ("stop_reason", "epochs_completed", "epochs", "global_step", "best_epoch", "best_metric", "best_val_accuracy",
                "final_val_accuracy", "final_val_loss", "test_accuracy", "test_loss", "test_confusion_matrix")


def _outcome(run):
    summary = json.loads((run / "summary.json").read_text())
    return {
        "last": _state(run / "checkpoints" / "last.pt"),
        "best": _state(run / "checkpoints" / "best.pt"),
        "metrics": _metrics(run),
        "summary": {k: summary[k] for k in SUMMARY_KEYS},
    }


def _assert_same(a, b):
    for which in ("last", "best"):
        assert a[which][0] == b[which][0], f"{which}.pt epoch"
        sa, sb = a[which][1], b[which][1]
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), f"{which}.pt weights differ"
    assert a["metrics"] == b["metrics"]
    assert a["summary"] == b["summary"]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, bundle):
    """One finished epoch: every case below continues it to 3 epochs."""
    run = tmp_path_factory.mktemp("base") / "run"
    Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, _config(), run_dir=run).fit()
    return run


def _continue(base, dest, bundle, callbacks=(), epochs=3):
    shutil.copytree(base, dest)
    return Trainer.from_run(dest, epochs=epochs, data=bundle, callbacks=list(callbacks))


@pytest.fixture(scope="module")
def reference(base_run, bundle, tmp_path_factory):
    run = tmp_path_factory.mktemp("ref") / "run"
    _continue(base_run, run, bundle).fit()
    return run


def test_a_crash_at_every_write_boundary_of_the_last_two_epoch_ends_resumes_to_the_uninterrupted_run(
        base_run, reference, bundle, tmp_path, monkeypatch):
    expected = _outcome(reference)
    # count the boundaries: the ends of epochs 2 and 3 (last.pt, metrics.csv, best.pt when improved) and summary.json
    counter = Killer(monkeypatch)
    _continue(base_run, tmp_path / "count", bundle, [ArmAt(counter, 2)]).fit()
    total = counter.count
    # 3 boundaries x (last.pt, metrics.csv, best.pt: both epochs improve) x 2 epoch ends + summary.json
    # + layer_stats.npz at epoch 3's end (its recorder runs before ArmAt, so epoch 2's is not counted)
    assert total == 3 * 3 * 2 + 3 + 3, counter.log
    outcomes = {}
    for k in range(1, total + 1):
        run = tmp_path / f"k{k}"
        killer = Killer(monkeypatch, k)
        with pytest.raises(Crash):
            _continue(base_run, run, bundle, [ArmAt(killer, 2)]).fit()
        killer.dead = killer.armed = False  # a new process
        # resume as the user would (the same --epochs 3: a crash before epoch 2's last.pt leaves epoch 1's, of a 1-epoch run)
        try:
            Trainer.from_run(run, epochs=3, data=bundle).fit()
        except TrainingError as e:  # killed after summary.json was renamed into place: the run was complete
            assert k == total and "already has 3 epoch" in str(e)
        outcomes[k] = _outcome(run)
        _assert_same(outcomes[k], expected)
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    # a repaired run is complete: resuming it again asks for more epochs, as for any finished run
    with pytest.raises(TrainingError, match="already has 3 epoch"):
        Trainer.from_run(tmp_path / "k1", data=bundle)


def test_the_issue_case_crash_after_last_pt_before_best_pt_at_the_last_epoch(base_run, reference, bundle, tmp_path, monkeypatch,
                                                                             capsys):
    """Stale best.pt, no summary.json: resume used to refuse ('already has 3 epochs') and evaluate and
    export used the older weights. Now evaluate repairs the run first."""
    run = tmp_path / "run"
    real_copy = ckpt.copy_checkpoint
    ref_last_epoch = _state(reference / "checkpoints" / "best.pt")[0]
    assert ref_last_epoch == 3, "the reference's last epoch must be its best for this case (pick another seed)"

    def copy(src, dst):
        if load_checkpoint(src)["progress"]["epoch"] == 3:
            raise Crash("killed before best.pt was copied")
        return real_copy(src, dst)

    monkeypatch.setattr(ckpt, "copy_checkpoint", copy)
    with pytest.raises(Crash):
        _continue(base_run, run, bundle).fit()
    monkeypatch.setattr(ckpt, "copy_checkpoint", real_copy)
    assert _state(run / "checkpoints" / "best.pt")[0] == 2  # stale
    summary = json.loads((run / "summary.json").read_text())  # the 1-epoch run's, or the crash's "error" one
    assert (summary["stop_reason"], summary["epochs_completed"]) != ("finished", 3)
    assert main(["evaluate", str(run), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "best.pt was older than the best epoch (3)" in err and "summary.json" in err
    assert json.loads(out)["checkpoint"].endswith("best.pt")
    _assert_same(_outcome(run), _outcome(reference))


def test_repair_leaves_a_consistent_run_alone(reference):
    before = {p.name: p.stat().st_mtime_ns for p in reference.rglob("*") if p.is_file()}
    r = repair_run(reference)
    assert r.notes == [] and r.finish is None
    assert recover_run(reference) == []
    assert {p.name: p.stat().st_mtime_ns for p in reference.rglob("*") if p.is_file()} == before


def test_an_early_stopped_run_killed_before_its_summary_is_finished_by_resume(bundle, tmp_path, monkeypatch):
    config = _config(epochs=5, early_stopping=True, patience=1, min_delta=100.0)  # epoch 1 is best; epoch 2 stops
    straight = tmp_path / "straight"
    Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, config, run_dir=straight).fit()
    assert json.loads((straight / "summary.json").read_text())["stop_reason"] == "early_stopping"
    run = tmp_path / "run"
    t = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle, config, run_dir=run)

    def die():
        raise Crash("killed during the final evaluation")

    t._finish = die  # after the last epoch's files, before summary.json
    with pytest.raises(Crash):
        t.fit()
    assert not (run / "summary.json").exists() or json.loads((run / "summary.json").read_text())["stop_reason"] == "error"
    resumed = Trainer.from_run(run, data=bundle)
    s = resumed.fit()
    assert s["stop_reason"] == "early_stopping" and s["epochs_completed"] == 2
    _assert_same(_outcome(run), _outcome(straight))


def test_export_after_the_crash_writes_the_best_epochs_weights_not_the_stale_ones(base_run, bundle, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    real_copy = ckpt.copy_checkpoint

    def copy(src, dst):
        if load_checkpoint(src)["progress"]["epoch"] == 3:
            raise Crash("killed before best.pt was copied")
        return real_copy(src, dst)

    monkeypatch.setattr(ckpt, "copy_checkpoint", copy)
    with pytest.raises(Crash):
        _continue(base_run, run, bundle).fit()
    monkeypatch.setattr(ckpt, "copy_checkpoint", real_copy)
    out = tmp_path / "w.pt"
    assert main(["export", str(run), "--format", "state_dict", "-o", str(out)]) == 0
    capsys.readouterr()
    exported = torch.load(out, weights_only=True)
    epoch, last = _state(run / "checkpoints" / "last.pt")
    assert epoch == 3 and all(torch.equal(exported[k], last[k]) for k in last)
