"""The costs suite's record (CPU per item and the profile's top entries, as the results JSON keeps
it) and docs/benchmarks.md's "What it costs" section rendered from kept results: content and
order, never a time."""

from __future__ import annotations

import cProfile
import json
import pstats
import time
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.cost import ROOT, where
from bench.figures import not_measured
from bench.suites.costs import PLAIN, RAW, cost_figure

ITEMS = 3


def square_sum(n: int) -> int:
    return sum(i * i for i in range(n))


def cube_sum(n: int) -> int:
    return sum(i * i * i for i in range(n))


def work() -> int:  # two steps of about the same size
    return square_sum(20_000) + cube_sum(20_000) + len(sorted(range(100)))


def wrapper() -> int:  # hands all its time to one function of ours
    return work()


def profiled() -> pstats.Stats:
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    for _ in range(ITEMS):
        wrapper()
    profile.disable()
    return pstats.Stats(profile)


def test_a_cost_is_recorded_with_its_load_and_the_profiles_top_five_per_item() -> None:
    figure = cost_figure(
        "registry AmendContract: CPU per command",
        "command",
        [(900.0, 99.0), (812.34, 101.26), (700.0, 130.0)],
        RAW,
        300,
        profiled(),
        ITEMS,
        [3.5, 2.0, 1.0],
        note="a note",
        client_cpu_us=40.0,
    )
    body = json.loads(json.dumps(figure.as_json()))  # as the results file keeps it

    assert (body["suite"], body["unit"], body["value"], body["baseline"]) == (
        "costs",
        "us",
        700.0,  # each side's least round
        99.0,
    )
    assert body["higher_is_better"] is False
    assert body["ratio"] == round(700 / 99, 3)
    extra = body["extra"]
    assert (extra["per"], extra["measured"], extra["client_cpu_us"]) == ("command", 300, 40.0)
    assert extra["rounds"] == [[900.0, 99.0], [812.3, 101.3], [700.0, 130.0]]
    assert extra["load"]["before"] == [3.5, 2.0, 1.0]
    assert len(extra["load"]["after"]) == 3
    profile = extra["profile"]
    assert profile["items"] == ITEMS
    assert len(profile["own"]) == 5
    assert len(profile["cumulative"]) == 5
    keys = {"function", "calls", "own_us", "cumulative_us", "own_share", "cumulative_share"}
    assert all(set(e) == keys for e in profile["own"] + profile["cumulative"])
    owns = [e["own_us"] for e in profile["own"]]
    assert owns == sorted(owns, reverse=True)
    # The cumulative table keeps to the project's own code (this module here), the wrapper
    # left out for the function it hands its time to; calls per item.
    mine = {e["function"].rsplit("(", 1)[1][:-1]: e for e in profile["cumulative"]}
    assert all(e["function"].startswith("tests/unit/bench/test_costs.py:") for e in mine.values())
    assert "wrapper" not in mine
    assert {"work", "square_sum", "cube_sum"} <= set(mine)
    assert [mine[f]["calls"] for f in ("work", "square_sum", "cube_sum")] == [1, 1, 1]
    assert profile["cumulative"][0]["function"].endswith("(work)")  # it holds the other two


def test_a_profile_entry_names_its_function_from_the_package_on() -> None:
    assert where("~", 0, "<built-in method builtins.len>") == "<built-in method builtins.len>"
    venv = "/x/.venv/lib/python3.11/site-packages/nats/aio/client.py"
    assert where(venv, 12, "publish") == "nats/aio/client.py:12(publish)"
    assert (
        where("/usr/lib/python3.11/asyncio/events.py", 80, "_run") == "asyncio/events.py:80(_run)"
    )
    ours = f"{ROOT}/eventstore/src/eventstore/store.py"
    assert where(ours, 5, "append") == "eventstore/store.py:5(append)"
    assert where(f"{ROOT}/bench/suites/costs.py", 7, "run") == "bench/suites/costs.py:7(run)"


