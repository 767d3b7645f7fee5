"""correct18: `python -m bootstrap.serve <part>` checks the settings a part reads only once
connected before it connects to NATS, and names a bad one in one line, exit 2.

Before: the registry, enrolment and notifier read CommandSettings (and `reference-data` its
command bus's retry settings) inside the started app, after NATS answered: with NATS
unreachable the process retried its connect for good and never said what was wrong; with NATS
up, GT_VALID_TIME_TOLERANCE_SECONDS=inf ended in a rich traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BOUND = 120  # seconds: a part that hangs retrying its connect fails the test, never the run


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


@pytest.mark.parametrize(
    ("args", "name", "value"),
    [
        (["registry"], "GT_VALID_TIME_TOLERANCE_SECONDS", "inf"),
        (["enrolment"], "GT_VALID_TIME_TOLERANCE_SECONDS", "-5"),
        (["notifier", "run"], "GT_VALID_TIME_TOLERANCE_SECONDS", "a minute"),
        (["notifier", "tick", "--now", "2026-01-01"], "GT_VALID_TIME_TOLERANCE_SECONDS", "inf"),
        (["reference-data", "load"], "GT_COMMAND_RETRY_SECONDS", "soon"),
    ],
)
def test_a_bad_setting_is_named_before_nats_is_reached(
    tmp_path: Path, args: list[str], name: str, value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}",
        "GT_DATA_DIR": str(tmp_path / "data"),
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
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    said = [line for line in lines if name in line]
    assert said, lines
    assert said[0].startswith(f"bad configuration: {name}: "), lines
    assert f"(got '{value}')" in said[0]
    assert "NATS" not in done.stderr  # no connect was tried
