"""The registry and enrolment services on the in-memory store: acceptance, refusals by rule,
idempotency by command id, and the facts each reads from the other's aggregates."""

from __future__ import annotations

import asyncio
from datetime import date

from bootstrap.parts import enrolment_service, registry_service
from contracts_schema.enrolment.commands import OpenEnrolmentWindow
from contracts_schema.registry import commands as cmd
from contracts_schema.subjects import ENROLMENT, REGISTRY
from eventstore.clock import FixedClock
from eventstore.errors import ConcurrencyConflict
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.story import (
    KPN,
    VODAFONE,
    award,
    call_off,
    framework_signed,
    freeze,
    on,
    plan,
    publish,
    register_parties,
)


async def types(store: InMemoryEventStore, aggregate_type: str, aggregate_id: str) -> list[str]:
    history = await store.load(REGISTRY, aggregate_type, aggregate_id)
    return [e.envelope.event_type for e in history.events]


async def test_publication_waits_for_the_participant_list_enrolment_freezes(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(plan())
    # The registry reads the enrolment window's fold: no window, no frozen list.
    refused = await bus.reject(publish(attempt="early"), "PARTICIPANT_LIST_NOT_FROZEN")
    assert "no frozen participant list" in refused.message
    await freeze(bus)
    await bus.accept(publish())
    assert await types(store, "tender", "gt-connect") == ["TenderPlanned", "TenderPublished"]


async def test_a_retried_command_is_answered_once_and_a_reused_id_is_refused(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    first = await bus.accept(plan())
    again = await bus.accept(plan())
    assert (again.duplicate, again.events) == (True, first.events)
    changed = plan().model_copy(update={"title": "Another title"})
    await bus.reject(changed, "COMMAND_ID_REUSED")
    assert await types(store, "tender", "gt-connect") == ["TenderPlanned"]


async def test_a_restarted_service_remembers_the_commands_it_handled(
    bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    # The processed-commands record lives beside the store, as the JetStream bucket does.
    first = await bus.accept(plan())
    restarted = registry_service(store, clock)
    await restarted.start()
    again = await InProcessBus([restarted]).accept(plan())
    assert (again.duplicate, again.events) == (True, first.events)


async def test_concurrent_conflicting_awards_on_one_lot_leave_one_award(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())
    await bus.accept(
        cmd.RecordBids(
            command_id="bids",
            tender_id="gt-connect",
            lot_id="voice",
            bid_count=2,
            bidder_ids=[KPN, VODAFONE],
            occurred_at=on(date(2019, 7, 1)),
        )
    )
    racers = [
        cmd.DecideProvisionalAward(
            command_id=f"award-{i}",
            tender_id="gt-connect",
            lot_id="voice",
            supplier_ids=[supplier],
            occurred_at=on(date(2019, 8, 1)),
        )
        for i, supplier in enumerate([KPN, VODAFONE] * 4)
    ]
    replies = await asyncio.gather(*(bus.send(r) for r in racers))
    accepted = [r for r in replies if r.status == "accepted"]
    assert len(accepted) == 1, replies
    assert {r.code for r in replies if r.status == "rejected"} == {"TRANSITION_NOT_ALLOWED"}
    history = await types(store, "tender", "gt-connect")
    assert history.count("ProvisionalAwardDecided") == 1


async def test_malformed_and_unknown_commands_are_answered_not_raised(bus: InProcessBus) -> None:
    assert (await bus.send_raw("registry.commands.PlanTender", b"{")).code == "MALFORMED_COMMAND"
    unknown = await bus.send_raw(
        "registry.commands.Nothing", b'{"command_type": "Nothing", "command": {}}'
    )
    assert unknown.code == "UNKNOWN_COMMAND"
    invalid = await bus.send_raw(
        "registry.commands.PlanTender",
        b'{"command_type": "PlanTender", "command": {"command_id": "x"}}',
    )
    assert invalid.code == "INVALID_COMMAND"


async def test_a_window_opens_only_for_a_tender_the_registry_planned(bus: InProcessBus) -> None:
    window = OpenEnrolmentWindow(
        command_id="open-unknown",
        tender_id="gt-unknown",
        lot_ids=["voice"],
        opens_on=date(2019, 2, 1),
        closes_on=date(2019, 4, 30),
    )
    await bus.reject(window, "TENDER_NOT_PLANNED")


async def test_call_offs_follow_the_framework_the_registry_signed(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    # Enrolment reads the registry's contract aggregate, folded: suppliers per lot, the term.
    await framework_signed(bus)
    await bus.accept(call_off("co-1", date(2020, 3, 1)))
    await bus.reject(
        call_off("co-2", date(2020, 3, 1), supplier_id=VODAFONE), "SUPPLIER_NOT_ON_FRAMEWORK_LOT"
    )
    await bus.reject(call_off("co-3", date(2024, 1, 1)), "FRAMEWORK_ENDED")
    await bus.reject(
        call_off("co-4", date(2020, 3, 1), framework_contract_id="nope"), "FRAMEWORK_NOT_FOUND"
    )
    await bus.accept(
        cmd.TerminateContract(
            command_id="terminate",
            contract_id="gt-connect-fw",
            reason="supplier insolvent",
            occurred_at=on(date(2021, 1, 1)),
        )
    )
    # The very next command sees the termination: no read model to wait for.
    await bus.reject(call_off("co-5", date(2021, 2, 1)), "FRAMEWORK_TERMINATED")


async def test_a_lot_is_awarded_definitively_after_its_standstill(
    bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())
    await award(bus, "voice", KPN)
    assert "AwardMadeDefinitive" in await types(store, "tender", "gt-connect")


class RivalFirst(InMemoryEventStore):
    """Another writer's command (another process: its own services on the same store) lands
    between our load and our append, once."""

    rival: cmd.Command | None = None
    bus: InProcessBus | None = None
    conflicts = 0

    async def append(self, history, new_events, meta, *, headers=None):  # type: ignore[no-untyped-def]
        if self.rival is not None and self.bus is not None:
            rival, self.rival = self.rival, None
            await self.bus.accept(rival)
        try:
            return await super().append(history, new_events, meta, headers=headers)
        except ConcurrencyConflict:
            self.conflicts += 1
            raise


async def _published_with_bids(clock: FixedClock) -> tuple[RivalFirst, InProcessBus]:
    store = RivalFirst(clock)
    for context in (REGISTRY, ENROLMENT):
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    bus = InProcessBus(services)
    # The rival is another process: within one, commands on one aggregate queue instead.
    rivals = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in rivals:
        await service.start()
    store.bus = InProcessBus(rivals)
    await register_parties(bus)
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())
    for lot in ("voice", "data"):
        await bus.accept(
            cmd.RecordBids(
                command_id=f"bids-{lot}",
                tender_id="gt-connect",
                lot_id=lot,
                bid_count=2,
                bidder_ids=[KPN, VODAFONE],
                occurred_at=on(date(2019, 7, 1)),
            )
        )
    return store, bus


def _provisional(lot: str, supplier: str, command_id: str) -> cmd.DecideProvisionalAward:
    return cmd.DecideProvisionalAward(
        command_id=command_id,
        tender_id="gt-connect",
        lot_id=lot,
        supplier_ids=[supplier],
        occurred_at=on(date(2019, 8, 1)),
    )


async def test_a_conflict_is_retried_on_the_aggregate_as_it_now_is(clock: FixedClock) -> None:
    store, bus = await _published_with_bids(clock)
    # A rival awards the other lot first: our append conflicts, the retry decides again.
    store.rival = _provisional("data", VODAFONE, "rival-data")
    await bus.accept(_provisional("voice", KPN, "ours-voice"))
    assert (await types(store, "tender", "gt-connect")).count("ProvisionalAwardDecided") == 2
    assert store.conflicts == 1


async def test_a_retry_refuses_by_the_rule_when_the_rival_took_the_lot(clock: FixedClock) -> None:
    store, bus = await _published_with_bids(clock)
    store.rival = _provisional("voice", VODAFONE, "rival-voice")
    await bus.reject(_provisional("voice", KPN, "ours-voice"), "TRANSITION_NOT_ALLOWED")
    assert (await types(store, "tender", "gt-connect")).count("ProvisionalAwardDecided") == 1
    assert store.conflicts == 1


class LandsThenTimesOut(InMemoryEventStore):
    """The broker stores the append but its acknowledgement is lost (a timeout), once."""

    lose_next = False
    timeouts = 0

    async def append(self, history, new_events, meta, *, headers=None):  # type: ignore[no-untyped-def]
        stored = await super().append(history, new_events, meta, headers=headers)
        if self.lose_next:
            self.lose_next = False
            self.timeouts += 1
            raise TimeoutError("the publish acknowledgement did not arrive")
        return stored


async def test_a_write_whose_acknowledgement_was_lost_is_its_first_acceptance(
    clock: FixedClock,
) -> None:
    store = LandsThenTimesOut(clock)
    for context in (REGISTRY, ENROLMENT):
        await store.ensure_stream(context)
    services = [registry_service(store, clock), enrolment_service(store, clock)]
    for service in services:
        await service.start()
    bus = InProcessBus(services)
    await register_parties(bus)
    store.lose_next = True
    first = await bus.accept(plan())
    assert store.timeouts == 1
    # The service found its own events after the timeout: accepted once, not a duplicate.
    again = await bus.accept(plan())
    assert (first.duplicate, again.duplicate) == (False, True)
    assert await types(store, "tender", "gt-connect") == ["TenderPlanned"]
