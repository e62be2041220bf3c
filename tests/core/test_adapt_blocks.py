"""core/adapt.py with the class layer inside a block: the Fully connected layer feeding the loss is
found through block instances (nested too), its change names the definition and the path, applying
it sets the definition's node, and a definition other instances share is refused as a problem."""
from cnn_studio.core import blocks
from cnn_studio.core.adapt import apply_adaptation, class_layer, errors_after, find_class_layer, plan_adaptation
from cnn_studio.core.analysis import analyze
from cnn_studio.core.graph import Graph, chain


def head_graph(classes: int = 10, nested: bool = False) -> Graph:
    """input -> conv -> relu -> pool -> flatten -> classifier [dropout '0' -> linear '1'] -> loss; with
    ``nested`` the classifier sits inside a 'Top' block as its inner 'head'."""
    g = Graph("head")
    g.add_node("input", {"channels": 1, "height": 8, "width": 8}, node_id="input")
    last = chain(g, [("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv"), ("relu", {}, "relu"),
                     ("maxpool2d", {"kernel_size": 2}, "pool"), ("flatten", {}, "flatten")], "input")
    inner = blocks.new_inner_graph(g)
    chain(inner, [("dropout", {"p": 0.2}, "0"), ("linear", {"out_features": classes}, "1")])
    blocks.define(g, "Classifier", inner, [[("0", 0)]], "1")
    name = "Classifier"
    if nested:
        top = blocks.new_inner_graph(g)
        top.add_node("block", {"block": "Classifier"}, node_id="head")
        blocks.define(g, "Top", top, [[("head", 0)]], "head")
        name = "Top"
    blocks.instantiate(g, name, "classifier")
    g.connect(last, "classifier")
    g.add_node("cross_entropy", {}, node_id="loss")
    g.connect("classifier", "loss")
    return g


def test_the_class_layer_inside_a_block_is_found_and_set():
    g = head_graph()
    assert class_layer(g) is None  # not a top-level Linear
    assert find_class_layer(g) == ("1", [("classifier", "Classifier")])
    before = g.to_config()
    plan = plan_adaptation(g, (1, 8, 8), 4)
    assert g.to_config() == before and plan.problems == [] and plan.classes == 10 and plan.classes_differ
    assert plan.configs(g) == {}  # nothing at the top level changes
    assert plan.inner_configs(g) == {("Classifier", "1"): {**g.blocks["Classifier"].graph.nodes["1"].config, "out_features": 4}}
    assert "'classifier/1' outputs: 10 -> 4 (the data's classes)" in plan.describe()
    assert errors_after(g, plan) == []
    apply_adaptation(g, plan)
    a = analyze(g)
    assert a.ok and tuple(a.output_shape) == (4,)
    assert not plan_adaptation(g, (1, 8, 8), 4).needed


def test_a_nested_class_layer_and_an_input_change_together():
    g = head_graph(nested=True)
    assert find_class_layer(g) == ("1", [("classifier", "Top"), ("head", "Classifier")])
    plan = plan_adaptation(g, (3, 12, 12), 7)
    assert {(c.node_id, c.key, c.block) for c in plan.changes} == {
        ("input", "channels", None), ("input", "height", None), ("input", "width", None), ("1", "out_features", "Classifier")}
    assert "'classifier/head/1' outputs: 10 -> 7" in plan.describe()
    apply_adaptation(g, plan)
    a = analyze(g)
    assert a.ok and tuple(a.input_shape) == (3, 12, 12) and tuple(a.output_shape) == (7,)


def test_a_shared_classifier_definition_is_a_problem_not_an_edit():
    g = head_graph()
    blocks.instantiate(g, "Classifier", "spare")  # a second instance of the same definition
    plan = plan_adaptation(g, (1, 8, 8), 4)
    assert plan.changes == [] and len(plan.problems) == 1
    assert "inside block 'Classifier', which 2 instances share" in plan.problems[0] and "Make unique" in plan.problems[0]
    assert g.blocks["Classifier"].graph.nodes["1"].config["out_features"] == 10


def test_a_block_ending_in_something_else_is_still_no_class_layer():
    g = head_graph()
    inner = g.blocks["Classifier"].graph
    inner.add_node("relu", {}, node_id="2")
    inner.connect("1", "2")
    blocks.set_ports(g, "Classifier", [[("0", 0)]], "2")
    assert find_class_layer(g) is None
    plan = plan_adaptation(g, (1, 8, 8), 4)
    assert plan.problems and "not fed by a Fully connected layer" in plan.problems[0]


def test_mobilenet_v2_template_gets_its_classifier_block_set():
    from cnn_studio.core import templates

    g = templates.build("mobilenet_v2", (3, 32, 32), 10)
    plan = plan_adaptation(g, (3, 32, 32), 4)
    assert plan.problems == [] and [(c.path, c.new) for c in plan.changes] == [("classifier/1", 4)]
    apply_adaptation(g, plan)
    a = analyze(g)
    assert a.ok and tuple(a.output_shape) == (4,)
