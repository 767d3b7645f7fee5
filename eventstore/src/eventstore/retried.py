"""Whether a command whose id the aggregate's events already carry is their command retried.

A retry is answered with the first reply. The processed-command record says whose reply it
is and checks the retry's body against the first one's fingerprint; but the record is an
index, not the truth (`commands`: a write lost to a crash, an unreadable bucket), and then
the aggregate's events answer by command id alone. A *different* command reusing the id must
not get that result: it is refused COMMAND_ID_REUSED, as when the record answers.

The events carry no fingerprint of their command, so the retry is decided again on the state
its first decision was made on (the facts before its events, by valid time, cut at its day as
`valid_order.decide` cuts a backdated decision), with the transaction and valid time its
events were sealed with, and the decision compared with the events stored: the deciders are
pure functions of (state, command, context), so the same command decides the same events.
Where it cannot be decided again (other aggregates' facts moved since, and now refuse it),
nothing says it differs: it is answered as the retry it most likely is.

An imported release (`Command.decided_by_valid_time` false) is recorded on every earlier
fact of its aggregate, as first; its events are compared without their law `findings`: those
are the registry's evaluation of the release against facts read now (its tender may have
been imported since), not what the command says (review13: an exact retry was refused).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any

from contracts_schema.base import Command, DomainEvent
from contracts_schema.later_facts import began
from eventstore.records import AggregateHistory, StoredEvent
from eventstore.valid_order import by_valid_time, day_of, fold

if TYPE_CHECKING:
    from eventstore.commands import CommandRoute

log = logging.getLogger(__name__)


async def differs(
    route: CommandRoute[Any, Any],
    command: Command,
    history: AggregateHistory,
    decode: Callable[[StoredEvent], DomainEvent],
) -> str | None:
    """Why `command` is not the command whose events `history` holds under its id (None: it
    is, or nothing shows otherwise)."""
    from eventstore.commands import DecisionContext  # here: eventstore.commands imports this module

    own = history.events_of_command(command.command_id)
    if not own:
        return None
    first = own[0].envelope
    # The body alone, as the record's fingerprint compares it (not who sent it).
    if command.occurred_at is not None and any(
        e.envelope.occurred_at != command.occurred_at for e in own
    ):
        return "dated otherwise"
    decider = route.decider
    before = [e for e in history.events if e.envelope.aggregate_version < first.aggregate_version]
    decided_by_valid_time = command.decided_by_valid_time
    try:
        if decided_by_valid_time:
            prior = by_valid_time(before)
            day = day_of(first.occurred_at)
            state = reduce(
                decider.evolve,
                (decode(e) for e in prior if day_of(e.envelope.occurred_at) <= day),
                decider.initial,
            )
            if not began(state):  # decided on all its facts then (`valid_order.decide`)
                state = reduce(decider.evolve, map(decode, prior), decider.initial)
        else:  # recorded on all its earlier facts, as the cached state held them
            state = fold(decider.initial, decider.evolve, before, decode)
        facts = await route.facts(command) if route.facts else None
        context = DecisionContext(now=first.recorded_at, valid_at=first.occurred_at, facts=facts)
        again: Sequence[DomainEvent] = tuple(route.decide(state, command, context))
    except Exception as exc:  # not decidable again as it was: nothing shows it differs
        log.info("retry of %s not compared with its events (%r)", command.command_id, exc)
        return None
    compared = _said if decided_by_valid_time else _said_without_findings
    stored = [(e.envelope.event_type, compared(decode(e))) for e in own]
    decided = [(e.event_type, compared(e)) for e in again]
    return None if decided == stored else "deciding other events"


def _said(event: DomainEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")


def _said_without_findings(event: DomainEvent) -> dict[str, Any]:
    said = event.model_dump(mode="json")
    said.pop("findings", None)
    return said
