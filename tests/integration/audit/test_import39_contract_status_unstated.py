"""A contract that states a signing day but no status (import35 counted 20 in TED's feed),
through `audit ocds import` against a real JetStream and the registry (helper import39).

OCDS 1.1.5 makes a contract's `status` optional (the closed contractStatus codelist, or
null) and says `dateSigned` is the day it was signed. The registry records a signed contract
as active (or terminated): recorded, this one would be exported `active`, a status its source
does not state, which the round trip forbids (a default is recorded marked "not stated" and
left out of the export: import17) -- and the contract events carry no such mark for a status.
So it is not imported this round: its release is reported for what it is (before, as
"None here, but was recorded active", for a contract nothing was recorded of), nothing of it
is stored, a re-run reports it again and stores nothing, and a later release that states it
signed records it then."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from typer.testing import CliRunner, Result

from audit.cli import app
from audit.ocds_cli import IMPORT_OK, IMPORT_PARTIAL
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.folded import load_folded
from eventstore.service_app import CommandServer
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer

DATA = Path(__file__).parents[2] / "service" / "data" / "ocds"
OCID = "ocds-213czf-000-00001"
CONTRACT = f"{OCID}-contract-01"
runner = CliRunner()


async def audit(server: NatsServer, source: Path) -> Result:
    args = ["ocds", "import", str(source), "--nats-url", server.url]
    return await asyncio.to_thread(runner.invoke, app, args)


async def stored(nc: NATS) -> int:
    store = EventStore(nc, SystemClock())
    return len([e async for e in store.read_stream(REGISTRY)])


def _without_status(releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = copy.deepcopy(releases)
    for release in changed:
        for contract in release.get("contracts", []):
            assert contract.get("dateSigned"), contract  # signed by its day
            del contract["status"]
    return changed


async def test_a_signed_contract_without_a_status_is_reported_not_recorded_then_recorded(
    nats_server: NatsServer, nats_client: NATS, registry: CommandServer, tmp_path: Path
) -> None:
    package = json.loads((DATA / "fictional-releases.json").read_text())
    published = package["releases"]
    source = tmp_path / "unstated.json"
    source.write_text(json.dumps({**package, "releases": _without_status(published)}))

    first = await audit(nats_server, source)
    assert first.exit_code == IMPORT_PARTIAL, first.output
    assert "imported 4, skipped 2, duplicates 0" in first.output
    for n in (4, 5):  # the contract's release and the implementation's after it
        assert (
            f"$.releases[{n}].contracts[0].status: NOT_RECORDABLE: contract {CONTRACT} states"
            " no status beside its signing day" in " ".join(first.output.split())
        ), first.output
    assert "was recorded active" not in first.output  # nothing was
    store = EventStore(nats_client, SystemClock())
    contract = await load_folded(store, FOLDS["registry", "contract"], CONTRACT)
    assert not contract.exists
    before = await stored(nats_client)

    again = await audit(nats_server, source)  # reported again; nothing stored twice
    assert again.exit_code == IMPORT_PARTIAL, again.output
    assert "imported 0, skipped 2, duplicates 4" in again.output
    assert await stored(nats_client) == before

    signed = tmp_path / "signed.json"  # the same process, its contract stated active
    signed.write_text(json.dumps(package))
    later = await audit(nats_server, signed)
    assert later.exit_code == IMPORT_OK, later.output
    assert "imported 2, skipped 0, duplicates 4" in later.output
    contract = await load_folded(store, FOLDS["registry", "contract"], CONTRACT)
    assert contract.exists
    assert contract.source_ocid == OCID
