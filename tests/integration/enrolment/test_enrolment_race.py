"""Enrolments racing the window's closing: each one is frozen in or refused, none after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest
from nats.aio.client import Client as NATS

from bootstrap.parts import enrolment as enrolment_parts
from contracts_schema.enrolment.commands import (
    CloseEnrolmentWindow,
    EnrolParticipant,
    LoadMunicipalities,
    OpenEnrolmentWindow,
)
from contracts_schema.registry.events import TenderPlanned
from contracts_schema.registry.values import Lot
from contracts_schema.replies import CommandAccepted, CommandRejected
from contracts_schema.subjects import ENROLMENT
from enrolment.service import shipped_municipalities
from eventstore.clock import FixedClock
from eventstore.service_app import serve_in_process, server_url
from eventstore.serving import send_command
from eventstore.store import EventStore
from tests.integration.enrolment.support import (
    accepted,
    record_fact,
    rejected,
)

RACERS = 40


@pytest.fixture
async def service(
    nats_client: NATS, event_store: EventStore, sqlite_url: str, fixed_clock: FixedClock
) -> AsyncIterator[None]:
    # The one command subscriber handles commands concurrently (as several replicas of the
    # service would), so the racers really do contend for the window.
    parts = await enrolment_parts(event_store, nats_client, fixed_clock, sqlite_url)
    broker = await serve_in_process(server_url(nats_client), [parts.service], max_workers=64)
    yield
    await broker.stop()
    await parts.stop()


def enrolment(tender_id: str, code: str) -> EnrolParticipant:
    return EnrolParticipant(
        command_id=f"{tender_id}-{code}",
        tender_id=tender_id,
        organisation_code=code,
        lot_ids=["mobile"],
        power_of_attorney_ref=f"volmacht-{code}",
        enrolled_on=date(2015, 5, 1),
    )


@pytest.mark.parametrize("close_after", [0, RACERS // 4, RACERS // 2])
async def test_enrolments_racing_the_freeze_are_frozen_in_or_refused(
    service: None, nats_client: NATS, event_store: EventStore, close_after: int
) -> None:
    tender_id = f"gt-race-{close_after}"
    await record_fact(
        event_store,
        tender_id,
        TenderPlanned(
            tender_id=tender_id,
            title="GT race",
            contracting_authority="KVK-41187813",
            procedure="open",
            framework=True,
            lots=[Lot(lot_id="mobile", title="Mobiel")],
            planned_on=date(2015, 1, 15),
        ),
    )
    await accepted(nats_client, LoadMunicipalities(command_id=f"load-{close_after}"))
    codes = [line.split(",")[0] for line in shipped_municipalities().splitlines()[1 : RACERS + 2]]
    first, racers = codes[0], codes[1:]
    await accepted(
        nats_client,
        OpenEnrolmentWindow(
            command_id=f"open-{tender_id}",
            tender_id=tender_id,
            lot_ids=["mobile"],
            opens_on=date(2015, 3, 1),
            closes_on=date(2015, 5, 31),
        ),
    )
    await accepted(nats_client, enrolment(tender_id, first))  # so the list is never empty

    # The close goes out once `close_after` enrolments have been answered, while the rest
    # are still in flight (no sleeps: the replies themselves pace the race).
    answered = 0
    go = asyncio.Event()
    if close_after == 0:
        go.set()

    async def enrol(code: str) -> tuple[str, CommandAccepted | CommandRejected]:
        nonlocal answered
        reply = await send_command(nats_client, ENROLMENT, enrolment(tender_id, code))
        answered += 1
        if answered >= close_after:
            go.set()
        return code, reply

    async def close() -> CommandAccepted | CommandRejected:
        await go.wait()
        return await send_command(
            nats_client,
            ENROLMENT,
            CloseEnrolmentWindow(command_id=f"close-{tender_id}", tender_id=tender_id),
        )

    closing = asyncio.create_task(close())
    tasks = [asyncio.create_task(enrol(code)) for code in racers]
    outcomes = await asyncio.gather(*tasks)
    assert isinstance(await closing, CommandAccepted)

    history = await event_store.load(ENROLMENT, "enrolment_window", tender_id)
    types = [e.envelope.event_type for e in history.events]
    freeze_at = types.index("ParticipantListFrozen")
    assert "ParticipantEnrolled" not in types[freeze_at + 1 :]  # nothing after the freeze
    frozen = {
        p["organisation_code"] for p in history.events[freeze_at].envelope.payload["participants"]
    }
    admitted = {code for code, reply in outcomes if isinstance(reply, CommandAccepted)}
    refused = {code: reply for code, reply in outcomes if isinstance(reply, CommandRejected)}
    assert frozen == admitted | {first}
    assert {r.code for r in refused.values()} <= {"ENROLMENT_CLOSED"}
    assert admitted | set(refused) == set(racers)
    late = await rejected(
        nats_client, enrolment(tender_id, codes[-1]).model_copy(update={"command_id": "late"})
    )
    assert late.code == "ENROLMENT_CLOSED"
    print(f"close after {close_after}: {len(admitted)} frozen in, {len(refused)} refused")
