"""`bulk_seal.seal_trusted` (the import lane's sealing) gives exactly `records.seal`'s
envelopes: the same values, fields set, hash, signature and stored bytes, on the pinned
events of `test_sealed_bytes.py` and on generated ones (any JSON payload a model's JSON-mode
dump can give, valid times in any offset, with and without microseconds, a chain to continue)."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts_schema.envelope import EventEnvelope
from eventstore import bulk_seal
from eventstore.bulk_seal import seal_trusted, uuid4_texts
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, seal
from eventstore.signing import EventSigner
from tests.unit.eventstore.test_sealed_bytes import CTX, PAYLOAD, PINNED, SEED

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
INSTANTS = st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
) | st.just(datetime(2020, 1, 6, 9, tzinfo=UTC))


@contextlib.contextmanager
def _event_ids(ids: Iterator[uuid.UUID]) -> Iterator[None]:
    """Event ids taken from `ids`, by the general sealing (`uuid.uuid4`) and by the bulk one
    (`bulk_seal.uuid4_texts`) alike."""
    saved, saved_texts = uuid.uuid4, bulk_seal.uuid4_texts
    try:
        uuid.uuid4 = lambda: next(ids)
        bulk_seal.uuid4_texts = lambda count: [str(next(ids)) for _ in range(count)]
        yield
    finally:
        uuid.uuid4 = saved
        bulk_seal.uuid4_texts = saved_texts


def _both(
    history: AggregateHistory,
    news: list[NewEvent],
    meta: CommandMetadata,
    clock: FixedClock,
    signer: EventSigner | None,
) -> tuple[list[EventEnvelope], list[EventEnvelope]]:
    """Each sealing with the same event ids."""
    first = [uuid.uuid4() for _ in news]
    with _event_ids(iter(first)):
        general = seal(clock, history, news, meta, signer)
    with _event_ids(iter(first)):
        trusted = seal_trusted(clock, history, news, meta, signer)
    return general, trusted


def _with_ids(ids: list[uuid.UUID], sealing: Any) -> list[EventEnvelope]:
    with _event_ids(iter(ids)):
        return cast(list[EventEnvelope], sealing())


def _same(general: list[EventEnvelope], trusted: list[EventEnvelope]) -> None:
    for a, b in zip(general, trusted, strict=True):
        assert b.model_dump_json() == a.model_dump_json()
        assert b.__dict__ == a.__dict__
        assert b.model_fields_set == a.model_fields_set
        assert b.hash == a.hash
        assert b.signature == a.signature
        assert EventEnvelope.model_validate_json(b.model_dump_json()) == b


@pytest.mark.parametrize("seed", [None, SEED], ids=["unsigned", "signed"])
def test_the_pinned_events_are_sealed_to_the_pinned_bytes(seed: str | None) -> None:
    signer = EventSigner(seed) if seed else None
    history = AggregateHistory(CTX, "tender", "ocds-x-1", (), 0)
    news = [
        NewEvent("ImportedTenderReleaseRecorded", 1, PAYLOAD, datetime(2020, 1, 6, 9, 30, tzinfo=UTC)),
        NewEvent("TenderPublished", 2, {"tender_id": "ocds-x-1"},
                 datetime(2020, 1, 6, 10, tzinfo=timezone(timedelta(hours=1)))),
    ]  # fmt: skip
    meta = CommandMetadata("cmd-1", "import:bench", "corr-1", "cause-1")
    clock = FixedClock(datetime(2026, 11, 30, 18, 0, 0, 123456, tzinfo=UTC))
    with _event_ids(uuid.UUID(int=i) for i in range(1, 100)):
        sealed = seal_trusted(clock, history, news, meta, signer)
    stored = [e.model_dump_json().encode() for e in sealed]
    assert [
        (hashlib.sha256(b).hexdigest(), e.hash) for b, e in zip(stored, sealed, strict=True)
    ] == (PINNED[seed])


# 100 examples: the payloads' encoding is test_canonical_orjson's (every code point and float
# form), the sealed bytes are pinned above; here the flags (signed, continued, causation)
# and instants vary, which 100 examples cover many times over. 300 took 64 s at load 19.
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    payloads=st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=6), min_size=1, max_size=4),
    occurred=INSTANTS,
    recorded=INSTANTS,
    signed=st.booleans(),
    continued=st.booleans(),
    causation=st.none() | st.text(min_size=1),
)
def test_generated_events_are_sealed_as_records_seal_seals_them(
    payloads: list[dict[str, Any]],
    occurred: datetime,
    recorded: datetime,
    signed: bool,
    continued: bool,
    causation: str | None,
) -> None:
    signer = EventSigner(SEED) if signed else None
    clock = FixedClock(recorded)
    meta = CommandMetadata("cmd-2", "import:x", "corr-2", causation)
    history = AggregateHistory(CTX, "contract", "c-1", (), 0)
    if continued:  # after an event: its version and hash continue
        before = seal(clock, history, [NewEvent("ContractSigned", 1, {}, occurred)], meta, signer)
        history = AggregateHistory(
            CTX, "contract", "c-1", (StoredEvent(before[0], "REGISTRY", 7, "s"),), 7
        )
    news = [NewEvent("ContractAmended", 1, p, occurred) for p in payloads]
    _same(*_both(history, news, meta, clock, signer))


def test_the_stores_seal_for_a_bulk_writer_as_they_seal_themselves() -> None:
    """`EventStorePort.sealer()`: the JetStream store (and its instrumented form, the one a
    deployed registry runs on) gives `seal_trusted` with its own clock and key; the memory
    store its own `seal`. Each gives the envelopes its `seal` gives."""
    from eventstore.observability import InstrumentedEventStore
    from eventstore.store import EventStore

    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    meta = CommandMetadata("cmd-1", "import:x", "corr-1", None)
    history = AggregateHistory(CTX, "contract", "c-1", (), 0)
    news = [NewEvent("ContractSigned", 1, {"a": [1, 2.5, "é"]}, datetime(2020, 1, 1, tzinfo=UTC))]
    signer = EventSigner(SEED)
    ids = [uuid.uuid4() for _ in news]
    for kind in (EventStore, InstrumentedEventStore):
        store = kind(cast(Any, None), clock, signers={CTX.name: signer})
        assert store.sealer().__qualname__ == "EventStore.sealer.<locals>.sealing"

        _same(
            _with_ids(ids, lambda s=store: s.seal(history, news, meta)),
            _with_ids(ids, lambda s=store: s.sealer()(history, news, meta)),
        )
    memory = InMemoryEventStore(clock)
    _same(
        _with_ids(ids, lambda: memory.seal(history, news, meta)),
        _with_ids(ids, lambda: memory.sealer()(history, news, meta)),
    )


def test_event_ids_are_random_version_4_uuids_as_uuid4_writes_them() -> None:
    texts = [t for n in (1, 2, 3, 7) for _ in range(500) for t in uuid4_texts(n)]
    assert len(set(texts)) == len(texts)
    for text in texts:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text  # lower case, hyphens where `str(uuid.uuid4())` has them
    assert uuid4_texts(0) == []
