"""Inspection in the main window: Feature maps, Filters, Evaluation and Inference docks, wired to
the canvas selection and to the training panel (live maps, per-epoch snapshots, the validation
confusion matrix per epoch, and the trained model once a run ends)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot

from ..training.attach import _scrolling
from .evaluation import EvaluationView
from .featuremaps import FeatureMapView
from .filters import FiltersView
from .inference import InferenceView


class InspectFeature(QObject):
    def __init__(self, window, training=None):
        super().__init__(window)
        self.window = window
        self.training = training
        self.featuremaps = FeatureMapView()
        self.filters = FiltersView()
        self.evaluation = EvaluationView()
        self.inference = InferenceView()
        area = Qt.DockWidgetArea.BottomDockWidgetArea
        first = window.docks.get("Summary")
        self.docks = {}
        for title, view in (("Feature maps", self.featuremaps), ("Filters", self.filters), ("Evaluation", self.evaluation), ("Inference", self.inference)):
            dock = window.add_panel(_scrolling(view), title, area, object_name=title.replace(" ", "") + "Dock")
            if first is not None:
                window.tabifyDockWidget(first, dock)
            self.docks[title] = dock
        if first is not None:
            first.raise_()

        window.selection_changed.connect(self._on_window_selection_changed)
        self.featuremaps.input_changed.connect(self.filters.set_input)
        self.evaluation.sample_activated.connect(self._on_evaluation_sample_activated)
        self.evaluation.model_loaded.connect(self._on_evaluation_model_loaded)
        self.featuremaps.pin_requested.connect(self._on_featuremaps_pin_requested)
        if training is not None:
            p = training.panel
            p.feature_maps.connect(self.featuremaps.add_snapshot)
            p.epoch_done.connect(self.evaluation.update_from_epoch)
            p.run_started.connect(self._on_panel_run_started)
            p.run_finished.connect(self._on_panel_run_finished)
            p.run_failed.connect(self._on_panel_run_failed)
        window.close_guards.append(self._close_guard)

    # ------------------------------------------------------------------ canvas
    @Slot(list)
    def _on_window_selection_changed(self, ids: list) -> None:
        if len(ids) != 1:
            return
        node = ids[0]
        if self.featuremaps.model() is not None:
            self.featuremaps.set_node(node)
        if self.filters.model() is not None:
            self.filters.set_node(node)

    @Slot(str, int)
    def _on_evaluation_sample_activated(self, split: str, index: int) -> None:
        if self.featuremaps.model() is not None:
            self.featuremaps.show_sample(split, index)
            self.docks["Feature maps"].raise_()

    @Slot(object)
    def _on_evaluation_model_loaded(self, imodel) -> None:
        for view in (self.featuremaps, self.filters, self.inference):
            view.set_model(imodel)
        sel = self.window.selected_node_ids()
        if len(sel) == 1:
            self._on_window_selection_changed(sel)

    @Slot(object, str)
    def _on_featuremaps_pin_requested(self, sample, node_id: str) -> None:
        worker = self.training.panel.worker if self.training is not None else None
        if worker is not None and self.training.panel.running:
            worker.pin_sample(sample, node_id)

    # ------------------------------------------------------------------ training
    @Slot()
    def _on_panel_run_started(self) -> None:
        self.featuremaps.clear_snapshots()
        self.featuremaps.set_training_active(True)
        worker = self.training.panel.worker
        if worker is not None:
            worker.started.connect(self._on_worker_started)

    @Slot(dict)
    def _on_worker_started(self, info: dict) -> None:
        """The data and network are ready: the views can browse samples and show live maps."""
        worker = self.training.panel.worker
        if worker is None or worker.trainer is None:
            return
        imodel = worker.runner.inspect_model  # copied by the training thread before its first step
        if imodel is None:
            return
        self.featuremaps.set_model(imodel)
        self.evaluation.set_class_names(imodel.class_names)
        sel = self.window.selected_node_ids()
        if len(sel) == 1:
            self.featuremaps.set_node(sel[0])
        x = self.featuremaps.input_tensor
        if x is not None and self.featuremaps.node:
            worker.pin_sample(x, self.featuremaps.live_node())

    @Slot(dict)
    def _on_panel_run_finished(self, summary: dict) -> None:
        self.featuremaps.set_training_active(False)
        run_dir = self.training.panel.run_dir
        if run_dir and summary.get("epochs_completed", 0) > 0:
            self.evaluation.load_run(run_dir)

    @Slot(str, str)
    def _on_panel_run_failed(self, message: str, details: str) -> None:
        self.featuremaps.set_training_active(False)

    def _close_guard(self) -> bool:
        for view in (self.featuremaps, self.filters, self.evaluation, self.inference):
            view.shutdown()
        return True
