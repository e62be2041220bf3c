"""File > New with the block-built templates: the real New dialog lists resnet34, resnet50,
mobilenet_v2 and unet with their parameter counts; a click on the item and on Create builds the
network, and the window shows its top-level block instances as block cards with the analysis ok."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cnn_studio.app import fmt
from cnn_studio.app.canvas.block_item import BlockItem
from cnn_studio.core import templates
from cnn_studio.core.analysis import analyze

NEW = {"resnet34": 21_797_672, "resnet50": 25_557_032, "mobilenet_v2": 3_504_872, "unet": None}


def _pick(qtbot, name: str, size: int):
    """The real dialog: click the template's row, type the input size, click Create."""
    from cnn_studio.app.newdialog import NewNetworkDialog

    dlg = NewNetworkDialog(None, (3, 224, 224), 1000)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    row = 1 + templates.names().index(name)
    item = dlg.list.item(row)
    want = NEW[name]
    if want is not None:  # the list shows the published count at 224x224 and 1000 classes
        a = analyze(templates.build(name, (3, 224, 224), 1000))
        assert a.trainable_params == want
        assert f"{fmt.full(a.total_params)} parameters" in item.text()
    dlg.list.scrollToItem(item)
    QApplication.processEvents()
    qtbot.mouseClick(dlg.list.viewport(), Qt.MouseButton.LeftButton, pos=dlg.list.visualItemRect(item).center())
    assert dlg.selected_name() == name
    dlg.h.setValue(size)
    dlg.w.setValue(size)
    dlg.classes.setValue(5)
    assert dlg.create_button.isEnabled(), dlg.info.text()
    qtbot.mouseClick(dlg.create_button, Qt.MouseButton.LeftButton)
    assert dlg.result() == dlg.DialogCode.Accepted
    return dlg.build()


def test_new_dialog_creates_each_block_template(qtbot, window):
    for name in NEW:
        window.choose_new_network = lambda name=name: _pick(qtbot, name, 32)
        assert window.new_file()
        QApplication.processEvents()
        g = window.graph
        assert g.name == name and g.input_node().config["height"] == 32
        assert window.analysis.ok, [str(e) for e in window.analysis.errors]
        cards = [nid for nid, n in g.nodes.items() if n.type == "block"]
        assert cards and all(isinstance(window.scene.node_items[nid], BlockItem) for nid in cards)
        assert set(window.scene.node_items) == set(g.nodes)
        assert window.analysis.output_shape == (5,)
        assert not window.answers.asked  # nothing edited, so File > New asked nothing
