"""The importer reads the registry's answers through `importer_reply` (unions discriminated by
`status`, helper import27): on any answer the contract's models accept, the same values as
the contract's `ReleaseGroupImported` / `ProcessReleasesImported` read, as instances of the
contract's classes; an answer the contract refuses is refused too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from audit.ocds.importer_reply import GroupAnswer, ProcessAnswer
from contracts_schema.registry.import_commands import (
    ImportedReleaseOutcome,
    ProcessReleasesImported,
    ReleaseGroupImported,
)
from contracts_schema.replies import AppendedEvent, CommandAccepted, CommandRejected

TEXT = st.text(min_size=0, max_size=8)

EVENTS = st.builds(
    AppendedEvent,
    event_id=TEXT,
    event_type=TEXT,
    aggregate_type=TEXT,
    aggregate_id=TEXT,
    aggregate_version=st.integers(0, 10**6),
    stream=TEXT,
    seq=st.integers(0, 2**62),
)
ACCEPTED = st.builds(
    CommandAccepted,
    command_id=TEXT,
    events=st.lists(EVENTS, max_size=3).map(tuple),
    consistency_token=TEXT,
    duplicate=st.booleans(),
)
REJECTED = st.builds(CommandRejected, command_id=st.none() | TEXT, code=TEXT, message=TEXT)
OUTCOMES = st.builds(
    ImportedReleaseOutcome,
    release_id=TEXT,
    replies=st.lists(ACCEPTED | REJECTED, max_size=3),
)
PROCESSES = st.builds(
    ProcessReleasesImported, command_id=TEXT, releases=st.lists(OUTCOMES, max_size=3)
)
GROUPS = st.builds(
    ReleaseGroupImported, command_id=TEXT, processes=st.lists(PROCESSES | REJECTED, max_size=4)
)


def _classes(group: ReleaseGroupImported) -> list[Any]:
    found: list[Any] = []
    for p in group.processes:
        found.append(type(p).__mro__[1] if isinstance(p, ProcessAnswer) else type(p))
        if isinstance(p, ProcessReleasesImported):
            found += [type(r) for o in p.releases for r in o.replies]
    return found


@given(GROUPS)
def test_a_group_answer_reads_as_the_contract_reads_it(group: ReleaseGroupImported) -> None:
    data = group.model_dump_json().encode()
    ours = GroupAnswer.model_validate_json(data)
    theirs = ReleaseGroupImported.model_validate_json(data)
    assert ours.model_dump() == theirs.model_dump() == group.model_dump()
    assert isinstance(ours, ReleaseGroupImported)
    for p in ours.processes:
        assert isinstance(p, ProcessReleasesImported | CommandRejected)
        if isinstance(p, ProcessReleasesImported):
            for o in p.releases:
                assert isinstance(o, ImportedReleaseOutcome)
                assert all(isinstance(r, CommandAccepted | CommandRejected) for r in o.replies)
                assert o.refused == next(
                    (r for r in o.replies if isinstance(r, CommandRejected)), None
                )
    assert _classes(ours) == _classes(theirs)
    # From parsed JSON too (the importer's path for a reply it parsed first).
    assert GroupAnswer.model_validate(json.loads(data)).model_dump() == group.model_dump()


@given(PROCESSES)
def test_one_process_answer_reads_as_the_contract_reads_it(
    process: ProcessReleasesImported,
) -> None:
    reply = json.loads(process.model_dump_json())
    ours = ProcessAnswer.model_validate(reply)
    assert isinstance(ours, ProcessReleasesImported)
    assert ours.model_dump() == ProcessReleasesImported.model_validate(reply).model_dump()


def _group(*replies: dict[str, Any]) -> bytes:
    outcome = {"release_id": "r", "replies": list(replies)}
    process = {"status": "imported", "command_id": "p", "releases": [outcome]}
    return json.dumps({"status": "imported", "command_id": "g", "processes": [process]}).encode()


ACCEPTED_REPLY = {"status": "accepted", "command_id": "c", "events": [],
                  "consistency_token": ""}  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        _group({"status": "bogus", "code": "X", "message": "m"}),  # no such member
        _group({**ACCEPTED_REPLY, "code": "X"}),  # a field of neither
        _group({"status": "accepted", "command_id": "c", "events": []}),  # token missing
        _group({"status": "rejected", "command_id": "c"}),  # code, message missing
        _group({**ACCEPTED_REPLY, "events": [{"event_id": "e"}]}),  # an event's fields
        b'{"status":"imported","command_id":"g","processes":[{"status":"imported"}]}',
    ],
    ids=["unknown-status", "extra-field", "no-token", "no-code", "event-fields", "no-id"],
)
def test_an_answer_the_contract_refuses_is_refused(data: bytes) -> None:
    with pytest.raises(ValidationError):
        ReleaseGroupImported.model_validate_json(data)
    with pytest.raises(ValidationError):
        GroupAnswer.model_validate_json(data)
