"""One truth at every horizon: for generated histories of valid commands (backdated facts
included), what GraphQL answers "as of D, as known at K" equals the owner's fold of the
events known at K and valid by D, equals `audit replay`, equals the OCDS compiled release
on the fields it maps.

The histories come from `tests.support.histories` (programmes, tenders with lots,
enrolment, awards incl. revised and withdrawn ones, pause/resume, cancellations, contracts
with extensions, amendments, transfers, call-offs). One embedded system serves the module;
each example has its own id namespace. The number of examples is bounded for the normal
suite; HISTORIES_PROFILE=long runs many more.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import example, given

from audit.bitemporal import Horizon, end_of_day, visible
from audit.history import replay
from audit.ocds import codes
from audit.ocds.export import gather, packages
from audit.ocds.packages import OcdsSettings, Publication
from audit.ocds.releases import ocid
from audit.ocds.schemas import errors
from contracts_schema.base import Command
from contracts_schema.enrolment.commands import AwardCallOff, MergeMunicipality, RenameOrganisation
from contracts_schema.enrolment.state import CallOffState, OrganisationState
from contracts_schema.envelope import EventEnvelope
from contracts_schema.folds import FOLDS, typed_event
from contracts_schema.registry.commands import PlanProgramme, PlanTender, SignContract
from contracts_schema.registry.state import (
    ContractState,
    ContractStatus,
    LotState,
    LotStatus,
    ProgrammeState,
    TenderPhase,
    TenderState,
    TenderStatus,
)
from contracts_schema.replies import CommandRejected
from contracts_schema.subjects import CONTEXTS
from eventstore.clock import SystemClock
from eventstore.store import EventStore
from tests.support.histories import before_creation, histories, horizons, with_facts_between
from tests.support.profiles import TIMEOUT, history_settings

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PUBLICATION = Publication(OcdsSettings(), "https://ocds.example.org/gt")
PROFILE = history_settings(int(os.environ.get("ONE_TRUTH_EXAMPLES", "4")))

ACTOR = "coordinator:one-truth"

TENDER = """query ($id: String!, $asOf: Date, $knownAt: DateTime) {
  tender(tenderId: $id, asOf: $asOf, knownAt: $knownAt) {
    phase title procedure publishedOn cancelledOn cancellationReason
    priorNoticeOn priorNoticeReference
    marketConsultationFrom marketConsultationTo marketConsultationSummary
    corrections { on summary noticeReference } clarifications { on summary noticeReference }
    pausedOn pauseReason resumedOn resumeReason successorIds
    lots {
      lotId status supplierIds standstillEndsOn awardedOn cancelledOn reviewPending
      bidCount bidsReceivedOn previousSupplierIds revisionReason withdrawnOn withdrawalReason
      cancellationReason
      review { forum startedOn claimantId reference concludedOn outcome pending }
    }
  }
}"""
PROGRAMMES = """query ($asOf: Date, $knownAt: DateTime) {
  programmes(asOf: $asOf, knownAt: $knownAt) { programmeId predecessorId successorIds }
}"""
CONTRACT_LOTS = """query ($id: String!, $asOf: Date, $knownAt: DateTime) {
  contract(contractId: $id, asOf: $asOf, knownAt: $knownAt) { tenderId lotIds }
}"""
CONTRACT = """query ($id: String!, $asOf: Date, $knownAt: DateTime) {
  contract(contractId: $id, asOf: $asOf, knownAt: $knownAt) {
    kind status endDate maxExtentDate valueEur contractingAuthorityCode payingAgentCode
  }
}"""

ORGANISATION = """query ($code: String!, $asOf: Date, $knownAt: DateTime) {
  organisation(code: $code, asOf: $asOf, knownAt: $knownAt) { name mergedInto mergedOn }
}"""


@dataclass(repr=False)
class Running:
    system: Any
    client: httpx.AsyncClient
    bearer: str
    store: EventStore

    def __repr__(self) -> str:  # hypothesis reports the history, not the fixture
        return "Running(embedded system)"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    from bootstrap.embedded import embedded
    from gateway.auth import Role, issue_token

    data: Path = tmp_path_factory.mktemp("one-truth") / "data"
    async with embedded(data, port=0) as (system, server):
        bearer = issue_token(system.settings, Role.COORDINATOR, "one-truth")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield Running(system, client, bearer, EventStore(system.nc, SystemClock()))


async def ask(running: Running, query: str, **variables: Any) -> dict[str, Any]:
    response = await running.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {running.bearer}"},
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def tender_answer(state: TenderState) -> dict[str, Any] | None:
    """What GraphQL must say of a tender, from the registry's fold."""
    if not state.exists:
        return None
    paused = state.status is TenderStatus.PAUSED
    assert state.procedure is not None
    return {
        "phase": state.phase.name,
        "title": state.title,
        "procedure": state.procedure.upper(),
        "publishedOn": iso(state.published_on),
        "cancelledOn": iso(state.cancelled_on),
        "cancellationReason": state.cancellation_reason,
        "priorNoticeOn": iso(state.prior_notice_published_on),
        "priorNoticeReference": state.prior_notice_reference,
        "marketConsultationFrom": iso(state.market_consultation_started_on),
        "marketConsultationTo": iso(state.market_consultation_ended_on),
        "marketConsultationSummary": state.market_consultation_summary,
        "corrections": [notice(n.on, n.summary, n.notice_reference) for n in state.corrections],
        "clarifications": [
            notice(n.on, n.summary, n.notice_reference) for n in state.clarifications
        ],
        "pausedOn": iso(state.paused_on) if paused else None,
        "pauseReason": state.pause_reason if paused else None,
        "resumedOn": iso(state.resumed_on),
        "resumeReason": state.resume_reason,
        "successorIds": sorted(state.successor_tender_ids),
        "lots": [lot_answer(lot) for lot in state.lots],
    }


