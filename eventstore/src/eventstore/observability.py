"""Operability for every service: health/readiness, Prometheus metrics, JSON logs, trace context.

- `eventstore.health.HealthServer` answers `/healthz`, `/readyz` and `/metrics` on
  `GT_METRICS_HOST:GT_METRICS_PORT` (`python -m eventstore.health probe URL` for containers).
- Metrics: command latency by outcome, append conflicts, projection lag and parked events
  (read from registered projection runners at scrape time), webhook deliveries.
- Logs (every library's: FastStream, uvicorn, nats-py) are JSON lines through
  python-json-logger under `GT_LOG_FORMAT=json`, with the command's correlation id and the
  current span's trace and span ids.
- Traces through the OpenTelemetry SDK: a span per gateway request, command, append and
  applied projection batch; with `GT_TRACE_PROPAGATION` on, W3C `traceparent` travels in the
  NATS headers (request -> command -> events -> projection), so a mutation is one trace across
  the gateway, the services and the read models. Spans are exported over OTLP/HTTP when
  `GT_OTLP_ENDPOINT` is set.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nats.aio.client import Client as NATS
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Gauge, Histogram
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pythonjsonlogger.json import JsonFormatter

from contracts_schema.envelope import EventEnvelope
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
# The body of the command being handled while its correlation id is not known yet: read from
# it only if something asks (a log line) before the handler's own parse names it
# (`bind_correlation`), so a command's request is not parsed twice.
_unparsed: contextvars.ContextVar[bytes | None] = contextvars.ContextVar(
    "unparsed_request", default=None
)
# Whether the command being handled propagates its trace onto the messages it sends.
propagating: contextvars.ContextVar[bool] = contextvars.ContextVar("propagating", default=False)

tracer = trace.get_tracer("gt-registry")
MAX_PROJECTION_LINKS = 32  # a catch-up batch links this many other traces, not hundreds
_propagator = TraceContextTextMapPropagator()  # W3C `traceparent`, OpenTelemetry's default


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GT_", extra="ignore", allow_inf_nan=False)

    # Safe defaults for the embedded run; containers set 0.0.0.0, 9100 and json.
    metrics_host: str = Field(default="127.0.0.1", description="Interface of /healthz, /metrics.")
    metrics_port: int = Field(default=0, ge=-1, le=65535, description="0 = any free, -1 = off.")
    log_format: Literal["json", "text"] = Field(
        default="text", description="json: one JSON object per line; text: leave logging alone."
    )
    log_level: str = Field(
        default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)."
    )
    trace_propagation: bool = Field(default=False, description="W3C traceparent in headers.")
    otlp_endpoint: str = Field(
        default="",
        description="OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces);"
        " empty: spans are made but not exported.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; one of {', '.join(LOG_LEVELS)}")
        return value.upper()


# ---- traces (OpenTelemetry SDK) ----
def configure_tracing(settings: ObservabilitySettings, service: str) -> None:
    """The process's tracer provider, once: OTLP export when an endpoint is configured.

    A provider set before (a test's in-memory exporter) is left as it is.
    """
    ensure_tracer_provider(service, settings.otlp_endpoint)


def ensure_tracer_provider(service: str = "gt-registry", otlp_endpoint: str = "") -> None:
    # Spans need the SDK: the API's default provider makes none (and so no trace ids).
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return
    from opentelemetry.sdk.resources import Resource

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)


def _exporting() -> bool:
    """Whether spans go anywhere: the SDK's provider with a span processor (an OTLP exporter,
    a test's in-memory one), or a provider of another kind (assumed to). Without one, a
    span's only use is the ids it gives log lines and propagated headers (`_light_span`)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return True
    active = getattr(provider, "_active_span_processor", None)  # the SDK's, not public
    return bool(getattr(active, "_span_processors", True))


_ids = RandomIdGenerator()


@contextlib.contextmanager
def _light_span(parent: otel_context.Context | None) -> Iterator[trace.Span]:
    """A span with ids but no recording, current while the block runs: what log lines and
    W3C headers read from a span, at a fraction of an SDK span's cost (a command's span was
    6-8% of its CPU while nothing was exported). It continues `parent`'s trace as the SDK's
    default sampler would (its sampled flag kept, a new trace sampled)."""
    above = trace.get_current_span(parent).get_span_context() if parent is not None else None
    if above is not None and above.is_valid:
        trace_id, flags = above.trace_id, above.trace_flags
    else:
        trace_id, flags = _ids.generate_trace_id(), trace.TraceFlags(trace.TraceFlags.SAMPLED)
    span = trace.NonRecordingSpan(
        trace.SpanContext(trace_id, _ids.generate_span_id(), is_remote=False, trace_flags=flags)
    )
    # Made current by hand: `use_span`'s exception recording and status have nothing to do on
    # a span that records nothing.
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    finally:
        otel_context.detach(token)


def trace_headers() -> dict[str, str]:
    """Headers to put on an outgoing NATS message to continue the current trace (when the
    command being handled propagates traces)."""
    if not propagating.get():
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def outgoing_trace_headers() -> dict[str, str]:
    """The current span as W3C headers, for a client (the gateway) that starts a trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def incoming_context(headers: Mapping[str, str]) -> otel_context.Context:
    return _propagator.extract(dict(headers))


def projection_span(
    projection: str, stream: str, events: Sequence[StoredEvent]
) -> contextlib.AbstractContextManager[object]:
    """The span of applying a batch, in the trace of the mutation whose events it applies.

    The events carry their append span's `traceparent`: the span is that span's child. A
    batch holding several traces (a burst of mutations, a catch-up) gets one span, the child
    of its first event's trace, linked to the others (up to MAX_PROJECTION_LINKS): one span
    per batch, not per event, so a rebuild does not pay per event. Events stored without a
    trace make no span at all.
    """
    traced = dict.fromkeys(e.traceparent for e in events if e.traceparent)
    if not traced:
        return contextlib.nullcontext()
    origins = [
        context
        for parent in itertools.islice(traced, 1 + MAX_PROJECTION_LINKS)
        if (context := trace.get_current_span(incoming_context({"traceparent": parent})))
        .get_span_context()
        .is_valid
    ]
    if not origins:
        return contextlib.nullcontext()
    return tracer.start_as_current_span(
        f"project {projection}",
        context=trace.set_span_in_context(origins[0]),
        kind=trace.SpanKind.CONSUMER,
        links=[trace.Link(o.get_span_context()) for o in origins[1:]],
        attributes={
            "gt.projection": projection,
            "gt.stream": stream,
            "gt.first_seq": events[0].seq,
            "gt.last_seq": events[-1].seq,
            "gt.events": len(events),
        },
    )


@contextlib.contextmanager
def server_span(name: str, headers: Mapping[str, str], **attributes: str) -> Iterator[trace.Span]:
    """A request's span, continuing the caller's W3C trace when it sent `traceparent`."""
    parent = incoming_context(headers) if "traceparent" in headers else None
    with tracer.start_as_current_span(
        name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span


# ---- structured logs (python-json-logger) ----
class _ContextFilter(logging.Filter):
    """Adds the command's correlation id and the current span's ids to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = current_correlation_id()
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True


def json_formatter() -> logging.Formatter:
    formatter = JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        timestamp=False,
    )
    formatter.converter = time.gmtime
    return formatter


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(_ContextFilter())
    return handler


