"""A fact learned late, dated between facts already recorded, is accepted where every later
fact still applies, and every view agrees on it.

The owner decides such a command on its aggregate as it was on the command's day (the facts
valid by then, in valid-time order), then folds every later fact again on top of it, as every
view folds them: accepted when each still applies, otherwise refused with
LATER_FACT_NO_LONGER_APPLIES naming the later fact (`eventstore.valid_order`). Commands go
through the services; GraphQL (present, asOf, knownAt), `audit replay` and the OCDS export
are compared with the owner's fold of the events stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from audit.bitemporal import Horizon, end_of_day
from audit.history import replay
from audit.ocds.releases import ocid
from contracts_schema.enrolment import commands as en
from contracts_schema.registry import commands as cmd
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import CONTEXTS, ENROLMENT
from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import CONTEXT_OF, Gateway
from tests.integration.test_one_truth import (
    CONTRACT,
    ORGANISATION,
    TENDER,
    audit_contract,
    audit_organisation,
    audit_tender,
    call_off_disagreements,
    compiled_releases,
    contract_answer,
    fold_at,
    iso,
    normalised,
    ocds_disagreements,
    organisation_answer,
    tender_answer,
)
from tests.service.bus import InProcessBus
from tests.service.story import (
    KPN,
    LNVT,
    VODAFONE,
    freeze,
    on,
    plan,
    publish,
    signed_contract,
    tender_with_window,
)

PARTICIPANTS = """query ($asOf: Date) {
  tender(tenderId: "t1", asOf: $asOf) { participants { organisationCode enrolledOn status } }
}"""


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


@dataclass
class Exporting:
    store: Any  # what `compiled_releases` reads the OCDS export from


QUERIES = {
    "tender": (TENDER, "id", tender_answer, audit_tender),
    "contract": (CONTRACT, "id", contract_answer, audit_contract),
    "organisation": (ORGANISATION, "code", organisation_answer, audit_organisation),
}


async def one_truth(
    g: Gateway,
    store: InMemoryEventStore,
    kind: str,
    key: str,
    days: list[date],
    known: list[datetime | None],
) -> dict[tuple[date, datetime | None], Any]:
    """At each (asOf, knownAt): GraphQL == the owner's fold == `audit replay` (== OCDS on the
    fields it maps); returns GraphQL's answers."""
    for runner in g.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    assert {r.projection.key: r.parked_count for r in g.runners if r.parked_count} == {}
    context = CONTEXT_OF[kind]
    stored = [e.envelope for e in (await store.load(CONTEXTS[context], kind, key)).events]
    query, name, answer_of, audit_of = QUERIES[kind]
    answers = {}
    for as_of in days:
        for known_at in known:
            horizon = Horizon(end_of_day(as_of), known_at or datetime.now(UTC) + timedelta(1000))
            where = f"{kind} {key} as of {as_of}, known at {known_at or 'now'}"
            variables = {name: key, "asOf": as_of.isoformat(),
                         "knownAt": known_at.isoformat() if known_at else None}  # fmt: skip
            body = await g.query(query, variables)
            assert "errors" not in body, body
            answer = normalised(body["data"][kind])
            state = fold_at(context, kind, key, stored, horizon)
            assert answer == answer_of(state), f"GraphQL vs the owner's fold: {where}"
            audit = replay(kind, key, stored, horizon).as_json()
            assert audit_of(audit["state"] | {"exists": audit["exists"]}) == answer, where
            if kind == "tender":
                processes = await compiled_releases(Exporting(store), key, horizon)  # type: ignore[arg-type]
                problems = ocds_disagreements(processes.get(ocid(key)), answer, {}, set())
                assert not problems, f"OCDS vs GraphQL: {where}: {problems}"
            if kind == "contract":
                processes = await compiled_releases(Exporting(store), key, horizon)  # type: ignore[arg-type]
                problems = call_off_disagreements(processes.get(ocid(key)), answer)
                assert not problems, f"OCDS vs GraphQL: {where}: {problems}"
            answers[as_of, known_at] = answer
    return answers


async def later(bus: InProcessBus, command: Any, code: str) -> str:
    reply = await bus.reject(command, code)
    return reply.message