def notice(on: date | str, summary: str, reference: str | None) -> dict[str, Any]:
    return {"on": on if isinstance(on, str) else on.isoformat(), "summary": summary,
            "noticeReference": reference}  # fmt: skip


def lot_answer(lot: LotState) -> dict[str, Any]:
    review = lot.review
    return {
        "lotId": lot.lot_id,
        "status": lot.status.name,
        "supplierIds": list(lot.supplier_ids),
        "standstillEndsOn": iso(lot.standstill_ends_on),
        "awardedOn": iso(lot.awarded_on),
        "cancelledOn": iso(lot.cancelled_on),
        "reviewPending": lot.review_pending,
        "bidCount": lot.bid_count,
        "bidsReceivedOn": iso(lot.received_on),
        "previousSupplierIds": list(lot.previous_supplier_ids),
        "revisionReason": lot.revision_reason,
        "withdrawnOn": iso(lot.withdrawn_on),
        "withdrawalReason": lot.withdrawal_reason,
        "cancellationReason": lot.cancel_reason,
        "review": review_answer(
            review.forum,
            iso(review.started_on),
            review.claimant_id,
            review.reference,
            iso(review.concluded_on),
            review.outcome,
        )
        if review
        else None,
    }


def review_answer(
    forum: str,
    started_on: str | None,
    claimant_id: str | None,
    reference: str | None,
    concluded_on: str | None,
    outcome: str | None,
) -> dict[str, Any]:
    return {
        "forum": forum,
        "startedOn": started_on,
        "claimantId": claimant_id,
        "reference": reference,
        "concludedOn": concluded_on,
        "outcome": outcome.upper() if outcome else None,
        "pending": concluded_on is None,
    }


def contract_answer(state: ContractState) -> dict[str, Any] | None:
    if not state.exists:
        return None
    assert state.kind is not None
    return {
        "kind": state.kind.name,
        "status": state.status.name,
        "endDate": iso(state.end_date),
        "maxExtentDate": iso(state.max_extent_date),
        "valueEur": state.value_eur,
        "contractingAuthorityCode": state.contracting_authority,
        "payingAgentCode": state.paying_agent,
    }


def call_off_answer(state: CallOffState) -> dict[str, Any] | None:
    """A concluded call-off is a contract under its call-off id (the call-off fold's terms)."""
    if not state.awarded:
        return None
    return {
        "kind": "CALL_OFF",
        "status": "ACTIVE",
        "endDate": iso(state.end_date),
        "maxExtentDate": None,
        "valueEur": state.value_eur,
        "contractingAuthorityCode": state.participant_code,
        "payingAgentCode": None,
    }


