"""``cnn-studio runs``, ``cnn-studio runs compare`` and ``cnn-studio report``: the runs list of the app's
Runs dock on the command line.

    cnn-studio runs [FOLDER ...] [--json]          every run, newest first (default: the studio home's runs)
    cnn-studio runs compare RUN RUN ... [--json]   settings and results side by side, differences marked
    cnn-studio report RUN -o report.html           one self-contained HTML file

Listing reads only the runs' small files (never a checkpoint); bad input exits 2 with one line.
"""
from __future__ import annotations

import json
import os

from .cli import UsageError


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "runs",
        help="list training runs (newest first), or compare runs: 'runs compare RUN RUN ...'",
        description="List the run folders in each FOLDER (a run folder itself, or a folder of runs; default: the studio "
        "home's runs), newest first, with their status, settings and results. 'cnn-studio runs compare RUN RUN ...' "
        "shows the settings and results of two or more runs side by side, the differences marked with '*', and how "
        "their networks differ.",
    )
    s.add_argument("folders", nargs="*", metavar="FOLDER", help="run folders or folders of runs ('compare' first: compare these runs)")
    s.add_argument("--project", metavar="FILE.cnnstudio", help="also list the runs of this project (its <name>_runs folder)")
    s.add_argument("--json", action="store_true", help="print JSON (a list of runs, or the comparison object)")
    s.set_defaults(func=cmd_runs)

    s = subparsers.add_parser(
        "report",
        help="write a one-file HTML report of a run (curves, network, confusion matrix, feature maps)",
        description="Write a self-contained HTML report of a run folder: settings and results, the network table, "
        "loss and accuracy curves, the per-class figures and confusion matrix the run stored, and a few feature maps "
        "of its best (else last) checkpoint.",
    )
    s.add_argument("run_dir", metavar="RUN", help="run folder written by 'cnn-studio train' or the app")
    s.add_argument("-o", "--output", required=True, metavar="REPORT.html", help="HTML file to write")
    s.add_argument("--no-feature-maps", action="store_true", help="leave out the feature maps (no checkpoint is loaded)")
    s.set_defaults(func=cmd_report)


# ---- runs -----------------------------------------------------------------------------------------
def _pct(v) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, float) else "-"


def _dur(v) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}s" if v < 120 else f"{v / 60:.1f}m" if v < 7200 else f"{v / 3600:.1f}h"


def _size(n) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}K" if n >= 1e3 else str(n)


def _clip(text: str, n: int) -> str:
    # one line of plain text: names and messages may hold newlines or terminal escape sequences
    text = " ".join("".join(c if c.isprintable() else "?" for c in str(text).replace("\n", " ")).split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _print_table(rows: list[list[str]], right: set[int] = frozenset()) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def cmd_runs(args) -> int:
    if args.folders and args.folders[0] == "compare":
        return cmd_compare(args.folders[1:], args.json)
    from .core.runs import default_folders, scan_runs

    if args.folders:
        for f in args.folders:
            if not os.path.isdir(f):
                raise UsageError(f"'{f}' is not a folder; give run folders or folders that hold runs")
        folders = list(args.folders)
        if args.project:
            folders.insert(0, default_folders(args.project)[0])
    else:
        folders = default_folders(args.project)
    infos = scan_runs(folders)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos]))
        return 0
    if not infos:
        print(f"no runs in {', '.join(str(f) for f in folders)}")
        return 0
    rows = [["Name", "Status", "Started", "Time", "Network", "Data", "Optimizer", "Epochs", "Best val", "Test", "Stop"]]
    for i in infos:
        rows.append([
            ("* " if i.star else "") + _clip(i.name, 40), _clip(i.status, 40), i.started_text[:16] or "-", _dur(i.duration),
            f"{_clip(i.network or '?', 20)} ({_size(i.params)})", _clip(i.dataset or "?", 20),
            f"{i.optimizer or '?'} lr={i.lr if i.lr is not None else '?'} b={i.batch_size or '?'}",
            f"{i.epochs_done if i.epochs_done is not None else '?'}/{i.epochs if i.epochs is not None else '?'}",
            _pct(i.best_val_accuracy), _pct(i.test_accuracy) + (f" ({i.test_weights})" if i.test_weights else ""),
            i.stop_text or "-",
        ])
    _print_table(rows, right={3, 7, 8})
    print(f"\n{len(infos)} run{'s' if len(infos) != 1 else ''}")
    return 0


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return "-"
    return _clip(v if isinstance(v, str) else json.dumps(v), 30)


def cmd_compare(paths: list[str], as_json: bool) -> int:
    from .core.runs import is_run_folder
    from .core.runs_compare import compare_runs, network_diff_lines

    if len(paths) < 2:
        raise UsageError("give at least two run folders: cnn-studio runs compare RUN RUN ...")
    for p in paths:
        if not is_run_folder(p):
            raise UsageError(f"'{p}' is not a run folder (no config.json or checkpoints/); give folders written by 'cnn-studio train' or the app")
    c = compare_runs(paths)
    if as_json:
        print(json.dumps(c))
        return 0
    head = [" ", "Setting"] + [_clip(r["name"], 30) for r in c["runs"]]
    rows = [head]
    for section in ("settings", "results"):
        for r in c[section]:
            rows.append(["*" if r["differs"] else " ", r["key"]] + [_cell(v) for v in r["values"]])
    _print_table(rows)
    print("\n* differs")
    base = c["runs"][0]["name"]
    for run, diff in zip(c["runs"][1:], c["networks"][1:]):
        print(f"\nnetwork of {run['name']} against {base}:")
        for line in network_diff_lines(diff):
            print(f"  {line}")
    return 0


# ---- report ---------------------------------------------------------------------------------------
def cmd_report(args) -> int:
    from .core.runs import is_run_folder

    if not is_run_folder(args.run_dir):
        raise UsageError(f"'{args.run_dir}' is not a run folder (no config.json or checkpoints/); give a folder written by 'cnn-studio train' or the app")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UsageError(f"cannot write '{args.output}': the folder '{out_dir}' does not exist")
    from .inspection.report import write_report

    path = write_report(args.run_dir, args.output, feature_maps=not args.no_feature_maps)
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KB)")
    return 0
