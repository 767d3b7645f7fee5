"""`audit verify --database-url sqlite:///<a file that is not there>` says so and creates
nothing.

Before: SQLite created an empty file at the mistyped path, and verify compared every read
model against it: "event_log_v2: 0 rows: differs ... not-built: no checkpoint in the live
database" for each, exit 1, as if the system's read models had been lost (correct20). verify
only reads; `projections rebuild` still builds into a new file, as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from tests.unit.audit.test_user8_cli_input import UNREACHABLE, one_line


def test_verify_names_a_missing_database_named_by_gt_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    missing = tmp_path / "x.db"
    monkeypatch.setenv("GT_DATABASE_URL", f"sqlite:///{missing}")
    result = CliRunner().invoke(app, ["verify", *UNREACHABLE])
    assert result.exit_code == 2, result.output
    assert "does not exist" in one_line(result.output)
    assert not missing.exists()


def test_verify_names_a_sqlite_database_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    missing = tmp_path / "read-modles.db"  # a typo
    url = f"sqlite:///{missing}"
    result = CliRunner().invoke(app, ["verify", "--database-url", url, *UNREACHABLE])
    assert result.exit_code == 2, result.output
    said = "".join(result.output.split())  # the console wraps a long path anywhere
    assert f"read-modeldatabase{missing}doesnotexist" in said, result.output
    assert "cannotreachNATS" not in said  # named before connecting
    assert not missing.exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_verify_goes_on_to_the_broker_with_a_database_that_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    there = tmp_path / "read-models.db"
    there.write_bytes(b"")
    result = CliRunner().invoke(
        app, ["verify", "--database-url", f"sqlite:///{there}", *UNREACHABLE]
    )
    assert result.exit_code == 2, result.output
    assert "cannot reach NATS" in one_line(result.output)
