"""Dock tab titles and palette entries are shown in full at common laptop sizes: Qt's dock tab bars
elided ten bottom tabs at 1280x800 to "Is…", "Fi…", "R…", and the palette's two "Global / adaptive
… pool" entries both read "Global / adaptiv…"."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar

from test_layout import _close, _settle, _window
from test_layout_fit import _cut_palette_rows

SIZES = [(1280, 800), (1440, 900)]


@pytest.fixture
def sized(qtbot):
    made = []

    def make(size):
        w = _window(qtbot, size)
        made.append(w)
        _settle()
        return w

    yield make
    for w in made:
        _close(w)


def _dock_bars(w) -> list[QTabBar]:
    return [b for b in w.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly) if b.isVisible() and b.count()]


@pytest.mark.parametrize("size", SIZES)
def test_every_dock_tab_shows_its_whole_title(sized, size):
    w = sized(size)
    titles = {d.windowTitle() for d in w.docks.values()}
    seen = []
    for bar in _dock_bars(w):
        fm = bar.fontMetrics()
        for i in range(bar.count()):
            text = bar.tabText(i)
            seen.append(text)
            assert text in titles, text
            # the tab is as wide as its full title needs (an elided tab is narrower than its hint)
            assert bar.tabRect(i).width() >= bar.tabSizeHint(i).width(), (text, bar.tabRect(i).width(), bar.tabSizeHint(i).width())
            assert bar.tabRect(i).width() > fm.horizontalAdvance(text), text
    tabbed = {"Summary", "Issues", "Feature maps", "Filters", "Evaluation", "Inference", "Runs", "Inspector", "Data", "Training"}
    assert tabbed <= set(seen), tabbed - set(seen)
    assert len(seen) == len(set(seen))


def test_a_tab_bar_made_when_the_user_tabs_docks_together_does_not_elide(sized):
    w = sized((1280, 800))
    w.tabifyDockWidget(w.docks["Layers"], w.docks["Training curves"])  # a new tab group on the left
    w.docks["Layers"].raise_()
    _settle()
    bars = [b for b in _dock_bars(w) if "Layers" in [b.tabText(i) for i in range(b.count())]]
    assert bars
    for bar in bars:
        assert bar.elideMode() == Qt.TextElideMode.ElideNone and bar.usesScrollButtons()
        for i in range(bar.count()):
            assert bar.tabRect(i).width() >= bar.tabSizeHint(i).width(), bar.tabText(i)


@pytest.mark.parametrize("size", SIZES)
def test_palette_entries_are_distinct_and_not_cut(sized, size):
    w = sized(size)
    pal = w.palette_widget
    texts = [it.text(0) for it in pal.items.values()]
    assert len(texts) == len(set(texts)), sorted(t for t in texts if texts.count(t) > 1)
    assert not _cut_palette_rows(pal), _cut_palette_rows(pal)  # entries and headers
    # the full title still finds the entry and heads its tooltip
    pal.search.setText("global adaptive max")
    assert pal.visible_types() == ["adaptive_maxpool2d"]
    assert "Global / adaptive max pool" in pal.items["adaptive_maxpool2d"].toolTip(0)
    pal.search.clear()
