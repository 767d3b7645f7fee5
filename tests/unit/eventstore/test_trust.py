"""eventstore.trust on sealed envelopes: what a reader refuses, and why (no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, seal
from eventstore.signing import EventSigner, new_seed
from eventstore.trust import Trust, read_event

KEY = EventSigner(new_seed())
SUBJECT = "registry.events.programme.GT.ProgrammePlanned"


def sealed(signer: EventSigner | None = KEY) -> bytes:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    history = AggregateHistory(REGISTRY, "programme", "GT", (), 0)
    new = NewEvent("ProgrammePlanned", 1, {"programme_id": "GT"}, clock.now())
    envelope = seal(clock, history, [new], CommandMetadata("c-1", "a", "c-1"), signer)[0]
    return envelope.model_dump_json().encode()


def refused(trust: Trust, data: bytes, seq: int = 5) -> str | None:
    return read_event(trust, SUBJECT, REGISTRY.stream, seq, data).refused


def test_a_retired_key_is_trusted_up_to_its_sequence_only() -> None:
    trust = Trust.of({"registry": {f"{KEY.public_key}@5"}})
    assert refused(trust, sealed(), 5) is None
    reason = refused(trust, sealed(), 6)
    assert reason is not None
    assert reason.startswith("untrusted signer: ")
    assert "retired after REGISTRY seq 5" in reason


def test_without_any_trusted_key_only_content_is_checked() -> None:
    assert refused(Trust(), sealed(None)) is None
    assert refused(Trust(), sealed(None).replace(b'"GT"}', b'"XX"}')) is not None
    trust = Trust.of({"registry": {KEY.public_key}}, verify_signatures=False)
    assert refused(trust, sealed(None)) is None


def test_undecodable_bytes_are_refused_with_where_they_were_stored() -> None:
    event = read_event(Trust(), SUBJECT, REGISTRY.stream, 7, b"{not json")
    assert event.refused is not None
    assert event.refused.startswith("undecodable: ")
    assert (event.envelope.aggregate_type, event.envelope.aggregate_id) == ("programme", "GT")
    assert event.envelope.event_type == "ProgrammePlanned"
