"""An import run after the first (review17a): a later run holds only its own releases (a daily
feed), or the same file again with more. What a release does not state is unchanged (as
`ocdsmerge` compiles it): no restatement, no withdrawal, nothing refused for a field the
release leaves out; the round trip holds however the releases are split into runs."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest

from audit.ocds import importer
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import typed_event
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from tests.service.test_ocds_restated import (
    AWARDS,
    CONTRACT,
    FIRM,
    OTHER,
    TENDER,
    _package,
    _release,
)
from tests.service.test_ocds_round_trip import DATA, registry, reported_round_trip, round_trip

FICTIONAL = [
    f"fictional-0{n}-{t}.json"
    for n, t in enumerate(
        ["planning", "tender", "tenderAmendment", "award", "contract", "implementation"], 1
    )
]


async def _events(store: Any) -> list[Any]:
    out = []
    async for s in store.read_stream(REGISTRY):
        e = s.envelope
        out.append(typed_event(e.event_type, e.payload, e.schema_version))
    return out


def _of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


FIRST = [_release(1, "tender", tender=TENDER), _release(2, "award", tender=TENDER, awards=AWARDS)]
# OCDS lets a release carry only what it is about: the contract (and its award).
CONTRACT_ONLY = _release(3, "contract", awards=AWARDS, contracts=[CONTRACT])


@pytest.mark.parametrize("again", [True, False], ids=["same-file-again", "feed"])
async def test_a_later_run_with_a_release_not_restating_the_tender_restates_nothing(
    again: bool,
) -> None:
    store, _clock, bus = await registry()
    first = await import_items(read(_package(*FIRST), "test"), bus.request, store)
    assert first.skipped == []
    later = [*FIRST, CONTRACT_ONLY] if again else [CONTRACT_ONLY]
    report = await import_items(read(_package(*later), "test"), bus.request, store)
    assert report.skipped == []
    events = await _events(store)
    assert _of(events, rg.TenderRestated) == []
    assert [type(e) for e in events].count(rg.ContractSigned) == 1


async def test_the_same_releases_in_one_run_restate_nothing() -> None:
    store, _clock, bus = await registry()
    report = await import_items(read(_package(*FIRST, CONTRACT_ONLY), "test"), bus.request, store)
    assert report.skipped == []
    assert _of(await _events(store), rg.TenderRestated) == []


PENDING = [{**AWARDS[1], "status": "pending"}]
TENDER_ONLY = _release(3, "tenderUpdate", tender={**TENDER, "description": "more"})


@pytest.mark.parametrize("runs", [1, 2])
async def test_a_later_release_without_the_award_keeps_the_provisional_award(runs: int) -> None:
    store, _clock, bus = await registry()
    releases = [_release(1, "tender", tender=TENDER),
                _release(2, "award", tender=TENDER, awards=PENDING), TENDER_ONLY]  # fmt: skip
    for part in [releases] if runs == 1 else [releases[:2], releases[2:]]:
        report = await import_items(read(_package(*part), "test"), bus.request, store)
        assert report.skipped == []
    events = await _events(store)
    assert len(_of(events, rg.ProvisionalAwardDecided)) == 1
    assert _of(events, rg.ProvisionalAwardWithdrawn) == []


def _award(aid: str, status: str, supplier: str) -> dict[str, Any]:
    return {"id": aid, "status": status, "date": "2024-05-01T00:00:00Z",
            "suppliers": [{"id": supplier}], "relatedLots": ["L2"]}  # fmt: skip


async def test_a_cancelled_award_listed_after_its_replacement_leaves_the_replacement() -> None:
    """a3 (pending, FIRM) listed before a2 (cancelled, OTHER), both for L2: a2's cancellation
    withdraws no award but its own (a3 stood withdrawn)."""
    awards = [_award("a3", "pending", FIRM), _award("a2", "cancelled", OTHER)]
    releases = [_release(1, "tender", tender=TENDER),
                _release(2, "award", tender=TENDER, awards=awards)]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    store, _clock, bus = await registry()
    await import_items(read(_package(*releases), "test"), bus.request, store)
    events = await _events(store)
    assert [e.supplier_ids for e in _of(events, rg.ProvisionalAwardDecided)] == [
        [FIRM.removeprefix("NL-")]
    ]
    assert _of(events, rg.ProvisionalAwardWithdrawn) == []


async def test_a_cancelled_award_withdraws_its_own_provisional_award() -> None:
    releases = [_release(1, "tender", tender=TENDER),
                _release(2, "award", tender=TENDER, awards=[_award("a2", "pending", OTHER)]),
                _release(3, "awardUpdate", tender=TENDER,
                         awards=[_award("a2", "cancelled", OTHER)])]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    store, _clock, bus = await registry()
    await import_items(read(_package(*releases), "test"), bus.request, store)
    [withdrawn] = _of(await _events(store), rg.ProvisionalAwardWithdrawn)
    assert (withdrawn.lot_id, withdrawn.supplier_ids) == ("L2", [OTHER.removeprefix("NL-")])


async def test_the_fictional_process_imported_one_release_file_a_run_round_trips() -> None:
    """OCDS's own fictional process as a daily feed: each run holds one release."""
    source, ours, _ = await reported_round_trip([(DATA / f).read_bytes() for f in FICTIONAL])
    assert ours == source


