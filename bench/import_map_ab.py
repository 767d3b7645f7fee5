"""The importer's mapping, A/B in one process (helper import37): the CPU per release of
`map_release` (importer_map.py and the modules it calls: importer_ids.py,
importer_unrecorded.py), A those files at a git revision (`--base`, loaded from git beside
this checkout's), B this checkout's, in alternating blocks over the same inputs.

    .venv/bin/python -m bench.import_map_ab --base HEAD~1 --blocks 20

The inputs are what the importer maps for the bench suite's package (`--processes`
ordinary processes of four releases: `bench.suites.ocds_import.package`): the importer runs
once in this process against a stand-in registry that accepts everything, and every call of
`map_release` is kept (the release, the process compiled with it, the state before it). Each
block then maps every kept input again; only this thread's CPU is counted
(`time.thread_time`), so the machine's load moves both sides alike. Before timing, A's and
B's results are compared on every input (the commands' JSON forms and the state after):
a B that maps differently stops the run.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AUDIT = "services/audit/src/audit/ocds"
# In import order: each module's own imports of the others bind to A's.
MODULES = ("importer_ids", "importer_unrecorded", "importer_map")

Inputs = list[tuple[Any, ...]]


def load_revision(revision: str) -> types.ModuleType:
    """A's `importer_map` (with A's `importer_ids` and `importer_unrecorded` under it),
    loaded from `revision`; this checkout's modules are left in place."""
    saved = {m: sys.modules.get(f"audit.ocds.{m}") for m in MODULES}
    loaded: dict[str, types.ModuleType] = {}
    try:
        for m in MODULES:
            name = f"audit.ocds.{m}"
            src = subprocess.check_output(
                ["git", "-C", str(ROOT), "show", f"{revision}:{AUDIT}/{m}.py"]
            )
            module = types.ModuleType(name)
            module.__file__ = f"<{name}@{revision}>"
            sys.modules[name] = module  # the next module's `from ... import` finds A's
            exec(compile(src, module.__file__, "exec"), module.__dict__)
            loaded[m] = module
    finally:
        for m, own in saved.items():
            if own is not None:
                sys.modules[f"audit.ocds.{m}"] = own
    return loaded["importer_map"]


async def _accept(subject: str, payload: bytes) -> bytes:
    """A stand-in registry: every command accepted (counted), nothing stored."""
    command = json.loads(payload)["command"]

    def process(p: dict[str, Any]) -> dict[str, Any]:
        releases = [
            {"release_id": r["release_id"],
             "replies": [{"status": "accepted", "command_id": c["command_id"],
                          "events": len(c["facts"]) + 1, "duplicate": False}
                         for c in [r["tender"], *r.get("contracts", [])]]}
            for r in p["releases"]
        ]  # fmt: skip
        return {"status": "imported", "command_id": p["command_id"], "releases": releases}

    if "processes" in command:
        processes = [process(p) for p in command["processes"]]
        group = {"status": "imported", "command_id": command["command_id"], "processes": processes}
        return json.dumps(group).encode()
    one = process(command)
    for r in one["releases"]:  # one process's answer: full replies
        r["replies"] = [{**x, "events": [], "consistency_token": ""} for x in r["replies"]]
    return json.dumps(one).encode()


def inputs(processes: int, files: tuple[Path, ...] = ()) -> Inputs:
    """Every `map_release` call the importer makes for the bench's package, its arguments
    copied as they were passed; then those for each of `files` (a package or release as
    `audit ocds import` reads it: the real feeds shipped as test fixtures, import40), each
    imported on its own."""
    from audit.ocds import importer
    from audit.ocds.importer_read import read
    from bench.suites.ocds_import import package
    from eventstore.clock import SystemClock
    from eventstore.memory import InMemoryEventStore

    kept: Inputs = []
    real = vars(importer)["map_release"]  # (the name the importer calls, swapped here)

    def keep(*args: Any) -> Any:
        kept.append(copy.deepcopy(args))
        return real(*args)

    setattr(importer, "map_release", keep)  # noqa: B010
    try:
        sources = [(package(processes), "bench")] if processes else []
        sources += [(path.read_bytes(), path.stem) for path in files]
        for data, publisher in sources:
            items = list(read(data, publisher))
            store = InMemoryEventStore(SystemClock())
            asyncio.run(importer.import_items(items, _accept, store))
    finally:
        setattr(importer, "map_release", real)  # noqa: B010
    return kept


