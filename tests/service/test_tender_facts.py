"""The tender's facts and the succession links through GraphQL, now and as of a past day.

Each fact is one the registry's fold keeps: bids per lot, review proceedings and their
outcome, a revised award, the market consultation, the prior notice, pause and resume with
their reasons, corrections and clarifications, cancellations with their reasons. Succession
is declared by one side (a programme names its predecessor when planned, or links its
successor later) and reads from both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts_schema.registry import commands as cmd
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.story import KPN, LNVT, VODAFONE, freeze, on, plan, publish
from tests.service.test_read_models import query, settled

PROGRAMMES = """query ($asOf: Date) {
  programmes(asOf: $asOf) { programmeId predecessorId successorId successorIds }
}"""
TENDER = """query ($id: String!, $asOf: Date) {
  tender(tenderId: $id, asOf: $asOf) {
    procedure priorNoticeOn priorNoticeReference
    marketConsultationFrom marketConsultationTo marketConsultationSummary
    corrections { on summary noticeReference } clarifications { on summary noticeReference }
    phase pausedOn pauseReason resumedOn resumeReason cancelledOn cancellationReason
    predecessorId successorId successorIds
    lots {
      lotId status bidCount bidsReceivedOn supplierIds previousSupplierIds revisionReason
      withdrawnOn withdrawalReason cancelledOn cancellationReason reviewPending
      review { forum startedOn claimantId reference concludedOn outcome pending }
    }
  }
}"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> AsyncIterator[Gateway]:
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'rm.db'}", commands=bus)
    try:
        yield g
    finally:
        await g.stop()


def programme(pid: str, day: date, predecessor: str | None = None) -> cmd.PlanProgramme:
    return cmd.PlanProgramme(
        command_id=f"plan-{pid}",
        programme_id=pid,
        name=f"Overheidstelecom {pid[2:]}",
        coordinator=LNVT,
        predecessor_programme_id=predecessor,
        occurred_at=on(day),
    )


async def signed_in(g: Gateway, text: str, **variables: Any) -> Any:
    body = await g.query(text, variables, token=g.token("coordinator"))
    assert "errors" not in body, body
    return body["data"]


