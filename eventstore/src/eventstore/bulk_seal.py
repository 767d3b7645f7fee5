"""Sealing for a bulk writer's own values: `records.seal`'s envelopes, without pydantic's walk.

`records.seal` validates each envelope and dumps it to its JSON form for the hash: a third of
a bulk import's sealing. A bulk writer whose values are already of the envelope's types
(ids from validated commands, aware datetimes, a payload dumped by its event model in JSON
mode) gets here the same envelope, built from those values as they are (`records.trusted`),
hashed over the same JSON form (the two datetimes put in JSON form once per command, the
payload as it is: JSON values already) and signed with the same key. Same fields, same
fields set, same hash, same stored bytes: `tests/unit/eventstore/test_bulk_seal.py` checks
them against `records.seal` on generated events.

A group commit's staging may ask for each event's stored bytes too (`StoredForms`): its JSON
text encoded here, from the same values the hash was taken over (the times' JSON forms, the
payload as dumped), in the envelope's field order -- `envelope.model_dump_json()`'s bytes,
as `group_append.stored_json` would encode them later from the envelope, without that
second walk over each envelope (helper import36).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
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


# The envelope's fields in order, and the values orjson may write as pydantic does: JSON forms
# only (a datetime, date, dataclass or subclass of a JSON type goes to `_not_plain`, which
# leaves the envelope to the model's dump).
ENVELOPE_FIELDS = tuple(EventEnvelope.model_fields)
_PLAIN = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _not_plain(value: object) -> object:
    raise TypeError(f"not a JSON form: {type(value).__name__}")


def stored_form(values: dict[str, Any]) -> bytes | None:
    """The stored bytes of an envelope given as its fields' values in the model's order, its
    two times already in their JSON form (`json_time`): `model_dump_json()`'s text where
    every value is a JSON form (strings, integers within 64 bits, floats, booleans, None,
    lists and dicts of them with string keys); None for anything else (a datetime or Decimal
    in a payload, a lone surrogate, a larger integer): the model dumps it then."""
    try:
        return orjson.dumps(values, default=_not_plain, option=_PLAIN)
    except TypeError:  # (orjson.JSONEncodeError is one)
        return None


# The stored bytes asked for by `StoredForms`, one per envelope `seal_trusted` seals while
# it is open (None: the model's dump to be used); None when none is open.
_collecting: list[bytes | None] | None = None


class StoredForms:
    """`with StoredForms() as forms:` each envelope `seal_trusted` seals inside the block gets
    its stored bytes (or None, see `stored_form`) appended to `forms`, in order: for a caller
    that seals through a store's `sealer` (which knows the signing key) and stores the
    result itself (`group_append.StagedStore`). Sealing is synchronous: nothing else seals
    meanwhile. (A class: a generator's context manager cost more than the sealing saved.)"""

    __slots__ = ("_saved", "forms")

    def __enter__(self) -> list[bytes | None]:
        global _collecting
        self.forms: list[bytes | None] = []
        self._saved, _collecting = _collecting, self.forms
        return self.forms

    def __exit__(self, *exc: object) -> None:
        global _collecting
        _collecting = self._saved


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
    forms = _collecting
    plain_recorded = type(recorded_at) is datetime and recorded_at.tzinfo is not None
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
        values["hash"] = digest
        values["payload"] = payload
        values["signer"] = public_key
        values["signature"] = signer.sign(digest) if signer else None
        if forms is not None:  # what is stored: these values, the times in JSON form
            plain = type(occurred_at) is datetime and occurred_at.tzinfo is not None
            forms.append(stored_form(values) if plain and plain_recorded else None)
        values["occurred_at"] = occurred_at  # (assigned in place: the order is kept)
        values["recorded_at"] = recorded_at
        envelopes.append(trusted(EventEnvelope, values))
        prev_hash = digest
    return envelopes


# Random bytes for event ids, taken from the system's source a block at a time (a system call
# per command cost more than the rest of the ids' making); dropped in a forked child, which
# must not hand out its parent's next ids.
_RANDOM_BLOCK = 16 * 1024


class _Random(threading.local):
    """Each thread its own block: two threads sealing at once never hand out one id twice."""

    block = b""
    at = 0  # the offset of its first unused byte


_random = _Random()
os.register_at_fork(after_in_child=lambda: setattr(_random, "block", b""))
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # the top two bits 10


def uuid4_texts(count: int) -> list[str]:
    """`str(uuid.uuid4())` `count` times: the same random version 4 ids (the version and
    variant bits set as `uuid.UUID(version=4)` sets them), from the system's random source
    (`os.urandom`, read a block at a time) and without a `UUID` object each."""
    need = 16 * count
    block, at = _random.block, _random.at
    if at + need > len(block):
        block, at = os.urandom(max(_RANDOM_BLOCK, need)), 0
        _random.block = block
    _random.at = at + need
    texts = []
    variant = _VARIANT
    for start in range(at, at + need, 16):
        h = block[start : start + 16].hex()
        # version 4 (the 13th hex digit), variant RFC 4122 (the 17th's top bits 10)
        texts.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:]}")
    return texts
