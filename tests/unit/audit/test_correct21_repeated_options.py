"""correct21: an audit CLI option that takes one value, given twice, is refused.

`audit replay X --as-of A --as-of B` replayed as of B without a word (click keeps the last of
a repeated option). Every option of every audit command (and the top-level `--data-dir`) that
takes one value is checked here, found by walking the CLI: given twice, the command stops with
a usage error (exit 2) naming it, before anything is read or connected.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from audit.cli import app

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
            if p.multiple:
                continue
            where = path + positional if path else []  # the top group's: before a command
            found.append((f"{' '.join(path) or 'audit'} {p.opts[0]}", where, p.opts[0]))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


CASES = _single_valued()


def _text(output: str) -> str:
    """The output without rich's box, one line."""
    return " ".join(output.replace("│", " ").split())


def test_the_walk_finds_the_options_the_finding_named() -> None:
    names = {case[0] for case in CASES}
    named = {"replay --as-of", "replay --known-at", "ocds export --as-of", "audit --data-dir"}
    assert named <= names, names


@pytest.mark.parametrize(("where", "option"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_single_valued_option_given_twice_is_refused(where: list[str], option: str) -> None:
    twice = [option, "2020-01-01", option, "2021-01-01"]
    args = where + twice if where else [*twice, "verify"]
    result = runner.invoke(app, args)
    said = _text(result.output)
    # before: the last value taken without a word (then, here, "cannot reach NATS" and such)
    assert result.exit_code == 2, said
    assert f"Invalid value for '{option}'" in said, said
    assert "given more than once; it takes one value: give it once" in said, said
    assert "NATS" not in said  # refused before anything connects


def test_an_option_given_once_and_a_repeated_list_option_are_taken() -> None:
    # `--context` takes one value per use (a list): repeating it is how it is meant; a flag
    # twice means the same as once.
    for args in (
        ["verify", "--context", "registry", "--context", "enrolment"],
        ["replay", "tender/x", "--as-of=2020-01-01", "--json", "--json"],
    ):
        result = runner.invoke(app, [*args, "--nats-url", UNREACHABLE])
        assert "given more than once" not in result.output
        assert "cannot reach NATS" in result.output  # it went on to connect
