"""A service process killed outright (SIGKILL: no goodbye, no drain) in mid-stream.

Its partitions go unserved until the survivor stops hearing its heartbeats; senders meet no
responder there and fall back to the unpartitioned subject, and a command the dead process
took but never answered is sent again by its client with the same command id (what any
client of the commands does after a timeout). Every command then lands exactly once, each
aggregate's in the order sent, and the survivor ends up owning every partition.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError

from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import COMMAND_PARTITIONS
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer, free_port
from tests.integration.test_command_partitions import ledger_processes, served_partitions, until
from tests.support.ledger import LEDGER, RecordEntries

LEDGERS = 6
ROUNDS = 16
ATTEMPTS = 8  # a bound: a command the dead process took is answered by the next attempt


async def send_until_answered(
    nc: NATS, command: RecordEntries
) -> CommandAccepted | CommandRejected:
    for _ in range(ATTEMPTS):
        try:
            return await send_command(nc, LEDGER, command, timeout=5)
        except (TimeoutError, NatsTimeoutError):
            continue  # taken by the killed process, never answered: send it again
    raise AssertionError(f"{command.command_id} was never answered")


async def test_a_killed_process_loses_no_command_and_duplicates_none(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    logs = [tmp_path / "ledger-a.log", tmp_path / "ledger-b.log"]
    with ledger_processes(nats_server.url, logs, [free_port(), free_port()]) as processes:

        def split() -> bool:
            last = [served_partitions(log)[-1:] for log in logs]
            return all(last) and all(len(s[0]) == COMMAND_PARTITIONS // 2 for s in last)

        await until(split, "the two processes did not split the partitions", logs)
        halfway = asyncio.Event()

        async def one_ledger(n: int) -> list[str]:
            outcomes = []
            for i in range(ROUNDS):
                if i == ROUNDS // 2:
                    halfway.set()
                command = RecordEntries(
                    command_id=f"kill-{n}-{i}", ledger_id=f"kill-{n}", amounts=[i + 1]
                )
                reply = await send_until_answered(nats_client, command)
                outcomes.append("accepted" if isinstance(reply, CommandAccepted) else reply.code)
            return outcomes

        sending = asyncio.gather(*(one_ledger(n) for n in range(LEDGERS)))
        await halfway.wait()
        processes[0].send_signal(signal.SIGKILL)
        outcomes = await sending
        assert processes[0].wait(timeout=30) == -signal.SIGKILL
        assert [o for run in outcomes for o in run if o != "accepted"] == []

        def took_over() -> bool:
            last = served_partitions(logs[1])[-1:]
            return bool(last) and len(last[0]) == COMMAND_PARTITIONS

        await until(took_over, "the survivor did not take every partition", logs)
        store = EventStore(nats_client, fixed_clock)
        for n in range(LEDGERS):
            loaded = await store.load(LEDGER, "ledger", f"kill-{n}")
            amounts = [e.envelope.payload["amount"] for e in loaded.events]
            assert amounts == list(range(1, ROUNDS + 1)), (n, amounts)
