"""Network > Train from weights file… with a file for another class count (QA defect 8): the start
is refused, nothing is loaded, and the message names the app's way out (Network > Initialise from
weights…), not the command line's --init-partial nor the config key init_partial."""
from __future__ import annotations

import torch

from cnn_studio.compiler import compile_model
from test_runs_dock import tiny_graph
from test_training_ui import _npz, _setup


def test_refused_weights_name_the_apps_own_way_out(make_window, qtbot, tmp_path):
    w = make_window(tiny_graph("cur"))
    tr = _setup(w, _npz(tmp_path, n=96, shape=(3, 16, 16)), epochs=1, batch=32)
    tr.panel.settings.threads.setValue(1)
    state = compile_model(tiny_graph("cur")).state_dict()
    state["fc.weight"], state["fc.bias"] = state["fc.weight"][:3].clone(), state["fc.bias"][:3].clone()  # a 3-class run's
    three = tmp_path / "three.pt"
    torch.save(state, three)
    tr.ask_weights_file = lambda: str(three)
    before = w.graph.to_config()
    with qtbot.waitSignal(tr.panel.run_failed, timeout=60_000):
        tr.act_train_from_file.trigger()
    qtbot.waitUntil(lambda: not tr.panel.running, timeout=30_000)
    text = w.answers.informed[-1][1]
    assert "fc.weight: file 3x" in text and "nothing was loaded" in text
    assert "Network > Initialise from weights" in text
    assert "init-partial" not in text and "init_partial" not in text and "cnn-studio" not in text
    assert w.graph.to_config() == before and w.editing_enabled and tr.act_train_from_file.isEnabled()
