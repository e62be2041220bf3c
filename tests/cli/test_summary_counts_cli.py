"""`cnn-studio summary PROJECT` counts frozen layers apart, as the app and `train` do (QA defect 3),
and names every part of the total (QA defect 10): text and --json (``frozen_params``)."""
import json

from cnn_studio import save_project, templates
from cnn_studio.cli import main
from cnn_studio.core import block_edit


def _project(tmp_path):
    g = templates.build("resnet34", (3, 32, 32), 10)
    c = block_edit.add_inner_node(g, "Basic64", "conv2d", {"out_channels": 64, "padding": 1})
    block_edit.disconnect_inner(g, "Basic64", "relu1", "conv2")
    block_edit.connect_inner(g, "Basic64", "relu1", c)
    block_edit.connect_inner(g, "Basic64", c, "conv2")
    g.blocks["Basic64"].graph.set_node_training(c, frozen=True)  # 3 uses: 3 x 36,928 frozen
    return save_project(g, tmp_path / "net.cnnstudio")


def test_summary_text_names_trainable_frozen_and_buffers(tmp_path, capsys):
    path = _project(tmp_path)
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "21,417,610 parameters: 21,289,802 trainable, 110,784 frozen, 17,024 buffers (running statistics)" in out
    assert "non-trainable" not in out


def test_summary_json_has_frozen_params_and_parts_add_up(tmp_path, capsys):
    path = _project(tmp_path)
    assert main(["summary", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["trainable_params"], d["frozen_params"], d["non_trainable_params"]) == (21_289_802, 110_784, 17_024)
    assert d["trainable_params"] + d["frozen_params"] + d["non_trainable_params"] == d["total_params"] == 21_417_610


def test_summary_of_a_network_without_frozen_layers(capsys):
    assert main(["summary", "lenet5", "--input", "1x32x32", "--classes", "10", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["frozen_params"] == 0 and d["trainable_params"] == d["total_params"] == 61_706
    assert main(["summary", "lenet5", "--input", "1x32x32", "--classes", "10"]) == 0
    assert "61,706 parameters, all trainable" in capsys.readouterr().out
