"""`audit ocds import` of many processes against a real JetStream: the processes go to the
registry as `ImportReleaseGroup` messages and their events as atomic batches over many
aggregates (eventstore.group_append); every release is stored once, with its aggregate's
version and hash chain intact, and a re-run stores nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from nats.aio.client import Client as NATS

from audit.ocds_cli import IMPORT_OK
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.folded import load_folded
from eventstore.hashing import verify_chain
from eventstore.service_app import CommandServer
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.audit.test_ocds_import_cli import audit
from tests.service.test_ocds_import_group import package


async def test_many_processes_are_stored_once_each_and_a_re_run_stores_nothing(
    nats_server: NatsServer, nats_client: NATS, registry: CommandServer, tmp_path: Path
) -> None:
    source = tmp_path / "processes.jsonl"
    source.write_bytes(package())
    first = await audit(nats_server, source)
    assert first.exit_code == IMPORT_OK, first.output
    assert "imported 18, skipped 0, duplicates 0" in first.output
    store = EventStore(nats_client, SystemClock())
    events = [e async for e in store.read_stream(REGISTRY)]
    # Each command's events once, each aggregate's versions gap-free and its chain intact.
    per_command = Counter((e.envelope.command_id, e.envelope.aggregate_id,
                           e.envelope.aggregate_version) for e in events)  # fmt: skip
    assert set(per_command.values()) == {1}
    aggregates = {(e.envelope.aggregate_type, e.envelope.aggregate_id) for e in events}
    for aggregate_type, aggregate_id in aggregates:
        history = await store.load(REGISTRY, aggregate_type, aggregate_id)
        bodies = [e.envelope.model_dump(mode="json") for e in history.events]
        assert verify_chain(aggregate_id, bodies) == []
    for n in range(6):
        tender = await load_folded(store, FOLDS["registry", "tender"], f"ocds-gtnl99-g{n}")
        assert tender.source_release_ids == ("r1", "r2")
    again = await audit(nats_server, source)
    assert again.exit_code == IMPORT_OK, again.output
    assert "imported 0, skipped 0, duplicates 18" in again.output
    assert len([e async for e in store.read_stream(REGISTRY)]) == len(events)


async def test_a_group_over_partly_imported_processes_stores_only_what_is_new(
    nats_server: NatsServer, nats_client: NATS, registry: CommandServer, tmp_path: Path
) -> None:
    """The group's records and aggregates are read together (eventstore.last_messages): some
    recorded, some not; some aggregates there, some new. Each answer is the one of its own."""
    full = package()
    tenderned = json.loads(full.split(b"\n", 1)[0])
    first_releases = [r for r in tenderned["releases"]
                      if r["id"] == "r1" and r["ocid"] < "ocds-gtnl99-g3"]  # fmt: skip
    part = tmp_path / "part.json"
    part.write_text(json.dumps({**tenderned, "releases": first_releases}))
    before = await audit(nats_server, part)
    assert "imported 3, skipped 0, duplicates 0" in before.output, before.output
    source = tmp_path / "processes.jsonl"
    source.write_bytes(full)
    after = await audit(nats_server, source)
    assert after.exit_code == IMPORT_OK, after.output
    assert "imported 15, skipped 0, duplicates 3" in after.output
    store = EventStore(nats_client, SystemClock())
    events = [e async for e in store.read_stream(REGISTRY)]
    per_command = Counter((e.envelope.command_id, e.envelope.aggregate_id,
                           e.envelope.aggregate_version) for e in events)  # fmt: skip
    assert set(per_command.values()) == {1}
    for n in range(6):
        tender = await load_folded(store, FOLDS["registry", "tender"], f"ocds-gtnl99-g{n}")
        assert tender.source_release_ids == ("r1", "r2")
