"""user9: `audit ocds export <call-off id>` exports that call-off's own process.

A concluded call-off is a contract under its call-off id (README) and its own OCDS process
(docs/ocds.md), and `contract(contractId:)` answers it; but exporting it by that id was
refused ("no tender or contract ... known"): only its framework's tender exported it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from audit.bitemporal import Horizon
from audit.ocds.export import Register, UnknownProcess, packages, require
from audit.ocds.releases import ocid
from audit.ocds.schemas import errors
from tests.support.audit_facts import Fact, chain, on
from tests.unit.audit.test_ocds_export import MC1, NAMES, SUPPLIERS, facts_mc1, spaced

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CALL_OFF = "NOK-GM0363-1"


def register() -> Register:
    tender, window, contract = facts_mc1()
    awarded = Fact(
        "CallOffAwarded",
        {
            "call_off_id": CALL_OFF,
            "framework_contract_id": "MC1-FW",
            "tender_id": MC1,
            "lot_id": "L1",
            "participant_code": "GM0363",
            "supplier_id": SUPPLIERS[1],
            "awarded_on": "2016-01-20",
            "procedure": "direct",
            "start_date": "2016-02-01",
            "end_date": "2020-12-31",
        },
        on(date(2016, 1, 20)),
    )
    envelopes = (
        chain(f"tender/{MC1}", spaced(tender))
        + chain(f"enrolment_window/{MC1}", spaced(window), context="enrolment")
        + chain("contract/MC1-FW", spaced(contract))
        + chain(f"call_off/{CALL_OFF}", spaced([awarded]), context="enrolment")
    )
    return Register.of(Horizon(NOW, NOW), NAMES, envelopes)


def test_a_call_off_is_exported_by_its_own_id() -> None:
    at = Horizon(NOW, NOW)
    exported = require(register().export(CALL_OFF), at)
    [process] = exported.processes
    assert {r["ocid"] for r in process} == {ocid(CALL_OFF)}
    made = packages(exported, CALL_OFF, NOW)
    assert errors(made["release_package"], "release-package-schema.json") == []
    assert errors(made["record_package"], "record-package-schema.json") == []
    [record] = made["record_package"]["records"]
    assert record["ocid"] == ocid(CALL_OFF)


def test_its_framework_s_tender_still_exports_it_beside_the_tender() -> None:
    exported = register().export(MC1)
    assert [p[0]["ocid"] for p in exported.processes] == [ocid(MC1), ocid(CALL_OFF)]


def test_an_unknown_id_is_still_refused() -> None:
    with pytest.raises(UnknownProcess):
        require(register().export("NOPE"), Horizon(NOW, NOW))