def audit_call_off(state: dict[str, Any]) -> dict[str, Any] | None:
    if not state.get("awarded_on"):
        return None
    return {
        "kind": "CALL_OFF",
        "status": "ACTIVE",
        "endDate": state["end_date"],
        "maxExtentDate": None,
        "valueEur": Decimal(state["value_eur"]) if state["value_eur"] is not None else None,
        "contractingAuthorityCode": state["participant_code"],
        "payingAgentCode": None,
    }


def audit_tender(state: dict[str, Any]) -> dict[str, Any] | None:
    """What `audit replay` says of a tender (its JSON state), in GraphQL's spelling."""
    if not state.get("exists"):
        return None
    paused = state["status"] == "paused"
    return {
        "phase": state["phase"].upper(),
        "title": state["title"],
        "procedure": state["procedure"].upper(),
        "publishedOn": state["published_on"],
        "cancelledOn": state["cancelled_on"],
        "cancellationReason": state["cancellation_reason"],
        "priorNoticeOn": state["prior_notice_published_on"],
        "priorNoticeReference": state["prior_notice_reference"],
        "marketConsultationFrom": state["market_consultation_started_on"],
        "marketConsultationTo": state["market_consultation_ended_on"],
        "marketConsultationSummary": state["market_consultation_summary"],
        "corrections": [
            notice(n["on"], n["summary"], n["notice_reference"]) for n in state["corrections"]
        ],
        "clarifications": [
            notice(n["on"], n["summary"], n["notice_reference"]) for n in state["clarifications"]
        ],
        "pausedOn": state["paused_on"] if paused else None,
        "pauseReason": state["pause_reason"] if paused else None,
        "resumedOn": state["resumed_on"],
        "resumeReason": state["resume_reason"],
        "successorIds": sorted(state["successor_tender_ids"]),
        "lots": [
            {
                "lotId": lot["lot_id"],
                "status": lot["status"].upper(),
                "supplierIds": lot["supplier_ids"],
                "standstillEndsOn": lot["standstill_ends_on"],
                "awardedOn": lot["awarded_on"],
                "cancelledOn": lot["cancelled_on"],
                "reviewPending": lot["review_pending"],
                "bidCount": lot["bid_count"],
                "bidsReceivedOn": lot["received_on"],
                "previousSupplierIds": lot["previous_supplier_ids"],
                "revisionReason": lot["revision_reason"],
                "withdrawnOn": lot["withdrawn_on"],
                "withdrawalReason": lot["withdrawal_reason"],
                "cancellationReason": lot["cancel_reason"],
                "review": review_answer(
                    r["forum"],
                    r["started_on"],
                    r["claimant_id"],
                    r["reference"],
                    r["concluded_on"],
                    r["outcome"],
                )
                if (r := lot["review"])
                else None,
            }
            for lot in state["lots"]
        ],
    }


def organisation_answer(state: OrganisationState) -> dict[str, Any] | None:
    if not state.registered:
        return None
    return {
        "name": state.name,
        "mergedInto": state.successor_code,
        "mergedOn": iso(state.merged_on),
    }


def audit_organisation(state: dict[str, Any]) -> dict[str, Any] | None:
    if not state.get("kind"):
        return None
    return {"name": state["name"], "mergedInto": state["successor_code"],
            "mergedOn": state["merged_on"]}  # fmt: skip


def programme_answers(states: dict[str, ProgrammeState]) -> dict[str, dict[str, Any]]:
    """Each programme's links from both ends: its own declarations and the others' naming it."""
    answers = {
        pid: {"predecessors": set(), "successorIds": set(s.successor_programme_ids)}
        for pid, s in states.items()
        if s.exists
    }
    for pid, s in states.items():
        if not s.exists:
            continue
        if s.predecessor_programme_id:
            answers[pid]["predecessors"].add(s.predecessor_programme_id)
            if s.predecessor_programme_id in answers:
                answers[s.predecessor_programme_id]["successorIds"].add(pid)
        for successor in s.successor_programme_ids:
            if successor in answers:
                answers[successor]["predecessors"].add(pid)
    return {
        pid: {"predecessors": sorted(a["predecessors"]), "successorIds": sorted(a["successorIds"])}
        for pid, a in answers.items()
    }


