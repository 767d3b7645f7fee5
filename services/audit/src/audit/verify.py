"""Verify the event log: every stream's sequence, every aggregate's hash chain and versions.

What can go wrong and how it shows: an edited event no longer matches its hash (`altered`);
a deleted event leaves a hole in the stream's sequence (`deleted`) and in its aggregate's
versions and links (`gap`, `broken-link`); a forged event re-sealed with a fresh hash breaks
the link of its successor; a copy republished on the stream repeats a version (`reordered`);
an event stored on another subject than its own (`misplaced`: a copy, named with the sequence
of its original and left out of that original's chain, or an event found nowhere else); bytes
that no longer decode (`undecodable`).

Who appended it: every event after the stream's first signed one must carry a signature by a
trusted key of its context (`unsigned`, `untrusted-signer`, `bad-signature`), so an event
appended with stream access but without the service's key is named; a rotated key is trusted
only up to the sequence it was retired at (`retired-signer`). Events before the first
signed one are the unsigned legacy prefix (from before signatures): counted, and trustworthy
only as far as a checkpoint seals them. Every signed checkpoint is recomputed from the stream:
a stream that ends before it (`truncated`) or reaches it with another digest (`resealed`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nats.js.errors import NotFoundError
from pydantic import ValidationError

from contracts_schema.subjects import BoundedContext, parse_event_subject
from eventstore.checkpoints import EMPTY_DIGEST, Checkpoint, advance, read_checkpoints
from eventstore.hashing import verify_chain
from eventstore.losses import acknowledgement
from eventstore.signing import key_bounds, signature_holds
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
    signed: int = 0
    legacy: int = 0  # unsigned events before the first signed one
    legacy_sealed_by: int | None = None  # the first checkpoint covering the whole prefix
    checkpoints: int = 0
    # Holes an operator acknowledged (`eventstore.losses.acknowledge`): named, not problems.
    acknowledged: list[Problem] = field(default_factory=list)


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
    store: EventStore,
    context: BoundedContext,
    progress: Progress | None = None,
    trusted: Mapping[str, set[str]] | None = None,
) -> StreamReport:
    report = StreamReport(context.stream)
    try:
        last_seq = await store.last_seq(context)
    except NotFoundError:
        return report  # no stream yet: nothing recorded, nothing to doubt
    events = await _read_all(store, context, report)
    expected = 1
    groups: dict[tuple[str, str], list[StoredEvent]] = {}
    placed = {e.envelope.event_id: e.seq for e in events if _own_subject(context, e)}
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
        if not _own_subject(context, event):
            original = placed.get(e.event_id)
            report.problems.append(_misplaced(context, event, original))
            if original is not None:
                # A copy (e.g. onto another aggregate's subject, which the signature does not
                # cover): named as what it is, not as a repeated version in its original's
                # chain, which the original alone still forms.
                continue
        groups.setdefault((e.aggregate_type, e.aggregate_id), []).append(event)
    while expected in report.undecodable:
        expected += 1
    if expected <= last_seq:
        report.problems.append(_hole(context, expected, last_seq))
    lost = last_seq - len(events) - len(report.undecodable)
    await _acknowledged_holes(store, context, trusted, report, lost)
    report.aggregates = len(groups)
    for (aggregate_type, aggregate_id), stored in sorted(groups.items()):
        report.problems.extend(_chain_problems(f"{aggregate_type}/{aggregate_id}", stored))
    keys = key_bounds((trusted or {}).get(context.name, set()))
    _check_signatures(events, keys, report)
    checkpoints = await read_checkpoints(store, context)
    _check_checkpoints(context, events, last_seq, checkpoints, keys, report)
    return report


async def _acknowledged_holes(
    store: EventStore,
    context: BoundedContext,
    trusted: Mapping[str, set[str]] | None,
    report: StreamReport,
    lost: int,
) -> None:
    """The `deleted` holes an operator's signed acknowledgement covers (by a key trusted for
    the context; no more messages lost than it names, none after its highest), moved from
    the problems to `acknowledged` with who signed, when and why. What the holes did to an
    aggregate's chain (`gap`, `broken-link`) stays a problem."""
    holes = [p for p in report.problems if p.kind == "deleted"]
    if not holes:
        return
    keys = set((trusted or {}).get(context.name, set()))
    ack = await acknowledgement(store.nc, context.name, context.stream, keys)
    highest = max(int(h.where.rsplit(" ", 1)[1].rsplit(".", 1)[-1]) for h in holes)
    if ack is None or lost > ack.lost or highest > ack.highest:
        return
    said = f"acknowledged by {ack.signer} at {ack.at}: {ack.reason}"
    for hole in holes:
        report.problems.remove(hole)
        report.acknowledged.append(Problem(hole.where, "deleted", f"{hole.detail}; {said}"))


