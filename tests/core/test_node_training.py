"""Per-node training options on the graph (Node.frozen, Node.lr_mult): written only when not default
(old files keep their text), round-tripped, set through one graph method that fires node_changed only
on a real change, and hostile values refused by name, in edits and in files."""
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnn_studio.core.errors import GraphEditError, ProjectFileError
from cnn_studio.core.graph import LR_MULT_MAX
from cnn_studio.core.project import dumps, graph_to_document, loads
from cnn_studio.core.templates import build
from cnn_studio.core.trainable import parameter_counts


def lenet():
    return build("lenet5", (1, 28, 28), 10)


def test_defaults_leave_the_file_text_unchanged_and_options_round_trip():
    g = lenet()
    text = dumps(g)
    assert "frozen" not in text and "lr_mult" not in text
    assert dumps(loads(text)) == text  # an old file loads and saves to the same text
    events = []
    g.events.connect("node_changed", lambda n: events.append(n.id))
    rev = g.revision
    assert g.set_node_training("c1", frozen=True) and g.set_node_training("f6", lr_mult=0.1)
    assert not g.set_node_training("c1", frozen=True)  # no change, no event
    assert events == ["c1", "f6"] and g.revision == rev + 2
    doc = graph_to_document(g)
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert nodes["c1"]["frozen"] is True and "lr_mult" not in nodes["c1"]
    assert nodes["f6"]["lr_mult"] == 0.1 and "frozen" not in nodes["f6"]
    back = loads(dumps(g))
    assert back == g and back.nodes["c1"].frozen and back.nodes["f6"].lr_mult == 0.1
    g.rename_node("c1", "conv_a")
    assert g.nodes["conv_a"].frozen
    # back to the defaults: the keys leave the file again
    g.set_node_training("conv_a", frozen=False)
    g.set_node_training("f6", lr_mult=1)
    assert "frozen" not in dumps(g) and "lr_mult" not in dumps(g)


def test_trainable_and_frozen_counts():
    g = lenet()
    from cnn_studio.core.analysis import analyze

    a = analyze(g)
    assert parameter_counts(g, a) == (a.trainable_params, 0)
    g.set_node_training("c1", frozen=True)
    g.set_node_training("c3", frozen=True)
    frozen = a.nodes["c1"].trainable + a.nodes["c3"].trainable
    assert parameter_counts(g) == (a.trainable_params - frozen, frozen) and frozen == 156 + 2416


BAD_MULTS = st.one_of(
    st.floats(max_value=0.0), st.floats(min_value=LR_MULT_MAX, exclude_min=True), st.just(math.nan), st.just(math.inf),
    st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
)  # (None is "leave it as it is" for set_node_training; in a file it is refused, tested below)
BAD_FROZEN = st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.lists(st.booleans(), max_size=2))


@settings(max_examples=60, deadline=None)
@given(mult=BAD_MULTS, frozen=BAD_FROZEN)
def test_hostile_values_are_refused_by_name(mult, frozen):
    g = lenet()
    with pytest.raises(GraphEditError, match='"lr_mult" must be a number greater than 0'):
        g.set_node_training("c1", lr_mult=mult)
    with pytest.raises(GraphEditError, match='"frozen" must be true or false'):
        g.set_node_training("c1", frozen=frozen)
    with pytest.raises(GraphEditError, match="lr_mult"):
        g.add_node("relu", node_id="r9", lr_mult=mult)
    assert g.nodes["c1"].lr_mult == 1.0 and not g.nodes["c1"].frozen and "r9" not in g.nodes
    doc = graph_to_document(g)
    doc["nodes"][1]["lr_mult"] = mult
    try:
        text = json.dumps(doc)
    except (TypeError, ValueError):
        return
    with pytest.raises(ProjectFileError, match=r"'f\.cnnstudio': node 'c1': \"lr_mult\""):
        loads(text, source="f.cnnstudio")
    doc["nodes"][1]["lr_mult"] = 1.0
    doc["nodes"][1]["frozen"] = frozen
    with pytest.raises(ProjectFileError, match=r"node 'c1': \"frozen\""):
        loads(json.dumps(doc), source="f.cnnstudio")
    doc["nodes"][1]["frozen"] = None
    with pytest.raises(ProjectFileError, match=r"node 'c1': \"frozen\""):
        loads(json.dumps(doc), source="f.cnnstudio")


@settings(max_examples=40, deadline=None)
@given(mult=st.floats(min_value=1e-6, max_value=LR_MULT_MAX), frozen=st.booleans())
def test_valid_values_round_trip_exactly(mult, frozen):
    g = lenet()
    g.set_node_training("c3", frozen=frozen, lr_mult=mult)
    back = loads(dumps(g))
    assert (back.nodes["c3"].frozen, back.nodes["c3"].lr_mult) == (frozen, mult)
