"""Lost messages: no decision on an aggregate whose last event the stream may have lost.

An event stream is append-only (deny delete, deny purge), and no registry code removes a
message; a message missing from it was deleted or purged by someone with the operator's NATS
rights, or lost with its block file. Every lost event in the *middle* of an aggregate's
history shows in the history itself (a version skipped, `trust.refuse_untrusted`), but a lost
*last* event leaves none: the stream's expected last subject sequence is then the event before
it, so the next command would be decided on the earlier state and a second event of the lost
version written (history silently rewritten; bench/findings.md, correct23 and guard22).

The stream's own state says it: JetStream never reuses a sequence, so `last_seq - messages`
messages are gone (interior deletes are `num_deleted`, a cut head moves `first_seq`, and what
the server found corrupt on disk is `lost`). From that, per stream, the highest sequence lost:
an aggregate whose last event lies after it (its versions whole from 1) cannot have lost an
event, since any of its events before its last would leave a gap in its versions; one whose
last event lies at or before it (or that has none yet) may have, and is refused
(`LostMessages`, an `UntrustedHistory`: the command's `UNTRUSTED_HISTORY` reply names the
stream, how many messages it lost, the highest, and what the operator does). Nothing else on
the stream stops: aggregates written after the loss go on.

Cost on the command path: two truthiness checks and one clock read per append. The stream's
state is asked (one `STREAM.INFO` request, no deleted list unless the count changed) at the
service's start (`EventStore.ensure_stream`, which asks it anyway), beside a load of an
aggregate that is not cached on a stream the process writes on when the last answer is older
than `LOAD_FRESHNESS` or the connection reconnected since (not waited for by the load: the
append after it waits for the answer, by then nearly always there; one request shared by the
loads under way), when an append's expected sequence is *behind* what the stream holds
for the aggregate (JetStream answers "wrong last sequence: N" with N lower than our head: our
head itself is gone), and in the background once an append finds the last answer older than
`REFRESH_SECONDS`. A deletion of a cached aggregate's last event is caught by its next append
(the third rule); of an uncached aggregate's, by the next load at least `LOAD_FRESHNESS`
after the last answer (a command on it within that moment after the deletion is not
covered); of another process's newer event of a cached aggregate, within `REFRESH_SECONDS`.

An operator repairs a stream in one of two ways (README, operations: "A stream that lost
messages"): restore it from a backup that still holds the messages (`eventstore.backup`), or
acknowledge the loss as it stands (`acknowledge`: a record signed with the context's key in
CHECKPOINTS, `checkpoints.<context>.losses`, naming how many messages were lost and the
highest): the guard then lets commands through again until the stream loses more. After an
acknowledgement the read models still hold what the lost events said: rebuild them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from prometheus_client import Gauge

from eventstore.hashing import canonical_json
from eventstore.signing import EventSigner, signature_holds
from eventstore.trust import UntrustedHistory, register_loss_check, trust_of

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
# A load asks the stream's state when the last answer is older than this (or the connection
# reconnected since, or the stream is refused already): a burst of cold loads (a process
# warming its cache) costs at most a few requests a second, not one each (~0.1-0.2 ms of
# client CPU per request here).
LOAD_FRESHNESS = 0.5
INFO_TIMEOUT = 5.0
CHECKPOINT_STREAM = "CHECKPOINTS"  # (eventstore.checkpoints imports the store: not from there)

LOST_MESSAGES = Gauge(
    "gt_stream_lost_messages",
    "Messages an event stream no longer holds (deleted, purged or lost on disk), and how many"
    " of them an operator has not acknowledged, by stream.",
    ["stream", "kind"],
)


class LostMessages(UntrustedHistory):
    """A command on an aggregate whose last event the stream may have lost."""


def losses_subject(context_name: str) -> str:
    return f"checkpoints.{context_name}.losses"


@dataclass(frozen=True)
class Acknowledgement:
    """An operator's signed word that a stream's loss, as it stood, is accepted."""

    context: str
    stream: str
    lost: int  # messages lost when it was signed
    highest: int  # the highest sequence lost then
    reason: str
    at: str  # ISO time it was signed
    signer: str
    signature: str = ""

    def body(self) -> dict[str, Any]:
        return {"context": self.context, "stream": self.stream, "lost": self.lost,
                "highest": self.highest, "reason": self.reason, "at": self.at,
                "signer": self.signer}  # fmt: skip

    def signed_text(self) -> str:
        return canonical_json(self.body()).decode()

    def holds(self) -> bool:
        return signature_holds(self.signer, self.signed_text(), self.signature)

    @classmethod
    def parse(cls, data: bytes | None) -> Acknowledgement:
        """ValueError when `data` is none."""
        values = json.loads(data or b"")
        fields = ("context", "stream", "lost", "highest", "reason", "at", "signer", "signature")
        if not isinstance(values, dict) or sorted(values) != sorted(fields):
            raise ValueError(f"not an object with exactly the fields {', '.join(fields)}")
        for name in ("lost", "highest"):
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} {value!r} is no count")
        if not all(isinstance(values[f], str) for f in fields if f not in ("lost", "highest")):
            raise ValueError("context, stream, reason, at, signer and signature are strings")
        return cls(**values)


@dataclass(frozen=True)
class StreamLoss:
    """What a stream has lost, as this process last saw it."""

    stream: str
    lost: int  # messages gone: deleted, purged, lost on disk
    highest: int  # the highest sequence among them
    last_seq: int  # the stream's last sequence then
    since: datetime  # when this process first saw this many lost
    acknowledged: Acknowledgement | None = None

    @property
    def guarding(self) -> bool:
        """Whether commands at or before `highest` are refused (more lost than acknowledged)."""
        return self.lost > 0 and (self.acknowledged is None or self.lost > self.acknowledged.lost)

    def describe(self) -> str:
        told = (
            f"{self.stream} has lost {self.lost} message{'s' if self.lost != 1 else ''}"
            f" (the highest lost is seq {self.highest}; seen since {self.since.isoformat()})"
        )
        ack = self.acknowledged
        if ack is not None:
            told += f"; {ack.lost} acknowledged by {ack.signer} at {ack.at} ({ack.reason})"
        return told

    def report(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "lost": self.lost,
            "highest_lost_seq": self.highest,
            "since": self.since.isoformat(),
            "acknowledged": self.acknowledged.lost if self.acknowledged else 0,
            "refusing": self.guarding,
        }


def lost_of(state: Mapping[str, Any]) -> tuple[int, int | None]:
    """How many messages a stream state (the `state` of a STREAM.INFO answer) says are gone,
    and the highest of them when the state tells it without its deleted list (None: ask with
    `deleted_details`). A stream never reuses a sequence and the event streams have no limits,
    so every sequence up to `last_seq` that holds no message was removed or lost."""
    last = int(state.get("last_seq") or 0)
    messages = int(state.get("messages") or 0)
    first = int(state.get("first_seq") or 0)
    on_disk = [int(s) for s in ((state.get("lost") or {}).get("msgs") or ())]
    beyond = [s for s in on_disk if s > last]  # (lost past the last sequence it recovered)
    lost = max(0, last - messages) + len(beyond)
    if not lost:
        return 0, 0
    head = first - 1 if first > 1 else 0  # a cut head: 1..first-1
    if state.get("deleted") is not None or not state.get("num_deleted"):
        deleted = [int(s) for s in state.get("deleted") or ()]
        return lost, max([head, *deleted, *on_disk])
    return lost, None


class Losses:
    """Per stream, what the stores on one NATS connection know it has lost, and the refusal
    of a command that may be decided on a history missing its last event (`of`: one per
    connection, shared by its stores; `trust.refuse_untrusted` asks it for every history a
    command loads)."""

    def __init__(self, nc: NATS, signers: Mapping[str, EventSigner] | None = None) -> None:
        self._nc = nc
        self._signers = dict(signers or {})
        # stream -> the highest lost sequence while more is lost than acknowledged: a head at
        # or below it is refused. Empty (the normal case): nothing refused, nothing looked up.
        self.thresholds: dict[str, int] = {}
        self.known: dict[str, StreamLoss] = {}
        self.watched: set[str] = set()  # the streams written on through this connection
        self._contexts: dict[str, str] = {}  # stream -> its context's name
        self._asking: dict[str, asyncio.Future[None]] = {}
        # Streams whose state a load asked and that has not answered yet: an append on them
        # waits for the answer first (`settle`). Empty nearly always (one truthiness check).
        self.unsettled: dict[str, asyncio.Future[None]] = {}
        self._asked_at: dict[str, float] = {}
        self._answered_at: dict[str, float] = {}
        self._reconnects = _reconnects(nc)

    @classmethod
    def of(cls, nc: NATS, signers: Mapping[str, EventSigner] | None = None) -> Losses:
        """The connection's (made on first use; `signers`: keys whose acknowledgements count
        besides those the readers trust)."""
        try:
            losses = _by_connection.get(nc)
        except TypeError:  # no connection (a store built for its sealing alone): its own
            return cls(nc, signers)
        if losses is None:
            losses = _by_connection[nc] = cls(nc, signers)
            register_loss_check(nc, losses.refuse)
        elif signers:
            losses._signers.update(signers)
        return losses

    def watch(self, stream: str, context_name: str) -> None:
        """A stream written on through this connection: its losses are asked beside each
        aggregate load (`EventStore.load`)."""
        self.watched.add(stream)
        self._contexts[stream] = context_name

    def _context_of(self, stream: str) -> str:
        return self._contexts.get(stream, stream.lower())

    # -- the command path --------------------------------------------------------------

    def refuse(self, stream: str, aggregate: str, last_seq: int) -> None:
        """Raise `LostMessages` when the stream lost a message after (or at) `last_seq`, the
        last event of the aggregate a decision is made on."""
        threshold = self.thresholds.get(stream)
        if threshold is None or last_seq > threshold:
            return
        loss = self.known[stream]
        last = f"its last event is seq {last_seq}" if last_seq else "it has no event"
        raise LostMessages(
            f"{aggregate}: {loss.describe()}; {last}, so its own last events may be among"
            " those lost, and nothing is decided on it until an operator restores the stream"
            " from a backup or acknowledges the loss (`audit verify` names the gap; README,"
            " operations: 'A stream that lost messages'). Aggregates whose last event is"
            f" after seq {loss.highest} take commands as before"
        )

    def due(self, stream: str) -> bool:
        """Whether the last answer about `stream` is older than REFRESH_SECONDS (one clock
        read; an append then asks again in the background)."""
        return time.monotonic() - self._asked_at.get(stream, 0.0) > REFRESH_SECONDS

    def refresh_soon(self, stream: str, context_name: str) -> None:
        """Ask again in the background (never raising into the caller)."""
        self._asked_at[stream] = time.monotonic()  # not asked again until it answered
        asking = self._ask(stream, context_name)
        asking.add_done_callback(_quiet)

    def ask_beside_load(self, stream: str, context_name: str) -> None:
        """The stream's state asked for a load (not waited for there: the load's own read
        and the decision go on meanwhile); the append that follows waits for the answer
        (`settle`) before its check. A request under way is shared."""
        reconnects = _reconnects(self._nc)
        if (
            time.monotonic() - self._answered_at.get(stream, 0.0) <= LOAD_FRESHNESS
            and reconnects == self._reconnects
            and stream not in self.thresholds
        ):
            return  # answered a moment ago, on this connection
        self._reconnects = reconnects
        asking = self._ask(stream, context_name)
        if asking.done() or self.unsettled.get(stream) is asking:
            return
        self.unsettled[stream] = asking

        def settled(done: asyncio.Future[None]) -> None:
            if self.unsettled.get(stream) is done:
                del self.unsettled[stream]
            if done.cancelled() or done.exception() is not None:
                self._asked_at[stream] = 0.0  # the next append asks again
                _quiet(done)

        asking.add_done_callback(settled)

    async def settle(self, stream: str) -> None:
        """Until the state a load asked for `stream` has answered (a failure is logged and
        asked again at the next append: not raised into this one)."""
        asking = self.unsettled.get(stream)
        if asking is not None:
            await asyncio.wait([asking])

    async def refresh(self, stream: str, context_name: str) -> None:
        """The stream's state asked now (a request already under way is shared)."""
        await asyncio.shield(self._ask(stream, context_name))

    # -- what the stream says ----------------------------------------------------------

    def _ask(self, stream: str, context_name: str) -> asyncio.Future[None]:
        asking = self._asking.get(stream)
        if asking is None or asking.done():
            asking = asyncio.ensure_future(self._info(stream, context_name))
            self._asking[stream] = asking
        return asking

    async def _info(self, stream: str, context_name: str) -> None:
        state = await self._state(stream, details=False)
        if state is None:
            return
        await self.observe(stream, context_name, state)

    async def _state(self, stream: str, *, details: bool) -> dict[str, Any] | None:
        body = b'{"deleted_details":true}' if details else b""
        msg = await self._nc.request(f"$JS.API.STREAM.INFO.{stream}", body, timeout=INFO_TIMEOUT)
        answer = orjson.loads(msg.data or b"{}")
        if "error" in answer:  # no stream yet: nothing recorded, nothing lost
            return None
        self._asked_at[stream] = self._answered_at[stream] = time.monotonic()
        state: dict[str, Any] = answer.get("state") or {}
        return state

    async def observe(self, stream: str, context_name: str, state: Mapping[str, Any]) -> None:
        """Take a stream state (any STREAM.INFO answer: the start's, a refresh's)."""
        lost, highest = lost_of(state)
        known = self.known.get(stream)
        if not lost:
            if known is not None:
                log.warning("%s holds every message again (restored?)", stream)
                self.known.pop(stream, None)
                self.thresholds.pop(stream, None)
                LOST_MESSAGES.labels(stream, "lost").set(0)
                LOST_MESSAGES.labels(stream, "unacknowledged").set(0)
            return
        if known is not None and known.lost == lost and not known.guarding:
            return  # as it was, acknowledged (read again only when the count moves)
        if highest is None:
            detailed = await self._state(stream, details=True)
            highest = lost_of(detailed or state)[1] or int(state.get("last_seq") or 0)
        since = known.since if known is not None and known.lost == lost else datetime.now(UTC)
        ack = await self._acknowledgement(context_name, stream)
        loss = StreamLoss(stream, lost, highest, int(state["last_seq"]), since, ack)
        self.known[stream] = loss
        if loss.guarding:
            self.thresholds[stream] = highest
        else:
            self.thresholds.pop(stream, None)
        LOST_MESSAGES.labels(stream, "lost").set(lost)
        LOST_MESSAGES.labels(stream, "unacknowledged").set(lost - (ack.lost if ack else 0))
        if known is not None and (known.lost, known.highest, known.acknowledged) == (
            lost,
            highest,
            ack,
        ):
            return  # (said already)
        if loss.guarding:
            log.error(
                "%s: commands on aggregates whose last event is at or before seq %s are"
                " refused until an operator restores or acknowledges it",
                loss.describe(),
                highest,
            )
        else:
            log.warning("%s", loss.describe())

    async def _acknowledgement(self, context_name: str, stream: str) -> Acknowledgement | None:
        own = self._signers.get(context_name)
        trusted = set(trust_of(self._nc).keys.get(context_name, {}))
        if own is not None:
            trusted.add(own.public_key)
        return await acknowledgement(self._nc, context_name, stream, trusted)

    def report(self) -> list[dict[str, Any]]:
        """Every stream that lost messages (health)."""
        return [loss.report() for _stream, loss in sorted(self.known.items())]

    async def health(self) -> dict[str, Any]:
        """The part of a service's health report (`HealthServer.add_report`): the streams
        written on asked again first (one request each; a failure is reported, not raised)."""
        failed = []
        for stream in sorted(self.watched):
            try:
                await self.refresh(stream, self._context_of(stream))
            except Exception as exc:
                failed.append(f"{stream}: its state could not be read ({exc!r})")
        return {"problems": failed + self.problems(), "streams": self.report()}

    def problems(self) -> list[str]:
        return [
            loss.describe() + ("" if not loss.guarding else ": commands on older aggregates"
                               " are refused until an operator restores or acknowledges it")
            for _stream, loss in sorted(self.known.items())
        ]  # fmt: skip


