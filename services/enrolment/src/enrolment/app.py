"""The enrolment service's parts: command routes, the event types it writes, its read model.

Decisions read the registry through the event store port (`enrolment.facts`), so the command
side runs on any store; the `RegistryFacts` read model is kept beside it in the JetStream
deployment (declared in `bootstrap.read_models`). The composition root (`bootstrap.parts`)
makes the CommandService and the runner; `python -m bootstrap.serve enrolment` serves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.subjects import ENROLMENT
from enrolment.facts import Facts
from enrolment.registry_facts import RegistryFacts
from enrolment.routes import build_routes
from enrolment.service import EnrolmentCommandService
from eventstore.commands import CommandParts, CommandRoute
from eventstore.ports import EventStorePort
from eventstore.settings import NatsSettings


class EnrolmentSettings(NatsSettings):
    enrolment_database_url: str = Field(
        default="sqlite:///data/enrolment.db",
        description="SQLAlchemy URL of the enrolment service's own read model (registry facts).",
    )


def routes(store: EventStorePort) -> Sequence[CommandRoute[Any, Any]]:
    return build_routes(Facts(store))


# Many bodies enrol in one window at once: allow more optimistic retries than usual.
COMMANDS = CommandParts(
    ENROLMENT, routes, EVENT_TYPES, kind=EnrolmentCommandService, max_attempts=32
)
READ_MODEL = RegistryFacts
