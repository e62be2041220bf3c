"""core/adapt.py: which nodes change to fit a network to a data set's shape and classes."""
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.core import templates
from cnn_studio.core.adapt import apply_adaptation, errors_after, plan_adaptation
from cnn_studio.core.analysis import analyze
from cnn_studio.core.graph import Graph, chain


def test_nothing_to_do_when_the_data_fits():
    g = templates.build("lenet5_relu", (3, 32, 32), 10)
    plan = plan_adaptation(g, (3, 32, 32), 10)
    assert not plan.needed and plan.changes == []


@settings(max_examples=25, deadline=None)
@given(c=st.sampled_from([1, 3]), h=st.integers(16, 80), w=st.integers(16, 80), classes=st.integers(2, 30))
def test_resnet_and_mlp_fit_any_data_shape(c, h, w, classes):
    for name in ("resnet18", "mlp"):
        g = templates.build(name, (3, 32, 32), 10)
        before = g.to_config()
        plan = plan_adaptation(g, (c, h, w), classes)
        assert g.to_config() == before  # planning does not touch the graph
        assert errors_after(g, plan) == []
        apply_adaptation(g, plan)
        a = analyze(g)
        assert a.ok and tuple(a.input_shape) == (c, h, w) and tuple(a.output_shape) == (classes,)
        changed = {ch.node_id for ch in plan.changes}
        assert changed <= {"input", "fc", "output"}


def test_describe_names_old_and_new_and_errors_after_are_reported():
    g = templates.build("lenet5_relu", (3, 32, 32), 10)
    plan = plan_adaptation(g, (1, 28, 28), 4)
    assert "3x32x32 -> 1x28x28" in plan.describe() and "10 -> 4" in plan.describe()
    # the template's own rule for 28x28 (C1 padded by 2) comes along, so the network stays valid
    assert "'c1' padding: 0 -> 2 (the lenet5_relu template's rule for a 1x28x28 input)" in plan.describe()
    assert errors_after(g, plan) == []
    # the user's own larger C3 kernel is kept: the map that becomes too small is reported
    g.set_config("c3", {**g.nodes["c3"].config, "kernel_size": 7})
    plan = plan_adaptation(g, (1, 28, 28), 4)
    assert "c3" not in {c.node_id for c in plan.changes} and any("c5" in e for e in errors_after(g, plan))


def test_a_template_rule_leaves_what_the_user_changed():
    g = templates.build("lenet5", (1, 32, 32), 10)
    g.set_config("c1", {**g.nodes["c1"].config, "padding": 1})  # the user's own choice
    plan = plan_adaptation(g, (1, 28, 28), 10)
    assert [(c.node_id, c.key) for c in plan.rule_changes] == []
    assert plan_adaptation(templates.build("lenet5", (1, 32, 32), 10), (1, 28, 28), 10).rule_changes[0].new == 2


def test_a_loss_not_fed_by_a_linear_layer_is_a_stated_problem():
    g = Graph("gap")
    chain(g, [("input", {"channels": 3, "height": 8, "width": 8}, "input"),
              ("conv2d", {"out_channels": 10, "kernel_size": 3}, "conv"), ("adaptive_avgpool2d", {"output_size": 1}, "gap"),
              ("flatten", {}, "flat"), ("cross_entropy", {}, "loss")])
    plan = plan_adaptation(g, (3, 8, 8), 4)
    assert plan.problems and "Fully connected" in plan.problems[0]
