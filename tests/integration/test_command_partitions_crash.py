"""A service process killed outright (SIGKILL: no goodbye, no drain) in mid-stream.

Its partitions go unserved until the survivor stops hearing its heartbeats; senders meet no
responder there and fall back to the unpartitioned subject, and a command the dead process
took but never answered is sent again by its client with the same command id (what any
client of the commands does after a timeout). Every command then lands exactly once, each
aggregate's in the order sent, and the survivor ends up owning every partition.

The command the dead process took is made to happen: the process is first stopped
(SIGSTOP), commands are sent on its partitions, and once the server's monitoring shows them
delivered to it (taken, never to be answered) it is killed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from collections import Counter
from pathlib import Path
from subprocess import Popen

from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError

from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import command_partition
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.fixtures import connect
from eventstore.testing.nats_server import NatsServer, free_port
from tests.support.ledger import LEDGER, RecordEntries
from tests.support.partitions import (
    assert_landed_in_order,
    ledger_processes,
    send_rounds,
    served_partitions,
    serves_all,
    split_in_two,
    until,
)

LEDGERS_EACH = 3  # ledgers on the stopped process's partitions, and as many on the other's
ROUNDS = 16
ATTEMPTS = 8  # a bound: a command the dead process took is answered by a later attempt


def delivered(monitor_port: int, cid: int | None = None) -> dict[tuple[int, str], int]:
    """Messages the server delivered on each (connection, command subscription), from its
    monitoring (`/connz`)."""
    url = f"http://127.0.0.1:{monitor_port}/connz?subs=detail"
    with urllib.request.urlopen(url, timeout=5) as response:
        connections = json.load(response)["connections"]
    return {
        (c["cid"], s["subject"]): s["msgs"]
        for c in connections
        if cid is None or c["cid"] == cid
        for s in c.get("subscriptions_list_detail", [])
        if s["subject"].startswith(f"{LEDGER.name}.commands.")
    }


async def test_a_killed_process_loses_no_command_and_duplicates_none(
    fixed_clock: FixedClock, tmp_path: Path
) -> None:
    monitor = free_port()
    server = NatsServer(tmp_path / "jetstream", extra_args=["-m", str(monitor)]).start()
    logs = [tmp_path / "ledger-a.log", tmp_path / "ledger-b.log"]
    try:
        nc = await connect(server.url)
        try:
            with ledger_processes(server.url, logs, [free_port(), free_port()]) as processes:
                await until(lambda: split_in_two(logs), "the two processes did not split", logs)
                await crash_midway(nc, fixed_clock, logs, processes, monitor)
        finally:
            await nc.close()
    finally:
        server.stop()


async def crash_midway(
    nc: NATS, clock: FixedClock, logs: list[Path], processes: list[Popen[bytes]], monitor: int
) -> None:
    # Ledgers on partitions of their own that the first process serves (their commands go
    # to it), and as many served by the other one.
    first_serves = served_partitions(logs[0])[-1]
    held: dict[int, str] = {}
    others = []
    for ledger_id in (f"kill-{k}" for k in range(200)):
        partition = command_partition(ledger_id)
        if partition in first_serves and len(held) < LEDGERS_EACH:
            held.setdefault(partition, ledger_id)
        elif partition not in first_serves and len(others) < LEDGERS_EACH:
            others.append(ledger_id)
    assert len(held) == len(others) == LEDGERS_EACH
    ledger_ids = [*held.values(), *others]
    held_subjects = {LEDGER.partition_subjects(p) for p in held}
    first_subjects = {LEDGER.partition_subjects(p) for p in first_serves}

    def first_connection() -> int | None:
        """The first process's connection, once it alone is subscribed to its partitions
        (the other one's handover of them drained)."""
        subscribed: dict[int, set[str]] = {}
        for cid, subject in delivered(monitor):
            subscribed.setdefault(cid, set()).add(subject)
        holding = [cid for cid, subjects in subscribed.items() if subjects & first_subjects]
        if len(holding) == 1 and first_subjects <= subscribed[holding[0]]:
            return holding[0]
        return None

    await until(lambda: first_connection() is not None, "the handover did not end", logs)
    first_cid = first_connection()
    assert first_cid is not None
    middle = [f"{ledger_id}-{ROUNDS // 2}" for ledger_id in held.values()]
    resends: Counter[str] = Counter()

    async def send_until_answered(command: RecordEntries) -> CommandAccepted | CommandRejected:
        for _ in range(ATTEMPTS):
            try:
                return await send_command(nc, LEDGER, command, timeout=5)
            except (TimeoutError, NatsTimeoutError):
                resends[command.command_id] += 1  # taken, never answered: send it again
        raise AssertionError(f"{command.command_id} was never answered")

    arrived = 0
    before: dict[tuple[int, str], int] = {}
    stopped = asyncio.Event()

    async def stop_the_first_process() -> None:
        """Every ledger waits here with its first half answered (no command under way); the
        last to arrive stops the first process, then all go on."""
        nonlocal arrived, before
        arrived += 1
        if arrived == len(ledger_ids):
            before = await asyncio.to_thread(delivered, monitor, first_cid)
            processes[0].send_signal(signal.SIGSTOP)
            stopped.set()
        await stopped.wait()

    def taken_by_the_stopped_process() -> bool:
        now = delivered(monitor, first_cid)
        return all(now[(first_cid, s)] > before[(first_cid, s)] for s in held_subjects)

    sending = asyncio.ensure_future(
        send_rounds(ledger_ids, ROUNDS, send_until_answered, stop_the_first_process)
    )
    await stopped.wait()
    # The middle commands of the held ledgers are delivered to the stopped process (the
    # only subscriber of their partitions): taken, and never to be answered.
    await until(taken_by_the_stopped_process, "the stopped process was sent nothing", logs)
    processes[0].send_signal(signal.SIGKILL)
    not_accepted = await sending
    assert processes[0].wait(timeout=30) == -signal.SIGKILL
    assert not_accepted == []
    assert all(resends[c] >= 1 for c in middle), (resends, middle)  # sent again, answered
    await until(lambda: serves_all(logs[1]), "the survivor did not take every partition", logs)
    await assert_landed_in_order(nc, clock, ledger_ids, ROUNDS)
