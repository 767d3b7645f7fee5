"""The command side: route a command to its aggregate, decide purely, append, reply.

A handler takes the aggregate folded (from `aggregate_cache`, or loaded and folded once),
calls a pure `decide`, appends with the expected sequence and retries a bounded number of
times on conflict, reloading first: the expected sequence keeps the cache honest when another
process wrote. Commands on one aggregate queue within the process. Idempotency by command id:
a durable record of processed commands (`ports.ProcessedCommands`: a JetStream KV bucket, or
memory), plus the aggregate's own events (each carries its command id), which also covers a
write that landed although its reply was lost. Runs on any `EventStorePort`.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ValidationError

from contracts_schema.base import ID_PATTERN, Command, DomainEvent
from contracts_schema.calendar import dutch_day, dutch_midnight
from contracts_schema.envelope import EventEnvelope
from contracts_schema.errors import RuleViolation
from contracts_schema.replies import (
    AppendedEvent,
    CommandAccepted,
    CommandRejected,
    CommandRequest,
)
from contracts_schema.subjects import BoundedContext
from contracts_schema.upcasting import decode_envelope
from eventstore import retried, valid_order
from eventstore.aggregate_cache import (
    AggregateCache,
    AggregateLocks,
    CachedAggregate,
    Key,
    appended,
)
from eventstore.clock import Clock
from eventstore.errors import (
    RETRY_AFTER_SECONDS,
    AlreadyAppended,
    AppendFailed,
    ConcurrencyConflict,
    is_transient,
)
from eventstore.hashing import canonical_json_form
from eventstore.observability import bind_correlation, trace_headers
from eventstore.ports import EventStorePort, ProcessedCommands, Sealer
from eventstore.processed import (
    KeyValueProcessedCommands,
    LazyBucket,
    LegacyKeys,
    RecordMirror,
    processed_commands_for,
    records_elsewhere,
)
from eventstore.records import (
    AggregateHistory,
    CommandMetadata,
    NewEvent,
    StoredEvent,
    trusted,
)
from eventstore.trust import UntrustedHistory, refuse_untrusted

log = logging.getLogger(__name__)

TRANSIENT_BUDGET = 3.0  # seconds a command retries a transient condition itself
TRANSIENT_PAUSE = 0.25
RECORD_TIMEOUT = 1.0  # one read or write of the processed-command record
RECORD_ATTEMPTS = 3
# JetStream refuses a whole atomic batch holding a message id it stored within its window
# (the store's contract: `AppendFailed` with this code). The ids are this command's on this
# aggregate, so its events are stored already: caught up and looked for, as `AlreadyAppended`.
BATCH_DUPLICATE_MSG_ID = 10201

S = TypeVar("S")
C = TypeVar("C", bound=Command)


@dataclass(frozen=True)
class Decider(Generic[S]):
    """How one aggregate type is folded from its events."""

    context: BoundedContext
    aggregate_type: str
    initial: S
    evolve: Callable[[S, DomainEvent], S]


# How far in the future a command's valid time may lie (clock skew between a client and us).
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class DecisionContext:
    """What a decision knows besides state and command; the valid time is computed here once.

    `valid_on` is the Dutch calendar day (Europe/Amsterdam) of `valid_at`: every context dates
    its facts by it, so two services never disagree about a day near midnight.
    """

    now: datetime  # the service's clock (transaction time)
    valid_at: datetime  # when the fact became true (the command's occurred_at, default now)
    facts: Any = None  # read beforehand from outside the aggregate (e.g. a frozen list)

    @property
    def valid_on(self) -> date:
        """The Dutch calendar day on which the commanded fact became true."""
        return dutch_day(self.valid_at)


@dataclass(frozen=True)
class CommandRoute(Generic[S, C]):
    command: type[C]
    decider: Decider[S]
    aggregate_id: Callable[[C], str]
    decide: Callable[[S, C, DecisionContext], Sequence[DomainEvent]]
    facts: Callable[[C], Awaitable[Any]] | None = None


class _Positioned(Protocol):
    @property
    def stream(self) -> str: ...

    @property
    def seq(self) -> int: ...


def consistency_token(events: Sequence[_Positioned]) -> str:
    highest: dict[str, int] = {}
    for event in events:
        highest[event.stream] = max(highest.get(event.stream, 0), event.seq)
    return ",".join(f"{stream}:{seq}" for stream, seq in sorted(highest.items()))


def parse_consistency_token(token: str) -> dict[str, int]:
    """`STREAM:seq[,STREAM:seq...]` -> {stream: seq}; raises ValueError naming the problem."""
    result: dict[str, int] = {}
    for part in filter(None, token.split(",")):
        stream, sep, seq = part.partition(":")
        # ASCII digits only: `isdigit` alone takes superscripts and other scripts' digits.
        if not sep or not stream or not (seq.isascii() and seq.isdigit()):
            raise ValueError(f"malformed consistency token part {part!r} (expected STREAM:seq)")
        # A stream named twice waits for the furthest position named (correct23).
        result[stream] = max(result.get(stream, 0), int(seq))
    if token.strip() and not result:  # only separators: names nothing, so waits for nothing
        raise ValueError(f"malformed consistency token {token!r} (expected STREAM:seq)")
    return result


def accepted_reply(
    command_id: str,
    events: Iterable[AppendedEvent],
    duplicate: bool,
    unchanged: AggregateHistory | None = None,
) -> CommandAccepted:
    """`unchanged`: the aggregate a command that changed nothing was decided on. Its token
    names the aggregate's last event, so a read with it waits for the write that made this
    command change nothing (before: an empty token, which waits for nothing; correct17)."""
    appended_events = tuple(events)
    token = consistency_token(appended_events)
    if not token and unchanged is not None and unchanged.last_seq:
        token = f"{unchanged.context.stream}:{unchanged.last_seq}"
    # Our own values (a validated command's id, events as stored): built, not re-validated
    # (as `model_construct` builds it: `status` left at its default, not counted as set).
    return trusted(
        CommandAccepted,
        {
            "status": "accepted",
            "command_id": command_id,
            "events": appended_events,
            "consistency_token": token,
            "duplicate": duplicate,
        },
        {"command_id", "events", "consistency_token", "duplicate"},
    )


class CommandService:
    """Handles the commands of one bounded context."""

    def __init__(
        self,
        context: BoundedContext,
        store: EventStorePort,
        clock: Clock,
        routes: Sequence[CommandRoute[Any, Any]],
        event_types: Mapping[str, type[DomainEvent]],
        *,
        max_attempts: int = 8,
        processed: ProcessedCommands | None = None,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        cache: AggregateCache | None = None,
    ) -> None:
        self.context = context
        self._store = store
        self._clock = clock
        self._routes = {r.command.command_type: r for r in routes}
        self._event_types = event_types
        self._max_attempts = max_attempts
        # How long one command keeps retrying a transient condition before it answers
        # UNAVAILABLE (the caller, e.g. the gateway, then retries the whole command).
        self.transient_budget = TRANSIENT_BUDGET
        self._future_tolerance = future_tolerance
        # None until `start`, which opens the record beside the store unless one was given.
        self._processed = processed
        # The other contexts' records, read (never written) to keep command ids unique.
        self._elsewhere: Sequence[ProcessedCommands] = ()
        # Whether ids are also asked for under their pre-uniqueness key (`_recall`).
        self._legacy = LegacyKeys(None, context)
        # This context's record's keys held here: a new id not among them is not looked up.
        self._mirror: RecordMirror | None = None
        self._cache = cache if cache is not None else AggregateCache()
        self._locks = AggregateLocks()
        # Seals a command's events from its own values (`_seal_ahead`).
        self._sealer: Sealer | None = store.sealer() if store.SEALS_AHEAD else None
        self._pending: dict[str, bytes] = {}  # records written but not yet confirmed
        self._record_heads: dict[str, bytes] = {}  # `_record_head`'s, by command type
        self._writes: set[asyncio.Future[None]] = set()

    # Whether `start` keeps this context's record's keys in the process (`RecordMirror`): a
    # warm command with an id new to them then waits for no lookup in its own record.
    MIRRORS = True
    # Whether a command's record is written by `send_later` where its record has it (cmd22:
    # confirmed by a later write's acknowledgement, not one of its own).
    RECORDS_LATER = True

    @property
    def command_types(self) -> list[str]:
        return sorted(self._routes)

    # What a lane beside the general path (registry.import_lane) may read; nothing to write.

    @property
    def clock(self) -> Clock:
        return self._clock

    def route(self, command_type: str) -> CommandRoute[Any, Any]:
        """The route of `command_type` (KeyError: a command this service does not handle)."""
        return self._routes[command_type]

    def refusal_before_decision(self, command: Command) -> CommandRejected | None:
        """The refusal the general path gives before deciding (a valid time too far ahead)."""
        return self._too_early(command)

    def is_pending(self, command_id: str) -> bool:
        """Whether a record of `command_id` is written here but not yet confirmed."""
        return command_id in self._pending

    @property
    def other_contexts(self) -> int:
        """How many other contexts' processed-command records a command id is checked in."""
        return len(self._elsewhere)

    async def start(self) -> None:
        await self._store.ensure_stream(self.context)
        if self._processed is None:
            self._processed = await processed_commands_for(self._store, self.context)
            self._elsewhere = await records_elsewhere(self._store, self.context)
            self._legacy = LegacyKeys(self._processed, self.context)
            await self._legacy.look()
            if self.MIRRORS and isinstance(self._processed, KeyValueProcessedCommands):
                self._mirror = await self._processed.mirror()
                for other in self._elsewhere:
                    if isinstance(other, LazyBucket):
                        await other.keep_keys()

    def fold(self, decider: Decider[S], history: AggregateHistory) -> S:
        if not valid_order.ordered(decider):
            events = (self.event_model(e) for e in history.events)
            return reduce(decider.evolve, events, decider.initial)
        # By valid time, as every view folds it.
        return valid_order.fold(decider.initial, decider.evolve, history.events, self.event_model)

    def event_model(self, event: StoredEvent) -> DomainEvent:
        # The one decode: a stored payload of any version, lifted to the current model.
        return decode_envelope(event.envelope, self._event_types)

    async def handle(self, subject: str, data: bytes) -> bytes:
        """Entry point for one command message; always returns a reply, never raises."""
        try:
            reply: CommandAccepted | CommandRejected = await self._handle(subject, data)
        except Exception as exc:  # a bug must not take the service down or time the client out
            reply = failure_reply(subject, exc)
        written = _reply_json.get()
        if written is not None:
            _reply_json.set(None)
            if written[0] is reply:  # serialised once for the record already (`_remember`)
                return written[1]
        return reply.model_dump_json().encode()

    async def _handle(self, subject: str, data: bytes) -> CommandAccepted | CommandRejected:
        try:
            request = CommandRequest.model_validate_json(data)
        except ValidationError as exc:
            return CommandRejected(
                code="MALFORMED_COMMAND", message=_describe(exc, "command request")
            )
        # The command's logs carry its correlation id from here on (not parsed again for it).
        bind_correlation(request.correlation_id or request.command.get("command_id"))
        type_from_subject = subject.rsplit(".", 1)[-1]
        if request.command_type != type_from_subject:
            return CommandRejected(
                code="MALFORMED_COMMAND",
                message=f"command_type {request.command_type!r} does not match subject {subject!r}",
            )
        route = self._routes.get(request.command_type)
        if route is None:
            return CommandRejected(
                code="UNKNOWN_COMMAND",
                message=f"the {self.context.name} service has no command {request.command_type!r};"
                f" known: {', '.join(self.command_types)}",
            )
        try:
            command = route.command.model_validate(request.command)
        except ValidationError as exc:
            return CommandRejected(
                command_id=_str_or_none(request.command.get("command_id")),
                code="INVALID_COMMAND",
                message=_describe(exc, request.command_type),
            )
        meta = CommandMetadata(
            command_id=command.command_id,
            actor=request.actor,
            correlation_id=request.correlation_id or command.command_id,
            causation_id=request.causation_id,
        )
        return await self.execute(route, command, meta)

    async def execute(
        self, route: CommandRoute[Any, Any], command: Command, meta: CommandMetadata
    ) -> CommandAccepted | CommandRejected:
        """Decide and append one command, in at most two round trips when the aggregate is
        cached: the processed-command lookups (concurrently with a load when it is not), then
        the append. Commands on one aggregate queue here instead of racing each other."""
        recall = self._recall(command.command_id)
        if not recall.done():
            # Two loop turns: the lookups' tasks publish, then the connection's flusher sends
            # them. The decision below is then computed while the broker answers them, not
            # after (nothing is given or appended before their answer is known).
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        # The command's JSON form, encoded by orjson: the same bytes as `canonical_json`'s
        # (`canonical_json_form`), so fingerprints recorded before still compare equal.
        body = canonical_json_form(command.model_dump(mode="json"))
        fingerprint = hashlib.sha256(body).hexdigest()
        decider = route.decider
        key: Key = (decider.context.name, decider.aggregate_type, route.aggregate_id(command))
        try:
            async with self._locks.hold(key):
                return await self._execute(route, command, meta, fingerprint, recall, key)
        finally:
            _forget(recall)

    async def _execute(
        self,
        route: CommandRoute[Any, Any],
        command: Command,
        meta: CommandMetadata,
        fingerprint: str,
        recall: asyncio.Future[list[bytes | None]],
        key: Key,
    ) -> CommandAccepted | CommandRejected:
        decider = route.decider
        aggregate_id = key[2]
        transient_until = asyncio.get_running_loop().time() + self.transient_budget
        entry = self._cache.get(key)
        # Not cached: load (and fold) while the processed-command record is read.
        loading = None
        if entry is None:
            loading = asyncio.ensure_future(
                self._load_aggregate(decider, aggregate_id, transient_until)
            )
        try:
            return await self._decide(
                route, command, meta, fingerprint, recall, key, entry, loading, transient_until
            )
        finally:
            _forget(loading)

    async def _decide(
        self,
        route: CommandRoute[Any, Any],
        command: Command,
        meta: CommandMetadata,
        fingerprint: str,
        recall: asyncio.Future[list[bytes | None]],
        key: Key,
        entry: CachedAggregate | None,
        loading: asyncio.Future[CachedAggregate] | None,
        transient_until: float,
    ) -> CommandAccepted | CommandRejected:
        decider = route.decider
        aggregate_id = key[2]
        loop = asyncio.get_running_loop()
        too_early = self._too_early(command)
        fresh = loading is not None  # loaded for this command, not taken from the cache
        # Set when this call's append met a timeout or an election (outcome unknown): its events
        # found on the reload are this call's own first result, not a duplicate. (A conflict or
        # AlreadyAppended says someone else wrote: another process handling the same command
        # reports it first, so here it stays a duplicate.)
        appended_here = False
        recalled = False
        attempt = 0
        while attempt < self._max_attempts:
            landed: tuple[AppendedEvent, ...] | None = None
            decided: tuple[DomainEvent, ...] = ()
            backdated: valid_order.Decided | None = None
            violation: RuleViolation | None = None
            failure: Exception | None = None
            new_events: list[NewEvent] | None = None
            sealed: list[EventEnvelope] | None = None
            folded: Any = _NOT_FOLDED
            try:
                if loading is not None:
                    entry = await loading
                    loading = None
                    self._cache.put(key, entry)
                elif entry is None:
                    entry = await self._load_aggregate(decider, aggregate_id, transient_until)
                    self._cache.put(key, entry)
                    fresh = True
                landed = entry.commands.get(command.command_id)
                if not landed and too_early is None:
                    # Decided while the processed-command lookups are under way (speculatively:
                    # nothing is given or appended before their answer is known).
                    now = self._clock.now()
                    facts = await route.facts(command) if route.facts else None
                    context = DecisionContext(
                        now=now, valid_at=command.occurred_at or now, facts=facts
                    )
                    try:
                        if valid_order.backdated(decider, entry, command, context.valid_at):
                            fresh = True  # decided on its history, loaded now
                            backdated = await valid_order.decide(
                                route,
                                command,
                                context,
                                lambda: self._load_checked(decider, aggregate_id),
                                self.event_model,
                            )
                            entry, decided = backdated.entry, backdated.events
                            self._cache.put(key, entry)
                            # Its own events may be among those loaded: answered with them.
                            landed = entry.commands.get(command.command_id)
                        else:
                            decided = tuple(route.decide(entry.state, command, context))
                    except RuleViolation as exc:
                        violation = exc
                    if decided and not landed and not recalled and not recall.done():
                        # Sealed (hashed, signed) while the broker still answers the lookups,
                        # not after: nothing is appended or answered before their answer, and
                        # a recorded reply found there discards these envelopes unseen.
                        new_events = _new_events(decided, context.valid_at)
                        sealed = self._seal_ahead(entry, new_events, meta)
                        if backdated is None:  # the cache's next state, folded meanwhile too
                            folded = _folded(decider, entry.state, decided)
            except Exception as exc:
                if recalled:
                    raise
                failure = exc  # a recorded reply still answers first, as it did
            if not recalled:
                # The record answers first, exactly as when it was read before all else.
                recalled = True
                previous = _recalled(await recall)
                if previous is not None:
                    return self._answer_recorded(command, fingerprint, previous)
                if failure is not None:
                    raise failure
                if too_early is not None:
                    return too_early
            assert entry is not None
            if landed:
                if not appended_here and self._mirror is not None:
                    # Its records perhaps not asked (`_recall`: the mirrors held no key of
                    # it then): all asked now, so a recorded reply answers as it always did.
                    previous = _recalled(await self._asked(command.command_id))
                    if previous is not None:
                        return self._answer_recorded(command, fingerprint, previous)
                if not appended_here:  # answered by its events alone: the same command?
                    reused = await self._reused_id(route, command, key[2])
                    if reused is not None:
                        return reused
                return await self._remember(
                    command,
                    fingerprint,
                    accepted_reply(command.command_id, landed, not appended_here),
                )
            if violation is not None:
                if not fresh:
                    # Decided on the cache: another process may have moved the aggregate since.
                    # A refusal is final, so it is given on the aggregate as stored now.
                    entry = await self._caught_up(key, decider, entry)
                    fresh = True  # caught up now, or (None) loaded afresh at the loop's top
                    continue
                return CommandRejected(
                    command_id=command.command_id, code=violation.code, message=violation.message
                )
            if new_events is None:
                new_events = _new_events(decided, context.valid_at)
            try:
                if sealed is None:  # not sealed ahead (the lookups answered first): now,
                    # from its own values as ahead (None: a store that seals in `append`)
                    sealed = self._seal_ahead(entry, new_events, meta)
                # The command's trace (when propagation is on) continues on its events.
                if sealed is None:
                    stored = await self._store.append(
                        entry.head, new_events, meta, headers=trace_headers()
                    )
                else:
                    stored = await self._store.append(
                        entry.head, new_events, meta, headers=trace_headers(), sealed=sealed
                    )
            except (ConcurrencyConflict, AlreadyAppended):
                # Someone else wrote first, or our own earlier try landed: read what is new
                # since our head and look again.
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
                entry = await self._caught_up(key, decider, entry)
                fresh = True
                attempt += 1
                continue
            except Exception as exc:
                if isinstance(exc, AppendFailed) and exc.code == BATCH_DUPLICATE_MSG_ID:
                    # Its events are stored (by another process handling the same command,
                    # or before a crash): caught up and found there, as after a conflict.
                    entry = await self._caught_up(key, decider, entry)
                    fresh = True
                    attempt += 1
                    continue
                # An election or a timeout: the append may or may not have landed. Reload and
                # look (the same Nats-Msg-Id deduplicates a resend) for a bounded time.
                self._cache.drop(key)
                entry = None
                if not is_transient(exc):
                    if isinstance(exc, AppendFailed):
                        return CommandRejected(
                            command_id=command.command_id, code="APPEND_FAILED", message=str(exc)
                        )
                    raise
                if loop.time() > transient_until:
                    raise
                appended_here = True
                log.info("append of %s met %r; retrying", command.command_id, exc)
                await asyncio.sleep(TRANSIENT_PAUSE)
                continue
            named = tuple(map(appended, stored))  # as the reply and the cache name them
            if backdated is None:
                self._advance(key, entry, decider, stored, decided, named, folded)
            else:  # folded in valid-time order with its later facts already
                entry.advance(stored, backdated.state, named)
                self._cache.grew(key, len(stored))
            return await self._remember(
                command, fingerprint, accepted_reply(command.command_id, named, False, entry.head)
            )
        return CommandRejected(
            command_id=command.command_id,
            code="CONCURRENCY_CONFLICT",
            message=f"{decider.aggregate_type} {aggregate_id} kept changing during"
            f" {self._max_attempts} attempts; retry the command with the same command id",
        )

    def _seal_ahead(
        self, entry: CachedAggregate, new_events: list[NewEvent], meta: CommandMetadata
    ) -> list[EventEnvelope] | None:
        """`new_events` sealed on the cached head now, for a store that appends envelopes
        sealed beforehand (`EventStore.SEALS_AHEAD`); None for one that seals in `append`.

        Sealed from our own values (`EventStorePort.sealer`: `bulk_seal.seal_trusted`, the
        same envelopes, hash and signature without pydantic's validation walk and JSON-mode
        dump of each envelope) where the values are of the envelope's types already: ids and
        actor from the validated request, payloads dumped by their validated event models in
        JSON mode, aware times. The one constraint of the envelope those do not already hold
        by their own types, the aggregate id's pattern (a route's id field may be a plain
        string), and the times' awareness are checked here (`_own_values`); otherwise sealed
        by `seal`, which validates (and refuses) as before."""
        if not self._store.SEALS_AHEAD:
            return None
        head = entry.head
        if self._sealer is not None and _own_values(head, new_events, meta):
            sealed = self._sealer(head, new_events, meta)
            if all(e.recorded_at.utcoffset() is not None for e in sealed):  # the store's clock
                return sealed
        return self._store.seal(head, new_events, meta)

    def _too_early(self, command: Command) -> CommandRejected | None:
        """The refusal of a valid time too far in the future, if it is."""
        if command.occurred_at is None or command.future_valid_time_allowed:
            return None
        latest = self._clock.now() + self._future_tolerance
        if command.occurred_at <= latest:
            return None
        # Named as the caller sent it (correct11): a deprecated day field (enrolled_on) sets
        # occurred_at to that day's Dutch start, which is all a request on the wire shows of
        # it (both fields travel filled); GraphQL callers write either in camelCase.
        field, sent = "occurred_at", command.occurred_at.isoformat()
        day_field = command.valid_day_field
        day = getattr(command, day_field) if day_field else None
        if day_field and day is not None and command.occurred_at == dutch_midnight(day):
            field, sent = day_field, day.isoformat()
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field)
        return CommandRejected(
            command_id=command.command_id,
            code="VALID_TIME_IN_FUTURE",
            message=f"{field} ({camel} in GraphQL) {sent} lies in the future"
            f" (more than {_minutes(self._future_tolerance)} after now,"
            f" {self._clock.now().isoformat()}); record a fact once it has happened",
        )

    async def _load_checked(self, decider: Decider[Any], aggregate_id: str) -> AggregateHistory:
        """The aggregate's history as stored, refused when it holds a forged or altered event
        (as `_load_aggregate` refuses it): a backdated decision reads it afresh."""
        history = await self._store.load(decider.context, decider.aggregate_type, aggregate_id)
        refuse_untrusted(history.events, nc=getattr(self._store, "nc", None))
        return history

    async def _load_aggregate(
        self, decider: Decider[Any], aggregate_id: str, transient_until: float
    ) -> CachedAggregate:
        """The aggregate as stored, folded; a transient failure is retried until the budget
        ends."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                history = await self._store.load(
                    decider.context, decider.aggregate_type, aggregate_id
                )
            except Exception as exc:
                if not is_transient(exc) or loop.time() > transient_until:
                    raise
                await asyncio.sleep(TRANSIENT_PAUSE)
                continue
            # Decide on no forged or altered history.
            refuse_untrusted(history.events, nc=getattr(self._store, "nc", None))
            return CachedAggregate.of(history, self.fold(decider, history))

    async def _caught_up(
        self, key: Key, decider: Decider[Any], entry: CachedAggregate
    ) -> CachedAggregate | None:
        """The cached aggregate with the events stored after its head (another process's, or
        our own earlier try's) read and folded onto it: a stale cache costs one read of what
        is new, not a reload of the whole history (two processes in one queue group take
        turns on an aggregate). None, and out of the cache, when that read or fold fails: the
        caller loads afresh (with the transient-failure budget)."""
        head = entry.head
        subjects = head.context.aggregate_filter(head.aggregate_type, head.aggregate_id)
        try:
            newer = [
                e async for e in self._store.read_stream(head.context, head.last_seq + 1, subjects)
            ]
            # Loaded afresh instead when refused, which refuses it with its reason.
            refuse_untrusted(newer, head.version, nc=getattr(self._store, "nc", None))
            if valid_order.out_of_order(decider, entry, newer):
                raise LookupError("a backdated fact was stored meanwhile: fold it in valid order")
            state = reduce(decider.evolve, (self.event_model(e) for e in newer), entry.state)
        except Exception as exc:
            log.info("catching up %s failed (%r); loading it afresh", key, exc)
            self._cache.drop(key)
            return None
        self._cache.drop(key)  # out and back in: the cache counts the events it holds
        entry.advance(newer, state)
        self._cache.put(key, entry)
        return entry

    def _advance(
        self,
        key: Key,
        entry: CachedAggregate,
        decider: Decider[Any],
        stored: list[StoredEvent],
        decided: Sequence[DomainEvent],
        named: Sequence[AppendedEvent] | None = None,
        folded: Any = None,
    ) -> None:
        """Our append landed: the cached aggregate continues with its events. They are folded
        as decided (validated models of the current version, which is what decoding their
        stored form gives back), not decoded again from what was just sealed; `folded`: that
        fold done already (`_folded`, while the lookups were under way: the entry it began
        from is the one appended on, held under the aggregate's lock)."""
        if folded is None or folded is _NOT_FOLDED:
            folded = _folded(decider, entry.state, decided)
        if isinstance(folded, _FoldFailed):
            # The events are stored; the next command folds them from the store.
            log.error("folding the events just appended to %s failed", key, exc_info=folded.exc)
            self._cache.drop(key)
            return
        state = folded
        entry.advance(stored, state, named)
        self._cache.grew(key, len(stored))

    async def _reused_id(
        self, route: CommandRoute[Any, Any], command: Command, ident: str
    ) -> CommandRejected | None:
        """A command whose id its aggregate's events carry, with no processed-command record
        to check its body by (a record write lost): refused when it is not the command those
        events came from (`retried.differs`), never given that command's result."""
        history = await self._load_checked(route.decider, ident)
        why = await retried.differs(route, command, history, self.event_model)
        if why is None:
            return None
        return CommandRejected(
            command_id=command.command_id,
            code="COMMAND_ID_REUSED",
            message=f"command id {command.command_id} was already used for a different command"
            f" ({why}); a retry resends the same command, a new command takes a new id",
        )

    def _answer_recorded(
        self, command: Command, fingerprint: str, previous: dict[str, Any]
    ) -> CommandAccepted | CommandRejected:
        used_by = (previous.get("context", self.context.name), previous.get("command_type"))
        if used_by[0] != self.context.name or used_by[1] not in (None, command.command_type):
            return CommandRejected(
                command_id=command.command_id,
                code="COMMAND_ID_REUSED",
                message=f"command id {command.command_id} was already used for"
                f" {used_by[1] or 'a command'} in the {used_by[0]} context; command ids are"
                " unique across all contexts (a retry resends the same command)",
            )
        if previous["fingerprint"] != fingerprint:
            return CommandRejected(
                command_id=command.command_id,
                code="COMMAND_ID_REUSED",
                message=f"command id {command.command_id} was already used for a different command",
            )
        return CommandAccepted.model_validate({**previous["reply"], "duplicate": True})

    # Command ids are unique across contexts: each context's record is keyed by the id alone and
    # says which context and command type used it; the other contexts' records are read too.
    # Keys of the form `<context>.<id>` are looked up as well (the in-memory record of older
    # tests and tools); records in the pre-upgrade shared JetStream bucket are NOT read: a
    # retried old command is still recognised by its aggregate's events (docs/operations.md).

    def _recall(self, command_id: str) -> asyncio.Future[list[bytes | None]]:
        """The recorded reply's JSON, if any, among what the future gives. The record is an
        index, not the truth: when it cannot be read in time (its bucket's leader is being
        elected) the aggregate's own events answer instead (`events_of_command`), so a
        command never waits on the bucket.

        All keys are asked at once (one round trip): the id, the id under its pre-uniqueness
        key (where the record may hold such keys: `processed.LegacyKeys`), and the id in the
        other contexts' records (command ids are unique across contexts; another's bucket
        unreadable now, in an election, means not known there). The reads start here; the
        caller lets them leave before it decides (`execute`)."""
        pending = self._pending.get(command_id)
        if pending is not None or self._processed is None:
            # Written by us a moment ago, still on its way (or no record at all).
            known: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
            known.set_result([pending])
            return known
        legacy = f"{self.context.name}.{command_id}"
        mirror = self._mirror
        records: list[tuple[ProcessedCommands, str]] = []
        if mirror is None or not mirror.trusted():
            records.append((self._processed, command_id))
            if self._legacy.possible():
                records.append((self._processed, legacy))
        else:  # a key the mirror does not hold has no record: only those it holds are asked
            if mirror.knows(command_id):
                records.append((self._processed, command_id))
            if mirror.knows(legacy):  # (written by an older process: seen here at once)
                records.append((self._processed, legacy))
        for other in self._elsewhere:  # (the same rule: `processed.LazyBucket.mirror`)
            held = getattr(other, "mirror", None)
            if held is None or not held.trusted() or held.knows(command_id):
                records.append((other, command_id))
        return self._read_all(records)

    def _asked(self, command_id: str) -> asyncio.Future[list[bytes | None]]:
        """`_recall`'s reads as without mirrors: every record asked whatever they hold."""
        assert self._processed is not None  # (a mirror is of this context's record)
        legacy = f"{self.context.name}.{command_id}"
        records = [(self._processed, command_id)]
        if self._legacy.possible() or (self._mirror is not None and self._mirror.knows(legacy)):
            records.append((self._processed, legacy))
        records += [(other, command_id) for other in self._elsewhere]
        return self._read_all(records)

    def _read_all(
        self, records: list[tuple[ProcessedCommands, str]]
    ) -> asyncio.Future[list[bytes | None]]:
        if not records:
            nothing: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
            nothing.set_result([])
            return nothing
        keys = [k for _r, k in records]
        return _all_read([self._reading(r, k) for r, k in records], keys)

    def _reading(self, record: ProcessedCommands, key: str) -> asyncio.Future[bytes | None]:
        """One record's read, started: a bucket that reads the lookups of one loop turn
        together (`processed.DirectLookups`) takes it without a task of its own."""
        lookup = getattr(record, "lookup", None)
        if lookup is None:
            return asyncio.ensure_future(self._read_record(record, key))
        found: asyncio.Future[bytes | None] = lookup(key, RECORD_TIMEOUT)
        return found

    @staticmethod
    async def _read_record(record: ProcessedCommands, key: str) -> bytes | None:
        try:
            get_within = getattr(record, "get_within", None)
            if get_within is not None:  # a request that times out by itself
                value: bytes | None = await get_within(key, RECORD_TIMEOUT)
                return value
            # A timeout scope, not `wait_for`: no task of its own, so the request is sent
            # on this task's first step.
            async with asyncio.timeout(RECORD_TIMEOUT):
                return await record.get(key)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("processed-command record of %s unreadable (%r)", key, exc)
            return None

    async def _remember(
        self, command: Command, fingerprint: str, reply: CommandAccepted
    ) -> CommandAccepted:
        """Record the reply and answer it without waiting for the write. The events are
        stored already and are the truth; the record is their index. The write is sent before
        the reply (one loop turn), and until it is confirmed this service answers a duplicate
        from memory; another process that asks in that instant finds the events by command
        id instead. A record that cannot be written is retried briefly and otherwise left for
        the next duplicate to repair; the answer stays `accepted` either way."""
        if self._processed is None or not reply.events:
            return reply
        # `{"context": ..., "command_type": ..., "fingerprint": ..., "reply": ...}` as the json
        # module writes it: the first two per command type written once (`_record_head`), the
        # fingerprint a hex digest (nothing to escape), the reply serialised by pydantic
        # straight to JSON (not to a dictionary and then through the json module).
        reply_json = reply.model_dump_json(exclude={"duplicate"}).encode()
        data = b"".join(
            (
                self._record_head(command.command_type),
                b', "fingerprint": "',
                fingerprint.encode(),
                b'", "reply": ',
                reply_json,
                b"}",
            )
        )
        self._pending[command.command_id] = data
        try:
            # Sent before the reply goes out; confirmed perhaps by a later write's
            # acknowledgement (`RecordWrites.send_later`: one message fewer a command).
            write = await self._sent(command.command_id, data, later=self.RECORDS_LATER)
        except BaseException:  # (cancelled while sending): not left in memory for good
            self._pending.pop(command.command_id, None)
            raise
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        # The reply as `handle` sends it: the record's JSON of it with `duplicate` (its last
        # field) added, not serialised a second time.
        ending = b',"duplicate":true}' if reply.duplicate else b',"duplicate":false}'
        _reply_json.set((reply, reply_json[:-1] + ending))
        return reply

    def _record_head(self, command_type: str) -> bytes:
        """`{"context": "<ctx>", "command_type": "<type>"` as `json.dumps` writes it (cmd17:
        the json module's encoder cost ~2-3 us a command for these constants)."""
        head = self._record_heads.get(command_type)
        if head is None:
            text = json.dumps({"context": self.context.name, "command_type": command_type})
            head = self._record_heads[command_type] = text[:-1].encode()
        return head

    async def _sent(
        self, command_id: str, data: bytes, *, later: bool = False
    ) -> asyncio.Future[None]:
        """`_write`, with the write queued on the connection when this returns (before the
        reply): a record that publishes on the caller's step (`processed.RecordWrites.send`)
        takes the first attempt without a task or a loop turn of its own. `later`: by
        `send_later` where the record has it (no acknowledgement of its own: a later
        write's confirms it; its future settles then, as `send`'s)."""
        send = getattr(self._processed, "send_later" if later else "send", None)
        if send is None and later:
            send = getattr(self._processed, "send", None)
        if send is None:
            started = self._write(command_id, data)
            # Tracked before the turn: a command cancelled during it still leaves its write
            # for `drain` to wait on.
            self._writes.add(started)
            started.add_done_callback(self._writes.discard)
            await asyncio.sleep(0)  # the write starts (and is sent) before the reply
            return started
        first: asyncio.Future[None] = await send(command_id, data, RECORD_TIMEOUT)
        return self._retried(command_id, data, first)

    def _write(self, command_id: str, data: bytes) -> asyncio.Future[None]:
        """The record's write under way, done when it is written or given up. A record that
        writes the writes of one loop turn together (`processed.RecordWrites`) takes the
        first attempt without a task of its own; a transient failure is retried as always."""
        write = getattr(self._processed, "write", None)
        if write is None:
            return asyncio.ensure_future(self._write_record(command_id, data))
        return self._retried(command_id, data, write(command_id, data, RECORD_TIMEOUT))

    def _retried(
        self, command_id: str, data: bytes, first: asyncio.Future[None]
    ) -> asyncio.Future[None]:
        """Done when the first attempt `first` succeeded or failed for good, or its transient
        failure was retried to the end (`_write_record`)."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def after(first: asyncio.Future[None]) -> None:
            failure = asyncio.CancelledError() if first.cancelled() else first.exception()
            if failure is not None and is_transient(failure):
                retry = asyncio.ensure_future(self._write_record(command_id, data, 1))
                retry.add_done_callback(lambda _: ended.set_result(None))
                return
            if failure is not None:
                log.error(
                    "processed-command record of %s not written", command_id, exc_info=failure
                )
            self._pending.pop(command_id, None)
            ended.set_result(None)

        first.add_done_callback(after)
        return ended

    async def _write_record(self, command_id: str, data: bytes, tried: int = 0) -> None:
        assert self._processed is not None
        try:
            if tried:
                await asyncio.sleep(TRANSIENT_PAUSE)
            for attempt in range(tried, RECORD_ATTEMPTS):
                try:
                    # No task of its own (unlike `wait_for`): the write is queued on this
                    # task's first step, before the reply, and both leave in one socket write.
                    async with asyncio.timeout(RECORD_TIMEOUT):
                        await self._processed.put(command_id, data)
                    return
                except Exception as exc:
                    if not is_transient(exc):
                        log.exception("processed-command record of %s not written", command_id)
                        return
                    if attempt + 1 == RECORD_ATTEMPTS:
                        log.warning(
                            "processed-command record of %s not written (%r); its events are"
                            " stored and a duplicate will repair the record",
                            command_id,
                            exc,
                        )
                        return
                    await asyncio.sleep(TRANSIENT_PAUSE)
        finally:
            self._pending.pop(command_id, None)

    async def drain(self) -> None:
        """Wait for the processed-command records still being written (acknowledged or timed
        out), and a look for pre-uniqueness keys under way (before a stop). Records
        confirmed by a later write (`send_later`) are covered first: none is to come."""
        cover = getattr(self._processed, "cover", None)
        if cover is not None:
            await cover()
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        # A record put on the wire by a command cancelled meanwhile is not among `_writes`
        # (its caller never got its future): the record's own writes know it.
        drain = getattr(self._processed, "drain", None)
        if drain is not None:
            await drain()
        await self._legacy.close()
        if self._mirror is not None:
            await self._mirror.close()
        for other in self._elsewhere:
            held = getattr(other, "mirror", None)
            if held is not None:
                await held.close()


# The reply a command's `_remember` serialised, and its JSON, for `handle` in the same task.
_reply_json: contextvars.ContextVar[tuple[CommandAccepted, bytes] | None] = contextvars.ContextVar(
    "reply_json", default=None
)


@dataclass(frozen=True)
class CommandParts:
    """What a service owns on its command side: its routes (which may read the store) and the
    event types it writes. The composition root (`bootstrap.parts.command_service`) turns
    them into the one `CommandService` of that service; a service never constructs one.
    """

    context: BoundedContext
    routes: Callable[[EventStorePort], Sequence[CommandRoute[Any, Any]]]
    event_types: Mapping[str, type[DomainEvent]]
    kind: type[CommandService] = CommandService  # a subclass that handles more subjects
    max_attempts: int = 8


def failure_reply(subject: str, exc: Exception) -> CommandRejected:
    """The reply for an exception that escaped a handler: UNAVAILABLE for a transient
    condition (retry the same command), INTERNAL_ERROR for a bug."""
    if isinstance(exc, UntrustedHistory):  # eventstore.trust: says which event, and why
        log.error("command on %s refused: %s", subject, exc)
        return CommandRejected(code="UNTRUSTED_HISTORY", message=str(exc))
    if is_transient(exc):
        log.warning("command on %s met a transient condition: %r", subject, exc)
        return unavailable(None, f"{type(exc).__name__}: {exc}")
    log.exception("command on %s failed", subject)
    return CommandRejected(code="INTERNAL_ERROR", message=f"internal error: {type(exc).__name__}")


def unavailable(command_id: str | None, detail: str) -> CommandRejected:
    return CommandRejected(
        command_id=command_id,
        code="UNAVAILABLE",  # errors.UNAVAILABLE, literal for the refusal catalogue
        message=f"temporarily unavailable ({detail}): send the same command again (same"
        f" command id; it is never stored twice) after {RETRY_AFTER_SECONDS:g}s",
    )


_NOT_FOLDED: Any = object()  # no fold ahead of the append (`_decide`)


@dataclass(frozen=True)
class _FoldFailed:
    exc: Exception


def _folded(decider: Decider[Any], state: Any, decided: Sequence[DomainEvent]) -> Any:
    """`state` with `decided` folded on, or `_FoldFailed` (a fold that raises: the append
    still goes ahead; the cache forgets the aggregate after it, `_advance`)."""
    try:
        return reduce(decider.evolve, decided, state)
    except Exception as exc:
        return _FoldFailed(exc)


_IDENTIFIER = re.compile(ID_PATTERN)


def _own_values(
    head: AggregateHistory, new_events: Sequence[NewEvent], meta: CommandMetadata
) -> bool:
    """Whether sealing `new_events` on `head` from their values as they are gives an envelope
    `EventEnvelope` validates (what `_seal_ahead` checks before it skips that validation):
    the aggregate id an `Identifier`, every valid time aware, every payload a dictionary
    (`_new_events`' JSON-mode dumps) of a schema version from 1, every name a string."""
    if not (type(head.aggregate_id) is str and _IDENTIFIER.fullmatch(head.aggregate_id)):
        return False
    if not (
        type(meta.actor) is str
        and type(meta.command_id) is str
        and type(meta.correlation_id) is str
        and (meta.causation_id is None or type(meta.causation_id) is str)
        and type(head.aggregate_type) is str
    ):
        return False
    return all(
        type(new.payload) is dict
        and type(new.schema_version) is int
        and new.schema_version >= 1
        and type(new.event_type) is str
        and isinstance(new.occurred_at, datetime)
        and new.occurred_at.utcoffset() is not None
        for new in new_events
    )


def _new_events(decided: Sequence[DomainEvent], valid_at: datetime) -> list[NewEvent]:
    return [
        NewEvent(e.event_type, e.schema_version, e.model_dump(mode="json"), valid_at)
        for e in decided
    ]


def _recalled(found: Sequence[bytes | None]) -> dict[str, Any] | None:
    value = next((v for v in found if v is not None), None)
    if value is None:
        return None
    result: dict[str, Any] = json.loads(value)
    return result


def _all_read(
    reads: list[asyncio.Future[bytes | None]], keys: list[str]
) -> asyncio.Future[list[bytes | None]]:
    """What `asyncio.gather` of the reads gives once all are done (one callback each, no
    gathering future of asyncio's), with a transient failure read as no record (as
    `_read_record` reads it) and any other failure raised. Cancelling it cancels the reads
    still under way."""
    result: asyncio.Future[list[bytes | None]] = asyncio.get_running_loop().create_future()
    left = [len(reads)]

    def settle(_done: asyncio.Future[bytes | None]) -> None:
        left[0] -= 1
        if left[0] or result.done():
            return
        values: list[bytes | None] = []
        for read, key in zip(reads, keys, strict=True):
            if read.cancelled():
                result.cancel()
                return
            exc = read.exception()
            if exc is None:
                values.append(read.result())
            elif is_transient(exc):
                log.warning("processed-command record of %s unreadable (%r)", key, exc)
                values.append(None)
            else:
                result.set_exception(exc)
                return
        result.set_result(values)

    def cancelled(outer: asyncio.Future[list[bytes | None]]) -> None:
        if outer.cancelled():
            for read in reads:
                read.cancel()

    for read in reads:
        read.add_done_callback(settle)
    result.add_done_callback(cancelled)
    return result


def _forget(task: asyncio.Future[Any] | None) -> None:
    """Cancel a task nobody waits for any more (its failure, if any, is not news)."""
    if task is None:
        return
    if task.done():
        if not task.cancelled():
            task.exception()
    else:
        task.cancel()


def _minutes(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _describe(exc: ValidationError, what: str) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
        for err in exc.errors()[:5]
    )
    return f"invalid {what}: {problems}"
