"""A later release restating a signed contract (import25): its signing or start day
corrected, its maximum extent or value no longer stated (or no longer in EUR). Before, such a
release was imported and the change reported NOT_RECORDED (import20), then refused whole
(import25's first step); now it is recorded as `ContractRestated`, an imported fact the
contract fold takes, and the re-export equals ocdsmerge's compile of the input."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
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
from tests.service.test_ocds_restated import AWARDS, CONTRACT, TENDER, _history, _package, _release
from tests.service.test_ocds_round_trip import registry, round_trip


def _restating(**changes: Any) -> list[dict[str, Any]]:
    changed = copy.deepcopy(CONTRACT)
    for key, value in changes.items():
        if key in ("startDate", "maxExtentDate"):
            changed["period"][key] = value
        else:
            changed[key] = value
    return [*_history(), _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                                  contracts=[changed])]  # fmt: skip


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "signing day": ({"dateSigned": "2024-06-03T00:00:00Z"}, {"signed_on": date(2024, 6, 3)}),
    "start": ({"startDate": "2024-08-01T00:00:00Z"}, {"start_date": date(2024, 8, 1)}),
    "extent cleared": ({"maxExtentDate": None}, {"max_extent_cleared": True}),
    "value cleared": ({"value": {"amount": None, "currency": None}}, {"value_cleared": True}),
    "value in USD": ({"value": {"amount": 5, "currency": "USD"}}, {"value_cleared": True}),
}


async def _registry_events(package: bytes) -> tuple[list[Any], Any]:
    store, _clock, bus = await registry()
    report = await import_items(read(package, "test"), bus.request, store)
    assert report.skipped == [], report.skipped
    events = [typed_event(s.envelope.event_type, s.envelope.payload, s.envelope.schema_version)
              async for s in store.read_stream(REGISTRY)]  # fmt: skip
    return events, (store, bus)


@pytest.mark.parametrize("case", list(CASES))
async def test_a_signed_contract_restated_round_trips(case: str) -> None:
    """Fails before: the release was refused (NOT_RECORDABLE), before that imported and the
    change lost."""
    changes, expected = CASES[case]
    releases = _restating(**changes)
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, (store, bus) = await _registry_events(_package(*releases))
    [restated] = [e for e in events if isinstance(e, rg.ContractRestated)]
    given = restated.model_dump(exclude={"contract_id", "restated_on"}, exclude_defaults=True)
    assert given == expected
    assert restated.restated_on == date(2024, 4, 15)
    # A re-run records nothing more (the tally starts from the fold).
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (again.skipped, again.imported, again.duplicates) == ([], 0, 4)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


async def test_a_daily_feed_restates_a_contract_signed_by_an_earlier_run() -> None:
    """Each release its own run: the restating release states only its contract."""
    store, _clock, bus = await registry()
    for release in _history():
        assert (await import_items(read(_package(release), "t"), bus.request, store)).skipped == []
    changed = {**copy.deepcopy(CONTRACT), "dateSigned": "2024-06-03T00:00:00Z"}
    changed["period"]["maxExtentDate"] = None
    report = await import_items(
        read(_package(_release(4, "contractUpdate", contracts=[changed])), "t"), bus.request, store
    )
    assert (report.skipped, report.imported) == ([], 1)
    kinds = [s.envelope.event_type async for s in store.read_stream(REGISTRY)]
    assert kinds.count(rg.ContractRestated.event_type) == 1


def test_the_contract_fold_takes_a_restatement() -> None:
    fold = FOLDS["registry", "contract"]
    signed = rg.ContractSigned(
        contract_id="c1", kind="contract", contracting_authority="KVK-71830960",
        suppliers=[{"supplier_id": "KVK-27124701", "name": "A"}], signed_on=date(2024, 6, 1),
        start_date=date(2024, 7, 1), end_date=date(2026, 6, 30),
        max_extent_date=date(2028, 6, 30), value={"amount": "100000", "currency": "EUR"},
    )  # fmt: skip
    restated = rg.ContractRestated(contract_id="c1", restated_on=date(2024, 8, 1),
                                   signed_on=date(2024, 6, 3), start_date=date(2024, 7, 8))  # fmt: skip
    state = fold.replay("c1", [signed, restated])
    assert (state.signed_on, state.start_date) == (date(2024, 6, 3), date(2024, 7, 8))
    assert (state.max_extent_date, state.value_eur) == (date(2028, 6, 30), Decimal(100000))
    cleared = rg.ContractRestated(contract_id="c1", restated_on=date(2024, 9, 1),
                                  max_extent_cleared=True, value_cleared=True)  # fmt: skip
    state = fold.replay("c1", [signed, restated, cleared])
    assert (state.max_extent_date, state.value_eur, state.signed_on) == (
        None,
        None,
        date(2024, 6, 3),
    )


CONTRACT_QUERY = """query ($c: String!, $asOf: Date) {
  contract(contractId: $c, asOf: $asOf) { signedOn startDate maxExtentDate valueEur }
}"""


async def test_graphql_shows_a_restated_contract_from_its_release_day(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """The gateway folds the contract: the corrected signing day and start, and no maximum
    extent or value, from the restating release's day on (fails before: refused)."""
    changed = copy.deepcopy(CONTRACT)
    changed["dateSigned"] = "2024-06-03T00:00:00Z"
    changed["period"] |= {"startDate": "2024-07-08T00:00:00Z", "maxExtentDate": None}
    changed["value"] = {"amount": None, "currency": None}
    releases = [*_history(), _release(8, "contractUpdate", contracts=[changed])]
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (4, [])
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        seen = []
        for on in ("2024-07-20", "2024-08-20"):  # the restating release is dated 2024-08-15
            variables = {"c": "ocds-gtnl99-r1-c1", "asOf": on}
            body = await g.query(CONTRACT_QUERY, variables, token=g.token("coordinator"))
            assert "errors" not in body, body
            seen.append(body["data"]["contract"])
    finally:
        await g.stop()
    assert seen == [
        {"signedOn": "2024-06-01", "startDate": "2024-07-01", "maxExtentDate": "2028-06-30",
         "valueEur": "100000.00"},
        {"signedOn": "2024-06-03", "startDate": "2024-07-08", "maxExtentDate": None,
         "valueEur": None},
    ]  # fmt: skip


