"""A framework tender's own OCDS export, with its call-offs, imported again (issue 17).

The export publishes each call-off as its own process (its ocid), linked to the framework's
process; its award names the framework lot it was called off under (`relatedLots`), a lot
of the framework's tender, not of the call-off's own (which declares none). Imported into
another registry, or the same, every release is recorded (none skipped) and each process
re-exports with the compiled release of the input on every mapped field (as
`test_ocds_round_trip.mapped` compares them).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from audit.bitemporal import Horizon
from audit.ocds.export import Register, packages
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.ocds.packages import merger
from audit.ocds.releases import ocid
from contracts_schema.subjects import ENROLMENT
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_ocds_round_trip import _lots_of_one, mapped, registry
from tests.support.audit_facts import KPN, LNVT, LNVT_TENDER, TENDER, Fact, on, record, spaced

FRAMEWORK = "LNVT-0800-2000-FW"
OTHER = "KVK-33054224"
PLANNED = Fact(
    LNVT_TENDER[0].event_type,
    {**LNVT_TENDER[0].payload, "framework": True},
    LNVT_TENDER[0].occurred_at,
)
SIGNED = Fact(
    "ContractSigned",
    {"contract_id": FRAMEWORK, "kind": "framework", "tender_id": TENDER, "lot_ids": ["L1"],
     "contracting_authority": LNVT,
     "suppliers": [{"supplier_id": KPN, "name": "KPN B.V.", "lot_ids": ["L1"]},
                   {"supplier_id": OTHER, "name": "Other B.V.", "lot_ids": ["L1"]}],
     "signed_on": "2020-12-15", "start_date": "2021-01-01", "end_date": "2024-12-31",
     "value_eur": 1000000},
    on(date(2020, 12, 15)),
)  # fmt: skip
CALLED_OFF = {"framework_contract_id": FRAMEWORK, "tender_id": TENDER, "lot_id": "L1",
              "participant_code": "GM0363"}  # fmt: skip
DIRECT = Fact(
    "CallOffAwarded",
    {**CALLED_OFF, "call_off_id": "CO-1", "supplier_id": KPN, "awarded_on": "2021-02-01",
     "procedure": "direct", "start_date": "2021-03-01", "end_date": "2021-12-31",
     "value_eur": 5000},
    on(date(2021, 2, 1)),
)  # fmt: skip
COMPETITION = [
    Fact(
        "MiniCompetitionStarted",
        {**CALLED_OFF, "call_off_id": "CO-2", "invited_supplier_ids": [KPN, OTHER],
         "started_on": "2021-04-01"},
        on(date(2021, 4, 1)),
    ),
    Fact(
        "CallOffAwarded",
        {**CALLED_OFF, "call_off_id": "CO-2", "supplier_id": OTHER, "awarded_on": "2021-05-03",
         "procedure": "mini_competition", "start_date": "2021-06-01",
         "end_date": "2022-05-31", "value_eur": 42000},
        on(date(2021, 5, 3)),
    ),
]  # fmt: skip


async def exported(store: InMemoryEventStore) -> dict[str, list[dict[str, Any]]]:
    """Every process the register exports, by ocid: its releases."""
    now = datetime.now(UTC)
    register = await Register.read(store, Horizon(now, now))
    found: dict[str, list[dict[str, Any]]] = {}
    for process_id in register.process_ids():
        for process in register.export(process_id).processes:
            for release in process:
                found.setdefault(release["ocid"], []).append(release)
    return found


async def framework_with_call_offs() -> tuple[InMemoryEventStore, InProcessBus, bytes]:
    store, clock, bus = await registry()
    await record(store, clock, f"tender/{TENDER}", spaced([PLANNED, *LNVT_TENDER[1:]]))
    await record(store, clock, f"contract/{FRAMEWORK}", spaced([SIGNED]))
    await record(store, clock, "call_off/CO-1", spaced([DIRECT]), context=ENROLMENT)
    await record(store, clock, "call_off/CO-2", spaced(COMPETITION), context=ENROLMENT)
    now = datetime.now(UTC)
    register = await Register.read(store, Horizon(now, now))
    package = packages(register.export(TENDER), TENDER, now)["release_package"]
    ocids = {r["ocid"] for r in package["releases"]}
    assert ocids == {ocid(TENDER), ocid("CO-1"), ocid("CO-2")}  # the export under test
    return store, bus, json.dumps(package).encode()


def _compiled(releases: list[dict[str, Any]]) -> dict[str, Any]:
    return merger().create_compiled_release(releases)


async def test_a_tenders_export_with_its_call_offs_round_trips_through_another_registry() -> None:
    _, _, data = await framework_with_call_offs()
    store, _, bus = await registry()
    report = await import_items(read(data, "LNVT"), bus.request, store)
    assert report.skipped == []
    assert report.imported == len(json.loads(data)["releases"])
    source: dict[str, list[dict[str, Any]]] = {}
    for release in json.loads(data)["releases"]:
        source.setdefault(release["ocid"], []).append(release)
    ours = await exported(store)
    assert sorted(ours) == sorted(source)
    for the_ocid, releases in source.items():
        want = mapped(_compiled(releases))
        assert want["contracts"]  # a contract is compared (the framework, each call-off)
        assert _lots_of_one(mapped(_compiled(ours[the_ocid]))) == want


async def test_a_tenders_export_with_its_call_offs_imports_into_the_same_registry_once() -> None:
    store, bus, data = await framework_with_call_offs()
    report = await import_items(read(data, "LNVT"), bus.request, store)
    assert report.skipped == []
    assert report.imported == len(json.loads(data)["releases"])
    again = await import_items(read(data, "LNVT"), bus.request, store)
    assert (again.imported, again.duplicates, again.skipped) == (0, report.imported, [])
