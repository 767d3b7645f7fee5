"""Organisations on a real NATS server: the CBS list, other bodies, renames, mergers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from nats.aio.client import Client as NATS

from contracts_schema.enrolment.commands import (
    LoadMunicipalities,
    MergeMunicipality,
    RegisterOrganisation,
    RenameOrganisation,
)
from contracts_schema.subjects import ENROLMENT
from eventstore.clock import FixedClock
from eventstore.store import EventStore
from eventstore.testing.nats_server import NatsServer
from tests.integration.enrolment.support import (
    accepted,
    enrolment_service,
    rejected,
    stream_events,
)


@pytest.fixture
async def service(
    nats_server: NatsServer, sqlite_url: str, fixed_clock: FixedClock
) -> AsyncIterator[None]:
    async with enrolment_service(nats_server.url, sqlite_url, fixed_clock):
        yield


async def test_loading_the_municipality_list_twice_creates_nothing_new(
    service: None, nats_client: NATS, event_store: EventStore
) -> None:
    first = await accepted(nats_client, LoadMunicipalities(command_id="load-1"))
    assert len(first.events) == 342
    assert {e.event_type for e in first.events} == {"OrganisationRegistered"}
    amsterdam = await event_store.load(ENROLMENT, "organisation", "GM0363")
    assert amsterdam.events[0].envelope.payload == {
        "code": "GM0363",
        "name": "Amsterdam",
        "kind": "municipality",
        "province": "Noord-Holland",
        "registered_on": "2026-01-15",  # the load's valid day (the fixed clock's today)
    }
    assert amsterdam.events[0].envelope.causation_id == "load-1"
    before = await stream_events(event_store)

    again = await accepted(nats_client, LoadMunicipalities(command_id="load-2"))
    retried = await accepted(nats_client, LoadMunicipalities(command_id="load-1"))

    assert again.events == ()
    assert retried.duplicate is True
    assert len(retried.events) == 342
    assert await stream_events(event_store) == before


async def test_a_malformed_row_is_reported_by_line_and_nothing_is_loaded(
    service: None, nats_client: NATS, event_store: EventStore
) -> None:
    text = (
        "cbs_code,name,province\n"
        "GM0363,Amsterdam,Noord-Holland\n"
        "GM0599,Rotterdam,Zuid-Holland\n"
        "GM518,Den Haag,Zuid-Holland\n"
        "GM0344,Utrecht,Utrecht\n"
    )
    reply = await rejected(
        nats_client,
        LoadMunicipalities(command_id="bad", source="gemeenten-2025.csv", csv_text=text),
    )
    assert reply.code == "MALFORMED_MUNICIPALITY_LIST"
    assert "gemeenten-2025.csv line 4: 'GM518' is not a CBS municipality code" in reply.message
    assert "nothing from gemeenten-2025.csv was loaded" in reply.message
    assert await stream_events(event_store) == []


async def test_other_bodies_renames_and_mergers(
    service: None, nats_client: NATS, event_store: EventStore
) -> None:
    text = "cbs_code,name,province\nGM0175,Ommen,Overijssel\nGM0160,Hardenberg,Overijssel\n"
    await accepted(nats_client, LoadMunicipalities(command_id="small", csv_text=text))
    await accepted(
        nats_client,
        RegisterOrganisation(
            command_id="r-vf", code="KVK-14052240", name="Vodafone Libertel B.V.", kind="supplier"
        ),
    )
    bad = await rejected(
        nats_client,
        RegisterOrganisation(
            command_id="r-bad", code="KVK-1405224", name="Typo B.V.", kind="supplier"
        ),
    )
    assert bad.code == "INVALID_ORGANISATION_CODE"
    await accepted(
        nats_client, RenameOrganisation(command_id="rn", code="GM0160", name="Ommen-Hardenberg")
    )
    merged = await accepted(
        nats_client,
        MergeMunicipality(
            command_id="mg", code="GM0175", successor_code="GM0160", effective_on=date(2026, 1, 1)
        ),
    )
    assert [e.event_type for e in merged.events] == ["MunicipalityMerged"]
    again = await rejected(
        nats_client, RenameOrganisation(command_id="rn2", code="GM0175", name="Ommen (oud)")
    )
    assert again.code == "ORGANISATION_MERGED"
    assert await stream_events(event_store, "OrganisationRenamed") == ["GM0160:OrganisationRenamed"]
