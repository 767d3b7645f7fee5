"""The projectors' heartbeat settable (GT_PROJECTION_HEARTBEAT_SECONDS, suite23).

An idle projector announces its positions every heartbeat; a follower (the gateway, make run's
own followers) that hears nothing for three of them reports the projector in `health`. The
heartbeat was a constant (5 s, so 15 s of silence), and the test of a silent projector waited
the 15 s out. Now each runner reads the setting (default 5, 0.2..60), `make run` checks it
before anything starts, and the system passes its own to the processes it starts: the
projectors (which beat) and the gateway (which judges the silence), so all agree.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from nats.aio.client import Client as NATS
from pydantic import ValidationError

import bootstrap.__main__ as make_run
import eventstore.projection as projection_module
from bootstrap.children import Child
from bootstrap.projector_child import ProjectorProcess
from bootstrap.settings_catalogue import settings_read_by
from bootstrap.system import System
from eventstore.projection import ProjectionRunner
from eventstore.projection_news import HEARTBEAT, News
from eventstore.settings import HEARTBEAT_ENV, ProjectionSettings
from eventstore.sql import make_engine
from gateway.settings import GatewaySettings
from tests.support.ledger_projection import LedgerTotals


@pytest.mark.parametrize(("given", "taken"), [(None, HEARTBEAT), ("0.2", 0.2), ("60", 60.0)])
def test_the_heartbeat_is_5_s_unless_set(
    monkeypatch: pytest.MonkeyPatch, given: str | None, taken: float
) -> None:
    assert HEARTBEAT == 5.0  # the product's default is unchanged
    if given is None:
        monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    else:
        monkeypatch.setenv(HEARTBEAT_ENV, given)
    assert ProjectionSettings().projection_heartbeat_seconds == taken


@pytest.mark.parametrize("given", ["0.1", "0", "-1", "61", "inf", "nan", "soon"])
def test_a_heartbeat_out_of_range_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv(HEARTBEAT_ENV, given)
    with pytest.raises(ValidationError, match="projection_heartbeat_seconds"):
        ProjectionSettings()


def test_make_run_names_a_bad_heartbeat_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(HEARTBEAT_ENV, "0.1")

    def run() -> None:
        raise AssertionError("make run started with a bad heartbeat")

    monkeypatch.setattr(make_run, "run", run)
    with pytest.raises(SystemExit) as stopped:
        make_run.main([])
    line = str(stopped.value.code)
    assert line.startswith(f"error: bad setting: {HEARTBEAT_ENV}: "), line
    assert "\n" not in line


def runner(tmp_path: Path, *, follow: bool) -> ProjectionRunner:
    """A runner on a NATS client never connected: what it reads and judges, nothing run."""
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    return ProjectionRunner(NATS(), engine, LedgerTotals(), follow=follow)


async def test_a_follower_reports_its_projector_after_three_beats_of_silence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    now = asyncio.get_running_loop().time
    monkeypatch.setenv(HEARTBEAT_ENV, "1")
    follower = runner(tmp_path, follow=True)
    assert follower.heartbeat == 1.0
    follower.heard_at = now() - 2.0  # two beats missed: not yet
    assert follower.problem is None
    follower.heard_at = now() - 4.0  # four: reported
    assert follower.problem is not None
    assert "is the projector process running?" in follower.problem
    await follower._heard(News({"LEDGER": 1}, None))  # heard again: nothing wrong
    assert follower.problem is None

    monkeypatch.delenv(HEARTBEAT_ENV)
    default = runner(tmp_path, follow=True)
    default.heard_at = now() - 4.0  # by default the silence is 15 s
    assert default.problem is None
    default.heard_at = now() - 16.0
    assert default.problem is not None


class _Stop(Exception):
    pass


async def test_a_leader_beats_at_the_heartbeat(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(HEARTBEAT_ENV, "0.7")
    leader = runner(tmp_path, follow=False)
    announced: list[News] = []
    slept: list[float] = []

    class Recorder:
        async def announce(self, news: News) -> None:
            announced.append(news)

    class Asyncio:  # eventstore.projection's asyncio, its sleep recorded (and the beat ended)
        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(delay: float) -> None:
            slept.append(delay)
            raise _Stop

    leader._news = Recorder()  # type: ignore[assignment]
    monkeypatch.setattr(projection_module, "asyncio", Asyncio())
    with pytest.raises(_Stop):
        await leader._beat()
    assert len(announced) == 1
    assert slept == [0.7]


async def test_the_heartbeat_reaches_the_projector_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spawned: list[dict[str, str]] = []

    async def spawn(command: Sequence[str], settings: dict[str, str]) -> Any:
        spawned.append(settings)
        return object()

    monkeypatch.setattr(ProjectorProcess, "_spawn", staticmethod(spawn))
    monkeypatch.setenv(HEARTBEAT_ENV, "0.5")
    made = [await ProjectorProcess.start_projector({"GT_DATA_DIR": "/x"}, "audit")]
    monkeypatch.delenv(HEARTBEAT_ENV)
    made.append(await ProjectorProcess.start_projector({"GT_DATA_DIR": "/x"}, "gateway"))
    for projector in made:  # no process behind them: not the system's to kill
        Child._started.discard(projector)
    assert spawned == [{"GT_DATA_DIR": "/x", HEARTBEAT_ENV: "0.5"}, {"GT_DATA_DIR": "/x"}]
    # Each still named for what it applies (the health's and the restarts' words).
    assert [projector.name for projector in made] == ["audit projector", "projector"]


class _Connected:
    connected_url = urlparse("nats://127.0.0.1:4222")


def test_the_heartbeat_reaches_the_gateway_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    system = System(
        nc=_Connected(),  # type: ignore[arg-type]
        data_dir=tmp_path,
        settings=GatewaySettings(database_url=f"sqlite:///{tmp_path / 'r.db'}"),
    )
    monkeypatch.setenv(HEARTBEAT_ENV, "0.5")
    assert system._child_settings("gateway", "gateway")[HEARTBEAT_ENV] == "0.5"
    monkeypatch.delenv(HEARTBEAT_ENV)
    assert HEARTBEAT_ENV not in system._child_settings("gateway", "gateway")
    # A deployment may give it to both, and to nothing that does not read it.
    assert {
        name for name in ("gateway", "projector") if HEARTBEAT_ENV in settings_read_by(name)
    } == {
        "gateway",
        "projector",
    }


@pytest.mark.parametrize("command", ["projector", "gateway"])
def test_serve_names_a_bad_heartbeat_before_it_connects(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: str,
) -> None:
    import bootstrap.projector
    import bootstrap.serve
    import gateway.process

    def went_on(*args: object) -> int:
        raise AssertionError(f"{command} went on to connect with a bad heartbeat")

    monkeypatch.setattr(bootstrap.projector, "run_process", went_on)
    monkeypatch.setattr(gateway.process, "run_process", went_on)
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("GT_JWT_SECRET", "a-test-secret-of-at-least-thirty-two-bytes")
    monkeypatch.setenv(HEARTBEAT_ENV, "61")
    monkeypatch.setattr(sys, "argv", ["bootstrap.serve", command])
    with pytest.raises(SystemExit) as ended:
        bootstrap.serve.main()
    assert ended.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"bad configuration: {HEARTBEAT_ENV}: "), lines