def audit_contract(state: dict[str, Any]) -> dict[str, Any] | None:
    if not state.get("exists"):
        return None
    return {
        "kind": state["kind"].upper(),
        "status": state["status"].upper(),
        "endDate": state["end_date"],
        "maxExtentDate": state["max_extent_date"],
        "valueEur": Decimal(state["value_eur"]) if state["value_eur"] is not None else None,
        "contractingAuthorityCode": state["contracting_authority"],
        "payingAgentCode": state["paying_agent"],
    }


def ocds_disagreements(
    compiled: dict[str, Any] | None,
    tender: dict[str, Any] | None,
    contracts: dict[str, Any],
    signed_lots: set[str] | None = None,
) -> list[str]:
    """Where the OCDS compiled release says otherwise than GraphQL, on the fields it maps.

    `signed_lots`: the lots of this tender a contract GraphQL shows was signed for.
    """
    if tender is None:
        return [] if compiled is None else ["OCDS has a record of a tender GraphQL lacks"]
    if compiled is None:
        return ["OCDS has no record of a tender GraphQL shows"]
    problems = []
    phase = TenderPhase[tender["phase"]]
    lots = {lot["id"]: lot for lot in compiled["tender"].get("lots", [])}
    lot_codes = []
    for lot in tender["lots"]:
        signed = lot["lotId"] in (signed_lots or set())
        want = codes.lot_status(LotStatus[lot["status"]], phase, signed)
        lot_codes.append(want)
        got = lots.get(lot["lotId"], {}).get("status")
        if got != want:
            problems.append(f"lot {lot['lotId']} status {got} != {want}")
    expected = codes.process_status(phase, lot_codes)
    if compiled["tender"]["status"] != expected:
        problems.append(f"tender status {compiled['tender']['status']} != {expected}")
    method = codes.method(tender["procedure"].lower(), tender["publishedOn"] is not None)
    if compiled["tender"].get("procurementMethod") != method:
        problems.append(f"procurementMethod {compiled['tender'].get('procurementMethod')}")
    bids = {s["relatedLot"]: s["value"] for s in compiled.get("bids", {}).get("statistics", [])}
    shown_bids = {
        lot["lotId"]: lot["bidCount"] for lot in tender["lots"] if lot["bidCount"] is not None
    }
    if bids != shown_bids:
        problems.append(f"bids per lot {bids} != {shown_bids}")
    released = {c["id"]: c for c in compiled.get("contracts", [])}
    for cid, answer in contracts.items():
        if answer is None or cid not in released:
            continue  # a call-off or a contract of another tender: not in this record
        c = released[cid]
        end = c["period"]["endDate"]
        if end[:10] != answer["endDate"] or "T23:59:59" not in end:
            problems.append(f"contract {cid} end {end} != end of {answer['endDate']}")
        extent = c["period"].get("maxExtentDate")
        if (extent[:10] if extent else None) != answer["maxExtentDate"]:
            problems.append(f"contract {cid} max extent {extent} != {answer['maxExtentDate']}")
        value = c.get("value", {}).get("amount")
        if answer["valueEur"] is not None and Decimal(str(value)) != answer["valueEur"]:
            problems.append(f"contract {cid} value {value} != {answer['valueEur']}")
        status = codes.contract_status(ContractStatus[answer["status"]])
        if c["status"] != status:
            problems.append(f"contract {cid} status {c['status']} != {status}")
    return problems


async def compiled_releases(running: Running, tender_id: str, at: Horizon) -> dict[str, Any]:
    """The compiled release of every process of a tender, by ocid: its own, its call-offs'."""
    exported = await gather(running.store, tender_id, at)
    if exported.empty:
        return {}
    built = packages(exported, tender_id, at.known_at, PUBLICATION)
    # Every export at every horizon is valid OCDS 1.1.5 with the declared extensions.
    assert errors(built["release_package"], "release-package-schema.json") == []
    assert errors(built["record_package"], "record-package-schema.json") == []
    return {r["ocid"]: r["compiledRelease"] for r in built["record_package"]["records"]}


