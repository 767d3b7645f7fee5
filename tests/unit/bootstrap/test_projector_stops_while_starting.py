"""A projector asked to stop while it is still starting stops (exit 0): it waited for NATS with
retries for ever and took SIGTERM only once connected, so a projector of a `make run` killed with
its NATS server (the parent-death signal is SIGTERM) could outlive it, and a container's stop
waited for its kill. CI78 saw one outlive the system; this is its cause made certain: NATS not
there at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.bootstrap.test_correct18_serve_settings_first import BOUND, _closed_port


@pytest.mark.skipif(sys.platform != "linux", reason="signals as on the deployment's Linux")
def test_a_projector_waiting_for_nats_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GT_")}
    env |= {
        "GT_NATS_URL": f"nats://127.0.0.1:{_closed_port()}",
        "GT_DATA_DIR": str(tmp_path / "data"),
        "GT_DATABASE_URL": f"sqlite:///{tmp_path / 'read-models.db'}",
    }
    log = tmp_path / "projector.log"
    with log.open("w") as out:
        projector = subprocess.Popen(
            [sys.executable, "-m", "bootstrap.serve", "projector"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + BOUND
        while "Connect call failed" not in log.read_text():  # it is trying to connect
            assert projector.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        projector.send_signal(signal.SIGTERM)
        try:
            code = projector.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:  # before: retried its connect for ever
            pytest.fail(f"still running after SIGTERM: {log.read_text()[-500:]!r}")
    finally:
        if projector.poll() is None:
            projector.kill()
            projector.wait()
    assert code == 0, log.read_text()
    assert "stopping while starting" in log.read_text()
