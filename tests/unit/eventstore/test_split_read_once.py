"""rebuild14: the two groups share the streams' read and check evenly (each range read by
one of them in turn, `eventstore.shared_read.pipes`), so the split weighs the applies alone,
and each group reads every other range of a stream both read."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from eventstore.shared_read import pipes
from eventstore.split_rebuild import partition


def _model(name: str, cost: int) -> Any:
    class Model:
        key: ClassVar[str] = name
        rebuild_cost: ClassVar[int] = cost

    return Model


MODELS: list[Any] = [
    _model(n, c) for n, c in [("a", 113), ("b", 100), ("c", 60), ("d", 10), ("e", 5), ("f", 13)]
]


def _worst(parts: Any) -> int:
    return int(max(sum(m.rebuild_cost for m in part) for part in parts))


def test_the_split_whose_costlier_group_costs_least() -> None:
    parts: Any = partition(MODELS, 2)
    every = [
        [
            [m for i, m in enumerate(MODELS) if mask >> i & 1],
            [m for i, m in enumerate(MODELS) if not mask >> i & 1],
        ]
        for mask in range(1, 2 ** len(MODELS) - 1)
    ]
    assert _worst(parts) == min(_worst(p) for p in every) == 160
    assert all(parts)
    assert sorted(m.key for p in parts for m in p) == sorted(m.key for m in MODELS)


def test_more_groups_split_by_apply_cost() -> None:
    parts = partition(MODELS, 3)
    assert len(parts) == 3
    assert all(parts)


ENROLMENT = ("ENROLMENT", "enrolment.>")
REGISTRY = ("REGISTRY", "registry.>")
NOTIFIER = ("NOTIFIER", "notifier.>")


def test_each_shared_range_has_one_reader_in_turn_and_a_pipe_to_every_other() -> None:
    ends, made = pipes([{ENROLMENT, REGISTRY}, {ENROLMENT, REGISTRY, NOTIFIER}, {NOTIFIER}])
    try:
        first, second, third = ends
        assert first is not None
        assert second is not None
        assert third is not None
        # Streams read by one group alone are not shared.
        assert set(first.readers) == {ENROLMENT, REGISTRY}
        assert set(second.readers) == {ENROLMENT, REGISTRY, NOTIFIER}
        assert set(third.readers) == {NOTIFIER}
        owners = [first.owner(ENROLMENT, i) for i in range(6)]
        assert owners == [0, 1, 0, 1, 0, 1]
        assert owners == [second.owner(ENROLMENT, i) for i in range(6)]
        assert [third.owner(NOTIFIER, i) for i in range(4)] == [1, 2, 1, 2]
        assert set(first.writes) == {1}
        assert set(first.reads) == {1}
        assert set(second.writes) == {0, 2}
        assert set(second.reads) == {0, 2}
        assert set(third.writes) == {1}
        assert set(third.reads) == {1}
        for end in ends:
            assert end is not None
            kept = {*end.writes.values(), *end.reads.values()}
            assert kept.isdisjoint(end.close)
            assert kept | set(end.close) == set(made)
    finally:
        for fd in made:
            os.close(fd)


def test_nothing_shared_no_pipes() -> None:
    ends, made = pipes([{ENROLMENT}, {REGISTRY}])
    assert ends == [None, None]
    assert made == []
