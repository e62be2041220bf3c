"""Text from files never becomes code.

Hostile strings reach the Python export from every origin a user does not control: the project
name, a checkpoint's network, the run folder's name, class names from an image folder's
sub-folders, a CSV's label column, an NPZ's ``class_names`` and an IDX mapping file. Each export is
compiled and imported in a fresh interpreter whose working directory is where every payload would
create its marker file; the marker must never appear, and the module must carry the text as data
(its docstring and ``CLASS_NAMES`` hold it exactly). A hypothesis test checks the same for
arbitrary text without running anything: the generated module parses, has only the statements
the generator writes, and its literals evaluate back to the text."""
import ast
import csv
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from fuzz_settings import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_studio.compiler import compile_model
from cnn_studio.compiler.codegen import doc_text, generate_python, generate_training_script
from cnn_studio.compiler.export import ExportError, export, read_safetensors_metadata, source_from_graph, source_from_run
from cnn_studio.core import Graph, GraphError
from cnn_studio.core.errors import ProjectFileError
from cnn_studio.core.graph import chain
from cnn_studio.core.project import dumps, loads
from cnn_studio.data import DataConfig, load_dataset

try:  # the shared campaign counter printed at the end of the run (tests/fuzz_counts.py)
    from fuzz_counts import record
except ImportError:  # pragma: no cover - counting is optional

    def record(campaign: str, outcome: str) -> None:
        pass


MARK = "PWNED"


def payloads(tag: str) -> list[str]:
    """Strings that, pasted unescaped into generated source, would run code creating ``PWNED_<tag>_<i>``."""
    touch = [f'__import__("pathlib").Path("{MARK}_{tag}_{i}").touch()' for i in range(4)]
    return [
        f'x"""\n{touch[0]}\n"""',  # closes a triple-quoted docstring, runs a line, reopens
        f'x""";{touch[1]};"""',  # the same on one line (survives CSV fields, no newline)
        "'''\n" + touch[2].replace('"', "'") + "\n'''",
        f"{{cls}}\\\n{touch[3]}#\\",  # a template marker, a line continuation, a trailing backslash
    ]


ODD = ["\\", '"', "nul\x00inside", "\r\n", "\u2028x", "\n# -*- coding: latin-1 -*-", "é\tü"]


def small_graph(name: str, classes: int, channels: int = 1) -> Graph:
    g = Graph(name)
    chain(g, [("input", {"channels": channels, "height": 4, "width": 4}, "inp"), ("flatten", {}, "flat"), ("linear", {"out_features": classes}, "fc"), ("cross_entropy", {}, "loss")])
    return g


# ------------------------------------------------------------------------- hostile data sets
def hostile_folder(root, names):
    from PIL import Image

    made = []
    for i, n in enumerate(names):
        d = root / n
        d.mkdir(parents=True)
        for j in range(2):
            Image.new("L", (4, 4), color=(i * 37 + j) % 256).save(d / f"im{j}.png")
        made.append(n)
    return root


def hostile_csv(path, labels):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["label"] + [f"p{i}" for i in range(16)])
        for k, lab in enumerate(labels * 2):
            w.writerow([lab] + [(k * 7 + i) % 256 for i in range(16)])
    return path


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">i", d) for d in arr.shape) + arr.astype(np.uint8).tobytes()


def hostile_idx(folder, codepoints):
    folder.mkdir()
    n = 2 * len(codepoints)
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.arange(n * 16).reshape(n, 4, 4) % 256))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(n) % len(codepoints)))
    (folder / "mapping.txt").write_text("".join(f"{i} {cp}\n" for i, cp in enumerate(codepoints)))
    return folder


def class_names_of(path) -> list[str]:
    return load_dataset(DataConfig(source=str(path), val_fraction=0.0, normalize=False)).class_names


def make_run(root, name: str, graph: Graph, class_names) -> object:
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    model = compile_model(graph)
    (run / "config.json").write_text(json.dumps({"graph": graph.to_config(), "class_names": class_names, "input_shape": [1, 4, 4]}))
    torch.save({"model": model.state_dict(), "graph": graph.to_config()}, run / "checkpoints" / "best.pt")
    return run


