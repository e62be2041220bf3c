"""Before a run: when the data's images (C, H, W) differ from the network's Input, ask once: fit the
network to the data (Input and, when it differs too, the class count: one undoable edit,
core/adapt.py, which also re-applies a template's rule for the new input, e.g. LeNet-5's C1 padding),
or train on converted copies of the images (the conversion is stated; offered only when the class
counts agree), or do not train. Never convert silently. A class count alone that differs is offered
the same fit (the last layer's units). A class layer inside a block other instances share gets its
own copy of that block first (``core.adapt.unshare_class_layer``, as ``cnn-studio train`` does), in
the same one-step edit.

The question goes through ``window.ask`` (tests replace it). The built-in ``shapes`` set is drawn
at whatever size the network takes, so only its class count is compared.
"""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ...core.adapt import apply_adaptation, errors_after, plan_adaptation, unshare_class_layer

B = QMessageBox.StandardButton


def native_data(data_panel, window=None) -> tuple[tuple[int, int, int] | None, int] | None:
    """(image shape as the source has it, class count), or None when the data cannot be read now
    (the run's start then reports why). The built-in set answers at once; any other source is read
    in a helper thread while the window goes on painting (a local event loop, a wait cursor and a
    status message), so a large data set does not freeze it."""
    from ...core.errors import StudioError
    from ...data import DataConfig

    d = {**data_panel.config_dict(), "channels": None, "height": None, "width": None}
    try:
        cfg = DataConfig.from_dict(d)
    except StudioError:
        return None
    if cfg.source == "shapes" and cfg.format in ("auto", "shapes"):
        from ...data.shapes import CLASS_NAMES

        return None, len(CLASS_NAMES)
    return _read_off_the_gui_thread(cfg, window)


def _read_off_the_gui_thread(cfg, window):
    import threading

    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from .worker import prepare_torch, single_threaded_torch

    prepare_torch()  # torch is first imported in the GUI thread (see worker.prepare_torch)
    out: dict = {}

    def read() -> None:
        from ...core.errors import StudioError
        from ...data import load_dataset

        single_threaded_torch()
        try:
            bundle = load_dataset(cfg)
            out["found"] = tuple(int(v) for v in bundle.input_shape()), int(bundle.num_classes)
        except StudioError:
            out["found"] = None
        except Exception:  # noqa: BLE001 - the run's start reads it again and reports it cleanly
            out["found"] = None

    thread = threading.Thread(target=read, name="cnn-studio-data-shape", daemon=True)
    thread.start()
    if thread.is_alive():
        if window is not None:
            window.show_message("Reading the data set to compare it with the network's input…", 0)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: None if thread.is_alive() else loop.quit())
        timer.start()
        try:
            if thread.is_alive():
                loop.exec()
        finally:
            timer.stop()
            QApplication.restoreOverrideCursor()
            if window is not None:
                window.statusBar().clearMessage()
    thread.join()
    return out.get("found")


def _shape(s) -> str:
    return "x".join(str(int(v)) for v in s)


def conversion_text(data_shape, input_shape, resize: str) -> str:
    """What converted copies of the images mean, in words."""
    (dc, dh, dw), (c, h, w) = data_shape, input_shape
    parts = []
    if dc != c:
        parts.append("gray to RGB (the gray value in all three channels)" if c == 3 else "RGB to gray (luminance)")
    if (dh, dw) != (h, w):
        parts.append(f"resized from {dh}x{dw} to {h}x{w} ({resize})")
    return ", ".join(parts)


