"""The municipal consumer example does what its flags say.

`--max N` ("stop after this many events") fetched 10 at a time and printed and acked all it
got: `--max 1` printed (and acked) 3 events on a feed of 3, so a bounded run took more than
asked. `--idle 0`, `--idle -1` and `--idle nan` ended in nats-py's traceback ("invalid fetch
timeout", "cannot convert float NaN to integer"); `--max 0` and `--max -1` ran and did nothing
without a word (correct20, seen against a `make run`). Now each bad value is refused by the
flag's parser, naming it (exit 2), before anything connects.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from tests.integration.test_consumer_example_errors import EXAMPLE
from tests.integration.test_consumer_example_errors import server as server


def run(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--url", url, "--org", "GM0363", "--password", "right",
         *flags],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--idle", "0"], "--idle"),
        (["--idle", "-1"], "--idle"),
        (["--idle", "nan"], "--idle"),
        (["--idle", "inf"], "--idle"),
        (["--max", "0"], "--max"),
        (["--max", "-1"], "--max"),
    ],
    ids=["idle-0", "idle-negative", "idle-nan", "idle-inf", "max-0", "max-negative"],
)
def test_a_bad_flag_is_named_before_connecting(flags: list[str], said: str) -> None:
    done = run("nats://127.0.0.1:1", *flags)  # nothing listens there: never reached
    assert done.returncode == 2, done
    assert said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "cannot connect" not in done.stderr, done.stderr


@pytest.fixture
def feed(server: str) -> str:
    """GM0363's consumer on an INTEGRATION stream holding three events."""

    async def given() -> None:
        nc = await nats.connect(server, user="GM0363", password="right")
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="INTEGRATION", subjects=["gt.>"]))
        await js.add_consumer(
            "INTEGRATION",
            ConsumerConfig(
                durable_name="org_GM0363",
                ack_policy=AckPolicy.EXPLICIT,
                filter_subjects=["gt.org.GM0363.>", "gt.public.>"],
            ),
        )
        for n in range(3):
            event = {"specversion": "1.0", "type": "nl.gt.test.v1", "id": f"e{n}", "data": {}}
            await js.publish("gt.org.GM0363.nl.gt.test.v1", json.dumps(event).encode())
        await nc.close()

    asyncio.run(given())
    return server


def ids(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done
    return [json.loads(line)["id"] for line in done.stdout.splitlines()]


def test_max_takes_that_many_events_and_leaves_the_rest_for_the_next_run(feed: str) -> None:
    assert ids(run(feed, "--max", "1", "--idle", "10")) == ["e0"]
    assert ids(run(feed, "--max", "1", "--idle", "10")) == ["e1"]
    assert ids(run(feed, "--max", "5", "--idle", "10")) == ["e2"]
