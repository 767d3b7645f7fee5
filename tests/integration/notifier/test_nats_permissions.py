"""deploy/nats/accounts.conf on a real nats-server: a municipality reads its own and the public
events with the example consumer, and is refused another municipality's subjects."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from eventstore.testing.nats_server import NatsServer
from notifier.feed import INTEGRATION_STREAM
from notifier.nats_accounts import dev_environment, dev_password, render
from notifier.publisher import ensure_integration_stream, ensure_organisation_consumer

ROOT = Path(__file__).resolve().parents[3]
ACCOUNTS = ROOT / "deploy" / "nats" / "accounts.conf"


@pytest.fixture(scope="module")
def secured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    base = tmp_path_factory.mktemp("secured")
    shutil.copy(ACCOUNTS, base / "accounts.conf")
    config = base / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{base / "js"}" }}\ninclude ./accounts.conf\n')
    server = NatsServer(base, config_file=config, env=dev_environment()).start()
    yield server
    server.stop()


async def login(server: NatsServer, user: str, errors: list[str] | None = None) -> NATS:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(
        server.url,
        user=user,
        password=dev_password(user),
        inbox_prefix=f"_INBOX_{user}" if user.startswith("GM") else "_INBOX",
        error_cb=on_error,
        connect_timeout=3,
        max_reconnect_attempts=0,
    )


@pytest.fixture
async def published(secured_server: NatsServer) -> AsyncIterator[None]:
    nc = await login(secured_server, "notifier")
    await ensure_integration_stream(nc)
    for code in ("GM0363", "GM0599"):
        await ensure_organisation_consumer(nc, code)
    js = nc.jetstream()
    for subject, event_id in [
        ("gt.org.GM0363.nl.gt.contract.expiring.v1", "own"),
        ("gt.org.GM0599.nl.gt.contract.expiring.v1", "other"),
        ("gt.public.nl.gt.enrolment.opened.v1", "public"),
    ]:
        body = {"id": event_id, "type": subject.split(".", 3)[3], "data": {}}
        await js.publish(
            subject,
            json.dumps(body).encode(),
            stream=INTEGRATION_STREAM,
            headers={"Nats-Msg-Id": event_id},  # the fixture may run twice: stored once
        )
    yield None
    await nc.close()


def test_checked_in_accounts_file_is_the_rendered_one() -> None:
    assert ACCOUNTS.read_text() == render()


def test_accounts_file_holds_no_password_and_the_server_needs_them(tmp_path: Path) -> None:
    text = ACCOUNTS.read_text()
    passwords = re.findall(r"(?m)^\s*password:\s*(\S+)$", text)
    assert len(passwords) == len(dev_environment())
    assert all(re.fullmatch(r"\$GT_NATS_[A-Z0-9_]+_PASSWORD", p) for p in passwords), passwords
    assert "dev-" not in text
    # Without its environment the server refuses to start, naming the missing variable.
    shutil.copy(ACCOUNTS, tmp_path / "accounts.conf")
    config = tmp_path / "server.conf"
    config.write_text(f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\ninclude ./accounts.conf\n')
    missing = {k: v for k, v in dev_environment().items() if k != "GT_NATS_ORG_GM0363_PASSWORD"}
    with pytest.raises(RuntimeError, match="GT_NATS_ORG_GM0363_PASSWORD"):
        NatsServer(tmp_path, config_file=config, env=missing).start(timeout=5)


async def test_example_consumer_receives_own_and_public_events(
    secured_server: NatsServer, published: None
) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(ROOT / "examples" / "municipal_consumer.py"),
            "--url",
            secured_server.url,
            "--org",
            "GM0363",
            "--password",
            dev_password("GM0363"),
            "--max",
            "5",
            "--idle",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(line["id"] for line in lines) == ["own", "public"]


async def test_municipality_is_refused_another_municipality(
    secured_server: NatsServer, published: None
) -> None:
    errors: list[str] = []
    nc = await login(secured_server, "GM0363", errors)
    try:
        # Core subscription to another municipality's subject: refused by the server.
        await nc.subscribe("gt.org.GM0599.>")
        # Pulling from the other municipality's durable consumer: refused too.
        other = await nc.jetstream().pull_subscribe_bind(
            durable="org_GM0599", stream=INTEGRATION_STREAM
        )
        with pytest.raises(Exception):  # noqa: B017, PT011 - the request is dropped: times out
            await other.fetch(1, timeout=1)
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    joined = "\n".join(errors).lower()
    assert 'permissions violation for subscription to "gt.org.gm0599.>"' in joined
    assert "permissions violation for publish to" in joined
    assert "org_gm0599" in joined
