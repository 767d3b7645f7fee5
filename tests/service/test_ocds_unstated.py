"""What imported OCDS data did not state is recorded as not stated, and not re-exported
(import17): the registry needs a procedure and a publication day for its rules, so it records
its default (the procedure `national`, the release's own day) with the mark that the source
gave none; the OCDS export leaves such a default out, and publishes a plan's tender period."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from audit.bitemporal import Horizon
from audit.ocds.export import Register
from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import read
from audit.ocds.packages import merger
from contracts_schema.folds import FOLDS, typed_event
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from tests.service.test_ocds_round_trip import registry, round_trip

OCID = "ocds-gtnl99-u1"
BUYER = {"id": "NL-KVK-71830960", "name": "VNG"}


def _release(n: int, day: str, tag: str, tender: dict[str, Any]) -> dict[str, Any]:
    return {"ocid": OCID, "id": f"r{n}", "date": f"{day}T10:00:00Z", "tag": [tag],
            "initiationType": "tender", "buyer": BUYER,
            "parties": [{**BUYER, "roles": ["buyer"]}],
            "tender": {"id": "t1", "title": "Telefonie", "procuringEntity": BUYER, **tender}}  # fmt: skip


def _package(*releases: dict[str, Any]) -> bytes:
    return json.dumps({"uri": "https://example.org/u1.json", "version": "1.1",
                       "publishedDate": releases[-1]["date"],
                       "publisher": {"name": "TenderNed"}, "releases": list(releases)}).encode()  # fmt: skip


async def _imported(data: bytes) -> tuple[dict[str, Any], dict[type, Any]]:
    """(our re-export compiled, the stored facts by type) of one imported package."""
    compiled, facts, _report = await _imported_with_report(data)
    return compiled, facts


async def _imported_with_report(data: bytes) -> tuple[dict[str, Any], dict[type, Any], Report]:
    store, _clock, bus = await registry()
    report = await import_items(read(data, "test"), bus.request, store)
    assert not report.skipped, report.skipped
    facts = await _facts(store)
    now = datetime.now(UTC)
    register = await Register.read(store, Horizon(now, now))
    exported = register.export(next(iter(register.process_ids())))
    return merger().create_compiled_release(exported.tender), facts, report


async def _facts(store: InMemoryEventStore) -> dict[type, Any]:
    found: dict[type, Any] = {}
    async for stored in store.read_stream(REGISTRY):
        e = stored.envelope
        x = typed_event(e.event_type, e.payload, e.schema_version)
        found[type(x)] = x
    return found


async def test_a_tender_published_without_procedure_or_period_is_recorded_so_and_not_invented() -> (
    None
):
    compiled, facts = await _imported(_package(_release(1, "2024-03-05", "tender",
                                                        {"status": "active"})))  # fmt: skip
    planned, published = facts[rg.TenderPlanned], facts[rg.TenderPublished]
    # The domain keeps its defaults, marked as not stated by the source.
    assert (planned.procedure, planned.procedure_stated) == ("national", False)
    assert (published.published_on, published.published_on_stated) == (date(2024, 3, 5), False)
    # The export does not state them.
    tender = compiled["tender"]
    assert "procurementMethod" not in tender
    assert "procurementMethodDetails" not in tender
    assert "tenderPeriod" not in tender
    [notice] = tender["documents"]
    assert "datePublished" not in notice


async def test_a_stated_procedure_and_publication_are_recorded_and_exported_as_before() -> None:
    compiled, facts = await _imported(_package(_release(1, "2024-03-05", "tender", {
        "status": "active", "procurementMethod": "open",
        "tenderPeriod": {"startDate": "2024-03-01T09:00:00Z"}})))  # fmt: skip
    assert facts[rg.TenderPlanned].procedure_stated is True
    assert facts[rg.TenderPublished].published_on_stated is True
    assert compiled["tender"]["procurementMethod"] == "open"
    assert compiled["tender"]["tenderPeriod"]["startDate"].startswith("2024-03-01")


async def test_a_plans_tender_period_is_recorded_and_exported_and_a_plan_is_not_a_publication() -> (
    None
):
    plan = {"status": "planned", "procurementMethod": "open",
            "tenderPeriod": {"startDate": "2024-06-03T00:00:00Z"}}  # fmt: skip
    compiled, facts = await _imported(_package(
        _release(1, "2024-03-05", "planning", plan),
        # A plan updated (not tagged `planning`) is still a plan: no publication.
        _release(2, "2024-04-05", "planningUpdate", {**plan, "title": "Telefonie 2"}),
    ))  # fmt: skip
    assert facts[rg.TenderPlanned].tender_period_planned_on == date(2024, 6, 3)
    assert rg.TenderPublished not in facts
    assert compiled["tender"]["tenderPeriod"]["startDate"].startswith("2024-06-03")
    assert compiled["tender"]["status"] == "planning"  # OCDS: a tender being planned


def test_an_event_stored_before_the_marks_reads_as_stated() -> None:
    """Older stored events have no mark: they keep today's meaning (stated)."""
    planned = typed_event("TenderPlanned", {
        "tender_id": "t1", "title": "T", "contracting_authority": "KVK-71830960",
        "procedure": "open", "framework": False, "lots": [{"lot_id": "l1", "title": "L"}],
        "planned_on": "2024-01-01"}, 1)  # fmt: skip
    published = typed_event("TenderPublished", {
        "tender_id": "t1", "published_on": "2024-02-01", "notice_reference": "n",
        "participant_list_frozen_on": "2024-02-01"}, 1)  # fmt: skip
    assert isinstance(planned, rg.TenderPlanned)
    assert planned.procedure_stated
    assert planned.tender_period_planned_on is None
    assert isinstance(published, rg.TenderPublished)
    assert published.published_on_stated


