"""`python -m bench.rebuild_derived_ab 100000 --rounds 3`: the product's two-process rebuild
with enrolment's derived rows deferred to the rebuild's end (rebuild22) against the same
rebuild recomputing them per batch, in alternating pairs on one loaded history.

Loads a signed generated history (readers checking, as `python -m bench` does), then per
round: the raw ordered read+decode of the streams (the suite's baseline, `bench.suites.
replay.raw_read_decode`), and the two rebuilds in turns (ABBA across rounds): "base" with
`EnrolmentProjection.defers_derived` off (set in this process before the groups fork),
"deferred" as the product runs, and with `--split A/B` (read model names, as `bench.
rebuild_groups`) a third, "deferred+split": deferred, with that split instead of the
product's (ABC, then CBA). `--models event_log,contracts` (rebuild23): the read models whose
deferral "base" turns off (default: enrolment). Prints one JSON line per rebuild: each
group's CPU per event, the wall, the rate and its ratio to the same round's raw read+decode,
and the load.
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
from bench.rebuild_groups import _split_of
from bench.suites import replay
from eventstore.trust import install


async def measure(
    events: int, seed: int, rounds: int, split: str | None, models: list[str]
) -> None:
    import bootstrap.parts  # noqa: F401  (imported outside the measured CPU)
    from gateway.projections import ALL

    toggled = [k for k in ALL if k.name in models]
    assert len(toggled) == len(models), models

    history = generate(seed, events)
    os.makedirs("/tmp/scale", exist_ok=True)
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            loaded = await load_history(client, history, signers=SIGNERS)
            ctx: Any = SimpleNamespace(service_nc=svc, loaded=loaded)
            n = loaded.events
            for round_ in range(rounds):
                raw_s = await replay.raw_read_decode(client, dict(loaded.last_seq))
                sides = ["base", "deferred", *(["deferred+split"] if split else [])]
                if round_ % 2:
                    sides.reverse()
                for side in sides:
                    for kind in toggled:
                        kind.defers_derived = side != "base"
                    original = replay.groups
                    chosen = _split_of(split) if split and side == "deferred+split" else original()
                    replay.groups = lambda chosen=chosen: chosen  # type: ignore[misc]
                    try:
                        got = await replay.rebuild_split(ctx, _url())
                    finally:
                        replay.groups = original
                        for kind in toggled:
                            kind.defers_derived = True
                    print(
                        json.dumps(
                            {
                                "round": round_,
                                "side": side,
                                "toggled": models,
                                "split": "/".join(
                                    ",".join(k.name for k in part) for part in chosen
                                ),
                                "events": n,
                                "wall_s": round(got.seconds, 2),
                                "ev_s": round(n / got.seconds, 1),
                                "raw_ev_s": round(n / raw_s, 1),
                                "ratio": round(raw_s / got.seconds, 3),
                                "cpu_us_per_event": round(got.cpu / n * 1e6, 1),
                                "groups_cpu_us": [round(g.cpu_s / n * 1e6, 1) for g in got.groups],
                                "groups_wall_s": [round(g.wall_s, 2) for g in got.groups],
                                "join_s": round(got.join_s, 2),
                                "two_core_wall_s": round(
                                    max(g.cpu_s for g in got.groups) + got.join_s, 2
                                ),
                                "parked": got.parked,
                                "load": os.getloadavg()[0],
                            }
                        ),
                        flush=True,
                    )


def _url() -> str:
    return f"sqlite:////tmp/scale/derived-{uuid.uuid4().hex[:8]}.db"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--split", help="a third side's groups (deferred): a,b/c,d,...")
    parser.add_argument(
        "--models", default="enrolment", help="read models whose deferral base turns off"
    )
    args = parser.parse_args()
    models = args.models.split(",")
    asyncio.run(measure(args.events, args.seed, args.rounds, args.split, models))


if __name__ == "__main__":
    main()
