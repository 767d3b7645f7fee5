"""The read models on SQLite and PostgreSQL: crash mid-batch, parking, versions taking over."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from nats.aio.client import Client as NATS
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from eventstore.projection import ProjectionRunner, checkpoints
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.projections import ALL, EnrolmentProjection, TendersProjection
from tests.integration.gateway.harness import Gateway, start_gateway
from tests.integration.gateway.history import load_gt_mobile
from tests.integration.gateway.test_n_plus_one import add_tenders

TENDERS = TendersProjection().key  # the shipped version's key, e.g. tenders_v3

ROOT = Path(__file__).resolve().parents[3]


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every read-model row (not the bookkeeping), normalised so that databases compare."""
    metadata = MetaData()
    for kind in ALL:
        kind().define(metadata)
    with engine.connect() as conn:
        return {
            name: sorted(
                json.dumps(dict(row), default=str, sort_keys=True)
                for row in conn.execute(select(table)).mappings()
            )
            for name, table in metadata.tables.items()
        }


async def rebuild(nc: NATS, url: str, positions: dict[str, int]) -> dict[str, list[str]]:
    engine = make_engine(url)
    runners = [ProjectionRunner(nc, engine, kind(), batch=500) for kind in ALL]
    for runner in runners:
        await runner.start()
    try:
        for runner in runners:
            assert await runner.wait_until(positions, timeout=120)
        return snapshot(engine)
    finally:
        for runner in runners:
            await runner.stop()
        engine.dispose()


def checkpoint(engine: Engine, projection: str) -> int:
    try:
        with engine.connect() as conn:
            value = conn.execute(
                select(checkpoints.c.seq).where(checkpoints.c.projection == projection)
            ).scalar()
    except (OperationalError, ProgrammingError):  # the child has not created its tables yet
        return 0
    return int(value or 0)


async def test_killed_mid_batch_then_restarted_equals_a_clean_rebuild(
    nats_server: NatsServer,
    nats_client: NATS,
    event_store: EventStore,
    database_url: str,
    tmp_path: Path,
) -> None:
    g = Gateway(nats_client, event_store, make_engine(database_url), None)  # type: ignore[arg-type]
    for context in ("registry", "enrolment", "notifier"):
        from contracts_schema.subjects import CONTEXTS

        await event_store.ensure_stream(CONTEXTS[context])
    stored = await add_tenders(g, 1, 60)  # 240 events over two streams
    positions: dict[str, int] = {}
    for e in stored:
        positions[e.stream] = max(positions.get(e.stream, 0), e.seq)

    marker = tmp_path / "inside-second-batch"
    child = subprocess.Popen(  # noqa: ASYNC220  (started once; the test then polls)
        [
            sys.executable,
            "-m",
            "tests.integration.gateway.runner_process",
            nats_server.url,
            database_url,
            str(marker),
            TENDERS,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        # The child stops inside its second batch's transaction and says so by the marker:
        # the kill lands there however slow the machine is.
        deadline = asyncio.get_running_loop().time() + 180  # the child imports, connects, loads
        while not marker.exists():
            assert child.poll() is None, "the projection process died on its own"
            assert asyncio.get_running_loop().time() < deadline, "no second batch was begun"
            await asyncio.sleep(0.01)
    finally:
        child.kill()  # SIGKILL: no cleanup, an open transaction is lost
        child.wait()
    committed = checkpoint(g.engine, TENDERS)
    assert 0 < committed < positions["REGISTRY"], "the kill did not land mid-stream"

    live = await rebuild(nats_client, database_url, positions)  # restart on the same database
    clean = await rebuild(nats_client, f"sqlite:///{tmp_path / 'clean.db'}", positions)
    assert live == clean
    assert len(live[f"{TENDERS}_tenders"]) == 60
    g.engine.dispose()


async def test_unappliable_event_is_parked_visible_and_the_rest_flow(
    nats_client: NATS, event_store: EventStore, database_url: str
) -> None:
    g = await start_gateway(nats_client, event_store, database_url)
    try:
        await g.settle(await load_gt_mobile(g))
        # Withdrawing a body that never enrolled cannot be applied to the participant list.
        poison = await g.given(
            "enrolment_window",
            "ParticipantWithdrawn",
            {"tender_id": "gt-mc1", "organisation_code": "GM0772", "withdrawn_on": "2015-04-01"},
        )
        after = await g.given(
            "enrolment_window",
            "ParticipantWithdrawn",
            {"tender_id": "gt-mc1", "organisation_code": "GM0599", "withdrawn_on": "2015-04-02"},
        )
        await g.settle(poison + after)
        body = await g.query(
            """{ health { ok projections { name parkedEvents streams { stream lagEvents } }
                 parked { projection sequence eventType error } }
                 tender(tenderId: "gt-mc1") { participants { organisationCode status } } }""",
            token=g.token("coordinator"),
        )
        assert "errors" not in body, body
        health = body["data"]["health"]
        assert health["ok"] is False
        assert health["parked"] == [
            {
                "projection": EnrolmentProjection().key,
                "sequence": poison[0].seq,
                "eventType": "ParticipantWithdrawn",
                "error": "FoldError: ParticipantWithdrawn cannot apply to the enrolment window of"
                " tender gt-mc1: GM0772 is not enrolled",
            }
        ]
        parked_by = {p["name"]: p["parkedEvents"] for p in health["projections"]}
        assert parked_by["enrolment"] == 1
        assert parked_by["event_log"] == 0
        statuses = {
            p["organisationCode"]: p["status"] for p in body["data"]["tender"]["participants"]
        }
        assert statuses["GM0599"] == "WITHDRAWN"  # the event after the parked one was applied
        assert g.client is not None
        metrics = (await g.client.get("/metrics")).text
        enrolment = EnrolmentProjection().key
        assert f'gt_projection_parked_events{{projection="{enrolment}"}} 1.0' in metrics
        assert (
            f'gt_projection_lag_events{{projection="{enrolment}",stream="ENROLMENT"}} 0.0'
            in metrics
        )
    finally:
        await g.stop()


class TendersNext(TendersProjection):
    version = TendersProjection.version + 1


async def test_new_version_rebuilds_beside_the_live_one_and_takes_over(
    nats_client: NATS, event_store: EventStore, database_url: str
) -> None:
    g = await start_gateway(nats_client, event_store, database_url)
    try:
        await g.settle(await load_gt_mobile(g))
        assert g.read is not None
        assert g.read.tenders.key == TENDERS
        v2 = ProjectionRunner(nats_client, g.engine, TendersNext(), batch=1)
        g.read._by_type[TendersProjection] = v2  # the deployment ships the next version
        await v2.start()
        g.runners.append(v2)
        assert v2.live is False
        assert (
            g.read.tenders.key == TENDERS
        )  # readers stay on the live version while the next builds
        before = await g.query('{ tender(tenderId: "gt-mc1") { title phase } }')
        assert before["data"]["tender"]["phase"] == "PUBLISHED"
        deadline = asyncio.get_running_loop().time() + 120  # a bound against a hang
        while not v2.live:
            assert asyncio.get_running_loop().time() < deadline, "the next version never took over"
            await asyncio.sleep(0.05)
        assert g.read.tenders.key == TendersNext().key
        after = await g.query('{ tender(tenderId: "gt-mc1") { title phase } }')
        assert after == before
        status = await v2.status()
        assert status.caught_up
        assert status.version == TendersNext.version
    finally:
        await g.stop()
