"""A fact is decided by the world of its own day, other aggregates included (R3).

A decision that reads another aggregate (an enrolment its body; a window's opening its
tender; a call-off its framework, the frozen list and the mergers) reads it as it was on the
command's valid day, as every view shows that day (`eventstore.folded.load_folded`, `as_of`).
Before, it read them as of now: a fact learned late was refused for what became true only
after its day. Where the other aggregate does not exist yet on that day, its existence is
taken from all its facts, as before (existence across aggregates is not compared by day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts_schema.enrolment import commands as en
from contracts_schema.replies import CommandAccepted
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.service.bus import InProcessBus
from tests.service.story import call_off, framework_signed, tender_with_window
from tests.service.test_backdated_between_facts import PARTICIPANTS, one_truth


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


CBS = "cbs_code,name,province\nGM0001,Eendorp,Utrecht\nGM0002,Tweestad,Utrecht\n"


async def merged_in_2021(bus: InProcessBus) -> None:
    """Eendorp (GM0001), registered since 2018, merged into Tweestad on 1 January 2021."""
    await bus.accept(
        en.LoadMunicipalities(command_id="cbs", csv_text=CBS, occurred_at=at(2018, 1, 1))
    )
    await bus.accept(
        en.MergeMunicipality(
            command_id="merge", code="GM0001", successor_code="GM0002",
            effective_on=date(2021, 1, 1), occurred_at=at(2021, 1, 1),
        )
    )  # fmt: skip


async def test_an_enrolment_learned_late_by_a_body_merged_since_is_taken_in_every_view(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """Eendorp enrolled in March 2019; its merger of 2021 was recorded first. In 2019 it was
    a municipality of its own: the enrolment stands (it was refused ORGANISATION_MERGED)."""
    await merged_in_2021(bus)
    await tender_with_window(bus, date(2021, 12, 31))
    enrol = en.EnrolParticipant(
        command_id="enrol", tender_id="t1", organisation_code="GM0001", lot_ids=["a"],
        power_of_attorney_ref="volmacht", occurred_at=at(2019, 3, 1),
    )  # fmt: skip
    reply = await bus.send(enrol)
    assert isinstance(reply, CommandAccepted), reply
    # Still refused on a day after the merger: it acts as its successor then.
    late = en.EnrolParticipant(
        command_id="late", tender_id="t1", organisation_code="GM0001", lot_ids=["a"],
        power_of_attorney_ref="volmacht", occurred_at=at(2021, 3, 1),
    )  # fmt: skip
    await bus.reject(late, "ORGANISATION_MERGED")
    for runner in gateway.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    body = await gateway.query(
        PARTICIPANTS, {"asOf": "2019-03-15"}, token=gateway.token("coordinator")
    )
    assert "errors" not in body, body
    assert body["data"]["tender"]["participants"] == [
        {"organisationCode": "GM0001", "enrolledOn": "2019-03-01", "status": "ENROLLED"}
    ]
    days = [date(2019, 3, 15), date(2021, 6, 1)]
    await one_truth(gateway, store, "organisation", "GM0001", days, [None])


async def test_a_call_off_learned_late_by_a_body_merged_since_is_taken(
    bus: InProcessBus,
) -> None:
    """Eendorp called off under the framework in 2020; its merger of 2021 was recorded
    first. In 2020 it was a participant of its own (it was refused ORGANISATION_MERGED)."""
    await bus.accept(
        en.LoadMunicipalities(command_id="cbs", csv_text=CBS, occurred_at=at(2018, 1, 1))
    )
    await framework_signed(bus, others={"GM0001": ["voice"]})  # enrolled in 2019
    await bus.accept(
        en.MergeMunicipality(
            command_id="merge", code="GM0001", successor_code="GM0002",
            effective_on=date(2021, 1, 1), occurred_at=at(2021, 1, 1),
        )
    )  # fmt: skip
    reply = await bus.send(call_off("co-1", date(2020, 3, 1), participant_code="GM0001"))
    assert isinstance(reply, CommandAccepted), reply
    after = call_off("co-2", date(2021, 3, 1), participant_code="GM0001")
    await bus.reject(after, "ORGANISATION_MERGED")


async def test_a_merger_counts_from_the_day_it_took_effect_not_the_day_recorded(
    bus: InProcessBus,
) -> None:
    """A merger recorded today, effective since February 2019: an enrolment of March 2019 by
    the merged municipality is refused; one of January 2019 stands."""
    await bus.accept(
        en.LoadMunicipalities(command_id="cbs", csv_text=CBS, occurred_at=at(2018, 1, 1))
    )
    await bus.accept(
        en.MergeMunicipality(
            command_id="merge", code="GM0001", successor_code="GM0002",
            effective_on=date(2019, 2, 1),
        )
    )  # fmt: skip
    await tender_with_window(
        bus,
        date(2019, 4, 30),
        planned_on=date(2018, 12, 1),
        opens_on=date(2019, 1, 1),
        opened_on=date(2018, 12, 15),
    )
    march = en.EnrolParticipant(
        command_id="march", tender_id="t1", organisation_code="GM0001", lot_ids=["a"],
        power_of_attorney_ref="volmacht", occurred_at=at(2019, 3, 1),
    )  # fmt: skip
    await bus.reject(march, "ORGANISATION_MERGED")
    january = march.model_copy(update={"command_id": "january", "occurred_at": at(2019, 1, 10),
                                       "enrolled_on": date(2019, 1, 10)})  # fmt: skip
    assert isinstance(await bus.send(january), CommandAccepted)
