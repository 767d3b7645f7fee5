"""Events and commands of the registry context."""

from contracts_schema.registry.commands import COMMANDS
from contracts_schema.registry.events import EVENTS

__all__ = ["COMMANDS", "EVENTS"]
