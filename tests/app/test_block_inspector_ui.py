"""A block card's Inspector (QA item 7): its Parameters row, and no "no parameters" line beside it."""
from __future__ import annotations

from block_helpers import group, lenet
from PySide6.QtWidgets import QApplication, QLabel


def test_block_inspector_shows_its_parameters_not_no_parameters(make_window, qtbot):
    window = make_window(lenet())
    inst = group(window, ["c1", "c1_act"], "Stem")
    assert window.selected_node_ids() == [inst]
    texts = [w.text() for w in window.inspector.findChildren(QLabel) if w.isVisible()]
    assert not any("no parameters" in t or "no settings" in t for t in texts), texts
    params = window.document.analysis.nodes[inst].params
    assert params == 6 * (5 * 5 + 1)  # c1's weights, on a 1-channel input
    assert any("<b>Parameters</b></td><td>156<" in t for t in texts), [t for t in texts if "table" in t]
    # a layer without settings says so, without contradicting its Parameters row
    window.select_nodes(["c3_act"])
    QApplication.processEvents()
    texts = [w.text() for w in window.inspector.findChildren(QLabel) if w.isVisible()]
    assert any("no settings" in t for t in texts) and not any("no parameters" in t for t in texts), texts
