"""The read-model file's integrity check, run beside requests rather than in their way.

SQLite's quick_check reads the whole file: seconds at a few hundred MB, over a minute for a
2 GB model on a loaded machine. A health probe that waited for it would time out (and an
orchestrator would restart a healthy gateway), so a probe gets the last finished answer while
the next one is made, one at a time. Before the first answer a probe waits a little for it,
then says that it is still running: never "whole" before anything was checked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class IntegrityCheck:
    def __init__(
        self, check: Callable[[], list[str]], max_age: float = 60.0, first_wait: float = 5.0
    ) -> None:
        self._check = check  # blocking: run in a thread
        self.max_age = max_age  # seconds an answer is kept before the next check starts
        self.first_wait = first_wait  # seconds a probe waits for the very first answer
        self._answer: tuple[float, list[str]] | None = None  # (finished at, problems)
        self._running: asyncio.Future[None] | None = None
        self._started = 0.0

    async def problems(self) -> list[str]:
        """What is wrong with the file (empty when whole), as of the last finished check."""
        stale = self._answer is None or time.monotonic() - self._answer[0] > self.max_age
        if stale and self._running is None:
            self._started = time.monotonic()
            self._running = asyncio.ensure_future(self._run())
        if self._answer is None:
            assert self._running is not None
            try:
                await asyncio.wait_for(asyncio.shield(self._running), self.first_wait)
            except TimeoutError:
                waited = time.monotonic() - self._started
                return [
                    "the read-model database's integrity check is still running "
                    f"(started {waited:.0f} s ago; a large file takes minutes)"
                ]
        assert self._answer is not None
        return list(self._answer[1])

    def forget(self) -> None:
        """Drop the kept answer: the next probe checks again (and waits for it)."""
        self._answer = None

    async def _run(self) -> None:
        try:
            found = await asyncio.to_thread(self._check)
        except Exception as exc:  # (a pool timeout under load): a problem, never "whole"
            log.warning("read-model integrity check failed: %r", exc)
            found = [f"the read-model database's integrity check failed: {exc!r}"]
        finally:
            self._running = None
        self._answer = (time.monotonic(), found)
