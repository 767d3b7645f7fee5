"""The registry service's parts: its command routes and the event types it owns.

The composition root (`bootstrap.parts`) makes the CommandService from them and
`python -m bootstrap.serve registry` serves it with FastStream.
"""

from __future__ import annotations

from contracts_schema.subjects import REGISTRY
from eventstore.commands import CommandParts
from registry.call_off_refusal import RegistryService
from registry.routes import REGISTRY_EVENT_TYPES, build_routes

COMMANDS = CommandParts(REGISTRY, build_routes, REGISTRY_EVENT_TYPES, kind=RegistryService)
