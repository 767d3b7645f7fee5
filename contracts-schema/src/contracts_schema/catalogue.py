"""The explicit catalogue of every event and command type, by name."""

from __future__ import annotations

from contracts_schema import enrolment, notifier, registry
from contracts_schema.base import Command, DomainEvent

EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    *registry.EVENTS,
    *enrolment.EVENTS,
    *notifier.EVENTS,
)
COMMAND_MODELS: tuple[type[Command], ...] = (
    *registry.COMMANDS,
    *enrolment.COMMANDS,
    *notifier.COMMANDS,
)

EVENT_TYPES: dict[str, type[DomainEvent]] = {m.event_type: m for m in EVENT_MODELS}
COMMAND_TYPES: dict[str, type[Command]] = {m.command_type: m for m in COMMAND_MODELS}

if len(EVENT_TYPES) != len(EVENT_MODELS) or len(COMMAND_TYPES) != len(COMMAND_MODELS):
    raise RuntimeError("event and command type names must be unique across contexts")
