"""correct22: the one-shot commands of `python -m bootstrap.serve` end when NATS cannot be
reached, saying so, as `backup` does.

`reference-data load --wait 5` and `notifier tick --now D` connected like a long-running service
(`connect_nats`: retry for ever): with NATS down, or GT_NATS_URL mistyped, they retried in
silence and never ended -- `--wait` bounded only the wait for the enrolment service once
connected. Now the connect is bounded (by `--wait` where the command has it, else 15 s) and the
command ends with exit 1 and one line naming the URL.

suite22: the 15 s is GT_ONE_SHOT_CONNECT_SECONDS (default 15); these tests lower it, so each
waits out a bound of 1.5 s instead of 15 and proves the setting is the bound it says.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from eventstore.settings import NatsSettings
from tests.unit.bootstrap.test_correct18_serve_settings_first import BOUND, _closed_port

WITHIN = "1.5"  # GT_ONE_SHOT_CONNECT_SECONDS here: above --wait, so the setting is the bound


@pytest.mark.parametrize(
    "args",
    [
        ["reference-data", "load", "--wait", "0.5"],
        ["reference-data", "update", "--csv", "x.csv", "--version", "v", "--source", "s",
         "--wait", "0.5"],
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
    env |= {
        "GT_NATS_URL": url,
        "GT_DATA_DIR": str(tmp_path / "data"),
        "GT_ONE_SHOT_CONNECT_SECONDS": WITHIN,
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
    except subprocess.TimeoutExpired as exc:  # before: retried its connect for ever
        pytest.fail(f"still running: {exc.stderr!r}")
    assert done.returncode == 1, done.stderr
    assert f"cannot reach NATS at {url} within {WITHIN} s" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("value", ["0", "-1", "3601", "soon", "inf"])
def test_the_one_shot_connect_bound_is_above_0_and_at_most_an_hour(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GT_ONE_SHOT_CONNECT_SECONDS", value)
    with pytest.raises(ValidationError, match="one_shot_connect_seconds"):
        NatsSettings()


@pytest.mark.parametrize(("value", "taken"), [(None, 15.0), ("0.1", 0.1), ("3600", 3600.0)])
def test_the_one_shot_connect_bound_is_15_s_unless_set(
    monkeypatch: pytest.MonkeyPatch, value: str | None, taken: float
) -> None:
    monkeypatch.delenv("GT_ONE_SHOT_CONNECT_SECONDS", raising=False)
    if value is not None:
        monkeypatch.setenv("GT_ONE_SHOT_CONNECT_SECONDS", value)
    assert NatsSettings().one_shot_connect_seconds == taken


def test_a_bad_one_shot_connect_bound_is_named_before_nats_is_reached(tmp_path: Path) -> None:
    value = "0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}",
        "GT_DATA_DIR": str(tmp_path / "data"),
        "GT_ONE_SHOT_CONNECT_SECONDS": value,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap.serve", "notifier", "tick", "--now", "2026-01-01"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert done.returncode == 2, done.stderr
    assert "bad configuration: GT_ONE_SHOT_CONNECT_SECONDS: " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "cannot reach NATS" not in done.stderr, done.stderr
