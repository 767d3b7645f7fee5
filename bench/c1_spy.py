"""`python -m bench.c1_spy`: where a registry `AmendContract`'s CPU goes, at concurrency 1 and
64, by sampling (py-spy) rather than by cProfile (issue 18; helper cmd17).

cProfile charges every Python call its own bookkeeping (a c1 command: 778 us unprofiled,
3,092 us profiled), so code made of many small calls looks dearer than code that spends its
time in one C call. py-spy samples the running process from outside (`PYSPY`, default
`uvx py-spy`) and costs it nothing: the same in-process row as `bench.c1_cpu` (client and
service on one connection each, one event loop, a NATS server of its own, signed history
checked, every contract's cache warm), each phase sampled for `SECONDS` at `RATE` Hz into
`OUT`-c1.txt / `OUT`-c64.txt (py-spy's raw collapsed stacks), then ranked here: own samples
by function (the leaf frame), and the share of samples under each of the command path's
stages (a frame anywhere on the stack, first match wins).

`python -m bench.c1_spy rank FILE`: the ranking of a file written before.
"""

from __future__ import annotations

import asyncio
import collections
import os
import shlex
import subprocess
import sys
import time

COMMANDS_PER_ROUND = 200
SECONDS = float(os.environ.get("SECONDS", "15"))
RATE = int(os.environ.get("RATE", "500"))
OUT = os.environ.get("OUT", "/tmp/c1_spy")
PERF = os.environ.get("PERF") == "1"
PYSPY = shlex.split(os.environ.get("PYSPY", os.path.expanduser("~/.local/bin/uvx py-spy")))

# A stack's stage: the first of these found on it, innermost first (a frame's text holds the
# function's name and its file).
STAGES = (
    ("seal: sign", ("crypto_sign", "(sign (", "sign (eventstore/signing")),
    ("seal: hash", ("json_form_hash", "canonical_json")),
    ("seal: envelope", ("seal (eventstore/records",)),
    ("request decode+validate", ("model_validate_json", "_handle (eventstore/commands")),
    ("fingerprint", ("execute (eventstore/commands",)),
    (
        "decide",
        (
            "decide_contract",
            "checking",
            "decide (",
        ),
    ),
    ("append", ("append (eventstore/store",)),
    ("record + reply", ("_remember", "_sent (", "accepted_reply")),
    ("lookups", ("processed.py",)),
    ("command path (other)", ("eventstore/commands", "observability.py", "service_app.py")),
    ("client (bench, send_command)", ("serving.py", "bench/", "c1_spy")),
    ("nats-py reader", ("_read_loop", "parse (nats/protocol", "_process_msg")),
    ("nats-py flusher", ("_flusher",)),
    ("nats-py other", ("nats/",)),
    ("event loop", ("asyncio/", "uvloop", "run_until_complete", "run_forever")),
)


def rank(path: str, top: int = 30) -> str:
    own: collections.Counter[str] = collections.Counter()
    stages: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as raw:
        for line in raw:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            own[frames[-1]] += n
            stage = "other"
            if "writelines" in frames[-1]:
                # The socket write: on loopback it wakes the broker, which often takes the
                # core; py-spy counts the writer's wait for it back as busy (not CPU).
                frames = []
                stage = "socket write (and the wait for a core)"
            elif frames[-1].startswith("Runner.run"):
                frames = []
                stage = "uvloop's own C (run loop, callbacks)"
            for frame in reversed(frames):
                found = next((s for s, marks in STAGES if any(m in frame for m in marks)), None)
                if found is not None:
                    stage = found
                    break
            stages[stage] += n
    lines = [f"{path}: {total} samples", "by stage (innermost match on the stack):"]
    for stage, n in stages.most_common():
        lines.append(f"  {stage:32} {n:7d}  {n / total:6.1%}")
    lines.append(f"own samples, top {top}:")
    for frame, n in own.most_common(top):
        lines.append(f"  {n / total:6.1%}  {frame}")
    return "\n".join(lines)


async def measure() -> None:
    from bench import infra
    from bench.history.generator import generate
    from bench.history.model import History
    from bench.loader import SIGNERS, load_history, reader_trust
    from bench.suites.commands import registry_amendment, running_contracts
    from bootstrap.parts import registry_service
    from contracts_schema.subjects import REGISTRY
    from eventstore import serving
    from eventstore.clock import SystemClock
    from eventstore.collector import freeze_start_up, tune_for_serving
    from eventstore.service_app import serve_in_process
    from eventstore.store import EventStore
    from eventstore.trust import install

    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            history = generate(2026, 20_000)
            commits = tuple(c for c in history.commits if c.aggregate_type == "contract")
            await load_history(client, History(history.seed, commits), signers=SIGNERS)
            contracts = running_contracts(history)
            clock = SystemClock()
            store = EventStore(svc, clock, signers=SIGNERS)
            broker = await serve_in_process(svc, [registry_service(store, clock)])
            numbers = iter(range(10**9))

            async def one(concurrency: int, worker: int) -> None:
                i = next(numbers)
                command = registry_amendment(contracts, concurrency, worker, i)
                command = command.model_copy(update={"command_id": f"spy-{i}"})
                reply = await serving.send_command(client, REGISTRY, command, actor="bench")
                if reply.status != "accepted":
                    raise RuntimeError(f"{command.command_id}: {reply}")

            async def phase(name: str, concurrency: int) -> None:
                perf = [  # PERF=1: the kernel's on-CPU samples by library instead
                    "perf",
                    "record",
                    "-F",
                    str(RATE),
                    "-o",
                    f"{OUT}-{name}.data",
                    "-p",
                    str(os.getpid()),
                    "--",
                    "sleep",
                    str(int(SECONDS)),
                ]
                spy = await asyncio.create_subprocess_exec(
                    *(
                        perf
                        if PERF
                        else [
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
                            str(os.getpid()),
                        ]
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)  # attached
                done, cpu, ended = 0, time.process_time(), time.monotonic() + SECONDS - 1.5

                each = max(COMMANDS_PER_ROUND // concurrency, 8)

                async def worker(w: int) -> None:
                    for _ in range(each):
                        await one(concurrency, w)

                while time.monotonic() < ended:
                    await asyncio.gather(*(worker(w) for w in range(concurrency)))
                    done += each * concurrency
                cpu = (time.process_time() - cpu) / done * 1e6
                await spy.wait()
                print(f"{name}: {done} commands, process CPU {cpu:.0f} us/cmd")

            try:
                for _ in range(len(contracts) * 2):  # every contract's cache warm
                    await one(1, 0)
                if os.environ.get("GC") != "default":  # as a service process (`run_app`)
                    tune_for_serving()
                    freeze_start_up()
                await phase("c1", 1)
                await phase("c64", 64)
            finally:
                await broker.stop()
    print(f"load {os.getloadavg()[0]:.2f}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "rank":
        print(rank(sys.argv[2]))
        return
    from eventstore.service_app import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(measure())
    for name in ("c1", "c64"):
        if PERF:  # on-CPU samples by library (user and kernel)
            subprocess.run(
                ["perf", "report", "-i", f"{OUT}-{name}.data", "--sort", "dso", "--stdio"],
                check=False,
            )
        else:
            print(rank(f"{OUT}-{name}.txt"))


if __name__ == "__main__":
    main()
