"""The block undo commands of the app (app/block_commands.py) over random networks and random
selections: a grouping either is refused with nothing changed, or applies, and undo/redo give the
exact configs back; ungroup and make-unique of the result undo exactly too; edits inside a shared
definition change every use and undo."""
from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/block_graphs.py
from block_graphs import inner_ids, random_graphs, residual_graph  # noqa: E402

from cnn_studio.app import block_commands as bc  # noqa: E402
from cnn_studio.app.document import Document  # noqa: E402
from cnn_studio.core import blocks  # noqa: E402
from cnn_studio.core.errors import GraphEditError  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=random_graphs(), data=st.data())
def test_group_ungroup_unique_undo_exactly(qapp, g, data):
    doc = Document(g)
    ids = inner_ids(g)
    sel = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
    before = g.to_config()
    try:
        cmd, inst = bc.group_command(g, sel, "Grp")
    except GraphEditError:
        assert g.to_config() == before and doc.undo_stack.count() == 0
        return
    assert g.to_config() == before  # building the command changes nothing
    doc.push(cmd)
    after = g.to_config()
    assert g.nodes[inst].type == "block" and not set(sel) & set(g.nodes)
    assert doc.analysis.nodes[inst].params == sum(doc.analysis.nodes[inst].block.nodes[n].params for n in sel)
    doc.undo_stack.undo()
    assert g.to_config() == before
    doc.undo_stack.redo()
    assert g.to_config() == after
    doc.push(bc.make_unique_command(g, inst)[0])
    assert g.nodes[inst].config["block"] == "Grp2"
    doc.push(bc.ungroup_command(g, inst)[0])
    assert inst not in g.nodes
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert g.to_config() == after
    doc.undo_stack.undo()
    assert g.to_config() == before
    doc.close()


def test_inner_edit_of_a_shared_definition_merges_and_undoes(qapp):
    g = residual_graph()
    inst = blocks.group(g, ["r1", "c2", "bn2"], "Body")
    other = blocks.instantiate(g, "Body", pos=(0, 900))
    doc = Document(g)
    before = g.to_config()
    for k in (3, 5, 6):  # three ticks of one spin box in one session: one undo step
        cfg = dict(g.blocks["Body"].graph.nodes["c2"].config, out_channels=k)
        doc.push(bc.InnerSetConfigCommand(g, "Body", "c2", cfg, merge_key=("Body", "c2", "out_channels", 1)))
    assert doc.undo_stack.count() == 1
    # c2 -> 6 channels: both uses change (the instance fed by bn2's 6 channels, the Add then refuses)
    assert g.blocks["Body"].graph.nodes["c2"].config["out_channels"] == 6
    assert doc.analysis.nodes[inst].block.nodes["c2"].output_shape == (6, 8, 8)
    assert doc.analysis.nodes[other].block is None or doc.analysis.nodes[other].block.nodes["c2"].config["out_channels"] == 6
    # a structural step after it, then undo both: the lookup by name survives the rebuild
    doc.push(bc.rename_block_command(g, "Body", "Res"))
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert g.to_config() == before
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    assert g.nodes[inst].config["block"] == "Res" and g.blocks["Res"].graph.nodes["c2"].config["out_channels"] == 6
    doc.close()


def test_refusals_name_the_problem(qapp):
    g = residual_graph()
    for sel, name, words in ((["inp", "c1"], "A", "Input"), (["r1"], "class", "cannot name a block"), (["r1", "bn2"], "A", "lies between")):
        try:
            bc.group_command(g, sel, name)
        except GraphEditError as e:
            assert words in str(e)
        else:
            raise AssertionError(f"{sel} {name} was not refused")
    try:
        bc.ungroup_command(g, "c1")
    except GraphEditError as e:
        assert "is not a block" in str(e)
    else:
        raise AssertionError("ungroup of a layer was not refused")
