"""Events and commands of the notifier context."""

from contracts_schema.notifier.commands import COMMANDS
from contracts_schema.notifier.events import EVENTS

__all__ = ["COMMANDS", "EVENTS"]
