"""Read-your-writes for one request: wait only for the read models it reads.

A consistency token names stream positions (a write's events). A request that names one must
not read a read model before that read model applied them; it need not wait for the read
models it never reads (the token query `contract { lastAmendment }` reads the contracts read
model alone, and waited for the slowest of four). `ReadModels` notes which read models a
request's statements are built from (every table is taken through it: `_current`) and, before
each statement runs, asks `reach` for those: the first statement that reads a read model waits
for it, later ones find it reached. A nested field that reads another read model (a contract's
tender, its events) waits for that one when it reads it.

One deadline per token and request (on a websocket: per operation), from its first wait: read
models reached one after another (a root's, then a nested field's) wait at most the timeout in
all, as one wait for every read model did. A read model
that did not reach the token in time fails every later read of it in the request at once,
with the same error (the compiled executor's fallback runs the document again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from eventstore.commands import parse_consistency_token
from eventstore.observability import tracer
from eventstore.projection import Projection, ProjectionRunner
from gateway.token_beyond import beyond_the_end

AUDIT_HISTORY = "audit_history"  # the audit's history read model (answers entitiesAsOf)
Kind = type[Projection]


class ConsistencyError(Exception):
    """A consistency token was malformed or the projections did not reach it in time."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(token: str) -> dict[str, int]:
    try:
        return parse_consistency_token(token)
    except ValueError as exc:
        raise ConsistencyError("INVALID_CONSISTENCY_TOKEN", str(exc)) from exc


def behind(runner: ProjectionRunner, positions: Mapping[str, int]) -> bool:
    """Whether the runner has not yet reached the positions on a stream it reads (the test
    `wait_until` makes first, without its lock and timer)."""
    read = runner.positions
    return any(
        read.get(c.stream, 0) < positions.get(c.stream, 0) for c in runner.projection.contexts
    )


def timed_out(
    token: str, late: Sequence[ProjectionRunner], timeout: float, beyond: str = ""
) -> ConsistencyError:
    return ConsistencyError(
        "CONSISTENCY_TIMEOUT",
        f"the read models {', '.join(r.projection.key for r in late)} did not reach {token}"
        f" within {timeout:g}s{beyond or '; retry the query with the same token'}",
    )


async def wait_all(
    runners: Sequence[ProjectionRunner], positions: dict[str, int], timeout: float
) -> list[ProjectionRunner]:
    """Wait for the runners to reach the positions at once; those that did not in time."""
    if len(runners) == 1:  # the common case: no task for gather to make
        results = [await runners[0].wait_until(positions, timeout)]
    else:
        results = await asyncio.gather(*(r.wait_until(positions, timeout) for r in runners))
    return [r for r, ok in zip(runners, results, strict=True) if not ok]


Refuse = Callable[[str, ConsistencyError], Exception]


@dataclass(frozen=True)
class Waited:
    """One wait of a request for read models behind its token, as wall-clock instants
    (seconds since the epoch, comparable with the projector's announced `News.stages`): when
    it began, when this process last heard one of their announcements before it ended (None:
    it ended on the checkpoints, or timed out), and when it ended. What the `Server-Timing`
    header says of a request's read-your-writes (`gateway.app`)."""

    keys: tuple[str, ...]
    began: float
    heard: float | None
    ended: float


