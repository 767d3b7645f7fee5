"""user9: one Ctrl-C in the terminal stops `make run` in order, as the README says.

A terminal sends SIGINT to its whole foreground process group (make, and whatever make runs).
`make run` ran the system under `uv run`, which forwards the SIGINT it got to its child too:
the system saw every Ctrl-C twice, took the first for "a second interrupt while stopping",
killed every part undrained and ended with that error.

The Ctrl-C is sent once the run said "Ctrl-C stops.", after the data loaded: it never meets a
loading demo, so the run starts without it (GT_DEMO=false, as test_run_processes' stopping
tests; suite23). A part that dies while the demo loads is test_run_processes' to check.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from eventstore.testing.nats_server import free_port
from tests.support.make_run import BOUND, said, using, wait_gone

pytestmark = [
    pytest.mark.jetstream,  # it starts (and stops) the embedded nats-server
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc"),
    pytest.mark.timeout(600),  # a whole `make run` started and stopped, on a loaded machine
]
ROOT = Path(__file__).resolve().parents[2]


def test_one_ctrl_c_stops_make_run_in_order(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GT_HTTP_PORT": str(free_port()),
        "GT_DATA_DIR": str(tmp_path / "d"),
        "GT_DEMO": "false",  # what one Ctrl-C stops, not what the run holds
        "PYTHONUNBUFFERED": "1",  # its lines as it says them
    }
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        run = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a process group of its own, as a terminal's job is
            text=True,
        )
    everything: list[int] = []
    try:
        said(run, tmp_path, "Ctrl-C stops.")
        everything = [p for p in using(tmp_path / "d") if p != run.pid]
        os.killpg(run.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        run.wait(timeout=BOUND)
        said_out = (tmp_path / "out.log").read_text()
        said_err = (tmp_path / "err.log").read_text()
        assert "stopping ..." in said_out.splitlines(), said_out[-3000:]
        assert "second interrupt" not in said_err, said_err[-3000:]
        assert "Traceback" not in said_err, said_err[-3000:]
        assert wait_gone(everything) == [], "a part outlived the run"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
        for pid in wait_gone(everything, timeout=0):
            os.kill(pid, signal.SIGKILL)
