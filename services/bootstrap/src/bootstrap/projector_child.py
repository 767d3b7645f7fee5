"""The projector as a child process of the embedded system (`make run`), as compose runs it.

A `Child` (`bootstrap.children`) started and stopped with the system. It is ready once every
read model the gateway follows has heard from it; if it exits while the system runs, each
follower says so (`ProjectionRunner.failure`), and the gateway's health with it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from bootstrap.children import START_TIMEOUT, Child, ChildFailed
from eventstore.projection import ProjectionRunner
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# The audit projector's CPU priority below the rest of the run's parts: nothing a token or a
# polling client waits for is in it (`entitiesAsOf` waits for it, read-your-writes does not),
# yet its fold (~3 ms of CPU per amendment) took the cores from the projector and the
# services on a small machine. Niceness 10: about a tenth of a part's share while they are
# busy, every idle cycle otherwise.
AUDIT_NICENESS = 10


class ProjectorProcess(Child):
    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        super().__init__(name, process)
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    async def start_projector(
        cls, settings: dict[str, str], read_models: str = "all"
    ) -> ProjectorProcess:
        """Start `python -m bootstrap.serve projector --read-models <read_models>` with exactly
        these GT_* settings (and the log format and level of this process's environment, if
        set): "all" or "gateway" is the projector, "audit" the audit's projector."""
        name = "audit projector" if read_models == "audit" else "projector"
        command = ["projector", "--read-models", read_models]
        # SIGTERM when the system that started it dies (killed, out of memory): a second
        # `make run` never finds a projector of the first one leading on the same SQLite file.
        niceness = AUDIT_NICENESS if read_models == "audit" else 0
        return await cls.start(
            name, command, settings, death_signal=signal.SIGTERM, niceness=niceness
        )

    async def serving(
        self, runners: Sequence[ProjectionRunner], timeout: float = START_TIMEOUT
    ) -> None:
        """Wait until every follower heard the projector; then watch for its exit."""

        async def hear_all() -> list[bool]:
            return list(await asyncio.gather(*(r.wait_heard(timeout) for r in runners)))

        heard = await self.while_running(hear_all())
        if not all(heard):
            silent = [r.projection.key for r, ok in zip(runners, heard, strict=True) if not ok]
            raise ChildFailed(f"no word from the projector of {', '.join(silent)} in {timeout:g}s")
        self._watch = asyncio.create_task(self._report_exit(runners))

    async def _report_exit(self, runners: Sequence[ProjectionRunner]) -> None:
        code = await self._process.wait()
        if self._stopping:
            return
        why = f"the {self.name} process exited with code {code}; the read models no longer advance"
        log.error(why)
        for runner in runners:
            runner.failure = why

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
        await super().stop()
