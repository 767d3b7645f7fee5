"""One meaning per event, through GraphQL: the gateway says what the owner's fold says.

Each test is a disagreement the gateway used to have with the registry's own fold (its
projections re-read payloads by event name), or a past answer it used to get wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS

from eventstore.clock import FixedClock
from eventstore.store import EventStore, StoredEvent
from gateway.projections import TendersProjection
from tests.integration.gateway.harness import Gateway, start_gateway
from tests.integration.gateway.history import KPN, TELE2, VNG, sign_c1

pytestmark = pytest.mark.asyncio

TENDER = """query ($asOf: Date, $knownAt: DateTime) {
  tender(tenderId: "t1", asOf: $asOf, knownAt: $knownAt) {
    phase pausedOn priorNoticeOn priorNoticeReference marketConsultationFrom
    marketConsultationTo
    lots { lotId status bidderIds bidCount supplierIds reviewPending review { forum } }
  }
}"""


@pytest_asyncio.fixture
async def gateway(
    nats_client: NATS, event_store: EventStore, database_url: str
) -> AsyncIterator[Gateway]:
    g = await start_gateway(nats_client, event_store, database_url)
    try:
        yield g
    finally:
        await g.stop()


async def tender(g: Gateway, **variables: Any) -> dict[str, Any]:
    body = await g.query(TENDER, variables, token=g.token("coordinator"))
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["tender"]
    return result


async def plan(g: Gateway, lots: tuple[str, ...] = ("a",)) -> list[StoredEvent]:
    return await g.given(
        "tender",
        "TenderPlanned",
        {
            "tender_id": "t1",
            "title": "Vaste telefonie",
            "contracting_authority": VNG,
            "procedure": "open",
            "framework": True,
            "lots": [{"lot_id": lot, "title": lot.upper()} for lot in lots],
            "planned_on": "2015-01-15",
        },
        on=date(2015, 1, 15),
    )


async def publish(g: Gateway) -> list[StoredEvent]:
    return await g.given(
        "tender",
        "TenderPublished",
        {
            "tender_id": "t1",
            "published_on": "2015-06-15",
            "notice_reference": "TN-1",
            "participant_list_frozen_on": "2015-05-31",
        },
        on=date(2015, 6, 15),
    )


async def test_a_tender_paused_and_resumed_after_publication_reads_published(
    gateway: Gateway,
) -> None:
    g = gateway
    stored = await plan(g) + await publish(g)
    stored += await g.given(
        "tender",
        "TenderPaused",
        {"tender_id": "t1", "paused_on": "2015-07-01", "reason": "kort geding"},
        on=date(2015, 7, 1),
    )
    stored += await g.given(
        "tender",
        "TenderResumed",
        {"tender_id": "t1", "resumed_on": "2015-07-10"},
        on=date(2015, 7, 10),
    )
    await g.settle(stored)
    assert (await tender(g))["phase"] == "PUBLISHED"  # used to read PLANNED
    paused = await tender(g, asOf="2015-07-05")
    assert (paused["phase"], paused["pausedOn"]) == ("PAUSED", "2015-07-01")
    assert (await tender(g, asOf="2015-06-20"))["phase"] == "PUBLISHED"
    assert (await tender(g, asOf="2015-02-01"))["phase"] == "PLANNED"
    assert await tender(g, asOf="2014-12-31") is None  # not planned yet: no tender


async def test_notices_bids_and_review_proceedings_reach_the_gateway(gateway: Gateway) -> None:
    g = gateway
    stored = await plan(g)
    stored += await g.given(
        "tender",
        "PriorInformationNoticePublished",
        {"tender_id": "t1", "published_on": "2015-02-01", "notice_reference": "PIN-1"},
        on=date(2015, 2, 1),
    )
    stored += await g.given(
        "tender",
        "MarketConsultationHeld",
        {
            "tender_id": "t1",
            "started_on": "2015-03-01",
            "ended_on": "2015-03-31",
            "summary": "vier leveranciers",
        },
        on=date(2015, 3, 31),
    )
    stored += await publish(g)
    stored += await g.given(
        "tender",
        "BidsRecorded",
        {
            "tender_id": "t1",
            "lot_id": "a",
            "received_on": "2015-08-01",
            "bid_count": 2,
            "bidder_ids": [KPN, TELE2],
        },
        on=date(2015, 8, 1),
    )
    stored += await g.given(
        "tender",
        "ProvisionalAwardDecided",
        {
            "tender_id": "t1",
            "lot_id": "a",
            "supplier_ids": [KPN],
            "decision_sent_on": "2015-09-01",
            "standstill_ends_on": "2015-09-22",
        },
        on=date(2015, 9, 1),
    )
    stored += await g.given(
        "tender",
        "ReviewProceedingsStarted",
        {
            "tender_id": "t1",
            "lot_id": "a",
            "claimant_id": TELE2,
            "forum": "voorzieningenrechter Den Haag",
            "started_on": "2015-09-15",
        },
        on=date(2015, 9, 15),
    )
    await g.settle(stored)
    now = await tender(g)
    assert (now["priorNoticeOn"], now["priorNoticeReference"]) == ("2015-02-01", "PIN-1")
    assert (now["marketConsultationFrom"], now["marketConsultationTo"]) == (
        "2015-03-01",
        "2015-03-31",
    )
    [lot] = now["lots"]
    assert lot["bidderIds"] == [KPN, TELE2]
    assert lot["bidCount"] == 2
    assert lot["reviewPending"] is True
    assert lot["review"] == {"forum": "voorzieningenrechter Den Haag"}
    anonymous = await g.query(TENDER, {})
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["FORBIDDEN"]
    assert anonymous["errors"][0]["path"][-1] == "bidderIds"  # losing bidders are not public
    [before] = (await tender(g, asOf="2015-08-15"))["lots"]
    assert (before["status"], before["reviewPending"]) == ("BIDS_RECEIVED", False)


async def test_lot_statuses_and_the_phase_speak_the_fold_vocabulary(gateway: Gateway) -> None:
    g = gateway
    stored = await plan(g, ("a", "b")) + await publish(g)
    for lot in ("a", "b"):
        stored += await g.given(
            "tender",
            "ProvisionalAwardDecided",
            {
                "tender_id": "t1",
                "lot_id": lot,
                "supplier_ids": [KPN],
                "decision_sent_on": "2015-09-01",
                "standstill_ends_on": "2015-09-22",
            },
            on=date(2015, 9, 1),
        )
    stored += await g.given(
        "tender",
        "AwardMadeDefinitive",
        {"tender_id": "t1", "lot_id": "a", "supplier_ids": [KPN], "awarded_on": "2015-10-01"},
        on=date(2015, 10, 1),
    )
    await g.settle(stored)
    now = await tender(g)
    # One lot definitive, one provisional: the tender is provisionally awarded (the audit
    # trail used to say "partly_awarded", the gateway "provisionally_awarded").
    assert now["phase"] == "PROVISIONALLY_AWARDED"
    assert [lot["status"] for lot in now["lots"]] == ["AWARDED", "PROVISIONALLY_AWARDED"]


CONTRACT = """query ($asOf: Date, $knownAt: DateTime) {
  contract(contractId: "c1", asOf: $asOf, knownAt: $knownAt) { endDate valueEur lastAmendment }
}"""


async def test_a_backdated_amendment_changes_the_past_but_not_what_was_known_before(
    gateway: Gateway, fixed_clock: FixedClock
) -> None:
    g = gateway
    signed = await sign_c1(g)
    known_before = signed[0].envelope.recorded_at.isoformat()
    fixed_clock.advance(timedelta(days=30))  # the amendment is recorded a month later
    amended = await g.given(
        "contract",
        "ContractAmended",
        {
            "contract_id": "c1",
            "amended_on": "2017-06-01",
            "summary": "verlengd en uitgebreid",
            "new_end_date": "2020-01-14",
            "new_value_eur": 1500,
        },
        on=date(2017, 6, 1),
    )
    await g.settle(signed + amended)

    async def contract(**variables: Any) -> dict[str, Any]:
        body = await g.query(CONTRACT, variables)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["contract"]
        return result

    assert await contract(asOf="2018-01-01") == {
        "endDate": "2020-01-14",
        "valueEur": "1500.00",
        "lastAmendment": "verlengd en uitgebreid",
    }
    assert (await contract(asOf="2016-06-01"))["endDate"] == "2019-01-14"
    # As the registry knew it before the amendment was recorded: the old end date, also
    # for a day after the amendment's valid date.
    before = await contract(asOf="2018-01-01", knownAt=known_before)
    assert (before["endDate"], before["lastAmendment"]) == ("2019-01-14", None)


async def test_a_past_answer_waits_for_a_lagging_read_model_or_names_it(
    nats_client: NATS, event_store: EventStore, database_url: str
) -> None:
    g = await start_gateway(nats_client, event_store, database_url, consistency_timeout=1.0)
    try:
        await g.settle(await plan(g))
        tenders = next(r for r in g.runners if r.projection.name == "tenders")
        await tenders.stop()  # the tenders read model falls behind the stream
        await publish(g)
        body = await g.query(TENDER, {"asOf": "2015-07-01"})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "HORIZON_NOT_REACHED"
        assert TendersProjection().key in error["message"]
        assert body["data"]["tender"] is None  # an error, never a silently stale answer
        await tenders.start()
        # Caught up first: the gateway waits only `consistency_timeout` (1 s) for it, which a
        # loaded machine's restart and catch-up may take longer than.
        assert await tenders.wait_until(await tenders.stream_heads(), timeout=120)
        assert (await tender(g, asOf="2015-07-01"))["phase"] == "PUBLISHED"
    finally:
        await g.stop()


async def test_facts_of_one_day_take_effect_in_the_order_they_were_recorded(
    gateway: Gateway,
) -> None:
    # Enrolled at 15:00, the withdrawal written as 09:00 the same day: valid time is a Dutch
    # calendar day (asOf is a date), so within the day the order the service decided in
    # holds, and the read model does not refuse the withdrawal as "not enrolled".
    g = gateway
    stored = await plan(g)
    stored += await g.given(
        "enrolment_window",
        "EnrolmentWindowOpened",
        {"tender_id": "t1", "lot_ids": ["a"], "opens_on": "2015-02-01", "closes_on": "2015-05-31"},
        on=date(2015, 2, 1),
    )
    stored += await g.given(
        "enrolment_window",
        "ParticipantEnrolled",
        {
            "tender_id": "t1",
            "organisation_code": "GM0363",
            "lot_ids": ["a"],
            "power_of_attorney_ref": "poa-GM0363",
            "enrolled_on": "2015-03-02",
        },
        at=datetime(2015, 3, 2, 14, 0, tzinfo=UTC),
    )
    stored += await g.given(
        "enrolment_window",
        "ParticipantWithdrawn",
        {"tender_id": "t1", "organisation_code": "GM0363", "withdrawn_on": "2015-03-02"},
        at=datetime(2015, 3, 2, 8, 0, tzinfo=UTC),
    )
    await g.settle(stored)
    assert [r.parked_count for r in g.runners] == [0] * len(g.runners)

    async def participants(as_of: str) -> list[dict[str, str]]:
        body = await g.query(
            """query ($asOf: Date) {
              tender(tenderId: "t1", asOf: $asOf) { participants { organisationCode status } }
            }""",
            {"asOf": as_of},
            token=g.token("coordinator"),
        )
        assert "errors" not in body, body
        found: list[dict[str, str]] = body["data"]["tender"]["participants"]
        return found

    assert await participants("2015-03-02") == [
        {"organisationCode": "GM0363", "status": "WITHDRAWN"}
    ]
    assert await participants("2015-03-01") == []
