"""A small history from DOMAIN.md facts, given as stored events (the services' output)."""

from __future__ import annotations

from datetime import date

from eventstore.store import StoredEvent
from tests.integration.gateway.harness import Gateway

MUNICIPALITIES = [
    ("GM0363", "Amsterdam", "Noord-Holland"),
    ("GM0518", "'s-Gravenhage", "Zuid-Holland"),
    ("GM0599", "Rotterdam", "Zuid-Holland"),
    ("GM0772", "Eindhoven", "Noord-Brabant"),
    ("GM1896", "Zwartewaterland", "Overijssel"),
]
KPN, TELE2, VODAFONE, TMOBILE = "KVK-02045200", "KVK-33292243", "KVK-14052264", "KVK-14055944"
VNG = "KVK-40409352"


async def sign_c1(g: Gateway) -> list[StoredEvent]:
    """A contract c1 (no tender) of VNG with KPN, signed 2016-01-01: to amend, EUR 1,000."""
    return await g.given(
        "contract",
        "ContractSigned",
        {
            "contract_id": "c1",
            "kind": "contract",
            "contracting_authority": VNG,
            "suppliers": [{"supplier_id": KPN, "name": "KPN", "lot_ids": []}],
            "signed_on": "2016-01-01",
            "start_date": "2016-01-01",
            "end_date": "2019-01-14",
            "value_eur": 1000,
        },
        on=date(2016, 1, 1),
    )


async def load_gt_mobile(g: Gateway) -> list[StoredEvent]:
    """GT Mobiele Communicatie 1: a framework with four suppliers and call-offs."""
    stored: list[StoredEvent] = []
    for code, name, province in MUNICIPALITIES:
        stored += await g.given(
            "organisation",
            "OrganisationRegistered",
            {"code": code, "name": name, "kind": "municipality", "province": province},
        )
    stored += await g.given(
        "organisation",
        "OrganisationRegistered",
        {"code": VNG, "name": "VNG", "kind": "association", "province": None},
    )
    stored += await g.given(
        "programme",
        "ProgrammePlanned",
        {
            "programme_id": "GT",
            "name": "Gemeentelijke Telecommunicatie",
            "coordinator": VNG,
            "planned_on": "2015-01-01",
        },
    )
    stored += await g.given(
        "tender",
        "TenderPlanned",
        {
            "tender_id": "gt-mc1",
            "programme_id": "GT",
            "title": "GT Mobiele Communicatie 1",
            "contracting_authority": VNG,
            "procedure": "open",
            "framework": True,
            "lots": [{"lot_id": "mobile", "title": "Mobiele communicatie"}],
            "planned_on": "2015-01-15",
        },
        on=date(2015, 1, 15),
    )
    stored += await g.given(
        "enrolment_window",
        "EnrolmentWindowOpened",
        {
            "tender_id": "gt-mc1",
            "lot_ids": ["mobile"],
            "opens_on": "2015-02-01",
            "closes_on": "2015-05-31",
        },
        on=date(2015, 2, 1),
    )
    for code in ("GM0363", "GM0518", "GM0599"):
        stored += await g.given(
            "enrolment_window",
            "ParticipantEnrolled",
            {
                "tender_id": "gt-mc1",
                "organisation_code": code,
                "lot_ids": ["mobile"],
                "power_of_attorney_ref": f"poa-{code}",
                "enrolled_on": "2015-03-01",
            },
            on=date(2015, 3, 1),
        )
    stored += await g.given(
        "tender",
        "TenderPublished",
        {
            "tender_id": "gt-mc1",
            "published_on": "2015-06-15",
            "notice_reference": "TN-2015-1",
            "participant_list_frozen_on": "2015-05-31",
        },
    )
    stored += await g.given(
        "contract",
        "ContractSigned",
        {
            "contract_id": "gt-mc1-framework",
            "kind": "framework",
            "tender_id": "gt-mc1",
            "lot_ids": ["mobile"],
            "contracting_authority": VNG,
            "suppliers": [
                {"supplier_id": s, "name": n, "lot_ids": ["mobile"]}
                for s, n in (
                    (KPN, "KPN"),
                    (TELE2, "Tele2"),
                    (TMOBILE, "T-Mobile"),
                    (VODAFONE, "Vodafone"),
                )
            ],
            "signed_on": "2015-12-01",
            "start_date": "2016-01-15",
            "end_date": "2019-01-14",
            "max_extent_date": "2022-01-14",
            "value_eur": 100000000,
        },
    )
    for i, (code, supplier) in enumerate((("GM0363", KPN), ("GM0518", VODAFONE), ("GM0599", KPN))):
        stored += await g.given(
            "call_off",
            "CallOffAwarded",
            {
                "call_off_id": f"co-{code}",
                "framework_contract_id": "gt-mc1-framework",
                "tender_id": "gt-mc1",
                "lot_id": "mobile",
                "participant_code": code,
                "supplier_id": supplier,
                "awarded_on": f"2016-0{i + 2}-01",
                "procedure": "mini_competition",
                "start_date": "2016-03-01",
                "end_date": "2019-02-28",
                "value_eur": 1000000 + i,
            },
        )
    return stored
