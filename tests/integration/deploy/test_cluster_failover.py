"""The deploy/ three-node JetStream cluster, on loopback, loses nothing when a leader dies.

Two instances of a service (the shared FastStream entry point, queue group) and a projection
runner work against the cluster under a bounded command load; the LEDGER stream's leader is
SIGKILLed mid-load and restarted later. Every acknowledged command's events must be in the
stream exactly once, the services must keep accepting commands, and the projection must equal
a clean rebuild.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig

from contracts_schema.replies import CommandAccepted
from eventstore.clock import FixedClock
from eventstore.commands import CommandService
from eventstore.observability import ObservabilitySettings
from eventstore.processed import processed_bucket
from eventstore.projection import ProjectionRunner
from eventstore.service_app import build_service_app
from eventstore.serving import send_command
from eventstore.settings import NatsSettings
from eventstore.sql import make_engine
from eventstore.store import EventStore
from tests.integration.deploy.cluster import (
    NatsCluster,
    service_credentials,
    stream_leader,
)
from tests.integration.deploy.ledger_projection import LedgerTotals, describe_difference, snapshot
from tests.integration.deploy.load import (
    assert_exactly_once,
    expected_balances,
    ledger_commands,
    run_load,
)
from tests.support.ledger import EVENT_TYPES, LEDGER, ROUTES

pytestmark = pytest.mark.slow
CLOCK = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
COMMANDS = 150


@pytest.fixture
def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    cluster = NatsCluster(tmp_path / "cluster").start()
    try:  # stopped also when it never became healthy
        cluster.wait_healthy()
        yield cluster
    finally:
        cluster.stop()


async def connect(cluster: NatsCluster) -> NATS:
    return await nats.connect(
        cluster.urls,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=2,
        **service_credentials(),
    )


async def make_ledger(store: EventStore, nc: NATS, _clock: object) -> CommandService:
    return CommandService(LEDGER, store, CLOCK, ROUTES, EVENT_TYPES)


async def wait_replicas_current(nc: NATS, stream: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = await nc.jetstream().stream_info(stream)
        replicas = (info.cluster.replicas or []) if info.cluster else []
        if len(replicas) == 2 and all(r.current and not r.offline for r in replicas):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stream} replicas not current: {replicas}")
        await asyncio.sleep(0.2)


async def test_stream_leader_killed_mid_load_loses_nothing(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    # The cluster runs with deploy/nats/accounts.conf: no anonymous clients.
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        # (the server asks the auth callout first, none runs here: it refuses after a wait)
        await nats.connect(cluster.urls[0], allow_reconnect=False, connect_timeout=10)
    nc = await connect(cluster)
    # Provisioning, as for the deployment: the processed-command record must survive a node too.
    await nc.jetstream().create_key_value(
        KeyValueConfig(bucket=processed_bucket(LEDGER), history=1, replicas=3)
    )
    creds = service_credentials()
    settings = NatsSettings(
        nats_url=cluster.url,
        stream_replicas=3,
        nats_user=creds["user"],
        nats_password=creds["password"],
    )
    apps = [
        build_service_app(
            "ledger", make_ledger, settings, CLOCK, ObservabilitySettings(metrics_port=-1)
        )[0]
        for _ in range(2)
    ]
    for app in apps:
        await app.start()
    info = await nc.jetstream().stream_info(LEDGER.stream)
    assert info.config.num_replicas == 3
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    runner = ProjectionRunner(nc, engine, LedgerTotals(), batch=50)
    await runner.start()
    faults: dict[str, str] = {}

    async def inject_faults(acknowledged: int) -> None:
        # Workers call this concurrently: claim each fault before awaiting anything, or two
        # of them would each kill a (different) leader and the stream would lose its quorum.
        if acknowledged >= COMMANDS // 3 and "killed" not in faults:
            faults["killed"] = ""
            faults["killed"] = await stream_leader(nc, LEDGER.stream)
            cluster.servers[faults["killed"]].kill()
        elif (
            acknowledged >= 2 * COMMANDS // 3 and faults.get("killed") and "restarted" not in faults
        ):
            faults["restarted"] = faults["killed"]
            await asyncio.to_thread(cluster.servers[faults["killed"]].start)

    commands = ledger_commands("fo", COMMANDS)
    try:
        started = time.monotonic()
        result = await run_load(nc, commands, on_acknowledged=inject_faults, timeout=90)
        elapsed = time.monotonic() - started
        assert faults["killed"] == faults["restarted"]
        # After the failover the services answer at once, without client retries.
        after = ledger_commands("after", 10)
        for command in after:
            reply = await send_command(nc, LEDGER, command, timeout=30)
            assert isinstance(reply, CommandAccepted), reply
        await wait_replicas_current(nc, LEDGER.stream)
        store = EventStore(nc, CLOCK)
        events = [e async for e in store.read_stream(LEDGER)]
        assert_exactly_once(events, [*commands, *after])
        assert len(events) == 2 * (COMMANDS + len(after))
        last = await store.last_seq(LEDGER)
        assert await runner.wait_until({LEDGER.stream: last}, timeout=120)
        live = snapshot(engine)
        rebuild_engine = make_engine(f"sqlite:///{tmp_path / 'rebuild.db'}")
        rebuild = ProjectionRunner(nc, rebuild_engine, LedgerTotals(), batch=500)
        await rebuild.start()
        assert await rebuild.wait_until({LEDGER.stream: last}, timeout=120)
        await rebuild.stop()
        rebuilt = snapshot(rebuild_engine)
        assert live == rebuilt, describe_difference(live, rebuilt)
        assert live["parked"] == []
        balances = {row[0]: (row[1], row[2]) for row in live["balances"]}  # type: ignore[attr-defined]
        assert balances == expected_balances([*commands, *after])
        print(
            f"\nfailover: {COMMANDS} commands in {elapsed:.1f}s, killed leader {faults['killed']},"
            f" client retries {dict(result.retries)},"
            f" max latency {max(result.latencies):.2f}s, projection delivery gaps"
            f" {runner.delivery_gaps}"
        )
    finally:
        await runner.stop()
        for app in apps:
            await app.stop()
        await nc.close()
