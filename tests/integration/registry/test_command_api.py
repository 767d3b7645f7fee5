"""The registry's command API on NATS: the frozen-list guard, retries and races."""

from __future__ import annotations

import asyncio
from datetime import date

from nats.aio.client import Client as NATS

from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import Lot
from contracts_schema.replies import CommandAccepted, CommandRejected
from eventstore.clock import FixedClock
from eventstore.hashing import verify_chain
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.registry.harness import (
    Coordinator,
    freeze_participants,
    history,
    on,
    open_window,
    running_registry,
    types,
)

LNVT = "KVK-71830960"
KPN = "KVK-27124701"
TELE2 = "KVK-33294618"
VODAFONE = "KVK-14052264"


def plan(tender_id: str) -> cmd.PlanTender:
    return cmd.PlanTender(
        command_id=f"{tender_id}-plan",
        tender_id=tender_id,
        title="GT Connect",
        contracting_authority=LNVT,
        procedure="open",
        framework=True,
        lots=[Lot(lot_id="voice", title="Voice"), Lot(lot_id="data", title="Data")],
        occurred_at=on(date(2019, 1, 10)),
    )


def publish(tender_id: str, attempt: str) -> cmd.PublishTender:
    return cmd.PublishTender(
        command_id=f"{tender_id}-pub-{attempt}",
        tender_id=tender_id,
        notice_reference="TenderNed 1",
        occurred_at=on(date(2019, 6, 1)),
    )


async def test_publication_is_refused_while_no_frozen_participant_list_exists(
    nats_server: NatsServer, nats_client: NATS, fixed_clock: FixedClock
) -> None:
    # A fresh server: the enrolment stream does not even exist yet.
    store = EventStore(nats_client, fixed_clock)
    async with running_registry(nats_server.url, fixed_clock):
        c = Coordinator(nats_client)
        await c.accept(plan("GT-connect"))
        refused = await c.reject(publish("GT-connect", "1"), "PARTICIPANT_LIST_NOT_FROZEN")
        assert "no frozen participant list" in refused.message
        # An open window is not a frozen list.
        await open_window(store, "GT-connect", ["voice", "data"], date(2019, 5, 1))
        await c.reject(publish("GT-connect", "2"), "PARTICIPANT_LIST_NOT_FROZEN")
        # Frozen after the publication date: still refused, judged on valid time.
        await freeze_participants(store, "GT-connect", date(2019, 6, 15), {"GM0363": ["voice"]})
        late = await c.reject(publish("GT-connect", "3"), "PARTICIPANT_LIST_NOT_FROZEN")
        assert "frozen only on 2019-06-15" in late.message
        later = publish("GT-connect", "4").model_copy(update={"occurred_at": on(date(2019, 6, 20))})
        await c.accept(later)
        assert types(await history(store, "tender", "GT-connect")) == [
            "TenderPlanned",
            "TenderPublished",
        ]


async def test_the_same_command_retried_yields_no_duplicate_events(
    coordinator: Coordinator, store: EventStore
) -> None:
    await coordinator.accept(plan("retry-t"))
    await freeze_participants(store, "retry-t", date(2019, 5, 1), {"GM0363": ["voice"]})
    command = publish("retry-t", "once")
    first = await coordinator.accept(command)
    again = await coordinator.accept(command)
    assert again.duplicate is True
    assert again.events == first.events
    assert again.consistency_token == first.consistency_token
    # Same id, different content: refused rather than silently treated as a retry.
    changed = command.model_copy(update={"notice_reference": "TenderNed 2"})
    await coordinator.reject(changed, "COMMAND_ID_REUSED")
    assert types(await history(store, "tender", "retry-t")) == ["TenderPlanned", "TenderPublished"]


async def _published_with_bids(c: Coordinator, store: EventStore, tender_id: str) -> None:
    await c.accept(plan(tender_id))
    await freeze_participants(store, tender_id, date(2019, 5, 1), {"GM0363": ["voice", "data"]})
    await c.accept(publish(tender_id, "1"))
    for lot in ("voice", "data"):
        await c.accept(
            cmd.RecordBids(
                command_id=f"{tender_id}-bids-{lot}",
                tender_id=tender_id,
                lot_id=lot,
                bid_count=3,
                bidder_ids=[KPN, TELE2, VODAFONE],
                occurred_at=on(date(2019, 7, 1)),
            )
        )


async def test_concurrent_conflicting_awards_on_one_lot_leave_one_award(
    coordinator: Coordinator, store: EventStore
) -> None:
    tender_id = "race-award"
    await _published_with_bids(coordinator, store, tender_id)
    suppliers = [KPN, TELE2, VODAFONE] * 4
    replies = await asyncio.gather(
        *(
            coordinator.send(
                cmd.DecideProvisionalAward(
                    command_id=f"race-{i}",
                    tender_id=tender_id,
                    lot_id="voice",
                    supplier_ids=[s],
                    occurred_at=on(date(2019, 8, 1)),
                )
            )
            for i, s in enumerate(suppliers)
        )
    )
    accepted = [r for r in replies if isinstance(r, CommandAccepted)]
    rejected = [r for r in replies if isinstance(r, CommandRejected)]
    assert len(accepted) == 1
    assert {r.code for r in rejected} == {"TRANSITION_NOT_ALLOWED"}
    events = await history(store, "tender", tender_id)
    assert types(events).count("ProvisionalAwardDecided") == 1
    assert [e.envelope.aggregate_version for e in events] == list(range(1, len(events) + 1))
    assert not verify_chain(tender_id, [e.envelope.model_dump(mode="json") for e in events])


async def test_concurrent_cancel_and_award_of_a_lot_agree_on_one_outcome(
    coordinator: Coordinator, store: EventStore
) -> None:
    tender_id = "race-cancel"
    await _published_with_bids(coordinator, store, tender_id)
    award = cmd.DecideProvisionalAward(
        command_id="rc-award",
        tender_id=tender_id,
        lot_id="data",
        supplier_ids=[KPN],
        occurred_at=on(date(2019, 8, 1)),
    )
    cancel = cmd.CancelLot(
        command_id="rc-cancel",
        tender_id=tender_id,
        lot_id="data",
        reason="budget withdrawn",
        occurred_at=on(date(2019, 8, 1)),
    )
    cancel_tender = cmd.CancelTender(
        command_id="rc-cancel-all",
        tender_id=tender_id,
        reason="stopped",
        occurred_at=on(date(2019, 8, 1)),
    )
    award_reply, cancel_reply, _ = await asyncio.gather(
        coordinator.send(award), coordinator.send(cancel), coordinator.send(cancel_tender)
    )
    events = await history(store, "tender", tender_id)
    kinds = types(events)
    # Whatever the order, the log agrees with the replies and never awards a cancelled lot.
    assert isinstance(cancel_reply, CommandAccepted) or "TenderCancelled" in kinds
    if isinstance(award_reply, CommandAccepted):
        assert kinds.index("ProvisionalAwardDecided") < kinds.index(
            "LotCancelled" if "LotCancelled" in kinds else "TenderCancelled"
        )
    else:
        assert award_reply.code == "LOT_CANCELLED"
        assert "ProvisionalAwardDecided" not in kinds
    assert [e.envelope.aggregate_version for e in events] == list(range(1, len(events) + 1))
    assert not verify_chain(tender_id, [e.envelope.model_dump(mode="json") for e in events])
