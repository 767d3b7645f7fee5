"""The owner decides a backdated command on the valid-time order every view folds in.

Every read model folds an aggregate's events by valid time: day by Dutch day, and within a day
in the order recorded (`timeline.Recorded.order`: valid instant, transaction time, version).
The owner folds the same way, so a fact learned late means here what it means there:

- a command dated on or after the aggregate's latest valid day (nearly all) is decided on the
  cached state, as always: it lands last in either order;
- a command dated before it (`backdated`) loads the aggregate's history, decides on the state
  as of its day (the facts valid by then), and folds every later fact again on top of the new
  ones. It is accepted only when each later fact still applies (the published fold takes it,
  and `contracts_schema.later_facts` finds the rules that decided it still met); otherwise it
  is refused with LATER_FACT_NO_LONGER_APPLIES, naming that fact. Where the aggregate does not
  exist yet on its day, the decision on the whole aggregate stands, as before: the first-day
  refusals, a registration or planning dated back, a past window's enrolments.

Within one aggregate the order recorded is its versions' order, so the key here is (Dutch day,
version). Only the folded contexts (`contracts_schema.folds.FOLDS`) are ordered so; others
keep the order recorded. Imported releases are recorded as published, not decided: a history
holding them that its fold refuses by valid time is folded in the order recorded, by an
explicit rule (`as_recorded`); any other history the fold refuses so is refused
(`NotInValidOrder`), never folded in another order than the views' in silence.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeVar

from contracts_schema.base import Command, DomainEvent
from contracts_schema.calendar import dutch_day
from contracts_schema.errors import RuleViolation
from contracts_schema.folds import FOLDS
from contracts_schema.later_facts import began, problem
from contracts_schema.registry.import_events import ContractReleaseImported, TenderReleaseImported
from eventstore.aggregate_cache import CachedAggregate
from eventstore.records import AggregateHistory, StoredEvent
from eventstore.trust import UntrustedHistory

log = logging.getLogger(__name__)
S = TypeVar("S")

if TYPE_CHECKING:
    from eventstore.commands import CommandRoute, Decider, DecisionContext


@functools.lru_cache(maxsize=65_536)
def day_of(moment: datetime) -> date:
    """The Dutch day of a valid time (many events share one: computed once each)."""
    return dutch_day(moment)


def ordered(decider: Decider[Any]) -> bool:
    """Whether the views fold this aggregate type by valid time."""
    return (decider.context.name, decider.aggregate_type) in FOLDS


def backdated(
    decider: Decider[Any], entry: CachedAggregate, command: Command, valid_at: datetime
) -> bool:
    """Whether a fact valid at `valid_at` lands before the aggregate's latest valid day (one
    comparison on the common path). Imported releases are recorded as given (not decided)."""
    latest = entry.latest
    return (
        latest is not None
        and valid_at < latest
        and day_of(valid_at) < day_of(latest)
        and ordered(decider)
        and command.decided_by_valid_time
    )


def in_valid_order(decider: Decider[Any], events: Sequence[StoredEvent]) -> Sequence[StoredEvent]:
    """`events` (an aggregate's, as stored) in the order the views fold them."""
    return by_valid_time(events) if ordered(decider) else events


def fold(
    initial: S,
    evolve: Callable[[S, DomainEvent], S],
    events: Sequence[StoredEvent],
    decode: Callable[[StoredEvent], DomainEvent],
) -> S:
    """The fold of one aggregate's stored events by valid time. The one exception, by rule
    (`as_recorded`): a history holding imported releases that the fold refuses in that order
    is folded in the order recorded. Any other such history is refused (`NotInValidOrder`)."""
    ordered_events = by_valid_time(events)
    try:
        return reduce(evolve, (decode(e) for e in ordered_events), initial)
    except Exception as exc:
        if ordered_events is events:
            raise
        as_recorded(events, exc)
        return reduce(evolve, (decode(e) for e in events), initial)


class NotInValidOrder(UntrustedHistory):
    """A history its published fold refuses in valid-time order, with no imported release
    in it: every view parks the fact it refuses, so the owner decides nothing on a state no
    view holds (answered as UNTRUSTED_HISTORY, naming the aggregate and the fold's reason)."""


IMPORTED = frozenset({TenderReleaseImported.event_type, ContractReleaseImported.event_type})


def as_recorded(events: Sequence[StoredEvent], refused: Exception) -> None:
    """Let a history the fold refuses by valid time (`refused`) be folded in the order
    recorded instead, or raise. Only a history holding an imported release is (each release
    carries its provenance event): those are recorded as published, not decided
    (`Command.decided_by_valid_time`), and may precede their tender's first fact, the
    documented limit of docs/valid-time.md ("Imported releases"), where the views park what
    the fold refuses. Raises `NotInValidOrder` for any other history: folding it in another
    order than every view would be a second truth, given silently."""
    head = events[-1].envelope
    what = f"{head.aggregate_type} {head.aggregate_id}"
    if not any(e.envelope.event_type in IMPORTED for e in events):
        raise NotInValidOrder(
            f"{what} cannot be folded by valid time ({refused}); every view parks that fact."
            " Nothing is decided on it until it is corrected (docs/valid-time.md)"
        ) from refused
    log.warning("%s holds imported releases refused by valid time: folded as recorded", what)


def by_valid_time(events: Sequence[StoredEvent]) -> Sequence[StoredEvent]:
    """One aggregate's events by valid day, and within a day in the order recorded (its
    versions); as stored (no copy) when they are in that order already."""
    if len(events) < 2:
        return events
    keys = [_key(e) for e in events]
    if all(a <= b for a, b in itertools.pairwise(keys)):
        return events
    return [e for _, e in sorted(zip(keys, events, strict=True), key=lambda pair: pair[0])]


def out_of_order(decider: Decider[Any], entry: CachedAggregate, newer: Sequence[Any]) -> bool:
    """Whether events stored after the cached head (another process's) land before its
    latest valid day or before one another's: then the aggregate is folded afresh, not
    continued."""
    if not ordered(decider):
        return False
    # Out of order against the cached latest day, or among themselves (another process
    # recorded June, then January learned late): a running maximum, not the cached day alone.
    running = day_of(entry.latest) if entry.latest is not None else date.min
    for event in newer:
        day = day_of(event.envelope.occurred_at)
        if day < running:
            return True
        running = day
    return False


def _key(event: StoredEvent) -> tuple[date, int]:
    envelope = event.envelope
    return day_of(envelope.occurred_at), envelope.aggregate_version


@dataclass(frozen=True)
class Decided:
    """A backdated decision: the aggregate as loaded for it, the new events, and the state of
    every fact folded in valid-time order with them (what the cache holds after the append)."""

    entry: CachedAggregate
    events: tuple[DomainEvent, ...]
    state: Any


async def decide(
    route: CommandRoute[Any, Any],
    command: Command,
    context: DecisionContext,
    load: Callable[[], Awaitable[AggregateHistory]],
    decode: Callable[[StoredEvent], DomainEvent],
) -> Decided:
    """Decide `command`, valid on a day before the aggregate's latest, on the valid-time order
    (`load`: the aggregate's history as stored). Raises RuleViolation."""
    decider = route.decider
    history = await load()
    day = context.valid_on
    stored = in_valid_order(decider, history.events)
    typed = [(_key(e)[0], decode(e)) for e in stored]
    if history.events_of_command(command.command_id):
        # Decided already (by another process, after this one cached the aggregate): a retry
        # is answered with the events it appended (`entry.commands`), never decided again.
        state = fold(decider.initial, decider.evolve, history.events, decode)
        return Decided(CachedAggregate.of(history, state), (), state)
    cut = sum(1 for event_day, _ in typed if event_day <= day)
    try:
        before = reduce(decider.evolve, (e for _, e in typed[:cut]), decider.initial)
        state = reduce(decider.evolve, (e for _, e in typed[cut:]), before)
    except Exception as exc:
        # Not foldable by valid time: decided as recorded where the rule says (imported
        # releases before their tender's first fact, which the views park), else refused.
        as_recorded(history.events, exc)
        entry = CachedAggregate.of(
            history, reduce(decider.evolve, map(decode, history.events), decider.initial)
        )
        decided = tuple(route.decide(entry.state, command, context))
        return Decided(entry, decided, reduce(decider.evolve, decided, entry.state))
    entry = CachedAggregate.of(history, state)
    if began(before):
        try:
            decided = tuple(route.decide(before, command, context))
        except RuleViolation as refusal:
            # Refused on its day. The refusal on all facts, if any, names what it must follow
            # (a resumption before its pause: "cannot precede its pause on ..."); else this.
            route.decide(state, command, context)
            raise refusal from None
    else:
        # The aggregate does not exist yet on its day: the decision on all facts stands (the
        # first-day refusals; a registration or planning dated back; a past window, opened
        # today, takes its enrolments of before).
        decided = tuple(route.decide(state, command, context))
    try:
        folded = reduce(decider.evolve, decided, before)
    except Exception as exc:
        raise RuleViolation("LATER_FACT_NO_LONGER_APPLIES", str(exc)) from exc
    for event_day, event in typed[cut:]:
        why = problem(decider.context.name, decider.aggregate_type, folded, event, event_day)
        if why is None:
            try:
                folded = decider.evolve(folded, event)
            except Exception as exc:  # the published fold refuses it: every view would park it
                why = str(exc)
        if why is not None:
            raise RuleViolation(
                "LATER_FACT_NO_LONGER_APPLIES",
                f"{command.command_type} dated {day} lies before the {event.event_type} of"
                f" {event_day}, which would no longer apply after it: {why}. Every view folds"
                " facts by the day they were valid: date it after that fact, or correct that"
                " fact first",
            )
    return Decided(entry, decided, folded)
