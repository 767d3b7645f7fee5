"""`python -m bench.c1_spy64`: where a registry `AmendContract`'s CPU goes at concurrency 64
with the registry in a service process of its own, as the commands suite's "1 service
process" row runs it (issue 18; helper cmd21). `bench.c1_spy` samples the in-process row
(client and service on one loop); here py-spy samples the service process and the bench
client side by side, each phase `SECONDS` long at `RATE` Hz, into `OUT`-service.txt and
`OUT`-client.txt (raw collapsed stacks), ranked by `bench.c1_spy.rank`.

The history is the suite's (contracts of `generate(2026, 20_000)`, signed); the service
warmed by two commands per running contract at c64 (every cache filled); then `SECONDS` of
commands at c64 (`CONCURRENCY`). Printed: commands/s, the service's and the client's CPU per
command, the machine's load.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import time

from bench.c1_spy import rank

SECONDS = float(os.environ.get("SECONDS", "20"))
RATE = int(os.environ.get("RATE", "250"))
OUT = os.environ.get("OUT", "/tmp/c1_spy64")
CONCURRENCY = int(os.environ.get("CONCURRENCY", "64"))
PYSPY = shlex.split(os.environ.get("PYSPY", os.path.expanduser("~/.local/bin/uvx py-spy")))
SPY = os.environ.get("SPY", "1") == "1"  # 0: the same run unsampled (throughput only)


async def measure() -> None:
    from bench import infra
    from bench.history.generator import generate
    from bench.history.model import History
    from bench.loader import SIGNERS, load_history
    from bench.suites.commands import (
        _process_cpu,
        broker_pid,
        registry_amendment,
        registry_processes,
        running_contracts,
        wait_served,
    )
    from bench.workload import RAW_STREAM, closed_loop, ensure_raw_stream
    from contracts_schema.subjects import REGISTRY
    from eventstore.service_app import server_url
    from eventstore.serving import send_command

    with infra.nats_server() as server:
        async with infra.connected(server.url) as client:
            history = generate(2026, 20_000)
            commits = tuple(c for c in history.commits if c.aggregate_type == "contract")
            await load_history(client, History(history.seed, commits), signers=SIGNERS)
            contracts = running_contracts(history)
            numbers = iter(range(10**9))
            rejected: list[str] = []

            async def one(_w: int, _i: int, c: int = CONCURRENCY) -> None:
                i = next(numbers)
                command = registry_amendment(contracts, c, i % c, i)
                command = command.model_copy(update={"command_id": f"spy64-{i}"})
                reply = await send_command(client, REGISTRY, command, actor="bench")
                if reply.status != "accepted":
                    rejected.append(reply.code)

            with registry_processes(server_url(client), 1) as running:
                pid = running[0][0].pid
                await wait_served(client)
                await closed_loop(CONCURRENCY, 2 * len(contracts), one)  # caches warm
                spies = []
                if SPY:
                    for name, target in (("service", pid), ("client", os.getpid())):
                        spies.append(
                            await asyncio.create_subprocess_exec(
                                *PYSPY,
                                "record",
                                "-r",
                                str(RATE),
                                "-f",
                                "raw",
                                "-d",
                                str(int(SECONDS)),
                                "-o",
                                f"{OUT}-{name}.txt",
                                "-p",
                                str(target),
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                            )
                        )
                    await asyncio.sleep(1.5)  # attached
                load = os.getloadavg()[0]
                broker = broker_pid(client)
                broker_cpu = _process_cpu(broker) if broker else 0.0
                service_cpu, client_cpu = _process_cpu(pid), time.process_time()
                started, done = time.monotonic(), 0
                while time.monotonic() - started < SECONDS - 3:
                    await closed_loop(CONCURRENCY, 10 * CONCURRENCY, one)
                    done += 10 * CONCURRENCY
                wall = time.monotonic() - started
                service_cpu = (_process_cpu(pid) - service_cpu) / done * 1e6
                client_cpu = (time.process_time() - client_cpu) / done * 1e6
                broker_cpu = ((_process_cpu(broker) - broker_cpu) if broker else 0.0) / done * 1e6
                for spy in spies:
                    await spy.wait()
            # The baseline, in the same run: a raw JetStream publish of an envelope-sized
            # message at the same concurrency, with the client's and the broker's CPU each.
            js = client.jetstream()
            await ensure_raw_stream(js)
            raw_n = 20 * CONCURRENCY
            raw_client, raw_broker = time.process_time(), _process_cpu(broker) if broker else 0.0

            async def publish(_w: int, i: int) -> None:
                await js.publish(f"benchraw.spy.{i % 16}", b"x" * 900, stream=RAW_STREAM)

            raw = await closed_loop(CONCURRENCY, raw_n, publish)
            raw_client = (time.process_time() - raw_client) / raw_n * 1e6
            raw_broker = ((_process_cpu(broker) - raw_broker) if broker else 0.0) / raw_n * 1e6
    rate = done / wall
    print(
        f"c{CONCURRENCY}, 1 service process: {done} commands in {wall:.1f} s,"
        f" {rate:.0f} cmd/s ({rate / raw.rate:.3f}x raw publish, {raw.rate:.0f}/s); CPU us a"
        f" command: service {service_cpu:.0f}, client {client_cpu:.0f}, broker"
        f" {broker_cpu:.0f}; raw publish: client {raw_client:.0f}, broker {raw_broker:.0f};"
        f" {len(rejected)} rejected; load {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "rank":
        print(rank(sys.argv[2]))
        return
    asyncio.run(measure())
    if SPY:
        for name in ("service", "client"):
            print(f"== {name}")
            print(rank(f"{OUT}-{name}.txt"))


if __name__ == "__main__":
    main()
