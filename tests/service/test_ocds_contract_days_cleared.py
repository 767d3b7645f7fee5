"""A signed contract's signing day or start that a later release no longer states (an
explicit null after a stated day) is recorded (import30), as a day never stated is
(review18a): `ContractRestated.signed_on_cleared` / `start_cleared`, the recorded day kept (the
rules and as-of views need one) and marked not stated in the contract fold; the export sends
the null, so the compile drops it as the source's did; the findings of the rule judged on that
day go (a rule is not judged on an unstated day). Before, the release was refused whole
(NOT_RECORDABLE contracts[0].dateSigned).

GraphQL shows the marks (`Contract.signedOnStated`, `startStated`) from the contracts read
model (v6), at any `asOf`: a contract published without a signing day, a later release
stating it, a later one no longer stating its start."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
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


def _clearing(*fields: str, contract: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    changed = copy.deepcopy(contract or CONTRACT)
    for f in fields:
        if f == "dateSigned":
            changed["dateSigned"] = None
        else:
            changed["period"]["startDate"] = None
    return [*_history(), _release(4, "contractUpdate", tender=TENDER, awards=AWARDS,
                                  contracts=[changed])]  # fmt: skip


CASES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "signing day": (("dateSigned",), {"signed_on_cleared": True}),
    "start": (("period.startDate",), {"start_cleared": True}),
    "both": (("dateSigned", "period.startDate"), {"signed_on_cleared": True,
                                                  "start_cleared": True}),
}  # fmt: skip


def _contract_state(events: list[Any]) -> Any:
    mine = [e for e in events if getattr(e, "contract_id", None) == CID]
    return FOLDS["registry", "contract"].replay(CID, mine)


@pytest.mark.parametrize("case", list(CASES))
async def test_a_day_no_longer_stated_is_restated_not_refused(case: str) -> None:
    """Fails before: refused (NOT_RECORDABLE contracts[0].dateSigned / period.startDate)."""
    fields, marks = CASES[case]
    releases = _clearing(*fields)
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, (store, bus) = await _registry_events(_package(*releases))
    [restated] = [e for e in events if isinstance(e, rg.ContractRestated)]
    assert restated.model_dump(exclude_defaults=True, exclude={"contract_id", "restated_on"}) == (
        marks
    )
    state = _contract_state(events)
    # The recorded days stay (the rules and as-of views run on them), not stated.
    assert (state.signed_on, state.start_date) == (date(2024, 6, 1), date(2024, 7, 1))
    assert (state.signed_on_stated, state.start_stated) == (
        "dateSigned" not in fields,
        "period.startDate" not in fields,
    )
    before = [s.envelope.event_id async for s in store.read_stream(REGISTRY)]
    again = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (again.skipped, again.imported, again.duplicates) == ([], 0, 4)
    assert [s.envelope.event_id async for s in store.read_stream(REGISTRY)] == before


async def test_a_cleared_day_stated_again_is_restated_again() -> None:
    releases = _clearing("dateSigned")
    releases.append(_release(5, "contractUpdate", tender=TENDER, awards=AWARDS,
                             contracts=[{**CONTRACT, "dateSigned": "2024-06-02T00:00:00Z"}]))  # fmt: skip
    source, ours = await round_trip([_package(*releases)])
    assert ours == source
    events, _ = await _registry_events(_package(*releases))
    state = _contract_state(events)
    assert (state.signed_on, state.signed_on_stated) == (date(2024, 6, 2), True)


async def test_a_finding_on_a_day_no_longer_stated_goes() -> None:
    """A start after the end (INVALID_PERIOD) no longer stated: the period's rule is not
    judged on an unstated start (as at a signing without one), so the finding goes; the
    first release's provenance still carries it (what was found then)."""
    late = copy.deepcopy(CONTRACT)
    late["period"]["startDate"] = "2026-08-01T00:00:00Z"  # after the end, 2026-06-30
    releases = _history()
    releases[2]["contracts"] = [late]
    releases = [*releases, *_clearing("period.startDate", contract=late)[3:]]
    events, _ = await _registry_events(_package(*releases))
    provenance = [e for e in events if isinstance(e, rg.ContractReleaseImported)]
    assert [[f.code for f in p.findings] for p in provenance] == [["INVALID_PERIOD"], []]
    assert _contract_state(events).law_findings == ()


QUERY = """query ($c: String!, $asOf: Date) {
  contract(contractId: $c, asOf: $asOf) { signedOn signedOnStated startDate startStated }
  contracts(asOf: $asOf, first: 5) { nodes { contractId signedOnStated startStated } }
}"""


async def test_graphql_shows_whether_the_days_are_stated_at_any_as_of(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    """Signed without a signing day (r3, 03-15), the day stated by r4 (04-15), the start no
    longer stated by r5 (05-15). Fails before: no such fields (and r5 was refused)."""
    unsigned = {k: v for k, v in CONTRACT.items() if k != "dateSigned"}
    releases = _history()
    releases[2]["contracts"] = [unsigned]
    no_start = copy.deepcopy(CONTRACT)
    no_start["period"]["startDate"] = None
    releases += [
        _release(4, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[CONTRACT]),
        _release(5, "contractUpdate", tender=TENDER, awards=AWARDS, contracts=[no_start]),
    ]
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

    def shown(signed: str, signed_stated: bool, start: str, start_stated: bool) -> Any:
        node = {"contractId": CID, "signedOnStated": signed_stated, "startStated": start_stated}
        return {"contract": {"signedOn": signed, "signedOnStated": signed_stated,
                             "startDate": start, "startStated": start_stated},
                "contracts": {"nodes": [node]}}  # fmt: skip

    assert seen == [
        shown("2024-03-15", False, "2024-07-01", True),  # r3's day, not stated
        shown("2024-06-01", True, "2024-07-01", True),
        shown("2024-06-01", True, "2024-07-01", False),  # the start stays, not stated
        shown("2024-06-01", True, "2024-07-01", False),
    ]
