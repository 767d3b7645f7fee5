"""`processed.Placed` (helper import34): a placed record names its command's events by
stream, first sequence and count; it names exactly those events, and a malformed place is
refused rather than read as some other place."""

from __future__ import annotations

import json

import pytest

from contracts_schema.replies import AppendedEvent
from eventstore.processed import Placed, placed_of, placed_record, placement


def _event(seq: int, stream: str = "REGISTRY") -> AppendedEvent:
    return AppendedEvent(event_id=f"e{seq}", event_type="T", aggregate_type="tender",
                         aggregate_id="t-1", aggregate_version=seq, stream=stream, seq=seq)  # fmt: skip


def test_a_place_names_exactly_its_events() -> None:
    placed = Placed("REGISTRY", 7, 2)
    assert placed.names([_event(7), _event(8)])
    assert not placed.names([_event(7)])  # fewer
    assert not placed.names([_event(7), _event(8), _event(9)])  # more
    assert not placed.names([_event(8), _event(9)])  # elsewhere
    assert not placed.names([_event(7), _event(9)])  # not consecutive
    assert not placed.names([_event(7), _event(8, "OTHER")])  # another stream
    assert placement([_event(7), _event(8)]) == placed
    assert placement([_event(7), _event(9)]) is None
    assert placement([]) is None


def test_a_placed_record_reads_back_and_a_reply_record_is_not_placed() -> None:
    data = placed_record("registry", "RecordImportedTenderRelease", "f" * 64, Placed("R", 3, 1))
    record = json.loads(data)
    assert record == {"context": "registry", "command_type": "RecordImportedTenderRelease",
                      "fingerprint": "f" * 64, "placed": {"stream": "R", "first": 3, "count": 1}}  # fmt: skip
    assert placed_of(record) == Placed("R", 3, 1)
    assert placed_of({"fingerprint": "x", "reply": {"events": []}}) is None


@pytest.mark.parametrize(
    "where",
    [
        [],
        {"stream": "R", "first": 0, "count": 1},
        {"stream": "R", "first": 1, "count": 0},
        {"stream": "R", "first": "1", "count": 1},
        {"stream": "R", "first": True, "count": 1},
        {"stream": 5, "first": 1, "count": 1},
        {"first": 1, "count": 1},
    ],
    ids=["list", "first-0", "count-0", "first-str", "first-bool", "stream-int", "no-stream"],
)
def test_a_malformed_place_is_refused(where: object) -> None:
    with pytest.raises(ValueError, match="place"):
        placed_of({"fingerprint": "x", "placed": where})
