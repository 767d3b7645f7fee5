"""OCDS 1.1.5 export: valid packages, the framework mapping, codes from the fold enums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from audit.ocds import codes
from audit.ocds.packages import (
    OcdsSettings,
    Publication,
    record,
    record_package,
    release_package,
)
from audit.ocds.releases import IGNORED, MAPPERS, call_off_release, ocid, process_releases
from audit.ocds.schemas import errors, schema
from contracts_schema.folds import FOLDS
from contracts_schema.registry.state import ContractStatus, LotStatus, TenderPhase
from tests.support.audit_facts import KPN, LNVT_TENDER, RECORDED, TENDER, Fact, chain, on

K = datetime(2024, 3, 1, tzinfo=UTC)
PUBLICATION = Publication(OcdsSettings(), "https://ocds.example.org/gt")
MC1, MC2 = "GT-MC1", "GT-MC2"
SUPPLIERS = ["KVK-27124701", "KVK-14053823", "KVK-20035422", "KVK-14052498"]
NAMES = {
    "GM0363": "Amsterdam",
    "GM0518": "'s-Gravenhage",
    "KVK-27124701": "KPN",
    "KVK-70000002": "KING",
}


def facts_mc1() -> tuple[list, list, list]:
    tender = [
        Fact(
            "TenderPlanned",
            {
                "tender_id": MC1,
                "title": "GT Mobiele Communicatie 1",
                "contracting_authority": "KVK-70000002",
                "procedure": "restricted",
                "framework": True,
                "lots": [{"lot_id": "L1", "title": "Mobile"}],
                "planned_on": "2015-01-15",
            },
            on(date(2015, 1, 15)),
        ),
        Fact(
            "TenderPublished",
            {
                "tender_id": MC1,
                "published_on": "2015-06-10",
                "notice_reference": "TN-MC1",
                "participant_list_frozen_on": "2015-05-31",
            },
            on(date(2015, 6, 10)),
        ),
        Fact(
            "TenderCorrected",
            {"tender_id": MC1, "corrected_on": "2015-06-20", "summary": "Lot 1 volume corrected"},
            on(date(2015, 6, 20)),
        ),
        Fact(
            "ProvisionalAwardDecided",
            {
                "tender_id": MC1,
                "lot_id": "L1",
                "supplier_ids": SUPPLIERS[:3],
                "decision_sent_on": "2015-10-01",
                "standstill_ends_on": "2015-10-21",
            },
            on(date(2015, 10, 1)),
        ),
        # Reconsidered: a revised decision adds the fourth supplier.
        Fact(
            "ProvisionalAwardRevised",
            {
                "tender_id": MC1,
                "lot_id": "L1",
                "previous_supplier_ids": SUPPLIERS[:3],
                "supplier_ids": SUPPLIERS,
                "decision_sent_on": "2015-10-20",
                "standstill_ends_on": "2015-11-09",
                "reason": "re-evaluation after objections",
            },
            on(date(2015, 10, 20)),
        ),
        Fact(
            "AwardMadeDefinitive",
            {
                "tender_id": MC1,
                "lot_id": "L1",
                "supplier_ids": SUPPLIERS,
                "awarded_on": "2015-11-20",
            },
            on(date(2015, 11, 20)),
        ),
    ]
    window = [
        Fact(
            "EnrolmentWindowOpened",
            {
                "tender_id": MC1,
                "lot_ids": ["L1"],
                "opens_on": "2015-01-20",
                "closes_on": "2015-05-31",
            },
            on(date(2015, 1, 20)),
        ),
        Fact(
            "ParticipantListFrozen",
            {
                "tender_id": MC1,
                "frozen_on": "2015-05-31",
                "participants": [
                    {"organisation_code": "GM0363", "lot_ids": ["L1"]},
                    {"organisation_code": "GM0518", "lot_ids": ["L1"]},
                ],
            },
            on(date(2015, 5, 31)),
        ),
    ]
    contract = [
        Fact(
            "ContractSigned",
            {
                "contract_id": "MC1-FW",
                "kind": "framework",
                "tender_id": MC1,
                "lot_ids": ["L1"],
                "contracting_authority": "KVK-70000002",
                "suppliers": [
                    {"supplier_id": s, "name": f"Supplier {s}", "lot_ids": ["L1"]}
                    for s in SUPPLIERS
                ],
                "signed_on": "2015-12-01",
                "start_date": "2016-01-01",
                "end_date": "2019-12-31",
                "max_extent_date": "2021-12-31",
                "value_eur": 100000000,
            },
            on(date(2015, 12, 1)),
        ),
        Fact(
            "ContractExtended",
            {
                "contract_id": "MC1-FW",
                "new_end_date": "2020-12-31",
                "previous_end_date": "2019-12-31",
                "extended_on": "2019-06-01",
            },
            on(date(2019, 6, 1)),
        ),
        Fact(
            "ContractTransferred",
            {
                "contract_id": "MC1-FW",
                "from_authority": "KVK-70000002",
                "to_authority": "KVK-70000003",
                "paying_agent": "GM0518",
                "transferred_on": "2019-07-01",
            },
            on(date(2019, 7, 1)),
        ),
        Fact(
            "ContractExpired",
            {"contract_id": "MC1-FW", "expired_on": "2020-12-31"},
            on(date(2020, 12, 31)),
        ),
    ]
    return tender, window, contract


def spaced(facts: list, start: datetime = K) -> list:
    return [(f, start + timedelta(minutes=i)) for i, f in enumerate(facts)]


def mc1_releases() -> list:
    tender, window, contract = facts_mc1()
    envelopes = (
        chain(f"tender/{MC1}", spaced(tender))
        + chain(f"enrolment_window/{MC1}", spaced(window), context="enrolment")
        + chain("contract/MC1-FW", spaced(contract))
    )
    successor = chain(
        f"enrolment_window/{MC2}",
        spaced(
            [
                Fact(
                    "EnrolmentWindowOpened",
                    {
                        "tender_id": MC2,
                        "lot_ids": ["L1"],
                        "opens_on": "2016-03-01",
                        "closes_on": "2016-05-01",
                        "previous_round_tender_id": MC1,
                    },
                    on(date(2016, 3, 1)),
                )
            ]
        ),
        context="enrolment",
    )
    return process_releases(MC1, envelopes, NAMES, successor)


def call_off() -> dict | None:
    fact = Fact(
        "CallOffAwarded",
        {
            "call_off_id": "NOK-GM0363-1",
            "framework_contract_id": "MC1-FW",
            "tender_id": MC1,
            "lot_id": "L1",
            "participant_code": "GM0363",
            "supplier_id": SUPPLIERS[1],
            "awarded_on": "2016-01-20",
            "procedure": "mini_competition",
            "start_date": "2016-02-01",
            "end_date": "2020-12-31",
            "value_eur": 2500000,
        },
        on(date(2016, 1, 20)),
    )
    return call_off_release(
        chain("call_off/NOK-GM0363-1", spaced([fact]), context="enrolment"), NAMES
    )


def lnvt_releases() -> list:
    return process_releases(
        TENDER, chain(f"tender/{TENDER}", [(f, RECORDED) for f in LNVT_TENDER]), {}
    )


def compiled(releases: list) -> dict:
    return record(releases)["compiledRelease"]


@pytest.mark.parametrize(
    "processes", [lambda: [mc1_releases(), [call_off()]], lambda: [lnvt_releases()]]
)
def test_packages_validate_against_ocds_1_1_5(processes) -> None:
    built = processes()
    releases = release_package(
        [r for p in built for r in p], "2026-01-15T12:00:00Z", "x", PUBLICATION
    )
    records = record_package(built, "2026-01-15T12:00:00Z", "x", PUBLICATION)
    assert errors(releases, "release-package-schema.json") == []
    assert errors(records, "record-package-schema.json") == []


def test_an_invalid_package_is_reported_with_the_path() -> None:
    broken = release_package(lnvt_releases(), "2026-01-15T12:00:00Z", "x", PUBLICATION)
    broken["releases"][2]["awards"][0]["status"] = "provisional"
    assert any(
        e.startswith("releases/2/awards/0/status:")
        for e in errors(broken, "release-package-schema.json")
    )


def test_every_event_of_a_process_is_mapped_or_ignored_on_purpose() -> None:
    read = ("tender", "contract", "enrolment_window")
    events = {m for (_, kind), f in FOLDS.items() if kind in read for m in f.events}
    assert events - MAPPERS.keys() - IGNORED == set()
    assert MAPPERS.keys() & IGNORED == set()


def test_every_fold_enum_value_has_its_ocds_code() -> None:
    statuses = set(
        schema("release-schema.json")["definitions"]["Tender"]["properties"]["status"]["enum"]
    )
    assert {codes.tender_status(p) for p in TenderPhase} <= statuses
    assert {codes.lot_status(s, p) for s in LotStatus for p in TenderPhase} <= statuses
    assert {codes.contract_status(s) for s in ContractStatus} == {"active", "terminated"}
    assert codes.award_status(LotStatus.PROVISIONALLY_AWARDED) == "pending"


def test_one_release_per_relevant_event_with_tags_from_the_domain_mapping() -> None:
    # The window opening gives the tender period (the enrolment window).
    assert [r["tag"][0] for r in mc1_releases()] == [
        "planning",
        "planningUpdate",
        "planningUpdate",
        "tender",
        "tenderAmendment",
        "award",
        "awardUpdate",
        "awardUpdate",
        "contract",
        "tenderUpdate",
        "contractAmendment",
        "contractAmendment",
        "contractTermination",
    ]


def test_framework_mapping_follows_the_ocds_framework_guidance() -> None:
    compiled = record(mc1_releases())["compiledRelease"]
    assert compiled["tender"]["techniques"] == {"hasFrameworkAgreement": True}
    buyers = {p["id"] for p in compiled["parties"] if "buyer" in p["roles"]}
    assert {"GM0363", "GM0518"} <= buyers
    assert [(p["relationship"], p["identifier"]) for p in compiled["relatedProcesses"]] == [
        (["replacementProcess"], ocid(MC2))
    ]
    awards = {a["id"]: a["status"] for a in compiled["awards"]}
    assert awards == {"L1-award-1": "cancelled", "L1-award-2": "active"}
    contract = compiled["contracts"][0]
    assert contract["period"]["maxExtentDate"].startswith("2021-12-31")
    assert contract["period"]["endDate"].startswith("2020-12-31")
    assert (contract["status"], contract["statusDetails"]) == ("terminated", "expired")
    assert contract["awardID"] == "L1-award-2"


def test_a_call_off_is_its_own_process_linked_to_its_framework() -> None:
    release = call_off()
    assert release["ocid"] == ocid("NOK-GM0363-1")
    assert release["relatedProcesses"] == [
        {
            "id": "framework",
            "relationship": ["framework"],
            "scheme": "ocid",
            "identifier": ocid(MC1),
        }
    ]
    assert release["buyer"] == {"id": "GM0363", "name": "Amsterdam"}


def test_lnvt_award_is_pending_during_standstill_then_active() -> None:
    releases = lnvt_releases()
    assert compiled(releases[:3])["awards"][0]["status"] == "pending"
    final = compiled(releases)["awards"][0]
    assert (final["status"], final["suppliers"]) == ("active", [{"id": KPN, "name": KPN}])
