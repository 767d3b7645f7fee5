"""The real histories of DOMAIN.md, replayed through the registry's command API on NATS."""

from __future__ import annotations

from datetime import date

from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import ContractSupplier, Lot
from eventstore.hashing import verify_chain
from eventstore.store import EventStore
from tests.integration.registry.harness import (
    RECORDED_AT,
    Coordinator,
    freeze_participants,
    history,
    on,
    types,
)

KING = "KVK-27351236"
VNG = "KVK-40409352"
LNVT = "KVK-71830960"
THE_HAGUE = "GM0518"
KPN = "KVK-27124701"
TELE2 = "KVK-33294618"
VODAFONE = "KVK-14052264"
INCUMBENT = "KVK-11111111"


async def test_ot2010_vast_provisionally_to_kpn_reconsidered_definitively_to_tele2(
    coordinator: Coordinator, store: EventStore
) -> None:
    c = coordinator
    await c.accept(
        cmd.PlanProgramme(
            command_id="ot2006",
            programme_id="OT2006",
            name="Overheidstelefonie 2006",
            coordinator=KING,
            occurred_at=on(date(2005, 6, 1)),
        )
    )
    await c.accept(
        cmd.PlanProgramme(
            command_id="ot2010",
            programme_id="OT2010",
            name="Overheidstelefonie 2010",
            coordinator=KING,
            predecessor_programme_id="OT2006",
            occurred_at=on(date(2009, 1, 5)),
        )
    )
    await c.accept(
        cmd.LinkSuccessorProgramme(
            command_id="ot2006-next",
            programme_id="OT2006",
            successor_programme_id="OT2010",
            occurred_at=on(date(2009, 1, 5)),
        )
    )
    tender = "OT2010-clusters"
    await c.accept(
        cmd.PlanTender(
            command_id="ot2010-plan",
            tender_id=tender,
            programme_id="OT2010",
            title="OT2010 clusters",
            contracting_authority=KING,
            procedure="open",
            framework=True,
            lots=[
                Lot(lot_id="vast", title="Vast"),
                Lot(lot_id="mobiel", title="Mobiel"),
                Lot(lot_id="inbound", title="Inbound"),
                Lot(lot_id="eud", title="EUD"),
            ],
            occurred_at=on(date(2009, 2, 1)),
        )
    )
    await freeze_participants(store, tender, date(2009, 9, 30), {"GM0363": ["vast", "mobiel"]})
    await c.accept(
        cmd.PublishTender(
            command_id="ot2010-pub",
            tender_id=tender,
            notice_reference="TED 2009/S 200-000001",
            occurred_at=on(date(2009, 10, 15)),
        )
    )
    await c.accept(
        cmd.RecordBids(
            command_id="ot2010-bids-vast",
            tender_id=tender,
            lot_id="vast",
            bid_count=2,
            bidder_ids=[KPN, TELE2],
            occurred_at=on(date(2010, 1, 20)),
        )
    )
    await c.accept(
        cmd.DecideProvisionalAward(
            command_id="ot2010-vast-kpn",
            tender_id=tender,
            lot_id="vast",
            supplier_ids=[KPN],
            occurred_at=on(date(2010, 5, 3)),
        )
    )
    # Tele2 objects within the standstill: nothing becomes final while it runs.
    early = cmd.MakeAwardDefinitive(
        command_id="ot2010-vast-early",
        tender_id=tender,
        lot_id="vast",
        occurred_at=on(date(2010, 5, 20)),
    )
    await c.reject(early, "STANDSTILL_NOT_ENDED")
    await c.accept(
        cmd.StartReviewProceedings(
            command_id="ot2010-kg",
            tender_id=tender,
            lot_id="vast",
            forum="Rechtbank 's-Gravenhage",
            claimant_id=TELE2,
            occurred_at=on(date(2010, 5, 21)),
        )
    )
    await c.reject(
        early.model_copy(
            update={"command_id": "ot2010-vast-during-kg", "occurred_at": on(date(2010, 7, 1))}
        ),
        "REVIEW_PENDING",
    )
    await c.accept(
        cmd.ConcludeReviewProceedings(
            command_id="ot2010-kg-end",
            tender_id=tender,
            lot_id="vast",
            outcome="award_annulled",
            occurred_at=on(date(2011, 6, 1)),
        )
    )
    await c.accept(
        cmd.ReviseProvisionalAward(
            command_id="ot2010-vast-tele2",
            tender_id=tender,
            lot_id="vast",
            supplier_ids=[TELE2],
            reason="award reconsidered after the ruling",
            occurred_at=on(date(2011, 12, 1)),
        )
    )
    await c.accept(
        cmd.RecordStandstillEnded(
            command_id="ot2010-vast-ss",
            tender_id=tender,
            lot_id="vast",
            occurred_at=on(date(2011, 12, 22)),
        )
    )
    final = await c.accept(
        cmd.MakeAwardDefinitive(
            command_id="ot2010-vast-final",
            tender_id=tender,
            lot_id="vast",
            occurred_at=on(date(2012, 1, 10)),
        )
    )
    assert final.events[0].event_type == "AwardMadeDefinitive"
    framework = cmd.SignContract(
        command_id="ot2010-vast-sign-kpn",
        contract_id="OT2010-vast",
        kind="framework",
        tender_id=tender,
        lot_ids=["vast"],
        contracting_authority=KING,
        suppliers=[ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["vast"])],
        start_date=date(2012, 2, 1),
        end_date=date(2015, 12, 31),
        occurred_at=on(date(2012, 1, 20)),
    )
    await c.reject(framework, "SUPPLIER_NOT_AWARDED")
    await c.accept(
        framework.model_copy(
            update={
                "command_id": "ot2010-vast-sign",
                "suppliers": [ContractSupplier(supplier_id=TELE2, name="Tele2", lot_ids=["vast"])],
            }
        )
    )
    # OT2017's concept strategy document (19 April 2016): planned, then linked as successor.
    await c.accept(
        cmd.PlanProgramme(
            command_id="ot2017",
            programme_id="OT2017",
            name="Overheidstelefonie 2017",
            coordinator=KING,
            predecessor_programme_id="OT2010",
            occurred_at=on(date(2016, 4, 19)),
        )
    )
    await c.accept(
        cmd.LinkSuccessorProgramme(
            command_id="ot2010-next",
            programme_id="OT2010",
            successor_programme_id="OT2017",
            occurred_at=on(date(2016, 4, 19)),
        )
    )

    events = await history(store, "tender", tender)
    assert types(events) == [
        "TenderPlanned",
        "TenderPublished",
        "BidsRecorded",
        "ProvisionalAwardDecided",
        "ReviewProceedingsStarted",
        "ReviewProceedingsConcluded",
        "ProvisionalAwardRevised",
        "StandstillEnded",
        "AwardMadeDefinitive",
    ]
    definitive = events[-1].envelope
    assert definitive.payload["supplier_ids"] == [TELE2]
    assert definitive.payload["awarded_on"] == "2012-01-10"
    # Valid time is the fact's date; transaction time is when the registry learned it.
    assert definitive.occurred_at == on(date(2012, 1, 10))
    assert definitive.recorded_at == RECORDED_AT
    assert events[3].envelope.payload["supplier_ids"] == [KPN]
    assert events[6].envelope.payload["previous_supplier_ids"] == [KPN]
    assert not verify_chain(tender, [e.envelope.model_dump(mode="json") for e in events])
    assert types(await history(store, "programme", "OT2010")) == [
        "ProgrammePlanned",
        "SuccessorProgrammeLinked",
    ]
    [signed] = await history(store, "contract", "OT2010-vast")
    assert signed.envelope.payload["suppliers"][0]["supplier_id"] == TELE2


