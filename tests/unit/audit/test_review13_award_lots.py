"""review13: a tender published without lots whose awards name two lots ("1" and "2") is
refused with the award's path, as before import10: mapping both awards onto the tender's one
implicit lot recorded the second (another supplier) as a revision of the first, and the first
award was lost without a word. One named lot (our own export's call-off names its framework's
lot) is still the implicit lot's: `tests/service/test_ocds_import_call_offs.py`."""

from __future__ import annotations

from typing import Any

import pytest

from audit.ocds.importer_map import ProcessState, Unmappable, map_release

BUYER, KPN, TELE2 = "71830960", "14052264", "27154391"


def party(kvk: str, name: str, role: str) -> dict[str, Any]:
    return {"id": f"NL-KVK-{kvk}", "name": name, "roles": [role],
            "identifier": {"scheme": "NL-KVK", "id": kvk}}  # fmt: skip


def award(award_id: str, lot: str, kvk: str, name: str) -> dict[str, Any]:
    return {"id": award_id, "status": "active", "date": "2024-03-01T00:00:00Z",
            "relatedLots": [lot], "suppliers": [{"id": f"NL-KVK-{kvk}", "name": name}]}  # fmt: skip


def release(*awards: dict[str, Any]) -> dict[str, Any]:
    return {
        "ocid": "ocds-x-1", "id": "r1", "date": "2024-03-01T10:00:00Z", "tag": ["award"],
        "parties": [party(BUYER, "Buyer", "buyer"), party(KPN, "KPN", "supplier"),
                    party(TELE2, "Tele2", "supplier")],
        "buyer": {"id": f"NL-KVK-{BUYER}", "name": "Buyer"},
        "tender": {"id": "t", "title": "Telefonie", "status": "active",
                   "procurementMethod": "open",
                   "tenderPeriod": {"startDate": "2024-01-01T00:00:00Z"}},
        "awards": list(awards),
    }  # fmt: skip


def test_awards_on_two_lots_of_a_tender_without_lots_are_refused_by_path() -> None:
    two = release(award("a1", "1", KPN, "KPN"), award("a2", "2", TELE2, "Tele2"))
    with pytest.raises(Unmappable, match=r"awards\[0\]\.relatedLots.*lot 1 is not a lot"):
        map_release(two, two, ProcessState(), "pub", None)


def test_an_award_naming_one_lot_of_a_tender_without_lots_is_its_one_lot() -> None:
    one = release(award("a1", "1", KPN, "KPN"))
    mapped = map_release(one, one, ProcessState(), "pub", None)
    awarded = [f.payload for f in mapped.tender.facts if f.event_type == "ProvisionalAwardDecided"]
    assert [a["lot_id"] for a in awarded] == ["lot-1"]
