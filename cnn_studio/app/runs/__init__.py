"""The Runs dock (issue 12): every run folder of the open project and of the studio home, listed
from the engine's ``training.runs.scan_runs`` (no checkpoint is loaded to list them); reopen a run in
every view (``AppState.show_run``), open its network, compare runs (curves overlaid, settings side
by side), rename, note, star, delete, and continue a run to more epochs as ``cnn-studio train
--resume`` does.

- ``model``: :class:`RunsTableModel` over the scanned rows and the filter proxy (Qt, no torch);
- ``view``: :class:`RunsView`, the dock's widget (filter, table, buttons, context menu);
- ``compare``: :class:`CompareView`, curves of the selected runs overlaid and a settings table;
- ``attach``: :class:`RunsFeature`, the wiring into the main window (scanning, watching, actions).
"""
