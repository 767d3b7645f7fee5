"""A later release that changes a mapped field of an imported process (import20).

Each release is compared with the process compiled before it; what it changes of what was
recorded is recorded (`TenderRestated`: title, framework flag, procedure, lot titles, the
tender period's start; a provisional award no award names any more is withdrawn), so that
the re-export equals ocdsmerge's compile of the input. Before import20 each of these was
imported and lost without a word (the title, the framework flag, a start after publication)
or reported as not recorded (a procedure after publication, a plan's start cleared).
What no fact of the registry can record refuses its release whole (import25;
tests/service/test_ocds_refused.py)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import FOLDS, typed_event
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_ocds_round_trip import registry, round_trip

OCID = "ocds-gtnl99-r1"
BUYER = {"id": "NL-KVK-71830960", "name": "VNG"}
AGENCY = {"id": "NL-KVK-33054224", "name": "Inkoopbureau"}
FIRM, OTHER = "NL-KVK-27124701", "NL-KVK-14040294"
PARTIES = [{**BUYER, "roles": ["buyer"]}, {**AGENCY, "roles": ["procuringEntity"]},
           {"id": FIRM, "name": "Firma A", "roles": ["supplier"]},
           {"id": OTHER, "name": "Firma B", "roles": ["supplier"]}]  # fmt: skip
TENDER = {"id": "t1", "title": "Telefonie", "status": "active", "procurementMethod": "open",
          "procuringEntity": BUYER, "techniques": {"hasFrameworkAgreement": True},
          "tenderPeriod": {"startDate": "2024-03-01T09:00:00Z"},
          "lots": [{"id": "L1", "title": "Vast", "status": "active"},
                   {"id": "L2", "title": "Mobiel", "status": "active"}]}  # fmt: skip
AWARDS = [{"id": "a1", "status": "active", "date": "2024-05-01T00:00:00Z",
           "suppliers": [{"id": FIRM}], "relatedLots": ["L1"]},
          {"id": "a2", "status": "pending", "date": "2024-05-01T00:00:00Z",
           "suppliers": [{"id": OTHER}], "relatedLots": ["L2"]}]  # fmt: skip
CONTRACT = {"id": "c1", "awardID": "a1", "status": "active", "dateSigned": "2024-06-01T00:00:00Z",
            "period": {"startDate": "2024-07-01T00:00:00Z", "endDate": "2026-06-30T00:00:00Z",
                       "maxExtentDate": "2028-06-30T00:00:00Z"},
            "value": {"amount": 100000, "currency": "EUR"}}  # fmt: skip


def _release(n: int, tag: str, **sections: Any) -> dict[str, Any]:
    return {"ocid": OCID, "id": f"r{n}", "date": f"2024-0{min(n, 9)}-15T10:00:00Z",
            "tag": [tag], "initiationType": "tender", "buyer": BUYER, "parties": PARTIES,
            **copy.deepcopy(sections)}  # fmt: skip


def _package(*releases: dict[str, Any]) -> bytes:
    return json.dumps({"uri": "https://example.org/r1.json", "version": "1.1",
                       "publishedDate": releases[-1]["date"],
                       "publisher": {"name": "TenderNed"}, "releases": list(releases)}).encode()  # fmt: skip


def _history(tender: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Published, awarded (lot L1 definitively, L2 provisionally), a contract signed."""
    t = tender or TENDER
    return [_release(1, "tender", tender=t), _release(2, "award", tender=t, awards=AWARDS),
            _release(3, "contract", tender=t, awards=AWARDS, contracts=[CONTRACT])]  # fmt: skip


async def _stored(package: bytes) -> list[Any]:
    store, _clock, bus = await registry()
    report = await import_items(read(package, "test"), bus.request, store)
    assert not report.skipped, report
    events = []
    async for stored in store.read_stream(REGISTRY):
        e = stored.envelope
        events.append(typed_event(e.event_type, e.payload, e.schema_version))
    return events


def _restated(events: list[Any]) -> list[rg.TenderRestated]:
    return [e for e in events if isinstance(e, rg.TenderRestated)]


# Recorded: each a fixed regression test (the generator draws them too).


@pytest.mark.parametrize("where", ["planned", "published", "awarded", "signed"])
async def test_a_title_restated_at_any_stage_round_trips(where: str) -> None:
    """Before import20 the title stayed the first one (`{'title': 'Telefonie'} !=
    {'title': 'Telefonie 2'}`, the generator's first failure)."""
    retitled = {**TENDER, "title": "Telefonie 2"}
    if where == "planned":
        plan = {**TENDER, "status": "planned"}
        releases = [_release(1, "planning", tender=plan),
                    _release(2, "planning", tender={**plan, "title": "Telefonie 2"})]  # fmt: skip
    else:
        releases = _history()[: ["published", "awarded", "signed"].index(where) + 1]
        sections = {k: v for k, v in releases[-1].items() if k in ("awards", "contracts")}
        releases.append(_release(len(releases) + 1, "tenderUpdate", tender=retitled, **sections))
    source, ours = await round_trip([_package(*releases)])
    assert (ours, ours["title"]) == (source, "Telefonie 2")
    [restated] = _restated(await _stored(_package(*releases)))
    assert restated.title == "Telefonie 2"


