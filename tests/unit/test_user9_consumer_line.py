"""user9: the example-consumer line `make run` prints runs as typed, from the repository.

It said `python examples/municipal_consumer.py ...`: on a fresh machine `python` is the
system's (no nats-py: ModuleNotFoundError), or missing. It now names the interpreter that runs
the system, whose environment has nats-py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.embedded import consumer_command

ROOT = Path(__file__).resolve().parents[2]


def a_users_shell() -> dict[str, str]:
    """This environment as a user's shell has it: no virtual environment activated (`uv run`
    puts the venv's bin first on PATH)."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return env | {"PATH": os.pathsep.join(path)}


def test_the_printed_consumer_line_runs_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # where `make run` runs
    line = consumer_command("nats://127.0.0.1:4222", "GM0363", "secret")
    python, script, *arguments = shlex.split(line)
    assert script == "examples/municipal_consumer.py"
    assert arguments == [
        "--url",
        "nats://127.0.0.1:4222",
        "--org",
        "GM0363",
        "--password",
        "secret",
    ]
    # As typed in a shell in the repository (`--help`: it parses and exits, no server needed).
    done = subprocess.run(
        [python, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=a_users_shell(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--org" in done.stdout
