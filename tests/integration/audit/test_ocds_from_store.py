"""OCDS export from events in a real JetStream store, through the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import nats
import ocdsmerge
import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.ocds.releases import ocid
from audit.ocds.schemas import errors, schema
from contracts_schema.subjects import ENROLMENT
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.support.audit_facts import KPN, LNVT, LNVT_TENDER, TENDER, Fact, on, record, spaced

runner = CliRunner()
REGISTERED = [
    Fact(
        "OrganisationRegistered",
        {"code": KPN, "name": "KPN B.V.", "kind": "supplier"},
        on(datetime(2020, 1, 1).date()),
    ),
]


def load(server: NatsServer) -> None:
    async def go() -> None:
        nc = await nats.connect(server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        store = EventStore(nc, clock)
        await record(store, clock, f"organisation/{KPN}", spaced(REGISTERED), context=ENROLMENT)
        await record(store, clock, f"tender/{TENDER}", spaced(LNVT_TENDER))
        await nc.close()

    asyncio.run(go())


def test_export_writes_valid_packages_whose_compiled_release_matches_ocdsmerge(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    load(nats_server)
    result = runner.invoke(
        app, ["ocds", "export", TENDER, "--out", str(tmp_path), "--nats-url", nats_server.url]
    )
    assert result.exit_code == 0, result.output
    releases = json.loads((tmp_path / f"{TENDER}-releases.json").read_text())
    records = json.loads((tmp_path / f"{TENDER}-records.json").read_text())
    assert errors(releases, "release-package-schema.json") == []
    assert errors(records, "record-package-schema.json") == []
    assert [r["tag"] for r in releases["releases"]] == [
        ["planning"],
        ["tender"],
        ["award"],
        ["awardUpdate"],
    ]
    [rec] = records["records"]
    merger = ocdsmerge.Merger(schema=schema("release-schema.json"))
    assert rec["compiledRelease"] == merger.create_compiled_release(releases["releases"])
    assert rec["versionedRelease"] == merger.create_versioned_release(releases["releases"])
    award = rec["compiledRelease"]["awards"][0]
    assert (award["status"], award["suppliers"]) == ("active", [{"id": KPN, "name": "KPN B.V."}])
    assert rec["compiledRelease"]["buyer"] == {"id": LNVT, "name": LNVT}


def test_export_as_of_the_standstill_shows_a_pending_award(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    load(nats_server)
    args = [
        "ocds",
        "export",
        TENDER,
        "--out",
        str(tmp_path),
        "--nats-url",
        nats_server.url,
        "--as-of",
        "2020-11-20",
    ]
    assert runner.invoke(app, args).exit_code == 0
    [rec] = json.loads((tmp_path / f"{TENDER}-records.json").read_text())["records"]
    assert rec["compiledRelease"]["awards"][0]["status"] == "pending"


def test_export_of_an_unknown_tender_says_so(nats_server: NatsServer, tmp_path: Path) -> None:
    load(nats_server)
    result = runner.invoke(
        app, ["ocds", "export", "NOPE", "--out", str(tmp_path), "--nats-url", nats_server.url]
    )
    assert result.exit_code == 2
    assert "no tender or contract 'NOPE' known at" in result.output


# Regressions: OCDS says what the owners' folds (and so GraphQL) say.
CONTRACT = "LNVT-0800-2000-C1"
SIGNED = Fact(
    "ContractSigned",
    {
        "contract_id": CONTRACT,
        "kind": "framework",
        "tender_id": TENDER,
        "lot_ids": ["L1"],
        "contracting_authority": LNVT,
        "suppliers": [{"supplier_id": KPN, "name": "KPN B.V.", "lot_ids": ["L1"]}],
        "signed_on": "2020-12-15",
        "start_date": "2021-01-01",
        "end_date": "2024-12-31",
        "max_extent_date": "2026-12-31",
        "value_eur": 1000000,
    },
    on(date(2020, 12, 15)),
)
AMENDED = Fact(
    "ContractAmended",
    {
        "contract_id": CONTRACT,
        "amended_on": "2023-06-01",
        "summary": "Longer term and more calls",
        "new_end_date": "2025-06-30",
        "new_max_extent_date": "2027-06-30",
        "new_value_eur": 1250000.5,
    },
    on(date(2023, 6, 1)),
)


def export(server: NatsServer, out: Path, facts: dict[str, list[Fact]]) -> dict:
    async def go() -> None:
        nc = await nats.connect(server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        store = EventStore(nc, clock)
        await store.ensure_stream(ENROLMENT)
        for aggregate, history in facts.items():
            await record(store, clock, aggregate, spaced(history))
        await nc.close()

    asyncio.run(go())
    args = ["ocds", "export", TENDER, "--out", str(out), "--nats-url", server.url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = json.loads((out / f"{TENDER}-records.json").read_text())
    assert errors(records, "record-package-schema.json") == []
    compiled: dict = records["records"][0]["compiledRelease"]
    return compiled


def test_a_contract_amendment_changes_the_compiled_period_and_value(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    compiled = export(
        nats_server,
        tmp_path,
        {f"tender/{TENDER}": LNVT_TENDER, f"contract/{CONTRACT}": [SIGNED, AMENDED]},
    )
    [contract] = compiled["contracts"]
    assert contract["period"]["endDate"].startswith("2025-06-30")
    assert contract["period"]["maxExtentDate"].startswith("2027-06-30")
    assert contract["value"] == {"amount": 1250000.5, "currency": "EUR"}
    assert [a["description"] for a in contract["amendments"]] == ["Longer term and more calls"]


def test_cancelling_a_lot_then_the_tender_keeps_every_lot_in_the_compiled_release(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    planned = LNVT_TENDER[0]
    two_lots = Fact(
        "TenderPlanned",
        {**planned.payload, "lots": [*planned.payload["lots"], {"lot_id": "L2", "title": "IVR"}]},
        planned.occurred_at,
    )
    facts = [two_lots, LNVT_TENDER[1]]
    for lot, day in (("L2", 1), ("L1", 8)):
        facts.append(
            Fact(
                "LotCancelled",
                {"tender_id": TENDER, "lot_id": lot, "cancelled_on": f"2020-10-0{day}",
                 "reason": "no acceptable bids"},
                on(date(2020, 10, day)),
            )
        )  # fmt: skip
    # Every lot is cancelled already: the tender's cancellation names no lot.
    facts.append(
        Fact(
            "TenderCancelled",
            {"tender_id": TENDER, "cancelled_on": "2020-10-15", "reason": "budget", "lot_ids": []},
            on(date(2020, 10, 15)),
        )
    )
    tender = export(nats_server, tmp_path, {f"tender/{TENDER}": facts})["tender"]
    assert tender["status"] == "cancelled"
    assert [(x["id"], x["title"], x["status"]) for x in tender["lots"]] == [
        ("L1", "0800-2000 number and routing", "cancelled"),
        ("L2", "IVR", "cancelled"),
    ]


def test_the_contract_title_is_the_contracts_title_never_its_kind(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    untitled = Fact(
        "ContractSigned",
        {**SIGNED.payload, "contract_id": "C-UNTITLED"},
        SIGNED.occurred_at,
    )
    titled = Fact(
        "ContractSigned",
        {**SIGNED.payload, "contract_id": "C-TITLED", "title": "0800-2000 telephony contract"},
        SIGNED.occurred_at,
    )
    compiled = export(
        nats_server,
        tmp_path,
        {
            f"tender/{TENDER}": LNVT_TENDER,
            "contract/C-UNTITLED": [untitled],
            "contract/C-TITLED": [titled],
        },
    )
    titles = {c["id"]: c["title"] for c in compiled["contracts"]}
    assert titles == {
        "C-TITLED": "0800-2000 telephony contract",
        # No title signed: the tender's title and the lot's, not "framework".
        "C-UNTITLED": "0800-2000 Veilig Thuis telephony: 0800-2000 number and routing",
    }


def test_a_contract_without_a_tender_exports_as_its_own_process(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    inherited = Fact(
        "ContractSigned",
        {**SIGNED.payload, "contract_id": "INHERITED-1", "tender_id": None, "lot_ids": []},
        SIGNED.occurred_at,
    )
    export_facts(nats_server, {"contract/INHERITED-1": [inherited]})
    args = ["ocds", "export", "INHERITED-1", "--out", str(tmp_path), "--nats-url", nats_server.url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "INHERITED-1-records.json").read_text())
    assert errors(records, "record-package-schema.json") == []
    [rec] = records["records"]
    assert rec["ocid"].endswith("-INHERITED-1")
    assert [c["id"] for c in rec["compiledRelease"]["contracts"]] == ["INHERITED-1"]
    # Without GT_OCDS_URI_BASE the package names the file it was written to, which resolves.
    assert records["uri"] == (tmp_path / "INHERITED-1-records.json").resolve().as_uri()
    policy = tmp_path / "publication-policy.md"
    assert records["publicationPolicy"] == policy.resolve().as_uri()
    assert policy.read_text().startswith("# OCDS publication policy")


def export_facts(server: NatsServer, facts: dict[str, list[Fact]]) -> None:
    async def go() -> None:
        nc = await nats.connect(server.url)
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        store = EventStore(nc, clock)
        await store.ensure_stream(ENROLMENT)
        for aggregate, history in facts.items():
            context = ENROLMENT if aggregate.startswith(("organisation/", "call_off/")) else None
            if context is None:
                await record(store, clock, aggregate, spaced(history))
            else:
                await record(store, clock, aggregate, spaced(history), context=context)
        await nc.close()

    asyncio.run(go())


CALL_OFF = Fact(
    "CallOffAwarded",
    {"call_off_id": "CO-1", "framework_contract_id": CONTRACT, "tender_id": TENDER,
     "lot_id": "L1", "participant_code": "GM0363", "supplier_id": KPN,
     "awarded_on": "2021-02-01", "procedure": "direct", "start_date": "2021-03-01",
     "end_date": "2021-12-31", "value_eur": 5000},
    on(date(2021, 2, 1)),
)  # fmt: skip


@pytest.mark.parametrize("kind", ["jsonl", "releases", "records"])
def test_bulk_export_streams_every_process_of_the_register_valid(
    nats_server: NatsServer, tmp_path: Path, kind: str
) -> None:
    inherited = Fact(
        "ContractSigned",
        {**SIGNED.payload, "contract_id": "INHERITED-1", "tender_id": None, "lot_ids": []},
        SIGNED.occurred_at,
    )
    export_facts(
        nats_server,
        {
            f"organisation/{KPN}": REGISTERED,
            f"tender/{TENDER}": LNVT_TENDER,
            f"contract/{CONTRACT}": [SIGNED, AMENDED],
            "contract/INHERITED-1": [inherited],
            "call_off/CO-1": [CALL_OFF],
        },
    )
    args = ["ocds", "bulk", "--out", str(tmp_path), "--format", kind, "--nats-url",
            nats_server.url]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "of 2 processes" in result.output  # the tender (with its call-off), the contract
    if kind == "jsonl":
        lines = (tmp_path / "releases.jsonl").read_text().splitlines()
        found = [json.loads(line) for line in lines]
        assert all(errors(r, "release-schema.json") == [] for r in found)
        assert {r["ocid"] for r in found} == {ocid(TENDER), ocid("INHERITED-1"), ocid("CO-1")}
    elif kind == "releases":
        package = json.loads((tmp_path / "register-releases.json").read_text())
        assert errors(package, "release-package-schema.json") == []
        assert {r["ocid"] for r in package["releases"]} == {
            ocid(TENDER),
            ocid("INHERITED-1"),
            ocid("CO-1"),
        }
    else:
        package = json.loads((tmp_path / "register-records.json").read_text())
        assert errors(package, "record-package-schema.json") == []
        assert [r["ocid"] for r in package["records"]] == [
            ocid(TENDER),
            ocid("CO-1"),
            ocid("INHERITED-1"),
        ]
        [tender] = [r for r in package["records"] if r["ocid"] == ocid(TENDER)]
        [contract] = tender["compiledRelease"]["contracts"]
        assert contract["period"]["endDate"] == "2025-06-30T23:59:59+02:00"
