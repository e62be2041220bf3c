"""Imports flow one way: core uses the standard library only; training never pulls in Qt."""
import subprocess
import sys


def _modules_after(stmt: str) -> set[str]:
    code = f"import sys; {stmt}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_core_imports_neither_torch_nor_qt_nor_numpy():
    mods = _modules_after("import cnn_studio.core, cnn_studio; from cnn_studio import templates, analyze, load_project, save_project")
    assert "torch" not in mods
    assert "PySide6" not in mods
    assert "numpy" not in mods


def test_compile_model_is_lazy_but_works():
    mods = _modules_after("from cnn_studio import compile_model, templates; compile_model(templates.build('lenet5'))")
    assert "torch" in mods and "PySide6" not in mods


def test_training_does_not_import_qt():
    mods = _modules_after("import cnn_studio.training, cnn_studio.data")
    assert "PySide6" not in mods
