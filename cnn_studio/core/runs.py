"""Runs as first-class objects: list, describe, rename, star, note and delete run folders.

Standard library only (core), so the GUI lists runs without importing torch; ``training.runs``
re-exports this module for the engine. A run is described from its small files only (``config.json``,
``summary.json``, ``metrics.csv`` and ``run_meta.json``), never from a checkpoint, so the Runs dock
and ``cnn-studio runs`` can list hundreds of runs quickly. A folder that is half-written, corrupt or
from a newer CNN Studio is a :class:`RunInfo` whose ``status`` says so; listing never raises.

``run_meta.json`` (beside config.json) holds what the user adds to a run: a display name, a note and
a star. It is the only file this module writes, atomically; the trainer never touches it.

Listing cost: a cache keyed on (path, mtime_ns, size) of the four files keeps every parsed run, so a
warm re-list only stats them (and probes the writer's lock of runs that have one).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .atomic import atomic_write_bytes
from .errors import StudioError

#: metrics.csv's columns (the same as training.rundir.METRIC_COLUMNS; a test keeps them equal)
METRIC_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_top5_accuracy", "lr", "seconds")

#: the run-folder format this version reads; a config.json whose "run_format" is larger is newer
RUN_FORMAT = 1
META_FILE = "run_meta.json"
META_VERSION = 1
MAX_NAME = 200
MAX_NOTE = 20000
#: a file larger than this is not a run's config/summary/meta (read no further: it is corrupt)
MAX_JSON_BYTES = 64 * 2**20

STATUSES = ("running", "finished", "stopped", "failed", "incomplete", "corrupt", "newer version")
_STOP_STATUS = {"finished": "finished", "early_stopping": "finished", "stopped_by_user": "stopped",
                "error": "failed", "nan_loss": "failed"}
STOP_TEXT = {"finished": "finished", "early_stopping": "early stopping", "stopped_by_user": "stopped by the user",
             "error": "error", "nan_loss": "loss became NaN"}


class RunsError(StudioError):
    """A run folder cannot be changed or deleted as asked; str() says why and what to do."""


@dataclass
class RunInfo:
    """One row of the runs list. Every field but ``path``, ``folder``, ``name`` and ``status`` may be
    None (unknown: a half-written or corrupt folder)."""

    path: str
    folder: str  # the folder's own name
    name: str  # display name: the user's rename, else the folder name
    status: str  # running | finished | stopped | failed | incomplete | corrupt: <why> | newer version: update CNN Studio
    message: str = ""  # why the status is what it is (for corrupt/incomplete/newer), empty when all is well
    run_name: str | None = None  # the name the trainer gave the run (config.json)
    started: float | None = None  # seconds since the epoch
    duration: float | None = None  # training seconds
    network: str | None = None
    params: int | None = None
    nodes: int | None = None
    dataset: str | None = None
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    epochs: int | None = None  # asked for
    epochs_done: int | None = None
    best_val_accuracy: float | None = None
    best_epoch: int | None = None
    final_val_accuracy: float | None = None
    test_accuracy: float | None = None
    test_weights: str | None = None  # "best" or "last": which weights the test accuracy is of
    test_epoch: int | None = None
    stop_reason: str | None = None
    star: bool = False
    note: str = ""
    checkpoints: list[str] = field(default_factory=list)  # "best", "last": those present

    @property
    def state(self) -> str:
        """The status without its message ("corrupt", "newer version", ...)."""
        return self.status.split(":", 1)[0]

    @property
    def can_resume(self) -> bool:
        return "last" in self.checkpoints and self.state in ("finished", "stopped", "failed", "incomplete")

    @property
    def started_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)) if self.started is not None else ""

    @property
    def stop_text(self) -> str:
        return STOP_TEXT.get(self.stop_reason or "", self.stop_reason or "")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["started_text"] = self.started_text
        return d


# ---- reading the small files ---------------------------------------------------------------------
class _Bad(Exception):
    """A run file is unusable; str() is the reason shown after "corrupt: "."""


def _read_json(path: Path, label: str) -> dict | None:
    """The JSON object in ``path``; None when the file is missing; _Bad when unusable."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _Bad(f"{label} is a folder") from None
    except OSError as e:
        raise _Bad(f"{label} cannot be read ({e.strerror or e})") from None
    if len(raw) > MAX_JSON_BYTES:
        raise _Bad(f"{label} is too large to be a run file")
    if not raw.strip():
        raise _Bad(f"{label} is empty (written only in part?)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Bad(f"{label} is not text") from None
    except (ValueError, RecursionError) as e:
        raise _Bad(f"{label} is not valid JSON ({str(e).split(':')[0]})") from None
    if not isinstance(data, dict):
        raise _Bad(f"{label} does not hold a JSON object")
    return data


def _num(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _int(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return int(v)
    return None


def _str(v) -> str | None:
    return v if isinstance(v, str) else None


def _cell(text: str) -> float | None:
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The rows of a run's ``metrics.csv`` (``path`` is the run folder or the file): one dict per
    epoch with the :data:`METRIC_COLUMNS` as floats (``epoch`` an int), None where empty or bad.
    Rows without a usable epoch number (a torn last line, garbage) are left out; never raises for a
    bad file (an unreadable one gives [])."""
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.csv"
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_JSON_BYTES)
    except OSError:
        return []
    return _parse_metrics(raw)


def _parse_metrics(raw: bytes) -> list[dict]:
    text = raw.decode("utf-8", errors="replace").replace("\x00", "")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # every row ends with a newline: a last line without one is torn
    rows = []
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            return []
        cols = [h.strip() for h in header]
        if "epoch" not in cols:
            return []
        for rec in reader:
            if len(rec) != len(cols):
                continue  # a half-written or foreign line
            row = {c: None for c in METRIC_COLUMNS}
            for c, v in zip(cols, rec):
                if c in row:
                    row[c] = _cell(v.strip())
            e = row["epoch"]
            if e is None or e != int(e) or e < 0:
                continue
            row["epoch"] = int(e)
            rows.append(row)
    except (csv.Error, ValueError, OverflowError):
        return rows
    return rows


# ---- network facts (cached by the graph's text: many runs share one network) -----------------------
_net_cache: dict[str, tuple[str | None, int | None, int | None]] = {}
_net_lock = threading.Lock()


def _network_facts(graph) -> tuple[str | None, int | None, int | None]:
    """(name, parameter count, node count) of a config.json graph; the count is None when the
    network cannot be analysed. Standard library only (core.analysis)."""
    if not isinstance(graph, dict):
        return None, None, None
    name = _str(graph.get("name"))
    try:
        key = json.dumps(graph, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return name, None, None
    with _net_lock:
        hit = _net_cache.get(key)
    if hit is not None:
        return hit
    params = None
    nodes = graph.get("nodes")
    n_nodes = len(nodes) if isinstance(nodes, list) else None
    try:
        from .analysis import analyze
        from .project import FORMAT, VERSION, document_to_graph

        g = document_to_graph({**graph, "format": FORMAT, "version": VERSION}, source="the run's network")
        a = analyze(g)
        params = int(a.total_params)
    except Exception:  # a network this version cannot analyse: listed without a size
        params = None
    out = (name, params, n_nodes)
    with _net_lock:
        if len(_net_cache) > 4096:
            _net_cache.clear()
        _net_cache[key] = out
    return out


def _dataset_text(data) -> str | None:
    if not isinstance(data, dict):
        return None
    src = _str(data.get("source"))
    if not src:
        return None
    if src == "shapes":
        return "shapes"
    return Path(src).name or src


# ---- one run folder ------------------------------------------------------------------------------
def is_run_folder(path: str | os.PathLike) -> bool:
    """A folder with config.json, or with a checkpoints/ folder (a run whose config was lost)."""
    p = Path(path)
    try:
        return p.is_dir() and ((p / "config.json").exists() or (p / "checkpoints").is_dir())
    except OSError:
        return False


_STAMPED = ("config.json", "summary.json", "metrics.csv", META_FILE, "checkpoints/last.pt", "checkpoints/best.pt")


def _stamps(p: Path) -> tuple:
    out = []
    for name in _STAMPED:
        try:
            st = os.stat(p / name)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _parse(p: Path, stamps: tuple) -> RunInfo:
    """Everything the small files say about run ``p`` (the lock is probed by the caller)."""
    folder = p.name
    info = RunInfo(path=str(p), folder=folder, name=folder, status="incomplete")
    info.checkpoints = [k for k, s in zip(("last", "best"), stamps[4:]) if s is not None]
    # the user's additions first: a corrupt run can still be renamed or noted
    try:
        meta = _read_json(p / META_FILE, META_FILE) or {}
    except _Bad:
        meta = {}
    mname = _str(meta.get("name"))
    if mname and mname.strip():
        info.name = mname.strip()[:MAX_NAME]
    info.note = (_str(meta.get("note")) or "")[:MAX_NOTE]
    info.star = meta.get("star") is True

    try:
        config = _read_json(p / "config.json", "config.json")
    except _Bad as e:
        info.status, info.message = f"corrupt: {e}", str(e)
        config = None
        _fill_from_files(info, p, None, stamps)
        return info
    if config is None:
        info.status, info.message = "incomplete", "config.json is missing"
        _fill_from_files(info, p, None, stamps)
        return info
    fmt = config.get("run_format", RUN_FORMAT)
    if _int(fmt) is not None and fmt > RUN_FORMAT:
        info.status = "newer version: update CNN Studio"
        v = _str(config.get("cnn_studio_version"))
        info.message = f"written by a newer CNN Studio{f' ({v})' if v else ''} (run format {fmt}, this version reads {RUN_FORMAT}); update CNN Studio"
        info.run_name = _str(config.get("name"))
        return info
    info.run_name = _str(config.get("name"))
    info.network, info.params, info.nodes = _network_facts(config.get("graph"))
    info.dataset = _dataset_text(config.get("data"))
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    info.optimizer = _str(train.get("optimizer"))
    info.lr = _num(train.get("lr"))
    info.batch_size = _int(train.get("batch_size"))
    info.epochs = _int(train.get("epochs"))
    info.started = _started(config, stamps)
    _fill_from_files(info, p, config, stamps)
    return info


def _started(config: dict, stamps: tuple) -> float | None:
    created = _str(config.get("created"))
    if created:
        try:
            return time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
        except (ValueError, OverflowError):
            pass
    return stamps[0][0] / 1e9 if stamps[0] is not None else None


def _fill_from_files(info: RunInfo, p: Path, config: dict | None, stamps: tuple) -> None:
    """Metrics and summary; sets the status from the summary's stop reason."""
    hist = read_metrics(p / "metrics.csv") if stamps[2] is not None else []
    if hist:
        info.epochs_done = max(r["epoch"] for r in hist)
        vals = [(r["val_accuracy"], r["epoch"]) for r in hist if r["val_accuracy"] is not None]
        if vals:
            info.best_val_accuracy, info.best_epoch = max(vals, key=lambda t: (t[0], -t[1]))
            info.final_val_accuracy = vals[-1][0]
        secs = [r["seconds"] for r in hist if r["seconds"] is not None]
        info.duration = sum(secs) if secs else None
    elif stamps[2] is not None:
        info.epochs_done = 0
    if info.started is None:
        first = next((s for s in stamps[:3] if s is not None), None)
        info.started = first[0] / 1e9 if first is not None else None
    if info.status.startswith("corrupt") or config is None:
        return
    try:
        summary = _read_json(p / "summary.json", "summary.json")
    except _Bad as e:
        info.status, info.message = f"corrupt: {e}", str(e)
        return
    if summary is None:
        info.status = "incomplete"
        info.message = "no summary.json: the run was interrupted (or is being written)"
        if "last" in info.checkpoints:
            info.message += "; it can be continued from its last checkpoint"
        return
    fmt = summary.get("run_format", RUN_FORMAT)
    if _int(fmt) is not None and fmt > RUN_FORMAT:
        info.status = "newer version: update CNN Studio"
        info.message = f"summary.json is of a newer run format ({fmt}); update CNN Studio"
        return
    reason = _str(summary.get("stop_reason"))
    info.stop_reason = reason
    info.status = _STOP_STATUS.get(reason or "", "incomplete")
    if info.status == "incomplete":
        info.message = f"summary.json gives no known stop reason ({reason!r})" if reason else "summary.json gives no stop reason"
    err = _str(summary.get("error"))
    if info.status == "failed" and err:
        info.message = err
    done = _int(summary.get("epochs_completed"))
    if done is not None and done >= 0:
        info.epochs_done = done if info.epochs_done is None else max(done, info.epochs_done)
    if info.epochs is None:
        info.epochs = _int(summary.get("epochs"))
    best = _num(summary.get("best_val_accuracy"))
    if best is not None:
        info.best_val_accuracy = best
        be = _int(summary.get("best_epoch"))
        info.best_epoch = be if be is not None else info.best_epoch
    fv = _num(summary.get("final_val_accuracy"))
    if fv is not None:
        info.final_val_accuracy = fv
    info.test_accuracy = _num(summary.get("test_accuracy"))
    tw = _str(summary.get("test_weights"))
    info.test_weights = tw if tw in ("best", "last") else None
    info.test_epoch = _int(summary.get("test_epoch"))
    secs = _num(summary.get("train_seconds"))
    if secs is not None and secs >= 0:
        info.duration = secs


def read_run(path: str | os.PathLike) -> RunInfo:
    """The :class:`RunInfo` of one folder (cached); never raises. A folder that is not a run folder
    at all gets status "corrupt: not a run folder ..."."""
    p = Path(path)
    try:
        p = Path(os.path.abspath(p))
    except (OSError, ValueError):
        pass
    if not is_run_folder(p):
        why = "the folder does not exist" if not p.exists() else "not a run folder (no config.json or checkpoints/)"
        return RunInfo(path=str(p), folder=p.name, name=p.name, status=f"corrupt: {why}", message=why)
    return _cached(p)


_cache: dict[str, tuple[tuple, RunInfo]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _growing.clear()
    with _net_lock:
        _net_cache.clear()


def _cached(p: Path) -> RunInfo:
    stamps = _stamps(p)
    key = str(p)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == stamps:
        base = hit[1]
    else:
        try:
            base = _parse(p, stamps)
        except Exception as e:  # a safety net: one strange folder never breaks the list
            base = RunInfo(path=str(p), folder=p.name, name=p.name, status=f"corrupt: cannot be read ({type(e).__name__})",
                           message=str(e) or type(e).__name__)
        with _cache_lock:
            _cache[key] = (stamps, base)
            if hit is not None and _grew(hit[0], stamps):
                _growing[key] = time.monotonic()
    info = _copy(base)
    _probe_running(info, p)
    return info


#: when each run's metrics.csv was last seen growing without a summary.json (no lock to probe:
#: a read-only folder, or a trainer of another version); "running" for GROWING_S after that
_growing: dict[str, float] = {}
GROWING_S = 600.0


def _grew(old: tuple, new: tuple) -> bool:
    """metrics.csv or last.pt changed since the previous scan while there is no summary.json."""
    if new[1] is not None:
        return False
    return any(n is not None and n != o for o, n in ((old[2], new[2]), (old[4], new[4])))


def _copy(info: RunInfo) -> RunInfo:
    c = RunInfo(**{k: getattr(info, k) for k in info.__dataclass_fields__})
    c.checkpoints = list(info.checkpoints)
    return c


def _probe_running(info: RunInfo, p: Path) -> None:
    """"running" when a trainer holds the folder's lock (this process or another), or, for an
    unfinished run (no summary), when its metrics grew at a recent scan."""
    if info.state in ("corrupt", "newer version"):
        return
    if os.path.exists(p / ".lock") and is_locked(p):
        info.status, info.message = "running", "a trainer is writing this run now"
        return
    if info.state == "incomplete" and not os.path.exists(p / "summary.json"):
        with _cache_lock:
            seen = _growing.get(str(p))
        if seen is not None and time.monotonic() - seen < GROWING_S:
            info.status, info.message = "running", "its metrics are growing (no writer lock to check)"


def is_locked(path: str | os.PathLike) -> bool:
    """Whether a trainer holds the run folder's writer lock (``.lock``, an OS file lock; see
    training.rundir). Probes without creating anything; False when there is no lock file."""
    lock = os.path.join(path, ".lock")
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            try:
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except ImportError:
                return False
            except OSError:
                return True
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


# ---- many run folders ----------------------------------------------------------------------------
def default_folders(project_path: str | os.PathLike | None = None) -> list[Path]:
    """Where runs are looked for: ``studio_home()/runs`` and, for a saved project, the
    ``<project stem>_runs/`` folder beside it (where the app writes that project's runs)."""
    from .paths import studio_home

    out = [studio_home() / "runs"]
    if project_path:
        pp = Path(project_path)
        out.insert(0, pp.parent / f"{pp.stem}_runs")
    return out


def find_run_folders(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Each of ``folders`` that is a run folder itself, and the run folders directly inside each of
    the others; duplicates once. Missing or unreadable folders are skipped."""
    seen: set[str] = set()
    out: list[Path] = []
    for folder in folders:
        root = Path(os.path.abspath(folder))
        if is_run_folder(root):
            cands = [root]
        else:
            try:
                with os.scandir(root) as it:
                    cands = [root / e.name for e in it if not e.name.startswith(".") and _is_dir(e)]
            except OSError:
                continue
            cands = [c for c in cands if os.path.exists(c / "config.json") or os.path.isdir(c / "checkpoints")]
        for c in cands:
            key = os.path.normcase(str(c))
            if key not in seen:
                seen.add(key)
                out.append(c)
    return out


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def scan_runs(folders: Iterable[str | os.PathLike] | None = None) -> list[RunInfo]:
    """Every run in ``folders`` (default :func:`default_folders`), newest first; never raises."""
    if folders is None:
        folders = default_folders()
    infos = [_cached(p) for p in find_run_folders(folders)]
    infos.sort(key=lambda i: (i.started if i.started is not None else float("-inf"), i.path), reverse=True)
    return infos


# ---- the user's additions ------------------------------------------------------------------------
_UNSET: Any = object()


def read_run_meta(path: str | os.PathLike) -> dict:
    """The run's ``run_meta.json`` as {"name", "note", "star"} (defaults where missing or bad)."""
    try:
        meta = _read_json(Path(path) / META_FILE, META_FILE) or {}
    except _Bad:
        meta = {}
    name = _str(meta.get("name"))
    return {"name": name.strip()[:MAX_NAME] if name and name.strip() else None,
            "note": (_str(meta.get("note")) or "")[:MAX_NOTE], "star": meta.get("star") is True}


def set_run_meta(path: str | os.PathLike, name: Any = _UNSET, note: Any = _UNSET, star: Any = _UNSET) -> dict:
    """Change the run's display name (None or "" goes back to the folder name), note and/or star;
    written atomically to ``run_meta.json``. Returns the new meta. RunsError for a folder that is
    not a run folder, a bad value, or a file that cannot be written."""
    p = Path(path)
    if not is_run_folder(p):
        raise RunsError(f"'{p}' is not a run folder (no config.json or checkpoints/); choose a run folder")
    meta = read_run_meta(p)
    if name is not _UNSET:
        if name is not None and not isinstance(name, str):
            raise RunsError(f"a run's name must be text, got {type(name).__name__}")
        name = (name or "").strip()
        if "\n" in name or "\r" in name:
            raise RunsError("a run's name must be one line")
        if len(name) > MAX_NAME:
            raise RunsError(f"a run's name can have at most {MAX_NAME} characters; this one has {len(name)}")
        meta["name"] = name or None
    if note is not _UNSET:
        if note is not None and not isinstance(note, str):
            raise RunsError(f"a run's note must be text, got {type(note).__name__}")
        note = note or ""
        if len(note) > MAX_NOTE:
            raise RunsError(f"a run's note can have at most {MAX_NOTE} characters; this one has {len(note)}")
        meta["note"] = note
    if star is not _UNSET:
        if not isinstance(star, bool):
            raise RunsError(f"a run's star must be true or false, got {star!r}")
        meta["star"] = star
    data = {"version": META_VERSION, **meta}
    try:
        atomic_write_bytes(p / META_FILE, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    except OSError as e:
        raise RunsError(f"cannot write '{p / META_FILE}': {e.strerror or e}; check the run folder can be written") from None
    return meta


# ---- deleting ------------------------------------------------------------------------------------
#: what a run folder may hold (besides temporary files of atomic writes, ``.<name>.*.tmp*``)
RUN_ENTRIES = frozenset({"config.json", "metrics.csv", "summary.json", "layer_stats.npz", META_FILE, ".lock", "checkpoints"})


def _is_temp(name: str) -> bool:
    return name.startswith(".") and ".tmp" in name


def delete_run(path: str | os.PathLike, allow_other_files: bool = False) -> None:
    """Delete a run folder for good (the GUI moves it to the system trash instead).

    Refused (RunsError, nothing deleted) unless the folder looks like a run folder: a real folder (not
    a link), with config.json or checkpoints/, not being trained now, and holding only run files
    (config, metrics, summary, meta, lock, checkpoints/*.pt and temporary files of those); with
    ``allow_other_files`` other plain files are deleted with it, but never subfolders."""
    p = Path(os.path.abspath(path))
    if os.path.islink(p):
        raise RunsError(f"'{p}' is a link, not a run folder; delete the link by hand")
    if not is_run_folder(p):
        raise RunsError(f"'{p}' is not a run folder (no config.json or checkpoints/); nothing was deleted")
    from .paths import studio_home

    protected = {Path(os.path.abspath(q)) for q in (Path.home(), studio_home(), studio_home() / "runs", Path(p.anchor))}
    if p in protected:
        raise RunsError(f"'{p}' is not a single run's folder; nothing was deleted")
    if is_locked(p):
        raise RunsError(f"the run in '{p}' is being trained now; stop it first, then delete it")
    foreign = []
    for e in os.scandir(p):
        if e.name == "checkpoints":
            if e.is_symlink() or not e.is_dir():
                foreign.append(e.name)
                continue
            for c in os.scandir(e.path):
                if not (c.is_file(follow_symlinks=False) and (c.name.endswith(".pt") or _is_temp(c.name))):
                    foreign.append(f"checkpoints/{c.name}")
        elif e.name in RUN_ENTRIES or _is_temp(e.name):
            if e.is_dir(follow_symlinks=False):
                foreign.append(e.name)
        elif not (allow_other_files and e.is_file(follow_symlinks=False)):
            foreign.append(e.name)
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (" ..." if len(foreign) > 5 else "")
        raise RunsError(f"'{p}' holds files that are not a run's ({shown}); nothing was deleted: move them out, or delete the folder by hand")
    try:
        shutil.rmtree(p)
    except OSError as e:
        raise RunsError(f"cannot delete '{p}': {e.strerror or e}") from None
    with _cache_lock:
        _cache.pop(str(p), None)


__all__ = ["RunInfo", "RunsError", "scan_runs", "read_run", "read_metrics", "find_run_folders", "default_folders",
           "is_run_folder", "read_run_meta", "set_run_meta", "delete_run", "clear_cache", "RUN_FORMAT", "is_locked"]
