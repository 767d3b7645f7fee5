"""What an import stores, byte for byte (helper import36): the group commit's lane seals each
event and encodes what is stored in one pass; those bytes, and so every hash, signature and
chain the auditors verify, stay what they were before. A fixture import (the bench's
ordinary processes and the tests' TenderNed package, whose releases carry law findings)
through a registry served in this process on a real JetStream, with a fixed clock, a fixed
signing key and event ids given by what they identify (command, aggregate, version), so two
runs store the same bytes whatever order the processes took; each stored message's sha256
is compared to the golden file taken from the code before the change
(`golden/import36_stored_bytes.json`; `IMPORT36_WRITE_GOLDEN=1` writes it again).

The ids are given by wrapping the store's two sealings (the lane's `bulk_seal.seal_trusted`,
through the store's `sealer`, and `records.seal`, for a process that went the general way):
whichever way a process went, its bytes are the same (the lane's tests), so the golden does
not depend on how the importer grouped the processes."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from bench.suites.ocds_import import package as bench_package
from bootstrap.parts import registry_service
from contracts_schema.envelope import EventEnvelope
from contracts_schema.subjects import REGISTRY
from eventstore import bulk_seal, records, store
from eventstore.clock import FixedClock
from eventstore.hashing import verify_chain
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import request_reply
from eventstore.signing import EventSigner
from eventstore.store import EventStore
from tests.service.test_ocds_import_group import package as tenderned_package
from tests.unit.eventstore.test_sealed_bytes import SEED

GOLDEN = Path(__file__).parent / "golden" / "import36_stored_bytes.json"
NAMESPACE = uuid.UUID("00000000-0000-4000-8000-000000000036")
NOW = datetime(2026, 11, 30, 18, 0, 0, 123456, tzinfo=UTC)


def _ids(meta: CommandMetadata, history: AggregateHistory, count: int) -> list[str]:
    return [
        str(uuid.uuid5(NAMESPACE, f"{meta.command_id}/{history.aggregate_id}/{v}"))
        for v in range(history.version + 1, history.version + 1 + count)
    ]


class _Ids:
    """A stand-in for the `uuid` module `records.seal` reads its event ids from."""

    def __init__(self, ids: list[str]) -> None:
        self._ids = iter(ids)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(next(self._ids))


@pytest.fixture
def given_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Event ids by what they identify, for every event the JetStream store seals: through
    its bulk `sealer` (the lane's: `bulk_seal.seal_trusted`) and through its `seal` (a
    process that went the general way: alone, or staged by the command path). The commands
    the lane's sealing sealed are listed."""
    lane: list[str] = []
    trusted, general = store.seal_trusted, store.seal

    def sealing(
        clock: Any,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        ids = _ids(meta, history, len(new_events))
        saved = bulk_seal.uuid4_texts
        bulk_seal.uuid4_texts = lambda count: ids[:count]  # type: ignore[assignment]
        try:
            lane.append(meta.command_id)
            return trusted(clock, history, new_events, meta, *args, **kwargs)
        finally:
            bulk_seal.uuid4_texts = saved  # type: ignore[assignment]

    def sealing_generally(
        clock: Any,
        history: AggregateHistory,
        new_events: Sequence[NewEvent],
        meta: CommandMetadata,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        saved = records.uuid
        records.uuid = _Ids(_ids(meta, history, len(new_events)))  # type: ignore[assignment]
        try:
            return general(clock, history, new_events, meta, *args, **kwargs)
        finally:
            records.uuid = saved

    monkeypatch.setattr(store, "seal_trusted", sealing)
    monkeypatch.setattr(store, "seal", sealing_generally)
    return lane


async def _stored_messages(nc: NATS) -> list[tuple[str, bytes]]:
    """Every message of the registry's stream as stored: (subject, data)."""
    js = nc.jetstream()
    info = await js.stream_info(REGISTRY.stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(REGISTRY.stream, seq)
        found.append((msg.subject or "", msg.data or b""))
    return found


async def test_an_imports_stored_bytes_are_the_golden_ones(
    nats_client: NATS, given_ids: list[str]
) -> None:
    clock = FixedClock(NOW)
    event_store = EventStore(nats_client, clock, signers={"registry": EventSigner(SEED)})
    server = await serve_in_process(server_url(nats_client), [registry_service(event_store, clock)])
    try:

        async def request(subject: str, payload: bytes) -> bytes:
            return await request_reply(nats_client, subject, payload, timeout=60)

        reports = []
        for data, source in ((bench_package(24, "ocds-golden36"), "bench"),
                             (tenderned_package(), "fixture")):  # fmt: skip
            reports.append(await import_items(read(data, source), request, event_store))
    finally:
        await server.stop()
    assert all(r.imported and not r.duplicates for r in reports)
    messages = await _stored_messages(nats_client)
    envelopes = [EventEnvelope.model_validate_json(data) for _, data in messages]
    imported = [e for e in envelopes if e.actor.startswith("import:")]
    assert len(imported) == sum(r.events for r in reports) > 100
    # The lane sealed most (a straggler process may go alone, the general way: its ids are
    # given as well, and its bytes are the same).
    commands = {e.command_id for e in imported}
    assert 2 * len(commands & set(given_ids)) >= len(commands)
    # What is stored is the envelope's own JSON, and every chain holds.
    by_aggregate: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (_, data), envelope in zip(messages, envelopes, strict=True):
        assert data == envelope.model_dump_json().encode()
        key = (envelope.aggregate_type, envelope.aggregate_id)
        by_aggregate.setdefault(key, []).append(json.loads(data))
    for (kind, aid), chain in by_aggregate.items():
        assert verify_chain(f"{kind}/{aid}", chain) == []
    digests = sorted(
        (e.aggregate_type, e.aggregate_id, e.aggregate_version, subject,
         hashlib.sha256(data).hexdigest())
        for (subject, data), e in zip(messages, envelopes, strict=True)
        if e.actor.startswith("import:")
    )  # fmt: skip
    got = [list(d) for d in digests]
    if os.environ.get("IMPORT36_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text("[\n" + ",\n".join(json.dumps(g) for g in got) + "\n]\n")
    golden = json.loads(GOLDEN.read_text())
    assert len(got) == len(golden)
    changed = [(g, w) for g, w in zip(got, golden, strict=True) if g != w]
    assert changed == [], f"{len(changed)} stored messages differ, the first: {changed[:1]}"
