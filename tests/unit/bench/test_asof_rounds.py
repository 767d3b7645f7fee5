"""The as-of suite's figures from alternating rounds (`bench.suites.asof`): each asOf and
present figure the median of its rounds, flatness the medians of the same rounds at the two
sizes, the answer's size beside the latency, a failed root named and the others kept."""

from __future__ import annotations

from bench.suites.asof import (
    Answer,
    Failure,
    Sample,
    answer_size,
    figures,
    flatness,
    sample_seconds,
)
from bench.wrk import WrkResult

ROOT = "events(asOf) totalCount + 20"
OTHER = "tender(asOf) with nested lots"


def _sample(events: int, round: int, past: float, present: float, items: int = 10) -> Sample:
    return Sample(
        events=events,
        root=ROOT,
        round=round,
        as_of="2016-01-01",
        variables={},
        past=WrkResult(100.0, past, past * 3, 0),
        present=WrkResult(100.0, present, present * 3, 0),
        past_answer=Answer(1_000 * items, items, 5 * items),
        present_answer=Answer(2_000, 20, None),
        past_cpu_us=past * 100,
        present_cpu_us=present * 100,
    )


# One round disturbed (the machine busy at 100k in round 0): the medians hold.
SAMPLES: list[Sample | Failure] = [
    _sample(10_000, 0, 2.0, 2.0),
    _sample(100_000, 0, 9.0, 2.5),
    _sample(100_000, 1, 2.4, 2.2),
    _sample(10_000, 1, 2.2, 2.1),
    _sample(10_000, 2, 2.1, 40.0),
    _sample(100_000, 2, 2.6, 2.3),
]


def test_each_figure_is_the_median_of_its_rounds_with_the_answer_beside_it() -> None:
    got = {f.name: f for f in figures(SAMPLES, {10_000: 1.0, 100_000: 9.0})}
    assert set(got) == {
        f"{ROOT}: p50, 10,000 events",
        f"{ROOT}: p99, 10,000 events",
        f"{ROOT}: p50, 100,000 events",
        f"{ROOT}: p99, 100,000 events",
    }
    small, large = got[f"{ROOT}: p50, 10,000 events"], got[f"{ROOT}: p50, 100,000 events"]
    assert (small.value, small.baseline) == (2.1, 2.1)  # the 40 ms present round is out
    assert (large.value, large.baseline) == (2.6, 2.3)  # the 9 ms round is out
    assert large.extra["rounds"] == [9.0, 2.4, 2.6]  # in the rounds' order
    assert large.extra["answer_items"] == 10
    assert "answer 10,000 B, 10 items, totalCount 50" in large.note
    assert "median of 3 alternating rounds" in large.note
    assert got[f"{ROOT}: p99, 100,000 events"].value == 7.8


def test_flatness_compares_the_medians_and_names_each_rounds_ratio() -> None:
    (p50, p99) = flatness(SAMPLES)
    assert p50.name == f"{ROOT}: asOf p50 at 100,000 events vs at 10,000"
    assert (p50.value, p50.baseline) == (2.6, 2.1)
    assert p50.target_met  # 1.24x, where the worst round alone says 4.5x
    assert p50.extra["per_round"] == [4.5, 1.091, 1.238]
    assert p99.value == 7.8


def test_a_growing_answer_is_named_in_the_flatness_note() -> None:
    grown: list[Sample | Failure] = [
        _sample(10_000, 0, 2.0, 2.0, items=6),
        _sample(100_000, 0, 8.0, 2.0, items=61),
    ]
    (p50, _) = flatness(grown)
    assert "answer 6,000 B, 6 items, totalCount 30 -> 61,000 B, 61 items" in p50.note
    assert "(grows 10.2x)" in p50.note
    assert "(totalCount grows 10.2x)" in p50.note
    assert p50.extra["answer_items"] == [6, 61]
    # asof19: a growing answer is flat per row returned: 8 ms for 61 items against 2 for 6
    assert p50.name == f"{ROOT}: asOf p50 per answer item at 100,000 events vs at 10,000"
    assert (p50.value, p50.baseline) == (round(8.0 / 61, 3), round(2.0 / 6, 3))
    assert p50.target == "flat per row returned (the answer grows 10.2x)"
    assert p50.target_met
    assert "whole request 2.00 -> 8.00 ms (4.00x)" in p50.note


def test_a_growing_answer_slower_per_row_is_not_flat() -> None:
    grown: list[Sample | Failure] = [
        _sample(10_000, 0, 2.0, 2.0, items=6),
        _sample(100_000, 0, 40.0, 2.0, items=61),  # 0.66 ms an item against 0.33
    ]
    (p50, _) = flatness(grown)
    assert not p50.target_met


def test_a_failed_root_is_named_not_measured_and_the_others_are_kept() -> None:
    failed: list[Sample | Failure] = [
        *SAMPLES,
        Failure(100_000, OTHER, "TimeoutError: wrk"),
    ]
    got = {f.name: f for f in figures(failed, {})}
    broken = got[f"{OTHER}: p50, 100,000 events"]
    assert broken.value is None
    assert "TimeoutError: wrk" in broken.note
    assert got[f"{ROOT}: p50, 100,000 events"].value == 2.6
    assert {f.name.split(": ")[0] for f in flatness(failed)} == {ROOT}


def test_answer_size_counts_objects_and_reads_the_first_total() -> None:
    answer = {
        "data": {"events": {"totalCount": 7, "edges": [{"node": {"a": 1}}, {"node": {"a": 2}}]}}
    }
    size = answer_size(answer)
    assert size.items == 6  # data, events, two edges, two nodes
    assert size.total == 7
    assert answer_size({"data": {"x": [1, 2]}}).total is None


def test_the_rounds_take_about_twice_one_long_sample() -> None:
    assert sample_seconds(5) == 3
    assert sample_seconds(15) == 10
    assert sample_seconds(1) == 2
