"""What the partitioned-commands tests share: two ledger service processes of their own, the
partitions each logs it serves, and commands sent on several ledgers at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from nats.aio.client import Client as NATS

from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import COMMAND_PARTITIONS
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from tests.support.ledger import LEDGER, RecordEntries

ROOT = Path(__file__).resolve().parents[2]

Send = Callable[[RecordEntries], Awaitable[CommandAccepted | CommandRejected]]


@contextmanager
def ledger_processes(
    url: str, logs: list[Path], metrics_ports: list[int]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env["GT_METRICS_HOST"] = "127.0.0.1"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.ledger_process", url],
            cwd=ROOT,
            env={**env, "GT_METRICS_PORT": str(port)},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log, port in zip(logs, metrics_ports, strict=True)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()  # a stopped (SIGSTOP) process is killed too
            process.wait(timeout=30)


def served_partitions(log: Path) -> list[set[int]]:
    """Every set of partitions the process logged it serves, in order."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if "serves partitions" in line:
            listed = line.rsplit("serves partitions ", 1)[1].strip()
            found.append({int(p) for p in listed.split(",") if p})
    return found


def split_in_two(logs: list[Path]) -> bool:
    """Both processes last logged half of the partitions each."""
    last = [served_partitions(log)[-1:] for log in logs]
    return all(last) and all(len(s[0]) == COMMAND_PARTITIONS // 2 for s in last)


def serves_all(log: Path) -> bool:
    """The process last logged that it serves every partition."""
    last = served_partitions(log)[-1:]
    return bool(last) and len(last[0]) == COMMAND_PARTITIONS


async def until(condition: Callable[[], bool], what: str, logs: list[Path]) -> None:
    """Wait for a state the processes reach by themselves (not a timing assertion: the
    bound only turns a hang into a failure that shows the logs)."""
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}; logs: " + "\n".join(log.read_text()[-1500:] for log in logs))


async def send_rounds(
    ledger_ids: Sequence[str], rounds: int, send: Send, halfway: Callable[[], Awaitable[None]]
) -> list[str]:
    """Each ledger's `rounds` commands (amounts 1..rounds) sent in order by `send`, the ledgers
    at once; each ledger awaits `halfway` before its middle command. Returns the outcomes
    other than accepted."""

    async def one_ledger(ledger_id: str) -> list[str]:
        outcomes = []
        for i in range(rounds):
            if i == rounds // 2:
                await halfway()
            command = RecordEntries(
                command_id=f"{ledger_id}-{i}", ledger_id=ledger_id, amounts=[i + 1]
            )
            reply = await send(command)
            outcomes.append("accepted" if isinstance(reply, CommandAccepted) else reply.code)
        return outcomes

    runs = await asyncio.gather(*(one_ledger(ledger_id) for ledger_id in ledger_ids))
    return [outcome for run in runs for outcome in run if outcome != "accepted"]


async def assert_landed_in_order(
    nc: NATS, clock: FixedClock, ledger_ids: Sequence[str], rounds: int
) -> None:
    """Every ledger holds each of its commands' entries exactly once, in the order sent."""
    store = EventStore(nc, clock)
    for ledger_id in ledger_ids:
        loaded = await store.load(LEDGER, "ledger", ledger_id)
        amounts = [e.envelope.payload["amount"] for e in loaded.events]
        assert amounts == list(range(1, rounds + 1)), (ledger_id, amounts)
