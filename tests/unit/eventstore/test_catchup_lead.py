"""Runners catching up on one stream stay within `LEAD` ranges of the slowest (so the
ranges they read are still kept when it asks), and never wait for a stalled one for long."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from eventstore import catchup
from eventstore.catchup import CATCH_UP_BATCH, _StreamTap


def _tap() -> _StreamTap:
    return _StreamTap(None, "S", "s.>")  # type: ignore[arg-type]  # no read in these tests


async def test_a_runner_ahead_waits_until_the_slowest_is_within_the_lead() -> None:
    tap = _tap()
    slow, fast = object(), object()
    tap.join(slow, 0)
    ahead = (tap.LEAD + 1) * CATCH_UP_BATCH  # one range too far ahead
    tap.join(fast, ahead)
    waiting = asyncio.create_task(tap._within_lead(ahead // CATCH_UP_BATCH))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    tap._at[slow] = 1  # the slowest moves on (as `after` records it)
    tap._wake()
    await asyncio.wait_for(waiting, 30)


async def test_a_runner_leaving_releases_the_others() -> None:
    tap = _tap()
    slow, fast = object(), object()
    tap.join(slow, 0)
    tap.join(fast, 100 * CATCH_UP_BATCH)
    waiting = asyncio.create_task(tap._within_lead(100))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    tap.leave(slow)
    await asyncio.wait_for(waiting, 30)
    tap.leave(fast)
    assert tap.members == 0


async def test_a_stalled_slowest_runner_is_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catchup, "STALLED", 0.05)
    tap = _tap()
    tap.join(object(), 0)
    tap.join(fast := object(), 100 * CATCH_UP_BATCH)
    await asyncio.wait_for(tap._within_lead(100), 1)  # goes on alone
    assert tap.members == 2
    del fast


async def test_runners_within_the_lead_do_not_wait() -> None:
    tap = _tap()
    tap.join(object(), 0)
    tap.join(object(), tap.LEAD * CATCH_UP_BATCH)
    done: Any = await asyncio.wait_for(tap._within_lead(tap.LEAD), 0.5)
    assert done is None
