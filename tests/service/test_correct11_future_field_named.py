"""VALID_TIME_IN_FUTURE names the field the caller sent: `enrolledOn` (deprecated, still
accepted) or `occurredAt`. Before: it always named `occurred_at`, a field a caller who sent
enrolledOn never wrote (the day field sets the valid time to that day's start)."""

from __future__ import annotations

from typing import Any

from tests.integration.gateway.harness import Gateway

ENROL = """mutation($i: EnrolParticipantInput!) { enrolParticipant(input: $i) {
  __typename ... on DomainError { code message } } }"""
GIVEN = {
    "tenderId": "gt-connect",
    "organisationCode": "GM0363",
    "lotIds": ["voice"],
    "powerOfAttorneyRef": "VOL-1",
}


async def enrol(gateway: Gateway, **valid_time: str) -> dict[str, Any]:
    body = await gateway.query(
        ENROL, {"i": {**GIVEN, **valid_time}}, token=gateway.token("coordinator")
    )
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"]["enrolParticipant"]
    assert answer["code"] == "VALID_TIME_IN_FUTURE", answer
    return answer


async def test_the_refusal_names_the_day_field_the_caller_sent(gateway: Gateway) -> None:
    refused = await enrol(gateway, enrolledOn="2030-01-01")
    assert refused["message"].startswith(
        "enrolled_on (enrolledOn in GraphQL) 2030-01-01 lies in the future"
    ), refused
    assert "occurred_at" not in refused["message"]


async def test_the_refusal_names_occurred_at_when_the_caller_sent_it(gateway: Gateway) -> None:
    refused = await enrol(gateway, occurredAt="2030-01-01T09:00:00Z")
    assert refused["message"].startswith(
        "occurred_at (occurredAt in GraphQL) 2030-01-01T09:00:00+00:00 lies in the future"
    ), refused
