"""The import's timeline against one registry process (helper import11): where the wall
clock goes that no process spends CPU in.

Runs the bench suite's import (`bench.suites.ocds_import.package`, fresh ocids each round)
against `python -m bootstrap.serve registry` on a server of its own, `--rounds` times in the
same registry process (the first round warms it), and prints per round: wall seconds,
events/s, CPU per event of the importer, the registry and the server, and each group
message's send and answer times relative to the start (when the registry was idle).

    .venv/bin/python -m bench.import_timeline --processes 200 --rounds 4

`--switch FILE` A/B's the registry's own code in alternating rounds (helper import34): before
each round FILE is written with the round's variant ("A" or "B", in `variant_of`'s order), for
a registry process to read (the bench ships no reader: a scratch `sitecustomize` on
PYTHONPATH, which the registry process inherits, switches what it compares); the end prints
each variant's medians and every pair's B/A of the three processes' CPU per event.

`--importer-base REV` A/B's the importer's mapping the same way (helper import37): A's rounds
map with REV's `map_release` (importer_map.py, importer_ids.py, importer_unrecorded.py loaded
from git: `bench.import_map_ab.load_revision`), B's with this checkout's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.gc_window import GcWindow
from bench.infra import connected, nats_server
from bench.suites.ocds_import import _server_cpu, package, registry_process


def schedstat(pid: int | str | None = "self") -> tuple[float, float]:
    """A process's main thread's seconds on a CPU and seconds runnable but waiting for one
    (/proc/<pid>/schedstat): on a loaded machine, run + wait over the wall is the share of
    the time it had work, whatever the load made it wait; the rest it was idle (waiting on
    the network, on another process)."""
    if pid is None:
        return 0.0, 0.0
    try:
        run, wait, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(run) / 1e9, int(wait) / 1e9


class _Sampler:
    """The registry's main thread's state sampled every ~2 ms from a thread of this process
    (/proc/<pid>/stat: R, on a CPU or runnable; else idle, waiting on its connection): where
    in the round it idled, by how many group messages the importer had at the registry
    then (sent, not yet answered)."""

    def __init__(self, pid: int | None, started: float) -> None:
        self._path = Path(f"/proc/{pid}/stat")
        self._started = started
        self._samples: list[tuple[float, bool]] = []  # (time in the round, runnable)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                state = self._path.read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            self._samples.append((time.perf_counter() - self._started, state == "R"))
            time.sleep(0.002)

    def stop(self, sent: list[tuple[float, float, int]], wall: float) -> str:
        self._done.set()
        self._thread.join()
        split = idle_by_groups(self._samples, sent, wall)
        parts = ", ".join(
            f"{k}: {share:.0%} of the round, registry idle {idle:.0%}"
            for k, (share, idle) in sorted(split.items())
        )
        return f"   messages at the registry (share of samples) {parts}"


def idle_by_groups(
    samples: Sequence[tuple[float, bool]], sent: Sequence[tuple[float, float, int]], wall: float
) -> dict[int, tuple[float, float]]:
    """Samples (time in the round, registry runnable) split by how many messages were at the
    registry then (`sent`: (sent, answered, bytes) each): per count, (its share of the
    round's samples, the share of them in which the registry was idle), over the round."""
    idle: dict[int, int] = {}
    count: dict[int, int] = {}
    for t, runnable in samples:
        if t > wall:
            break
        at = sum(1 for a, b, _ in sent if a <= t < b)
        count[at] = count.get(at, 0) + 1
        idle[at] = idle.get(at, 0) + (not runnable)
    total = sum(count.values())
    return {k: (n / total, idle.get(k, 0) / total) for k, n in count.items()}


def settings(text: str) -> dict[str, int]:
    """`--ab`'s importer settings, `NAME=VALUE,...` (module constants of
    `audit.ocds.importer`: GROUP, PIPELINE, MIN_GROUP, IDLE_GROUP, CONCURRENCY)."""
    import audit.ocds.importer as importer

    found: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in AB_SETTINGS or not hasattr(importer, name):
            raise ValueError(f"--ab: {name!r} is none of {', '.join(AB_SETTINGS)}")
        found[name] = int(value)
    return found


AB_SETTINGS = ("GROUP", "PIPELINE", "MIN_GROUP", "IDLE_GROUP", "CONCURRENCY")


def variant_of(round_: int, ab: bool) -> str:
    """Which variant a round runs with `--ab`: round 0 warms the registry (A), then A and B
    alternate in pairs whose order turns (B A, A B, B A, ...), so neither always goes
    first."""
    if not ab or round_ == 0:
        return "A"
    pair, second = divmod(round_ - 1, 2)
    first = "B" if pair % 2 == 0 else "A"
    return first if second == 0 else ("A" if first == "B" else "B")


def ab_summary(rows: Sequence[tuple[str, float, float, float]]) -> list[str]:
    """Per variant, the medians of its rounds' (events/s, registry CPU ms/event, registry
    idle share) and B over A for each; the warm-up round (the first) left out."""
    from statistics import median

    by: dict[str, list[tuple[float, float, float]]] = {}
    for variant, rate, cpu, idle in rows[1:]:
        by.setdefault(variant, []).append((rate, cpu, idle))
    lines = []
    medians: dict[str, tuple[float, float, float]] = {}
    for variant in sorted(by):
        got = by[variant]
        m = (median(g[0] for g in got), median(g[1] for g in got), median(g[2] for g in got))
        medians[variant] = m
        lines.append(
            f"{variant}: {len(got)} rounds, median {m[0]:,.0f} events/s, registry"
            f" {m[1]:.3f} ms/event, idle {m[2]:.0%}"
        )
    if "A" in medians and "B" in medians:
        a, b = medians["A"], medians["B"]
        lines.append(
            f"B/A: events/s {b[0] / a[0]:.3f}x, registry ms/event {b[1] / a[1]:.3f}x"
            if a[0] and a[1]
            else "B/A: no A figure"
        )
    return lines


def pair_ratios(rows: Sequence[tuple[str, Sequence[float]]]) -> list[list[float]]:
    """B over A of each figure, per pair of rounds (`variant_of`'s pairs: rounds 1-2, 3-4,
    ...; the warm-up, round 0, and a last unpaired round left out)."""
    ratios = []
    for start in range(1, len(rows) - 1, 2):
        pair = dict(rows[start : start + 2])
        a, b = pair.get("A"), pair.get("B")
        if a is None or b is None:
            continue
        ratios.append([y / x if x else float("nan") for x, y in zip(a, b, strict=True)])
    return ratios


def switch_summary(rows: Sequence[tuple[str, Sequence[float]]], names: Sequence[str]) -> list[str]:
    """Per variant the median of each figure (`names`), then per figure the median of the
    pairs' B/A and in how many pairs B was lower (the warm-up left out)."""
    from statistics import median

    lines = []
    for variant in ("A", "B"):
        got = [v for k, v in rows[1:] if k == variant]
        if got:
            medians = ", ".join(f"{n} {median(g[i] for g in got):.4g}" for i, n in enumerate(names))
            lines.append(f"{variant}: {len(got)} rounds, medians {medians}")
    pairs = pair_ratios(rows)
    if pairs:
        parts = []
        for i, n in enumerate(names):
            each = [p[i] for p in pairs]
            lower = sum(1 for r in each if r < 1)
            parts.append(f"{n} {median(each):.3f}x (B lower in {lower} of {len(each)})")
        lines.append(f"B/A per pair, median of {len(pairs)} pairs: " + ", ".join(parts))
    return lines


SWITCH_FIGURES = ("events/s", "importer ms/event", "registry ms/event", "server ms/event")


async def main(
    processes: int,
    rounds: int,
    verbose: bool,
    collector: str = "cli",
    idle_map: bool = False,
    ab: dict[str, int] | None = None,
    switch: Path | None = None,
    importer_base: str | None = None,
) -> None:
    import audit.ocds.importer as importer
    from audit.ocds.importer import import_items, prepare
    from audit.ocds.importer_read import read
    from eventstore.clock import SystemClock
    from eventstore.serving import request_reply
    from eventstore.store import EventStore

    prepare()  # (as the CLI and the bench suite do before the import)
    if collector == "cli":  # as `audit ocds import` runs (import14)
        from audit.ocds.importer import collector_for_import

        # For the rest of this process; the manager kept: collected, it would restore the
        # default thresholds at once (its generator closed), as import14's timeline did.
        kept = collector_for_import()
        kept.__enter__()
    with nats_server() as server:
        async with connected(server.url) as nc:
            ctx: Any = SimpleNamespace(nats=server, client=nc)
            store = EventStore(nc, SystemClock())
            base = {name: getattr(importer, name) for name in (ab or {})}
            # `--importer-base`: A's rounds map with that revision's `map_release` (helper
            # import37), B's with this checkout's
            mapping = {"B": vars(importer)["map_release"]}
            if importer_base is not None:
                from bench.import_map_ab import load_revision

                mapping["A"] = load_revision(importer_base).map_release
            alternating = ab is not None or switch is not None or importer_base is not None
            rows: list[tuple[str, float, float, float]] = []
            switched: list[tuple[str, Sequence[float]]] = []
            async with registry_process(ctx, 1) as cpu_seconds:
                for r in range(rounds):
                    variant = variant_of(r, alternating)
                    if switch is not None:
                        _write(switch, variant)
                    setattr(importer, "map_release", mapping.get(variant, mapping["B"]))  # noqa: B010
                    for name, value in (ab if variant == "B" and ab else base).items():
                        setattr(importer, name, value)
                    data = package(processes, f"ocds-tl{r:02d}x")
                    sent: list[tuple[float, float, int]] = []
                    started = time.perf_counter()

                    async def request(
                        subject: str,
                        payload: bytes,
                        sent: list[tuple[float, float, int]] = sent,
                        started: float = started,
                    ) -> bytes:
                        at = time.perf_counter() - started
                        reply = await request_reply(nc, subject, payload, timeout=120)
                        sent.append((at, time.perf_counter() - started, len(payload)))
                        return reply

                    reg0, imp0, srv0 = cpu_seconds()[0], time.process_time(), _server_cpu(ctx)
                    pid = _registry_pid()
                    rs0, is0 = schedstat(pid), schedstat()
                    sampler = _Sampler(pid, started) if idle_map else None
                    with GcWindow() as gcs:
                        report = await import_items(list(read(data, "bench")), request, store)
                    wall = time.perf_counter() - started
                    reg = cpu_seconds()[0] - reg0
                    imp = time.process_time() - imp0
                    srv = _server_cpu(ctx) - srv0
                    rs, is_ = schedstat(pid), schedstat()
                    mapped = None if sampler is None else sampler.stop(sent, wall)
                    r_run, r_wait = rs[0] - rs0[0], rs[1] - rs0[1]
                    i_run, i_wait = is_[0] - is0[0], is_[1] - is0[1]
                    n = report.events or 1
                    rows.append(
                        (variant, report.events / wall, 1000 * reg / n, 1 - (r_run + r_wait) / wall)
                    )
                    figures = (report.events / wall, 1000 * imp / n, 1000 * reg / n, 1000 * srv / n)
                    switched.append((variant, figures))
                    shown = alternating
                    print(
                        f"round {r}{f' ({variant})' if shown else ''}: {wall:.3f} s,"
                        f" {report.events / wall:,.0f} events/s"
                        f" ({report.imported} releases, {len(report.skipped)} skipped);"
                        f" CPU ms/event importer {1000 * imp / n:.3f}, registry"
                        f" {1000 * reg / n:.3f}, server {1000 * srv / n:.3f};"
                        f" registry busy {reg / wall:.0%}, importer {imp / wall:.0%};"
                        f" importer collections {gcs.collections}, {sum(gcs.seconds):.3f} s",
                        flush=True,
                    )
                    print(
                        f"   main threads' share of the wall: registry on CPU {r_run / wall:.0%},"
                        f" runnable {r_wait / wall:.0%}, idle {1 - (r_run + r_wait) / wall:.0%};"
                        f" importer on CPU {i_run / wall:.0%}, runnable {i_wait / wall:.0%},"
                        f" idle {1 - (i_run + i_wait) / wall:.0%}",
                        flush=True,
                    )
                    if mapped is not None:
                        print(mapped, flush=True)
                    if verbose:
                        for a, b, size in sorted(sent):
                            print(f"   sent {a:.3f} answered {b:.3f} ({b - a:.3f}) {size:,} B")
            for name, value in base.items():
                setattr(importer, name, value)
            setattr(importer, "map_release", mapping["B"])  # noqa: B010
            if ab is not None:
                print(f"A: as the importer is; B: {ab}")
                for line in ab_summary(rows):
                    print(line, flush=True)
            if switch is not None or importer_base is not None:
                if switch is not None:
                    print(f"A and B: the registry's variants read from {switch}")
                if importer_base is not None:
                    print(f"A: the importer maps with {importer_base}'s map_release; B: ours")
                for line in switch_summary(switched, SWITCH_FIGURES):
                    print(line, flush=True)


def _write(path: Path, text: str) -> None:
    """(Between rounds, nothing else running on this loop.)"""
    path.write_text(text)


def _registry_pid() -> int | None:
    """The registry process this one started (`python -m bootstrap.serve registry`)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == me and b"bootstrap.serve" in cmdline:
            return int(entry.name)
    return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("-v", action="store_true")
    # cli: the collector as `audit ocds import` sets it; default: CPython's own thresholds
    parser.add_argument("--collector", choices=("cli", "default"), default="cli")
    # where the registry idled: sampled by a thread of this process (costs it ~1-2% CPU)
    parser.add_argument("--idle-map", action="store_true")
    # B's importer settings (`GROUP=32,PIPELINE=4`): rounds alternate A (as it is) and B in
    # the same registry, the medians of each and B over A printed at the end
    parser.add_argument("--ab", type=settings, default=None)
    # A FILE the registry reads its variant from, written before each round (see the top)
    parser.add_argument("--switch", type=Path, default=None)
    # A git revision whose importer_map/_ids/_unrecorded map A's rounds (B: this checkout's)
    parser.add_argument("--importer-base", default=None)
    args = parser.parse_args()
    options = (args.collector, args.idle_map, args.ab, args.switch, args.importer_base)
    asyncio.run(main(args.processes, args.rounds, args.v, *options))
