"""attack10: a call-off command on another participant's call-off id names nothing of it.

Participants read only their own call-offs (`callOffs`, `contract`, the event log). Yet any
participant could send `awardCallOff` for itself under another's call-off id and be told, in
the refusal, that call-off's supplier and day ("call-off co-GM0518 was already awarded to
KVK-14052264 on 2016-03-01"), or for a mini-competition its holder, framework and lot
("... was held by GM0518 under framework gt-mc1-framework lot mobile"). Now such an id is
refused as taken by another participant, with the same code as before and no detail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eventstore.clock import FixedClock
from eventstore.memory import InMemoryEventStore
from tests.integration.gateway.harness import Gateway
from tests.integration.gateway.history import KPN, TELE2
from tests.service.gateways import gateway_of_every_service

AWARD = """mutation($i: AwardCallOffInput!) { awardCallOff(input: $i) {
  __typename ... on DomainError { code message } } }"""


@pytest.fixture
async def gateway(
    store: InMemoryEventStore, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    async with gateway_of_every_service(store, clock, tmp_path, demo=True) as g:
        for code, name in ((KPN, "KPN"), (TELE2, "Tele2")):
            await g.given(
                "organisation",
                "OrganisationRegistered",
                {"code": code, "name": name, "kind": "supplier", "province": None},
            )
        started = await g.given(
            "call_off",
            "MiniCompetitionStarted",
            {
                "call_off_id": "mc-hague",
                "framework_contract_id": "gt-mc1-framework",
                "tender_id": "gt-mc1",
                "lot_id": "mobile",
                "participant_code": "GM0518",
                "invited_supplier_ids": [KPN, TELE2],
                "started_on": "2016-05-02",
            },
            on=date(2016, 5, 2),
        )
        await g.settle(started)
        yield g


def award(call_off_id: str, procedure: str) -> dict[str, Any]:
    return {
        "i": {
            "callOffId": call_off_id,
            "frameworkContractId": "gt-mc1-framework",
            "lotId": "mobile",
            "participantCode": "GM0363",
            "supplierId": KPN,
            "procedure": procedure,
            "awardedOn": "2016-06-01",
            "startDate": "2016-07-01",
            "endDate": "2017-06-30",
        }
    }


def refusal(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"][field]
    assert answer["__typename"] == "DomainError", answer
    return answer


@pytest.mark.parametrize(
    ("call_off_id", "procedure", "code", "secrets"),
    [
        # One code for both: whether another's call-off was awarded is not told (review13).
        ("co-GM0518", "DIRECT", "CALL_OFF_ALREADY_STARTED", ["KVK-14052264", "2016-03"]),
        (
            "mc-hague",
            "MINI_COMPETITION",
            "CALL_OFF_ALREADY_STARTED",
            ["GM0518", "gt-mc1-framework", "lot mobile"],
        ),
    ],
    ids=["awarded", "mini-competition"],
)
async def test_another_participant_s_call_off_is_refused_naming_nothing_of_it(
    gateway: Gateway, call_off_id: str, procedure: str, code: str, secrets: list[str]
) -> None:
    amsterdam = gateway.token("participant", "GM0363")
    answer = refusal(
        await gateway.query(AWARD, award(call_off_id, procedure), token=amsterdam), "awardCallOff"
    )
    assert answer["code"] == code, answer
    assert "another participant's" in answer["message"], answer
    for secret in secrets:
        assert secret not in answer["message"], answer
    # Its own call-off under that id is refused the same way, with its own details (the
    # holder sees them anyway).
    own = refusal(
        await gateway.query(
            AWARD,
            {"i": {**award(call_off_id, procedure)["i"], "participantCode": "GM0518"}},
            token=gateway.token("participant", "GM0518"),
        ),
        "awardCallOff",
    )
    assert "another participant's" not in own["message"], own
