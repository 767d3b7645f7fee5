"""`python -m bench.c1_stages`: where one registry `AmendContract` spends its time at
concurrency 1, stage by stage (issue 18; helper cmd12).

The suite's in-process row (client and service on one connection each, one event loop, a
NATS server of its own, the history signed and checked), with a clock read at each stage of
a command's path: sent by the client -> taken by the service -> request and command
validated (the record lookups asked) -> the loop turns that put them on the wire (yielded)
-> deciding -> sealing -> sealed -> lookups answered -> append sent -> append acknowledged
-> record sent -> reply sent -> reply read by the client. The stamps are taken by wrapping
the path's own functions here (nothing in the product is instrumented); medians over
`COMMANDS` commands, beside a raw JetStream publish of an envelope-sized message (the
suite's baseline) measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any

from bench import infra
from bench.history.generator import generate
from bench.history.model import History
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites.commands import registry_amendment, running_contracts
from bench.workload import RAW_STREAM, ensure_raw_stream
from bootstrap.parts import registry_service
from contracts_schema.subjects import REGISTRY
from eventstore import commands, serving, valid_order
from eventstore.clock import SystemClock
from eventstore.service_app import event_loop_factory, serve_in_process
from eventstore.store import EventStore
from eventstore.trust import install

COMMANDS = int(os.environ.get("COMMANDS", "1000"))
STAGES = (
    "sent",
    "taken",
    "validated",
    "yielded",
    "deciding",
    "looked up",
    "sealing",
    "sealed",
    "append sent",
    "appended",
    "record sent",
    "reply sent",
    "reply read",
)

stamps: dict[str, float] = {}


def _stamp(name: str) -> None:
    stamps.setdefault(name, time.perf_counter())


def _wrap_async(owner: Any, name: str, before: str | None, after: str | None) -> None:
    original = getattr(owner, name)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before:
            _stamp(before)
        result = await original(*args, **kwargs)
        if after:
            _stamp(after)
        return result

    setattr(owner, name, wrapped)


def _instrument(store: EventStore) -> None:
    service = commands.CommandService
    _wrap_async(service, "handle", "taken", "reply sent")
    recall = service._recall

    def recalled(self: Any, command_id: str) -> Any:
        _stamp("validated")
        future = recall(self, command_id)
        future.add_done_callback(lambda _f: _stamp("looked up"))
        return future

    service._recall = recalled  # type: ignore[method-assign]
    _wrap_async(service, "_remember", None, "record sent")
    _wrap_async(store, "append", "append sent", "appended")
    # The seal, ahead or just before the append (cmd17: from the command's own values by the
    # store's trusted sealer, not `store.seal`): timed around the command path's one call.
    seal_ahead = service._seal_ahead

    def sealing(self: Any, *args: Any, **kwargs: Any) -> Any:
        _stamp("sealing")
        envelopes = seal_ahead(self, *args, **kwargs)
        _stamp("sealed")
        return envelopes

    service._seal_ahead = sealing  # type: ignore[method-assign]
    form = commands.canonical_json_form  # type: ignore[attr-defined]

    def fingerprinting(value: Any) -> bytes:
        _stamp("yielded")  # the loop turns given to the lookups' sending
        return form(value)

    commands.canonical_json_form = fingerprinting  # type: ignore[attr-defined]
    request_reply = serving.request_reply

    async def requested(*args: Any, **kwargs: Any) -> bytes:
        data = await request_reply(*args, **kwargs)
        _stamp("reply read")
        return data

    serving.request_reply = requested
    backdated = valid_order.backdated

    def deciding(*args: Any, **kwargs: Any) -> Any:
        _stamp("deciding")
        return backdated(*args, **kwargs)

    valid_order.backdated = deciding


async def measure() -> None:
    with infra.nats_server() as server:
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
            await ensure_raw_stream(client.jetstream())
            _instrument(store)
            rows: list[dict[str, float]] = []
            try:
                for i in range(len(contracts) * 2 + COMMANDS):
                    command = registry_amendment(contracts, 1, 0, i)
                    command = command.model_copy(update={"command_id": f"stages-{i}"})
                    stamps.clear()
                    _stamp("sent")
                    reply = await serving.send_command(client, REGISTRY, command, actor="bench")
                    if reply.status != "accepted":
                        raise RuntimeError(f"{command.command_id}: {reply}")
                    if i >= len(contracts) * 2:  # every contract's cache warm
                        rows.append(dict(stamps))
            finally:
                await broker.stop()
            # The raw publish of an envelope of the same size, one at a time.
            js = client.jetstream()
            envelope = b"x" * 900
            raw = []
            for i in range(COMMANDS):
                started = time.perf_counter()
                await js.publish(f"benchraw.stages.{i % 16}", envelope, stream=RAW_STREAM)
                raw.append(time.perf_counter() - started)
    report(rows, statistics.median(raw) * 1e3)


def report(rows: list[dict[str, float]], raw_ms: float) -> None:
    total = statistics.median(r["reply read"] - r["sent"] for r in rows) * 1e3
    print(
        f"{len(rows)} commands; p50 sent -> reply read {total:.3f} ms; raw publish p50"
        f" {raw_ms:.3f} ms ({total / raw_ms:.2f}x); load {os.getloadavg()}"
    )
    order = sorted(STAGES, key=lambda s: statistics.median(r.get(s, 0) - r["sent"] for r in rows))
    previous = "sent"
    for stage in order[1:]:
        steps = [r[stage] - r[previous] for r in rows if stage in r and previous in r]
        step, mean = statistics.median(steps) * 1e3, statistics.fmean(steps) * 1e3
        at = statistics.median(r[stage] - r["sent"] for r in rows if stage in r) * 1e3
        print(
            f"  {previous:>12} -> {stage:<12} p50 {step:7.3f} ms, mean {mean:7.3f} ms"
            f"   (p50 at {at:.3f} ms)"
        )
        previous = stage


def main() -> None:
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(measure())


if __name__ == "__main__":
    main()
