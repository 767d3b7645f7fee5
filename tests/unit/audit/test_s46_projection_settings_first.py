"""`audit verify` and `audit projections rebuild` check GT_PROJECTION_HEARTBEAT_SECONDS before
they connect.

Before: both went on to NATS with a bad value, and the projection runners they build read it
there -- a pydantic traceback once the broker answered, after the work had begun (s45's
leftover). `replay` builds no runner and does not read it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from tests.unit.audit.test_user8_cli_input import UNREACHABLE, one_line


@pytest.mark.parametrize("command", [["verify"], ["projections", "rebuild"]])
@pytest.mark.parametrize("value", ["abc", "0", "61", "nan"])
def test_a_bad_heartbeat_is_refused_before_connecting(
    command: list[str], value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GT_PROJECTION_HEARTBEAT_SECONDS", value)
    there = tmp_path / "read-models.db"
    there.write_bytes(b"")
    result = CliRunner().invoke(
        app, [*command, "--database-url", f"sqlite:///{there}", *UNREACHABLE]
    )
    said = one_line(result.output)
    assert result.exit_code == 2, result.output
    assert "bad configuration" in said, said
    assert "GT_PROJECTION_HEARTBEAT_SECONDS" in said, said
    assert "cannot reach NATS" not in said  # refused before connecting
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_good_heartbeat_goes_on_to_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GT_PROJECTION_HEARTBEAT_SECONDS", "2.5")
    there = tmp_path / "read-models.db"
    there.write_bytes(b"")
    result = CliRunner().invoke(
        app, ["verify", "--database-url", f"sqlite:///{there}", *UNREACHABLE]
    )
    assert result.exit_code == 2, result.output
    assert "cannot reach NATS" in one_line(result.output)
