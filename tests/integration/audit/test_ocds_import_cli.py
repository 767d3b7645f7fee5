"""`audit ocds import` against a real JetStream and the registry service: its documented exit
statuses (docs/ocds-import.md): 0 every release imported or already there, 1 some skipped
(each reported with its JSON path), 2 nothing readable or no registry to send to."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

from nats.aio.client import Client as NATS
from typer.testing import CliRunner, Result

from audit.cli import app
from audit.ocds_cli import IMPORT_FAILED, IMPORT_OK, IMPORT_PARTIAL
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.folded import load_folded
from eventstore.service_app import CommandServer
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer

DATA = Path(__file__).parents[2] / "service" / "data" / "ocds"
OCID = "ocds-213czf-000-00001"
runner = CliRunner()


async def audit(server: NatsServer, source: Path) -> Result:
    # The CLI runs its own event loop: in a thread, while this one serves the registry.
    args = ["ocds", "import", str(source), "--nats-url", server.url]
    return await asyncio.to_thread(runner.invoke, app, args)


async def stored(nc: NATS) -> int:
    return len(await events(nc))


async def events(nc: NATS) -> list[tuple[int, str]]:
    """The registry stream's events as stored: (sequence, event id)."""
    store = EventStore(nc, SystemClock())
    return [(e.seq, e.envelope.event_id) async for e in store.read_stream(REGISTRY)]


async def test_every_release_imported_exits_0_and_so_does_a_re_run(
    nats_server: NatsServer, nats_client: NATS, registry: CommandServer, tmp_path: Path
) -> None:
    source = DATA / "fictional-releases.json"
    first = await audit(nats_server, source)
    assert first.exit_code == IMPORT_OK, first.output
    assert "imported 6, skipped 0, duplicates 0" in first.output
    tender = await load_folded(
        EventStore(nats_client, SystemClock()), FOLDS["registry", "tender"], OCID
    )
    assert tender.source_ocid == OCID
    before = await stored(nats_client)
    again = await audit(nats_server, source)
    assert again.exit_code == IMPORT_OK, again.output
    assert "imported 0, skipped 0, duplicates 6 (0 events appended)" in again.output
    assert await stored(nats_client) == before


async def test_some_releases_skipped_exits_1_naming_each_by_its_json_path(
    nats_server: NatsServer, nats_client: NATS, registry: CommandServer, tmp_path: Path
) -> None:
    package = json.loads((DATA / "fictional-releases.json").read_text())
    good = package["releases"][0]
    no_ocid = copy.deepcopy(good)
    del no_ocid["ocid"]
    bad_code = copy.deepcopy(good)  # a code of no OCDS codelist
    bad_code["ocid"], bad_code["tender"]["status"] = "ocds-213czf-2", "no-such-status"
    package["releases"] = [good, no_ocid, bad_code]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join([json.dumps(package), "{not json"]))
    result = await audit(nats_server, source)
    assert result.exit_code == IMPORT_PARTIAL, result.output
    assert "skipped line 1: $.releases[1]: fails the OCDS 1.1.5 release schema" in result.output
    assert "skipped line 1: $.releases[2]: fails the OCDS 1.1.5 release schema" in result.output
    assert "no-such-status" in result.output
    assert "skipped line 2: bad JSON" in result.output
    assert "imported 1, skipped 3, duplicates 0" in result.output
    first = await events(nats_client)
    assert first
    # Run again (import16): the same status and report, nothing stored lost or added.
    again = await audit(nats_server, source)
    assert again.exit_code == IMPORT_PARTIAL, again.output
    assert "imported 0, skipped 3, duplicates 1 (0 events appended)" in again.output
    assert await events(nats_client) == first


async def test_nothing_readable_exits_2_and_stores_nothing(
    nats_server: NatsServer, nats_client: NATS, registry: CommandServer, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json\nnor this")
    unreadable = await audit(nats_server, garbage)
    assert unreadable.exit_code == IMPORT_FAILED, unreadable.output
    assert "unreadable line 1: bad JSON" in unreadable.output
    assert "no release could be read" in unreadable.output
    missing = await audit(nats_server, tmp_path / "no-such-file.json")
    assert missing.exit_code == IMPORT_FAILED, missing.output
    assert "no-such-file.json" in missing.output
    assert await stored(nats_client) == 0


async def test_no_registry_to_send_to_exits_2(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    result = await audit(nats_server, DATA / "fictional-releases.json")
    assert result.exit_code == IMPORT_FAILED, result.output
    assert "no registry service answers" in result.output