async def test_a_term_change_learned_late_before_a_later_one_is_taken_in_every_view(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    """Recorded: the end moved to 2023 (dated June 2021); learned later: in January 2021 the
    end had moved to 2022-09-30 and the maximum extent to 2025. By day the January change
    comes first and June's end still holds: accepted, and every view says so."""
    await signed_contract(bus)
    await bus.accept(
        cmd.AmendContract(
            command_id="june", contract_id="c1", summary="Verlengd",
            new_end_date=date(2023, 3, 31), occurred_at=at(2021, 6, 1),
        )
    )  # fmt: skip
    clock.advance(timedelta(hours=1))
    before = clock.now()
    clock.advance(timedelta(hours=1))
    january = cmd.AmendContract(
        command_id="january", contract_id="c1", summary="Ingekort, rek verruimd",
        new_end_date=date(2022, 9, 30), new_max_extent_date=date(2025, 3, 31),
        occurred_at=at(2021, 1, 1),
    )  # fmt: skip
    assert isinstance(await bus.send(january), CommandAccepted)
    days = [date(2020, 12, 31), date(2021, 1, 1), date(2021, 6, 1), date(2022, 1, 1)]
    answers = await one_truth(gateway, store, "contract", "c1", days, [None, before])
    assert answers[date(2021, 1, 1), None]["endDate"] == "2022-09-30"
    assert answers[date(2021, 1, 1), None]["maxExtentDate"] == "2025-03-31"
    assert answers[date(2021, 1, 1), before]["endDate"] == "2022-03-31"  # not yet known then
    assert answers[date(2022, 1, 1), None]["endDate"] == "2023-03-31"
    # The owner decides on the same order: an extension now starts from June's end.
    extend = cmd.ExtendContract(
        command_id="extend", contract_id="c1", new_end_date=date(2024, 3, 31),
        occurred_at=at(2022, 2, 1),
    )  # fmt: skip
    assert isinstance(await bus.send(extend), CommandAccepted)
    answers = await one_truth(gateway, store, "contract", "c1", [date(2022, 3, 1)], [None])
    assert answers[date(2022, 3, 1), None]["endDate"] == "2024-03-31"


async def test_a_change_that_would_alter_a_later_extension_is_refused_naming_it(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    await signed_contract(bus)
    await bus.accept(
        cmd.ExtendContract(
            command_id="extend", contract_id="c1", new_end_date=date(2024, 3, 31),
            occurred_at=at(2021, 6, 1),
        )
    )  # fmt: skip
    amend = cmd.AmendContract(
        command_id="amend", contract_id="c1", summary="Looptijd gewijzigd",
        new_end_date=date(2023, 3, 31), occurred_at=at(2021, 1, 1),
    )  # fmt: skip
    message = await later(bus, amend, "LATER_FACT_NO_LONGER_APPLIES")
    assert "ContractExtended of 2021-06-01" in message
    answers = await one_truth(gateway, store, "contract", "c1", [date(2021, 3, 1)], [None])
    assert answers[date(2021, 3, 1), None]["endDate"] == "2022-03-31"


async def test_a_termination_learned_late_before_a_later_change_is_refused_naming_it(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await signed_contract(bus)
    await bus.accept(
        cmd.AmendContract(
            command_id="value", contract_id="c1", summary="Indexatie", new_value_eur=1000.0,
            occurred_at=at(2021, 5, 1),
        )
    )  # fmt: skip
    terminate = cmd.TerminateContract(
        command_id="end", contract_id="c1", reason="Faillissement", occurred_at=at(2021, 2, 1)
    )
    message = await later(bus, terminate, "LATER_FACT_NO_LONGER_APPLIES")
    assert "ContractAmended of 2021-05-01" in message
    assert "terminated on 2021-02-01" in message


async def published(bus: InProcessBus) -> None:
    await bus.accept(plan())
    await freeze(bus)
    await bus.accept(publish())


async def test_a_pause_and_resumption_learned_late_before_the_cancellation_are_taken(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore, clock: FixedClock
) -> None:
    """Recorded: published, cancelled in September. Learned later: paused in July, resumed
    in August. By day they come between; the cancellation still applies after them."""
    await published(bus)
    await bus.accept(
        cmd.CancelTender(
            command_id="cancel", tender_id="gt-connect", reason="Budget",
            occurred_at=at(2019, 9, 1),
        )
    )  # fmt: skip
    before = clock.now()
    clock.advance(timedelta(hours=1))
    for command in (
        cmd.PauseTender(command_id="pause", tender_id="gt-connect", reason="Vragen",
                        occurred_at=at(2019, 7, 1)),
        cmd.ResumeTender(command_id="resume", tender_id="gt-connect", reason="Beantwoord",
                         occurred_at=at(2019, 8, 1)),
    ):  # fmt: skip
        assert isinstance(await bus.send(command), CommandAccepted), command
        clock.advance(timedelta(hours=1))
    days = [date(2019, 7, 15), date(2019, 8, 15), date(2019, 9, 15)]
    answers = await one_truth(gateway, store, "tender", "gt-connect", days, [None, before])
    assert answers[date(2019, 7, 15), None]["phase"] == "PAUSED"
    assert answers[date(2019, 7, 15), before]["phase"] == "PUBLISHED"
    assert answers[date(2019, 8, 15), None]["phase"] == "PUBLISHED"
    assert answers[date(2019, 9, 15), None]["phase"] == "CANCELLED"


async def test_a_pause_before_a_later_pause_is_refused_naming_it(
    gateway: Gateway, bus: InProcessBus
) -> None:
    await published(bus)
    await bus.accept(
        cmd.PauseTender(command_id="p1", tender_id="gt-connect", reason="x",
                        occurred_at=at(2019, 9, 1))
    )  # fmt: skip
    early = cmd.PauseTender(
        command_id="p0", tender_id="gt-connect", reason="y", occurred_at=at(2019, 7, 1)
    )
    message = await later(bus, early, "LATER_FACT_NO_LONGER_APPLIES")
    assert "TenderPaused of 2019-09-01" in message


async def test_a_rename_learned_late_before_the_merger_is_taken_in_every_view(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """A municipality renamed in 2019 and merged in 2021; the merger was recorded first.
    (Before, a merged municipality could not be renamed at all.)"""
    csv = "cbs_code,name,province\nGM0001,Eendorp,Utrecht\nGM0002,Tweestad,Utrecht\n"
    await bus.accept(
        en.LoadMunicipalities(command_id="cbs", csv_text=csv, occurred_at=at(2018, 1, 1))
    )
    await bus.accept(
        en.MergeMunicipality(
            command_id="merge", code="GM0001", successor_code="GM0002",
            effective_on=date(2021, 1, 1), occurred_at=at(2021, 1, 1),
        )
    )  # fmt: skip
    rename = en.RenameOrganisation(
        command_id="rename", code="GM0001", name="Eendorp-Oost", occurred_at=at(2019, 6, 1)
    )
    assert isinstance(await bus.send(rename), CommandAccepted)
    days = [date(2019, 1, 1), date(2019, 6, 1), date(2021, 6, 1)]
    answers = await one_truth(gateway, store, "organisation", "GM0001", days, [None])
    assert answers[date(2019, 1, 1), None]["name"] == "Eendorp"
    assert answers[date(2021, 6, 1), None] == {
        "name": "Eendorp-Oost", "mergedInto": "GM0002", "mergedOn": "2021-01-01",
    }  # fmt: skip
    # A rename dated before a later rename would change what that one renamed: refused.
    again = en.RenameOrganisation(
        command_id="again", code="GM0001", name="Oost", occurred_at=at(2019, 1, 1)
    )
    message = await later(bus, again, "LATER_FACT_NO_LONGER_APPLIES")
    assert "OrganisationRenamed of 2019-06-01" in message


async def test_an_enrolment_learned_late_before_the_bodys_withdrawal_is_taken(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """Enrolled in March, withdrawn in April; learned later: it had enrolled already in
    February. By day: enrolled, enrolled again, withdrawn: out, in every view and for the
    owner (who now refuses a withdrawal, as every view would)."""
    await tender_with_window(bus, date(2019, 4, 30))
    for command_id, day in (("enrol", at(2019, 3, 1)), ("early", at(2019, 2, 1))):
        enrol = en.EnrolParticipant(
            command_id=command_id, tender_id="t1", organisation_code="GM0363", lot_ids=["a"],
            power_of_attorney_ref="volmacht", occurred_at=day,
        )  # fmt: skip
        if command_id == "early":
            assert isinstance(await bus.send(enrol), CommandAccepted)
            break
        await bus.accept(enrol)
        await bus.accept(
            en.WithdrawParticipant(
                command_id="withdraw", tender_id="t1", organisation_code="GM0363",
                occurred_at=at(2019, 4, 1),
            )
        )  # fmt: skip
    for runner in gateway.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    assert {r.projection.key: r.parked_count for r in gateway.runners if r.parked_count} == {}

    async def status(as_of: str) -> Any:
        body = await gateway.query(
            PARTICIPANTS, {"asOf": as_of}, token=gateway.token("coordinator")
        )
        assert "errors" not in body, body
        return body["data"]["tender"]["participants"]

    enrolled = {"organisationCode": "GM0363", "status": "ENROLLED"}
    assert await status("2019-02-15") == [{**enrolled, "enrolledOn": "2019-02-01"}]
    assert await status("2019-03-15") == [{**enrolled, "enrolledOn": "2019-03-01"}]
    withdrawn = {"organisationCode": "GM0363", "status": "WITHDRAWN", "enrolledOn": "2019-03-01"}
    assert await status("2019-04-15") == [withdrawn]
    # The owner's fold and `audit replay` say the same at each day.
    stored = [e.envelope for e in (await store.load(ENROLMENT, "enrolment_window", "t1")).events]
    for day, status_then, since in ((date(2019, 2, 15), "enrolled", "2019-02-01"),
                                    (date(2019, 3, 15), "enrolled", "2019-03-01"),
                                    (date(2019, 4, 15), "withdrawn", "2019-03-01")):  # fmt: skip
        horizon = Horizon(end_of_day(day), datetime.now(UTC) + timedelta(1000))
        state = fold_at("enrolment", "enrolment_window", "t1", stored, horizon)
        participant = state.participants["GM0363"]
        assert (participant.status, iso(participant.enrolled_on)) == (status_then, since)
        audit = replay("enrolment_window", "t1", stored, horizon).as_json()["state"]
        shown = audit["participants"]["GM0363"]
        assert (shown["status"], shown["enrolled_on"]) == (status_then, since), audit
    withdraw = en.WithdrawParticipant(
        command_id="withdraw-2", tender_id="t1", organisation_code="GM0363",
        occurred_at=at(2019, 4, 20),
    )  # fmt: skip
    await bus.reject(withdraw, "NOT_ENROLLED")


def planning(occurred: datetime, title: str = "Vaste telefonie") -> cmd.PlanTender:
    return cmd.PlanTender(
        command_id=f"plan-{occurred.date()}-{len(title)}", tender_id="t1", title=title,
        contracting_authority=LNVT, procedure="open", framework=False,
        lots=[{"lot_id": "a", "title": "A"}], occurred_at=occurred,
    )  # fmt: skip


async def test_a_planning_dated_too_late_is_moved_earlier_in_every_view(
    gateway: Gateway, bus: InProcessBus, store: InMemoryEventStore
) -> None:
    """Planned with occurredAt 2020-03-10, though it was planned on 2020-02-01: its prior
    notice of 2020-03-01 was refused. PlanTender sent again with the same details and the
    earlier day moves the planning; a different planning is still refused."""
    await bus.accept(planning(at(2020, 3, 10)))
    notice = cmd.PublishPriorInformationNotice(
        command_id="pin", tender_id="t1", notice_reference="PIN-1", occurred_at=at(2020, 3, 1)
    )
    await bus.reject(notice, "TENDER_NOT_YET_PLANNED")
    await bus.reject(planning(at(2020, 1, 1), title="Iets anders"), "TENDER_ALREADY_PLANNED")
    assert isinstance(await bus.send(planning(at(2020, 2, 1))), CommandAccepted)
    assert isinstance(await bus.send(notice), CommandAccepted)
    days = [date(2020, 1, 31), date(2020, 2, 1), date(2020, 3, 1), date(2020, 3, 15)]
    answers = await one_truth(gateway, store, "tender", "t1", days, [None])
    assert answers[date(2020, 1, 31), None] is None
    assert answers[date(2020, 2, 1), None]["phase"] == "PLANNED"
    assert answers[date(2020, 3, 1), None]["priorNoticeOn"] == "2020-03-01"
    # Sent once more on a later day, or again on the same day: nothing to move.
    await bus.reject(planning(at(2020, 2, 15)), "TENDER_ALREADY_PLANNED")


async def test_a_programme_planning_dated_too_late_is_moved_earlier(
    gateway: Gateway, bus: InProcessBus
) -> None:
    def programme(occurred: datetime, name: str = "GT") -> cmd.PlanProgramme:
        return cmd.PlanProgramme(
            command_id=f"p-{occurred.date()}-{len(name)}", programme_id="gt", name=name,
            coordinator=LNVT, occurred_at=occurred,
        )  # fmt: skip

    await bus.accept(programme(at(2020, 3, 10)))
    successor = programme(at(2020, 3, 10)).model_copy(
        update={"command_id": "p-gt2", "programme_id": "gt2"}
    )
    await bus.accept(successor)
    link = cmd.LinkSuccessorProgramme(
        command_id="l", programme_id="gt", successor_programme_id="gt2", occurred_at=at(2020, 3, 1)
    )
    await bus.reject(link, "PROGRAMME_NOT_YET_PLANNED")
    await bus.reject(programme(at(2020, 1, 1), name="Ander"), "PROGRAMME_ALREADY_PLANNED")
    assert isinstance(await bus.send(programme(at(2020, 2, 1))), CommandAccepted)
    assert isinstance(await bus.send(link), CommandAccepted)
    for runner in gateway.runners:
        assert await runner.wait_until(await runner.stream_heads(), timeout=120)
    assert {r.projection.key: r.parked_count for r in gateway.runners if r.parked_count} == {}
    body = await gateway.query(
        'query { programmes(asOf: "2020-03-01") { programmeId successorIds } }'
    )
    assert body["data"]["programmes"] == [{"programmeId": "gt", "successorIds": ["gt2"]}]
    body = await gateway.query('query { programmes(asOf: "2020-01-31") { programmeId } }')
    assert body["data"]["programmes"] == []


@pytest.mark.parametrize("late", ["review", "revision"])
async def test_a_fact_learned_late_before_a_recorded_standstill_end_is_refused(
    late: str, bus: InProcessBus
) -> None:
    """review11: a review started, or the award revised, before the recorded end of the
    standstill would leave that end meaning nothing (every view then showed the standstill
    running on while the owner said it had ended): refused, naming it."""
    tender, lot = "gt-connect", "voice"
    await published(bus)
    await bus.accept(
        cmd.RecordBids(
            command_id="bids", tender_id=tender, lot_id=lot, bid_count=2,
            bidder_ids=[KPN, VODAFONE], occurred_at=on(date(2019, 7, 1)),
        )
    )  # fmt: skip
    await bus.accept(
        cmd.DecideProvisionalAward(
            command_id="award", tender_id=tender, lot_id=lot, supplier_ids=[KPN],
            occurred_at=on(date(2019, 8, 1)),
        )
    )  # fmt: skip
    await bus.accept(
        cmd.RecordStandstillEnded(
            command_id="ended", tender_id=tender, lot_id=lot, occurred_at=on(date(2019, 8, 22))
        )
    )
    command: cmd.TenderCommand = (
        cmd.StartReviewProceedings(
            command_id="late", tender_id=tender, lot_id=lot, forum="Rechtbank",
            occurred_at=on(date(2019, 8, 10)),
        )
        if late == "review"
        else cmd.ReviseProvisionalAward(
            command_id="late", tender_id=tender, lot_id=lot, supplier_ids=[VODAFONE],
            reason="herbeoordeling", occurred_at=on(date(2019, 8, 15)),
        )
    )  # fmt: skip
    reply = await bus.send(command)
    assert isinstance(reply, CommandRejected), reply
    assert reply.code == "LATER_FACT_NO_LONGER_APPLIES"
    assert "StandstillEnded" in reply.message
