"""The gateway started with a GT_HTTP_LISTEN_FD that names no open socket (a number that is
not one, a closed descriptor): one "could not start" line naming it and exit 1, no traceback,
for one gateway process and for a supervisor of several alike."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.deploy.processes import clean_environment, compose_command

SECRET = "gateway-listen-fd-test-secret-of-enough-length"
EXIT_STARTUP = 1


def _closed_fd() -> str:
    read, write = os.pipe()
    os.close(read)
    os.close(write)
    return str(read)  # closed here, and never passed to the child


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("listen_fd", ["not-a-number", "closed"])
def test_a_bad_inherited_socket_is_a_clear_failed_start(
    tmp_path: Path, listen_fd: str, workers: str
) -> None:
    env = {
        **clean_environment(),
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
        "GT_JWT_SECRET": SECRET,
        "GT_HTTP_WORKERS": workers,
        "GT_METRICS_PORT": "-1",
        "GT_HTTP_LISTEN_FD": _closed_fd() if listen_fd == "closed" else listen_fd,
    }
    done = subprocess.run(
        compose_command("gateway"), env=env, cwd=tmp_path, capture_output=True, timeout=120
    )
    err = done.stderr.decode()
    assert done.returncode == EXIT_STARTUP, err[-2000:]
    assert "gateway: could not start" in err, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
