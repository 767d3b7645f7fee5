"""A runner far behind a signed stream catches up verifying one signature per hash chain of
each range (eventstore.trust.read_range, docs/security.md "Signed chains"), and still parks
every event a reader must refuse. The stream's bytes are published as a service would store
them, some tampered with afterwards (what an attacker with a stream login, or with the
server's files, could leave there)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

from nats.aio.client import Client as NATS
from sqlalchemy import select

from contracts_schema.envelope import EventEnvelope
from eventstore.clock import FixedClock
from eventstore.hashing import json_form_hash
from eventstore.projection import ProjectionRunner, parked
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal
from eventstore.signing import EventSigner, new_seed
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.trust import BAD_SIGNATURE, Trust, install
from tests.support.ledger import LEDGER
from tests.support.ledger_projection import LedgerTotals

KEY = EventSigner(new_seed())
LEDGERS, ENTRIES = 30, 50  # 1,500 events: caught up in bulk (more than CATCH_UP_FROM behind)


class Counting(Trust):
    verified = 0

    def _signature_holds(self, envelope: EventEnvelope) -> bool:
        if envelope.signature is not None:
            self.verified += 1
        return super()._signature_holds(envelope)


def sealed(ledger: str) -> list[EventEnvelope]:
    """A ledger's events, signed by the context's key, each chained on the one before."""
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    history = AggregateHistory(LEDGER, "ledger", ledger, (), 0)
    envelopes = []
    for i in range(ENTRIES):
        new = NewEvent("EntryRecorded", 1, {"amount": i + 1}, clock.now())
        meta = CommandMetadata(f"{ledger}-{i}", "test", f"{ledger}-{i}")
        envelope = seal(clock, history, [new], meta, KEY)[0]
        envelopes.append(envelope)
        stored = StoredEvent(envelope, LEDGER.stream, i + 1, "s")
        history = AggregateHistory(LEDGER, "ledger", ledger, (stored,), i + 1)
    return envelopes


def rehashed(envelope: EventEnvelope) -> EventEnvelope:
    return envelope.model_copy(update={"hash": json_form_hash(envelope.model_dump(mode="json"))})


async def test_a_far_behind_runner_verifies_one_signature_per_chain_and_parks_forgeries(
    nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    ledgers = {f"l{n}": sealed(f"l{n}") for n in range(LEDGERS)}
    middle = ENTRIES // 2
    # l1: an entry's amount edited, its stored hash kept.
    ledgers["l1"][middle] = ledgers["l1"][middle].model_copy(update={"payload": {"amount": 999}})
    # l2: an entry's amount edited and its hash recomputed (its signature is over the old one).
    ledgers["l2"][middle] = rehashed(
        ledgers["l2"][middle].model_copy(update={"payload": {"amount": 999}})
    )
    # l3: an entry's signature replaced by garbage, its content untouched: the next entry's
    # signature vouches for it (`audit verify` names it: test_trust_chains).
    garbage = base64.b64encode(bytes(64)).decode()
    ledgers["l3"][middle] = ledgers["l3"][middle].model_copy(update={"signature": garbage})
    await EventStore(nats_client, fixed_clock).ensure_stream(LEDGER)
    js = nats_client.jetstream()
    for i in range(ENTRIES):  # interleaved, as many aggregates' commands are
        for ledger, envelopes in ledgers.items():
            subject = LEDGER.event_subject("ledger", ledger, "EntryRecorded")
            await js.publish(subject, envelopes[i].model_dump_json().encode())
    total = LEDGERS * ENTRIES
    trust = install(Counting({"ledger": {KEY.public_key: None}}), nats_client)
    assert isinstance(trust, Counting)

    engine = make_engine(f"sqlite:///{tmp_path}/ledger.db")
    projection = LedgerTotals()
    runner = ProjectionRunner(nats_client, engine, projection, batch=100)
    await runner.start()
    try:
        assert await runner.wait_until({"LEDGER": total}, timeout=120)
        assert runner.caught_up_in_bulk == total
    finally:
        await runner.stop()

    # One verify per ledger (its last entry), and one for each entry no accepted later entry
    # names: l2's edited entry (verified, refused), and the entries before l1's and l2's (a
    # refused entry vouches for nothing).
    assert trust.verified == LEDGERS + 3
    with engine.connect() as conn:
        rows = conn.execute(select(parked.c.seq, parked.c.error)).all()
        totals = {ledger: (t, n) for ledger, t, n in projection.rows(conn)}
    seq = {ledger: middle * LEDGERS + n + 1 for n, ledger in enumerate(ledgers)}
    assert sorted(rows) == [
        (seq["l1"], "altered: the stored hash does not match the event's content"),
        (seq["l2"], BAD_SIGNATURE),
    ]
    full = (sum(range(1, ENTRIES + 1)), ENTRIES)
    assert totals["l0"] == full
    assert totals["l3"] == full  # the vouched entry taken as fact
    assert totals["l1"] == totals["l2"] == (full[0] - (middle + 1), ENTRIES - 1)
