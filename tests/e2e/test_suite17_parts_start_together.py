"""`make run` starts the parts that wait for none of the others together (suite17): the registry,
enrolment, both projectors and the gateway each import and start on their own, and the run
still waits for every one of them to be ready before it loads the data. Started one after
another, each waited for the start of the one before (~40 s of wall at load 11, suite16).

Seen from outside: a registry held stopped (SIGSTOP) as soon as its process is there keeps
nobody else from starting, the gateway answers its health, and yet the run does not call
itself started (no endpoints file, no "Ctrl-C stops.") until the registry answers too."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from audit.wiring import ENDPOINTS_FILE
from eventstore.testing.nats_server import free_port
from tests.support.make_run import (
    BOUND,
    MARKS,
    PARTS,
    children,
    cleanup,
    ended,
    parts_running,
    said,
    start,
    wait_gone,
)

pytestmark = MARKS


def answers_health(port: int) -> None:
    """Wait until the gateway process answers /healthz (within BOUND)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the gateway did not answer while the registry was held")


def test_a_held_registry_keeps_no_other_part_from_starting_but_the_run_waits_for_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    system = start(tmp_path, port, PYTHONUNBUFFERED="1", GT_DEMO="false")
    everything: list[int] = []
    registry: int | None = None
    try:
        registry = parts_running(system, ("registry",), every=0.02)["registry"]
        os.kill(registry, signal.SIGSTOP)  # still importing: it cannot have answered yet
        # Every other part of the start runs and the gateway serves its health meanwhile.
        others = tuple(p for p in PARTS if p not in ("registry", "notifier run"))
        parts_running(system, others)
        answers_health(port)
        # ... but the run is not started: it waits for the registry's answer.
        assert not (tmp_path / "d" / ENDPOINTS_FILE).exists()
        assert "Ctrl-C stops." not in (tmp_path / "out.log").read_text()
        os.kill(registry, signal.SIGCONT)
        said(system, tmp_path, "Ctrl-C stops.")  # then the reference data, the notifier
        everything = list(children(system.pid))
        system.send_signal(signal.SIGTERM)
        err = ended(system, tmp_path, BOUND)
        assert system.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert wait_gone(everything) == []
    finally:
        if registry is not None and system.poll() is None:
            os.kill(registry, signal.SIGCONT)
        cleanup(system, everything)