def _run(finished_at: str, figures: list[dict[str, Any]]) -> dict[str, Any]:
    machine = dict.fromkeys(
        ("cpu", "memory_gib", "os", "python", "nats_server", "postgresql", "sqlite"), "x"
    )
    return {
        "mode": "quick.partial",
        "finished_at": finished_at,
        "seconds": 1.0,
        "seed": 1,
        "history_events": 10,
        "machine": {**machine, "cores": 2, "wrk": "wrk 4"},
        "figures": figures,
    }


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    results = tmp_path / "results"
    results.mkdir()
    (tmp_path / "status.md").write_text("# Where each target stands\n", encoding="utf-8")
    (tmp_path / "findings.md").write_text(
        "# Findings\n\n*What it costs* (old): 757 us.\n\n*What it costs now* (older): 900 us.\n\n"
        "**What it costs a rebuild** (not a command's cost)\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(report, "RESULTS", results)
    monkeypatch.setattr(report, "DOCS", tmp_path / "benchmarks.md")
    monkeypatch.setattr(report, "STATUS", tmp_path / "status.md")
    monkeypatch.setattr(report, "FINDINGS", tmp_path / "findings.md")
    return results


def _keep(results: Path, name: str, body: dict[str, Any]) -> None:
    (results / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")


def test_the_section_is_rendered_from_the_newest_run_with_costs(docs: Path) -> None:
    stats = profiled()
    command = cost_figure(
        "command cost", "command", [(812.0, 101.0), (950.0, 89.0)], RAW, 10, stats, ITEMS, [3.5]
    )
    request = cost_figure("GraphQL cost", "request", [(2400.0, 800.0)], PLAIN, 5, stats, 3, [4])
    failed = not_measured("costs", "GraphQL requests", "us", "", "TimeoutError: busy")
    older = cost_figure("an older cost", "command", [(999.0, 1.0)], RAW, 1, None, 0, [1.0])
    _keep(docs, "quick-costs-old", _run("2026-12-01 09:00 UTC", [older.as_json()]))
    figures = [command.as_json(), request.as_json(), failed.as_json()]
    _keep(docs, "quick-costs", _run("2026-12-02 09:00 UTC", figures))
    _keep(docs, "quick-other", _run("2026-12-02 10:00 UTC", []))  # newer, no costs

    text = report.write_docs().read_text(encoding="utf-8")

    order = ["# Where each target stands", "# What it costs", "# Every kept run", "# Findings"]
    assert [text.index(h) for h in order] == sorted(text.index(h) for h in order)
    section = text[text.index("# What it costs") : text.index("# Every kept run")]
    assert "`bench/results/quick-costs.json` (quick.partial, finished 2026-12-02 09:00 UTC" in (
        section
    )
    assert "an older cost" not in section
    titles = [line for line in section.splitlines() if line.startswith("## ")]
    assert titles == ["## command cost", "## GraphQL cost", "## GraphQL requests"]
    assert "**812 us CPU per command** (baseline: " + RAW + ", 89 us, 9.12x)" in section
    assert "the least of 2 alternating rounds each (ours 812 to 950, the baseline's 89 to 101)" in (
        section
    )
    assert "**2,400 us CPU per request** (baseline: " + PLAIN + ", 800 us, 3.00x)" in section
    assert "load (1-minute average) 3.5 at its start" in section
    assert "Not measured: TimeoutError: busy" in section
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    top = command.extra["profile"]
    assert len(rows) == 2 * (len(top["own"]) + len(top["cumulative"]))  # two tables per cost
    assert rows[0].startswith(f"| `{top['own'][0]['function']}` |")
    assert any(row.startswith("| `tests/unit/bench/test_costs.py:") for row in rows)
    # The hand-written paragraphs of earlier rounds: kept, marked superseded (and only those).
    findings = text[text.index("# Findings") :]
    assert findings.count(report.SUPERSEDED_MARK) == 2
    assert report.SUPERSEDED_MARK + "*What it costs* (old): 757 us." in findings
    assert report.SUPERSEDED_MARK + "**What it costs a rebuild**" not in findings


def test_without_a_costs_run_the_section_says_so(docs: Path) -> None:
    _keep(docs, "quick", _run("2026-12-02 09:00 UTC", []))

    text = report.write_docs().read_text(encoding="utf-8")

    section = text[text.index("# What it costs") : text.index("# Every kept run")]
    assert "No kept run has the costs suite yet" in section
