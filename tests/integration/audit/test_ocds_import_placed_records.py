"""The import group commit's placed processed-command records (helper import34) on a real
JetStream: each names where its command's events were stored (the bucket holds no reply), and
the same groups sent again, asking for every reply, are answered from the stream's own events
(ids, sequences, consistency token) as duplicates, storing nothing."""

from __future__ import annotations

import json

from nats.aio.client import Client as NATS

from contracts_schema.replies import AppendedEvent
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.commands import consistency_token
from eventstore.processed import processed_commands_for
from eventstore.signing import new_seed
from eventstore.store import EventStore
from tests.integration.audit.test_ocds_import_lane import (
    Sent,
    _import,
    _resend,
    _served,
    _stored,
    lane_taken,
)
from tests.service.test_ocds_import_group import package

__all__ = ["lane_taken"]  # (the fixture, used by name)


async def test_the_bucket_holds_placed_records_and_a_resend_is_answered_from_the_events(
    nats_client: NATS, lane_taken: list[list[str]]
) -> None:
    stop = await _served(nats_client, new_seed())
    try:
        sent: Sent = []
        await _import(nats_client, package(), sent)
        assert lane_taken, "no process took the lane"
        before = await _stored(nats_client)
        # Every imported command's events, as the stream holds them.
        events: dict[str, list[AppendedEvent]] = {}
        async for e in EventStore(nats_client, SystemClock()).read_stream(REGISTRY):
            v = e.envelope
            events.setdefault(v.command_id, []).append(
                AppendedEvent(event_id=v.event_id, event_type=v.event_type,
                              aggregate_type=v.aggregate_type, aggregate_id=v.aggregate_id,
                              aggregate_version=v.aggregate_version, stream=e.stream, seq=e.seq)
            )  # fmt: skip
        record = await processed_commands_for(EventStore(nats_client, SystemClock()), REGISTRY)
        laned = [cid for process in lane_taken for cid in process]
        for cid in laned:
            value = json.loads(await record.get(cid) or b"{}")
            assert "reply" not in value, value  # (before import34: the whole reply)
            mine = events[cid]
            assert value["placed"] == {"stream": "REGISTRY", "first": mine[0].seq,
                                       "count": len(mine)}  # fmt: skip
        again = await _resend(nats_client, sent)
        assert {r.command_id for r in again} >= set(laned)
        for reply in again:
            assert reply.duplicate
            assert list(reply.events) == events[reply.command_id]
            assert reply.consistency_token == consistency_token(reply.events)
        assert await _stored(nats_client) == before
    finally:
        await stop()
