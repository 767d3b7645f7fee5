"""Trace context from a command's request headers continues on the events it appends."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.observability import ObservabilitySettings
from eventstore.service_app import build_service_app
from eventstore.serving import send_command
from eventstore.settings import NatsSettings
from eventstore.store import CommandMetadata, EventStore, NewEvent
from eventstore.testing.nats_server import NatsServer
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries

CLOCK = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))


@dataclass(frozen=True)
class Parent:
    """A W3C trace parent (the wire format OpenTelemetry's propagator reads and writes)."""

    trace_id: str
    span_id: str

    @classmethod
    def new(cls) -> Parent:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    @property
    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    @classmethod
    def parse(cls, header: str) -> Parent | None:
        found = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}", header)
        return cls(found[1], found[2]) if found else None


async def make(store: EventStore, nc: NATS, _clock: object) -> CommandService:
    return CommandService(LEDGER, store, CLOCK, ROUTES, EVENT_TYPES)


@pytest.fixture(params=[True, False], ids=["propagation-on", "propagation-off"])
async def ledger(request: pytest.FixtureRequest, nats_server: NatsServer) -> AsyncIterator[bool]:
    app, _ = build_service_app(
        "ledger",
        make,
        NatsSettings(nats_url=nats_server.url),
        CLOCK,
        ObservabilitySettings(metrics_port=-1, trace_propagation=request.param),
    )
    await app.start()
    yield bool(request.param)
    await app.stop()


async def stored_headers(nc: NATS, reply: CommandAccepted) -> list[dict[str, str]]:
    js = nc.jetstream()
    return [dict((await js.get_msg(LEDGER.stream, e.seq)).headers or {}) for e in reply.events]


async def test_events_carry_the_commands_trace_id(ledger: bool, nats_client: NATS) -> None:
    caller = Parent.new()
    reply = await send_command(
        nats_client,
        LEDGER,
        RecordEntries(command_id="t-1", ledger_id="l-1", amounts=[5, 7]),  # an atomic batch of 2
        headers={"traceparent": caller.header},
    )
    assert isinstance(reply, CommandAccepted), reply
    headers = await stored_headers(nats_client, reply)
    assert len(headers) == 2
    assert all(h["Nats-Msg-Id"].startswith("ledger:t-1:l-1:") for h in headers)
    if not ledger:
        assert all("traceparent" not in h for h in headers)
        return
    traces = [Parent.parse(h["traceparent"]) for h in headers]
    assert all(t is not None and t.trace_id == caller.trace_id for t in traces)
    # Each event is a span of its own below the command's, never the caller's span itself.
    assert all(t is not None and t.span_id != caller.span_id for t in traces)

    # Without a caller's trace the command starts one; its events carry that one.
    fresh = await send_command(
        nats_client, LEDGER, RecordEntries(command_id="t-2", ledger_id="l-2", amounts=[1])
    )
    assert isinstance(fresh, CommandAccepted)
    (only,) = await stored_headers(nats_client, fresh)
    started = Parent.parse(only["traceparent"])
    assert started is not None
    assert started.trace_id != caller.trace_id


async def test_extra_headers_cannot_override_the_stores_own(nats_client: NATS) -> None:
    store = EventStore(nats_client, CLOCK)
    await store.ensure_stream(LEDGER)
    history = await store.load(LEDGER, "ledger", "l-9")
    event = NewEvent("EntryRecorded", 1, {"amount": 1}, CLOCK.now())
    with pytest.raises(ValueError, match="may not set Nats-Msg-Id: Nats-\\* headers"):
        await store.append(
            history, [event], CommandMetadata("x", "t", "x"), headers={"Nats-Msg-Id": "forged"}
        )
    stored = await store.append(
        history, [event], CommandMetadata("y", "t", "y"), headers={"x-tenant": "gt"}
    )
    msg = await nats_client.jetstream().get_msg(LEDGER.stream, stored[0].seq)
    assert (msg.headers or {})["x-tenant"] == "gt"
