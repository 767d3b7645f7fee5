"""Recurring facts for the registry's unit tests (organisation codes are illustrative)."""

from __future__ import annotations

from datetime import date

from contracts_schema.registry import events as ev
from contracts_schema.registry.values import ContractSupplier, Lot

KING = "KVK-27351236"
VNG = "KVK-40409352"
LNVT = "KVK-71830960"
THE_HAGUE = "GM0518"
KPN = "KVK-27124701"
TELE2 = "KVK-33294618"
VODAFONE = "KVK-14052264"

T = "OT2010"
PUBLISHED_ON = date(2010, 3, 1)
DECIDED_ON = date(2010, 6, 1)
STANDSTILL_ENDS = date(2010, 6, 21)  # 20 calendar days from the day after 1 June


def planned(*lot_ids: str, framework: bool = True) -> ev.TenderPlanned:
    return ev.TenderPlanned(
        tender_id=T,
        programme_id="OT2010-programme",
        title="Overheidstelefonie 2010",
        contracting_authority=KING,
        procedure="open",
        framework=framework,
        lots=[Lot(lot_id=i, title=i.title()) for i in lot_ids or ("vast", "mobiel")],
        planned_on=date(2009, 9, 1),
    )


def published() -> ev.TenderPublished:
    return ev.TenderPublished(
        tender_id=T,
        published_on=PUBLISHED_ON,
        notice_reference="TED-2010-1",
        participant_list_frozen_on=date(2010, 2, 1),
        participant_codes=["GM0363"],
    )


def bids(lot: str = "vast") -> ev.BidsRecorded:
    return ev.BidsRecorded(
        tender_id=T,
        lot_id=lot,
        received_on=date(2010, 4, 1),
        bid_count=3,
        bidder_ids=[KPN, TELE2, VODAFONE],
    )


def provisional(lot: str = "vast", supplier: str = KPN) -> ev.ProvisionalAwardDecided:
    return ev.ProvisionalAwardDecided(
        tender_id=T,
        lot_id=lot,
        supplier_ids=[supplier],
        decision_sent_on=DECIDED_ON,
        standstill_ends_on=STANDSTILL_ENDS,
    )


def definitive(lot: str = "vast", supplier: str = KPN) -> ev.AwardMadeDefinitive:
    return ev.AwardMadeDefinitive(
        tender_id=T, lot_id=lot, supplier_ids=[supplier], awarded_on=date(2010, 6, 25)
    )


def awarded_history(lot: str = "vast") -> tuple[ev.TenderEvent, ...]:
    return (planned(), published(), bids(lot), provisional(lot), definitive(lot))


def supplier(code: str = KPN, *lots: str) -> ContractSupplier:
    return ContractSupplier(supplier_id=code, name="Supplier", lot_ids=list(lots or ("vast",)))


def signed(
    kind: str = "contract",
    *,
    start: date = date(2015, 1, 1),
    end: date = date(2019, 12, 31),
    extent: date | None = date(2022, 12, 31),
    authority: str = VNG,
) -> ev.ContractSigned:
    return ev.ContractSigned.model_validate(
        {
            "contract_id": "c-0800",
            "kind": kind,
            "contracting_authority": authority,
            "suppliers": [supplier(KPN, "nummers").model_dump()],
            "signed_on": start,
            "start_date": start,
            "end_date": end,
            "max_extent_date": extent,
        }
    )
