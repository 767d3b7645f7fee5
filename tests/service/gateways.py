"""Gateways the service tests share, beyond the conftest's (which feeds the registry and
enrolment services only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bootstrap.parts import enrolment_service, notifier_service, registry_service
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.integration.gateway.history import load_gt_mobile
from tests.service.bus import InProcessBus


@asynccontextmanager
async def gateway_of_every_service(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path, *, demo: bool = False
) -> AsyncIterator[Gateway]:
    """The gateway over the registry, enrolment and notifier services (`demo`: with the
    GT mobile history loaded and applied), for tests that need commands of all three."""
    services = [
        registry_service(store, clock),
        enrolment_service(store, clock),
        notifier_service(store, clock),
    ]
    for service in services:
        await service.start()
    g = await start_memory_gateway(
        store, f"sqlite:///{tmp_path / 'rm.db'}", commands=InProcessBus(services)
    )
    try:
        if demo:
            await g.settle(await load_gt_mobile(g))
        yield g
    finally:
        await g.stop()
