"""A fact dated before its aggregate began is refused by the owner, never parked by a view.

Every read model folds an aggregate's events in valid-time order, and so does the owner
(tests/service/test_backdated_between_facts.py: facts learned late between facts). A fact
valid before the aggregate's first fact (a CBS list loaded today, a past merger recorded
afterwards) would land before the aggregate exists in that order: the owner accepted it and
every view parked it. Now the owner refuses it with a code that names
the beginning and what to do, and a registration can be dated back by sending it again.
Commands go through the services; reads through the gateway's GraphQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts_schema.base import Command
from contracts_schema.calendar import dutch_day
from contracts_schema.enrolment import commands as en
from contracts_schema.folds import FOLDS, typed_event
from contracts_schema.registry import commands as cmd
from contracts_schema.registry.values import Lot
from contracts_schema.replies import CommandAccepted
from contracts_schema.subjects import ENROLMENT
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import KPN, LNVT, freeze, plan, publish, signed_contract

MUNICIPALITIES = "cbs_code,name,province\nGM0001,Eendorp,Utrecht\nGM0002,Tweestad,Utrecht\n"

ORGANISATION = """query ($code: String!, $asOf: Date) {
  organisation(code: $code, asOf: $asOf) { code name mergedInto mergedOn registeredOn }
}"""


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def parked(g: Gateway) -> dict[str, int]:
    """What each read model parked, once it has applied everything stored."""
    for runner in g.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    return {r.projection.key: r.parked_count for r in g.runners if r.parked_count}


async def refused(bus: InProcessBus, command: Command, code: str) -> str:
    reply = await bus.reject(command, code)
    return reply.message


async def organisation(g: Gateway, code: str, as_of: str | None = None) -> Any:
    body = await g.query(ORGANISATION, {"code": code, "asOf": as_of})
    assert "errors" not in body, body
    return body["data"]["organisation"]


def merger(occurred: datetime, effective: date = date(2020, 3, 1)) -> en.MergeMunicipality:
    return en.MergeMunicipality(
        command_id=f"merge-{occurred.date()}",
        code="GM0001",
        successor_code="GM0002",
        effective_on=effective,
        occurred_at=occurred,
    )


async def test_a_merger_dated_before_the_registration_is_refused_not_parked(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await bus.accept(
        en.LoadMunicipalities(
            command_id="cbs", csv_text=MUNICIPALITIES, occurred_at=at(2020, 3, 10)
        )
    )
    message = await refused(bus, merger(at(2020, 3, 1)), "ORGANISATION_NOT_YET_REGISTERED")
    assert "2020-03-10" in message
    assert "RegisterOrganisation for GM0001 again" in message
    rename = en.RenameOrganisation(
        command_id="rename", code="GM0002", name="Twee", occurred_at=at(2020, 3, 9)
    )
    await refused(bus, rename, "ORGANISATION_NOT_YET_REGISTERED")
    assert await parked(gateway) == {}
    assert (await organisation(gateway, "GM0001"))["mergedInto"] is None


async def test_a_registration_dated_back_lets_a_past_merger_in_and_every_view_agrees(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await bus.accept(
        en.LoadMunicipalities(
            command_id="cbs", csv_text=MUNICIPALITIES, occurred_at=at(2020, 3, 10)
        )
    )
    for code, name in (("GM0001", "Eendorp"), ("GM0002", "Tweestad")):
        again = en.RegisterOrganisation(
            command_id=f"again-{code}",
            code=code,
            name=name,
            kind="municipality",
            province="Utrecht",
            occurred_at=at(2019, 1, 1),
        )
        [event] = (await bus.accept(again)).events
        assert event.event_type == "OrganisationRegistered"
        # Sent once more: it is already registered from then, so nothing changes.
        assert (await bus.accept(again.model_copy(update={"command_id": f"x-{code}"}))).events == ()
    other_name = en.RegisterOrganisation(
        command_id="other", code="GM0001", name="Anders", kind="municipality",
        province="Utrecht", occurred_at=at(2018, 1, 1),
    )  # fmt: skip
    await refused(bus, other_name, "ORGANISATION_ALREADY_REGISTERED")
    reply = await bus.send(merger(at(2020, 3, 1)))
    assert isinstance(reply, CommandAccepted), reply

    assert await parked(gateway) == {}
    assert await organisation(gateway, "GM0001", "2018-12-31") is None
    assert await organisation(gateway, "GM0001", "2019-06-01") == {
        "code": "GM0001", "name": "Eendorp", "mergedInto": None, "mergedOn": None,
        "registeredOn": "2019-01-01",
    }  # fmt: skip
    now = await organisation(gateway, "GM0001")
    assert (now["mergedInto"], now["mergedOn"]) == ("GM0002", "2020-03-01")
    # The owner's fold gives the same state in the order recorded and in valid-time order.
    history = await store.load(ENROLMENT, "organisation", "GM0001")
    fold = FOLDS["enrolment", "organisation"]
    typed = [(dutch_day(e.envelope.occurred_at), typed_event(e.envelope.event_type,
              e.envelope.payload)) for e in history.events]  # fmt: skip
    recorded = fold.replay("GM0001", (event for _, event in typed))
    by_valid_time = fold.replay(
        "GM0001", (event for _, event in sorted(typed, key=lambda pair: pair[0]))
    )
    assert recorded == by_valid_time
    assert recorded.registered_on == date(2019, 1, 1)


async def test_a_rename_dated_before_the_current_name_is_refused(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await bus.accept(
        en.LoadMunicipalities(command_id="cbs", csv_text=MUNICIPALITIES, occurred_at=at(2019, 1, 1))
    )
    await bus.accept(
        en.RenameOrganisation(
            command_id="r1", code="GM0001", name="Eendorp (U)", occurred_at=at(2021, 1, 1)
        )
    )
    early = en.RenameOrganisation(
        command_id="r2", code="GM0001", name="Een", occurred_at=at(2020, 1, 1)
    )
    # Decided on the valid-time order, the rename of 2021 would rename "Een", not "Eendorp".
    message = await refused(bus, early, "LATER_FACT_NO_LONGER_APPLIES")
    assert "OrganisationRenamed of 2021-01-01" in message
    assert await parked(gateway) == {}
    assert (await organisation(gateway, "GM0001"))["name"] == "Eendorp (U)"


def planned(occurred: datetime) -> cmd.PlanTender:
    return cmd.PlanTender(
        command_id="plan",
        tender_id="t1",
        title="Vaste telefonie",
        contracting_authority=LNVT,
        procedure="open",
        framework=False,
        lots=[Lot(lot_id="a", title="A")],
        occurred_at=occurred,
    )


@pytest.mark.parametrize(
    "command",
    [
        cmd.PublishPriorInformationNotice(
            command_id="pin", tender_id="t1", notice_reference="PIN", occurred_at=at(2020, 3, 1)
        ),
        cmd.PauseTender(command_id="pause", tender_id="t1", reason="x", occurred_at=at(2020, 3, 9)),
        cmd.LinkSuccessorTender(
            command_id="link", tender_id="t1", successor_tender_id="t2", occurred_at=at(2020, 3, 1)
        ),
    ],
    ids=lambda c: c.command_type,
)
async def test_a_tender_fact_dated_before_the_planning_is_refused_not_parked(
    gateway: Gateway, bus: InProcessBus, command: Command
) -> None:
    await bus.accept(planned(at(2020, 3, 10)))
    await refused(bus, command, "TENDER_NOT_YET_PLANNED")
    assert await parked(gateway) == {}


async def test_a_programme_link_dated_before_the_planning_is_refused_not_parked(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await bus.accept(
        cmd.PlanProgramme(
            command_id="p1", programme_id="gt", name="GT", coordinator=LNVT,
            occurred_at=at(2020, 3, 10),
        )
    )  # fmt: skip
    link = cmd.LinkSuccessorProgramme(
        command_id="l", programme_id="gt", successor_programme_id="gt2", occurred_at=at(2020, 3, 1)
    )
    await refused(bus, link, "PROGRAMME_NOT_YET_PLANNED")
    assert await parked(gateway) == {}


async def test_a_fact_of_the_first_day_an_hour_earlier_follows_it_in_every_view(
    gateway: Gateway, bus: InProcessBus
) -> None:
    """Valid time is a Dutch day, and within a day the views keep the order recorded: a fact
    of the planning's own day, dated an hour before it, is no fact before the tender."""
    await bus.accept(planned(at(2020, 3, 10, 14)))
    await bus.accept(
        cmd.CancelTender(
            command_id="cancel", tender_id="t1", reason="x", occurred_at=at(2020, 3, 10, 9)
        )
    )
    assert await parked(gateway) == {}
    body = await gateway.query(
        'query { tender(tenderId: "t1", asOf: "2020-03-10") { phase cancelledOn } }'
    )
    assert body["data"]["tender"] == {"phase": "CANCELLED", "cancelledOn": "2020-03-10"}


