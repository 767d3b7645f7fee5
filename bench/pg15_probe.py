"""`python -m bench.pg15_probe 20000`: the two-process rebuild into one PostgreSQL database,
with pg_stat_activity sampled while it runs (what each group's backend waits on), and the
one-process rebuild beside it. pg15's probe of the s37 PostgreSQL two-process slowdown.

`PG15_EXPLAIN=1`: statements slower than 200 ms logged with their plans (auto_explain), and
summed per statement before the cluster goes (rebuild16)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import create_engine, text

from bench import infra
from bench.history.generator import generate
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites import replay
from eventstore.trust import install


async def sample(url: str, stop: asyncio.Event, seen: collections.Counter[str]) -> None:
    engine = create_engine(url.split("/rebuild_")[0] + "/postgres")
    try:
        while not stop.is_set():
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT state, coalesce(wait_event_type,'-'), coalesce(wait_event,'-'),"
                        " left(regexp_replace(query, '\\s+', ' ', 'g'), 90)"
                        " FROM pg_stat_activity WHERE datname LIKE 'rebuild_%'"
                    )
                ).all()
            for state, wtype, wev, query in rows:
                seen[f"{state}|{wtype}:{wev}|{query if state == 'active' else ''}"] += 1
            await asyncio.sleep(0.2)
    finally:
        engine.dispose()


def slow_statements(log: Path) -> None:
    """auto_explain's entries in the server log, summed per statement (first 80 chars)."""
    text_ = log.read_text(errors="replace") if log.exists() else ""
    found = re.findall(r"duration: ([0-9.]+) ms\s+plan:\s*\n\s*Query Text: ([^\n]{0,80})", text_)
    total: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    for ms, query in found:
        total[query] += float(ms)
        count[query] += 1
    print(f"statements over 200 ms: {sum(count.values())}, {sum(total.values()) / 1000:.1f} s")
    for query, ms in sorted(total.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {count[query]:4d} {ms / 1000:7.1f} s  {query}", flush=True)


async def measure(events: int, seed: int, one: bool) -> None:
    import bootstrap.parts  # noqa: F401

    history = generate(seed, events)
    with infra.nats_server() as server, infra.postgres() as pg:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            loaded = await load_history(client, history, signers=SIGNERS)
            ctx: Any = SimpleNamespace(service_nc=svc, loaded=loaded)
            n = loaded.events
            print("groups", [[m.name for m in g] for g in replay.groups()], flush=True)
            url = pg.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
            if os.environ.get("PG15_EXPLAIN"):
                eng = create_engine(url, isolation_level="AUTOCOMMIT")
                with eng.connect() as conn:
                    db = url.rsplit("/", 1)[-1]
                    conn.execute(
                        text(f"ALTER DATABASE {db} SET session_preload_libraries = 'auto_explain'")
                    )
                    conn.execute(
                        text(f"ALTER DATABASE {db} SET auto_explain.log_min_duration = '200ms'")
                    )
                    conn.execute(text(f"ALTER DATABASE {db} SET auto_explain.log_analyze = on"))
                eng.dispose()
                print("log", pg.base / "log", flush=True)
            seen: collections.Counter[str] = collections.Counter()
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample(url, stop, seen))
            split = await replay.rebuild_split(ctx, url)
            stop.set()
            await sampler
            if os.environ.get("PG15_EXPLAIN"):
                slow_statements(pg.base / "log")
            print(
                json.dumps(
                    {
                        "way": "two processes",
                        "wall_s": round(split.seconds, 2),
                        "groups": [
                            {"cpu_us": round(g.cpu_s / n * 1e6), "wall_s": round(g.wall_s, 1)}
                            for g in split.groups
                        ],
                        "load": os.getloadavg()[0],
                    }
                ),
                flush=True,
            )
            for k, v in seen.most_common(25):
                print(f"{v:5d} {k}", flush=True)
            if os.environ.get("PG15_COMPARE"):
                # The same history into SQLite (whose statements pg15 left alone): the
                # PostgreSQL spans and totals must hold the same rows.
                lite = f"sqlite:////tmp/pg15-{uuid.uuid4().hex[:8]}.db"
                await replay.rebuild_measured(ctx, lite)
                for table in ("enrolment_v4_programme_spans", "enrolment_v4_programme_totals"):
                    got = []
                    for u in (url, lite):
                        eng = create_engine(u)
                        with eng.connect() as conn:
                            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
                        eng.dispose()
                        got.append(sorted(tuple(map(str, r)) for r in rows))
                    print(table, len(got[0]), "rows; same as SQLite:", got[0] == got[1])
            if one:
                url = pg.create_database(f"rebuild_{uuid.uuid4().hex[:8]}")
                seconds, _, cpu = await replay.rebuild_measured(ctx, url)
                print(
                    json.dumps(
                        {
                            "way": "one",
                            "wall_s": round(seconds, 2),
                            "cpu_us": round(cpu / n * 1e6),
                            "load": os.getloadavg()[0],
                        }
                    )
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events", type=int)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--one", action="store_true")
    args = parser.parse_args()
    asyncio.run(measure(args.events, args.seed, args.one))


if __name__ == "__main__":
    main()
