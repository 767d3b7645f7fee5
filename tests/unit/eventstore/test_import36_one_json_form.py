"""The group commit's events encoded once (helper import36): the lane's sealing gives each
event's stored bytes with its envelope (`bulk_seal.StoredForms`), exactly the bytes the
group append stored before (`group_append.stored_json`, the envelope's `model_dump_json()`),
on generated events; a staged store carries them to the append (`GroupedEvent.data`) made
once when each event is staged, in the order staged, each aggregate's first guarded by the
sequence its decisions read; the group's stored events are made only when read
(`Positioned`), as a list of them all would."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts_schema.subjects import BoundedContext
from eventstore import bulk_seal
from eventstore.bulk_seal import StoredForms, seal_trusted, uuid4_texts
from eventstore.clock import FixedClock
from eventstore.group_append import (
    PROVISIONAL,
    GroupedEvent,
    Positioned,
    StagedStore,
    stored_json,
)
from eventstore.memory import InMemoryEventStore
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal
from eventstore.signing import EventSigner
from tests.unit.eventstore.test_bulk_seal import INSTANTS
from tests.unit.eventstore.test_group_stored_json import PAYLOADS
from tests.unit.eventstore.test_sealed_bytes import CTX, PAYLOAD, SEED

NOW = datetime(2026, 11, 30, 18, 0, 0, 123456, tzinfo=UTC)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    payloads=st.lists(PAYLOADS, min_size=1, max_size=3),
    occurred=INSTANTS,
    recorded=INSTANTS,
    signed=st.booleans(),
)
def test_the_stored_bytes_given_with_the_sealing_are_the_envelopes_own(
    payloads: list[dict[str, Any]], occurred: datetime, recorded: datetime, signed: bool
) -> None:
    signer = EventSigner(SEED) if signed else None
    history = AggregateHistory(CTX, "contract", "c-1", (), 0)
    news = [NewEvent("ContractAmended", 1, p, occurred) for p in payloads]
    meta = CommandMetadata("cmd-2", "import:x", "corr-2", None)
    with StoredForms() as forms:
        try:
            sealed = seal_trusted(FixedClock(recorded), history, news, meta, signer)
        except Exception:  # (a payload the hash cannot encode: `records.seal` refuses it too)
            return
    assert len(forms) == len(sealed)
    for form, envelope in zip(forms, sealed, strict=True):
        try:
            dumped = envelope.model_dump_json().encode()
        except Exception:  # (a lone surrogate: the model refuses it; so did stored_json)
            assert form is None
            continue
        assert stored_json(envelope) == dumped
        # Given where the values are JSON forms; else None (the model's dump is used).
        assert form is None or form == dumped
        if all(_plain(v) for v in envelope.payload.values()):
            assert form == dumped


def _plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if type(value) is int:
        return -(2**63) <= value < 2**64
    if type(value) is str:
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    return value is None or type(value) in (bool, float)


def test_no_stored_bytes_are_given_outside_the_block_or_by_the_general_sealing() -> None:
    history = AggregateHistory(CTX, "tender", "t-1", (), 0)
    news = [NewEvent("TenderPublished", 2, PAYLOAD, NOW)]
    meta = CommandMetadata("cmd-1", "import:x", "corr-1", None)
    with StoredForms() as outer:
        with StoredForms() as inner:
            seal_trusted(FixedClock(NOW), history, news, meta)
        seal(FixedClock(NOW), history, news, meta)  # (the general sealing gives none)
    seal_trusted(FixedClock(NOW), history, news, meta)
    assert (len(inner), len(outer)) == (1, 0)
    assert bulk_seal._collecting is None


async def _staged(sealer: bool) -> tuple[StagedStore, list[StoredEvent]]:
    clock = FixedClock(NOW)
    base = InMemoryEventStore(clock)
    await base.ensure_stream(CTX)
    # The memory store's own `sealer` is its general `seal`: no stored bytes given.
    store = StagedStore(base, sealer=_bulk_sealer(clock) if sealer else base.sealer())
    meta = CommandMetadata("cmd-1", "import:x", "corr-1", None)
    staged: list[StoredEvent] = []
    for aggregate, payloads in (("t-1", [PAYLOAD, {}]), ("t-2", [{"a": 1}]), ("t-1", [{}])):
        history = await store.load(CTX, "tender", aggregate)
        news = [NewEvent("TenderPublished", 2, p, NOW) for p in payloads]
        staged += await store.append(history, news, meta, headers={"traceparent": "00-x"})
    return store, staged


def _bulk_sealer(clock: FixedClock) -> Any:
    def sealing(history: Any, news: Any, meta: Any) -> Any:
        return seal_trusted(clock, history, news, meta, EventSigner(SEED))

    return sealing


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-sealer", "general-sealer"])
async def test_a_staged_store_hands_each_event_over_once_with_its_stored_bytes(
    bulk: bool,
) -> None:
    store, staged = await _staged(bulk)
    events = store.events()
    assert [e.envelope for e in events] == [s.envelope for s in staged]
    assert [s.seq for s in staged] == [PROVISIONAL + i for i in range(len(staged))]
    # Each aggregate's first event carries the sequence its decisions read (0: new).
    assert [e.expected_last_seq for e in events] == [0, None, 0, None]
    assert [e.aggregate_id for e in events] == ["t-1", "t-1", "t-2", "t-1"]
    assert [e.msg_id for e in events] == [
        "registry:cmd-1:t-1:1", "registry:cmd-1:t-1:2", "registry:cmd-1:t-2:1",
        "registry:cmd-1:t-1:1",
    ]  # fmt: skip
    assert [e.subject for e in events] == [s.subject for s in staged]
    assert all(e.headers == {"traceparent": "00-x"} for e in events)
    for e in events:
        if bulk:
            assert e.data == stored_json(e.envelope) == e.envelope.model_dump_json().encode()
        else:
            assert e.data is None  # (encoded from the envelope when published)
    assert store.events() == events
    assert store.events() is not store.events()


def test_the_groups_stored_events_are_made_when_read() -> None:
    envelopes = seal(FixedClock(NOW), AggregateHistory(CTX, "tender", "t-1", (), 0),
                     [NewEvent("TenderPublished", 2, {"n": n}, NOW) for n in range(4)],
                     CommandMetadata("cmd-1", "import:x", "corr-1", None))  # fmt: skip
    ctx = BoundedContext(CTX.name, CTX.stream)
    grouped = [GroupedEvent(ctx, "tender", "t-1", e, f"m{n}") for n, e in enumerate(envelopes)]
    lazy = Positioned(grouped, "REGISTRY", 41)
    made = [StoredEvent(e.envelope, "REGISTRY", 41 + i, e.subject) for i, e in enumerate(grouped)]
    assert len(lazy) == 4
    assert list(lazy) == made
    assert lazy == made
    assert [lazy[n] for n in range(-4, 4)] == made + made
    assert lazy[1:3] == made[1:3]
    assert lazy[::-1] == made[::-1]
    assert [s.seq for s in lazy] == [41, 42, 43, 44]
    with pytest.raises(IndexError):
        lazy[4]


def test_event_ids_in_a_forked_child_are_not_its_parents_next_ones() -> None:
    uuid4_texts(1)  # (a block of random bytes read in this process)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, "\n".join(uuid4_texts(8)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode().split("\n")
    os.close(read)
    mine = uuid4_texts(8)
    assert len(child) == 8
    assert not set(child) & set(mine)
    assert all(uuid.UUID(t).version == 4 for t in child + mine)


def test_event_ids_made_in_threads_at_once_are_all_different() -> None:
    """The random block is each thread's own: threads sealing at once (none does today; the
    store is a library) never take the same bytes, so never the same event id."""
    import threading

    start = threading.Barrier(4)
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        start.wait()
        for _ in range(500):
            into.extend(uuid4_texts(3))

    threads = [threading.Thread(target=make, args=(m,)) for m in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for m in made for i in m]
    assert len(ids) == 4 * 500 * 3
    assert len(set(ids)) == len(ids)