async def test_a_tender_without_lots_restated_retitles_its_one_lot() -> None:
    one = {k: v for k, v in TENDER.items() if k != "lots"}
    releases = [_release(1, "tender", tender=one),
                _release(2, "tenderUpdate", tender={**one, "title": "Telefonie 2"})]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    [restated] = _restated(await _stored(_package(*releases)))
    assert [(lot.lot_id, lot.title) for lot in restated.lots] == [("lot-1", "Telefonie 2")]


@pytest.mark.parametrize("framework", [True, False])
async def test_the_framework_flag_restated_round_trips(framework: bool) -> None:
    first = {**TENDER, "techniques": {"hasFrameworkAgreement": not framework}}
    then = {**TENDER, "techniques": {"hasFrameworkAgreement": framework}}
    releases = [_release(1, "tender", tender=first), _release(2, "tenderUpdate", tender=then)]
    source, ours = await round_trip([_package(*releases)])
    assert (ours, ours["framework"]) == (source, framework)


@pytest.mark.parametrize("method", ["selective", "limited", None])
async def test_a_procedure_restated_or_no_longer_stated_after_publication_round_trips(
    method: str | None,
) -> None:
    then = {**TENDER, "procurementMethod": method}
    releases = [_release(1, "tender", tender=TENDER), _release(2, "tenderUpdate", tender=then)]
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    assert ours["method"] == {"selective": "restricted", "limited": "negotiated_without_publication",
                              None: None}[method]  # fmt: skip


async def test_a_procedure_restated_by_a_second_plan_round_trips() -> None:
    """import18 recorded a procedure with the planning or the publication only: a second
    plan's other procedure was reported as not recorded (the generator's other failure)."""
    plan = {**TENDER, "status": "planned"}
    releases = [_release(1, "planning", tender=plan),
                _release(2, "planning", tender={**plan, "procurementMethod": "selective"})]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert (ours, ours["method"]) == (source, "restricted")


async def test_a_lot_title_restated_round_trips() -> None:
    lots = [{**TENDER["lots"][0], "title": "Vaste telefonie"}, TENDER["lots"][1]]
    releases = [*_history(), _release(4, "tenderUpdate", tender={**TENDER, "lots": lots},
                                      awards=AWARDS, contracts=[CONTRACT])]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    assert ("L1", "Vaste telefonie", False) in ours["lots"]


START = "2024-03-01T09:00:00Z"


@pytest.mark.parametrize(
    ("first", "then", "expected"),
    [
        (START, "2024-03-08T09:00:00Z", date(2024, 3, 8)),  # moved after publication
        (START, None, None),  # no longer stated after publication
        ("absent", START, date(2024, 3, 1)),  # published without one, stated later
    ],
)
async def test_a_tender_period_start_restated_after_publication_round_trips(
    first: str, then: str | None, expected: date | None
) -> None:
    published = copy.deepcopy(TENDER)
    if first == "absent":
        del published["tenderPeriod"]
    restated = {**TENDER, "tenderPeriod": {"startDate": then}}
    releases = [_release(1, "tender", tender=published),
                _release(2, "tenderAmendment", tender=restated)]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert (ours, ours["published"]) == (source, expected)


async def test_a_plan_start_given_by_a_planning_release_after_publication_round_trips() -> None:
    """import19's last gap: the start a planning release gives after publication was neither
    recorded nor reported."""
    plan = {**TENDER, "status": "planned", "tenderPeriod": {"startDate": "2024-02-01T00:00:00Z"}}
    releases = [_release(1, "planning", tender=plan), _release(2, "tender", tender=TENDER),
                _release(3, "planning", tender={**plan, "status": "active",
                          "tenderPeriod": {"startDate": "2024-04-01T00:00:00Z"}})]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert (ours, ours["published"]) == (source, date(2024, 4, 1))


async def test_a_provisional_award_moved_to_another_lot_is_withdrawn_from_the_first() -> None:
    lots3 = {**TENDER, "lots": [*TENDER["lots"], {"id": "L3", "title": "Data"}]}
    moved = [{**AWARDS[1], "relatedLots": ["L3"]}]
    releases = [_release(1, "tender", tender=lots3),
                _release(2, "award", tender=lots3, awards=[AWARDS[1]]),
                _release(3, "awardUpdate", tender=lots3, awards=moved)]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert (ours, ours["awarded_lots"]) == (source, ["L3"])
    events = await _stored(_package(*releases))
    [withdrawn] = [e for e in events if isinstance(e, rg.ProvisionalAwardWithdrawn)]
    assert withdrawn.lot_id == "L2"


