"""`python -m bench.imported_route`: the commands suite's two-event route alone (import14).

`RecordImportedContractRelease` (a fact and its provenance, one atomic batch) through the
registry's general command path served in this process, at concurrency 1 and 64, beside a
raw publish of the same envelopes: the rows `registry RecordImportedContractRelease` of
`python -m bench --only commands` without that suite's other routes and levels, so that two
checkouts can be compared in minutes (run it from each checkout's root). Also this
process's CPU per command (client and service: they share it).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time

from bench import infra
from bench.config import QUICK
from bench.history.generator import generate
from bench.loader import SIGNERS, load_history, reader_trust
from bench.suites.commands import (
    MULTI_EVENT_ROUTE,
    level,
    registry_imported_amendment,
    running_contracts,
)
from bench.workload import ensure_raw_stream
from bootstrap.parts import registry_service
from contracts_schema.subjects import REGISTRY
from eventstore.clock import SystemClock
from eventstore.service_app import serve_in_process
from eventstore.store import EventStore
from eventstore.trust import install


async def main() -> None:
    history = generate(QUICK.seed, QUICK.history_events)
    with infra.nats_server() as server:
        async with infra.connected(server.url) as client, infra.connected(server.url) as svc:
            install(reader_trust(), client, svc)
            await load_history(client, history, signers=SIGNERS)
            clock = SystemClock()
            store = EventStore(svc, clock, signers=SIGNERS)
            broker = await serve_in_process(svc, [registry_service(store, clock)], max_workers=256)
            await ensure_raw_stream(client.jetstream())
            make = functools.partial(registry_imported_amendment, running_contracts(history))
            reader = EventStore(client, clock)
            try:
                for c in (1, 64):
                    cpu = time.process_time()
                    figures = await level(client, reader, REGISTRY, MULTI_EVENT_ROUTE, make, c,
                                          QUICK)  # fmt: skip
                    per = 1000 * (time.process_time() - cpu) / QUICK.commands_per_level
                    for f in figures:
                        print(f"{f.name}: {f.value} {f.unit} vs {f.baseline}", flush=True)
                    print(f"  CPU of this process {per:.2f} ms per command (raw side included)"
                          f"; load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
            finally:
                await broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