def import_in_fresh_interpreter(cwd, modules: dict[str, str]) -> dict:
    """Import each module (name -> folder) in a new Python whose cwd is ``cwd``; build the class,
    run it once. Returns {name: {"doc", "class_names", "out"}} read back as JSON."""
    script = textwrap.dedent(
        """
        import importlib, json, sys, torch
        result = {}
        for name, folder in json.loads(sys.argv[1]).items():
            sys.path.insert(0, folder)
            mod = importlib.import_module(name)
            train = importlib.import_module("train_" + name)
            cls = getattr(mod, train.__doc__.split()[1])
            out = cls().eval()(torch.zeros(1, *mod.INPUT_SHAPE))
            result[name] = {"doc": mod.__doc__, "class_names": mod.CLASS_NAMES, "out": list(out.shape)}
            sys.path.remove(folder)
        print(json.dumps(result))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(modules)], cwd=cwd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hostile_text_from_every_origin_is_data_never_code(tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    expected: dict[str, tuple[str, list[str] | None]] = {}
    modules: dict[str, str] = {}

    def export_source(key: str, source, name: str, class_names):
        folder = out / key
        folder.mkdir()
        files = export(source, "python", folder / f"{key}.py", with_training_script=True).files
        for f in files:
            if f.suffix == ".py":
                compile(f.read_text(encoding="utf-8"), str(f), "exec")  # parses
        modules[key] = str(folder)
        expected[key] = (name, class_names)

    # 1. the project name, read from a project file
    name = "\n".join(payloads("project")) + "".join(ODD)
    doc = json.loads(dumps(small_graph("placeholder", 2)))
    doc["name"] = name
    graph = loads(json.dumps(doc))
    assert graph.name == name
    export_source("from_project", source_from_graph(graph, class_names=["a", "b"]), name, ["a", "b"])

    # 2. class names from an image folder's sub-folders (any byte but '/' and NUL; b'\xff' is not UTF-8)
    folder_names = [p.replace("/", "|") for p in payloads("folder")] + ['q"', "back\\", os.fsdecode(b"bad\xffutf8")]
    names = class_names_of(hostile_folder(tmp_path / "images", folder_names))
    assert set(folder_names) <= set(names)
    export_source("from_folder", source_from_graph(small_graph("folder", len(names)), class_names=names), "folder", names)

    # 3. a CSV's text labels (quoted fields may hold newlines and quotes)
    labels = payloads("csv") + ODD[:2]
    names = class_names_of(hostile_csv(tmp_path / "train.csv", labels))
    assert set(labels) <= set(names)
    export_source("from_csv", source_from_graph(small_graph("csv", len(names)), class_names=names), "csv", names)

    # 4. an NPZ's class_names array
    labels = payloads("npz") + ODD
    n = len(labels)
    npz = tmp_path / "data.npz"
    np.savez(npz, x_train=np.arange(2 * n * 16, dtype=np.uint8).reshape(2 * n, 4, 4), y_train=np.arange(2 * n) % n, class_names=np.array(labels))
    names = class_names_of(npz)
    assert names == labels
    export_source("from_npz", source_from_graph(small_graph("npz", n), class_names=names), "npz", names)

    # 5. an IDX mapping file: one code point per class, among them a quote, a backslash, NUL,
    #    a newline and a lone surrogate
    cps = [34, 92, 0, 10, 0xD800, 0x2028, 65]
    names = class_names_of(hostile_idx(tmp_path / "idx", cps))
    assert names == [chr(c) for c in cps]
    export_source("from_idx", source_from_graph(small_graph("idx", len(names)), class_names=names), "idx", names)

    # 6. a training run: network name in the checkpoint, class names in config.json, and a run
    #    folder whose name lands in the module's note about where the weights come from
    run_name = 'run"""\n__import__("pathlib").Path("PWNED_run").touch()\n"""'
    name = payloads("ckpt")[0]
    run = make_run(tmp_path, run_name, small_graph(name, 3), payloads("cfg")[:3])
    export_source("from_run", source_from_run(run), name, payloads("cfg")[:3])

    result = import_in_fresh_interpreter(work, modules)
    assert sorted(os.listdir(work)) == [], "a payload ran on import"
    for key, (name, class_names) in expected.items():
        got = result[key]
        assert got["class_names"] == class_names, key
        assert f"(network '{name}')" in got["doc"], key
        assert got["out"] == [1, len(class_names)], key
    assert run_name in result["from_run"]["doc"]  # the path is in the note, as text


def test_node_ids_are_whole_identifiers_at_every_entry(monkeypatch):
    g = small_graph("ids", 2)
    bad_ids = ["c1\n", 'x = __import__("os")', "a;b", "é", "1a", "a" * 65]
    for bad in bad_ids:  # a project file
        doc = json.loads(dumps(g))
        doc["nodes"][1]["id"] = bad
        doc["edges"][0]["dst"][0] = bad
        doc["edges"][1]["src"][0] = bad
        with pytest.raises(ProjectFileError, match="invalid id"):
            loads(json.dumps(doc))
        cfg = g.to_config()  # a checkpoint's or run's graph (no project-file check on that path)
        cfg["nodes"][1]["id"] = bad
        with pytest.raises(Exception, match="not valid") as err:
            Graph.from_config(cfg)
        assert not isinstance(err.value, (ValueError, KeyError, TypeError))
    # an id that got past every check anyway is refused by the generator, not written
    import cnn_studio.core.graph as graph_module

    with monkeypatch.context() as m:
        m.setattr(graph_module, "is_valid_id", lambda value: True)
        forced = Graph("forced")
        chain(forced, [("input", {"channels": 1, "height": 4, "width": 4}), ("flatten", {}, "flat\nimport os"), ("linear", {"out_features": 2}), ("cross_entropy", {})])
    with pytest.raises(GraphError, match="not a valid name"):
        generate_python(forced)


def test_checkpoint_with_a_hostile_node_id_is_refused_by_export(tmp_path):
    g = small_graph("net", 2)
    run = make_run(tmp_path, "run", g, ["a", "b"])
    bad = g.to_config()
    bad["nodes"][1]["id"] = "flat\n__import__('os')"
    torch.save({"model": compile_model(g).state_dict(), "graph": bad}, run / "checkpoints" / "best.pt")
    with pytest.raises(ExportError, match="not valid"):
        source_from_run(run)


def test_valid_ids_that_shadow_names_the_module_uses_still_give_working_code(tmp_path):
    g = Graph("shadow")
    ids = ["torch", "nn", "self", "super", "INPUT_SHAPE", "print", "load_weights"]
    chain(
        g,
        [("input", {"channels": 1, "height": 6, "width": 6}, "x"), ("conv2d", {"out_channels": 2, "kernel_size": 3}, ids[0]), ("relu", {}, ids[1]), ("tanh", {}, ids[2])]
        + [("relu", {}, i) for i in ids[3:6]]
        + [("flatten", {}, ids[6]), ("linear", {"out_features": 3}, "import_"), ("cross_entropy", {}, "loss")],
    )
    source = source_from_graph(g)
    export(source, "python", tmp_path / "shadow.py", with_training_script=True)
    x = torch.randn(2, 1, 6, 6)
    torch.save(x, tmp_path / "x.pt")
    torch.save(source.state_dict, tmp_path / "w.pt")
    script = (
        "import torch, shadow; m = shadow.Shadow(); m.load_state_dict(torch.load('w.pt', weights_only=True));"
        "print(m.eval()(torch.load('x.pt')).tolist())"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with torch.no_grad():
        want = source.model()(x)
    assert torch.allclose(torch.tensor(json.loads(proc.stdout)), want, atol=1e-5)


def test_ids_python_treats_specially_still_give_loadable_code():
    """'__debug__' cannot be assigned, and self.__x in a class body is name-mangled (which would
    change the state_dict key): found by the tricky-id campaign at CNN_STUDIO_FUZZ=10."""
    g = Graph("special")
    chain(g, [("input", {"channels": 1, "height": 3, "width": 3}, "__debug__"), ("conv2d", {"out_channels": 1, "kernel_size": 1}, "__w"),
              ("flatten", {}, "__f__"), ("linear", {"out_features": 2}, "__l"), ("cross_entropy", {}, "loss")])
    model = compile_model(g).eval()
    namespace: dict = {"__name__": "special"}
    exec(compile(generate_python(g), "special.py", "exec"), namespace)
    net = namespace["Special"]()
    net.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 1, 3, 3)
    with torch.no_grad():
        assert torch.equal(net.eval()(x), model(x))


def test_generated_names_must_be_identifiers():
    with pytest.raises(GraphError, match="not a Python name"):
        generate_training_script('m"\nimport os', "Net")
    with pytest.raises(GraphError, match="not a Python name"):
        generate_training_script("mod", "Net(); import os; x")
    with pytest.raises(GraphError, match="not a Python name"):
        generate_python(small_graph("n", 2), class_name="A\nimport os")


# Module-level statements the generator writes, in order: nothing else may appear.
# docstring, imports, INPUT_SHAPE CLASS_NAMES MEAN STD FROZEN LR_MULT FROZEN_BN_EVAL, the class, load_weights, param_groups, __main__
_EXPECTED_BODY = ["Expr", "Import", "ImportFrom", *["Assign"] * 7, "ClassDef", "FunctionDef", "FunctionDef", "If"]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=40), class_names=st.lists(st.text(max_size=12), min_size=2, max_size=4), note=st.text(max_size=20))
def test_arbitrary_text_only_ever_becomes_literals(name, class_names, note):
    g = small_graph(name, len(class_names))
    src = generate_python(g, class_names=class_names, source_note=note)
    tree = ast.parse(src)  # no SyntaxError, whatever the text (NUL, surrogates, quotes, backslashes)
    assert [type(s).__name__ for s in tree.body] == _EXPECTED_BODY
    assert f"(network '{name}')" in ast.get_docstring(tree, clean=False)
    assert note in ast.get_docstring(tree, clean=False)
    assigns = {s.targets[0].id: ast.literal_eval(s.value) for s in tree.body if isinstance(s, ast.Assign)}
    assert assigns["CLASS_NAMES"] == class_names
    src.encode("utf-8")  # writable as UTF-8 (lone surrogates are escaped, not written raw)
    record("codegen: arbitrary names and class names", "literal only")


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=30))
def test_doc_text_round_trips_inside_a_docstring(text):
    assert ast.literal_eval('"""' + doc_text(text) + '"""') == text
    record("codegen: docstring escaping", "round trip")
    assert "\n" not in doc_text(text) and '"' not in doc_text(text).replace('\\"', "")


def test_hostile_text_in_onnx_and_safetensors_metadata_is_stored_as_data(tmp_path):
    """Metadata holds user text as data: strings as they are, lists as JSON (which escapes what is
    not valid Unicode), and a name with a lone surrogate (from a file name) no longer crashes the
    writer: it is stored with the surrogate backslash-escaped."""
    onnx = pytest.importorskip("onnx")
    name = payloads("onnx")[0]
    labels = ["a\x00", 'b"""', "\udcff"]
    source = source_from_graph(small_graph(name, 3), class_names=labels)
    export(source, "onnx", tmp_path / "m.onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert props["cnn_studio.name"] == name
    assert json.loads(props["cnn_studio.class_names"]) == labels
    export(source, "safetensors", tmp_path / "m.safetensors")
    meta = read_safetensors_metadata(tmp_path / "m.safetensors")
    assert meta["name"] == name and meta["class_names"] == labels
    odd = source_from_graph(small_graph("net\ud800", 3))
    export(odd, "onnx", tmp_path / "odd.onnx")
    export(odd, "safetensors", tmp_path / "odd.safetensors")
    export(odd, "torchscript", tmp_path / "odd.pt")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "odd.onnx")).metadata_props}
    assert props["cnn_studio.name"] == "net\\ud800"
    assert read_safetensors_metadata(tmp_path / "odd.safetensors")["name"] == "net\\ud800"


