"""Commands of the notifier context."""

from __future__ import annotations

from contracts_schema.base import Command

COMMANDS: tuple[type[Command], ...] = ()
