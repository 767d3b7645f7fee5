"""`make run` killed outright (SIGKILL, out of memory) takes its projector children with it (the
gateway's read models' and the audit's history's): a projector left behind would lead a second
`make run`'s read models on the same SQLite file."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from eventstore.testing.nats_server import free_port
from tests.support.make_run import children, cleanup, serving, start, wait_gone

pytestmark = pytest.mark.jetstream  # it starts (and stops) the embedded nats-server


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_projector_ends_when_the_system_is_killed(tmp_path: Path) -> None:
    port = free_port()
    system = start(tmp_path, port, GT_DEMO="false")  # what runs matters here, not its data
    everything: dict[int, str] = {}
    try:
        serving(system, port)
        everything = children(system.pid)
        projector = [pid for pid, cmd in everything.items() if "bootstrap.serve projector" in cmd]
        assert len(projector) == 2, everything

        system.send_signal(signal.SIGKILL)
        system.wait(timeout=30)

        assert wait_gone(projector) == [], "the projector outlived the system"
    finally:
        cleanup(system, list(everything))  # whatever else it had started (the nats-server)