async def test_lnvt_0800_2000_transfer_then_open_tender_2020(
    coordinator: Coordinator, store: EventStore
) -> None:
    c = coordinator
    old = "VT-0800-2000-2015"
    await c.accept(
        cmd.SignContract(
            command_id="vt-2015-sign",
            contract_id=old,
            kind="contract",
            contracting_authority=VNG,
            suppliers=[ContractSupplier(supplier_id=INCUMBENT, name="incumbent operator")],
            start_date=date(2015, 1, 1),
            end_date=date(2020, 12, 31),
            max_extent_date=date(2021, 12, 31),
            title="0800-2000 Veilig Thuis",
            occurred_at=on(date(2014, 12, 15)),
        )
    )
    await c.accept(
        cmd.TransferContract(
            command_id="vt-transfer",
            contract_id=old,
            to_authority=LNVT,
            paying_agent=THE_HAGUE,
            occurred_at=on(date(2018, 7, 1)),
        )
    )
    tender = "LNVT-0800-2000-2020"
    await c.accept(
        cmd.PlanTender(
            command_id="vt-plan",
            tender_id=tender,
            title="0800-2000 Veilig Thuis",
            contracting_authority=LNVT,
            procedure="open",
            framework=False,
            lots=[Lot(lot_id="1", title="0800-2000 telephony, 24/7")],
            occurred_at=on(date(2020, 8, 20)),
        )
    )
    await freeze_participants(store, tender, date(2020, 9, 1), {LNVT: ["1"]})
    await c.accept(
        cmd.PublishTender(
            command_id="vt-pub",
            tender_id=tender,
            notice_reference="TenderNed 2020-09-18",
            occurred_at=on(date(2020, 9, 18)),
        )
    )
    await c.accept(
        cmd.RecordBids(
            command_id="vt-bids",
            tender_id=tender,
            lot_id="1",
            bid_count=2,
            bidder_ids=[KPN, VODAFONE],
            occurred_at=on(date(2020, 10, 26)),
        )
    )
    provisional = await c.accept(
        cmd.DecideProvisionalAward(
            command_id="vt-provisional",
            tender_id=tender,
            lot_id="1",
            supplier_ids=[KPN],
            occurred_at=on(date(2020, 11, 13)),
        )
    )
    assert provisional.events[0].event_type == "ProvisionalAwardDecided"
    sign = cmd.SignContract(
        command_id="vt-sign-early",
        contract_id="VT-0800-2000-2021",
        kind="contract",
        tender_id=tender,
        lot_ids=["1"],
        contracting_authority=LNVT,
        paying_agent=THE_HAGUE,
        suppliers=[ContractSupplier(supplier_id=KPN, name="KPN", lot_ids=["1"])],
        start_date=date(2021, 1, 1),
        end_date=date(2024, 12, 31),
        max_extent_date=date(2026, 12, 31),
        occurred_at=on(date(2020, 11, 27)),
    )
    refused = await c.reject(sign, "STANDSTILL_NOT_ENDED")
    assert "2020-12-03" in refused.message
    await c.reject(
        cmd.MakeAwardDefinitive(
            command_id="vt-final-early",
            tender_id=tender,
            lot_id="1",
            occurred_at=on(date(2020, 12, 3)),
        ),
        "STANDSTILL_NOT_ENDED",
    )
    await c.accept(
        cmd.MakeAwardDefinitive(
            command_id="vt-final", tender_id=tender, lot_id="1", occurred_at=on(date(2020, 12, 4))
        )
    )
    await c.accept(
        sign.model_copy(update={"command_id": "vt-sign", "occurred_at": on(date(2020, 12, 10))})
    )
    await c.accept(
        cmd.ExpireContract(
            command_id="vt-old-expired", contract_id=old, occurred_at=on(date(2021, 1, 1))
        )
    )
    await c.reject(
        cmd.TransferContract(
            command_id="vt-transfer-late",
            contract_id=old,
            to_authority=VNG,
            occurred_at=on(date(2021, 2, 1)),
        ),
        "CONTRACT_ENDED",
    )

    transferred = (await history(store, "contract", old))[1].envelope.payload
    assert transferred == {
        "contract_id": old,
        "from_authority": VNG,
        "to_authority": LNVT,
        "paying_agent": THE_HAGUE,
        "transferred_on": "2018-07-01",
    }
    assert types(await history(store, "tender", tender)) == [
        "TenderPlanned",
        "TenderPublished",
        "BidsRecorded",
        "ProvisionalAwardDecided",
        "AwardMadeDefinitive",
    ]
    [new] = await history(store, "contract", "VT-0800-2000-2021")
    assert new.envelope.payload["signed_on"] == "2020-12-10"
    assert new.envelope.payload["paying_agent"] == THE_HAGUE
    published = (await history(store, "tender", tender))[1].envelope.payload
    assert published["participant_list_frozen_on"] == "2020-09-01"