WINDOW = """query {
  tender(tenderId: "t1") { enrolmentWindow { closesOn } }
  organisation(code: "GM0363") { participations { tenderId lotIds enrolledOn status } }
}"""


async def test_a_window_of_the_past_opened_today_takes_its_enrolments_in_every_view(
    gateway: Gateway, bus: InProcessBus
) -> None:
    """A window opened without a valid time (so: today) for a period of 2015, its enrolments
    dated in that period: by day they come before the opening. The views parked them; now
    the window's fold keeps them, and the window with its participants exists from the
    opening on, as the owner has it."""
    await bus.accept(planned(at(2015, 1, 10)))
    await bus.accept(
        en.OpenEnrolmentWindow(
            command_id="open", tender_id="t1", lot_ids=["a"], opens_on=date(2015, 2, 1),
            closes_on=date(2015, 4, 30),
        )
    )  # fmt: skip
    await bus.accept(
        en.EnrolParticipant(
            command_id="enrol", tender_id="t1", organisation_code="GM0363", lot_ids=["a"],
            power_of_attorney_ref="volmacht", occurred_at=at(2015, 3, 1),
        )
    )  # fmt: skip
    await bus.accept(
        en.ExtendEnrolmentWindow(
            command_id="extend", tender_id="t1", closes_on=date(2015, 5, 31),
            occurred_at=at(2015, 4, 1),
        )
    )  # fmt: skip
    assert await parked(gateway) == {}
    body = await gateway.query(WINDOW, token=gateway.token("coordinator"))
    assert "errors" not in body, body
    assert body["data"]["tender"]["enrolmentWindow"] == {"closesOn": "2015-05-31"}
    assert body["data"]["organisation"]["participations"] == [
        {"tenderId": "t1", "lotIds": ["a"], "enrolledOn": "2015-03-01", "status": "ENROLLED"}
    ]


