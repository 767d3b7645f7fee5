"""correct22: the system's other command lines refuse a repeated single-valued option too.

correct21 made the audit CLI refuse `--as-of A --as-of B`; `python -m bootstrap.serve` (the
containers' entry: `notifier tick --now`, `reference-data update --csv/--version`, `backup
create --out`, `backup restore --replicas`, `projector --read-models`) and the municipal
consumer example (argparse: `--org`, `--max`, ...) still took the last value without a word --
`backup create --out /mnt/a --out /mnt/b` wrote the backup where the operator did not look,
`--org GM0363 ... --org GM0599` read another organisation's feed. Each single-valued option of
each command, found by walking the CLI, given twice is now a usage error (exit 2) naming it,
before anything connects; list options (`--stream`) and flags (`--dry-run`) repeat as before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from bootstrap.serve import cli
from tests.integration.test_consumer_example_errors import EXAMPLE

runner = CliRunner()
UNREACHABLE = "nats://127.0.0.1:1"


def _single_valued() -> list[tuple[str, list[str], str]]:
    """(id, the command's path and positional arguments, option) for each such option."""
    found: list[tuple[str, list[str], str]] = []

    def walk(command: Any, path: list[str]) -> None:
        positional = [
            "x" for p in command.params if getattr(p, "param_type_name", None) == "argument"
        ]
        for p in command.params:
            if getattr(p, "param_type_name", None) != "option" or p.is_flag or p.count:
                continue
            if p.multiple or p.opts[0] == "--help":
                continue
            found.append((f"{' '.join(path)} {p.opts[0]}", path + positional, p.opts[0]))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(cli), [])
    return found


CASES = _single_valued()


def _text(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def test_the_walk_finds_the_options_named() -> None:
    names = {case[0] for case in CASES}
    named = {
        "notifier tick --now",
        "reference-data update --csv",
        "backup create --out",
        "backup restore --replicas",
        "projector --read-models",
    }
    assert named <= names, names


@pytest.mark.parametrize(("where", "option"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_single_valued_option_of_serve_given_twice_is_refused(
    where: list[str], option: str
) -> None:
    result = runner.invoke(
        cli, [*where, option, "1", option, "2"], env={"GT_NATS_URL": UNREACHABLE}
    )
    said = _text(result.output)
    assert result.exit_code == 2, said  # before: the last value taken (then whatever came)
    assert f"Invalid value for '{option}'" in said, said
    assert "given more than once; it takes one value: give it once" in said, said


def test_a_list_option_and_a_flag_may_repeat(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = runner.invoke(
        cli, ["backup", "create", "--out", str(a_file), "--stream", "A", "--stream", "B"]
    )
    assert "given more than once" not in result.output, result.output
    assert "is a file; name a directory" in result.output  # it went on to check --out
    result = runner.invoke(
        cli, ["reference-data", "update", "--dry-run", "--dry-run", "--csv", "/nonexistent.csv"]
    )
    assert "given more than once" not in result.output, result.output


def _consumer(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *flags], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--org", "GM0363", "--org", "GM0599", "--password", "p"], "--org"),
        (["--org", "GM0363", "--password", "p", "--password", "q"], "--password"),
        (["--org", "GM0363", "--password", "p", "--max", "1", "--max=100"], "--max"),
        (["--org", "GM0363", "--password", "p", "--idle", "1", "--idle", "2"], "--idle"),
        (["--url", UNREACHABLE, "--url", UNREACHABLE, "--org", "GM0363", "--password", "p"], "--url"),
    ],
    ids=["org", "password", "max", "idle", "url"],
)  # fmt: skip
def test_the_consumer_refuses_a_repeated_option(flags: list[str], named: str) -> None:
    done = _consumer("--url", UNREACHABLE, *flags) if named != "--url" else _consumer(*flags)
    assert done.returncode == 2, done  # before: ran with the last value (here: cannot connect)
    assert f"argument {named}: given more than once" in done.stderr, done.stderr
    assert "cannot connect" not in done.stderr, done.stderr
