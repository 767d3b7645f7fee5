"""correct17: a message on the stream that is no event (published by someone holding the
stream's NATS login, not its key) no longer stops the service's signed checkpoints.

Before: `write_checkpoint` read the stream through the message, pydantic's ValidationError
ended every anchoring round ("checkpoint of REGISTRY failed", each interval, for good), so
nothing recorded after it was ever anchored and a tail cut later showed nowhere. `audit
verify` already skips an undecodable message in its digest (and names it `undecodable`);
the writer now digests the same events, so its checkpoints hold."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from contracts_schema.subjects import REGISTRY
from eventstore.checkpoints import write_checkpoint
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.integration.audit.test_signed_history import AGGREGATE, KEY, signed_store, verify
from tests.support.audit_facts import LNVT_TENDER, record, spaced


async def cut_last(nc: NATS, store: EventStore) -> None:
    """A stream administrator's cut: the stream recreated without its last message (the
    stored bytes as they were, the message that is no event included)."""
    js = nc.jetstream()
    info = await js.stream_info(REGISTRY.stream)
    kept = [await js.get_msg(REGISTRY.stream, seq) for seq in range(1, info.state.last_seq)]
    await js.delete_stream(REGISTRY.stream)
    await store.ensure_stream(REGISTRY)
    for msg in kept:
        await js.publish(msg.subject or "", msg.data or b"")


async def test_anchoring_goes_on_past_a_message_that_is_no_event(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    assert await write_checkpoint(store, REGISTRY, KEY) is not None
    # On another aggregate's subject: the tender's own history stays decidable.
    garbage = REGISTRY.event_subject("tender", "garbage", "TenderPlanned")
    ack = await nats_client.jetstream().publish(garbage, b"garbage", stream=REGISTRY.stream)
    assert ack.seq == 3
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[2:]))

    anchored = await write_checkpoint(store, REGISTRY, KEY)
    assert anchored is not None
    assert anchored.seq == 5  # the last event, past the message that is none

    report, problems = await verify(store)
    assert [p.split(": ")[0] for p in problems] == ["undecodable"], problems
    assert "REGISTRY seq 3" in problems[0]
    assert report.signed == 4

    # The tail anchored after it cannot be cut unnoticed.
    await cut_last(nats_client, store)
    _, problems = await verify(store)
    assert problems[-1].startswith("truncated: REGISTRY checkpoint at seq 5"), problems
