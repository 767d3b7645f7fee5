"""The audit's projector may run nicer than the rest (GT_AUDIT_PROJECTOR_NICENESS, fresh24).

Under load its fold (~1-5 ms of CPU an event, growing with an entity's state) took a core's
share beside the gateway's projector, the gateway and the services, whose turns decide how
soon a write is readable. `--read-models audit` now adds the niceness set (default 0: not
shown better yet) before any thread starts, so every thread of the process has it; the
other projectors keep theirs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bootstrap.children import Child
from bootstrap.projector_child import (
    AUDIT_NICENESS,
    AUDIT_NICENESS_ENV,
    ProjectorProcess,
    audit_niceness,
)

# In a process of its own: a niceness cannot be taken back by an unprivileged process.
_PROBE = """
import json, os, sys, threading
from bootstrap.projector import lower_priority
before = os.getpriority(os.PRIO_PROCESS, 0)
added = lower_priority(sys.argv[1])
seen = []
thread = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
thread.start()
thread.join()
print(json.dumps({"added": added, "main": os.getpriority(os.PRIO_PROCESS, 0) - before,
                  "thread": seen[0] - before}))
"""


def _niceness(read_models: str, given: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != AUDIT_NICENESS_ENV}
    if given is not None:
        env[AUDIT_NICENESS_ENV] = given
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, read_models],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.mark.skipif(os.getpriority(os.PRIO_PROCESS, 0) > 9, reason="too nice already")
def test_the_audit_projector_and_its_later_threads_run_nicer_when_set() -> None:
    assert _niceness("audit", "10") == {"added": 10, "main": 10, "thread": 10}
    assert _niceness("audit", None) == {"added": 0, "main": 0, "thread": 0}
    assert AUDIT_NICENESS == 0


@pytest.mark.parametrize(
    ("read_models", "given", "added"),
    [
        ("gateway", None, 0),
        ("all", None, 0),
        ("gateway", "5", 0),
        ("audit", "0", 0),
        ("audit", "3", 3),
    ],
)
def test_only_the_audit_projector_is_made_nicer_and_by_the_setting(
    read_models: str, given: str | None, added: int
) -> None:
    assert _niceness(read_models, given) == {"added": added, "main": added, "thread": added}


@pytest.mark.parametrize("given", ["-1", "20", "ten", "", "1.5"])
def test_a_bad_niceness_is_refused_by_name(given: str) -> None:
    with pytest.raises(ValueError, match=AUDIT_NICENESS_ENV):
        audit_niceness({AUDIT_NICENESS_ENV: given})


def test_the_niceness_is_the_default_unless_set() -> None:
    assert audit_niceness({}) == AUDIT_NICENESS
    assert audit_niceness({AUDIT_NICENESS_ENV: "0"}) == 0
    assert audit_niceness({AUDIT_NICENESS_ENV: " 19 "}) == 19


async def test_the_niceness_reaches_the_projector_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spawned: list[dict[str, str]] = []

    async def spawn(command: Sequence[str], settings: dict[str, str]) -> Any:
        spawned.append(settings)
        return object()

    monkeypatch.setattr(ProjectorProcess, "_spawn", staticmethod(spawn))
    monkeypatch.setenv(AUDIT_NICENESS_ENV, "0")
    made = [await ProjectorProcess.start_projector({"GT_DATA_DIR": "/x"}, "audit")]
    monkeypatch.delenv(AUDIT_NICENESS_ENV)
    made.append(await ProjectorProcess.start_projector({"GT_DATA_DIR": "/x"}, "audit"))
    for projector in made:  # no process behind them: not the system's to kill
        Child._started.discard(projector)
    assert spawned == [{"GT_DATA_DIR": "/x", AUDIT_NICENESS_ENV: "0"}, {"GT_DATA_DIR": "/x"}]


def test_make_run_names_a_bad_niceness_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A ProjectionSettings field (s46's read): make run's up-front check names it, as every
    other setting, instead of the audit projector refusing it at its start, then again at
    each of its restarts."""
    import bootstrap.__main__ as make_run

    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(AUDIT_NICENESS_ENV, "20")

    def run() -> None:
        raise AssertionError("make run started with a bad niceness")

    monkeypatch.setattr(make_run, "run", run)
    with pytest.raises(SystemExit) as stopped:
        make_run.main([])
    line = str(stopped.value.code)
    assert line.startswith(f"error: bad setting: {AUDIT_NICENESS_ENV}: "), line
    assert "\n" not in line


def test_serve_projector_names_a_bad_niceness_before_it_connects(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import bootstrap.projector
    import bootstrap.serve

    def went_on(*args: object) -> int:
        raise AssertionError("the projector went on with a bad niceness")

    monkeypatch.setattr(bootstrap.projector, "run_process", went_on)
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv(AUDIT_NICENESS_ENV, "ten")
    monkeypatch.setattr(sys, "argv", ["bootstrap.serve", "projector", "--read-models", "audit"])
    with pytest.raises(SystemExit) as ended:
        bootstrap.serve.main()
    assert ended.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"bad configuration: {AUDIT_NICENESS_ENV}: "), lines
