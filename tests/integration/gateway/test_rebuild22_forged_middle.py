"""rebuild22: the product's split rebuild (`audit.bluegreen_split`: two group processes
sharing the enrolment stream's read and check, enrolment's derived rows left out of the
batches and derived once at the end) still refuses forged events in the middle of a signed
stream: an enrolment whose content was edited under its stored hash, and one whose hash was
recomputed over the edit (its signature no longer over it). Each is parked by every read
model of the stream, naming its sequence and why, and nothing of it reaches the rows: the
read models are those a direct build of the genuine events writes, the derived programme
spans and totals included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select

from audit.bluegreen_split import blue_green_split
from bench.direct import _Fixed, build_read_models
from bench.history.generator import generate
from bench.loader import SIGNERS, reader_trust
from bootstrap.parts import projection_runner
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import CONTEXTS, ENROLMENT
from eventstore.catchup import CATCH_UP_BATCH, CATCH_UP_FROM
from eventstore.clock import SystemClock
from eventstore.hashing import json_form_hash
from eventstore.projection import parked
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal
from eventstore.split_rebuild import Connect
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from eventstore.trust import BAD_SIGNATURE, install
from gateway.projections import ALL
from tests.integration.gateway.test_rebuild_equals_live import _rows, _tables

FORGED_CODE = "GM9999"  # a municipality the history never has


def signed_events(seed: int, events: int) -> dict[str, list[StoredEvent]]:
    """The generated history sealed and signed as its services append it (per stream, in
    order), as `bench.direct.stored_events` seals it unsigned."""
    streams: dict[str, list[StoredEvent]] = {}
    heads: dict[tuple[str, str, str], AggregateHistory] = {}
    for commit in generate(seed=seed, events=events).commits:
        context = CONTEXTS[commit.context]
        head = heads.get(commit.key) or AggregateHistory(
            context, commit.aggregate_type, commit.aggregate_id, (), 0
        )
        new = [NewEvent(e.event_type, 1, e.payload, e.occurred_at) for e in commit.events]
        meta = CommandMetadata(commit.command_id, commit.actor, commit.command_id)
        stored = streams.setdefault(context.stream, [])
        signer = SIGNERS[commit.context]
        for envelope in seal(_Fixed(commit.recorded_at), head, new, meta, signer):
            subject = context.event_subject(
                commit.aggregate_type, commit.aggregate_id, envelope.event_type
            )
            stored.append(StoredEvent(envelope, context.stream, len(stored) + 1, subject))
        heads[commit.key] = AggregateHistory(
            context, commit.aggregate_type, commit.aggregate_id, (stored[-1],), stored[-1].seq
        )
    return streams


def forged(genuine: EventEnvelope, *, rehash: bool) -> EventEnvelope:
    """The enrolment of another municipality, as a later version of the same window."""
    payload = {**genuine.payload, "organisation_code": FORGED_CODE}
    edited = genuine.model_copy(
        update={
            "payload": payload,
            "aggregate_version": genuine.aggregate_version + (1_000 if rehash else 2_000),
            "event_id": f"00000000-0000-4000-8000-00000000002{int(rehash)}",
        }
    )
    if rehash:  # the hash over the edit: the signature (over the old hash) no longer holds
        edited = edited.model_copy(update={"hash": json_form_hash(edited.model_dump(mode="json"))})
    return edited


@pytest.mark.timeout(600)
async def test_forged_events_in_the_middle_are_parked_and_never_derived(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    streams = signed_events(seed=47, events=3_000)
    enrolment = streams[ENROLMENT.stream]
    # Caught up in bulk, in two ranges at least: each group judges one.
    assert len(enrolment) > max(CATCH_UP_FROM, CATCH_UP_BATCH)
    middle = len(enrolment) // 2
    genuine = next(
        e for e in reversed(enrolment[:middle]) if e.envelope.event_type == "ParticipantEnrolled"
    )
    store = EventStore(nats_client, SystemClock())
    for stream in streams:
        await store.ensure_stream(next(c for c in CONTEXTS.values() if c.stream == stream))
    js = nats_client.jetstream()
    forgeries: dict[int, str] = {}
    for stream, events in streams.items():
        for i, event in enumerate(events):
            if stream == ENROLMENT.stream and i == middle:
                for rehash, why in ((False, "altered: the stored hash"), (True, BAD_SIGNATURE)):
                    envelope = forged(genuine.envelope, rehash=rehash)
                    ack = await js.publish(genuine.subject, envelope.model_dump_json().encode())
                    forgeries[ack.seq] = why
            await js.publish(event.subject, event.envelope.model_dump_json().encode())
    assert len(forgeries) == 2
    assert min(forgeries) == middle + 1
    install(reader_trust(), nats_client)
    live = make_engine(f"sqlite:///{tmp_path}/live.db")
    built = await blue_green_split(
        store, live, list(ALL), runners=projection_runner, connect=Connect((nats_server.url,))
    )
    assert len(built) == len(ALL)

    readers = {kind().key for kind in ALL if ENROLMENT in kind().contexts}
    with live.connect() as conn:
        rows = conn.execute(
            select(parked.c.projection, parked.c.stream, parked.c.seq, parked.c.error)
        ).all()
    assert {(p, s, seq) for p, s, seq, _ in rows} == {
        (key, ENROLMENT.stream, seq) for key in readers for seq in forgeries
    }
    for _, _, seq, error in rows:
        assert error.startswith(forgeries[seq]), (seq, error)

    # The genuine events' rows, as a direct build writes them: every read model but the
    # event log and its counts, and no checkpoint (they hold the stream sequences the
    # forgeries moved on).
    reference = make_engine(f"sqlite:///{tmp_path}/reference.db")
    build_read_models(reference, streams, batch=500)
    metadata = _tables()
    got, expected = _rows(live, metadata), _rows(reference, metadata)
    compared = [
        n for n in expected if not n.startswith(("event_log", "event_counts", "checkpoints"))
    ]
    assert any("programme_spans" in n for n in compared)
    for name in compared:
        assert sorted(got[name], key=repr) == sorted(expected[name], key=repr), name
        assert FORGED_CODE not in json.dumps(got[name], default=str), name
    live.dispose()
    reference.dispose()
