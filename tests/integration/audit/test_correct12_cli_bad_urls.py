"""A database URL that is not one, given to `audit projections rebuild` (--database-url) or to
`audit verify` / `rebuild` for a service's own database (GT_<NAME>_DATABASE_URL), is refused
in one line naming it and nothing is changed. Before: `projections rebuild --database-url
notaurl` and a bad GT_AUDIT_DATABASE_URL ended in a traceback (sqlalchemy's ArgumentError)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from eventstore.testing.nats_server import NatsServer
from tests.integration.audit.test_cli import load

runner = CliRunner()
app = audit_app()


def test_rebuild_refuses_a_database_url_that_is_not_one(nats_server: NatsServer) -> None:
    args = ["--nats-url", nats_server.url, "--database-url", "notaurl"]
    result = runner.invoke(app, ["projections", "rebuild", "tenders", *args])
    assert result.exit_code == 2, result.output
    assert "read-model database 'notaurl' is not a database URL" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_bad_service_database_url_is_named_not_a_traceback(
    nats_server: NatsServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(nats_server, sqlite_url)
    monkeypatch.setenv("GT_ENROLMENT_DATABASE_URL", "notaurl")
    args = ["--nats-url", nats_server.url, "--database-url", sqlite_url]
    result = runner.invoke(app, ["verify", "--projection", "enrolment_registry_facts", *args])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "GT_ENROLMENT_DATABASE_URL" in result.output
    assert "is not a database URL" in result.output
    result = runner.invoke(app, ["projections", "rebuild", "enrolment_registry_facts", *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "GT_ENROLMENT_DATABASE_URL" in result.output
