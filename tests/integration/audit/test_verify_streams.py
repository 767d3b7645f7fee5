"""`audit verify` over real JetStream streams: untouched logs pass, tampering is named."""

from __future__ import annotations

import json
from datetime import timedelta

import nats
from nats.aio.client import Client as NATS

from audit.verify import verify_streams
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.hashing import envelope_hash
from eventstore.store import EventStore
from tests.support.audit_facts import LNVT_TENDER, TENDER, record, spaced

AGGREGATE = f"tender/{TENDER}"


async def problems(store: EventStore) -> list[str]:
    reports = await verify_streams(store, [REGISTRY, ENROLMENT])
    return [str(p) for r in reports for p in r.problems]


async def test_an_untouched_log_verifies(event_store: EventStore, fixed_clock: FixedClock) -> None:
    await record(event_store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    reports = await verify_streams(event_store, [REGISTRY, ENROLMENT])
    assert [(r.stream, r.events, r.aggregates, r.problems) for r in reports] == [
        ("REGISTRY", 4, 1, []),
        ("ENROLMENT", 0, 0, []),
    ]


async def rewrite_stream(nc: NATS, edit) -> None:  # type: ignore[no-untyped-def]
    """What an operator with stream-admin rights could do: purge and republish edited copies."""
    js = nc.jetstream()
    info = await js.stream_info("REGISTRY")
    messages = [await js.get_msg("REGISTRY", seq) for seq in range(1, info.state.last_seq + 1)]
    await js.purge_stream("REGISTRY")
    for msg in messages:
        body = json.loads(msg.data)
        body = edit(body)
        if body is not None:
            await js.publish(msg.subject, json.dumps(body).encode())


async def test_an_edited_event_is_named(nats_client: NATS, fixed_clock: FixedClock) -> None:
    store = EventStore(nats_client, fixed_clock, protect=False)
    stored = await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    victim = stored[2].envelope.event_id

    def award_to_someone_else(body: dict) -> dict:
        if body["event_id"] == victim:
            body["payload"]["supplier_ids"] = ["KVK-99999999"]
        return body

    await rewrite_stream(nats_client, award_to_someone_else)
    found = await problems(store)
    # The purge shows as a hole; the edited copy is named by its event id.
    assert found[0] == "REGISTRY seq 1..4: deleted: stream sequence missing: an event was removed"
    assert len(found) == 2
    assert victim in found[1]
    assert "altered" in found[1]
    assert "ProvisionalAwardDecided" in found[1]


async def test_a_resealed_forgery_breaks_the_next_link(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # A forger who also recomputes the edited event's hash is caught by its successor's link.
    store = EventStore(nats_client, fixed_clock, protect=False)
    stored = await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    victim, successor = stored[2].envelope.event_id, stored[3].envelope.event_id

    def forge(body: dict) -> dict:
        if body["event_id"] == victim:
            body["payload"]["standstill_ends_on"] = "2020-11-20"
            body["hash"] = envelope_hash(body)
        return body

    await rewrite_stream(nats_client, forge)
    found = (await problems(store))[1:]  # after the purge's hole
    assert len(found) == 1
    assert successor in found[0]
    assert "broken-link" in found[0]


async def test_a_deleted_event_is_named(nats_client: NATS, fixed_clock: FixedClock) -> None:
    store = EventStore(nats_client, fixed_clock, protect=False)
    stored = await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    await nats_client.jetstream().delete_msg("REGISTRY", stored[1].seq)
    found = await problems(store)
    assert any("REGISTRY seq 2" in p and "deleted" in p for p in found), found
    assert any(stored[2].envelope.event_id in p and "gap" in p for p in found), found
    # The successor's prev_hash names what is missing.
    assert any(stored[1].envelope.hash in p for p in found), found


async def test_deleting_the_last_event_is_still_noticed(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = EventStore(nats_client, fixed_clock, protect=False)
    stored = await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    await nats_client.jetstream().delete_msg("REGISTRY", stored[-1].seq)
    found = await problems(store)
    assert found == ["REGISTRY seq 4: deleted: stream sequence missing: an event was removed"]


async def test_a_republished_copy_repeats_a_version(
    event_store: EventStore, fixed_clock: FixedClock
) -> None:
    # Deletion is denied on protected streams, but a raw publish of an old event is not.
    stored = await record(event_store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    replay_of = stored[2]
    await event_store.nc.jetstream().publish(
        replay_of.subject, replay_of.envelope.model_dump_json().encode()
    )
    found = await problems(event_store)
    assert any(
        "seq 5" in p and replay_of.envelope.event_id in p and "reordered" in p for p in found
    ), found


async def test_undecodable_bytes_are_reported_and_the_rest_still_checked(
    event_store: EventStore, fixed_clock: FixedClock
) -> None:
    stored = await record(event_store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    junk_subject = stored[0].subject.replace(TENDER, "JUNK")
    await event_store.nc.jetstream().publish(junk_subject, b'{"event_id": "junk-1"}')
    fixed_clock.advance(timedelta(seconds=10))
    await record(event_store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[2:3]))
    found = await problems(event_store)
    assert any("seq 3" in p and "junk-1" in p and "undecodable" in p for p in found), found
    assert len(found) == 1, "the events after the junk still verify"


async def test_protected_streams_refuse_deletion(
    event_store: EventStore, fixed_clock: FixedClock
) -> None:
    await record(event_store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:1]))
    try:
        await event_store.nc.jetstream().delete_msg("REGISTRY", 1)
    except nats.js.errors.APIError:
        return
    raise AssertionError("a protected stream allowed a delete")
