"""Reading stored events of any schema version: upcasters, and the one decode every reader uses.

An event is stored as it was written: its envelope's `schema_version` is the version of the
model that wrote it, and the payload is never rewritten (the hash chain and the signatures
cover those stored bytes). Reading lifts the payload, one version at a time, with pure
functions `payload(n) -> payload(n + 1)` registered here per event type, until it is the
model's current version; only then is it validated. Domain code, folds, read models and
exports see the current version only.

The rule for a new version (docs/evolution.md): when a payload stored under the current
model would no longer validate (a field removed, renamed or newly required, a type or
constraint narrowed), raise the model's `schema_version` and register the upcaster from the
previous version here. `python -m contracts_schema.generate --check` enforces it against the
frozen schema of every committed version (`contracts_schema.compat`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from contracts_schema.base import DomainEvent
from contracts_schema.catalogue import EVENT_TYPES

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

# (event type, version it lifts from) -> the pure function to the next version.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnreadableEvent(ValueError):
    """A stored event this code cannot lift to its current model (the message says why)."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(lift: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise RuntimeError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = lift
        return lift

    return register


def upcast(
    event_type: str,
    schema_version: int,
    payload: Mapping[str, Any],
    current: int,
    upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS,
) -> Payload:
    """The payload lifted from `schema_version` to `current` (a new dict; the input is
    left as stored)."""
    if schema_version > current:
        raise UnreadableEvent(
            f"{event_type} v{schema_version} is newer than this code's model (v{current}):"
            " deploy the newer contracts-schema before reading it"
        )
    lifted = dict(payload)
    for version in range(schema_version, current):
        step = upcasters.get((event_type, version))
        if step is None:
            raise UnreadableEvent(
                f"no upcaster lifts {event_type} from v{version} to v{version + 1}"
            )
        lifted = step(dict(lifted))
    return lifted


def decode(
    event_type: str,
    schema_version: int,
    payload: Mapping[str, Any],
    models: Mapping[str, type[DomainEvent]] = EVENT_TYPES,
) -> DomainEvent:
    """The current typed event for a stored payload of any version.

    Raises `UnreadableEvent` for an unknown type or version, pydantic's ValidationError for a
    payload its own version's model never accepted."""
    model = models.get(event_type)
    if model is None:
        raise UnreadableEvent(
            f"unknown event type {event_type!r}: the contracts_schema catalogue has no event"
            " of that name (is the contracts-schema package older than the event store?)"
        )
    if schema_version == model.schema_version:
        # Nothing to lift (import40): validated as stored, without `upcast`'s copy (pydantic
        # does not change what it validates).
        return model.model_validate(payload)
    return model.model_validate(upcast(event_type, schema_version, payload, model.schema_version))


class Stored(Protocol):
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def payload(self) -> dict[str, Any]: ...


def decode_envelope(
    envelope: Stored, models: Mapping[str, type[DomainEvent]] = EVENT_TYPES
) -> DomainEvent:
    """`decode` for a stored envelope (`EventEnvelope` or anything with its three fields)."""
    return decode(envelope.event_type, envelope.schema_version, envelope.payload, models)


def current_payload(envelope: Stored) -> Payload:
    """A stored payload as the current model writes it (for views that show raw payloads)."""
    return decode_envelope(envelope).model_dump(mode="json")


# -- the upcasters, by event type ------------------------------------------------------------
# Each is pure: it sees one payload dict of version n and returns version n + 1.
from contracts_schema import upcasters as _upcasters  # noqa: E402,F401  (registers them)

__all__ = [
    "UPCASTERS",
    "UnreadableEvent",
    "current_payload",
    "decode",
    "decode_envelope",
    "upcast",
    "upcaster",
]