# --- facts between facts: the same class, after creation ---------------------------------
# A fact dated before the last fact it depends on lands, in every view's (valid-time) order,
# where the owner never decided it: a resumption before its pause is parked there; a
# cancellation before a pause, a freeze before an enrolment it lists, an enrolment before a
# withdrawal recorded earlier would show another state in the views than the owner's.


async def paused_tender(bus: InProcessBus) -> None:
    await bus.accept(planned(at(2020, 1, 10)))
    await bus.accept(
        cmd.PauseTender(command_id="pause", tender_id="t1", reason="x", occurred_at=at(2020, 3, 1))
    )


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (
            cmd.ResumeTender(command_id="resume", tender_id="t1", occurred_at=at(2020, 2, 1)),
            "DATE_OUT_OF_ORDER",  # nothing to resume on its day
        ),
        (
            cmd.CancelTender(
                command_id="cancel", tender_id="t1", reason="x", occurred_at=at(2020, 2, 1)
            ),
            "LATER_FACT_NO_LONGER_APPLIES",  # the pause would find a cancelled tender
        ),
    ],
    ids=lambda c: getattr(c, "command_type", c),
)
async def test_a_tender_fact_dated_before_its_pause_is_refused_not_parked(
    gateway: Gateway, bus: InProcessBus, command: Command, code: str
) -> None:
    await paused_tender(bus)
    await refused(bus, command, code)
    assert await parked(gateway) == {}
    body = await gateway.query('query { tender(tenderId: "t1") { phase } }')
    assert body["data"]["tender"] == {"phase": "PAUSED"}


