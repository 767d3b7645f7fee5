"""`audit ocds import` given a source it cannot read (a directory, a missing file) says so in
one line naming the source, exit 2. Before: Python's "[Errno 21] Is a directory: '...'"."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app


@pytest.mark.parametrize(
    ("name", "why"), [("", "Is a directory"), ("missing.json", "No such file or directory")]
)
def test_an_unreadable_source_is_one_line_naming_it(tmp_path: Path, name: str, why: str) -> None:
    source = str(tmp_path / name) if name else str(tmp_path)
    # No NATS at this URL: the source is read first, before any connection.
    result = CliRunner().invoke(app, ["ocds", "import", source, "--nats-url", "nats://127.0.0.1:9"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: cannot read {source}: {why}", result.output