# A procedure first stated (or changed) by a later release than the plan's (import18).
PLAN = {"status": "planned", "tenderPeriod": {"startDate": "2024-06-03T00:00:00Z"}}
OPEN = {"status": "active", "procurementMethod": "open",
        "tenderPeriod": {"startDate": "2024-06-03T09:00:00Z"}}  # fmt: skip


async def test_a_procedure_first_stated_by_the_tender_release_is_recorded_and_round_trips() -> None:
    """Common in published data: the plan states no procurementMethod, the tender does. Before,
    the procedure was recorded only with the plan (national, not stated) and the export
    stated none where the source's compiled release has `open`."""
    package = _package(_release(1, "2024-03-05", "planning", PLAN),
                       _release(2, "2024-06-03", "tender", OPEN))  # fmt: skip
    compiled, facts = await _imported(package)
    assert (facts[rg.TenderPlanned].procedure, facts[rg.TenderPlanned].procedure_stated) == (
        "national", False)  # fmt: skip
    assert facts[rg.TenderPublished].procedure == "open"
    assert compiled["tender"]["procurementMethod"] == "open"
    assert compiled["tender"]["procurementMethodDetails"] == "open"
    source, ours = await round_trip([package])
    assert ours == source


async def test_a_procedure_changed_by_the_tender_release_is_recorded() -> None:
    plan = {**PLAN, "procurementMethod": "selective"}
    compiled, facts = await _imported(_package(_release(1, "2024-03-05", "planning", plan),
                                               _release(2, "2024-06-03", "tender", OPEN)))  # fmt: skip
    assert facts[rg.TenderPlanned].procedure == "restricted"
    assert facts[rg.TenderPublished].procedure == "open"
    assert compiled["tender"]["procurementMethod"] == "open"


async def test_a_procedure_the_plan_stated_already_is_not_stated_again() -> None:
    """The publication carries a procedure only when it is new: an import whose releases
    agree sends (and fingerprints) the same commands as before."""
    plan = {**PLAN, "procurementMethod": "open"}
    _compiled, facts = await _imported(_package(_release(1, "2024-03-05", "planning", plan),
                                                _release(2, "2024-06-03", "tender", OPEN)))  # fmt: skip
    assert facts[rg.TenderPublished].procedure is None


async def test_a_procedure_changed_after_publication_is_recorded_as_restated() -> None:
    """import18 reported it as not recorded (no fact carried a procedure once the tender was
    published); import20 records it: `TenderRestated`, and the re-export states it."""
    unstated = {k: v for k, v in OPEN.items() if k != "procurementMethod"}
    package = _package(
        _release(1, "2024-03-05", "tender", unstated),
        _release(2, "2024-04-05", "tenderUpdate", OPEN),
        _release(3, "2024-05-05", "tenderUpdate", {**OPEN, "title": "Telefonie 2"}),
    )  # fmt: skip
    compiled, facts = await _imported(package)
    assert facts[rg.TenderPublished].procedure is None
    assert facts[rg.TenderRestated].restated_on == date(2024, 5, 5)  # the last: the title
    assert compiled["tender"]["procurementMethod"] == "open"
    source, ours = await round_trip([package])
    assert (ours, ours["method"]) == (source, "open")


