"""A strict --init-from that does not fit (QA defect 8: a 3-class run's weights, a 10-class network):
the key report printed first does not claim that anything is "left at their initial values" (nothing
is loaded), and the refusal names the command line's way out (--init-partial) only; with
--init-partial the report does say which layers keep their initial values."""
import pytest
import torch

from cnn_studio.cli import main
from cnn_studio.compiler import compile_model
from cnn_studio.core.templates import build as build_template
from cnn_studio.training.init_weights import InitWeightsMismatch, apply_init_weights, init_report

DATA = "shapes:train=64,test=16,size=16"
BASE = ["--data", DATA, "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--threads", "1", "--layer-stats-every", "0"]


def _three_class_weights(tmp_path, run=False):
    """lenet5's weights with a 3-class classifier (another run's, say): of a 1-epoch run of the
    command line's network (``run``), else of the template as it is."""
    if run:
        assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "src")]) == 0
        state = torch.load(tmp_path / "src" / "checkpoints" / "last.pt", weights_only=True)["model"]
    else:
        state = compile_model(build_template("lenet5")).state_dict()
    state["output.weight"], state["output.bias"] = state["output.weight"][:3].clone(), state["output.bias"][:3].clone()
    path = tmp_path / "three.pt"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def three_run(tmp_path_factory):
    """One 1-epoch run's weights, cut to 3 classes, for both command-line tests."""
    return _three_class_weights(tmp_path_factory.mktemp("three"), run=True)


def test_strict_refusal_says_nothing_was_left_and_names_only_the_flag(tmp_path, capsys, three_run):
    three = three_run
    assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "x"), "--init-from", str(three)]) == 2
    cap = capsys.readouterr()
    assert "output.weight: file 3x84, network 10x84" in cap.out  # the report still lists the keys
    assert "left at their initial values" not in cap.out
    err = [line for line in cap.err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("cnn-studio: error: cannot start from these weights")
    assert "nothing was loaded" in err[0] and "--init-partial" in err[0]
    assert "init_partial" not in err[0] and "Initialise from weights" not in err[0]  # no other front end's name
    assert "Traceback" not in cap.err and not (tmp_path / "x").exists()


def test_partial_report_says_what_keeps_its_initial_values(tmp_path, capsys, three_run):
    three = three_run
    assert main(["train", "lenet5", *BASE, "--out", str(tmp_path / "y"), "--init-from", str(three), "--init-partial"]) == 0
    out = capsys.readouterr().out
    assert "another shape (left at their initial values):" in out and "output.weight: file 3x84, network 10x84" in out


def test_report_lines_and_refusal_per_front_end(tmp_path):
    three = _three_class_weights(tmp_path)
    graph = build_template("lenet5")
    rep = init_report(graph, three)
    assert any(line.startswith("another shape (left at their initial values)") for line in rep.lines())
    strict = rep.lines(partial=False)
    assert "another shape:" in strict and not any("initial values" in line for line in strict)
    model = compile_model(graph)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        apply_init_weights(model, three)
    except InitWeightsMismatch as e:
        api, cli, app = str(e), e.for_front_end("cli"), e.for_front_end("app")
    else:
        raise AssertionError("a 3-class file was loaded strictly into a 10-class network")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing was loaded
    assert "init_partial" in api and "--init-partial" not in api
    assert "--init-partial" in cli and "init_partial" not in cli.replace("--init-partial", "")
    assert "Network > Initialise from weights" in app and "init-partial" not in app and "init_partial" not in app
    for text in (api, cli, app):
        assert "output.weight" in text and "\n" not in text
    # nothing fits at all: even a partial report says nothing is left anywhere
    other = tmp_path / "other.pt"
    torch.save({"a.weight": torch.zeros(2, 2)}, other)
    assert not any("initial values" in line for line in init_report(graph, other).lines())
