"""The projector as a child process of the embedded system (`make run`), as compose runs it.

A `Child` (`bootstrap.children`) started and stopped with the system. It is ready once every
read model the gateway follows has heard from it. If it exits while the system runs, it is
started again, as compose's `restart: unless-stopped` does, at most `restarts` times within
`RESTART_WINDOW` (each after a pause, doubled from `RESTART_PAUSE`), each logged; its read
models resume from their checkpoints. Meanwhile, and for good once the restarts are spent,
each follower here says why (`ProjectionRunner.failure`: the gateway's health where the
gateway runs in this process; a gateway process of its own hears the silence: three beats,
`projection_news.SILENT_BEATS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from bootstrap.children import START_TIMEOUT, Child, ChildFailed
from eventstore.projection import PREPARE_AHEAD_ENV, ProjectionRunner
from eventstore.settings import (
    AUDIT_NICENESS_ENV,
    HEARTBEAT_ENV,
    ProjectionSettings,
    setting_problems,
)
from eventstore.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RESTARTS = 3  # restarts of a projector that exits, within RESTART_WINDOW (make run)
RESTART_WINDOW = 600.0  # seconds
RESTART_PAUSE = 1.0  # seconds before the first restart of a window; doubled for each next
# How much nicer (`os.nice`) the audit's projector may run than the rest: its fold costs
# ~1-5 ms of CPU an event, and under 100 cmd/s it took a core's share beside the gateway's
# projector, the gateway and the services, whose turns decide how soon a write is readable.
# Nicer, it loses no event, it only runs later when the CPU is contended (no consistency token
# waits for it; `entitiesAsOf` waits for its present, so that waits longer). Default 0 (as
# the others): fresh24's pairs at load 16-32 did not show it better (bench/findings.md); a
# quiet A/B decides. 0..19.
AUDIT_NICENESS: int = ProjectionSettings.model_fields["audit_projector_niceness"].default


def audit_niceness(environ: Mapping[str, str] | None = None) -> int:
    """The niceness the audit's projector adds to its own (GT_AUDIT_PROJECTOR_NICENESS,
    ProjectionSettings' field, default AUDIT_NICENESS); a value that is not a whole number in
    0..19 is refused by name (ValueError)."""
    given = (os.environ if environ is None else environ).get(AUDIT_NICENESS_ENV)
    if given is None:
        return AUDIT_NICENESS
    try:
        checked = ProjectionSettings.model_validate({"audit_projector_niceness": given})
    except ValidationError as exc:
        raise ValueError("; ".join(setting_problems(exc))) from exc
    return checked.audit_projector_niceness


class ProjectorProcess(Child):
    def __init__(
        self,
        name: str,
        process: asyncio.subprocess.Process,
        command: Sequence[str] = (),
        settings: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name, process)
        self._watch: asyncio.Task[None] | None = None
        self._command = list(command)
        self._settings = dict(settings or {})
        self.restarts = 0  # how many times it may be started again within RESTART_WINDOW
        self._restarted: deque[float] = deque()  # monotonic times of the restarts made
        self._exited = asyncio.Event()  # an exit was reported (`exited`)
        self._exit_code: int | None = None
        self._given_up: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @classmethod
    async def start_projector(
        cls, settings: dict[str, str], read_models: str = "all", restarts: int = 0
    ) -> ProjectorProcess:
        """Start `python -m bootstrap.serve projector --read-models <read_models>` with exactly
        these GT_* settings (and the log format and level of this process's environment, if
        set): "all" or "gateway" is the projector, "audit" the audit's projector. Started
        again at most `restarts` times within RESTART_WINDOW when it exits."""
        name = "audit projector" if read_models == "audit" else "projector"
        command = ["projector", "--read-models", read_models]
        for setting in (PREPARE_AHEAD_ENV, HEARTBEAT_ENV, AUDIT_NICENESS_ENV):
            if setting in os.environ and setting not in settings:
                # The prepare-ahead switch (a benchmark's A/B), the heartbeat its followers
                # here judge its silence by and the audit's niceness reach the projector it
                # starts.
                settings = {**settings, setting: os.environ[setting]}
        process = await cls._spawn(command, settings)
        projector = cls(name, process, command, settings)
        projector.restarts = restarts
        Child._started.add(projector)
        return projector

    @staticmethod
    async def _spawn(
        command: Sequence[str], settings: dict[str, str]
    ) -> asyncio.subprocess.Process:
        # SIGTERM when the system that started it dies (killed, out of memory): a second
        # `make run` never finds a projector of the first one leading on the same SQLite file.
        child = await Child.start("projector", command, settings, death_signal=signal.SIGTERM)
        Child._started.discard(child)  # its process is ours: killed as ours
        return child._process

    async def serving(
        self, runners: Sequence[ProjectionRunner], timeout: float = START_TIMEOUT
    ) -> None:
        """Wait until every follower heard the projector; then watch for its exit."""
        await self._heard_by(runners, timeout)
        self._watch = asyncio.create_task(self._supervise(runners))

    async def _heard_by(
        self, runners: Sequence[ProjectionRunner], timeout: float, since: float | None = None
    ) -> None:
        async def hear_all() -> list[bool]:
            waits = (r.wait_heard(timeout, since) for r in runners)
            return list(await asyncio.gather(*waits))

        heard = await self.while_running(hear_all())
        if not all(heard):
            silent = [r.projection.key for r, ok in zip(runners, heard, strict=True) if not ok]
            raise ChildFailed(f"no word from the projector of {', '.join(silent)} in {timeout:g}s")

    def _may_restart(self) -> bool:
        now = time.monotonic()
        while self._restarted and now - self._restarted[0] > RESTART_WINDOW:
            self._restarted.popleft()
        return len(self._restarted) < self.restarts

    async def _supervise(self, runners: Sequence[ProjectionRunner]) -> None:
        while True:
            code = await self._process.wait()
            if self._stopping:
                return
            why = f"the {self.name} process exited with code {code}"
            self._exit_code = code
            self._exited.set()
            if not self._may_restart():
                why += "; the read models no longer advance"
                if self._restarted:
                    why += f" ({len(self._restarted)} restarts in {RESTART_WINDOW:g}s: no more)"
                log.error(why)
                for runner in runners:
                    runner.failure = why
                self._given_up.set_result(why)
                return
            pause = RESTART_PAUSE * 2 ** len(self._restarted)
            self._restarted.append(time.monotonic())
            n, of = len(self._restarted), self.restarts
            log.error("%s; starting it again in %gs (restart %d of %d)", why, pause, n, of)
            for runner in runners:
                runner.failure = f"{why}; being restarted"
            await asyncio.sleep(pause)
            if self._stopping:
                return
            since = asyncio.get_running_loop().time()
            self._process = await self._spawn(self._command, self._settings)
            try:
                await self._heard_by(runners, START_TIMEOUT, since)
            except ChildFailed as exc:
                log.error("the %s did not come back: %s", self.name, exc)
                if self._process.returncode is None:  # silent, not gone: gone, then judged
                    with contextlib.suppress(ProcessLookupError):
                        self._process.kill()
                continue
            for runner in runners:
                runner.failure = None
            log.warning("the %s runs again (pid %d)", self.name, self._process.pid)

    async def unexpected_exit(self) -> str:
        """Wait until the process exits without being stopped and is not started again."""
        if self._watch is None:
            return await super().unexpected_exit()
        return await asyncio.shield(self._given_up)

    async def exited(self) -> int:
        """Wait until an exit of the process was reported; its exit code."""
        await self._exited.wait()
        if self.restarts == 0 and self._watch is not None:  # reported: not started again
            await asyncio.gather(self._watch, return_exceptions=True)
        assert self._exit_code is not None
        return self._exit_code

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            await cancel_and_wait(self._watch)
        await super().stop()
