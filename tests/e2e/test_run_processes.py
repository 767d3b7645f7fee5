"""`make run` as compose runs the system: the registry, enrolment and notifier services, the
projector and the gateway each in a process of its own, started by `python -m bootstrap`.
A SIGTERM stops them all and the run exits 0; a second one while they stop kills them at once
and the run says so; killed outright, it takes them with it; a child that cannot start, or
dies while the data loads, is one clear error naming it, and nothing is left running.

The first test and the one that kills a part while the data loads run `make run` whole, the
demo loaded; the tests of stopping and killing start it without the demo (GT_DEMO=false): what
they check is the same without it, and a demo load was most of each run's CPU."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from eventstore.testing.nats_server import free_port
from tests.support.make_run import (
    BOUND,
    MARKS,
    children,
    cleanup,
    ended,
    parts_running,
    said,
    start,
    started,
    using,
    wait_gone,
)

pytestmark = MARKS


def test_each_part_in_its_own_process_stopped_by_sigterm(tmp_path: Path) -> None:
    port = free_port()
    # GT_HTTP_WORKERS is for the gateway's own deployment: make run says so and serves with
    # one gateway process (it hands one socket to one process, not to a supervisor).
    system = start(tmp_path, port, GT_HTTP_WORKERS="2")
    parts: dict[str, int] = {}
    try:
        parts = parts_running(system)
        # The gateway process answers on the port the run bound, over the demo data.
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ __typename }"},
            timeout=30,
        )
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert children(parts["gateway"]) == {}, "the gateway forked workers"
        system.send_signal(signal.SIGTERM)
        err = ended(system, tmp_path, BOUND)  # each part drained or killed after its timeout
        assert system.returncode == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        workers = [line for line in err.splitlines() if "GT_HTTP_WORKERS" in line]
        assert workers == [
            "GT_HTTP_WORKERS=2 is not used by make run: it serves GraphQL with one gateway process"
        ], err[-3000:]
        assert wait_gone(list(parts.values())) == []
        out = (tmp_path / "out.log").read_text().splitlines()  # flushed at its exit
        loaded = [line for line in out if line.startswith("demo history:")]
        assert len(loaded) == 1, out[-40:]
        assert "commands applied" in loaded[0], loaded
    finally:
        cleanup(system, list(parts.values()))


def test_a_second_interrupt_while_stopping_kills_every_part(tmp_path: Path) -> None:
    # Its lines as it says them; the notifier is among the parts though no demo was loaded.
    system = start(tmp_path, free_port(), PYTHONUNBUFFERED="1", GT_DEMO="false")
    everything: list[int] = []
    try:
        parts = parts_running(system)
        said(system, tmp_path, "Ctrl-C stops.")  # started: the first signal stops in order
        out = (tmp_path / "out.log").read_text().splitlines()
        assert "demo history: not loaded (GT_DEMO is off)" in out, out[-40:]
        assert not [line for line in out if "commands applied" in line], out[-40:]
        everything = list(children(system.pid))  # the parts and the nats-server
        # Parts that cannot drain (stopped): the graceful stop would wait STOP_TIMEOUT for
        # each before killing it, so the second signal surely comes while the run stops.
        for pid in parts.values():
            os.kill(pid, signal.SIGSTOP)
        system.send_signal(signal.SIGINT)
        said(system, tmp_path, "stopping ...")
        system.send_signal(signal.SIGINT)
        err = ended(system, tmp_path, BOUND)
        assert system.returncode == 1, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert errors == [
            "error: a second interrupt while stopping: every part killed, none drained"
        ], err[-3000:]
        assert wait_gone(everything) == [], "a part outlived the run"
    finally:
        cleanup(system, everything)


def test_killed_outright_it_takes_every_part_with_it(tmp_path: Path) -> None:
    system = start(tmp_path, free_port(), GT_DEMO="false")
    everything: list[int] = []
    try:
        parts = list(parts_running(system).values())
        everything = list(children(system.pid))  # the parts and the nats-server
        system.send_signal(signal.SIGKILL)
        system.wait(timeout=30)
        assert wait_gone(parts) == [], "a part outlived the run"
    finally:
        cleanup(system, everything)


def test_a_part_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    # The gateway process refuses RS256 without a public key (exit 2, naming it).
    system = start(tmp_path, free_port(), GT_JWT_ALGORITHM="RS256")
    try:
        err = ended(system, tmp_path, BOUND)
        assert system.returncode not in (0, None)
        assert "GT_JWT_PUBLIC_KEY" in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert errors == ["error: the gateway process exited with code 2 at start"], err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert wait_gone(using(tmp_path / "d")) == [], "a part of the failed start still runs"
    finally:
        cleanup(system, using(tmp_path / "d"))


def test_a_part_that_dies_while_the_data_loads_is_one_clear_error(tmp_path: Path) -> None:
    # The registry is killed once the parts started together are ready (the run wrote its
    # endpoints file): the reference data or the demo is loading then (or, on a slow machine,
    # just loaded), and its commands go unanswered. (Killed once the gateway's process was
    # there, as before the parts started together, it died at start: that error is the
    # gateway's refusal above.)
    system = start(tmp_path, free_port())
    try:
        parts = parts_running(system, ("registry", "gateway"), every=0.05)
        started(system, tmp_path)
        os.kill(parts["registry"], signal.SIGKILL)
        err = ended(system, tmp_path, BOUND)
        assert system.returncode not in (0, None)
        errors = [line for line in err.splitlines() if line.startswith("error")]
        assert errors == [
            f"error: the registry process exited with code {-signal.SIGKILL}; the others stopped"
        ], err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        assert wait_gone(using(tmp_path / "d")) == [], "a part of the failed run still runs"
    finally:
        cleanup(system, using(tmp_path / "d"))
