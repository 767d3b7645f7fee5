"""A release carrying a change no registry event can carry is refused whole (import25).

Before, such a release was imported anyway and the field reported `NOT_RECORDED` (import20),
and the round-trip test named each such field in an `EXCEPTIONS` dict. Now the release is
reported with the JSON path and reason, as a release failing the schema is (the report's
`skipped`, exit status 1), none of its facts recorded, and the releases after it judged
against what was recorded: accepted when they agree with it, refused when they repeat the
change. A refused release does not enter the compile later releases are mapped on. So the
re-export equals the compile of the releases the importer accepted, on every mapped field.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from audit.ocds.importer import Report, import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import typed_event
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_ocds_restated import (
    AWARDS,
    CONTRACT,
    FIRM,
    OTHER,
    TENDER,
    _history,
    _package,
    _release,
)
from tests.service.test_ocds_round_trip import REFUSED, registry, reported_round_trip

AGENCY = {"id": "NL-KVK-33054224", "name": "Inkoopbureau"}


def _changed(
    tender: dict[str, Any] | None = None,
    awards: list[dict[str, Any]] | None = None,
    contracts: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Published, awarded, signed, then a release changing what `tender`, `awards` or
    `contracts` give (the rest restated as it was)."""
    history = _history()
    return [*history, _release(len(history) + 1, "tenderUpdate", tender=tender or TENDER,
                               awards=awards or AWARDS, contracts=contracts or [CONTRACT])]  # fmt: skip


def _contract(**changes: Any) -> list[dict[str, Any]]:
    changed = copy.deepcopy(CONTRACT)
    for key, value in changes.items():
        if key in ("startDate", "endDate", "maxExtentDate"):
            changed["period"][key] = value
        elif value is None:
            del changed[key]
        else:
            changed[key] = value
    return [changed]


CANCELLED = {**TENDER, "status": "cancelled"}
LOT2_CANCELLED = {
    **TENDER,
    "lots": [TENDER["lots"][0], {**TENDER["lots"][1], "status": "cancelled"}],
}
AWARDED_LOT_CANCELLED = {
    **TENDER, "lots": [{**TENDER["lots"][0], "status": "cancelled"}, TENDER["lots"][1]]}  # fmt: skip
NO_ENTITY = {k: v for k, v in TENDER.items() if k != "procuringEntity"}  # the buyer's
LOTS3 = {**TENDER, "lots": [*TENDER["lots"], {"id": "L3", "title": "Data", "status": "active"}]}
AGAIN = _release(5, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[CONTRACT])

# Each formerly excepted case (import20's EXCEPTIONS) that stays refused: the releases, the
# last one refused. (A signing or start day corrected, a maximum extent or value no longer
# stated are recorded since import25's `ContractRestated`: test_ocds_contract_restated.py.)
# The key's first word is the refused field (its JSON path, indices as `[]`).
CASES: dict[str, list[dict[str, Any]]] = {
    "buyer.id": [*_history(NO_ENTITY), _release(4, "tenderUpdate", tender=NO_ENTITY, buyer=AGENCY)],
    "tender.procuringEntity.id": _changed(tender={**TENDER, "procuringEntity": AGENCY}),
    "tender.status": [
        _release(1, "tender", tender=TENDER),
        _release(2, "tenderCancellation", tender=CANCELLED),
        _release(3, "tenderUpdate", tender=TENDER),
    ],
    "tender.lots[].status": [
        _release(1, "tender", tender=TENDER),
        _release(2, "tenderUpdate", tender=LOT2_CANCELLED),
        _release(3, "tenderUpdate", tender=TENDER),
    ],
    "tender.lots[].status (awarded)": _changed(tender=AWARDED_LOT_CANCELLED),
    # A lot without a title (planned so, or cleared later) is recorded, marked not stated,
    # since import30 (tests/service/test_ocds_untitled.py).
    "awards[].status": _changed(awards=[{**AWARDS[0], "status": "cancelled"}, AWARDS[1]]),
    "awards (no award names the awarded lot)": [
        *_history(LOTS3)[:2],
        _release(3, "awardUpdate", tender=LOTS3, awards=[{**AWARDS[0], "relatedLots": ["L3"]}]),
    ],
    "awards[].status (a cancelled lot)": [
        _release(1, "tender", tender=TENDER),
        _release(2, "tenderUpdate", tender=LOT2_CANCELLED),
        _release(3, "award", tender=LOT2_CANCELLED, awards=[AWARDS[1]]),
    ],
    "awards[].suppliers": _changed(awards=[{**AWARDS[0], "suppliers": [{"id": OTHER}]}, AWARDS[1]]),
    "contracts[].status": _changed(contracts=_contract(status="cancelled")),
    "contracts[].status (terminated)": [*_changed(contracts=_contract(status="terminated")), AGAIN],
    # A signing day or start no longer stated is recorded as `ContractRestated`, marked not
    # stated, since import30 (tests/service/test_ocds_contract_days_cleared.py).
    # A contract signed without a signing day is recorded as not stated since review18a
    # (tests/service/test_ocds_contract_unstated.py).
    # An end no longer stated is recorded as `ContractRestated.end_cleared` since import33
    # (tests/service/test_ocds_contract_end_unstated.py).
}


