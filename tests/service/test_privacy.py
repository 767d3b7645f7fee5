"""Erasure and retention on the in-memory store (docs/privacy.md): the identity store forgets,
the notifier's `person` aggregate records each erasure once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bootstrap.parts import notifier_service
from contracts_schema.privacy import ERASED, pseudonym_of, render_actor
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import CONTEXTS, NOTIFIER
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from gateway.auth import Principal, Role
from gateway.privacy.erasure import actor_names, actor_of, erase, erase_subject, sweep_retention
from gateway.privacy.identities import IdentityStore
from tests.service.bus import InProcessBus

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def setup() -> tuple[InMemoryEventStore, InProcessBus, IdentityStore]:
    clock = FixedClock(NOW)
    store = InMemoryEventStore(clock)
    for context in CONTEXTS.values():
        await store.ensure_stream(context)
    service = notifier_service(store, clock)
    await service.start()
    return store, InProcessBus([service]), IdentityStore.open(None)


async def erasures(store: InMemoryEventStore) -> list[dict[str, object]]:
    return [
        e.envelope.payload
        async for e in store.read_stream(NOTIFIER)
        if e.envelope.event_type == "PersonErased"
    ]


async def test_a_participant_acts_under_a_pseudonym_with_its_organisation(
    setup: tuple[InMemoryEventStore, InProcessBus, IdentityStore],
) -> None:
    _, _, identities = setup
    principal = Principal(Role.PARTICIPANT, "anna@GM0363", "GM0363")
    actor = await actor_of(principal, identities)
    assert actor.startswith("participant:p-")
    assert actor.endswith("@GM0363")
    assert "anna" not in actor
    assert await actor_of(principal, identities) == actor  # one pseudonym per person
    assert actor_names(identities, {actor, "coordinator:demo"}) == {
        actor: "participant:anna@GM0363@GM0363",
        "coordinator:demo": "coordinator:demo",  # not a pseudonym: shown as stored
    }


async def test_an_erasure_forgets_the_identity_and_is_recorded_once(
    setup: tuple[InMemoryEventStore, InProcessBus, IdentityStore],
) -> None:
    store, bus, identities = setup
    actor = await actor_of(Principal(Role.COORDINATOR, "jan"), identities)
    pseudonym = pseudonym_of(actor)
    assert pseudonym is not None
    reply = await erase_subject(identities, bus, "jan", "coordinator:officer")
    assert isinstance(reply, CommandAccepted), reply
    assert actor_names(identities, {actor}) == {actor: f"coordinator:{ERASED} ({pseudonym})"}
    assert identities.known_pseudonym("jan") is None
    assert await erasures(store) == [{"pseudonym": pseudonym, "basis": "request"}]
    # The same pseudonym again (a retry after a crash between event and delete): the same
    # command (its id is derived from the pseudonym), answered as a duplicate; no second event.
    again = await erase(identities, bus, pseudonym, "request", "coordinator:officer")
    assert isinstance(again, CommandAccepted)
    assert again.duplicate
    assert len(await erasures(store)) == 1
    unknown = await erase_subject(identities, bus, "jan", "coordinator:officer")
    assert not isinstance(unknown, CommandAccepted)
    assert unknown.code == "PERSON_UNKNOWN"
    # Signing in again later makes a new pseudonym: the old history stays erased.
    assert await actor_of(Principal(Role.COORDINATOR, "jan"), identities) != actor


async def test_identities_unused_beyond_the_retention_period_are_erased_with_events(
    setup: tuple[InMemoryEventStore, InProcessBus, IdentityStore],
) -> None:
    store, bus, identities = setup
    old = identities.pseudonym_for("left-in-2016", now=NOW - timedelta(days=400))
    recent = identities.pseudonym_for("still-here", now=NOW - timedelta(days=10))
    erased = await sweep_retention(identities, bus, timedelta(days=365), now=NOW)
    assert erased == [old]
    assert identities.identities_of({old, recent}) == {recent: "still-here"}
    assert await erasures(store) == [{"pseudonym": old, "basis": "retention"}]


def test_rendering_leaves_services_and_old_clear_text_actors_as_stored() -> None:
    p = "p-" + "ab" * 16
    assert render_actor(f"coordinator:{p}", {p: "jan"}.get) == "coordinator:jan"
    assert render_actor(f"coordinator:{p}", {}.get) == f"coordinator:{ERASED} ({p})"
    assert render_actor("coordinator:demo", {}.get) == "coordinator:demo"
    assert render_actor("gateway:retention", {}.get) == "gateway:retention"
