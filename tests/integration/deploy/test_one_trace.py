"""A mutation is one OpenTelemetry trace across the services it crosses (in-memory exporter).

The gateway's command bus sends the command (its span), the registry service handles it (the
command's span, a child of the gateway's through W3C `traceparent` in the NATS headers) and
appends its events (the append's span, whose context the stored events carry on). Every
projection that applies the event does so in a span under the append's; the query that reads
the write with its consistency token joins the trace through the client's `traceparent`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bootstrap.parts import read_side
from bootstrap.serve import enrolment_app, registry_app
from contracts_schema.enrolment import commands as en
from contracts_schema.registry import commands as rg
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import REGISTRY
from enrolment.app import EnrolmentSettings
from eventstore.clock import SystemClock
from eventstore.observability import (
    ObservabilitySettings,
    ensure_tracer_provider,
    outgoing_trace_headers,
    tracer,
)
from eventstore.settings import NatsSettings
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.auth import Role, issue_token
from gateway.commandbus import CommandBus
from gateway.settings import GatewaySettings


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


MUTATION = """mutation($input: PlanProgrammeInput!) { planProgramme(input: $input) {
  __typename ... on CommandSucceeded { consistencyToken } } }"""
QUERY = """query($token: String) { programmes(consistencyToken: $token) { programmeId } }"""


async def test_a_mutation_and_the_query_reading_it_are_one_trace_down_to_the_projections(
    spans: InMemorySpanExporter, nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    """A client that sends its W3C `traceparent` with the mutation and with the query that
    reads it (consistency token) sees one trace: its gateway requests, the command bus, the
    registry's command and append, every projection that applied the event, the wait."""
    registry, _ = registry_app(
        NatsSettings(nats_url=nats_server.url),
        observability=ObservabilitySettings(metrics_port=-1, trace_propagation=True),
    )
    enrolment, _ = enrolment_app(
        EnrolmentSettings(
            nats_url=nats_server.url, enrolment_database_url=f"sqlite:///{tmp_path}/enrolment.db"
        ),
        observability=ObservabilitySettings(metrics_port=-1),
    )
    await enrolment.start()
    await registry.start()
    registered = await CommandBus(nats_client).send(
        en.RegisterOrganisation(
            command_id="trace-0", code="GM0363", name="Amsterdam", kind="municipality"
        ),
        "trace-test",
    )
    assert isinstance(registered, CommandAccepted), registered
    settings = GatewaySettings(
        database_url=f"sqlite:///{tmp_path / 'read.db'}", jwt_secret="s" * 40
    )
    side = await read_side(nats_client, settings, EventStore(nats_client, SystemClock()))
    bearer = issue_token(settings, Role.COORDINATOR, "coordinator-1")
    command = {
        "commandId": "trace-2",
        "programmeId": "TQ",
        "name": "Traced",
        "coordinator": "GM0363",
    }
    try:
        assert side.app is not None
        transport = httpx.ASGITransport(app=side.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            with tracer.start_as_current_span("coordinator") as root:
                headers = {"Authorization": f"Bearer {bearer}", **outgoing_trace_headers()}
                sent = await client.post(
                    "/graphql", json={"query": MUTATION, "variables": {"input": command}},
                    headers=headers,
                )  # fmt: skip
                result = sent.json()["data"]["planProgramme"]
                assert result["__typename"] == "CommandSucceeded", sent.text
                read = await client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": {"token": result["consistencyToken"]}},
                    headers=headers,
                )
        assert {"programmeId": "TQ"} in read.json()["data"]["programmes"], read.text
    finally:
        await side.stop()
        await registry.stop()
        await enrolment.stop()

    trace_id = root.get_span_context().trace_id
    mine = [s for s in spans.get_finished_spans() if s.context and s.context.trace_id == trace_id]
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in mine:
        by_name.setdefault(span.name, []).append(span)
    mutation, query = by_name["graphql"]  # the two requests, in the client's trace
    root_id = root.get_span_context().span_id
    assert {mutation.parent.span_id, query.parent.span_id} == {root_id}  # type: ignore[union-attr]
    [send] = by_name["send PlanProgramme"]
    [command_span] = by_name["command PlanProgramme"]
    [append] = by_name[f"append {REGISTRY.stream}"]
    assert send.parent is not None
    assert mutation.context is not None
    assert send.parent.span_id == mutation.context.span_id
    assert command_span.parent is not None
    assert send.context is not None
    assert command_span.parent.span_id == send.context.span_id
    # Each projection reading REGISTRY applied the event in a span under the append's.
    projected = {
        s.attributes["gt.projection"]: s  # type: ignore[index]
        for s in mine
        if s.name.startswith("project ")
    }
    readers = {r.projection.key for r in side.runners if REGISTRY in r.projection.contexts}
    assert readers
    assert readers <= set(projected), (readers, set(projected))
    assert append.context is not None
    for span in projected.values():
        assert span.parent is not None
        assert span.parent.span_id == append.context.span_id
        assert span.attributes is not None
        assert span.attributes["gt.stream"] == REGISTRY.stream
    # The query waited for the token inside its own request span.
    [wait] = by_name["read-your-writes"]
    assert wait.parent is not None
    assert query.context is not None
    assert wait.parent.span_id == query.context.span_id
    assert wait.attributes == {"gt.consistency_token": result["consistencyToken"]}
