"""correct22: the one-shot commands of `python -m bootstrap.serve` end when NATS cannot be
reached, saying so, as `backup` does.

`reference-data load --wait 5` and `notifier tick --now D` connected like a long-running service
(`connect_nats`: retry for ever): with NATS down, or GT_NATS_URL mistyped, they retried in
silence and never ended -- `--wait` bounded only the wait for the enrolment service once
connected. Now the connect is bounded (by `--wait` where the command has it, else 15 s) and the
command ends with exit 1 and one line naming the URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.bootstrap.test_correct18_serve_settings_first import BOUND, _closed_port


@pytest.mark.parametrize(
    "args",
    [
        ["reference-data", "load", "--wait", "2"],
        ["reference-data", "update", "--csv", "x.csv", "--version", "v", "--source", "s",
         "--wait", "2"],
        ["notifier", "tick", "--now", "2026-01-01"],
    ],
    ids=["reference-data-load", "reference-data-update", "notifier-tick"],
)  # fmt: skip
def test_a_one_shot_command_ends_when_nats_cannot_be_reached(
    tmp_path: Path, args: list[str]
) -> None:
    url = f"nats://127.0.0.1:{_closed_port()}"
    (tmp_path / "x.csv").write_text("cbs_code,name,province\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {"GT_NATS_URL": url, "GT_DATA_DIR": str(tmp_path / "data")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bootstrap.serve", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND,
        )
    except subprocess.TimeoutExpired as exc:  # before: retried its connect for ever
        pytest.fail(f"still running: {exc.stderr!r}")
    assert done.returncode == 1, done.stderr
    assert f"cannot reach NATS at {url}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
