"""The ocds-import suite's rounds (helper import21): import and raw append alternate round
by round, and the figure is the median round, each round's import beside its own raw runs:
its value and baseline are that round's rates, so that they agree with the target's test."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.suites import ocds_import
from bench.suites.ocds_import import (
    RAW_IN_FLIGHT,
    ROUNDS,
    Round,
    Series,
    _figure,
    _raw_round,
    median,
    raw_order,
)


def _round(events: int, seconds: float, raw: dict[int, float], **more: Any) -> Round:
    values: dict[str, Any] = {
        "events": events,
        "releases": events // 3,
        "seconds": seconds,
        "importer_cpu": 0.1 * seconds,
        "registry_cpu": 0.2 * seconds,
        "registry_cpu_each": [0.2 * seconds],
        "server_cpu": 0.05 * seconds,
        "raw_rates": raw,
        "raw_server_cpu": 0.01,
        "raw_client_cpu": 0.02,
        "raw_registry_cpu": 0.0,
        "gcs": {},
        "skipped": [],
    }
    return Round(**{**values, **more})


def test_median_of_odd_and_even_counts() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError, match="nothing"):
        median([])


def test_a_round_is_compared_with_the_faster_raw_method_of_its_own_raw_runs() -> None:
    r = _round(2400, 1.2, {16: 9_000.0, 128: 12_000.0})
    assert r.import_rate == pytest.approx(2000.0)
    assert r.raw_rate == 12_000.0
    assert r.ratio == pytest.approx(2000.0 / 12_000.0)


def test_the_series_is_the_median_round_not_one_outlier() -> None:
    # One stalled raw run (round 2) and one slow warm-up import (round 0) would each decide
    # a one-sample ratio; the median round is neither.
    rounds = [
        _round(2400, 2.4, {16: 10_000.0, 128: 10_000.0}),  # 0.100x (import warm-up)
        _round(2400, 0.8, {16: 8_000.0, 128: 10_000.0}),  # 0.300x
        _round(2400, 0.8, {16: 2_000.0, 128: 2_500.0}),  # 1.200x (raw stalled)
        _round(2400, 0.75, {16: 9_000.0, 128: 10_000.0}),  # 0.320x
        _round(2400, 0.8, {16: 9_000.0, 128: 9_000.0}),  # 0.333x
    ]
    series = Series(1, rounds)
    assert series.median_round() is rounds[3]
    assert series.ratio == pytest.approx(0.32)
    assert series.import_rate == pytest.approx(3200.0)  # the median round's own rates
    assert series.raw_rate == pytest.approx(10_000.0)
    # every round counted in full: 12,000 events in 5.55 s against 12,000 raw in 1.2 + 0.96 s
    raw_seconds = 0.24 + 0.24 + 0.96 + 0.24 + 2400 / 9000
    assert series.total_ratio() == pytest.approx((12_000 / 5.55) / (12_000 / raw_seconds))
    assert series.spread()["round_ratios"] == [0.1, 0.3, 1.2, 0.32, 0.333]
    first = series.spread()["round_cpu_ms_per_event"][0]
    assert first == [round(1000 * 0.24 / 2400, 3), round(1000 * 0.48 / 2400, 3), 0.05]
    # CPU: raw 0.03 s a round against the import's 0.35 of each round's seconds
    assert series.cpu_ratio() == pytest.approx(round(5 * 0.03 / (0.35 * 5.55), 3))
    assert series.per_event_ms("registry_cpu") == pytest.approx(
        1000 * 0.2 * 5.55 / 12_000, abs=1e-3
    )


def test_the_raw_methods_take_turns_in_going_first() -> None:
    assert raw_order(0) == RAW_IN_FLIGHT
    assert raw_order(1) == RAW_IN_FLIGHT[::-1]
    assert raw_order(2) == RAW_IN_FLIGHT
    assert set(RAW_IN_FLIGHT) == {16, 0}  # 0: the importer's own concurrency


async def test_a_raw_round_runs_its_methods_in_the_turned_order_and_reports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`_raw_round` itself (not a fixture's dict): the methods in the order of `raw_order`,
    which the figure's `first` reads back round by round."""
    from audit.ocds.importer import CONCURRENCY

    ran: list[int] = []

    async def closed_loop(in_flight: int, n: int, work: Any) -> Any:
        ran.append(in_flight)
        return SimpleNamespace(rate=1000.0 * in_flight)

    monkeypatch.setattr(ocds_import, "closed_loop", closed_loop)
    ctx: Any = SimpleNamespace(nats=None)
    got = [await _raw_round(ctx, None, [("s", b"x")], r, lambda: [0.0]) for r in range(3)]
    assert ran == [16, CONCURRENCY, CONCURRENCY, 16, 16, CONCURRENCY]
    rounds = [_round(2400, 1.0, g["raw_rates"]) for g in got]
    assert Series(1, rounds).raw_by_method()["first"] == [16, CONCURRENCY, 16]


def test_a_full_run_has_at_least_the_rounds_of_a_quick_one_and_a_median_round() -> None:
    assert ROUNDS["full"] >= ROUNDS["quick"]
    assert all(n % 2 == 1 for n in ROUNDS.values())


def test_the_figure_reports_the_medians_and_every_round() -> None:
    from audit.ocds.importer import CONCURRENCY

    rounds = [
        _round(2400, s, {16: r16, CONCURRENCY: rc})
        for s, r16, rc in (
            (1.0, 8_000.0, 9_000.0),
            (0.6, 9_000.0, 8_000.0),
            (0.8, 7_000.0, 6_000.0),
        )
    ]
    figure = _figure(Series(1, rounds), 200)
    # round ratios 2400/9000, 4000/9000, 3000/7000: the median round is the last
    assert figure.value == pytest.approx(3000.0)
    assert figure.baseline == pytest.approx(7000.0)
    assert figure.extra["ratio"] == pytest.approx(round(3000 / 7000, 3))
    assert figure.ratio == pytest.approx(figure.extra["ratio"], abs=1e-3)
    assert figure.extra["round_import_rates"] == [2400.0, 4000.0, 3000.0]
    assert figure.extra["raw_publish_at_16"] == 8000.0
    assert figure.extra["raw_publish_in_flight"] == 8000.0
    by_method = figure.extra["round_raw_rates_by_in_flight"]
    assert by_method["at_16"] == [8000.0, 9000.0, 7000.0]
    assert by_method[f"at_{CONCURRENCY}"] == [9000.0, 8000.0, 6000.0]
    assert figure.target_met is True
    assert "median of 3 rounds" in figure.note


def test_the_target_is_tested_on_the_median_rounds_ratio() -> None:
    from audit.ocds.importer import CONCURRENCY

    # each round beside its own raw: 0.5, 0.33, 0.2; the medians' quotient (2000 / 9000 =
    # 0.22x) is no round's: the figure shows the median round's own rates
    rounds = [
        _round(2400, 2400 / rate, {16: raw, CONCURRENCY: raw})
        for rate, raw in ((1000.0, 2000.0), (3000.0, 9000.0), (2000.0, 10_000.0))
    ]
    figure = _figure(Series(1, rounds), 200)
    assert (figure.value, figure.baseline) == (3000.0, 9000.0)
    assert figure.ratio == pytest.approx(3000 / 9000)
    assert figure.extra["ratio"] == pytest.approx(0.333, abs=1e-3)
    assert figure.target_met is True
    assert "median 0.33x (the target's test)" in figure.note
