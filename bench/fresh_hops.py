"""Each hop of a freshness probe's write, p50 / p99, from the freshness suite's results.

`python -m bench.fresh_hops RESULT.json ...` prints, for each run (a `python -m bench --quick
--only replay --only freshness` result), the polling and the token figure and every stage the
suite timed for their probes -- mutation sent -> its event stored in the stream -> reply;
stored -> at the projector -> decoded -> runner thread -> prepared -> the writer turn ->
committed -> announced -> heard (by a connection of the bench's, as the gateway's hears it)
-> visible in an answer -- each its own p50 / p99 over the probes (ms; a stage's p99 and the
figure's p99 are different probes: they do not add up; the figure's note attributes its own
band), with the run's load average.

`python -m bench.fresh_hops --a A.json ... --b B.json ...` compares two codes measured as
alternating runs: per stage, the median over each side's runs of the p50 and of the p99, and
the ratio B / A (below 1: B is faster).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FIGURES = {
    "polling": "mutation reply to visible in a GraphQL query (polling)",
    "token": "mutation reply to answer of a query with its consistency token",
}
_LOAD = re.compile(r"load average ([0-9.]+) before the probes, ([0-9.]+) after")


def read(path: Path) -> dict[str, dict[str, Any]]:
    """Per figure ("polling", "token"): its p50 / p99, its stages, the run's load."""
    body = json.loads(path.read_text())
    found: dict[str, dict[str, Any]] = {}
    for figure in body.get("figures", []):
        if figure.get("suite") != "freshness":
            continue
        for short, label in FIGURES.items():
            if not figure["name"].startswith(label):
                continue
            entry = found.setdefault(short, {"stages": {}, "load": "", "value": {}})
            entry["value"][figure["name"][-3:]] = figure.get("value")
            stages = (figure.get("extra") or {}).get("stages") or {}
            entry["stages"] = {
                k: v for k, v in stages.items() if isinstance(v, dict) and "p50_ms" in v
            }
            # Every commit of each read model while the figure's probes ran (hundreds, not
            # the probes' hundred): its wait for the writer and its hold of it.
            seen: list[Any] = []
            for key, commits in (stages.get("commits per read model") or {}).items():
                if commits in seen:  # a member of the same shared transactions: said once
                    continue
                seen.append(commits)
                for step in ("received -> turn", "turn -> committed"):
                    if isinstance(commits.get(step), dict):
                        entry["stages"][f"all {key} commits: {step}"] = commits[step]
            loads = _LOAD.search(figure.get("note") or "")
            if loads:
                entry["load"] = f"{loads.group(1)} -> {loads.group(2)}"
    return found


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:8.1f}"


def table(path: Path) -> str:
    lines = [f"== {path.name}"]
    for short, entry in read(path).items():
        value = entry["value"]
        lines.append(
            f"-- {short}: p50 {_ms(value.get('p50'))} p99 {_ms(value.get('p99'))} ms"
            f" (load {entry['load']})"
        )
        for name, v in entry["stages"].items():
            lines.append(f"   {name:<72} {_ms(v['p50_ms'])} {_ms(v['p99_ms'])}")
    return "\n".join(lines)


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def _ratio(b: float | None, a: float | None) -> str:
    if a is None or b is None or a <= 0 or b < 0:
        return "    -"
    return f"{b / a:5.2f}"


def compare(a: Sequence[Path], b: Sequence[Path]) -> str:
    """Per figure and stage: median p50 / p99 of A's runs and of B's, and B / A."""
    runs_a = [read(p) for p in a]
    runs_b = [read(p) for p in b]
    lines = [f"A: {', '.join(p.name for p in a)}", f"B: {', '.join(p.name for p in b)}"]
    for short in FIGURES:

        def values(
            runs: list[dict[str, dict[str, Any]]], stage: str | None, key: str, short: str = short
        ) -> list[float | None]:
            got: list[float | None] = []
            for run in runs:
                entry = run.get(short)
                if entry is None:
                    continue
                if stage is None:
                    got.append(entry["value"].get(key))
                else:
                    s = entry["stages"].get(stage)
                    got.append(s[f"{key}_ms"] if s else None)
            return got

        loads_a = [r[short]["load"] for r in runs_a if short in r]
        loads_b = [r[short]["load"] for r in runs_b if short in r]
        lines.append(f"-- {short} (loads A: {'; '.join(loads_a)} | B: {'; '.join(loads_b)})")
        head = f"{'A p50':>8} {'B p50':>8} {'B/A':>5}  {'A p99':>8} {'B p99':>8} {'B/A':>5}"
        lines.append(f"   {'':<64} {head}")
        a50, b50 = _median(values(runs_a, None, "p50")), _median(values(runs_b, None, "p50"))
        a99, b99 = _median(values(runs_a, None, "p99")), _median(values(runs_b, None, "p99"))
        lines.append(
            f"   {'THE FIGURE (median of the runs)':<64} {_ms(a50)} {_ms(b50)} {_ratio(b50, a50)}"
            f"  {_ms(a99)} {_ms(b99)} {_ratio(b99, a99)}"
        )
        names: list[str] = []
        for run in [*runs_a, *runs_b]:
            for name in run.get(short, {}).get("stages", {}):
                if name not in names:
                    names.append(name)
        for name in names:
            a50, b50 = _median(values(runs_a, name, "p50")), _median(values(runs_b, name, "p50"))
            a99, b99 = _median(values(runs_a, name, "p99")), _median(values(runs_b, name, "p99"))
            lines.append(
                f"   {name[:64]:<64} {_ms(a50)} {_ms(b50)} {_ratio(b50, a50)}"
                f"  {_ms(a99)} {_ms(b99)} {_ratio(b99, a99)}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fresh_hops", description=__doc__)
    parser.add_argument("results", nargs="*", type=Path, help="freshness results, one table each")
    parser.add_argument("--a", nargs="+", type=Path, default=[], help="code A's runs")
    parser.add_argument("--b", nargs="+", type=Path, default=[], help="code B's runs")
    args = parser.parse_args(argv)
    if args.a or args.b:
        print(compare(args.a, args.b))
    for path in args.results:
        print(table(path))


if __name__ == "__main__":
    main()
