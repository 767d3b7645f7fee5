"""`cancel_and_wait` stops a task whose cancellation Python 3.11's `wait_for` swallowed."""

from __future__ import annotations

import asyncio

import pytest

from eventstore.tasks import cancel_and_wait


def loop_around_wait_for(futures: list[asyncio.Future[None]]) -> asyncio.Task[None]:
    """A background loop like nats-py's requests: each round awaits a reply via `wait_for`."""

    async def run() -> None:
        while True:
            reply: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            futures.append(reply)
            await asyncio.wait_for(reply, 10)

    return asyncio.create_task(run(), name="requests")


async def cancel_as_the_reply_arrives(futures: list[asyncio.Future[None]]) -> asyncio.Task[None]:
    task = loop_around_wait_for(futures)
    await asyncio.sleep(0)  # the task now waits for its first reply
    futures[-1].set_result(None)  # the reply arrives ...
    task.cancel()  # ... in the same loop iteration as the cancel
    return task


async def test_a_cancel_landing_as_a_reply_arrives_is_lost_on_python_3_11() -> None:
    futures: list[asyncio.Future[None]] = []
    task = await cancel_as_the_reply_arrives(futures)
    done, _ = await asyncio.wait({task}, timeout=0.2)
    assert not done  # the loop runs on: `await task` here would wait forever
    assert len(futures) == 2
    await cancel_and_wait(task)


async def test_cancel_and_wait_stops_it_anyway() -> None:
    futures: list[asyncio.Future[None]] = []
    task = await cancel_as_the_reply_arrives(futures)
    await cancel_and_wait(task, timeout=30)
    assert task.cancelled()


async def test_a_task_that_refuses_to_stop_is_reported_with_where_it_is() -> None:
    refusing = True

    async def stubborn() -> None:
        while refusing:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    try:
        with pytest.raises(
            TimeoutError, match=r"(?s)stubborn still running 0.2s after.*test_tasks"
        ):
            await cancel_and_wait(task, timeout=0.2)
    finally:
        refusing = False
        await cancel_and_wait(task)
    assert task.done()


async def test_a_finished_or_missing_task_needs_nothing() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.wait({task})
    await cancel_and_wait(task)  # logged, not raised
    await cancel_and_wait(None)
