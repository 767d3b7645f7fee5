"""A token naming a stream twice waits for the furthest position it names (correct23: the
last one was kept, so `REGISTRY:99,REGISTRY:3` waited only for 3 and a read could miss the
write the client named first)."""

from __future__ import annotations

from eventstore.commands import parse_consistency_token


def test_a_stream_named_twice_keeps_the_furthest_position() -> None:
    assert parse_consistency_token("REGISTRY:99,REGISTRY:3") == {"REGISTRY": 99}
    assert parse_consistency_token("REGISTRY:3,ENROLMENT:7,REGISTRY:99") == {
        "REGISTRY": 99,
        "ENROLMENT": 7,
    }
