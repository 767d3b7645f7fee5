"""The processes of `make run` (and the freshness benchmark) that run a container's command.

Each child is `python -m bootstrap.serve <command>` with exactly the GT_* settings given (and
this process's log format and level), in a session of its own: a Ctrl-C at the terminal
reaches only the parent, which stops the children in order (SIGTERM: each drains, then exits;
killed after `STOP_TIMEOUT`), or, told to hurry, kills them all at once (`kill_every_child`).
A child is killed (SIGKILL) when its parent dies without stopping it (killed, out of memory),
so no service of an earlier `make run` keeps serving beside the next one. Not SIGTERM: a
parent killed outright takes the NATS server with it (its watchdog), so a child could not
drain anyway, and one that tried would wait for NATS forever; every part is crash-safe
(commands are idempotent, read models commit with their checkpoints). A child that exits
while starting is an error naming it and its exit code; one that exits later is reported by
`unexpected_exit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, ClassVar, Self, TypeVar

from eventstore.orphans import dying_with_parent
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0  # seconds: imports and, on a first start, the tables
STOP_TIMEOUT = 15.0
T = TypeVar("T")


class ChildFailed(RuntimeError):
    pass


def child_environment(settings: dict[str, str]) -> dict[str, str]:
    """This environment without its GT_* variables (but the log format and level), plus
    `settings`: a child is configured by what its parent decided, nothing else."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    for name in ("GT_LOG_FORMAT", "GT_LOG_LEVEL"):
        if name in os.environ:
            inherited[name] = os.environ[name]
    return {**inherited, **settings}


class Child:
    """One running `python -m bootstrap.serve ...` process."""

    # Every child this process started, while it is referenced: what `kill_every_child` kills.
    _started: ClassVar[weakref.WeakSet[Child]] = weakref.WeakSet()

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self._process = process
        self._stopping = False

    @classmethod
    async def start(
        cls,
        name: str,
        command: Sequence[str],
        settings: dict[str, str],
        pass_fds: Sequence[int] = (),
        death_signal: int = signal.SIGKILL,
    ) -> Self:
        """Start it; it gets `death_signal` when this process dies without stopping it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.serve",
            *command,
            env=child_environment(settings),
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # the terminal's Ctrl-C is for the parent, which orders
            preexec_fn=dying_with_parent(death_signal),
            pass_fds=tuple(pass_fds),
        )
        child = cls(name, process)
        Child._started.add(child)
        return child

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def while_running(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s result, or ChildFailed if the process exits before it is done."""
        done = asyncio.create_task(work)
        exited = asyncio.create_task(self._process.wait())
        try:
            finished, _ = await asyncio.wait([done, exited], return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Told to stop at once, before any await here: a second cancellation of this wait
            # (SIGTERM during start) would otherwise end the cleanup with `work` left running.
            done.cancel()
            await cancel_and_wait(exited)
            if not done.done():
                await cancel_and_wait(done)
        # Asked of what `wait` saw, not of `done` afterwards: a `work` that swallows its
        # cancellation would return as if it had finished beside a process that is gone.
        if done not in finished:  # the process exited first
            raise ChildFailed(
                f"the {self.name} process exited with code {self._process.returncode} at start"
            )
        return done.result()

    async def ready(
        self, check: Callable[[], Awaitable[bool]], timeout: float = START_TIMEOUT
    ) -> None:
        """Wait until `check()` is true (asked every 50 ms), or raise ChildFailed if the
        process exits first or `timeout` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        async def answered() -> None:
            me = asyncio.current_task()
            while True:
                with contextlib.suppress(Exception):  # not yet answering: ask again
                    # `asyncio.timeout`, not `wait_for`: 3.11's wait_for runs `check` as a task
                    # of its own, and a stop that cancels us while that task ends with an
                    # error (NoResponders) left "Task exception was never retrieved" on stderr.
                    async with asyncio.timeout(max(0.1, deadline - loop.time())):
                        if await check():
                            return
                if me is not None and me.cancelling():
                    # A cancel `wait_for` swallowed (3.11, see eventstore.tasks): without this
                    # the loop asked on until its deadline, after the run had been stopped.
                    raise asyncio.CancelledError
                if loop.time() > deadline:
                    raise ChildFailed(f"the {self.name} process was not ready in {timeout:g}s")
                await asyncio.sleep(0.05)

        await self.while_running(answered())

    async def unexpected_exit(self) -> str:
        """Wait until the process exits without being stopped; why, in one line."""
        code = await self._process.wait()
        if self._stopping:
            await asyncio.Future()  # stopped on purpose: never an unexpected exit
        return f"the {self.name} process exited with code {code}"

    async def stop(self) -> None:
        """SIGTERM (it drains), then a kill after STOP_TIMEOUT."""
        self._stopping = True
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("%s did not stop within %ss: killed", self.name, STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()

    def kill(self) -> bool:
        """SIGKILL to its process group (it and whatever it started), if it still runs; the
        stop under way then ends at once. Whether it was running."""
        if self._process.returncode is not None:  # reaped: its pid may be another's now
            return False
        self._stopping = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)  # its own session: group id = pid
        return True


def kill_every_child() -> int:
    """SIGKILL every running child this process started (a second Ctrl-C); how many."""
    return sum(child.kill() for child in list(Child._started))
