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
from collections import Counter
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError

from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.serving import send_command
from eventstore.testing.nats_server import NatsServer, free_port
from tests.support.ledger import LEDGER, RecordEntries
from tests.support.partitions import (
    assert_landed_in_order,
    ledger_processes,
    send_rounds,
    serves_all,
    split_in_two,
    until,
)

LEDGERS = 6
ROUNDS = 16
ATTEMPTS = 8  # a bound: a command the dead process took is answered by a later attempt


async def test_a_killed_process_loses_no_command_and_duplicates_none(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    logs = [tmp_path / "ledger-a.log", tmp_path / "ledger-b.log"]
    with ledger_processes(nats_server.url, logs, [free_port(), free_port()]) as processes:
        await until(lambda: split_in_two(logs), "the two processes did not split them", logs)
        ledger_ids = [f"kill-{n}" for n in range(LEDGERS)]
        resends: Counter[str] = Counter()

        async def send_until_answered(command: RecordEntries) -> CommandAccepted | CommandRejected:
            for _ in range(ATTEMPTS):
                try:
                    return await send_command(nats_client, LEDGER, command, timeout=5)
                except (TimeoutError, NatsTimeoutError):
                    resends[command.command_id] += 1  # taken, never answered: send it again
            raise AssertionError(f"{command.command_id} was never answered")

        halfway = asyncio.Event()

        async def reached_halfway() -> None:
            halfway.set()

        sending = asyncio.ensure_future(
            send_rounds(ledger_ids, ROUNDS, send_until_answered, reached_halfway)
        )
        await halfway.wait()
        processes[0].send_signal(signal.SIGKILL)
        not_accepted = await sending
        assert processes[0].wait(timeout=30) == -signal.SIGKILL
        assert not_accepted == []
        await until(lambda: serves_all(logs[1]), "the survivor did not take every partition", logs)
        await assert_landed_in_order(nats_client, fixed_clock, ledger_ids, ROUNDS)
