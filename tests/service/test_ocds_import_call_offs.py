"""A framework tender's own OCDS export, with its call-offs, imported again (issue 17).

The export publishes each call-off as its own process (its ocid), linked to the framework's
process; its award names the framework lot it was called off under (`relatedLots`), a lot
of the framework's tender, not of the call-off's own (which declares none). Imported into
another registry, every release is recorded (none skipped) and each process re-exports with
the compiled release of the input on every mapped field (as `test_ocds_round_trip.mapped`
compares them). Imported into the same registry, every release is this registry's own
publication and is refused as such (docs/ocds-import.md, "Our own export").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from audit.bitemporal import Horizon
from audit.ocds.export import Register, packages
from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from audit.ocds.ocid_prefix import ocid_prefix
from audit.ocds.packages import merger
from audit.ocds.releases import ocid
from contracts_schema.subjects import CONTEXTS, ENROLMENT
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


async def test_a_tenders_export_imported_into_the_same_registry_is_refused_as_its_own() -> None:
    """Our own export imported back: every release refused as this registry's publication
    (nothing stored), so the register still exports one process per ocid."""
    store, bus, data = await framework_with_call_offs()
    before = await exported(store)
    stored = await _count(store)
    for _ in range(2):  # a re-run is refused the same
        report = await import_items(read(data, "LNVT"), bus.request, store)
        assert (report.imported, report.duplicates, report.events) == (0, 0, 0)
        releases = json.loads(data)["releases"]
        assert len(report.skipped) == len(releases)
        whose = {TENDER: "tender", "CO-1": "call-off", "CO-2": "call-off"}
        for problem in report.skipped:
            n = int(problem.path.split("[")[1].split("]")[0])
            the_ocid = releases[n]["ocid"]
            process = the_ocid.removeprefix(ocid(""))
            assert problem.path.endswith(".ocid")
            assert problem.reason.startswith(
                f"OWN_PUBLICATION: {the_ocid} is this registry's own publication of"
                f" {whose[process]} {process}"
            )
    assert await _count(store) == stored
    assert await exported(store) == before


async def test_a_contract_without_a_tender_exported_and_imported_back_is_refused() -> None:
    """A contract with no tender in the registry is its own process (`ocds-gtnl01-<id>`):
    imported back into the same registry, it is refused as that contract's publication."""
    store, clock, bus = await registry()
    alone = Fact(SIGNED.event_type, {**SIGNED.payload, "contract_id": "INHERITED-1",
                                      "kind": "contract", "tender_id": None}, SIGNED.occurred_at)  # fmt: skip
    await record(store, clock, "contract/INHERITED-1", spaced([alone]))
    now = datetime.now(UTC)
    register = await Register.read(store, Horizon(now, now))
    package = packages(register.export("INHERITED-1"), "INHERITED-1", now)["release_package"]
    assert {r["ocid"] for r in package["releases"]} == {ocid("INHERITED-1")}
    stored = await _count(store)
    report = await import_items(read(json.dumps(package).encode(), "LNVT"), bus.request, store)
    assert report.imported == 0
    assert report.skipped
    why = f"OWN_PUBLICATION: {ocid('INHERITED-1')} is this registry's own publication of"
    assert all(p.reason.startswith(f"{why} contract INHERITED-1") for p in report.skipped)
    assert await _count(store) == stored


@pytest.fixture
def deployed_as(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set this deployment's GT_OCDS_OCID_PREFIX (None: unset, the default) for what follows."""

    def deploy(prefix: str | None) -> None:
        if prefix is None:
            monkeypatch.delenv("GT_OCDS_OCID_PREFIX", raising=False)
        else:
            monkeypatch.setenv("GT_OCDS_OCID_PREFIX", prefix)
        ocid_prefix.cache_clear()  # (read once per process)

    yield deploy
    deploy(None)


async def test_another_deployments_export_is_imported_not_refused_as_ours(
    deployed_as: Any,
) -> None:
    """Two deployments of this software, each under its own ocid prefix, with the same
    process ids: one's export imported into the other is an ordinary import, not refused
    as the other's own publication (the prefix was a constant of the software: it was)."""
    deployed_as("ocds-other1")
    store, bus, data = await framework_with_call_offs()  # exported by the other deployment
    assert {r["ocid"][:12] for r in json.loads(data)["releases"]} == {"ocds-other1-"}
    deployed_as(None)  # this one: the default prefix, the same process ids recorded
    assert ocid_prefix() == "ocds-gtnl01"
    report = await import_items(read(data, "LNVT"), bus.request, store)
    assert report.skipped == []
    assert report.imported == len(json.loads(data)["releases"])
    assert report.events > 0
    # And under the other prefix, the same export is this registry's own again.
    deployed_as("ocds-other1")
    store, bus, data = await framework_with_call_offs()
    report = await import_items(read(data, "LNVT"), bus.request, store)
    assert report.imported == 0
    assert report.skipped
    assert all(p.reason.startswith("OWN_PUBLICATION: ocds-other1-") for p in report.skipped)


async def _count(store: InMemoryEventStore) -> int:
    return sum([len([e async for e in store.read_stream(c)]) for c in CONTEXTS.values()])
