"""Stored events for the direct build: sealed as the event store seals them, in stream order."""

from __future__ import annotations

from bench.direct import stored_events
from bench.history.generator import generate
from eventstore.hashing import envelope_hash


def test_every_event_is_stored_once_per_stream_in_order_with_its_chain() -> None:
    history = generate(seed=3, events=2_000)
    streams = stored_events(history)
    assert sum(len(events) for events in streams.values()) == history.event_count
    last: dict[tuple[str, str], tuple[int, str]] = {}
    for stream, events in streams.items():
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        for event in events:
            e = event.envelope
            assert event.stream == stream
            key = (e.aggregate_type, e.aggregate_id)
            version, previous = last.get(key, (0, None))
            assert e.aggregate_version == version + 1
            assert e.prev_hash == previous
            last[key] = (e.aggregate_version, e.hash)
    sample = streams["REGISTRY"][0].envelope
    assert envelope_hash(sample.model_dump(mode="json", exclude={"hash"})) == sample.hash
