"""Event: the envelope of a stored event, and the event log query with paging and filters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import RowMapping, and_, bindparam, select, tuple_
from strawberry import relay
from strawberry.scalars import JSON

from contracts_schema.catalogue import EVENT_TYPES
from contracts_schema.errors import SHOWN_MAX, shown
from gateway.auth import Principal, Role
from gateway.event_visibility import HIDDEN_FROM_PARTICIPANTS
from gateway.projections.event_log import EventLogProjection, count_parameters
from gateway.readmodels import HORIZON_KNOWN_AT, HORIZON_VALID, KNOWN_NOW
from gateway.schema.context import Context, Info
from gateway.schema.enums import AggregateType, EventContext
from gateway.schema.errors import Forbidden, InvalidArgument
from gateway.schema.pagination import Connection, page


@strawberry.type(description="A stored domain event: its envelope and payload.")
class Event(relay.Node):
    pk: relay.NodeID[str]  # "<STREAM>:<seq>"
    event_id: str
    event_type: str
    context: EventContext
    stream: str
    sequence: int
    aggregate_type: AggregateType
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    recorded_at: datetime
    stored_actor: strawberry.Private[str]  # as in the log: a pseudonym for a person
    command_id: str
    correlation_id: str
    payload: JSON

    @strawberry.field(
        description="Who sent the command: role, then the person (their identity while it is"
        " kept, 'erased person (p-...)' after an erasure) or a service; docs/privacy.md."
    )
    def actor(self, info: Info) -> str:
        return info.context.actor_name(self.stored_actor)

    @strawberry.field(description="`STREAM:seq`: a consistency token, and where to resume from.")
    def position(self) -> str:
        return f"{self.stream}:{self.sequence}"

    @classmethod
    def from_row(cls, r: RowMapping | dict[str, Any]) -> Event:
        return cls(
            pk=f"{r['stream']}:{r['seq']}",
            sequence=r["seq"],
            stored_actor=r["actor"],
            **{k: r[k] for k in EVENT_FIELDS if k != "actor"},
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Event | None]:
        principal = require_event_reader(info)
        keys = []
        for node_id in node_ids:
            stream, _, seq = node_id.partition(":")
            keys.append((stream, int(seq) if seq.isdigit() else -1))
        rows = await info.context.loaders.event.load_many(keys)
        result: list[Event | None] = []
        for row in rows:
            if row is not None and not principal.sees_everything:
                codes = await event_organisations(info, row["stream"], row["seq"])
                if (
                    principal.organisation not in codes
                    or row["event_type"] in HIDDEN_FROM_PARTICIPANTS
                ):
                    row = None
            result.append(cls.from_row(row) if row else None)
        return result


EVENT_FIELDS = (
    "event_id", "event_type", "context", "stream", "aggregate_type", "aggregate_id",
    "aggregate_version", "occurred_at", "recorded_at", "actor", "command_id",
    "correlation_id", "payload",
)  # fmt: skip


async def event_organisations(info: Info, stream: str, seq: int) -> set[str]:
    t = info.context.read.event_log.organisations
    rows = await info.context.read.rows(
        select(t.c.code).where(t.c.stream == stream, t.c.seq == seq)
    )
    return {r["code"] for r in rows}


def require_event_reader(info: Info) -> Principal:
    return require_event_reader_of(info.context)


def require_event_reader_of(context: Context) -> Principal:
    principal = context.require_signed_in("the event log")
    if principal.role is Role.ANONYMOUS:
        raise Forbidden("the event log is not public")
    return principal


@strawberry.input
class EventFilter:
    event_types: list[str] | None = strawberry.field(
        default=None, description="Events of any of these types, e.g. ContractSigned."
    )
    context: EventContext | None = strawberry.field(
        default=None, description="Events of this context (its stream)."
    )
    aggregate_type: AggregateType | None = strawberry.field(
        default=None, description="Events of this kind of aggregate."
    )
    aggregate_id: str | None = strawberry.field(
        default=None, description="Events of this aggregate (with aggregateType)."
    )
    organisation_code: str | None = strawberry.field(
        default=None, description="Events that concern this organisation."
    )
    recorded_from: datetime | None = strawberry.field(
        default=None, description="Events recorded at or after this instant."
    )
    recorded_before: datetime | None = strawberry.field(
        default=None, description="Events recorded before this instant."
    )


ORGANISATION = "filter_organisation"


def require_a_range(f: EventFilter | None) -> None:
    """An empty recorded range matched nothing and read as "no events" (correct13); the
    contracts' `expiring` range refuses the same."""
    start, end = (f.recorded_from, f.recorded_before) if f else (None, None)
    if start is not None and end is not None and end <= start:
        raise InvalidArgument(
            f"`recordedBefore` ({end.isoformat()}) is not after `recordedFrom`"
            f" ({start.isoformat()}): the events recorded at or after recordedFrom and"
            " before recordedBefore"
        )


