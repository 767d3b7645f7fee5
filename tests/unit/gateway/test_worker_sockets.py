"""`worker_sockets`: a port in use is refused, as a plain bind refuses it, even though the
workers' own sockets share the port (SO_REUSEPORT)."""

from __future__ import annotations

import socket

import pytest

from gateway.serve import worker_sockets


def _listening(sockets: list[socket.socket]) -> int:
    for sock in sockets:
        sock.listen()
    return sockets[0].getsockname()[1]


@pytest.mark.parametrize(("first", "second"), [(2, 2), (2, 1), (1, 2), (1, 1)])
def test_a_second_gateway_on_a_port_in_use_is_refused(first: int, second: int) -> None:
    running = worker_sockets("127.0.0.1", 0, first)
    try:
        port = _listening(running)
        assert len({s.getsockname()[1] for s in running}) == 1
        with pytest.raises(OSError, match="in use"):
            worker_sockets("127.0.0.1", port, second)
    finally:
        for sock in running:
            sock.close()


def test_the_workers_share_one_port() -> None:
    sockets = worker_sockets("127.0.0.1", 0, 3)
    try:
        assert len(sockets) == 3
        assert len({s.getsockname()[1] for s in sockets}) == 1
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in sockets)
    finally:
        for sock in sockets:
            sock.close()
