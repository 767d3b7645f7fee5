"""Stopping background tasks for sure.

On Python 3.11 `asyncio.wait_for` swallows a cancellation that arrives just as the future it
waits for completes (CPython gh-86296, fixed in 3.12): it returns the result instead of raising
`CancelledError`. nats-py awaits every request with `wait_for`, so a `task.cancel()` that lands
in that window is lost, a `while True` loop around NATS calls keeps running, and a plain
`await task` after `cancel()` waits forever (the webhook dispatcher hung the test suite so,
more often the busier the machine). `cancel_and_wait` cancels again until the task is done.
Loops should also check a stop flag, so that a lost cancellation ends them at the next round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(
    task: asyncio.Task[Any] | None, *, timeout: float = 10.0, every: float = 0.05
) -> None:
    """Cancel `task` and return once it has finished (re-cancelling while it runs on).

    Raises `TimeoutError` (naming the task and where it is) if it is still running after
    `timeout` seconds. A task that ended with an exception has it logged, not raised.
    """
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    lost = 0
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every)
        if task.done():
            break
        lost += 1
        if loop.time() >= deadline:
            where = "".join(f"\n  {f.f_code.co_filename}:{f.f_lineno}" for f in task.get_stack())
            raise TimeoutError(
                f"task {task.get_name()} still running {timeout}s after cancel(); at:{where}"
            )
    if lost:
        log.info("task %s needed %d more cancel() to stop", task.get_name(), lost)
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s had failed", task.get_name(), exc_info=task.exception())
