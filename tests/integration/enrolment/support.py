"""Helpers for the enrolment service's integration tests (real NATS, real SQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from nats.aio.client import Client as NATS

from bootstrap.serve import enrolment_app
from contracts_schema.base import Command, DomainEvent
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import CONTEXTS, ENROLMENT
from enrolment.app import EnrolmentSettings
from eventstore.clock import Clock
from eventstore.observability import ObservabilitySettings
from eventstore.serving import send_command
from eventstore.store import CommandMetadata, EventStore, NewEvent


@asynccontextmanager
async def enrolment_service(url: str, database_url: str, clock: Clock) -> AsyncIterator[None]:
    app, _broker = enrolment_app(
        EnrolmentSettings(nats_url=url, enrolment_database_url=database_url),
        clock,
        ObservabilitySettings(metrics_port=-1),
    )
    await app.start()
    try:
        yield
    finally:
        await app.stop()


async def accepted(nc: NATS, command: Command) -> CommandAccepted:
    reply = await send_command(nc, CONTEXTS[command.context], command)
    assert isinstance(reply, CommandAccepted), reply
    return reply


async def rejected(nc: NATS, command: Command) -> CommandRejected:
    reply = await send_command(nc, CONTEXTS[command.context], command)
    assert isinstance(reply, CommandRejected), reply
    return reply


async def record_fact(store: EventStore, aggregate_id: str, event: DomainEvent) -> int:
    """Stand in for another service by appending one of its events to its stream."""
    context = CONTEXTS[event.context]
    await store.ensure_stream(context)
    history = await store.load(context, event.aggregate_type, aggregate_id)
    new = NewEvent(
        event.event_type, event.schema_version, event.model_dump(mode="json"), datetime.now(UTC)
    )
    command_id = f"fact-{event.event_type}-{aggregate_id}"
    stored = await store.append(history, [new], CommandMetadata(command_id, "test", command_id))
    return stored[-1].seq


async def stream_events(store: EventStore, event_type: str | None = None) -> list[str]:
    """`aggregate_id:event_type` of every enrolment event, in stream order."""
    return [
        f"{e.envelope.aggregate_id}:{e.envelope.event_type}"
        async for e in store.read_stream(ENROLMENT)
        if event_type in (None, e.envelope.event_type)
    ]
