"""Who sees what: every role, a participant reaching for another organisation's data,
anonymous clients asking non-public fields, and abusive queries stopped by the limits."""

from __future__ import annotations

from tests.integration.gateway.harness import Gateway
from tests.integration.gateway.history import load_gt_mobile

ORGANISATION = """query($code: String!) { organisation(code: $code) {
  name participations { tenderId powerOfAttorneyRef } callOffs { callOffId valueEur } } }"""


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_anonymous_sees_public_facts_but_not_participations_or_the_log(
    gateway: Gateway,
) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    public = await gateway.query(
        '{ tender(tenderId: "gt-mc1") { title phase contracts { kind } } }'
    )
    assert "errors" not in public
    assert public["data"]["tender"]["contracts"] == [{"kind": "FRAMEWORK"}]

    private = await gateway.query(ORGANISATION, {"code": "GM0363"})
    assert private["data"]["organisation"]["name"] == "Amsterdam"
    assert private["data"]["organisation"]["participations"] is None
    assert codes(private) == ["FORBIDDEN", "FORBIDDEN"]
    assert "the participations of GM0363 is visible only" not in private["errors"][0]["message"]
    assert "sign in with a bearer token" in private["errors"][0]["message"]

    log = await gateway.query("{ events { totalCount } }")
    assert codes(log) == ["FORBIDDEN"]
    call_offs = await gateway.query("{ callOffs { totalCount } }")
    assert codes(call_offs) == ["FORBIDDEN"]


async def test_participant_sees_its_own_data_and_not_another_organisation_s(
    gateway: Gateway,
) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    amsterdam = gateway.token("participant", "GM0363")
    own = await gateway.query(ORGANISATION, {"code": "GM0363"}, token=amsterdam)
    assert "errors" not in own, own
    assert own["data"]["organisation"]["participations"] == [
        {"tenderId": "gt-mc1", "powerOfAttorneyRef": "poa-GM0363"}
    ]
    other = await gateway.query(ORGANISATION, {"code": "GM0518"}, token=amsterdam)
    assert other["data"]["organisation"]["participations"] is None
    assert codes(other) == ["FORBIDDEN", "FORBIDDEN"]
    assert "visible only to GM0518 itself" in other["errors"][0]["message"]

    # Lists are narrowed to its own rows; asking for another's explicitly is refused.
    framework = await gateway.query(
        '{ contract(contractId: "gt-mc1-framework") { callOffs { participantCode } } }',
        token=amsterdam,
    )
    assert framework["data"]["contract"]["callOffs"] == [{"participantCode": "GM0363"}]
    mine = await gateway.query("{ callOffs { nodes { participantCode } } }", token=amsterdam)
    assert mine["data"]["callOffs"]["nodes"] == [{"participantCode": "GM0363"}]
    theirs = await gateway.query(
        '{ callOffs(filter: {participantCode: "GM0518"}) { totalCount } }', token=amsterdam
    )
    assert codes(theirs) == ["FORBIDDEN"]
    events = await gateway.query("{ events { nodes { eventType } } }", token=amsterdam)
    assert {e["eventType"] for e in events["data"]["events"]["nodes"]} == {
        "OrganisationRegistered",
        "ParticipantEnrolled",
        "CallOffAwarded",
    }
    poa = await gateway.query(
        '{ tender(tenderId: "gt-mc1") { participants { organisationCode powerOfAttorneyRef } } }',
        token=amsterdam,
    )
    refs = {
        p["organisationCode"]: p["powerOfAttorneyRef"]
        for p in poa["data"]["tender"]["participants"]
    }
    # Another organisation's enrolments are not listed at all (issue 15, finding 6).
    assert refs == {"GM0363": "poa-GM0363"}
    assert "errors" not in poa


async def test_coordinator_and_auditor_see_everything(gateway: Gateway) -> None:
    await gateway.settle(await load_gt_mobile(gateway))
    for role in ("coordinator", "auditor"):
        body = await gateway.query(ORGANISATION, {"code": "GM0518"}, token=gateway.token(role))
        assert "errors" not in body, body
        assert body["data"]["organisation"]["callOffs"][0]["callOffId"] == "co-GM0518"
        log = await gateway.query("{ events { totalCount } }", token=gateway.token(role))
        assert log["data"]["events"]["totalCount"] == 17


async def test_mutations_by_role(gateway: Gateway) -> None:
    enrol = """mutation($i: EnrolParticipantInput!) { enrolParticipant(input: $i) {
      __typename ... on PermissionDenied { code message } } }"""
    variables = {
        "i": {
            "tenderId": "gt-mc1",
            "organisationCode": "GM0518",
            "lotIds": ["mobile"],
            "powerOfAttorneyRef": "poa",
        }
    }
    cases = {
        None: "EnrolParticipant needs a signed-in coordinator or participant",
        gateway.token("auditor"): "auditors are read-only and may not send EnrolParticipant",
        gateway.token("participant", "GM0363"): (
            "a participant may send EnrolParticipant only for itself (GM0363), not for GM0518"
        ),
    }
    for token, message in cases.items():
        body = await gateway.query(enrol, variables, token=token)
        assert body["data"]["enrolParticipant"] == {
            "__typename": "PermissionDenied",
            "code": "FORBIDDEN",
            "message": message,
        }
    plan = await gateway.query(
        """mutation { planProgramme(input: {programmeId: "X", name: "X", coordinator: "GM0363"}) { __typename ... on PermissionDenied { message } } }""",
        token=gateway.token("participant", "GM0363"),
    )
    assert plan["data"]["planProgramme"]["message"] == (
        "participants may not send PlanProgramme; ask a coordinator"
    )


async def test_bad_tokens_are_refused_with_a_reason(gateway: Gateway) -> None:
    expired = gateway.token("coordinator")[:-3] + "abc"
    body = await gateway.query("{ events { totalCount } }", token=expired)
    assert codes(body) == ["UNAUTHENTICATED"]
    assert "invalid bearer token" in body["errors"][0]["message"]
    response = await gateway.client.post(
        "/graphql",
        json={"query": "{ events { totalCount } }"},
        headers={"Authorization": "Basic x"},
    )
    assert response.json()["errors"][0]["message"] == (
        "the Authorization header must be 'Bearer <JWT>'"
    )


async def test_depth_alias_and_token_limits(gateway: Gateway) -> None:
    deep = (
        '{ tender(tenderId: "x") ' + "{ contracts { tender " * 6 + "{ title }" + " } }" * 6 + " }"
    )
    body = await gateway.query(deep)
    assert body["data"] is None
    # The cost model (each list x10 per level) refuses it before validation would.
    assert "cost exceeds 5000" in body["errors"][0]["message"]

    aliases = (
        "{ "
        + " ".join(f"a{i}: statistics {{ tendersByPhase {{ count }} }}" for i in range(20))
        + " }"
    )
    body = await gateway.query(aliases)
    assert "20 aliases found. Allowed: 15" in body["errors"][0]["message"]

    tokens = "{ " + " ".join("__typename" for _ in range(2100)) + " }"
    body = await gateway.query(tokens, token=gateway.token("coordinator"))
    assert "Document contains more than 2000 tokens" in body["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_bad_input_is_named(gateway: Gateway) -> None:
    # A read model broken behind the gateway's back: the client learns nothing of the SQL.
    with gateway.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE organisations_v2_organisations")
    body = await gateway.query('{ organisation(code: "GM0363") { name } }')
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "extensions" not in body["errors"][0]

    bad_id = await gateway.query('{ node(id: "not-base64!") { id } }')
    assert "cannot represent a GlobalID" in bad_id["errors"][0]["message"]
