"""What sealing stores, pinned byte for byte: a change to how envelopes are sealed (or hashed)
that changes a stored byte, or a hash, fails here. The digests were taken from the sealing
code before it was made cheaper (import3); the hash chain of every stored event depends on it.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone

import nkeys
import pytest

from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import BoundedContext
from eventstore.clock import FixedClock
from eventstore.hashing import verify_chain
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, seal
from eventstore.signing import EventSigner

CTX = BoundedContext("registry", "REGISTRY")
SEED = nkeys.encode_seed(bytes(range(32)), nkeys.PREFIX_BYTE_USER).decode()
# Escapes, non-ASCII, control characters, floats, big integers, nesting, unsorted keys.
PAYLOAD = {
    "tender_id": "ocds-x-1",
    "title": 'Zwembad \u2018De Vliet\u2019 \u2013 \u20ac\u00e9\n\t"q"\\',
    "value_eur": "1234.50",
    "ratio": 0.1,
    "big": 10**15,
    "tiny": 1e-7,
    "flag": True,
    "none": None,
    "lots": [{"lot_id": "2", "suppliers": ["NL-KVK-1", "NL-KVK-2"]}, {"lot_id": "1"}],
    "nested": {"b": {"z": 1, "a": [1, 2.5, "x"]}, "a": []},
    "ctl": "\u0001\u007f\u2028",
}
# sha256 of each stored envelope (model_dump_json), then its `hash`: unsigned, then signed.
PINNED = {
    None: [
        (
            "58c57b63469ad076c56d181423d1e5ec1fe1c8d92019d9cd29eecdb5c4a04017",
            "5071ec7cb7a8faf905e9e3b5f941bb89f652b5feaa4681fbd62587500ca7274e",
        ),
        (
            "06ae0b6ee60a2104dea8ba42fa5029aef7d4029ccf2188014afb42542a46aeaf",
            "d3580f958f33aab3f93a58792e3dc9aab8cd4ca2a4188fb23a6b7c9d185e4c8d",
        ),
    ],
    SEED: [
        (
            "c0c62acbfb6753fca4b65a9c69ab4ab74a4a7af2a7c4a4b8b71b15e96699ff73",
            "930920e475bffed23162c496bbc06f2e2f3394857a686e02a60563e5785fe657",
        ),
        (
            "b910300610beaefba82c5a97a541ac21bda233691368c26620615c9704138d76",
            "16e69ac5426cfc00f9618e2bac9289e48f3efd688435cd394af85b4d71dd30aa",
        ),
    ],
}


@pytest.fixture
def numbered_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(uuid.UUID(int=i) for i in range(1, 100))
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))


@pytest.mark.parametrize("seed", [None, SEED], ids=["unsigned", "signed"])
def test_sealed_envelopes_store_the_pinned_bytes(numbered_ids: None, seed: str | None) -> None:
    signer = EventSigner(seed) if seed else None
    history = AggregateHistory(CTX, "tender", "ocds-x-1", (), 0)
    news = [
        NewEvent(
            "ImportedTenderReleaseRecorded", 1, PAYLOAD, datetime(2020, 1, 6, 9, 30, tzinfo=UTC)
        ),
        NewEvent(
            "TenderPublished",
            2,
            {"tender_id": "ocds-x-1"},
            datetime(2020, 1, 6, 10, tzinfo=timezone(timedelta(hours=1))),
        ),
    ]
    meta = CommandMetadata("cmd-1", "import:bench", "corr-1", "cause-1")
    clock = FixedClock(datetime(2026, 11, 30, 18, 0, 0, 123456, tzinfo=UTC))
    sealed = seal(clock, history, news, meta, signer)
    stored = [e.model_dump_json().encode() for e in sealed]
    assert [
        (hashlib.sha256(b).hexdigest(), e.hash) for b, e in zip(stored, sealed, strict=True)
    ] == (PINNED[seed])
    # What is stored decodes to the same envelope, and its chain verifies as read back.
    decoded = [EventEnvelope.model_validate_json(b) for b in stored]
    assert decoded == sealed
    assert verify_chain("tender/ocds-x-1", [d.model_dump(mode="json") for d in decoded]) == []
