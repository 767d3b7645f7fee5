"""`python -m bench.c1_ab VARIANT`: a change to one registry `AmendContract` at concurrency 1,
sized by alternating it command by command in one run (issue 18; helper cmd16).

Two checkouts run one after the other meet different neighbours on a shared 2-core machine:
their c1 p50s moved 30-40% between runs of the same code here (bench/findings.md, sixteenth
round). Here the variant is switched on for every other command of ONE run (the suite's
in-process row: client and service on one connection each, one event loop, a NATS server of
its own, the history signed and checked, every contract's cache warm), so both halves meet
the same load: p50 of each half, their ratio, and the CPU of the one thread per command of
each half (`time.thread_time` around the command; client, service and the connection's
reader and flusher all run on it). The raw JetStream publish of an envelope-sized message
(the suite's baseline) is measured after, in the same process.

Variants (`VARIANTS`):
- `no-lookup`: the processed-command lookups skipped (the record answers nothing). NOT a
  safe change (a reused command id is then refused by nothing): it sizes what the lookups'
  round trip costs a command, the upper bound of any change that takes them off its path.
- `lookup-unwaited`: the lookups sent as always, their answers read as always, but not
  waited for (the command goes on as if nothing was recorded). NOT safe either: with
  `no-lookup` it splits the lookups' cost into sending them and waiting for their answer.
- `gc-tuned` (cmd17): on, the collector's thresholds of a service process; off, Python's
  defaults (what the suite's in-process rows run with).
- `cmd17`: on, cmd17's changes (the trusted seal below, the append's acknowledgement
  parsed by orjson, the record's head written once per command type); off, none.
- `taken-as-read` (cmd18): on, commands taken as the service's connection reads them (the
  command subscriptions on an `inbox.Sink`, as the code does now); off, a loop turn later
  through a queue and a task of the subscription, as nats-py's callback subscriptions did.
- `mirror` (cmd19, cmd20): on, a new command id not held by the records' mirrors is not
  looked up in any of them, this context's or the others' (as the code does now); off, no
  mirror trusted, every id looked up (as before). With `OTHER_BUCKETS=1` (the default) the
  enrolment and notifier buckets exist, as in a running system.
- `mirror-held` (cmd19): on, the mirror's subscription hands each record write to it; off,
  the copies dropped as read (the mirror never trusted in either half): what keeping it costs.
- `records-later` (cmd22): on, a command's record confirmed by a later write's
  acknowledgement (`RecordWrites.send_later`, as the code does); off, each acknowledged.
- `record-unacked`, `no-record` (cmd22, sizings, NOT safe): the record's acknowledgement, or
  the whole record, left out (the upper bounds of confirming records together, and of a
  record claimed with the events).
- `trusted-seal` (cmd17): on, the events sealed from the command's own values (as the code
  does now); off, by the store's validating `seal` (as before).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from nats.aio.subscription import Subscription

from bench import infra
from bench.history.generator import generate
from bench.history.model import History
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites.commands import registry_amendment, running_contracts
from bench.workload import RAW_STREAM, ensure_raw_stream
from bootstrap.parts import registry_service
from contracts_schema.subjects import ENROLMENT, NOTIFIER, REGISTRY
from eventstore import commands, inbox, partitions, processed, service_app, serving
from eventstore import store as store_module
from eventstore.clock import SystemClock
from eventstore.collector import SERVING_THRESHOLDS, freeze_start_up
from eventstore.processed import KeyValueProcessedCommands
from eventstore.service_app import event_loop_factory, serve_in_process
from eventstore.store import EventStore
from eventstore.trust import install

COMMANDS = int(os.environ.get("COMMANDS", "1000"))  # per half
# 1: the other contexts' processed-command buckets exist (as in a running system once each
# context recorded a command: the registry then reads enrolment's and the notifier's for
# every new id); 0: only the registry's (the suite's `--only commands` run).
OTHER_BUCKETS = os.environ.get("OTHER_BUCKETS", "1") == "1"
# After the c1 halves: this many blocks of 640 commands at concurrency 64, alternating.
C64_BLOCKS = int(os.environ.get("C64_BLOCKS", "0"))
# The in-process server's slots: the suite's 256 (c64 never waits for one); 32 is the default
# of `serve_in_process` (the embedded system).
WORKERS = int(os.environ.get("WORKERS", "256"))


def _no_lookup() -> Callable[[bool], None]:
    recall = commands.CommandService._recall
    skipping = [False]

    def recalled(self: Any, command_id: str) -> Any:
        if not skipping[0]:
            return recall(self, command_id)
        none: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
        none.set_result([None])
        return none

    commands.CommandService._recall = recalled  # type: ignore[method-assign]

    def switch(on: bool) -> None:
        skipping[0] = on

    return switch


def _lookup_unwaited() -> Callable[[bool], None]:
    recall = commands.CommandService._recall
    unwaited = [False]

    def recalled(self: Any, command_id: str) -> Any:
        sent = recall(self, command_id)
        if not unwaited[0]:
            return sent
        sent.add_done_callback(lambda f: f.cancelled() or f.exception())
        none: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
        none.set_result([None])
        return none

    commands.CommandService._recall = recalled  # type: ignore[method-assign]

    def switch(on: bool) -> None:
        unwaited[0] = on

    return switch


def _trusted_seal() -> Callable[[bool], None]:
    """On: the command's events sealed from its own values (`CommandService._seal_ahead`,
    cmd17); off: sealed by the store's validating `seal`, as before."""
    trusted = commands.CommandService._seal_ahead
    on = [False]

    def seal_ahead(self: Any, entry: Any, new_events: Any, meta: Any) -> Any:
        if on[0]:
            return trusted(self, entry, new_events, meta)
        return self._store.seal(entry.head, new_events, meta)

    commands.CommandService._seal_ahead = seal_ahead  # type: ignore[method-assign]

    def switch(value: bool) -> None:
        on[0] = value

    return switch


