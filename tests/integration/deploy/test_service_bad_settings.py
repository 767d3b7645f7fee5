"""Every `python -m bootstrap.serve` command answers a setting that does not validate in one
line naming it, exit 2, before connecting to anything (user8: the notifier ended in a
traceback from its settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy.processes import clean_environment


@pytest.mark.parametrize(
    ("command", "variable", "value", "said"),
    [
        (["notifier", "run"], "GT_WEBHOOK_MAX_ATTEMPTS", "lots", "GT_WEBHOOK_MAX_ATTEMPTS:"),
        (["notifier", "run"], "GT_EXPIRY_THRESHOLDS_MONTHS", "abc", "expiry_thresholds_months"),
        (["notifier", "tick", "--now", "2026-01-01"], "GT_TICK_INTERVAL_SECONDS", "0", "GT_TICK"),
        (["registry"], "GT_LOG_LEVEL", "LOUD", "GT_LOG_LEVEL: Value error, 'LOUD'"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(
    command: list[str], variable: str, value: str, said: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap.serve", *command],
        env={**clean_environment(), variable: value, "GT_NATS_URL": "nats://127.0.0.1:1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "bad configuration: " in done.stderr, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