async def test_the_fictional_process_in_one_run_round_trips() -> None:
    source, ours, _ = await reported_round_trip([(DATA / "fictional-releases.json").read_bytes()])
    assert ours == source


async def test_a_change_no_fact_records_refuses_every_release_repeating_it() -> None:
    """import20 reported it once per field and value in a run (`_note`) and imported the
    releases; now (import25) each release repeating it is refused, with its own path."""
    cancelled = {**TENDER, "status": "cancelled"}
    back = {**TENDER, "status": "active"}
    releases = [_release(1, "tender", tender=TENDER),
                _release(2, "tenderCancellation", tender=cancelled),
                *(_release(n, "tenderUpdate", tender={**back, "description": f"d{n}"})
                  for n in (3, 4, 5))]  # fmt: skip
    store, _clock, bus = await registry()
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert [p.path for p in report.skipped] == [
        f"$.releases[{n}].tender.status" for n in (2, 3, 4)]  # fmt: skip
    assert all("tender.lots[0].status" in p.reason for p in report.skipped)
    assert report.imported == 2


async def test_a_re_run_compiles_the_releases_recorded_before_with_the_new_ones() -> None:
    """The same file again with a release stating only its contract: its award (and the
    parties) come from the releases recorded by the first run, compiled with it as published
    (a daily feed without them cannot sign it: the registry records no award of its own)."""
    store, _clock, bus = await registry()
    await import_items(read(_package(*FIRST), "test"), bus.request, store)
    bare = {**_release(3, "contract", contracts=[CONTRACT])}
    del bare["parties"]
    report = await import_items(read(_package(*FIRST, bare), "test"), bus.request, store)
    assert (report.skipped, report.duplicates) == ([], 2)
    [signed] = _of(await _events(store), rg.ContractSigned)
    assert [s.supplier_id for s in signed.suppliers] == [FIRM.removeprefix("NL-")]


async def test_an_award_moved_in_a_re_run_is_withdrawn_from_its_first_lot() -> None:
    """The same file again with a release moving a2 from L2 to L3: the releases recorded by
    the first run say which award held L2 (the registry records no award ids)."""
    lots3 = {**TENDER, "lots": [*TENDER["lots"], {"id": "L3", "title": "Data"}]}
    first = [_release(1, "tender", tender=lots3),
             _release(2, "award", tender=lots3, awards=[AWARDS[1]])]  # fmt: skip
    moved = _release(3, "awardUpdate", awards=[{**AWARDS[1], "relatedLots": ["L3"]}])
    store, _clock, bus = await registry()
    await import_items(read(_package(*first), "test"), bus.request, store)
    report = await import_items(read(_package(*first, moved), "test"), bus.request, store)
    assert report.skipped == []
    events = await _events(store)
    assert [e.lot_id for e in _of(events, rg.ProvisionalAwardWithdrawn)] == ["L2"]
    assert [e.lot_id for e in _of(events, rg.ProvisionalAwardDecided)] == ["L2", "L3"]


async def test_a_release_id_twice_in_one_run_records_its_first_copy_only() -> None:
    """A package with release r2 twice, the second copy with an award more (a2, for L2): the
    first copy is the release; the second is a duplicate, not merged into the compile (an
    award only in it would be recorded with the next release)."""
    award = _release(2, "award", tender=TENDER, awards=[AWARDS[0]])
    again = _release(2, "award", tender=TENDER, awards=AWARDS)  # the same id, one award more
    later = _release(3, "tenderUpdate", tender={**TENDER, "description": "more"})
    store, _clock, bus = await registry()
    package = _package(_release(1, "tender", tender=TENDER), award, again, later)
    report = await import_items(read(package, "test"), bus.request, store)
    assert (report.skipped, report.imported, report.duplicates) == ([], 3, 1)
    events = await _events(store)
    # a1 (L1, FIRM) only: a2 (L2, OTHER) is in the copy alone.
    decided = [(e.lot_id, e.supplier_ids) for e in _of(events, rg.ProvisionalAwardDecided)]
    assert decided == [("L1", [FIRM.removeprefix("NL-")])]


