"""`python -m bench.c1_ab_process VARIANT`: a change to the registry's service process sized at
concurrency 1 (and 64) with the service in a process of its own, as the commands suite's
"1 service process" row runs it (issue 18; helper cmd22). `bench.c1_ab` alternates a variant
command by command inside one process (client and service on one loop); a service process
cannot be switched so, so here the registry process is started `ROUNDS` times in turns,
without and with the variant (`bench.c1_serve_variant`: one of `bench.c1_ab`'s variants on
for the whole process), on one NATS server and one history (the suite's, signed). Each
turn: the process started, every running contract's cache warmed (one command each at c64),
`COMMANDS` commands at c1 (p50, the service's CPU and voluntary context switches a command),
then `C64` commands at c64 (throughput, the service's CPU a command). A raw JetStream
publish of an envelope-sized message at c1 and c64 after each pair of turns, in the same
run: each turn's ratio is against the raw figure of its own pair.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.c1_ab import VARIANTS
from bench.c1_processes import _switches

COMMANDS = int(os.environ.get("COMMANDS", "600"))
# BLOCKS > 0: one service process, the variant switched in it block by block instead
# (`bench.c1_serve_variant`'s `C1_SWITCH`): BLOCKS blocks a half of `BLOCK` commands at c1,
# then BLOCKS blocks a half of 640 at c64, alternating; both halves meet the same minutes.
BLOCKS = int(os.environ.get("BLOCKS", "0"))
BLOCK = int(os.environ.get("BLOCK", "100"))
C64 = int(os.environ.get("C64", "1920"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
# 1: py-spy samples the service process through each half's c1 phase, into
# `OUT`-<round>-<half>.txt (raw collapsed stacks, `python -m bench.c1_spy64 rank FILE`).
SPY = os.environ.get("SPY", "0") == "1"
OUT = os.environ.get("OUT", "/tmp/c1_ab_process")
PYSPY = shlex.split(os.environ.get("PYSPY", os.path.expanduser("~/.local/bin/uvx py-spy")))


def _times(pid: int) -> tuple[float, float, int]:
    """The process's user and system CPU seconds and involuntary context switches."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    involuntary = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("nonvoluntary_ctxt_switches"):
                    involuntary += int(line.split()[1])
    return int(fields[11]) / ticks, int(fields[12]) / ticks, involuntary


