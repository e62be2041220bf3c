"""allocator.py: freed tensor memory kept for the next step (glibc malloc). The decision is pure; the
effect is measured in fresh interpreters by page faults (a re-allocation that faults its pages in
again against one that reuses them), never by time."""
import json
import subprocess
import sys
import textwrap

import pytest

from cnn_studio import allocator as memory

GLIBC = ("glibc", "2.36")


@pytest.mark.parametrize("env, libc, plat, expect", [
    ({}, GLIBC, "linux", None),
    ({"CNN_STUDIO_KEEP_FREED_MEMORY": "0"}, GLIBC, "linux", "CNN_STUDIO_KEEP_FREED_MEMORY=0"),
    ({"CNN_STUDIO_KEEP_FREED_MEMORY": "off"}, GLIBC, "linux", "CNN_STUDIO_KEEP_FREED_MEMORY=off"),
    ({"CNN_STUDIO_KEEP_FREED_MEMORY": "1"}, GLIBC, "linux", None),
    ({}, GLIBC, "darwin", "not glibc (darwin)"),
    ({}, ("", ""), "linux", "not glibc (unknown C library)"),
    ({}, ("musl", "1.2"), "linux", "not glibc (musl)"),
    ({"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}, GLIBC, "linux", "another allocator is preloaded"),
    ({"LD_PRELOAD": "/opt/libtcmalloc_minimal.so"}, GLIBC, "linux", "another allocator is preloaded"),
    ({"LD_PRELOAD": "/opt/libfoo.so"}, GLIBC, "linux", None),
    ({"MALLOC_ARENA_MAX": "2"}, GLIBC, "linux", "glibc's malloc settings were set"),
    ({"MALLOC_MMAP_THRESHOLD_": "65536"}, GLIBC, "linux", "glibc's malloc settings were set"),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}, GLIBC, "linux", "glibc's malloc settings were set"),
    ({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2"}, GLIBC, "linux", None),
])
def test_the_allocator_is_left_alone_where_it_would_not_help_or_was_chosen(env, libc, plat, expect):
    got = memory.why_not(env, libc, plat)
    assert (got is None) if expect is None else (got is not None and got.startswith(expect))


_PROBE = textwrap.dedent("""
    import json, resource, sys, threading
    from cnn_studio import allocator
    out = {}
    if sys.argv[1] == "early":  # as the entry points do: before torch starts threads
        out["note"] = allocator.keep_freed_memory()
    import torch

    def faults(n=4, mb=48):  # allocate, touch and free a buffer of a training step's size, n times
        for _ in range(12):  # warm-up: the heap's free blocks settle (aligned blocks fragment it a little)
            torch.empty(mb << 18).fill_(1.0)
        r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(n):
            torch.empty(mb << 18).fill_(1.0)
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / n

    def in_thread():
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("f", faults(mb=8)))
        t.start(); t.join()
        return box["f"]

    out["before"] = faults()
    if sys.argv[1] == "late":  # a library user's Trainer.fit() after torch has run
        out["note"] = allocator.keep_freed_memory()
    out["after"], out["thread"] = faults(), in_thread()
    out["released"] = allocator.release_freed_memory()
    print(json.dumps(out))
""")


def _probe(mode, env=None):
    import os
    r = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(memory.why_not() is not None, reason="glibc's allocator only (memory.why_not)")
def test_kept_memory_is_reused_without_page_faults():
    pages = (48 << 20) // 4096
    plain = _probe("plain")
    assert plain["after"] > pages / 2  # each allocation faults its pages in again
    assert plain["released"] is False
    early = _probe("early")
    assert "kept for the next step" in early["note"] and early["released"] is True
    assert early["before"] < pages / 20 and early["after"] < pages / 20
    late = _probe("late")  # set after other threads allocated: the main thread's memory is kept
    assert late["before"] > pages / 2 and late["after"] < pages / 20
    opted_out = _probe("early", {"CNN_STUDIO_KEEP_FREED_MEMORY": "0"})
    assert opted_out["after"] > pages / 2 and "goes back to the OS as usual" in opted_out["note"]


def test_the_command_line_sets_it_first_and_a_run_records_it(bundle, tmp_path):
    """``cnn-studio`` sets it before anything else, and a run's summary says what the allocator does."""
    code = ("from cnn_studio import cli, allocator; print('BEFORE', allocator.note()); cli.main(['templates']); "
            "print('KEPT', allocator.kept()); print('NOTE', allocator.note())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert ("KEPT True" in r.stdout) == (memory.why_not() is None)
    assert "BEFORE None" in r.stdout and "NOTE None" not in r.stdout  # nothing decided until an entry point runs

    from training_helpers import tiny_graph

    from cnn_studio.training import TrainConfig, Trainer
    s = Trainer(tiny_graph(bundle.input_shape(), bundle.num_classes), bundle,
                TrainConfig(epochs=1, batch_size=32, device="cpu", num_threads=1, layer_stats_every=0),
                run_dir=tmp_path / "r").fit()
    assert s["memory"] == {"kept": memory.kept(), "note": memory.keep_freed_memory()}
    assert memory.note() == memory.keep_freed_memory()  # the getter reads what the first call decided
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["memory"]["note"] == s["memory"]["note"]
