"""Inspection in the main window: Feature maps, Filters, Evaluation, Inference, Layer statistics and
Embeddings docks. Each view
renders the app state's source (``window.state``, see app/state.py) and says which network, run
and weights that is; the canvas selection picks the layer; while a run goes, the training panel's
live maps, per-epoch snapshots and validation matrices reach the views of that run only. The Layer
statistics view re-reads the run's layer_stats.npz at each epoch end, and its latest problems become
badges on the canvas cards (canvas/badges.py), gone when the source shows nothing. A point clicked in
Embeddings (like a gallery sample in Evaluation) becomes Feature maps' sample."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot

from ..training.attach import _scrolling
from .evaluation import EvaluationView
from .featuremaps import FeatureMapView
from .filters import FiltersView
from .inference import InferenceView
from .layerstats_view import LayerStatsView
from .embeddings_view import EmbeddingsView
from ..canvas.badges import BadgeController


class InspectFeature(QObject):
    def __init__(self, window, training=None):
        super().__init__(window)
        self.window = window
        self.training = training
        self.featuremaps = FeatureMapView()
        self.filters = FiltersView()
        self.evaluation = EvaluationView()
        self.inference = InferenceView()
        self.layerstats = LayerStatsView()
        self.embeddings = EmbeddingsView()
        area = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {}
        for title, view in (("Feature maps", self.featuremaps), ("Filters", self.filters), ("Evaluation", self.evaluation), ("Inference", self.inference),
                            ("Layer statistics", self.layerstats), ("Embeddings", self.embeddings)):
            # placed and sized by the window's DockLayout (layout.py), by title
            dock = window.add_panel(_scrolling(view), title, area, object_name=title.replace(" ", "") + "Dock")
            self.docks[title] = dock

        # every view renders the app state's source, and nothing else
        self.state = window.state
        self.views = (self.featuremaps, self.filters, self.evaluation, self.inference, self.layerstats, self.embeddings)
        self.badges = BadgeController(window.scene, self)
        self.layerstats.flags_changed.connect(self.badges.set_flags)
        self.state.source_changed.connect(self._on_state_source_changed)
        window.selection_changed.connect(self._on_window_selection_changed)
        self.featuremaps.input_changed.connect(self.filters.set_input)
        self.evaluation.sample_activated.connect(self._on_evaluation_sample_activated)
        self.embeddings.sample_activated.connect(self._on_embeddings_sample_activated)
        self.featuremaps.pin_requested.connect(self._on_featuremaps_pin_requested)
        if training is not None:
            p = training.panel
            p.feature_maps.connect(self._on_panel_feature_maps)
            p.epoch_done.connect(self._on_panel_epoch_done)
        window.close_guards.append(self._close_guard)
        self._on_state_source_changed(self.state.source)

    # ------------------------------------------------------------------ the state
    @Slot(object)
    def _on_state_source_changed(self, src) -> None:
        for view in self.views:
            view.show_source(src)
        sel = self.window.selected_node_ids()
        if len(sel) == 1 and (src.imodel is not None or src.kind == "live"):
            self._on_window_selection_changed(sel)
        if src.kind == "live":  # the run's network is ready: have training refresh the maps shown
            worker = self._worker()
            x, node = self.featuremaps.input_tensor, self.featuremaps.node
            if worker is not None and x is not None and node:
                worker.pin_sample(x, self.featuremaps.live_node())

    def _worker(self):
        t = self.training
        return t.panel.worker if t is not None and t.panel.running else None

    # ------------------------------------------------------------------ canvas
    @Slot(list)
    def _on_window_selection_changed(self, ids: list) -> None:
        if len(ids) != 1:
            return
        node = ids[0]
        src = self.state.source
        if src.kind == "nothing":
            return  # the views say there is nothing to show; another network's maps never come back
        self.featuremaps.set_node(node)
        self.layerstats.set_layer(node)
        if self.filters.model() is not None:
            self.filters.set_node(node)

    @Slot(str, int)
    def _on_evaluation_sample_activated(self, split: str, index: int) -> None:
        if self.featuremaps.model() is not None:
            self.featuremaps.show_sample(split, index)
            self.docks["Feature maps"].raise_()

    @Slot(str, int)
    def _on_embeddings_sample_activated(self, split: str, index: int) -> None:
        # the sample becomes Feature maps' (and so Filters') input; the scatter stays in front, so
        # one can click through the points and look at their maps when wanted
        if self.featuremaps.model() is not None:
            self.featuremaps.show_sample(split, index)

    @Slot(object, str)
    def _on_featuremaps_pin_requested(self, sample, node_id: str) -> None:
        worker = self._worker()
        if worker is not None:
            worker.pin_sample(sample, node_id)

    # ------------------------------------------------------------------ training
    @Slot(int, dict)
    def _on_panel_feature_maps(self, epoch: int, maps: dict) -> None:
        if self.state.source.kind == "live":  # only the run the views name
            self.featuremaps.add_snapshot(epoch, maps)

    @Slot(dict)
    def _on_panel_epoch_done(self, row: dict) -> None:
        if self.state.source.kind == "live":
            self.evaluation.update_from_epoch(row)
            self.layerstats.refresh()  # the recorder wrote this epoch's statistics before the row was sent

    def _close_guard(self) -> bool:
        for view in self.views:
            view.shutdown()
        return True
