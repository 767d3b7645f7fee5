"""A command's span when nothing exports spans: ids for logs and headers, no SDK span.

The command's span is what log lines and the events' `traceparent` read; with no span
processor on the SDK's provider it is a non-recording span (cheaper), and it behaves as the
SDK's span did for those readers: it continues the caller's trace, keeps its sampled flag,
and a command without a caller starts a trace of its own. With a processor the SDK's spans
are made and exported (tests/integration/deploy/test_one_trace.py)."""

from __future__ import annotations

import secrets

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from eventstore import observability
from eventstore.observability import observe_command, trace_headers

recording: list[bool] = []


async def _handled(headers: dict[str, str], *, propagate: bool) -> tuple[str, dict[str, str]]:
    seen: list[tuple[str, dict[str, str]]] = []

    async def handle() -> bytes:
        span = trace.get_current_span()
        recording.append(span.is_recording())
        seen.append((format(span.get_span_context().trace_id, "032x"), trace_headers()))
        return b'{"status":"accepted"}'

    await observe_command(
        "ledger", "ledger.commands.X", headers, b"{}", handle, propagate_trace=propagate
    )
    return seen[0]


@pytest.fixture
def unexported(monkeypatch: pytest.MonkeyPatch) -> TracerProvider:
    provider = TracerProvider()  # no span processor: nothing is exported
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(observability, "tracer", provider.get_tracer("test"))
    return provider


@pytest.mark.parametrize("flags", ["01", "00"])
async def test_the_span_continues_the_callers_trace_and_its_sampled_flag(
    unexported: TracerProvider, flags: str
) -> None:
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    header = f"00-{caller_trace}-{caller_span}-{flags}"

    trace_id, sent = await _handled({"traceparent": header}, propagate=True)

    assert not observability._exporting()
    assert recording[-1] is False  # no SDK span
    assert trace_id == caller_trace
    version, sent_trace, sent_span, sent_flags = sent["traceparent"].split("-")
    assert (version, sent_trace, sent_flags) == ("00", caller_trace, flags)
    assert sent_span != caller_span  # the events name the command's span as their parent


async def test_a_command_without_a_caller_starts_a_sampled_trace(
    unexported: TracerProvider,
) -> None:
    first, sent = await _handled({}, propagate=True)
    second, _ = await _handled({}, propagate=True)

    assert first != second
    assert int(first, 16) != 0
    assert sent["traceparent"].endswith("-01")
    assert await _handled({}, propagate=False) != (first, sent)  # nothing propagated: no headers
    assert (await _handled({}, propagate=False))[1] == {}


async def test_with_a_span_processor_the_sdk_spans_are_made(
    unexported: TracerProvider,
) -> None:
    unexported.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))

    await _handled({}, propagate=False)

    assert observability._exporting()
    assert recording[-1] is True  # an SDK span, as before