async def test_programme_succession_reads_both_ways_now_and_as_of(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    # OT2010 names OT2006 when planned; OT2017 is planned alone and OT2010 links it later.
    await bus.accept(programme("OT2006", date(2005, 6, 1)))
    await bus.accept(programme("OT2010", date(2009, 6, 1), predecessor="OT2006"))
    await bus.accept(programme("OT2017", date(2016, 3, 1)))
    await bus.accept(
        cmd.LinkSuccessorProgramme(
            command_id="link-2017",
            programme_id="OT2010",
            successor_programme_id="OT2017",
            occurred_at=on(date(2016, 4, 19)),
        )
    )
    await settled(gateway, store)

    def links(answer: Any) -> dict[str, tuple[Any, ...]]:
        return {
            p["programmeId"]: (p["predecessorId"], p["successorId"], p["successorIds"])
            for p in answer["programmes"]
        }

    assert links(await query(gateway, PROGRAMMES)) == {
        "OT2006": (None, "OT2010", ["OT2010"]),
        "OT2010": ("OT2006", "OT2017", ["OT2017"]),
        "OT2017": ("OT2010", None, []),
    }
    # Before OT2010 was linked to OT2017, neither end shows that link.
    assert links(await query(gateway, PROGRAMMES, asOf="2016-04-01")) == {
        "OT2006": (None, "OT2010", ["OT2010"]),
        "OT2010": ("OT2006", None, []),
        "OT2017": (None, None, []),
    }
    # Before OT2010 existed, OT2006 had no successor.
    assert links(await query(gateway, PROGRAMMES, asOf="2008-01-01")) == {
        "OT2006": (None, None, []),
    }


async def test_every_tender_fact_of_the_fold_reads_through_graphql(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    tid = "gt-connect"
    steps: list[cmd.TenderCommand] = [
        plan(tid),
        cmd.PublishPriorInformationNotice(
            command_id="pin",
            tender_id=tid,
            notice_reference="PIN-1",
            occurred_at=on(date(2019, 1, 20)),
        ),
        cmd.HoldMarketConsultation(
            command_id="mc",
            tender_id=tid,
            started_on=date(2019, 1, 21),
            ended_on=date(2019, 1, 31),
            summary="Four suppliers asked for longer lots",
            occurred_at=on(date(2019, 2, 1)),
        ),
    ]
    for step in steps:
        await bus.accept(step)
    await freeze(bus, tid)
    later: list[cmd.TenderCommand] = [
        publish(tid),
        cmd.CorrectTender(
            command_id="fix", tender_id=tid, summary="annex 2", notice_reference="TN-1b",
            occurred_at=on(date(2019, 6, 5)),
        ),
        cmd.ClarifyTender(
            command_id="nvi", tender_id=tid, summary="NvI 1", occurred_at=on(date(2019, 6, 10))
        ),
        cmd.PauseTender(
            command_id="pause", tender_id=tid, reason="court order", occurred_at=on(date(2019, 6, 20))
        ),
        cmd.ResumeTender(
            command_id="resume", tender_id=tid, reason="order lifted", occurred_at=on(date(2019, 6, 25))
        ),
        cmd.RecordBids(
            command_id="bids", tender_id=tid, lot_id="voice", bid_count=3,
            bidder_ids=[KPN, VODAFONE], occurred_at=on(date(2019, 7, 1)),
        ),
        cmd.DecideProvisionalAward(
            command_id="award", tender_id=tid, lot_id="voice", supplier_ids=[KPN],
            occurred_at=on(date(2019, 8, 1)),
        ),
        cmd.StartReviewProceedings(
            command_id="kg", tender_id=tid, lot_id="voice", forum="Rechtbank Den Haag",
            claimant_id=VODAFONE, reference="C/09/1", occurred_at=on(date(2019, 8, 10)),
        ),
        cmd.ConcludeReviewProceedings(
            command_id="kg-end", tender_id=tid, lot_id="voice", outcome="award_annulled",
            occurred_at=on(date(2019, 9, 10)),
        ),
        cmd.ReviseProvisionalAward(
            command_id="revise", tender_id=tid, lot_id="voice", supplier_ids=[VODAFONE],
            reason="re-evaluated after the judgment", occurred_at=on(date(2019, 9, 20)),
        ),
        cmd.CancelLot(
            command_id="cancel-data", tender_id=tid, lot_id="data", reason="no valid bids",
            occurred_at=on(date(2019, 9, 25)),
        ),
        plan("gt-connect-2"),  # a successor is planned before it is linked
        cmd.LinkSuccessorTender(
            command_id="next", tender_id=tid, successor_tender_id="gt-connect-2",
            occurred_at=on(date(2019, 10, 1)),
        ),
    ]  # fmt: skip
    for step in later:
        await bus.accept(step)
    await settled(gateway, store)

    now = (await signed_in(gateway, TENDER, id=tid))["tender"]
    assert now["procedure"] == "OPEN"
    assert (now["priorNoticeOn"], now["priorNoticeReference"]) == ("2019-01-20", "PIN-1")
    assert (
        now["marketConsultationFrom"],
        now["marketConsultationTo"],
        now["marketConsultationSummary"],
    ) == ("2019-01-21", "2019-01-31", "Four suppliers asked for longer lots")
    assert now["corrections"] == [
        {"on": "2019-06-05", "summary": "annex 2", "noticeReference": "TN-1b"}
    ]
    assert now["clarifications"] == [
        {"on": "2019-06-10", "summary": "NvI 1", "noticeReference": None}
    ]
    assert (now["pausedOn"], now["pauseReason"]) == (None, None)  # no longer paused
    assert (now["resumedOn"], now["resumeReason"]) == ("2019-06-25", "order lifted")
    assert (now["successorId"], now["successorIds"], now["predecessorId"]) == (
        "gt-connect-2",
        ["gt-connect-2"],
        None,
    )
    voice, data = now["lots"]
    assert (voice["bidCount"], voice["bidsReceivedOn"]) == (3, "2019-07-01")
    assert (voice["status"], voice["supplierIds"], voice["previousSupplierIds"]) == (
        "PROVISIONALLY_AWARDED",
        [VODAFONE],
        [KPN],
    )
    assert voice["revisionReason"] == "re-evaluated after the judgment"
    assert voice["review"] == {
        "forum": "Rechtbank Den Haag",
        "startedOn": "2019-08-10",
        "claimantId": VODAFONE,
        "reference": "C/09/1",
        "concludedOn": "2019-09-10",
        "outcome": "AWARD_ANNULLED",
        "pending": False,
    }
    assert (data["status"], data["cancelledOn"], data["cancellationReason"]) == (
        "CANCELLED",
        "2019-09-25",
        "no valid bids",
    )

    # As of past days: paused with its reason; the review pending; no correction yet.
    paused = (await signed_in(gateway, TENDER, id=tid, asOf="2019-06-21"))["tender"]
    assert (paused["phase"], paused["pausedOn"], paused["pauseReason"]) == (
        "PAUSED",
        "2019-06-20",
        "court order",
    )
    assert len(paused["corrections"]) == 1
    assert paused["successorId"] is None
    early = (await signed_in(gateway, TENDER, id=tid, asOf="2019-06-01"))["tender"]
    assert (early["corrections"], early["clarifications"]) == ([], [])
    reviewing = (await signed_in(gateway, TENDER, id=tid, asOf="2019-08-20"))["tender"]
    assert reviewing["lots"][0]["review"]["pending"] is True
    assert reviewing["lots"][0]["review"]["outcome"] is None
    assert reviewing["lots"][0]["previousSupplierIds"] == []


async def test_the_successor_tender_names_its_predecessor(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(plan("t-old"))
    await bus.accept(plan("t-new"))
    await bus.accept(
        cmd.LinkSuccessorTender(
            command_id="link", tender_id="t-old", successor_tender_id="t-new",
            occurred_at=on(date(2019, 3, 1)),
        )
    )  # fmt: skip
    await settled(gateway, store)
    new = (await query(gateway, TENDER.replace("claimantId ", ""), id="t-new"))["tender"]
    assert (new["predecessorId"], new["successorId"]) == ("t-old", None)
    before = await query(gateway, TENDER.replace("claimantId ", ""), id="t-new", asOf="2019-02-01")
    assert before["tender"]["predecessorId"] is None


async def test_a_claimant_is_not_public(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(plan("t"))
    await freeze(bus, "t")
    for step in (
        publish("t"),
        cmd.RecordBids(command_id="b", tender_id="t", lot_id="voice", bid_count=2,
                       occurred_at=on(date(2019, 7, 1))),
        cmd.DecideProvisionalAward(command_id="a", tender_id="t", lot_id="voice",
                                   supplier_ids=[KPN], occurred_at=on(date(2019, 8, 1))),
        cmd.StartReviewProceedings(command_id="kg", tender_id="t", lot_id="voice",
                                   forum="Rechtbank", claimant_id=VODAFONE,
                                   occurred_at=on(date(2019, 8, 5))),
    ):  # fmt: skip
        await bus.accept(step)
    await settled(gateway, store)
    text = '{ tender(tenderId: "t") { lots { review { forum pending claimantId } } } }'
    body = await gateway.query(text)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    public = await query(gateway, text.replace(" claimantId", ""))
    assert public["tender"]["lots"][0]["review"] == {"forum": "Rechtbank", "pending": True}
