"""A contract whose source states no end "runs on and never expires" (import33: its end is
recorded as the registry's last day, 2100-12-31, with `endStated` false). Two answers said
otherwise: `expiringContracts` and the `expiring` filter listed it as ending on 2100-12-31 when
the range reached that day, and a manual `ExpireContract` was refused as "runs until
2100-12-31", a day nobody published. Now no range of ends lists it (while its end was stated,
the as-of view lists it on that end as before), and the refusal says it has no stated end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.registry import commands as cmd
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import start_memory_gateway
from tests.service.bus import InProcessBus
from tests.service.test_ocds_contract_end_unstated import CID, _contract, _signed_with
from tests.service.test_ocds_restated import AWARDS, CONTRACT, TENDER, _package, _release

QUERY = """query ($asOf: Date) {
  expiringContracts(from: "2020-01-01", to: "2100-12-31", asOf: $asOf) {
    nodes { contractId endDate } }
  contracts(filter: {expiring: {from: "2020-01-01", to: "2100-12-31"}}, asOf: $asOf) {
    nodes { contractId endDate } } }"""


async def test_a_contract_without_a_stated_end_is_never_listed_as_expiring(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> None:
    releases = [
        *_signed_with(_contract(endDate=...)),  # r3, 2024-03-15: no end stated
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
        seen = {}
        for on in ("2024-03-20", "2024-04-20", None):
            body = await g.query(QUERY, {"asOf": on}, token=g.token("coordinator"))
            assert "errors" not in body, body
            seen[on] = body["data"]
    finally:
        await g.stop()
    listed = [{"contractId": CID, "endDate": "2026-06-30"}]
    assert seen["2024-04-20"] == {"expiringContracts": {"nodes": listed},
                                  "contracts": {"nodes": listed}}  # fmt: skip
    nothing = {"expiringContracts": {"nodes": []}, "contracts": {"nodes": []}}
    assert seen["2024-03-20"] == nothing
    assert seen[None] == nothing


async def test_expiring_a_contract_without_a_stated_end_is_refused_saying_so(
    store: InMemoryEventStore, bus: InProcessBus
) -> None:
    releases = _signed_with(_contract(endDate=...))
    report = await import_items(read(_package(*releases), "test"), bus.request, store)
    assert (report.imported, report.skipped) == (3, [])
    expiry = cmd.ExpireContract(
        command_id="expire-unstated", contract_id=CID, occurred_at=datetime(2025, 1, 2, tzinfo=UTC)
    )
    refused = await bus.reject(expiry, "CONTRACT_NOT_YET_ENDED")
    assert "has no stated end date" in refused.message, refused
    assert "2100" not in refused.message, refused
