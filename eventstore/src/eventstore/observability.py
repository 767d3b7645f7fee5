"""Operability for every service: health/readiness, Prometheus metrics, JSON logs, trace context.

- `eventstore.health.HealthServer` answers `/healthz`, `/readyz` and `/metrics` on
  `GT_METRICS_HOST:GT_METRICS_PORT` (`python -m eventstore.health probe URL` for containers).
- Metrics: command latency by outcome, append conflicts, projection lag and parked events
  (read from registered projection runners at scrape time), webhook deliveries.
- Logs are JSON lines carrying the command's correlation id (and trace id when present).
- Trace context travels in NATS headers as W3C `traceparent` (OpenTelemetry's default wire
  format) when `GT_TRACE_PROPAGATION` is on: a command's span is a child of the caller's.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nats.aio.client import Client as NATS
from prometheus_client import Counter, Gauge, Histogram
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts_schema.subjects import BoundedContext
from eventstore.errors import ConcurrencyConflict
from eventstore.store import AggregateHistory, CommandMetadata, EventStore, NewEvent, StoredEvent

log = logging.getLogger(__name__)

COMMAND_LATENCY = Histogram(
    "gt_command_duration_seconds",
    "Time to handle one command, by service, command type and outcome.",
    ["service", "command_type", "outcome"],
)
APPEND_CONFLICTS = Counter(
    "gt_append_conflicts_total", "Appends refused for a stale expected sequence.", ["context"]
)
PROJECTION_LAG = Gauge(
    "gt_projection_lag_events",
    "Events in the stream that the projection has not applied yet.",
    ["projection", "stream"],
)
PARKED_EVENTS = Gauge(
    "gt_projection_parked_events", "Events parked by the projection since start.", ["projection"]
)
WEBHOOK_DELIVERIES = Counter(
    "gt_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)
trace_parent: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "trace_parent", default=None
)


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore")

    # Safe defaults for the embedded run; containers set 0.0.0.0, 9100 and json.
    metrics_host: str = Field(default="127.0.0.1", description="Interface of /healthz, /metrics.")
    metrics_port: int = Field(default=0, ge=-1, le=65535, description="0 = any free, -1 = off.")
    log_format: Literal["json", "text"] = Field(
        default="text", description="json: one JSON object per line; text: leave logging alone."
    )
    log_level: str = "INFO"
    trace_propagation: bool = Field(default=False, description="W3C traceparent in headers.")


# ---- trace context (W3C Trace Context, as OpenTelemetry's propagator writes it) ----
@dataclass(frozen=True)
class TraceContext:
    trace_id: str  # 32 hex
    span_id: str  # 16 hex
    sampled: bool = True

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        parts = (header or "").strip().split("-")
        if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16:
            return None
        try:
            int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
        except ValueError:
            return None
        if set(parts[1]) == {"0"} or set(parts[2]) == {"0"}:
            return None
        return cls(parts[1], parts[2], int(parts[3], 16) & 1 == 1)

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, secrets.token_hex(8), self.sampled)

    @property
    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def trace_headers() -> dict[str, str]:
    """Headers to put on an outgoing NATS message to continue the current trace."""
    current = trace_parent.get()
    return {"traceparent": current.child().header} if current else {}


# ---- structured logs ----
class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": correlation_id.get(),
        }
        trace = trace_parent.get()
        if trace is not None:
            entry["trace_id"], entry["span_id"] = trace.trace_id, trace.span_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: ObservabilitySettings) -> None:
    """JSON lines on stderr for the whole process (a service's entry point calls this)."""
    if settings.log_format != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    logging.Formatter.converter = time.gmtime


# ---- command instrumentation ----
def _correlation_of(headers: Mapping[str, str], body: bytes) -> str | None:
    if headers.get("Gt-Correlation-Id"):
        return headers["Gt-Correlation-Id"]
    try:
        request = json.loads(body)
        command = request.get("command") or {}
        found = request.get("correlation_id") or command.get("command_id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


async def observe_command(
    service: str,
    subject: str,
    headers: Mapping[str, str],
    body: bytes,
    handle: Callable[[], Awaitable[bytes]],
    *,
    propagate_trace: bool = False,
) -> bytes:
    """Run `handle` with the command's correlation id (and trace) bound; time it by outcome."""
    cid = correlation_id.set(_correlation_of(headers, body))
    parent = TraceContext.parse(headers.get("traceparent")) if propagate_trace else None
    span = trace_parent.set(
        (parent.child() if parent else TraceContext.new()) if propagate_trace else None
    )
    started = time.perf_counter()
    outcome = "error"
    try:
        reply = await handle()
        try:
            parsed = json.loads(reply)
            outcome = "accepted" if parsed.get("status") == "accepted" else str(parsed.get("code"))
        except ValueError:
            outcome = "unparsable_reply"
        return reply
    finally:
        command_type = subject.rsplit(".", 1)[-1]
        COMMAND_LATENCY.labels(service, command_type, outcome).observe(
            time.perf_counter() - started
        )
        trace_parent.reset(span)
        correlation_id.reset(cid)


class InstrumentedEventStore(EventStore):
    """The event store, counting appends refused for a stale expected sequence."""

    async def append(
        self,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> list[StoredEvent]:
        try:
            return await super().append(history, new_events, meta, headers=headers)
        except ConcurrencyConflict:
            APPEND_CONFLICTS.labels(history.context.name).inc()
            raise


# ---- projection lag ----
class WatchedProjection(Protocol):
    """What the lag probe reads from a running `eventstore.projection.ProjectionRunner`."""

    positions: dict[str, int]
    parked_count: int

    @property
    def projection(self) -> Any: ...  # .key and .contexts


@dataclass(frozen=True)
class _Watch:
    nc: NATS
    runner: WatchedProjection


_watched: list[_Watch] = []


def watch_projection(nc: NATS, runner: WatchedProjection) -> None:
    """Report this runner's lag and parked events on every /metrics scrape."""
    _watched.append(_Watch(nc, runner))


def unwatch_projection(runner: WatchedProjection) -> None:
    _watched[:] = [w for w in _watched if w.runner is not runner]


async def refresh_projection_metrics() -> None:
    for watch in list(_watched):
        key = watch.runner.projection.key
        PARKED_EVENTS.labels(key).set(watch.runner.parked_count)
        contexts: tuple[BoundedContext, ...] = watch.runner.projection.contexts
        for context in contexts:
            try:
                info = await watch.nc.jetstream().stream_info(context.stream)
            except Exception as exc:  # the lag of an unreachable stream is unknown, not zero
                log.warning("projection lag of %s on %s unknown: %s", key, context.stream, exc)
                continue
            applied = watch.runner.positions.get(context.stream, 0)
            PROJECTION_LAG.labels(key, context.stream).set(max(0, info.state.last_seq - applied))
