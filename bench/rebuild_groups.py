"""`python -m bench.rebuild_groups 20000`: the two-process rebuild against one process.

Loads a signed generated history (readers checking, as `python -m bench` does), then, in
turns: the rebuild of every gateway read model in one process (`bench.suites.replay.
rebuild_measured`), and in two (`rebuild_split`: each group's process CPU and wall, the
join); with `--per-model`, each read model rebuilt alone in a process of its own (its CPU
per event: what the groups are split by). Prints one JSON line per measurement.
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


async def measure(events: int, seed: int, rounds: int, per_model: bool) -> None:
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
            for _ in range(rounds):
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
                split = await replay.rebuild_split(ctx, _url())
                print(
                    json.dumps(
                        {
                            "way": "two processes",
                            "events": n,
                            "wall_s": round(split.seconds, 2),
                            "join_s": round(split.join_s, 2),
                            "cpu_us_per_event": round(split.cpu / n * 1e6, 1),
                            "groups": [
                                {
                                    "cpu_us_per_event": round(g.cpu_s / n * 1e6, 1),
                                    "wall_s": round(g.wall_s, 2),
                                }
                                for g in split.groups
                            ],
                            # A quiet machine with two free cores: the slower group, then
                            # the join (the processes' start is in the group's wall).
                            "two_core_wall_s": round(
                                max(g.cpu_s for g in split.groups) + split.join_s, 2
                            ),
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
    args = parser.parse_args()
    asyncio.run(measure(args.events, args.seed, args.rounds, args.per_model))


if __name__ == "__main__":
    main()
