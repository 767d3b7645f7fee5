"""The README against the running code: every GraphQL query and fragment in it validates
against the gateway's schema, every `make` target and audit command it shows exists with the
options it uses, and every GT_ variable any process reads is in its one table.
(`tests/e2e/test_embedded.py` also runs the example queries on the demo data.)"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import parse, validate
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from bootstrap.audit_cli import audit_app
from gateway.schema.build import build_schema

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS_MODULES = (
    "gateway.settings", "gateway.process_config", "eventstore.settings",
    "eventstore.observability", "notifier.settings", "enrolment.app", "bootstrap.embedded",
)  # fmt: skip


def graphql_blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README, flags=re.S)


def inline_graphql() -> list[str]:
    """Inline code that is GraphQL: `field { ... }` or `subscription { ... }`."""
    spans = re.findall(r"`([a-z][A-Za-z]*(?:\([^`]*\))? \{[^`]*\})`", README)
    return [s if s.startswith(("subscription", "mutation")) else "{ " + s + " }" for s in spans]


def shell_lines() -> list[str]:
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command:
                lines.append(command)
    return lines


def test_every_query_in_the_readme_validates_against_the_schema() -> None:
    schema = build_schema()._schema
    queries = graphql_blocks() + inline_graphql()
    assert len(queries) >= 10
    assert any("health" in q for q in queries)
    for query in queries:
        errors = validate(schema, parse(query))
        assert errors == [], (query, [e.message for e in errors])


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", README))
    assert {"run", "test", "audit", "screenshots"} <= named
    assert named - make_targets() == set()


def test_readme_never_says_uv_run() -> None:
    # uv is not on PATH after `make` installs it with pip --user.
    assert "uv run" not in README


@pytest.mark.parametrize(
    "args", [shlex.split(m) for m in re.findall(r'make audit ARGS="([^"]+)"', README)]
)
def test_every_audit_command_in_the_readme_parses(args: list[str]) -> None:
    result = CliRunner().invoke(audit_app(), [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)


def test_the_readme_audit_commands_are_all_found() -> None:
    shown = [line for line in shell_lines() if line.startswith("make audit")]
    assert len(shown) == len(re.findall(r'make audit ARGS="([^"]+)"', README)) >= 4


def variables_read() -> set[str]:
    names = set()
    for module_name in SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseSettings):
                prefix = value.model_config.get("env_prefix", "")
                names |= {f"{prefix}{f}".upper() for f in value.model_fields}
    for path in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("eventstore/src/**/*.py")]:
        names |= set(re.findall(r"environ(?:\.get)?[\[(]\"(GT_[A-Z_]+)\"", path.read_text()))
    return names


def test_every_environment_variable_is_in_the_one_table() -> None:
    table = README.split("## Environment variables", 1)[1]
    documented = set(re.findall(r"`(GT_[A-Z_<>]+)`", table))
    missing = variables_read() - documented
    assert missing == set()
    assert {"GT_DATA_DIR", "GT_HTTP_PORT", "GT_NOTIFIER_DATABASE_URL"} <= documented


def test_a_bad_setting_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap"],
        # No GT_* setting of ours; the suite's bytecode cache (tests/conftest.py), without
        # which the process compiled its whole import graph again and passed its 60 s at load 20.
        env={"GT_HTTP_PORT": "eighty", "GT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
             **{k: v for k, v in os.environ.items() if k == "PYTHONPYCACHEPREFIX"}},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: bad setting: GT_HTTP_PORT"), lines
    assert not (tmp_path / "jetstream").exists()  # nothing was started