async def published(bus: InProcessBus) -> None:
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())


async def test_review_proceedings_concluded_before_they_started_are_refused_not_parked(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await published(bus)
    for step in (
        cmd.RecordBids(command_id="bids", tender_id="gt-connect", lot_id="voice", bid_count=2,
                       bidder_ids=[KPN], occurred_at=at(2019, 7, 1)),
        cmd.DecideProvisionalAward(command_id="award", tender_id="gt-connect", lot_id="voice",
                                   supplier_ids=[KPN], occurred_at=at(2019, 7, 10)),
        cmd.StartReviewProceedings(command_id="review", tender_id="gt-connect", lot_id="voice",
                                   forum="Voorzieningenrechter", occurred_at=at(2019, 7, 20)),
    ):  # fmt: skip
        await bus.accept(step)
    conclude = cmd.ConcludeReviewProceedings(
        command_id="concluded", tender_id="gt-connect", lot_id="voice", outcome="award_upheld",
        occurred_at=at(2019, 7, 15),
    )  # fmt: skip
    await refused(bus, conclude, "DATE_OUT_OF_ORDER")
    assert await parked(gateway) == {}


async def window_with_amsterdam(bus: InProcessBus) -> None:
    await bus.accept(planned(at(2019, 1, 10)))
    await bus.accept(
        en.OpenEnrolmentWindow(
            command_id="open", tender_id="t1", lot_ids=["a"], opens_on=date(2019, 1, 15),
            closes_on=date(2019, 4, 30), occurred_at=at(2019, 1, 15),
        )
    )  # fmt: skip
    await bus.accept(
        en.EnrolParticipant(
            command_id="enrol", tender_id="t1", organisation_code="GM0363", lot_ids=["a"],
            power_of_attorney_ref="volmacht", occurred_at=at(2019, 3, 1),
        )
    )  # fmt: skip


async def test_a_freeze_dated_before_an_enrolment_it_lists_is_refused(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await window_with_amsterdam(bus)
    close = en.CloseEnrolmentWindow(command_id="close", tender_id="t1", occurred_at=at(2019, 2, 1))
    await refused(bus, close, "DATE_OUT_OF_ORDER")
    assert await parked(gateway) == {}


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (
            cmd.DecideProvisionalAward(
                command_id="award",
                tender_id="gt-connect",
                lot_id="voice",
                supplier_ids=[KPN],
                occurred_at=at(2019, 6, 20),
            ),
            "DATE_OUT_OF_ORDER",  # no bids to decide on by its day
        ),
        (
            cmd.CancelLot(
                command_id="cancel-lot",
                tender_id="gt-connect",
                lot_id="voice",
                reason="x",
                occurred_at=at(2019, 6, 20),
            ),
            "LATER_FACT_NO_LONGER_APPLIES",  # the bids would reach a cancelled lot
        ),
        (
            cmd.CancelTender(
                command_id="cancel",
                tender_id="gt-connect",
                reason="x",
                occurred_at=at(2019, 6, 20),
            ),
            "LATER_FACT_NO_LONGER_APPLIES",
        ),
    ],
    ids=lambda c: getattr(c, "command_type", c),
)
async def test_a_lot_fact_dated_before_the_bids_is_refused(
    gateway: Gateway, bus: InProcessBus, command: Command, code: str
) -> None:
    """By day the decision (or cancellation) would come before the bids it follows here: the
    owner would say PROVISIONALLY_AWARDED (CANCELLED), every view BIDS_RECEIVED."""
    await published(bus)
    await bus.accept(
        cmd.RecordBids(
            command_id="bids", tender_id="gt-connect", lot_id="voice", bid_count=2,
            bidder_ids=[KPN], occurred_at=at(2019, 7, 1),
        )
    )  # fmt: skip
    await refused(bus, command, code)
    assert await parked(gateway) == {}


