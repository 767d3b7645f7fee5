"""Where the suite's time goes, per test and per module (suite17): a pytest plugin and its ranking.

    GT_SUITE_TIMING=/tmp/run/t python -m pytest -n 2 --dist loadscope -p tests.support.suite_timing
    python -m tests.support.suite_timing /tmp/run/t [wall|cpu] [N]

Each test's setup, call and teardown: wall time, and CPU of the worker and of the children
it reaped meanwhile (a `make run`, a CLI; a server a test leaves running is not counted), one
JSON line per test in `<prefix>.<worker>.jsonl`, with the load average when it ended. The
ranking sums them per module, with the worker(s) that ran it (bench/findings.md, suite17).
A measuring tool: it asserts nothing.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import resource
import sys
import time
from collections.abc import Generator
from typing import Any

import pytest

PHASES = ("setup", "call", "teardown")
_phases: dict[str, dict[str, list[float]]] = {}


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, reaped.ru_utime + reaped.ru_stime


def _timed(item: pytest.Item, phase: str) -> Generator[None, Any, Any]:
    wall, (own, children) = time.monotonic(), _cpu()
    try:
        return (yield)
    finally:
        own_after, children_after = _cpu()
        _phases.setdefault(item.nodeid, {})[phase] = [
            round(time.monotonic() - wall, 4),
            round(own_after - own, 4),
            round(children_after - children, 4),
        ]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _timed(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _timed(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield from _timed(item, "teardown"))
    finally:
        prefix = os.environ.get("GT_SUITE_TIMING")
        record: dict[str, Any] = dict(_phases.pop(item.nodeid, {}))
        if prefix:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            record.update(
                nodeid=item.nodeid, worker=worker, end=time.time(), load=os.getloadavg()[0]
            )
            with open(f"{prefix}.{worker}.jsonl", "a") as out:
                out.write(json.dumps(record) + "\n")


def rank(prefix: str, by: str = "wall", most: int = 40) -> list[str]:
    """Per module: wall, CPU, tests, mean load, workers; the `most` largest by `by`."""
    modules: dict[str, dict[str, Any]] = collections.defaultdict(
        lambda: {"wall": 0.0, "cpu": 0.0, "tests": 0, "load": 0.0, "workers": set()}
    )
    for name in glob.glob(f"{prefix}.*.jsonl"):
        with open(name) as lines:
            for line in lines:
                record = json.loads(line)
                module = modules[record["nodeid"].split("::", 1)[0]]
                for phase in PHASES:
                    wall, own, children = record.get(phase, (0.0, 0.0, 0.0))
                    module["wall"] += wall
                    module["cpu"] += own + children
                module["tests"] += 1
                module["load"] += record["load"]
                module["workers"].add(record["worker"])
    ranked = sorted(modules.items(), key=lambda kv: -kv[1][by])[:most]
    total = sum(m["tests"] for m in modules.values())
    lines = [
        f"{total} tests; wall {sum(m['wall'] for m in modules.values()):.0f} s,"
        f" CPU {sum(m['cpu'] for m in modules.values()):.0f} s (summed over the workers)",
        "    wall     cpu tests  load workers module",
    ]
    for path, m in ranked:
        lines.append(
            f"{m['wall']:8.1f} {m['cpu']:7.1f} {m['tests']:5d} {m['load'] / m['tests']:5.1f}"
            f" {','.join(sorted(m['workers'])):7} {path}"
        )
    return lines


if __name__ == "__main__":
    args = sys.argv[1:]
    print("\n".join(rank(args[0], *(args[1:2] or ["wall"]), *[int(a) for a in args[2:3]])))
