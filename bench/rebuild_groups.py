"""`python -m bench.rebuild_groups 20000`: the two-process rebuild against one process.

Loads a signed generated history (readers checking, as `python -m bench` does), then, in
turns: the rebuild of every gateway read model in one process (`bench.suites.replay.
rebuild_measured`), and in two (`rebuild_split`: each group's process CPU and wall, the
join); with `--per-model`, each read model rebuilt alone in a process of its own (its CPU
per event: what the groups are split by); with `--split A/B` (repeatable, read model names,
comma-separated within a group: `enrolment,tenders/contracts,event_log,...`), those splits
instead of the product's, in turns with it, on the same loaded history (the groups' balance
A/B'd within one run). Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from types import SimpleNamespace
from typing import Any

from bench import infra
from bench.history.generator import generate
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites import replay
from eventstore.trust import install


def _split_of(spec: str) -> tuple[tuple[Any, ...], ...]:
    """`enrolment,tenders/contracts,event_log,...` as groups of `gateway.projections.ALL`,
    the event log's group first (as `replay.groups` orders them)."""
    from gateway.projections import ALL

    by_name = {kind.name: kind for kind in ALL}
    parts = [[by_name[n] for n in group.split(",") if n] for group in spec.split("/")]
    named = [kind for part in parts for kind in part]
    if sorted(k.name for k in named) != sorted(by_name):
        raise SystemExit(f"--split {spec!r} must name every read model once: {sorted(by_name)}")
    parts.sort(key=lambda part: not any(make().reads_every_event for make in part))
    return tuple(tuple(part) for part in parts)


async def measure(
    events: int, seed: int, rounds: int, per_model: bool, splits: list[str] | None = None
) -> None:
    import bootstrap.parts  # noqa: F401  (imported outside the measured CPU)
    from gateway.projections import ALL

    history = generate(seed, events)
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            loaded = await load_history(client, history, signers=SIGNERS)
            ctx: Any = SimpleNamespace(service_nc=svc, loaded=loaded)
            n = loaded.events
            if per_model:
                for kind in ALL:
                    original = replay.groups
                    replay.groups = lambda kind=kind: ((kind,),)  # type: ignore[misc]
                    try:
                        split = await replay.rebuild_split(ctx, _url())
                    finally:
                        replay.groups = original
                    group = split.groups[0]
                    print(
                        json.dumps(
                            {
                                "model": kind.name,
                                "cpu_us_per_event": round(group.cpu_s / n * 1e6, 1),
                                "wall_s": round(group.wall_s, 2),
                                "load": os.getloadavg()[0],
                            }
                        ),
                        flush=True,
                    )
            for round_ in range(rounds):
                seconds, parked, cpu = await replay.rebuild_measured(ctx, _url())
                print(
                    json.dumps(
                        {
                            "way": "one process",
                            "events": n,
                            "wall_s": round(seconds, 2),
                            "cpu_us_per_event": round(cpu / n * 1e6, 1),
                            "parked": parked,
                            "load": os.getloadavg()[0],
                        }
                    ),
                    flush=True,
                )
                specs = [None, *(splits or [])]
                for spec in specs if round_ % 2 == 0 else reversed(specs):  # alternating
                    await _two(ctx, n, spec)


async def _two(ctx: Any, n: int, spec: str | None) -> None:
    """The two-process rebuild with the product's split (`spec` None) or `spec`'s."""
    original = replay.groups
    chosen = original() if spec is None else _split_of(spec)
    replay.groups = lambda: chosen
    try:
        split = await replay.rebuild_split(ctx, _url())
    finally:
        replay.groups = original
    print(
        json.dumps(
            {
                "way": "two processes",
                "split": "/".join(",".join(k.name for k in part) for part in chosen),
                "events": n,
                "wall_s": round(split.seconds, 2),
                "join_s": round(split.join_s, 2),
                "cpu_us_per_event": round(split.cpu / n * 1e6, 1),
                "groups": [
                    {"cpu_us_per_event": round(g.cpu_s / n * 1e6, 1), "wall_s": round(g.wall_s, 2)}
                    for g in split.groups
                ],
                # A quiet machine with two free cores: the slower group, then the join (the
                # processes' start is in the group's wall).
                "two_core_wall_s": round(max(g.cpu_s for g in split.groups) + split.join_s, 2),
                "parked": split.parked,
                "load": os.getloadavg()[0],
            }
        ),
        flush=True,
    )


def _url() -> str:
    return f"sqlite:////tmp/scale/groups-{uuid.uuid4().hex[:8]}.db"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-model", action="store_true")
    parser.add_argument("--split", action="append", help="groups to A/B: a,b/c,d,...")
    args = parser.parse_args()
    asyncio.run(measure(args.events, args.seed, args.rounds, args.per_model, args.split))


if __name__ == "__main__":
    main()
