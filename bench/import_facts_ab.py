"""Each imported fact validated once? A/B in one process (helper import37).

The registry reads a group message's facts twice: as `dict[str, Any]` inside the commands
(`import_service._whole_group`: pydantic's JSON parse of the message) and then as their event
models (`registry.domain.imported._facts`: `upcasting.decode` of each payload). B is the
alternative #17's twenty-second round asked for: commands whose facts are typed events, a
union discriminated by `event_type` (`{"event_type": X, "payload": <X's model>}`, the same
wire form), validated once from the message's JSON. Both sides then do what the lane does
with each command: the fingerprint (`canonical_json_form` of the command's JSON form, as
`import_lane.record` and `CommandService.execute` make it; B's from its typed facts without
their unset fields, the closest B can make to A's) and each fact's JSON form (the stored
payload).

    .venv/bin/python -m bench.import_facts_ab --blocks 10

The messages are the group messages the importer sends for the bench suite's package
(`--processes`, `bench.import_map_ab.inputs`' stand-in registry keeps them). Per block, A and
B each read every message; this thread's CPU (`time.thread_time`) per fact, blocks
alternating. Also printed: the parse alone (A's message parse, B's), A's second validation
alone (`decode`), and on how many commands B's fingerprint differs from A's (B's dump of a
typed fact is not the payload as sent: a value the model normalises, a default the sender
left out -- a fingerprint recorded before would not match).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, create_model

KEPT: list[bytes] = []


async def _keep(subject: str, payload: bytes) -> bytes:
    from bench.import_map_ab import _accept

    if b'"command_type":"ImportReleaseGroup"' in payload[:60]:
        KEPT.append(payload)
    return await _accept(subject, payload)


def messages(processes: int) -> list[bytes]:
    """The group messages the importer sends for the bench's package."""
    from audit.ocds.importer import import_items
    from audit.ocds.importer_read import read
    from bench.suites.ocds_import import package
    from eventstore.clock import SystemClock
    from eventstore.memory import InMemoryEventStore

    KEPT.clear()
    items = list(read(package(processes), "bench"))
    asyncio.run(import_items(items, _keep, InMemoryEventStore(SystemClock())))
    return list(KEPT)


def typed_request() -> type[Any]:
    """B: the group request with each fact a typed event (a discriminated union)."""
    from contracts_schema.base import Value
    from contracts_schema.catalogue import EVENT_TYPES
    from contracts_schema.registry import import_commands as ic
    from contracts_schema.registry.import_events import IMPORT_EVENTS
    from contracts_schema.replies import CommandRequest

    facts: tuple[Any, ...] = tuple(
        create_model(f"Typed{name}", __base__=Value, event_type=(_literal(name), ...),
                     payload=(model, ...))
        for name, model in EVENT_TYPES.items()
        if model.context == "registry"
        and model.aggregate_type in ("tender", "contract")
        and model not in IMPORT_EVENTS
    )  # fmt: skip
    fact: Any = Annotated[_union(facts), Field(discriminator="event_type")]
    listed: Any = (list[fact], Field(max_length=500))
    tender: Any = create_model("TypedTender", __base__=ic.RecordImportedTenderRelease, facts=listed)
    contract: Any = create_model(
        "TypedContract", __base__=ic.RecordImportedContractRelease, facts=listed
    )
    release: Any = create_model(
        "TypedRelease", __base__=ic.ImportedRelease, tender=(tender, ...),
        contracts=(list[contract], []),
    )  # fmt: skip
    process: Any = create_model(
        "TypedProcess", __base__=ic.ImportProcessReleases,
        releases=(list[release], Field(min_length=1, max_length=200)),
    )  # fmt: skip
    group: Any = create_model(
        "TypedGroup", __base__=ic.ImportReleaseGroup,
        processes=(list[process], Field(max_length=1000)),
    )  # fmt: skip
    return create_model("TypedRequest", __base__=CommandRequest, command=(group, ...))


