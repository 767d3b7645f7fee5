"""Webhook deliveries: the INTEGRATION stream POSTed to subscribed URLs, signed, retried.

Per subscription a cursor over the INTEGRATION stream turns matching messages into delivery
rows (same transaction as the cursor move). Deliveries are attempted with exponential backoff
and full jitter, parked after `webhook_max_attempts` failures, and every attempt is recorded.
A `WebhookReplayRequested` event moves the cursor back and re-queues what follows it.
Several dispatchers (notifier instances) may share one database: cursor moves and claims are
compare-and-set (see `notifier.webhook_store`), so no delivery is attempted by two at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from nats.aio.client import Client as NATS
from sqlalchemy import Engine

from contracts_schema.notifier.urls import address_problem, host_of, url_problem
from eventstore.clock import Clock
from eventstore.observability import WEBHOOK_DELIVERIES
from eventstore.tasks import cancel_and_wait
from notifier.egress import webhook_client
from notifier.feed import INTEGRATION_STREAM
from notifier.projection import NotifierSchedule
from notifier.publisher import ensure_integration_stream
from notifier.settings import NotifierSettings
from notifier.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    subscription_secret,
)
from notifier.webhook_store import Cursor, DeliveryStore, attempts, deliveries, wants

__all__ = ["WebhookDispatcher", "attempts", "backoff", "deliveries", "wants"]
T = TypeVar("T")

log = logging.getLogger(__name__)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
    The power is a float's, its exponent held below a float's range: `base * 2 ** 1024` (an
    int too large for a float) raised OverflowError from the 1,025th attempt on (allowed by a
    large GT_WEBHOOK_MAX_ATTEMPTS), so the attempt went unrecorded and was claimed again every
    lease, for ever, never parked."""
    return random.uniform(0, min(cap, base * 2.0 ** min(attempt - 1, MAX_EXPONENT)))


MAX_EXPONENT = 1023  # 2.0 ** 1023 is a float; a larger base times it is inf, not an error


