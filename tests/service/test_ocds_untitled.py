"""A tender or lot published without a title (OCDS makes both optional; real feeds omit a
lot's) is recorded with a "not stated" mark (import30), as an unstated procedure, publication
day or contract day is: the title recorded is the registry's default (the ocid for a tender,
the id for a lot; a tender without lots gives its one lot the tender's), and
`TenderPlanned.title_stated` / `untitled_lot_ids` say it was not stated. A later release that
no longer states a title records `TenderRestated` (`title_stated` false, `untitled_lot_ids`),
one that states it records the title, stated. The tender fold, GraphQL (`titleStated` on
`Tender` and `Lot`, at any `asOf`), the audit replay and the OCDS export agree: the export
leaves an unstated title out, so the round trip holds. No rule reads a title: the findings
are those of the same process with titles. Before, a lot without a title refused its release
whole (NOT_RECORDABLE), and a tender without one was exported titled by its ocid."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audit.bitemporal import Horizon
from audit.history import replay
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import FOLDS
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_ocds_contract_restated import _registry_events
from tests.service.test_ocds_restated import (
    AWARDS,
    CONTRACT,
    OCID,
    TENDER,
    _history,
    _package,
    _release,
)
from tests.service.test_ocds_round_trip import registry, round_trip

TID = "ocds-gtnl99-r1"  # the tender id of OCID


def _tender(title: bool = True, lots: tuple[bool, bool] | None = (True, True)) -> dict[str, Any]:
    """TENDER, its title and each lot's stated or not (`lots` None: a tender without lots)."""
    t = copy.deepcopy(TENDER)
    if not title:
        del t["title"]
    if lots is None:
        del t["lots"]
    else:
        for lot, titled in zip(t["lots"], lots, strict=True):
            if not titled:
                del lot["title"]
    return t


def _awards_of_one() -> list[dict[str, Any]]:
    return [{k: v for k, v in AWARDS[0].items() if k != "relatedLots"}]


def _history_of(t: dict[str, Any]) -> list[dict[str, Any]]:
    if "lots" in t:
        return _history(t)
    awards = _awards_of_one()
    return [_release(1, "tender", tender=t), _release(2, "award", tender=t, awards=awards),
            _release(3, "contract", tender=t, awards=awards, contracts=[CONTRACT])]  # fmt: skip


# name -> (the tender as published, TenderPlanned's marks: title_stated, untitled lots)
PLANNED: dict[str, tuple[dict[str, Any], bool, list[str]]] = {
    "a lot without a title": (_tender(lots=(False, True)), True, ["L1"]),
    "lots without titles": (_tender(lots=(False, False)), True, ["L1", "L2"]),
    "a lot titled null": (
        {**_tender(), "lots": [{**TENDER["lots"][0], "title": None}, TENDER["lots"][1]]},
        True, ["L1"],
    ),
    "a tender without a title": (_tender(title=False), False, []),
    "neither titled": (_tender(title=False, lots=(False, False)), False, ["L1", "L2"]),
    "a tender without title or lots": (_tender(title=False, lots=None), False, ["lot-1"]),
    "an empty title": ({**_tender(), "title": ""}, False, []),
}  # fmt: skip


def _tender_events(events: list[Any]) -> list[Any]:
    return [e for e in events if type(e).aggregate_type == "tender"]


@pytest.mark.parametrize("case", list(PLANNED))
async def test_an_untitled_tender_or_lot_is_recorded_as_not_stated(case: str) -> None:
    """Fails before: the lots' cases refused their first release (NOT_RECORDABLE
    tender.lots[0].title) and the whole process with it; the tender's were exported titled
    by the ocid (the round trip compared that default as if published)."""
    t, title_stated, untitled = PLANNED[case]
    releases = _history_of(t)
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, (store, bus) = await _registry_events(_package(*releases))
    [planned] = [e for e in events if isinstance(e, rg.TenderPlanned)]
    assert (planned.title_stated, planned.untitled_lot_ids) == (title_stated, untitled)
    titles = {lot.lot_id: lot.title for lot in planned.lots}
    for lid in untitled:  # the registry's default: a lot's id, the one lot the tender's
        assert titles[lid] == (planned.title if lid == "lot-1" else lid)
    if not title_stated:
        assert planned.title == OCID
    assert [e for e in events if isinstance(e, rg.TenderRestated)] == []
    state = FOLDS["registry", "tender"].replay(TID, _tender_events(events))
    assert state.title_stated is title_stated
    assert [lot.lot_id for lot in state.lots if not lot.title_stated] == untitled
    # No rule reads a title: the findings are those of the same process with titles.
    titled, _ = await _registry_events(_package(*_history_of(_titled(t))))
    assert _findings(events) == _findings(titled)
    # A re-run records nothing more (the tally starts from the fold's marks).
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (again.skipped, again.imported, again.duplicates) == ([], 0, 3)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


def _titled(t: dict[str, Any]) -> dict[str, Any]:
    titled = copy.deepcopy(t)
    titled["title"] = TENDER["title"]
    for lot in titled.get("lots", []):
        lot["title"] = lot.get("title") or f"Perceel {lot['id']}"
    return titled


def _findings(events: list[Any]) -> list[list[str]]:
    provenance = (rg.TenderReleaseImported, rg.ContractReleaseImported)
    return [[f.code for f in e.findings] for e in events if isinstance(e, provenance)]


