"""`make run` runs NATS with the deployment's permission model: the accounts file of
deploy/nats with passwords generated once per data directory, each part of the embedded system
logged in as its own user. A service credential is refused what it must not do, exactly as
on a deployed server (the helpers of tests/integration/deploy/test_nats_security.py), the audit
CLI finds the system and logs in as the auditor, and a municipality reads its feed through the
auth callout with the documented example consumer."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.errors import Error as NatsError
from typer.testing import CliRunner

from audit.wiring import resolve_settings
from bootstrap.audit_cli import audit_app
from bootstrap.demo import load_demo
from bootstrap.embedded import embedded
from bootstrap.nats_local import CREDENTIALS_FILE, local_credentials
from bootstrap.system import System
from contracts_schema.subjects import CONTEXTS, ENROLMENT, NOTIFIER, REGISTRY
from eventstore.clock import SystemClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from gateway.commandbus import CommandBus
from gateway.serve import Server
from notifier.feed import INTEGRATION_STREAM
from notifier.nats_accounts import OPERATOR_USER, USERS
from tests.integration.deploy.test_nats_security import ROOT, Client

pytestmark = [pytest.mark.jetstream, pytest.mark.asyncio(loop_scope="module")]
cli = CliRunner()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[System, Server, Path]]:
    data = tmp_path_factory.mktemp("embedded") / "data"
    async with embedded(data, port=0) as (system, server):
        refused: list[str] = []
        demo = await load_demo(CommandBus(system.nc), say=refused.append)
        assert refused == []
        assert system.read is not None
        await system.read.wait_for(demo.consistency_token, timeout=30)
        yield system, server, data


async def login(system: System, user: str) -> Client:
    assert system.logins is not None
    return await Client().connect(system.logins.url, user, system.logins.password(user))


async def test_the_local_passwords_are_generated_once_and_private(
    running: tuple[System, Server, Path],
) -> None:
    system, _server, data = running
    path = data / CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored["passwords"]) == set(USERS)
    assert len(set(stored["passwords"].values())) == len(USERS)  # one each, none shared
    assert local_credentials(data).passwords == stored["passwords"]  # kept, not replaced
    assert system.logins is not None
    # No anonymous login, no development password, no other user's password.
    for user, password in ((None, None), ("gateway", "dev-gateway-secret")):
        with pytest.raises(NatsError):
            await Client().connect(system.logins.url, user or "", password or "")
    with pytest.raises(NatsError):
        await Client().connect(system.logins.url, "gateway", stored["passwords"]["registry"])


async def test_each_part_is_logged_in_as_its_own_user(
    running: tuple[System, Server, Path],
) -> None:
    """The server's own list of the GT account's connections (account-scoped CONNZ)."""
    system, _server, _data = running
    operator = await login(system, OPERATOR_USER)
    try:
        request = json.dumps({"auth": True}).encode()
        reply = await operator.nc.request("$SYS.REQ.ACCOUNT.PING.CONNZ", request, timeout=5)
        connections = json.loads(reply.data)["data"]["connections"]
    finally:
        await operator.nc.close()
    users = [c.get("authorized_user") for c in connections]
    assert None not in users  # nobody anonymous
    # Each service: its own part and its command subscriber; the gateway: its part and the
    # connection driving the demo; the two projector processes (the gateway's read models,
    # the audit's history); the callout; the operator only as this test.
    for service in ("registry", "enrolment", "notifier"):
        assert users.count(service) == 2, users
    assert users.count("gateway") == 2, users
    assert users.count("projector") == 2, users
    assert users.count("auth") == 1, users
    assert users.count(OPERATOR_USER) == 1, users


@pytest.mark.parametrize(
    ("user", "forbidden"),
    [
        (
            "gateway",
            [
                f"$JS.API.STREAM.DELETE.{REGISTRY.stream}",
                f"$JS.API.STREAM.PURGE.{REGISTRY.stream}",
                f"$JS.API.STREAM.UPDATE.{ENROLMENT.stream}",
                f"$JS.API.STREAM.MSG.DELETE.{REGISTRY.stream}",
                "registry.events.contract.C1.ContractAmended",
                "enrolment.events.enrolment.E1.Forged",
                f"$JS.API.CONSUMER.DELETE.{INTEGRATION_STREAM}.org_GM0363",
                "checkpoints.registry",
            ],
        ),
        (
            "registry",
            [
                f"$JS.API.STREAM.DELETE.{REGISTRY.stream}",
                "enrolment.events.enrolment.E1.Forged",
                "notifier.events.warning.W1.Forged",
                "checkpoints.enrolment",
                "gt.org.GM0363.forged",
            ],
        ),
        (
            "enrolment",
            [f"$JS.API.STREAM.DELETE.{ENROLMENT.stream}", "registry.events.contract.C1.F"],
        ),
        (
            "notifier",
            [f"$JS.API.STREAM.DELETE.{INTEGRATION_STREAM}", "registry.events.contract.C1.F"],
        ),
        (
            "audit",
            ["registry.commands.RegisterTender", f"$JS.API.CONSUMER.CREATE.{REGISTRY.stream}"],
        ),
    ],
)
async def test_a_service_credential_is_refused_what_it_must_not_do(
    running: tuple[System, Server, Path], user: str, forbidden: list[str]
) -> None:
    system, _server, _data = running
    client = await login(system, user)
    try:
        for subject in forbidden:
            await client.refused(subject)
    finally:
        await client.nc.close()
    # Nothing was deleted or appended: the streams are there and end where they ended.
    store = EventStore(system.nc, SystemClock())
    for context in CONTEXTS.values():
        async for event in store.read_stream(context, 1):
            assert event.envelope.event_type != "Forged"
    assert await store.last_seq(REGISTRY) > 0


async def test_audit_verify_finds_the_embedded_system_and_logs_in_as_the_auditor(
    running: tuple[System, Server, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, _server, data = running
    for name in ("GT_NATS_URL", "GT_NATS_USER", "GT_NATS_PASSWORD", "GT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GT_DATA_DIR", str(data))
    settings = resolve_settings(None, None)
    assert system.logins is not None
    assert (settings.nats_url, settings.nats_user) == (system.logins.url, "audit")
    assert settings.nats_password == system.logins.password("audit")
    result = await asyncio.to_thread(cli.invoke, audit_app(), ["verify"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    for context in (REGISTRY, ENROLMENT, NOTIFIER):
        assert context.stream in result.output


async def test_a_municipality_reads_its_feed_through_the_callout(
    running: tuple[System, Server, Path],
) -> None:
    system, _server, _data = running
    assert system.logins is not None
    secret = system.logins.credentials.organisations["GM0363"]
    assert system.notifier is not None
    assert await system.notifier.publisher.wait_drained(30)
    command = [
        sys.executable,
        str(ROOT / "examples" / "municipal_consumer.py"),
        *("--url", system.logins.url, "--org", "GM0363", "--password", secret),
        *("--max", "100", "--idle", "1"),
    ]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    subjects = [json.loads(line)["subject"] for line in result.stdout.splitlines()]
    assert subjects, "the demo publishes events GM0363 may read"
    assert all(s.startswith(("gt.org.GM0363.", "gt.public.")) for s in subjects), subjects
    with pytest.raises(NatsError):  # a wrong secret is refused by the callout
        await Client().connect(system.logins.url, "GM0363", secret + "x")


async def test_a_data_directory_from_before_authentication_is_resumed(tmp_path: Path) -> None:
    """An earlier `make run` kept its streams in the server's global account; they move to GT."""
    data = tmp_path / "data"
    before = NatsServer(data / "jetstream").start()  # as `make run` started it until now
    try:
        nc = await nats.connect(before.url)
        await nc.jetstream().add_stream(name="EARLIER", subjects=["earlier.>"])
        await nc.jetstream().publish("earlier.x", b"kept")
        await nc.close()
    finally:
        before.stop()
    async with embedded(data, port=0) as (system, _server):
        operator = await login(system, OPERATOR_USER)
        try:
            message = await operator.nc.jetstream().get_msg("EARLIER", 1)
            assert message.data == b"kept"
        finally:
            await operator.nc.close()


