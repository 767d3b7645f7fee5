"""Hung tests say where they hang: the asyncio tasks' stacks, printed before the timeout kills.

The suite runs pytest-timeout with `timeout_method = "thread"` (pyproject): a test that is
still running at its timeout gets every thread's stack dumped and the run ends with an error.
The signal method is not enough with asyncio: its exception leaves the test's event loop,
and pytest-asyncio's loop shutdown then waits for every task to finish cancelling; a task that
does not (see `eventstore.tasks`) hangs the run with no timer left to fire.

A thread dump of an asyncio test shows only the main thread idle in the selector, so shortly
before the timeout this module prints what each task of the running loop is awaiting.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from types import FrameType
from typing import Any

import pytest

MARGIN = 3.0  # seconds before pytest-timeout's own dump


def _running_loop_of_main_thread() -> asyncio.AbstractEventLoop | None:
    frame: FrameType | None = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if frame.f_code.co_name == "run_forever" and isinstance(
            candidate, asyncio.AbstractEventLoop
        ):
            return candidate
        frame = frame.f_back
    return None


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    lines = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            lines.append(f"    awaiting {awaited!r}")
            break
        code = frame.f_code
        lines.append(f"    {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return lines


def dump_asyncio_tasks(nodeid: str) -> None:
    out = sys.__stderr__
    if out is None:
        return
    loop = _running_loop_of_main_thread()
    if loop is None:
        print(f"\n{nodeid}: about to time out; no asyncio loop running", file=out, flush=True)
        return
    lines = [f"\n{nodeid}: about to time out; asyncio tasks and what they await:"]
    for _ in range(3):  # the loop thread may change the task set while we read it
        try:
            tasks = list(asyncio.all_tasks(loop))
            break
        except RuntimeError:
            continue
    else:
        tasks = []
    for task in tasks:
        lines.append(f"  {task!r}")
        lines.extend(_awaiting(task))
    print("\n".join(lines), file=out, flush=True)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    """Start the task dump beside pytest-timeout's timer (returns None: its timer runs too)."""
    timeout = float(settings.timeout or 0)
    if timeout <= 0:
        return
    when = max(timeout - MARGIN, timeout * 0.9)
    timer = threading.Timer(when, dump_asyncio_tasks, (item.nodeid,))
    timer.daemon = True
    timer.name = f"asyncio dump {item.nodeid}"
    item.stash[_TIMER] = timer
    timer.start()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    timer = item.stash.get(_TIMER, None)
    if timer is not None:
        timer.cancel()


@pytest.hookimpl(trylast=True)
def pytest_exception_interact(node: pytest.Item | pytest.Collector) -> None:
    """A failed test's teardown stays bounded: pytest-timeout cancels its timer as soon as a
    test fails (its own `pytest_exception_interact`, meant for pdb), and the teardown that
    follows then had no limit. A test that failed with runners still going left its loop's
    shutdown waiting on them for good (`eventstore.tasks`): the whole run stood idle at 96%.
    The timer is armed again, whole, for the rest of the item's protocol."""
    if not isinstance(node, pytest.Item) or node.config.getvalue("usepdb"):
        return
    import pytest_timeout

    settings = pytest_timeout._get_item_settings(node)
    if settings.timeout and settings.timeout > 0 and not settings.func_only:
        node.config.pluginmanager.hook.pytest_timeout_set_timer(item=node, settings=settings)


_TIMER = pytest.StashKey[threading.Timer]()
