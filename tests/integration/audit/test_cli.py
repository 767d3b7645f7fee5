"""The `audit` command line against a real NATS server and a real SQLite read model."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import nats
import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from audit.temporal import TemporalProjection
from bootstrap.audit_cli import audit_app
from contracts_schema.registry.state import LotStatus, TenderPhase
from contracts_schema.subjects import CONTEXTS, ENROLMENT
from enrolment.registry_facts import RegistryFacts
from eventstore.clock import FixedClock
from eventstore.projection import ProjectionRunner
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.projections import TendersProjection
from tests.support.audit_facts import (
    KPN,
    LNVT_TENDER,
    RECORDED,
    TENDER,
    TWO_LOTS,
    Fact,
    on,
    record,
    spaced,
)

runner = CliRunner()
app = audit_app()  # as `audit` runs: over every read model of the system


def load(
    server: NatsServer, database_url: str, *, project: bool = True, facts: list | None = None
) -> list:
    async def go() -> list:
        nc = await nats.connect(server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        store = EventStore(nc, clock, protect=False)
        await store.ensure_stream(ENROLMENT)
        history = LNVT_TENDER if facts is None else facts
        stored = await record(store, clock, f"tender/{TENDER}", spaced(history))
        if project:
            projection_runner = ProjectionRunner(
                nc, make_engine(database_url), TemporalProjection()
            )
            await projection_runner.start()
            assert await projection_runner.wait_until({"REGISTRY": stored[-1].seq}, timeout=120)
            await projection_runner.stop()
        await nc.close()
        return stored

    return asyncio.run(go())


def test_replay_json_as_of_and_known_at(nats_server: NatsServer, sqlite_url: str) -> None:
    load(nats_server, sqlite_url, project=False)
    base = ["replay", f"tender/{TENDER}", "--nats-url", nats_server.url, "--json"]
    result = runner.invoke(app, [*base, "--as-of", "2020-11-20"])
    assert result.exit_code == 0, result.output
    [lot] = json.loads(result.output)["state"]["lots"]
    assert (lot["status"], lot["supplier_ids"], lot["standstill_ends_on"]) == (
        "provisionally_awarded",
        [KPN],
        "2020-12-03",
    )

    result = runner.invoke(app, [*base, "--as-of", "2021-01-01"])
    assert json.loads(result.output)["state"]["lots"][0]["status"] == "awarded"

    result = runner.invoke(app, [*base, "--known-at", "2026-01-14"])
    assert json.loads(result.output)["timeline"] == []


def replayed(server: NatsServer, *options: str) -> dict:
    args = ["replay", f"tender/{TENDER}", "--nats-url", server.url, "--json", *options]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    state: dict = json.loads(result.output)["state"]
    return state


PAUSED = Fact(
    "TenderPaused",
    {"tender_id": TENDER, "paused_on": "2020-10-01", "reason": "re-evaluation"},
    on(date(2020, 10, 1)),
)
RESUMED = Fact("TenderResumed", {"tender_id": TENDER, "resumed_on": "2020-10-15"},
               on(date(2020, 10, 15)))  # fmt: skip


def test_replay_of_a_published_paused_and_resumed_tender_shows_it_published_again(
    nats_server: NatsServer, sqlite_url: str
) -> None:
    load(nats_server, sqlite_url, project=False, facts=[*LNVT_TENDER[:2], PAUSED, RESUMED])
    assert replayed(nats_server, "--as-of", "2020-10-02")["phase"] == "paused"
    state = replayed(nats_server)
    assert (state["phase"], state["status"]) == ("published", "published")
    assert state["status_before_pause"] is None


def test_replay_of_lots_provisionally_and_definitively_awarded_says_provisionally_awarded(
    nats_server: NatsServer, sqlite_url: str
) -> None:
    # Lot L1 definitively to KPN, lot L2 still provisional: not every lot is awarded.
    load(nats_server, sqlite_url, project=False, facts=TWO_LOTS)
    state = replayed(nats_server)
    assert state["phase"] == "provisionally_awarded"
    assert [(x["lot_id"], x["status"]) for x in state["lots"]] == [
        ("L1", "awarded"),
        ("L2", "provisionally_awarded"),
    ]
    # The fold's own words: GraphQL shows the same enums by name (PROVISIONALLY_AWARDED).
    assert TenderPhase(state["phase"]) is TenderPhase.PROVISIONALLY_AWARDED
    assert {LotStatus(x["status"]) for x in state["lots"]} == {
        LotStatus.AWARDED,
        LotStatus.PROVISIONALLY_AWARDED,
    }


def test_replay_prints_a_readable_timeline(nats_server: NatsServer, sqlite_url: str) -> None:
    load(nats_server, sqlite_url, project=False)
    result = runner.invoke(
        app, ["replay", f"registry/tender/{TENDER}", "--nats-url", nats_server.url]
    )
    assert result.exit_code == 0, result.output
    assert "definitively awarded" in result.output
    assert RECORDED.date().isoformat() in result.output


def test_replay_refuses_bad_arguments_clearly(nats_server: NatsServer) -> None:
    result = runner.invoke(app, ["replay", "tenders/X", "--nats-url", nats_server.url])
    assert result.exit_code == 2
    assert "cannot read aggregate 'tenders/X'" in result.output
    result = runner.invoke(app, ["replay", "tender/X", "--as-of", "yesterday"])
    assert result.exit_code == 2
    assert "--as-of must be a date" in result.output


def test_verify_passes_then_fails_naming_the_deleted_event(
    nats_server: NatsServer, sqlite_url: str, tmp_path: Path
) -> None:
    stored = load(nats_server, sqlite_url)
    args = ["verify", "--nats-url", nats_server.url, "--database-url", sqlite_url]
    # Only audit's own projection lives in this database: the gateway's are not built here.
    unbuilt = runner.invoke(app, args)
    assert unbuilt.exit_code == 1
    assert f"{TendersProjection().key}: not-built" in unbuilt.output, unbuilt.output
    # ... nor do the services' own: no URL says where their databases are.
    assert f"{RegistryFacts().key}: unlocated" in unbuilt.output
    assert "GT_ENROLMENT_DATABASE_URL" in unbuilt.output
    assert runner.invoke(app, [*args, "--projection", "nope"]).exit_code == 2
    args += ["--projection", "audit_history"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "verified" in result.output

    async def delete() -> None:
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().delete_msg("REGISTRY", stored[1].seq)
        await nc.close()

    asyncio.run(delete())
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert stored[2].envelope.event_id in result.output
    assert "deleted" in result.output


def test_projections_rebuild_cuts_over(nats_server: NatsServer, sqlite_url: str) -> None:
    load(nats_server, sqlite_url)
    args = ["--nats-url", nats_server.url, "--database-url", sqlite_url]
    result = runner.invoke(app, ["projections", "rebuild", "audit_history", *args])
    assert result.exit_code == 0, result.output
    assert "audit_history: cut over" in result.output
    result = runner.invoke(app, ["projections", "rebuild", "nope", *args])
    assert result.exit_code == 2
    assert "unknown projection 'nope'" in result.output


def test_verify_fails_while_a_projection_has_parked_events(
    nats_server: NatsServer, sqlite_url: str
) -> None:
    # A well-formed envelope whose payload the projection cannot read (a malformed date):
    # the projection parks it, and verify says so and fails instead of printing "verified".
    broken = Fact(
        "TenderPlanned",
        {**LNVT_TENDER[0].payload, "tender_id": "BROKEN-1", "planned_on": "2020-13-45"},
        LNVT_TENDER[0].occurred_at,
    )
    load(nats_server, sqlite_url, project=False)

    async def park() -> str:
        nc = await nats.connect(nats_server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        [stored] = await record(
            EventStore(nc, clock, protect=False), clock, "tender/BROKEN-1", spaced([broken])
        )
        projection_runner = ProjectionRunner(nc, make_engine(sqlite_url), TendersProjection())
        await projection_runner.start()
        assert await projection_runner.wait_until({"REGISTRY": stored.seq}, timeout=120)
        await projection_runner.stop()
        await nc.close()
        return stored.envelope.event_id

    event_id = asyncio.run(park())
    args = ["verify", "--nats-url", nats_server.url, "--database-url", sqlite_url]
    result = runner.invoke(app, [*args, "--projection", "tenders"])
    assert result.exit_code == 1, result.output
    assert "parked" in result.output
    assert event_id in result.output


def corrupt(database: Path) -> None:
    """Everything into the main file, then every page but the header's overwritten (b-trees
    among them), as a failing disk would leave it."""
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = database.stat().st_size
    with database.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xde\xad" * ((size - 4096) // 2))


def dump(database: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(database) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"'), key=repr) for n in names}


def test_verify_names_a_corrupt_read_model_file_and_rebuild_recovers_from_it(
    nats_server: NatsServer, sqlite_url: str, tmp_path: Path
) -> None:
    load(nats_server, sqlite_url)

    async def every_stream() -> None:  # as the running system has them
        nc = await nats.connect(nats_server.url)
        store = EventStore(nc, FixedClock(datetime(2026, 1, 15, tzinfo=UTC)), protect=False)
        for context in CONTEXTS.values():
            await store.ensure_stream(context)
        await nc.close()

    asyncio.run(every_stream())
    database = Path(make_url(sqlite_url).database or "")
    before = dump(database)
    args = ["--nats-url", nats_server.url, "--database-url", sqlite_url]
    corrupt(database)

    # verify names the broken file and fails, instead of crashing on it.
    result = runner.invoke(app, ["verify", *args, "--projection", "audit_history"])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, sqlite3.DatabaseError | DatabaseError)
    assert "corrupt-database" in result.output
    assert str(database) in result.output.replace("\n", "")
    assert "audit projections rebuild" in result.output

    # rebuild keeps the broken file aside and rebuilds its read models into a fresh one.
    result = runner.invoke(app, ["projections", "rebuild", "audit_history", *args])
    assert result.exit_code == 0, result.output
    assert "corrupt; moved aside" in result.output
    [aside] = [p for p in tmp_path.glob(database.name + ".corrupt-*") if p.name[-1].isdigit()]
    with sqlite3.connect(aside) as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("PRAGMA integrity_check").fetchall()  # kept as it was found
    with sqlite3.connect(database) as conn:
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
    after = dump(database)
    # The read model's own tables hold the same rows, built to the same position.
    assert {n: after[n] for n in before if not n.startswith("projection_")} == {
        n: rows for n, rows in before.items() if not n.startswith("projection_")
    }
    [(key, stream, seq, _)] = before["projection_checkpoints"]
    assert (key, stream, seq) in {row[:3] for row in after["projection_checkpoints"]}

    result = runner.invoke(app, ["verify", *args, "--projection", "audit_history"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
