"""correct23: `audit verify --streams-only --projection tenders` is refused, not half done.

Before: --streams-only won and the projection named was never compared: the report listed
the streams only and ended "verified", exit 0, for a projection nobody checked. (The CLI as
`audit` runs it: `bootstrap.audit_cli`, which hands it the system's read models.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from tests.unit.audit.test_user8_cli_input import UNREACHABLE, one_line


@pytest.mark.parametrize(
    "args",
    [
        ["--streams-only", "--projection", "tenders"],
        ["--projection", "tenders", "--projection", "contracts", "--streams-only"],
    ],
)
def test_streams_only_with_a_projection_is_refused_before_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(audit_app(), ["verify", *args, *UNREACHABLE])
    assert result.exit_code == 2, result.output
    said = one_line(result.output)
    assert "--streams-only skips the projections and --projection names some" in said, said
    assert "cannot reach NATS" not in said


@pytest.mark.parametrize("args", [["--streams-only"], ["--projection", "tenders"]])
def test_either_alone_goes_on_to_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{tmp_path / 'read-models.db'}")
    (tmp_path / "read-models.db").write_bytes(b"")
    result = CliRunner().invoke(audit_app(), ["verify", *args, *UNREACHABLE])
    assert result.exit_code == 2, result.output
    assert "cannot reach NATS" in one_line(result.output)
