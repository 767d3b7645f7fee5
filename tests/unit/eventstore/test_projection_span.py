"""The span of an applied projection batch: in the trace its events carry, one per batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts_schema.envelope import EventEnvelope
from eventstore.observability import MAX_PROJECTION_LINKS, ensure_tracer_provider, projection_span
from eventstore.records import StoredEvent


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    ensure_tracer_provider()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def traceparent(n: int) -> str:
    return f"00-{n:032x}-{n:016x}-01"


def event(seq: int, parent: str | None) -> StoredEvent:
    at = datetime(2026, 1, 15, tzinfo=UTC)
    envelope = EventEnvelope.model_construct(event_id=str(seq), recorded_at=at, occurred_at=at)
    return StoredEvent(envelope, "REGISTRY", seq, f"registry.events.t.{seq}.E", parent)


def test_untraced_events_make_no_span(spans: InMemorySpanExporter) -> None:
    with projection_span("tenders_v3", "REGISTRY", [event(1, None), event(2, None)]):
        pass
    assert spans.get_finished_spans() == ()


def test_a_batch_is_one_span_under_its_first_trace_linked_to_the_others(
    spans: InMemorySpanExporter,
) -> None:
    batch = [event(1, traceparent(1)), event(2, None), event(3, traceparent(3))]
    batch += [event(seq, traceparent(seq)) for seq in range(4, 4 + 2 * MAX_PROJECTION_LINKS)]
    with projection_span("tenders_v3", "REGISTRY", batch):
        pass
    [span] = spans.get_finished_spans()
    assert span.name == "project tenders_v3"
    assert span.context is not None
    assert span.context.trace_id == 1
    assert span.parent is not None
    assert span.parent.span_id == 1
    assert [link.context.trace_id for link in span.links] == [
        3,
        *range(4, 4 + MAX_PROJECTION_LINKS - 1),
    ]
    assert dict(span.attributes or {}) == {
        "gt.projection": "tenders_v3",
        "gt.stream": "REGISTRY",
        "gt.first_seq": 1,
        "gt.last_seq": batch[-1].seq,
        "gt.events": len(batch),
    }