async def test_a_term_change_dated_before_the_last_one_is_refused(
    gateway: Gateway, bus: InProcessBus
) -> None:
    """By day the earlier-dated amendment would come first and the extension recorded before
    it would set the end: every view would say 2024-03-31, the owner 2023-03-31."""
    await signed_contract(bus)
    await bus.accept(
        cmd.ExtendContract(
            command_id="extend", contract_id="c1", new_end_date=date(2024, 3, 31),
            occurred_at=at(2021, 6, 1),
        )
    )  # fmt: skip
    amend = cmd.AmendContract(
        command_id="amend", contract_id="c1", summary="Looptijd ingekort",
        new_end_date=date(2023, 3, 31), occurred_at=at(2021, 1, 1),
    )  # fmt: skip
    # By day the extension would extend another end than it did (tests/service/
    # test_backdated_between_facts.py: a change that leaves later ones standing is taken).
    message = await refused(bus, amend, "LATER_FACT_NO_LONGER_APPLIES")
    assert "ContractExtended of 2021-06-01" in message
    # A change of the value alone may still be learned late, dated where the contract ran.
    value = cmd.AmendContract(
        command_id="value", contract_id="c1", summary="Indexatie", new_value_eur=1000.0,
        occurred_at=at(2021, 1, 1),
    )  # fmt: skip
    await bus.accept(value)
    assert await parked(gateway) == {}


async def test_a_transfer_dated_before_the_last_transfer_is_refused(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await signed_contract(bus)
    await bus.accept(
        cmd.TransferContract(
            command_id="t1", contract_id="c1", to_authority="GM0363", occurred_at=at(2021, 6, 1)
        )
    )
    earlier = cmd.TransferContract(
        command_id="t2", contract_id="c1", to_authority="GM0599", occurred_at=at(2021, 1, 1)
    )
    # The later transfer says whom it came from: by day, that would be another authority.
    message = await refused(bus, earlier, "LATER_FACT_NO_LONGER_APPLIES")
    assert "ContractTransferred of 2021-06-01" in message
    assert await parked(gateway) == {}


async def test_two_extensions_dated_out_of_order_leave_the_latest_deadline_everywhere(
    gateway: Gateway, bus: InProcessBus
) -> None:
    """Recorded: to 31 May (dated March), then to 30 June (dated February). By day the second
    comes first: the views said 31 May while the owner said 30 June."""
    await window_with_amsterdam(bus)
    for command_id, closes_on, day in (("x1", date(2019, 5, 31), 3), ("x2", date(2019, 6, 30), 2)):
        await bus.accept(
            en.ExtendEnrolmentWindow(
                command_id=command_id, tender_id="t1", closes_on=closes_on,
                occurred_at=at(2019, day, 5),
            )
        )  # fmt: skip
    too_soon = en.ExtendEnrolmentWindow(
        command_id="x3", tender_id="t1", closes_on=date(2019, 6, 15), occurred_at=at(2019, 4, 1)
    )
    await refused(bus, too_soon, "EXTENSION_NOT_LATER")  # the owner's deadline: 30 June
    assert await parked(gateway) == {}
    body = await gateway.query('query { tender(tenderId: "t1") { enrolmentWindow { closesOn } } }')
    assert body["data"]["tender"]["enrolmentWindow"] == {"closesOn": "2019-06-30"}
