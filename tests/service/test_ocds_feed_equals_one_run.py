"""A daily feed records exactly what one run records (import28, review18a findings 1 and 2).

Each case is imported twice into registries of their own: once as one run, once as a daily
feed (one release per run, each run's compile holding that release only). The registry's
events (types and payloads), the releases refused (by id and reason) and the round trip
must be the same: a release restating an award or a contract value in part means in a feed
what it means after the earlier releases in one run."""

from __future__ import annotations

import re
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
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
from tests.service.test_ocds_round_trip import registry, reported_round_trip

_PATH = re.compile(r"^\$\.releases\[\d+\]")


async def _recorded(
    releases: list[dict[str, Any]], feed: bool
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]:
    """(each event's type and payload, each refused release's id -> its path and reason)."""
    store, _clock, bus = await registry()
    refused: dict[str, str] = {}
    for run in [[r] for r in releases] if feed else [releases]:
        report = await import_items(read(_package(*run), "t"), bus.request, store)
        for problem in report.skipped:
            n = int(problem.path.split("[")[1].split("]")[0])
            refused[str(run[n]["id"])] = f"{_PATH.sub('', problem.path)}: {problem.reason}"
    events = []
    async for stored in store.read_stream(REGISTRY):
        e = stored.envelope
        events.append((e.event_type, dict(e.payload)))
    return events, refused


async def _same_as_one_run(releases: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    one = await _recorded(releases, feed=False)
    feed = await _recorded(releases, feed=True)
    assert feed == one
    source, ours, refused = await reported_round_trip([_package(*releases)])
    assert ours == source
    fed = await reported_round_trip([_package(r) for r in releases])
    assert (fed[0], fed[1], set(fed[2])) == (source, ours, set(refused))
    return one[0]


def _of(events: list[tuple[str, dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [p for t, p in events if t == kind]


FIRST = [_release(1, "tender", tender=TENDER), _release(2, "award", tender=TENDER, awards=AWARDS)]
LOTS3 = {**TENDER, "lots": [*TENDER["lots"], {"id": "L3", "title": "Data"}]}


async def test_a_contract_on_an_award_restated_without_its_lots_is_for_the_awards_lot() -> None:
    """1(a): a2 (L2) restated with its suppliers only, contract c2 on it: signed for L2 (the
    feed signed it for L1, the first lot)."""
    c2 = {**CONTRACT, "id": "c2", "awardID": "a2"}
    releases = [*FIRST, _release(3, "contract", awards=[{"id": "a2", "suppliers": [{"id": OTHER}]}],
                                 contracts=[c2])]  # fmt: skip
    events = await _same_as_one_run(releases)
    [signed] = _of(events, "ContractSigned")
    assert signed["lot_ids"] == ["L2"]


async def test_a_contract_on_an_award_restated_by_its_status_only_is_signed() -> None:
    """1(b): `{"id": "a1", "status": "active"}` beside the contract: signed with a1's
    recorded supplier (the feed skipped it: the award's suppliers not in the release)."""
    releases = [*FIRST, _release(3, "contract", awards=[{"id": "a1", "status": "active"}],
                                 contracts=[CONTRACT])]  # fmt: skip
    events = await _same_as_one_run(releases)
    [signed] = _of(events, "ContractSigned")
    assert [s["supplier_id"] for s in signed["suppliers"]] == [FIRM.removeprefix("NL-")]


async def test_an_award_moved_by_its_lots_only_awards_the_new_lot() -> None:
    """1(c): a2 restated as `relatedLots: ["L3"]` only: withdrawn from L2 and provisionally
    awarded on L3 (the feed withdrew it and never awarded L3)."""
    releases = [_release(1, "tender", tender=LOTS3),
                _release(2, "award", tender=LOTS3, awards=[AWARDS[1]]),
                _release(3, "awardUpdate", awards=[{"id": "a2", "relatedLots": ["L3"]}])]  # fmt: skip
    events = await _same_as_one_run(releases)
    assert [p["lot_id"] for p in _of(events, "ProvisionalAwardDecided")] == ["L2", "L3"]
    assert [p["lot_id"] for p in _of(events, "ProvisionalAwardWithdrawn")] == ["L2"]


@pytest.mark.parametrize("aid", ["a1", "a2"], ids=["definitive", "provisional"])
async def test_an_award_restated_by_its_suppliers_only_is_revised_or_refused(aid: str) -> None:
    """1(d): a1 (definitive, FIRM) restated with another supplier only is refused (the
    registry revises only a provisional award); a2 (provisional, OTHER) is revised to both
    (the feed accepted both and recorded nothing)."""
    other = FIRM if aid == "a2" else OTHER
    releases = [
        *FIRST,
        _release(3, "awardUpdate", awards=[{"id": aid, "suppliers": [{"id": other}]}]),
    ]
    one = await _recorded(releases, feed=False)
    assert await _recorded(releases, feed=True) == one
    events, refused = one
    if aid == "a1":
        assert list(refused) == ["r3"], refused
        assert "NOT_RECORDABLE" in refused["r3"]
        assert "awards[0].suppliers" in refused["r3"]
    else:
        assert refused == {}
        [revised] = _of(events, "ProvisionalAwardRevised")
        # (OCDS merges an award's suppliers by id: the one stated before stays)
        named = [OTHER.removeprefix("NL-"), FIRM.removeprefix("NL-")]
        assert (revised["lot_id"], revised["supplier_ids"]) == ("L2", named)
        source, ours, _ = await reported_round_trip([_package(r) for r in releases])
        assert ours == source


async def test_a_contract_value_stated_by_its_amount_only_is_amended() -> None:
    """2: `value: {"amount": 120000}`, its currency (EUR) stated by an earlier release:
    amended to 120000 (the feed recorded the value cleared)."""
    amount_only = {"id": "c1", "awardID": "a1", "value": {"amount": 120000}}
    releases = [*FIRST, _release(3, "contract", awards=AWARDS, contracts=[CONTRACT]),
                _release(4, "contractAmendment", contracts=[amount_only])]  # fmt: skip
    events = await _same_as_one_run(releases)
    [amended] = _of(events, "ContractAmended")
    assert amended["new_value"] is not None
    assert _of(events, "ContractRestated") == []


async def test_a_contract_value_whose_amount_is_nulled_is_refused_in_both() -> None:
    """The rule's other side: an explicit null amount is no value in EUR any more, in a feed
    as in one run (`NOT_RECORDABLE`: an amendment records a new value, never none)."""
    nulled = {"id": "c1", "awardID": "a1", "value": {"amount": None}}
    releases = [*FIRST, _release(3, "contract", awards=AWARDS, contracts=[CONTRACT]),
                _release(4, "contractAmendment", contracts=[nulled])]  # fmt: skip
    one = await _recorded(releases, feed=False)
    assert await _recorded(releases, feed=True) == one
    assert _of(one[0], "ContractAmended") == []
