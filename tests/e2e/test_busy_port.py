"""`make run` on a port another process holds: one line that says so, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.make_run import BOUND

pytestmark = pytest.mark.jetstream  # it starts (and stops) the embedded nats-server


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bootstrap"],
            env={**os.environ, "GT_HTTP_PORT": str(port), "GT_DATA_DIR": str(tmp_path)},
            capture_output=True, text=True, timeout=BOUND,  # a hang's bound, not a figure
        )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error")]
    assert len(lines) == 1
    assert "already in use" in lines[0]
    assert "GT_HTTP_PORT" in lines[0]
