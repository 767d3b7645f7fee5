"""The freshness benchmark's load runs in a process of its own: it sends AmendContract to the
registry's command subjects until told to stop, and says what it sent."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from eventstore.testing.nats_server import NatsServer


async def test_the_load_process_sends_until_stopped_and_says_what_it_sent(
    nats_server: NatsServer, nats_client: NATS
) -> None:
    asked: list[dict[str, object]] = []
    four = asyncio.Event()

    async def registry(msg: Msg) -> None:  # a reply the load cannot read: counted as refused
        asked.append(json.loads(msg.data))
        if len(asked) >= 4:
            four.set()
        await msg.respond(b"not a reply")

    await nats_client.subscribe("registry.commands.>", cb=registry)
    await nats_client.flush()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.suites.freshness_load",
        nats_server.url,
        "50",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    contracts = [
        ["CT-1", datetime(2030, 1, 1, tzinfo=UTC).isoformat()],
        ["CT-2", "2030-01-02T00:00:00+00:00"],
    ]
    process.stdin.write(json.dumps(contracts).encode() + b"\n")
    await process.stdin.drain()
    assert await asyncio.wait_for(process.stdout.readline(), 30) == b"started\n"
    await asyncio.wait_for(four.wait(), 30)  # it sends on its own, round robin
    process.stdin.write(b"stop\n")
    await process.stdin.drain()
    out = await asyncio.wait_for(process.stdout.read(), 30)
    assert await process.wait() == 0
    said = json.loads(out.decode().strip().splitlines()[-1])
    assert said["sent"] >= 4
    assert len(said["rejected"]) == said["sent"]  # every one sent was answered, and refused
    assert said["seconds"] > 0
    ids = [str(a.get("command", a)) for a in asked]
    assert any("CT-1" in i for i in ids)
    assert any("CT-2" in i for i in ids)
