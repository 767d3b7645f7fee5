"""`Child.while_running`: a child that exits before the work is done is a start failure, also
when the work swallows its cancellation (it then returns, as if it had finished)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bootstrap.children import Child, ChildFailed


async def test_a_child_that_exits_first_fails_the_start_even_if_the_work_hides_it() -> None:
    # An unknown command: the child exits at once with code 2.
    child = await Child.start("unknown", ["no-such-command"], {})

    async def stubborn() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return "finished"  # swallowed: the task does not end cancelled
        return "slept"

    with pytest.raises(ChildFailed, match="the unknown process exited with code 2 at start"):
        await child.while_running(stubborn())


async def test_a_readiness_wait_whose_cancel_is_swallowed_still_ends() -> None:
    """SIGTERM during `make run`'s start cancels the wait for a child's readiness. On Python
    3.11 `wait_for` swallows a cancel that lands as the check it awaits completes (CPython
    gh-86296): the readiness loop then asked on until its deadline (120 s), after the run had
    been stopped, and its ChildFailed surfaced as a traceback at shutdown (CI54). Here every
    check ends in the same loop turn as a cancel of the readiness loop, so each cancel is
    swallowed by `wait_for`; the loop must still end, cancelled, long before its deadline."""
    # A process that stays up (the bootstrap's own commands need a broker): a plain sleep.
    child = Child("sleeper", await asyncio.create_subprocess_exec("sleep", "30"))
    asked = 0

    async def check() -> bool:
        nonlocal asked
        asked += 1
        loop = asyncio.get_running_loop()
        for task in asyncio.all_tasks():
            if task.get_coro().__qualname__.endswith("answered"):  # type: ignore[union-attr]
                loop.call_soon(task.cancel)  # runs before this check's result is handed over
        return False

    waiting = asyncio.create_task(child.ready(check, timeout=20))
    try:
        done, _ = await asyncio.wait({waiting}, timeout=5)
        assert waiting in done, f"still asking for readiness after its cancel ({asked} asks)"
        assert waiting.cancelled(), waiting.exception()
    finally:
        if not waiting.done():
            waiting.cancel()
            await asyncio.wait({waiting}, timeout=25)
        await child.stop()


async def test_a_stop_during_a_readiness_check_that_fails_leaves_no_unretrieved_error() -> None:
    """A stop (SIGTERM) cancels the readiness wait while its check is ending with an error
    (a request answered "no responders"): CI61 printed "Task exception was never retrieved"
    for it on `make run`'s stderr, from the task 3.11's `wait_for` made of the check. The
    check here turns its cancel into that error, as the request did."""
    child = Child("sleeper", await asyncio.create_subprocess_exec("sleep", "30"))
    loop = asyncio.get_running_loop()
    unretrieved: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    started = asyncio.Event()

    async def check() -> bool:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("no responders") from None
        return False

    waiting = asyncio.create_task(child.ready(check, timeout=20))
    try:
        await asyncio.wait_for(started.wait(), 10)
        waiting.cancel()
        await asyncio.wait({waiting}, timeout=10)
        assert waiting.done()
        del waiting
        gc.collect()  # an unretrieved task error is reported when the task is collected
        await asyncio.sleep(0)
        assert unretrieved == []
    finally:
        loop.set_exception_handler(None)
        await child.stop()
