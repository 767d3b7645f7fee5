"""Cross-context facts, read one way: the owner's aggregate, folded with its published fold.

A service that needs another context's facts (the registry: an enrolment window's frozen
list; enrolment: a tender's lots, a framework's suppliers) loads that aggregate through the
`EventStorePort` and folds it with `contracts_schema.folds`: the owner's meaning, on any store
(JetStream or in memory), always as current as the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from functools import reduce
from typing import Any, TypeVar

from pydantic import BaseModel

from contracts_schema.base import Command
from contracts_schema.enrolment.state import OrganisationState
from contracts_schema.folds import FOLDS, Fold
from contracts_schema.later_facts import began
from contracts_schema.references import Merged, WithOrganisations, named_organisations
from contracts_schema.subjects import CONTEXTS, BoundedContext
from contracts_schema.upcasting import decode_envelope
from eventstore import valid_order
from eventstore.errors import EventStoreError, StreamNotFound
from eventstore.ports import EventStorePort
from eventstore.records import StoredEvent
from eventstore.trust import refuse_untrusted

S = TypeVar("S")


def valid_day(command: Command) -> date | None:
    """The Dutch day a command's fact is valid on, when it is dated (None: a fact of now):
    the `as_of` its facts loaders read other aggregates at."""
    return valid_order.day_of(command.occurred_at) if command.occurred_at is not None else None


async def load_folded(
    store: EventStorePort, fold: Fold[S], aggregate_id: str, as_of: date | None = None
) -> S:
    """The aggregate's state; its initial state when the owner's stream recorded nothing.

    `as_of`: the day a decision is valid on (a fact dated that day, often learned late), to
    read the aggregate as it was then, as every view shows it as of that day: the fold of
    its facts valid by then. A fact is judged by the world of its own day (an enrolment of
    2015 by a municipality that merged away in 2019; a window opened before its tender's
    publication), not by what became true after it. Where the aggregate does not exist yet
    on that day, its fold of all facts is given: existence across aggregates is not compared
    by day (docs/valid-time.md, "Other aggregates"). None: all its facts (a fact of now)."""
    context = CONTEXTS[fold.context]
    try:
        history = await store.load(context, fold.aggregate_type, aggregate_id)
    except EventStoreError:
        if not await stream_exists(store, context):
            return fold.initial(aggregate_id)
        raise
    # Another aggregate's history feeds this decision as its own does: checked as every load
    # is (a forged event there must not decide here), by the keys of the store's readers.
    refuse_untrusted(history.events, nc=getattr(store, "nc", None))

    def decode(e: StoredEvent) -> Any:
        return decode_envelope(e.envelope)

    # By valid time, as the owner and every view fold it (`valid_order`).
    events = history.events
    if as_of is not None:
        ordered = valid_order.by_valid_time(events)
        valid = [e for e in ordered if valid_order.day_of(e.envelope.occurred_at) <= as_of]
        if len(valid) < len(ordered):
            # The whole history first, by the rule the present is read by: one it refuses
            # (`NotInValidOrder`: a later fact no view takes in that order) decides nothing,
            # as of any day, as the owner's own decisions on it decide nothing.
            present = valid_order.fold(fold.initial(aggregate_id), fold.evolve, events, decode)
            try:
                then = reduce(fold.evolve, map(decode, valid), fold.initial(aggregate_id))
            except Exception:  # then so is the fold of all by valid time: its rule answers
                then = None
            return then if then is not None and began(then) else present
    return valid_order.fold(fold.initial(aggregate_id), fold.evolve, events, decode)


async def stream_exists(store: EventStorePort, context: BoundedContext) -> bool:
    try:
        await store.last_seq(context)
    except StreamNotFound:
        return False
    return True


ORGANISATION: Fold[OrganisationState] = FOLDS[("enrolment", "organisation")]
C = TypeVar("C", bound=BaseModel)


async def registered_organisations(store: EventStorePort, codes: frozenset[str]) -> frozenset[str]:
    """Those of `codes` the enrolment context has registered (its organisation aggregates)."""
    return (await organisations_named(store, codes)).registered


async def organisations_named(store: EventStorePort, codes: frozenset[str]) -> WithOrganisations:
    """Which of `codes` the enrolment context has registered, and which merged away (its
    organisation aggregates)."""
    registered = set()
    merged: dict[str, Merged] = {}
    for code in sorted(codes):
        state = await load_folded(store, ORGANISATION, code)
        if state.registered:
            registered.add(code)
        # A successor's own merger too, and so on (A into B, later B into C): a refusal names
        # the municipality acting on the command's day (`references.require_not_merged`).
        while state.successor_code is not None and state.merged_on is not None:
            merged[state.code or code] = Merged(state.successor_code, state.merged_on)
            if state.successor_code in merged or state.successor_code in codes:
                break
            state = await load_folded(store, ORGANISATION, state.successor_code)
    return WithOrganisations(frozenset(registered), merged=merged)


def with_organisations(
    store: EventStorePort, inner: Callable[[C], Awaitable[Any]] | None = None
) -> Callable[[C], Awaitable[WithOrganisations]]:
    """A facts loader: `inner`'s facts plus which organisations the command names exist,
    for a decision wrapped in `contracts_schema.references.checking_organisations`."""

    async def load(command: C) -> WithOrganisations:
        named = named_organisations(command)
        found = await organisations_named(store, named) if named else WithOrganisations(frozenset())
        return replace(found, facts=await inner(command) if inner else None)

    return load