def _cmd17() -> Callable[[bool], None]:
    """On: cmd17's command path (`trusted-seal`, the append's acknowledgement parsed by
    orjson, the record's head written once per command type); off: as before (the store's
    validating `seal`, `json.loads`, the head by `json.dumps` every command)."""
    seal = _trusted_seal()
    on = [False]

    class Parse:
        @staticmethod
        def loads(data: bytes) -> Any:
            return orjson.loads(data) if on[0] else json.loads(data)

    record_head = commands.CommandService._record_head

    def head(self: Any, command_type: str) -> bytes:
        if on[0]:
            return record_head(self, command_type)
        text = json.dumps({"context": self.context.name, "command_type": command_type})
        return text[:-1].encode()  # written each time, as before

    commands.CommandService._record_head = head  # type: ignore[method-assign]
    setattr(store_module, "orjson", Parse)  # noqa: B010  # (a module attribute, swapped)

    def switch(value: bool) -> None:
        on[0] = value
        seal(value)

    return switch


def _gc_tuned() -> Callable[[bool], None]:
    """On: the collector's thresholds as a service process sets them
    (`collector.tune_for_serving`); off: Python's defaults (the suite's in-process rows).
    What start-up made is frozen for both (`freeze_start_up`, at the first switch)."""
    frozen = [False]
    defaults = gc.get_threshold()

    def switch(value: bool) -> None:
        if not frozen[0]:
            frozen[0] = True
            freeze_start_up()
        gc.set_threshold(*(SERVING_THRESHOLDS if value else defaults))

    return switch


def _taken_as_read() -> Callable[[bool], None]:
    """On: commands taken as the connection reads them (cmd18: the `CommandServer`'s and
    the partitions' subscriptions on an `inbox.Sink`, the command's task created in nats-py's
    parse); off: one loop turn later, as nats-py's callback subscriptions take them (each
    message put on the queue of a nats-py `Subscription` whose own task, `_wait_for_msgs`,
    takes it and awaits the callback). The in-process service runs with the suite's
    `max_workers=256`, so no command waits for a slot on either path (the old path awaited a
    semaphore there, the new one queues: not compared here)."""
    on = [False]

    class Queued(inbox.Sink):
        def __init__(self, handle: Callable[[Any], None]) -> None:
            super().__init__(handle)

            async def taken(msg: Any) -> None:  # (an `async def` callback, as before)
                handle(msg)

            # nats-py's own machinery of a callback subscription: its queue and its task.
            self._sub = Subscription(None, cb=taken)
            self._sub._start(None)  # type: ignore[no-untyped-call]

        def set_result(self, msg: Any) -> None:
            if on[0]:
                super().set_result(msg)
            else:  # as `Client._process_msg` hands a message to a callback subscription
                self._sub._pending_size += len(msg.data)
                self._sub._pending_queue.put_nowait(msg)

    setattr(service_app, "Sink", Queued)  # noqa: B010  # (module attributes, swapped)
    setattr(partitions, "Sink", Queued)  # noqa: B010

    def switch(value: bool) -> None:
        on[0] = value

    return switch


