"""A contract published without a signing day or a start (OCDS makes both optional; real
feeds omit them) is recorded with a "not stated" mark (review18a finding 3), as a tender's
unstated procedure or publication day is: the signing day as the release's day with
`signed_on_stated` false, the start as the signing day with `start_stated` false. Before, the
release was refused (NOT_RECORDABLE) and every later release of the contract with it: real
data lost. The export leaves an unstated field out, so the round trip holds; the period's rule
does not judge an unstated start."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.folds import FOLDS
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from tests.service.test_ocds_contract_restated import _registry_events
from tests.service.test_ocds_restated import AWARDS, CONTRACT, TENDER, _history, _package, _release
from tests.service.test_ocds_round_trip import round_trip

CASES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "no signing day": (("dateSigned",), {"signed_on_stated": False}),
    "no start": (("period.startDate",), {"start_stated": False}),
    "neither": (("dateSigned", "period.startDate"),
                {"signed_on_stated": False, "start_stated": False}),
}  # fmt: skip


def _unstated(*fields: str) -> list[dict[str, Any]]:
    c = copy.deepcopy(CONTRACT)
    for f in fields:
        if f == "dateSigned":
            del c["dateSigned"]
        else:
            del c["period"]["startDate"]
    releases = _history()
    releases[2]["contracts"] = [c]
    # A later release stating the contract as before (still without them): accepted too.
    later = _release(4, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[c])
    return [*releases, later]


@pytest.mark.parametrize("case", list(CASES))
async def test_a_contract_without_a_day_is_recorded_as_not_stated(case: str) -> None:
    fields, marks = CASES[case]
    releases = _unstated(*fields)
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, (store, bus) = await _registry_events(_package(*releases))
    [signed] = [e for e in events if isinstance(e, rg.ContractSigned)]
    assert (
        signed.model_dump(include={"signed_on_stated", "start_stated"}, exclude_defaults=True)
        == marks
    )
    release_day = date(2024, 3, 15)  # r3's day
    assert signed.signed_on == (release_day if "dateSigned" in fields else date(2024, 6, 1))
    assert signed.start_date == (
        signed.signed_on if "period.startDate" in fields else date(2024, 7, 1)
    )
    assert [e for e in events if isinstance(e, rg.ContractRestated)] == []
    provenance = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    assert all(p.findings == [] for p in provenance), provenance
    # A re-run records nothing more (the tally starts from the fold).
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (again.skipped, again.imported, again.duplicates) == ([], 0, 4)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


async def test_a_day_stated_later_is_recorded_as_restated() -> None:
    """The signing day first not stated, then stated (2024-06-01): a `ContractRestated`, the
    mark true again in the fold."""
    releases = _unstated("dateSigned")
    releases[3]["contracts"] = [copy.deepcopy(CONTRACT)]
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    [restated] = [e for e in events if isinstance(e, rg.ContractRestated)]
    assert restated.signed_on == date(2024, 6, 1)


async def test_an_unstated_start_follows_a_signing_day_stated_later() -> None:
    """Neither day stated (both recorded as r3's day, 03-15), then a release states only the
    signing day, 06-01: the start, still unstated, is the signing day again (fails before: it
    stayed 03-15, the contract in force before it was signed; review18b)."""
    releases = _unstated("dateSigned", "period.startDate")
    stated = copy.deepcopy(releases[-1])
    stated["contracts"][0]["dateSigned"] = "2024-06-01T00:00:00Z"
    releases[-1] = stated
    events, _ = await _registry_events(_package(*releases))
    [cid] = {e.contract_id for e in events if isinstance(e, rg.ContractSigned)}
    mine = [e for e in events if getattr(e, "contract_id", None) == cid]
    state = FOLDS[("registry", "contract")].replay(cid, mine)
    assert state.signed_on == date(2024, 6, 1)
    assert state.start_date == date(2024, 6, 1)
    assert not state.start_stated
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