# name -> (the tender as first published, as restated by release 4; the restatement's fields)
RESTATED: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "a lot's title no longer stated": (
        _tender(), {**_tender(), "lots": [{**TENDER["lots"][0], "title": None},
                                          TENDER["lots"][1]]},
        {"untitled_lot_ids": ["L1"]},
    ),
    "a lot's title first stated": (
        _tender(lots=(False, True)), _tender(), {"lots": [{"lot_id": "L1", "title": "Vast"}]},
    ),
    "the tender's title no longer stated": (
        _tender(), {**_tender(), "title": None}, {"title_stated": False},
    ),
    "the tender's title first stated": (
        _tender(title=False), {**_tender(), "title": "Telefonie"}, {"title": "Telefonie"},
    ),
    "a tender of one lot no longer titled": (
        _tender(lots=None), {**_tender(lots=None), "title": None},
        {"title_stated": False, "untitled_lot_ids": ["lot-1"]},
    ),
}  # fmt: skip


def _restating(first: dict[str, Any], then: dict[str, Any]) -> list[dict[str, Any]]:
    return [*_history_of(first), _release(4, "tenderUpdate", tender=then)]


@pytest.mark.parametrize("case", list(RESTATED))
async def test_a_title_no_longer_stated_or_stated_later_is_restated(case: str) -> None:
    """Fails before: the lot's cases refused a release (the first, or the restating one);
    the tender's title no longer stated was restated as the ocid, exported as a title."""
    first, then, fields = RESTATED[case]
    releases = _restating(first, then)
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, (store, bus) = await _registry_events(_package(*releases))
    [restated] = [e for e in events if isinstance(e, rg.TenderRestated)]
    assert restated.model_dump(exclude_defaults=True, exclude={"tender_id", "restated_on"}) == (
        fields
    )
    state = FOLDS["registry", "tender"].replay(TID, _tender_events(events))
    shown = {"title_stated": state.title_stated}
    shown |= {lot.lot_id: lot.title_stated for lot in state.lots}
    assert shown == {"title_stated": then.get("title") is not None,
                     **{("lot-1" if "lots" not in then else lot["id"]):
                        bool(lot.get("title")) for lot in then.get("lots", [then])}}  # fmt: skip
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (again.skipped, again.imported, again.duplicates) == ([], 0, 4)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


async def test_a_daily_feed_records_what_one_run_records() -> None:
    """One release per run (the tally rebuilt from the fold each time): the same facts."""
    releases = _restating(_tender(title=False, lots=(False, True)),
                          {**_tender(lots=(True, True)), "title": "Telefonie"})  # fmt: skip
    one, _ = await _registry_events(_package(*releases))
    store, _clock, bus = await registry()
    for r in releases:
        report = await import_items(read(_package(r), "test"), bus.request, store)
        assert (report.skipped, report.imported) == ([], 1)
    fed = [(s.envelope.event_type, s.envelope.payload) async for s in store.read_stream(REGISTRY)]
    assert [(e.event_type, e.model_dump(mode="json")) for e in one] == fed


async def test_the_audit_replay_shows_the_marks() -> None:
    """`audit replay tender/<id>` renders the owner's fold over the stored envelopes: the
    marks are in it, before and after the restating release."""
    releases = _restating(_tender(lots=(False, True)), {**_tender(), "title": None})
    _, (store, _bus) = await _registry_events(_package(*releases))
    envelopes = [s.envelope async for s in store.read_stream(REGISTRY)
                 if s.envelope.aggregate_id == TID]  # fmt: skip
    now = datetime.now(UTC)
    shown = []
    for on in (datetime(2024, 2, 1, tzinfo=UTC), now):
        state = replay("tender", TID, envelopes, Horizon(on, now)).state
        shown.append((state["title_stated"],
                      [(lot["lot_id"], lot["title_stated"]) for lot in state["lots"]]))  # fmt: skip
    assert shown == [(True, [("L1", False), ("L2", True)]), (False, [("L1", True), ("L2", True)])]


QUERY = """query ($t: String!, $asOf: Date) {
  tender(tenderId: $t, asOf: $asOf) { title titleStated lots { lotId title titleStated } }
}"""


async def test_graphql_shows_whether_titles_are_stated_at_any_as_of(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """The tenders read model (v6) holds the marks: the lot's title first not stated, then
    stated by the restating release (dated 2024-04-15), and the tender's no longer stated.
    Fails before: no `titleStated` field (and the first release was refused)."""
    first = _tender(lots=(False, True))
    then = {**_tender(), "title": None}
    releases = _restating(first, then)
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (4, [])
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        seen = []
        for on in ("2024-02-01", "2024-05-01", None):
            body = await g.query(QUERY, {"t": TID, "asOf": on}, token=g.token("coordinator"))
            assert "errors" not in body, body
            seen.append(body["data"]["tender"])
    finally:
        await g.stop()
    before = {"title": "Telefonie", "titleStated": True,
              "lots": [{"lotId": "L1", "title": "L1", "titleStated": False},
                       {"lotId": "L2", "title": "Mobiel", "titleStated": True}]}  # fmt: skip
    after = {"title": "Telefonie", "titleStated": False,  # the title last stated stays
             "lots": [{"lotId": "L1", "title": "Vast", "titleStated": True},
                      {"lotId": "L2", "title": "Mobiel", "titleStated": True}]}  # fmt: skip
    assert seen == [before, after, after]


def test_the_fold_refuses_a_mark_on_a_lot_it_does_not_have() -> None:
    """An imported fact is folded before it is recorded (registry.domain.imported): a
    planning marking a lot it does not plan is IMPORT_NOT_APPLICABLE, not a mark lost."""
    from contracts_schema.errors import FoldError

    planned = rg.TenderPlanned(
        tender_id=TID, title="T", contracting_authority="KVK-71830960", procedure="open",
        framework=False, lots=[{"lot_id": "L1", "title": "L1"}], planned_on="2024-01-15",
        untitled_lot_ids=["L9"],
    )  # fmt: skip
    with pytest.raises(FoldError, match="L9"):
        FOLDS["registry", "tender"].replay(TID, [planned])
