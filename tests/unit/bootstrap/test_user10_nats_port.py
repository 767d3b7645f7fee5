"""user10: `make run` serves NATS on the same port on every start from one data directory.

Each start took a new free port, so a municipal system's consumer configured with the URL
`make run` printed (docs/municipal-consumer.md) could not reconnect after a restart.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bootstrap.nats_local import PORT_FILE, remembered_port


def test_the_port_of_the_first_start_is_kept(tmp_path: Path) -> None:
    first = remembered_port(tmp_path)
    assert (tmp_path / PORT_FILE).read_text().strip() == str(first)
    assert remembered_port(tmp_path) == first


def test_a_busy_port_is_replaced_and_said(tmp_path: Path) -> None:
    said: list[str] = []
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        (tmp_path / PORT_FILE).write_text(f"{taken}\n")
        other = remembered_port(tmp_path, say=said.append)
    assert other != taken
    assert said == [
        f"NATS port {taken} of the earlier run in {tmp_path} is busy: NATS listens on another"
    ]
    assert remembered_port(tmp_path) == other  # remembered from now on


def test_connections_of_the_stopped_run_leave_its_port_to_the_next(tmp_path: Path) -> None:
    """After `make run` was stopped (or killed), its NATS port holds only connections in
    TIME_WAIT: the next start took that for a busy port and moved NATS elsewhere."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: its end waits in TIME_WAIT
        client.close()
    (tmp_path / PORT_FILE).write_text(f"{port}\n")
    assert remembered_port(tmp_path, say=pytest.fail) == port
