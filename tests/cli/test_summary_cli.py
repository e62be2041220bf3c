import json
import subprocess
import sys

import pytest

from cnn_studio import save_project, templates
from cnn_studio.cli import main


def test_templates_lists_every_template(capsys):
    assert main(["templates"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == templates.names()


def test_summary_table_and_totals(capsys):
    assert main(["summary", "lenet5", "--input", "1x32x32", "--classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "c1" in out and "6x28x28" in out
    assert "61,706" in out


def test_summary_json_fields(capsys):
    assert main(["summary", "resnet18", "--input", "3x224x224", "--classes", "1000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["trainable_params"] == 11_689_512
    assert d["output_shape"] == [1000]
    layer = next(l for l in d["layers"] if l["id"] == "conv1")
    assert layer["type"] == "conv2d" and layer["output_shape"] == [64, 112, 112] and layer["receptive_field"] == [7, 7]
    assert d["total_macs"] == sum(l["macs"] for l in d["layers"])


def test_summary_of_project_file(tmp_path, capsys):
    path = save_project(templates.build("tinyvgg", (3, 32, 32), 4), tmp_path / "t.cnnstudio")
    assert main(["summary", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output_shape"] == [4]


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["summary", "nonexistent_net"], "neither a template"),
        (["summary", "lenet5", "--input", "3x32"], "CxHxW"),
        (["summary", "missing.cnnstudio"], "does not exist"),
        (["summary", "alexnet", "--input", "3x32x32"], "alexnet needs an input of at least 63x63"),
        (["summary"], "MODEL"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any(fragment in line for line in err)
    assert not any("Traceback" in line for line in err)


def test_corrupt_project_file(tmp_path, capsys):
    bad = tmp_path / "bad.cnnstudio"
    bad.write_text('{"format": "cnn-studio", "version": 2, "nodes": [')
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "truncated" in err


def test_python_dash_m_behaves_the_same():
    r = subprocess.run([sys.executable, "-m", "cnn_studio", "summary", "mlp", "--json"], capture_output=True, text=True)
    assert r.returncode == 0
    assert json.loads(r.stdout)["total_params"] > 1_000_000
    r = subprocess.run([sys.executable, "-m", "cnn_studio", "summary", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_a_network_nothing_can_be_worked_out_for_prints_only_the_reasons(capsys):
    """QA item 14: an input too large for every layer gave a table of '?' rows and 'Parameters: 0' beside the errors."""
    assert main(["summary", "lenet5_relu", "--input", "3x99999x99999"]) == 2
    captured = capsys.readouterr()
    assert "must be at most 8192" in captured.err
    assert "?" not in captured.out and "Parameters" not in captured.out
