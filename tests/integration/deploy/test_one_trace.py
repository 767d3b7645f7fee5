"""A mutation is one OpenTelemetry trace across the services it crosses (in-memory exporter).

The gateway's command bus sends the command (its span), the registry service handles it (the
command's span, a child of the gateway's through W3C `traceparent` in the NATS headers) and
appends its events (the append's span, whose context the stored events carry on).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bootstrap.serve import enrolment_app, registry_app
from contracts_schema.enrolment import commands as en
from contracts_schema.registry import commands as rg
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import REGISTRY
from enrolment.app import EnrolmentSettings
from eventstore.observability import ObservabilitySettings, ensure_tracer_provider
from eventstore.settings import NatsSettings
from eventstore.testing.nats_server import NatsServer
from gateway.commandbus import CommandBus


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    ensure_tracer_provider()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


async def test_a_mutation_is_one_trace_across_gateway_and_service(
    spans: InMemorySpanExporter, nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    app, _ = registry_app(
        NatsSettings(nats_url=nats_server.url),
        observability=ObservabilitySettings(metrics_port=-1, trace_propagation=True),
    )
    # The coordinator must be a registered organisation (ORGANISATION_UNKNOWN otherwise).
    enrolment, _ = enrolment_app(
        EnrolmentSettings(
            nats_url=nats_server.url, enrolment_database_url=f"sqlite:///{tmp_path}/enrolment.db"
        ),
        observability=ObservabilitySettings(metrics_port=-1),
    )
    await enrolment.start()
    await app.start()
    try:
        registered = await CommandBus(nats_client).send(
            en.RegisterOrganisation(
                command_id="trace-0", code="GM0363", name="Amsterdam", kind="municipality"
            ),
            "trace-test",
        )
        assert isinstance(registered, CommandAccepted), registered
        spans.clear()
        reply = await CommandBus(nats_client).send(
            rg.PlanProgramme(
                command_id="trace-1", programme_id="TR", name="Traced", coordinator="GM0363"
            ),
            "trace-test",
        )
    finally:
        await app.stop()
        await enrolment.stop()
    assert isinstance(reply, CommandAccepted), reply
    finished = {s.name: s for s in spans.get_finished_spans()}
    send = finished["send PlanProgramme"]
    command = finished["command PlanProgramme"]
    append = finished[f"append {REGISTRY.stream}"]
    assert send.context is not None
    assert command.context is not None
    assert append.context is not None
    # One trace: gateway -> registry service -> the append of its events.
    assert {send.context.trace_id, command.context.trace_id, append.context.trace_id} == {
        send.context.trace_id
    }
    assert command.parent is not None
    assert command.parent.span_id == send.context.span_id
    assert append.parent is not None
    assert append.parent.span_id == command.context.span_id
    assert command.attributes is not None
    assert command.attributes["gt.service"] == REGISTRY.name
    assert command.attributes["gt.outcome"] == "accepted"
    # The stored event carries the append span's context on to its consumers.
    message = await nats_client.jetstream().get_msg(REGISTRY.stream, reply.events[0].seq)
    traceparent = (message.headers or {})["traceparent"]
    assert traceparent.split("-")[1:3] == [
        format(append.context.trace_id, "032x"),
        format(append.context.span_id, "016x"),
    ]
