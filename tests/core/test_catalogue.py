import pytest

from cnn_studio.core import layers
from cnn_studio.core.errors import LayerError
from cnn_studio.core.layers import CATEGORIES, Param, all_specs, get_spec

SEED_LAYERS = {
    "input", "conv2d", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "relu", "leaky_relu", "tanh",
    "sigmoid", "gelu", "elu", "silu", "softmax", "batchnorm2d", "batchnorm1d", "dropout", "dropout2d",
    "flatten", "linear", "add", "concat", "cross_entropy", "mse",
}


def test_every_required_layer_is_registered():
    ids = {s.type_id for s in all_specs()}
    assert SEED_LAYERS <= ids


def test_every_spec_teaches_and_has_valid_defaults():
    for spec in all_specs():
        assert spec.category in CATEGORIES
        assert len(spec.help) > 40, spec.type_id
        cfg, errors = spec.check_config({})
        assert errors == [], spec.type_id
        for p in spec.params:
            assert p.help, (spec.type_id, p.name)


def test_every_layer_type_has_a_torch_builder():
    from cnn_studio.compiler import BUILDERS, LOSS_TYPES

    for spec in all_specs():
        assert spec.type_id in BUILDERS or spec.type_id in LOSS_TYPES, spec.type_id


def test_duplicate_registration_is_refused():
    spec = get_spec("relu")
    with pytest.raises(ValueError, match="registered twice"):
        layers.register(spec)


def test_in_channels_and_in_features_are_never_parameters():
    assert "in_channels" not in {p.name for p in get_spec("conv2d").params}
    assert "in_features" not in {p.name for p in get_spec("linear").params}


@pytest.mark.parametrize(
    "param,value,expected",
    [
        (Param("k", "pair", 3, "h", 1, 9), [3, 3], 3),
        (Param("k", "pair", 3, "h", 1, 9), [3, 5], [3, 5]),
        (Param("k", "pair", 3, "h", 1, 9), 4.0, 4),
        (Param("p", "padding", 0, "h", 0, 9, choices=("same", "valid")), "same", "same"),
        (Param("f", "float", 0.5, "h", 0, 1), 1, 1.0),
        (Param("s", "pair", None, "h", 1, 9, optional=True), None, None),
    ],
)
def test_param_canonical_values(param, value, expected):
    assert param.check(value) == expected


@pytest.mark.parametrize(
    "param,value,fragment",
    [
        (Param("k", "pair", 3, "h", 1, 9), 0, "at least 1"),
        (Param("k", "pair", 3, "h", 1, 9), [1, 2, 3], "two [h, w]"),
        (Param("k", "int", 3, "h", 1, 9), 2.5, "whole number"),
        (Param("k", "int", 3, "h", 1, 9), True, "whole number"),
        (Param("f", "float", 0.5, "h", 0, 1), float("nan"), "number"),
        (Param("f", "float", 0.5, "h", 0, 1), 2, "at most 1"),
        (Param("c", "choice", "a", "h", choices=("a", "b")), "z", "not one of a, b"),
        (Param("p", "padding", 0, "h", 0, 9, choices=("same",)), "full", "not a valid padding"),
        (Param("b", "bool", True, "h"), "yes", "true or false"),
        (Param("k", "int", 3, "h", 1, 9), None, "required"),
    ],
)
def test_param_errors_name_the_field(param, value, fragment):
    with pytest.raises(LayerError) as e:
        param.check(value)
    assert fragment in str(e.value)
    assert e.value.field == param.name


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**12, 1.5, "3", None, True, 1, 17])
def test_a_merge_with_a_refused_input_count_keeps_its_default_ports(value):
    """inputs=inf was an OverflowError out of analyze (found by the parameter fuzz at
    CNN_STUDIO_FUZZ=10); 10**12 would have made the analysis list a trillion missing ports."""
    from cnn_studio.core import Graph, analyze

    g = Graph()
    inp = g.add_node("input").id
    m = g.add_node("add", {"inputs": value})
    assert m.num_inputs() == 2
    g.connect(inp, m.id, 0, 0)
    a = analyze(g)
    assert any(i.field == "inputs" for i in a.issues_for(m.id))
