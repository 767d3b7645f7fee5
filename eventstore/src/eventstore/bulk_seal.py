"""Sealing for a bulk writer's own values: `records.seal`'s envelopes, without pydantic's walk.

`records.seal` validates each envelope and dumps it to its JSON form for the hash: a third of
a bulk import's sealing. A bulk writer whose values are already of the envelope's types
(ids from validated commands, aware datetimes, a payload dumped by its event model in JSON
mode) gets here the same envelope, built from those values as they are (`records.trusted`),
hashed over the same JSON form (the two datetimes put in JSON form once per command, the
payload as it is: JSON values already) and signed with the same key. Same fields, same
fields set, same hash, same stored bytes: `tests/unit/eventstore/test_bulk_seal.py` checks
them against `records.seal` on generated events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from contracts_schema.envelope import EventEnvelope
from eventstore.clock import Clock
from eventstore.hashing import json_form_hash
from eventstore.records import (
    AggregateHistory,
    CommandMetadata,
    NewEvent,
    recorded_after,
    trusted,
)
from eventstore.signing import EventSigner

_INSTANT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _json_time(value: datetime) -> Any:
    return _INSTANT.dump_python(value, mode="json")


def seal_trusted(
    clock: Clock,
    history: AggregateHistory,
    new_events: Sequence[NewEvent],
    meta: CommandMetadata,
    signer: EventSigner | None = None,
) -> list[EventEnvelope]:
    """`records.seal` for values that are the envelope's own types already (see above)."""
    recorded_at = recorded_after(clock, history)  # never before the aggregate's last event's
    recorded_json = _json_time(recorded_at)
    prev_hash = history.last_hash
    version = history.version
    context, aggregate_type = history.context.name, history.aggregate_type
    aggregate_id, public_key = history.aggregate_id, signer.public_key if signer else None
    times: dict[datetime, Any] = {}
    envelopes = []
    for new in new_events:
        version += 1
        occurred_at = new.occurred_at
        occurred_json = times.get(occurred_at)
        if occurred_json is None:
            occurred_json = times[occurred_at] = _json_time(occurred_at)
        values: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "event_type": new.event_type,
            "schema_version": new.schema_version,
            "context": context,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "aggregate_version": version,
            "occurred_at": occurred_json,
            "recorded_at": recorded_json,
            "actor": meta.actor,
            "command_id": meta.command_id,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
            "prev_hash": prev_hash,
            "hash": "",
            "payload": new.payload,
            "signer": public_key,
            "signature": None,
        }
        digest = json_form_hash(values)  # (hash and signature are not hashed)
        values["hash"] = digest
        values["signature"] = signer.sign(digest) if signer else None
        values["occurred_at"] = occurred_at
        values["recorded_at"] = recorded_at
        envelopes.append(trusted(EventEnvelope, values))
        prev_hash = digest
    return envelopes
