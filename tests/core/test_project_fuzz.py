"""Fuzz campaign over project files: valid documents of every template are mutated (fields deleted,
replaced, retyped, moved; numbers at their extremes; deep nesting; then random byte damage) and loaded.

Property: ``loads`` returns a Graph or raises ``ProjectFileError`` with a message, never another
exception; a loaded graph analyses without exception, and saves and loads again.

Size: fits CI; CNN_STUDIO_FUZZ=10 runs ten times as many examples.
Counts: ``pytest tests/core/test_project_fuzz.py --hypothesis-show-statistics``.
"""
from __future__ import annotations

import json

from fuzz_counts import record
from fuzz_settings import examples
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cnn_studio import templates
from cnn_studio.core import Graph, ProjectFileError, analyze
from cnn_studio.core.project import dumps, loads

FUZZ = settings(max_examples=examples(400), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Seeds: the small templates (the large ones only slow each example down without new structure).
SEEDS = {}
for _name in templates.names():
    _doc = json.loads(dumps(templates.build(_name)))
    if len(_doc["nodes"]) <= 40:
        SEEDS[_name] = _doc

# Raw JSON text for values json.dumps cannot or would not write (NaN, 1e999, 5,000 digits, deep nesting).
EXTREME = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "5e-324", "-0", "0", "-1", "1.5",
           "9" * 300, "9" * 301, "-" + "9" * 5000, str(2**63), str(2**64), "1e20", "[" * 70 + "]" * 70,
           "[" * 3000 + "]" * 3000, '{"a":' * 40 + "1" + "}" * 40, '"\\ud800"', '"c1\\n"', '"\\u0000"', '""',
           "[]", "{}", "null", "true", "false", '"x"', "[1, 2]", "[0, 0, 0]", '["c1", 0]', '["c1", -1]',
           '["c1", 64]', '["c1", 1.0]', '["nope", 0]']

PARAMS = ["out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "out_features", "p",
          "channels", "height", "width", "num_features", "eps", "momentum", "padding_mode", "bias", "size",
          "output_size", "negative_slope", "dim", "scale_factor", "mode", "start_dim", "reduction"]

json_leaf = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
             | st.text(max_size=6) | st.sampled_from(["input", "conv2d", "relu", "linear", "cross_entropy", "c1"]))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(["id", "type", "config", "pos", "src", "dst", "x"]), inner, max_size=3),
                          max_leaves=8)


def _containers(doc, path=()):
    """Every (path, container) pair of the document, for picking a place to mutate."""
    out = [(path, doc)]
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            out.extend(_containers(v, path + (k,)))
    return out


@st.composite
def mutated_documents(draw):
    """-> JSON text of a seed document after a few structural mutations (and maybe byte damage)."""
    doc = json.loads(json.dumps(SEEDS[draw(st.sampled_from(sorted(SEEDS)))]))
    raw_slots = {}  # placeholder string -> raw JSON text substituted after dumping
    for _ in range(draw(st.integers(1, 4))):
        spots = _containers(doc)
        _, box = spots[draw(st.integers(0, len(spots) - 1))]
        nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []
        configs = [n["config"] for n in nodes if isinstance(n, dict) and isinstance(n.get("config"), dict)]
        if configs and draw(st.booleans()):  # half of the mutations hit a layer's parameters
            box = configs[draw(st.integers(0, len(configs) - 1))]
            if draw(st.booleans()):
                box[draw(st.sampled_from(PARAMS))] = 0  # make sure a parameter is there to mutate
        keys = list(box) if isinstance(box, dict) else list(range(len(box)))
        op = draw(st.sampled_from(["delete", "replace", "extreme", "extreme", "extreme", "retype", "duplicate", "add_key", "swap"]))
        if not keys and op != "add_key":
            continue
        key = draw(st.sampled_from(keys)) if keys else None
        if op == "delete":
            del box[key]
        elif op == "replace":
            box[key] = draw(json_value)
        elif op == "extreme":
            slot = f"@@{len(raw_slots)}@@"
            raw_slots[slot] = draw(st.sampled_from(EXTREME))
            event(f"extreme value {raw_slots[slot][:12]}")
            box[key] = slot
        elif op == "retype":
            v = box[key]
            box[key] = draw(st.sampled_from([[v], {"v": v}, str(v)[:20], None, bool(v) if not isinstance(v, (dict, list)) else v]))
        elif op == "duplicate" and isinstance(box, list):
            box.insert(key, json.loads(json.dumps(box[key])))
        elif op == "add_key" and isinstance(box, dict):
            box[draw(st.sampled_from(["x", "id", "type", "config", "edges", "layout", "params", "kernel_size"]))] = draw(json_value)
        elif op == "swap" and len(keys) > 1:
            other = draw(st.sampled_from(keys))
            box[key], box[other] = box[other], box[key]
    text = json.dumps(doc, indent=draw(st.sampled_from([None, 1])))
    for slot, raw in raw_slots.items():
        text = text.replace(json.dumps(slot), raw)
    if draw(st.integers(0, 4)) == 0:  # byte damage on top
        b = bytearray(text.encode("utf-8", "surrogatepass"))
        for _ in range(draw(st.integers(1, 3))):
            if not b:
                break
            i = draw(st.integers(0, len(b) - 1))
            op = draw(st.sampled_from(["flip", "cut", "insert"]))
            if op == "flip":
                b[i] ^= 1 << draw(st.integers(0, 7))
            elif op == "cut":
                del b[i:]
            else:
                b[i:i] = draw(st.binary(min_size=1, max_size=4))
        return bytes(b)
    return text


@FUZZ
@given(mutated_documents())
def test_fuzz_project_documents(text):
    try:
        g = loads(text)
    except ProjectFileError as e:
        assert str(e).strip()
        event("refused with a ProjectFileError")
        record("project fuzz", "ProjectFileError")
        return
    event("loaded")
    assert isinstance(g, Graph)
    result = analyze(g)
    event("analysis ok" if result.ok else "analysis reports issues")
    record("project fuzz", "loaded, analysis ok" if result.ok else "loaded, analysis reports issues")
    again = loads(dumps(g))  # what loaded also saves and loads again
    assert [n.id for n in again.nodes.values()] == [n.id for n in g.nodes.values()]
