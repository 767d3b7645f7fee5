"""The mapping's CPU with and without import28's completion of the compile from what was
recorded (`with_recorded`), A/B in one process: the bench suite's processes mapped release
by release (`map_release` on the compile before it, the state carried), by importer_map as
at a given commit (A) and as in the work tree (B), in alternating pairs.

    .venv/bin/python -m bench.import28_map_ab --processes 300 --pairs 5 --base HEAD~4
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from audit.ocds.importer import _Compiling
from bench.suites.ocds_import import package

MAP = "services/audit/src/audit/ocds/importer_map.py"


def _module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _compiled(releases: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out, compiling = [], _Compiling([])
    for release in releases:
        out.append((release, compiling.with_release(release)))
        compiling.take(release)
    return out


def _map_all(m: ModuleType, work: list[list[tuple[dict[str, Any], dict[str, Any]]]]) -> float:
    started = time.process_time()
    for process in work:
        state = m.ProcessState()
        for release, compiled in process:
            state = m.map_release(release, compiled, state, "bench", None).state
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--base", default="HEAD~4")
    args = parser.parse_args()
    old = subprocess.run(["git", "show", f"{args.base}:{MAP}"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "importer_map_base.py"
        path.write_text(old)
        a = _module("audit.ocds.importer_map_base", path)
    import audit.ocds.importer_map as b

    by_process: dict[str, list[dict[str, Any]]] = {}
    for r in json.loads(package(args.processes))["releases"]:
        by_process.setdefault(r["ocid"], []).append(r)
    work = [_compiled(sorted(rs, key=lambda r: r["date"])) for rs in by_process.values()]
    n = sum(len(p) for p in work)
    _map_all(a, work), _map_all(b, work)  # warm
    print(f"{n} releases, {len(work)} processes; load {Path('/proc/loadavg').read_text().strip()}")
    ratios = []
    for pair in range(args.pairs):
        order = [("A", a), ("B", b)] if pair % 2 == 0 else [("B", b), ("A", a)]
        took = {name: _map_all(m, work) for name, m in order}
        ratios.append(took["B"] / took["A"])
        print(f"pair {pair + 1}: A {took['A'] * 1e6 / n:.1f} us/release, B"
              f" {took['B'] * 1e6 / n:.1f} us/release, B/A {ratios[-1]:.3f}")  # fmt: skip
    ratios.sort()
    print(f"B/A median {ratios[len(ratios) // 2]:.3f} (min {ratios[0]:.3f}, max {ratios[-1]:.3f})")


if __name__ == "__main__":
    main()
