"""The freshness suite's background load, in a process of its own.

`python -m bench.suites.freshness_load NATS_URL PER_SECOND` reads the contracts to amend from
stdin (one JSON line: `[[contract_id, iso instant], ...]`), prints `started` once connected,
sends `AmendContract` to the registry at PER_SECOND commands a second (round robin over the
contracts) until a line `stop` (or the end of stdin) comes, waits for the commands in flight
and prints one JSON line: the reasons of the commands that were rejected, timed out or shed
(`rejected`), how many it sent (`sent`) in how many seconds (`seconds`).

Why a process: the probe measures how soon a reader sees a write; run on the probe's event
loop, the load's 100 sends a second (building, serialising, awaiting each reply) and their
garbage took turns on the loop that reads the probe's answers, and the bench measured itself.
A client of the system is not the system's load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from datetime import datetime
from typing import Any

import nats
from nats.aio.client import Client as NATS

from contracts_schema.registry import commands as cmd
from contracts_schema.subjects import REGISTRY
from eventstore.serving import send_command

MAX_IN_FLIGHT = 64


async def background(
    client: NATS, contracts: list[tuple[str, datetime]], per_second: int, stop: asyncio.Event
) -> tuple[list[str], int, float]:
    """Send at `per_second` until `stop`: the reasons of what was not accepted, how many
    commands were sent and in how many seconds."""
    rejected: list[str] = []
    pending: set[asyncio.Task[Any]] = set()
    k = 0

    async def one(contract_id: str, on: datetime) -> None:
        try:
            await send_one(contract_id, on)
        except Exception as exc:  # a timed-out load command is a figure, not a crash
            rejected.append(type(exc).__name__)

    async def send_one(contract_id: str, on: datetime) -> None:
        command = cmd.AmendContract(
            command_id=f"load-{uuid.uuid4().hex}",
            contract_id=contract_id,
            summary="background indexation",
            occurred_at=on,
        )
        reply = await send_command(client, REGISTRY, command, actor="bench")
        if reply.status != "accepted":
            rejected.append(reply.code)

    loop = asyncio.get_running_loop()
    started = loop.time()
    while not stop.is_set():
        contract_id, on = contracts[k % len(contracts)]
        k += 1
        if len(pending) >= MAX_IN_FLIGHT:
            # The system is not keeping up: shed load rather than pile up retries (bounded run).
            rejected.append("SHED")
        else:
            task = asyncio.create_task(one(contract_id, on))
            pending.add(task)
            task.add_done_callback(pending.discard)
        # Paced by the clock, not by sleeps added up: a late wake-up is made good.
        delay = started + k / per_second - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    seconds = loop.time() - started
    await asyncio.gather(*pending, return_exceptions=True)
    return rejected, k, seconds


async def _stop_on_input(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "stop":
            stop.set()
            return


async def main(url: str, per_second: int) -> None:
    contracts = [
        (contract_id, datetime.fromisoformat(on))
        for contract_id, on in json.loads(sys.stdin.readline())
    ]
    if not contracts:
        raise SystemExit("no contracts to amend")
    client = await nats.connect(url, max_reconnect_attempts=-1, connect_timeout=5)
    try:
        stop = asyncio.Event()
        watcher = asyncio.create_task(_stop_on_input(stop))
        print("started", flush=True)
        rejected, sent, seconds = await background(client, contracts, per_second, stop)
        await watcher
    finally:
        await client.close()
    print(json.dumps({"rejected": rejected, "sent": sent, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m bench.suites.freshness_load NATS_URL PER_SECOND")
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