class WebhookDispatcher:
    def __init__(
        self,
        nc: NATS,
        engine: Engine,
        projection: NotifierSchedule,
        clock: Clock,
        settings: NotifierSettings,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._nc = nc
        self._engine = engine
        self._projection = projection
        self._clock = clock
        self._settings = settings
        self._client = client
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.store = DeliveryStore(engine, projection.subscriptions)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # The delivery store's calls on threads of their own: a name lookup cut off by an
        # attempt's deadline still holds its thread of the loop's default pool until the
        # resolver gives up, and a few of them must not stall the store behind them.
        self._store_threads = ThreadPoolExecutor(2, thread_name_prefix="webhook-store")

    async def _in_store(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._store_threads, call, *args)

    async def start(self) -> None:
        self._settings.master_key()  # no key, no start: a public default would sign nothing
        await self._in_store(self.store.create)
        await ensure_integration_stream(self._nc, replicas=self._settings.stream_replicas)
        s = self._settings
        self._client = self._client or webhook_client(s.webhook_timeout, s.webhook_allowed_hosts)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        # The flag ends the loop even when a cancel() is lost (see `eventstore.tasks`).
        self._stopping.set()
        await cancel_and_wait(self._task)
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatch round failed")
            await asyncio.sleep(self._settings.webhook_poll_interval)

    async def run_once(self) -> None:
        await self._enqueue()
        await self._attempt_due()

    # --- turning INTEGRATION messages into deliveries --------------------------------------

    async def _enqueue(self) -> None:
        subs = await self._in_store(self.store.active_subscriptions)
        if not subs:
            return
        info = await self._nc.jetstream().stream_info(INTEGRATION_STREAM)
        head = int(info.state.last_seq)
        for sub in subs:
            cursor: Cursor = await self._in_store(self.store.cursor, sub, head)
            messages = await self._read(cursor.next_seq)
            await self._in_store(self.store.queue, sub, cursor, messages)

    async def _read(self, from_seq: int) -> list[tuple[int, str, bytes]]:
        out: list[tuple[int, str, bytes]] = []
        js = self._nc.jetstream()
        seq = from_seq
        while True:
            try:
                msg = await js.get_msg(INTEGRATION_STREAM, seq, next=True, subject="gt.>")
            except Exception:  # nothing at or after seq
                return out
            out.append((int(msg.seq or 0), str(msg.subject), bytes(msg.data or b"")))
            seq = int(msg.seq or 0) + 1
            if len(out) >= 500:
                return out

    # --- attempts ----------------------------------------------------------------------------

    async def _attempt_due(self) -> None:
        s = self._settings
        claimed = await self._in_store(
            self.store.claim, self.owner, s.webhook_claim_batch, s.webhook_claim_lease
        )
        # Side by side, each within its deadline: one slow endpoint holds neither the other
        # subscribers nor the rest of the batch past its claim lease.
        outcomes = await asyncio.gather(
            *(self._attempt(row) for row in claimed), return_exceptions=True
        )
        for row, outcome in zip(claimed, outcomes, strict=True):
            if isinstance(outcome, Exception):  # its claim lapses and it is tried again
                log.error("webhook attempt %s:%s failed: %r", row.subscription_id, row.seq, outcome)

    async def _attempt(self, row: Any) -> None:
        assert self._client is not None
        secret = subscription_secret(self._settings.master_key(), row.subscription_id)
        body = row.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/cloudevents+json",
            DELIVERY_HEADER: f"{row.subscription_id}:{row.seq}",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        status_code: int | None = None
        error: str | None = None
        deadline = self._settings.webhook_timeout
        try:
            # httpx's timeout is per read: an endpoint trickling a byte at a time never hit
            # it. The whole attempt (resolving, connecting, the answer's head) has one
            # deadline, and the answer's body is never read (it could be endless).
            async with asyncio.timeout(deadline):
                refused = await self._refused_target(row.url)
                if refused:
                    raise httpx.ConnectError(refused)
                request = self._client.build_request("POST", row.url, content=body, headers=headers)
                response = await self._client.send(request, stream=True)
                await response.aclose()
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except TimeoutError:
            error = f"the endpoint did not answer within {deadline} s (GT_WEBHOOK_TIMEOUT)"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except httpx.InvalidURL as exc:  # stored before SubscribeWebhook bounded its URL
            error = f"the webhook URL cannot be sent: {exc}"[:500]
        except Exception as exc:
            # Whatever else the request raised (an ExceptionGroup out of the connect) is this
            # attempt's failure, recorded and counted: unrecorded, the claim lapsed and the
            # delivery was claimed again every lease, for ever, never parked.
            log.warning("webhook attempt %s:%s raised", row.subscription_id, row.seq, exc_info=True)
            error = f"the request to the webhook URL failed: {type(exc).__name__}: {exc}"[:500]
        outcome, changes = self._outcome(row.attempts + 1, error)
        await self._in_store(
            self.store.record, self.owner, row, outcome, changes, status_code, error
        )
        WEBHOOK_DELIVERIES.labels(outcome).inc()

    async def _refused_target(self, url: str) -> str | None:
        """Checked at every attempt: a public name may resolve to a private address later."""
        allowed = self._settings.webhook_allowed_hosts
        problem = url_problem(url, allowed)
        host = host_of(url)
        if problem or host in allowed:
            return problem
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None)
        except OSError as exc:
            return f"{host} does not resolve: {exc}"
        for info in infos:
            problem = address_problem(str(info[4][0]))
            if problem:
                return f"{host} resolves to {info[4][0]}: {problem}"
        return None

    def _outcome(self, attempt: int, error: str | None) -> tuple[str, dict[str, Any]]:
        s = self._settings
        if error is None:
            return "delivered", {"status": "delivered", "last_error": None}
        if attempt >= s.webhook_max_attempts:
            return "parked", {"status": "parked", "last_error": error}
        delay = backoff(attempt, s.webhook_base_delay, s.webhook_max_delay)
        return "failed", {"last_error": error, "next_attempt_at": time.time() + delay}
