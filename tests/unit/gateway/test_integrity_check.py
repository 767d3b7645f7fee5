"""The read-model file's integrity check runs beside requests: a probe gets the last finished
answer while the next check runs, waits a little for the very first one and otherwise says
it is still running (never "whole" before anything was checked); one check at a time."""

from __future__ import annotations

import asyncio
import threading

from gateway.integrity import IntegrityCheck


class SlowCheck:
    """A quick_check stand-in whose answers the test releases one at a time."""

    def __init__(self) -> None:
        self.answers = [["page 7: corrupt"], []]
        self.release = threading.Event()
        self.runs = 0

    def __call__(self) -> list[str]:
        self.runs += 1
        assert self.release.wait(10)
        self.release.clear()
        return self.answers[self.runs - 1]


async def test_before_the_first_answer_a_probe_says_the_check_is_still_running() -> None:
    slow = SlowCheck()
    check = IntegrityCheck(slow, max_age=60.0, first_wait=0.05)

    pending = await check.problems()

    assert len(pending) == 1
    assert "integrity check is still running" in pending[0]
    slow.release.set()
    assert await _changed(check, pending) == ["page 7: corrupt"]
    assert slow.runs == 1


async def test_a_stale_answer_is_given_while_the_next_check_runs_one_at_a_time() -> None:
    slow = SlowCheck()
    check = IntegrityCheck(slow, max_age=60.0, first_wait=5.0)
    slow.release.set()
    assert await check.problems() == ["page 7: corrupt"]

    check.max_age = 0.0  # every answer stale from now on
    first, second = await check.problems(), await check.problems()

    assert first == second == ["page 7: corrupt"]  # not waited for the running check
    check.max_age = 60.0
    slow.release.set()
    assert await _changed(check, first) == []
    assert slow.runs == 2  # one check for both stale probes, not one per probe


async def _changed(check: IntegrityCheck, old: list[str]) -> list[str]:
    """Probe until the answer differs from `old` (bounded: a minute or more, against a hang;
    the check runs in a thread, which a loaded machine may not schedule for seconds)."""
    for _ in range(6000):
        got = await check.problems()
        if got != old:
            return got
        await asyncio.sleep(0.01)
    return old


async def test_a_check_that_fails_is_a_problem_not_a_whole_file() -> None:
    def failing() -> list[str]:
        raise TimeoutError("QueuePool limit reached")

    check = IntegrityCheck(failing, max_age=60.0, first_wait=5.0)

    found = await check.problems()

    assert len(found) == 1
    assert "integrity check failed" in found[0]
    assert "QueuePool limit reached" in found[0]
