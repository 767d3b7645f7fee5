"""OCDS export from events in a real JetStream store, through the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import nats
import ocdsmerge
from typer.testing import CliRunner

from audit.cli import app
from audit.ocds.schemas import errors, schema
from contracts_schema.subjects import ENROLMENT
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.support.audit_facts import KPN, LNVT, LNVT_TENDER, TENDER, Fact, on, record, spaced

runner = CliRunner()
REGISTERED = [
    Fact(
        "OrganisationRegistered",
        {"code": KPN, "name": "KPN B.V.", "kind": "supplier"},
        on(datetime(2020, 1, 1).date()),
    ),
]


def load(server: NatsServer) -> None:
    async def go() -> None:
        nc = await nats.connect(server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        store = EventStore(nc, clock)
        await record(store, clock, f"organisation/{KPN}", spaced(REGISTERED), context=ENROLMENT)
        await record(store, clock, f"tender/{TENDER}", spaced(LNVT_TENDER))
        await nc.close()

    asyncio.run(go())


def test_export_writes_valid_packages_whose_compiled_release_matches_ocdsmerge(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    load(nats_server)
    result = runner.invoke(
        app, ["ocds", "export", TENDER, "--out", str(tmp_path), "--nats-url", nats_server.url]
    )
    assert result.exit_code == 0, result.output
    releases = json.loads((tmp_path / f"{TENDER}-releases.json").read_text())
    records = json.loads((tmp_path / f"{TENDER}-records.json").read_text())
    assert errors(releases, "release-package-schema.json") == []
    assert errors(records, "record-package-schema.json") == []
    assert [r["tag"] for r in releases["releases"]] == [
        ["planning"],
        ["tender"],
        ["award"],
        ["awardUpdate"],
    ]
    [rec] = records["records"]
    merger = ocdsmerge.Merger(schema=schema("release-schema.json"))
    assert rec["compiledRelease"] == merger.create_compiled_release(releases["releases"])
    assert rec["versionedRelease"] == merger.create_versioned_release(releases["releases"])
    award = rec["compiledRelease"]["awards"][0]
    assert (award["status"], award["suppliers"]) == ("active", [{"id": KPN, "name": "KPN B.V."}])
    assert rec["compiledRelease"]["buyer"] == {"id": LNVT, "name": LNVT}


def test_export_as_of_the_standstill_shows_a_pending_award(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    load(nats_server)
    args = [
        "ocds",
        "export",
        TENDER,
        "--out",
        str(tmp_path),
        "--nats-url",
        nats_server.url,
        "--as-of",
        "2020-11-20",
    ]
    assert runner.invoke(app, args).exit_code == 0
    [rec] = json.loads((tmp_path / f"{TENDER}-records.json").read_text())["records"]
    assert rec["compiledRelease"]["awards"][0]["status"] == "pending"


def test_export_of_an_unknown_tender_says_so(nats_server: NatsServer, tmp_path: Path) -> None:
    load(nats_server)
    result = runner.invoke(
        app, ["ocds", "export", "NOPE", "--out", str(tmp_path), "--nats-url", nats_server.url]
    )
    assert result.exit_code == 2
    assert "no OCDS-relevant events for tender 'NOPE'" in result.output