def require_known_event_types(types: Iterable[str] | None, field: str = "eventTypes") -> None:
    """Refuse a type no event has: a misspelt or unknown name matched nothing and the page
    came back empty, indistinguishable from "no such events yet" (correct13)."""
    unknown = sorted({t for t in types or () if t not in EVENT_TYPES})
    if unknown:
        raise InvalidArgument(
            f"`{field}`: unknown event type{'s' if len(unknown) > 1 else ''}"
            f" {_listed(unknown)}; the known types are"
            f" {', '.join(sorted(EVENT_TYPES))}",
            field=field,
            unknown=[t[:SHOWN_MAX] for t in unknown[:LISTED]],
        )


LISTED = 10  # unknown names repeated back: a list argument may carry 500 (max_list_argument)


def _listed(names: list[str]) -> str:
    """The first names, each cut short, and how many more (correct22: a list of 500 long
    names was repeated whole)."""
    said = ", ".join(shown(name) for name in names[:LISTED])
    return said if len(names) <= LISTED else f"{said} and {len(names) - LISTED:,} more"


async def event_log(
    info: Info, filter: EventFilter | None, first: int | None, after: str | None
) -> Connection[Event]:
    query, order, parameters = event_log_query(info.context, filter)
    counted = stored_count(info.context, filter)
    return await page(info, query, order, Event.from_row, first, after, None, parameters, counted)


def stored_count(context: Context, filter: EventFilter | None) -> Any:
    """The whole log's count at a past horizon from the stored counts (asof11), or one
    organisation's (a filter by `organisationCode` alone) as known now, past or present
    (asof21), for a reader who sees every event; else None (the rows are counted)."""
    principal = require_event_reader_of(context)
    if not principal.sees_everything:
        return None
    given = {k for k, v in vars(filter or EventFilter()).items() if v is not None}
    if not given:
        return context.read.event_count()
    if given == {"organisation_code"} and filter is not None and filter.organisation_code:
        return organisation_count(context)
    return None


def organisation_count(context: Context) -> Any:
    """The organisation's (`filter_organisation`) events at the request's valid instant as
    known now, from its links' counts (`projections.event_log.OrganisationCounts`: written
    in the log's own transaction, so in step with its links). None at a past known instant
    (the rows are counted) and while an older event log version serves (no counts)."""
    read = context.read
    if read.horizon is None or read.horizon[1] != KNOWN_NOW:
        return None
    log = read.versions(EventLogProjection)
    counts = log.counts
    if counts is None:
        return None
    present = read.present
    statement = read.statement(
        ("organisation_count", counts.blocks, counts.weeks, log.organisations, present),
        lambda: counts.count(log.organisations, bindparam(ORGANISATION), present=present),
    )
    return statement, {} if present else count_parameters(read.horizon[0])