def fit_data_to_network(feature) -> bool:
    """True when the run may start (nothing differs, the network was fitted, or the user chose the
    stated conversion); False when the user cancelled or the fitted network cannot train yet."""
    window, panel = feature.window, feature.data_panel
    a = window.analysis
    input_shape = tuple(a.input_shape)
    if getattr(feature, "_reading_data", False):  # F5 again while the data is being read
        return False
    feature._reading_data = True
    try:
        found = native_data(panel, window)
    finally:
        feature._reading_data = False
    if found is None:
        return True
    data_shape, data_classes = found
    graph = window.graph
    plan = plan_adaptation(graph, data_shape or input_shape, data_classes)
    if not plan.needed:
        return True
    unshared: list[str] = []
    if plan.problems and plan.classes_differ:
        # the class layer sits in a block other instances share: on a copy, give its way its own
        # definitions (as `cnn-studio train` does), and offer that as part of the one edit
        work = graph.copy()
        unshared = unshare_class_layer(work)
        if unshared:
            trial = plan_adaptation(work, data_shape or input_shape, data_classes)
            if trial.problems:
                unshared = []
            else:
                plan, graph = trial, work
    fits = not plan.problems
    after = errors_after(graph, plan) if fits else []
    what = []
    if plan.shape_differs:
        what.append(f"the data's images are {_shape(data_shape)}, the network's Input takes {_shape(input_shape)}")
    if plan.classes_differ:
        what.append(f"the data has {data_classes} classes, the network predicts {plan.classes}")
    text = "; ".join(what).capitalize() + "."
    options = []
    if fits:
        options.append("Yes: fit the network to the data (one edit; Undo restores it):\n"
                       + "".join(f"{n[0].upper()}{n[1:]};\n" for n in unshared) + plan.describe()
                       + (f"\n(After this edit the network reports: {after[0]})" if after else ""))
    else:
        options.append("The network cannot be fitted automatically: " + "; ".join(plan.problems))
    convertible = not plan.classes_differ  # converted images still need the network's class count
    if convertible:
        options.append("No: train this network on copies of the images converted to "
                       f"{_shape(input_shape)}: {conversion_text(data_shape, input_shape, panel.config_dict().get('resize', 'bilinear'))}")
    options.append("Cancel: do not train now")
    buttons = (B.Yes if fits else B.NoButton) | (B.No if convertible else B.NoButton) | B.Cancel
    answer = window.ask("The data does not fit the network", text + "\n\n" + "\n\n".join(options), buttons, B.Yes if fits else B.Cancel)
    if answer == B.Yes and fits:
        if unshared:
            _push_unshared_fit(window, graph, plan)
        else:
            _push_fit(window, plan)
        a = window.analysis
        if not a.ok:
            first = a.errors[0]
            if first.node_id:
                window.select_nodes([first.node_id], center=True)
            window.inform("The network cannot be trained yet",
                          f"The network now takes the data's {_shape(data_shape or input_shape)} images, but: {first}\n\n"
                          "Change that layer (or Undo the edit and train on converted copies).")
            return False
        return True
    if answer == B.No and convertible:
        window.show_message(f"Training on copies of the images converted to {_shape(input_shape)}: "
                            f"{conversion_text(data_shape, input_shape, panel.config_dict().get('resize', 'bilinear'))}", 0)
        return True
    return False


def _push_fit(window, plan) -> None:
    from ..block_commands import InnerSetConfigCommand
    from ..commands import Macro, SetConfigCommand

    graph = window.graph
    steps = [SetConfigCommand(graph, nid, cfg) for nid, cfg in plan.configs(graph).items()]
    # a class layer inside a block (MobileNetV2's classifier/1) is set in its definition, in the same macro
    steps += [InnerSetConfigCommand(graph, block, nid, cfg) for (block, nid), cfg in plan.inner_configs(graph).items()]
    window.document.push(Macro("Fit the network to the data", steps))


def _push_unshared_fit(window, work, plan) -> None:
    """The fit of a class layer whose shared blocks were copied first: ``work`` is the window's graph
    with those copies made; the edit goes in as one snapshot of the whole graph (definitions included),
    so one Undo takes back the copies and the new class count together."""
    import copy

    from ..block_commands import SnapshotStep
    from ..commands import Macro

    apply_adaptation(work, plan)
    graph = window.graph
    text = "Fit the network to the data"
    window.document.push(Macro(text, [SnapshotStep(graph, graph.to_config(), copy.deepcopy(work.to_config()), text)]))