# Libraries that install their own (plain-text, coloured) handlers: route them to ours.
OWN_HANDLERS = ("faststream", "faststream.access", "uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(settings: ObservabilitySettings) -> None:
    """JSON lines on stderr for the whole process, every library's included (a service's entry
    point calls this before anything logs)."""
    if settings.log_format != "json":
        return
    logging.basicConfig(level=settings.log_level.upper(), handlers=[json_handler()], force=True)
    logging.captureWarnings(True)
    for name in [*OWN_HANDLERS, *_faststream_loggers()]:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def _faststream_loggers() -> list[str]:
    return [n for n in logging.root.manager.loggerDict if n.startswith("faststream.")]


def library_logger(settings: ObservabilitySettings, name: str) -> logging.Logger | None:
    """A logger for FastStream to use under JSON logs (None: FastStream's own default)."""
    if settings.log_format != "json":
        return None
    return logging.getLogger(f"gt.{name}")


# ---- command instrumentation ----
def current_correlation_id() -> str | None:
    """The correlation id of the command being handled: its header's, the one its handler
    read from the request (`bind_correlation`), or else read from the request now."""
    found = correlation_id.get()
    if found is None and (body := _unparsed.get()) is not None:
        return _correlation_of({}, body)
    return found


def bind_correlation(found: object) -> None:
    """A handler's own parse of the request names the command's correlation id (its
    `correlation_id`, else its command id), so `observe_command` need not parse the request
    a second time. Only inside `observe_command` and where no header named it: anywhere
    else nothing is bound (nothing would unbind it)."""
    if _unparsed.get() is None:
        return
    _unparsed.set(None)
    if isinstance(found, str) and found:
        correlation_id.set(found)


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


# A reply's first keys (pydantic writes them in declaration order): status, then command_id
# and, for a refusal, code.
_ACCEPTED = b'{"status":"accepted"'
_IMPORTED = b'{"status":"imported"'
_CODE = re.compile(
    rb'^\{"status":"rejected","command_id":(?:null|"[^"\\]*"),"code":"([A-Z0-9_]{1,80})"'
)


def _outcome_of(reply: bytes) -> str:
    """The reply's outcome label, found without parsing the whole reply (a reply is written
    by pydantic, so its keys are plain); an unusual reply falls back to a parse."""
    if reply.startswith(_ACCEPTED):
        return "accepted"
    if reply.startswith(_IMPORTED):  # a batch of imported releases
        return "imported"
    if found := _CODE.match(reply):
        return found.group(1).decode()
    try:
        parsed = json.loads(reply)
    except ValueError:
        return "unparsable_reply"
    if not isinstance(parsed, dict):
        return "unparsable_reply"
    return "accepted" if parsed.get("status") == "accepted" else str(parsed.get("code"))


# COMMAND_LATENCY's children by label values (never removed from it).
_latencies: dict[tuple[str, str, str], Any] = {}


async def observe_command(
    service: str,
    subject: str,
    headers: Mapping[str, str],
    body: bytes,
    handle: Callable[[], Awaitable[bytes]],
    *,
    propagate_trace: bool = False,
) -> bytes:
    """Run `handle` in the command's span with its correlation id bound; time it by outcome.

    With propagation on, the span continues the caller's W3C trace and the events carry it.
    """
    ensure_tracer_provider(service)
    # The header's id, or the request's, read from it only when asked (`current_correlation_id`)
    # before the handler's parse binds it (`bind_correlation`).
    named = headers.get("Gt-Correlation-Id") or None
    cid = correlation_id.set(named)
    unparsed = _unparsed.set(None if named else body)
    spreading = propagating.set(propagate_trace)
    command_type = subject.rsplit(".", 1)[-1]
    parent = incoming_context(headers) if propagate_trace else None
    started = time.perf_counter()
    outcome = "error"
    exporting = _exporting()
    with (
        tracer.start_as_current_span(
            f"command {command_type}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"gt.service": service, "gt.command_type": command_type},
        )
        if exporting
        else _light_span(parent)
    ) as span:
        try:
            reply = await handle()
            outcome = _outcome_of(reply)
            return reply
        finally:
            if exporting and (cid_value := current_correlation_id()):
                span.set_attribute("gt.correlation_id", cid_value)
            span.set_attribute("gt.outcome", outcome)
            labels = (service, command_type, outcome)
            latency = _latencies.get(labels)
            if latency is None:  # `labels` looks the child up under a lock on every call
                latency = _latencies[labels] = COMMAND_LATENCY.labels(*labels)
            latency.observe(time.perf_counter() - started)
            propagating.reset(spreading)
            _unparsed.reset(unparsed)
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
        sealed: Sequence[EventEnvelope] | None = None,
    ) -> list[StoredEvent]:
        # Nothing exported: no span of its own (its events continue the command's).
        with (
            tracer.start_as_current_span(
                f"append {history.context.stream}",
                kind=trace.SpanKind.PRODUCER,
                attributes={"gt.aggregate": f"{history.aggregate_type}/{history.aggregate_id}"},
            )
            if _exporting()
            else contextlib.nullcontext()
        ):
            if headers and "traceparent" in headers:
                headers = {**headers, **trace_headers()}  # the events continue the append span
            try:
                return await super().append(
                    history, new_events, meta, headers=headers, sealed=sealed
                )
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
