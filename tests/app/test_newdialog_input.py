"""File > New with an input a template does not fit: the dialog names the minimum and will not create."""
from PySide6.QtCore import Qt

from cnn_studio.core import templates


def test_new_dialog_names_the_minimum_and_disables_create(qtbot):
    from cnn_studio.app.newdialog import NewNetworkDialog

    dlg = NewNetworkDialog(None, (1, 4, 4), 10)
    qtbot.addWidget(dlg)
    dlg.show()
    row = 1 + templates.names().index("lenet5")
    dlg.list.setCurrentRow(row)
    assert "at least 16x16" in dlg.list.item(row).text()
    assert "at least 16x16" in dlg.info.text() and not dlg.create_button.isEnabled()
    # a double click on the item does not accept either
    rect = dlg.list.visualItemRect(dlg.list.item(row))
    qtbot.mouseDClick(dlg.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dlg.result() != dlg.DialogCode.Accepted and dlg.isVisible()
    # typing a size it fits enables Create again
    dlg.h.setValue(28)
    dlg.w.setValue(28)
    assert dlg.create_button.isEnabled()
    assert dlg.build().nodes["c1"].config["padding"] == 2
    # a template for small images is fine at 4x4
    dlg.h.setValue(4)
    dlg.w.setValue(4)
    dlg.list.setCurrentRow(1 + templates.names().index("mlp"))
    assert dlg.create_button.isEnabled()
    qtbot.mouseClick(dlg.create_button, Qt.MouseButton.LeftButton)
    assert dlg.result() == dlg.DialogCode.Accepted
