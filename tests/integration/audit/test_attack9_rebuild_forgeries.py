"""attack9: `audit projections rebuild` (and `audit verify`'s comparison, which rebuilds into a
scratch file) reads the streams as the live runners do. It read them raw: an event altered in
place (a next version, its hash not recomputed) and published with a stream's NATS login, which
the live runner parks, was applied by the rebuild (the rebuilt read model held the forged
title), and bytes that are no envelope
ended every rebuild with a validation error. Now the rebuild parks both with their reasons and
goes on to the stream's end."""

from __future__ import annotations

import json
from pathlib import Path

from nats.aio.client import Client as NATS
from sqlalchemy import select

from audit.rebuild import rebuild
from audit.temporal import TemporalProjection
from bootstrap.parts import projection_runner
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.projection import parked
from eventstore.sql import make_engine
from eventstore.store import EventStore
from tests.support.audit_facts import LNVT_TENDER, TENDER, record, spaced


async def test_a_rebuild_parks_what_the_live_runner_parks_and_reaches_the_end(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    store = EventStore(nats_client, fixed_clock)
    await store.ensure_stream(ENROLMENT)
    stored = await record(store, fixed_clock, f"tender/{TENDER}", spaced(LNVT_TENDER))
    js = nats_client.jetstream()
    planned = await js.get_msg(REGISTRY.stream, stored[0].seq)
    assert planned.subject is not None
    assert planned.data is not None
    fields = json.loads(planned.data)
    # The tender planned again under another title, continuing the chain, its hash the
    # original's (not recomputed): altered.
    fields["payload"]["title"] = "Mallory's tender"
    fields["aggregate_version"] = stored[-1].envelope.aggregate_version + 1
    fields["prev_hash"] = stored[-1].envelope.hash
    fields["event_id"] = "00000000-0000-4000-8000-000000000000"
    altered = await js.publish(planned.subject, json.dumps(fields).encode(), stream="REGISTRY")
    garbage = await js.publish(planned.subject, b"{not json", stream=REGISTRY.stream)

    scratch = make_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    rebuilt = await rebuild(store, scratch, TemporalProjection(), runners=projection_runner)

    assert rebuilt.positions[REGISTRY.stream] == garbage.seq
    with scratch.connect() as conn:
        rows = conn.execute(select(parked.c.seq, parked.c.error)).all()
        kept = [dict(r._mapping) for table in rebuilt.tables for r in conn.execute(select(table))]
    assert {(seq, error.split(":")[0]) for seq, error in rows} == {
        (altered.seq, "altered"),
        (garbage.seq, "undecodable"),
    }
    assert "Mallory" not in json.dumps(kept, default=str)