def event_log_query(
    context: Context, filter: EventFilter | None
) -> tuple[Any, list[tuple[Any, bool]], dict[str, Any]]:
    """The events `filter` asks for that the request's principal may read: the statement
    (kept by shape), its order and the values of its parameters."""
    principal = require_event_reader_of(context)
    require_known_event_types(filter.event_types if filter else None)
    require_a_range(filter)
    read = context.read
    log = read.event_log
    t, o = log.events, log.organisations
    f = filter or EventFilter()
    # v3: the organisation's links carry their event's instants (in the log's order)
    timed = "recorded_at" in o.c
    past = read.horizon is not None and not read.present
    known_now = read.horizon is None or read.horizon[1] == KNOWN_NOW
    code = f.organisation_code or None
    hidden = not principal.sees_everything  # events naming others' private facts left out
    if not principal.sees_everything:
        if f.organisation_code and f.organisation_code != principal.organisation:
            raise Forbidden(f"events of {f.organisation_code} are not yours to read")
        code = principal.organisation or ""
    parameters = {
        "filter_types": f.event_types,
        "filter_context": f.context.value if f.context else None,
        "filter_aggregate_type": f.aggregate_type.value if f.aggregate_type else None,
        "filter_aggregate": f.aggregate_id,
        "filter_from": f.recorded_from,
        "filter_before": f.recorded_before,
        ORGANISATION: code,
        "hidden_types": list(HIDDEN_FROM_PARTICIPANTS) if hidden else None,
    }
    # The filters that apply; an organisation's code always does, even empty (no one's).
    present = tuple(k for k, v in parameters.items() if v or (k == ORGANISATION and v is not None))

    def build() -> Any:
        query = select(t)
        if code is not None and timed:
            query = _from_the_links(t, o, f, past, known_now)
        if f.event_types:
            query = query.where(t.c.event_type.in_(bindparam("filter_types", expanding=True)))
        if f.context:
            query = query.where(t.c.context == bindparam("filter_context"))
        if f.aggregate_type:
            query = query.where(t.c.aggregate_type == bindparam("filter_aggregate_type"))
        if f.aggregate_id:
            query = query.where(t.c.aggregate_id == bindparam("filter_aggregate"))
        recorded = o.c.recorded_at if code is not None and timed else t.c.recorded_at
        if f.recorded_from:
            query = query.where(recorded >= bindparam("filter_from"))
        if f.recorded_before:
            query = query.where(recorded < bindparam("filter_before"))
        if hidden:
            query = query.where(t.c.event_type.not_in(bindparam("hidden_types", expanding=True)))
        if code is not None and not timed:
            # The organisation's events found from its links (an index by code), not an
            # EXISTS asked of every event (1M events: the count read the log, ~1 s).
            query = query.where(
                tuple_(t.c.stream, t.c.seq).in_(
                    select(o.c.stream, o.c.seq).where(o.c.code == bindparam(ORGANISATION))
                )
            )
        return query

    query = read.statement(("events", t, o, *present), build)
    # The organisation's events in its links' order (the same values: the page walks the
    # code's index and stops at its last row); the cursor's keys are the same names.
    by = o if code is not None and timed else t
    order = [(by.c.recorded_at, False), (by.c.stream, False), (by.c.seq, False)]
    return query, order, parameters


def _from_the_links(t: Any, o: Any, f: EventFilter, past: bool, known_now: bool) -> Any:
    """The organisation's events driven from its links (v3): the code's links in the log's
    order, each joined to its event by key. At a past horizon the links' own instants test
    what had happened (and, at a known instant, what was recorded) in the index, before any
    event's row is read; the event log's view at the horizon still decides (the known-time
    rule needs the event's aggregate)."""
    query = (
        select(t)
        .select_from(o.join(t, and_(t.c.stream == o.c.stream, t.c.seq == o.c.seq)))
        .where(o.c.code == bindparam(ORGANISATION))
    )
    if past:
        query = query.where(o.c.happened <= bindparam(HORIZON_VALID))
        if not known_now:
            query = query.where(o.c.recorded_at <= bindparam(HORIZON_KNOWN_AT))
    return query
