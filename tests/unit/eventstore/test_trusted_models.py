"""A reply built by `records.trusted` is the model `model_construct` builds from the same
values: equal, the same fields counted as set, the same JSON, and valid as it stands; values
that are not the model's fields are refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from contracts_schema.envelope import EventEnvelope
from contracts_schema.replies import AppendedEvent, CommandAccepted
from eventstore.aggregate_cache import appended
from eventstore.commands import accepted_reply
from eventstore.records import StoredEvent, trusted

EVENT = {
    "event_id": "e-1",
    "event_type": "EntryRecorded",
    "aggregate_type": "ledger",
    "aggregate_id": "l",
    "aggregate_version": 3,
    "stream": "LEDGER",
    "seq": 41,
}

ENVELOPE = {
    "event_id": "e-1",
    "event_type": "EntryRecorded",
    "schema_version": 1,
    "context": "ledger",
    "aggregate_type": "ledger",
    "aggregate_id": "l",
    "aggregate_version": 3,
    "occurred_at": "2026-01-01T00:00:00Z",
    "recorded_at": "2026-01-01T00:00:00Z",
    "actor": "tester",
    "command_id": "c-1",
    "correlation_id": "c-1",
    "prev_hash": None,
    "hash": "h",
    "payload": {},
}


def test_a_trusted_reply_is_the_constructed_one() -> None:
    event = AppendedEvent.model_validate(EVENT)
    ours = accepted_reply("c-1", [event], False)
    theirs = CommandAccepted.model_construct(
        command_id="c-1", events=(event,), consistency_token="LEDGER:41", duplicate=False
    )
    assert ours == theirs
    assert ours.model_fields_set == theirs.model_fields_set
    assert ours.model_dump_json() == theirs.model_dump_json()
    assert ours.model_dump_json(exclude_unset=True) == theirs.model_dump_json(exclude_unset=True)
    assert CommandAccepted.model_validate_json(ours.model_dump_json()) == ours
    assert ours.status == "accepted"
    assert ours.events[0].seq == 41


def test_an_appended_event_is_the_validated_one() -> None:
    stored = StoredEvent(
        envelope=EventEnvelope.model_validate(ENVELOPE), stream="LEDGER", seq=41, subject="x"
    )
    ours = appended(stored)
    theirs = AppendedEvent.model_validate(EVENT)
    assert ours == theirs
    assert ours.model_fields_set == theirs.model_fields_set
    assert ours.model_dump_json() == theirs.model_dump_json()


def test_values_that_are_not_the_models_fields_are_refused() -> None:
    class Made(BaseModel):
        a: int
        b: int = 2

    with pytest.raises(TypeError, match=r"trusted Made: values for \['a'\]"):
        trusted(Made, {"a": 1})
