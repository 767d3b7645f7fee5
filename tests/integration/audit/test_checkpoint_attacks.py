"""attack8: what someone holding a service's NATS login (not its key) can do to the
checkpoints: a message on its checkpoint subject that is no checkpoint, and a checkpoint of
its own far ahead of the stream. Before, the first made `audit verify` end in a traceback and
every later anchoring round fail; the second stopped the service's anchoring for good (it
continued from the forged sequence), so a tail cut afterwards showed nowhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from audit.verify import verify_streams
from contracts_schema.subjects import REGISTRY
from eventstore.checkpoints import (
    CHECKPOINT_STREAM,
    Checkpoint,
    checkpoint_subject,
    ensure_checkpoint_stream,
    write_checkpoint,
)
from eventstore.clock import FixedClock
from eventstore.signing import KEYS_DIR, EventSigner, new_seed, trusted_keys
from eventstore.store import EventStore
from tests.integration.audit.test_signed_history import (
    AGGREGATE,
    KEY,
    recreate,
    signed_store,
    verify,
)
from tests.support.audit_facts import LNVT_TENDER, record, spaced


async def forge(nc: NATS, body: bytes) -> None:
    await nc.jetstream().publish(checkpoint_subject(REGISTRY), body, stream=CHECKPOINT_STREAM)


async def test_a_malformed_or_forged_checkpoint_is_named_and_anchoring_goes_on(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    assert await write_checkpoint(store, REGISTRY, KEY) is not None
    await ensure_checkpoint_stream(store)
    await forge(nats_client, b"{not a checkpoint")
    await forge(nats_client, json.dumps({"context": "registry", "seq": True}).encode())
    mallory = EventSigner(new_seed())
    ahead = Checkpoint(REGISTRY.name, 10**9, "0" * 64, mallory.public_key, "")
    signed = Checkpoint(**{**ahead.body(), "signature": mallory.sign(ahead.signed_text())})
    await forge(nats_client, json.dumps({**signed.body(), "signature": signed.signature}).encode())

    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[2:]))
    anchored = await write_checkpoint(store, REGISTRY, KEY)
    assert anchored is not None
    assert anchored.seq == 4

    report, problems = await verify(store)
    assert [p.split(": ")[0] for p in problems] == ["bad-checkpoint"] * 3, problems
    assert "not a checkpoint" in problems[0]
    assert "CHECKPOINTS seq 2" in problems[0]
    assert "exactly the fields" in problems[1]
    assert "at seq 1000000000" in problems[2]
    assert "trusted key" in problems[2]
    assert report.signed == 4

    # And the tail the service anchored after the forgery cannot be cut unnoticed.
    await recreate(nats_client, store, lambda bodies: bodies[:-1])
    _, problems = await verify(store)
    assert problems[-1].startswith("truncated: REGISTRY checkpoint at seq 4"), problems


async def test_a_retired_key_signs_nothing_after_its_retirement(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    """A key rotated out at seq 2 (leaked, or a service rolled back to its old seed) still
    vouches for what it signed before, and for nothing after."""
    old, new = EventSigner(new_seed()), EventSigner(new_seed())
    before = EventStore(nats_client, fixed_clock, protect=False, signers={REGISTRY.name: old})
    await record(before, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    await write_checkpoint(before, REGISTRY, old)
    after = EventStore(nats_client, fixed_clock, protect=False, signers={REGISTRY.name: new})
    await record(after, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[2:3]))
    await write_checkpoint(after, REGISTRY, new)
    [late] = await record(before, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[3:]))
    await write_checkpoint(before, REGISTRY, old)

    # The operator's list: the new key, and the old one up to the rotation.
    keys = tmp_path / KEYS_DIR
    keys.mkdir()
    (keys / "registry.pub").write_text(new.public_key + "\n")
    (keys / "registry.retired").write_text(f"{old.public_key}@2\n")
    trusted = trusted_keys(tmp_path, environ={})
    assert trusted == {REGISTRY.name: {new.public_key, f"{old.public_key}@2"}}
    [report] = await verify_streams(after, [REGISTRY], trusted=trusted)
    problems = [str(p) for p in report.problems]
    assert len(problems) == 2, problems
    assert "retired-signer" in problems[0]
    assert late.envelope.event_id in problems[0]
    assert "a key retired after seq 2" in problems[0]
    assert problems[1].startswith("REGISTRY checkpoint at seq 4: bad-checkpoint")
    assert report.signed == 3

    # Unbounded, the same history verifies: the bound is what names the late signature.
    unbounded = {REGISTRY.name: {new.public_key, old.public_key}}
    [report] = await verify_streams(after, [REGISTRY], trusted=unbounded)
    assert report.problems == []
    with pytest.raises(ValueError, match="last stream sequence"):
        await verify_streams(after, [REGISTRY], trusted={REGISTRY.name: {f"{old.public_key}@x"}})


async def test_a_deeply_nested_or_oversized_message_is_no_checkpoint_and_anchoring_goes_on(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """review10: `[[[[…` of 50 KB ended json.loads in RecursionError (not a ValueError), so
    every anchoring round and `audit verify` raised."""
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    await ensure_checkpoint_stream(store)
    await forge(nats_client, b"[" * 50_000)
    await forge(nats_client, b'{"context": "registry", "pad": "' + b"x" * 10_000 + b'"}')
    anchored = await write_checkpoint(store, REGISTRY, KEY)
    assert anchored is not None
    assert anchored.seq == 2
    report, problems = await verify(store)
    assert [p.split(": ")[0] for p in problems] == ["bad-checkpoint"] * 2, problems
    assert "nested too deeply" in problems[0] or "longer than any checkpoint" in problems[0]
    assert "longer than any checkpoint" in problems[1]
    assert report.signed == 2


async def test_the_anchoring_loop_continues_from_its_own_last_checkpoint(
    nats_client: NATS, fixed_clock: FixedClock
) -> None:
    """Given the checkpoint it wrote last, a round anchors from there without reading the
    checkpoints back; the digest equals the one a round reading them all computes."""
    store = signed_store(nats_client, fixed_clock)
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[:2]))
    first = await write_checkpoint(store, REGISTRY, KEY)
    assert first is not None
    await record(store, fixed_clock, AGGREGATE, spaced(LNVT_TENDER[2:]))
    # A forged checkpoint after ours: `after` skips reading it, and the result is the same.
    await forge(nats_client, b"{not a checkpoint")
    continued = await write_checkpoint(store, REGISTRY, KEY, first)
    assert continued is not None
    assert continued.seq == 4
    assert continued.holds()
    _, problems = await verify(store)
    assert [p.split(": ")[0] for p in problems] == ["bad-checkpoint"], problems
    assert await write_checkpoint(store, REGISTRY, KEY, continued) is None  # nothing new