async def test_a_start_restated_past_the_end_is_a_finding() -> None:
    """The period's rule is evaluated again on the restated start (INVALID_PERIOD); the fact
    is recorded, as every imported fact is."""
    releases = _restating(startDate="2026-08-01T00:00:00Z")  # after the end, 2026-06-30
    events, _ = await _registry_events(_package(*releases))
    [*_, last] = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    assert [f.code for f in last.findings] == ["INVALID_PERIOD"]


# review18a finding 4: a restated signing day is judged again by the award's rules.


def _findings_on(events: list[Any]) -> list[str]:
    [cid] = {e.contract_id for e in events if isinstance(e, rg.ContractSigned)}
    mine = [e for e in events if getattr(e, "contract_id", None) == cid]
    state = FOLDS[("registry", "contract")].replay(cid, mine)
    return [f.code for f in state.law_findings]


async def test_a_signing_day_restated_into_the_standstill_is_a_finding() -> None:
    """Signed 06-01, after the standstill (award 05-01, ends 05-21), restated to 05-05: the
    award's rules judge the restated day (fails before: no finding)."""
    releases = _restating(dateSigned="2024-05-05T00:00:00Z")
    events, _ = await _registry_events(_package(*releases))
    [*_, last] = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    assert [f.code for f in last.findings] == ["STANDSTILL_NOT_ENDED"]
    assert "2024-05-05" in last.findings[0].message
    assert _findings_on(events) == ["STANDSTILL_NOT_ENDED"]


async def test_a_signing_day_restated_past_the_standstill_drops_the_old_finding() -> None:
    """Signed 05-05 (a finding), restated to 06-01: the restatement's judgement replaces the
    signing's for the award's rules; the contract no longer carries the finding (fails
    before: it stayed), the first release's provenance still does."""
    early = copy.deepcopy(CONTRACT)
    early["dateSigned"] = "2024-05-05T00:00:00Z"
    releases = [*_history(), _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                                      contracts=[CONTRACT])]  # fmt: skip
    releases[2]["contracts"] = [early]
    events, _ = await _registry_events(_package(*releases))
    first, *_, last = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    assert [f.code for f in first.findings] == ["STANDSTILL_NOT_ENDED"]
    assert last.findings == []
    assert _findings_on(events) == []


def test_the_rejudged_codes_are_refusal_codes() -> None:
    """A misspelt code would keep a finding a restatement replaces."""
    from contracts_schema.refusals import REFUSALS
    from contracts_schema.registry.state.contract import RESTATED_RULES

    assert {c for codes in RESTATED_RULES.values() for c in codes} <= set(REFUSALS)


# review18b finding 1: a restated signing day judges the standstill again, and only it.


async def test_a_signing_day_restated_keeps_the_awards_other_findings() -> None:
    """A contract on a provisional award (a2, L2), signed 06-01 after the standstill:
    AWARD_NOT_DEFINITIVE. Restated to 05-05, inside the standstill: STANDSTILL_NOT_ENDED is
    added and AWARD_NOT_DEFINITIVE stays (fails before: the award's every rule was judged again
    and the first broken one, the standstill, replaced them all)."""
    on_a2 = copy.deepcopy(CONTRACT) | {"id": "c2", "awardID": "a2"}
    restated = on_a2 | {"dateSigned": "2024-05-05T00:00:00Z"}
    releases = [*_history(), _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                                      contracts=[restated])]  # fmt: skip
    releases[2]["contracts"] = [on_a2]
    events, _ = await _registry_events(_package(*releases))
    first, *_, last = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    assert [f.code for f in first.findings] == ["AWARD_NOT_DEFINITIVE"]
    assert [f.code for f in last.findings] == ["STANDSTILL_NOT_ENDED"]
    assert sorted(_findings_on(events)) == ["AWARD_NOT_DEFINITIVE", "STANDSTILL_NOT_ENDED"]
