"""The event store's values and the sealing of new events, free of any broker.

Both stores (JetStream in `eventstore.store`, in memory in `eventstore.memory`) build on these,
so an envelope sealed by either continues the same version and hash chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.clock import Clock
from eventstore.hashing import json_form_hash
from eventstore.signing import EventSigner

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
_checked: set[type[BaseModel]] = set()  # models whose trusted values matched their fields


def trusted(model: type[M], values: dict[str, Any], given: set[str] | None = None) -> M:
    """`model.model_construct(**values)` for our own values of a plain model (every field in
    `values`, no aliases, defaults or post-init; `given`: the fields counted as set, all by
    default), without its walk over the fields: on every command's reply (a quarter of the
    reply's cost under cProfile). `values` is taken over, not copied. Its keys are checked
    against the model's fields once per model, so a field added to the model later and not
    to the caller fails at once instead of going missing from the JSON (each model has one
    caller today: a second caller of the same model is not checked again)."""
    if model not in _checked:
        if list(values) != list(model.model_fields):
            raise TypeError(
                f"trusted {model.__name__}: values for {list(values)}, "
                f"the model's fields in order are {list(model.model_fields)}"
            )
        _checked.add(model)
    made = model.__new__(model)
    _set(made, "__dict__", values)
    _set(made, "__pydantic_fields_set__", set(values) if given is None else given)
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made


@dataclass(frozen=True)
class StoredEvent:
    envelope: EventEnvelope
    stream: str
    seq: int
    subject: str
    # The W3C traceparent stored with the event (when its command propagated a trace), so a
    # consumer's span joins the mutation's trace. Not part of the event's identity.
    traceparent: str | None = field(default=None, compare=False, repr=False)
    # Why a reader may not take it as fact (`eventstore.trust`), None when it may.
    refused: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NewEvent:
    event_type: str
    schema_version: int
    payload: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class CommandMetadata:
    command_id: str
    actor: str
    correlation_id: str
    causation_id: str | None = None


@dataclass(frozen=True)
class AggregateHistory:
    context: BoundedContext
    aggregate_type: str
    aggregate_id: str
    events: tuple[StoredEvent, ...]
    last_seq: int  # stream sequence of the aggregate's last event, 0 when new

    @property
    def version(self) -> int:
        return self.events[-1].envelope.aggregate_version if self.events else 0

    @property
    def last_hash(self) -> str | None:
        return self.events[-1].envelope.hash if self.events else None

    def events_of_command(self, command_id: str) -> tuple[StoredEvent, ...]:
        return tuple(e for e in self.events if e.envelope.command_id == command_id)


def decode(
    msg_subject: str, stream: str, seq: int, data: bytes, traceparent: str | None = None
) -> StoredEvent:
    return StoredEvent(
        EventEnvelope.model_validate_json(data), stream, seq, msg_subject, traceparent
    )


def recorded_after(clock: Clock, history: AggregateHistory) -> datetime:
    """The transaction time of events continuing `history`: now, but never before its last
    event's. Each process seals with its own clock, and two clocks (or one stepped back)
    disagree: a later version recorded "earlier" than its predecessor would be known before
    it, and the views that fold what was known at an instant (knownAt) would take it without
    its predecessor, where the owner folded both. So an aggregate's transaction times never
    run backwards (docs/valid-time.md, "Transaction time"); the appender holds the last event
    (the loaded or cached head), so this costs one comparison."""
    now = clock.now()
    if history.events:
        last = history.events[-1].envelope.recorded_at
        if last > now:
            return last
    return now


_SEALED = ("hash", "signature")  # set by `seal` after validating, as `model_copy` set them


def seal(
    clock: Clock,
    history: AggregateHistory,
    new_events: Sequence[NewEvent],
    meta: CommandMetadata,
    signer: EventSigner | None = None,
) -> list[EventEnvelope]:
    """Wrap payloads in envelopes continuing the aggregate's version and hash chain, signed
    by `signer` (the context's service key) when given."""
    recorded_at = recorded_after(clock, history)
    prev_hash = history.last_hash
    version = history.version
    envelopes = []
    for new in new_events:
        version += 1
        fields: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "event_type": new.event_type,
            "schema_version": new.schema_version,
            "context": history.context.name,
            "aggregate_type": history.aggregate_type,
            "aggregate_id": history.aggregate_id,
            "aggregate_version": version,
            "occurred_at": new.occurred_at,
            "recorded_at": recorded_at,
            "actor": meta.actor,
            "command_id": meta.command_id,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
            "prev_hash": prev_hash,
            "payload": new.payload,
            "signer": signer.public_key if signer else None,
        }
        # Validated once; the hash is over its JSON form (what is stored, and what verifying
        # a decoded envelope hashes), then set with the signature without validating again:
        # on the envelope itself, made here and seen by no one yet (a copy cost as much as
        # the validation).
        envelope = EventEnvelope.model_validate({**fields, "hash": ""})
        # Over its JSON form, encoded by orjson (`json_form_hash`: the same bytes, hence the
        # same hash, as `envelope_hash` of that form; a fifth of a command's sealing less).
        digest = json_form_hash(envelope.model_dump(mode="json"))
        signature = signer.sign(digest) if signer else None
        envelope.__dict__.update(hash=digest, signature=signature)
        envelope.__pydantic_fields_set__.update(_SEALED)
        envelopes.append(envelope)
        prev_hash = digest
    return envelopes
