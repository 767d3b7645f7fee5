"""The GT Mobiele Communicatie demo served by a gateway in a process of its own.

`python -m tests.integration.gateway.serve_demo DB` prints `port <n>` once it serves, and
stops when its standard input closes. The stall test reads this process's CPU time, so
what it measures is the gateway's work alone: not the client's, not another test's
leftover threads, not the collector walking a test worker's heap.
"""

from __future__ import annotations

import asyncio
import sys

from contracts_schema.subjects import CONTEXTS
from eventstore.clock import SystemClock
from eventstore.memory import InMemoryEventStore
from gateway.app import build_app
from gateway.serve import Server
from tests.integration.gateway.harness import start_memory_gateway
from tests.integration.gateway.history import load_gt_mobile


async def serve(database: str) -> None:
    store = InMemoryEventStore(SystemClock())
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    g = await start_memory_gateway(store, f"sqlite:///{database}")
    await g.settle(await load_gt_mobile(g))
    assert g.read is not None
    server = await Server(build_app(g.read, g.settings), log_config=None).start()
    try:
        print(f"port {server.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await server.stop()
        await g.stop()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
