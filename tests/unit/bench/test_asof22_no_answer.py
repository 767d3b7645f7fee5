"""asof22: a sample in which no request was answered is a failure named as such, not 0 ms.

At 1M events the present of `statistics.participationByProgramme` takes 1-2 s a request; on a
loaded machine wrk's own 2 s request timeout cut every one, and the suite recorded the
present as "0.0 ms" (so asOf "> 2x" a present of 0). The suite's wrk now waits
`REQUEST_TIMEOUT_S` for a request, and a sample with no answered request fails the
(root, size) with the reason, which the figures then show as not measured.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

import bench.suites.asof as asof
from bench.wrk import WrkResult

ANSWERED = """Running 5s test @ http://127.0.0.1:1/graphql
  1 threads and 4 connections
  Latency Distribution
     50%  1.50s
     75%  1.60s
     90%  1.70s
     99%    1.90s
  12 requests in 5.00s, 1.20MB read
Requests/sec:      2.40
"""
NONE_ANSWERED = """Running 5s test @ http://127.0.0.1:1/graphql
  1 threads and 4 connections
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  4 requests in 5.00s, 0.00B read
  Socket errors: connect 0, read 0, write 0, timeout 4
Requests/sec:      0.00
"""


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asof, "fetch", lambda url, body, token: {"data": {"x": 1}})


def _run(result: WrkResult) -> Any:
    def run(url: str, seconds: int, connections: int, script: str) -> WrkResult:
        return result

    return run


def test_a_sample_with_no_request_answered_fails_with_the_reason(answered: None) -> None:
    none = asof.parse(NONE_ANSWERED)
    assert (none.p50_ms, none.requests_per_s, none.errors) == (0.0, 0.0, 4)
    with pytest.raises(RuntimeError, match="no request answered in 5 s") as failed:
        asof._measure("http://127.0.0.1:1/graphql", "{}", "t", 5, 1, _run(none))
    assert "4 failed or timed out" in str(failed.value)


def test_a_slow_sample_is_measured(answered: None) -> None:
    slow = asof.parse(ANSWERED)
    result, answer, _cpu = asof._measure("http://127.0.0.1:1/graphql", "{}", "t", 5, 1, _run(slow))
    assert result.p50_ms == 1500.0
    assert answer.items == 1


def test_the_suites_wrk_waits_longer_than_wrks_two_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[list[str]] = []

    def run(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        called.append(args)
        return subprocess.CompletedProcess(args, 0, ANSWERED, "")

    monkeypatch.setattr(asof.subprocess, "run", run)
    result = asof.run_wrk_patient("http://127.0.0.1:1/graphql", 5, 4, "script.lua")
    assert result.p50_ms == 1500.0
    [args] = called
    timeout = args[args.index("--timeout") + 1]
    assert timeout == f"{asof.REQUEST_TIMEOUT_S}s"
    assert asof.REQUEST_TIMEOUT_S > 2


def test_the_failure_becomes_a_figure_not_measured_with_the_reason() -> None:
    failure = asof.Failure(1_000_000, "statistics.participationByProgramme", "RuntimeError: x")
    figures = asof.figures([failure], {})
    assert [f.value for f in figures] == [None, None]
    assert all("RuntimeError: x" in (f.note or "") for f in figures)
