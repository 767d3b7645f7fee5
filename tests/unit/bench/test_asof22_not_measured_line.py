"""asof22: a figure not measured says why on its line of the run's output.

Before: `python -m bench --only freshness` (without `replay`, whose rebuilt read model the
freshness suite measures) recorded the figure as not measured ("no read model") but printed
"reply to visible: None ms vs None (raw)": the reason was only in the results file.

The run goes through `bench.__main__.run` with the real freshness suite; only the servers,
the history and its load are stubbed (the suite returns before it would use them).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import bench.__main__ as bench_cli
from bench.config import QUICK
from bench.loader import LoadResult


class _History:
    event_count = 0

    def digest(self) -> str:
        return "stub"

    def counts_by_type(self) -> dict[str, int]:
        return {}


@contextlib.contextmanager
def _server() -> Iterator[Any]:
    yield type("Server", (), {"url": "nats://127.0.0.1:1"})()


@contextlib.asynccontextmanager
async def _connected(url: str) -> AsyncIterator[object]:
    yield object()


async def _load(*_: Any, **__: Any) -> LoadResult:
    return LoadResult(events=0, commits=0, seconds=1.0, last_seq={})


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    # `run` freezes the collector's objects for a bench process's life: in a test worker that
    # froze ~2.8M objects for the rest of the suite, and test_catchup_collector's guard, run
    # after it in the same worker, failed (CI90).
    monkeypatch.setattr(gc, "freeze", lambda: None)
    monkeypatch.setattr(bench_cli, "generate", lambda seed, events: _History())
    monkeypatch.setattr(bench_cli.infra, "nats_server", _server)
    monkeypatch.setattr(bench_cli.infra, "postgres", _server)
    monkeypatch.setattr(bench_cli.infra, "connected", _connected)
    monkeypatch.setattr(bench_cli.infra, "machine", lambda: {})
    monkeypatch.setattr(bench_cli, "install", lambda *_: None)
    monkeypatch.setattr(bench_cli, "load_history", _load)


async def test_freshness_alone_prints_why_it_measured_nothing(
    stubbed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    body = await bench_cli.run(QUICK, {"freshness"})
    [figure] = body["figures"]
    assert figure.value is None
    assert figure.baseline is None
    lines = [line for line in capsys.readouterr().out.splitlines() if "reply to visible" in line]
    assert len(lines) == 1, lines
    line = lines[0]
    assert "None" not in line, line
    assert "not measured" in line, line
    assert "no read model" in line, line
    assert "--only replay --only freshness" in line, line


def test_a_measured_figure_keeps_its_line() -> None:
    figure = bench_cli.Figure("asof", "root: p50", "ms", 1.5, "present", 1.0)
    assert bench_cli.shown(figure) == "  root: p50: 1.5 ms vs 1.0 (present)"
