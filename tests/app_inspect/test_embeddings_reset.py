"""Embeddings view: File > New (nothing shown) does not keep the previous network's axes, and the
colour legend never parts a swatch from its class name at a line end (it wrapped "heart" alone)."""
import pytest
from PySide6.QtGui import QTextDocument

from cnn_studio.app.inspect.embeddings_view import EmbeddingsView
from cnn_studio.app.state import ViewSource


@pytest.fixture
def computed(view_factory, imodel):
    view = view_factory(EmbeddingsView, size=(1000, 520))
    view.set_model(imodel)  # on screen: computed at once
    assert view.wait_idle(60_000) and view.embedding is not None
    return view


def test_nothing_shown_resets_the_axes(computed):
    view = computed
    (x0, x1), (y0, y1) = view.plot.viewRange()
    assert (x0, x1, y0, y1) != pytest.approx((0, 1, 0, 1))  # the points' own spread
    view.show_source(ViewSource.nothing("untitled"))
    (x0, x1), (y0, y1) = view.plot.viewRange()
    assert (x0, x1, y0, y1) == pytest.approx((0, 1, 0, 1), abs=1e-6)
    assert view.scatter.getData()[0].size == 0 and view.legend.text() == ""


@pytest.mark.parametrize("width", [180, 260, 330, 470, 640])
def test_legend_lines_start_with_a_swatch(computed, width):
    """Laid out at any width, every line of the legend starts with a swatch (a class name is
    never the first thing on a line) and every class name is on one line whole."""
    html = computed.legend.text()
    names = [computed.model().class_name(int(c)) for c in sorted(set(computed.embedding.labels.tolist()))]
    doc = QTextDocument()
    doc.setDefaultFont(computed.legend.font())
    doc.setHtml(html)
    doc.setTextWidth(width)
    doc.size()  # lays the text out
    block = doc.begin()
    lines = []
    while block.isValid():
        lay = block.layout()
        for i in range(lay.lineCount()):
            ln = lay.lineAt(i)
            lines.append(block.text()[ln.textStart(): ln.textStart() + ln.textLength()].strip(" \u00a0"))
        block = block.next()
    assert len(lines) >= 1 and all(ln.startswith("\u25cf") for ln in lines if ln), lines
    text = " ".join(lines).replace("\u00a0", " ")
    assert all(f"\u25cf {n}" in text for n in names), (names, lines)