def _literal(name: str) -> Any:
    return Literal[name]


def _union(members: tuple[type[Any], ...]) -> Any:
    from typing import Union

    return Union[members]  # noqa: UP007  (a union of a tuple of models made at run time)


def _commands(request: Any) -> Iterator[Any]:
    for process in request.command.processes:
        for release in process.releases:
            yield release.tender
            yield from release.contracts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=10, help="per side")
    args = parser.parse_args(argv)

    from contracts_schema.catalogue import EVENT_TYPES
    from contracts_schema.upcasting import decode
    from eventstore.hashing import canonical_json_form
    from registry.import_service import _WholeGroup

    data = messages(args.processes)
    typed = typed_request()

    def fingerprint(value: dict[str, Any]) -> str:
        return hashlib.sha256(canonical_json_form(value)).hexdigest()

    def a_side(message: bytes) -> None:
        for command in _commands(_WholeGroup.model_validate_json(message)):
            fingerprint(command.model_dump(mode="json"))
            for f in command.facts:
                model = EVENT_TYPES[f.event_type]
                decode(f.event_type, model.schema_version, f.payload).model_dump(mode="json")

    def b_side(message: bytes) -> None:
        for command in _commands(typed.model_validate_json(message)):
            fingerprint(command.model_dump(mode="json", exclude_unset=True))
            for f in command.facts:
                f.payload.model_dump(mode="json")

    a_read = [_WholeGroup.model_validate_json(m) for m in data]
    b_read = [typed.model_validate_json(m) for m in data]
    n_facts = sum(len(c.facts) for r in a_read for c in _commands(r))
    differ = 0
    for a_request, b_request in zip(a_read, b_read, strict=True):
        for a, b in zip(_commands(a_request), _commands(b_request), strict=True):
            for fa, fb in zip(a.facts, b.facts, strict=True):  # the same events either way
                assert decode(fa.event_type, 1, fa.payload) == fb.payload
            a_json, b_json = (
                a.model_dump(mode="json"),
                b.model_dump(mode="json", exclude_unset=True),
            )
            differ += fingerprint(a_json) != fingerprint(b_json)

    def a_decode(_: bytes) -> None:
        for request in a_read:
            for command in _commands(request):
                for f in command.facts:
                    decode(f.event_type, EVENT_TYPES[f.event_type].schema_version, f.payload)

    sides: dict[str, Callable[[bytes], Any]] = {
        "A: dict facts, then decode": a_side,
        "B: typed facts, once": b_side,
        "A's parse alone": _WholeGroup.model_validate_json,
        "B's parse alone": typed.model_validate_json,
    }
    times: dict[str, list[float]] = {k: [] for k in [*sides, "A's decode alone"]}
    load = os.getloadavg()[0]
    for n in range(args.blocks):
        order = list(sides) if n % 2 == 0 else list(sides)[::-1]
        for name in order:
            started = time.thread_time()
            for message in data:
                sides[name](message)
            times[name].append(time.thread_time() - started)
        started = time.thread_time()
        a_decode(b"")
        times["A's decode alone"].append(time.thread_time() - started)
    ratios = [
        b / a
        for a, b in zip(
            times["A: dict facts, then decode"], times["B: typed facts, once"], strict=True
        )
    ]
    commands = sum(1 for r in a_read for _ in _commands(r))
    print(f"{len(data)} group messages, {commands} commands, {n_facts} facts;"
          f" load {load:.1f} -> {os.getloadavg()[0]:.1f}")  # fmt: skip
    for name, values in times.items():
        print(f"{name}: {1e6 * statistics.median(values) / n_facts:.2f} us CPU per fact")
    lower = sum(r < 1 for r in ratios)
    print(f"B/A per pair, median {statistics.median(ratios):.3f}x (B lower in {lower} of"
          f" {len(ratios)}); B's fingerprint differs from A's on {differ} of {commands}"
          " commands")  # fmt: skip


if __name__ == "__main__":
    main()
