"""The bulk-record lane of a group commit: fresh imported processes recorded directly.

An imported release is a fact recorded, not decided; a fresh one (none of its aggregates has
an event, none of its command ids has a processed-command record in any context, none is
written but unconfirmed here) has nothing to be idempotent against. For such a process the
general command path (`CommandService.execute` per command: a lock, the record lookups as
futures, a load, a speculative decision, a retry loop, a second fold into a cache) does
nothing that changes its outcome, so the lane does only what does: per command, in order,
the route's own decision (its rules' findings included), sealing on the `StagedStore` (the
registry's key, the hash chain, the same Nats-Msg-Ids) and the fold the next command decides
on; the command's fingerprint held as the general path holds it (`group_commit.Held`) and
its events as staged (`Recorded`). The caller appends as for a staged process, and answers
and records from the events the replies the general path gives (`placed_reply`), built as
JSON forms directly: no reply models made and taken apart again per command.

Anything else goes the general way, whose answer is the one this lane would give or better
informed: a process whose aggregate has events (a re-run, a crash between append and record:
the events answer by command id), a command id known anywhere or twice in the group, a
valid time too far ahead, a refused release (its refusal is the general path's), an error.
An aggregate written by someone else after it was found new fails the batch's expected
sequence 0, and the process then goes alone, as any staged process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from contracts_schema.errors import RuleViolation
from contracts_schema.registry.import_commands import (
    ImportProcessReleases,
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.replies import CommandAccepted, CommandRequest
from contracts_schema.subjects import BoundedContext
from eventstore.commands import CommandService, DecisionContext
from eventstore.group_append import StagedStore
from eventstore.group_commit import Held
from eventstore.hashing import canonical_json_form
from eventstore.observability import trace_headers
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, StoredEvent, trusted
from registry.domain.imported import (
    decide_imported_contract,
    decide_imported_tender,
    record_imported_contract,
    record_imported_tender,
)
from registry.facts_loaders import imported_signing_facts_loader

# A command id's records as read for the whole group: this context's (id, pre-uniqueness
# key), None when not read so; the other contexts' (each record's answers by id).
Recall = Callable[[str], list[bytes | None] | None]


# The routes' decisions the lane makes in their `record_imported_*` form (the same events,
# the facts folded once); a route deciding otherwise is left to the general path.
_DECISIONS = (decide_imported_tender, decide_imported_contract)


@dataclass
class _Aggregate:
    state: Any
    history: AggregateHistory  # its last staged event (version, hash chain, head)


def fresh(
    service: CommandService,
    batch: ImportProcessReleases,
    new: frozenset[tuple[str, str, str]],
    recall: Recall | None,
    elsewhere: Sequence[Mapping[str, bytes | None]],
    twice: set[str],
) -> bool:
    """Whether the process is fresh: every aggregate it addresses known to have no event,
    every command id read for the group and found nowhere (this context, its pre-uniqueness
    key, every other context), none pending here, none used twice in the group (`twice`)."""
    if recall is None or len(elsewhere) != service.other_contexts:
        return False
    stream = service.context.stream
    for release in batch.releases:
        for command in (release.tender, *release.contracts):
            cid = command.command_id
            if cid in twice or service.is_pending(cid):
                return False
            own = recall(cid)
            if own is None or any(v is not None for v in own):
                return False
            if any(o.get(cid, b"") is not None for o in elsewhere):  # unread, or found
                return False
            route = service.route(command.command_type)
            if (stream, route.decider.aggregate_type, route.aggregate_id(command)) not in new:
                return False
    return True


class RecordedCommand(NamedTuple):
    """One command recorded by the lane: its processed-command record's head (`held`) and
    its events as staged (provisional sequences)."""

    command_id: str
    held: Held
    events: list[StoredEvent]


@dataclass(frozen=True)
class Recorded:
    """A fresh process recorded by the lane: per release attempted (all of them: the lane
    refuses none), its id and its commands in order. Its answer and records are built from
    these once the group is stored (`placed_reply`): no reply models in between."""

    command_id: str  # the process's ImportProcessReleases
    releases: list[tuple[str, list[RecordedCommand]]]


# A Held's reply, for a command the lane recorded: its reply is built from `RecordedCommand`
# events (`placed_reply`), never from this.
_UNUSED_REPLY = trusted(
    CommandAccepted,
    {"status": "accepted", "command_id": "", "events": (), "consistency_token": "",
     "duplicate": False},
)  # fmt: skip


async def record(
    service: CommandService,
    store: StagedStore,
    batch: ImportProcessReleases,
    request: CommandRequest,
) -> Recorded | None:
    """A fresh process's releases recorded on `store` in order (None: not for this lane,
    nothing of it kept): what to answer and record once stored, as `_import_process` would
    (`placed_reply`). The routes' own deciders, aggregate ids and decisions
    (`record_imported_*`: the decision with the facts folded once, for the findings and for
    the next command), the contract's facts read as its route reads them, here from
    `store`."""
    aggregates: dict[tuple[str, str], _Aggregate] = {}
    context = service.context
    signing_facts = imported_signing_facts_loader(store)

    def folded(ctx: BoundedContext, aggregate_type: str, aggregate_id: str) -> Any:
        found = aggregates.get((aggregate_type, aggregate_id))
        return None if found is None else (found.history.last_seq, found.state)

    store.folded = folded  # the contract's facts read the staged tender's state from here
    releases: list[tuple[str, list[RecordedCommand]]] = []
    clock = service.clock
    for release in batch.releases:
        commands: list[RecordedCommand] = []
        for command in (release.tender, *release.contracts):
            if service.refusal_before_decision(command) is not None:
                return None
            route = service.route(command.command_type)
            if route.decide not in _DECISIONS:  # the route changed: the lane would not follow
                return None
            decider = route.decider
            aggregate_id = route.aggregate_id(command)
            key = (decider.aggregate_type, aggregate_id)
            aggregate = aggregates.get(key)
            if aggregate is None:
                history = await store.load(context, decider.aggregate_type, aggregate_id)
                if history.events:
                    return None
                aggregate = aggregates[key] = _Aggregate(decider.initial, history)
            now = clock.now()
            facts_folded: Any
            try:
                if isinstance(command, RecordImportedTenderRelease):
                    decision = DecisionContext(now, command.occurred_at or now)
                    decided, facts_folded = record_imported_tender(
                        aggregate.state, command, decision
                    )
                elif isinstance(command, RecordImportedContractRelease):
                    facts = await signing_facts(command)
                    decision = DecisionContext(now, command.occurred_at or now, facts)
                    decided, facts_folded = record_imported_contract(
                        aggregate.state, command, decision
                    )
                else:
                    return None
            except RuleViolation:
                return None
            valid_at = decision.valid_at
            new_events = [
                NewEvent(e.event_type, e.schema_version, e.model_dump(mode="json"), valid_at)
                for e in decided
            ]
            meta = CommandMetadata(
                command_id=command.command_id,
                actor=request.actor,
                correlation_id=request.correlation_id or command.command_id,
                causation_id=batch.command_id,
            )
            headers = trace_headers()
            stored = await store.append(aggregate.history, new_events, meta, headers=headers)
            # The facts are folded (for the findings); the provenance is folded onto them.
            aggregate.state = decider.evolve(facts_folded, decided[-1])
            last = stored[-1]
            aggregate.history = AggregateHistory(
                context, decider.aggregate_type, aggregate_id, (last,), last.seq
            )
            fingerprint = hashlib.sha256(
                canonical_json_form(command.model_dump(mode="json"))
            ).hexdigest()
            held = Held(command.command_type, fingerprint, _UNUSED_REPLY)
            commands.append(RecordedCommand(command.command_id, held, stored))
        releases.append((release.release_id, commands))
    return Recorded(batch.command_id, releases)


def placed_reply(
    command_id: str, events: Sequence[StoredEvent], real: Callable[[int], int]
) -> dict[str, Any]:
    """The JSON form of the reply the general path gives a command that appended `events`
    (`accepted_reply` of them, not a duplicate), each event at its stored sequence
    (`real` of its provisional one): built from the events as they are."""
    placed = []
    highest: dict[str, int] = {}
    for event in events:
        e, stream, seq = event.envelope, event.stream, real(event.seq)
        placed.append(
            {
                "event_id": e.event_id,
                "event_type": e.event_type,
                "aggregate_type": e.aggregate_type,
                "aggregate_id": e.aggregate_id,
                "aggregate_version": e.aggregate_version,
                "stream": stream,
                "seq": seq,
            }
        )
        highest[stream] = max(highest.get(stream, 0), seq)
    return {
        "status": "accepted",
        "command_id": command_id,
        "events": placed,
        # `consistency_token` of the placed events
        "consistency_token": ",".join(f"{s}:{n}" for s, n in sorted(highest.items())),
        "duplicate": False,
    }
