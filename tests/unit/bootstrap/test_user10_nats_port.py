"""user10: `make run` serves NATS on the same port on every start from one data directory.

Each start took a new free port, so a municipal system's consumer configured with the URL
`make run` printed (docs/municipal-consumer.md) could not reconnect after a restart.
"""

from __future__ import annotations

import socket
from pathlib import Path

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
