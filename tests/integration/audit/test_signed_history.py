"""`audit verify` with service signatures and signed checkpoints: a forged event appended with
stream access but no service key is named, so are a truncated tail and a re-sealed chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NATS

from audit.verify import StreamReport, verify_streams
from contracts_schema.subjects import REGISTRY
from eventstore.checkpoints import write_checkpoint
from eventstore.clock import FixedClock
from eventstore.hashing import envelope_hash
from eventstore.signing import EventSigner, new_seed
from eventstore.store import EventStore
from tests.support.audit_facts import LNVT_TENDER, TENDER, record, spaced

AGGREGATE = f"tender/{TENDER}"
KEY = EventSigner(new_seed())
TRUSTED = {REGISTRY.name: {KEY.public_key}}


def signed_store(nc: NATS, clock: FixedClock) -> EventStore:
    return EventStore(nc, clock, protect=False, signers={REGISTRY.name: KEY})


async def verify(store: EventStore) -> tuple[StreamReport, list[str]]:
    [report] = await verify_streams(store, [REGISTRY], trusted=TRUSTED)
    return report, [f"{p.kind}: {p}" for p in report.problems]


async def recreate(nc: NATS, store: EventStore, edit: Callable[[list[Any]], list[Any]]) -> None:
    """What a stream administrator could do: delete the stream, recreate it, republish an
    edited history (sequences start at 1 again, so no hole shows)."""
    js = nc.jetstream()
    info = await js.stream_info(REGISTRY.stream)
    bodies = [
        json.loads((await js.get_msg(REGISTRY.stream, seq)).data or b"{}")
        for seq in range(1, info.state.last_seq + 1)
    ]
    await js.delete_stream(REGISTRY.stream)
    await store.ensure_stream(REGISTRY)
    for body in edit(bodies):
        subject = REGISTRY.event_subject(
            body["aggregate_type"], body["aggregate_id"], body["event_type"]
        )
        await js.publish(subject, json.dumps(body).encode())


async def test_a_signed_and_anchored_log_verifies(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    assert await write_checkpoint(store, REGISTRY, KEY) is not None
    report, problems = await verify(store)
    assert problems == []
    assert (report.events, report.signed, report.checkpoints, report.legacy) == (4, 4, 1, 0)


async def test_an_event_appended_with_stream_access_but_no_key_is_named(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:3]))
    # The forger holds the registry's NATS credentials: it seals a well-chained event ...
    forger = EventStore(nats_client, fixed_clock, protect=False)
    [unsigned] = await record(forger, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[3:]))
    # ... and signs another with a key of its own.
    impostor = EventStore(
        nats_client, fixed_clock, protect=False, signers={REGISTRY.name: EventSigner(new_seed())}
    )
    [self_signed] = await record(impostor, fixed_clock, "tender/FORGED-1", spaced(LNVT_TENDER[:1]))
    _, problems = await verify(store)
    assert len(problems) == 2, problems
    assert problems[0].startswith("unsigned")
    assert unsigned.envelope.event_id in problems[0]
    assert problems[1].startswith("untrusted-signer")
    assert self_signed.envelope.event_id in problems[1]


async def test_a_truncated_tail_is_named(nats_client: NATS, fixed_clock: FixedClock) -> None:
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    await write_checkpoint(store, REGISTRY, KEY)
    await recreate(nats_client, store, lambda bodies: bodies[:-1])  # the award never happened
    _, problems = await verify(store)
    assert problems == [
        "truncated: REGISTRY checkpoint at seq 4: truncated: the stream ends at seq 3:"
        " the events up to 4 it anchored are gone"
    ]


async def test_a_resealed_chain_is_named(nats_client: NATS, fixed_clock: FixedClock) -> None:
    store = signed_store(nats_client, fixed_clock)
    stored = await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER))
    await write_checkpoint(store, REGISTRY, KEY)
    victim = stored[2].envelope.event_id

    def reseal(bodies: list[Any]) -> list[Any]:
        # Edit one event, recompute its hash and every later link: the chain is whole again.
        prev = None
        for body in bodies:
            if body["event_id"] == victim:
                body["payload"]["standstill_ends_on"] = "2020-11-20"
            body["prev_hash"] = prev
            body["hash"] = envelope_hash(body)
            prev = body["hash"]
        return bodies

    await recreate(nats_client, store, reseal)
    _, problems = await verify(store)
    kinds = [p.split(":")[0] for p in problems]
    # No chain break: the signatures and the checkpoint expose it.
    assert "broken-link" not in kinds
    assert "altered" not in kinds
    assert kinds.count("bad-signature") == 2  # the edited event and its re-linked successor
    assert victim in problems[0]
    assert kinds[-1] == "resealed"


async def test_unsigned_events_before_signing_are_a_legacy_prefix_sealed_by_a_checkpoint(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    legacy = EventStore(nats_client, fixed_clock, protect=False)
    await record(legacy, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[2:]))
    await write_checkpoint(store, REGISTRY, KEY)
    report, problems = await verify(store)
    assert problems == []
    assert (report.legacy, report.signed, report.legacy_sealed_by) == (2, 2, 4)
