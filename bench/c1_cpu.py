"""`python -m bench.c1_cpu`: CPU per registry `AmendContract`, at concurrency 1 and 64, in
one process (issue 18; helper cmd15).

The commands suite's in-process row (client and service on one connection each, one event
loop, a NATS server of its own, the history signed and checked) without any instrumentation,
so that it runs unchanged on an older checkout (copied there): wall p50 at c1, and for each
phase the process's CPU (client and service: `time.process_time`) and the NATS server's CPU
per command. On a shared machine the wall figures move with the neighbours' load; CPU per
command moves much less, which is what an A/B pair of two checkouts compares.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from bench import infra
from bench.history.generator import generate
from bench.history.model import History
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites.commands import registry_amendment, running_contracts
from bootstrap.parts import registry_service
from contracts_schema.subjects import REGISTRY
from eventstore import serving
from eventstore.clock import SystemClock
from eventstore.service_app import event_loop_factory, serve_in_process
from eventstore.store import EventStore
from eventstore.trust import install

COMMANDS = int(os.environ.get("COMMANDS", "1000"))
CONCURRENCY = 64


def _server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure() -> None:
    with infra.nats_server() as server:
        pid = server._process.pid  # type: ignore[union-attr]
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            history = generate(2026, 20_000)
            commits = tuple(c for c in history.commits if c.aggregate_type == "contract")
            await load_history(client, History(history.seed, commits), signers=SIGNERS)
            contracts = running_contracts(history)
            clock = SystemClock()
            store = EventStore(svc, clock, signers=SIGNERS)
            service = registry_service(store, clock)
            broker = await serve_in_process(svc, [service])
            numbers = iter(range(10**9))

            async def one(concurrency: int, worker: int) -> float:
                i = next(numbers)
                command = registry_amendment(contracts, concurrency, worker, i)
                command = command.model_copy(update={"command_id": f"cpu-{i}"})
                started = time.perf_counter()
                reply = await serving.send_command(client, REGISTRY, command, actor="bench")
                if reply.status != "accepted":
                    raise RuntimeError(f"{command.command_id}: {reply}")
                return time.perf_counter() - started

            try:
                for _ in range(len(contracts) * 2):  # every contract's cache warm
                    await one(1, 0)
                cpu, nats_cpu, wall = time.process_time(), _server_cpu(pid), time.perf_counter()
                c1 = [await one(1, 0) for _ in range(COMMANDS)]
                c1_cpu = (time.process_time() - cpu) / COMMANDS * 1e6
                c1_nats = (_server_cpu(pid) - nats_cpu) / COMMANDS * 1e6
                c1_wall = time.perf_counter() - wall

                async def worker(w: int, n: int) -> None:
                    for _ in range(n):
                        await one(CONCURRENCY, w)

                per = COMMANDS * 2 // CONCURRENCY
                cpu, nats_cpu, wall = time.process_time(), _server_cpu(pid), time.perf_counter()
                await asyncio.gather(*(worker(w, per) for w in range(CONCURRENCY)))
                n = per * CONCURRENCY
                c64_wall = time.perf_counter() - wall
                c64_cpu = (time.process_time() - cpu) / n * 1e6
                c64_nats = (_server_cpu(pid) - nats_cpu) / n * 1e6
            finally:
                await broker.stop()
    print(
        f"c1 p50 {statistics.median(c1) * 1e3:.3f} ms, {COMMANDS / c1_wall:.0f} cmd/s,"
        f" process CPU {c1_cpu:.0f} us/cmd, nats-server {c1_nats:.0f} us/cmd |"
        f" c64 {n / c64_wall:.0f} cmd/s, process CPU {c64_cpu:.0f} us/cmd,"
        f" nats-server {c64_nats:.0f} us/cmd | load {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(measure())


if __name__ == "__main__":
    main()
