"""The fast middle layer: services, read models and GraphQL on the in-memory event store.

No broker and no database server: commands go through each service's `CommandService` on an
`InMemoryEventStore`, read models through the `ProjectionRunner` fed by its in-memory
subscriber into a SQLite file. A fixture holds every test to that: it fails the test if a
`nats-server` or PostgreSQL process was started beneath this one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts_schema.subjects import CONTEXTS
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import bus_on

SERVERS = ("nats-server", "postgres", "postmaster")


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process beneath `pid`, from /proc."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append((int(entry.name), name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def servers_beneath(pid: int) -> list[tuple[int, str]]:
    return [(p, n) for p, n in _descendants(pid) if n.startswith(SERVERS)]


@pytest.fixture(autouse=True)
def no_server_process() -> Iterator[None]:
    yield
    started = servers_beneath(os.getpid())
    assert not started, f"the fast layer started server processes: {started}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
async def store(clock: FixedClock) -> InMemoryEventStore:
    memory = InMemoryEventStore(clock)
    for context in CONTEXTS.values():
        await memory.ensure_stream(context)
    return memory


@pytest.fixture
async def bus(store: InMemoryEventStore, clock: FixedClock) -> InProcessBus:
    """The registry and enrolment services on one in-memory store, as the system wires them."""
    return await bus_on(store, clock)


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """The gateway with its read models in a SQLite file, fed by the in-memory store and
    sending its commands to `bus` (a test module may define its own)."""
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'views.db'}", commands=bus)
    try:
        yield g
    finally:
        await g.stop()
