"""`audit replay` of an aggregate nothing was recorded for says so (user8: it printed an empty
state and exited 0, as if a tender with no title existed; on a server without the system's
streams it ended in a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from eventstore.testing.nats_server import NatsServer
from tests.integration.audit.test_cli import load


@pytest.fixture(autouse=True)
def no_embedded_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))  # not a `make run` in the checkout


def replay(server: NatsServer, aggregate: str) -> tuple[int, str]:
    result = CliRunner().invoke(audit_app(), ["replay", aggregate, "--nats-url", server.url])
    return result.exit_code, " ".join(result.output.split())


def test_replay_of_an_unknown_aggregate_is_refused(
    nats_server: NatsServer, sqlite_url: str
) -> None:
    load(nats_server, sqlite_url, project=False)
    code, output = replay(nats_server, "tender/no-such-tender")
    assert code == 2, output
    assert "nothing is recorded for tender/no-such-tender" in output


def test_replay_against_a_server_without_the_streams_is_refused(nats_server: NatsServer) -> None:
    code, output = replay(nats_server, "tender/no-such-tender")
    assert code == 2, output
    assert "error: cannot read tender/no-such-tender" in output
