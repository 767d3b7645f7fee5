"""The gateway's event log reads a legacy history recorded backwards by the rule every other
reader takes (`eventstore.known_time`): an event is known from the latest transaction time of
it and its aggregate's earlier versions. Before: `events(knownAt: ...)` answered from the raw
`recorded_at`, so half an hour before the signature was recorded it listed the contract's
amendment (version 2) without its signature, where GraphQL's `contract`, the owner's fold,
`audit replay` and OCDS all said the contract was not known yet."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from contracts_schema.subjects import REGISTRY
from eventstore.clock import FixedClock
from eventstore.known_time import known_by
from eventstore.records import StoredEvent
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.test_clock_skew_recorded_at import recorded_backwards

EVENTS = """query($knownAt: DateTime) {
  events(filter: {aggregateType: CONTRACT, aggregateId: "c1"}, knownAt: $knownAt) {
    totalCount nodes { aggregateVersion eventType }
  }
}"""


def known_versions(stored: Sequence[StoredEvent], known_at: datetime | None) -> list[int]:
    envelopes = [e.envelope for e in stored]
    known = known_by(envelopes, known_at) if known_at is not None else envelopes
    return sorted(e.aggregate_version for e in known)


async def test_the_event_log_takes_a_legacy_history_as_known_in_version_order(
    tmp_path: Path, clock: FixedClock
) -> None:
    store, bus, signed_at = await recorded_backwards(clock)
    between = signed_at - timedelta(minutes=30)
    stored = (await store.load(REGISTRY, "contract", "c1")).events
    assert [e.envelope.recorded_at for e in stored] == [signed_at, signed_at - timedelta(hours=1)]
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'views.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        answers = {}
        for known_at in (between, signed_at, None):
            variables = {"knownAt": known_at.isoformat() if known_at else None}
            body = await g.query(EVENTS, variables, token=g.token("coordinator"))
            assert "errors" not in body, body
            log = body["data"]["events"]
            versions = [n["aggregateVersion"] for n in log["nodes"]]
            assert log["totalCount"] == len(versions)
            answers[known_at] = sorted(versions)
            # The same events every other reader takes as known then.
            assert answers[known_at] == known_versions(stored, known_at), known_at
    finally:
        await g.stop()
    assert answers == {between: [], signed_at: [1, 2], None: [1, 2]}
