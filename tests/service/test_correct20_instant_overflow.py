"""An instant whose offset takes it past year 1 or year 9999 in UTC is refused, named.

`contracts_schema.bounds.Instant` (every command's `occurred_at`) compared the instant's UTC
day with the registry's range; for `0001-01-01T00:00:00+01:00` or `9999-12-31T23:59:59-01:00`
the conversion to UTC itself overflowed (Python's `OverflowError`, which pydantic does not turn
into a validation error): a command sent on the wire was answered `INTERNAL_ERROR: internal
error: OverflowError`, and `audit ocds import` of a release dated so ended in a traceback,
importing nothing after it (correct20, seen on a `make run`).
"""

from __future__ import annotations

import json

import pytest

from audit.ocds.importer import import_items
from audit.ocds.importer_read import read
from contracts_schema.replies import CommandRejected, CommandRequest
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import import _process

EDGES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("occurred_at", EDGES)
async def test_a_command_dated_past_the_calendar_in_utc_is_refused_naming_the_range(
    bus: InProcessBus, occurred_at: str
) -> None:
    command = {"command_id": "c20-amend", "contract_id": "c1", "summary": "Verlengd",
               "new_end_date": "2023-03-31", "occurred_at": occurred_at}  # fmt: skip
    request = CommandRequest(command_type="AmendContract", command=command, actor="test")
    reply = await bus.send_raw(
        "registry.commands.AmendContract", request.model_dump_json().encode()
    )
    assert isinstance(reply, CommandRejected), reply
    assert reply.code != "INTERNAL_ERROR", reply
    assert "occurred_at" in reply.message, reply
    assert "must lie between 1990-01-01 and 2100-12-31" in reply.message, reply


@pytest.mark.parametrize("date", EDGES)
async def test_an_import_of_a_release_dated_past_the_calendar_skips_it_and_goes_on(
    store: InMemoryEventStore, bus: InProcessBus, date: str
) -> None:
    process = _process(25, 4)
    process["releases"][1]["date"] = date  # the contract's release
    other = _process(25, 4)
    for release in other["releases"]:
        release["ocid"] = "ocds-gtnl99-x2"
    both = process["releases"] + other["releases"]
    data = json.dumps({**process, "releases": both}).encode()
    report = await import_items(read(data, "portal"), bus.request, store)
    assert report.imported == 3, report
    [skipped] = report.skipped
    assert "must lie between 1990-01-01 and 2100-12-31" in skipped.reason, skipped
