"""Coordinator queries over the read models: relay nodes, keyset pages, filters, aggregates."""

from __future__ import annotations

from typing import Any

from tests.integration.gateway.harness import Gateway
from tests.integration.gateway.history import KPN, load_gt_mobile

TENDER = """
query($id: String!) {
  tender(tenderId: $id) {
    id title phase framework publishedOn
    programme { name }
    contractingAuthority { code name }
    lots { lotId title }
    enrolmentWindow { closesOn isFrozen }
    participants { organisationCode organisation { name } }
    contracts { contractId kind suppliers { name } }
  }
}
"""


async def test_a_tender_with_its_programme_lots_participants_and_framework(
    gateway: Gateway,
) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    body = await gateway.query(TENDER, {"id": "gt-mc1"}, token=gateway.token("coordinator"))
    assert "errors" not in body, body
    tender = body["data"]["tender"]
    assert tender["title"] == "GT Mobiele Communicatie 1"
    assert tender["phase"] == "PUBLISHED"
    assert tender["programme"] == {"name": "Gemeentelijke Telecommunicatie"}
    assert tender["enrolmentWindow"] == {"closesOn": "2015-05-31", "isFrozen": False}
    assert [p["organisationCode"] for p in tender["participants"]] == ["GM0363", "GM0518", "GM0599"]
    assert tender["participants"][0]["organisation"]["name"] == "Amsterdam"
    # The framework and the call-offs under it (contracts too, seen by a coordinator).
    kinds = {c["contractId"]: c["kind"] for c in tender["contracts"]}
    assert kinds == {
        "gt-mc1-framework": "FRAMEWORK",
        **{f"co-{code}": "CALL_OFF" for code in ("GM0363", "GM0518", "GM0599")},
    }
    framework = next(c for c in tender["contracts"] if c["kind"] == "FRAMEWORK")
    assert [s["name"] for s in framework["suppliers"]] == [
        "KPN",
        "Vodafone",
        "T-Mobile",
        "Tele2",
    ]  # by KvK number

    # The global id resolves through `node`.
    node = await gateway.query(
        "query($id: ID!) { node(id: $id) { ... on Tender { tenderId } } }", {"id": tender["id"]}
    )
    assert node["data"]["node"] == {"tenderId": "gt-mc1"}


async def test_keyset_pages_are_stable_and_counted(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    query = """
    query($after: String) {
      organisations(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { code } }
      }
    }"""
    seen, after = [], None
    while True:
        page = (await gateway.query(query, {"after": after}))["data"]["organisations"]
        assert page["totalCount"] == 6
        seen += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen)
    assert len(seen) == 6

    too_many = await gateway.query("{ organisations(first: 1000) { totalCount } }")
    assert too_many["errors"][0]["message"] == "`first` must be between 0 and 100; got 1000"
    bad_cursor = await gateway.query('{ organisations(after: "nonsense") { totalCount } }')
    assert "is not a cursor of this list" in bad_cursor["errors"][0]["message"]


