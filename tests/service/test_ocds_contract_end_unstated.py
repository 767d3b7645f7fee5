"""A contract's end the published source does not state -- none, an explicit null, or the
9999-12-31 "no end" some feeds publish -- is recorded (import33), as an unstated signing day
or start is (review18a, import30): `ContractSigned.end_stated` false with the end recorded as
the registry's last day (2100-12-31: the contract runs on, never expires), a later release no
longer stating it `ContractRestated.end_cleared`, one stating it at last `ContractRestated.
end_date`. The period's rule is not judged on an end not stated (a framework is not "longer
than 4 years" by the recorded 2100-12-31), but on a stated maximum extent; the export leaves
the end out (and sends the null in the restating release), so the round trip holds. Before,
each of these releases was refused (`contracts[0].period.endDate`: unmappable, NOT_RECORDABLE,
or "9999-12-31 stands for no end"), and every later release of the contract with it."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from audit.bitemporal import Horizon
from audit.history import replay
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.summaries import SENTENCES
from contracts_schema.folds import FOLDS
from contracts_schema.registry import events as rg
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_ocds_contract_restated import _registry_events
from tests.service.test_ocds_restated import AWARDS, CONTRACT, TENDER, _history, _package, _release
from tests.service.test_ocds_round_trip import round_trip

CID = "ocds-gtnl99-r1-c1"
OPEN_END = date(2100, 12, 31)


def _contract(**period: Any) -> dict[str, Any]:
    """CONTRACT with its period's fields set (None: null) or removed (`...`)."""
    c = copy.deepcopy(CONTRACT)
    for key, value in period.items():
        if value is ...:
            c["period"].pop(key, None)
        else:
            c["period"][key] = value
    return c


def _signed_with(contract: dict[str, Any]) -> list[dict[str, Any]]:
    releases = _history()
    releases[2]["contracts"] = [contract]
    return releases


def summary(event: Any) -> str:
    return SENTENCES[type(event)](event)


def _state(events: list[Any]) -> Any:
    mine = [e for e in events if getattr(e, "contract_id", None) == CID]
    return FOLDS["registry", "contract"].replay(CID, mine)


FIRST: dict[str, dict[str, Any]] = {
    "no endDate": {"endDate": ...},
    "endDate null": {"endDate": None},
    "endDate 9999-12-31": {"endDate": "9999-12-31T23:59:59Z"},
    "endDate 9999-12-31 date only": {"endDate": "9999-12-31T00:00:00+01:00"},
}


@pytest.mark.parametrize("case", list(FIRST))
async def test_a_contract_signed_without_a_stated_end_is_recorded(case: str) -> None:
    """Fails before: the release refused (`contracts[0].period.endDate`), and the contract
    with it."""
    releases = _signed_with(_contract(**FIRST[case]))
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, (store, bus) = await _registry_events(_package(*releases))
    [signed] = [e for e in events if isinstance(e, rg.ContractSigned)]
    assert (signed.end_date, signed.end_stated) == (OPEN_END, False)
    state = _state(events)
    assert (state.end_date, state.end_stated, state.max_extent_date) == (
        OPEN_END,
        False,
        date(2028, 6, 30),
    )
    assert state.ended_by(date(2100, 12, 31)) is None  # it runs on
    assert "no end stated" in summary(signed)
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (again.skipped, again.imported, again.duplicates) == ([], 0, 3)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


async def test_a_maximum_extent_of_9999_is_no_extent_stated() -> None:
    """Fails before: refused ("9999-12-31 stands for no maximum extent")."""
    releases = _signed_with(_contract(maxExtentDate="9999-12-31T23:59:59Z"))
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    state = _state(events)
    assert (state.end_date, state.end_stated, state.max_extent_date) == (
        date(2026, 6, 30),
        True,
        None,
    )


def _framework_findings(events: list[Any]) -> list[list[str]]:
    provenance = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    return [[f.code for f in p.findings] for p in provenance]


