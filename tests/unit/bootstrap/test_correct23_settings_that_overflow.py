"""correct23: two settings whose large values passed every check and then stopped a part.

Before:
- GT_IDENTITY_RETENTION_DAYS=99999999999 passed `make run`'s check; the gateway child then
  ended "could not start: OverflowError: Python int too large to convert to C int" (the
  timedelta of the retention), naming nothing; from ~740,000 days (a cut-off before year 1)
  it started, and every daily retention sweep ended in an OverflowError traceback.
- GT_INTEGRATION_ACK_WAIT=99999999999 (or 1e308) passed too; the notifier child's start then
  ended in a traceback: the broker's "cannot unmarshal number 99999999999000002560 into ...
  ack_wait of type time.Duration" (int64 nanoseconds), or nats-py's "cannot convert float
  infinity to integer".

Now each is bounded (a century of days; a day of seconds) and named in one line before
anything starts, by `make run` and by the part's own command (`python -m bootstrap.serve`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bootstrap.__main__ as make_run
import bootstrap.embedded as embedded

BOUND = 120  # seconds: a part that hangs retrying its connect fails the test, never the run
RETENTION = "GT_IDENTITY_RETENTION_DAYS"
ACK_WAIT = "GT_INTEGRATION_ACK_WAIT"


class Started(Exception):
    """`make run` went on to start the system: the settings were accepted."""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path / "data"))
    for name in (RETENTION, ACK_WAIT):
        monkeypatch.delenv(name, raising=False)

    def main(*args: Any, **kwargs: Any) -> None:  # the system's start, after every check
        raise Started

    monkeypatch.setattr(embedded, "main", main)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (RETENTION, "99999999999"),
        (RETENTION, "800000"),
        (RETENTION, "36501"),
        (ACK_WAIT, "99999999999"),
        (ACK_WAIT, "1e308"),
        (ACK_WAIT, "86401"),
    ],
)
def test_make_run_names_the_value_before_anything_starts(
    started: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        make_run.main([])
    line = str(stopped.value.code)
    assert line.startswith(f"error: bad setting: {name}: "), line
    assert "less than or equal to" in line, line
    assert f"(got '{value}')" in line, line
    assert "\n" not in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (RETENTION, "0"),
        (RETENTION, "3650"),
        (RETENTION, "36500"),
        (ACK_WAIT, "30"),
        (ACK_WAIT, "86400"),
    ],
)
def test_values_within_the_bounds_start(
    started: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(Started):
        make_run.main([])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


@pytest.mark.parametrize(
    ("args", "name", "value"),
    [
        (["gateway"], RETENTION, "99999999999"),
        (["notifier", "run"], ACK_WAIT, "99999999999"),
    ],
)
def test_the_part_names_it_before_nats_is_reached(
    tmp_path: Path, args: list[str], name: str, value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}",
        "GT_DATA_DIR": str(tmp_path / "data"),
        "GT_JWT_SECRET": "a test secret, long enough for HS256 use",
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'read.db'}",
        "GT_HTTP_PORT": "0",
        "GT_METRICS_PORT": "-1",
        name: value,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bootstrap.serve", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"still running, no word of {name}: {exc.stderr!r}")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if name in line]
    assert said, done.stderr
    assert f"(got '{value}')" in said[0], said
