"""A test that failed and then hangs in its teardown ends at the timeout, not never."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FAILS_THEN_HANGS = """
import time
import pytest

@pytest.fixture
def hangs_on_teardown():
    yield
    time.sleep(120)  # as a loop's shutdown waiting on tasks that lost their cancellation

def test_fails(hangs_on_teardown):
    assert False, "failed first"
"""


def test_a_failed_tests_hung_teardown_is_ended_by_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(FAILS_THEN_HANGS)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "eventstore.testing.hangs",
            "-p",
            "no:cacheprovider",
            "-o",
            "timeout=3",
            "-o",
            "timeout_method=thread",
            "-o",
            "addopts=",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_hang.py"),
        ],
        capture_output=True,
        text=True,
        timeout=90,  # without the re-armed timer the teardown sleeps 120 s: this expires
        cwd=tmp_path,
    )
    assert run.returncode != 0
    assert "Timeout" in run.stdout + run.stderr
    assert "hangs_on_teardown" in run.stdout + run.stderr  # the stack of where it hung
