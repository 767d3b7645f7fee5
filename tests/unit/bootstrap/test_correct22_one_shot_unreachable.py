"""correct22: the one-shot commands of `python -m bootstrap.serve` end when NATS cannot be
reached, saying so, as `backup` does.

`reference-data load --wait 5` and `notifier tick --now D` connected like a long-running service
(`connect_nats`: retry for ever): with NATS down, or GT_NATS_URL mistyped, they retried in
silence and never ended -- `--wait` bounded only the wait for the enrolment service once
connected. Now the connect is bounded (by `--wait` where the command has it, else 15 s) and the
command ends with exit 1 and one line naming the URL.

suite22: the 15 s is GT_ONE_SHOT_CONNECT_SECONDS (default 15); these tests lower it, so each
waits out a bound of 1.5 s instead of 15 and proves the setting is the bound it says; the three
commands run at once (one module fixture), each test asserting its own. The range is checked in
process; `python -m bootstrap.serve` naming any settings class's refusal in one line, exit 2,
before it connects is correct18's test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

from eventstore.settings import NatsSettings
from tests.unit.bootstrap.test_correct18_serve_settings_first import BOUND, _closed_port

WITHIN = "1.5"  # GT_ONE_SHOT_CONNECT_SECONDS here: above --wait, so the setting is the bound


COMMANDS = {
    "reference-data-load": ["reference-data", "load", "--wait", "0.5"],
    "reference-data-update": ["reference-data", "update", "--csv", "x.csv", "--version", "v",
                              "--source", "s", "--wait", "0.5"],
    "notifier-tick": ["notifier", "tick", "--now", "2026-01-01"],
}  # fmt: skip


@pytest.fixture(scope="module")
def ended(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, int | None, str]]:
    """Each command run once, all at once (each waits out its own bound): by name, its NATS
    URL (a closed port of its own), its exit code (None: still running after BOUND) and
    stderr."""
    started = {}
    for name, args in COMMANDS.items():
        where = tmp_path_factory.mktemp(name)
        (where / "x.csv").write_text("cbs_code,name,province\n")
        url = f"nats://127.0.0.1:{_closed_port()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
        env |= {
            "GT_NATS_URL": url,
            "GT_DATA_DIR": str(where / "data"),
            "GT_ONE_SHOT_CONNECT_SECONDS": WITHIN,
        }
        command = [sys.executable, "-m", "bootstrap.serve", *args]
        run = subprocess.Popen(command, cwd=where, env=env, stderr=subprocess.PIPE, text=True,
                               stdout=subprocess.DEVNULL)  # fmt: skip
        started[name] = (url, run)
    found: dict[str, tuple[str, int | None, str]] = {}
    deadline = time.monotonic() + BOUND
    for name, (url, run) in started.items():
        try:
            _, err = run.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # before: retried its connect for ever
            run.kill()
            _, err = run.communicate()
            found[name] = (url, None, err)
            continue
        found[name] = (url, run.returncode, err)
    return found


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_one_shot_command_ends_when_nats_cannot_be_reached(
    ended: dict[str, tuple[str, int | None, str]], name: str
) -> None:
    url, code, stderr = ended[name]
    assert code is not None, f"still running: {stderr!r}"
    assert code == 1, stderr
    assert f"cannot reach NATS at {url} within {WITHIN} s" in stderr, stderr
    assert "Traceback" not in stderr, stderr


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
