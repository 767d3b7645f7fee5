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

import hashlib
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from contracts_schema.envelope import EventEnvelope
from eventstore.clock import Clock
from eventstore.hashing import canonical_json_form
from eventstore.records import (
    AggregateHistory,
    CommandMetadata,
    NewEvent,
    recorded_after,
    trusted,
)
from eventstore.signing import EventSigner

_INSTANT: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
# The JSON forms of the times sealed lately, by the datetime object (its id, the object kept
# with it: an id is not reused while the entry holds its object): the stored JSON of the same
# envelopes (`group_append.stored_json`) reads them here instead of dumping them again. By
# object, not by value: hashing an aware datetime costs as much as dumping it.
_TIME_FORMS: dict[int, tuple[datetime, Any]] = {}
_TIME_FORMS_KEPT = 4096


def json_time(value: datetime) -> Any:
    """An aware datetime's JSON form, as pydantic gives it (kept for the last few thousand
    datetime objects)."""
    found = _TIME_FORMS.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    if len(_TIME_FORMS) >= _TIME_FORMS_KEPT:
        _TIME_FORMS.clear()
    form = _INSTANT.dump_python(value, mode="json")
    _TIME_FORMS[id(value)] = (value, form)
    return form


def seal_trusted(
    clock: Clock,
    history: AggregateHistory,
    new_events: Sequence[NewEvent],
    meta: CommandMetadata,
    signer: EventSigner | None = None,
) -> list[EventEnvelope]:
    """`records.seal` for values that are the envelope's own types already (see above)."""
    recorded_at = recorded_after(clock, history)  # never before the aggregate's last event's
    recorded_json = json_time(recorded_at)
    prev_hash = history.last_hash
    version = history.version
    context, aggregate_type = history.context.name, history.aggregate_type
    aggregate_id, public_key = history.aggregate_id, signer.public_key if signer else None
    actor, command_id = meta.actor, meta.command_id
    correlation_id, causation_id = meta.correlation_id, meta.causation_id
    times: dict[datetime, Any] = {}
    signed = {} if public_key is None else {"signer": public_key}
    envelopes = []
    for new, event_id in zip(new_events, uuid4_texts(len(new_events)), strict=True):
        version += 1
        occurred_at = new.occurred_at
        occurred_json = times.get(occurred_at)
        if occurred_json is None:
            occurred_json = times[occurred_at] = json_time(occurred_at)
        # The envelope's own values in the model's field order (`trusted` checks it), the
        # times as datetimes; what the hash covers is every field but `hash` and `signature`
        # (and `signer` when there is none) in JSON form (`hashing.json_form_hash`'s body):
        # the same fields with the times' JSON forms (the canonical form sorts the keys).
        values: dict[str, Any] = {
            "event_id": event_id,
            "event_type": new.event_type,
            "schema_version": new.schema_version,
            "context": context,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "aggregate_version": version,
            "occurred_at": occurred_json,
            "recorded_at": recorded_json,
            "actor": actor,
            "command_id": command_id,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "prev_hash": prev_hash,
        }
        payload = new.payload
        body = {**values, "payload": payload, **signed}
        digest = hashlib.sha256(canonical_json_form(body)).hexdigest()
        values["occurred_at"] = occurred_at  # (assigned in place: the order is kept)
        values["recorded_at"] = recorded_at
        values["hash"] = digest
        values["payload"] = payload
        values["signer"] = public_key
        values["signature"] = signer.sign(digest) if signer else None
        envelopes.append(trusted(EventEnvelope, values))
        prev_hash = digest
    return envelopes


def uuid4_texts(count: int) -> list[str]:
    """`str(uuid.uuid4())` `count` times: the same random version 4 ids (the version and
    variant bits set as `uuid.UUID(version=4)` sets them), from one `os.urandom` call and
    without a `UUID` object each (a third of the time)."""
    raw = os.urandom(16 * count)
    texts = []
    for start in range(0, 16 * count, 16):
        b = bytearray(raw[start : start + 16])
        b[6] = b[6] & 0x0F | 0x40  # version 4
        b[8] = b[8] & 0x3F | 0x80  # variant RFC 4122
        h = b.hex()
        texts.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return texts