def outcome(map_release: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """What `map_release` makes of `args` (copied first: it must not change them): the
    commands' JSON forms and the state after, or the refusal's type, path and reason."""
    try:
        return _result(map_release(*copy.deepcopy(args)))
    except ValueError as refused:  # Unmappable, Unrecordable (both of that side's modules)
        return (type(refused).__name__, getattr(refused, "path", None), str(refused))


def _result(mapped: Any) -> tuple[Any, ...]:
    state = {k: v for k, v in mapped.state.__dict__.items()}
    return (
        mapped.tender.model_dump(mode="json"),
        [c.model_dump(mode="json") for c in mapped.contracts],
        state,
    )


def forget(map_release: Callable[..., Any]) -> None:
    """Empty a side's `importer_ids` memos of ids and days, so that each block maps its
    releases as an import run first sees them, not from the block before (import40 tried
    such memos: warm from the block before they looked 8% faster, emptied they were 4%
    slower, and were taken out). A revision without them has nothing to empty."""
    ids = map_release.__globals__["day"].__globals__  # that side's importer_ids
    for name in ("_DAYS", "_IDENTS"):
        memo = ids.get(name)
        if isinstance(memo, dict):
            memo.clear()


FIXTURES = ROOT / "tests/service/data/ocds"


def _fixtures() -> tuple[Path, ...]:
    """The OCDS files shipped as test fixtures: the standard's published examples and a real
    feed (Portugal's BASE)."""
    return tuple(sorted(FIXTURES.rglob("*.json")))


def _block(map_release: Callable[..., Any], kept: Inputs) -> float:
    forget(map_release)
    started = time.thread_time()
    for args in kept:
        map_release(*args)
    return time.thread_time() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="A's git revision")
    parser.add_argument(
        "--head",
        default=None,
        help="B's git revision, loaded from git as A is (import40: a module run from exec'd"
        " source and one imported from its file differ by a few percent, in A's favour)",
    )
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=20, help="per side")
    args = parser.parse_args(argv)
    from audit.ocds import importer_map

    a_map = load_revision(args.base).map_release
    b_map = importer_map.map_release if args.head is None else load_revision(args.head).map_release
    kept = inputs(args.processes)
    for each in kept + inputs(0, _fixtures()):  # (the fixtures are only compared)
        if outcome(a_map, each) != outcome(b_map, each):
            raise SystemExit(f"A and B map release {each[0].get('id')!r} differently")
    a: list[float] = []
    b: list[float] = []
    ratios: list[float] = []
    load = os.getloadavg()[0]
    _block(a_map, kept), _block(b_map, kept)  # warm both
    for n in range(args.blocks):
        if n % 2 == 0:
            x, y = _block(a_map, kept), _block(b_map, kept)
        else:
            y, x = _block(b_map, kept), _block(a_map, kept)
        a.append(x)
        b.append(y)
        ratios.append(y / x)
    per = [1e6 * statistics.median(s) / len(kept) for s in (a, b)]
    lower = sum(r < 1 for r in ratios)
    print(f"{len(kept)} releases mapped per block, {args.blocks} pairs;"
          f" load {load:.1f} -> {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"A ({args.base}): {per[0]:.1f} us CPU per release (median)")
    print(f"B ({args.head or 'this checkout'}): {per[1]:.1f} us CPU per release (median)")
    print(
        f"B/A per pair, median {statistics.median(ratios):.3f}x (B lower in {lower} of"
        f" {len(ratios)})"
    )


if __name__ == "__main__":
    main()
