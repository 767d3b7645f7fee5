"""`audit verify` passes on a history mixing v1 and v2 events (money as {amount, currency}):
the v1 signature is stored, hashed and signed as written; readers lift it."""

from __future__ import annotations

from audit.verify import verify_streams
from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.service.test_evolved_events import V1, record_history


async def test_audit_verify_passes_on_a_mixed_history(
    event_store: EventStore, fixed_clock: FixedClock
) -> None:
    await record_history(event_store, fixed_clock, 1, V1)
    [report] = await verify_streams(event_store, [REGISTRY])
    stored = [e.envelope async for e in event_store.read_stream(REGISTRY)]
    assert [(e.event_type, e.schema_version) for e in stored] == [
        ("ContractSigned", 1),
        ("ContractAmended", 2),
    ]
    assert (report.events, report.problems) == (2, [])
