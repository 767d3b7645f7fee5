"""`BENCH_PROFILED_MODULE=M BENCH_PROFILE_OUT=FILE python -m bench.profiled ARGS...`: module M
run as `python -m M ARGS...` (a service process, unchanged), with a CPU profile (cProfile) that
another process switches on and off with signals: SIGUSR1 starts it, SIGUSR2 stops it and writes
it to FILE (pstats' format; FILE + ".on" is written once it has started).

The profile follows the main thread, the one running the event loop, by that thread's CPU time
(a busy machine does not charge its waits to the function that lost the core). While it runs,
work handed to the event loop's default executor runs inline on that thread, so the profile sees
the database side of a gateway request too (`InlineExecutor`); the CPU figures a bench reads from
/proc are taken in rounds without the profile, with the executor as served.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import cProfile
import os
import runpy
import signal
import sys
import time
from types import FrameType
from typing import Any

MODULE_ENV = "BENCH_PROFILED_MODULE"
OUT_ENV = "BENCH_PROFILE_OUT"


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs what is handed to it right away, in the calling thread: a profiler (which follows
    one thread) then sees it too."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class Switch:
    """The profile, switched by signals (handlers run on the main thread)."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.profile: cProfile.Profile | None = None

    @staticmethod
    def _executor(executor: concurrent.futures.ThreadPoolExecutor) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop on this thread yet
            return
        loop.set_default_executor(executor)

    def start(self, _signum: int, _frame: FrameType | None) -> None:
        if self.profile is not None:
            return
        self._executor(InlineExecutor())
        self.profile = cProfile.Profile(time.thread_time)
        self.profile.enable()
        with open(self.out + ".on", "w", encoding="ascii") as f:
            f.write("on\n")

    def stop(self, _signum: int, _frame: FrameType | None) -> None:
        if self.profile is None:
            return
        self.profile.disable()
        self._executor(concurrent.futures.ThreadPoolExecutor())
        self.profile.dump_stats(self.out + ".tmp")
        os.replace(self.out + ".tmp", self.out)  # whole, or not there
        self.profile = None


def main() -> None:
    module = os.environ[MODULE_ENV]
    switch = Switch(os.environ[OUT_ENV])
    signal.signal(signal.SIGUSR1, switch.start)
    signal.signal(signal.SIGUSR2, switch.stop)
    sys.argv = [module, *sys.argv[1:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
