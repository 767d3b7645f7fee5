"""`python -m bench.c1_processes`: why two registry processes answer one command at a time
more slowly than one (issue 18; helper cmd11).

With two processes a sender's commands go straight to the process owning the aggregate's
partition (`eventstore.partitions`, `serving.send_command`: no extra hop), so commands on
successive contracts alternate between the processes. Measured here, one command at a time,
on the suite's running contracts (`bench.suites.commands`), with 1 and then 2 processes:
every contract in turn (alternating between processes when there are two), and only the
contracts of even partitions (with two processes: one process served, the other idle), and
only the odd ones. Rounds alternate, p50 of each; if "even" and "odd" with two processes are
as fast as with one and "all" is slower, the cost is the alternation itself (each process
woken after the other ran), not a hop or a second process's background work.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from datetime import datetime

from nats.aio.client import Client as NATS

from bench import infra
from bench.history.generator import generate
from bench.history.model import History
from bench.loader import SIGNERS, load_history
from bench.suites.commands import (
    _process_cpu,
    registry_amendment,
    registry_processes,
    running_contracts,
    wait_served,
)
from bench.workload import closed_loop
from contracts_schema.subjects import REGISTRY, command_partition
from eventstore.service_app import server_url
from eventstore.serving import send_command

COMMANDS = int(os.environ.get("COMMANDS", "300"))  # per set and round
ROUNDS = int(os.environ.get("ROUNDS", "3"))
IDLE = float(os.environ.get("IDLE", "10"))  # seconds the processes' idle CPU is read over
# 1: as the commands suite does it (cmd18): no settling after the start, the caches warmed by
# one command per contract at concurrency 64, then rounds of every contract in turn at once,
# each round's p50, CPU and context switches printed (does the suite's two-process row meet
# something the first seconds after the start hold?).
SUITE_ORDER = os.environ.get("SUITE_ORDER", "0") == "1"


def _switches(pid: int) -> tuple[int, int]:
    """The process's (voluntary, involuntary) context switches, all threads: a voluntary one
    is the event loop going to sleep with nothing to do (at c1, once per wake-up it waits for:
    the request, each answer from the broker)."""
    voluntary = involuntary = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    involuntary += int(line.split()[1])
    return voluntary, involuntary


async def _p50(client: NATS, contracts: Sequence[tuple[str, datetime]], tag: str) -> float:
    latencies = []
    for i in range(COMMANDS):
        command = registry_amendment(contracts, 1, 0, i)
        command = command.model_copy(update={"command_id": f"{tag}-{i}"})
        started = time.perf_counter()
        reply = await send_command(client, REGISTRY, command, actor="bench")
        latencies.append(time.perf_counter() - started)
        if reply.status != "accepted":
            raise RuntimeError(f"{command.command_id}: {reply}")
    return statistics.median(latencies) * 1e3


async def measure() -> None:
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client:
            history = generate(2026, 20_000)
            commits = tuple(c for c in history.commits if c.aggregate_type == "contract")
            await load_history(client, History(history.seed, commits), signers=SIGNERS)
            contracts = running_contracts(history)
            sets = {
                "all": contracts,
                "even": [c for c in contracts if command_partition(c[0]) % 2 == 0],
                "odd": [c for c in contracts if command_partition(c[0]) % 2 == 1],
            }
            for processes in (1, 2):
                if SUITE_ORDER:
                    await _as_the_suite(client, contracts, processes)
                    continue
                with registry_processes(server_url(client), processes) as running:
                    pids = [p.pid for p, _port in running]
                    await wait_served(client)
                    await asyncio.sleep(5)  # the members' partitions settled (heartbeats)
                    await _p50(client, contracts, f"warm-{processes}")  # every cache filled
                    # What the processes spend with no command at all (cmd18: the suite's
                    # "service CPU per command" at c1 counts it: ~1 s of commands a row).
                    idle_before = [_process_cpu(pid) for pid in pids]
                    await asyncio.sleep(IDLE)
                    idle = [
                        (_process_cpu(pid) - b) / IDLE * 1e3
                        for pid, b in zip(pids, idle_before, strict=True)
                    ]
                    p50s: dict[str, list[float]] = {name: [] for name in sets}
                    cpus: dict[str, list[float]] = {name: [] for name in sets}
                    wakes: dict[str, list[tuple[float, float]]] = {name: [] for name in sets}
                    for r in range(ROUNDS):
                        for name, chosen in sets.items():
                            before = [_process_cpu(pid) for pid in pids]
                            switched = [_switches(pid) for pid in pids]
                            p50s[name].append(
                                await _p50(client, chosen, f"p{processes}-{name}-{r}")
                            )
                            after = [_process_cpu(pid) for pid in pids]
                            spent = sum(a - b for a, b in zip(after, before, strict=True))
                            cpus[name].append(spent / COMMANDS * 1e6)
                            now = [_switches(pid) for pid in pids]
                            wakes[name].append(
                                (
                                    sum(n[0] - b[0] for n, b in zip(now, switched, strict=True))
                                    / COMMANDS,
                                    sum(n[1] - b[1] for n, b in zip(now, switched, strict=True))
                                    / COMMANDS,
                                )
                            )
                    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
                    idles = ", ".join(f"{i:.1f}" for i in idle)
                    print(f"{processes} process(es), load {load}; idle CPU ms/s each: {idles}")
                    for name, values in p50s.items():
                        each = ", ".join(f"{v:.2f}" for v in values)
                        cpu = statistics.median(cpus[name])
                        voluntary = statistics.median(v for v, _i in wakes[name])
                        involuntary = statistics.median(i for _v, i in wakes[name])
                        print(
                            f"  {name:5} p50 median {statistics.median(values):.2f} ms ({each});"
                            f" service CPU {cpu:.0f} us/command; context switches a command"
                            f" {voluntary:.2f} voluntary, {involuntary:.2f} involuntary"
                        )


async def _as_the_suite(
    client: NATS, contracts: Sequence[tuple[str, datetime]], processes: int
) -> None:
    with registry_processes(server_url(client), processes) as running:
        pids = [p.pid for p, _port in running]
        await wait_served(client)
        started = time.perf_counter()

        async def warm(w: int, i: int) -> None:
            command = registry_amendment(contracts, 64, w, i)
            command = command.model_copy(update={"command_id": f"sw{processes}-{i}"})
            await send_command(client, REGISTRY, command, actor="bench")

        await closed_loop(64, len(contracts), warm)
        print(
            f"{processes} process(es), suite order (warm at c64 done"
            f" {time.perf_counter() - started:.1f} s after the start):"
        )
        for r in range(ROUNDS):
            before, switched = [_process_cpu(pid) for pid in pids], [_switches(pid) for pid in pids]
            at = time.perf_counter() - started
            p50 = await _p50(client, contracts, f"s{processes}-{r}")
            spent = sum(_process_cpu(pid) - b for pid, b in zip(pids, before, strict=True))
            now = [_switches(pid) for pid in pids]
            voluntary = sum(n[0] - b[0] for n, b in zip(now, switched, strict=True)) / COMMANDS
            print(
                f"  round {r} at {at:5.1f} s: p50 {p50:.2f} ms; service CPU"
                f" {spent / COMMANDS * 1e6:.0f} us/command; {voluntary:.2f} voluntary switches;"
                f" load {os.getloadavg()[0]:.1f}"
            )


def main() -> None:
    asyncio.run(measure())


if __name__ == "__main__":
    main()