_by_connection: weakref.WeakKeyDictionary[object, Losses] = weakref.WeakKeyDictionary()


def _reconnects(nc: object) -> int:
    """How often the connection reconnected (a server restarted: its store may have lost
    messages with it)."""
    stats = getattr(nc, "stats", None)
    return int(stats.get("reconnects", 0)) if isinstance(stats, dict) else 0


def _quiet(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.info("stream state not read: %r", done.exception())


async def acknowledgement(
    nc: NATS, context_name: str, stream: str, trusted: set[str]
) -> Acknowledgement | None:
    """The last acknowledgement of the stream's losses, when it is signed by one of the
    `trusted` keys of its context and names the stream (None otherwise: logged why)."""
    request = json.dumps({"last_by_subj": losses_subject(context_name)}).encode()
    try:
        msg = await nc.request(
            f"$JS.API.DIRECT.GET.{CHECKPOINT_STREAM}", request, timeout=INFO_TIMEOUT
        )
    except Exception as exc:  # no CHECKPOINTS stream, no responder: none
        log.info("acknowledgements of %s not read (%r)", stream, exc)
        return None
    if (msg.headers or {}).get("Status"):
        return None
    try:
        ack = Acknowledgement.parse(msg.data)
    except ValueError as exc:
        log.error("the last acknowledgement of %s's losses is none (%s)", stream, exc)
        return None
    if ack.context != context_name or ack.stream != stream:
        log.error("the acknowledgement on %s names %s", losses_subject(context_name), ack.stream)
        return None
    if ack.signer not in trusted or not ack.holds():
        log.error("the acknowledgement of %s's losses is not signed by a trusted key", stream)
        return None
    return ack


async def acknowledge(
    nc: NATS, context_name: str, stream: str, signer: EventSigner, reason: str
) -> Acknowledgement:
    """Sign and store the operator's acknowledgement of `stream`'s loss as it stands now (the
    service lets commands through again at its next look, at most REFRESH_SECONDS later or at
    the next refused command). ValueError when the stream has lost nothing."""
    losses = Losses(nc)
    state = await losses._state(stream, details=True)
    if state is None:
        raise ValueError(f"no stream {stream}")
    lost, highest = lost_of(state)
    if not lost:
        raise ValueError(f"{stream} has lost no message: nothing to acknowledge")
    unsigned = Acknowledgement(
        context_name, stream, lost, highest or 0, reason, datetime.now(UTC).isoformat(),
        signer.public_key,
    )  # fmt: skip
    ack = Acknowledgement(**{**unsigned.body(), "signature": signer.sign(unsigned.signed_text())})
    body = json.dumps({**ack.body(), "signature": ack.signature}).encode()
    from eventstore.checkpoints import ensure_checkpoint_stream  # (it imports the store)
    from eventstore.clock import SystemClock
    from eventstore.store import EventStore

    await ensure_checkpoint_stream(EventStore(nc, SystemClock()))
    await nc.jetstream().publish(losses_subject(context_name), body, stream=CHECKPOINT_STREAM)
    return ack