_TRICKY_IDS = sorted(
    {n for n in __import__("keyword").kwlist + dir(__import__("builtins")) if n.isidentifier() and n.isascii() and len(n) <= 64}
    | {"self", "torch", "nn", "x", "input", "INPUT_SHAPE", "CLASS_NAMES", "MEAN", "STD", "load_weights", "training", "forward", "_x", "__class__",
       "__x", "__mangled_", "__debug__", "match", "case", "type", "_"}
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_TRICKY_IDS), st.from_regex(r"_{0,2}[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)), min_size=7, max_size=7, unique=True), st.data())
def test_generated_forward_equals_the_model_whatever_the_ids(ids, data):
    """Any valid ids, keywords, builtins and the generated module's own names included, give a
    module whose network computes exactly what the compiled model computes with the same weights."""
    from cnn_studio.core.graph import is_valid_id

    ids = [i for i in ids if is_valid_id(i)]
    if len(ids) < 7:
        record("codegen: tricky node ids", "skipped")
        return
    g = Graph("tricky")
    inp, conv, relu, add, flat, fc, loss = ids
    chain(g, [("input", {"channels": 2, "height": 5, "width": 5}, inp), ("conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, conv), ("relu", {}, relu)])
    g.add_node("add", {"inputs": 2}, node_id=add)
    g.connect(relu, add, 0, 0)
    g.connect(inp, add, 0, 1)
    chain(g, [("flatten", {}, flat), ("linear", {"out_features": 3}, fc), ("cross_entropy", {}, loss)], start=add)
    torch.manual_seed(data.draw(st.integers(0, 5)))
    model = compile_model(g).eval()
    namespace: dict = {"__name__": "tricky_module"}
    exec(compile(generate_python(g), "tricky_module.py", "exec"), namespace)  # our own output, from checked ids
    net = namespace["Tricky"]()
    net.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 2, 5, 5)
    with torch.no_grad():
        assert torch.equal(net.eval()(x), model(x))
    record("codegen: tricky node ids", "equal to the model")
