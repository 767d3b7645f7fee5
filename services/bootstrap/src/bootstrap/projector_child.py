"""The projector as a child process of the embedded system (`make run`), as compose runs it.

Started with the system, stopped with it (SIGTERM, then a kill). Until every read model the
gateway follows has heard from it, the system does not serve; if it exits while the system
runs, each follower says so (`ProjectionRunner.failure`), and the gateway's health with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from eventstore.orphans import dying_with_parent
from eventstore.projection import ProjectionRunner
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0  # seconds: imports and, on a first start, the tables
STOP_TIMEOUT = 15.0


class ProjectorFailed(RuntimeError):
    pass


class ProjectorProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: dict[str, str]) -> ProjectorProcess:
        """Start `python -m bootstrap.serve projector` with exactly these GT_* settings (and
        the log format and level of this process's environment, if set)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
        for name in ("GT_LOG_FORMAT", "GT_LOG_LEVEL"):
            if name in os.environ:
                inherited[name] = os.environ[name]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.serve",
            "projector",
            env={**inherited, **settings},
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal is for the parent, which orders
            # SIGTERM when the system that started it dies (killed, out of memory): a second
            # `make run` never finds a projector of the first one leading on the same SQLite file.
            preexec_fn=dying_with_parent(signal.SIGTERM),
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def serving(
        self, runners: Sequence[ProjectionRunner], timeout: float = START_TIMEOUT
    ) -> None:
        """Wait until every follower heard the projector; then watch for its exit."""

        async def hear_all() -> list[bool]:
            return list(await asyncio.gather(*(r.wait_heard(timeout) for r in runners)))

        exited: asyncio.Task[int] = asyncio.create_task(self._process.wait())
        heard = asyncio.create_task(hear_all())
        await asyncio.wait([exited, heard], return_when=asyncio.FIRST_COMPLETED)
        await cancel_and_wait(exited)
        if not heard.done():
            await cancel_and_wait(heard)
            raise ProjectorFailed(
                f"the projector process exited with code {self._process.returncode} at start"
            )
        if not all(heard.result()):
            silent = [
                r.projection.key for r, ok in zip(runners, heard.result(), strict=True) if not ok
            ]
            raise ProjectorFailed(
                f"no word from the projector of {', '.join(silent)} in {timeout:g}s"
            )
        self._watch = asyncio.create_task(self._report_exit(runners))

    async def _report_exit(self, runners: Sequence[ProjectionRunner]) -> None:
        code = await self._process.wait()
        if self._stopping:
            return
        why = f"the projector process exited with code {code}; the read models no longer advance"
        log.error(why)
        for runner in runners:
            runner.failure = why

    async def unexpected_exit(self) -> str:
        """Wait until the process exits without being stopped; why, in one line."""
        code = await self._process.wait()
        if self._stopping:
            await asyncio.Future()  # stopped on purpose: never an unexpected exit
        return f"the projector process exited with code {code}"

    async def exited(self) -> int:
        """Wait for the process to end (and its end to be reported); its exit code."""
        code = await self._process.wait()
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)
        return code

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            await cancel_and_wait(self._watch)
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("projector did not stop within %ss: killed", STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
