"""`audit projections rebuild` builds the gateway's read models in two processes, each into a
scratch file of its own, and cuts them over into the live database in one transaction.

Killed half way (while its group processes write their scratch files) the live database is
as it was and still answers; run again, it completes and the live read models are whole."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from bench.history.generator import generate
from bench.loader import load_history
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.projections import ALL, TendersProjection
from tests.integration.gateway.test_rebuild_equals_live import _rows, _tables


def _command(server: NatsServer, live: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bootstrap.audit_cli",
        "projections",
        "rebuild",
        "--nats-url",
        server.url,
        "--database-url",
        live,
    ]


def _env(tmp_path: Path) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return {
        **os.environ,
        "TMPDIR": str(scratch),  # where the rebuild's scratch files go
        "GT_DATA_DIR": str(tmp_path / "data"),  # no running system to find
        "GT_ENROLMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'enrolment.db'}",
        "GT_NOTIFIER_DATABASE_URL": f"sqlite:///{tmp_path / 'notifier.db'}",
    }


def _run(server: NatsServer, live: str, tmp_path: Path) -> str:
    done = subprocess.run(
        _command(server, live), env=_env(tmp_path), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.timeout(900)  # three whole rebuilds of every read model, each in new processes
async def test_a_rebuild_killed_half_way_leaves_the_live_database_and_a_rerun_completes(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    await load_history(nats_client, generate(seed=41, events=1_500))
    # The notifier's stream, which the generated history does not write (its read model's
    # rebuild reads it).
    await EventStore(nats_client, FixedClock(datetime(2026, 1, 1, tzinfo=UTC))).ensure_stream(
        NOTIFIER
    )
    live_url = f"sqlite:///{tmp_path / 'read-models.db'}"
    output = await asyncio.to_thread(_run, nats_server, live_url, tmp_path)
    assert "in two processes" in output
    for kind in ALL:
        assert f"{kind.name}: cut over at" in output, output
    metadata = _tables()
    live = make_engine(live_url)
    whole = _rows(live, metadata)
    assert sum(len(rows) for rows in whole.values()) > 2_000
    # A damaged live read model (its rows gone), for the rebuild to restore.
    tenders = f"{TendersProjection().key}_tenders"
    with live.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {tenders}")
    damaged = _rows(live, metadata)
    assert damaged != whole

    process = await asyncio.create_subprocess_exec(
        *_command(nats_server, live_url),
        env=_env(tmp_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    scratch = tmp_path / "tmp"
    # Half way: the group processes have created their scratch files and are writing them.
    while not list(scratch.glob("audit-green-*/group-1.db*")):
        assert process.returncode is None, "the rebuild ended before its groups were seen"
        await asyncio.sleep(0.005)
    assert process.returncode is None
    process.send_signal(signal.SIGKILL)
    await process.wait()

    assert _rows(live, metadata) == damaged  # untouched, and it answers
    with live.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {tenders}").scalar() == 0

    stale = list(scratch.glob("audit-green-*"))
    assert stale  # the killed rebuild could not remove its scratch files

    await asyncio.to_thread(_run, nats_server, live_url, tmp_path)
    assert _rows(live, metadata) == whole
    assert not any(path.exists() for path in stale)  # the re-run removed them
    live.dispose()


@pytest.mark.timeout(300)
async def test_a_rebuild_of_all_reads_a_stream_never_created_as_empty(
    nats_server: NatsServer, nats_client: NATS, tmp_path: Path
) -> None:
    """A stream never created has recorded nothing: a rebuild of a read model that reads it
    builds it empty. It failed with the direct get's 503 (this short history writes neither
    the notifier's stream nor the registry's)."""
    await load_history(nats_client, generate(seed=43, events=300))
    js = nats_client.jetstream()
    with pytest.raises(NotFoundError):
        await js.stream_info(NOTIFIER.stream)
    live_url = f"sqlite:///{tmp_path / 'read-models.db'}"
    output = await asyncio.to_thread(_run, nats_server, live_url, tmp_path)
    for kind in ALL:
        assert f"{kind.name}: cut over at" in output, output
    assert "notifier_schedule: cut over at" in output, output