def call_off_disagreements(
    compiled: dict[str, Any] | None, answer: dict[str, Any] | None
) -> list[str]:
    """A call-off is its own OCDS process: its contract says what GraphQL's contract says."""
    if answer is None:  # a mini-competition under way is a process with a tender, no contract
        if compiled is None or not compiled.get("contracts"):
            return []
        return ["OCDS has a call-off contract GraphQL lacks"]
    if compiled is None:
        return ["OCDS has no process for a call-off GraphQL shows"]
    [c] = compiled["contracts"]
    problems = []
    if c["period"]["endDate"][:10] != answer["endDate"]:
        problems.append(f"end {c['period']['endDate']} != {answer['endDate']}")
    value = c.get("value", {}).get("amount")
    if answer["valueEur"] is not None and Decimal(str(value)) != answer["valueEur"]:
        problems.append(f"value {value} != {answer['valueEur']}")
    if compiled["buyer"]["id"] != answer["contractingAuthorityCode"]:
        problems.append(f"buyer {compiled['buyer']['id']}")
    return problems


def normalised(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    if answer is not None and answer.get("valueEur") is not None:
        answer = {**answer, "valueEur": Decimal(answer["valueEur"])}
    return answer


async def envelopes(running: Running, context: str, kind: str, key: str) -> list[EventEnvelope]:
    history = await running.store.load(CONTEXTS[context], kind, key)
    return [e.envelope for e in history.events]


def fold_at(context: str, kind: str, key: str, stored: Sequence[EventEnvelope], at: Horizon) -> Any:
    fold = FOLDS[context, kind]
    return fold.replay(key, (typed_event(e.event_type, e.payload) for e in visible(stored, at)))


async def send_all(running: Running, history: list[Command]) -> list[datetime]:
    from gateway.commandbus import CommandBus

    bus = CommandBus(running.system.nc, timeout=30)
    recorded, positions = [], {}
    for command in history:
        reply = await bus.send(command, ACTOR)
        assert not isinstance(reply, CommandRejected), (command, reply)
        recorded.append(datetime.now(UTC))
        for event in reply.events:
            positions[event.stream] = max(positions.get(event.stream, 0), event.seq)
    token = ",".join(f"{stream}:{seq}" for stream, seq in sorted(positions.items()))
    await running.system.read.wait_for(token, timeout=30)
    return recorded


@pytest.mark.timeout(TIMEOUT * 5)
@PROFILE
@given(history=histories())
@example(history=with_facts_between())
async def test_graphql_fold_audit_replay_and_ocds_agree_at_every_horizon(
    running: Running, history: list[Command]
) -> None:
    recorded = await send_all(running, history)
    # A fact dated before its aggregate began is refused by the owner (and so never parked).
    from gateway.commandbus import CommandBus

    bus = CommandBus(running.system.nc, timeout=30)
    for probe, code in before_creation(history):
        reply = await bus.send(probe, ACTOR)
        assert isinstance(reply, CommandRejected), probe
        assert reply.code == code, reply
    parked = {r.projection.key: r.parked_count for r in running.system.runners if r.parked_count}
    assert not parked, f"read models refused events the services accepted: {parked}"

    tenders = {c.tender_id for c in history if isinstance(c, PlanTender)}
    programmes = {c.programme_id for c in history if isinstance(c, PlanProgramme)}
    contracts = {c.contract_id for c in history if isinstance(c, SignContract)}
    call_offs = {
        c.call_off_id: c.framework_contract_id for c in history if isinstance(c, AwardCallOff)
    }
    tender_of = {c.contract_id: c.tender_id for c in history if isinstance(c, SignContract)}
    stored = {
        **{("tender", t): await envelopes(running, "registry", "tender", t) for t in tenders},
        **{("contract", c): await envelopes(running, "registry", "contract", c) for c in contracts},
        **{
            ("programme", p): await envelopes(running, "registry", "programme", p)
            for p in programmes
        },
        **{
            ("call_off", c): await envelopes(running, "enrolment", "call_off", c) for c in call_offs
        },
    }
    organisations = {
        code
        for c in history
        if isinstance(c, MergeMunicipality | RenameOrganisation)
        for code in (c.code, getattr(c, "successor_code", c.code))
    }
    for code in organisations:
        stored["organisation", code] = await envelopes(running, "enrolment", "organisation", code)
    now = datetime.now(UTC)
    for as_of, known_at in horizons(history, recorded, limit=10, checkpoints=4):
        at = Horizon(end_of_day(as_of), known_at or now)
        variables = {
            "asOf": as_of.isoformat(),
            "knownAt": known_at.isoformat() if known_at else None,
        }
        where = f"as of {as_of}, known at {known_at or 'now'}"
        answers: dict[str, Any] = {}
        signed_lots: dict[str, set[str]] = {}
        for cid in sorted(contracts):
            state = fold_at("registry", "contract", cid, stored["contract", cid], at)
            answer = normalised((await ask(running, CONTRACT, id=cid, **variables))["contract"])
            assert answer == contract_answer(state), f"GraphQL vs fold: contract {cid} {where}"
            audit = replay("contract", cid, stored["contract", cid], at).as_json()
            assert audit_contract(audit["state"] | {"exists": audit["exists"]}) == answer, (
                f"audit replay vs GraphQL: contract {cid} {where}"
            )
            answers[cid] = answer
            lots = (await ask(running, CONTRACT_LOTS, id=cid, **variables))["contract"]
            if lots is not None and lots["tenderId"]:
                signed_lots.setdefault(lots["tenderId"], set()).update(lots["lotIds"])
        call_off_answers: dict[str, Any] = {}
        for cid in sorted(call_offs):  # a concluded call-off is a contract under its id
            state = fold_at("enrolment", "call_off", cid, stored["call_off", cid], at)
            answer = normalised((await ask(running, CONTRACT, id=cid, **variables))["contract"])
            assert answer == call_off_answer(state), f"GraphQL vs fold: call-off {cid} {where}"
            audit = replay("call_off", cid, stored["call_off", cid], at).as_json()
            assert audit_call_off(audit["state"]) == answer, (
                f"audit replay vs GraphQL: call-off {cid} {where}"
            )
            call_off_answers[cid] = answer
        for tid in sorted(tenders):
            state = fold_at("registry", "tender", tid, stored["tender", tid], at)
            answer = (await ask(running, TENDER, id=tid, **variables))["tender"]
            if answer is not None:  # links read in the order declared; compare as sets
                answer["successorIds"] = sorted(answer["successorIds"])
            assert answer == tender_answer(state), f"GraphQL vs fold: tender {tid} {where}"
            audit = replay("tender", tid, stored["tender", tid], at).as_json()
            assert audit_tender(audit["state"] | {"exists": audit["exists"]}) == answer, (
                f"audit replay vs GraphQL: tender {tid} {where}"
            )
            processes = await compiled_releases(running, tid, at)
            compiled = processes.get(ocid(tid))
            problems = ocds_disagreements(compiled, answer, answers, signed_lots.get(tid, set()))
            assert not problems, f"OCDS vs GraphQL: tender {tid} {where}: {problems}"
            for cid, framework in call_offs.items():
                if tender_of.get(framework) != tid:
                    continue
                problems = call_off_disagreements(processes.get(ocid(cid)), call_off_answers[cid])
                assert not problems, f"OCDS vs GraphQL: call-off {cid} {where}: {problems}"
        for code in sorted(organisations):  # renamed, merged (a past merger dated back)
            stored_org = stored["organisation", code]
            state = fold_at("enrolment", "organisation", code, stored_org, at)
            answer = (await ask(running, ORGANISATION, code=code, **variables))["organisation"]
            assert answer == organisation_answer(state), f"GraphQL vs fold: {code} {where}"
            audit = replay("organisation", code, stored_org, at).as_json()
            assert audit_organisation(audit["state"]) == answer, (
                f"audit replay vs GraphQL: organisation {code} {where}"
            )
        # Succession from both ends: GraphQL's links equal those the programme folds declare.
        states = {
            p: fold_at("registry", "programme", p, stored["programme", p], at) for p in programmes
        }
        listed = (await ask(running, PROGRAMMES, **variables))["programmes"]
        shown = {
            p["programmeId"]: {
                "predecessors": [p["predecessorId"]] if p["predecessorId"] else [],
                "successorIds": sorted(p["successorIds"]),
            }
            for p in listed
            if p["programmeId"] in programmes
        }
        assert shown == programme_answers(states), f"GraphQL vs folds: programmes {where}"
