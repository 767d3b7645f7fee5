"""The cyclic garbage collector's full collections kept short in a long-running process.

A full collection walks every tracked object the process holds, and holds the GIL while
it does: in the projector, with a catch-up's read models and caches in memory, one took
0.3-0.9 s under the freshness benchmark's load, and every read model's commit (and so every
read-your-writes answer) waited behind it; the embedded system's process (gateway, services)
had the same. What lives that long is not garbage, so `keep_full_collections_short` freezes
it (`gc.freeze`: out of the collector's sight, still freed by reference counting): once when
the process has started, again when the last catch-up of its runners has ended
(`after_catch_up`), and whenever a full collection took more than `LONG` of CPU, its
survivors. The next full collection then walks only what was promoted since.

The cost: an object frozen while alive that later becomes garbage *in a reference cycle* is
never collected. The freezes are rare and rate-limited (start, catch-up end, and at most
one slow full collection's survivors per `SPACING`), so what stays is the few cycles alive
at those instants: at most one such set per `SPACING`, not one per collection. A slow
collection is told by the collecting thread's CPU time, so one that was merely preempted on
a busy machine does not count. `survivor_freezes()` says how many there were. Only for
processes that run one system for long (the projector, `make run`, the gateway process, the
freshness benchmark, which `uninstall`s it when done); never in tests, which build many.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

LONG = 0.02  # seconds of CPU: a full collection costlier than this freezes its survivors
SPACING = 30.0  # seconds: at most one survivors' freeze in this long

_installed = False
_started = 0.0
_last_freeze = float("-inf")
_survivor_freezes = 0


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    global _started, _last_freeze, _survivor_freezes
    if info.get("generation") != 2:
        return
    if phase == "start":
        _started = time.thread_time()  # the collection runs in the thread that triggered it
    elif time.thread_time() - _started > LONG and time.monotonic() - _last_freeze >= SPACING:
        gc.freeze()  # the survivors of a full collection are long-lived
        _last_freeze = time.monotonic()
        _survivor_freezes += 1


def survivor_freezes() -> int:
    """How many times a slow full collection's survivors were frozen in this process."""
    return _survivor_freezes


# Young objects allocated before the collector runs (CPython's default: 700). A command
# allocates hundreds (requests, futures, tasks, dictionaries), nearly all freed by reference
# counting; at 64 commands at once the default ran the collector every few commands and it
# took a fifth to a quarter of the CPU (`CONCURRENCY=64 python -m bench.cost`).
SERVING_THRESHOLDS = (50_000, 50, 100)


def tune_for_serving() -> None:
    """Collect garbage cycles less often in a command service process: its garbage is almost
    all freed by reference counting, and a collection walks every young object (a full one
    every object, the cached aggregates included). Young garbage cycles wait for at most
    50,000 allocations; older ones wait longer (a middle collection every 50 young ones, a
    full one every 100 middle ones, and then only when CPython finds enough new long-lived
    objects to make it worth it)."""
    gc.set_threshold(*SERVING_THRESHOLDS)


def freeze_start_up() -> None:
    """For a server process once it is built: what start-up made (modules, schemas,
    validators, table metadata, caches) lives as long as the process, so the collector stops
    walking it on every full collection (measured: a fifth of a GraphQL request's CPU). Not
    for processes that build many apps (tests): what is frozen is never collected."""
    gc.collect()
    gc.freeze()


def keep_full_collections_short() -> None:
    """For a long-running process, once start-up is done: collect and freeze what start-up
    made, and from now on freeze the survivors of a slow full collection. Idempotent."""
    global _installed
    freeze_start_up()
    if not _installed:
        gc.callbacks.append(_on_collection)
        _installed = True


def installed() -> bool:
    return _installed


def uninstall() -> None:
    """Stop freezing slow full collections' survivors (a benchmark whose later suites must
    see the collector as it was); what is frozen stays frozen."""
    global _installed
    if _installed:
        gc.callbacks.remove(_on_collection)
        _installed = False


def after_catch_up() -> None:
    """The last catch-up of the process's runners has ended: what it built (read models'
    caches, folds) lives on; freeze it before the collector's normal thresholds return,
    rather than walking it all in the next full collection. Only in a process that asked
    (`keep_full_collections_short`)."""
    if _installed:
        gc.freeze()


# ---- while runners catch up (`eventstore.catchup`) ----

_RELAXED = 0
_RELAXED_LOCK = threading.Lock()
_THRESHOLDS: tuple[int, int, int] = gc.get_threshold()
_BACKLOG = 0  # events the catch-ups of the current relaxed spell set out to apply
# A spell catching up on this many events in all freezes what survives collections.
FREEZE_FROM = 50_000
# The youngest generation whose collections' survivors are frozen: 0, every survivor of a
# young collection, so the middle collections no longer walk them either (at 100k events:
# GC CPU 3.1 s -> 1.7 s against freezing after middle collections, leaving ~3k objects
# unreclaimed either way; `--freeze-middle` of `python -m bench.scale_nats` for the other).
FREEZE_AFTER = 0


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """After a collection (its survivors: mostly the read models' timelines, states and
    rows, which live as long as the process), move everything tracked out of the
    collector's sight (`gc.freeze`): later collections, middle or full, no longer walk the
    whole heap of a long catch-up."""
    if phase == "stop" and info["generation"] >= FREEZE_AFTER and _BACKLOG >= FREEZE_FROM:
        gc.freeze()


@contextlib.contextmanager
def relaxed_for_catch_up(backlog: int) -> Iterator[None]:
    """While any runner of the process catches up, the cyclic collector looks at young
    objects only, and less often; on a long catch-up (`FREEZE_FROM` events in all) what
    survives a collection is frozen.

    A catch-up keeps a large, growing heap of long-lived values (timelines, their states
    and rows): with the default thresholds, full collections walking all of it took about
    a third of a rebuild's CPU, and middle collections grew with the heap too. The row
    changes and events are acyclic (reference counting frees them); young cycles are still
    collected, and the thresholds come back when the last catch-up ends. What is frozen
    stays frozen (no full collection of a million timelines at the end, and the gateway's
    own start-up freeze is kept): a cycle that was alive when frozen and dies later is not
    reclaimed; the read models' values are acyclic, and what else was alive then (a
    handful of connections, tasks and futures) is bounded per freeze. Small catch-ups (a
    test's, a short outage's) never freeze; at their end a long-running process still
    freezes what they built (`after_catch_up`).
    """
    global _RELAXED, _THRESHOLDS, _BACKLOG
    with _RELAXED_LOCK:
        if _RELAXED == 0:
            _THRESHOLDS = gc.get_threshold()
            young, middle, _old = _THRESHOLDS
            gc.set_threshold(max(young, 100_000), middle, 1_000_000)
            gc.callbacks.append(_freeze_survivors)
        _RELAXED += 1
        _BACKLOG += backlog
    try:
        yield
    finally:
        with _RELAXED_LOCK:
            _RELAXED -= 1
            if _RELAXED == 0:
                gc.callbacks.remove(_freeze_survivors)
                _BACKLOG = 0
                after_catch_up()  # a long-running process freezes what the catch-up built
                gc.set_threshold(*_THRESHOLDS)
