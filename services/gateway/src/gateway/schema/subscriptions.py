"""Subscriptions (graphql-transport-ws only): live events, filtered and resumable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import strawberry

from eventstore.commands import parse_consistency_token
from gateway.live import LiveFilter, TooManySubscriptions
from gateway.readmodels import ConsistencyError
from gateway.schema.context import Info, known_streams
from gateway.schema.enums import AggregateType, EventContext
from gateway.schema.errors import ClientError, Forbidden, InvalidArgument
from gateway.schema.events import Event, require_known_event_types


@strawberry.input
class LiveEventFilter:
    contexts: list[EventContext] | None = strawberry.field(
        default=None, description="Events of any of these contexts."
    )
    event_types: list[str] | None = strawberry.field(
        default=None, description="Events of any of these types, e.g. ContractSigned."
    )
    aggregate_type: AggregateType | None = strawberry.field(
        default=None, description="Events of this kind of aggregate."
    )
    aggregate_id: str | None = strawberry.field(
        default=None,
        description="Events of this aggregate (with aggregateType: of that kind only).",
    )
    organisation_code: str | None = strawberry.field(
        default=None, description="Events that concern this organisation."
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Events as they are stored. `after` (`STREAM:seq[,...]`, e.g. the last"
        " event's position or a consistencyToken) resumes after those sequences."
    )
    async def events(
        self, info: Info, filter: LiveEventFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[Event, None]:
        principal = info.context.require_signed_in("live events")
        f = filter or LiveEventFilter()
        require_known_event_types(f.event_types)
        organisation = f.organisation_code
        if not principal.sees_everything:
            if organisation and organisation != principal.organisation:
                raise Forbidden(f"events of {organisation} are not yours to read")
            organisation = principal.organisation
        try:
            known_streams(after or "")  # first: it bounds the length the parser repeats
            positions = parse_consistency_token(after or "")
        except ConsistencyError as exc:
            raise InvalidArgument(f"`after`: {exc.message}") from exc
        except ValueError as exc:
            raise InvalidArgument(f"`after`: {exc}") from exc
        live = info.context.live
        if live is None:
            raise ClientError("this gateway has no live event source", "UNAVAILABLE")
        live_filter = LiveFilter(
            contexts=tuple(c.value for c in f.contexts or ()),
            event_types=tuple(f.event_types or ()),
            aggregate_type=f.aggregate_type.value if f.aggregate_type else None,
            aggregate_id=f.aggregate_id,
            organisation_code=organisation,
            participant=not principal.sees_everything,
        )
        try:
            live.contexts(live_filter.contexts)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc
        try:
            slot = live.slot(principal.actor, info.context.settings.max_subscriptions_per_client)
            slot.__enter__()
        except TooManySubscriptions as exc:
            raise ClientError(str(exc), "TOO_MANY_SUBSCRIPTIONS") from exc
        events = live.stream(live_filter, positions)
        try:
            while True:
                # The stream ends with the token: a subscription outlives no credential.
                remaining = (principal.expires_at or 0) - time.time()
                if remaining <= 0:
                    raise ClientError(
                        "the bearer token has expired; subscribe again with a fresh token",
                        "UNAUTHENTICATED",
                    )
                try:
                    event = await asyncio.wait_for(anext(events), remaining)
                except TimeoutError:
                    continue  # the check above ends it
                e = event.envelope
                yield Event.from_row(
                    {
                        "stream": event.stream,
                        "seq": event.seq,
                        **e.model_dump(include=set(EVENT_KEYS)),
                    }
                )
        finally:
            await events.aclose()
            slot.__exit__(None, None, None)


EVENT_KEYS = (
    "event_id", "event_type", "context", "aggregate_type", "aggregate_id",
    "aggregate_version", "occurred_at", "recorded_at", "actor", "command_id",
    "correlation_id", "payload",
)  # fmt: skip
