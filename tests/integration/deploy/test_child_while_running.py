"""`Child.while_running`: a child that exits before the work is done is a start failure, also
when the work swallows its cancellation (it then returns, as if it had finished)."""

from __future__ import annotations

import asyncio

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