async def measure(variant: str) -> None:
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
    from bench.workload import RAW_STREAM, closed_loop, ensure_raw_stream
    from contracts_schema.subjects import REGISTRY
    from eventstore.service_app import server_url
    from eventstore.serving import send_command

    rows: list[tuple[str, float, float, float, float, float, float, float]] = []
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client:
            history = generate(2026, 20_000)
            commits = tuple(c for c in history.commits if c.aggregate_type == "contract")
            await load_history(client, History(history.seed, commits), signers=SIGNERS)
            contracts = running_contracts(history)
            numbers = iter(range(10**9))
            js = client.jetstream()
            await ensure_raw_stream(js)

            async def command(c: int, w: int) -> None:
                i = next(numbers)
                sent = registry_amendment(contracts, c, w, i)
                sent = sent.model_copy(update={"command_id": f"abp-{i}"})
                reply = await send_command(client, REGISTRY, sent, actor="bench")
                if reply.status != "accepted":
                    raise RuntimeError(f"{sent.command_id}: {reply}")

            async def raw_pair() -> tuple[float, float]:
                times = []
                for i in range(COMMANDS // 2):
                    started = time.perf_counter()
                    await js.publish(f"benchraw.abp.{i % 16}", b"x" * 900, stream=RAW_STREAM)
                    times.append(time.perf_counter() - started)

                async def publish(_w: int, i: int) -> None:
                    await js.publish(f"benchraw.abp.{i % 16}", b"x" * 900, stream=RAW_STREAM)

                raw64 = await closed_loop(64, C64, publish)
                return statistics.median(times) * 1e3, raw64.rate

            if BLOCKS:
                await _blocks(variant, client, command, raw_pair)
                return
            for round_ in range(ROUNDS):
                order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
                raw = await raw_pair()
                for half in order:
                    extra = {"C1_VARIANT": variant, "C1_ON": "1" if half == "on" else "0"}
                    with registry_processes(
                        server_url(client), 1, "bench.c1_serve_variant", extra
                    ) as running:
                        pid = running[0][0].pid
                        await wait_served(client)

                        async def warm(w: int, i: int) -> None:
                            await command(64, w)

                        await closed_loop(64, len(contracts), warm)
                        spy = None
                        if SPY:
                            spy = await asyncio.create_subprocess_exec(
                                *PYSPY, "record", "-r", "200", "-f", "raw", "-o",
                                f"{OUT}-{round_}-{half}.txt", "-p", str(pid),
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                            )  # fmt: skip
                            await asyncio.sleep(1.5)  # attached
                        cpu, switched = _process_cpu(pid), _switches(pid)[0]
                        user, system, preempted = _times(pid)
                        walls = []
                        for _ in range(COMMANDS):
                            started = time.perf_counter()
                            await command(1, 0)
                            walls.append(time.perf_counter() - started)
                        cpu = (_process_cpu(pid) - cpu) / COMMANDS * 1e6
                        switches = (_switches(pid)[0] - switched) / COMMANDS
                        after = _times(pid)
                        user = (after[0] - user) / COMMANDS * 1e6
                        system = (after[1] - system) / COMMANDS * 1e6
                        involuntary = (after[2] - preempted) / COMMANDS
                        if spy is not None:
                            spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
                            await spy.wait()
                        cpu64 = _process_cpu(pid)

                        async def c64(w: int, i: int) -> None:
                            await command(64, w)

                        result = await closed_loop(64, C64, c64)
                        cpu64 = (_process_cpu(pid) - cpu64) / C64 * 1e6
                    p50 = statistics.median(walls) * 1e3
                    rows.append(
                        (
                            half,
                            p50,
                            p50 / raw[0],
                            cpu,
                            switches,
                            result.rate,
                            result.rate / raw[1],
                            cpu64,
                        )
                    )
                    ratio64 = result.rate / raw[1]
                    print(
                        f"round {round_} {half:>3}: c1 p50 {p50:.3f} ms ({p50 / raw[0]:.2f}x raw"
                        f" {raw[0]:.3f}), service CPU {cpu:.0f} us/cmd (user {user:.0f}, system"
                        f" {system:.0f}), {switches:.2f} voluntary and {involuntary:.2f}"
                        f" involuntary switches/cmd | c64 {result.rate:.0f} cmd/s ({ratio64:.3f}x"
                        f" raw {raw[1]:.0f}), service CPU {cpu64:.0f} us/cmd | load"
                        f" {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
    for half in ("off", "on"):
        mine = [r for r in rows if r[0] == half]

        def mean(i: int, rows: list[Any] = mine) -> float:
            return statistics.fmean(r[i] for r in rows)

        print(
            f"{half:>3} mean of {len(mine)}: c1 ratio {mean(2):.2f}x, CPU {mean(3):.0f} us,"
            f" switches {mean(4):.2f}; c64 ratio {mean(6):.3f}x, CPU {mean(7):.0f} us"
        )


async def _blocks(
    variant: str,
    client: Any,
    command: Callable[[int, int], Awaitable[None]],
    raw_pair: Callable[[], Awaitable[tuple[float, float]]],
) -> None:
    """One service process, the variant switched block by block in it (see `BLOCKS`)."""
    from bench.suites.commands import _process_cpu, registry_processes, wait_served
    from bench.workload import closed_loop
    from eventstore.service_app import server_url

    subject = "bench.c1.switch"
    extra = {"C1_VARIANT": variant, "C1_ON": "0", "C1_SWITCH": subject}
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpus64: dict[bool, list[float]] = {False: [], True: []}
    raw = await raw_pair()
    with registry_processes(server_url(client), 1, "bench.c1_serve_variant", extra) as running:
        pid = running[0][0].pid
        await wait_served(client)
        for _ in range(100):  # (its switch subscribed)
            try:
                await client.request(subject, b"off", timeout=1)
                break
            except Exception:
                await asyncio.sleep(0.2)

        async def c64(w: int, i: int) -> None:
            await command(64, w)

        await closed_loop(64, 2 * 640, c64)  # every cache warm (the contracts' first turns)
        for block in range(2 * BLOCKS):
            on = bool(block % 2)
            await client.request(subject, b"on" if on else b"off", timeout=5)
            cpu = _process_cpu(pid)
            for _ in range(BLOCK):
                started = time.perf_counter()
                await command(1, 0)
                walls[on].append(time.perf_counter() - started)
            cpus[on].append((_process_cpu(pid) - cpu) / BLOCK * 1e6)
        for block in range(2 * BLOCKS):
            on = bool(block % 2)
            await client.request(subject, b"on" if on else b"off", timeout=5)
            cpu = _process_cpu(pid)
            result = await closed_loop(64, 640, c64)
            cpus64[on].append((_process_cpu(pid) - cpu) / 640 * 1e6)
            rates[on].append(result.rate)
    after = await raw_pair()
    base = (raw[0] + after[0]) / 2
    base64 = (raw[1] + after[1]) / 2
    p50 = {k: statistics.median(v) * 1e3 for k, v in walls.items()}
    cpu1 = {k: statistics.fmean(v) for k, v in cpus.items()}
    cpu64 = {k: statistics.fmean(v) for k, v in cpus64.items()}
    rate = {k: len(v) / sum(1 / r for r in v) for k, v in rates.items()}  # (harmonic mean)
    for half in (False, True):
        print(
            f"{'on' if half else 'off':>3}: c1 p50 {p50[half]:.3f} ms ({p50[half] / base:.2f}x"
            f" raw {base:.3f}), service CPU {cpu1[half]:.0f} us/cmd | c64 {rate[half]:.0f} cmd/s"
            f" ({rate[half] / base64:.3f}x raw {base64:.0f}), service CPU {cpu64[half]:.0f} us/cmd"
        )
    print(
        f"on/off: c1 p50 {p50[True] / p50[False]:.3f}, c1 CPU {cpu1[True] / cpu1[False]:.3f};"
        f" c64 throughput {rate[True] / rate[False]:.3f}, c64 CPU"
        f" {cpu64[True] / cpu64[False]:.3f} | {BLOCKS} blocks a half | load"
        f" {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in VARIANTS:
        raise SystemExit(f"usage: python -m bench.c1_ab_process {{{','.join(VARIANTS)}}}")
    asyncio.run(measure(sys.argv[1]))


if __name__ == "__main__":
    main()
