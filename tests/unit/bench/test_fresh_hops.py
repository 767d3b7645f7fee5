"""`bench.fresh_hops`: each hop of the freshness figures per run, and two codes' runs compared
(the median of each side, B / A)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.fresh_hops import compare, read, table

POLLING = "mutation reply to visible in a GraphQL query (polling)"
TOKEN = "mutation reply to answer of a query with its consistency token"


def _figure(label: str, p: str, value: float, committed: tuple[float, float]) -> dict[str, Any]:
    return {
        "suite": "freshness",
        "name": f"{label}, {p}",
        "value": value,
        "note": "under 100 cmd/s; load average 1.5 before the probes, 3.0 after; p50 band ...",
        "extra": {
            "stages": {
                "turn -> committed": {"p50_ms": committed[0], "p99_ms": committed[1]},
                "read models": ["contracts_v5"],  # not a stage: left out
                "  its subscriber asked for it -> fetched": None,  # not timed: left out
            }
        },
    }


def _run(path: Path, polling: tuple[float, float], committed: tuple[float, float]) -> Path:
    figures = [
        _figure(POLLING, "p50", polling[0], committed),
        _figure(POLLING, "p99", polling[1], committed),
        _figure(TOKEN, "p50", 10.0, committed),
        _figure(TOKEN, "p99", 20.0, committed),
        {"suite": "replay", "name": "other", "value": 1.0},
    ]
    path.write_text(json.dumps({"figures": figures}))
    return path


def test_a_run_s_hops_per_figure(tmp_path: Path) -> None:
    run = _run(tmp_path / "r.json", (30.0, 100.0), (5.0, 40.0))
    found = read(run)
    assert set(found) == {"polling", "token"}
    assert found["polling"]["value"] == {"p50": 30.0, "p99": 100.0}
    assert found["polling"]["stages"] == {"turn -> committed": {"p50_ms": 5.0, "p99_ms": 40.0}}
    assert found["polling"]["load"] == "1.5 -> 3.0"
    assert "turn -> committed" in table(run)


def test_two_codes_compared_by_the_median_of_their_runs(tmp_path: Path) -> None:
    a = [
        _run(tmp_path / f"a{i}.json", (30.0, p99), (5.0, c99))
        for i, (p99, c99) in enumerate([(100.0, 40.0), (120.0, 60.0), (300.0, 50.0)])
    ]
    b = [
        _run(tmp_path / f"b{i}.json", (30.0, p99), (5.0, c99))
        for i, (p99, c99) in enumerate([(60.0, 10.0), (90.0, 20.0), (50.0, 25.0)])
    ]
    text = compare(a, b)
    polling = text.split("-- token")[0]
    figure = next(line for line in polling.splitlines() if "THE FIGURE" in line).split()
    # The median p99 of A's runs 120, of B's 60: B / A 0.50; the p50s equal: 1.00.
    assert figure[-3:] == ["120.0", "60.0", "0.50"]
    assert figure[-6:-3] == ["30.0", "30.0", "1.00"]
    committed = next(line for line in polling.splitlines() if "turn -> committed" in line)
    assert committed.split()[-3:] == ["50.0", "20.0", "0.40"]
