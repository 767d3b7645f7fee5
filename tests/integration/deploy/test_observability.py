"""Health, readiness and metrics of a service built by `build_service_app`, on a real NATS.

Every service (registry, enrolment, notifier; the gateway starts the same HealthServer)
gets these endpoints from the shared entry point, so the test-only ledger service stands in.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from nats.aio.client import Client as NATS
from opentelemetry import trace
from prometheus_client.parser import text_string_to_metric_families

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.errors import ConcurrencyConflict
from eventstore.health import HealthServer
from eventstore.health import main as health_main
from eventstore.observability import (
    InstrumentedEventStore,
    ObservabilitySettings,
    correlation_id,
    json_handler,
    observe_command,
)
from eventstore.service_app import build_service_app
from eventstore.serving import parse_reply, send_command
from eventstore.settings import NatsSettings
from eventstore.store import CommandMetadata, EventStore, NewEvent
from eventstore.testing.nats_server import NatsServer, free_port
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries

CLOCK = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


@pytest.fixture
async def ledger_app(nats_server: NatsServer) -> AsyncIterator[str]:
    async def make(store: EventStore, nc: NATS, _clock: object) -> CommandService:
        return CommandService(LEDGER, store, CLOCK, ROUTES, EVENT_TYPES)

    port = free_port()
    app, _ = build_service_app(
        "ledger",
        make,
        NatsSettings(nats_url=nats_server.url),
        CLOCK,
        ObservabilitySettings(metrics_port=port, trace_propagation=True),
    )
    await app.start()
    yield f"http://127.0.0.1:{port}"
    await app.stop()


async def test_service_answers_healthz_readyz_and_metrics(
    ledger_app: str, nats_client: NATS
) -> None:
    labels = {"service": "ledger", "command_type": "RecordEntries"}
    count = "gt_command_duration_seconds_count"
    async with httpx.AsyncClient(base_url=ledger_app, timeout=5) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"nats": True, "commands": True}
        before = (await http.get("/metrics")).text  # metrics are per process: compare deltas
        accepted = await send_command(
            nats_client, LEDGER, RecordEntries(command_id="m-1", ledger_id="m", amounts=[1, 2])
        )
        assert isinstance(accepted, CommandAccepted)
        bad = await nats_client.request("ledger.commands.RecordEntries", b"{oops", timeout=5)
        assert isinstance(parse_reply(bad.data), CommandRejected)
        metrics = (await http.get("/metrics")).text
        assert (await http.get("/nope")).status_code == 404
    for outcome in ("accepted", "MALFORMED_COMMAND"):
        delta = (sample(metrics, count, **labels, outcome=outcome) or 0) - (
            sample(before, count, **labels, outcome=outcome) or 0
        )
        assert delta == 1, outcome
    for name in ("gt_append_conflicts", "gt_projection_lag_events", "gt_webhook_deliveries"):
        assert f"# HELP {name}" in metrics


async def test_append_conflicts_are_counted(ledger_app: str, nats_client: NATS) -> None:
    # Two writers decided on the same version of one aggregate: the second append is stale.
    store = InstrumentedEventStore(nats_client, CLOCK)
    await store.ensure_stream(LEDGER)
    stale = await store.load(LEDGER, "ledger", "hot")
    event = NewEvent("EntryRecorded", 1, {"amount": 1}, CLOCK.now())
    await store.append(stale, [event], CommandMetadata("w-1", "t", "w-1"))
    async with httpx.AsyncClient(base_url=ledger_app, timeout=5) as http:
        before = sample(
            (await http.get("/metrics")).text, "gt_append_conflicts_total", context="ledger"
        )
        with pytest.raises(ConcurrencyConflict):
            await store.append(stale, [event], CommandMetadata("w-2", "t", "w-2"))
        after = sample(
            (await http.get("/metrics")).text, "gt_append_conflicts_total", context="ledger"
        )
    assert (after or 0.0) - (before or 0.0) == 1


async def test_readiness_fails_while_a_check_fails_and_probe_reports_it() -> None:
    state = {"up": False}
    server = HealthServer("127.0.0.1", 0)
    server.add_readiness("dependency", lambda: state["up"])
    await server.start()
    url = server.url
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            response = await http.get("/readyz")
            assert (response.status_code, response.json()["checks"]) == (503, {"dependency": False})
            state["up"] = True
            assert (await http.get("/readyz")).status_code == 200
        # The containers' health check, run as the orchestrator would (blocking, own thread).
        assert await asyncio.to_thread(health_main, ["probe", f"{url}/readyz"]) == 0
    finally:
        await server.stop()
    assert health_main(["probe", f"{url}/healthz"]) == 1  # stopped: the probe fails
    assert health_main(["bogus"]) == 2


async def test_logs_are_json_with_correlation_and_trace_ids() -> None:
    stream = io.StringIO()
    handler = json_handler(stream)
    logger = logging.getLogger("gt.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)

    async def handle() -> bytes:
        logger.info("handling %s", "it")
        return b'{"status": "accepted"}'

    body = json.dumps(
        {"command_type": "X", "command": {"command_id": "c-9"}, "correlation_id": "corr-7"}
    )
    await observe_command(
        "ledger",
        "ledger.commands.X",
        {"traceparent": f"00-{caller_trace}-{caller_span}-01"},
        body.encode(),
        handle,
        propagate_trace=True,
    )
    logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "handling it"
    assert (entry["level"], entry["logger"]) == ("INFO", "gt.test.json")
    assert entry["ts"]
    assert entry["correlation_id"] == "corr-7"
    assert entry["trace_id"] == caller_trace  # the command's span continues the caller's trace
    assert entry["span_id"] != caller_span
    assert correlation_id.get() is None  # unbound after the command


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",  # version ff is invalid (W3C)
        "00-" + "0" * 32 + "-" + "b" * 16 + "-01",
    ],
)
async def test_invalid_traceparent_starts_a_trace_of_its_own(header: str) -> None:
    seen: list[str] = []

    async def handle() -> bytes:
        seen.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))
        return b'{"status": "accepted"}'

    await observe_command(
        "ledger", "ledger.commands.X", {"traceparent": header}, b"{}", handle, propagate_trace=True
    )
    assert len(seen) == 1
    assert seen[0] not in header
