"""The whole suite's scratch space: on a RAM disk where the machine has one.

Every test's files (tmp_path, the nats-servers' JetStream stores, SQLite read models) are
written with fsync; on a disk shared with busy neighbours that wait, not the work, made much
of the suite's time (the demo history loaded in 8 s on disk, under 3 s on tmpfs). Same files,
same code paths, same assertions: only where the bytes live changes. An explicit TMPDIR wins,
and without a tmpfs with room to spare nothing changes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

RAM_DISK = Path("/dev/shm")
ROOM = 4 * 1024**3  # free bytes the RAM disk must have before the suite writes there


def ram_scratch() -> Path | None:
    if os.environ.get("TMPDIR") or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return None
    try:
        if shutil.disk_usage(RAM_DISK).free < ROOM:
            return None
        scratch = RAM_DISK / f"gt-tests-{os.getuid()}"
        scratch.mkdir(mode=0o700, exist_ok=True)
        if scratch.stat().st_uid != os.getuid():
            return None  # someone else's directory: not ours to write into
        with tempfile.TemporaryFile(dir=scratch):  # writable
            pass
    except OSError:
        return None
    return scratch


def pytest_configure(config: pytest.Config) -> None:
    scratch = ram_scratch()
    if scratch is not None:
        os.environ["TMPDIR"] = str(scratch)  # child processes (services, servers) too
        tempfile.tempdir = None  # recomputed from TMPDIR on next use (pytest's basetemp too)
