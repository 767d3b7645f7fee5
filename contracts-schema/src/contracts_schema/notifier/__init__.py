"""Events and commands of the notifier context (with the `person` aggregate of privacy.py)."""

from contracts_schema.base import Command, DomainEvent
from contracts_schema.notifier.commands import COMMANDS as _COMMANDS
from contracts_schema.notifier.events import EVENTS as _EVENTS
from contracts_schema.privacy import ErasePerson, PersonErased

COMMANDS: tuple[type[Command], ...] = (*_COMMANDS, ErasePerson)
EVENTS: tuple[type[DomainEvent], ...] = (*_EVENTS, PersonErased)

__all__ = ["COMMANDS", "EVENTS"]
