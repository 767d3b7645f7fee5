"""rebuild13: with one group reading and checking the shared streams for both, the split
weighs that read (`READ_COST`) on the group of least apply cost (the feeder `build_groups`
picks) and what taking it costs (`FED_COST`) on the other."""

from __future__ import annotations

from typing import Any, ClassVar

from eventstore.split_rebuild import FED_COST, READ_COST, partition


def _model(name: str, cost: int) -> Any:
    class Model:
        key: ClassVar[str] = name
        rebuild_cost: ClassVar[int] = cost

    return Model


MODELS: list[Any] = [
    _model(n, c) for n, c in [("a", 113), ("b", 100), ("c", 60), ("d", 10), ("e", 5)]
]


def _worst(parts: Any, read: int, fed: int) -> int:
    applies: list[int] = sorted(sum(m.rebuild_cost for m in part) for part in parts)
    return max(applies[0] + read, applies[1] + fed)


def test_the_feeder_carries_the_read_in_the_split() -> None:
    parts: Any = partition(MODELS, 2)
    assert sorted(sorted(m.key for m in p) for p in parts) == [["a", "c", "d", "e"], ["b"]]
    by_cost_alone = partition(MODELS, 2, read_once=False)
    assert _worst(parts, READ_COST, FED_COST) < _worst(by_cost_alone, READ_COST, FED_COST)


def test_every_split_is_looked_at() -> None:
    parts: Any = partition(MODELS, 2)
    every = [
        [
            [m for i, m in enumerate(MODELS) if mask >> i & 1],
            [m for i, m in enumerate(MODELS) if not mask >> i & 1],
        ]
        for mask in range(1, 2 ** len(MODELS) - 1)
    ]
    assert _worst(parts, READ_COST, FED_COST) == min(_worst(p, READ_COST, FED_COST) for p in every)
    assert all(parts)


def test_more_groups_split_by_apply_cost() -> None:
    parts = partition(MODELS, 3)
    assert len(parts) == 3
    assert all(parts)
