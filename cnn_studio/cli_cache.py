"""``cnn-studio cache [--clear] [--json]``: what the speed probe's cache and the compile cache hold.

The speed cache (``<studio home>/speed_cache.json``) keeps each network's chosen training mode, so
the next run of it skips the probe, and which networks were compiled; the compile cache
(``<studio home>/compile-cache``, unless ``TORCHINDUCTOR_CACHE_DIR`` names another folder) keeps
torch.compile's kernels, so a network compiled once compiles again in seconds. ``--clear`` removes
both (a folder the user chose is left alone and said so): the next run probes and compiles afresh.
"""
from __future__ import annotations

import json

from .cli import UsageError


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "cache",
        help="show or clear the speed probe's cache and the compile cache",
        description="Show where the speed probe's choices and torch.compile's kernels are cached and how much "
        "they hold; --clear removes them, so the next run probes and compiles afresh.",
    )
    s.add_argument("--clear", action="store_true", help="remove the speed cache and the studio's compile cache")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_cache)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} kB" if n >= 2**10 else f"{n} B"


def cmd_cache(args) -> int:
    from .training import speed

    removed: list[str] = []
    if args.clear:
        try:
            removed = speed.clear_caches()
        except OSError as e:
            raise UsageError(f"could not remove {e.filename or 'a cache file'}: {e.strerror or e}; "
                             "close other CNN Studio windows or runs and try again") from None
    r = speed.cache_report()
    if args.json:
        print(json.dumps({**r, "removed": removed}))
        return 0
    for path in removed:
        print(f"removed {path}")
    state = f"{r['entries']} network(s) with a chosen mode, {r['compile_records']} compile record(s)"
    print(f"speed cache:   {r['speed_cache']}  ({state})")
    if r["speed_cache_problem"]:
        print(f"               {r['speed_cache_problem']}: it is ignored and rewritten by the next run")
    whose = "the studio's" if r["compile_cache_is_studios"] else "set by TORCHINDUCTOR_CACHE_DIR"
    held = _size(r["compile_cache_bytes"]) if r["compile_cache_exists"] else "empty"
    print(f"compile cache: {r['compile_cache']}  ({whose}; {held})")
    if args.clear and not r["compile_cache_is_studios"]:
        print("               not cleared: it is the folder TORCHINDUCTOR_CACHE_DIR names; remove it yourself if you mean to")
    return 0
