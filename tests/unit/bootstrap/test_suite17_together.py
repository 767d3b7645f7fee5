"""`bootstrap.system.together`: how `make run` waits for the parts it starts at once (suite17).
The steps run at the same time; the first to fail is the error and the others are ended and
waited for; a cancel from outside ends every step first; no step's error goes unretrieved."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bootstrap.system import together


class PartFailed(RuntimeError):
    pass


async def test_the_steps_run_at_the_same_time() -> None:
    # Each waits for the other: one after another, neither would ever end.
    first, second = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def one() -> None:
        first.set()
        await second.wait()
        done.append("one")

    async def two() -> None:
        second.set()
        await first.wait()
        done.append("two")

    await asyncio.wait_for(together(one(), two()), timeout=60)
    assert sorted(done) == ["one", "two"]


async def test_the_first_failure_is_the_error_and_ends_the_others() -> None:
    ended: list[str] = []

    async def waits_for_ever() -> None:
        try:
            await asyncio.Future()
        finally:
            ended.append("waiting step ended")

    async def fails() -> None:
        raise PartFailed("the gateway process exited with code 2 at start")

    async def fails_later() -> None:  # fails only once it is cancelled: not the error
        try:
            await asyncio.Future()
        finally:
            ended.append("later step ended")
            raise PartFailed("the registry process exited with code -15 at start")

    with pytest.raises(PartFailed, match="the gateway process exited with code 2 at start"):
        await together(waits_for_ever(), fails(), fails_later())
    assert sorted(ended) == ["later step ended", "waiting step ended"]


async def test_no_step_error_is_left_unretrieved() -> None:
    reported: list[object] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context.get("message")))
    try:

        async def fails(after: float, what: str) -> None:
            await asyncio.sleep(after)
            raise PartFailed(what)

        async def ends_failing_when_cancelled() -> None:
            try:
                await asyncio.Future()
            finally:
                raise PartFailed("while being stopped")

        with pytest.raises(PartFailed, match="first"):
            await together(fails(0, "first"), fails(0, "second"), ends_failing_when_cancelled())
        gc.collect()  # an unretrieved task exception is reported when the task is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert reported == []


async def test_a_cancel_from_outside_ends_every_step_before_it_goes_on() -> None:
    started = asyncio.Event()
    ended: list[str] = []

    async def step(name: str) -> None:
        try:
            started.set()
            await asyncio.Future()
        finally:
            await asyncio.sleep(0.01)  # a stop that takes a moment
            ended.append(name)

    waiting = asyncio.ensure_future(together(step("a"), step("b")))
    await started.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert sorted(ended) == ["a", "b"]


async def test_a_step_that_swallows_a_cancel_is_cancelled_again() -> None:
    # As 3.11's wait_for may swallow one (eventstore.tasks): the step must still end.
    swallowed: list[int] = []

    async def swallows_once() -> None:
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            swallowed.append(1)
        await asyncio.Future()  # ended only by a second cancel

    async def fails() -> None:
        await asyncio.sleep(0)
        raise PartFailed("a part exited")

    with pytest.raises(PartFailed):
        await asyncio.wait_for(together(swallows_once(), fails()), timeout=60)
    assert swallowed == [1]
