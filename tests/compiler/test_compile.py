import pytest
import torch

from cnn_studio import compile_model, templates
from cnn_studio.compiler import module_name
from cnn_studio.core import Graph, GraphError
from cnn_studio.core.graph import chain


@pytest.mark.parametrize("nid", ["training", "forward", "cuda", "input_shape", "lambda", "eval", "graph_config"])
def test_node_ids_that_clash_with_module_attributes_compile(nid):
    g = Graph()
    chain(g, [("input", {"channels": 1, "height": 8, "width": 8}, "inp"), ("conv2d", {"out_channels": 2}, nid), ("flatten", {}), ("linear", {"out_features": 3}), ("cross_entropy", {})])
    m = compile_model(g)
    assert m(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    assert f"{module_name(nid)}.weight" in m.state_dict()
    assert isinstance(m.module_for(nid), torch.nn.Conv2d)


def test_state_dict_keys_are_a_pure_function_of_the_graph():
    a = compile_model(templates.build("resnet18", (3, 32, 32), 10))
    b = compile_model(templates.build("resnet18", (3, 32, 32), 10))
    assert list(a.state_dict()) == list(b.state_dict())
    assert "layer1_0_conv1.weight" in a.state_dict() and "fc.bias" in a.state_dict()
    b.load_state_dict(a.state_dict())


def test_invalid_graph_is_refused_with_every_issue():
    g = templates.build("lenet5")
    g.set_param("c1", "out_channels", 0)
    g.set_param("f6", "out_features", -1)
    with pytest.raises(GraphError) as e:
        compile_model(g)
    assert {i.node_id for i in e.value.issues} >= {"c1", "f6"}


def test_loss_comes_from_the_output_node():
    g = templates.build("mlp", (1, 8, 8), 4)
    g.set_param("loss", "label_smoothing", 0.1)
    loss = compile_model(g).make_loss()
    assert isinstance(loss, torch.nn.CrossEntropyLoss) and loss.label_smoothing == pytest.approx(0.1)
