"""cnn-studio summary of a project with blocks: the block tree, indented, with per-block totals."""
import json

from block_graphs import tiny_resnet

from cnn_studio.cli import main
from cnn_studio.core.analysis import analyze
from cnn_studio.core.project import save_project


def test_summary_prints_the_block_tree(tmp_path, capsys):
    g = tiny_resnet()
    path = save_project(g, tmp_path / "r.cnnstudio")
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    first = [line.split()[0] if line.strip() else "" for line in out]
    i = first.index("layer2")
    assert "Block Layer2" in out[i] and out[i].startswith("layer2 ")
    assert out[i + 1].startswith("  0 ") and "Block Basic8s2" in out[i + 1]
    assert out[i + 2].startswith("    conv1 ") and out[i + 3].startswith("    downsample ") and "Block Down8" in out[i + 3]
    assert out[i + 4].startswith("      0 ") and "Convolution" in out[i + 4] and "8x4x4" in out[i + 4]  # three levels in
    a = analyze(g)
    assert f"{a.nodes['layer1'].params:,}" in out[first.index("layer1")]
    assert f"{a.total_params:,} parameters" in "\n".join(out)
    assert main(["summary", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    layer2 = next(x for x in d["layers"] if x["id"] == "layer2")
    assert layer2["block"] == "Layer2" and [x["id"] for x in layer2["inner"]] == ["0", "1"]
    assert layer2["inner"][0]["inner"][-1]["id"] == "relu"
