"""docs/benchmarks.md as `bench.report.write_docs` writes it: the status table first, then every
kept run newest first under its file's name, the scratch copy of a run under way left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import report


def _run(mode: str, finished_at: str) -> dict[str, object]:
    machine = dict.fromkeys(
        ("cpu", "cores", "memory_gib", "os", "python", "nats_server", "postgresql", "sqlite"), "x"
    )
    return {
        "mode": mode,
        "finished_at": finished_at,
        "seconds": 1.0,
        "seed": 1,
        "history_events": 10,
        "machine": {**machine, "wrk": "wrk 4"},
        "figures": [],
    }


def test_runs_are_listed_newest_first_by_file_and_the_scratch_copy_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    kept = {
        "quick": _run("quick", "2026-11-30 09:00 UTC"),
        "quick-pair-after": _run("quick.partial", "2026-11-30 11:00 UTC"),
        "quick-pair-before": _run("quick.partial", "2026-11-30 10:00 UTC"),
        "quick.partial": _run("quick.partial", "2026-11-30 12:00 UTC"),
    }
    for name, body in kept.items():
        (results / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")
    (results / "side-file.json").write_text(json.dumps({"what": "a bench's extra"}))
    (tmp_path / "status.md").write_text("# Where each target stands\n", encoding="utf-8")
    monkeypatch.setattr(report, "RESULTS", results)
    monkeypatch.setattr(report, "DOCS", tmp_path / "benchmarks.md")
    monkeypatch.setattr(report, "STATUS", tmp_path / "status.md")
    monkeypatch.setattr(report, "FINDINGS", tmp_path / "absent.md")

    text = report.write_docs().read_text(encoding="utf-8")

    titles = [line for line in text.splitlines() if line.startswith("## ")]
    assert titles == [
        "## quick-pair-after: quick.partial (2026-11-30 11:00 UTC, 1 s)",
        "## quick-pair-before: quick.partial (2026-11-30 10:00 UTC, 1 s)",
        "## quick (2026-11-30 09:00 UTC, 1 s)",
    ]
    assert text.index("# Where each target stands") < text.index("# Every kept run")