async def test_the_period_rule_is_not_judged_on_an_end_not_stated() -> None:
    """A framework (TENDER is one) without an end or extent: no FRAMEWORK_RATIONALE_REQUIRED
    on the recorded 2100-12-31, an invented date. With a stated extent more than 4 years
    after the start, the rule is judged on it and finds it. Fails before: refused."""
    events, _ = await _registry_events(
        _package(*_signed_with(_contract(endDate=..., maxExtentDate=...)))
    )
    assert _framework_findings(events) == [[]]
    assert _state(events).law_findings == ()
    long = _contract(endDate=None, maxExtentDate="2030-06-30T00:00:00Z")
    events, _ = await _registry_events(_package(*_signed_with(long)))
    assert _framework_findings(events) == [["FRAMEWORK_RATIONALE_REQUIRED"]]
    before_start = _contract(endDate=None, maxExtentDate="2024-06-30T00:00:00Z")
    events, _ = await _registry_events(_package(*_signed_with(before_start)))
    assert _framework_findings(events) == [["INVALID_PERIOD"]]


NO_LONGER: dict[str, Any] = {"null": None, "9999-12-31": "9999-12-31T23:59:59Z"}


@pytest.mark.parametrize("case", list(NO_LONGER))
async def test_an_end_no_longer_stated_is_restated_not_refused(case: str) -> None:
    """Fails before: refused (NOT_RECORDABLE contracts[0].period.endDate, or the 9999 day)."""
    releases = [*_history(), _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                                      contracts=[_contract(endDate=NO_LONGER[case])])]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    [restated] = [e for e in events if isinstance(e, rg.ContractRestated)]
    assert restated.model_dump(exclude_defaults=True, exclude={"contract_id", "restated_on"}) == {
        "end_cleared": True
    }
    assert "no end stated" in summary(restated)
    state = _state(events)
    assert (state.end_date, state.end_stated) == (OPEN_END, False)


async def test_an_end_stated_at_last_is_restated_and_judged() -> None:
    """Signed without an end and extent (no finding), then an end stated more than 4 years
    after the start: restated (`end_date`, stated), and the period's rule judged on it
    (FRAMEWORK_RATIONALE_REQUIRED on the restating release). Then cleared again: the
    finding goes (the rule is not judged on an end not stated). Fails before: refused."""
    unstated = _contract(endDate=..., maxExtentDate=...)
    long = _contract(endDate="2030-06-30T00:00:00Z", maxExtentDate=...)
    releases = [
        *_signed_with(unstated),
        _release(4, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[long]),
    ]
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    [restated] = [e for e in events if isinstance(e, rg.ContractRestated)]
    assert restated.end_date == date(2030, 6, 30)
    assert not any(isinstance(e, rg.ContractAmended) for e in events)
    assert _framework_findings(events) == [[], ["FRAMEWORK_RATIONALE_REQUIRED"]]
    state = _state(events)
    assert (state.end_date, state.end_stated) == (date(2030, 6, 30), True)
    assert [f.code for f in state.law_findings] == ["FRAMEWORK_RATIONALE_REQUIRED"]
    cleared = _contract(endDate=None, maxExtentDate=...)
    releases.append(_release(5, "contractUpdate", tender=TENDER, awards=AWARDS,
                             contracts=[cleared]))  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    state = _state(events)
    assert (state.end_date, state.end_stated, state.law_findings) == (OPEN_END, False, ())


async def test_a_stated_end_changed_is_still_an_amendment() -> None:
    """The control: an end stated, then another: `ContractAmended` as before."""
    releases = [*_history(), _release(4, "contractAmendment", tender=TENDER, awards=AWARDS,
                                      contracts=[_contract(endDate="2027-06-30T00:00:00Z")])]  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    assert not any(isinstance(e, rg.ContractRestated) for e in events)
    [amended] = [e for e in events if isinstance(e, rg.ContractAmended)]
    assert amended.new_end_date == date(2027, 6, 30)