async def test_audit_projections_rebuild_as_the_auditor_cuts_every_read_model_over(
    running: tuple[System, Server, Path], tmp_path: Path
) -> None:
    """README's `make audit ARGS="projections rebuild"` against a running system: the CLI
    logs in as the read-only auditor, which may not create consumers; the gateway's read
    models are rebuilt in two processes by direct gets, cut over, and nothing is refused.
    (Before: each group's runners retried consumers and announcements the auditor may not
    make: hundreds of permission violations and no end.)"""
    system, _server, data = running
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GT_NATS_URL", "GT_NATS_USER", "GT_NATS_PASSWORD", "GT_DATABASE_URL")
    }
    env.update(GT_DATA_DIR=str(data), TMPDIR=str(tmp_path))
    command = [sys.executable, "-m", "bootstrap.audit_cli", "projections", "rebuild"]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuilding in two processes" in done.stdout
    for key in ("contracts", "enrolment", "event_counts", "event_log", "organisations", "tenders"):
        assert f"{key}: cut over at" in done.stdout, done.stdout
    assert "permissions violation" not in done.stderr, done.stderr[-2000:]
    # The live read models answer and stand where the streams end.
    store = EventStore(system.nc, SystemClock())
    head = await store.last_seq(REGISTRY)
    assert system.read is not None
    await system.read.reach_present(timeout=30)
    assert head > 0
