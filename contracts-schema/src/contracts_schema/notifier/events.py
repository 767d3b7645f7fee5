"""Domain events of the notifier context."""

from __future__ import annotations

from contracts_schema.base import DomainEvent

EVENTS: tuple[type[DomainEvent], ...] = ()