class TokenWaits:
    """The consistency tokens one request named, and which read models reached each."""

    def __init__(self, timeout: float, refuse: Refuse | None = None) -> None:
        """`refuse(token, error)`: the exception a failed wait raises (the GraphQL layer's
        client error); by default the ConsistencyError itself."""
        self.timeout = timeout
        self._refuse: Refuse = refuse or (lambda _, error: error)
        self._named: set[str] = set()
        self._positions: dict[str, dict[str, int]] = {}  # the tokens that name positions
        self._reached: dict[str, set[Kind]] = {}  # per token: the read models that reached it
        self._deadlines: dict[str, float] = {}  # per token: loop time, from its first wait
        self._failed: dict[tuple[str, str], ConsistencyError] = {}  # (token, read model key)
        self.settled: frozenset[Kind] = frozenset()  # reached every token named so far
        self.pending = False  # a token names positions: reads must ask `reach`
        self.waited: list[Waited] = []  # the waits that found a read model behind

    def add(self, token: str) -> None:
        """Name a token; a malformed one raises ConsistencyError (INVALID_CONSISTENCY_TOKEN)."""
        if token in self._named:
            return
        positions = parse(token)
        self._named.add(token)
        if positions:
            self._positions[token] = positions
            self._reached[token] = set()
            self.settled = frozenset()
            self.pending = True

    async def reach(
        self, runners: Mapping[Kind, ProjectionRunner], kinds: Collection[Kind]
    ) -> None:
        """Return once each read model of `kinds` reached every token named (each waited for
        once per request and token); `runners`: the read models' runners by type. No kinds
        noted (a statement built from no read model's tables): every read model, to be safe."""
        wanted = set(kinds) if kinds else set(runners)
        if wanted <= self.settled or not self._positions:
            return
        for token in list(self._positions):
            await self._reach(token, runners, wanted)
        # Recomputed over the tokens named by now: one named while this waited is not taken
        # as reached by it.
        first, *rest = self._reached.values()
        self.settled = frozenset(first).intersection(*rest)

    async def _reach(
        self, token: str, runners: Mapping[Kind, ProjectionRunner], wanted: set[Kind]
    ) -> None:
        reached = self._reached[token]
        todo = wanted - reached
        if not todo:
            return
        positions = self._positions[token]
        waiting: list[tuple[Kind, ProjectionRunner]] = []
        for kind in todo:
            runner = runners.get(kind)
            if runner is None or runner.projection.name == AUDIT_HISTORY:
                reached.add(kind)  # no runner of its own to wait for (nor did any wait before)
                continue
            failed = self._failed.get((token, runner.projection.key))
            if failed is not None:
                raise self._refuse(token, failed)
            waiting.append((kind, runner))
        if not waiting:
            return
        # The token names the stream positions of the write: the events there carry the
        # mutation's trace, and so do the projection spans that applied them.
        attributes = {"gt.consistency_token": token}
        with tracer.start_as_current_span("read-your-writes", attributes=attributes):
            late_runners = await self._wait(token, positions, [r for _, r in waiting])
        late = {r.projection.key for r in late_runners}
        reached.update(k for k, r in waiting if r.projection.key not in late)
        if late_runners:
            beyond = await beyond_the_end(late_runners, positions)  # a stream too short?
            error = timed_out(token, late_runners, self.timeout, beyond)
            for key in late:
                self._failed[(token, key)] = error
            raise self._refuse(token, error)

    async def _wait(
        self, token: str, positions: dict[str, int], runners: list[ProjectionRunner]
    ) -> list[ProjectionRunner]:
        behind_now = [r for r in runners if behind(r, positions)]
        if not behind_now:
            return []
        now = asyncio.get_running_loop().time()
        deadline = self._deadlines.setdefault(token, now + self.timeout)  # from its first wait
        # (A websocket's operations each get a new TokenWaits: `Context.begin_operation`.)
        began = time.time()
        late = await wait_all(behind_now, positions, max(deadline - now, 0.0))
        ended = time.time()
        heard = [r.heard_wall for r in behind_now if r.heard_wall is not None]
        self.waited.append(
            Waited(
                tuple(r.projection.key for r in behind_now),
                began,
                max(heard) if heard and max(heard) >= began else None,
                ended,
            )
        )
        return late


SERVER_TIMING = "server-timing"


def server_timing(arrived: float, waits: TokenWaits, answered: float) -> str:
    """A request's read-your-writes in a `Server-Timing` header (W3C): `gt-ryw` the time it
    waited for read models behind its token(s) (ms; their keys in `desc`; absent: none was
    behind), `gt-ryw-began` when the first wait began, `gt-heard` when this process heard
    the announcement that ended the last wait and `gt-answered` when the answer was ready,
    each in ms after the request arrived, and
    `gt-arrived` that arrival as wall-clock seconds (in `desc`), to set the others beside
    the projector's announced instants (the freshness benchmark)."""
    parts = [f'gt-arrived;desc="{arrived:.6f}"']
    if waits.waited:
        keys = sorted({k for w in waits.waited for k in w.keys})
        spent = sum(w.ended - w.began for w in waits.waited)
        parts.append(f'gt-ryw;dur={spent * 1000:.3f};desc="{" ".join(keys)}"')
        parts.append(f"gt-ryw-began;dur={(waits.waited[0].began - arrived) * 1000:.3f}")
        last = waits.waited[-1]
        if last.heard is not None:
            parts.append(f"gt-heard;dur={(last.heard - arrived) * 1000:.3f}")
    parts.append(f"gt-answered;dur={(answered - arrived) * 1000:.3f}")
    return ", ".join(parts)