def _taken_as_read_full() -> Callable[[bool], None]:
    """`taken-as-read` with the server at `max_workers=32` (`WORKERS=32`: the default of
    `serve_in_process`, the embedded system's): 64 senders then meet a full server. Off, the
    old path exactly: nats-py's queue and the subscription's task, which awaits a semaphore of
    32 slots before it starts the command's task (released when that task ends); on, the
    command started as read, or queued in the server's deque when its 32 slots are busy."""
    on = [False]
    slots = [asyncio.Semaphore(32)]  # (re-made on the running loop at the first switch)
    held: set[int] = set()  # the messages started by the old path, holding a slot
    start = service_app.CommandServer._start

    def started(self: Any, msg: Any, answer: Any) -> None:
        if id(msg) not in held:
            start(self, msg, answer)
            return

        async def answered(msg: Any) -> None:
            try:
                await answer(msg)
            finally:
                held.discard(id(msg))
                slots[0].release()

        start(self, msg, answered)

    setattr(service_app.CommandServer, "_start", started)  # noqa: B010

    class Queued(inbox.Sink):
        def __init__(self, handle: Callable[[Any], None]) -> None:
            super().__init__(handle)

            async def taken(msg: Any) -> None:  # the old `on_command`
                await slots[0].acquire()  # back-pressure: the next message waits for a slot
                held.add(id(msg))
                handle(msg)  # (a free slot of the server's too: it starts the task at once)

            self._sub = Subscription(None, cb=taken)
            self._sub._start(None)  # type: ignore[no-untyped-call]

        def set_result(self, msg: Any) -> None:
            if on[0]:
                super().set_result(msg)
            else:
                self._sub._pending_size += len(msg.data)
                self._sub._pending_queue.put_nowait(msg)

    setattr(service_app, "Sink", Queued)  # noqa: B010
    setattr(partitions, "Sink", Queued)  # noqa: B010

    def switch(value: bool) -> None:
        on[0] = value

    return switch


def _mirror() -> Callable[[bool], None]:
    """cmd19/cmd20: on, the records' keys held in the process answer a new id (no lookup of
    any record); off, no mirror is trusted (every id looked up, as before). Both
    halves keep its subscription (its copies of every record write are read in both): the
    CPU of holding it is in both figures, so `mirror-held` sizes that apart."""
    trusted = processed.RecordMirror.trusted
    used = [False]

    def switched(self: Any) -> bool:
        return used[0] and trusted(self)

    processed.RecordMirror.trusted = switched  # type: ignore[method-assign]

    def switch(on: bool) -> None:
        used[0] = on

    return switch


def _mirror_held() -> Callable[[bool], None]:
    """cmd19: on, the record's subscription hands each write to the mirror (as the code
    does); off, the same messages dropped as read, unhandled (their parse is nats-py's in
    both). The mirror is never trusted in either half: this sizes what keeping it costs."""
    processed.RecordMirror.trusted = lambda self: False  # type: ignore[method-assign]
    seen = processed.RecordMirror._seen
    held = [False]

    def handed(self: Any, msg: Any) -> None:
        if held[0]:
            seen(self, msg)

    processed.RecordMirror._seen = handed  # type: ignore[method-assign]

    def switch(on: bool) -> None:
        held[0] = on

    return switch


def _record_unacked() -> Callable[[bool], None]:
    """cmd22, a sizing (NOT safe): on, a command's processed-command record is published
    without a reply subject and taken as written at once (no acknowledgement: nothing says
    it was stored); off, as the code does. What the record's acknowledgement costs a
    command: the upper bound of any change that confirms records in batches."""
    publish = processed.RecordWrites._publish
    on = [False]

    async def published(self: Any, key: str, value: bytes, written: Any, timeout: float) -> None:
        if not on[0]:
            await publish(self, key, value, written, timeout)
            return
        await self._nc.publish(self._prefix + key, value)
        written.set_result(None)

    processed.RecordWrites._publish = published  # type: ignore[method-assign]

    def switch(value: bool) -> None:
        on[0] = value

    return switch


def _records_later() -> Callable[[bool], None]:
    """cmd22: on, a command's record written by `send_later` (no acknowledgement of its own:
    confirmed by a later write's, `processed.RecordWrites.send_later`), as the code does; off,
    by `send`, each acknowledged (as before)."""

    def switch(value: bool) -> None:
        commands.CommandService.RECORDS_LATER = value

    return switch


def _no_record() -> Callable[[bool], None]:
    """cmd22, a sizing (NOT safe): on, no processed-command record is written (no write, no
    acknowledgement, no copy to the mirror); off, as the code does. The upper bound of a
    record claimed with the events whose own write leaves the command."""
    remember = commands.CommandService._remember
    on = [False]

    async def remembered(self: Any, command: Any, fingerprint: str, reply: Any) -> Any:
        if on[0]:
            return reply
        return await remember(self, command, fingerprint, reply)

    commands.CommandService._remember = remembered  # type: ignore[method-assign]

    def switch(value: bool) -> None:
        on[0] = value

    return switch


VARIANTS: dict[str, Callable[[], Callable[[bool], None]]] = {
    "records-later": _records_later,
    "record-unacked": _record_unacked,
    "no-record": _no_record,
    "mirror": _mirror,
    "mirror-held": _mirror_held,
    "taken-as-read-full": _taken_as_read_full,
    "taken-as-read": _taken_as_read,
    "gc-tuned": _gc_tuned,
    "cmd17": _cmd17,
    "no-lookup": _no_lookup,
    "lookup-unwaited": _lookup_unwaited,
    "trusted-seal": _trusted_seal,
}


