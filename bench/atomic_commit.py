"""`python -m bench.atomic_commit`: what an atomic JetStream batch costs against a plain append.

Sequential, on a broker of its own (its store under $TMPDIR: `TMPDIR=/dev/shm` puts it in
memory, which shows how much of the difference is the disk): one event appended alone
(`EventStore.append`), the events of two aggregates in one atomic batch
(`group_append.publish_group`, what a group commit of the general path would send), and one
command's two events (`EventStore.append` sends them as an atomic batch). Wall time each, the
median of three rounds. Found by helper cmd10 (bench/findings.md): on this machine's disk an
atomic commit took 14-24 ms against ~1 ms for a plain append, so batching the general path's
appends in atomic batches loses latency; see there.

Why (helper cmd11, from nats-server's `jetstream_batching.go`, `newBatchStore`): on a
one-replica file stream each atomic batch is staged in a file store of its own, created for
the batch (a directory, its metadata files, a block) and deleted after the commit; a memory
stream, or a stream of more than one replica, stages the batch in memory. No stream or
server setting changes that for one-replica file streams (`sync_interval` is about the
stream's own blocks, not the staging store). The last two rows show it: one event and one
command of two events on a memory stream of the same broker.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from nats.aio.client import Client as NATS
from nats.js.api import StorageType, StreamConfig

from bench import infra
from contracts_schema.subjects import BoundedContext
from eventstore.clock import SystemClock
from eventstore.group_append import GroupedEvent, msg_id, publish_group
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent
from eventstore.store import EventStore

CONTEXT = BoundedContext("ledger", "LEDGER")
# The same appends to a stream kept in memory: an atomic batch staged in memory too.
IN_MEMORY = BoundedContext("memledger", "MEMLEDGER")
APPENDS = 200
ROUNDS = 3


def _new(aggregate_id: str, context: BoundedContext = CONTEXT) -> AggregateHistory:
    return AggregateHistory(context, "ledger", aggregate_id, (), 0)


async def _memory_stream(nc: NATS) -> None:
    config = StreamConfig(
        name=IN_MEMORY.stream,
        subjects=[IN_MEMORY.event_subjects],
        storage=StorageType.MEMORY,
        allow_atomic=True,
        duplicate_window=120.0,
    )
    await nc.jetstream().add_stream(config)


async def measure() -> dict[str, list[float]]:
    rounds: dict[str, list[float]] = {
        "alone": [],
        "batch of two": [],
        "command of two": [],
        "memory: alone": [],
        "memory: command of two": [],
    }
    with infra.nats_server() as server:
        async with infra.connected(server.url) as nc:
            clock = SystemClock()
            store = EventStore(nc, clock)
            await store.ensure_stream(CONTEXT)
            await _memory_stream(nc)
            one = [NewEvent("EntryRecorded", 1, {"amount": 1}, clock.now())]
            for r in range(ROUNDS):
                started = time.perf_counter()
                for i in range(APPENDS):
                    await store.append(
                        _new(f"s{r}-{i}"), one, CommandMetadata(f"s{r}-{i}", "t", "x")
                    )
                rounds["alone"].append((time.perf_counter() - started) / APPENDS)
                started = time.perf_counter()
                for i in range(0, APPENDS, 2):
                    events = []
                    for a in (f"b{r}-{i}", f"b{r}-{i + 1}"):
                        envelope = store.seal(_new(a), one, CommandMetadata(a, "t", "x"))[0]
                        events.append(
                            GroupedEvent(
                                CONTEXT, "ledger", a, envelope, msg_id(CONTEXT, a, a, 1), 0
                            )
                        )
                    await publish_group(nc, events)
                rounds["batch of two"].append((time.perf_counter() - started) / (APPENDS // 2))
                started = time.perf_counter()
                for i in range(0, APPENDS, 2):
                    a = f"c{r}-{i}"
                    await store.append(_new(a), one * 2, CommandMetadata(a, "t", "x"))
                rounds["command of two"].append((time.perf_counter() - started) / (APPENDS // 2))
                started = time.perf_counter()
                for i in range(APPENDS):
                    a = f"m{r}-{i}"
                    await store.append(_new(a, IN_MEMORY), one, CommandMetadata(a, "t", "x"))
                rounds["memory: alone"].append((time.perf_counter() - started) / APPENDS)
                started = time.perf_counter()
                for i in range(0, APPENDS, 2):
                    a = f"n{r}-{i}"
                    await store.append(_new(a, IN_MEMORY), one * 2, CommandMetadata(a, "t", "x"))
                rounds["memory: command of two"].append(
                    (time.perf_counter() - started) / (APPENDS // 2)
                )
    return rounds


def main() -> None:
    for what, seconds in asyncio.run(measure()).items():
        each = ", ".join(f"{s * 1e3:.1f}" for s in seconds)
        print(f"{what:24} median {statistics.median(seconds) * 1e3:6.2f} ms each (rounds: {each})")


if __name__ == "__main__":
    main()
