"""A signed-in subject's commands are rated: `GT_COMMAND_BURST` at once, refilled at
`GT_COMMAND_RATE_PER_MINUTE`; beyond, a mutation is refused whole with RATE_LIMITED and
`retryAfterSeconds`, before any of its commands is sent; another subject is not affected.
Counted, not timed: the rate here refills one command in ~11 days. Before: one participant
token could send commands as fast as the gateway answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eventstore.memory import InMemoryEventStore
from gateway.auth import Principal, Role, issue_token
from gateway.command_rate import CommandRate
from gateway.settings import GatewaySettings
from tests.integration.gateway.harness import Gateway, start_memory_gateway
from tests.service.bus import InProcessBus

ENROL = """mutation($i: EnrolParticipantInput!) { enrolParticipant(input: $i) {
  __typename ... on DomainError { code } } }"""
TWICE = """mutation($i: EnrolParticipantInput!) {
  a: enrolParticipant(input: $i) { __typename } b: enrolParticipant(input: $i) { __typename } }"""
BURST = 3


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, bus: InProcessBus, tmp_path: Path
) -> AsyncIterator[Gateway]:
    g = await start_memory_gateway(
        store,
        f"sqlite:///{tmp_path / 'views.db'}",
        commands=bus,
        command_burst=BURST,
        command_rate_per_minute=0.0001,
    )
    try:
        yield g
    finally:
        await g.stop()


async def enrol(gateway: Gateway, org: str, text: str = ENROL) -> dict[str, Any]:
    token = issue_token(gateway.settings, Role.PARTICIPANT, f"user-{org}", organisation=org)
    given = {"tenderId": "t", "organisationCode": org, "lotIds": ["l"], "powerOfAttorneyRef": "V"}
    return await gateway.query(text, {"i": given}, token=token)


async def test_a_subject_beyond_its_burst_is_refused_with_retry_after(gateway: Gateway) -> None:
    for _ in range(BURST):
        answered = await enrol(gateway, "GM0363")
        assert "errors" not in answered, answered  # refused by the domain, but sent
    refused = await enrol(gateway, "GM0363")
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", refused
    assert error["extensions"]["retryAfterSeconds"] > 0, refused
    assert "retry after" in error["message"], refused
    assert refused["data"] is None  # refused before any resolver: nothing was sent
    # Another subject has its own bucket; two root fields take two commands at once.
    assert "errors" not in await enrol(gateway, "GM0518", TWICE)
    assert "errors" not in await enrol(gateway, "GM0518")
    again = await enrol(gateway, "GM0518", TWICE)
    assert again["errors"][0]["extensions"]["code"] == "RATE_LIMITED", again


# review14: root fields inside a fragment spread or an inline fragment on Mutation were one
# selection, charged as one command however many they held.
IN_FRAGMENTS = """mutation($i: EnrolParticipantInput!) { ...Two ... on Mutation {
  c: enrolParticipant(input: $i) { __typename } d: enrolParticipant(input: $i) { __typename } } }
fragment Two on Mutation {
  a: enrolParticipant(input: $i) { __typename } b: enrolParticipant(input: $i) { __typename } }"""


async def test_commands_in_fragments_count_each(gateway: Gateway) -> None:
    refused = await enrol(gateway, "GM0363", IN_FRAGMENTS)  # four commands against a burst of 3
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", refused
    assert "sends 4 commands" in error["message"], refused
    assert refused["data"] is None


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    settings = GatewaySettings(jwt_secret="x", command_burst=2, command_rate_per_minute=60)
    rate = CommandRate(settings, clock=lambda: now[0])
    who = Principal(Role.PARTICIPANT, "u", "GM0363", 1e12)
    assert rate.retry_after(who, 1) is None
    assert rate.retry_after(who, 1) is None
    assert rate.retry_after(who, 1) == pytest.approx(1.0)  # one a second
    now[0] = 0.5
    assert rate.retry_after(who, 1) == pytest.approx(0.5)
    now[0] = 1.0
    assert rate.retry_after(who, 1) is None
    assert rate.retry_after(who, 3) == float("inf")  # more than the burst: never
