"""ONNX at the default opset for networks opset 17 cannot express: AlexNet and VGG at small inputs
end in adaptive average pooling that enlarges the map (1x1 -> 6x6 or 7x7), which the TorchScript
exporter refuses at opset 17. The default falls back to opset 18 (dynamo exporter) and says so in
one line; an explicit opset 17 gives one line naming the fix, and never the exporter's IR dump. The
file imports back as the same network (test_onnx_import_roundtrip.py checks them at 224x224)."""
import numpy as np
import pytest
import torch

from cnn_studio.compiler.export import ExportError, export, source_from_graph
from cnn_studio.compiler.importer import canonical_structure
from cnn_studio.compiler.onnx_import import import_onnx
from cnn_studio.core import templates

from onnx_helpers import narrow, without_dropout

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.mark.parametrize("name,shape", [("alexnet", (3, 64, 64)), ("vgg11", (3, 32, 32))])
def test_default_opset_exports_alexnet_and_vgg_at_small_inputs(tmp_path, capfd, name, shape):
    g = narrow(name, shape)
    pool = next(n for n in g.nodes.values() if n.type == "adaptive_avgpool2d")
    assert g.in_edges(pool.id)  # the construct opset 17 cannot express is there
    src = source_from_graph(g)
    res = export(src, "onnx", tmp_path / "m.onnx")
    assert "ONNX opset 18, dynamo exporter" in res.notes[1]
    assert res.notes[2].startswith("opset 17 cannot express this network (") and "adaptive_avg_pool2d" in res.notes[2]
    out, err = capfd.readouterr()
    assert "Torch IR" not in out + err and "graph(" not in out + err
    sess = ort.InferenceSession(str(res.files[0]), providers=["CPUExecutionProvider"])
    model = src.model()
    for batch in (1, 2):
        x = torch.randn(batch, *shape)
        got = sess.run(["logits"], {"input": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        assert got.shape == (batch, 3)
        assert np.abs(got - want).max() < 1e-4
    imp = import_onnx(res.files[0], design=False)  # the round trip at this size: checked against onnxruntime too
    assert canonical_structure(imp.graph) == canonical_structure(without_dropout(g))


def test_explicit_opset_17_names_the_fix_in_one_line(tmp_path, capfd):
    src = source_from_graph(narrow("vgg11", (3, 32, 32)))
    with pytest.raises(ExportError) as e:
        export(src, "onnx", tmp_path / "m.onnx", opset=17)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    assert "opset 17 cannot express this network" in msg and "--opset 18" in msg
    out, err = capfd.readouterr()
    assert "Torch IR" not in out + err and out.count("\n") < 3
    assert not list(tmp_path.iterdir())  # nothing half-written is left


def test_networks_opset_17_can_express_stay_at_17(tmp_path):
    res = export(source_from_graph(templates.build("lenet5", (1, 32, 32), 10)), "onnx", tmp_path / "m.onnx")
    assert "ONNX opset 17, torchscript exporter" in res.notes[1] and len(res.notes) == 2
