"""The desktop app (everything Qt). Nothing outside ``app`` imports it.

Entry point: :func:`cnn_studio.app.main.run_app`. Importing this package imports no Qt and no torch;
the start-up path (``main`` -> ``mainwindow``) imports Qt and ``cnn_studio.core`` only.

Layout of the package (model/view split after napari and Orange's canvas):

- ``document``  :class:`Document`, the open project: the core ``Graph`` (the model), its
  ``QUndoStack``, the current ``Analysis`` (re-run after every edit) and the file path.
- ``commands``  undo steps and the ``Macro`` QUndoCommand; each changes only the model.
- ``canvas``    the scene that mirrors the graph from its events, its items and the view.
- ``palette``, ``inspector``, ``issues``, ``summary``  the docks.
- ``mainwindow``  menus, actions, files, autosave/recovery, docks; ``main`` starts the app.
"""
