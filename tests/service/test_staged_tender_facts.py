"""In a group commit the imported contract's facts loader takes the tender from the deciding
twin's cache instead of folding it again from its decoded events: it must be the very state
that fold gives, and the fold is still used whenever the cache does not hold the tender at
the staged head."""

from __future__ import annotations

from bootstrap.parts import registry_service
from contracts_schema.folds import FOLDS
from contracts_schema.subjects import CONTEXTS, REGISTRY
from eventstore.clock import FixedClock
from eventstore.folded import load_folded
from eventstore.group_append import StagedStore
from eventstore.group_commit import staged_twin
from eventstore.memory import InMemoryEventStore
from eventstore.records import CommandMetadata
from registry.facts_loaders import _tender
from registry.routes import build_routes
from tests.service.test_ocds_import import _planned

TENDER = FOLDS[("registry", "tender")]


async def test_the_staged_tender_is_the_fold_of_its_events(clock: FixedClock) -> None:
    store = InMemoryEventStore(clock)
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    service = registry_service(store, clock)
    await service.start()
    staged = StagedStore(store)
    twin = staged_twin(service, staged, build_routes(staged), store.processed_commands)
    ocid = "ocds-staged-1"
    assert staged.state(REGISTRY, "tender", ocid) is None  # nothing staged yet
    assert await _tender(staged, ocid) == await load_folded(staged, TENDER, ocid)
    command = _planned(ocid, "r1", 6)
    route = twin._routes[command.command_type]
    meta = CommandMetadata(command.command_id, "import:x", command.command_id)
    await twin.execute(route, command, meta)
    held = staged.state(REGISTRY, "tender", ocid)
    assert held is not None
    assert held.exists
    assert held == await load_folded(staged, TENDER, ocid)
    assert await _tender(staged, ocid) == held
    twin._cache.drop(("registry", "tender", ocid))  # not held: folded from the events
    assert staged.state(REGISTRY, "tender", ocid) is None
    assert await _tender(staged, ocid) == held