async def test_a_daily_feed_records_what_one_run_records() -> None:
    """Each release in a run of its own: the same events as one run."""
    releases = [
        *_signed_with(_contract(endDate=...)),
        _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                 contracts=[_contract(endDate="2026-06-30T00:00:00Z")]),
        _release(5, "contractUpdate", tender=TENDER, awards=AWARDS,
                 contracts=[_contract(endDate="9999-12-31T23:59:59Z")]),
    ]  # fmt: skip
    source, ours = await round_trip([_package(r) for r in releases])
    assert ours == source
    whole, _ = await _registry_events(_package(*releases))
    restated = [e for e in whole if isinstance(e, rg.ContractRestated)]
    assert [(e.end_date, e.end_cleared) for e in restated] == [
        (date(2026, 6, 30), False),
        (None, True),
    ]


QUERY = """query ($c: String!, $asOf: Date) {
  contract(contractId: $c, asOf: $asOf) { endDate endStated status }
  contracts(asOf: $asOf, first: 5) { nodes { contractId endDate endStated } }
}"""


async def test_graphql_shows_whether_the_end_is_stated_at_any_as_of(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """Signed without an end (r3, 03-15), the end stated by r4 (04-15), no longer stated --
    9999-12-31 -- by r5 (05-15). Fails before: no such field (and r3 was refused)."""
    releases = [
        *_signed_with(_contract(endDate=...)),
        _release(4, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[CONTRACT]),
        _release(5, "contractUpdate", tender=TENDER, awards=AWARDS,
                 contracts=[_contract(endDate="9999-12-31T23:59:59Z")]),
    ]  # fmt: skip
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (5, [])
    g = await start_memory_gateway(store, f"sqlite:///{tmp_path / 'read.db'}", commands=bus)
    try:
        for runner in g.runners:
            assert await runner.wait_until(await runner.stream_heads(), timeout=120)
        seen = []
        for on in ("2024-03-20", "2024-04-20", "2024-05-20", None):
            body = await g.query(QUERY, {"c": CID, "asOf": on}, token=g.token("coordinator"))
            assert "errors" not in body, body
            seen.append(body["data"])
    finally:
        await g.stop()

    def shown(end: str, stated: bool) -> Any:
        return {"contract": {"endDate": end, "endStated": stated, "status": "ACTIVE"},
                "contracts": {"nodes": [{"contractId": CID, "endDate": end,
                                         "endStated": stated}]}}  # fmt: skip

    assert seen == [
        shown("2100-12-31", False),  # the registry's last day, not stated
        shown("2026-06-30", True),
        shown("2100-12-31", False),
        shown("2100-12-31", False),
    ]


async def test_the_audit_replay_shows_the_end_not_stated() -> None:
    """`audit replay contract/<id>` renders the owner's fold over the stored envelopes, its
    timeline summarised: the mark before and after the restating releases."""
    releases = [
        *_signed_with(_contract(endDate=...)),
        _release(4, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[CONTRACT]),
        _release(5, "contractUpdate", tender=TENDER, awards=AWARDS,
                 contracts=[_contract(endDate=None)]),
    ]  # fmt: skip
    _, (store, _bus) = await _registry_events(_package(*releases))
    envelopes = [s.envelope async for s in store.read_stream(REGISTRY)
                 if s.envelope.aggregate_id == CID]  # fmt: skip
    now = datetime.now(UTC)
    shown = []
    for on in (datetime(2024, 3, 20, tzinfo=UTC), datetime(2024, 4, 20, tzinfo=UTC), now):
        replayed = replay("contract", CID, envelopes, Horizon(on, now))
        shown.append((replayed.state["end_date"], replayed.state["end_stated"]))
    assert shown == [("2100-12-31", False), ("2026-06-30", True), ("2100-12-31", False)]
    said = [e.summary for e in replayed.timeline if e.envelope.event_type.startswith("Contract")]
    assert [s for s in said if "end" in s] == [
        "framework signed on 2024-06-01 by KVK-71830960, running 2024-07-01, no end stated",
        "restated (imported): ending 2026-06-30",
        "restated (imported): no end stated",
    ]
