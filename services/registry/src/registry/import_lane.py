"""The bulk-record lane of a group commit: fresh imported processes recorded directly.

An imported release is a fact recorded, not decided; a fresh one (none of its aggregates has
an event, none of its command ids has a processed-command record in any context, none is
written but unconfirmed here) has nothing to be idempotent against. For such a process the
general command path (`CommandService.execute` per command: a lock, the record lookups as
futures, a load, a speculative decision, a retry loop, a second fold into a cache) does
nothing that changes its outcome, so the lane does only what does: per command, in order,
the route's own decision (its rules' findings included), sealing on the `StagedStore` (the
registry's key, the hash chain, the same Nats-Msg-Ids) and the fold the next command decides
on; the command's fingerprint and reply held as the general path holds them
(`group_commit.Held`). The caller appends and records exactly as for a staged process.

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
from typing import Any

from contracts_schema.errors import RuleViolation
from contracts_schema.registry.import_commands import (
    ImportedReleaseOutcome,
    ImportProcessReleases,
    ProcessReleasesImported,
    RecordImportedContractRelease,
    RecordImportedTenderRelease,
)
from contracts_schema.replies import AppendedEvent, CommandAccepted, CommandRejected, CommandRequest
from contracts_schema.subjects import BoundedContext
from eventstore.aggregate_cache import appended
from eventstore.commands import CommandService, DecisionContext, accepted_reply
from eventstore.group_append import StagedStore
from eventstore.group_commit import Held
from eventstore.hashing import canonical_json_form
from eventstore.observability import trace_headers
from eventstore.records import AggregateHistory, CommandMetadata, NewEvent, trusted
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


async def record(
    service: CommandService,
    store: StagedStore,
    batch: ImportProcessReleases,
    request: CommandRequest,
) -> tuple[ProcessReleasesImported, dict[str, Held]] | None:
    """A fresh process's releases recorded on `store` in order (None: not for this lane,
    nothing of it kept): the reply as `_import_process` gives it, with provisional
    sequences, and the processed-command records to write once stored. The routes' own
    deciders, aggregate ids and decisions (`record_imported_*`: the decision with the facts
    folded once, for the findings and for the next command), the contract's facts read as
    its route reads them, here from `store`."""
    aggregates: dict[tuple[str, str], _Aggregate] = {}
    context = service.context
    signing_facts = imported_signing_facts_loader(store)

    def folded(ctx: BoundedContext, aggregate_type: str, aggregate_id: str) -> Any:
        found = aggregates.get((aggregate_type, aggregate_id))
        return None if found is None else (found.history.last_seq, found.state)

    store.folded = folded  # the contract's facts read the staged tender's state from here
    held: dict[str, Held] = {}
    outcomes: list[ImportedReleaseOutcome] = []
    clock = service.clock
    for release in batch.releases:
        replies: list[CommandAccepted | CommandRejected] = []
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
            named: tuple[AppendedEvent, ...] = tuple(map(appended, stored))
            reply = accepted_reply(command.command_id, named, False)
            fingerprint = hashlib.sha256(
                canonical_json_form(command.model_dump(mode="json"))
            ).hexdigest()
            held[command.command_id] = Held(command.command_type, fingerprint, reply)
            replies.append(reply)
        values = {"release_id": release.release_id, "replies": replies}
        outcomes.append(trusted(ImportedReleaseOutcome, values))
    answer = {"status": "imported", "command_id": batch.command_id, "releases": outcomes}
    return trusted(ProcessReleasesImported, answer, {"command_id", "releases"}), held
