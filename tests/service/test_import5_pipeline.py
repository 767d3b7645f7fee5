"""The importer's pipeline (`audit ocds import`): groups go to the registry while the rest is
still being mapped, and the group message carries each process's command as that command
serialises itself. What is stored and answered stays that of the process-by-process path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.ocds import importer
from contracts_schema.registry.import_commands import ImportProcessReleases, ImportReleaseGroup
from contracts_schema.replies import CommandRequest
from contracts_schema.subjects import REGISTRY
from eventstore.memory import InMemoryEventStore
from tests.service.bus import InProcessBus
from tests.service.test_ocds_import_group import Spy, import_all, package


class Watching(Spy):
    """Notes how many mappings were done when each message was sent, and its body."""

    def __init__(self, bus: InProcessBus, mapped: list[int]) -> None:
        super().__init__(bus)
        self.mapped = mapped
        self.at_send: list[int] = []
        self.bodies: list[bytes] = []

    async def request(self, subject: str, data: bytes) -> bytes:
        self.at_send.append(len(self.mapped))
        self.bodies.append(data)
        return await super().request(subject, data)


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    mapped: list[int] = []
    original = importer._Process._map

    def _map(self: Any, pending: Any) -> Any:
        mapped.append(1)
        return original(self, pending)

    monkeypatch.setattr(importer._Process, "_map", _map)
    return mapped


async def test_a_group_goes_while_the_other_processes_are_still_mapped(
    store: InMemoryEventStore, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the registry idle, MIN_GROUP processes mapped are sent at once (not GROUP), and
    sent before the next processes map: the registry decides while the importer maps."""
    monkeypatch.setattr(importer, "MIN_GROUP", 2)
    monkeypatch.setattr(importer, "GROUP", 64)
    spy = Watching(bus, counting(monkeypatch))
    report = await import_all(spy, store, package())
    assert (report.imported, report.skipped) == (6 * 2 + 6, [])
    assert spy.sizes[0][0] == 2  # the first group: MIN_GROUP processes, the registry idle
    # Sent within a turn of its second process's mapping, before every process mapped.
    assert spy.at_send[0] <= 2 + 1
    assert spy.at_send[0] < len(spy.mapped)
    # Imported again: every release a duplicate, nothing new stored.
    before = [e async for e in store.read_stream(REGISTRY)]
    again = await import_all(bus, store, package())
    assert (again.imported, again.duplicates, again.skipped) == (0, report.imported, [])
    assert [e async for e in store.read_stream(REGISTRY)] == before


async def test_with_the_registry_idle_a_group_goes_at_idle_group_not_min_group(
    store: InMemoryEventStore, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the start no group is with the registry: the first goes once IDLE_GROUP processes
    are mapped, not MIN_GROUP (16: the registry idled through their mapping); the next ones
    wait for MIN_GROUP while the registry is busy. The outcome is the same."""
    monkeypatch.setattr(importer, "MIN_GROUP", 16)
    monkeypatch.setattr(importer, "IDLE_GROUP", 4)
    monkeypatch.setattr(importer, "GROUP", 64)
    spy = Watching(bus, counting(monkeypatch))
    report = await import_all(spy, store, package())
    assert (report.imported, report.skipped) == (6 * 2 + 6, [])
    assert len(spy.mapped) > 4  # more processes than the first group holds
    assert spy.sizes[0][0] == 4
    assert spy.at_send[0] <= 4 + 1


async def test_the_group_message_carries_each_command_as_it_serialises(
    store: InMemoryEventStore, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process's command is serialised once and embedded as is: the message is a valid
    CommandRequest whose group holds exactly the commands (their own JSON form)."""
    monkeypatch.setattr(importer, "MIN_GROUP", 2)
    spy = Watching(bus, counting(monkeypatch))
    await import_all(spy, store, package())
    groups = [b for b, s in zip(spy.bodies, spy.sent_on, strict=True) if "Group" in s]
    assert groups
    for data in groups:
        request = CommandRequest.model_validate_json(data)
        assert request.command_type == ImportReleaseGroup.command_type
        assert request.actor.startswith("import:")
        group = ImportReleaseGroup.model_validate(request.command)
        for raw, command in zip(request.command["processes"], group.processes, strict=True):
            assert raw == command.model_dump(mode="json")
            assert ImportProcessReleases.model_validate(raw) == command


async def test_a_valid_group_is_validated_whole_with_the_values_of_part_by_part(
    store: InMemoryEventStore, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry validates a group message in one pass when all of it is valid: the same
    request and processes as validating it part by part; one bad process and it goes part
    by part (that process refused with its path, the others imported)."""
    from registry.import_service import _whole_group

    monkeypatch.setattr(importer, "MIN_GROUP", 2)
    spy = Watching(bus, counting(monkeypatch))
    await import_all(spy, store, package())
    data = next(b for b, s in zip(spy.bodies, spy.sent_on, strict=True) if "Group" in s)
    whole = _whole_group(data)
    assert whole is not None
    request, group = whole
    parts = CommandRequest.model_validate_json(data)
    assert request.model_dump(exclude={"command"}) == parts.model_dump(exclude={"command"})
    assert group.command_id == parts.command["command_id"]
    assert group.processes == [
        ImportProcessReleases.model_validate(p) for p in parts.command["processes"]
    ]
    body = json.loads(data)
    body["command"]["processes"][1]["releases"] = []  # at least one release
    assert _whole_group(json.dumps(body).encode()) is None
    reply = json.loads(await bus.request(REGISTRY.command_subject("ImportReleaseGroup"),
                                         json.dumps(body).encode()))  # fmt: skip
    refused = reply["processes"][1]
    assert refused["code"] == "INVALID_COMMAND"
    assert "processes[1] (ImportProcessReleases): releases" in refused["message"]
    assert all(p["status"] == "imported" for n, p in enumerate(reply["processes"]) if n != 1)