def _check_signatures(
    events: list[StoredEvent], keys: Mapping[str, int | None], report: StreamReport
) -> None:
    signing_started = False
    for event in events:
        e = event.envelope
        if e.signature is None or e.signer is None:
            if signing_started:
                report.problems.append(
                    Problem(
                        _at(event),
                        "unsigned",
                        "no service signature: not appended by the service owning the stream",
                        e.event_id,
                    )
                )
            else:
                report.legacy += 1
            continue
        signing_started = True
        if e.signer not in keys:
            report.problems.append(
                Problem(
                    _at(event), "untrusted-signer", f"signed by unknown key {e.signer}", e.event_id
                )
            )
        elif _retired(keys, e.signer, event.seq):
            report.problems.append(
                Problem(
                    _at(event),
                    "retired-signer",
                    f"signed by {e.signer}, a key retired after seq {keys[e.signer]}",
                    e.event_id,
                )
            )
        elif not signature_holds(e.signer, e.hash, e.signature):
            report.problems.append(
                Problem(
                    _at(event),
                    "bad-signature",
                    "signature does not match the event's hash",
                    e.event_id,
                )
            )
        else:
            report.signed += 1


def _check_checkpoints(
    context: BoundedContext,
    events: list[StoredEvent],
    last_seq: int,
    checkpoints: list[Checkpoint],
    keys: Mapping[str, int | None],
    report: StreamReport,
) -> None:
    digests: dict[int, str] = {}
    digest = EMPTY_DIGEST
    for event in events:
        digest = advance(digest, event.seq, event.envelope.hash)
        digests[event.seq] = digest
    legacy_end = events[report.legacy - 1].seq if report.legacy else 0
    for checkpoint in checkpoints:
        report.checkpoints += 1
        where = f"{context.stream} checkpoint at seq {checkpoint.seq}"
        if checkpoint.malformed is not None:
            report.problems.append(
                Problem(
                    f"{context.stream} checkpoint",
                    "bad-checkpoint",
                    f"not a checkpoint: {checkpoint.malformed}",
                )
            )
            continue
        if checkpoint.context != context.name:
            report.problems.append(
                Problem(where, "bad-checkpoint", f"made for context {checkpoint.context!r}")
            )
            continue
        if checkpoint.signer not in keys or not checkpoint.holds():
            report.problems.append(
                Problem(where, "bad-checkpoint", "not signed by a trusted key of the context")
            )
            continue
        if _retired(keys, checkpoint.signer, checkpoint.seq):
            report.problems.append(
                Problem(
                    where,
                    "bad-checkpoint",
                    f"signed by {checkpoint.signer}, a key retired after seq"
                    f" {keys[checkpoint.signer]}",
                )
            )
            continue
        if checkpoint.seq > last_seq or checkpoint.seq not in digests:
            report.problems.append(
                Problem(
                    where,
                    "truncated",
                    f"the stream ends at seq {last_seq}: the events"
                    f" up to {checkpoint.seq} it anchored are gone",
                )
            )
        elif digests[checkpoint.seq] != checkpoint.digest:
            report.problems.append(
                Problem(
                    where,
                    "resealed",
                    "history up to this checkpoint was rewritten"
                    " (its digest differs from the events now stored)",
                )
            )
        elif report.legacy_sealed_by is None and checkpoint.seq >= legacy_end:
            report.legacy_sealed_by = checkpoint.seq


def _own_subject(context: BoundedContext, event: StoredEvent) -> bool:
    e = event.envelope
    try:
        where = parse_event_subject(event.subject)
    except ValueError:
        return False
    own = (context.name, e.aggregate_type, e.aggregate_id, e.event_type)
    return where == own and e.context == context.name


def _misplaced(context: BoundedContext, event: StoredEvent, original: int | None) -> Problem:
    e = event.envelope
    context_of_event = BoundedContext(e.context, "")
    own = context_of_event.event_subject(e.aggregate_type, e.aggregate_id, e.event_type)
    what = (
        f"a copy of the event at seq {original}"
        if original is not None
        else "an event found nowhere else"
    )
    return Problem(
        f"{context.stream} seq {event.seq} on subject {event.subject}",
        "misplaced",
        f"{what} ({e.aggregate_type}/{e.aggregate_id} v{e.aggregate_version} {e.event_type}),"
        f" stored off its own subject {own}; readers refuse it there (eventstore.trust)",
        e.event_id,
    )


def _retired(keys: Mapping[str, int | None], signer: str, seq: int) -> bool:
    last = keys.get(signer)
    return last is not None and seq > last


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
    store: EventStore,
    contexts: Iterable[BoundedContext],
    progress: Progress | None = None,
    trusted: Mapping[str, set[str]] | None = None,
) -> list[StreamReport]:
    return [await verify_stream(store, context, progress, trusted) for context in contexts]
