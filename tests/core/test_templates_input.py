"""Every template either fits an input with its stated rule (the analysis is ok) or refuses it with
one message naming the smallest input it fits; never a silent, absurd padding."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.core import templates
from cnn_studio.core.analysis import analyze
from cnn_studio.core.errors import StudioError


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(templates.names()), c=st.sampled_from([1, 3]),
       h=st.integers(1, 260), w=st.integers(1, 260), classes=st.integers(2, 50))
def test_template_fits_or_names_its_minimum(name, c, h, w, classes):
    t = templates.get(name)
    if min(h, w) < t.min_size:
        with pytest.raises(templates.TemplateInputError) as e:
            templates.build(name, (c, h, w), classes)
        msg = str(e.value)
        assert f"at least {t.min_size}x{t.min_size}" in msg and f"{c}x{h}x{w}" in msg and name in msg
        return
    g = templates.build(name, (c, h, w), classes)
    a = analyze(g)
    assert a.ok, (name, (c, h, w), [str(x) for x in a.errors])
    assert tuple(a.input_shape) == (c, h, w)


@pytest.mark.parametrize("name", templates.names())
def test_stated_minimum_is_tight(name):
    """The minimum is the real one: the template builds a valid graph there (and not below)."""
    t = templates.get(name)
    assert t.fit_rule
    assert analyze(templates.build(name, (3, t.min_size, t.min_size), 10)).ok
    if t.min_size > 1:
        with pytest.raises(StudioError):
            templates.build(name, (3, t.min_size - 1, t.min_size + 5), 10)


def test_lenet5_pads_by_the_stated_rule_only():
    def pad(shape):
        return templates.build("lenet5", shape, 10).nodes["c1"].config.get("padding", 0)

    assert pad((1, 28, 28)) == 2  # the paper's 28x28 digits
    assert pad((3, 32, 32)) == 0 and pad((3, 64, 48)) == 0
    assert pad((1, 16, 16)) == 8
    with pytest.raises(templates.TemplateInputError, match="at least 16x16"):
        templates.build("lenet5", (1, 4, 4), 10)  # used to pad C1 by 14


def test_malformed_shape_is_refused():
    for bad in [(3, 32), (0, 32, 32), (3, 32.0, 32), (True, 32, 32)]:
        with pytest.raises(templates.TemplateInputError, match="three positive whole numbers"):
            templates.build("mlp", bad, 10)


def test_first_run_template_is_lenet5_with_relu_and_max_pooling():
    """lenet5_relu keeps LeNet-5's layers, ids and parameters; only activations and pools differ."""
    base = templates.build("lenet5", (3, 32, 32), 10)
    relu = templates.build("lenet5_relu", (3, 32, 32), 10)
    assert list(base.nodes) == list(relu.nodes) and len(base.edges) == len(relu.edges)
    assert analyze(base).total_params == analyze(relu).total_params
    changed = {n: (base.nodes[n].type, relu.nodes[n].type) for n in base.nodes if base.nodes[n].type != relu.nodes[n].type}
    assert changed == {"c1_act": ("tanh", "relu"), "c3_act": ("tanh", "relu"), "c5_act": ("tanh", "relu"), "f6_act": ("tanh", "relu"),
                       "s2": ("avgpool2d", "maxpool2d"), "s4": ("avgpool2d", "maxpool2d")}


def test_class_count_below_two_is_refused():
    with pytest.raises(templates.TemplateInputError, match="at least 2"):
        templates.build("lenet5", (1, 28, 28), 1)
