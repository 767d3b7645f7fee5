"""Backup and restore (issue 16): the operator's backup of a running system, restored into a
fresh three-node cluster, verifies and rebuilds the same read models.

The source is the embedded system's composition (every service, its projections, the gateway's
read models in PostgreSQL) with the demo history and a signed checkpoint of every stream.
`python -m bootstrap.serve backup create` snapshots its streams; `backup restore` recreates
them, three replicas each, in a fresh cluster from deploy/nats (as its operator user). There
`audit projections rebuild` builds every read model into empty databases, `audit verify`
passes (hash chains, signatures, checkpoints, projections against a rebuild) and every read
model table holds exactly the rows the source's live projections wrote.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlalchemy import Engine, MetaData, select
from typer.testing import CliRunner

from audit.wiring import database_variable
from bootstrap.audit_cli import audit_app
from bootstrap.read_models import ENROLMENT_DB, NOTIFIER_DB, READ_MODELS, READ_MODELS_DB
from bootstrap.serve import cli as serve_cli
from bootstrap.system import System
from contracts_schema.subjects import CONTEXTS
from eventstore.checkpoints import CHECKPOINT_STREAM, write_checkpoint
from eventstore.projection import checkpoints
from eventstore.signing import PUBLIC_KEYS_ENV, local_signer, trusted_keys
from eventstore.sql import make_engine
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from eventstore.testing.postgres import PostgresCluster
from gateway.settings import GatewaySettings
from tests.integration.deploy.cluster import NatsCluster, service_credentials
from tests.support.demo_system import caught_up, load_the_demo

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.jetstream]
cli = CliRunner()


def invoke(app: Any, args: list[str], env: dict[str, str]) -> str:
    result = cli.invoke(app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


async def run_source(data: Path, database_url: str) -> tuple[NatsServer, dict[str, int]]:
    """The system with the demo history, each stream anchored by a signed checkpoint; its
    projections stopped once caught up. Returns the running server and the stream heads."""
    broker = NatsServer(data / "jetstream").start()
    try:
        return broker, await _load_source(broker, data, database_url)
    except BaseException:
        broker.stop()  # not left running for as long as the worker lives
        raise


async def _load_source(broker: NatsServer, data: Path, database_url: str) -> dict[str, int]:
    nc = await nats.connect(broker.url)
    settings = GatewaySettings(database_url=database_url, jwt_secret="s" * 40)
    system = System(nc, data, settings)
    try:
        await system.start()
        await load_the_demo(nc)
        store = EventStore(nc, system.clock)
        for context in CONTEXTS.values():  # what each service's anchoring loop does
            await write_checkpoint(store, context, local_signer(data, context.name))
        heads = await caught_up(nc, system)
    finally:
        await system.stop()
        await nc.close()
    return heads


def table_contents(engine: Engine, database: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows (sorted) of every table of the database's read models, and their checkpoints."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for model in (m for m in READ_MODELS if m.database == database):
            projection = model()
            metadata = MetaData()
            projection.define(metadata)
            for table in metadata.sorted_tables:
                rows = conn.execute(select(table)).all()
                found[f"{projection.key}.{table.name}"] = sorted(map(tuple, rows), key=repr)
        c = checkpoints.c
        found["projection_checkpoints"] = sorted(
            map(tuple, conn.execute(select(c.projection, c.stream, c.seq)))
        )
    return found


def databases_of(base: Path, gateway_url: str) -> dict[str, str]:
    return {
        READ_MODELS_DB: gateway_url,
        ENROLMENT_DB: f"sqlite:///{base / 'enrolment.db'}",
        NOTIFIER_DB: f"sqlite:///{base / 'notifier.db'}",
    }


async def test_a_backup_restored_into_a_fresh_cluster_verifies_and_rebuilds_equal(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    source_dir, target_dir, backup_dir = tmp_path / "source", tmp_path / "target", tmp_path / "bk"
    source_db = postgres_cluster.create_database("backup_source")
    source, heads = await run_source(source_dir, source_db)
    try:
        # The operator's backup of the running source.
        output = await asyncio.to_thread(
            invoke, serve_cli, ["backup", "create", "--out", str(backup_dir)],
            {"GT_NATS_URL": source.url},
        )  # fmt: skip
    finally:
        source.stop()
    taken = {entry["stream"]: entry for entry in json.loads(output)}
    for stream, head in heads.items():
        assert taken[stream]["last_seq"] == head
    assert CHECKPOINT_STREAM in taken
    assert any(name.startswith("KV_processed-commands-") for name in taken)

    cluster = NatsCluster(target_dir / "nats").start()
    try:
        cluster.wait_healthy()
        operator = service_credentials()
        nats_env = {
            "GT_NATS_URL": cluster.url,
            "GT_NATS_USER": operator["user"],
            "GT_NATS_PASSWORD": operator["password"],
        }
        restore = ["backup", "restore", str(backup_dir), "--replicas", "3"]
        await asyncio.to_thread(invoke, serve_cli, restore, nats_env)
        # Restoring over existing streams is refused: a restore never merges into history.
        again = await asyncio.to_thread(cli.invoke, serve_cli, restore, env=nats_env)
        assert again.exit_code == 1
        assert "already exist" in again.output

        # Every read model built from the restored streams into empty databases.
        target_db = postgres_cluster.create_database("backup_target")
        target = databases_of(target_dir, target_db)
        audit_env = {
            **nats_env,
            "GT_DATABASE_URL": target_db,
            **{database_variable(d): target[d] for d in (ENROLMENT_DB, NOTIFIER_DB)},
            # The services' public keys, as the deployment configures them (docs/security.md).
            PUBLIC_KEYS_ENV: ",".join(
                f"{c}={k}" for c, ks in trusted_keys(source_dir).items() for k in ks
            ),
        }
        audit = audit_app()
        await asyncio.to_thread(invoke, audit, ["projections", "rebuild"], audit_env)
        verified = await asyncio.to_thread(invoke, audit, ["verify"], audit_env)
    finally:
        cluster.stop()

    assert verified.rstrip().endswith("verified"), verified
    for stream, head in heads.items():  # every event, signed, up to its checkpoint
        line = next(x for x in verified.splitlines() if x.startswith(f"stream {stream}:"))
        anchored = 1 if head else 0
        pattern = rf"stream {stream}: {head} events, \d+ aggregates, {head} signed, {anchored}"
        assert re.fullmatch(pattern + " checkpoints: ok", line), line
    for model in READ_MODELS:
        assert f"projection {model().key}:" in verified, verified

    original = databases_of(source_dir, source_db)
    for database in (READ_MODELS_DB, ENROLMENT_DB, NOTIFIER_DB):
        before, after = make_engine(original[database]), make_engine(target[database])
        try:
            expected = table_contents(before, database)
            rebuilt = table_contents(after, database)
        finally:
            before.dispose()
            after.dispose()
        tables = [rows for name, rows in expected.items() if name != "projection_checkpoints"]
        assert any(tables), database  # something to compare
        assert rebuilt == expected, database
