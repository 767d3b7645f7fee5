"""user9: `audit ocds import` records into a running `make run` found by its data directory.

The audit CLI logs in to a running `make run` as its auditor, who may read but send nothing:
an import (which records through the registry's commands) had every release skipped as
`UNAVAILABLE: no answer: TimeoutError()` and imported nothing. It now logs in as the user
that may send commands; every other audit command still logs in as the auditor.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.wiring import resolve_settings
from bootstrap.audit_cli import audit_app
from bootstrap.embedded import embedded

pytestmark = pytest.mark.jetstream
FIXTURE = Path(__file__).resolve().parents[1] / "service" / "data" / "ocds"


async def test_ocds_import_records_into_the_running_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GT_NATS_URL", "GT_NATS_USER", "GT_NATS_PASSWORD", "GT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    async with embedded(data, port=0) as (system, _server):
        assert system.logins is not None
        monkeypatch.setenv("GT_DATA_DIR", str(data))
        assert resolve_settings(None, None).nats_user == "audit"  # the others: the auditor
        source = str(FIXTURE / "fictional-releases.json")
        result = await asyncio.to_thread(
            CliRunner().invoke, audit_app(), ["ocds", "import", source]
        )
        assert "UNAVAILABLE" not in result.output, result.output
        assert result.exit_code == 0, result.output
        assert "imported " in result.output
        assert "imported 0," not in result.output, result.output
        again = await asyncio.to_thread(CliRunner().invoke, audit_app(), ["ocds", "import", source])
        assert again.exit_code == 0, again.output
        assert "imported 0," in again.output  # a re-run: every release already there
