"""A signature racing a revised award, on real JetStream: never signed with the superseded
supplier.

`SignContract` reads the tender (through the event store, folded) outside the contract's own
optimistic check. What closes the race is the tender's state machine: a signature relies only
on a lot that is definitively awarded, and no command moves a lot out of AWARDED or changes
its suppliers once there (a revision, withdrawal or review needs a provisional award;
cancelling refuses an awarded lot). So the tender read by a signature is either not yet
definitive (refused) or final. Two registry instances with concurrent workers, many rounds.
"""

from __future__ import annotations

import asyncio
from datetime import date

from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import ContractSupplier, Lot
from contracts_schema.replies import CommandAccepted
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.registry.harness import (
    Coordinator,
    freeze_participants,
    history,
    on,
    running_registry,
)

LNVT, KPN, VODAFONE = "KVK-71830960", "KVK-27124701", "KVK-14052264"
ROUNDS = 25


async def _provisionally_awarded_to_kpn(c: Coordinator, store: EventStore, tid: str) -> None:
    await c.accept(
        cmd.PlanTender(
            command_id=f"{tid}-plan",
            tender_id=tid,
            title="Race",
            contracting_authority=LNVT,
            procedure="open",
            framework=False,
            lots=[Lot(lot_id="voice", title="Voice")],
            occurred_at=on(date(2019, 1, 10)),
        )
    )
    await freeze_participants(store, tid, date(2019, 5, 1), {"GM0363": ["voice"]})
    steps: list[cmd.TenderCommand] = [
        cmd.PublishTender(
            command_id=f"{tid}-pub",
            tender_id=tid,
            notice_reference="TenderNed race",
            occurred_at=on(date(2019, 6, 1)),
        ),
        cmd.RecordBids(
            command_id=f"{tid}-bids",
            tender_id=tid,
            lot_id="voice",
            bid_count=2,
            bidder_ids=[KPN, VODAFONE],
            occurred_at=on(date(2019, 7, 1)),
        ),
        cmd.DecideProvisionalAward(
            command_id=f"{tid}-award",
            tender_id=tid,
            lot_id="voice",
            supplier_ids=[KPN],
            occurred_at=on(date(2019, 8, 1)),
        ),
    ]
    for step in steps:
        await c.accept(step)


async def _definitive_then_signed_with_kpn(c: Coordinator, tid: str, attempt: int) -> None:
    await c.send(
        cmd.MakeAwardDefinitive(
            command_id=f"{tid}-final-{attempt}",
            tender_id=tid,
            lot_id="voice",
            occurred_at=on(date(2019, 9, 1)),
        )
    )
    await c.send(
        cmd.SignContract(
            command_id=f"{tid}-sign-{attempt}",
            contract_id=f"{tid}-contract-{attempt}",
            kind="contract",
            tender_id=tid,
            lot_ids=["voice"],
            contracting_authority=LNVT,
            suppliers=[ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["voice"])],
            start_date=date(2019, 10, 1),
            end_date=date(2021, 9, 30),
            occurred_at=on(date(2019, 9, 15)),
        )
    )


async def test_a_signature_racing_a_revised_award_never_signs_the_superseded_supplier(
    shared_nats: NatsServer, coordinator: Coordinator, store: EventStore, clock: FixedClock
) -> None:
    outcomes = {"revised": 0, "signed": 0}
    async with running_registry(shared_nats.url, clock):  # a second instance, same queue group
        for round_ in range(ROUNDS):
            tid = f"sign-race-{round_}"
            await _provisionally_awarded_to_kpn(coordinator, store, tid)
            revise = cmd.ReviseProvisionalAward(
                command_id=f"{tid}-revise",
                tender_id=tid,
                lot_id="voice",
                supplier_ids=[VODAFONE],
                reason="KPN's bid was incomplete",
                occurred_at=on(date(2019, 8, 25)),
            )
            replies = await asyncio.gather(
                coordinator.send(revise),
                _definitive_then_signed_with_kpn(coordinator, tid, 1),
                _definitive_then_signed_with_kpn(coordinator, tid, 2),
            )
            tender = await history(store, "tender", tid)
            revised = any(e.envelope.event_type == "ProvisionalAwardRevised" for e in tender)
            assert revised == isinstance(replies[0], CommandAccepted)
            signed = [
                e
                for attempt in (1, 2)
                for e in await history(store, "contract", f"{tid}-contract-{attempt}")
            ]
            if revised:
                # The award went to Vodafone: no contract with KPN, however the race went.
                assert signed == [], f"round {round_}: signed with the superseded KPN"
                outcomes["revised"] += 1
            else:
                assert [e.envelope.payload["suppliers"][0]["supplier_id"] for e in signed] in (
                    [KPN],
                    [KPN, KPN],
                )
                outcomes["signed"] += 1
    print(f"signature race over {ROUNDS} rounds: {outcomes}")
    assert sum(outcomes.values()) == ROUNDS