async def test_a_restatement_is_recorded_once_and_a_re_run_starts_from_it() -> None:
    """The tally of a later run starts from the fold (title, lot titles, the start shown):
    the same releases again, or more that restate nothing new, add no restatement."""
    lots = [{**TENDER["lots"][0], "title": "Vaste telefonie"}, TENDER["lots"][1]]
    restated = {**TENDER, "title": "Telefonie 2", "lots": lots, "procurementMethod": None,
                "tenderPeriod": {"startDate": None}}  # fmt: skip
    first = [_release(1, "tender", tender=TENDER), _release(2, "tenderUpdate", tender=restated)]
    store, _clock, bus = await registry()
    await import_items(read(_package(*first), "test"), bus.request, store)
    again = _release(3, "tenderUpdate", tender={**restated, "description": "more"})
    report = await import_items(read(_package(*first, again), "test"), bus.request, store)
    assert not report.skipped
    assert report.duplicates == 2
    stored = [s.envelope.event_type async for s in store.read_stream(REGISTRY)]
    assert stored.count(rg.TenderRestated.event_type) == 1
    assert stored.count("TenderReleaseImported") == 3


def test_the_fold_takes_a_restatement() -> None:
    fold = FOLDS["registry", "tender"]
    planned = rg.TenderPlanned(tender_id="t1", title="T", contracting_authority="KVK-71830960",
                               procedure="open", framework=False, planned_on=date(2024, 1, 1),
                               lots=[{"lot_id": "l1", "title": "L"}],
                               tender_period_planned_on=date(2024, 2, 1))  # fmt: skip
    published = rg.TenderPublished(tender_id="t1", published_on=date(2024, 3, 1),
                                   notice_reference="n", participant_list_frozen_on=date(2024, 3, 1))  # fmt: skip
    restated = rg.TenderRestated(tender_id="t1", restated_on=date(2024, 4, 1), title="T2",
                                 framework=True, procedure="restricted",
                                 lots=[{"lot_id": "l1", "title": "L2"}],
                                 tender_period_start=date(2024, 3, 8))  # fmt: skip
    state = fold.replay("t1", [planned, published, restated])
    assert (state.title, state.framework, state.procedure, state.lots[0].title) == (
        "T2", True, "restricted", "L2")  # fmt: skip
    assert (state.published_on, state.published_on_stated) == (date(2024, 3, 8), True)
    cleared = rg.TenderRestated(tender_id="t1", restated_on=date(2024, 5, 1),
                                procedure_stated=False, tender_period_start_cleared=True)  # fmt: skip
    state = fold.replay("t1", [planned, published, restated, cleared])
    assert (state.procedure, state.procedure_stated) == ("restricted", False)
    assert (state.published_on, state.published_on_stated) == (date(2024, 3, 8), False)
    assert state.tender_period_planned_on is None
    # Before publication, a start is the plan's.
    plan_only = fold.replay("t1", [planned, cleared.model_copy(update={"procedure_stated": None})])
    assert (plan_only.tender_period_planned_on, plan_only.published_on) == (None, None)


GRAPHQL = """query ($t: String!, $asOf: Date) {
  tender(tenderId: $t, asOf: $asOf) { title framework procedure publishedOn lots { title } }
}"""


async def test_graphql_shows_a_restated_tender_from_its_release_day(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """GraphQL folds the tender: the restated title, framework flag, procedure, lot title and
    publication day from the restating release's day on, the recorded ones before."""
    lots = [{**TENDER["lots"][0], "title": "Vaste telefonie"}, TENDER["lots"][1]]
    restated = {**TENDER, "title": "Telefonie 2", "procurementMethod": "selective", "lots": lots,
                "techniques": {"hasFrameworkAgreement": False},
                "tenderPeriod": {"startDate": "2024-03-08T09:00:00Z"}}  # fmt: skip
    releases = [_release(1, "tender", tender=TENDER), _release(2, "tenderUpdate", tender=restated)]
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (2, [])
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        seen = []
        for on in ("2024-01-20", "2024-02-20"):  # the releases are dated the 15th
            body = await g.query(GRAPHQL, {"t": OCID, "asOf": on}, token=g.token("coordinator"))
            assert "errors" not in body, body
            seen.append(body["data"]["tender"])
    finally:
        await g.stop()
    assert seen == [
        {"title": "Telefonie", "framework": True, "procedure": "OPEN",
         "publishedOn": "2024-03-01", "lots": [{"title": "Vast"}, {"title": "Mobiel"}]},
        {"title": "Telefonie 2", "framework": False, "procedure": "RESTRICTED",
         "publishedOn": "2024-03-08", "lots": [{"title": "Vaste telefonie"}, {"title": "Mobiel"}]},
    ]  # fmt: skip