async def test_a_release_of_an_earlier_run_not_compiled_again_is_logged_by_name(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Its compile failing (forced here), the re-run goes on as a duplicate, with a warning
    naming the release (before: suppressed silently)."""
    store, _clock, bus = await registry()
    await import_items(read(_package(*FIRST), "test"), bus.request, store)

    def broken(state: Any, compiled: Any) -> None:
        raise ValueError("no compile")

    monkeypatch.setattr(importer, "recover_holders", broken)
    with caplog.at_level(logging.WARNING, logger=importer.__name__):
        report = await import_items(read(_package(*FIRST), "test"), bus.request, store)
    assert (report.skipped, report.duplicates) == ([], 2)
    named = [r.getMessage() for r in caplog.records if r.name == importer.__name__]
    assert len(named) == 2, named
    assert all("no compile" in m for m in named)
    assert ["release r1 " in named[0], "release r2 " in named[1]] == [True, True], named


async def test_a_daily_feed_signs_a_contract_whose_award_an_earlier_run_stated() -> None:
    """Each release its own run, the contract's release stating only the contract: its award
    is found by the id recorded with the lot's award (import25: `source_award_id`). Before,
    the release was skipped: `contracts[0].awardID`, the award not in the release."""
    store, _clock, bus = await registry()
    for release in FIRST:
        assert (await import_items(read(_package(release), "t"), bus.request, store)).skipped == []
    only = {
        k: v for k, v in _release(3, "contract", contracts=[CONTRACT]).items() if k != "parties"
    }
    report = await import_items(read(_package(only), "t"), bus.request, store)
    assert (report.skipped, report.imported) == ([], 1)
    [signed] = _of(await _events(store), rg.ContractSigned)
    assert [s.supplier_id for s in signed.suppliers] == [FIRM.removeprefix("NL-")]
    assert signed.lot_ids == ["L1"]
    source, ours, refused = await reported_round_trip(
        [_package(r) for r in [*FIRST, _release(3, "contract", contracts=[CONTRACT])]]
    )
    assert (refused, ours) == ({}, source)


async def test_a_daily_feed_withdraws_an_award_moved_to_another_lot() -> None:
    """The award a2 held L2 (recorded by an earlier run); a later run's only release moves it
    to L3: withdrawn from L2 (import25: the recorded award id says which award held it).
    Before, it stayed on L2 (the registry recorded no award id)."""
    lots3 = {**TENDER, "lots": [*TENDER["lots"], {"id": "L3", "title": "Data"}]}
    first = [_release(1, "tender", tender=lots3),
             _release(2, "award", tender=lots3, awards=[AWARDS[1]])]  # fmt: skip
    moved = _release(3, "awardUpdate", awards=[{**AWARDS[1], "relatedLots": ["L3"]}])
    store, _clock, bus = await registry()
    await import_items(read(_package(*first), "test"), bus.request, store)
    report = await import_items(read(_package(moved), "test"), bus.request, store)
    assert report.skipped == []
    events = await _events(store)
    assert [e.lot_id for e in _of(events, rg.ProvisionalAwardWithdrawn)] == ["L2"]
    assert [e.lot_id for e in _of(events, rg.ProvisionalAwardDecided)] == ["L2", "L3"]
    assert [e.source_award_id for e in _of(events, rg.ProvisionalAwardDecided)] == ["a2", "a2"]


def test_the_lot_fold_keeps_the_source_award_id() -> None:
    from contracts_schema.folds import FOLDS

    fold = FOLDS["registry", "tender"]
    planned = rg.TenderPlanned(tender_id="t1", title="T", contracting_authority="KVK-71830960",
                               procedure="open", framework=False, planned_on=date(2024, 1, 1),
                               lots=[{"lot_id": "l1", "title": "L"}])  # fmt: skip
    decided = rg.ProvisionalAwardDecided(tender_id="t1", lot_id="l1", supplier_ids=["KVK-27124701"],
                                         decision_sent_on=date(2024, 2, 1),
                                         standstill_ends_on=date(2024, 2, 21),
                                         source_award_id="a1")  # fmt: skip
    definitive = rg.AwardMadeDefinitive(tender_id="t1", lot_id="l1", supplier_ids=["KVK-27124701"],
                                        awarded_on=date(2024, 3, 1))  # fmt: skip
    state = fold.replay("t1", [planned, decided, definitive])
    assert state.lots[0].source_award_id == "a1"
    withdrawn = rg.ProvisionalAwardWithdrawn(tender_id="t1", lot_id="l1", supplier_ids=[],
                                             withdrawn_on=date(2024, 2, 5), reason="r")  # fmt: skip
    assert fold.replay("t1", [planned, decided, withdrawn]).lots[0].source_award_id is None


async def test_a_daily_feed_makes_definitive_an_award_restated_by_its_status_only() -> None:
    """A later run's release states only `{"id": "a2", "status": "active"}`: the award the
    lot's recorded id names becomes definitive with its recorded suppliers (import25). Before,
    nothing was recorded (no suppliers in this run's compile)."""
    store, _clock, bus = await registry()
    await import_items(read(_package(*FIRST), "test"), bus.request, store)
    status_only = _release(3, "awardUpdate", awards=[{"id": "a2", "status": "active"}])
    report = await import_items(read(_package(status_only), "test"), bus.request, store)
    assert (report.skipped, report.imported) == ([], 1)
    [*_, definitive] = _of(await _events(store), rg.AwardMadeDefinitive)
    assert (definitive.lot_id, definitive.supplier_ids) == ("L2", [OTHER.removeprefix("NL-")])
