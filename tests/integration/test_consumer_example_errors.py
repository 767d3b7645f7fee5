"""The municipal consumer example (examples/municipal_consumer.py) tells its operator what is
wrong in one line and exits 1: a wrong password, a consumer that is not there, a server that
does not answer. Before, each ended in nats-py's traceback ("Authorization Violation" deep in
it, or `ServiceUnavailableError: code=None ... description='None'`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventstore.nats_launcher import free_port, nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "municipal_consumer.py"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A JetStream server with one login, GM0363/right, and no INTEGRATION stream."""
    port = free_port()
    config = tmp_path / "nats.conf"
    config.write_text(
        f"listen: 127.0.0.1:{port}\njetstream {{ store_dir: {tmp_path / 'js'} }}\n"
        "authorization { users = [ { user: GM0363, password: right } ] }\n"
    )
    process = subprocess.Popen(
        [nats_server_binary(), "-c", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # bounds a hang, not a speed
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "nats-server ended at start"
                assert time.monotonic() < deadline, "nats-server did not listen"
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def consumer(url: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--url", url, "--org", "GM0363", "--password", password,
         "--max", "1", "--idle", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_wrong_password_is_named_without_a_traceback(server: str) -> None:
    done = consumer(server, "wrong")
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    assert "Authorization Violation" in done.stderr, done.stderr


def test_a_missing_consumer_is_named_without_a_traceback(server: str) -> None:
    done = consumer(server, "right")
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    assert "org_GM0363" in done.stderr, done.stderr
    assert "notifier" in done.stderr, done.stderr


def test_a_server_that_does_not_answer_is_named_without_a_traceback() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    done = consumer(url, "right")
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    assert f"cannot connect to {url}" in done.stderr, done.stderr
