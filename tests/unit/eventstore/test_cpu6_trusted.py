"""A reply built by `records.trusted` is the model `model_construct` builds from the same
values: equal, the same fields counted as set, the same JSON, and valid as it stands."""

from __future__ import annotations

from contracts_schema.replies import AppendedEvent, CommandAccepted
from eventstore.commands import _reply

EVENT = {
    "event_id": "e-1",
    "event_type": "EntryRecorded",
    "aggregate_type": "ledger",
    "aggregate_id": "l",
    "aggregate_version": 3,
    "stream": "LEDGER",
    "seq": 41,
}


def test_a_trusted_reply_is_the_constructed_one() -> None:
    event = AppendedEvent.model_validate(EVENT)
    ours = _reply("c-1", [event], False)
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
