"""correct23: `python -m bootstrap.serve notifier webhook-secret <id>` hands out secrets only of
subscriptions that exist, and finds `make run`'s key.

Before: the secret is derived from the id alone, so any id got one: `Sub-1` for the
subscription `sub-1` (ids are case-sensitive), an id never subscribed, or a database that is
not the notifier's (a typo in GT_DATABASE_URL) -- exit 0, a secret no delivery is signed
with, and the organisation then refuses every delivery's signature. Without
GT_WEBHOOK_MASTER_KEY (as under `make run`, whose key is in <data>/webhook-master-key) the
command ended in a traceback.

A real notifier on real NATS records the subscription through its command; the CLI reads the
notifier's SQLite database as an operator's shell would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.notifier.commands import SubscribeWebhook
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import NOTIFIER
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from notifier.signing import subscription_secret
from tests.integration.notifier.facts import notifier

KEY = "test-master-key-0123456789"
BOUND = 120  # seconds: bounds a hang, not a speed


@pytest.fixture
async def notifier_database(nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'notifier.db'}"
    service = notifier(nats_client, fixed_clock, url, webhook_master_key=KEY)
    await service.start(publish=False, webhooks=False)
    try:
        reply = await send_command(
            nats_client,
            NOTIFIER,
            SubscribeWebhook(
                command_id="c23-sub",
                subscription_id="sub-1",
                organisation_code="GM0363",
                url="https://example.org/hook",
            ),
        )
        assert isinstance(reply, CommandAccepted), reply
        await service.ticker.catch_up()  # the subscription is in the notifier's tables
    finally:
        await service.stop()
    return url


def _secret(tmp_path: Path, subscription_id: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    clean["GT_DATA_DIR"] = str(tmp_path / "no-data")
    return subprocess.run(
        [sys.executable, "-m", "bootstrap.serve", "notifier", "webhook-secret", subscription_id],
        cwd=tmp_path,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=BOUND,
    )


async def test_a_subscription_held_gets_its_secret(notifier_database: str, tmp_path: Path) -> None:
    done = _secret(tmp_path, "sub-1", GT_DATABASE_URL=notifier_database, GT_WEBHOOK_MASTER_KEY=KEY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == subscription_secret(KEY, "sub-1")


@pytest.mark.parametrize("asked", ["Sub-1", "sub-2", "sub-1 "])
async def test_an_id_not_subscribed_gets_no_secret(
    notifier_database: str, tmp_path: Path, asked: str
) -> None:
    done = _secret(tmp_path, asked, GT_DATABASE_URL=notifier_database, GT_WEBHOOK_MASTER_KEY=KEY)
    assert done.returncode == 1, done.stdout
    assert done.stdout == ""  # no secret printed
    assert f"no webhook subscription {asked!r}" in done.stderr, done.stderr
    assert "active: sub-1" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


async def test_a_database_that_is_not_there_is_named_not_made(
    notifier_database: str, tmp_path: Path
) -> None:
    typo = tmp_path / "notifer.db"
    done = _secret(
        tmp_path, "sub-1", GT_DATABASE_URL=f"sqlite:///{typo}", GT_WEBHOOK_MASTER_KEY=KEY
    )
    assert done.returncode == 1, done.stdout
    assert done.stdout == ""
    assert f"the notifier's database {typo} does not exist" in done.stderr, done.stderr
    assert not typo.exists()


async def test_make_runs_key_is_found_in_the_data_directory(
    notifier_database: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "webhook-master-key").write_text(KEY + "\n")
    done = _secret(tmp_path, "sub-1", GT_DATABASE_URL=notifier_database, GT_DATA_DIR=str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == subscription_secret(KEY, "sub-1")


async def test_no_key_anywhere_is_one_line(notifier_database: str, tmp_path: Path) -> None:
    done = _secret(tmp_path, "sub-1", GT_DATABASE_URL=notifier_database)
    assert done.returncode == 2, done.stdout
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("bad configuration: GT_WEBHOOK_MASTER_KEY is not set"), lines