async def measure(switch: Callable[[bool], None]) -> None:
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            history = generate(2026, 20_000)
            commits = tuple(c for c in history.commits if c.aggregate_type == "contract")
            await load_history(client, History(history.seed, commits), signers=SIGNERS)
            contracts = running_contracts(history)
            clock = SystemClock()
            store = EventStore(svc, clock, signers=SIGNERS)
            if OTHER_BUCKETS:
                for other in (ENROLMENT, NOTIFIER):
                    await KeyValueProcessedCommands.open(client, other)
            # As the suite's in-process row: room for every sender (c64 never waits for a slot).
            broker = await serve_in_process(
                svc, [registry_service(store, clock)], max_workers=WORKERS
            )
            walls: dict[bool, list[float]] = {False: [], True: []}
            cpus: dict[bool, list[float]] = {False: [], True: []}
            warm = len(contracts) * 2
            try:
                for i in range(warm + 2 * COMMANDS):
                    on = bool(i % 2)
                    switch(on)
                    command = registry_amendment(contracts, 1, 0, i)
                    command = command.model_copy(update={"command_id": f"ab-{i}"})
                    cpu, started = time.thread_time(), time.perf_counter()
                    reply = await serving.send_command(client, REGISTRY, command, actor="bench")
                    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
                    if reply.status != "accepted":
                        raise RuntimeError(f"{command.command_id}: {reply}")
                    if i >= warm:
                        walls[on].append(wall)
                        cpus[on].append(cpu)
                if C64_BLOCKS:
                    await _c64_blocks(switch, client, contracts)
            finally:
                switch(False)
                await broker.stop()
            js = client.jetstream()
            await ensure_raw_stream(js)
            raw = []
            for i in range(COMMANDS):
                started = time.perf_counter()
                await js.publish(f"benchraw.ab.{i % 16}", b"x" * 900, stream=RAW_STREAM)
                raw.append(time.perf_counter() - started)
    base = statistics.median(raw) * 1e3
    off, with_it = (statistics.median(walls[k]) * 1e3 for k in (False, True))
    cpu_off, cpu_on = (statistics.fmean(cpus[k]) * 1e6 for k in (False, True))
    print(
        f"off p50 {off:.3f} ms ({off / base:.2f}x), {cpu_off:.0f} us CPU/cmd | on p50"
        f" {with_it:.3f} ms ({with_it / base:.2f}x), {cpu_on:.0f} us CPU/cmd | on/off"
        f" {with_it / off:.3f} | raw"
        f" publish p50 {base:.3f} ms | other buckets {OTHER_BUCKETS} | load"
        f" {os.getloadavg()[0]:.2f}"
    )


async def _c64_blocks(
    switch: Callable[[bool], None], client: Any, contracts: list[tuple[str, Any]]
) -> None:
    """C64_BLOCKS blocks of 64 senders x 10 commands each, the variant on in every other
    block: the process's CPU per command (client and service: `time.process_time`) and
    the throughput of each half."""
    cpus: dict[bool, list[float]] = {False: [], True: []}
    walls: dict[bool, list[float]] = {False: [], True: []}
    numbers = iter(range(10**9))

    async def sender(worker: int) -> None:
        for _ in range(10):
            i = next(numbers)
            command = registry_amendment(contracts, 64, worker, i)
            command = command.model_copy(update={"command_id": f"ab64-{i}"})
            reply = await serving.send_command(client, REGISTRY, command, actor="bench")
            if reply.status != "accepted":
                raise RuntimeError(f"{command.command_id}: {reply}")

    for block in range(C64_BLOCKS + 2):  # the first two warm
        on = bool(block % 2)
        switch(on)
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(sender(w) for w in range(64)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if block >= 2:
            cpus[on].append(cpu / 640)
            walls[on].append(wall / 640)
    switch(False)
    cpu_off, cpu_on = (statistics.fmean(cpus[k]) * 1e6 for k in (False, True))
    rate_off, rate_on = (1 / statistics.fmean(walls[k]) for k in (False, True))
    print(
        f"c64 off {rate_off:.0f} cmd/s, {cpu_off:.0f} us CPU/cmd | on {rate_on:.0f} cmd/s,"
        f" {cpu_on:.0f} us CPU/cmd | on/off CPU {cpu_on / cpu_off:.3f}, throughput"
        f" {rate_on / rate_off:.3f} | load {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in VARIANTS:
        raise SystemExit(f"usage: python -m bench.c1_ab {{{','.join(VARIANTS)}}}")
    switch = VARIANTS[sys.argv[1]]()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(measure(switch))


if __name__ == "__main__":
    main()
