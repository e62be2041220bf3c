"""`cnn-studio runs`, `runs compare` and `report` (issue 12) on real runs written by `cnn-studio train`,
broken folders, and a run with hostile names (the report escapes every user string)."""
import json
from html.parser import HTMLParser

import pytest

from cnn_studio.cli import main
from cnn_studio.core import runs

DATA = "shapes:train=120,test=30,size=16"
COMMON = ["--data", DATA, "--batch-size", "32", "--device", "cpu", "--seed", "1"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("runs_cli_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_STUDIO_HOME", str(home))
    try:
        root = home / "runs"
        assert main(["train", "tinyvgg", *COMMON, "--epochs", "1", "--out", str(root / "first")]) == 0
        assert main(["train", "tinyvgg", *COMMON, "--epochs", "2", "--lr", "0.01", "--out", str(root / "second")]) == 0
    finally:
        mp.undo()
    return home, root


@pytest.fixture(autouse=True)
def _home(two_runs, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_HOME", str(two_runs[0]))


def test_runs_lists_the_home_runs_by_default_as_json(two_runs, capsys):
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["folder"] for r in listed) == ["first", "second"]
    by = {r["folder"]: r for r in listed}
    assert by["second"]["epochs_done"] == 2 and by["second"]["lr"] == 0.01 and by["first"]["status"] == "finished"
    assert by["first"]["network"] and by["first"]["params"] > 0


def test_runs_table_names_each_run_and_a_broken_one(two_runs, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    capsys.readouterr()
    assert main(["runs", str(two_runs[1]), str(broken)]) == 0
    out = capsys.readouterr().out
    assert "first" in out and "second" in out and "corrupt: config.json is not valid JSON" in out
    assert "3 runs" in out


def test_bad_folders_are_one_line_and_exit_2(tmp_path, capsys):
    capsys.readouterr()
    assert main(["runs", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a folder" in err
    assert main(["runs", "compare", str(tmp_path), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a run folder" in err
    assert main(["runs", "compare", str(tmp_path)]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_an_empty_folder_says_there_are_no_runs(tmp_path, capsys):
    capsys.readouterr()
    assert main(["runs", str(tmp_path)]) == 0
    assert "no runs in" in capsys.readouterr().out


def test_compare_json_and_text_mark_the_differences(two_runs, capsys):
    root = two_runs[1]
    capsys.readouterr()
    assert main(["runs", "compare", str(root / "first"), str(root / "second"), "--json"]) == 0
    c = json.loads(capsys.readouterr().out)
    rows = {r["key"]: r for r in c["settings"] + c["results"]}
    assert rows["train.lr"]["differs"] and rows["train.epochs"]["values"] == [1, 2]
    assert not rows["train.batch_size"]["differs"] and not c["networks_differ"]
    assert main(["runs", "compare", str(root / "first"), str(root / "second")]) == 0
    out = capsys.readouterr().out
    lr_line = next(line for line in out.splitlines() if "train.lr" in line)
    bs_line = next(line for line in out.splitlines() if "train.batch_size" in line)
    assert lr_line.startswith("*") and not bs_line.startswith("*")
    assert "same network" in out


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = set(), [], []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [k for k, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


ALLOWED = {"html", "div", "ul", "li", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th",
           "td", "svg", "text", "line", "rect", "polyline", "circle", "figure", "img", "figcaption"}
HOSTILE = '<script>alert("x")</script>'
HOSTILE2 = "\"><img src=x onerror=alert(1)>'"


def test_report_is_self_contained_and_escapes_hostile_names(two_runs, tmp_path, capsys):
    import shutil

    run = tmp_path / "hostile"
    shutil.copytree(two_runs[1] / "second", run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["graph"]["name"] = HOSTILE
    cfg["class_names"] = [HOSTILE2 if i == 0 else f"{HOSTILE}{i}" for i in range(len(cfg["class_names"]))]
    cfg["train"]["optimizer"] = HOSTILE
    (run / "config.json").write_text(json.dumps(cfg))
    summary = json.loads((run / "summary.json").read_text())
    summary["notes"] = [HOSTILE, 5]
    (run / "summary.json").write_text(json.dumps(summary))
    runs.set_run_meta(run, name=HOSTILE2, note=HOSTILE + "\n" + HOSTILE2)
    out = tmp_path / "report.html"
    capsys.readouterr()
    assert main(["report", str(run), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert HOSTILE not in text and HOSTILE2 not in text and "<script" not in text.lower()
    p = _Tags()
    p.feed(text)
    assert p.tags <= ALLOWED, p.tags - ALLOWED
    assert not [a for a in p.attrs if a.lower().startswith("on")]
    shown = "".join(p.text)
    assert HOSTILE in shown and HOSTILE2 in shown  # shown as text, unescaped by the parser
    # self-contained: no link to anything outside the file
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    assert text.count("data:image/png;base64,") >= 2  # the input and at least one feature map
    assert "<polyline" in text  # the curves
    assert "Confusion matrix (test)" in text and "Precision" in text and "What the trainer noted" in text


def test_report_without_feature_maps_and_of_a_run_without_metrics(two_runs, tmp_path):
    import shutil

    run = tmp_path / "bare"
    shutil.copytree(two_runs[1] / "first", run)
    (run / "metrics.csv").unlink()
    (run / "summary.json").unlink()
    shutil.rmtree(run / "checkpoints")
    out = tmp_path / "r.html"
    assert main(["report", str(run), "-o", str(out)]) == 0
    text = out.read_text()
    assert "no epochs recorded" in text and "stored no evaluation" in text and "Feature maps" in text and "Not available" in text
    assert main(["report", str(run), "-o", str(out), "--no-feature-maps"]) == 0
    assert "Feature maps" not in out.read_text()


def test_line_chart_draws_each_series_and_survives_nan():
    from cnn_studio.inspection.report import line_chart

    svg = line_chart([("a<b", [(1, 0.5), (2, float("nan")), (3, 0.25)]), ("c", [(1, 1.0)])], "T & t", "y")
    assert svg.count("<polyline") == 2 and "a&lt;b" in svg and "T &amp; t" in svg and "nan" not in svg


def test_names_with_terminal_escapes_print_as_plain_text(two_runs, tmp_path, capsys):
    import shutil

    run = tmp_path / "esc"
    shutil.copytree(two_runs[1] / "first", run)
    runs.set_run_meta(run, name="evil\x1b[2Jname\x07")
    capsys.readouterr()
    assert main(["runs", str(run)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "evil?[2Jname?" in out


def test_project_option_adds_the_projects_runs(two_runs, tmp_path, capsys):
    import shutil

    shutil.copytree(two_runs[1] / "first", tmp_path / "net_runs" / "p1")
    capsys.readouterr()
    assert main(["runs", "--project", str(tmp_path / "net.cnnstudio"), "--json"]) == 0
    assert sorted(r["folder"] for r in json.loads(capsys.readouterr().out)) == ["first", "p1", "second"]


def test_report_of_a_corrupt_or_newer_run_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_bytes(b"\x00\xffgarbage")
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "config.json").write_text(json.dumps({"run_format": 7, "graph": {}}))
    for run, why in ((bad, "config.json is not text"), (newer, "update CNN Studio")):
        capsys.readouterr()
        assert main(["report", str(run), "-o", str(tmp_path / "r.html")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and why in err
    assert not (tmp_path / "r.html").exists()
    assert main(["report", str(bad), "-o", str(tmp_path / "no" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