def test_the_fold_takes_a_published_procedure_and_a_native_publication_keeps_the_planned() -> None:
    fold = FOLDS["registry", "tender"]
    planned = rg.TenderPlanned(tender_id="t1", title="T", contracting_authority="KVK-71830960",
                               procedure="national", procedure_stated=False, framework=False,
                               lots=[{"lot_id": "l1", "title": "L"}],
                               planned_on=date(2024, 1, 1))  # fmt: skip
    native = rg.TenderPublished(tender_id="t1", published_on=date(2024, 2, 1),
                                notice_reference="n", participant_list_frozen_on=date(2024, 2, 1))  # fmt: skip
    state = fold.replay("t1", [planned, native])
    assert (state.procedure, state.procedure_stated) == ("national", False)
    stated = native.model_copy(update={"procedure": "open"})
    state = fold.replay("t1", [planned, stated])
    assert (state.procedure, state.procedure_stated) == ("open", True)


# A plan's tender period first given (or changed) by a later planning release (import19).
NO_PERIOD = {"status": "planned", "procurementMethod": "open"}
JUNE = {**NO_PERIOD, "tenderPeriod": {"startDate": "2024-06-03T00:00:00Z"}}
JULY = {**NO_PERIOD, "tenderPeriod": {"startDate": "2024-07-01T00:00:00Z"}}


async def test_a_plan_period_first_given_by_a_later_planning_release_round_trips() -> None:
    """The registry plans a tender once: before, the period a later plan gave was lost, so
    a process never published exported no tender period where the source has one."""
    package = _package(_release(1, "2024-03-05", "planning", NO_PERIOD),
                       _release(2, "2024-04-05", "planning", JUNE))  # fmt: skip
    source, ours = await round_trip([package])
    assert source["published"] == date(2024, 6, 3)
    assert ours == source
    compiled, facts = await _imported(package)
    revised = facts[rg.TenderPlanRevised]
    assert (revised.tender_period_planned_on, revised.revised_on) == (
        date(2024, 6, 3),
        date(2024, 4, 5),
    )
    assert rg.TenderPublished not in facts
    assert compiled["tender"]["tenderPeriod"]["startDate"].startswith("2024-06-03")


async def test_a_plan_period_changed_by_a_later_planning_release_round_trips_also_published() -> (
    None
):
    plans = [
        _release(1, "2024-03-05", "planning", JUNE),
        _release(2, "2024-04-05", "planning", JULY),
    ]
    source, ours = await round_trip([_package(*plans)])
    assert (source["published"], ours) == (date(2024, 7, 1), source)
    # Then published without a period of its own: the revised plan's stays the compiled one.
    tender = _release(3, "2024-07-01", "tender", {"status": "active", "procurementMethod": "open"})
    source, ours = await round_trip([_package(*plans, tender)])
    assert (source["published"], ours) == (date(2024, 7, 1), source)


async def test_a_plan_revision_is_recorded_once_and_a_re_import_changes_nothing() -> None:
    package = _package(_release(1, "2024-03-05", "planning", NO_PERIOD),
                       _release(2, "2024-04-05", "planning", JUNE),
                       _release(3, "2024-04-09", "planning", {**JUNE, "title": "Telefonie 2"}))  # fmt: skip
    store, _clock, bus = await registry()
    await import_items(read(package, "test"), bus.request, store)
    first = [s.envelope.event_type async for s in store.read_stream(REGISTRY)]
    assert first.count(rg.TenderPlanRevised.event_type) == 1  # the same period again: none
    report = await import_items(read(package, "test"), bus.request, store)
    assert not report.skipped
    assert [s.envelope.event_type async for s in store.read_stream(REGISTRY)] == first


