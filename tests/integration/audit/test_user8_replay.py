"""`audit replay` of an aggregate nothing was recorded for says so (user8; it printed an empty
state and exited 0, as if a tender with no title existed)."""

from __future__ import annotations

from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from eventstore.testing.nats_server import NatsServer


def test_replay_of_an_unknown_aggregate_is_refused(nats_server: NatsServer) -> None:
    result = CliRunner().invoke(
        audit_app(), ["replay", "tender/no-such-tender", "--nats-url", nats_server.url, "--json"]
    )
    assert result.exit_code == 2, result.output
    assert "nothing is recorded for tender/no-such-tender" in " ".join(result.output.split())
