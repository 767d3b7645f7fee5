"""A projection's committed positions, announced on NATS core: read-your-writes without polling.

The runner that applies a projection (the leader, in the projector process) publishes its
checkpoints on `gt.projections.<name>.<database>.<key>` after every commit, and every few seconds
when idle (a heartbeat: a follower that missed a message catches up, and one that hears
nothing for long knows its projector is gone). Readers that only follow (the gateway, a
standby runner) wake on these messages instead of asking the database in a loop.

The subject names the database, not the login: the projector writes with one role, the
gateway reads with another, both of the same database. It starts with the read model's name,
so NATS can let each service announce only its own read models (a forged, too-high position
would make a follower answer read-your-writes before the writes are there). Core NATS is at
most once: a lost message costs at most a heartbeat, or a last look at the checkpoints before
a wait gives up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy import Engine

from eventstore.settings import DEFAULT_HEARTBEAT

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "gt.projections"
DEFAULT_PORTS = {"postgresql": 5432}
# Seconds between a leader's announcements when nothing was committed: each runner reads
# GT_PROJECTION_HEARTBEAT_SECONDS (eventstore.settings.ProjectionSettings, this by default).
HEARTBEAT = DEFAULT_HEARTBEAT
SILENT_BEATS = 3  # a follower that heard nothing for this many beats reports its projector


def database_identity(engine: Engine) -> str:
    """Which database a runner writes to, the same for every login to it."""
    url = engine.url
    backend = url.get_backend_name()
    port = url.port or DEFAULT_PORTS.get(backend)  # spelt out or not: the same server
    where = f"{backend}://{(url.host or '').lower()}:{port or ''}/{url.database or ''}"
    return hashlib.sha256(where.encode()).hexdigest()[:12]


def subject(engine: Engine, name: str, key: str) -> str:
    return f"{SUBJECT_PREFIX}.{name}.{database_identity(engine)}.{key}"


def subjects_of(name: str) -> str:
    """Every announcement of the read model called `name` (any database, any version)."""
    return f"{SUBJECT_PREFIX}.{name}.>"


@dataclass(frozen=True)
class News:
    positions: dict[str, int]
    live_version: int | None
    parked: int = 0  # events the runner parked since it started
    # The commit this news follows, as wall-clock instants (seconds since the epoch): when
    # the runner received its batch, took the writer, committed, and announced. For whoever
    # measures where the time from a write to its visibility goes (the freshness benchmark,
    # an operator); empty in a heartbeat.
    stages: dict[str, float] = field(default_factory=dict)
    # A versioned read model's cold timelines since the runner started, by where their
    # earlier events came from: "local" (a read model of the same database, the event log)
    # and "loaded" (the event store, through the loop). What the applying process alone
    # knows, for whoever measures a cold timeline's cost (the freshness benchmark); empty for
    # a read model that folds no timelines.
    histories: dict[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        body: dict[str, object] = {
            "positions": self.positions,
            "live_version": self.live_version,
            "parked": self.parked,
        }
        if self.stages:
            body["stages"] = {**self.stages, "announced": time.time()}
        if self.histories:
            body["histories"] = self.histories
        return json.dumps(body).encode()

    @classmethod
    def decode(cls, data: bytes) -> News:
        body = json.loads(data)
        positions = {str(s): int(q) for s, q in dict(body["positions"]).items()}
        live = body.get("live_version")
        stages = {str(k): float(v) for k, v in dict(body.get("stages") or {}).items()}
        live_version = int(live) if live is not None else None
        histories = {str(k): int(v) for k, v in dict(body.get("histories") or {}).items()}
        return cls(positions, live_version, int(body.get("parked", 0)), stages, histories)


class Announcer:
    """Publishes a runner's news; a failed publish is logged, never fails the batch."""

    def __init__(self, nc: NATS, subject_: str) -> None:
        self._nc = nc
        self.subject = subject_

    async def announce(self, news: News) -> None:
        try:
            await self._nc.publish(self.subject, news.encode())
        except Exception as exc:  # the next commit or heartbeat says it again
            log.info("could not announce %s: %s", self.subject, exc)

    async def listen(self, on_news: Callable[[News], Awaitable[None]]) -> Subscription:
        async def handle(msg: Msg) -> None:
            try:
                news = News.decode(msg.data)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring malformed news on %s: %s", msg.subject, exc)
                return
            await on_news(news)

        return await self._nc.subscribe(self.subject, cb=handle)
