"""The retention period: identities unused for `GT_IDENTITY_RETENTION_DAYS` are erased, each
with its PersonErased event, by a sweep at start and then daily."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from eventstore.tasks import cancel_and_wait
from gateway.privacy.erasure import Sender, sweep_retention
from gateway.privacy.identities import IdentityStore

log = logging.getLogger(__name__)

DAY = 24 * 3600.0


class RetentionSweeper:
    def __init__(self, store: IdentityStore, bus: Sender, days: int, every: float = DAY) -> None:
        self._store, self._bus = store, bus
        self._retention = timedelta(days=days) if days > 0 else None
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._retention is not None:  # 0: kept until an erasure request
            self._task = asyncio.create_task(self._loop(self._retention))

    async def _loop(self, retention: timedelta) -> None:
        while True:
            try:
                erased = await sweep_retention(self._store, self._bus, retention)
                if erased:
                    log.info("retention: erased %d identities", len(erased))
            except Exception:
                log.exception("retention sweep failed; trying again at the next sweep")
            await asyncio.sleep(self._every)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
