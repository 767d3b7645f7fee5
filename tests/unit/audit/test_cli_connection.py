"""The audit CLI finds a running `make run` system, and says clearly when it finds none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.wiring import resolve_settings


@pytest.fixture
def embedded_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GT_NATS_URL", raising=False)
    monkeypatch.delenv("GT_DATABASE_URL", raising=False)
    endpoints = {"nats_url": "nats://127.0.0.1:40001", "database_url": "sqlite:///x.db"}
    (tmp_path / "endpoints.json").write_text(json.dumps(endpoints))
    return tmp_path


def test_a_running_embedded_system_is_found(embedded_data: Path) -> None:
    settings = resolve_settings(None, None)
    assert (settings.nats_url, settings.database_url) == (
        "nats://127.0.0.1:40001",
        "sqlite:///x.db",
    )


def test_environment_and_flags_win_over_the_embedded_endpoints(
    embedded_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_NATS_URL", "nats://10.0.0.1:4222")
    assert resolve_settings(None, None).nats_url == "nats://10.0.0.1:4222"
    assert (
        resolve_settings("nats://127.0.0.1:5000", "sqlite:///y.db").database_url == "sqlite:///y.db"
    )
    assert resolve_settings("nats://127.0.0.1:5000", None).nats_url == "nats://127.0.0.1:5000"


@pytest.mark.parametrize(
    "command",
    [["verify"], ["replay", "tender/t-1"], ["ocds", "export", "t-1"]],
)
def test_unreachable_nats_is_a_clear_error_with_exit_2(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))  # no embedded system running
    result = CliRunner().invoke(app, [*command, "--nats-url", "nats://127.0.0.1:1"])
    assert result.exit_code == 2, result.output
    assert "cannot reach NATS at nats://127.0.0.1:1" in " ".join(result.output.split())


def test_the_embedded_system_is_read_as_its_auditor(
    embedded_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` names the auditor's user and its credentials file (bootstrap.nats_local)."""
    monkeypatch.delenv("GT_NATS_USER", raising=False)
    credentials = embedded_data / "nats-credentials.json"
    credentials.write_text(json.dumps({"passwords": {"audit": "a-secret", "gateway": "g"}}))
    endpoints = json.loads((embedded_data / "endpoints.json").read_text())
    endpoints |= {"nats_user": "audit", "nats_credentials": str(credentials)}
    (embedded_data / "endpoints.json").write_text(json.dumps(endpoints))
    settings = resolve_settings(None, None)
    assert (settings.nats_user, settings.nats_password) == ("audit", "a-secret")
    # Another server named by a flag is not sent the embedded system's password.
    assert resolve_settings("nats://10.0.0.1:4222", None).nats_user is None