async def test_contracts_by_kind_supplier_buyer_and_expiry(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    query = """
    query($f: ContractFilter) { contracts(filter: $f, orderBy: {field: END_DATE, direction: DESC}) {
      totalCount nodes { contractId kind endDate } } }"""
    by_supplier = await gateway.query(query, {"f": {"supplierId": KPN, "kind": ["FRAMEWORK"]}})
    assert [c["contractId"] for c in by_supplier["data"]["contracts"]["nodes"]] == [
        "gt-mc1-framework"
    ]
    # Enrolments are not public (issue 15, finding 6): matched for a coordinator only.
    coordinator = gateway.token("coordinator")
    by_participant = await gateway.query(query, {"f": {"buyer": "GM0518"}}, token=coordinator)
    # the framework it enrolled in, and its own call-off (visible to coordinators)
    assert by_participant["data"]["contracts"]["totalCount"] == 2
    not_a_participant = await gateway.query(query, {"f": {"buyer": "GM0772"}})
    assert not_a_participant["data"]["contracts"]["totalCount"] == 0

    expiring = await gateway.query(
        '{ expiringContracts(from: "2019-01-01", to: "2019-06-30") { nodes { contractId endDate } } }'
    )
    assert expiring["data"]["expiringContracts"]["nodes"] == [
        {"contractId": "gt-mc1-framework", "endDate": "2019-01-14"}
    ]
    outside = await gateway.query(
        '{ expiringContracts(from: "2020-01-01", to: "2020-12-31") { totalCount } }'
    )
    assert outside["data"]["expiringContracts"]["totalCount"] == 0


PAGE = """query($first: Int, $after: String, $f: ContractFilter) {
  contracts(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { %s } } } } %s"""
SHAPES = {
    "narrow": ("contractId kind contractingAuthorityCode endDate status", ""),
    "whole": (
        "contractId kind contractingAuthorityCode endDate status"
        " id title valueEur lotIds lawFindings { code } tender { tenderId }",
        "",
    ),
    "fragment": ("__typename ...N", "fragment N on Contract { contractId endDate }"),
}


async def read_pages(
    gateway: Gateway, shape: tuple[str, str], f: dict[str, Any], token: str | None
) -> list[dict[str, Any]]:
    """Every page of two, each as its totals and its edges (cursor and node) flattened."""
    after, seen = None, []
    for _ in range(10):
        body = await gateway.query(PAGE % shape, {"first": 2, "after": after, "f": f}, token=token)
        assert "errors" not in body, body
        found = body["data"]["contracts"]
        seen.append({k: v for k, v in found.items() if k != "edges"})
        seen += [{"cursor": e["cursor"], **e["node"]} for e in found["edges"]]
        after = found["pageInfo"]["endCursor"]
        if not found["pageInfo"]["hasNextPage"]:
            break
    return seen


def common(rows: list[dict[str, Any]], like: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with only the keys each row of `like` has."""
    return [{k: r[k] for k in other} for r, other in zip(rows, like, strict=True)]


async def test_a_page_selecting_some_fields_answers_as_one_selecting_all(
    gateway: Gateway,
) -> None:
    """A page whose nodes select only plain fields reads only their columns (and the
    cursor's); the same answers, cursors and pages as a page reading whole rows, for each
    role (a participant sees only its own call-offs)."""
    await gateway.settle(await load_gt_mobile(gateway))
    tokens = [None, gateway.token("coordinator"), gateway.token("participant", "GM0363")]
    for token in tokens:
        for f in ({}, {"supplierId": KPN}, {"buyer": "GM0363"}):
            pages = {name: await read_pages(gateway, s, f, token) for name, s in SHAPES.items()}
            narrow, fragment = pages["narrow"], pages["fragment"]
            assert len(narrow) > 1 or f.get("buyer"), (token, f)  # buyers: not for everyone
            assert common(pages["whole"], narrow) == narrow
            fragment_rows = [{k: v for k, v in r.items() if k != "__typename"} for r in fragment]
            assert common(narrow, fragment_rows) == fragment_rows
    expiring = await gateway.query(
        '{ expiringContracts(from: "2019-01-01", to: "2019-06-30") {'
        " edges { node { contractId kind status endDate contractingAuthorityCode } } } }"
    )
    assert expiring["data"]["expiringContracts"]["edges"] == [
        {
            "node": {
                "contractId": "gt-mc1-framework",
                "kind": "FRAMEWORK",
                "status": "ACTIVE",
                "endDate": "2019-01-14",
                "contractingAuthorityCode": "KVK-40409352",  # VNG, the buyer
            }
        }
    ]


async def test_tenders_by_phase_and_programme(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    query = "query($f: TenderFilter) { tenders(filter: $f) { totalCount nodes { tenderId } } }"
    published = await gateway.query(query, {"f": {"phase": ["PUBLISHED"], "programmeId": "GT"}})
    assert published["data"]["tenders"]["nodes"] == [{"tenderId": "gt-mc1"}]
    planned = await gateway.query(query, {"f": {"phase": ["PLANNED"]}})
    assert planned["data"]["tenders"]["totalCount"] == 0


async def test_aggregates_participation_counts_and_values(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    body = await gateway.query(
        """{ statistics {
            participationByProgramme { key participating municipalities rate }
            participationByProvince { key participating municipalities rate }
            tendersByPhase { key count }
            contractsByKind { key contracts totalValueEur } } }"""
    )
    stats = body["data"]["statistics"]
    assert stats["participationByProgramme"] == [
        {"key": "GT", "participating": 3, "municipalities": 5, "rate": 0.6}
    ]
    # Every province here is a small count: left out for the public (correct11), all there
    # for a coordinator.
    assert stats["participationByProvince"] == []
    everything = await gateway.query(
        "{ statistics { participationByProvince { key participating municipalities } } }",
        token=gateway.token("coordinator"),
    )
    provinces = {
        p["key"]: (p["participating"], p["municipalities"])
        for p in everything["data"]["statistics"]["participationByProvince"]
    }
    assert provinces == {
        "Noord-Brabant": (0, 1),
        "Noord-Holland": (1, 1),
        "Overijssel": (0, 1),
        "Zuid-Holland": (2, 2),
    }
    assert stats["tendersByPhase"] == [{"key": "published", "count": 1}]
    # Asked anonymously: the call-offs (contracts too) are their participants' to see.
    assert stats["contractsByKind"] == [
        {"key": "framework", "contracts": 1, "totalValueEur": "100000000.00"}
    ]
    coordinator = await gateway.query(
        "{ statistics { contractsByKind { key contracts totalValueEur } } }",
        token=gateway.token("coordinator"),
    )
    # 1,000,000 + 1,000,001 + 1,000,002 for the three call-offs.
    assert coordinator["data"]["statistics"]["contractsByKind"] == [
        {"key": "call_off", "contracts": 3, "totalValueEur": "3000003.00"},
        {"key": "framework", "contracts": 1, "totalValueEur": "100000000.00"},
    ]


async def test_a_framework_s_participants_and_call_offs(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    body = await gateway.query(
        """{ contract(contractId: "gt-mc1-framework") {
            participants { organisationCode }
            callOffs { callOffId participantCode supplier { name } } } }""",
        token=gateway.token("auditor"),
    )
    contract = body["data"]["contract"]
    assert len(contract["participants"]) == 3
    assert [(c["participantCode"], c["supplier"]["name"]) for c in contract["callOffs"]] == [
        ("GM0363", "KPN"),
        ("GM0518", "Vodafone"),
        ("GM0599", "KPN"),
    ]


NARROW = """{ contract(contractId: "gt-mc1-framework") {
    participants { organisationCode lotIds }
    callOffs { callOffId participantCode procedure } } }"""
WHOLE = """{ contract(contractId: "gt-mc1-framework") {
    participants { id organisationCode lotIds status enrolledOn frozen tenderId
                   organisation { code } }
    callOffs { id callOffId participantCode procedure awardedOn valueEur lotId
               supplier { name } } } }"""
FRAGMENTS = """{ contract(contractId: "gt-mc1-framework") {
    participants { ...P ... on Participant { status } }
    callOffs { __typename a: callOffId ...C } } }
fragment P on Participant { organisationCode lotIds enrolledOn }
fragment C on CallOff { participantCode startDate endDate }"""


async def test_a_list_selecting_some_fields_answers_as_one_selecting_all(
    gateway: Gateway,
) -> None:
    """Lists that select only plain fields read only their columns (selection.py); those
    that select more read whole rows. Either way the same answers, and the access rule on
    a participant's call-offs holds on both."""
    await gateway.settle(await load_gt_mobile(gateway))
    for token in (gateway.token("auditor"), gateway.token("participant", "GM0363")):
        narrow = (await gateway.query(NARROW, token=token))["data"]["contract"]
        whole = (await gateway.query(WHOLE, token=token))["data"]["contract"]
        fragments = await gateway.query(FRAGMENTS, token=token)
        assert "errors" not in fragments, fragments
        parts = fragments["data"]["contract"]
        for key in ("participants", "callOffs"):
            assert narrow[key], key
            assert len(narrow[key]) == len(whole[key]) == len(parts[key])
            pairs = zip(narrow[key], whole[key], strict=True)
            assert [{k: w[k] for k in n} for n, w in pairs] == narrow[key]
        assert [
            {k: w[k] for k in ("organisationCode", "lotIds", "enrolledOn", "status")}
            for w in whole["participants"]
        ] == parts["participants"]
        assert [
            {"__typename": "CallOff", "a": w["callOffId"], "participantCode": w["participantCode"]}
            for w in whole["callOffs"]
        ] == [{k: p[k] for k in ("__typename", "a", "participantCode")} for p in parts["callOffs"]]
        assert all(p["startDate"] and p["endDate"] for p in parts["callOffs"])
        assert all(w["enrolledOn"] and w["status"] == "ENROLLED" for w in whole["participants"])
    mine = await gateway.query(NARROW, token=gateway.token("participant", "GM0363"))
    assert mine["data"]["contract"]["callOffs"] == [
        {
            "callOffId": mine["data"]["contract"]["callOffs"][0]["callOffId"],
            "participantCode": "GM0363",
            "procedure": "MINI_COMPETITION",
        }
    ]


async def test_event_log_pages_and_filters(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    query = """query($f: EventFilter, $after: String) {
      events(filter: $f, first: 5, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { eventType aggregateId position } } }"""
    token = gateway.token("auditor")
    everything = await gateway.query(query, {}, token=token)
    assert everything["data"]["events"]["totalCount"] == 17
    second = await gateway.query(
        query, {"after": everything["data"]["events"]["pageInfo"]["endCursor"]}, token=token
    )
    first_positions = {e["position"] for e in everything["data"]["events"]["nodes"]}
    assert not first_positions & {e["position"] for e in second["data"]["events"]["nodes"]}
    amsterdam = await gateway.query(query, {"f": {"organisationCode": "GM0363"}}, token=token)
    assert {e["eventType"] for e in amsterdam["data"]["events"]["nodes"]} == {
        "OrganisationRegistered",
        "ParticipantEnrolled",
        "CallOffAwarded",
    }