def test_the_fold_takes_a_plan_revision_and_an_event_stored_before_it_has_no_period() -> None:
    fold = FOLDS["registry", "tender"]
    planned = rg.TenderPlanned(tender_id="t1", title="T", contracting_authority="KVK-71830960",
                               procedure="open", framework=False, planned_on=date(2024, 1, 1),
                               lots=[{"lot_id": "l1", "title": "L"}])  # fmt: skip
    assert fold.replay("t1", [planned]).tender_period_planned_on is None
    revised = rg.TenderPlanRevised(tender_id="t1", tender_period_planned_on=date(2024, 6, 3),
                                   revised_on=date(2024, 2, 1))  # fmt: skip
    assert fold.replay("t1", [planned, revised]).tender_period_planned_on == date(2024, 6, 3)


async def test_a_later_run_starts_from_the_revised_plan() -> None:
    """A re-run's tally starts from the fold: the period already revised is not revised again."""
    first = [_release(1, "2024-03-05", "planning", NO_PERIOD),
             _release(2, "2024-04-05", "planning", JUNE)]  # fmt: skip
    store, _clock, bus = await registry()
    await import_items(read(_package(*first), "test"), bus.request, store)
    again = _release(3, "2024-04-09", "planning", {**JUNE, "title": "Telefonie 2"})
    report = await import_items(read(_package(*first, again), "test"), bus.request, store)
    assert not report.skipped
    stored = [s.envelope.event_type async for s in store.read_stream(REGISTRY)]
    assert stored.count(rg.TenderPlanRevised.event_type) == 1
    assert stored.count("TenderReleaseImported") == 3


async def test_a_plan_cancelled_before_publication_is_not_recorded_as_published() -> None:
    """The compiled cancellation still holds the plan's tender period: before review16c's
    fix it "published" the tender on the plan's start, after its cancellation."""
    cancelled = {**JUNE, "status": "cancelled"}
    compiled, facts = await _imported(_package(
        _release(1, "2024-03-05", "planning", JUNE),
        _release(2, "2024-03-20", "tenderCancellation", cancelled),
    ))  # fmt: skip
    assert rg.TenderPublished not in facts
    assert rg.TenderCancelled in facts
    assert compiled["tender"]["status"] == "cancelled"


async def test_a_plan_start_cleared_by_a_later_plan_is_recorded_as_restated() -> None:
    """review16c reported it as not recorded; import20 records it (`TenderRestated`, the start
    cleared) and the re-export clears it too (a null, which the compile drops)."""
    cleared = {**NO_PERIOD, "tenderPeriod": {"startDate": None}}
    package = _package(
        _release(1, "2024-03-05", "planning", JUNE),
        _release(2, "2024-04-05", "planning", cleared),
    )  # fmt: skip
    compiled, facts = await _imported(package)
    assert rg.TenderPlanRevised not in facts
    assert facts[rg.TenderRestated].tender_period_start_cleared
    assert "startDate" not in compiled["tender"].get("tenderPeriod", {})
    source, ours = await round_trip([package])
    assert (ours, ours["published"]) == (source, None)


def test_a_plan_revision_of_a_tender_no_longer_planned_is_refused() -> None:
    from contracts_schema.errors import RuleViolation
    from contracts_schema.registry.state import tender
    from registry.domain.imported import _record, _tender_rules

    planned = rg.TenderPlanned(tender_id="t1", title="T", contracting_authority="KVK-71830960",
                               procedure="open", framework=False, planned_on=date(2024, 1, 1),
                               lots=[{"lot_id": "l1", "title": "L"}])  # fmt: skip
    published = rg.TenderPublished(tender_id="t1", published_on=date(2024, 2, 1),
                                   notice_reference="n1", participant_list_frozen_on=date(2024, 2, 1),
                                   participant_codes=[])  # fmt: skip
    revised = rg.TenderPlanRevised(tender_id="t1", tender_period_planned_on=date(2024, 6, 3),
                                   revised_on=date(2024, 3, 1))  # fmt: skip
    state = FOLDS["registry", "tender"].replay("t1", [planned, published])
    with pytest.raises(RuleViolation, match="no longer planned") as refused:
        _record(state, [revised], tender.evolve, _tender_rules, None)
    assert refused.value.code == "IMPORT_NOT_APPLICABLE"
    still_planned = FOLDS["registry", "tender"].replay("t1", [planned])
    folded, _ = _record(still_planned, [revised], tender.evolve, _tender_rules, None)
    assert folded.tender_period_planned_on == date(2024, 6, 3)
