"""`asOf` and `knownAt` on every query root of the gateway, defaulting to now.

A field extension adds both arguments to each root field. Every answer is a predicate on
the bitemporal row versions (nothing is replayed): without the arguments at (now, all that
is recorded), with them at (D, K), and the request's DataLoaders are bound to that horizon,
so every nested connection of the answer is asked at the same one. A root with no past
(projection health) refuses with a clear error instead of silently answering the present.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions import FieldExtension
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField

from contracts_schema.calendar import end_of_dutch_day
from eventstore.bitemporal_sql import micros
from gateway.readmodels import KNOWN_NOW, ConsistencyError
from gateway.schema.context import Context
from gateway.schema.errors import ClientError, InvalidArgument

NO_PAST = {
    "health": "projection health describes the runners now; it has no asOf/knownAt",
}
AS_OF = "Valid date D (a whole Dutch day): what was true then. Default: now."
KNOWN_AT = (
    "Transaction time K (with a timezone): what the registry had recorded by then."
    " Default (and for any K not yet reached): everything recorded so far."
)


@dataclass(frozen=True)
class Asked:
    """The horizon one root field asked for; None values mean now."""

    as_of: date | None
    known_at: datetime | None

    @property
    def present(self) -> bool:
        return self.as_of is None and self.known_at is None

    def clocks(self, now: datetime) -> tuple[int, int]:
        """(valid, known) in microseconds; refuses a knownAt without a timezone."""
        known = KNOWN_NOW
        if self.known_at is not None:
            if self.known_at.tzinfo is None:
                raise InvalidArgument("knownAt needs a timezone, e.g. 2020-11-20T12:00:00Z")
            # A knownAt not yet reached reads everything recorded so far (the default).
            if self.known_at < now:
                known = micros(self.known_at)
        valid = micros(end_of_dutch_day(self.as_of) if self.as_of else now)
        return valid, known


def _arguments() -> list[StrawberryArgument]:
    return [
        StrawberryArgument(
            "as_of", "asOf", StrawberryAnnotation(date | None), description=AS_OF, default=None
        ),
        StrawberryArgument(
            "known_at",
            "knownAt",
            StrawberryAnnotation(datetime | None),
            description=KNOWN_AT,
            default=None,
        ),
    ]


@dataclass
class Chosen:
    """The horizon a request chose, and the (shared) switch of its read models to it."""

    asked: Asked
    ready: asyncio.Task[None] | None = None


async def _switch(context: Context, asked: Asked, token: str | None) -> None:
    await context.consistent(token)  # read-your-writes applies to the past as well
    try:
        await context.read.reach_present(context.settings.consistency_timeout)
    except ConsistencyError as exc:
        raise ClientError(exc.message, exc.code) from exc
    context.read = context.read.at(*asked.clocks(datetime.now(UTC)))
    context.__dict__.pop("loaders", None)  # DataLoaders are rebuilt over the past


async def enter(context: Context, field: str, asked: Asked, token: str | None) -> None:
    """Point this request's read models at the horizon; every root field must agree.

    Root fields resolve concurrently: the first starts the switch, the others wait for it.
    """
    chosen = context.horizon
    if chosen is not None and chosen.asked != asked:
        raise ClientError(
            "one request is answered at one horizon: every root field must ask the same"
            " asOf/knownAt (send separate requests to compare the past with the present)",
            "HORIZON_MIXED",
        )
    if asked.present:
        context.horizon = chosen or Chosen(asked)
        return
    if field in NO_PAST:
        raise ClientError(NO_PAST[field], "NO_PAST_ANSWER")
    asked.clocks(datetime.now(UTC))  # refuse bad clocks before anything runs
    if chosen is None:
        chosen = context.horizon = Chosen(asked)
        chosen.ready = asyncio.ensure_future(_switch(context, asked, token))
    assert chosen.ready is not None
    await asyncio.shield(chosen.ready)


class HorizonExtension(FieldExtension):
    def apply(self, field: StrawberryField) -> None:
        names = {a.python_name for a in field.arguments}
        field.arguments.extend(a for a in _arguments() if a.python_name not in names)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        asked = Asked(kwargs.pop("as_of", None), kwargs.pop("known_at", None))
        await enter(info.context, info.field_name, asked, kwargs.get("consistency_token"))
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def with_horizons(query: type) -> type:
    """Give every root field of `query` the two clocks (idempotent)."""
    for field in query.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if not any(isinstance(x, HorizonExtension) for x in field.extensions):
            field.extensions.append(HorizonExtension())
    return query
