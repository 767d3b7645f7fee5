"""Events and commands of the enrolment context."""

from contracts_schema.enrolment.commands import COMMANDS
from contracts_schema.enrolment.events import EVENTS

__all__ = ["COMMANDS", "EVENTS"]
