"""Projections survive their own sudden death and their database's restart.

Both must end equal to a clean rebuild, with nothing applied twice (the read model keys each
event by id and sums amounts, so a double application would show) and nothing parked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from sqlalchemy import select as sql_select

from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.projection import ProjectionRunner, checkpoints
from eventstore.service_app import serve_in_process, server_url
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from eventstore.testing.postgres import PostgresCluster
from tests.integration.deploy.ledger_projection import LedgerTotals, snapshot
from tests.integration.deploy.load import expected_balances, ledger_commands, run_load
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES, RecordEntries

ROOT = Path(__file__).resolve().parents[3]
CLOCK = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))


async def record(nc: NATS, commands: list[RecordEntries]) -> None:
    server = await serve_in_process(
        server_url(nc), [CommandService(LEDGER, EventStore(nc, CLOCK), CLOCK, ROUTES, EVENT_TYPES)]
    )
    try:
        await run_load(nc, commands, concurrency=8, timeout=60)
    finally:
        await server.stop()


async def rebuild(nc: NATS, url: str, last: int) -> dict[str, object]:
    engine = make_engine(url)
    runner = ProjectionRunner(nc, engine, LedgerTotals(), batch=500)
    await runner.start()
    try:
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    finally:
        await runner.stop()
    return snapshot(engine)


def committed_checkpoint(url: str) -> int:
    with make_engine(url).connect() as conn:
        value = conn.execute(sql_select(checkpoints.c.seq)).scalar_one_or_none()
    return int(value or 0)


async def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The worker's next line ('' once it exited). A plain blocking readline in a thread: a
    select() on the pipe missed lines already read ahead into the file's buffer."""
    assert process.stdout is not None
    return (await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)).strip()


def start_worker(nats_url: str, db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.deploy.projection_worker", nats_url, db_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_runner_sigkilled_mid_batch_converges_to_a_clean_rebuild(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    commands = ledger_commands("k", 100)
    await record(nats_client, commands)
    last = await EventStore(nats_client, CLOCK).last_seq(LEDGER)
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    worker = start_worker(nats_server.url, live_url)
    try:
        # The worker committed a batch and stops inside the next one's transaction (see
        # projection_worker): the kill lands there however fast or slow the machine is.
        deadline = time.monotonic() + 120
        while not (line := await read_line(worker, 120)).startswith("holding "):
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker never got mid-batch"
        committed, applying = map(int, line.split()[1:])
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    killed_at = committed_checkpoint(live_url)
    assert 0 < killed_at == committed < applying < last  # the open batch died uncommitted
    # A new process takes over from the SQL checkpoint.
    engine = make_engine(live_url)
    runner = ProjectionRunner(nats_client, engine, LedgerTotals(), batch=25)
    await runner.start()
    try:
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
    finally:
        await runner.stop()
    live = snapshot(engine)
    assert live == await rebuild(nats_client, f"sqlite:///{tmp_path / 'rebuild.db'}", last)
    assert live["parked"] == []
    assert {r[0]: (r[1], r[2]) for r in live["balances"]} == expected_balances(commands)  # type: ignore[attr-defined]


@pytest.mark.postgres
async def test_postgres_restarted_under_projection_load_converges(
    nats_client: NATS, postgres_cluster: PostgresCluster, postgres_url: str, tmp_path: Path
) -> None:
    first = ledger_commands("pg", 150)
    await record(nats_client, first)
    engine = make_engine(postgres_url)
    runner = ProjectionRunner(nats_client, engine, LedgerTotals(delay=0.002), batch=20)
    await runner.start()
    try:
        deadline = time.monotonic() + 120
        while runner.positions.get(LEDGER.stream, 0) < 60:
            assert time.monotonic() < deadline, "projection did not start"
            await asyncio.sleep(0.02)
        # The database goes away and comes back while batches are being applied.
        await asyncio.to_thread(postgres_cluster.restart)
        second = ledger_commands("pg2", 50)
        await record(nats_client, second)
        last = await EventStore(nats_client, CLOCK).last_seq(LEDGER)
        started = time.monotonic()
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        recovery = time.monotonic() - started
    finally:
        await runner.stop()
    live = snapshot(engine)
    assert live == await rebuild(nats_client, f"sqlite:///{tmp_path / 'rebuild.db'}", last)
    assert live["parked"] == []
    assert {r[0]: (r[1], r[2]) for r in live["balances"]} == expected_balances([*first, *second])  # type: ignore[attr-defined]
    print(f"\npostgres restart: caught up {recovery:.1f}s after the last write")


def test_rows_and_checkpoint_commit_together_or_not_at_all(database_url: str) -> None:
    # The runner applies each event inside a SAVEPOINT; on SQLite (pysqlite) that once
    # committed the event's rows on their own, so a crash before the checkpoint replayed them.
    from sqlalchemy import text

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE crash_probe (x int)"))

    def apply_then_crash() -> None:
        with engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM crash_probe")).scalar()
            with conn.begin_nested():
                conn.execute(text("INSERT INTO crash_probe VALUES (1)"))
            raise RuntimeError("the process dies before the checkpoint is written")

    with pytest.raises(RuntimeError):
        apply_then_crash()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM crash_probe")).scalar() == 0
