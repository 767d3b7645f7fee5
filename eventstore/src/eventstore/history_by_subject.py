"""An aggregate's stored events read subject by subject: what a cold timeline costs a projector.

`EventStore.load` asks for the messages matching the aggregate's wildcard subject
(`<context>.events.<type>.<id>.*`, one subject per event type) from sequence 1 on. The server
answers a wildcard by looking through the message blocks from the first that may hold a match:
on a stream of 30,000 events of ~1.5 KB, 20-40 ms per aggregate at p50 on this 2-core machine
(often more once the blocks' caches have expired), against 3-7 ms for the same messages asked
subject by subject, each found at once through the server's per-subject index. A projector pays
it on the first change of every aggregate whose timeline is not in memory (after a start, an
eviction): the freshness suite's slowest polling probes spent 40-140 ms there.

So a history is read in two steps: the last message of each subject under the wildcard
(`multi_last`, answered from the index; it names the aggregate's event types), then each of
those subjects from its start, all at once, merged in stream order. The events are decoded as
`EventStore.load` decodes them, so a reader gets the same list either way. Too many subjects
for one answer, or a server that cannot answer `multi_last`: the wildcard read, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contracts_schema.subjects import BoundedContext
from eventstore.clock import SystemClock
from eventstore.store import PUBLISH_TIMEOUT, EventStore, StoredEvent

log = logging.getLogger(__name__)

# The most subjects one `multi_last` answer may name before the wildcard read is used instead
# (an aggregate has one subject per event type it ever stored: a handful).
SUBJECTS_AT_MOST = 256


class HistoryReader:
    """Reads aggregates' earlier events for a projection runner (read only)."""

    def __init__(self, nc: NATS, *, subjects_at_most: int | None = None) -> None:
        self._nc = nc
        self._store = EventStore(nc, SystemClock())  # read only: nothing is sealed here
        self._at_most = SUBJECTS_AT_MOST if subjects_at_most is None else subjects_at_most
        self.reads = 0  # histories read
        self.wildcard_reads = 0  # of them by the wildcard (too many subjects, no answer)

    async def before(
        self, context: BoundedContext, aggregate_type: str, aggregate_id: str, before: int
    ) -> list[StoredEvent]:
        """The aggregate's events stored before sequence `before`, in stream order."""
        self.reads += 1
        wildcard = context.aggregate_filter(aggregate_type, aggregate_id)
        subjects = await self._subjects(context.stream, wildcard)
        if subjects is None:
            self.wildcard_reads += 1
            history = await self._store.load(context, aggregate_type, aggregate_id)
            return [e for e in history.events if e.seq < before]
        reads = await asyncio.gather(*(self._read(context, s) for s in subjects))
        events = sorted((e for read in reads for e in read), key=lambda e: e.seq)
        return [e for e in events if e.seq < before]

    async def _read(self, context: BoundedContext, subject: str) -> list[StoredEvent]:
        return [e async for e in self._store.read_stream(context, 1, subject)]

    async def _subjects(self, stream: str, wildcard: str) -> list[str] | None:
        """The subjects under `wildcard` that hold a message (their last ones, by `multi_last`);
        None when the answer could be cut short or the server did not give one."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[str] = loop.create_future()  # the status that ended the answer
        subjects: list[str] = []

        async def on_message(msg: Msg) -> None:
            if ended.done():
                return
            headers = msg.headers or {}
            status = headers.get("Status")
            if status:
                ended.set_result(status)
            elif "Nats-Subject" in headers:
                subjects.append(headers["Nats-Subject"])
            else:
                ended.set_result("no subject")

        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox, cb=on_message)
        try:
            request = {"multi_last": [wildcard], "batch": self._at_most}
            await self._nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox
            )
            seen = -1
            while not ended.done():
                if len(subjects) == seen:
                    raise nats.errors.TimeoutError  # nothing came for PUBLISH_TIMEOUT
                seen = len(subjects)
                await asyncio.wait([ended], timeout=PUBLISH_TIMEOUT)
        except nats.errors.TimeoutError:
            log.info("no multi_last answer on %s for %s: the wildcard read", stream, wildcard)
            return None
        finally:
            await sub.unsubscribe()
        status = ended.result()
        if status == "404":  # nothing stored under the wildcard
            return []
        if status != "204" or len(subjects) >= self._at_most:  # 204: the end of the answer
            return None
        return subjects
