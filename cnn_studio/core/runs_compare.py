"""Compare runs side by side: settings and results, the differing keys marked, and how the networks
differ (layers added or removed, parameters of common layers changed). Standard library only: it reads
config.json of each run (never a checkpoint), like the listing in :mod:`core.runs`.

The first run is the baseline of the network diff; each other run is compared with it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .runs import RunInfo, RunsError, _Bad, _read_json, is_run_folder, read_run

#: result columns, in display order (RunInfo attributes)
RESULT_KEYS = ("status", "epochs_done", "best_val_accuracy", "best_epoch", "final_val_accuracy", "test_accuracy",
               "test_weights", "duration", "stop_reason")
#: leading settings, in display order; the rest of train.* and data.* follow sorted
_FIRST = ("network", "params", "dataset", "train.optimizer", "train.lr", "train.batch_size", "train.epochs",
          "train.schedule", "train.weight_decay", "train.seed")
_SKIP = {"cnn_studio_version", "torch_version", "python_version", "created", "graph", "name", "class_names", "mean",
         "std", "run_format"}


def _flatten(prefix: str, value, out: dict, depth: int = 0) -> None:
    if isinstance(value, dict) and depth < 4:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out, depth + 1)
    else:
        out[prefix] = value


def _json_value(v):
    """Only JSON-able, comparable values (others as their text)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    try:
        return json.loads(json.dumps(v))
    except (TypeError, ValueError, RecursionError):
        return repr(v)


def _config(info: RunInfo) -> dict:
    try:
        return _read_json(Path(info.path) / "config.json", "config.json") or {}
    except _Bad:
        return {}


def _settings(info: RunInfo, config: dict) -> dict:
    out: dict = {"network": info.network, "params": info.params, "dataset": info.dataset}
    for key, value in config.items():
        if key in _SKIP:
            continue
        _flatten(key, value, out)
    return {k: _json_value(v) for k, v in out.items()}


def _rows(dicts: list[dict], first: Iterable[str] = ()) -> list[dict]:
    keys = [k for k in first if any(k in d for d in dicts)]
    rest = sorted({k for d in dicts for k in d} - set(keys))
    rows = []
    for k in keys + rest:
        values = [d.get(k) for d in dicts]
        rows.append({"key": k, "values": values, "differs": len({json.dumps(v, sort_keys=True) for v in values}) > 1})
    return rows


# ---- networks ------------------------------------------------------------------------------------
def _nodes(graph) -> tuple[dict[str, tuple[str, dict]], set[tuple]]:
    """{id: (type, config)} (the canonical config from the analysis when the network analyses, so
    that a default written out and one left out compare equal) and the set of edges."""
    nodes: dict[str, tuple[str, dict]] = {}
    edges: set[tuple] = set()
    if not isinstance(graph, dict):
        return nodes, edges
    for n in graph.get("nodes") or []:
        if isinstance(n, dict) and isinstance(n.get("id"), str):
            cfg = n.get("config") if isinstance(n.get("config"), dict) else {}
            nodes[n["id"]] = (str(n.get("type")), dict(cfg))
    for e in graph.get("edges") or []:
        try:
            (s, sp), (d, dp) = e["src"], e["dst"]
            edges.add((str(s), int(sp), str(d), int(dp)))
        except (TypeError, ValueError, KeyError):
            continue
    try:
        from .analysis import analyze
        from .project import FORMAT, VERSION, document_to_graph

        a = analyze(document_to_graph({**graph, "format": FORMAT, "version": VERSION}, source="the run's network"))
        for nid, ni in a.nodes.items():
            if nid in nodes and isinstance(ni.config, dict) and ni.config:
                nodes[nid] = (nodes[nid][0], dict(ni.config))
    except Exception:  # not analysable: compare the configs as written
        pass
    return nodes, edges


def network_diff(graph_a, graph_b) -> dict:
    """How network ``b`` differs from ``a`` (config.json graphs): layers added and removed (id and
    type), layers whose type changed, parameters of common layers that differ, connections added and
    removed. ``same`` is True when nothing differs."""
    na, ea = _nodes(graph_a)
    nb, eb = _nodes(graph_b)
    added = [{"id": i, "type": nb[i][0]} for i in nb if i not in na]
    removed = [{"id": i, "type": na[i][0]} for i in na if i not in nb]
    retyped, changed = [], []
    for i in na:
        if i not in nb:
            continue
        (ta, ca), (tb, cb) = na[i], nb[i]
        if ta != tb:
            retyped.append({"id": i, "from": ta, "to": tb})
            continue
        for k in sorted(set(ca) | set(cb), key=str):
            va, vb = _json_value(ca.get(k)), _json_value(cb.get(k))
            if va != vb:
                changed.append({"id": i, "type": ta, "param": str(k), "a": va, "b": vb})
    fmt = lambda e: f"{e[0]}:{e[1]} -> {e[2]}:{e[3]}"  # noqa: E731
    edges_added = sorted(fmt(e) for e in eb - ea)
    edges_removed = sorted(fmt(e) for e in ea - eb)
    same = not (added or removed or retyped or changed or edges_added or edges_removed)
    return {"same": same, "added": added, "removed": removed, "retyped": retyped, "changed": changed,
            "edges_added": edges_added, "edges_removed": edges_removed}


def network_diff_lines(diff: dict) -> list[str]:
    """The diff as short lines for people ("+ conv3 (conv2d)", "conv1.out_channels: 16 -> 32")."""
    if diff.get("same"):
        return ["same network"]
    out = [f"+ {d['id']} ({d['type']})" for d in diff["added"]]
    out += [f"- {d['id']} ({d['type']})" for d in diff["removed"]]
    out += [f"~ {d['id']}: {d['from']} -> {d['to']}" for d in diff["retyped"]]
    out += [f"{d['id']}.{d['param']}: {d['a']!r} -> {d['b']!r}" for d in diff["changed"]]
    out += [f"+ edge {e}" for e in diff["edges_added"]]
    out += [f"- edge {e}" for e in diff["edges_removed"]]
    return out


# ---- runs ----------------------------------------------------------------------------------------
def compare_runs(runs: Iterable[RunInfo | str | os.PathLike]) -> dict:
    """Settings and results of ``runs`` (RunInfos or run folders) side by side.

    Returns ``{"runs": [{path, name, status}], "settings": rows, "results": rows, "networks": [diff of
    each run's network against the first run's]}``; a row is ``{"key", "values" (one per run),
    "differs"}``. RunsError when fewer than two runs are given or a path is not a run folder."""
    infos: list[RunInfo] = []
    for r in runs:
        if isinstance(r, RunInfo):
            infos.append(r)
            continue
        if not is_run_folder(r):
            raise RunsError(f"'{r}' is not a run folder (no config.json or checkpoints/); give run folders to compare")
        infos.append(read_run(r))
    if len(infos) < 2:
        raise RunsError("give at least two runs to compare")
    configs = [_config(i) for i in infos]
    settings = _rows([_settings(i, c) for i, c in zip(infos, configs)], _FIRST)
    results = _rows([{k: _json_value(getattr(i, k)) for k in RESULT_KEYS} for i in infos], RESULT_KEYS)
    base = configs[0].get("graph")
    networks = [network_diff(base, c.get("graph")) for c in configs]
    return {
        "runs": [{"path": i.path, "name": i.name, "status": i.status} for i in infos],
        "settings": settings,
        "results": results,
        "networks": networks,
        "networks_differ": any(not d["same"] for d in networks[1:]),
    }
