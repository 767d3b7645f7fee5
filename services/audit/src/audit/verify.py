"""Verify the event log: every stream's sequence, every aggregate's hash chain and versions.

What can go wrong and how it shows: an edited event no longer matches its hash (`altered`);
a deleted event leaves a hole in the stream's sequence (`deleted`) and in its aggregate's
versions and links (`gap`, `broken-link`); a forged event re-sealed with a fresh hash breaks
the link of its successor; a copy republished on the stream repeats a version (`reordered`);
an event filed under another aggregate's subject (`misfiled`); bytes that no longer decode
(`undecodable`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nats.js.errors import NotFoundError
from pydantic import ValidationError

from contracts_schema.subjects import BoundedContext, parse_event_subject
from eventstore.hashing import verify_chain
from eventstore.store import EventStore, StoredEvent

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Problem:
    where: str  # stream and sequence, or projection and table
    kind: str
    detail: str
    event_id: str | None = None

    def __str__(self) -> str:
        event = f" event {self.event_id}" if self.event_id else ""
        return f"{self.where}{event}: {self.kind}: {self.detail}"


@dataclass
class StreamReport:
    stream: str
    events: int = 0
    aggregates: int = 0
    problems: list[Problem] = field(default_factory=list)
    undecodable: set[int] = field(default_factory=set)


def _at(event: StoredEvent) -> str:
    e = event.envelope
    aggregate = f"{e.aggregate_type}/{e.aggregate_id} v{e.aggregate_version}"
    return f"{event.stream} seq {event.seq} ({aggregate} {e.event_type})"


async def _read_all(
    store: EventStore, context: BoundedContext, report: StreamReport
) -> list[StoredEvent]:
    """Every decodable event; an undecodable one is reported and skipped, not fatal."""
    events: list[StoredEvent] = []
    from_seq = 1
    while True:
        try:
            async for event in store.read_stream(context, from_seq):
                events.append(event)
                from_seq = event.seq + 1
            return events
        except ValidationError as exc:
            bad = await store.nc.jetstream().get_msg(
                context.stream, seq=from_seq, next=True, subject=context.event_subjects
            )
            try:
                event_id = str(json.loads(bad.data or b"{}").get("event_id"))
            except ValueError:
                event_id = None
            report.problems.append(
                Problem(
                    f"{context.stream} seq {bad.seq or from_seq}",
                    "undecodable",
                    f"stored bytes are not a valid envelope ({exc.error_count()} errors)",
                    event_id,
                )
            )
            seq = bad.seq or from_seq
            report.undecodable.add(seq)
            from_seq = seq + 1


async def verify_stream(
    store: EventStore, context: BoundedContext, progress: Progress | None = None
) -> StreamReport:
    report = StreamReport(context.stream)
    try:
        last_seq = await store.last_seq(context)
    except NotFoundError:
        return report  # no stream yet: nothing recorded, nothing to doubt
    events = await _read_all(store, context, report)
    expected = 1
    groups: dict[tuple[str, str], list[StoredEvent]] = {}
    for event in events:
        report.events += 1
        if progress:
            progress(1)
        while expected in report.undecodable:
            expected += 1
        if event.seq > expected:
            report.problems.append(_hole(context, expected, event.seq - 1))
        expected = event.seq + 1
        e = event.envelope
        try:
            where = parse_event_subject(event.subject)
        except ValueError:
            where = ("", "", "", "")
        if where != (context.name, e.aggregate_type, e.aggregate_id, e.event_type) or (
            e.context != context.name
        ):
            report.problems.append(
                Problem(_at(event), "misfiled", f"stored under subject {event.subject}", e.event_id)
            )
        groups.setdefault((e.aggregate_type, e.aggregate_id), []).append(event)
    while expected in report.undecodable:
        expected += 1
    if expected <= last_seq:
        report.problems.append(_hole(context, expected, last_seq))
    report.aggregates = len(groups)
    for (aggregate_type, aggregate_id), stored in sorted(groups.items()):
        report.problems.extend(_chain_problems(f"{aggregate_type}/{aggregate_id}", stored))
    return report


def _hole(context: BoundedContext, first: int, last: int) -> Problem:
    span = f"{first}" if first == last else f"{first}..{last}"
    return Problem(
        f"{context.stream} seq {span}", "deleted", "stream sequence missing: an event was removed"
    )


def _chain_problems(aggregate: str, stored: list[StoredEvent]) -> Iterable[Problem]:
    envelopes = [s.envelope.model_dump(mode="json") for s in stored]
    for problem in verify_chain(aggregate, envelopes):
        event = stored[problem.position]
        yield Problem(_at(event), problem.kind, problem.detail, problem.event_id)


async def verify_streams(
    store: EventStore, contexts: Iterable[BoundedContext], progress: Progress | None = None
) -> list[StreamReport]:
    return [await verify_stream(store, context, progress) for context in contexts]
