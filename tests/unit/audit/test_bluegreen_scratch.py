"""The scratch directories of blue-green rebuilds: a killed rebuild's removed by the next,
a running one's left alone (`audit.bluegreen_scratch`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from audit.bluegreen_scratch import LOCK, PREFIX, clean_stale, green_scratch

HOLD = """
import sys, tempfile, time
tempfile.tempdir = sys.argv[1]
from audit.bluegreen_scratch import green_scratch
with green_scratch() as d:
    print(d, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_killed_rebuilds_directory_is_removed_by_the_next_and_a_running_ones_is_not(
    tmp: Path,
) -> None:
    running = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp)], stdout=subprocess.PIPE, text=True
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert running.stdout is not None
        assert killed.stdout is not None
        running_dir = Path(running.stdout.readline().strip())
        killed_dir = Path(killed.stdout.readline().strip())
        (killed_dir / "group-0.db").write_bytes(b"x" * 1024)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert killed_dir.is_dir()  # a SIGKILLed rebuild cannot clean up

        with green_scratch() as mine:
            assert mine.is_dir()
            assert mine.name.startswith(PREFIX)
            assert not killed_dir.exists()  # removed: nobody builds there
            assert running_dir.is_dir()
            assert (running_dir / LOCK).exists()
            assert clean_stale() == []  # mine is locked too
        assert not mine.exists()
        assert running_dir.is_dir()
    finally:
        for process in (running, killed):
            process.kill()
            process.wait()
    assert clean_stale() == [running_dir]


def test_a_directory_without_the_lock_file_is_left_alone(tmp: Path) -> None:
    # Between `mkdtemp` and its lock, or made by a rebuild of a version before the lock.
    other = tmp / f"{PREFIX}older"
    other.mkdir()
    assert clean_stale() == []
    assert other.is_dir()
