"""Regressions of issue 17: each defect an independent check of the OCDS export found, one
test each (the store-backed ones are in tests/integration/audit/test_ocds_from_store.py).

Every package built here is also checked against the 1.1.5 package schemas with the declared
extensions' patches applied.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ocdsmerge
import pytest

from audit.ocds import codes
from audit.ocds.extensions import EXTENSIONS, PATCHES, merge_patch
from audit.ocds.packages import OcdsSettings, Publication, record, record_package, release_package
from audit.ocds.releases import call_off_releases, ocid, process_releases
from audit.ocds.schemas import errors, patched_release_schema
from contracts_schema.registry.state import LotStatus, TenderPhase
from tests.support.audit_facts import KPN, LNVT, LNVT_TENDER, TENDER, Fact, chain, on

K = datetime(2026, 1, 15, 12, tzinfo=UTC)
CONTRACT = "LNVT-C1"
VODAFONE = "KVK-14053823"
PUBLICATION = Publication(OcdsSettings(), "https://ocds.example.org/gt")


def spaced(facts: list[Fact]) -> list[tuple[Fact, datetime]]:
    return [(f, K + timedelta(minutes=i)) for i, f in enumerate(facts)]


def signed(**changes: Any) -> Fact:
    payload = {
        "contract_id": CONTRACT,
        "kind": "contract",
        "tender_id": TENDER,
        "lot_ids": ["L1"],
        "contracting_authority": LNVT,
        "suppliers": [{"supplier_id": KPN, "name": "KPN B.V.", "lot_ids": ["L1"]}],
        "signed_on": "2020-12-15",
        "start_date": "2021-01-01",
        "end_date": "2024-12-31",
        "value_eur": 1000000,
    }
    return Fact("ContractSigned", payload | changes, on(date(2020, 12, 15)))


def releases(tender: list[Fact], contract: list[Fact] = (), window: list[Fact] = ()) -> list:
    envelopes = chain(f"tender/{TENDER}", spaced(tender))
    envelopes += chain(f"contract/{CONTRACT}", spaced(list(contract)))
    envelopes += chain(f"enrolment_window/{TENDER}", spaced(list(window)), context="enrolment")
    return process_releases(TENDER, envelopes, {})


def valid_record(processes: list[list]) -> list[dict]:
    """The record package of the processes, asserted valid; its compiled releases."""
    package = record_package(processes, "2026-01-15T12:00:00Z", "x", PUBLICATION)
    assert errors(package, "record-package-schema.json") == []
    flat = [r for p in processes for r in p]
    assert errors(release_package(flat, "2026-01-15T12:00:00Z", "x", PUBLICATION),
                  "release-package-schema.json") == []  # fmt: skip
    return [r["compiledRelease"] for r in package["records"]]


def compiled(tender: list[Fact], contract: list[Fact] = (), window: list[Fact] = ()) -> dict:
    [one] = valid_record([releases(tender, contract, window)])
    return one


def test_merging_is_ocdsmerges_and_leaves_its_input_alone() -> None:
    found = releases(LNVT_TENDER, [signed()])
    before = copy.deepcopy(found)
    merged = record(found)
    assert found == before
    merger = ocdsmerge.Merger(schema=patched_release_schema())
    assert merged["compiledRelease"] == merger.create_compiled_release(before)
    assert merged["versionedRelease"] == merger.create_versioned_release(before)


@pytest.mark.parametrize(
    ("contract", "status"),
    [
        ([], "complete"),  # awarded
        ([signed()], "complete"),
        (
            [
                signed(),
                Fact(
                    "ContractTerminated",
                    {"contract_id": CONTRACT, "terminated_on": "2022-01-31", "reason": "fraud"},
                    on(date(2022, 1, 31)),
                ),
            ],
            "complete",
        ),
    ],
)
def test_tender_status_is_complete_after_award_signing_and_termination(
    contract: list[Fact], status: str
) -> None:
    assert compiled(LNVT_TENDER, contract)["tender"]["status"] == status


def test_a_signed_contract_completes_a_lot_whose_award_was_never_made_definitive() -> None:
    provisional = LNVT_TENDER[:3]
    assert compiled(provisional)["tender"]["status"] == "active"
    after = compiled(provisional, [signed()])
    assert (after["tender"]["status"], after["tender"]["lots"][0]["status"]) == (
        "complete",
        "complete",
    )


def test_every_lot_cancelled_without_the_tender_is_unsuccessful() -> None:
    cancelled = Fact(
        "LotCancelled",
        {"tender_id": TENDER, "lot_id": "L1", "cancelled_on": "2020-10-01", "reason": "no bids"},
        on(date(2020, 10, 1)),
    )
    assert compiled([*LNVT_TENDER[:2], cancelled])["tender"]["status"] == "unsuccessful"
    assert codes.process_status(TenderPhase.CANCELLED, ["cancelled"]) == "cancelled"


def test_procurement_method_is_given_for_every_tender_procedure() -> None:
    for procedure in ("open", "restricted", "national", "negotiated_without_publication"):
        planned = Fact(
            "TenderPlanned",
            {**LNVT_TENDER[0].payload, "procedure": procedure},
            LNVT_TENDER[0].occurred_at,
        )
        tender = compiled([planned, *LNVT_TENDER[1:]])["tender"]
        assert tender["procurementMethod"] in {"open", "selective", "limited"}
        assert tender["procurementMethodDetails"] == procedure


def call_off(procedure: str, competition: bool = False) -> list:
    common = {"call_off_id": "CO-1", "framework_contract_id": "FW", "tender_id": TENDER,
              "lot_id": "L1", "participant_code": "GM0363"}  # fmt: skip
    facts = []
    if competition:
        facts.append(
            Fact(
                "MiniCompetitionStarted",
                {**common, "invited_supplier_ids": [KPN, VODAFONE], "started_on": "2021-03-01"},
                on(date(2021, 3, 1)),
            )
        )
    facts.append(
        Fact(
            "CallOffAwarded",
            {**common, "supplier_id": KPN, "awarded_on": "2021-04-01", "procedure": procedure,
             "start_date": "2021-05-01", "end_date": "2022-04-30", "value_eur": 25000},
            on(date(2021, 4, 1)),
        )
    )  # fmt: skip
    return call_off_releases(chain("call_off/CO-1", spaced(facts), context="enrolment"), {})


def test_a_direct_call_off_uses_the_direct_method() -> None:
    [one] = valid_record([call_off("direct")])
    assert one["tender"]["procurementMethod"] == "direct"
    assert codes.CALL_OFF_METHOD["direct"] == "direct"


def test_a_mini_competition_is_its_own_process_from_its_invitation() -> None:
    found = call_off("mini_competition", competition=True)
    assert [r["tag"] for r in found] == [["tender"], ["award", "contract"]]
    [one] = valid_record([found])
    assert one["ocid"] == ocid("CO-1")
    assert one["tender"]["procurementMethod"] == "selective"
    assert [t["id"] for t in one["tender"]["tenderers"]] == [KPN, VODAFONE]
    assert one["relatedProcesses"][0]["relationship"] == ["framework"]
    assert one["awards"][0]["value"] == {"amount": 25000, "currency": "EUR"}


def test_parties_have_identifiers_with_scheme_and_id() -> None:
    parties = {
        p["id"]: p for p in compiled(LNVT_TENDER, [signed(paying_agent="GM0518")])["parties"]
    }
    assert parties[KPN]["identifier"] == {"scheme": "NL-KVK", "id": "27124701",
                                          "legalName": "KPN B.V."}  # fmt: skip
    assert parties[LNVT]["identifier"]["scheme"] == "NL-KVK"
    assert parties["GM0518"]["identifier"] == {"scheme": "NL-CBS-GM", "id": "GM0518"}


def test_a_supplier_is_named_by_its_name_before_its_contract_is_signed() -> None:
    found = releases(LNVT_TENDER, [signed()])
    award = next(r for r in found if "award" in r["tag"])
    assert award["awards"][0]["suppliers"] == [{"id": KPN, "name": "KPN B.V."}]
    assert {p["name"] for p in award["parties"] if p["id"] == KPN} == {"KPN B.V."}


def test_roles_shrink_when_a_revised_award_drops_a_supplier() -> None:
    decided = Fact(
        "ProvisionalAwardDecided",
        {**LNVT_TENDER[2].payload, "supplier_ids": [KPN, VODAFONE]},
        LNVT_TENDER[2].occurred_at,
    )
    revised = Fact(
        "ProvisionalAwardRevised",
        {"tender_id": TENDER, "lot_id": "L1", "previous_supplier_ids": [KPN, VODAFONE],
         "supplier_ids": [KPN], "decision_sent_on": "2020-11-20",
         "standstill_ends_on": "2020-12-10", "reason": "objection upheld"},
        on(date(2020, 11, 20)),
    )  # fmt: skip
    parties = {
        p["id"]: p["roles"] for p in compiled([*LNVT_TENDER[:2], decided, revised])["parties"]
    }
    assert parties[VODAFONE] == ["tenderer"]
    assert parties[KPN] == ["tenderer", "supplier"]


def test_date_only_end_dates_end_at_the_end_of_that_dutch_day() -> None:
    [contract] = compiled(LNVT_TENDER, [signed(max_extent_date="2026-06-30")])["contracts"]
    assert contract["period"] == {
        "startDate": "2021-01-01T00:00:00+01:00",
        "endDate": "2024-12-31T23:59:59+01:00",
        "maxExtentDate": "2026-06-30T23:59:59+02:00",
    }


def test_packages_declare_their_extensions_and_publication_from_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GT_OCDS_URI_BASE", "https://data.example.nl/ocds/")
    monkeypatch.setenv("GT_OCDS_PUBLISHER_NAME", "Gemeente Voorbeeld")
    monkeypatch.setenv("GT_OCDS_PUBLISHER_SCHEME", "NL-KVK")
    monkeypatch.setenv("GT_OCDS_PUBLISHER_UID", "12345678")
    monkeypatch.setenv("GT_OCDS_LICENSE", "https://creativecommons.org/licenses/by/4.0/")
    how = Publication.configured()
    package = release_package(releases(LNVT_TENDER), "2026-01-15T12:00:00Z", TENDER, how)
    assert package["uri"] == f"https://data.example.nl/ocds/{TENDER}-releases.json"
    assert package["publisher"] == {"name": "Gemeente Voorbeeld", "scheme": "NL-KVK",
                                    "uid": "12345678"}  # fmt: skip
    assert package["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert package["publicationPolicy"] == "https://data.example.nl/ocds/publication-policy.md"
    assert package["extensions"] == list(EXTENSIONS)
    assert all(e.startswith("https://raw.githubusercontent.com/open-contracting-extensions/")
               and e.endswith("/extension.json") for e in EXTENSIONS)  # fmt: skip
    assert errors(package, "release-package-schema.json") == []


def test_extension_fields_are_validated_with_the_patches_applied() -> None:
    package = release_package(releases(LNVT_TENDER), "2026-01-15T12:00:00Z", "x", PUBLICATION)
    package["releases"][0]["tender"]["lots"][0]["status"] = "provisional"
    package["releases"][0]["tender"]["techniques"]["hasFrameworkAgreement"] = "no"
    found = errors(package, "release-package-schema.json")
    assert any("lots/0/status" in e for e in found), found
    assert any("hasFrameworkAgreement" in e for e in found), found
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }
    assert set(PATCHES) == set(EXTENSIONS)


def test_what_the_registry_knows_is_published() -> None:
    bids = Fact(
        "BidsRecorded",
        {"tender_id": TENDER, "lot_id": "L1", "received_on": "2020-10-20", "bid_count": 3},
        on(date(2020, 10, 20)),
    )
    window = [
        Fact(
            "EnrolmentWindowOpened",
            {"tender_id": TENDER, "lot_ids": ["L1"], "opens_on": "2020-08-21",
             "closes_on": "2020-09-15"},
            on(date(2020, 8, 21)),
        )
    ]  # fmt: skip
    framework = signed(kind="framework", duration_rationale="Six years to migrate 283 bodies.")
    result = compiled([*LNVT_TENDER[:2], bids, *LNVT_TENDER[2:]], [framework], window)
    tender = result["tender"]
    assert tender["numberOfTenderers"] == 3
    assert result["bids"]["statistics"] == [
        {"id": "L1-bids", "measure": "bids", "value": 3, "date": "2020-10-20T00:00:00+02:00",
         "relatedLot": "L1"}
    ]  # fmt: skip
    assert tender["tenderPeriod"] == {"startDate": "2020-08-21T00:00:00+02:00",
                                      "endDate": "2020-09-15T23:59:59+02:00"}  # fmt: skip
    assert tender["techniques"]["frameworkAgreement"] == {
        "periodRationale": "Six years to migrate 283 bodies."
    }
    [award] = result["awards"]
    assert award["value"] == {"amount": 1000000, "currency": "EUR"}
    assert "description" not in award  # the standstill note ends with the definitive award


def test_a_contract_without_a_tender_is_its_own_process() -> None:
    inherited = signed(contract_id="OLD-1", tender_id=None, lot_ids=[], title="Inherited")
    found = process_releases("OLD-1", chain("contract/OLD-1", spaced([inherited])), {})
    [one] = valid_record([found])
    assert one["ocid"] == ocid("OLD-1")
    assert one["buyer"] == {"id": LNVT, "name": LNVT}
    [contract] = one["contracts"]
    assert (contract["title"], contract["status"]) == ("Inherited", "active")
    assert [a["id"] for a in one["awards"]] == [contract["awardID"]]


def test_lot_codes_cover_signing() -> None:
    assert codes.lot_status(LotStatus.PROVISIONALLY_AWARDED, TenderPhase.PROVISIONALLY_AWARDED,
                            signed=True) == "complete"  # fmt: skip
    assert codes.lot_status(LotStatus.OPEN, TenderPhase.PUBLISHED, signed=True) == "active"