def _field(path: str) -> str:
    """A reported path (`$.releases[3].contracts[0].dateSigned`) as a field, `[]` for indices."""
    inside = re.sub(r"^\$\.releases\[\d+\]\.", "", path)
    return re.sub(r"\[\d+\]", "[]", inside)


async def _events(store: InMemoryEventStore) -> list[tuple[str, dict[str, Any]]]:
    return [(s.envelope.event_type, s.envelope.payload) async for s in store.read_stream(REGISTRY)]


async def _run(store: InMemoryEventStore, bus: InProcessBus, *releases: dict[str, Any]) -> Report:
    return await import_items(read(_package(*releases), "test"), bus.request, store)


def _later(release: dict[str, Any], n: int) -> dict[str, Any]:
    """The same release published again later, as release `n`."""
    return {**copy.deepcopy(release), "id": f"r{n}", "date": f"2024-0{n}-15T10:00:00Z"}


def _refused(report: Report, index: int, case: str) -> None:
    [problem] = report.skipped
    assert problem.path.startswith(f"$.releases[{index}]."), problem
    assert _field(problem.path) == case.split(" ")[0], problem
    assert problem.reason.startswith(REFUSED), problem


@pytest.mark.parametrize("case", list(CASES))
async def test_a_change_no_fact_records_refuses_its_release_whole(case: str) -> None:
    """Reported with its path (fails before: imported, reported NOT_RECORDED); nothing of it
    stored; a re-run changes nothing and reports it again."""
    releases = CASES[case]
    store, _clock, bus = await registry()
    first = await _run(store, bus, *releases[:-1])
    assert (first.skipped, first.imported) == ([], len(releases) - 1)
    before = await _events(store)
    report = await _run(store, bus, *releases)
    _refused(report, len(releases) - 1, case)
    assert (report.imported, report.duplicates, report.events) == (0, len(releases) - 1, 0)
    assert await _events(store) == before
    again = await _run(store, bus, *releases)
    assert (again.skipped, again.events) == (report.skipped, 0)
    assert await _events(store) == before


@pytest.mark.parametrize("case", list(CASES))
async def test_later_releases_are_judged_against_what_was_recorded(case: str) -> None:
    """In one run: the change repeated by a later release is refused again; a release that
    states the process as recorded (the one before the change, published again) is accepted.
    The re-export equals the compile of the releases accepted, which differs from the
    source's (the change) only by what was refused."""
    releases = CASES[case]
    n = len(releases)
    more = [*releases, _later(releases[-1], n + 1), _later(releases[-2], n + 2)]
    source, ours, refused = await reported_round_trip([_package(*more)])
    assert sorted(refused) == [f"r{n}", f"r{n + 1}"], refused
    for index, rid in ((n - 1, f"r{n}"), (n, f"r{n + 1}")):
        assert _field(refused[rid].path) == case.split(" ")[0]
        assert refused[rid].path.startswith(f"$.releases[{index}].")
        assert refused[rid].reason.startswith(REFUSED)
    assert ours == source


async def test_a_refused_release_does_not_enter_the_compile_later_releases_are_mapped_on() -> None:
    """r4 names other suppliers for the definitive award a1 (refused); r5 signs a second
    contract on a1 stating only the contract: its suppliers come from a1 as recorded (FIRM),
    not as the refused release gave them (fails before: r4 was imported and compiled, and c2
    signed with OTHER)."""
    c2 = {**copy.deepcopy(CONTRACT), "id": "c2"}
    releases = [*_history(),
                _release(4, "awardUpdate", awards=[{**AWARDS[0], "suppliers": [{"id": OTHER}]}]),
                _release(5, "contract", contracts=[CONTRACT, c2])]  # fmt: skip
    store, _clock, bus = await registry()
    report = await _run(store, bus, *releases)
    assert [_field(p.path) for p in report.skipped] == ["awards[].suppliers"]
    assert report.imported == 4
    signed = [typed_event(t, p) for t, p in await _events(store)
              if t == rg.ContractSigned.event_type]  # fmt: skip
    assert [(c.contract_id[-2:], [s.supplier_id for s in c.suppliers]) for c in signed] == [
        ("c1", [FIRM.removeprefix("NL-")]), ("c2", [FIRM.removeprefix("NL-")])]  # fmt: skip


async def test_a_refused_release_is_refused_in_a_daily_feed_too() -> None:
    """One release per run (each run compiles its own releases only): the same refusals."""
    store, _clock, bus = await registry()
    releases = CASES["awards[].status"]
    for n, release in enumerate(releases[:-1]):
        assert (await _run(store, bus, release)).skipped == [], n
    before = await _events(store)
    report = await _run(store, bus, releases[-1])
    _refused(report, 0, "awards[].status")
    assert await _events(store) == before
