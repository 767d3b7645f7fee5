"""The audit CLI and `python -m bootstrap` answer bad arguments in one line, no traceback.

Each test failed before its fix (user8).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from bootstrap.__main__ import main as bootstrap_main

UNREACHABLE = ["--nats-url", "nats://127.0.0.1:1"]


def one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("url", ["garbage", "postgresql+nope://x/y"])
def test_verify_names_a_database_url_that_is_not_one(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["verify", "--database-url", url, *UNREACHABLE])
    assert result.exit_code == 2, result.output
    assert f"read-model database '{url}' is not a database URL" in one_line(result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", [["export", "t-1"], ["bulk"]])
def test_ocds_out_that_is_a_file_is_refused_before_anything_is_read(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    a_file = tmp_path / "a-file"
    a_file.write_text("kept")
    result = CliRunner().invoke(app, ["ocds", *command, "--out", str(a_file), *UNREACHABLE])
    assert result.exit_code == 2, result.output
    assert f"--out {a_file} is a file; name a directory" in one_line(result.output)
    assert a_file.read_text() == "kept"


def test_ocds_out_that_cannot_be_created_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    (tmp_path / "f").write_text("")
    out = tmp_path / "f" / "exports"
    result = CliRunner().invoke(app, ["ocds", "export", "t-1", "--out", str(out), *UNREACHABLE])
    assert result.exit_code == 2, result.output
    assert f"--out {out}: cannot create the directory" in one_line(result.output)


def test_python_m_bootstrap_help_answers_instead_of_starting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        bootstrap_main(["--help"])
    assert exit_.value.code == 0
    assert "GT_HTTP_PORT" in capsys.readouterr().out


def test_python_m_bootstrap_refuses_an_argument_instead_of_ignoring_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        bootstrap_main(["--port", "9000"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --port 9000" in capsys.readouterr().err


def test_backup_against_an_unreachable_server_ends_in_one_line() -> None:
    """It retried for ever, printing a traceback per attempt."""
    from bootstrap.backup_cli import backup_cli

    result = CliRunner().invoke(
        backup_cli, ["create", "--out", "backup-unused", *UNREACHABLE], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert "backup: cannot reach NATS at nats://127.0.0.1:1" in one_line(result.output)


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["create", "--out", "{file}"], "--out {file} is a file; name a directory"),
        (["restore", "{dir}"], "{dir} is not a backup: it has no manifest.json"),
        (["restore", "{dir}", "--replicas", "0"], "Invalid value for '--replicas'"),
    ],
)
def test_backup_refuses_bad_paths_before_connecting(
    arguments: list[str], said: str, tmp_path: Path
) -> None:
    from bootstrap.backup_cli import backup_cli

    a_file = tmp_path / "a-file"
    a_file.write_text("kept")
    names = {"file": str(a_file), "dir": str(tmp_path)}
    result = CliRunner().invoke(
        backup_cli, [a.format(**names) for a in arguments] + UNREACHABLE, catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert said.format(**names) in one_line(result.output)
    assert a_file.read_text() == "kept"


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("GT_TICK_INTERVAL_SECONDS", "0", "GT_TICK_INTERVAL_SECONDS: Input should be greater"),
        ("GT_EXPIRY_THRESHOLDS_MONTHS", "abc", "GT_EXPIRY_THRESHOLDS_MONTHS: not a JSON value"),
        ("GT_WEBHOOK_MAX_ATTEMPTS", "lots", "GT_WEBHOOK_MAX_ATTEMPTS: Input should be a valid"),
        ("GT_LOG_LEVEL", "LOUD", "GT_LOG_LEVEL: Value error, 'LOUD' is not a log level"),
        ("GT_OCDS_OCID_PREFIX", "gtnl01", "GT_OCDS_OCID_PREFIX='gtnl01': an ocid prefix is"),
    ],
)
def test_make_run_names_a_bad_setting_of_its_children_before_starting(
    variable: str, value: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They stopped the notifier child after the demo was loaded, and `make run` said only
    'the notifier process exited with code 1 at start' (or kept running)."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_:
        bootstrap_main([])
    assert str(exit_.value.code).startswith(f"error: bad setting: {said}")


@pytest.mark.parametrize("given", ["flag", "env", "endpoints"])
def test_an_unreachable_server_is_blamed_on_where_its_url_came_from(
    given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """user8: with --nats-url given, the error blamed data/endpoints.json."""
    monkeypatch.setenv("GT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GT_NATS_URL", raising=False)
    (tmp_path / "endpoints.json").write_text(
        '{"nats_url": "nats://127.0.0.1:2", "database_url": "sqlite:///x.db"}'
    )
    flags = UNREACHABLE if given == "flag" else []
    if given == "env":
        monkeypatch.setenv("GT_NATS_URL", "nats://127.0.0.1:3")
    result = CliRunner().invoke(app, ["replay", "tender/t-1", *flags])
    assert result.exit_code != 0
    said = one_line(result.output)
    expected = {
        "flag": "cannot reach NATS at nats://127.0.0.1:1",
        "env": "GT_NATS_URL names it",
        "endpoints": "the running system named in",
    }[given]
    assert expected in said, said
    if given == "flag":
        assert "--nats-url names it" in said
